//! The account's calendars and their events, with Google's rules for ids, times, patches,
//! deletion, listing, paging and sync tokens.

use actix_web::HttpResponse;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::GoogleError;
use crate::harness::{random_hex, Params};
use crate::time;
use crate::FakeError;

#[derive(Debug)]
pub(crate) struct Calendar {
    pub(crate) id: String,
    summary: String,
    primary: bool,
    pub(crate) time_zone: String,
    events: Vec<StoredEvent>,
}

#[derive(Debug)]
struct StoredEvent {
    resource: Map<String, Value>,
    /// The account-wide change counter when the event last changed (for sync tokens).
    changed_at: u64,
    /// Reads of the event left before its pending conference is made.
    conference_reads_left: u32,
}

#[derive(Debug)]
pub(crate) struct Calendars {
    list: Vec<Calendar>,
    changes: u64,
    /// Bumped to make every sync token handed out so far invalid.
    sync_epoch: u64,
    /// Conferences asked for from now on stay `pending` for this many reads of their event.
    pub(crate) conference_pending_reads: u32,
    /// Every Meet conference made, by request id, in order (one entry per conference).
    pub(crate) conferences: Vec<String>,
}

impl Calendars {
    pub(crate) fn new(account_email: &str) -> Self {
        let mut calendars = Calendars {
            list: Vec::new(),
            changes: 0,
            sync_epoch: 0,
            conference_pending_reads: 0,
            conferences: Vec::new(),
        };
        calendars.add(account_email, account_email, true);
        calendars
    }

    pub(crate) fn add(&mut self, id: &str, summary: &str, primary: bool) {
        if primary {
            for calendar in &mut self.list {
                calendar.primary = false;
            }
        }
        self.list.retain(|c| c.id != id);
        self.list.push(Calendar {
            id: id.to_owned(),
            summary: summary.to_owned(),
            primary,
            time_zone: "UTC".to_owned(),
            events: Vec::new(),
        });
    }

    pub(crate) fn set_time_zone(&mut self, calendar_id: &str, time_zone: &str) -> Result<(), FakeError> {
        TimeZone::get(time_zone).map_err(|_| FakeError::InvalidSeed(format!("unknown time zone {time_zone}")))?;
        let calendar = self
            .find_mut(calendar_id)
            .ok_or_else(|| FakeError::Unknown(format!("calendar {calendar_id}")))?;
        calendar.time_zone = time_zone.to_owned();
        Ok(())
    }

    pub(crate) fn invalidate_sync_tokens(&mut self) {
        self.sync_epoch += 1;
    }

    /// `primary` names the primary calendar; other ids are compared like email addresses.
    pub(crate) fn find(&self, id: &str) -> Option<&Calendar> {
        self.list.iter().find(|c| {
            if id == "primary" {
                c.primary
            } else {
                c.id.eq_ignore_ascii_case(id)
            }
        })
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut Calendar> {
        self.list.iter_mut().find(|c| {
            if id == "primary" {
                c.primary
            } else {
                c.id.eq_ignore_ascii_case(id)
            }
        })
    }

    /// The stored resources of a calendar, deleted ones included.
    pub(crate) fn events_of<'a>(&self, calendar: &'a Calendar) -> impl Iterator<Item = &'a Map<String, Value>> {
        calendar.events.iter().map(|e| &e.resource)
    }

    pub(crate) fn all_events(&self, calendar_id: &str) -> Vec<Value> {
        self.find(calendar_id)
            .map(|c| c.events.iter().map(|e| Value::Object(e.resource.clone())).collect())
            .unwrap_or_default()
    }

    /// events.insert. `conference_data_version`: whether the request said
    /// `conferenceDataVersion=1` (without it, conferenceData is ignored, as Google does).
    pub(crate) fn insert(
        &mut self,
        calendar_id: &str,
        event: Value,
        conference_data_version: bool,
    ) -> Result<Value, GoogleError> {
        let Value::Object(mut resource) = event else {
            return Err(GoogleError::new(400, "parseError", "Parse Error"));
        };
        resource.remove("hangoutLink");
        let conference = resource.remove("conferenceData").filter(|_| conference_data_version);
        let request = conference.as_ref().map(conference_request).transpose()?.flatten();
        self.changes += 1;
        let changed_at = self.changes;
        let calendar = self.find_mut(calendar_id).ok_or_else(GoogleError::not_found)?;
        let id = match resource.get("id") {
            None => random_hex(),
            Some(Value::String(id)) if is_base32hex_id(id) => id.clone(),
            Some(_) => return Err(GoogleError::new(400, "invalid", "Invalid resource id value.")),
        };
        // A retried insert with the same client-chosen id is refused, also after a delete.
        if calendar
            .events
            .iter()
            .any(|e| e.resource.get("id").and_then(Value::as_str) == Some(id.as_str()))
        {
            return Err(GoogleError::new(
                409,
                "duplicate",
                "The requested identifier already exists.",
            ));
        }
        if resource.contains_key("recurrence") {
            return Err(GoogleError::new(
                400,
                "invalid",
                "provider-fakes does not support recurring events",
            ));
        }
        validate(&resource, &calendar.time_zone)?;
        let now = time::google_millis(Timestamp::now());
        let organizer = json!({"email": calendar.id, "self": true});
        resource.insert("id".into(), json!(id));
        resource.insert("kind".into(), json!("calendar#event"));
        resource.insert("etag".into(), json!(format!("\"{changed_at}\"")));
        resource.entry("status").or_insert(json!("confirmed"));
        resource.insert(
            "htmlLink".into(),
            json!(format!("https://calendar.example/event?eid={id}")),
        );
        resource.insert("created".into(), json!(now));
        resource.insert("updated".into(), json!(now));
        resource.insert("creator".into(), organizer.clone());
        resource.insert("organizer".into(), organizer);
        resource.entry("iCalUID").or_insert(json!(format!("{id}@google.com")));
        resource.entry("sequence").or_insert(json!(0));
        resource.entry("reminders").or_insert(json!({"useDefault": true}));
        resource.entry("eventType").or_insert(json!("default"));
        let mut conference_reads_left = 0;
        if let Some((request_id, solution)) = request {
            conference_reads_left = self.conference_pending_reads;
            make_conference(&mut resource, &request_id, &solution, conference_reads_left > 0);
            self.conferences.push(request_id);
        }
        let calendar = self.find_mut(calendar_id).ok_or_else(GoogleError::not_found)?;
        calendar.events.push(StoredEvent {
            resource: resource.clone(),
            changed_at,
            conference_reads_left,
        });
        Ok(Value::Object(resource))
    }

    /// events.get. A pending conference is made once its reads are used up (Google finishes
    /// it in the background; a client sees it on a later read).
    pub(crate) fn get(&mut self, calendar_id: &str, event_id: &str) -> Result<Value, GoogleError> {
        let calendar = self.find_mut(calendar_id).ok_or_else(GoogleError::not_found)?;
        let stored = calendar
            .events
            .iter_mut()
            .find(|e| e.resource.get("id").and_then(Value::as_str) == Some(event_id))
            .ok_or_else(GoogleError::not_found)?;
        if stored.conference_reads_left > 0 {
            stored.conference_reads_left -= 1;
            if stored.conference_reads_left == 0 {
                finish_conference(&mut stored.resource);
            }
        }
        Ok(Value::Object(stored.resource.clone()))
    }

    /// Patch semantics: the fields sent replace the stored ones, nested objects (such as
    /// extendedProperties) merge, `null` removes a field. start and end are replaced whole, so a
    /// switch between `date` and `dateTime` leaves no stale half behind. Not documented: patching a
    /// deleted event is allowed, as Google allows it (that is how an event is restored).
    pub(crate) fn patch(
        &mut self,
        calendar_id: &str,
        event_id: &str,
        patch: Map<String, Value>,
    ) -> Result<Value, GoogleError> {
        self.changes += 1;
        let changed_at = self.changes;
        let calendar = self.find_mut(calendar_id).ok_or_else(GoogleError::not_found)?;
        let time_zone = calendar.time_zone.clone();
        let stored = calendar
            .events
            .iter_mut()
            .find(|e| e.resource.get("id").and_then(Value::as_str) == Some(event_id))
            .ok_or_else(GoogleError::not_found)?;
        let mut resource = stored.resource.clone();
        let moves = patch.contains_key("start") || patch.contains_key("end");
        for (key, value) in patch {
            match key.as_str() {
                // Read-only fields are ignored, as Google ignores them on patch; so is a
                // conference (the fake does not take conferenceDataVersion on patch: a patch
                // keeps the event's meeting).
                "id" | "kind" | "etag" | "created" | "updated" | "creator" | "organizer" | "iCalUID" | "htmlLink"
                | "conferenceData" | "hangoutLink" => {}
                "start" | "end" => {
                    resource.insert(key, value);
                }
                _ => merge(&mut resource, key, value),
            }
        }
        validate(&resource, &time_zone)?;
        if moves {
            let sequence = resource.get("sequence").and_then(Value::as_u64).unwrap_or(0);
            resource.insert("sequence".into(), json!(sequence + 1));
        }
        resource.insert("etag".into(), json!(format!("\"{changed_at}\"")));
        resource.insert("updated".into(), json!(time::google_millis(Timestamp::now())));
        stored.resource = resource.clone();
        stored.changed_at = changed_at;
        Ok(Value::Object(resource))
    }

    /// DELETE: the event stays as status cancelled (so a second delete is 410 and sync sees it).
    pub(crate) fn delete(&mut self, calendar_id: &str, event_id: &str) -> Result<(), GoogleError> {
        self.changes += 1;
        let changed_at = self.changes;
        let calendar = self.find_mut(calendar_id).ok_or_else(GoogleError::not_found)?;
        let stored = calendar
            .events
            .iter_mut()
            .find(|e| e.resource.get("id").and_then(Value::as_str) == Some(event_id))
            .ok_or_else(GoogleError::not_found)?;
        if stored.resource.get("status").and_then(Value::as_str) == Some("cancelled") {
            return Err(GoogleError::new(410, "deleted", "Resource has been deleted"));
        }
        stored.resource.insert("status".into(), json!("cancelled"));
        stored
            .resource
            .insert("updated".into(), json!(time::google_millis(Timestamp::now())));
        stored.changed_at = changed_at;
        Ok(())
    }

    /// What the user does in Google Calendar: moves the event to `start`..`end` (RFC 3339), as a
    /// change that the next sync reports. A deleted event cannot be moved.
    pub(crate) fn move_by_user(
        &mut self,
        calendar_id: &str,
        event_id: &str,
        start: &str,
        end: &str,
    ) -> Result<(), FakeError> {
        for value in [start, end] {
            time::instant(value)?;
        }
        let deleted = self
            .find(calendar_id)
            .ok_or_else(|| FakeError::Unknown(format!("calendar {calendar_id}")))?
            .events
            .iter()
            .find(|e| e.resource.get("id").and_then(Value::as_str) == Some(event_id))
            .map(|e| is_cancelled(&e.resource))
            .ok_or_else(|| FakeError::Unknown(format!("event {event_id}")))?;
        if deleted {
            return Err(FakeError::InvalidSeed(format!("event {event_id} is deleted")));
        }
        let mut patch = Map::new();
        patch.insert("start".into(), json!({"dateTime": start}));
        patch.insert("end".into(), json!({"dateTime": end}));
        self.patch(calendar_id, event_id, patch)
            .map(|_| ())
            .map_err(|e| FakeError::InvalidSeed(e.message))
    }

    /// What the user does in Google Calendar: deletes the event (it stays as cancelled, which the
    /// next sync reports).
    pub(crate) fn delete_by_user(&mut self, calendar_id: &str, event_id: &str) -> Result<(), FakeError> {
        self.delete(calendar_id, event_id).map_err(|e| match e.status {
            404 => FakeError::Unknown(format!("event {event_id} in calendar {calendar_id}")),
            _ => FakeError::InvalidSeed(e.message),
        })
    }

    /// GET users/me/calendarList, paged (maxResults default 100, at most 250).
    pub(crate) fn list_calendars(&self, query: &Params) -> Result<HttpResponse, GoogleError> {
        let max = max_results(query, 100, 250)?;
        let offset = page_offset(query)?;
        let entries: Vec<Value> = self
            .list
            .iter()
            .map(|c| {
                let mut entry = json!({
                    "kind": "calendar#calendarListEntry",
                    "etag": format!("\"{}\"", c.id.len()),
                    "id": c.id,
                    "summary": c.summary,
                    "timeZone": c.time_zone,
                    "accessRole": "owner",
                    "selected": true,
                    "defaultReminders": [],
                });
                if c.primary {
                    entry["primary"] = json!(true);
                }
                entry
            })
            .collect();
        let page: Vec<Value> = entries.iter().skip(offset).take(max).cloned().collect();
        let mut body = json!({"kind": "calendar#calendarList", "etag": "\"calendar-list\"", "items": page});
        if offset + max < entries.len() {
            body["nextPageToken"] = json!(page_token(offset + max));
        }
        Ok(HttpResponse::Ok().json(body))
    }

    /// GET calendars/{id}/events: timeMin bounds the END, timeMax the START; paging; sync tokens.
    pub(crate) fn list_events(&self, calendar_id: &str, query: &Params) -> Result<HttpResponse, GoogleError> {
        let calendar = self.find(calendar_id).ok_or_else(GoogleError::not_found)?;
        let tz = TimeZone::get(&calendar.time_zone).unwrap_or(TimeZone::UTC);
        let max = max_results(query, 250, 2500)?;
        let since = match query.get("syncToken") {
            Some(token) => {
                // The discovery document names the parameters a syncToken cannot be combined with,
                // and forbids showDeleted=false beside it.
                if SYNC_TOKEN_EXCLUDES.iter().any(|p| query.get(p).is_some()) {
                    // Not documented which reason Google gives; the status and the refusal are.
                    return Err(GoogleError::new(
                        400,
                        "invalid",
                        "The syncToken cannot be combined with timeMin, timeMax, orderBy, iCalUID, q, \
                         updatedMin or extended property filters.",
                    ));
                }
                if query.get("showDeleted") == Some("false") {
                    return Err(GoogleError::new(
                        400,
                        "invalid",
                        "showDeleted cannot be false together with a syncToken.",
                    ));
                }
                Some(self.parse_sync_token(token)?)
            }
            None => None,
        };
        let bound = |name: &str| -> Result<Option<Timestamp>, GoogleError> {
            query
                .get(name)
                .map(|v| time::parse_instant(v).ok_or_else(|| GoogleError::new(400, "badRequest", "Bad Request")))
                .transpose()
        };
        let (time_min, time_max) = (bound("timeMin")?, bound("timeMax")?);
        let single_events = query.flag("singleEvents");
        let order = query.get("orderBy");
        match order {
            None | Some("updated") => {}
            Some("startTime") if single_events => {}
            Some("startTime") => {
                return Err(GoogleError::new(
                    400,
                    "badRequest",
                    "The requested ordering is not available for the particular query.",
                ));
            }
            Some(_) => return Err(GoogleError::new(400, "invalid", "Invalid Value")),
        }
        let filters: Vec<(&str, &str)> = query
            .all("privateExtendedProperty")
            .into_iter()
            .filter_map(|p| p.split_once('='))
            .collect();
        let show_deleted = query.flag("showDeleted") || since.is_some();
        let by_start = order == Some("startTime");
        // The list is read as it was when its first page was served: a page token carries that
        // moment (and, in change order, the last change it reached), so events that change while
        // a client pages through are neither skipped nor listed twice; they come with the next
        // sync instead, as the sync token of the last page is that same moment.
        let page = events_page(query, self.changes, by_start)?;
        let mut matching: Vec<&StoredEvent> = calendar
            .events
            .iter()
            .filter(|e| since.is_none_or(|since| e.changed_at > since))
            .filter(|e| by_start || (e.changed_at > page.after && e.changed_at <= page.snapshot))
            .filter(|e| show_deleted || !is_cancelled(&e.resource))
            .filter(|e| {
                let private = e.resource.get("extendedProperties").and_then(|p| p.get("private"));
                filters
                    .iter()
                    .all(|(k, v)| private.and_then(|p| p.get(*k)).and_then(Value::as_str) == Some(*v))
            })
            .filter(|e| match event_span(&e.resource, &tz) {
                Some((start, end)) => time_min.is_none_or(|min| end > min) && time_max.is_none_or(|max| start < max),
                None => true,
            })
            .collect();
        match order {
            Some("startTime") => matching.sort_by_key(|e| event_span(&e.resource, &tz).map(|(s, _)| s)),
            _ => matching.sort_by_key(|e| e.changed_at),
        }
        let shown: Vec<&StoredEvent> = matching.iter().skip(page.offset).take(max).copied().collect();
        let items: Vec<Value> = shown
            .iter()
            .map(|e| {
                if is_cancelled(&e.resource) {
                    // Deleted events come back with only their identity and status.
                    json!({"kind": "calendar#event", "etag": e.resource.get("etag"), "id": e.resource.get("id"), "status": "cancelled"})
                } else {
                    Value::Object(e.resource.clone())
                }
            })
            .collect();
        let mut body = json!({
            "kind": "calendar#events",
            "etag": format!("\"{}\"", self.changes),
            "summary": calendar.summary,
            "updated": time::google_millis(Timestamp::now()),
            "timeZone": calendar.time_zone,
            "accessRole": "owner",
            "defaultReminders": [],
            "items": items,
        });
        if page.offset + max < matching.len() {
            let next = if by_start {
                EventsPage {
                    offset: page.offset + max,
                    ..page
                }
            } else {
                EventsPage {
                    after: shown.last().map_or(page.after, |e| e.changed_at),
                    ..page
                }
            };
            body["nextPageToken"] = json!(next.token());
        } else {
            // Only the last page carries the sync token: the moment the first page was read.
            let at = if by_start { self.changes } else { page.snapshot };
            body["nextSyncToken"] = json!(URL_SAFE_NO_PAD.encode(format!("sync:{}:{}", self.sync_epoch, at)));
        }
        Ok(HttpResponse::Ok().json(body))
    }

    fn parse_sync_token(&self, token: &str) -> Result<u64, GoogleError> {
        let gone = || {
            GoogleError::new(
                410,
                "fullSyncRequired",
                "Sync token is no longer valid, a full sync is required.",
            )
        };
        let decoded = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(gone)?;
        let mut parts = decoded.split(':');
        match (
            parts.next(),
            parts.next().and_then(|e| e.parse::<u64>().ok()),
            parts.next().and_then(|c| c.parse().ok()),
        ) {
            (Some("sync"), Some(epoch), Some(changes)) if epoch == self.sync_epoch => Ok(changes),
            _ => Err(gone()),
        }
    }
}

pub(crate) fn is_cancelled(resource: &Map<String, Value>) -> bool {
    resource.get("status").and_then(Value::as_str) == Some("cancelled")
}

/// Whether the event blocks time: not cancelled, not transparent, not declined by the owner.
pub(crate) fn blocks_time(resource: &Map<String, Value>) -> bool {
    let transparent = resource.get("transparency").and_then(Value::as_str) == Some("transparent");
    let declined = resource
        .get("attendees")
        .and_then(Value::as_array)
        .is_some_and(|attendees| {
            attendees.iter().any(|a| {
                a.get("self").and_then(Value::as_bool) == Some(true)
                    && a.get("responseStatus").and_then(Value::as_str) == Some("declined")
            })
        });
    !is_cancelled(resource) && !transparent && !declined
}

/// The instants an event covers. All-day `date`s are whole local dates of the calendar's zone.
pub(crate) fn event_span(resource: &Map<String, Value>, calendar_tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    Some((
        point(resource.get("start")?, calendar_tz)?,
        point(resource.get("end")?, calendar_tz)?,
    ))
}

fn point(value: &Value, calendar_tz: &TimeZone) -> Option<Timestamp> {
    if let Some(date) = value.get("date").and_then(Value::as_str) {
        return time::start_of_date(time::parse_date(date)?, calendar_tz);
    }
    let date_time = value.get("dateTime").and_then(Value::as_str)?;
    if let Some(instant) = time::parse_instant(date_time) {
        return Some(instant);
    }
    // A dateTime without an offset is read in the given timeZone (Google requires one then).
    let zone = value.get("timeZone").and_then(Value::as_str)?;
    time::civil_to_instant(time::parse_civil(date_time)?, &TimeZone::get(zone).ok()?)
}

fn validate(resource: &Map<String, Value>, calendar_tz: &str) -> Result<(), GoogleError> {
    let tz = TimeZone::get(calendar_tz).unwrap_or(TimeZone::UTC);
    let start = resource
        .get("start")
        .ok_or_else(|| GoogleError::new(400, "required", "Missing start time."))?;
    let end = resource
        .get("end")
        .ok_or_else(|| GoogleError::new(400, "required", "Missing end time."))?;
    let start = point(start, &tz).ok_or_else(|| GoogleError::new(400, "invalid", "Invalid start time."))?;
    let end = point(end, &tz).ok_or_else(|| GoogleError::new(400, "invalid", "Invalid end time."))?;
    if end <= start {
        return Err(GoogleError::new(
            400,
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    let one_of = |field: &str, allowed: &[&str]| match resource.get(field) {
        None => true,
        Some(v) => v.as_str().is_some_and(|v| allowed.contains(&v)),
    };
    if !one_of("status", &["confirmed", "tentative", "cancelled"])
        || !one_of("transparency", &["opaque", "transparent"])
    {
        return Err(GoogleError::new(400, "invalid", "Invalid Value"));
    }
    Ok(())
}

/// The request id and solution of an insert's `conferenceData.createRequest` (None without a
/// create request). Google's rules: a request id is required, the solution must be one the
/// calendar offers (the fake offers `hangoutsMeet`).
fn conference_request(conference: &Value) -> Result<Option<(String, String)>, GoogleError> {
    let Some(request) = conference.get("createRequest") else {
        return Ok(None);
    };
    let request_id = request
        .get("requestId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            GoogleError::new(
                400,
                "invalid",
                "Invalid conference create request: requestId is required.",
            )
        })?;
    let solution = request
        .pointer("/conferenceSolutionKey/type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if solution != "hangoutsMeet" {
        return Err(GoogleError::new(400, "invalid", "Invalid conference type value."));
    }
    Ok(Some((request_id.to_owned(), solution.to_owned())))
}

/// Puts a conference on the event: `pending` (no link yet) or made.
fn make_conference(resource: &mut Map<String, Value>, request_id: &str, solution: &str, pending: bool) {
    resource.insert(
        "conferenceData".into(),
        json!({
            "createRequest": {
                "requestId": request_id,
                "conferenceSolutionKey": {"type": solution},
                "status": {"statusCode": "pending"},
            }
        }),
    );
    if !pending {
        finish_conference(resource);
    }
}

/// A pending conference becomes a Meet meeting: `success`, its entry points and `hangoutLink`.
fn finish_conference(resource: &mut Map<String, Value>) {
    let letters: String = crate::harness::random_hex()
        .bytes()
        .take(10)
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    let code = format!("{}-{}-{}", &letters[..3], &letters[3..7], &letters[7..10]);
    let uri = format!("https://meet.google.com/{code}");
    if let Some(Value::Object(data)) = resource.get_mut("conferenceData") {
        if let Some(status) = data.get_mut("createRequest").and_then(|r| r.get_mut("status")) {
            *status = json!({"statusCode": "success"});
        }
        data.insert(
            "entryPoints".into(),
            json!([{"entryPointType": "video", "uri": uri, "label": format!("meet.google.com/{code}")}]),
        );
        data.insert(
            "conferenceSolution".into(),
            json!({"key": {"type": "hangoutsMeet"}, "name": "Google Meet"}),
        );
        data.insert("conferenceId".into(), json!(code));
    }
    resource.insert("hangoutLink".into(), json!(uri));
}

/// Client-chosen ids: base32hex (a-v and 0-9), 5 to 1024 characters.
fn is_base32hex_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'a'..=b'v' | b'0'..=b'9'))
}

fn merge(target: &mut Map<String, Value>, key: String, value: Value) {
    match (target.get_mut(&key), value) {
        (_, Value::Null) => {
            target.remove(&key);
        }
        (Some(Value::Object(existing)), Value::Object(patch)) => {
            for (k, v) in patch {
                merge(existing, k, v);
            }
        }
        (_, value) => {
            target.insert(key, value);
        }
    }
}

fn max_results(query: &Params, default: usize, cap: usize) -> Result<usize, GoogleError> {
    match query.get("maxResults") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(cap)),
            _ => Err(GoogleError::new(
                400,
                "invalid",
                format!("Invalid value '{v}'. Values must be at least 1"),
            )),
        },
    }
}

/// Parameters Google refuses beside a syncToken (the discovery document's list).
const SYNC_TOKEN_EXCLUDES: [&str; 8] = [
    "timeMin",
    "timeMax",
    "orderBy",
    "iCalUID",
    "q",
    "privateExtendedProperty",
    "sharedExtendedProperty",
    "updatedMin",
];

/// Where a page of events.list starts. In change order (the default) a page starts after the
/// last change the previous page listed and lists nothing that changed after `snapshot`, the
/// moment of the first page; in start order (which the fake only pages by position) at `offset`.
#[derive(Debug, Clone, Copy)]
struct EventsPage {
    snapshot: u64,
    after: u64,
    offset: usize,
}

impl EventsPage {
    fn token(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("events:{}:{}:{}", self.snapshot, self.after, self.offset))
    }
}

fn events_page(query: &Params, now: u64, by_start: bool) -> Result<EventsPage, GoogleError> {
    let Some(token) = query.get("pageToken") else {
        return Ok(EventsPage {
            snapshot: now,
            after: 0,
            offset: 0,
        });
    };
    let invalid = || GoogleError::new(400, "invalid", "Invalid page token value.");
    let decoded = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let mut parts = decoded.strip_prefix("events:").ok_or_else(invalid)?.split(':');
    let mut number = || parts.next().and_then(|n| n.parse::<u64>().ok()).ok_or_else(invalid);
    let page = EventsPage {
        snapshot: number()?,
        after: number()?,
        offset: usize::try_from(number()?).map_err(|_| invalid())?,
    };
    // A token of the other order would skip or repeat events.
    if (by_start && page.after > 0) || (!by_start && page.offset > 0) {
        return Err(invalid());
    }
    Ok(page)
}

fn page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("page:{offset}"))
}

fn page_offset(query: &Params) -> Result<usize, GoogleError> {
    let Some(token) = query.get("pageToken") else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("page:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| GoogleError::new(400, "invalid", "Invalid page token value."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base32hex() {
        assert!(is_base32hex_id("abcde"));
        assert!(is_base32hex_id("0123456789abcdefghijklmnopqrstuv"));
        assert!(!is_base32hex_id("abcd"));
        assert!(!is_base32hex_id("abcdw"));
        assert!(!is_base32hex_id("ABCDE"));
        assert!(!is_base32hex_id(&"a".repeat(1025)));
    }
}

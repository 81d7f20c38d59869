//! The signed-in user's mailbox: profile, calendars and events, the two ways Graph reports
//! busy time (getSchedule and calendarView), and the delta query on the calendar view.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

use super::delta::Round;
use super::GraphError;
use crate::harness::{random_hex, with_query, Params};
use crate::time;
use crate::FakeError;

const STATUSES: &[&str] = &["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"];

/// getSchedule refuses ranges of 62 days or more.
const MAX_SCHEDULE_RANGE: SignedDuration = SignedDuration::from_hours(62 * 24);

#[derive(Debug)]
struct Event {
    id: String,
    /// Every field as the client sent it plus Graph's own, except start and end.
    fields: Map<String, Value>,
    start: Timestamp,
    end: Timestamp,
    /// Deleted (or cancelled) events stay as tombstones so that a delta round can report them.
    deleted: bool,
    /// The mailbox-wide change counter when the event last changed (for delta rounds).
    changed_at: u64,
}

#[derive(Debug)]
pub(crate) struct Mailbox {
    id: String,
    display_name: String,
    address: String,
    personal: bool,
    calendars: Vec<(String, String, bool)>,
    events: Vec<Event>,
    pub(crate) working_hours: Value,
    /// The online meeting providers the account's calendars offer (`allowedOnlineMeetingProviders`).
    pub(crate) meeting_providers: Vec<String>,
    /// The join URL of every online meeting made so far, in order.
    pub(crate) meetings: Vec<String>,
    /// Bumped by every write to an event; an event's `changed_at` is the value after its last write.
    changes: u64,
    /// The sync state generation delta tokens are bound to: replaced to invalidate them all.
    sync_generation: String,
}

impl Mailbox {
    pub(crate) fn new() -> Self {
        Mailbox {
            id: uuid::Uuid::new_v4().to_string(),
            display_name: "Ada Expert".into(),
            address: "expert@contoso.example".into(),
            personal: false,
            calendars: vec![(format!("AAMkAG{}", random_hex()), "Calendar".into(), true)],
            events: Vec::new(),
            working_hours: json!({
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                "startTime": "08:00:00.0000000",
                "endTime": "17:00:00.0000000",
                "timeZone": {"name": "Pacific Standard Time"},
            }),
            meeting_providers: vec!["teamsForBusiness".into()],
            meetings: Vec::new(),
            changes: 0,
            sync_generation: random_hex(),
        }
    }

    /// The user's id (GET /me's `id`), as notifications name the mailbox.
    pub(crate) fn user_id(&self) -> String {
        self.id.clone()
    }

    /// The event's current `@odata.etag`, deleted events included.
    pub(crate) fn etag(&self, id: &str) -> Option<String> {
        self.events
            .iter()
            .find(|e| e.id == id)
            .and_then(|e| e.fields.get("@odata.etag"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Delta and skip tokens handed out so far answer 410 syncStateNotFound.
    pub(crate) fn invalidate_delta_tokens(&mut self) {
        self.sync_generation = random_hex();
    }

    /// Counts a write to the event `id` (any state) as the mailbox's latest change.
    fn stamp(&mut self, id: &str) {
        self.changes += 1;
        let at = self.changes;
        if let Some(event) = self.events.iter_mut().find(|e| e.id == id) {
            event.changed_at = at;
        }
    }

    /// A personal account offers only Skype (consumer) meetings, a work account Teams.
    pub(crate) fn set_personal(&mut self, personal: bool) {
        self.personal = personal;
        self.meeting_providers = vec![if personal {
            "skypeForConsumer"
        } else {
            "teamsForBusiness"
        }
        .into()];
        // Personal (MSA) accounts have 16-hex-digit ids; work accounts a GUID.
        self.id = if personal {
            random_hex().chars().take(16).collect()
        } else {
            uuid::Uuid::new_v4().to_string()
        };
    }

    pub(crate) fn set_user(&mut self, display_name: &str, address: &str) {
        self.display_name = display_name.to_owned();
        self.address = address.to_owned();
    }

    pub(crate) fn address(&self) -> String {
        self.address.clone()
    }

    pub(crate) fn add_calendar(&mut self, name: &str, is_default: bool) -> String {
        if is_default {
            for calendar in &mut self.calendars {
                calendar.2 = false;
            }
        }
        let id = format!("AAMkAG{}", random_hex());
        self.calendars.push((id.clone(), name.to_owned(), is_default));
        id
    }

    pub(crate) fn me(&self) -> Value {
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "id": self.id,
            "displayName": self.display_name,
            "mail": self.address,
            "userPrincipalName": self.address,
        })
    }

    pub(crate) fn calendars(&self) -> Value {
        let value: Vec<Value> = self
            .calendars
            .iter()
            .map(|(id, name, is_default)| {
                json!({
                    "id": id,
                    "name": name,
                    "isDefaultCalendar": is_default,
                    "canEdit": true,
                    "canShare": true,
                    "allowedOnlineMeetingProviders": self.meeting_providers,
                    "defaultOnlineMeetingProvider": self.meeting_providers.first().map_or("unknown", String::as_str),
                    "owner": {"name": self.display_name, "address": self.address},
                })
            })
            .collect();
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('me')/calendars", "value": value})
    }

    /// POST /me/events. A `transactionId` already used by a live event returns that event
    /// (Graph's idempotency key). Not documented whether a deleted event's transactionId still
    /// deduplicates: the fake creates a new event then. `seeding` allows the read-only fields a
    /// test sets up (isCancelled, isOrganizer).
    pub(crate) fn create(&mut self, mut body: Map<String, Value>, seeding: bool) -> Result<(String, bool), GraphError> {
        if let Some(transaction) = body.get("transactionId").and_then(Value::as_str) {
            let existing = self
                .events
                .iter()
                .find(|e| !e.deleted && e.fields.get("transactionId").and_then(Value::as_str) == Some(transaction));
            if let Some(existing) = existing {
                return Ok((existing.id.clone(), false));
            }
        }
        let start = date_time_time_zone(body.get("start"), "start")?;
        let end = date_time_time_zone(body.get("end"), "end")?;
        if end < start {
            return Err(GraphError::new(
                400,
                "ErrorInvalidRequest",
                "The end time must not be before the start time.",
            ));
        }
        check_show_as(&body)?;
        if !seeding {
            body.remove("isCancelled");
            body.remove("isOrganizer");
        }
        let id = format!("AAMkAGI2{}", random_hex());
        let now = time::graph(Timestamp::now(), &TimeZone::UTC) + "Z";
        let zone_of = |field: &str| body.get(field).and_then(|v| v.get("timeZone")).cloned();
        let (start_zone, end_zone) = (zone_of("start"), zone_of("end"));
        let mut fields = Map::new();
        for (key, value) in [
            ("id", json!(id)),
            ("createdDateTime", json!(now)),
            (
                "iCalUId",
                json!(format!(
                    "040000008200E00074C5B7101A82E008{}",
                    random_hex().to_uppercase()
                )),
            ),
            (
                "webLink",
                json!(format!("https://outlook.office365.com/owa/?itemid={id}")),
            ),
            ("originalStartTimeZone", start_zone.unwrap_or(json!("UTC"))),
            ("originalEndTimeZone", end_zone.unwrap_or(json!("UTC"))),
            ("subject", json!("")),
            ("showAs", json!("busy")),
            ("isCancelled", json!(false)),
            ("isOrganizer", json!(true)),
            ("isAllDay", json!(false)),
            ("sensitivity", json!("normal")),
            ("type", json!("singleInstance")),
            ("attendees", json!([])),
            ("location", json!({"displayName": ""})),
            (
                "organizer",
                json!({"emailAddress": {"name": self.display_name, "address": self.address}}),
            ),
        ] {
            fields.insert(key.to_owned(), value);
        }
        let online = body.get("isOnlineMeeting").and_then(Value::as_bool) == Some(true);
        let provider = body
            .get("onlineMeetingProvider")
            .and_then(Value::as_str)
            .unwrap_or("teamsForBusiness")
            .to_owned();
        for (key, value) in body {
            if !matches!(
                key.as_str(),
                "start"
                    | "end"
                    | "id"
                    | "isOnlineMeeting"
                    | "onlineMeetingProvider"
                    | "onlineMeeting"
                    | "onlineMeetingUrl"
            ) {
                fields.insert(key, value);
            }
        }
        // An online meeting is made only with a provider the account offers; otherwise the event
        // is made without one (Graph does not refuse the event).
        if online && self.meeting_providers.contains(&provider) {
            let join_url = format!(
                "https://teams.microsoft.com/l/meetup-join/19%3ameeting_{}%40thread.v2/0",
                random_hex()
            );
            self.meetings.push(join_url.clone());
            fields.insert("isOnlineMeeting".into(), json!(true));
            fields.insert("onlineMeetingProvider".into(), json!(provider));
            fields.insert("onlineMeeting".into(), json!({"joinUrl": join_url}));
        } else {
            fields.insert("isOnlineMeeting".into(), json!(false));
            fields.insert("onlineMeetingProvider".into(), json!("unknown"));
            fields.insert("onlineMeeting".into(), Value::Null);
        }
        touch(&mut fields);
        self.changes += 1;
        self.events.push(Event {
            id: id.clone(),
            fields,
            start,
            end,
            deleted: false,
            changed_at: self.changes,
        });
        Ok((id, true))
    }

    pub(crate) fn update(&mut self, id: &str, patch: Map<String, Value>) -> Result<(), GraphError> {
        let event = self.live_mut(id)?;
        let start = patch
            .get("start")
            .map(|v| date_time_time_zone(Some(v), "start"))
            .transpose()?;
        let end = patch
            .get("end")
            .map(|v| date_time_time_zone(Some(v), "end"))
            .transpose()?;
        check_show_as(&patch)?;
        let (start, end) = (start.unwrap_or(event.start), end.unwrap_or(event.end));
        if end < start {
            return Err(GraphError::new(
                400,
                "ErrorInvalidRequest",
                "The end time must not be before the start time.",
            ));
        }
        (event.start, event.end) = (start, end);
        for (key, value) in patch {
            match key.as_str() {
                // The fake does not turn online meetings on or off by a patch: the event keeps its
                // meeting across moves.
                "start"
                | "end"
                | "id"
                | "iCalUId"
                | "createdDateTime"
                | "transactionId"
                | "isOnlineMeeting"
                | "onlineMeetingProvider"
                | "onlineMeeting" => {}
                _ => {
                    event.fields.insert(key, value);
                }
            }
        }
        touch(&mut event.fields);
        self.stamp(id);
        Ok(())
    }

    pub(crate) fn delete(&mut self, id: &str) -> Result<(), GraphError> {
        self.live_mut(id)?.deleted = true;
        self.stamp(id);
        Ok(())
    }

    /// What the user does in Outlook: deletes the event (a change the next delta round reports as
    /// removed). An unknown id is [`FakeError::Unknown`]; deleting a deleted event is
    /// [`FakeError::InvalidSeed`].
    pub(crate) fn delete_by_user(&mut self, id: &str) -> Result<(), FakeError> {
        self.user_editable(id)?;
        self.delete(id).map_err(|e| FakeError::InvalidSeed(e.message))
    }

    /// What the user does in Outlook: moves the event to `start`..`end` (RFC 3339), a change the
    /// next delta round reports (as removed when it left the round's window).
    pub(crate) fn move_by_user(&mut self, id: &str, start: &str, end: &str) -> Result<(), FakeError> {
        let (start, end) = (time::instant(start)?, time::instant(end)?);
        if end < start {
            return Err(FakeError::InvalidSeed(
                "the end time must not be before the start time".into(),
            ));
        }
        self.user_editable(id)?;
        let event = self
            .live_mut(id)
            .map_err(|_| FakeError::Unknown(format!("event {id}")))?;
        (event.start, event.end) = (start, end);
        touch(&mut event.fields);
        self.stamp(id);
        Ok(())
    }

    /// Unknown ids and deleted events cannot be changed by the user.
    fn user_editable(&self, id: &str) -> Result<(), FakeError> {
        match self.events.iter().find(|e| e.id == id) {
            None => Err(FakeError::Unknown(format!("event {id}"))),
            Some(e) if e.deleted => Err(FakeError::InvalidSeed(format!("event {id} is deleted"))),
            Some(_) => Ok(()),
        }
    }

    /// POST /me/events/{id}/cancel: the organizer's copy goes away (attendees get a cancellation).
    pub(crate) fn cancel(&mut self, id: &str) -> Result<(), GraphError> {
        let event = self.live_mut(id)?;
        if event.fields.get("isOrganizer").and_then(Value::as_bool) == Some(false) {
            return Err(GraphError::new(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
            ));
        }
        event.deleted = true;
        self.stamp(id);
        Ok(())
    }

    fn live_mut(&mut self, id: &str) -> Result<&mut Event, GraphError> {
        self.events
            .iter_mut()
            .find(|e| e.id == id && !e.deleted)
            .ok_or_else(GraphError::not_found)
    }

    pub(crate) fn render(&self, id: &str, tz: &TimeZone, tz_name: &str) -> Result<Value, GraphError> {
        self.events
            .iter()
            .find(|e| e.id == id && !e.deleted)
            .map(|e| render(e, tz, tz_name))
            .ok_or_else(GraphError::not_found)
    }

    pub(crate) fn live_events(&self, tz: &TimeZone, tz_name: &str) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| !e.deleted)
            .map(|e| render(e, tz, tz_name))
            .collect()
    }

    /// POST /me/calendar/getSchedule for the signed-in user's own address.
    pub(crate) fn get_schedule(
        &self,
        body: &Map<String, Value>,
        tz: &TimeZone,
        tz_name: &str,
    ) -> Result<Value, GraphError> {
        if self.personal {
            // Not documented how Graph fails here (provider-apis.md: "not available for personal
            // Microsoft accounts"); the fake answers a 400 a client can recognise and not retry.
            return Err(GraphError::new(
                400,
                "ErrorInvalidUser",
                "getSchedule is not supported for personal Microsoft accounts.",
            ));
        }
        let schedules: Vec<&str> = body
            .get("schedules")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if schedules.is_empty() {
            return Err(GraphError::new(400, "ErrorInvalidParameter", "schedules is required."));
        }
        let start = date_time_time_zone(body.get("startTime"), "startTime")?;
        let end = date_time_time_zone(body.get("endTime"), "endTime")?;
        if end <= start {
            return Err(GraphError::new(
                400,
                "ErrorInvalidParameter",
                "endTime must be after startTime.",
            ));
        }
        if end.duration_since(start) >= MAX_SCHEDULE_RANGE {
            // Not documented word for word: the code is, the message is the fake's.
            return Err(GraphError::new(
                400,
                "ErrorTimeIntervalTooBig",
                "The requested time interval is too big: it must be shorter than 62 days.",
            ));
        }
        let interval = body
            .get("availabilityViewInterval")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        if !(5..=1440).contains(&interval) {
            return Err(GraphError::new(
                400,
                "ErrorInvalidParameter",
                "availabilityViewInterval must be 5 to 1440.",
            ));
        }
        let mut items: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| !e.deleted && !flag(e, "isCancelled") && e.start < end && e.end > start)
            .collect();
        items.sort_by_key(|e| (e.start, e.end));
        let value: Vec<Value> = schedules
            .iter()
            .map(|schedule| {
                if !schedule.eq_ignore_ascii_case(&self.address) {
                    return json!({
                        "scheduleId": schedule,
                        "error": {
                            "message": format!("Unable to resolve e-mail address {schedule} to an Active Directory object."),
                            "responseCode": "5009",
                        },
                    });
                }
                json!({
                    "scheduleId": schedule,
                    "availabilityView": availability_view(&items, start, end, interval),
                    "scheduleItems": items.iter().map(|e| schedule_item(e, tz, tz_name)).collect::<Vec<_>>(),
                    "workingHours": self.working_hours,
                })
            })
            .collect();
        Ok(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
            "value": value,
        }))
    }

    /// GET /me/calendarView: occurrences overlapping the window, cancelled and free ones included,
    /// paged with `$top` (default 10) and `@odata.nextLink`.
    pub(crate) fn calendar_view(
        &self,
        query: &Params,
        tz: &TimeZone,
        tz_name: &str,
        next_base: &str,
    ) -> Result<Value, GraphError> {
        let (start_text, end_text, start, end) = window(query)?;
        let number = |name: &str, default: usize| match query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| GraphError::new(400, "BadRequest", format!("Invalid value for {name}"))),
        };
        let top = number("$top", 10)?.clamp(1, 1000);
        let skip = number("$skip", 0)?;
        let mut matching: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| !e.deleted && e.start < end && e.end > start)
            .collect();
        matching.sort_by_key(|e| (e.start, e.end));
        let value: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(top)
            .map(|e| render(e, tz, tz_name))
            .collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('me')/calendarView",
            "value": value,
        });
        if skip + top < matching.len() {
            let next = with_query(
                next_base,
                &[
                    ("startDateTime", start_text),
                    ("endDateTime", end_text),
                    ("$top", &top.to_string()),
                    ("$skip", &(skip + top).to_string()),
                ],
            );
            body["@odata.nextLink"] = json!(next);
        }
        Ok(body)
    }

    /// GET /me/calendarView/delta. Without a token a round starts: every live event overlapping
    /// the window. With a `$deltatoken` a round of changes starts: every event that changed since
    /// the round that handed the token out, in full when it is live and overlaps the window, else
    /// as `@removed`. A `$skiptoken` goes on with a round. Pages are in change order and a round is
    /// read as of its first page (the events that change meanwhile come in the next round), so
    /// nothing is skipped or listed twice. `link_base` is the delta URL that links extend.
    pub(crate) fn delta(
        &self,
        query: &Params,
        page_size: usize,
        tz: &TimeZone,
        tz_name: &str,
        link_base: &str,
    ) -> Result<Value, GraphError> {
        let round = if let Some(token) = query.get("$skiptoken") {
            Round::resume(token, &self.sync_generation, self.changes)?
        } else if let Some(token) = query.get("$deltatoken") {
            Round::changes_since(token, &self.sync_generation, self.changes)?
        } else {
            let (_, _, start, end) = window(query)?;
            Round::first(&self.sync_generation, start, end, self.changes)
        };
        let overlaps = |e: &Event| !e.deleted && e.start < round.end && e.end > round.start;
        let mut matching: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| e.changed_at > round.after && e.changed_at <= round.snapshot)
            // The first round lists what is there; later rounds every change, removals included.
            .filter(|e| round.since.is_some() || overlaps(e))
            .collect();
        matching.sort_by_key(|e| e.changed_at);
        let shown: Vec<&Event> = matching.iter().take(page_size).copied().collect();
        let value: Vec<Value> = shown
            .iter()
            .map(|e| {
                if overlaps(e) {
                    render(e, tz, tz_name)
                } else {
                    json!({"@odata.type": "#microsoft.graph.event", "id": e.id, "@removed": {"reason": "deleted"}})
                }
            })
            .collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(event)",
            "value": value,
        });
        match shown.last() {
            Some(last) if matching.len() > shown.len() => {
                body["@odata.nextLink"] =
                    json!(format!("{link_base}?$skiptoken={}", round.skip_token(last.changed_at)));
            }
            _ => {
                body["@odata.deltaLink"] = json!(format!("{link_base}?$deltatoken={}", round.delta_token()));
            }
        }
        Ok(body)
    }
}

/// The calendar view's window: `startDateTime` and `endDateTime` (both required), RFC 3339 or
/// without an offset (read as UTC). Answers the texts and the instants.
fn window(query: &Params) -> Result<(&str, &str, Timestamp, Timestamp), GraphError> {
    let (Some(start_text), Some(end_text)) = (query.get("startDateTime"), query.get("endDateTime")) else {
        return Err(GraphError::new(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        ));
    };
    let parse = |text: &str| {
        // Without an offset the value is read as UTC.
        time::parse_instant(text)
            .or_else(|| time::parse_civil(text).and_then(|c| time::civil_to_instant(c, &TimeZone::UTC)))
            .ok_or_else(|| GraphError::new(400, "ErrorInvalidParameter", format!("Invalid date time: {text}")))
    };
    Ok((start_text, end_text, parse(start_text)?, parse(end_text)?))
}

fn flag(event: &Event, name: &str) -> bool {
    event.fields.get(name).and_then(Value::as_bool) == Some(true)
}

fn show_as(event: &Event) -> &str {
    event.fields.get("showAs").and_then(Value::as_str).unwrap_or("busy")
}

fn check_show_as(body: &Map<String, Value>) -> Result<(), GraphError> {
    match body.get("showAs") {
        Some(v) if !v.as_str().is_some_and(|s| STATUSES.contains(&s)) => {
            Err(GraphError::new(400, "BadRequest", "Invalid value for showAs."))
        }
        _ => Ok(()),
    }
}

/// A new changeKey and modification time after every write.
fn touch(fields: &mut Map<String, Value>) {
    let change_key = random_hex();
    fields.insert("changeKey".into(), json!(change_key));
    fields.insert("@odata.etag".into(), json!(format!("W/\"{change_key}\"")));
    fields.insert(
        "lastModifiedDateTime".into(),
        json!(time::graph(Timestamp::now(), &TimeZone::UTC) + "Z"),
    );
}

/// A `{dateTime, timeZone}` pair: a civil time (up to 7 decimals, no offset) in a Windows or IANA zone.
fn date_time_time_zone(value: Option<&Value>, field: &str) -> Result<Timestamp, GraphError> {
    let missing = || GraphError::new(400, "ErrorInvalidRequest", format!("{field} is required."));
    let value = value.ok_or_else(missing)?;
    let date_time = value.get("dateTime").and_then(Value::as_str).ok_or_else(missing)?;
    let zone_name = value.get("timeZone").and_then(Value::as_str).unwrap_or("UTC");
    let zone = time::graph_zone(zone_name).ok_or_else(|| {
        GraphError::new(
            400,
            "TimeZoneNotSupportedException",
            format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{zone_name}'."),
        )
    })?;
    time::parse_civil(date_time)
        .and_then(|civil| time::civil_to_instant(civil, &zone))
        .or_else(|| time::parse_instant(date_time))
        .ok_or_else(|| {
            GraphError::new(
                400,
                "ErrorInvalidRequest",
                format!("Invalid {field}.dateTime: {date_time}"),
            )
        })
}

fn render(event: &Event, tz: &TimeZone, tz_name: &str) -> Value {
    let mut fields = event.fields.clone();
    fields.insert(
        "start".into(),
        json!({"dateTime": time::graph(event.start, tz), "timeZone": tz_name}),
    );
    fields.insert(
        "end".into(),
        json!({"dateTime": time::graph(event.end, tz), "timeZone": tz_name}),
    );
    Value::Object(fields)
}

fn schedule_item(event: &Event, tz: &TimeZone, tz_name: &str) -> Value {
    json!({
        "isPrivate": event.fields.get("sensitivity").and_then(Value::as_str) == Some("private"),
        "status": show_as(event),
        "subject": event.fields.get("subject").cloned().unwrap_or(json!("")),
        "location": event.fields.get("location").and_then(|l| l.get("displayName")).cloned().unwrap_or(json!("")),
        "isMeeting": event.fields.get("attendees").and_then(Value::as_array).is_some_and(|a| !a.is_empty()),
        "isRecurring": false,
        "isException": false,
        "isReminderSet": true,
        "start": {"dateTime": time::graph(event.start, tz), "timeZone": tz_name},
        "end": {"dateTime": time::graph(event.end, tz), "timeZone": tz_name},
    })
}

/// One digit per interval: 0 free, 1 tentative, 2 busy, 3 oof, 4 workingElsewhere. Not documented
/// which status wins when items overlap: the fake ranks oof > busy > tentative > workingElsewhere > free.
fn availability_view(items: &[&Event], start: Timestamp, end: Timestamp, interval_minutes: i64) -> String {
    let step = SignedDuration::from_mins(interval_minutes);
    let mut view = String::new();
    let mut slot = start;
    while slot < end {
        let slot_end = slot.checked_add(step).unwrap_or(end).min(end);
        let rank = |status: &str| match status {
            "oof" => (4, '3'),
            "busy" => (3, '2'),
            "tentative" => (2, '1'),
            "workingElsewhere" => (1, '4'),
            _ => (0, '0'),
        };
        let digit = items
            .iter()
            .filter(|e| e.start < slot_end && e.end > slot)
            .map(|e| rank(show_as(e)))
            .max()
            .map_or('0', |(_, digit)| digit);
        view.push(digit);
        slot = slot_end;
    }
    view
}

//! The Calendly user's data (event types, offered times, scheduled events, invitees, webhook
//! subscriptions) and the API's rules over it.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

use super::webhooks::WebhookSubscription;
use super::CalendlyError;
use crate::harness::{random_hex, with_query, Params};
use crate::{time, FakeError};

/// user_busy_times spans at most a week (its limit did not change with available times').
const BUSY_TIMES_MAX_SPAN: SignedDuration = SignedDuration::from_hours(7 * 24);

const WEBHOOK_EVENTS: &[&str] = &[
    "invitee.created",
    "invitee.canceled",
    "invitee_no_show.created",
    "invitee_no_show.deleted",
    "routing_form_submission.created",
];

#[derive(Debug)]
struct EventType {
    uuid: String,
    name: String,
    slug: String,
    duration_minutes: i64,
    active: bool,
    offered: BTreeSet<Timestamp>,
}

#[derive(Debug)]
struct Invitee {
    uuid: String,
    name: String,
    email: String,
    timezone: String,
    created_at: Timestamp,
    cancellation: Option<Value>,
}

#[derive(Debug)]
struct ScheduledEvent {
    uuid: String,
    event_type: String,
    name: String,
    start: Timestamp,
    end: Timestamp,
    created_at: Timestamp,
    cancellation: Option<Value>,
    invitees: Vec<Invitee>,
}

impl ScheduledEvent {
    fn active(&self) -> bool {
        self.cancellation.is_none()
    }
}

/// A scheduling link made by POST /scheduling_links: a booking page for its event type that
/// books at most `max_event_count` times.
#[derive(Debug)]
struct SchedulingLink {
    booking_url: String,
    owner: String,
    max_event_count: i64,
    event_count: i64,
}

#[derive(Debug)]
pub(crate) struct Account {
    base: String,
    user_uuid: String,
    organization_uuid: String,
    event_types: Vec<EventType>,
    events: Vec<ScheduledEvent>,
    pub(crate) external_busy: Vec<(Timestamp, Timestamp)>,
    pub(crate) webhooks: Vec<WebhookSubscription>,
    scheduling_links: Vec<SchedulingLink>,
    pub(crate) direct_booking: bool,
    pub(crate) max_span_days: i64,
    pub(crate) now: Option<Timestamp>,
}

impl Account {
    pub(crate) fn new() -> Self {
        Account {
            base: String::new(),
            user_uuid: uuid::Uuid::new_v4().to_string(),
            organization_uuid: uuid::Uuid::new_v4().to_string(),
            event_types: Vec::new(),
            events: Vec::new(),
            external_busy: Vec::new(),
            webhooks: Vec::new(),
            scheduling_links: Vec::new(),
            direct_booking: true,
            max_span_days: 7,
            now: None,
        }
    }

    pub(crate) fn set_base(&mut self, base: &str) {
        base.clone_into(&mut self.base);
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }

    pub(crate) fn user_uri(&self) -> String {
        format!("{}/users/{}", self.base, self.user_uuid)
    }

    pub(crate) fn organization_uri(&self) -> String {
        format!("{}/organizations/{}", self.base, self.organization_uuid)
    }

    fn event_type_uri(&self, uuid: &str) -> String {
        format!("{}/event_types/{uuid}", self.base)
    }

    fn event_uri(&self, uuid: &str) -> String {
        format!("{}/scheduled_events/{uuid}", self.base)
    }

    pub(crate) fn user(&self) -> Value {
        json!({
            "uri": self.user_uri(),
            "name": "Ada Expert",
            "slug": "ada-expert",
            "email": "ada@calendly.example",
            "scheduling_url": format!("{}/ada-expert", self.base),
            "timezone": "Europe/Berlin",
            "avatar_url": null,
            "created_at": "2024-01-01T00:00:00.000000Z",
            "updated_at": "2024-01-01T00:00:00.000000Z",
            "current_organization": self.organization_uri(),
            "resource_type": "User",
        })
    }

    pub(crate) fn add_event_type(&mut self, name: &str, duration_minutes: i64) -> String {
        let uuid = uuid::Uuid::new_v4().to_string();
        let slug = name.to_lowercase().split_whitespace().collect::<Vec<_>>().join("-");
        self.event_types.push(EventType {
            uuid: uuid.clone(),
            name: name.to_owned(),
            slug,
            duration_minutes,
            active: true,
            offered: BTreeSet::new(),
        });
        self.event_type_uri(&uuid)
    }

    fn find_type(&self, uri_or_uuid: &str) -> Option<&EventType> {
        let uuid = uri_or_uuid.rsplit('/').next().unwrap_or_default();
        self.event_types
            .iter()
            .find(|t| t.uuid == uuid && (uri_or_uuid == uuid || uri_or_uuid == self.event_type_uri(uuid)))
    }

    fn find_type_mut(&mut self, uri: &str) -> Result<&mut EventType, FakeError> {
        let uuid = self
            .find_type(uri)
            .map(|t| t.uuid.clone())
            .ok_or_else(|| FakeError::Unknown(format!("event type {uri}")))?;
        self.event_types
            .iter_mut()
            .find(|t| t.uuid == uuid)
            .ok_or_else(|| FakeError::Unknown(format!("event type {uri}")))
    }

    pub(crate) fn set_event_type_active(&mut self, uri: &str, active: bool) -> Result<(), FakeError> {
        self.find_type_mut(uri)?.active = active;
        Ok(())
    }

    pub(crate) fn seed_available_times(&mut self, uri: &str, starts: Vec<Timestamp>) -> Result<(), FakeError> {
        self.find_type_mut(uri)?.offered.extend(starts);
        Ok(())
    }

    fn render_type(&self, t: &EventType) -> Value {
        json!({
            "uri": self.event_type_uri(&t.uuid),
            "name": t.name,
            "active": t.active,
            "slug": t.slug,
            "scheduling_url": format!("{}/ada-expert/{}", self.base, t.slug),
            "duration": t.duration_minutes,
            "kind": "solo",
            "pooling_type": null,
            "type": "StandardEventType",
            "color": "#8247f5",
            "created_at": "2024-01-01T00:00:00.000000Z",
            "updated_at": "2024-01-01T00:00:00.000000Z",
            "internal_note": null,
            "description_plain": null,
            "description_html": null,
            "profile": {"type": "User", "name": "Ada Expert", "owner": self.user_uri()},
            "secret": false,
            "booking_method": "instant",
            "custom_questions": [],
            "deleted_at": null,
            "admin_managed": false,
        })
    }

    pub(crate) fn event_type(&self, uuid: &str) -> Result<Value, CalendlyError> {
        self.find_type(uuid)
            .map(|t| self.render_type(t))
            .ok_or_else(CalendlyError::not_found)
    }

    pub(crate) fn list_event_types(&self, query: &Params, page_base: &str) -> Result<Value, CalendlyError> {
        self.check_owner(query)?;
        let active = query.get("active").map(|a| a == "true");
        let all: Vec<Value> = self
            .event_types
            .iter()
            .filter(|t| active.is_none_or(|a| t.active == a))
            .map(|t| self.render_type(t))
            .collect();
        page(query, page_base, all)
    }

    /// user or organization must be given, and must be this account's (Not documented what Calendly
    /// answers for another user's URI: the fake says 403 Permission Denied).
    fn check_owner(&self, query: &Params) -> Result<(), CalendlyError> {
        match (query.get("user"), query.get("organization")) {
            (None, None) => Err(CalendlyError::invalid("user", "user or organization is required", None)),
            (Some(user), _) if user != self.user_uri() => {
                Err(CalendlyError::denied("You do not have access to this user."))
            }
            (_, Some(org)) if org != self.organization_uri() => {
                Err(CalendlyError::denied("You do not have access to this organization."))
            }
            _ => Ok(()),
        }
    }

    /// Whether [start, end) collides with an active scheduled event or external busy time.
    fn taken(&self, start: Timestamp, end: Timestamp) -> bool {
        self.events.iter().any(|e| e.active() && e.start < end && e.end > start)
            || self.external_busy.iter().any(|(s, e)| *s < end && *e > start)
    }

    pub(crate) fn available_times(&self, query: &Params, now: Timestamp) -> Result<Value, CalendlyError> {
        let event_type = query
            .get("event_type")
            .ok_or_else(|| CalendlyError::invalid("event_type", "is required", None))?;
        let (start, end) = (required_time(query, "start_time")?, required_time(query, "end_time")?);
        let event_type = self.find_type(event_type).ok_or_else(CalendlyError::not_found)?;
        if start < now {
            return Err(CalendlyError::invalid("start_time", "must be in the future", None));
        }
        if end <= start {
            return Err(CalendlyError::invalid("end_time", "must be after start_time", None));
        }
        if end.duration_since(start) > SignedDuration::from_hours(self.max_span_days * 24) {
            let message = format!("date range can be no greater than {} days", self.max_span_days);
            return Err(CalendlyError::invalid("end_time", &message, None));
        }
        let length = SignedDuration::from_mins(event_type.duration_minutes);
        let scheduling_url = format!("{}/ada-expert/{}", self.base, event_type.slug);
        let collection: Vec<Value> = event_type
            .offered
            .range(start..end)
            .filter(|s| **s >= now && !self.taken(**s, s.checked_add(length).unwrap_or(**s)))
            .map(|s| {
                let date = time::calendly(*s);
                json!({
                    "status": "available",
                    "invitees_remaining": 1,
                    "start_time": date,
                    "scheduling_url": format!("{scheduling_url}/{}?month={}&date={}", &date[..19], &date[..7], &date[..10]),
                })
            })
            .collect();
        Ok(json!({"collection": collection}))
    }

    pub(crate) fn busy_times(&self, query: &Params) -> Result<Value, CalendlyError> {
        if query.get("user").is_none() {
            return Err(CalendlyError::invalid("user", "is required", None));
        }
        self.check_owner(query)?;
        let (start, end) = (required_time(query, "start_time")?, required_time(query, "end_time")?);
        if end <= start {
            return Err(CalendlyError::invalid("end_time", "must be after start_time", None));
        }
        if end.duration_since(start) > BUSY_TIMES_MAX_SPAN {
            return Err(CalendlyError::invalid(
                "end_time",
                "date range can be no greater than 1 week (7 days)",
                None,
            ));
        }
        let mut busy: Vec<(Timestamp, Value)> = self
            .events
            .iter()
            .filter(|e| e.active() && e.start < end && e.end > start)
            .map(|e| {
                (
                    e.start,
                    json!({
                        "type": "calendly",
                        "start_time": time::calendly(e.start),
                        "end_time": time::calendly(e.end),
                        "buffered_start_time": time::calendly(e.start),
                        "buffered_end_time": time::calendly(e.end),
                        "event": {"uri": self.event_uri(&e.uuid)},
                    }),
                )
            })
            .collect();
        busy.extend(
            self.external_busy
                .iter()
                .filter(|(s, e)| *s < end && *e > start)
                .map(|(s, e)| {
                    (
                        *s,
                        json!({"type": "external", "start_time": time::calendly(*s), "end_time": time::calendly(*e)}),
                    )
                }),
        );
        busy.sort_by_key(|(s, _)| *s);
        Ok(json!({"collection": busy.into_iter().map(|(_, v)| v).collect::<Vec<_>>()}))
    }

    fn render_invitee(&self, event: &ScheduledEvent, invitee: &Invitee) -> Value {
        let mut value = json!({
            "uri": format!("{}/invitees/{}", self.event_uri(&event.uuid), invitee.uuid),
            "email": invitee.email,
            "first_name": null,
            "last_name": null,
            "name": invitee.name,
            "status": if invitee.cancellation.is_some() { "canceled" } else { "active" },
            "questions_and_answers": [],
            "timezone": invitee.timezone,
            "event": self.event_uri(&event.uuid),
            "created_at": time::calendly(invitee.created_at),
            "updated_at": time::calendly(invitee.created_at),
            "tracking": {"utm_campaign": null, "utm_source": null, "utm_medium": null, "utm_content": null, "utm_term": null, "salesforce_uuid": null},
            "text_reminder_number": null,
            "rescheduled": false,
            "old_invitee": null,
            "new_invitee": null,
            "cancel_url": format!("{}/cancellations/{}", self.base, invitee.uuid),
            "reschedule_url": format!("{}/reschedulings/{}", self.base, invitee.uuid),
            "routing_form_submission": null,
            "payment": null,
            "no_show": null,
            "reconfirmation": null,
            "scheduling_method": null,
            "invitee_scheduled_by": null,
        });
        if let Some(cancellation) = &invitee.cancellation {
            value["cancellation"] = cancellation.clone();
        }
        value
    }

    fn render_event(&self, event: &ScheduledEvent) -> Value {
        let active = event.invitees.iter().filter(|i| i.cancellation.is_none()).count();
        let mut value = json!({
            "uri": self.event_uri(&event.uuid),
            "name": event.name,
            "meeting_notes_plain": null,
            "meeting_notes_html": null,
            "status": if event.active() { "active" } else { "canceled" },
            "start_time": time::calendly(event.start),
            "end_time": time::calendly(event.end),
            "event_type": self.event_type_uri(&event.event_type),
            "location": null,
            "invitees_counter": {"total": event.invitees.len(), "active": active, "limit": 1},
            "created_at": time::calendly(event.created_at),
            "updated_at": time::calendly(event.created_at),
            "event_memberships": [{"user": self.user_uri(), "user_email": "ada@calendly.example", "user_name": "Ada Expert"}],
            "event_guests": [],
        });
        if let Some(cancellation) = &event.cancellation {
            value["cancellation"] = cancellation.clone();
        }
        value
    }

    fn find_event(&self, uuid: &str) -> Result<&ScheduledEvent, CalendlyError> {
        self.events
            .iter()
            .find(|e| e.uuid == uuid)
            .ok_or_else(CalendlyError::not_found)
    }

    pub(crate) fn scheduled_event(&self, uuid: &str) -> Result<Value, CalendlyError> {
        self.find_event(uuid).map(|e| self.render_event(e))
    }

    pub(crate) fn scheduled_events(&self) -> Vec<Value> {
        self.events.iter().map(|e| self.render_event(e)).collect()
    }

    pub(crate) fn invitees(&self) -> Vec<Value> {
        self.events
            .iter()
            .flat_map(|e| e.invitees.iter().map(move |i| self.render_invitee(e, i)))
            .collect()
    }

    pub(crate) fn list_invitees(&self, uuid: &str) -> Result<Value, CalendlyError> {
        let event = self.find_event(uuid)?;
        let collection: Vec<Value> = event.invitees.iter().map(|i| self.render_invitee(event, i)).collect();
        Ok(
            json!({"collection": collection, "pagination": {"count": collection.len(), "next_page": null, "previous_page": null, "next_page_token": null, "previous_page_token": null}}),
        )
    }

    pub(crate) fn invitee(&self, event_uuid: &str, invitee_uuid: &str) -> Result<Value, CalendlyError> {
        let event = self.find_event(event_uuid)?;
        event
            .invitees
            .iter()
            .find(|i| i.uuid == invitee_uuid)
            .map(|i| self.render_invitee(event, i))
            .ok_or_else(CalendlyError::not_found)
    }

    pub(crate) fn event_uuid_of_invitee(&self, invitee_uri: &str) -> Option<String> {
        let invitee_uuid = invitee_uri.rsplit('/').next()?;
        self.events
            .iter()
            .find(|e| e.invitees.iter().any(|i| i.uuid == invitee_uuid))
            .map(|e| e.uuid.clone())
    }

    pub(crate) fn list_scheduled_events(&self, query: &Params, page_base: &str) -> Result<Value, CalendlyError> {
        self.check_owner(query)?;
        let optional_time = |name: &str| {
            query
                .get(name)
                .map(|v| {
                    time::parse_instant(v).ok_or_else(|| CalendlyError::invalid(name, "is not a valid time", None))
                })
                .transpose()
        };
        let (min, max) = (optional_time("min_start_time")?, optional_time("max_start_time")?);
        let status = query.get("status");
        if status.is_some_and(|s| s != "active" && s != "canceled") {
            return Err(CalendlyError::invalid("status", "must be active or canceled", None));
        }
        let email = query.get("invitee_email");
        let mut matching: Vec<&ScheduledEvent> = self
            .events
            .iter()
            .filter(|e| min.is_none_or(|min| e.start >= min) && max.is_none_or(|max| e.start < max))
            .filter(|e| status.is_none_or(|s| (s == "active") == e.active()))
            .filter(|e| email.is_none_or(|m| e.invitees.iter().any(|i| i.email.eq_ignore_ascii_case(m))))
            .collect();
        match query.get("sort").unwrap_or("start_time:asc") {
            "start_time:asc" => matching.sort_by_key(|e| e.start),
            "start_time:desc" => matching.sort_by_key(|e| std::cmp::Reverse(e.start)),
            _ => {
                return Err(CalendlyError::invalid(
                    "sort",
                    "must be start_time:asc or start_time:desc",
                    None,
                ))
            }
        }
        let all = matching.into_iter().map(|e| self.render_event(e)).collect();
        page(query, page_base, all)
    }

    /// POST /invitees, and bookings made on Calendly's pages. Not documented: a time Calendly never
    /// offered is refused like a taken one but with code "invalid_start_time"; only a time that was
    /// offered and is now taken carries "already_filled".
    pub(crate) fn book(&mut self, body: &Map<String, Value>, now: Timestamp) -> Result<Value, CalendlyError> {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let event_type =
            text(body.get("event_type")).ok_or_else(|| CalendlyError::invalid("event_type", "is required", None))?;
        let start_text =
            text(body.get("start_time")).ok_or_else(|| CalendlyError::invalid("start_time", "is required", None))?;
        let invitee = body
            .get("invitee")
            .ok_or_else(|| CalendlyError::invalid("invitee", "is required", None))?;
        let (name, email) = (text(invitee.get("name")), text(invitee.get("email")));
        let (Some(name), Some(email)) = (name, email) else {
            return Err(CalendlyError::invalid("invitee", "name and email are required", None));
        };
        let timezone = text(invitee.get("timezone")).unwrap_or_else(|| "UTC".to_owned());
        let start = time::parse_instant(&start_text)
            .ok_or_else(|| CalendlyError::invalid("start_time", "is not a valid time", None))?;
        let event_type = self
            .find_type(&event_type)
            .ok_or_else(|| CalendlyError::invalid("event_type", "is invalid", None))?;
        if !event_type.active {
            return Err(CalendlyError::invalid("event_type", "is not active", None));
        }
        if start < now {
            return Err(CalendlyError::invalid("start_time", "must be in the future", None));
        }
        let end = start
            .checked_add(SignedDuration::from_mins(event_type.duration_minutes))
            .unwrap_or(start);
        if !event_type.offered.contains(&start) {
            return Err(CalendlyError::invalid(
                "start_time",
                "The selected time is not available.",
                Some("invalid_start_time"),
            ));
        }
        if self.taken(start, end) {
            return Err(CalendlyError::invalid(
                "start_time",
                "This time slot is no longer available.",
                Some("already_filled"),
            ));
        }
        let event = ScheduledEvent {
            uuid: uuid::Uuid::new_v4().to_string(),
            event_type: event_type.uuid.clone(),
            name: event_type.name.clone(),
            start,
            end,
            created_at: Timestamp::now(),
            cancellation: None,
            invitees: vec![Invitee {
                uuid: uuid::Uuid::new_v4().to_string(),
                name,
                email,
                timezone,
                created_at: Timestamp::now(),
                cancellation: None,
            }],
        };
        let rendered = event
            .invitees
            .first()
            .map(|i| self.render_invitee(&event, i))
            .unwrap_or_default();
        self.events.push(event);
        Ok(rendered)
    }

    /// Cancels a scheduled event (and its invitees) as the host or the invitee.
    pub(crate) fn cancel(
        &mut self,
        uuid: &str,
        reason: &str,
        canceler_type: &str,
        now: Timestamp,
    ) -> Result<Value, CalendlyError> {
        let canceled_by = if canceler_type == "host" {
            "Ada Expert".to_owned()
        } else {
            String::new()
        };
        let event = self
            .events
            .iter_mut()
            .find(|e| e.uuid == uuid)
            .ok_or_else(CalendlyError::not_found)?;
        if !event.active() {
            return Err(CalendlyError::denied("Event is already canceled"));
        }
        if event.start < now {
            return Err(CalendlyError::denied("Event in the past"));
        }
        let canceled_by = if canceled_by.is_empty() {
            event.invitees.first().map(|i| i.name.clone()).unwrap_or_default()
        } else {
            canceled_by
        };
        let cancellation = json!({
            "canceled_by": canceled_by,
            "reason": reason,
            "canceler_type": canceler_type,
            "created_at": time::calendly(Timestamp::now()),
        });
        event.cancellation = Some(cancellation.clone());
        for invitee in &mut event.invitees {
            invitee.cancellation = Some(cancellation.clone());
        }
        Ok(cancellation)
    }

    pub(crate) fn scheduling_link(&mut self, body: &Map<String, Value>) -> Result<Value, CalendlyError> {
        let owner = body.get("owner").and_then(Value::as_str).unwrap_or_default();
        if body.get("owner_type").and_then(Value::as_str) != Some("EventType") {
            return Err(CalendlyError::invalid("owner_type", "must be EventType", None));
        }
        if body.get("max_event_count").and_then(Value::as_i64) != Some(1) {
            return Err(CalendlyError::invalid("max_event_count", "must be 1", None));
        }
        let event_type = self
            .find_type(owner)
            .ok_or_else(|| CalendlyError::invalid("owner", "is invalid", None))?;
        let booking_url = format!("{}/d/{}/{}", self.base, &random_hex()[..10], event_type.slug);
        self.scheduling_links.push(SchedulingLink {
            booking_url: booking_url.clone(),
            owner: owner.to_owned(),
            max_event_count: 1,
            event_count: 0,
        });
        Ok(json!({
            "booking_url": booking_url,
            "owner": owner,
            "owner_type": "EventType",
        }))
    }

    /// Books at a scheduling link's page: any time its event type offers, while the link has
    /// bookings left.
    pub(crate) fn book_with_link(
        &mut self,
        booking_url: &str,
        booking: &Map<String, Value>,
    ) -> Result<Value, FakeError> {
        let link = self
            .scheduling_links
            .iter()
            .find(|l| l.booking_url == booking_url)
            .ok_or_else(|| FakeError::Unknown(format!("scheduling link {booking_url}")))?;
        if link.event_count >= link.max_event_count {
            // Not documented: what the page shows for a used single-use link; the fake refuses.
            return Err(FakeError::InvalidSeed(format!(
                "the scheduling link {booking_url} was used already"
            )));
        }
        let mut booking = booking.clone();
        booking.insert("event_type".into(), json!(link.owner));
        let now = self.now();
        let invitee = self
            .book(&booking, now)
            .map_err(|e| FakeError::InvalidSeed(e.message))?;
        if let Some(link) = self.scheduling_links.iter_mut().find(|l| l.booking_url == booking_url) {
            link.event_count += 1;
        }
        Ok(invitee)
    }

    /// Every scheduling link made, with how often it booked.
    pub(crate) fn scheduling_links(&self) -> Vec<Value> {
        self.scheduling_links
            .iter()
            .map(|l| {
                json!({
                    "booking_url": l.booking_url,
                    "owner": l.owner,
                    "owner_type": "EventType",
                    "max_event_count": l.max_event_count,
                    "event_count": l.event_count,
                })
            })
            .collect()
    }

    fn render_subscription(&self, s: &WebhookSubscription) -> Value {
        json!({
            "uri": s.uri,
            "callback_url": s.url,
            "created_at": "2026-01-01T00:00:00.000000Z",
            "updated_at": "2026-01-01T00:00:00.000000Z",
            "retry_started_at": null,
            "state": "active",
            "events": s.events,
            "scope": s.scope,
            "organization": self.organization_uri(),
            "user": if s.scope == "user" { json!(self.user_uri()) } else { Value::Null },
            "group": null,
            "creator": self.user_uri(),
        })
    }

    pub(crate) fn subscribe(&mut self, body: &Map<String, Value>) -> Result<Value, CalendlyError> {
        let url = body.get("url").and_then(Value::as_str).unwrap_or_default();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(CalendlyError::invalid("url", "is not a valid URL", None));
        }
        let events: Vec<String> = body
            .get("events")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        if events.is_empty() || events.iter().any(|e| !WEBHOOK_EVENTS.contains(&e.as_str())) {
            return Err(CalendlyError::invalid("events", "is invalid", None));
        }
        if body.get("organization").and_then(Value::as_str) != Some(self.organization_uri().as_str()) {
            return Err(CalendlyError::invalid("organization", "is invalid", None));
        }
        let scope = body.get("scope").and_then(Value::as_str).unwrap_or_default().to_owned();
        match scope.as_str() {
            "user" if body.get("user").and_then(Value::as_str) == Some(self.user_uri().as_str()) => {}
            "user" => return Err(CalendlyError::invalid("user", "is required for scope user", None)),
            "organization" => {}
            _ => return Err(CalendlyError::invalid("scope", "must be user or organization", None)),
        }
        if self.webhooks.iter().any(|w| w.url == url) {
            return Err(CalendlyError::new(
                409,
                "Already Exists",
                "Hook with this url already exists",
            ));
        }
        let signing_key = body
            .get("signing_key")
            .and_then(Value::as_str)
            .map_or_else(random_hex, str::to_owned);
        let subscription = WebhookSubscription {
            uri: format!("{}/webhook_subscriptions/{}", self.base, uuid::Uuid::new_v4()),
            url: url.to_owned(),
            events,
            scope,
            signing_key,
        };
        let rendered = self.render_subscription(&subscription);
        self.webhooks.push(subscription);
        Ok(rendered)
    }

    pub(crate) fn list_subscriptions(&self, query: &Params) -> Result<Value, CalendlyError> {
        if query.get("organization").is_none() || query.get("scope").is_none() {
            return Err(CalendlyError::invalid(
                "organization",
                "organization and scope are required",
                None,
            ));
        }
        let collection: Vec<Value> = self
            .webhooks
            .iter()
            .filter(|w| query.get("scope").is_none_or(|s| s == w.scope))
            .map(|w| self.render_subscription(w))
            .collect();
        Ok(
            json!({"collection": collection, "pagination": {"count": collection.len(), "next_page": null, "previous_page": null, "next_page_token": null, "previous_page_token": null}}),
        )
    }

    pub(crate) fn subscription(&self, uuid: &str) -> Result<Value, CalendlyError> {
        self.webhooks
            .iter()
            .find(|w| w.uri.ends_with(&format!("/{uuid}")))
            .map(|w| self.render_subscription(w))
            .ok_or_else(CalendlyError::not_found)
    }

    pub(crate) fn unsubscribe(&mut self, uuid: &str) -> Result<(), CalendlyError> {
        let before = self.webhooks.len();
        self.webhooks.retain(|w| !w.uri.ends_with(&format!("/{uuid}")));
        if self.webhooks.len() == before {
            return Err(CalendlyError::not_found());
        }
        Ok(())
    }

    pub(crate) fn webhook_payload(&self, kind: &str, invitee_uri: &str) -> Result<Value, FakeError> {
        if kind != "invitee.created" && kind != "invitee.canceled" {
            return Err(FakeError::InvalidSeed(format!("webhook event {kind}")));
        }
        let invitee_uuid = invitee_uri.rsplit('/').next().unwrap_or_default();
        let (event, invitee) = self
            .events
            .iter()
            .find_map(|e| e.invitees.iter().find(|i| i.uuid == invitee_uuid).map(|i| (e, i)))
            .ok_or_else(|| FakeError::Unknown(format!("invitee {invitee_uri}")))?;
        let mut payload = self.render_invitee(event, invitee);
        payload["scheduled_event"] = self.render_event(event);
        Ok(json!({
            "event": kind,
            "created_at": time::calendly(Timestamp::now()),
            "created_by": self.user_uri(),
            "payload": payload,
        }))
    }
}

fn required_time(query: &Params, name: &str) -> Result<Timestamp, CalendlyError> {
    let value = query
        .get(name)
        .ok_or_else(|| CalendlyError::invalid(name, "is required", None))?;
    time::parse_instant(value).ok_or_else(|| CalendlyError::invalid(name, "is not a valid time", None))
}

/// One page of `all` with Calendly's pagination block (count 1-100, default 20; page_token).
fn page(query: &Params, page_base: &str, all: Vec<Value>) -> Result<Value, CalendlyError> {
    let count = match query.get("count") {
        None => 20,
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|c| (1..=100).contains(c))
            .ok_or_else(|| CalendlyError::invalid("count", "must be between 1 and 100", None))?,
    };
    let offset = match query.get("page_token") {
        None => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| CalendlyError::invalid("page_token", "is invalid", None))?,
    };
    let link = |offset: usize| {
        let token = URL_SAFE_NO_PAD.encode(offset.to_string());
        // The other parameters stay as they were; only the token changes.
        let mut params: BTreeMap<&str, String> = query
            .0
            .iter()
            .filter(|(k, _)| k != "page_token")
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        params.insert("page_token", token.clone());
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        (with_query(page_base, &params), token)
    };
    let collection: Vec<Value> = all.iter().skip(offset).take(count).cloned().collect();
    let next = (offset + count < all.len()).then(|| link(offset + count));
    let previous = (offset > 0).then(|| link(offset.saturating_sub(count)));
    Ok(json!({
        "collection": collection,
        "pagination": {
            "count": count,
            "next_page": next.as_ref().map(|(url, _)| url),
            "previous_page": previous.as_ref().map(|(url, _)| url),
            "next_page_token": next.as_ref().map(|(_, token)| token),
            "previous_page_token": previous.as_ref().map(|(_, token)| token),
        },
    }))
}

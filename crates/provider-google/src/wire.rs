//! Google Calendar v3's JSON, in the parts this crate sends and reads (field names as in Google's
//! discovery document), and the reading of Google's error bodies.

use availability_core::{CalendarChange, Meeting};
use availability_domain::jiff::tz::TimeZone;
use availability_domain::jiff::{civil, Timestamp};
use availability_domain::{Appointment, Client, Expert, Interval};
use provider_http::ProviderHttpError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

/// `POST /freeBusy` request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FreeBusyRequest<'a> {
    pub(crate) time_min: String,
    pub(crate) time_max: String,
    pub(crate) time_zone: &'static str,
    pub(crate) items: Vec<FreeBusyItem<'a>>,
}

/// One calendar to ask about.
#[derive(Debug, Serialize)]
pub(crate) struct FreeBusyItem<'a> {
    pub(crate) id: &'a str,
}

/// `POST /freeBusy` response: the calendars by the ids they were asked for.
#[derive(Debug, Deserialize)]
pub(crate) struct FreeBusyResponse {
    #[serde(default)]
    pub(crate) calendars: HashMap<String, FreeBusyCalendar>,
}

/// One calendar's answer: its busy periods, or errors (then its busy list means nothing).
#[derive(Debug, Deserialize)]
pub(crate) struct FreeBusyCalendar {
    #[serde(default)]
    pub(crate) busy: Vec<TimePeriod>,
    #[serde(default)]
    pub(crate) errors: Vec<ErrorItem>,
}

/// `{"start": RFC 3339, "end": RFC 3339}`.
#[derive(Debug, Deserialize)]
pub(crate) struct TimePeriod {
    pub(crate) start: String,
    pub(crate) end: String,
}

/// An entry of Google's `errors` arrays.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorItem {
    #[serde(default)]
    pub(crate) domain: Option<String>,
    #[serde(default)]
    pub(crate) reason: Option<String>,
}

/// `POST /calendars/{calendarId}/events/watch` request: a Channel (`type` web_hook).
#[derive(Debug, Serialize)]
pub(crate) struct WatchRequest<'a> {
    pub(crate) id: &'a str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) address: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) token: &'a str,
    /// Unix milliseconds, as a string (the discovery document types it int64-as-string).
    pub(crate) expiration: String,
}

/// `POST /channels/stop` request: the channel's id and resource id.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StopRequest<'a> {
    pub(crate) id: &'a str,
    pub(crate) resource_id: &'a str,
}

/// The Channel events.watch answers with.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WatchedChannel {
    #[serde(default)]
    pub(crate) resource_id: Option<String>,
    /// Unix milliseconds: a string in Google's JSON, a number from some clients' fakes.
    #[serde(default)]
    pub(crate) expiration: Option<Value>,
}

impl WatchedChannel {
    /// The granted expiration, in Unix milliseconds.
    pub(crate) fn expiration_ms(&self) -> Option<i64> {
        match self.expiration.as_ref()? {
            Value::String(s) => s.trim().parse().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }
}

/// `GET /users/me/calendarList` page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CalendarListPage {
    #[serde(default)]
    pub(crate) items: Vec<CalendarListEntry>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// One calendar of the list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CalendarListEntry {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) summary: Option<String>,
    #[serde(default)]
    pub(crate) summary_override: Option<String>,
    #[serde(default)]
    pub(crate) primary: bool,
    #[serde(default)]
    pub(crate) access_role: Option<String>,
    #[serde(default)]
    pub(crate) time_zone: Option<String>,
    #[serde(default)]
    pub(crate) deleted: bool,
}

/// The fields of an event this crate reads back.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Event {
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) start: Option<EventTime>,
    #[serde(default)]
    pub(crate) end: Option<EventTime>,
    #[serde(default)]
    pub(crate) hangout_link: Option<String>,
    #[serde(default)]
    pub(crate) conference_data: Option<ConferenceData>,
}

/// An event's conference (Google Meet), as far as this crate reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConferenceData {
    #[serde(default)]
    pub(crate) create_request: Option<CreateConferenceRequest>,
    #[serde(default)]
    pub(crate) entry_points: Vec<EntryPoint>,
}

/// The request that made (or is making) the conference.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateConferenceRequest {
    #[serde(default)]
    pub(crate) status: Option<ConferenceStatus>,
}

/// `{"statusCode": "pending" | "success" | "failure"}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConferenceStatus {
    #[serde(default)]
    pub(crate) status_code: Option<String>,
}

/// One way into the conference (`video`, `phone`, `sip`, `more`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EntryPoint {
    #[serde(default)]
    pub(crate) entry_point_type: Option<String>,
    #[serde(default)]
    pub(crate) uri: Option<String>,
}

impl Event {
    /// What became of the event's Meet conference: made (its `hangoutLink`, or else its `video`
    /// entry point), still pending, failed, or never asked for (None).
    pub(crate) fn meeting(&self) -> Option<Meeting> {
        let conference = self.conference_data.as_ref();
        let status = conference
            .and_then(|c| c.create_request.as_ref())
            .and_then(|r| r.status.as_ref())
            .and_then(|s| s.status_code.as_deref());
        let video = conference.and_then(|c| {
            c.entry_points
                .iter()
                .find(|e| e.entry_point_type.as_deref() == Some("video"))
                .and_then(|e| e.uri.clone())
        });
        let link = self.hangout_link.clone().or(video).filter(|url| is_https(url));
        match (status, link) {
            (Some("pending"), _) => Some(Meeting::Pending),
            (Some("failure"), _) => Some(Meeting::Unavailable {
                reason: "Google could not make the Meet meeting for this event".into(),
            }),
            (_, Some(url)) => Some(Meeting::Ready { url }),
            (Some(_), None) => Some(Meeting::Unavailable {
                reason: "Google made the conference without a video link".into(),
            }),
            (None, None) if conference.is_some() => Some(Meeting::Unavailable {
                reason: "Google made the conference without a video link".into(),
            }),
            (None, None) => None,
        }
    }
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        && url.len() > 8
}

/// The conference request of an insert: Meet, keyed by `request_id` so that a retried insert
/// can never make a second meeting (Google ties a conference to its request id).
pub(crate) fn conference_request(request_id: &str) -> Value {
    json!({
        "createRequest": {
            "requestId": request_id,
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
        }
    })
}

/// An event's start or end: `dateTime` for timed events, `date` for all-day ones.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventTime {
    #[serde(default)]
    pub(crate) date_time: Option<String>,
    #[serde(default)]
    pub(crate) date: Option<String>,
    #[serde(default)]
    pub(crate) time_zone: Option<String>,
}

impl EventTime {
    /// The instant of a timed event's `dateTime` (with its offset).
    pub(crate) fn instant(&self) -> Option<Timestamp> {
        self.date_time.as_deref()?.parse().ok()
    }

    /// The instant this start or end stands for: a `dateTime` with its offset, one without in
    /// its `timeZone` (or, without one, `calendar_zone`), an all-day `date` at its midnight in
    /// `calendar_zone` (an all-day end date is exclusive, so that is the end of the day before).
    pub(crate) fn instant_in(&self, calendar_zone: Option<&str>) -> Option<Timestamp> {
        let zone = |name: Option<&str>| TimeZone::get(name?).ok();
        if let Some(date_time) = self.date_time.as_deref() {
            if let Ok(instant) = date_time.parse::<Timestamp>() {
                return Some(instant);
            }
            let civil: civil::DateTime = date_time.parse().ok()?;
            // A zone the event names but that cannot be read is not guessed at.
            let tz = match self.time_zone.as_deref() {
                Some(name) => zone(Some(name))?,
                None => zone(calendar_zone)?,
            };
            return tz.to_timestamp(civil).ok();
        }
        let date: civil::Date = self.date.as_deref()?.parse().ok()?;
        let tz = zone(calendar_zone).unwrap_or(TimeZone::UTC);
        tz.to_timestamp(date.to_datetime(civil::Time::midnight())).ok()
    }
}

/// A page of `GET /calendars/{id}/events`: the next page's token, or (on the last page only) the
/// sync token for the next incremental read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventsPage {
    #[serde(default)]
    pub(crate) items: Vec<ListedEvent>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
    #[serde(default)]
    pub(crate) next_sync_token: Option<String>,
    /// The calendar's zone, in which all-day dates are read.
    #[serde(default)]
    pub(crate) time_zone: Option<String>,
}

/// An event as events.list gives it; a deleted one has only `id` and `status: "cancelled"`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListedEvent {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) start: Option<EventTime>,
    #[serde(default)]
    pub(crate) end: Option<EventTime>,
}

impl ListedEvent {
    /// What the event says for two-way sync: cancelled is [`CalendarChange::Removed`], anything
    /// else at its time; None without an id, or without a usable (non-empty) time.
    pub(crate) fn change(self, calendar_zone: Option<&str>) -> Option<CalendarChange> {
        let event_id = self.id.filter(|id| !id.is_empty())?;
        if self.status.as_deref() == Some("cancelled") {
            return Some(CalendarChange::Removed { event_id });
        }
        let start = self.start.as_ref()?.instant_in(calendar_zone)?;
        let end = self.end.as_ref()?.instant_in(calendar_zone)?;
        let time = Interval::new(start, end).ok()?;
        Some(CalendarChange::At { event_id, time })
    }
}

impl Event {
    /// Whether the event shows the appointment's time (a cancelled or all-day event does not).
    pub(crate) fn holds(&self, appointment: &Appointment) -> bool {
        let instant = |t: &Option<EventTime>| t.as_ref().and_then(EventTime::instant);
        self.status.as_deref() != Some("cancelled")
            && instant(&self.start) == Some(appointment.start_time)
            && instant(&self.end) == Some(appointment.end_time)
    }
}

/// `2026-03-02T10:00:00+01:00`: the instant with the offset it has in `expert`'s zone, which
/// Google shows as written; `timeZone` beside it names the zone for recurrence and display.
fn local(instant: Timestamp, expert: &Expert) -> Value {
    let offset = expert.timezone.tz().to_offset(instant);
    json!({
        "dateTime": instant.display_with_offset(offset).to_string(),
        "timeZone": expert.timezone.name(),
    })
}

/// The event of an appointment: for an insert with `id`, for a patch without (a patch carries
/// the same fields, so a moved or renamed appointment converges to the same event).
pub(crate) fn event_resource(expert: &Expert, client: &Client, appointment: &Appointment, id: Option<&str>) -> Value {
    let mut event = json!({
        "summary": format!("Appointment with {}", client.name),
        "description": format!(
            "Booked with {} through the availability service (appointment {}).",
            expert.name, appointment.id
        ),
        "start": local(appointment.start_time, expert),
        "end": local(appointment.end_time, expert),
        "attendees": [{"email": client.email, "displayName": client.name}],
        "transparency": "opaque",
        "extendedProperties": {"private": {"appointmentId": appointment.id.to_string()}},
    });
    if let (Some(id), Some(map)) = (id, event.as_object_mut()) {
        map.insert("id".into(), json!(id));
    }
    event
}

/// The `reason`s of a Google error body (`{"error":{"errors":[{"reason":...}]}}`).
fn reasons(body: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    value
        .pointer("/error/errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e.get("reason").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `error` is Google's answer `status` (with `reason`, if given).
pub(crate) fn is_google_error(error: &ProviderHttpError, status: u16, reason: Option<&str>) -> bool {
    match error {
        ProviderHttpError::Status { status: s, body, .. } if s.as_u16() == status => {
            reason.is_none_or(|reason| reasons(body).iter().any(|r| r == reason))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_domain::{AppointmentId, AppointmentStatus, BookingPolicy, ClientId, ExpertId, SyncStatus, Zone};
    use reqwest::StatusCode;

    fn parties() -> (Expert, Client, Appointment) {
        let expert = Expert {
            id: ExpertId::new(),
            name: "Dr. Ada".into(),
            email: "ada@example.com".into(),
            timezone: Zone::new("Europe/Berlin").unwrap(),
            integration_type: crate::INTEGRATION,
            booking_policy: BookingPolicy::default(),
        };
        let client = Client {
            id: ClientId::new(),
            name: "Ann Lee".into(),
            email: "ann@example.com".into(),
            timezone: Zone::utc(),
        };
        let appointment = Appointment {
            id: AppointmentId::new(),
            expert_id: expert.id,
            client_id: client.id,
            start_time: "2026-03-02T09:00:00Z".parse().unwrap(),
            end_time: "2026-03-02T09:30:00Z".parse().unwrap(),
            status: AppointmentStatus::Confirmed,
            calendar_type: None,
            external_calendar_event_id: None,
            scheduling_url: None,
            sync_status: SyncStatus::Pending,
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: None,
            meeting_error: None,
            series_id: None,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        (expert, client, appointment)
    }

    #[test]
    fn events_carry_local_times_the_client_and_the_appointment_id() {
        let (expert, client, appointment) = parties();
        let event = event_resource(&expert, &client, &appointment, Some("abcde12345"));
        assert_eq!(event["id"], "abcde12345");
        assert_eq!(event["start"]["dateTime"], "2026-03-02T10:00:00+01:00");
        assert_eq!(event["end"]["dateTime"], "2026-03-02T10:30:00+01:00");
        assert_eq!(event["start"]["timeZone"], "Europe/Berlin");
        assert_eq!(event["attendees"][0]["email"], "ann@example.com");
        assert_eq!(event["transparency"], "opaque");
        assert_eq!(
            event["extendedProperties"]["private"]["appointmentId"],
            appointment.id.to_string()
        );
        assert!(event_resource(&expert, &client, &appointment, None).get("id").is_none());

        let read: Event = serde_json::from_value(event).unwrap();
        assert!(read.holds(&appointment));
    }

    #[test]
    fn the_meeting_is_read_from_the_conference() {
        let read = |v: Value| serde_json::from_value::<Event>(v).unwrap().meeting();
        assert_eq!(read(json!({"status": "confirmed"})), None);
        assert_eq!(
            read(json!({"conferenceData": {"createRequest": {"status": {"statusCode": "pending"}}}})),
            Some(Meeting::Pending)
        );
        assert_eq!(
            read(json!({"hangoutLink": "https://meet.google.com/abc-defg-hij",
                        "conferenceData": {"createRequest": {"status": {"statusCode": "success"}}}})),
            Some(Meeting::Ready {
                url: "https://meet.google.com/abc-defg-hij".into()
            })
        );
        // Without hangoutLink, the video entry point.
        assert_eq!(
            read(
                json!({"conferenceData": {"createRequest": {"status": {"statusCode": "success"}},
                        "entryPoints": [{"entryPointType": "phone", "uri": "tel:+1-555"},
                                        {"entryPointType": "video", "uri": "https://meet.google.com/xyz-abcd-efg"}]}})
            ),
            Some(Meeting::Ready {
                url: "https://meet.google.com/xyz-abcd-efg".into()
            })
        );
        assert!(matches!(
            read(json!({"conferenceData": {"createRequest": {"status": {"statusCode": "failure"}}}})),
            Some(Meeting::Unavailable { .. })
        ));
        assert!(matches!(
            read(json!({"hangoutLink": "javascript:alert(1)",
                        "conferenceData": {"createRequest": {"status": {"statusCode": "success"}}}})),
            Some(Meeting::Unavailable { .. })
        ));
        assert_eq!(
            conference_request("abc123")["createRequest"]["conferenceSolutionKey"]["type"],
            "hangoutsMeet"
        );
    }

    #[test]
    fn listed_events_become_changes_and_unusable_ones_are_left_out() {
        let change = |v: Value, zone: Option<&str>| serde_json::from_value::<ListedEvent>(v).unwrap().change(zone);
        let span = |a: &str, b: &str| Interval::new(a.parse().unwrap(), b.parse().unwrap()).unwrap();
        assert_eq!(
            change(json!({"id": "gone", "status": "cancelled"}), None),
            Some(CalendarChange::Removed {
                event_id: "gone".into()
            })
        );
        assert_eq!(
            change(
                json!({"id": "a", "status": "confirmed",
                       "start": {"dateTime": "2026-03-02T10:00:00+01:00", "timeZone": "Europe/Berlin"},
                       "end": {"dateTime": "2026-03-02T10:30:00+01:00", "timeZone": "Europe/Berlin"}}),
                Some("UTC")
            ),
            Some(CalendarChange::At {
                event_id: "a".into(),
                time: span("2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z")
            })
        );
        // A dateTime without an offset is read in its timeZone, else the calendar's.
        assert_eq!(
            change(
                json!({"id": "b", "start": {"dateTime": "2026-07-01T10:00:00", "timeZone": "Europe/Berlin"},
                       "end": {"dateTime": "2026-07-01T11:00:00"}}),
                Some("America/New_York")
            ),
            Some(CalendarChange::At {
                event_id: "b".into(),
                time: span("2026-07-01T08:00:00Z", "2026-07-01T15:00:00Z")
            })
        );
        // All day: whole dates in the calendar's zone (UTC without one), the end exclusive.
        assert_eq!(
            change(
                json!({"id": "c", "start": {"date": "2026-03-02"}, "end": {"date": "2026-03-04"}}),
                Some("Europe/Berlin")
            ),
            Some(CalendarChange::At {
                event_id: "c".into(),
                time: span("2026-03-01T23:00:00Z", "2026-03-03T23:00:00Z")
            })
        );
        assert_eq!(
            change(
                json!({"id": "c", "start": {"date": "2026-03-02"}, "end": {"date": "2026-03-03"}}),
                None
            ),
            Some(CalendarChange::At {
                event_id: "c".into(),
                time: span("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
            })
        );
        // Left out, never a panic: no id, no time, an unreadable or empty time, an unknown zone.
        for unusable in [
            json!({"start": {"dateTime": "2026-03-02T10:00:00Z"}, "end": {"dateTime": "2026-03-02T11:00:00Z"}}),
            json!({"id": "", "status": "cancelled"}),
            json!({"id": "d"}),
            json!({"id": "d", "status": "confirmed", "start": {"dateTime": "2026-03-02T10:00:00Z"}}),
            json!({"id": "d", "start": {"dateTime": "soon"}, "end": {"dateTime": "2026-03-02T11:00:00Z"}}),
            json!({"id": "d", "start": {"dateTime": "2026-03-02T11:00:00Z"}, "end": {"dateTime": "2026-03-02T11:00:00Z"}}),
            json!({"id": "d", "start": {"dateTime": "2026-03-02T12:00:00Z"}, "end": {"dateTime": "2026-03-02T11:00:00Z"}}),
            json!({"id": "d", "start": {"dateTime": "2026-03-02T10:00:00", "timeZone": "Mars/Base"},
                   "end": {"dateTime": "2026-03-02T11:00:00", "timeZone": "Mars/Base"}}),
            json!({"id": "d", "start": {}, "end": {}}),
        ] {
            assert_eq!(change(unusable.clone(), Some("Europe/Berlin")), None, "{unusable}");
        }
    }

    #[test]
    fn google_error_reasons() {
        let error = ProviderHttpError::Status {
            status: StatusCode::CONFLICT,
            body: r#"{"error":{"errors":[{"domain":"global","reason":"duplicate","message":"x"}],"code":409}}"#.into(),
            transient: false,
        };
        assert!(is_google_error(&error, 409, Some("duplicate")));
        assert!(is_google_error(&error, 409, None));
        assert!(!is_google_error(&error, 409, Some("deleted")));
        assert!(!is_google_error(&error, 410, None));
        assert!(!is_google_error(&ProviderHttpError::Decode("x".into()), 409, None));
    }
}

//! Google Calendar v3's JSON, in the parts this crate sends and reads (field names as in Google's
//! discovery document), and the reading of Google's error bodies.

use availability_core::Meeting;
use availability_domain::jiff::Timestamp;
use availability_domain::{Appointment, Client, Expert};
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
}

impl EventTime {
    pub(crate) fn instant(&self) -> Option<Timestamp> {
        self.date_time.as_deref()?.parse().ok()
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

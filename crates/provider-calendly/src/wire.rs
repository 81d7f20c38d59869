//! Calendly API v2 as it travels (provider-apis.md part C): the response shapes this crate reads,
//! Calendly's error body, and how instants and URIs are written.

use availability_domain::jiff::Timestamp;
use serde::Deserialize;

/// `{"resource": ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Resource<T> {
    pub(crate) resource: T,
}

/// `{"collection": [...], "pagination": {...}}` (available and busy times have no pagination).
#[derive(Debug, Deserialize)]
pub(crate) struct Collection<T> {
    pub(crate) collection: Vec<T>,
    #[serde(default)]
    pub(crate) pagination: Option<Pagination>,
}

impl<T> Collection<T> {
    /// The token of the next page, if there is one.
    pub(crate) fn next_page_token(&self) -> Option<String> {
        self.pagination
            .as_ref()
            .and_then(|p| p.next_page_token.clone())
            .filter(|t| !t.is_empty())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Pagination {
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// GET /users/me.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub(crate) uri: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) timezone: Option<String>,
    pub(crate) current_organization: String,
}

/// One of GET /event_types.
#[derive(Debug, Deserialize)]
pub(crate) struct EventType {
    pub(crate) uri: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) active: bool,
    pub(crate) duration: u32,
    #[serde(default)]
    pub(crate) scheduling_url: Option<String>,
}

/// One of GET /event_type_available_times.
#[derive(Debug, Deserialize)]
pub(crate) struct AvailableTime {
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) invitees_remaining: Option<i64>,
    pub(crate) start_time: Timestamp,
}

impl AvailableTime {
    /// Whether the time can still be booked.
    pub(crate) fn is_available(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s == "available") && self.invitees_remaining.is_none_or(|n| n > 0)
    }
}

/// One of GET /user_busy_times.
#[derive(Debug, Deserialize)]
pub(crate) struct BusyTime {
    pub(crate) start_time: Timestamp,
    pub(crate) end_time: Timestamp,
    #[serde(default)]
    pub(crate) buffered_start_time: Option<Timestamp>,
    #[serde(default)]
    pub(crate) buffered_end_time: Option<Timestamp>,
}

/// GET /scheduled_events(/{uuid}).
#[derive(Debug, Deserialize)]
pub(crate) struct ScheduledEvent {
    pub(crate) uri: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) status: String,
    pub(crate) start_time: Timestamp,
    pub(crate) end_time: Timestamp,
    #[serde(default)]
    pub(crate) event_type: Option<String>,
    #[serde(default)]
    pub(crate) event_memberships: Vec<Membership>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Membership {
    #[serde(default)]
    pub(crate) user: Option<String>,
}

/// An invitee (POST /invitees, GET .../invitees, a webhook's payload).
#[derive(Debug, Deserialize)]
pub(crate) struct Invitee {
    pub(crate) uri: String,
    pub(crate) event: String,
    #[serde(default)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) timezone: Option<String>,
    #[serde(default)]
    pub(crate) cancel_url: Option<String>,
    #[serde(default)]
    pub(crate) reschedule_url: Option<String>,
}

/// POST /scheduling_links.
#[derive(Debug, Deserialize)]
pub(crate) struct SchedulingLink {
    pub(crate) booking_url: String,
}

/// POST and GET /webhook_subscriptions.
#[derive(Debug, Deserialize)]
pub(crate) struct WebhookSubscription {
    pub(crate) uri: String,
    #[serde(default)]
    pub(crate) callback_url: String,
}

/// `{"title","message","details":[{"parameter","message","code"?}]}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) details: Vec<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub(crate) parameter: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<String>,
}

impl ErrorBody {
    /// The body of an error answer; an unreadable one is empty.
    pub(crate) fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_default()
    }

    /// Whether a detail carries `code`.
    pub(crate) fn has_code(&self, code: &str) -> bool {
        self.details.iter().any(|d| d.code.as_deref() == Some(code))
    }

    /// Whether a detail is about `parameter`.
    pub(crate) fn is_about(&self, parameter: &str) -> bool {
        self.details.iter().any(|d| d.parameter.as_deref() == Some(parameter))
    }

    /// The most specific message: the first detail's, else the top-level one.
    pub(crate) fn reason(&self) -> String {
        self.details
            .iter()
            .find_map(|d| d.message.clone())
            .or_else(|| self.message.clone())
            .unwrap_or_default()
    }
}

/// An instant as Calendly's query parameters and bodies take it: RFC 3339 in UTC.
pub(crate) fn time(ts: Timestamp) -> String {
    ts.to_string()
}

/// `ts` rounded up to a whole second (a start time must never fall before what was meant).
pub(crate) fn ceil_second(ts: Timestamp) -> Timestamp {
    if ts.subsec_nanosecond() <= 0 {
        return ts;
    }
    Timestamp::from_second(ts.as_second().saturating_add(1)).unwrap_or(ts)
}

/// The uuid at the end of a Calendly URI (`…/scheduled_events/<uuid>`), if it is a plain path
/// segment (so that it can be put into a request path without changing where the request goes).
pub(crate) fn uuid_of(uri: &str) -> Option<&str> {
    let last = uri.trim_end_matches('/').rsplit('/').next()?;
    safe_segment(last).then_some(last)
}

/// The scheduled event's uuid of an invitee URI: `…/scheduled_events/E/invitees/I` -> `E`.
pub(crate) fn event_uuid_of_invitee(invitee_uri: &str) -> Option<&str> {
    let mut parts = invitee_uri.trim_end_matches('/').rsplit('/');
    let invitee = parts.next()?;
    let invitees = parts.next()?;
    let event = parts.next()?;
    let scheduled_events = parts.next()?;
    (safe_segment(invitee) && invitees == "invitees" && scheduled_events == "scheduled_events" && safe_segment(event))
        .then_some(event)
}

fn safe_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 128
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_come_from_the_end_of_uris() {
        assert_eq!(
            event_uuid_of_invitee("https://api.calendly.com/scheduled_events/E-1/invitees/I_2"),
            Some("E-1")
        );
        assert_eq!(
            event_uuid_of_invitee("https://api.calendly.com/scheduled_events/E/x/I"),
            None
        );
        assert_eq!(
            event_uuid_of_invitee("https://api.calendly.com/scheduled_events/../invitees/I"),
            None
        );
        assert_eq!(event_uuid_of_invitee("I"), None);
        assert_eq!(uuid_of("https://api.calendly.com/scheduled_events/abc"), Some("abc"));
        assert_eq!(uuid_of("https://api.calendly.com/scheduled_events/a?b"), None);
        assert_eq!(uuid_of(""), None);
    }

    #[test]
    fn times_are_written_in_utc_and_rounded_up() {
        let ts: Timestamp = "2026-03-02T09:00:00.25Z".parse().unwrap_or_default();
        assert_eq!(time(ceil_second(ts)), "2026-03-02T09:00:01Z");
        let whole: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap_or_default();
        assert_eq!(ceil_second(whole), whole);
    }

    #[test]
    fn error_bodies() {
        let body = ErrorBody::parse(
            r#"{"title":"Invalid Argument","message":"The supplied parameters are invalid.","details":[{"parameter":"start_time","message":"This time slot is no longer available.","code":"already_filled"}]}"#,
        );
        assert!(body.has_code("already_filled"));
        assert!(body.is_about("start_time"));
        assert_eq!(body.reason(), "This time slot is no longer available.");
        assert_eq!(ErrorBody::parse("not json").reason(), "");
    }
}

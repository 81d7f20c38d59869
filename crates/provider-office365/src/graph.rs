//! The Microsoft Graph calls this crate makes, each one through the platform's policy with the
//! expert's bearer token (refreshed once on a 401) and a place in the per-mailbox limit.

use std::fmt;

use availability_core::CoreError;
use availability_domain::{ExpertId, Interval, Secret};
use provider_http::{AccountLimiter, HttpPolicy, ProviderHttpError, Reply, SendOptions, TokenManager};
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::settings::Office365Account;
use crate::time::{ceil_second, floor_second, DateTimeTimeZone};
use crate::working_hours::WorkingHours;
use crate::INTEGRATION;

/// Every call asks for UTC, so that date-times come back as UTC civil times (gotcha 4).
pub(crate) const PREFER_UTC: &str = "outlook.timezone=\"UTC\"";

/// Events per calendarView page (Graph's default is 10).
const PAGE_SIZE: &str = "250";

/// A runaway chain of `@odata.nextLink`s ends here (250 × 200 = 50,000 events in one chunk).
const MAX_PAGES: usize = 200;

/// The fields of an event this crate reads.
const EVENT_FIELDS: &str = "id,start,end,showAs,isCancelled,isAllDay,transactionId";

/// An event as far as this crate reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphEvent {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) start: Option<DateTimeTimeZone>,
    #[serde(default)]
    pub(crate) end: Option<DateTimeTimeZone>,
    #[serde(default)]
    pub(crate) show_as: Option<String>,
    #[serde(default)]
    pub(crate) is_cancelled: Option<bool>,
    #[serde(default)]
    pub(crate) is_all_day: Option<bool>,
    #[serde(default)]
    pub(crate) transaction_id: Option<String>,
    #[serde(default)]
    pub(crate) online_meeting: Option<OnlineMeetingInfo>,
}

/// An event's online meeting: where to join.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OnlineMeetingInfo {
    #[serde(default)]
    pub(crate) join_url: Option<String>,
}

impl GraphEvent {
    /// The Teams join link, when the event has an online meeting with an https link.
    pub(crate) fn join_url(&self) -> Option<String> {
        self.online_meeting
            .as_ref()
            .and_then(|m| m.join_url.clone())
            .filter(|url| url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) && url.len() > 8)
    }
}

/// One calendar of `GET /me/calendars`, as far as the meeting check reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphCalendar {
    #[serde(default)]
    pub(crate) is_default_calendar: Option<bool>,
    #[serde(default)]
    pub(crate) allowed_online_meeting_providers: Vec<String>,
}

#[derive(Deserialize)]
struct CalendarPage {
    #[serde(default)]
    value: Vec<GraphCalendar>,
}

#[derive(Deserialize)]
struct EventPage {
    #[serde(default)]
    value: Vec<GraphEvent>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// One entry of getSchedule's `scheduleItems`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ScheduleItem {
    #[serde(default)]
    pub(crate) status: Option<String>,
    pub(crate) start: DateTimeTimeZone,
    pub(crate) end: DateTimeTimeZone,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleInformation {
    #[serde(default)]
    schedule_id: Option<String>,
    #[serde(default)]
    schedule_items: Vec<ScheduleItem>,
    #[serde(default)]
    working_hours: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ScheduleResponse {
    #[serde(default)]
    value: Vec<ScheduleInformation>,
}

/// What getSchedule said about one chunk.
#[derive(Debug)]
pub(crate) enum ScheduleAnswer {
    /// The mailbox's items, and its working hours if it reported them.
    Items {
        items: Vec<ScheduleItem>,
        working_hours: Option<WorkingHours>,
    },
    /// getSchedule is not available for this mailbox (a personal account, an address it cannot
    /// resolve): calendarView gives the same busy time.
    Unavailable(String),
}

/// The Graph client of one strategy.
pub(crate) struct Graph {
    base: Url,
    client: reqwest::Client,
    policy: HttpPolicy,
    pub(crate) tokens: TokenManager,
    limiter: AccountLimiter,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("base", &self.base.as_str())
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

pub(crate) fn core(error: ProviderHttpError) -> CoreError {
    error.into_core(INTEGRATION)
}

pub(crate) fn unusable(message: impl Into<String>) -> CoreError {
    CoreError::ProviderResponse {
        integration: INTEGRATION,
        message: message.into(),
    }
}

/// Graph's error code (`{"error":{"code":"ErrorItemNotFound",...}}`) of an error status.
fn error_code(error: &ProviderHttpError) -> Option<String> {
    match error {
        ProviderHttpError::Status { body, .. } => serde_json::from_str::<Value>(body)
            .ok()?
            .pointer("/error/code")?
            .as_str()
            .map(str::to_owned),
        _ => None,
    }
}

impl Graph {
    pub(crate) fn new(
        base: Url,
        client: reqwest::Client,
        policy: HttpPolicy,
        tokens: TokenManager,
        limiter: AccountLimiter,
    ) -> Self {
        Graph {
            base,
            client,
            policy,
            tokens,
            limiter,
        }
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub(crate) fn policy(&self) -> &HttpPolicy {
        &self.policy
    }

    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// `{base}/seg/seg/...`, every segment percent-encoded (event ids may hold `/` or `+`).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    /// Sends with the expert's token, in the expert's place of the mailbox limit. `idempotent`
    /// overrides the method's default (POSTs that only read, or carry a transactionId).
    pub(crate) async fn send<F>(
        &self,
        expert: ExpertId,
        idempotent: Option<bool>,
        build: F,
    ) -> Result<Reply, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder,
    {
        // Keyed by the expert: the key must be known before the first call (GET /me, which tells
        // the mailbox), and an expert connects exactly one mailbox.
        let key = expert.to_string();
        let mut options = SendOptions::new().with_limiter(&self.limiter, &key);
        if let Some(idempotent) = idempotent {
            options = options.idempotent(idempotent);
        }
        self.tokens.send_authorized(expert, &self.policy, &options, build).await
    }

    /// GET /me with the expert's stored grant.
    pub(crate) async fn me(&self, expert: ExpertId) -> Result<Office365Account, CoreError> {
        let url = self.url(&["me"]);
        let reply = self
            .send(expert, None, || self.client.get(url.clone()))
            .await
            .map_err(core)?;
        read_account(&reply)
    }

    /// POST /me/calendar/getSchedule for one chunk (under 62 days) of the mailbox.
    pub(crate) async fn get_schedule(
        &self,
        expert: ExpertId,
        mailbox: &str,
        chunk: Interval,
    ) -> Result<ScheduleAnswer, CoreError> {
        let url = self.url(&["me", "calendar", "getSchedule"]);
        let body = serde_json::json!({
            "schedules": [mailbox],
            "startTime": DateTimeTimeZone::utc(floor_second(chunk.start())),
            "endTime": DateTimeTimeZone::utc(ceil_second(chunk.end())),
            "availabilityViewInterval": 60,
        });
        // getSchedule only reads: repeating it is harmless.
        let reply = self
            .send(expert, Some(true), || {
                self.client.post(url.clone()).header("Prefer", PREFER_UTC).json(&body)
            })
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => return schedule_failure(error),
        };
        let response: ScheduleResponse = reply.json().map_err(core)?;
        let info = response
            .value
            .iter()
            .position(|s| {
                s.schedule_id
                    .as_deref()
                    .is_some_and(|id| id.eq_ignore_ascii_case(mailbox))
            })
            .or(if response.value.len() == 1 { Some(0) } else { None })
            .and_then(|i| response.value.into_iter().nth(i))
            .ok_or_else(|| unusable("getSchedule's answer has no schedule for the mailbox"))?;
        if let Some(error) = info.error {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("no message");
            let code = error.get("responseCode").and_then(Value::as_str).unwrap_or("?");
            return Ok(ScheduleAnswer::Unavailable(format!(
                "getSchedule reported an error for the mailbox ({code}: {message})"
            )));
        }
        let working_hours = match info.working_hours {
            None | Some(Value::Null) => None,
            Some(value) => serde_json::from_value(value).ok(),
        };
        Ok(ScheduleAnswer::Items {
            items: info.schedule_items,
            working_hours,
        })
    }

    /// GET /me/calendarView over one chunk, every page (`@odata.nextLink`) followed.
    pub(crate) async fn calendar_view(&self, expert: ExpertId, chunk: Interval) -> Result<Vec<GraphEvent>, CoreError> {
        let mut url = self.url(&["me", "calendarView"]);
        url.query_pairs_mut()
            .append_pair("startDateTime", &floor_second(chunk.start()).to_string())
            .append_pair("endDateTime", &ceil_second(chunk.end()).to_string())
            .append_pair("$top", PAGE_SIZE)
            .append_pair("$select", EVENT_FIELDS);
        let mut events = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self
                .send(expert, None, || {
                    self.client.get(url.clone()).header("Prefer", PREFER_UTC)
                })
                .await
                .map_err(core)?;
            let page: EventPage = reply.json().map_err(core)?;
            events.extend(page.value);
            match page.next_link {
                None => return Ok(events),
                Some(next) => url = self.next_link(&next)?,
            }
        }
        Err(unusable(format!("calendarView kept paging past {MAX_PAGES} pages")))
    }

    /// A nextLink is followed with the expert's token only if it points where Graph lives.
    pub(crate) fn next_link(&self, next: &str) -> Result<Url, CoreError> {
        let url = Url::parse(next).map_err(|_| unusable("calendarView's @odata.nextLink is not a URL"))?;
        if url.origin() != self.base.origin() {
            return Err(unusable(format!(
                "calendarView's @odata.nextLink points to {}, not to Microsoft Graph",
                url.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    /// POST /me/events. Graph returns the event made first when the transactionId was used
    /// before, so a retry after a lost answer makes no second event.
    pub(crate) async fn create_event(&self, expert: ExpertId, body: &Value) -> Result<GraphEvent, CoreError> {
        let url = self.url(&["me", "events"]);
        let reply = self
            .send(expert, Some(true), || {
                self.client.post(url.clone()).header("Prefer", PREFER_UTC).json(body)
            })
            .await
            .map_err(core)?;
        reply.json().map_err(core)
    }

    /// PATCH /me/events/{id}; `None` when the event is gone (404/410).
    pub(crate) async fn patch_event(
        &self,
        expert: ExpertId,
        id: &str,
        body: &Value,
    ) -> Result<Option<GraphEvent>, CoreError> {
        let url = self.url(&["me", "events", id]);
        // The patch sets absolute values: sending it twice leaves the same event.
        let reply = self
            .send(expert, Some(true), || {
                self.client.patch(url.clone()).header("Prefer", PREFER_UTC).json(body)
            })
            .await;
        match reply {
            Ok(reply) => reply.json().map(Some).map_err(core),
            Err(error) if is_gone(&error) => Ok(None),
            Err(error) => Err(core(error)),
        }
    }

    /// GET /me/events/{id}; `None` when the event is gone (404/410).
    pub(crate) async fn get_event(&self, expert: ExpertId, id: &str) -> Result<Option<GraphEvent>, CoreError> {
        let url = self.url(&["me", "events", id]);
        match self
            .send(expert, None, || {
                self.client.get(url.clone()).header("Prefer", PREFER_UTC)
            })
            .await
        {
            Ok(reply) => reply.json().map(Some).map_err(core),
            Err(error) if is_gone(&error) => Ok(None),
            Err(error) => Err(core(error)),
        }
    }

    /// GET /me/calendars: the default calendar (where events go), for the online meeting
    /// providers it offers.
    pub(crate) async fn default_calendar(&self, expert: ExpertId) -> Result<Option<GraphCalendar>, CoreError> {
        let url = self.url(&["me", "calendars"]);
        let reply = self
            .send(expert, None, || self.client.get(url.clone()))
            .await
            .map_err(core)?;
        let page: CalendarPage = reply.json().map_err(core)?;
        Ok(page.value.into_iter().find(|c| c.is_default_calendar == Some(true)))
    }

    /// DELETE /me/events/{id}; an event already gone (404/410) is success.
    pub(crate) async fn delete_event(&self, expert: ExpertId, id: &str) -> Result<(), CoreError> {
        let url = self.url(&["me", "events", id]);
        match self.send(expert, None, || self.client.delete(url.clone())).await {
            Ok(_) => Ok(()),
            Err(error) if is_gone(&error) => Ok(()),
            Err(error) => Err(core(error)),
        }
    }
}

pub(crate) fn is_gone(error: &ProviderHttpError) -> bool {
    matches!(error.status(), Some(StatusCode::NOT_FOUND | StatusCode::GONE))
}

/// How getSchedule fails where it is not available. Not documented word for word: provider-apis.md
/// says only that it is not available for personal accounts (the fake answers 400
/// ErrorInvalidUser). Any refusal that is not about the token, throttling or our window is taken
/// as "not available here": for one's own mailbox calendarView is an exact substitute, and the
/// fallback is only remembered once calendarView has answered.
fn schedule_failure(error: ProviderHttpError) -> Result<ScheduleAnswer, CoreError> {
    let refused = matches!(
        error.status(),
        Some(
            StatusCode::BAD_REQUEST
                | StatusCode::FORBIDDEN
                | StatusCode::NOT_FOUND
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::NOT_IMPLEMENTED
        )
    );
    let code = error_code(&error);
    if refused && code.as_deref() != Some("ErrorTimeIntervalTooBig") {
        let status = error.status().map_or(0, |s| s.as_u16());
        return Ok(ScheduleAnswer::Unavailable(format!(
            "getSchedule answered {status} {}",
            code.as_deref().unwrap_or("without an error code")
        )));
    }
    Err(core(error))
}

fn read_account(reply: &Reply) -> Result<Office365Account, CoreError> {
    let me: Value = reply.json().map_err(core)?;
    Office365Account::from_me(&me).ok_or_else(|| unusable("GET /me names neither mail nor userPrincipalName"))
}

fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// GET /me with an access token that is not stored yet (the OAuth callback's).
pub(crate) async fn me_with_token(
    base: &Url,
    client: &reqwest::Client,
    policy: &HttpPolicy,
    access_token: &Secret<String>,
) -> Result<Office365Account, CoreError> {
    let url = endpoint(base, &["me"]);
    let reply = policy
        .send(&SendOptions::new(), || {
            client.get(url.clone()).bearer_auth(access_token.expose())
        })
        .await
        .map_err(|error| {
            // The token is the caller's only copy of the grant: never echo it.
            let core = core(error);
            scrub(core, access_token.expose())
        })?;
    read_account(&reply)
}

fn scrub(error: CoreError, secret: &str) -> CoreError {
    let clean = |message: String| message.replace(secret, "[redacted]");
    match error {
        CoreError::ProviderUnavailable { integration, message } => CoreError::ProviderUnavailable {
            integration,
            message: clean(message),
        },
        CoreError::ProviderResponse { integration, message } => CoreError::ProviderResponse {
            integration,
            message: clean(message),
        },
        CoreError::NeedsReauth { integration, message } => CoreError::NeedsReauth {
            integration,
            message: clean(message),
        },
        other => other,
    }
}

/// The event's `[start, end)`, if both are present and readable.
pub(crate) fn event_interval(event: &GraphEvent) -> Result<Option<Interval>, CoreError> {
    let (Some(start), Some(end)) = (&event.start, &event.end) else {
        return Ok(None);
    };
    crate::time::interval(start, end).map_err(unusable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_one_path_segment() {
        let base = Url::parse("https://graph.microsoft.com/v1.0").unwrap();
        let url = endpoint(&base, &["me", "events", "AAMk/AG+I2=="]);
        assert_eq!(
            url.as_str(),
            "https://graph.microsoft.com/v1.0/me/events/AAMk%2FAG+I2=="
        );
        let base = Url::parse("http://127.0.0.1:9/v1.0/").unwrap();
        assert_eq!(endpoint(&base, &["me"]).as_str(), "http://127.0.0.1:9/v1.0/me");
    }

    #[test]
    fn schedule_refusals_fall_back_but_throttling_does_not() {
        let status = |code: u16, body: &str, transient: bool| ProviderHttpError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            body: body.into(),
            transient,
        };
        let invalid_user = r#"{"error":{"code":"ErrorInvalidUser","message":"x"}}"#;
        assert!(matches!(
            schedule_failure(status(400, invalid_user, false)),
            Ok(ScheduleAnswer::Unavailable(_))
        ));
        let too_big = r#"{"error":{"code":"ErrorTimeIntervalTooBig","message":"x"}}"#;
        assert!(matches!(
            schedule_failure(status(400, too_big, false)),
            Err(CoreError::ProviderResponse { .. })
        ));
        assert!(matches!(
            schedule_failure(status(429, "{}", true)),
            Err(CoreError::ProviderUnavailable { .. })
        ));
        assert!(matches!(
            schedule_failure(status(503, "{}", true)),
            Err(CoreError::ProviderUnavailable { .. })
        ));
    }
}

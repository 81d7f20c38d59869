//! A fake of the Microsoft identity platform and Microsoft Graph (provider-apis.md part B): /me,
//! calendars, getSchedule, calendarView and events, with Graph's error bodies, throttling (429 with
//! Retry-After) and Outlook's limit of 4 concurrent requests per mailbox.

mod mailbox;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use jiff::tz::TimeZone;
use serde_json::{json, Value};

use crate::harness::{self, lock, segments, Harness, Listener, Params};
use crate::oauth::{harness_controls, oauth_controls, AuthFailure, Flavor, OAuthServer};
use crate::time;
use crate::FakeError;

use mailbox::Mailbox;

/// The scopes this project asks Microsoft for.
pub const SCOPES: &str = "offline_access Calendars.ReadWrite User.Read";

const API_PREFIX: &str = "/v1.0";
const TENANT: &str = "common";

#[derive(Debug)]
struct Inner {
    harness: Harness,
    oauth: OAuthServer,
    mailbox: Mutex<Mailbox>,
    throttles: Mutex<VecDeque<u64>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    concurrency_limit: AtomicUsize,
    unavailable: AtomicBool,
}

/// The Microsoft fake: one work account with one mailbox. Cheap to clone; the server stops when
/// the last clone is dropped.
#[derive(Debug, Clone)]
pub struct FakeGraph {
    inner: Arc<Inner>,
    listener: Arc<Listener>,
}

impl FakeGraph {
    /// Starts the fake on 127.0.0.1 with a free port: a work account (`expert@contoso.example`)
    /// with an empty default calendar.
    ///
    /// # Panics
    /// When nothing can listen on the loopback interface; use [`FakeGraph::try_start`] to handle it.
    #[allow(clippy::panic)] // A test fixture that cannot listen has nothing to return but the reason.
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(fake) => fake,
            Err(err) => panic!("FakeGraph: {err}"),
        }
    }

    /// Starts the fake, or says why it cannot listen.
    pub async fn try_start() -> Result<Self, FakeError> {
        let inner = Arc::new(Inner {
            harness: Harness::default(),
            oauth: OAuthServer::new(
                Flavor::Microsoft,
                "00000000-fake-4000-8000-client000001",
                "fake-ms-secret",
            ),
            mailbox: Mutex::new(Mailbox::new()),
            throttles: Mutex::new(VecDeque::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            concurrency_limit: AtomicUsize::new(4),
            unavailable: AtomicBool::new(false),
        });
        let listener = harness::spawn(inner.clone(), entry)?;
        Ok(FakeGraph {
            inner,
            listener: Arc::new(listener),
        })
    }

    /// MS_AUTH_URL: `…/common/oauth2/v2.0/authorize` (any tenant segment is accepted).
    pub fn auth_url(&self) -> String {
        format!("{}/{TENANT}/oauth2/v2.0/authorize", self.listener.base_url)
    }

    /// MS_TOKEN_URL: `…/common/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/{TENANT}/oauth2/v2.0/token", self.listener.base_url)
    }

    /// MS_GRAPH_BASE: `…/v1.0`.
    pub fn graph_base(&self) -> String {
        format!("{}{API_PREFIX}", self.listener.base_url)
    }

    oauth_controls!();
    harness_controls!();

    /// The next `n` Graph calls answer 429 TooManyRequests with `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        lock(&self.inner.throttles).extend(std::iter::repeat_n(retry_after_secs, n));
    }

    /// While `true`, every Graph call answers 503 ServiceNotAvailable (the identity platform still
    /// answers): Graph is down until this is set back to `false`. Unlike `fail_next`, it can be
    /// undone, which a test that heals the provider needs.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.inner.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// The most Graph requests that were in flight at once (refused ones included).
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many concurrent requests the mailbox allows before answering 429 (default 4, as Outlook).
    pub fn set_concurrency_limit(&self, limit: usize) {
        self.inner.concurrency_limit.store(limit, Ordering::SeqCst);
    }

    /// The online meeting providers the account's calendars offer (`allowedOnlineMeetingProviders`,
    /// e.g. `teamsForBusiness`, `skypeForConsumer`): an event asking for a provider not among
    /// them is made without an online meeting.
    pub fn set_online_meeting_providers(&self, providers: &[&str]) {
        lock(&self.inner.mailbox).meeting_providers = providers.iter().map(|p| (*p).to_owned()).collect();
    }

    /// The join URL of every online meeting made so far, in order.
    pub fn online_meetings(&self) -> Vec<String> {
        lock(&self.inner.mailbox).meetings.clone()
    }

    /// A personal Microsoft account: /me gets a 16-hex-digit id and getSchedule fails; its
    /// calendars offer Skype (consumer) meetings only, no Teams.
    pub fn set_personal_account(&self, personal: bool) {
        lock(&self.inner.mailbox).set_personal(personal);
    }

    /// The signed-in user's display name and address (mail and userPrincipalName).
    pub fn set_user(&self, display_name: &str, address: &str) {
        lock(&self.inner.mailbox).set_user(display_name, address);
    }

    /// The user's address, as GET /me reports it.
    pub fn user_address(&self) -> String {
        lock(&self.inner.mailbox).address()
    }

    /// getSchedule's workingHours object, e.g. `{"daysOfWeek":["monday"],"startTime":"08:00:00.0000000",
    /// "endTime":"17:00:00.0000000","timeZone":{"name":"Pacific Standard Time"}}`.
    pub fn set_working_hours(&self, working_hours: Value) {
        lock(&self.inner.mailbox).working_hours = working_hours;
    }

    /// Adds a calendar to GET /me/calendars (events always go to the default calendar).
    pub fn add_calendar(&self, name: &str, is_default: bool) -> String {
        lock(&self.inner.mailbox).add_calendar(name, is_default)
    }

    /// Stores an event as POST /me/events would (start/end as `{dateTime, timeZone}`, Windows or
    /// IANA names); `showAs`, `isCancelled`, `isAllDay` and `isOrganizer` are honoured. Returns its id.
    pub fn seed_event(&self, event: Value) -> Result<String, FakeError> {
        let Value::Object(event) = event else {
            return Err(FakeError::InvalidSeed("an event is a JSON object".into()));
        };
        lock(&self.inner.mailbox)
            .create(event, true)
            .map(|(id, _)| id)
            .map_err(|e| FakeError::InvalidSeed(e.message))
    }

    /// An event with `showAs: status` from `start` to `end` (RFC 3339), as getSchedule and
    /// calendarView both report it.
    pub fn seed_schedule_item(&self, status: &str, start: &str, end: &str) -> Result<String, FakeError> {
        let utc = |value: &str| time::instant(value).map(|ts| time::graph(ts, &TimeZone::UTC));
        self.seed_event(json!({
            "subject": status,
            "showAs": status,
            "start": {"dateTime": utc(start)?, "timeZone": "UTC"},
            "end": {"dateTime": utc(end)?, "timeZone": "UTC"},
        }))
    }

    /// The mailbox's events (deleted ones left out), times in UTC.
    pub fn events(&self) -> Vec<Value> {
        lock(&self.inner.mailbox).live_events(&TimeZone::UTC, "UTC")
    }
}

/// Graph's JSON error: `{"error":{"code","message","innerError":{...}}}`.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl GraphError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn not_found() -> Self {
        GraphError::new(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        )
    }

    pub(crate) fn response(&self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status).json(json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": jiff::Timestamp::now().to_string(),
                    "request-id": uuid::Uuid::new_v4().to_string(),
                    "client-request-id": uuid::Uuid::new_v4().to_string(),
                },
            }
        }))
    }

    fn too_many_requests(retry_after: u64, message: &str) -> HttpResponse {
        let mut response = GraphError::new(429, "TooManyRequests", message).response();
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&retry_after.to_string()) {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        response
    }

    fn for_status(status: u16) -> Self {
        match status {
            404 => GraphError::not_found(),
            503 => GraphError::new(503, "ServiceNotAvailable", "The service is temporarily unavailable."),
            500..=599 => GraphError::new(status, "generalException", "An internal server error occurred."),
            _ => GraphError::new(status, "BadRequest", "The request failed."),
        }
    }
}

/// Counts a Graph request as in flight for as long as it lives.
struct InFlight<'a>(&'a Inner);

impl<'a> InFlight<'a> {
    fn enter(inner: &'a Inner) -> (Self, usize) {
        let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        (InFlight(inner), now)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn entry(req: HttpRequest, body: Bytes, inner: web::Data<Inner>) -> HttpResponse {
    let path = req.path().to_owned();
    let method = req.method().as_str().to_owned();
    // Identity endpoints: /{tenant}/oauth2/v2.0/authorize|token, for any tenant.
    let identity = segments(&path, "").and_then(|segs| match segs.as_slice() {
        [_tenant, oauth2, version, endpoint] if oauth2 == "oauth2" && version == "v2.0" => Some(endpoint.clone()),
        _ => None,
    });
    let graph_call = identity.is_none() && segments(&path, API_PREFIX).is_some();
    // The mailbox limit counts Graph calls only; the identity platform is another service.
    let in_flight = graph_call.then(|| InFlight::enter(&inner));
    let authorize = identity.as_deref() == Some("authorize");
    if let Some(status) = inner.harness.admit(&req, &body, !authorize).await {
        return GraphError::for_status(status).response();
    }
    match (method.as_str(), identity.as_deref()) {
        ("GET", Some("authorize")) => return inner.oauth.authorize(req.query_string()),
        ("POST", Some("token")) => return inner.oauth.token(&req, &body),
        (_, Some(_)) => return GraphError::new(404, "NotFound", "Not found").response(),
        _ => {}
    }
    if inner.unavailable.load(Ordering::SeqCst) {
        return GraphError::for_status(503).response();
    }
    if let Some((_, concurrent)) = &in_flight {
        if *concurrent > inner.concurrency_limit.load(Ordering::SeqCst) {
            // Not documented which Retry-After Outlook sends for the concurrency limit: 1 second.
            return GraphError::too_many_requests(1, "Application is over its MailboxConcurrency limit.");
        }
    }
    let segs = segments(&path, API_PREFIX).unwrap_or_default();
    api(&inner, &req, &method, &segs, &body).unwrap_or_else(|e| e.response())
}

fn api(
    inner: &Inner,
    req: &HttpRequest,
    method: &str,
    segs: &[String],
    body: &[u8],
) -> Result<HttpResponse, GraphError> {
    inner.oauth.authenticate(req).map_err(|failure| {
        let message = match failure {
            AuthFailure::Missing => "Access token is empty.",
            AuthFailure::Invalid => "IDX14100: JWT is not well formed, there are no dots (.).",
            AuthFailure::Expired => "Lifetime validation failed, the token is expired.",
        };
        GraphError::new(401, "InvalidAuthenticationToken", message)
    })?;
    if let Some(retry_after) = lock(&inner.throttles).pop_front() {
        return Ok(GraphError::too_many_requests(
            retry_after,
            "Too many requests, retry later.",
        ));
    }
    let (tz, tz_name) = preferred_zone(req);
    let query = Params::parse(req.query_string());
    let object = || {
        harness::json_object(body)
            .ok_or_else(|| GraphError::new(400, "BadRequest", "Unable to read JSON request payload."))
    };
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let mut mailbox = lock(&inner.mailbox);
    match (method, segs.as_slice()) {
        ("GET", ["me"]) => Ok(HttpResponse::Ok().json(mailbox.me())),
        ("GET", ["me", "calendars"]) => Ok(HttpResponse::Ok().json(mailbox.calendars())),
        ("POST", ["me", "calendar", "getSchedule"]) => {
            Ok(HttpResponse::Ok().json(mailbox.get_schedule(&object()?, &tz, &tz_name)?))
        }
        ("GET", ["me", "calendarView"]) => {
            let next_base = format!("{}{}", base_of(req), req.path());
            Ok(HttpResponse::Ok().json(mailbox.calendar_view(&query, &tz, &tz_name, &next_base)?))
        }
        ("POST", ["me", "events"]) => {
            let (id, _) = mailbox.create(object()?, false)?;
            Ok(HttpResponse::Created().json(mailbox.render(&id, &tz, &tz_name)?))
        }
        ("GET", ["me", "events", id]) => Ok(HttpResponse::Ok().json(mailbox.render(id, &tz, &tz_name)?)),
        ("PATCH", ["me", "events", id]) => {
            mailbox.update(id, object()?)?;
            Ok(HttpResponse::Ok().json(mailbox.render(id, &tz, &tz_name)?))
        }
        ("DELETE", ["me", "events", id]) => {
            mailbox.delete(id)?;
            Ok(HttpResponse::NoContent().finish())
        }
        ("POST", ["me", "events", id, "cancel"]) => {
            mailbox.cancel(id)?;
            Ok(HttpResponse::Accepted().finish())
        }
        _ => Err(GraphError::new(
            400,
            "BadRequest",
            "Resource not found for the segment.",
        )),
    }
}

/// The zone of `Prefer: outlook.timezone="..."`, UTC when absent or unknown.
fn preferred_zone(req: &HttpRequest) -> (TimeZone, String) {
    let preferred = req
        .headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix("outlook.timezone="))
        .map(|v| v.trim_matches('"').to_owned())
        .next();
    match preferred.and_then(|name| time::graph_zone(&name).map(|tz| (tz, name))) {
        Some(found) => found,
        None => (TimeZone::UTC, "UTC".to_owned()),
    }
}

fn base_of(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

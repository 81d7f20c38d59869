//! A fake of the Microsoft identity platform and Microsoft Graph (provider-apis.md part B): /me,
//! calendars, getSchedule, calendarView, the calendar view's delta query (`$skiptoken` paging,
//! `$deltatoken` rounds, 410 syncStateNotFound) and events, change notification subscriptions on
//! `me/events` (with Graph's validation handshake; the notifications are sent by test controls),
//! with Graph's error bodies, throttling (429 with Retry-After) and Outlook's limit of 4
//! concurrent requests per mailbox.

mod delta;
mod mailbox;
mod subscriptions;
#[cfg(test)]
mod tests;

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
use subscriptions::Subscriptions;

pub use subscriptions::GraphSubscription;

/// The scopes this project asks Microsoft for.
pub const SCOPES: &str = "offline_access Calendars.ReadWrite User.Read";

/// The tenant id change and lifecycle notifications carry (`tenantId`).
pub const TENANT_ID: &str = "00000000-0000-4000-8000-0000000fa4e0";

const API_PREFIX: &str = "/v1.0";
const TENANT: &str = "common";

#[derive(Debug)]
struct Inner {
    harness: Harness,
    oauth: OAuthServer,
    mailbox: Mutex<Mailbox>,
    /// Change notification subscriptions. Never locked together with `mailbox`.
    subscriptions: Mutex<Subscriptions>,
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
            subscriptions: Mutex::new(Subscriptions::default()),
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

    /// The user deletes the event in Outlook: a change the next delta round reports as
    /// `@removed`. An unknown id is [`FakeError::Unknown`]; a deleted event cannot be deleted again.
    pub fn delete_event(&self, id: &str) -> Result<(), FakeError> {
        lock(&self.inner.mailbox).delete_by_user(id)
    }

    /// The user moves the event in Outlook to `start`..`end` (RFC 3339): a change the next delta
    /// round reports with the new times, or as `@removed` when it left the round's window. An
    /// unknown id is [`FakeError::Unknown`]; a deleted event cannot be moved.
    pub fn move_event(&self, id: &str, start: &str, end: &str) -> Result<(), FakeError> {
        lock(&self.inner.mailbox).move_by_user(id, start, end)
    }

    /// Delta and skip tokens handed out so far answer 410 syncStateNotFound.
    pub fn invalidate_delta_tokens(&self) {
        lock(&self.inner.mailbox).invalidate_delta_tokens();
    }

    /// Every subscription `POST /subscriptions` made, in order, deleted and expired ones included
    /// (a refused handshake makes none).
    pub fn subscriptions(&self) -> Vec<GraphSubscription> {
        lock(&self.inner.subscriptions).all()
    }

    /// The subscription expires now: PATCH answers 404 and notifications skip it, as for one that
    /// ran out (a renewal came too late). An unknown id does nothing.
    pub fn expire_subscription(&self, id: &str) {
        lock(&self.inner.subscriptions).expire(id);
    }

    /// Tells every live, unexpired subscription whose `changeType` includes `change_type`
    /// (`created`, `updated` or `deleted`) that the event changed, as Graph does: a JSON POST to
    /// its notificationUrl, `{"value":[{"subscriptionId", "subscriptionExpirationDateTime",
    /// "changeType", "resource": "Users/{userId}/Events/{id}", "resourceData": {"@odata.type":
    /// "#Microsoft.Graph.Event", "@odata.id", "@odata.etag", "id"}, "clientState" (when the
    /// subscription has one), "tenantId"}]}`. Answers each subscription's id with the status the
    /// receiver answered (0 when no answer arrived). The fake never sends on its own: tests call
    /// this after changing events.
    pub async fn notify(&self, change_type: &str, event_id: &str) -> Vec<(String, u16)> {
        let (user_id, etag) = {
            let mailbox = lock(&self.inner.mailbox);
            (mailbox.user_id(), mailbox.etag(event_id))
        };
        let etag = etag.unwrap_or_else(|| format!("W/\"{}\"", harness::random_hex()));
        let notifications = lock(&self.inner.subscriptions).changed(change_type, event_id, &user_id, &etag);
        let mut answers = Vec::with_capacity(notifications.len());
        for notification in &notifications {
            answers.push((
                notification.subscription_id.clone(),
                subscriptions::deliver(notification).await,
            ));
        }
        answers
    }

    /// Sends the lifecycle notification `lifecycle_event` (`reauthorizationRequired`,
    /// `subscriptionRemoved`, `missed`) to the subscription's lifecycleNotificationUrl:
    /// `{"value":[{"subscriptionId", "subscriptionExpirationDateTime", "tenantId", "clientState"
    /// (when it has one), "lifecycleEvent"}]}`. For `subscriptionRemoved` the subscription is
    /// deleted first (Graph removed it). The status the receiver answered, or 0 when the
    /// subscription is unknown, deleted or has no lifecycle URL, or no answer arrived.
    pub async fn send_lifecycle(&self, subscription_id: &str, lifecycle_event: &str) -> u16 {
        let notification = lock(&self.inner.subscriptions).lifecycle(subscription_id, lifecycle_event);
        match notification {
            Some(notification) => subscriptions::deliver(&notification).await,
            None => 0,
        }
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
    if segs.first().is_some_and(|s| s == "subscriptions") {
        // Served apart from `api`: creating one awaits the receiver's handshake.
        if let Some(refusal) = gate(&inner, &req) {
            return refusal;
        }
        return subscriptions::serve(&inner, &method, &segs, &body)
            .await
            .unwrap_or_else(|e| e.response());
    }
    api(&inner, &req, &method, &segs, &body).unwrap_or_else(|e| e.response())
}

/// Authentication (401 InvalidAuthenticationToken) and injected throttling (429), as every Graph
/// call has them: the answer that refuses the call, if any.
fn gate(inner: &Inner, req: &HttpRequest) -> Option<HttpResponse> {
    if let Err(failure) = inner.oauth.authenticate(req) {
        let message = match failure {
            AuthFailure::Missing => "Access token is empty.",
            AuthFailure::Invalid => "IDX14100: JWT is not well formed, there are no dots (.).",
            AuthFailure::Expired => "Lifetime validation failed, the token is expired.",
        };
        return Some(GraphError::new(401, "InvalidAuthenticationToken", message).response());
    }
    let retry_after = lock(&inner.throttles).pop_front();
    retry_after.map(|retry_after| GraphError::too_many_requests(retry_after, "Too many requests, retry later."))
}

fn api(
    inner: &Inner,
    req: &HttpRequest,
    method: &str,
    segs: &[String],
    body: &[u8],
) -> Result<HttpResponse, GraphError> {
    if let Some(refusal) = gate(inner, req) {
        return Ok(refusal);
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
        ("GET", ["me", "calendarView", "delta"]) => {
            let link_base = format!("{}{API_PREFIX}/me/calendarView/delta", base_of(req));
            let page_size = delta::page_size(req);
            Ok(HttpResponse::Ok().json(mailbox.delta(&query, page_size, &tz, &tz_name, &link_base)?))
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

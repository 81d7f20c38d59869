//! A fake of Calendly API v2 and its OAuth server (provider-apis.md part C): the user, event
//! types, available times (span limit, no past start), busy times, scheduled events, direct booking
//! through POST /invitees, cancellation, scheduling links, webhook subscriptions and signed webhook
//! deliveries, with Calendly's error bodies and X-RateLimit-* headers.

mod account;
mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::harness::{self, lock, segments, Harness, Listener, Params};
use crate::oauth::{harness_controls, oauth_controls, AuthFailure, Flavor, OAuthServer};
use crate::{time, FakeError};

use account::Account;
pub use webhooks::{Delivery, Signature, WebhookSubscription};

/// The scopes provider-apis.md lists for Calendly tokens.
pub const SCOPES: &[&str] = &[
    "availability:read",
    "event_types:read",
    "scheduled_events:read",
    "scheduled_events:write",
    "webhooks",
];

const AUTH_PATH: &str = "/oauth/authorize";
const TOKEN_PATH: &str = "/oauth/token";
const REVOKE_PATH: &str = "/oauth/revoke";

#[derive(Debug)]
struct RateLimit {
    limit: u32,
    window: Duration,
    remaining: u32,
    reset_at: Instant,
    throttled: usize,
}

#[derive(Debug)]
struct Inner {
    harness: Harness,
    oauth: OAuthServer,
    account: Mutex<Account>,
    rate: Mutex<RateLimit>,
}

/// The Calendly fake: one user in one organization. Cheap to clone; the server stops when the last
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct FakeCalendly {
    inner: Arc<Inner>,
    listener: Arc<Listener>,
}

impl FakeCalendly {
    /// Starts the fake on 127.0.0.1 with a free port: a user with no event types, direct booking
    /// allowed, available-times span limit 7 days, a rate limit that tests do not meet by chance.
    ///
    /// # Panics
    /// When nothing can listen on the loopback interface; use [`FakeCalendly::try_start`] to handle it.
    #[allow(clippy::panic)] // A test fixture that cannot listen has nothing to return but the reason.
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(fake) => fake,
            Err(err) => panic!("FakeCalendly: {err}"),
        }
    }

    /// Starts the fake, or says why it cannot listen.
    pub async fn try_start() -> Result<Self, FakeError> {
        let inner = Arc::new(Inner {
            harness: Harness::default(),
            oauth: OAuthServer::new(Flavor::Calendly, "fake-calendly-client", "fake-calendly-secret"),
            account: Mutex::new(Account::new()),
            rate: Mutex::new(RateLimit {
                // Not documented: Calendly's budget depends on the plan; the fake's default is large.
                limit: 10_000,
                window: Duration::from_secs(60),
                remaining: 10_000,
                reset_at: Instant::now() + Duration::from_secs(60),
                throttled: 0,
            }),
        });
        let listener = harness::spawn(inner.clone(), entry)?;
        let (owner, organization) = {
            let mut account = lock(&inner.account);
            account.set_base(&listener.base_url);
            (account.user_uri(), account.organization_uri())
        };
        let mut fields = Map::new();
        fields.insert("owner".into(), json!(owner));
        fields.insert("organization".into(), json!(organization));
        inner.oauth.set_extra_token_fields(fields);
        Ok(FakeCalendly {
            inner,
            listener: Arc::new(listener),
        })
    }

    /// CALENDLY_AUTH_URL: `…/oauth/authorize`.
    pub fn auth_url(&self) -> String {
        format!("{}{AUTH_PATH}", self.listener.base_url)
    }

    /// CALENDLY_TOKEN_URL: `…/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.listener.base_url)
    }

    /// CALENDLY_REVOKE_URL: `…/oauth/revoke`.
    pub fn revoke_url(&self) -> String {
        format!("{}{REVOKE_PATH}", self.listener.base_url)
    }

    /// CALENDLY_API_BASE: the server's root (`/users/me`, `/event_types`, ... hang below it).
    pub fn api_base(&self) -> String {
        self.listener.base_url.clone()
    }

    oauth_controls!();
    harness_controls!();

    /// A personal access token: no expiry, no refresh. No scopes means every scope (a token from
    /// before scopes existed); otherwise only the listed ones.
    pub fn personal_access_token(&self, scopes: &[&str]) -> String {
        self.inner.oauth.issue_static_token(scopes)
    }

    /// The user's URI (`…/users/<uuid>`).
    pub fn user_uri(&self) -> String {
        lock(&self.inner.account).user_uri()
    }

    /// The organization's URI.
    pub fn organization_uri(&self) -> String {
        lock(&self.inner.account).organization_uri()
    }

    /// Adds an active event type of `duration_minutes`; returns its URI.
    pub fn add_event_type(&self, name: &str, duration_minutes: i64) -> String {
        lock(&self.inner.account).add_event_type(name, duration_minutes)
    }

    /// Activates or deactivates an event type.
    pub fn set_event_type_active(&self, event_type_uri: &str, active: bool) -> Result<(), FakeError> {
        lock(&self.inner.account).set_event_type_active(event_type_uri, active)
    }

    /// Start times (RFC 3339) Calendly offers for the event type, before bookings are subtracted.
    pub fn seed_available_times(&self, event_type_uri: &str, starts: &[&str]) -> Result<(), FakeError> {
        let starts = starts.iter().map(|s| time::instant(s)).collect::<Result<Vec<_>, _>>()?;
        lock(&self.inner.account).seed_available_times(event_type_uri, starts)
    }

    /// Busy time from a calendar connected to Calendly (type "external" in user_busy_times); it
    /// also removes the available times it overlaps.
    pub fn seed_external_busy(&self, start: &str, end: &str) -> Result<(), FakeError> {
        let (start, end) = (time::instant(start)?, time::instant(end)?);
        lock(&self.inner.account).external_busy.push((start, end));
        Ok(())
    }

    /// Books as an invitee on Calendly's own pages (not through the API, so direct booking need not
    /// be allowed); returns the invitee URI. Deliver the webhook with [`FakeCalendly::deliver_to_subscriptions`].
    pub fn book_as_invitee(
        &self,
        event_type_uri: &str,
        start: &str,
        name: &str,
        email: &str,
        timezone: &str,
    ) -> Result<String, FakeError> {
        let start = time::instant(start)?;
        let booking = json!({
            "event_type": event_type_uri,
            "start_time": time::calendly(start),
            "invitee": {"name": name, "email": email, "timezone": timezone},
        });
        let Value::Object(booking) = booking else {
            return Err(FakeError::InvalidSeed("booking".into()));
        };
        let mut account = lock(&self.inner.account);
        let now = account.now();
        account
            .book(&booking, now)
            .map(|invitee| invitee["uri"].as_str().unwrap_or_default().to_owned())
            .map_err(|e| FakeError::InvalidSeed(e.message))
    }

    /// Books at a scheduling link (POST /scheduling_links' `booking_url`) as the client would on
    /// its page: at any time the link's event type offers, which need not be the one the booking
    /// first asked for. A single-use link books once; a second booking is refused. Returns the
    /// invitee URI. Deliver the webhook with [`FakeCalendly::deliver_to_subscriptions`].
    pub fn book_with_scheduling_link(
        &self,
        booking_url: &str,
        start: &str,
        name: &str,
        email: &str,
        timezone: &str,
    ) -> Result<String, FakeError> {
        let start = time::instant(start)?;
        let booking = json!({
            "start_time": time::calendly(start),
            "invitee": {"name": name, "email": email, "timezone": timezone},
        });
        let Value::Object(booking) = booking else {
            return Err(FakeError::InvalidSeed("booking".into()));
        };
        lock(&self.inner.account)
            .book_with_link(booking_url, &booking)
            .map(|invitee| invitee["uri"].as_str().unwrap_or_default().to_owned())
    }

    /// Every scheduling link made through the API: `booking_url`, `owner`, `max_event_count` and
    /// `event_count` (bookings made at it).
    pub fn scheduling_links(&self) -> Vec<Value> {
        lock(&self.inner.account).scheduling_links()
    }

    /// Cancels the invitee's event as the invitee would on Calendly's pages.
    pub fn cancel_as_invitee(&self, invitee_uri: &str, reason: &str) -> Result<(), FakeError> {
        let mut account = lock(&self.inner.account);
        let event_uuid = account
            .event_uuid_of_invitee(invitee_uri)
            .ok_or_else(|| FakeError::Unknown(format!("invitee {invitee_uri}")))?;
        let now = account.now();
        account
            .cancel(&event_uuid, reason, "invitee", now)
            .map(|_| ())
            .map_err(|e| FakeError::InvalidSeed(e.message))
    }

    /// Every scheduled event (active and canceled), as GET /scheduled_events/{uuid} shows it.
    pub fn scheduled_events(&self) -> Vec<Value> {
        lock(&self.inner.account).scheduled_events()
    }

    /// Every invitee, as GET /scheduled_events/{uuid}/invitees/{uuid} shows it.
    pub fn invitees(&self) -> Vec<Value> {
        lock(&self.inner.account).invitees()
    }

    /// Whether POST /invitees may book for this account (false: 403 Permission Denied; the client
    /// falls back to a scheduling link).
    pub fn set_direct_booking(&self, allowed: bool) {
        lock(&self.inner.account).direct_booking = allowed;
    }

    /// The longest span of one available-times request (7 days until 2026-07-09, 31 after).
    pub fn set_max_span_days(&self, days: i64) {
        lock(&self.inner.account).max_span_days = days;
    }

    /// The fake's "now" (RFC 3339) for "start_time in the past" and "Event in the past".
    /// Default: the real clock.
    pub fn set_now(&self, now: &str) -> Result<(), FakeError> {
        lock(&self.inner.account).now = Some(time::instant(now)?);
        Ok(())
    }

    /// The request budget: `limit` API calls per `window_secs`, reported in X-RateLimit-* headers;
    /// 429 once it is spent.
    pub fn set_rate_limit(&self, limit: u32, window_secs: u64) {
        let mut rate = lock(&self.inner.rate);
        rate.limit = limit;
        rate.remaining = limit;
        rate.window = Duration::from_secs(window_secs);
        rate.reset_at = Instant::now() + rate.window;
    }

    /// The next `n` API calls answer 429 with X-RateLimit-Remaining: 0.
    pub fn throttle_next(&self, n: usize) {
        lock(&self.inner.rate).throttled += n;
    }

    /// The webhook subscriptions created through the API, with their signing keys.
    pub fn webhook_subscriptions(&self) -> Vec<WebhookSubscription> {
        lock(&self.inner.account).webhooks.clone()
    }

    /// The webhook body Calendly would send for `event` ("invitee.created" or "invitee.canceled").
    pub fn webhook_payload(&self, event: &str, invitee_uri: &str) -> Result<Value, FakeError> {
        lock(&self.inner.account).webhook_payload(event, invitee_uri)
    }

    /// POSTs the webhook for `event` about the invitee to `url`, signed with `signing_key` as
    /// `signature` says (valid, forged, altered, stale or missing).
    pub async fn deliver_webhook(
        &self,
        url: &str,
        signing_key: &str,
        event: &str,
        invitee_uri: &str,
        signature: Signature,
    ) -> Result<Delivery, FakeError> {
        let payload = self.webhook_payload(event, invitee_uri)?;
        let body = serde_json::to_vec(&payload).map_err(|e| FakeError::Delivery(e.to_string()))?;
        webhooks::deliver(url, signing_key, body, signature).await
    }

    /// POSTs `body` as it is to `url`, signed as `signature` says (for hand-made payloads).
    pub async fn deliver_raw(
        &self,
        url: &str,
        signing_key: &str,
        body: Vec<u8>,
        signature: Signature,
    ) -> Result<Delivery, FakeError> {
        webhooks::deliver(url, signing_key, body, signature).await
    }

    /// Delivers `event` about the invitee to every active subscription that asked for it, signed
    /// with its own key, as Calendly does.
    pub async fn deliver_to_subscriptions(&self, event: &str, invitee_uri: &str) -> Result<Vec<Delivery>, FakeError> {
        let subscriptions = self.webhook_subscriptions();
        let mut deliveries = Vec::new();
        for subscription in subscriptions.iter().filter(|s| s.events.iter().any(|e| e == event)) {
            deliveries.push(
                self.deliver_webhook(
                    &subscription.url,
                    &subscription.signing_key,
                    event,
                    invitee_uri,
                    Signature::Valid,
                )
                .await?,
            );
        }
        Ok(deliveries)
    }
}

/// Calendly's JSON error: `{"title","message","details"?}`.
#[derive(Debug, Clone)]
pub(crate) struct CalendlyError {
    pub(crate) status: u16,
    pub(crate) title: &'static str,
    pub(crate) message: String,
    pub(crate) details: Vec<Value>,
}

impl CalendlyError {
    pub(crate) fn new(status: u16, title: &'static str, message: impl Into<String>) -> Self {
        CalendlyError {
            status,
            title,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 400 Invalid Argument about one parameter (`code` as Calendly sets it, e.g. already_filled).
    pub(crate) fn invalid(parameter: &str, message: &str, code: Option<&str>) -> Self {
        let mut detail = json!({"parameter": parameter, "message": message});
        if let Some(code) = code {
            detail["code"] = json!(code);
        }
        CalendlyError {
            status: 400,
            title: "Invalid Argument",
            message: "The supplied parameters are invalid.".into(),
            details: vec![detail],
        }
    }

    pub(crate) fn not_found() -> Self {
        CalendlyError::new(
            404,
            "Resource Not Found",
            "The server could not find the requested resource.",
        )
    }

    pub(crate) fn denied(message: impl Into<String>) -> Self {
        CalendlyError::new(403, "Permission Denied", message)
    }

    fn response(&self) -> HttpResponse {
        let mut body = json!({"title": self.title, "message": self.message});
        if !self.details.is_empty() {
            body["details"] = json!(self.details);
        }
        HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)).json(body)
    }

    fn for_status(status: u16) -> Self {
        match status {
            424 => CalendlyError::new(
                424,
                "External Calendar Error",
                "There is an error with the external calendar.",
            ),
            500..=599 => CalendlyError::new(
                status,
                "Internal Server Error",
                "The server encountered an unexpected condition.",
            ),
            _ => CalendlyError::new(status, "Error", "The request failed."),
        }
    }
}

async fn entry(req: HttpRequest, body: Bytes, inner: web::Data<Inner>) -> HttpResponse {
    let path = req.path().to_owned();
    let method = req.method().as_str().to_owned();
    // Failures are taken late: a throttled API call must not use up an injected failure.
    inner.harness.admit(&req, &body, false).await;
    let failure = || inner.harness.take_failure();
    let oauth = match (method.as_str(), path.as_str()) {
        ("GET", AUTH_PATH) => Some(inner.oauth.authorize(req.query_string())),
        ("POST", TOKEN_PATH) => Some(failure().map_or_else(
            || inner.oauth.token(&req, &body),
            |s| CalendlyError::for_status(s).response(),
        )),
        ("POST", REVOKE_PATH) => Some(failure().map_or_else(
            || inner.oauth.revoke(req.query_string(), &body),
            |s| CalendlyError::for_status(s).response(),
        )),
        _ => None,
    };
    // The authorization server is another host (auth.calendly.com): no API rate-limit headers.
    if let Some(response) = oauth {
        return response;
    }
    let (response, headers) = {
        let mut rate = lock(&inner.rate);
        let now = Instant::now();
        if now >= rate.reset_at {
            rate.remaining = rate.limit;
            rate.reset_at = now + rate.window;
        }
        let throttled = rate.throttled > 0 || rate.remaining == 0;
        if rate.throttled > 0 {
            rate.throttled -= 1;
        }
        if !throttled {
            rate.remaining -= 1;
        }
        let reset = rate.reset_at.saturating_duration_since(now).as_secs().max(1);
        let remaining = if throttled { 0 } else { rate.remaining };
        let headers = [
            ("x-ratelimit-limit", rate.limit.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
        ];
        let response = if throttled {
            Some(
                CalendlyError::new(
                    429,
                    "Too Many Requests",
                    "The request limit has been exceeded. Try again later.",
                )
                .response(),
            )
        } else {
            failure().map(|s| CalendlyError::for_status(s).response())
        };
        (response, headers)
    };
    let mut response = response.unwrap_or_else(|| {
        let segs = segments(&path, "").unwrap_or_default();
        api(&inner, &req, &method, &segs, &body).unwrap_or_else(|e| e.response())
    });
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn api(
    inner: &Inner,
    req: &HttpRequest,
    method: &str,
    segs: &[String],
    body: &[u8],
) -> Result<HttpResponse, CalendlyError> {
    let grant = inner.oauth.authenticate(req).map_err(|failure| match failure {
        AuthFailure::Expired => CalendlyError::new(401, "Unauthenticated", "The access token expired"),
        AuthFailure::Missing | AuthFailure::Invalid => {
            CalendlyError::new(401, "Unauthenticated", "The access token is invalid")
        }
    })?;
    let require = |scope: &str| {
        // No scopes (legacy tokens) or Calendly's "default" scope allow everything.
        let unscoped = grant.scopes.is_empty() || grant.scopes.contains("default");
        if unscoped || grant.scopes.contains(scope) {
            Ok(())
        } else {
            Err(CalendlyError::denied(format!(
                "This token does not have the required scope: {scope}"
            )))
        }
    };
    let query = Params::parse(req.query_string());
    let object = || {
        harness::json_object(body)
            .ok_or_else(|| CalendlyError::new(400, "Invalid Argument", "The request body is not a JSON object."))
    };
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let page_base = format!("{}{}", lock(&inner.account).base(), req.path());
    let mut account = lock(&inner.account);
    let now = account.now();
    let ok = |value: Value| Ok(HttpResponse::Ok().json(value));
    let created = |value: Value| Ok(HttpResponse::Created().json(json!({"resource": value})));
    match (method, segs.as_slice()) {
        ("GET", ["users", "me"]) => ok(json!({"resource": account.user()})),
        ("GET", ["users", uuid]) if account.user_uri().ends_with(uuid) => ok(json!({"resource": account.user()})),
        ("GET", ["event_types"]) => {
            require("event_types:read")?;
            ok(account.list_event_types(&query, &page_base)?)
        }
        ("GET", ["event_types", uuid]) => {
            require("event_types:read")?;
            ok(json!({"resource": account.event_type(uuid)?}))
        }
        ("GET", ["event_type_available_times"]) => {
            require("availability:read")?;
            ok(account.available_times(&query, now)?)
        }
        ("GET", ["user_busy_times"]) => {
            require("availability:read")?;
            ok(account.busy_times(&query)?)
        }
        ("GET", ["scheduled_events"]) => {
            require("scheduled_events:read")?;
            ok(account.list_scheduled_events(&query, &page_base)?)
        }
        ("GET", ["scheduled_events", uuid]) => {
            require("scheduled_events:read")?;
            ok(json!({"resource": account.scheduled_event(uuid)?}))
        }
        ("GET", ["scheduled_events", uuid, "invitees"]) => {
            require("scheduled_events:read")?;
            ok(account.list_invitees(uuid)?)
        }
        ("GET", ["scheduled_events", uuid, "invitees", invitee]) => {
            require("scheduled_events:read")?;
            ok(json!({"resource": account.invitee(uuid, invitee)?}))
        }
        ("POST", ["invitees"]) => {
            require("scheduled_events:write")?;
            if !account.direct_booking {
                // Not documented word for word: the status and title are.
                return Err(CalendlyError::denied(
                    "This account cannot book through the Scheduling API.",
                ));
            }
            created(account.book(&object()?, now)?)
        }
        ("POST", ["scheduled_events", uuid, "cancellation"]) => {
            require("scheduled_events:write")?;
            let reason = object()
                .ok()
                .and_then(|b| b.get("reason").and_then(Value::as_str).map(str::to_owned));
            created(account.cancel(uuid, reason.as_deref().unwrap_or_default(), "host", now)?)
        }
        ("POST", ["scheduling_links"]) => created(account.scheduling_link(&object()?)?),
        ("POST", ["webhook_subscriptions"]) => {
            require("webhooks")?;
            created(account.subscribe(&object()?)?)
        }
        ("GET", ["webhook_subscriptions"]) => {
            require("webhooks")?;
            ok(account.list_subscriptions(&query)?)
        }
        ("GET", ["webhook_subscriptions", uuid]) => {
            require("webhooks")?;
            ok(json!({"resource": account.subscription(uuid)?}))
        }
        ("DELETE", ["webhook_subscriptions", uuid]) => {
            require("webhooks")?;
            account.unsubscribe(uuid)?;
            Ok(HttpResponse::NoContent().finish())
        }
        _ => Err(CalendlyError::not_found()),
    }
}

//! A fake of Google OAuth 2.0 and Google Calendar v3 (provider-apis.md part A): freeBusy,
//! calendarList, events insert/get/patch/delete/list, and push channels (events.watch,
//! channels.stop, notifications), with Google's error bodies and scopes.

mod channels;
mod events;
mod freebusy;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::harness::{self, lock, segments, Harness, Listener, Params};
use crate::oauth::{harness_controls, oauth_controls, AuthFailure, Flavor, OAuthServer};
use crate::FakeError;

use channels::Channels;
use events::Calendars;

pub use channels::WatchedChannel;

/// The prefix every Google OAuth scope shares.
pub const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";
/// Full access to calendars (the project never asks for it).
pub const SCOPE_CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
/// Read and write events.
pub const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
/// Free/busy queries.
pub const SCOPE_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
/// The calendar list, read-only.
pub const SCOPE_CALENDARLIST_READONLY: &str = "https://www.googleapis.com/auth/calendar.calendarlist.readonly";

/// Google's own description of the Calendar API (its discovery document, revision 20261030, kept
/// in this crate's `specs/` folder): the fake and the Google client are checked against it.
pub const DISCOVERY_DOCUMENT: &str = include_str!("../../specs/google-calendar-v3.discovery.json");

/// The account whose calendars the fake holds; its primary calendar has this id.
pub const ACCOUNT_EMAIL: &str = "expert@example.com";

const AUTH_PATH: &str = "/o/oauth2/v2/auth";
const TOKEN_PATH: &str = "/token";
const REVOKE_PATH: &str = "/revoke";
const API_PREFIX: &str = "/calendar/v3";

/// One API method the fake serves, named as in Google's discovery document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The discovery method id, e.g. `calendar.freebusy.query`.
    pub id: &'static str,
    /// The HTTP method.
    pub http_method: &'static str,
    /// The path template below the API base, as the discovery document writes it.
    pub path: &'static str,
    /// The scopes that allow the call (any one of them), as the discovery document lists them.
    pub scopes: &'static [&'static str],
    /// The query parameters the fake honours (others are accepted and ignored).
    pub query: &'static [&'static str],
}

const EVENTS_WRITE: &[&str] = &[
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.app.created",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.events.owned",
];
const EVENTS_READ: &[&str] = &[
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.app.created",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.events.freebusy",
    "https://www.googleapis.com/auth/calendar.events.owned",
    "https://www.googleapis.com/auth/calendar.events.owned.readonly",
    "https://www.googleapis.com/auth/calendar.events.public.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/calendar.readonly",
];

/// Every API method the fake serves (a test checks them against the discovery document).
pub const ROUTES: &[Route] = &[
    Route {
        id: "calendar.freebusy.query",
        http_method: "POST",
        path: "freeBusy",
        // calendar.events alone is not enough (provider-apis.md, gotcha 2).
        scopes: &[
            "https://www.googleapis.com/auth/calendar",
            "https://www.googleapis.com/auth/calendar.events.freebusy",
            "https://www.googleapis.com/auth/calendar.freebusy",
            "https://www.googleapis.com/auth/calendar.readonly",
        ],
        query: &[],
    },
    Route {
        id: "calendar.calendarList.list",
        http_method: "GET",
        path: "users/me/calendarList",
        scopes: &[
            "https://www.googleapis.com/auth/calendar",
            "https://www.googleapis.com/auth/calendar.calendarlist",
            "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
            "https://www.googleapis.com/auth/calendar.readonly",
        ],
        query: &["maxResults", "pageToken"],
    },
    Route {
        id: "calendar.events.list",
        http_method: "GET",
        path: "calendars/{calendarId}/events",
        scopes: EVENTS_READ,
        query: &[
            "timeMin",
            "timeMax",
            "singleEvents",
            "orderBy",
            "maxResults",
            "pageToken",
            "syncToken",
            "showDeleted",
            "privateExtendedProperty",
        ],
    },
    Route {
        id: "calendar.events.insert",
        http_method: "POST",
        path: "calendars/{calendarId}/events",
        scopes: EVENTS_WRITE,
        query: &["sendUpdates", "conferenceDataVersion"],
    },
    Route {
        id: "calendar.events.get",
        http_method: "GET",
        path: "calendars/{calendarId}/events/{eventId}",
        scopes: EVENTS_READ,
        query: &[],
    },
    Route {
        id: "calendar.events.patch",
        http_method: "PATCH",
        path: "calendars/{calendarId}/events/{eventId}",
        scopes: EVENTS_WRITE,
        query: &["sendUpdates"],
    },
    Route {
        id: "calendar.events.delete",
        http_method: "DELETE",
        path: "calendars/{calendarId}/events/{eventId}",
        scopes: EVENTS_WRITE,
        query: &["sendUpdates"],
    },
    Route {
        id: "calendar.events.watch",
        http_method: "POST",
        path: "calendars/{calendarId}/events/watch",
        scopes: EVENTS_READ,
        query: &[],
    },
    Route {
        id: "calendar.channels.stop",
        http_method: "POST",
        path: "channels/stop",
        scopes: &[
            "https://www.googleapis.com/auth/calendar",
            "https://www.googleapis.com/auth/calendar.acls",
            "https://www.googleapis.com/auth/calendar.acls.readonly",
            "https://www.googleapis.com/auth/calendar.app.created",
            "https://www.googleapis.com/auth/calendar.calendarlist",
            "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
            "https://www.googleapis.com/auth/calendar.events",
            "https://www.googleapis.com/auth/calendar.events.freebusy",
            "https://www.googleapis.com/auth/calendar.events.owned",
            "https://www.googleapis.com/auth/calendar.events.owned.readonly",
            "https://www.googleapis.com/auth/calendar.events.public.readonly",
            "https://www.googleapis.com/auth/calendar.events.readonly",
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/calendar.settings",
            "https://www.googleapis.com/auth/calendar.settings.readonly",
        ],
        query: &[],
    },
];

#[derive(Debug)]
struct Inner {
    harness: Harness,
    oauth: OAuthServer,
    calendars: Mutex<Calendars>,
    /// Push channels. Locked after `calendars` when both are held.
    channels: Mutex<Channels>,
    throttles: Mutex<VecDeque<u16>>,
    /// Methods (discovery ids) whose next call is carried out but whose answer is lost.
    lost_answers: Mutex<Vec<&'static str>>,
}

/// The Google fake. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct FakeGoogle {
    inner: Arc<Inner>,
    listener: Arc<Listener>,
}

impl FakeGoogle {
    /// Starts the fake on 127.0.0.1 with a free port, holding one account ([`ACCOUNT_EMAIL`])
    /// whose primary calendar (time zone UTC) is empty.
    ///
    /// # Panics
    /// When nothing can listen on the loopback interface; use [`FakeGoogle::try_start`] to handle it.
    #[allow(clippy::panic)] // A test fixture that cannot listen has nothing to return but the reason.
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(fake) => fake,
            Err(err) => panic!("FakeGoogle: {err}"),
        }
    }

    /// Starts the fake, or says why it cannot listen.
    pub async fn try_start() -> Result<Self, FakeError> {
        let inner = Arc::new(Inner {
            harness: Harness::default(),
            oauth: OAuthServer::new(
                Flavor::Google,
                "fake-google-client.apps.googleusercontent.com",
                "fake-google-secret",
            ),
            calendars: Mutex::new(Calendars::new(ACCOUNT_EMAIL)),
            channels: Mutex::new(Channels::default()),
            throttles: Mutex::new(VecDeque::new()),
            lost_answers: Mutex::new(Vec::new()),
        });
        let listener = harness::spawn(inner.clone(), entry)?;
        Ok(FakeGoogle {
            inner,
            listener: Arc::new(listener),
        })
    }

    /// GOOGLE_AUTH_URL: `…/o/oauth2/v2/auth`.
    pub fn auth_url(&self) -> String {
        format!("{}{AUTH_PATH}", self.listener.base_url)
    }

    /// GOOGLE_TOKEN_URL: `…/token`.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.listener.base_url)
    }

    /// GOOGLE_REVOKE_URL: `…/revoke`.
    pub fn revoke_url(&self) -> String {
        format!("{}{REVOKE_PATH}", self.listener.base_url)
    }

    /// GOOGLE_API_BASE: the prefix before `/freeBusy`, `…/calendar/v3`.
    pub fn api_base(&self) -> String {
        format!("{}{API_PREFIX}", self.listener.base_url)
    }

    oauth_controls!();
    harness_controls!();

    /// The next `n` API calls answer Google's rate-limit error: `status` 403 (reason
    /// rateLimitExceeded, domain usageLimits) or 429. Clients must treat both alike (gotcha 3).
    pub fn throttle_next(&self, n: usize, status: u16) {
        lock(&self.inner.throttles).extend(std::iter::repeat_n(status, n));
    }

    /// The next call of the API method `route_id` (a discovery id such as
    /// `calendar.events.insert`) is carried out, but its answer is lost on the way back: the
    /// client gets 503 backendError, as after a dropped connection it would retry.
    pub fn lose_next_answer(&self, route_id: &'static str) {
        lock(&self.inner.lost_answers).push(route_id);
    }

    /// Meet conferences asked for from now on stay `pending` until their event has been read
    /// (`GET .../events/{id}`) `reads` times; 0 (the default) makes them at once.
    pub fn set_conference_pending_reads(&self, reads: u32) {
        lock(&self.inner.calendars).conference_pending_reads = reads;
    }

    /// The request id of every Meet conference made so far, in order (one per conference).
    pub fn conferences(&self) -> Vec<String> {
        lock(&self.inner.calendars).conferences.clone()
    }

    /// Adds a calendar to the account's calendar list. A `primary` one replaces the current primary
    /// (the primary calendar's id is the account's email address).
    pub fn add_calendar(&self, id: &str, summary: &str, primary: bool) {
        lock(&self.inner.calendars).add(id, summary, primary);
    }

    /// The calendar's IANA time zone (default UTC): all-day events block whole dates in it.
    pub fn set_calendar_time_zone(&self, calendar_id: &str, time_zone: &str) -> Result<(), FakeError> {
        lock(&self.inner.calendars).set_time_zone(calendar_id, time_zone)
    }

    /// Stores an event as if inserted through the API (same validation; `status`, `transparency`,
    /// all-day `date`s and attendees' `responseStatus` are honoured) and returns the stored resource.
    pub fn add_event(&self, calendar_id: &str, event: Value) -> Result<Value, FakeError> {
        lock(&self.inner.calendars)
            .insert(calendar_id, event, true)
            .map_err(|e| FakeError::InvalidSeed(e.message))
    }

    /// Adds one opaque event per `(start, end)` (RFC 3339) to the calendar.
    pub fn seed_busy(&self, calendar_id: &str, busy: &[(&str, &str)]) -> Result<(), FakeError> {
        for (start, end) in busy {
            self.add_event(
                calendar_id,
                json!({"summary": "Busy", "start": {"dateTime": start}, "end": {"dateTime": end}}),
            )?;
        }
        Ok(())
    }

    /// Every event of the calendar as stored, deleted ones (status cancelled) included.
    pub fn events(&self, calendar_id: &str) -> Vec<Value> {
        lock(&self.inner.calendars).all_events(calendar_id)
    }

    /// The user deletes the event in Google Calendar: it stays as status cancelled, a change the
    /// next incremental `events.list` (syncToken) reports as `{"id", "status": "cancelled"}`.
    /// Deleting it again, or an event that does not exist, is an error.
    pub fn delete_event(&self, calendar_id: &str, event_id: &str) -> Result<(), FakeError> {
        lock(&self.inner.calendars).delete_by_user(calendar_id, event_id)
    }

    /// The user moves the event in Google Calendar to `start`..`end` (RFC 3339 `dateTime`s): a
    /// change the next incremental `events.list` reports with the new times. A deleted event
    /// cannot be moved.
    pub fn move_event(&self, calendar_id: &str, event_id: &str, start: &str, end: &str) -> Result<(), FakeError> {
        lock(&self.inner.calendars).move_by_user(calendar_id, event_id, start, end)
    }

    /// Sync tokens handed out so far answer 410 fullSyncRequired.
    pub fn invalidate_sync_tokens(&self) {
        lock(&self.inner.calendars).invalidate_sync_tokens();
    }

    /// Every channel `events.watch` opened, in order, stopped and expired ones included.
    pub fn channels(&self) -> Vec<WatchedChannel> {
        lock(&self.inner.channels).all()
    }

    /// Tells every live, unexpired channel on the calendar (`primary` or its id) that it
    /// changed, as Google does: an empty-body POST to the channel's address with
    /// `X-Goog-Channel-ID`, `X-Goog-Channel-Token` (when the channel has one),
    /// `X-Goog-Channel-Expiration` (`Tue, 19 Nov 2013 01:13:52 GMT`), `X-Goog-Resource-ID`,
    /// `X-Goog-Resource-URI`, `X-Goog-Resource-State: exists` and `X-Goog-Message-Number`
    /// (increasing per channel, after the handshake's 1). Answers each channel's id with the
    /// status the receiver answered (0 when no answer arrived). The fake never sends on its own:
    /// tests call this after changing events.
    pub async fn notify(&self, calendar_id: &str) -> Vec<(String, u16)> {
        let calendar = lock(&self.inner.calendars).find(calendar_id).map(|c| c.id.clone());
        let Some(calendar) = calendar else {
            return Vec::new();
        };
        let notifications = lock(&self.inner.channels).changed(&calendar);
        let mut answers = Vec::with_capacity(notifications.len());
        for notification in &notifications {
            answers.push((notification.channel_id.clone(), channels::deliver(notification).await));
        }
        answers
    }

    /// Sends the `sync` handshake Google sends when a channel opens (`X-Goog-Resource-State:
    /// sync`, `X-Goog-Message-Number: 1`, the other headers as [`FakeGoogle::notify`] sends
    /// them) on the channel; the status the receiver answered, or 0 when the channel is
    /// unknown, stopped or expired, or no answer arrived.
    pub async fn send_sync(&self, channel_id: &str) -> u16 {
        let notification = lock(&self.inner.channels).handshake(channel_id);
        match notification {
            Some(notification) => channels::deliver(&notification).await,
            None => 0,
        }
    }
}

/// Google's JSON error: `{"error":{"errors":[{domain, reason, message}], "code", "message"}}`.
#[derive(Debug, Clone)]
pub(crate) struct GoogleError {
    pub(crate) status: u16,
    pub(crate) domain: &'static str,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

impl GoogleError {
    pub(crate) fn new(status: u16, reason: &'static str, message: impl Into<String>) -> Self {
        GoogleError {
            status,
            domain: "global",
            reason,
            message: message.into(),
        }
    }

    pub(crate) fn in_domain(mut self, domain: &'static str) -> Self {
        self.domain = domain;
        self
    }

    pub(crate) fn not_found() -> Self {
        GoogleError::new(404, "notFound", "Not Found")
    }

    pub(crate) fn response(&self) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status).json(json!({
            "error": {
                "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
                "code": self.status,
                "message": self.message,
            }
        }))
    }

    /// The body Google sends for an injected status (`fail_next`).
    fn for_status(status: u16) -> Self {
        match status {
            429 => GoogleError::new(429, "rateLimitExceeded", "Rate Limit Exceeded").in_domain("usageLimits"),
            403 => GoogleError::new(403, "rateLimitExceeded", "Rate Limit Exceeded").in_domain("usageLimits"),
            401 => GoogleError::new(401, "authError", "Invalid Credentials"),
            404 => GoogleError::not_found(),
            500..=599 => GoogleError::new(status, "backendError", "Backend Error"),
            _ => GoogleError::new(status, "badRequest", "Bad Request"),
        }
    }
}

async fn entry(req: HttpRequest, body: Bytes, inner: web::Data<Inner>) -> HttpResponse {
    let path = req.path().to_owned();
    let method = req.method().as_str().to_owned();
    if let Some(status) = inner.harness.admit(&req, &body, path != AUTH_PATH).await {
        return GoogleError::for_status(status).response();
    }
    match (method.as_str(), path.as_str()) {
        ("GET", AUTH_PATH) => inner.oauth.authorize(req.query_string()),
        ("POST", TOKEN_PATH) => inner.oauth.token(&req, &body),
        ("POST", REVOKE_PATH) => inner.oauth.revoke(req.query_string(), &body),
        _ => match segments(&path, API_PREFIX) {
            Some(segs) => api(&inner, &req, &method, &segs, &body).unwrap_or_else(|e| e.response()),
            None => GoogleError::not_found().response(),
        },
    }
}

fn api(
    inner: &Inner,
    req: &HttpRequest,
    method: &str,
    segs: &[String],
    body: &[u8],
) -> Result<HttpResponse, GoogleError> {
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (route, calendar, event) = match (method, segs.as_slice()) {
        ("POST", ["freeBusy"]) => ("calendar.freebusy.query", "", ""),
        ("GET", ["users", "me", "calendarList"]) => ("calendar.calendarList.list", "", ""),
        ("GET", ["calendars", calendar, "events"]) => ("calendar.events.list", *calendar, ""),
        ("POST", ["calendars", calendar, "events"]) => ("calendar.events.insert", *calendar, ""),
        ("GET", ["calendars", calendar, "events", event]) => ("calendar.events.get", *calendar, *event),
        ("PATCH", ["calendars", calendar, "events", event]) => ("calendar.events.patch", *calendar, *event),
        ("DELETE", ["calendars", calendar, "events", event]) => ("calendar.events.delete", *calendar, *event),
        ("POST", ["calendars", calendar, "events", "watch"]) => ("calendar.events.watch", *calendar, ""),
        ("POST", ["channels", "stop"]) => ("calendar.channels.stop", "", ""),
        _ => return Err(GoogleError::not_found()),
    };
    let grant = inner.oauth.authenticate(req).map_err(|failure| match failure {
        AuthFailure::Missing => GoogleError::new(401, "required", "Login Required."),
        AuthFailure::Invalid | AuthFailure::Expired => GoogleError::new(401, "authError", "Invalid Credentials"),
    })?;
    if let Some(status) = lock(&inner.throttles).pop_front() {
        return Err(GoogleError::for_status(status));
    }
    let allowed = ROUTES
        .iter()
        .find(|r| r.id == route)
        .is_some_and(|r| r.scopes.iter().any(|s| grant.scopes.contains(*s)));
    if !allowed {
        return Err(GoogleError::new(
            403,
            "insufficientPermissions",
            "Insufficient Permission",
        ));
    }
    let query = Params::parse(req.query_string());
    let answer = serve(inner, route, calendar, event, &query, body);
    let mut lost = lock(&inner.lost_answers);
    if let Some(at) = lost.iter().position(|r| *r == route) {
        lost.remove(at);
        return Err(GoogleError::for_status(503));
    }
    answer
}

fn serve(
    inner: &Inner,
    route: &str,
    calendar: &str,
    event: &str,
    query: &Params,
    body: &[u8],
) -> Result<HttpResponse, GoogleError> {
    let mut calendars = lock(&inner.calendars);
    match route {
        "calendar.freebusy.query" => freebusy::query(&calendars, body),
        "calendar.calendarList.list" => calendars.list_calendars(query),
        "calendar.events.list" => calendars.list_events(calendar, query),
        "calendar.events.insert" => {
            let event = harness::json_object(body).ok_or_else(|| GoogleError::new(400, "parseError", "Parse Error"))?;
            let conferences = match query.get("conferenceDataVersion") {
                None | Some("0") => false,
                Some("1") => true,
                Some(_) => return Err(GoogleError::new(400, "invalid", "Invalid conferenceDataVersion value.")),
            };
            Ok(HttpResponse::Ok().json(calendars.insert(calendar, Value::Object(event), conferences)?))
        }
        "calendar.events.get" => Ok(HttpResponse::Ok().json(calendars.get(calendar, event)?)),
        "calendar.events.watch" => {
            let channel =
                harness::json_object(body).ok_or_else(|| GoogleError::new(400, "parseError", "Parse Error"))?;
            let watched = calendars.find(calendar).ok_or_else(GoogleError::not_found)?.id.clone();
            lock(&inner.channels).watch(&watched, calendar, &channel)
        }
        "calendar.channels.stop" => {
            let channel =
                harness::json_object(body).ok_or_else(|| GoogleError::new(400, "parseError", "Parse Error"))?;
            lock(&inner.channels).stop(&channel)
        }
        "calendar.events.patch" => {
            let patch = harness::json_object(body).ok_or_else(|| GoogleError::new(400, "parseError", "Parse Error"))?;
            Ok(HttpResponse::Ok().json(calendars.patch(calendar, event, patch)?))
        }
        _ => {
            calendars.delete(calendar, event)?;
            Ok(HttpResponse::NoContent().finish())
        }
    }
}

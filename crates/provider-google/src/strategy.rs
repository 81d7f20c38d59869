//! GoogleCalendarStrategy: freeBusy for busy time, events for appointments, calendarList for the
//! expert's choice of calendars. Every call goes through `TokenManager::send_authorized` with
//! the platform's HTTP policy.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use availability_core::ports::IntegrationRepository;
use availability_core::{
    AvailabilityStrategy, BusyTimeSource, CalendarChange, ChangeBatch, ChangeFeed, ChannelRequest, CoreError,
    EventWriter, ExternalEvent, Meeting, OpenedChannel, PushChannels, PushDelivery, PushEvent, PushNotice,
    VideoMeetings, WebhookRequest,
};
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{
    Appointment, CalendarType, Client, Expert, ExpertId, IntegrationType, Interval, VideoPolicy,
};
use provider_http::{google_rate_limit_403, HttpPolicy, ProviderHttpError, Reply, SendOptions, TokenManager};
use reqwest::header::CONTENT_TYPE;
use reqwest::{RequestBuilder, Url};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::calendars::{CalendarInfo, CalendarSettings};
use crate::wire::{
    self, CalendarListPage, Event, EventsPage, FreeBusyItem, FreeBusyRequest, FreeBusyResponse, StopRequest,
    WatchRequest, WatchedChannel,
};
use crate::{event_id, CALENDAR_TYPE, DISPLAY_NAME, INTEGRATION, MAX_FREEBUSY_DAYS};

/// Google answers at most this many calendars per freeBusy query (`calendarExpansionMax`).
const MAX_CALENDARS_PER_QUERY: usize = 50;

/// The largest calendarList page Google serves.
const CALENDAR_LIST_PAGE: &str = "250";

/// A calendar list longer than this many pages is taken to be a paging loop.
const MAX_CALENDAR_LIST_PAGES: usize = 100;

/// How many events one events.list page asks for by default (Google's own default; at most 2500).
pub(crate) const DEFAULT_EVENTS_PAGE: u32 = 250;

/// An event list longer than this many pages is taken to be a paging loop.
const MAX_EVENT_PAGES: usize = 1000;

/// How far back a full read of the appointment calendar starts (`timeMin` bounds events' ends):
/// events that ended before then cannot move an appointment that matters any more.
const FULL_READ_LOOKBACK: SignedDuration = SignedDuration::from_hours(24);

/// How often a healthy integration's success is recorded per expert: the busy-time path runs on
/// every slot query the service's cache does not answer, and a write per query would be waste.
/// A success right after a failure is always recorded (it clears the failure).
const SUCCESS_REPORT_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// freeBusy errors that say "try again later" rather than "this calendar cannot be read".
const TRANSIENT_REASONS: [&str; 2] = ["backendError", "internalError"];

/// Google Calendar as an [`AvailabilityStrategy`] (integration type `google_calendar`): a
/// [`BusyTimeSource`] (freeBusy over the chosen calendars), an [`EventWriter`] (events in the
/// chosen calendar) and a [`ChangeFeed`] (what changed in that calendar). Build it with [`crate::GoogleCalendarBuilder`]. Cheap to clone.
#[derive(Clone)]
pub struct GoogleCalendarStrategy {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) api_base: Url,
    pub(crate) http: reqwest::Client,
    pub(crate) tokens: TokenManager,
    pub(crate) integrations: Arc<dyn IntegrationRepository>,
    pub(crate) policy: HttpPolicy,
    /// `maxResults` of the events.list pages the change feed reads.
    pub(crate) events_page_size: u32,
    /// What this process last recorded per expert: when, and whether it was a success.
    pub(crate) reported: Mutex<HashMap<ExpertId, (Instant, bool)>>,
}

impl fmt::Debug for GoogleCalendarStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleCalendarStrategy")
            .field("api_base", &self.inner.api_base.as_str())
            .field("tokens", &self.inner.tokens)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl GoogleCalendarStrategy {
    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self { inner: Arc::new(inner) }
    }

    /// The token manager the strategy sends with (for connecting and disconnecting experts).
    pub fn tokens(&self) -> &TokenManager {
        &self.inner.tokens
    }

    /// The HTTP policy every call follows.
    pub fn policy(&self) -> &HttpPolicy {
        &self.inner.policy
    }

    /// The calendars of the expert's Google account (`GET /users/me/calendarList`, every page),
    /// with the expert's current choice marked, for the expert to choose from.
    pub async fn calendars(&self, expert: ExpertId) -> Result<Vec<CalendarInfo>, CoreError> {
        let result = self.inner.calendar_list(expert).await;
        self.inner.report(expert, result).await
    }

    /// The connected account: the primary calendar's id, which is the account's email address.
    pub async fn account(&self, expert: ExpertId) -> Result<Option<String>, CoreError> {
        let calendars = self.calendars(expert).await?;
        Ok(calendars.into_iter().find(|c| c.primary).map(|c| c.id))
    }

    /// The expert's current choice of calendars (the primary calendar until they choose).
    pub async fn calendar_settings(&self, expert: ExpertId) -> Result<CalendarSettings, CoreError> {
        self.inner.settings(expert).await
    }

    /// Stores which calendars block the expert's time (`busy`; `primary` names the primary
    /// calendar) and which one receives appointments (`event`), with the grant. Ids are not
    /// checked against the calendar list here: a calendar that does not exist fails the next
    /// busy-time query (as `ProviderResponse`, recorded for the expert to see) rather than being
    /// taken as free. Events written before a change of `event` stay where they are, and updates
    /// and cancellations still find them there. Callers that cache busy time (the service) should
    /// drop the expert's cache afterwards.
    pub async fn set_calendars(
        &self,
        expert: ExpertId,
        busy: Vec<String>,
        event: String,
    ) -> Result<CalendarSettings, CoreError> {
        // Validate before touching storage.
        CalendarSettings::default().choose(busy.clone(), event.clone())?;
        let mut chosen = None;
        self.inner
            .tokens
            .update_extra(expert, |extra| {
                // Unreadable settings are replaced rather than kept: the expert is choosing anew.
                let current = CalendarSettings::from_extra(extra).unwrap_or_default();
                if let Ok(next) = current.choose(busy, event) {
                    next.write_to(extra);
                    chosen = Some(next);
                }
            })
            .await?;
        chosen.ok_or_else(|| CoreError::InvalidCalendarChoice("the calendar choice is invalid".into()))
    }
}

impl AvailabilityStrategy for GoogleCalendarStrategy {
    fn integration_type(&self) -> IntegrationType {
        INTEGRATION
    }

    fn display_name(&self) -> &'static str {
        DISPLAY_NAME
    }

    fn calendar_type(&self) -> Option<CalendarType> {
        Some(CALENDAR_TYPE)
    }

    fn busy_time(&self) -> Option<&dyn BusyTimeSource> {
        Some(self)
    }

    fn event_writer(&self) -> Option<&dyn EventWriter> {
        Some(self)
    }

    fn video(&self) -> Option<&dyn VideoMeetings> {
        Some(self)
    }

    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        Some(self)
    }

    fn push(&self) -> Option<&dyn PushChannels> {
        Some(self)
    }
}

#[async_trait]
impl PushChannels for GoogleCalendarStrategy {
    /// `events.watch` on the calendar that receives the expert's appointments (the one the
    /// change feed reads): `{id, type: "web_hook", address, token, expiration: now + ttl}`.
    /// Google caps the expiration (a week for events); the answer's is the one granted. The
    /// watch is not retried after an answer may have been lost (a retry with the same id would
    /// be refused as `channelIdNotUnique`): such a failure is `ProviderUnavailable`, and the
    /// caller opens a channel with a new id later (an orphan expires on its own). Push is an
    /// optimisation over polling, so failures here are not recorded as the integration's status.
    async fn open_channel(&self, expert: &Expert, request: &ChannelRequest) -> Result<OpenedChannel, CoreError> {
        self.inner.watch(expert.id, request).await
    }

    /// `channels.stop {id, resourceId}`; a channel Google no longer knows (404) is success.
    async fn close_channel(&self, expert: &Expert, channel_id: &str, resource_id: &str) -> Result<(), CoreError> {
        self.inner.stop(expert.id, channel_id, resource_id).await
    }

    /// A Google notification has `X-Goog-Channel-ID`; its token is `X-Goog-Channel-Token` (empty
    /// when missing) and `X-Goog-Resource-State: sync` is the handshake a new channel sends.
    fn read_delivery(&self, request: &WebhookRequest<'_>) -> Option<PushDelivery> {
        read_notice(request).map(|notice| PushDelivery::Notices(vec![notice]))
    }
}

/// See [`PushChannels::read_notice`] of [`GoogleCalendarStrategy`].
pub(crate) fn read_notice(request: &WebhookRequest<'_>) -> Option<PushNotice> {
    let channel_id = request.header("x-goog-channel-id")?.trim();
    if channel_id.is_empty() {
        return None;
    }
    let token = request.header("x-goog-channel-token").unwrap_or_default();
    let handshake = request
        .header("x-goog-resource-state")
        .is_some_and(|state| state.trim().eq_ignore_ascii_case("sync"));
    Some(PushNotice {
        channel_id: channel_id.to_owned(),
        token: token.to_owned(),
        event: if handshake {
            PushEvent::Handshake
        } else {
            PushEvent::Changed
        },
    })
}

#[async_trait]
impl ChangeFeed for GoogleCalendarStrategy {
    /// Reads the calendar that receives the expert's appointments (the one `create_event` writes
    /// to) with `events.list`, every page: with the cursor's sync token, what changed since; without
    /// a cursor, or when Google refuses its sync token (410), every event that ends after a day
    /// ago. Deleted events are [`CalendarChange::Removed`], the others [`CalendarChange::At`]
    /// their time; events without a usable time are left out. The cursor is the last page's
    /// `nextSyncToken`; sync tokens belong to one calendar, so a cursor must not outlive a change
    /// of the calendar that receives appointments (the service keys cursors by connection, which
    /// such a change renews).
    async fn changes(&self, expert: &Expert, cursor: Option<&str>) -> Result<ChangeBatch, CoreError> {
        let result = self.inner.changes(expert.id, cursor).await;
        self.inner.report(expert.id, result).await
    }
}

/// One read of the event list: its changes and sync token, or the sync token was refused.
enum ListRead {
    Done {
        changes: Vec<CalendarChange>,
        sync_token: String,
    },
    Expired,
}

#[async_trait]
impl VideoMeetings for GoogleCalendarStrategy {
    /// Reads the event (`GET .../events/{id}`, in the calendars it can be in) for its conference.
    async fn meeting(&self, expert: &Expert, appointment: &Appointment) -> Result<Meeting, CoreError> {
        let result = self.inner.meeting(expert.id, appointment).await;
        self.inner.report(expert.id, result).await
    }
}

#[async_trait]
impl BusyTimeSource for GoogleCalendarStrategy {
    /// Busy time of the expert's chosen calendars: one freeBusy request per chunk of at most
    /// [`MAX_FREEBUSY_DAYS`] days (and per 50 calendars), sent concurrently so that the whole
    /// query stays within one policy budget.
    async fn busy_intervals(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let result = self.inner.clone().busy(expert.id, window).await;
        self.inner.report(expert.id, result).await
    }
}

#[async_trait]
impl EventWriter for GoogleCalendarStrategy {
    /// Inserts the event with the id derived from the appointment id; a 409 `duplicate` (a
    /// retried insert) is success, after bringing the existing event to the appointment's time.
    async fn create_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let result = self.inner.create(expert, client, appointment).await;
        self.inner.report(expert.id, result).await
    }

    /// Patches the event to the appointment's time; an event that cannot be found is inserted.
    async fn update_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let result = self.inner.update(expert, client, appointment).await;
        self.inner.report(expert.id, result).await
    }

    /// Deletes the event (notifying the client); 410 `deleted` and 404 are success. Without a
    /// stored event id, the derived one is used.
    async fn delete_event(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError> {
        let result = self.inner.cancel(expert.id, appointment).await;
        self.inner.report(expert.id, result).await
    }
}

fn core(error: ProviderHttpError) -> CoreError {
    error.into_core(INTEGRATION)
}

fn json_body(value: &impl Serialize) -> Result<Vec<u8>, CoreError> {
    serde_json::to_vec(value).map_err(|e| CoreError::ProviderResponse {
        integration: INTEGRATION,
        message: format!("could not encode the request: {e}"),
    })
}

fn unusable(message: String) -> CoreError {
    CoreError::ProviderResponse {
        integration: INTEGRATION,
        message,
    }
}

/// `window` cut into pieces of at most [`MAX_FREEBUSY_DAYS`] days.
pub(crate) fn chunks(window: Interval) -> Vec<Interval> {
    let step = SignedDuration::from_hours(MAX_FREEBUSY_DAYS * 24);
    let mut pieces = Vec::new();
    let mut start = window.start();
    while start < window.end() {
        let end = start
            .checked_add(step)
            .map_or(window.end(), |end| end.min(window.end()));
        if let Ok(piece) = Interval::new(start, end) {
            pieces.push(piece);
        }
        start = end;
    }
    pieces
}

/// Which of two failures to report: needing the expert wins (nothing else helps until they
/// reconnect), then unavailability (the service may fall back to recent busy time).
fn worse(current: Option<CoreError>, next: CoreError) -> CoreError {
    let rank = |e: &CoreError| match e {
        CoreError::NeedsReauth { .. } => 0,
        CoreError::ProviderUnavailable { .. } => 1,
        _ => 2,
    };
    match current {
        Some(current) if rank(&current) <= rank(&next) => current,
        _ => next,
    }
}

impl Inner {
    /// `api_base` followed by `segments`, each percent-encoded as one path segment (calendar ids
    /// hold `@` and sometimes `#`).
    fn url(&self, segments: &[&str]) -> Result<Url, CoreError> {
        let mut url = self.api_base.clone();
        url.path_segments_mut()
            .map_err(|()| unusable("the API base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Every call is idempotent here: reads, freeBusy (a POST that only reads), inserts with a
    /// client-chosen id, patches to a fixed state, deletes, and channels.stop (a 404 is success).
    /// Google's rate-limit 403s are retried like 429s.
    async fn send<F>(&self, expert: ExpertId, build: F) -> Result<Reply, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder,
    {
        self.send_with(expert, true, build).await
    }

    /// [`Inner::send`], saying whether the request may be repeated after an answer was lost
    /// (`events.watch` may not: the channel id is taken by then).
    async fn send_with<F>(&self, expert: ExpertId, idempotent: bool, build: F) -> Result<Reply, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder,
    {
        let options = SendOptions::new()
            .with_rate_limit_classifier(google_rate_limit_403)
            .idempotent(idempotent);
        self.tokens.send_authorized(expert, &self.policy, &options, build).await
    }

    /// `POST /calendars/{event calendar}/events/watch`.
    async fn watch(&self, expert: ExpertId, request: &ChannelRequest) -> Result<OpenedChannel, CoreError> {
        if request.ttl_seconds <= 0 {
            return Err(unusable(format!(
                "a push channel needs a positive lifetime, not {} s",
                request.ttl_seconds
            )));
        }
        let settings = self.settings(expert).await?;
        let expiration = Timestamp::now()
            .as_millisecond()
            .saturating_add(request.ttl_seconds.saturating_mul(1000));
        let body = json_body(&WatchRequest {
            id: &request.id,
            kind: "web_hook",
            address: &request.address,
            token: &request.token,
            expiration: expiration.to_string(),
        })?;
        let url = self.url(&["calendars", &settings.event_calendar, "events", "watch"])?;
        let reply = self
            .send_with(expert, false, || {
                self.http
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await
            .map_err(core)?;
        let channel: WatchedChannel = reply.json().map_err(core)?;
        let resource_id = channel
            .resource_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| unusable("Google opened a channel without a resourceId".into()))?;
        let expires_at = channel
            .expiration_ms()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .ok_or_else(|| unusable("Google opened a channel without a usable expiration".into()))?;
        Ok(OpenedChannel {
            id: request.id.clone(),
            resource_id,
            expires_at,
        })
    }

    /// `POST /channels/stop`; 404 (unknown, stopped or expired) is success.
    async fn stop(&self, expert: ExpertId, channel_id: &str, resource_id: &str) -> Result<(), CoreError> {
        let body = json_body(&StopRequest {
            id: channel_id,
            resource_id,
        })?;
        let url = self.url(&["channels", "stop"])?;
        let sent = self
            .send(expert, || {
                self.http
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(error) if wire::is_google_error(&error, 404, None) => Ok(()),
            Err(error) => Err(core(error)),
        }
    }

    async fn settings(&self, expert: ExpertId) -> Result<CalendarSettings, CoreError> {
        let stored = self.tokens.stored(expert).await?;
        CalendarSettings::from_extra(&stored.extra)
    }

    /// Records the outcome of a provider call where the expert can see it: every failure, and
    /// a success when it clears a failure or the last one is [`SUCCESS_REPORT_INTERVAL`] old.
    /// NeedsReauth is recorded by the token manager already (with its reason), and an
    /// unconnected expert has nothing to record.
    async fn report<T>(&self, expert: ExpertId, result: Result<T, CoreError>) -> Result<T, CoreError> {
        let recorded = match &result {
            Ok(_) if self.success_is_news(expert) => self.integrations.record_success(expert, INTEGRATION).await,
            Ok(_) => Ok(()),
            Err(CoreError::NeedsReauth { .. }) => {
                self.remember_failure(expert);
                Ok(())
            }
            Err(error) => {
                self.remember_failure(expert);
                self.integrations
                    .record_failure(expert, INTEGRATION, &error.to_string())
                    .await
            }
        };
        if let Err(error) = recorded {
            // Try again next time.
            self.reported
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&expert);
            tracing::warn!(%expert, integration = %INTEGRATION, %error, "could not record the integration's status");
        }
        result
    }

    /// Whether a success must be recorded now (and remembers that it is).
    fn success_is_news(&self, expert: ExpertId) -> bool {
        let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match reported.get(&expert) {
            Some((at, true)) if now.duration_since(*at) < SUCCESS_REPORT_INTERVAL => false,
            _ => {
                reported.insert(expert, (now, true));
                true
            }
        }
    }

    /// The next success of this expert is recorded, whenever it comes.
    fn remember_failure(&self, expert: ExpertId) {
        self.reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(expert, (Instant::now(), false));
    }

    async fn busy(self: Arc<Self>, expert: ExpertId, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let settings = self.settings(expert).await?;
        let batches: Vec<Vec<String>> = settings
            .busy_calendars
            .chunks(MAX_CALENDARS_PER_QUERY)
            .map(<[String]>::to_vec)
            .collect();
        let pieces = chunks(window);
        if let ([piece], [batch]) = (pieces.as_slice(), batches.as_slice()) {
            return self.freebusy(expert, *piece, batch).await;
        }
        let mut queries = JoinSet::new();
        for piece in pieces {
            for batch in &batches {
                let inner = self.clone();
                let batch = batch.clone();
                queries.spawn(async move { inner.freebusy(expert, piece, &batch).await });
            }
        }
        let mut busy = Vec::new();
        let mut failure = None;
        while let Some(joined) = queries.join_next().await {
            match joined {
                Ok(Ok(mut found)) => busy.append(&mut found),
                Ok(Err(error)) => failure = Some(worse(failure, error)),
                Err(join) => {
                    let error = CoreError::ProviderUnavailable {
                        integration: INTEGRATION,
                        message: format!("a freeBusy query did not finish: {join}"),
                    };
                    failure = Some(worse(failure, error));
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        busy.sort();
        Ok(busy)
    }

    /// One `POST /freeBusy` for `calendars` over `window`. A calendar that answers with errors
    /// fails the whole query: its time cannot be taken as free.
    async fn freebusy(
        &self,
        expert: ExpertId,
        window: Interval,
        calendars: &[String],
    ) -> Result<Vec<Interval>, CoreError> {
        let request = FreeBusyRequest {
            time_min: window.start().to_string(),
            time_max: window.end().to_string(),
            time_zone: "UTC",
            items: calendars.iter().map(|id| FreeBusyItem { id }).collect(),
        };
        let body = json_body(&request)?;
        let url = self.url(&["freeBusy"])?;
        let reply = self
            .send(expert, || {
                self.http
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await
            .map_err(core)?;
        let response: FreeBusyResponse = reply.json().map_err(core)?;
        let mut busy = Vec::new();
        for id in calendars {
            let answer = response.calendars.get(id).or_else(|| {
                // Google compares calendar ids like email addresses.
                response
                    .calendars
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(id))
                    .map(|(_, answer)| answer)
            });
            let Some(answer) = answer else {
                return Err(unusable(format!("freeBusy said nothing about calendar {id}")));
            };
            if !answer.errors.is_empty() {
                let reasons: Vec<String> = answer
                    .errors
                    .iter()
                    .map(|e| match (&e.domain, &e.reason) {
                        (Some(domain), Some(reason)) => format!("{domain}/{reason}"),
                        (None, Some(reason)) => reason.clone(),
                        _ => "unknown error".to_owned(),
                    })
                    .collect();
                let message = format!("the busy time of calendar {id} is unknown: {}", reasons.join(", "));
                let transient = answer
                    .errors
                    .iter()
                    .all(|e| e.reason.as_deref().is_some_and(|r| TRANSIENT_REASONS.contains(&r)));
                return Err(if transient {
                    CoreError::ProviderUnavailable {
                        integration: INTEGRATION,
                        message,
                    }
                } else {
                    unusable(message)
                });
            }
            for period in &answer.busy {
                let (Ok(start), Ok(end)) = (period.start.parse::<Timestamp>(), period.end.parse::<Timestamp>()) else {
                    return Err(unusable(format!(
                        "freeBusy gave an unreadable period for calendar {id}"
                    )));
                };
                // An empty period blocks nothing.
                if let Ok(interval) = Interval::new(start, end) {
                    busy.push(interval);
                }
            }
        }
        Ok(busy)
    }

    async fn calendar_list(&self, expert: ExpertId) -> Result<Vec<CalendarInfo>, CoreError> {
        let settings = self.settings(expert).await?;
        let mut entries = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_CALENDAR_LIST_PAGES {
            let mut url = self.url(&["users", "me", "calendarList"])?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("maxResults", CALENDAR_LIST_PAGE);
                if let Some(token) = &page_token {
                    query.append_pair("pageToken", token);
                }
            }
            let reply = self.send(expert, || self.http.get(url.clone())).await.map_err(core)?;
            let page: CalendarListPage = reply.json().map_err(core)?;
            entries.extend(page.items.into_iter().filter(|entry| !entry.deleted));
            match page.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => {
                    return Ok(entries
                        .into_iter()
                        .map(|entry| {
                            let chosen = |id: &String| CalendarSettings::names(id, &entry.id, entry.primary);
                            CalendarInfo {
                                blocks_time: settings.busy_calendars.iter().any(chosen),
                                receives_events: chosen(&settings.event_calendar),
                                summary: entry
                                    .summary_override
                                    .or(entry.summary)
                                    .unwrap_or_else(|| entry.id.clone()),
                                primary: entry.primary,
                                access_role: entry.access_role.unwrap_or_default(),
                                time_zone: entry.time_zone,
                                id: entry.id,
                            }
                        })
                        .collect())
                }
            }
        }
        Err(unusable(format!(
            "the calendar list did not end after {MAX_CALENDAR_LIST_PAGES} pages"
        )))
    }

    async fn create(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let settings = self.settings(expert.id).await?;
        let id = event_id(appointment.id);
        let event = self
            .insert(expert, client, appointment, &settings.event_calendar, &id)
            .await?;
        Ok(with_meeting(expert, ExternalEvent::new(id), &event))
    }

    /// `POST /calendars/{calendar}/events?sendUpdates=all` with the client-chosen `id`, and when
    /// the expert's policy asks the calendar for meetings, `conferenceDataVersion=1` with a Meet
    /// create request whose `requestId` is that same id: a retried insert is refused as a
    /// duplicate and can never make a second event or a second meeting.
    async fn insert(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
        calendar: &str,
        id: &str,
    ) -> Result<Event, CoreError> {
        let mut resource = wire::event_resource(expert, client, appointment, Some(id));
        let meet = *expert.booking_policy.video() == VideoPolicy::Provider;
        if let (true, Some(map)) = (meet, resource.as_object_mut()) {
            map.insert("conferenceData".into(), wire::conference_request(id));
        }
        let body = json_body(&resource)?;
        let mut url = self.url(&["calendars", calendar, "events"])?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("sendUpdates", "all");
            if meet {
                query.append_pair("conferenceDataVersion", "1");
            }
        }
        let sent = self
            .send(expert.id, || {
                self.http
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await;
        match sent {
            Ok(reply) => reply.json().map_err(core),
            Err(error) if wire::is_google_error(&error, 409, Some("duplicate")) => {
                self.converge(expert, client, appointment, calendar, id).await
            }
            Err(error) => Err(core(error)),
        }
    }

    /// After a 409 `duplicate` the event exists, from an earlier attempt whose answer was lost.
    /// The appointment may have moved since then (an outbox retries with the current time), so
    /// the event is brought to the appointment's time if it differs. Its meeting is the one the
    /// first attempt asked for.
    async fn converge(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
        calendar: &str,
        id: &str,
    ) -> Result<Event, CoreError> {
        let event = self.get(expert.id, calendar, id).await.map_err(core)?;
        // A deleted event stays deleted: the expert or a cancellation removed it.
        if event.status.as_deref() == Some("cancelled") || event.holds(appointment) {
            return Ok(event);
        }
        self.patch(expert, client, appointment, calendar, id)
            .await
            .map_err(core)
    }

    /// `GET /calendars/{calendar}/events/{id}`.
    async fn get(&self, expert: ExpertId, calendar: &str, id: &str) -> Result<Event, ProviderHttpError> {
        let url = self.url(&["calendars", calendar, "events", id])?;
        let reply = self.send(expert, || self.http.get(url.clone())).await?;
        reply.json()
    }

    /// `PATCH /calendars/{calendar}/events/{id}?sendUpdates=all` with the appointment's fields
    /// (never its conference: a patch keeps the meeting the event has).
    async fn patch(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
        calendar: &str,
        id: &str,
    ) -> Result<Event, ProviderHttpError> {
        let body = serde_json::to_vec(&wire::event_resource(expert, client, appointment, None))
            .map_err(|e| ProviderHttpError::InvalidRequest(format!("could not encode the event: {e}")))?;
        let mut url = self.url(&["calendars", calendar, "events", id])?;
        url.query_pairs_mut().append_pair("sendUpdates", "all");
        let reply = self
            .send(expert.id, || {
                self.http
                    .patch(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        reply.json()
    }

    async fn update(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let settings = self.settings(expert.id).await?;
        let id = stored_or_derived(appointment);
        for calendar in event_calendars(&settings) {
            match self.patch(expert, client, appointment, calendar, &id).await {
                Ok(event) => return Ok(with_meeting(expert, ExternalEvent::new(id), &event)),
                Err(error) if wire::is_google_error(&error, 404, None) => continue,
                Err(error) => return Err(core(error)),
            }
        }
        // The event is nowhere (its create never arrived, or it was removed for good): write it.
        let id = event_id(appointment.id);
        let event = self
            .insert(expert, client, appointment, &settings.event_calendar, &id)
            .await?;
        Ok(with_meeting(expert, ExternalEvent::new(id), &event))
    }

    async fn changes(&self, expert: ExpertId, cursor: Option<&str>) -> Result<ChangeBatch, CoreError> {
        let settings = self.settings(expert).await?;
        let calendar = settings.event_calendar.as_str();
        let token = cursor.filter(|token| !token.is_empty());
        let mut read = match token {
            Some(token) => self.list_events(expert, calendar, Some(token)).await?,
            None => ListRead::Expired,
        };
        if matches!(read, ListRead::Expired) {
            if token.is_some() {
                tracing::info!(%expert, integration = %INTEGRATION, "Google refused the sync token: full read");
            }
            read = self.list_events(expert, calendar, None).await?;
        }
        match read {
            ListRead::Done { changes, sync_token } => Ok(ChangeBatch {
                changes,
                cursor: sync_token,
            }),
            ListRead::Expired => Err(unusable("Google refused a full read of the events as expired".into())),
        }
    }

    /// `GET /calendars/{calendar}/events`, every page, with `singleEvents=true` and
    /// `showDeleted=true` on every read (Google wants the other parameters of an incremental read
    /// to be those of the full one), and either `syncToken` or, for a full read, `timeMin` a day
    /// ago (Google refuses `timeMin` beside a sync token; a token from a list with `timeMin`
    /// serves later reads without it). Every page repeats the query with the previous page's
    /// `pageToken`; only the last one has `nextSyncToken`. A 410 on a sync-token read is
    /// [`ListRead::Expired`].
    async fn list_events(
        &self,
        expert: ExpertId,
        calendar: &str,
        sync_token: Option<&str>,
    ) -> Result<ListRead, CoreError> {
        let time_min = match sync_token {
            Some(_) => None,
            None => Some(full_read_start()?),
        };
        let page_size = self.events_page_size.to_string();
        let mut changes = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_EVENT_PAGES {
            let mut url = self.url(&["calendars", calendar, "events"])?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("singleEvents", "true");
                query.append_pair("showDeleted", "true");
                query.append_pair("maxResults", &page_size);
                if let Some(token) = sync_token {
                    query.append_pair("syncToken", token);
                }
                if let Some(time_min) = &time_min {
                    query.append_pair("timeMin", time_min);
                }
                if let Some(token) = &page_token {
                    query.append_pair("pageToken", token);
                }
            }
            let reply = match self.send(expert, || self.http.get(url.clone())).await {
                Ok(reply) => reply,
                Err(error) if sync_token.is_some() && wire::is_google_error(&error, 410, None) => {
                    return Ok(ListRead::Expired)
                }
                Err(error) => return Err(core(error)),
            };
            let page: EventsPage = reply.json().map_err(core)?;
            let zone = page.time_zone.as_deref();
            for event in page.items {
                let id = event.id.clone();
                match event.change(zone) {
                    Some(change) => changes.push(change),
                    None => {
                        tracing::debug!(%expert, event = ?id, "an event without an id or a usable time is left out")
                    }
                }
            }
            let next_page = page.next_page_token.filter(|t| !t.is_empty());
            let next_sync = page.next_sync_token.filter(|t| !t.is_empty());
            match (next_page, next_sync) {
                (Some(next), _) => page_token = Some(next),
                (None, Some(sync_token)) => return Ok(ListRead::Done { changes, sync_token }),
                (None, None) => {
                    return Err(unusable(format!(
                        "the events of calendar {calendar} ended without a sync token"
                    )))
                }
            }
        }
        Err(unusable(format!(
            "the events of calendar {calendar} did not end after {MAX_EVENT_PAGES} pages"
        )))
    }

    /// The conference of the appointment's event, wherever it is.
    async fn meeting(&self, expert: ExpertId, appointment: &Appointment) -> Result<Meeting, CoreError> {
        let settings = self.settings(expert).await?;
        let id = stored_or_derived(appointment);
        for calendar in event_calendars(&settings) {
            match self.get(expert, calendar, &id).await {
                Ok(event) => {
                    return Ok(event.meeting().unwrap_or(Meeting::Unavailable {
                        reason: "the Google Calendar event has no video meeting".into(),
                    }))
                }
                Err(error) if wire::is_google_error(&error, 404, None) => continue,
                Err(error) => return Err(core(error)),
            }
        }
        Ok(Meeting::Unavailable {
            reason: "the Google Calendar event of this appointment is gone".into(),
        })
    }

    async fn cancel(&self, expert: ExpertId, appointment: &Appointment) -> Result<(), CoreError> {
        let settings = self.settings(expert).await?;
        let id = stored_or_derived(appointment);
        for calendar in event_calendars(&settings) {
            let mut url = self.url(&["calendars", calendar, "events", &id])?;
            url.query_pairs_mut().append_pair("sendUpdates", "all");
            match self.send(expert, || self.http.delete(url.clone())).await {
                Ok(_) => return Ok(()),
                Err(error) if wire::is_google_error(&error, 410, None) => return Ok(()),
                Err(error) if wire::is_google_error(&error, 404, None) => continue,
                Err(error) => return Err(core(error)),
            }
        }
        // Never written, or gone for good: nothing to remove.
        Ok(())
    }
}

/// The reference with the event's meeting, when the policy asks the calendar for one. An event
/// written before the policy asked for meetings has none, and says so only when asked.
fn with_meeting(expert: &Expert, reference: ExternalEvent, event: &Event) -> ExternalEvent {
    match event.meeting() {
        Some(meeting) if *expert.booking_policy.video() == VideoPolicy::Provider => reference.with_meeting(meeting),
        _ => reference,
    }
}

fn stored_or_derived(appointment: &Appointment) -> String {
    appointment
        .external_calendar_event_id
        .clone()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| event_id(appointment.id))
}

/// `timeMin` of a full read: [`FULL_READ_LOOKBACK`] ago, in whole seconds.
fn full_read_start() -> Result<String, CoreError> {
    let now = Timestamp::from_second(Timestamp::now().as_second())
        .map_err(|e| unusable(format!("the clock is out of range: {e}")))?;
    now.checked_sub(FULL_READ_LOOKBACK)
        .map(|start| start.to_string())
        .map_err(|e| unusable(format!("the clock is out of range: {e}")))
}

/// Where an appointment's event may be: the current event calendar, then earlier ones, newest
/// first.
fn event_calendars(settings: &CalendarSettings) -> impl Iterator<Item = &str> {
    std::iter::once(settings.event_calendar.as_str())
        .chain(settings.former_event_calendars.iter().rev().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: i64) -> Interval {
        let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        Interval::new(start, start + SignedDuration::from_hours(days * 24)).unwrap()
    }

    #[test]
    fn long_windows_are_split_into_chunks_of_at_most_sixty_days() {
        assert_eq!(chunks(window(30)), vec![window(30)]);
        assert_eq!(chunks(window(60)), vec![window(60)]);
        let pieces = chunks(window(120));
        assert_eq!(pieces.len(), 2);
        let pieces = chunks(window(121));
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].start(), window(121).start());
        assert_eq!(pieces[2].end(), window(121).end());
        assert!(pieces.windows(2).all(|w| w[0].end() == w[1].start()));
        assert!(pieces.iter().all(|p| p.seconds() <= MAX_FREEBUSY_DAYS * 86_400));
    }

    #[test]
    fn the_worse_failure_is_reported() {
        let unavailable = CoreError::ProviderUnavailable {
            integration: INTEGRATION,
            message: "down".into(),
        };
        let reauth = CoreError::NeedsReauth {
            integration: INTEGRATION,
            message: "revoked".into(),
        };
        let response = unusable("notFound".into());
        assert_eq!(worse(Some(response.clone()), unavailable.clone()), unavailable);
        assert_eq!(worse(Some(unavailable.clone()), reauth.clone()), reauth);
        assert_eq!(worse(Some(reauth.clone()), response.clone()), reauth);
        assert_eq!(worse(None, response.clone()), response);
    }
}

//! CaldavStrategy: the behaviour of the integration, made of the two parts a CalDAV calendar has.
//! Its [`BusyTimeSource`] is one calendar-query REPORT per blocking calendar, all in parallel,
//! expanded locally; its [`EventWriter`] writes appointments through [`crate::booking`].
//! Connecting and choosing calendars go through [`crate::discovery`] and [`crate::stored`]. Every
//! outcome is reported where the expert sees it: a refused password marks the integration
//! needs_reauth, other failures are recorded, successes clear them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use availability_core::ports::{CredentialRepository, IntegrationRepository};
use availability_core::strategy::{
    AvailabilityStrategy, BusyTimeSource, ChangeBatch, ChangeFeed, EventWriter, ExternalEvent,
};
use availability_core::CoreError;
use availability_domain::{Appointment, CalendarType, Client, Expert, ExpertId, IntegrationType, Interval, Secret};
use http::Uri;
use provider_http::{HttpPolicy, ProviderHttpError};

use crate::booking;
use crate::discovery::{self, CalendarInfo, ConnectedAccount};
use crate::error::{ConnectError, DavError};
use crate::event::EventText;
use crate::expand::{busy_intervals_in, merge, ExpansionContext, ExpansionLimits};
use crate::feed;
use crate::stored::{CalendarChoice, ChoiceError, StoredCaldav, StoredCalendar};
use crate::transport::{origin, resolve, BasicAuth, PolicyClient};
use crate::wire::EventsInWindow;
use crate::{CALENDAR_TYPE, DISPLAY_NAME, INTEGRATION};

/// A success is recorded at most this often per expert (unless it clears a failure): busy time
/// is read on every slot query, and each record is a database write.
const SUCCESS_REPORT_INTERVAL: Duration = Duration::from_secs(300);

/// Builds a [`CaldavStrategy`] over the store's credentials and integration status. The HTTP
/// client and policy are the policy's defaults unless given (tests shorten the budget).
pub struct CaldavBuilder {
    credentials: Arc<dyn CredentialRepository>,
    integrations: Arc<dyn IntegrationRepository>,
    client: Option<reqwest::Client>,
    policy: Option<HttpPolicy>,
    text: EventText,
    limits: ExpansionLimits,
}

impl fmt::Debug for CaldavBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaldavBuilder")
            .field("policy", &self.policy)
            .field("text", &self.text)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl CaldavBuilder {
    /// A builder over the store's credentials and integration status.
    pub fn new(credentials: Arc<dyn CredentialRepository>, integrations: Arc<dyn IntegrationRepository>) -> Self {
        Self {
            credentials,
            integrations,
            client: None,
            policy: None,
            text: EventText::default(),
            limits: ExpansionLimits::default(),
        }
    }

    /// The HTTP client (`None`: one from the policy, with its connect timeout and no redirects).
    pub fn with_client(mut self, client: impl Into<Option<reqwest::Client>>) -> Self {
        self.client = client.into();
        self
    }

    /// The HTTP policy (`None`: `HttpPolicy::default()`, a 10 s budget per call).
    pub fn with_policy(mut self, policy: impl Into<Option<HttpPolicy>>) -> Self {
        self.policy = policy.into();
        self
    }

    /// The marketplace's name, added to every event's summary after the client's name.
    pub fn with_marketplace_name(mut self, name: impl Into<Option<String>>) -> Self {
        self.text.marketplace = name.into();
        self
    }

    /// The public base URL: events describe `{base}/appointments/{id}`.
    pub fn with_appointment_base_url(mut self, base: impl Into<Option<String>>) -> Self {
        self.text.appointment_base_url = base.into();
        self
    }

    /// Bounds on recurrence expansion.
    pub fn with_expansion_limits(mut self, limits: ExpansionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The strategy.
    pub fn build(self) -> Result<CaldavStrategy, ProviderHttpError> {
        let policy = self.policy.unwrap_or_default();
        let client = match self.client {
            Some(client) => client,
            None => policy.client()?,
        };
        Ok(CaldavStrategy {
            inner: Arc::new(Inner {
                credentials: self.credentials,
                integrations: self.integrations,
                client,
                policy: Arc::new(policy),
                text: self.text,
                limits: self.limits,
                reported: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// Busy time and appointments of experts whose calendar is on a CalDAV server.
#[derive(Clone)]
pub struct CaldavStrategy {
    inner: Arc<Inner>,
}

struct Inner {
    credentials: Arc<dyn CredentialRepository>,
    integrations: Arc<dyn IntegrationRepository>,
    client: reqwest::Client,
    policy: Arc<HttpPolicy>,
    text: EventText,
    limits: ExpansionLimits,
    /// When a success was last recorded per expert (`false`: a failure since).
    reported: Mutex<HashMap<ExpertId, (Instant, bool)>>,
}

impl fmt::Debug for CaldavStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaldavStrategy")
            .field("policy", &self.inner.policy)
            .field("text", &self.inner.text)
            .finish_non_exhaustive()
    }
}

impl CaldavStrategy {
    /// The HTTP policy of every call.
    pub fn policy(&self) -> &HttpPolicy {
        &self.inner.policy
    }

    /// Checks the credentials against the server and discovers the calendars. Nothing is stored
    /// here: the server stores the answer's credential (through `Provider::connect`) only when
    /// this succeeds. Reconnecting the same account (a new app-specific password) keeps the
    /// expert's calendar choice where its calendars still exist.
    pub async fn connect(
        &self,
        expert: ExpertId,
        server_url: &str,
        username: &str,
        password: Secret<String>,
    ) -> Result<ConnectedAccount, ConnectError> {
        let mut account =
            discovery::discover(&self.inner.client, &self.inner.policy, server_url, username, password).await?;
        match self.inner.credentials.load(expert, INTEGRATION).await {
            Ok(Some(previous)) => {
                if let Ok(previous) = StoredCaldav::from_credential(&previous) {
                    account.credential.keep_choice_of(&previous);
                    account.calendars = account.credential.calendar_infos();
                }
            }
            Ok(None) => {}
            // Only the earlier choice is lost: the new connection starts from the default.
            Err(error) => tracing::warn!(%expert, %error, "the earlier CalDAV connection could not be read"),
        }
        self.inner.forget_failures(expert);
        Ok(account)
    }

    /// The account's calendars, listed afresh from the server (a calendar created or deleted
    /// since connecting shows up or disappears; the choice is kept where it still applies).
    pub async fn calendars(&self, expert: ExpertId) -> Result<Vec<CalendarInfo>, CoreError> {
        let inner = &self.inner;
        let result = async {
            let mut stored = inner.load(expert).await?;
            let http = inner.http(&stored);
            let home: Uri = stored
                .calendar_home_url
                .parse()
                .map_err(|e: http::uri::InvalidUri| DavError::Parse(e.to_string()).into_core())?;
            let listed = discovery::list_home(&http, &home).await.map_err(DavError::into_core)?;
            let calendars: Vec<StoredCalendar> = listed
                .into_iter()
                .filter(|c| c.supports_events())
                .filter_map(|c| {
                    let id = resolve(&home, &c.href).ok()?.to_string();
                    let previous = stored.calendars.iter().find(|p| p.id == id);
                    Some(StoredCalendar {
                        name: c
                            .display_name
                            .clone()
                            .or_else(|| previous.map(|p| p.name.clone()))
                            .unwrap_or_else(|| id.clone()),
                        writable: c.writable,
                        default: previous.is_some_and(|p| p.default),
                        id,
                    })
                })
                .collect();
            if calendars != stored.calendars {
                stored.replace_calendars(calendars);
                inner
                    .credentials
                    .save(expert, INTEGRATION, stored.to_credential())
                    .await?;
            }
            Ok(stored.calendar_infos())
        }
        .await;
        inner.report(expert, result).await
    }

    /// Applies the expert's calendar choice (at least one busy calendar, a writable event
    /// calendar; else `CoreError::InvalidCalendarChoice`) and stores it in the credential. An id
    /// not in the stored list is looked for in a fresh listing (a calendar made since).
    pub async fn choose_calendars(
        &self,
        expert: ExpertId,
        choice: &CalendarChoice,
    ) -> Result<Vec<CalendarInfo>, CoreError> {
        let mut stored = self.inner.load(expert).await?;
        if let Err(ChoiceError::UnknownCalendar(_)) = stored.clone().choose(choice) {
            self.calendars(expert).await?;
            stored = self.inner.load(expert).await?;
        }
        stored.choose(choice)?;
        self.inner
            .credentials
            .save(expert, INTEGRATION, stored.to_credential())
            .await?;
        Ok(stored.calendar_infos())
    }

    /// The connected account (the username), if any.
    pub async fn account(&self, expert: ExpertId) -> Result<Option<String>, CoreError> {
        match self.inner.credentials.load(expert, INTEGRATION).await? {
            Some(credential) => Ok(Some(StoredCaldav::from_credential(&credential)?.username)),
            None => Ok(None),
        }
    }
}

impl Inner {
    async fn load(&self, expert: ExpertId) -> Result<StoredCaldav, CoreError> {
        let credential = self
            .credentials
            .load(expert, INTEGRATION)
            .await?
            .ok_or_else(|| CoreError::NeedsReauth {
                integration: INTEGRATION,
                message: "no CalDAV account is connected".to_owned(),
            })?;
        StoredCaldav::from_credential(&credential)
    }

    fn http(&self, stored: &StoredCaldav) -> PolicyClient {
        PolicyClient::new(
            self.client.clone(),
            self.policy.clone(),
            BasicAuth {
                username: stored.username.clone(),
                password: stored.password.clone(),
            },
        )
    }

    /// Bounds a whole operation (several requests) by the policy's budget, like one call.
    async fn within_budget<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, CoreError>>,
    ) -> Result<T, CoreError> {
        match tokio::time::timeout(self.policy.total_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(CoreError::ProviderUnavailable {
                integration: INTEGRATION,
                message: format!("no answer within {} ms", self.policy.total_timeout.as_millis()),
            }),
        }
    }

    fn forget_failures(&self, expert: ExpertId) {
        self.reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&expert);
    }

    /// Records the outcome where the expert sees it (see the module docs).
    async fn report<T>(&self, expert: ExpertId, result: Result<T, CoreError>) -> Result<T, CoreError> {
        let recorded = match &result {
            Ok(_) => {
                let news = {
                    let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
                    let now = Instant::now();
                    match reported.get(&expert) {
                        Some((at, true)) if now.duration_since(*at) < SUCCESS_REPORT_INTERVAL => false,
                        _ => {
                            reported.insert(expert, (now, true));
                            true
                        }
                    }
                };
                if news {
                    self.integrations.record_success(expert, INTEGRATION).await
                } else {
                    Ok(())
                }
            }
            Err(error) => {
                self.reported
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(expert, (Instant::now(), false));
                match error {
                    CoreError::NeedsReauth { message, .. } => {
                        self.integrations.mark_needs_reauth(expert, INTEGRATION, message).await
                    }
                    other => {
                        self.integrations
                            .record_failure(expert, INTEGRATION, &other.to_string())
                            .await
                    }
                }
            }
        };
        if let Err(error) = recorded {
            self.forget_failures(expert);
            tracing::warn!(%expert, %error, "could not record the CalDAV integration's status");
        }
        result
    }

    async fn busy(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let stored = self.load(expert.id).await?;
        let http = self.http(&stored);
        let mut addresses = stored.user_addresses.clone();
        addresses.push(expert.email.clone());
        if stored.username.contains('@') {
            addresses.push(stored.username.clone());
        }
        let context = ExpansionContext {
            expert_zone: expert.timezone.tz().clone(),
            expert_addresses: addresses,
            limits: self.limits,
        };
        let format = |t: jiff::Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
        let (start, end) = (format(window.start()), format(window.end()));
        // One REPORT per blocking calendar, all at once: the call takes one round trip.
        let queries = stored.busy_calendar_ids.iter().map(|id| {
            let http = &http;
            let (start, end) = (start.clone(), end.clone());
            async move {
                let url: Uri = id
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| DavError::Parse(e.to_string()))?;
                let request = EventsInWindow {
                    calendar_href: url.path(),
                    start,
                    end,
                };
                http.run(&origin(&url)?, &request).await
            }
        });
        let answers = futures_util::future::join_all(queries).await;
        let mut objects = Vec::new();
        let mut failure: Option<DavError> = None;
        for answer in answers {
            match answer {
                Ok(found) => objects.extend(found),
                // A refused password outranks any other failure: it is what the expert must fix.
                Err(e) if failure.as_ref().is_none_or(|f| !f.is_auth()) => failure = Some(e),
                Err(_) => {}
            }
        }
        if let Some(failure) = failure {
            return Err(failure.into_core());
        }
        let span = (window.start(), window.end());
        let mut busy = Vec::new();
        for object in objects {
            match busy_intervals_in(&object.data, &context, span) {
                Ok(found) => busy.extend(found),
                Err(e) => {
                    tracing::warn!(href = %object.href, error = %e, "a calendar object could not be read; it blocks nothing")
                }
            }
        }
        Ok(merge(busy)
            .into_iter()
            .filter_map(|(s, e)| Interval::new(s, e).ok())
            .collect())
    }

    async fn changes(&self, expert: &Expert, cursor: Option<&str>) -> Result<ChangeBatch, CoreError> {
        let stored = self.load(expert.id).await?;
        let Some(calendar) = stored.event_calendar_id.as_deref() else {
            // No calendar receives appointments: none of ours can change. An empty cursor makes
            // the next read a full one.
            return Ok(ChangeBatch {
                changes: Vec::new(),
                cursor: String::new(),
            });
        };
        let calendar: Uri = calendar
            .parse()
            .map_err(|e: http::uri::InvalidUri| DavError::Parse(e.to_string()).into_core())?;
        feed::changes(
            &self.http(&stored),
            &calendar,
            expert.timezone.tz(),
            cursor,
            jiff::Timestamp::now(),
        )
        .await
        .map_err(DavError::into_core)
    }

    fn event_calendar(stored: &StoredCaldav) -> Result<&str, CoreError> {
        stored.event_calendar_id.as_deref().ok_or_else(nowhere)
    }

    /// The event's URL: the one stored with the appointment, or the one its create would use.
    fn event_url(stored: &StoredCaldav, appointment: &Appointment) -> Result<Option<Uri>, CoreError> {
        if let Some(id) = &appointment.external_calendar_event_id {
            if let Ok(url) = id.parse::<Uri>() {
                if matches!(url.scheme_str(), Some("http" | "https")) {
                    return Ok(Some(url));
                }
            }
        }
        match &stored.event_calendar_id {
            Some(calendar) => booking::event_url(calendar, appointment)
                .map(Some)
                .map_err(DavError::into_core),
            None => Ok(None),
        }
    }
}

impl AvailabilityStrategy for CaldavStrategy {
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

    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        Some(self)
    }
}

/// How often the change feed is read: CalDAV has no push.
const POLL_INTERVAL: Duration = Duration::from_secs(60);

#[async_trait]
impl ChangeFeed for CaldavStrategy {
    /// Reads the calendar that receives the expert's appointments (see [`crate::feed`]): with
    /// the cursor's sync token, what changed since (deleted and cancelled events `Removed`,
    /// changed ones `At` their time); without a cursor, or with one the server refuses, every
    /// event from a day ago on, and a new cursor. A server without sync-collection is read by
    /// CTag (`ctag:<value>` cursors). Event ids are the URLs the event writer stored. Sync
    /// tokens belong to one calendar; the service keys cursors by connection, which a change of
    /// the calendar choice renews (and another calendar's token is refused: a full read).
    async fn changes(&self, expert: &Expert, cursor: Option<&str>) -> Result<ChangeBatch, CoreError> {
        let inner = &self.inner;
        let result = inner.within_budget(inner.changes(expert, cursor)).await;
        inner.report(expert.id, result).await
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(POLL_INTERVAL)
    }
}

#[async_trait]
impl BusyTimeSource for CaldavStrategy {
    async fn busy_intervals(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let inner = &self.inner;
        let result = inner.within_budget(inner.busy(expert, window)).await;
        inner.report(expert.id, result).await
    }
}

#[async_trait]
impl EventWriter for CaldavStrategy {
    /// PUT `{event calendar}/{uid}.ics` with `If-None-Match: *`; a retried create finds its own
    /// event (and brings it to the appointment's current time).
    async fn create_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let inner = &self.inner;
        let result = inner
            .within_budget(async {
                let stored = inner.load(expert.id).await?;
                let calendar = Inner::event_calendar(&stored)?;
                let url = booking::event_url(calendar, appointment).map_err(DavError::into_core)?;
                booking::write(&inner.http(&stored), &url, client, appointment, &inner.text, true)
                    .await
                    .map_err(DavError::into_core)?;
                Ok(ExternalEvent::new(url.to_string()))
            })
            .await;
        inner.report(expert.id, result).await
    }

    /// The event at its stored URL (or where its create would have put it) moves to the
    /// appointment's time, with `If-Match`; one that is gone is written anew.
    async fn update_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let inner = &self.inner;
        let result = inner
            .within_budget(async {
                let stored = inner.load(expert.id).await?;
                let url = match Inner::event_url(&stored, appointment)? {
                    Some(url) => url,
                    // No stored event and no event calendar: there is nowhere to write it.
                    None => return Err(nowhere()),
                };
                booking::write(&inner.http(&stored), &url, client, appointment, &inner.text, false)
                    .await
                    .map_err(DavError::into_core)?;
                Ok(ExternalEvent::new(url.to_string()))
            })
            .await;
        inner.report(expert.id, result).await
    }

    /// DELETE with `If-Match`; an event already gone (or never written) is success.
    async fn delete_event(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError> {
        let inner = &self.inner;
        let result = inner
            .within_budget(async {
                let stored = inner.load(expert.id).await?;
                let Some(url) = Inner::event_url(&stored, appointment)? else {
                    // No event calendar and no stored event: nothing was ever written.
                    return Ok(());
                };
                booking::delete(&inner.http(&stored), &url)
                    .await
                    .map_err(DavError::into_core)
            })
            .await;
        inner.report(expert.id, result).await
    }
}

fn nowhere() -> CoreError {
    CoreError::ProviderResponse {
        integration: INTEGRATION,
        message: "the CalDAV account has no writable calendar to receive appointments".to_owned(),
    }
}

//! CalendlyStrategy: the chosen event type's available times are the slots, bookings go through
//! POST /invitees (or, where the account cannot book directly, a single-use scheduling link), and
//! cancellations through POST /scheduled_events/{uuid}/cancellation.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use availability_core::engine::SlotQuery;
use availability_core::ports::{CredentialRepository, IntegrationRepository};
use availability_core::{AvailabilityStrategy, CoreError, ExpertCalendar, ExternalEvent, ProviderBooking, Scheduler};
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{
    Appointment, CalendarType, Client, Expert, ExpertId, IntegrationType, Interval, Secret, Slot,
};
use provider_http::{HttpPolicy, ProviderHttpError, Reply, SendOptions, TokenManager};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::stored::{CalendlyAuth, ChosenEventType, StoredCalendly};
use crate::wire::{self, AvailableTime, Collection, ErrorBody, Resource};
pub(crate) use crate::INTEGRATION;
use crate::{BUSY_TIMES_MAX_SPAN_DAYS, CALENDAR_TYPE, DISPLAY_NAME, START_MARGIN};

/// Available-times requests in flight at once for one slot query: a 93-day query at a 7-day span
/// is 14 requests, which one after the other could exceed the 10 s api.md allows for an answer.
const CONCURRENT_CHUNKS: usize = 4;

/// Pages read at most from one paged list (100 items each).
const MAX_PAGES: usize = 50;

/// Where connecting subscribes webhooks, and the key they are signed with.
pub(crate) struct WebhookTarget {
    pub(crate) url: String,
    pub(crate) signing_key: Secret<String>,
}

pub(crate) struct Inner {
    pub(crate) api_base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) policy: HttpPolicy,
    pub(crate) max_span_days: u32,
    pub(crate) credentials: Arc<dyn CredentialRepository>,
    pub(crate) integrations: Arc<dyn IntegrationRepository>,
    pub(crate) tokens: Option<TokenManager>,
    pub(crate) webhook: Option<WebhookTarget>,
}

/// The Calendly strategy: a [`Scheduler`] (the chosen event type's available times are the slots,
/// Calendly takes the bookings). Build it with [`crate::CalendlyBuilder`].
/// Cheap to clone.
#[derive(Clone)]
pub struct CalendlyStrategy {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for CalendlyStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalendlyStrategy")
            .field("api_base", &self.inner.api_base)
            .field("max_span_days", &self.inner.max_span_days)
            .field("oauth", &self.inner.tokens.is_some())
            .finish_non_exhaustive()
    }
}

/// What a booking came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingOutcome {
    /// Calendly booked it: the invitee (stored as `external_calendar_event_id`) and its event.
    Booked {
        /// `…/scheduled_events/E/invitees/I`.
        invitee_uri: String,
        /// `…/scheduled_events/E`.
        event_uri: String,
    },
    /// The account may not book through the API (403): nothing is booked yet. Send the client to
    /// this single-use link; the booking arrives as an invitee.created webhook.
    SchedulingLink {
        /// Calendly's booking page for exactly one booking of the event type.
        booking_url: String,
    },
}

/// A scheduled event, as GET /scheduled_events/{uuid} gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledEvent {
    /// `…/scheduled_events/<uuid>`.
    pub uri: String,
    /// The event's name (the event type's).
    pub name: Option<String>,
    /// Active (false: canceled).
    pub active: bool,
    /// Its start.
    pub start_time: Timestamp,
    /// Its end.
    pub end_time: Timestamp,
    /// The event type it was booked from.
    pub event_type_uri: Option<String>,
}

/// An invitee of a scheduled event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendlyInvitee {
    /// `…/scheduled_events/E/invitees/I`.
    pub uri: String,
    /// `…/scheduled_events/E`.
    pub event_uri: String,
    /// The invitee's email.
    pub email: String,
    /// The invitee's name.
    pub name: String,
    /// Active (false: canceled).
    pub active: bool,
    /// The invitee's zone, if given.
    pub timezone: Option<String>,
    /// Where the invitee cancels on Calendly.
    pub cancel_url: Option<String>,
    /// Where the invitee reschedules on Calendly (Calendly has no reschedule API).
    pub reschedule_url: Option<String>,
}

/// Who a request is sent as: a token being checked (connecting), or a connected expert.
pub(crate) enum Bearer<'a> {
    Token(&'a Secret<String>),
    Expert(ExpertId, &'a StoredCalendly),
}

/// One POST /invitees, classified.
enum Attempt {
    Booked(BookingOutcome),
    /// 400 already_filled: someone (maybe this very booking, earlier) holds the time.
    Filled,
    /// 400 about the start time: Calendly does not offer it.
    NotOffered(String),
    /// 403: no direct booking for this account.
    Denied,
    /// No answer, or a 5xx: Calendly may have booked.
    Ambiguous(ProviderHttpError),
    Failed(ProviderHttpError),
}

impl CalendlyStrategy {
    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self { inner: Arc::new(inner) }
    }

    /// A builder over the store's credentials and integration status.
    pub fn builder(
        credentials: Arc<dyn CredentialRepository>,
        integrations: Arc<dyn IntegrationRepository>,
    ) -> crate::CalendlyBuilder {
        crate::CalendlyBuilder::new(credentials, integrations)
    }

    /// The longest span of one available-times request, in days.
    pub fn max_span_days(&self) -> u32 {
        self.inner.max_span_days
    }

    /// Books `appointment` (its exact start; its length must be the event type's) for `client`
    /// (name, email, time zone) with POST /invitees. Calendly has no idempotency key, so:
    ///
    /// - an appointment whose `external_calendar_event_id` names an active invitee is booked;
    /// - POST /invitees is never repeated blindly: after an ambiguous failure (no answer, 5xx)
    ///   the invitee is looked for (GET /scheduled_events by start time and invitee email) and a
    ///   found one is the booking; only if none is found is the POST sent once more;
    /// - `already_filled` is the client's own booking if the client is the invitee at that time
    ///   (a retry after a lost answer), else `CoreError::SlotTaken`.
    ///
    /// A time Calendly does not offer is `CoreError::SlotUnavailable`. An account that may not
    /// book through the API (403) gets a single-use scheduling link instead.
    pub async fn book(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<BookingOutcome, CoreError> {
        let stored = self.inner.connection(expert.id).await?;
        let event_type = stored.event_type.clone().ok_or_else(no_event_type)?;
        let time = appointment
            .interval()
            .ok_or_else(|| CoreError::SlotUnavailable("the appointment ends before it starts".into()))?;
        if time.seconds() != i64::from(event_type.duration_minutes) * 60 {
            return Err(CoreError::SlotUnavailable(duration_message(&event_type)));
        }
        let result = self
            .inner
            .book(expert.id, &stored, &event_type, client, appointment, time.start())
            .await;
        self.inner.report(expert.id, result).await
    }

    /// A scheduled event of the expert's Calendly account (for a webhook whose payload has no
    /// `scheduled_event`).
    pub async fn scheduled_event(&self, expert: ExpertId, event_uri: &str) -> Result<ScheduledEvent, CoreError> {
        let stored = self.inner.connection(expert).await?;
        let uuid = wire::uuid_of(event_uri).ok_or_else(|| unusable(format!("{event_uri:?} is not an event URI")))?;
        let bearer = Bearer::Expert(expert, &stored);
        let event: Resource<wire::ScheduledEvent> = self
            .inner
            .get_json(&bearer, &format!("/scheduled_events/{uuid}"), &[])
            .await
            .map_err(|e| e.into_core(INTEGRATION))?;
        let event = event.resource;
        Ok(ScheduledEvent {
            uri: event.uri,
            name: event.name,
            active: event.status != "canceled",
            start_time: event.start_time,
            end_time: event.end_time,
            event_type_uri: event.event_type,
        })
    }

    /// An invitee of the expert's Calendly account (its status, and its cancel and reschedule
    /// pages).
    pub async fn invitee(&self, expert: ExpertId, invitee_uri: &str) -> Result<CalendlyInvitee, CoreError> {
        let stored = self.inner.connection(expert).await?;
        let bearer = Bearer::Expert(expert, &stored);
        self.inner
            .invitee(&bearer, invitee_uri)
            .await
            .map_err(|e| e.into_core(INTEGRATION))
    }

    /// The time of a webhook's event: from its payload, else from GET /scheduled_events/{uuid}.
    pub async fn webhook_event_time(
        &self,
        expert: ExpertId,
        event: &crate::WebhookEvent,
    ) -> Result<Interval, CoreError> {
        if let (Some(start), Some(end)) = (event.start_time, event.end_time) {
            return Interval::new(start, end).map_err(CoreError::from);
        }
        let scheduled = self.scheduled_event(expert, &event.event_uri).await?;
        Interval::new(scheduled.start_time, scheduled.end_time).map_err(CoreError::from)
    }
}

impl CalendlyStrategy {
    /// The Calendly user's busy time (/user_busy_times in 7-day requests): its Calendly events
    /// with their buffers and the busy time of calendars connected to Calendly. The service does
    /// not ask for it (the available times already leave it out); it is here for embedders.
    pub async fn busy_intervals(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let stored = self.inner.connection(expert.id).await?;
        let result = self.inner.busy_times(expert.id, &stored, window).await;
        self.inner.report(expert.id, result).await
    }
}

impl AvailabilityStrategy for CalendlyStrategy {
    fn integration_type(&self) -> IntegrationType {
        INTEGRATION
    }

    fn display_name(&self) -> &'static str {
        DISPLAY_NAME
    }

    fn calendar_type(&self) -> Option<CalendarType> {
        Some(CALENDAR_TYPE)
    }

    fn scheduler(&self) -> Option<&dyn Scheduler> {
        Some(self)
    }
}

#[async_trait]
impl Scheduler for CalendlyStrategy {
    /// The chosen event type's available times in the window (requests of at most the span
    /// setting, never starting before now + [`START_MARGIN`]), each one event type long, minus
    /// the expert's confirmed appointments (with the policy's buffers). The weekly rules, notice
    /// and horizon are Calendly's, not the policy's. Another `duration_minutes` than the event
    /// type's is `CoreError::DurationNotOffered`.
    async fn available_slots(&self, calendar: &ExpertCalendar, query: &SlotQuery) -> Result<Vec<Slot>, CoreError> {
        let expert = calendar.expert.id;
        let stored = self.inner.connection(expert).await?;
        let event_type = stored.event_type.clone().ok_or_else(no_event_type)?;
        if query
            .duration_minutes
            .is_some_and(|minutes| minutes != event_type.duration_minutes)
        {
            return Err(CoreError::DurationNotOffered {
                integration: INTEGRATION,
                offered: event_type.duration_minutes,
            });
        }
        let result = self
            .inner
            .clone()
            .offered_slots(expert, stored, &event_type, query.window, query.now)
            .await;
        let offered = self.inner.report(expert, result).await?;
        let policy = &calendar.expert.booking_policy;
        let before = SignedDuration::from_mins(i64::from(policy.buffer_before_minutes()));
        let after = SignedDuration::from_mins(i64::from(policy.buffer_after_minutes()));
        let appointments = calendar.appointment_intervals();
        Ok(offered
            .into_iter()
            .filter(|slot| {
                let start = slot.start.checked_sub(before).unwrap_or(slot.start);
                let end = slot.end.checked_add(after).unwrap_or(slot.end);
                !appointments.iter().any(|a| a.start() < end && start < a.end())
            })
            .collect())
    }

    /// [`CalendlyStrategy::book`]: booked (the invitee URI is the external event), or, for an
    /// account that may not book through the API, pending at a single-use scheduling link; the
    /// invitee.created webhook of the client's booking there confirms it. Calendly has no API to
    /// reschedule an invitee (cancel + rebook is not a reschedule: cancelling first can lose the
    /// old time, and the invitee gets two emails): moves happen on Calendly's page
    /// ([`CalendlyInvitee::reschedule_url`]) and arrive by webhook.
    async fn book(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ProviderBooking, CoreError> {
        Ok(match CalendlyStrategy::book(self, expert, client, appointment).await? {
            BookingOutcome::Booked { invitee_uri, .. } => ProviderBooking::Booked(ExternalEvent::new(invitee_uri)),
            BookingOutcome::SchedulingLink { booking_url } => ProviderBooking::Pending {
                scheduling_url: booking_url,
            },
        })
    }

    /// Cancels the invitee's scheduled event (`external_calendar_event_id` =
    /// `…/scheduled_events/E/invitees/I` -> POST /scheduled_events/E/cancellation). Already
    /// canceled, or gone, is success; none stored is nothing to do. An event in the past cannot
    /// be cancelled on Calendly: `CoreError::ProviderRefused`.
    async fn cancel(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError> {
        let Some(invitee_uri) = appointment.external_calendar_event_id.as_deref() else {
            return Ok(());
        };
        let event_uuid = wire::event_uuid_of_invitee(invitee_uri)
            .ok_or_else(|| unusable(format!("{invitee_uri:?} is not a Calendly invitee URI")))?;
        let stored = self.inner.connection(expert.id).await?;
        let reason = appointment
            .cancellation_reason
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "Cancelled through the booking platform".to_owned());
        let result = self.inner.cancel(expert.id, &stored, event_uuid, &reason).await;
        self.inner.report(expert.id, result).await
    }
}

impl Inner {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_base)
    }

    /// The expert's stored connection. Not connected, or unreadable (which also marks
    /// needs_reauth), is `NeedsReauth`.
    pub(crate) async fn connection(&self, expert: ExpertId) -> Result<StoredCalendly, CoreError> {
        let Some(credential) = self.credentials.load(expert, INTEGRATION).await? else {
            return Err(CoreError::NeedsReauth {
                integration: INTEGRATION,
                message: "not connected".into(),
            });
        };
        match StoredCalendly::from_credential(&credential) {
            Ok(stored) => Ok(stored),
            Err(why) => {
                let message = format!("the stored Calendly credential cannot be read ({why})");
                self.mark_needs_reauth(expert, &message).await;
                Err(CoreError::NeedsReauth {
                    integration: INTEGRATION,
                    message,
                })
            }
        }
    }

    /// Records how an operation went: success (also a refusal Calendly answered clearly), or
    /// the failure as last_error. NeedsReauth was marked where it was found.
    pub(crate) async fn report<T>(&self, expert: ExpertId, result: Result<T, CoreError>) -> Result<T, CoreError> {
        let recorded = match &result {
            Ok(_) | Err(CoreError::SlotTaken | CoreError::SlotUnavailable(_)) => {
                self.integrations.record_success(expert, INTEGRATION).await
            }
            Err(CoreError::NeedsReauth { .. }) => Ok(()),
            Err(error) => {
                self.integrations
                    .record_failure(expert, INTEGRATION, &error.to_string())
                    .await
            }
        };
        if let Err(error) = recorded {
            tracing::warn!(%expert, integration = %INTEGRATION, %error, "could not record the integration's status");
        }
        result
    }

    pub(crate) async fn mark_needs_reauth(&self, expert: ExpertId, reason: &str) {
        if let Err(error) = self.integrations.mark_needs_reauth(expert, INTEGRATION, reason).await {
            tracing::warn!(%expert, integration = %INTEGRATION, %error, "could not mark the integration needs_reauth");
        }
    }

    /// Sends through the policy with the bearer's token: a token being checked as it is, a
    /// connected expert's personal access token (a 401 marks needs_reauth: there is nothing to
    /// refresh), or an OAuth expert's through the token manager (refresh, once on a 401).
    pub(crate) async fn send<F>(
        &self,
        bearer: &Bearer<'_>,
        options: &SendOptions<'_>,
        mut build: F,
    ) -> Result<Reply, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder + Send,
    {
        let (expert, stored) = match bearer {
            Bearer::Token(token) => return send_with_token(&self.policy, options, &mut build, token).await,
            Bearer::Expert(expert, stored) => (*expert, *stored),
        };
        match &stored.auth {
            CalendlyAuth::PersonalAccessToken(token) => {
                let result = send_with_token(&self.policy, options, &mut build, token).await;
                match result {
                    Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) => {
                        let message = format!(
                            "Calendly refused the personal access token (HTTP 401) at {}; connect again with a new token",
                            Timestamp::now()
                        );
                        self.mark_needs_reauth(expert, &message).await;
                        Err(ProviderHttpError::Core(CoreError::NeedsReauth {
                            integration: INTEGRATION,
                            message,
                        }))
                    }
                    other => other,
                }
            }
            CalendlyAuth::OAuth(_) => match &self.tokens {
                Some(tokens) => tokens.send_authorized(expert, &self.policy, options, build).await,
                None => Err(ProviderHttpError::Core(CoreError::NeedsReauth {
                    integration: INTEGRATION,
                    message: "the expert connected Calendly with OAuth, which this server is not set up for; \
                              connect again with a personal access token"
                        .into(),
                })),
            },
        }
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        bearer: &Bearer<'_>,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ProviderHttpError> {
        let url = self.url(path);
        self.send(bearer, &SendOptions::new(), || self.http.get(&url).query(query))
            .await?
            .json()
    }

    /// Every item of a paged list (`count=100`, following `next_page_token`).
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        bearer: &Bearer<'_>,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ProviderHttpError> {
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = query.to_vec();
            params.push(("count", "100".to_owned()));
            if let Some(token) = page_token.take() {
                params.push(("page_token", token));
            }
            let page: Collection<T> = self.get_json(bearer, path, &params).await?;
            page_token = page.next_page_token();
            items.extend(page.collection);
            if page_token.is_none() {
                return Ok(items);
            }
        }
        Err(ProviderHttpError::Decode(format!(
            "{path} has more than {MAX_PAGES} pages"
        )))
    }

    /// The offered start times in `window` as slots one event type long, sorted and unique.
    async fn offered_slots(
        self: Arc<Self>,
        expert: ExpertId,
        stored: StoredCalendly,
        event_type: &ChosenEventType,
        window: Interval,
        now: Timestamp,
    ) -> Result<Vec<Slot>, CoreError> {
        // Calendly refuses a start_time in the past; a margin keeps a request that takes a
        // moment (or a clock a little behind Calendly's) from arriving with one.
        let earliest = wire::ceil_second(now.checked_add(START_MARGIN).unwrap_or(now));
        let start = wire::ceil_second(window.start()).max(earliest);
        let end = window.end();
        let span = SignedDuration::from_hours(24 * i64::from(self.max_span_days));
        let stored = Arc::new(stored);
        let permits = Arc::new(Semaphore::new(CONCURRENT_CHUNKS));
        let mut requests = JoinSet::new();
        let mut from = start;
        while from < end {
            let to = from.checked_add(span).map_or(end, |t| t.min(end));
            let (inner, stored, permits) = (self.clone(), stored.clone(), permits.clone());
            let query = [
                ("event_type", event_type.uri.clone()),
                ("start_time", wire::time(from)),
                ("end_time", wire::time(to)),
            ];
            requests.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let bearer = Bearer::Expert(expert, &stored);
                inner
                    .get_json::<Collection<AvailableTime>>(&bearer, "/event_type_available_times", &query)
                    .await
            });
            from = to;
        }
        let length = SignedDuration::from_mins(i64::from(event_type.duration_minutes));
        let mut slots = Vec::new();
        // The first failure ends the query; dropping the set cancels the other requests.
        while let Some(joined) = requests.join_next().await {
            let page = joined
                .map_err(|e| CoreError::ProviderUnavailable {
                    integration: INTEGRATION,
                    message: format!("an available-times request did not finish: {e}"),
                })?
                .map_err(|e| e.into_core(INTEGRATION))?;
            slots.extend(
                page.collection
                    .iter()
                    .filter(|t| t.is_available() && t.start_time >= start && t.start_time < end)
                    .filter_map(|t| {
                        let end = t.start_time.checked_add(length).ok()?;
                        Some(Slot {
                            start: t.start_time,
                            end,
                        })
                    }),
            );
        }
        slots.sort();
        slots.dedup();
        Ok(slots)
    }

    async fn busy_times(
        &self,
        expert: ExpertId,
        stored: &StoredCalendly,
        window: Interval,
    ) -> Result<Vec<Interval>, CoreError> {
        let bearer = Bearer::Expert(expert, stored);
        let span = SignedDuration::from_hours(24 * BUSY_TIMES_MAX_SPAN_DAYS);
        let mut busy = Vec::new();
        let mut from = window.start();
        while from < window.end() {
            let to = from.checked_add(span).map_or(window.end(), |t| t.min(window.end()));
            let query = [
                ("user", stored.user_uri.clone()),
                ("start_time", wire::time(from)),
                ("end_time", wire::time(to)),
            ];
            let page: Collection<wire::BusyTime> = self
                .get_json(&bearer, "/user_busy_times", &query)
                .await
                .map_err(|e| e.into_core(INTEGRATION))?;
            busy.extend(page.collection.into_iter().filter_map(|b| {
                let start = b.buffered_start_time.unwrap_or(b.start_time);
                let end = b.buffered_end_time.unwrap_or(b.end_time);
                Interval::new(start, end).ok()
            }));
            from = to;
        }
        busy.sort_by_key(|b| (b.start(), b.end()));
        busy.dedup();
        Ok(busy)
    }

    pub(crate) async fn invitee(
        &self,
        bearer: &Bearer<'_>,
        invitee_uri: &str,
    ) -> Result<CalendlyInvitee, ProviderHttpError> {
        let (Some(event), Some(invitee)) = (wire::event_uuid_of_invitee(invitee_uri), wire::uuid_of(invitee_uri))
        else {
            return Err(ProviderHttpError::Decode(format!(
                "{invitee_uri:?} is not a Calendly invitee URI"
            )));
        };
        let found: Resource<wire::Invitee> = self
            .get_json(bearer, &format!("/scheduled_events/{event}/invitees/{invitee}"), &[])
            .await?;
        Ok(to_invitee(found.resource))
    }

    async fn book(
        &self,
        expert: ExpertId,
        stored: &StoredCalendly,
        event_type: &ChosenEventType,
        client: &Client,
        appointment: &Appointment,
        start: Timestamp,
    ) -> Result<BookingOutcome, CoreError> {
        let bearer = Bearer::Expert(expert, stored);
        let core = |e: ProviderHttpError| e.into_core(INTEGRATION);
        // A retried create of an appointment that already has its invitee.
        if let Some(uri) = appointment.external_calendar_event_id.as_deref() {
            match self.invitee(&bearer, uri).await {
                Ok(invitee) if invitee.active => {
                    return Ok(BookingOutcome::Booked {
                        invitee_uri: invitee.uri,
                        event_uri: invitee.event_uri,
                    })
                }
                Ok(_) => {}
                Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => {}
                Err(error) => return Err(core(error)),
            }
        }
        // At most two POSTs, the second only after looking for the first one's invitee.
        let mut tries = 0;
        loop {
            tries += 1;
            match self.post_invitee(&bearer, event_type, client, start).await {
                Attempt::Booked(outcome) => return Ok(outcome),
                Attempt::Filled => {
                    return match self
                        .find_invitee(&bearer, stored, event_type, start, &client.email)
                        .await
                        .map_err(core)?
                    {
                        Some(booked) => Ok(booked),
                        None => Err(CoreError::SlotTaken),
                    }
                }
                Attempt::NotOffered(reason) => {
                    return Err(CoreError::SlotUnavailable(format!(
                        "Calendly does not offer this time: {reason}"
                    )))
                }
                Attempt::Denied => return self.scheduling_link(&bearer, event_type).await.map_err(core),
                Attempt::Failed(error) => return Err(core(error)),
                Attempt::Ambiguous(error) => {
                    tracing::info!(%expert, %error, "POST /invitees failed without a clear answer; looking for the invitee before retrying");
                    if let Some(booked) = self
                        .find_invitee(&bearer, stored, event_type, start, &client.email)
                        .await
                        .map_err(core)?
                    {
                        return Ok(booked);
                    }
                    if tries >= 2 {
                        return Err(core(error));
                    }
                }
            }
        }
    }

    async fn post_invitee(
        &self,
        bearer: &Bearer<'_>,
        event_type: &ChosenEventType,
        client: &Client,
        start: Timestamp,
    ) -> Attempt {
        let url = self.url("/invitees");
        let body = json!({
            "event_type": event_type.uri,
            "start_time": wire::time(start),
            "invitee": {"name": client.name, "email": client.email, "timezone": client.timezone.name()},
        });
        // Not idempotent: the policy retries only what certainly did not arrive (429, no
        // connection); everything else comes back here to be looked for.
        let options = SendOptions::new().idempotent(false);
        let result = self.send(bearer, &options, || self.http.post(&url).json(&body)).await;
        let error = match result {
            Ok(reply) => {
                return match reply.json::<Resource<wire::Invitee>>() {
                    Ok(created) => Attempt::Booked(BookingOutcome::Booked {
                        invitee_uri: created.resource.uri,
                        event_uri: created.resource.event,
                    }),
                    // Booked, but the answer is unreadable: look for it like a lost answer.
                    Err(error) => Attempt::Ambiguous(error),
                };
            }
            Err(error) => error,
        };
        match &error {
            ProviderHttpError::Status { status, body, .. } if *status == StatusCode::BAD_REQUEST => {
                let body = ErrorBody::parse(body);
                if body.has_code("already_filled") {
                    Attempt::Filled
                } else if body.is_about("start_time") {
                    Attempt::NotOffered(body.reason())
                } else {
                    Attempt::Failed(error)
                }
            }
            ProviderHttpError::Status { status, .. } if *status == StatusCode::FORBIDDEN => Attempt::Denied,
            ProviderHttpError::Status { status, transient, .. }
                if *transient && *status != StatusCode::TOO_MANY_REQUESTS =>
            {
                Attempt::Ambiguous(error)
            }
            ProviderHttpError::Timeout(_) | ProviderHttpError::Transport(_) => Attempt::Ambiguous(error),
            _ => Attempt::Failed(error),
        }
    }

    /// The client's active invitee of the event type at exactly `start`, if there is one.
    async fn find_invitee(
        &self,
        bearer: &Bearer<'_>,
        stored: &StoredCalendly,
        event_type: &ChosenEventType,
        start: Timestamp,
        email: &str,
    ) -> Result<Option<BookingOutcome>, ProviderHttpError> {
        let until = start.checked_add(SignedDuration::from_mins(1)).unwrap_or(start);
        let query = [
            ("user", stored.user_uri.clone()),
            ("invitee_email", email.to_owned()),
            ("status", "active".to_owned()),
            ("min_start_time", wire::time(start)),
            ("max_start_time", wire::time(until)),
            ("sort", "start_time:asc".to_owned()),
        ];
        let events: Vec<wire::ScheduledEvent> = self.get_all(bearer, "/scheduled_events", &query).await?;
        let candidates = events.iter().filter(|e| {
            e.start_time == start
                && e.status != "canceled"
                && e.event_type.as_deref().is_none_or(|t| t == event_type.uri)
        });
        for event in candidates {
            let Some(uuid) = wire::uuid_of(&event.uri) else {
                continue;
            };
            let query = [("email", email.to_owned()), ("status", "active".to_owned())];
            let invitees: Vec<wire::Invitee> = self
                .get_all(bearer, &format!("/scheduled_events/{uuid}/invitees"), &query)
                .await?;
            if let Some(invitee) = invitees
                .into_iter()
                .find(|i| i.email.eq_ignore_ascii_case(email) && i.status != "canceled")
            {
                return Ok(Some(BookingOutcome::Booked {
                    invitee_uri: invitee.uri,
                    event_uri: invitee.event,
                }));
            }
        }
        Ok(None)
    }

    async fn scheduling_link(
        &self,
        bearer: &Bearer<'_>,
        event_type: &ChosenEventType,
    ) -> Result<BookingOutcome, ProviderHttpError> {
        let url = self.url("/scheduling_links");
        let body = json!({"max_event_count": 1, "owner": event_type.uri, "owner_type": "EventType"});
        // A second single-use link, should a retry make one, is harmless.
        let options = SendOptions::new().idempotent(true);
        let link: Resource<wire::SchedulingLink> = self
            .send(bearer, &options, || self.http.post(&url).json(&body))
            .await?
            .json()?;
        Ok(BookingOutcome::SchedulingLink {
            booking_url: link.resource.booking_url,
        })
    }

    async fn cancel(
        &self,
        expert: ExpertId,
        stored: &StoredCalendly,
        event_uuid: &str,
        reason: &str,
    ) -> Result<(), CoreError> {
        let bearer = Bearer::Expert(expert, stored);
        let url = self.url(&format!("/scheduled_events/{event_uuid}/cancellation"));
        let body = json!({ "reason": reason });
        // Repeating it is harmless: a second one answers "already canceled".
        let options = SendOptions::new().idempotent(true);
        match self.send(&bearer, &options, || self.http.post(&url).json(&body)).await {
            Ok(_) => Ok(()),
            Err(ProviderHttpError::Status { status, .. }) if status == StatusCode::NOT_FOUND => Ok(()),
            Err(ProviderHttpError::Status { status, body, .. }) if status == StatusCode::FORBIDDEN => {
                let reason = ErrorBody::parse(&body).reason().to_lowercase();
                if reason.contains("already canceled") || reason.contains("already cancelled") {
                    Ok(())
                } else if reason.contains("past") {
                    Err(CoreError::ProviderRefused {
                        integration: INTEGRATION,
                        message: "Calendly does not cancel an event in the past".into(),
                    })
                } else {
                    Err(ProviderHttpError::Status {
                        status,
                        body,
                        transient: false,
                    }
                    .into_core(INTEGRATION))
                }
            }
            Err(error) => Err(error.into_core(INTEGRATION)),
        }
    }
}

pub(crate) fn to_invitee(invitee: wire::Invitee) -> CalendlyInvitee {
    CalendlyInvitee {
        active: invitee.status != "canceled",
        uri: invitee.uri,
        event_uri: invitee.event,
        email: invitee.email,
        name: invitee.name,
        timezone: invitee.timezone,
        cancel_url: invitee.cancel_url,
        reschedule_url: invitee.reschedule_url,
    }
}

async fn send_with_token<F>(
    policy: &HttpPolicy,
    options: &SendOptions<'_>,
    build: &mut F,
    token: &Secret<String>,
) -> Result<Reply, ProviderHttpError>
where
    F: FnMut() -> RequestBuilder,
{
    let reply = policy
        .send_raw(options, || build().bearer_auth(token.expose()))
        .await
        .and_then(Reply::error_for_status);
    reply.map_err(|error| match error {
        // Calendly does not echo tokens, but an error body is provider text: make sure.
        ProviderHttpError::Status {
            status,
            body,
            transient,
        } if token.expose().len() >= 4 => ProviderHttpError::Status {
            status,
            body: body.replace(token.expose().as_str(), "[redacted]"),
            transient,
        },
        other => other,
    })
}

fn no_event_type() -> CoreError {
    CoreError::NeedsReauth {
        integration: INTEGRATION,
        message: "no Calendly event type is chosen for this expert: choose one (or connect again)".into(),
    }
}

fn duration_message(event_type: &ChosenEventType) -> String {
    format!(
        "the duration is the Calendly event type's ({} minutes)",
        event_type.duration_minutes
    )
}

pub(crate) fn unusable(message: String) -> CoreError {
    CoreError::ProviderResponse {
        integration: INTEGRATION,
        message,
    }
}

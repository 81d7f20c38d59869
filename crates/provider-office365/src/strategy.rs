//! [`Office365CalendarStrategy`]: busy time from getSchedule (calendarView for personal accounts),
//! appointments as events in the expert's default calendar.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use availability_core::{
    AvailabilityStrategy, BusyTimeSource, ChangeBatch, ChangeFeed, ChannelRequest, CoreError, EventWriter,
    ExternalEvent, IntegrationRepository, Meeting, OpenedChannel, PushChannels, PushDelivery, VideoMeetings,
    WebhookRequest,
};
use availability_domain::jiff::{civil, SignedDuration, Timestamp};
use availability_domain::{
    Appointment, CalendarType, Client, Expert, ExpertId, IntegrationType, Interval, Schedule, VideoPolicy,
};
use provider_http::{TokenManager, TokenSet};
use serde_json::{json, Value};

use crate::graph::{self, Graph, GraphEvent, ScheduleAnswer};
use crate::settings::{Office365Account, Office365Settings};
use crate::time::{chunks, DateTimeTimeZone};
use crate::working_hours::WorkingHours;
use crate::{Office365Builder, CALENDAR_TYPE, DISPLAY_NAME, INTEGRATION};

/// The longest window one Graph request covers. getSchedule refuses 62 days or more; calendarView
/// takes the same chunks so that one request's pages stay few.
pub const MAX_CHUNK_DAYS: i64 = 31;

/// How far the lookup of an unsynced appointment's event reaches at most (see
/// [`Office365CalendarStrategy`]'s cancel).
const LOOKUP_DAYS: i64 = 400;

/// A success is written to the integration's status at most this often per expert (a failure
/// always is, and the next success after it too).
const SUCCESS_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// Microsoft 365 / Outlook as an availability source, over Microsoft Graph.
///
/// - Busy time: POST /me/calendar/getSchedule for the expert's mailbox (`busy`, `tentative`,
///   `oof` and any status it does not know block time; `free` and `workingElsewhere` do not), in
///   chunks of at most 31 days (Graph refuses 62 days or more). Where getSchedule is not
///   available (personal Microsoft accounts), GET /me/calendarView, every page followed
///   (`showAs` free or workingElsewhere and cancelled occurrences do not block).
/// - Appointments: POST /me/events with `transactionId` = the appointment id, the client as a
///   required attendee, `showAs: busy`, times in UTC; PATCH to reschedule; DELETE to cancel (an
///   event already gone is success).
/// - Every call goes through the platform's [`provider_http::HttpPolicy`] with the expert's
///   token ([`TokenManager`]: refreshed before expiry and once on a 401, the rotated refresh token
///   stored before use), and holds one of 4 places per expert in one
///   [`provider_http::AccountLimiter`] (Outlook allows 4 concurrent requests per mailbox; an
///   expert connects one mailbox).
///
/// Cancelling an appointment that never got its event id (cancelled before the outbox synced
/// it): Graph cannot filter events by `transactionId`, so the strategy reads calendarView over
/// every time the appointment can have had (from its creation to the booking horizon, at most 400
/// days) and deletes the events whose `transactionId` is the appointment's. This covers a create
/// whose answer was lost. The alternative, creating (which returns an existing event for the
/// same transactionId) and then deleting, would send the client an invitation and at once a
/// cancellation; answering success without looking would leave such an event behind.
pub struct Office365CalendarStrategy {
    graph: Graph,
    health: Health,
}

impl fmt::Debug for Office365CalendarStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Office365CalendarStrategy")
            .field("graph", &self.graph)
            .finish_non_exhaustive()
    }
}

/// Busy time of one window, with the working hours getSchedule reported beside it.
struct BusyTime {
    intervals: Vec<Interval>,
    working_hours: Option<WorkingHours>,
}

fn unusable(message: impl Into<String>) -> CoreError {
    CoreError::ProviderResponse {
        integration: INTEGRATION,
        message: message.into(),
    }
}

/// Whether a getSchedule status or an event's showAs blocks time. Compared case-insensitively;
/// a status Graph adds later (or `unknown`) blocks, since offering a time that may be taken is
/// worse than hiding one that may be free.
fn blocks(status: Option<&str>) -> bool {
    match status.map(str::trim) {
        Some(s) => !(s.eq_ignore_ascii_case("free") || s.eq_ignore_ascii_case("workingElsewhere")),
        None => true,
    }
}

impl Office365CalendarStrategy {
    pub(crate) fn new(graph: Graph, integrations: Arc<dyn IntegrationRepository>) -> Self {
        Office365CalendarStrategy {
            graph,
            health: Health {
                integrations,
                reported: Mutex::new(HashMap::new()),
            },
        }
    }

    /// A builder with the real Microsoft endpoints as defaults.
    pub fn builder() -> Office365Builder {
        Office365Builder::new()
    }

    /// The token manager the strategy sends with.
    pub fn tokens(&self) -> &TokenManager {
        &self.graph.tokens
    }

    /// The account behind a new grant (GET /me with its access token), before it is stored.
    pub async fn account_of_grant(&self, tokens: &TokenSet) -> Result<Office365Account, CoreError> {
        graph::me_with_token(
            self.graph.base(),
            self.graph.client(),
            self.graph.policy(),
            &tokens.access_token,
        )
        .await
    }

    /// Stores the grant of an OAuth callback: reads the account (GET /me), then stores the tokens
    /// with the address as the account shown to the expert and the mailbox settings in `extra`.
    pub async fn store_grant(&self, expert: ExpertId, tokens: TokenSet) -> Result<Office365Account, CoreError> {
        let account = self.account_of_grant(&tokens).await?;
        self.graph
            .tokens
            .store_new_grant(expert, tokens, Some(account.address.clone()), account.extra())
            .await?;
        Ok(account)
    }

    /// The account of the expert's stored grant, read afresh from GET /me; the mailbox and
    /// whether it is personal are remembered in the grant's `extra`.
    pub async fn account(&self, expert: ExpertId) -> Result<Office365Account, CoreError> {
        let account = self.graph.me(expert).await?;
        let (address, personal) = (account.address.clone(), account.personal);
        self.change_settings(expert, move |s| {
            if s.mailbox.as_deref() != Some(address.as_str()) {
                // Another mailbox: what was learnt about the old one does not hold.
                s.schedule_unavailable = false;
            }
            s.mailbox = Some(address);
            s.personal = personal;
        })
        .await?;
        Ok(account)
    }

    /// The settings stored with the expert's grant.
    pub async fn settings(&self, expert: ExpertId) -> Result<Office365Settings, CoreError> {
        let stored = self.graph.tokens.stored(expert).await?;
        Ok(Office365Settings::from_extra(&stored.extra))
    }

    /// Outlook's working hours of the expert's mailbox as a schedule (getSchedule's
    /// `workingHours`, its Windows zone mapped to IANA; `typed`'s date overrides kept when it is
    /// in the same zone). `None` where Graph does not report them (personal accounts). A server
    /// can store this as the expert's schedule, so that booking validation (which reads the
    /// stored schedule) agrees with slots computed from Outlook's hours.
    pub async fn outlook_working_hours(
        &self,
        expert: &Expert,
        typed: &Schedule,
    ) -> Result<Option<Schedule>, CoreError> {
        let now = Timestamp::now();
        let day = Interval::new(now, now + SignedDuration::from_hours(24)).map_err(|e| unusable(e.to_string()))?;
        let busy = self.read_busy_time(expert, day).await?;
        busy.working_hours
            .map(|hours| hours.schedule(typed).map_err(unusable))
            .transpose()
    }

    async fn change_settings<F>(&self, expert: ExpertId, change: F) -> Result<(), CoreError>
    where
        F: FnOnce(&mut Office365Settings),
    {
        self.graph
            .tokens
            .update_extra(expert, |extra| {
                let mut settings = Office365Settings::from_extra(extra);
                change(&mut settings);
                settings.write_to(extra);
            })
            .await
    }

    async fn read_busy_time(&self, expert: &Expert, window: Interval) -> Result<BusyTime, CoreError> {
        let stored = self.graph.tokens.stored(expert.id).await?;
        let mut settings = Office365Settings::from_extra(&stored.extra);
        if settings.mailbox.is_none() {
            // A grant stored without the account (the server's callback stores none): learn it once.
            self.account(expert.id).await?;
            settings = self.settings(expert.id).await?;
        }
        if let (Some(mailbox), false, false) = (&settings.mailbox, settings.personal, settings.schedule_unavailable) {
            match self.busy_from_schedule(expert.id, mailbox, window).await? {
                Ok((intervals, working_hours)) => {
                    return Ok(BusyTime {
                        intervals,
                        working_hours,
                    })
                }
                Err(reason) => {
                    let intervals = self.busy_from_calendar_view(expert, window).await?;
                    tracing::info!(expert = %expert.id, %reason, "getSchedule is not available for this mailbox; using calendarView from now on");
                    if let Err(error) = self.change_settings(expert.id, |s| s.schedule_unavailable = true).await {
                        tracing::warn!(expert = %expert.id, %error, "could not remember that getSchedule is not available");
                    }
                    return Ok(BusyTime {
                        intervals,
                        working_hours: None,
                    });
                }
            }
        }
        Ok(BusyTime {
            intervals: self.busy_from_calendar_view(expert, window).await?,
            working_hours: None,
        })
    }

    /// getSchedule over every chunk; `Ok(Err(reason))` when it is not available for the mailbox.
    async fn busy_from_schedule(
        &self,
        expert: ExpertId,
        mailbox: &str,
        window: Interval,
    ) -> Result<Result<(Vec<Interval>, Option<WorkingHours>), String>, CoreError> {
        let mut intervals = Vec::new();
        let mut hours = None;
        for chunk in chunks(window, SignedDuration::from_hours(MAX_CHUNK_DAYS * 24)) {
            let (items, working_hours) = match self.graph.get_schedule(expert, mailbox, chunk).await? {
                ScheduleAnswer::Items { items, working_hours } => (items, working_hours),
                ScheduleAnswer::Unavailable(reason) => return Ok(Err(reason)),
            };
            hours = hours.or(working_hours);
            for item in items.iter().filter(|item| blocks(item.status.as_deref())) {
                intervals.extend(crate::time::interval(&item.start, &item.end).map_err(unusable)?);
            }
        }
        intervals.sort();
        intervals.dedup();
        Ok(Ok((intervals, hours)))
    }

    async fn busy_from_calendar_view(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let mut intervals = Vec::new();
        for chunk in chunks(window, SignedDuration::from_hours(MAX_CHUNK_DAYS * 24)) {
            for event in self.graph.calendar_view(expert.id, chunk).await? {
                if event.is_cancelled == Some(true) || !blocks(event.show_as.as_deref()) {
                    continue;
                }
                intervals.extend(event_busy_time(expert, &event)?);
            }
        }
        intervals.sort();
        intervals.dedup();
        Ok(intervals)
    }

    /// Creates the event (or gets the one a earlier try created: same transactionId) and makes
    /// sure it holds the appointment's current time.
    async fn write_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
        transaction_id: &str,
    ) -> Result<ExternalEvent, CoreError> {
        let teams = *expert.booking_policy.video() == VideoPolicy::Provider;
        let body = event_body(client, appointment, transaction_id, teams);
        let event = self.graph.create_event(expert.id, &body).await?;
        let id = event
            .id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| unusable("POST /me/events answered an event without an id"))?;
        // A retried create returns the event made first, which may hold an earlier time.
        if graph::event_interval(&event)? != appointment.interval()
            && self
                .graph
                .patch_event(expert.id, &id, &times_body(appointment))
                .await?
                .is_none()
        {
            return Err(unusable(
                "the event made for this appointment vanished while it was being moved",
            ));
        }
        let reference = ExternalEvent::new(id);
        if !teams {
            return Ok(reference);
        }
        Ok(reference.with_meeting(self.meeting_of(expert.id, &event).await?))
    }

    /// The event's Teams meeting, or why it has none: Graph makes the event without an online
    /// meeting when the account's calendar does not offer Teams (a personal Microsoft account
    /// offers `skypeForConsumer` only), so the calendar's `allowedOnlineMeetingProviders` says why.
    async fn meeting_of(&self, expert: ExpertId, event: &GraphEvent) -> Result<Meeting, CoreError> {
        if let Some(url) = event.join_url() {
            return Ok(Meeting::Ready { url });
        }
        let offered = self
            .graph
            .default_calendar(expert)
            .await?
            .map(|c| c.allowed_online_meeting_providers)
            .unwrap_or_default();
        let reason = if offered.iter().any(|p| p == "teamsForBusiness") {
            "Microsoft made the event without a Teams meeting".to_owned()
        } else if offered.is_empty() {
            "this Microsoft account cannot make Teams meetings (its calendar offers no online meetings)".to_owned()
        } else {
            format!(
                "this Microsoft account cannot make Teams meetings (a personal account? its calendar offers {} only)",
                offered.join(", ")
            )
        };
        Ok(Meeting::Unavailable { reason })
    }

    /// Events whose transactionId says they were made for `appointment`, anywhere it can have been.
    async fn events_of(&self, expert: &Expert, appointment: &Appointment) -> Result<Vec<String>, CoreError> {
        let horizon = i64::from(expert.booking_policy.booking_horizon_days()) + 1;
        let lower = appointment.created_at.min(appointment.start_time);
        let upper = appointment
            .end_time
            .max(Timestamp::now() + SignedDuration::from_hours(horizon * 24));
        let cap = lower + SignedDuration::from_hours(LOOKUP_DAYS * 24);
        let upper = upper.min(cap).max(appointment.end_time);
        let Ok(window) = Interval::new(lower, upper) else {
            return Ok(Vec::new());
        };
        let key = appointment.id.to_string();
        let recreated = format!("{key}-");
        let mut ids = Vec::new();
        for chunk in chunks(window, SignedDuration::from_hours(MAX_CHUNK_DAYS * 24)) {
            for event in self.graph.calendar_view(expert.id, chunk).await? {
                let ours = event
                    .transaction_id
                    .as_deref()
                    .is_some_and(|t| t == key || t.starts_with(&recreated));
                if let (true, Some(id)) = (ours, event.id) {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        Ok(ids)
    }

    async fn create(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        self.write_event(expert, client, appointment, &appointment.id.to_string())
            .await
    }

    async fn update(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let Some(id) = external_id(appointment) else {
            return self.create(expert, client, appointment).await;
        };
        if self
            .graph
            .patch_event(expert.id, id, &times_body(appointment))
            .await?
            .is_some()
        {
            return Ok(ExternalEvent::new(id.to_owned()));
        }
        // Deleted in Outlook meanwhile: the appointment still stands, so it is written again. Not
        // under the appointment's own transactionId, which Graph may still tie to the deleted
        // event, but under one derived from the deleted event's id (the same on every retry).
        let transaction_id = format!("{}-{:016x}", appointment.id, fnv1a(id.as_bytes()));
        self.write_event(expert, client, appointment, &transaction_id).await
    }

    async fn cancel(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError> {
        if let Some(id) = external_id(appointment) {
            return self.graph.delete_event(expert.id, id).await;
        }
        for id in self.events_of(expert, appointment).await? {
            self.graph.delete_event(expert.id, &id).await?;
        }
        Ok(())
    }
}

fn external_id(appointment: &Appointment) -> Option<&str> {
    appointment
        .external_calendar_event_id
        .as_deref()
        .filter(|id| !id.is_empty())
}

/// FNV-1a, 64 bits: a stable digest (unlike std's hasher, the same in every build).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The event of a new appointment; `teams`: with a Teams meeting (made once per transactionId,
/// so a retried create returns the first event with its meeting).
fn event_body(client: &Client, appointment: &Appointment, transaction_id: &str, teams: bool) -> Value {
    let mut body = json!({
        "subject": format!("Appointment with {}", client.name),
        "start": DateTimeTimeZone::utc(appointment.start_time),
        "end": DateTimeTimeZone::utc(appointment.end_time),
        "attendees": [{
            "emailAddress": {"address": client.email, "name": client.name},
            "type": "required",
        }],
        "showAs": "busy",
        "transactionId": transaction_id,
    });
    if let (true, Some(map)) = (teams, body.as_object_mut()) {
        map.insert("isOnlineMeeting".into(), json!(true));
        map.insert("onlineMeetingProvider".into(), json!("teamsForBusiness"));
    }
    body
}

fn times_body(appointment: &Appointment) -> Value {
    json!({
        "start": DateTimeTimeZone::utc(appointment.start_time),
        "end": DateTimeTimeZone::utc(appointment.end_time),
        "showAs": "busy",
    })
}

/// The time an event of calendarView blocks. An all-day event whose times are local midnights
/// (not converted by Graph) covers whole dates in the expert's zone; any other event its instants.
fn event_busy_time(expert: &Expert, event: &GraphEvent) -> Result<Option<Interval>, CoreError> {
    if event.is_all_day == Some(true) {
        let midnight = |value: &Option<DateTimeTimeZone>| {
            value
                .as_ref()
                .and_then(DateTimeTimeZone::civil)
                .filter(|civil| civil.time() == civil::Time::midnight())
                .map(|civil| civil.date())
        };
        if let (Some(first), Some(after)) = (midnight(&event.start), midnight(&event.end)) {
            let tz = expert.timezone.tz();
            let start = tz.to_timestamp(first.to_datetime(civil::Time::midnight()));
            let end = tz.to_timestamp(after.to_datetime(civil::Time::midnight()));
            if let (Ok(start), Ok(end)) = (start, end) {
                return Ok(Interval::new(start, end).ok());
            }
        }
    }
    graph::event_interval(event)
}

/// Writes what happened to the integration's status: every failure that is the provider's, and
/// successes at most once a minute per expert (the busy-time path runs on every uncached slot
/// query, and a write per query would cost more than the query).
struct Health {
    integrations: Arc<dyn IntegrationRepository>,
    reported: Mutex<HashMap<ExpertId, Instant>>,
}

impl Health {
    async fn observe<T>(&self, expert: ExpertId, result: Result<T, CoreError>) -> Result<T, CoreError> {
        match &result {
            Ok(_) => {
                if self.success_due(expert) {
                    if let Err(error) = self.integrations.record_success(expert, INTEGRATION).await {
                        tracing::warn!(%expert, %error, "could not record the integration's success");
                    }
                }
            }
            Err(error @ (CoreError::ProviderUnavailable { .. } | CoreError::ProviderResponse { .. })) => {
                self.forget(expert);
                let reason = error.to_string();
                if let Err(error) = self.integrations.record_failure(expert, INTEGRATION, &reason).await {
                    tracing::warn!(%expert, %error, "could not record the integration's failure");
                }
            }
            // needs_reauth is marked by the token manager, which knows why.
            Err(_) => self.forget(expert),
        }
        result
    }

    fn success_due(&self, expert: ExpertId) -> bool {
        let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if reported
            .get(&expert)
            .is_some_and(|at| now.duration_since(*at) < SUCCESS_REPORT_INTERVAL)
        {
            return false;
        }
        if reported.len() >= 10_000 {
            reported.retain(|_, at| now.duration_since(*at) < SUCCESS_REPORT_INTERVAL);
        }
        reported.insert(expert, now);
        true
    }

    fn forget(&self, expert: ExpertId) {
        self.reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&expert);
    }
}

impl AvailabilityStrategy for Office365CalendarStrategy {
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
impl ChangeFeed for Office365CalendarStrategy {
    /// Reads the expert's default calendar (where appointments go) with calendarView delta
    /// queries, every page: with the cursor's deltaLink, what changed since; without one, or when
    /// Graph expired it (410 syncStateNotFound), every event from a day ago to 400 days ahead.
    /// Removed rows are confirmed with a read of the event (an event moved out of the window is
    /// reported removed too); cancelled events are removed. The cursor is the
    /// round's `@odata.deltaLink`, followed only if it points at the configured Graph.
    async fn changes(&self, expert: &Expert, cursor: Option<&str>) -> Result<ChangeBatch, CoreError> {
        let result = self.graph.changes(expert.id, cursor).await;
        self.health.observe(expert.id, result).await
    }
}

#[async_trait]
impl PushChannels for Office365CalendarStrategy {
    /// A subscription to `me/events` (created, updated, deleted), `clientState` the request's
    /// token, lifecycle notifications to the same address, at most three days (api.md). Push is
    /// an optimisation over polling: its failures are not the integration's status.
    async fn open_channel(&self, expert: &Expert, request: &ChannelRequest) -> Result<OpenedChannel, CoreError> {
        self.graph.subscribe(expert.id, request).await
    }

    /// PATCH of the subscription's expiration; None when Graph no longer knows it.
    async fn renew_channel(
        &self,
        expert: &Expert,
        channel_id: &str,
        ttl_seconds: i64,
    ) -> Result<Option<Timestamp>, CoreError> {
        self.graph.renew(expert.id, channel_id, ttl_seconds).await
    }

    /// DELETE of the subscription; one already gone is success.
    async fn close_channel(&self, expert: &Expert, channel_id: &str, _resource_id: &str) -> Result<(), CoreError> {
        self.graph.unsubscribe(expert.id, channel_id).await
    }

    /// Graph's validation handshake (`?validationToken=`), or its notifications and lifecycle
    /// notifications (`{"value": [...]}`, the subscription id and `clientState` of each).
    fn read_delivery(&self, request: &WebhookRequest<'_>) -> Option<PushDelivery> {
        crate::sync::read_delivery(request)
    }

    /// Graph asks for 202 within 3 s, the work done afterwards.
    fn answers_accepted(&self) -> bool {
        true
    }
}

#[async_trait]
impl VideoMeetings for Office365CalendarStrategy {
    /// Reads the appointment's event for its Teams meeting.
    async fn meeting(&self, expert: &Expert, appointment: &Appointment) -> Result<Meeting, CoreError> {
        let read = async {
            let Some(id) = external_id(appointment) else {
                return Ok(Meeting::Unavailable {
                    reason: "the appointment has no Outlook event yet".into(),
                });
            };
            match self.graph.get_event(expert.id, id).await? {
                Some(event) => self.meeting_of(expert.id, &event).await,
                None => Ok(Meeting::Unavailable {
                    reason: "the Outlook event of this appointment is gone".into(),
                }),
            }
        }
        .await;
        self.health.observe(expert.id, read).await
    }
}

#[async_trait]
impl BusyTimeSource for Office365CalendarStrategy {
    async fn busy_intervals(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let busy = self.read_busy_time(expert, window).await;
        self.health.observe(expert.id, busy).await.map(|busy| busy.intervals)
    }
}

#[async_trait]
impl EventWriter for Office365CalendarStrategy {
    async fn create_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let created = self.create(expert, client, appointment).await;
        self.health.observe(expert.id, created).await
    }

    async fn update_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let updated = self.update(expert, client, appointment).await;
        self.health.observe(expert.id, updated).await
    }

    async fn delete_event(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError> {
        let cancelled = self.cancel(expert, appointment).await;
        self.health.observe(expert.id, cancelled).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_that_block_time() {
        for status in ["busy", "Busy", "tentative", "oof", "OOF", "unknown", "somethingNew"] {
            assert!(blocks(Some(status)), "{status}");
        }
        for status in ["free", "Free", "workingElsewhere", "WORKINGELSEWHERE"] {
            assert!(!blocks(Some(status)), "{status}");
        }
        assert!(blocks(None));
    }

    #[test]
    fn fnv1a_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}

//! AvailabilityService: the one entry point for slots and bookings. It picks the strategy from the
//! expert's integration type, composes its parts (busy time through the cache, the scheduler, the
//! event writer) with the engine, and runs the same engine to show slots and to accept a booking.
//! What a provider reports about its bookings is decided here too (`reported.rs`), so an
//! embedder gets the same behaviour as the server.

mod calendar_sync;
mod directory;
mod reported;
mod slot_memo;

pub use calendar_sync::CalendarSyncSummary;
pub use directory::{check_directory_question, DirectoryAnswer, FreeTime, Listed};

use std::sync::Arc;

use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingPolicy, CancelledBy, ClientId, ExpertId, Hold, HoldId,
    Interval, NewAppointment, Recurrence, Schedule, Series, SeriesId, Slot, SyncStatus, VideoPolicy,
};

use crate::busy_cache::{BusyCache, BusyKey};
use crate::clock::{Clock, SystemClock};
use crate::engine;
use crate::engine::{BookingContext, BusyTime, Explanation, Requester, SlotQuery};
use crate::ports::{AppointmentRepository, BookingGuard, ExpertRepository, NewSeries, SeriesBooking};
use crate::strategy::{
    busy_window, counted_window, with_counted, AvailabilityStrategy, BusyTimeSource, ExpertCalendar, ExternalEvent,
    Meeting, StrategyRegistry,
};
use crate::CoreError;

/// The longest slot query, in days (api.md).
pub const MAX_QUERY_DAYS: i64 = 93;

/// Computes slots and books, reschedules and cancels appointments for any integration type.
#[derive(Clone)]
pub struct AvailabilityService {
    experts: Arc<dyn ExpertRepository>,
    appointments: Arc<dyn AppointmentRepository>,
    strategies: StrategyRegistry,
    clock: Arc<dyn Clock>,
    write_external_events: bool,
    busy_cache: Arc<BusyCache>,
    slot_memo: Arc<slot_memo::SlotMemo>,
}

impl std::fmt::Debug for AvailabilityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvailabilityService")
            .field("strategies", &self.strategies)
            .finish_non_exhaustive()
    }
}

impl AvailabilityService {
    /// A service over the given ports and strategies, on the system clock.
    pub fn new(
        experts: Arc<dyn ExpertRepository>,
        appointments: Arc<dyn AppointmentRepository>,
        strategies: StrategyRegistry,
    ) -> Self {
        Self {
            experts,
            appointments,
            strategies,
            clock: Arc::new(SystemClock),
            write_external_events: true,
            busy_cache: Arc::new(BusyCache::new()),
            slot_memo: Arc::default(),
        }
    }

    /// Uses another clock (tests, simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether bookings are written to the expert's external calendar right after they are stored
    /// (the default, for embedders). A server with a durable outbox turns this off and lets its
    /// worker do the writes with retries.
    pub fn with_inline_calendar_writes(mut self, enabled: bool) -> Self {
        self.write_external_events = enabled;
        self
    }

    /// The strategies this service chooses from.
    pub fn strategies(&self) -> &StrategyRegistry {
        &self.strategies
    }

    /// The instant the service considers "now".
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// "Now" to the whole second, for the times stored with an appointment: what is stored is
    /// exactly what the caller is told.
    pub fn timestamp(&self) -> Timestamp {
        let now = self.clock.now();
        Timestamp::from_second(now.as_second()).unwrap_or(now)
    }

    /// Bookable slots of an expert starting in [from, to), at most 93 days, optionally for another
    /// duration than the policy's (5-1440 minutes).
    pub async fn slots(
        &self,
        expert_id: ExpertId,
        from: Timestamp,
        to: Timestamp,
        duration_minutes: Option<i64>,
    ) -> Result<Vec<Slot>, CoreError> {
        let window = check_window(from, to)?;
        let duration_minutes = duration_minutes.map(BookingPolicy::check_duration).transpose()?;
        let calendar = self
            .experts
            .expert_calendar(expert_id, window, duration_minutes)
            .await?;
        self.slots_of(calendar, window, duration_minutes).await
    }

    /// The slots an expert would have with other hours and another policy than the stored ones
    /// (the manage page's live preview as the expert edits): the same path as [`slots`](Self::slots)
    /// over the given schedule and policy, with the expert's real appointments and calendar.
    /// Nothing is stored.
    pub async fn preview_slots(
        &self,
        expert_id: ExpertId,
        schedule: Schedule,
        policy: BookingPolicy,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Slot>, CoreError> {
        let window = check_window(from, to)?;
        let mut calendar = self.experts.expert_calendar(expert_id, window, None).await?;
        calendar.expert.timezone = schedule.zone.clone();
        let around = busy_window(window, &policy, policy.slot_duration_minutes());
        calendar.expert.booking_policy = policy;
        // The edited hours replace the default schedule; periods still apply theirs.
        calendar.schedules = calendar.schedules.with_default_hours(schedule);
        let mut appointments = self.appointments.confirmed_overlapping(expert_id, around).await?;
        if let Some(counted) = counted_window(&calendar.expert, window) {
            let counted = self.appointments.counted_starting_in(expert_id, counted).await?;
            appointments = with_counted(appointments, counted);
        }
        calendar.appointments = appointments;
        self.slots_of(calendar, window, None).await
    }

    /// Slots through the expert's strategy: a scheduler's own, or the engine over the expert's
    /// hours minus appointments (from storage) and the calendar's busy time (through the cache).
    async fn slots_of(
        &self,
        calendar: ExpertCalendar,
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<Vec<Slot>, CoreError> {
        let strategy = self.strategies.get(calendar.expert.integration_type)?;
        let query = SlotQuery {
            window,
            now: self.clock.now(),
            duration_minutes,
        };
        if let Some(scheduler) = strategy.scheduler() {
            return scheduler.available_slots(&calendar, &query).await;
        }
        let policy = &calendar.expert.booking_policy;
        let external = match strategy.busy_time() {
            Some(source) => {
                let around = busy_window(
                    window,
                    policy,
                    duration_minutes.unwrap_or(policy.slot_duration_minutes()),
                );
                self.cached_busy_time(source, &calendar, around, query.now).await?
            }
            None => Vec::new(),
        };
        Ok(engine_slots(
            &calendar,
            external,
            window,
            duration_minutes,
            Some(query.now),
        ))
    }

    /// Whether the calendar's slots depend on nothing but the calendar and the clock's bounds
    /// (no provider busy time, no scheduler, no holds), so the directory may keep them per
    /// calendar version.
    fn slots_are_the_calendars_alone(&self, calendar: &ExpertCalendar) -> bool {
        calendar.holds.is_empty()
            && self
                .strategies
                .get(calendar.expert.integration_type)
                .is_ok_and(|s| s.scheduler().is_none() && s.busy_time().is_none())
    }

    /// Every reason a booking of [start, end) is not a slot of the expert (api.md's explanations;
    /// `end` defaults to start + the policy's slot duration, and may be at most a day after
    /// start). The engine gives the reasons over the same inputs as [`slots`](Self::slots): the
    /// expert's schedule and policy, their appointments and the calendar's busy time
    /// (through the same cache, labelled with the provider's name), as seen now. So the answer is
    /// bookable exactly when `slots` for that length shows `start`. Like the service's slots and
    /// bookings, it applies the policy's day, week and month limits. A scheduler decides
    /// its own slots: its times cannot be explained here (`Unsupported`).
    pub async fn explain(
        &self,
        expert_id: ExpertId,
        start: Timestamp,
        end: Option<Timestamp>,
    ) -> Result<Explanation, CoreError> {
        // The bookings that can block a slot starting at `start`, as for a booking's check.
        let start_only = Interval::new(start, start.checked_add(SignedDuration::from_secs(1)).unwrap_or(start))?;
        let minutes = match end {
            Some(end) => {
                let length = Interval::new(start, end)?;
                let minutes = (length.seconds() + 59) / 60;
                // Longer than any slot: refused before anything is loaded for it.
                if minutes > 1440 {
                    BookingPolicy::check_duration(minutes)?;
                }
                Some(u32::try_from(minutes).unwrap_or(u32::MAX))
            }
            None => None,
        };
        let calendar = self.experts.expert_calendar(expert_id, start_only, minutes).await?;
        let strategy = self.strategies.get(calendar.expert.integration_type)?;
        if strategy.scheduler().is_some() {
            return Err(CoreError::Unsupported {
                integration: strategy.integration_type(),
                operation: "explanations (the scheduler decides its own slots)",
            });
        }
        let policy = calendar.expert.booking_policy.clone();
        let minutes = minutes.unwrap_or(policy.slot_duration_minutes());
        let time = match end {
            Some(end) => Interval::new(start, end)?,
            None => {
                let end = start
                    .checked_add(SignedDuration::from_mins(i64::from(minutes)))
                    .map_err(|_| CoreError::WindowReversed)?;
                Interval::new(start, end)?
            }
        };
        let now = self.clock.now();
        let calendar_busy = match strategy.busy_time() {
            Some(source) => {
                let around = busy_window(start_only, &policy, minutes);
                let name: Arc<str> = strategy.display_name().into();
                self.cached_busy_time(source, &calendar, around, now)
                    .await?
                    .into_iter()
                    .map(|time| BusyTime {
                        time,
                        calendar: Some(name.clone()),
                        title: None,
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        let bookings = calendar.bookings();
        let context = BookingContext {
            expert_zone: calendar.zone(),
            hours: calendar.hours(),
            policy: &policy,
            calendar_busy: &calendar_busy,
            bookings: &bookings,
            holds: &calendar.holds,
        };
        Ok(context.explain(time, now, &Requester::default()))
    }

    /// The busy-time cache, a layer over every strategy's busy time: a fresh answer of the same
    /// connection covering the window, or the calendar asked now.
    async fn cached_busy_time(
        &self,
        source: &dyn BusyTimeSource,
        calendar: &ExpertCalendar,
        window: Interval,
        now: Timestamp,
    ) -> Result<Vec<Interval>, CoreError> {
        let key = busy_key(calendar);
        if let Some(busy) = self.busy_cache.fresh(key, window, now) {
            return Ok(busy);
        }
        let busy = source.busy_intervals(&calendar.expert, window).await?;
        self.busy_cache.put(key, window, busy.clone(), now);
        Ok(busy)
    }

    /// Forgets the cached busy time of an expert for slot queries (a webhook said it changed).
    pub fn invalidate_busy_time(&self, expert: ExpertId) {
        self.busy_cache.invalidate(expert);
    }

    /// The expert with their current connection, as a booking of `time` is checked against.
    async fn calendar_for(&self, expert: ExpertId, time: Interval) -> Result<ExpertCalendar, CoreError> {
        self.experts.expert_calendar(expert, time, None).await
    }

    /// Books a confirmed appointment if its time is a slot (validated inside the store's write
    /// transaction), then writes it to the expert's calendar when inline writes are on. A
    /// scheduler books it first (see `reported.rs`).
    pub async fn book(&self, new: NewAppointment) -> Result<Appointment, CoreError> {
        self.book_holding(new, None).await
    }

    /// [`book`](Self::book), redeeming the client's hold on exactly this time when `hold` names
    /// one: nobody else could take the time meanwhile, and the booking replaces the hold (409
    /// `HoldExpired` once it has run out; `HoldMismatch` for another client's, expert's or time).
    pub async fn book_holding(&self, new: NewAppointment, hold: Option<HoldId>) -> Result<Appointment, CoreError> {
        // The expert alone tells the calendar; the store checks the booking on everything else
        // under the expert's lock. Only busy time from a provider is asked here, around the
        // calendar read for it (a booking of a manual expert is one read before its
        // transaction, not the whole calendar twice).
        let expert = self.experts.expert(new.expert_id).await?;
        let strategy = self.strategies.get(expert.integration_type)?.clone();
        if strategy.scheduler().is_some() {
            if hold.is_some() {
                return Err(holds_unsupported(strategy.as_ref()));
            }
            return self.book_with_scheduler(&expert, strategy.as_ref(), new).await;
        }
        let mut guard = match strategy.busy_time() {
            Some(_) => {
                let calendar = self.calendar_for(new.expert_id, new.time).await?;
                self.guard_for(&calendar, strategy.as_ref(), new.time).await?
            }
            None => self.guard_of(&expert, strategy.as_ref(), Vec::new()),
        };
        guard.hold = hold;
        let appointment = self.appointments.book(new, guard).await?;
        self.busy_cache.invalidate(appointment.expert_id);
        match strategy.event_writer() {
            Some(writer) if self.write_external_events => {
                let client = self.experts.client(appointment.client_id).await?;
                let outcome = writer.create_event(&expert, &client, &appointment).await;
                self.record_written(appointment, outcome).await
            }
            _ => Ok(appointment),
        }
    }

    /// Books a recurring series: `first` and the occurrences `recurrence` gives on the expert's
    /// local wall clock (engine, `plan_series`: the policy's `max_series_occurrences`, the
    /// horizon), all validated in one transaction; `skip_conflicts` books those that can be
    /// booked, else a conflict stores nothing. Each occurrence is an appointment (one calendar
    /// event each, written like a single booking's).
    pub async fn book_series(
        &self,
        first: NewAppointment,
        recurrence: Recurrence,
        skip_conflicts: bool,
    ) -> Result<SeriesBooking, CoreError> {
        let calendar = self.calendar_for(first.expert_id, first.time).await?;
        let strategy = self.strategies.get(calendar.expert.integration_type)?.clone();
        if strategy.scheduler().is_some() {
            return Err(CoreError::Unsupported {
                integration: strategy.integration_type(),
                operation: "recurring bookings (the scheduler takes one booking at a time)",
            });
        }
        let now = self.clock.now();
        let occurrences = engine::plan_series(
            first.time,
            &recurrence,
            calendar.zone(),
            &calendar.expert.booking_policy,
            now,
        )
        .map_err(CoreError::SeriesRefused)?;
        let (Some(head), Some(tail)) = (occurrences.first(), occurrences.last()) else {
            return Err(CoreError::SeriesConflict(Vec::new()));
        };
        let starts = Interval::new(
            head.start(),
            tail.start()
                .checked_add(SignedDuration::from_secs(1))
                .unwrap_or(tail.end()),
        )?;
        let minutes = u32::try_from(first.time.seconds() / 60).unwrap_or(u32::MAX);
        let guard = self.guard_around(&calendar, strategy.as_ref(), starts, minutes).await?;
        let new = NewSeries {
            expert_id: first.expert_id,
            client_id: first.client_id,
            recurrence,
            occurrences,
            skip_conflicts,
        };
        let mut booked = self.appointments.book_series(new, guard).await?;
        self.busy_cache.invalidate(first.expert_id);
        if let Some(writer) = strategy.event_writer().filter(|_| self.write_external_events) {
            let client = self.experts.client(first.client_id).await?;
            let mut written = Vec::with_capacity(booked.appointments.len());
            for appointment in booked.appointments {
                let outcome = writer.create_event(&calendar.expert, &client, &appointment).await;
                written.push(self.record_written(appointment, outcome).await?);
            }
            booked.appointments = written;
        }
        Ok(booked)
    }

    /// A series and its appointments.
    pub async fn series(&self, id: SeriesId) -> Result<(Series, Vec<Appointment>), CoreError> {
        self.appointments.series(id).await
    }

    /// Cancels a series' appointments that start at or after `from` (all of them without it),
    /// each as [`cancel`](Self::cancel) does (its calendar event removed); those cancelled
    /// already stay as they are. Returns the series and all its appointments.
    pub async fn cancel_series(
        &self,
        id: SeriesId,
        by: CancelledBy,
        reason: Option<String>,
        from: Option<Timestamp>,
    ) -> Result<(Series, Vec<Appointment>), CoreError> {
        let (series, appointments) = self.appointments.series(id).await?;
        for a in appointments {
            let from_here = from.is_none_or(|f| a.start_time >= f);
            if from_here && a.status != AppointmentStatus::Cancelled {
                self.cancel(a.id, by, reason.clone()).await?;
            }
        }
        let (_, appointments) = self.appointments.series(id).await?;
        Ok((series, appointments))
    }

    /// Holds `time` for the client for `ttl_seconds` (60-900, default 300): checked like a
    /// booking (rules 1-10, other clients' holds included), then blocked for everyone else until
    /// it expires, is released or is booked. A new hold of the same client with the same expert
    /// replaces the old one. A scheduler's experts (their provider decides its own slots) cannot
    /// be held here.
    pub async fn hold(
        &self,
        expert_id: ExpertId,
        client_id: ClientId,
        time: Interval,
        ttl_seconds: Option<i64>,
    ) -> Result<Hold, CoreError> {
        let ttl = match ttl_seconds {
            Some(seconds) => Hold::check_ttl_seconds(seconds)?,
            None => Hold::DEFAULT_TTL_SECONDS,
        };
        // The client must exist before anything is read for it.
        self.experts.client(client_id).await?;
        let calendar = self.calendar_for(expert_id, time).await?;
        let strategy = self.strategies.get(calendar.expert.integration_type)?.clone();
        if strategy.scheduler().is_some() {
            return Err(holds_unsupported(strategy.as_ref()));
        }
        let guard = self.guard_for(&calendar, strategy.as_ref(), time).await?;
        let now = guard.timestamp();
        let hold = Hold {
            id: HoldId::new(),
            expert_id,
            client_id,
            time,
            expires_at: now
                .checked_add(SignedDuration::from_secs(i64::from(ttl)))
                .map_err(|_| CoreError::WindowReversed)?,
        };
        let hold = self.appointments.create_hold(hold, guard).await?;
        self.busy_cache.invalidate(expert_id);
        Ok(hold)
    }

    /// One hold (NotFound once released, booked or removed after it expired).
    pub async fn hold_of(&self, id: HoldId) -> Result<Hold, CoreError> {
        self.appointments.find_hold(id).await
    }

    /// Releases a hold: its time is free for everyone again.
    pub async fn release_hold(&self, id: HoldId) -> Result<(), CoreError> {
        self.appointments.release_hold(id).await
    }

    /// Moves an appointment to a new time under the same rules as a booking. The strategy that
    /// wrote it moves its event; a scheduler's bookings cannot be moved here.
    pub async fn reschedule(&self, id: AppointmentId, time: Interval) -> Result<Appointment, CoreError> {
        let current = self.appointments.appointment(id).await?;
        if current.is_pending() {
            // Nothing is booked yet: the time is whatever the client picks at the link.
            return Err(CoreError::PendingNotReschedulable(id));
        }
        let calendar = self.calendar_for(current.expert_id, time).await?;
        let strategy = self.strategies.get(calendar.expert.integration_type)?.clone();
        // A scheduler owns its bookings and has no reschedule: its own reschedule link is the way.
        // That holds for the calendar the appointment was written to and for the expert's current one.
        let owner = current
            .calendar_type
            .and_then(|c| self.strategies.by_calendar_type(c))
            .cloned();
        if let Some(scheduler) = [owner.clone(), Some(strategy.clone())]
            .into_iter()
            .flatten()
            .find(|s| s.scheduler().is_some())
        {
            return Err(CoreError::Unsupported {
                integration: scheduler.integration_type(),
                operation: "rescheduling here; use the scheduler's own reschedule link, or cancel and book again",
            });
        }
        let guard = self.guard_for(&calendar, strategy.as_ref(), time).await?;
        let appointment = self.appointments.reschedule(id, time, guard).await?;
        self.busy_cache.invalidate(appointment.expert_id);
        // Its old time is free: a provider's booking held because it overlapped it may be
        // confirmed now.
        self.confirm_held(appointment.expert_id).await;
        let writer = owner.as_deref().and_then(AvailabilityStrategy::event_writer);
        match writer {
            Some(writer) if self.write_external_events => {
                let client = self.experts.client(appointment.client_id).await?;
                let outcome = writer.update_event(&calendar.expert, &client, &appointment).await;
                self.record_written(appointment, outcome).await
            }
            _ => Ok(appointment),
        }
    }

    /// Cancels an appointment (again: unchanged) and removes it from the calendar it was written
    /// to. A pending appointment that the provider never booked is only cancelled here: the
    /// provider holds nothing for it.
    pub async fn cancel(
        &self,
        id: AppointmentId,
        by: CancelledBy,
        reason: Option<String>,
    ) -> Result<Appointment, CoreError> {
        let before = self.appointments.appointment(id).await?;
        let appointment = self.appointments.cancel(id, by, reason).await?;
        self.busy_cache.invalidate(appointment.expert_id);
        if before.status == AppointmentStatus::Confirmed {
            // Its time is free: a provider's booking held because it overlapped it may be
            // confirmed now.
            self.confirm_held(appointment.expert_id).await;
        }
        let in_provider = match before.status {
            AppointmentStatus::Confirmed => true,
            AppointmentStatus::Pending => before.external_calendar_event_id.is_some(),
            AppointmentStatus::Cancelled => false,
        };
        let owner = appointment
            .calendar_type
            .and_then(|c| self.strategies.by_calendar_type(c))
            .cloned();
        let Some(owner) = owner.filter(|_| in_provider && self.write_external_events) else {
            return Ok(appointment);
        };
        let expert = self.experts.expert(appointment.expert_id).await?;
        let outcome = if let Some(scheduler) = owner.scheduler() {
            scheduler.cancel(&expert, &appointment).await
        } else if let Some(writer) = owner.event_writer() {
            writer.delete_event(&expert, &appointment).await
        } else {
            return Ok(appointment);
        };
        self.record(appointment, outcome.map(|()| None)).await
    }

    /// The check a booking of `time` must pass: the calendar's busy time around it, read now, or
    /// (when the calendar cannot be asked) the last answer covering it if at most 15 minutes old.
    async fn guard_for(
        &self,
        calendar: &ExpertCalendar,
        strategy: &dyn AvailabilityStrategy,
        time: Interval,
    ) -> Result<BookingGuard, CoreError> {
        let minutes = u32::try_from(time.seconds() / 60).unwrap_or(u32::MAX);
        let start_only = time
            .start()
            .checked_add(SignedDuration::from_secs(1))
            .ok()
            .and_then(|end| Interval::new(time.start(), end).ok())
            .unwrap_or(time);
        self.guard_around(calendar, strategy, start_only, minutes).await
    }

    /// The check for bookings of `minutes` starting in `starts` (one booking, or a series'
    /// occurrences): the calendar's busy time around them, read now or recently.
    async fn guard_around(
        &self,
        calendar: &ExpertCalendar,
        strategy: &dyn AvailabilityStrategy,
        starts: Interval,
        minutes: u32,
    ) -> Result<BookingGuard, CoreError> {
        let expert = &calendar.expert;
        let external_busy = match strategy.busy_time() {
            Some(source) => {
                let policy = &expert.booking_policy;
                let around = busy_window(starts, policy, minutes);
                let now = self.clock.now();
                let key = busy_key(calendar);
                match source.busy_intervals(expert, around).await {
                    Ok(busy) => {
                        self.busy_cache.put(key, around, busy.clone(), now);
                        busy
                    }
                    // The provider cannot be asked: the last answer covering this time, if at
                    // most 15 minutes old, still shows what the client saw. Otherwise the booking
                    // waits.
                    Err(e @ CoreError::ProviderUnavailable { .. }) => {
                        self.busy_cache.recent(key, around, now).ok_or(e)?
                    }
                    Err(e) => return Err(e),
                }
            }
            None => Vec::new(),
        };
        Ok(self.guard_of(expert, strategy, external_busy))
    }

    /// The check of a booking of `expert`'s, given the busy time of their calendar around it.
    fn guard_of(
        &self,
        expert: &availability_domain::Expert,
        strategy: &dyn AvailabilityStrategy,
        external_busy: Vec<Interval>,
    ) -> BookingGuard {
        // The exact instant: a slot that began a fraction of a second ago is not bookable.
        BookingGuard {
            external_busy,
            now: self.clock.now(),
            integration: expert.integration_type,
            calendar_type: strategy.event_writer().and_then(|_| strategy.calendar_type()),
            meeting_url: expert
                .booking_policy
                .video()
                .room()
                .map(|room| room.as_str().to_owned()),
            meeting_error: (*expert.booking_policy.video() == VideoPolicy::Provider
                && (strategy.video().is_none() || strategy.event_writer().is_none()))
            .then(|| {
                // The policy was set while a calendar that makes meetings was active, and that
                // calendar was disconnected since (the expert fell back to another integration).
                format!(
                    "the expert's calendar ({}) cannot make video meetings; the booking policy asks it for one",
                    strategy.display_name()
                )
            }),
            hold: None,
        }
    }

    /// Records a write to the calendar and what became of the event's meeting.
    async fn record_written(
        &self,
        appointment: Appointment,
        outcome: Result<ExternalEvent, CoreError>,
    ) -> Result<Appointment, CoreError> {
        let meeting = outcome.as_ref().ok().and_then(|event| event.meeting.clone());
        let recorded = self.record(appointment, outcome.map(|e| Some(e.id))).await?;
        match meeting {
            Some(meeting) if meeting != Meeting::Pending => {
                self.appointments.record_meeting(recorded.id, meeting).await
            }
            _ => Ok(recorded),
        }
    }

    /// Reads the appointment's video meeting again from the calendar it was written to (one the
    /// calendar was still making, [`Meeting::Pending`]) and records it. The server's outbox does
    /// this by itself; an embedder with inline writes calls it. An appointment whose calendar
    /// makes no meetings, or that has no event, is returned as it is.
    pub async fn refresh_meeting(&self, id: AppointmentId) -> Result<Appointment, CoreError> {
        let appointment = self.appointments.appointment(id).await?;
        let video = appointment
            .calendar_type
            .and_then(|c| self.strategies.by_calendar_type(c))
            .cloned();
        let Some(strategy) = video.filter(|_| appointment.external_calendar_event_id.is_some()) else {
            return Ok(appointment);
        };
        let Some(video) = strategy.video() else {
            return Ok(appointment);
        };
        let expert = self.experts.expert(appointment.expert_id).await?;
        match video.meeting(&expert, &appointment).await? {
            Meeting::Pending => Ok(appointment),
            meeting => self.appointments.record_meeting(id, meeting).await,
        }
    }

    async fn record(
        &self,
        appointment: Appointment,
        outcome: Result<Option<String>, CoreError>,
    ) -> Result<Appointment, CoreError> {
        // The appointment is stored whatever the calendar said; the failure is visible in its
        // sync_status rather than losing the booking.
        let (event_id, status) = match outcome {
            Ok(id) => (id, SyncStatus::Synced),
            Err(_) => (None, SyncStatus::Failed),
        };
        self.appointments.record_sync(appointment.id, event_id, status).await
    }
}

/// Whose cached busy time a calendar's is.
fn busy_key(calendar: &ExpertCalendar) -> BusyKey {
    BusyKey {
        expert: calendar.expert.id,
        integration: calendar.expert.integration_type,
        connection: calendar.connection,
    }
}

/// A draft of an appointment a scheduler is about to book (with the expert's own video room, if
/// the policy names one).
fn draft(
    strategy: &dyn AvailabilityStrategy,
    expert: &availability_domain::Expert,
    new: &NewAppointment,
    now: Timestamp,
) -> Appointment {
    Appointment {
        id: AppointmentId::new(),
        expert_id: new.expert_id,
        client_id: new.client_id,
        start_time: new.time.start(),
        end_time: new.time.end(),
        status: AppointmentStatus::Confirmed,
        calendar_type: strategy.calendar_type(),
        external_calendar_event_id: None,
        scheduling_url: None,
        sync_status: SyncStatus::Synced,
        cancellation_reason: None,
        cancelled_by: None,
        sync_error: None,
        meeting_url: expert
            .booking_policy
            .video()
            .room()
            .map(|room| room.as_str().to_owned()),
        meeting_error: None,
        series_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// The engine over a calendar and its external busy time: the slots starting in `window` as
/// seen at `now`, or with `None` [at any time](engine::StartBounds) (every hold blocking).
fn engine_slots(
    calendar: &ExpertCalendar,
    external: Vec<Interval>,
    window: Interval,
    duration_minutes: Option<u32>,
    now: Option<Timestamp>,
) -> Vec<Slot> {
    let policy = &calendar.expert.booking_policy;
    let holds_block = match now {
        Some(now) => calendar.holds.iter().any(|h| h.is_active(now)),
        None => !calendar.holds.is_empty(),
    };
    if policy.has_limits() || holds_block {
        // Rule 10: limits count confirmed and pending appointments over whole local days,
        // weeks and months (the calendar holds those appointments), and active holds block
        // their time: the engine's full context.
        let calendar_busy: Vec<BusyTime> = external.into_iter().map(BusyTime::new).collect();
        let bookings = calendar.bookings();
        let context = BookingContext {
            expert_zone: calendar.zone(),
            hours: calendar.hours(),
            policy,
            calendar_busy: &calendar_busy,
            bookings: &bookings,
            holds: &calendar.holds,
        };
        return match now {
            Some(now) => context.slots(
                &SlotQuery {
                    window,
                    now,
                    duration_minutes,
                },
                &Requester::default(),
            ),
            None => context.slots_at_any_time(window, duration_minutes, &Requester::default()),
        };
    }
    let appointments = calendar.appointment_intervals();
    let busy = appointments.iter().chain(&external);
    match now {
        Some(now) => engine::available_slots(
            calendar.hours(),
            policy,
            busy,
            &SlotQuery {
                window,
                now,
                duration_minutes,
            },
        ),
        None => engine::available_slots_at_any_time(calendar.hours(), policy, busy, window, duration_minutes),
    }
}

/// Validates a query window: from < to, at most [`MAX_QUERY_DAYS`].
pub fn check_window(from: Timestamp, to: Timestamp) -> Result<Interval, CoreError> {
    let window = Interval::new(from, to).map_err(|_| CoreError::WindowReversed)?;
    if window.seconds() > MAX_QUERY_DAYS * 86_400 {
        return Err(CoreError::WindowTooLong {
            max_days: MAX_QUERY_DAYS,
        });
    }
    Ok(window)
}

/// A scheduler's slots are its own: a hold here could not stop it from booking the time.
fn holds_unsupported(strategy: &dyn AvailabilityStrategy) -> CoreError {
    CoreError::Unsupported {
        integration: strategy.integration_type(),
        operation: "holds (the scheduler decides its own slots and bookings)",
    }
}

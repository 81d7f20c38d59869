//! AvailabilityService: the one entry point for slots and bookings. It picks the strategy from the
//! expert's integration type and runs the same engine to show slots and to accept a booking.

use std::sync::Arc;

use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingPolicy, CalendarType, ExpertId, Interval, NewAppointment,
    Schedule, Slot, SyncStatus,
};

use crate::busy_cache::BusyCache;
use crate::clock::{Clock, SystemClock};
use crate::engine;
use crate::engine::SlotQuery;
use crate::ports::{AppointmentRepository, BookingGuard, ExpertRepository};
use crate::strategy::{busy_window, ExpertCalendar, ProviderBooking, StrategyRegistry};
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
        let mut expert = self.experts.expert(expert_id).await?;
        expert.timezone = schedule.zone.clone();
        expert.booking_policy = policy;
        let around = busy_window(window, &policy, policy.slot_duration_minutes());
        let appointments = self.appointments.confirmed_overlapping(expert_id, around).await?;
        let calendar = ExpertCalendar {
            expert,
            schedule,
            appointments,
        };
        self.slots_of(calendar, window, None).await
    }

    async fn slots_of(
        &self,
        calendar: ExpertCalendar,
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<Vec<Slot>, CoreError> {
        let expert_id = calendar.expert.id;
        let strategy = self.strategies.get(calendar.expert.integration_type)?;
        let query = SlotQuery {
            window,
            now: self.clock.now(),
            duration_minutes,
        };
        let caps = strategy.capabilities();
        if !caps.reads_busy_time || caps.provider_slots {
            return strategy.available_slots(&calendar, &query).await;
        }
        // A calendar: the engine over the expert's hours, minus appointments (from storage) and the
        // provider's busy time (from a fresh cached answer, or asked now).
        let policy = calendar.expert.booking_policy;
        let around = busy_window(
            window,
            &policy,
            duration_minutes.unwrap_or(policy.slot_duration_minutes()),
        );
        let external = match self.busy_cache.fresh(expert_id, around, query.now) {
            Some(busy) => busy,
            None => {
                let busy = strategy.busy_intervals(&calendar.expert, around).await?;
                self.busy_cache.put(expert_id, around, busy.clone(), query.now);
                busy
            }
        };
        let appointments = calendar.appointment_intervals();
        Ok(engine::available_slots(
            &calendar.schedule,
            &policy,
            appointments.iter().chain(&external),
            &query,
        ))
    }

    /// Forgets the cached busy time of an expert for slot queries (a webhook said it changed).
    pub fn invalidate_busy_time(&self, expert: ExpertId) {
        self.busy_cache.invalidate(expert);
    }

    /// Books a confirmed appointment if its time is a slot (validated inside the store's write
    /// transaction), then writes it to the expert's calendar when inline writes are on.
    pub async fn book(&self, new: NewAppointment) -> Result<Appointment, CoreError> {
        let expert = self.experts.expert(new.expert_id).await?;
        let strategy = self.strategies.get(expert.integration_type)?;
        if strategy.capabilities().provider_slots {
            return self.book_with_provider(&expert, strategy.as_ref(), new).await;
        }
        let guard = self.guard_for(&expert, new.time).await?;
        let appointment = self.appointments.book(new, guard).await?;
        self.busy_cache.invalidate(appointment.expert_id);
        if !self.write_external_events || !strategy.capabilities().writes_events {
            return Ok(appointment);
        }
        let client = self.experts.client(appointment.client_id).await?;
        let outcome = strategy.create_appointment(&expert, &client, &appointment).await;
        self.record(appointment, outcome.map(|e| e.map(|e| e.id))).await
    }

    /// A scheduler (Calendly) is the system of record: the booking is made there first, and
    /// stored only once it accepted it (a slot it reports taken stores nothing). If storing then
    /// fails (a local booking won the race), the provider's booking is cancelled again.
    ///
    /// A scheduler that cannot book it itself answers with a link where the client finishes the
    /// booking: the appointment is stored pending with that link. It holds no time (the
    /// provider's own availability decides what the client may pick there) until the provider
    /// reports the booking and [`AppointmentRepository::confirm_pending`] confirms it.
    async fn book_with_provider(
        &self,
        expert: &availability_domain::Expert,
        strategy: &dyn crate::AvailabilityStrategy,
        new: NewAppointment,
    ) -> Result<Appointment, CoreError> {
        let client = self.experts.client(new.client_id).await?;
        let now = self.timestamp();
        let draft = Appointment {
            id: AppointmentId::new(),
            expert_id: new.expert_id,
            client_id: new.client_id,
            start_time: new.time.start(),
            end_time: new.time.end(),
            status: AppointmentStatus::Confirmed,
            calendar_type: expert.integration_type.calendar_type(),
            external_calendar_event_id: None,
            scheduling_url: None,
            sync_status: SyncStatus::Synced,
            cancellation_reason: None,
            sync_error: None,
            created_at: now,
            updated_at: now,
        };
        let event = match strategy.book_in_provider(expert, &client, &draft).await? {
            ProviderBooking::Booked(event) => event,
            ProviderBooking::Pending { scheduling_url } => {
                let pending = Appointment {
                    status: AppointmentStatus::Pending,
                    scheduling_url: Some(scheduling_url),
                    // Nothing to keep in sync until the provider reports the booking.
                    sync_status: SyncStatus::NotApplicable,
                    ..draft
                };
                return self.appointments.record_pending(pending).await;
            }
        };
        let booked = Appointment {
            external_calendar_event_id: event.map(|e| e.id),
            ..draft
        };
        match self.appointments.record_confirmed(booked.clone()).await {
            Ok(stored) => {
                self.busy_cache.invalidate(stored.expert_id);
                Ok(stored)
            }
            Err(e) => {
                if let Err(undo) = strategy.cancel_appointment(expert, &booked).await {
                    // Visible in the logs of the embedding application through the error below.
                    return Err(CoreError::Conflict(format!(
                        "{e}; cancelling the provider's booking failed too: {undo}"
                    )));
                }
                Err(e)
            }
        }
    }

    /// Moves an appointment to a new time under the same rules as a booking.
    pub async fn reschedule(&self, id: AppointmentId, time: Interval) -> Result<Appointment, CoreError> {
        let current = self.appointments.appointment(id).await?;
        if current.is_pending() {
            // Nothing is booked yet: the time is whatever the client picks at the link.
            return Err(CoreError::Conflict(format!(
                "appointment {id} is pending: it is booked only when the client finishes the booking at its \
                 scheduling_url, and cannot be rescheduled before; cancel it and book again for another time"
            )));
        }
        let expert = self.experts.expert(current.expert_id).await?;
        let strategy = self.strategies.get(expert.integration_type)?;
        // A scheduler (Calendly) owns its bookings and has no reschedule API: the invitee's own
        // reschedule link is the way. That holds for the calendar the appointment was written to
        // and for the expert's current one.
        let owner = current.calendar_type.map(CalendarType::integration_type);
        let scheduler = [owner, Some(expert.integration_type)]
            .into_iter()
            .flatten()
            .find(|t| self.strategies.get(*t).is_ok_and(|s| s.capabilities().provider_slots));
        if let Some(integration) = scheduler {
            return Err(CoreError::Unsupported {
                integration,
                operation: "rescheduling here; use the scheduler's own reschedule link, or cancel and book again",
            });
        }
        let guard = self.guard_for(&expert, time).await?;
        let appointment = self.appointments.reschedule(id, time, guard).await?;
        self.busy_cache.invalidate(appointment.expert_id);
        if !self.write_external_events || appointment.calendar_type.is_none() || !strategy.capabilities().writes_events
        {
            return Ok(appointment);
        }
        let client = self.experts.client(appointment.client_id).await?;
        let outcome = strategy.update_appointment(&expert, &client, &appointment).await;
        self.record(appointment, outcome.map(|e| e.map(|e| e.id))).await
    }

    /// Cancels an appointment (again: unchanged) and removes its external event. A pending
    /// appointment that the provider never booked is only cancelled here: the provider holds
    /// nothing for it.
    pub async fn cancel(&self, id: AppointmentId, reason: Option<String>) -> Result<Appointment, CoreError> {
        let before = self.appointments.appointment(id).await?;
        let appointment = self.appointments.cancel(id, reason).await?;
        self.busy_cache.invalidate(appointment.expert_id);
        let in_provider = match before.status {
            AppointmentStatus::Confirmed => true,
            AppointmentStatus::Pending => before.external_calendar_event_id.is_some(),
            AppointmentStatus::Cancelled => false,
        };
        if !in_provider || !self.write_external_events || appointment.calendar_type.is_none() {
            return Ok(appointment);
        }
        let expert = self.experts.expert(appointment.expert_id).await?;
        let strategy = self.strategies.get(expert.integration_type)?;
        let outcome = strategy.cancel_appointment(&expert, &appointment).await;
        self.record(appointment, outcome.map(|()| None)).await
    }

    async fn guard_for(&self, expert: &availability_domain::Expert, time: Interval) -> Result<BookingGuard, CoreError> {
        let strategy = self.strategies.get(expert.integration_type)?;
        let external_busy = if strategy.capabilities().reads_busy_time {
            let policy = &expert.booking_policy;
            let minutes = u32::try_from(time.seconds() / 60).unwrap_or(u32::MAX);
            let start_only = time
                .start()
                .checked_add(SignedDuration::from_secs(1))
                .ok()
                .and_then(|end| Interval::new(time.start(), end).ok())
                .unwrap_or(time);
            let around = busy_window(start_only, policy, minutes);
            let now = self.clock.now();
            match strategy.busy_intervals(expert, around).await {
                Ok(busy) => {
                    self.busy_cache.put(expert.id, around, busy.clone(), now);
                    busy
                }
                // The provider cannot be asked: the last answer covering this time, if at most
                // 15 minutes old, still shows what the client saw. Otherwise the booking waits.
                Err(e @ CoreError::ProviderUnavailable { .. }) => {
                    self.busy_cache.recent(expert.id, around, now).ok_or(e)?
                }
                Err(e) => return Err(e),
            }
        } else {
            Vec::new()
        };
        // The exact instant: a slot that began a fraction of a second ago is not bookable.
        Ok(BookingGuard {
            external_busy,
            now: self.clock.now(),
        })
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

/// Validates a query window: from < to, at most [`MAX_QUERY_DAYS`].
pub fn check_window(from: Timestamp, to: Timestamp) -> Result<Interval, CoreError> {
    let window =
        Interval::new(from, to).map_err(|_| CoreError::InvalidQuery("`to` must be after `from`".to_owned()))?;
    if window.seconds() > MAX_QUERY_DAYS * 86_400 {
        return Err(CoreError::InvalidQuery(format!(
            "the window must be at most {MAX_QUERY_DAYS} days"
        )));
    }
    Ok(window)
}

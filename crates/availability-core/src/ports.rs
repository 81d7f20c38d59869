//! Ports: what the service needs from storage. availability-store implements them over diesel;
//! [`crate::memory::InMemoryStore`] implements them for tests and embedders.

use async_trait::async_trait;
use availability_domain::jiff::Timestamp;
use availability_domain::{
    Appointment, AppointmentId, CalendarType, CancelledBy, Client, ClientId, Expert, ExpertId, Hold, HoldId,
    IntegrationType, Interval, NewAppointment, Recurrence, Schedule, ScheduleSet, Secret, Series, SeriesId, SyncStatus,
    Zone,
};

use crate::engine::{BookingContext, BusyTime, Hours, Refusal, Requester};
use crate::error::SeriesConflict;
use crate::strategy::{bookings_of, ExpertCalendar, Meeting};
use crate::CoreError;

/// Experts, clients and their working hours.
#[async_trait]
pub trait ExpertRepository: Send + Sync {
    /// One expert; `CoreError::NotFound` if unknown.
    async fn expert(&self, id: ExpertId) -> Result<Expert, CoreError>;
    /// One client; `CoreError::NotFound` if unknown.
    async fn client(&self, id: ClientId) -> Result<Client, CoreError>;
    /// The expert's zone, weekly rules and overrides.
    async fn schedule(&self, id: ExpertId) -> Result<Schedule, CoreError>;

    /// The client with this email (compared case-insensitively), if any.
    async fn client_by_email(&self, email: &str) -> Result<Option<Client>, CoreError>;

    /// Stores a new client (a provider's booking for someone the platform did not know yet).
    async fn create_client(&self, name: String, email: String, timezone: Zone) -> Result<Client, CoreError>;

    /// What slots for `window` are computed from, read together: the expert, their schedule and
    /// their confirmed appointments that can block a slot starting in `window` (see
    /// [`crate::strategy::busy_window`]; `duration_minutes` replaces the policy's duration).
    /// A database answers it in one round trip.
    async fn expert_calendar(
        &self,
        id: ExpertId,
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<ExpertCalendar, CoreError>;

    /// [`expert_calendar`](Self::expert_calendar) of many experts for one window (the
    /// directory's questions), in the order asked: each expert's own answer (`NotFound` for one
    /// that is gone), or an error of the whole read (the database). With each expert the caller
    /// may give the calendar version it already has an answer for: a repository that keeps
    /// versions answers [`CalendarRead::Unchanged`] when that is still the current one, without
    /// reading the calendar. A database checks all the versions in one query and reads only the
    /// calendars that changed.
    async fn expert_calendars(
        &self,
        experts: &[(ExpertId, Option<i64>)],
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<Vec<Result<CalendarRead, CoreError>>, CoreError> {
        let mut calendars = Vec::with_capacity(experts.len());
        for (id, _) in experts {
            match self.expert_calendar(*id, window, duration_minutes).await {
                Err(e) if !matches!(e, CoreError::NotFound { .. }) => return Err(e),
                answer => calendars.push(answer.map(|calendar| CalendarRead::Read(Box::new(calendar), None))),
            }
        }
        Ok(calendars)
    }
}

/// One expert's answer to [`ExpertRepository::expert_calendars`].
#[derive(Debug, Clone)]
pub enum CalendarRead {
    /// The calendar is still at the version the caller gave.
    Unchanged,
    /// The calendar, with the version it was read at: a number the repository changes in the
    /// same transaction as anything the calendar holds (the expert, their schedules, policy,
    /// appointments, holds and calendar connection). `None`: the repository keeps no versions.
    Read(Box<ExpertCalendar>, Option<i64>),
}

/// The check a booking must pass, run by the repository inside the transaction that writes the
/// booking, under the expert's lock, on the data it reads there. It carries what cannot be read
/// from the database: the external calendar's busy time, the instant of the request, and the
/// integration the busy time came from.
#[derive(Debug, Clone)]
pub struct BookingGuard {
    /// Busy time of the expert's external calendar around the requested time.
    pub external_busy: Vec<Interval>,
    /// When the request was made.
    pub now: Timestamp,
    /// The expert's integration when the busy time was read. If the expert switched it in the
    /// meantime, the check no longer holds and the booking is refused (`SlotUnavailable`).
    pub integration: IntegrationType,
    /// The calendar the appointment will be written to, if that integration writes events: the
    /// appointment stores it with sync_status pending (else not_applicable).
    pub calendar_type: Option<CalendarType>,
    /// The meeting link a new booking gets at once (the expert's own room, booking policy
    /// `video: "static"`); a reschedule keeps the link the appointment has.
    pub meeting_url: Option<String>,
    /// Why a new booking gets no meeting although the policy asks for one (the expert's
    /// integration makes none); a reschedule keeps what the appointment has.
    pub meeting_error: Option<String>,
    /// The hold this booking redeems (its client's, for exactly this time): it does not block
    /// the booking, and the booking replaces it.
    pub hold: Option<HoldId>,
}

impl BookingGuard {
    /// [`BookingGuard::now`] to the whole second, for the times stored with the appointment (so
    /// that what is stored is exactly what the caller is told).
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_second(self.now.as_second()).unwrap_or(self.now)
    }

    /// Runs the slot engine on the expert's current data. `appointments` are the expert's
    /// confirmed appointments around the requested time ([`Self::lookup_window`]) and, when the
    /// policy has limits, the confirmed and pending ones that start in
    /// [`crate::strategy::counted_window`] of it; `ignore` is the appointment being rescheduled
    /// (it neither blocks nor counts, so a move within its day never counts twice).
    pub fn check(
        &self,
        expert: &Expert,
        schedules: &ScheduleSet,
        appointments: &[Appointment],
        holds: &[Hold],
        requested: Interval,
        ignore: Option<AppointmentId>,
    ) -> Result<(), Refusal> {
        let bookings = bookings_of(appointments);
        let busy: Vec<BusyTime> = self.external_busy.iter().copied().map(BusyTime::new).collect();
        let context = BookingContext {
            expert_zone: &schedules.default_schedule().hours.zone,
            hours: Hours::of(schedules),
            policy: &expert.booking_policy,
            calendar_busy: &busy,
            bookings: &bookings,
            holds,
        };
        let requester = Requester {
            hold: self.hold,
            rescheduling: ignore,
        };
        context.check(requested, self.now, &requester)
    }

    /// Whether the booking `new` may redeem `hold` (the one [`Self::hold`] names): active at the
    /// guard's instant, the booking client's, for this expert and exactly this time.
    pub fn redeems(&self, hold: &Hold, new: &NewAppointment) -> Result<(), CoreError> {
        if !hold.is_active(self.now) {
            return Err(CoreError::HoldExpired(hold.id));
        }
        if hold.client_id != new.client_id {
            return Err(CoreError::HoldMismatch("the hold is another client's".into()));
        }
        if hold.expert_id != new.expert_id || hold.time != new.time {
            return Err(CoreError::HoldMismatch(
                "the hold is for another expert or another time".into(),
            ));
        }
        Ok(())
    }

    /// Runs the slot engine on a series' occurrences, in order: each checked as a booking of its
    /// own, with the occurrences accepted before it blocking and counting. `appointments` and
    /// `holds` are those around the whole series (see [`Self::series_window`]).
    pub fn check_series(
        &self,
        expert: &Expert,
        schedules: &ScheduleSet,
        appointments: &[Appointment],
        holds: &[Hold],
        occurrences: &[Interval],
    ) -> Vec<Result<(), Refusal>> {
        let bookings = bookings_of(appointments);
        let busy: Vec<BusyTime> = self.external_busy.iter().copied().map(BusyTime::new).collect();
        let context = BookingContext {
            expert_zone: &schedules.default_schedule().hours.zone,
            hours: Hours::of(schedules),
            policy: &expert.booking_policy,
            calendar_busy: &busy,
            bookings: &bookings,
            holds,
        };
        context.check_series(occurrences, self.now, &Requester::default())
    }

    /// The window whose confirmed appointments a series' check needs: from the first
    /// occurrence's start to the last one's end, widened by the buffers.
    pub fn series_window(expert: &Expert, occurrences: &[Interval]) -> Option<Interval> {
        let (first, last) = (occurrences.first()?, occurrences.last()?);
        let span = Interval::new(first.start(), last.end()).ok()?;
        Some(Self::lookup_window(expert, span))
    }

    /// The window whose confirmed appointments the check needs: the requested time widened by the
    /// policy's buffers (an appointment within a buffer refuses the booking).
    pub fn lookup_window(expert: &Expert, requested: Interval) -> Interval {
        let p = &expert.booking_policy;
        let before = availability_domain::jiff::SignedDuration::from_mins(i64::from(p.buffer_before_minutes()));
        let after = availability_domain::jiff::SignedDuration::from_mins(i64::from(p.buffer_after_minutes()));
        let start = requested.start().checked_sub(before).unwrap_or(requested.start());
        let end = requested.end().checked_add(after).unwrap_or(requested.end());
        Interval::new(start, end).unwrap_or(requested)
    }
}

/// A recurring booking to store: its occurrences (planned by the engine from the first one and
/// the recurrence, in order) and what to do with those that cannot be booked.
#[derive(Debug, Clone)]
pub struct NewSeries {
    /// Whose time.
    pub expert_id: ExpertId,
    /// Who books.
    pub client_id: ClientId,
    /// How it repeats.
    pub recurrence: Recurrence,
    /// Every occurrence, the first one first.
    pub occurrences: Vec<Interval>,
    /// "skip": book the occurrences that can be booked; else ("reject") all or nothing.
    pub skip_conflicts: bool,
}

/// A stored series: its occurrences as appointments, and those skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesBooking {
    /// The series.
    pub series: Series,
    /// Its appointments, in order.
    pub appointments: Vec<Appointment>,
    /// The occurrences "skip" left out, with why.
    pub skipped: Vec<SeriesConflict>,
}

/// Appointments. Writes validate with a [`BookingGuard`] inside their transaction; a check made
/// before the transaction is never the guard.
#[async_trait]
pub trait AppointmentRepository: Send + Sync {
    /// One appointment; `CoreError::NotFound` if unknown.
    async fn appointment(&self, id: AppointmentId) -> Result<Appointment, CoreError>;

    /// The expert's confirmed appointments that overlap `window`.
    async fn confirmed_overlapping(&self, expert: ExpertId, window: Interval) -> Result<Vec<Appointment>, CoreError>;

    /// The expert's confirmed and pending appointments that start in `window` (those that count
    /// towards the booking policy's limits, see [`crate::strategy::counted_window`]).
    async fn counted_starting_in(&self, expert: ExpertId, window: Interval) -> Result<Vec<Appointment>, CoreError>;

    /// Stores a series in one transaction under the expert's lock: every occurrence is checked by
    /// the engine (those accepted before it block and count); with conflicts, "reject" stores
    /// nothing (`SeriesConflict` lists them) and "skip" stores the rest (`SeriesConflict` when
    /// none is left). One calendar sync job per stored occurrence, as for a booking.
    async fn book_series(&self, new: NewSeries, guard: BookingGuard) -> Result<SeriesBooking, CoreError>;

    /// A series and all its appointments (cancelled ones too), in order.
    async fn series(&self, id: SeriesId) -> Result<(Series, Vec<Appointment>), CoreError>;

    /// Stores a hold if `guard` accepts its time like a booking's (other clients' active holds
    /// block it), after removing the expert's expired holds and the client's earlier hold with
    /// this expert (one per client and expert).
    async fn create_hold(&self, hold: Hold, guard: BookingGuard) -> Result<Hold, CoreError>;

    /// One hold, expired or not; `CoreError::NotFound` once released or removed.
    async fn find_hold(&self, id: HoldId) -> Result<Hold, CoreError>;

    /// Releases a hold (nothing happens if it is gone already).
    async fn release_hold(&self, id: HoldId) -> Result<(), CoreError>;

    /// Stores a confirmed appointment if `guard` accepts it on the data read under the expert's
    /// lock. Its calendar_type and sync_status follow the expert's integration at that moment.
    async fn book(&self, new: NewAppointment, guard: BookingGuard) -> Result<Appointment, CoreError>;

    /// Moves a confirmed appointment if `guard` accepts the new time (ignoring the appointment
    /// itself). `CoreError::NotConfirmed` if it is not confirmed.
    async fn reschedule(
        &self,
        id: AppointmentId,
        time: Interval,
        guard: BookingGuard,
    ) -> Result<Appointment, CoreError>;

    /// Cancels an appointment (`by` whom); cancelling a cancelled one returns it unchanged.
    async fn cancel(
        &self,
        id: AppointmentId,
        by: CancelledBy,
        reason: Option<String>,
    ) -> Result<Appointment, CoreError>;

    /// Records the outcome of writing the appointment to the external calendar.
    async fn record_sync(
        &self,
        id: AppointmentId,
        external_event_id: Option<String>,
        status: SyncStatus,
    ) -> Result<Appointment, CoreError>;

    /// Records what became of the appointment's video meeting: a link (the meeting error is
    /// cleared) or why there is none. A pending meeting changes nothing.
    async fn record_meeting(&self, id: AppointmentId, meeting: Meeting) -> Result<Appointment, CoreError>;

    /// Stores an appointment that a scheduling provider (the system of record for its bookings) has
    /// already accepted, exactly as given, if no confirmed appointment of the expert overlaps it
    /// (checked under the expert's lock; else `CoreError::SlotTaken`). The weekly rules are not
    /// consulted: the provider applied its own.
    async fn record_confirmed(&self, appointment: Appointment) -> Result<Appointment, CoreError>;

    /// Stores a pending appointment (a scheduler answered with a link instead of booking it),
    /// exactly as given. It holds no time, so nothing is checked and nothing is written to the
    /// expert's calendar. `CoreError::AlreadyRecorded` if it carries an external id (a provider
    /// booking it could not confirm) that an appointment has already.
    async fn record_pending(&self, appointment: Appointment) -> Result<Appointment, CoreError>;

    /// Confirms a pending appointment now that the provider booked it: its external id and the
    /// time the provider booked (the client may have chosen another one at the link), checked
    /// under the expert's lock like [`record_confirmed`](Self::record_confirmed): a confirmed
    /// appointment of the expert that overlaps it is `CoreError::SlotTaken` and nothing changes.
    /// The scheduling link is cleared. Confirming it again with the same external id returns it
    /// unchanged; an appointment that is not pending any more is `CoreError::NotPending`.
    async fn confirm_pending(
        &self,
        id: AppointmentId,
        external_event_id: String,
        time: Interval,
        now: Timestamp,
    ) -> Result<Appointment, CoreError>;

    /// The appointment the provider knows by this external id (e.g. a scheduler's invitee URI).
    async fn by_external_id(&self, external_id: &str) -> Result<Option<Appointment>, CoreError>;

    /// The expert's appointments awaiting their client at a scheduling link (pending, no
    /// provider booking yet) of clients with this email (case-insensitive), oldest first.
    async fn awaiting_client(&self, expert: ExpertId, email: &str) -> Result<Vec<Appointment>, CoreError>;

    /// Records a provider's booking (its external id and time) on a pending appointment that
    /// cannot be confirmed because it overlaps a confirmed one: the appointment becomes held
    /// (`BookingState::Held`), pending with sync_status failed and `reason` as sync_error.
    /// `CoreError::NotPending` unless it is pending (awaiting its client, or held for this same
    /// booking).
    async fn hold(
        &self,
        id: AppointmentId,
        external_event_id: String,
        time: Interval,
        reason: String,
    ) -> Result<Appointment, CoreError>;

    /// The expert's held appointments, earliest first.
    async fn held(&self, expert: ExpertId) -> Result<Vec<Appointment>, CoreError>;

    /// Follows the expert moving the appointment's event in their own calendar to `time`, under
    /// the expert's lock: the appointment takes the time unless another confirmed appointment
    /// of the expert overlaps it (the expert's hours do not matter: the expert moved it), in which
    /// case it keeps its time with sync_status `conflict` and a sync_error naming the other one
    /// (`calendar` names the calendar). Nothing is written back to the calendar. Unchanged when it
    /// is not confirmed, already at that time, or has a write of ours to the calendar still
    /// pending (the calendar does not show our last change yet).
    async fn follow_calendar_move(
        &self,
        id: AppointmentId,
        time: Interval,
        calendar: &str,
        now: Timestamp,
    ) -> Result<CalendarFollow, CoreError>;

    /// Where the expert's calendar change feed left off ([`crate::ChangeFeed`]), if it was read
    /// for the expert's current connection of that integration, with that connection number
    /// (pass it back to [`Self::save_change_cursor`]).
    async fn change_cursor(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
    ) -> Result<(i64, Option<String>), CoreError>;

    /// Keeps where the feed left off, for the connection it was read with (a cursor of an older
    /// connection is never used again).
    async fn save_change_cursor(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        connection: i64,
        cursor: String,
    ) -> Result<(), CoreError>;
}

/// The sync_error of an appointment whose event the expert moved onto `other` in `calendar`.
pub fn conflict_reason(calendar: &str, time: Interval, other: &Appointment) -> String {
    format!(
        "moved in {calendar} to {} - {}, which overlaps appointment {} ({} - {}); it keeps its time here",
        time.start(),
        time.end(),
        other.id,
        other.start_time,
        other.end_time
    )
}

/// What following a move made in the expert's calendar did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarFollow {
    /// The appointment took the new time.
    Moved(Appointment),
    /// The new time overlaps another confirmed appointment: the appointment kept its time and
    /// is marked `conflict`.
    Conflict(Appointment),
    /// Nothing changed.
    Unchanged,
}

/// An integration's stored credentials (tokens, account, settings) as one secret document.
pub type Credential = Secret<String>;

/// Credentials of experts' integrations. Implementations encrypt them at rest.
#[async_trait]
pub trait CredentialRepository: Send + Sync {
    /// The stored credential, if connected.
    async fn load(&self, expert: ExpertId, integration: IntegrationType) -> Result<Option<Credential>, CoreError>;
    /// Stores (replaces) the credential.
    async fn save(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        credential: Credential,
    ) -> Result<(), CoreError>;
    /// Wipes the credential.
    async fn delete(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), CoreError>;
}

/// Where an expert's integration stands, as GET integrations shows it. Strategies and the token
/// manager report here, so that an expired or revoked grant is seen, not silently ignored.
#[async_trait]
pub trait IntegrationRepository: Send + Sync {
    /// The expert whose connected integration has `key` = `value` in its settings (a provider's
    /// webhook names its account, e.g. a user URI).
    async fn expert_by_setting(
        &self,
        integration: IntegrationType,
        key: &str,
        value: &str,
    ) -> Result<Option<ExpertId>, CoreError>;

    /// The provider answered: sets last_synced_at and clears last_error.
    async fn record_success(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), CoreError>;
    /// A failure worth showing (last_error and last_error_at); the integration stays connected.
    async fn record_failure(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        reason: &str,
    ) -> Result<(), CoreError>;
    /// The grant is gone (invalid_grant, or a credential that cannot be decrypted): the
    /// integration shows needs_reauth until the expert reconnects.
    async fn mark_needs_reauth(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        reason: &str,
    ) -> Result<(), CoreError>;
}

//! An in-memory implementation of every port, for tests and for embedders that keep their own
//! storage elsewhere. One mutex guards everything, so a booking's check and write are atomic.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use availability_domain::jiff::Timestamp;
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingState, CancelledBy, Client, ClientId, Expert, ExpertId, Hold,
    HoldId, IntegrationType, Interval, NewAppointment, Schedule, ScheduleId, ScheduleSet, Series, SeriesId, SyncStatus,
    Zone,
};

use crate::ports::CalendarFollow;
use crate::ports::{
    AppointmentRepository, BookingGuard, Credential, CredentialRepository, ExpertRepository, IntegrationRepository,
    NewSeries, SeriesBooking,
};
use crate::strategy::{busy_window, counted_window, with_counted, ExpertCalendar, Meeting};
use crate::CoreError;

#[derive(Default)]
struct State {
    experts: HashMap<ExpertId, Expert>,
    clients: HashMap<ClientId, Client>,
    schedules: HashMap<ExpertId, ScheduleSet>,
    appointments: HashMap<AppointmentId, Appointment>,
    holds: HashMap<HoldId, Hold>,
    series: HashMap<SeriesId, Series>,
    credentials: HashMap<(ExpertId, IntegrationType), Credential>,
    integration_status: HashMap<(ExpertId, IntegrationType), IntegrationState>,
    settings: HashMap<(ExpertId, IntegrationType), serde_json::Value>,
    /// Per expert: bumped whenever a credential or the expert's integration changes (see
    /// `ExpertCalendar::connection`).
    connections: HashMap<ExpertId, i64>,
    /// Where each calendar's change feed left off, with the connection it was read for.
    change_cursors: HashMap<(ExpertId, IntegrationType), (i64, String)>,
}

/// What the in-memory store remembers of an integration's health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationState {
    /// Set by `mark_needs_reauth`, cleared when a credential is saved again.
    pub needs_reauth: bool,
    /// The latest failure's reason, cleared by the next success.
    pub last_error: Option<String>,
    /// Whether the provider ever answered.
    pub synced: bool,
}

/// Experts, clients, schedules, appointments and credentials held in memory.
#[derive(Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InMemoryStore")
    }
}

fn not_found(what: &'static str, id: impl ToString) -> CoreError {
    CoreError::NotFound {
        what,
        id: id.to_string(),
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half-written state behind (every write is
        // one insert), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or replaces an expert; a new expert gets an empty schedule in their zone.
    pub fn put_expert(&self, expert: Expert) {
        let mut s = self.lock();
        // The default schedule's id is the expert's, as in the database.
        s.schedules
            .entry(expert.id)
            .or_insert_with(|| ScheduleSet::only(ScheduleId(expert.id.0), Schedule::empty(expert.timezone.clone())));
        let changed = s
            .experts
            .get(&expert.id)
            .is_none_or(|old| old.integration_type != expert.integration_type);
        if changed {
            *s.connections.entry(expert.id).or_default() += 1;
        }
        s.experts.insert(expert.id, expert);
    }

    /// Keeps an integration's non-secret settings (what a provider's webhook looks experts up by).
    pub fn put_integration_settings(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        settings: serde_json::Value,
    ) {
        let mut s = self.lock();
        s.settings.insert((expert, integration), settings);
        *s.connections.entry(expert).or_default() += 1;
    }

    /// Adds or replaces a client.
    pub fn put_client(&self, client: Client) {
        self.lock().clients.insert(client.id, client);
    }

    /// Replaces the weekly rules and overrides (and zone) of an expert's default schedule.
    pub fn put_schedule(&self, expert: ExpertId, schedule: Schedule) {
        let mut s = self.lock();
        let set = match s.schedules.get(&expert) {
            Some(set) => set.with_default_hours(schedule),
            None => ScheduleSet::only(ScheduleId(expert.0), schedule),
        };
        s.schedules.insert(expert, set);
    }

    /// Replaces all of an expert's schedules and periods.
    pub fn put_schedules(&self, expert: ExpertId, schedules: ScheduleSet) {
        self.lock().schedules.insert(expert, schedules);
    }

    /// Stores an appointment as it is, without any check (for seeding tests).
    pub fn put_appointment(&self, appointment: Appointment) {
        self.lock().appointments.insert(appointment.id, appointment);
    }

    /// Every appointment of an expert, sorted by start.
    pub fn appointments_of(&self, expert: ExpertId) -> Vec<Appointment> {
        let mut list: Vec<_> = self
            .lock()
            .appointments
            .values()
            .filter(|a| a.expert_id == expert)
            .cloned()
            .collect();
        list.sort_by_key(|a| (a.start_time, a.id));
        list
    }

    fn confirmed_in(state: &State, expert: ExpertId, window: Interval) -> Vec<Appointment> {
        let mut list: Vec<_> = state
            .appointments
            .values()
            .filter(|a| a.expert_id == expert && a.is_confirmed())
            .filter(|a| a.interval().is_some_and(|i| i.overlaps(&window)))
            .cloned()
            .collect();
        list.sort_by_key(|a| (a.start_time, a.id));
        list
    }

    /// `list` and, when the expert's policy has limits, the confirmed and pending appointments
    /// that start in the counted window around `window` (without duplicates).
    fn with_counted(state: &State, expert: &Expert, list: Vec<Appointment>, window: Interval) -> Vec<Appointment> {
        match counted_window(expert, window) {
            Some(counted) => with_counted(list, Self::counted_in(state, expert.id, counted)),
            None => list,
        }
    }

    fn counted_in(state: &State, expert: ExpertId, window: Interval) -> Vec<Appointment> {
        let mut list: Vec<_> = state
            .appointments
            .values()
            .filter(|a| a.expert_id == expert && (a.is_confirmed() || a.is_pending()))
            .filter(|a| a.start_time >= window.start() && a.start_time < window.end())
            .cloned()
            .collect();
        list.sort_by_key(|a| (a.start_time, a.id));
        list
    }

    /// The expert's holds that overlap `window` (expired ones too: they block nothing).
    fn holds_in(state: &State, expert: ExpertId, window: Interval) -> Vec<Hold> {
        let mut list: Vec<Hold> = state
            .holds
            .values()
            .filter(|h| h.expert_id == expert && h.time.overlaps(&window))
            .cloned()
            .collect();
        list.sort_by_key(|h| (h.time.start(), h.id));
        list
    }

    /// Checks a booking's hold, if it redeems one, as the database store does.
    fn check_hold(state: &State, new: &NewAppointment, guard: &BookingGuard) -> Result<(), CoreError> {
        let Some(id) = guard.hold else {
            return Ok(());
        };
        let hold = state.holds.get(&id).ok_or(CoreError::HoldExpired(id))?;
        guard.redeems(hold, new)
    }

    fn check(
        state: &State,
        expert_id: ExpertId,
        requested: Interval,
        guard: &BookingGuard,
        ignore: Option<AppointmentId>,
    ) -> Result<(), CoreError> {
        let expert = state
            .experts
            .get(&expert_id)
            .ok_or_else(|| not_found("expert", expert_id))?;
        let schedules = state
            .schedules
            .get(&expert_id)
            .ok_or_else(|| not_found("expert", expert_id))?;
        let nearby = Self::confirmed_in(state, expert_id, BookingGuard::lookup_window(expert, requested));
        let nearby = Self::with_counted(state, expert, nearby, requested);
        let holds = Self::holds_in(state, expert_id, BookingGuard::lookup_window(expert, requested));
        guard
            .check(expert, schedules, &nearby, &holds, requested, ignore)
            .map_err(CoreError::from)
    }
}

#[async_trait]
impl ExpertRepository for InMemoryStore {
    async fn expert(&self, id: ExpertId) -> Result<Expert, CoreError> {
        self.lock()
            .experts
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("expert", id))
    }

    async fn client(&self, id: ClientId) -> Result<Client, CoreError> {
        self.lock()
            .clients
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("client", id))
    }

    async fn schedule(&self, id: ExpertId) -> Result<Schedule, CoreError> {
        self.lock()
            .schedules
            .get(&id)
            .map(|set| set.default_schedule().hours.clone())
            .ok_or_else(|| not_found("expert", id))
    }

    async fn expert_calendar(
        &self,
        id: ExpertId,
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<ExpertCalendar, CoreError> {
        let state = self.lock();
        let expert = state.experts.get(&id).cloned().ok_or_else(|| not_found("expert", id))?;
        let schedules = state
            .schedules
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("expert", id))?;
        let duration = duration_minutes.unwrap_or(expert.booking_policy.slot_duration_minutes());
        let around = busy_window(window, &expert.booking_policy, duration);
        let appointments = Self::with_counted(&state, &expert, Self::confirmed_in(&state, id, around), window);
        let holds = Self::holds_in(&state, id, around);
        let connection = state.connections.get(&id).copied().unwrap_or_default();
        Ok(ExpertCalendar {
            expert,
            schedules,
            appointments,
            holds,
            connection,
        })
    }

    async fn client_by_email(&self, email: &str) -> Result<Option<Client>, CoreError> {
        Ok(self
            .lock()
            .clients
            .values()
            .find(|c| c.email.eq_ignore_ascii_case(email.trim()))
            .cloned())
    }

    async fn create_client(&self, name: String, email: String, timezone: Zone) -> Result<Client, CoreError> {
        let client = Client {
            id: ClientId::new(),
            name,
            email,
            timezone,
        };
        self.lock().clients.insert(client.id, client.clone());
        Ok(client)
    }
}

#[async_trait]
impl AppointmentRepository for InMemoryStore {
    async fn appointment(&self, id: AppointmentId) -> Result<Appointment, CoreError> {
        self.lock()
            .appointments
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("appointment", id))
    }

    async fn confirmed_overlapping(&self, expert: ExpertId, window: Interval) -> Result<Vec<Appointment>, CoreError> {
        Ok(Self::confirmed_in(&self.lock(), expert, window))
    }

    async fn counted_starting_in(&self, expert: ExpertId, window: Interval) -> Result<Vec<Appointment>, CoreError> {
        Ok(Self::counted_in(&self.lock(), expert, window))
    }

    async fn book_series(&self, new: NewSeries, guard: BookingGuard) -> Result<SeriesBooking, CoreError> {
        let mut state = self.lock();
        if !state.clients.contains_key(&new.client_id) {
            return Err(not_found("client", new.client_id));
        }
        let expert = state
            .experts
            .get(&new.expert_id)
            .cloned()
            .ok_or_else(|| not_found("expert", new.expert_id))?;
        let schedule = state
            .schedules
            .get(&new.expert_id)
            .cloned()
            .ok_or_else(|| not_found("expert", new.expert_id))?;
        let window = BookingGuard::series_window(&expert, &new.occurrences)
            .ok_or_else(|| CoreError::SeriesConflict(Vec::new()))?;
        let nearby = Self::with_counted(&state, &expert, Self::confirmed_in(&state, expert.id, window), window);
        let holds = Self::holds_in(&state, expert.id, window);
        let verdicts = guard.check_series(&expert, &schedule, &nearby, &holds, &new.occurrences);
        let (accepted, skipped) = crate::series::sort_verdicts(&new, verdicts)?;
        let series = Series {
            id: SeriesId::new(),
            expert_id: new.expert_id,
            client_id: new.client_id,
            recurrence: new.recurrence,
            created_at: guard.timestamp(),
        };
        let appointments: Vec<Appointment> = accepted
            .into_iter()
            .map(|time| crate::series::occurrence(&series, time, &guard))
            .collect();
        for a in &appointments {
            state.appointments.insert(a.id, a.clone());
        }
        state.series.insert(series.id, series.clone());
        Ok(SeriesBooking {
            series,
            appointments,
            skipped,
        })
    }

    async fn series(&self, id: SeriesId) -> Result<(Series, Vec<Appointment>), CoreError> {
        let state = self.lock();
        let series = state.series.get(&id).cloned().ok_or_else(|| not_found("series", id))?;
        let mut list: Vec<Appointment> = state
            .appointments
            .values()
            .filter(|a| a.series_id == Some(id))
            .cloned()
            .collect();
        list.sort_by_key(|a| (a.start_time, a.id));
        Ok((series, list))
    }

    async fn create_hold(&self, hold: Hold, guard: BookingGuard) -> Result<Hold, CoreError> {
        let mut state = self.lock();
        if !state.clients.contains_key(&hold.client_id) {
            return Err(not_found("client", hold.client_id));
        }
        let now = guard.now;
        state.holds.retain(|_, h| h.is_active(now));
        // The client's earlier hold with this expert is replaced, unless the new one is refused.
        let earlier: Vec<Hold> = state
            .holds
            .values()
            .filter(|h| h.expert_id == hold.expert_id && h.client_id == hold.client_id)
            .cloned()
            .collect();
        for h in &earlier {
            state.holds.remove(&h.id);
        }
        if let Err(e) = Self::check(&state, hold.expert_id, hold.time, &guard, None) {
            state.holds.extend(earlier.into_iter().map(|h| (h.id, h)));
            return Err(e);
        }
        state.holds.insert(hold.id, hold.clone());
        Ok(hold)
    }

    async fn find_hold(&self, id: HoldId) -> Result<Hold, CoreError> {
        self.lock().holds.get(&id).cloned().ok_or_else(|| not_found("hold", id))
    }

    async fn release_hold(&self, id: HoldId) -> Result<(), CoreError> {
        self.lock().holds.remove(&id);
        Ok(())
    }

    async fn book(&self, new: NewAppointment, guard: BookingGuard) -> Result<Appointment, CoreError> {
        let mut state = self.lock();
        if !state.clients.contains_key(&new.client_id) {
            return Err(not_found("client", new.client_id));
        }
        Self::check_hold(&state, &new, &guard)?;
        Self::check(&state, new.expert_id, new.time, &guard, None)?;
        if let Some(id) = guard.hold {
            state.holds.remove(&id);
        }
        let calendar_type = guard.calendar_type;
        let appointment = Appointment {
            id: AppointmentId::new(),
            expert_id: new.expert_id,
            client_id: new.client_id,
            start_time: new.time.start(),
            end_time: new.time.end(),
            status: AppointmentStatus::Confirmed,
            calendar_type,
            external_calendar_event_id: None,
            scheduling_url: None,
            sync_status: if calendar_type.is_some() {
                SyncStatus::Pending
            } else {
                SyncStatus::NotApplicable
            },
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: guard.meeting_url.clone(),
            meeting_error: guard.meeting_error.clone(),
            series_id: None,
            created_at: guard.timestamp(),
            updated_at: guard.timestamp(),
        };
        state.appointments.insert(appointment.id, appointment.clone());
        Ok(appointment)
    }

    async fn reschedule(
        &self,
        id: AppointmentId,
        time: Interval,
        guard: BookingGuard,
    ) -> Result<Appointment, CoreError> {
        let mut state = self.lock();
        let current = state
            .appointments
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("appointment", id))?;
        if !current.is_confirmed() {
            return Err(CoreError::NotConfirmed(id));
        }
        Self::check(&state, current.expert_id, time, &guard, Some(id))?;
        let updated = Appointment {
            start_time: time.start(),
            end_time: time.end(),
            sync_status: if current.calendar_type.is_some() {
                SyncStatus::Pending
            } else {
                SyncStatus::NotApplicable
            },
            updated_at: guard.timestamp(),
            ..current
        };
        state.appointments.insert(id, updated.clone());
        Ok(updated)
    }

    async fn cancel(
        &self,
        id: AppointmentId,
        by: CancelledBy,
        reason: Option<String>,
    ) -> Result<Appointment, CoreError> {
        let mut state = self.lock();
        let appointment = state
            .appointments
            .get_mut(&id)
            .ok_or_else(|| not_found("appointment", id))?;
        if appointment.status != AppointmentStatus::Cancelled {
            // A pending appointment the provider never booked has nothing to remove there.
            let in_provider = appointment.is_confirmed() || appointment.external_calendar_event_id.is_some();
            appointment.status = AppointmentStatus::Cancelled;
            appointment.cancellation_reason = reason;
            appointment.cancelled_by = Some(by);
            appointment.scheduling_url = None;
            appointment.updated_at = Timestamp::now();
            if appointment.calendar_type.is_some() && in_provider {
                appointment.sync_status = SyncStatus::Pending;
            }
        }
        Ok(appointment.clone())
    }

    async fn record_sync(
        &self,
        id: AppointmentId,
        external_event_id: Option<String>,
        status: SyncStatus,
    ) -> Result<Appointment, CoreError> {
        let mut state = self.lock();
        let appointment = state
            .appointments
            .get_mut(&id)
            .ok_or_else(|| not_found("appointment", id))?;
        if external_event_id.is_some() {
            appointment.external_calendar_event_id = external_event_id;
        }
        appointment.sync_status = status;
        Ok(appointment.clone())
    }

    async fn record_meeting(&self, id: AppointmentId, meeting: Meeting) -> Result<Appointment, CoreError> {
        let mut state = self.lock();
        let appointment = state
            .appointments
            .get_mut(&id)
            .ok_or_else(|| not_found("appointment", id))?;
        match meeting {
            Meeting::Ready { url } => {
                appointment.meeting_url = Some(url);
                appointment.meeting_error = None;
            }
            Meeting::Unavailable { reason } => appointment.meeting_error = Some(reason),
            Meeting::Pending => {}
        }
        Ok(appointment.clone())
    }

    async fn record_confirmed(&self, appointment: Appointment) -> Result<Appointment, CoreError> {
        let mut state = self.lock();
        let time =
            appointment
                .interval()
                .ok_or(CoreError::Invalid(availability_domain::DomainError::EndNotAfterStart {
                    start: appointment.start_time.to_string(),
                    end: appointment.end_time.to_string(),
                }))?;
        if !Self::confirmed_in(&state, appointment.expert_id, time).is_empty() {
            return Err(CoreError::SlotTaken);
        }
        state.appointments.insert(appointment.id, appointment.clone());
        Ok(appointment)
    }

    async fn record_pending(&self, appointment: Appointment) -> Result<Appointment, CoreError> {
        if !appointment.is_pending() {
            return Err(CoreError::NotPending(appointment.id));
        }
        let mut state = self.lock();
        if let Some(external) = &appointment.external_calendar_event_id {
            if state
                .appointments
                .values()
                .any(|a| a.external_calendar_event_id.as_ref() == Some(external))
            {
                return Err(CoreError::AlreadyRecorded {
                    external_id: external.clone(),
                });
            }
        }
        state.appointments.insert(appointment.id, appointment.clone());
        Ok(appointment)
    }

    async fn confirm_pending(
        &self,
        id: AppointmentId,
        external_event_id: String,
        time: Interval,
        now: Timestamp,
    ) -> Result<Appointment, CoreError> {
        let mut state = self.lock();
        let current = state
            .appointments
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("appointment", id))?;
        if current.is_confirmed() && current.external_calendar_event_id.as_deref() == Some(external_event_id.as_str()) {
            return Ok(current);
        }
        if !current.is_pending() {
            return Err(CoreError::NotPending(id));
        }
        let overlapping = Self::confirmed_in(&state, current.expert_id, time);
        if overlapping.iter().any(|a| a.id != id) {
            return Err(CoreError::SlotTaken);
        }
        let confirmed = Appointment {
            start_time: time.start(),
            end_time: time.end(),
            status: AppointmentStatus::Confirmed,
            external_calendar_event_id: Some(external_event_id),
            scheduling_url: None,
            sync_status: SyncStatus::Synced,
            sync_error: None,
            updated_at: now,
            ..current
        };
        state.appointments.insert(id, confirmed.clone());
        Ok(confirmed)
    }

    async fn by_external_id(&self, external_id: &str) -> Result<Option<Appointment>, CoreError> {
        Ok(self
            .lock()
            .appointments
            .values()
            .find(|a| a.external_calendar_event_id.as_deref() == Some(external_id))
            .cloned())
    }

    async fn awaiting_client(&self, expert: ExpertId, email: &str) -> Result<Vec<Appointment>, CoreError> {
        let state = self.lock();
        let mut list: Vec<Appointment> = state
            .appointments
            .values()
            .filter(|a| a.expert_id == expert && a.state() == BookingState::AwaitingClient)
            .filter(|a| {
                state
                    .clients
                    .get(&a.client_id)
                    .is_some_and(|c| c.email.eq_ignore_ascii_case(email.trim()))
            })
            .cloned()
            .collect();
        list.sort_by_key(|a| (a.created_at, a.id));
        Ok(list)
    }

    async fn hold(
        &self,
        id: AppointmentId,
        external_event_id: String,
        time: Interval,
        reason: String,
    ) -> Result<Appointment, CoreError> {
        let mut state = self.lock();
        let appointment = state
            .appointments
            .get_mut(&id)
            .ok_or_else(|| not_found("appointment", id))?;
        let same_booking = appointment
            .external_calendar_event_id
            .as_ref()
            .is_none_or(|e| *e == external_event_id);
        if !appointment.is_pending() || !same_booking {
            return Err(CoreError::NotPending(id));
        }
        appointment.external_calendar_event_id = Some(external_event_id);
        appointment.start_time = time.start();
        appointment.end_time = time.end();
        appointment.scheduling_url = None;
        appointment.sync_status = SyncStatus::Failed;
        appointment.sync_error = Some(reason);
        appointment.updated_at = Timestamp::now();
        Ok(appointment.clone())
    }

    async fn held(&self, expert: ExpertId) -> Result<Vec<Appointment>, CoreError> {
        let mut list: Vec<Appointment> = self
            .lock()
            .appointments
            .values()
            .filter(|a| a.expert_id == expert && a.is_held())
            .cloned()
            .collect();
        list.sort_by_key(|a| (a.start_time, a.id));
        Ok(list)
    }

    async fn follow_calendar_move(
        &self,
        id: AppointmentId,
        time: Interval,
        calendar: &str,
        now: Timestamp,
    ) -> Result<CalendarFollow, CoreError> {
        let mut s = self.lock();
        let current = s
            .appointments
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("appointment", id))?;
        if !current.is_confirmed() || current.sync_status == SyncStatus::Pending {
            return Ok(CalendarFollow::Unchanged);
        }
        let back_to_own_time = current.interval() == Some(time);
        if back_to_own_time && current.sync_status != SyncStatus::Conflict {
            return Ok(CalendarFollow::Unchanged);
        }
        let other = s
            .appointments
            .values()
            .filter(|a| a.id != id && a.expert_id == current.expert_id && a.is_confirmed())
            .find(|a| a.interval().is_some_and(|i| i.overlaps(&time)))
            .cloned();
        let updated = match (back_to_own_time, other) {
            (false, Some(other)) => {
                let reason = crate::ports::conflict_reason(calendar, time, &other);
                if current.sync_status == SyncStatus::Conflict && current.sync_error.as_deref() == Some(&reason) {
                    return Ok(CalendarFollow::Unchanged);
                }
                let conflict = Appointment {
                    sync_status: SyncStatus::Conflict,
                    sync_error: Some(reason),
                    updated_at: now,
                    ..current
                };
                s.appointments.insert(id, conflict.clone());
                return Ok(CalendarFollow::Conflict(conflict));
            }
            _ => Appointment {
                start_time: time.start(),
                end_time: time.end(),
                sync_status: SyncStatus::Synced,
                sync_error: None,
                updated_at: now,
                ..current
            },
        };
        s.appointments.insert(id, updated.clone());
        Ok(CalendarFollow::Moved(updated))
    }

    async fn change_cursor(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
    ) -> Result<(i64, Option<String>), CoreError> {
        let s = self.lock();
        let connection = s.connections.get(&expert).copied().unwrap_or_default();
        let cursor = s
            .change_cursors
            .get(&(expert, integration))
            .filter(|(read_for, _)| *read_for == connection)
            .map(|(_, cursor)| cursor.clone());
        Ok((connection, cursor))
    }

    async fn save_change_cursor(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        connection: i64,
        cursor: String,
    ) -> Result<(), CoreError> {
        self.lock()
            .change_cursors
            .insert((expert, integration), (connection, cursor));
        Ok(())
    }
}

#[async_trait]
impl CredentialRepository for InMemoryStore {
    async fn load(&self, expert: ExpertId, integration: IntegrationType) -> Result<Option<Credential>, CoreError> {
        Ok(self.lock().credentials.get(&(expert, integration)).cloned())
    }

    async fn save(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        credential: Credential,
    ) -> Result<(), CoreError> {
        let mut s = self.lock();
        s.credentials.insert((expert, integration), credential);
        *s.connections.entry(expert).or_default() += 1;
        // A fresh credential means the expert (re)connected.
        if let Some(state) = s.integration_status.get_mut(&(expert, integration)) {
            state.needs_reauth = false;
        }
        Ok(())
    }

    async fn delete(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), CoreError> {
        let mut s = self.lock();
        s.credentials.remove(&(expert, integration));
        *s.connections.entry(expert).or_default() += 1;
        Ok(())
    }
}

impl InMemoryStore {
    /// The recorded health of an integration.
    pub fn integration_state(&self, expert: ExpertId, integration: IntegrationType) -> IntegrationState {
        self.lock()
            .integration_status
            .get(&(expert, integration))
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl IntegrationRepository for InMemoryStore {
    async fn expert_by_setting(
        &self,
        integration: IntegrationType,
        key: &str,
        value: &str,
    ) -> Result<Option<ExpertId>, CoreError> {
        Ok(self
            .lock()
            .settings
            .iter()
            .find(|((_, t), settings)| *t == integration && settings.get(key).and_then(|v| v.as_str()) == Some(value))
            .map(|((expert, _), _)| *expert))
    }

    async fn record_success(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), CoreError> {
        let mut s = self.lock();
        let state = s.integration_status.entry((expert, integration)).or_default();
        state.last_error = None;
        state.synced = true;
        Ok(())
    }

    async fn record_failure(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        reason: &str,
    ) -> Result<(), CoreError> {
        self.lock()
            .integration_status
            .entry((expert, integration))
            .or_default()
            .last_error = Some(reason.to_owned());
        Ok(())
    }

    async fn mark_needs_reauth(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        reason: &str,
    ) -> Result<(), CoreError> {
        let mut s = self.lock();
        let state = s.integration_status.entry((expert, integration)).or_default();
        state.needs_reauth = true;
        state.last_error = Some(reason.to_owned());
        Ok(())
    }
}

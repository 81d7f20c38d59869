//! Appointments: bookings validated by the slot engine inside the transaction that writes them.

use availability_core::strategy::busy_window;
use availability_core::{BookingGuard, CoreError, ExpertCalendar, Meeting};
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, CancelledBy, ClientId, ExpertId, Interval, NewAppointment,
    SyncStatus,
};
use diesel::prelude::*;

use crate::db::{db_run, Conn, LockedTransaction};
use crate::rows::AppointmentRow;
use crate::schema::{appointments, clients};
use crate::webhooks::{Emit, Event, WebhookEvent};
use crate::StoreError;

/// Whose appointments a listing is for.
#[derive(Debug, Clone, Copy)]
pub enum Party {
    /// An expert's appointments.
    Expert(ExpertId),
    /// A client's appointments.
    Client(ClientId),
}

fn not_found(id: AppointmentId) -> StoreError {
    StoreError::NotFound {
        what: "appointment",
        id: id.to_string(),
    }
}

pub(crate) fn appointment(conn: &mut Conn, id: AppointmentId) -> Result<Appointment, StoreError> {
    let key = id.to_string();
    let row = db_run!(conn, |c| appointments::table
        .find(&key)
        .select(AppointmentRow::as_select())
        .load(c)
        .map(|rows| rows.into_iter().next()))?;
    row.ok_or_else(|| not_found(id))?.into_domain()
}

/// Appointments of one party overlapping [window), sorted by start, optionally of one status.
pub(crate) fn list(
    conn: &mut Conn,
    party: Party,
    window: Interval,
    status: Option<AppointmentStatus>,
) -> Result<Vec<Appointment>, StoreError> {
    let (from, to) = (window.start().as_second(), window.end().as_second());
    let status = status.map(|s| s.as_str().to_owned());
    let rows: Vec<AppointmentRow> = db_run!(conn, |c| {
        let mut q = appointments::table
            .filter(appointments::start_time.lt(to))
            .filter(appointments::end_time.gt(from))
            .select(AppointmentRow::as_select())
            .order((appointments::start_time, appointments::id))
            .into_boxed();
        q = match party {
            Party::Expert(id) => q.filter(appointments::expert_id.eq(id.to_string())),
            Party::Client(id) => q.filter(appointments::client_id.eq(id.to_string())),
        };
        if let Some(s) = &status {
            q = q.filter(appointments::status.eq(s.clone()));
        }
        q.load(c)
    })?;
    rows.into_iter().map(AppointmentRow::into_domain).collect()
}

pub(crate) fn confirmed_overlapping(
    conn: &mut Conn,
    expert: ExpertId,
    window: Interval,
) -> Result<Vec<Appointment>, StoreError> {
    list(conn, Party::Expert(expert), window, Some(AppointmentStatus::Confirmed))
}

/// The expert's confirmed and pending appointments that start in `window` (those that count
/// towards the booking policy's limits), on a backend connection.
macro_rules! counted_starting_in {
    ($c:ident, $expert:expr, $window:expr) => {{
        use crate::schema::appointments;
        use availability_domain::AppointmentStatus;
        let window: availability_domain::Interval = $window;
        appointments::table
            .filter(appointments::expert_id.eq($expert.to_string()))
            .filter(appointments::status.eq_any([
                AppointmentStatus::Confirmed.as_str(),
                AppointmentStatus::Pending.as_str(),
            ]))
            .filter(appointments::start_time.ge(window.start().as_second()))
            .filter(appointments::start_time.lt(window.end().as_second()))
            .select(crate::rows::AppointmentRow::as_select())
            .order(appointments::start_time)
            .load::<crate::rows::AppointmentRow>($c)?
            .into_iter()
            .map(crate::rows::AppointmentRow::into_domain)
            .collect::<Result<Vec<availability_domain::Appointment>, _>>()?
    }};
}
pub(crate) use counted_starting_in;

/// The appointments the slot engine needs of `expert` (read in the caller's transaction): the
/// confirmed ones that overlap `window`, and, when the policy has limits, the confirmed and
/// pending ones that count towards them for times in `times` (see `counted_window`).
macro_rules! engine_appointments {
    ($c:ident, $expert:expr, $window:expr, $times:expr) => {{
        use crate::schema::appointments;
        let expert: &availability_domain::Expert = $expert;
        let window: availability_domain::Interval = $window;
        let key = expert.id.to_string();
        let confirmed_status = availability_domain::AppointmentStatus::Confirmed.as_str();
        // Confirmed appointments of an expert never overlap (the exclusion constraint on
        // PostgreSQL, a trigger on SQLite), so their ends rise with their starts: of those that
        // start before the window, only the last can reach into it. The read starts there, not
        // at the expert's first appointment ever (with years of bookings, every read scanned
        // them all: 270 us of PostgreSQL per booking at 12,000 appointments).
        let last_before: Option<i64> = appointments::table
            .filter(appointments::expert_id.eq(&key))
            .filter(appointments::status.eq(confirmed_status))
            .filter(appointments::start_time.lt(window.start().as_second()))
            .select(diesel::dsl::max(appointments::start_time))
            .get_result($c)?;
        // Two statements, not one with a subquery: PostgreSQL planned that one afresh on every
        // execution (200 us, more than the read itself).
        let confirmed = appointments::table
            .filter(appointments::expert_id.eq(&key))
            .filter(appointments::status.eq(confirmed_status))
            .filter(appointments::start_time.ge(last_before.unwrap_or(window.start().as_second())))
            .filter(appointments::start_time.lt(window.end().as_second()))
            .filter(appointments::end_time.gt(window.start().as_second()))
            .select(crate::rows::AppointmentRow::as_select())
            .order(appointments::start_time)
            .load::<crate::rows::AppointmentRow>($c)?
            .into_iter()
            .map(crate::rows::AppointmentRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        match availability_core::strategy::counted_window(expert, $times) {
            Some(counted) => availability_core::strategy::with_counted(
                confirmed,
                crate::appointments::counted_starting_in!($c, expert.id, counted),
            ),
            None => confirmed,
        }
    }};
}
pub(crate) use engine_appointments;

pub(crate) fn counted_appointments_starting_in(
    conn: &mut Conn,
    expert: ExpertId,
    window: Interval,
) -> Result<Vec<Appointment>, StoreError> {
    db_run!(conn, |c| Ok::<_, StoreError>(counted_starting_in!(c, expert, window)))
}

/// Expert, schedule and the confirmed appointments around a slot query, in one read transaction
/// on one connection (one round trip from the async side).
/// What a slot query needs of an expert, and the calendar version it was read at (both in one
/// transaction, so the version describes exactly this read).
pub(crate) fn expert_calendar(
    conn: &mut Conn,
    id: ExpertId,
    window: Interval,
    duration_minutes: Option<u32>,
) -> Result<(i64, ExpertCalendar), StoreError> {
    db_run!(conn, |c| c.transaction(|c| {
        let version = crate::calendar_cache::load_version!(c, id)?;
        let connection = crate::schema::expert_calendar_versions::table
            .find(id.to_string())
            .select(crate::schema::expert_calendar_versions::connection)
            .load::<i64>(c)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let expert = crate::experts::load_expert!(c, id)?;
        let schedules = crate::schedules::load_schedule_set!(c, &expert)?;
        let duration = duration_minutes.unwrap_or(expert.booking_policy.slot_duration_minutes());
        let around = busy_window(window, &expert.booking_policy, duration);
        let appointments = engine_appointments!(c, &expert, around, window);
        let holds = crate::holds::holds_overlapping!(c, id, around);
        Ok::<_, StoreError>((
            version,
            ExpertCalendar {
                expert,
                schedules,
                appointments,
                holds,
                connection,
            },
        ))
    }))
}

/// The body shared by booking and rescheduling, run inside the locked transaction.
macro_rules! checked_in_transaction {
    ($c:ident, $expert:expr, $requested:expr, $guard:expr, $ignore:expr) => {{
        let expert = crate::experts::load_expert!($c, $expert)?;
        let schedules = crate::schedules::load_schedule_set!($c, &expert)?;
        let window = BookingGuard::lookup_window(&expert, $requested);
        let nearby = crate::appointments::engine_appointments!($c, &expert, window, $requested);
        let holds = crate::holds::holds_overlapping!($c, $expert, window);
        $guard.check(&expert, &schedules, &nearby, &holds, $requested, $ignore)?;
        expert
    }};
}
pub(crate) use checked_in_transaction;

/// NotFound unless the client exists (inside a write transaction, before anything is written).
macro_rules! require_client {
    ($c:ident, $client_key:expr) => {{
        let key: &str = $client_key;
        let exists: i64 = crate::schema::clients::table
            .filter(crate::schema::clients::id.eq(key))
            .count()
            .get_result($c)?;
        if exists == 0 {
            return Err(crate::StoreError::NotFound {
                what: "client",
                id: key.to_owned(),
            });
        }
    }};
}
pub(crate) use require_client;

/// One booking inside the expert's locked transaction: the appointment it stored, or the
/// refusal (returned from the enclosing closure).
macro_rules! book_locked {
    ($c:ident, $new:expr, $guard:expr, $shared:expr) => {{
        let c = &mut *$c;
        let new: &NewAppointment = $new;
        let guard: &BookingGuard = $guard;
        let shared: &mut Shared = $shared;
        shared.require_client(new)?;
        crate::holds::redeem!(c, new, guard);
        let window = BookingGuard::lookup_window(&shared.expert, new.time);
        let nearby = crate::appointments::engine_appointments!(c, &shared.expert, window, new.time);
        let appointment = shared.checked(new, guard, &nearby)?;
        diesel::insert_into(appointments::table)
            .values(AppointmentRow::from_domain(&appointment))
            .execute(c)?;
        record_booked!(c, &appointment, guard, shared);
        if let Some(redeemed) = guard.hold {
            // Deleted by `redeem!` above: it blocks nothing for the bookings after this one.
            shared.holds.retain(|h| h.id != redeemed);
        }
        appointment
    }};
}

/// What follows a stored booking in its transaction: the calendar sync job when the expert's
/// calendar takes events, and the `appointment.created` webhooks.
macro_rules! record_booked {
    ($c:ident, $appointment:expr, $guard:expr, $shared:expr) => {{
        let appointment: &Appointment = $appointment;
        let guard: &BookingGuard = $guard;
        if appointment.calendar_type.is_some() {
            crate::outbox::enqueue_sync!($c, appointment.id, appointment.expert_id, guard.now.as_second())?;
        }
        $c.emit_to(
            &$shared.endpoints,
            Event::appointment(WebhookEvent::AppointmentCreated, appointment, guard.now.as_second())?,
        )?;
    }};
}

/// Bookings checked in memory and stored with one INSERT: the confirmed appointments around all
/// of them are read once (one read per run of overlapping windows), and each booking is checked
/// against those and the ones of the batch accepted before it, exactly what its own read would
/// have returned inside the locked transaction. Only for batches where nothing is written before
/// a check (no hold to redeem) and the policy counts nothing beyond these (no limits); see
/// [`Shared::checked_in_memory`]. A failed statement fails the whole transaction (no savepoints):
/// the queue then books each one alone.
macro_rules! book_in_memory {
    ($c:ident, $bookings:expr, $shared:expr) => {{
        let bookings: &[(NewAppointment, BookingGuard)] = $bookings;
        let shared: &Shared = $shared;
        let windows = bookings
            .iter()
            .map(|(new, _)| BookingGuard::lookup_window(&shared.expert, new.time));
        let mut known: Vec<Appointment> = Vec::new();
        for run in runs_of(windows) {
            known.extend(crate::appointments::engine_appointments!($c, &shared.expert, run, run));
        }
        // A long appointment reaching into two runs is read by both.
        known.sort_by_key(|a| a.start_time);
        known.dedup_by_key(|a| a.id);
        let mut answers = Vec::with_capacity(bookings.len());
        let mut stored: Vec<(Appointment, &BookingGuard)> = Vec::new();
        for (new, guard) in bookings {
            let answer = shared.require_client(new).and_then(|()| {
                let window = BookingGuard::lookup_window(&shared.expert, new.time);
                let nearby: Vec<Appointment> = known
                    .iter()
                    .filter(|a| a.start_time < window.end() && a.end_time > window.start())
                    .cloned()
                    .collect();
                shared.checked(new, guard, &nearby)
            });
            if let Ok(appointment) = &answer {
                let at = known.partition_point(|a| a.start_time < appointment.start_time);
                known.insert(at, appointment.clone());
                stored.push((appointment.clone(), guard));
            }
            answers.push(answer);
        }
        if !stored.is_empty() {
            let rows: Vec<AppointmentRow> = stored.iter().map(|(a, _)| AppointmentRow::from_domain(a)).collect();
            diesel::insert_into(appointments::table).values(&rows).execute($c)?;
        }
        for (appointment, guard) in &stored {
            record_booked!($c, appointment, *guard, shared);
        }
        answers
    }};
}

/// The windows merged into runs: overlapping or touching windows become one, in order.
fn runs_of(windows: impl Iterator<Item = Interval>) -> Vec<Interval> {
    let mut windows: Vec<Interval> = windows.collect();
    windows.sort_by_key(|w| w.start());
    let mut runs: Vec<Interval> = Vec::with_capacity(windows.len());
    for window in windows {
        match runs.last_mut() {
            Some(run) if window.start() <= run.end() => {
                if window.end() > run.end() {
                    *run = Interval::new(run.start(), window.end()).unwrap_or(*run);
                }
            }
            _ => runs.push(window),
        }
    }
    runs
}

/// What the bookings of one locked transaction read once: nothing else writes the expert's
/// profile, hours or holds while the lock is held (a redeemed hold is dropped here as it is
/// deleted). Appointments are not here: the bookings before one add some (the savepoint path
/// reads them again for each booking; `book_in_memory!` keeps them itself).
struct Shared {
    expert: availability_domain::Expert,
    schedules: availability_domain::ScheduleSet,
    /// Which of the bookings' clients exist.
    clients: std::collections::HashSet<String>,
    endpoints: Vec<(String, String)>,
    /// The expert's holds (expired ones removed), ordered by start.
    holds: Vec<availability_domain::Hold>,
}

impl Shared {
    /// NotFound unless the booking's client exists.
    fn require_client(&self, new: &NewAppointment) -> Result<(), StoreError> {
        if self.clients.contains(&new.client_id.to_string()) {
            Ok(())
        } else {
            Err(StoreError::NotFound {
                what: "client",
                id: new.client_id.to_string(),
            })
        }
    }

    /// The appointment `new` becomes if the engine finds its time bookable among `nearby` (the
    /// confirmed appointments around it, as `engine_appointments!` reads them) and the holds.
    fn checked(
        &self,
        new: &NewAppointment,
        guard: &BookingGuard,
        nearby: &[Appointment],
    ) -> Result<Appointment, StoreError> {
        let expert = &self.expert;
        let window = BookingGuard::lookup_window(expert, new.time);
        // As `holds_overlapping!` would read them.
        let holds: Vec<availability_domain::Hold> = self
            .holds
            .iter()
            .filter(|h| h.time.overlaps(&window))
            .cloned()
            .collect();
        guard.check(expert, &self.schedules, nearby, &holds, new.time, None)?;
        if expert.integration_type != guard.integration {
            // The busy time the check used was another calendar's.
            return Err(StoreError::SlotUnavailable(
                "the expert switched calendars while this booking was checked; try again".into(),
            ));
        }
        let calendar_type = guard.calendar_type;
        Ok(Appointment {
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
        })
    }

    /// Whether `bookings` can be checked in memory ([`book_in_memory!`]): none redeems a hold
    /// (a write before its check, undone if refused) and the policy has no limits (which count
    /// pending appointments and whole days or weeks, beyond the windows read).
    fn checked_in_memory(&self, bookings: &[(NewAppointment, BookingGuard)]) -> bool {
        !self.expert.booking_policy.has_limits() && bookings.iter().all(|(_, guard)| guard.hold.is_none())
    }
}

/// Reads [`Shared`] inside the locked transaction, after removing the holds that expired by the
/// earliest of the bookings' instants (a hold that expires later within the batch blocks nothing
/// for the bookings after it: the engine only counts holds active at their instant).
macro_rules! shared_reads {
    ($c:ident, $expert:expr, $bookings:expr) => {{
        let bookings: &[(NewAppointment, BookingGuard)] = $bookings;
        let earliest = bookings
            .iter()
            .map(|(_, g)| g.now.as_second())
            .min()
            .unwrap_or(i64::MIN);
        crate::holds::remove_expired!($c, $expert, earliest);
        let expert = crate::experts::load_expert!($c, $expert)?;
        let schedules = crate::schedules::load_schedule_set!($c, &expert)?;
        let keys: Vec<String> = bookings.iter().map(|(n, _)| n.client_id.to_string()).collect();
        let clients = clients::table
            .filter(clients::id.eq_any(&keys))
            .select(clients::id)
            .load::<String>($c)?
            .into_iter()
            .collect();
        let endpoints = $c.endpoints()?;
        let holds = crate::schema::holds::table
            .filter(crate::schema::holds::expert_id.eq($expert.to_string()))
            .select(crate::rows::HoldRow::as_select())
            .order(crate::schema::holds::start_time)
            .load::<crate::rows::HoldRow>($c)?
            .into_iter()
            .map(crate::rows::HoldRow::into_domain)
            .collect::<Result<Vec<availability_domain::Hold>, crate::StoreError>>()?;
        Shared {
            expert,
            schedules,
            clients,
            endpoints,
            holds,
        }
    }};
}

/// Books appointments of one expert in one locked transaction, each checked by the engine against
/// what is stored and what the bookings before it in `bookings` wrote: in memory when the batch
/// allows ([`book_in_memory!`]), else each in its own savepoint (a refused one is rolled back to
/// it and leaves the others as they are). One commit for many bookings: the commit's flush to
/// disk, not the work, is what limits one expert's bookings per second when each has its own
/// transaction. The outer error: nothing was stored.
pub(crate) fn book_together(
    conn: &mut Conn,
    expert: ExpertId,
    bookings: &[(NewAppointment, BookingGuard)],
) -> Result<Booked, StoreError> {
    let expert_key = expert.to_string();
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        let mut shared = shared_reads!(c, expert, bookings);
        if let [(new, guard)] = bookings {
            // Alone: no savepoint needed, its error is the transaction's.
            let answer = book_locked!(c, new, guard, &mut shared);
            return Ok(Booked {
                answers: vec![Ok(answer)],
                in_memory: false,
            });
        }
        if shared.checked_in_memory(bookings) {
            return Ok(Booked {
                answers: book_in_memory!(c, bookings, &shared),
                in_memory: true,
            });
        }
        let mut answers = Vec::with_capacity(bookings.len());
        for (new, guard) in bookings {
            debug_assert_eq!(new.expert_id, expert);
            answers.push(c.transaction(|c| Ok::<_, StoreError>(book_locked!(c, new, guard, &mut shared))));
        }
        Ok(Booked {
            answers,
            in_memory: false,
        })
    }))
}

/// What [`book_together`] did: each booking's answer, in order, and how they were checked.
pub(crate) struct Booked {
    pub(crate) answers: Vec<Result<Appointment, StoreError>>,
    /// Checked in memory ([`book_in_memory!`]), not each in its savepoint.
    pub(crate) in_memory: bool,
}

pub(crate) fn reschedule(
    conn: &mut Conn,
    id: AppointmentId,
    time: Interval,
    guard: &BookingGuard,
) -> Result<Appointment, StoreError> {
    let current = appointment(conn, id)?;
    let expert_key = current.expert_id.to_string();
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        // Read again under the lock: the appointment may have changed since.
        let current = appointments::table
            .find(id.to_string())
            .select(AppointmentRow::as_select())
            .load(c)
            .map(|rows| rows.into_iter().next())?
            .ok_or_else(|| not_found(id))?
            .into_domain()?;
        if !current.is_confirmed() {
            return Err(StoreError::Refused(CoreError::NotConfirmed(id)));
        }
        checked_in_transaction!(c, current.expert_id, time, guard, Some(id));
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
        diesel::update(appointments::table.find(id.to_string()))
            .set(AppointmentRow::from_domain(&updated))
            .execute(c)?;
        if updated.calendar_type.is_some() {
            crate::outbox::enqueue_sync!(c, updated.id, updated.expert_id, guard.now.as_second())?;
        }
        c.emit(Event::appointment(
            WebhookEvent::AppointmentRescheduled,
            &updated,
            guard.now.as_second(),
        )?)?;
        Ok(updated)
    }))
}

pub(crate) fn cancel(
    conn: &mut Conn,
    id: AppointmentId,
    by: CancelledBy,
    reason: Option<&str>,
    now: i64,
) -> Result<Appointment, StoreError> {
    let key = id.to_string();
    db_run!(conn, |c| c.transaction(|c| {
        let current = appointments::table
            .find(&key)
            .select(AppointmentRow::as_select())
            .load(c)
            .map(|rows| rows.into_iter().next())?
            .ok_or_else(|| not_found(id))?;
        if current.status == AppointmentStatus::Cancelled.as_str() {
            return current.into_domain();
        }
        // A pending appointment the provider never booked has nothing to remove there: no job,
        // and its sync status stays as it is.
        let in_provider =
            current.status == AppointmentStatus::Confirmed.as_str() || current.external_calendar_event_id.is_some();
        let sync = match (&current.calendar_type, in_provider) {
            (Some(_), true) => SyncStatus::Pending.as_str(),
            (Some(_), false) => current.sync_status.as_str(),
            (None, _) => SyncStatus::NotApplicable.as_str(),
        };
        // Only a cancel that finds it not cancelled yet (a concurrent one may have won the row's
        // lock meanwhile) queues the sync and the event.
        let changed = diesel::update(
            appointments::table
                .find(&key)
                .filter(appointments::status.ne(AppointmentStatus::Cancelled.as_str())),
        )
        .set((
            appointments::status.eq(AppointmentStatus::Cancelled.as_str()),
            appointments::cancellation_reason.eq(reason),
            appointments::cancelled_by.eq(by.as_str()),
            appointments::scheduling_url.eq(None::<String>),
            appointments::sync_status.eq(sync),
            appointments::updated_at.eq(now),
        ))
        .execute(c)?;
        if changed == 0 {
            return appointments::table
                .find(&key)
                .select(AppointmentRow::as_select())
                .first(c)?
                .into_domain();
        }
        if current.calendar_type.is_some() && in_provider {
            crate::outbox::enqueue_sync!(c, id, current.expert_id, now)?;
        }
        let cancelled = appointments::table
            .find(&key)
            .select(AppointmentRow::as_select())
            .first(c)?
            .into_domain()?;
        c.emit(Event::appointment(WebhookEvent::AppointmentCancelled, &cancelled, now)?)?;
        Ok(cancelled)
    }))
}

pub(crate) fn record_sync(
    conn: &mut Conn,
    id: AppointmentId,
    external_event_id: Option<&str>,
    status: SyncStatus,
) -> Result<Appointment, StoreError> {
    let key = id.to_string();
    let now = availability_domain::jiff::Timestamp::now().as_second();
    db_run!(conn, |c| c.transaction(|c| {
        let n = match external_event_id {
            Some(event) => diesel::update(appointments::table.find(&key))
                .set((
                    appointments::external_calendar_event_id.eq(event),
                    appointments::sync_status.eq(status.as_str()),
                ))
                .execute(c)?,
            None => diesel::update(appointments::table.find(&key))
                .set(appointments::sync_status.eq(status.as_str()))
                .execute(c)?,
        };
        if n == 0 {
            return Err(not_found(id));
        }
        let recorded = appointments::table
            .find(&key)
            .select(AppointmentRow::as_select())
            .first(c)?
            .into_domain()?;
        if status == SyncStatus::Failed {
            c.emit(Event::appointment(WebhookEvent::AppointmentSyncFailed, &recorded, now)?)?;
        }
        Ok(recorded)
    }))
}

/// Records what became of the appointment's video meeting (a pending one changes nothing).
pub(crate) fn record_meeting(conn: &mut Conn, id: AppointmentId, meeting: &Meeting) -> Result<Appointment, StoreError> {
    let key = id.to_string();
    let n = db_run!(conn, |c| match meeting {
        Meeting::Ready { url } => diesel::update(appointments::table.find(&key))
            .set((
                appointments::meeting_url.eq(url),
                appointments::meeting_error.eq(None::<String>)
            ))
            .execute(c),
        Meeting::Unavailable { reason } => diesel::update(appointments::table.find(&key))
            .set(appointments::meeting_error.eq(reason))
            .execute(c),
        _ => appointments::table.find(&key).count().execute(c),
    })?;
    if n == 0 {
        return Err(not_found(id));
    }
    appointment(conn, id)
}

/// Stores an appointment a scheduling provider already accepted, under the expert's lock, if no
/// confirmed appointment overlaps it.
pub(crate) fn record_confirmed(conn: &mut Conn, appointment: &Appointment) -> Result<Appointment, StoreError> {
    let expert_key = appointment.expert_id.to_string();
    let row = AppointmentRow::from_domain(appointment);
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        let overlapping: i64 = appointments::table
            .filter(appointments::expert_id.eq(&expert_key))
            .filter(appointments::status.eq(AppointmentStatus::Confirmed.as_str()))
            .filter(appointments::start_time.lt(row.end_time))
            .filter(appointments::end_time.gt(row.start_time))
            .count()
            .get_result(c)?;
        if overlapping > 0 {
            return Err(StoreError::SlotTaken);
        }
        diesel::insert_into(appointments::table).values(&row).execute(c)?;
        c.emit(Event::appointment(
            WebhookEvent::AppointmentCreated,
            appointment,
            appointment.updated_at.as_second(),
        )?)?;
        Ok(())
    }))?;
    Ok(appointment.clone())
}

/// The appointment with this external event id, if any.
pub(crate) fn by_external_id(conn: &mut Conn, external_id: &str) -> Result<Option<Appointment>, StoreError> {
    let row = db_run!(conn, |c| appointments::table
        .filter(appointments::external_calendar_event_id.eq(external_id))
        .select(AppointmentRow::as_select())
        .load(c)
        .map(|rows| rows.into_iter().next()))?;
    row.map(AppointmentRow::into_domain).transpose()
}

/// Stores a pending appointment as it is. It holds no time: no overlap check and no job. It is
/// written under the expert's lock, which also keeps two deliveries of one provider booking (an
/// external id it carries already) from both storing it.
pub(crate) fn record_pending(conn: &mut Conn, appointment: &Appointment) -> Result<Appointment, StoreError> {
    if !appointment.is_pending() {
        return Err(StoreError::Refused(CoreError::NotPending(appointment.id)));
    }
    let row = AppointmentRow::from_domain(appointment);
    let expert_key = appointment.expert_id.to_string();
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        if let Some(external) = &row.external_calendar_event_id {
            let known: i64 = appointments::table
                .filter(appointments::external_calendar_event_id.eq(external))
                .count()
                .get_result(c)?;
            if known > 0 {
                return Err(StoreError::Refused(CoreError::AlreadyRecorded {
                    external_id: external.clone(),
                }));
            }
        }
        diesel::insert_into(appointments::table).values(&row).execute(c)?;
        c.emit(Event::appointment(
            WebhookEvent::AppointmentCreated,
            appointment,
            appointment.updated_at.as_second(),
        )?)?;
        Ok(())
    }))?;
    Ok(appointment.clone())
}

/// Confirms a pending appointment with the provider's booking (external id and time), under the
/// expert's lock, if no confirmed appointment of the expert overlaps that time (the database's
/// overlap guard backs this up). The same confirmation again returns the appointment unchanged.
pub(crate) fn confirm_pending(
    conn: &mut Conn,
    id: AppointmentId,
    external_event_id: &str,
    time: Interval,
    now: i64,
) -> Result<Appointment, StoreError> {
    let current = appointment(conn, id)?;
    let expert_key = current.expert_id.to_string();
    let key = id.to_string();
    let (start, end) = (time.start().as_second(), time.end().as_second());
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        // Read again under the lock: a concurrent delivery may have confirmed it meanwhile.
        let current = appointments::table
            .find(&key)
            .select(AppointmentRow::as_select())
            .load(c)
            .map(|rows| rows.into_iter().next())?
            .ok_or_else(|| not_found(id))?
            .into_domain()?;
        if current.is_confirmed() && current.external_calendar_event_id.as_deref() == Some(external_event_id) {
            return Ok(current);
        }
        let other_booking = current
            .external_calendar_event_id
            .as_deref()
            .is_some_and(|e| e != external_event_id);
        if !current.is_pending() || other_booking {
            return Err(StoreError::Refused(CoreError::NotPending(id)));
        }
        let overlapping: i64 = appointments::table
            .filter(appointments::expert_id.eq(&expert_key))
            .filter(appointments::status.eq(AppointmentStatus::Confirmed.as_str()))
            .filter(appointments::id.ne(&key))
            .filter(appointments::start_time.lt(end))
            .filter(appointments::end_time.gt(start))
            .count()
            .get_result(c)?;
        if overlapping > 0 {
            return Err(StoreError::SlotTaken);
        }
        let confirmed = Appointment {
            start_time: time.start(),
            end_time: time.end(),
            status: AppointmentStatus::Confirmed,
            external_calendar_event_id: Some(external_event_id.to_owned()),
            scheduling_url: None,
            sync_status: SyncStatus::Synced,
            sync_error: None,
            updated_at: crate::rows::instant(now)?,
            ..current
        };
        diesel::update(appointments::table.find(&key))
            .set(AppointmentRow::from_domain(&confirmed))
            .execute(c)?;
        c.emit(Event::appointment(WebhookEvent::AppointmentConfirmed, &confirmed, now)?)?;
        Ok(confirmed)
    }))
}

/// Records a provider's booking on a pending appointment that cannot be confirmed (it overlaps a
/// confirmed appointment): its external id and time, the link cleared, and why as the sync error.
/// It stays pending, so the database's overlap guard still holds.
pub(crate) fn hold_unconfirmed(
    conn: &mut Conn,
    id: AppointmentId,
    external_event_id: &str,
    time: Interval,
    reason: &str,
    now: i64,
) -> Result<Appointment, StoreError> {
    let key = id.to_string();
    let held: Option<Appointment> = db_run!(conn, |c| c.transaction(|c| {
        let n = diesel::update(
            appointments::table
                .find(&key)
                .filter(appointments::status.eq(AppointmentStatus::Pending.as_str()))
                .filter(
                    appointments::external_calendar_event_id
                        .is_null()
                        .or(appointments::external_calendar_event_id.eq(external_event_id)),
                ),
        )
        .set((
            appointments::external_calendar_event_id.eq(external_event_id),
            appointments::start_time.eq(time.start().as_second()),
            appointments::end_time.eq(time.end().as_second()),
            appointments::scheduling_url.eq(None::<String>),
            appointments::sync_status.eq(SyncStatus::Failed.as_str()),
            appointments::sync_error.eq(reason),
            appointments::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            return Ok::<_, StoreError>(None);
        }
        let held = appointments::table
            .find(&key)
            .select(AppointmentRow::as_select())
            .first(c)?
            .into_domain()?;
        c.emit(Event::appointment(WebhookEvent::AppointmentSyncFailed, &held, now)?)?;
        Ok(Some(held))
    }))?;
    match held {
        Some(held) => Ok(held),
        None => Err(StoreError::Refused(CoreError::NotPending(appointment(conn, id)?.id))),
    }
}

/// An expert's held bookings: pending appointments that carry a provider's booking which could not
/// be confirmed because it overlapped a confirmed appointment (see [`hold_unconfirmed`]).
pub(crate) fn held(conn: &mut Conn, expert: ExpertId) -> Result<Vec<Appointment>, StoreError> {
    let key = expert.to_string();
    db_run!(conn, |c| appointments::table
        .filter(appointments::expert_id.eq(&key))
        .filter(appointments::status.eq(AppointmentStatus::Pending.as_str()))
        .filter(appointments::external_calendar_event_id.is_not_null())
        .order((appointments::start_time, appointments::id))
        .select(AppointmentRow::as_select())
        .load::<AppointmentRow>(c))?
    .into_iter()
    .map(AppointmentRow::into_domain)
    .collect()
}

/// How long a pending appointment waits for its scheduling link to be used, in seconds.
pub const PENDING_LINK_SECONDS: i64 = 24 * 60 * 60;

/// Cancels pending appointments whose scheduling link was not used within
/// [`PENDING_LINK_SECONDS`] (no provider booking reached them), so a client's list does not keep
/// "pending" forever. A booking made on the link later still arrives by webhook and is recorded as
/// a new appointment. Returns how many were cancelled.
pub(crate) fn expire_pending(conn: &mut Conn, now: i64) -> Result<usize, StoreError> {
    db_run!(conn, |c| c.transaction(|c| {
        let stale: Vec<String> = appointments::table
            .filter(appointments::status.eq(AppointmentStatus::Pending.as_str()))
            .filter(appointments::external_calendar_event_id.is_null())
            .filter(appointments::created_at.le(now - PENDING_LINK_SECONDS))
            .select(appointments::id)
            .load(c)?;
        for key in &stale {
            diesel::update(appointments::table.find(key))
                .set((
                    appointments::status.eq(AppointmentStatus::Cancelled.as_str()),
                    appointments::cancellation_reason.eq("the scheduling link was not used within 24 hours"),
                    appointments::cancelled_by.eq(CancelledBy::System.as_str()),
                    appointments::scheduling_url.eq(None::<String>),
                    appointments::updated_at.eq(now),
                ))
                .execute(c)?;
            let cancelled = appointments::table
                .find(key)
                .select(AppointmentRow::as_select())
                .first(c)?
                .into_domain()?;
            c.emit(Event::appointment(WebhookEvent::AppointmentCancelled, &cancelled, now)?)?;
        }
        Ok::<_, StoreError>(stale.len())
    }))
}

/// An expert's pending appointments that no provider booking has reached yet, of clients with
/// this email address (compared case-insensitively), oldest first.
pub(crate) fn pending_for_email(
    conn: &mut Conn,
    expert: ExpertId,
    email: &str,
) -> Result<Vec<Appointment>, StoreError> {
    let expert_key = expert.to_string();
    let rows: Vec<(AppointmentRow, String)> = db_run!(conn, |c| appointments::table
        .inner_join(clients::table)
        .filter(appointments::expert_id.eq(&expert_key))
        .filter(appointments::status.eq(AppointmentStatus::Pending.as_str()))
        .filter(appointments::external_calendar_event_id.is_null())
        .order((appointments::created_at, appointments::id))
        .select((AppointmentRow::as_select(), clients::email))
        .load(c))?;
    // Compared here rather than with SQL lower(): SQLite's folds ASCII only, PostgreSQL's more,
    // and both backends must match the same clients.
    let wanted = email.trim().to_lowercase();
    rows.into_iter()
        .filter(|(_, client_email)| client_email.trim().to_lowercase() == wanted)
        .map(|(row, _)| row.into_domain())
        .collect()
}

/// Queues the calendar sync of an appointment whose sync failed (the retries gave up) once more:
/// sync_status pending again, the reason cleared, a fresh job due now (with a fresh 24 hours of
/// retries). `None` when there is nothing to retry: the sync did not fail, or the appointment is a
/// held provider booking (pending: it is resolved by cancelling it, not by writing it again).
pub(crate) fn retry_sync(conn: &mut Conn, id: AppointmentId, now: i64) -> Result<Option<Appointment>, StoreError> {
    let key = id.to_string();
    db_run!(conn, |c| c.transaction(|c| {
        let current = appointments::table
            .find(&key)
            .select(AppointmentRow::as_select())
            .load(c)
            .map(|rows| rows.into_iter().next())?
            .ok_or_else(|| not_found(id))?;
        let retryable = current.sync_status == SyncStatus::Failed.as_str()
            && current.calendar_type.is_some()
            && current.status != AppointmentStatus::Pending.as_str();
        if !retryable {
            return Ok(None);
        }
        let changed = diesel::update(
            appointments::table
                .find(&key)
                .filter(appointments::sync_status.eq(SyncStatus::Failed.as_str())),
        )
        .set((
            appointments::sync_status.eq(SyncStatus::Pending.as_str()),
            appointments::sync_error.eq(None::<String>),
            appointments::updated_at.eq(now),
        ))
        .execute(c)?;
        if changed == 0 {
            return Ok(None);
        }
        crate::outbox::enqueue_sync!(c, id, current.expert_id, now)?;
        let queued = appointments::table
            .find(&key)
            .select(AppointmentRow::as_select())
            .first(c)?
            .into_domain()?;
        Ok::<_, StoreError>(Some(queued))
    }))
}

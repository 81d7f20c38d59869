//! Two-way sync's storage: an appointment following its event moved in the expert's calendar,
//! and where each calendar's change feed left off.

use availability_core::ports::conflict_reason;
use availability_core::CalendarFollow;
use availability_domain::{AppointmentId, AppointmentStatus, ExpertId, IntegrationType, Interval, SyncStatus};
use diesel::prelude::*;

use crate::db::{db_run, Conn, LockedTransaction};
use crate::rows::AppointmentRow;
use crate::schema::{appointments, calendar_change_cursors as cursors, expert_calendar_versions};
use crate::webhooks::{Emit, Event, WebhookEvent};
use crate::StoreError;

/// See `AppointmentRepository::follow_calendar_move`: under the expert's lock, the appointment
/// takes `time` unless another confirmed appointment overlaps it (then `conflict`, its time
/// kept). No calendar job is queued: the calendar already shows it there.
pub(crate) fn follow_move(
    conn: &mut Conn,
    id: AppointmentId,
    time: Interval,
    calendar: &str,
    now: i64,
) -> Result<CalendarFollow, StoreError> {
    let current = crate::appointments::appointment(conn, id)?;
    let expert_key = current.expert_id.to_string();
    let key = id.to_string();
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        // Read again under the lock: the appointment may have changed since.
        let current = appointments::table
            .find(&key)
            .select(AppointmentRow::as_select())
            .first::<AppointmentRow>(c)?
            .into_domain()?;
        // A write of ours still pending: the calendar does not show our last change yet.
        if !current.is_confirmed() || current.sync_status == SyncStatus::Pending {
            return Ok(CalendarFollow::Unchanged);
        }
        let back_to_own_time = current.interval() == Some(time);
        if back_to_own_time && current.sync_status != SyncStatus::Conflict {
            return Ok(CalendarFollow::Unchanged);
        }
        let other = if back_to_own_time {
            None
        } else {
            appointments::table
                .filter(appointments::expert_id.eq(&expert_key))
                .filter(appointments::status.eq(AppointmentStatus::Confirmed.as_str()))
                .filter(appointments::id.ne(&key))
                .filter(appointments::start_time.lt(time.end().as_second()))
                .filter(appointments::end_time.gt(time.start().as_second()))
                .order(appointments::start_time)
                .select(AppointmentRow::as_select())
                .load::<AppointmentRow>(c)?
                .into_iter()
                .next()
                .map(AppointmentRow::into_domain)
                .transpose()?
        };
        let at = availability_domain::jiff::Timestamp::from_second(now).unwrap_or(current.updated_at);
        if let Some(other) = other {
            let reason = conflict_reason(calendar, time, &other);
            // The same conflict reported again (a repeated notification) changes nothing.
            if current.sync_status == SyncStatus::Conflict && current.sync_error.as_deref() == Some(&reason) {
                return Ok(CalendarFollow::Unchanged);
            }
            let conflict = availability_domain::Appointment {
                sync_status: SyncStatus::Conflict,
                sync_error: Some(reason),
                updated_at: at,
                ..current
            };
            diesel::update(appointments::table.find(&key))
                .set(AppointmentRow::from_domain(&conflict))
                .execute(c)?;
            c.emit(Event::appointment(WebhookEvent::AppointmentSyncFailed, &conflict, now)?)?;
            return Ok(CalendarFollow::Conflict(conflict));
        }
        let moved = availability_domain::Appointment {
            start_time: time.start(),
            end_time: time.end(),
            sync_status: SyncStatus::Synced,
            sync_error: None,
            updated_at: at,
            ..current
        };
        diesel::update(appointments::table.find(&key))
            .set(AppointmentRow::from_domain(&moved))
            .execute(c)?;
        if !back_to_own_time {
            c.emit(Event::appointment(WebhookEvent::AppointmentRescheduled, &moved, now)?)?;
        }
        Ok(CalendarFollow::Moved(moved))
    }))
}

/// The expert's current connection number, and the feed's cursor if it was read for it.
pub(crate) fn cursor(
    conn: &mut Conn,
    expert: ExpertId,
    integration: IntegrationType,
) -> Result<(i64, Option<String>), StoreError> {
    let key = expert.to_string();
    db_run!(conn, |c| c.transaction(|c| {
        let connection = expert_calendar_versions::table
            .find(&key)
            .select(expert_calendar_versions::connection)
            .load::<i64>(c)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let cursor = cursors::table
            .find((&key, integration.as_str()))
            .filter(cursors::connection.eq(connection))
            .select(cursors::cursor)
            .load::<String>(c)?
            .into_iter()
            .next();
        Ok::<_, StoreError>((connection, cursor))
    }))
}

/// Keeps the feed's cursor for the connection it was read with.
pub(crate) fn save_cursor(
    conn: &mut Conn,
    expert: ExpertId,
    integration: IntegrationType,
    connection: i64,
    cursor: &str,
    now: i64,
) -> Result<(), StoreError> {
    let key = expert.to_string();
    db_run!(conn, |c| diesel::insert_into(cursors::table)
        .values((
            cursors::expert_id.eq(&key),
            cursors::integration_type.eq(integration.as_str()),
            cursors::connection.eq(connection),
            cursors::cursor.eq(cursor),
            cursors::read_at.eq(now),
        ))
        .on_conflict((cursors::expert_id, cursors::integration_type))
        .do_update()
        .set((
            cursors::connection.eq(connection),
            cursors::cursor.eq(cursor),
            cursors::read_at.eq(now),
        ))
        .execute(c))?;
    Ok(())
}

/// The experts whose active integration is one of `types`, by id.
pub(crate) fn experts_using(conn: &mut Conn, types: &[IntegrationType]) -> Result<Vec<ExpertId>, StoreError> {
    use crate::schema::expert_profiles as ep;
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    let ids = db_run!(conn, |c| ep::table
        .filter(ep::integration_type.eq_any(&names))
        .order(ep::id)
        .select(ep::id)
        .load::<String>(c))?;
    ids.into_iter()
        .map(|id| id.parse().map_err(|e| crate::rows::corrupt("expert id", e)))
        .collect()
}

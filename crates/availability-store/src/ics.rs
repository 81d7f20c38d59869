//! What iCalendar needs of the store: an appointment with its SEQUENCE (kept by a database
//! trigger, see the migration `2026-12-04-000009_ics_feed`) and the names its event shows, and each
//! expert's secret feed, of which only the SHA-256 of the secret is kept.

use availability_domain::{Appointment, AppointmentId, AppointmentStatus, ExpertId};
use diesel::prelude::*;

use crate::db::{db_run, Conn};
use crate::rows::AppointmentRow;
use crate::schema::{appointments, clients, expert_profiles};
use crate::StoreError;

/// An appointment as a calendar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    /// The appointment.
    pub appointment: Appointment,
    /// Rises with every change of its time or status (RFC 5545 SEQUENCE).
    pub sequence: i64,
    /// The expert's name.
    pub expert_name: String,
    /// The client's name.
    pub client_name: String,
}

type EntryRow = (AppointmentRow, i32, String, String);

fn into_entry((row, sequence, expert_name, client_name): EntryRow) -> Result<CalendarEntry, StoreError> {
    Ok(CalendarEntry {
        appointment: row.into_domain()?,
        sequence: sequence.into(),
        expert_name,
        client_name,
    })
}

pub(crate) fn entry(conn: &mut Conn, id: AppointmentId) -> Result<CalendarEntry, StoreError> {
    let key = id.to_string();
    let row: Option<EntryRow> = db_run!(conn, |c| appointments::table
        .inner_join(clients::table)
        .inner_join(expert_profiles::table)
        .filter(appointments::id.eq(&key))
        .select((
            AppointmentRow::as_select(),
            appointments::sequence,
            expert_profiles::name,
            clients::name
        ))
        .load::<EntryRow>(c)
        .map(|rows| rows.into_iter().next()))?;
    into_entry(row.ok_or(StoreError::NotFound {
        what: "appointment",
        id: key,
    })?)
}

/// The expert's confirmed and pending appointments that end after `since` (Unix seconds), by start.
pub(crate) fn feed(conn: &mut Conn, expert: ExpertId, since: i64) -> Result<Vec<CalendarEntry>, StoreError> {
    let key = expert.to_string();
    let statuses = [
        AppointmentStatus::Confirmed.as_str(),
        AppointmentStatus::Pending.as_str(),
    ];
    let rows: Vec<EntryRow> = db_run!(conn, |c| appointments::table
        .inner_join(clients::table)
        .inner_join(expert_profiles::table)
        .filter(appointments::expert_id.eq(&key))
        .filter(appointments::status.eq_any(statuses))
        .filter(appointments::end_time.gt(since))
        .order((appointments::start_time, appointments::id))
        .select((
            AppointmentRow::as_select(),
            appointments::sequence,
            expert_profiles::name,
            clients::name
        ))
        .load::<EntryRow>(c))?;
    rows.into_iter().map(into_entry).collect()
}

/// Sets (Some) or clears (None) the hash of the expert's feed secret.
pub(crate) fn set_feed_hash(conn: &mut Conn, expert: ExpertId, hash: Option<&str>) -> Result<(), StoreError> {
    let key = expert.to_string();
    let n = db_run!(conn, |c| diesel::update(expert_profiles::table.find(&key))
        .set(expert_profiles::ics_feed_secret_hash.eq(hash))
        .execute(c))?;
    if n == 0 {
        return Err(StoreError::NotFound {
            what: "expert",
            id: key,
        });
    }
    Ok(())
}

/// The hash of the expert's feed secret; None when the feed is off or the expert is unknown.
pub(crate) fn feed_hash(conn: &mut Conn, expert: ExpertId) -> Result<Option<String>, StoreError> {
    let key = expert.to_string();
    let hash: Option<Option<String>> = db_run!(conn, |c| expert_profiles::table
        .find(&key)
        .select(expert_profiles::ics_feed_secret_hash)
        .load::<Option<String>>(c)
        .map(|rows| rows.into_iter().next()))?;
    Ok(hash.flatten())
}

//! What slot queries read of an expert (profile, hours, appointments around the window), kept per
//! process and reused while the expert's calendar version (`expert_calendar_versions`) is unchanged. The version is kept by
//! database triggers on every table the read touches, in the writing transaction, so a reuse is
//! exactly what a fresh read would give, whichever process wrote. Slot queries only: a booking is
//! always validated on a fresh read inside its own locked transaction.

use std::collections::HashMap;
use std::sync::Mutex;

use availability_core::ExpertCalendar;
use availability_domain::{ExpertId, Interval};
use diesel::prelude::*;

use crate::db::{db_run, Conn};
use crate::StoreError;

/// More entries than this and the cache starts again empty: simple, and a popular expert's week
/// is read again within one query.
const MAX_ENTRIES: usize = 4096;

type Key = (ExpertId, i64, i64, Option<u32>);

/// Expert calendars by (expert, window, duration), with the version they were read at.
#[derive(Debug, Default)]
pub(crate) struct CalendarCache {
    entries: Mutex<HashMap<Key, (i64, ExpertCalendar)>>,
}

fn key(id: ExpertId, window: Interval, duration_minutes: Option<u32>) -> Key {
    (
        id,
        window.start().as_second(),
        window.end().as_second(),
        duration_minutes,
    )
}

/// The expert's current calendar version on a backend connection (NotFound for an unknown
/// expert: every expert has a row, added by a trigger with the expert).
macro_rules! load_version {
    ($c:ident, $id:expr) => {{
        let id: availability_domain::ExpertId = $id;
        crate::schema::expert_calendar_versions::table
            .find(id.to_string())
            .select(crate::schema::expert_calendar_versions::version)
            // Not .first(): a bound LIMIT makes SQLite prepare the statement again every time.
            .load::<i64>($c)
            .map(|rows| rows.into_iter().next())
            .map_err(crate::StoreError::from)
            .and_then(|found| {
                found.ok_or_else(|| crate::StoreError::NotFound {
                    what: "expert",
                    id: id.to_string(),
                })
            })
    }};
}
pub(crate) use load_version;

/// The expert's current calendar version.
pub(crate) fn version(conn: &mut Conn, id: ExpertId) -> Result<i64, StoreError> {
    db_run!(conn, |c| load_version!(c, id))
}

impl CalendarCache {
    /// The calendar read at `version`, if it is kept.
    pub(crate) fn get(
        &self,
        id: ExpertId,
        window: Interval,
        duration_minutes: Option<u32>,
        version: i64,
    ) -> Option<ExpertCalendar> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&key(id, window, duration_minutes)) {
            Some((v, calendar)) if *v == version => Some(calendar.clone()),
            _ => None,
        }
    }

    /// Keeps a calendar read at `version` (read in the same transaction as the calendar).
    pub(crate) fn put(
        &self,
        id: ExpertId,
        window: Interval,
        duration_minutes: Option<u32>,
        version: i64,
        calendar: &ExpertCalendar,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key(id, window, duration_minutes), (version, calendar.clone()));
    }
}

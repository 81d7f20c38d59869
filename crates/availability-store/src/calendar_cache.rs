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

/// The cache holds at most this many rows (an expert, a rule, an override or an appointment each
/// count one; a few hundred bytes each, so about 100 MB at most). Sized so that a directory
/// question's day of 10,000 experts (some 15-20 rows each) stays in it beside the slot queries.
/// When a new entry would pass it, the cache starts again empty: simple, and a popular expert's
/// week is read again within one query. One calendar bigger than a tenth of it is not kept at all.
const MAX_ROWS: usize = 400_000;

type Key = (ExpertId, i64, i64, Option<u32>);

/// Expert calendars by (expert, window, duration), with the version they were read at.
#[derive(Debug, Default)]
pub(crate) struct CalendarCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<Key, (i64, ExpertCalendar)>,
    /// Rows held, as [`rows`] counts them.
    rows: usize,
}

fn rows(calendar: &ExpertCalendar) -> usize {
    let schedules = &calendar.schedules;
    let hours: usize = schedules
        .schedules()
        .iter()
        .map(|s| s.hours.rules.len() + s.hours.overrides.len())
        .sum();
    1 + hours + schedules.periods().len() + calendar.appointments.len()
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

/// From how many experts on [`versions`] reads every version in one scan (a few milliseconds for
/// 10,000) rather than looking each one up in the index (a list of 1,000 keys takes PostgreSQL
/// about 2 ms).
const SCAN_FROM: usize = 2000;

/// The current calendar versions of these experts (an unknown one is absent): for a few, in one
/// query per thousand; for many, in one query of every version (others' included).
pub(crate) fn versions(conn: &mut Conn, ids: &[ExpertId]) -> Result<HashMap<ExpertId, i64>, StoreError> {
    use crate::schema::expert_calendar_versions as v;
    let mut found = HashMap::with_capacity(ids.len());
    let rows: Vec<(String, i64)> = db_run!(conn, |c| {
        if ids.len() >= SCAN_FROM {
            v::table.select((v::expert_id, v::version)).load(c)
        } else {
            let mut rows = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(1000) {
                let keys: Vec<String> = chunk.iter().map(ToString::to_string).collect();
                rows.extend(
                    v::table
                        .filter(v::expert_id.eq_any(&keys))
                        .select((v::expert_id, v::version))
                        .load::<(String, i64)>(c)?,
                );
            }
            Ok::<_, diesel::result::Error>(rows)
        }
    })?;
    for (id, version) in rows {
        if let Ok(id) = id.parse() {
            found.insert(id, version);
        }
    }
    Ok(found)
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
        match entries.by_key.get(&key(id, window, duration_minutes)) {
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
        let size = rows(calendar);
        if size > MAX_ROWS / 10 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.rows + size > MAX_ROWS {
            *entries = Entries::default();
        }
        if let Some((_, old)) = entries
            .by_key
            .insert(key(id, window, duration_minutes), (version, calendar.clone()))
        {
            entries.rows -= rows(&old);
        }
        entries.rows += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_domain::jiff::Timestamp;
    use availability_domain::{
        Appointment, AppointmentId, AppointmentStatus, BookingPolicy, ClientId, Expert, IntegrationType, Schedule,
        ScheduleId, ScheduleSet, SyncStatus, Zone,
    };

    fn calendar(appointments: usize) -> ExpertCalendar {
        let expert = Expert {
            id: ExpertId::new(),
            name: "E".into(),
            email: "e@example.com".into(),
            timezone: Zone::utc(),
            integration_type: IntegrationType::MANUAL,
            booking_policy: BookingPolicy::default(),
        };
        let at = Timestamp::UNIX_EPOCH;
        let one = Appointment {
            id: AppointmentId::new(),
            expert_id: expert.id,
            client_id: ClientId::new(),
            start_time: at,
            end_time: at,
            status: AppointmentStatus::Confirmed,
            calendar_type: None,
            external_calendar_event_id: None,
            scheduling_url: None,
            sync_status: SyncStatus::NotApplicable,
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: None,
            meeting_error: None,
            series_id: None,
            created_at: at,
            updated_at: at,
        };
        ExpertCalendar {
            schedules: ScheduleSet::only(ScheduleId::new(), Schedule::new(Zone::utc(), vec![], vec![]).unwrap()),
            appointments: vec![one; appointments],
            expert,
            holds: vec![],
            connection: 0,
        }
    }

    fn window(day: i64) -> Interval {
        let start = Timestamp::from_second(day * 86_400).unwrap();
        Interval::new(start, Timestamp::from_second((day + 7) * 86_400).unwrap()).unwrap()
    }

    #[test]
    fn the_cache_stays_within_its_row_budget() {
        let cache = CalendarCache::default();
        let id = ExpertId::new();
        let big = calendar(MAX_ROWS / 10 + 1);
        cache.put(id, window(0), None, 1, &big);
        assert!(cache.get(id, window(0), None, 1).is_none(), "too big to keep");
        let small = calendar(999);
        for day in 0..250 {
            cache.put(id, window(day), None, 1, &small);
            let rows = cache.entries.lock().unwrap().rows;
            assert!(rows <= MAX_ROWS, "{rows} rows after {day}");
        }
        assert!(cache.get(id, window(249), None, 1).is_some(), "the newest is kept");
        assert!(
            cache.get(id, window(249), None, 2).is_none(),
            "another version is a miss"
        );
        // Replacing an entry does not count it twice.
        let before = cache.entries.lock().unwrap().rows;
        cache.put(id, window(249), None, 2, &small);
        assert_eq!(cache.entries.lock().unwrap().rows, before);
    }
}

//! A short per-process cache of external calendars' busy time (never of appointments, which always
//! come from the database, so several server processes stay consistent).
//!
//! - Slots use an answer at most [`FRESH`] old (30 s) that covers the queried window.
//! - A booking whose provider cannot be asked may be validated against the last answer covering
//!   its time if it is at most [`RECENT`] old (15 minutes): the client saw that slot.
//! - A booking change of the expert (or a webhook) makes the expert's answers stale for slots; they
//!   stay usable as the booking fallback.
//! - Every answer belongs to one connection of one calendar ([`BusyKey`]): after the expert
//!   switches, reconnects or re-chooses calendars (in any server process: the connection number
//!   comes from storage), the old answers match nothing, for slots and for the fallback alike.

use std::collections::HashMap;
use std::sync::Mutex;

use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{ExpertId, IntegrationType, Interval};

/// How long an answer serves slot queries.
pub const FRESH: SignedDuration = SignedDuration::from_secs(30);
/// How long an answer may validate a booking when the provider cannot be asked.
pub const RECENT: SignedDuration = SignedDuration::from_secs(15 * 60);
/// Answers kept per expert (the most recent ones).
const PER_EXPERT: usize = 8;

/// Whose calendar an answer is of: the expert, the integration, and the connection of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BusyKey {
    /// The expert.
    pub expert: ExpertId,
    /// The integration the busy time came from.
    pub integration: IntegrationType,
    /// The connection (see `ExpertCalendar::connection`).
    pub connection: i64,
}

#[derive(Debug, Clone)]
struct Answer {
    integration: IntegrationType,
    connection: i64,
    window: Interval,
    busy: Vec<Interval>,
    fetched_at: Timestamp,
    fresh: bool,
}

/// Busy time per expert and window.
#[derive(Debug, Default)]
pub struct BusyCache {
    answers: Mutex<HashMap<ExpertId, Vec<Answer>>>,
}

impl BusyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn find(
        &self,
        key: BusyKey,
        window: Interval,
        now: Timestamp,
        max_age: SignedDuration,
        fresh_only: bool,
    ) -> Option<Vec<Interval>> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers.get(&key.expert)?.iter().rev().find_map(|a| {
            let same = a.integration == key.integration && a.connection == key.connection;
            let covers = a.window.start() <= window.start() && window.end() <= a.window.end();
            let young = now.duration_since(a.fetched_at) <= max_age;
            (same && covers && young && (a.fresh || !fresh_only))
                .then(|| a.busy.iter().copied().filter(|b| b.overlaps(&window)).collect())
        })
    }

    /// Busy time for slots: a fresh answer covering the window.
    pub fn fresh(&self, key: BusyKey, window: Interval, now: Timestamp) -> Option<Vec<Interval>> {
        self.find(key, window, now, FRESH, true)
    }

    /// Busy time for validating a booking when the provider cannot be asked.
    pub fn recent(&self, key: BusyKey, window: Interval, now: Timestamp) -> Option<Vec<Interval>> {
        self.find(key, window, now, RECENT, false)
    }

    /// Keeps an answer.
    pub fn put(&self, key: BusyKey, window: Interval, busy: Vec<Interval>, now: Timestamp) {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let list = answers.entry(key.expert).or_default();
        // Answers of another connection can never be served again.
        list.retain(|a| {
            now.duration_since(a.fetched_at) <= RECENT
                && a.integration == key.integration
                && a.connection == key.connection
        });
        list.push(Answer {
            integration: key.integration,
            connection: key.connection,
            window,
            busy,
            fetched_at: now,
            fresh: true,
        });
        if list.len() > PER_EXPERT {
            let excess = list.len() - PER_EXPERT;
            list.drain(..excess);
        }
    }

    /// The expert's bookings or calendar changed: no answer serves slots any more.
    pub fn invalidate(&self, expert: ExpertId) {
        if let Some(list) = self.answers.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&expert) {
            for a in list {
                a.fresh = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn fresh_recent_and_invalidated() {
        let cache = BusyCache::new();
        let e = BusyKey {
            expert: ExpertId::new(),
            integration: IntegrationType::from_static("some_calendar"),
            connection: 1,
        };
        let week = Interval::new(t("2026-03-02T00:00:00Z"), t("2026-03-09T00:00:00Z")).unwrap();
        let day = Interval::new(t("2026-03-03T00:00:00Z"), t("2026-03-04T00:00:00Z")).unwrap();
        let busy = Interval::new(t("2026-03-03T09:00:00Z"), t("2026-03-03T10:00:00Z")).unwrap();
        let other = Interval::new(t("2026-03-05T09:00:00Z"), t("2026-03-05T10:00:00Z")).unwrap();
        let now = t("2026-03-01T00:00:00Z");
        cache.put(e, week, vec![busy, other], now);
        assert_eq!(
            cache.fresh(e, day, now + SignedDuration::from_secs(10)),
            Some(vec![busy])
        );
        assert_eq!(
            cache.fresh(e, day, now + SignedDuration::from_secs(31)),
            None,
            "older than 30 s"
        );
        assert_eq!(
            cache.recent(e, day, now + SignedDuration::from_mins(14)),
            Some(vec![busy])
        );
        assert_eq!(
            cache.recent(e, day, now + SignedDuration::from_mins(16)),
            None,
            "older than 15 minutes"
        );
        let wider = Interval::new(t("2026-03-01T00:00:00Z"), t("2026-03-09T00:00:00Z")).unwrap();
        assert_eq!(cache.fresh(e, wider, now), None, "must cover the window");
        let reconnected = BusyKey { connection: 2, ..e };
        let switched = BusyKey {
            integration: IntegrationType::from_static("other_calendar"),
            ..e
        };
        for other in [reconnected, switched] {
            assert_eq!(cache.fresh(other, day, now), None, "{other:?}");
            assert_eq!(cache.recent(other, day, now), None, "{other:?}");
        }
        cache.invalidate(e.expert);
        assert_eq!(cache.fresh(e, day, now), None);
        assert_eq!(
            cache.recent(e, day, now),
            Some(vec![busy]),
            "still the booking fallback"
        );
    }
}

//! A short per-process cache of external calendars' busy time (never of appointments, which always
//! come from the database, so several server processes stay consistent).
//!
//! - Slots use an answer at most [`FRESH`] old (30 s) that covers the queried window.
//! - A booking whose provider cannot be asked may be validated against the last answer covering
//!   its time if it is at most [`RECENT`] old (15 minutes): the client saw that slot.
//! - A booking change of the expert (or a webhook) makes the expert's answers stale for slots; they
//!   stay usable as the booking fallback.

use std::collections::HashMap;
use std::sync::Mutex;

use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{ExpertId, Interval};

/// How long an answer serves slot queries.
pub const FRESH: SignedDuration = SignedDuration::from_secs(30);
/// How long an answer may validate a booking when the provider cannot be asked.
pub const RECENT: SignedDuration = SignedDuration::from_secs(15 * 60);
/// Answers kept per expert (the most recent ones).
const PER_EXPERT: usize = 8;

#[derive(Debug, Clone)]
struct Answer {
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
        expert: ExpertId,
        window: Interval,
        now: Timestamp,
        max_age: SignedDuration,
        fresh_only: bool,
    ) -> Option<Vec<Interval>> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers.get(&expert)?.iter().rev().find_map(|a| {
            let covers = a.window.start() <= window.start() && window.end() <= a.window.end();
            let young = now.duration_since(a.fetched_at) <= max_age;
            (covers && young && (a.fresh || !fresh_only))
                .then(|| a.busy.iter().copied().filter(|b| b.overlaps(&window)).collect())
        })
    }

    /// Busy time for slots: a fresh answer covering the window.
    pub fn fresh(&self, expert: ExpertId, window: Interval, now: Timestamp) -> Option<Vec<Interval>> {
        self.find(expert, window, now, FRESH, true)
    }

    /// Busy time for validating a booking when the provider cannot be asked.
    pub fn recent(&self, expert: ExpertId, window: Interval, now: Timestamp) -> Option<Vec<Interval>> {
        self.find(expert, window, now, RECENT, false)
    }

    /// Keeps an answer.
    pub fn put(&self, expert: ExpertId, window: Interval, busy: Vec<Interval>, now: Timestamp) {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let list = answers.entry(expert).or_default();
        list.retain(|a| now.duration_since(a.fetched_at) <= RECENT);
        list.push(Answer {
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
        let e = ExpertId::new();
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
        cache.invalidate(e);
        assert_eq!(cache.fresh(e, day, now), None);
        assert_eq!(
            cache.recent(e, day, now),
            Some(vec![busy]),
            "still the booking fallback"
        );
    }
}

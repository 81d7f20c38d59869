//! The directory's slots, kept per expert and calendar version: a directory question over 10,000
//! experts asks the repository only which calendars changed, and answers the others from here
//! without reading their calendars or running the engine again.
//!
//! What is kept are the slots of whole UTC days [at any time](crate::engine::StartBounds): before
//! the bounds that move with the clock (minimum notice, horizon), which are applied per question.
//! So an entry stays exact while the calendar version stays the same, whatever the time. Only
//! calendars whose slots depend on nothing else are kept: no provider busy time or scheduler (an
//! external calendar changes without a version) and no holds (they expire with the clock).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use availability_domain::jiff::Timestamp;
use availability_domain::{ExpertId, Interval, Slot};

use crate::engine::StartBounds;

/// The memo holds at most this many slots (32 bytes each: 64 MB at most); a 7-day directory of
/// 10,000 experts is about 800,000. When a new entry would pass it, the memo starts again empty.
const MAX_SLOTS: usize = 2_000_000;

type Key = (ExpertId, i64, i64, Option<u32>);

/// One expert's slots in one read window at one calendar version.
#[derive(Debug)]
pub(super) struct Memo {
    /// The calendar version the slots were computed at.
    pub(super) version: i64,
    /// Sorted by start (the engine's order).
    slots: Vec<Slot>,
    bounds: StartBounds,
}

impl Memo {
    pub(super) fn new(version: i64, slots: Vec<Slot>, bounds: StartBounds) -> Self {
        Self { version, slots, bounds }
    }

    /// The slots that start in `window` as seen at `now`: the engine's slots at `now` (rule 4's
    /// bounds only filter starts). `window` must lie in the window the memo was computed for.
    pub(super) fn slots_in(&self, window: Interval, now: Timestamp) -> &[Slot] {
        let Some((earliest, latest)) = self.bounds.at(now) else {
            return &[];
        };
        let (lo, hi) = (window.start().max(earliest), window.end().min(latest));
        let first = self.slots.partition_point(|s| s.start < lo);
        let end = self.slots.partition_point(|s| s.start < hi);
        self.slots.get(first..end).unwrap_or(&[])
    }
}

/// Memos by (expert, read window, duration).
#[derive(Debug, Default)]
pub(super) struct SlotMemo {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<Key, Arc<Memo>>,
    /// Slots held.
    slots: usize,
}

fn key(id: ExpertId, window: Interval, duration_minutes: Option<u32>) -> Key {
    (
        id,
        window.start().as_second(),
        window.end().as_second(),
        duration_minutes,
    )
}

impl SlotMemo {
    /// The memos of these experts for `window` (under one lock), in the order given.
    pub(super) fn get_all(
        &self,
        experts: &[ExpertId],
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Vec<Option<Arc<Memo>>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        experts
            .iter()
            .map(|id| entries.by_key.get(&key(*id, window, duration_minutes)).cloned())
            .collect()
    }

    /// Keeps the memos computed for `window` (under one lock).
    pub(super) fn put_all(
        &self,
        window: Interval,
        duration_minutes: Option<u32>,
        memos: impl IntoIterator<Item = (ExpertId, Arc<Memo>)>,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for (id, memo) in memos {
            let size = memo.slots.len() + 1;
            if entries.slots + size > MAX_SLOTS {
                *entries = Entries::default();
            }
            if let Some(old) = entries.by_key.insert(key(id, window, duration_minutes), memo) {
                entries.slots -= old.slots.len() + 1;
            }
            entries.slots += size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_domain::BookingPolicy;

    fn at(hour: i64) -> Timestamp {
        Timestamp::from_second(hour * 3600).unwrap()
    }

    fn slot(hour: i64) -> Slot {
        Slot {
            start: at(hour),
            end: at(hour + 1),
        }
    }

    #[test]
    fn a_memo_answers_the_window_within_notice_and_horizon() {
        // 2 hours' notice, a 1-day horizon; slots every hour of two days.
        let policy = BookingPolicy::new(60, 60, 0, 0, 120, 1).unwrap();
        let memo = Memo::new(7, (0..48).map(slot).collect(), StartBounds::of(&policy));
        let whole = Interval::new(at(0), at(48)).unwrap();
        let starts = |window, now| -> Vec<i64> {
            memo.slots_in(window, now)
                .iter()
                .map(|s| s.start.as_second() / 3600)
                .collect()
        };
        // At 05:00: from 07:00 (notice) to before 05:00 the next day (horizon).
        assert_eq!(starts(whole, at(5)), (7..29).collect::<Vec<_>>());
        // A window inside the bounds is only cut by itself.
        assert_eq!(starts(Interval::new(at(10), at(12)).unwrap(), at(5)), vec![10, 11]);
        // A slot at exactly now + notice is in; one at exactly now + horizon is out.
        assert_eq!(starts(Interval::new(at(7), at(8)).unwrap(), at(5)), vec![7]);
        assert!(starts(Interval::new(at(29), at(30)).unwrap(), at(5)).is_empty());
        // A second before a slot's notice is reached, it is not shown.
        let just_before = Timestamp::from_second(5 * 3600 + 1).unwrap();
        assert_eq!(starts(Interval::new(at(7), at(9)).unwrap(), just_before), vec![8]);
        // Past the end of what is kept: nothing.
        assert!(starts(whole, at(60)).is_empty());
    }

    #[test]
    fn the_memo_stays_within_its_budget() {
        let policy = BookingPolicy::default();
        let memo = SlotMemo::default();
        let window = Interval::new(at(0), at(24)).unwrap();
        let ids: Vec<ExpertId> = (0..3).map(|_| ExpertId::new()).collect();
        let big = || Arc::new(Memo::new(1, vec![slot(1); MAX_SLOTS / 2], StartBounds::of(&policy)));
        memo.put_all(window, None, [(ids[0], big())]);
        memo.put_all(window, None, [(ids[1], big())]);
        assert!(memo.entries.lock().unwrap().slots <= MAX_SLOTS);
        // The third starts it again: only the newest is kept.
        memo.put_all(window, None, [(ids[2], big())]);
        let kept = memo.get_all(&ids, window, None);
        assert!(kept[0].is_none() && kept[1].is_none() && kept[2].is_some());
        // Replacing an entry does not count it twice; another duration is another entry.
        let before = memo.entries.lock().unwrap().slots;
        memo.put_all(window, None, [(ids[2], big())]);
        assert_eq!(memo.entries.lock().unwrap().slots, before);
        assert!(memo.get_all(&ids[2..], window, Some(30))[0].is_none());
    }
}

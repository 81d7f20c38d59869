//! The standard slot-engine workload (`benchmark-workload.md`) gives the documented answers: the
//! benchmark's figures are only comparable if its input is exactly this one.

#[path = "support/workload.rs"]
mod workload;

use std::collections::BTreeSet;

use availability_core::domain::jiff::tz::TimeZone;
use availability_core::domain::jiff::Timestamp;
use availability_core::engine::{available_slots, BookingStatus, Requester};
use workload::{
    busy_intervals, Mulberry32, Rule10Workload, Workload, EXPECTED_SLOTS, MAX_BUSY, SEED, WINDOW_END, WINDOW_START,
};

#[test]
fn mulberry32_first_draw_matches_the_document() {
    let first = Mulberry32::new(SEED).next_f64();
    assert!((first - 0.6011).abs() < 1e-4, "first draw {first}");
}

#[test]
fn busy_intervals_follow_the_recipe() {
    let busy = busy_intervals(SEED, MAX_BUSY).unwrap();
    assert_eq!(busy.len(), MAX_BUSY);
    let from: Timestamp = WINDOW_START.parse().unwrap();
    let to: Timestamp = WINDOW_END.parse().unwrap();
    for b in &busy {
        let offset = (b.start() - from).as_secs();
        assert!(offset >= 0 && offset % 300 == 0 && b.start() < to, "{b:?}");
        assert!((15 * 60..=120 * 60).contains(&b.seconds()), "{b:?}");
    }
    // The 1,000 set is a prefix of the 10,000 set.
    assert_eq!(busy_intervals(SEED, 1_000).unwrap(), busy[..1_000]);
}

#[test]
fn slot_counts_match_the_document() {
    let w = Workload::standard().unwrap();
    for (n, expected) in EXPECTED_SLOTS {
        let slots = available_slots(&w.schedule, &w.policy, &w.busy[..n], &w.query);
        assert_eq!(slots.len(), expected, "{n} busy intervals");
        assert!(
            slots.windows(2).all(|p| p[0].start < p[1].start),
            "sorted, no duplicates"
        );
    }
}

#[test]
fn one_thousand_busy_intervals_leave_slots_on_63_dates() {
    let w = Workload::standard().unwrap();
    let slots = available_slots(&w.schedule, &w.policy, &w.busy[..1_000], &w.query);
    let local: BTreeSet<_> = slots
        .iter()
        .map(|s| w.schedule.zone.tz().to_datetime(s.start).date())
        .collect();
    let utc: BTreeSet<_> = slots
        .iter()
        .map(|s| TimeZone::UTC.to_datetime(s.start).date())
        .collect();
    // Every slot lies between 08:00Z and 16:00Z, so its Berlin date and its UTC date are the same.
    assert_eq!(local.len(), 63);
    assert_eq!(utc, local);
}

#[test]
fn the_rule_10_workload_gives_the_same_slots() {
    let w = Workload::standard().unwrap();
    let r = Rule10Workload::standard().unwrap();
    for part in &r.parts {
        let expected = available_slots(&w.schedule, &w.policy, &w.busy[..part.n], &w.query);
        let got = r.context(part).slots(&r.query, &Requester::default());
        assert_eq!(got, expected, "{} busy intervals", part.n);
        let confirmed = part
            .bookings
            .iter()
            .filter(|b| b.status == BookingStatus::Confirmed)
            .count();
        assert_eq!(
            (part.calendar_busy.len(), confirmed, part.holds.len()),
            (part.n * 4 / 10, part.n / 2, part.n / 10),
            "every busy interval is in the rule-10 input once"
        );
        assert_eq!(part.bookings.len() - confirmed, part.n / 10, "pending");
    }
    // The limits are set, so they are counted, but they do not change the answer.
    assert!(r.policy.has_limits());
}

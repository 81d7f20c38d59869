//! Every worked example of slot-semantics.md, as written there (Europe/Berlin; duration 30,
//! interval 30, no buffers, no notice, long horizon unless the example says otherwise).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{
    BookingPolicy, DateOverride, DayOfWeek, Interval, Schedule, TimeWindow, WeeklyRule, Zone,
};
use availability_core::engine::{available_slots, check_booking, BookingRefusal, SlotQuery};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn rule(day: i64, start: &str, end: &str, available: bool) -> WeeklyRule {
    WeeklyRule::new(
        DayOfWeek::new(day).unwrap(),
        start.parse().unwrap(),
        end.parse().unwrap(),
        available,
    )
    .unwrap()
}

fn berlin(rules: Vec<WeeklyRule>) -> Schedule {
    Schedule::new(Zone::new("Europe/Berlin").unwrap(), rules, vec![]).unwrap()
}

fn policy(duration: i64, interval: i64, buffer: i64) -> BookingPolicy {
    BookingPolicy::new(duration, interval, buffer, buffer, 0, 730).unwrap()
}

fn interval(from: &str, to: &str) -> Interval {
    Interval::new(ts(from), ts(to)).unwrap()
}

fn starts(schedule: &Schedule, policy: &BookingPolicy, busy: &[Interval], from: &str, to: &str) -> Vec<String> {
    let query = SlotQuery {
        window: interval(from, to),
        now: ts("2026-01-01T00:00:00Z"),
        duration_minutes: None,
    };
    available_slots(schedule, policy, busy, &query)
        .into_iter()
        .map(|s| {
            assert_eq!(
                (s.end - s.start).as_secs(),
                i64::from(policy.slot_duration_minutes()) * 60
            );
            s.start.to_string()
        })
        .collect()
}

const MONDAY: (&str, &str) = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");

#[test]
fn monday_morning_gives_six_slots() {
    let got = starts(
        &berlin(vec![rule(1, "09:00", "12:00", true)]),
        &policy(30, 30, 0),
        &[],
        MONDAY.0,
        MONDAY.1,
    );
    assert_eq!(
        got,
        [
            "2026-03-02T08:00:00Z",
            "2026-03-02T08:30:00Z",
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:30:00Z",
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:30:00Z"
        ]
    );
}

#[test]
fn an_appointment_removes_its_slot() {
    let busy = [interval("2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z")];
    let got = starts(
        &berlin(vec![rule(1, "09:00", "12:00", true)]),
        &policy(30, 30, 0),
        &busy,
        MONDAY.0,
        MONDAY.1,
    );
    assert_eq!(got.len(), 5);
    assert!(!got.contains(&"2026-03-02T09:00:00Z".to_owned()));
}

#[test]
fn buffers_remove_the_neighbours() {
    let busy = [interval("2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z")];
    let got = starts(
        &berlin(vec![rule(1, "09:00", "12:00", true)]),
        &policy(30, 30, 15),
        &busy,
        MONDAY.0,
        MONDAY.1,
    );
    assert_eq!(
        got,
        ["2026-03-02T08:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"]
    );
}

#[test]
fn spring_forward_window_is_two_real_hours() {
    let got = starts(
        &berlin(vec![rule(0, "01:00", "04:00", true)]),
        &policy(30, 30, 0),
        &[],
        "2026-03-28T12:00:00Z",
        "2026-03-30T00:00:00Z",
    );
    assert_eq!(
        got,
        [
            "2026-03-29T00:00:00Z",
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z"
        ]
    );
}

#[test]
fn fall_back_window_is_four_real_hours() {
    let got = starts(
        &berlin(vec![rule(0, "01:00", "04:00", true)]),
        &policy(30, 30, 0),
        &[],
        "2026-10-24T12:00:00Z",
        "2026-10-26T00:00:00Z",
    );
    assert_eq!(got.len(), 8);
    assert_eq!(got.first().unwrap(), "2026-10-24T23:00:00Z");
    assert_eq!(got.last().unwrap(), "2026-10-25T02:30:00Z");
}

#[test]
fn overlapping_rules_merge() {
    let got = starts(
        &berlin(vec![rule(1, "09:00", "10:00", true), rule(1, "09:30", "10:30", true)]),
        &policy(30, 30, 0),
        &[],
        MONDAY.0,
        MONDAY.1,
    );
    assert_eq!(
        got,
        ["2026-03-02T08:00:00Z", "2026-03-02T08:30:00Z", "2026-03-02T09:00:00Z"]
    );
}

#[test]
fn an_unavailable_rule_cuts_a_break() {
    let got = starts(
        &berlin(vec![rule(1, "09:00", "17:00", true), rule(1, "12:00", "13:00", false)]),
        &policy(30, 30, 0),
        &[],
        MONDAY.0,
        MONDAY.1,
    );
    assert_eq!(got.len(), 14);
    let lunch = interval("2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z");
    for s in &got {
        let slot = Interval::new(
            ts(s),
            ts(s) + availability_core::domain::jiff::SignedDuration::from_mins(30),
        )
        .unwrap();
        assert!(!slot.overlaps(&lunch), "{s} touches the break");
    }
}

#[test]
fn an_overnight_shift_is_one_window() {
    let got = starts(
        &berlin(vec![rule(1, "22:00", "24:00", true), rule(2, "00:00", "02:00", true)]),
        &policy(60, 45, 0),
        &[],
        "2026-01-12T00:00:00Z",
        "2026-01-14T00:00:00Z",
    );
    assert_eq!(
        got,
        [
            "2026-01-12T21:00:00Z",
            "2026-01-12T21:45:00Z",
            "2026-01-12T22:30:00Z",
            "2026-01-12T23:15:00Z",
            "2026-01-13T00:00:00Z"
        ]
    );
}

#[test]
fn spring_forward_rules_touch_in_real_time() {
    let got = starts(
        &berlin(vec![rule(0, "01:00", "02:00", true), rule(0, "03:00", "04:00", true)]),
        &policy(60, 60, 0),
        &[],
        "2026-03-28T12:00:00Z",
        "2026-03-30T00:00:00Z",
    );
    // One window 00:00Z-02:00Z: a 60-minute grid from 00:00Z gives 00:00Z and 01:00Z.
    assert_eq!(got, ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"]);
}

#[test]
fn a_cut_in_the_gap_is_resolved_before_subtracting() {
    let got = starts(
        &berlin(vec![rule(0, "01:00", "02:30", true), rule(0, "03:00", "03:30", false)]),
        &policy(30, 30, 0),
        &[],
        "2026-03-28T12:00:00Z",
        "2026-03-30T00:00:00Z",
    );
    assert_eq!(got, ["2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z"]);
}

#[test]
fn the_grid_is_anchored_at_the_window_not_the_query() {
    // Query from 10:10 local: the grid stays on 09:00 + n * 30 minutes.
    let got = starts(
        &berlin(vec![rule(1, "09:00", "12:00", true)]),
        &policy(30, 30, 0),
        &[],
        "2026-03-02T09:10:00Z",
        MONDAY.1,
    );
    assert_eq!(
        got,
        ["2026-03-02T09:30:00Z", "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"]
    );
}

#[test]
fn an_override_replaces_the_weekday_and_an_empty_one_is_a_day_off() {
    let zone = Zone::new("Europe/Berlin").unwrap();
    let rules = vec![rule(1, "09:00", "12:00", true), rule(1, "10:00", "11:00", false)];
    let special = DateOverride {
        date: availability_core::domain::jiff::civil::date(2026, 3, 2),
        windows: vec![TimeWindow::new("14:00".parse().unwrap(), "15:00".parse().unwrap()).unwrap()],
    };
    let off = DateOverride {
        date: availability_core::domain::jiff::civil::date(2026, 3, 9),
        windows: vec![],
    };
    let schedule = Schedule::new(zone, rules, vec![special, off]).unwrap();
    let got = starts(
        &schedule,
        &policy(30, 30, 0),
        &[],
        "2026-03-02T00:00:00Z",
        "2026-03-10T00:00:00Z",
    );
    assert_eq!(got, ["2026-03-02T13:00:00Z", "2026-03-02T13:30:00Z"]);
}

#[test]
fn notice_and_horizon_bound_the_starts() {
    let schedule = berlin(vec![rule(1, "09:00", "12:00", true)]);
    let policy = BookingPolicy::new(30, 30, 0, 0, 90, 1).unwrap();
    let query = SlotQuery {
        window: interval("2026-03-02T00:00:00Z", "2026-03-10T00:00:00Z"),
        now: ts("2026-03-02T08:00:00Z"),
        duration_minutes: None,
    };
    let got: Vec<String> = available_slots(&schedule, &policy, &[], &query)
        .into_iter()
        .map(|s| s.start.to_string())
        .collect();
    // now + 90 minutes = 09:30Z; the next Monday is beyond the one-day horizon.
    assert_eq!(
        got,
        ["2026-03-02T09:30:00Z", "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"]
    );
}

#[test]
fn a_duration_can_be_asked_for() {
    let schedule = berlin(vec![rule(1, "09:00", "12:00", true)]);
    let query = SlotQuery {
        window: interval(MONDAY.0, MONDAY.1),
        now: ts("2026-01-01T00:00:00Z"),
        duration_minutes: Some(90),
    };
    let got: Vec<String> = available_slots(&schedule, &policy(30, 30, 0), &[], &query)
        .into_iter()
        .map(|s| s.start.to_string())
        .collect();
    assert_eq!(
        got,
        [
            "2026-03-02T08:00:00Z",
            "2026-03-02T08:30:00Z",
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:30:00Z"
        ]
    );
}

#[test]
fn booking_accepts_exactly_the_slots_and_says_why_not() {
    let schedule = berlin(vec![rule(1, "09:00", "12:00", true)]);
    let p = policy(30, 30, 15);
    let now = ts("2026-01-01T00:00:00Z");
    let taken = [interval("2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z")];
    let ok = |from: &str, to: &str| check_booking(&schedule, &p, &taken, &[], interval(from, to), now);
    assert_eq!(ok("2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"), Ok(()));
    assert_eq!(
        ok("2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z"),
        Err(BookingRefusal::SlotTaken)
    );
    assert_eq!(
        ok("2026-03-02T08:45:00Z", "2026-03-02T09:15:00Z"),
        Err(BookingRefusal::SlotTaken)
    );
    assert!(matches!(
        ok("2026-03-02T09:30:00Z", "2026-03-02T10:00:00Z"),
        Err(BookingRefusal::SlotUnavailable(_))
    ));
    assert!(matches!(
        ok("2026-03-02T10:10:00Z", "2026-03-02T10:40:00Z"),
        Err(BookingRefusal::SlotUnavailable(_))
    ));
    assert!(matches!(
        ok("2026-03-02T12:00:00Z", "2026-03-02T12:30:00Z"),
        Err(BookingRefusal::SlotUnavailable(_))
    ));
    // A longer booking is accepted when it is a slot for its own length (rule 7).
    assert_eq!(ok("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"), Ok(()));
    assert!(matches!(
        ok("2026-03-02T10:00:00Z", "2026-03-02T10:00:30Z"),
        Err(BookingRefusal::SlotUnavailable(_))
    ));
}

#[test]
fn round_the_clock_availability_still_answers() {
    let rules = (0..7).map(|d| rule(d, "00:00", "24:00", true)).collect();
    let got = starts(
        &berlin(rules),
        &policy(60, 60, 0),
        &[],
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
    );
    assert_eq!(got.len(), 24);
}

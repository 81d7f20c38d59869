//! Property tests of the slot engine against `slot-semantics.md`.
//!
//! The random inputs are schedules of weekly rules (both kinds) and date overrides, busy intervals,
//! policies with buffers, notice and horizon, and query windows of up to ten days, in one of six
//! zones, with dates biased towards the DST transition weeks of 2026 and 2027. The engine is checked
//! against a brute-force reference written from the contract alone (availability minute by minute,
//! its own local-time resolution, its own calendar arithmetic), and display is checked against
//! booking. Hand-computed DST cases pin every zone's 2026 transitions.

// Test code: a broken expectation about the test's own input is a test failure, so helpers may
// panic like the #[test] functions they serve (which clippy.toml already allows).
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt;

use availability_core::domain::jiff::civil::{self, Date};
use availability_core::domain::jiff::tz::TimeZone;
use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{
    BookingPolicy, DateOverride, DayOfWeek, Interval, LocalTime, Schedule, Slot, TimeWindow, WeeklyRule, Zone,
};
use availability_core::engine::{
    available_slots, available_slots_at_any_time, check_booking, BookingRefusal, SlotQuery, StartBounds,
};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

// ---------------------------------------------------------------------------------------------
// Units and calendar arithmetic (independent of jiff: proleptic Gregorian, days since 1970-01-01)
// ---------------------------------------------------------------------------------------------

const SEC_NS: i128 = 1_000_000_000;
const MIN_NS: i128 = 60 * SEC_NS;
const DAY_MIN: i64 = 1440;
/// How many local dates before the query the reference looks at. A merged window reaching back
/// further than this is unbounded for the reference (round-the-clock availability); the slots of
/// such a window are not compared exactly (the contract gives it no start to anchor a grid at).
const LOOKBACK_DAYS: i64 = 12;

const ZONES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
];

type Ymd = (i64, i64, i64);

/// Local dates of the DST transitions of 2026 and 2027 (checked against jiff's tzdb by
/// `transition_dates_are_as_hard_coded`).
const TRANSITION_DATES: [(&str, [Ymd; 4]); 4] = [
    (
        "Europe/Berlin",
        [(2026, 3, 29), (2026, 10, 25), (2027, 3, 28), (2027, 10, 31)],
    ),
    (
        "America/New_York",
        [(2026, 3, 8), (2026, 11, 1), (2027, 3, 14), (2027, 11, 7)],
    ),
    (
        "Australia/Sydney",
        [(2026, 4, 5), (2026, 10, 4), (2027, 4, 4), (2027, 10, 3)],
    ),
    (
        "Australia/Lord_Howe",
        [(2026, 4, 5), (2026, 10, 4), (2027, 4, 4), (2027, 10, 3)],
    ),
];

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `days_from_civil`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// 0 = Sunday ... 6 = Saturday; 1970-01-01 was a Thursday.
fn weekday_of_day(day: i64) -> u8 {
    (day + 4).rem_euclid(7) as u8
}

fn jiff_date(day: i64) -> Date {
    let (y, m, d) = civil_from_days(day);
    civil::date(y as i16, m as i8, d as i8)
}

fn ts(ns: i128) -> Timestamp {
    Timestamp::from_nanosecond(ns).expect("timestamp in range")
}

fn utc(s: &str) -> Timestamp {
    s.parse().expect("a valid RFC 3339 timestamp")
}

fn fmt_hm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

// ---------------------------------------------------------------------------------------------
// Rule 2, independently: local minute -> UTC minute
// ---------------------------------------------------------------------------------------------

/// The zone's UTC offset in minutes at a UTC minute (the tzdb is the only thing taken from jiff).
fn offset_at(tz: &TimeZone, utc_minute: i64) -> i64 {
    let seconds = i64::from(tz.to_offset(ts(i128::from(utc_minute) * MIN_NS)).seconds());
    assert_eq!(seconds % 60, 0, "the test zones have whole-minute offsets");
    seconds / 60
}

/// Rule 2 of slot-semantics.md: a local wall-clock minute (minutes since 1970-01-01T00:00 local)
/// as a UTC minute. The candidate offsets are the ones in force two days before and after (the test
/// zones change offset at most once in four days); an offset fits when it is the offset in force at
/// the instant it gives. Two fits: a repeated time, take the first occurrence (the earlier instant).
/// No fit: a time in a spring-forward gap, take the offset in force before the gap.
fn local_to_utc(tz: &TimeZone, local_minute: i64) -> i64 {
    let before = offset_at(tz, local_minute - 2 * DAY_MIN);
    let after = offset_at(tz, local_minute + 2 * DAY_MIN);
    let fits: Vec<i64> = [before, after]
        .into_iter()
        .filter(|&o| offset_at(tz, local_minute - o) == o)
        .map(|o| local_minute - o)
        .collect();
    fits.into_iter().min().unwrap_or(local_minute - before)
}

// ---------------------------------------------------------------------------------------------
// The random input
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawRule {
    day: u8,
    start: u16,
    end: u16,
    available: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RawOverride {
    /// Days since 1970-01-01.
    day: i64,
    windows: Vec<(u16, u16)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawPolicy {
    duration: u32,
    interval: u32,
    buffer_before: u32,
    buffer_after: u32,
    notice: u32,
    horizon: u32,
}

/// One engine input, with all instants as nanoseconds since the Unix epoch.
#[derive(Clone)]
struct Case {
    zone: &'static str,
    rules: Vec<RawRule>,
    overrides: Vec<RawOverride>,
    /// Busy intervals, and whether each one is a confirmed appointment (else calendar busy time).
    busy: Vec<(i128, i128, bool)>,
    policy: RawPolicy,
    duration_override: Option<u32>,
    from: i128,
    to: i128,
    now: i128,
}

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Case {{")?;
        writeln!(f, "  zone: {}", self.zone)?;
        for r in &self.rules {
            let kind = if r.available { "available" } else { "UNAVAILABLE" };
            writeln!(
                f,
                "  rule: {} {}-{} {kind}",
                DAY_NAMES[usize::from(r.day)],
                fmt_hm(r.start),
                fmt_hm(r.end)
            )?;
        }
        for o in &self.overrides {
            let windows: Vec<String> = o
                .windows
                .iter()
                .map(|&(s, e)| format!("{}-{}", fmt_hm(s), fmt_hm(e)))
                .collect();
            writeln!(f, "  override: {} [{}]", jiff_date(o.day), windows.join(", "))?;
        }
        for &(s, e, appointment) in &self.busy {
            let kind = if appointment { "appointment" } else { "calendar busy" };
            writeln!(f, "  busy: {} .. {} ({kind})", ts(s), ts(e))?;
        }
        let p = self.policy;
        writeln!(
            f,
            "  policy: duration {} interval {} buffers {}/{} notice {} horizon {} days; duration asked: {:?}",
            p.duration, p.interval, p.buffer_before, p.buffer_after, p.notice, p.horizon, self.duration_override
        )?;
        writeln!(
            f,
            "  query: [{} .. {}) now {}",
            ts(self.from),
            ts(self.to),
            ts(self.now)
        )?;
        write!(f, "}}")
    }
}

impl Case {
    fn tz(&self) -> TimeZone {
        TimeZone::get(self.zone).expect("a bundled zone")
    }

    fn schedule(&self) -> Schedule {
        let zone = Zone::new(self.zone).expect("a valid zone");
        let lt = |m: u16| LocalTime::from_minutes(m).expect("0..=1440");
        let rules = self
            .rules
            .iter()
            .map(|r| {
                let day = DayOfWeek::new(i64::from(r.day)).expect("0..=6");
                WeeklyRule::new(day, lt(r.start), lt(r.end), r.available).expect("start < end")
            })
            .collect();
        let overrides = self
            .overrides
            .iter()
            .map(|o| DateOverride {
                date: jiff_date(o.day),
                windows: o
                    .windows
                    .iter()
                    .map(|&(s, e)| TimeWindow::new(lt(s), lt(e)).expect("start < end"))
                    .collect(),
            })
            .collect();
        Schedule::new(zone, rules, overrides).expect("one override per date")
    }

    fn booking_policy(&self) -> BookingPolicy {
        let p = self.policy;
        BookingPolicy::new(
            i64::from(p.duration),
            i64::from(p.interval),
            i64::from(p.buffer_before),
            i64::from(p.buffer_after),
            i64::from(p.notice),
            i64::from(p.horizon),
        )
        .expect("a valid policy")
    }

    fn busy_intervals(&self) -> Vec<Interval> {
        self.busy.iter().map(|&(s, e, _)| interval_ns(s, e)).collect()
    }

    fn query(&self) -> SlotQuery {
        SlotQuery {
            window: interval_ns(self.from, self.to),
            now: ts(self.now),
            duration_minutes: self.duration_override,
        }
    }

    fn duration(&self) -> u32 {
        self.duration_override.unwrap_or(self.policy.duration)
    }

    fn engine(&self) -> Vec<Slot> {
        available_slots(
            &self.schedule(),
            &self.booking_policy(),
            &self.busy_intervals(),
            &self.query(),
        )
    }
}

fn interval_ns(start: i128, end: i128) -> Interval {
    Interval::new(ts(start), ts(end)).expect("start < end")
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// The transition dates of a zone (for zones without DST: all of them, as ordinary dates).
fn dst_days(zone: &str) -> Vec<i64> {
    let own: Vec<i64> = TRANSITION_DATES
        .iter()
        .filter(|(z, _)| *z == zone)
        .flat_map(|(_, dates)| dates.iter().map(|&(y, m, d)| days_from_civil(y, m, d)))
        .collect();
    if own.is_empty() {
        TRANSITION_DATES
            .iter()
            .flat_map(|(_, dates)| dates.iter().map(|&(y, m, d)| days_from_civil(y, m, d)))
            .collect()
    } else {
        own
    }
}

/// A zone and a day (days since 1970-01-01): mostly within three days of one of the zone's
/// transitions, otherwise any day of 2026-2027.
fn zone_and_day() -> impl Strategy<Value = (&'static str, i64)> {
    (
        0..ZONES.len(),
        prop::bool::weighted(0.8),
        0usize..16,
        0i64..730,
        -3i64..=3,
    )
        .prop_map(|(z, near_transition, k, random_day, shift)| {
            let zone = ZONES[z];
            let day = if near_transition {
                let days = dst_days(zone);
                days[k % days.len()] + shift
            } else {
                days_from_civil(2026, 1, 1) + random_day
            };
            (zone, day)
        })
}

/// A local window [start, end) in minutes of the day, end <= 1440, biased to quarter hours, the
/// small hours (where the transitions are) and the late evening.
fn local_window() -> impl Strategy<Value = (u16, u16)> {
    let start = prop_oneof![
        3 => (0u16..96).prop_map(|q| q * 15),
        2 => 0u16..300,
        1 => 1320u16..1440,
        1 => 0u16..1440,
    ];
    let length = prop_oneof![
        3 => (1u16..=16).prop_map(|q| q * 15),
        2 => (4u16..=12).prop_map(|h| h * 60),
        1 => 1u16..=1440,
    ];
    (start, length).prop_map(|(s, l)| (s, (s + l).min(1440)))
}

/// Weekly rules: a few windows, each repeated on a set of weekdays (every day, Monday to Friday,
/// Sunday alone - the transitions are on Sundays - or any set); with probability `round_the_clock`
/// also 00:00-24:00 on every weekday.
fn rules(round_the_clock: f64) -> impl Strategy<Value = Vec<RawRule>> {
    let days = prop_oneof![
        2 => Just(0b111_1111u8),
        1 => Just(0b011_1110u8),
        1 => Just(0b000_0001u8),
        3 => 1u8..128,
    ];
    let template = (days, local_window(), prop::bool::weighted(0.75));
    (
        prop::collection::vec(template, 1..6),
        prop::bool::weighted(round_the_clock),
    )
        .prop_map(|(templates, all_day)| {
            let mut rules = Vec::new();
            for (days, (start, end), available) in templates {
                rules.extend((0..7u8).filter(|d| days & (1 << d) != 0).map(|day| RawRule {
                    day,
                    start,
                    end,
                    available,
                }));
            }
            if all_day {
                rules.extend((0..7).map(|day| RawRule {
                    day,
                    start: 0,
                    end: 1440,
                    available: true,
                }));
            }
            rules
        })
}

/// Overrides as (days after the anchor day, windows).
fn overrides() -> impl Strategy<Value = Vec<(i64, Vec<(u16, u16)>)>> {
    prop::collection::vec((-10i64..=12, prop::collection::vec(local_window(), 0..3)), 0..3)
}

fn policy() -> impl Strategy<Value = RawPolicy> {
    let duration = prop_oneof![
        5 => prop_oneof![Just(15u32), Just(30), Just(45), Just(60), Just(90)],
        2 => 5u32..=120,
        1 => 5u32..=240,
    ];
    let interval = prop_oneof![
        2 => Just(None),
        1 => prop_oneof![Just(15u32), Just(20), Just(30), 5u32..=240].prop_map(Some),
    ];
    let buffer = || prop_oneof![3 => Just(0u32), 1 => prop_oneof![Just(5u32), Just(15), Just(30), 0u32..=120]];
    let notice = prop_oneof![3 => Just(0u32), 1 => 0u32..=2000];
    let horizon = prop_oneof![1 => 1u32..=3, 2 => 4u32..=14, 1 => Just(730u32)];
    (duration, interval, buffer(), buffer(), notice, horizon).prop_map(
        |(duration, interval, buffer_before, buffer_after, notice, horizon)| RawPolicy {
            duration,
            interval: interval.unwrap_or(duration),
            buffer_before,
            buffer_after,
            notice,
            horizon,
        },
    )
}

/// The part of an instant below the minute, in nanoseconds: mostly zero, sometimes whole seconds,
/// and (when `subsecond`) sometimes any nanosecond.
fn below_minute(subsecond: bool) -> BoxedStrategy<i128> {
    if subsecond {
        prop_oneof![
            3 => Just(0i128),
            1 => (1i128..60).prop_map(|s| s * SEC_NS),
            3 => 1i128..SEC_NS,
            1 => 1i128..MIN_NS,
        ]
        .boxed()
    } else {
        prop_oneof![6 => Just(0i128), 1 => (1i128..60).prop_map(|s| s * SEC_NS)].boxed()
    }
}

/// Random cases with query windows of up to `max_query_minutes`. With `subsecond`, the query
/// bounds, now and busy edges may have any nanoseconds; otherwise they are whole seconds.
/// `round_the_clock` is the probability of round-the-clock availability on every weekday.
fn cases(max_query_minutes: i64, subsecond: bool, round_the_clock: f64) -> impl Strategy<Value = Case> {
    // Quarter hours in [lo, hi] (windows often start on them), or any minute.
    let quarter = |lo: i64, hi: i64| {
        prop_oneof![
            ((lo + 14).div_euclid(15)..=hi.div_euclid(15)).prop_map(|q| q * 15),
            lo..=hi
        ]
    };
    let query = (
        quarter(-3 * DAY_MIN, DAY_MIN),
        below_minute(subsecond),
        prop_oneof![
            2 => quarter(1, max_query_minutes),
            1 => (1i64..=max_query_minutes / DAY_MIN).prop_map(|d| d * DAY_MIN),
        ],
        below_minute(subsecond),
        prop_oneof![3 => quarter(-2 * DAY_MIN, 0), 1 => quarter(0, DAY_MIN)],
        below_minute(subsecond),
    );
    let busy = prop::collection::vec(
        (
            -DAY_MIN..=max_query_minutes + DAY_MIN,
            prop_oneof![3 => (1i64..=16).prop_map(|q| q * 15), 1 => 1i64..=600],
            below_minute(subsecond),
            below_minute(subsecond),
            prop::bool::weighted(0.5),
        ),
        0..6,
    );
    let duration_override = prop_oneof![4 => Just(None), 1 => (5u32..=300).prop_map(Some)];
    (
        zone_and_day(),
        rules(round_the_clock),
        overrides(),
        busy,
        policy(),
        duration_override,
        query,
    )
        .prop_map(
            |((zone, anchor), rules, raw_overrides, raw_busy, policy, duration_override, q)| {
                let (from_min, from_sub, len_min, len_sub, now_min, now_sub) = q;
                let from = i128::from(anchor * DAY_MIN + from_min) * MIN_NS + from_sub;
                // At least a minute long (len_min >= 1).
                let to = from + i128::from(len_min) * MIN_NS + len_sub;
                let now = from + i128::from(now_min) * MIN_NS + now_sub;
                let mut overrides: Vec<RawOverride> = Vec::new();
                for (offset, windows) in raw_overrides {
                    let day = anchor + offset;
                    if overrides.iter().all(|o| o.day != day) {
                        overrides.push(RawOverride { day, windows });
                    }
                }
                let busy = raw_busy
                    .into_iter()
                    .map(|(start_min, len_min, start_sub, end_sub, appointment)| {
                        let start = from - from_sub + i128::from(start_min) * MIN_NS + start_sub;
                        let end = start - start_sub + i128::from(len_min) * MIN_NS + end_sub;
                        (start, end, appointment)
                    })
                    .collect();
                Case {
                    zone,
                    rules,
                    overrides,
                    busy,
                    policy,
                    duration_override,
                    from,
                    to,
                    now,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The brute-force reference
// ---------------------------------------------------------------------------------------------

/// Rule 1, minute by minute: `bits[i]` says whether UTC minute `base + i` is available; `runs` are
/// the maximal runs of available minutes (the merged windows), each with whether its true start is
/// known (false: it reaches back to the first date the reference looked at). `cut[i]` says whether
/// the minute lies in an unavailable window (a break), for the explanations of rule 10.
struct Availability {
    base: i64,
    bits: Vec<bool>,
    cut: Vec<bool>,
    runs: Vec<(i64, i64, bool)>,
}

impl Availability {
    fn is_available(&self, utc_minute: i64) -> bool {
        let i = utc_minute - self.base;
        i >= 0 && (i as usize) < self.bits.len() && self.bits[i as usize]
    }

    fn is_cut(&self, utc_minute: i64) -> bool {
        let i = utc_minute - self.base;
        i >= 0 && (i as usize) < self.cut.len() && self.cut[i as usize]
    }

    /// The run containing the minute.
    fn run_at(&self, utc_minute: i64) -> Option<(i64, i64, bool)> {
        self.runs
            .iter()
            .copied()
            .find(|&(s, e, _)| s <= utc_minute && utc_minute < e)
    }
}

/// The hours that apply on one local date: the zone, weekly rules and overrides of the schedule in
/// force (rule 10; without schedule periods, always the case's own).
struct DayHours<'c> {
    tz: TimeZone,
    rules: &'c [RawRule],
    overrides: &'c [RawOverride],
}

/// The availability over the local dates from `LOOKBACK_DAYS` before `from` to three days after
/// `to` (enough for slots of up to a day starting before `to`).
fn reference_availability(case: &Case) -> Availability {
    let tz = case.tz();
    let hours_on = |_day: i64| DayHours {
        tz: tz.clone(),
        rules: &case.rules,
        overrides: &case.overrides,
    };
    reference_availability_of(case, &hours_on, std::slice::from_ref(&tz))
}

/// `reference_availability` with the hours of each date given by `hours_on` (days since
/// 1970-01-01), in `zones`.
fn reference_availability_of<'c>(
    case: &Case,
    hours_on: &dyn Fn(i64) -> DayHours<'c>,
    zones: &[TimeZone],
) -> Availability {
    let from_minute = (case.from.div_euclid(MIN_NS)) as i64;
    let to_minute = (case.to.div_euclid(MIN_NS)) as i64 + 1;
    let first_day = from_minute.div_euclid(DAY_MIN) - LOOKBACK_DAYS;
    let last_day = to_minute.div_euclid(DAY_MIN) + 3;
    // Local dates are at most 14 hours off their UTC dates.
    let base = first_day * DAY_MIN - 15 * 60;
    let len = ((last_day + 1 - first_day) * DAY_MIN + 30 * 60) as usize;
    let mut add = vec![false; len];
    let mut cut = vec![false; len];
    for day in first_day..=last_day {
        let hours = hours_on(day);
        let windows: Vec<(u16, u16, bool)> = match hours.overrides.iter().find(|o| o.day == day) {
            Some(o) => o.windows.iter().map(|&(s, e)| (s, e, true)).collect(),
            None => hours
                .rules
                .iter()
                .filter(|r| r.day == weekday_of_day(day))
                .map(|r| (r.start, r.end, r.available))
                .collect(),
        };
        for (s, e, available) in windows {
            // "24:00" is minute 1440 of the day, i.e. the next date's midnight.
            let start = local_to_utc(&hours.tz, day * DAY_MIN + i64::from(s));
            let end = local_to_utc(&hours.tz, day * DAY_MIN + i64::from(e));
            if end <= start {
                continue; // dropped (rule 1)
            }
            let target = if available { &mut add } else { &mut cut };
            for m in start..end {
                target[(m - base) as usize] = true;
            }
        }
    }
    let bits: Vec<bool> = add.iter().zip(&cut).map(|(&a, &c)| a && !c).collect();
    // A run that starts after the first date's midnight in every zone cannot have begun earlier.
    let boundary = zones
        .iter()
        .map(|tz| local_to_utc(tz, first_day * DAY_MIN))
        .max()
        .expect("at least one zone");
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bits.len() {
        if bits[i] {
            let start = i;
            while i < bits.len() && bits[i] {
                i += 1;
            }
            let (s, e) = (base + start as i64, base + i as i64);
            runs.push((s, e, s > boundary));
        } else {
            i += 1;
        }
    }
    Availability { base, bits, cut, runs }
}

/// Rule 4's conditions other than [from, to), for a start `s` (ns) of a slot of `duration` minutes.
fn passes_policy(case: &Case, duration: u32, busy: &[(i128, i128, bool)], s: i128) -> bool {
    let p = case.policy;
    let end = s + i128::from(duration) * MIN_NS;
    let guarded = (
        s - i128::from(p.buffer_before) * MIN_NS,
        end + i128::from(p.buffer_after) * MIN_NS,
    );
    busy.iter().all(|&(bs, be, _)| !(guarded.0 < be && bs < guarded.1))
        && s >= case.now + i128::from(p.notice) * MIN_NS
        && s < case.now + i128::from(p.horizon) * 24 * 60 * MIN_NS
}

/// Rules 3-5: the slot starts (ns) in [from, to), and the runs the reference cannot anchor.
fn reference_slots(case: &Case, av: &Availability, duration: u32) -> (Vec<i128>, Vec<(i64, i64)>) {
    let mut starts = Vec::new();
    let mut unanchored = Vec::new();
    let step = i64::from(case.policy.interval);
    for &(ws, we, anchored) in &av.runs {
        if !anchored {
            unanchored.push((ws, we));
            continue;
        }
        let mut c = ws;
        while c + i64::from(duration) <= we {
            let s = i128::from(c) * MIN_NS;
            if case.from <= s && s < case.to && passes_policy(case, duration, &case.busy, s) {
                starts.push(s);
            }
            c += step;
        }
    }
    starts.sort_unstable();
    starts.dedup();
    (starts, unanchored)
}

/// Whether `s` (ns) is a slot of `duration` minutes (rule 7), ignoring the query window; None when
/// it lies in a run the reference cannot anchor.
fn reference_is_slot(case: &Case, av: &Availability, duration: u32, s: i128) -> Option<bool> {
    if s.rem_euclid(MIN_NS) != 0 {
        return Some(false); // every grid point is a whole UTC minute in the test zones
    }
    let minute = (s / MIN_NS) as i64;
    let Some((ws, we, anchored)) = av.run_at(minute) else {
        return Some(false);
    };
    if !anchored {
        return None;
    }
    let on_grid = (minute - ws) % i64::from(case.policy.interval) == 0;
    Some(on_grid && minute + i64::from(duration) <= we && passes_policy(case, duration, &case.busy, s))
}

fn in_unanchored(unanchored: &[(i64, i64)], s: i128) -> bool {
    unanchored
        .iter()
        .any(|&(ws, we)| i128::from(ws) * MIN_NS <= s && s < i128::from(we) * MIN_NS)
}

fn starts_ns(slots: &[Slot]) -> Vec<i128> {
    slots.iter().map(|s| s.start.as_nanosecond()).collect()
}

fn show(starts: &[i128]) -> Vec<String> {
    starts.iter().map(|&s| ts(s).to_string()).collect()
}

/// The slots of the reference over the whole query window, as RFC 3339 strings (for unit tests).
fn reference_starts(case: &Case) -> Vec<String> {
    let av = reference_availability(case);
    let (starts, unanchored) = reference_slots(case, &av, case.duration());
    assert!(
        unanchored.is_empty(),
        "the reference cannot anchor a window of {case:?}"
    );
    show(&starts)
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

/// How often ordinary cases get round-the-clock availability on every weekday.
const SOMETIMES: f64 = 0.12;

fn config(cases: u32) -> ProptestConfig {
    // PROPTEST_CASES overrides the per-property count (for longer runs).
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Failures are reported (and pinned as unit tests below), not persisted next to the file.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Property 1: whole slots, inside the availability, clear of busy time with their buffers.
fn check_slots_are_whole_inside_and_free(case: &Case) -> Result<(), TestCaseError> {
    let slots = case.engine();
    let av = reference_availability(case);
    let duration = i128::from(case.duration()) * MIN_NS;
    let p = case.policy;
    for slot in &slots {
        let (s, e) = (slot.start.as_nanosecond(), slot.end.as_nanosecond());
        prop_assert_eq!(e - s, duration, "slot {} is not one duration long", slot.start);
        prop_assert_eq!(s.rem_euclid(MIN_NS), 0, "slot {} is not on a whole minute", slot.start);
        let first = (s / MIN_NS) as i64;
        let inside = (first..first + i64::from(case.duration())).all(|m| av.is_available(m));
        prop_assert!(
            inside,
            "slot {} .. {} is not inside the availability",
            slot.start,
            slot.end
        );
        let guarded = (
            s - i128::from(p.buffer_before) * MIN_NS,
            e + i128::from(p.buffer_after) * MIN_NS,
        );
        for &(bs, be, _) in &case.busy {
            prop_assert!(
                !(guarded.0 < be && bs < guarded.1),
                "slot {} with its buffers overlaps busy {} .. {}",
                slot.start,
                ts(bs),
                ts(be)
            );
        }
    }
    Ok(())
}

/// Property 2: sorted, unique, inside [from, to), the notice and the horizon.
fn check_slots_are_sorted_and_bounded(case: &Case) -> Result<(), TestCaseError> {
    let slots = case.engine();
    let p = case.policy;
    for pair in slots.windows(2) {
        prop_assert!(
            pair[0].start < pair[1].start,
            "not sorted/unique: {} then {}",
            pair[0].start,
            pair[1].start
        );
    }
    for slot in &slots {
        let s = slot.start.as_nanosecond();
        prop_assert!(
            case.from <= s && s < case.to,
            "slot {} outside the query window",
            slot.start
        );
        prop_assert!(
            s >= case.now + i128::from(p.notice) * MIN_NS,
            "slot {} is too soon",
            slot.start
        );
        prop_assert!(
            s < case.now + i128::from(p.horizon) * 24 * 60 * MIN_NS,
            "slot {} is beyond the horizon",
            slot.start
        );
    }
    Ok(())
}

/// Property 3: exactly the reference's slots. Slots in a window the reference cannot anchor (it
/// reaches back past the reference's first date: round-the-clock availability) are left out on both
/// sides: the contract anchors a grid at the window's start, which such a window does not have.
fn check_engine_matches_reference(case: &Case) -> Result<(), TestCaseError> {
    let av = reference_availability(case);
    let (expected, unanchored) = reference_slots(case, &av, case.duration());
    let got: Vec<i128> = starts_ns(&case.engine())
        .into_iter()
        .filter(|&s| !in_unanchored(&unanchored, s))
        .collect();
    prop_assert_eq!(show(&got), show(&expected));
    Ok(())
}

/// The query window only filters (rule 4): the slots of a sub-window are the slots of the whole
/// window that start in it. `cut` chooses the sub-window in per-mille of the window.
fn check_window_independence(case: &Case, cut: (u16, u16)) -> Result<(), TestCaseError> {
    let span = case.to - case.from;
    let (a, b) = (cut.0.min(cut.1), cut.0.max(cut.1));
    let sub_from = case.from + span * i128::from(a) / 1000;
    let sub_to = (case.from + span * i128::from(b) / 1000).max(sub_from + 1);
    let whole: Vec<i128> = starts_ns(&case.engine())
        .into_iter()
        .filter(|&s| sub_from <= s && s < sub_to)
        .collect();
    let sub = Case {
        from: sub_from,
        to: sub_to,
        ..case.clone()
    };
    prop_assert_eq!(
        show(&starts_ns(&sub.engine())),
        show(&whole),
        "slots of [{}, {}) differ from those of the whole window",
        ts(sub_from),
        ts(sub_to)
    );
    Ok(())
}

/// A day on either side of the query window: what the directory's memo computes slots for.
fn widened(case: &Case) -> Interval {
    const DAY_NS: i128 = 86_400 * SEC_NS;
    interval_ns(case.from - DAY_NS, case.to + DAY_NS)
}

/// The slots of a larger window [at any time](StartBounds) that start in the query window and
/// within the bounds of `now` (what the directory's memo answers).
fn bounded_at_now(any_time: Vec<Slot>, case: &Case, policy: &BookingPolicy) -> Vec<Slot> {
    let Some((earliest, latest)) = StartBounds::of(policy).at(ts(case.now)) else {
        return Vec::new();
    };
    let (from, to) = (ts(case.from), ts(case.to));
    any_time
        .into_iter()
        .filter(|s| s.start >= from && s.start < to && s.start >= earliest && s.start < latest)
        .collect()
}

/// Rule 4's bounds of now (notice, horizon, the past) and the window only filter: the slots at
/// `now` are the slots of a larger window at any time that pass them.
fn check_now_only_filters(case: &Case) -> Result<(), TestCaseError> {
    let policy = case.booking_policy();
    let any_time = available_slots_at_any_time(
        &case.schedule(),
        &policy,
        &case.busy_intervals(),
        widened(case),
        case.duration_override,
    );
    prop_assert_eq!(bounded_at_now(any_time, case, &policy), case.engine());
    Ok(())
}

/// Property 4: every shown slot can be booked (all busy time given as the calendar's); other
/// starts and lengths are refused, with the right reason (rules 7 and 8); a start in the query
/// window is bookable exactly when it is shown. About `max_shown` shown slots are tried; with
/// `skip_unanchored`, not those in windows the reference cannot anchor (the round-the-clock property
/// tries them).
fn check_display_agrees_with_booking(
    case: &Case,
    probes: &[(i64, u32, i128)],
    skip_unanchored: bool,
    max_shown: usize,
) -> Result<(), TestCaseError> {
    let schedule = case.schedule();
    let policy = case.booking_policy();
    let busy = case.busy_intervals();
    let now = ts(case.now);
    let slots = case.engine();
    let duration = case.duration();
    let av = reference_availability(case);
    let anchored = |s: i128| av.run_at((s.div_euclid(MIN_NS)) as i64).is_none_or(|r| r.2);
    let step = (slots.len() / max_shown).max(1);
    for slot in slots.iter().step_by(step) {
        if skip_unanchored && !anchored(slot.start.as_nanosecond()) {
            continue;
        }
        let requested = Interval::new(slot.start, slot.end).expect("a slot is not empty");
        prop_assert_eq!(
            check_booking(&schedule, &policy, &[], &busy, requested, now),
            Ok(()),
            "shown slot {} .. {} is refused",
            slot.start,
            slot.end
        );
    }
    // Probes: starts near shown slots or anywhere in the window, of the asked or another length,
    // with the busy time split into appointments and calendar busy time.
    let appointments: Vec<Interval> = case
        .busy
        .iter()
        .filter(|b| b.2)
        .map(|&(s, e, _)| interval_ns(s, e))
        .collect();
    let external: Vec<Interval> = case
        .busy
        .iter()
        .filter(|b| !b.2)
        .map(|&(s, e, _)| interval_ns(s, e))
        .collect();
    let shown = starts_ns(&slots);
    for &(shift_minutes, length, below) in probes {
        let base = if shown.is_empty() || shift_minutes % 3 == 0 {
            let span = ((case.to - case.from) / MIN_NS).max(1);
            (case.from.div_euclid(MIN_NS) + i128::from(shift_minutes).rem_euclid(span)) * MIN_NS
        } else {
            shown[shift_minutes.unsigned_abs() as usize % shown.len()] + i128::from(shift_minutes % 90) * MIN_NS
        };
        let start = base + below;
        let length = if length == 0 { duration } else { length };
        let end = start + i128::from(length) * MIN_NS;
        let requested = interval_ns(start, end);
        let got = check_booking(&schedule, &policy, &appointments, &external, requested, now);
        if appointments.iter().any(|a| a.overlaps(&requested)) {
            prop_assert_eq!(got, Err(BookingRefusal::SlotTaken), "{} .. {}", ts(start), ts(end));
            continue;
        }
        if length == duration && case.from <= start && start < case.to {
            prop_assert_eq!(
                got.is_ok(),
                shown.contains(&start),
                "{} .. {}: booking says {:?}, display shows it: {}",
                ts(start),
                ts(end),
                got,
                shown.contains(&start)
            );
        }
        let Some(is_slot) = reference_is_slot(case, &av, length, start) else {
            continue;
        };
        if is_slot {
            prop_assert_eq!(got, Ok(()), "{} .. {} is a slot but refused", ts(start), ts(end));
        } else {
            prop_assert!(
                matches!(got, Err(BookingRefusal::SlotUnavailable(_))),
                "{} .. {} is not a slot but got {:?}",
                ts(start),
                ts(end),
                got
            );
        }
    }
    Ok(())
}

/// Rule 7: a booking is accepted only when it IS a slot: a shown slot nudged by a few seconds or
/// a fraction of a second at either end is refused.
fn check_nudged_slots_are_refused(case: &Case, nudges: &[(i128, i128)]) -> Result<(), TestCaseError> {
    let schedule = case.schedule();
    let policy = case.booking_policy();
    let busy = case.busy_intervals();
    let slots = case.engine();
    let step = (slots.len() / 8).max(1);
    for slot in slots.iter().step_by(step) {
        for &(ds, de) in nudges {
            if ds == 0 && de == 0 {
                continue;
            }
            let (s, e) = (slot.start.as_nanosecond() + ds, slot.end.as_nanosecond() + de);
            let requested = interval_ns(s, e);
            let got = check_booking(&schedule, &policy, &[], &busy, requested, ts(case.now));
            prop_assert!(
                matches!(got, Err(BookingRefusal::SlotUnavailable(_))),
                "{} .. {} (slot {} .. {} nudged) is not a slot but got {:?}",
                ts(s),
                ts(e),
                slot.start,
                slot.end,
                got
            );
        }
    }
    Ok(())
}

fn probes(max: usize) -> impl Strategy<Value = Vec<(i64, u32, i128)>> {
    prop::collection::vec(
        (
            -20_000i64..20_000,
            prop_oneof![3 => Just(0u32), 1 => 5u32..=300],
            prop_oneof![6 => Just(0i128), 1 => (1i128..60).prop_map(|s| s * SEC_NS)],
        ),
        0..max,
    )
}

fn nudge() -> impl Strategy<Value = i128> {
    prop_oneof![
        2 => Just(0i128),
        1 => (-59i128..=59).prop_map(|s| s * SEC_NS),
        2 => -SEC_NS + 1..SEC_NS,
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// Property 1 on query windows of up to ten days.
    #[test]
    fn slots_are_one_duration_inside_the_availability_and_clear_of_busy_time(
        case in cases(10 * DAY_MIN, false, SOMETIMES),
    ) {
        check_slots_are_whole_inside_and_free(&case)?;
    }

    /// Property 2 on query windows of up to ten days.
    #[test]
    fn slots_are_sorted_unique_and_within_window_notice_and_horizon(case in cases(10 * DAY_MIN, false, SOMETIMES)) {
        check_slots_are_sorted_and_bounded(&case)?;
    }

    /// Rule 4: the query window only filters; a sub-window shows the same slots. (More often
    /// round-the-clock: a window without a start is where the grid could depend on the query.)
    #[test]
    fn slots_do_not_depend_on_the_query_window(
        case in cases(10 * DAY_MIN, false, 0.3),
        cut in (0u16..=1000, 0u16..=1000),
    ) {
        check_window_independence(&case, cut)?;
    }

    /// Rule 4: now only filters; the slots at any time, bounded at now, are the slots at now.
    #[test]
    fn the_bounds_of_now_only_filter_the_slots_at_any_time(case in cases(10 * DAY_MIN, false, 0.3)) {
        check_now_only_filters(&case)?;
    }
}

proptest! {
    #![proptest_config(config(2048))]

    /// Property 3 on small inputs: the engine equals the brute-force reference.
    #[test]
    fn engine_agrees_with_brute_force_reference(case in cases(3 * DAY_MIN, false, SOMETIMES)) {
        check_engine_matches_reference(&case)?;
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Property 4: display and booking agree (availability with a start the contract defines).
    #[test]
    fn shown_slots_can_be_booked_and_other_times_cannot(case in cases(3 * DAY_MIN, false, 0.0), probes in probes(12)) {
        check_display_agrees_with_booking(&case, &probes, true, 16)?;
    }

    /// Rule 7: a booking that is a shown slot moved by seconds or nanoseconds is refused.
    #[test]
    fn a_booking_must_be_exactly_a_slot(
        case in cases(3 * DAY_MIN, false, SOMETIMES),
        nudges in prop::collection::vec((nudge(), nudge()), 1..4),
    ) {
        check_nudged_slots_are_refused(&case, &nudges)?;
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Property 4 for round-the-clock schedules (every weekday 00:00-24:00, plus random rules and
    /// overrides): display and booking still agree, whatever the grid is anchored at. (Fewer cases:
    /// with availability that has no start the engine looks back a year on every call.)
    #[test]
    fn round_the_clock_shown_slots_can_be_booked(case in cases(3 * DAY_MIN, false, 1.0), probes in probes(6)) {
        check_display_agrees_with_booking(&case, &probes, false, 8)?;
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// Properties 1-3 with instants that have fractions of a second (now from a real clock, query
    /// bounds and busy time from outside): the bounds are instants, compared exactly.
    #[test]
    fn sub_second_instants_are_compared_exactly(case in cases(3 * DAY_MIN, true, SOMETIMES)) {
        check_slots_are_sorted_and_bounded(&case)?;
        check_slots_are_whole_inside_and_free(&case)?;
        check_engine_matches_reference(&case)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Never panics
// ---------------------------------------------------------------------------------------------

/// Zones beyond the six: half-hour and 45-minute offsets, a two-hour DST (Troll), a skipped date
/// (Apia, 2011-12-30), negative DST (Casablanca), +14 and -12.
const MORE_ZONES: [&str; 14] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
    "Pacific/Chatham",
    "America/St_Johns",
    "Antarctica/Troll",
    "Pacific/Apia",
    "Africa/Casablanca",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
];

fn any_instant() -> impl Strategy<Value = Timestamp> {
    let (min, max) = (Timestamp::MIN.as_nanosecond(), Timestamp::MAX.as_nanosecond());
    let near_2026 = i128::from(days_from_civil(2026, 1, 1)) * 86_400 * SEC_NS;
    prop_oneof![
        1 => Just(Timestamp::MIN),
        1 => Just(Timestamp::MAX),
        2 => (min..=max).prop_map(ts),
        1 => (max - 800 * 86_400 * SEC_NS..=max).prop_map(ts),
        1 => (min..=min + 800 * 86_400 * SEC_NS).prop_map(ts),
        5 => (near_2026 - 400 * 86_400 * SEC_NS..near_2026 + 800 * 86_400 * SEC_NS).prop_map(ts),
    ]
}

fn any_interval() -> impl Strategy<Value = Interval> {
    (any_instant(), any_instant()).prop_filter_map("empty", |(a, b)| Interval::new(a.min(b), a.max(b)).ok())
}

fn any_date() -> impl Strategy<Value = Date> {
    prop_oneof![
        1 => Just(civil::date(-9999, 1, 1)),
        1 => Just(civil::date(9999, 12, 31)),
        2 => (days_from_civil(-9999, 1, 1)..=days_from_civil(9999, 12, 31)).prop_map(jiff_date),
        3 => (days_from_civil(2025, 1, 1)..=days_from_civil(2028, 12, 31)).prop_map(jiff_date),
    ]
}

fn any_local_window() -> impl Strategy<Value = (LocalTime, LocalTime)> {
    (0u16..1440, 1u16..=1440).prop_map(|(s, l)| {
        let lt = |m: u16| LocalTime::from_minutes(m).expect("0..=1440");
        (lt(s), lt((s + l).min(1440)))
    })
}

fn any_schedule() -> impl Strategy<Value = Schedule> {
    let rule = (0i64..7, any_local_window(), any::<bool>()).prop_map(|(d, (s, e), available)| {
        WeeklyRule::new(DayOfWeek::new(d).expect("0..=6"), s, e, available).expect("start < end")
    });
    let all_day = prop::bool::weighted(0.3);
    let over = (any_date(), prop::collection::vec(any_local_window(), 0..3)).prop_map(|(date, windows)| DateOverride {
        date,
        windows: windows
            .into_iter()
            .map(|(s, e)| TimeWindow::new(s, e).expect("start < end"))
            .collect(),
    });
    (
        prop::sample::select(&MORE_ZONES[..]),
        prop::collection::vec(rule, 0..12),
        all_day,
        prop::collection::vec(over, 0..4),
    )
        .prop_map(|(zone, mut rules, all_day, mut overrides)| {
            if all_day {
                for d in 0..7 {
                    let day = DayOfWeek::new(d).expect("0..=6");
                    rules.push(WeeklyRule::new(day, LocalTime::MIDNIGHT, LocalTime::END_OF_DAY, true).expect("a day"));
                }
            }
            let mut seen = BTreeSet::new();
            overrides.retain(|o| seen.insert(o.date));
            Schedule::new(Zone::new(zone).expect("a bundled zone"), rules, overrides).expect("one override per date")
        })
}

fn any_policy() -> impl Strategy<Value = BookingPolicy> {
    let field = |min: i64, max: i64| prop_oneof![Just(min), Just(max), min..=max];
    (
        field(5, 1440),
        field(5, 1440),
        field(0, 1440),
        field(0, 1440),
        field(0, 525_600),
        field(1, 730),
    )
        .prop_map(|(d, i, bb, ba, n, h)| BookingPolicy::new(d, i, bb, ba, n, h).expect("in range"))
}

/// A duration asked for: none, zero, the valid range, or up to two weeks. (The engine's work grows
/// with the duration asked - it computes the availability up to `to + duration` - so a duration of
/// u32::MAX minutes, 8000 years, is only tried once, in `an_absurd_duration_asked_gives_no_slots`.)
fn any_duration_asked() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(0u32)),
        2 => (5u32..=1440).prop_map(Some),
        1 => (1441u32..=20_160).prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// Valid-typed input of any size never makes the engine panic, and its answers stay sorted,
    /// unique, one duration long and inside the query window.
    #[test]
    fn the_engine_never_panics(
        schedule in any_schedule(),
        policy in any_policy(),
        busy in prop::collection::vec((any_interval(), any::<bool>()), 0..6),
        window in any_interval(),
        now in any_instant(),
        duration_minutes in any_duration_asked(),
        requested in any_interval(),
    ) {
        let intervals: Vec<Interval> = busy.iter().map(|b| b.0).collect();
        let query = SlotQuery { window, now, duration_minutes };
        let slots = available_slots(&schedule, &policy, &intervals, &query);
        let minutes = i64::from(duration_minutes.unwrap_or(policy.slot_duration_minutes()));
        for pair in slots.windows(2) {
            prop_assert!(pair[0].start < pair[1].start);
        }
        for slot in &slots {
            prop_assert!(window.contains(slot.start));
            prop_assert_eq!((slot.end - slot.start).as_secs(), minutes * 60);
        }
        let appointments: Vec<Interval> = busy.iter().filter(|b| b.1).map(|b| b.0).collect();
        let external: Vec<Interval> = busy.iter().filter(|b| !b.1).map(|b| b.0).collect();
        let _ = check_booking(&schedule, &policy, &appointments, &external, requested, now);
        if let Some(slot) = slots.first() {
            let requested = Interval::new(slot.start, slot.end).expect("a slot is not empty");
            let _ = check_booking(&schedule, &policy, &appointments, &external, requested, now);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases: the transitions, the reference against the contract, DST by hand, engine bugs
// ---------------------------------------------------------------------------------------------

fn at(s: &str) -> i128 {
    utc(s).as_nanosecond()
}

fn hm(s: &str) -> u16 {
    s.parse::<LocalTime>().expect("HH:MM").minutes()
}

/// A case without busy time, buffers or notice; now = 2025-06-01, horizon 730 days.
fn fixed_case(
    zone: &'static str,
    rules: &[(u8, &str, &str, bool)],
    duration: u32,
    interval: u32,
    from: &str,
    to: &str,
) -> Case {
    Case {
        zone,
        rules: rules
            .iter()
            .map(|&(day, start, end, available)| RawRule {
                day,
                start: hm(start),
                end: hm(end),
                available,
            })
            .collect(),
        overrides: Vec::new(),
        busy: Vec::new(),
        policy: RawPolicy {
            duration,
            interval,
            buffer_before: 0,
            buffer_after: 0,
            notice: 0,
            horizon: 730,
        },
        duration_override: None,
        from: at(from),
        to: at(to),
        now: at("2025-06-01T00:00:00Z"),
    }
}

/// The engine's slot starts of a fixed case, after checking that the reference gives the same and
/// that every one of them can be booked.
fn checked_starts(case: &Case) -> Vec<String> {
    let slots = case.engine();
    let engine = show(&starts_ns(&slots));
    assert_eq!(
        engine,
        reference_starts(case),
        "engine (left) and reference (right) differ for {case:?}"
    );
    for slot in &slots {
        let requested = Interval::new(slot.start, slot.end).expect("a slot is not empty");
        let got = check_booking(
            &case.schedule(),
            &case.booking_policy(),
            &[],
            &case.busy_intervals(),
            requested,
            ts(case.now),
        );
        assert_eq!(got, Ok(()), "slot {} is shown but cannot be booked", slot.start);
    }
    engine
}

const NONE: [&str; 0] = [];

#[test]
fn transition_dates_are_as_hard_coded() {
    // UTC instants of every transition in 2026 and 2027, as read off the tzdb (jiff's bundle).
    let expected: [(&str, &[&str]); 6] = [
        (
            "Europe/Berlin",
            &[
                "2026-03-29T01:00:00Z",
                "2026-10-25T01:00:00Z",
                "2027-03-28T01:00:00Z",
                "2027-10-31T01:00:00Z",
            ],
        ),
        (
            "America/New_York",
            &[
                "2026-03-08T07:00:00Z",
                "2026-11-01T06:00:00Z",
                "2027-03-14T07:00:00Z",
                "2027-11-07T06:00:00Z",
            ],
        ),
        (
            "Australia/Sydney",
            &[
                "2026-04-04T16:00:00Z",
                "2026-10-03T16:00:00Z",
                "2027-04-03T16:00:00Z",
                "2027-10-02T16:00:00Z",
            ],
        ),
        (
            "Australia/Lord_Howe",
            &[
                "2026-04-04T15:00:00Z",
                "2026-10-03T15:30:00Z",
                "2027-04-03T15:00:00Z",
                "2027-10-02T15:30:00Z",
            ],
        ),
        ("Asia/Kolkata", &[]),
        ("UTC", &[]),
    ];
    let (start, end) = (utc("2026-01-01T00:00:00Z"), utc("2028-01-01T00:00:00Z"));
    for (zone, instants) in expected {
        let tz = TimeZone::get(zone).expect("a bundled zone");
        let got: Vec<Timestamp> = tz
            .following(start)
            .map(|t| t.timestamp())
            .take_while(|&t| t < end)
            .collect();
        let got_text: Vec<String> = got.iter().map(|t| t.to_string()).collect();
        assert_eq!(got_text, instants, "{zone}");
        // The local dates the random cases are biased to are the dates of these transitions.
        let dates: Vec<i64> = got.iter().map(|&t| epoch_day_of(tz.to_datetime(t).date())).collect();
        if !dates.is_empty() {
            assert_eq!(dates, dst_days(zone), "{zone}");
        }
    }
    // The offsets on either side, as the hand computations below use them.
    let offset = |zone: &str, t: &str| TimeZone::get(zone).expect("zone").to_offset(utc(t)).seconds() / 60;
    assert_eq!(offset("Australia/Lord_Howe", "2026-04-04T14:59:00Z"), 11 * 60);
    assert_eq!(offset("Australia/Lord_Howe", "2026-04-04T15:00:00Z"), 10 * 60 + 30);
    assert_eq!(offset("Australia/Lord_Howe", "2026-10-03T15:29:00Z"), 10 * 60 + 30);
    assert_eq!(offset("Australia/Lord_Howe", "2026-10-03T15:30:00Z"), 11 * 60);
    assert_eq!(offset("Asia/Kolkata", "2026-06-01T00:00:00Z"), 5 * 60 + 30);
}

fn epoch_day_of(date: Date) -> i64 {
    days_from_civil(i64::from(date.year()), i64::from(date.month()), i64::from(date.day()))
}

#[test]
fn reference_rule_2_agrees_with_jiff_compatible_on_transition_days() {
    for zone in ZONES {
        let tz = TimeZone::get(zone).expect("a bundled zone");
        for day in dst_days(zone) {
            for minute in 0..=DAY_MIN {
                let (date, m) = if minute == DAY_MIN {
                    (jiff_date(day + 1), 0)
                } else {
                    (jiff_date(day), minute)
                };
                let dt = date.at((m / 60) as i8, (m % 60) as i8, 0, 0);
                let jiff = tz
                    .to_ambiguous_timestamp(dt)
                    .compatible()
                    .expect("in range")
                    .as_second()
                    / 60;
                assert_eq!(local_to_utc(&tz, day * DAY_MIN + minute), jiff, "{zone} {dt}");
            }
        }
    }
    // The contract's own example: 02:30 on the Berlin spring-forward day is 03:30 CEST = 01:30Z.
    let berlin = TimeZone::get("Europe/Berlin").expect("zone");
    let local = days_from_civil(2026, 3, 29) * DAY_MIN + 150;
    assert_eq!(
        i128::from(local_to_utc(&berlin, local)) * MIN_NS,
        at("2026-03-29T01:30:00Z")
    );
}

#[test]
fn reference_reproduces_the_contract_examples() {
    const B: &str = "Europe/Berlin";
    let monday = fixed_case(
        B,
        &[(1, "09:00", "12:00", true)],
        30,
        30,
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
    );
    assert_eq!(
        reference_starts(&monday),
        [
            "2026-03-02T08:00:00Z",
            "2026-03-02T08:30:00Z",
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:30:00Z",
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:30:00Z"
        ]
    );
    let booked = Case {
        busy: vec![(at("2026-03-02T09:00:00Z"), at("2026-03-02T09:30:00Z"), true)],
        ..monday.clone()
    };
    assert_eq!(reference_starts(&booked).len(), 5);
    let buffered = Case {
        policy: RawPolicy {
            buffer_before: 15,
            buffer_after: 15,
            ..booked.policy
        },
        ..booked.clone()
    };
    assert_eq!(
        reference_starts(&buffered),
        ["2026-03-02T08:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"]
    );
    let spring = ("2026-03-28T12:00:00Z", "2026-03-30T00:00:00Z");
    let fall = ("2026-10-24T12:00:00Z", "2026-10-26T00:00:00Z");
    assert_eq!(
        reference_starts(&fixed_case(
            B,
            &[(0, "01:00", "04:00", true)],
            30,
            30,
            spring.0,
            spring.1
        )),
        [
            "2026-03-29T00:00:00Z",
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z"
        ]
    );
    let fall_back = reference_starts(&fixed_case(B, &[(0, "01:00", "04:00", true)], 30, 30, fall.0, fall.1));
    assert_eq!(fall_back.len(), 8);
    assert_eq!(fall_back[0], "2026-10-24T23:00:00Z");
    assert_eq!(fall_back[7], "2026-10-25T02:30:00Z");
    let merged = fixed_case(
        B,
        &[(1, "09:00", "10:00", true), (1, "09:30", "10:30", true)],
        30,
        30,
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
    );
    assert_eq!(
        reference_starts(&merged),
        ["2026-03-02T08:00:00Z", "2026-03-02T08:30:00Z", "2026-03-02T09:00:00Z"]
    );
    let lunch = fixed_case(
        B,
        &[(1, "09:00", "17:00", true), (1, "12:00", "13:00", false)],
        30,
        30,
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
    );
    let lunch = reference_starts(&lunch);
    assert_eq!(lunch.len(), 14);
    assert!(!lunch
        .iter()
        .any(|s| s.as_str() >= "2026-03-02T10:31:00Z" && s.as_str() < "2026-03-02T12:00:00Z"));
    let overnight = fixed_case(
        B,
        &[(1, "22:00", "24:00", true), (2, "00:00", "02:00", true)],
        60,
        45,
        "2026-01-12T00:00:00Z",
        "2026-01-14T00:00:00Z",
    );
    assert_eq!(
        reference_starts(&overnight),
        [
            "2026-01-12T21:00:00Z",
            "2026-01-12T21:45:00Z",
            "2026-01-12T22:30:00Z",
            "2026-01-12T23:15:00Z",
            "2026-01-13T00:00:00Z"
        ]
    );
    let touching = fixed_case(
        B,
        &[(0, "01:00", "02:00", true), (0, "03:00", "04:00", true)],
        60,
        60,
        spring.0,
        spring.1,
    );
    assert_eq!(
        reference_starts(&touching),
        ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"]
    );
    let cut_in_gap = fixed_case(
        B,
        &[(0, "01:00", "02:30", true), (0, "03:00", "03:30", false)],
        30,
        30,
        spring.0,
        spring.1,
    );
    assert_eq!(
        reference_starts(&cut_in_gap),
        ["2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z"]
    );
}

#[test]
fn dst_europe_berlin_2026() {
    // CET = UTC+1, CEST = UTC+2. Spring forward on Sunday 2026-03-29 at 01:00Z (02:00 CET becomes
    // 03:00 CEST; 02:00-02:59 do not exist). Fall back on Sunday 2026-10-25 at 01:00Z (03:00 CEST
    // becomes 02:00 CET; 02:00-02:59 happen twice).
    const Z: &str = "Europe/Berlin";
    let spring = ("2026-03-28T12:00:00Z", "2026-03-30T00:00:00Z");
    let fall = ("2026-10-24T12:00:00Z", "2026-10-26T00:00:00Z");
    // 02:30 is in the gap: at +01 it is 01:30Z; 04:00 CEST = 02:00Z: 30 real minutes.
    let c = fixed_case(Z, &[(0, "02:30", "04:00", true)], 30, 30, spring.0, spring.1);
    assert_eq!(checked_starts(&c), ["2026-03-29T01:30:00Z"]);
    // 02:00-03:00 is the gap itself: 02:00 at +01 = 01:00Z = 03:00 CEST: an empty window, dropped.
    let c = fixed_case(Z, &[(0, "02:00", "03:00", true)], 5, 5, spring.0, spring.1);
    assert_eq!(checked_starts(&c), NONE);
    // Across the fall back: 01:00 CEST = 23:00Z (Saturday), 04:00 CET = 03:00Z: four real hours.
    let c = fixed_case(Z, &[(0, "01:00", "04:00", true)], 60, 60, fall.0, fall.1);
    assert_eq!(
        checked_starts(&c),
        [
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z"
        ]
    );
    // 02:00-03:00 on the fall-back day: 02:00 is the first (CEST) 02:00 = 00:00Z; 03:00 CET = 02:00Z.
    let c = fixed_case(Z, &[(0, "02:00", "03:00", true)], 60, 60, fall.0, fall.1);
    assert_eq!(checked_starts(&c), ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"]);
    // A cut in the repeated hour cuts its first occurrence only: available 00:00-06:00 (22:00Z Saturday
    // to 05:00Z), unavailable 02:00-02:30 (00:00Z-00:30Z).
    let c = fixed_case(
        Z,
        &[(0, "00:00", "06:00", true), (0, "02:00", "02:30", false)],
        60,
        60,
        fall.0,
        fall.1,
    );
    assert_eq!(
        checked_starts(&c),
        [
            "2026-10-24T22:00:00Z",
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:30:00Z",
            "2026-10-25T02:30:00Z",
            "2026-10-25T03:30:00Z"
        ]
    );
}

#[test]
fn dst_america_new_york_2026() {
    // EST = UTC-5, EDT = UTC-4. Spring forward on Sunday 2026-03-08 at 07:00Z (02:00 EST becomes
    // 03:00 EDT). Fall back on Sunday 2026-11-01 at 06:00Z (02:00 EDT becomes 01:00 EST; 01:00-01:59
    // happen twice).
    const Z: &str = "America/New_York";
    let spring = ("2026-03-07T12:00:00Z", "2026-03-09T12:00:00Z");
    let fall = ("2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z");
    // 01:00 EST = 06:00Z, 04:00 EDT = 08:00Z: two real hours.
    let c = fixed_case(Z, &[(0, "01:00", "04:00", true)], 60, 60, spring.0, spring.1);
    assert_eq!(checked_starts(&c), ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"]);
    // 02:30 is in the gap: at -05 it is 07:30Z; 05:00 EDT = 09:00Z.
    let c = fixed_case(Z, &[(0, "02:30", "05:00", true)], 30, 30, spring.0, spring.1);
    assert_eq!(
        checked_starts(&c),
        ["2026-03-08T07:30:00Z", "2026-03-08T08:00:00Z", "2026-03-08T08:30:00Z"]
    );
    // 02:30-03:30: 07:30Z to 03:30 EDT = 07:30Z: empty, dropped.
    let c = fixed_case(Z, &[(0, "02:30", "03:30", true)], 5, 5, spring.0, spring.1);
    assert_eq!(checked_starts(&c), NONE);
    // 00:00 EDT = 04:00Z, 03:00 EST = 08:00Z: four real hours.
    let c = fixed_case(Z, &[(0, "00:00", "03:00", true)], 60, 60, fall.0, fall.1);
    assert_eq!(
        checked_starts(&c),
        [
            "2026-11-01T04:00:00Z",
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z"
        ]
    );
    // 01:00-01:30 happens twice; the first (EDT) one: 05:00Z-05:30Z.
    let c = fixed_case(Z, &[(0, "01:00", "01:30", true)], 30, 30, fall.0, fall.1);
    assert_eq!(checked_starts(&c), ["2026-11-01T05:00:00Z"]);
    // Overnight into the fall back: Saturday 23:00 EDT = 03:00Z to Sunday 01:30 (first, EDT) = 05:30Z,
    // one window; 45-minute slots every 45 minutes from 03:00Z.
    let c = fixed_case(
        Z,
        &[(6, "23:00", "24:00", true), (0, "00:00", "01:30", true)],
        45,
        45,
        fall.0,
        fall.1,
    );
    assert_eq!(
        checked_starts(&c),
        ["2026-11-01T03:00:00Z", "2026-11-01T03:45:00Z", "2026-11-01T04:30:00Z"]
    );
}

#[test]
fn dst_australia_sydney_2026() {
    // AEST = UTC+10, AEDT = UTC+11. Fall back on Sunday 2026-04-05 at 2026-04-04T16:00Z (03:00 AEDT
    // becomes 02:00 AEST; 02:00-02:59 happen twice). Spring forward on Sunday 2026-10-04 at
    // 2026-10-03T16:00Z (02:00 AEST becomes 03:00 AEDT).
    const Z: &str = "Australia/Sydney";
    let fall = ("2026-04-04T00:00:00Z", "2026-04-05T12:00:00Z");
    let spring = ("2026-10-03T00:00:00Z", "2026-10-04T12:00:00Z");
    // 01:00 AEDT = 14:00Z, 04:00 AEST = 18:00Z: four real hours.
    let c = fixed_case(Z, &[(0, "01:00", "04:00", true)], 60, 60, fall.0, fall.1);
    assert_eq!(
        checked_starts(&c),
        [
            "2026-04-04T14:00:00Z",
            "2026-04-04T15:00:00Z",
            "2026-04-04T16:00:00Z",
            "2026-04-04T17:00:00Z"
        ]
    );
    // 02:00 (first, AEDT) = 15:00Z; 03:00 exists once (AEST) = 17:00Z: two real hours.
    let c = fixed_case(Z, &[(0, "02:00", "03:00", true)], 60, 60, fall.0, fall.1);
    assert_eq!(checked_starts(&c), ["2026-04-04T15:00:00Z", "2026-04-04T16:00:00Z"]);
    // 01:00 AEST = 15:00Z, 04:00 AEDT = 17:00Z: two real hours.
    let c = fixed_case(Z, &[(0, "01:00", "04:00", true)], 60, 60, spring.0, spring.1);
    assert_eq!(checked_starts(&c), ["2026-10-03T15:00:00Z", "2026-10-03T16:00:00Z"]);
    // 02:15 is in the gap: at +10 it is 16:15Z; 04:00 AEDT = 17:00Z: 45 real minutes.
    let c = fixed_case(Z, &[(0, "02:15", "04:00", true)], 30, 30, spring.0, spring.1);
    assert_eq!(checked_starts(&c), ["2026-10-03T16:15:00Z"]);
    // 02:15-03:15: 16:15Z to 03:15 AEDT = 16:15Z: empty, dropped.
    let c = fixed_case(Z, &[(0, "02:15", "03:15", true)], 5, 5, spring.0, spring.1);
    assert_eq!(checked_starts(&c), NONE);
}

#[test]
fn dst_australia_lord_howe_2026() {
    // LHST = UTC+10:30, LHDT = UTC+11: a 30-minute shift. Fall back on Sunday 2026-04-05 at
    // 2026-04-04T15:00Z (02:00 LHDT becomes 01:30 LHST; 01:30-01:59 happen twice). Spring forward on
    // Sunday 2026-10-04 at 2026-10-03T15:30Z (02:00 LHST becomes 02:30 LHDT; 02:00-02:29 do not exist).
    const Z: &str = "Australia/Lord_Howe";
    let fall = ("2026-04-04T00:00:00Z", "2026-04-05T12:00:00Z");
    let spring = ("2026-10-03T00:00:00Z", "2026-10-04T12:00:00Z");
    // 01:00 LHDT = 14:00Z, 03:00 LHST = 16:30Z: two and a half real hours.
    let c = fixed_case(Z, &[(0, "01:00", "03:00", true)], 30, 30, fall.0, fall.1);
    assert_eq!(
        checked_starts(&c),
        [
            "2026-04-04T14:00:00Z",
            "2026-04-04T14:30:00Z",
            "2026-04-04T15:00:00Z",
            "2026-04-04T15:30:00Z",
            "2026-04-04T16:00:00Z"
        ]
    );
    // 01:30 (first, LHDT) = 14:30Z; 02:00 exists once (LHST) = 15:30Z: one real hour.
    let c = fixed_case(Z, &[(0, "01:30", "02:00", true)], 30, 30, fall.0, fall.1);
    assert_eq!(checked_starts(&c), ["2026-04-04T14:30:00Z", "2026-04-04T15:00:00Z"]);
    // 01:00 LHST = 14:30Z, 04:00 LHDT = 17:00Z: two and a half real hours.
    let c = fixed_case(Z, &[(0, "01:00", "04:00", true)], 30, 30, spring.0, spring.1);
    assert_eq!(
        checked_starts(&c),
        [
            "2026-10-03T14:30:00Z",
            "2026-10-03T15:00:00Z",
            "2026-10-03T15:30:00Z",
            "2026-10-03T16:00:00Z",
            "2026-10-03T16:30:00Z"
        ]
    );
    // 02:10 is in the gap: at +10:30 it is 15:40Z; 03:00 LHDT = 16:00Z: 20 real minutes.
    let c = fixed_case(Z, &[(0, "02:10", "03:00", true)], 20, 20, spring.0, spring.1);
    assert_eq!(checked_starts(&c), ["2026-10-03T15:40:00Z"]);
    // 02:10-02:30: 15:40Z to 02:30 LHDT = 15:30Z: ends before it starts, dropped.
    let c = fixed_case(Z, &[(0, "02:10", "02:30", true)], 5, 5, spring.0, spring.1);
    assert_eq!(checked_starts(&c), NONE);
    // 01:00-02:00 and 02:30-03:30 touch in real time (02:00 = 15:30Z = 02:30 LHDT): one window
    // 14:30Z-16:30Z, so 45-minute slots at 14:30Z and 15:15Z (not 15:30Z).
    let c = fixed_case(
        Z,
        &[(0, "01:00", "02:00", true), (0, "02:30", "03:30", true)],
        45,
        45,
        spring.0,
        spring.1,
    );
    assert_eq!(checked_starts(&c), ["2026-10-03T14:30:00Z", "2026-10-03T15:15:00Z"]);
}

#[test]
fn dst_asia_kolkata_2026_has_no_transition() {
    // IST = UTC+5:30 all year (no transition in 2026/2027, see transition_dates_are_as_hard_coded).
    const Z: &str = "Asia/Kolkata";
    // Sunday 01:00-04:00 on 2026-03-29 and 2026-04-05 (transition days elsewhere): 19:30Z-22:30Z of
    // the Saturday, both weeks alike.
    let c = fixed_case(
        Z,
        &[(0, "01:00", "04:00", true)],
        60,
        60,
        "2026-03-28T00:00:00Z",
        "2026-04-06T00:00:00Z",
    );
    assert_eq!(
        checked_starts(&c),
        [
            "2026-03-28T19:30:00Z",
            "2026-03-28T20:30:00Z",
            "2026-03-28T21:30:00Z",
            "2026-04-04T19:30:00Z",
            "2026-04-04T20:30:00Z",
            "2026-04-04T21:30:00Z"
        ]
    );
    // Saturday 23:00-24:00 plus Sunday 00:00-01:00 on 2026-10-24/25: one window 17:30Z-19:30Z;
    // 45-minute slots at 17:30Z and 18:15Z (two separate windows would give 17:30Z and 18:30Z).
    let c = fixed_case(
        Z,
        &[(6, "23:00", "24:00", true), (0, "00:00", "01:00", true)],
        45,
        45,
        "2026-10-24T00:00:00Z",
        "2026-10-26T00:00:00Z",
    );
    assert_eq!(checked_starts(&c), ["2026-10-24T17:30:00Z", "2026-10-24T18:15:00Z"]);
}

#[test]
fn an_absurd_duration_asked_gives_no_slots() {
    let all_day: Vec<(u8, &str, &str, bool)> = (0..7).map(|d| (d, "00:00", "24:00", true)).collect();
    let base = fixed_case("UTC", &all_day, 30, 30, "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z");
    for asked in [0, u32::MAX] {
        let c = Case {
            duration_override: Some(asked),
            ..base.clone()
        };
        assert_eq!(c.engine(), Vec::<Slot>::new(), "duration asked: {asked}");
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: engine bugs the properties found (fixed in 8ad8149), pinned as minimal cases
// ---------------------------------------------------------------------------------------------

/// Found by `round_the_clock_shown_slots_can_be_booked` and `slots_do_not_depend_on_the_query_window`.
/// Round-the-clock availability is one window without a start; the engine anchored its grid at its
/// look-back cap, 366 days before the local date of the query's first candidate, so the grid moved
/// with the query whenever a day is not a whole number of intervals (or a DST shift is not): a
/// shown slot could not be booked (the booking check queries from the slot itself), and two
/// overlapping queries showed different slots.
#[test]
fn fixed_round_the_clock_display_and_booking_disagree() {
    let all_day: Vec<(u8, &str, &str, bool)> = (0..7).map(|d| (d, "00:00", "24:00", true)).collect();
    let case = fixed_case("UTC", &all_day, 25, 25, "2026-01-01T23:00:00Z", "2026-01-02T01:00:00Z");
    let shown = case.engine();
    assert!(!shown.is_empty());
    let refused: Vec<String> = shown
        .iter()
        .filter(|s| {
            let requested = Interval::new(s.start, s.end).expect("a slot is not empty");
            check_booking(
                &case.schedule(),
                &case.booking_policy(),
                &[],
                &[],
                requested,
                ts(case.now),
            )
            .is_err()
        })
        .map(|s| s.start.to_string())
        .collect();
    let later = Case {
        from: at("2026-01-02T00:00:00Z"),
        ..case.clone()
    };
    let whole: Vec<String> = show(&starts_ns(&shown))
        .into_iter()
        .filter(|s| s.as_str() >= "2026-01-02T00:00:00Z")
        .collect();
    let part = show(&starts_ns(&later.engine()));
    assert!(
        refused.is_empty() && whole == part,
        "[23:00Z, 01:00Z) shows {:?};\nbooking refuses {refused:?};\n[00:00Z, 01:00Z) shows {part:?}, not {whole:?}",
        show(&starts_ns(&shown))
    );
}

/// Found by `sub_second_instants_are_compared_exactly`. The engine truncated `from`, `to` and `now`
/// to whole seconds (`Timestamp::as_second`), so with a fraction of a second a slot before `from`
/// or before `now` (already begun) was shown and bookable, and a slot before `to` or before
/// now + horizon was missing (rule 4).
#[test]
fn fixed_sub_second_bounds_are_truncated() {
    // UTC, Thursday 2026-01-01 09:00-10:00, 30-minute slots: 09:00Z and 09:30Z.
    let base = fixed_case(
        "UTC",
        &[(4, "09:00", "10:00", true)],
        30,
        30,
        "2026-01-01T08:00:00Z",
        "2026-01-01T11:00:00Z",
    );
    assert_eq!(checked_starts(&base), ["2026-01-01T09:00:00Z", "2026-01-01T09:30:00Z"]);
    let check = |what: &str, case: Case, expected: &[&str]| {
        let got = show(&starts_ns(&case.engine()));
        (got != expected).then(|| format!("{what}: shows {got:?}, should show {expected:?}"))
    };
    let mut wrong: Vec<String> = [
        check(
            "from = 09:00:00.5Z (09:00Z is before from)",
            Case {
                from: at("2026-01-01T09:00:00.5Z"),
                ..base.clone()
            },
            &["2026-01-01T09:30:00Z"],
        ),
        check(
            "to = 09:00:00.5Z (09:00Z is before to)",
            Case {
                to: at("2026-01-01T09:00:00.5Z"),
                ..base.clone()
            },
            &["2026-01-01T09:00:00Z"],
        ),
        check(
            "now = 09:00:00.5Z, no notice (09:00Z has begun)",
            Case {
                now: at("2026-01-01T09:00:00.5Z"),
                ..base.clone()
            },
            &["2026-01-01T09:30:00Z"],
        ),
        check(
            "now = 2025-12-31T09:00:00.5Z, horizon 1 day (09:00Z is before now + 24 h)",
            Case {
                now: at("2025-12-31T09:00:00.5Z"),
                policy: RawPolicy {
                    horizon: 1,
                    ..base.policy
                },
                ..base.clone()
            },
            &["2026-01-01T09:00:00Z"],
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let requested = interval_ns(at("2026-01-01T09:00:00Z"), at("2026-01-01T09:30:00Z"));
    let begun = check_booking(
        &base.schedule(),
        &base.booking_policy(),
        &[],
        &[],
        requested,
        utc("2026-01-01T09:00:00.5Z"),
    );
    if begun.is_ok() {
        wrong.push("booking 09:00Z-09:30Z at now = 09:00:00.5Z is accepted".to_owned());
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Found by `a_booking_must_be_exactly_a_slot`. `check_booking` measured the requested length with
/// `Interval::seconds` (whole seconds, truncated) and checked only the start for a fraction, so
/// [09:00Z, 09:30:00.5Z) was accepted as the 09:00Z slot - even when calendar busy time starts at
/// 09:30:00.2Z, inside the requested interval (rules 4 and 7).
#[test]
fn fixed_booking_end_with_a_fraction_of_a_second_is_accepted() {
    let case = fixed_case(
        "UTC",
        &[(4, "09:00", "10:00", true)],
        30,
        30,
        "2026-01-01T08:00:00Z",
        "2026-01-01T11:00:00Z",
    );
    let requested = interval_ns(at("2026-01-01T09:00:00Z"), at("2026-01-01T09:30:00.5Z"));
    let now = ts(case.now);
    let plain = check_booking(&case.schedule(), &case.booking_policy(), &[], &[], requested, now);
    let busy = [interval_ns(at("2026-01-01T09:30:00.2Z"), at("2026-01-01T09:40:00Z"))];
    let over_busy = check_booking(&case.schedule(), &case.booking_policy(), &[], &busy, requested, now);
    assert!(
        matches!(plain, Err(BookingRefusal::SlotUnavailable(_)))
            && matches!(over_busy, Err(BookingRefusal::SlotUnavailable(_))),
        "[09:00Z, 09:30:00.5Z) is not a slot: got {plain:?}; with busy time from 09:30:00.2Z: got {over_busy:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 10: schedules with periods, limits, holds, explanations, series
// ---------------------------------------------------------------------------------------------

#[path = "engine_properties/rule_10.rs"]
mod rule_10;

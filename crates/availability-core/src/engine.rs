//! The slot engine: a pure function from (schedule, policy, busy time, query, now) to the bookable
//! slots, exactly as `slot-semantics.md` defines them. Slot display and booking validation both
//! call it, so a slot that is shown can be booked and a time that is not shown cannot.
//!
//! Internally every instant is an `i64` of Unix seconds: the rules have minute precision and the
//! zone offsets whole seconds, so nothing is lost, and the arithmetic is cheap.
//!
//! Cost: O((rules + overrides + busy) log(rules + overrides + busy) + slots) per call. Rules are
//! bucketed by weekday once, busy intervals are turned into forbidden start ranges and sorted once,
//! and the candidate grid jumps over a forbidden range in one step instead of walking through it.

use std::collections::HashMap;

use availability_domain::jiff::civil::{Date, DateTime, Time};
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{BookingPolicy, Interval, LocalTime, Schedule, Slot, TimeWindow, WeeklyRule, Zone};

const MINUTE: i64 = 60;
const DAY: i64 = 24 * 60 * MINUTE;
/// How far back the engine looks for the start of a window that runs through the query's start
/// (the grid is anchored at the merged window's start).
const MAX_LOOKBACK_DAYS: i64 = 366;
/// How long a window's own grid lasts. Availability without a break for longer than this (round
/// the clock for a year) continues on a grid anchored at the Unix epoch. The rule depends only on
/// the window's start and the candidate, never on the query, and the look-back above always
/// reaches a start that is closer than this, so display and booking agree.
const OWN_GRID_SECONDS: i64 = 365 * DAY;

/// What is asked: slots starting in `window`, as seen at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotQuery {
    /// Slots start in [from, to).
    pub window: Interval,
    /// The current instant (minimum notice and horizon count from it).
    pub now: Timestamp,
    /// Replaces the policy's slot duration (the interval stays the policy's); None = the policy's.
    pub duration_minutes: Option<u32>,
}

/// Why a requested time cannot be booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingRefusal {
    /// It overlaps a confirmed appointment of the expert.
    #[error("the time overlaps another confirmed appointment of this expert")]
    SlotTaken,
    /// It is not a slot, for the reason given.
    #[error("the time is not a bookable slot: {0}")]
    SlotUnavailable(&'static str),
}

/// Computes the bookable slots. Never panics; an empty schedule or a window outside the horizon
/// gives no slots.
pub fn available_slots<'a>(
    schedule: &Schedule,
    policy: &BookingPolicy,
    busy: impl IntoIterator<Item = &'a Interval>,
    query: &SlotQuery,
) -> Vec<Slot> {
    let duration = i64::from(query.duration_minutes.unwrap_or(policy.slot_duration_minutes())) * MINUTE;
    let step = i64::from(policy.slot_interval_minutes()) * MINUTE;
    if duration <= 0 || step <= 0 {
        return Vec::new();
    }
    // Candidate starts are whole seconds, so s >= x is s >= ceil(x) and s < x is s < ceil(x).
    let now = query.now;
    let notice = SignedDuration::from_mins(i64::from(policy.minimum_notice_minutes()));
    let horizon = SignedDuration::from_hours(24 * i64::from(policy.booking_horizon_days()));
    let (Ok(earliest), Ok(latest)) = (now.checked_add(notice), now.checked_add(horizon)) else {
        return Vec::new();
    };
    // Candidate starts must lie in [lo, hi).
    let lo = ceil_second(query.window.start()).max(ceil_second(earliest));
    let hi = ceil_second(query.window.end()).min(ceil_second(latest));
    if lo >= hi {
        return Vec::new();
    }
    let windows = availability_windows(schedule, lo, hi + duration);
    let forbidden = forbidden_starts(
        busy,
        duration,
        i64::from(policy.buffer_before_minutes()) * MINUTE,
        i64::from(policy.buffer_after_minutes()) * MINUTE,
        lo,
        hi,
    );
    grid_slots(&windows, &forbidden, duration, step, lo, hi)
}

/// Checks one requested booking with the same engine: accepted exactly when its start is a slot for
/// its length. `appointments` are the expert's confirmed appointments (without the one being
/// rescheduled); `external_busy` is the busy time of the expert's calendar.
pub fn check_booking(
    schedule: &Schedule,
    policy: &BookingPolicy,
    appointments: &[Interval],
    external_busy: &[Interval],
    requested: Interval,
    now: Timestamp,
) -> Result<(), BookingRefusal> {
    if appointments.iter().any(|a| a.overlaps(&requested)) {
        return Err(BookingRefusal::SlotTaken);
    }
    let whole = |t: Timestamp| t.subsec_nanosecond() == 0;
    if !whole(requested.start()) || !whole(requested.end()) {
        return Err(BookingRefusal::SlotUnavailable(
            "the start and end must be on whole seconds",
        ));
    }
    let seconds = requested.seconds();
    if seconds % MINUTE != 0 || BookingPolicy::check_duration(seconds / MINUTE).is_err() {
        return Err(BookingRefusal::SlotUnavailable(
            "the length must be whole minutes, 5 to 1440",
        ));
    }
    let start = requested.start().as_second();
    let duration_minutes = Some((seconds / MINUTE) as u32);
    let probe = |busy: &[&Interval]| {
        let Some(window) = requested
            .start()
            .checked_add(SignedDuration::from_secs(1))
            .ok()
            .and_then(|end| Interval::new(requested.start(), end).ok())
        else {
            return false;
        };
        let query = SlotQuery {
            window,
            now,
            duration_minutes,
        };
        available_slots(schedule, policy, busy.iter().copied(), &query)
            .first()
            .is_some_and(|s| s.start.as_second() == start)
    };
    let all_busy: Vec<&Interval> = appointments.iter().chain(external_busy).collect();
    if probe(&all_busy) {
        return Ok(());
    }
    // Not a slot: say why, for a person.
    let now_s = ceil_second(now);
    if start < now_s + i64::from(policy.minimum_notice_minutes()) * MINUTE {
        return Err(BookingRefusal::SlotUnavailable(
            "it starts too soon (minimum notice, or in the past)",
        ));
    }
    if start >= now_s + i64::from(policy.booking_horizon_days()) * DAY {
        return Err(BookingRefusal::SlotUnavailable("it is beyond the booking horizon"));
    }
    if probe(&[]) {
        return Err(BookingRefusal::SlotUnavailable("it or its buffers overlap busy time"));
    }
    Err(BookingRefusal::SlotUnavailable(
        "it is outside the expert's hours or off the slot grid",
    ))
}

/// A half-open range of Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    start: i64,
    end: i64,
    /// A window that began before the engine's look-back (its grid is the epoch grid).
    start_unknown: bool,
}

impl Span {
    fn new(start: i64, end: i64) -> Self {
        Self {
            start,
            end,
            start_unknown: false,
        }
    }
}

/// The merged availability windows that matter for starts in [lo, until): every window that
/// overlaps [lo, until), with its true start (windows merge across midnight and dates, and the
/// grid is anchored at the merged start, so the engine looks back until it finds it).
fn availability_windows(schedule: &Schedule, lo: i64, until: i64) -> Vec<Span> {
    let zone = &schedule.zone;
    let (Some(first), Some(last)) = (local_date(zone, lo), local_date(zone, until)) else {
        return Vec::new();
    };
    let by_weekday = rules_by_weekday(&schedule.rules);
    let overrides: HashMap<Date, &[TimeWindow]> = schedule
        .overrides
        .iter()
        .map(|o| (o.date, o.windows.as_slice()))
        .collect();
    // One date past `until`'s date: a window of that date cannot start before `until`, so the
    // windows beyond only extend an end we no longer need.
    let last = last.tomorrow().unwrap_or(last);
    let mut back = 1;
    loop {
        let Ok(from) = first.checked_sub(availability_domain::jiff::Span::new().days(back)) else {
            return Vec::new();
        };
        let windows = windows_for_dates(zone, &by_weekday, &overrides, from, last);
        let range_start = local_instant(zone, from, LocalTime::MIDNIGHT);
        // Only the window that reaches `lo` needs its true start.
        let reaching = windows.iter().position(|w| w.end > lo);
        let open_ended = match (reaching, range_start) {
            (Some(i), Some(rs)) => windows[i].start <= rs,
            _ => false,
        };
        if !open_ended {
            return windows;
        }
        if back >= MAX_LOOKBACK_DAYS {
            let mut windows = windows;
            if let Some(i) = reaching {
                // It began further back than we look: more than OWN_GRID_SECONDS before any
                // candidate, so only the epoch grid applies to it.
                windows[i].start_unknown = true;
            }
            return windows;
        }
        back = (back * 2).min(MAX_LOOKBACK_DAYS);
    }
}

fn rules_by_weekday(rules: &[WeeklyRule]) -> [Vec<WeeklyRule>; 7] {
    let mut by_day: [Vec<WeeklyRule>; 7] = Default::default();
    for r in rules {
        by_day[usize::from(r.day_of_week.number())].push(*r);
    }
    by_day
}

/// Rule 1 of slot-semantics.md over the dates [from, to]: available windows merged, minus
/// unavailable windows, all on instants.
fn windows_for_dates(
    zone: &Zone,
    by_weekday: &[Vec<WeeklyRule>; 7],
    overrides: &HashMap<Date, &[TimeWindow]>,
    from: Date,
    to: Date,
) -> Vec<Span> {
    let mut open = Vec::new();
    let mut cut = Vec::new();
    let mut date = from;
    while date <= to {
        let mut push = |start: LocalTime, end: LocalTime, available: bool| {
            if let (Some(s), Some(e)) = (local_instant(zone, date, start), local_instant(zone, date, end)) {
                // A window whose end instant is not after its start instant is dropped.
                if e > s {
                    if available { &mut open } else { &mut cut }.push(Span::new(s, e));
                }
            }
        };
        if let Some(windows) = overrides.get(&date) {
            for w in *windows {
                push(w.start_time, w.end_time, true);
            }
        } else {
            let weekday = usize::from(date.weekday().to_sunday_zero_offset() as u8);
            for r in &by_weekday[weekday] {
                push(r.start_time, r.end_time, r.is_available);
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    subtract(merge(open), &merge(cut))
}

/// Sorts and merges overlapping or touching spans.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_unstable();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    merged
}

/// `open` minus `cut`; both sorted and merged.
fn subtract(open: Vec<Span>, cut: &[Span]) -> Vec<Span> {
    if cut.is_empty() {
        return open;
    }
    let mut out = Vec::with_capacity(open.len());
    let mut c = 0;
    for mut w in open {
        while c < cut.len() && cut[c].end <= w.start {
            c += 1;
        }
        let mut k = c;
        while k < cut.len() && cut[k].start < w.end {
            if cut[k].start > w.start {
                out.push(Span::new(w.start, cut[k].start));
            }
            w.start = w.start.max(cut[k].end);
            k += 1;
        }
        if w.start < w.end {
            out.push(w);
        }
    }
    out
}

/// Each busy interval [bs, be) forbids the starts s with bs - duration - buffer_after < s <
/// be + buffer_before, i.e. [bs - duration - buffer_after + 1, be + buffer_before) in whole
/// seconds. Sub-second busy edges are widened outwards. Only ranges that meet [lo, hi) are kept.
fn forbidden_starts<'a>(
    busy: impl IntoIterator<Item = &'a Interval>,
    duration: i64,
    buffer_before: i64,
    buffer_after: i64,
    lo: i64,
    hi: i64,
) -> Vec<Span> {
    let spans = busy
        .into_iter()
        .map(|b| {
            let bs = floor_second(b.start());
            let be = ceil_second(b.end());
            Span::new(bs - duration - buffer_after + 1, be + buffer_before)
        })
        .filter(|f| f.start < f.end && f.end > lo && f.start < hi)
        .collect();
    merge(spans)
}

fn floor_second(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() < 0 {
        s - 1
    } else {
        s
    }
}

fn ceil_second(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() > 0 {
        s + 1
    } else {
        s
    }
}

/// Rules 3 and 4: the grid of each window, anchored at its start, minus forbidden starts.
fn grid_slots(windows: &[Span], forbidden: &[Span], duration: i64, step: i64, lo: i64, hi: i64) -> Vec<Slot> {
    let mut slots = Vec::new();
    let mut f = 0;
    for w in windows {
        if w.end - w.start < duration || w.end <= lo || w.start >= hi {
            continue;
        }
        // The window's own grid, anchored at its start; after a year without a break, the epoch grid.
        let switch = if w.start_unknown {
            w.start
        } else {
            w.start.saturating_add(OWN_GRID_SECONDS)
        };
        let own = (w.start, lo.max(w.start), switch.min(w.end));
        let epoch = (0, lo.max(switch), w.end);
        for (anchor, from, until) in [own, epoch] {
            // The first grid point at or after t (Euclidean division: t may precede the anchor).
            let grid_at_or_after = |t: i64| anchor + (t - anchor + step - 1).div_euclid(step) * step;
            let mut s = grid_at_or_after(from);
            while s < hi && s < until && s + duration <= w.end {
                while f < forbidden.len() && forbidden[f].end <= s {
                    f += 1;
                }
                if f < forbidden.len() && forbidden[f].start <= s {
                    s = grid_at_or_after(forbidden[f].end);
                    continue;
                }
                if let (Ok(start), Ok(end)) = (Timestamp::from_second(s), Timestamp::from_second(s + duration)) {
                    slots.push(Slot { start, end });
                }
                s += step;
            }
        }
    }
    slots
}

/// The local date of an instant in the zone.
fn local_date(zone: &Zone, second: i64) -> Option<Date> {
    let t = Timestamp::from_second(second).ok()?;
    Some(zone.tz().to_datetime(t).date())
}

/// Rule 2: a local wall-clock time of a date as an instant. A time in a spring-forward gap takes
/// the offset in force before the gap; a repeated time means its first occurrence (RFC 5545
/// 3.3.5, jiff's "compatible" disambiguation). "24:00" is the next date's midnight.
fn local_instant(zone: &Zone, date: Date, time: LocalTime) -> Option<i64> {
    let (date, minutes) = if time.is_end_of_day() {
        (date.tomorrow().ok()?, 0)
    } else {
        (date, time.minutes())
    };
    let clock = Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0).ok()?;
    let t = zone
        .tz()
        .to_ambiguous_timestamp(DateTime::from_parts(date, clock))
        .compatible()
        .ok()?;
    Some(t.as_second())
}

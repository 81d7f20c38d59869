//! Booking limits (rule 10): at most so many bookings per local day, week (Monday to Sunday) and
//! calendar month of the expert, and at most so many booked minutes per local day.
//!
//! Counting: every confirmed or pending appointment counts once, whole, on the local date (in the
//! expert's zone) of its start, also when it runs past midnight; the appointment being rescheduled
//! does not count. A candidate belongs to the local date of its start. A candidate is not a slot
//! when its day already has `max_bookings_per_day` bookings, its week `max_bookings_per_week`, its
//! month `max_bookings_per_month`, or when its own minutes would take its day past
//! `max_booked_minutes_per_day`.
//!
//! Local days come from the zone's offsets over the range at hand (a handful of transitions), not
//! from a time-zone look-up per appointment, so counting 1,000 appointments costs microseconds.

use std::fmt;

use availability_domain::jiff::Timestamp;
use availability_domain::{BookingPolicy, Interval, Zone};
use serde::Serialize;

use super::grid::{ceil_second, floor_second};
use super::windows::Span;
use super::DAY;

/// Which limit of the booking policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// `max_bookings_per_day`.
    BookingsPerDay,
    /// `max_bookings_per_week` (weeks start on Monday).
    BookingsPerWeek,
    /// `max_bookings_per_month`.
    BookingsPerMonth,
    /// `max_booked_minutes_per_day`.
    BookedMinutesPerDay,
}

impl Limit {
    /// The policy field that sets it, as the API spells it.
    pub fn field(self) -> &'static str {
        match self {
            Self::BookingsPerDay => "max_bookings_per_day",
            Self::BookingsPerWeek => "max_bookings_per_week",
            Self::BookingsPerMonth => "max_bookings_per_month",
            Self::BookedMinutesPerDay => "max_booked_minutes_per_day",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BookingsPerDay => "the expert's bookings for that day are full",
            Self::BookingsPerWeek => "the expert's bookings for that week are full",
            Self::BookingsPerMonth => "the expert's bookings for that month are full",
            Self::BookedMinutesPerDay => "the expert's booked time for that day is full",
        })
    }
}

/// Every limit, in the order explanations give them.
const LIMITS: [Limit; 4] = [
    Limit::BookingsPerDay,
    Limit::BookingsPerWeek,
    Limit::BookingsPerMonth,
    Limit::BookedMinutesPerDay,
];

/// A limit that a candidate runs into, with the numbers for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FullLimit {
    pub(super) limit: Limit,
    /// The policy's value (bookings, or minutes).
    pub(super) allowed: u32,
    /// Bookings, or booked minutes, already in that day, week or month.
    pub(super) booked: i64,
    /// The local days (numbers since 1970-01-01) the limit counts over, [first, end).
    pub(super) days: (i64, i64),
}

/// The expert's zone's UTC offsets over a range of instants: local days without a time-zone
/// look-up per instant. Exact inside the range it was made for.
pub(super) struct LocalDays {
    /// Where each offset begins; the first is i64::MIN.
    starts: Vec<i64>,
    offsets: Vec<i64>,
}

impl LocalDays {
    pub(super) fn new(zone: &Zone, lo: i64, hi: i64) -> Self {
        let mut starts = vec![i64::MIN];
        let mut offsets = vec![0];
        if let Ok(t) = Timestamp::from_second(lo) {
            let tz = zone.tz();
            offsets[0] = i64::from(tz.to_offset(t).seconds());
            for transition in tz.following(t) {
                let at = transition.timestamp().as_second();
                if at >= hi {
                    break;
                }
                starts.push(at);
                offsets.push(i64::from(transition.offset().seconds()));
            }
        }
        Self { starts, offsets }
    }

    #[inline]
    fn segment(&self, t: i64) -> usize {
        // Instants come in no order, and a range of a few months has one or two transitions:
        // a comparison per transition beats a binary search's unpredictable branches.
        // starts[0] is i64::MIN, so t is never before the first segment.
        match self.starts.as_slice() {
            [_] => 0,
            [_, second] => usize::from(t >= *second),
            starts => starts.iter().filter(|&&s| s <= t).count().saturating_sub(1),
        }
    }

    /// The local day (days since 1970-01-01 in local time) of an instant.
    pub(super) fn day_of(&self, t: i64) -> i64 {
        (t + self.offsets[self.segment(t)]).div_euclid(DAY)
    }

    /// The instants whose local day is in [first, end), as sorted spans (one, except in a zone
    /// that turns its clocks back across midnight).
    pub(super) fn instants_of_days(&self, first: i64, end: i64) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        for (i, (&seg_start, &offset)) in self.starts.iter().zip(&self.offsets).enumerate() {
            let seg_end = self.starts.get(i + 1).copied().unwrap_or(i64::MAX);
            let start = (first * DAY - offset).max(seg_start);
            let end = (end * DAY - offset).min(seg_end);
            if start < end {
                match spans.last_mut() {
                    Some(last) if last.end == start => last.end = end,
                    _ => spans.push(Span::new(start, end)),
                }
            }
        }
        spans
    }
}

/// The Monday on or before a local day (1970-01-01 was a Thursday).
fn week_start(day: i64) -> i64 {
    day - (day + 3).rem_euclid(7)
}

/// The first day of the local day's month and the first day of the next month.
fn month_of(day: i64) -> (i64, i64) {
    let (y, m, _) = civil_from_days(day);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(y, m, 1), days_from_civil(ny, nm, 1))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// The inverse of `days_from_civil`: (year, month, day).
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

/// How far around the candidates appointments can matter: a month and a week on either side,
/// with room for the zone's offset.
const COUNTING_PAD: i64 = 34 * DAY;

/// The bookings per local day around a range of candidate starts, and the policy's limits.
pub(super) struct Tally {
    days: LocalDays,
    /// Appointments starting outside this range of instants cannot matter.
    pad: (i64, i64),
    /// Local day number of `counts[0]`.
    first_day: i64,
    counts: Vec<u32>,
    seconds: Vec<i64>,
    /// Bookings in the week of day `first_day + i` (empty without a week limit).
    week_totals: Vec<i64>,
    /// Bookings in the month of day `first_day + i` (empty without a month limit).
    month_totals: Vec<i64>,
    /// The first days of the months that meet the counted range, and of the month after.
    month_starts: Vec<i64>,
    per_day: Option<u32>,
    per_week: Option<u32>,
    per_month: Option<u32>,
    minutes_per_day: Option<u32>,
}

impl Tally {
    /// Counts `booked` (the appointments that count) around candidate starts in [lo, hi); None
    /// when the policy has no limits.
    pub(super) fn new<'a>(
        zone: &Zone,
        policy: &BookingPolicy,
        range: (i64, i64),
        booked: impl IntoIterator<Item = &'a Interval>,
    ) -> Option<Self> {
        let mut tally = Self::start(zone, policy, range)?;
        for b in booked {
            tally.count(b);
        }
        tally.finish();
        Some(tally)
    }

    /// An empty tally for candidate starts in [lo, hi): `count` every appointment that counts,
    /// then `finish`. (The slot walk counts in the same pass that collects busy time.) None when
    /// the policy has no limits.
    pub(super) fn start(zone: &Zone, policy: &BookingPolicy, (lo, hi): (i64, i64)) -> Option<Self> {
        if !policy.has_limits() || lo >= hi {
            return None;
        }
        let (pad_lo, pad_hi) = (lo.saturating_sub(COUNTING_PAD), hi.saturating_add(COUNTING_PAD));
        let days = LocalDays::new(zone, pad_lo, pad_hi);
        // A day before and after: in a zone that turns its clocks back across midnight a later
        // instant can have an earlier local day.
        let (d_lo, d_hi) = (days.day_of(lo) - 1, days.day_of(hi - 1) + 1);
        let first_day = month_of(d_lo).0.min(week_start(d_lo));
        let end_day = month_of(d_hi).1.max(week_start(d_hi) + 7);
        let len = usize::try_from(end_day - first_day).ok()?;
        Some(Self {
            days,
            pad: (pad_lo, pad_hi),
            first_day,
            counts: vec![0u32; len],
            seconds: vec![0i64; len],
            week_totals: Vec::new(),
            month_totals: Vec::new(),
            month_starts: Vec::new(),
            per_day: policy.max_bookings_per_day(),
            per_week: policy.max_bookings_per_week(),
            per_month: policy.max_bookings_per_month(),
            minutes_per_day: policy.max_booked_minutes_per_day(),
        })
    }

    /// Counts one appointment on the local day of its start.
    #[inline]
    pub(super) fn count(&mut self, b: &Interval) {
        let start = floor_second(b.start());
        if start < self.pad.0 || start >= self.pad.1 {
            return;
        }
        let i = self.days.day_of(start) - self.first_day;
        if let (Some(count), Some(seconds)) = (
            usize::try_from(i).ok().and_then(|i| self.counts.get_mut(i)),
            usize::try_from(i).ok().and_then(|i| self.seconds.get_mut(i)),
        ) {
            *count += 1;
            *seconds += ceil_second(b.end()) - start;
        }
    }

    /// Totals the weeks and months once everything is counted.
    pub(super) fn finish(&mut self) {
        let len = self.counts.len();
        let (first_day, end_day) = (self.first_day, self.first_day + len as i64);
        // counts_before[i] = bookings on the days before first_day + i.
        let mut counts_before = Vec::with_capacity(len + 1);
        let mut total = 0i64;
        counts_before.push(0);
        for c in &self.counts {
            total += i64::from(*c);
            counts_before.push(total);
        }
        // Civil arithmetic once per month here, not once per candidate day.
        let mut month_starts = vec![month_of(first_day).0];
        while let Some(&last) = month_starts.last().filter(|&&m| m <= end_day) {
            month_starts.push(month_of(last).1);
        }
        // The totals per week and per month, spread over their days, so that a day's check is a
        // look-up (the walk checks every day).
        let spread = |periods: &mut dyn Iterator<Item = (i64, i64)>| {
            let mut totals = vec![0i64; len];
            let clamp = |d: i64| (d - first_day).clamp(0, len as i64) as usize;
            for (from, to) in periods {
                let (a, b) = (clamp(from), clamp(to));
                let booked = counts_before[b] - counts_before[a];
                totals[a..b].fill(booked);
            }
            totals
        };
        if self.per_week.is_some() {
            self.week_totals = spread(
                &mut (0..)
                    .map(|k| week_start(first_day) + 7 * k)
                    .take_while(|&d| d < end_day)
                    .map(|d| (d, d + 7)),
            );
        }
        if self.per_month.is_some() {
            self.month_totals = spread(&mut month_starts.windows(2).map(|m| (m[0], m[1])));
        }
        self.month_starts = month_starts;
    }

    pub(super) fn local_days(&self) -> &LocalDays {
        &self.days
    }

    /// The first day of the day's month and of the next (the day is in the counted range).
    fn month_range(&self, day: i64) -> (i64, i64) {
        let i = self.month_starts.partition_point(|&m| m <= day).saturating_sub(1);
        match (self.month_starts.get(i), self.month_starts.get(i + 1)) {
            (Some(&first), Some(&next)) => (first, next),
            _ => month_of(day),
        }
    }

    fn index(&self, day: i64) -> Option<usize> {
        usize::try_from(day - self.first_day)
            .ok()
            .filter(|&i| i < self.counts.len())
    }

    /// Whether one limit is reached for a candidate of `duration` seconds starting on local day
    /// `day` (at index `i`): the one predicate behind both the slot walk and the explanations.
    /// Always inlined: the walk asks it for every day and only wants yes or no.
    #[inline(always)]
    fn reached(&self, limit: Limit, i: usize, day: i64, duration: i64) -> Option<FullLimit> {
        let full = |allowed: u32, booked: i64, days: (i64, i64)| FullLimit {
            limit,
            allowed,
            booked,
            days,
        };
        match limit {
            Limit::BookingsPerDay => {
                let n = self.per_day?;
                let booked = i64::from(self.counts[i]);
                (booked >= i64::from(n)).then(|| full(n, booked, (day, day + 1)))
            }
            Limit::BookingsPerWeek => {
                let n = self.per_week?;
                let booked = *self.week_totals.get(i)?;
                (booked >= i64::from(n)).then(|| full(n, booked, (week_start(day), week_start(day) + 7)))
            }
            Limit::BookingsPerMonth => {
                let n = self.per_month?;
                let booked = *self.month_totals.get(i)?;
                (booked >= i64::from(n)).then(|| full(n, booked, self.month_range(day)))
            }
            Limit::BookedMinutesPerDay => {
                let n = self.minutes_per_day?;
                // The candidate's own minutes count: it may not take the day past the limit.
                let booked = self.seconds[i];
                (booked + duration > i64::from(n) * 60).then(|| full(n, booked.div_euclid(60), (day, day + 1)))
            }
        }
    }

    /// The limits a candidate of `duration` seconds starting on local day `day` runs into, in
    /// the order day, week, month, minutes.
    pub(super) fn full_limits(&self, day: i64, duration: i64) -> impl Iterator<Item = FullLimit> + '_ {
        let i = self.index(day);
        LIMITS
            .into_iter()
            .filter_map(move |limit| self.reached(limit, i?, day, duration))
    }

    /// Whether any limit is reached (`full_limits(..).next().is_some()`, without the details).
    fn is_full(&self, day: i64, duration: i64) -> bool {
        self.index(day).is_some_and(|i| {
            LIMITS
                .into_iter()
                .any(|limit| self.reached(limit, i, day, duration).is_some())
        })
    }

    /// The candidate starts in [lo, hi) that a full day, week or month forbids, for candidates of
    /// `duration` seconds.
    pub(super) fn closed_starts(&self, duration: i64, (lo, hi): (i64, i64)) -> Vec<Span> {
        let mut closed = Vec::new();
        let (first, last) = (self.days.day_of(lo) - 1, self.days.day_of(hi - 1) + 1);
        let mut run: Option<i64> = None;
        for day in first..=last + 1 {
            let full = day <= last && self.is_full(day, duration);
            match (full, run) {
                (true, None) => run = Some(day),
                (false, Some(start)) => {
                    closed.extend(self.days.instants_of_days(start, day));
                    run = None;
                }
                _ => {}
            }
        }
        closed
    }
}

/// The appointments the engine needs to count the limits for slots starting in `window`: those
/// starting from the first local day of the month (or the Monday, if earlier) of the window's
/// start to the end of the month (or the Sunday, if later) of its end, in the expert's zone, with
/// a day to spare on each side. A store loads the confirmed and pending appointments that start
/// in it.
pub fn counted_bookings_window(expert_zone: &Zone, window: Interval) -> Interval {
    let (lo, hi) = (
        floor_second(window.start()),
        ceil_second(window.end()).max(floor_second(window.start()) + 1),
    );
    let days = LocalDays::new(
        expert_zone,
        lo.saturating_sub(COUNTING_PAD),
        hi.saturating_add(COUNTING_PAD),
    );
    let (d_lo, d_hi) = (days.day_of(lo) - 2, days.day_of(hi - 1) + 2);
    let first = month_of(d_lo).0.min(week_start(d_lo));
    let end = month_of(d_hi).1.max(week_start(d_hi) + 7);
    let start = days.instants_of_days(first, first + 1).first().map(|s| s.start);
    let stop = days.instants_of_days(end - 1, end).last().map(|s| s.end);
    match (start, stop) {
        (Some(s), Some(e)) => Timestamp::from_second(s)
            .and_then(|s| Timestamp::from_second(e).map(|e| (s, e)))
            .ok()
            .and_then(|(s, e)| Interval::new(s, e).ok())
            .unwrap_or(window),
        _ => window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip_and_weeks_start_on_monday() {
        for day in [-800_000, -1, 0, 1, 59, 60, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(week_start(0), -3, "1969-12-29 was a Monday");
        assert_eq!(week_start(4), 4, "1970-01-05 was a Monday");
        assert_eq!(week_start(10), 4);
        let feb_2028 = days_from_civil(2028, 2, 10);
        assert_eq!(
            month_of(feb_2028),
            (days_from_civil(2028, 2, 1), days_from_civil(2028, 3, 1))
        );
        let dec = days_from_civil(2026, 12, 31);
        assert_eq!(month_of(dec).1, days_from_civil(2027, 1, 1));
    }

    #[test]
    fn local_days_follow_the_zone_across_a_transition() {
        let zone = Zone::new("Europe/Berlin").unwrap();
        let t = |s: &str| s.parse::<Timestamp>().unwrap().as_second();
        let days = LocalDays::new(&zone, t("2026-03-01T00:00:00Z"), t("2026-04-30T00:00:00Z"));
        let day = |s: &str| days.day_of(t(s));
        assert_eq!(day("2026-03-28T22:59:59Z"), days_from_civil(2026, 3, 28));
        assert_eq!(day("2026-03-28T23:00:00Z"), days_from_civil(2026, 3, 29));
        assert_eq!(day("2026-03-29T21:59:59Z"), days_from_civil(2026, 3, 29));
        assert_eq!(day("2026-03-29T22:00:00Z"), days_from_civil(2026, 3, 30));
        let d = days_from_civil(2026, 3, 29);
        assert_eq!(
            days.instants_of_days(d, d + 1),
            [Span::new(t("2026-03-28T23:00:00Z"), t("2026-03-29T22:00:00Z"))],
            "the spring-forward day has 23 hours"
        );
    }
}

//! Rules 1, 2 and 10 of `slot-semantics.md`: which schedule is in force on each date, its windows
//! as instants, and the merged availability windows with their true starts (the grid is anchored
//! there, so the engine looks back until it finds them).

use std::collections::HashMap;

use availability_domain::jiff::civil::{Date, DateTime, Time};
use availability_domain::jiff::Timestamp;
use availability_domain::{LocalTime, Schedule, ScheduleSet, TimeWindow, WeeklyRule, Zone};

use super::Hours;

/// How far back the engine looks for the start of a window that runs through the query's start
/// (the grid is anchored at the merged window's start).
const MAX_LOOKBACK_DAYS: i64 = 366;

/// A half-open range of Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Span {
    pub(super) start: i64,
    pub(super) end: i64,
    /// A window that began before the engine's look-back (its grid is the epoch grid).
    pub(super) start_unknown: bool,
}

impl Span {
    pub(super) fn new(start: i64, end: i64) -> Self {
        Self {
            start,
            end,
            start_unknown: false,
        }
    }

    pub(super) fn contains(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

/// One schedule made ready for date lookups: rules bucketed by weekday, overrides by date.
struct PreparedSchedule<'a> {
    zone: &'a Zone,
    by_weekday: [Vec<WeeklyRule>; 7],
    overrides: HashMap<Date, &'a [TimeWindow]>,
}

impl<'a> PreparedSchedule<'a> {
    fn new(schedule: &'a Schedule) -> Self {
        let mut by_weekday: [Vec<WeeklyRule>; 7] = Default::default();
        for r in &schedule.rules {
            by_weekday[usize::from(r.day_of_week.number())].push(*r);
        }
        Self {
            zone: &schedule.zone,
            by_weekday,
            overrides: schedule
                .overrides
                .iter()
                .map(|o| (o.date, o.windows.as_slice()))
                .collect(),
        }
    }
}

/// The expert's hours made ready for the engine: the schedules, which one is in force on which
/// date, and the distinct zones they use.
pub(super) struct PreparedHours<'a> {
    /// Index 0 is the default schedule.
    schedules: Vec<PreparedSchedule<'a>>,
    /// (first date, last date, schedule index), sorted and disjoint.
    periods: Vec<(Date, Date, usize)>,
    zones: Vec<&'a Zone>,
}

impl<'a> PreparedHours<'a> {
    pub(super) fn new(hours: Hours<'a>) -> Self {
        match hours {
            Hours::One(schedule) => Self {
                zones: vec![&schedule.zone],
                schedules: vec![PreparedSchedule::new(schedule)],
                periods: Vec::new(),
            },
            Hours::Set(set) => Self::from_set(set),
        }
    }

    fn from_set(set: &'a ScheduleSet) -> Self {
        let default = set.default_schedule();
        let mut ids = vec![default.id];
        let mut schedules = vec![PreparedSchedule::new(&default.hours)];
        for s in set.schedules().iter().filter(|s| s.id != default.id) {
            ids.push(s.id);
            schedules.push(PreparedSchedule::new(&s.hours));
        }
        let periods = set
            .periods()
            .iter()
            .filter_map(|p| {
                let i = ids.iter().position(|id| *id == p.schedule_id())?;
                Some((p.from_date(), p.to_date(), i))
            })
            .collect();
        let mut zones: Vec<&Zone> = Vec::new();
        for s in &schedules {
            if !zones.contains(&s.zone) {
                zones.push(s.zone);
            }
        }
        Self {
            schedules,
            periods,
            zones,
        }
    }

    /// The schedule in force on a date (rule 10): the period's, else the default.
    #[inline]
    fn on(&self, date: Date) -> &PreparedSchedule<'a> {
        if self.periods.is_empty() {
            return &self.schedules[0];
        }
        let i = self.periods.partition_point(|p| p.0 <= date);
        let index = match i.checked_sub(1).map(|i| self.periods[i]) {
            Some((_, to, index)) if date <= to => index,
            _ => 0,
        };
        &self.schedules[index]
    }

    /// The override of the schedule in force on a date, if it has one.
    pub(super) fn override_on(&self, date: Date) -> Option<&'a [TimeWindow]> {
        self.on(date).overrides.get(&date).copied()
    }

    /// The earliest local date of the instant in any of the zones.
    fn first_date(&self, second: i64) -> Option<Date> {
        self.zones.iter().filter_map(|z| local_date(z, second)).min()
    }

    /// The latest local date of the instant in any of the zones.
    fn last_date(&self, second: i64) -> Option<Date> {
        self.zones.iter().filter_map(|z| local_date(z, second)).max()
    }

    /// The latest instant at which `date` begins in any of the zones: no window of an earlier date
    /// ends after it (a rule never crosses midnight, "24:00" is the next date's midnight).
    fn latest_midnight(&self, date: Date) -> Option<i64> {
        self.zones
            .iter()
            .map(|z| local_instant(z, date, LocalTime::MIDNIGHT))
            .try_fold(i64::MIN, |latest, t| t.map(|t| latest.max(t)))
    }

    /// Rules 1 and 10 over the dates [from, to]: for each date the windows of the schedule in force
    /// on it, in that schedule's zone, as instants: (available, unavailable), each sorted and
    /// merged. Windows of different schedules merge like any others.
    pub(super) fn open_and_cut(&self, from: Date, to: Date) -> (Vec<Span>, Vec<Span>) {
        let mut open = Vec::new();
        let mut cut = Vec::new();
        let mut date = from;
        while date <= to {
            let schedule = self.on(date);
            let zone = schedule.zone;
            let mut push = |start: LocalTime, end: LocalTime, available: bool| {
                if let (Some(s), Some(e)) = (local_instant(zone, date, start), local_instant(zone, date, end)) {
                    // A window whose end instant is not after its start instant is dropped.
                    if e > s {
                        if available { &mut open } else { &mut cut }.push(Span::new(s, e));
                    }
                }
            };
            if let Some(windows) = schedule.overrides.get(&date) {
                for w in *windows {
                    push(w.start_time, w.end_time, true);
                }
            } else {
                let weekday = usize::from(date.weekday().to_sunday_zero_offset() as u8);
                for r in &schedule.by_weekday[weekday] {
                    push(r.start_time, r.end_time, r.is_available);
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        (merge(open), merge(cut))
    }

    /// The local dates whose windows can cover instants in [lo, until), one more on each side.
    pub(super) fn dates_around(&self, lo: i64, until: i64) -> Option<(Date, Date)> {
        let first = self.first_date(lo)?;
        let last = self.last_date(until)?;
        Some((first.yesterday().unwrap_or(first), last.tomorrow().unwrap_or(last)))
    }

    /// The merged availability windows that matter for starts in [lo, until): every window that
    /// overlaps [lo, until), with its true start (windows merge across midnight, dates and
    /// schedules, and the grid is anchored at the merged start, so the engine looks back until it
    /// finds it).
    pub(super) fn availability_windows(&self, lo: i64, until: i64) -> Vec<Span> {
        let (Some(first), Some(last)) = (self.first_date(lo), self.last_date(until)) else {
            return Vec::new();
        };
        // One date past `until`'s date: a window of that date cannot start before `until`, so the
        // windows beyond only extend an end we no longer need.
        let last = last.tomorrow().unwrap_or(last);
        let mut back = 1;
        loop {
            let Ok(from) = first.checked_sub(availability_domain::jiff::Span::new().days(back)) else {
                return Vec::new();
            };
            let (open, cut) = self.open_and_cut(from, last);
            let windows = subtract(open, &cut);
            // Only the window that reaches `lo` needs its true start; it may have begun on a date
            // before `from` only if it already starts at or before `from`'s (latest) midnight.
            let reaching = windows.iter().position(|w| w.end > lo);
            let open_ended = match (reaching, self.latest_midnight(from)) {
                (Some(i), Some(rs)) => windows[i].start <= rs,
                _ => false,
            };
            if !open_ended {
                return windows;
            }
            if back >= MAX_LOOKBACK_DAYS {
                let mut windows = windows;
                if let Some(i) = reaching {
                    // It began further back than we look: more than a year before any candidate,
                    // so only the epoch grid applies to it.
                    windows[i].start_unknown = true;
                }
                return windows;
            }
            back = (back * 2).min(MAX_LOOKBACK_DAYS);
        }
    }
}

/// Sorts and merges overlapping or touching spans.
pub(super) fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    // By start alone: merging needs no more order than that, and the simpler comparison is what
    // the sort of 10,000 busy intervals spends its time on. In place: no second vector.
    spans.sort_unstable_by_key(|s| s.start);
    let mut kept = 0;
    for i in 0..spans.len() {
        let s = spans[i];
        if kept > 0 && s.start <= spans[kept - 1].end {
            let last = &mut spans[kept - 1];
            last.end = last.end.max(s.end);
        } else {
            spans[kept] = s;
            kept += 1;
        }
    }
    spans.truncate(kept);
    spans
}

/// `open` minus `cut`; both sorted and merged.
pub(super) fn subtract(open: Vec<Span>, cut: &[Span]) -> Vec<Span> {
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

/// The local date of an instant in the zone.
pub(super) fn local_date(zone: &Zone, second: i64) -> Option<Date> {
    let t = Timestamp::from_second(second).ok()?;
    Some(zone.tz().to_datetime(t).date())
}

/// Rule 2: a local wall-clock time of a date as an instant. A time in a spring-forward gap takes
/// the offset in force before the gap; a repeated time means its first occurrence (RFC 5545
/// 3.3.5, jiff's "compatible" disambiguation). "24:00" is the next date's midnight.
#[inline]
pub(super) fn local_instant(zone: &Zone, date: Date, time: LocalTime) -> Option<i64> {
    let (date, minutes) = if time.is_end_of_day() {
        (date.tomorrow().ok()?, 0)
    } else {
        (date, time.minutes())
    };
    let clock = Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0).ok()?;
    local_datetime_instant(zone, DateTime::from_parts(date, clock)).map(|t| t.as_second())
}

/// Rule 2 for any local date and time (seconds and fractions kept).
#[inline]
pub(super) fn local_datetime_instant(zone: &Zone, local: DateTime) -> Option<Timestamp> {
    zone.tz().to_ambiguous_timestamp(local).compatible().ok()
}

/// The civil date of a day number (days since 1970-01-01).
pub(super) fn local_date_of_day(day: i64) -> Option<Date> {
    let epoch = Date::new(1970, 1, 1).ok()?;
    epoch.checked_add(availability_domain::jiff::Span::new().days(day)).ok()
}

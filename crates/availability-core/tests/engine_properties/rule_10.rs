//! Rule 10 against the brute-force reference: schedules with periods (some in another zone),
//! confirmed and pending appointments, holds and the policy's limits. The reference extends the
//! one of `engine_properties.rs` with its own reading of rule 10 (which schedule a date takes, how
//! appointments are counted per local day, week and month, which holds block) and its own list of
//! the rules a requested time fails, built minute by minute from the contract. Slots, `check` and
//! `explain` must all agree with it and with each other. Series occurrences are checked against
//! the reference's own calendar arithmetic and local-time resolution in the six zones.

use super::*;

use availability_core::domain::{
    AppointmentId, ClientId, ExpertId, Frequency, Hold, HoldId, NamedSchedule, Recurrence, ScheduleId, SchedulePeriod,
    ScheduleSet,
};
use availability_core::engine::{
    series_occurrences, Booking, BookingContext, BookingStatus, BusyTime, Hours, Limit, ReasonCode, Refusal, Requester,
};

// ---------------------------------------------------------------------------------------------
// The input
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct OtherSchedule {
    zone: &'static str,
    rules: Vec<RawRule>,
    overrides: Vec<RawOverride>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Limits {
    day: Option<u32>,
    week: Option<u32>,
    month: Option<u32>,
    minutes: Option<u32>,
}

#[derive(Clone)]
struct RawBooking {
    id: AppointmentId,
    start: i128,
    end: i128,
    confirmed: bool,
}

#[derive(Clone)]
struct RawHold {
    id: HoldId,
    start: i128,
    end: i128,
    expires: i128,
}

/// A case of the base properties (its zone is the expert's and the default schedule's; its busy
/// intervals are the calendar's) plus rule 10.
#[derive(Clone)]
struct Rule10Case {
    base: Case,
    others: Vec<OtherSchedule>,
    /// (first day, last day, index into `others`), days since 1970-01-01, disjoint.
    periods: Vec<(i64, i64, usize)>,
    bookings: Vec<RawBooking>,
    holds: Vec<RawHold>,
    limits: Limits,
    own_hold: Option<HoldId>,
    moving: Option<AppointmentId>,
}

impl fmt::Debug for Rule10Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:?}", self.base)?;
        for (i, o) in self.others.iter().enumerate() {
            writeln!(
                f,
                "  other schedule {i}: {} rules {:?} overrides {:?}",
                o.zone, o.rules, o.overrides
            )?;
        }
        for &(from, to, i) in &self.periods {
            writeln!(f, "  period: {} .. {} -> other {i}", jiff_date(from), jiff_date(to))?;
        }
        for b in &self.bookings {
            let kind = if b.confirmed { "confirmed" } else { "pending" };
            let moving = if Some(b.id) == self.moving {
                " (being moved)"
            } else {
                ""
            };
            writeln!(f, "  booking: {} .. {} {kind}{moving}", ts(b.start), ts(b.end))?;
        }
        for h in &self.holds {
            let own = if Some(h.id) == self.own_hold {
                " (the requester's)"
            } else {
                ""
            };
            writeln!(
                f,
                "  hold: {} .. {} until {}{own}",
                ts(h.start),
                ts(h.end),
                ts(h.expires)
            )?;
        }
        write!(f, "  limits: {:?}", self.limits)
    }
}

/// The engine's input, owned.
struct Inputs {
    zone: Zone,
    set: ScheduleSet,
    policy: BookingPolicy,
    busy: Vec<BusyTime>,
    bookings: Vec<Booking>,
    holds: Vec<Hold>,
    requester: Requester,
}

impl Inputs {
    fn ctx(&self) -> BookingContext<'_> {
        BookingContext {
            expert_zone: &self.zone,
            hours: Hours::Set(&self.set),
            policy: &self.policy,
            calendar_busy: &self.busy,
            bookings: &self.bookings,
            holds: &self.holds,
        }
    }
}

impl Rule10Case {
    fn inputs(&self) -> Inputs {
        let default = NamedSchedule::new(ScheduleId::new(), "Default", true, self.base.schedule()).expect("a name");
        let mut schedules = vec![default];
        for (i, o) in self.others.iter().enumerate() {
            let hours = Case {
                zone: o.zone,
                rules: o.rules.clone(),
                overrides: o.overrides.clone(),
                ..self.base.clone()
            }
            .schedule();
            schedules.push(NamedSchedule::new(ScheduleId::new(), &format!("Other {i}"), false, hours).expect("a name"));
        }
        let periods = self
            .periods
            .iter()
            .map(|&(from, to, i)| {
                SchedulePeriod::new(schedules[i + 1].id, jiff_date(from), jiff_date(to)).expect("from <= to")
            })
            .collect();
        let set = ScheduleSet::new(schedules, periods).expect("a valid set");
        let l = self.limits;
        let policy = self
            .base
            .booking_policy()
            .with_max_bookings_per_day(l.day.map(i64::from))
            .and_then(|p| p.with_max_bookings_per_week(l.week.map(i64::from)))
            .and_then(|p| p.with_max_bookings_per_month(l.month.map(i64::from)))
            .and_then(|p| p.with_max_booked_minutes_per_day(l.minutes.map(i64::from)))
            .expect("limits in range");
        let busy = self
            .base
            .busy
            .iter()
            .enumerate()
            .map(|(i, &(s, e, _))| BusyTime {
                time: interval_ns(s, e),
                calendar: Some(format!("calendar {i}").into()),
                title: None,
            })
            .collect();
        let bookings = self
            .bookings
            .iter()
            .map(|b| Booking {
                id: Some(b.id),
                time: interval_ns(b.start, b.end),
                status: if b.confirmed {
                    BookingStatus::Confirmed
                } else {
                    BookingStatus::Pending
                },
            })
            .collect();
        let holds = self
            .holds
            .iter()
            .map(|h| Hold {
                id: h.id,
                expert_id: ExpertId::new(),
                client_id: ClientId::new(),
                time: interval_ns(h.start, h.end),
                expires_at: ts(h.expires),
            })
            .collect();
        Inputs {
            zone: Zone::new(self.base.zone).expect("a zone"),
            set,
            policy,
            busy,
            bookings,
            holds,
            requester: Requester {
                hold: self.own_hold,
                rescheduling: self.moving,
            },
        }
    }

    fn engine_slots(&self, inputs: &Inputs) -> Vec<Slot> {
        inputs.ctx().slots(&self.base.query(), &inputs.requester)
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn limits() -> impl Strategy<Value = Limits> {
    let maybe = |weight_none: u32, range: std::ops::RangeInclusive<u32>| prop_oneof![weight_none => Just(None), 2 => range.prop_map(Some)];
    (maybe(2, 1..=4), maybe(3, 1..=10), maybe(3, 1..=20), maybe(3, 15..=480)).prop_map(|(day, week, month, minutes)| {
        Limits {
            day,
            week,
            month,
            minutes,
        }
    })
}

/// Rule-10 cases on query windows of up to three days.
fn rule_10_cases() -> impl Strategy<Value = Rule10Case> {
    let other = (prop::bool::weighted(0.3), 0..ZONES.len(), rules(0.0), overrides());
    // Periods: (first day after the anchor, days long, which other schedule).
    let periods = prop::collection::vec((-14i64..=4, 0i64..=5, 0usize..2), 0..3);
    // Appointments: (minutes after the query's start, minutes long, confirmed); near the query or
    // anywhere in the months around it (they count towards week and month limits).
    let booking = (
        prop_oneof![
            3 => -DAY_MIN..=4 * DAY_MIN,
            1 => -40 * DAY_MIN..=40 * DAY_MIN,
        ],
        prop_oneof![3 => (1i64..=8).prop_map(|q| q * 15), 1 => 5i64..=300],
        prop::bool::weighted(0.6),
    );
    // Holds: (minutes after the query's start, minutes long, expiry in minutes after now).
    let hold = (-DAY_MIN..=4 * DAY_MIN, (1i64..=8).prop_map(|q| q * 15), -30i64..=600);
    (
        cases(3 * DAY_MIN, false, 0.0),
        prop::collection::vec(other, 0..3),
        periods,
        prop::collection::vec(booking, 0..8),
        prop::collection::vec(hold, 0..3),
        limits(),
        (
            prop::option::weighted(0.3, 0usize..3),
            prop::option::weighted(0.3, 0usize..8),
        ),
    )
        .prop_map(
            |(mut base, others, raw_periods, raw_bookings, raw_holds, limits, (own, moving))| {
                let anchor = (base.from.div_euclid(MIN_NS) as i64).div_euclid(DAY_MIN);
                let others: Vec<OtherSchedule> = others
                    .into_iter()
                    .map(|(elsewhere, z, rules, overrides)| OtherSchedule {
                        zone: if elsewhere { ZONES[z] } else { base.zone },
                        rules,
                        overrides: overrides
                            .into_iter()
                            .map(|(offset, windows)| RawOverride {
                                day: anchor + offset,
                                windows,
                            })
                            .fold(Vec::new(), |mut seen: Vec<RawOverride>, o| {
                                if seen.iter().all(|s| s.day != o.day) {
                                    seen.push(o);
                                }
                                seen
                            }),
                    })
                    .collect();
                let mut periods: Vec<(i64, i64, usize)> = Vec::new();
                if !others.is_empty() {
                    for (offset, length, i) in raw_periods {
                        let (from, to) = (anchor + offset, anchor + offset + length);
                        if periods.iter().all(|&(f, t, _)| to < f || t < from) {
                            periods.push((from, to, i % others.len()));
                        }
                    }
                }
                // The base case's appointments become confirmed bookings; its calendar busy time stays.
                let start_of = |minutes: i64| base.from - base.from.rem_euclid(MIN_NS) + i128::from(minutes) * MIN_NS;
                let mut bookings: Vec<RawBooking> = base
                    .busy
                    .iter()
                    .filter(|b| b.2)
                    .map(|&(start, end, _)| RawBooking {
                        id: AppointmentId::new(),
                        start,
                        end,
                        confirmed: true,
                    })
                    .collect();
                base.busy.retain(|b| !b.2);
                bookings.extend(raw_bookings.into_iter().map(|(at, length, confirmed)| {
                    let start = start_of(at);
                    RawBooking {
                        id: AppointmentId::new(),
                        start,
                        end: start + i128::from(length) * MIN_NS,
                        confirmed,
                    }
                }));
                let now_minute = base.now - base.now.rem_euclid(MIN_NS);
                let holds: Vec<RawHold> = raw_holds
                    .into_iter()
                    .map(|(at, length, expires)| {
                        let start = start_of(at);
                        RawHold {
                            id: HoldId::new(),
                            start,
                            end: start + i128::from(length) * MIN_NS,
                            expires: now_minute + i128::from(expires) * MIN_NS,
                        }
                    })
                    .collect();
                let own_hold = own.and_then(|i| holds.get(i)).map(|h| h.id);
                let moving = moving.and_then(|i| bookings.get(i)).map(|b| b.id);
                Rule10Case {
                    base,
                    others,
                    periods,
                    bookings,
                    holds,
                    limits,
                    own_hold,
                    moving,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The reference, extended
// ---------------------------------------------------------------------------------------------

/// The period covering a local date, if any (rule 10).
fn period_on(case: &Rule10Case, day: i64) -> Option<usize> {
    case.periods
        .iter()
        .find(|&&(from, to, _)| from <= day && day <= to)
        .map(|p| p.2)
}

/// Rule 1 with rule 10: each local date takes the windows of the schedule in force, in its zone.
fn availability_10(case: &Rule10Case) -> Availability {
    let default_tz = case.base.tz();
    let other_tz: Vec<TimeZone> = case
        .others
        .iter()
        .map(|o| TimeZone::get(o.zone).expect("a zone"))
        .collect();
    let hours_on = |day: i64| match period_on(case, day) {
        Some(i) => DayHours {
            tz: other_tz[i].clone(),
            rules: &case.others[i].rules,
            overrides: &case.others[i].overrides,
        },
        None => DayHours {
            tz: default_tz.clone(),
            rules: &case.base.rules,
            overrides: &case.base.overrides,
        },
    };
    let mut zones = vec![default_tz.clone()];
    zones.extend(other_tz.iter().cloned());
    reference_availability_of(&case.base, &hours_on, &zones)
}

/// The override of the schedule in force on a local date, if it has one.
fn override_on(case: &Rule10Case, day: i64) -> Option<&RawOverride> {
    let overrides = match period_on(case, day) {
        Some(i) => &case.others[i].overrides,
        None => &case.base.overrides,
    };
    overrides.iter().find(|o| o.day == day)
}

/// The expert-local day of an instant (ns).
fn local_day(tz: &TimeZone, t: i128) -> i64 {
    let minute = t.div_euclid(MIN_NS) as i64;
    (minute + offset_at(tz, minute)).div_euclid(DAY_MIN)
}

/// The first instant (ns) of a local day.
fn day_start(tz: &TimeZone, day: i64) -> i128 {
    i128::from(local_to_utc(tz, day * DAY_MIN)) * MIN_NS
}

fn monday_of(day: i64) -> i64 {
    day - i64::from((weekday_of_day(day) + 6) % 7)
}

fn month_of(day: i64) -> (i64, i64) {
    let (y, m, _) = civil_from_days(day);
    (y, m)
}

fn month_days(day: i64) -> (i64, i64) {
    let (y, m) = month_of(day);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(y, m, 1), days_from_civil(ny, nm, 1))
}

/// The limits a candidate [s, s + minutes) runs into: (limit, from, to) of the full period.
fn full_limits(case: &Rule10Case, s: i128, minutes: u32) -> Vec<(Limit, i128, i128)> {
    let tz = case.base.tz();
    let day = local_day(&tz, s);
    let counted: Vec<(i64, i128)> = case
        .bookings
        .iter()
        .filter(|b| Some(b.id) != case.moving)
        .map(|b| (local_day(&tz, b.start), b.end - b.start))
        .collect();
    let count = |same: &dyn Fn(i64) -> bool| counted.iter().filter(|(d, _)| same(*d)).count() as u32;
    let mut full = Vec::new();
    let whole_day = (day_start(&tz, day), day_start(&tz, day + 1));
    if case.limits.day.is_some_and(|n| count(&|d| d == day) >= n) {
        full.push((Limit::BookingsPerDay, whole_day.0, whole_day.1));
    }
    if case
        .limits
        .week
        .is_some_and(|n| count(&|d| monday_of(d) == monday_of(day)) >= n)
    {
        let monday = monday_of(day);
        full.push((
            Limit::BookingsPerWeek,
            day_start(&tz, monday),
            day_start(&tz, monday + 7),
        ));
    }
    if case
        .limits
        .month
        .is_some_and(|n| count(&|d| month_of(d) == month_of(day)) >= n)
    {
        let (first, next) = month_days(day);
        full.push((Limit::BookingsPerMonth, day_start(&tz, first), day_start(&tz, next)));
    }
    if let Some(n) = case.limits.minutes {
        let booked: i128 = counted.iter().filter(|(d, _)| *d == day).map(|(_, len)| *len).sum();
        if booked + i128::from(minutes) * MIN_NS > i128::from(n) * MIN_NS {
            full.push((Limit::BookedMinutesPerDay, whole_day.0, whole_day.1));
        }
    }
    full
}

/// Busy time for the requester: (start, end, what) with what 0 = calendar, 1 = appointment,
/// 2 = someone else's active hold.
fn busy_10(case: &Rule10Case) -> Vec<(i128, i128, u8)> {
    let mut busy: Vec<(i128, i128, u8)> = case.base.busy.iter().map(|&(s, e, _)| (s, e, 0)).collect();
    busy.extend(
        case.bookings
            .iter()
            .filter(|b| b.confirmed && Some(b.id) != case.moving)
            .map(|b| (b.start, b.end, 1)),
    );
    busy.extend(
        case.holds
            .iter()
            .filter(|h| case.base.now < h.expires && Some(h.id) != case.own_hold)
            .map(|h| (h.start, h.end, 2)),
    );
    busy
}

/// Rules 3-5 and 10: the slot starts (ns) in [from, to), and the runs the reference cannot anchor.
fn slots_10(case: &Rule10Case, av: &Availability, duration: u32) -> (Vec<i128>, Vec<(i64, i64)>) {
    let busy: Vec<(i128, i128, bool)> = busy_10(case).into_iter().map(|(s, e, _)| (s, e, false)).collect();
    let mut starts = Vec::new();
    let mut unanchored = Vec::new();
    let step = i64::from(case.base.policy.interval);
    for &(ws, we, anchored) in &av.runs {
        if !anchored {
            unanchored.push((ws, we));
            continue;
        }
        let mut c = ws;
        while c + i64::from(duration) <= we {
            let s = i128::from(c) * MIN_NS;
            if case.base.from <= s
                && s < case.base.to
                && passes_policy(&case.base, duration, &busy, s)
                && full_limits(case, s, duration).is_empty()
            {
                starts.push(s);
            }
            c += step;
        }
    }
    starts.sort_unstable();
    starts.dedup();
    (starts, unanchored)
}

/// Every rule a requested time [s, s + minutes) fails, from the contract, as (code, from, to);
/// None when the answer depends on a run the reference cannot anchor.
fn reasons_10(case: &Rule10Case, av: &Availability, s: i128, minutes: u32) -> Option<Vec<(&'static str, i128, i128)>> {
    let e = s + i128::from(minutes) * MIN_NS;
    let p = case.base.policy;
    let mut out: Vec<(&'static str, i128, i128)> = Vec::new();
    let overlaps = |bs: i128, be: i128, from: i128, to: i128| from < be && bs < to;
    let busy = busy_10(case);
    for &(bs, be, what) in &busy {
        if overlaps(bs, be, s, e) {
            out.push((["calendar_busy", "appointment", "held"][usize::from(what)], bs, be));
        } else if overlaps(
            bs,
            be,
            s - i128::from(p.buffer_before) * MIN_NS,
            e + i128::from(p.buffer_after) * MIN_NS,
        ) {
            out.push(("buffer", bs, be));
        }
    }
    for (_, from, to) in full_limits(case, s, minutes) {
        out.push(("limit_reached", from, to));
    }
    let now = case.base.now + (SEC_NS - case.base.now.rem_euclid(SEC_NS)) % SEC_NS; // whole seconds
    let notice = now + i128::from(p.notice) * MIN_NS;
    let horizon = now + i128::from(p.horizon) * DAY_MIN as i128 * MIN_NS;
    if s < now {
        out.push(("in_past", s, now));
    } else if s < notice {
        out.push(("minimum_notice", now, notice));
    }
    if s >= horizon {
        out.push(("beyond_horizon", horizon, e));
    }
    // Hours and grid, minute by minute.
    let first = (s / MIN_NS) as i64;
    let last = first + i64::from(minutes);
    match av.run_at(first) {
        Some((_, _, false)) => return None,
        Some((ws, we, true)) if last <= we => {
            if (first - ws) % i64::from(p.interval) != 0 {
                out.push(("not_on_grid", s, e));
            }
        }
        _ => {
            if (first..last).any(|m| av.run_at(m).is_some_and(|r| !r.2)) {
                return None;
            }
            let tz = case.base.tz();
            // (code, override date) of each minute outside the availability; runs of equal keys.
            let mut pieces: Vec<(&'static str, Option<i64>, i64, i64)> = Vec::new();
            for m in (first..last).filter(|&m| !av.is_available(m)) {
                let key = if av.is_cut(m) {
                    ("break", None)
                } else {
                    let day = local_day(&tz, i128::from(m) * MIN_NS);
                    match override_on(case, day) {
                        Some(o) if o.windows.is_empty() => ("day_off", Some(day)),
                        Some(_) => ("special_hours", Some(day)),
                        None => ("outside_hours", None),
                    }
                };
                match pieces.last_mut() {
                    Some(last) if (last.0, last.1) == key && last.3 == m => last.3 = m + 1,
                    _ => pieces.push((key.0, key.1, m, m + 1)),
                }
            }
            out.extend(
                pieces
                    .into_iter()
                    .map(|(code, _, a, b)| (code, i128::from(a) * MIN_NS, i128::from(b) * MIN_NS)),
            );
        }
    }
    out.sort_unstable();
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

/// The engine's slots equal the reference's (runs the reference cannot anchor left out).
fn check_slots_match(case: &Rule10Case) -> Result<(), TestCaseError> {
    let inputs = case.inputs();
    let av = availability_10(case);
    let (expected, unanchored) = slots_10(case, &av, case.base.duration());
    let got: Vec<i128> = starts_ns(&case.engine_slots(&inputs))
        .into_iter()
        .filter(|&s| !in_unanchored(&unanchored, s))
        .collect();
    prop_assert_eq!(show(&got), show(&expected));
    Ok(())
}

/// With limits, periods and pending appointments (no holds: they expire with the clock), the
/// slots of a larger window at any time, bounded at now, are the slots at now.
fn check_now_only_filters_10(case: &Rule10Case) -> Result<(), TestCaseError> {
    let mut inputs = case.inputs();
    inputs.holds.clear();
    let any_time = inputs
        .ctx()
        .slots_at_any_time(widened(&case.base), case.base.duration_override, &inputs.requester);
    prop_assert_eq!(
        bounded_at_now(any_time, &case.base, &inputs.policy),
        case.engine_slots(&inputs)
    );
    Ok(())
}

/// For each probe: `explain` is bookable exactly when `check` accepts and `slots` shows the start
/// for that length; its reasons are exactly the reference's; the refusal is the first reason in
/// the order of precedence.
fn check_explain_check_and_slots_agree(case: &Rule10Case, probes: &[(i64, u32)]) -> Result<(), TestCaseError> {
    let inputs = case.inputs();
    let ctx = inputs.ctx();
    let av = availability_10(case);
    let now = ts(case.base.now);
    let shown = starts_ns(&case.engine_slots(&inputs));
    for &(shift, length) in probes {
        let minutes = if length == 0 { case.base.duration() } else { length };
        let from_minute = case.base.from.div_euclid(MIN_NS);
        let start = if shown.is_empty() || shift % 3 == 0 {
            let span = ((case.base.to - case.base.from) / MIN_NS).max(1) + 2 * i128::from(DAY_MIN);
            (from_minute - i128::from(DAY_MIN) + i128::from(shift).rem_euclid(span)) * MIN_NS
        } else {
            shown[shift.unsigned_abs() as usize % shown.len()] + i128::from(shift % 61) * MIN_NS
        };
        let requested = interval_ns(start, start + i128::from(minutes) * MIN_NS);
        let explanation = ctx.explain(requested, now, &inputs.requester);
        let verdict = ctx.check(requested, now, &inputs.requester);
        let probe_query = SlotQuery {
            window: interval_ns(start, start + SEC_NS),
            now,
            duration_minutes: Some(minutes),
        };
        let is_slot = ctx
            .slots(&probe_query, &inputs.requester)
            .first()
            .is_some_and(|s| s.start.as_nanosecond() == start);
        prop_assert_eq!(explanation.bookable, explanation.reasons.is_empty());
        prop_assert_eq!(
            explanation.bookable,
            verdict.is_ok(),
            "{} +{}: explain {:?} but check {:?}",
            ts(start),
            minutes,
            explanation.reasons,
            verdict
        );
        prop_assert_eq!(
            explanation.bookable,
            is_slot,
            "{} +{}: explain {:?} but slots show it: {}",
            ts(start),
            minutes,
            explanation.reasons,
            is_slot
        );
        if minutes == case.base.duration() && case.base.from <= start && start < case.base.to {
            prop_assert_eq!(
                is_slot,
                shown.contains(&start),
                "{}: the whole window's slots differ",
                ts(start)
            );
        }
        let first_code = explanation.reasons.first().map(|r| r.code);
        match verdict {
            Ok(()) => {}
            Err(Refusal::SlotTaken) => {
                prop_assert!(matches!(first_code, Some(ReasonCode::Appointment | ReasonCode::Held)))
            }
            Err(Refusal::LimitReached(limit)) => {
                prop_assert_eq!(first_code, Some(ReasonCode::LimitReached));
                prop_assert_eq!(explanation.reasons[0].limit, Some(limit));
                prop_assert!(!explanation
                    .reasons
                    .iter()
                    .any(|r| matches!(r.code, ReasonCode::Appointment | ReasonCode::Held)));
            }
            Err(Refusal::SlotUnavailable(code)) => {
                prop_assert_eq!(first_code, Some(code));
                prop_assert!(!explanation.reasons.iter().any(|r| matches!(
                    r.code,
                    ReasonCode::Appointment | ReasonCode::Held | ReasonCode::LimitReached
                )));
            }
            Err(other) => prop_assert!(false, "unexpected refusal {:?}", other),
        }
        let Some(expected) = reasons_10(case, &av, start, minutes) else {
            continue;
        };
        let mut got: Vec<(&'static str, i128, i128)> = explanation
            .reasons
            .iter()
            .map(|r| (r.code.as_str(), r.from.as_nanosecond(), r.to.as_nanosecond()))
            .collect();
        got.sort_unstable();
        let readable = |list: &[(&'static str, i128, i128)]| -> Vec<String> {
            list.iter()
                .map(|&(code, a, b)| format!("{code} {} .. {}", ts(a), ts(b)))
                .collect()
        };
        prop_assert_eq!(
            readable(&got),
            readable(&expected),
            "reasons for {} +{} min (engine left, reference right)",
            ts(start),
            minutes
        );
    }
    Ok(())
}

fn rule_10_probes() -> impl Strategy<Value = Vec<(i64, u32)>> {
    prop::collection::vec(
        (-20_000i64..20_000, prop_oneof![3 => Just(0u32), 1 => 5u32..=300]),
        1..12,
    )
}

proptest! {
    #![proptest_config(config(384))]

    /// Rule 10: with schedule periods, limits, holds and pending appointments the engine's slots
    /// are exactly the reference's.
    #[test]
    fn rule_10_slots_agree_with_the_reference(case in rule_10_cases()) {
        check_slots_match(&case)?;
    }

    /// Rule 10: explanations, booking checks and slots never disagree, and an explanation's
    /// reasons are exactly the rules the reference finds failing.
    #[test]
    fn rule_10_explain_check_and_slots_agree(case in rule_10_cases(), probes in rule_10_probes()) {
        check_explain_check_and_slots_agree(&case, &probes)?;
    }

    /// Rule 10 too: now only filters the slots at any time (the directory's memo).
    #[test]
    fn rule_10_the_bounds_of_now_only_filter(case in rule_10_cases()) {
        check_now_only_filters_10(&case)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Series
// ---------------------------------------------------------------------------------------------

/// The reference's occurrence dates: day numbers of the first `n` (or, with `through`, those up
/// to that day) dates of the series, months without the first's day skipped.
fn occurrence_days(first_day: i64, frequency: Frequency, interval: i64, n: usize) -> Vec<i64> {
    let (y0, m0, d0) = civil_from_days(first_day);
    let mut days = vec![first_day];
    let mut k = 1;
    while days.len() < n && k < 2000 {
        match frequency {
            Frequency::Daily => days.push(first_day + k * interval),
            Frequency::Weekly => days.push(first_day + 7 * k * interval),
            Frequency::Monthly => {
                let months = y0 * 12 + (m0 - 1) + k * interval;
                let (y, m) = (months.div_euclid(12), months.rem_euclid(12) + 1);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                let length = days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1);
                if d0 <= length {
                    days.push(days_from_civil(y, m, d0));
                }
            }
        }
        k += 1;
    }
    days
}

#[derive(Debug, Clone)]
struct SeriesCase {
    zone: &'static str,
    /// The first start (ns) and length in minutes.
    first: i128,
    minutes: i64,
    frequency: Frequency,
    interval: i64,
    count: usize,
    /// With Some(k, nudge): `until` = the k-th occurrence's start + nudge seconds, not `count`.
    until: Option<(usize, i64)>,
}

fn series_cases() -> impl Strategy<Value = SeriesCase> {
    let frequency = prop_oneof![
        Just(Frequency::Daily),
        Just(Frequency::Weekly),
        Just(Frequency::Monthly)
    ];
    let clock = prop_oneof![
        2 => 0i64..300,
        2 => (0i64..96).prop_map(|q| q * 15),
        1 => 0i64..DAY_MIN,
    ];
    (
        0..ZONES.len(),
        0usize..16,
        0i64..120,
        clock,
        prop_oneof![3 => Just(0i64), 1 => Just(60i64)],
        prop_oneof![Just(30i64), Just(60), 15i64..=240],
        frequency,
        prop_oneof![3 => 1i64..=2, 1 => 1i64..=12],
        2usize..=52,
        prop::option::weighted(0.3, (1usize..20, -1i64..=1)),
    )
        .prop_map(
            |(z, k, days_before, clock, repeat, minutes, frequency, interval, count, until)| {
                let zone = ZONES[z];
                let transitions = dst_days(zone);
                // Start up to four months before a transition, so most series cross one.
                let day = transitions[k % transitions.len()] - days_before;
                let tz = TimeZone::get(zone).expect("a zone");
                // Sometimes an hour later in real time: in a repeated hour, its second occurrence.
                let first = i128::from(local_to_utc(&tz, day * DAY_MIN + clock) + repeat) * MIN_NS;
                SeriesCase {
                    zone,
                    first,
                    minutes,
                    frequency,
                    interval,
                    count,
                    until: until.map(|(k, nudge)| (k.min(count - 1), nudge)),
                }
            },
        )
}

fn check_series_keeps_local_time(c: &SeriesCase) -> Result<(), TestCaseError> {
    let tz = TimeZone::get(c.zone).expect("a zone");
    let zone = Zone::new(c.zone).expect("a zone");
    // The first's local wall-clock time, by the reference's own offsets.
    let first_minute = (c.first / MIN_NS) as i64;
    let local = first_minute + offset_at(&tz, first_minute);
    let (first_day, clock) = (local.div_euclid(DAY_MIN), local.rem_euclid(DAY_MIN));
    let days = occurrence_days(first_day, c.frequency, c.interval, c.count);
    let mut expected: Vec<i128> = days
        .iter()
        .enumerate()
        .map(|(k, &day)| {
            if k == 0 {
                c.first
            } else {
                i128::from(local_to_utc(&tz, day * DAY_MIN + clock)) * MIN_NS
            }
        })
        .collect();
    let recurrence = match c.until {
        Some((k, nudge)) => {
            let until = expected[k] + i128::from(nudge) * SEC_NS;
            expected.retain(|&s| s <= until);
            Recurrence::until(c.frequency, c.interval, ts(until)).expect("a recurrence")
        }
        None => Recurrence::count(c.frequency, c.interval, c.count as i64).expect("a recurrence"),
    };
    let first = interval_ns(c.first, c.first + i128::from(c.minutes) * MIN_NS);
    let got = series_occurrences(first, &recurrence, &zone);
    prop_assert_eq!(
        show(&got.iter().map(|o| o.start().as_nanosecond()).collect::<Vec<_>>()),
        show(&expected)
    );
    for (k, o) in got.iter().enumerate().skip(1) {
        prop_assert_eq!(o.seconds(), c.minutes * 60, "occurrence {} keeps the length", k);
        // The same local time, unless that time does not exist on the date (then rule 2 moved it
        // by the gap).
        let m = (o.start().as_nanosecond() / MIN_NS) as i64;
        let wall = m + offset_at(&tz, m);
        let wanted = days[k] * DAY_MIN + clock;
        let exists = [
            offset_at(&tz, wanted - 2 * DAY_MIN),
            offset_at(&tz, wanted + 2 * DAY_MIN),
        ]
        .into_iter()
        .any(|off| offset_at(&tz, wanted - off) == off);
        prop_assert!(
            wall == wanted || !exists,
            "occurrence {} starts at local minute {} of its day, not {}",
            k,
            wall.rem_euclid(DAY_MIN),
            clock
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(768))]

    /// Series occurrences keep the first's local wall-clock time across DST changes in the six
    /// zones (the reference's own calendar arithmetic and rule 2), months without the day skipped,
    /// `until` inclusive.
    #[test]
    fn series_occurrences_keep_the_local_time(c in series_cases()) {
        check_series_keeps_local_time(&c)?;
    }
}

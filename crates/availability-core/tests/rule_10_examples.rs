//! Worked examples of rule 10 of slot-semantics.md and api.md's "Recurring appointments,
//! schedules, limits, holds, explanations": schedules with periods, limits, holds, series and
//! explanations, each computed by hand (Europe/Berlin unless the example says otherwise).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use availability_core::domain::jiff::civil::{date, Date};
use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{
    AppointmentId, BookingPolicy, ClientId, DateOverride, DayOfWeek, ExpertId, Frequency, Hold, HoldId, Interval,
    NamedSchedule, Recurrence, Schedule, ScheduleId, SchedulePeriod, ScheduleSet, TimeWindow, WeeklyRule, Zone,
};
use availability_core::engine::{
    check_booking, counted_bookings_window, plan_series, series_occurrences, Booking, BookingContext, BookingStatus,
    BusyTime, Hours, Limit, ReasonCode, Refusal, Requester, SeriesRefusal, SlotQuery,
};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn iv(from: &str, to: &str) -> Interval {
    Interval::new(ts(from), ts(to)).unwrap()
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

fn berlin() -> Zone {
    Zone::new("Europe/Berlin").unwrap()
}

/// Monday to Friday, the given hours, in Berlin.
fn weekdays(start: &str, end: &str) -> Schedule {
    Schedule::new(berlin(), (1..=5).map(|d| rule(d, start, end, true)).collect(), vec![]).unwrap()
}

fn policy() -> BookingPolicy {
    BookingPolicy::new(60, 60, 0, 0, 0, 730).unwrap()
}

const NOW: &str = "2026-01-01T00:00:00Z";

fn query(from: &str, to: &str) -> SlotQuery {
    SlotQuery {
        window: iv(from, to),
        now: ts(NOW),
        duration_minutes: None,
    }
}

fn starts(ctx: &BookingContext<'_>, from: &str, to: &str) -> Vec<String> {
    ctx.slots(&query(from, to), &Requester::default())
        .into_iter()
        .map(|s| s.start.to_string())
        .collect()
}

fn confirmed(from: &str, to: &str) -> Booking {
    Booking {
        id: Some(AppointmentId::new()),
        time: iv(from, to),
        status: BookingStatus::Confirmed,
    }
}

fn context<'a>(
    zone: &'a Zone,
    hours: Hours<'a>,
    policy: &'a BookingPolicy,
    bookings: &'a [Booking],
    holds: &'a [Hold],
) -> BookingContext<'a> {
    BookingContext {
        expert_zone: zone,
        hours,
        policy,
        calendar_busy: &[],
        bookings,
        holds,
    }
}

fn codes(ctx: &BookingContext<'_>, requested: Interval) -> Vec<ReasonCode> {
    let e = ctx.explain(requested, ts(NOW), &Requester::default());
    assert_eq!(e.bookable, e.reasons.is_empty());
    e.reasons.iter().map(|r| r.code).collect()
}

// ---------------------------------------------------------------------------------------------
// Schedules and periods
// ---------------------------------------------------------------------------------------------

fn term_and_summer() -> (ScheduleSet, ScheduleId) {
    let term = NamedSchedule::new(ScheduleId::new(), "Term time", true, weekdays("09:00", "12:00")).unwrap();
    let summer = NamedSchedule::new(ScheduleId::new(), "Summer", false, weekdays("10:00", "11:00")).unwrap();
    let august = SchedulePeriod::new(summer.id, date(2026, 8, 1), date(2026, 8, 31)).unwrap();
    let summer_id = summer.id;
    (ScheduleSet::new(vec![term, summer], vec![august]).unwrap(), summer_id)
}

#[test]
fn a_summer_schedule_applies_to_august_only() {
    let (set, _) = term_and_summer();
    let zone = berlin();
    let p = policy();
    let ctx = context(&zone, Hours::Set(&set), &p, &[], &[]);
    // Friday 2026-07-31: term time 09:00-12:00 CEST = 07:00Z-10:00Z, three hours.
    assert_eq!(
        starts(&ctx, "2026-07-31T00:00:00Z", "2026-08-01T00:00:00Z"),
        ["2026-07-31T07:00:00Z", "2026-07-31T08:00:00Z", "2026-07-31T09:00:00Z"]
    );
    // Monday 2026-08-03 and Monday 2026-08-31 (the period's last date): summer, 10:00-11:00 CEST.
    assert_eq!(
        starts(&ctx, "2026-08-03T00:00:00Z", "2026-08-04T00:00:00Z"),
        ["2026-08-03T08:00:00Z"]
    );
    assert_eq!(
        starts(&ctx, "2026-08-31T00:00:00Z", "2026-09-01T00:00:00Z"),
        ["2026-08-31T08:00:00Z"]
    );
    // Tuesday 2026-09-01: term time again.
    assert_eq!(starts(&ctx, "2026-09-01T00:00:00Z", "2026-09-02T00:00:00Z").len(), 3);
    // The whole of August: 21 weekdays of one slot each.
    assert_eq!(starts(&ctx, "2026-08-01T00:00:00Z", "2026-09-01T00:00:00Z").len(), 21);
    // Booking follows the same schedule: 09:00 CEST on an August Monday is outside the hours.
    let requested = iv("2026-08-03T07:00:00Z", "2026-08-03T08:00:00Z");
    assert_eq!(
        ctx.check(requested, ts(NOW), &Requester::default()),
        Err(Refusal::SlotUnavailable(ReasonCode::OutsideHours))
    );
}

#[test]
fn the_overrides_of_the_schedule_in_force_apply_and_others_do_not() {
    let mut term_hours = weekdays("09:00", "12:00");
    // An override of the default for an August date is not in force (summer applies then).
    term_hours.overrides.push(DateOverride {
        date: date(2026, 8, 4),
        windows: vec![TimeWindow::new("13:00".parse().unwrap(), "14:00".parse().unwrap()).unwrap()],
    });
    let mut summer_hours = weekdays("10:00", "11:00");
    summer_hours.overrides.push(DateOverride {
        date: date(2026, 8, 5),
        windows: vec![],
    });
    let term = NamedSchedule::new(ScheduleId::new(), "Term time", true, term_hours).unwrap();
    let summer = NamedSchedule::new(ScheduleId::new(), "Summer", false, summer_hours).unwrap();
    let august = SchedulePeriod::new(summer.id, date(2026, 8, 1), date(2026, 8, 31)).unwrap();
    let set = ScheduleSet::new(vec![term, summer], vec![august]).unwrap();
    let zone = berlin();
    let p = policy();
    let ctx = context(&zone, Hours::Set(&set), &p, &[], &[]);
    assert_eq!(
        starts(&ctx, "2026-08-04T00:00:00Z", "2026-08-05T00:00:00Z"),
        ["2026-08-04T08:00:00Z"]
    );
    assert_eq!(
        starts(&ctx, "2026-08-05T00:00:00Z", "2026-08-06T00:00:00Z"),
        Vec::<String>::new()
    );
    assert_eq!(
        codes(&ctx, iv("2026-08-05T08:00:00Z", "2026-08-05T09:00:00Z")),
        [ReasonCode::DayOff]
    );
}

#[test]
fn a_night_shift_runs_across_the_period_boundary_as_one_window() {
    // Default: Friday 22:00-24:00. From Saturday 2026-08-01 (summer): Saturday 00:00-02:00. The two
    // windows touch at midnight and merge into one, 20:00Z-00:00Z, whose grid (90 minutes) starts
    // at 20:00Z: 20:00Z and 21:30Z (22:30Z + 90 > 00:00Z).
    let night = Schedule::new(berlin(), vec![rule(5, "22:00", "24:00", true)], vec![]).unwrap();
    let early = Schedule::new(berlin(), vec![rule(6, "00:00", "02:00", true)], vec![]).unwrap();
    let default = NamedSchedule::new(ScheduleId::new(), "Nights", true, night).unwrap();
    let summer = NamedSchedule::new(ScheduleId::new(), "Summer", false, early).unwrap();
    let period = SchedulePeriod::new(summer.id, date(2026, 8, 1), date(2026, 8, 31)).unwrap();
    let set = ScheduleSet::new(vec![default, summer], vec![period]).unwrap();
    let zone = berlin();
    let p = BookingPolicy::new(90, 90, 0, 0, 0, 730).unwrap();
    let ctx = context(&zone, Hours::Set(&set), &p, &[], &[]);
    assert_eq!(
        starts(&ctx, "2026-07-31T00:00:00Z", "2026-08-02T00:00:00Z"),
        ["2026-07-31T20:00:00Z", "2026-07-31T21:30:00Z"]
    );
    // The 22:00 CEST candidate is off that grid.
    assert_eq!(
        codes(&ctx, iv("2026-07-31T20:30:00Z", "2026-07-31T22:00:00Z")),
        [ReasonCode::NotOnGrid]
    );
}

#[test]
fn a_schedule_in_another_zone_gives_its_own_local_hours() {
    // The expert lives in Berlin; in August they work Lisbon hours, 09:00-10:00 WEST = 08:00Z.
    let lisbon = Schedule::new(
        Zone::new("Europe/Lisbon").unwrap(),
        (1..=5).map(|d| rule(d, "09:00", "10:00", true)).collect(),
        vec![],
    )
    .unwrap();
    let home = NamedSchedule::new(ScheduleId::new(), "Home", true, weekdays("09:00", "10:00")).unwrap();
    let away = NamedSchedule::new(ScheduleId::new(), "Lisbon", false, lisbon).unwrap();
    let period = SchedulePeriod::new(away.id, date(2026, 8, 1), date(2026, 8, 31)).unwrap();
    let set = ScheduleSet::new(vec![home, away], vec![period]).unwrap();
    let zone = berlin();
    let p = policy();
    let ctx = context(&zone, Hours::Set(&set), &p, &[], &[]);
    assert_eq!(
        starts(&ctx, "2026-07-31T00:00:00Z", "2026-08-04T00:00:00Z"),
        ["2026-07-31T07:00:00Z", "2026-08-03T08:00:00Z"]
    );
}

#[test]
fn a_window_that_began_days_earlier_in_another_zone_anchors_the_grid_there() {
    // The expert lives in Berlin (no hours); from Monday 2026-03-02 to Friday 2026-03-06 they work
    // round the clock New York time: one window from 2026-03-02 00:00 EST = 05:00Z to 2026-03-07
    // 00:00 EST. Seven-hour grid from 05:00Z on 2026-03-02: ..., 10:00Z and 17:00Z on the 5th,
    // 00:00Z and 07:00Z on the 6th. The engine must look back past New York's midnight (later
    // than Berlin's) to find that start.
    let ny = Schedule::new(
        Zone::new("America/New_York").unwrap(),
        (0..7).map(|d| rule(d, "00:00", "24:00", true)).collect(),
        vec![],
    )
    .unwrap();
    let home = NamedSchedule::new(ScheduleId::new(), "Home", true, Schedule::empty(berlin())).unwrap();
    let away = NamedSchedule::new(ScheduleId::new(), "New York", false, ny).unwrap();
    let period = SchedulePeriod::new(away.id, date(2026, 3, 2), date(2026, 3, 6)).unwrap();
    let set = ScheduleSet::new(vec![home, away], vec![period]).unwrap();
    let zone = berlin();
    let p = BookingPolicy::new(60, 420, 0, 0, 0, 730).unwrap();
    let ctx = context(&zone, Hours::Set(&set), &p, &[], &[]);
    assert_eq!(
        starts(&ctx, "2026-03-05T12:00:00Z", "2026-03-06T12:00:00Z"),
        ["2026-03-05T17:00:00Z", "2026-03-06T00:00:00Z", "2026-03-06T07:00:00Z"]
    );
    let requested = iv("2026-03-05T17:00:00Z", "2026-03-05T18:00:00Z");
    assert_eq!(ctx.check(requested, ts(NOW), &Requester::default()), Ok(()));
}

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

#[test]
fn a_limit_of_two_a_day_hides_the_day_after_two_bookings_and_refuses_a_third() {
    let hours = weekdays("09:00", "13:00");
    let zone = berlin();
    let p = policy().with_max_bookings_per_day(Some(2)).unwrap();
    let monday = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");
    let one = [confirmed("2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z")];
    let ctx = context(&zone, Hours::One(&hours), &p, &one, &[]);
    assert_eq!(
        starts(&ctx, monday.0, monday.1),
        ["2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"]
    );
    let two = [one[0], confirmed("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")];
    let ctx = context(&zone, Hours::One(&hours), &p, &two, &[]);
    assert_eq!(starts(&ctx, monday.0, monday.1), Vec::<String>::new());
    // Tuesday is untouched.
    assert_eq!(starts(&ctx, "2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z").len(), 4);
    let third = iv("2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z");
    assert_eq!(
        ctx.check(third, ts(NOW), &Requester::default()),
        Err(Refusal::LimitReached(Limit::BookingsPerDay))
    );
    let e = ctx.explain(third, ts(NOW), &Requester::default());
    assert!(!e.bookable);
    assert_eq!(e.reasons.len(), 1);
    let r = &e.reasons[0];
    assert_eq!(r.code, ReasonCode::LimitReached);
    assert_eq!(r.detail.as_deref(), Some("max_bookings_per_day"));
    // The day in Berlin: 2026-03-01T23:00Z to 2026-03-02T23:00Z.
    assert_eq!((r.from, r.to), (ts("2026-03-01T23:00:00Z"), ts("2026-03-02T23:00:00Z")));
    assert_eq!(
        r.message,
        "The expert takes at most 2 bookings a day, and that day is full."
    );
    // A pending appointment counts too (but does not hold its time).
    let pending = [
        one[0],
        Booking {
            status: BookingStatus::Pending,
            ..confirmed("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")
        },
    ];
    let ctx = context(&zone, Hours::One(&hours), &p, &pending, &[]);
    assert_eq!(starts(&ctx, monday.0, monday.1), Vec::<String>::new());
    let unlimited = policy();
    let ctx = context(&zone, Hours::One(&hours), &unlimited, &pending, &[]);
    assert_eq!(
        starts(&ctx, monday.0, monday.1),
        ["2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"],
        "a pending appointment does not hold its time"
    );
}

#[test]
fn weeks_start_on_monday_in_the_experts_zone() {
    // Every day 00:00-24:00 in New York, at most 3 a week. Three bookings on Monday 2026-03-02
    // (EST). Sunday 2026-03-01 belongs to the week before; Sunday 2026-03-08 closes this week; the
    // next week begins at Monday 2026-03-09 00:00 EDT = 04:00Z, after the spring forward.
    let ny = Zone::new("America/New_York").unwrap();
    let hours = Schedule::new(
        ny.clone(),
        (0..7).map(|d| rule(d, "00:00", "24:00", true)).collect(),
        vec![],
    )
    .unwrap();
    let p = policy().with_max_bookings_per_week(Some(3)).unwrap();
    let bookings = [
        confirmed("2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z"),
        confirmed("2026-03-02T16:00:00Z", "2026-03-02T17:00:00Z"),
        confirmed("2026-03-02T18:00:00Z", "2026-03-02T19:00:00Z"),
    ];
    let ctx = context(&ny, Hours::One(&hours), &p, &bookings, &[]);
    // Sunday 2026-03-01 22:00 and 23:00 EST (03:00Z, 04:00Z) are in the week before; the next
    // week's first hours are 00:00 and 01:00 EDT (04:00Z, 05:00Z).
    assert_eq!(
        starts(&ctx, "2026-03-02T03:00:00Z", "2026-03-09T06:00:00Z"),
        [
            "2026-03-02T03:00:00Z",
            "2026-03-02T04:00:00Z",
            "2026-03-09T04:00:00Z",
            "2026-03-09T05:00:00Z"
        ]
    );
    let sunday = iv("2026-03-09T03:00:00Z", "2026-03-09T04:00:00Z");
    assert_eq!(
        ctx.check(sunday, ts(NOW), &Requester::default()),
        Err(Refusal::LimitReached(Limit::BookingsPerWeek))
    );
    let e = ctx.explain(sunday, ts(NOW), &Requester::default());
    assert_eq!(
        (e.reasons[0].from, e.reasons[0].to),
        (ts("2026-03-02T05:00:00Z"), ts("2026-03-09T04:00:00Z"))
    );
}

#[test]
fn a_month_limit_and_a_minutes_limit() {
    let hours = weekdays("09:00", "17:00");
    let zone = berlin();
    let p = policy()
        .with_max_bookings_per_month(Some(2))
        .unwrap()
        .with_max_booked_minutes_per_day(Some(150))
        .unwrap();
    // Two bookings in March: all of March is full, April is not.
    let march = [
        confirmed("2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z"),
        confirmed("2026-03-31T08:00:00Z", "2026-03-31T09:00:00Z"),
    ];
    let ctx = context(&zone, Hours::One(&hours), &p, &march, &[]);
    assert_eq!(starts(&ctx, "2026-03-01T00:00:00Z", "2026-03-31T22:00:00Z").len(), 0);
    assert_eq!(starts(&ctx, "2026-03-31T22:00:00Z", "2026-04-02T00:00:00Z").len(), 8);
    // 120 minutes booked on April 1st: a 60-minute slot would make 180 > 150; 30 minutes fit.
    let april = [confirmed("2026-04-01T07:00:00Z", "2026-04-01T09:00:00Z")];
    let ctx = context(&zone, Hours::One(&hours), &p, &april, &[]);
    assert_eq!(starts(&ctx, "2026-04-01T00:00:00Z", "2026-04-02T00:00:00Z").len(), 0);
    let half_hour = SlotQuery {
        duration_minutes: Some(30),
        ..query("2026-04-01T00:00:00Z", "2026-04-02T00:00:00Z")
    };
    assert_eq!(ctx.slots(&half_hour, &Requester::default()).len(), 6);
    let hour = iv("2026-04-01T10:00:00Z", "2026-04-01T11:00:00Z");
    assert_eq!(
        ctx.check(hour, ts(NOW), &Requester::default()),
        Err(Refusal::LimitReached(Limit::BookedMinutesPerDay))
    );
}

#[test]
fn a_reschedule_within_the_same_day_does_not_count_twice() {
    let hours = weekdays("09:00", "13:00");
    let zone = berlin();
    let p = policy().with_max_bookings_per_day(Some(2)).unwrap();
    let moving = confirmed("2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z");
    let bookings = [moving, confirmed("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")];
    let ctx = context(&zone, Hours::One(&hours), &p, &bookings, &[]);
    let later = iv("2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z");
    assert_eq!(
        ctx.check(later, ts(NOW), &Requester::default()),
        Err(Refusal::LimitReached(Limit::BookingsPerDay)),
        "a new booking would be the third"
    );
    let mover = Requester {
        rescheduling: moving.id,
        ..Requester::default()
    };
    assert_eq!(ctx.check(later, ts(NOW), &mover), Ok(()));
    let shown: Vec<String> = ctx
        .slots(&query("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"), &mover)
        .into_iter()
        .map(|s| s.start.to_string())
        .collect();
    assert_eq!(
        shown,
        ["2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z", "2026-03-02T11:00:00Z"],
        "the mover sees its own old time free, and the day with room for the move"
    );
}

// ---------------------------------------------------------------------------------------------
// Holds
// ---------------------------------------------------------------------------------------------

fn hold(from: &str, to: &str, expires: &str) -> Hold {
    Hold {
        id: HoldId::new(),
        expert_id: ExpertId::new(),
        client_id: ClientId::new(),
        time: iv(from, to),
        expires_at: ts(expires),
    }
}

#[test]
fn a_hold_blocks_others_but_not_its_holder() {
    let hours = weekdays("09:00", "12:00");
    let zone = berlin();
    let p = BookingPolicy::new(60, 60, 0, 30, 0, 730).unwrap();
    let h = hold("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "2026-01-01T00:05:00Z");
    let holds = [h.clone()];
    let ctx = context(&zone, Hours::One(&hours), &p, &[], &holds);
    let monday = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");
    // 08:00Z is gone too: its 30-minute buffer after reaches the hold.
    assert_eq!(starts(&ctx, monday.0, monday.1), ["2026-03-02T10:00:00Z"]);
    let held = iv("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z");
    assert_eq!(ctx.check(held, ts(NOW), &Requester::default()), Err(Refusal::SlotTaken));
    assert_eq!(codes(&ctx, held), [ReasonCode::Held]);
    assert_eq!(
        codes(&ctx, iv("2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z")),
        [ReasonCode::Buffer]
    );
    let holder = Requester {
        hold: Some(h.id),
        ..Requester::default()
    };
    assert_eq!(ctx.check(held, ts(NOW), &holder), Ok(()));
    assert_eq!(
        ctx.slots(&query(monday.0, monday.1), &holder).len(),
        3,
        "the holder sees the held time (and its neighbour) free"
    );
    // Once expired, it blocks nobody.
    let later = SlotQuery {
        now: ts("2026-01-01T00:05:00Z"),
        ..query(monday.0, monday.1)
    };
    assert_eq!(ctx.slots(&later, &Requester::default()).len(), 3);
    assert_eq!(
        ctx.check(held, ts("2026-01-01T00:05:00Z"), &Requester::default()),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------
// Series
// ---------------------------------------------------------------------------------------------

fn local(zone: &Zone, t: Timestamp) -> String {
    zone.tz().to_datetime(t).to_string()
}

#[test]
fn a_ten_week_series_keeps_ten_oclock_across_the_berlin_dst_change() {
    let zone = berlin();
    // Monday 2026-03-09 10:00 CET = 09:00Z; the clocks go forward on 2026-03-29.
    let first = iv("2026-03-09T09:00:00Z", "2026-03-09T10:00:00Z");
    let weekly = Recurrence::count(Frequency::Weekly, 1, 10).unwrap();
    let got = series_occurrences(first, &weekly, &zone);
    assert_eq!(got.len(), 10);
    let utc: Vec<String> = got.iter().map(|o| o.start().to_string()).collect();
    assert_eq!(
        utc,
        [
            "2026-03-09T09:00:00Z",
            "2026-03-16T09:00:00Z",
            "2026-03-23T09:00:00Z",
            "2026-03-30T08:00:00Z",
            "2026-04-06T08:00:00Z",
            "2026-04-13T08:00:00Z",
            "2026-04-20T08:00:00Z",
            "2026-04-27T08:00:00Z",
            "2026-05-04T08:00:00Z",
            "2026-05-11T08:00:00Z"
        ]
    );
    for o in &got {
        assert_eq!(&local(&zone, o.start())[10..], "T10:00:00");
        assert_eq!(o.seconds(), 3600);
    }
    // The policy must allow it, and every occurrence is then checked like a booking.
    let hours = weekdays("09:00", "12:00");
    let off = policy();
    assert_eq!(
        plan_series(first, &weekly, &zone, &off, ts(NOW)),
        Err(SeriesRefusal::Off)
    );
    let on = policy().with_max_series_occurrences(10).unwrap();
    let planned = plan_series(first, &weekly, &zone, &on, ts(NOW)).unwrap();
    assert_eq!(planned, got);
    let ctx = context(&zone, Hours::One(&hours), &on, &[], &[]);
    assert!(ctx
        .check_series(&planned, ts(NOW), &Requester::default())
        .iter()
        .all(Result::is_ok));
    let nine = policy().with_max_series_occurrences(9).unwrap();
    assert_eq!(
        plan_series(first, &weekly, &zone, &nine, ts(NOW)),
        Err(SeriesRefusal::TooMany {
            allowed: 9,
            occurrences: 10
        })
    );
}

#[test]
fn a_series_checks_each_occurrence_with_the_ones_before_it() {
    // Daily at 09:00 for 5 days, limit 3 a week; Monday 2026-03-02 to Friday: the 4th and 5th are
    // refused (the first three fill the week). A booking on Wednesday blocks that occurrence.
    let zone = berlin();
    let hours = weekdays("09:00", "12:00");
    let p = policy()
        .with_max_series_occurrences(5)
        .unwrap()
        .with_max_bookings_per_week(Some(3))
        .unwrap();
    let wednesday = [confirmed("2026-03-04T08:00:00Z", "2026-03-04T09:00:00Z")];
    let ctx = context(&zone, Hours::One(&hours), &p, &wednesday, &[]);
    let first = iv("2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z");
    let daily = Recurrence::count(Frequency::Daily, 1, 5).unwrap();
    let planned = plan_series(first, &daily, &zone, &p, ts(NOW)).unwrap();
    let verdicts = ctx.check_series(&planned, ts(NOW), &Requester::default());
    assert_eq!(
        verdicts,
        [
            Ok(()),
            Ok(()),
            Err(Refusal::SlotTaken),
            Err(Refusal::LimitReached(Limit::BookingsPerWeek)),
            Err(Refusal::LimitReached(Limit::BookingsPerWeek)),
        ]
    );
}

#[test]
fn monthly_on_the_31st_skips_the_months_without_it() {
    let zone = berlin();
    let first = iv("2026-01-31T09:00:00Z", "2026-01-31T09:30:00Z");
    let monthly = Recurrence::count(Frequency::Monthly, 1, 4).unwrap();
    let dates: Vec<Date> = series_occurrences(first, &monthly, &zone)
        .iter()
        .map(|o| zone.tz().to_datetime(o.start()).date())
        .collect();
    assert_eq!(
        dates,
        [
            date(2026, 1, 31),
            date(2026, 3, 31),
            date(2026, 5, 31),
            date(2026, 7, 31)
        ]
    );
    // Every second month from the 30th of December: February has no 30th, April has.
    let first = iv("2025-12-30T09:00:00Z", "2025-12-30T09:30:00Z");
    let every_other = Recurrence::count(Frequency::Monthly, 2, 3).unwrap();
    let dates: Vec<Date> = series_occurrences(first, &every_other, &zone)
        .iter()
        .map(|o| zone.tz().to_datetime(o.start()).date())
        .collect();
    assert_eq!(dates, [date(2025, 12, 30), date(2026, 4, 30), date(2026, 6, 30)]);
}

#[test]
fn until_includes_an_occurrence_that_starts_exactly_then() {
    let zone = berlin();
    let first = iv("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z");
    let until = Recurrence::until(Frequency::Daily, 2, ts("2026-03-06T09:00:00Z")).unwrap();
    let starts: Vec<String> = series_occurrences(first, &until, &zone)
        .iter()
        .map(|o| o.start().to_string())
        .collect();
    assert_eq!(
        starts,
        ["2026-03-02T09:00:00Z", "2026-03-04T09:00:00Z", "2026-03-06T09:00:00Z"]
    );
    let just_before = Recurrence::until(Frequency::Daily, 2, ts("2026-03-06T08:59:59Z")).unwrap();
    assert_eq!(series_occurrences(first, &just_before, &zone).len(), 2);
    // An `until` that leaves only the first occurrence is no series; one far away is too long.
    let p = policy().with_max_series_occurrences(52).unwrap();
    let too_soon = Recurrence::until(Frequency::Daily, 1, ts("2026-03-02T12:00:00Z")).unwrap();
    assert_eq!(
        plan_series(first, &too_soon, &zone, &p, ts(NOW)),
        Err(SeriesRefusal::TooFew)
    );
    let two_years = Recurrence::until(Frequency::Weekly, 1, ts("2028-03-02T09:00:00Z")).unwrap();
    assert_eq!(
        series_occurrences(first, &two_years, &zone).len(),
        53,
        "stops one past 52"
    );
    assert!(matches!(
        plan_series(first, &two_years, &zone, &p, ts(NOW)),
        Err(SeriesRefusal::TooMany { allowed: 52, .. })
    ));
    // Beyond the horizon (30 days from now).
    let short = BookingPolicy::new(60, 60, 0, 0, 0, 30)
        .unwrap()
        .with_max_series_occurrences(5)
        .unwrap();
    let weekly = Recurrence::count(Frequency::Weekly, 1, 5).unwrap();
    let soon = iv("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z");
    assert_eq!(
        plan_series(soon, &weekly, &zone, &short, ts(NOW)),
        Err(SeriesRefusal::BeyondHorizon(ts("2026-02-02T09:00:00Z")))
    );
}

#[test]
fn a_local_time_in_the_spring_forward_gap_takes_the_offset_before_it() {
    // Daily at 02:30 New York from Saturday 2026-03-07 (EST, 07:30Z): on Sunday 2026-03-08 02:30
    // does not exist and means 02:30 EST = 07:30Z (03:30 EDT); on Monday it is 02:30 EDT = 06:30Z.
    let ny = Zone::new("America/New_York").unwrap();
    let first = iv("2026-03-07T07:30:00Z", "2026-03-07T08:00:00Z");
    let daily = Recurrence::count(Frequency::Daily, 1, 3).unwrap();
    let starts: Vec<String> = series_occurrences(first, &daily, &ny)
        .iter()
        .map(|o| o.start().to_string())
        .collect();
    assert_eq!(
        starts,
        ["2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"]
    );
}

// ---------------------------------------------------------------------------------------------
// Explanations
// ---------------------------------------------------------------------------------------------

#[test]
fn an_explanation_gives_every_reason_not_only_the_first() {
    // Tuesday 2026-03-03, hours 09:00-12:00 with a break 10:00-10:30, 60-minute slots every 60
    // minutes, buffers 15/15, notice 60 minutes, now = Tuesday 08:30Z (09:30 CET).
    let zone = berlin();
    let hours = Schedule::new(
        zone.clone(),
        vec![rule(2, "09:00", "12:00", true), rule(2, "10:00", "10:30", false)],
        vec![],
    )
    .unwrap();
    let p = BookingPolicy::new(60, 60, 15, 15, 60, 730).unwrap();
    let busy = [BusyTime {
        time: iv("2026-03-03T09:45:00Z", "2026-03-03T10:00:00Z"),
        calendar: Some("Work".into()),
        title: Some("Dentist".into()),
    }];
    let appointments = [confirmed("2026-03-03T10:30:00Z", "2026-03-03T11:00:00Z")];
    let ctx = BookingContext {
        expert_zone: &zone,
        hours: Hours::One(&hours),
        policy: &p,
        calendar_busy: &busy,
        bookings: &appointments,
        holds: &[],
    };
    let now = ts("2026-03-03T08:30:00Z");
    let requested = iv("2026-03-03T08:40:00Z", "2026-03-03T09:40:00Z");
    let e = ctx.explain(requested, now, &Requester::default());
    let got: Vec<(ReasonCode, String, String)> = e
        .reasons
        .iter()
        .map(|r| (r.code, r.from.to_string(), r.to.to_string()))
        .collect();
    // 09:40-10:40 CET: it starts before now + notice (09:30Z); its part 09:00Z-09:30Z is the break
    // (10:00-10:30 CET); the calendar's busy time 09:45Z-10:00Z is reached by the 15-minute buffer
    // after it; the appointment at 10:30Z is not reached.
    assert_eq!(
        got,
        [
            (
                ReasonCode::MinimumNotice,
                "2026-03-03T08:30:00Z".to_owned(),
                "2026-03-03T09:30:00Z".to_owned()
            ),
            (
                ReasonCode::Break,
                "2026-03-03T09:00:00Z".to_owned(),
                "2026-03-03T09:30:00Z".to_owned()
            ),
            (
                ReasonCode::Buffer,
                "2026-03-03T09:45:00Z".to_owned(),
                "2026-03-03T10:00:00Z".to_owned()
            ),
        ]
    );
    assert_eq!(e.reasons[2].detail.as_deref(), Some("Work"));
    assert_eq!(
        ctx.check(requested, now, &Requester::default()),
        Err(Refusal::SlotUnavailable(ReasonCode::MinimumNotice)),
        "a booking is refused with the first reason"
    );
    // 10:45-12:45 CET: over the calendar's busy time, the appointment, and past the end of the
    // hours (11:00Z-11:45Z).
    let late = iv("2026-03-03T09:45:00Z", "2026-03-03T11:45:00Z");
    let e = ctx.explain(late, now, &Requester::default());
    let got: Vec<(ReasonCode, String, String)> = e
        .reasons
        .iter()
        .map(|r| (r.code, r.from.to_string(), r.to.to_string()))
        .collect();
    let at = |s: &str| s.to_owned();
    assert_eq!(
        got,
        [
            (
                ReasonCode::Appointment,
                at("2026-03-03T10:30:00Z"),
                at("2026-03-03T11:00:00Z")
            ),
            (
                ReasonCode::OutsideHours,
                at("2026-03-03T11:00:00Z"),
                at("2026-03-03T11:45:00Z")
            ),
            (
                ReasonCode::CalendarBusy,
                at("2026-03-03T09:45:00Z"),
                at("2026-03-03T10:00:00Z")
            ),
        ]
    );
    assert_eq!(ctx.check(late, now, &Requester::default()), Err(Refusal::SlotTaken));
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["bookable"], false);
    assert_eq!(json["reasons"][0]["code"], "appointment");
    assert_eq!(json["reasons"][2]["code"], "calendar_busy");
    assert_eq!(json["reasons"][2]["detail"], "Work");
    assert_eq!(
        json["reasons"][2]["message"],
        "The expert's calendar \"Work\" is busy at this time."
    );
    assert!(
        !json.to_string().contains("Dentist"),
        "the event's title is not serialized"
    );
    assert_eq!(e.reasons[2].event_title.as_deref(), Some("Dentist"));
}

#[test]
fn an_explanation_of_a_bookable_time_is_empty_and_of_off_grid_names_the_neighbours() {
    let zone = berlin();
    let hours = weekdays("09:00", "12:00");
    let p = BookingPolicy::new(30, 30, 0, 0, 0, 730).unwrap();
    let ctx = context(&zone, Hours::One(&hours), &p, &[], &[]);
    let ok = ctx.explain(
        iv("2026-03-02T08:30:00Z", "2026-03-02T09:00:00Z"),
        ts(NOW),
        &Requester::default(),
    );
    assert!(ok.bookable && ok.reasons.is_empty());
    let off = ctx.explain(
        iv("2026-03-02T08:10:00Z", "2026-03-02T08:40:00Z"),
        ts(NOW),
        &Requester::default(),
    );
    assert_eq!(off.reasons.len(), 1);
    assert_eq!(off.reasons[0].code, ReasonCode::NotOnGrid);
    assert_eq!(
        off.reasons[0].detail.as_deref(),
        Some("nearest start times: 2026-03-02T08:00:00Z, 2026-03-02T08:30:00Z")
    );
    // In the past, beyond the horizon, a day off and a day of special hours.
    assert_eq!(
        codes(&ctx, iv("2025-12-01T08:00:00Z", "2025-12-01T08:30:00Z")),
        [ReasonCode::InPast]
    );
    assert_eq!(
        codes(&ctx, iv("2028-03-06T08:00:00Z", "2028-03-06T08:30:00Z")),
        [ReasonCode::BeyondHorizon]
    );
    let mut special = weekdays("09:00", "12:00");
    special.overrides = vec![
        DateOverride {
            date: date(2026, 3, 2),
            windows: vec![],
        },
        DateOverride {
            date: date(2026, 3, 3),
            windows: vec![TimeWindow::new("14:00".parse().unwrap(), "15:00".parse().unwrap()).unwrap()],
        },
    ];
    let ctx = context(&zone, Hours::One(&special), &p, &[], &[]);
    let e = ctx.explain(
        iv("2026-03-02T08:00:00Z", "2026-03-02T08:30:00Z"),
        ts(NOW),
        &Requester::default(),
    );
    assert_eq!(e.reasons[0].code, ReasonCode::DayOff);
    assert_eq!(e.reasons[0].message, "The expert is off on 2026-03-02.");
    assert_eq!(
        codes(&ctx, iv("2026-03-03T08:00:00Z", "2026-03-03T08:30:00Z")),
        [ReasonCode::SpecialHours]
    );
}

#[test]
fn the_old_entry_points_apply_no_limits() {
    // check_booking cannot tell appointments that count from calendar busy time: no limits.
    let hours = weekdays("09:00", "13:00");
    let p = policy().with_max_bookings_per_day(Some(1)).unwrap();
    let one = [iv("2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z")];
    let requested = iv("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z");
    assert_eq!(check_booking(&hours, &p, &one, &[], requested, ts(NOW)), Ok(()));
}

#[test]
fn the_counted_window_covers_the_months_and_weeks_around_the_query() {
    // A query in Berlin on Tuesday 2026-03-31: its month and week (Monday 2026-03-30) with two
    // spare days on either side: from 2026-03-01 00:00 CET (the month of 2026-03-29) to the end
    // of April (the month of 2026-04-02), 2026-05-01 00:00 CEST.
    let w = counted_bookings_window(&berlin(), iv("2026-03-31T08:00:00Z", "2026-03-31T09:00:00Z"));
    assert_eq!(w.start(), ts("2026-02-28T23:00:00Z"));
    assert_eq!(w.end(), ts("2026-04-30T22:00:00Z"));
    // Early in a month the week before reaches into the previous month: Thursday 2026-01-01's
    // week starts on Monday 2025-12-29, and 2025-12-30 (two days earlier) is in December.
    let w = counted_bookings_window(&berlin(), iv("2026-01-01T08:00:00Z", "2026-01-01T09:00:00Z"));
    assert_eq!(w.start(), ts("2025-11-30T23:00:00Z"));
}

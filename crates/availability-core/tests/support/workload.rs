//! The standard slot-engine workload of `benchmark-workload.md`, shared by the criterion benchmark
//! (`benches/slot_engine.rs`) and the integration test (`tests/standard_workload.rs`).
//!
//! Europe/Berlin, Monday to Friday 09:00-12:00 and 13:00-17:00, window
//! [2027-01-04T00:00:00Z, 2027-04-04T00:00:00Z), 30-minute slots every 15 minutes, no buffers, no
//! notice, a 730-day horizon, `now` = 2027-01-01T00:00:00Z, busy intervals from mulberry32 seed 42.
//!
//! [`Rule10Workload`] is the same input through rule 10 (schedules with periods, limits, holds),
//! arranged so that the answer stays the same and only the cost of the machinery shows.

use std::error::Error;

use availability_core::domain::jiff::civil::date;
use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    AppointmentId, BookingPolicy, ClientId, DayOfWeek, ExpertId, Hold, HoldId, Interval, LocalTime, NamedSchedule,
    Schedule, ScheduleId, SchedulePeriod, ScheduleSet, WeeklyRule, Zone,
};
use availability_core::engine::{Booking, BookingContext, BookingStatus, BusyTime, Hours, SlotQuery};

/// The window's start.
pub const WINDOW_START: &str = "2027-01-04T00:00:00Z";
/// The window's end (90 days later, across the DST change of 2027-03-28).
pub const WINDOW_END: &str = "2027-04-04T00:00:00Z";
/// `now`, before the window.
pub const NOW: &str = "2027-01-01T00:00:00Z";
/// The seed of the busy-interval stream.
pub const SEED: u32 = 42;
/// The largest busy set the workload uses.
pub const MAX_BUSY: usize = 10_000;
/// (busy intervals, slots) as `benchmark-workload.md` documents them.
pub const EXPECTED_SLOTS: [(usize, usize); 3] = [(0, 1_690), (1_000, 839), (10_000, 0)];

/// The PRNG mulberry32, with wrapping 32-bit arithmetic exactly as `benchmark-workload.md` gives it.
pub struct Mulberry32 {
    state: u32,
}

impl Mulberry32 {
    /// A stream starting at `seed`.
    pub fn new(seed: u32) -> Self {
        Self { state: seed }
    }

    /// The next draw, in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x6D2B_79F5);
        let mut t = self.state;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        f64::from(t ^ (t >> 14)) / 4_294_967_296.0
    }
}

/// Everything one call of the engine takes, plus the largest busy set.
pub struct Workload {
    /// Europe/Berlin, Monday to Friday 09:00-12:00 and 13:00-17:00.
    pub schedule: Schedule,
    /// Duration 30, interval 15, no buffers, no notice, horizon 730 days.
    pub policy: BookingPolicy,
    /// The 90-day window, seen at 2027-01-01T00:00:00Z, with the policy's duration.
    pub query: SlotQuery,
    /// The first `MAX_BUSY` busy intervals of the stream; the n-interval set is `busy[..n]`.
    pub busy: Vec<Interval>,
}

/// Monday to Friday 09:00-12:00 and 13:00-17:00 in Berlin.
fn standard_hours() -> Result<Schedule, Box<dyn Error>> {
    let zone = Zone::new("Europe/Berlin")?;
    let hm = |h: u8, m: u8| LocalTime::from_hm(h, m);
    let mut rules = Vec::with_capacity(10);
    for day in 1..=5 {
        let day = DayOfWeek::new(day)?;
        rules.push(WeeklyRule::new(day, hm(9, 0)?, hm(12, 0)?, true)?);
        rules.push(WeeklyRule::new(day, hm(13, 0)?, hm(17, 0)?, true)?);
    }
    Ok(Schedule::new(zone, rules, Vec::new())?)
}

impl Workload {
    /// Builds the standard workload.
    pub fn standard() -> Result<Self, Box<dyn Error>> {
        let schedule = standard_hours()?;
        let policy = BookingPolicy::new(30, 15, 0, 0, 0, 730)?;
        let query = SlotQuery {
            window: Interval::new(WINDOW_START.parse()?, WINDOW_END.parse()?)?,
            now: NOW.parse()?,
            duration_minutes: None,
        };
        let busy = busy_intervals(SEED, MAX_BUSY)?;
        Ok(Self {
            schedule,
            policy,
            query,
            busy,
        })
    }
}

/// The first `n` busy intervals of the mulberry32 stream with `seed`: interval i takes two draws,
/// start = window start + 5 * floor(r() * 25920) minutes, then duration = 15 + floor(r() * 106)
/// minutes. Unsorted; they may overlap and run past the window's end.
pub fn busy_intervals(seed: u32, n: usize) -> Result<Vec<Interval>, Box<dyn Error>> {
    let window_start: Timestamp = WINDOW_START.parse()?;
    let mut rng = Mulberry32::new(seed);
    (0..n)
        .map(|_| {
            let start_minutes = 5 * (rng.next_f64() * 25_920.0).floor() as i64;
            let duration_minutes = 15 + (rng.next_f64() * 106.0).floor() as i64;
            let start = window_start + SignedDuration::from_mins(start_minutes);
            Ok(Interval::new(
                start,
                start + SignedDuration::from_mins(duration_minutes),
            )?)
        })
        .collect()
}

/// The standard workload through rule 10, with the same answer: a default schedule and a "Term"
/// schedule with the same hours applied in two periods (one across the DST change); the n busy
/// intervals split into calendar busy time (40%, labelled), confirmed appointments (50%) and
/// active holds (10%); n/10 pending appointments from mulberry32 seed 43 (they count but do not
/// block); limits of 50 a day, 250 a week, 1,000 a month and 1,440 minutes a day, which the 1,000
/// set never reaches (the 10,000 set has no slots either way).
pub struct Rule10Workload {
    /// Europe/Berlin.
    pub zone: Zone,
    /// Default and "Term", same hours; Term from 2027-01-18 to 2027-02-14 and in March.
    pub schedules: ScheduleSet,
    /// The standard policy with the limits.
    pub policy: BookingPolicy,
    /// The standard query.
    pub query: SlotQuery,
    /// Calendar busy time, confirmed and pending appointments, holds.
    pub parts: Vec<Rule10Busy>,
}

/// The rule-10 input made from the first n busy intervals.
pub struct Rule10Busy {
    /// How many busy intervals of the stream it is made of.
    pub n: usize,
    /// Calendar busy time.
    pub calendar_busy: Vec<BusyTime>,
    /// Confirmed and pending appointments.
    pub bookings: Vec<Booking>,
    /// Active holds.
    pub holds: Vec<Hold>,
}

impl Rule10Workload {
    /// Builds it for each of the documented busy sets.
    pub fn standard() -> Result<Self, Box<dyn Error>> {
        let base = Workload::standard()?;
        let default = NamedSchedule::new(ScheduleId::new(), "Default", true, standard_hours()?)?;
        let term = NamedSchedule::new(ScheduleId::new(), "Term", false, standard_hours()?)?;
        let periods = vec![
            SchedulePeriod::new(term.id, date(2027, 1, 18), date(2027, 2, 14))?,
            SchedulePeriod::new(term.id, date(2027, 3, 1), date(2027, 3, 31))?,
        ];
        let schedules = ScheduleSet::new(vec![default, term], periods)?;
        let policy = base
            .policy
            .with_max_bookings_per_day(Some(50))?
            .with_max_bookings_per_week(Some(250))?
            .with_max_bookings_per_month(Some(1000))?
            .with_max_booked_minutes_per_day(Some(1440))?;
        let pending = busy_intervals(SEED + 1, MAX_BUSY / 10)?;
        let expires_at = base.query.now + SignedDuration::from_secs(300);
        let work: std::sync::Arc<str> = "Work".into();
        let mut parts = Vec::new();
        for (n, _) in EXPECTED_SLOTS {
            let mut part = Rule10Busy {
                n,
                calendar_busy: Vec::new(),
                bookings: Vec::new(),
                holds: Vec::new(),
            };
            for (i, &time) in base.busy[..n].iter().enumerate() {
                match i % 10 {
                    0 => part.holds.push(Hold {
                        id: HoldId::new(),
                        expert_id: ExpertId::new(),
                        client_id: ClientId::new(),
                        time,
                        expires_at,
                    }),
                    1..=5 => part.bookings.push(Booking {
                        id: Some(AppointmentId::new()),
                        time,
                        status: BookingStatus::Confirmed,
                    }),
                    _ => part.calendar_busy.push(BusyTime {
                        time,
                        calendar: Some(work.clone()),
                        title: None,
                    }),
                }
            }
            part.bookings.extend(pending[..n / 10].iter().map(|&time| Booking {
                id: Some(AppointmentId::new()),
                time,
                status: BookingStatus::Pending,
            }));
            parts.push(part);
        }
        Ok(Self {
            zone: base.schedule.zone,
            schedules,
            policy,
            query: base.query,
            parts,
        })
    }

    /// The engine's input for one busy set.
    pub fn context<'a>(&'a self, part: &'a Rule10Busy) -> BookingContext<'a> {
        BookingContext {
            expert_zone: &self.zone,
            hours: Hours::Set(&self.schedules),
            policy: &self.policy,
            calendar_busy: &part.calendar_busy,
            bookings: &part.bookings,
            holds: &part.holds,
        }
    }
}

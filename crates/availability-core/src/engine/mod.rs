//! The slot engine: pure functions from (schedules, policy, busy time, appointments, holds, query,
//! now) to the bookable slots, exactly as `slot-semantics.md` defines them (rules 1-10). Slot
//! display, booking validation and explanations all go through it, so a slot that is shown can be
//! booked, a time that is not shown cannot, and an explanation says why.
//!
//! Two ways in:
//! - [`available_slots`] and [`check_booking`]: one schedule, busy intervals, no limits or holds
//!   (the entry points callers used before rule 10; they are the rich engine with none of it);
//! - [`BookingContext`]: schedules with periods, calendar busy time with labels, confirmed and
//!   pending appointments, holds and the policy's limits; [`BookingContext::slots`],
//!   [`BookingContext::check`], [`BookingContext::explain`], [`BookingContext::check_series`].
//!
//! Decisions where the contract is silent:
//! - Schedules (rule 10): periods are dates of the expert's calendar. On date D the schedule in
//!   force (the period's, else the default) gives the windows of ITS date D, in ITS zone, and its
//!   overrides for D apply (an override of another schedule for D does not). Windows are not cut
//!   at a period's boundary: an overnight shift of the last date runs past midnight as written,
//!   and windows of adjacent dates merge across schedules as rule 1 merges them across dates, so
//!   the grid is anchored at the merged window's start wherever it began (rule 3).
//! - Limits ([`Limit`]): an appointment counts, whole, on the expert-local date of its start (also
//!   when it runs past midnight), a candidate belongs to its start's date, weeks run Monday to
//!   Sunday. Holds do not count (api.md counts confirmed and pending appointments). The old entry
//!   points apply no limits: their inputs cannot tell appointments from calendar busy time.
//! - Holds: an active hold (now < expires_at) is busy time, buffers included, for everyone but
//!   the requester that redeems it ([`Requester::hold`]).
//! - Precedence of refusals: overlap with an appointment or another's hold (slot_taken), then a
//!   full day, week or month (limit_reached), then the rest (slot_unavailable).
//! - Explanations ([`explain`](BookingContext::explain)): `break` is time cut by an
//!   `is_available = false` rule; other time outside the windows is `day_off` / `special_hours`
//!   when the schedule in force on its expert-local date has an empty / a non-empty override for
//!   it, else `outside_hours`; `not_on_grid` only when the whole request lies in one window;
//!   `appointment`, `held` and `calendar_busy` when the request itself overlaps them, `buffer`
//!   when only a buffer reaches them. A length that is not whole minutes from 5 to 1440 gives
//!   `invalid_length` (a code api.md lacks) and no hour, grid or buffer reasons.
//! - Series ([`series_occurrences`]): see its module - local wall-clock time kept, monthly dates
//!   missing from a month skipped (RFC 5545), `until` inclusive; each occurrence is checked after
//!   the ones before it ([`BookingContext::check_series`]).
//!
//! Internally every instant is an `i64` of Unix seconds: the rules have minute precision and the
//! zone offsets whole seconds, so nothing is lost, and the arithmetic is cheap.
//!
//! Cost: O((rules + overrides + busy + appointments) log(...) + slots + days) per call. Rules are
//! bucketed by weekday once, busy time and full days become forbidden start ranges sorted once,
//! and the candidate grid jumps over a forbidden range in one step instead of walking through it.

mod explain;
mod grid;
mod limits;
mod series;
mod windows;

use std::sync::Arc;

use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{AppointmentId, BookingPolicy, Hold, HoldId, Interval, Schedule, ScheduleSet, Slot, Zone};

pub use explain::{Explanation, Reason, ReasonCode};
pub use limits::{counted_bookings_window, Limit};
pub use series::{plan_series, series_occurrences, SeriesRefusal};

use explain::{evaluate, Request, Stop};
use grid::{add_forbidden_starts, ceil_second, grid_slots};
use limits::Tally;
use windows::{merge, PreparedHours};

const MINUTE: i64 = 60;
const DAY: i64 = 24 * 60 * MINUTE;

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

/// Why a requested time cannot be booked (the refusals before rule 10; see [`Refusal`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingRefusal {
    /// It overlaps a confirmed appointment of the expert.
    #[error("the time overlaps another confirmed appointment of this expert")]
    SlotTaken,
    /// It is not a slot, for the reason given.
    #[error("the time is not a bookable slot: {0}")]
    SlotUnavailable(&'static str),
}

/// Why a requested time cannot be booked, rule 10 included (api.md: 409 `slot_taken`, 422
/// `limit_reached`, 422 `slot_unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// It overlaps a confirmed appointment of the expert or someone else's active hold.
    #[error("the time overlaps another appointment or a hold of this expert")]
    SlotTaken,
    /// A day, week or month limit of the booking policy is reached.
    #[error("{0}")]
    LimitReached(Limit),
    /// It is not a slot; the code is the first reason ([`BookingContext::explain`] gives all).
    #[error("the time is not a bookable slot: {}", .0.summary())]
    SlotUnavailable(ReasonCode),
}

impl From<Refusal> for BookingRefusal {
    /// For callers that only know the refusals before rule 10 (a full period reads as unavailable).
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::SlotTaken => Self::SlotTaken,
            Refusal::LimitReached(_) => Self::SlotUnavailable(ReasonCode::LimitReached.summary()),
            Refusal::SlotUnavailable(code) => Self::SlotUnavailable(code.summary()),
        }
    }
}

/// The expert's hours: one schedule, or named schedules with periods (rule 10).
#[derive(Debug, Clone, Copy)]
pub enum Hours<'a> {
    /// One schedule applies on every date.
    One(&'a Schedule),
    /// The default schedule, and others on the dates of their periods.
    Set(&'a ScheduleSet),
}

impl<'a> Hours<'a> {
    /// The hours of a set: its default schedule alone when no period names another one (the
    /// engine's plain path), else the whole set.
    pub fn of(set: &'a ScheduleSet) -> Self {
        if set.periods().is_empty() {
            Self::One(&set.default_schedule().hours)
        } else {
            Self::Set(set)
        }
    }
}

impl<'a> From<&'a Schedule> for Hours<'a> {
    fn from(s: &'a Schedule) -> Self {
        Self::One(s)
    }
}

impl<'a> From<&'a ScheduleSet> for Hours<'a> {
    fn from(s: &'a ScheduleSet) -> Self {
        Self::Set(s)
    }
}

/// Busy time reported by the expert's calendar, with where it comes from (for explanations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyTime {
    /// When.
    pub time: Interval,
    /// Which calendar, as a person knows it ("Work", "Google Calendar"), if known. Shared: the
    /// intervals of one calendar hold one name (and the engine streams fewer bytes per interval).
    pub calendar: Option<Arc<str>>,
    /// The event's title, if known (explanations carry it unserialized: expert only).
    pub title: Option<Arc<str>>,
}

impl BusyTime {
    /// Busy time without a label.
    pub fn new(time: Interval) -> Self {
        Self {
            time,
            calendar: None,
            title: None,
        }
    }
}

/// Whether an appointment holds the expert's time or only counts towards the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingStatus {
    /// Holds the time and counts.
    Confirmed,
    /// Waits for the provider to confirm: does not hold the time, but counts towards the limits.
    Pending,
}

/// One of the expert's appointments as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    /// Its id, so a reschedule can leave it out ([`Requester::rescheduling`]); None when only the
    /// time is known.
    pub id: Option<AppointmentId>,
    /// When.
    pub time: Interval,
    /// Confirmed (busy, counts) or pending (counts).
    pub status: BookingStatus,
}

/// Who asks, as far as the engine cares: the hold they redeem and the appointment they move do not
/// block them (and the appointment moved does not count towards the limits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requester {
    /// The requester's own hold, redeemed by this booking (or shown to its holder as free).
    pub hold: Option<HoldId>,
    /// The appointment being rescheduled.
    pub rescheduling: Option<AppointmentId>,
}

/// Everything the engine knows about one expert for rule 10: hours with periods, the policy with
/// its limits, calendar busy time, confirmed and pending appointments, holds. The store loads the
/// appointments that start in [`counted_bookings_window`] when the policy has limits (else those
/// around the query, widened by the buffers, suffice) and the holds that overlap that time.
#[derive(Debug, Clone, Copy)]
pub struct BookingContext<'a> {
    /// The expert's zone: local days, weeks and months of the limits.
    pub expert_zone: &'a Zone,
    /// The schedules.
    pub hours: Hours<'a>,
    /// Slot length, grid, buffers, notice, horizon, limits.
    pub policy: &'a BookingPolicy,
    /// Busy time of the expert's calendars.
    pub calendar_busy: &'a [BusyTime],
    /// Confirmed and pending appointments (cancelled ones are left out by the caller).
    pub bookings: &'a [Booking],
    /// Holds; expired ones are ignored.
    pub holds: &'a [Hold],
}

/// Rule 4's bounds that come from now: a slot starts at or after now + the minimum notice and
/// before now + the horizon. They only filter starts (the grid, the hours, busy time and limits
/// never depend on them), so the slots at any `now` are exactly the slots
/// [at any time](available_slots_at_any_time) that start within [`at(now)`](Self::at): what a
/// directory keeps per calendar version and bounds per question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartBounds {
    notice: SignedDuration,
    horizon: SignedDuration,
}

impl StartBounds {
    /// The policy's notice and horizon.
    pub fn of(policy: &BookingPolicy) -> Self {
        Self {
            notice: SignedDuration::from_mins(i64::from(policy.minimum_notice_minutes())),
            horizon: SignedDuration::from_hours(24 * i64::from(policy.booking_horizon_days())),
        }
    }

    /// [earliest, latest) start as seen at `now`; `None` when either cannot be represented
    /// (then there are no slots at all).
    pub fn at(&self, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        Some((now.checked_add(self.notice).ok()?, now.checked_add(self.horizon).ok()?))
    }
}

/// The range of candidate starts and the grid of one slot computation.
struct Walk {
    duration: i64,
    step: i64,
    lo: i64,
    hi: i64,
}

impl Walk {
    /// Rule 4's bounds: starts in [from, to), not before now + notice, before now + horizon.
    fn new(policy: &BookingPolicy, query: &SlotQuery) -> Option<Self> {
        // Candidate starts are whole seconds, so s >= x is s >= ceil(x) and s < x is s < ceil(x).
        let (earliest, latest) = StartBounds::of(policy).at(query.now)?;
        let lo = ceil_second(query.window.start()).max(ceil_second(earliest));
        let hi = ceil_second(query.window.end()).min(ceil_second(latest));
        Self::within(policy, query.duration_minutes, lo, hi)
    }

    /// Starts in `window`, whatever the time (no notice, no horizon).
    fn any_time(policy: &BookingPolicy, window: Interval, duration_minutes: Option<u32>) -> Option<Self> {
        let (lo, hi) = (ceil_second(window.start()), ceil_second(window.end()));
        Self::within(policy, duration_minutes, lo, hi)
    }

    fn within(policy: &BookingPolicy, duration_minutes: Option<u32>, lo: i64, hi: i64) -> Option<Self> {
        let duration = i64::from(duration_minutes.unwrap_or(policy.slot_duration_minutes())) * MINUTE;
        let step = i64::from(policy.slot_interval_minutes()) * MINUTE;
        if duration <= 0 || step <= 0 {
            return None;
        }
        (lo < hi).then_some(Self { duration, step, lo, hi })
    }
}

/// Computes the bookable slots for one schedule (or a set of schedules with periods) and busy
/// intervals (no limits, no holds). Never panics; an empty schedule or a window outside the
/// horizon gives no slots.
pub fn available_slots<'a, 's>(
    hours: impl Into<Hours<'s>>,
    policy: &BookingPolicy,
    busy: impl IntoIterator<Item = &'a Interval>,
    query: &SlotQuery,
) -> Vec<Slot> {
    match Walk::new(policy, query) {
        Some(w) => walk_slots(hours.into(), policy, busy, &w),
        None => Vec::new(),
    }
}

/// [`available_slots`] in `window` before rule 4's bounds of now (minimum notice, horizon, the
/// past): the slots at any `now` are these, filtered by [`StartBounds::at`].
pub fn available_slots_at_any_time<'a, 's>(
    hours: impl Into<Hours<'s>>,
    policy: &BookingPolicy,
    busy: impl IntoIterator<Item = &'a Interval>,
    window: Interval,
    duration_minutes: Option<u32>,
) -> Vec<Slot> {
    match Walk::any_time(policy, window, duration_minutes) {
        Some(w) => walk_slots(hours.into(), policy, busy, &w),
        None => Vec::new(),
    }
}

fn walk_slots<'a>(
    hours: Hours<'_>,
    policy: &BookingPolicy,
    busy: impl IntoIterator<Item = &'a Interval>,
    w: &Walk,
) -> Vec<Slot> {
    let hours = PreparedHours::new(hours);
    let windows = hours.availability_windows(w.lo, w.hi + w.duration);
    let mut forbidden = Vec::new();
    add_forbidden_starts(&mut forbidden, busy, w.duration, buffers(policy), (w.lo, w.hi));
    grid_slots(&windows, &merge(forbidden), w.duration, w.step, (w.lo, w.hi))
}

/// The policy's buffers before and after, in seconds.
fn buffers(policy: &BookingPolicy) -> (i64, i64) {
    (
        i64::from(policy.buffer_before_minutes()) * MINUTE,
        i64::from(policy.buffer_after_minutes()) * MINUTE,
    )
}

/// Checks one requested booking with the same engine: accepted exactly when its start is a slot for
/// its length. `appointments` are the expert's confirmed appointments (without the one being
/// rescheduled); `external_busy` is the busy time of the expert's calendar. The policy's limits
/// are not applied (these inputs cannot tell what counts): use [`BookingContext::check`].
pub fn check_booking(
    schedule: &Schedule,
    policy: &BookingPolicy,
    appointments: &[Interval],
    external_busy: &[Interval],
    requested: Interval,
    now: Timestamp,
) -> Result<(), BookingRefusal> {
    let policy = without_limits(policy);
    let bookings: Vec<Booking> = appointments
        .iter()
        .map(|&time| Booking {
            id: None,
            time,
            status: BookingStatus::Confirmed,
        })
        .collect();
    let busy: Vec<BusyTime> = external_busy.iter().copied().map(BusyTime::new).collect();
    let ctx = BookingContext {
        expert_zone: &schedule.zone,
        hours: Hours::One(schedule),
        policy: &policy,
        calendar_busy: &busy,
        bookings: &bookings,
        holds: &[],
    };
    ctx.check(requested, now, &Requester::default())
        .map_err(BookingRefusal::from)
}

/// The policy with its day, week and month limits off (the rules before rule 10).
pub(crate) fn without_limits(policy: &BookingPolicy) -> BookingPolicy {
    let cleared = policy
        .clone()
        .with_max_bookings_per_day(None)
        .and_then(|p| p.with_max_bookings_per_week(None))
        .and_then(|p| p.with_max_bookings_per_month(None))
        .and_then(|p| p.with_max_booked_minutes_per_day(None));
    // Clearing a limit cannot fail; the fallback is never taken.
    cleared.unwrap_or_else(|_| policy.clone())
}

impl<'a> BookingContext<'a> {
    /// Confirmed appointments that hold time for this requester (not the one being moved).
    fn blocking_bookings<'s>(&'s self, requester: &'s Requester) -> impl Iterator<Item = &'s Interval> + 's {
        let moving = requester.rescheduling;
        self.bookings
            .iter()
            .filter(move |b| b.status == BookingStatus::Confirmed && !is_moved(b, moving))
            .map(|b| &b.time)
    }

    /// Confirmed and pending appointments that count towards the limits (not the one being moved).
    fn counted_bookings<'s>(&'s self, requester: &'s Requester) -> impl Iterator<Item = &'s Interval> + 's {
        let moving = requester.rescheduling;
        self.bookings
            .iter()
            .filter(move |b| !is_moved(b, moving))
            .map(|b| &b.time)
    }

    /// Active holds of others.
    fn blocking_holds<'s>(
        &'s self,
        now: Timestamp,
        requester: &'s Requester,
    ) -> impl Iterator<Item = &'s Interval> + 's {
        let own = requester.hold;
        self.holds
            .iter()
            .filter(move |h| h.is_active(now) && own.is_none_or(|id| id != h.id))
            .map(|h| &h.time)
    }

    /// The bookable slots for `query` (rules 1-10), as `requester` sees them.
    pub fn slots(&self, query: &SlotQuery, requester: &Requester) -> Vec<Slot> {
        match Walk::new(self.policy, query) {
            Some(w) => self.walk_slots(&w, self.blocking_holds(query.now, requester), requester),
            None => Vec::new(),
        }
    }

    /// [`slots`](Self::slots) in `window` before rule 4's bounds of now (minimum notice,
    /// horizon, the past): the slots at any `now` are these, filtered by [`StartBounds::at`],
    /// as long as the holds do not change. Every hold blocks its time here (as it does until it
    /// expires), so give a context without holds to get the slots of every `now`.
    pub fn slots_at_any_time(
        &self,
        window: Interval,
        duration_minutes: Option<u32>,
        requester: &Requester,
    ) -> Vec<Slot> {
        match Walk::any_time(self.policy, window, duration_minutes) {
            Some(w) => self.walk_slots(&w, self.blocking_holds(Timestamp::MIN, requester), requester),
            None => Vec::new(),
        }
    }

    fn walk_slots<'h>(&self, w: &Walk, holds: impl Iterator<Item = &'h Interval>, requester: &Requester) -> Vec<Slot> {
        let hours = PreparedHours::new(self.hours);
        let windows = hours.availability_windows(w.lo, w.hi + w.duration);
        let (range, buffers) = ((w.lo, w.hi), buffers(self.policy));
        let mut forbidden = Vec::with_capacity(self.calendar_busy.len() + self.bookings.len() + self.holds.len());
        let calendar = self.calendar_busy.iter().map(|b| &b.time);
        add_forbidden_starts(&mut forbidden, calendar, w.duration, buffers, range);
        // One pass over the appointments: those that count are counted, those that are confirmed
        // are busy time.
        let mut tally = Tally::start(self.expert_zone, self.policy, range);
        let moving = requester.rescheduling;
        for b in self.bookings.iter().filter(|b| !is_moved(b, moving)) {
            if let Some(tally) = tally.as_mut() {
                tally.count(&b.time);
            }
            if b.status == BookingStatus::Confirmed {
                add_forbidden_starts(&mut forbidden, [&b.time], w.duration, buffers, range);
            }
        }
        add_forbidden_starts(&mut forbidden, holds, w.duration, buffers, range);
        if let Some(mut tally) = tally {
            tally.finish();
            forbidden.extend(tally.closed_starts(w.duration, range));
        }
        grid_slots(&windows, &merge(forbidden), w.duration, w.step, (w.lo, w.hi))
    }

    /// Checks one requested booking: accepted exactly when its start is a slot for its length
    /// (rule 7). The refusal is the first reason in the order of precedence.
    pub fn check(&self, requested: Interval, now: Timestamp, requester: &Requester) -> Result<(), Refusal> {
        self.check_after(requested, now, requester, &[])
    }

    fn check_after(
        &self,
        requested: Interval,
        now: Timestamp,
        requester: &Requester,
        earlier: &[Interval],
    ) -> Result<(), Refusal> {
        let request = Request {
            ctx: self,
            requested,
            now,
            requester,
            earlier,
        };
        match evaluate(&request, Stop::AtFirst).first() {
            None => Ok(()),
            Some(r) => Err(match r.code {
                ReasonCode::Appointment | ReasonCode::Held => Refusal::SlotTaken,
                ReasonCode::LimitReached => Refusal::LimitReached(r.limit.unwrap_or(Limit::BookingsPerDay)),
                code => Refusal::SlotUnavailable(code),
            }),
        }
    }

    /// Every reason `requested` is not a slot; bookable exactly when there are none, which is
    /// exactly when [`check`](Self::check) accepts it and [`slots`](Self::slots) shows its start
    /// for its length.
    pub fn explain(&self, requested: Interval, now: Timestamp, requester: &Requester) -> Explanation {
        let request = Request {
            ctx: self,
            requested,
            now,
            requester,
            earlier: &[],
        };
        let reasons = evaluate(&request, Stop::Never);
        Explanation {
            bookable: reasons.is_empty(),
            reasons,
        }
    }

    /// Checks the occurrences of a series in order, each as a booking of its own (rule 10), with
    /// the occurrences accepted before it blocking time and counting towards the limits like
    /// confirmed appointments. One answer per occurrence; the caller stores all or none
    /// ("reject") or the accepted ones ("skip").
    pub fn check_series(
        &self,
        occurrences: &[Interval],
        now: Timestamp,
        requester: &Requester,
    ) -> Vec<Result<(), Refusal>> {
        let mut accepted: Vec<Interval> = Vec::with_capacity(occurrences.len());
        occurrences
            .iter()
            .map(|&o| {
                let verdict = self.check_after(o, now, requester, &accepted);
                if verdict.is_ok() {
                    accepted.push(o);
                }
                verdict
            })
            .collect()
    }
}

/// Whether the booking is the one being rescheduled.
fn is_moved(b: &Booking, moving: Option<AppointmentId>) -> bool {
    moving.is_some_and(|id| b.id == Some(id))
}

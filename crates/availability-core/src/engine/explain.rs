//! One requested time judged against every rule: the reasons it is not a slot, all of them or only
//! the first (for a booking check). `check`, `explain` and the slot walk share the predicates
//! (the merged windows and their grid, the busy-time start ranges, the limits' tally, the notice
//! and horizon bounds), so an explanation and the slots never disagree.
//!
//! Order of evaluation, which is also the precedence of refusals (rule 8): overlap with an
//! appointment or someone else's hold (409 slot_taken); a full day, week or month (422
//! limit_reached); then everything else (422 slot_unavailable): in the past, minimum notice,
//! horizon, length, hours, grid, calendar busy time, buffers.

use std::fmt;

use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{BookingPolicy, Interval};
use serde::Serialize;

use super::grid::{ceil_second, floor_second, grid_neighbours, guarded_starts, on_grid, overlapping_starts};
use super::limits::{FullLimit, Limit, LocalDays, Tally};
use super::windows::{local_date_of_day, subtract, PreparedHours, Span};
use super::{BookingContext, Requester, DAY, MINUTE};

/// What kind of rule a requested time fails (api.md's codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// Outside the expert's weekly hours.
    OutsideHours,
    /// An `is_available = false` rule (a break) cuts it.
    Break,
    /// A date override makes the day a day off.
    DayOff,
    /// A date override's windows leave it out.
    SpecialHours,
    /// The expert's calendar is busy.
    CalendarBusy,
    /// It overlaps another confirmed appointment.
    Appointment,
    /// A buffer before or after it reaches busy time, an appointment or a hold.
    Buffer,
    /// It starts sooner than the minimum notice allows.
    MinimumNotice,
    /// It starts beyond the booking horizon.
    BeyondHorizon,
    /// A day, week or month limit is reached.
    LimitReached,
    /// Someone else holds the time while they book.
    Held,
    /// It is inside the hours but does not start on the slot grid.
    NotOnGrid,
    /// It starts before now.
    InPast,
    /// Its length is not whole minutes from 5 to 1440.
    InvalidLength,
}

impl ReasonCode {
    /// The code as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutsideHours => "outside_hours",
            Self::Break => "break",
            Self::DayOff => "day_off",
            Self::SpecialHours => "special_hours",
            Self::CalendarBusy => "calendar_busy",
            Self::Appointment => "appointment",
            Self::Buffer => "buffer",
            Self::MinimumNotice => "minimum_notice",
            Self::BeyondHorizon => "beyond_horizon",
            Self::LimitReached => "limit_reached",
            Self::Held => "held",
            Self::NotOnGrid => "not_on_grid",
            Self::InPast => "in_past",
            Self::InvalidLength => "invalid_length",
        }
    }

    /// A short plain-English summary (the refusal message of a booking).
    pub fn summary(self) -> &'static str {
        match self {
            Self::OutsideHours => "it is outside the expert's hours",
            Self::Break => "the expert has a break then",
            Self::DayOff => "the expert has the day off",
            Self::SpecialHours => "it is outside the expert's special hours for that day",
            Self::CalendarBusy => "the expert's calendar is busy then",
            Self::Appointment => "it overlaps another appointment",
            Self::Buffer => "it is too close to other busy time (buffers)",
            Self::MinimumNotice => "it starts too soon (minimum notice)",
            Self::BeyondHorizon => "it is beyond the booking horizon",
            Self::LimitReached => "the expert's bookings for that period are full",
            Self::Held => "someone else is holding this time",
            Self::NotOnGrid => "it does not start at one of the offered start times",
            Self::InPast => "it is in the past",
            Self::InvalidLength => "the length must be whole minutes, 5 to 1440",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason a requested time is not a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// What kind of rule fails.
    pub code: ReasonCode,
    /// A sentence for a person.
    pub message: String,
    /// Start of the offending interval: the part of the request outside the hours, the busy
    /// time or appointment, the notice period, the full day/week/month, ...
    pub from: Timestamp,
    /// End of the offending interval.
    pub to: Timestamp,
    /// More about it: the limit's field, the calendar's name, the override's date, the nearest
    /// start times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The limit that is reached (with `LimitReached`).
    #[serde(skip)]
    pub limit: Option<Limit>,
    /// The calendar event's title (with `CalendarBusy`). Never serialized: api.md shows it to the
    /// expert only, so the caller adds it for them.
    #[serde(skip)]
    pub event_title: Option<String>,
}

/// Whether a requested time is bookable, and every reason it is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// `reasons.is_empty()`: exactly when `check` accepts it and `slots` shows it.
    pub bookable: bool,
    /// Every reason, in the order of precedence of the module docs: the first is the one a
    /// booking is refused with.
    pub reasons: Vec<Reason>,
}

/// Whether to stop at the first failing rule (a booking check) or collect them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    AtFirst,
    Never,
}

fn instant(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap_or(if second < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

fn fmt_minutes(minutes: i64) -> String {
    match minutes {
        m if m % 1440 == 0 && m >= 1440 => format!("{} day{}", m / 1440, if m == 1440 { "" } else { "s" }),
        m if m % 60 == 0 && m >= 60 => format!("{} hour{}", m / 60, if m == 60 { "" } else { "s" }),
        m => format!("{m} minute{}", if m == 1 { "" } else { "s" }),
    }
}

/// Collects reasons; in `Stop::AtFirst` mode it reports being done after the first.
struct Reasons {
    stop: Stop,
    list: Vec<Reason>,
}

impl Reasons {
    fn done(&self) -> bool {
        self.stop == Stop::AtFirst && !self.list.is_empty()
    }

    fn push(&mut self, code: ReasonCode, (from, to): (Timestamp, Timestamp), message: String, detail: Option<String>) {
        self.list.push(Reason {
            code,
            message,
            from,
            to,
            detail,
            limit: None,
            event_title: None,
        });
    }
}

/// Everything the evaluation of one request needs.
pub(super) struct Request<'c, 'a> {
    pub(super) ctx: &'c BookingContext<'a>,
    pub(super) requested: Interval,
    pub(super) now: Timestamp,
    pub(super) requester: &'c Requester,
    /// Occurrences of the same series accepted before this one (they block and count like
    /// confirmed appointments).
    pub(super) earlier: &'c [Interval],
}

/// The reasons `requested` is not a slot, in the order of precedence (see the module docs).
pub(super) fn evaluate(r: &Request<'_, '_>, stop: Stop) -> Vec<Reason> {
    let mut out = Reasons { stop, list: Vec::new() };
    let ctx = r.ctx;
    let policy = ctx.policy;
    let requested = r.requested;
    let s = floor_second(requested.start());
    let e = ceil_second(requested.end());
    let duration = e - s;

    // 1. Taken (409): an appointment or someone else's active hold overlaps the time itself.
    for a in ctx.blocking_bookings(r.requester).chain(r.earlier.iter()) {
        if a.overlaps(&requested) {
            out.push(
                ReasonCode::Appointment,
                (a.start(), a.end()),
                "The expert has another appointment at this time.".to_owned(),
                None,
            );
            if out.done() {
                return out.list;
            }
        }
    }
    for h in ctx.blocking_holds(r.now, r.requester) {
        if h.overlaps(&requested) {
            out.push(
                ReasonCode::Held,
                (h.start(), h.end()),
                "Someone else is holding this time while they finish booking.".to_owned(),
                None,
            );
            if out.done() {
                return out.list;
            }
        }
    }

    // 2. Limits (422 limit_reached).
    let counted = ctx.counted_bookings(r.requester).chain(r.earlier.iter());
    if let Some(tally) = Tally::new(ctx.expert_zone, policy, (s, s + 1), counted) {
        let day = tally.local_days().day_of(s);
        for full in tally.full_limits(day, duration) {
            push_limit(&mut out, tally.local_days(), full);
            if out.done() {
                return out.list;
            }
        }
    }

    // 3. Now, notice and horizon (the bounds of the slot walk).
    bounds(&mut out, policy, s, e, r.now);
    if out.done() {
        return out.list;
    }

    // 4. The request's own shape.
    let valid_length = duration % MINUTE == 0
        && requested.start().subsec_nanosecond() == 0
        && requested.end().subsec_nanosecond() == 0
        && BookingPolicy::check_duration(duration / MINUTE).is_ok();
    if requested.start().subsec_nanosecond() != 0 {
        out.push(
            ReasonCode::NotOnGrid,
            (requested.start(), requested.end()),
            "Appointments start on whole seconds of the expert's grid.".to_owned(),
            None,
        );
    }
    if !valid_length {
        out.push(
            ReasonCode::InvalidLength,
            (requested.start(), requested.end()),
            "Appointments are whole minutes long, from 5 minutes to 24 hours.".to_owned(),
            None,
        );
    }
    if out.done() {
        return out.list;
    }
    // A length the engine cannot book has no grid or buffers to speak of: the reasons above say
    // enough, and a window of 8,000 years is not worth computing.
    if !valid_length {
        return out.list;
    }

    // 5. Hours and grid.
    hours(&mut out, r, s, duration);
    if out.done() {
        return out.list;
    }

    // 6. Calendar busy time, and buffers reaching any busy time.
    busy(&mut out, r, s, duration);
    out.list
}

fn push_limit(out: &mut Reasons, days: &LocalDays, full: FullLimit) {
    let spans = days.instants_of_days(full.days.0, full.days.1);
    let from = spans.first().map_or(0, |s| s.start);
    let to = spans.last().map_or(0, |s| s.end);
    let period = match full.limit {
        Limit::BookingsPerDay | Limit::BookedMinutesPerDay => "day",
        Limit::BookingsPerWeek => "week",
        Limit::BookingsPerMonth => "month",
    };
    let message = if full.limit == Limit::BookedMinutesPerDay {
        format!(
            "The expert takes at most {} of appointments a day; {} are booked that day, so this one does not fit.",
            fmt_minutes(i64::from(full.allowed)),
            fmt_minutes(full.booked)
        )
    } else {
        format!(
            "The expert takes at most {} booking{} a {period}, and that {period} is full.",
            full.allowed,
            if full.allowed == 1 { "" } else { "s" }
        )
    };
    out.list.push(Reason {
        code: ReasonCode::LimitReached,
        message,
        from: instant(from),
        to: instant(to),
        detail: Some(full.limit.field().to_owned()),
        limit: Some(full.limit),
        event_title: None,
    });
}

/// In the past, minimum notice, horizon: the same bounds as the slot walk's [lo, hi).
fn bounds(out: &mut Reasons, policy: &BookingPolicy, s: i64, e: i64, now: Timestamp) {
    let now_s = ceil_second(now);
    let notice = i64::from(policy.minimum_notice_minutes()) * MINUTE;
    let horizon = i64::from(policy.booking_horizon_days()) * DAY;
    // The walk gives no slots at all when now + notice or now + horizon cannot be represented.
    let representable = |secs: i64| now.checked_add(SignedDuration::from_secs(secs)).is_ok();
    if s < now_s {
        out.push(
            ReasonCode::InPast,
            (instant(s), instant(now_s)),
            "This time is in the past.".to_owned(),
            None,
        );
    } else if s < now_s + notice || !representable(notice) {
        out.push(
            ReasonCode::MinimumNotice,
            (instant(now_s), instant(now_s + notice)),
            format!(
                "Appointments must be booked at least {} ahead.",
                fmt_minutes(notice / MINUTE)
            ),
            None,
        );
    }
    if out.done() {
        return;
    }
    if s >= now_s + horizon || !representable(horizon) {
        let limit = now_s.saturating_add(horizon).min(s);
        out.push(
            ReasonCode::BeyondHorizon,
            (instant(limit), instant(e.max(limit + 1))),
            format!(
                "Appointments can be booked at most {} ahead.",
                fmt_minutes(horizon / MINUTE)
            ),
            None,
        );
    }
}

/// Rules 1-3 for one candidate: inside one merged window and on its grid; else why not, for each
/// part of the request outside the availability.
fn hours(out: &mut Reasons, r: &Request<'_, '_>, s: i64, duration: i64) {
    let hours = PreparedHours::new(r.ctx.hours);
    let step = i64::from(r.ctx.policy.slot_interval_minutes()) * MINUTE;
    let windows = hours.availability_windows(s, s + duration + 1);
    let end = s + duration;
    if let Some(w) = windows.iter().find(|w| w.contains(s) && end <= w.end) {
        if !on_grid(w, s, step) {
            let (before, after) = grid_neighbours(w, s, step);
            let mut nearest: Vec<String> = Vec::new();
            if before >= w.start {
                nearest.push(instant(before).to_string());
            }
            if after + duration <= w.end {
                nearest.push(instant(after).to_string());
            }
            out.push(
                ReasonCode::NotOnGrid,
                (instant(s), instant(end)),
                format!(
                    "Appointments here start every {}; this time is between two of them.",
                    fmt_minutes(step / MINUTE)
                ),
                (!nearest.is_empty()).then(|| format!("nearest start times: {}", nearest.join(", "))),
            );
        }
        return;
    }
    let Some((first, last)) = hours.dates_around(s, end) else {
        out.push(
            ReasonCode::OutsideHours,
            (instant(s), instant(end)),
            "This time is outside the expert's working hours.".to_owned(),
            None,
        );
        return;
    };
    let (open, cut) = hours.open_and_cut(first, last);
    let available = subtract(open, &cut);
    let days = LocalDays::new(r.ctx.expert_zone, s - 2 * DAY, end + 2 * DAY);
    // (code, date of an override, piece), in time order; adjacent pieces with the same key merge.
    let mut pieces: Vec<(ReasonCode, Option<i64>, Span)> = Vec::new();
    let mut add = |code: ReasonCode, date: Option<i64>, piece: Span| match pieces.last_mut() {
        Some((c, d, p)) if *c == code && *d == date && p.end == piece.start => p.end = piece.end,
        _ => pieces.push((code, date, piece)),
    };
    for gap in subtract(vec![Span::new(s, end)], &available) {
        // Inside a break, or else outside the windows of the expert's local date(s).
        let mut t = gap.start;
        for c in cut.iter().filter(|c| c.end > gap.start && c.start < gap.end) {
            if c.start > t {
                classify_outside(&hours, &days, Span::new(t, c.start), &mut add);
            }
            add(ReasonCode::Break, None, Span::new(t.max(c.start), c.end.min(gap.end)));
            t = c.end.min(gap.end);
        }
        if t < gap.end {
            classify_outside(&hours, &days, Span::new(t, gap.end), &mut add);
        }
    }
    for (code, date, piece) in pieces {
        let on = date.map(day_name);
        let message = match code {
            ReasonCode::Break => "The expert has a break at this time.".to_owned(),
            ReasonCode::DayOff => format!("The expert is off on {}.", on.as_deref().unwrap_or("that day")),
            ReasonCode::SpecialHours => format!(
                "The expert has special hours on {} and this time is outside them.",
                on.as_deref().unwrap_or("that day")
            ),
            _ => "This time is outside the expert's working hours.".to_owned(),
        };
        out.push(code, (instant(piece.start), instant(piece.end)), message, on);
    }
}

/// Splits a piece outside every window by the expert's local dates: a date whose schedule has an
/// empty override is a day off, one with an override's windows has special hours, any other is
/// outside the hours.
fn classify_outside(
    hours: &PreparedHours<'_>,
    days: &LocalDays,
    piece: Span,
    add: &mut impl FnMut(ReasonCode, Option<i64>, Span),
) {
    let mut t = piece.start;
    while t < piece.end {
        let day = days.day_of(t);
        let day_end = days
            .instants_of_days(day, day + 1)
            .iter()
            .find(|sp| sp.contains(t))
            .map_or(piece.end, |sp| sp.end)
            .min(piece.end);
        let date = local_date_of_day(day);
        match date.and_then(|d| hours.override_on(d)) {
            Some([]) => add(ReasonCode::DayOff, Some(day), Span::new(t, day_end)),
            Some(_) => add(ReasonCode::SpecialHours, Some(day), Span::new(t, day_end)),
            None => add(ReasonCode::OutsideHours, None, Span::new(t, day_end)),
        }
        // Never stall, even if the zone data were odd.
        t = day_end.max(t + 1);
    }
}

fn day_name(day: i64) -> String {
    local_date_of_day(day).map_or_else(|| format!("day {day}"), |d| d.to_string())
}

/// Rule 4's busy part for one candidate: the time itself overlaps calendar busy time, or a buffer
/// reaches calendar busy time, an appointment or a hold. (Overlaps with appointments and holds
/// were reported first, as "taken".)
fn busy(out: &mut Reasons, r: &Request<'_, '_>, s: i64, duration: i64) {
    let policy = r.ctx.policy;
    let before = i64::from(policy.buffer_before_minutes()) * MINUTE;
    let after = i64::from(policy.buffer_after_minutes()) * MINUTE;
    let buffer_message = || match (before, after) {
        (0, a) => format!("The expert keeps {} free after appointments", fmt_minutes(a / MINUTE)),
        (b, 0) => format!("The expert keeps {} free before appointments", fmt_minutes(b / MINUTE)),
        (b, a) => format!(
            "The expert keeps {} free before and {} after appointments",
            fmt_minutes(b / MINUTE),
            fmt_minutes(a / MINUTE)
        ),
    };
    for b in r.ctx.calendar_busy {
        if overlapping_starts(&b.time, duration).contains(s) {
            let message = match &b.calendar {
                Some(c) => format!("The expert's calendar \"{c}\" is busy at this time."),
                None => "The expert's calendar is busy at this time.".to_owned(),
            };
            out.list.push(Reason {
                code: ReasonCode::CalendarBusy,
                message,
                from: b.time.start(),
                to: b.time.end(),
                detail: b.calendar.as_deref().map(str::to_owned),
                limit: None,
                event_title: b.title.as_deref().map(str::to_owned),
            });
        } else if guarded_starts(&b.time, duration, before, after).contains(s) {
            out.push(
                ReasonCode::Buffer,
                (b.time.start(), b.time.end()),
                format!("{}, and the calendar is busy then.", buffer_message()),
                b.calendar.as_deref().map(str::to_owned),
            );
        }
        if out.done() {
            return;
        }
    }
    let bookings = r.ctx.blocking_bookings(r.requester).chain(r.earlier.iter());
    let holds = r.ctx.blocking_holds(r.now, r.requester);
    let others = bookings
        .map(|a| (a, "another appointment"))
        .chain(holds.map(|h| (h, "time someone else is holding")));
    for (b, what) in others {
        if !overlapping_starts(b, duration).contains(s) && guarded_starts(b, duration, before, after).contains(s) {
            out.push(
                ReasonCode::Buffer,
                (b.start(), b.end()),
                format!("{}, and this is too close to {what}.", buffer_message()),
                None,
            );
            if out.done() {
                return;
            }
        }
    }
}

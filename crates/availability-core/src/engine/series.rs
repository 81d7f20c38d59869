//! Recurring bookings: the occurrences of a series (ours, small, exact across DST; not the rrule
//! crate, which has an open DST bug) and whether the booking policy allows the series.
//!
//! Every occurrence keeps the expert-local wall-clock start of the first (10:00 Berlin stays
//! 10:00 across a DST change) and the first's length in real time. A local start that does not
//! exist on an occurrence's date takes the offset before the gap; one that occurs twice means the
//! first occurrence (rule 2). The first occurrence is the requested time itself, as given.
//!
//! Monthly series repeat on the first occurrence's day of month; a month without that day (the
//! 31st in April, the 29th of February in most years) is skipped and does not count towards
//! `count`, as RFC 5545 does. `until` is inclusive: an occurrence that starts exactly at `until`
//! belongs to the series.

use availability_domain::jiff::civil::Date;
use availability_domain::jiff::{SignedDuration, Span as CalendarSpan, Timestamp};
use availability_domain::{BookingPolicy, Frequency, Interval, Recurrence, RecurrenceEnd, Zone};

use super::windows::local_datetime_instant;

/// Why a recurring booking is refused as a whole (api.md: 422 `series_not_allowed`, or 422 for
/// an occurrence beyond the horizon), before any occurrence is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeriesRefusal {
    /// The expert's policy has recurring bookings off (`max_series_occurrences` = 0).
    #[error("this expert does not take recurring bookings")]
    Off,
    /// More occurrences than the policy allows.
    #[error("this expert takes recurring bookings of at most {allowed} occurrences; this one has {occurrences}")]
    TooMany {
        /// The policy's `max_series_occurrences`.
        allowed: u32,
        /// How many the recurrence gives (for `until`, counting stops one past the most any
        /// policy allows).
        occurrences: usize,
    },
    /// `until` leaves only the first occurrence.
    #[error("a recurring booking needs at least two occurrences")]
    TooFew,
    /// An occurrence starts beyond the booking horizon.
    #[error("the occurrence starting at {0} is beyond the booking horizon")]
    BeyondHorizon(Timestamp),
}

impl SeriesRefusal {
    /// The API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BeyondHorizon(_) => "slot_unavailable",
            _ => "series_not_allowed",
        }
    }
}

/// The occurrences of a series whose first occurrence is `first`, in the expert's zone. With
/// `until`, at most [`Recurrence::MAX_OCCURRENCES`] + 1 are given (enough to tell that a series
/// is too long). Occurrences whose date would fall outside the years jiff supports end the series.
pub fn series_occurrences(first: Interval, recurrence: &Recurrence, zone: &Zone) -> Vec<Interval> {
    let limit = match recurrence.end() {
        RecurrenceEnd::Count(n) => n as usize,
        RecurrenceEnd::Until(_) => Recurrence::MAX_OCCURRENCES as usize + 1,
    };
    let until = match recurrence.end() {
        RecurrenceEnd::Until(t) => Some(t),
        RecurrenceEnd::Count(_) => None,
    };
    let length: SignedDuration = first.end().duration_since(first.start());
    let local = zone.tz().to_datetime(first.start());
    let (date0, clock) = (local.date(), local.time());
    let interval = i64::from(recurrence.interval());
    let mut out = vec![first];
    // A monthly series on the 31st skips at most 7 months a year, so this many periods always
    // reach the count (and bound the loop whatever happens).
    let max_periods = (limit as i64) * 12 + 12;
    for k in 1..=max_periods {
        if out.len() >= limit {
            break;
        }
        let date = match occurrence_date(date0, recurrence.frequency(), k * interval) {
            Step::Date(d) => d,
            Step::Skip => continue,
            Step::End => break,
        };
        let Some(start) = local_datetime_instant(zone, date.to_datetime(clock)) else {
            break;
        };
        if until.is_some_and(|u| start > u) {
            break;
        }
        let Some(occurrence) = start
            .checked_add(length)
            .ok()
            .and_then(|end| Interval::new(start, end).ok())
        else {
            break;
        };
        out.push(occurrence);
    }
    out
}

enum Step {
    Date(Date),
    /// A month without the first occurrence's day.
    Skip,
    /// Beyond the supported dates.
    End,
}

/// The date `periods` days, weeks or months after the first.
fn occurrence_date(first: Date, frequency: Frequency, periods: i64) -> Step {
    let span = match frequency {
        Frequency::Daily => CalendarSpan::new().try_days(periods),
        Frequency::Weekly => CalendarSpan::new().try_weeks(periods),
        Frequency::Monthly => CalendarSpan::new().try_months(periods),
    };
    let Ok(span) = span else {
        return Step::End;
    };
    match first.checked_add(span) {
        // jiff clamps a month's day to the month's length (Jan 31 + 1 month = Feb 28): a clamped
        // date is a month without the day, skipped.
        Ok(date) if frequency == Frequency::Monthly && date.day() != first.day() => Step::Skip,
        Ok(date) => Step::Date(date),
        Err(_) => Step::End,
    }
}

/// The occurrences of a recurring booking, if the expert's policy allows the series: series on
/// (`max_series_occurrences` > 0), 2 to `max_series_occurrences` occurrences, every one starting
/// before now + the booking horizon. Each occurrence is then checked like a booking of its own
/// (`BookingContext::check_series`).
pub fn plan_series(
    first: Interval,
    recurrence: &Recurrence,
    expert_zone: &Zone,
    policy: &BookingPolicy,
    now: Timestamp,
) -> Result<Vec<Interval>, SeriesRefusal> {
    let allowed = policy.max_series_occurrences();
    if allowed == 0 {
        return Err(SeriesRefusal::Off);
    }
    let occurrences = series_occurrences(first, recurrence, expert_zone);
    if occurrences.len() < 2 {
        return Err(SeriesRefusal::TooFew);
    }
    if occurrences.len() > allowed as usize {
        return Err(SeriesRefusal::TooMany {
            allowed,
            occurrences: occurrences.len(),
        });
    }
    let horizon = SignedDuration::from_hours(24 * i64::from(policy.booking_horizon_days()));
    let latest = now.checked_add(horizon).unwrap_or(Timestamp::MAX);
    if let Some(beyond) = occurrences.iter().find(|o| o.start() >= latest) {
        return Err(SeriesRefusal::BeyondHorizon(beyond.start()));
    }
    Ok(occurrences)
}

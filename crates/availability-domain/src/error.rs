//! The one error type of the domain: every way an input can be invalid.

use jiff::civil::Date;

use crate::ScheduleId;

/// Why a domain value could not be built. Every constructor returns this instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// day_of_week outside 0-6 (0 = Sunday).
    #[error("day_of_week must be 0-6 (0 = Sunday), got {0}")]
    InvalidDayOfWeek(i64),
    /// A local time that is not "HH:MM" between "00:00" and "24:00".
    #[error("invalid local time {0:?}: expected \"HH:MM\" from \"00:00\" to \"24:00\"")]
    InvalidLocalTime(String),
    /// "24:00" used as a start time; it only ends a day.
    #[error("\"24:00\" can only be an end time")]
    StartAtEndOfDay,
    /// A window or interval whose end is not after its start.
    #[error("end {end} must be after start {start}")]
    EndNotAfterStart {
        /// The start as given.
        start: String,
        /// The end as given.
        end: String,
    },
    /// A time-zone name that is not in the IANA database.
    #[error("unknown time zone {0:?}: expected an IANA name such as \"Europe/Berlin\"")]
    UnknownTimeZone(String),
    /// A booking policy's video choice that cannot be used: an unknown `video`, or "static"
    /// without an https `video_url`.
    #[error("{0}")]
    InvalidVideo(String),
    /// A number outside the range the product allows.
    #[error("{field} must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The field's name as the API spells it.
        field: &'static str,
        /// The value given.
        value: i64,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// Two overrides for the same local date.
    #[error("more than one override for {0}")]
    DuplicateOverride(Date),
    /// An instant or date outside the years -9999 to 9999 that the engine (jiff) handles, e.g.
    /// one of chrono's far wider range.
    #[error("{0} is outside the years -9999 to 9999")]
    OutOfTimeRange(String),
    /// A recurrence with both `count` and `until`.
    #[error("a recurrence takes either count or until, not both")]
    RecurrenceCountAndUntil,
    /// A recurrence with neither `count` nor `until`.
    #[error("a recurrence needs count (2-52) or until")]
    RecurrenceWithoutEnd,
    /// A schedule name that is empty or too long.
    #[error("a schedule's name must be 1 to 100 characters, not only spaces")]
    InvalidScheduleName,
    /// A set of schedules without a default one.
    #[error("exactly one schedule must be the default; none is")]
    NoDefaultSchedule,
    /// A set of schedules with more than one default.
    #[error("exactly one schedule must be the default; {0} are")]
    SeveralDefaultSchedules(usize),
    /// Two schedules with the same id.
    #[error("schedule {0} is given twice")]
    DuplicateSchedule(ScheduleId),
    /// A period that names a schedule the expert does not have.
    #[error("schedule {0} does not exist")]
    UnknownSchedule(ScheduleId),
    /// A period whose last date is before its first.
    #[error("a period's to_date {to} is before its from_date {from}")]
    PeriodEndsBeforeStart {
        /// The first date as given.
        from: Date,
        /// The last date as given.
        to: Date,
    },
    /// Two periods that share a date.
    #[error("the periods {first_from}..{first_to} and {second_from}..{second_to} overlap")]
    OverlappingPeriods {
        /// First date of the earlier period.
        first_from: Date,
        /// Last date of the earlier period.
        first_to: Date,
        /// First date of the later period.
        second_from: Date,
        /// Last date of the later period.
        second_to: Date,
    },
}

//! The one error type of the domain: every way an input can be invalid.

use jiff::civil::Date;

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
}

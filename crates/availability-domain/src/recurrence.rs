//! How a recurring booking repeats: daily, weekly or monthly, every 1-12 periods, for a count of
//! occurrences or until an instant. The occurrences themselves are computed by the slot engine
//! (`availability_core::engine::series_occurrences`), which knows how local times become instants.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The period a series repeats with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// Every `interval` days.
    Daily,
    /// Every `interval` weeks, on the weekday of the first occurrence.
    Weekly,
    /// Every `interval` months, on the day of month of the first occurrence (months without that
    /// day are skipped, as RFC 5545 does).
    Monthly,
}

impl Frequency {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a series stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecurrenceEnd {
    /// After this many occurrences, the first one included (2-52).
    Count(u32),
    /// With the last occurrence that starts at or before this instant (inclusive).
    Until(Timestamp),
}

/// A validated recurrence rule: `{frequency, interval, count | until}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawRecurrence", into = "RawRecurrence")]
pub struct Recurrence {
    frequency: Frequency,
    interval: u32,
    end: RecurrenceEnd,
}

/// A recurrence as it arrives from outside and is written back; `interval` defaults to 1.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecurrence {
    frequency: Frequency,
    #[serde(default)]
    interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<Timestamp>,
}

impl TryFrom<RawRecurrence> for Recurrence {
    type Error = DomainError;
    fn try_from(r: RawRecurrence) -> Result<Self, Self::Error> {
        let interval = r.interval.unwrap_or(1);
        match (r.count, r.until) {
            (Some(_), Some(_)) => Err(DomainError::RecurrenceCountAndUntil),
            (None, None) => Err(DomainError::RecurrenceWithoutEnd),
            (Some(count), None) => Recurrence::count(r.frequency, interval, count),
            (None, Some(until)) => Recurrence::until(r.frequency, interval, until),
        }
    }
}

impl From<Recurrence> for RawRecurrence {
    fn from(r: Recurrence) -> Self {
        let (count, until) = match r.end {
            RecurrenceEnd::Count(n) => (Some(i64::from(n)), None),
            RecurrenceEnd::Until(t) => (None, Some(t)),
        };
        Self {
            frequency: r.frequency,
            interval: Some(i64::from(r.interval)),
            count,
            until,
        }
    }
}

const INTERVAL_RANGE: (i64, i64) = (1, 12);
const COUNT_RANGE: (i64, i64) = (2, Recurrence::MAX_OCCURRENCES as i64);

fn in_range(field: &'static str, value: i64, (min, max): (i64, i64)) -> Result<u32, DomainError> {
    if (min..=max).contains(&value) {
        // The ranges fit in u32.
        Ok(value as u32)
    } else {
        Err(DomainError::OutOfRange { field, value, min, max })
    }
}

impl Recurrence {
    /// The most occurrences a series can have, whatever the policy allows.
    pub const MAX_OCCURRENCES: u32 = 52;

    /// `count` occurrences (2-52, the first included), one every `interval` (1-12) periods.
    pub fn count(frequency: Frequency, interval: i64, count: i64) -> Result<Self, DomainError> {
        Ok(Self {
            frequency,
            interval: in_range("interval", interval, INTERVAL_RANGE)?,
            end: RecurrenceEnd::Count(in_range("count", count, COUNT_RANGE)?),
        })
    }

    /// Occurrences every `interval` (1-12) periods up to and including one that starts exactly at
    /// `until`.
    pub fn until(frequency: Frequency, interval: i64, until: Timestamp) -> Result<Self, DomainError> {
        Ok(Self {
            frequency,
            interval: in_range("interval", interval, INTERVAL_RANGE)?,
            end: RecurrenceEnd::Until(until),
        })
    }

    /// Daily, weekly or monthly.
    pub fn frequency(&self) -> Frequency {
        self.frequency
    }

    /// How many periods lie between two occurrences (1-12).
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// When the series stops.
    pub fn end(&self) -> RecurrenceEnd {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_or_until_not_both_nor_neither() {
        let r: Recurrence = serde_json::from_str(r#"{"frequency":"weekly","interval":2,"count":10}"#).unwrap();
        assert_eq!(r.frequency(), Frequency::Weekly);
        assert_eq!(r.interval(), 2);
        assert_eq!(r.end(), RecurrenceEnd::Count(10));
        let r: Recurrence = serde_json::from_str(r#"{"frequency":"daily","until":"2026-05-01T10:00:00Z"}"#).unwrap();
        assert_eq!(r.interval(), 1, "the interval defaults to 1");
        assert_eq!(r.end(), RecurrenceEnd::Until("2026-05-01T10:00:00Z".parse().unwrap()));
        let both = serde_json::json!({"frequency": "daily", "count": 3, "until": "2026-05-01T10:00:00Z"});
        let err = serde_json::from_value::<Recurrence>(both).unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
        let err = serde_json::from_str::<Recurrence>(r#"{"frequency":"daily"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("count (2-52) or until"), "{err}");
    }

    #[test]
    fn ranges_and_names_are_checked() {
        for bad in [
            r#"{"frequency":"weekly","interval":0,"count":3}"#,
            r#"{"frequency":"weekly","interval":13,"count":3}"#,
            r#"{"frequency":"weekly","count":1}"#,
            r#"{"frequency":"weekly","count":53}"#,
            r#"{"frequency":"yearly","count":3}"#,
            r#"{"frequency":"weekly","count":3,"byday":"MO"}"#,
        ] {
            assert!(serde_json::from_str::<Recurrence>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Recurrence::count(Frequency::Monthly, 1, 53),
            Err(DomainError::OutOfRange {
                field: "count",
                value: 53,
                min: 2,
                max: 52
            })
        );
        assert!(Recurrence::count(Frequency::Monthly, 12, 52).is_ok());
    }

    #[test]
    fn written_back_as_read() {
        for json in [
            serde_json::json!({"frequency": "monthly", "interval": 3, "count": 4}),
            serde_json::json!({"frequency": "daily", "interval": 1, "until": "2026-05-01T10:00:00Z"}),
        ] {
            let r: Recurrence = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(serde_json::to_value(r).unwrap(), json);
        }
    }
}

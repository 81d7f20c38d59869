//! The expert's booking policy: how long a slot is, how slots are spaced, buffers, notice, horizon.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// How an expert's hours are cut into bookable slots. All values are validated on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawBookingPolicy")]
pub struct BookingPolicy {
    slot_duration_minutes: u32,
    slot_interval_minutes: u32,
    buffer_before_minutes: u32,
    buffer_after_minutes: u32,
    minimum_notice_minutes: u32,
    booking_horizon_days: u32,
}

/// The policy's fields as they arrive from outside; missing ones take their defaults.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBookingPolicy {
    slot_duration_minutes: Option<i64>,
    slot_interval_minutes: Option<i64>,
    buffer_before_minutes: Option<i64>,
    buffer_after_minutes: Option<i64>,
    minimum_notice_minutes: Option<i64>,
    booking_horizon_days: Option<i64>,
}

impl TryFrom<RawBookingPolicy> for BookingPolicy {
    type Error = DomainError;
    fn try_from(r: RawBookingPolicy) -> Result<Self, Self::Error> {
        let duration = r.slot_duration_minutes.unwrap_or(30);
        BookingPolicy::new(
            duration,
            r.slot_interval_minutes.unwrap_or(duration),
            r.buffer_before_minutes.unwrap_or(0),
            r.buffer_after_minutes.unwrap_or(0),
            r.minimum_notice_minutes.unwrap_or(0),
            r.booking_horizon_days.unwrap_or(60),
        )
    }
}

/// Allowed ranges (inclusive), as api.md states them.
pub(crate) const DURATION_RANGE: (i64, i64) = (5, 1440);
const BUFFER_RANGE: (i64, i64) = (0, 1440);
const NOTICE_RANGE: (i64, i64) = (0, 525_600);
const HORIZON_RANGE: (i64, i64) = (1, 730);

fn in_range(field: &'static str, value: i64, (min, max): (i64, i64)) -> Result<u32, DomainError> {
    if (min..=max).contains(&value) {
        // The ranges all fit in u32.
        Ok(value as u32)
    } else {
        Err(DomainError::OutOfRange { field, value, min, max })
    }
}

impl Default for BookingPolicy {
    /// 30-minute slots every 30 minutes, no buffers, no notice, 60 days ahead.
    fn default() -> Self {
        Self {
            slot_duration_minutes: 30,
            slot_interval_minutes: 30,
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            minimum_notice_minutes: 0,
            booking_horizon_days: 60,
        }
    }
}

impl BookingPolicy {
    /// Validates every field: duration and interval 5-1440 minutes, buffers 0-1440, notice
    /// 0-525600 minutes, horizon 1-730 days.
    pub fn new(
        slot_duration_minutes: i64,
        slot_interval_minutes: i64,
        buffer_before_minutes: i64,
        buffer_after_minutes: i64,
        minimum_notice_minutes: i64,
        booking_horizon_days: i64,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            slot_duration_minutes: in_range("slot_duration_minutes", slot_duration_minutes, DURATION_RANGE)?,
            slot_interval_minutes: in_range("slot_interval_minutes", slot_interval_minutes, DURATION_RANGE)?,
            buffer_before_minutes: in_range("buffer_before_minutes", buffer_before_minutes, BUFFER_RANGE)?,
            buffer_after_minutes: in_range("buffer_after_minutes", buffer_after_minutes, BUFFER_RANGE)?,
            minimum_notice_minutes: in_range("minimum_notice_minutes", minimum_notice_minutes, NOTICE_RANGE)?,
            booking_horizon_days: in_range("booking_horizon_days", booking_horizon_days, HORIZON_RANGE)?,
        })
    }

    /// Checks a duration asked for in a query or implied by a booking (5-1440 minutes).
    pub fn check_duration(minutes: i64) -> Result<u32, DomainError> {
        in_range("duration_minutes", minutes, DURATION_RANGE)
    }

    /// Length of a slot.
    pub fn slot_duration_minutes(&self) -> u32 {
        self.slot_duration_minutes
    }
    /// Minutes between candidate starts.
    pub fn slot_interval_minutes(&self) -> u32 {
        self.slot_interval_minutes
    }
    /// Free time needed before a slot.
    pub fn buffer_before_minutes(&self) -> u32 {
        self.buffer_before_minutes
    }
    /// Free time needed after a slot.
    pub fn buffer_after_minutes(&self) -> u32 {
        self.buffer_after_minutes
    }
    /// How long before its start a slot can still be booked.
    pub fn minimum_notice_minutes(&self) -> u32 {
        self.minimum_notice_minutes
    }
    /// How many days (of 24 hours) ahead slots are offered.
    pub fn booking_horizon_days(&self) -> u32 {
        self.booking_horizon_days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let p: BookingPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, BookingPolicy::default());
        let p: BookingPolicy = serde_json::from_str(r#"{"slot_duration_minutes":45}"#).unwrap();
        assert_eq!(p.slot_interval_minutes(), 45, "the interval defaults to the duration");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert!(matches!(
            BookingPolicy::new(0, 30, 0, 0, 0, 60),
            Err(DomainError::OutOfRange { .. })
        ));
        assert!(BookingPolicy::new(-30, 30, 0, 0, 0, 60).is_err());
        assert!(BookingPolicy::new(30, 1441, 0, 0, 0, 60).is_err());
        assert!(BookingPolicy::new(30, 30, -1, 0, 0, 60).is_err());
        assert!(BookingPolicy::new(30, 30, 0, 0, 525_601, 60).is_err());
        assert!(BookingPolicy::new(30, 30, 0, 0, 0, 0).is_err());
        assert!(BookingPolicy::new(30, 30, 0, 0, 0, 731).is_err());
        assert!(BookingPolicy::new(5, 1440, 1440, 1440, 525_600, 730).is_ok());
        assert!(serde_json::from_str::<BookingPolicy>(r#"{"slot_duration_minutes":0}"#).is_err());
    }
}

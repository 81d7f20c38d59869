//! The expert's booking policy: how long a slot is, how slots are spaced, buffers, notice, horizon,
//! how many occurrences a recurring booking may have, how much may be booked per day, week, month,
//! and where the appointment's video meeting comes from.

use serde::{Deserialize, Serialize};

use crate::{DomainError, VideoPolicy};

/// How an expert's hours are cut into bookable slots, and how much may be booked. All values are
/// validated on construction.
///
/// The series cap and the limits are off by default and are left out of the JSON while off, so a
/// policy without them reads and writes exactly as before they existed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawBookingPolicy")]
pub struct BookingPolicy {
    slot_duration_minutes: u32,
    slot_interval_minutes: u32,
    buffer_before_minutes: u32,
    buffer_after_minutes: u32,
    minimum_notice_minutes: u32,
    booking_horizon_days: u32,
    #[serde(skip_serializing_if = "is_zero")]
    max_series_occurrences: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_bookings_per_day: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_bookings_per_week: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_bookings_per_month: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_booked_minutes_per_day: Option<u32>,
    /// `video` and `video_url`, left out while "none".
    #[serde(flatten)]
    video: VideoPolicy,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The policy's fields as they arrive from outside; missing ones (and nulls) take their defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBookingPolicy {
    slot_duration_minutes: Option<i64>,
    slot_interval_minutes: Option<i64>,
    buffer_before_minutes: Option<i64>,
    buffer_after_minutes: Option<i64>,
    minimum_notice_minutes: Option<i64>,
    booking_horizon_days: Option<i64>,
    max_series_occurrences: Option<i64>,
    max_bookings_per_day: Option<i64>,
    max_bookings_per_week: Option<i64>,
    max_bookings_per_month: Option<i64>,
    max_booked_minutes_per_day: Option<i64>,
    video: Option<String>,
    video_url: Option<String>,
}

impl TryFrom<RawBookingPolicy> for BookingPolicy {
    type Error = DomainError;
    fn try_from(r: RawBookingPolicy) -> Result<Self, Self::Error> {
        let duration = r.slot_duration_minutes.unwrap_or(30);
        let video = VideoPolicy::parse(r.video.as_deref(), r.video_url.as_deref())?;
        BookingPolicy::new(
            duration,
            r.slot_interval_minutes.unwrap_or(duration),
            r.buffer_before_minutes.unwrap_or(0),
            r.buffer_after_minutes.unwrap_or(0),
            r.minimum_notice_minutes.unwrap_or(0),
            r.booking_horizon_days.unwrap_or(60),
        )?
        .with_max_series_occurrences(r.max_series_occurrences.unwrap_or(0))?
        .with_max_bookings_per_day(r.max_bookings_per_day)?
        .with_max_bookings_per_week(r.max_bookings_per_week)?
        .with_max_bookings_per_month(r.max_bookings_per_month)?
        .with_max_booked_minutes_per_day(r.max_booked_minutes_per_day)
        .map(|p| p.with_video(video))
    }
}

/// Allowed ranges (inclusive), as api.md states them.
pub(crate) const DURATION_RANGE: (i64, i64) = (5, 1440);
const BUFFER_RANGE: (i64, i64) = (0, 1440);
const NOTICE_RANGE: (i64, i64) = (0, 525_600);
const HORIZON_RANGE: (i64, i64) = (1, 730);
const SERIES_RANGE: (i64, i64) = (0, 52);
const BOOKINGS_LIMIT_RANGE: (i64, i64) = (1, 1000);
const MINUTES_LIMIT_RANGE: (i64, i64) = (1, 1440);

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
            max_series_occurrences: 0,
            max_bookings_per_day: None,
            max_bookings_per_week: None,
            max_bookings_per_month: None,
            max_booked_minutes_per_day: None,
            video: VideoPolicy::None,
        }
    }
}

fn optional_in_range(field: &'static str, value: Option<i64>, range: (i64, i64)) -> Result<Option<u32>, DomainError> {
    value.map(|v| in_range(field, v, range)).transpose()
}

impl BookingPolicy {
    /// Validates every field: duration and interval 5-1440 minutes, buffers 0-1440, notice
    /// 0-525600 minutes, horizon 1-730 days. Series are off and there are no limits; the `with_*`
    /// methods add them.
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
            ..Self::default()
        })
    }

    /// The same policy allowing recurring bookings of up to `n` occurrences (0-52; 0 turns
    /// series off).
    pub fn with_max_series_occurrences(self, n: i64) -> Result<Self, DomainError> {
        Ok(Self {
            max_series_occurrences: in_range("max_series_occurrences", n, SERIES_RANGE)?,
            ..self
        })
    }

    /// The same policy with at most `n` bookings per local day of the expert (1-1000; None: no
    /// limit).
    pub fn with_max_bookings_per_day(self, n: Option<i64>) -> Result<Self, DomainError> {
        Ok(Self {
            max_bookings_per_day: optional_in_range("max_bookings_per_day", n, BOOKINGS_LIMIT_RANGE)?,
            ..self
        })
    }

    /// The same policy with at most `n` bookings per local week (Monday to Sunday) of the expert
    /// (1-1000; None: no limit).
    pub fn with_max_bookings_per_week(self, n: Option<i64>) -> Result<Self, DomainError> {
        Ok(Self {
            max_bookings_per_week: optional_in_range("max_bookings_per_week", n, BOOKINGS_LIMIT_RANGE)?,
            ..self
        })
    }

    /// The same policy with at most `n` bookings per local calendar month of the expert (1-1000;
    /// None: no limit).
    pub fn with_max_bookings_per_month(self, n: Option<i64>) -> Result<Self, DomainError> {
        Ok(Self {
            max_bookings_per_month: optional_in_range("max_bookings_per_month", n, BOOKINGS_LIMIT_RANGE)?,
            ..self
        })
    }

    /// The same policy with at most `minutes` booked per local day of the expert (1-1440; None: no
    /// limit).
    pub fn with_max_booked_minutes_per_day(self, minutes: Option<i64>) -> Result<Self, DomainError> {
        Ok(Self {
            max_booked_minutes_per_day: optional_in_range("max_booked_minutes_per_day", minutes, MINUTES_LIMIT_RANGE)?,
            ..self
        })
    }

    /// The same policy with this video choice.
    pub fn with_video(self, video: VideoPolicy) -> Self {
        Self { video, ..self }
    }

    /// Where the appointments' video meeting comes from.
    pub fn video(&self) -> &VideoPolicy {
        &self.video
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
    /// The most occurrences a recurring booking may have; 0: recurring bookings are off.
    pub fn max_series_occurrences(&self) -> u32 {
        self.max_series_occurrences
    }
    /// The most bookings in one local day of the expert, if limited.
    pub fn max_bookings_per_day(&self) -> Option<u32> {
        self.max_bookings_per_day
    }
    /// The most bookings in one local week (Monday to Sunday) of the expert, if limited.
    pub fn max_bookings_per_week(&self) -> Option<u32> {
        self.max_bookings_per_week
    }
    /// The most bookings in one local calendar month of the expert, if limited.
    pub fn max_bookings_per_month(&self) -> Option<u32> {
        self.max_bookings_per_month
    }
    /// The most minutes booked in one local day of the expert, if limited.
    pub fn max_booked_minutes_per_day(&self) -> Option<u32> {
        self.max_booked_minutes_per_day
    }
    /// Whether any booking limit is set.
    pub fn has_limits(&self) -> bool {
        self.max_bookings_per_day.is_some()
            || self.max_bookings_per_week.is_some()
            || self.max_bookings_per_month.is_some()
            || self.max_booked_minutes_per_day.is_some()
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

    #[test]
    fn series_and_limits_are_off_unless_given_and_validated() {
        let p: BookingPolicy = serde_json::from_str(
            r#"{"max_series_occurrences":10,"max_bookings_per_day":4,"max_bookings_per_week":null,
                "max_bookings_per_month":1000,"max_booked_minutes_per_day":1440}"#,
        )
        .unwrap();
        assert_eq!(p.max_series_occurrences(), 10);
        assert_eq!(p.max_bookings_per_day(), Some(4));
        assert_eq!(p.max_bookings_per_week(), None, "null is no limit");
        assert_eq!(p.max_bookings_per_month(), Some(1000));
        assert_eq!(p.max_booked_minutes_per_day(), Some(1440));
        assert!(p.has_limits());
        let d = BookingPolicy::default();
        assert_eq!(d.max_series_occurrences(), 0);
        assert!(!d.has_limits());
        for bad in [
            r#"{"max_series_occurrences":53}"#,
            r#"{"max_series_occurrences":-1}"#,
            r#"{"max_bookings_per_day":0}"#,
            r#"{"max_bookings_per_week":1001}"#,
            r#"{"max_bookings_per_month":0}"#,
            r#"{"max_booked_minutes_per_day":1441}"#,
            r#"{"max_bookings_per_year":3}"#,
        ] {
            assert!(serde_json::from_str::<BookingPolicy>(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            BookingPolicy::default().with_max_bookings_per_day(Some(0)),
            Err(DomainError::OutOfRange {
                field: "max_bookings_per_day",
                ..
            })
        ));
    }

    #[test]
    fn video_is_validated_and_round_trips() {
        let p: BookingPolicy =
            serde_json::from_str(r#"{"video":"static","video_url":"https://zoom.us/j/42"}"#).unwrap();
        assert_eq!(p.video().room().map(|r| r.as_str()), Some("https://zoom.us/j/42"));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["video"], "static");
        assert_eq!(json["video_url"], "https://zoom.us/j/42");
        assert_eq!(serde_json::from_value::<BookingPolicy>(json).unwrap(), p);

        let p: BookingPolicy =
            serde_json::from_str(r#"{"video":"provider","video_url":"https://x.example/r"}"#).unwrap();
        assert_eq!(p.video(), &VideoPolicy::Provider);
        let json = serde_json::to_value(&p).unwrap();
        assert!(
            json.get("video_url").is_none(),
            "a room beside \"provider\" is dropped: {json}"
        );

        for bad in [
            r#"{"video":"static"}"#,
            r#"{"video":"static","video_url":"http://zoom.us/j/1"}"#,
            r#"{"video":"static","video_url":null}"#,
            r#"{"video":"skype"}"#,
        ] {
            assert!(
                matches!(
                    serde_json::from_str::<BookingPolicy>(bad).map_err(|e| e.to_string()),
                    Err(ref e) if e.contains("video")
                ),
                "{bad}"
            );
        }
        assert_eq!(BookingPolicy::default().video(), &VideoPolicy::None);
    }

    #[test]
    fn a_policy_without_series_or_limits_writes_the_json_it_always_wrote() {
        let json = serde_json::to_value(BookingPolicy::new(45, 15, 5, 10, 60, 30).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "slot_duration_minutes": 45, "slot_interval_minutes": 15, "buffer_before_minutes": 5,
                "buffer_after_minutes": 10, "minimum_notice_minutes": 60, "booking_horizon_days": 30
            })
        );
        let limited = BookingPolicy::default()
            .with_max_bookings_per_day(Some(2))
            .unwrap()
            .with_max_series_occurrences(12)
            .unwrap();
        let json = serde_json::to_value(&limited).unwrap();
        assert_eq!(json["max_bookings_per_day"], 2);
        assert_eq!(json["max_series_occurrences"], 12);
        assert!(json.get("max_bookings_per_week").is_none());
        let back: BookingPolicy = serde_json::from_value(json).unwrap();
        assert_eq!(back, limited);
    }
}

//! Conversions to and from chrono's types (feature `chrono`), so that an embedder whose code is
//! built on chrono hands its values to the engine and takes slots back without converting by hand.
//!
//! - The domain's own types convert with `From` / `TryFrom`: [`DayOfWeek`] and
//!   [`chrono::Weekday`]; [`LocalTime`] and [`NaiveTime`] (whole minutes; "24:00" has no
//!   `NaiveTime`); [`Interval`] and a `Range` of `DateTime`s (any chrono zone in, UTC out);
//!   [`Slot`] into a `Range<DateTime<Utc>>`; [`chrono::Utc`] into [`Zone`].
//! - The instants and dates the engine takes are jiff's ([`Timestamp`], [`jiff::civil::Date`]),
//!   foreign to this crate like chrono's, so Rust allows no `From` between them: [`ToChrono`]
//!   and [`FromChrono`] are the conversions (`t.to_chrono()`, `Timestamp::from_chrono(dt)?`).
//!
//! chrono reaches far wider years than jiff (-9999 to 9999): a conversion from chrono can fail
//! with [`DomainError::OutOfTimeRange`]; one to chrono always succeeds. chrono's leap-second
//! representation (a nanosecond count past 999,999,999) is read as the last nanosecond of that
//! second.

use std::ops::Range;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use jiff::civil::Date;
use jiff::Timestamp;

use crate::{DayOfWeek, DomainError, Interval, LocalTime, Slot, Zone};

/// A value of the engine's (jiff's) time types, as chrono's.
pub trait ToChrono {
    /// chrono's type for it.
    type Chrono;
    /// The same instant or date in chrono (always possible: chrono's range is wider).
    fn to_chrono(&self) -> Self::Chrono;
}

/// A value of chrono's, as the engine's (jiff's) time type.
pub trait FromChrono<T>: Sized {
    /// The same instant or date; [`DomainError::OutOfTimeRange`] outside jiff's years.
    fn from_chrono(value: T) -> Result<Self, DomainError>;
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;

impl ToChrono for Timestamp {
    type Chrono = DateTime<Utc>;

    fn to_chrono(&self) -> DateTime<Utc> {
        let nanos = self.as_nanosecond();
        let seconds = i64::try_from(nanos.div_euclid(NANOS_PER_SECOND)).unwrap_or_default();
        let subsec = u32::try_from(nanos.rem_euclid(NANOS_PER_SECOND)).unwrap_or_default();
        // Every jiff timestamp lies inside chrono's range, so the fallback is never taken.
        DateTime::from_timestamp(seconds, subsec).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl<Tz: TimeZone> FromChrono<DateTime<Tz>> for Timestamp {
    fn from_chrono(value: DateTime<Tz>) -> Result<Self, DomainError> {
        let subsec = value.timestamp_subsec_nanos().min(999_999_999);
        Timestamp::new(value.timestamp(), subsec as i32)
            .map_err(|_| DomainError::OutOfTimeRange(value.to_utc().to_rfc3339()))
    }
}

impl ToChrono for Date {
    type Chrono = NaiveDate;

    fn to_chrono(&self) -> NaiveDate {
        let fallback = NaiveDate::MIN;
        NaiveDate::from_ymd_opt(
            i32::from(self.year()),
            u32::from(self.month().unsigned_abs()),
            u32::from(self.day().unsigned_abs()),
        )
        .unwrap_or(fallback)
    }
}

impl FromChrono<NaiveDate> for Date {
    fn from_chrono(value: NaiveDate) -> Result<Self, DomainError> {
        let out_of_range = || DomainError::OutOfTimeRange(value.to_string());
        let year = i16::try_from(value.year()).map_err(|_| out_of_range())?;
        // Month and day always fit an i8.
        Date::new(year, value.month() as i8, value.day() as i8).map_err(|_| out_of_range())
    }
}

impl From<DayOfWeek> for Weekday {
    fn from(day: DayOfWeek) -> Self {
        // DayOfWeek counts from Sunday = 0; chrono's from Monday = 0.
        match day.number() {
            0 => Weekday::Sun,
            1 => Weekday::Mon,
            2 => Weekday::Tue,
            3 => Weekday::Wed,
            4 => Weekday::Thu,
            5 => Weekday::Fri,
            _ => Weekday::Sat,
        }
    }
}

impl From<Weekday> for DayOfWeek {
    fn from(day: Weekday) -> Self {
        DayOfWeek::wrapping(day.num_days_from_sunday())
    }
}

impl TryFrom<NaiveTime> for LocalTime {
    type Error = DomainError;

    /// Whole minutes only: a local time of the schedule has no seconds.
    fn try_from(time: NaiveTime) -> Result<Self, DomainError> {
        if time.second() != 0 || time.nanosecond() != 0 {
            return Err(DomainError::InvalidLocalTime(time.to_string()));
        }
        // hour < 24 and minute < 60 always fit a u8.
        LocalTime::from_hm(time.hour() as u8, time.minute() as u8)
    }
}

impl TryFrom<LocalTime> for NaiveTime {
    type Error = DomainError;

    /// "24:00" (the end of a day) has no `NaiveTime`.
    fn try_from(time: LocalTime) -> Result<Self, DomainError> {
        let minutes = u32::from(time.minutes());
        NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)
            .ok_or_else(|| DomainError::InvalidLocalTime(time.to_string()))
    }
}

impl<Tz: TimeZone> TryFrom<Range<DateTime<Tz>>> for Interval {
    type Error = DomainError;

    /// [start, end) with start < end, in any chrono zone.
    fn try_from(range: Range<DateTime<Tz>>) -> Result<Self, DomainError> {
        Interval::new(Timestamp::from_chrono(range.start)?, Timestamp::from_chrono(range.end)?)
    }
}

impl From<Interval> for Range<DateTime<Utc>> {
    fn from(interval: Interval) -> Self {
        interval.start().to_chrono()..interval.end().to_chrono()
    }
}

impl From<Slot> for Range<DateTime<Utc>> {
    fn from(slot: Slot) -> Self {
        slot.start.to_chrono()..slot.end.to_chrono()
    }
}

impl From<Utc> for Zone {
    fn from(_: Utc) -> Self {
        Zone::utc()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn weekdays_map_both_ways() {
        let chrono_days = [
            Weekday::Sun,
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
        ];
        for (n, chrono_day) in chrono_days.into_iter().enumerate() {
            let day = DayOfWeek::new(n as i64).unwrap();
            assert_eq!(Weekday::from(day), chrono_day);
            assert_eq!(DayOfWeek::from(chrono_day), day);
        }
        // The engine's own reading of a date agrees with chrono's.
        let date = Date::new(2030, 3, 4).unwrap();
        assert_eq!(Weekday::from(DayOfWeek::of(date)), date.to_chrono().weekday());
    }

    #[test]
    fn every_local_time_round_trips_and_end_of_day_is_refused() {
        for minutes in 0..24 * 60 {
            let local = LocalTime::from_minutes(minutes).unwrap();
            let naive = NaiveTime::try_from(local).unwrap();
            assert_eq!(naive.to_string()[..5], local.to_string());
            assert_eq!(LocalTime::try_from(naive).unwrap(), local);
        }
        assert!(NaiveTime::try_from(LocalTime::END_OF_DAY).is_err());
        assert!(LocalTime::try_from(NaiveTime::from_hms_opt(9, 0, 30).unwrap()).is_err());
    }

    #[test]
    fn out_of_range_instants_and_dates_are_errors() {
        let far = NaiveDate::from_ymd_opt(20_000, 1, 1).unwrap();
        assert!(matches!(Date::from_chrono(far), Err(DomainError::OutOfTimeRange(_))));
        let far_instant = far.and_hms_opt(0, 0, 0).unwrap().and_utc();
        assert!(matches!(
            Timestamp::from_chrono(far_instant),
            Err(DomainError::OutOfTimeRange(_))
        ));
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        assert_eq!(
            Timestamp::from_chrono(leap).unwrap().to_string(),
            "2016-12-31T23:59:59.999999999Z"
        );
    }

    #[test]
    fn intervals_and_slots_convert_in_any_zone() {
        let berlin = chrono::FixedOffset::east_opt(3600).unwrap();
        let start = berlin.with_ymd_and_hms(2030, 3, 4, 9, 0, 0).unwrap();
        let end = berlin.with_ymd_and_hms(2030, 3, 4, 9, 30, 0).unwrap();
        let interval = Interval::try_from(start..end).unwrap();
        assert_eq!(interval.start().to_string(), "2030-03-04T08:00:00Z");
        let back: Range<DateTime<Utc>> = interval.into();
        assert_eq!((back.start, back.end), (start.to_utc(), end.to_utc()));
        assert!(Interval::try_from(end..start).is_err());
        let slot = Slot {
            start: interval.start(),
            end: interval.end(),
        };
        assert_eq!(Range::from(slot), back);
        assert_eq!(Zone::from(Utc), Zone::utc());
    }

    proptest! {
        #[test]
        fn instants_round_trip(
            seconds in Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
            nanos in 0i32..1_000_000_000,
        ) {
            let Ok(t) = Timestamp::new(seconds, nanos) else { return Ok(()) };
            let chrono = t.to_chrono();
            // chrono floors to the second below and counts nanoseconds up from it; jiff keeps one
            // signed count: the same instant either way.
            let chrono_nanos = i128::from(chrono.timestamp()) * NANOS_PER_SECOND + i128::from(chrono.timestamp_subsec_nanos());
            prop_assert_eq!(chrono_nanos, t.as_nanosecond());
            prop_assert_eq!(Timestamp::from_chrono(chrono).unwrap(), t);
        }

        #[test]
        fn dates_round_trip(year in -9999i16..=9999, month in 1i8..=12, day in 1i8..=31) {
            let Ok(date) = Date::new(year, month, day) else { return Ok(()) };
            let chrono = date.to_chrono();
            prop_assert_eq!((chrono.year(), chrono.month(), chrono.day()), (i32::from(year), month as u32, day as u32));
            prop_assert_eq!(Date::from_chrono(chrono).unwrap(), date);
        }
    }
}

//! Local times, days of the week, IANA zones and half-open UTC intervals.

use std::fmt;
use std::str::FromStr;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// A day of the week, 0 = Sunday ... 6 = Saturday (the convention of the design and of JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DayOfWeek(u8);

impl DayOfWeek {
    /// Validates 0-6.
    pub fn new(day: i64) -> Result<Self, DomainError> {
        match u8::try_from(day) {
            Ok(d) if d <= 6 => Ok(Self(d)),
            _ => Err(DomainError::InvalidDayOfWeek(day)),
        }
    }

    /// 0 = Sunday ... 6 = Saturday.
    pub fn number(self) -> u8 {
        self.0
    }

    /// From a count of days after Sunday, modulo 7 (so any count is a day).
    #[cfg(feature = "chrono")]
    pub(crate) fn wrapping(days_from_sunday: u32) -> Self {
        Self((days_from_sunday % 7) as u8)
    }

    /// The day of week of a civil date.
    pub fn of(date: jiff::civil::Date) -> Self {
        Self(date.weekday().to_sunday_zero_offset() as u8)
    }
}

impl Serialize for DayOfWeek {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for DayOfWeek {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        DayOfWeek::new(n).map_err(serde::de::Error::custom)
    }
}

/// A wall-clock time of day with minute precision, "00:00" to "24:00" (the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalTime(u16);

impl LocalTime {
    /// The end of the day, "24:00".
    pub const END_OF_DAY: LocalTime = LocalTime(24 * 60);
    /// Midnight at the start of the day, "00:00".
    pub const MIDNIGHT: LocalTime = LocalTime(0);

    /// From hours and minutes; 24:00 is allowed, nothing later.
    pub fn from_hm(hour: u8, minute: u8) -> Result<Self, DomainError> {
        if minute < 60 && (hour < 24 || (hour == 24 && minute == 0)) {
            Ok(Self(u16::from(hour) * 60 + u16::from(minute)))
        } else {
            Err(DomainError::InvalidLocalTime(format!("{hour:02}:{minute:02}")))
        }
    }

    /// From minutes after midnight, 0..=1440.
    pub fn from_minutes(minutes: u16) -> Result<Self, DomainError> {
        if minutes <= 24 * 60 {
            Ok(Self(minutes))
        } else {
            Err(DomainError::InvalidLocalTime(format!("{minutes} minutes")))
        }
    }

    /// Minutes after local midnight (1440 for "24:00").
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Whether this is "24:00".
    pub fn is_end_of_day(self) -> bool {
        self.0 == 24 * 60
    }
}

impl FromStr for LocalTime {
    type Err = DomainError;

    /// Exactly "HH:MM", 24-hour.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || DomainError::InvalidLocalTime(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let hour = (b[0] - b'0') * 10 + (b[1] - b'0');
        let minute = (b[3] - b'0') * 10 + (b[4] - b'0');
        Self::from_hm(hour, minute).map_err(|_| invalid())
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone, validated against the bundled time-zone database.
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// Looks the name up in the IANA database; the name is kept in its canonical spelling.
    pub fn new(name: &str) -> Result<Self, DomainError> {
        let unknown = || DomainError::UnknownTimeZone(name.to_owned());
        // Offsets and POSIX strings are not zone names; only real IANA identifiers are accepted.
        if name.is_empty() || name.len() > 64 {
            return Err(unknown());
        }
        let tz = TimeZone::get(name).map_err(|_| unknown())?;
        let name = tz.iana_name().unwrap_or(name).to_owned();
        Ok(Self { name, tz })
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// The canonical IANA name, e.g. "Europe/Berlin".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's rules, for conversions.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Zone").field(&self.name).finish()
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Zone {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Zone::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A half-open interval of instants, [start, end), with start < end.
///
/// Two intervals overlap when `a.start < b.end && b.start < a.end`; touching ones do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawInterval")]
pub struct Interval {
    start: Timestamp,
    end: Timestamp,
}

#[derive(Deserialize)]
struct RawInterval {
    start: Timestamp,
    end: Timestamp,
}

impl TryFrom<RawInterval> for Interval {
    type Error = DomainError;
    fn try_from(raw: RawInterval) -> Result<Self, Self::Error> {
        Interval::new(raw.start, raw.end)
    }
}

impl Interval {
    /// Validates start < end.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self, DomainError> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(DomainError::EndNotAfterStart {
                start: start.to_string(),
                end: end.to_string(),
            })
        }
    }

    /// The first instant inside the interval.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The first instant after the interval.
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// Whether the two share at least one instant (touching intervals do not).
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether the instant lies inside [start, end).
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// The length in whole seconds.
    pub fn seconds(&self) -> i64 {
        self.end.as_second() - self.start.as_second()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_parses_exactly_hh_mm() {
        assert_eq!("09:30".parse::<LocalTime>().unwrap().minutes(), 570);
        assert_eq!("24:00".parse::<LocalTime>().unwrap(), LocalTime::END_OF_DAY);
        assert_eq!("00:00".parse::<LocalTime>().unwrap().to_string(), "00:00");
        for bad in [
            "25:00",
            "24:01",
            "9:30",
            "09:60",
            "0930",
            "09:3a",
            "",
            "+9:30",
            "09:30:00",
            "２３:00",
        ] {
            assert!(bad.parse::<LocalTime>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn day_of_week_is_0_to_6() {
        assert!(DayOfWeek::new(0).is_ok());
        assert!(DayOfWeek::new(6).is_ok());
        assert_eq!(DayOfWeek::new(7), Err(DomainError::InvalidDayOfWeek(7)));
        assert_eq!(DayOfWeek::new(-1), Err(DomainError::InvalidDayOfWeek(-1)));
        let sunday = jiff::civil::date(2026, 3, 1);
        assert_eq!(DayOfWeek::of(sunday).number(), 0);
    }

    #[test]
    fn zones_are_validated_and_canonical() {
        assert_eq!(Zone::new("Europe/Berlin").unwrap().name(), "Europe/Berlin");
        assert!(Zone::new("Mars/Olympus").is_err());
        assert!(Zone::new("").is_err());
        let z: Result<Zone, _> = serde_json::from_str("\"Not/AZone\"");
        assert!(z.is_err());
    }

    #[test]
    fn intervals_are_half_open() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let a = Interval::new(t("2026-03-02T09:00:00Z"), t("2026-03-02T10:00:00Z")).unwrap();
        let b = Interval::new(t("2026-03-02T10:00:00Z"), t("2026-03-02T11:00:00Z")).unwrap();
        assert!(!a.overlaps(&b));
        assert!(Interval::new(a.end(), a.start()).is_err());
        assert!(Interval::new(a.start(), a.start()).is_err());
        let bad: Result<Interval, _> =
            serde_json::from_str(r#"{"start":"2026-03-02T10:00:00Z","end":"2026-03-02T09:00:00Z"}"#);
        assert!(bad.is_err());
    }
}

//! Graph's date-times (`{"dateTime":"2026-03-02T12:00:00.0000000","timeZone":"UTC"}`: a civil
//! time with up to seven decimals and no offset, in the zone the pair names) and the splitting of
//! long windows into the chunks Graph accepts.

use availability_domain::jiff::civil::DateTime;
use availability_domain::jiff::tz::TimeZone;
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::Interval;
use serde::{Deserialize, Serialize};

use crate::windows_zones;

/// Graph's `dateTimeTimeZone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DateTimeTimeZone {
    pub(crate) date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) time_zone: Option<String>,
}

impl DateTimeTimeZone {
    /// An instant as Graph takes it in requests: the UTC civil time, `"timeZone":"UTC"`.
    pub(crate) fn utc(at: Timestamp) -> Self {
        DateTimeTimeZone {
            date_time: TimeZone::UTC.to_datetime(at).to_string(),
            time_zone: Some("UTC".to_owned()),
        }
    }

    /// The instant this names. Without a `timeZone` the value is UTC (what was asked for with
    /// `Prefer: outlook.timezone="UTC"`); a value that carries an offset is read as such. A zone
    /// that is neither UTC, a known Windows name nor an IANA name is an error, not a guess.
    pub(crate) fn instant(&self) -> Result<Timestamp, String> {
        let text = self.date_time.trim();
        if let Ok(at) = text.parse::<Timestamp>() {
            return Ok(at);
        }
        let civil: DateTime = text
            .parse()
            .map_err(|_| format!("the date-time {text:?} is not an ISO 8601 civil time"))?;
        let zone_name = self.time_zone.as_deref().unwrap_or("UTC");
        let (_, tz) = windows_zones::resolve(zone_name).ok_or_else(|| {
            format!("the time zone {zone_name:?} is neither UTC, a known Windows time-zone name nor an IANA name")
        })?;
        tz.to_timestamp(civil)
            .map_err(|_| format!("the date-time {text:?} does not exist in {zone_name}"))
    }

    /// The civil time as written, without its zone (for all-day events).
    pub(crate) fn civil(&self) -> Option<DateTime> {
        self.date_time.trim().parse().ok()
    }
}

/// `[start, end)` from two Graph date-times; `Ok(None)` for an empty or reversed pair.
pub(crate) fn interval(start: &DateTimeTimeZone, end: &DateTimeTimeZone) -> Result<Option<Interval>, String> {
    let (start, end) = (start.instant()?, end.instant()?);
    Ok(Interval::new(start, end).ok())
}

/// `window` cut into consecutive pieces of at most `longest`, in order.
pub(crate) fn chunks(window: Interval, longest: SignedDuration) -> Vec<Interval> {
    let mut pieces = Vec::new();
    let mut start = window.start();
    while start < window.end() {
        let end = start
            .checked_add(longest)
            .map_or(window.end(), |end| end.min(window.end()));
        match Interval::new(start, end) {
            Ok(piece) => pieces.push(piece),
            // `longest` is not positive: one piece rather than none.
            Err(_) => return vec![window],
        }
        start = end;
    }
    pieces
}

/// The instant rounded down to the whole second (query windows are sent without fractions).
pub(crate) fn floor_second(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

/// The instant rounded up to the whole second.
pub(crate) fn ceil_second(at: Timestamp) -> Timestamp {
    let floor = floor_second(at);
    if floor == at {
        at
    } else {
        floor.checked_add(SignedDuration::from_secs(1)).unwrap_or(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(date_time: &str, zone: Option<&str>) -> DateTimeTimeZone {
        DateTimeTimeZone {
            date_time: date_time.into(),
            time_zone: zone.map(str::to_owned),
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn seven_decimals_without_an_offset_are_utc() {
        let at = dt("2026-03-02T12:00:00.0000000", Some("UTC")).instant().unwrap();
        assert_eq!(at, ts("2026-03-02T12:00:00Z"));
        let at = dt("2026-03-02T12:00:00.1234567", None).instant().unwrap();
        assert_eq!(at, ts("2026-03-02T12:00:00.1234567Z"));
        assert_eq!(
            dt("2026-03-02T12:00:00Z", Some("Pacific Standard Time"))
                .instant()
                .unwrap(),
            ts("2026-03-02T12:00:00Z"),
            "an explicit offset wins over the zone"
        );
    }

    #[test]
    fn windows_zone_names_are_mapped() {
        let at = dt("2026-03-02T10:00:00.0000000", Some("W. Europe Standard Time"))
            .instant()
            .unwrap();
        assert_eq!(at, ts("2026-03-02T09:00:00Z"));
        // Summer time in Berlin.
        let at = dt("2026-07-02T10:00:00.0000000", Some("W. Europe Standard Time"))
            .instant()
            .unwrap();
        assert_eq!(at, ts("2026-07-02T08:00:00Z"));
        let at = dt("2026-03-02T08:00:00.0000000", Some("Pacific Standard Time"))
            .instant()
            .unwrap();
        assert_eq!(at, ts("2026-03-02T16:00:00Z"));
        let at = dt("2026-03-02T08:00:00", Some("Asia/Tokyo")).instant().unwrap();
        assert_eq!(at, ts("2026-03-01T23:00:00Z"));
        let error = dt("2026-03-02T08:00:00", Some("Customized Time Zone"))
            .instant()
            .unwrap_err();
        assert!(error.contains("Customized Time Zone"), "{error}");
        assert!(dt("yesterday", Some("UTC")).instant().is_err());
    }

    #[test]
    fn requests_are_written_in_utc_without_an_offset() {
        assert_eq!(
            DateTimeTimeZone::utc(ts("2026-03-02T10:00:00Z")),
            dt("2026-03-02T10:00:00", Some("UTC"))
        );
    }

    #[test]
    fn long_windows_are_cut_into_chunks() {
        let window = Interval::new(ts("2026-03-01T00:00:00Z"), ts("2026-05-30T00:00:00Z")).unwrap();
        let pieces = chunks(window, SignedDuration::from_hours(31 * 24));
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].start(), window.start());
        assert_eq!(pieces[2].end(), window.end());
        for pair in pieces.windows(2) {
            assert_eq!(pair[0].end(), pair[1].start());
        }
        assert!(pieces.iter().all(|p| p.seconds() <= 31 * 24 * 3600));
        let short = Interval::new(ts("2026-03-01T00:00:00Z"), ts("2026-03-02T00:00:00Z")).unwrap();
        assert_eq!(chunks(short, SignedDuration::from_hours(31 * 24)), vec![short]);
    }

    #[test]
    fn rounding_to_seconds() {
        assert_eq!(floor_second(ts("2026-03-01T00:00:00.7Z")), ts("2026-03-01T00:00:00Z"));
        assert_eq!(ceil_second(ts("2026-03-01T00:00:00.2Z")), ts("2026-03-01T00:00:01Z"));
        assert_eq!(ceil_second(ts("2026-03-01T00:00:00Z")), ts("2026-03-01T00:00:00Z"));
    }
}

//! Time parsing and the three providers' different ways of writing instants.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::FakeError;

/// RFC 3339 with an offset (`Z` or `+01:00`), as every provider accepts in query parameters.
pub(crate) fn parse_instant(value: &str) -> Option<Timestamp> {
    value.parse().ok()
}

/// Like [`parse_instant`], for the fakes' controls.
pub(crate) fn instant(value: &str) -> Result<Timestamp, FakeError> {
    parse_instant(value).ok_or_else(|| FakeError::InvalidTime(value.to_owned()))
}

pub(crate) fn parse_date(value: &str) -> Option<Date> {
    value.parse().ok()
}

pub(crate) fn parse_civil(value: &str) -> Option<DateTime> {
    value.parse().ok()
}

/// The instant a civil time names in `tz`; times in a DST gap take the offset before it.
pub(crate) fn civil_to_instant(civil: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    tz.to_timestamp(civil).ok()
}

/// The start of `date` in `tz` (all-day events block whole local dates).
pub(crate) fn start_of_date(date: Date, tz: &TimeZone) -> Option<Timestamp> {
    tz.to_timestamp(date.to_datetime(jiff::civil::Time::midnight())).ok()
}

/// Google: `2026-03-02T09:00:00Z` in UTC, `2026-03-02T10:00:00+01:00` in another zone.
pub(crate) fn google(ts: Timestamp, tz: &TimeZone) -> String {
    let civil = tz.to_datetime(ts);
    let offset = tz.to_offset(ts);
    if offset.seconds() == 0 {
        format!("{}Z", civil.strftime("%Y-%m-%dT%H:%M:%S"))
    } else {
        format!(
            "{}{}",
            civil.strftime("%Y-%m-%dT%H:%M:%S"),
            offset_text(offset.seconds())
        )
    }
}

/// Google's timestamps of record (`updated`, the echoed `timeMin`): UTC with milliseconds.
pub(crate) fn google_millis(ts: Timestamp) -> String {
    let civil = TimeZone::UTC.to_datetime(ts);
    format!(
        "{}.{:03}Z",
        civil.strftime("%Y-%m-%dT%H:%M:%S"),
        ts.subsec_nanosecond() / 1_000_000
    )
}

/// Graph: seven decimals and no offset (`2026-03-02T12:00:00.0000000`), in `tz`.
pub(crate) fn graph(ts: Timestamp, tz: &TimeZone) -> String {
    let civil = tz.to_datetime(ts);
    format!(
        "{}.{:07}",
        civil.strftime("%Y-%m-%dT%H:%M:%S"),
        civil.subsec_nanosecond() / 100
    )
}

/// Calendly: UTC with microseconds (`2026-03-02T09:00:00.000000Z`).
pub(crate) fn calendly(ts: Timestamp) -> String {
    let civil = TimeZone::UTC.to_datetime(ts);
    format!(
        "{}.{:06}Z",
        civil.strftime("%Y-%m-%dT%H:%M:%S"),
        ts.subsec_nanosecond() / 1_000
    )
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
}

/// Windows time-zone names, as Graph uses them, for the zones tests are likely to meet. IANA names
/// are accepted too. Not documented which names Graph knows: it knows all of Windows' list; the
/// fake knows this subset and treats any other name as unknown.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
];

/// A Windows or IANA zone name as Graph accepts it.
pub(crate) fn graph_zone(name: &str) -> Option<TimeZone> {
    let iana = WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(name))
        .map_or(name, |(_, iana)| *iana);
    TimeZone::get(iana).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let ts: Timestamp = "2026-03-02T09:00:00.5Z".parse().unwrap();
        assert_eq!(google(ts, &TimeZone::UTC), "2026-03-02T09:00:00Z");
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(google(ts, &berlin), "2026-03-02T10:00:00+01:00");
        assert_eq!(google_millis(ts), "2026-03-02T09:00:00.500Z");
        assert_eq!(graph(ts, &TimeZone::UTC), "2026-03-02T09:00:00.5000000");
        assert_eq!(calendly(ts), "2026-03-02T09:00:00.500000Z");
        let ny = graph_zone("Eastern Standard Time").unwrap();
        assert_eq!(graph(ts, &ny), "2026-03-02T04:00:00.5000000");
        assert!(graph_zone("Nowhere Standard Time").is_none());
    }
}

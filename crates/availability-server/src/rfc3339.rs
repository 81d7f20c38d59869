//! A fast writer of whole-second UTC instants as RFC 3339 (`2026-03-02T09:00:00Z`): a slot list is
//! hundreds of them per answer, and the general-purpose printer was the largest part of the slots
//! route after the network (docs/benchmarks.md). Anything else falls back to jiff's printer, which
//! writes the same text.

use std::fmt::Write;

use availability_domain::jiff::Timestamp;

/// Appends `t` in UTC, exactly as `t.to_string()` would.
pub fn write_utc(out: &mut String, t: Timestamp) {
    let seconds = t.as_second();
    let days = seconds.div_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if t.subsec_nanosecond() != 0 || !(0..=9999).contains(&year) {
        // Fractions and far years: rare here, and jiff knows every rule.
        let _ = write!(out, "{t}");
        return;
    }
    let of_day = seconds.rem_euclid(86_400);
    let mut buf = *b"0000-00-00T00:00:00Z";
    put(&mut buf[0..4], year);
    put(&mut buf[5..7], month);
    put(&mut buf[8..10], day);
    put(&mut buf[11..13], of_day / 3600);
    put(&mut buf[14..16], of_day / 60 % 60);
    put(&mut buf[17..19], of_day % 60);
    // Only ASCII digits and separators were written.
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Writes `value`'s last `slot.len()` decimal digits, zero-padded.
fn put(slot: &mut [u8], mut value: i64) {
    for b in slot.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, http://howardhinnant.github.io/date_algorithms.html).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(t: Timestamp) -> String {
        let mut out = String::new();
        write_utc(&mut out, t);
        out
    }

    #[test]
    fn known_instants() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2026-03-29T01:00:00Z",
            "1969-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "9999-12-30T21:59:59Z",
            "2026-11-24T12:00:00.5Z",
        ] {
            let t: Timestamp = text.parse().unwrap();
            assert_eq!(written(t), t.to_string(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn writes_what_jiff_writes(seconds in Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(), nanos in prop_oneof![Just(0i32), 0..1_000_000_000i32]) {
            let t = Timestamp::new(seconds, if seconds == Timestamp::MAX.as_second() { 0 } else { nanos }).unwrap();
            prop_assert_eq!(written(t), t.to_string());
        }
    }
}

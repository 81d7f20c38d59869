//! A fast writer of whole-second UTC instants as RFC 3339 (`2026-03-02T09:00:00Z`): a slot list is
//! hundreds of them per answer, and the general-purpose printer was the largest part of the slots
//! route after the network (docs/benchmarks.md). Anything else falls back to jiff's printer, which
//! writes the same text.

use availability_domain::jiff::Timestamp;

/// Appends `t` in UTC, exactly as `t.to_string()` would (one instant; see [`UtcWriter`] for many).
pub fn write_utc(out: &mut String, t: Timestamp) {
    match UtcWriter::default().text(t) {
        // Only ASCII digits and separators were written.
        Some(text) => out.push_str(std::str::from_utf8(&text).unwrap_or_default()),
        None => out.push_str(&t.to_string()),
    }
}

/// Writes many whole-second UTC instants in a row into bytes, as [`write_utc`] does: the instants
/// of a slot answer come in order and share their days, so the date is worked out once per day
/// and the time of day is three two-digit lookups (no division by ten, no UTF-8 check per
/// instant).
#[derive(Debug, Default)]
pub struct UtcWriter {
    /// The day (since 1970-01-01) whose "YYYY-MM-DDT" is in `date`.
    day: Option<i64>,
    date: [u8; 11],
}

/// "00" to "59".
const TWO_DIGITS: [[u8; 2]; 60] = {
    let mut table = [[0u8; 2]; 60];
    let mut i = 0;
    while i < 60 {
        table[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    table
};

impl UtcWriter {
    /// Appends `t` in UTC, exactly as `t.to_string()` would.
    pub fn write(&mut self, out: &mut Vec<u8>, t: Timestamp) {
        match self.text(t) {
            Some(text) => out.extend_from_slice(&text),
            // Fractions and far years: rare here, and jiff knows every rule.
            None => out.extend_from_slice(t.to_string().as_bytes()),
        }
    }

    /// `t` as "YYYY-MM-DDTHH:MM:SSZ"; None for fractions of a second and years outside 0000-9999.
    fn text(&mut self, t: Timestamp) -> Option<[u8; 20]> {
        let seconds = t.as_second();
        if t.subsec_nanosecond() != 0 || !self.knows(seconds.div_euclid(86_400)) {
            return None;
        }
        // 0..86_400 fits any integer type.
        let of_day = seconds.rem_euclid(86_400) as usize;
        let [h1, h2] = TWO_DIGITS[of_day / 3600];
        let [m1, m2] = TWO_DIGITS[of_day / 60 % 60];
        let [s1, s2] = TWO_DIGITS[of_day % 60];
        let mut text = [0u8; 20];
        text[..11].copy_from_slice(&self.date);
        text[11..].copy_from_slice(&[h1, h2, b':', m1, m2, b':', s1, s2, b'Z']);
        Some(text)
    }

    /// Whether `date` holds `days`' date, computing it when the day changed; false for years
    /// outside 0000-9999.
    fn knows(&mut self, days: i64) -> bool {
        if self.day == Some(days) {
            return true;
        }
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return false;
        }
        let mut date = *b"0000-00-00T";
        put(&mut date[0..4], year);
        put(&mut date[5..7], month);
        put(&mut date[8..10], day);
        self.date = date;
        self.day = Some(days);
        true
    }
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
        /// Instants in a row, as a slot answer writes them (same days, a day apart, far apart).
        #[test]
        fn the_writer_writes_what_jiff_writes(
            first in Timestamp::MIN.as_second()..=Timestamp::MAX.as_second() - 40 * 400 * 86_400,
            steps in proptest::collection::vec(prop_oneof![0..3_600i64, 0..200_000i64, 0..400 * 86_400i64], 1..40),
            nanos in prop_oneof![Just(0i32), 0..1_000_000_000i32],
        ) {
            let mut writer = UtcWriter::default();
            let mut out = Vec::new();
            let mut expected = String::new();
            let mut at = first;
            for (i, step) in steps.into_iter().enumerate() {
                at += step;
                let t = Timestamp::new(at, if i == 3 { nanos } else { 0 }).unwrap();
                writer.write(&mut out, t);
                expected.push_str(&t.to_string());
            }
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }

        #[test]
        fn writes_what_jiff_writes(seconds in Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(), nanos in prop_oneof![Just(0i32), 0..1_000_000_000i32]) {
            let t = Timestamp::new(seconds, if seconds == Timestamp::MAX.as_second() { 0 } else { nanos }).unwrap();
            prop_assert_eq!(written(t), t.to_string());
        }
    }
}

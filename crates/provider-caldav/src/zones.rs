//! The time zones of iCalendar data, resolved to instants with one rule for every kind of TZID:
//! an IANA name (jiff's bundled database), a Windows or Outlook name (calcard's table maps it
//! to an IANA zone), a VTIMEZONE whose TZID is neither (its STANDARD/DAYLIGHT observances are
//! expanded into a transition table), a UTC or fixed-offset value, or a floating time (taken in
//! the expert's zone).
//!
//! RFC 5545 3.3.5: a local time that does not exist (in a spring-forward gap) is read with the
//! offset before the gap; a repeated one (in an autumn fold) is the first of the two. jiff's
//! `compatible` disambiguation is exactly that, and [`CustomZone::instant`] does the same.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use calcard::common::timezone::Tz;
use calcard::common::PartialDateTime;
use calcard::icalendar::{ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarProperty, ICalendarValue};
use jiff::civil;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

use crate::expand::{expand_rule, RuleBounds};

/// How far beyond the queried span a custom zone's transitions are computed: a rule's
/// instances are compared a little outside the window (durations, margins).
const CUSTOM_ZONE_MARGIN_DAYS: i64 = 400;

/// The zone a DATE-TIME value is in.
#[derive(Debug, Clone)]
pub(crate) enum EventZone {
    /// No TZID and no offset: the time is the same wall time everywhere (read in the expert's zone).
    Floating,
    /// A zone jiff knows (IANA, or a Windows name mapped to IANA), or a fixed offset.
    Known(TimeZone),
    /// A VTIMEZONE that only its own observances define.
    Custom(Arc<CustomZone>),
}

impl EventZone {
    /// The instant of a wall time in this zone (gaps take the offset before, folds the first).
    pub(crate) fn instant(&self, local: civil::DateTime, floating: &TimeZone) -> Option<Timestamp> {
        match self {
            Self::Floating => floating.to_ambiguous_timestamp(local).compatible().ok(),
            Self::Known(tz) => tz.to_ambiguous_timestamp(local).compatible().ok(),
            Self::Custom(zone) => zone.instant(local),
        }
    }

    /// The wall time of an instant in this zone.
    pub(crate) fn civil(&self, at: Timestamp, floating: &TimeZone) -> civil::DateTime {
        match self {
            Self::Floating => floating.to_datetime(at),
            Self::Known(tz) => tz.to_datetime(at),
            Self::Custom(zone) => {
                let offset = zone.offset_at(at);
                Offset::from_seconds(offset).map_or_else(|_| TimeZone::UTC.to_datetime(at), |o| o.to_datetime(at))
            }
        }
    }

    /// Two values are in the same zone, so a duration between them is a wall-clock one.
    pub(crate) fn same_as(&self, other: &EventZone) -> bool {
        match (self, other) {
            (Self::Floating, Self::Floating) => true,
            (Self::Known(a), Self::Known(b)) => a == b,
            (Self::Custom(a), Self::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A zone defined only by its VTIMEZONE: the offset in force from each transition on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CustomZone {
    /// Offset (seconds east of UTC) before the first transition.
    initial: i32,
    /// Transitions, sorted: from this instant on, this offset.
    transitions: Vec<(Timestamp, i32)>,
}

impl CustomZone {
    fn offset_at(&self, at: Timestamp) -> i32 {
        match self.transitions.partition_point(|(t, _)| *t <= at) {
            0 => self.initial,
            n => self.transitions[n - 1].1,
        }
    }

    /// The instant of a wall time: the offsets in force a day before and a day after are the
    /// only candidates (transitions are months apart); a gap takes the one before.
    fn instant(&self, local: civil::DateTime) -> Option<Timestamp> {
        let naive = TimeZone::UTC.to_timestamp(local).ok()?.as_second();
        let at = |s: i64| Timestamp::from_second(s).ok();
        let before = self.offset_at(at(naive - 86_400)?);
        let after = self.offset_at(at(naive + 86_400)?);
        let valid: Vec<i64> = [before, after]
            .iter()
            .map(|o| naive - i64::from(*o))
            .filter(|t| at(*t).is_some_and(|ts| i64::from(self.offset_at(ts)) == naive - t))
            .collect();
        let seconds = valid.iter().copied().min().unwrap_or(naive - i64::from(before));
        at(seconds)
    }
}

/// Seconds east of UTC of a UTC-OFFSET value (calcard reads it into the zone fields).
fn offset_seconds(value: &PartialDateTime) -> i32 {
    let seconds = i32::from(value.tz_hour.unwrap_or(0)) * 3600 + i32::from(value.tz_minute.unwrap_or(0)) * 60;
    if value.tz_minus {
        -seconds
    } else {
        seconds
    }
}

/// A zone by name: IANA first, then the names calcard maps (Windows and Outlook display names,
/// `/softwarestudio.org/...` prefixes), then fixed offsets it recognises.
pub(crate) fn zone_by_name(name: &str) -> Option<TimeZone> {
    if let Ok(tz) = TimeZone::get(name) {
        return Some(tz);
    }
    match Tz::from_str(name).ok()? {
        Tz::Tz(tz) => TimeZone::get(tz.name()).ok(),
        Tz::Fixed(offset) => Offset::from_seconds(offset.local_minus_utc()).ok().map(TimeZone::fixed),
        Tz::Floating => None,
    }
}

/// The TZIDs of one calendar object, resolved.
#[derive(Debug)]
pub(crate) struct ZoneResolver {
    by_tzid: HashMap<String, EventZone>,
}

impl ZoneResolver {
    /// Resolves every VTIMEZONE of `calendar`; custom ones get transitions around `span`.
    pub(crate) fn new(calendar: &ICalendar, span: (Timestamp, Timestamp)) -> Self {
        let mut by_tzid = HashMap::new();
        for component in calendar
            .components
            .iter()
            .filter(|c| c.component_type == ICalendarComponentType::VTimezone)
        {
            let Some(tzid) = component
                .property(&ICalendarProperty::Tzid)
                .and_then(|e| e.values.first())
                .and_then(ICalendarValue::as_text)
            else {
                continue;
            };
            let zone = zone_by_name(tzid)
                .or_else(|| {
                    // X-LIC-LOCATION or X-MICROSOFT-CDO-TZID name a known zone.
                    match component.timezone()?.1 {
                        Tz::Tz(tz) => TimeZone::get(tz.name()).ok(),
                        _ => None,
                    }
                })
                .map(EventZone::Known)
                .or_else(|| custom_zone(calendar, component, span).map(|z| EventZone::Custom(Arc::new(z))));
            if let Some(zone) = zone {
                by_tzid.insert(tzid.to_owned(), zone);
            } else {
                tracing::warn!(
                    tzid,
                    "a VTIMEZONE could not be read; its times are taken in the expert's zone"
                );
            }
        }
        Self { by_tzid }
    }

    /// The zone of a value with this TZID (or none: floating).
    pub(crate) fn zone(&self, tzid: Option<&str>) -> EventZone {
        let Some(tzid) = tzid else {
            return EventZone::Floating;
        };
        if let Some(zone) = self.by_tzid.get(tzid) {
            return zone.clone();
        }
        match zone_by_name(tzid) {
            Some(tz) => EventZone::Known(tz),
            None => {
                tracing::warn!(
                    tzid,
                    "an unknown TZID without VTIMEZONE; its times are taken in the expert's zone"
                );
                EventZone::Floating
            }
        }
    }
}

/// A VTIMEZONE's transitions from its STANDARD and DAYLIGHT observances (DTSTART in the local
/// time before the onset, TZOFFSETFROM, TZOFFSETTO, RRULE and RDATE), expanded around `span`.
fn custom_zone(
    calendar: &ICalendar,
    vtimezone: &ICalendarComponent,
    span: (Timestamp, Timestamp),
) -> Option<CustomZone> {
    let margin = jiff::SignedDuration::from_hours(24 * CUSTOM_ZONE_MARGIN_DAYS);
    let to = TimeZone::UTC.to_datetime(span.1.checked_add(margin).ok()?);
    let from = TimeZone::UTC.to_datetime(span.0.checked_sub(margin).ok()?);
    let mut onsets: Vec<(Timestamp, i32, i32)> = Vec::new();
    for id in &vtimezone.component_ids {
        let Some(observance) = calendar.components.get(*id as usize) else {
            continue;
        };
        if !matches!(
            observance.component_type,
            ICalendarComponentType::Standard | ICalendarComponentType::Daylight
        ) {
            continue;
        }
        let value = |p: ICalendarProperty| {
            observance
                .property(&p)
                .and_then(|e| e.values.first())
                .and_then(ICalendarValue::as_partial_date_time)
        };
        let (Some(start), Some(offset_from), Some(offset_to)) = (
            value(ICalendarProperty::Dtstart).and_then(civil_of),
            value(ICalendarProperty::Tzoffsetfrom).map(offset_seconds),
            value(ICalendarProperty::Tzoffsetto).map(offset_seconds),
        ) else {
            continue;
        };
        let mut locals = vec![start];
        if let Some(ICalendarValue::RecurrenceRule(rule)) = observance
            .property(&ICalendarProperty::Rrule)
            .and_then(|e| e.values.first())
        {
            let until = rule.until.as_ref().and_then(|u| {
                // UNTIL of an observance is in UTC: its wall time before the onset.
                let utc = civil_of(u)?;
                if u.tz_hour.is_some() {
                    utc.checked_add(jiff::SignedDuration::from_secs(i64::from(offset_from)))
                        .ok()
                } else {
                    Some(utc)
                }
            });
            let bounds = RuleBounds {
                from,
                to,
                until,
                max_instances: 10_000,
            };
            locals = expand_rule(start, rule, &bounds).0;
            locals.push(start);
        }
        for entry in observance.properties(&ICalendarProperty::Rdate) {
            locals.extend(
                entry
                    .values
                    .iter()
                    .filter_map(ICalendarValue::as_partial_date_time)
                    .filter_map(civil_of),
            );
        }
        for local in locals {
            // The onset is a wall time in the offset in force before it.
            let Ok(zoned) = TimeZone::UTC.to_timestamp(local) else {
                continue;
            };
            let Ok(at) = zoned.checked_sub(jiff::SignedDuration::from_secs(i64::from(offset_from))) else {
                continue;
            };
            onsets.push((at, offset_from, offset_to));
        }
    }
    onsets.sort_by_key(|(at, _, _)| *at);
    onsets.dedup_by_key(|(at, _, _)| *at);
    let initial = onsets.first()?.1;
    Some(CustomZone {
        initial,
        transitions: onsets.into_iter().map(|(at, _, to)| (at, to)).collect(),
    })
}

/// A DATE or DATE-TIME value's wall time (a DATE at midnight), ignoring any zone.
pub(crate) fn civil_of(value: &PartialDateTime) -> Option<civil::DateTime> {
    let date = civil::Date::new(
        i16::try_from(value.year?).ok()?,
        i8::try_from(value.month?).ok()?,
        i8::try_from(value.day?).ok()?,
    )
    .ok()?;
    let time = civil::Time::new(
        i8::try_from(value.hour.unwrap_or(0)).ok()?,
        i8::try_from(value.minute.unwrap_or(0)).ok()?,
        // A leap second (60) is read as the last second of the minute.
        i8::try_from(value.second.unwrap_or(0).min(59)).ok()?,
        0,
    )
    .ok()?;
    Some(date.to_datetime(time))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use calcard::{Entry, Parser};

    fn calendar(text: &str) -> ICalendar {
        match Parser::new(text).entry() {
            Entry::ICalendar(c) => c,
            other => panic!("{other:?}"),
        }
    }

    const CUSTOM: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTIMEZONE\r\nTZID:My Office Time\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_custom_vtimezone_follows_its_own_rules_with_gaps_and_folds() {
        let span = (
            "2027-01-01T00:00:00Z".parse().unwrap(),
            "2027-12-31T00:00:00Z".parse().unwrap(),
        );
        let zones = ZoneResolver::new(&calendar(CUSTOM), span);
        let zone = zones.zone(Some("My Office Time"));
        assert!(matches!(zone, EventZone::Custom(_)), "{zone:?}");
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        for local in [
            "2027-03-27T09:00", // before the change
            "2027-03-28T01:30",
            "2027-03-28T02:30", // does not exist: the offset before the gap (+01:00)
            "2027-03-29T09:00",
            "2027-10-31T02:30", // repeated: the first
            "2027-10-31T03:30",
            "2027-12-01T09:00",
        ] {
            let local: civil::DateTime = local.parse().unwrap();
            assert_eq!(
                zone.instant(local, &TimeZone::UTC),
                berlin.to_ambiguous_timestamp(local).compatible().ok(),
                "{local}"
            );
        }
        assert_eq!(
            zone.instant("2027-03-28T02:30".parse().unwrap(), &TimeZone::UTC),
            Some("2027-03-28T01:30:00Z".parse().unwrap())
        );
    }

    #[test]
    fn windows_names_and_iana_names_resolve() {
        assert_eq!(
            zone_by_name("W. Europe Standard Time"),
            TimeZone::get("Europe/Berlin").ok()
        );
        assert_eq!(
            zone_by_name("Eastern Standard Time").map(|z| z.iana_name().map(str::to_owned)),
            Some(Some("America/New_York".to_owned()))
        );
        assert!(zone_by_name("Australia/Lord_Howe").is_some());
        assert!(zone_by_name("Nowhere Special Time").is_none());
    }
}

//! Busy time from iCalendar data: every VEVENT occurrence that overlaps a window, with
//! recurrences expanded here rather than by the server (servers disagree on `<C:expand>`).
//!
//! calcard parses the data and generates the dates of an RRULE. Everything around that is done
//! here, because calcard's own `expand_dates` walks a series from DTSTART with a counter (a
//! daily series begun in 2015 would cost thousands of steps, an HOURLY one far more), matches
//! RECURRENCE-ID overrides by SEQUENCE, and leaves instances that fall in a DST gap floating:
//!
//! - the rule is expanded in the event's own zone, in wall time, from an anchor moved forward by
//!   whole periods to just before the window, and cut at the window's end ([`expand_rule`]);
//! - RDATE adds instances, EXDATE removes them, an override (same UID, RECURRENCE-ID) replaces
//!   its instance, and `RANGE=THISANDFUTURE` moves every later instance by the same shift;
//! - the duration is DTEND - DTSTART in wall time when both are in the same zone (a weekly
//!   09:00-10:00 stays 09:00-10:00 across DST), else the exact difference; DURATION adds its
//!   days in wall time and the rest exactly; no DTEND on a DATE event is one day;
//! - DATE (all-day) events block whole days in the expert's zone;
//! - TRANSP:TRANSPARENT, STATUS:CANCELLED and events the expert declined do not block.

use std::collections::BTreeMap;

use calcard::common::timezone::Tz;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarDuration, ICalendarEntry, ICalendarFrequency,
    ICalendarParameterName, ICalendarParameterValue, ICalendarParticipationStatus, ICalendarPeriod, ICalendarProperty,
    ICalendarRecurrenceRule, ICalendarStatus, ICalendarTransparency, ICalendarValue,
};
use calcard::{Entry, Parser};
use jiff::civil;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::zones::{civil_of, EventZone, ZoneResolver};

/// How much work one series may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpansionLimits {
    /// Instances generated per series and window at most (after the anchor moved to the
    /// window): bounds MINUTELY and SECONDLY rules. Instances past it are dropped, with a warning.
    pub max_instances_per_series: usize,
}

impl Default for ExpansionLimits {
    fn default() -> Self {
        Self {
            max_instances_per_series: 50_000,
        }
    }
}

/// Who the expert is, for reading their calendar.
#[derive(Debug, Clone)]
pub struct ExpansionContext {
    /// The expert's zone: floating times are read in it, and all-day events block its days.
    pub expert_zone: TimeZone,
    /// The expert's calendar user addresses (`mailto:` or bare), to find their PARTSTAT.
    pub expert_addresses: Vec<String>,
    /// Work bounds.
    pub limits: ExpansionLimits,
}

/// One occurrence of an event that overlaps the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The event's UID.
    pub uid: String,
    /// Start (an all-day event: midnight of its first day in the expert's zone).
    pub start: Timestamp,
    /// End, exclusive.
    pub end: Timestamp,
    /// A DATE (all-day) event.
    pub all_day: bool,
    /// It blocks time (opaque, not cancelled, not declined by the expert).
    pub blocks: bool,
}

/// Why iCalendar text could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not iCalendar data: {0}")]
pub struct IcalError(pub String);

/// The occurrences of the VEVENTs in `ics` (one or more VCALENDAR objects) that overlap `window`
/// (start < window end and end > window start), blocking or not, sorted by start.
pub fn expand_occurrences(
    ics: &str,
    context: &ExpansionContext,
    window: (Timestamp, Timestamp),
) -> Result<Vec<Occurrence>, IcalError> {
    let mut parser = Parser::new(ics);
    let mut occurrences = Vec::new();
    let mut calendars = 0;
    loop {
        match parser.entry() {
            Entry::ICalendar(calendar) => {
                calendars += 1;
                expand_calendar(&calendar, context, window, &mut occurrences);
            }
            Entry::Eof => break,
            Entry::InvalidLine(_) => continue,
            other => {
                if calendars == 0 {
                    return Err(IcalError(format!("{other:?}").chars().take(120).collect()));
                }
                break;
            }
        }
    }
    if calendars == 0 {
        return Err(IcalError("no VCALENDAR".to_owned()));
    }
    occurrences.sort_by_key(|o| (o.start, o.end));
    Ok(occurrences)
}

/// The busy intervals of `ics` in `window`: the blocking occurrences, sorted and merged.
pub fn busy_intervals_in(
    ics: &str,
    context: &ExpansionContext,
    window: (Timestamp, Timestamp),
) -> Result<Vec<(Timestamp, Timestamp)>, IcalError> {
    let blocking = expand_occurrences(ics, context, window)?
        .into_iter()
        .filter(|o| o.blocks)
        .map(|o| (o.start, o.end));
    Ok(merge(blocking))
}

/// What a calendar object holding one non-recurring event (an appointment's, as the change feed
/// reads it) says of that event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SingleEvent {
    /// The event is at this time (start, end exclusive).
    At(Timestamp, Timestamp),
    /// STATUS:CANCELLED.
    Cancelled,
}

/// Custom VTIMEZONEs are resolved over this span when one event's time is read (its time is
/// not known before): every date an appointment can have.
const SINGLE_EVENT_SPAN: (Timestamp, Timestamp) = (
    Timestamp::constant(946_684_800, 0),   // 2000-01-01
    Timestamp::constant(4_102_444_800, 0), // 2100-01-01
);

/// The time of the one VEVENT of a calendar object (TZID, custom VTIMEZONE, DURATION and
/// all-day as in busy time; floating times in `floating`), or that it is cancelled. `None` for
/// an object without a VEVENT, a recurring one (RRULE, RDATE or overrides: appointments never
/// recur), or one without a usable time.
pub(crate) fn single_event(ics: &str, floating: &TimeZone) -> Result<Option<SingleEvent>, IcalError> {
    let calendar = match Parser::new(ics).entry() {
        Entry::ICalendar(calendar) => calendar,
        other => return Err(IcalError(format!("{other:?}").chars().take(120).collect())),
    };
    let zones = ZoneResolver::new(&calendar, SINGLE_EVENT_SPAN);
    let mut events = calendar
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VEvent)
        .map(|c| Vevent::read(c, &zones, &[]));
    let Some(Some(event)) = events.next() else {
        return Ok(None);
    };
    if events.next().is_some() || event.rule.is_some() || !event.rdates.is_empty() || event.recurrence_id.is_some() {
        return Ok(None);
    }
    if event.cancelled {
        return Ok(Some(SingleEvent::Cancelled));
    }
    Ok(occurrence_span(&event.start, &event.end, floating)
        .filter(|(start, end, _)| start < end)
        .map(|(start, end, _)| SingleEvent::At(start, end)))
}

/// Sorts and merges overlapping or touching intervals.
pub(crate) fn merge(intervals: impl IntoIterator<Item = (Timestamp, Timestamp)>) -> Vec<(Timestamp, Timestamp)> {
    let mut all: Vec<_> = intervals.into_iter().filter(|(s, e)| s < e).collect();
    all.sort();
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(all.len());
    for (start, end) in all {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// A DATE or DATE-TIME value with its zone.
#[derive(Debug, Clone)]
enum When {
    Date(civil::Date),
    Time { local: civil::DateTime, zone: EventZone },
}

/// What identifies an instance: RECURRENCE-ID and EXDATE match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum InstanceKey {
    Date(civil::Date),
    At(Timestamp),
}

impl When {
    fn read(entry: &ICalendarEntry, value: &PartialDateTime, zones: &ZoneResolver) -> Option<Self> {
        let local = civil_of(value)?;
        if !value.has_time() {
            return Some(Self::Date(local.date()));
        }
        let zone = if value.tz_hour.is_some() {
            let seconds = i32::from(value.tz_hour.unwrap_or(0)) * 3600 + i32::from(value.tz_minute.unwrap_or(0)) * 60;
            let seconds = if value.tz_minus { -seconds } else { seconds };
            EventZone::Known(TimeZone::fixed(jiff::tz::Offset::from_seconds(seconds).ok()?))
        } else {
            zones.zone(entry.tz_id())
        };
        Some(Self::Time { local, zone })
    }

    fn key(&self, floating: &TimeZone) -> Option<InstanceKey> {
        match self {
            Self::Date(d) => Some(InstanceKey::Date(*d)),
            Self::Time { local, zone } => zone.instant(*local, floating).map(InstanceKey::At),
        }
    }
}

/// How an event's end is given.
#[derive(Debug, Clone)]
enum EndSpec {
    End(When),
    Duration(ICalendarDuration),
    /// A wall-clock length (DTEND - DTSTART in one zone): the end is the start's wall time plus
    /// this, read in the same zone.
    WallLength(SignedDuration),
    None,
}

/// One VEVENT, read.
#[derive(Debug, Clone)]
struct Vevent {
    uid: String,
    start: When,
    end: EndSpec,
    rule: Option<ICalendarRecurrenceRule>,
    rdates: Vec<(When, Option<EndSpec>)>,
    exdates: Vec<When>,
    recurrence_id: Option<(When, bool)>,
    blocks: bool,
    cancelled: bool,
}

fn first_date_value(
    component: &ICalendarComponent,
    property: &ICalendarProperty,
) -> Option<(ICalendarEntry, PartialDateTime)> {
    let entry = component.property(property)?;
    let value = entry.values.first()?.as_partial_date_time()?.clone();
    Some((entry.clone(), value))
}

fn stripped_address(address: &str) -> String {
    let lower = address.trim().to_ascii_lowercase();
    lower.strip_prefix("mailto:").unwrap_or(&lower).to_owned()
}

impl Vevent {
    fn read(component: &ICalendarComponent, zones: &ZoneResolver, expert_addresses: &[String]) -> Option<Self> {
        let uid = component.uid().unwrap_or_default().to_owned();
        let (start_entry, start_value) = first_date_value(component, &ICalendarProperty::Dtstart)?;
        let start = When::read(&start_entry, &start_value, zones)?;
        let end = if let Some((entry, value)) = first_date_value(component, &ICalendarProperty::Dtend) {
            When::read(&entry, &value, zones).map_or(EndSpec::None, EndSpec::End)
        } else if let Some(ICalendarValue::Duration(d)) = component
            .property(&ICalendarProperty::Duration)
            .and_then(|e| e.values.first())
        {
            EndSpec::Duration(d.clone())
        } else {
            EndSpec::None
        };
        let rule = component
            .property(&ICalendarProperty::Rrule)
            .and_then(|e| match e.values.first() {
                Some(ICalendarValue::RecurrenceRule(rule)) => Some((**rule).clone()),
                _ => None,
            });
        let mut rdates = Vec::new();
        for entry in component.properties(&ICalendarProperty::Rdate) {
            for value in &entry.values {
                match value {
                    ICalendarValue::PartialDateTime(v) => rdates.extend(When::read(entry, v, zones).map(|w| (w, None))),
                    ICalendarValue::Period(ICalendarPeriod::Range { start, end }) => {
                        if let (Some(s), Some(e)) = (When::read(entry, start, zones), When::read(entry, end, zones)) {
                            rdates.push((s, Some(EndSpec::End(e))));
                        }
                    }
                    ICalendarValue::Period(ICalendarPeriod::Duration { start, duration }) => {
                        if let Some(s) = When::read(entry, start, zones) {
                            rdates.push((s, Some(EndSpec::Duration(duration.clone()))));
                        }
                    }
                    _ => {}
                }
            }
        }
        let exdates = component
            .properties(&ICalendarProperty::Exdate)
            .flat_map(|entry| {
                entry
                    .values
                    .iter()
                    .filter_map(|v| v.as_partial_date_time())
                    .filter_map(|v| When::read(entry, v, zones))
                    .collect::<Vec<_>>()
            })
            .collect();
        let recurrence_id = first_date_value(component, &ICalendarProperty::RecurrenceId).and_then(|(entry, value)| {
            // THISANDFUTURE is the only RANGE value RFC 5545 defines (calcard reads it that way too).
            let this_and_future = entry.params.iter().any(|p| p.name == ICalendarParameterName::Range);
            When::read(&entry, &value, zones).map(|w| (w, this_and_future))
        });
        let transparent = matches!(component.transparency(), Some(ICalendarTransparency::Transparent));
        let cancelled = matches!(component.status(), Some(ICalendarStatus::Cancelled));
        let declined = component.properties(&ICalendarProperty::Attendee).any(|attendee| {
            let address = attendee
                .values
                .first()
                .and_then(ICalendarValue::as_text)
                .map(stripped_address);
            let is_expert = address.is_some_and(|a| expert_addresses.iter().any(|e| stripped_address(e) == a));
            is_expert
                && attendee.parameters(&ICalendarParameterName::Partstat).any(|p| match p {
                    ICalendarParameterValue::Partstat(ICalendarParticipationStatus::Declined) => true,
                    other => other.as_text().is_some_and(|t| t.eq_ignore_ascii_case("DECLINED")),
                })
        });
        Some(Self {
            uid,
            start,
            end,
            rule,
            rdates,
            exdates,
            recurrence_id,
            blocks: !transparent && !cancelled && !declined,
            cancelled,
        })
    }
}

/// An instance of a series: its start, its end (relative to its start) and its blocking.
struct Instance {
    start: When,
    end: EndSpec,
    blocks: bool,
}

fn expand_calendar(
    calendar: &ICalendar,
    context: &ExpansionContext,
    window: (Timestamp, Timestamp),
    out: &mut Vec<Occurrence>,
) {
    let zones = ZoneResolver::new(calendar, window);
    let mut series: BTreeMap<String, (Option<Vevent>, Vec<Vevent>)> = BTreeMap::new();
    for component in calendar
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VEvent)
    {
        let Some(event) = Vevent::read(component, &zones, &context.expert_addresses) else {
            tracing::warn!("a VEVENT without a readable DTSTART is ignored");
            continue;
        };
        let entry = series.entry(event.uid.clone()).or_default();
        if event.recurrence_id.is_some() {
            entry.1.push(event);
        } else if entry.0.is_none() {
            entry.0 = Some(event);
        }
    }
    for (_, (master, overrides)) in series {
        expand_series(master.as_ref(), &overrides, context, window, out);
    }
}

fn expand_series(
    master: Option<&Vevent>,
    overrides: &[Vevent],
    context: &ExpansionContext,
    window: (Timestamp, Timestamp),
    out: &mut Vec<Occurrence>,
) {
    let floating = &context.expert_zone;
    let mut instances: Vec<Instance> = Vec::new();
    if let Some(master) = master {
        instances = series_starts(master, context, window)
            .into_iter()
            .map(|start| Instance {
                start,
                end: master.end.clone(),
                blocks: master.blocks,
            })
            .collect();
        for (start, end) in &master.rdates {
            instances.push(Instance {
                start: start.clone(),
                end: end.clone().unwrap_or_else(|| master.end.clone()),
                blocks: master.blocks,
            });
        }
        // RFC 5545 3.8.5.3: DTSTART always counts as an occurrence, even when it does not
        // match the rule (its own calendar app shows it too); the set has no duplicates.
        instances.push(Instance {
            start: master.start.clone(),
            end: master.end.clone(),
            blocks: master.blocks,
        });
        let mut seen = std::collections::BTreeSet::new();
        instances.retain(|i| i.start.key(floating).is_some_and(|k| seen.insert(k)));
        let excluded: Vec<InstanceKey> = master.exdates.iter().filter_map(|w| w.key(floating)).collect();
        instances.retain(|i| i.start.key(floating).is_none_or(|k| !excluded.contains(&k)));
        // Anchor-relative durations come from the master's own DTSTART.
        for instance in &mut instances {
            instance.end = absolute_end(&master.start, &instance.end, floating);
        }
    }

    let mut overridden: Vec<InstanceKey> = Vec::new();
    let mut this_and_future: Vec<(InstanceKey, &Vevent)> = Vec::new();
    for o in overrides {
        let Some((rid, future)) = &o.recurrence_id else {
            continue;
        };
        let Some(key) = rid.key(floating) else {
            continue;
        };
        overridden.push(key);
        if *future {
            this_and_future.push((key, o));
        }
        // The override is an occurrence of its own.
        if let Some(span) = occurrence_span(&o.start, &absolute_end(&o.start, &o.end, floating), floating) {
            push_span(&o.uid, span, o.blocks, window, out);
        }
    }
    this_and_future.sort_by_key(|(key, _)| *key);

    let Some(master) = master else {
        return;
    };
    for instance in instances {
        let Some(key) = instance.start.key(floating) else {
            continue;
        };
        if overridden.contains(&key) {
            continue;
        }
        // The latest THISANDFUTURE override at or before this instance moves it by its shift
        // and gives it its length and its blocking.
        match this_and_future.iter().rev().find(|(rid, _)| *rid <= key) {
            Some((rid, o)) => {
                let o_end = absolute_end(&o.start, &o.end, floating);
                let (Some(from), Some((o_start, o_stop, _)), Some((start, _, all_day))) = (
                    key_instant(*rid, floating),
                    occurrence_span(&o.start, &o_end, floating),
                    occurrence_span(&instance.start, &instance.end, floating),
                ) else {
                    continue;
                };
                let shift = o_start.duration_since(from);
                let length = o_stop.duration_since(o_start);
                let (Ok(moved), Ok(moved_end)) = (start.checked_add(shift), start.checked_add(shift + length)) else {
                    continue;
                };
                push_span(&master.uid, (moved, moved_end, all_day), o.blocks, window, out);
            }
            None => {
                if let Some(span) = occurrence_span(&instance.start, &instance.end, floating) {
                    push_span(&master.uid, span, instance.blocks, window, out);
                }
            }
        }
    }
}

fn key_instant(key: InstanceKey, floating: &TimeZone) -> Option<Timestamp> {
    match key {
        InstanceKey::At(t) => Some(t),
        InstanceKey::Date(d) => floating
            .to_ambiguous_timestamp(d.to_datetime(civil::Time::midnight()))
            .compatible()
            .ok(),
    }
}

/// Turns an end relative to the series' DTSTART (a DTEND of the master) into the end spec of an
/// instance: a wall-clock or exact duration that [`occurrence_span`] adds to the instance start.
fn absolute_end(series_start: &When, end: &EndSpec, floating: &TimeZone) -> EndSpec {
    match (series_start, end) {
        (When::Date(start), EndSpec::End(When::Date(end))) => {
            let days = start.until(*end).map(|s| s.get_days()).unwrap_or(1);
            EndSpec::Duration(ICalendarDuration {
                neg: days < 0,
                days: days.unsigned_abs(),
                ..Default::default()
            })
        }
        (When::Time { local: s, zone: sz }, EndSpec::End(When::Time { local: e, zone: ez })) => {
            if sz.same_as(ez) {
                // Same zone: the wall-clock length, kept by every instance.
                EndSpec::WallLength(e.duration_since(*s))
            } else {
                let exact = match (sz.instant(*s, floating), ez.instant(*e, floating)) {
                    (Some(a), Some(b)) => b.duration_since(a),
                    _ => SignedDuration::ZERO,
                };
                EndSpec::Duration(ICalendarDuration {
                    neg: exact.is_negative(),
                    seconds: u32::try_from(exact.as_secs().unsigned_abs()).unwrap_or(u32::MAX),
                    ..Default::default()
                })
            }
        }
        (When::Time { local, zone }, EndSpec::End(When::Date(d))) => {
            // A DATE end on a timed start: read as midnight in the start's zone.
            let _ = zone;
            EndSpec::WallLength(d.to_datetime(civil::Time::midnight()).duration_since(*local))
        }
        (When::Date(start), EndSpec::End(When::Time { local, .. })) => {
            let days = start.until(local.date()).map(|s| s.get_days()).unwrap_or(1).max(1);
            EndSpec::Duration(ICalendarDuration {
                days: days.unsigned_abs(),
                ..Default::default()
            })
        }
        (_, other) => other.clone(),
    }
}

/// Where an instance starting at `start` with `end` lies: start, end, all-day.
fn occurrence_span(start: &When, end: &EndSpec, floating: &TimeZone) -> Option<(Timestamp, Timestamp, bool)> {
    Some(match start {
        When::Date(day) => {
            // All-day: whole days in the expert's zone.
            let days = match end {
                EndSpec::Duration(d) => {
                    i64::from(d.weeks) * 7 + i64::from(d.days) + i64::from(d.hours + d.minutes + d.seconds > 0)
                }
                EndSpec::End(When::Date(e)) => day.until(*e).map(|s| i64::from(s.get_days())).unwrap_or(1),
                EndSpec::WallLength(length) => length.as_hours().div_euclid(24),
                _ => 1,
            }
            .max(1);
            let midnight = |d: civil::Date| {
                floating
                    .to_ambiguous_timestamp(d.to_datetime(civil::Time::midnight()))
                    .compatible()
                    .ok()
            };
            let last = day.checked_add(days.days()).ok()?;
            (midnight(*day)?, midnight(last)?, true)
        }
        When::Time { local, zone } => {
            let s = zone.instant(*local, floating)?;
            let e = match end {
                EndSpec::Duration(d) => {
                    let sign = if d.neg { -1 } else { 1 };
                    let wall_days = sign * (i64::from(d.weeks) * 7 + i64::from(d.days));
                    let exact = sign * (i64::from(d.hours) * 3600 + i64::from(d.minutes) * 60 + i64::from(d.seconds));
                    let base = if wall_days == 0 {
                        Some(s)
                    } else {
                        local
                            .checked_add(wall_days.days())
                            .ok()
                            .and_then(|l| zone.instant(l, floating))
                    };
                    base.and_then(|b| b.checked_add(SignedDuration::from_secs(exact)).ok())
                }
                EndSpec::WallLength(length) => {
                    let wall_end = local.checked_add(*length).ok().and_then(|l| zone.instant(l, floating));
                    // A start in a DST gap is moved forward by the gap (RFC 5545 3.3.5), and its
                    // wall-clock end can then fall on or before it: an event that would block
                    // nothing, or less than nothing. It keeps its length as elapsed time instead,
                    // as RFC 5545 3.8.5.3 says of a DTEND-bound series, so it still blocks.
                    match wall_end {
                        Some(e) if e <= s && length.is_positive() => s.checked_add(*length).ok(),
                        other => other,
                    }
                }
                EndSpec::End(w) => w.key(floating).and_then(|k| key_instant(k, floating)),
                // A DATE-TIME start without an end is an instant: it blocks nothing.
                EndSpec::None => Some(s),
            };
            (s, e?, false)
        }
    })
}

/// Emits an occurrence if it overlaps the window (start < window end, end > window start).
fn push_span(
    uid: &str,
    (start, end, all_day): (Timestamp, Timestamp, bool),
    blocks: bool,
    window: (Timestamp, Timestamp),
    out: &mut Vec<Occurrence>,
) {
    if start < window.1 && end > window.0 && start < end {
        out.push(Occurrence {
            uid: uid.to_owned(),
            start,
            end,
            all_day,
            blocks,
        });
    }
}

/// The longest event length considered when deciding which instances can reach the window:
/// an instance that starts earlier than the window by more than this is not generated.
fn reach(event: &Vevent, floating: &TimeZone) -> SignedDuration {
    let day = SignedDuration::from_hours(24);
    match absolute_end(&event.start, &event.end, floating) {
        EndSpec::WallLength(length) => length.abs() + day,
        EndSpec::Duration(d) => {
            let secs = i64::from(d.weeks) * 7 * 86_400
                + i64::from(d.days) * 86_400
                + i64::from(d.hours) * 3600
                + i64::from(d.minutes) * 60
                + i64::from(d.seconds);
            SignedDuration::from_secs(secs.max(0)) + day
        }
        _ => day,
    }
}

/// The starts of a master's instances from its RRULE (or its DTSTART alone), bounded to what
/// can overlap the window.
fn series_starts(master: &Vevent, context: &ExpansionContext, window: (Timestamp, Timestamp)) -> Vec<When> {
    let floating = &context.expert_zone;
    let Some(rule) = &master.rule else {
        return vec![master.start.clone()];
    };
    let (local_start, zone) = match &master.start {
        When::Date(d) => (d.to_datetime(civil::Time::midnight()), None),
        When::Time { local, zone } => (*local, Some(zone.clone())),
    };
    // The window in the series' wall time, widened by the event's reach and a day for offsets.
    let wall = |at: Timestamp| match &zone {
        Some(z) => z.civil(at, floating),
        None => floating.to_datetime(at),
    };
    let reach = reach(master, floating);
    let margin = SignedDuration::from_hours(48);
    let from = wall(window.0.checked_sub(reach + margin).unwrap_or(window.0));
    let to = wall(window.1.checked_add(margin).unwrap_or(window.1));
    let until = rule.until.as_ref().and_then(|u| {
        let local = civil_of(u)?;
        if !u.has_time() {
            // A DATE UNTIL includes its whole day.
            return local.date().to_datetime(civil::Time::MAX).into();
        }
        if u.tz_hour.is_some() {
            let utc = TimeZone::UTC.to_timestamp(local).ok()?;
            return Some(wall(utc));
        }
        Some(local)
    });
    let bounds = RuleBounds {
        from,
        to,
        until,
        max_instances: context.limits.max_instances_per_series,
    };
    let (starts, truncated) = expand_rule(local_start, rule, &bounds);
    if truncated {
        tracing::warn!(uid = %master.uid, "a recurrence has more instances in the window than the limit; the rest are ignored");
    }
    starts
        .into_iter()
        .map(|local| match &zone {
            Some(z) => When::Time { local, zone: z.clone() },
            None => When::Date(local.date()),
        })
        .collect()
}

/// The wall-time range an expansion must cover.
#[derive(Debug, Clone)]
pub(crate) struct RuleBounds {
    /// Instances starting before this cannot matter.
    pub(crate) from: civil::DateTime,
    /// Instances starting after this cannot matter.
    pub(crate) to: civil::DateTime,
    /// The rule's UNTIL in the same wall time (inclusive).
    pub(crate) until: Option<civil::DateTime>,
    /// Instances generated at most.
    pub(crate) max_instances: usize,
}

/// The wall-time starts of `rule` anchored at `start`, within `bounds` (plus `start` itself when
/// the series begins inside them). The second value says the instance limit cut the expansion.
///
/// A rule without COUNT is re-anchored by whole periods (INTERVAL x FREQ for SECONDLY to WEEKLY;
/// a multiple of twelve months for MONTHLY and YEARLY, so month lengths and weekday rules are
/// recomputed exactly as before) to just before `bounds.from`, and its UNTIL cut to
/// `bounds.to`: the work is proportional to the window, never to the age of the series. A
/// COUNT rule must be walked from its start (the count includes every earlier instance); its
/// COUNT bounds that walk.
pub(crate) fn expand_rule(
    start: civil::DateTime,
    rule: &ICalendarRecurrenceRule,
    bounds: &RuleBounds,
) -> (Vec<civil::DateTime>, bool) {
    let mut rule = rule.clone();
    let mut anchor = start;
    let mut limit = bounds.max_instances;
    match rule.count {
        Some(count) => limit = limit.min(usize::try_from(count).unwrap_or(usize::MAX)),
        None => {
            anchor = advance_anchor(start, &rule, bounds.from);
            let cut = bounds.until.map_or(bounds.to, |u| u.min(bounds.to));
            if cut < anchor {
                return (Vec::new(), false);
            }
            rule.until = Some(floating_value(cut));
        }
    }
    let mut calendar = ICalendar::default();
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.component_ids = vec![1];
    let mut event = ICalendarComponent::new(ICalendarComponentType::VEvent);
    event.add_uid("expansion");
    event.add_property(ICalendarProperty::Dtstart, floating_value(anchor));
    let count = rule.count;
    event.add_property(ICalendarProperty::Rrule, rule);
    calendar.components = vec![root, event];
    let expanded = calendar.expand_dates(Tz::Floating, limit.saturating_add(1));
    if !expanded.errors.is_empty() {
        tracing::warn!(errors = ?expanded.errors, "a recurrence rule could not be expanded; only its first instance counts");
        return (vec![start], false);
    }
    let truncated =
        expanded.events.len() > limit && count.is_none_or(|c| usize::try_from(c).unwrap_or(usize::MAX) > limit);
    let moved = anchor != start;
    let mut starts: Vec<civil::DateTime> = expanded
        .events
        .iter()
        .take(limit)
        .filter_map(|e| {
            let naive = e.start.naive_local();
            let date = civil::Date::new(
                i16::try_from(chrono::Datelike::year(&naive)).ok()?,
                i8::try_from(chrono::Datelike::month(&naive)).ok()?,
                i8::try_from(chrono::Datelike::day(&naive)).ok()?,
            )
            .ok()?;
            let time = civil::Time::new(
                i8::try_from(chrono::Timelike::hour(&naive)).ok()?,
                i8::try_from(chrono::Timelike::minute(&naive)).ok()?,
                i8::try_from(chrono::Timelike::second(&naive)).ok()?,
                0,
            )
            .ok()?;
            Some(date.to_datetime(time))
        })
        // A moved anchor is itself an instance only if the rule says so; instances before
        // `from` cannot matter either way, so they are dropped with it.
        .filter(|s| !moved || *s >= bounds.from)
        .filter(|s| *s <= bounds.to && bounds.until.is_none_or(|u| *s <= u))
        .collect();
    starts.sort();
    starts.dedup();
    (starts, truncated)
}

fn floating_value(at: civil::DateTime) -> PartialDateTime {
    PartialDateTime {
        year: u16::try_from(at.year()).ok(),
        month: u8::try_from(at.month()).ok(),
        day: u8::try_from(at.day()).ok(),
        hour: u8::try_from(at.hour()).ok(),
        minute: u8::try_from(at.minute()).ok(),
        second: u8::try_from(at.second()).ok(),
        tz_hour: None,
        tz_minute: None,
        tz_minus: false,
    }
}

/// The latest anchor, at most `from` and a whole number of the rule's periods after `start`,
/// from which the rule yields exactly the instances it yields from `start` (after that anchor).
fn advance_anchor(start: civil::DateTime, rule: &ICalendarRecurrenceRule, from: civil::DateTime) -> civil::DateTime {
    if from <= start {
        return start;
    }
    let interval = i64::from(rule.interval.unwrap_or(1).max(1));
    let fixed_seconds = match rule.freq {
        ICalendarFrequency::Secondly => Some(1),
        ICalendarFrequency::Minutely => Some(60),
        ICalendarFrequency::Hourly => Some(3_600),
        ICalendarFrequency::Daily => Some(86_400),
        ICalendarFrequency::Weekly => Some(7 * 86_400),
        ICalendarFrequency::Monthly | ICalendarFrequency::Yearly => None,
    };
    if let Some(unit) = fixed_seconds {
        let period = unit * interval;
        let elapsed = from.duration_since(start).as_secs();
        let periods = elapsed / period - 1;
        if periods <= 0 {
            return start;
        }
        return start
            .checked_add(SignedDuration::from_secs(periods * period))
            .unwrap_or(start);
    }
    // Whole years that are a multiple of the interval (in months for MONTHLY); four times that
    // for a series on 29 February, so the anchor is a real date on a leap year.
    let step_months = match rule.freq {
        ICalendarFrequency::Monthly => lcm(interval, 12),
        _ => 12 * interval,
    };
    let step_months = if start.month() == 2 && start.day() == 29 {
        lcm(step_months, 48)
    } else {
        step_months
    };
    let elapsed_months = i64::from(from.year() - start.year()) * 12 + i64::from(from.month() - start.month());
    let steps = elapsed_months / step_months - 1;
    if steps <= 0 {
        return start;
    }
    match start.checked_add((steps * step_months).months()) {
        // jiff clamps 29 February to the 28th in a common year (2100): keep the old anchor.
        Ok(anchor) if anchor.day() == start.day() => anchor,
        _ => start,
    }
}

fn lcm(a: i64, b: i64) -> i64 {
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests;

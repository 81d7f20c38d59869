//! Unit tests of the expansion on hand-written calendars (the property tests against Python's
//! recurring-ical-events live in tests/recurrence_properties.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn context(zone: &str) -> ExpansionContext {
    ExpansionContext {
        expert_zone: TimeZone::get(zone).unwrap(),
        expert_addresses: vec!["mailto:expert@example.com".into()],
        limits: ExpansionLimits::default(),
    }
}

fn wrap(body: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}END:VCALENDAR\r\n",
        body.replace('\n', "\r\n")
    )
}

fn spans(ics: &str, ctx: &ExpansionContext, from: &str, to: &str) -> Vec<(String, String)> {
    busy_intervals_in(ics, ctx, (ts(from), ts(to)))
        .unwrap()
        .into_iter()
        .map(|(s, e)| (s.to_string(), e.to_string()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[test]
fn weekly_series_with_exdate_and_a_moved_occurrence_across_dst() {
    let ics = wrap(
        "BEGIN:VEVENT
UID:weekly
DTSTART;TZID=Europe/Berlin:20270308T090000
DTEND;TZID=Europe/Berlin:20270308T100000
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=Europe/Berlin:20270315T090000
END:VEVENT
BEGIN:VEVENT
UID:weekly
RECURRENCE-ID;TZID=Europe/Berlin:20270322T090000
SEQUENCE:3
DTSTART;TZID=Europe/Berlin:20270323T140000
DTEND;TZID=Europe/Berlin:20270323T150000
END:VEVENT
",
    );
    let got = spans(
        &ics,
        &context("Europe/Berlin"),
        "2027-03-07T00:00:00Z",
        "2027-04-06T00:00:00Z",
    );
    assert_eq!(
        got,
        pairs(&[
            ("2027-03-08T08:00:00Z", "2027-03-08T09:00:00Z"),
            // 15 March excluded; 22 March moved to Tuesday 23 at 14:00 (SEQUENCE differs).
            ("2027-03-23T13:00:00Z", "2027-03-23T14:00:00Z"),
            // After the change to summer time on 28 March, 09:00 Berlin is 07:00 UTC.
            ("2027-03-29T07:00:00Z", "2027-03-29T08:00:00Z"),
            ("2027-04-05T07:00:00Z", "2027-04-05T08:00:00Z"),
        ])
    );
}

#[test]
fn all_day_and_multi_day_events_block_whole_days_in_the_experts_zone() {
    let ics = wrap(
        "BEGIN:VEVENT
UID:holiday
DTSTART;VALUE=DATE:20270310
END:VEVENT
BEGIN:VEVENT
UID:trip
DTSTART;VALUE=DATE:20270315
DTEND;VALUE=DATE:20270318
END:VEVENT
",
    );
    let got = spans(
        &ics,
        &context("America/New_York"),
        "2027-03-01T00:00:00Z",
        "2027-04-01T00:00:00Z",
    );
    assert_eq!(
        got,
        pairs(&[
            // No DTEND on a DATE event: one day; midnight in New York (EST, -05:00).
            ("2027-03-10T05:00:00Z", "2027-03-11T05:00:00Z"),
            // Three days, DTEND exclusive, across New York's change on 14 March (EDT, -04:00).
            ("2027-03-15T04:00:00Z", "2027-03-18T04:00:00Z"),
        ])
    );
}

#[test]
fn transparent_cancelled_and_declined_events_do_not_block() {
    let ics = wrap(
        "BEGIN:VEVENT
UID:free
DTSTART:20270310T090000Z
DTEND:20270310T100000Z
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:off
DTSTART:20270310T110000Z
DTEND:20270310T120000Z
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:no
DTSTART:20270310T130000Z
DTEND:20270310T140000Z
ORGANIZER:mailto:boss@example.com
ATTENDEE;PARTSTAT=DECLINED:mailto:Expert@Example.com
END:VEVENT
BEGIN:VEVENT
UID:yes
DTSTART:20270310T150000Z
DURATION:PT30M
ATTENDEE;PARTSTAT=DECLINED:mailto:someone-else@example.com
END:VEVENT
",
    );
    let ctx = context("UTC");
    let all = expand_occurrences(&ics, &ctx, (ts("2027-03-10T00:00:00Z"), ts("2027-03-11T00:00:00Z"))).unwrap();
    assert_eq!(all.len(), 4, "every event is an occurrence");
    assert_eq!(
        spans(&ics, &ctx, "2027-03-10T00:00:00Z", "2027-03-11T00:00:00Z"),
        pairs(&[("2027-03-10T15:00:00Z", "2027-03-10T15:30:00Z")])
    );
}

#[test]
fn custom_vtimezone_and_windows_names() {
    let ics = wrap(
        "BEGIN:VTIMEZONE
TZID:Office Time (custom)
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:custom
DTSTART;TZID=Office Time (custom):20270325T090000
DTEND;TZID=Office Time (custom):20270325T093000
RRULE:FREQ=DAILY;COUNT=6
END:VEVENT
BEGIN:VEVENT
UID:windows
DTSTART;TZID=Eastern Standard Time:20270312T160000
DTEND;TZID=Eastern Standard Time:20270312T170000
RRULE:FREQ=DAILY;UNTIL=20270315T200000Z
END:VEVENT
",
    );
    let got = spans(&ics, &context("UTC"), "2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z");
    assert_eq!(
        got,
        pairs(&[
            ("2027-03-12T21:00:00Z", "2027-03-12T22:00:00Z"),
            ("2027-03-13T21:00:00Z", "2027-03-13T22:00:00Z"),
            // New York moves to EDT on 14 March: 16:00 local is 20:00 UTC; UNTIL includes 15th.
            ("2027-03-14T20:00:00Z", "2027-03-14T21:00:00Z"),
            ("2027-03-15T20:00:00Z", "2027-03-15T21:00:00Z"),
            ("2027-03-25T08:00:00Z", "2027-03-25T08:30:00Z"),
            ("2027-03-26T08:00:00Z", "2027-03-26T08:30:00Z"),
            ("2027-03-27T08:00:00Z", "2027-03-27T08:30:00Z"),
            // The custom zone's own rule: summer time from the last Sunday of March.
            ("2027-03-28T07:00:00Z", "2027-03-28T07:30:00Z"),
            ("2027-03-29T07:00:00Z", "2027-03-29T07:30:00Z"),
            ("2027-03-30T07:00:00Z", "2027-03-30T07:30:00Z"),
        ])
    );
}

#[test]
fn a_daily_series_begun_in_2015_is_expanded_from_the_window() {
    let ics = wrap(
        "BEGIN:VEVENT
UID:standup
DTSTART;TZID=Europe/Berlin:20150105T091500
DTEND;TZID=Europe/Berlin:20150105T093000
RRULE:FREQ=DAILY
END:VEVENT
BEGIN:VEVENT
UID:pulse
DTSTART:20150105T000000Z
DURATION:PT1M
RRULE:FREQ=MINUTELY;INTERVAL=30
END:VEVENT
",
    );
    let mut ctx = context("Europe/Berlin");
    // A walk from 2015 would need ~4,400 daily and ~210,000 half-hourly steps to reach 2027:
    // far more than this limit, which the window alone (a day) stays well within.
    ctx.limits.max_instances_per_series = 200;
    let occurrences = expand_occurrences(&ics, &ctx, (ts("2027-03-10T00:00:00Z"), ts("2027-03-11T00:00:00Z"))).unwrap();
    let standup: Vec<_> = occurrences.iter().filter(|o| o.uid == "standup").collect();
    assert_eq!(standup.len(), 1);
    assert_eq!(standup[0].start, ts("2027-03-10T08:15:00Z"));
    let pulses = occurrences.iter().filter(|o| o.uid == "pulse").count();
    assert_eq!(pulses, 48, "every half hour of the day");
}

#[test]
fn this_and_future_moves_every_later_instance() {
    let ics = wrap(
        "BEGIN:VEVENT
UID:class
DTSTART:20270301T100000Z
DTEND:20270301T110000Z
RRULE:FREQ=DAILY;COUNT=5
END:VEVENT
BEGIN:VEVENT
UID:class
RECURRENCE-ID;RANGE=THISANDFUTURE:20270303T100000Z
DTSTART:20270303T120000Z
DTEND:20270303T123000Z
END:VEVENT
",
    );
    let got = spans(&ics, &context("UTC"), "2027-03-01T00:00:00Z", "2027-03-10T00:00:00Z");
    assert_eq!(
        got,
        pairs(&[
            ("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z"),
            ("2027-03-02T10:00:00Z", "2027-03-02T11:00:00Z"),
            ("2027-03-03T12:00:00Z", "2027-03-03T12:30:00Z"),
            ("2027-03-04T12:00:00Z", "2027-03-04T12:30:00Z"),
            ("2027-03-05T12:00:00Z", "2027-03-05T12:30:00Z"),
        ])
    );
}

#[test]
fn nonexistent_local_times_take_the_offset_before_the_gap() {
    // 02:30 does not exist in Berlin on 28 March 2027: read with +01:00, i.e. 01:30 UTC.
    let ics = wrap(
        "BEGIN:VEVENT
UID:gap
DTSTART;TZID=Europe/Berlin:20270327T023000
DURATION:PT15M
RRULE:FREQ=DAILY;COUNT=3
RDATE;TZID=Europe/Berlin:20271031T023000
END:VEVENT
",
    );
    let got = spans(&ics, &context("UTC"), "2027-03-01T00:00:00Z", "2027-12-01T00:00:00Z");
    assert_eq!(
        got,
        pairs(&[
            ("2027-03-27T01:30:00Z", "2027-03-27T01:45:00Z"),
            ("2027-03-28T01:30:00Z", "2027-03-28T01:45:00Z"),
            ("2027-03-29T00:30:00Z", "2027-03-29T00:45:00Z"),
            // 02:30 happens twice on 31 October: the first (+02:00).
            ("2027-10-31T00:30:00Z", "2027-10-31T00:45:00Z"),
        ])
    );
}

#[test]
fn an_instance_starting_in_a_gap_still_blocks_its_length() {
    // São Paulo skipped 00:00-01:00 on 4 November 2018. The instance "00:45-01:45" starts at
    // 00:45 -03:00 (= 01:45 -02:00, 03:45 UTC), where its wall-clock end also lands: it would
    // block nothing. The 15-minute one would end before it starts. Both keep their length.
    let ics = wrap(
        "BEGIN:VEVENT
UID:hour
DTSTART;TZID=America/Sao_Paulo:20181028T004500
DTEND;TZID=America/Sao_Paulo:20181028T014500
RRULE:FREQ=WEEKLY;COUNT=2
END:VEVENT
BEGIN:VEVENT
UID:quarter
DTSTART;TZID=America/Sao_Paulo:20181104T004500
DTEND;TZID=America/Sao_Paulo:20181104T010000
END:VEVENT
",
    );
    let got = spans(&ics, &context("UTC"), "2018-11-03T00:00:00Z", "2018-11-05T00:00:00Z");
    assert_eq!(got, pairs(&[("2018-11-04T03:45:00Z", "2018-11-04T04:45:00Z")]));
    let quarter = expand_occurrences(
        &ics,
        &context("UTC"),
        (ts("2018-11-03T00:00:00Z"), ts("2018-11-05T00:00:00Z")),
    )
    .unwrap()
    .into_iter()
    .find(|o| o.uid == "quarter")
    .map(|o| (o.start.to_string(), o.end.to_string()));
    assert_eq!(
        quarter,
        Some(("2018-11-04T03:45:00Z".to_owned(), "2018-11-04T04:00:00Z".to_owned()))
    );
}

#[test]
fn overlap_is_strict_and_dtend_exclusive() {
    let ics = wrap(
        "BEGIN:VEVENT
UID:a
DTSTART:20270310T080000Z
DTEND:20270310T090000Z
END:VEVENT
BEGIN:VEVENT
UID:b
DTSTART:20270310T170000Z
DTEND:20270310T180000Z
END:VEVENT
BEGIN:VEVENT
UID:instant
DTSTART:20270310T120000Z
END:VEVENT
",
    );
    assert!(spans(&ics, &context("UTC"), "2027-03-10T09:00:00Z", "2027-03-10T17:00:00Z").is_empty());
    assert_eq!(
        spans(&ics, &context("UTC"), "2027-03-10T08:59:00Z", "2027-03-10T17:01:00Z").len(),
        2
    );
}

#[test]
fn re_anchoring_keeps_every_frequency_exact() {
    // The same rules expanded over a 2027 window with and without an anchor far in the past
    // give the same instances: the moved anchor changes the work, never the answer.
    for rule in [
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=31",
        "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
        "FREQ=HOURLY;INTERVAL=7",
    ] {
        let start: civil::DateTime = "2015-01-31T09:30".parse().unwrap();
        let text = format!("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20150131T093000\r\nRRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        let ICalendarValue::RecurrenceRule(parsed) = (match Parser::new(&text).entry() {
            Entry::ICalendar(c) => c.components[1].property(&ICalendarProperty::Rrule).unwrap().values[0].clone(),
            other => panic!("{other:?}"),
        }) else {
            panic!("no rule")
        };
        let from: civil::DateTime = "2027-02-01T00:00".parse().unwrap();
        let to: civil::DateTime = "2027-09-01T00:00".parse().unwrap();
        let bounded = expand_rule(
            start,
            &parsed,
            &RuleBounds {
                from,
                to,
                until: None,
                max_instances: 1_000_000,
            },
        )
        .0;
        let mut walked = parsed.as_ref().clone();
        walked.count = Some(20_000);
        let walked: Vec<_> = expand_rule(
            start,
            &walked,
            &RuleBounds {
                from,
                to,
                until: None,
                max_instances: 1_000_000,
            },
        )
        .0
        .into_iter()
        .filter(|s| *s >= from && *s <= to)
        .collect();
        assert!(!walked.is_empty(), "{rule}");
        assert_eq!(bounded, walked, "{rule}");
    }
}

#[test]
fn a_single_event_reads_its_time_or_its_cancellation_and_skips_series() {
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let zoned = wrap(
        "BEGIN:VEVENT\nUID:a\nDTSTAMP:20270101T000000Z\nDTSTART;TZID=Europe/Berlin:20270329T090000\nDTEND;TZID=Europe/Berlin:20270329T103000\nEND:VEVENT\n",
    );
    assert_eq!(
        single_event(&zoned, &TimeZone::UTC).unwrap(),
        Some(SingleEvent::At(ts("2027-03-29T07:00:00Z"), ts("2027-03-29T08:30:00Z")))
    );
    let floating_with_duration =
        wrap("BEGIN:VEVENT\nUID:b\nDTSTAMP:20270101T000000Z\nDTSTART:20270110T090000\nDURATION:PT45M\nEND:VEVENT\n");
    assert_eq!(
        single_event(&floating_with_duration, &berlin).unwrap(),
        Some(SingleEvent::At(ts("2027-01-10T08:00:00Z"), ts("2027-01-10T08:45:00Z"))),
        "floating times are the expert's"
    );
    let cancelled = wrap(
        "BEGIN:VEVENT\nUID:c\nDTSTAMP:20270101T000000Z\nDTSTART:20270110T090000Z\nDTEND:20270110T100000Z\nSTATUS:CANCELLED\nEND:VEVENT\n",
    );
    assert_eq!(single_event(&cancelled, &berlin).unwrap(), Some(SingleEvent::Cancelled));
    let series = wrap(
        "BEGIN:VEVENT\nUID:d\nDTSTAMP:20270101T000000Z\nDTSTART:20270110T090000Z\nDTEND:20270110T100000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\n",
    );
    assert_eq!(single_event(&series, &berlin).unwrap(), None);
    let task = wrap("BEGIN:VTODO\nUID:e\nDTSTAMP:20270101T000000Z\nEND:VTODO\n");
    assert_eq!(single_event(&task, &berlin).unwrap(), None);
    assert!(single_event("not a calendar", &berlin).is_err());
}

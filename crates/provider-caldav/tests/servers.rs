//! The crate against real CalDAV servers, Radicale and Xandikos (started once for this test
//! binary): discovery, calendar listing and choice, busy time with recurrences, time zones and
//! all-day events, appointments written, moved and cancelled (each retried), and credentials
//! refused at connect and revoked later.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use availability_core::domain::jiff::tz::TimeZone;
use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{Expert, Interval};
use availability_core::strategy::{CalendarChange, ChangeBatch};
use availability_core::{
    AvailabilityStrategy, BusyTimeSource, CoreError, CredentialRepository, EventWriter, InMemoryStore,
};
use provider_caldav::testing::{peers_or_skip, radicale, xandikos, Proxy, ProxyFailure};
use provider_caldav::{CaldavStrategy, CalendarChoice, ConnectError};
use support::{appointment, client, connect, event_time, expert, interval, quick_policy, strategy, Raw};

const EXPERT_EMAIL: &str = "ada@example.com";

/// Calendar A: a weekly series across Berlin's change to summer time with an EXDATE and a moved
/// occurrence, an all-day event, a transparent, a cancelled and a declined event, a custom
/// VTIMEZONE and a Windows zone name.
const WEEKLY: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:weekly-1
DTSTAMP:20270101T000000Z
DTSTART;TZID=Europe/Berlin:20270308T090000
DTEND;TZID=Europe/Berlin:20270308T100000
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=Europe/Berlin:20270315T090000
SUMMARY:Weekly
END:VEVENT
BEGIN:VEVENT
UID:weekly-1
DTSTAMP:20270101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20270322T090000
SEQUENCE:1
DTSTART;TZID=Europe/Berlin:20270323T140000
DTEND;TZID=Europe/Berlin:20270323T150000
SUMMARY:Weekly (moved)
END:VEVENT
END:VCALENDAR
";

const ALL_DAY: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:all-day-1
DTSTAMP:20270101T000000Z
DTSTART;VALUE=DATE:20270310
SUMMARY:Conference
END:VEVENT
END:VCALENDAR
";

const TRANSPARENT: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:free-1
DTSTAMP:20270101T000000Z
DTSTART:20270311T100000Z
DTEND:20270311T110000Z
TRANSP:TRANSPARENT
END:VEVENT
END:VCALENDAR
";

const CANCELLED: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:cancelled-1
DTSTAMP:20270101T000000Z
DTSTART:20270312T100000Z
DTEND:20270312T110000Z
STATUS:CANCELLED
END:VEVENT
END:VCALENDAR
";

const DECLINED: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:declined-1
DTSTAMP:20270101T000000Z
DTSTART:20270316T100000Z
DTEND:20270316T110000Z
ORGANIZER:mailto:boss@example.com
ATTENDEE;PARTSTAT=DECLINED:mailto:ada@example.com
END:VEVENT
END:VCALENDAR
";

const RULES: &str = "BEGIN:STANDARD
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
";

fn custom_zone() -> String {
    format!(
        "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VTIMEZONE
TZID:Office Time (custom)
{RULES}END:VTIMEZONE
BEGIN:VEVENT
UID:custom-1
DTSTAMP:20270101T000000Z
DTSTART;TZID=Office Time (custom):20270330T120000
DTEND;TZID=Office Time (custom):20270330T130000
END:VEVENT
END:VCALENDAR
"
    )
}

fn windows_zone() -> String {
    format!(
        "BEGIN:VCALENDAR
VERSION:2.0
PRODID:Microsoft Exchange Server 2010
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
{RULES}END:VTIMEZONE
BEGIN:VEVENT
UID:windows-1
DTSTAMP:20270101T000000Z
DTSTART;TZID=W. Europe Standard Time:20270327T160000
DTEND;TZID=W. Europe Standard Time:20270327T170000
RRULE:FREQ=DAILY;COUNT=2
END:VEVENT
END:VCALENDAR
"
    )
}

/// Calendar B: a daily series begun in 2015.
const DAILY_SINCE_2015: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:daily-2015
DTSTAMP:20150101T000000Z
DTSTART;TZID=Europe/Berlin:20150105T091500
DTEND;TZID=Europe/Berlin:20150105T093000
RRULE:FREQ=DAILY
END:VEVENT
END:VCALENDAR
";

/// One CalDAV server as the cases see it.
struct Peer {
    name: &'static str,
    /// Where discovery starts (a bare host: the well-known redirect).
    host_url: String,
    /// The principal URL (discovery from a full URL).
    principal_url: String,
    raw: Raw,
    calendar_a: String,
    calendar_b: String,
}

async fn connected(peer: &Peer, from: &str) -> (Arc<InMemoryStore>, Arc<CaldavStrategy>, Expert) {
    let store = Arc::new(InMemoryStore::new());
    let strategy = strategy(&store, quick_policy());
    let expert = expert("Europe/Berlin", EXPERT_EMAIL);
    let account = connect(
        &store,
        &strategy,
        expert.id,
        from,
        &peer.raw.username,
        &peer.raw.password,
    )
    .await
    .unwrap_or_else(|e| panic!("{}: connecting from {from}: {e}", peer.name));
    let ids: Vec<&str> = account.calendars.iter().map(|c| c.id.as_str()).collect();
    for calendar in [&peer.calendar_a, &peer.calendar_b] {
        assert!(
            ids.contains(&calendar.as_str()),
            "{}: {calendar} not in {ids:?}",
            peer.name
        );
    }
    assert!(
        account.calendars.iter().all(|c| c.blocks_time),
        "{}: every calendar blocks time by default",
        peer.name
    );
    assert_eq!(
        account.calendars.iter().filter(|c| c.receives_events).count(),
        1,
        "{}: one calendar receives appointments",
        peer.name
    );
    assert!(store
        .load(expert.id, strategy.integration_type())
        .await
        .unwrap()
        .is_some());
    (store, strategy, expert)
}

async fn choose(strategy: &CaldavStrategy, expert: &Expert, busy: &[&String], event: &str) {
    strategy
        .choose_calendars(
            expert.id,
            &CalendarChoice {
                busy_calendar_ids: busy.iter().map(|b| (*b).clone()).collect(),
                event_calendar_id: event.to_owned(),
            },
        )
        .await
        .unwrap();
}

fn as_pairs(intervals: &[Interval]) -> Vec<(String, String)> {
    intervals
        .iter()
        .map(|i| (i.start().to_string(), i.end().to_string()))
        .collect()
}

async fn run_cases(peer: &Peer) {
    let raw = &peer.raw;
    raw.put(&peer.calendar_a, "weekly-1", WEEKLY).await;
    raw.put(&peer.calendar_a, "all-day-1", ALL_DAY).await;
    raw.put(&peer.calendar_a, "free-1", TRANSPARENT).await;
    raw.put(&peer.calendar_a, "cancelled-1", CANCELLED).await;
    raw.put(&peer.calendar_a, "declined-1", DECLINED).await;
    raw.put(&peer.calendar_a, "custom-1", &custom_zone()).await;
    raw.put(&peer.calendar_a, "windows-1", &windows_zone()).await;
    raw.put(&peer.calendar_b, "daily-2015", DAILY_SINCE_2015).await;

    // Discovery from the bare host (RFC 6764 well-known redirect) and from the principal URL.
    let _ = connected(peer, &peer.host_url).await;
    let (store, strategy, expert) = connected(peer, &peer.principal_url).await;

    // Busy time of calendar A over five weeks around the change to summer time.
    choose(&strategy, &expert, &[&peer.calendar_a], &peer.calendar_a).await;
    let busy = strategy
        .busy_intervals(&expert, interval("2027-03-07T00:00:00Z", "2027-04-06T00:00:00Z"))
        .await
        .unwrap();
    let expected = [
        ("2027-03-08T08:00:00Z", "2027-03-08T09:00:00Z"), // weekly, winter time
        ("2027-03-09T23:00:00Z", "2027-03-10T23:00:00Z"), // all day, Berlin's day
        ("2027-03-23T13:00:00Z", "2027-03-23T14:00:00Z"), // the moved occurrence (15th: EXDATE)
        ("2027-03-27T15:00:00Z", "2027-03-27T16:00:00Z"), // Windows zone name, winter time
        ("2027-03-28T14:00:00Z", "2027-03-28T15:00:00Z"), // ... and summer time
        ("2027-03-29T07:00:00Z", "2027-03-29T08:00:00Z"), // weekly, summer time
        ("2027-03-30T10:00:00Z", "2027-03-30T11:00:00Z"), // custom VTIMEZONE, summer time
        ("2027-04-05T07:00:00Z", "2027-04-05T08:00:00Z"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(as_pairs(&busy), expected, "{}: busy time of calendar A", peer.name);

    // Calendar B alone: the daily series of 2015, queried in 2027.
    choose(&strategy, &expert, &[&peer.calendar_b], &peer.calendar_b).await;
    let busy = strategy
        .busy_intervals(&expert, interval("2027-03-10T00:00:00Z", "2027-03-12T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        as_pairs(&busy),
        vec![
            ("2027-03-10T08:15:00Z".to_owned(), "2027-03-10T08:30:00Z".to_owned()),
            ("2027-03-11T08:15:00Z".to_owned(), "2027-03-11T08:30:00Z".to_owned()),
        ],
        "{}: the daily series",
        peer.name
    );

    // Both calendars block time: their busy time together, queried in parallel.
    choose(
        &strategy,
        &expert,
        &[&peer.calendar_a, &peer.calendar_b],
        &peer.calendar_b,
    )
    .await;
    let busy = strategy
        .busy_intervals(&expert, interval("2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        as_pairs(&busy),
        vec![
            ("2027-03-08T08:00:00Z".to_owned(), "2027-03-08T09:00:00Z".to_owned()),
            ("2027-03-08T08:15:00Z".to_owned(), "2027-03-08T08:30:00Z".to_owned()),
        ]
        .into_iter()
        .take(1)
        .collect::<Vec<_>>(),
        "{}: the daily 08:15 lies inside the weekly 08:00-09:00 and merges into it",
        peer.name
    );

    // Appointments go to calendar B: written, retried, moved, retried, cancelled, retried.
    let client = client();
    let mut booked = appointment(&expert, &client, "2027-03-17T10:00:00Z", 45);
    let created = strategy.create_event(&expert, &client, &booked).await.unwrap();
    assert!(
        created.id.starts_with(&peer.calendar_b),
        "{}: {} is in calendar B",
        peer.name,
        created.id
    );
    let stored = raw.get(&created.id).await.expect("the event exists");
    assert!(stored.contains("SUMMARY:Ann Lee (Tutors)"), "{stored}");
    assert!(!stored.contains("ATTENDEE"), "no invitations: {stored}");
    assert_eq!(
        event_time(&stored),
        Some(interval("2027-03-17T10:00:00Z", "2027-03-17T10:45:00Z"))
    );
    let again = strategy.create_event(&expert, &client, &booked).await.unwrap();
    assert_eq!(
        again.id, created.id,
        "{}: a retried create finds its own event",
        peer.name
    );
    let objects_before = raw.objects(&peer.calendar_b).await;
    assert_eq!(
        objects_before.len(),
        2,
        "{}: the daily series and one appointment: {objects_before:?}",
        peer.name
    );

    booked.external_calendar_event_id = Some(created.id.clone());
    booked.start_time = "2027-03-18T13:00:00Z".parse().unwrap();
    booked.end_time = "2027-03-18T14:00:00Z".parse().unwrap();
    for attempt in 0..2 {
        let moved = strategy.update_event(&expert, &client, &booked).await.unwrap();
        assert_eq!(
            moved.id, created.id,
            "{}: a move keeps the href (attempt {attempt})",
            peer.name
        );
    }
    let stored = raw.get(&created.id).await.expect("the moved event");
    assert_eq!(
        event_time(&stored),
        Some(interval("2027-03-18T13:00:00Z", "2027-03-18T14:00:00Z"))
    );
    assert_eq!(
        raw.objects(&peer.calendar_b).await.len(),
        2,
        "{}: no second event",
        peer.name
    );
    let busy = strategy
        .busy_intervals(&expert, interval("2027-03-18T12:00:00Z", "2027-03-18T15:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        as_pairs(&busy),
        vec![("2027-03-18T13:00:00Z".to_owned(), "2027-03-18T14:00:00Z".to_owned())]
    );

    strategy.delete_event(&expert, &booked).await.unwrap();
    assert_eq!(
        raw.get(&created.id).await,
        None,
        "{}: the cancelled event is gone",
        peer.name
    );
    strategy.delete_event(&expert, &booked).await.unwrap();
    assert_eq!(
        raw.objects(&peer.calendar_b).await.len(),
        1,
        "{}: only the daily series is left",
        peer.name
    );

    assert!(
        !store
            .integration_state(expert.id, strategy.integration_type())
            .needs_reauth
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radicale_end_to_end() {
    let Some(server) = peers_or_skip("radicale_end_to_end", radicale()) else {
        return;
    };
    server.add_user("ada", "app-password-1").unwrap();
    let calendar_a = server
        .create_calendar("ada", "app-password-1", "work", "Work")
        .await
        .unwrap();
    let calendar_b = server
        .create_calendar("ada", "app-password-1", "consultations", "Consultations")
        .await
        .unwrap();
    let peer = Peer {
        name: "Radicale",
        host_url: server.base_url.trim_end_matches('/').to_owned(),
        principal_url: server.principal_url("ada"),
        raw: Raw::new("ada", "app-password-1"),
        calendar_a,
        calendar_b,
    };
    run_cases(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xandikos_end_to_end() {
    let Some(server) = peers_or_skip("xandikos_end_to_end", xandikos()) else {
        return;
    };
    let calendar_a = server.create_calendar("work", "Work").await.unwrap();
    let calendar_b = server.create_calendar("consultations", "Consultations").await.unwrap();
    let peer = Peer {
        name: "Xandikos",
        host_url: server.base_url.trim_end_matches('/').to_owned(),
        principal_url: server.principal_url(),
        raw: Raw::new("user", "unused"),
        calendar_a,
        calendar_b,
    };
    run_cases(&peer).await;
}

/// The change feed of the calendar that receives appointments, as another client changes it:
/// full reads, nothing changed, a deletion, a move (in Berlin time), a cancellation, refused
/// cursors, and CTag cursors.
async fn run_feed_cases(peer: &Peer, calendar: &str, from: &str) {
    let name = peer.name;
    let raw = &peer.raw;
    let store = Arc::new(InMemoryStore::new());
    let strategy = strategy(&store, quick_policy());
    let expert = expert("Europe/Berlin", EXPERT_EMAIL);
    connect(&store, &strategy, expert.id, from, &raw.username, &raw.password)
        .await
        .unwrap_or_else(|e| panic!("{name}: connecting: {e}"));
    choose(&strategy, &expert, &[&calendar.to_owned()], calendar).await;
    let feed = strategy.change_feed().expect("CalDAV has a change feed");
    assert_eq!(feed.poll_interval(), Some(std::time::Duration::from_secs(60)));

    let empty = feed.changes(&expert, None).await.unwrap();
    assert_eq!(empty.changes, vec![], "{name}: an empty calendar");
    assert!(!empty.cursor.is_empty(), "{name}: a cursor");
    let unchanged = feed.changes(&expert, Some(&empty.cursor)).await.unwrap();
    assert_eq!(unchanged.changes, vec![], "{name}: nothing changed");

    // Three appointments written by us, from the day after tomorrow on, and another client's
    // event.
    let hour = Timestamp::from_second(Timestamp::now().as_second() / 3600 * 3600).unwrap();
    let at = |days: i64, hours: i64| hour + SignedDuration::from_hours(24 * days + hours);
    let client = client();
    let mut ids = Vec::new();
    let mut times = Vec::new();
    for day in 2..5 {
        let mut booked = appointment(&expert, &client, &at(day, 0).to_string(), 45);
        let created = strategy.create_event(&expert, &client, &booked).await.unwrap();
        booked.external_calendar_event_id = Some(created.id.clone());
        ids.push(created.id);
        times.push(Interval::new(booked.start_time, booked.end_time).unwrap());
    }
    raw.put(
        calendar,
        "someone-elses",
        &format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//other//EN\nBEGIN:VEVENT\nUID:someone-elses\nDTSTAMP:20270101T000000Z\nDTSTART:{}\nDTEND:{}\nEND:VEVENT\nEND:VCALENDAR\n",
            at(6, 0).strftime("%Y%m%dT%H%M%SZ"),
            at(6, 1).strftime("%Y%m%dT%H%M%SZ")
        ),
    )
    .await;

    let at_of = |batch: &ChangeBatch, id: &str| {
        batch.changes.iter().find_map(|c| match c {
            CalendarChange::At { event_id, time } if event_id == id => Some(*time),
            _ => None,
        })
    };
    let full = feed.changes(&expert, None).await.unwrap();
    for (id, time) in ids.iter().zip(&times) {
        assert_eq!(
            at_of(&full, id),
            Some(*time),
            "{name}: a full read lists {id} at its time: {full:?}"
        );
    }
    assert_eq!(full.changes.len(), 4, "{name}: ours and the other event: {full:?}");
    let from_empty = feed.changes(&expert, Some(&empty.cursor)).await.unwrap();
    for (id, time) in ids.iter().zip(&times) {
        assert_eq!(
            at_of(&from_empty, id),
            Some(*time),
            "{name}: the sync since the empty calendar lists {id}: {from_empty:?}"
        );
    }
    let unchanged = feed.changes(&expert, Some(&full.cursor)).await.unwrap();
    assert_eq!(unchanged.changes, vec![], "{name}: nothing changed since the full read");

    // Another client deletes the first, moves the second (written in Berlin time), cancels the
    // third.
    raw.delete(&ids[0]).await;
    let moved = Interval::new(at(3, 5), at(3, 6) + SignedDuration::from_mins(30)).unwrap();
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let local = |t: Timestamp| berlin.to_datetime(t).strftime("%Y%m%dT%H%M%S").to_string();
    let uid_of = |id: &str| id.rsplit('/').next().unwrap().trim_end_matches(".ics").to_owned();
    raw.put_url(
        &ids[1],
        &format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//other//EN\nBEGIN:VEVENT\nUID:{}\nDTSTAMP:20270101T000000Z\nSEQUENCE:5\nDTSTART;TZID=Europe/Berlin:{}\nDTEND;TZID=Europe/Berlin:{}\nSUMMARY:Moved\nEND:VEVENT\nEND:VCALENDAR\n",
            uid_of(&ids[1]),
            local(moved.start()),
            local(moved.end())
        ),
    )
    .await;
    raw.put_url(
        &ids[2],
        &format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//other//EN\nBEGIN:VEVENT\nUID:{}\nDTSTAMP:20270101T000000Z\nSEQUENCE:5\nDTSTART:{}\nDTEND:{}\nSTATUS:CANCELLED\nEND:VEVENT\nEND:VCALENDAR\n",
            uid_of(&ids[2]),
            times[2].start().strftime("%Y%m%dT%H%M%SZ"),
            times[2].end().strftime("%Y%m%dT%H%M%SZ")
        ),
    )
    .await;
    let changed = feed.changes(&expert, Some(&unchanged.cursor)).await.unwrap();
    let mut got = changed.changes.clone();
    got.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    let mut expected = vec![
        CalendarChange::Removed {
            event_id: ids[0].clone(),
        },
        CalendarChange::At {
            event_id: ids[1].clone(),
            time: moved,
        },
        CalendarChange::Removed {
            event_id: ids[2].clone(),
        },
    ];
    expected.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    assert_eq!(got, expected, "{name}: deleted, moved, cancelled");
    let again = feed.changes(&expert, Some(&changed.cursor)).await.unwrap();
    assert_eq!(again.changes, vec![], "{name}: nothing changed since");

    // Cursors the server refuses: a full read and a new cursor, no error.
    for bogus in [
        "bogus-token".to_owned(),
        format!("{}x", changed.cursor),
        "http://radicale.org/ns/sync/0123456789abcdef".to_owned(),
    ] {
        let read = feed
            .changes(&expert, Some(&bogus))
            .await
            .unwrap_or_else(|e| panic!("{name}: cursor {bogus}: {e}"));
        assert_eq!(
            at_of(&read, &ids[1]),
            Some(moved),
            "{name}: full read for {bogus}: {read:?}"
        );
        assert_eq!(
            read.changes.len(),
            3,
            "{name}: the moved, the cancelled and the other event: {read:?}"
        );
        assert!(!read
            .changes
            .iter()
            .any(|c| matches!(c, CalendarChange::At { event_id, .. } if *event_id == ids[2])));
        let next = feed.changes(&expert, Some(&read.cursor)).await.unwrap();
        assert_eq!(next.changes, vec![], "{name}: the new cursor works");
    }

    // CTag cursors: a stale one is a full read, the current one no change.
    let stale = feed.changes(&expert, Some("ctag:stale")).await.unwrap();
    assert_eq!(at_of(&stale, &ids[1]), Some(moved), "{name}: {stale:?}");
    let ctag = raw.ctag(calendar).await.expect("the server has CTags");
    let current = format!("ctag:{ctag}");
    let same = feed.changes(&expert, Some(&current)).await.unwrap();
    assert_eq!(same.changes, vec![], "{name}: unchanged CTag");
    assert_eq!(same.cursor, current);

    assert!(
        !store
            .integration_state(expert.id, strategy.integration_type())
            .needs_reauth
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radicale_change_feed() {
    let Some(server) = peers_or_skip("radicale_change_feed", radicale()) else {
        return;
    };
    server.add_user("eve", "app-password-2").unwrap();
    let calendar = server
        .create_calendar("eve", "app-password-2", "appointments", "Appointments")
        .await
        .unwrap();
    let peer = Peer {
        name: "Radicale",
        host_url: server.base_url.trim_end_matches('/').to_owned(),
        principal_url: server.principal_url("eve"),
        raw: Raw::new("eve", "app-password-2"),
        calendar_a: calendar.clone(),
        calendar_b: calendar.clone(),
    };
    run_feed_cases(&peer, &calendar, &peer.principal_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xandikos_change_feed() {
    let Some(server) = peers_or_skip("xandikos_change_feed", xandikos()) else {
        return;
    };
    let calendar = server.create_calendar("appointments", "Appointments").await.unwrap();
    let peer = Peer {
        name: "Xandikos",
        host_url: server.base_url.trim_end_matches('/').to_owned(),
        principal_url: server.principal_url(),
        raw: Raw::new("user", "unused"),
        calendar_a: calendar.clone(),
        calendar_b: calendar.clone(),
    };
    run_feed_cases(&peer, &calendar, &peer.principal_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_reports_failures_as_the_other_parts_do() {
    let Some(server) = peers_or_skip("the_change_feed_reports_failures_as_the_other_parts_do", radicale()) else {
        return;
    };
    server.add_user("frank", "app-password-3").unwrap();
    server
        .create_calendar("frank", "app-password-3", "main", "Main")
        .await
        .unwrap();
    let proxy = Proxy::start(&server.base_url).unwrap();
    let store = Arc::new(InMemoryStore::new());
    let strategy = strategy(
        &store,
        quick_policy().with_total_timeout(std::time::Duration::from_secs(3)),
    );
    let expert = expert("Europe/Berlin", "frank@example.com");
    connect(
        &store,
        &strategy,
        expert.id,
        &format!("{}frank/", proxy.url),
        "frank",
        "app-password-3",
    )
    .await
    .unwrap();
    let feed = strategy.change_feed().unwrap();
    let first = feed.changes(&expert, None).await.unwrap();

    proxy.fail_with(Some(ProxyFailure::Unavailable));
    for cursor in [None, Some(first.cursor.as_str())] {
        let down = feed.changes(&expert, cursor).await;
        assert!(
            matches!(down, Err(CoreError::ProviderUnavailable { .. })),
            "{cursor:?}: {down:?}"
        );
    }
    proxy.fail_with(Some(ProxyFailure::Unauthorized));
    let refused = feed.changes(&expert, Some(&first.cursor)).await;
    assert!(matches!(refused, Err(CoreError::NeedsReauth { .. })), "{refused:?}");
    assert!(
        store
            .integration_state(expert.id, strategy.integration_type())
            .needs_reauth
    );

    proxy.fail_with(None);
    let healed = feed.changes(&expert, Some(&first.cursor)).await.unwrap();
    assert_eq!(healed.changes, vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stores_nothing_and_a_changed_one_needs_reauth() {
    let Some(server) = peers_or_skip(
        "a_wrong_password_stores_nothing_and_a_changed_one_needs_reauth",
        radicale(),
    ) else {
        return;
    };
    server.add_user("bob", "right-password").unwrap();
    server
        .create_calendar("bob", "right-password", "main", "Main")
        .await
        .unwrap();
    let store = Arc::new(InMemoryStore::new());
    let strategy = strategy(&store, quick_policy());
    let expert = expert("Europe/Berlin", "bob@example.com");

    let refused = connect(
        &store,
        &strategy,
        expert.id,
        &server.principal_url("bob"),
        "bob",
        "wrong-password",
    )
    .await;
    assert!(
        matches!(refused, Err(ConnectError::InvalidCredentials { status: 401 })),
        "{refused:?}"
    );
    assert!(
        store
            .load(expert.id, strategy.integration_type())
            .await
            .unwrap()
            .is_none(),
        "nothing stored"
    );

    let nowhere = connect(
        &store,
        &strategy,
        expert.id,
        "http://127.0.0.1:9/",
        "bob",
        "right-password",
    )
    .await;
    assert!(matches!(nowhere, Err(ConnectError::Unavailable(_))), "{nowhere:?}");

    connect(&store, &strategy, expert.id, &server.base_url, "bob", "right-password")
        .await
        .unwrap();
    let window = interval("2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z");
    strategy.busy_intervals(&expert, window).await.unwrap();
    assert!(store.integration_state(expert.id, strategy.integration_type()).synced);

    // The app-specific password is revoked (changed on the server).
    server.set_password("bob", "a-new-password").unwrap();
    let revoked = strategy.busy_intervals(&expert, window).await;
    assert!(matches!(revoked, Err(CoreError::NeedsReauth { .. })), "{revoked:?}");
    let state = store.integration_state(expert.id, strategy.integration_type());
    assert!(state.needs_reauth, "the integration is marked: {state:?}");
}

/// A web server that is not a CalDAV server: it answers 404 to everything.
fn plain_web_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buffer = [0u8; 8192];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    url
}

#[tokio::test]
async fn an_address_without_caldav_is_a_discovery_failure() {
    let store = Arc::new(InMemoryStore::new());
    let strategy = strategy(&store, quick_policy());
    let expert = expert("Europe/Berlin", EXPERT_EMAIL);
    let site = plain_web_server();
    for url in [site.clone(), format!("{site}remote.php/dav")] {
        let found = connect(&store, &strategy, expert.id, &url, "ada", "x").await;
        assert!(
            matches!(found, Err(ConnectError::DiscoveryFailed(_))),
            "{url}: {found:?}"
        );
    }
    assert!(store
        .load(expert.id, strategy.integration_type())
        .await
        .unwrap()
        .is_none());
}

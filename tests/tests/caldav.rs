//! CalDAV through the real server's HTTP API, against a real Radicale (one for this whole test
//! binary, from `provider_caldav::testing`): connecting with a server address, a username and a
//! password (discovery from the bare address), the calendar choice, slots minus busy time
//! (recurrences with an EXDATE and a moved occurrence, all-day, transparent, a custom VTIMEZONE,
//! across Berlin's change to summer time), bookings written, moved and removed by the outbox, a
//! refused password and an address without CalDAV storing nothing, and a booking made while the
//! CalDAV server is down surviving a stop of the server process. SQLite always, PostgreSQL when
//! TEST_DATABASE_URL is set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use availability_core::domain::jiff::civil::{Date, Weekday};
use availability_core::domain::jiff::tz::TimeZone;
use availability_core::domain::jiff::{Timestamp, ToSpan};
use provider_caldav::testing::{peers_or_skip, radicale, Proxy, ProxyFailure, Radicale};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{databases, Api, ProcessServer, TestDb, TestServer};

const PASSWORD: &str = "app-specific-password";

/// The one Radicale of this binary; None (the test passes, saying SKIPPED) on a machine without
/// Python or PyPI, unless REQUIRE_CALDAV_PEERS=1.
fn caldav(test: &str) -> Option<&'static Radicale> {
    peers_or_skip(test, radicale())
}

/// A Radicale user of this test alone, so tests running side by side never see each other's
/// calendars.
fn new_user(server: &Radicale, test: &str, db: &TestDb) -> String {
    let user = format!(
        "{test}-{}-{}",
        db.label,
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    server.add_user(&user, PASSWORD).unwrap();
    user
}

/// Plain CalDAV access behind the server's back: seeds events, reads what the server wrote.
struct Dav {
    client: reqwest::Client,
    user: String,
}

impl Dav {
    fn new(user: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            user: user.to_owned(),
        }
    }

    fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.client.request(method, url).basic_auth(&self.user, Some(PASSWORD))
    }

    async fn put(&self, calendar: &str, name: &str, ics: &str) {
        let url = format!("{calendar}{name}.ics");
        let sent = self
            .request(Method::PUT, &url)
            .header("content-type", "text/calendar; charset=utf-8")
            .body(ics.replace("\r\n", "\n").replace('\n', "\r\n"))
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success(), "PUT {url}: {}", sent.status());
    }

    /// The calendar object at `url` (unfolded), or None when there is none.
    async fn get(&self, url: &str) -> Option<String> {
        let got = self.request(Method::GET, url).send().await.unwrap();
        if got.status() == StatusCode::NOT_FOUND {
            return None;
        }
        assert!(got.status().is_success(), "GET {url}: {}", got.status());
        Some(got.text().await.unwrap().replace("\r\n ", "").replace("\r\n", "\n"))
    }

    /// The calendar objects in a calendar (PROPFIND Depth 1).
    async fn objects(&self, calendar: &str) -> Vec<String> {
        let body = self
            .request(Method::from_bytes(b"PROPFIND").unwrap(), calendar)
            .header("depth", "1")
            .header("content-type", "application/xml")
            .body(r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.split("href>")
            .filter_map(|part| part.split("</").next())
            .filter(|href| href.ends_with(".ics"))
            .map(str::to_owned)
            .collect()
    }
}

/// The weeks around Berlin's next change to summer time that lies ahead (and within the booking
/// horizon): `monday` is the Monday of the week that ends with the change (the last Sunday of
/// March), the window runs from the Monday before it to the Monday after the next.
struct Weeks {
    monday: Date,
}

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

impl Weeks {
    fn ahead() -> Self {
        let today = berlin().to_datetime(Timestamp::now()).date();
        let mut year = today.year();
        loop {
            let april = Date::new(year, 4, 1).unwrap();
            let mut sunday = april.yesterday().unwrap();
            while sunday.weekday() != Weekday::Sunday {
                sunday = sunday.yesterday().unwrap();
            }
            let monday = sunday.checked_sub(6.days()).unwrap();
            // The window starts a week before `monday`: at least two days ahead.
            if monday.checked_sub(7.days()).unwrap() >= today.checked_add(2.days()).unwrap() {
                return Self { monday };
            }
            year += 1;
        }
    }

    /// The day `offset` days after `monday` (negative: before).
    fn day(&self, offset: i32) -> Date {
        self.monday.checked_add(offset.days()).unwrap()
    }

    /// `HH:00` Berlin time on that day, as the API writes instants.
    fn at(&self, offset: i32, hour: i8) -> String {
        berlin()
            .to_timestamp(self.day(offset).at(hour, 0, 0, 0))
            .unwrap()
            .to_string()
    }

    fn ical(&self, offset: i32) -> String {
        self.day(offset).strftime("%Y%m%d").to_string()
    }

    fn window(&self) -> (String, String) {
        (self.at(-7, 0), self.at(14, 0))
    }
}

const OFFICE_TIME_RULES: &str = "BEGIN:STANDARD
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

/// The expert's own calendar, in Berlin time (`w.day(0)` is the Monday before the change):
/// - a weekly series on Mondays and Thursdays 10:00-11:00 from the Monday a week earlier, with
///   the Monday of the change's week excepted (EXDATE) and the Monday after it moved to that
///   Tuesday 14:00-15:00;
/// - an all-day event on the Wednesday of the change's week;
/// - a transparent event that Thursday 11:00-12:00 (it blocks nothing);
/// - an event 12:00-13:00 on the Wednesday after the change in a zone that only its VTIMEZONE
///   defines ("Office Time", Berlin's rules).
fn seeded_events(w: &Weeks) -> Vec<(&'static str, String)> {
    let weekly = format!(
        "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//e2e//EN
BEGIN:VEVENT
UID:weekly-e2e
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:{first}T100000
DTEND;TZID=Europe/Berlin:{first}T110000
RRULE:FREQ=WEEKLY;BYDAY=MO,TH
EXDATE;TZID=Europe/Berlin:{excepted}T100000
SUMMARY:Weekly
END:VEVENT
BEGIN:VEVENT
UID:weekly-e2e
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:{moved}T100000
SEQUENCE:1
DTSTART;TZID=Europe/Berlin:{moved_to}T140000
DTEND;TZID=Europe/Berlin:{moved_to}T150000
SUMMARY:Weekly (moved)
END:VEVENT
END:VCALENDAR
",
        first = w.ical(-7),
        excepted = w.ical(0),
        moved = w.ical(7),
        moved_to = w.ical(8),
    );
    let all_day = format!(
        "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//e2e//EN
BEGIN:VEVENT
UID:all-day-e2e
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:{}
DTEND;VALUE=DATE:{}
SUMMARY:Conference
END:VEVENT
END:VCALENDAR
",
        w.ical(2),
        w.ical(3)
    );
    let transparent = format!(
        "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//e2e//EN
BEGIN:VEVENT
UID:free-e2e
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:{day}T110000
DTEND;TZID=Europe/Berlin:{day}T120000
TRANSP:TRANSPARENT
SUMMARY:Reading time (free)
END:VEVENT
END:VCALENDAR
",
        day = w.ical(3)
    );
    let custom_zone = format!(
        "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//e2e//EN
BEGIN:VTIMEZONE
TZID:Office Time
{OFFICE_TIME_RULES}END:VTIMEZONE
BEGIN:VEVENT
UID:custom-zone-e2e
DTSTAMP:20260101T000000Z
DTSTART;TZID=Office Time:{day}T120000
DTEND;TZID=Office Time:{day}T130000
SUMMARY:Lunch talk
END:VEVENT
END:VCALENDAR
",
        day = w.ical(9)
    );
    vec![
        ("weekly-e2e", weekly),
        ("all-day-e2e", all_day),
        ("free-e2e", transparent),
        ("custom-zone-e2e", custom_zone),
    ]
}

/// The hour slots (09:00-17:00 on weekdays, Berlin) of the window, minus `blocked` (day offset,
/// hour) and the whole all-day Wednesday.
fn expected_slots(w: &Weeks, blocked: &[(i32, i8)]) -> Vec<String> {
    let mut slots = Vec::new();
    for offset in -7..14 {
        let day = w.day(offset);
        if matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) || offset == 2 {
            continue;
        }
        for hour in 9..17 {
            if !blocked.contains(&(offset, hour)) {
                slots.push(w.at(offset, hour));
            }
        }
    }
    slots
}

/// What the seeded calendar blocks: the series on Mondays and Thursdays (winter time before the
/// change, summer time after it; not the excepted Monday, not the moved one but its Tuesday
/// 14:00), and the custom zone's 12:00.
const SEEDED_BUSY: [(i32, i8); 6] = [(-7, 10), (-4, 10), (3, 10), (8, 14), (9, 12), (10, 10)];

async fn slot_starts(api: &Api, expert: &str, token: &str, w: &Weeks) -> Vec<String> {
    let (from, to) = w.window();
    api.slots(expert, token, &from, &to)
        .await
        .into_iter()
        .map(|(start, _)| start)
        .collect()
}

async fn wait_synced(api: &Api, id: &str, token: &str) -> Value {
    // Long enough for a job whose lease a stopped process still held (60 s) to run elsewhere.
    for _ in 0..900 {
        let a = api.get(&format!("/api/v1/appointments/{id}"), token).await;
        if a.body["sync_status"] == "synced" {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("appointment {id} never synced");
}

/// The expert's caldav entry of GET integrations.
async fn caldav_entry(api: &Api, expert: &str, token: &str) -> Value {
    let list = api.get(&format!("/api/v1/experts/{expert}/integrations"), token).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    list.body
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "caldav")
        .cloned()
        .expect("GET integrations lists caldav")
}

/// Hour slots, a horizon that reaches the change to summer time.
async fn hourly_policy(api: &Api, expert: &str, token: &str) {
    let policy = api
        .put(
            &format!("/api/v1/experts/{expert}/booking-policy"),
            token,
            json!({"slot_duration_minutes": 60, "booking_horizon_days": 730}),
        )
        .await;
    assert_eq!(policy.status, 200, "{:?}", policy.body);
}

async fn connect(
    api: &Api,
    expert: &str,
    token: &str,
    server_url: &str,
    user: &str,
    password: &str,
) -> support::Answer {
    api.put(
        &format!("/api/v1/experts/{expert}/integrations/caldav"),
        token,
        json!({"server_url": server_url, "username": user, "password": password}),
    )
    .await
}

async fn use_caldav(api: &Api, expert: &str, token: &str) {
    let set = api
        .put(
            &format!("/api/v1/experts/{expert}/integration"),
            token,
            json!({"integration_type": "caldav"}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["integration_type"], "caldav");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caldav_experts_connect_choose_calendars_and_book_through_the_server() {
    let test = "caldav_experts_connect_choose_calendars_and_book_through_the_server";
    let Some(dav_server) = caldav(test) else {
        return;
    };
    let w = Weeks::ahead();
    for db in databases(test) {
        let user = new_user(dav_server, "book", &db);
        let dav = Dav::new(&user);
        let work = dav_server
            .create_calendar(&user, PASSWORD, "work", "Work")
            .await
            .unwrap();
        let bookings = dav_server
            .create_calendar(&user, PASSWORD, "appointments", "Appointments")
            .await
            .unwrap();
        for (name, ics) in seeded_events(&w) {
            dav.put(&work, name, &ics).await;
        }
        let server = TestServer::start_with_env(&db, &[("CALDAV_MARKETPLACE_NAME", "Tutors")]).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        hourly_policy(api, &expert, &token).await;

        // The descriptor the pages draw the connect form from.
        let providers = api.get("/api/v1/providers", &token).await;
        let caldav = providers.body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["integration_type"] == "caldav")
            .cloned()
            .expect("caldav is registered");
        assert_eq!(caldav["connect"], "credentials", "{caldav}");
        assert_eq!(caldav["available"], true);
        assert_eq!(caldav["features"]["calendars"], true);
        assert_eq!(caldav["capabilities"]["reads_busy_time"], true);
        assert_eq!(caldav["capabilities"]["writes_events"], true);
        let fields: Vec<&str> = caldav["credential_fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["server_url", "username", "password"]);
        assert_eq!(caldav["credential_fields"][2]["secret"], true);
        let presets: Vec<&str> = caldav["credential_fields"][0]["presets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_str().unwrap())
            .collect();
        assert_eq!(
            presets,
            [
                "https://caldav.icloud.com",
                "https://caldav.calendar.yahoo.com",
                "https://caldav.fastmail.com",
                ""
            ]
        );

        // Connect from the bare address (RFC 6764 well-known redirect, principal, home).
        let base = dav_server.base_url.trim_end_matches('/');
        let connected = connect(api, &expert, &token, base, &user, PASSWORD).await;
        assert_eq!(connected.status, 200, "{}: {:?}", db.label, connected.body);
        assert_eq!(connected.body["status"], "connected");
        assert_eq!(connected.body["account"], user.as_str());
        assert!(connected.body["server_url"].as_str().unwrap().starts_with(base));
        let entry = caldav_entry(api, &expert, &token).await;
        assert_eq!(entry["status"], "connected", "{entry}");
        assert!(
            !entry.to_string().contains(PASSWORD),
            "the password is never shown: {entry}"
        );

        // Both calendars are found; by default both block time and one receives appointments.
        let path = format!("/api/v1/experts/{expert}/integrations/caldav/calendars");
        let listed = api.get(&path, &token).await;
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        let calendars = listed.body["calendars"].as_array().unwrap();
        let mut ids: Vec<&str> = calendars.iter().map(|c| c["id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        let mut wanted = [bookings.as_str(), work.as_str()];
        wanted.sort_unstable();
        assert_eq!(ids, wanted, "{:?}", listed.body);
        assert!(calendars
            .iter()
            .all(|c| c["blocks_time"] == true && c["read_only"] == false));
        assert_eq!(calendars.iter().filter(|c| c["receives_events"] == true).count(), 1);

        // Refused choices change nothing.
        for refused in [
            json!({"busy_calendar_ids": [], "event_calendar_id": bookings}),
            json!({"busy_calendar_ids": [work], "event_calendar_id": format!("{base}/{user}/nowhere/")}),
        ] {
            let a = api.put(&path, &token, refused.clone()).await;
            assert_eq!(
                (a.status.as_u16(), a.code()),
                (422, "invalid_calendar_choice"),
                "{refused}: {:?}",
                a.body
            );
        }
        // Work blocks time, appointments go to Appointments.
        let chosen = api
            .put(
                &path,
                &token,
                json!({"busy_calendar_ids": [work], "event_calendar_id": bookings}),
            )
            .await;
        assert_eq!(chosen.status, 200, "{:?}", chosen.body);
        for c in chosen.body["calendars"].as_array().unwrap() {
            let is_work = c["id"] == work.as_str();
            assert_eq!(c["blocks_time"], is_work, "{c}");
            assert_eq!(c["receives_events"], !is_work, "{c}");
        }
        use_caldav(api, &expert, &token).await;

        // Slots: the hours minus what the calendar blocks, across the change to summer time.
        let (client, client_token) = api.client_with_token().await;
        let mut blocked = SEEDED_BUSY.to_vec();
        assert_eq!(
            slot_starts(api, &expert, &client_token, &w).await,
            expected_slots(&w, &blocked),
            "{}: slots minus the CalDAV calendar's busy time",
            db.label
        );

        // A booking becomes an event in the Appointments calendar.
        let booked = api
            .post(
                "/api/v1/appointments",
                &client_token,
                json!({"expert_id": expert, "client_id": client, "start_time": w.at(10, 9), "end_time": w.at(10, 10)}),
            )
            .await;
        assert_eq!(booked.status, 201, "{}: {:?}", db.label, booked.body);
        assert_eq!(booked.body["calendar_type"], "caldav");
        assert_eq!(booked.body["sync_status"], "pending");
        let id = booked.body["id"].as_str().unwrap().to_owned();
        let synced = wait_synced(api, &id, &client_token).await;
        let event_url = synced["external_calendar_event_id"].as_str().unwrap().to_owned();
        assert!(event_url.starts_with(&bookings), "{event_url} is in {bookings}");
        let event = dav.get(&event_url).await.expect("the event is on the CalDAV server");
        let utc = |at: &str| at.replace(['-', ':'], "");
        assert!(event.contains(&format!("DTSTART:{}", utc(&w.at(10, 9)))), "{event}");
        assert!(event.contains(&format!("DTEND:{}", utc(&w.at(10, 10)))), "{event}");
        assert!(event.contains("SUMMARY:Ann (Tutors)"), "{event}");
        assert!(
            event.contains(&format!("{}/appointments/{id}", api.base)),
            "the description links the appointment page: {event}"
        );
        assert!(!event.contains("ATTENDEE"), "no invitations: {event}");
        assert_eq!(dav.objects(&bookings).await.len(), 1);
        blocked.push((10, 9));
        assert_eq!(
            slot_starts(api, &expert, &client_token, &w).await,
            expected_slots(&w, &blocked)
        );

        // A reschedule moves the event.
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": w.at(10, 11), "end_time": w.at(10, 12)}),
            )
            .await;
        assert_eq!(moved.status, 200, "{:?}", moved.body);
        let synced = wait_synced(api, &id, &client_token).await;
        assert_eq!(synced["external_calendar_event_id"], event_url.as_str());
        let event = dav.get(&event_url).await.expect("the moved event");
        assert!(event.contains(&format!("DTSTART:{}", utc(&w.at(10, 11)))), "{event}");
        assert_eq!(dav.objects(&bookings).await.len(), 1, "moved, not copied");
        blocked.pop();
        blocked.push((10, 11));
        assert_eq!(
            slot_starts(api, &expert, &client_token, &w).await,
            expected_slots(&w, &blocked)
        );

        // A cancel removes it.
        let cancelled = api
            .post(&format!("/api/v1/appointments/{id}/cancel"), &client_token, json!({}))
            .await;
        assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
        wait_synced(api, &id, &client_token).await;
        assert_eq!(dav.get(&event_url).await, None, "{}: the event is gone", db.label);
        assert!(dav.objects(&bookings).await.is_empty());
        assert_eq!(
            slot_starts(api, &expert, &client_token, &w).await,
            expected_slots(&w, &SEEDED_BUSY)
        );
        let entry = caldav_entry(api, &expert, &token).await;
        assert_eq!(
            (entry["status"].as_str(), entry["last_error"].as_str()),
            (Some("connected"), None),
            "{entry}"
        );
        server.stop().await;
    }
}

/// A web server that is not a CalDAV server: 404 to everything.
fn plain_web_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 8192];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_password_or_an_address_without_caldav_stores_nothing() {
    let test = "a_refused_password_or_an_address_without_caldav_stores_nothing";
    let Some(dav_server) = caldav(test) else {
        return;
    };
    let site = plain_web_server();
    for db in databases(test) {
        let user = new_user(dav_server, "refused", &db);
        dav_server
            .create_calendar(&user, PASSWORD, "main", "Main")
            .await
            .unwrap();
        let server = TestServer::start_with_env(&db, &[]).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let base = dav_server.base_url.trim_end_matches('/');

        let refused = connect(api, &expert, &token, base, &user, "not-the-password").await;
        assert_eq!(
            (refused.status.as_u16(), refused.code()),
            (422, "invalid_credentials"),
            "{}: {:?}",
            db.label,
            refused.body
        );
        assert!(!refused.body.to_string().contains("not-the-password"));
        assert_eq!(caldav_entry(api, &expert, &token).await["status"], "disconnected");

        for nowhere in [site.clone(), format!("{site}/remote.php/dav")] {
            let a = connect(api, &expert, &token, &nowhere, &user, PASSWORD).await;
            assert_eq!(
                (a.status.as_u16(), a.code()),
                (422, "discovery_failed"),
                "{}: {nowhere}: {:?}",
                db.label,
                a.body
            );
        }
        let malformed = connect(api, &expert, &token, "ftp://calendar.example", &user, PASSWORD).await;
        assert_eq!(
            (malformed.status.as_u16(), malformed.code()),
            (422, "invalid_settings"),
            "{:?}",
            malformed.body
        );
        assert_eq!(caldav_entry(api, &expert, &token).await["status"], "disconnected");
        let switch = api
            .put(
                &format!("/api/v1/experts/{expert}/integration"),
                &token,
                json!({"integration_type": "caldav"}),
            )
            .await;
        assert_eq!(
            (switch.status.as_u16(), switch.code()),
            (422, "integration_not_connected"),
            "{:?}",
            switch.body
        );
        let calendars = api
            .get(
                &format!("/api/v1/experts/{expert}/integrations/caldav/calendars"),
                &token,
            )
            .await;
        assert_eq!(calendars.code(), "integration_not_connected", "{:?}", calendars.body);

        // The right password connects; disconnecting forgets it and falls back to manual.
        let ok = connect(api, &expert, &token, base, &user, PASSWORD).await;
        assert_eq!(ok.status, 200, "{:?}", ok.body);
        use_caldav(api, &expert, &token).await;
        let gone = api
            .call(
                Method::DELETE,
                &format!("/api/v1/experts/{expert}/integrations/caldav"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        assert_eq!(caldav_entry(api, &expert, &token).await["status"], "disconnected");
        let e = api.get(&format!("/api/v1/experts/{expert}"), &token).await;
        assert_eq!(e.body["integration_type"], "manual");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_made_while_caldav_is_down_arrives_after_the_server_process_restarts() {
    let test = "a_booking_made_while_caldav_is_down_arrives_after_the_server_process_restarts";
    let Some(dav_server) = caldav(test) else {
        return;
    };
    let w = Weeks::ahead();
    for db in databases(test) {
        let user = new_user(dav_server, "restart", &db);
        let dav = Dav::new(&user);
        let calendar = dav_server
            .create_calendar(&user, PASSWORD, "main", "Main")
            .await
            .unwrap();
        // The server reaches CalDAV through a proxy that can be made to fail.
        let proxy = Proxy::start(&dav_server.base_url).unwrap();
        let first = ProcessServer::spawn(&db).await;
        let api = &first.api;
        let (expert, token) = api.expert_with_hours().await;
        hourly_policy(api, &expert, &token).await;
        let principal = format!("{}{user}/", proxy.url);
        let connected = connect(api, &expert, &token, &principal, &user, PASSWORD).await;
        assert_eq!(connected.status, 200, "{:?}", connected.body);
        use_caldav(api, &expert, &token).await;
        let (client, client_token) = api.client_with_token().await;
        // The client sees the slots while CalDAV answers...
        assert!(slot_starts(api, &expert, &client_token, &w).await.contains(&w.at(1, 9)));
        // ...then it stops answering: the booking is confirmed all the same (against the busy
        // time seen moments ago) and waits in the outbox.
        proxy.fail_with(Some(ProxyFailure::Unavailable));
        let booked = api
            .post(
                "/api/v1/appointments",
                &client_token,
                json!({"expert_id": expert, "client_id": client, "start_time": w.at(1, 9), "end_time": w.at(1, 10)}),
            )
            .await;
        assert_eq!(booked.status, 201, "{}: {:?}", db.label, booked.body);
        assert_eq!(booked.body["sync_status"], "pending");
        let id = booked.body["id"].as_str().unwrap().to_owned();
        // The worker tries to write it and fails, again and again. Stop the server process
        // between two attempts (a process stopped in the middle of one holds the job's lease
        // for a minute): after the third attempt (the policy's 4 tries each, backoffs under a
        // second) and a second without a request, the next attempt is at least 2 s away.
        let after_booking = proxy.requests();
        let (mut seen, mut since) = (after_booking, std::time::Instant::now());
        let mut quiet = false;
        for _ in 0..1200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = proxy.requests();
            if now != seen {
                (seen, since) = (now, std::time::Instant::now());
            } else if seen >= after_booking + 12 && since.elapsed() >= Duration::from_secs(1) {
                quiet = true;
                break;
            }
        }
        assert!(quiet, "{}: the worker kept trying to write the event", db.label);
        let entry = caldav_entry(api, &expert, &token).await;
        assert!(entry["last_error"].is_string(), "the failure is shown: {entry}");
        first.stop();
        assert!(dav.objects(&calendar).await.is_empty(), "nothing was written");

        // CalDAV answers again; a new server process on the same database catches up.
        proxy.fail_with(None);
        let second = ProcessServer::spawn(&db).await;
        let synced = wait_synced(&second.api, &id, &client_token).await;
        let event_url = synced["external_calendar_event_id"].as_str().unwrap();
        let direct = event_url.replace(&proxy.url, &dav_server.base_url);
        let event = dav.get(&direct).await.expect("the event arrived");
        assert!(
            event.contains(&format!("DTSTART:{}", w.at(1, 9).replace(['-', ':'], ""))),
            "{event}"
        );
        assert_eq!(dav.objects(&calendar).await.len(), 1, "{}: exactly one event", db.label);
        second.stop();
    }
}

/// Two-way sync with CalDAV, which has no push: the calendar is polled (every 60 s; here every
/// second, CALENDAR_SYNC_SECONDS=1). An event another client adds on the server blocks its slot
/// within a poll (the read drops the cached busy time), and deleting the event of a booked
/// appointment on the server cancels the appointment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_on_the_caldav_server_are_followed_within_a_poll() {
    let test = "changes_made_on_the_caldav_server_are_followed_within_a_poll";
    let Some(dav_server) = caldav(test) else {
        return;
    };
    let w = Weeks::ahead();
    for db in databases(test) {
        let l = db.label;
        let user = new_user(dav_server, "follow", &db);
        let dav = Dav::new(&user);
        let calendar = dav_server
            .create_calendar(&user, PASSWORD, "main", "Main")
            .await
            .unwrap();
        let server = TestServer::start_with_env(&db, &[("CALENDAR_SYNC_SECONDS", "1")]).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        hourly_policy(api, &expert, &token).await;
        let principal = format!("{}{user}/", dav_server.base_url);
        let connected = connect(api, &expert, &token, &principal, &user, PASSWORD).await;
        assert_eq!(connected.status, 200, "{l}: {:?}", connected.body);
        use_caldav(api, &expert, &token).await;
        let (client, client_token) = api.client_with_token().await;

        let booked = api
            .post(
                "/api/v1/appointments",
                &client_token,
                json!({"expert_id": expert, "client_id": client, "start_time": w.at(1, 9), "end_time": w.at(1, 10)}),
            )
            .await;
        assert_eq!(booked.status, 201, "{l}: {:?}", booked.body);
        let id = booked.body["id"].as_str().unwrap().to_owned();
        let synced = wait_synced(api, &id, &client_token).await;
        let event_url = synced["external_calendar_event_id"].as_str().unwrap().to_owned();

        // Another client adds an event: within a poll, its hour is no slot any more.
        assert!(slot_starts(api, &expert, &client_token, &w)
            .await
            .contains(&w.at(1, 11)));
        let added = format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//e2e//EN\nBEGIN:VEVENT\nUID:added-e2e\nDTSTAMP:20260101T000000Z\nDTSTART;TZID=Europe/Berlin:{day}T110000\nDTEND;TZID=Europe/Berlin:{day}T120000\nSUMMARY:Added elsewhere\nEND:VEVENT\nEND:VCALENDAR\n",
            day = w.ical(1)
        );
        dav.put(&calendar, "added-e2e", &added).await;
        let mut blocked = false;
        for _ in 0..50 {
            if !slot_starts(api, &expert, &client_token, &w)
                .await
                .contains(&w.at(1, 11))
            {
                blocked = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(blocked, "{l}: the added event blocks its hour within a poll");

        // The booked event is deleted on the server: the appointment is cancelled.
        let deleted = dav.request(Method::DELETE, &event_url).send().await.unwrap();
        assert!(
            deleted.status().is_success(),
            "{l}: DELETE {event_url}: {}",
            deleted.status()
        );
        let mut cancelled = Value::Null;
        for _ in 0..50 {
            let a = api.get(&format!("/api/v1/appointments/{id}"), &client_token).await.body;
            if a["status"] == "cancelled" {
                cancelled = a;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            cancelled["cancellation_reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("deleted in ")),
            "{l}: {cancelled:?}"
        );
        server.stop().await;
    }
}

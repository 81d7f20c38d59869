//! Busy time of a CalDAV expert whose server answers in 50 ms, with four blocking calendars:
//! the REPORTs run in parallel, so the call costs about one round trip, not four.
//!
//! Two servers: a canned loopback server that answers every REPORT after exactly 50 ms (the
//! client's own cost: the claim "within 1.5x of one round trip"), and Radicale behind the
//! delaying proxy (a real server, whose Python evaluation of each REPORT adds its own time).
//!
//! `cargo bench -p provider-caldav --bench busy_time`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use availability_core::domain::{BookingPolicy, Expert, ExpertId, Interval, Secret, Zone};
use availability_core::{AvailabilityStrategy, BusyTimeSource, CredentialRepository, InMemoryStore};
use criterion::{criterion_group, criterion_main, Criterion};
use provider_caldav::testing::{peers_or_skip, radicale, Proxy};
use provider_caldav::{CaldavBuilder, StoredCaldav, StoredCalendar};

const CALENDARS: usize = 4;
const DELAY: Duration = Duration::from_millis(50);

fn weekly(uid: &str, hour: u8) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T{hour:02}0000\r\nDTEND;TZID=Europe/Berlin:20260105T{hour:02}4500\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// A REPORT answer: one calendar object with a weekly series.
fn multistatus(calendar: &str) -> String {
    let data = weekly(&format!("canned-{calendar}"), 9).replace('\r', "&#13;");
    format!(
        r#"<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>/{calendar}/e.ics</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag><c:calendar-data>{data}</c:calendar-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#
    )
}

/// A server that answers every request after `DELAY` with a canned multistatus (one thread per
/// connection, keep-alive).
fn canned_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    if stream.read_exact(&mut body).is_err() {
                        return;
                    }
                    let calendar = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("/")
                        .trim_matches('/')
                        .to_owned();
                    std::thread::sleep(DELAY);
                    let answer = multistatus(&calendar);
                    let response = format!(
                        "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn expert() -> Expert {
    Expert {
        id: ExpertId::new(),
        name: "Bench".into(),
        email: "bench@example.com".into(),
        timezone: Zone::new("Europe/Berlin").unwrap(),
        integration_type: provider_caldav::INTEGRATION,
        booking_policy: BookingPolicy::default(),
    }
}

fn canned(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = canned_server();
    let store = Arc::new(InMemoryStore::new());
    let strategy = CaldavBuilder::new(store.clone(), store.clone()).build().unwrap();
    let expert = expert();
    let calendars: Vec<StoredCalendar> = (0..CALENDARS)
        .map(|n| StoredCalendar {
            id: format!("{url}cal-{n}/"),
            name: format!("Calendar {n}"),
            writable: true,
            default: n == 0,
        })
        .collect();
    let stored = StoredCaldav {
        server_url: url.clone(),
        username: "bench".into(),
        password: Secret::new("bench".into()),
        principal_url: format!("{url}bench/"),
        calendar_home_url: url.clone(),
        user_addresses: vec![],
        busy_calendar_ids: calendars.iter().map(|c| c.id.clone()).collect(),
        event_calendar_id: Some(calendars[0].id.clone()),
        calendars,
    };
    runtime
        .block_on(CredentialRepository::save(
            &*store,
            expert.id,
            strategy.integration_type(),
            stored.to_credential(),
        ))
        .unwrap();
    let window = Interval::new(
        "2026-06-01T00:00:00Z".parse().unwrap(),
        "2026-06-08T00:00:00Z".parse().unwrap(),
    )
    .unwrap();
    let busy = runtime.block_on(strategy.busy_intervals(&expert, window)).unwrap();
    assert_eq!(
        busy.len(),
        3,
        "Monday, Wednesday and Friday, merged across the calendars"
    );
    let http = reqwest::Client::new();
    let mut group = c.benchmark_group("caldav canned server");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("one round trip (50 ms)", |b| {
        b.to_async(&runtime).iter(|| async {
            http.get(format!("{url}cal-0/"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        })
    });
    group.bench_function("busy time, 4 calendars, one week (50 ms)", |b| {
        b.to_async(&runtime)
            .iter(|| async { strategy.busy_intervals(&expert, window).await.unwrap() })
    });
    group.finish();
}

fn busy_time(c: &mut Criterion) {
    let Some(server) = peers_or_skip("bench busy_time", radicale()) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    server.add_user("bench", "bench-password").unwrap();
    let http = reqwest::Client::new();
    for n in 0..CALENDARS {
        let calendar = runtime
            .block_on(server.create_calendar("bench", "bench-password", &format!("cal-{n}"), &format!("Calendar {n}")))
            .unwrap();
        for e in 0..5u8 {
            let uid = format!("bench-{n}-{e}");
            let response = runtime
                .block_on(
                    http.put(format!("{calendar}{uid}.ics"))
                        .basic_auth("bench", Some("bench-password"))
                        .header("content-type", "text/calendar")
                        .body(weekly(&uid, 8 + e))
                        .send(),
                )
                .unwrap();
            assert!(response.status().is_success());
        }
    }
    let proxy = Proxy::start(&server.base_url).unwrap();
    let store = Arc::new(InMemoryStore::new());
    let strategy = CaldavBuilder::new(store.clone(), store.clone()).build().unwrap();
    let expert = expert();
    let account = runtime
        .block_on(strategy.connect(
            expert.id,
            &format!("{}bench/", proxy.url),
            "bench",
            Secret::new("bench-password".into()),
        ))
        .unwrap();
    runtime
        .block_on(store.save(
            expert.id,
            strategy.integration_type(),
            account.credential.to_credential(),
        ))
        .unwrap();
    assert_eq!(account.calendars.len(), CALENDARS);
    proxy.set_delay(DELAY);
    let window = Interval::new(
        "2026-06-01T00:00:00Z".parse().unwrap(),
        "2026-06-08T00:00:00Z".parse().unwrap(),
    )
    .unwrap();
    let busy = runtime.block_on(strategy.busy_intervals(&expert, window)).unwrap();
    assert_eq!(
        busy.len(),
        15,
        "five events a day on three days; the calendars hold the same times"
    );

    let mut group = c.benchmark_group("caldav radicale");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let round_trip_url = format!("{}bench/cal-0/", proxy.url);
    group.bench_function("one round trip (50 ms server)", |b| {
        b.to_async(&runtime).iter(|| async {
            http.request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), &round_trip_url)
                .basic_auth("bench", Some("bench-password"))
                .header("depth", "0")
                .send()
                .await
                .unwrap()
        })
    });
    group.bench_function("busy time, 4 calendars, one week (50 ms server)", |b| {
        b.to_async(&runtime)
            .iter(|| async { strategy.busy_intervals(&expert, window).await.unwrap() })
    });
    group.finish();
}

criterion_group!(benches, canned, busy_time);
criterion_main!(benches);

//! Freshness of push notifications: the time from a calendar's notification to the first slot
//! answer that reflects the change, through the real server (SQLite, or PostgreSQL with
//! FRESHNESS_DATABASE=postgres and TEST_DATABASE_URL) and the Google fake (or the Graph fake with
//! FRESHNESS_CALENDAR=outlook) on loopback.
//!
//! Each round adds an event over one free slot in the expert's calendar (the slot is still
//! shown: busy time is cached for 30 s), then the fake delivers the notification and the client
//! asks for the day's slots until the slot is gone. Measured: from the moment the fake starts
//! delivering to the answer without the slot (the delivery's own HTTP round trip included).
//! Printed: rounds, min, median, p95, max.
//!
//! `cargo bench -p availability-tests --bench freshness` (ROUNDS=100 by default).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use availability_core::domain::jiff::civil::Date;
use availability_core::domain::jiff::ToSpan;
use provider_fakes::{FakeGoogle, FakeGraph};
use support::{databases, next_monday, TestServer};

fn main() {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(100);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(measure(rounds));
}

async fn measure(rounds: usize) {
    let want_postgres = std::env::var("FRESHNESS_DATABASE").as_deref() == Ok("postgres");
    let db = databases("freshness")
        .into_iter()
        .find(|d| (d.label == "postgres") == want_postgres)
        .expect("the database asked for");
    let calendar = if std::env::var("FRESHNESS_CALENDAR").as_deref() == Ok("outlook") {
        Calendar::Outlook(FakeGraph::start().await)
    } else {
        Calendar::Google(FakeGoogle::start().await)
    };
    let mut env = match &calendar {
        Calendar::Google(google) => support::google_env(google),
        Calendar::Outlook(graph) => support::graph_env(graph),
    };
    env.push(("PUSH_ALLOW_HTTP", "1".into()));
    env.push(("CALENDAR_SYNC_SECONDS", "86400".into()));
    let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
    let api = &server.api;
    let (expert, expert_token) = api.expert_with_hours().await;
    let horizon = api
        .put(
            &format!("/api/v1/experts/{expert}/booking-policy"),
            &expert_token,
            serde_json::json!({"booking_horizon_days": 365}),
        )
        .await;
    assert_eq!(horizon.status, 200, "{:?}", horizon.body);
    support::connect_oauth(api, &expert, &expert_token, calendar.integration()).await;
    let (_, client_token) = api.client_with_token().await;
    // The server opens its channel on its own.
    for _ in 0..200 {
        if calendar.listening() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(calendar.listening(), "no channel opened");

    let first: Date = next_monday().parse().unwrap();
    let mut times = Vec::with_capacity(rounds);
    let mut day = first;
    while times.len() < rounds {
        let (from, to) = (format!("{day}T00:00:00Z"), format!("{day}T23:59:00Z"));
        let free = api.slots(&expert, &client_token, &from, &to).await;
        for slot in free.iter().step_by(2) {
            if times.len() == rounds {
                break;
            }
            let started = calendar.busy_and_notify(&slot.0, &slot.1).await;
            loop {
                if !api.slots(&expert, &client_token, &from, &to).await.contains(slot) {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(10), "the slot never went");
            }
            times.push(started.elapsed());
        }
        day = day.checked_add(1.day()).unwrap();
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "freshness ({}, {}, {} rounds): min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        calendar.integration(),
        db.label,
        times.len(),
        ms(times[0]),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(times[times.len() - 1])
    );
    server.stop().await;
}

/// The expert's calendar and how it tells the server about a change.
enum Calendar {
    Google(FakeGoogle),
    Outlook(FakeGraph),
}

impl Calendar {
    fn integration(&self) -> &'static str {
        match self {
            Calendar::Google(_) => "google_calendar",
            Calendar::Outlook(_) => "office365_calendar",
        }
    }

    /// Whether the server's channel (or subscription) is open.
    fn listening(&self) -> bool {
        match self {
            Calendar::Google(google) => google.channels().iter().any(|c| !c.stopped),
            Calendar::Outlook(graph) => graph.subscriptions().iter().any(|s| !s.deleted),
        }
    }

    /// Adds a busy event over [start, end), then delivers the notification: the moment the
    /// delivery started.
    async fn busy_and_notify(&self, start: &str, end: &str) -> Instant {
        match self {
            Calendar::Google(google) => {
                google.seed_busy("primary", &[(start, end)]).unwrap();
                let started = Instant::now();
                let delivered = google.notify("primary").await;
                assert!(delivered.iter().any(|(_, s)| *s == 200), "{delivered:?}");
                started
            }
            Calendar::Outlook(graph) => {
                let event = graph.seed_schedule_item("busy", start, end).unwrap();
                let started = Instant::now();
                let delivered = graph.notify("created", &event).await;
                assert!(delivered.iter().any(|(_, s)| *s == 202), "{delivered:?}");
                started
            }
        }
    }
}

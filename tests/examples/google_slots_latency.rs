//! Measures end-to-end slot latency for a Google expert whose calendar answers in 50 ms: the real
//! server (in this process, over real HTTP) against the Google fake with 50 ms of latency, every
//! query on a different day so that no cached busy time stands in for Google.
//!
//! cargo run --release -p availability-tests --example google_slots_latency

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use provider_fakes::FakeGoogle;
use serde_json::json;
use support::{next_monday, TestDb, TestServer};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = TestDb {
        label: "sqlite",
        url: availability_store::testing::fresh_sqlite_url(),
    };
    let google = FakeGoogle::start().await;
    let (id, secret, auth, token, revoke, api_base) = (
        google.client_id(),
        google.client_secret(),
        google.auth_url(),
        google.token_url(),
        google.revoke_url(),
        google.api_base(),
    );
    let server = TestServer::start_with_env(
        &db,
        &[
            ("GOOGLE_CLIENT_ID", &id),
            ("GOOGLE_CLIENT_SECRET", &secret),
            ("GOOGLE_AUTH_URL", &auth),
            ("GOOGLE_TOKEN_URL", &token),
            ("GOOGLE_REVOKE_URL", &revoke),
            ("GOOGLE_API_BASE", &api_base),
        ],
    )
    .await;
    let api = &server.api;
    let (expert, expert_token) = api.expert_with_hours().await;
    let begun = support::begin_oauth(api, &expert, &expert_token, "google_calendar").await;
    let callback = support::consent(&begun.authorization_url).await;
    support::open_callback(&callback, Some(&begun.cookie)).await;
    api.put(
        &format!("/api/v1/experts/{expert}/integration"),
        &expert_token,
        json!({"integration_type": "google_calendar"}),
    )
    .await;
    let (_, client_token) = api.client_with_token().await;
    google.set_latency(Duration::from_millis(50));

    let monday: Timestamp = format!("{}T00:00:00Z", next_monday()).parse().unwrap();
    let mut times = Vec::new();
    for n in 0..40 {
        // A 7-day window starting on another day each time: a cache miss, one freeBusy call.
        let from = monday + SignedDuration::from_hours(24 * n);
        let to = from + SignedDuration::from_hours(24 * 7);
        let started = Instant::now();
        let a = api
            .get(
                &format!("/api/v1/experts/{expert}/slots?from={from}&to={to}"),
                &client_token,
            )
            .await;
        times.push(started.elapsed());
        assert_eq!(a.status, 200, "{:?}", a.body);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "slots of a Google expert, fake latency 50 ms, {} queries: min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        times.len(),
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100]),
        ms(times[times.len() - 1])
    );
    server.stop().await;
}

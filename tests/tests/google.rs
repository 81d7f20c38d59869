//! Google Calendar through the server, against the Google fake: connect with OAuth, slots minus
//! Google's busy time, bookings written as events (book, reschedule, cancel) by the outbox, token
//! expiry, rate limiting and revoked consent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use provider_fakes::google::ACCOUNT_EMAIL;
use provider_fakes::FakeGoogle;
use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer, ADMIN_TOKEN};

async fn start(db: &support::TestDb, google: &FakeGoogle) -> TestServer {
    let env = support::google_env(google);
    TestServer::start_with_env(db, &support::env_refs(&env)).await
}

async fn wait_synced(api: &Api, id: &str, token: &str) -> Value {
    for _ in 0..100 {
        let a = api.get(&format!("/api/v1/appointments/{id}"), token).await;
        if a.body["sync_status"] == "synced" {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("appointment {id} never synced");
}

fn live_events(google: &FakeGoogle) -> Vec<Value> {
    google
        .events("primary")
        .into_iter()
        .filter(|e| e["status"] != "cancelled")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_experts_book_into_their_calendar() {
    for db in databases("google_experts_book_into_their_calendar") {
        let google = FakeGoogle::start().await;
        let server = start(&db, &google).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_google(api, &expert, &expert_token).await;
        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), &expert_token)
            .await;
        assert_eq!(
            (list.body[0]["status"].as_str(), list.body[0]["account"].as_str()),
            (Some("connected"), Some(ACCOUNT_EMAIL))
        );
        assert_eq!(list.body[0]["active"], true);

        let day = next_monday();
        let (from, to) = (format!("{day}T00:00:00Z"), format!("{day}T23:59:00Z"));
        google
            .seed_busy("primary", &[(&format!("{day}T10:00:00Z"), &format!("{day}T11:00:00Z"))])
            .unwrap();
        let (client, client_token) = api.client_with_email("ann@example.com").await;
        let slots = api.slots(&expert, &client_token, &from, &to).await;
        let starts: Vec<&str> = slots.iter().map(|(s, _)| s.as_str()).collect();
        assert!(starts.contains(&format!("{day}T09:30:00Z").as_str()));
        assert!(
            !starts.iter().any(|s| s.starts_with(&format!("{day}T10:"))),
            "Google's busy hour blocks: {starts:?}"
        );

        // Book: confirmed at once, then written to Google as an event.
        let booked = api
            .post("/api/v1/appointments", &client_token, json!({"expert_id": expert, "client_id": client, "start_time": format!("{day}T09:00:00Z"), "end_time": format!("{day}T09:30:00Z")}))
            .await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        assert_eq!(booked.body["sync_status"], "pending");
        let id = booked.body["id"].as_str().unwrap().to_owned();
        let synced = wait_synced(api, &id, &client_token).await;
        let events = live_events(&google);
        let event = events
            .iter()
            .find(|e| e["id"] == synced["external_calendar_event_id"])
            .expect("the event is in Google");
        assert_eq!(event["extendedProperties"]["private"]["appointmentId"], id.as_str());
        assert_eq!(event["attendees"][0]["email"], "ann@example.com");
        // Google's own busy time from the booking is now in Google too; the slot stays taken.
        let slots = api.slots(&expert, &client_token, &from, &to).await;
        assert!(!slots.iter().any(|(s, _)| s == &format!("{day}T09:00:00Z")));

        // Reschedule moves the event; cancel removes it.
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": format!("{day}T13:00:00Z"), "end_time": format!("{day}T13:30:00Z")}),
            )
            .await;
        assert_eq!(moved.status, 200, "{:?}", moved.body);
        wait_synced(api, &id, &client_token).await;
        let event = live_events(&google)
            .into_iter()
            .find(|e| e["id"] == synced["external_calendar_event_id"])
            .unwrap();
        assert!(
            event["start"]["dateTime"].as_str().unwrap().contains("14:00:00+01:00")
                || event["start"]["dateTime"].as_str().unwrap().contains("13:00:00Z"),
            "{event}"
        );
        api.post(&format!("/api/v1/appointments/{id}/cancel"), &client_token, json!({}))
            .await;
        wait_synced(api, &id, &client_token).await;
        assert!(
            live_events(&google)
                .iter()
                .all(|e| e["id"] != synced["external_calendar_event_id"]),
            "{}",
            db.label
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_rate_limits_and_revoked_consent() {
    for db in databases("expiry_rate_limits_and_revoked_consent") {
        let google = FakeGoogle::start().await;
        let server = start(&db, &google).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_google(api, &expert, &expert_token).await;
        let (_, client_token) = api.client_with_token().await;
        let day = next_monday();
        let monday: availability_core::domain::jiff::Timestamp = format!("{day}T00:00:00Z").parse().unwrap();
        // Each check asks for another day, so that no cached answer (30 s) hides the provider.
        let path = |n: i64| {
            let from = monday + availability_core::domain::jiff::SignedDuration::from_hours(24 * n);
            let to = from + availability_core::domain::jiff::SignedDuration::from_hours(24);
            format!("/api/v1/experts/{expert}/slots?from={from}&to={to}")
        };

        // An expired access token is refreshed once and the answer is still right.
        google.expire_access_tokens();
        let a = api.get(&path(1), &client_token).await;
        assert_eq!(a.status, 200, "{}: {:?}", db.label, a.body);
        // Rate limited twice, then answered.
        google.throttle_next(2, 429);
        let a = api.get(&path(2), &client_token).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        google.throttle_next(1, 403);
        let a = api.get(&path(3), &client_token).await;
        assert_eq!(a.status, 200, "a rate-limit 403 is retried: {:?}", a.body);

        // Revoked consent: the next request says needs_reauth, and so does GET integrations.
        google.revoke_grant();
        google.expire_access_tokens();
        let a = api.get(&path(4), &client_token).await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (503, "needs_reauth"),
            "{}: {:?}",
            db.label,
            a.body
        );
        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), ADMIN_TOKEN)
            .await;
        assert_eq!(list.body[0]["status"], "needs_reauth", "{:?}", list.body);
        assert!(list.body[0]["last_error"].as_str().is_some() && list.body[0]["last_error_at"].as_str().is_some());
        // Reconnecting clears it.
        support::connect_google(api, &expert, &expert_token).await;
        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), ADMIN_TOKEN)
            .await;
        assert_eq!(list.body[0]["status"], "connected");
        assert_eq!(api.get(&path(5), &client_token).await.status, 200);
        // 500 events over 30 days cost one freeBusy round trip.
        let start = monday + availability_core::domain::jiff::SignedDuration::from_hours(24 * 10);
        let busy: Vec<(String, String)> = (0..500)
            .map(|i| {
                let s = start + availability_core::domain::jiff::SignedDuration::from_mins(i * 86);
                (
                    s.to_string(),
                    (s + availability_core::domain::jiff::SignedDuration::from_mins(20)).to_string(),
                )
            })
            .collect();
        let pairs: Vec<(&str, &str)> = busy.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        google.seed_busy("primary", &pairs).unwrap();
        let before = google.request_count("/calendar/v3/freeBusy");
        let to = start + availability_core::domain::jiff::SignedDuration::from_hours(30 * 24);
        let month = api
            .get(
                &format!("/api/v1/experts/{expert}/slots?from={start}&to={to}"),
                &client_token,
            )
            .await;
        assert_eq!(month.status, 200, "{:?}", month.body);
        assert_eq!(
            google.request_count("/calendar/v3/freeBusy") - before,
            1,
            "one freeBusy round trip for 30 days"
        );

        server.stop().await;
    }
}

//! Calendly through the server, against the Calendly fake: connecting with a personal access token
//! (refused token, event type rules), slots from Calendly's available times in span-sized calls,
//! synchronous bookings (already filled -> 409, nothing stored), cancelling, rescheduling refused,
//! and signed webhooks: bookings and cancellations made on Calendly's own pages show up here; a
//! forged, altered, stale or unsigned delivery changes nothing and is answered 401; the same
//! delivery twice changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use provider_fakes::calendly::Signature;
use provider_fakes::FakeCalendly;
use serde_json::json;
use support::{databases, next_monday, Api, TestServer, ADMIN_TOKEN};

const SIGNING_KEY: &str = "calendly-webhook-signing-key-for-tests";

async fn start(db: &support::TestDb, calendly: &FakeCalendly) -> TestServer {
    let base = calendly.api_base();
    TestServer::start_with_env(
        db,
        &[
            ("CALENDLY_API_BASE", &base),
            ("CALENDLY_WEBHOOK_SIGNING_KEY", SIGNING_KEY),
            ("CALENDLY_MAX_SPAN_DAYS", "7"),
        ],
    )
    .await
}

fn at(day: &str, hm: &str) -> String {
    format!("{day}T{hm}:00Z")
}

async fn appointments(api: &Api, expert: &str, day: &str) -> Vec<serde_json::Value> {
    let a = api
        .get(
            &format!(
                "/api/v1/experts/{expert}/appointments?from={}&to={}",
                at(day, "00:00"),
                at(day, "23:59")
            ),
            ADMIN_TOKEN,
        )
        .await;
    a.body["appointments"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendly_experts_book_through_calendly() {
    for db in databases("calendly_experts_book_through_calendly") {
        let calendly = FakeCalendly::start().await;
        let server = start(&db, &calendly).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let path = format!("/api/v1/experts/{expert}/integrations/calendly");

        let refused = api
            .put(
                &path,
                &expert_token,
                json!({"personal_access_token": "not-a-calendly-token"}),
            )
            .await;
        assert_eq!(
            (refused.status.as_u16(), refused.code()),
            (422, "invalid_token"),
            "{:?}",
            refused.body
        );
        let token = calendly.personal_access_token(&[]);
        let consult = calendly.add_event_type("Consult", 30);
        calendly.add_event_type("Intro", 15);
        let ambiguous = api
            .put(&path, &expert_token, json!({"personal_access_token": token}))
            .await;
        assert_eq!(
            (ambiguous.status.as_u16(), ambiguous.code()),
            (422, "event_type_required")
        );
        let unknown = api
            .put(
                &path,
                &expert_token,
                json!({"personal_access_token": token, "event_type_uri": "https://api.calendly.com/event_types/NOPE"}),
            )
            .await;
        assert_eq!((unknown.status.as_u16(), unknown.code()), (422, "unknown_event_type"));
        let ok = api
            .put(
                &path,
                &expert_token,
                json!({"personal_access_token": token, "event_type_uri": consult}),
            )
            .await;
        assert_eq!(ok.status, 200, "{:?}", ok.body);
        assert_eq!(
            calendly.webhook_subscriptions().len(),
            1,
            "connecting subscribes to webhooks"
        );
        let set = api
            .put(
                &format!("/api/v1/experts/{expert}/integration"),
                &expert_token,
                json!({"integration_type": "calendly"}),
            )
            .await;
        assert_eq!(set.status, 200, "{:?}", set.body);

        // Slots are Calendly's available times; 21 days are three calls of at most 7 days.
        let day = next_monday();
        calendly
            .seed_available_times(&consult, &[&at(&day, "09:00"), &at(&day, "09:30"), &at(&day, "10:00")])
            .unwrap();
        let (client, client_token) = api.client_with_token().await;
        let monday: Timestamp = at(&day, "00:00").parse().unwrap();
        let before = calendly.request_count("/event_type_available_times");
        let three_weeks = api
            .get(
                &format!(
                    "/api/v1/experts/{expert}/slots?from={monday}&to={}",
                    monday + SignedDuration::from_hours(21 * 24)
                ),
                &client_token,
            )
            .await;
        assert_eq!(three_weeks.status, 200, "{:?}", three_weeks.body);
        assert_eq!(calendly.request_count("/event_type_available_times") - before, 3);
        let starts: Vec<&str> = three_weeks.body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap())
            .collect();
        assert_eq!(starts, [at(&day, "09:00"), at(&day, "09:30"), at(&day, "10:00")]);
        let other = api
            .get(
                &format!(
                    "/api/v1/experts/{expert}/slots?from={monday}&to={}&duration_minutes=60",
                    monday + SignedDuration::from_hours(24)
                ),
                &client_token,
            )
            .await;
        assert_eq!(other.status, 422, "the duration is the event type's");

        // A booking is made on Calendly at once.
        let booked = api
            .post("/api/v1/appointments", &client_token, json!({"expert_id": expert, "client_id": client, "start_time": at(&day, "09:00"), "end_time": at(&day, "09:30")}))
            .await;
        assert_eq!(booked.status, 201, "{}: {:?}", db.label, booked.body);
        assert_eq!(booked.body["sync_status"], "synced");
        let invitee = booked.body["external_calendar_event_id"].as_str().unwrap().to_owned();
        assert!(invitee.contains("/invitees/"), "{invitee}");
        assert_eq!(calendly.invitees().len(), 1);

        // A slot someone took on Calendly meanwhile: 409, and nothing is stored.
        calendly
            .book_as_invitee(&consult, &at(&day, "09:30"), "Zoe", "zoe@example.com", "UTC")
            .unwrap();
        let taken = api
            .post("/api/v1/appointments", &client_token, json!({"expert_id": expert, "client_id": client, "start_time": at(&day, "09:30"), "end_time": at(&day, "10:00")}))
            .await;
        assert_eq!(
            (taken.status.as_u16(), taken.code()),
            (409, "slot_taken"),
            "{:?}",
            taken.body
        );
        assert_eq!(
            appointments(api, &expert, &day).await.len(),
            1,
            "nothing stored for the refused booking"
        );

        // Rescheduling is Calendly's own (the invitee's reschedule link): refused here, nothing changes.
        let id = booked.body["id"].as_str().unwrap();
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": at(&day, "10:00"), "end_time": at(&day, "10:30")}),
            )
            .await;
        assert_eq!(moved.status, 422, "{:?}", moved.body);
        // Cancel: cancelled here at once and on Calendly by the worker.
        let cancelled = api
            .post(&format!("/api/v1/appointments/{id}/cancel"), &client_token, json!({}))
            .await;
        assert_eq!(cancelled.body["status"], "cancelled");
        let mut gone = false;
        for _ in 0..50 {
            if calendly.scheduled_events().iter().any(|e| e["status"] == "canceled") {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "{}: the Calendly event is cancelled", db.label);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_verified_and_applied_once() {
    for db in databases("webhooks_are_verified_and_applied_once") {
        let calendly = FakeCalendly::start().await;
        let server = start(&db, &calendly).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let token = calendly.personal_access_token(&[]);
        let consult = calendly.add_event_type("Consult", 30);
        let ok = api
            .put(
                &format!("/api/v1/experts/{expert}/integrations/calendly"),
                &expert_token,
                json!({"personal_access_token": token}),
            )
            .await;
        assert_eq!(ok.status, 200, "the only active event type is chosen: {:?}", ok.body);
        let day = next_monday();
        calendly.seed_available_times(&consult, &[&at(&day, "11:00")]).unwrap();
        let url = format!("{}/webhooks/calendly", api.base);

        // Booked on Calendly's own page: forged, altered, stale and unsigned deliveries change nothing.
        let invitee = calendly
            .book_as_invitee(
                &consult,
                &at(&day, "11:00"),
                "Walk In",
                "walkin@example.com",
                "Europe/Berlin",
            )
            .unwrap();
        for bad in [
            Signature::WrongKey,
            Signature::AlteredBody,
            Signature::Stale,
            Signature::Missing,
        ] {
            let d = calendly
                .deliver_webhook(&url, SIGNING_KEY, "invitee.created", &invitee, bad)
                .await
                .unwrap();
            assert_eq!(d.status, 401, "{bad:?}: {}", d.response_body);
            assert!(d.response_body.contains("invalid_signature"));
        }
        assert!(appointments(api, &expert, &day).await.is_empty(), "{}", db.label);

        // A valid one creates the appointment (and the client, found by email); twice changes nothing.
        for _ in 0..2 {
            let d = calendly
                .deliver_webhook(&url, SIGNING_KEY, "invitee.created", &invitee, Signature::Valid)
                .await
                .unwrap();
            assert_eq!(d.status, 200, "{}", d.response_body);
        }
        let list = appointments(api, &expert, &day).await;
        assert_eq!(list.len(), 1, "{}: {list:?}", db.label);
        assert_eq!(list[0]["external_calendar_event_id"], invitee.as_str());
        assert_eq!(list[0]["start_time"], at(&day, "11:00"));
        assert_eq!(list[0]["status"], "confirmed");

        // Cancelled on Calendly: cancelled here; twice changes nothing.
        calendly.cancel_as_invitee(&invitee, "cannot make it").unwrap();
        for _ in 0..2 {
            let d = calendly
                .deliver_webhook(&url, SIGNING_KEY, "invitee.canceled", &invitee, Signature::Valid)
                .await
                .unwrap();
            assert_eq!(d.status, 200, "{}", d.response_body);
        }
        let list = appointments(api, &expert, &day).await;
        assert_eq!(
            (list.len(), list[0]["status"].as_str()),
            (1, Some("cancelled")),
            "{}",
            db.label
        );

        // Disconnecting removes the webhook subscription.
        let gone = api
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/experts/{expert}/integrations/calendly"),
                Some(&expert_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        assert!(
            calendly.webhook_subscriptions().is_empty(),
            "{:?}",
            calendly.webhook_subscriptions()
        );
        server.stop().await;
    }
}

//! Calendly through the server, against the Calendly fake: connecting with a personal access token
//! (refused token, event type rules) or with OAuth, slots from Calendly's available times in
//! span-sized calls, synchronous bookings (already filled -> 409, nothing stored), cancelling,
//! rescheduling refused, and signed webhooks: bookings and cancellations made on Calendly's own
//! pages show up here; a forged, altered, stale or unsigned delivery changes nothing and is
//! answered 401; the same delivery twice changes nothing. An account that may not book through
//! the API gets pending bookings: 202 with a single-use scheduling link, confirmed by the
//! invitee.created webhook of the booking the client makes there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use provider_fakes::calendly::Signature;
use provider_fakes::FakeCalendly;
use reqwest::redirect;
use serde_json::{json, Value};
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
            (list.len(), list[0]["status"].as_str(), list[0]["cancelled_by"].as_str()),
            (1, Some("cancelled"), Some("provider")),
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

/// An expert connected to the fake with a token (its only event type chosen) and on Calendly.
async fn calendly_expert(api: &Api, calendly: &FakeCalendly) -> (String, String, String) {
    let (expert, expert_token) = api.expert_with_hours().await;
    let consult = calendly.add_event_type("Consult", 30);
    let ok = api
        .put(
            &format!("/api/v1/experts/{expert}/integrations/calendly"),
            &expert_token,
            json!({"personal_access_token": calendly.personal_access_token(&[])}),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    set_integration(api, &expert, &expert_token, "calendly").await;
    (expert, expert_token, consult)
}

async fn set_integration(api: &Api, expert: &str, token: &str, integration: &str) {
    let set = api
        .put(
            &format!("/api/v1/experts/{expert}/integration"),
            token,
            json!({"integration_type": integration}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
}

async fn slot_starts(api: &Api, expert: &str, token: &str, day: &str) -> Vec<String> {
    api.slots(expert, token, &at(day, "00:00"), &at(day, "23:59"))
        .await
        .into_iter()
        .map(|(start, _)| start)
        .collect()
}

fn cancellations(calendly: &FakeCalendly) -> usize {
    calendly
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/cancellation"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_direct_booking_bookings_are_pending_until_calendly_confirms_them() {
    for db in databases("without_direct_booking_bookings_are_pending_until_calendly_confirms_them") {
        let calendly = FakeCalendly::start().await;
        let server = start(&db, &calendly).await;
        let api = &server.api;
        let (expert, _, consult) = calendly_expert(api, &calendly).await;
        let day = next_monday();
        calendly
            .seed_available_times(&consult, &[&at(&day, "09:00"), &at(&day, "09:30"), &at(&day, "10:00")])
            .unwrap();
        calendly.set_direct_booking(false);
        let (client, client_token) = api.client_with_email("ann@example.com").await;
        let booking = |start: &str, end: &str| json!({"expert_id": expert, "client_id": client, "start_time": at(&day, start), "end_time": at(&day, end)});

        // 202 with the link; nothing is booked on Calendly, and the time is still offered.
        let key = [("Idempotency-Key", "pending-booking-1")];
        let body = booking("09:00", "09:30");
        let accepted = api
            .call_with(
                reqwest::Method::POST,
                "/api/v1/appointments",
                Some(&client_token),
                Some(&body),
                &key,
            )
            .await;
        assert_eq!(accepted.status, 202, "{}: {:?}", db.label, accepted.body);
        let pending = accepted.body.clone();
        assert_eq!(pending["status"], "pending");
        assert_eq!(pending["calendar_type"], "calendly");
        assert_eq!(pending["external_calendar_event_id"], Value::Null);
        assert_eq!(pending["sync_status"], "not_applicable");
        assert_eq!(pending["start_time"], at(&day, "09:00"));
        let link = pending["scheduling_url"].as_str().unwrap().to_owned();
        assert!(link.starts_with(&format!("{}/d/", calendly.api_base())), "{link}");
        assert!(calendly.invitees().is_empty(), "nothing booked on Calendly");
        assert_eq!(calendly.scheduling_links().len(), 1);
        assert!(slot_starts(api, &expert, &client_token, &day)
            .await
            .contains(&at(&day, "09:00")));
        // The same key and body: the same answer, no second link.
        let replayed = api
            .call_with(
                reqwest::Method::POST,
                "/api/v1/appointments",
                Some(&client_token),
                Some(&body),
                &key,
            )
            .await;
        assert_eq!((replayed.status.as_u16(), &replayed.body), (202, &pending));
        assert_eq!(calendly.scheduling_links().len(), 1);

        let id = pending["id"].as_str().unwrap().to_owned();
        let got = api.get(&format!("/api/v1/appointments/{id}"), &client_token).await;
        assert_eq!((got.status.as_u16(), &got.body), (200, &pending));
        let list = |status: &'static str| {
            let api = api.clone();
            let (expert, day) = (expert.clone(), day.clone());
            async move {
                let a = api
                    .get(
                        &format!(
                            "/api/v1/experts/{expert}/appointments?from={}&to={}&status={status}",
                            at(&day, "00:00"),
                            at(&day, "23:59")
                        ),
                        ADMIN_TOKEN,
                    )
                    .await;
                assert_eq!(a.status, 200, "{:?}", a.body);
                a.body["appointments"].as_array().unwrap().clone()
            }
        };
        assert_eq!(list("pending").await, std::slice::from_ref(&pending));
        assert!(list("confirmed").await.is_empty());
        let clients = api
            .get(
                &format!(
                    "/api/v1/clients/{client}/appointments?from={}&status=pending",
                    at(&day, "00:00")
                ),
                &client_token,
            )
            .await;
        assert_eq!(clients.body["appointments"].as_array().map(Vec::len), Some(1));

        // Not booked yet, so not movable: a state conflict.
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": at(&day, "10:00"), "end_time": at(&day, "10:30")}),
            )
            .await;
        assert_eq!(
            (moved.status.as_u16(), moved.code()),
            (409, "conflict"),
            "{:?}",
            moved.body
        );
        assert!(moved.body["error"]["message"].as_str().unwrap().contains("pending"));

        // The client picks 09:30 on the link's page (their email in another case); the signed
        // webhook confirms the pending appointment with Calendly's invitee and time.
        let invitee = calendly
            .book_with_scheduling_link(&link, &at(&day, "09:30"), "Ann", "Ann@Example.com", "UTC")
            .unwrap();
        let url = format!("{}/webhooks/calendly", api.base);
        let delivered = calendly
            .deliver_webhook(&url, SIGNING_KEY, "invitee.created", &invitee, Signature::Valid)
            .await
            .unwrap();
        assert_eq!(delivered.status, 200, "{}", delivered.response_body);
        let confirmed = api.get(&format!("/api/v1/appointments/{id}"), &client_token).await.body;
        assert_eq!(confirmed["status"], "confirmed", "{}: {confirmed}", db.label);
        assert_eq!(confirmed["external_calendar_event_id"], invitee.as_str());
        assert_eq!(confirmed["start_time"], at(&day, "09:30"));
        assert_eq!(confirmed["end_time"], at(&day, "10:00"));
        assert_eq!(confirmed["scheduling_url"], Value::Null);
        assert_eq!(confirmed["sync_status"], "synced");
        assert_eq!(
            confirmed["client_id"],
            client.as_str(),
            "the client who booked, not a new one"
        );
        assert_eq!(
            appointments(api, &expert, &day).await.len(),
            1,
            "confirmed, not created"
        );
        assert!(!slot_starts(api, &expert, &client_token, &day)
            .await
            .contains(&at(&day, "09:30")));
        // The same delivery again changes nothing.
        let again = calendly
            .deliver_webhook(&url, SIGNING_KEY, "invitee.created", &invitee, Signature::Valid)
            .await
            .unwrap();
        assert_eq!(again.status, 200, "{}", again.response_body);
        assert_eq!(
            api.get(&format!("/api/v1/appointments/{id}"), &client_token).await.body,
            confirmed
        );
        assert_eq!(appointments(api, &expert, &day).await.len(), 1);

        // A pending appointment is cancelled here only: Calendly holds nothing for it.
        let second = api
            .post("/api/v1/appointments", &client_token, booking("09:00", "09:30"))
            .await;
        assert_eq!(second.status, 202, "{:?}", second.body);
        let second_id = second.body["id"].as_str().unwrap().to_owned();
        let before = cancellations(&calendly);
        for _ in 0..2 {
            let cancelled = api
                .post(
                    &format!("/api/v1/appointments/{second_id}/cancel"),
                    &client_token,
                    json!({}),
                )
                .await;
            assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
            assert_eq!(cancelled.body["status"], "cancelled");
            assert_eq!(cancelled.body["scheduling_url"], Value::Null);
            assert_eq!(cancelled.body["sync_status"], "not_applicable");
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            cancellations(&calendly),
            before,
            "no Calendly call for a pending appointment"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_booking_calendly_makes_over_a_confirmed_appointment_is_kept_not_lost() {
    for db in databases("a_pending_booking_calendly_makes_over_a_confirmed_appointment_is_kept_not_lost") {
        let calendly = FakeCalendly::start().await;
        let server = start(&db, &calendly).await;
        let api = &server.api;
        let (expert, expert_token, consult) = calendly_expert(api, &calendly).await;
        let day = next_monday();
        calendly
            .seed_available_times(&consult, &[&at(&day, "09:00"), &at(&day, "10:00"), &at(&day, "11:00")])
            .unwrap();
        let (client, client_token) = api.client_with_email("ann@example.com").await;
        // Confirmed appointments Calendly does not know: booked while the expert was on manual hours.
        set_integration(api, &expert, &expert_token, "manual").await;
        let mut manual = Vec::new();
        for hour in ["10", "11"] {
            let booked = api
                .post("/api/v1/appointments", &client_token, json!({"expert_id": expert, "client_id": client, "start_time": at(&day, &format!("{hour}:00")), "end_time": at(&day, &format!("{hour}:30"))}))
                .await;
            assert_eq!(booked.status, 201, "{:?}", booked.body);
            manual.push(booked.body);
        }
        set_integration(api, &expert, &expert_token, "calendly").await;
        calendly.set_direct_booking(false);
        let pending = api
            .post("/api/v1/appointments", &client_token, json!({"expert_id": expert, "client_id": client, "start_time": at(&day, "09:00"), "end_time": at(&day, "09:30")}))
            .await;
        assert_eq!(pending.status, 202, "{:?}", pending.body);
        let id = pending.body["id"].as_str().unwrap().to_owned();

        // Calendly offers 10:00 on the link's page and books it there.
        let link = pending.body["scheduling_url"].as_str().unwrap();
        let invitee = calendly
            .book_with_scheduling_link(link, &at(&day, "10:00"), "Ann", "ann@example.com", "UTC")
            .unwrap();
        let url = format!("{}/webhooks/calendly", api.base);
        for _ in 0..2 {
            let d = calendly
                .deliver_webhook(&url, SIGNING_KEY, "invitee.created", &invitee, Signature::Valid)
                .await
                .unwrap();
            assert_eq!(
                d.status, 200,
                "acknowledged, so that Calendly does not retry: {}",
                d.response_body
            );
        }
        // Kept with Calendly's booking, pending (the database holds one confirmed appointment per
        // time), and the clash shown; the confirmed appointment is untouched.
        let kept = api.get(&format!("/api/v1/appointments/{id}"), &client_token).await.body;
        assert_eq!(kept["status"], "pending", "{}: {kept}", db.label);
        assert_eq!(kept["external_calendar_event_id"], invitee.as_str());
        assert_eq!(kept["start_time"], at(&day, "10:00"));
        assert_eq!(kept["scheduling_url"], Value::Null, "the link is used");
        assert_eq!(kept["sync_status"], "failed");
        assert!(
            kept["sync_error"]
                .as_str()
                .unwrap()
                .contains("overlaps another confirmed appointment"),
            "{kept}"
        );
        let other = api
            .get(
                &format!("/api/v1/appointments/{}", manual[0]["id"].as_str().unwrap()),
                &client_token,
            )
            .await
            .body;
        assert_eq!(other["status"], "confirmed");
        assert_eq!(appointments(api, &expert, &day).await.len(), 3);

        // The same for a booking made on Calendly's own page over the 11:00 appointment: recorded,
        // pending, once however often it is delivered.
        let walk_in = calendly
            .book_as_invitee(&consult, &at(&day, "11:00"), "Walk In", "walkin@example.com", "UTC")
            .unwrap();
        for _ in 0..2 {
            let d = calendly
                .deliver_webhook(&url, SIGNING_KEY, "invitee.created", &walk_in, Signature::Valid)
                .await
                .unwrap();
            assert_eq!(d.status, 200, "{}", d.response_body);
        }
        let list = appointments(api, &expert, &day).await;
        let recorded: Vec<_> = list
            .iter()
            .filter(|a| a["external_calendar_event_id"] == walk_in.as_str())
            .collect();
        assert_eq!(recorded.len(), 1, "{}: {list:?}", db.label);
        assert_eq!(recorded[0]["status"], "pending");
        assert_eq!(recorded[0]["sync_status"], "failed");
        assert_eq!(recorded[0]["start_time"], at(&day, "11:00"));
        assert_ne!(recorded[0]["client_id"], client.as_str(), "the walk-in's own client");
        assert_eq!(list.len(), 4);

        // The expert resolves the 11:00 clash by cancelling the local appointment: the walk-in's
        // Calendly booking, held until now, is confirmed at once.
        let freed = api
            .post(
                &format!("/api/v1/appointments/{}/cancel", manual[1]["id"].as_str().unwrap()),
                &expert_token,
                json!({}),
            )
            .await;
        assert_eq!(freed.status, 200, "{:?}", freed.body);
        let walk_in_now = appointments(api, &expert, &day)
            .await
            .into_iter()
            .find(|a| a["external_calendar_event_id"] == walk_in.as_str())
            .unwrap();
        assert_eq!(
            (walk_in_now["status"].as_str(), walk_in_now["sync_status"].as_str()),
            (Some("confirmed"), Some("synced")),
            "{}: {walk_in_now}",
            db.label
        );
        assert_eq!(walk_in_now["sync_error"], Value::Null);
        // The 10:00 one still overlaps a confirmed appointment: still held.
        let still = api.get(&format!("/api/v1/appointments/{id}"), &client_token).await.body;
        assert_eq!(still["status"], "pending");

        // Cancelling it here cancels the booking on Calendly too.
        let cancelled = api
            .post(&format!("/api/v1/appointments/{id}/cancel"), &client_token, json!({}))
            .await;
        assert_eq!(cancelled.body["status"], "cancelled", "{:?}", cancelled.body);
        let mut gone = false;
        for _ in 0..50 {
            if calendly
                .invitees()
                .iter()
                .any(|i| i["uri"] == invitee.as_str() && i["status"] == "canceled")
            {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "{}: the Calendly booking is cancelled", db.label);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_calendly_with_oauth_through_the_server() {
    for db in databases("connecting_calendly_with_oauth_through_the_server") {
        let calendly = FakeCalendly::start().await;
        let (id, secret, auth, token, revoke, base) = (
            calendly.client_id(),
            calendly.client_secret(),
            calendly.auth_url(),
            calendly.token_url(),
            calendly.revoke_url(),
            calendly.api_base(),
        );
        let server = TestServer::start_with_env(
            &db,
            &[
                ("CALENDLY_CLIENT_ID", &id),
                ("CALENDLY_CLIENT_SECRET", &secret),
                ("CALENDLY_AUTH_URL", &auth),
                ("CALENDLY_TOKEN_URL", &token),
                ("CALENDLY_REVOKE_URL", &revoke),
                ("CALENDLY_API_BASE", &base),
                ("CALENDLY_WEBHOOK_SIGNING_KEY", SIGNING_KEY),
            ],
        )
        .await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let consult = calendly.add_event_type("Consult", 30);
        let no_redirects = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap();

        let begun = support::begin_oauth(api, &expert, &expert_token, "calendly").await;
        let url = reqwest::Url::parse(&begun.authorization_url).unwrap();
        assert!(url.as_str().starts_with(&calendly.auth_url()), "{url}");
        let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        assert_eq!(param("response_type").as_deref(), Some("code"));
        assert_eq!(param("client_id"), Some(id.clone()));
        assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(
            param("redirect_uri"),
            Some(format!("{}/oauth/calendly/callback", api.base))
        );
        assert!(param("state").unwrap().len() >= 22, "at least 128 bits");

        // The fake consents at once and sends the browser to our callback with its code.
        let consent = no_redirects.get(url.as_str()).send().await.unwrap();
        assert_eq!(consent.status(), 302);
        let callback = consent.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            callback.starts_with(&format!("{}/oauth/calendly/callback?", api.base)),
            "{callback}"
        );
        let done = support::open_callback(&callback, Some(&begun.cookie)).await;
        assert_eq!(done.status(), 303, "{}: {:?}", db.label, done.text().await);
        assert_eq!(
            done.headers()["location"],
            format!("/experts/{expert}/calendars?connected=calendly").as_str()
        );
        let exchange = calendly.token_requests().pop().unwrap();
        assert_eq!(exchange.param("grant_type"), Some("authorization_code"));
        assert_eq!(
            exchange.basic_auth,
            Some((id.clone(), secret.clone())),
            "Calendly's web clients authenticate with HTTP Basic"
        );
        assert!(exchange.param("code_verifier").is_some(), "PKCE");

        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), &expert_token)
            .await;
        assert_eq!(list.status, 200, "{:?}", list.body);
        let entry = list
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "calendly")
            .unwrap()
            .clone();
        assert_eq!(entry["status"], "connected", "{entry}");
        assert_eq!(entry["account"], "ada@calendly.example");
        assert!(
            !list.body.to_string().contains("access_token"),
            "never a token in an answer"
        );
        assert_eq!(
            calendly.webhook_subscriptions().len(),
            1,
            "connecting subscribes to webhooks"
        );
        // The state is single use.
        let replay = api.client.get(&callback).send().await.unwrap();
        assert_eq!(replay.status(), 400);

        // The OAuth grant serves the slots: Calendly's available times for the only event type.
        set_integration(api, &expert, &expert_token, "calendly").await;
        let day = next_monday();
        calendly.seed_available_times(&consult, &[&at(&day, "09:00")]).unwrap();
        assert_eq!(
            slot_starts(api, &expert, &expert_token, &day).await,
            [at(&day, "09:00")]
        );

        // Disconnecting removes the subscription and revokes the grant.
        let revokes = calendly.request_count("/oauth/revoke");
        let gone = api
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/experts/{expert}/integrations/calendly"),
                Some(&expert_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        assert!(calendly.webhook_subscriptions().is_empty());
        assert!(
            calendly.request_count("/oauth/revoke") > revokes,
            "the grant is revoked"
        );
        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), &expert_token)
            .await;
        assert!(list
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["type"] == "calendly" && i["status"] == "disconnected"));
        server.stop().await;
    }
}

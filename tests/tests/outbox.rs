//! The booking outbox end to end, with a small test calendar strategy: bookings of a calendar
//! expert are confirmed at once (sync_status pending) and written to the calendar by the worker;
//! a calendar that is down loses nothing (the job is retried, also across a restart); a revoked
//! grant is 503 needs_reauth for slots, never an empty calendar.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use availability_core::domain::{Appointment, CalendarType, Client, Expert, IntegrationType, Interval, Secret};
use availability_core::{AvailabilityStrategy, BusyTimeSource, CoreError, EventWriter, ExternalEvent};
use availability_store::crypto::Keyring;
use availability_store::Store;
use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer, ADMIN_TOKEN, ENCRYPTION_KEY};

/// The test calendar's integration type: a provider of this test's own.
const TEST_CALENDAR: IntegrationType = IntegrationType::from_static("test_calendar");

/// A calendar that keeps events in memory and can be taken down or have its grant revoked.
#[derive(Debug, Default)]
struct TestCalendar {
    events: Mutex<HashMap<String, (Interval, bool)>>,
    down: AtomicBool,
    revoked: AtomicBool,
}

impl TestCalendar {
    fn check(&self) -> Result<(), CoreError> {
        if self.revoked.load(Ordering::SeqCst) {
            return Err(CoreError::NeedsReauth {
                integration: TEST_CALENDAR,
                message: "invalid_grant".into(),
            });
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(CoreError::ProviderUnavailable {
                integration: TEST_CALENDAR,
                message: "503".into(),
            });
        }
        Ok(())
    }

    fn live_events(&self) -> Vec<Interval> {
        self.events
            .lock()
            .unwrap()
            .values()
            .filter(|(_, live)| *live)
            .map(|(i, _)| *i)
            .collect()
    }
}

impl AvailabilityStrategy for TestCalendar {
    fn integration_type(&self) -> IntegrationType {
        TEST_CALENDAR
    }
    fn display_name(&self) -> &'static str {
        "Test Calendar"
    }
    fn calendar_type(&self) -> Option<CalendarType> {
        Some(CalendarType::from_static("test_calendar"))
    }
    fn busy_time(&self) -> Option<&dyn BusyTimeSource> {
        Some(self)
    }
    fn event_writer(&self) -> Option<&dyn EventWriter> {
        Some(self)
    }
}

#[async_trait]
impl BusyTimeSource for TestCalendar {
    async fn busy_intervals(&self, _: &Expert, _: Interval) -> Result<Vec<Interval>, CoreError> {
        self.check()?;
        Ok(vec![])
    }
}

#[async_trait]
impl EventWriter for TestCalendar {
    async fn create_event(&self, _: &Expert, _: &Client, a: &Appointment) -> Result<ExternalEvent, CoreError> {
        self.check()?;
        // The appointment id is the idempotency key, like Google's client-chosen event id.
        let id = format!("evt{}", a.id.0.simple());
        self.events
            .lock()
            .unwrap()
            .insert(id.clone(), (a.interval().unwrap(), true));
        Ok(ExternalEvent::new(id))
    }
    async fn update_event(&self, _: &Expert, _: &Client, a: &Appointment) -> Result<ExternalEvent, CoreError> {
        self.check()?;
        let id = a.external_calendar_event_id.clone().unwrap();
        self.events
            .lock()
            .unwrap()
            .insert(id.clone(), (a.interval().unwrap(), true));
        Ok(ExternalEvent::new(id))
    }
    async fn delete_event(&self, _: &Expert, a: &Appointment) -> Result<(), CoreError> {
        self.check()?;
        let id = format!("evt{}", a.id.0.simple());
        if let Some(e) = self.events.lock().unwrap().get_mut(&id) {
            e.1 = false;
        }
        Ok(())
    }
}

/// An expert with hours, connected to the test calendar and using it.
async fn calendar_expert(api: &Api, db_url: &str) -> String {
    let (expert, _) = api.expert_with_hours().await;
    let store = Store::open(db_url)
        .await
        .unwrap()
        .with_keyring(Keyring::new(Some(ENCRYPTION_KEY), "").unwrap());
    let id = expert.parse().unwrap();
    store
        .connect_integration(
            id,
            TEST_CALENDAR,
            Secret::new("{}".into()),
            Some("e@gmail.com".into()),
            "{}".into(),
        )
        .await
        .unwrap();
    let set = api
        .put(
            &format!("/api/v1/experts/{expert}/integration"),
            ADMIN_TOKEN,
            json!({"integration_type": "test_calendar"}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    expert
}

async fn wait_for_sync(api: &Api, appointment: &str, token: &str, status: &str) -> Value {
    for _ in 0..100 {
        let a = api.get(&format!("/api/v1/appointments/{appointment}"), token).await;
        if a.body["sync_status"] == status {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("appointment {appointment} never reached sync_status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_are_confirmed_at_once_and_synced_by_the_worker() {
    for db in databases("bookings_are_confirmed_at_once_and_synced_by_the_worker") {
        let calendar = Arc::new(TestCalendar::default());
        let server = TestServer::start_with(&db, vec![support::provider_of(calendar.clone())]).await;
        let api = &server.api;
        let expert = calendar_expert(api, &db.url).await;
        let (client, token) = api.client_with_token().await;
        let day = next_monday();
        let body = json!({"expert_id": expert, "client_id": client, "start_time": format!("{day}T09:00:00Z"), "end_time": format!("{day}T09:30:00Z")});
        let booked = api.post("/api/v1/appointments", &token, body).await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        assert_eq!(
            (booked.body["status"].as_str(), booked.body["calendar_type"].as_str()),
            (Some("confirmed"), Some("test_calendar"))
        );
        let id = booked.body["id"].as_str().unwrap().to_owned();
        let synced = wait_for_sync(api, &id, &token, "synced").await;
        assert!(
            synced["external_calendar_event_id"]
                .as_str()
                .unwrap()
                .starts_with("evt"),
            "{}",
            db.label
        );
        assert_eq!(calendar.live_events().len(), 1);

        // Reschedule moves the event; cancel removes it.
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &token,
                json!({"start_time": format!("{day}T10:00:00Z"), "end_time": format!("{day}T10:30:00Z")}),
            )
            .await;
        assert_eq!(moved.status, 200, "{:?}", moved.body);
        wait_for_sync(api, &id, &token, "synced").await;
        assert_eq!(
            calendar.live_events()[0].start().to_string(),
            format!("{day}T10:00:00Z")
        );
        api.post(&format!("/api/v1/appointments/{id}/cancel"), &token, json!({}))
            .await;
        wait_for_sync(api, &id, &token, "synced").await;
        assert!(calendar.live_events().is_empty(), "{}", db.label);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_that_is_down_loses_no_booking_even_across_a_restart() {
    for db in databases("a_calendar_that_is_down_loses_no_booking_even_across_a_restart") {
        let calendar = Arc::new(TestCalendar::default());
        let server = TestServer::start_with(&db, vec![support::provider_of(calendar.clone())]).await;
        let expert = calendar_expert(&server.api, &db.url).await;
        let (client, token) = server.api.client_with_token().await;
        let day = next_monday();
        // Slots are seen while the calendar answers (the client saw them)...
        let slots = server
            .api
            .slots(
                &expert,
                &token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:00Z"),
            )
            .await;
        assert!(!slots.is_empty());
        // ...then it goes down: bookings are still confirmed at once.
        calendar.down.store(true, Ordering::SeqCst);
        let mut ids = Vec::new();
        for hour in ["09", "10", "11"] {
            let body = json!({"expert_id": expert, "client_id": client, "start_time": format!("{day}T{hour}:00:00Z"), "end_time": format!("{day}T{hour}:30:00Z")});
            let booked = server.api.post("/api/v1/appointments", &token, body).await;
            assert_eq!(booked.status, 201, "{}: {:?}", db.label, booked.body);
            assert_eq!(booked.body["sync_status"], "pending");
            ids.push(booked.body["id"].as_str().unwrap().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(calendar.live_events().is_empty());
        server.stop().await;

        // A new server on the same database resumes the queued jobs once the calendar is back.
        calendar.down.store(false, Ordering::SeqCst);
        let again = TestServer::start_with(&db, vec![support::provider_of(calendar.clone())]).await;
        for id in &ids {
            wait_for_sync(&again.api, id, &token, "synced").await;
        }
        assert_eq!(calendar.live_events().len(), 3, "{}", db.label);
        again.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_is_needs_reauth_never_an_empty_calendar() {
    for db in databases("a_revoked_grant_is_needs_reauth_never_an_empty_calendar") {
        let calendar = Arc::new(TestCalendar::default());
        let server = TestServer::start_with(&db, vec![support::provider_of(calendar.clone())]).await;
        let expert = calendar_expert(&server.api, &db.url).await;
        let (_, token) = server.api.client_with_token().await;
        calendar.revoked.store(true, Ordering::SeqCst);
        let day = next_monday();
        let a = server
            .api
            .get(
                &format!("/api/v1/experts/{expert}/slots?from={day}T00:00:00Z&to={day}T23:59:00Z"),
                &token,
            )
            .await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (503, "needs_reauth"),
            "{}: {:?}",
            db.label,
            a.body
        );
        calendar.revoked.store(false, Ordering::SeqCst);
        calendar.down.store(true, Ordering::SeqCst);
        let a = server
            .api
            .get(
                &format!("/api/v1/experts/{expert}/slots?from={day}T00:00:00Z&to={day}T23:59:00Z"),
                &token,
            )
            .await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (503, "provider_unavailable"),
            "{}",
            db.label
        );
        // GET integrations lists all three, the connected one with its account.
        let list = server
            .api
            .get(&format!("/api/v1/experts/{expert}/integrations"), ADMIN_TOKEN)
            .await;
        let types: Vec<&str> = list
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        // Every registered provider with something to connect, the test's own last.
        assert_eq!(
            types,
            [
                "google_calendar",
                "office365_calendar",
                "calendly",
                "caldav",
                "test_calendar"
            ]
        );
        assert_eq!(list.body[4]["status"], "connected");
        assert_eq!(list.body[4]["account"], "e@gmail.com");
        assert_eq!(list.body[0]["status"], "disconnected");
        // Disconnect falls back to manual: slots come from the hours again.
        let d = server
            .api
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/experts/{expert}/integrations/test_calendar"),
                Some(ADMIN_TOKEN),
                None,
            )
            .await;
        assert_eq!(d.status, 204);
        let e = server.api.get(&format!("/api/v1/experts/{expert}"), &token).await;
        assert_eq!(e.body["integration_type"], "manual");
        let a = server
            .api
            .get(
                &format!("/api/v1/experts/{expert}/slots?from={day}T00:00:00Z&to={day}T23:59:00Z"),
                &token,
            )
            .await;
        assert_eq!(a.status, 200);
        server.stop().await;
    }
}

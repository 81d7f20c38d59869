//! The webhook outbox on a real SQLite file always, and on PostgreSQL when TEST_DATABASE_URL is
//! set: an event's deliveries are written in the transaction of the change (a change that fails
//! leaves none, and a delivery that cannot be written undoes the change), claimed with leases,
//! and one appointment's events are handed out in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{CancelledBy, DayOfWeek, IntegrationType, Interval, NewAppointment, WeeklyRule, Zone};
use availability_core::{AppointmentRepository, BookingGuard, CoreError};
use availability_store::crypto::Keyring;
use availability_store::{testing, AttemptOutcome, DeliveryStatus, Store};

/// (label, url) of each database to run on.
fn databases(test: &str) -> Vec<(&'static str, String)> {
    let mut list = vec![("sqlite", testing::fresh_sqlite_url())];
    match testing::test_database_url() {
        Some(base) => list.push(("postgres", testing::fresh_postgres_schema(&base).unwrap())),
        None => testing::skip_postgres(test),
    }
    list
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn guard() -> BookingGuard {
    BookingGuard {
        external_busy: vec![],
        now: ts("2026-02-20T00:00:00Z"),
        integration: IntegrationType::MANUAL,
        calendar_type: None,
        meeting_url: None,
        meeting_error: None,
        hold: None,
    }
}

async fn booking(store: &Store) -> NewAppointment {
    let expert = store
        .create_expert("Dr. W".into(), "w@example.com".into(), Zone::utc())
        .await
        .unwrap();
    let rules = (1..=5)
        .map(|d| {
            WeeklyRule::new(
                DayOfWeek::new(d).unwrap(),
                "09:00".parse().unwrap(),
                "17:00".parse().unwrap(),
                true,
            )
            .unwrap()
        })
        .collect();
    store.replace_schedule(expert.id, rules, vec![], None).await.unwrap();
    let client = store
        .create_client("Ann".into(), "ann@example.com".into(), Zone::utc())
        .await
        .unwrap();
    NewAppointment {
        expert_id: expert.id,
        client_id: client.id,
        time: Interval::new(ts("2026-02-23T09:00:00Z"), ts("2026-02-23T09:30:00Z")).unwrap(),
    }
}

#[tokio::test]
async fn deliveries_are_written_in_the_transaction_of_the_change() {
    for (label, url) in databases("deliveries_are_written_in_the_transaction_of_the_change") {
        let store = Store::open(&url).await.unwrap().with_keyring(Keyring::for_testing());
        let (endpoint, secret) = store
            .create_webhook_endpoint(
                "https://hooks.example.com/in".into(),
                vec!["appointment.created".into(), "appointment.cancelled".into()],
            )
            .await
            .unwrap();
        assert!(secret.expose().starts_with("whsec_"), "{label}");
        // A disabled endpoint gets nothing, whatever it subscribes to.
        let (off, _) = store
            .create_webhook_endpoint("https://off.example.com/in".into(), vec!["appointment.created".into()])
            .await
            .unwrap();
        store
            .update_webhook_endpoint(
                off.id.clone(),
                availability_store::EndpointPatch {
                    enabled: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap();

        let new = booking(&store).await;
        let booked = store.book(new.clone(), guard()).await.unwrap();
        let log = store.webhook_deliveries(endpoint.id.clone(), 50).await.unwrap();
        assert_eq!(log.len(), 1, "{label}");
        assert_eq!(
            (log[0].event_type.as_str(), log[0].status, log[0].attempts),
            ("appointment.created", DeliveryStatus::Pending, 0),
            "{label}"
        );
        assert_eq!(log[0].appointment_id, Some(booked.id.to_string()), "{label}");
        assert!(store.webhook_deliveries(off.id.clone(), 50).await.unwrap().is_empty());

        // A change that is refused writes no event.
        assert_eq!(
            store.book(new.clone(), guard()).await.unwrap_err(),
            CoreError::SlotTaken
        );
        assert_eq!(
            store.webhook_deliveries(endpoint.id.clone(), 50).await.unwrap().len(),
            1
        );

        // A delivery that cannot be written undoes the change: they are one transaction.
        let refuse = match label {
            "sqlite" => {
                "CREATE TRIGGER refuse_cancel_events BEFORE INSERT ON webhook_deliveries \
                         WHEN NEW.event_type = 'appointment.cancelled' \
                         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
            }
            _ => {
                "ALTER TABLE webhook_deliveries ADD CONSTRAINT refuse_cancel_events \
                  CHECK (event_type <> 'appointment.cancelled')"
            }
        };
        testing::execute_sql(&url, refuse).unwrap();
        assert!(
            store.cancel(booked.id, CancelledBy::Client, None).await.is_err(),
            "{label}"
        );
        let still = store.appointment(booked.id).await.unwrap();
        assert!(
            still.is_confirmed(),
            "{label}: the cancel was rolled back with its event"
        );
        let undo = match label {
            "sqlite" => "DROP TRIGGER refuse_cancel_events",
            _ => "ALTER TABLE webhook_deliveries DROP CONSTRAINT refuse_cancel_events",
        };
        testing::execute_sql(&url, undo).unwrap();
        let cancelled = store
            .cancel(booked.id, CancelledBy::Client, Some("ill".into()))
            .await
            .unwrap();
        assert!(!cancelled.is_confirmed());
        let log = store.webhook_deliveries(endpoint.id.clone(), 50).await.unwrap();
        let types: Vec<&str> = log.iter().map(|d| d.event_type.as_str()).collect();
        assert_eq!(
            types,
            ["appointment.cancelled", "appointment.created"],
            "{label}: newest first"
        );
        // Cancelling again changes nothing and says nothing.
        store.cancel(booked.id, CancelledBy::Client, None).await.unwrap();
        assert_eq!(
            store.webhook_deliveries(endpoint.id.clone(), 50).await.unwrap().len(),
            2
        );
    }
}

#[tokio::test]
async fn an_appointments_events_are_claimed_in_order_with_leases() {
    for (label, url) in databases("an_appointments_events_are_claimed_in_order_with_leases") {
        let store = Store::open(&url).await.unwrap().with_keyring(Keyring::for_testing());
        let (endpoint, secret) = store
            .create_webhook_endpoint(
                "http://127.0.0.1:9/in".into(),
                vec!["appointment.created".into(), "appointment.rescheduled".into()],
            )
            .await
            .unwrap();
        let new = booking(&store).await;
        let booked = store.book(new, guard()).await.unwrap();
        let later = Interval::new(ts("2026-02-23T10:00:00Z"), ts("2026-02-23T10:30:00Z")).unwrap();
        store.reschedule(booked.id, later, guard()).await.unwrap();

        // Only the earlier event is handed out while it is undelivered.
        let first = store.claim_webhook_deliveries(10).await.unwrap();
        assert_eq!(first.len(), 1, "{label}");
        assert_eq!(first[0].event_type, "appointment.created");
        assert_eq!(
            first[0].secret.expose(),
            secret.expose(),
            "{label}: decrypted for signing"
        );
        assert!(first[0].payload.contains(&booked.id.to_string()));
        // Leased: no other worker gets it, and the later event still waits.
        assert!(store.claim_webhook_deliveries(10).await.unwrap().is_empty(), "{label}");

        // A failed attempt keeps the order: the later event still waits for the retry.
        let claim = first.into_iter().next().unwrap();
        store
            .finish_webhook_delivery(
                claim,
                AttemptOutcome::Retry {
                    error: "the receiver answered 503".into(),
                    status_code: Some(503),
                    response: Some("busy".into()),
                    retry_in: 0,
                },
            )
            .await
            .unwrap();
        let again = store.claim_webhook_deliveries(10).await.unwrap();
        assert_eq!(again.len(), 1, "{label}");
        assert_eq!(
            (again[0].event_type.as_str(), again[0].attempts),
            ("appointment.created", 2)
        );
        let claim = again.into_iter().next().unwrap();
        store
            .finish_webhook_delivery(
                claim,
                AttemptOutcome::Delivered {
                    status_code: 204,
                    response: String::new(),
                },
            )
            .await
            .unwrap();
        let next = store.claim_webhook_deliveries(10).await.unwrap();
        assert_eq!(next.len(), 1, "{label}");
        assert_eq!(next[0].event_type, "appointment.rescheduled");
        assert_ne!(next[0].webhook_id, "", "{label}");

        let log = store.webhook_deliveries(endpoint.id.clone(), 50).await.unwrap();
        let created = log.iter().find(|d| d.event_type == "appointment.created").unwrap();
        assert_eq!(created.status, DeliveryStatus::Delivered);
        assert_eq!(created.last_status_code, Some(204));
        assert!(created.delivered_at.is_some() && created.next_attempt_at.is_none());
        assert_eq!(store.pending_webhook_deliveries().await.unwrap(), 1, "{label}");
        // Housekeeping forgets finished deliveries older than a month (these events are dated
        // 2026-02-20, the guard's "now"), never a pending one.
        assert_eq!(store.purge_webhook_deliveries().await.unwrap(), 1, "{label}");
        let left = store.webhook_deliveries(endpoint.id.clone(), 50).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].event_type, "appointment.rescheduled");
    }
}

#[tokio::test]
async fn integration_changes_and_confirmations_are_events_too() {
    use availability_core::domain::{Appointment, AppointmentId, AppointmentStatus, CalendarType, Secret, SyncStatus};
    use availability_core::IntegrationRepository;

    for (label, url) in databases("integration_changes_and_confirmations_are_events_too") {
        let store = Store::open(&url).await.unwrap().with_keyring(Keyring::for_testing());
        let all: Vec<String> = availability_store::WebhookEvent::ALL
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect();
        let (endpoint, _) = store
            .create_webhook_endpoint("https://hooks.example.com/in".into(), all)
            .await
            .unwrap();
        let new = booking(&store).await;
        let calendly = IntegrationType::from_static("calendly");
        store
            .connect_integration(
                new.expert_id,
                calendly,
                Secret::new("pat".into()),
                Some("ada@example.com".into()),
                "{}".into(),
            )
            .await
            .unwrap();
        // Only the change of status is an event, not every failing call after it.
        store
            .mark_needs_reauth(new.expert_id, calendly, "invalid_grant")
            .await
            .unwrap();
        store
            .mark_needs_reauth(new.expert_id, calendly, "invalid_grant")
            .await
            .unwrap();
        store.disconnect_integration(new.expert_id, calendly).await.unwrap();
        store.disconnect_integration(new.expert_id, calendly).await.unwrap();

        // A scheduler's pending booking, then confirmed when the provider reports it.
        let now = Timestamp::now();
        let pending = Appointment {
            id: AppointmentId::new(),
            expert_id: new.expert_id,
            client_id: new.client_id,
            start_time: new.time.start(),
            end_time: new.time.end(),
            status: AppointmentStatus::Pending,
            calendar_type: Some(CalendarType::from_static("calendly")),
            external_calendar_event_id: None,
            scheduling_url: Some("https://calendly.example/s/1".into()),
            sync_status: SyncStatus::NotApplicable,
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: None,
            meeting_error: None,
            series_id: None,
            created_at: now,
            updated_at: now,
        };
        store.record_pending(pending.clone()).await.unwrap();
        store
            .confirm_pending(
                pending.id,
                "https://api.calendly.example/invitees/1".into(),
                new.time,
                now,
            )
            .await
            .unwrap();

        let log = store.webhook_deliveries(endpoint.id.clone(), 50).await.unwrap();
        let mut types: Vec<&str> = log.iter().map(|d| d.event_type.as_str()).collect();
        types.reverse();
        assert_eq!(
            types,
            [
                "integration.connected",
                "integration.needs_reauth",
                "integration.disconnected",
                "appointment.created",
                "appointment.confirmed"
            ],
            "{label}"
        );
        let claimed = store.claim_webhook_deliveries(10).await.unwrap();
        let body = |kind: &str| -> serde_json::Value {
            let d = claimed.iter().find(|d| d.event_type == kind).unwrap();
            serde_json::from_str(&d.payload).unwrap()
        };
        let reauth = body("integration.needs_reauth");
        assert_eq!(reauth["type"], "integration.needs_reauth");
        assert_eq!(reauth["data"]["integration"]["status"], "needs_reauth", "{label}");
        assert_eq!(reauth["data"]["integration"]["type"], "calendly");
        assert_eq!(reauth["data"]["integration"]["expert_id"], new.expert_id.to_string());
        assert_eq!(
            body("integration.disconnected")["data"]["integration"]["status"],
            "disconnected"
        );
        // The confirmation waits for the creation of the same appointment (in order).
        assert!(
            claimed.iter().all(|d| d.event_type != "appointment.confirmed"),
            "{label}"
        );
        let created = body("appointment.created");
        assert_eq!(created["data"]["appointment"]["status"], "pending");
        assert_eq!(created["data"]["appointment"]["id"], pending.id.to_string());
    }
}

#[tokio::test]
async fn endpoint_secrets_are_reencrypted_with_the_credentials() {
    let url = testing::fresh_sqlite_url();
    let old_key = "00".repeat(32);
    let new_key = "11".repeat(32);
    let store = Store::open(&url)
        .await
        .unwrap()
        .with_keyring(Keyring::new(Some(&old_key), "").unwrap());
    let (_, secret) = store
        .create_webhook_endpoint(
            "https://hooks.example.com/in".into(),
            vec!["appointment.created".into()],
        )
        .await
        .unwrap();
    let new = booking(&store).await;
    store.book(new, guard()).await.unwrap();

    let rotated = Store::open(&url)
        .await
        .unwrap()
        .with_keyring(Keyring::new(Some(&new_key), &old_key).unwrap());
    let (rewritten, failed) = rotated.reencrypt_credentials().await.unwrap();
    assert_eq!((rewritten, failed.len()), (1, 0));
    // Only the new key from now on: the secret still opens for signing.
    let only_new = Store::open(&url)
        .await
        .unwrap()
        .with_keyring(Keyring::new(Some(&new_key), "").unwrap());
    let claimed = only_new.claim_webhook_deliveries(10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].secret.expose(), secret.expose());
}

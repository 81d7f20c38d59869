//! iCalendar's part of the store, on SQLite and PostgreSQL: an appointment's SEQUENCE rises with
//! each change of its time or status (kept by the migration's trigger, whatever writes), and not
//! with sync bookkeeping; the feed lists confirmed and pending appointments from a point on; a
//! feed secret is kept only as a hash, and rotating or turning it off retires the old one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{
    AppointmentStatus, DayOfWeek, ExpertId, IntegrationType, Interval, NewAppointment, SyncStatus, WeeklyRule, Zone,
};
use availability_core::{AppointmentRepository, BookingGuard};
use availability_store::{testing, Store, StoreError};

async fn stores(test: &str) -> Vec<(&'static str, Store)> {
    let mut list = vec![("sqlite", Store::open(&testing::fresh_sqlite_url()).await.unwrap())];
    match testing::test_database_url() {
        Some(base) => list.push((
            "postgres",
            Store::open(&testing::fresh_postgres_schema(&base).unwrap())
                .await
                .unwrap(),
        )),
        None => testing::skip_postgres(test),
    }
    list
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn slot(start: &str) -> Interval {
    let start = ts(start);
    Interval::new(
        start,
        start + availability_core::domain::jiff::SignedDuration::from_mins(30),
    )
    .unwrap()
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

#[tokio::test]
async fn sequence_rises_with_each_change_and_the_feed_secret_is_a_hash() {
    for (label, store) in stores("the iCalendar store").await {
        let expert = store
            .create_expert(
                "Dr. Ics".into(),
                "ics@example.com".into(),
                Zone::new("Europe/Berlin").unwrap(),
            )
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
            .create_client("Zoë; 🦀".into(), "zoe@example.com".into(), Zone::utc())
            .await
            .unwrap();
        let book = |time| NewAppointment {
            expert_id: expert.id,
            client_id: client.id,
            time,
        };
        let a = AppointmentRepository::book(&store, book(slot("2026-03-02T09:00:00Z")), guard())
            .await
            .unwrap();
        let sequence = |id| {
            let store = store.clone();
            async move { store.calendar_entry(id).await.unwrap().sequence }
        };
        let entry = store.calendar_entry(a.id).await.unwrap();
        assert_eq!(
            (entry.sequence, entry.expert_name.as_str(), entry.client_name.as_str()),
            (0, "Dr. Ics", "Zoë; 🦀"),
            "{label}"
        );

        AppointmentRepository::reschedule(&store, a.id, slot("2026-03-02T10:00:00Z"), guard())
            .await
            .unwrap();
        assert_eq!(sequence(a.id).await, 1, "{label}: a reschedule");
        // Sync bookkeeping is not a change a calendar shows.
        AppointmentRepository::record_sync(&store, a.id, Some("ext-1".into()), SyncStatus::Synced)
            .await
            .unwrap();
        assert_eq!(sequence(a.id).await, 1, "{label}: sync bookkeeping");

        let b = AppointmentRepository::book(&store, book(slot("2026-03-03T09:00:00Z")), guard())
            .await
            .unwrap();
        let gone = AppointmentRepository::book(&store, book(slot("2026-03-04T09:00:00Z")), guard())
            .await
            .unwrap();
        AppointmentRepository::cancel(
            &store,
            gone.id,
            availability_core::domain::CancelledBy::Expert,
            Some("no".into()),
        )
        .await
        .unwrap();
        assert_eq!(sequence(gone.id).await, 1, "{label}: a cancel");
        AppointmentRepository::cancel(&store, gone.id, availability_core::domain::CancelledBy::Expert, None)
            .await
            .unwrap();
        assert_eq!(sequence(gone.id).await, 1, "{label}: cancelling again changes nothing");
        assert_eq!(
            store.calendar_entry(gone.id).await.unwrap().appointment.status,
            AppointmentStatus::Cancelled
        );

        // The feed: confirmed (and pending) appointments ending after `since`, by start; not the
        // cancelled one, nor what ended before.
        let feed = store.feed_entries(expert.id, ts("2026-03-01T00:00:00Z")).await.unwrap();
        let ids: Vec<_> = feed.iter().map(|e| e.appointment.id).collect();
        assert_eq!(ids, vec![a.id, b.id], "{label}");
        assert_eq!(feed[0].sequence, 1);
        let later = store.feed_entries(expert.id, ts("2026-03-02T23:00:00Z")).await.unwrap();
        assert_eq!(later.iter().map(|e| e.appointment.id).collect::<Vec<_>>(), vec![b.id]);
        assert!(store
            .feed_entries(ExpertId::new(), ts("2026-01-01T00:00:00Z"))
            .await
            .unwrap()
            .is_empty());

        // The feed secret: off at first; 256 bits; only its hash is stored; rotation and off
        // retire it.
        assert!(!store.ics_feed_secret_matches(expert.id, "".into()).await.unwrap());
        let first = store.rotate_ics_feed(expert.id).await.unwrap();
        assert_eq!(first.len(), 64);
        assert!(store.ics_feed_secret_matches(expert.id, first.clone()).await.unwrap());
        let stored = testing::stored_ics_feed(&store, expert.id).await.unwrap();
        assert_ne!(
            stored.as_deref(),
            Some(first.as_str()),
            "{label}: never the secret itself"
        );
        assert_eq!(stored.map(|h| h.len()), Some(64), "{label}: its SHA-256");
        assert!(!store
            .ics_feed_secret_matches(ExpertId::new(), first.clone())
            .await
            .unwrap());
        let second = store.rotate_ics_feed(expert.id).await.unwrap();
        assert_ne!(first, second);
        assert!(
            !store.ics_feed_secret_matches(expert.id, first).await.unwrap(),
            "{label}"
        );
        assert!(store.ics_feed_secret_matches(expert.id, second.clone()).await.unwrap());
        store.disable_ics_feed(expert.id).await.unwrap();
        assert!(!store.ics_feed_secret_matches(expert.id, second).await.unwrap());
        assert!(matches!(
            store.rotate_ics_feed(ExpertId::new()).await,
            Err(StoreError::NotFound { what: "expert", .. })
        ));
    }
}

//! AvailabilityService over the in-memory store with the manual strategy: what is shown can be
//! booked, what is not shown cannot, and concurrent bookings of one slot give exactly one winner.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    AppointmentStatus, BookingPolicy, CancelledBy, Client, ClientId, DayOfWeek, Expert, ExpertId, IntegrationType,
    Interval, NewAppointment, Schedule, SyncStatus, WeeklyRule, Zone,
};
use availability_core::{AvailabilityService, CoreError, FixedClock, InMemoryStore, StrategyRegistry};
use provider_manual::ManualStrategy;

struct World {
    service: AvailabilityService,
    store: Arc<InMemoryStore>,
    expert: ExpertId,
    client: ClientId,
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn world(policy: BookingPolicy) -> World {
    let store = Arc::new(InMemoryStore::new());
    let zone = Zone::new("Europe/Berlin").unwrap();
    let expert = Expert {
        id: ExpertId::new(),
        name: "Dr. Berlin".into(),
        email: "dr@example.com".into(),
        timezone: zone.clone(),
        integration_type: IntegrationType::MANUAL,
        booking_policy: policy,
    };
    let client = Client {
        id: ClientId::new(),
        name: "Ann".into(),
        email: "ann@example.com".into(),
        timezone: Zone::utc(),
    };
    let rules = (1..=5)
        .map(|d| {
            WeeklyRule::new(
                DayOfWeek::new(d).unwrap(),
                "09:00".parse().unwrap(),
                "12:00".parse().unwrap(),
                true,
            )
            .unwrap()
        })
        .collect();
    store.put_schedule(expert.id, Schedule::new(zone, rules, vec![]).unwrap());
    let (expert_id, client_id) = (expert.id, client.id);
    store.put_expert(expert);
    store.put_client(client);
    let service = AvailabilityService::new(
        store.clone(),
        store.clone(),
        StrategyRegistry::new().with(Arc::new(ManualStrategy)),
    )
    .with_clock(Arc::new(FixedClock::new(ts("2026-03-01T12:00:00Z"))));
    World {
        service,
        store,
        expert: expert_id,
        client: client_id,
    }
}

fn new(w: &World, start: &str, minutes: i64) -> NewAppointment {
    let start = ts(start);
    NewAppointment {
        expert_id: w.expert,
        client_id: w.client,
        time: Interval::new(start, start + SignedDuration::from_mins(minutes)).unwrap(),
    }
}

const MONDAY: (&str, &str) = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");

#[tokio::test]
async fn a_shown_slot_books_disappears_and_comes_back_after_cancelling() {
    let w = world(BookingPolicy::default());
    let slots = w
        .service
        .slots(w.expert, ts(MONDAY.0), ts(MONDAY.1), None)
        .await
        .unwrap();
    assert_eq!(slots.len(), 6);
    let pick = slots[2];
    let booked = w.service.book(new(&w, &pick.start.to_string(), 30)).await.unwrap();
    assert_eq!(booked.status, AppointmentStatus::Confirmed);
    assert_eq!(booked.sync_status, SyncStatus::NotApplicable);
    assert_eq!(booked.calendar_type, None);

    let after = w
        .service
        .slots(w.expert, ts(MONDAY.0), ts(MONDAY.1), None)
        .await
        .unwrap();
    assert_eq!(after.len(), 5);
    assert!(!after.contains(&pick));

    let again = w.service.book(new(&w, &pick.start.to_string(), 30)).await;
    assert_eq!(again.unwrap_err(), CoreError::SlotTaken);

    let cancelled = w
        .service
        .cancel(booked.id, CancelledBy::Client, Some("ill".into()))
        .await
        .unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert_eq!(
        w.service
            .cancel(booked.id, CancelledBy::Client, None)
            .await
            .unwrap()
            .status,
        AppointmentStatus::Cancelled
    );
    let back = w
        .service
        .slots(w.expert, ts(MONDAY.0), ts(MONDAY.1), None)
        .await
        .unwrap();
    assert_eq!(back, slots);
}

#[tokio::test]
async fn a_time_not_shown_is_refused() {
    let w = world(BookingPolicy::default());
    for (start, minutes) in [
        ("2026-03-02T08:10:00Z", 30), // off the grid
        ("2026-03-02T11:00:00Z", 30), // after hours
        ("2026-03-01T08:00:00Z", 30), // Sunday
        ("2026-03-02T10:30:00Z", 60), // runs past the window's end
    ] {
        let got = w.service.book(new(&w, start, minutes)).await;
        assert!(matches!(got, Err(CoreError::SlotUnavailable(_))), "{start}: {got:?}");
    }
    assert!(
        w.store.appointments_of(w.expert).is_empty(),
        "nothing refused is stored"
    );
}

#[tokio::test]
async fn rescheduling_ignores_the_appointment_itself_and_respects_others() {
    let w = world(BookingPolicy::new(60, 30, 0, 0, 0, 60).unwrap());
    let a = w.service.book(new(&w, "2026-03-02T08:00:00Z", 60)).await.unwrap();
    let b = w.service.book(new(&w, "2026-03-02T10:00:00Z", 60)).await.unwrap();
    // Half an hour later overlaps a's own old time: allowed.
    let moved = w
        .service
        .reschedule(
            a.id,
            Interval::new(ts("2026-03-02T08:30:00Z"), ts("2026-03-02T09:30:00Z")).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(moved.start_time, ts("2026-03-02T08:30:00Z"));
    let clash = w
        .service
        .reschedule(
            a.id,
            Interval::new(ts("2026-03-02T09:30:00Z"), ts("2026-03-02T10:30:00Z")).unwrap(),
        )
        .await;
    assert_eq!(clash.unwrap_err(), CoreError::SlotTaken);
    w.service.cancel(b.id, CancelledBy::Client, None).await.unwrap();
    let late = w
        .service
        .reschedule(
            b.id,
            Interval::new(ts("2026-03-02T09:30:00Z"), ts("2026-03-02T10:30:00Z")).unwrap(),
        )
        .await;
    assert!(
        matches!(late, Err(CoreError::NotConfirmed(id)) if id == b.id),
        "{late:?}"
    );
}

#[tokio::test]
async fn queries_are_checked() {
    let w = world(BookingPolicy::default());
    let reversed = w.service.slots(w.expert, ts(MONDAY.1), ts(MONDAY.0), None).await;
    assert!(matches!(reversed, Err(CoreError::WindowReversed)), "{reversed:?}");
    let long = w
        .service
        .slots(
            w.expert,
            ts(MONDAY.0),
            ts(MONDAY.0) + SignedDuration::from_hours(94 * 24),
            None,
        )
        .await;
    assert!(
        matches!(long, Err(CoreError::WindowTooLong { max_days: 93 })),
        "{long:?}"
    );
    let zero = w.service.slots(w.expert, ts(MONDAY.0), ts(MONDAY.1), Some(0)).await;
    assert!(matches!(zero, Err(CoreError::Invalid(_))), "{zero:?}");
    let unknown = w.service.slots(ExpertId::new(), ts(MONDAY.0), ts(MONDAY.1), None).await;
    assert!(matches!(unknown, Err(CoreError::NotFound { what: "expert", .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bookings_of_one_slot_have_one_winner() {
    let w = Arc::new(world(BookingPolicy::default()));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move { w.service.book(new(&w, "2026-03-02T09:00:00Z", 30)).await })
        })
        .collect();
    let mut won = 0;
    let mut taken = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(CoreError::SlotTaken) => taken += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((won, taken), (1, 49));
    assert_eq!(w.store.appointments_of(w.expert).len(), 1);
}

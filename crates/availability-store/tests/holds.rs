//! Holds in the store on a real SQLite file and on PostgreSQL (TEST_DATABASE_URL): a hold blocks
//! its time for other clients' holds and bookings, is redeemed only by its client for exactly its
//! time, expires (an expired hold blocks nothing and cannot be redeemed), one per client and
//! expert; and two stores on one database (as two server processes) racing holds and bookings
//! for one time never store more than one of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    ClientId, DayOfWeek, ExpertId, Hold, HoldId, IntegrationType, Interval, NewAppointment, WeeklyRule, Zone,
};
use availability_core::{AppointmentRepository, BookingGuard, CoreError, ExpertRepository};
use availability_store::{testing, Store};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn guard_at(now: &str) -> BookingGuard {
    BookingGuard {
        external_busy: vec![],
        now: ts(now),
        integration: IntegrationType::MANUAL,
        calendar_type: None,
        meeting_url: None,
        meeting_error: None,
        hold: None,
    }
}

const NOW: &str = "2026-02-20T00:00:00Z";

fn half_hour(start: &str) -> Interval {
    Interval::new(ts(start), ts(start) + SignedDuration::from_mins(30)).unwrap()
}

async fn expert(store: &Store) -> ExpertId {
    let expert = store
        .create_expert("Dr. H".into(), "h@example.com".into(), Zone::utc())
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
    expert.id
}

async fn client(store: &Store, n: usize) -> ClientId {
    store
        .create_client(
            format!("C{n}"),
            format!("c{n}-{}@example.com", HoldId::new()),
            Zone::utc(),
        )
        .await
        .unwrap()
        .id
}

fn hold(expert: ExpertId, client: ClientId, time: Interval, expires_at: &str) -> Hold {
    Hold {
        id: HoldId::new(),
        expert_id: expert,
        client_id: client,
        time,
        expires_at: ts(expires_at),
    }
}

fn booking(expert: ExpertId, client: ClientId, time: Interval) -> NewAppointment {
    NewAppointment {
        expert_id: expert,
        client_id: client,
        time,
    }
}

#[tokio::test]
async fn a_hold_blocks_others_until_it_expires_and_only_its_client_redeems_it() {
    for url in testing::database_urls("a_hold_blocks_others_until_it_expires_and_only_its_client_redeems_it").unwrap() {
        let store = Store::open(&url).await.unwrap();
        let backend = store.backend();
        let expert = expert(&store).await;
        let (ann, bob) = (client(&store, 1).await, client(&store, 2).await);
        let nine = half_hour("2026-03-02T09:00:00Z");

        let held = store
            .create_hold(hold(expert, ann, nine, "2026-02-20T00:05:00Z"), guard_at(NOW))
            .await
            .unwrap();
        assert_eq!(store.find_hold(held.id).await.unwrap(), held, "{backend}");
        // Another client can neither hold nor book the time while the hold lasts.
        let other = store
            .create_hold(hold(expert, bob, nine, "2026-02-20T00:05:00Z"), guard_at(NOW))
            .await;
        assert!(matches!(other, Err(CoreError::SlotTaken)), "{backend}: {other:?}");
        let plain = store.book(booking(expert, bob, nine), guard_at(NOW)).await;
        assert!(matches!(plain, Err(CoreError::SlotTaken)), "{backend}: {plain:?}");
        // Slot queries see it.
        let calendar = store.expert_calendar(expert, nine, None).await.unwrap();
        assert_eq!(calendar.holds, vec![held.clone()], "{backend}");

        // Redeeming: only its client, only for its time.
        let mut with_hold = guard_at(NOW);
        with_hold.hold = Some(held.id);
        let by_bob = store.book(booking(expert, bob, nine), with_hold.clone()).await;
        assert!(
            matches!(by_bob, Err(CoreError::HoldMismatch(_))),
            "{backend}: {by_bob:?}"
        );
        let other_time = store
            .book(
                booking(expert, ann, half_hour("2026-03-02T10:00:00Z")),
                with_hold.clone(),
            )
            .await;
        assert!(
            matches!(other_time, Err(CoreError::HoldMismatch(_))),
            "{backend}: {other_time:?}"
        );
        assert!(
            store.find_hold(held.id).await.is_ok(),
            "{backend}: a refused redemption keeps the hold"
        );

        // Expired: blocks nothing any more (Bob may hold the time), and cannot be redeemed.
        let mut late = guard_at("2026-02-20T00:05:00Z");
        late.hold = Some(held.id);
        let expired = store.book(booking(expert, ann, nine), late).await;
        assert!(
            matches!(expired, Err(CoreError::HoldExpired(_))),
            "{backend}: {expired:?}"
        );
        let bobs = store
            .create_hold(
                hold(expert, bob, nine, "2026-02-20T00:10:00Z"),
                guard_at("2026-02-20T00:05:00Z"),
            )
            .await
            .unwrap();
        assert!(
            matches!(store.find_hold(held.id).await, Err(CoreError::NotFound { .. })),
            "{backend}: the expired hold is removed"
        );

        // Bob redeems his: the appointment replaces the hold.
        let mut redeem = guard_at("2026-02-20T00:06:00Z");
        redeem.hold = Some(bobs.id);
        let booked = store.book(booking(expert, bob, nine), redeem.clone()).await.unwrap();
        assert_eq!(booked.client_id, bob, "{backend}");
        assert!(store.find_hold(bobs.id).await.is_err(), "{backend}: redeemed");
        let again = store.book(booking(expert, bob, nine), redeem).await;
        assert!(matches!(again, Err(CoreError::HoldExpired(_))), "{backend}: {again:?}");

        // One hold per client and expert: a new one replaces the old, a refused one keeps it.
        let ten = half_hour("2026-03-02T10:00:00Z");
        let eleven = half_hour("2026-03-02T11:00:00Z");
        let first = store
            .create_hold(hold(expert, ann, ten, "2026-02-20T00:15:00Z"), guard_at(NOW))
            .await
            .unwrap();
        let refused = store
            .create_hold(hold(expert, ann, nine, "2026-02-20T00:15:00Z"), guard_at(NOW))
            .await;
        assert!(matches!(refused, Err(CoreError::SlotTaken)), "{backend}: {refused:?}");
        assert!(store.find_hold(first.id).await.is_ok(), "{backend}: kept");
        let second = store
            .create_hold(hold(expert, ann, eleven, "2026-02-20T00:15:00Z"), guard_at(NOW))
            .await
            .unwrap();
        assert!(store.find_hold(first.id).await.is_err(), "{backend}: replaced");
        store.release_hold(second.id).await.unwrap();
        assert!(store.find_hold(second.id).await.is_err(), "{backend}: released");
        // Outside the hours: refused like a booking.
        let night = store
            .create_hold(
                hold(expert, ann, half_hour("2026-03-02T20:00:00Z"), "2026-02-20T00:15:00Z"),
                guard_at(NOW),
            )
            .await;
        assert!(
            matches!(night, Err(CoreError::SlotUnavailable(_))),
            "{backend}: {night:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_racing_holds_and_bookings_store_one() {
    for url in testing::database_urls("two_stores_racing_holds_and_bookings_store_one").unwrap() {
        // Two stores with their own pools on one database, as two server processes.
        let first = Arc::new(Store::open(&url).await.unwrap());
        let second = Arc::new(Store::open(&url).await.unwrap());
        let backend = first.backend();
        let expert = expert(&first).await;
        let mut clients = Vec::new();
        for n in 0..24 {
            clients.push(client(&first, n).await);
        }
        let nine = half_hour("2026-03-02T09:00:00Z");
        let tasks: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(n, &c)| {
                let store = if n % 2 == 0 { first.clone() } else { second.clone() };
                tokio::spawn(async move {
                    if n % 3 == 0 {
                        store.book(booking(expert, c, nine), guard_at(NOW)).await.map(|_| ())
                    } else {
                        store
                            .create_hold(hold(expert, c, nine, "2026-02-20T00:05:00Z"), guard_at(NOW))
                            .await
                            .map(|_| ())
                    }
                })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => won += 1,
                Err(CoreError::SlotTaken) => {}
                Err(e) => panic!("{backend}: {e:?}"),
            }
        }
        assert_eq!(won, 1, "{backend}: one hold or booking of the time");
        let calendar = second.expert_calendar(expert, nine, None).await.unwrap();
        assert_eq!(
            calendar.holds.len() + calendar.appointments.len(),
            1,
            "{backend}: {calendar:?}"
        );
    }
}

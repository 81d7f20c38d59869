//! The store on a real SQLite file always, and on PostgreSQL when TEST_DATABASE_URL is set (CI
//! sets it and REQUIRE_POSTGRES=1, so these never skip there).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    DateOverride, DayOfWeek, ExpertId, IntegrationType, Interval, NewAppointment, TimeWindow, WeeklyRule, Zone,
};
use availability_core::{AppointmentRepository, BookingGuard, CoreError, ExpertRepository};
use availability_store::{testing, Party, Principal, Store, StoreError};

async fn stores(test: &str) -> Vec<Store> {
    let mut list = Vec::new();
    for url in testing::database_urls(test).unwrap() {
        list.push(Store::open(&url).await.unwrap());
    }
    list
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn weekdays_9_to_17() -> Vec<WeeklyRule> {
    (1..=5)
        .map(|d| {
            WeeklyRule::new(
                DayOfWeek::new(d).unwrap(),
                "09:00".parse().unwrap(),
                "17:00".parse().unwrap(),
                true,
            )
            .unwrap()
        })
        .collect()
}

async fn expert_and_client(store: &Store) -> (ExpertId, availability_core::domain::ClientId) {
    let berlin = Zone::new("Europe/Berlin").unwrap();
    let expert = store
        .create_expert("Dr. B".into(), "b@example.com".into(), berlin)
        .await
        .unwrap();
    store
        .replace_schedule(expert.id, weekdays_9_to_17(), vec![], None)
        .await
        .unwrap();
    let client = store
        .create_client("Ann".into(), "ann@example.com".into(), Zone::utc())
        .await
        .unwrap();
    (expert.id, client.id)
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
async fn unknown_schemes_are_refused_and_create_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("x.db");
    let err = Store::open(&format!("mysql://{}", target.display())).await.unwrap_err();
    assert!(matches!(err, StoreError::BadUrl(_)));
    assert!(!target.exists());
}

#[tokio::test]
async fn schedules_round_trip_exactly_and_replace_atomically() {
    for store in stores("schedules_round_trip_exactly_and_replace_atomically").await {
        let (expert, _) = expert_and_client(&store).await;
        let mut rules = weekdays_9_to_17();
        rules.push(
            WeeklyRule::new(
                DayOfWeek::new(1).unwrap(),
                "12:00".parse().unwrap(),
                "13:00".parse().unwrap(),
                false,
            )
            .unwrap(),
        );
        rules.push(
            WeeklyRule::new(
                DayOfWeek::new(6).unwrap(),
                "22:00".parse().unwrap(),
                "24:00".parse().unwrap(),
                true,
            )
            .unwrap(),
        );
        let overrides = vec![
            DateOverride {
                date: "2026-12-24".parse().unwrap(),
                windows: vec![],
            },
            DateOverride {
                date: "2026-12-23".parse().unwrap(),
                windows: vec![TimeWindow::new("10:00".parse().unwrap(), "12:00".parse().unwrap()).unwrap()],
            },
        ];
        let tokyo = Zone::new("Asia/Tokyo").unwrap();
        let saved = store
            .replace_schedule(expert, rules.clone(), overrides, Some(tokyo.clone()))
            .await
            .unwrap();
        assert_eq!(
            saved.rules,
            rules,
            "rules come back exactly, in order ({})",
            store.backend()
        );
        assert_eq!(
            saved.overrides[0].date.to_string(),
            "2026-12-23",
            "overrides sorted by date"
        );
        assert_eq!(saved.zone, tokyo);
        assert_eq!(store.expert(expert).await.unwrap().timezone, tokyo);

        // Two overrides for one date violate the primary key: nothing changes.
        let dup = vec![
            DateOverride {
                date: "2027-01-01".parse().unwrap(),
                windows: vec![],
            },
            DateOverride {
                date: "2027-01-01".parse().unwrap(),
                windows: vec![],
            },
        ];
        assert!(store.replace_schedule(expert, vec![], dup, None).await.is_err());
        assert_eq!(
            store.schedule(expert).await.unwrap(),
            saved,
            "a refused replace changes nothing"
        );
    }
}

#[tokio::test]
async fn tokens_are_stored_hashed_and_resolve_to_their_principal() {
    for store in stores("tokens_are_stored_hashed_and_resolve_to_their_principal").await {
        let (expert, _) = expert_and_client(&store).await;
        let token = availability_store::tokens::new_token().unwrap();
        assert_eq!(token.len(), 64);
        store.add_token(token.clone(), Principal::Expert(expert)).await.unwrap();
        assert_eq!(
            store.principal(token.clone()).await.unwrap(),
            Some(Principal::Expert(expert))
        );
        assert_eq!(store.principal(format!("{token}x")).await.unwrap(), None);
        assert_eq!(
            store
                .principal(availability_store::tokens::token_hash(&token))
                .await
                .unwrap(),
            None
        );
    }
}

/// On PostgreSQL the token and calendar-version reads go over async connections: they answer
/// what diesel answers (a valid token, an expired one, an unknown one, a revocation made through
/// another store at once; a version that follows a booking made elsewhere), and they are really
/// taken. On SQLite there are none and the same answers come from diesel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_version_reads_answer_the_same_over_async_connections() {
    for url in testing::database_urls("token_and_version_reads_answer_the_same_over_async_connections").unwrap() {
        let (store, other) = (Store::open(&url).await.unwrap(), Store::open(&url).await.unwrap());
        let async_before = testing::async_reads(&store);
        assert_eq!(async_before.is_some(), store.backend() == "postgres");
        let (expert, client) = expert_and_client(&store).await;
        let (token, record) = store
            .issue_token(Principal::Expert(expert), Some(4_102_444_800))
            .await
            .unwrap();
        assert_eq!(store.token(token.clone()).await.unwrap(), Some(record.clone()));
        assert_eq!(store.token(format!("{token}0")).await.unwrap(), None, "unknown");
        let (expiring, expiring_record) = store.issue_token(Principal::Client(client), None).await.unwrap();
        assert_eq!(
            store.token(expiring.clone()).await.unwrap(),
            Some(expiring_record.clone())
        );
        testing::expire_token(&other, expiring_record.id).await.unwrap();
        assert_eq!(store.token(expiring).await.unwrap(), None, "expired");
        assert!(other.revoke_token(record.id).await.unwrap());
        assert_eq!(store.token(token).await.unwrap(), None, "revoked elsewhere");

        // A calendar kept by `store` is read again once `other` books in it.
        let monday = Interval::new(ts("2026-03-02T00:00:00Z"), ts("2026-03-03T00:00:00Z")).unwrap();
        let before = store.expert_calendar(expert, monday, None).await.unwrap();
        assert!(before.appointments.is_empty());
        let again = store.expert_calendar(expert, monday, None).await.unwrap();
        assert_eq!(again.appointments, before.appointments);
        let time = Interval::new(ts("2026-03-02T09:00:00Z"), ts("2026-03-02T09:30:00Z")).unwrap();
        let new = NewAppointment {
            expert_id: expert,
            client_id: client,
            time,
        };
        let booked = AppointmentRepository::book(&other, new, guard()).await.unwrap();
        let after = store.expert_calendar(expert, monday, None).await.unwrap();
        assert_eq!(after.appointments, vec![booked], "{}", store.backend());
        let unknown = store.expert_calendar(ExpertId::new(), monday, None).await;
        assert!(matches!(unknown, Err(CoreError::NotFound { .. })), "{unknown:?}");

        if let Some(before) = async_before {
            let reads = testing::async_reads(&store).unwrap() - before;
            // 5 token reads and 4 version reads, none of them through diesel.
            assert_eq!(reads, 9, "reads over the async connections");
        }

        // The token and the version in one statement (GET slots), then the calendar read with
        // that version: no second read of it.
        let (fresh, fresh_record) = store.issue_token(Principal::Client(client), None).await.unwrap();
        let (found, version) = store.token_and_version(fresh.clone(), expert).await.unwrap();
        assert_eq!(found, Some(fresh_record));
        let (gone, _) = store.token_and_version(format!("{fresh}0"), expert).await.unwrap();
        assert_eq!(gone, None, "unknown token");
        let (_, nobody) = store.token_and_version(fresh, ExpertId::new()).await.unwrap();
        assert_eq!(nobody, None, "unknown expert");
        if let Some(version) = version {
            let reads = testing::async_reads(&store).unwrap();
            let read = Store::with_calendar_version(expert, version, store.expert_calendar(expert, monday, None));
            assert_eq!(read.await.unwrap().appointments, after.appointments);
            assert_eq!(
                testing::async_reads(&store).unwrap(),
                reads,
                "the version was not read again"
            );
            // A version that is not the kept one reads the calendar afresh.
            let stale = Store::with_calendar_version(expert, version - 1, store.expert_calendar(expert, monday, None));
            assert_eq!(stale.await.unwrap().appointments, after.appointments);
        } else {
            assert_eq!(store.backend(), "sqlite", "PostgreSQL reads both in one statement");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bookings_of_one_slot_store_exactly_one() {
    for store in stores("fifty_concurrent_bookings_of_one_slot_store_exactly_one").await {
        let (expert, client) = expert_and_client(&store).await;
        let store = Arc::new(store);
        let start = ts("2026-03-02T09:00:00Z");
        let time = Interval::new(start, start + SignedDuration::from_mins(30)).unwrap();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    AppointmentRepository::book(
                        &*store,
                        NewAppointment {
                            expert_id: expert,
                            client_id: client,
                            time,
                        },
                        guard(),
                    )
                    .await
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let won = results.iter().filter(|r| r.is_ok()).count();
        let taken = results
            .iter()
            .filter(|r| matches!(r, Err(CoreError::SlotTaken)))
            .count();
        assert_eq!(
            (won, taken),
            (1, 49),
            "{}: {:?}",
            store.backend(),
            results.iter().find(|r| !matches!(r, Ok(_) | Err(CoreError::SlotTaken)))
        );
        let all = store
            .appointments(
                Party::Expert(expert),
                Interval::new(ts("2026-03-01T00:00:00Z"), ts("2026-03-03T00:00:00Z")).unwrap(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
    }
}

/// Bookings of one expert that arrive together are stored in shared transactions (the store's
/// booking queue); each is still checked against every one stored before it. 16 slots asked four
/// times each, and one booking for a client that does not exist, all at once: one booking per
/// slot, the others refused as taken, the unknown client refused alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_stored_together_are_each_checked_against_the_others() {
    for store in stores("bookings_stored_together_are_each_checked_against_the_others").await {
        let (expert, client) = expert_and_client(&store).await;
        let store = Arc::new(store);
        // Monday 2026-03-02, 09:00-17:00 Berlin = 08:00-16:00 UTC: 16 half-hour slots.
        let slot = |i: i64| {
            let start = ts("2026-03-02T08:00:00Z") + SignedDuration::from_mins(30 * i);
            Interval::new(start, start + SignedDuration::from_mins(30)).unwrap()
        };
        let stranger = availability_core::domain::ClientId::new();
        let asks: Vec<(Interval, availability_core::domain::ClientId)> = (0..64)
            .map(|i| (slot(i % 16), client))
            .chain([(slot(3), stranger)])
            .collect();
        let tasks: Vec<_> = asks
            .iter()
            .map(|&(time, client_id)| {
                let store = store.clone();
                tokio::spawn(async move {
                    let new = NewAppointment {
                        expert_id: expert,
                        client_id,
                        time,
                    };
                    AppointmentRepository::book(&*store, new, guard()).await
                })
            })
            .collect();
        let mut won = std::collections::HashMap::new();
        for (task, (time, client_id)) in tasks.into_iter().zip(&asks) {
            match task.await.unwrap() {
                Ok(a) => {
                    assert_eq!((a.start_time, a.end_time), (time.start(), time.end()));
                    assert_eq!(a.client_id, *client_id);
                    *won.entry(time.start()).or_insert(0) += 1;
                }
                Err(CoreError::SlotTaken) => assert_eq!(*client_id, client),
                Err(CoreError::NotFound { what: "client", .. }) => assert_eq!(*client_id, stranger),
                Err(other) => panic!("{}: {other:?}", store.backend()),
            }
        }
        assert_eq!(won.len(), 16, "{}: every slot booked once", store.backend());
        assert!(won.values().all(|&n| n == 1), "{}: {won:?}", store.backend());
        let stored = store
            .appointments(
                Party::Expert(expert),
                Interval::new(ts("2026-03-02T00:00:00Z"), ts("2026-03-03T00:00:00Z")).unwrap(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(stored.len(), 16, "{}", store.backend());
        let (_, _, booked_alone) = testing::booking_batches(&store);
        assert_eq!(booked_alone, 0, "{}: no batch failed as a whole", store.backend());
    }
}

/// Bookings stored together follow the policy as bookings stored one by one do: with buffers
/// (checked in memory, one read and one insert per batch) and with a daily limit (each in its
/// savepoint, the limit counted across the batch). Every quarter hour of two days asked twice,
/// all at once: each stored booking is one the engine accepts beside all the others stored, and
/// each refused one is one the engine refuses beside them (so the outcome is one that booking
/// them one after the other could have given).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_stored_together_keep_buffers_and_limits() {
    use availability_core::domain::BookingPolicy;
    for store in stores("bookings_stored_together_keep_buffers_and_limits").await {
        let (expert, client) = expert_and_client(&store).await;
        // The first week without a limit, the second with one.
        for (week, limit) in [(0, None), (7, Some(5))] {
            let day = |iso: &str| ts(iso) + SignedDuration::from_hours(24 * week);
            let policy = BookingPolicy::new(30, 15, 15, 15, 0, 60)
                .unwrap()
                .with_max_bookings_per_day(limit)
                .unwrap();
            store.set_booking_policy(expert, policy).await.unwrap();
            let before = testing::booking_batches(&store);
            let store = Arc::new(store.clone());
            // Monday and Wednesday, 08:00-15:30 UTC (inside 09:00-17:00 Berlin): 31 starts a day.
            let asks: Vec<Interval> = [day("2026-03-02T08:00:00Z"), day("2026-03-04T08:00:00Z")]
                .into_iter()
                .flat_map(|first| (0..31).map(move |i| first + SignedDuration::from_mins(15 * i)))
                .flat_map(|start| {
                    let time = Interval::new(start, start + SignedDuration::from_mins(30)).unwrap();
                    [time, time]
                })
                .collect();
            let tasks: Vec<_> = asks
                .iter()
                .map(|&time| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let new = NewAppointment {
                            expert_id: expert,
                            client_id: client,
                            time,
                        };
                        AppointmentRepository::book(&*store, new, guard()).await
                    })
                })
                .collect();
            let mut refused = Vec::new();
            for (task, time) in tasks.into_iter().zip(&asks) {
                match task.await.unwrap() {
                    Ok(a) => assert_eq!((a.start_time, a.end_time), (time.start(), time.end())),
                    Err(CoreError::SlotTaken | CoreError::SlotUnavailable(_) | CoreError::LimitReached(_)) => {
                        refused.push(*time)
                    }
                    Err(other) => panic!("{}: {other:?}", store.backend()),
                }
            }
            let both_days = Interval::new(day("2026-03-01T00:00:00Z"), day("2026-03-06T00:00:00Z")).unwrap();
            let calendar = store.expert_calendar(expert, both_days, None).await.unwrap();
            // The calendar holds what the limits count too (here the first week's bookings).
            let all = &calendar.appointments;
            let stored: Vec<_> = all.iter().filter(|a| both_days.contains(a.start_time)).collect();
            let check = |others: &[availability_core::domain::Appointment], time| {
                guard().check(&calendar.expert, &calendar.schedules, others, &[], time, None)
            };
            for a in &stored {
                let others: Vec<_> = all.iter().filter(|b| b.id != a.id).cloned().collect();
                let time = Interval::new(a.start_time, a.end_time).unwrap();
                assert!(
                    check(&others, time).is_ok(),
                    "{} limit {limit:?}: {time:?} stored beside a conflict: {:?}",
                    store.backend(),
                    check(&others, time)
                );
            }
            for time in &refused {
                assert!(
                    check(all, *time).is_err(),
                    "{} limit {limit:?}: {time:?} refused though bookable",
                    store.backend()
                );
            }
            assert_eq!(stored.len() + refused.len(), asks.len(), "{}", store.backend());
            if let Some(limit) = limit {
                assert_eq!(
                    stored.len(),
                    2 * limit as usize,
                    "{}: the limit each day",
                    store.backend()
                );
            } else {
                // However the batches fell, no start farther than the buffers' reach from a stored
                // one stays free (checked above), so each day holds several.
                assert!(stored.len() >= 8, "{}: {} stored", store.backend(), stored.len());
            }
            // Batches formed (124 bookings at once), each checked the way its policy needs, and
            // none failed as a whole (a check that let a conflict through would fail the insert).
            let (in_memory, with_savepoints, booked_alone) = testing::booking_batches(&store);
            let ran = (
                in_memory - before.0,
                with_savepoints - before.1,
                booked_alone - before.2,
            );
            let expected_path = if limit.is_none() {
                ran.0 > 0 && ran.1 == 0
            } else {
                ran.0 == 0 && ran.1 > 0
            };
            assert!(
                expected_path && ran.2 == 0,
                "{} limit {limit:?}: {ran:?}",
                store.backend()
            );
        }
    }
}

/// The slot read starts at the last confirmed appointment before its window (they never
/// overlap, so no earlier one can reach into it): checked against a plain filter over 300
/// appointments of random lengths (5 minutes to 3 days; cancelled ones overlapping anything) for
/// 300 random windows, on both databases.
#[tokio::test]
async fn the_slot_read_finds_every_confirmed_appointment_reaching_into_its_window() {
    use availability_core::domain::{Appointment, AppointmentId, AppointmentStatus, SyncStatus};
    for store in stores("the_slot_read_finds_every_confirmed_appointment_reaching_into_its_window").await {
        let (expert, client) = expert_and_client(&store).await;
        let policy = store.expert(expert).await.unwrap().booking_policy;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = |below: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            i64::try_from(seed % u64::try_from(below).unwrap()).unwrap()
        };
        let origin = ts("2026-03-02T00:00:00Z").as_second();
        let appointment = |start: i64, end: i64, status| Appointment {
            id: AppointmentId::new(),
            expert_id: expert,
            client_id: client,
            start_time: Timestamp::from_second(start).unwrap(),
            end_time: Timestamp::from_second(end).unwrap(),
            status,
            calendar_type: None,
            external_calendar_event_id: None,
            scheduling_url: None,
            sync_status: SyncStatus::NotApplicable,
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: None,
            meeting_error: None,
            series_id: None,
            created_at: Timestamp::from_second(origin).unwrap(),
            updated_at: Timestamp::from_second(origin).unwrap(),
        };
        let mut confirmed = Vec::new();
        let mut at = origin;
        for i in 0..300 {
            let length = 300 + random(if i % 10 == 0 { 259_200 } else { 7_200 });
            let start = at + random(3) * 300;
            let end = start + length;
            if i % 4 == 3 {
                let cancelled = appointment(start - 3_600, end + 3_600, AppointmentStatus::Cancelled);
                testing::insert_unchecked(&store, cancelled).await.unwrap();
            } else {
                let booked = appointment(start, end, AppointmentStatus::Confirmed);
                testing::insert_unchecked(&store, booked.clone()).await.unwrap();
                confirmed.push(booked);
            }
            at = end + random(4) * 900;
        }
        for _ in 0..300 {
            let start = origin - 86_400 + random(at - origin + 172_800);
            let window = Interval::new(
                Timestamp::from_second(start).unwrap(),
                Timestamp::from_second(start + 60 + random(864_000)).unwrap(),
            )
            .unwrap();
            let around = availability_core::strategy::busy_window(window, &policy, policy.slot_duration_minutes());
            let expected: Vec<_> = confirmed
                .iter()
                .filter(|a| a.start_time < around.end() && a.end_time > around.start())
                .map(|a| a.id)
                .collect();
            let read = store.expert_calendar(expert, window, None).await.unwrap();
            let ids: Vec<_> = read.appointments.iter().map(|a| a.id).collect();
            assert_eq!(ids, expected, "{}: {window:?}", store.backend());
        }
    }
}

#[tokio::test]
async fn the_database_itself_refuses_overlapping_confirmed_appointments() {
    // Moving one appointment onto another is refused by the engine under the lock; a row written
    // behind the engine's back is refused by the database's own constraint.
    for store in stores("the_database_itself_refuses_overlapping_confirmed_appointments").await {
        let (expert, client) = expert_and_client(&store).await;
        let slot = |s: &str| Interval::new(ts(s), ts(s) + SignedDuration::from_mins(30)).unwrap();
        let a = AppointmentRepository::book(
            &store,
            NewAppointment {
                expert_id: expert,
                client_id: client,
                time: slot("2026-03-02T09:00:00Z"),
            },
            guard(),
        )
        .await
        .unwrap();
        let _b = AppointmentRepository::book(
            &store,
            NewAppointment {
                expert_id: expert,
                client_id: client,
                time: slot("2026-03-02T10:00:00Z"),
            },
            guard(),
        )
        .await
        .unwrap();
        let moved = AppointmentRepository::reschedule(&store, a.id, slot("2026-03-02T10:00:00Z"), guard()).await;
        assert_eq!(moved.unwrap_err(), CoreError::SlotTaken);
        let mut overlapping = a.clone();
        overlapping.id = availability_core::domain::AppointmentId::new();
        overlapping.start_time = ts("2026-03-02T10:15:00Z");
        overlapping.end_time = ts("2026-03-02T10:45:00Z");
        let raw = testing::insert_unchecked(&store, overlapping.clone()).await;
        assert!(
            matches!(raw, Err(StoreError::SlotTaken)),
            "{}: {raw:?}",
            store.backend()
        );
        // A cancelled row may overlap: only confirmed appointments hold time.
        overlapping.status = availability_core::domain::AppointmentStatus::Cancelled;
        testing::insert_unchecked(&store, overlapping).await.unwrap();
    }
}

#[tokio::test]
async fn pending_bookings_hold_no_time_until_the_provider_confirms_them() {
    use availability_core::domain::{Appointment, AppointmentId, AppointmentStatus, CalendarType, SyncStatus};
    const LINK: &str = "https://calendly.com/d/abc-def/consult";
    for store in stores("pending_bookings_hold_no_time_until_the_provider_confirms_them").await {
        let (expert, client) = expert_and_client(&store).await;
        let slot = |s: &str| Interval::new(ts(s), ts(s) + SignedDuration::from_mins(30)).unwrap();
        let pending = |time: Interval, created: &str| Appointment {
            id: AppointmentId::new(),
            expert_id: expert,
            client_id: client,
            start_time: time.start(),
            end_time: time.end(),
            status: AppointmentStatus::Pending,
            calendar_type: Some(CalendarType::from_static("calendly")),
            external_calendar_event_id: None,
            scheduling_url: Some(LINK.into()),
            sync_status: SyncStatus::NotApplicable,
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: None,
            meeting_error: None,
            series_id: None,
            created_at: ts(created),
            updated_at: ts(created),
        };
        let confirmed = AppointmentRepository::book(
            &store,
            NewAppointment {
                expert_id: expert,
                client_id: client,
                time: slot("2026-03-02T10:00:00Z"),
            },
            guard(),
        )
        .await
        .unwrap();
        // Pending appointments may lie on a confirmed one and on each other: they hold no time.
        let over = AppointmentRepository::record_pending(
            &store,
            pending(slot("2026-03-02T10:00:00Z"), "2026-02-20T01:00:00Z"),
        )
        .await
        .unwrap();
        let early = AppointmentRepository::record_pending(
            &store,
            pending(slot("2026-03-02T09:00:00Z"), "2026-02-20T02:00:00Z"),
        )
        .await
        .unwrap();
        assert_eq!(store.appointment(over.id).await.unwrap(), over, "{}", store.backend());
        let day = Interval::new(ts("2026-03-02T00:00:00Z"), ts("2026-03-03T00:00:00Z")).unwrap();
        let listed: Vec<_> = store
            .appointments(Party::Expert(expert), day, Some(AppointmentStatus::Pending))
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(listed, [early.id, over.id]);
        let confirmed_only = AppointmentRepository::confirmed_overlapping(&store, expert, day)
            .await
            .unwrap();
        assert_eq!(confirmed_only.len(), 1);
        let mut not_pending = pending(slot("2026-03-02T15:00:00Z"), "2026-02-20T00:00:00Z");
        not_pending.status = AppointmentStatus::Confirmed;
        assert!(matches!(
            AppointmentRepository::record_pending(&store, not_pending.clone()).await,
            Err(CoreError::NotPending(_))
        ));
        // The database keeps the link to pending appointments.
        let raw = testing::insert_unchecked(&store, not_pending).await;
        assert!(
            raw.is_err(),
            "{}: a confirmed row with a scheduling_url",
            store.backend()
        );

        // Found by the client's email whatever its case, oldest first.
        let found: Vec<_> = store
            .pending_for_email(expert, " ANN@Example.COM".into())
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(found, [over.id, early.id], "{}", store.backend());
        assert!(store
            .pending_for_email(expert, "zoe@example.com".into())
            .await
            .unwrap()
            .is_empty());

        // Confirming over the confirmed appointment is refused and changes nothing; the
        // provider's booking is then held on it, still pending.
        let now = ts("2026-02-21T00:00:00Z");
        let clash =
            AppointmentRepository::confirm_pending(&store, over.id, "inv-1".into(), slot("2026-03-02T10:00:00Z"), now)
                .await;
        assert_eq!(clash.unwrap_err(), CoreError::SlotTaken, "{}", store.backend());
        assert_eq!(store.appointment(over.id).await.unwrap(), over);
        let held = store
            .hold_unconfirmed(over.id, "inv-1".into(), slot("2026-03-02T10:15:00Z"), "overlaps".into())
            .await
            .unwrap();
        assert_eq!(held.status, AppointmentStatus::Pending);
        assert_eq!(held.external_calendar_event_id.as_deref(), Some("inv-1"));
        assert_eq!(held.start_time, ts("2026-03-02T10:15:00Z"));
        assert_eq!(held.scheduling_url, None);
        assert_eq!(
            (held.sync_status, held.sync_error.as_deref()),
            (SyncStatus::Failed, Some("overlaps"))
        );
        assert_eq!(
            AppointmentRepository::by_external_id(&store, "inv-1").await.unwrap(),
            Some(held.clone())
        );
        let mut duplicate = pending(slot("2026-03-02T10:15:00Z"), "2026-02-20T04:00:00Z");
        duplicate.scheduling_url = None;
        duplicate.external_calendar_event_id = Some("inv-1".into());
        assert!(
            matches!(
                AppointmentRepository::record_pending(&store, duplicate).await,
                Err(CoreError::AlreadyRecorded { .. })
            ),
            "one appointment per provider booking"
        );
        let left: Vec<_> = store
            .pending_for_email(expert, "ann@example.com".into())
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(
            left,
            [early.id],
            "a pending appointment holding a booking is not matched again"
        );

        // Confirmed at the time the provider booked (the client picked 09:30 at the link).
        let done =
            AppointmentRepository::confirm_pending(&store, early.id, "inv-2".into(), slot("2026-03-02T09:30:00Z"), now)
                .await
                .unwrap();
        assert_eq!(done.status, AppointmentStatus::Confirmed);
        assert_eq!(
            (done.start_time, done.end_time),
            (ts("2026-03-02T09:30:00Z"), ts("2026-03-02T10:00:00Z"))
        );
        assert_eq!(done.external_calendar_event_id.as_deref(), Some("inv-2"));
        assert_eq!(done.scheduling_url, None);
        assert_eq!((done.sync_status, done.updated_at), (SyncStatus::Synced, now));
        assert_eq!(store.appointment(early.id).await.unwrap(), done);
        let again = AppointmentRepository::confirm_pending(
            &store,
            early.id,
            "inv-2".into(),
            slot("2026-03-02T09:30:00Z"),
            ts("2026-02-22T00:00:00Z"),
        )
        .await
        .unwrap();
        assert_eq!(again, done, "the same confirmation twice changes nothing");
        let now_blocking = AppointmentRepository::confirmed_overlapping(&store, expert, day)
            .await
            .unwrap();
        assert_eq!(now_blocking.len(), 2);

        // Cancelling a pending appointment the provider never booked queues no calendar job;
        // one that holds a provider booking does (the booking must be cancelled there).
        assert_eq!(store.pending_sync_jobs().await.unwrap(), 0);
        let fresh = AppointmentRepository::record_pending(
            &store,
            pending(slot("2026-03-02T11:00:00Z"), "2026-02-20T03:00:00Z"),
        )
        .await
        .unwrap();
        let cancelled = AppointmentRepository::cancel(
            &store,
            fresh.id,
            availability_core::domain::CancelledBy::Client,
            Some("no".into()),
        )
        .await
        .unwrap();
        assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
        assert_eq!(cancelled.scheduling_url, None);
        assert_eq!(cancelled.sync_status, SyncStatus::NotApplicable);
        assert_eq!(store.pending_sync_jobs().await.unwrap(), 0, "{}", store.backend());
        assert!(matches!(
            AppointmentRepository::confirm_pending(&store, fresh.id, "inv-3".into(), slot("2026-03-02T11:00:00Z"), now)
                .await,
            Err(CoreError::NotPending(_))
        ));
        let cancelled =
            AppointmentRepository::cancel(&store, held.id, availability_core::domain::CancelledBy::Client, None)
                .await
                .unwrap();
        assert_eq!(cancelled.sync_status, SyncStatus::Pending);
        assert_eq!(store.pending_sync_jobs().await.unwrap(), 1);
        let _ = confirmed;
    }
}

/// Slot queries reuse what they read while the expert's calendar version is unchanged. The
/// version is kept by triggers, so a second store on the same database (another server process)
/// sees every change the first one makes, at once: hours, overrides, policy, zone, bookings,
/// reschedules and cancellations.
#[tokio::test]
async fn slot_reads_are_reused_only_while_nothing_changed() {
    use availability_core::domain::BookingPolicy;
    use availability_store::ExpertPatch;
    for url in testing::database_urls("slot_reads_are_reused_only_while_nothing_changed").unwrap() {
        let writer = Store::open(&url).await.unwrap();
        let reader = Store::open(&url).await.unwrap();
        let (expert, client) = expert_and_client(&writer).await;
        let window = Interval::new(ts("2026-03-02T00:00:00Z"), ts("2026-03-09T00:00:00Z")).unwrap();
        let read = || async { reader.expert_calendar(expert, window, None).await.unwrap() };

        let first = read().await;
        assert_eq!(first.schedules.default_schedule().hours.rules.len(), 5);
        assert_eq!(read().await.schedules, first.schedules, "unchanged: the same read");

        writer
            .replace_schedule(expert, weekdays_9_to_17()[..2].to_vec(), vec![], None)
            .await
            .unwrap();
        assert_eq!(
            read().await.schedules.default_schedule().hours.rules.len(),
            2,
            "new hours"
        );
        let day_off = DateOverride {
            date: "2026-03-02".parse().unwrap(),
            windows: vec![],
        };
        writer
            .replace_schedule(expert, weekdays_9_to_17()[..2].to_vec(), vec![day_off], None)
            .await
            .unwrap();
        assert_eq!(
            read().await.schedules.default_schedule().hours.overrides.len(),
            1,
            "a new override"
        );

        let policy = BookingPolicy::new(45, 15, 5, 5, 0, 60).unwrap();
        writer.set_booking_policy(expert, policy.clone()).await.unwrap();
        assert_eq!(read().await.expert.booking_policy, policy, "a new policy");
        let tokyo = Zone::new("Asia/Tokyo").unwrap();
        writer
            .update_expert(
                expert,
                ExpertPatch {
                    timezone: Some(tokyo.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(read().await.expert.timezone, tokyo, "a new zone");

        // Bookings: made, moved, cancelled by the writer; the reader sees each at once.
        writer
            .replace_schedule(expert, weekdays_9_to_17(), vec![], Some(Zone::utc()))
            .await
            .unwrap();
        writer
            .set_booking_policy(expert, BookingPolicy::new(30, 30, 0, 0, 0, 60).unwrap())
            .await
            .unwrap();
        assert!(read().await.appointments.is_empty());
        let time = Interval::new(ts("2026-03-03T09:00:00Z"), ts("2026-03-03T09:30:00Z")).unwrap();
        let booked = writer
            .book(
                NewAppointment {
                    expert_id: expert,
                    client_id: client,
                    time,
                },
                guard(),
            )
            .await
            .unwrap();
        assert_eq!(read().await.appointment_intervals(), vec![time], "a booking");
        let moved = Interval::new(ts("2026-03-03T10:00:00Z"), ts("2026-03-03T10:30:00Z")).unwrap();
        writer.reschedule(booked.id, moved, guard()).await.unwrap();
        assert_eq!(read().await.appointment_intervals(), vec![moved], "a reschedule");
        writer
            .cancel(booked.id, availability_core::domain::CancelledBy::Client, None)
            .await
            .unwrap();
        assert!(read().await.appointment_intervals().is_empty(), "a cancellation");

        // An unknown expert is still NotFound, not an empty calendar.
        assert!(matches!(
            reader.expert_calendar(ExpertId::new(), window, None).await,
            Err(CoreError::NotFound { .. })
        ));
    }
}

/// A pending appointment whose scheduling link goes unused for 24 hours is cancelled with the
/// reason; a fresh one, and one the provider's booking reached (held because of a clash), stay.
#[tokio::test]
async fn unused_scheduling_links_expire_after_a_day() {
    use availability_core::domain::{Appointment, AppointmentId, AppointmentStatus, CalendarType, SyncStatus};
    for store in stores("unused_scheduling_links_expire_after_a_day").await {
        let (expert, client) = expert_and_client(&store).await;
        let now = Timestamp::now();
        let pending = |hours_ago: i64, external: Option<&str>| Appointment {
            id: AppointmentId::new(),
            expert_id: expert,
            client_id: client,
            start_time: ts("2026-03-02T09:00:00Z"),
            end_time: ts("2026-03-02T09:30:00Z"),
            status: AppointmentStatus::Pending,
            calendar_type: Some(CalendarType::from_static("calendly")),
            external_calendar_event_id: external.map(str::to_owned),
            scheduling_url: external.is_none().then(|| "https://calendly.com/d/x".to_owned()),
            sync_status: SyncStatus::NotApplicable,
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: None,
            meeting_error: None,
            series_id: None,
            created_at: now - SignedDuration::from_hours(hours_ago),
            updated_at: now - SignedDuration::from_hours(hours_ago),
        };
        let stale = pending(25, None);
        let fresh = pending(23, None);
        let held = pending(25, Some("https://api.calendly.com/scheduled_events/E/invitees/I"));
        for a in [&stale, &fresh, &held] {
            testing::insert_unchecked(&store, a.clone()).await.unwrap();
        }
        assert_eq!(store.expire_pending_appointments().await.unwrap(), 1);
        let stale = store.appointment(stale.id).await.unwrap();
        assert_eq!(stale.status, AppointmentStatus::Cancelled);
        assert_eq!(stale.scheduling_url, None);
        assert_eq!(stale.cancelled_by, Some(availability_core::domain::CancelledBy::System));
        assert!(stale.cancellation_reason.unwrap().contains("not used"));
        assert_eq!(
            store.appointment(fresh.id).await.unwrap().status,
            AppointmentStatus::Pending
        );
        assert_eq!(
            store.appointment(held.id).await.unwrap().status,
            AppointmentStatus::Pending
        );
        assert_eq!(
            store.expire_pending_appointments().await.unwrap(),
            0,
            "again: nothing to do"
        );
    }
}

/// The whole directory is read in pages of the index (1,000 rows a query): across those pages
/// it is the same list, in the same order, as the directory's name pages, with experts of the
/// same name on both sides of a page boundary.
#[tokio::test]
async fn the_whole_directory_reads_as_its_name_pages_do() {
    for store in stores("the_whole_directory_reads_as_its_name_pages_do").await {
        // 2,150 experts under 700 names (three or four each), some in capitals.
        for i in 0..2150 {
            let name = if i % 5 == 0 {
                format!("EXPERT {:03}", i % 700)
            } else {
                format!("Expert {:03}", i % 700)
            };
            store
                .create_expert(name, format!("e{i}@example.com"), Zone::utc())
                .await
                .unwrap();
        }
        let whole = store.directory(None, None, 20_000).await.unwrap();
        assert_eq!(whole.len(), 2150);
        let ids: std::collections::HashSet<ExpertId> = whole.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 2150, "every expert once");
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = store.directory(None, after.clone(), 300).await.unwrap();
            after = page.last().map(|e| availability_store::ExpertCursor {
                name: e.name.clone(),
                id: e.id,
            });
            let last = page.len() < 300;
            paged.extend(page);
            if last {
                break;
            }
        }
        assert_eq!(paged, whole, "name pages and the whole list agree");
        // A limit that ends inside the second read, and a name search over the pages.
        assert_eq!(store.directory(None, None, 1500).await.unwrap(), whole[..1500]);
        let found = store.directory(Some("expert 01".into()), None, 20_000).await.unwrap();
        let expected: Vec<_> = whole
            .iter()
            .filter(|e| e.name.to_lowercase().contains("expert 01"))
            .cloned()
            .collect();
        // Names 010-019, each given at i, i + 700, i + 1400 and i + 2100.
        assert_eq!(found.len(), 40);
        assert_eq!(found, expected);
    }
}

/// The whole directory a process keeps follows every change made through any process: a booking
/// (a new version, the same row), a new zone, a new name (a new order) and a new expert. Each
/// time it equals what a process that kept nothing reads, versions included.
#[tokio::test]
async fn the_kept_directory_follows_every_change_to_it() {
    for url in testing::database_urls("the_kept_directory_follows_every_change_to_it").unwrap() {
        let store = Store::open(&url).await.unwrap();
        let fresh = || async { Store::open(&url).await.unwrap().whole_directory(20_000).await.unwrap() };
        let (booked, client) = expert_and_client(&store).await;
        let mut others = Vec::new();
        for name in ["F", "H", "J"] {
            let e = store
                .create_expert(name.into(), format!("{name}@example.com"), Zone::utc())
                .await
                .unwrap();
            others.push(e.id);
        }
        let names = |list: &[availability_store::DirectoryRow]| -> Vec<String> {
            list.iter().map(|r| r.entry.name.clone()).collect()
        };
        let first = store.whole_directory(20_000).await.unwrap();
        assert_eq!(names(&first), ["Dr. B", "F", "H", "J"]);
        assert_eq!(first, fresh().await);

        // A booking: a new version of the same row.
        let version_of = |list: &[availability_store::DirectoryRow], id: ExpertId| {
            list.iter()
                .find(|r| r.entry.id == id)
                .unwrap()
                .calendar_version
                .unwrap()
        };
        AppointmentRepository::book(
            &store,
            NewAppointment {
                expert_id: booked,
                client_id: client,
                time: Interval::new(ts("2026-03-02T09:00:00Z"), ts("2026-03-02T09:30:00Z")).unwrap(),
            },
            guard(),
        )
        .await
        .unwrap();
        let after_booking = store.whole_directory(20_000).await.unwrap();
        assert!(version_of(&after_booking, booked) > version_of(&first, booked));
        assert_eq!(after_booking, fresh().await);

        // Another process changes a zone, then a name (which changes the order).
        let other = Store::open(&url).await.unwrap();
        let patch = |name: Option<&str>, zone: Option<&str>| availability_store::ExpertPatch {
            name: name.map(Into::into),
            timezone: zone.map(|z| Zone::new(z).unwrap()),
            ..Default::default()
        };
        other
            .update_expert(others[0], patch(None, Some("Asia/Tokyo")))
            .await
            .unwrap();
        let after_zone = store.whole_directory(20_000).await.unwrap();
        assert_eq!(after_zone[1].entry.timezone, "Asia/Tokyo");
        assert_eq!(after_zone, fresh().await);
        other.update_expert(others[2], patch(Some("A"), None)).await.unwrap();
        let after_name = store.whole_directory(20_000).await.unwrap();
        assert_eq!(names(&after_name), ["A", "Dr. B", "F", "H"]);
        assert_eq!(after_name, fresh().await);

        // A new expert, and a limit.
        other
            .create_expert("G".into(), "g@example.com".into(), Zone::utc())
            .await
            .unwrap();
        let after_new = store.whole_directory(20_000).await.unwrap();
        assert_eq!(names(&after_new), ["A", "Dr. B", "F", "G", "H"]);
        assert_eq!(after_new, fresh().await);
        assert_eq!(names(&store.whole_directory(2).await.unwrap()), ["A", "Dr. B"]);
    }
}

//! AvailabilityService with a calendar strategy: busy time is subtracted, cached for slots for a
//! short while, never replaced by an empty calendar when the provider is down, and used as a
//! booking fallback only while it is recent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    Appointment, BookingPolicy, Client, ClientId, DayOfWeek, Expert, ExpertId, IntegrationType, Interval,
    NewAppointment, Schedule, WeeklyRule, Zone,
};
use availability_core::{
    AvailabilityService, AvailabilityStrategy, Capabilities, CoreError, ExternalEvent, FixedClock, InMemoryStore,
    StrategyRegistry,
};

#[derive(Debug, Default)]
struct FakeCalendar {
    busy: std::sync::Mutex<Vec<Interval>>,
    calls: AtomicUsize,
    down: AtomicBool,
}

#[async_trait]
impl AvailabilityStrategy for FakeCalendar {
    fn integration_type(&self) -> IntegrationType {
        IntegrationType::GoogleCalendar
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::CALENDAR
    }
    async fn busy_intervals(&self, _expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(CoreError::ProviderUnavailable {
                integration: IntegrationType::GoogleCalendar,
                message: "down".into(),
            });
        }
        Ok(self
            .busy
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|b| b.overlaps(&window))
            .collect())
    }
    async fn create_appointment(
        &self,
        _: &Expert,
        _: &Client,
        a: &Appointment,
    ) -> Result<Option<ExternalEvent>, CoreError> {
        Ok(Some(ExternalEvent {
            id: format!("evt-{}", a.id),
        }))
    }
    async fn update_appointment(
        &self,
        _: &Expert,
        _: &Client,
        a: &Appointment,
    ) -> Result<Option<ExternalEvent>, CoreError> {
        Ok(Some(ExternalEvent {
            id: format!("evt-{}", a.id),
        }))
    }
    async fn cancel_appointment(&self, _: &Expert, _: &Appointment) -> Result<(), CoreError> {
        Ok(())
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

struct World {
    service: AvailabilityService,
    calendar: Arc<FakeCalendar>,
    clock: Arc<FixedClock>,
    expert: ExpertId,
    client: ClientId,
}

fn world() -> World {
    let store = Arc::new(InMemoryStore::new());
    let expert = Expert {
        id: ExpertId::new(),
        name: "G".into(),
        email: "g@example.com".into(),
        timezone: Zone::utc(),
        integration_type: IntegrationType::GoogleCalendar,
        booking_policy: BookingPolicy::default(),
    };
    let client = Client {
        id: ClientId::new(),
        name: "C".into(),
        email: "c@example.com".into(),
        timezone: Zone::utc(),
    };
    let rule = WeeklyRule::new(
        DayOfWeek::new(1).unwrap(),
        "09:00".parse().unwrap(),
        "12:00".parse().unwrap(),
        true,
    )
    .unwrap();
    store.put_schedule(expert.id, Schedule::new(Zone::utc(), vec![rule], vec![]).unwrap());
    let (e, c) = (expert.id, client.id);
    store.put_expert(expert);
    store.put_client(client);
    let calendar = Arc::new(FakeCalendar::default());
    calendar
        .busy
        .lock()
        .unwrap()
        .push(Interval::new(ts("2026-03-02T10:00:00Z"), ts("2026-03-02T11:00:00Z")).unwrap());
    let clock = Arc::new(FixedClock::new(ts("2026-03-01T00:00:00Z")));
    let service = AvailabilityService::new(store.clone(), store, StrategyRegistry::new().with(calendar.clone()))
        .with_clock(clock.clone());
    World {
        service,
        calendar,
        clock,
        expert: e,
        client: c,
    }
}

const DAY: (&str, &str) = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");

fn half_hour(start: &str) -> Interval {
    Interval::new(ts(start), ts(start) + SignedDuration::from_mins(30)).unwrap()
}

#[tokio::test]
async fn busy_time_is_subtracted_and_cached_briefly() {
    let w = world();
    let slots = w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    let starts: Vec<String> = slots.iter().map(|s| s.start.to_string()).collect();
    assert_eq!(
        starts,
        [
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:30:00Z",
            "2026-03-02T11:00:00Z",
            "2026-03-02T11:30:00Z"
        ]
    );
    w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    assert_eq!(
        w.calendar.calls.load(Ordering::SeqCst),
        1,
        "the second query within 30 s uses the cache"
    );
    w.clock.set(ts("2026-03-01T00:00:31Z"));
    w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    assert_eq!(
        w.calendar.calls.load(Ordering::SeqCst),
        2,
        "after 30 s the provider is asked again"
    );
}

#[tokio::test]
async fn a_provider_that_cannot_be_asked_never_gives_an_empty_calendar() {
    let w = world();
    w.calendar.down.store(true, Ordering::SeqCst);
    let got = w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await;
    assert!(matches!(got, Err(CoreError::ProviderUnavailable { .. })), "{got:?}");
    let booking = w
        .service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T09:00:00Z"),
        })
        .await;
    assert!(
        matches!(booking, Err(CoreError::ProviderUnavailable { .. })),
        "nothing fresh enough to validate with: {booking:?}"
    );
}

#[tokio::test]
async fn a_booking_may_use_busy_time_seen_in_the_last_15_minutes() {
    let w = world();
    w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    w.calendar.down.store(true, Ordering::SeqCst);
    w.clock.set(ts("2026-03-01T00:10:00Z"));
    let ok = w
        .service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T09:00:00Z"),
        })
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let busy = w
        .service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T10:00:00Z"),
        })
        .await;
    assert!(
        matches!(busy, Err(CoreError::SlotUnavailable(_))),
        "the cached busy time still blocks: {busy:?}"
    );
    w.clock.set(ts("2026-03-01T00:16:00Z"));
    let late = w
        .service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T11:00:00Z"),
        })
        .await;
    assert!(
        matches!(late, Err(CoreError::ProviderUnavailable { .. })),
        "16 minutes is too old: {late:?}"
    );
}

#[tokio::test]
async fn a_booking_makes_cached_slots_stale() {
    let w = world();
    w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    let booked = w
        .service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T09:00:00Z"),
        })
        .await
        .unwrap();
    assert_eq!(
        booked.external_calendar_event_id,
        Some(format!("evt-{}", booked.id)),
        "inline writes for embedders"
    );
    let calls = w.calendar.calls.load(Ordering::SeqCst);
    let after = w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    assert_eq!(
        w.calendar.calls.load(Ordering::SeqCst),
        calls + 1,
        "the provider is asked again after a booking"
    );
    assert!(!after.iter().any(|s| s.start == ts("2026-03-02T09:00:00Z")));
}

#[tokio::test]
async fn a_slot_that_began_a_moment_ago_is_not_bookable_and_times_are_whole_seconds() {
    let w = world();
    // 09:00:00.5Z: the 09:00Z slot has begun; 09:30Z is still bookable.
    w.clock.set(ts("2026-03-02T09:00:00.5Z"));
    let begun = w
        .service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T09:00:00Z"),
        })
        .await;
    assert!(matches!(begun, Err(CoreError::SlotUnavailable(_))), "{begun:?}");
    let ok = w
        .service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T09:30:00Z"),
        })
        .await
        .unwrap();
    assert_eq!(ok.created_at, ts("2026-03-02T09:00:00Z"), "stored to the whole second");
}

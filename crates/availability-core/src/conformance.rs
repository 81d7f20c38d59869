//! The conformance suite every [`AvailabilityStrategy`] must pass, in the style of object_store's
//! integration suite: plain `pub async fn`s that take a [`ConformanceHarness`], parameterised by
//! the strategy's [`Capabilities`] rather than copied per provider.
//!
//! A provider crate calls [`run_all`] from its tests against its loopback fake:
//!
//! ```ignore
//! #[tokio::test]
//! async fn conforms() {
//!     let harness = MyProviderHarness::start().await;
//!     availability_core::conformance::run_all(&harness).await;
//! }
//! ```
//!
//! The checks panic with a message that says which rule was broken (they are test code).

#![allow(clippy::panic, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use availability_domain::jiff::{self, SignedDuration, Timestamp, ToSpan};
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, Client, DayOfWeek, Expert, Interval, Schedule, Slot, SyncStatus,
    WeeklyRule,
};

use crate::engine::{self, SlotQuery};
use crate::strategy::{AvailabilityStrategy, ExpertCalendar, ProviderBooking};
use crate::CoreError;

/// A failure the harness can make its provider (or fake) produce on the next calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFailure {
    /// The provider cannot be reached or keeps answering 5xx: expect `ProviderUnavailable`.
    Unavailable,
    /// The expert's grant was revoked: expect `NeedsReauth`.
    Revoked,
}

/// What a provider's tests give the suite.
#[async_trait]
pub trait ConformanceHarness: Send + Sync {
    /// The strategy under test, connected to its fake.
    fn strategy(&self) -> Arc<dyn AvailabilityStrategy>;
    /// An expert whose integration is connected to the fake.
    fn expert(&self) -> Expert;
    /// A client to book for.
    fn client(&self) -> Client;
    /// Puts busy time in the expert's external calendar (called only when the strategy reads busy time).
    async fn seed_busy(&self, intervals: &[Interval]);
    /// Makes the provider's available times cover these slots (called only for provider slots).
    async fn seed_provider_slots(&self, slots: &[Slot]) {
        let _ = slots;
    }
    /// The time the provider holds for an external event, or None if it is gone or cancelled
    /// (called only when the strategy writes events).
    async fn event_time(&self, event_id: &str) -> Option<Interval>;
    /// Makes the provider fail from now on in the given way, until [`ConformanceHarness::heal`].
    async fn inject(&self, failure: InjectedFailure);
    /// Makes the provider answer normally again.
    async fn heal(&self);
}

/// Runs every check.
pub async fn run_all(h: &dyn ConformanceHarness) {
    slots_lie_in_working_hours(h).await;
    slots_never_overlap_busy_time(h).await;
    appointment_round_trip(h).await;
    errors_are_mapped(h).await;
}

/// A week from the next Monday at least 8 days ahead, in the expert's zone.
fn test_week(expert: &Expert) -> Interval {
    let tz = expert.timezone.tz().clone();
    let mut day = tz
        .to_datetime(Timestamp::now() + SignedDuration::from_hours(8 * 24))
        .date();
    while DayOfWeek::of(day).number() != 1 {
        day = day.tomorrow().expect("a date after today");
    }
    let start = tz
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .expect("monday midnight");
    let next = day.checked_add(7.days()).expect("a week later");
    let end = tz
        .to_timestamp(next.to_datetime(jiff::civil::Time::midnight()))
        .expect("midnight");
    Interval::new(start, end).expect("a week")
}

fn working_hours(expert: &Expert) -> Schedule {
    let rules = (1..=5)
        .map(|d| {
            WeeklyRule::new(
                DayOfWeek::new(d).expect("weekday"),
                "09:00".parse().expect("time"),
                "17:00".parse().expect("time"),
                true,
            )
            .expect("rule")
        })
        .collect();
    Schedule::new(expert.timezone.clone(), rules, vec![]).expect("schedule")
}

fn appointment(expert: &Expert, client: &Client, time: Interval) -> Appointment {
    Appointment {
        id: AppointmentId::new(),
        expert_id: expert.id,
        client_id: client.id,
        start_time: time.start(),
        end_time: time.end(),
        status: AppointmentStatus::Confirmed,
        calendar_type: expert.integration_type.calendar_type(),
        external_calendar_event_id: None,
        scheduling_url: None,
        sync_status: SyncStatus::Pending,
        cancellation_reason: None,
        sync_error: None,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
    }
}

fn at(week: &Interval, hours: i64) -> Timestamp {
    week.start() + SignedDuration::from_hours(hours)
}

fn hour_on_tuesday(week: &Interval, expert: &Expert, hour: i8) -> Interval {
    let tz = expert.timezone.tz().clone();
    let tuesday = tz.to_datetime(at(week, 30)).date();
    let start = tz.to_timestamp(tuesday.at(hour, 0, 0, 0)).expect("local time");
    Interval::new(start, start + SignedDuration::from_hours(1)).expect("an hour")
}

/// Every slot lies inside the expert's working hours (engine strategies) and is one duration long.
pub async fn slots_lie_in_working_hours(h: &dyn ConformanceHarness) {
    let strategy = h.strategy();
    let expert = h.expert();
    let week = test_week(&expert);
    let schedule = working_hours(&expert);
    if strategy.capabilities().provider_slots {
        let tuesday = hour_on_tuesday(&week, &expert, 10);
        let offered: Vec<Slot> = (0..2)
            .map(|i| {
                let start = tuesday.start() + SignedDuration::from_mins(30 * i);
                Slot {
                    start,
                    end: start + SignedDuration::from_mins(30),
                }
            })
            .collect();
        h.seed_provider_slots(&offered).await;
    }
    let calendar = ExpertCalendar {
        expert: expert.clone(),
        schedule: schedule.clone(),
        appointments: vec![],
    };
    let query = SlotQuery {
        window: week,
        now: Timestamp::now(),
        duration_minutes: None,
    };
    let slots = strategy
        .available_slots(&calendar, &query)
        .await
        .expect("slots from a healthy provider");
    assert!(
        !slots.is_empty(),
        "a working week with an empty calendar must have slots"
    );
    assert!(
        slots.windows(2).all(|w| w[0].start < w[1].start),
        "slots must be sorted and unique"
    );
    for s in &slots {
        assert!(week.contains(s.start), "slot {s:?} starts outside the queried window");
    }
    if !strategy.capabilities().provider_slots {
        let allowed = engine::available_slots(&schedule, &expert.booking_policy, &[], &query);
        for s in &slots {
            assert!(allowed.contains(s), "slot {s:?} is not in the expert's working hours");
        }
    }
}

/// No slot (with its buffers) overlaps a confirmed appointment or the external calendar's busy time.
pub async fn slots_never_overlap_busy_time(h: &dyn ConformanceHarness) {
    let strategy = h.strategy();
    let expert = h.expert();
    let client = h.client();
    let week = test_week(&expert);
    let schedule = working_hours(&expert);
    let booked = hour_on_tuesday(&week, &expert, 10);
    let mut busy = vec![booked];
    if strategy.capabilities().reads_busy_time {
        let external = hour_on_tuesday(&week, &expert, 14);
        h.seed_busy(&[external]).await;
        busy.push(external);
    }
    let calendar = ExpertCalendar {
        expert: expert.clone(),
        schedule,
        appointments: vec![appointment(&expert, &client, booked)],
    };
    let query = SlotQuery {
        window: week,
        now: Timestamp::now(),
        duration_minutes: None,
    };
    let slots = strategy
        .available_slots(&calendar, &query)
        .await
        .expect("slots from a healthy provider");
    let p = expert.booking_policy;
    for s in &slots {
        let reach = Interval::new(
            s.start - SignedDuration::from_mins(i64::from(p.buffer_before_minutes())),
            s.end + SignedDuration::from_mins(i64::from(p.buffer_after_minutes())),
        )
        .expect("slot with buffers");
        for b in &busy {
            assert!(!reach.overlaps(b), "slot {s:?} overlaps busy time {b:?}");
        }
    }
}

/// Create, update and cancel an appointment in the strategy's calendar; creates are idempotent and
/// cancelling twice succeeds.
pub async fn appointment_round_trip(h: &dyn ConformanceHarness) {
    let strategy = h.strategy();
    let expert = h.expert();
    let client = h.client();
    let week = test_week(&expert);
    let first = hour_on_tuesday(&week, &expert, 11);
    let mut appt = appointment(&expert, &client, first);
    let created = strategy
        .create_appointment(&expert, &client, &appt)
        .await
        .expect("create");
    if !strategy.capabilities().writes_events {
        assert_eq!(
            created, None,
            "a strategy that writes no events returns no external event"
        );
        strategy
            .cancel_appointment(&expert, &appt)
            .await
            .expect("cancel is a no-op");
        return;
    }
    let event = created.expect("a calendar strategy returns the external event");
    assert_eq!(
        h.event_time(&event.id).await,
        Some(first),
        "the event holds the appointment's time"
    );
    let again = strategy
        .create_appointment(&expert, &client, &appt)
        .await
        .expect("a retried create succeeds");
    assert_eq!(
        again.map(|e| e.id),
        Some(event.id.clone()),
        "a retried create must not make a second event"
    );
    if strategy.capabilities().provider_slots {
        // The service books a scheduler's appointments through book_in_provider: for one the
        // provider booked already, that is the same booking again, not a second one or a link.
        match strategy
            .book_in_provider(&expert, &client, &appt)
            .await
            .expect("booking a booked appointment again")
        {
            ProviderBooking::Booked(again) => assert_eq!(
                again.map(|e| e.id),
                Some(event.id.clone()),
                "booking the same appointment again must not make a second booking"
            ),
            other => panic!("a scheduler that booked this appointment answered {other:?}"),
        }
    }

    appt.external_calendar_event_id = Some(event.id.clone());
    if !strategy.capabilities().provider_slots {
        let moved = hour_on_tuesday(&week, &expert, 15);
        appt.start_time = moved.start();
        appt.end_time = moved.end();
        let updated = strategy
            .update_appointment(&expert, &client, &appt)
            .await
            .expect("update");
        let id = updated.map(|e| e.id).unwrap_or(event.id.clone());
        appt.external_calendar_event_id = Some(id.clone());
        assert_eq!(
            h.event_time(&id).await,
            Some(moved),
            "the event moved with the appointment"
        );
    }
    strategy.cancel_appointment(&expert, &appt).await.expect("cancel");
    let id = appt.external_calendar_event_id.clone().expect("event id");
    assert_eq!(h.event_time(&id).await, None, "a cancelled appointment's event is gone");
    strategy
        .cancel_appointment(&expert, &appt)
        .await
        .expect("cancelling again is success");
}

/// Provider failures arrive as the core's error variants, never as slots of an empty calendar.
pub async fn errors_are_mapped(h: &dyn ConformanceHarness) {
    let strategy = h.strategy();
    let caps = strategy.capabilities();
    if !caps.reads_busy_time && !caps.provider_slots {
        return;
    }
    let expert = h.expert();
    let week = test_week(&expert);
    let calendar = ExpertCalendar {
        expert: expert.clone(),
        schedule: working_hours(&expert),
        appointments: vec![],
    };
    let query = SlotQuery {
        window: week,
        now: Timestamp::now(),
        duration_minutes: None,
    };
    for (failure, expected) in [
        (InjectedFailure::Unavailable, "ProviderUnavailable"),
        (InjectedFailure::Revoked, "NeedsReauth"),
    ] {
        h.inject(failure).await;
        let got = strategy.available_slots(&calendar, &query).await;
        h.heal().await;
        match (&got, failure) {
            (Err(CoreError::ProviderUnavailable { .. }), InjectedFailure::Unavailable) => {}
            (Err(CoreError::NeedsReauth { .. }), InjectedFailure::Revoked) => {}
            _ => panic!("with the provider {failure:?}, slots must fail with {expected}, got {got:?}"),
        }
    }
}

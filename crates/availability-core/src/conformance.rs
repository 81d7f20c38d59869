//! The conformance suite every [`AvailabilityStrategy`] must pass, in the style of object_store's
//! integration suite: plain `pub async fn`s that take a [`ConformanceHarness`], parameterised by
//! the parts a strategy has rather than copied per provider.
//!
//! Every check runs the path production runs: an [`AvailabilityService`] over an
//! [`InMemoryStore`] with the strategy registered, its busy-time cache included, asked for slots,
//! bookings, reschedules and cancellations exactly as the server asks it.
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
    Appointment, AppointmentId, AppointmentStatus, CancelledBy, Client, DayOfWeek, Expert, Interval, NewAppointment,
    Schedule, Slot, SyncStatus, WeeklyRule,
};

use crate::engine::{self, SlotQuery};
use crate::strategy::{AvailabilityStrategy, ProviderBooking};
use crate::{AvailabilityService, CoreError, InMemoryStore, StrategyRegistry};

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
    /// Makes the provider's available times cover these slots (called only for schedulers).
    async fn seed_provider_slots(&self, slots: &[Slot]) {
        let _ = slots;
    }
    /// The time the provider holds for an external event, or None if it is gone or cancelled
    /// (called only when the strategy writes to the provider).
    async fn event_time(&self, event_id: &str) -> Option<Interval>;
    /// Makes the provider fail from now on in the given way, until [`ConformanceHarness::heal`].
    async fn inject(&self, failure: InjectedFailure);
    /// Makes the provider answer normally again.
    async fn heal(&self);
    /// Whether the connected account can make video meetings (for a strategy with
    /// [`VideoMeetings`](crate::VideoMeetings)); false: a booking asking for one must come back
    /// without a link and with the reason (a personal Microsoft account without Teams).
    fn makes_meetings(&self) -> bool {
        true
    }
}

/// Runs every check.
pub async fn run_all(h: &dyn ConformanceHarness) {
    slots_lie_in_working_hours(h).await;
    slots_never_overlap_busy_time(h).await;
    appointment_round_trip(h).await;
    video_meetings(h).await;
    errors_are_mapped(h).await;
}

/// The production path over a fresh in-memory store holding the harness's expert (with weekdays
/// 09:00-17:00) and client: a service with the strategy registered and calendar writes inline.
fn service_for(h: &dyn ConformanceHarness, client: &Client) -> (AvailabilityService, Arc<InMemoryStore>) {
    service_with(h, h.expert(), client)
}

/// [`service_for`] with this version of the harness's expert (another policy).
fn service_with(
    h: &dyn ConformanceHarness,
    expert: Expert,
    client: &Client,
) -> (AvailabilityService, Arc<InMemoryStore>) {
    let store = Arc::new(InMemoryStore::new());
    store.put_expert(expert.clone());
    store.put_client(client.clone());
    store.put_schedule(expert.id, working_hours(&expert));
    let strategies = StrategyRegistry::new().with(h.strategy());
    let service = AvailabilityService::new(store.clone(), store.clone(), strategies);
    (service, store)
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

fn confirmed(expert: &Expert, client: &Client, strategy: &dyn AvailabilityStrategy, time: Interval) -> Appointment {
    Appointment {
        id: AppointmentId::new(),
        expert_id: expert.id,
        client_id: client.id,
        start_time: time.start(),
        end_time: time.end(),
        status: AppointmentStatus::Confirmed,
        calendar_type: strategy.calendar_type(),
        external_calendar_event_id: None,
        scheduling_url: None,
        sync_status: SyncStatus::NotApplicable,
        cancellation_reason: None,
        cancelled_by: None,
        sync_error: None,
        meeting_url: None,
        meeting_error: None,
        series_id: None,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
    }
}

fn at(week: &Interval, hours: i64) -> Timestamp {
    week.start() + SignedDuration::from_hours(hours)
}

fn hour_on_tuesday(week: &Interval, expert: &Expert, hour: i8) -> Interval {
    hour_on(week, expert, 30, hour)
}

/// Wednesday: the round trip keeps clear of the busy time the other checks put on Tuesday (a
/// harness's fake keeps it).
fn hour_on_wednesday(week: &Interval, expert: &Expert, hour: i8) -> Interval {
    hour_on(week, expert, 54, hour)
}

fn hour_on(week: &Interval, expert: &Expert, hours_into_week: i64, hour: i8) -> Interval {
    let tz = expert.timezone.tz().clone();
    let day = tz.to_datetime(at(week, hours_into_week)).date();
    let start = tz.to_timestamp(day.at(hour, 0, 0, 0)).expect("local time");
    Interval::new(start, start + SignedDuration::from_hours(1)).expect("an hour")
}

/// The slot of the policy's length at the start of `hour`.
fn slot_at(expert: &Expert, hour: Interval) -> Interval {
    let minutes = i64::from(expert.booking_policy.slot_duration_minutes());
    Interval::new(hour.start(), hour.start() + SignedDuration::from_mins(minutes)).expect("a slot")
}

/// The slot the service offers at `start`.
async fn slot_starting(service: &AvailabilityService, expert: &Expert, week: &Interval, start: Timestamp) -> Interval {
    let slots = service
        .slots(expert.id, week.start(), week.end(), None)
        .await
        .expect("slots from a healthy provider");
    let slot = slots
        .iter()
        .find(|s| s.start == start)
        .unwrap_or_else(|| panic!("no slot starts at {start}: {slots:?}"));
    Interval::new(slot.start, slot.end).expect("a slot")
}

/// For a scheduler, makes the provider offer two slots at 10:00 on Tuesday, and at `extra`.
async fn offer(h: &dyn ConformanceHarness, expert: &Expert, week: &Interval, extra: &[Interval]) {
    let tuesday = hour_on_tuesday(week, expert, 10);
    let length = SignedDuration::from_mins(i64::from(expert.booking_policy.slot_duration_minutes()));
    let mut offered: Vec<Slot> = (0..2)
        .map(|i| {
            let start = tuesday.start() + length * i;
            Slot {
                start,
                end: start + length,
            }
        })
        .collect();
    offered.extend(extra.iter().map(|i| Slot {
        start: i.start(),
        end: i.start() + length,
    }));
    h.seed_provider_slots(&offered).await;
}

/// Every slot lies inside the expert's working hours (engine strategies) and is one duration long.
pub async fn slots_lie_in_working_hours(h: &dyn ConformanceHarness) {
    let strategy = h.strategy();
    let expert = h.expert();
    let week = test_week(&expert);
    if strategy.scheduler().is_some() {
        offer(h, &expert, &week, &[]).await;
    }
    let (service, _) = service_for(h, &h.client());
    let slots = service
        .slots(expert.id, week.start(), week.end(), None)
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
    if strategy.scheduler().is_none() {
        let query = SlotQuery {
            window: week,
            now: Timestamp::now(),
            duration_minutes: None,
        };
        let allowed = engine::available_slots(&working_hours(&expert), &expert.booking_policy, &[], &query);
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
    let booked = hour_on_tuesday(&week, &expert, 10);
    let mut busy = vec![booked];
    if strategy.busy_time().is_some() {
        let external = hour_on_tuesday(&week, &expert, 14);
        h.seed_busy(&[external]).await;
        busy.push(external);
    }
    if strategy.scheduler().is_some() {
        offer(h, &expert, &week, &[hour_on_tuesday(&week, &expert, 11)]).await;
    }
    let (service, store) = service_for(h, &client);
    store.put_appointment(confirmed(&expert, &client, strategy.as_ref(), booked));
    let slots = service
        .slots(expert.id, week.start(), week.end(), None)
        .await
        .expect("slots from a healthy provider");
    let p = &expert.booking_policy;
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

/// Book, move and cancel an appointment through the service, written to the provider; creates and
/// bookings are idempotent and cancelling twice succeeds.
pub async fn appointment_round_trip(h: &dyn ConformanceHarness) {
    let strategy = h.strategy();
    let expert = h.expert();
    let client = h.client();
    let week = test_week(&expert);
    let wanted = slot_at(&expert, hour_on_wednesday(&week, &expert, 11));
    if strategy.scheduler().is_some() {
        offer(h, &expert, &week, &[wanted]).await;
    }
    let (service, store) = service_for(h, &client);
    // The slot the service offers there (a scheduler's length is its own).
    let first = slot_starting(&service, &expert, &week, wanted.start()).await;
    let booked = service
        .book(NewAppointment {
            expert_id: expert.id,
            client_id: client.id,
            time: first,
        })
        .await
        .expect("booking a free slot");
    if strategy.event_writer().is_none() && strategy.scheduler().is_none() {
        assert_eq!(booked.external_calendar_event_id, None, "nothing is written anywhere");
        assert_eq!(booked.sync_status, SyncStatus::NotApplicable);
        let cancelled = service
            .cancel(booked.id, CancelledBy::Client, None)
            .await
            .expect("cancel");
        assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
        return;
    }
    assert_eq!(
        booked.sync_status,
        SyncStatus::Synced,
        "a healthy provider receives the booking at once: {booked:?}"
    );
    assert_eq!(booked.calendar_type, strategy.calendar_type());
    let event = booked
        .external_calendar_event_id
        .clone()
        .expect("the provider's reference is kept");
    assert_eq!(
        h.event_time(&event).await,
        Some(first),
        "the provider holds the appointment's time"
    );
    if let Some(writer) = strategy.event_writer() {
        let again = writer
            .create_event(&expert, &client, &booked)
            .await
            .expect("a retried create succeeds");
        assert_eq!(again.id, event, "a retried create must not make a second event");
    }
    if let Some(scheduler) = strategy.scheduler() {
        match scheduler
            .book(&expert, &client, &booked)
            .await
            .expect("booking a booked appointment again")
        {
            ProviderBooking::Booked(again) => assert_eq!(
                again.id, event,
                "booking the same appointment again must not make a second booking"
            ),
            other => panic!("a scheduler that booked this appointment answered {other:?}"),
        }
        let moved = slot_at(&expert, hour_on_wednesday(&week, &expert, 15));
        assert!(
            matches!(
                service.reschedule(booked.id, moved).await,
                Err(CoreError::Unsupported { .. })
            ),
            "a scheduler's bookings are moved on its own pages, not here"
        );
    }
    let mut current = booked.clone();
    if strategy.event_writer().is_some() {
        let moved = slot_starting(&service, &expert, &week, hour_on_wednesday(&week, &expert, 15).start()).await;
        current = service.reschedule(booked.id, moved).await.expect("reschedule");
        assert_eq!(current.sync_status, SyncStatus::Synced, "{current:?}");
        let id = current.external_calendar_event_id.clone().expect("the event is kept");
        assert_eq!(
            h.event_time(&id).await,
            Some(moved),
            "the event moved with the appointment"
        );
    }
    let cancelled = service
        .cancel(current.id, CancelledBy::Client, None)
        .await
        .expect("cancel");
    assert_eq!(cancelled.sync_status, SyncStatus::Synced, "{cancelled:?}");
    let id = cancelled
        .external_calendar_event_id
        .clone()
        .expect("the reference stays");
    assert_eq!(
        h.event_time(&id).await,
        None,
        "a cancelled appointment is gone from the provider"
    );
    if let Some(writer) = strategy.event_writer() {
        writer
            .delete_event(&expert, &cancelled)
            .await
            .expect("deleting again is success");
    }
    if let Some(scheduler) = strategy.scheduler() {
        scheduler
            .cancel(&expert, &cancelled)
            .await
            .expect("cancelling again is success");
    }
    assert!(store.appointments_of(expert.id).iter().all(|a| !a.is_confirmed()));
}

/// For a strategy with [`VideoMeetings`](crate::VideoMeetings) (capability `video`): a booking of
/// an expert whose policy says `video: "provider"` gets an https meeting link from the calendar
/// (a pending meeting is read again until it is made), a retried create keeps that one meeting,
/// a reschedule keeps the link, and a policy without video asks for no meeting. A strategy
/// without it must not claim the capability.
pub async fn video_meetings(h: &dyn ConformanceHarness) {
    let strategy = h.strategy();
    let capabilities = crate::Capabilities::of(strategy.as_ref());
    let Some(video) = strategy.video() else {
        assert!(!capabilities.video, "no VideoMeetings part, no video capability");
        return;
    };
    let Some(writer) = strategy.event_writer() else {
        assert!(
            !capabilities.video,
            "meetings come with events: no event writer, no video capability"
        );
        return;
    };
    assert!(
        capabilities.video,
        "a calendar with VideoMeetings declares the video capability"
    );
    let client = h.client();
    let plain = h.expert();
    let week = test_week(&plain);
    let expert = Expert {
        booking_policy: plain
            .booking_policy
            .clone()
            .with_video(availability_domain::VideoPolicy::Provider),
        ..plain.clone()
    };
    let (service, store) = service_with(h, expert.clone(), &client);
    // Thursday: clear of the other checks' days.
    let wanted = slot_starting(&service, &expert, &week, hour_on(&week, &expert, 78, 11).start()).await;
    let booked = service
        .book(NewAppointment {
            expert_id: expert.id,
            client_id: client.id,
            time: wanted,
        })
        .await
        .expect("booking a free slot");
    assert_eq!(booked.sync_status, SyncStatus::Synced, "{booked:?}");
    if !h.makes_meetings() {
        assert_eq!(booked.meeting_url, None, "the account makes no meetings: {booked:?}");
        let reason = booked.meeting_error.clone().unwrap_or_default();
        assert!(
            !reason.is_empty(),
            "the appointment says why it has no meeting: {booked:?}"
        );
        assert!(
            matches!(
                video.meeting(&expert, &booked).await,
                Ok(crate::Meeting::Unavailable { .. })
            ),
            "the event says it has no meeting"
        );
        let moved = slot_starting(&service, &expert, &week, hour_on(&week, &expert, 78, 15).start()).await;
        let moved = service.reschedule(booked.id, moved).await.expect("reschedule");
        assert_eq!((moved.meeting_url, moved.meeting_error), (None, Some(reason)));
        service
            .cancel(booked.id, CancelledBy::Client, None)
            .await
            .expect("cancel");
        return;
    }
    assert_eq!(
        booked.meeting_error, None,
        "the harness's account makes meetings: {booked:?}"
    );
    let mut current = booked.clone();
    for _ in 0..20 {
        if current.meeting_url.is_some() {
            break;
        }
        // Pending: the calendar is still making it.
        current = service
            .refresh_meeting(booked.id)
            .await
            .expect("reading the meeting again");
    }
    let url = current
        .meeting_url
        .clone()
        .unwrap_or_else(|| panic!("the calendar never finished the meeting: {current:?}"));
    assert!(url.starts_with("https://"), "a meeting link is https: {url}");
    assert_eq!(
        video.meeting(&expert, &current).await.expect("reading the meeting"),
        crate::Meeting::Ready { url: url.clone() },
        "the event holds the meeting that was recorded"
    );
    let again = writer
        .create_event(&expert, &client, &current)
        .await
        .expect("a retried create succeeds");
    assert_eq!(Some(&again.id), current.external_calendar_event_id.as_ref());
    assert_eq!(
        again.meeting,
        Some(crate::Meeting::Ready { url: url.clone() }),
        "a retried create must not make a second meeting"
    );
    let moved = slot_starting(&service, &expert, &week, hour_on(&week, &expert, 78, 15).start()).await;
    let moved = service.reschedule(booked.id, moved).await.expect("reschedule");
    assert_eq!(
        moved.meeting_url.as_deref(),
        Some(url.as_str()),
        "a reschedule keeps the link"
    );
    assert_eq!(
        video.meeting(&expert, &moved).await.expect("reading the meeting"),
        crate::Meeting::Ready { url: url.clone() },
        "the moved event keeps its meeting"
    );
    service
        .cancel(booked.id, CancelledBy::Client, None)
        .await
        .expect("cancel");

    // Without video in the policy, no meeting is asked for.
    let (service, _) = service_with(h, plain.clone(), &client);
    let time = slot_starting(&service, &plain, &week, hour_on(&week, &plain, 78, 13).start()).await;
    let booked = service
        .book(NewAppointment {
            expert_id: plain.id,
            client_id: client.id,
            time,
        })
        .await
        .expect("booking a free slot");
    assert_eq!(
        (booked.meeting_url.clone(), booked.meeting_error.clone()),
        (None, None),
        "{booked:?}"
    );
    let again = writer
        .create_event(&plain, &client, &booked)
        .await
        .expect("a retried create succeeds");
    assert_eq!(again.meeting, None, "no meeting was asked for");
    service
        .cancel(booked.id, CancelledBy::Client, None)
        .await
        .expect("cancel");
    assert!(store.appointments_of(expert.id).iter().all(|a| !a.is_confirmed()));
}

/// Provider failures arrive as the core's error variants through the service, never as slots of
/// an empty calendar.
pub async fn errors_are_mapped(h: &dyn ConformanceHarness) {
    let strategy = h.strategy();
    if strategy.busy_time().is_none() && strategy.scheduler().is_none() {
        return;
    }
    let expert = h.expert();
    let week = test_week(&expert);
    for (failure, expected) in [
        (InjectedFailure::Unavailable, "ProviderUnavailable"),
        (InjectedFailure::Revoked, "NeedsReauth"),
    ] {
        // A new service: nothing cached from an earlier healthy answer.
        let (service, _) = service_for(h, &h.client());
        h.inject(failure).await;
        let got = service.slots(expert.id, week.start(), week.end(), None).await;
        h.heal().await;
        match (&got, failure) {
            (Err(CoreError::ProviderUnavailable { .. }), InjectedFailure::Unavailable) => {}
            (Err(CoreError::NeedsReauth { .. }), InjectedFailure::Revoked) => {}
            _ => panic!("with the provider {failure:?}, slots must fail with {expected}, got {got:?}"),
        }
    }
}

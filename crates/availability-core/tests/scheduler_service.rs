//! AvailabilityService with a scheduler (a strategy that is the system of record for its
//! bookings, like Calendly) that may answer a booking with a link instead of booking it: the
//! appointment is stored pending with the link, holds no time, is cancelled without a call to the
//! provider, cannot be rescheduled, and is confirmed (at the time the provider booked) through the
//! repository; a confirmation that overlaps a confirmed appointment changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    Appointment, AppointmentStatus, BookingPolicy, BookingState, CalendarType, CancelledBy, Client, ClientId, Expert,
    ExpertId, IntegrationType, Interval, NewAppointment, Schedule, Slot, SyncStatus, Zone,
};
use availability_core::engine::SlotQuery;
use availability_core::{
    AppointmentRepository, AvailabilityService, AvailabilityStrategy, CoreError, EventOutcome, ExpertCalendar,
    ExpertRepository, ExternalEvent, FixedClock, InMemoryStore, Invitee, ProviderBooking, ProviderEvent, Scheduler,
    StrategyRegistry,
};

const LINK: &str = "https://calendly.com/d/abc-def/consult";

const SCHEDULER: IntegrationType = IntegrationType::from_static("fake_scheduler");
const CALENDAR_TYPE: CalendarType = CalendarType::from_static("fake_scheduler");

/// A scheduler offering fixed start times; `direct` says whether it books or gives a link.
#[derive(Debug, Default)]
struct FakeScheduler {
    offered: Mutex<Vec<Slot>>,
    direct: AtomicBool,
    bookings: AtomicUsize,
    cancels: AtomicUsize,
}

impl AvailabilityStrategy for FakeScheduler {
    fn integration_type(&self) -> IntegrationType {
        SCHEDULER
    }
    fn display_name(&self) -> &'static str {
        "Fake Scheduler"
    }
    fn calendar_type(&self) -> Option<CalendarType> {
        Some(CALENDAR_TYPE)
    }
    fn scheduler(&self) -> Option<&dyn Scheduler> {
        Some(self)
    }
}

#[async_trait]
impl Scheduler for FakeScheduler {
    async fn available_slots(&self, calendar: &ExpertCalendar, _: &SlotQuery) -> Result<Vec<Slot>, CoreError> {
        let taken = calendar.appointment_intervals();
        Ok(self
            .offered
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|s| !taken.iter().any(|t| t.start() < s.end && s.start < t.end()))
            .collect())
    }
    async fn book(&self, _: &Expert, _: &Client, a: &Appointment) -> Result<ProviderBooking, CoreError> {
        if self.direct.load(Ordering::SeqCst) {
            self.bookings.fetch_add(1, Ordering::SeqCst);
            return Ok(ProviderBooking::Booked(ExternalEvent::new(format!("invitee-{}", a.id))));
        }
        Ok(ProviderBooking::Pending {
            scheduling_url: LINK.into(),
        })
    }
    async fn cancel(&self, _: &Expert, _: &Appointment) -> Result<(), CoreError> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn half_hour(start: &str) -> Interval {
    Interval::new(ts(start), ts(start) + SignedDuration::from_mins(30)).unwrap()
}

struct World {
    service: AvailabilityService,
    store: Arc<InMemoryStore>,
    scheduler: Arc<FakeScheduler>,
    expert: Expert,
    client: Client,
}

fn world() -> World {
    let store = Arc::new(InMemoryStore::new());
    let expert = Expert {
        id: ExpertId::new(),
        name: "C".into(),
        email: "c@example.com".into(),
        timezone: Zone::utc(),
        integration_type: SCHEDULER,
        booking_policy: BookingPolicy::default(),
    };
    let client = Client {
        id: ClientId::new(),
        name: "Ann".into(),
        email: "ann@example.com".into(),
        timezone: Zone::utc(),
    };
    store.put_schedule(expert.id, Schedule::empty(Zone::utc()));
    store.put_expert(expert.clone());
    store.put_client(client.clone());
    let scheduler = Arc::new(FakeScheduler::default());
    scheduler.offered.lock().unwrap().extend(
        ["2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z", "2026-03-02T10:00:00Z"].map(|s| {
            let i = half_hour(s);
            Slot {
                start: i.start(),
                end: i.end(),
            }
        }),
    );
    let clock = Arc::new(FixedClock::new(ts("2026-03-01T00:00:00Z")));
    let service = AvailabilityService::new(
        store.clone(),
        store.clone(),
        StrategyRegistry::new().with(scheduler.clone()),
    )
    .with_clock(clock);
    World {
        service,
        store,
        scheduler,
        expert,
        client,
    }
}

impl World {
    async fn book(&self, start: &str) -> Result<Appointment, CoreError> {
        self.service
            .book(NewAppointment {
                expert_id: self.expert.id,
                client_id: self.client.id,
                time: half_hour(start),
            })
            .await
    }

    async fn slot_starts(&self) -> Vec<Timestamp> {
        self.service
            .slots(
                self.expert.id,
                ts("2026-03-02T00:00:00Z"),
                ts("2026-03-03T00:00:00Z"),
                None,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.start)
            .collect()
    }
}

#[tokio::test]
async fn a_link_instead_of_a_booking_is_stored_pending_and_holds_no_time() {
    let w = world();
    let pending = w.book("2026-03-02T09:00:00Z").await.unwrap();
    assert_eq!(pending.status, AppointmentStatus::Pending);
    assert_eq!(pending.scheduling_url.as_deref(), Some(LINK));
    assert_eq!(pending.external_calendar_event_id, None);
    assert_eq!(pending.calendar_type, Some(CALENDAR_TYPE));
    assert_eq!(pending.sync_status, SyncStatus::NotApplicable);
    assert_eq!(pending.created_at, ts("2026-03-01T00:00:00Z"));
    assert_eq!(
        w.store.appointment(pending.id).await.unwrap(),
        pending,
        "stored as answered"
    );
    assert_eq!(w.scheduler.bookings.load(Ordering::SeqCst), 0);
    assert!(
        w.slot_starts().await.contains(&ts("2026-03-02T09:00:00Z")),
        "a pending appointment does not take its time"
    );

    // The same time again (another client's link, or this client's second): pending too.
    let again = w.book("2026-03-02T09:00:00Z").await.unwrap();
    assert_eq!(again.status, AppointmentStatus::Pending);
    assert_ne!(again.id, pending.id);

    // No reschedule before it is booked: a state conflict.
    let moved = w
        .service
        .reschedule(pending.id, half_hour("2026-03-02T10:00:00Z"))
        .await;
    assert!(
        matches!(&moved, Err(CoreError::PendingNotReschedulable(id)) if *id == pending.id),
        "{moved:?}"
    );

    // Cancelled here only: the provider holds nothing for it.
    let cancelled = w
        .service
        .cancel(pending.id, CancelledBy::Client, Some("changed my mind".into()))
        .await
        .unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert_eq!(
        cancelled.scheduling_url, None,
        "the link belongs to pending appointments"
    );
    assert_eq!(cancelled.sync_status, SyncStatus::NotApplicable);
    assert_eq!(w.scheduler.cancels.load(Ordering::SeqCst), 0, "no call to the provider");
}

#[tokio::test]
async fn the_provider_confirms_at_the_time_it_booked_once_and_never_over_a_confirmed_one() {
    let w = world();
    let pending = w.book("2026-03-02T09:00:00Z").await.unwrap();
    // The client picked 09:30 at the link.
    let booked = half_hour("2026-03-02T09:30:00Z");
    let now = ts("2026-03-01T08:00:00Z");
    let confirmed = w
        .store
        .confirm_pending(pending.id, "invitee-1".into(), booked, now)
        .await
        .unwrap();
    assert_eq!(confirmed.status, AppointmentStatus::Confirmed);
    assert_eq!(
        (confirmed.start_time, confirmed.end_time),
        (booked.start(), booked.end())
    );
    assert_eq!(confirmed.external_calendar_event_id.as_deref(), Some("invitee-1"));
    assert_eq!(confirmed.scheduling_url, None);
    assert_eq!(confirmed.sync_status, SyncStatus::Synced);
    assert_eq!(confirmed.updated_at, now);
    assert!(
        !w.slot_starts().await.contains(&booked.start()),
        "now it holds its time"
    );
    // The same confirmation again changes nothing; another invitee cannot take it over.
    let again = w
        .store
        .confirm_pending(pending.id, "invitee-1".into(), booked, ts("2026-03-01T09:00:00Z"))
        .await
        .unwrap();
    assert_eq!(again, confirmed);
    assert!(matches!(
        w.store
            .confirm_pending(pending.id, "invitee-2".into(), booked, now)
            .await,
        Err(CoreError::NotPending(_))
    ));

    // A second pending appointment whose booking lands on the confirmed one: refused, unchanged.
    let second = w.book("2026-03-02T10:00:00Z").await.unwrap();
    let clash = w
        .store
        .confirm_pending(second.id, "invitee-3".into(), half_hour("2026-03-02T09:45:00Z"), now)
        .await;
    assert!(matches!(clash, Err(CoreError::SlotTaken)), "{clash:?}");
    assert_eq!(w.store.appointment(second.id).await.unwrap(), second);

    // A cancelled one cannot be confirmed.
    w.service.cancel(second.id, CancelledBy::Client, None).await.unwrap();
    assert!(matches!(
        w.store
            .confirm_pending(second.id, "invitee-4".into(), half_hour("2026-03-02T10:00:00Z"), now)
            .await,
        Err(CoreError::NotPending(_))
    ));
}

#[tokio::test]
async fn a_scheduler_that_books_directly_confirms_at_once() {
    let w = world();
    w.scheduler.direct.store(true, Ordering::SeqCst);
    let booked = w.book("2026-03-02T09:00:00Z").await.unwrap();
    assert_eq!(booked.status, AppointmentStatus::Confirmed);
    assert_eq!(booked.scheduling_url, None);
    assert_eq!(
        booked.external_calendar_event_id,
        Some(format!("invitee-{}", booked.id))
    );
    assert!(!w.slot_starts().await.contains(&booked.start_time));
    // And cancelling it reaches the provider.
    w.service.cancel(booked.id, CancelledBy::Client, None).await.unwrap();
    assert_eq!(w.scheduler.cancels.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn only_pending_appointments_are_recorded_as_pending() {
    let w = world();
    w.scheduler.direct.store(true, Ordering::SeqCst);
    let confirmed = w.book("2026-03-02T09:00:00Z").await.unwrap();
    let refused = w.store.record_pending(confirmed).await;
    assert!(matches!(refused, Err(CoreError::NotPending(_))), "{refused:?}");
}

fn invitee(email: &str) -> Invitee {
    Invitee {
        email: email.into(),
        name: "Walk In".into(),
        timezone: None,
    }
}

fn booked(external_id: &str, start: &str, email: &str) -> ProviderEvent {
    ProviderEvent::Booked {
        external_id: external_id.into(),
        time: half_hour(start),
        invitee: invitee(email),
        rescheduled: false,
    }
}

/// What a provider reports is decided in the service, so an embedder gets what the server does:
/// a booking finishes the client's pending appointment (email compared case-insensitively), at
/// the time the provider booked; a repeat changes nothing.
#[tokio::test]
async fn a_reported_booking_finishes_the_clients_pending_appointment() {
    let w = world();
    let pending = w.book("2026-03-02T09:00:00Z").await.unwrap();
    let outcome = w
        .service
        .apply_provider_event(
            w.expert.id,
            booked("invitee-9", "2026-03-02T09:30:00Z", "ANN@Example.com"),
        )
        .await
        .unwrap();
    assert_eq!(outcome, EventOutcome::Applied);
    let confirmed = w.store.appointment(pending.id).await.unwrap();
    assert_eq!(confirmed.status, AppointmentStatus::Confirmed);
    assert_eq!(
        confirmed.start_time,
        ts("2026-03-02T09:30:00Z"),
        "the time the provider booked"
    );
    assert_eq!(confirmed.external_calendar_event_id.as_deref(), Some("invitee-9"));
    let again = w
        .service
        .apply_provider_event(
            w.expert.id,
            booked("invitee-9", "2026-03-02T09:30:00Z", "ann@example.com"),
        )
        .await
        .unwrap();
    assert_eq!(again, EventOutcome::Unchanged);
    assert_eq!(
        w.store.appointments_of(w.expert.id).len(),
        1,
        "nothing added by the repeat"
    );
}

/// A booking made on the provider's own pages is recorded (a client created for a new email);
/// one that overlaps a confirmed appointment is held, and confirmed as soon as that appointment
/// is cancelled; a reported cancellation cancels.
#[tokio::test]
async fn walk_in_bookings_are_recorded_held_on_overlap_and_confirmed_when_the_time_frees() {
    let w = world();
    w.scheduler.direct.store(true, Ordering::SeqCst);
    let ours = w.book("2026-03-02T10:00:00Z").await.unwrap();

    let outcome = w
        .service
        .apply_provider_event(
            w.expert.id,
            booked("walk-in-1", "2026-03-02T09:00:00Z", "new@example.com"),
        )
        .await
        .unwrap();
    assert_eq!(outcome, EventOutcome::Applied);
    let client = w
        .store
        .client_by_email("NEW@example.com")
        .await
        .unwrap()
        .expect("a new client");
    assert_eq!(client.name, "Walk In");
    let walk_in = w.store.by_external_id("walk-in-1").await.unwrap().unwrap();
    assert_eq!(
        (walk_in.client_id, walk_in.status),
        (client.id, AppointmentStatus::Confirmed)
    );

    // Over our 10:00 booking: held, with the clash as its sync error.
    w.service
        .apply_provider_event(
            w.expert.id,
            booked("walk-in-2", "2026-03-02T10:00:00Z", "new@example.com"),
        )
        .await
        .unwrap();
    let held = w.store.by_external_id("walk-in-2").await.unwrap().unwrap();
    assert_eq!(held.state(), BookingState::Held);
    assert!(
        held.sync_error.as_deref().unwrap().contains("Fake Scheduler booked"),
        "{held:?}"
    );
    assert_eq!(w.store.held(w.expert.id).await.unwrap(), vec![held.clone()]);

    // Cancelling ours frees the time: the held booking is confirmed at once.
    w.service.cancel(ours.id, CancelledBy::Client, None).await.unwrap();
    let now_confirmed = w.store.appointment(held.id).await.unwrap();
    assert_eq!(now_confirmed.state(), BookingState::Confirmed);
    assert_eq!(now_confirmed.sync_error, None);

    // Cancelled on the provider: cancelled here, with the provider's name in the reason.
    let cancelled = w
        .service
        .apply_provider_event(
            w.expert.id,
            ProviderEvent::Cancelled {
                external_id: "walk-in-1".into(),
                reason: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(cancelled, EventOutcome::Applied);
    let gone = w.store.appointment(walk_in.id).await.unwrap();
    assert_eq!(gone.status, AppointmentStatus::Cancelled);
    assert_eq!(gone.cancellation_reason.as_deref(), Some("cancelled on Fake Scheduler"));
}

#[tokio::test]
async fn a_scheduler_decides_its_own_slots_and_explains_none() {
    let w = world();
    let why = w.service.explain(w.expert.id, ts("2026-03-02T09:00:00Z"), None).await;
    assert!(
        matches!(&why, Err(CoreError::Unsupported { integration, .. }) if *integration == w.expert.integration_type),
        "{why:?}"
    );
}

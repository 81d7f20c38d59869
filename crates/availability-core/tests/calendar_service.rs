//! AvailabilityService with a calendar strategy: busy time is subtracted, cached for slots for a
//! short while, never replaced by an empty calendar when the provider is down, and used as a
//! booking fallback only while it is recent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::Secret;
use availability_core::domain::{
    Appointment, BookingPolicy, CalendarType, Client, ClientId, DayOfWeek, Expert, ExpertId, IntegrationType, Interval,
    NewAppointment, Schedule, WeeklyRule, Zone,
};
use availability_core::{
    AvailabilityService, AvailabilityStrategy, BusyTimeSource, CoreError, CredentialRepository, EventWriter,
    ExpertRepository, ExternalEvent, FixedClock, InMemoryStore, ReasonCode, StrategyRegistry,
};

const CALENDAR: IntegrationType = IntegrationType::from_static("fake_calendar");
const OTHER_CALENDAR: IntegrationType = IntegrationType::from_static("other_calendar");

#[derive(Debug)]
struct FakeCalendar {
    integration: IntegrationType,
    busy: std::sync::Mutex<Vec<Interval>>,
    calls: AtomicUsize,
    down: AtomicBool,
}

impl FakeCalendar {
    fn new(integration: IntegrationType, busy: &[Interval]) -> Self {
        Self {
            integration,
            busy: std::sync::Mutex::new(busy.to_vec()),
            calls: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        }
    }
}

impl AvailabilityStrategy for FakeCalendar {
    fn integration_type(&self) -> IntegrationType {
        self.integration
    }
    fn display_name(&self) -> &'static str {
        "Fake Calendar"
    }
    fn calendar_type(&self) -> Option<CalendarType> {
        Some(CalendarType::from_static("fake"))
    }
    fn busy_time(&self) -> Option<&dyn BusyTimeSource> {
        Some(self)
    }
    fn event_writer(&self) -> Option<&dyn EventWriter> {
        Some(self)
    }
}

#[async_trait]
impl BusyTimeSource for FakeCalendar {
    async fn busy_intervals(&self, _expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(CoreError::ProviderUnavailable {
                integration: self.integration,
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
}

#[async_trait]
impl EventWriter for FakeCalendar {
    async fn create_event(&self, _: &Expert, _: &Client, a: &Appointment) -> Result<ExternalEvent, CoreError> {
        Ok(ExternalEvent::new(format!("evt-{}", a.id)))
    }
    async fn update_event(&self, _: &Expert, _: &Client, a: &Appointment) -> Result<ExternalEvent, CoreError> {
        Ok(ExternalEvent::new(format!("evt-{}", a.id)))
    }
    async fn delete_event(&self, _: &Expert, _: &Appointment) -> Result<(), CoreError> {
        Ok(())
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

struct World {
    service: AvailabilityService,
    store: Arc<InMemoryStore>,
    calendar: Arc<FakeCalendar>,
    other: Arc<FakeCalendar>,
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
        integration_type: CALENDAR,
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
    let calendar = Arc::new(FakeCalendar::new(
        CALENDAR,
        &[Interval::new(ts("2026-03-02T10:00:00Z"), ts("2026-03-02T11:00:00Z")).unwrap()],
    ));
    // Another calendar the expert may switch to: busy 09:00-10:00 instead.
    let other = Arc::new(FakeCalendar::new(
        OTHER_CALENDAR,
        &[Interval::new(ts("2026-03-02T09:00:00Z"), ts("2026-03-02T10:00:00Z")).unwrap()],
    ));
    let clock = Arc::new(FixedClock::new(ts("2026-03-01T00:00:00Z")));
    let strategies = StrategyRegistry::new().with(calendar.clone()).with(other.clone());
    let service = AvailabilityService::new(store.clone(), store.clone(), strategies).with_clock(clock.clone());
    World {
        service,
        store,
        calendar,
        other,
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

fn starts(slots: &[availability_core::domain::Slot]) -> Vec<String> {
    slots.iter().map(|s| s.start.to_string()).collect()
}

/// The busy-time cache is keyed by the connection: switching to another calendar, or
/// reconnecting the same one, shows the new calendar's busy time in the very next answer,
/// within the 30 s the cache would otherwise serve.
#[tokio::test]
async fn switching_or_reconnecting_a_calendar_never_serves_the_old_busy_time() {
    let w = world();
    let first = w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    assert_eq!(
        starts(&first),
        [
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:30:00Z",
            "2026-03-02T11:00:00Z",
            "2026-03-02T11:30:00Z"
        ]
    );
    let mut expert = w.store.expert(w.expert).await.unwrap();
    expert.integration_type = OTHER_CALENDAR;
    w.store.put_expert(expert.clone());
    let switched = w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    assert_eq!(
        starts(&switched),
        [
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:30:00Z",
            "2026-03-02T11:00:00Z",
            "2026-03-02T11:30:00Z"
        ],
        "the other calendar's busy time, at once"
    );
    assert_eq!(w.other.calls.load(Ordering::SeqCst), 1);

    // Back to the first calendar, now with other busy time, after a reconnect (a new grant).
    expert.integration_type = CALENDAR;
    w.store.put_expert(expert);
    w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    let calls = w.calendar.calls.load(Ordering::SeqCst);
    *w.calendar.busy.lock().unwrap() = vec![half_hour("2026-03-02T11:30:00Z")];
    w.store
        .save(w.expert, CALENDAR, Secret::new("a new grant".to_owned()))
        .await
        .unwrap();
    let reconnected = w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    assert_eq!(
        w.calendar.calls.load(Ordering::SeqCst),
        calls + 1,
        "asked again after the reconnect"
    );
    assert_eq!(
        starts(&reconnected),
        [
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:30:00Z",
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:30:00Z",
            "2026-03-02T11:00:00Z"
        ]
    );
}

#[tokio::test]
async fn an_explanation_agrees_with_the_slots_and_names_the_calendar() {
    let w = world();
    let shown: Vec<Timestamp> = w
        .service
        .slots(w.expert, ts(DAY.0), ts(DAY.1), None)
        .await
        .unwrap()
        .iter()
        .map(|s| s.start)
        .collect();
    let mut start = ts("2026-03-02T08:00:00Z");
    while start < ts("2026-03-02T13:00:00Z") {
        let why = w.service.explain(w.expert, start, None).await.unwrap();
        assert_eq!(why.bookable, shown.contains(&start), "{start}: {why:?}");
        assert_eq!(why.bookable, why.reasons.is_empty(), "{start}: {why:?}");
        start += SignedDuration::from_mins(5);
    }
    let codes = |reasons: &[availability_core::Reason]| reasons.iter().map(|r| r.code).collect::<Vec<_>>();
    let busy = w
        .service
        .explain(w.expert, ts("2026-03-02T10:00:00Z"), None)
        .await
        .unwrap();
    assert_eq!(codes(&busy.reasons), [ReasonCode::CalendarBusy]);
    assert_eq!(busy.reasons[0].detail.as_deref(), Some("Fake Calendar"));
    let late = w
        .service
        .explain(w.expert, ts("2026-03-02T12:00:00Z"), None)
        .await
        .unwrap();
    assert_eq!(codes(&late.reasons), [ReasonCode::OutsideHours]);
    // A length of its own: 09:00-10:30 reaches the busy hour.
    let long = w
        .service
        .explain(w.expert, ts("2026-03-02T09:00:00Z"), Some(ts("2026-03-02T10:30:00Z")))
        .await
        .unwrap();
    assert_eq!(codes(&long.reasons), [ReasonCode::CalendarBusy]);

    w.service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T09:00:00Z"),
        })
        .await
        .unwrap();
    let taken = w
        .service
        .explain(w.expert, ts("2026-03-02T09:00:00Z"), None)
        .await
        .unwrap();
    assert_eq!(codes(&taken.reasons), [ReasonCode::Appointment]);

    let reversed = w
        .service
        .explain(w.expert, ts("2026-03-02T09:00:00Z"), Some(ts("2026-03-02T09:00:00Z")))
        .await;
    assert!(matches!(reversed, Err(CoreError::Invalid(_))), "{reversed:?}");
    let too_long = w
        .service
        .explain(w.expert, ts("2026-03-02T09:00:00Z"), Some(ts("2026-03-03T09:01:00Z")))
        .await;
    assert!(matches!(too_long, Err(CoreError::Invalid(_))), "{too_long:?}");
}

#[tokio::test]
async fn limits_count_pending_appointments_in_slots_explanations_and_bookings() {
    let w = world();
    let mut expert = w.store.expert(w.expert).await.unwrap();
    expert.booking_policy = BookingPolicy::default().with_max_bookings_per_week(Some(1)).unwrap();
    w.store.put_expert(expert);
    assert_eq!(
        w.service
            .slots(w.expert, ts(DAY.0), ts(DAY.1), None)
            .await
            .unwrap()
            .len(),
        4,
        "an empty week"
    );
    // A pending booking (a provider's, waiting for the client) on Wednesday fills the week.
    let at = ts("2026-03-01T00:00:00Z");
    let pending = Appointment {
        id: availability_core::domain::AppointmentId::new(),
        expert_id: w.expert,
        client_id: w.client,
        start_time: ts("2026-03-04T15:00:00Z"),
        end_time: ts("2026-03-04T15:30:00Z"),
        status: availability_core::domain::AppointmentStatus::Pending,
        calendar_type: None,
        external_calendar_event_id: None,
        scheduling_url: None,
        sync_status: availability_core::domain::SyncStatus::NotApplicable,
        cancellation_reason: None,
        cancelled_by: None,
        sync_error: None,
        meeting_url: None,
        meeting_error: None,
        series_id: None,
        created_at: at,
        updated_at: at,
    };
    w.store.put_appointment(pending.clone());
    let slots = w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    assert!(slots.is_empty(), "{slots:?}");
    let why = w
        .service
        .explain(w.expert, ts("2026-03-02T09:00:00Z"), None)
        .await
        .unwrap();
    assert!(!why.bookable);
    assert!(
        why.reasons.iter().any(|r| r.code == ReasonCode::LimitReached),
        "{why:?}"
    );
    let refused = w
        .service
        .book(NewAppointment {
            expert_id: w.expert,
            client_id: w.client,
            time: half_hour("2026-03-02T09:00:00Z"),
        })
        .await;
    assert!(matches!(refused, Err(CoreError::LimitReached(_))), "{refused:?}");
    // The following week is another week.
    let next = w
        .service
        .slots(w.expert, ts("2026-03-09T00:00:00Z"), ts("2026-03-10T00:00:00Z"), None)
        .await
        .unwrap();
    assert_eq!(next.len(), 6, "{next:?}");
    // Once cancelled, it counts no more.
    w.store.put_appointment(Appointment {
        status: availability_core::domain::AppointmentStatus::Cancelled,
        ..pending
    });
    w.clock.set(ts("2026-03-01T00:01:00Z"));
    assert_eq!(
        w.service
            .slots(w.expert, ts(DAY.0), ts(DAY.1), None)
            .await
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn the_directory_questions_answer_from_the_slots_and_name_a_calendar_that_is_down() {
    use availability_core::{check_directory_question, DirectoryAnswer};
    let w = world();
    let slots = w.service.slots(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    let free = w.service.next_free(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    let DirectoryAnswer::Answered(Some(free)) = free else {
        panic!("{free:?}")
    };
    assert_eq!((free.next_slot, free.slot_count), (slots[0], slots.len()));
    // Free for exactly a slot; not for a busy time, nor off the grid.
    for (start, expected) in [
        ("2026-03-02T09:30:00Z", true),
        ("2026-03-02T10:00:00Z", false),
        ("2026-03-02T09:10:00Z", false),
    ] {
        let answer = w.service.is_free(w.expert, half_hour(start)).await.unwrap();
        assert_eq!(answer, DirectoryAnswer::Answered(expected), "{start}");
    }
    // A calendar that is down is that expert's answer, not an error of the whole question.
    w.calendar.down.store(true, Ordering::SeqCst);
    w.clock.set(ts("2026-03-01T00:01:00Z"));
    let down = w.service.next_free(w.expert, ts(DAY.0), ts(DAY.1), None).await.unwrap();
    assert!(
        matches!(
            down,
            DirectoryAnswer::Unavailable(CoreError::ProviderUnavailable { .. })
        ),
        "{down:?}"
    );
    // A wrong question is refused before any expert is asked.
    assert!(matches!(
        check_directory_question(ts(DAY.1), ts(DAY.0), None),
        Err(CoreError::WindowReversed)
    ));
    assert!(check_directory_question(ts(DAY.0), ts(DAY.1), Some(2)).is_err());
}

#[tokio::test]
async fn a_series_is_stored_whole_or_not_at_all_in_memory_too() {
    use availability_core::domain::{Frequency, Recurrence};
    let w = world();
    let mut expert = w.store.expert(w.expert).await.unwrap();
    expert.booking_policy = BookingPolicy::default().with_max_series_occurrences(4).unwrap();
    w.store.put_expert(expert);
    let weekly = |n| Recurrence::count(Frequency::Weekly, 1, n).unwrap();
    let first = NewAppointment {
        expert_id: w.expert,
        client_id: w.client,
        time: half_hour("2026-03-02T09:00:00Z"),
    };
    // The 2nd Monday's 09:00 is taken: "reject" stores nothing and names it.
    w.service
        .book(NewAppointment {
            time: half_hour("2026-03-09T09:00:00Z"),
            ..first.clone()
        })
        .await
        .unwrap();
    let before = w.store.appointments_of(w.expert).len();
    let rejected = w.service.book_series(first.clone(), weekly(3), false).await;
    match rejected {
        Err(CoreError::SeriesConflict(list)) => {
            assert_eq!(list.len(), 1);
            assert_eq!(list[0].start_time, ts("2026-03-09T09:00:00Z"));
            assert_eq!(list[0].code, "slot_taken");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.store.appointments_of(w.expert).len(), before, "nothing stored");
    let skipped = w.service.book_series(first.clone(), weekly(3), true).await.unwrap();
    assert_eq!(skipped.appointments.len(), 2);
    assert_eq!(skipped.skipped.len(), 1);
    assert!(skipped
        .appointments
        .iter()
        .all(|a| a.series_id == Some(skipped.series.id)));
    let too_many = w.service.book_series(first, weekly(5), false).await;
    assert!(matches!(too_many, Err(CoreError::SeriesRefused(_))), "{too_many:?}");
}

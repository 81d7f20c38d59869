//! Two-way sync in the service (`AvailabilityService::follow_calendar`) with a scripted change
//! feed: an appointment whose event is deleted in the calendar is cancelled, one whose event is
//! moved takes the new time, one moved onto another appointment keeps its time as `conflict` until
//! it is moved back, a change is never applied twice, others' events and appointments with a
//! write of ours still pending are left alone, and the cursor is kept for the next read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingPolicy, CalendarType, Client, ClientId, Expert, ExpertId,
    IntegrationType, Interval, SyncStatus, Zone,
};
use availability_core::{
    AppointmentRepository, AvailabilityService, AvailabilityStrategy, CalendarChange, ChangeBatch, ChangeFeed,
    CoreError, FixedClock, InMemoryStore, StrategyRegistry,
};

const CALENDAR: IntegrationType = IntegrationType::from_static("fake_calendar");

/// A calendar whose reads are scripted; it remembers the cursors it was asked with.
#[derive(Debug, Default)]
struct ScriptedFeed {
    batches: Mutex<VecDeque<Vec<CalendarChange>>>,
    asked_with: Mutex<Vec<Option<String>>>,
}

impl AvailabilityStrategy for ScriptedFeed {
    fn integration_type(&self) -> IntegrationType {
        CALENDAR
    }
    fn display_name(&self) -> &'static str {
        "Fake Calendar"
    }
    fn calendar_type(&self) -> Option<CalendarType> {
        Some(CalendarType::from_static("fake"))
    }
    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        Some(self)
    }
}

#[async_trait]
impl ChangeFeed for ScriptedFeed {
    async fn changes(&self, _expert: &Expert, cursor: Option<&str>) -> Result<ChangeBatch, CoreError> {
        let mut asked = self.asked_with.lock().unwrap();
        asked.push(cursor.map(str::to_owned));
        let changes = self.batches.lock().unwrap().pop_front().unwrap_or_default();
        Ok(ChangeBatch {
            changes,
            cursor: format!("cursor-{}", asked.len()),
        })
    }
}

fn at(hour: u32) -> Interval {
    let start: Timestamp = format!("2026-03-02T{hour:02}:00:00Z").parse().unwrap();
    Interval::new(
        start,
        start + availability_core::domain::jiff::SignedDuration::from_hours(1),
    )
    .unwrap()
}

fn moved(event: &str, hour: u32) -> CalendarChange {
    CalendarChange::At {
        event_id: event.into(),
        time: at(hour),
    }
}

fn removed(event: &str) -> CalendarChange {
    CalendarChange::Removed { event_id: event.into() }
}

struct World {
    service: AvailabilityService,
    store: Arc<InMemoryStore>,
    feed: Arc<ScriptedFeed>,
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
    let (e, c) = (expert.id, client.id);
    store.put_expert(expert);
    store.put_client(client);
    let feed = Arc::new(ScriptedFeed::default());
    let service = AvailabilityService::new(store.clone(), store.clone(), StrategyRegistry::new().with(feed.clone()))
        .with_clock(Arc::new(FixedClock::new("2026-03-01T00:00:00Z".parse().unwrap())));
    World {
        service,
        store,
        feed,
        expert: e,
        client: c,
    }
}

impl World {
    /// A confirmed appointment whose event `event` the calendar holds.
    fn appointment(&self, event: &str, hour: u32, sync: SyncStatus) -> AppointmentId {
        let time = at(hour);
        let now: Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
        let a = Appointment {
            id: AppointmentId::new(),
            expert_id: self.expert,
            client_id: self.client,
            start_time: time.start(),
            end_time: time.end(),
            status: AppointmentStatus::Confirmed,
            calendar_type: Some(CalendarType::from_static("fake")),
            external_calendar_event_id: Some(event.into()),
            scheduling_url: None,
            sync_status: sync,
            cancellation_reason: None,
            cancelled_by: None,
            sync_error: None,
            meeting_url: None,
            meeting_error: None,
            series_id: None,
            created_at: now,
            updated_at: now,
        };
        self.store.put_appointment(a.clone());
        a.id
    }

    async fn get(&self, id: AppointmentId) -> Appointment {
        self.store.appointment(id).await.unwrap()
    }

    fn script(&self, changes: Vec<CalendarChange>) {
        self.feed.batches.lock().unwrap().push_back(changes);
    }
}

#[tokio::test]
async fn deleted_and_moved_events_are_followed_once() {
    let w = world();
    let deleted = w.appointment("e-deleted", 9, SyncStatus::Synced);
    let moving = w.appointment("e-moving", 10, SyncStatus::Synced);
    let onto = w.appointment("e-onto", 11, SyncStatus::Synced);
    let blocker = w.appointment("e-blocker", 14, SyncStatus::Synced);
    let in_flight = w.appointment("e-in-flight", 16, SyncStatus::Pending);

    let batch = vec![
        removed("e-deleted"),
        moved("e-moving", 12),
        moved("e-onto", 14),
        moved("e-in-flight", 8),
        moved("e-blocker", 14),
        moved("someone-elses", 9),
        removed("also-not-ours"),
    ];
    w.script(batch.clone());
    let summary = w.service.follow_calendar(w.expert).await.unwrap();
    assert_eq!(
        (summary.read, summary.cancelled, summary.moved, summary.conflicts),
        (7, 1, 1, 1)
    );

    let d = w.get(deleted).await;
    assert_eq!(d.status, AppointmentStatus::Cancelled);
    assert_eq!(d.cancellation_reason.as_deref(), Some("deleted in Fake Calendar"));
    let m = w.get(moving).await;
    assert_eq!(m.interval(), Some(at(12)), "takes the event's new time");
    assert_eq!(m.status, AppointmentStatus::Confirmed);
    assert_eq!(m.sync_status, SyncStatus::Synced, "nothing to write back");
    let o = w.get(onto).await;
    assert_eq!(o.interval(), Some(at(11)), "keeps its time");
    assert_eq!(o.sync_status, SyncStatus::Conflict);
    let reason = o.sync_error.unwrap();
    assert!(
        reason.contains(&blocker.to_string()) && reason.contains("Fake Calendar"),
        "{reason}"
    );
    assert_eq!(w.get(blocker).await.interval(), Some(at(14)));
    assert_eq!(
        w.get(in_flight).await.interval(),
        Some(at(16)),
        "our own write is still on its way: not followed"
    );

    // The same read again (a repeated notification, a full read) changes nothing.
    w.script(batch);
    let again = w.service.follow_calendar(w.expert).await.unwrap();
    assert!(!again.changed_any(), "{again:?}");
    assert_eq!(w.get(moving).await.interval(), Some(at(12)));

    // Moved back onto its own time, the conflict is over.
    w.script(vec![moved("e-onto", 11)]);
    let back = w.service.follow_calendar(w.expert).await.unwrap();
    assert_eq!(back.moved, 1);
    let o = w.get(onto).await;
    assert_eq!((o.sync_status, o.sync_error), (SyncStatus::Synced, None));

    // Each read starts where the one before left off.
    assert_eq!(
        *w.feed.asked_with.lock().unwrap(),
        vec![None, Some("cursor-1".into()), Some("cursor-2".into())]
    );
}

#[tokio::test]
async fn a_deletion_in_the_same_read_frees_the_time_for_a_move() {
    let w = world();
    let stays = w.appointment("e-gone", 9, SyncStatus::Synced);
    let comes = w.appointment("e-comes", 10, SyncStatus::Synced);
    // The calendar lists the move before the deletion; deletions are applied first.
    w.script(vec![moved("e-comes", 9), removed("e-gone")]);
    let summary = w.service.follow_calendar(w.expert).await.unwrap();
    assert_eq!((summary.cancelled, summary.moved, summary.conflicts), (1, 1, 0));
    assert_eq!(w.get(stays).await.status, AppointmentStatus::Cancelled);
    assert_eq!(w.get(comes).await.interval(), Some(at(9)));
}

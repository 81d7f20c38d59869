//! What the tests share: a FakeCalendly with one event type, an expert connected to it with a
//! personal access token (stored in an InMemoryStore), and small builders.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use availability_core::engine::SlotQuery;
use availability_core::{ExpertCalendar, InMemoryStore};
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingPolicy, Client, ClientId, Expert, ExpertId, Interval,
    Schedule, Secret, SyncStatus, Zone,
};
use provider_calendly::{CalendlyBuilder, CalendlyStrategy, StoredCalendly, SCOPES};
use provider_fakes::FakeCalendly;
use provider_http::HttpPolicy;

/// A budget short enough for failure tests, long enough for a 1 s X-RateLimit-Reset.
pub fn fast_policy() -> HttpPolicy {
    HttpPolicy::default()
        .with_total_timeout(Duration::from_secs(3))
        .with_request_timeout(Duration::from_secs(2))
        .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .with_max_attempts(3)
}

pub struct Setup {
    pub fake: FakeCalendly,
    pub store: Arc<InMemoryStore>,
    pub strategy: Arc<CalendlyStrategy>,
    pub expert: Expert,
    pub client: Client,
    pub event_type: String,
    pub stored: StoredCalendly,
}

pub fn expert(zone: &str, policy: BookingPolicy) -> Expert {
    Expert {
        id: ExpertId::new(),
        name: "Dr. Ada".into(),
        email: "ada@example.com".into(),
        timezone: Zone::new(zone).unwrap(),
        integration_type: provider_calendly::INTEGRATION,
        booking_policy: policy,
    }
}

pub fn client() -> Client {
    Client {
        id: ClientId::new(),
        name: "Ann Lee".into(),
        email: "ann@example.com".into(),
        timezone: Zone::new("America/New_York").unwrap(),
    }
}

pub fn builder(fake: &FakeCalendly, store: &Arc<InMemoryStore>) -> CalendlyBuilder {
    CalendlyBuilder::new(store.clone(), store.clone())
        .with_api_base(fake.api_base())
        .with_policy(fast_policy())
}

/// A fake with one active event type of `minutes`, and an expert connected to it with a token.
pub async fn connected(minutes: i64, configure: impl FnOnce(CalendlyBuilder) -> CalendlyBuilder) -> Setup {
    connected_as(expert("Europe/Berlin", BookingPolicy::default()), minutes, configure).await
}

pub async fn connected_as(
    expert: Expert,
    minutes: i64,
    configure: impl FnOnce(CalendlyBuilder) -> CalendlyBuilder,
) -> Setup {
    let fake = FakeCalendly::start().await;
    let event_type = fake.add_event_type("Consultation", minutes);
    let store = Arc::new(InMemoryStore::new());
    let strategy = Arc::new(configure(builder(&fake, &store)).build().unwrap());
    store.put_expert(expert.clone());
    let token = fake.personal_access_token(&SCOPES);
    let stored = strategy
        .connect_with_token(expert.id, Secret::new(token), None)
        .await
        .unwrap();
    strategy.save(expert.id, &stored).await.unwrap();
    Setup {
        fake,
        store,
        strategy,
        expert,
        client: client(),
        event_type,
        stored,
    }
}

pub fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub fn interval(start: Timestamp, minutes: i64) -> Interval {
    Interval::new(start, start + SignedDuration::from_mins(minutes)).unwrap()
}

/// Midnight UTC `days` days from now.
pub fn days_ahead(days: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now - now.rem_euclid(86_400) + days * 86_400).unwrap()
}

/// What a direct booking gave: the invitee as the external event (a test of an account that
/// may book directly).
pub trait BookedEvent {
    fn event(self) -> availability_core::ExternalEvent;
}

impl BookedEvent for provider_calendly::BookingOutcome {
    fn event(self) -> availability_core::ExternalEvent {
        match self {
            provider_calendly::BookingOutcome::Booked { invitee_uri, .. } => {
                availability_core::ExternalEvent::new(invitee_uri)
            }
            other => panic!("expected a direct booking, got {other:?}"),
        }
    }
}

pub fn calendar(expert: &Expert, appointments: Vec<Appointment>) -> ExpertCalendar {
    ExpertCalendar {
        expert: expert.clone(),
        schedules: availability_domain::ScheduleSet::only(
            availability_domain::ScheduleId::new(),
            Schedule::empty(expert.timezone.clone()),
        ),
        appointments,
        holds: vec![],
        connection: 0,
    }
}

pub fn query(window: Interval, now: Timestamp, duration_minutes: Option<u32>) -> SlotQuery {
    SlotQuery {
        window,
        now,
        duration_minutes,
    }
}

pub fn appointment(expert: &Expert, client: &Client, time: Interval) -> Appointment {
    Appointment {
        id: AppointmentId::new(),
        expert_id: expert.id,
        client_id: client.id,
        start_time: time.start(),
        end_time: time.end(),
        status: AppointmentStatus::Confirmed,
        calendar_type: Some(provider_calendly::CALENDAR_TYPE),
        external_calendar_event_id: None,
        scheduling_url: None,
        sync_status: SyncStatus::Pending,
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

/// The RFC 3339 text Calendly's fake takes in its controls.
pub fn text(ts: Timestamp) -> String {
    ts.to_string()
}

/// The query parameters of every logged request to `path`.
pub fn queries(fake: &FakeCalendly, path: &str) -> Vec<Vec<(String, String)>> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| {
            r.query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":")))
                .collect()
        })
        .collect()
}

pub fn param(query: &[(String, String)], name: &str) -> String {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// How many invitees the fake holds, active or canceled.
pub fn invitee_count(fake: &FakeCalendly) -> usize {
    fake.invitees().len()
}

/// The time the fake holds for an active invitee, None when canceled or unknown.
pub fn invitee_time(fake: &FakeCalendly, invitee_uri: &str) -> Option<Interval> {
    let invitee = fake
        .invitees()
        .into_iter()
        .find(|i| i["uri"] == invitee_uri && i["status"] == "active")?;
    let event = fake
        .scheduled_events()
        .into_iter()
        .find(|e| e["uri"] == invitee["event"] && e["status"] == "active")?;
    Interval::new(
        event["start_time"].as_str()?.parse().ok()?,
        event["end_time"].as_str()?.parse().ok()?,
    )
    .ok()
}

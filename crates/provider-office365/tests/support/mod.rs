//! A strategy connected to a `FakeGraph` over real HTTP, with an `InMemoryStore` as credential
//! and integration repository, and small helpers the tests share.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingPolicy, Client, ClientId, DayOfWeek, Expert, ExpertId,
    IntegrationType, Interval, Schedule, Secret, SyncStatus, WeeklyRule, Zone,
};
use availability_core::{ExpertCalendar, InMemoryStore};
use provider_fakes::{FakeGraph, IssuedTokens};
use provider_http::{HttpPolicy, TokenSet};
use provider_office365::{Office365Account, Office365Builder, Office365CalendarStrategy, SCOPES};
use serde_json::Value;

pub const OFFICE365: IntegrationType = provider_office365::INTEGRATION;

/// Short budgets and backoffs so that failure tests are quick (the budget still covers a
/// Retry-After of 1 s).
pub fn policy() -> HttpPolicy {
    HttpPolicy::default()
        .with_total_timeout(Duration::from_secs(5))
        .with_request_timeout(Duration::from_secs(3))
        .with_backoff(Duration::from_millis(10), Duration::from_millis(100))
}

pub fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub fn interval(start: &str, end: &str) -> Interval {
    Interval::new(ts(start), ts(end)).unwrap()
}

/// A fake event's time (`{"dateTime":"…0000000","timeZone":"UTC"}`).
pub fn event_interval(event: &Value) -> Option<Interval> {
    let instant = |field: &str| -> Option<Timestamp> {
        assert_eq!(event[field]["timeZone"], "UTC");
        format!("{}Z", event[field]["dateTime"].as_str()?).parse().ok()
    };
    Interval::new(instant("start")?, instant("end")?).ok()
}

/// Tokens of the fake as the OAuth callback would have them.
pub fn token_set(issued: IssuedTokens, lifetime_secs: i64) -> TokenSet {
    TokenSet {
        access_token: Secret::new(issued.access_token),
        refresh_token: issued.refresh_token.map(Secret::new),
        expires_at: Timestamp::now() + SignedDuration::from_secs(lifetime_secs),
        scope: Some(issued.scopes.join(" ")),
        response_fields: Default::default(),
    }
}

pub fn client() -> Client {
    Client {
        id: ClientId::new(),
        name: "Ann Lee".into(),
        email: "ann@example.com".into(),
        timezone: Zone::utc(),
    }
}

pub fn expert(zone: &str, policy: BookingPolicy) -> Expert {
    Expert {
        id: ExpertId::new(),
        name: "Dr. Ada Example".into(),
        email: "ada@example.com".into(),
        timezone: Zone::new(zone).unwrap(),
        integration_type: OFFICE365,
        booking_policy: policy,
    }
}

/// Monday to Friday, 09:00-17:00 in the expert's zone.
pub fn weekday_hours(expert: &Expert) -> Schedule {
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
    Schedule::new(expert.timezone.clone(), rules, vec![]).unwrap()
}

/// Midnight UTC of the first Monday at least `days` days from now.
pub fn monday_after(days: i64) -> Timestamp {
    let utc = availability_core::domain::jiff::tz::TimeZone::UTC;
    let mut date = utc
        .to_datetime(Timestamp::now() + SignedDuration::from_hours(days * 24))
        .date();
    while DayOfWeek::of(date).number() != 1 {
        date = date.tomorrow().unwrap();
    }
    utc.to_timestamp(date.to_datetime(availability_core::domain::jiff::civil::Time::midnight()))
        .unwrap()
}

pub struct Connected {
    pub fake: FakeGraph,
    pub store: Arc<InMemoryStore>,
    pub strategy: Arc<Office365CalendarStrategy>,
    pub expert: Expert,
}

impl Connected {
    /// The fake and a strategy built against it (through the builder's own token manager), the
    /// expert not connected yet.
    pub async fn start_with(expert: Expert) -> Self {
        let fake = FakeGraph::start().await;
        let store = Arc::new(InMemoryStore::new());
        let strategy = Office365Builder::new()
            .with_app_credentials(fake.client_id(), Secret::new(fake.client_secret()))
            .with_authority(fake.base_url())
            .with_tenant("common")
            .with_graph_base(fake.graph_base())
            .with_policy(policy())
            .with_credentials(store.clone())
            .with_integrations(store.clone())
            .build()
            .unwrap();
        Connected {
            fake,
            store,
            strategy: Arc::new(strategy),
            expert,
        }
    }

    pub async fn start() -> Self {
        Self::start_with(expert("Europe/Berlin", BookingPolicy::default())).await
    }

    pub async fn connected() -> Self {
        let connected = Self::start().await;
        connected.connect().await;
        connected
    }

    /// Tokens from the fake, stored through the strategy (GET /me included).
    pub async fn connect(&self) -> Office365Account {
        let issued = self.fake.issue_token(&SCOPES);
        self.strategy
            .store_grant(self.expert.id, token_set(issued, 3599))
            .await
            .unwrap()
    }

    pub fn calendar(&self) -> ExpertCalendar {
        ExpertCalendar {
            expert: self.expert.clone(),
            schedules: availability_domain::ScheduleSet::only(
                availability_domain::ScheduleId::new(),
                weekday_hours(&self.expert),
            ),
            appointments: vec![],
            holds: vec![],
            connection: 0,
        }
    }

    pub fn appointment(&self, client: &Client, time: Interval) -> Appointment {
        Appointment {
            id: AppointmentId::new(),
            expert_id: self.expert.id,
            client_id: client.id,
            start_time: time.start(),
            end_time: time.end(),
            status: AppointmentStatus::Confirmed,
            calendar_type: Some(provider_office365::CALENDAR_TYPE),
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

    /// The fake's live event with this id.
    pub fn event(&self, id: &str) -> Option<Value> {
        self.fake.events().into_iter().find(|e| e["id"] == id)
    }

    /// Bodies of the getSchedule requests the fake received.
    pub fn schedule_requests(&self) -> Vec<Value> {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.path == "/v1.0/me/calendar/getSchedule")
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }
}

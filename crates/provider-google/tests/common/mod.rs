//! What the tests share: a FakeGoogle, an InMemoryStore as credential and integration repository,
//! a token manager of the app `oauth_config` describes, a connected expert, and the strategy.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    Appointment, AppointmentId, AppointmentStatus, BookingPolicy, Client, ClientId, Expert, ExpertId, IntegrationType,
    Interval, Secret, SyncStatus, Zone,
};
use availability_core::InMemoryStore;
use provider_fakes::google::{ACCOUNT_EMAIL, SCOPE_CALENDARLIST_READONLY, SCOPE_EVENTS, SCOPE_FREEBUSY};
use provider_fakes::FakeGoogle;
use provider_google::{oauth_config, GoogleCalendarBuilder, GoogleCalendarStrategy};
use provider_http::{HttpPolicy, OAuthApp, TokenManager, TokenSet};
use serde_json::Value;

pub const GOOGLE: IntegrationType = provider_google::INTEGRATION;

/// The default policy with short backoffs, so that retries do not slow the tests down.
pub fn quick_policy() -> HttpPolicy {
    HttpPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(50))
}

pub struct Setup {
    pub fake: FakeGoogle,
    pub store: Arc<InMemoryStore>,
    pub tokens: TokenManager,
    pub strategy: Arc<GoogleCalendarStrategy>,
    pub expert: Expert,
    pub client: Client,
}

pub fn expert(zone: &str, policy: BookingPolicy) -> Expert {
    Expert {
        id: ExpertId::new(),
        name: "Dr. Ada Example".into(),
        email: "ada@example.com".into(),
        timezone: Zone::new(zone).unwrap(),
        integration_type: GOOGLE,
        booking_policy: policy,
    }
}

impl Setup {
    /// A fake, and an expert in Europe/Berlin connected to it.
    pub async fn start() -> Self {
        Self::with(quick_policy(), expert("Europe/Berlin", BookingPolicy::default())).await
    }

    pub async fn with(policy: HttpPolicy, expert: Expert) -> Self {
        let fake = FakeGoogle::start().await;
        let store = Arc::new(InMemoryStore::new());
        let app = OAuthApp::with_policy(
            oauth_config(
                fake.client_id(),
                Secret::new(fake.client_secret()),
                fake.auth_url(),
                fake.token_url(),
                Some(fake.revoke_url()),
            ),
            policy.clone(),
        )
        .unwrap();
        let tokens = TokenManager::new(Arc::new(app), store.clone(), store.clone());
        let strategy = GoogleCalendarBuilder::new(tokens.clone(), store.clone())
            .with_api_base(fake.api_base())
            .with_policy(policy)
            .build()
            .unwrap();
        store.put_expert(expert.clone());
        let client = Client {
            id: ClientId::new(),
            name: "Ann Lee".into(),
            email: "ann@example.com".into(),
            timezone: Zone::new("America/New_York").unwrap(),
        };
        store.put_client(client.clone());
        let setup = Setup {
            fake,
            store,
            tokens,
            strategy: Arc::new(strategy),
            expert,
            client,
        };
        setup.connect().await;
        setup
    }

    /// Stores a fresh grant (the three calendar scopes) from the fake, as the OAuth callback
    /// would, replacing any earlier one.
    pub async fn connect(&self) {
        self.connect_expiring_at(Timestamp::now() + SignedDuration::from_secs(3599))
            .await;
    }

    /// Stores a fresh grant that this side believes expires at `expires_at`.
    pub async fn connect_expiring_at(&self, expires_at: Timestamp) {
        let issued = self
            .fake
            .issue_token(&[SCOPE_EVENTS, SCOPE_FREEBUSY, SCOPE_CALENDARLIST_READONLY]);
        let tokens = TokenSet {
            access_token: Secret::new(issued.access_token),
            refresh_token: issued.refresh_token.map(Secret::new),
            expires_at,
            scope: Some(issued.scopes.join(" ")),
            response_fields: Default::default(),
        };
        self.tokens
            .store_new_grant(self.expert.id, tokens, Some(ACCOUNT_EMAIL.into()), Value::Null)
            .await
            .unwrap();
    }

    /// A confirmed appointment of the expert with the client.
    pub fn appointment(&self, start: &str, minutes: i64) -> Appointment {
        let start: Timestamp = start.parse().unwrap();
        Appointment {
            id: AppointmentId::new(),
            expert_id: self.expert.id,
            client_id: self.client.id,
            start_time: start,
            end_time: start + SignedDuration::from_mins(minutes),
            status: AppointmentStatus::Confirmed,
            calendar_type: Some(provider_google::CALENDAR_TYPE),
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

    /// How many token requests refreshed a token.
    pub fn refreshes(&self) -> usize {
        self.fake
            .token_requests()
            .iter()
            .filter(|r| r.param("grant_type") == Some("refresh_token"))
            .count()
    }
}

pub fn interval(start: &str, end: &str) -> Interval {
    Interval::new(start.parse().unwrap(), end.parse().unwrap()).unwrap()
}

/// The live event `id` of `calendar` in the fake, as an interval (None if missing or cancelled).
pub fn event_time(fake: &FakeGoogle, calendar: &str, id: &str) -> Option<Interval> {
    let event = fake
        .events(calendar)
        .into_iter()
        .find(|e| e["id"].as_str() == Some(id))?;
    if event["status"] == "cancelled" {
        return None;
    }
    let at = |field: &str| -> Timestamp { event[field]["dateTime"].as_str().unwrap().parse().unwrap() };
    Some(Interval::new(at("start"), at("end")).unwrap())
}

//! CalendlyStrategy passes the shared conformance suite against FakeCalendly over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use availability_core::conformance::{self, ConformanceHarness, InjectedFailure};
use availability_core::{AvailabilityStrategy, CredentialRepository};
use availability_domain::jiff::SignedDuration;
use availability_domain::{BookingPolicy, Client, Expert, Interval, Secret, Slot};
use provider_calendly::{CalendlyAuth, StoredCalendly, SCOPES};

use common::{connected_as, days_ahead, expert, invitee_time, text, Setup};

struct Harness {
    setup: Setup,
}

impl Harness {
    /// An expert connected with a personal access token to an event type of one hour (the
    /// suite's appointments are an hour long), offered every half hour over the weeks the suite
    /// uses.
    async fn start(expert: Expert) -> Self {
        let setup = connected_as(expert, 60, |b| b).await;
        let from = days_ahead(7);
        let starts: Vec<String> = (0..(16 * 48))
            .map(|i| text(from + SignedDuration::from_mins(30 * i)))
            .collect();
        let starts: Vec<&str> = starts.iter().map(String::as_str).collect();
        setup.fake.seed_available_times(&setup.event_type, &starts).unwrap();
        Self { setup }
    }
}

#[async_trait]
impl ConformanceHarness for Harness {
    fn strategy(&self) -> Arc<dyn AvailabilityStrategy> {
        self.setup.strategy.clone()
    }

    fn expert(&self) -> Expert {
        self.setup.expert.clone()
    }

    fn client(&self) -> Client {
        self.setup.client.clone()
    }

    async fn seed_busy(&self, _intervals: &[Interval]) {
        unreachable!("a scheduler's busy time is already left out of its available times")
    }

    async fn seed_provider_slots(&self, slots: &[Slot]) {
        let starts: Vec<String> = slots.iter().map(|s| text(s.start)).collect();
        let starts: Vec<&str> = starts.iter().map(String::as_str).collect();
        self.setup
            .fake
            .seed_available_times(&self.setup.event_type, &starts)
            .unwrap();
    }

    async fn event_time(&self, event_id: &str) -> Option<Interval> {
        invitee_time(&self.setup.fake, event_id)
    }

    async fn inject(&self, failure: InjectedFailure) {
        match failure {
            // More than the policy's attempts: every call of the query fails.
            InjectedFailure::Unavailable => self.setup.fake.fail_next(100, 503),
            InjectedFailure::Revoked => self.setup.fake.revoke_grant(),
        }
    }

    async fn heal(&self) {
        // A new token (the old one may be revoked), stored as the expert's.
        let token = self.setup.fake.personal_access_token(&SCOPES);
        let expert = self.setup.expert.id;
        let credential = self
            .setup
            .store
            .load(expert, provider_calendly::INTEGRATION)
            .await
            .unwrap()
            .unwrap();
        let mut stored = StoredCalendly::from_credential(&credential).unwrap();
        stored.auth = CalendlyAuth::PersonalAccessToken(Secret::new(token.clone()));
        self.setup.strategy.save(expert, &stored).await.unwrap();
        // The fake has no control to forget injected failures: use up what is left of them.
        let http = reqwest::Client::new();
        for _ in 0..200 {
            let status = http
                .get(format!("{}/users/me", self.setup.fake.api_base()))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status();
            if status.is_success() {
                return;
            }
        }
        panic!("the fake kept failing after heal");
    }
}

#[tokio::test]
async fn calendly_strategy_conforms() {
    let harness = Harness::start(expert("Europe/Berlin", BookingPolicy::default())).await;
    conformance::run_all(&harness).await;
}

#[tokio::test]
async fn calendly_strategy_conforms_with_buffers_in_another_zone() {
    let policy = BookingPolicy::new(45, 15, 10, 20, 0, 60).unwrap();
    let harness = Harness::start(expert("America/New_York", policy)).await;
    conformance::run_all(&harness).await;
}

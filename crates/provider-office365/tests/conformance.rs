//! Office365CalendarStrategy passes the shared conformance suite against FakeGraph over real
//! HTTP: a work account (getSchedule), a personal account (calendarView), and an expert with
//! buffers in another zone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use availability_core::conformance::{self, ConformanceHarness, InjectedFailure};
use availability_core::domain::{BookingPolicy, Client, Expert, Interval};
use availability_core::AvailabilityStrategy;
use support::{event_interval, Connected};

struct Harness {
    connected: Connected,
    /// Whether the account offers Teams meetings (a personal one does not).
    teams: bool,
}

#[async_trait]
impl ConformanceHarness for Harness {
    fn strategy(&self) -> Arc<dyn AvailabilityStrategy> {
        self.connected.strategy.clone()
    }

    fn expert(&self) -> Expert {
        self.connected.expert.clone()
    }

    fn client(&self) -> Client {
        support::client()
    }

    async fn seed_busy(&self, intervals: &[Interval]) {
        for busy in intervals {
            self.connected
                .fake
                .seed_schedule_item("busy", &busy.start().to_string(), &busy.end().to_string())
                .unwrap();
        }
    }

    async fn event_time(&self, event_id: &str) -> Option<Interval> {
        self.connected.event(event_id).as_ref().and_then(event_interval)
    }

    async fn inject(&self, failure: InjectedFailure) {
        match failure {
            InjectedFailure::Unavailable => self.connected.fake.set_unavailable(true),
            InjectedFailure::Revoked => self.connected.fake.revoke_grant(),
        }
    }

    fn makes_meetings(&self) -> bool {
        self.teams
    }

    async fn heal(&self) {
        let fake = &self.connected.fake;
        fake.set_unavailable(false);
        let state = self
            .connected
            .store
            .integration_state(self.connected.expert.id, support::OFFICE365);
        if state.needs_reauth {
            // The expert consents again.
            self.connected.connect().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn office365_strategy_conforms() {
    let harness = Harness {
        connected: Connected::connected().await,
        teams: true,
    };
    conformance::run_all(&harness).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn office365_strategy_conforms_for_personal_accounts() {
    let connected = Connected::start().await;
    connected.fake.set_personal_account(true);
    assert!(connected.connect().await.personal);
    let harness = Harness {
        connected,
        teams: false,
    };
    conformance::run_all(&harness).await;
    assert_eq!(
        harness.connected.fake.request_count("/v1.0/me/calendar/getSchedule"),
        0,
        "a personal account is never asked for getSchedule"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn office365_strategy_conforms_with_buffers_in_another_zone() {
    let policy = BookingPolicy::new(45, 15, 10, 20, 0, 60).unwrap();
    let connected = Connected::start_with(support::expert("America/New_York", policy)).await;
    connected.connect().await;
    conformance::run_all(&Harness { connected, teams: true }).await;
}

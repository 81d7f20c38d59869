//! ManualStrategy passes the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use availability_core::conformance::{self, ConformanceHarness, InjectedFailure};
use availability_core::AvailabilityStrategy;
use availability_domain::{BookingPolicy, Client, ClientId, Expert, ExpertId, IntegrationType, Interval, Zone};
use provider_manual::ManualStrategy;

struct Manual {
    expert: Expert,
}

#[async_trait]
impl ConformanceHarness for Manual {
    fn strategy(&self) -> Arc<dyn AvailabilityStrategy> {
        Arc::new(ManualStrategy::new())
    }
    fn expert(&self) -> Expert {
        self.expert.clone()
    }
    fn client(&self) -> Client {
        Client {
            id: ClientId::new(),
            name: "Ann Lee".into(),
            email: "ann@example.com".into(),
            timezone: Zone::utc(),
        }
    }
    async fn seed_busy(&self, _intervals: &[Interval]) {
        panic!("manual hours read no external busy time")
    }
    async fn event_time(&self, _event_id: &str) -> Option<Interval> {
        panic!("manual hours write no events")
    }
    async fn inject(&self, _failure: InjectedFailure) {}
    async fn heal(&self) {}
}

fn expert(zone: &str, policy: BookingPolicy) -> Expert {
    Expert {
        id: ExpertId::new(),
        name: "Dr. Example".into(),
        email: "expert@example.com".into(),
        timezone: Zone::new(zone).unwrap(),
        integration_type: IntegrationType::MANUAL,
        booking_policy: policy,
    }
}

#[tokio::test]
async fn manual_strategy_conforms() {
    conformance::run_all(&Manual {
        expert: expert("Europe/Berlin", BookingPolicy::default()),
    })
    .await;
}

#[tokio::test]
async fn manual_strategy_conforms_with_buffers_in_another_zone() {
    let policy = BookingPolicy::new(45, 15, 10, 20, 0, 60).unwrap();
    conformance::run_all(&Manual {
        expert: expert("America/New_York", policy),
    })
    .await;
}

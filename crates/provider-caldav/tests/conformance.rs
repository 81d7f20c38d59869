//! CaldavStrategy passes the shared conformance suite against Radicale, behind the loopback
//! proxy that injects failures (503 for an unavailable server, 401 for a revoked password).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability_core::conformance::{self, ConformanceHarness, InjectedFailure};
use availability_core::domain::{Client, Expert, Interval};
use availability_core::{AvailabilityStrategy, InMemoryStore};
use provider_caldav::testing::{peers_or_skip, radicale, Proxy, ProxyFailure};
use provider_caldav::CaldavStrategy;
use support::{client, connect, event_time, expert, quick_policy, strategy, Raw};

struct Harness {
    strategy: Arc<CaldavStrategy>,
    expert: Expert,
    client: Client,
    proxy: Proxy,
    raw: Raw,
    calendar: String,
}

#[async_trait]
impl ConformanceHarness for Harness {
    fn strategy(&self) -> Arc<dyn AvailabilityStrategy> {
        self.strategy.clone()
    }

    fn expert(&self) -> Expert {
        self.expert.clone()
    }

    fn client(&self) -> Client {
        self.client.clone()
    }

    async fn seed_busy(&self, intervals: &[Interval]) {
        for (n, interval) in intervals.iter().enumerate() {
            let format = |t: availability_core::domain::jiff::Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
            let body = format!(
                "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nBEGIN:VEVENT\nUID:seed-{n}-{}\nDTSTAMP:20270101T000000Z\nDTSTART:{}\nDTEND:{}\nEND:VEVENT\nEND:VCALENDAR\n",
                interval.start().as_second(),
                format(interval.start()),
                format(interval.end())
            );
            self.raw
                .put(
                    &self.calendar,
                    &format!("seed-{n}-{}", interval.start().as_second()),
                    &body,
                )
                .await;
        }
    }

    async fn event_time(&self, event_id: &str) -> Option<Interval> {
        // The event id is the event's URL (on the proxy, which forwards it to Radicale).
        self.raw.get(event_id).await.as_deref().and_then(event_time)
    }

    async fn inject(&self, failure: InjectedFailure) {
        self.proxy.fail_with(Some(match failure {
            InjectedFailure::Unavailable => ProxyFailure::Unavailable,
            InjectedFailure::Revoked => ProxyFailure::Unauthorized,
        }));
    }

    async fn heal(&self) {
        self.proxy.fail_with(None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforms_over_radicale() {
    let Some(server) = peers_or_skip("conforms_over_radicale", radicale()) else {
        return;
    };
    server.add_user("carol", "app-password").unwrap();
    let proxy = Proxy::start(&server.base_url).unwrap();
    let store = Arc::new(InMemoryStore::new());
    // Budget short enough that a server kept failing ends the call quickly.
    let strategy = strategy(&store, quick_policy().with_total_timeout(Duration::from_secs(3)));
    let expert = expert("Europe/Berlin", "carol@example.com");
    server
        .create_calendar("carol", "app-password", "main", "Main")
        .await
        .unwrap();
    let account = connect(
        &store,
        &strategy,
        expert.id,
        &format!("{}carol/", proxy.url),
        "carol",
        "app-password",
    )
    .await
    .unwrap();
    let calendar = account.calendars[0].id.clone();
    assert!(calendar.starts_with(&proxy.url), "{calendar}");
    let harness = Harness {
        strategy: strategy.clone(),
        expert: expert.clone(),
        client: client(),
        proxy,
        raw: Raw::new("carol", "app-password"),
        calendar,
    };
    conformance::run_all(&harness).await;
    let state = store.integration_state(expert.id, strategy.integration_type());
    assert!(state.needs_reauth, "the injected 401 marked the integration: {state:?}");
}

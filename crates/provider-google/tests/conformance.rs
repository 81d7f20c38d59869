//! GoogleCalendarStrategy passes the shared conformance suite against FakeGoogle over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use availability_core::conformance::{self, ConformanceHarness, InjectedFailure};
use availability_core::domain::{BookingPolicy, Client, Expert, Interval};
use availability_core::AvailabilityStrategy;
use common::{event_time, expert, quick_policy, Setup};

/// The budget of one call in these tests: "the provider is down" is a fake that answers later
/// than this. Generous for a loopback server, so that a busy test machine does not fail the
/// healthy calls.
const BUDGET: Duration = Duration::from_secs(3);

struct Harness {
    setup: Setup,
    /// The calendar appointments go to (and busy time is seeded in).
    calendar: String,
    injected: Mutex<Option<InjectedFailure>>,
}

impl Harness {
    async fn start(expert: Expert, event_calendar: Option<&str>) -> Self {
        let setup = Setup::with(quick_policy().with_total_timeout(BUDGET), expert).await;
        let calendar = match event_calendar {
            None => "primary".to_owned(),
            Some(id) => {
                setup.fake.add_calendar(id, "Consultations", false);
                setup
                    .strategy
                    .set_calendars(setup.expert.id, vec!["primary".into(), id.into()], id.into())
                    .await
                    .unwrap();
                id.to_owned()
            }
        };
        Harness {
            setup,
            calendar,
            injected: Mutex::new(None),
        }
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

    async fn seed_busy(&self, intervals: &[Interval]) {
        let spans: Vec<(String, String)> = intervals
            .iter()
            .map(|i| (i.start().to_string(), i.end().to_string()))
            .collect();
        let spans: Vec<(&str, &str)> = spans.iter().map(|(s, e)| (s.as_str(), e.as_str())).collect();
        self.setup.fake.seed_busy(&self.calendar, &spans).unwrap();
    }

    async fn event_time(&self, event_id: &str) -> Option<Interval> {
        event_time(&self.setup.fake, &self.calendar, event_id)
    }

    async fn inject(&self, failure: InjectedFailure) {
        match failure {
            // Every answer comes after the budget: the strategy must give up, not report free time.
            InjectedFailure::Unavailable => self.setup.fake.set_latency(BUDGET * 3),
            InjectedFailure::Revoked => self.setup.fake.revoke_grant(),
        }
        *self.injected.lock().unwrap() = Some(failure);
    }

    async fn heal(&self) {
        let injected = self.injected.lock().unwrap().take();
        match injected {
            Some(InjectedFailure::Unavailable) => self.setup.fake.set_latency(Duration::ZERO),
            // The expert reconnects: a new grant (which starts with the default calendars).
            Some(InjectedFailure::Revoked) => {
                self.setup.connect().await;
                if self.calendar != "primary" {
                    let busy = vec!["primary".to_owned(), self.calendar.clone()];
                    let strategy = &self.setup.strategy;
                    strategy
                        .set_calendars(self.setup.expert.id, busy, self.calendar.clone())
                        .await
                        .unwrap();
                }
            }
            None => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn google_strategy_conforms() {
    let harness = Harness::start(expert("Europe/Berlin", BookingPolicy::default()), None).await;
    conformance::run_all(&harness).await;
    let state = harness
        .setup
        .store
        .integration_state(harness.setup.expert.id, common::GOOGLE);
    assert!(!state.needs_reauth, "reconnecting cleared needs_reauth");
}

#[tokio::test(flavor = "multi_thread")]
async fn google_strategy_conforms_with_buffers_in_another_zone_and_calendar() {
    let policy = BookingPolicy::new(45, 15, 10, 20, 0, 60).unwrap();
    // A calendar id that needs percent-encoding in paths ('#').
    let harness = Harness::start(
        expert("America/New_York", policy),
        Some("team#consult@group.calendar.google.com"),
    )
    .await;
    // Meet conferences come back pending and are made on the second read of their event.
    harness.setup.fake.set_conference_pending_reads(2);
    conformance::run_all(&harness).await;
    let conferences = harness.setup.fake.conferences();
    assert_eq!(
        conferences.len(),
        1,
        "one booking with video, one conference, whatever the retries: {conferences:?}"
    );
    // The appointments went to the chosen calendar, none to the primary one.
    assert!(harness.setup.fake.events("primary").is_empty());
    assert!(!harness.setup.fake.events(&harness.calendar).is_empty());
}

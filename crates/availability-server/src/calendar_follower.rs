//! Two-way sync's catch-up: every CALENDAR_SYNC_SECONDS (default 900, api.md's 15 minutes), or
//! more often for a calendar that asks to be polled (CalDAV: every 60 s), each
//! expert whose active calendar has a change feed is read for what changed there since the last
//! read, and their appointments follow (cancelled when the event was deleted, moved when it was
//! moved; see `AvailabilityService::follow_calendar`). Correctness does not depend on push
//! notifications: this runs whether or not any arrive. Every server process runs it; applying a
//! change twice changes nothing the second time.

use std::time::{Duration, Instant};

use availability_domain::IntegrationType;

use availability_core::{AvailabilityService, StrategyRegistry};
use availability_store::Store;

/// What the follower needs.
pub struct CalendarFollower {
    /// The database.
    pub store: Store,
    /// The service (a clone shares the HTTP workers' busy-time cache, which it drops).
    pub service: AvailabilityService,
    /// To know which integrations have a change feed.
    pub strategies: StrategyRegistry,
    /// The time between two rounds.
    pub every: Duration,
}

impl CalendarFollower {
    /// Runs until the process ends. Each integration is read at its own pace: the catch-up
    /// interval, or more often where its feed asks to be polled (a calendar without push).
    pub async fn run(self) {
        let mut feeds: Vec<(IntegrationType, Duration, Instant)> = self
            .strategies
            .iter()
            .filter_map(|s| {
                let feed = s.change_feed()?;
                let every = feed.poll_interval().map_or(self.every, |p| p.min(self.every));
                Some((s.integration_type(), every, Instant::now() + every))
            })
            .collect();
        let Some(tick) = feeds.iter().map(|(_, every, _)| *every).min() else {
            return;
        };
        loop {
            tokio::time::sleep(tick).await;
            let now = Instant::now();
            let due: Vec<IntegrationType> = feeds
                .iter_mut()
                .filter(|(_, _, next)| *next <= now)
                .map(|(integration, every, next)| {
                    *next = now + *every;
                    *integration
                })
                .collect();
            if !due.is_empty() {
                self.round(&due).await;
            }
        }
    }

    async fn round(&self, types: &[IntegrationType]) {
        let experts = match self.store.experts_using(types.to_vec()).await {
            Ok(experts) => experts,
            Err(e) => {
                tracing::warn!("calendar follower: cannot list experts: {e}");
                return;
            }
        };
        for expert in experts {
            match self.service.follow_calendar(expert).await {
                Ok(summary) if summary.changed_any() => tracing::info!(
                    "calendar of expert {expert}: {} cancelled, {} moved, {} in conflict",
                    summary.cancelled,
                    summary.moved,
                    summary.conflicts
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("calendar of expert {expert}: cannot follow its changes: {e}"),
            }
        }
    }
}

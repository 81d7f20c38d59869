//! Two-way sync's catch-up: every CALENDAR_SYNC_SECONDS (default 900, api.md's 15 minutes) each
//! expert whose active calendar has a change feed is read for what changed there since the last
//! read, and their appointments follow (cancelled when the event was deleted, moved when it was
//! moved; see `AvailabilityService::follow_calendar`). Correctness does not depend on push
//! notifications: this runs whether or not any arrive. Every server process runs it; applying a
//! change twice changes nothing the second time.

use std::time::Duration;

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
    /// Runs until the process ends.
    pub async fn run(self) {
        let types: Vec<_> = self
            .strategies
            .iter()
            .filter(|s| s.change_feed().is_some())
            .map(|s| s.integration_type())
            .collect();
        if types.is_empty() {
            return;
        }
        loop {
            tokio::time::sleep(self.every).await;
            self.round(&types).await;
        }
    }

    async fn round(&self, types: &[availability_domain::IntegrationType]) {
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

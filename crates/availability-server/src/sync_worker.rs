//! The outbox worker: brings experts' external calendars in line with their appointments. A job
//! is queued in the transaction that changes the appointment; this worker claims due jobs (a
//! lease, so two server processes never run one job at once), calls the strategy of the calendar
//! the appointment was written to, and records the outcome. Failures are retried with backoff from
//! 1 s doubling to 30 s for up to 24 h; then the appointment's sync is marked failed with the
//! reason. A restarted server simply claims the jobs that are still queued.

use std::sync::Arc;
use std::time::Duration;

use availability_core::{CoreError, StrategyRegistry};
use availability_domain::AppointmentStatus;
use availability_store::{ClaimedJob, Store};
use tokio::sync::Notify;

/// How often the worker looks for due jobs when nobody wakes it.
const POLL: Duration = Duration::from_millis(500);
/// Jobs claimed per round.
const BATCH: i64 = 16;

/// What the worker needs.
pub struct SyncWorker {
    /// The database.
    pub store: Store,
    /// The strategies, to write to the calendars.
    pub strategies: StrategyRegistry,
    /// Woken by this process's bookings so their sync starts at once.
    pub wake: Arc<Notify>,
}

/// The backoff before the n-th retry: 1 s, 2 s, 4 s, ... at most 30 s.
pub fn retry_delay_seconds(attempts: i32) -> i64 {
    let exp = attempts.clamp(1, 6) - 1;
    (1i64 << exp).min(30)
}

impl SyncWorker {
    /// Runs until the process ends.
    pub async fn run(self) {
        loop {
            match self.store.claim_sync_jobs(BATCH).await {
                Ok(jobs) if !jobs.is_empty() => {
                    for job in jobs {
                        self.run_job(job).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("sync worker: cannot claim jobs: {e}"),
            }
            let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
        }
    }

    async fn run_job(&self, job: ClaimedJob) {
        match self.sync(&job).await {
            Ok(external_id) => {
                if let Err(e) = self.store.sync_succeeded(job, external_id).await {
                    tracing::warn!("sync worker: cannot record success: {e}");
                }
            }
            Err(e) => {
                let reason = e.to_string();
                let delay = retry_delay_seconds(job.attempts);
                let id = job.appointment_id;
                match self.store.sync_failed(job, reason.clone(), delay).await {
                    Ok(true) => tracing::warn!("appointment {id}: calendar sync failed for good: {reason}"),
                    Ok(false) => {
                        tracing::info!("appointment {id}: calendar sync failed, retrying in {delay} s: {reason}")
                    }
                    Err(e) => tracing::warn!("sync worker: cannot record failure: {e}"),
                }
            }
        }
    }

    /// Does what the appointment's current state needs in the calendar it was written to (the
    /// strategy of its calendar_type, whatever the expert uses now); returns the external id.
    async fn sync(&self, job: &ClaimedJob) -> Result<Option<String>, CoreError> {
        let appointment = self.store.appointment(job.appointment_id).await?;
        let Some(calendar) = appointment.calendar_type else {
            return Ok(None);
        };
        let strategy = self.strategies.by_calendar_type(calendar).ok_or_else(|| {
            CoreError::IntegrationUnavailable(format!(
                "no provider that writes {calendar} appointments is registered on this server"
            ))
        })?;
        let expert = self.store.expert(appointment.expert_id).await?;
        let existing = appointment.external_calendar_event_id.clone();
        if appointment.status == AppointmentStatus::Pending {
            // Not booked by us: the provider books it when the client finishes it at the link,
            // and reports it (no job is queued for it; this is for one queued before a change).
            return Ok(existing);
        }
        if let Some(scheduler) = strategy.scheduler() {
            // A scheduler's bookings are made by the service before they are stored; what is
            // left for the outbox is a cancellation.
            if appointment.status == AppointmentStatus::Cancelled {
                scheduler.cancel(&expert, &appointment).await?;
            }
            return Ok(existing);
        }
        let Some(writer) = strategy.event_writer() else {
            return Ok(existing);
        };
        match (appointment.status, &existing) {
            (AppointmentStatus::Confirmed, None) => {
                let client = self.store.client(appointment.client_id).await?;
                Ok(Some(writer.create_event(&expert, &client, &appointment).await?.id))
            }
            (AppointmentStatus::Confirmed, Some(_)) => {
                let client = self.store.client(appointment.client_id).await?;
                Ok(Some(writer.update_event(&expert, &client, &appointment).await?.id))
            }
            // Cancelled: its event goes (also one never synced: creates are idempotent, so a
            // create that raced this cancel is found and removed by the provider's key).
            _ => {
                writer.delete_event(&expert, &appointment).await?;
                Ok(existing)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_thirty() {
        let delays: Vec<i64> = (1..=8).map(retry_delay_seconds).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}

//! The outbox worker: brings experts' external calendars in line with their appointments. A job
//! is queued in the transaction that changes the appointment; this worker claims due jobs (a
//! lease, so two server processes never run one job at once), calls the strategy of the calendar
//! the appointment was written to, and records the outcome. Failures are retried with backoff from
//! 1 s doubling to 30 s for up to 24 h; then the appointment's sync is marked failed with the
//! reason. A restarted server simply claims the jobs that are still queued. An event whose video
//! meeting the calendar is still making (a Google conference `pending`) keeps its job, which
//! then only reads the meeting again, with the same backoff, until it is made.

use std::sync::Arc;
use std::time::Duration;

use availability_core::{CoreError, Meeting, StrategyRegistry};
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
            Ok((external_id, meeting)) => {
                let delay = retry_delay_seconds(job.attempts);
                if let Err(e) = self
                    .store
                    .sync_succeeded_with_meeting(job, external_id, meeting, delay)
                    .await
                {
                    tracing::warn!("sync worker: cannot record success: {e}");
                }
            }
            Err(e) => {
                // The appointment's sync_error is shown by the API: in the server's words (the
                // provider's are logged here and where the error was mapped).
                let detail = e.to_string();
                let reason = public_reason(&self.strategies, e);
                let delay = retry_delay_seconds(job.attempts);
                let id = job.appointment_id;
                match self.store.sync_failed(job, reason.clone(), delay).await {
                    Ok(true) => tracing::warn!("appointment {id}: calendar sync failed for good: {detail}"),
                    Ok(false) => {
                        tracing::info!("appointment {id}: calendar sync failed, retrying in {delay} s: {detail}")
                    }
                    Err(e) => tracing::warn!("sync worker: cannot record failure: {e}"),
                }
            }
        }
    }

    /// Does what the appointment's current state needs in the calendar it was written to (the
    /// strategy of its calendar_type, whatever the expert uses now); returns the external id and
    /// what became of the event's video meeting (None: no meeting was asked for).
    async fn sync(&self, job: &ClaimedJob) -> Result<(Option<String>, Option<Meeting>), CoreError> {
        let appointment = self.store.appointment(job.appointment_id).await?;
        let Some(calendar) = appointment.calendar_type else {
            return Ok((None, None));
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
            return Ok((existing, None));
        }
        if let Some(scheduler) = strategy.scheduler() {
            // A scheduler's bookings are made by the service before they are stored; what is
            // left for the outbox is a cancellation.
            if appointment.status == AppointmentStatus::Cancelled {
                scheduler.cancel(&expert, &appointment).await?;
            }
            return Ok((existing, None));
        }
        let Some(writer) = strategy.event_writer() else {
            return Ok((existing, None));
        };
        let written = |event: availability_core::ExternalEvent| (Some(event.id), event.meeting);
        match (appointment.status, &existing) {
            (AppointmentStatus::Confirmed, Some(_)) if job.meeting_pending => match strategy.video() {
                // The event is as it should be; only its meeting was not finished.
                Some(video) => Ok((existing, Some(video.meeting(&expert, &appointment).await?))),
                None => Ok((existing, None)),
            },
            (AppointmentStatus::Confirmed, None) => {
                let client = self.store.client(appointment.client_id).await?;
                Ok(written(writer.create_event(&expert, &client, &appointment).await?))
            }
            (AppointmentStatus::Confirmed, Some(_)) => {
                let client = self.store.client(appointment.client_id).await?;
                Ok(written(writer.update_event(&expert, &client, &appointment).await?))
            }
            // Cancelled: its event goes (also one never synced: creates are idempotent, so a
            // create that raced this cancel is found and removed by the provider's key).
            _ => {
                writer.delete_event(&expert, &appointment).await?;
                Ok((existing, None))
            }
        }
    }
}

/// What an appointment's sync_error says about a failure: what an API answer would say (the
/// provider's own words are logged, never stored where the API shows them).
fn public_reason(strategies: &StrategyRegistry, error: CoreError) -> String {
    let answer = crate::error::ApiError::from(error);
    match answer.provider {
        Some((integration, _)) => {
            let name = strategies
                .get(integration)
                .map(|s| s.display_name().to_owned())
                .unwrap_or_else(|_| integration.to_string());
            answer.naming(&name).message
        }
        None => answer.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_domain::IntegrationType;

    #[test]
    fn a_sync_error_is_in_the_servers_words() {
        let leak = "<html>LEAK-MARKER at db-7.corp.internal.example</html>";
        let integration = IntegrationType::from_static("google_calendar");
        for error in [
            CoreError::ProviderUnavailable {
                integration,
                message: leak.into(),
            },
            CoreError::ProviderResponse {
                integration,
                message: leak.into(),
            },
            CoreError::NeedsReauth {
                integration,
                message: leak.into(),
            },
        ] {
            let reason = public_reason(&StrategyRegistry::new(), error);
            assert!(
                !reason.contains("LEAK-MARKER") && !reason.contains("internal.example"),
                "{reason}"
            );
            assert!(reason.starts_with("google_calendar "), "{reason}");
        }
    }

    #[test]
    fn backoff_doubles_from_one_second_to_thirty() {
        let delays: Vec<i64> = (1..=8).map(retry_delay_seconds).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}

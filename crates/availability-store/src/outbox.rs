//! The booking outbox: a sync job is written in the same transaction as the appointment change,
//! and a worker runs it later with retries. Claims are leases taken by compare-and-set, so two
//! server processes never run one job at the same time; a crashed worker's lease simply expires.

use availability_core::Meeting;
use availability_domain::{AppointmentId, SyncStatus};
use diesel::prelude::*;

use crate::db::{db_run, Conn};
use crate::schema::{appointments, sync_jobs};
use crate::webhooks::{Emit, Event, WebhookEvent};
use crate::StoreError;

/// How long a claimed job is reserved for its worker.
pub const LEASE_SECONDS: i64 = 60;
/// How long a job is retried before the appointment's sync is marked failed.
pub const GIVE_UP_AFTER_SECONDS: i64 = 24 * 60 * 60;

/// Queues (or re-queues) the sync of one appointment, on a concrete connection inside the
/// transaction that changed it.
macro_rules! enqueue_sync {
    ($c:ident, $appointment:expr, $expert:expr, $now:expr) => {{
        use crate::schema::sync_jobs as j;
        diesel::insert_into(j::table)
            .values((
                j::appointment_id.eq($appointment.to_string()),
                j::expert_id.eq($expert.to_string()),
                j::version.eq(1i64),
                j::due_at.eq($now),
                j::attempts.eq(0),
                j::first_queued_at.eq($now),
            ))
            .on_conflict(j::appointment_id)
            .do_update()
            .set((
                j::version.eq(j::version + 1i64),
                j::due_at.eq($now),
                j::attempts.eq(0),
                j::first_queued_at.eq($now),
                j::last_error.eq(None::<String>),
                j::meeting_pending.eq(false),
            ))
            .execute($c)
    }};
}
pub(crate) use enqueue_sync;

/// A job a worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The appointment to bring the external calendar in line with.
    pub appointment_id: AppointmentId,
    /// The appointment's version when claimed.
    pub version: i64,
    /// This claim's token (proves the lease is still ours when finishing).
    pub claim_token: String,
    /// How many times it has been tried, this one included.
    pub attempts: i32,
    /// When it was first queued (for giving up after 24 hours).
    pub first_queued_at: i64,
    /// The event is written and its video meeting was still being made: the job only reads the
    /// meeting again.
    pub meeting_pending: bool,
}

/// Claims up to `limit` due jobs.
pub(crate) fn claim(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<ClaimedJob>, StoreError> {
    let due: Vec<String> = db_run!(conn, |c| sync_jobs::table
        .filter(sync_jobs::due_at.le(now))
        .filter(sync_jobs::claimed_until.is_null().or(sync_jobs::claimed_until.lt(now)))
        .order(sync_jobs::due_at)
        .limit(limit)
        .select(sync_jobs::appointment_id)
        .load(c))?;
    let mut claimed = Vec::new();
    for id in due {
        let token = uuid::Uuid::new_v4().to_string();
        // Compare-and-set: only one worker's update finds the lease free.
        let won = db_run!(conn, |c| diesel::update(
            sync_jobs::table
                .find(&id)
                .filter(sync_jobs::due_at.le(now))
                .filter(sync_jobs::claimed_until.is_null().or(sync_jobs::claimed_until.lt(now)))
        )
        .set((
            sync_jobs::claimed_until.eq(now + LEASE_SECONDS),
            sync_jobs::claim_token.eq(&token),
            sync_jobs::attempts.eq(sync_jobs::attempts + 1),
        ))
        .execute(c))?;
        if won == 1 {
            let (version, attempts, first, meeting_pending) = db_run!(conn, |c| sync_jobs::table
                .find(&id)
                .select((
                    sync_jobs::version,
                    sync_jobs::attempts,
                    sync_jobs::first_queued_at,
                    sync_jobs::meeting_pending
                ))
                .first::<(i64, i32, i64, bool)>(c))?;
            let appointment_id = id.parse().map_err(|e| crate::rows::corrupt("sync job", e))?;
            claimed.push(ClaimedJob {
                appointment_id,
                version,
                claim_token: token,
                attempts,
                first_queued_at: first,
                meeting_pending,
            });
        }
    }
    Ok(claimed)
}

/// The job succeeded: records the external event id and what became of the event's video
/// meeting, marks the appointment synced and removes the job, unless the appointment changed
/// meanwhile (then the job runs again). A meeting the calendar is still making keeps the job,
/// as a read of the meeting `retry_in` seconds later; after 24 hours the appointment says the
/// meeting never came.
pub(crate) fn succeed(
    conn: &mut Conn,
    job: &ClaimedJob,
    external_id: Option<&str>,
    meeting: Option<&Meeting>,
    now: i64,
    retry_in: i64,
) -> Result<(), StoreError> {
    let key = job.appointment_id.to_string();
    let gave_up = Meeting::Unavailable {
        reason: "the calendar did not finish making the video meeting within 24 hours".into(),
    };
    let meeting = match meeting {
        Some(Meeting::Pending) if now - job.first_queued_at >= GIVE_UP_AFTER_SECONDS => Some(&gave_up),
        other => other,
    };
    db_run!(conn, |c| c.transaction(|c| {
        if let Some(event) = external_id {
            diesel::update(appointments::table.find(&key))
                .set(appointments::external_calendar_event_id.eq(event))
                .execute(c)?;
        }
        match meeting {
            Some(Meeting::Ready { url }) => {
                diesel::update(appointments::table.find(&key))
                    .set((
                        appointments::meeting_url.eq(url),
                        appointments::meeting_error.eq(None::<String>),
                    ))
                    .execute(c)?;
            }
            Some(Meeting::Unavailable { reason }) => {
                diesel::update(appointments::table.find(&key))
                    .set(appointments::meeting_error.eq(reason))
                    .execute(c)?;
            }
            _ => {}
        }
        let this_job = sync_jobs::table
            .find(&key)
            .filter(sync_jobs::version.eq(job.version))
            .filter(sync_jobs::claim_token.eq(&job.claim_token));
        let finished = if meeting == Some(&Meeting::Pending) {
            // The event is there; its meeting is read again later by the same job.
            let kept = diesel::update(this_job)
                .set((
                    sync_jobs::meeting_pending.eq(true),
                    sync_jobs::due_at.eq(now + retry_in),
                    sync_jobs::claimed_until.eq(None::<i64>),
                    sync_jobs::last_error.eq(None::<String>),
                ))
                .execute(c)?;
            if kept == 1 {
                return Ok(());
            }
            0
        } else {
            diesel::delete(this_job).execute(c)?
        };
        if finished == 1 {
            diesel::update(appointments::table.find(&key))
                .set((
                    appointments::sync_status.eq(SyncStatus::Synced.as_str()),
                    appointments::sync_error.eq(None::<String>),
                ))
                .execute(c)?;
        } else {
            // A newer change is queued: release the lease so it runs at once.
            diesel::update(
                sync_jobs::table
                    .find(&key)
                    .filter(sync_jobs::claim_token.eq(&job.claim_token)),
            )
            .set(sync_jobs::claimed_until.eq(None::<i64>))
            .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    }))?;
    Ok(())
}

/// The job failed: retried after `retry_in` seconds, or, 24 hours after it was queued, the
/// appointment's sync is marked failed with the reason.
pub(crate) fn fail(
    conn: &mut Conn,
    job: &ClaimedJob,
    reason: &str,
    now: i64,
    retry_in: i64,
) -> Result<bool, StoreError> {
    let key = job.appointment_id.to_string();
    let give_up = now - job.first_queued_at >= GIVE_UP_AFTER_SECONDS;
    db_run!(conn, |c| c.transaction(|c| {
        if give_up {
            let removed = diesel::delete(
                sync_jobs::table
                    .find(&key)
                    .filter(sync_jobs::version.eq(job.version))
                    .filter(sync_jobs::claim_token.eq(&job.claim_token)),
            )
            .execute(c)?;
            if removed == 1 {
                diesel::update(appointments::table.find(&key))
                    .set((
                        appointments::sync_status.eq(SyncStatus::Failed.as_str()),
                        appointments::sync_error.eq(reason),
                    ))
                    .execute(c)?;
                let failed = appointments::table
                    .find(&key)
                    .select(crate::rows::AppointmentRow::as_select())
                    .first(c)?
                    .into_domain()?;
                c.emit(Event::appointment(WebhookEvent::AppointmentSyncFailed, &failed, now)?)?;
            }
        } else {
            diesel::update(
                sync_jobs::table
                    .find(&key)
                    .filter(sync_jobs::claim_token.eq(&job.claim_token)),
            )
            .set((
                sync_jobs::due_at.eq(now + retry_in),
                sync_jobs::claimed_until.eq(None::<i64>),
                sync_jobs::last_error.eq(reason),
            ))
            .execute(c)?;
        }
        Ok::<_, StoreError>(())
    }))?;
    Ok(give_up)
}

/// How many jobs are queued (for tests and /readyz-style checks).
pub(crate) fn pending(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(db_run!(conn, |c| sync_jobs::table.count().get_result(c))?)
}

/// The queue's depth and the enqueue time (Unix seconds) of its oldest job, for /metrics.
pub(crate) fn depth(conn: &mut Conn) -> Result<(i64, Option<i64>), StoreError> {
    use diesel::dsl::{count_star, min};
    Ok(db_run!(conn, |c| sync_jobs::table
        .select((count_star(), min(sync_jobs::first_queued_at)))
        .get_result::<(i64, Option<i64>)>(c))?)
}

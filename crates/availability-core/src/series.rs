//! What both stores do with a series' verdicts: which occurrences are stored, which are skipped,
//! and the appointment each stored occurrence becomes.

use availability_domain::{Appointment, AppointmentId, AppointmentStatus, Interval, Series, SyncStatus};

use crate::engine::Refusal;
use crate::error::SeriesConflict;
use crate::ports::{BookingGuard, NewSeries};
use crate::CoreError;

/// The occurrences to store and those skipped, by the series' rule: "reject" stores nothing when
/// any occurrence is refused, "skip" stores the rest (and refuses a series with none left).
pub fn sort_verdicts(
    new: &NewSeries,
    verdicts: Vec<Result<(), Refusal>>,
) -> Result<(Vec<Interval>, Vec<SeriesConflict>), CoreError> {
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for (time, verdict) in new.occurrences.iter().zip(verdicts) {
        match verdict {
            Ok(()) => accepted.push(*time),
            Err(refusal) => refused.push(SeriesConflict::new(*time, refusal)),
        }
    }
    if !refused.is_empty() && (!new.skip_conflicts || accepted.is_empty()) {
        return Err(CoreError::SeriesConflict(refused));
    }
    Ok((accepted, refused))
}

/// The confirmed appointment an accepted occurrence becomes (like a single booking's).
pub fn occurrence(series: &Series, time: Interval, guard: &BookingGuard) -> Appointment {
    let calendar_type = guard.calendar_type;
    Appointment {
        id: AppointmentId::new(),
        expert_id: series.expert_id,
        client_id: series.client_id,
        start_time: time.start(),
        end_time: time.end(),
        status: AppointmentStatus::Confirmed,
        calendar_type,
        external_calendar_event_id: None,
        scheduling_url: None,
        sync_status: if calendar_type.is_some() {
            SyncStatus::Pending
        } else {
            SyncStatus::NotApplicable
        },
        cancellation_reason: None,
        cancelled_by: None,
        sync_error: None,
        meeting_url: guard.meeting_url.clone(),
        meeting_error: guard.meeting_error.clone(),
        series_id: Some(series.id),
        created_at: guard.timestamp(),
        updated_at: guard.timestamp(),
    }
}

//! Two-way sync: what the expert changes in their own calendar, our appointments follow (api.md
//! "Push notifications and two-way sync"). The rules are the same for every provider with a
//! [`ChangeFeed`]:
//!
//! - The event of one of our appointments deleted or cancelled there: the appointment is
//!   cancelled, the reason naming the calendar ("deleted in Google Calendar").
//! - Moved there: the appointment takes the new time, unless another confirmed appointment
//!   overlaps it; then it keeps its time with sync_status `conflict` (the event is not moved back).
//! - An event at the appointment's own time changes nothing, so a repeated or out-of-order read
//!   (or a full read after an expired cursor) changes nothing twice. While a write of ours to the
//!   calendar is still pending, its event is not followed: the calendar does not show it yet.
//! - Events that are not ours are ignored; the busy-time cache is dropped after every read, so
//!   the slots show the calendar as it is now.
//! - An event missing from a read says nothing: a full read (the first of a connection, or one
//!   after an expired cursor) may list only live events (Graph), and an appointment whose event is
//!   not there may have been written to another account of the expert's. Cancelling a client's
//!   appointment on such a guess is worse than missing a deletion made while no cursor was kept.

use availability_domain::{AppointmentStatus, CancelledBy, Expert, ExpertId};

use super::AvailabilityService;
use crate::ports::CalendarFollow;
use crate::strategy::CalendarChange;
use crate::CoreError;

/// What one read of an expert's calendar changes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CalendarSyncSummary {
    /// Changes the calendar reported (ours and others').
    pub read: usize,
    /// Appointments cancelled because their event was deleted.
    pub cancelled: usize,
    /// Appointments moved with their event.
    pub moved: usize,
    /// Appointments whose event was moved onto another appointment.
    pub conflicts: usize,
}

impl CalendarSyncSummary {
    /// Whether any appointment changed.
    pub fn changed_any(&self) -> bool {
        self.cancelled + self.moved + self.conflicts > 0
    }
}

impl AvailabilityService {
    /// Reads what changed in the expert's calendar since the last read and applies it to the
    /// expert's appointments (see the module's rules). An integration without a change feed
    /// (manual hours, a scheduler) changes nothing.
    pub async fn follow_calendar(&self, expert_id: ExpertId) -> Result<CalendarSyncSummary, CoreError> {
        let expert = self.experts.expert(expert_id).await?;
        let strategy = self.strategies.get(expert.integration_type)?.clone();
        let Some(feed) = strategy.change_feed() else {
            return Ok(CalendarSyncSummary::default());
        };
        let (connection, cursor) = self
            .appointments
            .change_cursor(expert_id, expert.integration_type)
            .await?;
        let batch = feed.changes(&expert, cursor.as_deref()).await?;
        self.busy_cache.invalidate(expert_id);
        let calendar = strategy.display_name();
        let mut summary = CalendarSyncSummary {
            read: batch.changes.len(),
            ..Default::default()
        };
        // Deletions first: an event moved onto the time of one deleted in the same read is no
        // conflict.
        let (removed, at): (Vec<_>, Vec<_>) = batch
            .changes
            .into_iter()
            .partition(|c| matches!(c, CalendarChange::Removed { .. }));
        for change in removed.into_iter().chain(at) {
            self.follow_change(&expert, calendar, change, &mut summary).await?;
        }
        self.appointments
            .save_change_cursor(expert_id, expert.integration_type, connection, batch.cursor)
            .await?;
        if summary.changed_any() {
            // A cancelled or moved appointment may free the time a held provider booking wants.
            self.confirm_held(expert_id).await;
        }
        Ok(summary)
    }

    async fn follow_change(
        &self,
        expert: &Expert,
        calendar: &str,
        change: CalendarChange,
        summary: &mut CalendarSyncSummary,
    ) -> Result<(), CoreError> {
        let event_id = match &change {
            CalendarChange::Removed { event_id } | CalendarChange::At { event_id, .. } => event_id,
        };
        let Some(appointment) = self
            .appointments
            .by_external_id(event_id)
            .await?
            .filter(|a| a.expert_id == expert.id && a.status == AppointmentStatus::Confirmed)
        else {
            return Ok(());
        };
        match change {
            CalendarChange::Removed { .. } => {
                self.cancel(
                    appointment.id,
                    CancelledBy::Calendar,
                    Some(format!("deleted in {calendar}")),
                )
                .await?;
                summary.cancelled += 1;
            }
            CalendarChange::At { time, .. } => {
                let now = self.timestamp();
                match self
                    .appointments
                    .follow_calendar_move(appointment.id, time, calendar, now)
                    .await?
                {
                    CalendarFollow::Moved(_) => summary.moved += 1,
                    CalendarFollow::Conflict(_) => summary.conflicts += 1,
                    CalendarFollow::Unchanged => {}
                }
            }
        }
        Ok(())
    }
}

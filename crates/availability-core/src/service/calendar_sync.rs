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
//! - A full read that lists only live events (Graph's first delta round: the first read, or one
//!   after an expired cursor) is the calendar as it is: an appointment of ours in its window whose
//!   event it does not list was deleted while nobody kept a cursor, and is cancelled; except one
//!   whose event was written less than [`FULL_READ_SETTLE`] before the read began (the calendar
//!   may not list a new event yet).

use std::collections::HashSet;

use availability_domain::jiff::SignedDuration;
use availability_domain::{Appointment, AppointmentStatus, CancelledBy, Expert, ExpertId, SyncStatus};

use super::AvailabilityService;
use crate::ports::CalendarFollow;
use crate::strategy::CalendarChange;
use crate::CoreError;

/// How long before a full read an event must have been written to count as missing from it:
/// clocks of server processes differ a little, and a calendar may list a new event a moment late.
pub const FULL_READ_SETTLE: SignedDuration = SignedDuration::from_secs(60);

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
        let began = self.timestamp();
        let batch = feed.changes(&expert, cursor.as_deref()).await?;
        self.busy_cache.invalidate(expert_id);
        let listed: HashSet<String> = batch
            .changes
            .iter()
            .map(|c| match c {
                CalendarChange::Removed { event_id } | CalendarChange::At { event_id, .. } => event_id.clone(),
            })
            .collect();
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
        if let Some(window) = batch.full {
            let settled = began.checked_sub(FULL_READ_SETTLE).unwrap_or(began);
            let kind = strategy.calendar_type();
            let missing: Vec<Appointment> = self
                .appointments
                .confirmed_overlapping(expert_id, window)
                .await?
                .into_iter()
                .filter(|a| {
                    a.calendar_type.is_some()
                        && a.calendar_type == kind
                        && a.sync_status == SyncStatus::Synced
                        && a.updated_at < settled
                        && a.external_calendar_event_id
                            .as_ref()
                            .is_some_and(|id| !listed.contains(id))
                })
                .collect();
            for appointment in missing {
                self.cancel(
                    appointment.id,
                    CancelledBy::Calendar,
                    Some(format!("deleted in {calendar}")),
                )
                .await?;
                summary.cancelled += 1;
            }
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

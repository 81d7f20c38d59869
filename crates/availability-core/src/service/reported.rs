//! Bookings a provider holds: booking through a scheduler (the system of record), and what the
//! provider reports back (booked, cancelled). The rules are the same for every provider:
//!
//! - A scheduler books first; the appointment is stored only once it accepted (a slot it reports
//!   taken stores nothing), or pending with a link where the client finishes the booking.
//! - A reported booking finishes the pending appointment of a client with the invitee's email
//!   (the one asked for exactly that time, else the oldest), or is recorded as a booking made on
//!   the provider's own pages (the client found by email, or created).
//! - A reported booking whose time overlaps a confirmed appointment here is held
//!   ([`BookingState::Held`]): the provider holds it whatever we answer, while two overlapping
//!   confirmed appointments are never stored. It is confirmed as soon as the clash goes away.
//! - A repeated report changes nothing the second time.

use availability_domain::{
    Appointment, AppointmentStatus, BookingState, CancelledBy, Expert, ExpertId, Interval, NewAppointment, Zone,
};

use super::{draft, AvailabilityService};
use crate::provider_events::{EventOutcome, Invitee, ProviderEvent};
use crate::strategy::{AvailabilityStrategy, ProviderBooking};
use crate::CoreError;

impl AvailabilityService {
    /// A scheduler is the system of record: the booking is made there first, and stored only once
    /// it accepted it. If storing then fails (a local booking won the race), the provider's
    /// booking is cancelled again. A scheduler that cannot book it itself answers with a link:
    /// the appointment is stored pending with it, holding no time, until the provider reports
    /// the booking.
    pub(super) async fn book_with_scheduler(
        &self,
        expert: &Expert,
        strategy: &dyn AvailabilityStrategy,
        new: NewAppointment,
    ) -> Result<Appointment, CoreError> {
        let Some(scheduler) = strategy.scheduler() else {
            return Err(CoreError::StrategyMissing(strategy.integration_type()));
        };
        let client = self.experts.client(new.client_id).await?;
        let draft = draft(strategy, expert, &new, self.timestamp());
        let event = match scheduler.book(expert, &client, &draft).await? {
            ProviderBooking::Booked(event) => event,
            ProviderBooking::Pending { scheduling_url } => {
                let pending = Appointment {
                    status: AppointmentStatus::Pending,
                    scheduling_url: Some(scheduling_url),
                    // Nothing to keep in sync until the provider reports the booking.
                    sync_status: availability_domain::SyncStatus::NotApplicable,
                    ..draft
                };
                return self.appointments.record_pending(pending).await;
            }
        };
        let booked = Appointment {
            external_calendar_event_id: Some(event.id),
            ..draft
        };
        match self.appointments.record_confirmed(booked.clone()).await {
            Ok(stored) => {
                self.busy_cache.invalidate(stored.expert_id);
                Ok(stored)
            }
            Err(refused) => {
                if let Err(undo) = scheduler.cancel(expert, &booked).await {
                    // The provider now holds a booking we did not store: say so where the
                    // operator looks; the caller still learns why the booking was refused.
                    tracing::warn!(
                        "appointment {}: the provider's booking could not be cancelled after storing it failed \
                         ({refused}): {undo}",
                        booked.id
                    );
                }
                Err(refused)
            }
        }
    }

    /// Applies what a provider reported about one of `expert`'s bookings there (a webhook
    /// delivery, a sync). Safe to repeat: the same report twice changes nothing the second time.
    pub async fn apply_provider_event(
        &self,
        expert: ExpertId,
        event: ProviderEvent,
    ) -> Result<EventOutcome, CoreError> {
        let outcome = match event {
            ProviderEvent::Booked {
                external_id,
                time,
                invitee,
                rescheduled,
            } => {
                self.provider_booked(expert, external_id, time, invitee, rescheduled)
                    .await?
            }
            ProviderEvent::Cancelled { external_id, reason } => {
                self.provider_cancelled(expert, &external_id, reason).await?
            }
        };
        self.busy_cache.invalidate(expert);
        Ok(outcome)
    }

    async fn provider_booked(
        &self,
        expert: ExpertId,
        external_id: String,
        time: Interval,
        invitee: Invitee,
        rescheduled: bool,
    ) -> Result<EventOutcome, CoreError> {
        if self.appointments.by_external_id(&external_id).await?.is_some() {
            return Ok(EventOutcome::Unchanged);
        }
        // A move on the provider's pages finishes no pending booking.
        if !rescheduled && self.finish_awaiting(expert, &external_id, time, &invitee).await? {
            return Ok(EventOutcome::Applied);
        }
        self.record_walk_in(expert, external_id, time, invitee).await
    }

    /// The client finished a pending booking at its link: the expert's appointment awaiting a
    /// client with the invitee's email is confirmed with the provider's reference and the time it
    /// booked, which may differ from the one first asked for (the link page offers every free
    /// time). Of several, the one asked for exactly that time, else the oldest. False when there
    /// is none (a booking made on the provider's own pages).
    async fn finish_awaiting(
        &self,
        expert: ExpertId,
        external_id: &str,
        time: Interval,
        invitee: &Invitee,
    ) -> Result<bool, CoreError> {
        let candidates = self.appointments.awaiting_client(expert, &invitee.email).await?;
        let Some(pending) = candidates
            .iter()
            .find(|a| a.start_time == time.start())
            .or_else(|| candidates.first())
        else {
            return Ok(false);
        };
        let now = self.timestamp();
        match self
            .appointments
            .confirm_pending(pending.id, external_id.to_owned(), time, now)
            .await
        {
            Ok(_) => Ok(true),
            // The provider holds this booking for the client whatever we answer; the database
            // never stores two overlapping confirmed appointments, and cancelling the other one
            // would break another client's booking. So the booking is held on the client's
            // appointment, with the clash shown, until one of the two goes away.
            Err(CoreError::SlotTaken) => {
                let reason = self.overlap_reason(expert, time).await;
                self.appointments
                    .hold(pending.id, external_id.to_owned(), time, reason)
                    .await?;
                Ok(true)
            }
            // Cancelled (or taken by another report) since it was read: the booking is recorded
            // as one made on the provider's own pages.
            Err(CoreError::NotPending(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A booking made on the provider's own pages: the appointment is created for the client
    /// with the invitee's email (or a new client), held if it overlaps a confirmed appointment.
    async fn record_walk_in(
        &self,
        expert: ExpertId,
        external_id: String,
        time: Interval,
        invitee: Invitee,
    ) -> Result<EventOutcome, CoreError> {
        let client = match self.experts.client_by_email(&invitee.email).await? {
            Some(client) => client,
            None => {
                let name = if invitee.name.trim().is_empty() {
                    invitee.email.clone()
                } else {
                    invitee.name.clone()
                };
                let zone = invitee.timezone.clone().unwrap_or_else(Zone::utc);
                self.experts.create_client(name, invitee.email.clone(), zone).await?
            }
        };
        let profile = self.experts.expert(expert).await?;
        let strategy = self.strategies.get(profile.integration_type)?.clone();
        let new = NewAppointment {
            expert_id: expert,
            client_id: client.id,
            time,
        };
        let appointment = Appointment {
            external_calendar_event_id: Some(external_id),
            ..draft(strategy.as_ref(), &profile, &new, self.timestamp())
        };
        match self.appointments.record_confirmed(appointment.clone()).await {
            Ok(_) => Ok(EventOutcome::Applied),
            Err(CoreError::SlotTaken) => {
                let held = Appointment {
                    status: AppointmentStatus::Pending,
                    sync_status: availability_domain::SyncStatus::Failed,
                    sync_error: Some(self.overlap_reason(expert, time).await),
                    ..appointment
                };
                match self.appointments.record_pending(held).await {
                    Ok(_) => Ok(EventOutcome::Applied),
                    // A concurrent delivery of this booking stored it first.
                    Err(CoreError::AlreadyRecorded { .. }) => Ok(EventOutcome::Unchanged),
                    Err(e) => Err(e),
                }
            }
            // A concurrent delivery of this booking stored it first.
            Err(CoreError::AlreadyRecorded { .. }) => Ok(EventOutcome::Unchanged),
            Err(e) => Err(e),
        }
    }

    async fn provider_cancelled(
        &self,
        expert: ExpertId,
        external_id: &str,
        reason: Option<String>,
    ) -> Result<EventOutcome, CoreError> {
        let found = self
            .appointments
            .by_external_id(external_id)
            .await?
            .filter(|a| a.expert_id == expert);
        // Also a held appointment: it carries the provider's booking.
        let Some(appointment) = found.filter(|a| a.status != AppointmentStatus::Cancelled) else {
            return Ok(EventOutcome::Unchanged);
        };
        let name = self.provider_name(expert).await;
        let reason = reason
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| format!("cancelled on {name}"));
        self.cancel(appointment.id, CancelledBy::Provider, Some(reason)).await?;
        Ok(EventOutcome::Applied)
    }

    /// Confirms the expert's held appointments whose time is free again: called after an
    /// appointment of the expert was cancelled or moved. Best effort: the change that freed the
    /// time stands whatever happens here, and a booking still overlapping stays held.
    pub(super) async fn confirm_held(&self, expert: ExpertId) {
        let held = match self.appointments.held(expert).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!("reading the held bookings of expert {expert}: {e}");
                return;
            }
        };
        for booking in held {
            debug_assert_eq!(booking.state(), BookingState::Held);
            let (Some(external), Some(time)) = (booking.external_calendar_event_id.clone(), booking.interval()) else {
                continue;
            };
            let now = self.timestamp();
            match self.appointments.confirm_pending(booking.id, external, time, now).await {
                Ok(_) => {}
                Err(CoreError::SlotTaken | CoreError::NotPending(_)) => {}
                Err(e) => tracing::warn!("confirming held booking {}: {e}", booking.id),
            }
        }
    }

    /// Why a provider's booking is held instead of confirmed.
    async fn overlap_reason(&self, expert: ExpertId, time: Interval) -> String {
        let name = self.provider_name(expert).await;
        format!(
            "{name} booked {} to {}, which overlaps another confirmed appointment of this expert, so it is not \
             confirmed here; the booking stands on {name}: cancel one of the two",
            time.start(),
            time.end()
        )
    }

    async fn provider_name(&self, expert: ExpertId) -> &'static str {
        match self.experts.expert(expert).await {
            Ok(e) => self
                .strategies
                .get(e.integration_type)
                .map(|s| s.display_name())
                .unwrap_or("the provider"),
            Err(_) => "the provider",
        }
    }
}

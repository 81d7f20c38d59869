//! The core error enum: what the service, the ports, the providers and every strategy report.
//! Only the server maps these onto HTTP status codes and API error codes, one code per variant:
//! a message is for people and is never matched on.

use availability_domain::{AppointmentId, DomainError, HoldId, IntegrationType};

use crate::engine::{BookingRefusal, Limit, Refusal, SeriesRefusal};

/// Everything that can go wrong when computing slots, booking, or connecting a provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// No such expert, client or appointment.
    #[error("{what} {id} not found")]
    NotFound {
        /// "expert", "client", "appointment".
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// Input that is well formed but not valid (a domain rule refused it).
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// A query window whose end is not after its start.
    #[error("`to` must be after `from`")]
    WindowReversed,
    /// A query window longer than the engine answers.
    #[error("the window must be at most {max_days} days")]
    WindowTooLong {
        /// The longest window, in days.
        max_days: i64,
    },
    /// A slot length the provider does not offer (a scheduler's event type has one length).
    #[error("{integration} offers {offered}-minute slots only: leave duration_minutes out or use {offered}")]
    DurationNotOffered {
        /// Which provider.
        integration: IntegrationType,
        /// The one length it offers, in minutes.
        offered: u32,
    },
    /// The time overlaps another confirmed appointment of the expert.
    #[error("the time overlaps another confirmed appointment of this expert")]
    SlotTaken,
    /// The time is not a bookable slot.
    #[error("the time is not a bookable slot: {0}")]
    SlotUnavailable(String),
    /// A day, week or month limit of the expert's booking policy is reached (rule 10): the time
    /// would be a slot but for it.
    #[error("{0}")]
    LimitReached(Limit),
    /// A recurring booking the expert's policy does not allow (off, too many or too few
    /// occurrences: 422 `series_not_allowed`), or with an occurrence beyond the horizon (422
    /// `slot_unavailable`).
    #[error("{0}")]
    SeriesRefused(SeriesRefusal),
    /// Occurrences of a recurring booking that cannot be booked ("reject": nothing is stored;
    /// "skip" with none bookable), each with its reason.
    #[error("{} occurrence(s) of the series cannot be booked", .0.len())]
    SeriesConflict(Vec<SeriesConflict>),
    /// A booking names a hold that has expired or was released (or never existed): the time
    /// may be someone else's by now.
    #[error("hold {0} has expired or was released; pick the time again")]
    HoldExpired(HoldId),
    /// A booking names a hold that is not for it: another client's, another expert's, or another
    /// time.
    #[error("the hold does not match this booking: {0}")]
    HoldMismatch(String),
    /// A change the default schedule cannot take: deleting it, or unsetting it without making
    /// another one the default.
    #[error("{0}")]
    DefaultSchedule(String),
    /// Rescheduling (or confirming) an appointment that is not confirmed.
    #[error("appointment {0} is not confirmed (it is cancelled or pending) and cannot be moved")]
    NotConfirmed(AppointmentId),
    /// Confirming or holding a provider's booking on an appointment that is not pending any more
    /// (cancelled, or confirmed by another delivery).
    #[error("appointment {0} is not pending any more")]
    NotPending(AppointmentId),
    /// Rescheduling an appointment that waits for the client to finish the booking at a link.
    #[error(
        "appointment {0} is pending: it is booked only when the client finishes the booking at its \
         scheduling_url, and cannot be rescheduled before; cancel it and book again for another time"
    )]
    PendingNotReschedulable(AppointmentId),
    /// A provider's booking that is recorded here already (another appointment holds its
    /// reference).
    #[error("the provider's booking {external_id} is recorded already")]
    AlreadyRecorded {
        /// The provider's reference.
        external_id: String,
    },
    /// The provider refuses the operation in the appointment's current state (e.g. cancelling
    /// a booking that lies in the past).
    #[error("{integration} refused: {message}")]
    ProviderRefused {
        /// Which provider.
        integration: IntegrationType,
        /// Why, in the server's words.
        message: String,
    },
    /// The expert's calendar provider cannot be reached or did not answer in time.
    #[error("{integration} is unavailable: {message}")]
    ProviderUnavailable {
        /// Which provider.
        integration: IntegrationType,
        /// What happened, without any secret.
        message: String,
    },
    /// The provider answered something unusable.
    #[error("{integration} answered something unusable: {message}")]
    ProviderResponse {
        /// Which provider.
        integration: IntegrationType,
        /// What was wrong, without any secret.
        message: String,
    },
    /// The expert must reconnect the integration (token revoked or expired, credential unreadable).
    #[error("{integration} needs the expert to reconnect: {message}")]
    NeedsReauth {
        /// Which integration.
        integration: IntegrationType,
        /// Why.
        message: String,
    },
    /// The expert's active integration has no strategy registered.
    #[error("no strategy is registered for {0}")]
    StrategyMissing(IntegrationType),
    /// The strategy cannot do this (e.g. reschedule in a scheduler that has no reschedule).
    #[error("{integration} does not support {operation}")]
    Unsupported {
        /// Which integration.
        integration: IntegrationType,
        /// What was asked.
        operation: &'static str,
    },
    /// The expert's booking policy asks the calendar for video meetings (`video: "provider"`)
    /// and the integration cannot make them: refused when the policy is set, and when the
    /// expert switches to such an integration.
    #[error("{0}")]
    VideoUnsupported(String),
    /// No provider of that name is registered on this server.
    #[error("no provider named {0:?} is registered on this server")]
    UnknownIntegration(String),
    /// The provider is registered but cannot be used on this server (its settings are missing).
    #[error("{0}")]
    IntegrationUnavailable(String),
    /// The expert has not connected this integration.
    #[error("{0}")]
    IntegrationNotConnected(String),
    /// The provider refused the credentials given to connect it (a wrong password, a revoked
    /// app password).
    #[error("{0}")]
    InvalidCredentials(String),
    /// The provider refused the access token given to connect it.
    #[error("{0}")]
    InvalidToken(String),
    /// No calendar service was found at the address given.
    #[error("{0}")]
    DiscoveryFailed(String),
    /// The account has several event types (or none) and none was chosen.
    #[error("{0}")]
    EventTypeRequired(String),
    /// The chosen event type is not one of the account's active ones.
    #[error("{0}")]
    UnknownEventType(String),
    /// A choice of calendars the provider cannot use (none blocks time, the one receiving
    /// appointments is read-only or unknown).
    #[error("{0}")]
    InvalidCalendarChoice(String),
    /// Settings or fields a provider cannot use (a missing field, a malformed server address).
    #[error("{0}")]
    InvalidSettings(String),
    /// The provider has no such feature (e.g. a calendar list for hours typed in).
    #[error("{0}")]
    NotOffered(String),
    /// A webhook delivery whose signature, token or client state does not check out.
    #[error("the webhook was refused: {0}")]
    InvalidSignature(String),
    /// A webhook delivery whose signature checked out but whose body is not what the provider
    /// sends.
    #[error("the webhook payload is unusable: {0}")]
    MalformedWebhook(String),
    /// Credentials cannot be stored: no encryption key is configured.
    #[error("credentials cannot be stored: no encryption key is configured (set ENCRYPTION_KEY)")]
    EncryptionKeyMissing,
    /// The storage behind a port failed.
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<BookingRefusal> for CoreError {
    fn from(r: BookingRefusal) -> Self {
        match r {
            BookingRefusal::SlotTaken => CoreError::SlotTaken,
            BookingRefusal::SlotUnavailable(why) => CoreError::SlotUnavailable(why.to_owned()),
        }
    }
}

impl From<Refusal> for CoreError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::SlotTaken => CoreError::SlotTaken,
            Refusal::LimitReached(limit) => CoreError::LimitReached(limit),
            Refusal::SlotUnavailable(code) => CoreError::SlotUnavailable(code.summary().to_owned()),
        }
    }
}

/// One occurrence of a series that cannot be booked, and why (the code of the refusal a single
/// booking of it would get: `slot_taken`, `slot_unavailable` or `limit_reached`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SeriesConflict {
    /// When it starts.
    pub start_time: availability_domain::jiff::Timestamp,
    /// When it ends.
    pub end_time: availability_domain::jiff::Timestamp,
    /// Why it cannot be booked.
    pub code: &'static str,
}

impl SeriesConflict {
    /// The occurrence `time` refused for `refusal`.
    pub fn new(time: availability_domain::Interval, refusal: Refusal) -> Self {
        Self {
            start_time: time.start(),
            end_time: time.end(),
            code: match refusal {
                Refusal::SlotTaken => "slot_taken",
                Refusal::LimitReached(_) => "limit_reached",
                _ => "slot_unavailable",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ReasonCode;

    #[test]
    fn the_engine_refusals_keep_their_kind() {
        assert_eq!(CoreError::from(Refusal::SlotTaken), CoreError::SlotTaken);
        assert_eq!(
            CoreError::from(Refusal::LimitReached(Limit::BookingsPerWeek)),
            CoreError::LimitReached(Limit::BookingsPerWeek)
        );
        assert_eq!(
            CoreError::from(Refusal::SlotUnavailable(ReasonCode::OutsideHours)),
            CoreError::SlotUnavailable(ReasonCode::OutsideHours.summary().to_owned())
        );
        assert_eq!(
            CoreError::LimitReached(Limit::BookingsPerDay).to_string(),
            "the expert's bookings for that day are full"
        );
    }
}

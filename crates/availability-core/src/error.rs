//! The core error enum: what the service, the ports and every strategy report. Only the server maps
//! these onto HTTP status codes.

use availability_domain::{DomainError, IntegrationType};

use crate::engine::BookingRefusal;

/// Everything that can go wrong when computing slots or booking.
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
    /// A query that the engine will not run (window reversed or too long, duration out of range).
    #[error("{0}")]
    InvalidQuery(String),
    /// The time overlaps another confirmed appointment of the expert.
    #[error("the time overlaps another confirmed appointment of this expert")]
    SlotTaken,
    /// The time is not a bookable slot.
    #[error("the time is not a bookable slot: {0}")]
    SlotUnavailable(String),
    /// The operation conflicts with the current state (e.g. rescheduling a cancelled appointment).
    #[error("{0}")]
    Conflict(String),
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
    /// The strategy cannot do this (e.g. write events to a calendar it only reads).
    #[error("{integration} does not support {operation}")]
    Unsupported {
        /// Which integration.
        integration: IntegrationType,
        /// What was asked.
        operation: &'static str,
    },
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

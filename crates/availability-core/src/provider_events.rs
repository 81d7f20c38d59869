//! What a provider reports about the bookings it holds (a webhook, a sync): booked, cancelled.
//! The service decides what each report does to the expert's appointments, the same for every
//! provider and every embedder (see `AvailabilityService::apply_provider_event`).

use availability_domain::{Interval, Zone};

/// Who a provider's booking is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    /// Their email (clients are matched on it, case-insensitively).
    pub email: String,
    /// Their name as given to the provider.
    pub name: String,
    /// Their zone, if the provider knows it.
    pub timezone: Option<Zone>,
}

/// A change in the provider, for one expert.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderEvent {
    /// The provider booked `time` for `invitee`: a booking made on the provider's own pages, or
    /// the client finishing a pending booking at its link.
    Booked {
        /// The provider's reference to the booking (e.g. an invitee URI).
        external_id: String,
        /// The time the provider booked.
        time: Interval,
        /// For whom.
        invitee: Invitee,
        /// The booking replaces one the invitee moved on the provider's pages: it never finishes
        /// a pending booking (the move's cancellation arrives as its own event).
        rescheduled: bool,
    },
    /// The provider's booking was cancelled there.
    Cancelled {
        /// The provider's reference to the booking.
        external_id: String,
        /// The reason given there, if any.
        reason: Option<String>,
    },
}

/// What applying a reported change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// The expert's appointments changed.
    Applied,
    /// The change was applied before (a repeated delivery): nothing changed.
    Unchanged,
}

impl EventOutcome {
    /// The word the webhook answer uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "ok",
            Self::Unchanged => "unchanged",
        }
    }
}

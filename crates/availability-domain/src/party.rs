//! The people of the marketplace: experts (whose time is booked) and clients (who book).

use serde::{Deserialize, Serialize};

use crate::{BookingPolicy, ClientId, ExpertId, IntegrationType, Zone};

/// An expert whose time clients book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expert {
    /// Stable id.
    pub id: ExpertId,
    /// Display name.
    pub name: String,
    /// Contact address (independent of any connected calendar account).
    pub email: String,
    /// The zone the expert's weekly hours are in.
    pub timezone: Zone,
    /// Where availability comes from.
    pub integration_type: IntegrationType,
    /// How hours become slots.
    pub booking_policy: BookingPolicy,
}

/// A client who books experts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// Stable id.
    pub id: ClientId,
    /// Display name.
    pub name: String,
    /// Contact address; calendar invitations go here.
    pub email: String,
    /// The client's own zone (providers that need the invitee's zone get it).
    pub timezone: Zone,
}

//! The people of the marketplace: experts (whose time is booked) and clients (who book).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{BookingPolicy, CalendarType, ClientId, ExpertId, Zone};

/// Where an expert's availability comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationType {
    /// Hours typed in by the expert; no external calendar.
    Manual,
    /// Google Calendar.
    GoogleCalendar,
    /// Microsoft 365 / Outlook.
    Office365Calendar,
    /// Calendly event types.
    Calendly,
}

impl IntegrationType {
    /// Every integration type, in a stable order.
    pub const ALL: [IntegrationType; 4] = [
        Self::Manual,
        Self::GoogleCalendar,
        Self::Office365Calendar,
        Self::Calendly,
    ];

    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::GoogleCalendar => "google_calendar",
            Self::Office365Calendar => "office365_calendar",
            Self::Calendly => "calendly",
        }
    }

    /// The name a person reads in a message.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Manual => "manual hours",
            Self::GoogleCalendar => "Google Calendar",
            Self::Office365Calendar => "Office 365",
            Self::Calendly => "Calendly",
        }
    }

    /// The external calendar appointments land in; none for manual hours (the inverse of
    /// [`CalendarType::integration_type`]).
    pub fn calendar_type(self) -> Option<CalendarType> {
        match self {
            Self::Manual => None,
            Self::GoogleCalendar => Some(CalendarType::Google),
            Self::Office365Calendar => Some(CalendarType::Office365),
            Self::Calendly => Some(CalendarType::Calendly),
        }
    }
}

impl fmt::Display for IntegrationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name was not one of the integration types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown integration type {0:?}: expected manual, google_calendar, office365_calendar or calendly")]
pub struct UnknownIntegrationType(pub String);

impl FromStr for IntegrationType {
    type Err = UnknownIntegrationType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownIntegrationType(s.to_owned()))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_types_serialise_with_the_design_names() {
        for t in IntegrationType::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(t.as_str().parse::<IntegrationType>().unwrap(), t);
        }
        assert!("outlook".parse::<IntegrationType>().is_err());
    }
}

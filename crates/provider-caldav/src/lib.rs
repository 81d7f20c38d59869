#![doc = include_str!("../README.md")]

mod booking;
mod discovery;
mod error;
mod event;
mod expand;
mod stored;
mod strategy;
mod transport;
mod wire;
mod zones;

#[cfg(feature = "testing")]
pub mod testing;

use availability_domain::{AppointmentId, IntegrationType};

pub use discovery::{connect, CalendarInfo, ConnectedAccount};
pub use error::ConnectError;
pub use expand::{busy_intervals_in, expand_occurrences, ExpansionContext, ExpansionLimits, IcalError, Occurrence};
pub use stored::{CalendarChoice, ChoiceError, StoredCaldav, StoredCalendar};
pub use strategy::{CaldavBuilder, CaldavStrategy, ChooseCalendarsError};

/// The integration type string of this provider (api.md: `caldav`), the identifier the server
/// registers the strategy under once `IntegrationType` is an open identifier.
pub const INTEGRATION_NAME: &str = "caldav";

/// A server the connect form offers, with the URL discovery starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// What the expert reads.
    pub label: &'static str,
    /// The URL discovery starts from (RFC 6764 well-known, then current-user-principal).
    pub server_url: &'static str,
    /// The service only accepts app-specific passwords (the page says so and links its help).
    pub app_specific_password: bool,
}

/// The presets of the connect form (api.md "CalDAV"). "Your own server" is a pattern: the
/// expert replaces `HOST` (Nextcloud serves CalDAV under `/remote.php/dav`).
pub const PRESETS: [Preset; 4] = [
    Preset {
        label: "Apple iCloud",
        server_url: "https://caldav.icloud.com",
        app_specific_password: true,
    },
    Preset {
        label: "Yahoo",
        server_url: "https://caldav.calendar.yahoo.com",
        app_specific_password: true,
    },
    Preset {
        label: "Fastmail",
        server_url: "https://caldav.fastmail.com",
        app_specific_password: true,
    },
    Preset {
        label: "Your own server (Nextcloud: https://HOST/remote.php/dav)",
        server_url: "https://HOST/remote.php/dav",
        app_specific_password: false,
    },
];

/// The UID of an appointment's event: stable for the appointment, so a retried create finds
/// the event it made (the resource is `{calendar}/{uid}.ics`, created with `If-None-Match: *`).
pub fn appointment_uid(id: AppointmentId) -> String {
    format!("availability-appointment-{id}")
}

// caldav: switches to the registered identifier when IntegrationType becomes open
fn integration() -> IntegrationType {
    // A stand-in so the crate compiles while IntegrationType is a closed enum; nothing in this
    // crate (or its tests) depends on which value it is.
    IntegrationType::Manual
}

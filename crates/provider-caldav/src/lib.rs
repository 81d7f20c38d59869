#![doc = include_str!("../README.md")]

mod booking;
mod discovery;
mod error;
mod event;
mod expand;
mod feed;
pub mod provider;
mod stored;
mod strategy;
mod transport;
mod wire;
mod zones;

#[cfg(feature = "testing")]
pub mod testing;

use availability_domain::{AppointmentId, CalendarType, IntegrationType};

pub use discovery::{discover, CalendarInfo, ConnectedAccount};
pub use error::ConnectError;
pub use expand::{busy_intervals_in, expand_occurrences, ExpansionContext, ExpansionLimits, IcalError, Occurrence};
pub use provider::{register, CaldavProvider};
pub use stored::{CalendarChoice, ChoiceError, StoredCaldav, StoredCalendar};
pub use strategy::{CaldavBuilder, CaldavStrategy};

/// The integration type of this provider (api.md: `caldav`), owned by this crate.
pub const INTEGRATION: IntegrationType = IntegrationType::from_static("caldav");

/// The `calendar_type` of the appointments it writes.
pub const CALENDAR_TYPE: CalendarType = CalendarType::from_static("caldav");

/// The name people know it by.
pub const DISPLAY_NAME: &str = "CalDAV (iCloud, Fastmail, Nextcloud, Yahoo)";

/// The password field's help on the connect form: iCloud, Yahoo and Fastmail take only
/// app-specific passwords, made on the pages linked here.
pub const PASSWORD_HELP: &str = "iCloud, Yahoo and Fastmail accept only an app-specific password, not your account \
     password. Make one for this site: iCloud https://support.apple.com/102654, Yahoo \
     https://help.yahoo.com/kb/SLN15241.html, Fastmail \
     https://www.fastmail.help/hc/en-us/articles/360058752854-App-passwords. Your own server (Nextcloud and \
     others): your password, or an app password where the server offers them.";

/// A server the connect form offers, with the URL discovery starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// What the expert reads.
    pub label: &'static str,
    /// The URL discovery starts from (RFC 6764 well-known, then current-user-principal); empty
    /// for "your own server", which the expert types.
    pub server_url: &'static str,
    /// The service only accepts app-specific passwords (the page says so and links its help).
    pub app_specific_password: bool,
}

/// The presets of the connect form (api.md "CalDAV"). "Your own server" has no value: the
/// expert types their server's address (Nextcloud serves CalDAV under `/remote.php/dav`).
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
        server_url: "",
        app_specific_password: false,
    },
];

/// The UID of an appointment's event: stable for the appointment, so a retried create finds
/// the event it made (the resource is `{calendar}/{uid}.ics`, created with `If-None-Match: *`).
pub fn appointment_uid(id: AppointmentId) -> String {
    format!("availability-appointment-{id}")
}

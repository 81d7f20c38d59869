#![doc = include_str!("../README.md")]

mod builder;
mod calendars;
mod provider;
mod strategy;
mod wire;

use availability_domain::{AppointmentId, CalendarType, IntegrationType, Secret};
use provider_http::{ClientAuth, OAuthConfig};

pub use builder::GoogleCalendarBuilder;
pub use calendars::{CalendarInfo, CalendarSettings};
pub use provider::{register, GoogleProvider};
pub use strategy::GoogleCalendarStrategy;

/// The integration type this crate serves.
pub const INTEGRATION: IntegrationType = IntegrationType::from_static("google_calendar");

/// The `calendar_type` of the appointments it writes.
pub const CALENDAR_TYPE: CalendarType = CalendarType::from_static("google");

/// The name people know it by.
pub const DISPLAY_NAME: &str = "Google Calendar";

/// Google's authorization endpoint.
pub const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint (code exchange and refresh).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint.
pub const GOOGLE_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
/// The Google Calendar v3 API base: the prefix before `/freeBusy`.
pub const GOOGLE_API_BASE: &str = "https://www.googleapis.com/calendar/v3";

/// Read and write events (insert, patch, delete). Not enough for freeBusy on its own.
pub const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
/// Free/busy queries.
pub const SCOPE_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
/// The calendar list, read-only: lets the expert choose which calendars block time.
pub const SCOPE_CALENDARLIST_READONLY: &str = "https://www.googleapis.com/auth/calendar.calendarlist.readonly";

/// The scopes [`oauth_config`] asks for: the three calendar scopes the strategy needs and nothing
/// broader (never the bare `.../auth/calendar`), plus `openid` and `email`, which only reveal the
/// account's address (the primary calendar's id reveals it too) so the connect flow can show it
/// from the `id_token`.
pub const SCOPES: [&str; 5] = [
    SCOPE_EVENTS,
    SCOPE_FREEBUSY,
    SCOPE_CALENDARLIST_READONLY,
    "openid",
    "email",
];

/// The longest range one freeBusy request covers. Google refuses ranges over "about 90 days"
/// (provider-apis.md); 60 days stays clear of that fuzzy limit, and a 93-day query (the service's
/// maximum) still takes only two round trips.
pub const MAX_FREEBUSY_DAYS: i64 = 60;

/// The Google OAuth app of this integration, for `provider_http::OAuthApp::new`: [`SCOPES`],
/// `access_type=offline` (a refresh token) and `prompt=consent` (a refresh token on every
/// connect, not only the first), the client authenticated in the form body. PKCE S256 and the
/// state are added by `OAuthApp::authorize_url`.
///
/// `include_granted_scopes=true` is deliberately not sent: with it Google folds every scope the
/// user ever granted this client into the new token, which could make it broader than [`SCOPES`].
pub fn oauth_config(
    client_id: impl Into<String>,
    client_secret: Secret<String>,
    auth_url: impl Into<String>,
    token_url: impl Into<String>,
    revoke_url: Option<String>,
) -> OAuthConfig {
    OAuthConfig {
        integration: INTEGRATION,
        client_id: client_id.into(),
        client_secret,
        auth_url: auth_url.into(),
        token_url: token_url.into(),
        revoke_url,
        scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        extra_authorize_params: vec![
            ("access_type".to_owned(), "offline".to_owned()),
            ("prompt".to_owned(), "consent".to_owned()),
        ],
        client_auth: ClientAuth::RequestBody,
        scopes_on_token_requests: false,
    }
}

/// The Google event id of an appointment's event: the appointment's UUID as 32 lowercase hex
/// digits. Hex digits are base32hex characters (`0-9a-v`) and 32 lies within Google's 5 to 1024,
/// so Google accepts it as a client-chosen id; being derived, it makes inserts idempotent and lets
/// an appointment whose event id was never stored still be found.
pub fn event_id(appointment: AppointmentId) -> String {
    appointment.0.simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_valid_client_chosen_ids() {
        for _ in 0..1000 {
            let id = event_id(AppointmentId::new());
            assert_eq!(id.len(), 32);
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'v')),
                "{id} is not base32hex"
            );
        }
        let fixed: AppointmentId = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b".parse().unwrap();
        assert_eq!(event_id(fixed), "6f1c2a3b4d5e4f608a9b0c1d2e3f4a5b");
    }

    #[test]
    fn the_oauth_app_asks_for_least_privilege() {
        let config = oauth_config(
            "id",
            Secret::new("secret".into()),
            GOOGLE_AUTH_URL,
            GOOGLE_TOKEN_URL,
            Some(GOOGLE_REVOKE_URL.into()),
        );
        assert!(!config
            .scopes
            .iter()
            .any(|s| s == "https://www.googleapis.com/auth/calendar"));
        assert!(config.scopes.iter().any(|s| s == SCOPE_FREEBUSY));
        assert_eq!(
            config.extra_authorize_params,
            vec![
                ("access_type".to_owned(), "offline".to_owned()),
                ("prompt".to_owned(), "consent".to_owned())
            ]
        );
        assert_eq!(config.client_auth, ClientAuth::RequestBody);
        assert_eq!(config.integration, INTEGRATION);
    }
}

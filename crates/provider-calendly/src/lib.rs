#![doc = include_str!("../README.md")]

mod builder;
mod connect;
mod provider;
mod stored;
mod strategy;
mod webhook;
mod wire;

use availability_domain::jiff::SignedDuration;
use availability_domain::{CalendarType, IntegrationType, Secret};
use provider_http::{ClientAuth, OAuthConfig};

pub use builder::CalendlyBuilder;
pub use connect::{CalendlyAccount, ConnectError, EventType};
pub use provider::{register, CalendlyProvider};
pub use stored::{CalendlyAuth, ChosenEventType, StoredCalendly};
pub use strategy::{BookingOutcome, CalendlyInvitee, CalendlyStrategy, ScheduledEvent};
pub use webhook::{
    parse_webhook, verify_webhook, WebhookError, WebhookEvent, WebhookEventKind, MAX_SIGNATURE_AGE, SIGNATURE_HEADER,
};

/// The integration type this crate serves.
pub const INTEGRATION: IntegrationType = IntegrationType::from_static("calendly");

/// The `calendar_type` of the appointments it books.
pub const CALENDAR_TYPE: CalendarType = CalendarType::from_static("calendly");

/// The name people know it by.
pub const DISPLAY_NAME: &str = "Calendly";

/// Calendly's API base.
pub const CALENDLY_API_BASE: &str = "https://api.calendly.com";
/// Calendly's authorization endpoint.
pub const CALENDLY_AUTH_URL: &str = "https://auth.calendly.com/oauth/authorize";
/// Calendly's token endpoint (code exchange and refresh).
pub const CALENDLY_TOKEN_URL: &str = "https://auth.calendly.com/oauth/token";
/// Calendly's revocation endpoint.
pub const CALENDLY_REVOKE_URL: &str = "https://auth.calendly.com/oauth/revoke";

/// The scopes the strategy uses. Personal access tokens need them explicitly since 2026-03-03;
/// an OAuth app gets its scopes from its registration (the authorization URL names none).
pub const SCOPES: [&str; 5] = [
    "availability:read",
    "event_types:read",
    "scheduled_events:read",
    "scheduled_events:write",
    "webhooks",
];

/// The default longest span of one available-times request: Calendly's limit until 2026-07-09
/// (31 days after). Set it with [`CalendlyBuilder::with_max_span_days`] (CALENDLY_MAX_SPAN_DAYS).
pub const DEFAULT_MAX_SPAN_DAYS: u32 = 7;

/// The longest span of one /user_busy_times request (its limit did not change).
pub const BUSY_TIMES_MAX_SPAN_DAYS: i64 = 7;

/// Available times are never asked for from before now + this: Calendly refuses a start_time in
/// the past, and a request takes a moment to arrive.
pub const START_MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// The Calendly OAuth app, for `provider_http::OAuthApp::new`: the client authenticates with
/// HTTP Basic at the token endpoint (Calendly's web clients do), no scopes in the authorization
/// URL (they come with the app's registration), PKCE S256 and the state added by
/// `OAuthApp::authorize_url`. Refresh tokens are single use: `provider_http::TokenManager` saves
/// each new one before using its access token.
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
        scopes: Vec::new(),
        extra_authorize_params: Vec::new(),
        client_auth: ClientAuth::Basic,
        scopes_on_token_requests: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oauth_app_authenticates_with_basic() {
        let config = oauth_config(
            "id",
            Secret::new("secret".into()),
            CALENDLY_AUTH_URL,
            CALENDLY_TOKEN_URL,
            Some(CALENDLY_REVOKE_URL.into()),
        );
        assert_eq!(config.client_auth, ClientAuth::Basic);
        assert_eq!(config.integration, INTEGRATION);
        assert!(config.scopes.is_empty());
        assert_eq!(config.revoke_url.as_deref(), Some(CALENDLY_REVOKE_URL));
    }
}

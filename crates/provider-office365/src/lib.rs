#![doc = include_str!("../README.md")]

mod builder;
mod error;
mod graph;
mod provider;
mod settings;
mod strategy;
mod sync;
mod time;
pub mod windows_zones;
mod working_hours;

use availability_core::CoreError;
use availability_domain::{CalendarType, IntegrationType, Secret};
use provider_http::{ClientAuth, HttpPolicy, OAuthConfig};

pub use builder::Office365Builder;
pub use error::Office365Error;
pub use provider::{register, Office365Provider};
pub use settings::{Office365Account, Office365Settings};
pub use strategy::{Office365CalendarStrategy, MAX_CHUNK_DAYS};

/// The integration this crate serves.
pub const INTEGRATION: IntegrationType = IntegrationType::from_static("office365_calendar");

/// The `calendar_type` of the appointments it writes.
pub const CALENDAR_TYPE: CalendarType = CalendarType::from_static("office365");

/// The name people know it by.
pub const DISPLAY_NAME: &str = "Office 365";

/// The scopes asked for, and no others: a refresh token, the calendar, and the user's address.
pub const SCOPES: [&str; 3] = ["offline_access", "Calendars.ReadWrite", "User.Read"];

/// The Microsoft identity platform.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Work, school and personal accounts alike.
pub const DEFAULT_TENANT: &str = "common";

/// Microsoft Graph v1.0.
pub const DEFAULT_GRAPH_BASE: &str = "https://graph.microsoft.com/v1.0";

/// Outlook allows 4 concurrent requests per app per mailbox.
pub const MAX_CONCURRENT_REQUESTS_PER_MAILBOX: usize = 4;

/// The Microsoft OAuth app for `provider_http::OAuthApp`: [`SCOPES`], PKCE S256 (the platform's
/// default), `response_mode=query`, the client secret in the request body, and the scopes sent
/// with code exchanges and refreshes too (the v2.0 endpoint expects them). Microsoft has no
/// revocation endpoint for this flow. `auth_url` and `token_url` are
/// `{authority}/{tenant}/oauth2/v2.0/authorize` and `.../token` (see
/// [`Office365Builder::auth_url`]).
pub fn oauth_config(
    client_id: impl Into<String>,
    client_secret: Secret<String>,
    auth_url: impl Into<String>,
    token_url: impl Into<String>,
) -> OAuthConfig {
    OAuthConfig {
        integration: INTEGRATION,
        client_id: client_id.into(),
        client_secret,
        auth_url: auth_url.into(),
        token_url: token_url.into(),
        revoke_url: None,
        scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        extra_authorize_params: vec![("response_mode".to_owned(), "query".to_owned())],
        client_auth: ClientAuth::RequestBody,
        scopes_on_token_requests: true,
    }
}

/// The account behind an access token that is not stored yet (an OAuth callback's): GET /me,
/// its `mail` (else `userPrincipalName`) as the address, and whether it is a personal account.
/// Store [`Office365Account::address`] as the grant's account and [`Office365Account::extra`] as
/// its `extra` (or let [`Office365CalendarStrategy::store_grant`] do both).
pub async fn account(
    graph_base: &str,
    client: &reqwest::Client,
    policy: &HttpPolicy,
    access_token: &Secret<String>,
) -> Result<Office365Account, CoreError> {
    let base = reqwest::Url::parse(graph_base).map_err(|e| CoreError::ProviderUnavailable {
        integration: INTEGRATION,
        message: format!("the Graph base URL is not usable: {e}"),
    })?;
    graph::me_with_token(&base, client, policy, access_token).await
}

//! GoogleCalendarBuilder: the real endpoints by default, every one of them replaceable (tests point
//! them at `provider_fakes::FakeGoogle`), and an injectable `reqwest::Client` and `HttpPolicy`.

use std::fmt;
use std::sync::Arc;

use availability_core::ports::{CredentialRepository, IntegrationRepository};
use availability_domain::Secret;
use provider_http::{HttpPolicy, OAuthApp, ProviderHttpError, TokenManager};
use reqwest::Url;

use crate::strategy::{GoogleCalendarStrategy, Inner};
use crate::{oauth_config, GOOGLE_API_BASE, GOOGLE_AUTH_URL, GOOGLE_REVOKE_URL, GOOGLE_TOKEN_URL};

/// Where the strategy's access tokens come from.
enum TokenSource {
    /// A token manager built by the caller (the server builds one per OAuth app).
    Manager(TokenManager),
    /// The app's credentials: [`GoogleCalendarBuilder::build`] makes the app and the manager.
    App {
        client_id: String,
        client_secret: Secret<String>,
        credentials: Arc<dyn CredentialRepository>,
    },
}

/// Builds a [`GoogleCalendarStrategy`]:
///
/// - [`GoogleCalendarBuilder::new`] with a `provider_http::TokenManager` whose app came from
///   [`crate::oauth_config`] (what the server does), or
/// - [`GoogleCalendarBuilder::from_client_credentials`] with the app's client id and secret, the
///   authorization, token and revocation endpoints being Google's unless set with `with_*_url`.
///
/// The API base is Google's unless [`GoogleCalendarBuilder::with_api_base`] says otherwise; the
/// `reqwest::Client` and the `HttpPolicy` are the policy's defaults unless given.
pub struct GoogleCalendarBuilder {
    tokens: TokenSource,
    integrations: Arc<dyn IntegrationRepository>,
    api_base: String,
    client: Option<reqwest::Client>,
    policy: Option<HttpPolicy>,
    auth_url: Option<String>,
    token_url: Option<String>,
    revoke_url: Option<Option<String>>,
    events_page_size: u32,
}

impl fmt::Debug for GoogleCalendarBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = match &self.tokens {
            TokenSource::Manager(_) => "token manager",
            TokenSource::App { .. } => "client credentials",
        };
        f.debug_struct("GoogleCalendarBuilder")
            .field("tokens", &tokens)
            .field("api_base", &self.api_base)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl GoogleCalendarBuilder {
    /// A builder over a token manager of the Google OAuth app (see [`crate::oauth_config`]) and
    /// the repository the strategy records the integration's status in.
    pub fn new(tokens: TokenManager, integrations: Arc<dyn IntegrationRepository>) -> Self {
        Self::with_source(TokenSource::Manager(tokens), integrations)
    }

    /// A builder that makes the OAuth app (with [`crate::oauth_config`]) and its token manager
    /// from the app's client id and secret, over the store's credentials and integration status.
    pub fn from_client_credentials(
        client_id: impl Into<String>,
        client_secret: Secret<String>,
        credentials: Arc<dyn CredentialRepository>,
        integrations: Arc<dyn IntegrationRepository>,
    ) -> Self {
        let source = TokenSource::App {
            client_id: client_id.into(),
            client_secret,
            credentials,
        };
        Self::with_source(source, integrations)
    }

    fn with_source(tokens: TokenSource, integrations: Arc<dyn IntegrationRepository>) -> Self {
        Self {
            tokens,
            integrations,
            api_base: GOOGLE_API_BASE.to_owned(),
            client: None,
            policy: None,
            auth_url: None,
            token_url: None,
            revoke_url: None,
            events_page_size: crate::strategy::DEFAULT_EVENTS_PAGE,
        }
    }

    /// How many events one `events.list` page of the change feed asks for (`maxResults`;
    /// default 250, Google's own default). Google serves at most 2500; 0 is taken as 1.
    pub fn with_events_page_size(mut self, size: u32) -> Self {
        self.events_page_size = size.clamp(1, 2500);
        self
    }

    /// The Calendar API base, the prefix before `/freeBusy` (default [`GOOGLE_API_BASE`]).
    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into();
        self
    }

    /// The HTTP client for API calls (`None`: one from the policy, with its connect timeout and
    /// no redirects). Timeouts and retries come from the policy either way.
    pub fn with_client(mut self, client: impl Into<Option<reqwest::Client>>) -> Self {
        self.client = client.into();
        self
    }

    /// The HTTP policy for API calls (`None`: `HttpPolicy::default()`, a 10 s budget per call).
    pub fn with_policy(mut self, policy: impl Into<Option<HttpPolicy>>) -> Self {
        self.policy = policy.into();
        self
    }

    /// The authorization endpoint (default [`GOOGLE_AUTH_URL`]); only with
    /// [`Self::from_client_credentials`].
    pub fn with_auth_url(mut self, url: impl Into<String>) -> Self {
        self.auth_url = Some(url.into());
        self
    }

    /// The token endpoint (default [`GOOGLE_TOKEN_URL`]); only with
    /// [`Self::from_client_credentials`].
    pub fn with_token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The revocation endpoint (default [`GOOGLE_REVOKE_URL`]; `None`: none); only with
    /// [`Self::from_client_credentials`].
    pub fn with_revoke_url(mut self, url: Option<String>) -> Self {
        self.revoke_url = Some(url);
        self
    }

    /// The strategy. Fails (`ProviderHttpError::InvalidRequest`) on a malformed URL, a token
    /// manager of another integration, or OAuth endpoints set beside a ready token manager
    /// (they would be silently ignored).
    pub fn build(self) -> Result<GoogleCalendarStrategy, ProviderHttpError> {
        let invalid = |message: String| ProviderHttpError::InvalidRequest(message);
        let policy = self.policy.unwrap_or_default();
        let http = match self.client {
            Some(client) => client,
            None => policy.client()?,
        };
        let api_base = Url::parse(&self.api_base).map_err(|e| invalid(format!("api_base: {e}")))?;
        if !matches!(api_base.scheme(), "http" | "https") || api_base.cannot_be_a_base() {
            return Err(invalid(format!(
                "api_base: {} is not an http(s) base URL",
                self.api_base
            )));
        }
        let tokens = match self.tokens {
            TokenSource::Manager(tokens) => {
                if self.auth_url.is_some() || self.token_url.is_some() || self.revoke_url.is_some() {
                    return Err(invalid(
                        "auth, token and revoke URLs configure the OAuth app that from_client_credentials makes; \
                         the token manager given to new() has its app already"
                            .into(),
                    ));
                }
                if tokens.integration() != crate::INTEGRATION {
                    return Err(invalid(format!(
                        "the token manager is for {}, not google_calendar",
                        tokens.integration()
                    )));
                }
                tokens
            }
            TokenSource::App {
                client_id,
                client_secret,
                credentials,
            } => {
                let config = oauth_config(
                    client_id,
                    client_secret,
                    self.auth_url.unwrap_or_else(|| GOOGLE_AUTH_URL.to_owned()),
                    self.token_url.unwrap_or_else(|| GOOGLE_TOKEN_URL.to_owned()),
                    self.revoke_url.unwrap_or_else(|| Some(GOOGLE_REVOKE_URL.to_owned())),
                );
                let app = OAuthApp::with_policy(config, policy.clone())?;
                TokenManager::new(Arc::new(app), credentials, self.integrations.clone())
            }
        };
        Ok(GoogleCalendarStrategy::from_inner(Inner {
            api_base,
            http,
            tokens,
            integrations: self.integrations,
            policy,
            events_page_size: self.events_page_size,
            reported: Default::default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_core::InMemoryStore;

    fn store() -> Arc<InMemoryStore> {
        Arc::new(InMemoryStore::new())
    }

    fn builder() -> GoogleCalendarBuilder {
        let store = store();
        GoogleCalendarBuilder::from_client_credentials("id", Secret::new("secret".into()), store.clone(), store)
    }

    #[test]
    fn defaults_are_the_real_endpoints() {
        let strategy = builder().build().unwrap();
        let app = strategy.tokens().app().config();
        assert_eq!(app.auth_url, GOOGLE_AUTH_URL);
        assert_eq!(app.token_url, GOOGLE_TOKEN_URL);
        assert_eq!(app.revoke_url.as_deref(), Some(GOOGLE_REVOKE_URL));
        assert!(format!("{strategy:?}").contains(GOOGLE_API_BASE));
        assert_eq!(strategy.policy(), &HttpPolicy::default());
    }

    #[test]
    fn endpoints_client_and_policy_can_be_replaced() {
        let policy = HttpPolicy::default().with_max_attempts(2);
        let strategy = builder()
            .with_api_base("http://127.0.0.1:9/calendar/v3")
            .with_auth_url("http://127.0.0.1:9/auth")
            .with_token_url("http://127.0.0.1:9/token")
            .with_revoke_url(None)
            .with_client(reqwest::Client::new())
            .with_policy(policy.clone())
            .build()
            .unwrap();
        assert_eq!(strategy.tokens().app().config().token_url, "http://127.0.0.1:9/token");
        assert_eq!(strategy.tokens().app().config().revoke_url, None);
        assert_eq!(strategy.policy(), &policy);
        assert!(builder().with_client(None).with_policy(None).build().is_ok());
    }

    #[test]
    fn mistakes_are_refused() {
        assert!(builder().with_api_base("not a url").build().is_err());
        assert!(builder().with_api_base("mailto:a@b.c").build().is_err());
        assert!(builder().with_token_url("::").build().is_err());
        let manager = builder().build().unwrap().tokens().clone();
        let store = store();
        assert!(GoogleCalendarBuilder::new(manager.clone(), store.clone())
            .with_token_url("http://127.0.0.1:9/token")
            .build()
            .is_err());
        assert!(GoogleCalendarBuilder::new(manager, store).build().is_ok());
    }
}

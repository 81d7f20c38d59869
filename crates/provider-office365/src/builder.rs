//! [`Office365Builder`]: the strategy's endpoints, HTTP client, policy and token manager, with the
//! real Microsoft endpoints as defaults so the same code talks to Microsoft and to the fake.

use std::fmt;
use std::sync::Arc;

use availability_core::{CredentialRepository, IntegrationRepository};
use availability_domain::Secret;
use provider_http::{AccountLimiter, HttpPolicy, OAuthApp, OAuthConfig, TokenManager};
use reqwest::Url;

use crate::graph::Graph;
use crate::{
    oauth_config, Office365CalendarStrategy, Office365Error, DEFAULT_AUTHORITY, DEFAULT_GRAPH_BASE, DEFAULT_TENANT,
    INTEGRATION, MAX_CONCURRENT_REQUESTS_PER_MAILBOX,
};

/// Builds an [`Office365CalendarStrategy`].
///
/// Either hand it the platform's [`TokenManager`] (what a server does, with its OAuth app):
///
/// ```no_run
/// # fn demo(tokens: provider_http::TokenManager, store: std::sync::Arc<availability_core::InMemoryStore>)
/// # -> Result<(), provider_office365::Office365Error> {
/// let strategy = provider_office365::Office365Builder::new()
///     .with_tokens(tokens)
///     .with_integrations(store)
///     .build()?;
/// # let _ = strategy; Ok(()) }
/// ```
///
/// or the app's client id and secret (and tenant) and a credential store, and it makes the token
/// manager itself. [`Office365Builder::from_parts`] takes the server's pieces in one call.
pub struct Office365Builder {
    client_id: Option<String>,
    client_secret: Option<Secret<String>>,
    tenant: String,
    authority: String,
    graph_base: String,
    client: Option<reqwest::Client>,
    policy: Option<HttpPolicy>,
    tokens: Option<TokenManager>,
    credentials: Option<Arc<dyn CredentialRepository>>,
    integrations: Option<Arc<dyn IntegrationRepository>>,
}

impl fmt::Debug for Office365Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Office365Builder")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("tenant", &self.tenant)
            .field("authority", &self.authority)
            .field("graph_base", &self.graph_base)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl Default for Office365Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Office365Builder {
    /// The real endpoints (`https://login.microsoftonline.com`, tenant `common`,
    /// `https://graph.microsoft.com/v1.0`), the default [`HttpPolicy`] and its client.
    pub fn new() -> Self {
        Office365Builder {
            client_id: None,
            client_secret: None,
            tenant: DEFAULT_TENANT.to_owned(),
            authority: DEFAULT_AUTHORITY.to_owned(),
            graph_base: DEFAULT_GRAPH_BASE.to_owned(),
            client: None,
            policy: None,
            tokens: None,
            credentials: None,
            integrations: None,
        }
    }

    /// The server's pieces in one call: Graph's base URL, an HTTP client (`None`: the policy's,
    /// which follows no redirects), the token manager of the Microsoft OAuth app, where the
    /// integration's status is reported, and the HTTP policy (`None`: the default).
    pub fn from_parts(
        graph_base: String,
        client: Option<reqwest::Client>,
        tokens: TokenManager,
        integrations: Arc<dyn IntegrationRepository>,
        policy: Option<HttpPolicy>,
    ) -> Self {
        Office365Builder {
            graph_base,
            client,
            tokens: Some(tokens),
            integrations: Some(integrations),
            policy,
            ..Self::new()
        }
    }

    /// The OAuth app's client id and secret (needed unless [`Self::with_tokens`] is given).
    pub fn with_app_credentials(mut self, client_id: impl Into<String>, client_secret: Secret<String>) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = Some(client_secret);
        self
    }

    /// The tenant: `common` (default), `organizations`, `consumers` or a tenant GUID.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// The identity platform's authority (default `https://login.microsoftonline.com`; a
    /// national cloud or a fake elsewhere).
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into();
        self
    }

    /// Graph's base URL, version included (default `https://graph.microsoft.com/v1.0`).
    pub fn with_graph_base(mut self, graph_base: impl Into<String>) -> Self {
        self.graph_base = graph_base.into();
        self
    }

    /// The HTTP client for Graph calls. It should follow no redirects, as
    /// [`HttpPolicy::client`]'s does (the default).
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Timeouts, budget and retries (default: [`HttpPolicy::default`], 10 s in total per call).
    pub fn with_policy(mut self, policy: HttpPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The token manager of the Microsoft OAuth app (its app must be for office365_calendar).
    pub fn with_tokens(mut self, tokens: TokenManager) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Where grants are stored, for a token manager this builder makes.
    pub fn with_credentials(mut self, credentials: Arc<dyn CredentialRepository>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Where the integration's status (last sync, last error, needs_reauth) is reported.
    pub fn with_integrations(mut self, integrations: Arc<dyn IntegrationRepository>) -> Self {
        self.integrations = Some(integrations);
        self
    }

    /// The authorization endpoint of the configured authority and tenant.
    pub fn auth_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/authorize",
            self.authority.trim_end_matches('/'),
            self.tenant
        )
    }

    /// The token endpoint of the configured authority and tenant.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority.trim_end_matches('/'),
            self.tenant
        )
    }

    /// The OAuth app's configuration ([`oauth_config`] with this builder's credentials and
    /// endpoints).
    pub fn oauth_config(&self) -> Result<OAuthConfig, Office365Error> {
        let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            return Err(Office365Error::Missing("the OAuth app's client id and secret"));
        };
        Ok(oauth_config(
            id.clone(),
            secret.clone(),
            self.auth_url(),
            self.token_url(),
        ))
    }

    /// The strategy. Fails when a required piece is missing or a URL is unusable.
    pub fn build(self) -> Result<Office365CalendarStrategy, Office365Error> {
        let base = Url::parse(self.graph_base.trim()).map_err(|e| Office365Error::InvalidUrl {
            what: "the Graph base URL",
            reason: e.to_string(),
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Office365Error::InvalidUrl {
                what: "the Graph base URL",
                reason: "it must be an http(s) URL".into(),
            });
        }
        let integrations = self
            .integrations
            .clone()
            .ok_or(Office365Error::Missing("an IntegrationRepository (with_integrations)"))?;
        let policy = self.policy.clone().unwrap_or_default();
        let client = match self.client.clone() {
            Some(client) => client,
            None => policy.client()?,
        };
        let tokens = match self.tokens.clone() {
            Some(tokens) => tokens,
            None => {
                let credentials = self.credentials.clone().ok_or(Office365Error::Missing(
                    "a TokenManager (with_tokens) or a CredentialRepository (with_credentials)",
                ))?;
                let app = OAuthApp::with_policy(self.oauth_config()?, policy.clone())?;
                TokenManager::new(Arc::new(app), credentials, integrations.clone())
            }
        };
        if tokens.integration() != INTEGRATION {
            return Err(Office365Error::WrongIntegration(tokens.integration()));
        }
        let limiter = AccountLimiter::new(MAX_CONCURRENT_REQUESTS_PER_MAILBOX);
        Ok(Office365CalendarStrategy::new(
            Graph::new(base, client, policy, tokens, limiter),
            integrations,
        ))
    }
}

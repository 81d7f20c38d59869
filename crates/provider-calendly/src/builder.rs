//! CalendlyBuilder: the real API base by default (tests point it at `provider_fakes::FakeCalendly`),
//! an injectable `reqwest::Client` and `HttpPolicy`, the available-times span limit, the ports, and
//! optionally a token manager (OAuth) and a webhook subscription to make on connect.

use std::fmt;
use std::sync::Arc;

use availability_core::ports::{CredentialRepository, IntegrationRepository};
use availability_domain::Secret;
use provider_http::{HttpPolicy, ProviderHttpError, TokenManager};
use reqwest::Url;

use crate::strategy::{CalendlyStrategy, Inner, WebhookTarget};
use crate::{CALENDLY_API_BASE, DEFAULT_MAX_SPAN_DAYS};

/// Builds a [`CalendlyStrategy`]:
///
/// ```no_run
/// # use std::sync::Arc;
/// # use availability_core::InMemoryStore;
/// # fn demo() -> Result<(), provider_http::ProviderHttpError> {
/// let store = Arc::new(InMemoryStore::new());
/// let strategy = provider_calendly::CalendlyBuilder::new(store.clone(), store)
///     .with_max_span_days(31) // after Calendly raised the limit
///     .build()?;
/// # let _ = strategy;
/// # Ok(())
/// # }
/// ```
pub struct CalendlyBuilder {
    credentials: Arc<dyn CredentialRepository>,
    integrations: Arc<dyn IntegrationRepository>,
    api_base: String,
    client: Option<reqwest::Client>,
    policy: Option<HttpPolicy>,
    max_span_days: u32,
    tokens: Option<TokenManager>,
    webhook: Option<WebhookTarget>,
}

impl fmt::Debug for CalendlyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalendlyBuilder")
            .field("api_base", &self.api_base)
            .field("policy", &self.policy)
            .field("max_span_days", &self.max_span_days)
            .field("oauth", &self.tokens.is_some())
            .field("webhook_url", &self.webhook.as_ref().map(|w| w.url.as_str()))
            .finish_non_exhaustive()
    }
}

impl CalendlyBuilder {
    /// A builder over the store's credentials (personal access tokens and OAuth grants, see
    /// [`crate::StoredCalendly`]) and integration status.
    pub fn new(credentials: Arc<dyn CredentialRepository>, integrations: Arc<dyn IntegrationRepository>) -> Self {
        Self {
            credentials,
            integrations,
            api_base: CALENDLY_API_BASE.to_owned(),
            client: None,
            policy: None,
            max_span_days: DEFAULT_MAX_SPAN_DAYS,
            tokens: None,
            webhook: None,
        }
    }

    /// The API base (default [`CALENDLY_API_BASE`]): `/users/me` etc. hang below it.
    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into();
        self
    }

    /// The HTTP client (`None`: one from the policy, with its connect timeout and no redirects).
    pub fn with_client(mut self, client: impl Into<Option<reqwest::Client>>) -> Self {
        self.client = client.into();
        self
    }

    /// The HTTP policy of every call (`None`: `HttpPolicy::default()`, a 10 s budget per call).
    pub fn with_policy(mut self, policy: impl Into<Option<HttpPolicy>>) -> Self {
        self.policy = policy.into();
        self
    }

    /// The longest span of one available-times request, in days (default
    /// [`DEFAULT_MAX_SPAN_DAYS`]; Calendly allows 31 since 2026-07-09). Longer queries are split.
    pub fn with_max_span_days(mut self, days: u32) -> Self {
        self.max_span_days = days;
        self
    }

    /// The token manager of the Calendly OAuth app (built from [`crate::oauth_config`]), for
    /// experts connected with OAuth. Without one, such experts get `NeedsReauth`.
    pub fn with_token_manager(mut self, tokens: impl Into<Option<TokenManager>>) -> Self {
        self.tokens = tokens.into();
        self
    }

    /// Connecting subscribes `url` (the server's `PUBLIC_BASE_URL/webhooks/calendly`) to
    /// invitee.created and invitee.canceled, signed with `signing_key`
    /// (CALENDLY_WEBHOOK_SIGNING_KEY); disconnecting removes the subscription.
    pub fn with_webhook(mut self, url: impl Into<String>, signing_key: Secret<String>) -> Self {
        self.webhook = Some(WebhookTarget {
            url: url.into(),
            signing_key,
        });
        self
    }

    /// The strategy. Fails (`ProviderHttpError::InvalidRequest`) on a malformed API base, a span
    /// of 0 days, or a token manager of another integration.
    pub fn build(self) -> Result<CalendlyStrategy, ProviderHttpError> {
        let invalid = ProviderHttpError::InvalidRequest;
        let policy = self.policy.unwrap_or_default();
        let http = match self.client {
            Some(client) => client,
            None => policy.client()?,
        };
        let parsed = Url::parse(&self.api_base).map_err(|e| invalid(format!("api_base: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() || parsed.query().is_some() {
            return Err(invalid(format!(
                "api_base: {} is not an http(s) base URL",
                self.api_base
            )));
        }
        if self.max_span_days == 0 {
            return Err(invalid("max_span_days must be at least 1".into()));
        }
        if let Some(tokens) = &self.tokens {
            if tokens.integration() != crate::INTEGRATION {
                return Err(invalid(format!(
                    "the token manager is for {}, not calendly",
                    tokens.integration()
                )));
            }
        }
        if let Some(webhook) = &self.webhook {
            Url::parse(&webhook.url).map_err(|e| invalid(format!("webhook url: {e}")))?;
        }
        Ok(CalendlyStrategy::from_inner(Inner {
            api_base: self.api_base.trim_end_matches('/').to_owned(),
            http,
            policy,
            max_span_days: self.max_span_days,
            credentials: self.credentials,
            integrations: self.integrations,
            tokens: self.tokens,
            webhook: self.webhook,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_core::InMemoryStore;

    fn builder() -> CalendlyBuilder {
        let store = Arc::new(InMemoryStore::new());
        CalendlyBuilder::new(store.clone(), store)
    }

    #[test]
    fn defaults_and_refusals() {
        assert!(builder().build().is_ok());
        assert!(builder().with_api_base("not a url").build().is_err());
        assert!(builder().with_api_base("ftp://x").build().is_err());
        assert!(builder().with_max_span_days(0).build().is_err());
        assert!(builder().with_webhook("nope", Secret::new("k".into())).build().is_err());
        let debug = format!(
            "{:?}",
            builder().with_webhook("https://example.com/webhooks/calendly", Secret::new("sekrit".into()))
        );
        assert!(!debug.contains("sekrit"), "{debug}");
    }
}

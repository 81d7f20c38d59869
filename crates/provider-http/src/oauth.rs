//! OAuth 2.0 authorization code flow with PKCE, shared by the OAuth providers (Google, Microsoft,
//! Calendly), over the `oauth2` crate for the protocol (PKCE, state, request shapes, standard
//! error bodies) and this crate's [`HttpPolicy`] for the transport: token requests get the same
//! timeouts and budget as every provider call, follow no redirects, and are never repeated once
//! they may have reached the provider (codes and Calendly's refresh tokens are single use).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use availability_core::CoreError;
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{IntegrationType, Secret};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use crate::policy::{HttpPolicy, SendOptions};
use crate::redact::{scrub, snippet, SNIPPET_CHARS};
use crate::ProviderHttpError;

/// How the app authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the URL-encoded client id and secret (Calendly).
    Basic,
    /// `client_id` and `client_secret` in the form body (Google, Microsoft).
    RequestBody,
}

/// An OAuth app registered with a provider: what [`OAuthApp::new`] is built from.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The integration the app is for (named in errors).
    pub integration: IntegrationType,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: Secret<String>,
    /// The authorization endpoint the expert's browser is sent to.
    pub auth_url: String,
    /// The token endpoint (code exchange and refresh).
    pub token_url: String,
    /// The revocation endpoint, if the provider has one (Microsoft has none).
    pub revoke_url: Option<String>,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// Parameters added to the authorization URL. Google: `access_type=offline`,
    /// `prompt=consent`, `include_granted_scopes=true`; Microsoft: `response_mode=query`.
    pub extra_authorize_params: Vec<(String, String)>,
    /// How the app authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Send `scope` with code exchanges and refreshes too (Microsoft's v2.0 endpoint expects it).
    pub scopes_on_token_requests: bool,
}

/// What the expert's browser is sent to, and what must be kept (bound to the expert, single use)
/// until the provider redirects back: the core's type, so a provider's connector hands it on as
/// it is.
pub use availability_core::AuthorizationRequest;

/// The tokens a token endpoint granted.
#[derive(Clone)]
pub struct TokenSet {
    /// The access token.
    pub access_token: Secret<String>,
    /// A refresh token, if one was issued. On refresh: a new one replaces the old one (Microsoft
    /// rotates, Calendly's are single use); none means the old one stays valid (Google).
    pub refresh_token: Option<Secret<String>>,
    /// When the access token expires. A response without `expires_in` is taken to last one hour,
    /// the common lifetime; a 401 refreshes it earlier if that was optimistic.
    pub expires_at: Timestamp,
    /// The granted scopes, space separated, if the provider said.
    pub scope: Option<String>,
    /// Every other field of the token response (Calendly's `owner` and `organization`, an
    /// `id_token`), for the provider crate to pick from.
    pub response_fields: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Other fields can hold an id_token: show their names only.
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("response_fields", &self.response_fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The token response's fields beyond the standard ones.
#[derive(Clone, Serialize, Deserialize)]
struct ResponseFields {
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for ResponseFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.fields.keys()).finish()
    }
}

impl ExtraTokenFields for ResponseFields {}

type TokenResponseBody = StandardTokenResponse<ResponseFields, BasicTokenType>;

type Oauth2Client = oauth2::Client<
    BasicErrorResponse,
    TokenResponseBody,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// An OAuth app ready to use: authorization URLs, code exchange, refresh and revocation.
pub struct OAuthApp {
    config: OAuthConfig,
    client: Oauth2Client,
    revoke_url: Option<reqwest::Url>,
    policy: HttpPolicy,
    http: reqwest::Client,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("integration", &self.config.integration)
            .field("client_id", &self.config.client_id)
            .field("token_url", &self.config.token_url)
            .finish_non_exhaustive()
    }
}

/// Why a 3xx from the token endpoint is an error.
const NO_REDIRECTS: &str = "the token endpoint answered with a redirect, which is not followed";

impl OAuthApp {
    /// An app with the default [`HttpPolicy`]. Fails on a malformed URL.
    pub fn new(config: OAuthConfig) -> Result<Self, ProviderHttpError> {
        Self::with_policy(config, HttpPolicy::default())
    }

    /// An app whose token requests follow `policy` (timeouts and budget; token requests are
    /// retried only when they certainly did not reach the provider).
    pub fn with_policy(config: OAuthConfig, policy: HttpPolicy) -> Result<Self, ProviderHttpError> {
        let invalid = |what: &str| {
            let what = what.to_owned();
            move |e: oauth2::url::ParseError| ProviderHttpError::InvalidRequest(format!("{what}: {e}"))
        };
        let auth_url = AuthUrl::new(config.auth_url.clone()).map_err(invalid("auth_url"))?;
        let token_url = TokenUrl::new(config.token_url.clone()).map_err(invalid("token_url"))?;
        let revoke_url = config
            .revoke_url
            .as_deref()
            .map(reqwest::Url::parse)
            .transpose()
            .map_err(invalid("revoke_url"))?;
        let client = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.expose().clone()))
            .set_auth_type(match config.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::RequestBody => AuthType::RequestBody,
            })
            .set_auth_uri(auth_url)
            .set_token_uri(token_url);
        let http = policy.client()?;
        Ok(Self {
            config,
            client,
            revoke_url,
            policy,
            http,
        })
    }

    /// The integration this app serves.
    pub fn integration(&self) -> IntegrationType {
        self.config.integration
    }

    /// The configuration the app was built from.
    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// The authorization URL for a new connection, with a fresh random state (256 bits) and a
    /// PKCE S256 challenge. Keep `state` and `pkce_verifier` for the callback.
    pub fn authorize_url(&self, redirect_uri: &str) -> Result<AuthorizationRequest, ProviderHttpError> {
        let redirect = redirect_url(redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(|| CsrfToken::new_random_len(32))
            .add_scopes(self.config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect));
        for (name, value) in &self.config.extra_authorize_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let (url, state) = request.url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: Secret::new(state.into_secret()),
            pkce_verifier: Secret::new(verifier.into_secret()),
        })
    }

    /// Exchanges the callback's code for tokens. `redirect_uri` must be the one the
    /// authorization URL carried.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &Secret<String>,
        redirect_uri: &str,
    ) -> Result<TokenSet, CoreError> {
        let redirect = redirect_url(redirect_uri).map_err(|e| e.into_core(self.integration()))?;
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose().clone()))
            .set_redirect_uri(Cow::Owned(redirect));
        let scope = self.config.scopes.join(" ");
        if self.config.scopes_on_token_requests && !scope.is_empty() {
            request = request.add_extra_param("scope", scope);
        }
        let requested_at = Timestamp::now();
        let response = request.request_async(&TokenHttp(self)).await;
        let secrets = [code, pkce_verifier.expose().as_str()];
        match response {
            Ok(body) => Ok(token_set(body, requested_at)),
            Err(error) => Err(self.token_error(error, &secrets)),
        }
    }

    /// Trades a refresh token for a new access token. The result's `refresh_token` is the new
    /// one if the provider rotated it; the caller must store it before using the access token.
    pub async fn refresh(&self, refresh_token: &Secret<String>) -> Result<TokenSet, CoreError> {
        let token = RefreshToken::new(refresh_token.expose().clone());
        let mut request = self.client.exchange_refresh_token(&token);
        if self.config.scopes_on_token_requests {
            request = request.add_scopes(self.config.scopes.iter().cloned().map(Scope::new));
        }
        let requested_at = Timestamp::now();
        let response = request.request_async(&TokenHttp(self)).await;
        match response {
            Ok(body) => Ok(token_set(body, requested_at)),
            Err(error) => Err(self.token_error(error, &[refresh_token.expose().as_str()])),
        }
    }

    /// Revokes a token (RFC 7009 form: `token=...`, with the app's client authentication), for
    /// disconnecting. Best effort: callers usually log the error and go on wiping the credential.
    /// Without a revocation endpoint, does nothing.
    pub async fn revoke(&self, token: &Secret<String>) -> Result<(), CoreError> {
        let Some(url) = &self.revoke_url else {
            return Ok(());
        };
        let build = || {
            let request = self.http.post(url.clone());
            match self.config.client_auth {
                ClientAuth::Basic => request
                    .header(reqwest::header::AUTHORIZATION, self.basic_authorization())
                    .form(&[("token", token.expose().as_str())]),
                ClientAuth::RequestBody => request.form(&[
                    ("token", token.expose().as_str()),
                    ("client_id", self.config.client_id.as_str()),
                    ("client_secret", self.config.client_secret.expose().as_str()),
                ]),
            }
        };
        // Revoking twice is harmless, so ordinary retries apply.
        self.policy
            .send(&SendOptions::new().idempotent(true), build)
            .await
            .map(|_| ())
            .map_err(|e| self.scrubbed_core(e, &[token.expose().as_str()]))
    }

    /// `Basic base64(urlencode(id):urlencode(secret))`, as RFC 6749 2.3.1 and oauth2 do it.
    fn basic_authorization(&self) -> String {
        use base64::Engine as _;
        let id: String = oauth2::url::form_urlencoded::byte_serialize(self.config.client_id.as_bytes()).collect();
        let secret: String =
            oauth2::url::form_urlencoded::byte_serialize(self.config.client_secret.expose().as_bytes()).collect();
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    }

    /// oauth2's HTTP client: the request goes out through the policy, never repeated once it may
    /// have arrived, and a redirect is an error rather than something to follow.
    async fn token_http(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, ProviderHttpError> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        let reply = self
            .policy
            .send_raw(&SendOptions::new().idempotent(false), || {
                self.http
                    .request(parts.method.clone(), url.as_str())
                    .headers(parts.headers.clone())
                    .body(body.clone())
            })
            .await?;
        if reply.status.is_redirection() {
            return Err(ProviderHttpError::Status {
                status: reply.status,
                body: NO_REDIRECTS.to_owned(),
                transient: false,
            });
        }
        let mut response = oauth2::http::Response::builder().status(reply.status);
        for (name, value) in &reply.headers {
            response = response.header(name, value);
        }
        response
            .body(reply.body)
            .map_err(|e| ProviderHttpError::Decode(format!("the token endpoint's answer: {e}")))
    }

    fn token_error(
        &self,
        error: RequestTokenError<ProviderHttpError, BasicErrorResponse>,
        secrets: &[&str],
    ) -> CoreError {
        let integration = self.integration();
        let mut secrets = secrets.to_vec();
        secrets.push(self.config.client_secret.expose());
        let secrets = secrets.as_slice();
        match error {
            RequestTokenError::Request(error) => self.scrubbed_core(error, secrets),
            RequestTokenError::ServerResponse(response) => {
                let mut message = format!("the token endpoint refused the request: {}", response.error());
                if let Some(description) = response.error_description() {
                    message.push_str(" (");
                    message.push_str(&snippet(description, SNIPPET_CHARS));
                    message.push(')');
                }
                let message = scrub(&message, secrets);
                if *response.error() == BasicErrorResponseType::InvalidGrant {
                    CoreError::NeedsReauth { integration, message }
                } else {
                    CoreError::ProviderResponse { integration, message }
                }
            }
            // The body is never quoted: a token response holds tokens. The path names the field.
            RequestTokenError::Parse(error, _body) => CoreError::ProviderResponse {
                integration,
                message: format!("the token endpoint's answer is unreadable at `{}`", error.path()),
            },
            RequestTokenError::Other(message) => CoreError::ProviderResponse {
                integration,
                message: format!("the token endpoint's answer is unusable: {}", scrub(&message, secrets)),
            },
        }
    }

    fn scrubbed_core(&self, error: ProviderHttpError, secrets: &[&str]) -> CoreError {
        let mut all: Vec<&str> = secrets.to_vec();
        all.push(self.config.client_secret.expose());
        crate::redact::scrub_core(error.into_core(self.integration()), &all)
    }
}

/// oauth2's view of [`OAuthApp::token_http`]. A named type with a boxed `Send` future, because a
/// closure's future is not provably `Send` for every lifetime, and refreshes run in spawned tasks.
struct TokenHttp<'a>(&'a OAuthApp);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = ProviderHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, ProviderHttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.0.token_http(request))
    }
}

fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, ProviderHttpError> {
    RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| ProviderHttpError::InvalidRequest(format!("redirect_uri: {e}")))
}

fn token_set(body: TokenResponseBody, requested_at: Timestamp) -> TokenSet {
    // Counted from when the request was sent, so the time it took only makes us refresh early.
    let lifetime = body.expires_in().map_or(3600, |d| d.as_secs());
    let lifetime = SignedDuration::from_secs(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let expires_at = requested_at.checked_add(lifetime).unwrap_or(Timestamp::MAX);
    TokenSet {
        access_token: Secret::new(body.access_token().secret().clone()),
        refresh_token: body.refresh_token().map(|t| Secret::new(t.secret().clone())),
        expires_at,
        scope: body
            .scopes()
            .map(|scopes| scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        response_fields: body.extra_fields().fields.clone(),
    }
}

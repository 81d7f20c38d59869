//! The OAuth 2.0 authorization-code flow with PKCE (S256), as Google, Microsoft identity and
//! Calendly run it, shared by the three fakes. Their differences (how the client authenticates,
//! whether a refresh returns a new refresh token, the error bodies) are a [`Flavor`].
//!
//! The authorize endpoint behaves like a user who consents at once; the token endpoint checks
//! everything a real one checks that a client can get wrong (client secret, redirect URI, single-use
//! codes, the PKCE verifier, rotated refresh tokens).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::harness::{lock, random_hex, with_query, Params};

/// Which provider's rules the OAuth server follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Google,
    Microsoft,
    Calendly,
}

/// What a refresh does to the refresh token it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRotation {
    /// No new refresh token; the old one stays valid (Google).
    Keep,
    /// A new refresh token every time; the old one stays valid too.
    RotateKeepOld,
    /// A new refresh token every time; the old one is refused from then on (Graph as
    /// provider-apis.md describes it, Calendly's single-use refresh tokens).
    RotateInvalidateOld,
}

/// Tokens handed out by a fake (by the token endpoint or by `issue_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    /// The bearer token for API calls.
    pub access_token: String,
    /// The refresh token, when one was issued.
    pub refresh_token: Option<String>,
    /// The granted scopes.
    pub scopes: Vec<String>,
}

/// One request to a token endpoint, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The form fields.
    pub form: BTreeMap<String, String>,
    /// `(client_id, client_secret)` from an `Authorization: Basic` header, if there was one.
    pub basic_auth: Option<(String, String)>,
    /// The status the fake answered with.
    pub status: u16,
}

impl TokenRequest {
    /// A form field.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    Missing,
    Invalid,
    Expired,
}

/// The grant behind a valid access token.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) scopes: BTreeSet<String>,
}

#[derive(Debug)]
struct GrantState {
    scopes: BTreeSet<String>,
    revoked: bool,
}

#[derive(Debug)]
struct AccessToken {
    grant: usize,
    expires_at: Option<Instant>,
    expired: bool,
}

#[derive(Debug)]
struct RefreshToken {
    grant: usize,
    used: bool,
}

#[derive(Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    scopes: BTreeSet<String>,
    challenge: Option<(String, String)>,
    with_refresh_token: bool,
    used: bool,
}

#[derive(Debug)]
struct State {
    client_id: String,
    client_secret: String,
    access_lifetime: u64,
    rotation: RefreshRotation,
    grants: Vec<GrantState>,
    codes: HashMap<String, Code>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    deny_next_consent: bool,
    last_authorize: Option<BTreeMap<String, String>>,
    token_requests: Vec<TokenRequest>,
    token_redirect: Option<String>,
    /// Google: scopes granted earlier, merged in with include_granted_scopes=true.
    granted_before: BTreeSet<String>,
    /// Google: whether this client already got a refresh token (then only prompt=consent gives one).
    refresh_issued_before: bool,
    /// Fields added to every token response (Calendly's owner and organization).
    extra_token_fields: Map<String, Value>,
}

/// The authorization server of one fake. Reach it through the fake's OAuth controls.
#[derive(Debug)]
pub struct OAuthServer {
    flavor: Flavor,
    state: Mutex<State>,
}

impl OAuthServer {
    pub(crate) fn new(flavor: Flavor, client_id: &str, client_secret: &str) -> Self {
        let (access_lifetime, rotation) = match flavor {
            Flavor::Google => (3599, RefreshRotation::Keep),
            Flavor::Microsoft => (3599, RefreshRotation::RotateInvalidateOld),
            Flavor::Calendly => (7200, RefreshRotation::RotateInvalidateOld),
        };
        OAuthServer {
            flavor,
            state: Mutex::new(State {
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
                access_lifetime,
                rotation,
                grants: Vec::new(),
                codes: HashMap::new(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                deny_next_consent: false,
                last_authorize: None,
                token_requests: Vec::new(),
                token_redirect: None,
                granted_before: BTreeSet::new(),
                refresh_issued_before: false,
                extra_token_fields: Map::new(),
            }),
        }
    }

    /// The client id the fake accepts.
    pub fn client_id(&self) -> String {
        lock(&self.state).client_id.clone()
    }

    /// The client secret the fake accepts.
    pub fn client_secret(&self) -> String {
        lock(&self.state).client_secret.clone()
    }

    /// The next consent is refused: the authorize endpoint redirects with `error=access_denied`.
    pub fn deny_next_consent(&self) {
        lock(&self.state).deny_next_consent = true;
    }

    /// The query of the last authorize request (scopes, PKCE, access_type, prompt, response_mode...).
    pub fn last_authorize(&self) -> Option<BTreeMap<String, String>> {
        lock(&self.state).last_authorize.clone()
    }

    /// Every token endpoint request so far, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        lock(&self.state).token_requests.clone()
    }

    /// The token endpoint answers every request with a 302 to `url` (a client must not follow it).
    /// `None` restores normal answers.
    pub fn set_token_endpoint_redirect(&self, url: Option<&str>) {
        lock(&self.state).token_redirect = url.map(str::to_owned);
    }

    /// The `expires_in` of access tokens issued from now on (they really expire then).
    pub fn set_access_token_lifetime(&self, seconds: u64) {
        lock(&self.state).access_lifetime = seconds;
    }

    /// What a refresh does to the refresh token it was given.
    pub fn set_refresh_rotation(&self, rotation: RefreshRotation) {
        lock(&self.state).rotation = rotation;
    }

    /// Every token of the account becomes invalid: refreshes answer invalid_grant, API calls 401.
    /// A later consent starts a new, valid grant.
    pub fn revoke_grant(&self) {
        let mut state = lock(&self.state);
        for grant in &mut state.grants {
            grant.revoked = true;
        }
    }

    /// The access tokens issued so far answer 401 on the API; refreshing still works.
    pub fn expire_access_tokens(&self) {
        for token in lock(&self.state).access.values_mut() {
            token.expired = true;
        }
    }

    /// Tokens without the browser dance, for tests that start connected. Always with a refresh
    /// token; the access token lives as long as [`OAuthServer::set_access_token_lifetime`] says.
    pub fn issue_token(&self, scopes: &[&str]) -> IssuedTokens {
        let mut state = lock(&self.state);
        let scopes: BTreeSet<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let grant = new_grant(&mut state, scopes);
        let lifetime = state.access_lifetime;
        issue(&mut state, self.flavor, grant, Some(lifetime), true)
    }

    /// An access token that never expires and has no refresh token (Calendly's personal access
    /// tokens; useful as a long-lived token for the other fakes too).
    pub fn issue_static_token(&self, scopes: &[&str]) -> String {
        let mut state = lock(&self.state);
        let scopes: BTreeSet<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let grant = new_grant(&mut state, scopes);
        issue(&mut state, self.flavor, grant, None, false).access_token
    }

    pub(crate) fn set_extra_token_fields(&self, fields: Map<String, Value>) {
        lock(&self.state).extra_token_fields = fields;
    }

    /// The grant behind the request's `Authorization: Bearer` token.
    pub(crate) fn authenticate(&self, req: &HttpRequest) -> Result<Grant, AuthFailure> {
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthFailure::Missing)?;
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(AuthFailure::Missing),
        };
        if token.is_empty() {
            return Err(AuthFailure::Missing);
        }
        let state = lock(&self.state);
        let access = state.access.get(token).ok_or(AuthFailure::Invalid)?;
        let grant = state.grants.get(access.grant).ok_or(AuthFailure::Invalid)?;
        if grant.revoked {
            return Err(AuthFailure::Invalid);
        }
        if access.expired || access.expires_at.is_some_and(|at| Instant::now() >= at) {
            return Err(AuthFailure::Expired);
        }
        Ok(Grant {
            scopes: grant.scopes.clone(),
        })
    }

    /// GET authorize: the user consents (or, once after `deny_next_consent`, refuses).
    pub(crate) fn authorize(&self, query: &str) -> HttpResponse {
        let params = Params::parse(query);
        let mut state = lock(&self.state);
        state.last_authorize = Some(params.0.iter().cloned().collect());
        // Without a known client and a redirect URI the provider shows an error page: it never
        // redirects to an address it cannot trust.
        if params.get("client_id") != Some(state.client_id.as_str()) {
            return HttpResponse::BadRequest().body("invalid_client: unknown client_id");
        }
        let Some(redirect_uri) = params.get("redirect_uri") else {
            return HttpResponse::BadRequest().body("invalid_request: missing redirect_uri");
        };
        let state_param = params.get("state");
        let refuse = |error: &str, description: &str| {
            let mut query = vec![("error", error), ("error_description", description)];
            query.extend(state_param.map(|s| ("state", s)));
            found(&with_query(redirect_uri, &query))
        };
        if params.get("response_type") != Some("code") {
            return refuse("unsupported_response_type", "response_type must be code");
        }
        let scope = params.get("scope").unwrap_or_default();
        if scope.trim().is_empty() && self.flavor != Flavor::Calendly {
            return refuse("invalid_request", "Missing required parameter: scope");
        }
        let challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
            (None, _) => None,
            (Some(challenge), method) => {
                // RFC 7636: the method defaults to plain when absent.
                let method = method.unwrap_or("plain");
                if method != "S256" && method != "plain" {
                    return refuse("invalid_request", "unsupported code_challenge_method");
                }
                Some((challenge.to_owned(), method.to_owned()))
            }
        };
        if std::mem::take(&mut state.deny_next_consent) {
            return refuse("access_denied", "The user denied the request.");
        }
        let mut scopes: BTreeSet<String> = scope.split_whitespace().map(str::to_owned).collect();
        if self.flavor == Flavor::Google && params.get("include_granted_scopes") == Some("true") {
            scopes.extend(state.granted_before.iter().cloned());
        }
        if self.flavor == Flavor::Calendly && scopes.is_empty() {
            // Not documented: an app that asks for no scope gets Calendly's "default" scope,
            // which the fake treats as every scope.
            scopes.insert("default".to_owned());
        }
        let with_refresh_token = match self.flavor {
            // Only access_type=offline gives a refresh token, and only on the first consent unless
            // prompt=consent forces a new one.
            Flavor::Google => {
                params.get("access_type") == Some("offline")
                    && (!state.refresh_issued_before
                        || params
                            .get("prompt")
                            .is_some_and(|p| p.split(' ').any(|p| p == "consent")))
            }
            Flavor::Microsoft => scopes.contains("offline_access"),
            Flavor::Calendly => true,
        };
        let code = random_hex();
        let client_id = state.client_id.clone();
        state.codes.insert(
            code.clone(),
            Code {
                client_id,
                redirect_uri: redirect_uri.to_owned(),
                scopes: scopes.clone(),
                challenge,
                with_refresh_token,
                used: false,
            },
        );
        let granted = scopes.iter().cloned().collect::<Vec<_>>().join(" ");
        let mut query = vec![("code", code.as_str())];
        query.extend(state_param.map(|s| ("state", s)));
        if self.flavor == Flavor::Google {
            // Google also reports the granted scopes and the account index on the redirect.
            query.extend([("scope", granted.as_str()), ("authuser", "0"), ("prompt", "consent")]);
        }
        found(&with_query(redirect_uri, &query))
    }

    /// POST token (form-encoded): authorization_code and refresh_token grants.
    pub(crate) fn token(&self, req: &HttpRequest, body: &[u8]) -> HttpResponse {
        let form = Params::parse_bytes(body);
        let basic_auth = basic_credentials(req);
        let mut state = lock(&self.state);
        let (status, response) = match state.token_redirect.clone() {
            Some(url) => (StatusCode::FOUND, found(&url)),
            None => {
                let answer = self.exchange(&mut state, &form, basic_auth.as_ref());
                let status = answer.as_ref().map_or_else(|(status, _)| *status, |_| StatusCode::OK);
                let (status, body) = match answer {
                    Ok(body) => (status, body),
                    Err((status, body)) => (status, body),
                };
                (
                    status,
                    HttpResponse::build(status)
                        .insert_header(("cache-control", "no-store"))
                        .json(body),
                )
            }
        };
        state.token_requests.push(TokenRequest {
            form: form.0.into_iter().collect(),
            basic_auth,
            status: status.as_u16(),
        });
        response
    }

    fn exchange(
        &self,
        state: &mut State,
        form: &Params,
        basic_auth: Option<&(String, String)>,
    ) -> Result<Value, (StatusCode, Value)> {
        let (client_id, client_secret) = match (self.flavor, basic_auth) {
            // Calendly's web clients authenticate with HTTP Basic; the form is accepted too.
            (Flavor::Calendly, Some((id, secret))) => (Some(id.as_str()), Some(secret.as_str())),
            _ => (form.get("client_id"), form.get("client_secret")),
        };
        if client_id != Some(state.client_id.as_str()) || client_secret != Some(state.client_secret.as_str()) {
            return Err((StatusCode::UNAUTHORIZED, self.client_error()));
        }
        match form.get("grant_type") {
            Some("authorization_code") => self.redeem_code(state, form),
            Some("refresh_token") => self.refresh(state, form),
            _ => Err((
                StatusCode::BAD_REQUEST,
                self.grant_error("unsupported_grant_type", "Unsupported grant_type"),
            )),
        }
    }

    fn redeem_code(&self, state: &mut State, form: &Params) -> Result<Value, (StatusCode, Value)> {
        let invalid = |description: &str| (StatusCode::BAD_REQUEST, self.grant_error("invalid_grant", description));
        let code = form.get("code").unwrap_or_default();
        let Some(stored) = state.codes.get_mut(code) else {
            return Err(invalid("Malformed auth code."));
        };
        if stored.used {
            return Err(invalid("The authorization code has already been redeemed."));
        }
        if stored.client_id != state.client_id {
            return Err(invalid("The authorization code was issued to another client."));
        }
        // Not documented which error a wrong redirect_uri gets: the fake says invalid_grant, which
        // RFC 6749 5.2 names for it.
        if form.get("redirect_uri") != Some(stored.redirect_uri.as_str()) {
            return Err(invalid("redirect_uri does not match the authorization request."));
        }
        if let Some((challenge, method)) = &stored.challenge {
            let verifier = form.get("code_verifier").unwrap_or_default();
            let derived = match method.as_str() {
                "S256" => URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes())),
                _ => verifier.to_owned(),
            };
            if verifier.is_empty() || derived != *challenge {
                return Err(invalid("Invalid code verifier."));
            }
        }
        stored.used = true;
        let scopes = stored.scopes.clone();
        let with_refresh_token = stored.with_refresh_token;
        state.granted_before.extend(scopes.iter().cloned());
        state.refresh_issued_before |= with_refresh_token;
        let grant = new_grant(state, scopes);
        let lifetime = state.access_lifetime;
        let tokens = issue(state, self.flavor, grant, Some(lifetime), with_refresh_token);
        Ok(self.token_body(state, &tokens))
    }

    fn refresh(&self, state: &mut State, form: &Params) -> Result<Value, (StatusCode, Value)> {
        let invalid = || {
            (
                StatusCode::BAD_REQUEST,
                self.grant_error("invalid_grant", "Token has been expired or revoked."),
            )
        };
        let presented = form.get("refresh_token").unwrap_or_default();
        let rotation = state.rotation;
        let grant = {
            let Some(token) = state.refresh.get_mut(presented) else {
                return Err(invalid());
            };
            if token.used {
                return Err(invalid());
            }
            if rotation == RefreshRotation::RotateInvalidateOld {
                token.used = true;
            }
            token.grant
        };
        if state.grants.get(grant).is_none_or(|g| g.revoked) {
            return Err(invalid());
        }
        let lifetime = state.access_lifetime;
        let rotate = rotation != RefreshRotation::Keep;
        let tokens = issue(state, self.flavor, grant, Some(lifetime), rotate);
        Ok(self.token_body(state, &tokens))
    }

    fn token_body(&self, state: &State, tokens: &IssuedTokens) -> Value {
        let mut body = json!({
            "access_token": tokens.access_token,
            "expires_in": state.access_lifetime,
            "scope": tokens.scopes.join(" "),
            "token_type": "Bearer",
        });
        if let (Some(refresh), Some(map)) = (&tokens.refresh_token, body.as_object_mut()) {
            map.insert("refresh_token".into(), json!(refresh));
        }
        if let Some(map) = body.as_object_mut() {
            match self.flavor {
                Flavor::Google => {}
                Flavor::Microsoft => {
                    map.insert("ext_expires_in".into(), json!(state.access_lifetime));
                }
                Flavor::Calendly => {
                    map.insert("created_at".into(), json!(jiff::Timestamp::now().as_second()));
                }
            }
            map.extend(state.extra_token_fields.clone());
        }
        body
    }

    fn grant_error(&self, error: &str, description: &str) -> Value {
        match self.flavor {
            Flavor::Google => json!({"error": error, "error_description": description}),
            Flavor::Microsoft => json!({
                "error": error,
                "error_description": format!("AADSTS70000: {description}"),
                "error_codes": [70000],
                "timestamp": jiff::Timestamp::now().to_string(),
                "trace_id": uuid::Uuid::new_v4().to_string(),
                "correlation_id": uuid::Uuid::new_v4().to_string(),
            }),
            // Calendly's authorization server is Doorkeeper; this is its wording for any bad grant.
            Flavor::Calendly => json!({
                "error": error,
                "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
            }),
        }
    }

    fn client_error(&self) -> Value {
        match self.flavor {
            Flavor::Google => json!({"error": "invalid_client", "error_description": "Unauthorized"}),
            Flavor::Microsoft => json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215],
            }),
            Flavor::Calendly => json!({
                "error": "invalid_client",
                "error_description": "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
            }),
        }
    }

    /// POST revoke with `token` in the query (Google) or the form (Calendly).
    pub(crate) fn revoke(&self, query: &str, body: &[u8]) -> HttpResponse {
        let query = Params::parse(query);
        let form = Params::parse_bytes(body);
        let token = query.get("token").or_else(|| form.get("token")).unwrap_or_default();
        let mut state = lock(&self.state);
        let grant = state
            .access
            .get(token)
            .map(|t| t.grant)
            .or_else(|| state.refresh.get(token).map(|t| t.grant));
        match (grant, self.flavor) {
            // Revoking either token of a grant revokes the whole grant.
            (Some(grant), _) => {
                if let Some(g) = state.grants.get_mut(grant) {
                    g.revoked = true;
                }
                HttpResponse::Ok().json(json!({}))
            }
            // Google answers an unknown token with 400 invalid_token; Calendly follows RFC 7009
            // (200 whatever the token).
            (None, Flavor::Google) => HttpResponse::BadRequest()
                .json(json!({"error": "invalid_token", "error_description": "Token expired or revoked"})),
            (None, _) => HttpResponse::Ok().json(json!({})),
        }
    }
}

fn new_grant(state: &mut State, scopes: BTreeSet<String>) -> usize {
    state.grants.push(GrantState { scopes, revoked: false });
    state.grants.len() - 1
}

fn issue(state: &mut State, flavor: Flavor, grant: usize, lifetime: Option<u64>, with_refresh: bool) -> IssuedTokens {
    let (access_prefix, refresh_prefix) = match flavor {
        Flavor::Google => ("ya29.fake-", "1//0g-fake-"),
        Flavor::Microsoft => ("eyJ0eXAiOiJKV1Qi.fake-", "0.AX-fake-"),
        Flavor::Calendly => ("eyJraWQiOiIx.fake-", "calendly-refresh-"),
    };
    let access_token = format!("{access_prefix}{}", random_hex());
    state.access.insert(
        access_token.clone(),
        AccessToken {
            grant,
            expires_at: lifetime.map(|secs| Instant::now() + Duration::from_secs(secs)),
            expired: false,
        },
    );
    let refresh_token = with_refresh.then(|| {
        let token = format!("{refresh_prefix}{}", random_hex());
        state.refresh.insert(token.clone(), RefreshToken { grant, used: false });
        token
    });
    let scopes = state
        .grants
        .get(grant)
        .map(|g| g.scopes.iter().cloned().collect())
        .unwrap_or_default();
    IssuedTokens {
        access_token,
        refresh_token,
        scopes,
    }
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found().insert_header(("location", location)).finish()
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let header = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// The OAuth controls, forwarded from a fake to its [`OAuthServer`] so tests call them directly.
macro_rules! oauth_controls {
    () => {
        /// The authorization server, for the controls not forwarded here.
        pub fn oauth(&self) -> &$crate::oauth::OAuthServer {
            &self.inner.oauth
        }

        /// The client id the fake accepts.
        pub fn client_id(&self) -> String {
            self.inner.oauth.client_id()
        }

        /// The client secret the fake accepts.
        pub fn client_secret(&self) -> String {
            self.inner.oauth.client_secret()
        }

        /// The next consent is refused: the authorize endpoint redirects with `error=access_denied`.
        pub fn deny_next_consent(&self) {
            self.inner.oauth.deny_next_consent()
        }

        /// The query of the last authorize request.
        pub fn last_authorize(&self) -> Option<std::collections::BTreeMap<String, String>> {
            self.inner.oauth.last_authorize()
        }

        /// Every token endpoint request so far, oldest first.
        pub fn token_requests(&self) -> Vec<$crate::oauth::TokenRequest> {
            self.inner.oauth.token_requests()
        }

        /// The token endpoint answers 302 to `url` (`None`: normal answers again).
        pub fn set_token_endpoint_redirect(&self, url: Option<&str>) {
            self.inner.oauth.set_token_endpoint_redirect(url)
        }

        /// The `expires_in` of access tokens issued from now on.
        pub fn set_access_token_lifetime(&self, seconds: u64) {
            self.inner.oauth.set_access_token_lifetime(seconds)
        }

        /// What a refresh does to the refresh token it was given.
        pub fn set_refresh_rotation(&self, rotation: $crate::oauth::RefreshRotation) {
            self.inner.oauth.set_refresh_rotation(rotation)
        }

        /// Every token of the account becomes invalid (refresh: invalid_grant; API: 401).
        pub fn revoke_grant(&self) {
            self.inner.oauth.revoke_grant()
        }

        /// Current access tokens answer 401 on the API; refreshing still works.
        pub fn expire_access_tokens(&self) {
            self.inner.oauth.expire_access_tokens()
        }

        /// Tokens for `scopes` without the browser dance.
        pub fn issue_token(&self, scopes: &[&str]) -> $crate::oauth::IssuedTokens {
            self.inner.oauth.issue_token(scopes)
        }
    };
}

/// The harness controls every fake has, forwarded to its `Harness`.
macro_rules! harness_controls {
    () => {
        /// Every request so far, oldest first.
        pub fn requests(&self) -> Vec<$crate::RequestRecord> {
            self.inner.harness.requests()
        }

        /// How many requests had a path starting with `path_prefix` (the full path, e.g.
        /// `/calendar/v3/freeBusy`).
        pub fn request_count(&self, path_prefix: &str) -> usize {
            self.inner.harness.request_count(path_prefix)
        }

        /// Forgets the requests logged so far.
        pub fn clear_requests(&self) {
            self.inner.harness.clear_requests()
        }

        /// The next `n` requests (any path but the authorize page) answer `status` with the
        /// provider's error body, e.g. 500 or 503.
        pub fn fail_next(&self, n: usize, status: u16) {
            self.inner.harness.fail_next(n, status)
        }

        /// Every request waits this long before it is answered.
        pub fn set_latency(&self, latency: std::time::Duration) {
            self.inner.harness.set_latency(latency)
        }

        /// The server's root, `http://127.0.0.1:<port>`.
        pub fn base_url(&self) -> String {
            self.listener.base_url.clone()
        }

        /// Stops the server (in-flight requests finish first).
        pub async fn stop(&self) {
            self.listener.stop().await
        }
    };
}

pub(crate) use {harness_controls, oauth_controls};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}

//! OAuthApp against a token endpoint on loopback: PKCE code exchange, refresh, client
//! authentication, redirects, error mapping, and no token in any message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use availability_core::CoreError;
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{IntegrationType, Secret};
use common::{invalid_grant, serve, StubResponse, TokenServer};
use provider_http::{ClientAuth, OAuthApp, OAuthConfig};

const REDIRECT: &str = "https://availability.example/oauth/google_calendar/callback";

fn google_like(server: &TokenServer) -> OAuthConfig {
    OAuthConfig {
        integration: IntegrationType::from_static("google_calendar"),
        client_id: "client-1.apps.example".into(),
        client_secret: Secret::new("app-secret-123".into()),
        auth_url: "https://accounts.example/o/oauth2/v2/auth".into(),
        token_url: server.stub.url("/token"),
        revoke_url: Some(server.stub.url("/revoke")),
        scopes: vec![
            "https://www.googleapis.com/auth/calendar.events".into(),
            "https://www.googleapis.com/auth/calendar.freebusy".into(),
        ],
        extra_authorize_params: vec![
            ("access_type".into(), "offline".into()),
            ("prompt".into(), "consent".into()),
            ("include_granted_scopes".into(), "true".into()),
        ],
        client_auth: ClientAuth::RequestBody,
        scopes_on_token_requests: false,
    }
}

fn query(url: &str) -> HashMap<String, String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().into_owned().collect()
}

/// What the provider does between the authorization URL and the callback: remember the code's
/// challenge and redirect URI.
fn consent(server: &TokenServer, authorization_url: &str, code: &str) {
    let q = query(authorization_url);
    server
        .state()
        .codes
        .insert(code.into(), (q["code_challenge"].clone(), q["redirect_uri"].clone()));
}

#[tokio::test]
async fn the_authorization_url_carries_pkce_state_scopes_and_extra_parameters() {
    let server = TokenServer::start(false).await;
    let app = OAuthApp::new(google_like(&server)).unwrap();
    let request = app.authorize_url(REDIRECT).unwrap();
    assert!(request.url.starts_with("https://accounts.example/o/oauth2/v2/auth?"));
    let q = query(&request.url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "client-1.apps.example");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(
        q["scope"],
        "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.freebusy"
    );
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["include_granted_scopes"], "true");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"], common::s256(request.pkce_verifier.expose()));
    assert_eq!(&q["state"], request.state.expose());
    // 32 random bytes, base64url: 256 bits.
    assert_eq!(request.state.expose().len(), 43);
    assert!(!q.contains_key("client_secret"));

    let again = app.authorize_url(REDIRECT).unwrap();
    assert_ne!(again.state, request.state);
    assert_ne!(again.pkce_verifier, request.pkce_verifier);

    let debug = format!("{request:?}");
    assert!(!debug.contains(request.state.expose().as_str()), "{debug}");
    assert!(!debug.contains(request.pkce_verifier.expose().as_str()), "{debug}");
}

#[tokio::test]
async fn code_exchange_with_pkce_then_refresh() {
    let server = TokenServer::start(false).await;
    let app = OAuthApp::new(google_like(&server)).unwrap();
    let request = app.authorize_url(REDIRECT).unwrap();
    consent(&server, &request.url, "code-abc");

    let before = Timestamp::now();
    let tokens = app
        .exchange_code("code-abc", &request.pkce_verifier, REDIRECT)
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose(), "at-1");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose(), "rt-1");
    assert_eq!(tokens.scope.as_deref(), Some("calendar.events calendar.freebusy"));
    assert!(tokens.expires_at >= before + SignedDuration::from_secs(3599));
    assert!(tokens.expires_at <= Timestamp::now() + SignedDuration::from_secs(3599));
    assert_eq!(tokens.response_fields["owner"], "https://api.calendly.com/users/AAA");
    {
        let state = server.state();
        let form = state.requests[0].form();
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code_verifier"], *request.pkce_verifier.expose());
        assert_eq!(form["client_id"], "client-1.apps.example");
        assert_eq!(form["client_secret"], "app-secret-123");
        assert!(state.requests[0].header("authorization").is_none());
    }

    // Codes are single use.
    let error = app
        .exchange_code("code-abc", &request.pkce_verifier, REDIRECT)
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");

    // Google keeps the refresh token: the refresh answer has none.
    let refreshed = app.refresh(tokens.refresh_token.as_ref().unwrap()).await.unwrap();
    assert_eq!(refreshed.access_token.expose(), "at-2");
    assert!(refreshed.refresh_token.is_none());
    let state = server.state();
    let form = state.requests.last().unwrap().form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-1");
    assert!(!form.contains_key("scope"));
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused() {
    let server = TokenServer::start(false).await;
    let app = OAuthApp::new(google_like(&server)).unwrap();
    let request = app.authorize_url(REDIRECT).unwrap();
    consent(&server, &request.url, "code-abc");
    let wrong = Secret::new("x".repeat(43));
    let error = app.exchange_code("code-abc", &wrong, REDIRECT).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
}

#[tokio::test]
async fn basic_client_authentication_and_scopes_on_token_requests() {
    let server = TokenServer::start(true).await;
    let config = OAuthConfig {
        integration: IntegrationType::from_static("calendly"),
        client_auth: ClientAuth::Basic,
        client_id: "id:with space".into(),
        scopes_on_token_requests: true,
        ..google_like(&server)
    };
    let app = OAuthApp::new(config).unwrap();
    server.grant_refresh_token("rt-0");
    let tokens = app.refresh(&Secret::new("rt-0".into())).await.unwrap();
    assert_eq!(tokens.refresh_token.unwrap().expose(), "rt-1");
    let state = server.state();
    let request = &state.requests[0];
    // RFC 6749 2.3.1: both parts URL-encoded, then base64.
    let expected = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode("id%3Awith+space:app-secret-123")
    };
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {expected}").as_str())
    );
    let form = request.form();
    assert!(!form.contains_key("client_secret"));
    assert!(form["scope"].contains("calendar.freebusy"));
}

#[tokio::test]
async fn the_token_endpoint_redirect_is_not_followed() {
    let evil_hits = Arc::new(AtomicUsize::new(0));
    let hits = evil_hits.clone();
    let evil = serve(move |_request| {
        hits.fetch_add(1, Ordering::SeqCst);
        async {
            StubResponse::json(
                200,
                serde_json::json!({"access_token": "evil", "token_type": "Bearer", "expires_in": 3600}),
            )
        }
    })
    .await;
    let server = TokenServer::start(false).await;
    // 307 would resend the POST, code and client secret included, to the new location.
    server
        .state()
        .scripted
        .push_back(StubResponse::new(307).header("Location", &evil.url("/token")));
    let app = OAuthApp::new(google_like(&server)).unwrap();
    let request = app.authorize_url(REDIRECT).unwrap();
    let error = app
        .exchange_code("code-secret-value", &request.pkce_verifier, REDIRECT)
        .await
        .unwrap_err();
    assert_eq!(evil_hits.load(Ordering::SeqCst), 0, "the redirect was followed");
    assert!(matches!(error, CoreError::ProviderResponse { .. }), "{error:?}");
    assert!(error.to_string().contains("307"), "{error}");
    assert!(!error.to_string().contains("code-secret-value"));
}

#[tokio::test]
async fn token_endpoint_failures_map_onto_core_errors() {
    let server = TokenServer::start(false).await;
    let app = OAuthApp::new(google_like(&server)).unwrap();
    let refresh = Secret::new("rt-secret-xyz".to_owned());

    // invalid_grant, with the provider echoing the token: needs reauth, token scrubbed.
    server
        .state()
        .scripted
        .push_back(invalid_grant("Token rt-secret-xyz has been expired or revoked."));
    let error = app.refresh(&refresh).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    assert!(error.to_string().contains("invalid_grant"), "{error}");
    assert!(!error.to_string().contains("rt-secret-xyz"), "{error}");

    // A 503 is not retried (the refresh token might be single use) and is unavailable.
    let before = server.state().requests.len();
    server
        .state()
        .scripted
        .push_back(StubResponse::new(503).body("overloaded rt-secret-xyz"));
    let error = app.refresh(&refresh).await.unwrap_err();
    assert!(matches!(error, CoreError::ProviderUnavailable { .. }), "{error:?}");
    assert!(!error.to_string().contains("rt-secret-xyz"), "{error}");
    assert_eq!(server.state().requests.len(), before + 1);

    // A 429 is: the request was refused unprocessed.
    server.state().valid_refresh.insert("rt-secret-xyz".into());
    server.state().scripted.push_back(StubResponse::new(429));
    let tokens = app.refresh(&refresh).await.unwrap();
    assert!(tokens.access_token.expose().starts_with("at-"));

    // Another OAuth error: an unusable answer.
    server.state().scripted.push_back(StubResponse::json(
        400,
        serde_json::json!({"error": "invalid_client", "error_description": "bad app-secret-123"}),
    ));
    let error = app.refresh(&refresh).await.unwrap_err();
    assert!(matches!(error, CoreError::ProviderResponse { .. }), "{error:?}");
    assert!(!error.to_string().contains("app-secret-123"), "{error}");

    // A success body that cannot be read: the message never quotes it.
    server.state().scripted.push_back(StubResponse::json(
        200,
        serde_json::json!({"access_token": "at-leak-123456", "token_type": "Bearer", "expires_in": "soon"}),
    ));
    let error = app.refresh(&refresh).await.unwrap_err();
    assert!(matches!(error, CoreError::ProviderResponse { .. }), "{error:?}");
    assert!(!format!("{error} {error:?}").contains("at-leak"), "{error}");
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = TokenServer::start(false).await;
    let config = OAuthConfig {
        token_url: format!("http://127.0.0.1:{port}/token"),
        ..google_like(&server)
    };
    let app = OAuthApp::new(config).unwrap();
    let error = app.refresh(&Secret::new("rt-1".into())).await.unwrap_err();
    assert!(matches!(error, CoreError::ProviderUnavailable { .. }), "{error:?}");
}

#[tokio::test]
async fn revoke_posts_the_token_and_is_a_no_op_without_an_endpoint() {
    let server = TokenServer::start(false).await;
    let app = OAuthApp::new(google_like(&server)).unwrap();
    app.revoke(&Secret::new("rt-9".into())).await.unwrap();
    {
        let state = server.state();
        assert_eq!(state.revocations.len(), 1);
        let form = state.revocations[0].form();
        assert_eq!(form["token"], "rt-9");
        assert_eq!(form["client_id"], "client-1.apps.example");
    }
    let app = OAuthApp::new(OAuthConfig {
        revoke_url: None,
        ..google_like(&server)
    })
    .unwrap();
    app.revoke(&Secret::new("rt-9".into())).await.unwrap();
    assert_eq!(server.state().revocations.len(), 1);
}

#[tokio::test]
async fn no_secret_in_debug_output() {
    let server = TokenServer::start(false).await;
    let app = OAuthApp::new(google_like(&server)).unwrap();
    let request = app.authorize_url(REDIRECT).unwrap();
    consent(&server, &request.url, "code-abc");
    let tokens = app
        .exchange_code("code-abc", &request.pkce_verifier, REDIRECT)
        .await
        .unwrap();
    let debug = format!("{app:?} {tokens:?} {:?}", google_like(&server));
    for secret in ["at-1", "rt-1", "app-secret-123"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[test]
fn malformed_urls_are_refused_at_construction() {
    let config = OAuthConfig {
        integration: IntegrationType::from_static("google_calendar"),
        client_id: "c".into(),
        client_secret: Secret::new("s".into()),
        auth_url: "not a url".into(),
        token_url: "https://example.invalid/token".into(),
        revoke_url: None,
        scopes: vec![],
        extra_authorize_params: vec![],
        client_auth: ClientAuth::RequestBody,
        scopes_on_token_requests: false,
    };
    assert!(OAuthApp::new(config).is_err());
}

//! The OAuth 2.0 connect flow through the real server against the Google fake: authorization URL
//! with PKCE S256 and a single-use state, callback exchange, tokens stored encrypted, states that
//! are reused, missing or for another integration refused, consent denied, a failing exchange,
//! and disconnect revoking the grant.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use availability_core::domain::IntegrationType;
use availability_core::CredentialRepository;
use availability_store::crypto::Keyring;
use availability_store::{testing, Store};
use provider_fakes::FakeGoogle;
use reqwest::Method;
use support::{begin_oauth, consent, databases, open_callback, TestServer, ADMIN_TOKEN, ENCRYPTION_KEY};

fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).unwrap();
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn start(db: &support::TestDb, google: &FakeGoogle) -> TestServer {
    let (id, secret, auth, token, revoke, api) = (
        google.client_id(),
        google.client_secret(),
        google.auth_url(),
        google.token_url(),
        google.revoke_url(),
        google.api_base(),
    );
    TestServer::start_with_env(
        db,
        &[
            ("GOOGLE_CLIENT_ID", &id),
            ("GOOGLE_CLIENT_SECRET", &secret),
            ("GOOGLE_AUTH_URL", &auth),
            ("GOOGLE_TOKEN_URL", &token),
            ("GOOGLE_REVOKE_URL", &revoke),
            ("GOOGLE_API_BASE", &api),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_google_stores_encrypted_tokens_and_refuses_replayed_states() {
    for db in databases("connecting_google_stores_encrypted_tokens_and_refuses_replayed_states") {
        let google = FakeGoogle::start().await;
        let server = start(&db, &google).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;

        let begun = begin_oauth(api, &expert, &expert_token, "google_calendar").await;
        let url = begun.authorization_url.clone();
        assert!(url.starts_with(&google.auth_url()));
        let scope = query_param(&url, "scope").unwrap();
        for s in ["calendar.events", "calendar.freebusy", "calendar.calendarlist.readonly"] {
            assert!(scope.contains(s), "{scope}");
        }
        assert!(
            !scope.split(' ').any(|s| s.ends_with("/auth/calendar")),
            "never the broad calendar scope"
        );
        assert_eq!(query_param(&url, "code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(query_param(&url, "access_type").as_deref(), Some("offline"));
        assert_eq!(query_param(&url, "prompt").as_deref(), Some("consent"));
        assert_eq!(
            query_param(&url, "redirect_uri").unwrap(),
            format!("{}/oauth/google_calendar/callback", api.base)
        );
        assert!(query_param(&url, "state").unwrap().len() >= 22, "at least 128 bits");

        let callback = consent(&url).await;
        let res = open_callback(&callback, Some(&begun.cookie)).await;
        assert_eq!(res.status(), 303, "{}", db.label);
        assert_eq!(
            res.headers()["location"],
            format!("/experts/{expert}/calendars?connected=google_calendar").as_str()
        );

        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), &expert_token)
            .await;
        assert_eq!(list.body[0]["status"], "connected");
        assert!(
            !list.body.to_string().contains("access_token"),
            "never a token in an answer"
        );
        let store = Store::open(&db.url)
            .await
            .unwrap()
            .with_keyring(Keyring::new(Some(ENCRYPTION_KEY), "").unwrap());
        let expert_id = expert.parse().unwrap();
        let stored = CredentialRepository::load(&store, expert_id, IntegrationType::from_static("google_calendar"))
            .await
            .unwrap()
            .unwrap();
        let tokens = provider_http::StoredTokens::from_credential(&stored).unwrap();
        let access = tokens.access_token.expose().clone();
        let refresh = tokens
            .refresh_token
            .expect("offline access gives a refresh token")
            .expose()
            .clone();
        assert!(access.len() > 8 && refresh.len() > 8);
        let dump = testing::dump_credentials(&store).await.unwrap();
        assert_eq!(dump.len(), 1);
        assert!(dump[0].starts_with("v1:"), "{}", dump[0]);
        assert!(
            !dump[0].contains(&access) && !dump[0].contains(&refresh),
            "no token in plain text in the database"
        );

        // The same callback again: the state is used up, nothing is exchanged.
        let exchanges = google.token_requests().len();
        let again = open_callback(&callback, Some(&begun.cookie)).await;
        assert_eq!(again.status(), 400);
        assert_eq!(
            again.json::<serde_json::Value>().await.unwrap()["error"]["code"],
            "invalid_state"
        );
        assert_eq!(google.token_requests().len(), exchanges, "nothing exchanged");
        // No state, or a state shown to another integration's callback.
        let none = api
            .call(Method::GET, "/oauth/google_calendar/callback?code=abc", None, None)
            .await;
        assert_eq!((none.status.as_u16(), none.code()), (400, "invalid_state"));
        let begun = begin_oauth(api, &expert, ADMIN_TOKEN, "google_calendar").await;
        let state = query_param(&begun.authorization_url, "state").unwrap();
        let office_cookie = begun.cookie.replace("google_calendar", "office365_calendar");
        let other = open_callback(
            &format!("{}/oauth/office365_calendar/callback?code=abc&state={state}", api.base),
            Some(&office_cookie),
        )
        .await;
        assert_eq!(other.status(), 400);

        // Disconnect revokes at the provider and wipes the credential.
        let revokes = google.request_count("/revoke");
        let gone = api
            .call(
                Method::DELETE,
                &format!("/api/v1/experts/{expert}/integrations/google_calendar"),
                Some(&expert_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        assert_eq!(
            google.request_count("/revoke"),
            revokes + 1,
            "revoked where the provider allows"
        );
        assert!(testing::dump_credentials(&store).await.unwrap().is_empty());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_consent_expired_states_and_failing_exchanges_store_nothing() {
    for db in databases("denied_consent_expired_states_and_failing_exchanges_store_nothing") {
        let google = FakeGoogle::start().await;
        let server = start(&db, &google).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let path = format!("/api/v1/experts/{expert}/integrations/google_calendar/connect");
        let store = Store::open(&db.url)
            .await
            .unwrap()
            .with_keyring(Keyring::new(Some(ENCRYPTION_KEY), "").unwrap());

        google.deny_next_consent();
        let begun = begin_oauth(api, &expert, &token, "google_calendar").await;
        let callback = consent(&begun.authorization_url).await;
        let res = open_callback(&callback, Some(&begun.cookie)).await;
        assert_eq!(res.status(), 303);
        assert_eq!(
            res.headers()["location"],
            format!("/experts/{expert}/calendars?error=access_denied").as_str()
        );
        assert!(testing::dump_credentials(&store).await.unwrap().is_empty());

        // An expired state (older than 10 minutes) is refused.
        let begun = begin_oauth(api, &expert, &token, "google_calendar").await;
        let callback = consent(&begun.authorization_url).await;
        testing::expire_oauth_states(&store).await.unwrap();
        let res = open_callback(&callback, Some(&begun.cookie)).await;
        assert_eq!(res.status(), 400);

        // A token endpoint that fails (here: answers with a redirect, which is never followed).
        let begun = begin_oauth(api, &expert, &token, "google_calendar").await;
        let callback = consent(&begun.authorization_url).await;
        google.set_token_endpoint_redirect(Some("http://127.0.0.1:9/steal"));
        let res = open_callback(&callback, Some(&begun.cookie)).await;
        assert_eq!(res.status(), 502, "{}", db.label);
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["error"]["code"],
            "provider_unavailable"
        );
        assert!(testing::dump_credentials(&store).await.unwrap().is_empty());

        // Another expert's token cannot start this expert's connect.
        let (_, other) = api.expert_with_hours().await;
        assert_eq!(api.post(&path, &other, serde_json::json!({})).await.status, 403);
        server.stop().await;
    }
}

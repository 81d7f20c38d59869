//! TokenManager over availability_core's InMemoryStore and a token endpoint on loopback:
//! refresh ahead of expiry, one refresh per expert, rotated refresh tokens saved before use,
//! needs_reauth on invalid_grant, and send_authorized's refresh-once-on-401.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use availability_core::ports::{Credential, CredentialRepository};
use availability_core::{CoreError, InMemoryStore};
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{ExpertId, IntegrationType, Secret};
use common::{serve, StubResponse, TokenServer};
use provider_http::{
    ClientAuth, HttpPolicy, OAuthApp, OAuthConfig, ProviderHttpError, SendOptions, StoredTokens, TokenManager, TokenSet,
};
use reqwest::StatusCode;

const GOOGLE: IntegrationType = IntegrationType::from_static("google_calendar");

fn app(server: &TokenServer) -> Arc<OAuthApp> {
    Arc::new(
        OAuthApp::new(OAuthConfig {
            integration: GOOGLE,
            client_id: "client-1".into(),
            client_secret: Secret::new("app-secret-123".into()),
            auth_url: "https://accounts.example/auth".into(),
            token_url: server.stub.url("/token"),
            revoke_url: Some(server.stub.url("/revoke")),
            scopes: vec!["calendar.events".into()],
            extra_authorize_params: vec![],
            client_auth: ClientAuth::RequestBody,
            scopes_on_token_requests: false,
        })
        .unwrap(),
    )
}

fn tokens(access: &str, refresh: Option<&str>, expires_in_secs: i64) -> TokenSet {
    TokenSet {
        access_token: Secret::new(access.into()),
        refresh_token: refresh.map(|r| Secret::new(r.into())),
        expires_at: Timestamp::now() + SignedDuration::from_secs(expires_in_secs),
        scope: Some("calendar.events".into()),
        response_fields: Default::default(),
    }
}

/// A credential repository that logs what is saved (and can be told to fail saves).
struct Recording {
    store: Arc<InMemoryStore>,
    events: Arc<Mutex<Vec<String>>>,
    /// How many of the next saves fail.
    failing_saves: AtomicUsize,
}

#[async_trait]
impl CredentialRepository for Recording {
    async fn load(&self, expert: ExpertId, integration: IntegrationType) -> Result<Option<Credential>, CoreError> {
        self.store.load(expert, integration).await
    }

    async fn save(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        credential: Credential,
    ) -> Result<(), CoreError> {
        if self
            .failing_saves
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(CoreError::Storage("disk full".into()));
        }
        let stored = StoredTokens::from_credential(&credential).unwrap();
        self.events.lock().unwrap().push(format!(
            "saved {} {}",
            stored.access_token.expose(),
            stored.refresh_token.as_ref().map_or("-", |t| t.expose())
        ));
        self.store.save(expert, integration, credential).await
    }

    async fn delete(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), CoreError> {
        self.store.delete(expert, integration).await
    }
}

struct Setup {
    server: TokenServer,
    store: Arc<InMemoryStore>,
    credentials: Arc<Recording>,
    events: Arc<Mutex<Vec<String>>>,
    manager: TokenManager,
    expert: ExpertId,
}

/// A connected expert whose access token `at-0` expires in `expires_in_secs`, refresh token `rt-0`.
async fn setup(rotate: bool, expires_in_secs: i64) -> Setup {
    let server = TokenServer::start(rotate).await;
    server.grant_refresh_token("rt-0");
    let store = Arc::new(InMemoryStore::new());
    let events = Arc::new(Mutex::new(Vec::new()));
    let credentials = Arc::new(Recording {
        store: store.clone(),
        events: events.clone(),
        failing_saves: AtomicUsize::new(0),
    });
    let manager = TokenManager::new(app(&server), credentials.clone(), store.clone());
    let expert = ExpertId::new();
    manager
        .store_new_grant(
            expert,
            tokens("at-0", Some("rt-0"), expires_in_secs),
            Some("ada@example.com".into()),
            serde_json::json!({"calendars": ["primary"]}),
        )
        .await
        .unwrap();
    events.lock().unwrap().clear();
    Setup {
        server,
        store,
        credentials,
        events,
        manager,
        expert,
    }
}

fn refresh_token_of(stored: &StoredTokens) -> String {
    stored.refresh_token.as_ref().unwrap().expose().clone()
}

#[tokio::test]
async fn an_expert_who_is_not_connected_needs_to_connect() {
    let s = setup(false, 3600).await;
    let error = s.manager.access_token(ExpertId::new()).await.unwrap_err();
    assert!(
        matches!(&error, CoreError::NeedsReauth { message, .. } if message == "not connected"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_fresh_token_is_used_as_it_is() {
    let s = setup(false, 3600).await;
    assert_eq!(s.manager.access_token(s.expert).await.unwrap().expose(), "at-0");
    assert!(s.server.state().refreshes.is_empty());
}

#[tokio::test]
async fn a_token_expiring_within_a_minute_is_refreshed_and_google_keeps_the_refresh_token() {
    let s = setup(false, 30).await;
    assert_eq!(s.manager.access_token(s.expert).await.unwrap().expose(), "at-1");
    let stored = s.manager.stored(s.expert).await.unwrap();
    assert_eq!(stored.access_token.expose(), "at-1");
    assert_eq!(
        refresh_token_of(&stored),
        "rt-0",
        "Google sends no new refresh token: keep the old one"
    );
    assert_eq!(stored.account.as_deref(), Some("ada@example.com"));
    assert_eq!(stored.extra["calendars"][0], "primary");
    assert!(stored.expires_at > Timestamp::now() + SignedDuration::from_secs(3000));
    // Now fresh: no second refresh.
    assert_eq!(s.manager.access_token(s.expert).await.unwrap().expose(), "at-1");
    assert_eq!(s.server.state().refreshes, vec!["rt-0"]);
}

#[tokio::test]
async fn a_rotated_refresh_token_is_saved_before_use_and_the_first_is_never_sent_again() {
    let s = setup(true, 30).await;
    let events = s.events.clone();
    // The API rejects at-1 once, forcing a second refresh through the 401 path.
    let api = serve(move |request| {
        let bearer = request
            .header("authorization")
            .unwrap_or_default()
            .trim_start_matches("Bearer ")
            .to_owned();
        events.lock().unwrap().push(format!("used {bearer}"));
        let status = if bearer == "at-1" { 401 } else { 200 };
        async move { StubResponse::json(status, serde_json::json!({"value": []})) }
    })
    .await;
    let policy = HttpPolicy::default();
    let client = policy.client().unwrap();
    let reply = s
        .manager
        .send_authorized(s.expert, &policy, &SendOptions::new(), || {
            client.get(api.url("/me/events"))
        })
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        *s.events.lock().unwrap(),
        vec!["saved at-1 rt-1", "used at-1", "saved at-2 rt-2", "used at-2"],
        "every rotated token is saved before its access token is used"
    );
    assert_eq!(s.server.state().refreshes, vec!["rt-0", "rt-1"]);
    assert_eq!(refresh_token_of(&s.manager.stored(s.expert).await.unwrap()), "rt-2");

    // Later calls use the stored token; rt-0 and rt-1 are never sent again.
    assert_eq!(s.manager.access_token(s.expert).await.unwrap().expose(), "at-2");
    assert_eq!(s.server.state().refreshes, vec!["rt-0", "rt-1"]);
}

#[tokio::test]
async fn a_refreshed_token_that_cannot_be_saved_is_not_used() {
    let s = setup(true, 30).await;
    s.credentials.failing_saves.store(usize::MAX, Ordering::SeqCst);
    let used = Arc::new(AtomicBool::new(false));
    let flag = used.clone();
    let api = serve(move |_request| {
        flag.store(true, Ordering::SeqCst);
        async { StubResponse::new(200) }
    })
    .await;
    let policy = HttpPolicy::default();
    let client = policy.client().unwrap();
    let error = s
        .manager
        .send_authorized(s.expert, &policy, &SendOptions::new(), || client.get(api.url("/x")))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderHttpError::Core(CoreError::Storage(_))),
        "{error:?}"
    );
    assert!(!error.to_string().contains("at-1"));
    assert!(!used.load(Ordering::SeqCst), "a request went out with an unsaved token");
    assert_eq!(s.manager.stored(s.expert).await.unwrap().access_token.expose(), "at-0");

    // The price of a lost rotation: rt-0 is spent and rt-1 is gone, so the expert must reconnect.
    // That is why the token is saved before use: using at-1 would have hidden this for an hour.
    s.credentials.failing_saves.store(0, Ordering::SeqCst);
    let error = s.manager.access_token(s.expert).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    assert_eq!(s.server.state().refreshes, vec!["rt-0", "rt-0"]);
}

#[tokio::test]
async fn a_brief_storage_failure_does_not_lose_a_rotated_token() {
    let s = setup(true, 30).await;
    s.credentials.failing_saves.store(2, Ordering::SeqCst);
    assert_eq!(s.manager.access_token(s.expert).await.unwrap().expose(), "at-1");
    assert_eq!(refresh_token_of(&s.manager.stored(s.expert).await.unwrap()), "rt-1");
}

#[tokio::test]
async fn invalid_grant_marks_the_integration_needs_reauth() {
    let s = setup(false, 30).await;
    s.server.state().valid_refresh.clear(); // the expert revoked access
    let error = s.manager.access_token(s.expert).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    let state = s.store.integration_state(s.expert, GOOGLE);
    assert!(state.needs_reauth);
    let reason = state.last_error.unwrap();
    assert!(
        reason.contains("invalid_grant") && reason.contains("refresh at"),
        "{reason}"
    );
    assert!(!reason.contains("rt-0"), "{reason}");
}

#[tokio::test]
async fn an_expired_token_without_a_refresh_token_needs_reauth() {
    let s = setup(false, 3600).await;
    s.manager
        .store_new_grant(s.expert, tokens("at-x", None, 10), None, serde_json::Value::Null)
        .await
        .unwrap();
    let error = s.manager.access_token(s.expert).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    assert!(s.store.integration_state(s.expert, GOOGLE).needs_reauth);
}

#[tokio::test]
async fn an_unreadable_credential_needs_reauth() {
    let s = setup(false, 3600).await;
    s.store
        .save(
            s.expert,
            GOOGLE,
            Secret::new("{\"access_token\": 42, \"x\": \"ya29.leak\"}".into()),
        )
        .await
        .unwrap();
    let error = s.manager.access_token(s.expert).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    assert!(!error.to_string().contains("ya29"));
    assert!(s.store.integration_state(s.expert, GOOGLE).needs_reauth);
}

#[tokio::test]
async fn concurrent_callers_of_an_expiring_token_cause_one_refresh() {
    let s = setup(true, 30).await;
    s.server.state().refresh_delay = Duration::from_millis(200);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (manager, expert) = (s.manager.clone(), s.expert);
            tokio::spawn(async move { manager.access_token(expert).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().expose(), "at-1");
    }
    assert_eq!(s.server.state().refreshes, vec!["rt-0"], "exactly one refresh");
}

/// Two server processes (two managers: their per-expert locks are their own) over one database
/// refresh one expert's single-use refresh token at the same moment. The provider accepts the
/// first and refuses the second with invalid_grant; the loser uses the grant the winner stored
/// instead of locking the expert out.
#[tokio::test]
async fn a_refresh_token_spent_by_another_process_is_not_needs_reauth() {
    let s = setup(true, 30).await;
    s.server.state().refresh_delay = Duration::from_millis(100);
    let other_process = TokenManager::new(app(&s.server), s.credentials.clone(), s.store.clone());
    let (a, b) = tokio::join!(s.manager.access_token(s.expert), other_process.access_token(s.expert));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.expose(), b.expose(), "both use the one grant that was stored");
    assert_eq!(
        s.server.state().refreshes,
        vec!["rt-0", "rt-0"],
        "both spent rt-0: one was refused"
    );
    assert!(!s.store.integration_state(s.expert, GOOGLE).needs_reauth);
    assert_eq!(refresh_token_of(&s.manager.stored(s.expert).await.unwrap()), "rt-1");
}

#[tokio::test]
async fn a_401_for_a_token_someone_already_replaced_does_not_refresh_again() {
    let s = setup(true, 30).await;
    assert_eq!(s.manager.access_token(s.expert).await.unwrap().expose(), "at-1");
    // A request that left with at-0 before the refresh comes back 401.
    let token = s
        .manager
        .refresh_after_401(s.expert, &Secret::new("at-0".into()))
        .await
        .unwrap();
    assert_eq!(token.expose(), "at-1");
    assert_eq!(s.server.state().refreshes, vec!["rt-0"]);
}

#[tokio::test]
async fn a_second_401_needs_reauth_and_no_token_reaches_the_message() {
    let s = setup(false, 3600).await;
    // The provider rejects every token, and echoes it back in the body.
    let api = serve(|request| {
        let bearer = request.header("authorization").unwrap_or_default().to_owned();
        async move { StubResponse::json(401, serde_json::json!({"error": {"message": format!("bad {bearer}")}})) }
    })
    .await;
    let policy = HttpPolicy::default();
    let client = policy.client().unwrap();
    let error = s
        .manager
        .send_authorized(s.expert, &policy, &SendOptions::new(), || client.get(api.url("/x")))
        .await
        .unwrap_err();
    assert_eq!(s.server.state().refreshes, vec!["rt-0"], "refreshed once, not more");
    let text = format!("{error} {error:?}");
    assert!(!text.contains("at-0") && !text.contains("at-1"), "{text}");
    let core = error.into_core(GOOGLE);
    assert!(matches!(core, CoreError::NeedsReauth { .. }), "{core:?}");
    let state = s.store.integration_state(s.expert, GOOGLE);
    assert!(state.needs_reauth);
    assert!(state.last_error.unwrap().contains("401"));
}

#[tokio::test]
async fn error_bodies_echoing_the_bearer_token_are_scrubbed() {
    let s = setup(false, 3600).await;
    let api = serve(|request| {
        let bearer = request.header("authorization").unwrap_or_default().to_owned();
        async move {
            StubResponse::json(
                404,
                serde_json::json!({"error": {"message": format!("no event for {bearer}")}}),
            )
        }
    })
    .await;
    let policy = HttpPolicy::default();
    let client = policy.client().unwrap();
    let error = s
        .manager
        .send_authorized(s.expert, &policy, &SendOptions::new(), || client.get(api.url("/x")))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    let described = format!("{error} {error:?}");
    let text = format!("{described} {}", error.into_core(GOOGLE));
    assert!(!text.contains("at-0"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}

#[tokio::test]
async fn a_refresh_cut_off_by_the_budget_still_saves_its_token() {
    let s = setup(true, 30).await;
    s.server.state().refresh_delay = Duration::from_millis(1500);
    let api = serve(|_request| async { StubResponse::new(200) }).await;
    let policy = HttpPolicy::default().with_total_timeout(Duration::from_millis(300));
    let client = policy.client().unwrap();
    let started = std::time::Instant::now();
    let error = s
        .manager
        .send_authorized(s.expert, &policy, &SendOptions::new(), || client.get(api.url("/x")))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(error.into_core(GOOGLE), CoreError::ProviderUnavailable { .. }));
    // The refresh goes on and stores the rotated token; the next call uses it.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(refresh_token_of(&s.manager.stored(s.expert).await.unwrap()), "rt-1");
    assert_eq!(s.manager.access_token(s.expert).await.unwrap().expose(), "at-1");
    assert_eq!(s.server.state().refreshes, vec!["rt-0"]);
}

#[tokio::test]
async fn disconnect_revokes_and_wipes() {
    let s = setup(false, 3600).await;
    s.manager.disconnect(s.expert).await.unwrap();
    assert_eq!(s.server.state().revocations[0].form()["token"], "rt-0");
    assert!(s.store.load(s.expert, GOOGLE).await.unwrap().is_none());
    // Idempotent.
    s.manager.disconnect(s.expert).await.unwrap();
    assert_eq!(s.server.state().revocations.len(), 1);
}

#[tokio::test]
async fn update_extra_keeps_the_tokens() {
    let s = setup(true, 3600).await;
    s.manager
        .update_extra(s.expert, |extra| {
            extra["calendars"] = serde_json::json!(["primary", "work"])
        })
        .await
        .unwrap();
    let stored = s.manager.stored(s.expert).await.unwrap();
    assert_eq!(stored.extra["calendars"][1], "work");
    assert_eq!(refresh_token_of(&stored), "rt-0");
    assert!(!format!("{stored:?} {:?}", s.manager).contains("rt-0"));
}

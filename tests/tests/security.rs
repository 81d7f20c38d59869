//! Security hardening (issue #20) through the real server, on SQLite and on PostgreSQL: OAuth
//! callbacks bound to the browser that began the connect (every OAuth provider), start links that
//! work once, throttled failed authentication, tokens listed without secrets, revoked and expired
//! (in every server process at once), provider failures answered in the server's own words,
//! bodies over the limit answered in the JSON shape, unique client emails compared
//! case-insensitively, and calendar routes of integrations that are not connected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use availability_store::{testing, Store};
use provider_fakes::calendly::Signature;
use provider_fakes::{FakeCalendly, FakeGoogle, FakeGraph};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{
    begin_oauth, consent, databases, env_refs, google_env, graph_env, next_monday, no_redirects, open_callback,
    set_cookie, Api, TestServer, ADMIN_TOKEN,
};

const SIGNING_KEY: &str = "calendly-webhook-signing-key-for-tests";

fn calendly_env(calendly: &FakeCalendly) -> Vec<(&'static str, String)> {
    vec![
        ("CALENDLY_CLIENT_ID", calendly.client_id()),
        ("CALENDLY_CLIENT_SECRET", calendly.client_secret()),
        ("CALENDLY_AUTH_URL", calendly.auth_url()),
        ("CALENDLY_TOKEN_URL", calendly.token_url()),
        ("CALENDLY_REVOKE_URL", calendly.revoke_url()),
        ("CALENDLY_API_BASE", calendly.api_base()),
        ("CALENDLY_WEBHOOK_SIGNING_KEY", SIGNING_KEY.to_owned()),
    ]
}

async fn integration_status(api: &Api, expert: &str, integration: &str) -> String {
    let list = api
        .get(&format!("/api/v1/experts/{expert}/integrations"), ADMIN_TOKEN)
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    list.body
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == integration)
        .map(|i| i["status"].as_str().unwrap().to_owned())
        .unwrap()
}

async fn error_code(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
}

// ---------------------------------------------------------------------------------------------
// OAuth callbacks bound to the browser
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_callback_connects_only_in_the_browser_that_began_the_connect() {
    for db in databases("an_oauth_callback_connects_only_in_the_browser_that_began_the_connect") {
        let google = FakeGoogle::start().await;
        let graph = FakeGraph::start().await;
        let calendly = FakeCalendly::start().await;
        calendly.add_event_type("Consult", 30);
        let mut env = google_env(&google);
        env.extend(graph_env(&graph));
        env.extend(calendly_env(&calendly));
        let server = TestServer::start_with_env(&db, &env_refs(&env)).await;
        let api = &server.api;
        let exchanges = |integration: &str| match integration {
            "google_calendar" => google.token_requests().len(),
            "office365_calendar" => graph.token_requests().len(),
            _ => calendly.token_requests().len(),
        };

        for integration in ["google_calendar", "office365_calendar", "calendly"] {
            let l = format!("{}: {integration}", db.label);
            let cookie_name = format!("availability_oauth_{integration}");
            let (expert, token) = api.expert_with_hours().await;

            // The binding cookie: HttpOnly, SameSite=Lax, only for /oauth, at most 10 minutes.
            let raw = api
                .client
                .post(format!(
                    "{}/api/v1/experts/{expert}/integrations/{integration}/connect",
                    api.base
                ))
                .bearer_auth(&token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let set = raw
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .find(|c| c.starts_with(&cookie_name))
                .unwrap_or_else(|| panic!("{l}: no binding cookie"));
            for attribute in ["HttpOnly", "SameSite=Lax", "Path=/oauth", "Max-Age=600"] {
                assert!(set.contains(attribute), "{l}: {set}");
            }
            assert!(!set.contains("Secure"), "{l}: not over plain http: {set}");

            // Someone who got hold of the expert's authorization URL consents with their own
            // account: their browser has no binding cookie, or another connect's.
            let begun = begin_oauth(api, &expert, &token, integration).await;
            let callback = consent(&begun.authorization_url).await;
            let before = exchanges(integration);
            let (other_expert, other_token) = api.expert_with_hours().await;
            let other_browser = begin_oauth(api, &other_expert, &other_token, integration).await;
            for cookie in [
                None,
                Some(other_browser.cookie.as_str()),
                Some(&*format!("{cookie_name}=made-up")),
            ] {
                let res = open_callback(&callback, cookie).await;
                assert_eq!(error_code(res).await, (400, "invalid_state".into()), "{l}: {cookie:?}");
            }
            assert_eq!(exchanges(integration), before, "{l}: no code was exchanged");
            assert_eq!(
                integration_status(api, &expert, integration).await,
                "disconnected",
                "{l}"
            );

            // The browser that began it connects with the same callback.
            let res = open_callback(&callback, Some(&begun.cookie)).await;
            assert_eq!(res.status(), 303, "{l}");
            assert_eq!(
                res.headers()["location"],
                format!("/experts/{expert}/calendars?connected={integration}").as_str(),
                "{l}"
            );
            assert_eq!(
                set_cookie(&res, &cookie_name).as_deref(),
                Some(&*format!("{cookie_name}="))
            );
            assert_eq!(exchanges(integration), before + 1, "{l}");
            assert_eq!(integration_status(api, &expert, integration).await, "connected", "{l}");

            // A platform's backend calls connect with a bearer token and hands the start link to
            // the expert's browser: it binds that browser, once.
            let backend = begin_oauth(api, &other_expert, &other_token, integration).await;
            assert!(
                backend
                    .start_url
                    .starts_with(&format!("{}/oauth/{integration}/start?ticket=", api.base)),
                "{l}: {}",
                backend.start_url
            );
            let opened = no_redirects().get(&backend.start_url).send().await.unwrap();
            assert_eq!(opened.status(), 303, "{l}");
            assert_eq!(
                opened.headers()["location"].to_str().unwrap(),
                backend.authorization_url,
                "{l}"
            );
            let browser = set_cookie(&opened, &cookie_name).unwrap();
            let again = no_redirects().get(&backend.start_url).send().await.unwrap();
            assert_eq!(error_code(again).await, (400, "invalid_state".into()), "{l}: once only");
            let callback = consent(&backend.authorization_url).await;
            let res = open_callback(&callback, Some(&backend.cookie)).await;
            assert_eq!(
                error_code(res).await,
                (400, "invalid_state".into()),
                "{l}: the binding moved to the browser that opened the link"
            );
            let res = open_callback(&callback, Some(&browser)).await;
            assert_eq!(res.status(), 303, "{l}");
            assert_eq!(
                integration_status(api, &other_expert, integration).await,
                "connected",
                "{l}"
            );
            let unknown = no_redirects()
                .get(format!("{}/oauth/{integration}/start?ticket=nope", api.base))
                .send()
                .await
                .unwrap();
            assert_eq!(error_code(unknown).await, (400, "invalid_state".into()), "{l}");
        }
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Throttling failed authentication
// ---------------------------------------------------------------------------------------------

/// A client whose connections come from another loopback address (127.0.0.2).
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A failed attempt of one of the three kinds: an unknown bearer token, a session cookie that
/// names no session, a sign-in with an unknown token.
async fn failed_attempt(
    client: &reqwest::Client,
    base: &str,
    expert: &str,
    i: usize,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = match i % 3 {
        0 => client
            .get(format!("{base}/api/v1/experts/{expert}"))
            .bearer_auth(format!("wrong-token-{i}")),
        1 => client
            .get(format!("{base}/session"))
            .header("cookie", format!("availability_session=made-up-{i}")),
        _ => client
            .post(format!("{base}/session"))
            .json(&json!({"token": format!("wrong-token-{i}")})),
    };
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_is_throttled_per_client_address() {
    for db in databases("failed_authentication_is_throttled_per_client_address") {
        let window = Duration::from_secs(3);
        let server = TestServer::start_configured(&db, &[], |c| c.auth_throttle.window = window).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let here = reqwest::Client::new();
        let expert_path = format!("{}/api/v1/experts/{expert}", api.base);

        // 25 wrong credentials from one address (claiming other addresses in X-Forwarded-For,
        // which is not trusted by default): 401 twenty times, then 429 with Retry-After.
        for i in 1..=25 {
            let forged = format!("198.51.100.{i}");
            let res = failed_attempt(&here, &api.base, &expert, i, &[("X-Forwarded-For", &forged)]).await;
            let status = res.status();
            if i <= 20 {
                assert_eq!(status, 401, "{}: attempt {i}", db.label);
            } else {
                let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=3).contains(&retry), "{retry}");
                assert_eq!(res.headers()["cache-control"], "no-store");
                assert_eq!(error_code(res).await, (429, "too_many_attempts".into()), "attempt {i}");
            }
        }
        // Every request of that address with a credential waits, a valid one too; what carries
        // none is served (pages, health).
        let valid = here.get(&expert_path).bearer_auth(&token).send().await.unwrap();
        assert_eq!(valid.status(), 429);
        let sign_in = here
            .post(format!("{}/session", api.base))
            .json(&json!({"token": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(sign_in.status(), 429);
        assert_eq!(
            here.get(format!("{}/healthz", api.base)).send().await.unwrap().status(),
            200
        );
        assert_eq!(here.get(format!("{}/", api.base)).send().await.unwrap().status(), 200);

        // Another address is not affected, and has its own count.
        let elsewhere = client_from("127.0.0.2");
        let other_base = api.base.clone();
        let res = elsewhere.get(&expert_path).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", db.label);
        let res = failed_attempt(&elsewhere, &other_base, &expert, 0, &[]).await;
        assert_eq!(res.status(), 401);

        // After the window, the valid token is served again.
        tokio::time::sleep(window + Duration::from_millis(300)).await;
        let res = here.get(&expert_path).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", db.label);
        server.stop().await;

        // Behind a trusted proxy, X-Forwarded-For names the client.
        let server = TestServer::start_configured(&db, &[("TRUSTED_PROXIES", "127.0.0.1")], |c| {
            c.auth_throttle.window = window
        })
        .await;
        let api = &server.api;
        let expert_path = format!("{}/api/v1/experts/{expert}", api.base);
        for i in 1..=21 {
            let res = failed_attempt(&here, &api.base, &expert, i, &[("X-Forwarded-For", "198.51.100.1")]).await;
            assert_eq!(res.status(), if i <= 20 { 401 } else { 429 }, "attempt {i}");
        }
        for (client, status) in [("198.51.100.1", 429), ("198.51.100.2", 200)] {
            let res = here
                .get(&expert_path)
                .bearer_auth(&token)
                .header("X-Forwarded-For", client)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), status, "{client}");
        }
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens: listed without secrets, revoked, expired
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_listed_without_secrets_revoked_at_once_and_expire() {
    for db in databases("tokens_are_listed_without_secrets_revoked_at_once_and_expire") {
        let l = db.label;
        // Two servers on one database: a revocation holds in both from the next request on.
        let a = TestServer::start(&db).await;
        let b = TestServer::start(&db).await;
        let (api, other) = (&a.api, &b.api);
        let (expert, first) = api.expert_with_hours().await;
        let (other_expert, other_token) = api.expert_with_hours().await;
        let (_, client_token) = api.client_with_token().await;

        let made = api
            .post(
                "/api/v1/tokens",
                ADMIN_TOKEN,
                json!({"role": "expert", "subject_id": expert, "expires_in_days": 30}),
            )
            .await;
        assert_eq!(made.status, 201, "{l}: {:?}", made.body);
        let second = made.body["token"].as_str().unwrap().to_owned();
        let second_id = made.body["id"].as_str().unwrap().to_owned();
        assert_eq!(made.body["role"], "expert");
        assert_eq!(made.body["subject_id"], expert.as_str());
        let created: availability_core::domain::jiff::Timestamp =
            made.body["created_at"].as_str().unwrap().parse().unwrap();
        let expires: availability_core::domain::jiff::Timestamp =
            made.body["expires_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(expires.as_second() - created.as_second(), 30 * 86_400, "{l}");
        for bad in [json!(0), json!(3651), json!(-1)] {
            let refused = api
                .post(
                    "/api/v1/tokens",
                    ADMIN_TOKEN,
                    json!({"role": "expert", "subject_id": expert, "expires_in_days": bad}),
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (422, "out_of_range"),
                "{bad}"
            );
        }

        // Listed for the admin, without the secrets.
        let listed = api
            .get(&format!("/api/v1/tokens?subject_id={expert}"), ADMIN_TOKEN)
            .await;
        assert_eq!(listed.status, 200, "{l}: {:?}", listed.body);
        let tokens = listed.body["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 2, "{l}: {tokens:?}");
        let text = listed.body.to_string();
        for secret in [&first, &second] {
            assert!(!text.contains(secret.as_str()), "{l}: a secret in the list");
            assert!(
                !text.contains(&availability_store::tokens::token_hash(secret)),
                "{l}: a hash in the list"
            );
        }
        assert!(tokens.iter().all(|t| t.get("token").is_none() && t["id"].is_string()));
        assert_eq!(api.get("/api/v1/tokens", &first).await.status, 403, "admins only");
        assert!(
            api.get("/api/v1/tokens", ADMIN_TOKEN).await.body["tokens"]
                .as_array()
                .unwrap()
                .len()
                >= 4
        );

        // A session opened with the first token, on the other server.
        let signed_in = other
            .client
            .post(format!("{}/session", other.base))
            .json(&json!({"token": first}))
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 200);
        let session = set_cookie(&signed_in, "availability_session").unwrap();
        let session_get = || async {
            other
                .client
                .get(format!("{}/session", other.base))
                .header("cookie", &session)
                .send()
                .await
                .unwrap()
                .status()
        };
        assert_eq!(session_get().await, 200);

        // Revoking: neither another expert nor a client may; the holder may (here with their
        // other token), and then the token is refused by both servers at once.
        let first_id = tokens.iter().find(|t| t["id"] != second_id.as_str()).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/api/v1/tokens/{first_id}");
        for (who, status) in [(&other_token, 403), (&client_token, 403)] {
            let a = api.call(Method::DELETE, &path, Some(who), None).await;
            assert_eq!(a.status, status, "{l}");
        }
        let nope = api
            .call(
                Method::DELETE,
                "/api/v1/tokens/7f1c1d8e-0000-4000-8000-000000000000",
                Some(ADMIN_TOKEN),
                None,
            )
            .await;
        assert_eq!((nope.status.as_u16(), nope.code()), (404, "not_found"));
        let malformed = api
            .call(Method::DELETE, "/api/v1/tokens/x", Some(ADMIN_TOKEN), None)
            .await;
        assert_eq!(
            (malformed.status.as_u16(), malformed.code()),
            (400, "invalid_parameter")
        );
        for server in [api, other] {
            assert_eq!(
                server.get(&format!("/api/v1/experts/{expert}"), &first).await.status,
                200
            );
        }
        let revoked = api.call(Method::DELETE, &path, Some(&second), None).await;
        assert_eq!(revoked.status, 204, "{l}: {:?}", revoked.body);
        for server in [api, other] {
            let a = server.get(&format!("/api/v1/experts/{expert}"), &first).await;
            assert_eq!(
                (a.status.as_u16(), a.code()),
                (401, "unauthorized"),
                "{l}: refused at once"
            );
        }
        assert_eq!(session_get().await, 401, "{l}: its session ended too");
        assert_eq!(
            api.call(Method::DELETE, &path, Some(ADMIN_TOKEN), None).await.status,
            404
        );

        // The admin revokes another expert's token.
        let other_id = api
            .get(&format!("/api/v1/tokens?subject_id={other_expert}"), ADMIN_TOKEN)
            .await
            .body["tokens"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let gone = api
            .call(
                Method::DELETE,
                &format!("/api/v1/tokens/{other_id}"),
                Some(ADMIN_TOKEN),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        assert_eq!(
            other
                .get(&format!("/api/v1/experts/{expert}"), &other_token)
                .await
                .status,
            401
        );

        // An expired token is refused by both.
        assert_eq!(
            other.get(&format!("/api/v1/experts/{expert}"), &second).await.status,
            200
        );
        let store = Store::open(&db.url).await.unwrap();
        testing::expire_token(&store, second_id).await.unwrap();
        for server in [api, other] {
            assert_eq!(
                server.get(&format!("/api/v1/experts/{expert}"), &second).await.status,
                401,
                "{l}"
            );
        }
        a.stop().await;
        b.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Provider failures in the server's words
// ---------------------------------------------------------------------------------------------

/// What a provider in trouble says: none of it may reach an API answer.
const MARKER: &str = "LEAK-MARKER-4b1d";
const UPSTREAM_HOST: &str = "db-17.corp.internal.example";

fn trouble_body() -> String {
    json!({
        "error": MARKER,
        "message": format!("upstream {UPSTREAM_HOST}:5432 refused; see https://{UPSTREAM_HOST}/trace/{MARKER}"),
        "trace": format!("at Handler.call ({UPSTREAM_HOST}/app.js:42)"),
    })
    .to_string()
}

/// A stand-in between the server and a fake: passes requests through, or, while `fail` holds a
/// status, answers every request with it and [`trouble_body`].
struct FailingProxy {
    base: String,
    fail: Arc<Mutex<Option<u16>>>,
    handle: ServerHandle,
}

impl FailingProxy {
    async fn start(target: String) -> Self {
        let fail: Arc<Mutex<Option<u16>>> = Arc::new(Mutex::new(None));
        let client = no_redirects();
        let state = (fail.clone(), client, target);
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new()
                .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                .default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                    let (fail, client, target) = state.clone();
                    async move { pass_or_fail(req, body, fail, client, target).await }
                }))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let base = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { base, fail, handle }
    }

    fn fail_with(&self, status: Option<u16>) {
        *self.fail.lock().unwrap() = status;
    }

    /// `url` of the fake, through this proxy.
    fn via(&self, url: &str) -> String {
        let parsed = reqwest::Url::parse(url).unwrap();
        let rest = &url[parsed.origin().ascii_serialization().len()..];
        format!("{}{rest}", self.base)
    }

    /// What an answer must not contain: the provider's words and where it lives.
    fn leaks(&self, text: &str) -> Option<&'static str> {
        let host = self.base.trim_start_matches("http://");
        if text.contains(MARKER) {
            Some("the provider's body")
        } else if text.contains(UPSTREAM_HOST) {
            Some("the upstream host")
        } else if text.contains(host) {
            Some("the provider's address")
        } else {
            None
        }
    }
}

async fn pass_or_fail(
    req: HttpRequest,
    body: web::Bytes,
    fail: Arc<Mutex<Option<u16>>>,
    client: reqwest::Client,
    target: String,
) -> HttpResponse {
    let failing = *fail.lock().unwrap();
    if let Some(status) = failing {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(trouble_body());
    }
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut forward = client.request(
        Method::from_bytes(req.method().as_str().as_bytes()).unwrap(),
        format!("{target}{path}"),
    );
    for (name, value) in req.headers() {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            if let Ok(value) = value.to_str() {
                forward = forward.header(name.as_str(), value);
            }
        }
    }
    let res = forward.body(body.to_vec()).send().await.unwrap();
    let mut answer = HttpResponse::build(actix_web::http::StatusCode::from_u16(res.status().as_u16()).unwrap());
    for (name, value) in res.headers() {
        if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
            if let Ok(value) = value.to_str() {
                answer.insert_header((name.as_str(), value));
            }
        }
    }
    answer.body(res.bytes().await.unwrap().to_vec())
}

/// Calls the API with `token` and asserts the answer (status `expected`, or any error) names
/// nothing of the provider's.
async fn clean(
    api: &Api,
    proxy: &FailingProxy,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    context: &str,
) -> Value {
    let mut req = api
        .client
        .request(method, format!("{}{path}", api.base))
        .bearer_auth(token);
    if let Some(body) = &body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{context}: {status} {text}"
    );
    if let Some(what) = proxy.leaks(&text) {
        panic!("{context}: {what} reached the answer: {status} {text}");
    }
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(
        value["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{context}: {text}"
    );
    value
}

async fn integrations_are_clean(api: &Api, proxy: &FailingProxy, expert: &str, context: &str) {
    let list = api
        .get(&format!("/api/v1/experts/{expert}/integrations"), ADMIN_TOKEN)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    if let Some(what) = proxy.leaks(&list.body.to_string()) {
        panic!("{context}: {what} reached GET integrations: {}", list.body);
    }
}

/// A code exchange the token endpoint fails (a server error, an OAuth error answer) with the
/// provider's words: 502 in the server's words.
async fn failing_exchanges_are_clean(api: &Api, proxy: &FailingProxy, integration: &str) {
    for status in [500, 400] {
        proxy.fail_with(None);
        let (expert, token) = api.expert_with_hours().await;
        let begun = begin_oauth(api, &expert, &token, integration).await;
        let callback = consent(&begun.authorization_url).await;
        proxy.fail_with(Some(status));
        let res = open_callback(&callback, Some(&begun.cookie)).await;
        let code = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(code, 502, "{integration} {status}: {text}");
        if let Some(what) = proxy.leaks(&text) {
            panic!("{integration} {status}: {what} reached the answer: {text}");
        }
        integrations_are_clean(api, proxy, &expert, integration).await;
    }
    proxy.fail_with(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failures_are_answered_in_the_servers_own_words() {
    for db in databases("provider_failures_are_answered_in_the_servers_own_words") {
        let google = FakeGoogle::start().await;
        let graph = FakeGraph::start().await;
        let calendly = FakeCalendly::start().await;
        let consult = calendly.add_event_type("Consult", 30);
        let (gp, mp, cp) = (
            FailingProxy::start(google.base_url()).await,
            FailingProxy::start(graph.base_url()).await,
            FailingProxy::start(calendly.base_url()).await,
        );
        let env: Vec<(&'static str, String)> = vec![
            ("GOOGLE_CLIENT_ID", google.client_id()),
            ("GOOGLE_CLIENT_SECRET", google.client_secret()),
            ("GOOGLE_AUTH_URL", google.auth_url()),
            ("GOOGLE_TOKEN_URL", gp.via(&google.token_url())),
            ("GOOGLE_REVOKE_URL", gp.via(&google.revoke_url())),
            ("GOOGLE_API_BASE", gp.via(&google.api_base())),
            ("MS_CLIENT_ID", graph.client_id()),
            ("MS_CLIENT_SECRET", graph.client_secret()),
            ("MS_AUTH_URL", graph.auth_url()),
            ("MS_TOKEN_URL", mp.via(&graph.token_url())),
            ("MS_GRAPH_BASE", mp.via(&graph.graph_base())),
            ("CALENDLY_API_BASE", cp.via(&calendly.api_base())),
            ("CALENDLY_CLIENT_ID", calendly.client_id()),
            ("CALENDLY_CLIENT_SECRET", calendly.client_secret()),
            ("CALENDLY_AUTH_URL", calendly.auth_url()),
            ("CALENDLY_TOKEN_URL", cp.via(&calendly.token_url())),
        ];
        let server = TestServer::start_with_env(&db, &env_refs(&env)).await;
        let api = &server.api;
        let (from, to) = (
            format!("{}T00:00:00Z", next_monday()),
            format!("{}T23:59:00Z", next_monday()),
        );

        // Google and Office 365: connected through the proxies, then every status of trouble on
        // every route that asks the provider.
        for (integration, proxy, name) in [
            ("google_calendar", &gp, "Google Calendar"),
            ("office365_calendar", &mp, "Office 365"),
        ] {
            let (expert, token) = api.expert_with_hours().await;
            support::connect_oauth(api, &expert, &token, integration).await;
            let slots = format!("/api/v1/experts/{expert}/slots?from={from}&to={to}");
            let calendars = format!("/api/v1/experts/{expert}/integrations/{integration}/calendars");
            let mut routes = vec![(Method::GET, slots.clone()), (Method::GET, calendars.clone())];
            if integration == "office365_calendar" {
                routes.push((
                    Method::GET,
                    format!("/api/v1/experts/{expert}/integrations/{integration}/working_hours"),
                ));
            }
            for status in [500, 400, 404, 401] {
                proxy.fail_with(Some(status));
                for (method, path) in &routes {
                    let context = format!("{}: {integration} {status} {method} {path}", db.label);
                    let answer = clean(api, proxy, method.clone(), path, &token, None, &context).await;
                    let message = answer["error"]["message"].as_str().unwrap();
                    assert!(message.contains(name), "{context}: named as people know it: {message}");
                }
            }
            integrations_are_clean(api, proxy, &expert, integration).await;

            failing_exchanges_are_clean(api, proxy, integration).await;
        }
        failing_exchanges_are_clean(api, &cp, "calendly").await;

        // Calendly: a personal access token refused with a body, event types, slots.
        let (expert, token) = api.expert_with_hours().await;
        let connect = format!("/api/v1/experts/{expert}/integrations/calendly");
        let types = format!("/api/v1/experts/{expert}/integrations/calendly/event_types");
        let pat = calendly.personal_access_token(&[]);
        for status in [401, 403, 500] {
            cp.fail_with(Some(status));
            let context = format!("{}: calendly {status}", db.label);
            let body = json!({"personal_access_token": pat, "event_type_uri": consult});
            clean(api, &cp, Method::PUT, &connect, &token, Some(body), &context).await;
            let body = json!({"personal_access_token": pat});
            clean(api, &cp, Method::POST, &types, &token, Some(body), &context).await;
        }
        cp.fail_with(None);
        let ok = api
            .put(
                &connect,
                &token,
                json!({"personal_access_token": pat, "event_type_uri": consult}),
            )
            .await;
        assert_eq!(ok.status, 200, "{:?}", ok.body);
        let set = api
            .put(
                &format!("/api/v1/experts/{expert}/integration"),
                &token,
                json!({"integration_type": "calendly"}),
            )
            .await;
        assert_eq!(set.status, 200, "{:?}", set.body);
        let slots = format!("/api/v1/experts/{expert}/slots?from={from}&to={to}");
        for status in [500, 400, 401] {
            cp.fail_with(Some(status));
            for path in [&slots, &types] {
                let context = format!("{}: calendly {status} {path}", db.label);
                let answer = clean(api, &cp, Method::GET, path, &token, None, &context).await;
                assert!(
                    answer["error"]["message"].as_str().unwrap().contains("Calendly"),
                    "{context}: {answer}"
                );
            }
        }
        integrations_are_clean(api, &cp, &expert, "calendly").await;
        cp.fail_with(None);
        server.stop().await;
        for proxy in [gp, mp, cp] {
            proxy.handle.stop(false).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies over the limit, client emails, calendar routes of integrations not connected
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413_in_the_json_shape() {
    for db in databases("bodies_over_the_limit_are_413_in_the_json_shape") {
        let calendly = FakeCalendly::start().await;
        let server = TestServer::start_with_env(&db, &env_refs(&calendly_env(&calendly))).await;
        let api = &server.api;
        let big = format!("{{\"name\": \"{}\"}}", "x".repeat(300 * 1024));
        for (path, chunked) in [
            ("/webhooks/calendly", false),
            ("/webhooks/calendly", true),
            ("/api/v1/experts", false),
            ("/api/v1/clients", true),
        ] {
            let (status, content_type, body) = raw_post(&api.base, path, &big, chunked).await;
            let l = format!("{}: {path} chunked={chunked}", db.label);
            assert_eq!(status, 413, "{l}: {body}");
            assert_eq!(content_type, "application/json", "{l}");
            let body: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{l}: {body}"));
            assert_eq!(body["error"]["code"], "payload_too_large", "{l}");
        }
        server.stop().await;
    }
}

/// POSTs `body` over a plain TCP connection, with Content-Length or chunked (no length known
/// up front): (status, content type, body).
async fn raw_post(base: &str, path: &str, body: &str, chunked: bool) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let length = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\n{length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before it has read everything: write errors are fine.
    if chunked {
        for chunk in body.as_bytes().chunks(16 * 1024) {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(chunk);
            framed.extend_from_slice(b"\r\n");
            if stream.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    } else {
        let _ = stream.write_all(body.as_bytes()).await;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let body = if header("transfer-encoding").eq_ignore_ascii_case("chunked") {
        // One chunk is all an error body needs; strip its framing.
        rest.split_once("\r\n")
            .map(|(_, r)| r)
            .unwrap_or(rest)
            .trim_end_matches("\r\n0\r\n\r\n")
            .to_owned()
    } else {
        rest.to_owned()
    };
    (status, header("content-type"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_emails_are_unique_and_compared_case_insensitively() {
    for db in databases("client_emails_are_unique_and_compared_case_insensitively") {
        let calendly = FakeCalendly::start().await;
        let server = TestServer::start_with_env(&db, &env_refs(&calendly_env(&calendly))).await;
        let api = &server.api;
        let ca = api
            .post(
                "/api/v1/clients",
                ADMIN_TOKEN,
                json!({"name": "Ca", "email": "ca@x.example"}),
            )
            .await;
        assert_eq!(ca.status, 201, "{:?}", ca.body);
        let ca = ca.body["id"].as_str().unwrap().to_owned();
        for again in ["ca@x.example", "CA@X.EXAMPLE", "Ca@x.Example"] {
            let a = api
                .post("/api/v1/clients", ADMIN_TOKEN, json!({"name": "Again", "email": again}))
                .await;
            assert_eq!(
                (a.status.as_u16(), a.code()),
                (409, "email_taken"),
                "{}: {again}",
                db.label
            );
        }

        // A Calendly booking by CA@X.EXAMPLE is the same client, not a second one.
        let (expert, token) = api.expert_with_hours().await;
        let consult = calendly.add_event_type("Consult", 30);
        let pat = calendly.personal_access_token(&[]);
        let connected = api
            .put(
                &format!("/api/v1/experts/{expert}/integrations/calendly"),
                &token,
                json!({"personal_access_token": pat, "event_type_uri": consult}),
            )
            .await;
        assert_eq!(connected.status, 200, "{:?}", connected.body);
        let set = api
            .put(
                &format!("/api/v1/experts/{expert}/integration"),
                &token,
                json!({"integration_type": "calendly"}),
            )
            .await;
        assert_eq!(set.status, 200, "{:?}", set.body);
        let day = next_monday();
        calendly
            .seed_available_times(&consult, &[&format!("{day}T10:00:00Z")])
            .unwrap();
        let invitee = calendly
            .book_as_invitee(&consult, &format!("{day}T10:00:00Z"), "Ca", "CA@X.EXAMPLE", "UTC")
            .unwrap();
        let delivered = calendly
            .deliver_webhook(
                &format!("{}/webhooks/calendly", api.base),
                SIGNING_KEY,
                "invitee.created",
                &invitee,
                Signature::Valid,
            )
            .await
            .unwrap();
        assert_eq!(delivered.status, 200, "{}", delivered.response_body);
        let list = api
            .get(
                &format!("/api/v1/experts/{expert}/appointments?from={day}T00:00:00Z&to={day}T23:59:00Z"),
                ADMIN_TOKEN,
            )
            .await;
        let booked = list.body["appointments"].as_array().unwrap();
        assert_eq!(booked.len(), 1, "{:?}", list.body);
        assert_eq!(booked[0]["client_id"], ca.as_str(), "{}: the existing client", db.label);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_routes_of_integrations_not_connected_are_409() {
    for db in databases("calendar_routes_of_integrations_not_connected_are_409") {
        let google = FakeGoogle::start().await;
        let graph = FakeGraph::start().await;
        let calendly = FakeCalendly::start().await;
        let mut env = google_env(&google);
        env.extend(graph_env(&graph));
        env.extend(calendly_env(&calendly));
        let server = TestServer::start_with_env(&db, &env_refs(&env)).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let choice = json!({"busy_calendar_ids": ["primary"], "event_calendar_id": "primary"});
        let check = |connected_once: &'static str| {
            let api = api.clone();
            let (expert, token, choice) = (expert.clone(), token.clone(), choice.clone());
            async move {
                let base = format!("/api/v1/experts/{expert}/integrations");
                for (method, path, body) in [
                    (Method::GET, format!("{base}/google_calendar/calendars"), None),
                    (
                        Method::PUT,
                        format!("{base}/google_calendar/calendars"),
                        Some(choice.clone()),
                    ),
                    (Method::GET, format!("{base}/office365_calendar/calendars"), None),
                    (Method::GET, format!("{base}/office365_calendar/working_hours"), None),
                    (Method::GET, format!("{base}/calendly/event_types"), None),
                ] {
                    let a = api.call(method.clone(), &path, Some(&token), body.as_ref()).await;
                    assert_eq!(
                        (a.status.as_u16(), a.code()),
                        (409, "integration_not_connected"),
                        "{connected_once}: {method} {path}: {:?}",
                        a.body
                    );
                }
            }
        };
        check("never connected").await;
        // Connected, then disconnected.
        support::connect_oauth(api, &expert, &token, "google_calendar").await;
        support::connect_oauth(api, &expert, &token, "office365_calendar").await;
        for integration in ["google_calendar", "office365_calendar"] {
            let gone = api
                .call(
                    Method::DELETE,
                    &format!("/api/v1/experts/{expert}/integrations/{integration}"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(gone.status, 204);
        }
        check("disconnected").await;
        // Choosing an integration that is not connected stays 422, as docs/api.md says.
        let a = api
            .put(
                &format!("/api/v1/experts/{expert}/integration"),
                &token,
                json!({"integration_type": "google_calendar"}),
            )
            .await;
        assert_eq!((a.status.as_u16(), a.code()), (422, "integration_not_connected"));
        server.stop().await;
    }
}

//! The end-to-end harness: a real server on a free port over a database of its own (a fresh SQLite
//! file, or a fresh schema of the PostgreSQL database TEST_DATABASE_URL names), spoken to over
//! real HTTP.

// Spawned servers are killed and reaped in ProcessServer's Drop or stop().
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

pub mod python;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use availability_server::Config;
use availability_store::testing;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef";
/// The credentials key of the test servers.
pub const ENCRYPTION_KEY: &str = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";

/// One database for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub label: &'static str,
    pub url: String,
}

/// A fresh SQLite database always, and a fresh PostgreSQL schema when TEST_DATABASE_URL is set
/// (CI sets it; elsewhere the test says plainly that PostgreSQL was skipped).
pub fn databases(test: &str) -> Vec<TestDb> {
    let mut list = vec![TestDb {
        label: "sqlite",
        url: testing::fresh_sqlite_url(),
    }];
    match testing::test_database_url() {
        Some(base) => list.push(TestDb {
            label: "postgres",
            url: testing::fresh_postgres_schema(&base).unwrap(),
        }),
        None => testing::skip_postgres(test),
    }
    list
}

/// Only the PostgreSQL database, if there is one.
pub fn postgres(test: &str) -> Option<TestDb> {
    match testing::test_database_url() {
        Some(base) => Some(TestDb {
            label: "postgres",
            url: testing::fresh_postgres_schema(&base).unwrap(),
        }),
        None => {
            testing::skip_postgres(test);
            None
        }
    }
}

fn config(db: &TestDb) -> Config {
    config_with(db, &[])
}

fn config_with(db: &TestDb, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", db.url.as_str()),
        ("BIND", "127.0.0.1:0"),
        ("ADMIN_TOKEN", ADMIN_TOKEN),
        ("WORKERS", "2"),
        ("ENCRYPTION_KEY", ENCRYPTION_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).unwrap()
}

/// A server running inside the test process.
pub struct TestServer {
    pub api: Api,
    pub db: TestDb,
    handle: ServerHandle,
}

impl TestServer {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, Vec::new()).await
    }

    /// A server with more settings, on a port chosen beforehand so that PUBLIC_BASE_URL (OAuth
    /// redirect URIs) can name it.
    pub async fn start_with_env(db: &TestDb, env: &[(&str, &str)]) -> Self {
        Self::start_configured(db, env, |_| {}).await
    }

    /// Like [`TestServer::start_with_env`], with extra providers registered too.
    pub async fn start_with_env_and(
        db: &TestDb,
        env: &[(&str, &str)],
        extra: Vec<std::sync::Arc<dyn availability_core::Provider>>,
    ) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let bind = format!("127.0.0.1:{port}");
        let mut all = vec![("BIND", bind.as_str()), ("PUBLIC_BASE_URL", base.as_str())];
        all.extend_from_slice(env);
        let server = availability_server::bind_with(config_with(db, &all), &[], extra)
            .await
            .unwrap();
        let handle = server.handle();
        tokio::spawn(server.run());
        Self {
            api: Api::new(base),
            db: db.clone(),
            handle,
        }
    }

    /// Like [`TestServer::start_with_env`], with settings the environment does not hold (e.g. a
    /// shorter authentication-throttle window).
    pub async fn start_configured(db: &TestDb, env: &[(&str, &str)], adjust: impl FnOnce(&mut Config)) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let bind = format!("127.0.0.1:{port}");
        let mut all = vec![("BIND", bind.as_str()), ("PUBLIC_BASE_URL", base.as_str())];
        all.extend_from_slice(env);
        let mut config = config_with(db, &all);
        adjust(&mut config);
        let server = availability_server::bind_with(config, &[], Vec::new()).await.unwrap();
        let handle = server.handle();
        tokio::spawn(server.run());
        Self {
            api: Api::new(base),
            db: db.clone(),
            handle,
        }
    }

    /// A server with extra providers registered (e.g. a test calendar, see [`provider_of`]).
    pub async fn start_with(db: &TestDb, extra: Vec<std::sync::Arc<dyn availability_core::Provider>>) -> Self {
        let server = availability_server::bind_with(config(db), &[], extra).await.unwrap();
        let base = format!("http://{}", server.addr);
        let handle = server.handle();
        tokio::spawn(server.run());
        Self {
            api: Api::new(base),
            db: db.clone(),
            handle,
        }
    }

    /// A server with more provider crates registered, as the server's own registration line
    /// does (`provider_x::register`).
    pub async fn start_with_providers(db: &TestDb, factories: &[availability_core::ProviderFactory]) -> Self {
        let server = availability_server::bind_with(config(db), factories, Vec::new())
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        let handle = server.handle();
        tokio::spawn(server.run());
        Self {
            api: Api::new(base),
            db: db.clone(),
            handle,
        }
    }

    /// Stops gracefully (in-flight requests finish).
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// A provider of a test's own strategy (its busy time and events in the test's memory):
/// connected by storing a credential for it directly, nothing to connect in the API.
pub fn provider_of(
    strategy: std::sync::Arc<dyn availability_core::AvailabilityStrategy>,
) -> std::sync::Arc<dyn availability_core::Provider> {
    use availability_core::provider::{ConnectMethod, Features, ProviderDescriptor};

    #[derive(Debug)]
    struct OfStrategy(
        ProviderDescriptor,
        std::sync::Arc<dyn availability_core::AvailabilityStrategy>,
    );

    impl availability_core::Provider for OfStrategy {
        fn descriptor(&self) -> &ProviderDescriptor {
            &self.0
        }
        fn strategy(&self) -> Option<std::sync::Arc<dyn availability_core::AvailabilityStrategy>> {
            Some(self.1.clone())
        }
    }

    let descriptor = ProviderDescriptor {
        integration_type: strategy.integration_type(),
        display_name: strategy.display_name(),
        description: "A calendar of the test's own.",
        calendar_type: strategy.calendar_type(),
        connect: ConnectMethod::Credentials,
        credential_fields: Vec::new(),
        features: Features::default(),
        push: false,
    };
    std::sync::Arc::new(OfStrategy(descriptor, strategy))
}

/// The server binary. Tests of the server package get the one cargo built for them
/// (CARGO_BIN_EXE_*); elsewhere it is built once per test process, so a test never runs a stale
/// binary.
pub fn server_binary() -> PathBuf {
    if let Some(bin) = option_env!("CARGO_BIN_EXE_availability-server") {
        return PathBuf::from(bin);
    }
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut build = Command::new(env!("CARGO"));
            build.args([
                "build",
                "--quiet",
                "-p",
                "availability-server",
                "--bin",
                "availability-server",
            ]);
            if !cfg!(debug_assertions) {
                build.arg("--release");
            }
            let status = build.status().expect("cargo runs");
            assert!(status.success(), "building availability-server failed");
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().and_then(|d| d.parent()).unwrap();
            dir.join(format!("availability-server{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

/// A server in a process of its own.
pub struct ProcessServer {
    pub api: Api,
    child: Child,
}

impl ProcessServer {
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with_env(db, &[]).await
    }

    /// A server process with more settings in its environment.
    pub async fn spawn_with_env(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child = Command::new(server_binary())
            .envs(env.iter().copied())
            .env("DATABASE_URL", &db.url)
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("ENCRYPTION_KEY", ENCRYPTION_KEY)
            .env("WORKERS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let api = Api::new(format!("http://127.0.0.1:{port}"));
        for _ in 0..200 {
            if api
                .client
                .get(format!("{}/readyz", api.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Self { api, child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server process did not become ready");
    }

    /// Asks the process to stop (SIGTERM via `kill`) and waits for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ProcessServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A small JSON client for the API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

/// An answer: status and JSON body (Null when the body is empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

/// Every answer of the API and of /session may not be kept by a cache (it holds personal data, or
/// the CSRF token) and may not be sniffed into another type: checked on every call these helpers
/// make, so every test that walks the API walks this rule too.
#[track_caller]
pub fn assert_api_answer_headers(path: &str, status: StatusCode, headers: &reqwest::header::HeaderMap) {
    let path = path.split('?').next().unwrap_or(path);
    if !(path.starts_with("/api/") || path == "/session") {
        return;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(header("cache-control"), "no-store", "{status} {path}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{status} {path}");
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Api {
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap(),
        }
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        assert_api_answer_headers(path, status, res.headers());
        let text = res.text().await.unwrap();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: &str) -> Answer {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        assert_api_answer_headers(path, status, res.headers());
        let text = res.text().await.unwrap();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(&body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(token), Some(&body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(&body)).await
    }

    /// An expert with weekly hours (Mon-Fri 09:00-17:00, Europe/Berlin) and a token of theirs.
    pub async fn expert_with_hours(&self) -> (String, String) {
        let e = self
            .post(
                "/api/v1/experts",
                ADMIN_TOKEN,
                json!({"name": "Dr. E", "email": "e@example.com", "timezone": "Europe/Berlin"}),
            )
            .await;
        assert_eq!(e.status, 201, "{:?}", e.body);
        let id = e.body["id"].as_str().unwrap().to_owned();
        let rules: Vec<Value> = (1..=5)
            .map(|d| json!({"day_of_week": d, "start_time": "09:00", "end_time": "17:00", "is_available": true}))
            .collect();
        let token = self.token("expert", &id).await;
        let put = self
            .put(
                &format!("/api/v1/experts/{id}/availability"),
                &token,
                json!({"rules": rules, "overrides": []}),
            )
            .await;
        assert_eq!(put.status, 200, "{:?}", put.body);
        (id, token)
    }

    /// A client and a token of theirs (client emails are unique: each one gets its own).
    pub async fn client_with_token(&self) -> (String, String) {
        self.client_with_email(&format!("ann-{}@example.com", uuid::Uuid::new_v4().simple()))
            .await
    }

    /// A client with this email address and a token of theirs.
    pub async fn client_with_email(&self, email: &str) -> (String, String) {
        let c = self
            .post("/api/v1/clients", ADMIN_TOKEN, json!({"name": "Ann", "email": email}))
            .await;
        assert_eq!(c.status, 201, "{:?}", c.body);
        let id = c.body["id"].as_str().unwrap().to_owned();
        let token = self.token("client", &id).await;
        (id, token)
    }

    pub async fn token(&self, role: &str, subject: &str) -> String {
        let t = self
            .post(
                "/api/v1/tokens",
                ADMIN_TOKEN,
                json!({"role": role, "subject_id": subject}),
            )
            .await;
        assert_eq!(t.status, 201, "{:?}", t.body);
        t.body["token"].as_str().unwrap().to_owned()
    }

    /// The client books [start, end) with the expert: the appointment (201 asserted).
    pub async fn book(&self, token: &str, expert: &str, client: &str, start: &str, end: &str) -> Value {
        let booked = self
            .post(
                "/api/v1/appointments",
                token,
                json!({"expert_id": expert, "client_id": client, "start_time": start, "end_time": end}),
            )
            .await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        booked.body
    }

    /// Slots of an expert in [from, to).
    pub async fn slots(&self, expert: &str, token: &str, from: &str, to: &str) -> Vec<(String, String)> {
        self.slots_for(expert, token, from, to, None).await
    }

    /// Slots of an expert in [from, to), of another length than the policy's if given.
    pub async fn slots_for(
        &self,
        expert: &str,
        token: &str,
        from: &str,
        to: &str,
        duration_minutes: Option<i64>,
    ) -> Vec<(String, String)> {
        let length = duration_minutes.map_or(String::new(), |m| format!("&duration_minutes={m}"));
        let a = self
            .get(
                &format!("/api/v1/experts/{expert}/slots?from={from}&to={to}{length}"),
                token,
            )
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        a.body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["start"].as_str().unwrap().to_owned(),
                    s["end"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// A Monday about two weeks ahead (inside the default 60-day horizon), as "YYYY-MM-DD".
pub fn next_monday() -> String {
    use availability_core::domain::jiff::{civil::Weekday, SignedDuration, Timestamp};
    let mut day = (Timestamp::now() + SignedDuration::from_hours(24 * 14)).to_zoned_utc_date();
    while day.weekday() != Weekday::Monday {
        day = day.tomorrow().unwrap();
    }
    day.to_string()
}

trait UtcDate {
    fn to_zoned_utc_date(self) -> availability_core::domain::jiff::civil::Date;
}

impl UtcDate for availability_core::domain::jiff::Timestamp {
    fn to_zoned_utc_date(self) -> availability_core::domain::jiff::civil::Date {
        availability_core::domain::jiff::tz::TimeZone::UTC
            .to_datetime(self)
            .date()
    }
}

/// Fifty concurrent bookings of one slot spread over the given servers: (201s, 409s).
pub async fn race(
    apis: &[Api],
    expert: &str,
    client: &str,
    client_token: &str,
    start: &str,
    end: &str,
) -> (usize, usize) {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let api = apis[i % apis.len()].clone();
            let body = json!({"expert_id": expert, "client_id": client, "start_time": start, "end_time": end});
            let token = client_token.to_owned();
            tokio::spawn(async move { api.post("/api/v1/appointments", &token, body).await })
        })
        .collect();
    let (mut created, mut taken) = (0, 0);
    for t in tasks {
        let a = t.await.unwrap();
        match a.status.as_u16() {
            201 => created += 1,
            409 => {
                assert_eq!(a.code(), "slot_taken");
                taken += 1
            }
            other => panic!("unexpected {other}: {:?}", a.body),
        }
    }
    (created, taken)
}

/// The settings that point a server at a Google fake.
pub fn google_env(google: &provider_fakes::FakeGoogle) -> Vec<(&'static str, String)> {
    vec![
        ("GOOGLE_CLIENT_ID", google.client_id()),
        ("GOOGLE_CLIENT_SECRET", google.client_secret()),
        ("GOOGLE_AUTH_URL", google.auth_url()),
        ("GOOGLE_TOKEN_URL", google.token_url()),
        ("GOOGLE_REVOKE_URL", google.revoke_url()),
        ("GOOGLE_API_BASE", google.api_base()),
    ]
}

/// Settings as `TestServer::start_with_env` takes them.
pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The expert connects Google (the fake consents) and makes it their integration.
pub async fn connect_google(api: &Api, expert: &str, token: &str) {
    connect_oauth(api, expert, token, "google_calendar").await;
}

/// The settings that point a server at a Microsoft Graph fake.
pub fn graph_env(graph: &provider_fakes::FakeGraph) -> Vec<(&'static str, String)> {
    vec![
        ("MS_CLIENT_ID", graph.client_id()),
        ("MS_CLIENT_SECRET", graph.client_secret()),
        ("MS_AUTH_URL", graph.auth_url()),
        ("MS_TOKEN_URL", graph.token_url()),
        ("MS_GRAPH_BASE", graph.graph_base()),
    ]
}

/// A connect begun through the API: the answer's URLs and the binding cookie it set (what a
/// browser would keep and send back to /oauth).
pub struct OAuthBegun {
    pub authorization_url: String,
    pub start_url: String,
    /// `name=value` of the binding cookie.
    pub cookie: String,
}

/// A client that follows no redirects (to see each hop of the OAuth flow).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the Set-Cookie of an answer that sets `name`.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or("").trim().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")))
}

/// POST .../connect with `token`, as a page or a platform's backend calls it.
pub async fn begin_oauth(api: &Api, expert: &str, token: &str, integration: &str) -> OAuthBegun {
    let res = api
        .client
        .post(format!(
            "{}/api/v1/experts/{expert}/integrations/{integration}/connect",
            api.base
        ))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, &format!("availability_oauth_{integration}")).expect("the binding cookie");
    let body: Value = res.json().await.unwrap();
    OAuthBegun {
        authorization_url: body["authorization_url"].as_str().unwrap().to_owned(),
        start_url: body["start_url"].as_str().unwrap().to_owned(),
        cookie,
    }
}

/// The provider's consent (a fake consents at once): the callback URL it sends the browser to.
pub async fn consent(authorization_url: &str) -> String {
    let res = no_redirects().get(authorization_url).send().await.unwrap();
    assert_eq!(res.status(), 302, "the fake consents with a redirect");
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The browser arriving at our callback, with the binding cookie if it has one.
pub async fn open_callback(callback: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = no_redirects().get(callback);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}

/// The expert connects a calendar through its OAuth flow (the fake consents at once) and makes it
/// their integration. Returns the authorization URL the server gave.
pub async fn connect_oauth(api: &Api, expert: &str, token: &str, integration: &str) -> String {
    let begun = begin_oauth(api, expert, token, integration).await;
    let url = begun.authorization_url.clone();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let callback = consent(&url).await;
    let done = open_callback(&callback, Some(&begun.cookie)).await;
    assert_eq!(done.status(), 303);
    let set = api
        .put(
            &format!("/api/v1/experts/{expert}/integration"),
            token,
            json!({"integration_type": integration}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    url
}

/// The integration type of [`password_calendar`].
pub const PASSWORD_CALENDAR: &str = "test_dav";
/// The user name and password [`password_calendar`] accepts (it refuses any other).
pub const PASSWORD_CALENDAR_LOGIN: (&str, &str) = ("ada", "right");

/// A provider registered by a test that the pages have never heard of, connected the way a
/// CalDAV provider is: a server address (with presets), a user name and a password, checked by
/// the provider before the server stores anything (`CoreError::InvalidCredentials` for any login
/// but [`PASSWORD_CALENDAR_LOGIN`]). It offers two calendars, "Home" (writable) and "Holidays"
/// (read-only), and keeps the expert's choice in memory; its busy time is empty.
pub fn password_calendar() -> std::sync::Arc<dyn availability_core::Provider> {
    use std::sync::{Arc, Mutex};

    use availability_core::domain::{Expert, ExpertId, IntegrationType, Interval, Secret};
    use availability_core::provider::{
        CalendarEntry, ConnectMethod, Connection, CredentialField, Features, Preset, ProviderDescriptor,
    };
    use availability_core::{AvailabilityStrategy, BusyTimeSource, CoreError, Provider};

    const TYPE: IntegrationType = IntegrationType::from_static(PASSWORD_CALENDAR);
    const NAME: &str = "Test CalDAV";

    #[derive(Debug)]
    struct Strategy;

    impl AvailabilityStrategy for Strategy {
        fn integration_type(&self) -> IntegrationType {
            TYPE
        }
        fn display_name(&self) -> &'static str {
            NAME
        }
        fn busy_time(&self) -> Option<&dyn BusyTimeSource> {
            Some(self)
        }
    }

    #[async_trait::async_trait]
    impl BusyTimeSource for Strategy {
        async fn busy_intervals(&self, _: &Expert, _: Interval) -> Result<Vec<Interval>, CoreError> {
            Ok(Vec::new())
        }
    }

    /// Per expert: the calendars that block time, and the one that receives appointments.
    type Choices = HashMap<String, (Vec<String>, String)>;

    #[derive(Debug)]
    struct PasswordCalendar {
        descriptor: ProviderDescriptor,
        strategy: Arc<Strategy>,
        choices: Mutex<Choices>,
    }

    /// (id, name, read-only)
    const CALENDARS: [(&str, &str, bool); 2] = [("home", "Home", false), ("holidays", "Holidays", true)];

    #[async_trait::async_trait]
    impl Provider for PasswordCalendar {
        fn descriptor(&self) -> &ProviderDescriptor {
            &self.descriptor
        }

        fn strategy(&self) -> Option<Arc<dyn AvailabilityStrategy>> {
            Some(self.strategy.clone())
        }

        async fn connect(
            &self,
            expert: ExpertId,
            fields: &serde_json::Map<String, Value>,
        ) -> Result<Connection, CoreError> {
            let text = |name: &str| {
                fields
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            let server = text("server_url");
            let Some(host) = server
                .strip_prefix("https://")
                .and_then(|rest| rest.split('/').next())
                .filter(|h| !h.is_empty() && *h != "HOST")
            else {
                return Err(CoreError::InvalidSettings(
                    "server_url must be the https:// address of your calendar server".into(),
                ));
            };
            if (text("username").as_str(), text("password").as_str()) != PASSWORD_CALENDAR_LOGIN {
                return Err(CoreError::InvalidCredentials(
                    "the calendar server refused this user name and password".into(),
                ));
            }
            let account = format!("{}@{host}", PASSWORD_CALENDAR_LOGIN.0);
            self.choices
                .lock()
                .unwrap()
                .insert(expert.to_string(), (vec!["home".into()], "home".into()));
            Ok(Connection {
                credential: Secret::new(
                    json!({"server_url": server, "username": text("username"), "password": text("password")})
                        .to_string(),
                ),
                account: Some(account),
                settings: json!({}),
            })
        }

        async fn calendars(&self, expert: ExpertId) -> Result<Vec<CalendarEntry>, CoreError> {
            let choices = self.choices.lock().unwrap();
            let (busy, event) = choices
                .get(&expert.to_string())
                .cloned()
                .unwrap_or_else(|| (vec!["home".into()], "home".into()));
            Ok(CALENDARS
                .iter()
                .map(|(id, name, read_only)| CalendarEntry {
                    id: (*id).into(),
                    summary: (*name).into(),
                    primary: *id == "home",
                    blocks_time: busy.iter().any(|b| b == id),
                    receives_events: event == *id,
                    read_only: *read_only,
                    access_role: None,
                    time_zone: None,
                })
                .collect())
        }

        async fn choose_calendars(
            &self,
            expert: ExpertId,
            busy_calendar_ids: Vec<String>,
            event_calendar_id: String,
        ) -> Result<(), CoreError> {
            let known = |id: &str| CALENDARS.iter().find(|c| c.0 == id);
            if busy_calendar_ids.is_empty() || busy_calendar_ids.iter().any(|id| known(id).is_none()) {
                return Err(CoreError::InvalidCalendarChoice(
                    "choose at least one of the account's calendars to block time".into(),
                ));
            }
            let writable = known(&event_calendar_id).is_some_and(|c| !c.2);
            if !writable {
                return Err(CoreError::InvalidCalendarChoice(
                    "appointments go to a calendar of the account that can be written to".into(),
                ));
            }
            self.choices
                .lock()
                .unwrap()
                .insert(expert.to_string(), (busy_calendar_ids, event_calendar_id));
            Ok(())
        }

        async fn disconnect(&self, expert: ExpertId, _: availability_core::Credential) -> Result<(), CoreError> {
            self.choices.lock().unwrap().remove(&expert.to_string());
            Ok(())
        }
    }

    let descriptor = ProviderDescriptor {
        integration_type: TYPE,
        display_name: NAME,
        description:
            "Your hours minus the busy times in the calendars of a CalDAV account (iCloud, Yahoo, Fastmail, Nextcloud).",
        calendar_type: None,
        connect: ConnectMethod::Credentials,
        credential_fields: vec![
            CredentialField {
                name: "server_url",
                label: "Server address",
                secret: false,
                placeholder: Some("https://caldav.example.com"),
                presets: vec![
                    Preset {
                        label: "iCloud",
                        value: "https://caldav.icloud.com",
                    },
                    Preset {
                        label: "Yahoo",
                        value: "https://caldav.calendar.yahoo.com",
                    },
                    Preset {
                        label: "Fastmail",
                        value: "https://caldav.fastmail.com",
                    },
                    Preset {
                        label: "Your own server (Nextcloud)",
                        value: "https://HOST/remote.php/dav",
                    },
                ],
                help: None,
            },
            CredentialField {
                name: "username",
                label: "User name",
                secret: false,
                placeholder: Some("you@icloud.com"),
                presets: Vec::new(),
                help: None,
            },
            CredentialField {
                name: "password",
                label: "Password",
                secret: true,
                placeholder: None,
                presets: Vec::new(),
                help: Some(
                    "iCloud, Yahoo and Fastmail need an app-specific password, not your usual one: \
                     https://support.apple.com/en-us/102654",
                ),
            },
        ],
        features: Features {
            calendars: true,
            ..Features::default()
        },
        push: false,
    };
    Arc::new(PasswordCalendar {
        descriptor,
        strategy: Arc::new(Strategy),
        choices: Mutex::new(HashMap::new()),
    })
}

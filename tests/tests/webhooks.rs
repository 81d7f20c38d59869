//! Outgoing webhooks end to end: the real server, over real HTTP, delivering to a receiver on a
//! loopback port that the test runs (and takes down, and brings back). Every signature is checked
//! by an independent implementation of the Standard Webhooks scheme: the `standardwebhooks`
//! package from PyPI, in the tests' Python reference virtualenv (`support::python`: a machine
//! without Python or PyPI prints `SKIPPED` for that check, unless `REQUIRE_PYTHON_PEERS=1`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use reqwest::Method;
use serde_json::{json, Value};
use support::python::{python_or_skip, run_script};
use support::{databases, free_port, next_monday, Api, ProcessServer, TestDb, TestServer, ADMIN_TOKEN};

/// Retries every 1 s, 2 s, 4 s ... instead of 5 s, 10 s, 20 s: the same policy, faster.
const FAST_RETRIES: (&str, &str) = ("WEBHOOK_RETRY_BASE_SECONDS", "1");

/// What the receiver answers.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// 200 with a body longer than the 1 KB the server keeps.
    Ok,
    /// 410 Gone.
    Gone,
    /// 307 to this URL.
    Redirect(String),
}

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

struct ReceiverState {
    mode: Mode,
    received: Vec<Received>,
}

/// A webhook receiver on a loopback port of its own, which can be stopped and started again on
/// the same port (a receiver that is down for a while).
struct Receiver {
    port: u16,
    state: Arc<Mutex<ReceiverState>>,
    handle: Mutex<Option<ServerHandle>>,
}

/// The answer body of [`Mode::Ok`]: over 1 KB, ending in multi-byte characters.
fn long_answer() -> String {
    format!("{}{}", "x".repeat(1000), "🎉".repeat(100))
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<Mutex<ReceiverState>>>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut state = state.lock().unwrap();
    state.received.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    match &state.mode {
        Mode::Ok => HttpResponse::Ok().body(long_answer()),
        Mode::Gone => HttpResponse::Gone().body("no such hook"),
        Mode::Redirect(to) => HttpResponse::TemporaryRedirect()
            .insert_header(("location", to.as_str()))
            .finish(),
    }
}

impl Receiver {
    /// A receiver on a free port, not started yet.
    fn new(mode: Mode) -> Self {
        Self {
            port: free_port(),
            state: Arc::new(Mutex::new(ReceiverState {
                mode,
                received: Vec::new(),
            })),
            handle: Mutex::new(None),
        }
    }

    async fn started(mode: Mode) -> Self {
        let receiver = Self::new(mode);
        receiver.start();
        receiver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn start(&self) {
        let state = self.state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", self.port))
        .unwrap()
        .run();
        *self.handle.lock().unwrap() = Some(server.handle());
        tokio::spawn(server);
    }

    async fn stop(&self) {
        let handle = self.handle.lock().unwrap().take();
        if let Some(handle) = handle {
            handle.stop(false).await;
        }
    }

    fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The received deliveries, each webhook-id once, in the order each first arrived.
    fn distinct(&self) -> Vec<Received> {
        let mut seen = HashSet::new();
        self.received()
            .into_iter()
            .filter(|r| seen.insert(r.id.clone()))
            .collect()
    }
}

/// Polls until `done` holds for the received deliveries: up to 90 s, longer than a lease (60 s),
/// since a server killed in the middle of an attempt leaves its lease to run out.
async fn wait_for_receiver(receiver: &Receiver, what: &str, done: impl Fn(&[Received]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if done(&receiver.received()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the receiver never saw {what}: {:?}", receiver.received());
}

async fn deliveries(api: &Api, endpoint: &str) -> Vec<Value> {
    let log = api
        .get(&format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"), ADMIN_TOKEN)
        .await;
    assert_eq!(log.status, 200, "{:?}", log.body);
    log.body["deliveries"].as_array().unwrap().clone()
}

/// Polls the delivery log until `done` holds for it.
async fn wait_for_log(api: &Api, endpoint: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = deliveries(api, endpoint).await;
        if done(&log) {
            return log;
        }
        if Instant::now() > deadline {
            panic!("the delivery log never showed {what}: {log:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers an endpoint for `events`; returns (id, secret).
async fn register(api: &Api, url: &str, events: &[&str]) -> (String, String) {
    let made = api
        .post(
            "/api/v1/webhook-endpoints",
            ADMIN_TOKEN,
            json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (made.body["id"].as_str().unwrap().to_owned(), secret)
}

const APPOINTMENT_EVENTS: [&str; 5] = [
    "appointment.created",
    "appointment.rescheduled",
    "appointment.cancelled",
    "appointment.confirmed",
    "appointment.sync_failed",
];

/// An expert with hours and a client: (expert, client, client token).
async fn people(api: &Api) -> (String, String, String) {
    let (expert, _) = api.expert_with_hours().await;
    let (client, token) = api.client_with_token().await;
    (expert, client, token)
}

async fn book(api: &Api, people: &(String, String, String), time: &str) -> Value {
    let day = next_monday();
    let (hour, minute) = time.split_once(':').unwrap();
    let end = format!("{hour}:{:02}", minute.parse::<u32>().unwrap() + 30);
    let body = json!({"expert_id": people.0, "client_id": people.1,
        "start_time": format!("{day}T{time}:00Z"), "end_time": format!("{day}T{end}:00Z")});
    let booked = api.post("/api/v1/appointments", &people.2, body).await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    booked.body
}

// ---------------------------------------------------------------------------------------------
// The independent check: standardwebhooks from PyPI.

/// Checks each received delivery with standardwebhooks' `Webhook(secret).verify(body, headers)`,
/// and that a tampered body, or another secret, is refused. Returns how many were verified
/// (None when skipped).
fn verify_with_standardwebhooks(secret: &str, received: &[Received]) -> Option<usize> {
    const SCRIPT: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
cases = json.load(sys.stdin)
ok = 0
for c in cases:
    headers = {"webhook-id": c["id"], "webhook-timestamp": c["timestamp"], "webhook-signature": c["signature"]}
    body = Webhook(c["secret"]).verify(c["body"], headers)
    assert body == json.loads(c["body"]), "the verified body differs"
    for wrong_secret, wrong_body in ((c["secret"], c["body"] + " "), (c["other_secret"], c["body"])):
        try:
            Webhook(wrong_secret).verify(wrong_body, headers)
        except WebhookVerificationError:
            pass
        else:
            raise SystemExit("a tampered delivery was accepted")
    ok += 1
print(ok)
"#;
    let python = python_or_skip("the standardwebhooks check of webhook signatures")?;
    let cases: Vec<Value> = received
        .iter()
        .map(|r| {
            json!({"secret": secret, "other_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "id": r.id, "timestamp": r.timestamp, "signature": r.signature, "body": r.body})
        })
        .collect();
    let verified = run_script(&python, SCRIPT, &Value::Array(cases).to_string());
    Some(usize::try_from(verified.as_u64().expect("the script prints how many it verified")).unwrap())
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_every_event_once_in_order_and_signed() {
    for db in databases("a_receiver_that_was_down_gets_every_event_once_in_order_and_signed") {
        let server = TestServer::start_with_env(&db, &[FAST_RETRIES]).await;
        let api = &server.api;
        let receiver = Receiver::started(Mode::Ok).await;
        let (endpoint, secret) = register(api, &receiver.url(), &APPOINTMENT_EVENTS).await;
        // The secret is shown once: never in a read or a list.
        let read = api
            .get(&format!("/api/v1/webhook-endpoints/{endpoint}"), ADMIN_TOKEN)
            .await;
        assert_eq!(read.status, 200);
        assert!(read.body.get("secret").is_none() && !read.body.to_string().contains(&secret));
        let list = api.get("/api/v1/webhook-endpoints", ADMIN_TOKEN).await;
        assert_eq!(list.body["webhook_endpoints"][0]["id"], endpoint, "{}", db.label);
        assert!(!list.body.to_string().contains(&secret));

        let people = people(api).await;
        let first = book(api, &people, "09:00").await;
        let first_id = first["id"].as_str().unwrap().to_owned();
        wait_for_receiver(&receiver, "the first booking", |r| r.len() == 1).await;
        let created = receiver.received()[0].json();
        assert_eq!(created["type"], "appointment.created");
        assert_eq!(
            created["data"]["appointment"], first,
            "the appointment as the API shows it"
        );

        // The receiver goes down; four more changes happen meanwhile.
        receiver.stop().await;
        let day = next_monday();
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{first_id}"),
                &people.2,
                json!({"start_time": format!("{day}T10:00:00Z"), "end_time": format!("{day}T10:30:00Z")}),
            )
            .await;
        assert_eq!(moved.status, 200, "{:?}", moved.body);
        let cancelled = api
            .post(
                &format!("/api/v1/appointments/{first_id}/cancel"),
                &people.2,
                json!({"reason": "ill"}),
            )
            .await;
        assert_eq!(cancelled.status, 200);
        let second = book(api, &people, "11:00").await;
        let second_id = second["id"].as_str().unwrap().to_owned();
        let again = api
            .post(
                &format!("/api/v1/appointments/{second_id}/cancel"),
                &people.2,
                json!({}),
            )
            .await;
        assert_eq!(again.status, 200);

        // The log shows the failures and the backoff while it is down.
        let log = wait_for_log(api, &endpoint, "a retried delivery", |log| {
            log.iter().any(|d| d["attempts"].as_i64() >= Some(2))
        })
        .await;
        let waiting = log.iter().find(|d| d["attempts"].as_i64() >= Some(2)).unwrap();
        assert_eq!(waiting["status"], "pending");
        assert_eq!(waiting["last_error"], "the receiver could not be reached", "{waiting}");
        assert!(waiting["next_attempt_at"].is_string() && waiting["delivered_at"].is_null());
        assert!(waiting["webhook_id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(log.len(), 5, "{}: one delivery per event", db.label);
        // A later event of an appointment waits untried while an earlier one is undelivered.
        let first_cancel = log
            .iter()
            .find(|d| d["event_type"] == "appointment.cancelled" && d["appointment_id"] == first_id.as_str())
            .unwrap();
        assert_eq!(first_cancel["attempts"], 0, "{first_cancel}");

        receiver.start();
        wait_for_log(api, &endpoint, "every delivery delivered", |log| {
            log.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        let distinct = receiver.distinct();
        assert_eq!(distinct.len(), 5, "{}: every event once by webhook-id", db.label);
        let of = |appointment: &str| -> Vec<String> {
            distinct
                .iter()
                .map(Received::json)
                .filter(|b| b["data"]["appointment"]["id"] == appointment)
                .map(|b| b["type"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            of(&first_id),
            [
                "appointment.created",
                "appointment.rescheduled",
                "appointment.cancelled"
            ],
            "{}: in order per appointment",
            db.label
        );
        assert_eq!(of(&second_id), ["appointment.created", "appointment.cancelled"]);
        let last = distinct
            .iter()
            .map(Received::json)
            .find(|b| b["type"] == "appointment.cancelled" && b["data"]["appointment"]["id"] == first_id.as_str())
            .unwrap();
        assert_eq!(last["data"]["appointment"]["status"], "cancelled");
        assert_eq!(last["data"]["appointment"]["cancellation_reason"], "ill");
        assert_eq!(last["data"]["appointment"]["cancelled_by"], "client");
        assert!(last["timestamp"].as_str().unwrap().ends_with('Z'));

        // The log: delivered, the status code, and at most 1 KB of the answer.
        let log = deliveries(api, &endpoint).await;
        for d in &log {
            assert_eq!(d["last_status_code"], 200, "{d}");
            assert!(d["delivered_at"].is_string() && d["next_attempt_at"].is_null());
            let kept = d["last_response_body"].as_str().unwrap();
            assert!(kept.len() <= 1024 && long_answer().starts_with(kept), "{}", kept.len());
        }
        assert!(log.iter().any(|d| d["attempts"].as_i64() >= Some(2)));

        if let Some(n) = verify_with_standardwebhooks(&secret, &receiver.received()) {
            assert_eq!(n, receiver.received().len());
        }
        server.stop().await;
        receiver.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_disables_the_endpoint_and_a_delivery_can_be_retried_by_hand() {
    let db = &databases("a_410_disables_the_endpoint_and_a_delivery_can_be_retried_by_hand")[0];
    let server = TestServer::start_with_env(db, &[FAST_RETRIES]).await;
    let api = &server.api;
    let receiver = Receiver::started(Mode::Gone).await;
    let (endpoint, secret) = register(api, &receiver.url(), &["appointment.created"]).await;
    let people = people(api).await;
    book(api, &people, "09:00").await;

    let log = wait_for_log(api, &endpoint, "a failed delivery", |log| {
        log.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    let failed = &log[0];
    assert_eq!(
        (failed["attempts"].as_i64(), failed["last_status_code"].as_i64()),
        (Some(1), Some(410))
    );
    assert_eq!(failed["last_response_body"], "no such hook");
    assert!(failed["next_attempt_at"].is_null());
    let read = api
        .get(&format!("/api/v1/webhook-endpoints/{endpoint}"), ADMIN_TOKEN)
        .await;
    assert_eq!(read.body["enabled"], false, "{:?}", read.body);
    assert_eq!(read.body["disabled_reason"], "the receiver answered 410 Gone");

    // Disabled: later events are not queued for it, and a retry is refused until it is enabled.
    book(api, &people, "10:00").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(deliveries(api, &endpoint).await.len(), 1);
    assert_eq!(receiver.received().len(), 1);
    let delivery = failed["id"].as_i64().unwrap();
    let retry_path = format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/retry");
    let refused = api.post(&retry_path, ADMIN_TOKEN, json!({})).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (409, "endpoint_disabled"));

    receiver.set_mode(Mode::Ok);
    let enabled = api
        .patch(
            &format!("/api/v1/webhook-endpoints/{endpoint}"),
            ADMIN_TOKEN,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(enabled.status, 200, "{:?}", enabled.body);
    assert_eq!(
        (enabled.body["enabled"].as_bool(), &enabled.body["disabled_reason"]),
        (Some(true), &Value::Null)
    );
    let queued = api.post(&retry_path, ADMIN_TOKEN, json!({})).await;
    assert_eq!(queued.status, 202, "{:?}", queued.body);
    assert_eq!(queued.body["status"], "pending");
    let log = wait_for_log(api, &endpoint, "the retried delivery delivered", |log| {
        log[0]["status"] == "delivered"
    })
    .await;
    assert_eq!(log[0]["attempts"], 2);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].id, received[1].id,
        "a retry is the same event: the same webhook-id"
    );
    assert_eq!(received[0].body, received[1].body);
    if let Some(n) = verify_with_standardwebhooks(&secret, &received) {
        assert_eq!(n, 2);
    }

    let unknown = api
        .post(
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/999999/retry"),
            ADMIN_TOKEN,
            json!({}),
        )
        .await;
    assert_eq!((unknown.status.as_u16(), unknown.code()), (404, "not_found"));
    server.stop().await;
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed() {
    let db = &databases("a_redirect_is_not_followed")[0];
    let server = TestServer::start_with_env(db, &[FAST_RETRIES]).await;
    let api = &server.api;
    let elsewhere = Receiver::started(Mode::Ok).await;
    let redirecting = Receiver::started(Mode::Redirect(elsewhere.url())).await;
    let (endpoint, _) = register(api, &redirecting.url(), &["appointment.created"]).await;
    let people = people(api).await;
    book(api, &people, "09:00").await;

    let log = wait_for_log(api, &endpoint, "a redirected attempt", |log| {
        log.first().is_some_and(|d| d["last_status_code"] == 307)
    })
    .await;
    assert_eq!(log[0]["status"], "pending", "a 3xx is a failed attempt, retried");
    assert_eq!(
        log[0]["last_error"],
        "the receiver answered 307 (redirects are not followed)"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!redirecting.received().is_empty());
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
    server.stop().await;
    redirecting.stop().await;
    elsewhere.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_for_admins_with_https_or_loopback_urls_and_known_events() {
    let db = &databases("endpoints_are_for_admins_with_https_or_loopback_urls_and_known_events")[0];
    let server = TestServer::start(db).await;
    let api = &server.api;
    let path = "/api/v1/webhook-endpoints";

    let plain_http = api
        .post(
            path,
            ADMIN_TOKEN,
            json!({"url": "http://hooks.example.com/in", "events": ["appointment.created"]}),
        )
        .await;
    assert_eq!(
        (plain_http.status.as_u16(), plain_http.code()),
        (422, "invalid_webhook_url")
    );
    for bad in [
        "http://10.0.0.7/in",
        "ftp://example.com/",
        "https://u:p@example.com/",
        "nope",
    ] {
        let answer = api
            .post(
                path,
                ADMIN_TOKEN,
                json!({"url": bad, "events": ["appointment.created"]}),
            )
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (422, "invalid_webhook_url"),
            "{bad}"
        );
    }
    let unknown = api
        .post(
            path,
            ADMIN_TOKEN,
            json!({"url": "https://hooks.example.com/in", "events": ["appointment.created", "appointment.deleted"]}),
        )
        .await;
    assert_eq!((unknown.status.as_u16(), unknown.code()), (422, "unknown_event"));
    let none = api
        .post(
            path,
            ADMIN_TOKEN,
            json!({"url": "https://hooks.example.com/in", "events": []}),
        )
        .await;
    assert_eq!((none.status.as_u16(), none.code()), (422, "events_required"));
    let wrong_type = api
        .post(
            path,
            ADMIN_TOKEN,
            json!({"url": "https://hooks.example.com/in", "events": "all"}),
        )
        .await;
    assert_eq!((wrong_type.status.as_u16(), wrong_type.code()), (400, "invalid_json"));

    // https to anywhere, http to loopback; series.created is accepted.
    let (id, _) = register(
        api,
        "https://hooks.example.com/in",
        &["series.created", "integration.connected"],
    )
    .await;
    register(api, "http://localhost:9/in", &["appointment.created"]).await;
    let changed = api
        .patch(
            &format!("{path}/{id}"),
            ADMIN_TOKEN,
            json!({"url": "http://example.com/x"}),
        )
        .await;
    assert_eq!((changed.status.as_u16(), changed.code()), (422, "invalid_webhook_url"));
    let changed = api
        .patch(
            &format!("{path}/{id}"),
            ADMIN_TOKEN,
            json!({"events": ["appointment.cancelled"], "url": "https://other.example.com/in"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["events"], json!(["appointment.cancelled"]));
    assert_eq!(changed.body["url"], "https://other.example.com/in");

    // Nobody but an admin.
    let (expert, expert_token) = api.expert_with_hours().await;
    let (_, client_token) = api.client_with_token().await;
    let _ = expert;
    for token in [&expert_token, &client_token] {
        for (method, p) in [
            (Method::GET, path.to_owned()),
            (Method::POST, path.to_owned()),
            (Method::GET, format!("{path}/{id}")),
            (Method::PATCH, format!("{path}/{id}")),
            (Method::DELETE, format!("{path}/{id}")),
            (Method::GET, format!("{path}/{id}/deliveries")),
            (Method::POST, format!("{path}/{id}/deliveries/1/retry")),
        ] {
            let body = json!({"url": "https://hooks.example.com/in", "events": ["appointment.created"]});
            let answer = api.call(method.clone(), &p, Some(token), Some(&body)).await;
            assert_eq!(
                (answer.status.as_u16(), answer.code()),
                (403, "forbidden"),
                "{method} {p}"
            );
        }
    }
    let anonymous = api.call(Method::GET, path, None, None).await;
    assert_eq!(anonymous.status, 401);

    let gone = api
        .call(Method::DELETE, &format!("{path}/{id}"), Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(gone.status, 204);
    let again = api
        .call(Method::DELETE, &format!("{path}/{id}"), Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!((again.status.as_u16(), again.code()), (404, "not_found"));
    let missing = api.get(&format!("{path}/{id}/deliveries"), ADMIN_TOKEN).await;
    assert_eq!(missing.status, 404);
    let bad_id = api.get(&format!("{path}/not-an-id"), ADMIN_TOKEN).await;
    assert_eq!((bad_id.status.as_u16(), bad_id.code()), (400, "invalid_parameter"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_before_the_delivery_delivers_it_after_a_restart() {
    for db in databases("a_server_killed_before_the_delivery_delivers_it_after_a_restart") {
        killed_and_restarted(&db).await;
    }
}

async fn killed_and_restarted(db: &TestDb) {
    // The receiver's port is chosen but nothing listens there yet: the first server cannot
    // deliver before it is killed.
    let receiver = Receiver::new(Mode::Ok);
    let first = ProcessServer::spawn_with_env(db, &[FAST_RETRIES]).await;
    let (endpoint, secret) = register(&first.api, &receiver.url(), &["appointment.created"]).await;
    let people = people(&first.api).await;
    let booked = book(&first.api, &people, "09:00").await;
    let log = deliveries(&first.api, &endpoint).await;
    assert_eq!(log.len(), 1, "{}: queued with the booking", db.label);
    assert_eq!(log[0]["status"], "pending");
    drop(first); // SIGKILL: no graceful shutdown.

    receiver.start();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.received().is_empty(), "nobody is left to deliver it");
    let second = ProcessServer::spawn_with_env(db, &[FAST_RETRIES]).await;
    wait_for_receiver(&receiver, "the delivery after the restart", |r| !r.is_empty()).await;
    let received = receiver.distinct();
    assert_eq!(received.len(), 1, "{}", db.label);
    assert_eq!(received[0].json()["data"]["appointment"]["id"], booked["id"]);
    wait_for_log(&second.api, &endpoint, "the delivery delivered", |log| {
        log[0]["status"] == "delivered"
    })
    .await;
    if let Some(n) = verify_with_standardwebhooks(&secret, &receiver.received()) {
        assert!(n >= 1);
    }
    second.stop();
    receiver.stop().await;
}

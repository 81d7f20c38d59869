//! `GET /metrics` over real HTTP, read by Python's `prometheus_client` parser (from PyPI): absent
//! (404) without METRICS_TOKEN or METRICS_BIND, 401 without the token, open on METRICS_BIND's own
//! listener; HTTP requests by route pattern (never a raw path), latency histograms, and the
//! booking counter rising after a booking.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::python::{python_or_skip, run_script, PROMETHEUS_READER};
use support::{databases, free_port, next_monday, password_calendar, TestServer, PASSWORD_CALENDAR};

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef0123456789";

/// Scrapes `url` (with the token if given) and parses it: (status, parsed or Null).
async fn scrape(python: &std::path::Path, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = res.text().await.unwrap();
    if status != 200 {
        return (status, serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    (status, run_script(python, PROMETHEUS_READER, &text))
}

/// The value of the sample with this name and these labels (others may be present), 0 if none.
fn value(parsed: &Value, name: &str, labels: &[(&str, &str)]) -> f64 {
    parsed["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .map(|s| s["value"].as_f64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_behind_the_token_or_on_their_own_listener_and_count_bookings() {
    let Some(python) = python_or_skip("metrics end-to-end test") else {
        return;
    };
    for db in databases("metrics end-to-end test") {
        // Neither setting: no /metrics at all.
        let plain = TestServer::start_with_env(&db, &[]).await;
        let (status, body) = scrape(&python, &format!("{}/metrics", plain.api.base), None).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &json!("not_found")),
            "{}",
            db.label
        );
        let (status, _) = scrape(&python, &format!("{}/metrics", plain.api.base), Some(METRICS_TOKEN)).await;
        assert_eq!(status, 404);
        plain.stop().await;

        let metrics_port = free_port();
        let metrics_bind = format!("127.0.0.1:{metrics_port}");
        let server = TestServer::start_with_env_and(
            &db,
            &[("METRICS_TOKEN", METRICS_TOKEN), ("METRICS_BIND", &metrics_bind)],
            vec![password_calendar()],
        )
        .await;
        let api = &server.api;
        let on_main = format!("{}/metrics", api.base);

        // The main listener: 401 without the token or with another one.
        for token in [None, Some("metrics-token-0123456789abcdef012345678X"), Some("short")] {
            let (status, body) = scrape(&python, &on_main, token).await;
            assert_eq!(
                (status, &body["error"]["code"]),
                (401, &json!("unauthorized")),
                "{token:?}"
            );
        }
        let (status, before) = scrape(&python, &on_main, Some(METRICS_TOKEN)).await;
        assert_eq!(status, 200);
        assert_eq!(
            before["types"]["http_request_duration_seconds"], "histogram",
            "{}",
            before["types"]
        );
        assert_eq!(before["types"]["bookings"], "counter", "{}", before["types"]);
        assert_eq!(
            value(&before, "outbox_jobs", &[("queue", "calendar_sync")]),
            0.0,
            "the queue's depth is reported (and empty)"
        );
        assert_eq!(
            value(&before, "outbox_jobs", &[("queue", "webhooks")]),
            0.0,
            "the webhook queue's depth is reported (and empty: no endpoint is registered)"
        );

        // A booking, and a second one of the same slot (refused).
        let (expert, _) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();
        let slots = api
            .slots(
                &expert,
                &client_token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:59Z"),
            )
            .await;
        let body = json!({"expert_id": expert, "client_id": client, "start_time": slots[0].0, "end_time": slots[0].1});
        let booked = api.post("/api/v1/appointments", &client_token, body.clone()).await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        let id = booked.body["id"].as_str().unwrap().to_owned();
        let again = api.post("/api/v1/appointments", &client_token, body).await;
        assert_eq!(again.status, 409);
        let _ = api
            .call(
                Method::GET,
                &format!("/api/v1/appointments/{id}"),
                Some(&client_token),
                None,
            )
            .await;

        // The separate listener: open, no token needed, and nothing but /metrics.
        let separate = format!("http://{metrics_bind}/metrics");
        let (status, after) = scrape(&python, &separate, None).await;
        assert_eq!(status, 200);
        let created = |parsed: &Value| value(parsed, "bookings_total", &[("outcome", "created")]);
        let taken = |parsed: &Value| value(parsed, "bookings_total", &[("outcome", "slot_taken")]);
        assert_eq!(created(&after), created(&before) + 1.0, "the booking counter rose");
        assert_eq!(taken(&after), taken(&before) + 1.0);
        let other = reqwest::get(format!("http://{metrics_bind}/api/v1/providers"))
            .await
            .unwrap();
        assert_eq!(other.status(), 404);

        // Requests by route pattern and status, with a latency histogram; never a raw path.
        let booking_route = [("method", "POST"), ("route", "/api/v1/appointments"), ("status", "201")];
        assert!(value(&after, "http_requests_total", &booking_route) >= 1.0);
        let get_route = [("route", "/api/v1/appointments/{id}"), ("status", "200")];
        assert!(value(&after, "http_requests_total", &get_route) >= 1.0);
        let inf = [("route", "/api/v1/appointments/{id}"), ("le", "+Inf")];
        assert!(value(&after, "http_request_duration_seconds_bucket", &inf) >= 1.0);
        assert!(value(&after, "http_request_duration_seconds_count", &get_route) >= 1.0);
        let routes: Vec<String> = after["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["labels"]["route"].as_str().map(str::to_owned))
            .collect();
        assert!(
            routes.iter().all(|r| !r.contains(&id) && !r.contains(&expert)),
            "{routes:?}"
        );
        let unauthorized = [("route", "/metrics"), ("status", "401")];
        assert!(value(&after, "http_requests_total", &unauthorized) >= 3.0);

        // A calendar provider: its calls by provider, operation and outcome, with latency; the
        // integrations by status, read from the database.
        let (cal_expert, cal_token) = api.expert_with_hours().await;
        let connect = api
            .put(
                &format!("/api/v1/experts/{cal_expert}/integrations/{PASSWORD_CALENDAR}"),
                &cal_token,
                json!({"server_url": "https://dav.example/", "username": "ada", "password": "right"}),
            )
            .await;
        assert_eq!(connect.status, 200, "{:?}", connect.body);
        let active = api
            .put(
                &format!("/api/v1/experts/{cal_expert}/integration"),
                &cal_token,
                json!({"integration_type": PASSWORD_CALENDAR}),
            )
            .await;
        assert_eq!(active.status, 200, "{:?}", active.body);
        let calls = [
            ("provider", PASSWORD_CALENDAR),
            ("operation", "busy_intervals"),
            ("outcome", "ok"),
        ];
        let before_calls = value(&after, "provider_calls_total", &calls);
        let _ = api
            .slots(
                &cal_expert,
                &client_token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:59Z"),
            )
            .await;
        let (_, with_calls) = scrape(&python, &separate, None).await;
        assert!(
            value(&with_calls, "provider_calls_total", &calls) > before_calls,
            "{}",
            db.label
        );
        assert_eq!(with_calls["types"]["provider_call_duration_seconds"], "histogram");
        assert!(value(&with_calls, "provider_call_duration_seconds_count", &calls) >= 1.0);
        let connected = [("integration_type", PASSWORD_CALENDAR), ("status", "connected")];
        assert_eq!(value(&with_calls, "integrations", &connected), 1.0, "{}", db.label);

        server.stop().await;
    }
}

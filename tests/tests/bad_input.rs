//! Bad input over real HTTP, on SQLite and on PostgreSQL: every refusal is the contract's status
//! with a JSON error `{"error":{"code","message"}}`, never a 500 and never a dropped connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use availability_domain::jiff::civil::Date;
use availability_domain::jiff::{SignedDuration, Timestamp, ToSpan};
use reqwest::Method;
use serde_json::{json, Value};
use support::{databases, next_monday, Answer, Api, TestServer, ADMIN_TOKEN};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The instant of a Europe/Berlin wall-clock time on `day`, in UTC.
fn berlin(day: &str, hm: &str) -> String {
    let date: Date = day.parse().unwrap();
    let (h, m) = hm.split_once(':').unwrap();
    date.at(h.parse().unwrap(), m.parse().unwrap(), 0, 0)
        .in_tz("Europe/Berlin")
        .unwrap()
        .timestamp()
        .to_string()
}

fn plus_days(day: &str, n: i64) -> String {
    day.parse::<Date>().unwrap().checked_add(n.days()).unwrap().to_string()
}

fn plus_minutes(t: &str, minutes: i64) -> String {
    (t.parse::<Timestamp>().unwrap() + SignedDuration::from_mins(minutes)).to_string()
}

/// Whether a code is snake_case.
fn snake_case(code: &str) -> bool {
    !code.is_empty()
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Asserts the JSON error shape: exactly `{"error":{"code","message"}}`, a snake_case code and a
/// message for a person.
#[track_caller]
fn assert_error_shape(a: &Answer, context: &str) {
    let obj = a.body.as_object();
    assert!(
        obj.is_some_and(|o| o.len() == 1 && o.contains_key("error")),
        "{context}: {} is not a JSON error: {:?}",
        a.status,
        a.body
    );
    let code = a.body["error"]["code"].as_str().unwrap_or("");
    assert!(snake_case(code), "{context}: code {code:?} in {:?}", a.body);
    let message = a.body["error"]["message"].as_str().unwrap_or("");
    assert!(!message.trim().is_empty(), "{context}: no message in {:?}", a.body);
    assert!(
        !message.contains("panicked") && !message.contains("stack backtrace") && !message.contains(ADMIN_TOKEN),
        "{context}: the message leaks internals: {message}"
    );
}

/// Asserts an error answer: status, code and shape.
#[track_caller]
fn expect(a: &Answer, status: u16, code: &str, context: &str) {
    assert_eq!(a.status.as_u16(), status, "{context}: {:?}", a.body);
    assert_error_shape(a, context);
    if !code.is_empty() {
        assert_eq!(a.code(), code, "{context}: {:?}", a.body);
    }
}

/// Sends raw bytes with an optional content type.
async fn send_bytes(
    api: &Api,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut req = api.client.request(method, format!("{}{}", api.base, path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: the server dropped the request: {e}"));
    let status = res.status();
    let text = res.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

struct World {
    server: TestServer,
    expert: String,
    expert_token: String,
    client: String,
    client_token: String,
    appointment: String,
    day: String,
}

/// An expert with hours, a client, and one booked appointment on next Monday at 10:00 Berlin.
async fn world(db: &support::TestDb) -> World {
    world_on(TestServer::start(db).await).await
}

async fn world_on(server: TestServer) -> World {
    let api = &server.api;
    let (expert, expert_token) = api.expert_with_hours().await;
    let (client, client_token) = api.client_with_token().await;
    let day = next_monday();
    let start = berlin(&day, "10:00");
    let a = api
        .post(
            "/api/v1/appointments",
            &client_token,
            json!({
                "expert_id": expert, "client_id": client, "start_time": start, "end_time": plus_minutes(&start, 30)
            }),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let appointment = a.body["id"].as_str().unwrap().to_owned();
    World {
        server,
        expert,
        expert_token,
        client,
        client_token,
        appointment,
        day,
    }
}

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

// ---------------------------------------------------------------------------------------------
// Malformed JSON and wrong types: 400
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_invalid_json() {
    for db in databases("malformed_json_is_400_invalid_json") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let (e, a) = (&w.expert, &w.appointment);
        let routes = [
            (Method::POST, "/api/v1/experts".to_owned()),
            (Method::POST, "/api/v1/clients".to_owned()),
            (Method::POST, "/api/v1/tokens".to_owned()),
            (Method::PATCH, format!("/api/v1/experts/{e}")),
            (Method::PUT, format!("/api/v1/experts/{e}/availability")),
            (Method::PUT, format!("/api/v1/experts/{e}/booking-policy")),
            (Method::PUT, format!("/api/v1/experts/{e}/integration")),
            (Method::POST, "/api/v1/appointments".to_owned()),
            (Method::PATCH, format!("/api/v1/appointments/{a}")),
            (Method::POST, format!("/api/v1/appointments/{a}/cancel")),
        ];
        let malformed = [
            "{",
            "}",
            "{\"name\": ",
            "not json",
            "{'name': 'x'}",
            "{\"a\": 1}}",
            "{\"a\": 1,}",
            "{\"a\" 1}",
            "[1, 2",
            "\"unterminated",
            "nul",
            "{\"a\": NaN}",
            "{\"a\": 01}",
        ];
        for (method, path) in &routes {
            for body in malformed {
                let ans = api.raw(method.clone(), path, Some(ADMIN_TOKEN), body).await;
                expect(&ans, 400, "invalid_json", &format!("{l}: {method} {path} {body:?}"));
            }
        }
        // The malformed cancel did not cancel.
        let g = api.get(&format!("/api/v1/appointments/{a}"), ADMIN_TOKEN).await;
        assert_eq!(g.body["status"], "confirmed", "{l}: a malformed cancel changes nothing");
        // An empty body is malformed where a body is required.
        for (method, path) in routes.iter().filter(|(_, p)| !p.ends_with("/cancel")) {
            let ans = api.raw(method.clone(), path, Some(ADMIN_TOKEN), "").await;
            expect(
                &ans,
                400,
                "invalid_json",
                &format!("{l}: {method} {path} with an empty body"),
            );
        }
        w.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_json_types_are_400() {
    for db in databases("wrong_json_types_are_400") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let (e, c, a) = (&w.expert, &w.client, &w.appointment);
        let start = berlin(&w.day, "11:00");
        let end = plus_minutes(&start, 30);
        let rule = json!({"day_of_week": 1, "start_time": "09:00", "end_time": "17:00"});
        let cases: Vec<(Method, String, Value)> = vec![
            (Method::POST, "/api/v1/experts".into(), json!([])),
            (Method::POST, "/api/v1/experts".into(), json!("Dr. X")),
            // An array of the fields in order is still not an object.
            (
                Method::POST,
                "/api/v1/experts".into(),
                json!(["Dr. X", "x@example.com", "UTC"]),
            ),
            (
                Method::POST,
                "/api/v1/clients".into(),
                json!(["X", "x@example.com", null]),
            ),
            (Method::POST, "/api/v1/tokens".into(), json!(["admin", null])),
            (Method::PATCH, format!("/api/v1/experts/{e}"), json!(["Y", null, null])),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/booking-policy"),
                json!([60, 60, 0, 0, 0, 60]),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/integration"),
                json!(["manual"]),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!([[], [], "UTC"]),
            ),
            (Method::PATCH, format!("/api/v1/appointments/{a}"), json!([start, end])),
            (
                Method::POST,
                format!("/api/v1/appointments/{a}/cancel"),
                json!(["because"]),
            ),
            (
                Method::POST,
                "/api/v1/experts".into(),
                json!({"name": 5, "email": "x@example.com", "timezone": "UTC"}),
            ),
            (
                Method::POST,
                "/api/v1/experts".into(),
                json!({"name": "X", "email": ["x@example.com"], "timezone": "UTC"}),
            ),
            (
                Method::POST,
                "/api/v1/experts".into(),
                json!({"name": "X", "email": "x@example.com", "timezone": 1}),
            ),
            (
                Method::POST,
                "/api/v1/experts".into(),
                json!({"name": "X", "email": "x@example.com"}),
            ),
            (
                Method::POST,
                "/api/v1/clients".into(),
                json!({"name": "X", "email": "x@example.com", "timezone": false}),
            ),
            (
                Method::POST,
                "/api/v1/clients".into(),
                json!({"name": null, "email": "x@example.com"}),
            ),
            (Method::POST, "/api/v1/tokens".into(), json!({"role": 1})),
            (
                Method::POST,
                "/api/v1/tokens".into(),
                json!({"role": "client", "subject_id": 42}),
            ),
            (Method::PATCH, format!("/api/v1/experts/{e}"), json!({"name": []})),
            (
                Method::PATCH,
                format!("/api/v1/experts/{e}"),
                json!({"timezone": {"name": "UTC"}}),
            ),
            (Method::PATCH, format!("/api/v1/experts/{e}"), json!(null)),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": "all week"}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"overrides": []}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [rule], "overrides": {}}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [{"day_of_week": "1", "start_time": "09:00", "end_time": "17:00"}]}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [{"day_of_week": 1.5, "start_time": "09:00", "end_time": "17:00"}]}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [{"day_of_week": 1, "start_time": 900, "end_time": "17:00"}]}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [
                    {"day_of_week": 1, "start_time": "09:00", "end_time": "17:00", "is_available": "yes"}
                ]}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [{"day_of_week": 1, "start_time": "09:00"}]}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [], "overrides": [{"date": 20_261_224, "windows": []}]}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [], "overrides": [{"date": "2026-12-24", "windows": "none"}]}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                json!({"rules": [], "timezone": 1}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/booking-policy"),
                json!({"slot_duration_minutes": "30"}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/booking-policy"),
                json!({"slot_duration_minutes": 30.5}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/booking-policy"),
                json!({"booking_horizon_days": true}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/booking-policy"),
                json!({"slot_duration_minutes": 18_446_744_073_709_551_615_u64}),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/booking-policy"),
                json!([30, 30]),
            ),
            (
                Method::PUT,
                format!("/api/v1/experts/{e}/integration"),
                json!({"integration_type": 5}),
            ),
            (Method::PUT, format!("/api/v1/experts/{e}/integration"), json!({})),
            (
                Method::POST,
                "/api/v1/appointments".into(),
                json!({"expert_id": 1, "client_id": c, "start_time": start, "end_time": end}),
            ),
            (
                Method::POST,
                "/api/v1/appointments".into(),
                json!({"expert_id": e, "client_id": c, "start_time": 1_765_000_000, "end_time": end}),
            ),
            (
                Method::POST,
                "/api/v1/appointments".into(),
                json!({"expert_id": e, "client_id": c, "start_time": start}),
            ),
            (Method::POST, "/api/v1/appointments".into(), json!([e, c, start, end])),
            (Method::POST, "/api/v1/appointments".into(), json!(null)),
            (
                Method::PATCH,
                format!("/api/v1/appointments/{a}"),
                json!({"start_time": true, "end_time": end}),
            ),
            (
                Method::PATCH,
                format!("/api/v1/appointments/{a}"),
                json!({"start_time": start}),
            ),
            (
                Method::POST,
                format!("/api/v1/appointments/{a}/cancel"),
                json!({"reason": 5}),
            ),
            (Method::POST, format!("/api/v1/appointments/{a}/cancel"), json!("no")),
        ];
        for (method, path, body) in cases {
            let ans = api.call(method.clone(), &path, Some(ADMIN_TOKEN), Some(&body)).await;
            expect(&ans, 400, "invalid_json", &format!("{l}: {method} {path} {body}"));
        }
        let g = api.get(&format!("/api/v1/appointments/{a}"), ADMIN_TOKEN).await;
        assert_eq!(g.body["status"], "confirmed", "{l}: nothing was cancelled");
        assert_eq!(g.body["start_time"], berlin(&w.day, "10:00").as_str(), "{l}: nor moved");
        w.server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Well-formed but invalid: 422
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_days_and_windows_out_of_range_are_422() {
    for db in databases("times_days_and_windows_out_of_range_are_422") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let path = format!("/api/v1/experts/{}/availability", w.expert);
        let before = api.get(&path, &w.expert_token).await;
        assert_eq!(before.status, 200, "{l}");
        let rule = |d: Value, s: &str, e: &str| {
            let rules = json!([{"day_of_week": d, "start_time": s, "end_time": e}]);
            json!({"rules": rules, "overrides": []})
        };
        let window = |s: &str, e: &str| {
            json!({"rules": [], "overrides": [
                {"date": "2026-12-24", "windows": [{"start_time": s, "end_time": e}]}
            ]})
        };
        let mut cases: Vec<(Value, &str)> = vec![
            (rule(json!(7), "09:00", "17:00"), "invalid_day_of_week"),
            (rule(json!(-1), "09:00", "17:00"), "invalid_day_of_week"),
            (rule(json!(i64::MAX), "09:00", "17:00"), "invalid_day_of_week"),
            (rule(json!(1), "17:00", "09:00"), "end_before_start"),
            (rule(json!(1), "09:00", "09:00"), "end_before_start"),
            (rule(json!(1), "24:00", "24:00"), "end_before_start"),
            (rule(json!(1), "00:00", "00:00"), "end_before_start"),
            (window("12:00", "11:00"), "end_before_start"),
            (window("24:00", "24:00"), "end_before_start"),
            (
                json!({"rules": [], "overrides": [
                    {"date": "2026-12-24", "windows": []},
                    {"date": "2026-12-24", "windows": []}
                ]}),
                "duplicate_override",
            ),
            (
                json!({"rules": [], "overrides": [{"date": "2026-13-01", "windows": []}]}),
                "invalid_date",
            ),
            (
                json!({"rules": [], "overrides": [{"date": "24.12.2026", "windows": []}]}),
                "invalid_date",
            ),
            (
                json!({"rules": [], "overrides": [{"date": "2026-02-30", "windows": []}]}),
                "invalid_date",
            ),
            (
                json!({"rules": [], "overrides": [{"date": "", "windows": []}]}),
                "invalid_date",
            ),
        ];
        for bad in [
            "25:00",
            "9:00",
            "24:01",
            "12:60",
            "09:00:00",
            "",
            "ab:cd",
            "-1:00",
            "0900",
            "09.00",
            " 9:00",
            "１２:００",
        ] {
            cases.push((rule(json!(1), bad, "17:00"), "invalid_time"));
            cases.push((rule(json!(1), "08:00", bad), "invalid_time"));
            cases.push((window(bad, "17:00"), "invalid_time"));
            cases.push((window("08:00", bad), "invalid_time"));
        }
        // Too many rules is refused, not stored.
        let many: Vec<Value> = (0..3000)
            .map(|i| json!({"day_of_week": i % 7, "start_time": "09:00", "end_time": "10:00"}))
            .collect();
        cases.push((json!({"rules": many, "overrides": []}), ""));
        for (body, code) in cases {
            let ans = api.put(&path, &w.expert_token, body.clone()).await;
            let shown: String = body.to_string().chars().take(200).collect();
            expect(&ans, 422, code, &format!("{l}: {shown}"));
            assert_eq!(
                api.get(&path, &w.expert_token).await.body,
                before.body,
                "{l}: {shown} changed nothing"
            );
        }
        w.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_time_zones_are_422_everywhere() {
    for db in databases("unknown_time_zones_are_422_everywhere") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let e = &w.expert;
        for zone in [
            "Mars/Olympus_Mons",
            "Europe/Berlinn",
            "",
            "GMT+25",
            "../../../etc/passwd",
            "Europe/",
            "/",
        ] {
            let ctx = format!("{l}: {zone:?}");
            let a = api
                .post(
                    "/api/v1/experts",
                    ADMIN_TOKEN,
                    json!({"name": "X", "email": "x@example.com", "timezone": zone}),
                )
                .await;
            expect(&a, 422, "unknown_timezone", &format!("{ctx}: POST experts"));
            let a = api
                .post(
                    "/api/v1/clients",
                    ADMIN_TOKEN,
                    json!({"name": "X", "email": "x@example.com", "timezone": zone}),
                )
                .await;
            expect(&a, 422, "unknown_timezone", &format!("{ctx}: POST clients"));
            let a = api
                .patch(
                    &format!("/api/v1/experts/{e}"),
                    &w.expert_token,
                    json!({"timezone": zone}),
                )
                .await;
            expect(&a, 422, "unknown_timezone", &format!("{ctx}: PATCH expert"));
            let a = api
                .put(
                    &format!("/api/v1/experts/{e}/availability"),
                    &w.expert_token,
                    json!({"rules": [], "overrides": [], "timezone": zone}),
                )
                .await;
            expect(&a, 422, "unknown_timezone", &format!("{ctx}: PUT availability"));
            let (from, to) = (berlin(&w.day, "00:00"), berlin(&plus_days(&w.day, 1), "00:00"));
            let encoded: String = zone.replace('/', "%2F").replace('+', "%2B");
            let a = api
                .get(
                    &format!("/api/v1/experts/{e}/slots?from={from}&to={to}&timezone={encoded}"),
                    &w.client_token,
                )
                .await;
            expect(&a, 422, "unknown_timezone", &format!("{ctx}: slots"));
        }
        // Nothing changed.
        let g = api.get(&format!("/api/v1/experts/{e}"), &w.client_token).await;
        assert_eq!(g.body["timezone"], "Europe/Berlin", "{l}");
        let av = api
            .get(&format!("/api/v1/experts/{e}/availability"), &w.expert_token)
            .await;
        assert_eq!(av.body["rules"].as_array().unwrap().len(), 5, "{l}");
        w.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_query_parameters_are_checked() {
    for db in databases("slot_query_parameters_are_checked") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let base = format!("/api/v1/experts/{}/slots", w.expert);
        let t = &w.client_token;
        let from = berlin(&w.day, "00:00");
        let at = |days: i64, minutes: i64| plus_minutes(&from, days * 24 * 60 + minutes);
        let get = |q: String| {
            let (api, path, t) = (api.clone(), format!("{base}?{q}"), t.clone());
            async move { api.get(&path, &t).await }
        };

        // 93 days is the longest window.
        let ok = get(format!("from={from}&to={}", at(93, 0))).await;
        assert_eq!(ok.status, 200, "{l}: 93 days: {:?}", ok.body);
        for to in [at(93, 1), at(94, 0), at(3650, 0)] {
            let a = get(format!("from={from}&to={to}")).await;
            expect(&a, 422, "window_too_long", &format!("{l}: to={to}"));
        }
        // to <= from.
        for to in [from.clone(), at(0, -1), at(-30, 0)] {
            let a = get(format!("from={from}&to={to}")).await;
            expect(&a, 422, "invalid_window", &format!("{l}: to={to}"));
        }
        // Unparseable or missing instants: 400.
        let to = at(1, 0);
        for bad in [
            "yesterday",
            "2026-12-14",
            "2026-12-14T09:00:00",
            "2026-12-14 09:00",
            "1765000000",
            "",
            "2026-12-14T25:00:00Z",
            "2026-12-14T09:00:00+24:00",
            "2026-12-14T09:00:00-25:30",
        ] {
            let a = get(format!("from={bad}&to={to}")).await;
            expect(&a, 400, "invalid_parameter", &format!("{l}: from={bad:?}"));
            let a = get(format!("from={from}&to={bad}")).await;
            expect(&a, 400, "invalid_parameter", &format!("{l}: to={bad:?}"));
        }
        // The largest RFC 3339 offsets are fine.
        let a = get("from=2026-12-14T23:59:00%2B23:59&to=2026-12-15T00:00:00-23:59".to_owned()).await;
        assert_eq!(a.status, 200, "{l}: offsets of 23:59: {:?}", a.body);
        for q in [format!("to={to}"), format!("from={from}"), String::new()] {
            let a = get(q.clone()).await;
            expect(&a, 400, "invalid_parameter", &format!("{l}: ?{q}"));
        }
        // duration_minutes: 5-1440, else 422; not a number: 400.
        for d in ["5", "1440"] {
            let a = get(format!("from={from}&to={to}&duration_minutes={d}")).await;
            assert_eq!(a.status, 200, "{l}: duration {d}: {:?}", a.body);
        }
        for d in ["0", "4", "1441", "-30", "99999999999"] {
            let a = get(format!("from={from}&to={to}&duration_minutes={d}")).await;
            expect(&a, 422, "out_of_range", &format!("{l}: duration {d}"));
        }
        for d in ["abc", "1.5", "", "30m", "99999999999999999999999"] {
            let a = get(format!("from={from}&to={to}&duration_minutes={d}")).await;
            expect(&a, 400, "invalid_parameter", &format!("{l}: duration {d:?}"));
        }
        // Far ends of time: an answer, never a crash.
        for (f, t2) in [
            ("9999-12-01T00:00:00Z", "9999-12-30T00:00:00Z"),
            ("-009999-01-03T00:00:00Z", "-009999-02-01T00:00:00Z"),
            ("0001-01-01T00:00:00Z", "0001-02-01T00:00:00Z"),
            ("1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z"),
        ] {
            let a = get(format!("from={f}&to={t2}")).await;
            assert_eq!(a.status, 200, "{l}: {f}..{t2}: {:?}", a.body);
            assert!(
                a.body["slots"].as_array().unwrap().is_empty(),
                "{l}: nothing bookable then"
            );
            let a = get(format!(
                "from={f}&to={t2}&timezone=Pacific/Kiritimati&duration_minutes=1440"
            ))
            .await;
            assert_eq!(a.status, 200, "{l}: {f}..{t2}: {:?}", a.body);
        }
        w.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_input_is_checked() {
    for db in databases("booking_input_is_checked") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let (e, c) = (&w.expert, &w.client);
        let start = berlin(&w.day, "11:00");
        let end = plus_minutes(&start, 30);
        let book = |body: Value| {
            let (api, t) = (api.clone(), w.client_token.clone());
            async move { api.post("/api/v1/appointments", &t, body).await }
        };
        let body = |e: &str, c: &str, s: &str, en: &str| {
            let mut b = json!({"expert_id": e, "client_id": c});
            b["start_time"] = json!(s);
            b["end_time"] = json!(en);
            b
        };

        expect(
            &book(body(e, c, &end, &start)).await,
            422,
            "end_before_start",
            &format!("{l}: end before start"),
        );
        expect(
            &book(body(e, c, &start, &start)).await,
            422,
            "end_before_start",
            &format!("{l}: empty"),
        );
        for bad in [
            "tomorrow",
            "2026-12-14",
            "2026-12-14T09:00:00",
            "",
            "2026-12-14T09:00:00+25:00",
        ] {
            expect(
                &book(body(e, c, bad, &end)).await,
                400,
                "invalid_parameter",
                &format!("{l}: start {bad:?}"),
            );
            expect(
                &book(body(e, c, &start, bad)).await,
                400,
                "invalid_parameter",
                &format!("{l}: end {bad:?}"),
            );
        }
        for bad in ["", "abc", "123", "00000000-0000-0000-0000-00000000000g"] {
            expect(
                &book(body(bad, c, &start, &end)).await,
                400,
                "invalid_parameter",
                &format!("{l}: expert {bad:?}"),
            );
            let a = api
                .post("/api/v1/appointments", ADMIN_TOKEN, body(e, bad, &start, &end))
                .await;
            expect(&a, 400, "invalid_parameter", &format!("{l}: client {bad:?}"));
        }
        // Unknown ids.
        expect(
            &book(body(NO_SUCH_ID, c, &start, &end)).await,
            404,
            "not_found",
            &format!("{l}: unknown expert"),
        );
        let a = api
            .post("/api/v1/appointments", ADMIN_TOKEN, body(e, NO_SUCH_ID, &start, &end))
            .await;
        expect(&a, 404, "not_found", &format!("{l}: unknown client"));
        // Far ends of time: refused as not a slot.
        for (s, en) in [
            ("9999-12-29T00:00:00Z", "9999-12-29T00:30:00Z"),
            ("-009999-01-03T00:00:00Z", "-009999-01-03T00:30:00Z"),
        ] {
            expect(
                &book(body(e, c, s, en)).await,
                422,
                "slot_unavailable",
                &format!("{l}: {s}..{en}"),
            );
        }
        // Thousands of years long: it overlaps the booked appointment.
        let a = book(body(e, c, "1970-01-01T00:00:00Z", "9999-12-29T00:00:00Z")).await;
        expect(&a, 409, "slot_taken", &format!("{l}: 1970..9999"));
        // Idempotency-Key must be 1-255 characters.
        let long = "k".repeat(256);
        for key in ["", long.as_str()] {
            let a = api
                .call_with(
                    Method::POST,
                    "/api/v1/appointments",
                    Some(&w.client_token),
                    Some(&body(e, c, &start, &end)),
                    &[("Idempotency-Key", key)],
                )
                .await;
            expect(
                &a,
                400,
                "invalid_idempotency_key",
                &format!("{l}: key of {} chars", key.len()),
            );
        }
        let a = api
            .call_with(
                Method::POST,
                "/api/v1/appointments",
                Some(&w.client_token),
                Some(&body(e, c, &start, &end)),
                &[("Idempotency-Key", &"k".repeat(255))],
            )
            .await;
        assert_eq!(a.status, 201, "{l}: a 255-character key: {:?}", a.body);

        // Reschedule input.
        let path = format!("/api/v1/appointments/{}", w.appointment);
        let t = &w.client_token;
        let two = berlin(&w.day, "14:00");
        let a = api
            .patch(&path, t, json!({"start_time": plus_minutes(&two, 30), "end_time": two}))
            .await;
        expect(
            &a,
            422,
            "end_before_start",
            &format!("{l}: reschedule end before start"),
        );
        let a = api
            .patch(&path, t, json!({"start_time": "soon", "end_time": two}))
            .await;
        expect(&a, 400, "invalid_parameter", &format!("{l}: reschedule start"));
        let a = api
            .patch(
                &path,
                t,
                json!({"start_time": "9999-12-29T00:00:00Z", "end_time": "9999-12-29T00:30:00Z"}),
            )
            .await;
        expect(&a, 422, "slot_unavailable", &format!("{l}: reschedule far away"));
        let g = api.get(&path, t).await;
        assert_eq!(g.body["start_time"], berlin(&w.day, "10:00").as_str(), "{l}: not moved");

        // List parameters.
        for list in [
            format!("/api/v1/experts/{e}/appointments"),
            format!("/api/v1/clients/{c}/appointments"),
        ] {
            let from = berlin(&w.day, "00:00");
            // `pending` is a status since pending Calendly bookings (#7); other words are not.
            let a = api.get(&format!("{list}?status=booked"), ADMIN_TOKEN).await;
            expect(&a, 400, "invalid_parameter", &format!("{l}: {list} status=booked"));
            let a = api.get(&format!("{list}?status=Pending"), ADMIN_TOKEN).await;
            expect(&a, 400, "invalid_parameter", &format!("{l}: {list} status=Pending"));
            let a = api.get(&format!("{list}?status=pending"), ADMIN_TOKEN).await;
            assert_eq!(a.status, 200, "{l}: {list} status=pending: {:?}", a.body);
            let a = api.get(&format!("{list}?from=someday"), ADMIN_TOKEN).await;
            expect(&a, 400, "invalid_parameter", &format!("{l}: {list} from=someday"));
            let a = api.get(&format!("{list}?from={from}&to={from}"), ADMIN_TOKEN).await;
            expect(&a, 422, "invalid_window", &format!("{l}: {list} to = from"));
            let a = api
                .get(
                    &format!("{list}?from={from}&to={}", plus_minutes(&from, -1)),
                    ADMIN_TOKEN,
                )
                .await;
            expect(&a, 422, "invalid_window", &format!("{l}: {list} to < from"));
        }
        w.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_tokens_policy_and_integration_input_is_checked() {
    for db in databases("profiles_tokens_policy_and_integration_input_is_checked") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let e = &w.expert;
        for (name, email, code) in [
            ("", "x@example.com", "invalid_name"),
            ("   ", "x@example.com", "invalid_name"),
            ("X", "not-an-email", "invalid_email"),
            ("X", "@example.com", "invalid_email"),
            ("X", "x@", "invalid_email"),
        ] {
            let body = json!({"name": name, "email": email, "timezone": "UTC"});
            expect(
                &api.post("/api/v1/experts", ADMIN_TOKEN, body.clone()).await,
                422,
                code,
                &format!("{l}: {body}"),
            );
            expect(
                &api.post("/api/v1/clients", ADMIN_TOKEN, body.clone()).await,
                422,
                code,
                &format!("{l}: {body}"),
            );
            let patch = json!({"name": name, "email": email});
            let a = api.patch(&format!("/api/v1/experts/{e}"), &w.expert_token, patch).await;
            expect(&a, 422, code, &format!("{l}: PATCH {body}"));
        }
        let long = "x".repeat(201);
        let a = api
            .post(
                "/api/v1/experts",
                ADMIN_TOKEN,
                json!({"name": long, "email": "x@example.com", "timezone": "UTC"}),
            )
            .await;
        expect(&a, 422, "invalid_name", &format!("{l}: a 201-character name"));

        for (body, status, code) in [
            (json!({"role": "root"}), 422, "invalid_role"),
            (json!({"role": ""}), 422, "invalid_role"),
            (json!({"role": "expert"}), 422, "subject_required"),
            (json!({"role": "client"}), 422, "subject_required"),
            (
                json!({"role": "expert", "subject_id": "nope"}),
                400,
                "invalid_parameter",
            ),
            (json!({"role": "expert", "subject_id": NO_SUCH_ID}), 404, "not_found"),
            (json!({"role": "client", "subject_id": NO_SUCH_ID}), 404, "not_found"),
            (json!({"role": "client", "subject_id": e}), 404, "not_found"),
        ] {
            let a = api.post("/api/v1/tokens", ADMIN_TOKEN, body.clone()).await;
            expect(&a, status, code, &format!("{l}: {body}"));
        }

        let path = format!("/api/v1/experts/{e}/integration");
        for (kind, code) in [
            ("fax", "unknown_integration"),
            ("", "unknown_integration"),
            ("MANUAL", "unknown_integration"),
            ("google_calendar", "integration_not_connected"),
            ("office365_calendar", "integration_not_connected"),
            ("calendly", "integration_not_connected"),
        ] {
            let a = api.put(&path, &w.expert_token, json!({"integration_type": kind})).await;
            expect(&a, 422, code, &format!("{l}: {kind:?}"));
        }
        let a = api
            .put(&path, &w.expert_token, json!({"integration_type": "manual"}))
            .await;
        assert_eq!(a.status, 200, "{l}: {:?}", a.body);
        assert_eq!(a.body["integration_type"], "manual", "{l}");
        w.server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Unknown ids and routes: 404; malformed ids: 400
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_404_and_malformed_ids_400() {
    for db in databases("unknown_ids_are_404_and_malformed_ids_400") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let (from, to) = (berlin(&w.day, "00:00"), berlin(&plus_days(&w.day, 1), "00:00"));
        let move_to = json!({"start_time": berlin(&w.day, "11:00"), "end_time": berlin(&w.day, "11:30")});
        let routes = |id: &str| -> Vec<(Method, String, Option<Value>)> {
            vec![
                (Method::GET, format!("/api/v1/experts/{id}"), None),
                (
                    Method::PATCH,
                    format!("/api/v1/experts/{id}"),
                    Some(json!({"name": "X"})),
                ),
                (Method::GET, format!("/api/v1/experts/{id}/availability"), None),
                (
                    Method::PUT,
                    format!("/api/v1/experts/{id}/availability"),
                    Some(json!({"rules": [], "overrides": []})),
                ),
                (Method::GET, format!("/api/v1/experts/{id}/booking-policy"), None),
                (
                    Method::PUT,
                    format!("/api/v1/experts/{id}/booking-policy"),
                    Some(json!({})),
                ),
                (
                    Method::PUT,
                    format!("/api/v1/experts/{id}/integration"),
                    Some(json!({"integration_type": "manual"})),
                ),
                (
                    Method::GET,
                    format!("/api/v1/experts/{id}/slots?from={from}&to={to}"),
                    None,
                ),
                (Method::GET, format!("/api/v1/experts/{id}/appointments"), None),
                (Method::GET, format!("/api/v1/clients/{id}/appointments"), None),
                (Method::GET, format!("/api/v1/appointments/{id}"), None),
                (
                    Method::PATCH,
                    format!("/api/v1/appointments/{id}"),
                    Some(move_to.clone()),
                ),
                (
                    Method::POST,
                    format!("/api/v1/appointments/{id}/cancel"),
                    Some(json!({})),
                ),
            ]
        };
        for (method, path, body) in routes(NO_SUCH_ID) {
            let a = api.call(method.clone(), &path, Some(ADMIN_TOKEN), body.as_ref()).await;
            expect(&a, 404, "not_found", &format!("{l}: {method} {path}"));
        }
        // An existing id of another kind is not found either.
        for (method, path, body) in routes(&w.appointment).into_iter().take(10) {
            let a = api.call(method.clone(), &path, Some(ADMIN_TOKEN), body.as_ref()).await;
            expect(
                &a,
                404,
                "not_found",
                &format!("{l}: {method} {path} (an appointment's id)"),
            );
        }
        for bad in [
            "not-a-uuid",
            "123",
            "00000000-0000-0000-0000-00000000000g",
            "%20",
            "null",
        ] {
            for (method, path, body) in routes(bad) {
                let a = api.call(method.clone(), &path, Some(ADMIN_TOKEN), body.as_ref()).await;
                expect(&a, 400, "invalid_parameter", &format!("{l}: {method} {path}"));
            }
        }
        w.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_json() {
    for db in databases("unknown_routes_and_methods_answer_json") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let e = &w.expert;
        for (method, path) in [
            (Method::GET, "/api/v1/nothing-here".to_owned()),
            (Method::GET, "/api/v2/experts".to_owned()),
            (Method::GET, "/nope".to_owned()),
            (Method::POST, format!("/api/v1/experts/{e}/nothing")),
            (Method::GET, format!("/api/v1/experts/{e}/availability/extra")),
            (Method::GET, "/api/v1/".to_owned()),
        ] {
            for token in [Some(ADMIN_TOKEN), None] {
                let a = api.call(method.clone(), &path, token, None).await;
                expect(&a, 404, "not_found", &format!("{l}: {method} {path}"));
            }
        }
        // A known path with a method it does not have: a JSON error too (404 or 405).
        for (method, path) in [
            (Method::DELETE, format!("/api/v1/experts/{e}")),
            (Method::DELETE, "/api/v1/experts".to_owned()),
            (Method::PUT, "/api/v1/tokens".to_owned()),
            (Method::POST, format!("/api/v1/experts/{e}/slots")),
            (Method::DELETE, format!("/api/v1/appointments/{}", w.appointment)),
            (Method::PUT, "/healthz".to_owned()),
            // Resources with several methods: actix's own 405, in the JSON shape too.
            (Method::PATCH, "/session".to_owned()),
            (
                Method::POST,
                format!("/api/v1/experts/{e}/integrations/google_calendar"),
            ),
        ] {
            let a = api.call(method.clone(), &path, Some(ADMIN_TOKEN), None).await;
            assert!(
                a.status == 404 || a.status == 405,
                "{l}: {method} {path}: {} {:?}",
                a.status,
                a.body
            );
            assert_error_shape(&a, &format!("{l}: {method} {path}"));
        }
        let g = api
            .get(&format!("/api/v1/appointments/{}", w.appointment), ADMIN_TOKEN)
            .await;
        assert_eq!(g.status, 200, "{l}: DELETE did nothing");
        w.server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens: 401 and 403
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_tokens_are_401_and_others_resources_403() {
    for db in databases("missing_or_wrong_tokens_are_401_and_others_resources_403") {
        let l = db.label;
        // Dozens of wrong tokens from one address: the throttle (tests/tests/security.rs) would
        // answer 429 after 20; here every one must be seen answered 401.
        let w =
            world_on(TestServer::start_configured(&db, &[], |c| c.auth_throttle.max_failures = usize::MAX).await).await;
        let api = &w.server.api;
        let (e, c, a) = (&w.expert, &w.client, &w.appointment);
        let (other_expert, other_expert_token) = api.expert_with_hours().await;
        let (other_client, other_client_token) = api.client_with_token().await;
        let long = "x".repeat(4_000);
        for token in [
            None,
            Some("wrong"),
            Some(long.as_str()),
            Some("e2e-admin-token-0123456789abcdeF"),
        ] {
            for path in [
                format!("/api/v1/experts/{e}"),
                format!("/api/v1/appointments/{a}"),
                format!("/api/v1/clients/{c}/appointments"),
                format!("/api/v1/experts/{NO_SUCH_ID}"),
                "/api/v1/experts/not-a-uuid".to_owned(),
            ] {
                let ans = api.call(Method::GET, &path, token, None).await;
                expect(&ans, 401, "unauthorized", &format!("{l}: {path}"));
            }
            // 401 comes before the body is looked at.
            let ans = send_bytes(
                api,
                Method::POST,
                "/api/v1/appointments",
                token,
                Some("application/json"),
                b"{garbage".to_vec(),
            )
            .await;
            expect(&ans, 401, "unauthorized", &format!("{l}: a bad body without a token"));
            let ans = api
                .call(
                    Method::GET,
                    &format!("/api/v1/experts/{e}/slots?from=garbage"),
                    token,
                    None,
                )
                .await;
            expect(&ans, 401, "unauthorized", &format!("{l}: a bad query without a token"));
            let ans = api
                .call(
                    Method::GET,
                    &format!("/api/v1/clients/{c}/appointments?status=nope"),
                    token,
                    None,
                )
                .await;
            expect(
                &ans,
                401,
                "unauthorized",
                &format!("{l}: a bad list query without a token"),
            );
        }
        let body = json!({
            "expert_id": e, "client_id": c, "start_time": berlin(&w.day, "11:00"), "end_time": berlin(&w.day, "11:30")
        });
        let forbidden: Vec<(&str, Method, String, Option<Value>)> = vec![
            (
                &other_client_token,
                Method::GET,
                format!("/api/v1/appointments/{a}"),
                None,
            ),
            (
                &other_client_token,
                Method::POST,
                format!("/api/v1/appointments/{a}/cancel"),
                Some(json!({})),
            ),
            (
                &other_client_token,
                Method::POST,
                "/api/v1/appointments".into(),
                Some(body.clone()),
            ),
            (
                &other_client_token,
                Method::GET,
                format!("/api/v1/clients/{c}/appointments"),
                None,
            ),
            (
                &other_expert_token,
                Method::GET,
                format!("/api/v1/appointments/{a}"),
                None,
            ),
            (
                &other_expert_token,
                Method::PUT,
                format!("/api/v1/experts/{e}/availability"),
                Some(json!({"rules": [], "overrides": []})),
            ),
            (
                &other_expert_token,
                Method::PATCH,
                format!("/api/v1/experts/{e}"),
                Some(json!({"name": "X"})),
            ),
            (
                &w.expert_token,
                Method::POST,
                "/api/v1/appointments".into(),
                Some(body.clone()),
            ),
            (
                &w.expert_token,
                Method::GET,
                format!("/api/v1/experts/{other_expert}/availability"),
                None,
            ),
            (
                &w.expert_token,
                Method::GET,
                format!("/api/v1/clients/{other_client}/appointments"),
                None,
            ),
            (
                &w.client_token,
                Method::GET,
                format!("/api/v1/experts/{e}/availability"),
                None,
            ),
            (
                &w.client_token,
                Method::PUT,
                format!("/api/v1/experts/{e}/booking-policy"),
                Some(json!({})),
            ),
            (
                &w.client_token,
                Method::POST,
                "/api/v1/tokens".into(),
                Some(json!({"role": "admin"})),
            ),
        ];
        for (token, method, path, body) in forbidden {
            let ans = api.call(method.clone(), &path, Some(token), body.as_ref()).await;
            expect(&ans, 403, "forbidden", &format!("{l}: {method} {path}"));
        }
        let g = api.get(&format!("/api/v1/appointments/{a}"), ADMIN_TOKEN).await;
        assert_eq!(g.body["status"], "confirmed", "{l}");
        let av = api.get(&format!("/api/v1/experts/{e}/availability"), ADMIN_TOKEN).await;
        assert_eq!(av.body["rules"].as_array().unwrap().len(), 5, "{l}");
        w.server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Garbage everywhere
// ---------------------------------------------------------------------------------------------

fn garbage_bodies(expert: &str, client: &str, day: &str) -> Vec<Vec<u8>> {
    let deep_array = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let big_string = format!(
        "{{\"name\": \"{}\", \"email\": \"x@example.com\", \"timezone\": \"UTC\"}}",
        "y".repeat(100_000)
    );
    let too_big = format!("{{\"name\": \"{}\"}}", "z".repeat(300 * 1024));
    let start = berlin(day, "11:00");
    let instants = [
        "9999-12-31T23:59:59Z",
        "-009999-01-01T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "2026-02-30T09:00:00Z",
        "2026-12-14T09:00:00+25:00",
        "2026-12-14T09:00:00.123456789Z",
        "2026-12-14T09:00:00.5+01:00",
        "0000-01-01T00:00:00Z",
        "1e10",
    ];
    let mut bodies: Vec<String> = [
        "",
        " ",
        "\n",
        "{",
        "}",
        "[",
        "]",
        "{}",
        "[]",
        "null",
        "true",
        "false",
        "0",
        "-1",
        "1e999",
        "-0",
        "\"x\"",
        "\"\"",
        "{\"a\":1}",
        "{\"a\":}",
        "{,}",
        "{\"\":\"\"}",
        "[{}]",
        "[null]",
        "{\"rules\":null}",
        "{\"rules\":[null]}",
        "{\"rules\":[{}]}",
        "{\"rules\":[{\"day_of_week\":null}]}",
        "{\"rules\":[],\"overrides\":[{}]}",
        "{\"rules\":[],\"overrides\":[{\"date\":null}]}",
        "{\"rules\":[{\"day_of_week\":1e308,\"start_time\":\"09:00\",\"end_time\":\"10:00\"}]}",
        "{\"rules\":[{\"day_of_week\":-9223372036854775808,\"start_time\":\"09:00\",\"end_time\":\"10:00\"}]}",
        "{\"rules\":[{\"day_of_week\":18446744073709551616,\"start_time\":\"09:00\",\"end_time\":\"10:00\"}]}",
        "{\"slot_duration_minutes\":9223372036854775807}",
        "{\"slot_duration_minutes\":-9223372036854775808}",
        "{\"slot_interval_minutes\":0,\"slot_duration_minutes\":0}",
        "{\"booking_horizon_days\":1e308}",
        "{\"minimum_notice_minutes\":null,\"booking_horizon_days\":null}",
        "{\"name\":\"a\",\"name\":\"b\",\"email\":\"a@b\",\"timezone\":\"UTC\"}",
        "{\"name\":\"\\u0000\",\"email\":\"\\u0000@x\",\"timezone\":\"\\u0000\"}",
        "{\"name\":\"\\ud800\",\"email\":\"x@example.com\",\"timezone\":\"UTC\"}",
        "{\"name\":\"Zoë 🗓\",\"email\":\"zoë@exämple.com\",\"timezone\":\"Pacific/Chatham\"}",
        "{\"timezone\":\"Europe/Berlin\\u0000\"}",
        // Valid but for a NUL inside: PostgreSQL refuses NUL in text (it was a 500 there).
        "{\"name\":\"Dr \\u0000 X\",\"email\":\"nul@example.com\",\"timezone\":\"UTC\"}",
        "{\"reason\":\"moved\\u0000\"}",
        "{\"role\":\"admin\",\"subject_id\":null}",
        "{\"role\":\"expert\",\"subject_id\":\"\"}",
        "{\"integration_type\":null}",
        "{\"integration_type\":\"manual\\n\"}",
        "{\"reason\":null}",
        "{\"start_time\":null,\"end_time\":null}",
        "{\"expert_id\":null,\"client_id\":null,\"start_time\":null,\"end_time\":null}",
        "\u{feff}{}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    bodies.extend([deep_array, deep_object, big_string, too_big]);
    bodies.push(format!("{{\"reason\": \"{}\"}}", "r".repeat(50_000)));
    bodies.push(
        json!({
            "timezone": "Pacific/Kiritimati",
            "rules": [{"day_of_week": 0, "start_time": "00:00", "end_time": "24:00"}],
            "overrides": [
                {"date": "9999-12-31", "windows": [{"start_time": "00:00", "end_time": "24:00"}]},
                {"date": "-009999-01-01", "windows": [{"start_time": "00:00", "end_time": "24:00"}]}
            ]
        })
        .to_string(),
    );
    for s in instants {
        for (a, b) in [(s, start.as_str()), (start.as_str(), s), (s, s)] {
            bodies.push(json!({"expert_id": expert, "client_id": client, "start_time": a, "end_time": b}).to_string());
            bodies.push(json!({"start_time": a, "end_time": b}).to_string());
        }
    }
    bodies.push(
        json!({
            "expert_id": expert, "client_id": client,
            "start_time": "-009999-01-01T00:00:00Z", "end_time": "9999-12-31T23:59:59Z"
        })
        .to_string(),
    );
    let mut bytes: Vec<Vec<u8>> = bodies.into_iter().map(String::into_bytes).collect();
    bytes.push(vec![0xff, 0xfe, 0x7b, 0x7d]);
    bytes.push(b"{\"name\": \"\xc3\x28\", \"email\": \"x@example.com\", \"timezone\": \"UTC\"}".to_vec());
    bytes.push(vec![0; 64]);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_to_every_write_route_never_gives_a_5xx() {
    for db in databases("garbage_to_every_write_route_never_gives_a_5xx") {
        let l = db.label;
        let w = world(&db).await;
        let api = &w.server.api;
        let (e, a) = (&w.expert, &w.appointment);
        // The policy gets big buffers first, so that far-away times meet them.
        let p = api
            .put(
                &format!("/api/v1/experts/{e}/booking-policy"),
                ADMIN_TOKEN,
                json!({"buffer_before_minutes": 1440, "buffer_after_minutes": 1440, "booking_horizon_days": 730}),
            )
            .await;
        assert_eq!(p.status, 200, "{l}: {:?}", p.body);
        let routes = [
            (Method::POST, "/api/v1/experts".to_owned()),
            (Method::POST, "/api/v1/clients".to_owned()),
            (Method::POST, "/api/v1/tokens".to_owned()),
            (Method::PATCH, format!("/api/v1/experts/{e}")),
            (Method::PUT, format!("/api/v1/experts/{e}/availability")),
            (Method::PUT, format!("/api/v1/experts/{e}/booking-policy")),
            (Method::PUT, format!("/api/v1/experts/{e}/integration")),
            (Method::POST, "/api/v1/appointments".to_owned()),
            (Method::PATCH, format!("/api/v1/appointments/{a}")),
            (Method::POST, format!("/api/v1/appointments/{a}/cancel")),
        ];
        let bodies = garbage_bodies(e, &w.client, &w.day);
        let tokens = [ADMIN_TOKEN, w.expert_token.as_str(), w.client_token.as_str()];
        let content_types = [Some("application/json"), Some("text/plain"), None];
        let mut answers = 0;
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for (method, path) in &routes {
            for body in &bodies {
                for (i, token) in tokens.iter().enumerate() {
                    // Every token with JSON; the admin also with other content types.
                    let types: &[Option<&str>] = if i == 0 { &content_types } else { &content_types[..1] };
                    for ct in types {
                        let ans = send_bytes(api, method.clone(), path, Some(token), *ct, body.clone()).await;
                        let shown: String = String::from_utf8_lossy(body).chars().take(120).collect();
                        let ctx = format!("{l}: {method} {path} as #{i} ({ct:?}) with {shown:?}");
                        assert!(ans.status.as_u16() < 500, "{ctx}: {} {:?}", ans.status, ans.body);
                        if ans.status.is_success() {
                            assert!(ans.body.is_object(), "{ctx}: a success is JSON: {:?}", ans.body);
                        } else {
                            assert!(ans.status.is_client_error(), "{ctx}: {}", ans.status);
                            assert_error_shape(&ans, &ctx);
                        }
                        *statuses.entry(ans.status.as_u16()).or_default() += 1;
                        answers += 1;
                    }
                }
            }
        }
        assert!(answers > 2000, "{l}: {answers}");
        // The server still works afterwards.
        let r = api.call(Method::GET, "/readyz", None, None).await;
        assert_eq!(r.status, 200, "{l}");
        let (from, to) = (berlin(&w.day, "00:00"), berlin(&plus_days(&w.day, 1), "00:00"));
        let s = api
            .get(
                &format!("/api/v1/experts/{e}/slots?from={from}&to={to}"),
                &w.client_token,
            )
            .await;
        assert_eq!(s.status, 200, "{l}: {:?}", s.body);
        eprintln!("{l}: {answers} garbage requests, statuses {statuses:?}");
        w.server.stop().await;
    }
}

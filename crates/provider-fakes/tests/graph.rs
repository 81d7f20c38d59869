//! The Microsoft fake over real HTTP: OAuth with rotating refresh tokens, getSchedule,
//! calendarView, events with transactionId, throttling and the per-mailbox concurrency limit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use provider_fakes::graph::SCOPES;
use provider_fakes::oauth::RefreshRotation;
use provider_fakes::FakeGraph;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{authorize, call, get, pkce, post, post_form, REDIRECT_URI};

async fn connect(graph: &FakeGraph) -> Value {
    let (verifier, challenge) = pkce();
    let client_id = graph.client_id();
    let redirect = authorize(
        &graph.auth_url(),
        &[
            ("client_id", client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("response_mode", "query"),
            ("scope", SCOPES),
            ("state", "ms-state"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(redirect["state"], "ms-state");
    let exchange = |verifier: String| {
        let (url, code, id, secret) = (
            graph.token_url(),
            redirect["code"].clone(),
            graph.client_id(),
            graph.client_secret(),
        );
        async move {
            post_form(
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &id),
                    ("scope", SCOPES),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", &verifier),
                    ("client_secret", &secret),
                ],
            )
            .await
        }
    };
    let (status, body) = exchange("wrong-verifier".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_codes"], json!([70000]));
    let (status, body) = exchange(verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh(graph: &FakeGraph, refresh_token: &str) -> (StatusCode, Value) {
    post_form(
        &graph.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &graph.client_id()),
            ("scope", SCOPES),
            ("client_secret", &graph.client_secret()),
        ],
    )
    .await
}

fn utc(date_time: &str) -> Value {
    json!({"dateTime": date_time, "timeZone": "UTC"})
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refresh_rotates_the_refresh_token() {
    let graph = FakeGraph::start().await;
    let tokens = connect(&graph).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3599);
    let last = graph.last_authorize().unwrap();
    assert_eq!(last["response_mode"], "query");
    assert_eq!(last["code_challenge_method"], "S256");
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();

    let (status, refreshed) = refresh(&graph, &first).await;
    assert_eq!(status, StatusCode::OK);
    let second = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let (status, error) = refresh(&graph, &first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the rotated-out token is refused");
    assert_eq!(error["error"], "invalid_grant");
    assert_eq!(error["error_codes"], json!([70000]));
    let (status, refreshed) = refresh(&graph, &second).await;
    assert_eq!(status, StatusCode::OK);
    let third = refreshed["refresh_token"].as_str().unwrap().to_owned();
    let (status, me) = get(
        &format!("{}/me", graph.graph_base()),
        refreshed["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["mail"], "expert@contoso.example");

    // The log shows which refresh token each request used.
    let used: Vec<String> = graph
        .token_requests()
        .iter()
        .filter_map(|r| r.param("refresh_token").map(str::to_owned))
        .collect();
    assert_eq!(used, [first.clone(), first, second]);

    graph.set_refresh_rotation(RefreshRotation::RotateKeepOld);
    assert_eq!(refresh(&graph, &third).await.0, StatusCode::OK);
    assert_eq!(refresh(&graph, &third).await.0, StatusCode::OK);
    graph.revoke_grant();
    assert_eq!(refresh(&graph, &third).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_schedule_answers_in_utc_with_seven_decimals() {
    let graph = FakeGraph::start().await;
    graph
        .seed_schedule_item("busy", "2026-03-02T12:00:00Z", "2026-03-02T13:00:00Z")
        .unwrap();
    graph
        .seed_schedule_item("oof", "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z")
        .unwrap();
    graph
        .seed_schedule_item("tentative", "2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z")
        .unwrap();
    graph
        .seed_schedule_item("free", "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z")
        .unwrap();
    graph
        .seed_event(json!({
            "subject": "Berlin", "isCancelled": true,
            "start": {"dateTime": "2026-03-02T16:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-02T17:00:00", "timeZone": "W. Europe Standard Time"},
        }))
        .unwrap();
    let token = graph.issue_token(&["Calendars.ReadWrite", "User.Read"]).access_token;
    let url = format!("{}/me/calendar/getSchedule", graph.graph_base());
    let request = |end: &str| {
        json!({
            "schedules": ["expert@contoso.example", "other@contoso.example"],
            "startTime": utc("2026-03-02T08:00:00"),
            "endTime": utc(end),
            "availabilityViewInterval": 60,
        })
    };
    let response = support::http()
        .post(&url)
        .bearer_auth(&token)
        .header("Prefer", "outlook.timezone=\"UTC\"")
        .json(&request("2026-03-02T16:00:00"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let schedule = &body["value"][0];
    assert_eq!(schedule["scheduleId"], "expert@contoso.example");
    let items = schedule["scheduleItems"].as_array().unwrap();
    let statuses: Vec<&str> = items.iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["tentative", "free", "busy", "oof"],
        "by start; cancelled events are left out"
    );
    assert_eq!(
        items[2]["start"],
        json!({"dateTime": "2026-03-02T12:00:00.0000000", "timeZone": "UTC"})
    );
    assert_eq!(schedule["availabilityView"], "01002030");
    assert_eq!(schedule["workingHours"]["timeZone"]["name"], "Pacific Standard Time");
    assert_eq!(body["value"][1]["error"]["responseCode"], "5009");

    // Under 62 days passes; 62 days is too big.
    assert_eq!(
        post(&url, &token, &request("2026-05-02T07:59:00")).await.0,
        StatusCode::OK
    );
    let (status, error) = post(&url, &token, &request("2026-05-03T08:00:00")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "ErrorTimeIntervalTooBig");

    graph.set_personal_account(true);
    let (status, me) = get(&format!("{}/me", graph.graph_base()), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"].as_str().unwrap().len(), 16);
    assert_eq!(
        post(&url, &token, &request("2026-03-03T00:00:00")).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn calendar_view_pages_and_honours_prefer() {
    let graph = FakeGraph::start().await;
    for hour in 8..13 {
        graph
            .seed_event(json!({
                "subject": format!("at {hour}"),
                "showAs": if hour == 9 { "free" } else { "busy" },
                "isCancelled": hour == 10,
                "start": utc(&format!("2026-03-02T{hour:02}:00:00")),
                "end": utc(&format!("2026-03-02T{hour:02}:30:00")),
            }))
            .unwrap();
    }
    let token = graph.issue_token(&["Calendars.ReadWrite"]).access_token;
    let mut url = format!(
        "{}/me/calendarView?startDateTime=2026-03-02T00:00:00Z&endDateTime=2026-03-03T00:00:00Z&$top=2",
        graph.graph_base()
    );
    let mut seen = Vec::new();
    loop {
        let (status, page) = get(&url, &token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for event in page["value"].as_array().unwrap() {
            seen.push((
                event["start"]["dateTime"].as_str().unwrap().to_owned(),
                event["isCancelled"].as_bool().unwrap(),
            ));
            assert_eq!(event["start"]["timeZone"], "UTC");
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0].0, "2026-03-02T08:00:00.0000000");
    assert!(seen[2].1, "cancelled occurrences are listed with isCancelled");
    assert_eq!(graph.request_count("/v1.0/me/calendarView"), 3);

    let response = support::http()
        .get(format!(
            "{}/me/calendarView?startDateTime=2026-03-02T00:00:00Z&endDateTime=2026-03-03T00:00:00Z",
            graph.graph_base()
        ))
        .bearer_auth(&token)
        .header("Prefer", "outlook.timezone=\"W. Europe Standard Time\"")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["value"][0]["start"],
        json!({"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "W. Europe Standard Time"})
    );
    let (status, error) = get(&format!("{}/me/calendarView", graph.graph_base()), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "ErrorInvalidParameter");
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_id_makes_creates_idempotent() {
    let graph = FakeGraph::start().await;
    let token = graph.issue_token(&["Calendars.ReadWrite"]).access_token;
    let events = format!("{}/me/events", graph.graph_base());
    let event = json!({
        "subject": "Consult",
        "start": {"dateTime": "2026-03-02T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-02T10:30:00", "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": "c@x.com", "name": "C"}, "type": "required"}],
        "showAs": "busy",
        "transactionId": "7f0c1a52-appointment",
    });
    let (status, first) = post(&events, &token, &event).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for field in ["id", "iCalUId", "changeKey", "@odata.etag", "isCancelled", "webLink"] {
        assert!(first.get(field).is_some(), "the created event has {field}");
    }
    let (status, again) = post(&events, &token, &event).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(graph.events().len(), 1);

    let url = format!("{events}/{}", first["id"].as_str().unwrap());
    let (status, moved) = call(
        Method::PATCH,
        &url,
        &token,
        Some(&json!({"start": utc("2026-03-02T11:00:00"), "end": utc("2026-03-02T11:30:00")})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(moved["start"]["dateTime"], "2026-03-02T11:00:00.0000000");
    assert_ne!(moved["changeKey"], first["changeKey"]);
    assert_eq!(call(Method::DELETE, &url, &token, None).await.0, StatusCode::NO_CONTENT);
    let (status, error) = call(Method::DELETE, &url, &token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"]["code"], "ErrorItemNotFound");
    let (status, _) = call(Method::PATCH, &url, &token, Some(&json!({"subject": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_auth_errors() {
    let graph = FakeGraph::start().await;
    let token = graph.issue_token(&["User.Read"]).access_token;
    let me = format!("{}/me", graph.graph_base());
    graph.throttle_next(2, 7);
    for _ in 0..2 {
        let response = support::http().get(&me).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "TooManyRequests");
    }
    assert_eq!(get(&me, &token).await.0, StatusCode::OK);

    let (status, body) = get(&me, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    graph.expire_access_tokens();
    let (status, body) = get(&me, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"]["message"],
        "Lifetime validation failed, the token is expired."
    );
    graph.fail_next(1, 503);
    assert_eq!(get(&me, &token).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_four_concurrent_requests_are_refused() {
    let graph = FakeGraph::start().await;
    let token = graph.issue_token(&["User.Read"]).access_token;
    graph.set_latency(Duration::from_millis(400));
    let fire = |n: usize| {
        let (me, token) = (format!("{}/me", graph.graph_base()), token.clone());
        async move {
            let calls: Vec<_> = (0..n)
                .map(|_| {
                    let (me, token) = (me.clone(), token.clone());
                    tokio::spawn(async move { get(&me, &token).await.0 })
                })
                .collect();
            let mut statuses = Vec::new();
            for call in calls {
                statuses.push(call.await.unwrap());
            }
            statuses
        }
    };
    let statuses = fire(4).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    assert_eq!(graph.max_in_flight(), 4);

    let statuses = fire(6).await;
    assert_eq!(graph.max_in_flight(), 6);
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(),
        2,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_stays_down_until_restored() {
    let graph = FakeGraph::start().await;
    let token = graph.issue_token(&["User.Read"]).access_token;
    let me = format!("{}/me", graph.graph_base());
    graph.set_unavailable(true);
    for _ in 0..3 {
        let (status, body) = get(&me, &token).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "ServiceNotAvailable");
    }
    let issued = graph.issue_token(&["offline_access", "User.Read"]);
    let (status, _) = refresh(&graph, issued.refresh_token.as_deref().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the identity platform still answers");
    graph.set_unavailable(false);
    assert_eq!(get(&me, &token).await.0, StatusCode::OK);
}

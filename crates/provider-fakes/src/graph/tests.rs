//! The delta query and change notification subscriptions over real HTTP, with reqwest as the
//! client and a small loopback receiver for the validation handshake and notifications.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{FakeGraph, TENANT_ID};
use crate::harness::{self, lock, Listener, Params};
use crate::FakeError;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A call with a bearer token (None: without one) and Prefer headers; (status, JSON body or Null).
async fn call(
    method: Method,
    url: &str,
    token: Option<&str>,
    prefer: &[&str],
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = http().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for value in prefer {
        request = request.header("Prefer", *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn removed(page: &Value, id: &str) -> bool {
    page["value"].as_array().unwrap().iter().any(|e| {
        e["id"] == id
            && e["@removed"] == json!({"reason": "deleted"})
            && e["@odata.type"] == "#microsoft.graph.event"
            && e.get("subject").is_none()
    })
}

fn entry<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap()
}

fn utc(date_time: &str) -> Value {
    json!({"dateTime": date_time, "timeZone": "UTC"})
}

#[tokio::test(flavor = "multi_thread")]
async fn delta_pages_a_round_then_reports_exactly_the_changes() {
    let graph = FakeGraph::start().await;
    let bearer = graph.issue_token(&["Calendars.ReadWrite"]).access_token;
    let token = Some(bearer.as_str());
    let base = graph.graph_base();
    let seed = |start: &str, end: &str| graph.seed_schedule_item("busy", start, end).unwrap();
    let a = seed("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z");
    let b = seed("2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z");
    let c = seed("2026-03-02T13:00:00Z", "2026-03-02T14:00:00Z");
    let outside = seed("2026-03-05T09:00:00Z", "2026-03-05T10:00:00Z");

    let (status, error) = call(Method::GET, &format!("{base}/me/calendarView/delta"), token, &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "ErrorInvalidParameter");

    // First round, two per page; the window's end has no offset (UTC).
    let url =
        format!("{base}/me/calendarView/delta?startDateTime=2026-03-02T00:00:00Z&endDateTime=2026-03-03T00:00:00");
    let prefer = ["odata.maxpagesize=2, outlook.timezone=\"W. Europe Standard Time\""];
    let (status, page) = call(Method::GET, &url, token, &prefer, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#Collection(event)"
    );
    assert_eq!(ids(&page), [a.clone(), b.clone()]);
    let first = entry(&page, &a);
    assert_eq!(
        first["start"],
        json!({"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "W. Europe Standard Time"})
    );
    assert_eq!(first["showAs"], "busy");
    assert_eq!(first["isCancelled"], false);
    assert!(page.get("@odata.deltaLink").is_none());
    let next = page["@odata.nextLink"].as_str().unwrap().to_owned();
    let skip = next
        .strip_prefix(&format!("{base}/me/calendarView/delta?$skiptoken="))
        .unwrap();
    assert!(!skip.contains('&'), "the link carries only the token: {next}");

    // An event made while the client pages comes in the next round, not on this one.
    let d = seed("2026-03-02T15:00:00Z", "2026-03-02T16:00:00Z");
    let prefer = ["odata.maxpagesize=2", "outlook.timezone=\"UTC\""];
    let (status, page) = call(Method::GET, &next, token, &prefer, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page), [c.as_str()]);
    assert_eq!(entry(&page, &c)["start"], utc("2026-03-02T13:00:00.0000000"));
    assert!(page.get("@odata.nextLink").is_none());
    let delta_link = page["@odata.deltaLink"].as_str().unwrap().to_owned();
    assert!(delta_link.starts_with(&format!("{base}/me/calendarView/delta?$deltatoken=")));

    // Changes: through the API (update, delete, create, cancel) and by the user in Outlook.
    let events = format!("{base}/me/events");
    let (status, _) = call(
        Method::PATCH,
        &format!("{events}/{a}"),
        token,
        &[],
        Some(&json!({"subject": "Renamed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(Method::DELETE, &format!("{events}/{b}"), token, &[], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    graph
        .move_event(&c, "2026-03-04T13:00:00Z", "2026-03-04T14:00:00Z")
        .unwrap();
    graph
        .move_event(&outside, "2026-03-02T17:00:00Z", "2026-03-02T18:00:00Z")
        .unwrap();
    let new_event = json!({"subject": "New", "start": utc("2026-03-02T19:00:00"), "end": utc("2026-03-02T20:00:00")});
    let (status, created) = call(Method::POST, &events, token, &[], Some(&new_event)).await;
    assert_eq!(status, StatusCode::CREATED);
    let e = created["id"].as_str().unwrap().to_owned();
    let (_, cancelled) = call(Method::POST, &events, token, &[], Some(&new_event.clone())).await;
    let f = cancelled["id"].as_str().unwrap().to_owned();
    let (status, _) = call(Method::POST, &format!("{events}/{f}/cancel"), token, &[], None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let elsewhere =
        json!({"subject": "Elsewhere", "start": utc("2026-03-09T09:00:00"), "end": utc("2026-03-09T10:00:00")});
    let (_, elsewhere) = call(Method::POST, &events, token, &[], Some(&elsewhere)).await;
    let g = elsewhere["id"].as_str().unwrap().to_owned();

    // The next round: exactly the changed events, in change order; unknown parameters ignored.
    let (status, page) = call(
        Method::GET,
        &format!("{delta_link}&$select=subject&foo=bar"),
        token,
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        ids(&page),
        [
            d.clone(),
            a.clone(),
            b.clone(),
            c.clone(),
            outside.clone(),
            e.clone(),
            f.clone(),
            g.clone()
        ]
    );
    assert_eq!(entry(&page, &a)["subject"], "Renamed");
    assert_eq!(entry(&page, &outside)["start"], utc("2026-03-02T17:00:00.0000000"));
    assert_eq!(entry(&page, &e)["subject"], "New");
    for gone in [&b, &c, &f, &g] {
        assert!(removed(&page, gone), "{gone} is removed: {page}");
    }
    let delta_link = page["@odata.deltaLink"].as_str().unwrap().to_owned();

    // The same round paged one at a time gives the same events.
    graph.delete_event(&d).unwrap();
    let (_, page) = call(Method::GET, &delta_link, token, &["odata.maxpagesize=1"], None).await;
    assert_eq!(ids(&page), [d.as_str()]);
    assert!(removed(&page, &d));
    let delta_link = page["@odata.deltaLink"].as_str().unwrap().to_owned();
    let (_, page) = call(Method::GET, &delta_link, token, &[], None).await;
    assert_eq!(ids(&page), Vec::<String>::new());
    let old_link = page["@odata.deltaLink"].as_str().unwrap().to_owned();

    // The user's controls refuse what Outlook would not let them do.
    assert!(matches!(graph.delete_event("AAMkAGI2nope"), Err(FakeError::Unknown(_))));
    assert!(matches!(graph.delete_event(&b), Err(FakeError::InvalidSeed(_))));
    assert!(matches!(
        graph.move_event("AAMkAGI2nope", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"),
        Err(FakeError::Unknown(_))
    ));
    assert!(matches!(
        graph.move_event(&a, "tomorrow", "2026-03-02T10:00:00Z"),
        Err(FakeError::InvalidTime(_))
    ));

    // Tokens Graph cannot read, or from before the sync state was reset: 410 syncStateNotFound.
    for bad in [
        format!("{base}/me/calendarView/delta?$deltatoken=garbage"),
        format!("{base}/me/calendarView/delta?$skiptoken=garbage"),
        format!("{base}/me/calendarView/delta?%24deltatoken=bm90OmE6dG9rZW4"),
    ] {
        let (status, error) = call(Method::GET, &bad, token, &[], None).await;
        assert_eq!(status, StatusCode::GONE, "{bad}");
        assert_eq!(error["error"]["code"], "syncStateNotFound");
        assert_eq!(
            error["error"]["message"],
            "The sync state generation is not found. Please resync."
        );
    }
    let (_, page) = call(Method::GET, &url, token, &["odata.maxpagesize=1"], None).await;
    let old_next = page["@odata.nextLink"].as_str().unwrap().to_owned();
    graph.invalidate_delta_tokens();
    for old in [&old_link, &old_next] {
        let (status, error) = call(Method::GET, old, token, &[], None).await;
        assert_eq!(status, StatusCode::GONE);
        assert_eq!(error["error"]["code"], "syncStateNotFound");
    }
    // A new round works again (the default page size is 10): the live events in the window.
    let (status, page) = call(Method::GET, &url, token, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&page), [a.clone(), outside.clone(), e.clone()]);
    assert!(page.get("@odata.deltaLink").is_some());

    // Authentication, throttling and injected failures apply as to every Graph call.
    assert_eq!(
        call(Method::GET, &url, None, &[], None).await.1["error"]["code"],
        "InvalidAuthenticationToken"
    );
    graph.throttle_next(1, 7);
    let response = http().get(&url).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    graph.fail_next(1, 503);
    assert_eq!(
        call(Method::GET, &url, token, &[], None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(graph.request_count("/v1.0/me/calendarView/delta"), 16);
}

/// How the receiver answers a validation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handshake {
    /// 200 with the decoded token, as Graph wants.
    Echo,
    /// 200 with the token and a CRLF after it.
    TrailingCrLf,
    /// 202 with the token.
    Accepted,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    content_type: String,
    body: String,
}

#[derive(Debug)]
struct ReceiverState {
    handshake: Mutex<Handshake>,
    seen: Mutex<Vec<Seen>>,
}

/// A loopback receiver for webhooks: validation requests answer as `handshake` says,
/// notifications 202.
struct Receiver {
    state: Arc<ReceiverState>,
    listener: Listener,
}

impl Receiver {
    fn start() -> Self {
        let state = Arc::new(ReceiverState {
            handshake: Mutex::new(Handshake::Echo),
            seen: Mutex::new(Vec::new()),
        });
        let listener = harness::spawn(state.clone(), receive).unwrap();
        Receiver { state, listener }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.listener.base_url)
    }

    fn answer_handshakes(&self, handshake: Handshake) {
        *lock(&self.state.handshake) = handshake;
    }

    fn seen(&self) -> Vec<Seen> {
        lock(&self.state.seen).clone()
    }

    fn clear(&self) {
        lock(&self.state.seen).clear();
    }

    /// The JSON bodies of the notifications received at `path`.
    fn notifications(&self, path: &str) -> Vec<Value> {
        self.seen()
            .iter()
            .filter(|s| s.path == path && !s.query.contains("validationToken"))
            .map(|s| serde_json::from_str(&s.body).unwrap())
            .collect()
    }
}

async fn receive(req: HttpRequest, body: Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    lock(&state.seen).push(Seen {
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let query = Params::parse(req.query_string());
    match query.get("validationToken") {
        Some(token) => match *lock(&state.handshake) {
            Handshake::Echo => HttpResponse::Ok().content_type("text/plain").body(token.to_owned()),
            Handshake::TrailingCrLf => HttpResponse::Ok()
                .content_type("text/plain")
                .body(format!("{token}\r\n")),
            Handshake::Accepted => HttpResponse::Accepted()
                .content_type("text/plain")
                .body(token.to_owned()),
        },
        None => HttpResponse::Accepted().finish(),
    }
}

fn graph_instant(ts: Timestamp) -> String {
    crate::time::graph(ts, &jiff::tz::TimeZone::UTC) + "Z"
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_validate_their_urls_renew_delete_and_get_notifications() {
    let graph = FakeGraph::start().await;
    let token = graph.issue_token(&["Calendars.ReadWrite"]).access_token;
    let token = Some(token.as_str());
    let subscriptions = format!("{}/subscriptions", graph.graph_base());
    let receiver = Receiver::start();
    let hook = receiver.url("/hooks/graph?source=fake");
    let lifecycle = receiver.url("/hooks/lifecycle");
    let in_days = |days: i64| graph_instant(Timestamp::now() + SignedDuration::from_hours(24 * days));
    let request = json!({
        "changeType": "created,updated,deleted",
        "notificationUrl": hook,
        "lifecycleNotificationUrl": lifecycle,
        "resource": "me/events",
        "expirationDateTime": in_days(3),
        "clientState": "s3cret",
    });
    let post = |body: Value| {
        let url = subscriptions.clone();
        async move { call(Method::POST, &url, token, &[], Some(&body)).await }
    };

    // The handshake: both URLs get an empty text/plain POST with the token in the query.
    let (status, created) = post(request.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let handshakes = receiver.seen();
    assert_eq!(handshakes.len(), 2);
    assert_eq!(handshakes[0].path, "/hooks/graph");
    assert!(
        handshakes[0].query.starts_with("source=fake&validationToken="),
        "{}",
        handshakes[0].query
    );
    assert_eq!(handshakes[1].path, "/hooks/lifecycle");
    assert!(handshakes[1].query.starts_with("validationToken="));
    for handshake in &handshakes {
        assert_eq!(handshake.content_type, "text/plain; charset=utf-8");
        assert_eq!(handshake.body, "");
    }
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).map(|u| u.get_version_num()).ok(), Some(4));
    assert_eq!(
        created["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity"
    );
    assert_eq!(created["resource"], "me/events");
    assert_eq!(created["changeType"], "created,updated,deleted");
    assert_eq!(created["clientState"], "s3cret");
    assert_eq!(created["notificationUrl"], hook);
    assert_eq!(created["lifecycleNotificationUrl"], lifecycle);
    assert_eq!(created["expirationDateTime"], request["expirationDateTime"]);
    assert_eq!(created["applicationId"], graph.client_id());
    assert_eq!(created["latestSupportedTlsVersion"], "v1_2");
    assert_eq!(created["notificationContentType"], "application/json");
    let (_, me) = call(Method::GET, &format!("{}/me", graph.graph_base()), token, &[], None).await;
    assert_eq!(created["creatorId"], me["id"]);
    let stored = graph.subscriptions();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, id);
    assert_eq!(stored[0].client_state.as_deref(), Some("s3cret"));
    assert_eq!(
        stored[0].lifecycle_notification_url.as_deref(),
        Some(lifecycle.as_str())
    );
    assert!(!stored[0].deleted);

    // A receiver that answers anything but 200 and the exact token: 400, nothing stored.
    for handshake in [Handshake::TrailingCrLf, Handshake::Accepted] {
        receiver.answer_handshakes(handshake);
        let (status, error) = post(request.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["error"]["code"], "InvalidRequest");
        assert_eq!(
            error["error"]["message"],
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
        );
    }
    let nobody = json!({"notificationUrl": "http://127.0.0.1:9/nobody", "lifecycleNotificationUrl": null});
    let mut unreachable = request.clone();
    unreachable
        .as_object_mut()
        .unwrap()
        .extend(nobody.as_object().unwrap().clone());
    receiver.answer_handshakes(Handshake::Echo);
    assert_eq!(post(unreachable).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(graph.subscriptions().len(), 1);

    // Requests Graph refuses before any handshake.
    receiver.clear();
    let variant = |field: &str, value: Value| {
        let mut body = request.clone();
        body[field] = value;
        body
    };
    for (body, code, message) in [
        (
            variant("changeType", json!("created,moved")),
            "ValidationError",
            "Invalid changeType",
        ),
        (
            variant("changeType", json!("")),
            "ValidationError",
            "Invalid changeType",
        ),
        (
            variant("resource", json!("me/messages")),
            "InvalidRequest",
            "Unsupported resource",
        ),
        (
            variant("notificationUrl", json!("http://example.com/hook")),
            "InvalidRequest",
            "The Notification Url must use HTTPS",
        ),
        (
            variant("lifecycleNotificationUrl", json!("http://example.com/hook")),
            "InvalidRequest",
            "The Notification Url must use HTTPS",
        ),
        (
            variant("expirationDateTime", json!(in_days(8))),
            "InvalidRequest",
            "Subscription expiration can only be 10080 minutes in the future.",
        ),
        (
            variant("expirationDateTime", json!(in_days(-1))),
            "InvalidRequest",
            "Subscription expiration can only be 10080 minutes in the future.",
        ),
        (
            variant("clientState", json!("x".repeat(129))),
            "InvalidRequest",
            "clientState must be a string of at most 128 characters.",
        ),
    ] {
        let (status, error) = post(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["error"]["code"], code, "{body}");
        assert_eq!(error["error"]["message"], message, "{body}");
    }
    assert!(receiver.seen().is_empty());

    // A second subscription, deletions only, with neither clientState nor lifecycle URL.
    let (status, second) = post(json!({
        "changeType": "deleted",
        "notificationUrl": receiver.url("/hooks/second"),
        "resource": "/me/events",
        "expirationDateTime": in_days(7),
    }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = second["id"].as_str().unwrap().to_owned();

    // Notifications go to the subscriptions that watch the change type.
    let event = graph
        .seed_schedule_item("busy", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z")
        .unwrap();
    receiver.clear();
    assert_eq!(graph.notify("created", &event).await, [(id.clone(), 202)]);
    let received = receiver.notifications("/hooks/graph");
    assert_eq!(received.len(), 1);
    let item = &received[0]["value"][0];
    let resource = format!("Users/{}/Events/{event}", me["id"].as_str().unwrap());
    assert_eq!(item["subscriptionId"], id);
    assert_eq!(item["subscriptionExpirationDateTime"], created["expirationDateTime"]);
    assert_eq!(item["changeType"], "created");
    assert_eq!(item["clientState"], "s3cret");
    assert_eq!(item["tenantId"], TENANT_ID);
    assert_eq!(item["resource"], resource);
    assert_eq!(item["resourceData"]["@odata.type"], "#Microsoft.Graph.Event");
    assert_eq!(item["resourceData"]["@odata.id"], resource);
    assert_eq!(item["resourceData"]["id"], event);
    assert_eq!(item["resourceData"]["@odata.etag"], graph.events()[0]["@odata.etag"]);
    assert!(receiver.seen().iter().all(|s| s.content_type == "application/json"));
    receiver.clear();
    assert_eq!(
        graph.notify("deleted", &event).await,
        [(id.clone(), 202), (second.clone(), 202)]
    );
    let to_second = receiver.notifications("/hooks/second");
    assert!(to_second[0]["value"][0].get("clientState").is_none());

    // Renewal: PATCH sets a new expiration (same limits); no handshake.
    receiver.clear();
    let renew = json!({"expirationDateTime": in_days(6)});
    let (status, renewed) = call(
        Method::PATCH,
        &format!("{subscriptions}/{id}"),
        token,
        &[],
        Some(&renew),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["expirationDateTime"], renew["expirationDateTime"]);
    assert_eq!(renewed["id"], id);
    assert!(receiver.seen().is_empty());
    let too_far = json!({"expirationDateTime": in_days(8)});
    let (status, error) = call(
        Method::PATCH,
        &format!("{subscriptions}/{id}"),
        token,
        &[],
        Some(&too_far),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "InvalidRequest");
    let (status, error) = call(
        Method::PATCH,
        &format!("{subscriptions}/{}", uuid::Uuid::new_v4()),
        token,
        &[],
        Some(&renew),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"]["code"], "ResourceNotFound");
    assert_eq!(error["error"]["message"], "The object was not found.");
    let (status, fetched) = call(Method::GET, &format!("{subscriptions}/{id}"), token, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["expirationDateTime"], renew["expirationDateTime"]);

    // Lifecycle notifications go to the lifecycle URL only.
    assert_eq!(graph.send_lifecycle(&id, "reauthorizationRequired").await, 202);
    let lifecycle_item = receiver.notifications("/hooks/lifecycle")[0]["value"][0].clone();
    assert_eq!(lifecycle_item["lifecycleEvent"], "reauthorizationRequired");
    assert_eq!(lifecycle_item["subscriptionId"], id);
    assert_eq!(lifecycle_item["clientState"], "s3cret");
    assert_eq!(lifecycle_item["tenantId"], TENANT_ID);
    assert_eq!(
        lifecycle_item["subscriptionExpirationDateTime"],
        renew["expirationDateTime"]
    );
    assert_eq!(
        graph.send_lifecycle(&second, "reauthorizationRequired").await,
        0,
        "no lifecycle URL"
    );
    assert_eq!(graph.send_lifecycle("unknown", "missed").await, 0);

    // An expired subscription cannot be renewed and gets no notifications.
    graph.expire_subscription(&id);
    let (status, _) = call(
        Method::PATCH,
        &format!("{subscriptions}/{id}"),
        token,
        &[],
        Some(&renew),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(graph.notify("deleted", &event).await, [(second.clone(), 202)]);

    // DELETE: 204, then 404 for DELETE, GET and PATCH.
    let url = format!("{subscriptions}/{second}");
    assert_eq!(
        call(Method::DELETE, &url, token, &[], None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(Method::DELETE, &url, token, &[], None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(call(Method::GET, &url, token, &[], None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        call(Method::PATCH, &url, token, &[], Some(&renew)).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(graph.subscriptions()[1].deleted);
    assert!(graph.notify("deleted", &event).await.is_empty());

    // subscriptionRemoved: Graph removed the subscription, then tells the lifecycle URL.
    let (status, third) = post(request.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let third = third["id"].as_str().unwrap().to_owned();
    receiver.clear();
    assert_eq!(graph.send_lifecycle(&third, "subscriptionRemoved").await, 202);
    assert_eq!(
        receiver.notifications("/hooks/lifecycle")[0]["value"][0]["lifecycleEvent"],
        "subscriptionRemoved"
    );
    assert!(graph.subscriptions()[2].deleted);
    assert_eq!(
        call(Method::GET, &format!("{subscriptions}/{third}"), token, &[], None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(graph.send_lifecycle(&third, "subscriptionRemoved").await, 0);

    // Authentication and throttling apply as to every Graph call.
    let (status, error) = call(Method::POST, &subscriptions, None, &[], Some(&request)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"]["code"], "InvalidAuthenticationToken");
    graph.throttle_next(1, 3);
    assert_eq!(post(request.clone()).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(graph.subscriptions().len(), 3);
}

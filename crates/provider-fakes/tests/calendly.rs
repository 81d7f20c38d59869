//! The Calendly fake over real HTTP: OAuth with single-use refresh tokens, available times and
//! their limits, direct booking, cancellation, webhooks signed as Calendly signs them, rate limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use provider_fakes::calendly::Signature;
use provider_fakes::FakeCalendly;
use reqwest::StatusCode;
use ring::hmac;
use serde_json::{json, Value};
use support::{authorize, get, pkce, post, REDIRECT_URI};

const NOW: &str = "2026-03-01T00:00:00Z";

async fn basic_token(calendly: &FakeCalendly, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = support::http()
        .post(calendly.token_url())
        .basic_auth(calendly.client_id(), Some(calendly.client_secret()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn times(body: &Value) -> Vec<String> {
    body["collection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["start_time"].as_str().unwrap().to_owned())
        .collect()
}

/// A fake with one 30-minute event type offering 09:00, 09:30 and 10:00 on 2026-03-02 (UTC).
async fn calendly_with_slots() -> (FakeCalendly, String, String) {
    let calendly = FakeCalendly::start().await;
    calendly.set_now(NOW).unwrap();
    let event_type = calendly.add_event_type("Consult", 30);
    calendly
        .seed_available_times(
            &event_type,
            &["2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z", "2026-03-02T10:00:00Z"],
        )
        .unwrap();
    let token = calendly.personal_access_token(&[]);
    (calendly, event_type, token)
}

fn available_url(calendly: &FakeCalendly, event_type: &str, start: &str, end: &str) -> String {
    let query =
        serde_urlencoded::to_string([("event_type", event_type), ("start_time", start), ("end_time", end)]).unwrap();
    format!("{}/event_type_available_times?{query}", calendly.api_base())
}

fn booking(event_type: &str, start: &str) -> Value {
    json!({
        "event_type": event_type,
        "start_time": start,
        "invitee": {"name": "Ann Lee", "email": "ann@x.com", "timezone": "Europe/Berlin"},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn code_flow_with_basic_auth_and_single_use_refresh_tokens() {
    let calendly = FakeCalendly::start().await;
    let (verifier, challenge) = pkce();
    let client_id = calendly.client_id();
    let params = [
        ("client_id", client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "c-state"),
    ];
    let redirect = authorize(&calendly.auth_url(), &params).await;
    let code = redirect["code"].clone();
    let exchange = |verifier: String| {
        let (calendly, code) = (calendly.clone(), code.clone());
        async move {
            basic_token(
                &calendly,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    let (status, body) = exchange("bad-verifier".into()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, tokens) = exchange(verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["expires_in"], 7200);
    assert_eq!(tokens["owner"], calendly.user_uri());
    assert_eq!(tokens["organization"], calendly.organization_uri());
    assert!(tokens["created_at"].is_i64());
    assert_eq!(calendly.token_requests()[1].basic_auth.as_ref().unwrap().0, client_id);

    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed) =
        basic_token(&calendly, &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!(status, StatusCode::OK);
    let second = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let (status, body) = basic_token(&calendly, &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "single use"
    );
    let (status, me) = get(
        &format!("{}/users/me", calendly.api_base()),
        refreshed["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["resource"]["uri"], calendly.user_uri());

    // The form may carry the client credentials too; revoking ends the grant.
    let secret = calendly.client_secret();
    let revoke = support::http()
        .post(calendly.revoke_url())
        .form(&[
            ("token", second.as_str()),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    let (status, body) = support::post_form(
        &calendly.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &second),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = get(
        &format!("{}/users/me", calendly.api_base()),
        refreshed["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["title"], "Unauthenticated");
}

#[tokio::test(flavor = "multi_thread")]
async fn available_times_refuse_the_past_and_long_spans() {
    let (calendly, event_type, token) = calendly_with_slots().await;
    let (status, body) = get(
        &available_url(&calendly, &event_type, "2026-03-01T12:00:00Z", "2026-03-08T12:00:00Z"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        times(&body),
        [
            "2026-03-02T09:00:00.000000Z",
            "2026-03-02T09:30:00.000000Z",
            "2026-03-02T10:00:00.000000Z"
        ]
    );
    assert_eq!(body["collection"][0]["status"], "available");
    assert_eq!(body["collection"][0]["invitees_remaining"], 1);
    assert!(body.get("pagination").is_none(), "no pagination");

    let (status, body) = get(
        &available_url(&calendly, &event_type, "2026-02-28T12:00:00Z", "2026-03-02T12:00:00Z"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["title"], "Invalid Argument");
    assert_eq!(body["details"][0]["parameter"], "start_time");

    let eight_days = available_url(&calendly, &event_type, "2026-03-01T12:00:00Z", "2026-03-09T12:00:00Z");
    let (status, body) = get(&eight_days, &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["parameter"], "end_time");
    calendly.set_max_span_days(31);
    assert_eq!(get(&eight_days, &token).await.0, StatusCode::OK);

    // External busy time removes the offered times it overlaps.
    calendly
        .seed_external_busy("2026-03-02T09:15:00Z", "2026-03-02T09:45:00Z")
        .unwrap();
    let (_, body) = get(&eight_days, &token).await;
    assert_eq!(times(&body), ["2026-03-02T10:00:00.000000Z"]);
    let busy_url = format!(
        "{}/user_busy_times?{}",
        calendly.api_base(),
        serde_urlencoded::to_string([
            ("user", calendly.user_uri().as_str()),
            ("start_time", "2026-03-02T00:00:00Z"),
            ("end_time", "2026-03-03T00:00:00Z")
        ])
        .unwrap()
    );
    let (status, busy) = get(&busy_url, &token).await;
    assert_eq!(status, StatusCode::OK, "{busy}");
    assert_eq!(busy["collection"][0]["type"], "external");
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_booking_cancellation_and_listing() {
    let (calendly, event_type, token) = calendly_with_slots().await;
    let api = calendly.api_base();
    let (status, created) = post(
        &format!("{api}/invitees"),
        &token,
        &booking(&event_type, "2026-03-02T09:00:00Z"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let invitee = &created["resource"];
    let event_uri = invitee["event"].as_str().unwrap().to_owned();
    assert!(event_uri.starts_with(&format!("{api}/scheduled_events/")));
    assert!(invitee["uri"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{event_uri}/invitees/")));
    assert_eq!(invitee["status"], "active");

    let (status, body) = post(
        &format!("{api}/invitees"),
        &token,
        &booking(&event_type, "2026-03-02T09:00:00Z"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["code"], "already_filled");
    let (_, available) = get(
        &available_url(&calendly, &event_type, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
        &token,
    )
    .await;
    assert_eq!(
        times(&available),
        ["2026-03-02T09:30:00.000000Z", "2026-03-02T10:00:00.000000Z"]
    );

    // Listing: filters, sort and pages.
    post(
        &format!("{api}/invitees"),
        &token,
        &booking(&event_type, "2026-03-02T10:00:00Z"),
    )
    .await;
    let list = |extra: &str| {
        format!(
            "{api}/scheduled_events?{}{extra}",
            serde_urlencoded::to_string([
                ("user", calendly.user_uri().as_str()),
                ("status", "active"),
                ("invitee_email", "ann@x.com"),
                ("sort", "start_time:desc"),
                ("count", "1")
            ])
            .unwrap()
        )
    };
    let (status, first) = get(&list(""), &token).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["collection"][0]["start_time"], "2026-03-02T10:00:00.000000Z");
    let next_page = first["pagination"]["next_page"].as_str().unwrap().to_owned();
    let (_, second) = get(&next_page, &token).await;
    assert_eq!(second["collection"][0]["uri"], event_uri);
    assert!(second["pagination"]["next_page"].is_null());
    let token_param = format!(
        "&page_token={}",
        first["pagination"]["next_page_token"].as_str().unwrap()
    );
    assert_eq!(
        get(&list(&token_param), &token).await.1["collection"],
        second["collection"]
    );

    // Cancel once (201), twice (403).
    let uuid = event_uri.rsplit('/').next().unwrap();
    let cancel = format!("{api}/scheduled_events/{uuid}/cancellation");
    let (status, body) = post(&cancel, &token, &json!({"reason": "client asked"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["resource"]["reason"], "client asked");
    let (status, body) = post(&cancel, &token, &json!({"reason": "again"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["message"], "Event is already canceled");
    assert_eq!(calendly.invitees()[0]["status"], "canceled");
    let (_, available) = get(
        &available_url(&calendly, &event_type, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
        &token,
    )
    .await;
    assert_eq!(times(&available).len(), 2, "the canceled slot is offered again");

    // Without direct booking: 403, and a scheduling link instead.
    calendly.set_direct_booking(false);
    let (status, body) = post(
        &format!("{api}/invitees"),
        &token,
        &booking(&event_type, "2026-03-02T09:30:00Z"),
    )
    .await;
    assert_eq!(
        (status, body["title"].as_str()),
        (StatusCode::FORBIDDEN, Some("Permission Denied"))
    );
    let (status, link) = post(
        &format!("{api}/scheduling_links"),
        &token,
        &json!({"max_event_count": 1, "owner": event_type, "owner_type": "EventType"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let booking_url = link["resource"]["booking_url"].as_str().unwrap().to_owned();
    assert!(booking_url.starts_with(&format!("{api}/d/")), "{booking_url}");
    // The client books at the link's page, at any time offered; the link books once.
    let invitee = calendly
        .book_with_scheduling_link(&booking_url, "2026-03-02T09:00:00Z", "Ann Lee", "ann@x.com", "UTC")
        .unwrap();
    assert!(invitee.contains("/invitees/"), "{invitee}");
    let booked_at_link = calendly
        .scheduled_events()
        .into_iter()
        .find(|e| e["status"] == "active" && e["start_time"] == "2026-03-02T09:00:00.000000Z");
    assert!(booked_at_link.is_some(), "{:?}", calendly.scheduled_events());
    assert!(calendly
        .book_with_scheduling_link(&booking_url, "2026-03-02T09:30:00Z", "Ann Lee", "ann@x.com", "UTC")
        .is_err());
    assert_eq!(calendly.scheduling_links()[0]["event_count"], 1);
    assert!(calendly
        .book_with_scheduling_link(
            &format!("{api}/d/unknown/consult"),
            "2026-03-02T09:30:00Z",
            "A",
            "a@x.com",
            "UTC"
        )
        .is_err());

    // Past events cannot be canceled.
    calendly.set_now("2026-03-05T00:00:00Z").unwrap();
    let other = calendly
        .scheduled_events()
        .into_iter()
        .find(|e| e["status"] == "active")
        .unwrap();
    let uuid = other["uri"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (status, body) = post(
        &format!("{api}/scheduled_events/{uuid}/cancellation"),
        &token,
        &json!({}),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::FORBIDDEN, Some("Event in the past"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_event_types_and_rate_limits() {
    let (calendly, event_type, _) = calendly_with_slots().await;
    let api = calendly.api_base();
    let read_only = calendly.personal_access_token(&["event_types:read"]);
    let url = format!(
        "{api}/event_types?{}",
        serde_urlencoded::to_string([
            ("user", calendly.user_uri().as_str()),
            ("active", "true"),
            ("count", "100")
        ])
        .unwrap()
    );
    let (status, body) = get(&url, &read_only).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["collection"][0]["uri"], event_type);
    assert_eq!(body["collection"][0]["duration"], 30);
    assert_eq!(body["pagination"]["count"], 100);
    let (status, body) = post(
        &format!("{api}/invitees"),
        &read_only,
        &booking(&event_type, "2026-03-02T09:00:00Z"),
    )
    .await;
    assert_eq!(
        (status, body["title"].as_str()),
        (StatusCode::FORBIDDEN, Some("Permission Denied"))
    );

    calendly.set_rate_limit(3, 60);
    let mut remaining = Vec::new();
    for _ in 0..4 {
        let response = support::http().get(&url).bearer_auth(&read_only).send().await.unwrap();
        assert!(response.headers().contains_key("x-ratelimit-reset"));
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        remaining.push((
            response.status(),
            response.headers()["x-ratelimit-remaining"].to_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        remaining,
        [
            (StatusCode::OK, "2".into()),
            (StatusCode::OK, "1".into()),
            (StatusCode::OK, "0".into()),
            (StatusCode::TOO_MANY_REQUESTS, "0".into())
        ]
    );
    calendly.set_rate_limit(100, 60);
    calendly.throttle_next(1);
    assert_eq!(get(&url, &read_only).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(get(&url, &read_only).await.0, StatusCode::OK);
    calendly.fail_next(1, 503);
    assert_eq!(get(&url, &read_only).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calendly.request_count("/event_types"), 8);
}

/// Each delivery's signature header and raw body.
type Received = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// A receiver that records each delivery.
async fn receiver() -> (String, Received) {
    let seen: Received = Arc::default();
    let data = web::Data::new(seen.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).default_service(web::to(
            |req: HttpRequest, body: web::Bytes, seen: web::Data<Received>| async move {
                let header = req
                    .headers()
                    .get("calendly-webhook-signature")
                    .map(|v| v.to_str().unwrap().to_owned());
                seen.lock().unwrap().push((header, body.to_vec()));
                HttpResponse::Ok().finish()
            },
        ))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}/webhooks/calendly", server.addrs()[0]);
    tokio::spawn(server.run());
    (url, seen)
}

/// Verifies a delivery independently of the fake: HMAC-SHA256 over `t.body`, at most 180 s old.
fn verify(key: &str, header: Option<&str>, body: &[u8]) -> bool {
    let Some(header) = header else { return false };
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let fresh = (jiff::Timestamp::now().as_second() - t).abs() <= 180;
    fresh && hmac::verify(&key, &signed, &v1).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_are_signed_like_calendly() {
    let (calendly, event_type, token) = calendly_with_slots().await;
    let (url, seen) = receiver().await;
    let subscription = json!({
        "url": url,
        "events": ["invitee.created", "invitee.canceled"],
        "organization": calendly.organization_uri(),
        "user": calendly.user_uri(),
        "scope": "user",
        "signing_key": "k3y-for-tests",
    });
    let hooks = format!("{}/webhook_subscriptions", calendly.api_base());
    let (status, created) = post(&hooks, &token, &subscription).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["resource"]["callback_url"], url);
    assert_eq!(post(&hooks, &token, &subscription).await.0, StatusCode::CONFLICT);

    // A booking made on Calendly's own pages, then its cancellation, each delivered once.
    let invitee = calendly
        .book_as_invitee(&event_type, "2026-03-02T09:30:00Z", "Bo", "bo@x.com", "UTC")
        .unwrap();
    let deliveries = calendly
        .deliver_to_subscriptions("invitee.created", &invitee)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, 200);
    calendly.cancel_as_invitee(&invitee, "cannot make it").unwrap();
    calendly
        .deliver_to_subscriptions("invitee.canceled", &invitee)
        .await
        .unwrap();
    for kind in [
        Signature::WrongKey,
        Signature::AlteredBody,
        Signature::Stale,
        Signature::Missing,
    ] {
        calendly
            .deliver_webhook(&url, "k3y-for-tests", "invitee.created", &invitee, kind)
            .await
            .unwrap();
    }

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6);
    let verdicts: Vec<bool> = seen
        .iter()
        .map(|(h, b)| verify("k3y-for-tests", h.as_deref(), b))
        .collect();
    assert_eq!(verdicts, [true, true, false, false, false, false]);
    let created: Value = serde_json::from_slice(&seen[0].1).unwrap();
    assert_eq!(created["event"], "invitee.created");
    let payload = &created["payload"];
    assert_eq!(payload["uri"], invitee);
    for field in [
        "event",
        "email",
        "name",
        "status",
        "timezone",
        "rescheduled",
        "cancel_url",
        "reschedule_url",
    ] {
        assert!(payload.get(field).is_some(), "payload has {field}");
    }
    assert!(payload.get("cancellation").is_none());
    let canceled: Value = serde_json::from_slice(&seen[1].1).unwrap();
    assert_eq!(canceled["event"], "invitee.canceled");
    assert_eq!(canceled["payload"]["status"], "canceled");
    assert_eq!(canceled["payload"]["cancellation"]["reason"], "cannot make it");
    let altered: Value = serde_json::from_slice(&seen[3].1).unwrap();
    assert_eq!(altered["payload"]["email"], "attacker@example.com");

    let uuid = calendly.webhook_subscriptions()[0]
        .uri
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let delete = support::call(reqwest::Method::DELETE, &format!("{hooks}/{uuid}"), &token, None).await;
    assert_eq!(delete.0, StatusCode::NO_CONTENT);
    assert_eq!(
        support::call(reqwest::Method::DELETE, &format!("{hooks}/{uuid}"), &token, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

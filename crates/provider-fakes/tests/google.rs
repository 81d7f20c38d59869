//! The Google fake over real HTTP: OAuth with PKCE, refresh and revoke, freeBusy, events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use provider_fakes::google::{SCOPE_CALENDARLIST_READONLY, SCOPE_EVENTS, SCOPE_FREEBUSY};
use provider_fakes::FakeGoogle;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{authorize, call, get, pkce, post, post_form, REDIRECT_URI};

/// Connects like the server does; returns (access, refresh, the token response).
async fn connect(google: &FakeGoogle, scopes: &str) -> (String, String, Value) {
    let (verifier, challenge) = pkce();
    let client_id = google.client_id();
    let redirect = authorize(
        &google.auth_url(),
        &[
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", scopes),
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("state", "state-1"),
            ("include_granted_scopes", "true"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(redirect["state"], "state-1");
    let secret = google.client_secret();
    let (status, body) = post_form(
        &google.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    (access, refresh, body)
}

async fn refresh(google: &FakeGoogle, refresh_token: &str) -> (StatusCode, Value) {
    post_form(
        &google.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &google.client_id()),
            ("client_secret", &google.client_secret()),
        ],
    )
    .await
}

fn freebusy_body(min: &str, max: &str, ids: &[&str]) -> Value {
    json!({
        "timeMin": min,
        "timeMax": max,
        "timeZone": "UTC",
        "items": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn code_flow_with_pkce() {
    let google = FakeGoogle::start().await;
    let scopes = format!("{SCOPE_EVENTS} {SCOPE_FREEBUSY}");
    let (access, _refresh, body) = connect(&google, &scopes).await;
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"].as_str().unwrap().split(' ').count(), 2);
    let last = google.last_authorize().unwrap();
    assert_eq!(last["access_type"], "offline");
    assert_eq!(last["prompt"], "consent");
    assert_eq!(last["code_challenge_method"], "S256");
    let (status, _) = get(&format!("{}/users/me/calendarList", google.api_base()), &access).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "calendarList scope was not granted");

    // A wrong verifier, a reused code and a wrong redirect URI are all invalid_grant.
    let (verifier, challenge) = pkce();
    let client_id = google.client_id();
    let params = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", scopes.as_str()),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = authorize(&google.auth_url(), &params).await["code"].clone();
    let exchange = |verifier: String, redirect: &'static str| {
        let (url, code, id, secret) = (
            google.token_url(),
            code.clone(),
            google.client_id(),
            google.client_secret(),
        );
        async move {
            post_form(
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    let (status, body) = exchange("not-the-verifier".into(), REDIRECT_URI).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = exchange(verifier.clone(), "http://127.0.0.1:9/elsewhere").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = exchange(verifier.clone(), REDIRECT_URI).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "no access_type=offline, no refresh token"
    );
    let (status, body) = exchange(verifier, REDIRECT_URI).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // A wrong client secret is invalid_client.
    let (status, body) = post_form(
        &google.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client_id),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert_eq!(google.token_requests().len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn consent_denied_and_second_consent_without_prompt() {
    let google = FakeGoogle::start().await;
    google.deny_next_consent();
    let client_id = google.client_id();
    let base = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", SCOPE_FREEBUSY),
        ("state", "st"),
        ("access_type", "offline"),
    ];
    let denied = authorize(&google.auth_url(), &base).await;
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(denied["state"], "st");
    assert!(!denied.contains_key("code"));

    // The first offline consent gets a refresh token; a second one without prompt=consent does not.
    for expect_refresh in [true, false] {
        let code = authorize(&google.auth_url(), &base).await["code"].clone();
        let (status, body) = post_form(
            &google.token_url(),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", &client_id),
                ("client_secret", &google.client_secret()),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.get("refresh_token").is_some(), expect_refresh, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_keeps_the_refresh_token_and_revoke_ends_the_grant() {
    let google = FakeGoogle::start().await;
    let (access, refresh_token, _) = connect(&google, SCOPE_FREEBUSY).await;
    let url = format!("{}/freeBusy", google.api_base());
    let body = freebusy_body("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", &["primary"]);

    google.expire_access_tokens();
    let (status, error) = post(&url, &access, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"]["errors"][0]["reason"], "authError");
    assert_eq!(error["error"]["code"], 401);
    for _ in 0..2 {
        let (status, refreshed) = refresh(&google, &refresh_token).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            refreshed.get("refresh_token").is_none(),
            "Google keeps the refresh token"
        );
        let (status, _) = post(&url, refreshed["access_token"].as_str().unwrap(), &body).await;
        assert_eq!(status, StatusCode::OK);
    }

    let revoke = support::http()
        .post(format!("{}?token={refresh_token}", google.revoke_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    let (status, error) = refresh(&google, &refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );

    // revoke_grant() does the same for a fresh connection.
    let (access, refresh_token, _) = connect(&google, SCOPE_FREEBUSY).await;
    google.revoke_grant();
    assert_eq!(post(&url, &access, &body).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&google, &refresh_token).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&url, "").await.0, StatusCode::NOT_FOUND, "GET freeBusy is no route");
    assert_eq!(post(&url, "", &body).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_redirect_is_a_302() {
    let google = FakeGoogle::start().await;
    google.set_token_endpoint_redirect(Some("http://127.0.0.1:9/steal"));
    let response = support::http()
        .post(google.token_url())
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "http://127.0.0.1:9/steal");
    assert_eq!(google.token_requests()[0].status, 302);
}

#[tokio::test(flavor = "multi_thread")]
async fn freebusy_blocks_timed_all_day_and_multi_day_events_but_not_transparent_ones() {
    let google = FakeGoogle::start().await;
    google.set_calendar_time_zone("primary", "Europe/Berlin").unwrap();
    google
        .seed_busy(
            "primary",
            &[
                ("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"),
                ("2026-03-02T09:30:00Z", "2026-03-02T11:00:00Z"),
            ],
        )
        .unwrap();
    // All-day on the 4th in Berlin: 2026-03-03T23:00Z to 2026-03-04T23:00Z.
    google
        .add_event(
            "primary",
            json!({"start": {"date": "2026-03-04"}, "end": {"date": "2026-03-05"}}),
        )
        .unwrap();
    google
        .add_event(
            "primary",
            json!({"start": {"dateTime": "2026-03-06T22:00:00+01:00"}, "end": {"dateTime": "2026-03-08T10:00:00+01:00"}}),
        )
        .unwrap();
    google
        .add_event(
            "primary",
            json!({"transparency": "transparent", "start": {"dateTime": "2026-03-02T13:00:00Z"}, "end": {"dateTime": "2026-03-02T14:00:00Z"}}),
        )
        .unwrap();
    google
        .add_event(
            "primary",
            json!({"status": "cancelled", "start": {"dateTime": "2026-03-02T15:00:00Z"}, "end": {"dateTime": "2026-03-02T16:00:00Z"}}),
        )
        .unwrap();
    let token = google.issue_token(&[SCOPE_FREEBUSY]).access_token;
    let url = format!("{}/freeBusy", google.api_base());
    let (status, body) = post(
        &url,
        &token,
        &freebusy_body(
            "2026-03-02T00:00:00Z",
            "2026-03-08T00:00:00Z",
            &["primary", "nobody@example.com"],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "calendar#freeBusy");
    assert_eq!(
        body["calendars"]["primary"]["busy"],
        json!([
            {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T11:00:00Z"},
            {"start": "2026-03-03T23:00:00Z", "end": "2026-03-04T23:00:00Z"},
            {"start": "2026-03-06T21:00:00Z", "end": "2026-03-08T00:00:00Z"},
        ])
    );
    assert_eq!(
        body["calendars"]["nobody@example.com"],
        json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
    );

    // 90 days pass, 91 do not.
    let ok = post(
        &url,
        &token,
        &freebusy_body("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z", &["primary"]),
    )
    .await;
    assert_eq!(ok.0, StatusCode::OK);
    let (status, body) = post(
        &url,
        &token,
        &freebusy_body("2026-01-01T00:00:00Z", "2026-04-02T00:00:00Z", &["primary"]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "The requested time range is too long.");
    assert_eq!(body["error"]["code"], 400);

    // calendar.events alone may not ask for free/busy.
    let events_only = google.issue_token(&[SCOPE_EVENTS]).access_token;
    let (status, body) = post(
        &url,
        &events_only,
        &freebusy_body("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", &["primary"]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["errors"][0]["reason"], "insufficientPermissions");
    assert_eq!(google.request_count("/calendar/v3/freeBusy"), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_insert_is_idempotent_by_id_and_delete_twice_is_gone() {
    let google = FakeGoogle::start().await;
    let token = google.issue_token(&[SCOPE_EVENTS, SCOPE_FREEBUSY]).access_token;
    let events = format!("{}/calendars/primary/events", google.api_base());
    let event = json!({
        "id": "appt0123456789abcdef",
        "summary": "Consult",
        "start": {"dateTime": "2026-03-02T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-02T10:30:00+01:00", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "client@x.com"}],
        "transparency": "opaque",
        "extendedProperties": {"private": {"appointmentId": "A-1"}},
    });
    let (status, created) = post(&format!("{events}?sendUpdates=none"), &token, &event).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    for field in ["etag", "status", "iCalUID", "updated", "sequence", "organizer"] {
        assert!(created.get(field).is_some(), "insert response has {field}");
    }
    assert_eq!(created["status"], "confirmed");
    assert_eq!(created["attendees"][0]["email"], "client@x.com");
    let (status, body) = post(&events, &token, &event).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["errors"][0]["reason"], "duplicate");

    let mut bad = event.clone();
    bad["id"] = json!("UPPERCASE-NOT-BASE32HEX");
    assert_eq!(post(&events, &token, &bad).await.0, StatusCode::BAD_REQUEST);
    bad["id"] = json!("abcw1");
    assert_eq!(post(&events, &token, &bad).await.0, StatusCode::BAD_REQUEST);

    // The event blocks time; a patch moves it and bumps the sequence.
    let url = format!("{events}/appt0123456789abcdef");
    let (status, patched) = call(
        Method::PATCH,
        &url,
        &token,
        Some(&json!({"start": {"dateTime": "2026-03-02T11:00:00Z"}, "end": {"dateTime": "2026-03-02T11:30:00Z"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["sequence"], 1);
    assert_eq!(patched["extendedProperties"]["private"]["appointmentId"], "A-1");
    let (_, busy) = post(
        &format!("{}/freeBusy", google.api_base()),
        &token,
        &freebusy_body("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", &["primary"]),
    )
    .await;
    assert_eq!(
        busy["calendars"]["primary"]["busy"],
        json!([{"start": "2026-03-02T11:00:00Z", "end": "2026-03-02T11:30:00Z"}])
    );

    assert_eq!(call(Method::DELETE, &url, &token, None).await.0, StatusCode::NO_CONTENT);
    let (status, body) = call(Method::DELETE, &url, &token, None).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["error"]["errors"][0]["reason"], "deleted");
    let (status, _) = call(Method::DELETE, &format!("{events}/unknown123"), &token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A retried insert after the delete is still a duplicate.
    assert_eq!(post(&events, &token, &event).await.0, StatusCode::CONFLICT);
    assert_eq!(google.events("primary")[0]["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_list_bounds_filters_pages_and_syncs() {
    let google = FakeGoogle::start().await;
    let token = google.issue_token(&[SCOPE_EVENTS]).access_token;
    for (hour, id) in [(9, "a"), (10, "b"), (11, "c")] {
        google
            .add_event(
                "primary",
                json!({
                    "id": format!("event{id}"),
                    "start": {"dateTime": format!("2026-03-02T{hour:02}:00:00Z")},
                    "end": {"dateTime": format!("2026-03-02T{hour:02}:45:00Z")},
                    "extendedProperties": {"private": {"appointmentId": id}},
                }),
            )
            .unwrap();
    }
    let base = format!("{}/calendars/primary/events", google.api_base());
    let ids = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // timeMin bounds the end (09:45 > 09:30 keeps a), timeMax the start (11:00 is not < 11:00).
    let (status, body) = get(
        &format!(
            "{base}?timeMin=2026-03-02T09:30:00Z&timeMax=2026-03-02T11:00:00Z&singleEvents=true&orderBy=startTime"
        ),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), ["eventa", "eventb"]);
    assert_eq!(
        get(&format!("{base}?orderBy=startTime"), &token).await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, body) = get(&format!("{base}?privateExtendedProperty=appointmentId%3Dc"), &token).await;
    assert_eq!(ids(&body), ["eventc"]);

    // Two pages; only the last has the sync token.
    let (_, first) = get(&format!("{base}?maxResults=2"), &token).await;
    assert_eq!(ids(&first), ["eventa", "eventb"]);
    assert!(first.get("nextSyncToken").is_none());
    let page = first["nextPageToken"].as_str().unwrap();
    let (_, second) = get(&format!("{base}?maxResults=2&pageToken={page}"), &token).await;
    assert_eq!(ids(&second), ["eventc"]);
    let sync = second["nextSyncToken"].as_str().unwrap().to_owned();

    // Incremental: a deleted event comes back with status cancelled only.
    assert_eq!(
        call(Method::DELETE, &format!("{base}/eventb"), &token, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, changes) = get(&format!("{base}?syncToken={sync}"), &token).await;
    assert_eq!(
        changes["items"],
        json!([{"kind": "calendar#event", "etag": changes["items"][0]["etag"], "id": "eventb", "status": "cancelled"}])
    );
    assert_eq!(
        get(&format!("{base}?syncToken={sync}&timeMin=2026-03-02T00:00:00Z"), &token)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    google.invalidate_sync_tokens();
    let (status, body) = get(&format!("{base}?syncToken={sync}"), &token).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["error"]["errors"][0]["reason"], "fullSyncRequired");
}

#[tokio::test(flavor = "multi_thread")]
async fn calendar_list_pages_and_failures_are_injected() {
    let google = FakeGoogle::start().await;
    google.add_calendar("team@group.calendar.google.com", "Team", false);
    google.add_calendar("holidays@group.calendar.google.com", "Holidays", false);
    let token = google.issue_token(&[SCOPE_CALENDARLIST_READONLY]).access_token;
    let url = format!("{}/users/me/calendarList", google.api_base());
    let (status, first) = get(&format!("{url}?maxResults=2"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["items"][0]["id"], "expert@example.com");
    assert_eq!(first["items"][0]["primary"], true);
    assert_eq!(first["items"][0]["accessRole"], "owner");
    let page = first["nextPageToken"].as_str().unwrap();
    let (_, second) = get(&format!("{url}?maxResults=2&pageToken={page}"), &token).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second.get("nextPageToken").is_none());

    google.fail_next(1, 503);
    let (status, body) = get(&url, &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["errors"][0]["reason"], "backendError");
    google.throttle_next(1, 403);
    let (status, body) = get(&url, &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["errors"][0]["reason"], "rateLimitExceeded");
    google.throttle_next(1, 429);
    assert_eq!(get(&url, &token).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(get(&url, &token).await.0, StatusCode::OK);
    assert_eq!(google.request_count("/calendar/v3/users/me/calendarList"), 6);
    let last = google.requests().pop().unwrap();
    assert_eq!((last.method.as_str(), last.query.as_str()), ("GET", ""));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

#[tokio::test(flavor = "multi_thread")]
async fn events_watch_validates_the_channel_and_caps_its_expiration() {
    let google = FakeGoogle::start().await;
    let token = google.issue_token(&[SCOPE_EVENTS]).access_token;
    let api = google.api_base();
    let watch = format!("{api}/calendars/primary/events/watch");
    let reason = |body: &Value| {
        body["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // An hour, asked for as a JSON number: granted as asked, answered as a string of ms.
    let asked = now_ms() + 3_600_000;
    let (status, body) = post(
        &watch,
        &token,
        &json!({"id": "chan-1", "type": "web_hook", "address": "https://push.example.com/hook", "token": "secret", "expiration": asked}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "api#channel");
    assert_eq!(body["id"], "chan-1");
    assert_eq!(body["token"], "secret");
    assert_eq!(body["expiration"], asked.to_string());
    let resource_id = body["resourceId"].as_str().unwrap().to_owned();
    assert!(!resource_id.is_empty());
    assert!(body["resourceUri"]
        .as_str()
        .unwrap()
        .contains("/calendars/primary/events"));
    let channels = google.channels();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].id, "chan-1");
    assert_eq!(channels[0].resource_id, resource_id);
    assert_eq!(channels[0].token.as_deref(), Some("secret"));
    assert_eq!(channels[0].address, "https://push.example.com/hook");
    assert_eq!(channels[0].calendar_id, provider_fakes::google::ACCOUNT_EMAIL);
    assert_eq!(channels[0].expiration, asked);
    assert!(!channels[0].stopped);

    // A month, as a string: capped at a week. The resource id is stable per calendar, whatever
    // name the path gives it; "webhook" is accepted like "web_hook"; http on loopback is fine.
    let before = now_ms();
    let (status, body) = post(
        &format!("{api}/calendars/expert%40example.com/events/watch"),
        &token,
        &json!({"id": "chan-2", "type": "webhook", "address": "http://127.0.0.1:9/hook", "expiration": (before + 30 * 86_400_000).to_string()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let granted: i64 = body["expiration"].as_str().unwrap().parse().unwrap();
    assert!(
        granted >= before + WEEK_MS && granted <= now_ms() + WEEK_MS,
        "{granted}"
    );
    assert_eq!(body["resourceId"], resource_id.as_str());
    assert!(body.get("token").is_none());
    // Without an expiration: a week.
    let (status, body) = post(
        &watch,
        &token,
        &json!({"id": "chan-3", "type": "web_hook", "address": "http://localhost:9/hook"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let granted: i64 = body["expiration"].as_str().unwrap().parse().unwrap();
    assert!(granted >= before + WEEK_MS && granted <= now_ms() + WEEK_MS);
    // Another calendar is another resource.
    google.add_calendar("team@group.calendar.google.com", "Team", false);
    let (status, body) = post(
        &format!("{api}/calendars/team%40group.calendar.google.com/events/watch"),
        &token,
        &json!({"id": "chan-4", "type": "web_hook", "address": "https://push.example.com/hook"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["resourceId"], resource_id.as_str());

    // Refusals.
    let long_token = "x".repeat(257);
    let refused = [
        (
            json!({"type": "web_hook", "address": "https://push.example.com/hook"}),
            400,
            "required",
        ),
        (
            json!({"id": "", "type": "web_hook", "address": "https://push.example.com/hook"}),
            400,
            "required",
        ),
        (
            json!({"id": "has space", "type": "web_hook", "address": "https://push.example.com/hook"}),
            400,
            "invalid",
        ),
        (
            json!({"id": "a", "address": "https://push.example.com/hook"}),
            400,
            "required",
        ),
        (
            json!({"id": "b", "type": "email", "address": "https://push.example.com/hook"}),
            400,
            "invalid",
        ),
        (json!({"id": "c", "type": "web_hook"}), 400, "required"),
        (
            json!({"id": "d", "type": "web_hook", "address": "http://push.example.com/hook"}),
            400,
            "push.webhookUrlNotHttps",
        ),
        (
            json!({"id": "e", "type": "web_hook", "address": "not a url"}),
            400,
            "push.webhookUrlNotHttps",
        ),
        (
            json!({"id": "f", "type": "web_hook", "address": "https://push.example.com/hook", "token": long_token}),
            400,
            "invalid",
        ),
        (
            json!({"id": "g", "type": "web_hook", "address": "https://push.example.com/hook", "expiration": 1000}),
            400,
            "invalid",
        ),
        (
            json!({"id": "h", "type": "web_hook", "address": "https://push.example.com/hook", "expiration": "soon"}),
            400,
            "invalid",
        ),
        (
            json!({"id": "chan-1", "type": "web_hook", "address": "https://push.example.com/hook"}),
            400,
            "channelIdNotUnique",
        ),
    ];
    for (body, expected_status, expected_reason) in refused {
        let (status, answer) = post(&watch, &token, &body).await;
        assert_eq!(status.as_u16(), expected_status, "{body}: {answer}");
        assert_eq!(reason(&answer), expected_reason, "{body}: {answer}");
    }
    // 256 characters are fine.
    let (status, _) = post(
        &watch,
        &token,
        &json!({"id": "i", "type": "web_hook", "address": "https://push.example.com/hook", "token": "y".repeat(256)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // An unknown calendar, a body that is not JSON, a token without an events scope.
    let (status, _) = post(
        &format!("{api}/calendars/nobody%40example.com/events/watch"),
        &token,
        &json!({"id": "j", "type": "web_hook", "address": "https://push.example.com/hook"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = support::http()
        .post(&watch)
        .bearer_auth(&token)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let listing_only = google.issue_token(&[SCOPE_CALENDARLIST_READONLY]).access_token;
    let (status, body) = post(
        &watch,
        &listing_only,
        &json!({"id": "k", "type": "web_hook", "address": "https://push.example.com/hook"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "insufficientPermissions");
    assert_eq!(google.channels().len(), 5, "refused watches store nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_stop_ends_notifications_and_unknown_channels_are_404() {
    let google = FakeGoogle::start().await;
    let token = google.issue_token(&[SCOPE_EVENTS]).access_token;
    let api = google.api_base();
    // Nothing listens on the discard port: deliveries answer 0, but say which channels got one.
    let (status, body) = post(
        &format!("{api}/calendars/primary/events/watch"),
        &token,
        &json!({"id": "chan-1", "type": "web_hook", "address": "http://127.0.0.1:9/hook", "token": "t"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let resource_id = body["resourceId"].as_str().unwrap().to_owned();
    post(
        &format!("{api}/calendars/primary/events/watch"),
        &token,
        &json!({"id": "chan-2", "type": "web_hook", "address": "http://127.0.0.1:9/hook"}),
    )
    .await;
    let mut notified = google.notify("primary").await;
    notified.sort();
    assert_eq!(notified, vec![("chan-1".to_owned(), 0), ("chan-2".to_owned(), 0)]);
    assert!(google.notify("nobody@example.com").await.is_empty());

    let stop = format!("{api}/channels/stop");
    // A wrong resource id, an unknown id.
    let (status, body) = post(&stop, &token, &json!({"id": "chan-1", "resourceId": "other"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = post(&stop, &token, &json!({"id": "nope", "resourceId": resource_id})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The right pair: 204, and the channel sends nothing more.
    let (status, body) = post(&stop, &token, &json!({"id": "chan-1", "resourceId": resource_id})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let chan1 = google.channels().into_iter().find(|c| c.id == "chan-1").unwrap();
    assert!(chan1.stopped);
    assert_eq!(google.notify("primary").await, vec![("chan-2".to_owned(), 0)]);
    assert_eq!(google.send_sync("chan-1").await, 0);
    // Stopped is gone: a second stop is 404.
    let (status, _) = post(&stop, &token, &json!({"id": "chan-1", "resourceId": resource_id})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A stopped channel's id stays taken.
    let (status, _) = post(
        &format!("{api}/calendars/primary/events/watch"),
        &token,
        &json!({"id": "chan-1", "type": "web_hook", "address": "http://127.0.0.1:9/hook"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Stop is allowed to any calendar scope, the calendar list's included.
    let listing_only = google.issue_token(&[SCOPE_CALENDARLIST_READONLY]).access_token;
    let (status, _) = post(
        &stop,
        &listing_only,
        &json!({"id": "chan-2", "resourceId": resource_id}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(google.notify("primary").await.is_empty());
}

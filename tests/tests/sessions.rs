//! Sessions for the pages over real HTTP: POST /session trades a token for an HttpOnly,
//! SameSite=Strict cookie; a cookie-authenticated write without the X-CSRF-Token header of GET
//! /session is refused (403) and changes nothing; DELETE /session ends the session for good. Also
//! the pages themselves (served with a content security policy and revalidated by ETag) and the
//! manage page's live preview, which shows unsaved hours without storing them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{databases, next_monday, TestServer};

/// A browser's view of the server: one cookie jar of one cookie, set by hand so the test sees
/// exactly what the server sent.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value, Vec<String>) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let set: Vec<String> = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set {
            let pair = c.split(';').next().unwrap().trim().to_owned();
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null), set)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_needs_the_csrf_header_for_writes() {
    for db in databases("a_session_cookie_needs_the_csrf_header_for_writes") {
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (_client, client_token) = api.client_with_token().await;
        let mut browser = Browser::new(&api.base);
        let availability = format!("/api/v1/experts/{expert}/availability");

        // Not signed in: 401, in the contract's shape.
        let (status, body, _) = browser.send(Method::GET, "/session", None, &[]).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthorized");
        let (status, body, set) = browser
            .send(Method::POST, "/session", Some(json!({"token": "not-a-token"})), &[])
            .await;
        assert_eq!((status, set.len()), (StatusCode::UNAUTHORIZED, 0), "{body}");

        // Signing in sets a cookie the page's scripts cannot read and other sites cannot send.
        let (status, session, set) = browser
            .send(Method::POST, "/session", Some(json!({"token": expert_token})), &[])
            .await;
        assert_eq!(status, 200, "{session}");
        assert_eq!(set.len(), 1);
        let cookie = set[0].to_ascii_lowercase();
        for flag in ["httponly", "samesite=strict", "path=/"] {
            assert!(cookie.contains(flag), "cookie {cookie:?} lacks {flag}");
        }
        assert!(!set[0].contains(&expert_token), "the cookie is not the API token");
        assert_eq!(session["role"], "expert");
        assert_eq!(session["expert_id"], expert.as_str());
        let csrf = session["csrf_token"].as_str().unwrap().to_owned();
        assert!(csrf.len() >= 32);
        assert!(
            !session.to_string().contains(&expert_token),
            "the token is never echoed"
        );
        let (status, again, _) = browser.send(Method::GET, "/session", None, &[]).await;
        assert_eq!(
            (status, again["csrf_token"].as_str()),
            (StatusCode::OK, Some(csrf.as_str()))
        );

        // Reads need only the cookie.
        let (status, before, _) = browser.send(Method::GET, &availability, None, &[]).await;
        assert_eq!(status, 200, "{before}");

        // A write without the header, or with a wrong one, is refused and changes nothing.
        let new_hours = json!({"rules": [{"day_of_week": 1, "start_time": "10:00", "end_time": "11:00"}]});
        for headers in [vec![], vec![("X-CSRF-Token", "0".repeat(64))]] {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body, _) = browser
                .send(Method::PUT, &availability, Some(new_hours.clone()), &headers)
                .await;
            assert_eq!(status, 403, "{body}");
            assert_eq!(body["error"]["code"], "csrf_token_invalid");
        }
        let (_, unchanged, _) = browser.send(Method::GET, &availability, None, &[]).await;
        assert_eq!(unchanged, before, "a refused write changed nothing");

        // With the header it goes through, under the same ownership rules as a token.
        let (status, saved, _) = browser
            .send(
                Method::PUT,
                &availability,
                Some(new_hours.clone()),
                &[("X-CSRF-Token", &csrf)],
            )
            .await;
        assert_eq!(status, 200, "{saved}");
        assert_eq!(saved["rules"][0]["start_time"], "10:00");

        // A client's session may not edit an expert's hours.
        let mut client = Browser::new(&api.base);
        let (_, client_session, _) = client
            .send(Method::POST, "/session", Some(json!({"token": client_token})), &[])
            .await;
        let client_csrf = client_session["csrf_token"].as_str().unwrap().to_owned();
        assert_ne!(client_csrf, csrf, "each session has its own CSRF token");
        let (status, _, _) = client
            .send(
                Method::PUT,
                &availability,
                Some(new_hours.clone()),
                &[("X-CSRF-Token", &client_csrf)],
            )
            .await;
        assert_eq!(status, 403);

        // Signing out is a write too; afterwards the old cookie is worth nothing.
        let old_cookie = browser.cookie.clone();
        let (status, _, _) = browser.send(Method::DELETE, "/session", None, &[]).await;
        assert_eq!(status, 403, "sign-out without the CSRF header");
        let (status, _, set) = browser
            .send(Method::DELETE, "/session", None, &[("X-CSRF-Token", &csrf)])
            .await;
        assert_eq!(status, 204);
        assert!(
            set.iter().any(|c| c.to_ascii_lowercase().contains("max-age=0")),
            "{set:?}"
        );
        browser.cookie = old_cookie;
        let (status, _, _) = browser.send(Method::GET, "/session", None, &[]).await;
        assert_eq!(status, 401, "an ended session is gone");
        let (status, _, _) = browser.send(Method::GET, &availability, None, &[]).await;
        assert_eq!(status, 401);

        // A bearer token needs no CSRF header, cookie or not.
        let (status, _, _) = browser
            .send(
                Method::PUT,
                &availability,
                Some(new_hours),
                &[("Authorization", &format!("Bearer {expert_token}"))],
            )
            .await;
        assert_eq!(status, 200);
        server.stop().await;
    }
}

/// The /assets/ paths a page or module names (in quotes: src, href, import).
fn assets_named(text: &str) -> Vec<String> {
    text.split('"')
        .filter(|s| s.starts_with("/assets/") && !s.contains(' '))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_served_with_a_content_security_policy() {
    let db = databases("pages_are_served_with_a_content_security_policy").remove(0);
    let server = TestServer::start(&db).await;
    let http = reqwest::Client::new();
    for path in [
        "/",
        "/experts/x/manage",
        "/experts/x/calendars",
        "/experts/x/schedules",
        "/book/x",
        "/appointments/x",
        "/experts",
        "/experts/x/appointments",
        "/appointments",
    ] {
        let res = http.get(format!("{}{path}", server.api.base)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let headers = res.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        let body = res.text().await.unwrap();
        // Every script and stylesheet the page names, and every module those import, is served;
        // all of it together stays under 100 KB before any data.
        let mut total = body.len();
        let mut queue: Vec<String> = assets_named(&body);
        let mut seen = std::collections::HashSet::new();
        while let Some(asset) = queue.pop() {
            if !seen.insert(asset.clone()) {
                continue;
            }
            let res = http.get(format!("{}{asset}", server.api.base)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path} needs {asset}");
            let text = res.text().await.unwrap();
            total += text.len();
            queue.extend(assets_named(&text));
        }
        assert!(total < 100 * 1024, "{path} weighs {total} bytes with its assets");
    }
    let js = http
        .get(format!("{}/assets/api.js", server.api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    let etag = js.headers()["etag"].to_str().unwrap().to_owned();
    let again = http
        .get(format!("{}/assets/api.js", server.api.base))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "an unchanged file is not sent again");
    for missing in ["/assets/nope.js", "/assets/../Cargo.toml", "/assets/%2e%2e/src/lib.rs"] {
        let res = http.get(format!("{}{missing}", server.api.base)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{missing}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_shows_unsaved_hours_without_storing_them() {
    for db in databases("the_preview_shows_unsaved_hours_without_storing_them") {
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let (_, other_token) = api.expert_with_hours().await;
        let monday = next_monday();
        let (from, to) = (format!("{monday}T00:00:00Z"), format!("{monday}T23:59:00Z"));
        let stored = api.slots(&expert, &token, &from, &to).await;
        let preview_path = format!("/api/v1/experts/{expert}/availability/preview");
        // Mondays 09:00-12:00 Berlin with a break 10:00-10:30, one-hour slots.
        let body = json!({
            "rules": [
                {"day_of_week": 1, "start_time": "09:00", "end_time": "12:00"},
                {"day_of_week": 1, "start_time": "10:00", "end_time": "10:30", "is_available": false},
            ],
            "booking_policy": {"slot_duration_minutes": 60, "slot_interval_minutes": 30},
            "from": from, "to": to,
        });
        let preview = api.post(&preview_path, &token, body.clone()).await;
        assert_eq!(preview.status, 200, "{:?}", preview.body);
        let starts: Vec<&str> = preview.body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap())
            .collect();
        // Berlin is UTC+1 in winter, UTC+2 in summer: compare local wall times.
        let offset = if stored.first().is_some_and(|(s, _)| s.contains("T07:")) {
            2
        } else {
            1
        };
        let local: Vec<String> = starts
            .iter()
            .map(|s| {
                let hour: i64 = s[11..13].parse().unwrap();
                format!("{:02}:{}", hour + offset, &s[14..16])
            })
            .collect();
        assert_eq!(local, ["09:00", "10:30", "11:00"], "09:30 would run into the break");
        assert_eq!(preview.body["duration_minutes"], 60);
        assert_eq!(
            api.slots(&expert, &token, &from, &to).await,
            stored,
            "nothing was stored"
        );

        let bad = api
            .post(
                &preview_path,
                &token,
                json!({"rules": [{"day_of_week": 7, "start_time": "09:00", "end_time": "10:00"}], "from": from, "to": to}),
            )
            .await;
        assert_eq!(bad.status, 422, "{:?}", bad.body);
        let someone_else = api.post(&preview_path, &other_token, body).await;
        assert_eq!(someone_else.status, 403);
        server.stop().await;
    }
}

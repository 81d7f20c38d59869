//! iCalendar over real HTTP: an appointment's .ics and the expert's secret feed, read by an
//! independent parser (Python's `icalendar` from PyPI): the right instants, SEQUENCE rising with
//! each change, STATUS:CANCELLED after a cancel, CRLF lines folded at 75 octets without splitting
//! a UTF-8 character, a name with commas, semicolons and emoji escaped and read back whole; the
//! feed's 30 days back, rotation (the old URL 404), turning it off, busy_only, ETag /
//! If-None-Match; who may ask.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{Appointment, AppointmentId, AppointmentStatus, SyncStatus};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::python::{python_or_skip, run_script, ICALENDAR_READER};
use support::{databases, next_monday, TestServer, ADMIN_TOKEN};

/// A name that needs escaping (commas, semicolons, a backslash), has multi-byte characters
/// (emoji, accents) and is long enough that its line must be folded.
const NAME: &str = "Zoë O'Brien, Jr.; the 🦀 of Ünïcödé, né \\ Ødegård; 🎉🎉 with a long tail";

struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Fetched {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the answer is UTF-8 (no character split by folding)")
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }
}

async fn fetch(url: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Fetched {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    Fetched {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.bytes().await.unwrap().to_vec(),
    }
}

/// RFC 5545 3.1 on the raw bytes: every line ends in CRLF, no line is longer than 75 octets, and
/// each line (folded continuations included) is valid UTF-8 by itself, so no fold split a
/// character. Returns how many continuation lines there were.
fn assert_lines(body: &[u8]) -> usize {
    assert!(body.ends_with(b"\r\n"), "the last line ends in CRLF");
    let mut folds = 0;
    for line in body[..body.len() - 1].split(|b| *b == b'\n') {
        let line = line
            .strip_suffix(b"\r")
            .expect("every line ends in CRLF, never a bare LF");
        assert!(!line.contains(&b'\r'), "no bare CR");
        assert!(
            line.len() <= 75,
            "a line of {} octets: {:?}",
            line.len(),
            String::from_utf8_lossy(line)
        );
        std::str::from_utf8(line).expect("a folded line holds whole UTF-8 characters");
        if line.starts_with(b" ") {
            folds += 1;
        }
    }
    folds
}

fn parse(python: &std::path::Path, body: &str) -> Value {
    run_script(python, ICALENDAR_READER, body)
}

async fn book(api: &support::Api, expert: &str, client: &str, token: &str, slot: &(String, String)) -> String {
    let a = api
        .post(
            "/api/v1/appointments",
            token,
            json!({"expert_id": expert, "client_id": client, "start_time": slot.0, "end_time": slot.1}),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    a.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointment_ics_and_the_experts_feed_read_by_an_independent_parser() {
    let Some(python) = python_or_skip("iCalendar end-to-end test") else {
        return;
    };
    for db in databases("iCalendar end-to-end test") {
        let server = TestServer::start_with_env(&db, &[]).await;
        let api = &server.api;
        let base = api.base.clone();
        let (expert, expert_token) = api.expert_with_hours().await;
        let c = api
            .post(
                "/api/v1/clients",
                ADMIN_TOKEN,
                json!({"name": NAME, "email": format!("zoe-{}@example.com", db.label)}),
            )
            .await;
        assert_eq!(c.status, 201, "{:?}", c.body);
        let client = c.body["id"].as_str().unwrap().to_owned();
        let client_token = api.token("client", &client).await;
        let (_, other_client_token) = api.client_with_token().await;
        let day = next_monday();
        let slots = api
            .slots(
                &expert,
                &client_token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:59Z"),
            )
            .await;
        assert!(slots.len() >= 4, "{}: {slots:?}", db.label);
        let id = book(api, &expert, &client, &client_token, &slots[0]).await;
        let ics_url = format!("{base}/api/v1/appointments/{id}/ics");

        // The client's .ics: one VEVENT with the booked instants, SEQUENCE 0, CONFIRMED.
        let first = fetch(&ics_url, Some(&client_token), &[]).await;
        assert_eq!(first.status, 200, "{}: {}", db.label, first.text());
        assert!(
            first.header("content-type").starts_with("text/calendar"),
            "{}",
            first.header("content-type")
        );
        assert!(first.header("content-disposition").starts_with("attachment"));
        assert_eq!(first.header("cache-control"), "no-store");
        assert!(assert_lines(&first.body) >= 1, "the long name was folded");
        let raw = first.text();
        assert!(raw.contains("METHOD:PUBLISH\r\n"));
        let unfolded = raw.replace("\r\n ", "");
        assert!(
            unfolded.contains("Zoë O'Brien\\, Jr.\\; the 🦀 of Ünïcödé\\, né \\\\ Ødegård\\; 🎉🎉"),
            "commas, semicolons and backslashes escaped: {unfolded}"
        );
        let parsed = parse(&python, &raw);
        assert_eq!(parsed["method"], "PUBLISH");
        assert_eq!(parsed["version"], "2.0");
        let events = parsed["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{parsed}");
        let event = &events[0];
        assert_eq!(event["start"], slots[0].0.as_str(), "{}", db.label);
        assert_eq!(event["end"], slots[0].1.as_str());
        assert_eq!(event["sequence"], 0);
        assert_eq!(event["status"], "CONFIRMED");
        assert!(
            event["summary"].as_str().unwrap().contains(NAME),
            "read back whole: {event}"
        );
        assert!(event["description"]
            .as_str()
            .unwrap()
            .contains(&format!("/appointments/{id}")));
        let uid = event["uid"].as_str().unwrap().to_owned();
        assert!(uid.contains(&id), "{uid}");

        // Who may ask: its expert and admin too; another client 403 (as GET appointment);
        // no credential 401; an unknown appointment 404.
        for token in [&expert_token, ADMIN_TOKEN] {
            let other = fetch(&ics_url, Some(token), &[]).await;
            assert_eq!(other.status, 200);
            assert_eq!(parse(&python, &other.text())["events"][0]["uid"], uid.as_str());
        }
        let refused = api
            .get(&format!("/api/v1/appointments/{id}/ics"), &other_client_token)
            .await;
        assert_eq!((refused.status.as_u16(), refused.code()), (403, "forbidden"));
        let anonymous = api
            .call(Method::GET, &format!("/api/v1/appointments/{id}/ics"), None, None)
            .await;
        assert_eq!((anonymous.status.as_u16(), anonymous.code()), (401, "unauthorized"));
        let unknown = api
            .get(
                &format!("/api/v1/appointments/{}/ics", uuid::Uuid::new_v4()),
                &client_token,
            )
            .await;
        assert_eq!((unknown.status.as_u16(), unknown.code()), (404, "not_found"));
        let malformed = api.get("/api/v1/appointments/nope/ics", &client_token).await;
        assert_eq!(malformed.status, 400);

        // A reschedule: the same UID, the new instants, SEQUENCE 1.
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": slots[1].0, "end_time": slots[1].1}),
            )
            .await;
        assert_eq!(moved.status, 200, "{:?}", moved.body);
        let event = parse(&python, &fetch(&ics_url, Some(&client_token), &[]).await.text())["events"][0].clone();
        assert_eq!(
            (
                &event["uid"],
                &event["sequence"],
                &event["start"],
                &event["end"],
                &event["status"]
            ),
            (
                &json!(uid),
                &json!(1),
                &json!(slots[1].0),
                &json!(slots[1].1),
                &json!("CONFIRMED")
            )
        );

        // The expert's feed: off until turned on; only the expert (or admin) turns it on.
        let refused = api
            .post(&format!("/api/v1/experts/{expert}/ics-feed"), &client_token, json!({}))
            .await;
        assert_eq!((refused.status.as_u16(), refused.code()), (403, "forbidden"));
        let on = api
            .call(
                Method::POST,
                &format!("/api/v1/experts/{expert}/ics-feed"),
                Some(&expert_token),
                None,
            )
            .await;
        assert_eq!(on.status, 200, "{:?}", on.body);
        let feed_url = on.body["url"].as_str().unwrap().to_owned();
        let prefix = format!("{base}/ics/{expert}/");
        let secret = feed_url
            .strip_prefix(&prefix)
            .and_then(|s| s.strip_suffix(".ics"))
            .unwrap();
        assert_eq!(secret.len(), 64, "256 bits in hex: {feed_url}");
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));

        // Two past appointments, written straight to the database (the API books no past):
        // one that ended 29 days ago is in the feed, one that ended 31 days ago is not.
        let store = availability_store::Store::open(&db.url).await.unwrap();
        let past = |days_ago: i64| {
            let start = Timestamp::now() - SignedDuration::from_hours(24 * days_ago) - SignedDuration::from_mins(30);
            let start = Timestamp::from_second(start.as_second()).unwrap();
            Appointment {
                id: AppointmentId::new(),
                expert_id: expert.parse().unwrap(),
                client_id: client.parse().unwrap(),
                start_time: start,
                end_time: Timestamp::from_second(start.as_second() + 1800).unwrap(),
                status: AppointmentStatus::Confirmed,
                calendar_type: None,
                external_calendar_event_id: None,
                scheduling_url: None,
                sync_status: SyncStatus::NotApplicable,
                cancellation_reason: None,
                cancelled_by: None,
                sync_error: None,
                meeting_url: None,
                meeting_error: None,
                series_id: None,
                created_at: start,
                updated_at: start,
            }
        };
        let (recent, old) = (past(29), past(31));
        availability_store::testing::insert_unchecked(&store, recent.clone())
            .await
            .unwrap();
        availability_store::testing::insert_unchecked(&store, old.clone())
            .await
            .unwrap();

        // A second appointment, then a cancelled one: the feed shows the confirmed ones only.
        let second = book(api, &expert, &client, &client_token, &slots[3]).await;
        let third = book(api, &expert, &client, &client_token, &slots[2]).await;
        let cancelled = api
            .call(
                Method::POST,
                &format!("/api/v1/appointments/{third}/cancel"),
                Some(&client_token),
                None,
            )
            .await;
        assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
        let third_ics = fetch(
            &format!("{base}/api/v1/appointments/{third}/ics"),
            Some(&client_token),
            &[],
        )
        .await;
        let event = parse(&python, &third_ics.text())["events"][0].clone();
        assert_eq!((&event["status"], &event["sequence"]), (&json!("CANCELLED"), &json!(1)));

        let feed = fetch(&feed_url, None, &[]).await;
        assert_eq!(feed.status, 200, "{}: {}", db.label, feed.text());
        assert!(feed.header("content-type").starts_with("text/calendar"));
        let etag = feed.header("etag");
        assert!(etag.starts_with('"') && etag.len() > 2, "{etag:?}");
        assert_lines(&feed.body);
        let parsed = parse(&python, &feed.text());
        assert_eq!(parsed["method"], "PUBLISH");
        let events = parsed["events"].as_array().unwrap();
        let uids: Vec<&str> = events.iter().map(|e| e["uid"].as_str().unwrap()).collect();
        assert_eq!(
            events.len(),
            3,
            "confirmed ones from 30 days back, not the cancelled one nor an older one: {parsed}"
        );
        assert!(
            uids[0].contains(&recent.id.to_string()) && uids[1].contains(&id) && uids[2].contains(&second),
            "by start: {uids:?}"
        );
        assert!(!uids.iter().any(|u| u.contains(&old.id.to_string())));
        assert_eq!(
            (&events[1]["start"], &events[1]["sequence"]),
            (&json!(slots[1].0), &json!(1))
        );
        assert_eq!(
            (&events[2]["start"], &events[2]["end"]),
            (&json!(slots[3].0), &json!(slots[3].1))
        );
        assert!(events[2]["summary"].as_str().unwrap().contains(NAME));

        // ETag / If-None-Match: 304 while nothing changed, 200 with a new ETag after a change.
        let same = fetch(&feed_url, None, &[("If-None-Match", &etag)]).await;
        assert_eq!(same.status, 304);
        assert!(same.body.is_empty());
        assert_eq!(same.header("etag"), etag);
        let other_tag = fetch(&feed_url, None, &[("If-None-Match", "\"something-else\"")]).await;
        assert_eq!(other_tag.status, 200);

        // busy_only: the same times, no names, no links.
        let busy = fetch(&format!("{feed_url}?busy_only=1"), None, &[]).await;
        assert_eq!(busy.status, 200);
        let busy_text = busy.text();
        assert!(!busy_text.contains("Zo") && !busy_text.contains("Dr. E") && !busy_text.contains("/appointments/"));
        let busy_events = parse(&python, &busy_text)["events"].as_array().unwrap().clone();
        assert_eq!(busy_events.len(), 3);
        for (busy, full) in busy_events.iter().zip(events) {
            assert_eq!(
                (&busy["start"], &busy["end"], &busy["uid"]),
                (&full["start"], &full["end"], &full["uid"])
            );
            assert_eq!(busy["summary"], "Busy");
            assert_eq!(busy["description"], Value::Null);
        }
        assert_ne!(busy.header("etag"), etag, "another body, another ETag");

        let _ = api
            .call(
                Method::POST,
                &format!("/api/v1/appointments/{second}/cancel"),
                Some(&client_token),
                None,
            )
            .await;
        let changed = fetch(&feed_url, None, &[("If-None-Match", &etag)]).await;
        assert_eq!(changed.status, 200, "a cancel changes the feed");
        assert_ne!(changed.header("etag"), etag);
        assert_eq!(parse(&python, &changed.text())["events"].as_array().unwrap().len(), 2);

        // Rotation: a new URL; the old one answers 404 like any unknown address.
        let rotated = api
            .call(
                Method::POST,
                &format!("/api/v1/experts/{expert}/ics-feed"),
                Some(ADMIN_TOKEN),
                None,
            )
            .await;
        assert_eq!(rotated.status, 200);
        let new_url = rotated.body["url"].as_str().unwrap().to_owned();
        assert_ne!(new_url, feed_url);
        assert_eq!(fetch(&new_url, None, &[]).await.status, 200);
        let old = fetch(&feed_url, None, &[]).await;
        assert_eq!(old.status, 404);
        let old_body: Value = serde_json::from_slice(&old.body).unwrap();
        assert_eq!(old_body["error"]["code"], "not_found");
        let zeros = "0".repeat(64);
        for wrong in [
            format!("{prefix}{zeros}.ics"),
            format!("{base}/ics/{}/{secret}.ics", uuid::Uuid::new_v4()),
            format!("{base}/ics/not-an-id/{secret}.ics"),
            format!("{prefix}{secret}"),
            format!("{prefix}short.ics"),
        ] {
            let answer = fetch(&wrong, None, &[]).await;
            assert_eq!(answer.status, 404, "{wrong}");
            assert_eq!(
                serde_json::from_slice::<Value>(&answer.body).unwrap(),
                old_body,
                "uniform 404"
            );
        }

        // Off: the URL answers 404; turning it off again is fine.
        for _ in 0..2 {
            let off = api
                .call(
                    Method::DELETE,
                    &format!("/api/v1/experts/{expert}/ics-feed"),
                    Some(&expert_token),
                    None,
                )
                .await;
            assert_eq!(off.status, 204, "{:?}", off.body);
        }
        assert_eq!(fetch(&new_url, None, &[]).await.status, 404);
        let unknown_expert = api
            .call(
                Method::DELETE,
                &format!("/api/v1/experts/{}/ics-feed", uuid::Uuid::new_v4()),
                Some(ADMIN_TOKEN),
                None,
            )
            .await;
        assert_eq!(unknown_expert.status, 404);

        server.stop().await;
    }
}

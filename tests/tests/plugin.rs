//! A provider is one crate and one registration line: `provider-example` (a calendar kept in a
//! JSON file, in `tests/provider-example`) is registered here the way the server registers its
//! own providers, and then driven only through the HTTP API: listed by GET providers, connected
//! with its credential fields (refused first, nothing stored), slots minus its busy time, a
//! booking written to it, moved and removed, a reconnect to another calendar seen by the very next
//! slots answer, and disconnected. Nothing outside its crate names it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use provider_example::{CalendarFile, Span, INTEGRATION, PASSPHRASE};
use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer, ADMIN_TOKEN};

fn calendar_file(dir: &std::path::Path, name: &str, busy: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.join(name);
    CalendarFile {
        busy: busy
            .iter()
            .map(|(s, e)| Span {
                start: s.parse().unwrap(),
                end: e.parse().unwrap(),
            })
            .collect(),
        events: Default::default(),
    }
    .write(&path)
    .unwrap();
    path
}

async fn wait_for_sync(api: &Api, appointment: &str) -> Value {
    for _ in 0..100 {
        let a = api
            .get(&format!("/api/v1/appointments/{appointment}"), ADMIN_TOKEN)
            .await;
        if a.body["sync_status"] == "synced" {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("appointment {appointment} never synced");
}

fn starts(slots: &[(String, String)]) -> Vec<String> {
    slots.iter().map(|(s, _)| s[11..16].to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_crate_registered_with_one_line_works_through_the_api() {
    let name = INTEGRATION.as_str();
    for db in databases("a_provider_crate_registered_with_one_line_works_through_the_api") {
        let server = TestServer::start_with_providers(&db, &[provider_example::register]).await;
        let api = &server.api;
        let dir = tempfile_dir();
        let day = next_monday();
        let (from, to) = (format!("{day}T08:00:00Z"), format!("{day}T11:00:00Z"));
        // Busy 09:00-10:00 UTC (10:00-11:00 Berlin).
        let first = calendar_file(
            &dir,
            "first.json",
            &[(&format!("{day}T09:00:00Z"), &format!("{day}T10:00:00Z"))],
        );

        // Listed, after the providers the server registers itself, with its form.
        let listed = api.get("/api/v1/providers", ADMIN_TOKEN).await;
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        let providers = listed.body["providers"].as_array().unwrap();
        let ours = providers.last().unwrap();
        assert_eq!(ours["integration_type"], name);
        assert_eq!(ours["connect"], "credentials");
        assert_eq!(ours["available"], true);
        assert_eq!(ours["capabilities"]["reads_busy_time"], true);
        assert_eq!(ours["capabilities"]["writes_events"], true);
        let fields: Vec<(&str, bool)> = ours["credential_fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap(), f["secret"].as_bool().unwrap()))
            .collect();
        assert_eq!(fields, [("calendar_file", false), ("passphrase", true)]);
        assert_eq!(providers[0]["integration_type"], "manual");

        let (expert, expert_token) = api.expert_with_hours().await;
        let integration = format!("/api/v1/experts/{expert}/integrations/{name}");

        // Refused credentials store nothing.
        let refused = api
            .put(
                &integration,
                &expert_token,
                json!({"calendar_file": first, "passphrase": "wrong"}),
            )
            .await;
        assert_eq!(
            (refused.status.as_u16(), refused.code()),
            (422, "invalid_credentials"),
            "{:?}",
            refused.body
        );
        let missing = api
            .put(
                &integration,
                &expert_token,
                json!({"calendar_file": dir.join("nowhere.json"), "passphrase": PASSPHRASE}),
            )
            .await;
        assert_eq!(
            (missing.status.as_u16(), missing.code()),
            (422, "discovery_failed"),
            "{:?}",
            missing.body
        );
        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), &expert_token)
            .await;
        let entry = |list: &Value| {
            list.as_array()
                .unwrap()
                .iter()
                .find(|i| i["type"] == name)
                .unwrap()
                .clone()
        };
        assert_eq!(entry(&list.body)["status"], "disconnected");
        let switch = api
            .put(
                &format!("/api/v1/experts/{expert}/integration"),
                &expert_token,
                json!({"integration_type": name}),
            )
            .await;
        assert_eq!(
            (switch.status.as_u16(), switch.code()),
            (422, "integration_not_connected")
        );

        // Connected with its fields, then used.
        let connected = api
            .put(
                &integration,
                &expert_token,
                json!({"calendar_file": first, "passphrase": PASSPHRASE}),
            )
            .await;
        assert_eq!(connected.status, 200, "{:?}", connected.body);
        assert_eq!(
            (connected.body["status"].as_str(), connected.body["account"].as_str()),
            (Some("connected"), Some("first.json"))
        );
        let switch = api
            .put(
                &format!("/api/v1/experts/{expert}/integration"),
                &expert_token,
                json!({"integration_type": name}),
            )
            .await;
        assert_eq!(switch.status, 200, "{:?}", switch.body);

        // Slots: the hours (09:00-17:00 Berlin = 08:00Z on) minus its busy time.
        let slots = api.slots(&expert, ADMIN_TOKEN, &from, &to).await;
        assert_eq!(starts(&slots), ["08:00", "08:30", "10:00", "10:30"]);

        // A booking is written to it by the outbox, moved, and removed.
        let (client, client_token) = api.client_with_token().await;
        let booked = api
            .post(
                "/api/v1/appointments",
                &client_token,
                json!({"expert_id": expert, "client_id": client, "start_time": format!("{day}T08:00:00Z"), "end_time": format!("{day}T08:30:00Z")}),
            )
            .await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        assert_eq!(booked.body["calendar_type"], "example");
        let id = booked.body["id"].as_str().unwrap().to_owned();
        let synced = wait_for_sync(api, &id).await;
        assert_eq!(synced["external_calendar_event_id"], id.as_str());
        let events = CalendarFile::read(&first).unwrap().events;
        assert_eq!(events[&id].start.to_string(), format!("{day}T08:00:00Z"));
        assert_eq!(events[&id].summary, "Appointment with Ann");
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{id}"),
                &client_token,
                json!({"start_time": format!("{day}T10:30:00Z"), "end_time": format!("{day}T11:00:00Z")}),
            )
            .await;
        assert_eq!(moved.status, 200, "{:?}", moved.body);
        wait_for_sync(api, &id).await;
        assert_eq!(
            CalendarFile::read(&first).unwrap().events[&id].start.to_string(),
            format!("{day}T10:30:00Z")
        );
        let cancelled = api
            .post(&format!("/api/v1/appointments/{id}/cancel"), &client_token, json!({}))
            .await;
        assert_eq!(cancelled.status, 200);
        wait_for_sync(api, &id).await;
        assert!(CalendarFile::read(&first).unwrap().events.is_empty());

        // Reconnected to another calendar (busy 08:00-09:00Z instead) through ANOTHER server on
        // the same database: this server's very next answer shows the new calendar's busy time,
        // though its cached answer is younger than the 30 s cache (the connection changed).
        let second = calendar_file(
            &dir,
            "second.json",
            &[(&format!("{day}T08:00:00Z"), &format!("{day}T09:00:00Z"))],
        );
        assert_eq!(
            starts(&api.slots(&expert, ADMIN_TOKEN, &from, &to).await),
            ["08:00", "08:30", "10:00", "10:30"]
        );
        let other = TestServer::start_with_providers(&db, &[provider_example::register]).await;
        let reconnected = other
            .api
            .put(
                &integration,
                &expert_token,
                json!({"calendar_file": second, "passphrase": PASSPHRASE}),
            )
            .await;
        other.stop().await;
        assert_eq!(reconnected.status, 200, "{:?}", reconnected.body);
        assert_eq!(
            starts(&api.slots(&expert, ADMIN_TOKEN, &from, &to).await),
            ["09:00", "09:30", "10:00", "10:30"]
        );

        // Disconnected: the expert falls back to hours only.
        let gone = api
            .call(reqwest::Method::DELETE, &integration, Some(&expert_token), None)
            .await;
        assert_eq!(gone.status, 204);
        let expert_now = api.get(&format!("/api/v1/experts/{expert}"), &expert_token).await;
        assert_eq!(expert_now.body["integration_type"], "manual");
        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), &expert_token)
            .await;
        assert_eq!(entry(&list.body)["status"], "disconnected");
        assert_eq!(starts(&api.slots(&expert, ADMIN_TOKEN, &from, &to).await).len(), 6);

        // An unregistered type in a path is 404 unknown_integration.
        let unknown = api
            .put(
                &format!("/api/v1/experts/{expert}/integrations/no_such_provider"),
                &expert_token,
                json!({}),
            )
            .await;
        assert_eq!((unknown.status.as_u16(), unknown.code()), (404, "unknown_integration"));
        server.stop().await;
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("provider-example-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

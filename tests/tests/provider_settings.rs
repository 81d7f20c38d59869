//! What an expert chooses inside a connected provider, through the server and against the fakes:
//! which Google calendars block time (and the slots follow), and the Calendly event type (listed
//! with a token before connecting, then chosen, then changed without sending the token again).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use provider_fakes::{FakeCalendly, FakeGoogle, FakeGraph};
use serde_json::json;
use support::{databases, next_monday, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expert_chooses_which_google_calendars_block_time() {
    for db in databases("the_expert_chooses_which_google_calendars_block_time") {
        let google = FakeGoogle::start().await;
        let env = support::google_env(&google);
        let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let (_, other_token) = api.expert_with_hours().await;
        support::connect_google(api, &expert, &token).await;
        google.add_calendar("family@example.com", "Family", false);
        let day = next_monday();
        google
            .seed_busy(
                "family@example.com",
                &[(&format!("{day}T12:00:00Z"), &format!("{day}T13:00:00Z"))],
            )
            .unwrap();
        let path = format!("/api/v1/experts/{expert}/integrations/google_calendar/calendars");
        let list = api.get(&path, &token).await;
        assert_eq!(list.status, 200, "{:?}", list.body);
        let family = list.body["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "family@example.com")
            .cloned()
            .unwrap();
        assert_eq!(
            family["blocks_time"], false,
            "only the primary calendar blocks time at first"
        );
        let (from, to) = (format!("{day}T00:00:00Z"), format!("{day}T23:59:00Z"));
        let noon = format!("{day}T12:00:00Z");
        let before = api.slots(&expert, &token, &from, &to).await;
        assert!(before.iter().any(|(s, _)| *s == noon), "{before:?}");

        let chosen = api
            .put(
                &path,
                &token,
                json!({"busy_calendar_ids": ["primary", "family@example.com"], "event_calendar_id": "primary"}),
            )
            .await;
        assert_eq!(chosen.status, 200, "{:?}", chosen.body);
        let family = chosen.body["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "family@example.com")
            .cloned()
            .unwrap();
        assert_eq!(family["blocks_time"], true);
        let after = api.slots(&expert, &token, &from, &to).await;
        assert!(
            !after.iter().any(|(s, _)| *s == noon),
            "the family calendar's busy hour blocks at once (the cache was dropped): {after:?}"
        );
        assert_eq!(api.get(&path, &other_token).await.status, 403);
        let empty = api
            .put(&path, &token, json!({"busy_calendar_ids": [], "event_calendar_id": ""}))
            .await;
        assert_eq!(empty.status, 422, "{:?}", empty.body);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expert_picks_and_changes_the_calendly_event_type() {
    for db in databases("the_expert_picks_and_changes_the_calendly_event_type") {
        let calendly = FakeCalendly::start().await;
        let base = calendly.api_base();
        let server = TestServer::start_with_env(&db, &[("CALENDLY_API_BASE", &base)]).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let types_path = format!("/api/v1/experts/{expert}/integrations/calendly/event_types");
        let connect_path = format!("/api/v1/experts/{expert}/integrations/calendly");

        // A calendar route of an integration that is not connected: 409, never a 5xx.
        let not_yet = api.get(&types_path, &token).await;
        assert_eq!(
            (not_yet.status.as_u16(), not_yet.code()),
            (409, "integration_not_connected")
        );
        let refused = api
            .post(&types_path, &token, json!({"personal_access_token": "nope"}))
            .await;
        assert_eq!((refused.status.as_u16(), refused.code()), (422, "invalid_token"));

        let pat = calendly.personal_access_token(&[]);
        let consult = calendly.add_event_type("Consult", 30);
        let intro = calendly.add_event_type("Intro", 15);
        let listed = api
            .post(&types_path, &token, json!({"personal_access_token": pat}))
            .await;
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        let mut names: Vec<&str> = listed.body["event_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["Consult", "Intro"]);
        let integrations = format!("/api/v1/experts/{expert}/integrations");
        let calendly_entry = |body: &serde_json::Value| {
            body.as_array()
                .unwrap()
                .iter()
                .find(|i| i["type"] == "calendly")
                .cloned()
                .unwrap()
        };
        let listing = api.get(&integrations, &token).await;
        assert_eq!(
            calendly_entry(&listing.body)["status"],
            "disconnected",
            "listing stored nothing"
        );

        let connected = api
            .put(
                &connect_path,
                &token,
                json!({"personal_access_token": pat, "event_type_uri": consult}),
            )
            .await;
        assert_eq!(connected.status, 200, "{:?}", connected.body);
        let entry = calendly_entry(&api.get(&integrations, &token).await.body);
        assert_eq!(
            (
                entry["event_type"]["uri"].as_str(),
                entry["event_type"]["duration_minutes"].as_i64()
            ),
            (Some(consult.as_str()), Some(30))
        );
        assert_eq!(
            api.get(&types_path, &token).await.body["event_types"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // Another event type, without sending the token again.
        let changed = api.put(&connect_path, &token, json!({"event_type_uri": intro})).await;
        assert_eq!(changed.status, 200, "{:?}", changed.body);
        let entry = calendly_entry(&api.get(&integrations, &token).await.body);
        assert_eq!(
            (
                entry["event_type"]["uri"].as_str(),
                entry["event_type"]["name"].as_str()
            ),
            (Some(intro.as_str()), Some("Intro"))
        );
        let unknown = api
            .put(
                &connect_path,
                &token,
                json!({"event_type_uri": "https://api.calendly.com/event_types/NOPE"}),
            )
            .await;
        assert_eq!((unknown.status.as_u16(), unknown.code()), (422, "unknown_event_type"));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_working_hours_are_offered_not_imposed() {
    for db in databases("outlook_working_hours_are_offered_not_imposed") {
        let graph = FakeGraph::start().await;
        let env = support::graph_env(&graph);
        let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
        let api = &server.api;
        let (expert, token) = api.expert_with_hours().await;
        let path = format!("/api/v1/experts/{expert}/integrations/office365_calendar/working_hours");
        let not_yet = api.get(&path, &token).await;
        assert_eq!(
            (not_yet.status.as_u16(), not_yet.code()),
            (409, "integration_not_connected")
        );
        support::connect_oauth(api, &expert, &token, "office365_calendar").await;
        let stored_before = api.get(&format!("/api/v1/experts/{expert}/availability"), &token).await;

        // The fake's mailbox works Monday to Friday 08:00-17:00 Pacific time.
        let hours = api.get(&path, &token).await;
        assert_eq!(hours.status, 200, "{:?}", hours.body);
        assert_eq!(hours.body["timezone"], "America/Los_Angeles");
        let rules = hours.body["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 5, "{rules:?}");
        assert!(rules
            .iter()
            .all(|r| r["start_time"] == "08:00" && r["end_time"] == "17:00" && r["is_available"] == true));
        let days: Vec<i64> = rules.iter().map(|r| r["day_of_week"].as_i64().unwrap()).collect();
        assert_eq!(days, [1, 2, 3, 4, 5]);
        let stored_after = api.get(&format!("/api/v1/experts/{expert}/availability"), &token).await;
        assert_eq!(
            stored_after.body, stored_before.body,
            "nothing is stored until the expert saves"
        );

        // Saved as they came, they become the expert's hours.
        let saved = api
            .put(
                &format!("/api/v1/experts/{expert}/availability"),
                &token,
                hours.body.clone(),
            )
            .await;
        assert_eq!(saved.status, 200, "{:?}", saved.body);
        assert_eq!(saved.body["timezone"], "America/Los_Angeles");

        let (_, other) = api.expert_with_hours().await;
        assert_eq!(api.get(&path, &other).await.status, 403);
        server.stop().await;
    }
}

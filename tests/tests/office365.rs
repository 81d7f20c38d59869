//! Microsoft 365 / Outlook through the server, against the Graph fake: connect with OAuth, the
//! account shown, slots minus getSchedule's busy time, bookings written as Outlook events by the
//! outbox, and Graph's limit of 4 concurrent requests per mailbox honoured under a burst.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use provider_fakes::FakeGraph;
use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer, ADMIN_TOKEN};

async fn start(db: &support::TestDb, graph: &FakeGraph) -> TestServer {
    let env = support::graph_env(graph);
    TestServer::start_with_env(db, &support::env_refs(&env)).await
}

async fn wait_synced(api: &Api, id: &str, token: &str) -> Value {
    for _ in 0..100 {
        let a = api.get(&format!("/api/v1/appointments/{id}"), token).await;
        if a.body["sync_status"] == "synced" {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("appointment {id} never synced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_experts_book_into_their_calendar() {
    for db in databases("outlook_experts_book_into_their_calendar") {
        let graph = FakeGraph::start().await;
        let server = start(&db, &graph).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let url = support::connect_oauth(api, &expert, &expert_token, "office365_calendar").await;
        assert!(url.contains("response_mode=query"), "{url}");
        let list = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), ADMIN_TOKEN)
            .await;
        assert_eq!(list.body[1]["status"], "connected");
        assert_eq!(list.body[1]["account"].as_str(), Some(graph.user_address().as_str()));

        let day = next_monday();
        graph
            .seed_schedule_item("busy", &format!("{day}T10:00:00Z"), &format!("{day}T11:00:00Z"))
            .unwrap();
        graph
            .seed_schedule_item("free", &format!("{day}T13:00:00Z"), &format!("{day}T14:00:00Z"))
            .unwrap();
        let (client, client_token) = api.client_with_token().await;
        let slots = api
            .slots(
                &expert,
                &client_token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:00Z"),
            )
            .await;
        let starts: Vec<&str> = slots.iter().map(|(s, _)| s.as_str()).collect();
        assert!(
            !starts.iter().any(|s| s.starts_with(&format!("{day}T10:"))),
            "busy blocks: {starts:?}"
        );
        assert!(
            starts.contains(&format!("{day}T13:00:00Z").as_str()),
            "free does not block: {starts:?}"
        );

        let booked = api
            .post("/api/v1/appointments", &client_token, json!({"expert_id": expert, "client_id": client, "start_time": format!("{day}T09:00:00Z"), "end_time": format!("{day}T09:30:00Z")}))
            .await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        let id = booked.body["id"].as_str().unwrap().to_owned();
        let synced = wait_synced(api, &id, &client_token).await;
        let event_id = synced["external_calendar_event_id"].as_str().unwrap().to_owned();
        let events = graph.events();
        let event = events
            .iter()
            .find(|e| e["id"] == event_id.as_str())
            .expect("the event is in Outlook");
        assert_eq!(event["transactionId"], id.as_str());
        assert_eq!(event["showAs"], "busy");
        api.post(&format!("/api/v1/appointments/{id}/cancel"), &client_token, json!({}))
            .await;
        wait_synced(api, &id, &client_token).await;
        assert!(
            graph
                .events()
                .iter()
                .all(|e| e["id"] != event_id.as_str() || e["isCancelled"] == true),
            "{}",
            db.label
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_slot_queries_keeps_to_four_requests_per_mailbox() {
    for db in databases("a_burst_of_slot_queries_keeps_to_four_requests_per_mailbox") {
        let graph = FakeGraph::start().await;
        let server = start(&db, &graph).await;
        let api = server.api.clone();
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_oauth(&api, &expert, &expert_token, "office365_calendar").await;
        let (_, client_token) = api.client_with_token().await;
        graph.set_latency(Duration::from_millis(100));
        let monday: availability_core::domain::jiff::Timestamp =
            format!("{}T00:00:00Z", next_monday()).parse().unwrap();
        // Twenty different days, so that no cached answer stands in for Graph.
        let tasks: Vec<_> = (0..20)
            .map(|n| {
                let (api, expert, token) = (api.clone(), expert.clone(), client_token.clone());
                let from = monday + availability_core::domain::jiff::SignedDuration::from_hours(24 * n);
                let to = from + availability_core::domain::jiff::SignedDuration::from_hours(24);
                tokio::spawn(async move {
                    api.get(&format!("/api/v1/experts/{expert}/slots?from={from}&to={to}"), &token)
                        .await
                })
            })
            .collect();
        for t in tasks {
            let a = t.await.unwrap();
            assert_eq!(a.status, 200, "{}: {:?}", db.label, a.body);
        }
        assert!(
            graph.max_in_flight() <= 4,
            "{}: {} requests in flight",
            db.label,
            graph.max_in_flight()
        );
        server.stop().await;
    }
}

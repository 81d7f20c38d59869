//! Real server processes (the binary cargo built for these tests): two processes on one
//! PostgreSQL never double-book, and data survive a restart of the process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../tests/tests/support/mod.rs"]
mod support;

use serde_json::json;
use support::{databases, next_monday, postgres, race, ProcessServer, ADMIN_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_on_one_postgres_never_double_book() {
    let Some(db) = postgres("two_server_processes_on_one_postgres_never_double_book") else {
        return;
    };
    let a = ProcessServer::spawn(&db).await;
    let b = ProcessServer::spawn(&db).await;
    let (expert, _) = a.api.expert_with_hours().await;
    let (client, client_token) = b.api.client_with_token().await;
    let day = next_monday();
    // Several slots in turn, each raced by both processes at once.
    for hour in ["09", "10", "11"] {
        let (start, end) = (format!("{day}T{hour}:00:00Z"), format!("{day}T{hour}:30:00Z"));
        let apis = [a.api.clone(), b.api.clone()];
        assert_eq!(
            race(&apis, &expert, &client, &client_token, &start, &end).await,
            (1, 49),
            "slot {start}"
        );
    }
    let list = b
        .api
        .get(
            &format!("/api/v1/clients/{client}/appointments?from={day}T00:00:00Z&to={day}T23:59:00Z"),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(list.body["appointments"].as_array().unwrap().len(), 3);
    a.stop();
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survive_a_restart_of_the_server_process() {
    for db in databases("data_survive_a_restart_of_the_server_process") {
        let first = ProcessServer::spawn(&db).await;
        let (expert, expert_token) = first.api.expert_with_hours().await;
        let (client, client_token) = first.api.client_with_token().await;
        let day = next_monday();
        let booked = first
            .api
            .post(
                "/api/v1/appointments",
                &client_token,
                json!({"expert_id": expert, "client_id": client, "start_time": format!("{day}T10:00:00Z"), "end_time": format!("{day}T10:30:00Z")}),
            )
            .await;
        assert_eq!(booked.status, 201, "{:?}", booked.body);
        first.stop();

        let second = ProcessServer::spawn(&db).await;
        let again = second
            .api
            .get(
                &format!("/api/v1/appointments/{}", booked.body["id"].as_str().unwrap()),
                &client_token,
            )
            .await;
        assert_eq!(again.status, 200, "{}", db.label);
        assert_eq!(again.body, booked.body, "{}: the appointment is unchanged", db.label);
        let rules = second
            .api
            .get(&format!("/api/v1/experts/{expert}/availability"), &expert_token)
            .await;
        assert_eq!(
            rules.body["rules"].as_array().unwrap().len(),
            5,
            "{}: the rules are still there",
            db.label
        );
        let slots = second
            .api
            .slots(
                &expert,
                &client_token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:00Z"),
            )
            .await;
        assert!(
            !slots.iter().any(|(s, _)| s == &format!("{day}T10:00:00Z")),
            "{}: the booked slot stays taken",
            db.label
        );
        second.stop();
    }
}

//! No double booking, ever: 50 concurrent bookings of one slot give one 201 and 49 x 409, on
//! SQLite, on PostgreSQL, and with two server processes sharing one PostgreSQL database. And data
//! survive a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::json;
use support::{databases, next_monday, postgres, Api, ProcessServer, TestServer, ADMIN_TOKEN};

async fn race(apis: &[Api], expert: &str, client: &str, client_token: &str, start: &str, end: &str) -> (usize, usize) {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let api = apis[i % apis.len()].clone();
            let body = json!({"expert_id": expert, "client_id": client, "start_time": start, "end_time": end});
            let token = client_token.to_owned();
            tokio::spawn(async move { api.post("/api/v1/appointments", &token, body).await })
        })
        .collect();
    let (mut created, mut taken) = (0, 0);
    for t in tasks {
        let a = t.await.unwrap();
        match a.status.as_u16() {
            201 => created += 1,
            409 => {
                assert_eq!(a.code(), "slot_taken");
                taken += 1
            }
            other => panic!("unexpected {other}: {:?}", a.body),
        }
    }
    (created, taken)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bookings_of_one_slot_give_one_201_and_49_409() {
    for db in databases("fifty_concurrent_bookings_of_one_slot_give_one_201_and_49_409") {
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, _) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;
        let day = next_monday();
        let (start, end) = (format!("{day}T09:00:00Z"), format!("{day}T09:30:00Z"));
        assert_eq!(
            race(std::slice::from_ref(api), &expert, &client, &client_token, &start, &end).await,
            (1, 49),
            "{}",
            db.label
        );
        let list = api
            .get(
                &format!("/api/v1/experts/{expert}/appointments?from={day}T00:00:00Z&to={day}T23:59:00Z"),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(list.body["appointments"].as_array().unwrap().len(), 1, "{}", db.label);
        server.stop().await;
    }
}

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

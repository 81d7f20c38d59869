//! No double booking, ever: 50 concurrent bookings of one slot give one 201 and 49 x 409, on
//! SQLite and on PostgreSQL. (Two server processes on one PostgreSQL, and restarts, are in
//! crates/availability-server/tests/processes.rs, where cargo builds the binary.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{databases, next_monday, race, TestServer, ADMIN_TOKEN};

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

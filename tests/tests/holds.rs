//! Holds through the real server over HTTP on SQLite and PostgreSQL: a client's hold hides the
//! time from everyone's slots and refuses everyone else's booking; thirty clients racing for the
//! held time lose to its holder, who books it with the hold; a hold is released by its client (not
//! by another), a new one replaces the old, and bad holds answer in the contract's shape; two
//! server processes on one PostgreSQL racing holds and bookings store one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer};

async fn hold(api: &Api, token: &str, expert: &str, client: &str, slot: &(String, String)) -> support::Answer {
    api.post(
        "/api/v1/holds",
        token,
        json!({"expert_id": expert, "client_id": client, "start_time": slot.0, "end_time": slot.1}),
    )
    .await
}

fn booking(expert: &str, client: &str, slot: &(String, String), hold: Option<&str>) -> Value {
    let mut body = json!({"expert_id": expert, "client_id": client, "start_time": slot.0, "end_time": slot.1});
    if let Some(h) = hold {
        body["hold_id"] = json!(h);
    }
    body
}

async fn monday_slots(api: &Api, expert: &str, token: &str) -> Vec<(String, String)> {
    let monday = next_monday();
    api.slots(
        expert,
        token,
        &format!("{monday}T00:00:00Z"),
        &format!("{monday}T23:59:59Z"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_holder_books_a_held_time() {
    for db in databases("only_the_holder_books_a_held_time") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, _) = api.expert_with_hours().await;
        let (ann, ann_token) = api.client_with_token().await;
        let free = monday_slots(api, &expert, &ann_token).await;
        let slot = free[2].clone();

        let held = hold(api, &ann_token, &expert, &ann, &slot).await;
        assert_eq!(held.status, 201, "{l}: {:?}", held.body);
        let hold_id = held.body["id"].as_str().unwrap().to_owned();
        assert_eq!(held.body["start_time"], slot.0.as_str(), "{l}");
        assert!(held.body["expires_at"].as_str().is_some(), "{l}");
        let shown = monday_slots(api, &expert, &ann_token).await;
        assert!(!shown.contains(&slot), "{l}: a held time is no slot");
        assert_eq!(shown.len(), free.len() - 1, "{l}");

        // Thirty other clients race for the held time while its holder books it.
        let mut others = Vec::new();
        for _ in 0..30 {
            others.push(api.client_with_token().await);
        }
        let mut tasks = Vec::new();
        for (client, token) in others {
            let (api, body) = (api.clone(), booking(&expert, &client, &slot, None));
            tasks.push(tokio::spawn(async move {
                (false, api.post("/api/v1/appointments", &token, body).await)
            }));
        }
        {
            let (api, body, token) = (
                api.clone(),
                booking(&expert, &ann, &slot, Some(&hold_id)),
                ann_token.clone(),
            );
            tasks.push(tokio::spawn(async move {
                (true, api.post("/api/v1/appointments", &token, body).await)
            }));
        }
        for t in tasks {
            let (holder, answer) = t.await.unwrap();
            if holder {
                assert_eq!(answer.status, 201, "{l}: {:?}", answer.body);
            } else {
                assert_eq!(answer.status, 409, "{l}: {:?}", answer.body);
                assert_eq!(answer.code(), "slot_taken", "{l}");
            }
        }
        // The hold is gone with the booking: a second redemption is refused, a release is a 204.
        let again = api
            .post(
                "/api/v1/appointments",
                &ann_token,
                booking(&expert, &ann, &slot, Some(&hold_id)),
            )
            .await;
        assert_eq!(
            (again.status.as_u16(), again.code()),
            (409, "hold_expired"),
            "{l}: {:?}",
            again.body
        );
        let gone = api
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/holds/{hold_id}"),
                Some(&ann_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204, "{l}");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_are_released_replaced_and_refused_clearly() {
    for db in databases("holds_are_released_replaced_and_refused_clearly") {
        let l = db.label;
        let server = TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (ann, ann_token) = api.client_with_token().await;
        let (bob, bob_token) = api.client_with_token().await;
        let free = monday_slots(api, &expert, &ann_token).await;

        let first = hold(api, &ann_token, &expert, &ann, &free[0]).await;
        assert_eq!(first.status, 201, "{l}: {:?}", first.body);
        // A second hold of the same client with the same expert replaces the first.
        let second = hold(api, &ann_token, &expert, &ann, &free[4]).await;
        assert_eq!(second.status, 201, "{l}: {:?}", second.body);
        let shown = monday_slots(api, &expert, &bob_token).await;
        assert!(shown.contains(&free[0]) && !shown.contains(&free[4]), "{l}: {shown:?}");
        let second_id = second.body["id"].as_str().unwrap();

        // Bob can neither hold it, nor book it, nor use Ann's hold, nor release it.
        let taken = hold(api, &bob_token, &expert, &bob, &free[4]).await;
        assert_eq!((taken.status.as_u16(), taken.code()), (409, "slot_taken"), "{l}");
        let stolen = api
            .post(
                "/api/v1/appointments",
                &bob_token,
                booking(&expert, &bob, &free[4], Some(second_id)),
            )
            .await;
        assert_eq!(
            (stolen.status.as_u16(), stolen.code()),
            (422, "hold_mismatch"),
            "{l}: {:?}",
            stolen.body
        );
        let path = format!("/api/v1/holds/{second_id}");
        let not_his = api.call(reqwest::Method::DELETE, &path, Some(&bob_token), None).await;
        assert_eq!(not_his.status, 403, "{l}");
        let not_the_experts = api
            .call(reqwest::Method::DELETE, &path, Some(&expert_token), None)
            .await;
        assert_eq!(not_the_experts.status, 403, "{l}");
        // Ann's hold for another time than the booking's.
        let mismatch = api
            .post(
                "/api/v1/appointments",
                &ann_token,
                booking(&expert, &ann, &free[5], Some(second_id)),
            )
            .await;
        assert_eq!(
            (mismatch.status.as_u16(), mismatch.code()),
            (422, "hold_mismatch"),
            "{l}"
        );

        // Released by its client: the time is everyone's again.
        let released = api.call(reqwest::Method::DELETE, &path, Some(&ann_token), None).await;
        assert_eq!(released.status, 204, "{l}");
        assert!(monday_slots(api, &expert, &bob_token).await.contains(&free[4]), "{l}");

        // Bad holds.
        for (body, status, code) in [
            (json!({"ttl_seconds": 30}), 422, "out_of_range"),
            (json!({"ttl_seconds": 901}), 422, "out_of_range"),
            (json!({"start_time": "2026-13-01T00:00:00Z"}), 400, "invalid_parameter"),
            (json!({"end_time": free[0].0}), 422, "end_before_start"),
        ] {
            let mut full =
                json!({"expert_id": expert, "client_id": ann, "start_time": free[1].0, "end_time": free[1].1});
            for (k, v) in body.as_object().unwrap() {
                full[k] = v.clone();
            }
            let answer = api.post("/api/v1/holds", &ann_token, full.clone()).await;
            assert_eq!(
                (answer.status.as_u16(), answer.code()),
                (status, code),
                "{l}: {full}: {:?}",
                answer.body
            );
        }
        let for_bob = hold(api, &ann_token, &expert, &bob, &free[1]).await;
        assert_eq!(for_bob.status, 403, "{l}: a client holds only for themselves");
        let night = hold(
            api,
            &ann_token,
            &expert,
            &ann,
            &(
                free[0].0.replace("T08:", "T22:").replace("T07:", "T22:"),
                free[0].1.replace("T08:", "T22:").replace("T07:", "T22:"),
            ),
        )
        .await;
        assert_eq!(
            (night.status.as_u16(), night.code()),
            (422, "slot_unavailable"),
            "{l}: {:?}",
            night.body
        );
        let bad_id = api
            .post(
                "/api/v1/appointments",
                &ann_token,
                booking(&expert, &ann, &free[1], Some("not-a-hold")),
            )
            .await;
        assert_eq!(bad_id.status, 400, "{l}: {:?}", bad_id.body);
        server.stop().await;
    }
}

/// Two server processes on one PostgreSQL: thirty clients, a third booking and the rest holding
/// the same time, through either process, store exactly one hold or appointment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_never_store_overlapping_holds_and_appointments() {
    let Some(db) = support::postgres("two_server_processes_never_store_overlapping_holds_and_appointments") else {
        return;
    };
    let first = support::ProcessServer::spawn(&db).await;
    let second = support::ProcessServer::spawn(&db).await;
    let (expert, _) = first.api.expert_with_hours().await;
    let mut clients = Vec::new();
    for _ in 0..30 {
        clients.push(first.api.client_with_token().await);
    }
    let slot = monday_slots(&first.api, &expert, &clients[0].1).await[3].clone();
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(n, (client, token))| {
            let api = if n % 2 == 0 {
                first.api.clone()
            } else {
                second.api.clone()
            };
            let (expert, client, token, slot) = (expert.clone(), client.clone(), token.clone(), slot.clone());
            tokio::spawn(async move {
                if n % 3 == 0 {
                    api.post("/api/v1/appointments", &token, booking(&expert, &client, &slot, None))
                        .await
                } else {
                    hold(&api, &token, &expert, &client, &slot).await
                }
            })
        })
        .collect();
    let mut stored = 0;
    for t in tasks {
        let answer = t.await.unwrap();
        match answer.status.as_u16() {
            201 => stored += 1,
            409 => assert_eq!(answer.code(), "slot_taken"),
            other => panic!("unexpected {other}: {:?}", answer.body),
        }
    }
    assert_eq!(stored, 1, "one hold or appointment of the time, across two processes");
    let seen = monday_slots(&second.api, &expert, &clients[1].1).await;
    assert!(!seen.contains(&slot), "the time is taken for everyone: {seen:?}");
    first.stop();
    second.stop();
}

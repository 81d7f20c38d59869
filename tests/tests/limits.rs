//! Booking limits (slot-semantics rule 10) through the real server on SQLite and PostgreSQL: a
//! limit of two bookings a day hides the day's slots once two are booked and refuses a third
//! (422 `limit_reached`), a reschedule within the day does not count twice, a cancellation gives
//! the day back, a week limit closes the rest of the week, the explanation names the limit, and a
//! policy outside the ranges is refused with nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::{databases, next_monday, Api};

/// The day after `day` ("YYYY-MM-DD").
fn day_after(day: &str, n: i64) -> String {
    use availability_core::domain::jiff::civil::Date;
    let d: Date = day.parse().unwrap();
    d.checked_add(availability_core::domain::jiff::Span::new().days(n))
        .unwrap()
        .to_string()
}

/// The slots that start on one UTC day (the expert works 09:00-17:00 Berlin, inside it).
async fn slots_on(api: &Api, expert: &str, token: &str, day: &str) -> Vec<(String, String)> {
    api.slots(
        expert,
        token,
        &format!("{day}T00:00:00Z"),
        &format!("{}T00:00:00Z", day_after(day, 1)),
    )
    .await
}

async fn book(api: &Api, token: &str, expert: &str, client: &str, slot: &(String, String)) -> support::Answer {
    api.post(
        "/api/v1/appointments",
        token,
        json!({"expert_id": expert, "client_id": client, "start_time": slot.0, "end_time": slot.1}),
    )
    .await
}

fn codes(explanation: &Value) -> Vec<String> {
    explanation["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_and_week_limits_hide_slots_and_refuse_bookings() {
    for db in databases("day_and_week_limits_hide_slots_and_refuse_bookings") {
        let l = db.label;
        let server = support::TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let (client, client_token) = api.client_with_token().await;

        let policy = api
            .put(
                &format!("/api/v1/experts/{expert}/booking-policy"),
                &expert_token,
                json!({"slot_duration_minutes": 60, "max_bookings_per_day": 2, "max_bookings_per_week": 3}),
            )
            .await;
        assert_eq!(policy.status, 200, "{l}: {:?}", policy.body);
        assert_eq!(policy.body["max_bookings_per_day"], 2, "{l}");
        assert_eq!(policy.body["max_bookings_per_week"], 3, "{l}");
        assert!(
            policy.body.get("max_bookings_per_month").is_none(),
            "{l}: no month limit"
        );

        let monday = next_monday();
        let tuesday = day_after(&monday, 1);
        let wednesday = day_after(&monday, 2);
        let free = slots_on(api, &expert, &client_token, &monday).await;
        assert_eq!(free.len(), 8, "{l}: 09:00-17:00 in hours: {free:?}");

        // Two bookings fill Monday: no slot is left that day, and a third is refused.
        let first = book(api, &client_token, &expert, &client, &free[0]).await;
        assert_eq!(first.status, 201, "{l}: {:?}", first.body);
        let second = book(api, &client_token, &expert, &client, &free[3]).await;
        assert_eq!(second.status, 201, "{l}: {:?}", second.body);
        assert!(
            slots_on(api, &expert, &client_token, &monday).await.is_empty(),
            "{l}: Monday is full"
        );
        assert_eq!(slots_on(api, &expert, &client_token, &tuesday).await.len(), 8, "{l}");
        let third = book(api, &client_token, &expert, &client, &free[5]).await;
        assert_eq!(third.status, 422, "{l}: {:?}", third.body);
        assert_eq!(third.code(), "limit_reached", "{l}");

        // The explanation names the limit (with the other reasons that apply: none here).
        let why = api
            .get(
                &format!("/api/v1/experts/{expert}/availability/explain?start={}", free[5].0),
                &expert_token,
            )
            .await;
        assert_eq!(why.status, 200, "{l}: {:?}", why.body);
        assert_eq!(why.body["bookable"], false, "{l}");
        assert_eq!(codes(&why.body), vec!["limit_reached"], "{l}: {:?}", why.body);

        // Moving a booking within its day does not count it twice.
        let first_id = first.body["id"].as_str().unwrap();
        let moved = api
            .patch(
                &format!("/api/v1/appointments/{first_id}"),
                &client_token,
                json!({"start_time": free[6].0, "end_time": free[6].1}),
            )
            .await;
        assert_eq!(moved.status, 200, "{l}: {:?}", moved.body);

        // A third booking in the week (Tuesday) reaches the week limit: Wednesday shows nothing
        // and refuses a booking, although it has no booking of its own.
        let tuesday_slots = slots_on(api, &expert, &client_token, &tuesday).await;
        let on_tuesday = book(api, &client_token, &expert, &client, &tuesday_slots[2]).await;
        assert_eq!(on_tuesday.status, 201, "{l}: {:?}", on_tuesday.body);
        assert!(
            slots_on(api, &expert, &client_token, &wednesday).await.is_empty(),
            "{l}: the week is full"
        );
        let wednesday_try = book(
            api,
            &client_token,
            &expert,
            &client,
            &(format!("{wednesday}T09:00:00Z"), format!("{wednesday}T10:00:00Z")),
        )
        .await;
        assert_eq!(wednesday_try.status, 422, "{l}: {:?}", wednesday_try.body);
        assert_eq!(wednesday_try.code(), "limit_reached", "{l}");

        // Cancelling Monday's second booking gives a place back, in the day and in the week.
        let second_id = second.body["id"].as_str().unwrap();
        let cancelled = api
            .post(
                &format!("/api/v1/appointments/{second_id}/cancel"),
                &client_token,
                json!({}),
            )
            .await;
        assert_eq!(cancelled.status, 200, "{l}: {:?}", cancelled.body);
        let monday_again = slots_on(api, &expert, &client_token, &monday).await;
        assert_eq!(
            monday_again.len(),
            7,
            "{l}: all but the moved booking's hour: {monday_again:?}"
        );
        assert_eq!(slots_on(api, &expert, &client_token, &wednesday).await.len(), 8, "{l}");

        // Out of range: refused, and the stored policy is unchanged.
        for bad in [
            json!({"max_bookings_per_day": 0}),
            json!({"max_bookings_per_week": 1001}),
            json!({"max_booked_minutes_per_day": 1441}),
            json!({"max_bookings_per_month": "many"}),
        ] {
            let refused = api
                .put(
                    &format!("/api/v1/experts/{expert}/booking-policy"),
                    &expert_token,
                    bad.clone(),
                )
                .await;
            assert!(
                refused.status == 422 || refused.status == 400,
                "{l}: {bad}: {:?}",
                refused.body
            );
            assert!(!refused.code().is_empty(), "{l}: {bad}");
        }
        let stored = api
            .get(&format!("/api/v1/experts/{expert}/booking-policy"), &client_token)
            .await;
        assert_eq!(stored.body["max_bookings_per_day"], 2, "{l}: {:?}", stored.body);

        // A policy without limits lifts them.
        let lifted = api
            .put(
                &format!("/api/v1/experts/{expert}/booking-policy"),
                &expert_token,
                json!({"slot_duration_minutes": 60}),
            )
            .await;
        assert_eq!(lifted.status, 200, "{l}: {:?}", lifted.body);
        assert!(lifted.body.get("max_bookings_per_day").is_none(), "{l}");
        assert_eq!(slots_on(api, &expert, &client_token, &wednesday).await.len(), 8, "{l}");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bookings_never_pass_a_limit_together() {
    for db in databases("concurrent_bookings_never_pass_a_limit_together") {
        let l = db.label;
        let server = support::TestServer::start(&db).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        let policy = api
            .put(
                &format!("/api/v1/experts/{expert}/booking-policy"),
                &expert_token,
                json!({"slot_duration_minutes": 60, "max_bookings_per_day": 1}),
            )
            .await;
        assert_eq!(policy.status, 200, "{l}: {:?}", policy.body);
        let (client, client_token) = api.client_with_token().await;
        let monday = next_monday();
        let free = slots_on(api, &expert, &client_token, &monday).await;
        assert_eq!(free.len(), 8, "{l}");
        // Eight clients' requests at once, each for another free hour of the same day.
        let tasks: Vec<_> = free
            .iter()
            .cloned()
            .map(|slot| {
                let (api, token, expert, client) = (api.clone(), client_token.clone(), expert.clone(), client.clone());
                tokio::spawn(async move { book(&api, &token, &expert, &client, &slot).await })
            })
            .collect();
        let mut created = 0;
        for t in tasks {
            let a = t.await.unwrap();
            match a.status.as_u16() {
                201 => created += 1,
                422 => assert_eq!(a.code(), "limit_reached", "{l}"),
                other => panic!("{l}: unexpected {other}: {:?}", a.body),
            }
        }
        assert_eq!(created, 1, "{l}: one booking a day");
        let booked = api
            .get(
                &format!("/api/v1/experts/{expert}/appointments?status=confirmed"),
                &expert_token,
            )
            .await;
        assert_eq!(
            booked.body["appointments"].as_array().unwrap().len(),
            1,
            "{l}: {:?}",
            booked.body
        );
        server.stop().await;
    }
}

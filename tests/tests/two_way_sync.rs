//! Two-way sync through the real server against the Google and Graph fakes (events.list sync
//! tokens, calendarView delta queries), on SQLite and PostgreSQL, with the catch-up read every
//! second (CALENDAR_SYNC_SECONDS=1): deleting the event of a booked appointment in the expert's
//! calendar cancels it, moving an event moves its appointment, moving one onto another appointment
//! gives `conflict` and keeps the time, and later reads change nothing more.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use provider_fakes::{FakeGoogle, FakeGraph};
use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer};

async fn wait_for(api: &Api, id: &str, token: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..150 {
        let a = api.get(&format!("/api/v1/appointments/{id}"), token).await;
        if done(&a.body) {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = api.get(&format!("/api/v1/appointments/{id}"), token).await;
    panic!("appointment {id} never {what}: {:?}", last.body);
}

/// The expert's calendar, as its user changes it.
enum Calendar {
    Google(FakeGoogle),
    Outlook(FakeGraph),
}

impl Calendar {
    async fn start(google: bool) -> Self {
        if google {
            Calendar::Google(FakeGoogle::start().await)
        } else {
            Calendar::Outlook(FakeGraph::start().await)
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Calendar::Google(google) => support::google_env(google),
            Calendar::Outlook(graph) => support::graph_env(graph),
        }
    }

    fn integration(&self) -> &'static str {
        match self {
            Calendar::Google(_) => "google_calendar",
            Calendar::Outlook(_) => "office365_calendar",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Calendar::Google(_) => "Google Calendar",
            Calendar::Outlook(_) => "Office 365",
        }
    }

    /// Waits until the server has read the calendar's changes twice (a full read, and one
    /// since its cursor).
    async fn read_twice(&self) {
        for _ in 0..100 {
            let reads = match self {
                Calendar::Google(google) => google
                    .requests()
                    .iter()
                    .filter(|r| r.method == "GET" && r.path.ends_with("/events"))
                    .count(),
                Calendar::Outlook(graph) => graph
                    .requests()
                    .iter()
                    .filter(|r| r.path.ends_with("/calendarView/delta"))
                    .count(),
            };
            if reads >= 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server never read the calendar's changes");
    }

    fn delete_event(&self, id: &str) {
        match self {
            Calendar::Google(google) => google.delete_event("primary", id).unwrap(),
            Calendar::Outlook(graph) => graph.delete_event(id).unwrap(),
        }
    }

    fn move_event(&self, id: &str, start: &str, end: &str) {
        match self {
            Calendar::Google(google) => google.move_event("primary", id, start, end).unwrap(),
            Calendar::Outlook(graph) => graph.move_event(id, start, end).unwrap(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointments_follow_what_the_expert_changes_in_google_calendar() {
    follow("appointments_follow_what_the_expert_changes_in_google_calendar", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointments_follow_what_the_expert_changes_in_outlook() {
    follow("appointments_follow_what_the_expert_changes_in_outlook", false).await;
}

async fn follow(name: &str, google: bool) {
    for db in databases(name) {
        let l = db.label;
        let calendar = Calendar::start(google).await;
        let mut env = calendar.env();
        env.push(("CALENDAR_SYNC_SECONDS", "1".into()));
        let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_oauth(api, &expert, &expert_token, calendar.integration()).await;
        let (client, client_token) = api.client_with_token().await;
        let policy = api
            .put(
                &format!("/api/v1/experts/{expert}/booking-policy"),
                &expert_token,
                json!({"slot_duration_minutes": 60}),
            )
            .await;
        assert_eq!(policy.status, 200, "{l}: {:?}", policy.body);

        let day = next_monday();
        let slots = api
            .slots(
                &expert,
                &client_token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:00Z"),
            )
            .await;
        assert!(slots.len() >= 6, "{l}: {slots:?}");
        let mut booked = Vec::new();
        for slot in [&slots[0], &slots[2], &slots[4]] {
            let b = api
                .post(
                    "/api/v1/appointments",
                    &client_token,
                    json!({"expert_id": expert, "client_id": client, "start_time": slot.0, "end_time": slot.1}),
                )
                .await;
            assert_eq!(b.status, 201, "{l}: {:?}", b.body);
            let id = b.body["id"].as_str().unwrap().to_owned();
            let synced = wait_for(api, &id, &client_token, "synced", |a| a["sync_status"] == "synced").await;
            let event = synced["external_calendar_event_id"].as_str().unwrap().to_owned();
            booked.push((id, event));
        }
        let [(deleted, deleted_event), (moving, moving_event), (onto, onto_event)] = &booked[..] else {
            unreachable!()
        };

        // Once the server has read the calendar (a full read, then reads since its cursor), the
        // expert deletes one event there: its appointment is cancelled.
        calendar.read_twice().await;
        calendar.delete_event(deleted_event);
        let cancelled = wait_for(api, deleted, &client_token, "cancelled", |a| a["status"] == "cancelled").await;
        assert_eq!(
            cancelled["cancellation_reason"],
            format!("deleted in {}", calendar.name()),
            "{l}"
        );
        assert_eq!(cancelled["cancelled_by"], "calendar", "{l}");

        // Moves another to a time outside the expert's hours (the expert may): it follows.
        let (new_start, new_end) = (format!("{day}T19:00:00Z"), format!("{day}T20:00:00Z"));
        calendar.move_event(moving_event, &new_start, &new_end);
        let moved = wait_for(api, moving, &client_token, "moved", |a| {
            a["start_time"]
                .as_str()
                .and_then(|s| s.parse::<jiff_ts::Timestamp>().ok())
                == new_start.parse::<jiff_ts::Timestamp>().ok()
        })
        .await;
        assert_eq!(moved["status"], "confirmed", "{l}");
        assert_eq!(moved["sync_status"], "synced", "{l}: nothing to write back");

        // Moves the third onto the second's new time: it keeps its time, in conflict.
        let onto_before = api
            .get(&format!("/api/v1/appointments/{onto}"), &client_token)
            .await
            .body;
        calendar.move_event(onto_event, &new_start, &new_end);
        let conflict = wait_for(api, onto, &client_token, "in conflict", |a| {
            a["sync_status"] == "conflict"
        })
        .await;
        assert_eq!(conflict["start_time"], onto_before["start_time"], "{l}: keeps its time");
        assert!(
            conflict["sync_error"].as_str().unwrap().contains(moving.as_str()),
            "{l}: names the other appointment: {:?}",
            conflict["sync_error"]
        );

        // Later reads change nothing more, and the freed time is bookable again.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        for (id, before) in [(deleted, &cancelled), (moving, &moved), (onto, &conflict)] {
            let now = api.get(&format!("/api/v1/appointments/{id}"), &client_token).await.body;
            assert_eq!(now["updated_at"], before["updated_at"], "{l}: {id} changed again");
        }
        let free = api
            .slots(
                &expert,
                &client_token,
                &format!("{day}T00:00:00Z"),
                &format!("{day}T23:59:00Z"),
            )
            .await;
        assert!(
            free.contains(&slots[0]),
            "{l}: the deleted appointment's time is free: {free:?}"
        );
        server.stop().await;
    }
}

/// The instants of the appointment JSON ("...Z") compared as instants.
mod jiff_ts {
    pub use availability_core::domain::jiff::Timestamp;
}

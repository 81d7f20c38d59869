//! Push notifications through the real server against the Google fake (PUSH_ALLOW_HTTP=1 on
//! loopback), on SQLite and PostgreSQL: the server opens a channel on the expert's calendar by
//! itself; an event created there removes its slot right after the notification (the 30 s
//! busy-time cache is dropped), deleting a booked appointment's event cancels it; a notification
//! with a wrong token or an unknown channel is 401 and changes nothing; the same notification twice
//! changes nothing the second time; and with two server processes on one PostgreSQL a channel
//! about to expire is renewed exactly once (the new one opened first, then the old one stopped).
//! The same against the Graph fake's subscriptions (validation handshake, clientState, 202, renewal
//! in place by PATCH, lifecycle notifications).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use provider_fakes::graph::GraphSubscription;
use provider_fakes::{FakeGoogle, FakeGraph};
use serde_json::{json, Value};
use support::{databases, next_monday, Api, TestServer};

/// A calendar's settings with push on (http on loopback) and catch-up reads far apart, so that
/// only push can explain what a test sees.
fn push_env(mut env: Vec<(&'static str, String)>, ttl: &str) -> Vec<(&'static str, String)> {
    env.push(("PUSH_ALLOW_HTTP", "1".into()));
    env.push(("PUSH_CHANNEL_TTL_SECONDS", ttl.into()));
    env.push(("CALENDAR_SYNC_SECONDS", "86400".into()));
    env
}

/// Two server processes on one database; the expert connects `integration` through the first,
/// the second starts after. Returns both.
async fn two_processes(
    db: &support::TestDb,
    env: &[(&'static str, String)],
    integration: &str,
) -> (TestServer, TestServer) {
    let first = TestServer::start_with_env(db, &support::env_refs(env)).await;
    let (expert, expert_token) = first.api.expert_with_hours().await;
    support::connect_oauth(&first.api, &expert, &expert_token, integration).await;
    let second = TestServer::start_with_env(db, &support::env_refs(env)).await;
    (first, second)
}

/// The fake's live channels on the primary calendar, once the server opened one.
async fn live_channels(google: &FakeGoogle, at_least: usize) -> Vec<provider_fakes::google::WatchedChannel> {
    for _ in 0..200 {
        let live: Vec<_> = google
            .channels()
            .into_iter()
            .filter(|c| !c.stopped && c.calendar_id == provider_fakes::google::ACCOUNT_EMAIL)
            .collect();
        if live.len() >= at_least {
            return live;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server opened no channel: {:?}", google.channels());
}

async fn appointment(api: &Api, id: &str, token: &str) -> Value {
    api.get(&format!("/api/v1/appointments/{id}"), token).await.body
}

/// Whether the slot leaves the window's slots within 2 s.
async fn slot_gone(api: &Api, expert: &str, token: &str, (from, to): (&str, &str), slot: &(String, String)) -> bool {
    for _ in 0..20 {
        if !api.slots(expert, token, from, to).await.contains(slot) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Books the slot for the client and waits until its event is in the calendar: the appointment's
/// id and the event's.
async fn book_synced(api: &Api, expert: &str, client: &str, token: &str, slot: &(String, String)) -> (String, String) {
    let b = api
        .post(
            "/api/v1/appointments",
            token,
            json!({"expert_id": expert, "client_id": client, "start_time": slot.0, "end_time": slot.1}),
        )
        .await;
    assert_eq!(b.status, 201, "{:?}", b.body);
    let id = b.body["id"].as_str().unwrap().to_owned();
    for _ in 0..100 {
        let a = appointment(api, &id, token).await;
        if a["sync_status"] == "synced" {
            let event = a["external_calendar_event_id"].as_str().unwrap().to_owned();
            return (id, event);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the booking {id} never reached the calendar");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_drop_stale_busy_time_and_cancel_deleted_bookings() {
    for db in databases("notifications_drop_stale_busy_time_and_cancel_deleted_bookings") {
        let l = db.label;
        let google = FakeGoogle::start().await;
        let env = push_env(support::google_env(&google), "3600");
        let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_google(api, &expert, &expert_token).await;
        let (client, client_token) = api.client_with_token().await;

        let channel = live_channels(&google, 1).await.remove(0);
        assert!(
            channel.address.starts_with(&api.base) && channel.address.ends_with("/webhooks/google"),
            "{l}: {}",
            channel.address
        );
        let token = channel.token.clone().expect("a token");
        assert!(token.len() >= 32, "{l}: a random token per channel");
        assert_eq!(google.send_sync(&channel.id).await, 200, "{l}: the handshake");
        let listed = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), &expert_token)
            .await;
        let google_entry = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "google_calendar")
            .unwrap()
            .clone();
        assert_eq!(google_entry["push"]["state"], "active", "{l}: {google_entry:?}");
        assert!(google_entry["push"]["last_notification_at"].is_string(), "{l}");

        // Slots read once (the busy time is cached for 30 s); an event made in the calendar and
        // its notification remove the slot at once.
        let day = next_monday();
        let (from, to) = (format!("{day}T00:00:00Z"), format!("{day}T23:59:00Z"));
        let before = api.slots(&expert, &client_token, &from, &to).await;
        let taken = before[3].clone();
        google.seed_busy("primary", &[(&taken.0, &taken.1)]).unwrap();
        assert!(
            api.slots(&expert, &client_token, &from, &to).await.contains(&taken),
            "{l}: without a notification the cached busy time still shows it"
        );
        let delivered = google.notify("primary").await;
        assert!(delivered.iter().any(|(_, status)| *status == 200), "{l}: {delivered:?}");
        assert!(
            slot_gone(api, &expert, &client_token, (&from, &to), &taken).await,
            "{l}: the slot is gone within 2 s of the notification"
        );

        // A booking whose event the expert deletes is cancelled after the notification.
        let (id, event) = book_synced(api, &expert, &client, &client_token, &before[0]).await;
        google.delete_event("primary", &event).unwrap();

        // Notifications that are not the channel's change nothing.
        let forged = [
            (channel.id.clone(), "not-the-token".to_owned()),
            (uuid::Uuid::new_v4().to_string(), token.clone()),
        ];
        for (channel_id, token) in forged {
            let res = reqwest::Client::new()
                .post(format!("{}/webhooks/google_calendar", api.base))
                .header("X-Goog-Channel-ID", channel_id)
                .header("X-Goog-Channel-Token", token)
                .header("X-Goog-Resource-ID", channel.resource_id.clone())
                .header("X-Goog-Resource-State", "exists")
                .header("X-Goog-Message-Number", "7")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 401, "{l}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(appointment(api, &id, &client_token).await["status"], "confirmed", "{l}");

        // The real one cancels it; the same notification again changes nothing more.
        let delivered = google.notify("primary").await;
        assert!(delivered.iter().any(|(_, status)| *status == 200), "{l}: {delivered:?}");
        let mut cancelled = Value::Null;
        for _ in 0..20 {
            let a = appointment(api, &id, &client_token).await;
            if a["status"] == "cancelled" {
                cancelled = a;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            cancelled["cancellation_reason"], "deleted in Google Calendar",
            "{l}: {cancelled:?}"
        );
        google.notify("primary").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            appointment(api, &id, &client_token).await["updated_at"],
            cancelled["updated_at"],
            "{l}: a repeated notification changes nothing"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_renew_a_channel_exactly_once() {
    let Some(db) = support::postgres("two_processes_renew_a_channel_exactly_once") else {
        return;
    };
    let google = FakeGoogle::start().await;
    // Channels live 30 s and are renewed at half their life (15 s); each process looks every 3 s.
    let env = push_env(support::google_env(&google), "30");
    let (first, second) = two_processes(&db, &env, "google_calendar").await;

    let opened = live_channels(&google, 1).await;
    assert_eq!(opened.len(), 1, "one channel, whichever process opened it");
    let original = opened[0].id.clone();
    // Past half its life, both processes see it due; one renews it.
    tokio::time::sleep(Duration::from_secs(22)).await;
    let all = google.channels();
    let live: Vec<_> = all.iter().filter(|c| !c.stopped).collect();
    assert_eq!(live.len(), 1, "exactly one live channel: {all:?}");
    assert_ne!(live[0].id, original, "renewed: {all:?}");
    assert_eq!(all.len(), 2, "renewed exactly once: {all:?}");
    assert!(
        all.iter().any(|c| c.id == original && c.stopped),
        "the old one stopped after the new one opened: {all:?}"
    );
    second.stop().await;
    first.stop().await;
}

/// The fake's live subscriptions, once there are `at_least`, except those in `except`.
async fn live_subscriptions(graph: &FakeGraph, at_least: usize, except: &[&str]) -> Vec<GraphSubscription> {
    for _ in 0..200 {
        let live: Vec<_> = graph
            .subscriptions()
            .into_iter()
            .filter(|s| !s.deleted && !except.contains(&s.id.as_str()))
            .collect();
        if live.len() >= at_least {
            return live;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server made no subscription: {:?}", graph.subscriptions());
}

/// PATCH requests the fake received for a subscription (its renewals in place).
fn renewals(graph: &FakeGraph, id: &str) -> usize {
    graph
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == format!("/v1.0/subscriptions/{id}"))
        .count()
}

async fn post_to_office365(api: &Api, body: Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/webhooks/office365", api.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_subscriptions_drop_stale_busy_time_cancel_deleted_bookings_and_follow_lifecycle_events() {
    for db in databases("graph_subscriptions_drop_stale_busy_time_cancel_deleted_bookings_and_follow_lifecycle_events")
    {
        let l = db.label;
        let graph = FakeGraph::start().await;
        let env = push_env(support::graph_env(&graph), "3600");
        let server = TestServer::start_with_env(&db, &support::env_refs(&env)).await;
        let api = &server.api;
        let (expert, expert_token) = api.expert_with_hours().await;
        support::connect_oauth(api, &expert, &expert_token, "office365_calendar").await;
        let (client, client_token) = api.client_with_token().await;

        // The server subscribed by itself; the fake made the subscription only after the
        // server echoed its validation token (to both addresses).
        let subscription = live_subscriptions(&graph, 1, &[]).await.remove(0);
        let address = format!("{}/webhooks/office365", api.base);
        assert_eq!(subscription.notification_url, address, "{l}");
        assert_eq!(
            subscription.lifecycle_notification_url.as_deref(),
            Some(address.as_str()),
            "{l}"
        );
        assert_eq!(subscription.resource, "me/events", "{l}");
        assert_eq!(subscription.change_type, "created,updated,deleted", "{l}");
        let client_state = subscription.client_state.clone().expect("a clientState");
        assert!(client_state.len() >= 32, "{l}: a random clientState per subscription");
        let hours = (subscription.expiration - availability_core::domain::jiff::Timestamp::now()).as_secs();
        assert!((3000..=3600).contains(&hours), "{l}: asked for an hour: {hours} s");
        let validation = reqwest::Client::new()
            .post(format!(
                "{address}?validationToken=Validation%3A%20Testing%20client%20application"
            ))
            .header("content-type", "text/plain; charset=utf-8")
            .send()
            .await
            .unwrap();
        assert_eq!(validation.status(), 200, "{l}");
        assert!(
            validation.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "{l}"
        );
        assert_eq!(
            validation.text().await.unwrap(),
            "Validation: Testing client application",
            "{l}"
        );
        let listed = api
            .get(&format!("/api/v1/experts/{expert}/integrations"), &expert_token)
            .await;
        let entry = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "office365_calendar")
            .unwrap()
            .clone();
        assert_eq!(entry["push"]["state"], "active", "{l}: {entry:?}");

        // Slots read once (cached for 30 s); an event made in Outlook and its notification
        // remove the slot at once.
        let day = next_monday();
        let (from, to) = (format!("{day}T00:00:00Z"), format!("{day}T23:59:00Z"));
        let before = api.slots(&expert, &client_token, &from, &to).await;
        let taken = before[3].clone();
        let made = graph.seed_schedule_item("busy", &taken.0, &taken.1).unwrap();
        assert!(
            api.slots(&expert, &client_token, &from, &to).await.contains(&taken),
            "{l}: without a notification the cached busy time still shows it"
        );
        let delivered = graph.notify("created", &made).await;
        assert_eq!(delivered, vec![(subscription.id.clone(), 202)], "{l}");
        assert!(
            slot_gone(api, &expert, &client_token, (&from, &to), &taken).await,
            "{l}: the slot is gone within 2 s of the notification"
        );

        // A booking whose event the expert deletes in Outlook is cancelled after the notification.
        let (id, event) = book_synced(api, &expert, &client, &client_token, &before[0]).await;
        graph.delete_event(&event).unwrap();

        // Notifications with another clientState, or of a subscription the server did not make,
        // are 401 and change nothing.
        let forged = |subscription_id: &str, state: &str| {
            json!({"value": [{
                "subscriptionId": subscription_id,
                "clientState": state,
                "changeType": "deleted",
                "resource": format!("Users/u/Events/{event}"),
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event},
            }]})
        };
        assert_eq!(
            post_to_office365(api, forged(&subscription.id, "not-the-client-state")).await,
            401,
            "{l}"
        );
        assert_eq!(
            post_to_office365(api, forged(&uuid::Uuid::new_v4().to_string(), &client_state)).await,
            401,
            "{l}"
        );
        assert_eq!(post_to_office365(api, json!({"value": []})).await, 400, "{l}");
        let unreadable = reqwest::Client::new()
            .post(format!("{}/webhooks/office365", api.base))
            .body("not json")
            .send()
            .await
            .unwrap();
        assert_eq!(unreadable.status(), 400, "{l}: a body that is no Graph delivery");
        assert_eq!(
            unreadable.json::<Value>().await.unwrap()["error"]["code"],
            "invalid_json",
            "{l}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(appointment(api, &id, &client_token).await["status"], "confirmed", "{l}");

        // Graph's own cancels it; the same notification again changes nothing more.
        assert_eq!(
            graph.notify("deleted", &event).await,
            vec![(subscription.id.clone(), 202)],
            "{l}"
        );
        let mut cancelled = Value::Null;
        for _ in 0..20 {
            let a = appointment(api, &id, &client_token).await;
            if a["status"] == "cancelled" {
                cancelled = a;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            cancelled["cancellation_reason"], "deleted in Office 365",
            "{l}: {cancelled:?}"
        );
        assert_eq!(cancelled["cancelled_by"], "calendar", "{l}");
        graph.notify("deleted", &event).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            appointment(api, &id, &client_token).await["updated_at"],
            cancelled["updated_at"],
            "{l}: a repeated notification changes nothing"
        );

        // reauthorizationRequired: the subscription is renewed in place (PATCH), not replaced.
        let expiry = graph.subscriptions()[0].expiration;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            graph.send_lifecycle(&subscription.id, "reauthorizationRequired").await,
            202,
            "{l}"
        );
        let mut renewed = false;
        for _ in 0..50 {
            if renewals(&graph, &subscription.id) == 1 {
                renewed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            renewed,
            "{l}: renewed after reauthorizationRequired: {:?}",
            graph.subscriptions()
        );
        let live = live_subscriptions(&graph, 1, &[]).await;
        assert_eq!(live.len(), 1, "{l}: {live:?}");
        assert_eq!(live[0].id, subscription.id, "{l}: the same subscription");
        assert!(live[0].expiration > expiry, "{l}: later expiry: {live:?}");

        // subscriptionRemoved: a new subscription is made, and the calendar read again.
        assert_eq!(
            graph.send_lifecycle(&subscription.id, "subscriptionRemoved").await,
            202,
            "{l}"
        );
        let replacement = live_subscriptions(&graph, 1, &[&subscription.id]).await;
        assert_eq!(replacement.len(), 1, "{l}: {replacement:?}");
        assert_ne!(
            replacement[0].client_state, subscription.client_state,
            "{l}: a new clientState"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_renew_a_graph_subscription_exactly_once() {
    let Some(db) = support::postgres("two_processes_renew_a_graph_subscription_exactly_once") else {
        return;
    };
    let graph = FakeGraph::start().await;
    // Subscriptions live 30 s and are renewed in place at half their life; each process looks
    // every 3 s.
    let env = push_env(support::graph_env(&graph), "30");
    let (first, second) = two_processes(&db, &env, "office365_calendar").await;

    let made = live_subscriptions(&graph, 1, &[]).await;
    assert_eq!(made.len(), 1, "one subscription, whichever process made it");
    let id = made[0].id.clone();
    let expiry = made[0].expiration;
    tokio::time::sleep(Duration::from_secs(22)).await;
    let all = graph.subscriptions();
    assert_eq!(all.len(), 1, "renewed in place, never replaced: {all:?}");
    assert!(!all[0].deleted && all[0].expiration > expiry, "{all:?}");
    assert_eq!(renewals(&graph, &id), 1, "renewed exactly once");
    second.stop().await;
    first.stop().await;
}

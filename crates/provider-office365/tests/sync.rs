//! Two-way sync and push of Office365CalendarStrategy against FakeGraph over real HTTP: the change
//! feed on calendarView delta queries (a full read, then only what changed; deletions, cancellations
//! and moves; an expired token read in full; an event moved out of the window is not taken for
//! deleted; a deltaLink that is not Graph's is not followed) and subscriptions (the validation
//! handshake a receiver must pass, clientState, renewal in place, deletion).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::{
    AvailabilityStrategy, CalendarChange, ChangeBatch, ChangeFeed, ChannelRequest, EventWriter, PushChannels,
    PushDelivery, PushEvent, WebhookRequest,
};
use serde_json::json;
use support::{client, interval, monday_after, Connected};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const DELTA: &str = "/v1.0/me/calendarView/delta";

fn feed(c: &Connected) -> &dyn ChangeFeed {
    c.strategy.change_feed().expect("Office 365 has a change feed")
}

fn push(c: &Connected) -> &dyn PushChannels {
    c.strategy.push().expect("Office 365 has push")
}

/// What a batch says about each event: its time, or None when removed.
fn by_event(batch: &ChangeBatch) -> BTreeMap<String, Option<(Timestamp, Timestamp)>> {
    batch
        .changes
        .iter()
        .map(|change| match change {
            CalendarChange::Removed { event_id } => (event_id.clone(), None),
            CalendarChange::At { event_id, time } => (event_id.clone(), Some((time.start(), time.end()))),
        })
        .collect()
}

fn utc(at: Timestamp) -> String {
    at.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_delta_feed_reads_everything_once_then_only_what_changed() {
    let c = Connected::connected().await;
    let monday = monday_after(7);
    let at = |h: i64| monday + SignedDuration::from_hours(h);
    // Ours, written as appointments are; and one of the expert's own.
    let mut ids = Vec::new();
    for h in [9, 11, 13] {
        let appointment = c.appointment(&client(), interval(&utc(at(h)), &utc(at(h + 1))));
        let written = c
            .strategy
            .create_event(&c.expert, &client(), &appointment)
            .await
            .unwrap();
        ids.push(written.id);
    }
    let own = c.fake.seed_schedule_item("busy", &utc(at(15)), &utc(at(16))).unwrap();

    let first = feed(&c).changes(&c.expert, None).await.unwrap();
    let read = by_event(&first);
    assert_eq!(read.len(), 4, "{read:?}");
    assert_eq!(read[&ids[0]], Some((at(9), at(10))));
    assert_eq!(read[&own], Some((at(15), at(16))));
    assert!(first.cursor.contains("$deltatoken="), "{}", first.cursor);

    // Nothing changed: nothing reported.
    let quiet = feed(&c).changes(&c.expert, Some(&first.cursor)).await.unwrap();
    assert!(quiet.changes.is_empty(), "{:?}", quiet.changes);

    // The expert deletes one, moves another, cancels nothing yet.
    c.fake.delete_event(&ids[0]).unwrap();
    c.fake.move_event(&ids[1], &utc(at(18)), &utc(at(19))).unwrap();
    let next = feed(&c).changes(&c.expert, Some(&quiet.cursor)).await.unwrap();
    let read = by_event(&next);
    assert_eq!(read.len(), 2, "{read:?}");
    assert_eq!(read[&ids[0]], None, "deleted");
    assert_eq!(read[&ids[1]], Some((at(18), at(19))), "moved");

    // An event moved far beyond the window is reported removed by Graph, but it exists: the
    // read of the event says where it is, and nothing is cancelled.
    let far = monday + SignedDuration::from_hours(24 * 500);
    c.fake
        .move_event(&ids[2], &utc(far), &utc(far + SignedDuration::from_hours(1)))
        .unwrap();
    let moved_away = feed(&c).changes(&c.expert, Some(&next.cursor)).await.unwrap();
    assert_eq!(
        by_event(&moved_away).get(&ids[2]),
        Some(&Some((far, far + SignedDuration::from_hours(1)))),
        "{:?}",
        moved_away.changes
    );

    // A cancelled meeting is removed.
    let cancelled = c
        .fake
        .seed_event(json!({
            "subject": "Cancelled by its organizer",
            "isCancelled": true,
            "start": {"dateTime": utc(at(20)).trim_end_matches('Z'), "timeZone": "UTC"},
            "end": {"dateTime": utc(at(21)).trim_end_matches('Z'), "timeZone": "UTC"},
        }))
        .unwrap();
    let with_cancelled = feed(&c).changes(&c.expert, Some(&moved_away.cursor)).await.unwrap();
    assert_eq!(by_event(&with_cancelled).get(&cancelled), Some(&None));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_or_foreign_delta_link_means_a_full_read() {
    let c = Connected::connected().await;
    let monday = monday_after(7);
    let own = c
        .fake
        .seed_schedule_item(
            "busy",
            &utc(monday + SignedDuration::from_hours(9)),
            &utc(monday + SignedDuration::from_hours(10)),
        )
        .unwrap();
    let first = feed(&c).changes(&c.expert, None).await.unwrap();
    c.fake.invalidate_delta_tokens();
    c.fake.clear_requests();
    let again = feed(&c).changes(&c.expert, Some(&first.cursor)).await.unwrap();
    assert!(by_event(&again).contains_key(&own), "a full read after 410");
    let statuses: Vec<String> = c
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == DELTA)
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(statuses.len(), 2, "the refused token, then a new round: {statuses:?}");
    assert!(statuses[0].contains("deltatoken"), "{statuses:?}");
    assert!(statuses[1].contains("startDateTime"), "{statuses:?}");

    // A cursor pointing elsewhere is never sent the expert's token: a full read instead.
    c.fake.clear_requests();
    let foreign = feed(&c)
        .changes(
            &c.expert,
            Some("https://attacker.example/v1.0/me/calendarView/delta?$deltatoken=x"),
        )
        .await
        .unwrap();
    assert!(by_event(&foreign).contains_key(&own));
    assert!(c.fake.requests().iter().all(|r| !r.query.contains("deltatoken")));
}

#[tokio::test(flavor = "multi_thread")]
async fn delta_rounds_page_through_many_events() {
    let c = Connected::connected().await;
    let monday = monday_after(7);
    let mut ids = Vec::new();
    for i in 0..260 {
        let start = monday + SignedDuration::from_mins(i * 30);
        ids.push(
            c.fake
                .seed_schedule_item("busy", &utc(start), &utc(start + SignedDuration::from_mins(15)))
                .unwrap(),
        );
    }
    let first = feed(&c).changes(&c.expert, None).await.unwrap();
    assert_eq!(by_event(&first).len(), 260);
    let pages = c.fake.requests().iter().filter(|r| r.path == DELTA).count();
    assert_eq!(pages, 2, "250 per page");
}

/// A receiver on loopback that answers Graph's validation as `answer` says, and records the
/// bodies of what else it gets.
async fn receiver(echo: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/webhooks/office365", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buffer = vec![0_u8; 16 * 1024];
            let n = socket.read(&mut buffer).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..n]).to_string();
            let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
            let url = reqwest::Url::parse(&format!("http://x{target}")).unwrap();
            let token = url
                .query_pairs()
                .find(|(k, _)| k == "validationToken")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let body = if echo { token } else { "nope".to_owned() };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    address
}

fn request(address: &str, ttl_seconds: i64) -> ChannelRequest {
    ChannelRequest {
        id: availability_core::domain::ExpertId::new().to_string(),
        token: "a-client-state-of-forty-characters-long!".into(),
        address: address.into(),
        ttl_seconds,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_are_made_renewed_in_place_and_deleted() {
    let c = Connected::connected().await;
    let address = receiver(true).await;
    let opened = push(&c)
        .open_channel(&c.expert, &request(&address, 3600))
        .await
        .unwrap();
    let made = c.fake.subscriptions();
    assert_eq!(made.len(), 1);
    let s = &made[0];
    assert_eq!(opened.id, s.id, "the channel is Graph's subscription id");
    assert_eq!(s.resource, "me/events");
    assert_eq!(s.change_type, "created,updated,deleted");
    assert_eq!(s.notification_url, address);
    assert_eq!(s.lifecycle_notification_url.as_deref(), Some(address.as_str()));
    assert_eq!(
        s.client_state.as_deref(),
        Some("a-client-state-of-forty-characters-long!")
    );
    assert_eq!(opened.expires_at.as_second(), s.expiration.as_second());
    let lifetime = (s.expiration - Timestamp::now()).as_secs();
    assert!((3500..=3600).contains(&lifetime), "{lifetime}");

    // A week asked for: three days given (api.md), which Graph accepts.
    let long = push(&c)
        .open_channel(&c.expert, &request(&address, 7 * 24 * 3600))
        .await
        .unwrap();
    let days = (long.expires_at - Timestamp::now()).as_secs() as f64 / 86_400.0;
    assert!((2.99..=3.0).contains(&days), "{days}");

    // Renewed in place: the same subscription, a later expiry.
    let renewed = push(&c)
        .renew_channel(&c.expert, &opened.id, 7200)
        .await
        .unwrap()
        .expect("Graph knows it");
    assert!(renewed > opened.expires_at);
    assert_eq!(c.fake.subscriptions()[0].expiration.as_second(), renewed.as_second());

    // Deleted; renewing or deleting it again: gone is not an error.
    push(&c)
        .close_channel(&c.expert, &opened.id, &opened.resource_id)
        .await
        .unwrap();
    assert!(c.fake.subscriptions()[0].deleted);
    assert_eq!(push(&c).renew_channel(&c.expert, &opened.id, 7200).await.unwrap(), None);
    push(&c)
        .close_channel(&c.expert, &opened.id, &opened.resource_id)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_that_fails_the_validation_gets_no_subscription() {
    let c = Connected::connected().await;
    let address = receiver(false).await;
    let refused = push(&c).open_channel(&c.expert, &request(&address, 3600)).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(c.fake.subscriptions().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fakes_notifications_read_as_notices_of_their_subscription() {
    let c = Connected::connected().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/webhooks/office365", listener.local_addr().unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Vec<u8>)>();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut data = Vec::new();
            let mut buffer = vec![0_u8; 16 * 1024];
            // Read the head and as much of the body as its content-length says.
            loop {
                let n = socket.read(&mut buffer).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(split) = text.find("\r\n\r\n") {
                    let length = text[..split]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if data.len() >= split + 4 + length {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&data).to_string();
            let split = text.find("\r\n\r\n").unwrap_or(text.len());
            let target = text.split_whitespace().nth(1).unwrap_or("").to_owned();
            let url = reqwest::Url::parse(&format!("http://x{target}")).unwrap();
            let token = url
                .query_pairs()
                .find(|(k, _)| k == "validationToken")
                .map(|(_, v)| v.into_owned());
            let (status, body) = match token {
                Some(token) => ("200 OK", token),
                None => ("202 Accepted", String::new()),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = tx.send((target, data[(split + 4).min(data.len())..].to_vec()));
        }
    });
    let opened = push(&c)
        .open_channel(&c.expert, &request(&address, 3600))
        .await
        .unwrap();
    // The validation requests (notification and lifecycle addresses) came first.
    let mut validations = 0;
    while let Ok((target, _)) = rx.try_recv() {
        assert!(target.contains("validationToken="), "{target}");
        validations += 1;
    }
    assert!(validations >= 1);

    let read = |body: &[u8]| {
        push(&c).read_delivery(&WebhookRequest {
            headers: &[],
            query: &[],
            body,
            received_at: Timestamp::now(),
        })
    };
    assert_eq!(
        c.fake.notify("updated", "AAMkEvent1").await,
        vec![(opened.id.clone(), 202)]
    );
    let (_, body) = rx.recv().await.unwrap();
    let Some(PushDelivery::Notices(notices)) = read(&body) else {
        panic!("notices expected: {}", String::from_utf8_lossy(&body));
    };
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].channel_id, opened.id);
    assert_eq!(notices[0].token, "a-client-state-of-forty-characters-long!");
    assert_eq!(notices[0].event, PushEvent::Changed);

    for (lifecycle, event) in [
        ("reauthorizationRequired", PushEvent::RenewNow),
        ("missed", PushEvent::Missed),
        ("subscriptionRemoved", PushEvent::Removed),
    ] {
        assert_eq!(c.fake.send_lifecycle(&opened.id, lifecycle).await, 202);
        let (_, body) = rx.recv().await.unwrap();
        let Some(PushDelivery::Notices(notices)) = read(&body) else {
            panic!("notices expected");
        };
        assert_eq!(
            (notices[0].channel_id.as_str(), notices[0].event),
            (opened.id.as_str(), event)
        );
    }
    assert!(
        c.fake.subscriptions()[0].deleted,
        "subscriptionRemoved: Graph dropped it"
    );
}

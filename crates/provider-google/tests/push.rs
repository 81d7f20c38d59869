//! Push: the Google strategy's PushChannels against FakeGoogle over real HTTP. Opening a channel
//! on the calendar that receives appointments (with the granted expiration), closing it (twice),
//! and reading the notifications the fake delivers to a loopback receiver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::{
    AvailabilityStrategy, ChannelRequest, PushChannels, PushDelivery, PushEvent, PushNotice, WebhookRequest,
};
use common::Setup;
use provider_fakes::google::{WatchedChannel, ACCOUNT_EMAIL};
use provider_google::GoogleCalendarStrategy;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

fn push(strategy: &GoogleCalendarStrategy) -> &dyn PushChannels {
    strategy.push().expect("the Google strategy has push channels")
}

fn request(id: &str, address: &str, ttl_seconds: i64) -> ChannelRequest {
    ChannelRequest {
        id: id.into(),
        token: format!("secret-of-{id}"),
        address: address.into(),
        ttl_seconds,
    }
}

fn channel(s: &Setup, id: &str) -> WatchedChannel {
    s.fake
        .channels()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("the fake has no channel {id}"))
}

/// One request as the receiver got it: header names in lowercase, and the body.
#[derive(Debug)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn as_webhook(&self) -> WebhookRequest<'_> {
        WebhookRequest {
            headers: &self.headers,
            query: &[],
            body: &self.body,
            received_at: Timestamp::now(),
        }
    }
}

/// A tiny HTTP/1.1 receiver on 127.0.0.1: answers every request `status` and hands it over.
async fn receiver(status: u16) -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/webhooks/google_calendar", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                let end = loop {
                    if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at;
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or_default().split(' ');
                let method = first.next().unwrap_or_default().to_owned();
                let path = first.next().unwrap_or_default().to_owned();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|line| line.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = buffer[end + 4..].to_vec();
                while body.len() < length {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
                let answer = format!("HTTP/1.1 {status} Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
                let _ = tx.send(Received {
                    method,
                    path,
                    headers,
                    body,
                });
            });
        }
    });
    (address, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a notification arrives")
        .expect("the receiver runs")
}

fn ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

#[tokio::test(flavor = "multi_thread")]
async fn opening_a_channel_watches_the_event_calendar_with_our_address_token_and_expiration() {
    let s = Setup::start().await;
    let before = ms(Timestamp::now());
    let opened = push(&s.strategy)
        .open_channel(
            &s.expert,
            &request("chan-1", "https://push.example.com/webhooks/google_calendar", 3600),
        )
        .await
        .unwrap();
    let after = ms(Timestamp::now());

    let watched = channel(&s, "chan-1");
    assert_eq!(watched.address, "https://push.example.com/webhooks/google_calendar");
    assert_eq!(watched.token.as_deref(), Some("secret-of-chan-1"));
    assert_eq!(
        watched.calendar_id, ACCOUNT_EMAIL,
        "the primary calendar receives appointments"
    );
    assert!(!watched.stopped);
    assert!(
        watched.expiration >= before + 3_600_000 && watched.expiration <= after + 3_600_000,
        "asked for an hour: {} not in {before}+1h..{after}+1h",
        watched.expiration
    );
    // The answer is what the fake granted.
    assert_eq!(opened.resource_id, watched.resource_id);
    assert_eq!(ms(opened.expires_at), watched.expiration);

    // The request itself, as Google documents it.
    let sent = s
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/events/watch"))
        .unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/calendar/v3/calendars/primary/events/watch");
    let body: Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(body["id"], "chan-1");
    assert_eq!(body["type"], "web_hook");
    assert_eq!(body["address"], "https://push.example.com/webhooks/google_calendar");
    assert_eq!(body["token"], "secret-of-chan-1");
    let asked: i64 = body["expiration"].as_str().unwrap().parse().unwrap();
    assert_eq!(asked, watched.expiration, "an hour is granted as asked");

    // A second channel on the same calendar watches the same resource.
    let again = push(&s.strategy)
        .open_channel(
            &s.expert,
            &request("chan-2", "https://push.example.com/webhooks/google_calendar", 60),
        )
        .await
        .unwrap();
    assert_eq!(again.resource_id, opened.resource_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lifetime_over_a_week_is_capped_to_what_google_grants() {
    let s = Setup::start().await;
    let before = ms(Timestamp::now());
    let opened = push(&s.strategy)
        .open_channel(
            &s.expert,
            &request("long", "https://push.example.com/hook", 30 * 86_400),
        )
        .await
        .unwrap();
    let after = ms(Timestamp::now());
    let watched = channel(&s, "long");
    assert!(watched.expiration >= before + WEEK_MS && watched.expiration <= after + WEEK_MS);
    assert_eq!(ms(opened.expires_at), watched.expiration);
    assert!(opened.expires_at < Timestamp::now() + SignedDuration::from_hours(7 * 24 + 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_channel_watches_the_calendar_chosen_for_appointments() {
    let s = Setup::start().await;
    let team = "team@group.calendar.google.com";
    s.fake.add_calendar(team, "Team", false);
    s.strategy
        .set_calendars(s.expert.id, vec!["primary".into()], team.into())
        .await
        .unwrap();
    push(&s.strategy)
        .open_channel(&s.expert, &request("team-chan", "https://push.example.com/hook", 600))
        .await
        .unwrap();
    assert_eq!(channel(&s, "team-chan").calendar_id, team);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_watches_are_errors() {
    let s = Setup::start().await;
    let push = push(&s.strategy);
    // Google wants https (the fake allows plain http only on loopback hosts).
    assert!(push
        .open_channel(&s.expert, &request("plain", "http://push.example.com/hook", 600))
        .await
        .is_err());
    // A channel id is used once.
    push.open_channel(&s.expert, &request("once", "https://push.example.com/hook", 600))
        .await
        .unwrap();
    assert!(push
        .open_channel(&s.expert, &request("once", "https://push.example.com/hook", 600))
        .await
        .is_err());
    // A lifetime that is over before it starts.
    assert!(push
        .open_channel(&s.expert, &request("never", "https://push.example.com/hook", 0))
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_stops_the_channel_and_closing_again_is_fine() {
    let s = Setup::start().await;
    let push = push(&s.strategy);
    let opened = push
        .open_channel(&s.expert, &request("to-close", "https://push.example.com/hook", 600))
        .await
        .unwrap();
    push.close_channel(&s.expert, "to-close", &opened.resource_id)
        .await
        .unwrap();
    assert!(channel(&s, "to-close").stopped);
    let stop = s
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/calendar/v3/channels/stop")
        .expect("channels.stop was called");
    assert_eq!(stop.method, "POST");
    let body: Value = serde_json::from_str(&stop.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"id": "to-close", "resourceId": opened.resource_id})
    );
    // Google answers 404 for a stopped (or unknown) channel: already gone is success.
    push.close_channel(&s.expert, "to-close", &opened.resource_id)
        .await
        .unwrap();
    push.close_channel(&s.expert, "never-opened", "no-such-resource")
        .await
        .unwrap();
    assert_eq!(s.fake.request_count("/calendar/v3/channels/stop"), 3);
    // A stopped channel sends nothing more.
    assert!(s.fake.notify("primary").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_is_retried_when_throttled_but_not_when_its_answer_may_be_lost() {
    let s = Setup::start().await;
    let push = push(&s.strategy);
    // Rate limits (403 rateLimitExceeded, 429) say the watch was not carried out: retried.
    s.fake.throttle_next(1, 403);
    push.open_channel(&s.expert, &request("throttled", "https://push.example.com/hook", 600))
        .await
        .unwrap();
    assert_eq!(channel(&s, "throttled").id, "throttled");
    // A lost answer: the channel exists, and a retry with its id would be refused as not
    // unique, so the watch is not repeated; the caller opens a new channel later.
    s.fake.lose_next_answer("calendar.events.watch");
    s.fake.clear_requests();
    let lost = push
        .open_channel(&s.expert, &request("lost", "https://push.example.com/hook", 600))
        .await;
    assert!(lost.is_err(), "{lost:?}");
    assert_eq!(s.fake.request_count("/calendar/v3/calendars/primary/events/watch"), 1);
    assert!(!channel(&s, "lost").stopped);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_stop_is_retried() {
    let s = Setup::start().await;
    let push = push(&s.strategy);
    let opened = push
        .open_channel(&s.expert, &request("flaky", "https://push.example.com/hook", 600))
        .await
        .unwrap();
    // One 500 is retried; the channel stops.
    s.fake.fail_next(1, 500);
    push.close_channel(&s.expert, "flaky", &opened.resource_id)
        .await
        .unwrap();
    assert!(channel(&s, "flaky").stopped);
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_carry_googles_headers_and_read_as_notices() {
    let s = Setup::start().await;
    let (address, mut rx) = receiver(200).await;
    let push = push(&s.strategy);
    let opened = push
        .open_channel(&s.expert, &request("live", &address, 3600))
        .await
        .unwrap();
    let watched = channel(&s, "live");

    // The handshake first.
    assert_eq!(s.fake.send_sync("live").await, 200);
    let sync = next(&mut rx).await;
    assert_eq!(sync.method, "POST");
    assert_eq!(sync.path, "/webhooks/google_calendar");
    assert!(sync.body.is_empty());
    assert_eq!(sync.header("x-goog-channel-id"), Some("live"));
    assert_eq!(sync.header("x-goog-channel-token"), Some("secret-of-live"));
    assert_eq!(sync.header("x-goog-resource-state"), Some("sync"));
    assert_eq!(sync.header("x-goog-message-number"), Some("1"));
    assert_eq!(sync.header("x-goog-resource-id"), Some(opened.resource_id.as_str()));
    let notice = notice_of(push, &sync.as_webhook()).unwrap();
    assert_eq!(notice.channel_id, "live");
    assert_eq!(notice.token, "secret-of-live");
    assert_eq!(notice.event, PushEvent::Handshake);

    // Then a change.
    s.fake
        .seed_busy("primary", &[("2030-03-05T09:00:00Z", "2030-03-05T10:00:00Z")])
        .unwrap();
    assert_eq!(s.fake.notify("primary").await, vec![("live".to_owned(), 200)]);
    let change = next(&mut rx).await;
    assert_eq!(change.method, "POST");
    assert!(change.body.is_empty());
    assert_eq!(change.header("content-length").unwrap_or("0"), "0");
    assert_eq!(change.header("x-goog-channel-id"), Some("live"));
    assert_eq!(change.header("x-goog-channel-token"), Some("secret-of-live"));
    assert_eq!(change.header("x-goog-resource-state"), Some("exists"));
    assert_eq!(change.header("x-goog-message-number"), Some("2"));
    assert_eq!(change.header("x-goog-resource-id"), Some(opened.resource_id.as_str()));
    let uri = change.header("x-goog-resource-uri").unwrap();
    assert!(uri.contains("/calendars/primary/events"), "{uri}");
    // Google's human-readable expiration: `Tue, 19 Nov 2013 01:13:52 GMT`.
    let expiration = change.header("x-goog-channel-expiration").unwrap();
    let expected = availability_core::domain::jiff::tz::TimeZone::UTC
        .to_datetime(Timestamp::from_millisecond(watched.expiration).unwrap())
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    assert_eq!(expiration, expected);
    let notice = notice_of(push, &change.as_webhook()).unwrap();
    assert_eq!(notice.channel_id, "live");
    assert_eq!(notice.token, "secret-of-live");
    assert_eq!(notice.event, PushEvent::Changed);

    // Message numbers keep increasing; a notification for another calendar does not come here.
    assert_eq!(s.fake.notify(ACCOUNT_EMAIL).await, vec![("live".to_owned(), 200)]);
    assert_eq!(next(&mut rx).await.header("x-goog-message-number"), Some("3"));
    s.fake.add_calendar("other@example.com", "Other", false);
    assert!(s.fake.notify("other@example.com").await.is_empty());

    // The status our receiver answered is reported.
    let (failing, mut failing_rx) = receiver(500).await;
    push.open_channel(&s.expert, &request("failing", &failing, 3600))
        .await
        .unwrap();
    let mut answers = s.fake.notify("primary").await;
    answers.sort();
    assert_eq!(answers, vec![("failing".to_owned(), 500), ("live".to_owned(), 200)]);
    assert_eq!(next(&mut failing_rx).await.header("x-goog-message-number"), Some("2"));
    assert_eq!(next(&mut rx).await.header("x-goog-message-number"), Some("4"));

    // After close, nothing more.
    push.close_channel(&s.expert, "live", &opened.resource_id)
        .await
        .unwrap();
    assert_eq!(s.fake.send_sync("live").await, 0);
    assert_eq!(s.fake.notify("primary").await, vec![("failing".to_owned(), 500)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_without_a_token_reads_as_an_empty_token() {
    let s = Setup::start().await;
    let (address, mut rx) = receiver(204).await;
    let mut untokened = request("bare", &address, 600);
    untokened.token = String::new();
    push(&s.strategy).open_channel(&s.expert, &untokened).await.unwrap();
    assert_eq!(channel(&s, "bare").token, None);
    assert_eq!(s.fake.notify("primary").await, vec![("bare".to_owned(), 204)]);
    let received = next(&mut rx).await;
    assert_eq!(received.header("x-goog-channel-token"), None);
    let notice = notice_of(push(&s.strategy), &received.as_webhook()).unwrap();
    assert_eq!(notice.channel_id, "bare");
    assert_eq!(notice.token, "");
    assert_eq!(notice.event, PushEvent::Changed);
}

/// The one notice a Google delivery carries (Google sends one per request).
fn notice_of(push: &dyn PushChannels, request: &WebhookRequest<'_>) -> Option<PushNotice> {
    match push.read_delivery(request)? {
        PushDelivery::Notices(mut notices) => {
            assert_eq!(notices.len(), 1, "one notice per Google delivery");
            notices.pop()
        }
        PushDelivery::Validation(token) => panic!("Google sends no validation: {token}"),
    }
}

fn webhook(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_that_are_not_google_notifications_read_as_none() {
    let s = Setup::start().await;
    let push = push(&s.strategy);
    let read = |headers: Vec<(String, String)>, body: &[u8]| {
        notice_of(
            push,
            &WebhookRequest {
                headers: &headers,
                query: &[],
                body,
                received_at: Timestamp::now(),
            },
        )
    };
    assert_eq!(read(Vec::new(), b""), None);
    assert_eq!(
        read(
            webhook(&[
                ("content-type", "application/json"),
                ("calendly-webhook-signature", "t=1,v1=ab")
            ]),
            br#"{"event":"invitee.created"}"#
        ),
        None
    );
    assert_eq!(read(webhook(&[("x-goog-channel-id", "")]), b""), None);
    assert_eq!(read(webhook(&[("x-goog-resource-state", "sync")]), b""), None);
    // Odd but present headers never panic.
    let odd = read(
        webhook(&[
            ("x-goog-channel-id", "c\u{e9}-1"),
            ("x-goog-resource-state", ""),
            ("x-goog-channel-token", ""),
        ]),
        b"\xff\xfe",
    )
    .unwrap();
    assert_eq!(odd.channel_id, "c\u{e9}-1");
    assert_eq!(odd.token, "");
    assert_eq!(odd.event, PushEvent::Changed);
    let sync = read(
        webhook(&[("x-goog-channel-id", "c-2"), ("x-goog-resource-state", "sync")]),
        b"",
    )
    .unwrap();
    assert_eq!(sync.event, PushEvent::Handshake);
}

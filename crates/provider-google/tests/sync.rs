//! Two-way sync: the Google strategy's ChangeFeed against FakeGoogle over real HTTP. Full reads,
//! incremental reads with the cursor, deletions and moves made by the user in Google Calendar,
//! expired sync tokens, paging, and the calendar that receives appointments.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::{AvailabilityStrategy, CalendarChange, ChangeBatch, ChangeFeed, EventWriter};
use common::{interval, quick_policy, Setup, GOOGLE};
use provider_fakes::google::{ACCOUNT_EMAIL, SCOPE_EVENTS};
use provider_google::{event_id, GoogleCalendarBuilder, GoogleCalendarStrategy};
use serde_json::Value;

const EVENTS: &str = "/calendar/v3/calendars/primary/events";

fn feed(strategy: &GoogleCalendarStrategy) -> &dyn ChangeFeed {
    strategy.change_feed().expect("the Google strategy has a change feed")
}

/// The query pairs of the events.list requests the fake received, in order.
fn list_queries(s: &Setup, path: &str) -> Vec<Vec<(String, String)>> {
    s.fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.replace("%40", "@") == path)
        .map(|r| {
            reqwest::Url::parse(&format!("http://x/?{}", r.query))
                .unwrap()
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn at(batch: &ChangeBatch, id: &str) -> Option<availability_core::domain::Interval> {
    batch.changes.iter().find_map(|c| match c {
        CalendarChange::At { event_id, time } if event_id == id => Some(*time),
        _ => None,
    })
}

fn removed(batch: &ChangeBatch, id: &str) -> bool {
    batch
        .changes
        .iter()
        .any(|c| matches!(c, CalendarChange::Removed { event_id } if event_id == id))
}

/// The Google sync token of a cursor: the cursor itself.
fn sync_token(cursor: &str) -> String {
    cursor.to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_read_lists_our_event_at_its_time_and_gives_a_cursor() {
    let s = Setup::start().await;
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let written = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    // Someone else's event in the same calendar, and one that ended long ago.
    s.fake
        .seed_busy(
            "primary",
            &[
                ("2030-03-05T09:00:00Z", "2030-03-05T10:00:00Z"),
                ("2020-01-01T09:00:00Z", "2020-01-01T10:00:00Z"),
            ],
        )
        .unwrap();
    s.fake.clear_requests();

    let batch = feed(&s.strategy).changes(&s.expert, None).await.unwrap();
    assert_eq!(written.id, event_id(appointment.id));
    assert_eq!(
        at(&batch, &written.id),
        Some(interval("2030-03-04T09:00:00Z", "2030-03-04T09:30:00Z"))
    );
    assert_eq!(
        batch.changes.len(),
        2,
        "the old event is outside the full read: {batch:?}"
    );
    assert!(!batch.cursor.is_empty());
    assert!(!sync_token(&batch.cursor).is_empty());

    // One events.list of the calendar that receives appointments: expanded, from a day ago on.
    let queries = list_queries(&s, EVENTS);
    assert_eq!(queries.len(), 1);
    let query = &queries[0];
    assert_eq!(param(query, "singleEvents"), Some("true"));
    let time_min: Timestamp = param(query, "timeMin").unwrap().parse().unwrap();
    let ago = Timestamp::now().duration_since(time_min);
    assert!(
        ago > SignedDuration::from_hours(23) && ago < SignedDuration::from_hours(25),
        "{ago}"
    );
    for absent in ["timeMax", "orderBy", "syncToken", "pageToken"] {
        assert_eq!(param(query, absent), None, "{absent}");
    }
    let state = s.store.integration_state(s.expert.id, GOOGLE);
    assert!(state.synced && state.last_error.is_none(), "{state:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deletions_and_moves_in_google_calendar_come_with_the_next_read() {
    let s = Setup::start().await;
    let first = s.appointment("2030-03-04T09:00:00Z", 30);
    let second = s.appointment("2030-03-04T11:00:00Z", 60);
    let first_id = s.strategy.create_event(&s.expert, &s.client, &first).await.unwrap().id;
    let second_id = s.strategy.create_event(&s.expert, &s.client, &second).await.unwrap().id;
    let full = feed(&s.strategy).changes(&s.expert, None).await.unwrap();
    assert_eq!(full.changes.len(), 2);

    // The expert deletes the first event in Google Calendar.
    s.fake.delete_event("primary", &first_id).unwrap();
    s.fake.clear_requests();
    let deleted = feed(&s.strategy).changes(&s.expert, Some(&full.cursor)).await.unwrap();
    assert_eq!(
        deleted.changes,
        vec![CalendarChange::Removed {
            event_id: first_id.clone()
        }]
    );
    assert_ne!(deleted.cursor, full.cursor);
    // Incremental: the sync token, none of the parameters Google refuses beside it, and the
    // other parameters as in the full read.
    let queries = list_queries(&s, EVENTS);
    assert_eq!(queries.len(), 1);
    assert_eq!(param(&queries[0], "syncToken"), Some(sync_token(&full.cursor).as_str()));
    assert_eq!(param(&queries[0], "singleEvents"), Some("true"));
    for absent in ["timeMin", "timeMax", "orderBy"] {
        assert_eq!(param(&queries[0], absent), None, "{absent}");
    }

    // The expert moves the second one (in their own zone's terms).
    s.fake
        .move_event(
            ACCOUNT_EMAIL,
            &second_id,
            "2030-03-06T15:00:00+01:00",
            "2030-03-06T16:30:00+01:00",
        )
        .unwrap();
    let moved = feed(&s.strategy)
        .changes(&s.expert, Some(&deleted.cursor))
        .await
        .unwrap();
    assert_eq!(
        moved.changes,
        vec![CalendarChange::At {
            event_id: second_id.clone(),
            time: interval("2030-03-06T14:00:00Z", "2030-03-06T15:30:00Z"),
        }]
    );

    // Nothing changed since.
    let quiet = feed(&s.strategy).changes(&s.expert, Some(&moved.cursor)).await.unwrap();
    assert_eq!(quiet.changes, vec![]);
    let again = feed(&s.strategy).changes(&s.expert, Some(&quiet.cursor)).await.unwrap();
    assert_eq!(again.changes, vec![]);

    // The fake's helpers refuse what the user could not do.
    assert!(s.fake.delete_event("primary", &first_id).is_err(), "already deleted");
    assert!(s.fake.delete_event("primary", "nosuchevent").is_err());
    assert!(s
        .fake
        .move_event("primary", &first_id, "2030-03-06T15:00:00Z", "2030-03-06T16:00:00Z")
        .is_err());
    assert!(s
        .fake
        .move_event("primary", &second_id, "not a time", "2030-03-06T16:00:00Z")
        .is_err());

    // A full read after all that: the deleted event is reported as removed, the moved one at
    // its new time.
    let full = feed(&s.strategy).changes(&s.expert, None).await.unwrap();
    assert!(removed(&full, &first_id), "{full:?}");
    assert_eq!(
        at(&full, &second_id),
        Some(interval("2030-03-06T14:00:00Z", "2030-03-06T15:30:00Z"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_sync_token_means_a_full_read_and_a_working_new_cursor() {
    let s = Setup::start().await;
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let id = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap()
        .id;
    let first = feed(&s.strategy).changes(&s.expert, None).await.unwrap();

    s.fake.invalidate_sync_tokens();
    s.fake.clear_requests();
    let reread = feed(&s.strategy).changes(&s.expert, Some(&first.cursor)).await.unwrap();
    assert_eq!(
        reread.changes,
        vec![CalendarChange::At {
            event_id: id.clone(),
            time: interval("2030-03-04T09:00:00Z", "2030-03-04T09:30:00Z"),
        }]
    );
    // The old token was tried (410), then everything read again without it.
    let queries = list_queries(&s, EVENTS);
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(param(&queries[0], "syncToken").is_some());
    assert_eq!(param(&queries[1], "syncToken"), None);
    assert!(param(&queries[1], "timeMin").is_some());
    let state = s.store.integration_state(s.expert.id, GOOGLE);
    assert!(state.last_error.is_none(), "a refused token is no failure: {state:?}");

    // The new cursor works.
    s.fake.delete_event("primary", &id).unwrap();
    let next = feed(&s.strategy)
        .changes(&s.expert, Some(&reread.cursor))
        .await
        .unwrap();
    assert_eq!(next.changes, vec![CalendarChange::Removed { event_id: id }]);

    // A cursor that is not ours at all is read as a fresh start too.
    let fresh = feed(&s.strategy).changes(&s.expert, Some("garbage")).await.unwrap();
    assert!(!fresh.cursor.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_is_read_and_the_cursor_comes_from_the_last_one() {
    let s = Setup::start().await;
    let strategy = GoogleCalendarBuilder::new(s.tokens.clone(), s.store.clone())
        .with_api_base(s.fake.api_base())
        .with_policy(quick_policy())
        .with_events_page_size(2)
        .build()
        .unwrap();
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let ours = strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap()
        .id;
    let start: Timestamp = "2030-03-05T00:00:00Z".parse().unwrap();
    let spans: Vec<(String, String)> = (0..6)
        .map(|i| {
            let begin = start + SignedDuration::from_hours(i);
            (begin.to_string(), (begin + SignedDuration::from_mins(30)).to_string())
        })
        .collect();
    let spans: Vec<(&str, &str)> = spans.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    s.fake.seed_busy("primary", &spans).unwrap();
    s.fake.clear_requests();

    let full = feed(&strategy).changes(&s.expert, None).await.unwrap();
    assert_eq!(full.changes.len(), 7, "{full:?}");
    assert!(at(&full, &ours).is_some());
    let queries = list_queries(&s, EVENTS);
    assert_eq!(queries.len(), 4, "7 events, 2 a page");
    assert!(queries.iter().all(|q| param(q, "maxResults") == Some("2")));
    assert_eq!(param(&queries[0], "pageToken"), None);
    assert!(queries[1..].iter().all(|q| param(q, "pageToken").is_some()));
    // Every page repeats the query.
    let time_min = param(&queries[0], "timeMin");
    assert!(queries.iter().all(|q| param(q, "timeMin") == time_min));

    // The cursor holds the sync token of the last page (the same list, read by hand).
    let token = s.fake.issue_token(&[SCOPE_EVENTS]).access_token;
    let http = reqwest::Client::new();
    let url = format!("{}/calendars/primary/events", s.fake.api_base());
    let mut page_token: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let mut request = http
            .get(&url)
            .bearer_auth(&token)
            .query(&[("singleEvents", "true"), ("showDeleted", "true"), ("maxResults", "2")])
            .query(&[("timeMin", time_min.unwrap())]);
        if let Some(page) = &page_token {
            request = request.query(&[("pageToken", page)]);
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        page_token = body["nextPageToken"].as_str().map(str::to_owned);
        pages.push(body);
        if page_token.is_none() {
            break;
        }
    }
    assert_eq!(pages.len(), 4);
    assert!(pages[..3].iter().all(|p| p.get("nextSyncToken").is_none()));
    assert_eq!(
        pages[3]["nextSyncToken"].as_str(),
        Some(sync_token(&full.cursor).as_str())
    );

    // An incremental read pages too: seven changes, four pages.
    s.fake.delete_event("primary", &ours).unwrap();
    for (i, event) in s.fake.events("primary").iter().enumerate() {
        let id = event["id"].as_str().unwrap();
        if id != ours {
            let begin = start + SignedDuration::from_hours(24 + i64::try_from(i).unwrap());
            let end = begin + SignedDuration::from_mins(45);
            s.fake
                .move_event("primary", id, &begin.to_string(), &end.to_string())
                .unwrap();
        }
    }
    s.fake.clear_requests();
    let changes = feed(&strategy).changes(&s.expert, Some(&full.cursor)).await.unwrap();
    assert_eq!(changes.changes.len(), 7, "{changes:?}");
    assert!(removed(&changes, &ours));
    assert_eq!(
        changes
            .changes
            .iter()
            .filter(|c| matches!(c, CalendarChange::At { time, .. } if time.seconds() == 45 * 60))
            .count(),
        6
    );
    let queries = list_queries(&s, EVENTS);
    assert_eq!(queries.len(), 4);
    let sync = sync_token(&full.cursor);
    assert!(queries.iter().all(|q| param(q, "syncToken") == Some(sync.as_str())));
    let quiet = feed(&strategy).changes(&s.expert, Some(&changes.cursor)).await.unwrap();
    assert_eq!(quiet.changes, vec![]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_while_the_client_pages_is_neither_skipped_nor_lost() {
    // The fake's page tokens hold the moment of the first page, as Google's do.
    let s = Setup::start().await;
    s.fake
        .seed_busy(
            "primary",
            &[
                ("2030-03-05T09:00:00Z", "2030-03-05T10:00:00Z"),
                ("2030-03-05T11:00:00Z", "2030-03-05T12:00:00Z"),
                ("2030-03-05T13:00:00Z", "2030-03-05T14:00:00Z"),
            ],
        )
        .unwrap();
    let ids: Vec<String> = s
        .fake
        .events("primary")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let token = s.fake.issue_token(&[SCOPE_EVENTS]).access_token;
    let http = reqwest::Client::new();
    let url = format!("{}/calendars/primary/events", s.fake.api_base());
    let list = |extra: Vec<(&'static str, String)>| {
        let request = http.get(&url).bearer_auth(&token).query(&extra);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let listed = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = list(vec![("maxResults", "2".into())]).await;
    assert_eq!(listed(&first), ids[..2]);
    // The first listed event moves before the second page is read.
    s.fake
        .move_event("primary", &ids[0], "2030-03-06T09:00:00Z", "2030-03-06T10:00:00Z")
        .unwrap();
    let page = first["nextPageToken"].as_str().unwrap().to_owned();
    let second = list(vec![("maxResults", "2".into()), ("pageToken", page)]).await;
    assert_eq!(listed(&second), ids[2..], "the third event is not skipped");
    let sync = second["nextSyncToken"].as_str().unwrap().to_owned();
    let changes = list(vec![("syncToken", sync)]).await;
    assert_eq!(listed(&changes), ids[..1], "the move comes with the next sync");

    // Google refuses a sync token beside the filters it cannot combine with, and showDeleted=false.
    let sync = changes["nextSyncToken"].as_str().unwrap().to_owned();
    for (name, value) in [
        ("privateExtendedProperty", "appointmentId=x"),
        ("timeMin", "2030-03-01T00:00:00Z"),
        ("showDeleted", "false"),
    ] {
        let status = http
            .get(&url)
            .bearer_auth(&token)
            .query(&[("syncToken", sync.as_str()), (name, value)])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_reads_the_calendar_that_receives_appointments_and_shares_refresh_and_retries() {
    let s = Setup::start().await;
    const TEAM: &str = "team@group.calendar.google.com";
    s.fake.add_calendar(TEAM, "Team", false);
    s.fake.set_calendar_time_zone(TEAM, "Europe/Berlin").unwrap();
    s.strategy
        .set_calendars(s.expert.id, vec!["primary".into(), TEAM.into()], TEAM.into())
        .await
        .unwrap();
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let id = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap()
        .id;
    // Something in the primary calendar, which no longer receives appointments.
    s.fake
        .seed_busy("primary", &[("2030-03-05T09:00:00Z", "2030-03-05T10:00:00Z")])
        .unwrap();
    // An all-day event in the team calendar: the whole Berlin date.
    s.fake
        .add_event(
            TEAM,
            serde_json::json!({"id": "a11da0001", "start": {"date": "2030-03-07"}, "end": {"date": "2030-03-08"}}),
        )
        .unwrap();

    // Google no longer takes the access token (a 401, a refresh, the call again) and throttles
    // twice (retried).
    s.fake.expire_access_tokens();
    let refreshes = s.refreshes();
    s.fake.throttle_next(1, 403);
    s.fake.throttle_next(1, 429);
    s.fake.clear_requests();
    // After a change of calendar the service starts without a cursor (it keys cursors by
    // connection, which the change renews).
    let batch = feed(&s.strategy).changes(&s.expert, None).await.unwrap();
    assert_eq!(s.refreshes(), refreshes + 1);
    assert_eq!(
        at(&batch, &id),
        Some(interval("2030-03-04T09:00:00Z", "2030-03-04T09:30:00Z"))
    );
    assert_eq!(
        at(&batch, "a11da0001"),
        Some(interval("2030-03-06T23:00:00Z", "2030-03-07T23:00:00Z"))
    );
    assert_eq!(batch.changes.len(), 2, "{batch:?}");
    let team_path = format!("/calendar/v3/calendars/{TEAM}/events");
    let queries = list_queries(&s, &team_path);
    assert_eq!(queries.len(), 4, "refused, throttled twice, answered");
    assert!(queries.iter().all(|q| param(q, "syncToken").is_none()), "a full read");
    assert!(list_queries(&s, EVENTS).is_empty());
    assert!(list_queries(&s, &format!("/calendar/v3/calendars/{ACCOUNT_EMAIL}/events")).is_empty());

    // The next read goes on from there, in the team calendar.
    s.fake
        .move_event(TEAM, &id, "2030-03-04T11:00:00+01:00", "2030-03-04T12:00:00+01:00")
        .unwrap();
    let next = feed(&s.strategy).changes(&s.expert, Some(&batch.cursor)).await.unwrap();
    assert_eq!(
        next.changes,
        vec![CalendarChange::At {
            event_id: id,
            time: interval("2030-03-04T10:00:00Z", "2030-03-04T11:00:00Z"),
        }]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_errors_and_recorded() {
    let s = Setup::start().await;
    s.fake.fail_next(10, 503);
    let error = feed(&s.strategy).changes(&s.expert, None).await.unwrap_err();
    assert!(
        matches!(error, availability_core::CoreError::ProviderUnavailable { .. }),
        "{error:?}"
    );
    let state = s.store.integration_state(s.expert.id, GOOGLE);
    assert!(state.last_error.is_some(), "{state:?}");

    // A revoked grant needs the expert.
    let s = Setup::start().await;
    s.connect_expiring_at(Timestamp::now() - SignedDuration::from_secs(60))
        .await;
    s.fake.revoke_grant();
    let error = feed(&s.strategy).changes(&s.expert, None).await.unwrap_err();
    assert!(
        matches!(error, availability_core::CoreError::NeedsReauth { .. }),
        "{error:?}"
    );
}

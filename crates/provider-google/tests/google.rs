//! Google's particular cases, against FakeGoogle over real HTTP: what blocks time, chunked
//! freeBusy, calendar choice, token refresh and revocation, rate limits, idempotent event writes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{BookingPolicy, Secret};
use availability_core::{BusyTimeSource, CoreError, EventWriter};
use common::{event_time, expert, interval, quick_policy, Setup, GOOGLE};
use provider_fakes::google::ACCOUNT_EMAIL;
use provider_google::{event_id, oauth_config, SCOPES};
use provider_http::{HttpPolicy, OAuthApp};
use serde_json::{json, Value};

const FREEBUSY: &str = "/calendar/v3/freeBusy";

#[tokio::test(flavor = "multi_thread")]
async fn all_day_and_multi_day_events_block_time_transparent_and_cancelled_ones_do_not() {
    let s = Setup::start().await;
    s.fake.set_calendar_time_zone("primary", "Europe/Berlin").unwrap();
    let add = |event: Value| {
        s.fake.add_event("primary", event).unwrap();
    };
    // All day on Tuesday 2030-03-05 in Berlin: 2030-03-04T23:00Z to 2030-03-05T23:00Z.
    add(json!({"start": {"date": "2030-03-05"}, "end": {"date": "2030-03-06"}}));
    // From Thursday evening to Saturday morning.
    add(json!({"start": {"dateTime": "2030-03-07T18:00:00+01:00"}, "end": {"dateTime": "2030-03-09T09:00:00+01:00"}}));
    add(
        json!({"transparency": "transparent", "start": {"dateTime": "2030-03-04T10:00:00Z"}, "end": {"dateTime": "2030-03-04T11:00:00Z"}}),
    );
    add(
        json!({"status": "cancelled", "start": {"dateTime": "2030-03-04T12:00:00Z"}, "end": {"dateTime": "2030-03-04T13:00:00Z"}}),
    );
    s.fake
        .seed_busy("primary", &[("2030-03-04T08:00:00Z", "2030-03-04T09:00:00Z")])
        .unwrap();

    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    let busy = s.strategy.busy_intervals(&s.expert, week).await.unwrap();
    assert_eq!(
        busy,
        vec![
            interval("2030-03-04T08:00:00Z", "2030-03-04T09:00:00Z"),
            interval("2030-03-04T23:00:00Z", "2030-03-05T23:00:00Z"),
            interval("2030-03-07T17:00:00Z", "2030-03-09T08:00:00Z"),
        ]
    );
    let state = s.store.integration_state(s.expert.id, GOOGLE);
    assert!(state.synced && state.last_error.is_none(), "{state:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_days_with_500_events_is_one_freebusy_round_trip_and_longer_windows_are_chunked() {
    let s = Setup::start().await;
    let start: Timestamp = "2030-03-01T00:00:00Z".parse().unwrap();
    let spans: Vec<(String, String)> = (0..500)
        .map(|i| {
            // 500 separate half hours, an hour apart: 21 days.
            let begin = start + SignedDuration::from_mins(60 * i);
            (begin.to_string(), (begin + SignedDuration::from_mins(30)).to_string())
        })
        .collect();
    let spans: Vec<(&str, &str)> = spans.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    s.fake.seed_busy("primary", &spans).unwrap();

    let days = |n: i64| {
        interval(
            &start.to_string(),
            &(start + SignedDuration::from_hours(24 * n)).to_string(),
        )
    };
    s.fake.clear_requests();
    let busy = s.strategy.busy_intervals(&s.expert, days(30)).await.unwrap();
    assert_eq!(busy.len(), 500);
    assert_eq!(s.fake.request_count(FREEBUSY), 1, "one round trip for 30 days");
    assert_eq!(
        s.fake.requests().len(),
        1,
        "and nothing else (no refresh, no calendar list)"
    );

    for (window_days, chunks) in [(60, 1), (93, 2), (120, 2), (121, 3)] {
        s.fake.clear_requests();
        let window = days(window_days);
        let busy = s.strategy.busy_intervals(&s.expert, window).await.unwrap();
        assert_eq!(busy.len(), 500, "{window_days} days");
        assert!(
            busy.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates at chunk edges"
        );
        assert_eq!(s.fake.request_count(FREEBUSY), chunks, "{window_days} days");
        // The chunks are at most 60 days each and cover the window exactly.
        let mut ranges: Vec<(Timestamp, Timestamp)> = s
            .fake
            .requests()
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_str(&r.body).unwrap();
                (
                    body["timeMin"].as_str().unwrap().parse().unwrap(),
                    body["timeMax"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        ranges.sort();
        assert_eq!(ranges[0].0, window.start());
        assert_eq!(ranges[ranges.len() - 1].1, window.end());
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "chunks touch");
        }
        for (min, max) in &ranges {
            assert!(max.duration_since(*min) <= SignedDuration::from_hours(60 * 24));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_the_api_rejects_is_refreshed_once() {
    let s = Setup::start().await;
    s.fake
        .seed_busy("primary", &[("2030-03-04T08:00:00Z", "2030-03-04T09:00:00Z")])
        .unwrap();
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    s.fake.expire_access_tokens();
    let busy = s.strategy.busy_intervals(&s.expert, week).await.unwrap();
    assert_eq!(busy.len(), 1);
    assert_eq!(s.refreshes(), 1);
    // The new token is stored and used: no further refresh.
    s.strategy.busy_intervals(&s.expert, week).await.unwrap();
    assert_eq!(s.refreshes(), 1);
    assert_eq!(s.fake.request_count(FREEBUSY), 3, "401, retry, next call");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_about_to_expire_is_refreshed_before_the_call() {
    let s = Setup::start().await;
    s.connect_expiring_at(Timestamp::now() - SignedDuration::from_secs(1))
        .await;
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    s.strategy.busy_intervals(&s.expert, week).await.unwrap();
    assert_eq!(s.refreshes(), 1);
    assert_eq!(s.fake.request_count(FREEBUSY), 1, "no 401 on the way");
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_consent_needs_reauth_and_is_never_an_empty_calendar() {
    let s = Setup::start().await;
    s.fake.revoke_grant();
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    let error = s.strategy.busy_intervals(&s.expert, week).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    let state = s.store.integration_state(s.expert.id, GOOGLE);
    assert!(state.needs_reauth, "{state:?}");
    assert!(state.last_error.unwrap().contains("invalid_grant"));
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let error = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    assert!(s.fake.events("primary").is_empty());

    // Reconnecting clears it.
    s.connect().await;
    s.strategy.busy_intervals(&s.expert, week).await.unwrap();
    assert!(!s.store.integration_state(s.expert.id, GOOGLE).needs_reauth);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_429_and_403_are_retried_with_backoff() {
    let s = Setup::start().await;
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    for status in [429, 403] {
        s.fake.clear_requests();
        s.fake.throttle_next(2, status);
        s.strategy.busy_intervals(&s.expert, week).await.unwrap();
        assert_eq!(
            s.fake.request_count(FREEBUSY),
            3,
            "two throttled answers, then success ({status})"
        );
    }
    // Writes too (an insert is retried safely thanks to its client-chosen id).
    s.fake.throttle_next(1, 403);
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    s.strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    assert_eq!(s.fake.events("primary").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_and_a_provider_that_stays_down_is_unavailable() {
    let s = Setup::with(
        quick_policy().with_max_attempts(3),
        expert("Europe/Berlin", BookingPolicy::default()),
    )
    .await;
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    s.fake.fail_next(2, 503);
    s.strategy.busy_intervals(&s.expert, week).await.unwrap();

    s.fake.fail_next(3, 503);
    let error = s.strategy.busy_intervals(&s.expert, week).await.unwrap_err();
    assert!(matches!(error, CoreError::ProviderUnavailable { .. }), "{error:?}");
    let state = s.store.integration_state(s.expert.id, GOOGLE);
    assert!(state.last_error.unwrap().contains("503"));
    assert!(!state.needs_reauth);
    // The next answer clears the failure.
    s.strategy.busy_intervals(&s.expert, week).await.unwrap();
    assert_eq!(s.store.integration_state(s.expert.id, GOOGLE).last_error, None);

    // A provider slower than the budget is unavailable too, within the budget.
    let budget = Duration::from_millis(500);
    let slow = Setup::with(
        quick_policy().with_total_timeout(budget),
        expert("Europe/Berlin", BookingPolicy::default()),
    )
    .await;
    slow.fake.set_latency(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let error = slow.strategy.busy_intervals(&slow.expert, week).await.unwrap_err();
    assert!(matches!(error, CoreError::ProviderUnavailable { .. }), "{error:?}");
    // Given up at the budget, not after the fake's 3 s (the margin is for busy test machines).
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    slow.fake.set_latency(Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_calendar_that_cannot_be_read_is_not_treated_as_free() {
    let s = Setup::start().await;
    s.strategy
        .set_calendars(
            s.expert.id,
            vec!["primary".into(), "gone@example.com".into()],
            "primary".into(),
        )
        .await
        .unwrap();
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    let error = s.strategy.busy_intervals(&s.expert, week).await.unwrap_err();
    match &error {
        CoreError::ProviderResponse { message, .. } => {
            assert!(
                message.contains("gone@example.com") && message.contains("notFound"),
                "{message}"
            )
        }
        other => panic!("expected ProviderResponse, got {other:?}"),
    }
    let state = s.store.integration_state(s.expert.id, GOOGLE);
    assert!(state.last_error.unwrap().contains("notFound"));
    assert!(!state.needs_reauth);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_calendar_list_is_read_page_by_page() {
    let s = Setup::start().await;
    for i in 0..300 {
        s.fake.add_calendar(
            &format!("cal{i:03}@group.calendar.google.com"),
            &format!("Calendar {i}"),
            false,
        );
    }
    s.fake.clear_requests();
    let calendars = s.strategy.calendars(s.expert.id).await.unwrap();
    assert_eq!(calendars.len(), 301);
    assert_eq!(s.fake.request_count("/calendar/v3/users/me/calendarList"), 2);
    let primary: Vec<_> = calendars.iter().filter(|c| c.primary).collect();
    assert_eq!(primary.len(), 1);
    assert_eq!(primary[0].id, ACCOUNT_EMAIL);
    assert!(primary[0].blocks_time && primary[0].receives_events);
    assert_eq!(primary[0].access_role, "owner");
    assert!(calendars
        .iter()
        .filter(|c| !c.primary)
        .all(|c| !c.blocks_time && !c.receives_events));
    assert_eq!(
        s.strategy.account(s.expert.id).await.unwrap().as_deref(),
        Some(ACCOUNT_EMAIL)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chosen_calendars_decide_what_blocks_time() {
    let s = Setup::start().await;
    let team = "team@group.calendar.google.com";
    s.fake.add_calendar(team, "Team", false);
    s.fake
        .seed_busy(team, &[("2030-03-05T10:00:00Z", "2030-03-05T11:00:00Z")])
        .unwrap();
    s.fake
        .seed_busy("primary", &[("2030-03-04T10:00:00Z", "2030-03-04T11:00:00Z")])
        .unwrap();
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    let primary_busy = interval("2030-03-04T10:00:00Z", "2030-03-04T11:00:00Z");
    let team_busy = interval("2030-03-05T10:00:00Z", "2030-03-05T11:00:00Z");

    assert_eq!(
        s.strategy.busy_intervals(&s.expert, week).await.unwrap(),
        vec![primary_busy]
    );

    let settings = s
        .strategy
        .set_calendars(s.expert.id, vec!["primary".into(), team.into()], "primary".into())
        .await
        .unwrap();
    assert_eq!(settings.busy_calendars, ["primary", team]);
    assert_eq!(
        s.strategy.busy_intervals(&s.expert, week).await.unwrap(),
        vec![primary_busy, team_busy]
    );
    let stored = s.tokens.stored(s.expert.id).await.unwrap();
    assert_eq!(stored.extra["busy_calendars"], json!(["primary", team]));
    assert_eq!(stored.extra["event_calendar"], "primary");
    assert!(stored.refresh_token.is_some(), "the grant is kept");
    let listed = s.strategy.calendars(s.expert.id).await.unwrap();
    assert!(listed.iter().find(|c| c.id == team).unwrap().blocks_time);

    s.strategy
        .set_calendars(s.expert.id, vec![team.into()], team.into())
        .await
        .unwrap();
    assert_eq!(
        s.strategy.busy_intervals(&s.expert, week).await.unwrap(),
        vec![team_busy]
    );
    // The choice is checked.
    let error = s
        .strategy
        .set_calendars(s.expert.id, vec![], "primary".into())
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::InvalidCalendarChoice(_)), "{error:?}");
    assert_eq!(
        s.strategy.calendar_settings(s.expert.id).await.unwrap().busy_calendars,
        [team]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_carries_the_client_the_appointment_and_local_times() {
    let s = Setup::start().await;
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let created = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    assert_eq!(created.id, event_id(appointment.id));
    let events = s.fake.events("primary");
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["id"], created.id.as_str());
    assert_eq!(event["start"]["dateTime"], "2030-03-04T10:00:00+01:00");
    assert_eq!(event["start"]["timeZone"], "Europe/Berlin");
    assert_eq!(event["end"]["dateTime"], "2030-03-04T10:30:00+01:00");
    assert_eq!(event["attendees"][0]["email"], "ann@example.com");
    assert_eq!(event["transparency"], "opaque");
    assert_eq!(
        event["extendedProperties"]["private"]["appointmentId"],
        appointment.id.to_string()
    );
    let insert = s
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/events"))
        .unwrap();
    assert_eq!(insert.query, "sendUpdates=all");
    // The event blocks the expert's time.
    let hour = interval("2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z");
    assert_eq!(
        s.strategy.busy_intervals(&s.expert, hour).await.unwrap(),
        vec![interval("2030-03-04T09:00:00Z", "2030-03-04T09:30:00Z")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_insert_is_success_and_catches_up_with_a_moved_appointment() {
    let s = Setup::start().await;
    let mut appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let first = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    let again = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(s.fake.events("primary").len(), 1);
    let conflicts = s
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
        .count();
    assert_eq!(conflicts, 2, "the second insert was sent and answered 409 duplicate");

    // The first answer was lost and the appointment moved before the outbox retried the create.
    appointment.start_time = "2030-03-04T13:00:00Z".parse().unwrap();
    appointment.end_time = "2030-03-04T13:30:00Z".parse().unwrap();
    let id = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap()
        .id;
    assert_eq!(
        event_time(&s.fake, "primary", &id),
        Some(interval("2030-03-04T13:00:00Z", "2030-03-04T13:30:00Z"))
    );
    assert_eq!(s.fake.events("primary").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_twice_or_without_a_stored_event_id_is_success() {
    let s = Setup::start().await;
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let id = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap()
        .id;
    // The id was never stored (the create's answer was lost): the derived one finds the event.
    assert_eq!(appointment.external_calendar_event_id, None);
    s.strategy.delete_event(&s.expert, &appointment).await.unwrap();
    assert_eq!(event_time(&s.fake, "primary", &id), None);
    // 410 deleted.
    s.strategy.delete_event(&s.expert, &appointment).await.unwrap();
    // 404: never written.
    let never = s.appointment("2030-03-04T11:00:00Z", 30);
    s.strategy.delete_event(&s.expert, &never).await.unwrap();
    let deletes: Vec<_> = s.fake.requests().into_iter().filter(|r| r.method == "DELETE").collect();
    assert_eq!(deletes.len(), 3);
    assert!(deletes.iter().all(|r| r.query == "sendUpdates=all"));
    let state = s.store.integration_state(s.expert.id, GOOGLE);
    assert!(state.last_error.is_none(), "{state:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_written_before_the_event_calendar_changed_are_still_updated_and_cancelled() {
    let s = Setup::start().await;
    let team = "team@group.calendar.google.com";
    s.fake.add_calendar(team, "Team", false);
    let mut appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    let id = s
        .strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap()
        .id;
    appointment.external_calendar_event_id = Some(id.clone());
    s.strategy
        .set_calendars(s.expert.id, vec!["primary".into(), team.into()], team.into())
        .await
        .unwrap();

    appointment.start_time = "2030-03-04T14:00:00Z".parse().unwrap();
    appointment.end_time = "2030-03-04T14:30:00Z".parse().unwrap();
    let updated = s
        .strategy
        .update_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    assert_eq!(updated.id, id);
    assert_eq!(
        event_time(&s.fake, "primary", &id),
        Some(interval("2030-03-04T14:00:00Z", "2030-03-04T14:30:00Z"))
    );
    assert!(s.fake.events(team).is_empty(), "not copied into the new calendar");
    s.strategy.delete_event(&s.expert, &appointment).await.unwrap();
    assert_eq!(event_time(&s.fake, "primary", &id), None);

    // New appointments go to the new calendar; one whose event is nowhere is written there.
    let mut lost = s.appointment("2030-03-05T09:00:00Z", 30);
    lost.external_calendar_event_id = Some(event_id(lost.id));
    let written = s.strategy.update_event(&s.expert, &s.client, &lost).await.unwrap();
    assert_eq!(
        event_time(&s.fake, team, &written.id),
        Some(interval("2030-03-05T09:00:00Z", "2030-03-05T09:30:00Z"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_asks_for_least_privilege_and_its_grant_works() {
    let s = Setup::start().await;
    let app = OAuthApp::new(oauth_config(
        s.fake.client_id(),
        Secret::new(s.fake.client_secret()),
        s.fake.auth_url(),
        s.fake.token_url(),
        Some(s.fake.revoke_url()),
    ))
    .unwrap();
    let redirect_uri = "http://127.0.0.1:9/oauth/google_calendar/callback";
    let request = app.authorize_url(redirect_uri).unwrap();
    // The browser leg: the fake consents at once and redirects with a code.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(&request.url).send().await.unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let query: Vec<(String, String)> = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let code = query.iter().find(|(k, _)| k == "code").map(|(_, v)| v.clone()).unwrap();

    let asked = s.fake.last_authorize().unwrap();
    let mut scopes: Vec<&str> = asked["scope"].split(' ').collect();
    scopes.sort_unstable();
    let mut expected = SCOPES.to_vec();
    expected.sort_unstable();
    assert_eq!(scopes, expected);
    assert!(!scopes.contains(&"https://www.googleapis.com/auth/calendar"));
    assert_eq!(asked["access_type"], "offline");
    assert_eq!(asked["prompt"], "consent");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(!asked.contains_key("include_granted_scopes"));

    let tokens = app
        .exchange_code(&code, &request.pkce_verifier, redirect_uri)
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_some(), "offline access gives a refresh token");
    s.tokens
        .store_new_grant(s.expert.id, tokens, None, Value::Null)
        .await
        .unwrap();
    // The granted scopes are enough for everything the strategy does.
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    s.strategy.busy_intervals(&s.expert, week).await.unwrap();
    assert_eq!(
        s.strategy.account(s.expert.id).await.unwrap().as_deref(),
        Some(ACCOUNT_EMAIL)
    );
    let appointment = s.appointment("2030-03-04T09:00:00Z", 30);
    s.strategy
        .create_event(&s.expert, &s.client, &appointment)
        .await
        .unwrap();
    s.strategy.delete_event(&s.expert, &appointment).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_grant_the_expert_must_connect() {
    let s = Setup::with(HttpPolicy::default(), expert("Europe/Berlin", BookingPolicy::default())).await;
    s.tokens.disconnect(s.expert.id).await.unwrap();
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    let error = s.strategy.busy_intervals(&s.expert, week).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    assert_eq!(s.fake.request_count(FREEBUSY), 0);
}

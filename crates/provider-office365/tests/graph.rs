//! Office365CalendarStrategy against FakeGraph over real HTTP: OAuth and the account, rotated
//! refresh tokens, the per-mailbox limit, throttling, getSchedule and its fallback, chunking,
//! events, revoked consent and Outlook's working hours.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::Interval;
use availability_core::{BusyTimeSource, CoreError, EventWriter};
use provider_office365::{Office365Settings, SCOPES};
use serde_json::{json, Value};
use support::{event_interval, interval, monday_after, token_set, ts, Connected, OFFICE365};

const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/office365_calendar/callback";
const GET_SCHEDULE: &str = "/v1.0/me/calendar/getSchedule";
const CALENDAR_VIEW: &str = "/v1.0/me/calendarView";

fn hours(start: Timestamp, hours: i64) -> Interval {
    Interval::new(start, start + SignedDuration::from_hours(hours)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn connects_through_the_code_flow_and_stores_the_mailbox() {
    let c = Connected::start().await;
    let app = c.strategy.tokens().app();
    let request = app.authorize_url(REDIRECT_URI).unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects.get(&request.url).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(param("state").as_deref(), Some(request.state.expose().as_str()));

    let sent = c.fake.last_authorize().unwrap();
    assert_eq!(sent["scope"], "offline_access Calendars.ReadWrite User.Read");
    assert_eq!(sent["response_mode"], "query");
    assert_eq!(sent["response_type"], "code");
    assert_eq!(sent["code_challenge_method"], "S256");
    assert!(c.fake.auth_url().starts_with(&c.fake.base_url()));

    let tokens = app
        .exchange_code(&param("code").unwrap(), &request.pkce_verifier, REDIRECT_URI)
        .await
        .unwrap();
    let exchange = &c.fake.token_requests()[0];
    assert_eq!(exchange.status, 200);
    assert_eq!(exchange.param("grant_type"), Some("authorization_code"));
    assert_eq!(exchange.param("scope"), Some(SCOPES.join(" ").as_str()));
    assert_eq!(exchange.param("client_secret"), Some(c.fake.client_secret().as_str()));
    assert!(exchange.param("code_verifier").is_some());

    // The free function answers the same as the strategy, before anything is stored.
    let account = provider_office365::account(
        &c.fake.graph_base(),
        &reqwest::Client::new(),
        &support::policy(),
        &tokens.access_token,
    )
    .await
    .unwrap();
    assert_eq!(account.address, "expert@contoso.example");
    assert!(!account.personal);

    let stored_account = c.strategy.store_grant(c.expert.id, tokens).await.unwrap();
    assert_eq!(stored_account, account);
    let stored = c.strategy.tokens().stored(c.expert.id).await.unwrap();
    assert_eq!(stored.account.as_deref(), Some("expert@contoso.example"));
    assert_eq!(stored.extra["mailbox"], "expert@contoso.example");
    assert_eq!(stored.extra["personal"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mailbox_is_learnt_once_when_the_grant_has_none() {
    let c = Connected::start().await;
    // What the server's OAuth callback stores: no account, extra null.
    let issued = c.fake.issue_token(&SCOPES);
    c.strategy
        .tokens()
        .store_new_grant(c.expert.id, token_set(issued, 3599), None, Value::Null)
        .await
        .unwrap();
    let week = hours(monday_after(8), 24 * 7);
    c.strategy.busy_intervals(&c.expert, week).await.unwrap();
    c.strategy.busy_intervals(&c.expert, week).await.unwrap();
    assert_eq!(c.fake.request_count("/v1.0/me"), 1 + 2, "one GET /me, two getSchedule");
    assert_eq!(c.fake.request_count(GET_SCHEDULE), 2);
    let settings = c.strategy.settings(c.expert.id).await.unwrap();
    assert_eq!(settings.mailbox.as_deref(), Some("expert@contoso.example"));
    assert_eq!(c.schedule_requests()[0]["schedules"], json!(["expert@contoso.example"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_refresh_tokens_are_stored_and_never_sent_twice() {
    let c = Connected::start().await;
    // Access tokens that live 30 s are refreshed before every use (the margin is 60 s).
    c.fake.set_access_token_lifetime(30);
    let issued = c.fake.issue_token(&SCOPES);
    let first = issued.refresh_token.clone().unwrap();
    c.strategy
        .store_grant(c.expert.id, token_set(issued, 30))
        .await
        .unwrap();
    let week = hours(monday_after(8), 24 * 7);

    let mut stored_before = Vec::new();
    for _ in 0..2 {
        let stored = c.strategy.tokens().stored(c.expert.id).await.unwrap();
        stored_before.push(stored.refresh_token.unwrap().expose().clone());
        c.strategy.busy_intervals(&c.expert, week).await.unwrap();
    }
    let newest = c
        .strategy
        .tokens()
        .stored(c.expert.id)
        .await
        .unwrap()
        .refresh_token
        .unwrap()
        .expose()
        .clone();

    let refreshes: Vec<_> = c
        .fake
        .token_requests()
        .into_iter()
        .filter(|r| r.param("grant_type") == Some("refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 2);
    assert!(refreshes.iter().all(|r| r.status == 200));
    assert!(refreshes
        .iter()
        .all(|r| r.param("scope") == Some(SCOPES.join(" ").as_str())));
    let sent: Vec<String> = refreshes
        .iter()
        .map(|r| r.param("refresh_token").unwrap().to_owned())
        .collect();
    // Each refresh used the token stored at that moment: the first grant's, then its successor.
    assert_eq!(sent, stored_before);
    assert_eq!(sent[0], first);
    assert_ne!(sent[0], sent[1]);
    assert!(!sent.contains(&newest), "the newest refresh token is stored, unused");
    assert_eq!(
        sent.iter().filter(|t| **t == first).count(),
        1,
        "the first is never sent again"
    );

    // The next refresh uses the newest one and succeeds (the fake refuses rotated-out tokens).
    c.strategy.busy_intervals(&c.expert, week).await.unwrap();
    let last = c.fake.token_requests().last().cloned().unwrap();
    assert_eq!(last.param("refresh_token"), Some(newest.as_str()));
    assert_eq!(last.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_slot_queries_stays_within_four_requests_per_mailbox() {
    let c = Connected::connected().await;
    c.fake.set_latency(Duration::from_millis(100));
    let start = monday_after(8);
    let week = hours(start, 24 * 7);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (strategy, expert) = (c.strategy.clone(), c.expert.clone());
            tokio::spawn(async move { strategy.busy_intervals(&expert, week).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert!(c.fake.max_in_flight() <= 4, "{} in flight", c.fake.max_in_flight());
    assert_eq!(c.fake.max_in_flight(), 4, "the limit is used, not undershot");
    assert_eq!(
        c.fake.request_count(GET_SCHEDULE),
        20,
        "no request was refused for concurrency and retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_honours_retry_after_within_the_budget() {
    let c = Connected::connected().await;
    let week = hours(monday_after(8), 24 * 7);
    c.fake.throttle_next(1, 1);
    let started = Instant::now();
    c.strategy.busy_intervals(&c.expert, week).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(c.fake.request_count(GET_SCHEDULE), 2);

    // A Retry-After beyond the budget ends the call at once: unavailable, recorded.
    c.fake.throttle_next(1, 30);
    let started = Instant::now();
    let error = c.strategy.busy_intervals(&c.expert, week).await.unwrap_err();
    assert!(matches!(error, CoreError::ProviderUnavailable { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    let state = c.store.integration_state(c.expert.id, OFFICE365);
    assert!(state.last_error.unwrap().contains("429"));
    assert!(!state.needs_reauth);

    // Graph down (503 on every call) is unavailable too; the next success clears the error.
    c.fake.set_unavailable(true);
    let error = c.strategy.busy_intervals(&c.expert, week).await.unwrap_err();
    assert!(matches!(error, CoreError::ProviderUnavailable { .. }), "{error:?}");
    c.fake.set_unavailable(false);
    c.strategy.busy_intervals(&c.expert, week).await.unwrap();
    assert_eq!(c.store.integration_state(c.expert.id, OFFICE365).last_error, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_schedule_statuses_busy_tentative_and_oof_block() {
    let c = Connected::connected().await;
    for (status, start, end) in [
        ("busy", "2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z"),
        ("tentative", "2030-03-04T11:00:00Z", "2030-03-04T11:30:00Z"),
        ("oof", "2030-03-05T00:00:00Z", "2030-03-06T00:00:00Z"),
        ("free", "2030-03-04T12:00:00Z", "2030-03-04T13:00:00Z"),
        ("workingElsewhere", "2030-03-04T14:00:00Z", "2030-03-04T15:00:00Z"),
    ] {
        c.fake.seed_schedule_item(status, start, end).unwrap();
    }
    c.fake
        .seed_event(json!({
            "subject": "cancelled", "isCancelled": true, "showAs": "busy",
            "start": {"dateTime": "2030-03-04T16:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2030-03-04T17:00:00", "timeZone": "W. Europe Standard Time"},
        }))
        .unwrap();
    let busy = c
        .strategy
        .busy_intervals(&c.expert, interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        busy,
        [
            interval("2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z"),
            interval("2030-03-04T11:00:00Z", "2030-03-04T11:30:00Z"),
            interval("2030-03-05T00:00:00Z", "2030-03-06T00:00:00Z"),
        ]
    );
    let request = &c.schedule_requests()[0];
    assert_eq!(request["schedules"], json!(["expert@contoso.example"]));
    assert_eq!(
        request["startTime"],
        json!({"dateTime": "2030-03-04T00:00:00", "timeZone": "UTC"})
    );
    assert_eq!(c.fake.request_count(CALENDAR_VIEW), 0);
    assert!(c.store.integration_state(c.expert.id, OFFICE365).synced);
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_accounts_read_calendar_view_with_every_page() {
    let c = Connected::start().await;
    c.fake.set_personal_account(true);
    let account = c.connect().await;
    assert!(account.personal);
    assert!(c.strategy.settings(c.expert.id).await.unwrap().personal);

    // 300 blocking half hours (more than one page of 250), and events that do not block.
    let monday = ts("2030-03-04T00:00:00Z");
    let mut expected = Vec::new();
    for i in 0..300 {
        let start = monday + SignedDuration::from_mins(30 * i);
        let slot = Interval::new(start, start + SignedDuration::from_mins(20)).unwrap();
        let show_as = if i % 2 == 0 { "busy" } else { "tentative" };
        c.fake
            .seed_schedule_item(show_as, &slot.start().to_string(), &slot.end().to_string())
            .unwrap();
        expected.push(slot);
    }
    for show_as in ["free", "workingElsewhere"] {
        c.fake
            .seed_schedule_item(show_as, "2030-03-04T00:20:00Z", "2030-03-04T00:30:00Z")
            .unwrap();
    }
    c.fake
        .seed_event(json!({
            "subject": "cancelled", "isCancelled": true,
            "start": {"dateTime": "2030-03-04T00:21:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-04T00:29:00", "timeZone": "UTC"},
        }))
        .unwrap();
    let busy = c
        .strategy
        .busy_intervals(&c.expert, interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(busy, expected);
    assert_eq!(c.fake.request_count(CALENDAR_VIEW), 2, "two pages");
    assert_eq!(c.fake.request_count(GET_SCHEDULE), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_get_schedule_refusal_falls_back_to_calendar_view_and_is_remembered() {
    let c = Connected::connected().await;
    // Connected as a work account; getSchedule then refuses the mailbox (the fake's personal mode).
    c.fake.set_personal_account(true);
    c.fake
        .seed_schedule_item("busy", "2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z")
        .unwrap();
    let week = interval("2030-03-04T00:00:00Z", "2030-03-11T00:00:00Z");
    for _ in 0..2 {
        let busy = c.strategy.busy_intervals(&c.expert, week).await.unwrap();
        assert_eq!(busy, [interval("2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z")]);
    }
    assert_eq!(c.fake.request_count(GET_SCHEDULE), 1, "asked once, then remembered");
    assert_eq!(c.fake.request_count(CALENDAR_VIEW), 2);
    assert!(c.strategy.settings(c.expert.id).await.unwrap().schedule_unavailable);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ninety_day_window_is_split_into_chunks_under_the_limit() {
    let c = Connected::connected().await;
    let start = ts("2030-03-01T00:00:00Z");
    let mut expected = Vec::new();
    for day in [5, 40, 85] {
        let busy = hours(start + SignedDuration::from_hours(24 * day + 10), 1);
        c.fake
            .seed_schedule_item("busy", &busy.start().to_string(), &busy.end().to_string())
            .unwrap();
        expected.push(busy);
    }
    let busy = c
        .strategy
        .busy_intervals(&c.expert, hours(start, 24 * 90))
        .await
        .unwrap();
    assert_eq!(busy, expected);
    let requests = c.schedule_requests();
    assert_eq!(requests.len(), 3);
    let bound = |request: &Value, field: &str| -> Timestamp {
        format!("{}Z", request[field]["dateTime"].as_str().unwrap())
            .parse()
            .unwrap()
    };
    let mut previous_end = start;
    for request in &requests {
        let (from, to) = (bound(request, "startTime"), bound(request, "endTime"));
        assert_eq!(from, previous_end, "chunks are consecutive");
        assert!(to.duration_since(from) <= SignedDuration::from_hours(31 * 24));
        previous_end = to;
    }
    assert_eq!(previous_end, start + SignedDuration::from_hours(24 * 90));
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_are_idempotent_by_transaction_id() {
    let c = Connected::connected().await;
    let client = support::client();
    let first = hours(monday_after(8) + SignedDuration::from_hours(10), 1);
    let mut appointment = c.appointment(&client, first);
    let created = c.strategy.create_event(&c.expert, &client, &appointment).await.unwrap();
    let again = c.strategy.create_event(&c.expert, &client, &appointment).await.unwrap();
    assert_eq!(again, created);
    assert_eq!(c.fake.events().len(), 1);

    let event = c.event(&created.id).unwrap();
    assert_eq!(event["transactionId"], appointment.id.to_string());
    assert_eq!(event["showAs"], "busy");
    assert_eq!(event["subject"], "Appointment with Ann Lee");
    assert_eq!(
        event["attendees"],
        json!([{"emailAddress": {"address": "ann@example.com", "name": "Ann Lee"}, "type": "required"}])
    );
    assert_eq!(event_interval(&event), Some(first));
    let body: Value = serde_json::from_str(
        &c.fake
            .requests()
            .iter()
            .find(|r| r.path == "/v1.0/me/events")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(body["start"]["timeZone"], "UTC");
    assert!(!body["start"]["dateTime"].as_str().unwrap().ends_with('Z'));

    // The answer to the first create was lost and the appointment moved before the retry: the
    // retry finds the same event and moves it.
    let moved = hours(first.start() + SignedDuration::from_hours(3), 1);
    appointment.start_time = moved.start();
    appointment.end_time = moved.end();
    let retried = c.strategy.create_event(&c.expert, &client, &appointment).await.unwrap();
    assert_eq!(retried, created);
    assert_eq!(c.fake.events().len(), 1);
    assert_eq!(event_interval(&c.event(&created.id).unwrap()), Some(moved));

    // Cancelled before the outbox recorded the event id: found by its transactionId and removed.
    assert_eq!(appointment.external_calendar_event_id, None);
    c.strategy.delete_event(&c.expert, &appointment).await.unwrap();
    assert!(c.fake.events().is_empty(), "the unsynced appointment's event is gone");
    c.strategy.delete_event(&c.expert, &appointment).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_move_the_event_and_cancelling_twice_is_success() {
    let c = Connected::connected().await;
    let client = support::client();
    let first = hours(monday_after(8) + SignedDuration::from_hours(10), 1);
    let mut appointment = c.appointment(&client, first);
    let created = c.strategy.create_event(&c.expert, &client, &appointment).await.unwrap();
    appointment.external_calendar_event_id = Some(created.id.clone());

    let moved = hours(first.start() + SignedDuration::from_hours(24), 1);
    appointment.start_time = moved.start();
    appointment.end_time = moved.end();
    let updated = c.strategy.update_event(&c.expert, &client, &appointment).await.unwrap();
    assert_eq!(updated, created.clone());
    assert_eq!(event_interval(&c.event(&created.id).unwrap()), Some(moved));

    c.strategy.delete_event(&c.expert, &appointment).await.unwrap();
    assert!(c.event(&created.id).is_none());
    c.strategy.delete_event(&c.expert, &appointment).await.unwrap();
    appointment.external_calendar_event_id = Some("AAMkAG-no-such-event".into());
    c.strategy.delete_event(&c.expert, &appointment).await.unwrap();
    assert_eq!(c.fake.request_count("/v1.0/me/events/"), 4, "one PATCH, three DELETEs");

    // An event deleted in Outlook is written again on the next reschedule, under a new
    // transactionId derived from the deleted event.
    appointment.external_calendar_event_id = Some(created.id.clone());
    let rewritten = c.strategy.update_event(&c.expert, &client, &appointment).await.unwrap();
    assert_ne!(rewritten.id, created.id);
    let event = c.event(&rewritten.id).unwrap();
    assert_eq!(event_interval(&event), Some(moved));
    let transaction = event["transactionId"].as_str().unwrap();
    assert!(
        transaction.starts_with(&format!("{}-", appointment.id)),
        "{transaction}"
    );
    let again = c.strategy.update_event(&c.expert, &client, &appointment).await.unwrap();
    assert_eq!(again, rewritten, "the rewrite is idempotent too");
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_consent_needs_reauth() {
    let c = Connected::connected().await;
    let week = hours(monday_after(8), 24 * 7);
    c.strategy.busy_intervals(&c.expert, week).await.unwrap();
    c.fake.revoke_grant();
    let error = c.strategy.busy_intervals(&c.expert, week).await.unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    let state = c.store.integration_state(c.expert.id, OFFICE365);
    assert!(state.needs_reauth);
    assert!(state.last_error.unwrap().contains("invalid_grant"));
    let client = support::client();
    let appointment = c.appointment(&client, hours(week.start() + SignedDuration::from_hours(10), 1));
    let error = c
        .strategy
        .create_event(&c.expert, &client, &appointment)
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");

    // Reconnecting clears it.
    c.connect().await;
    c.strategy.busy_intervals(&c.expert, week).await.unwrap();
    assert!(!c.store.integration_state(c.expert.id, OFFICE365).needs_reauth);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expert_who_never_connected_needs_reauth() {
    let c = Connected::start().await;
    let error = c
        .strategy
        .busy_intervals(&c.expert, hours(monday_after(8), 24))
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::NeedsReauth { .. }), "{error:?}");
    assert_eq!(c.fake.requests().len(), 0);
}

/// Outlook's working hours are offered as a schedule for the expert to review and save (the
/// slots of an Office 365 expert are always the stored hours minus busy time: a slot computed
/// from hours that are not stored could not be booked, since bookings validate against them).
#[tokio::test(flavor = "multi_thread")]
async fn outlook_working_hours_are_offered_as_a_schedule() {
    let c = Connected::connected().await;
    // The fake's default: Monday to Friday 08:00-17:00 "Pacific Standard Time".
    let schedule = c
        .strategy
        .outlook_working_hours(&c.expert, &c.calendar().schedules.default_schedule().hours)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(schedule.zone.name(), "America/Los_Angeles");
    assert_eq!(schedule.rules.len(), 5);
    for rule in &schedule.rules {
        assert_eq!(
            (rule.start_time.to_string().as_str(), rule.end_time.to_string().as_str()),
            ("08:00", "17:00")
        );
        assert!(!matches!(rule.day_of_week.number(), 0 | 6));
    }

    // A zone that is neither Windows nor IANA is refused, not guessed.
    c.fake.set_working_hours(json!({
        "daysOfWeek": ["monday"], "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000",
        "timeZone": {"name": "Customized Time Zone"}
    }));
    let error = c
        .strategy
        .outlook_working_hours(&c.expert, &c.calendar().schedules.default_schedule().hours)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::ProviderResponse { message, .. } if message.contains("Customized Time Zone")),
        "{error:?}"
    );
    let extra = c.strategy.tokens().stored(c.expert.id).await.unwrap().extra;
    let settings = Office365Settings::from_extra(&extra);
    assert_eq!(settings.mailbox.as_deref(), Some("expert@contoso.example"));
    assert!(extra.get("use_outlook_working_hours").is_none(), "{extra}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_builds_it_from_its_parts() {
    use std::sync::Arc;

    use availability_core::domain::{BookingPolicy, IntegrationType};
    use availability_core::InMemoryStore;
    use provider_http::{OAuthApp, TokenManager};
    use provider_office365::{oauth_config, Office365Builder, Office365Error};

    let fake = provider_fakes::FakeGraph::start().await;
    let store = Arc::new(InMemoryStore::new());
    let config = oauth_config(
        fake.client_id(),
        availability_core::domain::Secret::new(fake.client_secret()),
        fake.auth_url(),
        fake.token_url(),
    );
    assert_eq!(config.integration, OFFICE365);
    assert_eq!(
        config.extra_authorize_params,
        [("response_mode".to_owned(), "query".to_owned())]
    );
    assert!(config.scopes_on_token_requests);
    assert_eq!(config.revoke_url, None);
    let app = Arc::new(OAuthApp::new(config.clone()).unwrap());
    let tokens = TokenManager::new(app, store.clone(), store.clone());
    let strategy =
        Office365Builder::from_parts(fake.graph_base(), None, tokens, store.clone(), Some(support::policy()))
            .build()
            .unwrap();
    let expert = support::expert("Europe/Berlin", BookingPolicy::default());
    strategy
        .store_grant(expert.id, token_set(fake.issue_token(&SCOPES), 3599))
        .await
        .unwrap();
    strategy
        .busy_intervals(&expert, hours(monday_after(8), 24))
        .await
        .unwrap();

    // A token manager of another integration is refused.
    let mut google = config;
    google.integration = IntegrationType::from_static("google_calendar");
    let tokens = TokenManager::new(Arc::new(OAuthApp::new(google).unwrap()), store.clone(), store.clone());
    let error = Office365Builder::from_parts(fake.graph_base(), None, tokens, store.clone(), None)
        .build()
        .unwrap_err();
    assert!(
        matches!(error, Office365Error::WrongIntegration(t) if t.as_str() == "google_calendar"),
        "{error}"
    );
    // Without a token manager it needs the app's credentials and a credential store.
    let error = Office365Builder::new().with_integrations(store).build().unwrap_err();
    assert!(matches!(error, Office365Error::Missing(_)), "{error}");
    assert_eq!(
        Office365Builder::new().with_tenant("organizations").token_url(),
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
    );
}

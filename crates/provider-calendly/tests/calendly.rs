//! CalendlyStrategy against FakeCalendly over real HTTP: spans, the past, durations, bookings
//! (taken slots, scheduling links, lookup before retry), cancellation, connecting, webhooks,
//! rate limits and OAuth.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use availability_core::{
    AvailabilityStrategy, CoreError, CredentialRepository, InMemoryStore, ProviderBooking, Scheduler,
};
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::{ExpertId, IntegrationType, Secret};
use provider_calendly::{
    oauth_config, parse_webhook, verify_webhook, BookingOutcome, CalendlyAuth, ConnectError, StoredCalendly,
    WebhookError, WebhookEventKind, SCOPES, SIGNATURE_HEADER,
};
use provider_fakes::calendly::Signature;
use provider_fakes::FakeCalendly;
use provider_http::{OAuthApp, TokenManager, TokenSet};

use common::*;

const CALENDLY: IntegrationType = provider_calendly::INTEGRATION;

fn seed(setup: &Setup, starts: &[Timestamp]) {
    let starts: Vec<String> = starts.iter().map(|t| text(*t)).collect();
    let starts: Vec<&str> = starts.iter().map(String::as_str).collect();
    setup.fake.seed_available_times(&setup.event_type, &starts).unwrap();
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

// --- slots -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_21_day_query_is_exactly_three_requests_of_at_most_seven_days() {
    let setup = connected(30, |b| b).await;
    let from = days_ahead(2);
    let offered = [
        from + hours(10),
        from + hours(8 * 24 + 9),
        from + hours(15 * 24 + 9),
        from + hours(20 * 24 + 23),
    ];
    seed(&setup, &offered);
    setup.fake.clear_requests();
    let window = interval(from, 21 * 24 * 60);
    let slots = setup
        .strategy
        .available_slots(&calendar(&setup.expert, vec![]), &query(window, Timestamp::now(), None))
        .await
        .unwrap();
    assert_eq!(setup.fake.request_count("/event_type_available_times"), 3);
    let mut spans: Vec<(Timestamp, Timestamp)> = queries(&setup.fake, "/event_type_available_times")
        .iter()
        .map(|q| (ts(&param(q, "start_time")), ts(&param(q, "end_time"))))
        .collect();
    spans.sort();
    assert_eq!(spans.first().unwrap().0, from);
    assert_eq!(spans.last().unwrap().1, window.end());
    for pair in spans.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "the requests cover the window without gaps");
    }
    for (start, end) in &spans {
        assert!(end.duration_since(*start) <= hours(7 * 24));
    }
    assert_eq!(slots.iter().map(|s| s.start).collect::<Vec<_>>(), offered.to_vec());
    for slot in &slots {
        assert_eq!(slot.end.duration_since(slot.start), SignedDuration::from_mins(30));
    }
}

#[tokio::test]
async fn the_span_is_a_setting() {
    let setup = connected(30, |b| b.with_max_span_days(31)).await;
    setup.fake.set_max_span_days(31);
    setup.fake.clear_requests();
    let window = interval(days_ahead(2), 21 * 24 * 60);
    setup
        .strategy
        .available_slots(&calendar(&setup.expert, vec![]), &query(window, Timestamp::now(), None))
        .await
        .unwrap();
    assert_eq!(setup.fake.request_count("/event_type_available_times"), 1);
}

#[tokio::test]
async fn available_times_are_never_asked_for_from_the_past() {
    let setup = connected(30, |b| b).await;
    let now = ts("2030-01-07T12:00:00Z");
    setup.fake.set_now(&text(now)).unwrap();
    let offered = [
        ts("2030-01-07T10:00:00Z"),
        ts("2030-01-07T12:00:30Z"),
        ts("2030-01-07T14:00:00Z"),
        ts("2030-01-08T09:00:00Z"),
    ];
    seed(&setup, &offered);
    setup.fake.clear_requests();
    let window = interval(ts("2030-01-07T00:00:00Z"), 2 * 24 * 60);
    let slots = setup
        .strategy
        .available_slots(&calendar(&setup.expert, vec![]), &query(window, now, None))
        .await
        .unwrap();
    assert_eq!(
        slots.iter().map(|s| s.start).collect::<Vec<_>>(),
        vec![offered[2], offered[3]]
    );
    let asked = queries(&setup.fake, "/event_type_available_times");
    assert_eq!(asked.len(), 1);
    assert!(ts(&param(&asked[0], "start_time")) > now);

    // A window wholly in the past asks nothing.
    setup.fake.clear_requests();
    let past = interval(ts("2030-01-06T00:00:00Z"), 24 * 60);
    let slots = setup
        .strategy
        .available_slots(&calendar(&setup.expert, vec![]), &query(past, now, None))
        .await
        .unwrap();
    assert!(slots.is_empty());
    assert_eq!(setup.fake.request_count("/event_type_available_times"), 0);
}

#[tokio::test]
async fn the_duration_is_the_event_types() {
    let setup = connected(30, |b| b).await;
    let window = interval(days_ahead(2), 24 * 60);
    let calendar = calendar(&setup.expert, vec![]);
    let refused = setup
        .strategy
        .available_slots(&calendar, &query(window, Timestamp::now(), Some(45)))
        .await;
    assert_eq!(
        refused,
        Err(CoreError::DurationNotOffered {
            integration: provider_calendly::INTEGRATION,
            offered: 30
        })
    );
    assert!(setup
        .strategy
        .available_slots(&calendar, &query(window, Timestamp::now(), Some(30)))
        .await
        .is_ok());
}

#[tokio::test]
async fn the_experts_confirmed_appointments_are_subtracted() {
    let setup = connected(30, |b| b).await;
    let day = days_ahead(3);
    seed(&setup, &[day + hours(9), day + hours(10), day + hours(11)]);
    let booked = appointment(&setup.expert, &setup.client, interval(day + hours(10), 30));
    let mut cancelled = appointment(&setup.expert, &setup.client, interval(day + hours(11), 30));
    cancelled.status = availability_domain::AppointmentStatus::Cancelled;
    let slots = setup
        .strategy
        .available_slots(
            &calendar(&setup.expert, vec![booked, cancelled]),
            &query(interval(day, 24 * 60), Timestamp::now(), None),
        )
        .await
        .unwrap();
    assert_eq!(
        slots.iter().map(|s| s.start).collect::<Vec<_>>(),
        vec![day + hours(9), day + hours(11)]
    );
}

// --- booking ---------------------------------------------------------------------------------

#[tokio::test]
async fn booking_posts_the_client_at_the_exact_start() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    let appt = appointment(&setup.expert, &setup.client, interval(start, 30));
    let created = setup
        .strategy
        .book(&setup.expert, &setup.client, &appt)
        .await
        .unwrap()
        .event();
    assert!(created.id.contains("/scheduled_events/") && created.id.contains("/invitees/"));
    assert_eq!(invitee_time(&setup.fake, &created.id), Some(interval(start, 30)));
    let invitee = setup.fake.invitees().pop().unwrap();
    assert_eq!(invitee["email"], "ann@example.com");
    assert_eq!(invitee["name"], "Ann Lee");
    assert_eq!(invitee["timezone"], "America/New_York");

    // A booking of another length than the event type's is not a slot.
    let long = appointment(&setup.expert, &setup.client, interval(start, 60));
    assert!(matches!(
        setup.strategy.book(&setup.expert, &setup.client, &long).await,
        Err(CoreError::SlotUnavailable(_))
    ));
    // A time Calendly does not offer is not a slot either.
    let unoffered = appointment(&setup.expert, &setup.client, interval(start + hours(1), 30));
    assert!(matches!(
        setup.strategy.book(&setup.expert, &setup.client, &unoffered).await,
        Err(CoreError::SlotUnavailable(_))
    ));
    assert_eq!(invitee_count(&setup.fake), 1);
}

#[tokio::test]
async fn a_slot_calendly_reports_taken_is_slot_taken_and_nothing_is_booked_twice() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    setup
        .fake
        .book_as_invitee(&setup.event_type, &text(start), "Bob Roe", "bob@example.com", "UTC")
        .unwrap();
    let appt = appointment(&setup.expert, &setup.client, interval(start, 30));
    assert_eq!(
        setup.strategy.book(&setup.expert, &setup.client, &appt).await,
        Err(CoreError::SlotTaken)
    );
    assert_eq!(invitee_count(&setup.fake), 1);
    assert!(!setup.store.integration_state(setup.expert.id, CALENDLY).needs_reauth);
}

#[tokio::test]
async fn booking_the_same_appointment_again_returns_the_first_invitee() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    let mut appt = appointment(&setup.expert, &setup.client, interval(start, 30));
    let first = setup.strategy.book(&setup.expert, &setup.client, &appt).await.unwrap();
    // Retried without the stored id (its answer was lost): already_filled, found as ours.
    let again = setup.strategy.book(&setup.expert, &setup.client, &appt).await.unwrap();
    assert_eq!(first, again);
    // Retried with the stored id: no POST at all.
    let BookingOutcome::Booked { invitee_uri, .. } = &first else {
        panic!("{first:?}");
    };
    appt.external_calendar_event_id = Some(invitee_uri.clone());
    setup.fake.clear_requests();
    assert_eq!(
        setup.strategy.book(&setup.expert, &setup.client, &appt).await.unwrap(),
        first
    );
    assert_eq!(setup.fake.request_count("/invitees"), 0);
    assert_eq!(invitee_count(&setup.fake), 1);
}

#[tokio::test]
async fn without_direct_booking_the_client_gets_a_single_use_scheduling_link() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    setup.fake.set_direct_booking(false);
    let appt = appointment(&setup.expert, &setup.client, interval(start, 30));
    let outcome = setup.strategy.book(&setup.expert, &setup.client, &appt).await.unwrap();
    let BookingOutcome::SchedulingLink { booking_url } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(booking_url.starts_with(&setup.fake.api_base()), "{booking_url}");
    let link = setup
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/scheduling_links")
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&link.body).unwrap();
    assert_eq!(body["max_event_count"], 1);
    assert_eq!(body["owner"], setup.event_type.as_str());
    assert_eq!(body["owner_type"], "EventType");
    assert_eq!(invitee_count(&setup.fake), 0);
    // What the service books through: pending at a new single-use link, nothing booked.
    let pending = Scheduler::book(setup.strategy.as_ref(), &setup.expert, &setup.client, &appt)
        .await
        .unwrap();
    let ProviderBooking::Pending { scheduling_url } = pending else {
        panic!("{pending:?}");
    };
    assert!(
        scheduling_url.starts_with(&format!("{}/d/", setup.fake.api_base())),
        "{scheduling_url}"
    );
    assert_eq!(setup.fake.scheduling_links().len(), 2, "one link per booking attempt");
    assert_eq!(invitee_count(&setup.fake), 0);
    // With direct booking allowed again, the same call books.
    setup.fake.set_direct_booking(true);
    let booked = Scheduler::book(setup.strategy.as_ref(), &setup.expert, &setup.client, &appt)
        .await
        .unwrap();
    assert!(
        matches!(&booked, ProviderBooking::Booked(event) if event.id.contains("/invitees/")),
        "{booked:?}"
    );
    assert_eq!(invitee_count(&setup.fake), 1);
}

#[tokio::test]
async fn after_a_5xx_the_invitee_is_looked_for_before_posting_again() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    // The first POST booked, but its answer was a 503: simulated by booking the client on
    // Calendly, then failing the strategy's POST.
    let booked = setup
        .fake
        .book_as_invitee(
            &setup.event_type,
            &text(start),
            &setup.client.name,
            &setup.client.email,
            setup.client.timezone.name(),
        )
        .unwrap();
    setup.fake.clear_requests();
    setup.fake.fail_next(1, 503);
    let appt = appointment(&setup.expert, &setup.client, interval(start, 30));
    let outcome = setup.strategy.book(&setup.expert, &setup.client, &appt).await.unwrap();
    assert!(matches!(&outcome, BookingOutcome::Booked { invitee_uri, .. } if *invitee_uri == booked));
    assert_eq!(setup.fake.request_count("/invitees"), 1, "the POST is not repeated");
    assert_eq!(invitee_count(&setup.fake), 1, "nothing is booked twice");
    let lookup = queries(&setup.fake, "/scheduled_events");
    assert_eq!(param(&lookup[0], "invitee_email"), "ann%40example.com");
    assert_eq!(ts(&param(&lookup[0], "min_start_time")), start);
}

#[tokio::test]
async fn after_a_5xx_with_nothing_booked_the_post_is_sent_once_more() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    setup.fake.clear_requests();
    setup.fake.fail_next(1, 500);
    let appt = appointment(&setup.expert, &setup.client, interval(start, 30));
    let outcome = setup.strategy.book(&setup.expert, &setup.client, &appt).await.unwrap();
    assert!(matches!(outcome, BookingOutcome::Booked { .. }));
    assert_eq!(setup.fake.request_count("/invitees"), 2);
    assert_eq!(setup.fake.request_count("/scheduled_events"), 1, "looked for first");
    assert_eq!(invitee_count(&setup.fake), 1);

    // Calendly down for good: unavailable, after looking, without a third POST.
    setup.fake.clear_requests();
    setup.fake.fail_next(100, 503);
    let other = appointment(&setup.expert, &setup.client, interval(start + hours(1), 30));
    assert!(matches!(
        setup.strategy.book(&setup.expert, &setup.client, &other).await,
        Err(CoreError::ProviderUnavailable { .. })
    ));
    assert_eq!(setup.fake.request_count("/invitees"), 1);
}

// --- cancelling ------------------------------------------------------------------------------

#[tokio::test]
async fn cancelling_twice_is_success() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    let mut appt = appointment(&setup.expert, &setup.client, interval(start, 30));
    let created = setup
        .strategy
        .book(&setup.expert, &setup.client, &appt)
        .await
        .unwrap()
        .event();
    appt.external_calendar_event_id = Some(created.id.clone());
    appt.cancellation_reason = Some("the client is ill".into());
    setup.strategy.cancel(&setup.expert, &appt).await.unwrap();
    assert_eq!(invitee_time(&setup.fake, &created.id), None);
    let cancellation = setup
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/cancellation"))
        .unwrap();
    assert!(cancellation.body.contains("the client is ill"));
    setup.strategy.cancel(&setup.expert, &appt).await.unwrap();

    // Nothing stored: nothing to cancel, nothing asked.
    setup.fake.clear_requests();
    let unsynced = appointment(&setup.expert, &setup.client, interval(start, 30));
    setup.strategy.cancel(&setup.expert, &unsynced).await.unwrap();
    assert!(setup.fake.requests().is_empty());
}

#[tokio::test]
async fn an_invitee_cancelled_on_calendly_is_cancelled() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    let uri = setup
        .fake
        .book_as_invitee(&setup.event_type, &text(start), "Ann Lee", "ann@example.com", "UTC")
        .unwrap();
    setup.fake.cancel_as_invitee(&uri, "changed my mind").unwrap();
    let mut appt = appointment(&setup.expert, &setup.client, interval(start, 30));
    appt.external_calendar_event_id = Some(uri);
    setup.strategy.cancel(&setup.expert, &appt).await.unwrap();
}

/// Calendly has no reschedule API: the strategy is a scheduler without an event writer, so the
/// service refuses to move its bookings (the conformance suite checks that refusal).
#[tokio::test]
async fn rescheduling_is_not_offered() {
    let setup = connected(30, |b| b).await;
    assert!(setup.strategy.scheduler().is_some());
    assert!(setup.strategy.event_writer().is_none() && setup.strategy.busy_time().is_none());
}

// --- connecting ------------------------------------------------------------------------------

async fn bare() -> (FakeCalendly, Arc<InMemoryStore>, provider_calendly::CalendlyStrategy) {
    let fake = FakeCalendly::start().await;
    let store = Arc::new(InMemoryStore::new());
    let strategy = builder(&fake, &store).build().unwrap();
    (fake, store, strategy)
}

#[tokio::test]
async fn connecting_with_a_token_follows_the_api_rules() {
    let (fake, _store, strategy) = bare().await;
    let expert = ExpertId::new();
    let token = || Secret::new(fake.personal_access_token(&SCOPES));

    let refused = strategy
        .connect_with_token(expert, Secret::new("not-a-token".into()), None)
        .await
        .unwrap_err();
    assert!(matches!(refused, ConnectError::InvalidToken { .. }), "{refused:?}");
    assert!(matches!(CoreError::from(refused.clone()), CoreError::InvalidToken(_)));
    assert!(!refused.to_string().contains("not-a-token"));
    assert!(matches!(
        strategy
            .check_personal_access_token(&Secret::new("not-a-token".into()))
            .await,
        Err(ConnectError::InvalidToken { .. })
    ));

    // No active event type.
    assert_eq!(
        strategy.connect_with_token(expert, token(), None).await.unwrap_err(),
        ConnectError::EventTypeRequired { count: 0 }
    );
    // Exactly one active (an inactive one does not count): chosen automatically.
    let inactive = fake.add_event_type("Old", 15);
    fake.set_event_type_active(&inactive, false).unwrap();
    let only = fake.add_event_type("Intro call", 45);
    let stored = strategy.connect_with_token(expert, token(), None).await.unwrap();
    let chosen = stored.event_type.clone().unwrap();
    assert_eq!((chosen.uri.as_str(), chosen.duration_minutes), (only.as_str(), 45));
    assert_eq!(stored.user_uri, fake.user_uri());
    assert_eq!(stored.organization_uri, fake.organization_uri());
    assert_eq!(stored.account.as_deref(), Some("ada@calendly.example"));
    assert_eq!(stored.kind(), "personal_access_token");
    // Two active: one must be named, and it must be one of them.
    let second = fake.add_event_type("Deep dive", 90);
    assert_eq!(
        strategy.connect_with_token(expert, token(), None).await.unwrap_err(),
        ConnectError::EventTypeRequired { count: 2 }
    );
    let stored = strategy
        .connect_with_token(expert, token(), Some(second.clone()))
        .await
        .unwrap();
    assert_eq!(stored.event_type.unwrap().duration_minutes, 90);
    for unknown in [format!("{}/event_types/nope", fake.api_base()), inactive] {
        assert_eq!(
            strategy
                .connect_with_token(expert, token(), Some(unknown))
                .await
                .unwrap_err(),
            ConnectError::UnknownEventType
        );
    }
    // A token without event_types:read is refused too.
    let narrow = Secret::new(fake.personal_access_token(&["availability:read"]));
    assert!(matches!(
        strategy.connect_with_token(expert, narrow, None).await,
        Err(ConnectError::InvalidToken { .. })
    ));
}

#[tokio::test]
async fn connecting_subscribes_the_webhook_once_and_disconnecting_removes_it() {
    let fake = FakeCalendly::start().await;
    fake.add_event_type("Consultation", 30);
    let store = Arc::new(InMemoryStore::new());
    let url = "https://booking.example/webhooks/calendly";
    let strategy = builder(&fake, &store)
        .with_webhook(url, Secret::new("signing-key-1".into()))
        .build()
        .unwrap();
    let expert = ExpertId::new();
    let token = || Secret::new(fake.personal_access_token(&SCOPES));
    let stored = strategy.connect_with_token(expert, token(), None).await.unwrap();
    let subscriptions = fake.webhook_subscriptions();
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].url, url);
    assert_eq!(subscriptions[0].signing_key, "signing-key-1");
    assert_eq!(subscriptions[0].scope, "user");
    assert_eq!(subscriptions[0].events, vec!["invitee.created", "invitee.canceled"]);
    assert_eq!(
        stored.webhook_subscription_uri.as_deref(),
        Some(subscriptions[0].uri.as_str())
    );
    // Connecting again: 409, the existing subscription is reused.
    let again = strategy.connect_with_token(expert, token(), None).await.unwrap();
    assert_eq!(again.webhook_subscription_uri, stored.webhook_subscription_uri);
    assert_eq!(fake.webhook_subscriptions().len(), 1);

    strategy.save(expert, &again).await.unwrap();
    assert!(strategy.disconnect(expert).await.unwrap().is_some());
    assert!(fake.webhook_subscriptions().is_empty());
    assert!(store.load(expert, CALENDLY).await.unwrap().is_none());
    assert!(strategy.disconnect(expert).await.unwrap().is_none(), "idempotent");
}

#[tokio::test]
async fn a_revoked_token_needs_reauth_and_says_so() {
    let setup = connected(30, |b| b).await;
    setup.fake.revoke_grant();
    let got = setup
        .strategy
        .available_slots(
            &calendar(&setup.expert, vec![]),
            &query(interval(days_ahead(2), 24 * 60), Timestamp::now(), None),
        )
        .await;
    assert!(matches!(got, Err(CoreError::NeedsReauth { .. })), "{got:?}");
    assert!(setup.store.integration_state(setup.expert.id, CALENDLY).needs_reauth);
    let unknown = ExpertId::new();
    assert!(matches!(
        setup
            .strategy
            .scheduled_event(unknown, "https://x/scheduled_events/E")
            .await,
        Err(CoreError::NeedsReauth { .. })
    ));
}

#[tokio::test]
async fn an_unreadable_credential_needs_reauth() {
    let setup = connected(30, |b| b).await;
    setup
        .store
        .save(
            setup.expert.id,
            CALENDLY,
            Secret::new("{\"kind\":\"personal_access_token\"}".into()),
        )
        .await
        .unwrap();
    let got = setup
        .strategy
        .available_slots(
            &calendar(&setup.expert, vec![]),
            &query(interval(days_ahead(2), 24 * 60), Timestamp::now(), None),
        )
        .await;
    assert!(matches!(got, Err(CoreError::NeedsReauth { .. })), "{got:?}");
    assert!(setup.store.integration_state(setup.expert.id, CALENDLY).needs_reauth);
}

// --- webhooks --------------------------------------------------------------------------------

#[tokio::test]
async fn webhook_deliveries_are_verified_before_they_are_read() {
    let setup = connected(30, |b| b).await;
    let start = days_ahead(3) + hours(9);
    seed(&setup, &[start]);
    let uri = setup
        .fake
        .book_as_invitee(
            &setup.event_type,
            &text(start),
            "Ann Lee",
            "ann@example.com",
            "Europe/Berlin",
        )
        .unwrap();
    let key = "webhook-signing-key";
    // Any receiver will do: the delivery reports what was sent.
    let sink = format!("{}/webhook-sink", setup.fake.api_base());
    let deliver = |signature| {
        let fake = setup.fake.clone();
        let (sink, uri) = (sink.clone(), uri.clone());
        async move {
            fake.deliver_webhook(&sink, key, "invitee.created", &uri, signature)
                .await
                .unwrap()
        }
    };
    let check = |delivery: &provider_fakes::calendly::Delivery| {
        verify_webhook(
            key.as_bytes(),
            delivery.signature_header.as_deref(),
            &delivery.body,
            Timestamp::now(),
        )
    };

    let valid = deliver(Signature::Valid).await;
    assert_eq!(check(&valid), Ok(()));
    assert_eq!(
        check(&deliver(Signature::WrongKey).await),
        Err(WebhookError::InvalidSignature)
    );
    assert_eq!(
        check(&deliver(Signature::AlteredBody).await),
        Err(WebhookError::InvalidSignature)
    );
    assert!(matches!(
        check(&deliver(Signature::Stale).await),
        Err(WebhookError::StaleSignature { .. })
    ));
    assert_eq!(
        check(&deliver(Signature::Missing).await),
        Err(WebhookError::MissingSignature)
    );
    assert_eq!(SIGNATURE_HEADER, "Calendly-Webhook-Signature");

    let event = parse_webhook(&valid.body).unwrap();
    assert_eq!(event.event, WebhookEventKind::Created);
    assert_eq!(event.invitee_uri, uri);
    assert_eq!(event.email, "ann@example.com");
    assert_eq!(event.name, "Ann Lee");
    assert_eq!(event.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(event.start_time, Some(start));
    assert_eq!(event.user_uri.as_deref(), Some(setup.fake.user_uri().as_str()));
    assert_eq!(event.event_type_uri.as_deref(), Some(setup.event_type.as_str()));

    setup.fake.cancel_as_invitee(&uri, "something came up").unwrap();
    let canceled = setup.fake.webhook_payload("invitee.canceled", &uri).unwrap();
    let event = parse_webhook(&serde_json::to_vec(&canceled).unwrap()).unwrap();
    assert_eq!(event.event, WebhookEventKind::Canceled);
    assert_eq!(event.cancellation_reason.as_deref(), Some("something came up"));

    // Without scheduled_event in the payload, the time is looked up.
    let mut bare = setup.fake.webhook_payload("invitee.created", &uri).unwrap();
    bare["payload"].as_object_mut().unwrap().remove("scheduled_event");
    let event = parse_webhook(&serde_json::to_vec(&bare).unwrap()).unwrap();
    assert_eq!(event.start_time, None);
    assert_eq!(
        setup
            .strategy
            .webhook_event_time(setup.expert.id, &event)
            .await
            .unwrap(),
        interval(start, 30)
    );
    let scheduled = setup
        .strategy
        .scheduled_event(setup.expert.id, &event.event_uri)
        .await
        .unwrap();
    assert!(!scheduled.active);
}

// --- rate limits -----------------------------------------------------------------------------

#[tokio::test]
async fn a_429_waits_for_x_ratelimit_reset() {
    let setup = connected(30, |b| b).await;
    setup.fake.set_rate_limit(10_000, 1);
    setup.fake.throttle_next(1);
    setup.fake.clear_requests();
    let began = Instant::now();
    setup
        .strategy
        .available_slots(
            &calendar(&setup.expert, vec![]),
            &query(interval(days_ahead(2), 24 * 60), Timestamp::now(), None),
        )
        .await
        .unwrap();
    assert!(began.elapsed() >= Duration::from_millis(950), "{:?}", began.elapsed());
    assert_eq!(setup.fake.request_count("/event_type_available_times"), 2);
}

#[tokio::test]
async fn a_reset_beyond_the_budget_is_unavailable_at_once() {
    let setup = connected(30, |b| b).await;
    // The default window is 60 s: the reset lies beyond the 3 s budget.
    setup.fake.throttle_next(1);
    setup.fake.clear_requests();
    let began = Instant::now();
    let got = setup
        .strategy
        .available_slots(
            &calendar(&setup.expert, vec![]),
            &query(interval(days_ahead(2), 24 * 60), Timestamp::now(), None),
        )
        .await;
    assert!(matches!(got, Err(CoreError::ProviderUnavailable { .. })), "{got:?}");
    assert!(began.elapsed() < Duration::from_secs(1));
    assert_eq!(setup.fake.request_count("/event_type_available_times"), 1);
    assert!(setup
        .store
        .integration_state(setup.expert.id, CALENDLY)
        .last_error
        .is_some());
}

// --- OAuth -----------------------------------------------------------------------------------

fn token_set(fake: &FakeCalendly) -> TokenSet {
    let issued = fake.issue_token(&SCOPES);
    TokenSet {
        access_token: Secret::new(issued.access_token),
        refresh_token: issued.refresh_token.map(Secret::new),
        expires_at: Timestamp::now() + hours(2),
        scope: None,
        response_fields: Default::default(),
    }
}

#[tokio::test]
async fn oauth_connections_refresh_and_choose_their_event_type_later() {
    let fake = FakeCalendly::start().await;
    let first = fake.add_event_type("Consultation", 30);
    let second = fake.add_event_type("Deep dive", 60);
    let store = Arc::new(InMemoryStore::new());
    let config = oauth_config(
        fake.client_id(),
        Secret::new(fake.client_secret()),
        fake.auth_url(),
        fake.token_url(),
        Some(fake.revoke_url()),
    );
    let app = OAuthApp::with_policy(config, fast_policy()).unwrap();
    let tokens = TokenManager::new(Arc::new(app), store.clone(), store.clone());
    let strategy = builder(&fake, &store).with_token_manager(tokens).build().unwrap();
    let expert = expert("Europe/Berlin", Default::default());

    let stored = strategy.connect_oauth(expert.id, token_set(&fake)).await.unwrap();
    assert_eq!(stored.kind(), "oauth");
    assert_eq!(stored.event_type, None, "two active event types: the expert chooses");
    strategy.save(expert.id, &stored).await.unwrap();
    let day = days_ahead(3);
    fake.seed_available_times(&first, &[&text(day + hours(9))]).unwrap();
    let slot_calendar = calendar(&expert, vec![]);
    let slot_query = query(interval(day, 24 * 60), Timestamp::now(), None);
    let ask = || strategy.available_slots(&slot_calendar, &slot_query);
    assert!(matches!(ask().await, Err(CoreError::NeedsReauth { .. })));
    assert_eq!(
        strategy.select_event_type(expert.id, "nope").await.unwrap_err(),
        ConnectError::UnknownEventType
    );
    let chosen = strategy.select_event_type(expert.id, &first).await.unwrap();
    assert_eq!(chosen.event_type.unwrap().duration_minutes, 30);
    assert_eq!(ask().await.unwrap().len(), 1);

    // An access token Calendly stops accepting is refreshed once (HTTP Basic), and the new
    // single-use refresh token is stored.
    fake.expire_access_tokens();
    assert_eq!(ask().await.unwrap().len(), 1);
    let refreshes = fake.token_requests();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].param("grant_type"), Some("refresh_token"));
    assert!(refreshes[0].basic_auth.is_some());
    let now_stored = StoredCalendly::from_credential(&store.load(expert.id, CALENDLY).await.unwrap().unwrap()).unwrap();
    let CalendlyAuth::OAuth(grant) = &now_stored.auth else {
        panic!("{now_stored:?}");
    };
    assert_ne!(
        grant.refresh_token.as_ref().map(|t| t.expose().clone()),
        stored_refresh(&stored)
    );
    assert_eq!(now_stored.event_type.map(|t| t.uri), Some(first.clone()));

    // A revoked grant: the refresh fails with invalid_grant, needs_reauth.
    fake.revoke_grant();
    assert!(matches!(ask().await, Err(CoreError::NeedsReauth { .. })));
    assert!(store.integration_state(expert.id, CALENDLY).needs_reauth);
    let _ = second;
}

fn stored_refresh(stored: &StoredCalendly) -> Option<String> {
    match &stored.auth {
        CalendlyAuth::OAuth(grant) => grant.refresh_token.as_ref().map(|t| t.expose().clone()),
        CalendlyAuth::PersonalAccessToken(_) => None,
    }
}

#[tokio::test]
async fn busy_time_comes_from_user_busy_times_in_weeks() {
    let setup = connected(30, |b| b).await;
    let day = days_ahead(3);
    seed(&setup, &[day + hours(9)]);
    setup
        .fake
        .book_as_invitee(
            &setup.event_type,
            &text(day + hours(9)),
            "Bob Roe",
            "bob@example.com",
            "UTC",
        )
        .unwrap();
    setup
        .fake
        .seed_external_busy(&text(day + hours(8 * 24 + 13)), &text(day + hours(8 * 24 + 15)))
        .unwrap();
    setup.fake.clear_requests();
    let busy = setup
        .strategy
        .busy_intervals(&setup.expert, interval(day, 10 * 24 * 60))
        .await
        .unwrap();
    assert_eq!(
        busy,
        vec![interval(day + hours(9), 30), interval(day + hours(8 * 24 + 13), 120)]
    );
    assert_eq!(setup.fake.request_count("/user_busy_times"), 2);
}

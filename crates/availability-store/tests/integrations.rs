//! Credentials at rest, OAuth states and the outbox, on SQLite and (when TEST_DATABASE_URL is set)
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use availability_core::domain::jiff::{SignedDuration, Timestamp};
use availability_core::domain::{
    BookingPolicy, DayOfWeek, IntegrationType, Interval, NewAppointment, Secret, SyncStatus, VideoPolicy, WeeklyRule,
    Zone,
};
use availability_core::{
    AppointmentRepository, BookingGuard, CoreError, CredentialRepository, IntegrationRepository, Meeting,
};
use availability_store::crypto::Keyring;
use availability_store::{testing, Store};

const KEY_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const KEY_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const TOKEN: &str = "ya29.plaintext-access-token-that-must-never-be-stored";

async fn open(url: &str, current: &str, old: &str) -> Store {
    Store::open(url)
        .await
        .unwrap()
        .with_keyring(Keyring::new(Some(current), old).unwrap())
}

fn credential() -> Secret<String> {
    Secret::new(format!(r#"{{"access_token":"{TOKEN}","refresh_token":"1//refresh"}}"#))
}

#[tokio::test]
async fn credentials_are_encrypted_and_rotate_with_the_key() {
    for url in testing::database_urls("credentials_are_encrypted_and_rotate_with_the_key").unwrap() {
        let store = open(&url, KEY_A, "").await;
        let expert = store
            .create_expert("E".into(), "e@x.com".into(), Zone::utc())
            .await
            .unwrap();
        store
            .connect_integration(
                expert.id,
                IntegrationType::from_static("google_calendar"),
                credential(),
                Some("e@gmail.com".into()),
                "{}".into(),
            )
            .await
            .unwrap();
        let dump = testing::dump_credentials(&store).await.unwrap();
        assert_eq!(dump.len(), 1);
        assert!(
            !dump[0].contains("ya29") && !dump[0].contains("refresh"),
            "no token in plain text: {}",
            dump[0]
        );
        let loaded = CredentialRepository::load(&store, expert.id, IntegrationType::from_static("google_calendar"))
            .await
            .unwrap();
        assert_eq!(loaded.unwrap().expose(), credential().expose());

        // Rotate: B is current, A only decrypts. Everything keeps working, and reencrypt moves it to B.
        let rotated = open(&url, KEY_B, KEY_A).await;
        assert!(
            CredentialRepository::load(&rotated, expert.id, IntegrationType::from_static("google_calendar"))
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(rotated.reencrypt_credentials().await.unwrap(), (1, vec![]));
        let only_b = open(&url, KEY_B, "").await;
        assert_eq!(
            CredentialRepository::load(&only_b, expert.id, IntegrationType::from_static("google_calendar"))
                .await
                .unwrap()
                .unwrap()
                .expose(),
            credential().expose()
        );
        assert_eq!(
            only_b.reencrypt_credentials().await.unwrap(),
            (0, vec![]),
            "nothing left to rewrite"
        );
    }
}

#[tokio::test]
async fn a_flipped_byte_is_a_clear_error_and_needs_reauth() {
    for url in testing::database_urls("a_flipped_byte_is_a_clear_error_and_needs_reauth").unwrap() {
        let store = open(&url, KEY_A, "").await;
        let expert = store
            .create_expert("E".into(), "e@x.com".into(), Zone::utc())
            .await
            .unwrap();
        store
            .connect_integration(
                expert.id,
                IntegrationType::from_static("office365_calendar"),
                credential(),
                None,
                "{}".into(),
            )
            .await
            .unwrap();
        testing::flip_credential_byte(&store, expert.id, IntegrationType::from_static("office365_calendar"))
            .await
            .unwrap();
        let got =
            CredentialRepository::load(&store, expert.id, IntegrationType::from_static("office365_calendar")).await;
        assert!(matches!(got, Err(CoreError::NeedsReauth { .. })), "{got:?}");
        let list = store.integrations(expert.id).await.unwrap();
        assert_eq!(list[0].status, "needs_reauth");
        assert!(list[0].last_error.as_deref().unwrap().contains("cannot be decrypted"));
        // reencrypt reports it, leaves it, and says so.
        let rotated = open(&url, KEY_B, KEY_A).await;
        let (rewritten, failed) = rotated.reencrypt_credentials().await.unwrap();
        assert_eq!((rewritten, failed.len()), (0, 1));
    }
}

#[tokio::test]
async fn status_success_failure_and_disconnect() {
    for url in testing::database_urls("status_success_failure_and_disconnect").unwrap() {
        let store = open(&url, KEY_A, "").await;
        let expert = store
            .create_expert("E".into(), "e@x.com".into(), Zone::utc())
            .await
            .unwrap();
        let google = IntegrationType::from_static("google_calendar");
        store
            .connect_integration(expert.id, google, credential(), Some("e@gmail.com".into()), "{}".into())
            .await
            .unwrap();
        store.set_integration(expert.id, google).await.unwrap();
        store
            .record_failure(expert.id, google, "freeBusy answered 500")
            .await
            .unwrap();
        assert_eq!(
            store.integrations(expert.id).await.unwrap()[0].last_error.as_deref(),
            Some("freeBusy answered 500")
        );
        store.record_success(expert.id, google).await.unwrap();
        assert_eq!(store.integrations(expert.id).await.unwrap()[0].last_error, None);
        store
            .mark_needs_reauth(expert.id, google, "invalid_grant")
            .await
            .unwrap();
        assert_eq!(store.integrations(expert.id).await.unwrap()[0].status, "needs_reauth");
        // Reconnecting clears it.
        store
            .connect_integration(expert.id, google, credential(), None, "{}".into())
            .await
            .unwrap();
        assert_eq!(store.integrations(expert.id).await.unwrap()[0].status, "connected");

        let wiped = store.disconnect_integration(expert.id, google).await.unwrap();
        assert_eq!(
            wiped.unwrap().expose(),
            credential().expose(),
            "the wiped credential comes back for revoking"
        );
        assert!(store.integrations(expert.id).await.unwrap().is_empty());
        assert_eq!(
            store.expert(expert.id).await.unwrap().integration_type,
            IntegrationType::MANUAL
        );
        assert!(CredentialRepository::load(&store, expert.id, google)
            .await
            .unwrap()
            .is_none());
        assert!(
            store.disconnect_integration(expert.id, google).await.unwrap().is_none(),
            "idempotent"
        );
    }
}

#[tokio::test]
async fn oauth_states_are_single_use_bound_and_hashed() {
    for url in testing::database_urls("oauth_states_are_single_use_bound_and_hashed").unwrap() {
        let store = open(&url, KEY_A, "").await;
        let expert = store
            .create_expert("E".into(), "e@x.com".into(), Zone::utc())
            .await
            .unwrap();
        let google = IntegrationType::from_static("google_calendar");
        let state = "state-with-128-bits-of-randomness-abcdef";
        let start = |state: &str, binding: &str, ticket: &str| availability_store::OAuthStart {
            state: Secret::new(state.into()),
            expert: expert.id,
            integration: google,
            verifier: Secret::new("verifier".into()),
            binding: Secret::new(binding.into()),
            ticket: Secret::new(ticket.into()),
            authorization_url: Secret::new(format!("https://auth.example/?state={state}")),
        };
        store
            .save_oauth_state(start(state, "binding-of-browser-a", "ticket-one"))
            .await
            .unwrap();
        assert!(
            store
                .consume_oauth_state(
                    state.into(),
                    IntegrationType::from_static("office365_calendar"),
                    "binding-of-browser-a".into()
                )
                .await
                .unwrap()
                .is_none(),
            "another integration's callback"
        );
        assert!(
            store
                .consume_oauth_state(state.into(), google, "binding-of-browser-b".into())
                .await
                .unwrap()
                .is_none(),
            "another browser's callback"
        );
        assert!(
            store
                .consume_oauth_state(state.into(), google, String::new())
                .await
                .unwrap()
                .is_none(),
            "a callback without the binding"
        );
        let (who, verifier) = store
            .consume_oauth_state(state.into(), google, "binding-of-browser-a".into())
            .await
            .unwrap()
            .expect("the browser that began it, after the refusals above");
        assert_eq!((who, verifier.expose().as_str()), (expert.id, "verifier"));
        assert!(
            store
                .consume_oauth_state(state.into(), google, "binding-of-browser-a".into())
                .await
                .unwrap()
                .is_none(),
            "used twice"
        );
        assert!(store
            .consume_oauth_state("unknown".into(), google, "binding-of-browser-a".into())
            .await
            .unwrap()
            .is_none());

        // A start ticket moves the binding to the browser that opens it, once.
        let second = "second-state-with-128-bits-of-randomness";
        store
            .save_oauth_state(start(second, "binding-of-the-backend", "ticket-two"))
            .await
            .unwrap();
        let office = IntegrationType::from_static("office365_calendar");
        assert!(store
            .take_oauth_ticket("ticket-two".into(), office, Secret::new("x".into()))
            .await
            .unwrap()
            .is_none());
        let url = store
            .take_oauth_ticket("ticket-two".into(), google, Secret::new("binding-of-browser-c".into()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(url.expose(), &format!("https://auth.example/?state={second}"));
        assert!(
            store
                .take_oauth_ticket("ticket-two".into(), google, Secret::new("binding-of-browser-d".into()))
                .await
                .unwrap()
                .is_none(),
            "a ticket works once"
        );
        assert!(store
            .consume_oauth_state(second.into(), google, "binding-of-the-backend".into())
            .await
            .unwrap()
            .is_none());
        assert!(store
            .consume_oauth_state(second.into(), google, "binding-of-browser-c".into())
            .await
            .unwrap()
            .is_some());
        let stored = testing::dump_oauth_states(&store).await.unwrap();
        assert!(
            stored
                .iter()
                .all(|s| !s.contains(state) && !s.contains(second) && !s.contains("verifier")),
            "{stored:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_of_calendar_experts_queue_one_sync_job_each_claimed_once() {
    for url in testing::database_urls("bookings_of_calendar_experts_queue_one_sync_job_each_claimed_once").unwrap() {
        let store = Arc::new(open(&url, KEY_A, "").await);
        let expert = store
            .create_expert("E".into(), "e@x.com".into(), Zone::utc())
            .await
            .unwrap();
        let rules = (0..7)
            .map(|d| {
                WeeklyRule::new(
                    DayOfWeek::new(d).unwrap(),
                    "00:00".parse().unwrap(),
                    "24:00".parse().unwrap(),
                    true,
                )
                .unwrap()
            })
            .collect();
        store.replace_schedule(expert.id, rules, vec![], None).await.unwrap();
        store
            .connect_integration(
                expert.id,
                IntegrationType::from_static("google_calendar"),
                credential(),
                None,
                "{}".into(),
            )
            .await
            .unwrap();
        store
            .set_integration(expert.id, IntegrationType::from_static("google_calendar"))
            .await
            .unwrap();
        let client = store
            .create_client("C".into(), "c@x.com".into(), Zone::utc())
            .await
            .unwrap();
        let now = Timestamp::now();
        let guard = BookingGuard {
            external_busy: vec![],
            now,
            integration: IntegrationType::from_static("google_calendar"),
            calendar_type: Some(availability_domain::CalendarType::from_static("google")),
            meeting_url: None,
            meeting_error: None,
            hold: None,
        };
        let mut ids = Vec::new();
        for i in 1..=3 {
            let start = Timestamp::from_second((now.as_second() / 3600 + 24 + i) * 3600).unwrap();
            let time = Interval::new(start, start + SignedDuration::from_mins(30)).unwrap();
            let a = AppointmentRepository::book(
                &*store,
                NewAppointment {
                    expert_id: expert.id,
                    client_id: client.id,
                    time,
                },
                guard.clone(),
            )
            .await
            .unwrap();
            assert_eq!(a.sync_status, SyncStatus::Pending);
            ids.push(a.id);
        }
        assert_eq!(store.pending_sync_jobs().await.unwrap(), 3);
        // Four workers claim at once: every job is claimed exactly once.
        let claims: Vec<_> = (0..4)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { s.claim_sync_jobs(10).await.unwrap() })
            })
            .collect();
        let mut claimed = Vec::new();
        for c in claims {
            claimed.extend(c.await.unwrap());
        }
        let mut got: Vec<_> = claimed.iter().map(|j| j.appointment_id).collect();
        got.sort();
        ids.sort();
        assert_eq!(got, ids, "each job claimed by exactly one worker");
        assert!(
            store.claim_sync_jobs(10).await.unwrap().is_empty(),
            "leased jobs are not claimed again"
        );

        // One succeeds; one fails and is retried later; one changes while it runs.
        let (first, second, third) = (claimed[0].clone(), claimed[1].clone(), claimed[2].clone());
        store.sync_succeeded(first.clone(), Some("evt1".into())).await.unwrap();
        let a = store.appointment(first.appointment_id).await.unwrap();
        assert_eq!(
            (a.sync_status, a.external_calendar_event_id.as_deref()),
            (SyncStatus::Synced, Some("evt1"))
        );
        // Retried in an hour: far beyond anything this test waits, however slow the machine.
        assert!(!store
            .sync_failed(second.clone(), "500 from provider".into(), 3600)
            .await
            .unwrap());
        AppointmentRepository::cancel(
            &*store,
            third.appointment_id,
            availability_core::domain::CancelledBy::Client,
            None,
        )
        .await
        .unwrap();
        store.sync_succeeded(third.clone(), Some("evt3".into())).await.unwrap();
        assert_eq!(
            store.appointment(third.appointment_id).await.unwrap().sync_status,
            SyncStatus::Pending,
            "the cancel still has to be synced"
        );
        let again = store.claim_sync_jobs(10).await.unwrap();
        assert_eq!(
            again.iter().map(|j| j.appointment_id).collect::<Vec<_>>(),
            vec![third.appointment_id],
            "the changed one runs again at once; the failed one waits"
        );
        let _ = CoreError::SlotTaken;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_policies_and_meetings_that_are_still_being_made() {
    for url in testing::database_urls("video_policies_and_meetings_that_are_still_being_made").unwrap() {
        let store = Arc::new(open(&url, KEY_A, "").await);
        let google = IntegrationType::from_static("google_calendar");
        let expert = store
            .create_expert("E".into(), "e@x.com".into(), Zone::utc())
            .await
            .unwrap();
        let provider = BookingPolicy::default().with_video(VideoPolicy::Provider);
        // Hours typed in make no meetings: refused by the write, nothing changes.
        let refused = store
            .set_booking_policy_with_video(expert.id, provider.clone(), vec![google])
            .await
            .unwrap();
        assert!(refused.is_none(), "{url}");
        assert_eq!(
            store.expert(expert.id).await.unwrap().booking_policy,
            BookingPolicy::default()
        );
        store.set_integration(expert.id, google).await.unwrap();
        let stored = store
            .set_booking_policy_with_video(expert.id, provider.clone(), vec![google])
            .await
            .unwrap()
            .expect("Google makes meetings");
        assert_eq!(stored.booking_policy, provider);
        // Back to hours typed in while the policy asks for meetings: refused, nothing changes.
        let switch = store
            .switch_integration(expert.id, IntegrationType::MANUAL, false)
            .await
            .unwrap();
        assert!(switch.is_none(), "{url}");
        let kept = store.expert(expert.id).await.unwrap();
        assert_eq!(
            (kept.integration_type, kept.booking_policy.clone()),
            (google, provider.clone())
        );
        // A room of the expert's own reads back as it was written.
        let room = VideoPolicy::parse(Some("static"), Some("https://zoom.us/j/42")).unwrap();
        let with_room = BookingPolicy::default().with_video(room);
        store.set_booking_policy(expert.id, with_room.clone()).await.unwrap();
        assert_eq!(store.expert(expert.id).await.unwrap().booking_policy, with_room);
        assert!(store
            .switch_integration(expert.id, IntegrationType::MANUAL, false)
            .await
            .unwrap()
            .is_some());
        store.set_integration(expert.id, google).await.unwrap();

        // A meeting still being made keeps the job, as a read of the meeting.
        let rules = (0..7)
            .map(|d| {
                WeeklyRule::new(
                    DayOfWeek::new(d).unwrap(),
                    "00:00".parse().unwrap(),
                    "24:00".parse().unwrap(),
                    true,
                )
                .unwrap()
            })
            .collect();
        store.replace_schedule(expert.id, rules, vec![], None).await.unwrap();
        let client = store
            .create_client("C".into(), "c@x.com".into(), Zone::utc())
            .await
            .unwrap();
        let now = Timestamp::now();
        let start = Timestamp::from_second((now.as_second() / 3600 + 24) * 3600).unwrap();
        let booked = AppointmentRepository::book(
            &*store,
            NewAppointment {
                expert_id: expert.id,
                client_id: client.id,
                time: Interval::new(start, start + SignedDuration::from_mins(30)).unwrap(),
            },
            BookingGuard {
                external_busy: vec![],
                now,
                integration: google,
                calendar_type: Some(availability_domain::CalendarType::from_static("google")),
                meeting_url: Some("https://zoom.us/j/42".into()),
                meeting_error: None,
                hold: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(booked.meeting_url.as_deref(), Some("https://zoom.us/j/42"));
        let job = store.claim_sync_jobs(10).await.unwrap().remove(0);
        assert!(!job.meeting_pending);
        store
            .sync_succeeded_with_meeting(job, Some("evt1".into()), Some(Meeting::Pending), 0)
            .await
            .unwrap();
        let a = store.appointment(booked.id).await.unwrap();
        assert_eq!(a.external_calendar_event_id.as_deref(), Some("evt1"));
        assert_eq!(a.sync_status, SyncStatus::Pending, "the job is not done");
        let job = store.claim_sync_jobs(10).await.unwrap().remove(0);
        assert!(job.meeting_pending, "{url}: the job now only reads the meeting");
        let url_made = "https://meet.google.com/abc-defg-hij";
        store
            .sync_succeeded_with_meeting(job, None, Some(Meeting::Ready { url: url_made.into() }), 0)
            .await
            .unwrap();
        let a = store.appointment(booked.id).await.unwrap();
        assert_eq!(
            (a.sync_status, a.meeting_url.as_deref(), a.meeting_error.as_deref()),
            (SyncStatus::Synced, Some(url_made), None)
        );
        assert_eq!(store.pending_sync_jobs().await.unwrap(), 0);
        // A move queues the job again as a write of the event, not a read of the meeting.
        let moved = Interval::new(
            start + SignedDuration::from_hours(2),
            start + SignedDuration::from_mins(150),
        )
        .unwrap();
        AppointmentRepository::reschedule(
            &*store,
            booked.id,
            moved,
            BookingGuard {
                external_busy: vec![],
                now,
                integration: google,
                calendar_type: Some(availability_domain::CalendarType::from_static("google")),
                meeting_url: None,
                meeting_error: None,
                hold: None,
            },
        )
        .await
        .unwrap();
        let job = store.claim_sync_jobs(10).await.unwrap().remove(0);
        assert!(!job.meeting_pending);
        assert_eq!(
            store.appointment(booked.id).await.unwrap().meeting_url.as_deref(),
            Some(url_made),
            "a move keeps the link"
        );
        store
            .sync_succeeded_with_meeting(job, None, Some(Meeting::Unavailable { reason: "gone".into() }), 0)
            .await
            .unwrap();
        let a = store.appointment(booked.id).await.unwrap();
        assert_eq!(a.meeting_error.as_deref(), Some("gone"));
    }
}

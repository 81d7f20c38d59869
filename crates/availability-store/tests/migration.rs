//! The providers-as-plug-ins migration (000006) on a database filled the way the version before
//! it wrote it (credentials in expert_profiles' three columns, closed lists of integration and
//! calendar types): nothing is lost, every credential still decrypts, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use availability_core::domain::jiff::Timestamp;
use availability_core::domain::{AppointmentStatus, CalendarType, ExpertId, IntegrationType, Interval};
use availability_core::{AppointmentRepository, CredentialRepository, ExpertRepository, IntegrationRepository};
use availability_store::crypto::Keyring;
use availability_store::{testing, Party, Store};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// The last migration of the version before providers became plug-ins.
const BEFORE: &str = "2026-11-24-000005";

fn databases() -> Vec<(&'static str, String)> {
    let mut list = vec![("sqlite", testing::fresh_sqlite_url())];
    match testing::test_database_url() {
        Some(base) => list.push(("postgres", testing::fresh_postgres_schema(&base).unwrap())),
        None => testing::skip_postgres("the providers-as-plug-ins migration"),
    }
    list
}

fn sealed(keyring: &Keyring, expert: &str, integration: &str, plain: &str) -> String {
    keyring
        .encrypt(plain.as_bytes(), &format!("credential:{expert}:{integration}"))
        .unwrap()
}

#[tokio::test]
async fn credentials_settings_and_appointments_survive_the_plug_in_migration() {
    let keyring = || Keyring::new(Some(KEY), "").unwrap();
    for (label, url) in databases() {
        testing::migrate_until(&url, BEFORE).unwrap();
        let ada = ExpertId::new().to_string();
        let bob = ExpertId::new().to_string();
        let client = ExpertId::new().to_string();
        let (g, o, c) = (
            sealed(&keyring(), &ada, "google_calendar", r#"{"access_token":"g-token"}"#),
            sealed(&keyring(), &ada, "office365_calendar", r#"{"access_token":"o-token"}"#),
            sealed(
                &keyring(),
                &ada,
                "calendly",
                r#"{"kind":"personal_access_token","token":"c-token"}"#,
            ),
        );
        // As the previous version wrote it: Ada uses Google, also has Calendly (needs
        // reauth) and an Office 365 credential whose status row is missing; Bob has nothing.
        testing::execute_sql(
            &url,
            &format!(
                "INSERT INTO expert_profiles (id, name, email, timezone, integration_type, \
                 google_calendar_credentials, office365_calendar_credentials, calendly_config, \
                 slot_duration_minutes, slot_interval_minutes, buffer_before_minutes, buffer_after_minutes, \
                 minimum_notice_minutes, booking_horizon_days, created_at, updated_at) VALUES \
                 ('{ada}', 'Ada', 'ada@example.com', 'Europe/Berlin', 'google_calendar', '{g}', '{o}', '{c}', \
                  45, 15, 5, 10, 60, 90, 1700000000, 1700000100), \
                 ('{bob}', 'Bob', 'bob@example.com', 'UTC', 'manual', NULL, NULL, NULL, 30, 30, 0, 0, 0, 60, \
                  1700000000, 1700000000);
                 INSERT INTO clients (id, name, email, timezone, created_at) VALUES \
                 ('{client}', 'Ann', 'ann@example.com', 'UTC', 1700000000);
                 INSERT INTO expert_availability (expert_id, position, day_of_week, start_time, end_time, is_available) \
                 VALUES ('{ada}', 0, 1, '09:00', '17:00', TRUE), ('{ada}', 1, 1, '12:00', '13:00', FALSE);
                 INSERT INTO expert_integrations (expert_id, integration_type, status, account, settings, \
                 connected_at, last_synced_at, last_error, last_error_at) VALUES \
                 ('{ada}', 'google_calendar', 'connected', 'ada@gmail.com', '{{}}', 1700000200, 1700000300, NULL, NULL), \
                 ('{ada}', 'calendly', 'needs_reauth', 'ada@calendly.example', \
                  '{{\"user_uri\":\"https://api.calendly.com/users/U1\"}}', 1700000200, NULL, 'revoked', 1700000400);
                 INSERT INTO appointments (id, expert_id, client_id, start_time, end_time, status, calendar_type, \
                 external_calendar_event_id, sync_status, cancellation_reason, created_at, updated_at, sync_error, \
                 scheduling_url) VALUES \
                 ('a0000000-0000-4000-8000-000000000001', '{ada}', '{client}', 1900000000, 1900002700, 'confirmed', \
                  'google', 'evt1', 'synced', NULL, 1700000500, 1700000500, NULL, NULL), \
                 ('a0000000-0000-4000-8000-000000000002', '{ada}', '{client}', 1900010000, 1900012700, 'pending', \
                  'calendly', NULL, 'not_applicable', NULL, 1700000600, 1700000600, NULL, 'https://calendly.example/d/x');"
            ),
        )
        .unwrap();

        let store = Store::open(&url).await.unwrap().with_keyring(keyring());
        let ada_id: ExpertId = ada.parse().unwrap();
        let expert = store.expert(ada_id).await.unwrap();
        assert_eq!(expert.integration_type.as_str(), "google_calendar", "{label}");
        assert_eq!(expert.booking_policy.slot_duration_minutes(), 45, "{label}");
        assert_eq!(store.schedule(ada_id).await.unwrap().rules.len(), 2, "{label}");

        let records = store.integrations(ada_id).await.unwrap();
        let find = |t: &str| records.iter().find(|r| r.integration.as_str() == t).cloned();
        let google = find("google_calendar").expect("google kept");
        assert_eq!(
            (google.status.as_str(), google.account.as_deref(), google.connected_at),
            ("connected", Some("ada@gmail.com"), 1700000200),
            "{label}"
        );
        let calendly = find("calendly").expect("calendly kept");
        assert_eq!(
            (calendly.status.as_str(), calendly.last_error.as_deref()),
            ("needs_reauth", Some("revoked")),
            "{label}"
        );
        let office = find("office365_calendar").expect("a credential without its status row is kept");
        assert_eq!(office.status, "connected", "{label}");

        for (integration, plain) in [
            ("google_calendar", r#"{"access_token":"g-token"}"#),
            ("office365_calendar", r#"{"access_token":"o-token"}"#),
            ("calendly", r#"{"kind":"personal_access_token","token":"c-token"}"#),
        ] {
            let loaded = CredentialRepository::load(&store, ada_id, IntegrationType::parse(integration).unwrap())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{label}: {integration} credential lost"));
            assert_eq!(loaded.expose(), plain, "{label}: {integration}");
        }
        assert_eq!(
            store
                .expert_by_setting(
                    IntegrationType::parse("calendly").unwrap(),
                    "user_uri",
                    "https://api.calendly.com/users/U1"
                )
                .await
                .unwrap(),
            Some(ada_id),
            "{label}: settings kept"
        );
        let bob_id: ExpertId = bob.parse().unwrap();
        assert!(store.integrations(bob_id).await.unwrap().is_empty(), "{label}");

        let window = Interval::new(
            Timestamp::from_second(1_899_000_000).unwrap(),
            Timestamp::from_second(1_901_000_000).unwrap(),
        )
        .unwrap();
        let listed = store.appointments(Party::Expert(ada_id), window, None).await.unwrap();
        assert_eq!(listed.len(), 2, "{label}");
        assert_eq!(listed[0].calendar_type, Some(CalendarType::parse("google").unwrap()));
        assert_eq!(listed[0].external_calendar_event_id.as_deref(), Some("evt1"));
        assert_eq!(listed[1].status, AppointmentStatus::Pending);
        assert_eq!(
            listed[1].scheduling_url.as_deref(),
            Some("https://calendly.example/d/x"),
            "{label}"
        );

        // The overlap guard came back with the rebuilt table: a second confirmed appointment
        // over the first is refused by the database itself.
        let mut clash = listed[0].clone();
        clash.id = availability_core::domain::AppointmentId::new();
        clash.external_calendar_event_id = None;
        assert!(
            testing::insert_unchecked(&store, clash).await.is_err(),
            "{label}: the database refuses overlapping confirmed appointments"
        );

        // A provider the old lists did not know can be stored now, and an unreadable name is
        // still refused by the database.
        let before = store.expert_calendar(ada_id, window, None).await.unwrap().connection;
        store
            .connect_integration(
                ada_id,
                IntegrationType::parse("caldav").unwrap(),
                availability_core::domain::Secret::new("{}".into()),
                Some("ada".into()),
                "{}".into(),
            )
            .await
            .unwrap();
        let after = store.expert_calendar(ada_id, window, None).await.unwrap().connection;
        assert!(after > before, "{label}: connecting changes the connection number");
        assert!(
            testing::execute_sql(
                &url,
                &format!("UPDATE expert_profiles SET integration_type = 'Not A Name' WHERE id = '{ada}'")
            )
            .is_err(),
            "{label}: integration types keep their shape"
        );
        let _ = AppointmentRepository::appointment(&store, listed[0].id).await.unwrap();
    }
}

/// The named-schedules migration (000014) on a database filled by the version before it: every
/// expert's weekly rules (in their order, breaks included) and date overrides become their default
/// schedule, whose id is the expert's; an expert without rules gets an empty default; the
/// default follows the expert's zone; an expert made afterwards has a default from the start.
#[tokio::test]
async fn weekly_rules_and_overrides_become_the_default_schedule() {
    use availability_core::domain::{DayOfWeek, ScheduleId, Zone};
    for (label, url) in databases() {
        testing::migrate_until(&url, "2026-12-04-000013").unwrap();
        let ada = ExpertId::new().to_string();
        let bob = ExpertId::new().to_string();
        testing::execute_sql(
            &url,
            &format!(
                "INSERT INTO expert_profiles (id, name, email, timezone, integration_type, \
                 slot_duration_minutes, slot_interval_minutes, buffer_before_minutes, buffer_after_minutes, \
                 minimum_notice_minutes, booking_horizon_days, created_at, updated_at) VALUES \
                 ('{ada}', 'Ada', 'ada@example.com', 'Europe/Berlin', 'manual', 30, 30, 0, 0, 0, 60, 1700000000, 1700000000), \
                 ('{bob}', 'Bob', 'bob@example.com', 'UTC', 'manual', 30, 30, 0, 0, 0, 60, 1700000000, 1700000000);
                 INSERT INTO expert_availability (expert_id, position, day_of_week, start_time, end_time, is_available) \
                 VALUES ('{ada}', 1, 1, '12:00', '13:00', FALSE), ('{ada}', 0, 1, '09:00', '17:00', TRUE), \
                 ('{ada}', 2, 6, '10:00', '24:00', TRUE);
                 INSERT INTO date_overrides (expert_id, date, windows) VALUES \
                 ('{ada}', '2026-12-31', '[]'), \
                 ('{ada}', '2026-12-24', '[{{\"start_time\":\"09:00\",\"end_time\":\"12:00\"}}]');"
            ),
        )
        .unwrap();

        let store = Store::open(&url).await.unwrap();
        let ada_id: ExpertId = ada.parse().unwrap();
        let set = store.schedules(ada_id).await.unwrap();
        assert_eq!(set.schedules().len(), 1, "{label}");
        let default = set.default_schedule();
        assert_eq!(default.id, ScheduleId(ada_id.0), "{label}: the expert's id");
        assert_eq!(default.name(), "Working hours", "{label}");
        assert_eq!(default.hours.zone, Zone::new("Europe/Berlin").unwrap(), "{label}");
        let rules: Vec<_> = default
            .hours
            .rules
            .iter()
            .map(|r| {
                (
                    r.day_of_week,
                    r.start_time.to_string(),
                    r.end_time.to_string(),
                    r.is_available,
                )
            })
            .collect();
        let monday = DayOfWeek::new(1).unwrap();
        assert_eq!(
            rules,
            vec![
                (monday, "09:00".into(), "17:00".into(), true),
                (monday, "12:00".into(), "13:00".into(), false),
                (DayOfWeek::new(6).unwrap(), "10:00".into(), "24:00".into(), true),
            ],
            "{label}: in their order, the break kept"
        );
        let overrides: Vec<_> = default
            .hours
            .overrides
            .iter()
            .map(|o| (o.date.to_string(), o.windows.len()))
            .collect();
        assert_eq!(
            overrides,
            vec![("2026-12-24".into(), 1), ("2026-12-31".into(), 0)],
            "{label}: by date"
        );
        assert_eq!(store.schedule(ada_id).await.unwrap(), default.hours, "{label}");

        let bob_id: ExpertId = bob.parse().unwrap();
        let bob_default = store.schedules(bob_id).await.unwrap().default_schedule().clone();
        assert!(bob_default.hours.rules.is_empty(), "{label}");
        assert_eq!(bob_default.hours.zone, Zone::utc(), "{label}");

        let patch = availability_store::ExpertPatch {
            timezone: Some(Zone::new("Asia/Tokyo").unwrap()),
            ..Default::default()
        };
        store.update_expert(bob_id, patch).await.unwrap();
        let bob_default = store.schedules(bob_id).await.unwrap().default_schedule().clone();
        assert_eq!(
            bob_default.hours.zone.name(),
            "Asia/Tokyo",
            "{label}: follows the expert"
        );

        let carol = store
            .create_expert(
                "Carol".into(),
                "carol@example.com".into(),
                Zone::new("America/New_York").unwrap(),
            )
            .await
            .unwrap();
        let carol_set = store.schedules(carol.id).await.unwrap();
        assert_eq!(carol_set.default_schedule().id, ScheduleId(carol.id.0), "{label}");
        assert!(carol_set.default_schedule().hours.rules.is_empty(), "{label}");
    }
}

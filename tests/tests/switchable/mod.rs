//! A test calendar whose busy time and event writes can be taken down, for the directory's
//! `unavailable` list and the calendar sync's failure and retry (end to end and in the browser).
//! Included by the test files that use it (`mod switchable;`), beside `support`.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use availability_core::domain::{Appointment, CalendarType, Client, Expert, IntegrationType, Interval, Secret};
use availability_core::{AvailabilityStrategy, BusyTimeSource, CoreError, EventWriter, ExternalEvent};
use availability_store::crypto::Keyring;
use availability_store::Store;
use serde_json::json;

use crate::support::{Api, ADMIN_TOKEN, ENCRYPTION_KEY};

/// The test calendar's integration type.
pub const DOWN_CALENDAR: IntegrationType = IntegrationType::from_static("directory_calendar");

/// A calendar that is empty, and can be taken down (all of it, or only its event writes).
#[derive(Debug, Default)]
pub struct SwitchableCalendar {
    pub down: AtomicBool,
    pub writes_down: AtomicBool,
}

impl SwitchableCalendar {
    fn check_writes(&self) -> Result<(), CoreError> {
        if self.writes_down.load(Ordering::SeqCst) {
            return Err(CoreError::ProviderUnavailable {
                integration: DOWN_CALENDAR,
                message: "503 from upstream.example".into(),
            });
        }
        self.check()
    }

    fn check(&self) -> Result<(), CoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(CoreError::ProviderUnavailable {
                integration: DOWN_CALENDAR,
                message: "503 from upstream.example".into(),
            });
        }
        Ok(())
    }
}

impl AvailabilityStrategy for SwitchableCalendar {
    fn integration_type(&self) -> IntegrationType {
        DOWN_CALENDAR
    }
    fn display_name(&self) -> &'static str {
        "Directory Calendar"
    }
    fn calendar_type(&self) -> Option<CalendarType> {
        Some(CalendarType::from_static("directory_calendar"))
    }
    fn busy_time(&self) -> Option<&dyn BusyTimeSource> {
        Some(self)
    }
    fn event_writer(&self) -> Option<&dyn EventWriter> {
        Some(self)
    }
}

#[async_trait]
impl BusyTimeSource for SwitchableCalendar {
    async fn busy_intervals(&self, _: &Expert, _: Interval) -> Result<Vec<Interval>, CoreError> {
        self.check()?;
        Ok(vec![])
    }
}

#[async_trait]
impl EventWriter for SwitchableCalendar {
    async fn create_event(&self, _: &Expert, _: &Client, a: &Appointment) -> Result<ExternalEvent, CoreError> {
        self.check_writes()?;
        Ok(ExternalEvent::new(format!("evt{}", a.id.0.simple())))
    }
    async fn update_event(&self, _: &Expert, _: &Client, a: &Appointment) -> Result<ExternalEvent, CoreError> {
        self.check_writes()?;
        Ok(ExternalEvent::new(format!("evt{}", a.id.0.simple())))
    }
    async fn delete_event(&self, _: &Expert, _: &Appointment) -> Result<(), CoreError> {
        self.check_writes()
    }
}

/// Makes the expert use the switchable calendar (its credential stored directly).
pub async fn use_calendar(api: &Api, db_url: &str, expert: &str) {
    let store = Store::open(db_url)
        .await
        .unwrap()
        .with_keyring(Keyring::new(Some(ENCRYPTION_KEY), "").unwrap());
    store
        .connect_integration(
            expert.parse().unwrap(),
            DOWN_CALENDAR,
            Secret::new("{}".into()),
            Some("e@calendar.example".into()),
            "{}".into(),
        )
        .await
        .unwrap();
    let set = api
        .put(
            &format!("/api/v1/experts/{expert}/integration"),
            ADMIN_TOKEN,
            json!({"integration_type": DOWN_CALENDAR.as_str()}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
}

/// Makes the appointment's queued calendar sync a day old, so the worker's next failure gives up
/// (sync_status `failed`), as 24 hours of retries would.
pub fn age_sync_job(db_url: &str, appointment: &str) {
    availability_store::testing::execute_sql(
        db_url,
        &format!("UPDATE sync_jobs SET first_queued_at = 0, due_at = 0 WHERE appointment_id = '{appointment}'"),
    )
    .unwrap();
}

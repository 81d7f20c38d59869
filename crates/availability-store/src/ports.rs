//! availability-core's ports over the database.

use async_trait::async_trait;
use availability_core::{
    AppointmentRepository, BookingGuard, CalendarRead, CoreError, Credential, CredentialRepository, ExpertCalendar,
    ExpertRepository, IntegrationRepository, NewSeries, SeriesBooking,
};
use availability_domain::jiff::Timestamp;
use availability_domain::{
    Appointment, AppointmentId, CancelledBy, Client, ClientId, Expert, ExpertId, Hold, HoldId, IntegrationType,
    Interval, NewAppointment, Schedule, Series, SeriesId, SyncStatus, Zone,
};

use crate::integrations::{self, Mark};
use crate::{appointments, Store, StoreError};

tokio::task_local! {
    /// An expert's calendar version read earlier in the same request (`Store::with_calendar_version`).
    pub(crate) static READ_VERSION: (ExpertId, i64);
}

#[async_trait]
impl ExpertRepository for Store {
    async fn expert(&self, id: ExpertId) -> Result<Expert, CoreError> {
        Ok(Store::expert(self, id).await?)
    }

    async fn client(&self, id: ClientId) -> Result<Client, CoreError> {
        Ok(Store::client(self, id).await?)
    }

    async fn schedule(&self, id: ExpertId) -> Result<Schedule, CoreError> {
        Ok(Store::schedule(self, id).await?)
    }

    async fn client_by_email(&self, email: &str) -> Result<Option<Client>, CoreError> {
        Ok(Store::client_by_email(self, email.to_owned()).await?)
    }

    /// A provider's booking for someone new. Emails are unique: if another request (or server
    /// process) stored a client with this email since the service looked, that client is the one.
    async fn create_client(&self, name: String, email: String, timezone: Zone) -> Result<Client, CoreError> {
        match Store::create_client(self, name, email.clone(), timezone).await {
            Err(StoreError::EmailTaken) => Store::client_by_email(self, email)
                .await?
                .ok_or_else(|| CoreError::Storage("a client with this email exists but cannot be read".into())),
            other => Ok(other?),
        }
    }

    async fn expert_calendar(
        &self,
        id: ExpertId,
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<ExpertCalendar, CoreError> {
        let read_in_request = READ_VERSION.try_with(|&(expert, version)| (expert == id).then_some(version));
        if let Ok(Some(version)) = read_in_request {
            if let Some(hit) = self.calendars.get(id, window, duration_minutes, version) {
                return Ok(hit);
            }
        } else if let Some(hot) = &self.hot {
            // The version over the async connection; on a hit, nothing else is read.
            if let Some(version) = hot.version(id).await {
                if let Some(hit) = self.calendars.get(id, window, duration_minutes, version?) {
                    return Ok(hit);
                }
            }
        }
        let cache = self.calendars.clone();
        Ok(self
            .run_read(move |c| {
                // One indexed read when nothing changed since this process last read it.
                let version = crate::calendar_cache::version(c, id)?;
                if let Some(hit) = cache.get(id, window, duration_minutes, version) {
                    return Ok(hit);
                }
                let (version, calendar) = appointments::expert_calendar(c, id, window, duration_minutes)?;
                cache.put(id, window, duration_minutes, version, &calendar);
                Ok(calendar)
            })
            .await?)
    }

    async fn expert_calendars(
        &self,
        experts: &[(ExpertId, Option<i64>)],
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<Vec<Result<CalendarRead, CoreError>>, CoreError> {
        let cache = self.calendars.clone();
        let experts = experts.to_vec();
        Ok(self
            .run_read(move |c| {
                // One query for every version; a calendar is read only if it changed since the
                // caller's answer, or since this process last read it for this window.
                let ids: Vec<ExpertId> = experts.iter().map(|(id, _)| *id).collect();
                let versions = crate::calendar_cache::versions(c, &ids)?;
                let mut calendars = Vec::with_capacity(experts.len());
                for (id, known) in experts {
                    let gone = || {
                        Err(CoreError::NotFound {
                            what: "expert",
                            id: id.to_string(),
                        })
                    };
                    let Some(&version) = versions.get(&id) else {
                        calendars.push(gone());
                        continue;
                    };
                    if known == Some(version) {
                        calendars.push(Ok(CalendarRead::Unchanged));
                        continue;
                    }
                    if let Some(hit) = cache.get(id, window, duration_minutes, version) {
                        calendars.push(Ok(CalendarRead::Read(Box::new(hit), Some(version))));
                        continue;
                    }
                    match appointments::expert_calendar(c, id, window, duration_minutes) {
                        Ok((version, calendar)) => {
                            cache.put(id, window, duration_minutes, version, &calendar);
                            calendars.push(Ok(CalendarRead::Read(Box::new(calendar), Some(version))));
                        }
                        // Deleted since the versions were read.
                        Err(StoreError::NotFound { .. }) => calendars.push(gone()),
                        Err(e) => return Err(e),
                    }
                }
                Ok(calendars)
            })
            .await?)
    }
}

#[async_trait]
impl AppointmentRepository for Store {
    async fn appointment(&self, id: AppointmentId) -> Result<Appointment, CoreError> {
        Ok(Store::appointment(self, id).await?)
    }

    async fn confirmed_overlapping(&self, expert: ExpertId, window: Interval) -> Result<Vec<Appointment>, CoreError> {
        Ok(self
            .run(move |c| appointments::confirmed_overlapping(c, expert, window))
            .await?)
    }

    async fn counted_starting_in(&self, expert: ExpertId, window: Interval) -> Result<Vec<Appointment>, CoreError> {
        Ok(self
            .run(move |c| appointments::counted_appointments_starting_in(c, expert, window))
            .await?)
    }

    async fn book_series(&self, new: NewSeries, guard: BookingGuard) -> Result<SeriesBooking, CoreError> {
        Ok(self.run_write(move |c| crate::series::book(c, &new, &guard)).await?)
    }

    async fn series(&self, id: SeriesId) -> Result<(Series, Vec<Appointment>), CoreError> {
        Ok(self.run(move |c| crate::series::find(c, id)).await?)
    }

    async fn create_hold(&self, hold: Hold, guard: BookingGuard) -> Result<Hold, CoreError> {
        Ok(self.run_write(move |c| crate::holds::create(c, &hold, &guard)).await?)
    }

    async fn find_hold(&self, id: HoldId) -> Result<Hold, CoreError> {
        Ok(self.run(move |c| crate::holds::find(c, id)).await?)
    }

    async fn release_hold(&self, id: HoldId) -> Result<(), CoreError> {
        Ok(self.run_write(move |c| crate::holds::release(c, id)).await?)
    }

    async fn book(&self, new: NewAppointment, guard: BookingGuard) -> Result<Appointment, CoreError> {
        Ok(self.book_queued(new, guard).await?)
    }

    async fn reschedule(
        &self,
        id: AppointmentId,
        time: Interval,
        guard: BookingGuard,
    ) -> Result<Appointment, CoreError> {
        Ok(self
            .run_write(move |c| appointments::reschedule(c, id, time, &guard))
            .await?)
    }

    async fn cancel(
        &self,
        id: AppointmentId,
        by: CancelledBy,
        reason: Option<String>,
    ) -> Result<Appointment, CoreError> {
        let now = availability_domain::jiff::Timestamp::now().as_second();
        Ok(self
            .run_write(move |c| appointments::cancel(c, id, by, reason.as_deref(), now))
            .await?)
    }

    async fn record_sync(
        &self,
        id: AppointmentId,
        external_event_id: Option<String>,
        status: SyncStatus,
    ) -> Result<Appointment, CoreError> {
        Ok(self
            .run_write(move |c| appointments::record_sync(c, id, external_event_id.as_deref(), status))
            .await?)
    }

    async fn record_meeting(
        &self,
        id: AppointmentId,
        meeting: availability_core::Meeting,
    ) -> Result<Appointment, CoreError> {
        Ok(Store::record_meeting(self, id, meeting).await?)
    }

    async fn record_confirmed(&self, appointment: Appointment) -> Result<Appointment, CoreError> {
        Ok(self
            .run_write(move |c| appointments::record_confirmed(c, &appointment))
            .await?)
    }

    async fn record_pending(&self, appointment: Appointment) -> Result<Appointment, CoreError> {
        Ok(self
            .run_write(move |c| appointments::record_pending(c, &appointment))
            .await?)
    }

    async fn confirm_pending(
        &self,
        id: AppointmentId,
        external_event_id: String,
        time: Interval,
        now: Timestamp,
    ) -> Result<Appointment, CoreError> {
        Ok(self
            .run_write(move |c| appointments::confirm_pending(c, id, &external_event_id, time, now.as_second()))
            .await?)
    }

    async fn by_external_id(&self, external_id: &str) -> Result<Option<Appointment>, CoreError> {
        let external_id = external_id.to_owned();
        Ok(self.run(move |c| appointments::by_external_id(c, &external_id)).await?)
    }

    async fn awaiting_client(&self, expert: ExpertId, email: &str) -> Result<Vec<Appointment>, CoreError> {
        Ok(self.pending_for_email(expert, email.to_owned()).await?)
    }

    async fn hold(
        &self,
        id: AppointmentId,
        external_event_id: String,
        time: Interval,
        reason: String,
    ) -> Result<Appointment, CoreError> {
        Ok(self.hold_unconfirmed(id, external_event_id, time, reason).await?)
    }

    async fn held(&self, expert: ExpertId) -> Result<Vec<Appointment>, CoreError> {
        Ok(self.held_bookings(expert).await?)
    }

    async fn follow_calendar_move(
        &self,
        id: AppointmentId,
        time: Interval,
        calendar: &str,
        now: availability_domain::jiff::Timestamp,
    ) -> Result<availability_core::CalendarFollow, CoreError> {
        let calendar = calendar.to_owned();
        Ok(self
            .run_write(move |c| crate::calendar_sync::follow_move(c, id, time, &calendar, now.as_second()))
            .await?)
    }

    async fn change_cursor(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
    ) -> Result<(i64, Option<String>), CoreError> {
        Ok(self
            .run(move |c| crate::calendar_sync::cursor(c, expert, integration))
            .await?)
    }

    async fn save_change_cursor(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        connection: i64,
        cursor: String,
    ) -> Result<(), CoreError> {
        let now = availability_domain::jiff::Timestamp::now().as_second();
        Ok(self
            .run_write(move |c| crate::calendar_sync::save_cursor(c, expert, integration, connection, &cursor, now))
            .await?)
    }
}

#[async_trait]
impl CredentialRepository for Store {
    async fn load(&self, expert: ExpertId, integration: IntegrationType) -> Result<Option<Credential>, CoreError> {
        let keyring = self.keyring.clone();
        let now = availability_domain::jiff::Timestamp::now().as_second();
        match self
            .run_write(move |c| integrations::load_credential(c, &keyring, expert, integration, now))
            .await
        {
            Ok(found) => Ok(found),
            Err(StoreError::Credential(e)) => Err(CoreError::NeedsReauth {
                integration,
                message: format!("the stored credential is unusable: {e}"),
            }),
            Err(other) => Err(other.into()),
        }
    }

    async fn save(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        credential: Credential,
    ) -> Result<(), CoreError> {
        let keyring = self.keyring.clone();
        Ok(self
            .run_write(move |c| integrations::save_credential(c, &keyring, expert, integration, &credential))
            .await?)
    }

    async fn delete(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), CoreError> {
        self.disconnect_integration(expert, integration).await?;
        Ok(())
    }
}

#[async_trait]
impl IntegrationRepository for Store {
    async fn expert_by_setting(
        &self,
        integration: IntegrationType,
        key: &str,
        value: &str,
    ) -> Result<Option<ExpertId>, CoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        Ok(self
            .run(move |c| integrations::expert_by_setting(c, integration, &key, &value))
            .await?)
    }

    async fn record_success(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), CoreError> {
        let now = availability_domain::jiff::Timestamp::now().as_second();
        Ok(self
            .run_write(move |c| integrations::mark(c, expert, integration, Mark::Success, now))
            .await?)
    }

    async fn record_failure(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        reason: &str,
    ) -> Result<(), CoreError> {
        let now = availability_domain::jiff::Timestamp::now().as_second();
        let reason = reason.to_owned();
        Ok(self
            .run_write(move |c| integrations::mark(c, expert, integration, Mark::Failure(&reason), now))
            .await?)
    }

    async fn mark_needs_reauth(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        reason: &str,
    ) -> Result<(), CoreError> {
        let now = availability_domain::jiff::Timestamp::now().as_second();
        let reason = reason.to_owned();
        Ok(self
            .run_write(move |c| integrations::mark(c, expert, integration, Mark::NeedsReauth(&reason), now))
            .await?)
    }
}

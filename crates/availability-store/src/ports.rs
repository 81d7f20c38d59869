//! availability-core's ports over the database.

use async_trait::async_trait;
use availability_core::{AppointmentRepository, BookingGuard, CoreError, ExpertCalendar, ExpertRepository};
use availability_domain::{
    Appointment, AppointmentId, Client, ClientId, Expert, ExpertId, Interval, NewAppointment, Schedule, SyncStatus,
};

use crate::{appointments, Store};

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

    async fn expert_calendar(
        &self,
        id: ExpertId,
        window: Interval,
        duration_minutes: Option<u32>,
    ) -> Result<ExpertCalendar, CoreError> {
        Ok(self.run(move |c| appointments::expert_calendar(c, id, window, duration_minutes)).await?)
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

    async fn book(&self, new: NewAppointment, guard: BookingGuard) -> Result<Appointment, CoreError> {
        Ok(self.run_write(move |c| appointments::book(c, &new, &guard)).await?)
    }

    async fn reschedule(
        &self,
        id: AppointmentId,
        time: Interval,
        guard: BookingGuard,
    ) -> Result<Appointment, CoreError> {
        Ok(self.run_write(move |c| appointments::reschedule(c, id, time, &guard)).await?)
    }

    async fn cancel(&self, id: AppointmentId, reason: Option<String>) -> Result<Appointment, CoreError> {
        let now = availability_domain::jiff::Timestamp::now().as_second();
        Ok(self.run_write(move |c| appointments::cancel(c, id, reason.as_deref(), now))
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
}

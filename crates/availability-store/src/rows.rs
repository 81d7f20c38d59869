//! Rows as diesel reads and writes them, and their conversion to and from the domain.

use availability_domain::jiff::Timestamp;
use availability_domain::{
    Appointment, AppointmentStatus, BookingPolicy, CalendarType, CancelledBy, Client, Expert, IntegrationType,
    SyncStatus, VideoPolicy, Zone,
};
use diesel::prelude::*;

use crate::schema::{appointments, clients, expert_profiles, holds};
use crate::StoreError;

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn instant(seconds: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_second(seconds).map_err(|e| corrupt("instant", e))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = expert_profiles)]
pub(crate) struct ExpertRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub timezone: String,
    pub integration_type: String,
    pub slot_duration_minutes: i32,
    pub slot_interval_minutes: i32,
    pub buffer_before_minutes: i32,
    pub buffer_after_minutes: i32,
    pub minimum_notice_minutes: i32,
    pub booking_horizon_days: i32,
    pub created_at: i64,
    pub updated_at: i64,
    pub video: String,
    pub video_url: Option<String>,
    pub max_bookings_per_day: Option<i32>,
    pub max_bookings_per_week: Option<i32>,
    pub max_bookings_per_month: Option<i32>,
    pub max_booked_minutes_per_day: Option<i32>,
    pub max_series_occurrences: i32,
}

/// A limit as stored (the domain keeps them within 1-1440).
fn limit_column(limit: Option<u32>) -> Option<i32> {
    limit.map(|n| i32::try_from(n).unwrap_or(i32::MAX))
}

impl ExpertRow {
    pub(crate) fn from_domain(e: &Expert, now: i64) -> Self {
        let p = &e.booking_policy;
        Self {
            id: e.id.to_string(),
            name: e.name.clone(),
            email: e.email.clone(),
            timezone: e.timezone.name().to_owned(),
            integration_type: e.integration_type.as_str().to_owned(),
            slot_duration_minutes: p.slot_duration_minutes() as i32,
            slot_interval_minutes: p.slot_interval_minutes() as i32,
            buffer_before_minutes: p.buffer_before_minutes() as i32,
            buffer_after_minutes: p.buffer_after_minutes() as i32,
            minimum_notice_minutes: p.minimum_notice_minutes() as i32,
            booking_horizon_days: p.booking_horizon_days() as i32,
            created_at: now,
            updated_at: now,
            video: p.video().as_str().to_owned(),
            video_url: p.video().room().map(|room| room.as_str().to_owned()),
            max_bookings_per_day: limit_column(p.max_bookings_per_day()),
            max_bookings_per_week: limit_column(p.max_bookings_per_week()),
            max_bookings_per_month: limit_column(p.max_bookings_per_month()),
            max_booked_minutes_per_day: limit_column(p.max_booked_minutes_per_day()),
            max_series_occurrences: p.max_series_occurrences() as i32,
        }
    }

    pub(crate) fn into_domain(self) -> Result<Expert, StoreError> {
        let booking_policy = BookingPolicy::new(
            self.slot_duration_minutes.into(),
            self.slot_interval_minutes.into(),
            self.buffer_before_minutes.into(),
            self.buffer_after_minutes.into(),
            self.minimum_notice_minutes.into(),
            self.booking_horizon_days.into(),
        )
        .map_err(|e| corrupt("booking policy", e))?
        .with_video(VideoPolicy::parse(Some(&self.video), self.video_url.as_deref()).map_err(|e| corrupt("video", e))?)
        .with_max_bookings_per_day(self.max_bookings_per_day.map(i64::from))
        .and_then(|p| p.with_max_bookings_per_week(self.max_bookings_per_week.map(i64::from)))
        .and_then(|p| p.with_max_bookings_per_month(self.max_bookings_per_month.map(i64::from)))
        .and_then(|p| p.with_max_booked_minutes_per_day(self.max_booked_minutes_per_day.map(i64::from)))
        .and_then(|p| p.with_max_series_occurrences(self.max_series_occurrences.into()))
        .map_err(|e| corrupt("booking limits", e))?;
        Ok(Expert {
            id: self.id.parse().map_err(|e| corrupt("expert id", e))?,
            name: self.name,
            email: self.email,
            timezone: Zone::new(&self.timezone).map_err(|e| corrupt("time zone", e))?,
            integration_type: self
                .integration_type
                .parse::<IntegrationType>()
                .map_err(|e| corrupt("integration", e))?,
            booking_policy,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = holds)]
pub(crate) struct HoldRow {
    pub id: String,
    pub expert_id: String,
    pub client_id: String,
    pub start_time: i64,
    pub end_time: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub(crate) struct ClientRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub timezone: String,
    pub created_at: i64,
    /// [`crate::experts::email_key`] of `email`; NULL only for a duplicate older than the rule.
    pub email_key: Option<String>,
}

impl ClientRow {
    pub(crate) fn into_domain(self) -> Result<Client, StoreError> {
        Ok(Client {
            id: self.id.parse().map_err(|e| corrupt("client id", e))?,
            name: self.name,
            email: self.email,
            timezone: Zone::new(&self.timezone).map_err(|e| corrupt("time zone", e))?,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = appointments, treat_none_as_null = true)]
pub(crate) struct AppointmentRow {
    pub id: String,
    pub expert_id: String,
    pub client_id: String,
    pub start_time: i64,
    pub end_time: i64,
    pub status: String,
    pub calendar_type: Option<String>,
    pub external_calendar_event_id: Option<String>,
    pub scheduling_url: Option<String>,
    pub sync_status: String,
    pub cancellation_reason: Option<String>,
    pub cancelled_by: Option<String>,
    pub sync_error: Option<String>,
    pub meeting_url: Option<String>,
    pub meeting_error: Option<String>,
    pub series_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AppointmentRow {
    pub(crate) fn from_domain(a: &Appointment) -> Self {
        Self {
            id: a.id.to_string(),
            expert_id: a.expert_id.to_string(),
            client_id: a.client_id.to_string(),
            start_time: a.start_time.as_second(),
            end_time: a.end_time.as_second(),
            status: a.status.as_str().to_owned(),
            calendar_type: a.calendar_type.map(|c| c.as_str().to_owned()),
            external_calendar_event_id: a.external_calendar_event_id.clone(),
            scheduling_url: a.scheduling_url.clone(),
            sync_status: a.sync_status.as_str().to_owned(),
            cancellation_reason: a.cancellation_reason.clone(),
            cancelled_by: a.cancelled_by.map(|b| b.as_str().to_owned()),
            sync_error: a.sync_error.clone(),
            meeting_url: a.meeting_url.clone(),
            meeting_error: a.meeting_error.clone(),
            series_id: a.series_id.map(|id| id.to_string()),
            created_at: a.created_at.as_second(),
            updated_at: a.updated_at.as_second(),
        }
    }

    pub(crate) fn into_domain(self) -> Result<Appointment, StoreError> {
        Ok(Appointment {
            id: self.id.parse().map_err(|e| corrupt("appointment id", e))?,
            expert_id: self.expert_id.parse().map_err(|e| corrupt("expert id", e))?,
            client_id: self.client_id.parse().map_err(|e| corrupt("client id", e))?,
            start_time: instant(self.start_time)?,
            end_time: instant(self.end_time)?,
            status: self
                .status
                .parse::<AppointmentStatus>()
                .map_err(|e| corrupt("status", e))?,
            calendar_type: self
                .calendar_type
                .map(|c| c.parse::<CalendarType>())
                .transpose()
                .map_err(|e| corrupt("calendar type", e))?,
            external_calendar_event_id: self.external_calendar_event_id,
            scheduling_url: self.scheduling_url,
            sync_status: self
                .sync_status
                .parse::<SyncStatus>()
                .map_err(|e| corrupt("sync status", e))?,
            cancellation_reason: self.cancellation_reason,
            cancelled_by: self
                .cancelled_by
                .map(|b| b.parse::<CancelledBy>())
                .transpose()
                .map_err(|e| corrupt("cancelled by", e))?,
            sync_error: self.sync_error,
            meeting_url: self.meeting_url,
            meeting_error: self.meeting_error,
            series_id: self
                .series_id
                .map(|id| id.parse())
                .transpose()
                .map_err(|e| corrupt("series id", e))?,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}

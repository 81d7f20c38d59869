//! Recurring bookings: every occurrence checked by the engine and stored in one transaction under
//! the expert's lock, each an appointment that names its series, with its calendar sync job and
//! its webhook events.

use availability_core::{BookingGuard, CoreError, NewSeries, SeriesBooking};
use availability_domain::{Appointment, Recurrence, Series, SeriesId};
use diesel::prelude::*;

use crate::appointments::{engine_appointments, require_client};
use crate::db::{db_run, Conn, LockedTransaction};
use crate::rows::{corrupt, instant, AppointmentRow};
use crate::schema::{appointments, series};
use crate::webhooks::{Emit, Event, WebhookEvent};
use crate::StoreError;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = series)]
struct SeriesRow {
    id: String,
    expert_id: String,
    client_id: String,
    recurrence: String,
    created_at: i64,
}

impl SeriesRow {
    fn from_domain(s: &Series) -> Result<Self, StoreError> {
        Ok(Self {
            id: s.id.to_string(),
            expert_id: s.expert_id.to_string(),
            client_id: s.client_id.to_string(),
            recurrence: serde_json::to_string(&s.recurrence).map_err(|e| corrupt("recurrence", e))?,
            created_at: s.created_at.as_second(),
        })
    }

    fn into_domain(self) -> Result<Series, StoreError> {
        Ok(Series {
            id: self.id.parse().map_err(|e| corrupt("series id", e))?,
            expert_id: self.expert_id.parse().map_err(|e| corrupt("expert id", e))?,
            client_id: self.client_id.parse().map_err(|e| corrupt("client id", e))?,
            recurrence: serde_json::from_str::<Recurrence>(&self.recurrence).map_err(|e| corrupt("recurrence", e))?,
            created_at: instant(self.created_at)?,
        })
    }
}

pub(crate) fn book(conn: &mut Conn, new: &NewSeries, guard: &BookingGuard) -> Result<SeriesBooking, StoreError> {
    let expert_key = new.expert_id.to_string();
    let client_key = new.client_id.to_string();
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        require_client!(c, &client_key);
        crate::holds::remove_expired!(c, new.expert_id, guard.now.as_second());
        let expert = crate::experts::load_expert!(c, new.expert_id)?;
        let schedules = crate::schedules::load_schedule_set!(c, &expert)?;
        if expert.integration_type != guard.integration {
            return Err(StoreError::SlotUnavailable(
                "the expert switched calendars while this series was checked; try again".into(),
            ));
        }
        let window = BookingGuard::series_window(&expert, &new.occurrences)
            .ok_or_else(|| StoreError::Refused(CoreError::SeriesConflict(Vec::new())))?;
        let nearby = engine_appointments!(c, &expert, window, window);
        let holds = crate::holds::holds_overlapping!(c, new.expert_id, window);
        let verdicts = guard.check_series(&expert, &schedules, &nearby, &holds, &new.occurrences);
        let (accepted, skipped) =
            availability_core::series::sort_verdicts(new, verdicts).map_err(StoreError::Refused)?;
        let series = Series {
            id: SeriesId::new(),
            expert_id: new.expert_id,
            client_id: new.client_id,
            recurrence: new.recurrence,
            created_at: guard.timestamp(),
        };
        diesel::insert_into(series::table)
            .values(SeriesRow::from_domain(&series)?)
            .execute(c)?;
        let mut booked = Vec::with_capacity(accepted.len());
        for time in accepted {
            let appointment = availability_core::series::occurrence(&series, time, guard);
            diesel::insert_into(appointments::table)
                .values(AppointmentRow::from_domain(&appointment))
                .execute(c)?;
            if appointment.calendar_type.is_some() {
                crate::outbox::enqueue_sync!(c, appointment.id, appointment.expert_id, guard.now.as_second())?;
            }
            c.emit(Event::appointment(
                WebhookEvent::AppointmentCreated,
                &appointment,
                guard.now.as_second(),
            )?)?;
            booked.push(appointment);
        }
        c.emit(Event::series(&series, &booked, guard.now.as_second())?)?;
        Ok(SeriesBooking {
            series,
            appointments: booked,
            skipped,
        })
    }))
}

pub(crate) fn find(conn: &mut Conn, id: SeriesId) -> Result<(Series, Vec<Appointment>), StoreError> {
    let key = id.to_string();
    let (rows, list) = db_run!(conn, |c| c.transaction(|c| {
        let rows = series::table
            .find(&key)
            .select(SeriesRow::as_select())
            .load::<SeriesRow>(c)?;
        let list = appointments::table
            .filter(appointments::series_id.eq(&key))
            .order((appointments::start_time, appointments::id))
            .select(AppointmentRow::as_select())
            .load::<AppointmentRow>(c)?;
        Ok::<_, StoreError>((rows, list))
    }))?;
    let series = rows
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::NotFound {
            what: "series",
            id: key.clone(),
        })?
        .into_domain()?;
    let list = list
        .into_iter()
        .map(AppointmentRow::into_domain)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((series, list))
}

//! Holds: a client's short reservation of a time, written like a booking inside the expert's
//! locked transaction. Expired holds are removed there first, so an expired hold never blocks a
//! hold or a booking; slot queries read the others and the engine ignores those past their expiry.

use availability_core::BookingGuard;
use availability_domain::{Hold, HoldId, Interval};
use diesel::prelude::*;

use crate::appointments::{checked_in_transaction, require_client};
use crate::db::{db_run, Conn, LockedTransaction};
use crate::rows::{instant, HoldRow};
use crate::schema::holds;
use crate::StoreError;

/// The expert's holds that overlap `window` (expired ones too: the engine ignores them).
macro_rules! holds_overlapping {
    ($c:ident, $expert:expr, $window:expr) => {{
        let window: availability_domain::Interval = $window;
        crate::schema::holds::table
            .filter(crate::schema::holds::expert_id.eq($expert.to_string()))
            .filter(crate::schema::holds::start_time.lt(window.end().as_second()))
            .filter(crate::schema::holds::end_time.gt(window.start().as_second()))
            .select(crate::rows::HoldRow::as_select())
            .order(crate::schema::holds::start_time)
            .load::<crate::rows::HoldRow>($c)?
            .into_iter()
            .map(crate::rows::HoldRow::into_domain)
            .collect::<Result<Vec<availability_domain::Hold>, crate::StoreError>>()?
    }};
}
pub(crate) use holds_overlapping;

/// Removes the expert's holds that have expired at `now` (inside the locked transaction).
macro_rules! remove_expired {
    ($c:ident, $expert:expr, $now:expr) => {{
        let now: i64 = $now;
        diesel::delete(
            crate::schema::holds::table
                .filter(crate::schema::holds::expert_id.eq($expert.to_string()))
                .filter(crate::schema::holds::expires_at.le(now)),
        )
        .execute($c)?
    }};
}
pub(crate) use remove_expired;

/// The hold a booking redeems, checked inside the booking's transaction: active at the guard's
/// instant, the booking client's, for this expert and exactly this time. It is removed: the
/// booking takes its place.
macro_rules! redeem {
    ($c:ident, $new:expr, $guard:expr) => {{
        let new: &availability_domain::NewAppointment = $new;
        let guard: &availability_core::BookingGuard = $guard;
        if let Some(id) = guard.hold {
            let row = crate::schema::holds::table
                .find(id.to_string())
                .select(crate::rows::HoldRow::as_select())
                .load::<crate::rows::HoldRow>($c)?
                .into_iter()
                .next();
            let hold = match row {
                Some(row) => row.into_domain()?,
                None => {
                    return Err(crate::StoreError::Refused(availability_core::CoreError::HoldExpired(
                        id,
                    )))
                }
            };
            guard.redeems(&hold, new).map_err(crate::StoreError::Refused)?;
            diesel::delete(crate::schema::holds::table.find(id.to_string())).execute($c)?;
        }
    }};
}
pub(crate) use redeem;

/// Stores `hold` if its time passes the guard like a booking's (other clients' active holds
/// block it), replacing the client's earlier hold with this expert.
pub(crate) fn create(conn: &mut Conn, hold: &Hold, guard: &BookingGuard) -> Result<Hold, StoreError> {
    let expert_key = hold.expert_id.to_string();
    let client_key = hold.client_id.to_string();
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        require_client!(c, &client_key);
        remove_expired!(c, hold.expert_id, guard.now.as_second());
        diesel::delete(
            holds::table
                .filter(holds::expert_id.eq(&expert_key))
                .filter(holds::client_id.eq(&client_key)),
        )
        .execute(c)?;
        let expert = checked_in_transaction!(c, hold.expert_id, hold.time, guard, None);
        if expert.integration_type != guard.integration {
            return Err(StoreError::SlotUnavailable(
                "the expert switched calendars while this hold was checked; try again".into(),
            ));
        }
        diesel::insert_into(holds::table)
            .values(HoldRow::from_domain(hold, guard.now.as_second()))
            .execute(c)?;
        Ok(hold.clone())
    }))
}

pub(crate) fn find(conn: &mut Conn, id: HoldId) -> Result<Hold, StoreError> {
    let row = db_run!(conn, |c| holds::table
        .find(id.to_string())
        .select(HoldRow::as_select())
        .load::<HoldRow>(c))?;
    row.into_iter()
        .next()
        .ok_or_else(|| StoreError::NotFound {
            what: "hold",
            id: id.to_string(),
        })?
        .into_domain()
}

pub(crate) fn release(conn: &mut Conn, id: HoldId) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::delete(holds::table.find(id.to_string())).execute(c))?;
    Ok(())
}

impl HoldRow {
    pub(crate) fn from_domain(h: &Hold, now: i64) -> Self {
        Self {
            id: h.id.to_string(),
            expert_id: h.expert_id.to_string(),
            client_id: h.client_id.to_string(),
            start_time: h.time.start().as_second(),
            end_time: h.time.end().as_second(),
            expires_at: h.expires_at.as_second(),
            created_at: now,
        }
    }

    pub(crate) fn into_domain(self) -> Result<Hold, StoreError> {
        let time = Interval::new(instant(self.start_time)?, instant(self.end_time)?)
            .map_err(|e| crate::rows::corrupt("hold time", e))?;
        Ok(Hold {
            id: self.id.parse().map_err(|e| crate::rows::corrupt("hold id", e))?,
            expert_id: self
                .expert_id
                .parse()
                .map_err(|e| crate::rows::corrupt("expert id", e))?,
            client_id: self
                .client_id
                .parse()
                .map_err(|e| crate::rows::corrupt("client id", e))?,
            time,
            expires_at: instant(self.expires_at)?,
        })
    }
}

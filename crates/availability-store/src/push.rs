//! Push channels opened on experts' calendars, and the lease under which one server process at a
//! time opens, renews or stops an expert's channels.

use availability_domain::{ExpertId, IntegrationType};
use diesel::prelude::*;

use crate::db::{db_run, Conn, LockedTransaction};
use crate::schema::{expert_calendar_versions, push_channels as pc, push_leases as pl};
use crate::tokens::token_hash;
use crate::StoreError;

/// A channel as stored (its token only as a hash).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = pc)]
pub struct PushChannel {
    /// Our id for it (the calendar sends it with every notification).
    pub id: String,
    /// Whose calendar.
    pub expert_id: String,
    /// Which integration.
    pub integration_type: String,
    /// The expert's calendar connection it was opened for.
    pub connection: i64,
    /// SHA-256 of its token, hex.
    pub token_hash: String,
    /// The calendar's id of what it watches.
    pub resource_id: String,
    /// When the calendar stops sending on it (Unix seconds).
    pub expires_at: i64,
    /// When it was opened or last renewed in place (Unix seconds): its lifetime runs from here.
    pub created_at: i64,
    /// When the last notification came (Unix seconds).
    pub last_notification_at: Option<i64>,
}

impl PushChannel {
    /// Whether `token` is the channel's (compared on hashes, in constant time).
    pub fn token_matches(&self, token: &str) -> bool {
        // As the other secret comparisons of this crate (ring's constant-time comparison).
        #[allow(deprecated)]
        ring::constant_time::verify_slices_are_equal(token_hash(token).as_bytes(), self.token_hash.as_bytes()).is_ok()
    }
}

/// A channel to store, with its token in clear (hashed here).
#[derive(Debug, Clone)]
pub struct NewPushChannel {
    /// Our id for it.
    pub id: String,
    /// Whose calendar.
    pub expert: ExpertId,
    /// Which integration.
    pub integration: IntegrationType,
    /// The connection it was opened for.
    pub connection: i64,
    /// Its token.
    pub token: String,
    /// The calendar's id of what it watches.
    pub resource_id: String,
    /// When it expires.
    pub expires_at: i64,
}

pub(crate) fn insert(conn: &mut Conn, channel: &NewPushChannel, now: i64) -> Result<(), StoreError> {
    let hash = token_hash(&channel.token);
    db_run!(conn, |c| diesel::insert_into(pc::table)
        .values((
            pc::id.eq(&channel.id),
            pc::expert_id.eq(channel.expert.to_string()),
            pc::integration_type.eq(channel.integration.as_str()),
            pc::connection.eq(channel.connection),
            pc::token_hash.eq(&hash),
            pc::resource_id.eq(&channel.resource_id),
            pc::expires_at.eq(channel.expires_at),
            pc::created_at.eq(now),
        ))
        .execute(c))?;
    Ok(())
}

pub(crate) fn find(conn: &mut Conn, id: &str) -> Result<Option<PushChannel>, StoreError> {
    let rows = db_run!(conn, |c| pc::table
        .find(id)
        .select(PushChannel::as_select())
        .load::<PushChannel>(c))?;
    Ok(rows.into_iter().next())
}

/// The expert's channels of one integration, newest first.
pub(crate) fn of_expert(
    conn: &mut Conn,
    expert: ExpertId,
    integration: IntegrationType,
) -> Result<Vec<PushChannel>, StoreError> {
    let key = expert.to_string();
    Ok(db_run!(conn, |c| pc::table
        .filter(pc::expert_id.eq(&key))
        .filter(pc::integration_type.eq(integration.as_str()))
        .order((pc::created_at.desc(), pc::id))
        .select(PushChannel::as_select())
        .load::<PushChannel>(c))?)
}

/// Every stored channel (for the channels of experts who left the integration).
pub(crate) fn all(conn: &mut Conn) -> Result<Vec<PushChannel>, StoreError> {
    Ok(db_run!(conn, |c| pc::table
        .order(pc::id)
        .select(PushChannel::as_select())
        .load::<PushChannel>(c))?)
}

pub(crate) fn delete(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::delete(pc::table.find(id)).execute(c))?;
    Ok(())
}

/// A channel the calendar extended in place: its new expiry, its lifetime counted from now.
pub(crate) fn renewed(conn: &mut Conn, id: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::update(pc::table.find(id))
        .set((pc::expires_at.eq(expires_at), pc::created_at.eq(now)))
        .execute(c))?;
    Ok(())
}

/// A channel the calendar wants renewed now: its lifetime is counted from the epoch, so it is
/// past half of it and the next keeper round renews it (its expiry stays true).
pub(crate) fn due(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::update(pc::table.find(id))
        .set(pc::created_at.eq(0_i64))
        .execute(c))?;
    Ok(())
}

pub(crate) fn noticed(conn: &mut Conn, id: &str, now: i64) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::update(pc::table.find(id))
        .set(pc::last_notification_at.eq(now))
        .execute(c))?;
    Ok(())
}

/// The expert's current calendar connection number.
pub(crate) fn connection(conn: &mut Conn, expert: ExpertId) -> Result<i64, StoreError> {
    let key = expert.to_string();
    let rows = db_run!(conn, |c| expert_calendar_versions::table
        .find(&key)
        .select(expert_calendar_versions::connection)
        .load::<i64>(c))?;
    Ok(rows.into_iter().next().unwrap_or_default())
}

/// Takes the lease on the expert's channels of one integration until `until`, if nobody holds it
/// (under the expert's lock, so two processes never both get it). True when taken.
pub(crate) fn take_lease(
    conn: &mut Conn,
    expert: ExpertId,
    integration: IntegrationType,
    now: i64,
    until: i64,
) -> Result<bool, StoreError> {
    let key = expert.to_string();
    db_run!(conn, |c| c.locked_transaction(&key, |c| {
        let held = pl::table
            .find((&key, integration.as_str()))
            .select(pl::lease_until)
            .load::<i64>(c)?
            .into_iter()
            .next();
        match held {
            Some(lease) if lease > now => Ok(false),
            Some(_) => {
                diesel::update(pl::table.find((&key, integration.as_str())))
                    .set(pl::lease_until.eq(until))
                    .execute(c)?;
                Ok(true)
            }
            None => {
                diesel::insert_into(pl::table)
                    .values((
                        pl::expert_id.eq(&key),
                        pl::integration_type.eq(integration.as_str()),
                        pl::lease_until.eq(until),
                    ))
                    .execute(c)?;
                Ok(true)
            }
        }
    }))
}

/// Gives the lease back.
pub(crate) fn release_lease(conn: &mut Conn, expert: ExpertId, integration: IntegrationType) -> Result<(), StoreError> {
    let key = expert.to_string();
    db_run!(conn, |c| diesel::update(pl::table.find((&key, integration.as_str())))
        .set(pl::lease_until.eq(0_i64))
        .execute(c))?;
    Ok(())
}

//! Experts, clients, weekly rules, date overrides and booking policies.

use availability_domain::{
    BookingPolicy, Client, ClientId, DateOverride, Expert, ExpertId, IntegrationType, Schedule, VideoPolicy,
    WeeklyRule, Zone,
};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::db::{db_run, Conn};
use crate::rows::{corrupt, ClientRow, ExpertRow};
use crate::schema::{clients, expert_profiles, expert_schedules};
use crate::StoreError;

/// A partial update of an expert's profile.
#[derive(Debug, Clone, Default)]
pub struct ExpertPatch {
    /// New display name.
    pub name: Option<String>,
    /// New contact address.
    pub email: Option<String>,
    /// New zone.
    pub timezone: Option<Zone>,
}

fn expert_not_found(id: ExpertId) -> StoreError {
    StoreError::NotFound {
        what: "expert",
        id: id.to_string(),
    }
}

pub(crate) fn insert_expert(conn: &mut Conn, expert: &Expert, now: i64) -> Result<(), StoreError> {
    let row = ExpertRow::from_domain(expert, now);
    db_run!(conn, |c| diesel::insert_into(expert_profiles::table)
        .values(&row)
        .execute(c))?;
    Ok(())
}

/// Loads one expert on a concrete connection (usable inside transactions of either backend).
///
/// Primary-key lookups here load the (at most one) row instead of using `.first()`: SQLite treats a
/// bound `LIMIT ?` as part of the plan, so every execution of a cached `.first()` statement was
/// prepared again (about a fifth of a slot query's CPU time under load).
macro_rules! load_expert {
    ($c:ident, $id:expr) => {{
        let id: availability_domain::ExpertId = $id;
        crate::schema::expert_profiles::table
            .find(id.to_string())
            .select(crate::rows::ExpertRow::as_select())
            .load($c)
            .map(|rows| rows.into_iter().next())
            .map_err(crate::StoreError::from)
            .and_then(|row| {
                row.ok_or_else(|| crate::StoreError::NotFound {
                    what: "expert",
                    id: id.to_string(),
                })?
                .into_domain()
            })
    }};
}
pub(crate) use load_expert;

pub(crate) fn expert(conn: &mut Conn, id: ExpertId) -> Result<Expert, StoreError> {
    db_run!(conn, |c| load_expert!(c, id))
}

pub(crate) fn update_expert(
    conn: &mut Conn,
    id: ExpertId,
    patch: &ExpertPatch,
    now: i64,
) -> Result<Expert, StoreError> {
    let key = id.to_string();
    let changed = db_run!(conn, |c| {
        c.transaction(|c| {
            let mut n = 0;
            if let Some(name) = &patch.name {
                n += diesel::update(expert_profiles::table.find(&key))
                    .set(expert_profiles::name.eq(name))
                    .execute(c)?;
            }
            if let Some(email) = &patch.email {
                n += diesel::update(expert_profiles::table.find(&key))
                    .set(expert_profiles::email.eq(email))
                    .execute(c)?;
            }
            if let Some(zone) = &patch.timezone {
                n += diesel::update(expert_profiles::table.find(&key))
                    .set(expert_profiles::timezone.eq(zone.name()))
                    .execute(c)?;
            }
            n += diesel::update(expert_profiles::table.find(&key))
                .set(expert_profiles::updated_at.eq(now))
                .execute(c)?;
            Ok::<_, diesel::result::Error>(n)
        })
    })?;
    if changed == 0 {
        return Err(expert_not_found(id));
    }
    expert(conn, id)
}

/// Replaces the expert's policy. With `video_integrations`, a policy asking the calendar for
/// meetings is stored only while the expert's integration is one of them (checked by the update
/// itself, so a concurrent switch cannot slip between check and write): None when refused.
pub(crate) fn set_policy(
    conn: &mut Conn,
    id: ExpertId,
    p: &BookingPolicy,
    video_integrations: Option<&[IntegrationType]>,
    now: i64,
) -> Result<Option<Expert>, StoreError> {
    let key = id.to_string();
    let allowed: Option<Vec<&str>> = video_integrations
        .filter(|_| *p.video() == VideoPolicy::Provider)
        .map(|list| list.iter().map(|t| t.as_str()).collect());
    let video = p.video().as_str();
    let limit = |n: Option<u32>| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    let video_url = p.video().room().map(|room| room.as_str().to_owned());
    macro_rules! values {
        () => {
            (
                expert_profiles::slot_duration_minutes.eq(p.slot_duration_minutes() as i32),
                expert_profiles::slot_interval_minutes.eq(p.slot_interval_minutes() as i32),
                expert_profiles::buffer_before_minutes.eq(p.buffer_before_minutes() as i32),
                expert_profiles::buffer_after_minutes.eq(p.buffer_after_minutes() as i32),
                expert_profiles::minimum_notice_minutes.eq(p.minimum_notice_minutes() as i32),
                expert_profiles::booking_horizon_days.eq(p.booking_horizon_days() as i32),
                expert_profiles::video.eq(video),
                expert_profiles::video_url.eq(video_url.as_deref()),
                expert_profiles::max_bookings_per_day.eq(limit(p.max_bookings_per_day())),
                expert_profiles::max_bookings_per_week.eq(limit(p.max_bookings_per_week())),
                expert_profiles::max_bookings_per_month.eq(limit(p.max_bookings_per_month())),
                expert_profiles::max_booked_minutes_per_day.eq(limit(p.max_booked_minutes_per_day())),
                expert_profiles::max_series_occurrences.eq(p.max_series_occurrences() as i32),
                expert_profiles::updated_at.eq(now),
            )
        };
    }
    let n = db_run!(conn, |c| match &allowed {
        None => diesel::update(expert_profiles::table.find(&key))
            .set(values!())
            .execute(c),
        Some(allowed) => diesel::update(
            expert_profiles::table
                .find(&key)
                .filter(expert_profiles::integration_type.eq_any(allowed))
        )
        .set(values!())
        .execute(c),
    })?;
    if n == 0 {
        // Unknown expert (an error), or an integration that makes no meetings (refused).
        return expert(conn, id).map(|_| None);
    }
    expert(conn, id).map(Some)
}

/// Sets the expert's integration. Unless `makes_video`, a policy asking the calendar for meetings
/// refuses the switch (checked by the update itself): None when refused, nothing changed.
pub(crate) fn set_integration(
    conn: &mut Conn,
    id: ExpertId,
    integration: IntegrationType,
    makes_video: bool,
    now: i64,
) -> Result<Option<Expert>, StoreError> {
    let key = id.to_string();
    let values = (
        expert_profiles::integration_type.eq(integration.as_str()),
        expert_profiles::updated_at.eq(now),
    );
    let n = db_run!(conn, |c| if makes_video {
        diesel::update(expert_profiles::table.find(&key)).set(values).execute(c)
    } else {
        diesel::update(
            expert_profiles::table
                .find(&key)
                .filter(expert_profiles::video.ne(VideoPolicy::Provider.as_str())),
        )
        .set(values)
        .execute(c)
    })?;
    if n == 0 {
        return expert(conn, id).map(|_| None);
    }
    expert(conn, id).map(Some)
}

/// How a client's email is compared: trimmed, ASCII letters lower-cased (what the migration's
/// `lower(trim(email))` computes in both databases; the unique index is on it).
pub(crate) fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// Stores a client; another client with the same email (compared case-insensitively) is
/// [`StoreError::EmailTaken`].
pub(crate) fn insert_client(conn: &mut Conn, client: &Client, now: i64) -> Result<(), StoreError> {
    let row = ClientRow {
        id: client.id.to_string(),
        name: client.name.clone(),
        email: client.email.clone(),
        timezone: client.timezone.name().to_owned(),
        created_at: now,
        email_key: Some(email_key(&client.email)),
    };
    match db_run!(conn, |c| diesel::insert_into(clients::table).values(&row).execute(c)) {
        Ok(_) => Ok(()),
        // The id is a fresh UUID: the one unique rule an insert can break is the email's.
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Err(StoreError::EmailTaken)
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn client(conn: &mut Conn, id: ClientId) -> Result<Client, StoreError> {
    let key = id.to_string();
    let row = db_run!(conn, |c| clients::table
        .find(&key)
        .select(ClientRow::as_select())
        .load(c)
        .map(|rows| rows.into_iter().next()))?;
    row.ok_or_else(|| StoreError::NotFound {
        what: "client",
        id: id.to_string(),
    })?
    .into_domain()
}

/// The default schedule's zone, rules and overrides (what GET and PUT availability show).
pub(crate) fn schedule(conn: &mut Conn, expert: &Expert) -> Result<Schedule, StoreError> {
    let set = db_run!(conn, |c| crate::schedules::load_schedule_set!(c, expert))?;
    Ok(set.default_schedule().hours.clone())
}

/// Replaces every rule and override of the expert's default schedule (and the zone, if given:
/// the default schedule's zone is the expert's) in one transaction.
pub(crate) fn replace_schedule(
    conn: &mut Conn,
    id: ExpertId,
    rules: &[WeeklyRule],
    overrides: &[DateOverride],
    zone: Option<&Zone>,
    now: i64,
) -> Result<(), StoreError> {
    let key = id.to_string();
    let (rules, overrides) = crate::schedules::hours_json(rules, overrides)?;
    let found = db_run!(conn, |c| {
        c.transaction(|c| {
            let n = diesel::update(expert_profiles::table.find(&key))
                .set(expert_profiles::updated_at.eq(now))
                .execute(c)?;
            if n == 0 {
                return Ok(false);
            }
            if let Some(zone) = zone {
                // A trigger gives the default schedule the same zone.
                diesel::update(expert_profiles::table.find(&key))
                    .set(expert_profiles::timezone.eq(zone.name()))
                    .execute(c)?;
            }
            diesel::update(
                expert_schedules::table
                    .filter(expert_schedules::expert_id.eq(&key))
                    .filter(expert_schedules::is_default.eq(true)),
            )
            .set((
                expert_schedules::rules.eq(&rules),
                expert_schedules::overrides.eq(&overrides),
            ))
            .execute(c)?;
            Ok::<_, diesel::result::Error>(true)
        })
    })?;
    if found {
        Ok(())
    } else {
        Err(expert_not_found(id))
    }
}

/// The client with this email, compared case-insensitively (the unique key; a duplicate older
/// than the rule has none and is never found here).
pub(crate) fn client_by_email(conn: &mut Conn, email: &str) -> Result<Option<Client>, StoreError> {
    let key = email_key(email);
    let row = db_run!(conn, |c| clients::table
        .filter(clients::email_key.eq(&key))
        .select(ClientRow::as_select())
        .load(c)
        .map(|rows| rows.into_iter().next()))?;
    row.map(ClientRow::into_domain).transpose()
}

diesel::define_sql_function! {
    /// SQL's lower(): name search is case-insensitive on both backends (PostgreSQL's LIKE is not).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Where a page of the expert list starts: after this (name, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertCursor {
    /// The last listed expert's name.
    pub name: String,
    /// The last listed expert's id.
    pub id: ExpertId,
}

/// `%`, `_` and `\` of a search are matched as themselves.
fn like_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for ch in q.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// An expert as the directory lists them: four columns, read for every expert of a directory
/// question (10,000 in a marketplace), so nothing else is read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The expert.
    pub id: ExpertId,
    /// Their name, as listed.
    pub name: String,
    /// Their IANA zone, as stored.
    pub timezone: String,
    /// Where their availability comes from (to name a provider that cannot be asked).
    pub integration_type: IntegrationType,
}

/// How many directory rows one query reads. A query for the whole directory would be sorted by
/// PostgreSQL (its planner prefers a scan and a sort of every row to the index, and a sort of
/// 10,000 names by the database's collation takes 15 ms); pages of this size are read in the
/// index's order, each starting where the last ended (4 ms for 10,000).
const DIRECTORY_CHUNK: i64 = 1000;

/// Every expert whose name contains `q` (case-insensitively), by name then id (the index's
/// order), after `after`, at most `limit`: the directory's pages and questions.
pub(crate) fn directory(
    conn: &mut Conn,
    q: Option<&str>,
    after: Option<&ExpertCursor>,
    limit: i64,
) -> Result<Vec<DirectoryEntry>, StoreError> {
    let pattern = q.map(like_pattern);
    let mut after = after.map(|a| (a.name.clone(), a.id.to_string()));
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    while (rows.len() as i64) < limit {
        let chunk = (limit - rows.len() as i64).min(DIRECTORY_CHUNK);
        let page: Vec<(String, String, String, String)> = db_run!(conn, |c| {
            let mut query = expert_profiles::table
                .select((
                    expert_profiles::id,
                    expert_profiles::name,
                    expert_profiles::timezone,
                    expert_profiles::integration_type,
                ))
                .order((expert_profiles::name, expert_profiles::id))
                .limit(chunk)
                .into_boxed();
            if let Some(p) = &pattern {
                query = query.filter(lower(expert_profiles::name).like(p.clone()).escape('\\'));
            }
            if let Some((name, id)) = &after {
                // A row comparison: the index's own order, so each page starts in the index.
                query = query.filter(
                    sql::<Bool>("(name, id) > (")
                        .bind::<Text, _>(name.clone())
                        .sql(", ")
                        .bind::<Text, _>(id.clone())
                        .sql(")"),
                );
            }
            query.load(c)
        })?;
        let full = page.len() as i64 == chunk;
        after = page.last().map(|(id, name, ..)| (name.clone(), id.clone()));
        rows.extend(page);
        if !full {
            break;
        }
    }
    rows.into_iter().map(directory_entry).collect()
}

/// The directory rows of these experts (in no order; one that is gone is absent).
pub(crate) fn directory_rows(conn: &mut Conn, ids: &[ExpertId]) -> Result<Vec<DirectoryEntry>, StoreError> {
    let mut rows: Vec<(String, String, String, String)> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let keys: Vec<String> = chunk.iter().map(ToString::to_string).collect();
        rows.extend(db_run!(conn, |c| expert_profiles::table
            .filter(expert_profiles::id.eq_any(&keys))
            .select((
                expert_profiles::id,
                expert_profiles::name,
                expert_profiles::timezone,
                expert_profiles::integration_type,
            ))
            .load::<(String, String, String, String)>(c))?);
    }
    rows.into_iter().map(directory_entry).collect()
}

fn directory_entry(
    (id, name, timezone, integration): (String, String, String, String),
) -> Result<DirectoryEntry, StoreError> {
    Ok(DirectoryEntry {
        id: id.parse().map_err(|e| corrupt("expert id", e))?,
        name,
        timezone,
        integration_type: integration
            .parse::<IntegrationType>()
            .map_err(|e| corrupt("integration", e))?,
    })
}

/// The clients who have (or had) an appointment with the expert, by name: whom the expert's agenda
/// names.
pub(crate) fn clients_of_expert(conn: &mut Conn, expert: ExpertId) -> Result<Vec<Client>, StoreError> {
    use crate::schema::appointments;
    let key = expert.to_string();
    let rows: Vec<ClientRow> = db_run!(conn, |c| clients::table
        .filter(
            clients::id.eq_any(
                appointments::table
                    .filter(appointments::expert_id.eq(&key))
                    .select(appointments::client_id)
            )
        )
        .order((clients::name, clients::id))
        .select(ClientRow::as_select())
        .load(c))?;
    rows.into_iter().map(ClientRow::into_domain).collect()
}

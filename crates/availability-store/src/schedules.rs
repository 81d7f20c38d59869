//! An expert's named schedules and the periods on which one of them applies instead of the
//! default (#16). A schedule's rules and overrides are stored as JSON in the domain's own shape
//! and always read and written whole; the default schedule's zone is the expert's.

use availability_core::CoreError;
use availability_domain::jiff::civil::Date;
use availability_domain::{
    DateOverride, Expert, ExpertId, NamedSchedule, Schedule, ScheduleId, SchedulePeriod, ScheduleSet, WeeklyRule, Zone,
};
use diesel::prelude::*;

use crate::db::{db_run, Conn, LockedTransaction};
use crate::rows::corrupt;
use crate::schema::{expert_profiles, expert_schedules, schedule_periods};
use crate::StoreError;

/// id, name, timezone, rules, overrides, is_default.
pub(crate) type ScheduleRow = (String, String, String, String, String, bool);
/// schedule_id, from_date, to_date.
pub(crate) type PeriodRow = (String, String, String);

/// Loads every schedule of the expert (the default first, then in the order they were made) and
/// every period, on a concrete connection: two indexed reads.
macro_rules! load_schedule_set {
    ($c:ident, $expert:expr) => {{
        let expert: &availability_domain::Expert = $expert;
        let key = expert.id.to_string();
        use crate::schema::{expert_schedules as s, schedule_periods as p};
        let rows = s::table
            .filter(s::expert_id.eq(&key))
            .order((s::is_default.desc(), s::created_at, s::id))
            .select((s::id, s::name, s::timezone, s::rules, s::overrides, s::is_default))
            .load::<crate::schedules::ScheduleRow>($c);
        let periods = p::table
            .filter(p::expert_id.eq(&key))
            .order(p::from_date)
            .select((p::schedule_id, p::from_date, p::to_date))
            .load::<crate::schedules::PeriodRow>($c);
        match (rows, periods) {
            (Ok(rows), Ok(periods)) => crate::schedules::set_from_rows(expert, rows, periods),
            (Err(e), _) | (_, Err(e)) => Err(crate::StoreError::from(e)),
        }
    }};
}
pub(crate) use load_schedule_set;

pub(crate) fn set_from_rows(
    expert: &Expert,
    rows: Vec<ScheduleRow>,
    periods: Vec<PeriodRow>,
) -> Result<ScheduleSet, StoreError> {
    let schedules = rows
        .into_iter()
        .map(|(id, name, timezone, rules, overrides, is_default)| {
            // The default schedule's zone is the expert's (the column mirrors it).
            let zone = if is_default {
                expert.timezone.clone()
            } else {
                timezone.parse::<Zone>().map_err(|e| corrupt("schedule zone", e))?
            };
            let rules: Vec<WeeklyRule> = serde_json::from_str(&rules).map_err(|e| corrupt("schedule rules", e))?;
            let overrides: Vec<DateOverride> =
                serde_json::from_str(&overrides).map_err(|e| corrupt("schedule overrides", e))?;
            let hours = Schedule::new(zone, rules, overrides).map_err(|e| corrupt("schedule", e))?;
            let id = id.parse::<ScheduleId>().map_err(|e| corrupt("schedule id", e))?;
            NamedSchedule::new(id, &name, is_default, hours).map_err(|e| corrupt("schedule", e))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let periods = periods
        .into_iter()
        .map(|(schedule, from, to)| {
            let schedule = schedule.parse::<ScheduleId>().map_err(|e| corrupt("period", e))?;
            let from = from.parse::<Date>().map_err(|e| corrupt("period", e))?;
            let to = to.parse::<Date>().map_err(|e| corrupt("period", e))?;
            SchedulePeriod::new(schedule, from, to).map_err(|e| corrupt("period", e))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    ScheduleSet::new(schedules, periods).map_err(|e| corrupt("schedules", e))
}

/// The expert's schedules and periods.
pub(crate) fn schedule_set(conn: &mut Conn, id: ExpertId) -> Result<ScheduleSet, StoreError> {
    db_run!(conn, |c| {
        let expert = crate::experts::load_expert!(c, id)?;
        load_schedule_set!(c, &expert)
    })
}

/// What a write changes of one schedule.
#[derive(Debug, Clone)]
pub struct ScheduleChange {
    /// 1-100 characters (trimmed).
    pub name: String,
    /// The zone; None keeps the schedule's (a new one takes the expert's).
    pub timezone: Option<Zone>,
    /// Weekly rules.
    pub rules: Vec<WeeklyRule>,
    /// Date overrides.
    pub overrides: Vec<DateOverride>,
    /// Some(true) makes it the default (the old default stops being one); Some(false) on the
    /// default is refused (make another one the default instead); None keeps it as it is.
    pub is_default: Option<bool>,
}

fn default_refused(message: &str) -> StoreError {
    StoreError::Refused(CoreError::DefaultSchedule(message.to_owned()))
}

fn json<T: serde::Serialize + ?Sized>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(what, e))
}

/// Rules in the order given (as sent, as shown) and overrides by date, as JSON. Checked first
/// (one override per date), so that nothing unreadable is ever stored.
pub(crate) fn hours_json(rules: &[WeeklyRule], overrides: &[DateOverride]) -> Result<(String, String), StoreError> {
    Schedule::new(Zone::utc(), rules.to_vec(), overrides.to_vec()).map_err(|e| StoreError::Refused(e.into()))?;
    let mut overrides = overrides.to_vec();
    overrides.sort_by_key(|o| o.date);
    Ok((json("rules", rules)?, json("overrides", &overrides)?))
}

/// Makes `id` the expert's default: unsets the old one and gives the expert the schedule's zone
/// (the default schedule's zone is the expert's). Inside the caller's locked transaction.
macro_rules! make_default {
    ($c:ident, $expert_key:expr, $id_key:expr, $zone:expr, $now:expr) => {{
        let (expert_key, id_key, zone): (&str, &str, &Zone) = ($expert_key, $id_key, $zone);
        diesel::update(
            expert_schedules::table
                .filter(expert_schedules::expert_id.eq(expert_key))
                .filter(expert_schedules::is_default.eq(true)),
        )
        .set(expert_schedules::is_default.eq(false))
        .execute($c)?;
        diesel::update(expert_schedules::table.find(id_key))
            .set(expert_schedules::is_default.eq(true))
            .execute($c)?;
        // Through the trigger, the new default's zone column follows the expert's.
        diesel::update(expert_profiles::table.find(expert_key))
            .set((
                expert_profiles::timezone.eq(zone.name()),
                expert_profiles::updated_at.eq($now),
            ))
            .execute($c)?;
    }};
}

/// Stores a new schedule for the expert (under the expert's lock, so two defaults never race).
pub(crate) fn create(
    conn: &mut Conn,
    expert_id: ExpertId,
    change: &ScheduleChange,
    now: i64,
) -> Result<NamedSchedule, StoreError> {
    let expert_key = expert_id.to_string();
    let id = ScheduleId::new();
    let id_key = id.to_string();
    let (rules, overrides) = hours_json(&change.rules, &change.overrides)?;
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        let expert = crate::experts::load_expert!(c, expert_id)?;
        let zone = change.timezone.clone().unwrap_or(expert.timezone.clone());
        let hours = Schedule::new(zone.clone(), change.rules.clone(), change.overrides.clone())
            .map_err(|e| StoreError::Refused(e.into()))?;
        let made = NamedSchedule::new(id, &change.name, false, hours).map_err(|e| StoreError::Refused(e.into()))?;
        diesel::insert_into(expert_schedules::table)
            .values((
                expert_schedules::id.eq(&id_key),
                expert_schedules::expert_id.eq(&expert_key),
                expert_schedules::name.eq(made.name()),
                expert_schedules::timezone.eq(zone.name()),
                expert_schedules::rules.eq(&rules),
                expert_schedules::overrides.eq(&overrides),
                expert_schedules::is_default.eq(false),
                expert_schedules::created_at.eq(now),
            ))
            .execute(c)?;
        if change.is_default == Some(true) {
            make_default!(c, &expert_key, &id_key, &zone, now);
        }
        let expert = crate::experts::load_expert!(c, expert_id)?;
        one_of(load_schedule_set!(c, &expert)?, id)
    }))
}

/// Replaces a schedule's name, zone, rules and overrides, and makes it the default if asked.
pub(crate) fn update(
    conn: &mut Conn,
    expert_id: ExpertId,
    id: ScheduleId,
    change: &ScheduleChange,
    now: i64,
) -> Result<NamedSchedule, StoreError> {
    let expert_key = expert_id.to_string();
    let id_key = id.to_string();
    let (rules, overrides) = hours_json(&change.rules, &change.overrides)?;
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        let expert = crate::experts::load_expert!(c, expert_id)?;
        let current = one_of(load_schedule_set!(c, &expert)?, id)?;
        if current.is_default && change.is_default == Some(false) {
            return Err(default_refused(
                "this is the default schedule; make another schedule the default instead",
            ));
        }
        let zone = change.timezone.clone().unwrap_or(current.hours.zone.clone());
        let hours = Schedule::new(zone.clone(), change.rules.clone(), change.overrides.clone())
            .map_err(|e| StoreError::Refused(e.into()))?;
        let named = NamedSchedule::new(id, &change.name, current.is_default, hours)
            .map_err(|e| StoreError::Refused(e.into()))?;
        diesel::update(expert_schedules::table.find(&id_key))
            .set((
                expert_schedules::name.eq(named.name()),
                expert_schedules::timezone.eq(zone.name()),
                expert_schedules::rules.eq(&rules),
                expert_schedules::overrides.eq(&overrides),
            ))
            .execute(c)?;
        if current.is_default || change.is_default == Some(true) {
            make_default!(c, &expert_key, &id_key, &zone, now);
        }
        let expert = crate::experts::load_expert!(c, expert_id)?;
        one_of(load_schedule_set!(c, &expert)?, id)
    }))
}

/// Deletes a schedule that is not the default, with its periods.
pub(crate) fn delete(conn: &mut Conn, expert_id: ExpertId, id: ScheduleId) -> Result<(), StoreError> {
    let expert_key = expert_id.to_string();
    let id_key = id.to_string();
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        let expert = crate::experts::load_expert!(c, expert_id)?;
        if one_of(load_schedule_set!(c, &expert)?, id)?.is_default {
            return Err(default_refused(
                "the default schedule cannot be deleted; make another schedule the default first",
            ));
        }
        diesel::delete(schedule_periods::table.filter(schedule_periods::schedule_id.eq(&id_key))).execute(c)?;
        diesel::delete(expert_schedules::table.find(&id_key)).execute(c)?;
        Ok(())
    }))
}

/// Replaces every period of the expert, validated against the schedules as they are inside the
/// locked transaction (a schedule deleted meanwhile is `unknown_schedule`, not a broken row).
pub(crate) fn replace_periods(
    conn: &mut Conn,
    expert_id: ExpertId,
    periods: &[SchedulePeriod],
) -> Result<ScheduleSet, StoreError> {
    let expert_key = expert_id.to_string();
    db_run!(conn, |c| c.locked_transaction(&expert_key, |c| {
        let expert = crate::experts::load_expert!(c, expert_id)?;
        let set = load_schedule_set!(c, &expert)?
            .with_periods(periods.to_vec())
            .map_err(|e| StoreError::Refused(e.into()))?;
        diesel::delete(schedule_periods::table.filter(schedule_periods::expert_id.eq(&expert_key))).execute(c)?;
        for p in set.periods() {
            diesel::insert_into(schedule_periods::table)
                .values((
                    schedule_periods::expert_id.eq(&expert_key),
                    schedule_periods::schedule_id.eq(p.schedule_id().to_string()),
                    schedule_periods::from_date.eq(p.from_date().to_string()),
                    schedule_periods::to_date.eq(p.to_date().to_string()),
                ))
                .execute(c)?;
        }
        Ok(set)
    }))
}

/// The schedule `id` of the set, or NotFound (another expert's schedule is not found either).
fn one_of(set: ScheduleSet, id: ScheduleId) -> Result<NamedSchedule, StoreError> {
    set.schedule(id).cloned().ok_or_else(|| StoreError::NotFound {
        what: "schedule",
        id: id.to_string(),
    })
}

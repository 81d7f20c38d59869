//! An expert's named schedules (availability templates such as "term time" and "summer"), one of
//! them the default, and the periods of dates on which another schedule applies instead of the
//! default.

use std::collections::HashSet;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::{DateOverride, DomainError, Schedule, ScheduleId, WeeklyRule, Zone};

/// One named schedule: its own zone, weekly rules and date overrides (api.md: `{id, name,
/// timezone, rules, overrides, is_default}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawNamedSchedule", into = "RawNamedSchedule")]
pub struct NamedSchedule {
    /// Stable id.
    pub id: ScheduleId,
    /// What the expert calls it ("Term time"), 1-100 characters.
    name: String,
    /// Whether this is the expert's default schedule (exactly one is, in a [`ScheduleSet`]).
    pub is_default: bool,
    /// Zone, weekly rules and date overrides.
    pub hours: Schedule,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamedSchedule {
    id: ScheduleId,
    name: String,
    timezone: Zone,
    rules: Vec<WeeklyRule>,
    #[serde(default)]
    overrides: Vec<DateOverride>,
    #[serde(default)]
    is_default: bool,
}

impl TryFrom<RawNamedSchedule> for NamedSchedule {
    type Error = DomainError;
    fn try_from(r: RawNamedSchedule) -> Result<Self, Self::Error> {
        let hours = Schedule::new(r.timezone, r.rules, r.overrides)?;
        NamedSchedule::new(r.id, &r.name, r.is_default, hours)
    }
}

impl From<NamedSchedule> for RawNamedSchedule {
    fn from(s: NamedSchedule) -> Self {
        Self {
            id: s.id,
            name: s.name,
            timezone: s.hours.zone,
            rules: s.hours.rules,
            overrides: s.hours.overrides,
            is_default: s.is_default,
        }
    }
}

const MAX_NAME_CHARS: usize = 100;

impl NamedSchedule {
    /// Validates the name: 1-100 characters, not only white space (kept as given, trimmed).
    pub fn new(id: ScheduleId, name: &str, is_default: bool, hours: Schedule) -> Result<Self, DomainError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(DomainError::InvalidScheduleName);
        }
        Ok(Self {
            id,
            name: name.to_owned(),
            is_default,
            hours,
        })
    }

    /// What the expert calls it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The dates (inclusive, local dates of the expert) on which a schedule applies instead of the
/// default, e.g. the summer holidays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawSchedulePeriod")]
pub struct SchedulePeriod {
    schedule_id: ScheduleId,
    from_date: Date,
    to_date: Date,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedulePeriod {
    schedule_id: ScheduleId,
    from_date: Date,
    to_date: Date,
}

impl TryFrom<RawSchedulePeriod> for SchedulePeriod {
    type Error = DomainError;
    fn try_from(r: RawSchedulePeriod) -> Result<Self, Self::Error> {
        SchedulePeriod::new(r.schedule_id, r.from_date, r.to_date)
    }
}

impl SchedulePeriod {
    /// Validates from_date <= to_date (a period of one date has both equal).
    pub fn new(schedule_id: ScheduleId, from_date: Date, to_date: Date) -> Result<Self, DomainError> {
        if to_date < from_date {
            return Err(DomainError::PeriodEndsBeforeStart {
                from: from_date,
                to: to_date,
            });
        }
        Ok(Self {
            schedule_id,
            from_date,
            to_date,
        })
    }

    /// The schedule that applies on these dates.
    pub fn schedule_id(&self) -> ScheduleId {
        self.schedule_id
    }

    /// The first date.
    pub fn from_date(&self) -> Date {
        self.from_date
    }

    /// The last date (inclusive).
    pub fn to_date(&self) -> Date {
        self.to_date
    }

    /// Whether the date lies in the period.
    pub fn contains(&self, date: Date) -> bool {
        self.from_date <= date && date <= self.to_date
    }
}

/// All of an expert's schedules: exactly one default, any others, and the periods during which
/// another one applies. Validated: ids unique, one default, every period names a schedule of the
/// set, no two periods share a date. Periods are kept sorted by their first date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSet {
    schedules: Vec<NamedSchedule>,
    periods: Vec<SchedulePeriod>,
}

impl ScheduleSet {
    /// Validates the set (see the type's documentation).
    pub fn new(schedules: Vec<NamedSchedule>, mut periods: Vec<SchedulePeriod>) -> Result<Self, DomainError> {
        let mut ids = HashSet::with_capacity(schedules.len());
        for s in &schedules {
            if !ids.insert(s.id) {
                return Err(DomainError::DuplicateSchedule(s.id));
            }
        }
        match schedules.iter().filter(|s| s.is_default).count() {
            0 => return Err(DomainError::NoDefaultSchedule),
            1 => {}
            n => return Err(DomainError::SeveralDefaultSchedules(n)),
        }
        if let Some(p) = periods.iter().find(|p| !ids.contains(&p.schedule_id)) {
            return Err(DomainError::UnknownSchedule(p.schedule_id));
        }
        periods.sort_unstable_by_key(|p| (p.from_date, p.to_date));
        for pair in periods.windows(2) {
            if pair[1].from_date <= pair[0].to_date {
                return Err(DomainError::OverlappingPeriods {
                    first_from: pair[0].from_date,
                    first_to: pair[0].to_date,
                    second_from: pair[1].from_date,
                    second_to: pair[1].to_date,
                });
            }
        }
        Ok(Self { schedules, periods })
    }

    /// A set of one schedule, the default, named "Working hours" (what an expert who never made
    /// another has; the stores give it the expert's id).
    pub fn only(id: ScheduleId, hours: Schedule) -> Self {
        let default = NamedSchedule {
            id,
            name: "Working hours".to_owned(),
            is_default: true,
            hours,
        };
        Self {
            schedules: vec![default],
            periods: Vec::new(),
        }
    }

    /// The same schedules with other periods (validated like `new`).
    pub fn with_periods(&self, periods: Vec<SchedulePeriod>) -> Result<Self, DomainError> {
        Self::new(self.schedules.clone(), periods)
    }

    /// Every schedule, in the order given.
    pub fn schedules(&self) -> &[NamedSchedule] {
        &self.schedules
    }

    /// The periods, sorted by date.
    pub fn periods(&self) -> &[SchedulePeriod] {
        &self.periods
    }

    /// The default schedule.
    pub fn default_schedule(&self) -> &NamedSchedule {
        // `new` guarantees exactly one default; the fallback to the first is never taken.
        self.schedules
            .iter()
            .find(|s| s.is_default)
            .unwrap_or(&self.schedules[0])
    }

    /// The same set with other hours for the default schedule (an unsaved edit, for a preview).
    pub fn with_default_hours(&self, hours: Schedule) -> Self {
        let mut set = self.clone();
        if let Some(default) = set.schedules.iter_mut().find(|s| s.is_default) {
            default.hours = hours;
        }
        set
    }

    /// The schedule with this id, if the set has it.
    pub fn schedule(&self, id: ScheduleId) -> Option<&NamedSchedule> {
        self.schedules.iter().find(|s| s.id == id)
    }

    /// The schedule in force on a local date: the one of the period covering it, else the default.
    pub fn in_force_on(&self, date: Date) -> &NamedSchedule {
        let i = self.periods.partition_point(|p| p.from_date <= date);
        i.checked_sub(1)
            .map(|i| &self.periods[i])
            .filter(|p| p.contains(date))
            .and_then(|p| self.schedule(p.schedule_id))
            .unwrap_or_else(|| self.default_schedule())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DayOfWeek;

    fn hours(zone: &str, start: &str) -> Schedule {
        let rule = WeeklyRule::new(
            DayOfWeek::new(1).unwrap(),
            start.parse().unwrap(),
            "17:00".parse().unwrap(),
            true,
        )
        .unwrap();
        Schedule::new(Zone::new(zone).unwrap(), vec![rule], vec![]).unwrap()
    }

    fn d(y: i16, m: i8, day: i8) -> Date {
        jiff::civil::date(y, m, day)
    }

    #[test]
    fn exactly_one_default_and_known_unique_ids() {
        let term = NamedSchedule::new(ScheduleId::new(), "Term time", true, hours("Europe/Berlin", "09:00")).unwrap();
        let summer = NamedSchedule::new(ScheduleId::new(), "Summer", false, hours("Europe/Berlin", "10:00")).unwrap();
        assert!(ScheduleSet::new(vec![term.clone(), summer.clone()], vec![]).is_ok());
        assert_eq!(
            ScheduleSet::new(vec![summer.clone()], vec![]),
            Err(DomainError::NoDefaultSchedule)
        );
        let second_default = NamedSchedule {
            is_default: true,
            ..summer.clone()
        };
        assert_eq!(
            ScheduleSet::new(vec![term.clone(), second_default], vec![]),
            Err(DomainError::SeveralDefaultSchedules(2))
        );
        assert_eq!(
            ScheduleSet::new(vec![term.clone(), term.clone()], vec![]),
            Err(DomainError::DuplicateSchedule(term.id))
        );
        let stranger = ScheduleId::new();
        let period = SchedulePeriod::new(stranger, d(2026, 7, 1), d(2026, 8, 31)).unwrap();
        assert_eq!(
            ScheduleSet::new(vec![term, summer], vec![period]),
            Err(DomainError::UnknownSchedule(stranger))
        );
    }

    #[test]
    fn periods_are_inclusive_and_may_not_overlap() {
        let term = NamedSchedule::new(ScheduleId::new(), "Term time", true, hours("Europe/Berlin", "09:00")).unwrap();
        let summer = NamedSchedule::new(ScheduleId::new(), "Summer", false, hours("Europe/Berlin", "10:00")).unwrap();
        assert_eq!(
            SchedulePeriod::new(summer.id, d(2026, 8, 2), d(2026, 8, 1)),
            Err(DomainError::PeriodEndsBeforeStart {
                from: d(2026, 8, 2),
                to: d(2026, 8, 1)
            })
        );
        let august = SchedulePeriod::new(summer.id, d(2026, 8, 1), d(2026, 8, 31)).unwrap();
        let one_day = SchedulePeriod::new(term.id, d(2026, 8, 31), d(2026, 8, 31)).unwrap();
        let set = ScheduleSet::new(vec![term.clone(), summer.clone()], vec![august]).unwrap();
        assert!(matches!(
            set.with_periods(vec![one_day, august]),
            Err(DomainError::OverlappingPeriods { .. })
        ));
        assert_eq!(set.in_force_on(d(2026, 7, 31)).id, term.id);
        assert_eq!(set.in_force_on(d(2026, 8, 1)).id, summer.id);
        assert_eq!(set.in_force_on(d(2026, 8, 31)).id, summer.id);
        assert_eq!(set.in_force_on(d(2026, 9, 1)).id, term.id);
        let september = SchedulePeriod::new(summer.id, d(2026, 9, 1), d(2026, 9, 1)).unwrap();
        let set = set.with_periods(vec![september, august]).unwrap();
        assert_eq!(set.periods()[0], august, "sorted by date");
        assert_eq!(set.in_force_on(d(2026, 9, 1)).id, summer.id);
        assert_eq!(set.in_force_on(d(2026, 9, 2)).id, term.id);
    }

    #[test]
    fn named_schedules_read_and_write_the_api_shape() {
        let json = serde_json::json!({
            "id": ScheduleId::new(), "name": " Summer ", "timezone": "Europe/Lisbon",
            "rules": [{"day_of_week": 1, "start_time": "10:00", "end_time": "14:00", "is_available": true}],
            "overrides": [{"date": "2026-08-15", "windows": []}],
            "is_default": false
        });
        let s: NamedSchedule = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(s.name(), "Summer");
        assert_eq!(s.hours.zone.name(), "Europe/Lisbon");
        let mut back = serde_json::to_value(&s).unwrap();
        back["name"] = json["name"].clone();
        assert_eq!(back, json);
        for bad in [
            serde_json::json!({"id": ScheduleId::new(), "name": "  ", "timezone": "UTC", "rules": []}),
            serde_json::json!({"id": ScheduleId::new(), "name": "x", "timezone": "Mars/Base", "rules": []}),
            serde_json::json!({"id": ScheduleId::new(), "name": "x", "timezone": "UTC", "rules": [], "colour": 1}),
            serde_json::json!({"id": ScheduleId::new(), "name": "x".repeat(101), "timezone": "UTC", "rules": []}),
        ] {
            assert!(serde_json::from_value::<NamedSchedule>(bad.clone()).is_err(), "{bad}");
        }
        let p: SchedulePeriod = serde_json::from_value(serde_json::json!({
            "schedule_id": s.id, "from_date": "2026-08-01", "to_date": "2026-08-31"
        }))
        .unwrap();
        assert_eq!(p.to_date(), d(2026, 8, 31));
        assert!(serde_json::from_value::<SchedulePeriod>(serde_json::json!({
            "schedule_id": s.id, "from_date": "2026-08-31", "to_date": "2026-08-01"
        }))
        .is_err());
    }
}

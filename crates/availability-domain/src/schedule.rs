//! An expert's working hours: weekly rules and date overrides in the expert's time zone.

use std::collections::HashSet;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::{DayOfWeek, DomainError, LocalTime, Zone};

fn check_window(start: LocalTime, end: LocalTime) -> Result<(), DomainError> {
    if start.is_end_of_day() {
        return Err(DomainError::StartAtEndOfDay);
    }
    if end <= start {
        return Err(DomainError::EndNotAfterStart {
            start: start.to_string(),
            end: end.to_string(),
        });
    }
    Ok(())
}

/// One weekly window of one weekday, in local time. `is_available = false` cuts time out of that
/// day (a lunch break). A rule never crosses midnight: an overnight shift is two rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawWeeklyRule")]
pub struct WeeklyRule {
    /// 0 = Sunday ... 6 = Saturday.
    pub day_of_week: DayOfWeek,
    /// Local start, "00:00" to "23:59".
    pub start_time: LocalTime,
    /// Local end, after the start; "24:00" is the end of the day.
    pub end_time: LocalTime,
    /// true adds time, false cuts it out.
    pub is_available: bool,
}

#[derive(Deserialize)]
struct RawWeeklyRule {
    day_of_week: DayOfWeek,
    start_time: LocalTime,
    end_time: LocalTime,
    #[serde(default = "yes")]
    is_available: bool,
}

fn yes() -> bool {
    true
}

impl TryFrom<RawWeeklyRule> for WeeklyRule {
    type Error = DomainError;
    fn try_from(r: RawWeeklyRule) -> Result<Self, Self::Error> {
        WeeklyRule::new(r.day_of_week, r.start_time, r.end_time, r.is_available)
    }
}

impl WeeklyRule {
    /// Validates that the window is not empty and does not start at "24:00".
    pub fn new(
        day_of_week: DayOfWeek,
        start_time: LocalTime,
        end_time: LocalTime,
        is_available: bool,
    ) -> Result<Self, DomainError> {
        check_window(start_time, end_time)?;
        Ok(Self {
            day_of_week,
            start_time,
            end_time,
            is_available,
        })
    }
}

/// A local window of one date, used by overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawTimeWindow")]
pub struct TimeWindow {
    /// Local start.
    pub start_time: LocalTime,
    /// Local end, after the start; "24:00" is the end of the day.
    pub end_time: LocalTime,
}

#[derive(Deserialize)]
struct RawTimeWindow {
    start_time: LocalTime,
    end_time: LocalTime,
}

impl TryFrom<RawTimeWindow> for TimeWindow {
    type Error = DomainError;
    fn try_from(r: RawTimeWindow) -> Result<Self, Self::Error> {
        TimeWindow::new(r.start_time, r.end_time)
    }
}

impl TimeWindow {
    /// Validates that the window is not empty and does not start at "24:00".
    pub fn new(start_time: LocalTime, end_time: LocalTime) -> Result<Self, DomainError> {
        check_window(start_time, end_time)?;
        Ok(Self { start_time, end_time })
    }
}

/// Replaces every weekly rule of one local date; no windows makes the date a day off.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateOverride {
    /// The local date in the expert's zone.
    pub date: Date,
    /// The available windows of that date (empty: day off).
    pub windows: Vec<TimeWindow>,
}

/// Everything that says when an expert works: zone, weekly rules and date overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The zone the local times are in.
    pub zone: Zone,
    /// Weekly windows; they may overlap (they merge).
    pub rules: Vec<WeeklyRule>,
    /// At most one per date.
    pub overrides: Vec<DateOverride>,
}

impl Schedule {
    /// Validates that no date has two overrides.
    pub fn new(zone: Zone, rules: Vec<WeeklyRule>, overrides: Vec<DateOverride>) -> Result<Self, DomainError> {
        let mut seen = HashSet::with_capacity(overrides.len());
        for o in &overrides {
            if !seen.insert(o.date) {
                return Err(DomainError::DuplicateOverride(o.date));
            }
        }
        Ok(Self { zone, rules, overrides })
    }

    /// A schedule with no hours at all.
    pub fn empty(zone: Zone) -> Self {
        Self {
            zone,
            rules: Vec::new(),
            overrides: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> LocalTime {
        s.parse().unwrap()
    }

    #[test]
    fn rules_refuse_empty_and_inverted_windows() {
        let mon = DayOfWeek::new(1).unwrap();
        assert!(WeeklyRule::new(mon, t("09:00"), t("17:00"), true).is_ok());
        assert!(WeeklyRule::new(mon, t("22:00"), t("24:00"), true).is_ok());
        assert!(matches!(
            WeeklyRule::new(mon, t("17:00"), t("09:00"), true),
            Err(DomainError::EndNotAfterStart { .. })
        ));
        assert!(WeeklyRule::new(mon, t("09:00"), t("09:00"), true).is_err());
        assert_eq!(
            WeeklyRule::new(mon, t("24:00"), t("24:00"), true),
            Err(DomainError::StartAtEndOfDay)
        );
    }

    #[test]
    fn rules_deserialize_with_validation() {
        let ok: WeeklyRule =
            serde_json::from_str(r#"{"day_of_week":1,"start_time":"09:00","end_time":"24:00"}"#).unwrap();
        assert!(ok.is_available);
        for bad in [
            r#"{"day_of_week":7,"start_time":"09:00","end_time":"10:00","is_available":true}"#,
            r#"{"day_of_week":1,"start_time":"09:00","end_time":"25:00","is_available":true}"#,
            r#"{"day_of_week":1,"start_time":"10:00","end_time":"09:00","is_available":true}"#,
        ] {
            assert!(serde_json::from_str::<WeeklyRule>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn two_overrides_for_one_date_are_refused() {
        let d = jiff::civil::date(2026, 12, 24);
        let o = DateOverride {
            date: d,
            windows: vec![],
        };
        assert_eq!(
            Schedule::new(Zone::utc(), vec![], vec![o.clone(), o]),
            Err(DomainError::DuplicateOverride(d))
        );
    }
}

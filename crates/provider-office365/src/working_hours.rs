//! Outlook's working hours (getSchedule's `workingHours`) as weekly rules, offered to experts who
//! keep their hours in Outlook, to review and save as their own.
//!
//! ```json
//! {"daysOfWeek":["monday","tuesday"],"startTime":"08:00:00.0000000","endTime":"17:00:00.0000000",
//!  "timeZone":{"name":"Pacific Standard Time"}}
//! ```

use availability_domain::jiff::civil::Time;
use availability_domain::{DayOfWeek, LocalTime, Schedule, WeeklyRule, Zone};
use serde::Deserialize;

use crate::windows_zones;

/// getSchedule's `workingHours`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorkingHours {
    #[serde(default)]
    days_of_week: Vec<String>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    time_zone: Option<WorkingHoursZone>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct WorkingHoursZone {
    #[serde(default)]
    name: Option<String>,
}

fn day_number(name: &str) -> Option<i64> {
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    DAYS.iter()
        .position(|d| d.eq_ignore_ascii_case(name.trim()))
        .and_then(|i| i64::try_from(i).ok())
}

/// Minutes after midnight; `round_up` for a start (so a window never grows by rounding).
fn minutes(text: &str, round_up: bool) -> Result<u16, String> {
    let time: Time = text
        .trim()
        .parse()
        .map_err(|_| format!("the working-hours time {text:?} is not a time of day"))?;
    let whole = u16::try_from(i32::from(time.hour()) * 60 + i32::from(time.minute())).unwrap_or(0);
    let has_seconds = time.second() != 0 || time.subsec_nanosecond() != 0;
    Ok(if round_up && has_seconds { whole + 1 } else { whole })
}

impl WorkingHours {
    /// The weekly rules these hours describe, in their zone (a Windows name mapped to IANA). The
    /// typed schedule's date overrides are kept when it is in the same zone (they are local
    /// dates and times of that zone); otherwise they cannot be placed and are left out.
    pub(crate) fn schedule(&self, typed: &Schedule) -> Result<Schedule, String> {
        let zone_name = self
            .time_zone
            .as_ref()
            .and_then(|z| z.name.as_deref())
            .ok_or("Outlook's working hours name no time zone")?;
        let (iana, _) = windows_zones::resolve(zone_name).ok_or_else(|| {
            format!("Outlook's working hours are in the time zone {zone_name:?}, which is neither a known Windows time-zone name nor an IANA name; set the hours by hand instead")
        })?;
        let zone = Zone::new(&iana).map_err(|e| e.to_string())?;
        let (Some(start), Some(end)) = (&self.start_time, &self.end_time) else {
            return Err("Outlook's working hours have no start or end time".into());
        };
        let start = minutes(start, true)?;
        let mut end = minutes(end, false)?;
        // "23:59:59.9999999" is how an end of day is sometimes written.
        if end == 23 * 60 + 59
            && self
                .end_time
                .as_deref()
                .is_some_and(|t| t.trim().starts_with("23:59:59"))
        {
            end = 24 * 60;
        }
        let mut rules = Vec::new();
        for day in &self.days_of_week {
            let number = day_number(day).ok_or_else(|| format!("{day:?} is not a day of the week"))?;
            let weekday = DayOfWeek::new(number).map_err(|e| e.to_string())?;
            let next = DayOfWeek::new((number + 1) % 7).map_err(|e| e.to_string())?;
            let rule = |day: DayOfWeek, from: u16, to: u16| -> Result<Option<WeeklyRule>, String> {
                if from >= to || from >= 24 * 60 {
                    return Ok(None);
                }
                let from = LocalTime::from_minutes(from).map_err(|e| e.to_string())?;
                let to = LocalTime::from_minutes(to).map_err(|e| e.to_string())?;
                WeeklyRule::new(day, from, to, true)
                    .map(Some)
                    .map_err(|e| e.to_string())
            };
            if end == 0 {
                // Until midnight.
                rules.extend(rule(weekday, start, 24 * 60)?);
            } else if end < start {
                // Overnight: the evening of this day and the morning of the next.
                rules.extend(rule(weekday, start, 24 * 60)?);
                rules.extend(rule(next, 0, end)?);
            } else {
                rules.extend(rule(weekday, start, end)?);
            }
        }
        let overrides = if typed.zone == zone {
            typed.overrides.clone()
        } else {
            Vec::new()
        };
        Schedule::new(zone, rules, overrides).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(value: serde_json::Value) -> WorkingHours {
        serde_json::from_value(value).unwrap()
    }

    fn typed() -> Schedule {
        Schedule::empty(Zone::new("Europe/Berlin").unwrap())
    }

    #[test]
    fn weekdays_in_a_windows_zone() {
        let schedule = hours(serde_json::json!({
            "daysOfWeek": ["monday", "Tuesday", "friday"],
            "startTime": "08:00:00.0000000", "endTime": "17:30:00.0000000",
            "timeZone": {"name": "Pacific Standard Time"}
        }))
        .schedule(&typed())
        .unwrap();
        assert_eq!(schedule.zone.name(), "America/Los_Angeles");
        let days: Vec<u8> = schedule.rules.iter().map(|r| r.day_of_week.number()).collect();
        assert_eq!(days, [1, 2, 5]);
        assert_eq!(schedule.rules[0].start_time.to_string(), "08:00");
        assert_eq!(schedule.rules[0].end_time.to_string(), "17:30");
    }

    #[test]
    fn overnight_and_until_midnight() {
        let schedule = hours(serde_json::json!({
            "daysOfWeek": ["saturday"], "startTime": "22:00:00", "endTime": "06:00:00",
            "timeZone": {"name": "UTC"}
        }))
        .schedule(&typed())
        .unwrap();
        let rules: Vec<(u8, String, String)> = schedule
            .rules
            .iter()
            .map(|r| (r.day_of_week.number(), r.start_time.to_string(), r.end_time.to_string()))
            .collect();
        assert_eq!(
            rules,
            [(6, "22:00".into(), "24:00".into()), (0, "00:00".into(), "06:00".into())]
        );
        let schedule = hours(serde_json::json!({
            "daysOfWeek": ["sunday"], "startTime": "09:00:00", "endTime": "00:00:00",
            "timeZone": {"name": "W. Europe Standard Time"}
        }))
        .schedule(&typed())
        .unwrap();
        assert_eq!(schedule.rules[0].end_time.to_string(), "24:00");
    }

    #[test]
    fn unknown_zones_are_refused() {
        let error = hours(serde_json::json!({
            "daysOfWeek": ["monday"], "startTime": "08:00:00", "endTime": "17:00:00",
            "timeZone": {"@odata.type": "#microsoft.graph.customTimeZone", "name": "Customized Time Zone", "bias": 480}
        }))
        .schedule(&typed())
        .unwrap_err();
        assert!(error.contains("Customized Time Zone"), "{error}");
    }
}

//! Which of the account's calendars block the expert's time and which one receives appointments:
//! the choice is stored with the grant (`StoredTokens.extra`), so it is encrypted with the tokens
//! and disappears with them on disconnect.

use availability_core::CoreError;
use serde::Serialize;
use serde_json::{Map, Value};

/// The id Google accepts for the account's primary calendar.
pub(crate) const PRIMARY: &str = "primary";

/// Keys in `StoredTokens.extra`.
const BUSY_KEY: &str = "busy_calendars";
const EVENT_KEY: &str = "event_calendar";
const FORMER_KEY: &str = "former_event_calendars";

/// How many earlier event calendars are remembered.
const MAX_FORMER: usize = 10;

/// Google refuses longer calendar ids long before this; the bound only keeps junk out of storage.
const MAX_ID_CHARS: usize = 1024;

/// A calendar of the connected account, as `GET /users/me/calendarList` lists it, with the
/// expert's current choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CalendarInfo {
    /// The calendar id (the primary calendar's is the account's email address).
    pub id: String,
    /// The calendar's title.
    pub summary: String,
    /// Whether it is the account's primary calendar.
    pub primary: bool,
    /// The account's role: `owner`, `writer`, `reader` or `freeBusyReader`. Events can be written
    /// to `owner` and `writer` calendars only.
    pub access_role: String,
    /// The calendar's IANA time zone, if Google gave one.
    pub time_zone: Option<String>,
    /// Whether its events currently block the expert's time.
    pub blocks_time: bool,
    /// Whether appointments are currently written to it.
    pub receives_events: bool,
}

/// The expert's choice of calendars. Until the expert chooses, the primary calendar both blocks
/// time and receives appointments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CalendarSettings {
    /// Calendars whose busy time blocks slots (`primary` names the primary calendar).
    pub busy_calendars: Vec<String>,
    /// The calendar appointments are written to.
    pub event_calendar: String,
    /// Calendars that received appointments before the expert chose another one, newest last:
    /// updates and cancellations look there for events written before the change.
    pub former_event_calendars: Vec<String>,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            busy_calendars: vec![PRIMARY.to_owned()],
            event_calendar: PRIMARY.to_owned(),
            former_event_calendars: Vec::new(),
        }
    }
}

fn unreadable(what: &str) -> CoreError {
    CoreError::Storage(format!(
        "the stored Google Calendar settings are unreadable ({what}); choose the calendars again"
    ))
}

fn strings(value: &Value, key: &str) -> Result<Option<Vec<String>>, CoreError> {
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| unreadable(key)))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err(unreadable(key)),
    }
}

impl CalendarSettings {
    /// Reads the choice from `StoredTokens.extra`. Missing keys (or `extra: null`, as a fresh
    /// grant has it) mean the defaults; keys of the wrong type are an error rather than a guess,
    /// since guessing could leave a busy calendar out.
    pub(crate) fn from_extra(extra: &Value) -> Result<Self, CoreError> {
        let defaults = Self::default();
        let map = match extra {
            Value::Null => return Ok(defaults),
            Value::Object(map) => map,
            _ => return Err(unreadable("not an object")),
        };
        let field = |key: &str| map.get(key).unwrap_or(&Value::Null);
        // An empty list is never written (set_calendars refuses it); read as "not chosen" it
        // falls back to the primary calendar instead of making every hour look free.
        let busy_calendars = strings(field(BUSY_KEY), BUSY_KEY)?
            .filter(|ids| !ids.is_empty())
            .unwrap_or(defaults.busy_calendars);
        let event_calendar = match field(EVENT_KEY) {
            Value::Null => defaults.event_calendar,
            Value::String(id) => id.clone(),
            _ => return Err(unreadable(EVENT_KEY)),
        };
        let former_event_calendars = strings(field(FORMER_KEY), FORMER_KEY)?.unwrap_or_default();
        Ok(Self {
            busy_calendars,
            event_calendar,
            former_event_calendars,
        })
    }

    /// The settings after the expert chose `busy` and `event`: ids checked and deduplicated, and
    /// the previous event calendar remembered if it changes.
    pub(crate) fn choose(&self, busy: Vec<String>, event: String) -> Result<Self, CoreError> {
        let mut busy_calendars: Vec<String> = Vec::with_capacity(busy.len());
        for id in busy {
            check_id(&id)?;
            if !busy_calendars.contains(&id) {
                busy_calendars.push(id);
            }
        }
        if busy_calendars.is_empty() {
            return Err(CoreError::InvalidCalendarChoice(
                "choose at least one calendar whose events block time".into(),
            ));
        }
        check_id(&event)?;
        let mut former = self.former_event_calendars.clone();
        if self.event_calendar != event && !former.contains(&self.event_calendar) {
            former.push(self.event_calendar.clone());
        }
        former.retain(|id| *id != event);
        if former.len() > MAX_FORMER {
            former.drain(..former.len() - MAX_FORMER);
        }
        Ok(Self {
            busy_calendars,
            event_calendar: event,
            former_event_calendars: former,
        })
    }

    /// Writes the choice into `StoredTokens.extra`, keeping whatever else is there.
    pub(crate) fn write_to(&self, extra: &mut Value) {
        if !extra.is_object() {
            *extra = Value::Object(Map::new());
        }
        if let Value::Object(map) = extra {
            map.insert(BUSY_KEY.into(), Value::from(self.busy_calendars.clone()));
            map.insert(EVENT_KEY.into(), Value::from(self.event_calendar.clone()));
            map.insert(FORMER_KEY.into(), Value::from(self.former_event_calendars.clone()));
        }
    }

    /// Whether `calendar` (an id from the calendar list) is among `chosen` ids.
    pub(crate) fn names(chosen: &str, calendar_id: &str, primary: bool) -> bool {
        chosen.eq_ignore_ascii_case(calendar_id) || (primary && chosen == PRIMARY)
    }
}

fn check_id(id: &str) -> Result<(), CoreError> {
    if id.trim().is_empty() || id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
        return Err(CoreError::InvalidCalendarChoice(format!(
            "{:?} is not a Google calendar id",
            id.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_stored_choices() {
        assert_eq!(
            CalendarSettings::from_extra(&Value::Null).unwrap(),
            CalendarSettings::default()
        );
        assert_eq!(
            CalendarSettings::from_extra(&json!({"other": 1})).unwrap(),
            CalendarSettings::default()
        );
        let stored = CalendarSettings::from_extra(&json!({
            "busy_calendars": ["primary", "team@group.calendar.google.com"],
            "event_calendar": "team@group.calendar.google.com",
        }))
        .unwrap();
        assert_eq!(stored.busy_calendars.len(), 2);
        assert_eq!(stored.event_calendar, "team@group.calendar.google.com");
        assert_eq!(
            CalendarSettings::from_extra(&json!({"busy_calendars": []})).unwrap(),
            CalendarSettings::default()
        );
        assert!(CalendarSettings::from_extra(&json!({"busy_calendars": "primary"})).is_err());
        assert!(CalendarSettings::from_extra(&json!({"event_calendar": 5})).is_err());
        assert!(CalendarSettings::from_extra(&json!("primary")).is_err());
    }

    #[test]
    fn choosing_validates_and_remembers_the_former_event_calendar() {
        let start = CalendarSettings::default();
        assert!(start.choose(vec![], "primary".into()).is_err());
        assert!(start.choose(vec![" ".into()], "primary".into()).is_err());
        assert!(start.choose(vec!["primary".into()], String::new()).is_err());
        let next = start
            .choose(vec!["primary".into(), "b@x".into(), "primary".into()], "b@x".into())
            .unwrap();
        assert_eq!(next.busy_calendars, ["primary", "b@x"]);
        assert_eq!(next.former_event_calendars, ["primary"]);
        let back = next.choose(vec!["primary".into()], "primary".into()).unwrap();
        assert_eq!(back.former_event_calendars, ["b@x"]);

        let mut extra = json!({"keep": true});
        back.write_to(&mut extra);
        assert_eq!(extra["keep"], true);
        assert_eq!(CalendarSettings::from_extra(&extra).unwrap(), back);
        let mut null = Value::Null;
        back.write_to(&mut null);
        assert_eq!(CalendarSettings::from_extra(&null).unwrap(), back);
    }

    #[test]
    fn former_event_calendars_are_bounded() {
        let mut settings = CalendarSettings::default();
        for i in 0..30 {
            settings = settings.choose(vec!["primary".into()], format!("c{i}@x")).unwrap();
        }
        assert_eq!(settings.former_event_calendars.len(), MAX_FORMER);
        assert_eq!(
            settings.former_event_calendars.last().map(String::as_str),
            Some("c28@x")
        );
    }
}

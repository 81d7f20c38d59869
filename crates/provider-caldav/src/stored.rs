//! The credential document of a CalDAV connection: one JSON document handed to
//! `CredentialRepository::save` (the store encrypts it) under the integration `caldav`. It holds
//! what discovery found (so a busy-time call goes straight to the calendars, without discovery
//! round trips) and the expert's calendar choice:
//!
//! ```json
//! {"kind":"caldav","version":1,"server_url":"https://caldav.icloud.com/","username":"…",
//!  "password":"…","principal_url":"…","calendar_home_url":"…","user_addresses":["mailto:…"],
//!  "calendars":[{"id":"https://…/work/","name":"Work","writable":true,"default":true}],
//!  "busy_calendar_ids":["https://…/work/"],"event_calendar_id":"https://…/work/"}
//! ```
//!
//! Calendar ids are absolute URLs: iCloud's calendars live on a partition host that discovery
//! finds, not on the host the expert typed.

use std::fmt;

use availability_core::{CoreError, Credential};
use availability_domain::Secret;
use serde::{Deserialize, Serialize};

use crate::INTEGRATION;

/// One calendar of the account, as discovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCalendar {
    /// The calendar collection's absolute URL (with a trailing slash).
    pub id: String,
    /// Its display name (the last path segment if it has none).
    pub name: String,
    /// The account may write events into it.
    pub writable: bool,
    /// The principal's default calendar (RFC 6638 schedule-default-calendar-URL).
    #[serde(default)]
    pub default: bool,
}

/// The expert's choice: which calendars block time, which one receives appointments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarChoice {
    /// Calendars whose events block time (at least one).
    pub busy_calendar_ids: Vec<String>,
    /// The calendar appointments are written to (writable).
    pub event_calendar_id: String,
}

/// Why a calendar choice was refused (api.md: 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChoiceError {
    /// No calendar blocks time.
    #[error("at least one calendar must block time")]
    NoBusyCalendar,
    /// An id that is not one of the account's calendars.
    #[error("{0} is not one of this account's calendars")]
    UnknownCalendar(String),
    /// The event calendar cannot be written.
    #[error("appointments cannot be written to {0}: the calendar is read-only")]
    ReadOnly(String),
}

impl From<ChoiceError> for CoreError {
    /// api.md: 422 `invalid_calendar_choice`.
    fn from(error: ChoiceError) -> Self {
        CoreError::InvalidCalendarChoice(error.to_string())
    }
}

/// What is stored for an expert's CalDAV connection. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCaldav {
    /// Where discovery ended (the context URL the principal was found at).
    pub server_url: String,
    /// The account's username.
    pub username: String,
    /// The (app-specific) password.
    pub password: Secret<String>,
    /// The principal's URL.
    pub principal_url: String,
    /// The calendar home's URL.
    pub calendar_home_url: String,
    /// The principal's calendar user addresses (`mailto:…`), to recognise the expert among an
    /// event's attendees (an event the expert declined does not block time).
    pub user_addresses: Vec<String>,
    /// The account's calendars that hold events.
    pub calendars: Vec<StoredCalendar>,
    /// The calendars that block time.
    pub busy_calendar_ids: Vec<String>,
    /// The calendar appointments are written to; `None` when the account has no writable
    /// calendar (busy time still works; writing an appointment is an error).
    pub event_calendar_id: Option<String>,
}

impl fmt::Debug for StoredCaldav {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCaldav")
            .field("server_url", &self.server_url)
            .field("username", &self.username)
            .field("principal_url", &self.principal_url)
            .field("calendars", &self.calendars)
            .field("busy_calendar_ids", &self.busy_calendar_ids)
            .field("event_calendar_id", &self.event_calendar_id)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Document {
    kind: String,
    version: u32,
    server_url: String,
    username: String,
    password: String,
    principal_url: String,
    calendar_home_url: String,
    #[serde(default)]
    user_addresses: Vec<String>,
    calendars: Vec<StoredCalendar>,
    busy_calendar_ids: Vec<String>,
    #[serde(default)]
    event_calendar_id: Option<String>,
}

const KIND: &str = "caldav";
const VERSION: u32 = 1;

impl StoredCaldav {
    /// The JSON document to give `CredentialRepository::save`.
    pub fn to_credential(&self) -> Credential {
        let document = Document {
            kind: KIND.to_owned(),
            version: VERSION,
            server_url: self.server_url.clone(),
            username: self.username.clone(),
            password: self.password.expose().clone(),
            principal_url: self.principal_url.clone(),
            calendar_home_url: self.calendar_home_url.clone(),
            user_addresses: self.user_addresses.clone(),
            calendars: self.calendars.clone(),
            busy_calendar_ids: self.busy_calendar_ids.clone(),
            event_calendar_id: self.event_calendar_id.clone(),
        };
        // Serialising plain strings and vectors cannot fail; an empty document would only make
        // the next read ask the expert to reconnect.
        Secret::new(serde_json::to_string(&document).unwrap_or_default())
    }

    /// Reads a stored document. An unreadable one means the expert must reconnect.
    pub fn from_credential(credential: &Credential) -> Result<Self, CoreError> {
        let unreadable = |why: String| CoreError::NeedsReauth {
            integration: INTEGRATION,
            message: format!("the stored CalDAV credential is unreadable ({why}); reconnect the calendar"),
        };
        let d: Document =
            serde_json::from_str(credential.expose()).map_err(|e| unreadable(format!("{:?} error", e.classify())))?;
        if d.kind != KIND || d.version != VERSION {
            return Err(unreadable(format!("kind {} version {}", d.kind, d.version)));
        }
        Ok(Self {
            server_url: d.server_url,
            username: d.username,
            password: Secret::new(d.password),
            principal_url: d.principal_url,
            calendar_home_url: d.calendar_home_url,
            user_addresses: d.user_addresses,
            calendars: d.calendars,
            busy_calendar_ids: d.busy_calendar_ids,
            event_calendar_id: d.event_calendar_id,
        })
    }

    /// The default choice of a new connection (api.md): every calendar blocks time, appointments
    /// go to the principal's default calendar if the server names a writable one, else to the
    /// first writable calendar.
    pub fn default_choice(calendars: &[StoredCalendar]) -> (Vec<String>, Option<String>) {
        let busy = calendars.iter().map(|c| c.id.clone()).collect();
        let event = calendars
            .iter()
            .find(|c| c.default && c.writable)
            .or_else(|| calendars.iter().find(|c| c.writable))
            .map(|c| c.id.clone());
        (busy, event)
    }

    /// Applies the expert's choice: at least one busy calendar, every id one of the account's
    /// calendars, the event calendar writable.
    pub fn choose(&mut self, choice: &CalendarChoice) -> Result<(), ChoiceError> {
        if choice.busy_calendar_ids.is_empty() {
            return Err(ChoiceError::NoBusyCalendar);
        }
        let known = |id: &String| self.calendars.iter().find(|c| &c.id == id);
        for id in &choice.busy_calendar_ids {
            known(id).ok_or_else(|| ChoiceError::UnknownCalendar(id.clone()))?;
        }
        let event = known(&choice.event_calendar_id)
            .ok_or_else(|| ChoiceError::UnknownCalendar(choice.event_calendar_id.clone()))?;
        if !event.writable {
            return Err(ChoiceError::ReadOnly(event.id.clone()));
        }
        let mut busy = choice.busy_calendar_ids.clone();
        busy.dedup();
        self.busy_calendar_ids = busy;
        self.event_calendar_id = Some(choice.event_calendar_id.clone());
        Ok(())
    }

    /// Replaces the calendar list with a fresh listing, keeping the choice where its calendars
    /// still exist (a calendar deleted on the server stops blocking time; if every busy calendar
    /// is gone, all calendars block time again, as on connect).
    pub fn replace_calendars(&mut self, calendars: Vec<StoredCalendar>) {
        let exists = |id: &String| calendars.iter().any(|c| &c.id == id);
        self.busy_calendar_ids.retain(|id| exists(id));
        let (all, default_event) = Self::default_choice(&calendars);
        if self.busy_calendar_ids.is_empty() {
            self.busy_calendar_ids = all;
        }
        let event_ok = self
            .event_calendar_id
            .as_ref()
            .is_some_and(|id| calendars.iter().any(|c| &c.id == id && c.writable));
        if !event_ok {
            self.event_calendar_id = default_event;
        }
        self.calendars = calendars;
    }

    /// A reconnect of the same account (a new app-specific password, say) keeps the expert's
    /// choice of `previous` where its calendars still exist, instead of the default choice.
    pub fn keep_choice_of(&mut self, previous: &StoredCaldav) {
        if previous.principal_url != self.principal_url {
            return;
        }
        let calendars = std::mem::take(&mut self.calendars);
        self.busy_calendar_ids = previous.busy_calendar_ids.clone();
        self.event_calendar_id = previous.event_calendar_id.clone();
        self.replace_calendars(calendars);
    }

    /// The integration's settings, kept beside the credential and shown in GET integrations:
    /// `{"server_url": ...}` (where discovery found the account). Nothing in it is secret, and
    /// nothing in it changes without a reconnect (the calendar choice is in the credential).
    pub fn settings_json(&self) -> serde_json::Value {
        serde_json::json!({ "server_url": self.server_url })
    }

    /// The calendars in the shape of the calendars route (Google's shape).
    pub fn calendar_infos(&self) -> Vec<crate::CalendarInfo> {
        self.calendars
            .iter()
            .map(|c| crate::CalendarInfo {
                id: c.id.clone(),
                summary: c.name.clone(),
                primary: c.default,
                blocks_time: self.busy_calendar_ids.contains(&c.id),
                receives_events: self.event_calendar_id.as_ref() == Some(&c.id),
                read_only: !c.writable,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn calendar(id: &str, writable: bool, default: bool) -> StoredCalendar {
        StoredCalendar {
            id: id.into(),
            name: id.into(),
            writable,
            default,
        }
    }

    fn stored() -> StoredCaldav {
        let calendars = vec![
            calendar("https://h/a/", false, false),
            calendar("https://h/b/", true, false),
            calendar("https://h/c/", true, true),
        ];
        let (busy, event) = StoredCaldav::default_choice(&calendars);
        StoredCaldav {
            server_url: "https://h/".into(),
            username: "alice".into(),
            password: Secret::new("app-password".into()),
            principal_url: "https://h/p/".into(),
            calendar_home_url: "https://h/".into(),
            user_addresses: vec!["mailto:alice@example.com".into()],
            calendars,
            busy_calendar_ids: busy,
            event_calendar_id: event,
        }
    }

    #[test]
    fn default_choice_blocks_with_every_calendar_and_writes_to_the_default() {
        let s = stored();
        assert_eq!(s.busy_calendar_ids.len(), 3);
        assert_eq!(s.event_calendar_id.as_deref(), Some("https://h/c/"));
        let (_, event) = StoredCaldav::default_choice(&s.calendars[..2]);
        assert_eq!(
            event.as_deref(),
            Some("https://h/b/"),
            "first writable without a default"
        );
    }

    #[test]
    fn round_trips_and_hides_the_password() {
        let s = stored();
        let credential = s.to_credential();
        assert_eq!(StoredCaldav::from_credential(&credential).unwrap(), s);
        assert!(!format!("{s:?}").contains("app-password"));
        let bad = Secret::new("{\"kind\":\"google\"}".to_owned());
        assert!(matches!(
            StoredCaldav::from_credential(&bad),
            Err(CoreError::NeedsReauth { .. })
        ));
    }

    #[test]
    fn choices_are_validated() {
        let mut s = stored();
        let choice = |busy: &[&str], event: &str| CalendarChoice {
            busy_calendar_ids: busy.iter().map(|b| (*b).to_owned()).collect(),
            event_calendar_id: event.into(),
        };
        assert_eq!(s.choose(&choice(&[], "https://h/b/")), Err(ChoiceError::NoBusyCalendar));
        assert_eq!(
            s.choose(&choice(&["https://h/x/"], "https://h/b/")),
            Err(ChoiceError::UnknownCalendar("https://h/x/".into()))
        );
        assert_eq!(
            s.choose(&choice(&["https://h/b/"], "https://h/a/")),
            Err(ChoiceError::ReadOnly("https://h/a/".into()))
        );
        s.choose(&choice(&["https://h/a/"], "https://h/b/")).unwrap();
        let infos = s.calendar_infos();
        assert!(infos[0].blocks_time && infos[0].read_only && !infos[0].receives_events);
        assert!(!infos[1].blocks_time && infos[1].receives_events);
        s.replace_calendars(vec![calendar("https://h/c/", true, true)]);
        assert_eq!(s.busy_calendar_ids, vec!["https://h/c/".to_owned()]);
        assert_eq!(s.event_calendar_id.as_deref(), Some("https://h/c/"));
    }

    #[test]
    fn a_reconnect_keeps_the_choice_of_the_same_account_only() {
        let mut before = stored();
        before
            .choose(&CalendarChoice {
                busy_calendar_ids: vec!["https://h/a/".into()],
                event_calendar_id: "https://h/b/".into(),
            })
            .unwrap();
        let mut again = stored();
        again.password = Secret::new("new-app-password".into());
        again.keep_choice_of(&before);
        assert_eq!(again.busy_calendar_ids, vec!["https://h/a/".to_owned()]);
        assert_eq!(again.event_calendar_id.as_deref(), Some("https://h/b/"));
        assert_eq!(again.password.expose(), "new-app-password");

        let mut other = stored();
        other.principal_url = "https://h/someone-else/".into();
        other.keep_choice_of(&before);
        assert_eq!(
            other.busy_calendar_ids.len(),
            3,
            "another account starts from the default"
        );
        assert!(matches!(
            CoreError::from(ChoiceError::NoBusyCalendar),
            CoreError::InvalidCalendarChoice(_)
        ));
    }
}

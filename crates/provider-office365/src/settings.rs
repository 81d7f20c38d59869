//! What the strategy keeps with an expert's grant, in `StoredTokens.extra`, and the Microsoft
//! account behind the grant as GET /me describes it.

use serde_json::{json, Map, Value};

/// The keys of `StoredTokens.extra` this crate reads and writes:
///
/// ```json
/// {"mailbox":"ada@contoso.com","personal":false,"schedule_unavailable":false}
/// ```
///
/// Other keys are left as they are. A grant stored without them (the server's OAuth callback
/// stores `null`) is completed on first use: the mailbox is read from GET /me.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Office365Settings {
    /// The address whose schedule getSchedule is asked for (GET /me's `mail`, else its
    /// `userPrincipalName`). `None` until GET /me was read.
    pub mailbox: Option<String>,
    /// A personal Microsoft account (outlook.com): getSchedule is not available there, busy time
    /// comes from calendarView.
    pub personal: bool,
    /// getSchedule failed for this mailbox the way it does where it is not available, and
    /// calendarView answered instead: the strategy goes straight to calendarView from then on.
    pub schedule_unavailable: bool,
}

impl Office365Settings {
    /// Reads the settings from a grant's `extra`; anything missing or of another type takes its
    /// default, so an old or foreign document never makes the integration unusable.
    pub fn from_extra(extra: &Value) -> Self {
        let flag = |name: &str| extra.get(name).and_then(Value::as_bool).unwrap_or(false);
        Office365Settings {
            mailbox: extra
                .get("mailbox")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            personal: flag("personal"),
            schedule_unavailable: flag("schedule_unavailable"),
        }
    }

    /// Writes the settings into `extra` (made an object if it is not one), keeping other keys.
    pub fn write_to(&self, extra: &mut Value) {
        if !extra.is_object() {
            *extra = Value::Object(Map::new());
        }
        if let Some(map) = extra.as_object_mut() {
            match &self.mailbox {
                Some(mailbox) => map.insert("mailbox".into(), json!(mailbox)),
                None => map.remove("mailbox"),
            };
            map.insert("personal".into(), json!(self.personal));
            map.insert("schedule_unavailable".into(), json!(self.schedule_unavailable));
            // Slots from Outlook's hours without saving them (an old setting) could not be
            // booked: bookings validate against the stored hours. Outlook's hours are offered
            // for the expert to save instead (`outlook_working_hours`).
            map.remove("use_outlook_working_hours");
        }
    }
}

/// The Microsoft account behind a grant (GET /me).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Office365Account {
    /// The user's id in Microsoft Graph.
    pub id: String,
    /// The display name, if the account has one.
    pub display_name: Option<String>,
    /// The address shown to the expert and asked getSchedule for: `mail`, else
    /// `userPrincipalName`.
    pub address: String,
    /// A personal Microsoft account (outlook.com, hotmail.com) rather than a work or school one.
    pub personal: bool,
}

impl Office365Account {
    /// Reads GET /me's answer. `None` when it names no address at all.
    pub(crate) fn from_me(me: &Value) -> Option<Self> {
        let text = |name: &str| {
            me.get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let id = text("id").unwrap_or_default();
        let address = text("mail").or_else(|| text("userPrincipalName"))?;
        Some(Office365Account {
            personal: is_personal_account_id(&id),
            display_name: text("displayName"),
            address,
            id,
        })
    }

    /// The settings to store with the grant: the mailbox and whether it is personal.
    pub fn settings(&self) -> Office365Settings {
        Office365Settings {
            mailbox: Some(self.address.clone()),
            personal: self.personal,
            ..Office365Settings::default()
        }
    }

    /// [`Self::settings`] as the `extra` document for `TokenManager::store_new_grant`.
    pub fn extra(&self) -> Value {
        let mut extra = Value::Object(Map::new());
        self.settings().write_to(&mut extra);
        extra
    }
}

/// Not documented as such by Graph, but how it is: a personal Microsoft account's user id is 16
/// hexadecimal digits (its CID), a work or school account's is a GUID.
fn is_personal_account_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_keep_other_keys() {
        let mut extra = json!({"calendar": "x", "personal": "not a bool"});
        let settings = Office365Settings::from_extra(&extra);
        assert_eq!(settings, Office365Settings::default());
        let settings = Office365Settings {
            mailbox: Some("ada@contoso.com".into()),
            schedule_unavailable: true,
            ..Office365Settings::default()
        };
        settings.write_to(&mut extra);
        assert_eq!(extra["calendar"], "x");
        assert_eq!(Office365Settings::from_extra(&extra), settings);
        let mut null = Value::Null;
        settings.write_to(&mut null);
        assert_eq!(null["mailbox"], "ada@contoso.com");
    }

    #[test]
    fn accounts_from_me() {
        let work = Office365Account::from_me(&json!({
            "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": "Ada",
            "mail": null, "userPrincipalName": "ada@contoso.com"
        }))
        .unwrap();
        assert_eq!(work.address, "ada@contoso.com");
        assert!(!work.personal);
        let personal = Office365Account::from_me(&json!({
            "id": "4f1cd32a9a2b1c0e", "mail": "ada@outlook.com", "userPrincipalName": "ada@outlook.com"
        }))
        .unwrap();
        assert!(personal.personal);
        assert_eq!(
            personal.extra(),
            json!({"mailbox": "ada@outlook.com", "personal": true,
            "schedule_unavailable": false})
        );
        assert!(Office365Account::from_me(&json!({"id": "x"})).is_none());
    }
}

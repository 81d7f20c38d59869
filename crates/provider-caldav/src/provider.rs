//! CalDAV as a plug-in: its descriptor (a "credentials" connect with the server presets), the
//! connect that checks the password and discovers the calendars before anything is stored, the
//! calendar choice and the account. The server registers it with [`register`], one line; nothing
//! in the server names CalDAV.
//!
//! Settings (environment variables, all optional): `CALDAV_MARKETPLACE_NAME`, added to every
//! event's summary after the client's name ("Ann Lee (Tutors)"). The appointment page linked
//! from every event's description is `PUBLIC_BASE_URL/appointments/{id}`.
//!
//! Where things are kept: the credential (encrypted by the store) is the whole [`StoredCaldav`]
//! document: server, username, password, what discovery found, and the expert's calendar
//! choice, so that a busy-time call needs one credential read and no discovery. The integration's
//! settings JSON holds only `{"server_url"}` (shown in GET integrations), which changes only with
//! a reconnect.

use std::sync::Arc;

use async_trait::async_trait;
use availability_core::provider::{
    CalendarEntry, ConnectMethod, Connection, CredentialField, Features, Preset, ProviderContext, ProviderDescriptor,
    ProviderSetupError,
};
use availability_core::{AvailabilityStrategy, CoreError, Provider};
use availability_domain::{ExpertId, Secret};
use serde_json::{Map, Value};

use crate::stored::CalendarChoice;
use crate::{
    CaldavBuilder, CaldavStrategy, StoredCaldav, CALENDAR_TYPE, DISPLAY_NAME, INTEGRATION, PASSWORD_HELP, PRESETS,
};

/// The connect form's fields (api.md "CalDAV").
pub const SERVER_URL_FIELD: &str = "server_url";
/// The account's username (usually its email address).
pub const USERNAME_FIELD: &str = "username";
/// The (app-specific) password.
pub const PASSWORD_FIELD: &str = "password";

/// The setting that names the marketplace in event summaries.
pub const MARKETPLACE_NAME_VAR: &str = "CALDAV_MARKETPLACE_NAME";

/// CalDAV, registered: always available (it needs no app registration anywhere).
#[derive(Debug)]
pub struct CaldavProvider {
    descriptor: ProviderDescriptor,
    strategy: Arc<CaldavStrategy>,
}

/// Builds the CalDAV provider from its settings.
pub fn register(context: &ProviderContext) -> Result<Arc<dyn Provider>, ProviderSetupError> {
    let strategy = CaldavBuilder::new(context.credentials.clone(), context.integrations.clone())
        .with_marketplace_name(context.var(MARKETPLACE_NAME_VAR))
        .with_appointment_base_url(Some(context.public_base_url.clone()))
        .build()
        .map_err(|e| ProviderSetupError {
            name: "CalDAV HTTP client",
            message: e.to_string(),
        })?;
    Ok(Arc::new(CaldavProvider::new(Arc::new(strategy))))
}

/// What `GET /api/v1/providers` shows of CalDAV.
pub fn descriptor() -> ProviderDescriptor {
    ProviderDescriptor {
        integration_type: INTEGRATION,
        display_name: DISPLAY_NAME,
        description: "Your hours minus the busy times in the calendars you choose on a CalDAV server (iCloud, \
                      Fastmail, Nextcloud, Yahoo, ...); appointments are added to one of them.",
        calendar_type: Some(CALENDAR_TYPE),
        connect: ConnectMethod::Credentials,
        credential_fields: vec![
            CredentialField {
                name: SERVER_URL_FIELD,
                label: "Server",
                secret: false,
                placeholder: Some("https://cloud.example.com/remote.php/dav"),
                presets: PRESETS
                    .iter()
                    .map(|p| Preset {
                        label: p.label,
                        value: p.server_url,
                    })
                    .collect(),
                help: Some(
                    "Pick your service, or type your own server's address (Nextcloud: https://HOST/remote.php/dav). \
                     Your calendars are found from it.",
                ),
            },
            CredentialField {
                name: USERNAME_FIELD,
                label: "Username",
                secret: false,
                placeholder: Some("you@icloud.com"),
                presets: Vec::new(),
                help: Some("Usually the account's email address (iCloud: your Apple Account's email)."),
            },
            CredentialField {
                name: PASSWORD_FIELD,
                label: "App-specific password",
                secret: true,
                placeholder: None,
                presets: Vec::new(),
                help: Some(PASSWORD_HELP),
            },
        ],
        features: Features {
            calendars: true,
            ..Features::default()
        },
        push: false,
    }
}

impl CaldavProvider {
    /// The provider over a strategy built elsewhere (tests give theirs a short HTTP policy).
    pub fn new(strategy: Arc<CaldavStrategy>) -> Self {
        Self {
            descriptor: descriptor(),
            strategy,
        }
    }

    /// Its strategy.
    pub fn caldav(&self) -> &Arc<CaldavStrategy> {
        &self.strategy
    }
}

/// A text field of the form, trimmed; missing, null or blank is `None`.
fn text_field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, CoreError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(CoreError::InvalidSettings(format!("{name} must be a string"))),
    }
}

fn required(fields: &Map<String, Value>, name: &str, what: &str) -> Result<String, CoreError> {
    text_field(fields, name)?.ok_or_else(|| CoreError::InvalidSettings(format!("{name} is required: {what}")))
}

/// What the server stores for a connection.
pub fn connection(stored: &StoredCaldav) -> Connection {
    Connection {
        credential: stored.to_credential(),
        account: Some(stored.username.clone()),
        settings: stored.settings_json(),
    }
}

#[async_trait]
impl Provider for CaldavProvider {
    fn descriptor(&self) -> &ProviderDescriptor {
        &self.descriptor
    }

    fn strategy(&self) -> Option<Arc<dyn AvailabilityStrategy>> {
        Some(self.strategy.clone())
    }

    /// {server_url, username, password}: discovery from the URL with these credentials (a
    /// refused password is `InvalidCredentials`, an address without a CalDAV service
    /// `DiscoveryFailed`, a malformed one `InvalidSettings`, a server that cannot be reached
    /// `ProviderUnavailable`), then what to store. Nothing is stored here.
    async fn connect(&self, expert: ExpertId, fields: &Map<String, Value>) -> Result<Connection, CoreError> {
        let server_url = required(fields, SERVER_URL_FIELD, "the address of the calendar service")?;
        let username = required(fields, USERNAME_FIELD, "the account's username")?;
        // A password may begin or end with a space: only an empty one is refused here.
        let password = match fields.get(PASSWORD_FIELD) {
            Some(Value::String(p)) if !p.is_empty() => Secret::new(p.clone()),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(CoreError::InvalidCredentials(
                    "the password is empty; iCloud, Yahoo and Fastmail need an app-specific password".to_owned(),
                ))
            }
            Some(_) => return Err(CoreError::InvalidSettings(format!("{PASSWORD_FIELD} must be a string"))),
        };
        let account = self.strategy.connect(expert, &server_url, &username, password).await?;
        Ok(connection(&account.credential))
    }

    async fn account(&self, expert: ExpertId) -> Result<Option<String>, CoreError> {
        self.strategy.account(expert).await
    }

    /// The account's calendars that hold events, listed afresh from the server.
    async fn calendars(&self, expert: ExpertId) -> Result<Vec<CalendarEntry>, CoreError> {
        Ok(self
            .strategy
            .calendars(expert)
            .await?
            .into_iter()
            .map(|c| CalendarEntry {
                id: c.id,
                summary: c.summary,
                primary: c.primary,
                blocks_time: c.blocks_time,
                receives_events: c.receives_events,
                read_only: c.read_only,
                access_role: None,
                time_zone: None,
            })
            .collect())
    }

    /// At least one busy calendar, a writable event calendar, every id one of the account's
    /// (else `InvalidCalendarChoice`); kept in the credential with the password.
    async fn choose_calendars(
        &self,
        expert: ExpertId,
        busy_calendar_ids: Vec<String>,
        event_calendar_id: String,
    ) -> Result<(), CoreError> {
        let choice = CalendarChoice {
            busy_calendar_ids,
            event_calendar_id,
        };
        self.strategy.choose_calendars(expert, &choice).await.map(drop)
    }

    /// `server_url`: where the account was found.
    fn integration_details(&self, settings: &Value) -> Map<String, Value> {
        let mut details = Map::new();
        details.insert(
            SERVER_URL_FIELD.into(),
            settings.get(SERVER_URL_FIELD).cloned().unwrap_or(Value::Null),
        );
        details
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use availability_core::InMemoryStore;
    use std::collections::HashMap;

    fn provider() -> Arc<dyn Provider> {
        let store = Arc::new(InMemoryStore::new());
        let context = ProviderContext::new(
            HashMap::from([(MARKETPLACE_NAME_VAR.to_owned(), "Tutors".to_owned())]),
            "https://book.example.com/",
            store.clone(),
            store,
        );
        register(&context).unwrap()
    }

    #[test]
    fn the_descriptor_offers_the_presets_and_explains_app_passwords() {
        let provider = provider();
        let d = provider.descriptor();
        assert_eq!(d.integration_type.as_str(), "caldav");
        assert_eq!(d.calendar_type.map(|c| c.to_string()).as_deref(), Some("caldav"));
        assert_eq!(d.connect, ConnectMethod::Credentials);
        assert!(d.features.calendars);
        let names: Vec<&str> = d.credential_fields.iter().map(|f| f.name).collect();
        assert_eq!(names, ["server_url", "username", "password"]);
        let secret: Vec<bool> = d.credential_fields.iter().map(|f| f.secret).collect();
        assert_eq!(secret, [false, false, true]);
        let presets: Vec<(&str, &str)> = d.credential_fields[0]
            .presets
            .iter()
            .map(|p| (p.label, p.value))
            .collect();
        assert_eq!(
            presets,
            [
                ("Apple iCloud", "https://caldav.icloud.com"),
                ("Yahoo", "https://caldav.calendar.yahoo.com"),
                ("Fastmail", "https://caldav.fastmail.com"),
                ("Your own server (Nextcloud: https://HOST/remote.php/dav)", ""),
            ]
        );
        let help = d.credential_fields[2].help.unwrap();
        for link in [
            "https://support.apple.com/",
            "https://help.yahoo.com/",
            "https://www.fastmail.help/",
        ] {
            assert!(help.contains(link), "{help}");
        }
        let capabilities = provider.capabilities();
        assert!(capabilities.reads_busy_time && capabilities.writes_events);
        assert!(!capabilities.provider_slots && !capabilities.push);
        assert!(provider.unavailable_reason().is_none());
    }

    #[tokio::test]
    async fn fields_are_checked_before_any_request() {
        let provider = provider();
        let expert = ExpertId::new();
        let fields = |v: Value| v.as_object().unwrap().clone();
        let missing_url = provider
            .connect(expert, &fields(serde_json::json!({"username": "a", "password": "p"})))
            .await;
        assert!(
            matches!(missing_url, Err(CoreError::InvalidSettings(_))),
            "{missing_url:?}"
        );
        let empty_password = provider
            .connect(
                expert,
                &fields(serde_json::json!({"server_url": "https://x.example", "username": "a", "password": ""})),
            )
            .await;
        assert!(
            matches!(empty_password, Err(CoreError::InvalidCredentials(_))),
            "{empty_password:?}"
        );
        let not_http = provider
            .connect(
                expert,
                &fields(serde_json::json!({"server_url": "ftp://x.example", "username": "a", "password": "p"})),
            )
            .await;
        assert!(matches!(not_http, Err(CoreError::InvalidSettings(_))), "{not_http:?}");
        let details = provider.integration_details(&serde_json::json!({"server_url": "https://h/"}));
        assert_eq!(details["server_url"], "https://h/");
    }
}

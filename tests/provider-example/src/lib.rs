#![doc = include_str!("../README.md")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use availability_core::provider::{
    ConnectMethod, Connection, CredentialField, Features, ProviderContext, ProviderDescriptor, ProviderSetupError,
};
use availability_core::{
    AvailabilityStrategy, BusyTimeSource, CoreError, CredentialRepository, EventWriter, ExternalEvent, Provider,
};
use availability_domain::jiff::Timestamp;
use availability_domain::{Appointment, CalendarType, Client, Expert, ExpertId, IntegrationType, Interval, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The integration type this crate serves.
pub const INTEGRATION: IntegrationType = IntegrationType::from_static("example_calendar");

/// The `calendar_type` of the appointments it writes.
pub const CALENDAR_TYPE: CalendarType = CalendarType::from_static("example");

/// The passphrase the provider accepts.
pub const PASSPHRASE: &str = "open sesame";

const DISPLAY_NAME: &str = "Example calendar";

/// One busy interval of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Its start.
    pub start: Timestamp,
    /// Its end.
    pub end: Timestamp,
}

/// An event written for an appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub start: Timestamp,
    /// Until.
    pub end: Timestamp,
    /// Who with.
    pub summary: String,
}

/// The calendar file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarFile {
    /// Busy time.
    #[serde(default)]
    pub busy: Vec<Span>,
    /// Events by appointment id.
    #[serde(default)]
    pub events: BTreeMap<String, Event>,
}

impl CalendarFile {
    /// Reads a calendar file.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{} is not a calendar: {e}", path.display()))
    }

    /// Writes it (whole; tests only use it from one process).
    pub fn write(&self, path: &std::path::Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// What is stored for a connected expert.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    calendar_file: PathBuf,
}

/// The strategy: busy time from the file, events into it.
pub struct ExampleStrategy {
    credentials: Arc<dyn CredentialRepository>,
}

impl std::fmt::Debug for ExampleStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExampleStrategy")
    }
}

impl ExampleStrategy {
    async fn file(&self, expert: ExpertId) -> Result<PathBuf, CoreError> {
        let Some(credential) = self.credentials.load(expert, INTEGRATION).await? else {
            return Err(CoreError::NeedsReauth {
                integration: INTEGRATION,
                message: "not connected".into(),
            });
        };
        let stored: Stored = serde_json::from_str(credential.expose()).map_err(|e| CoreError::NeedsReauth {
            integration: INTEGRATION,
            message: format!("the stored connection is unreadable: {e}"),
        })?;
        Ok(stored.calendar_file)
    }

    async fn read(&self, expert: ExpertId) -> Result<(PathBuf, CalendarFile), CoreError> {
        let path = self.file(expert).await?;
        let calendar = CalendarFile::read(&path).map_err(|message| CoreError::ProviderUnavailable {
            integration: INTEGRATION,
            message,
        })?;
        Ok((path, calendar))
    }

    async fn change<F>(&self, expert: ExpertId, change: F) -> Result<(), CoreError>
    where
        F: FnOnce(&mut CalendarFile),
    {
        let (path, mut calendar) = self.read(expert).await?;
        change(&mut calendar);
        calendar.write(&path).map_err(|message| CoreError::ProviderUnavailable {
            integration: INTEGRATION,
            message,
        })
    }
}

impl AvailabilityStrategy for ExampleStrategy {
    fn integration_type(&self) -> IntegrationType {
        INTEGRATION
    }

    fn display_name(&self) -> &'static str {
        DISPLAY_NAME
    }

    fn calendar_type(&self) -> Option<CalendarType> {
        Some(CALENDAR_TYPE)
    }

    fn busy_time(&self) -> Option<&dyn BusyTimeSource> {
        Some(self)
    }

    fn event_writer(&self) -> Option<&dyn EventWriter> {
        Some(self)
    }
}

#[async_trait]
impl BusyTimeSource for ExampleStrategy {
    async fn busy_intervals(&self, expert: &Expert, window: Interval) -> Result<Vec<Interval>, CoreError> {
        let (_, calendar) = self.read(expert.id).await?;
        Ok(calendar
            .busy
            .iter()
            .filter_map(|s| Interval::new(s.start, s.end).ok())
            .filter(|i| i.overlaps(&window))
            .collect())
    }
}

fn event_of(client: &Client, appointment: &Appointment) -> Event {
    Event {
        start: appointment.start_time,
        end: appointment.end_time,
        summary: format!("Appointment with {}", client.name),
    }
}

#[async_trait]
impl EventWriter for ExampleStrategy {
    async fn create_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        let id = appointment.id.to_string();
        let event = event_of(client, appointment);
        self.change(expert.id, |c| {
            c.events.insert(id.clone(), event);
        })
        .await?;
        Ok(ExternalEvent::new(id))
    }

    async fn update_event(
        &self,
        expert: &Expert,
        client: &Client,
        appointment: &Appointment,
    ) -> Result<ExternalEvent, CoreError> {
        self.create_event(expert, client, appointment).await
    }

    async fn delete_event(&self, expert: &Expert, appointment: &Appointment) -> Result<(), CoreError> {
        let id = appointment.id.to_string();
        self.change(expert.id, |c| {
            c.events.remove(&id);
        })
        .await
    }
}

/// The provider: connect with the file's path and the passphrase.
#[derive(Debug)]
pub struct ExampleProvider {
    descriptor: ProviderDescriptor,
    strategy: Arc<ExampleStrategy>,
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, CoreError> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CoreError::InvalidSettings(format!("{name} is required")))
}

#[async_trait]
impl Provider for ExampleProvider {
    fn descriptor(&self) -> &ProviderDescriptor {
        &self.descriptor
    }

    fn strategy(&self) -> Option<Arc<dyn AvailabilityStrategy>> {
        Some(self.strategy.clone())
    }

    async fn connect(&self, _expert: ExpertId, fields: &Map<String, Value>) -> Result<Connection, CoreError> {
        let path = PathBuf::from(text(fields, "calendar_file")?);
        if text(fields, "passphrase")? != PASSPHRASE {
            return Err(CoreError::InvalidCredentials("the passphrase is wrong".into()));
        }
        CalendarFile::read(&path).map_err(CoreError::DiscoveryFailed)?;
        let stored = Stored {
            calendar_file: path.clone(),
        };
        Ok(Connection {
            credential: Secret::new(serde_json::to_string(&stored).map_err(|e| CoreError::Storage(e.to_string()))?),
            account: path.file_name().map(|n| n.to_string_lossy().into_owned()),
            settings: serde_json::json!({}),
        })
    }
}

/// Registers the example provider (it reads no settings).
pub fn register(context: &ProviderContext) -> Result<Arc<dyn Provider>, ProviderSetupError> {
    Ok(Arc::new(ExampleProvider {
        descriptor: ProviderDescriptor {
            integration_type: INTEGRATION,
            display_name: DISPLAY_NAME,
            description: "Your hours minus the busy times in a calendar file; appointments are added there.",
            calendar_type: Some(CALENDAR_TYPE),
            connect: ConnectMethod::Credentials,
            credential_fields: vec![
                CredentialField {
                    name: "calendar_file",
                    label: "Calendar file",
                    secret: false,
                    placeholder: Some("/path/to/calendar.json"),
                    presets: Vec::new(),
                    help: None,
                },
                CredentialField {
                    name: "passphrase",
                    label: "Passphrase",
                    secret: true,
                    placeholder: None,
                    presets: Vec::new(),
                    help: Some("The example calendar opens with \"open sesame\"."),
                },
            ],
            features: Features::default(),
            push: false,
        },
        strategy: Arc::new(ExampleStrategy {
            credentials: context.credentials.clone(),
        }),
    }))
}

//! Providers as plug-ins. A provider crate brings everything about its provider behind one
//! [`Provider`]: its [`AvailabilityStrategy`], how an expert connects it (OAuth, credential fields
//! or a token) with its settings read from its own environment variables, the account and
//! settings it keeps, its calendars, what disconnecting does, and its webhook handler. The server
//! holds a [`ProviderRegistry`] built from one [`ProviderFactory`] per crate and names no provider
//! anywhere else; storage keeps credentials and settings per (expert, integration type).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use availability_domain::jiff::Timestamp;
use availability_domain::{CalendarType, Expert, ExpertId, IntegrationType, Schedule, Secret};
use serde::Serialize;

use crate::ports::{Credential, CredentialRepository, IntegrationRepository};
use crate::provider_events::ProviderEvent;
use crate::strategy::{AvailabilityStrategy, Capabilities};
use crate::CoreError;

/// How an expert connects a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectMethod {
    /// OAuth 2.0 in the expert's browser (`POST .../connect`, then the provider's callback).
    Oauth,
    /// Credential fields sent with `PUT .../integrations/{type}` (server address, user, password).
    Credentials,
    /// An access token sent with `PUT .../integrations/{type}` (OAuth may be offered as well).
    Token,
    /// Nothing to connect (hours typed in).
    None,
}

/// A value a credential field can be set to with one click (a service's server address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preset {
    /// What the person picks ("iCloud").
    pub label: &'static str,
    /// The value it fills in.
    pub value: &'static str,
}

/// One field of a "credentials" or "token" connect form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialField {
    /// The body field's name.
    pub name: &'static str,
    /// Its label for people.
    pub label: &'static str,
    /// Whether it is a secret (shown as a password field, never returned by the API).
    pub secret: bool,
    /// An example value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<&'static str>,
    /// Values to choose from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub presets: Vec<Preset>,
    /// A sentence of help shown with the field (e.g. where to make an app-specific password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<&'static str>,
}

/// What a connected provider offers beyond slots and bookings; the pages show a control for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Features {
    /// Several calendars to choose from: which block time, which receives appointments
    /// (`GET|PUT .../integrations/{type}/calendars`).
    pub calendars: bool,
    /// Event types to choose from (`GET|POST .../integrations/{type}/event_types`).
    pub event_types: bool,
    /// Working hours the provider keeps, offered as the expert's weekly hours
    /// (`GET .../integrations/{type}/working_hours`).
    pub working_hours: bool,
}

/// What a provider is, as `GET /api/v1/providers` shows it.
#[derive(Debug, Clone)]
pub struct ProviderDescriptor {
    /// Its integration type, owned by its crate.
    pub integration_type: IntegrationType,
    /// The name people know it by.
    pub display_name: &'static str,
    /// One sentence on what choosing it means for the expert's slots.
    pub description: &'static str,
    /// The `calendar_type` of the appointments it writes, if it writes any.
    pub calendar_type: Option<CalendarType>,
    /// How an expert connects it.
    pub connect: ConnectMethod,
    /// The fields of a "credentials" or "token" connect.
    pub credential_fields: Vec<CredentialField>,
    /// Optional features.
    pub features: Features,
    /// Whether it pushes calendar changes to the server.
    pub push: bool,
}

/// What to store for a connected integration: the secret credential (encrypted at rest), the
/// account to show, and the settings the provider keeps (JSON; not secret).
#[derive(Debug, Clone)]
pub struct Connection {
    /// Tokens, passwords: stored encrypted, never shown.
    pub credential: Credential,
    /// The provider account (email or name), when known.
    pub account: Option<String>,
    /// Non-secret settings (chosen calendars, event type, ...), validated by the provider.
    pub settings: serde_json::Value,
}

/// The start of an OAuth connect: where to send the expert, and what the callback needs back.
pub struct AuthorizationRequest {
    /// The provider's authorization URL (with state and PKCE challenge).
    pub url: String,
    /// The random state (stored hashed, single use).
    pub state: Secret<String>,
    /// The PKCE verifier (stored encrypted until the callback).
    pub pkce_verifier: Secret<String>,
}

impl Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the state: show only where it points.
        let endpoint = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("AuthorizationRequest")
            .field("endpoint", &endpoint)
            .field("state", &self.state)
            .field("pkce_verifier", &self.pkce_verifier)
            .finish()
    }
}

/// The OAuth 2.0 connect of a provider.
#[async_trait]
pub trait OAuthConnector: Send + Sync {
    /// A new authorization request; the expert's browser goes to its URL.
    fn authorize(&self, redirect_uri: &str) -> Result<AuthorizationRequest, CoreError>;

    /// Exchanges the callback's code and returns what to store. Any provider failure here is an
    /// error of the provider (the server answers 502).
    async fn finish(
        &self,
        expert: ExpertId,
        code: &str,
        pkce_verifier: &Secret<String>,
        redirect_uri: &str,
    ) -> Result<Connection, CoreError>;
}

/// A calendar of the connected account, with the expert's current choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarEntry {
    /// The provider's calendar id.
    pub id: String,
    /// The calendar's name.
    pub summary: String,
    /// Whether it is the account's main calendar.
    pub primary: bool,
    /// Whether its events block the expert's time.
    pub blocks_time: bool,
    /// Whether appointments are written to it.
    pub receives_events: bool,
    /// Whether appointments cannot be written to it.
    pub read_only: bool,
    /// The account's role on it, where the provider says (e.g. owner, writer, reader).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_role: Option<String>,
    /// The calendar's zone, where the provider says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// An event type of a scheduler, one of which gives the expert's slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventTypeEntry {
    /// The provider's reference.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// Its length.
    pub duration_minutes: u32,
    /// Its booking page.
    pub scheduling_url: Option<String>,
}

/// A webhook delivery as it arrived: nothing is parsed before the provider checked it.
#[derive(Debug)]
pub struct WebhookRequest<'a> {
    /// Header names in lowercase, values as sent.
    pub headers: &'a [(String, String)],
    /// The query string's parameters, decoded.
    pub query: &'a [(String, String)],
    /// The raw body bytes (signatures are computed on them).
    pub body: &'a [u8],
    /// When it arrived.
    pub received_at: Timestamp,
}

impl WebhookRequest<'_> {
    /// A header's value (the name in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A query parameter's value.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the provider is answered.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookReply {
    /// 200 with a JSON object that sums up what was done with the reported changes.
    Done,
    /// 202: accepted, the work happens afterwards.
    Accepted,
    /// 200 text/plain with this body (a subscription validation handshake).
    Echo(String),
}

/// A change the provider reported for one expert.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedChange {
    /// Whose calendar.
    pub expert: ExpertId,
    /// What happened there.
    pub event: ProviderEvent,
}

/// What a webhook delivery said, once the provider checked it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookOutcome {
    /// How to answer.
    pub reply: WebhookReply,
    /// The changes to apply (through `AvailabilityService::apply_provider_event`).
    pub changes: Vec<ReportedChange>,
    /// Why nothing was applied, when the delivery is acknowledged but not acted on.
    pub ignored: Option<String>,
}

impl WebhookOutcome {
    /// A delivery acknowledged and not acted on.
    pub fn ignored(why: impl Into<String>) -> Self {
        Self {
            reply: WebhookReply::Done,
            changes: Vec::new(),
            ignored: Some(why.into()),
        }
    }
}

/// A provider's webhook endpoint (`POST /webhooks/{type}`). It checks the delivery's signature,
/// token or client state before it reads anything (`CoreError::InvalidSignature` otherwise).
#[async_trait]
pub trait WebhookHandler: Send + Sync {
    /// Checks and reads one delivery.
    async fn handle(&self, request: WebhookRequest<'_>) -> Result<WebhookOutcome, CoreError>;
}

/// One provider: its strategy and everything about connecting it.
#[async_trait]
pub trait Provider: Send + Sync + Debug {
    /// What it is.
    fn descriptor(&self) -> &ProviderDescriptor;

    /// Why it cannot be used on this server (its settings are missing), or None.
    fn unavailable_reason(&self) -> Option<String> {
        None
    }

    /// Its strategy; None when it is unavailable.
    fn strategy(&self) -> Option<Arc<dyn AvailabilityStrategy>>;

    /// What it can do, as `GET /api/v1/providers` shows it.
    fn capabilities(&self) -> Capabilities {
        let capabilities = self
            .strategy()
            .map(|s| Capabilities::of(s.as_ref()))
            .unwrap_or_default();
        let push = capabilities.push || self.descriptor().push;
        capabilities.with_push(push)
    }

    /// Its OAuth connect, if it has one and it is configured.
    fn oauth(&self) -> Option<&dyn OAuthConnector> {
        None
    }

    /// Connects with the fields of a "credentials" or "token" form (`PUT .../integrations/{type}`):
    /// checks them against the provider before anything is stored, and returns what to store.
    async fn connect(
        &self,
        expert: ExpertId,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Connection, CoreError> {
        let _ = (expert, fields);
        Err(CoreError::NotOffered(format!(
            "{} is not connected with credential fields",
            self.descriptor().display_name
        )))
    }

    /// Changes the settings of a connected integration from a body without credential fields
    /// (e.g. the event type of a scheduler). The provider stores what its credential keeps
    /// itself; it returns the integration's new settings for the server to keep beside it.
    async fn update_settings(
        &self,
        expert: ExpertId,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, CoreError> {
        let _ = (expert, fields);
        let names: Vec<&str> = self.descriptor().credential_fields.iter().map(|f| f.name).collect();
        Err(CoreError::InvalidSettings(format!(
            "send the credential fields to connect {} ({})",
            self.descriptor().display_name,
            names.join(", ")
        )))
    }

    /// The account to show when the grant did not reveal it (looked up after an OAuth connect).
    async fn account(&self, expert: ExpertId) -> Result<Option<String>, CoreError> {
        let _ = expert;
        Ok(None)
    }

    /// The connected account's calendars with the expert's choice ([`Features::calendars`]).
    async fn calendars(&self, expert: ExpertId) -> Result<Vec<CalendarEntry>, CoreError> {
        let _ = expert;
        Err(not_offered(self.descriptor(), "a choice of calendars"))
    }

    /// Chooses the calendars that block time and the one that receives appointments.
    async fn choose_calendars(
        &self,
        expert: ExpertId,
        busy_calendar_ids: Vec<String>,
        event_calendar_id: String,
    ) -> Result<(), CoreError> {
        let _ = (expert, busy_calendar_ids, event_calendar_id);
        Err(not_offered(self.descriptor(), "a choice of calendars"))
    }

    /// The provider's working hours of the expert as a schedule for the expert to review and save
    /// ([`Features::working_hours`]); None when the provider has none for this account.
    async fn working_hours(&self, expert: &Expert, current: &Schedule) -> Result<Option<Schedule>, CoreError> {
        let _ = (expert, current);
        Err(not_offered(self.descriptor(), "working hours"))
    }

    /// The connected account's active event types ([`Features::event_types`]).
    async fn event_types(&self, expert: ExpertId) -> Result<Vec<EventTypeEntry>, CoreError> {
        let _ = expert;
        Err(not_offered(self.descriptor(), "event types"))
    }

    /// The active event types of an account not connected yet, from connect fields (so the
    /// expert can pick one before connecting). Nothing is stored.
    async fn event_types_for(
        &self,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<EventTypeEntry>, CoreError> {
        let _ = fields;
        Err(not_offered(self.descriptor(), "event types"))
    }

    /// Extra fields of this integration's entry in `GET .../integrations`, from its settings.
    fn integration_details(&self, settings: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        let _ = settings;
        serde_json::Map::new()
    }

    /// Undoes at the provider what connecting did (revokes the grant, removes webhook
    /// subscriptions), given the credential that was just wiped here. Best effort: the server
    /// has forgotten the credential whatever this answers.
    async fn disconnect(&self, expert: ExpertId, credential: Credential) -> Result<(), CoreError> {
        let _ = (expert, credential);
        Ok(())
    }

    /// Its webhook endpoint, if it has one.
    fn webhook(&self) -> Option<&dyn WebhookHandler> {
        None
    }
}

/// What a provider answers for a feature it does not have.
fn not_offered(descriptor: &ProviderDescriptor, what: &str) -> CoreError {
    CoreError::NotOffered(format!("{} offers no {what}", descriptor.display_name))
}

/// What a provider is built from: its own settings (environment variables it reads itself), the
/// server's public address, and the ports it records credentials and status in.
#[derive(Clone)]
pub struct ProviderContext {
    vars: Arc<HashMap<String, String>>,
    /// The address users and providers reach the server at (`PUBLIC_BASE_URL`), no trailing `/`.
    pub public_base_url: String,
    /// Experts' credentials (encrypted at rest by the store).
    pub credentials: Arc<dyn CredentialRepository>,
    /// Integrations' status and settings.
    pub integrations: Arc<dyn IntegrationRepository>,
}

impl Debug for ProviderContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderContext")
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

impl ProviderContext {
    /// A context over these settings.
    pub fn new(
        vars: HashMap<String, String>,
        public_base_url: impl Into<String>,
        credentials: Arc<dyn CredentialRepository>,
        integrations: Arc<dyn IntegrationRepository>,
    ) -> Self {
        Self {
            vars: Arc::new(vars),
            public_base_url: public_base_url.into().trim_end_matches('/').to_owned(),
            credentials,
            integrations,
        }
    }

    /// A setting, trimmed; None when unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A setting that is secret.
    pub fn secret(&self, name: &str) -> Option<Secret<String>> {
        self.var(name).map(Secret::new)
    }

    /// Where the provider's OAuth callback is reached.
    pub fn oauth_redirect_uri(&self, integration: IntegrationType) -> String {
        format!("{}/oauth/{integration}/callback", self.public_base_url)
    }

    /// Where the provider's webhooks are delivered.
    pub fn webhook_url(&self, integration: IntegrationType) -> String {
        format!("{}/webhooks/{integration}", self.public_base_url)
    }
}

/// A setting a provider cannot start with (a value that is present but wrong).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ProviderSetupError {
    /// The setting.
    pub name: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// How a provider crate is registered: builds its provider from the context. A provider whose
/// settings are missing is still built, reporting why in [`Provider::unavailable_reason`].
pub type ProviderFactory = fn(&ProviderContext) -> Result<Arc<dyn Provider>, ProviderSetupError>;

/// The providers a server offers, in registration order.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    providers: Vec<Arc<dyn Provider>>,
}

impl ProviderRegistry {
    /// Builds every provider; a later registration of a type replaces an earlier one in place.
    pub fn build(factories: &[ProviderFactory], context: &ProviderContext) -> Result<Self, ProviderSetupError> {
        let mut registry = Self::default();
        for factory in factories {
            registry = registry.with(factory(context)?);
        }
        Ok(registry)
    }

    /// Adds (or replaces) a provider.
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Self {
        let name = provider.descriptor().integration_type;
        match self
            .providers
            .iter_mut()
            .find(|p| p.descriptor().integration_type == name)
        {
            Some(slot) => *slot = provider,
            None => self.providers.push(provider),
        }
        self
    }

    /// Every provider, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.iter()
    }

    /// The provider of an integration type.
    pub fn get(&self, integration: IntegrationType) -> Option<&Arc<dyn Provider>> {
        self.providers
            .iter()
            .find(|p| p.descriptor().integration_type == integration)
    }

    /// The provider named in a path or body; unknown or malformed names are
    /// `CoreError::UnknownIntegration`.
    pub fn find(&self, name: &str) -> Result<&Arc<dyn Provider>, CoreError> {
        IntegrationType::parse(name)
            .ok()
            .and_then(|t| self.get(t))
            .ok_or_else(|| CoreError::UnknownIntegration(name.chars().take(64).collect()))
    }

    /// The provider that writes appointments of this calendar type.
    pub fn by_calendar_type(&self, calendar: CalendarType) -> Option<&Arc<dyn Provider>> {
        self.providers
            .iter()
            .find(|p| p.descriptor().calendar_type == Some(calendar))
    }

    /// The name people know an integration type by (its own name when unregistered).
    pub fn display_name(&self, integration: IntegrationType) -> String {
        self.get(integration)
            .map(|p| p.descriptor().display_name.to_owned())
            .unwrap_or_else(|| integration.to_string())
    }

    /// The strategies of the providers that are available, for the service.
    pub fn strategies(&self) -> crate::StrategyRegistry {
        self.providers
            .iter()
            .filter_map(|p| p.strategy())
            .fold(crate::StrategyRegistry::new(), |r, s| r.with(s))
    }
}

//! Calendly as a plug-in: its descriptor, connecting with a personal access token (or OAuth when
//! `CALENDLY_CLIENT_ID` and `CALENDLY_CLIENT_SECRET` are set), the event type choice, the webhook
//! (`POST /webhooks/calendly`, signed with `CALENDLY_WEBHOOK_SIGNING_KEY`) turned into reported
//! bookings and cancellations, and what disconnecting undoes. The server registers it with
//! [`register`]; what a reported booking does to the expert's appointments is decided by
//! `availability_core`'s service, for every provider alike.

use std::sync::Arc;

use async_trait::async_trait;
use availability_core::provider::{
    AuthorizationRequest, ConnectMethod, Connection, CredentialField, EventTypeEntry, Features, OAuthConnector,
    ProviderContext, ProviderDescriptor, ProviderSetupError, ReportedChange, WebhookHandler, WebhookOutcome,
    WebhookReply, WebhookRequest,
};
use availability_core::{
    AvailabilityStrategy, CoreError, Credential, IntegrationRepository, Invitee, Provider, ProviderEvent,
};
use availability_domain::{ExpertId, Secret, Zone};
use provider_http::{revoke_grant, OAuthApp, OAuthSettings, TokenManager};
use serde_json::{json, Map, Value};

use crate::stored::{CalendlyAuth, ChosenEventType, StoredCalendly};
use crate::{
    oauth_config, parse_webhook, verify_webhook, CalendlyBuilder, CalendlyStrategy, EventType, WebhookError,
    WebhookEventKind, CALENDAR_TYPE, CALENDLY_API_BASE, CALENDLY_AUTH_URL, CALENDLY_REVOKE_URL, CALENDLY_TOKEN_URL,
    DEFAULT_MAX_SPAN_DAYS, DISPLAY_NAME, INTEGRATION, SIGNATURE_HEADER,
};

/// The settings' prefix: `CALENDLY_CLIENT_ID`, `CALENDLY_CLIENT_SECRET`, `CALENDLY_AUTH_URL`,
/// `CALENDLY_TOKEN_URL`, `CALENDLY_REVOKE_URL`, `CALENDLY_API_BASE`,
/// `CALENDLY_WEBHOOK_SIGNING_KEY`, `CALENDLY_MAX_SPAN_DAYS`.
const PREFIX: &str = "CALENDLY";

/// The connect form's fields.
const TOKEN_FIELD: &str = "personal_access_token";
const EVENT_TYPE_FIELD: &str = "event_type_uri";

/// Calendly, registered: always available (personal access tokens need no OAuth app).
pub struct CalendlyProvider {
    descriptor: ProviderDescriptor,
    strategy: Arc<CalendlyStrategy>,
    app: Option<Arc<OAuthApp>>,
    signing_key: Option<Secret<String>>,
    integrations: Arc<dyn IntegrationRepository>,
}

impl std::fmt::Debug for CalendlyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendlyProvider")
            .field("strategy", &self.strategy)
            .field("oauth", &self.app.is_some())
            .field("webhooks", &self.signing_key.is_some())
            .finish_non_exhaustive()
    }
}

fn setup_error(name: &'static str, message: impl std::fmt::Display) -> ProviderSetupError {
    ProviderSetupError {
        name,
        message: message.to_string(),
    }
}

/// Builds the Calendly provider from its settings.
pub fn register(context: &ProviderContext) -> Result<Arc<dyn Provider>, ProviderSetupError> {
    let settings = OAuthSettings::from_context(
        context,
        PREFIX,
        CALENDLY_AUTH_URL,
        CALENDLY_TOKEN_URL,
        Some(CALENDLY_REVOKE_URL),
    );
    let app = settings
        .app(|id, secret, s| {
            oauth_config(
                id,
                secret,
                s.auth_url.clone(),
                s.token_url.clone(),
                s.revoke_url.clone(),
            )
        })
        .map_err(|e| setup_error("CALENDLY_AUTH_URL", e))?;
    let max_span_days = match context.var("CALENDLY_MAX_SPAN_DAYS") {
        Some(d) => d
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=366).contains(n))
            .ok_or_else(|| setup_error("CALENDLY_MAX_SPAN_DAYS", format!("expected 1-366 days, got {d:?}")))?,
        None => DEFAULT_MAX_SPAN_DAYS,
    };
    let mut builder = CalendlyBuilder::new(context.credentials.clone(), context.integrations.clone())
        .with_api_base(
            context
                .var("CALENDLY_API_BASE")
                .unwrap_or_else(|| CALENDLY_API_BASE.to_owned()),
        )
        .with_max_span_days(max_span_days);
    if let Some(app) = &app {
        builder = builder.with_token_manager(TokenManager::new(
            app.clone(),
            context.credentials.clone(),
            context.integrations.clone(),
        ));
    }
    let signing_key = context.secret("CALENDLY_WEBHOOK_SIGNING_KEY");
    if let Some(key) = &signing_key {
        builder = builder.with_webhook(context.webhook_url(INTEGRATION), key.clone());
    }
    let strategy = builder.build().map_err(|e| setup_error("CALENDLY_API_BASE", e))?;
    Ok(Arc::new(CalendlyProvider {
        descriptor: ProviderDescriptor {
            integration_type: INTEGRATION,
            display_name: DISPLAY_NAME,
            description: "Clients book the free times of one Calendly event type; Calendly's own hours apply.",
            calendar_type: Some(CALENDAR_TYPE),
            connect: ConnectMethod::Token,
            credential_fields: vec![
                CredentialField {
                    name: TOKEN_FIELD,
                    label: "Personal access token",
                    secret: true,
                    placeholder: None,
                    presets: Vec::new(),
                    help: Some(
                        "Make one in Calendly under Integrations, API and webhooks; it needs the scopes \
                         availability:read, event_types:read, scheduled_events:read, scheduled_events:write and \
                         webhooks.",
                    ),
                },
                CredentialField {
                    name: EVENT_TYPE_FIELD,
                    label: "Event type",
                    secret: false,
                    placeholder: Some("https://api.calendly.com/event_types/..."),
                    presets: Vec::new(),
                    help: None,
                },
            ],
            features: Features {
                event_types: true,
                ..Features::default()
            },
            push: false,
        },
        strategy: Arc::new(strategy),
        app,
        signing_key,
        integrations: context.integrations.clone(),
    }))
}

fn text_field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, CoreError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(CoreError::InvalidSettings(format!("{name} must be a string"))),
    }
}

fn token(fields: &Map<String, Value>) -> Result<Secret<String>, CoreError> {
    text_field(fields, TOKEN_FIELD)?
        .map(Secret::new)
        .ok_or_else(|| CoreError::InvalidToken(format!("{TOKEN_FIELD} is empty")))
}

fn connection(stored: &StoredCalendly) -> Result<Connection, CoreError> {
    Ok(Connection {
        credential: stored.to_credential()?,
        account: stored.account.clone(),
        settings: stored.settings_json(),
    })
}

fn entries(types: Vec<EventType>) -> Vec<EventTypeEntry> {
    types
        .into_iter()
        .filter(|t| t.active)
        .map(|t| EventTypeEntry {
            uri: t.uri,
            name: t.name,
            duration_minutes: t.duration_minutes,
            scheduling_url: t.scheduling_url,
        })
        .collect()
}

#[async_trait]
impl Provider for CalendlyProvider {
    fn descriptor(&self) -> &ProviderDescriptor {
        &self.descriptor
    }

    fn strategy(&self) -> Option<Arc<dyn AvailabilityStrategy>> {
        Some(self.strategy.clone())
    }

    fn oauth(&self) -> Option<&dyn OAuthConnector> {
        self.app.is_some().then_some(self as &dyn OAuthConnector)
    }

    /// {personal_access_token, event_type_uri?}: the token is checked, the event type chosen (the
    /// only active one when none is given), and the webhook subscription made.
    async fn connect(&self, expert: ExpertId, fields: &Map<String, Value>) -> Result<Connection, CoreError> {
        let token = token(fields)?;
        let stored = self
            .strategy
            .connect_with_token(expert, token, text_field(fields, EVENT_TYPE_FIELD)?)
            .await?;
        connection(&stored)
    }

    /// {event_type_uri}: chooses or changes the event type of the account already connected.
    async fn update_settings(&self, expert: ExpertId, fields: &Map<String, Value>) -> Result<Value, CoreError> {
        let Some(uri) = text_field(fields, EVENT_TYPE_FIELD)? else {
            return Err(CoreError::InvalidToken(format!(
                "send {TOKEN_FIELD} (to connect) or {EVENT_TYPE_FIELD} (to choose the event type)"
            )));
        };
        let stored = self.strategy.select_event_type(expert, &uri).await?;
        Ok(stored.settings_json())
    }

    async fn event_types(&self, expert: ExpertId) -> Result<Vec<EventTypeEntry>, CoreError> {
        Ok(entries(self.strategy.expert_event_types(expert).await?))
    }

    /// {personal_access_token}: the token's active event types, before connecting.
    async fn event_types_for(&self, fields: &Map<String, Value>) -> Result<Vec<EventTypeEntry>, CoreError> {
        let token = token(fields)?;
        let account = self.strategy.check_personal_access_token(&token).await?;
        Ok(entries(self.strategy.event_types(&token, &account.user_uri).await?))
    }

    /// `event_type` ({uri, name, duration_minutes} or null) and `event_type_uri`.
    fn integration_details(&self, settings: &Value) -> Map<String, Value> {
        let chosen = ChosenEventType::from_settings_json(&settings.to_string());
        let mut details = Map::new();
        details.insert(
            "event_type".into(),
            match &chosen {
                Some(t) => json!({"uri": t.uri, "name": t.name, "duration_minutes": t.duration_minutes}),
                None => Value::Null,
            },
        );
        details.insert("event_type_uri".into(), json!(chosen.map(|t| t.uri)));
        details
    }

    /// Removes the webhook subscription and revokes an OAuth grant (best effort).
    async fn disconnect(&self, expert: ExpertId, credential: Credential) -> Result<(), CoreError> {
        let Ok(stored) = StoredCalendly::from_credential(&credential) else {
            return Ok(());
        };
        if let Err(error) = self.strategy.delete_webhook_subscription(&stored).await {
            tracing::warn!(%expert, %error, "removing the Calendly webhook subscription failed");
        }
        match (&stored.auth, &self.app) {
            (CalendlyAuth::OAuth(tokens), Some(app)) => {
                let credential = tokens.to_credential()?;
                revoke_grant(app, &credential).await
            }
            _ => Ok(()),
        }
    }

    fn webhook(&self) -> Option<&dyn WebhookHandler> {
        Some(self)
    }
}

#[async_trait]
impl OAuthConnector for CalendlyProvider {
    fn authorize(&self, redirect_uri: &str) -> Result<AuthorizationRequest, CoreError> {
        let Some(app) = &self.app else {
            return Err(CoreError::IntegrationUnavailable(format!(
                "{DISPLAY_NAME} OAuth is not set up on this server (CALENDLY_CLIENT_ID, CALENDLY_CLIENT_SECRET)"
            )));
        };
        app.authorize_url(redirect_uri).map_err(|e| e.into_core(INTEGRATION))
    }

    /// The grant carries the Calendly user and, when they have exactly one, the event type.
    async fn finish(
        &self,
        expert: ExpertId,
        code: &str,
        pkce_verifier: &Secret<String>,
        redirect_uri: &str,
    ) -> Result<Connection, CoreError> {
        let Some(app) = &self.app else {
            return Err(CoreError::IntegrationUnavailable(DISPLAY_NAME.into()));
        };
        let tokens = app.exchange_code(code, pkce_verifier, redirect_uri).await?;
        let stored = self.strategy.connect_oauth(expert, tokens).await?;
        connection(&stored)
    }
}

#[async_trait]
impl WebhookHandler for CalendlyProvider {
    /// The signature is checked on the raw bytes before anything is parsed. A delivery for a
    /// Calendly user no expert is connected to, or of an event this crate does not handle, is
    /// acknowledged and ignored (so that Calendly stops retrying it).
    async fn handle(&self, request: WebhookRequest<'_>) -> Result<WebhookOutcome, CoreError> {
        let Some(key) = &self.signing_key else {
            return Err(CoreError::InvalidSignature(
                "no webhook signing key is configured".into(),
            ));
        };
        let header = request.header(&SIGNATURE_HEADER.to_ascii_lowercase());
        verify_webhook(key.expose().as_bytes(), header, request.body, request.received_at)
            .map_err(|e| CoreError::InvalidSignature(e.to_string()))?;
        let event = match parse_webhook(request.body) {
            Ok(event) => event,
            Err(WebhookError::UnsupportedEvent(kind)) => {
                return Ok(WebhookOutcome::ignored(format!("{kind} is not handled")))
            }
            Err(e) => return Err(CoreError::MalformedWebhook(e.to_string())),
        };
        let Some(user) = event.user_uri.clone() else {
            return Ok(WebhookOutcome::ignored("no Calendly user in the delivery"));
        };
        let Some(expert) = self
            .integrations
            .expert_by_setting(INTEGRATION, "user_uri", &user)
            .await?
        else {
            return Ok(WebhookOutcome::ignored("no expert is connected to that user"));
        };
        let change = match event.event {
            WebhookEventKind::Created => ProviderEvent::Booked {
                time: self.strategy.webhook_event_time(expert, &event).await?,
                external_id: event.invitee_uri,
                invitee: Invitee {
                    email: event.email,
                    name: event.name,
                    timezone: event.timezone.as_deref().and_then(|z| Zone::new(z).ok()),
                },
                // A reschedule on Calendly moves a booking (its invitee.canceled carries the rest).
                rescheduled: event.old_invitee_uri.is_some(),
            },
            WebhookEventKind::Canceled => ProviderEvent::Cancelled {
                external_id: event.invitee_uri,
                reason: event.cancellation_reason,
            },
        };
        Ok(WebhookOutcome {
            reply: WebhookReply::Done,
            changes: vec![ReportedChange { expert, event: change }],
            ignored: None,
        })
    }
}

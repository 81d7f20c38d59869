//! Google Calendar as a plug-in: its descriptor, its OAuth connect (settings from `GOOGLE_*`),
//! the account and calendar choice, and revoking the grant on disconnect. The server registers
//! it with [`register`].

use std::sync::Arc;

use async_trait::async_trait;
use availability_core::provider::{
    AuthorizationRequest, CalendarEntry, ConnectMethod, Connection, Features, OAuthConnector, ProviderContext,
    ProviderDescriptor, ProviderSetupError,
};
use availability_core::{AvailabilityStrategy, CoreError, Credential, Provider};
use availability_domain::{ExpertId, Secret};
use provider_http::{email_from_id_token, revoke_grant, token_connection, OAuthApp, OAuthSettings, TokenManager};

use crate::calendars::PRIMARY;
use crate::{
    oauth_config, GoogleCalendarBuilder, GoogleCalendarStrategy, CALENDAR_TYPE, DISPLAY_NAME, GOOGLE_API_BASE,
    GOOGLE_AUTH_URL, GOOGLE_REVOKE_URL, GOOGLE_TOKEN_URL, INTEGRATION,
};

/// The settings' prefix: `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`, `GOOGLE_AUTH_URL`,
/// `GOOGLE_TOKEN_URL`, `GOOGLE_REVOKE_URL`, `GOOGLE_API_BASE`.
const PREFIX: &str = "GOOGLE";

/// Google Calendar, registered: available when its OAuth app is configured.
#[derive(Debug)]
pub struct GoogleProvider {
    descriptor: ProviderDescriptor,
    app: Option<Arc<OAuthApp>>,
    strategy: Option<Arc<GoogleCalendarStrategy>>,
    unavailable: Option<String>,
}

fn setup_error(name: &'static str, error: impl std::fmt::Display) -> ProviderSetupError {
    ProviderSetupError {
        name,
        message: error.to_string(),
    }
}

/// Builds the Google Calendar provider from its settings.
pub fn register(context: &ProviderContext) -> Result<Arc<dyn Provider>, ProviderSetupError> {
    let settings = OAuthSettings::from_context(
        context,
        PREFIX,
        GOOGLE_AUTH_URL,
        GOOGLE_TOKEN_URL,
        Some(GOOGLE_REVOKE_URL),
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
        .map_err(|e| setup_error("GOOGLE_AUTH_URL", e))?;
    let strategy = match &app {
        Some(app) => {
            let tokens = TokenManager::new(app.clone(), context.credentials.clone(), context.integrations.clone());
            let strategy = GoogleCalendarBuilder::new(tokens, context.integrations.clone())
                .with_api_base(
                    context
                        .var("GOOGLE_API_BASE")
                        .unwrap_or_else(|| GOOGLE_API_BASE.to_owned()),
                )
                .build()
                .map_err(|e| setup_error("GOOGLE_API_BASE", e))?;
            Some(Arc::new(strategy))
        }
        None => None,
    };
    Ok(Arc::new(GoogleProvider {
        descriptor: descriptor(),
        unavailable: settings.missing(DISPLAY_NAME, PREFIX),
        app,
        strategy,
    }))
}

fn descriptor() -> ProviderDescriptor {
    ProviderDescriptor {
        integration_type: INTEGRATION,
        display_name: DISPLAY_NAME,
        description: "Your hours minus the busy times in your Google calendars; appointments are added there.",
        calendar_type: Some(CALENDAR_TYPE),
        connect: ConnectMethod::Oauth,
        credential_fields: Vec::new(),
        features: Features {
            calendars: true,
            ..Features::default()
        },
        push: false,
    }
}

impl GoogleProvider {
    fn strategy_or_unavailable(&self) -> Result<&GoogleCalendarStrategy, CoreError> {
        self.strategy.as_deref().ok_or_else(|| {
            CoreError::IntegrationUnavailable(self.unavailable.clone().unwrap_or_else(|| DISPLAY_NAME.to_owned()))
        })
    }
}

#[async_trait]
impl Provider for GoogleProvider {
    fn descriptor(&self) -> &ProviderDescriptor {
        &self.descriptor
    }

    fn unavailable_reason(&self) -> Option<String> {
        self.unavailable.clone()
    }

    fn strategy(&self) -> Option<Arc<dyn AvailabilityStrategy>> {
        self.strategy.clone().map(|s| s as Arc<dyn AvailabilityStrategy>)
    }

    fn oauth(&self) -> Option<&dyn OAuthConnector> {
        self.app.is_some().then_some(self as &dyn OAuthConnector)
    }

    /// The primary calendar's id, which is the account's email address.
    async fn account(&self, expert: ExpertId) -> Result<Option<String>, CoreError> {
        self.strategy_or_unavailable()?.account(expert).await
    }

    async fn calendars(&self, expert: ExpertId) -> Result<Vec<CalendarEntry>, CoreError> {
        let calendars = self.strategy_or_unavailable()?.calendars(expert).await?;
        Ok(calendars
            .into_iter()
            .map(|c| CalendarEntry {
                read_only: !matches!(c.access_role.as_str(), "owner" | "writer"),
                id: c.id,
                summary: c.summary,
                primary: c.primary,
                blocks_time: c.blocks_time,
                receives_events: c.receives_events,
                access_role: Some(c.access_role),
                time_zone: c.time_zone,
            })
            .collect())
    }

    /// Stores the choice once every id is one of the account's calendars (`primary` names the
    /// primary one) and appointments can be written to the chosen event calendar.
    async fn choose_calendars(
        &self,
        expert: ExpertId,
        busy_calendar_ids: Vec<String>,
        event_calendar_id: String,
    ) -> Result<(), CoreError> {
        let calendars = self.calendars(expert).await?;
        let find = |id: &str| calendars.iter().find(|c| c.id == id || (id == PRIMARY && c.primary));
        if let Some(unknown) = busy_calendar_ids.iter().find(|id| find(id).is_none()) {
            return Err(CoreError::InvalidCalendarChoice(format!(
                "{unknown:?} is not one of this Google account's calendars"
            )));
        }
        match find(&event_calendar_id) {
            None => {
                return Err(CoreError::InvalidCalendarChoice(format!(
                    "{event_calendar_id:?} is not one of this Google account's calendars"
                )))
            }
            Some(c) if c.read_only => {
                return Err(CoreError::InvalidCalendarChoice(format!(
                    "appointments cannot be written to {:?}: this account may only read it",
                    c.summary
                )))
            }
            Some(_) => {}
        }
        self.strategy_or_unavailable()?
            .set_calendars(expert, busy_calendar_ids, event_calendar_id)
            .await
            .map(drop)
    }

    async fn disconnect(&self, _expert: ExpertId, credential: Credential) -> Result<(), CoreError> {
        match &self.app {
            Some(app) => revoke_grant(app, &credential).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl OAuthConnector for GoogleProvider {
    fn authorize(&self, redirect_uri: &str) -> Result<AuthorizationRequest, CoreError> {
        let Some(app) = &self.app else {
            return Err(CoreError::IntegrationUnavailable(DISPLAY_NAME.into()));
        };
        app.authorize_url(redirect_uri).map_err(|e| e.into_core(INTEGRATION))
    }

    /// The account is the id_token's email (scopes `openid email`); without it the server asks
    /// [`Provider::account`] after storing the grant.
    async fn finish(
        &self,
        _expert: ExpertId,
        code: &str,
        pkce_verifier: &Secret<String>,
        redirect_uri: &str,
    ) -> Result<Connection, CoreError> {
        let Some(app) = &self.app else {
            return Err(CoreError::IntegrationUnavailable(DISPLAY_NAME.into()));
        };
        let tokens = app.exchange_code(code, pkce_verifier, redirect_uri).await?;
        let account = email_from_id_token(&tokens);
        token_connection(tokens, account, serde_json::Value::Null, serde_json::json!({}))
    }
}

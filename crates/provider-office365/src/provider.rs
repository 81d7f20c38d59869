//! Microsoft 365 / Outlook as a plug-in: its descriptor, its OAuth connect (settings from
//! `MS_*`), the mailbox as the account, and Outlook's working hours offered as the expert's hours.
//! Microsoft has no revocation endpoint for this flow: disconnecting only forgets the grant. The
//! server registers it with [`register`].

use std::sync::Arc;

use async_trait::async_trait;
use availability_core::provider::{
    AuthorizationRequest, ConnectMethod, Connection, Features, OAuthConnector, ProviderContext, ProviderDescriptor,
    ProviderSetupError,
};
use availability_core::{AvailabilityStrategy, CoreError, Provider};
use availability_domain::{Expert, ExpertId, Schedule, Secret};
use provider_http::{token_connection, OAuthApp, OAuthSettings, TokenManager};

use crate::{
    oauth_config, Office365Builder, Office365CalendarStrategy, CALENDAR_TYPE, DEFAULT_AUTHORITY, DEFAULT_GRAPH_BASE,
    DEFAULT_TENANT, DISPLAY_NAME, INTEGRATION,
};

/// The settings' prefix: `MS_CLIENT_ID`, `MS_CLIENT_SECRET`, `MS_TENANT`, `MS_AUTH_URL`,
/// `MS_TOKEN_URL`, `MS_GRAPH_BASE`.
const PREFIX: &str = "MS";

/// Office 365, registered: available when its OAuth app is configured.
#[derive(Debug)]
pub struct Office365Provider {
    descriptor: ProviderDescriptor,
    app: Option<Arc<OAuthApp>>,
    strategy: Option<Arc<Office365CalendarStrategy>>,
    unavailable: Option<String>,
}

fn setup_error(name: &'static str, error: impl std::fmt::Display) -> ProviderSetupError {
    ProviderSetupError {
        name,
        message: error.to_string(),
    }
}

/// Builds the Office 365 provider from its settings (the endpoints default to the tenant's).
pub fn register(context: &ProviderContext) -> Result<Arc<dyn Provider>, ProviderSetupError> {
    let tenant = context.var("MS_TENANT").unwrap_or_else(|| DEFAULT_TENANT.to_owned());
    let settings = OAuthSettings::from_context(
        context,
        PREFIX,
        &format!("{DEFAULT_AUTHORITY}/{tenant}/oauth2/v2.0/authorize"),
        &format!("{DEFAULT_AUTHORITY}/{tenant}/oauth2/v2.0/token"),
        None,
    );
    let app = settings
        .app(|id, secret, s| oauth_config(id, secret, s.auth_url.clone(), s.token_url.clone()))
        .map_err(|e| setup_error("MS_AUTH_URL", e))?;
    let strategy = match &app {
        Some(app) => {
            let tokens = TokenManager::new(app.clone(), context.credentials.clone(), context.integrations.clone());
            let graph_base = context
                .var("MS_GRAPH_BASE")
                .unwrap_or_else(|| DEFAULT_GRAPH_BASE.to_owned());
            let strategy = Office365Builder::from_parts(graph_base, None, tokens, context.integrations.clone(), None)
                .build()
                .map_err(|e| setup_error("MS_GRAPH_BASE", e))?;
            Some(Arc::new(strategy))
        }
        None => None,
    };
    Ok(Arc::new(Office365Provider {
        descriptor: ProviderDescriptor {
            integration_type: INTEGRATION,
            display_name: DISPLAY_NAME,
            description: "Your hours minus the busy times in Outlook; appointments are added there.",
            calendar_type: Some(CALENDAR_TYPE),
            connect: ConnectMethod::Oauth,
            credential_fields: Vec::new(),
            features: Features {
                working_hours: true,
                ..Features::default()
            },
            push: false,
        },
        unavailable: settings.missing(DISPLAY_NAME, PREFIX),
        app,
        strategy,
    }))
}

impl Office365Provider {
    fn strategy_or_unavailable(&self) -> Result<&Office365CalendarStrategy, CoreError> {
        self.strategy.as_deref().ok_or_else(|| {
            CoreError::IntegrationUnavailable(self.unavailable.clone().unwrap_or_else(|| DISPLAY_NAME.to_owned()))
        })
    }
}

#[async_trait]
impl Provider for Office365Provider {
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

    /// The mailbox (GET /me).
    async fn account(&self, expert: ExpertId) -> Result<Option<String>, CoreError> {
        Ok(Some(self.strategy_or_unavailable()?.account(expert).await?.address))
    }

    /// Outlook's working hours of the mailbox; None for personal accounts (Graph reports none).
    async fn working_hours(&self, expert: &Expert, current: &Schedule) -> Result<Option<Schedule>, CoreError> {
        self.strategy_or_unavailable()?
            .outlook_working_hours(expert, current)
            .await
    }
}

#[async_trait]
impl OAuthConnector for Office365Provider {
    fn authorize(&self, redirect_uri: &str) -> Result<AuthorizationRequest, CoreError> {
        let Some(app) = &self.app else {
            return Err(CoreError::IntegrationUnavailable(DISPLAY_NAME.into()));
        };
        app.authorize_url(redirect_uri).map_err(|e| e.into_core(INTEGRATION))
    }

    /// The account is the mailbox from GET /me with the new access token; the mailbox settings
    /// are kept with the grant.
    async fn finish(
        &self,
        _expert: ExpertId,
        code: &str,
        pkce_verifier: &Secret<String>,
        redirect_uri: &str,
    ) -> Result<Connection, CoreError> {
        let (Some(app), Ok(strategy)) = (&self.app, self.strategy_or_unavailable()) else {
            return Err(CoreError::IntegrationUnavailable(DISPLAY_NAME.into()));
        };
        let tokens = app.exchange_code(code, pkce_verifier, redirect_uri).await?;
        let account = strategy.account_of_grant(&tokens).await?;
        token_connection(
            tokens,
            Some(account.address.clone()),
            account.extra(),
            serde_json::json!({}),
        )
    }
}

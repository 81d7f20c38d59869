//! The OAuth 2.0 connect flow shared by the calendar providers: connect gives an authorization
//! URL (single-use state bound to the expert, PKCE S256); the callback checks the state, exchanges
//! the code, stores the tokens encrypted and redirects (303) to the expert's page.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use availability_core::CoreError;
use availability_domain::{IntegrationType, Secret};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use provider_http::{OAuthApp, StoredTokens};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::config::Config;
use crate::error::ApiError;
use crate::routes::{expert_id, integration_from_path};
use crate::state::AppState;

/// The OAuth apps this server has credentials for, by integration type.
#[derive(Default, Clone)]
pub struct OAuthApps {
    apps: HashMap<IntegrationType, Arc<OAuthApp>>,
}

impl OAuthApps {
    /// Builds the apps whose client id and secret are configured.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let p = &config.providers;
        let mut apps = HashMap::new();
        // Google's scopes and parameters are the provider crate's (least privilege).
        if let (Some(id), Some(secret)) = (&p.google.client_id, &p.google.client_secret) {
            let google = provider_google::oauth_config(
                id.clone(),
                secret.clone(),
                p.google.auth_url.clone(),
                p.google.token_url.clone(),
                p.google.revoke_url.clone(),
            );
            let app = OAuthApp::new(google).map_err(|e| anyhow::anyhow!("google_calendar OAuth app: {e}"))?;
            apps.insert(IntegrationType::GoogleCalendar, Arc::new(app));
        }
        // Microsoft's scopes and parameters are the provider crate's.
        if let (Some(id), Some(secret)) = (&p.microsoft.client_id, &p.microsoft.client_secret) {
            let microsoft = provider_office365::oauth_config(
                id.clone(),
                secret.clone(),
                p.microsoft.auth_url.clone(),
                p.microsoft.token_url.clone(),
            );
            let app = OAuthApp::new(microsoft).map_err(|e| anyhow::anyhow!("office365_calendar OAuth app: {e}"))?;
            apps.insert(IntegrationType::Office365Calendar, Arc::new(app));
        }
        // Calendly's OAuth scopes come with the app's registration.
        if let (Some(id), Some(secret)) = (&p.calendly.client_id, &p.calendly.client_secret) {
            let calendly = provider_calendly::oauth_config(
                id.clone(),
                secret.clone(),
                p.calendly.auth_url.clone(),
                p.calendly.token_url.clone(),
                p.calendly.revoke_url.clone(),
            );
            let app = OAuthApp::new(calendly).map_err(|e| anyhow::anyhow!("calendly OAuth app: {e}"))?;
            apps.insert(IntegrationType::Calendly, Arc::new(app));
        }
        Ok(Self { apps })
    }

    /// The app of an integration type, if configured.
    pub fn get(&self, integration: IntegrationType) -> Option<&Arc<OAuthApp>> {
        self.apps.get(&integration)
    }
}

fn redirect_uri(config: &Config, integration: IntegrationType) -> String {
    format!(
        "{}/oauth/{}/callback",
        config.public_base_url.trim_end_matches('/'),
        integration
    )
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/{type}/callback", web::get().to(callback));
}

pub(crate) fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts/{id}/integrations/{type}/connect", web::post().to(connect));
}

async fn connect(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let id = expert_id(&id)?;
    let integration = integration_from_path(&kind)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    let Some(app) = state.oauth.get(integration) else {
        return Err(ApiError::invalid(
            "integration_unavailable",
            format!(
                "{} is not set up on this server (its OAuth client id and secret are not configured)",
                integration.display_name()
            ),
        ));
    };
    if !state.store.can_store_credentials() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "encryption_key_missing",
            "ENCRYPTION_KEY is not set on this server, so credentials cannot be stored",
        ));
    }
    let request = app
        .authorize_url(&redirect_uri(&state.config, integration))
        .map_err(|e| ApiError::from(e.into_core(integration)))?;
    state
        .store
        .save_oauth_state(request.state, id, integration, request.pkce_verifier)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"authorization_url": request.url})))
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn invalid_state() -> ApiError {
    ApiError::bad_request(
        "invalid_state",
        "the OAuth state is missing, unknown, expired or already used; connect again",
    )
}

/// Unauthenticated: the single-use state identifies the expert.
async fn callback(
    state: web::Data<AppState>,
    path: web::Path<String>,
    params: web::Query<CallbackParams>,
) -> Result<HttpResponse, ApiError> {
    let integration = integration_from_path(&path)?;
    let params = params.into_inner();
    let presented = params
        .state
        .filter(|s| !s.is_empty() && s.len() <= 512)
        .ok_or_else(invalid_state)?;
    let (expert, verifier) = state
        .store
        .consume_oauth_state(presented, integration)
        .await?
        .ok_or_else(invalid_state)?;
    let page = format!("/experts/{expert}/manage");
    if let Some(error) = params.error {
        // The expert said no (or the provider failed): nothing is stored.
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Ok(see_other(format!("{page}?error={error}")));
    }
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        return Ok(see_other(format!("{page}?error=missing_code")));
    };
    let Some(app) = state.oauth.get(integration) else {
        return Err(ApiError::invalid(
            "integration_unavailable",
            format!("{} is not set up on this server", integration.display_name()),
        ));
    };
    let tokens = app
        .exchange_code(&code, &verifier, &redirect_uri(&state.config, integration))
        .await
        .map_err(|e| match e {
            // Whatever the provider said, the exchange failed: 502 provider_unavailable.
            CoreError::ProviderUnavailable { .. }
            | CoreError::ProviderResponse { .. }
            | CoreError::NeedsReauth { .. } => ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "provider_unavailable",
                e.to_string(),
            ),
            other => other.into(),
        })?;
    let account = tokens
        .response_fields
        .get("id_token")
        .and_then(|t| t.as_str())
        .and_then(email_from_id_token);
    if integration == IntegrationType::Calendly {
        // Calendly's grant carries the user and the event type; the provider crate builds it.
        let stored = state
            .calendly
            .connect_oauth(expert, tokens)
            .await
            .map_err(crate::webhooks::connect_error)?;
        let settings = stored.settings_json().to_string();
        state
            .store
            .connect_integration(
                expert,
                integration,
                stored.to_credential()?,
                stored.account.clone(),
                settings,
            )
            .await?;
        state.service.invalidate_busy_time(expert);
        return Ok(see_other(format!("{page}?connected={integration}")));
    }
    let stored = StoredTokens::from_grant(tokens, account.clone(), serde_json::Value::Null);
    let credential = stored.to_credential()?;
    state
        .store
        .connect_integration(expert, integration, credential, account.clone(), "{}".to_owned())
        .await?;
    if account.is_none() {
        // Shown to the expert; failing to read it only hides it.
        let found = match integration {
            IntegrationType::GoogleCalendar => match &state.google {
                Some(google) => google.account(expert).await,
                None => Ok(None),
            },
            IntegrationType::Office365Calendar => match &state.office365 {
                Some(office) => office.account(expert).await.map(|a| Some(a.address)),
                None => Ok(None),
            },
            _ => Ok(None),
        };
        match found {
            Ok(Some(address)) => {
                state
                    .store
                    .set_integration_account(expert, integration, address)
                    .await?
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{integration}: cannot read the connected account: {e}"),
        }
    }
    state.service.invalidate_busy_time(expert);
    Ok(see_other(format!("{page}?connected={integration}")))
}

/// The email claim of an id_token received directly from the token endpoint over TLS (so its
/// signature need not be checked to trust it for display).
fn email_from_id_token(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("email")?.as_str().map(str::to_owned)
}

/// Revokes a wiped credential where the provider has a revocation endpoint (best effort: the
/// credential is already gone from here).
pub async fn revoke(state: &AppState, integration: IntegrationType, credential: Secret<String>) {
    let Some(app) = state.oauth.get(integration) else {
        return;
    };
    let Ok(tokens) = StoredTokens::from_credential(&credential) else {
        return;
    };
    // Revoking the refresh token ends the whole grant (Google); else the access token.
    let token = tokens.refresh_token.unwrap_or(tokens.access_token);
    if let Err(e) = app.revoke(&token).await {
        tracing::warn!("{integration}: revoking on disconnect failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_comes_from_the_id_token_email() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"email":"ada@gmail.com","sub":"1"}"#);
        assert_eq!(
            email_from_id_token(&format!("h.{payload}.s")).as_deref(),
            Some("ada@gmail.com")
        );
        assert_eq!(email_from_id_token("not a jwt"), None);
    }
}

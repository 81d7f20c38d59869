//! The OAuth 2.0 connect flow of every provider that has one: connect gives the provider's
//! authorization URL (single-use state bound to the expert, PKCE S256); the callback checks the
//! state, lets the provider exchange the code and build what to store, stores it encrypted and
//! redirects (303) to the expert's page.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use availability_core::{CoreError, Provider};
use availability_domain::ExpertId;
use serde::Deserialize;
use serde_json::json;

use super::params::{expert_id, provider_from_path};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/{type}/callback", web::get().to(callback));
}

pub(super) fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts/{id}/integrations/{type}/connect", web::post().to(connect));
}

fn redirect_uri(state: &AppState, provider: &dyn Provider) -> String {
    format!(
        "{}/oauth/{}/callback",
        state.config.public_base_url.trim_end_matches('/'),
        provider.descriptor().integration_type
    )
}

/// 422 `integration_unavailable`: the provider has no OAuth connect on this server.
fn no_oauth(provider: &dyn Provider) -> ApiError {
    let why = provider.unavailable_reason().unwrap_or_else(|| {
        format!(
            "{} is not connected with OAuth on this server",
            provider.descriptor().display_name
        )
    });
    ApiError::invalid("integration_unavailable", why)
}

async fn connect(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let id = expert_id(&id)?;
    let provider = provider_from_path(&state.providers, &kind)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    let Some(oauth) = provider.oauth() else {
        return Err(no_oauth(provider.as_ref()));
    };
    if !state.store.can_store_credentials() {
        return Err(CoreError::EncryptionKeyMissing.into());
    }
    let request = oauth.authorize(&redirect_uri(&state, provider.as_ref()))?;
    state
        .store
        .save_oauth_state(
            request.state,
            id,
            provider.descriptor().integration_type,
            request.pkce_verifier,
        )
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
    let provider = provider_from_path(&state.providers, &path)?;
    let integration = provider.descriptor().integration_type;
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
    let Some(oauth) = provider.oauth() else {
        return Err(no_oauth(provider.as_ref()));
    };
    let connection = oauth
        .finish(expert, &code, &verifier, &redirect_uri(&state, provider.as_ref()))
        .await
        .map_err(|e| match e {
            // Whatever the provider said, the exchange failed: 502 provider_unavailable.
            CoreError::ProviderUnavailable { .. }
            | CoreError::ProviderResponse { .. }
            | CoreError::NeedsReauth { .. } => {
                tracing::warn!(%integration, %expert, error = %e, "the OAuth code exchange failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "provider_unavailable",
                    format!(
                        "{} did not complete the connection; try connecting again",
                        provider.descriptor().display_name
                    ),
                )
            }
            other => other.into(),
        })?;
    let account = connection.account.clone();
    state
        .store
        .connect_integration(
            expert,
            integration,
            connection.credential,
            connection.account,
            connection.settings.to_string(),
        )
        .await?;
    if account.is_none() {
        remember_account(&state, provider.as_ref(), expert).await?;
    }
    state.service.invalidate_busy_time(expert);
    Ok(see_other(format!("{page}?connected={integration}")))
}

/// Shows the account the grant did not name; failing to read it only hides it.
async fn remember_account(state: &AppState, provider: &dyn Provider, expert: ExpertId) -> Result<(), ApiError> {
    let integration = provider.descriptor().integration_type;
    match provider.account(expert).await {
        Ok(Some(address)) => state
            .store
            .set_integration_account(expert, integration, address)
            .await
            .map_err(ApiError::from),
        Ok(None) => Ok(()),
        Err(e) => {
            tracing::warn!("{integration}: cannot read the connected account: {e}");
            Ok(())
        }
    }
}

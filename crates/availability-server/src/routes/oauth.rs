//! The OAuth 2.0 connect flow of every provider that has one: connect gives the provider's
//! authorization URL (single-use state bound to the expert, PKCE S256) and binds the state to the
//! browser that asked, with a cookie; the start link binds it to the browser that opens it
//! instead (for a platform's backend that called connect); the callback checks the state and the
//! binding, lets the provider exchange the code and build what to store, stores it encrypted and
//! redirects (303) to the expert's page. Without the binding, whoever got hold of an expert's
//! authorization URL could consent with their own account and attach their calendar to that
//! expert.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use availability_core::{CoreError, Provider};
use availability_domain::{ExpertId, IntegrationType, Secret};
use availability_store::{tokens, OAuthStart, OAUTH_STATE_SECONDS};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::params::{expert_id, provider_from_path};
use crate::api_schema::{ErrorAnswer, OAuthConnect};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/{type}/callback", web::get().to(callback))
        .route("/oauth/{type}/start", web::get().to(start));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(connect, start, callback))]
pub(super) struct Doc;

/// The cookie that binds a connect of this integration to one browser. Its path is /oauth, so it
/// goes nowhere but the start link and the callback; SameSite=Lax, so it comes along when the
/// provider sends the browser back (a top-level GET from another site).
fn binding_cookie_name(integration: IntegrationType) -> String {
    format!("availability_oauth_{integration}")
}

fn binding_cookie(state: &AppState, integration: IntegrationType, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(binding_cookie_name(integration), value)
        .path("/oauth")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.public_base_url.starts_with("https://"))
        .max_age(CookieDuration::seconds(max_age))
        .finish()
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

#[utoipa::path(post, path = "/api/v1/experts/{id}/integrations/{type}/connect", operation_id = "connect_oauth", tag = "integrations",
    params(("id" = Uuid, Path, description = "The expert's id"), ("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 200, description = "Where the expert's browser goes (the expert, admin); sets the binding cookie availability_oauth_{type}", body = OAuthConnect),
        (status = 404, description = "`not_found`, `unknown_integration`", body = ErrorAnswer),
        (status = 422, description = "`integration_unavailable`: the provider has no OAuth connect on this server", body = ErrorAnswer),
        (status = 503, description = "`encryption_key_missing`, `database_unavailable`", body = ErrorAnswer),
    ))]
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
    let integration = provider.descriptor().integration_type;
    let request = oauth.authorize(&redirect_uri(&state, provider.as_ref()))?;
    let binding = tokens::new_token()?;
    let ticket = tokens::new_token()?;
    state
        .store
        .save_oauth_state(OAuthStart {
            state: request.state,
            expert: id,
            integration,
            verifier: request.pkce_verifier,
            binding: Secret::new(binding.clone()),
            ticket: Secret::new(ticket.clone()),
            authorization_url: Secret::new(request.url.clone()),
        })
        .await?;
    let start_url = format!(
        "{}/oauth/{integration}/start?ticket={ticket}",
        state.config.public_base_url.trim_end_matches('/')
    );
    Ok(HttpResponse::Ok()
        .cookie(binding_cookie(&state, integration, binding, OAUTH_STATE_SECONDS))
        .json(json!({"authorization_url": request.url, "start_url": start_url})))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StartParams {
    /// The ticket of connect's `start_url`.
    ticket: Option<String>,
}

/// GET /oauth/{type}/start?ticket=...: unauthenticated (the single-use ticket says which
/// connect). Binds the state to this browser (a new cookie; the binding of whoever called connect
/// no longer counts) and sends it to the provider.
#[utoipa::path(get, path = "/oauth/{type}/start", operation_id = "oauth_start", tag = "integrations", security(()),
    params(("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar"), StartParams),
    responses(
        (status = 303, description = "To the provider's authorization URL, with a new binding cookie"),
        (status = 400, description = "`invalid_state`: an unknown, used or expired ticket", body = ErrorAnswer),
        (status = 404, description = "`unknown_integration`", body = ErrorAnswer),
    ))]
async fn start(
    state: web::Data<AppState>,
    path: web::Path<String>,
    params: web::Query<StartParams>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider_from_path(&state.providers, &path)?;
    let integration = provider.descriptor().integration_type;
    let ticket = params
        .into_inner()
        .ticket
        .filter(|t| !t.is_empty() && t.len() <= 512)
        .ok_or_else(invalid_ticket)?;
    let binding = tokens::new_token()?;
    let url = state
        .store
        .take_oauth_ticket(ticket, integration, Secret::new(binding.clone()))
        .await?
        .ok_or_else(invalid_ticket)?;
    Ok(HttpResponse::SeeOther()
        .cookie(binding_cookie(&state, integration, binding, OAUTH_STATE_SECONDS))
        .insert_header((header::LOCATION, url.expose().as_str()))
        .finish())
}

fn invalid_ticket() -> ApiError {
    ApiError::bad_request(
        "invalid_state",
        "this connect link is unknown, expired or already used; connect again",
    )
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackParams {
    /// The authorization code.
    code: Option<String>,
    /// The state connect made.
    state: Option<String>,
    /// The provider's error (`access_denied`, ...).
    error: Option<String>,
}

fn see_other(location: String, cookie: Cookie<'static>) -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, location))
        .finish()
}

fn invalid_state() -> ApiError {
    ApiError::bad_request(
        "invalid_state",
        "the OAuth state is missing, unknown, expired or already used, or this browser did not begin \
         the connect; connect again",
    )
}

/// Unauthenticated: the single-use state identifies the expert, and the binding cookie the
/// browser that began the connect. A callback without that cookie, or with another browser's,
/// exchanges nothing and leaves the state as it is.
#[utoipa::path(get, path = "/oauth/{type}/callback", operation_id = "oauth_callback", tag = "integrations", security(()),
    params(("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar"), CallbackParams),
    responses(
        (status = 303, description = "To /experts/{id}/calendars?connected={type}, or ?error=... when the provider refused"),
        (status = 400, description = "`invalid_state`: missing, unknown, used or expired state, or a binding cookie of another browser", body = ErrorAnswer),
        (status = 404, description = "`unknown_integration`", body = ErrorAnswer),
        (status = 422, description = "`integration_unavailable`", body = ErrorAnswer),
        (status = 502, description = "`provider_unavailable`: the code exchange failed", body = ErrorAnswer),
    ))]
async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
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
    let binding = req
        .cookie(&binding_cookie_name(integration))
        .map(|c| c.value().to_owned())
        .filter(|b| !b.is_empty() && b.len() <= 512)
        .ok_or_else(invalid_state)?;
    let (expert, verifier) = state
        .store
        .consume_oauth_state(presented, integration, binding)
        .await?
        .ok_or_else(invalid_state)?;
    // The binding has done its job; the browser forgets it whatever happens next.
    let spent = binding_cookie(&state, integration, String::new(), 0);
    // Our own page, built from the state's expert: never a target the request chose.
    let page = format!("/experts/{expert}/calendars");
    if let Some(error) = params.error {
        // The expert said no (or the provider failed): nothing is stored.
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Ok(see_other(format!("{page}?error={error}"), spent));
    }
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        return Ok(see_other(format!("{page}?error=missing_code"), spent));
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
    state.push_wake.notify_one();
    Ok(see_other(format!("{page}?connected={integration}"), spent))
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

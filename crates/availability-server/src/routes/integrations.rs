//! The integrations API, the same for every registered provider: list, connect with credential
//! fields (or change settings), disconnect. OAuth connects are in `oauth.rs`; what an expert
//! chooses inside a connected provider is in `provider_settings.rs`.

use actix_web::{web, HttpResponse};
use availability_core::{CoreError, Provider};
use availability_domain::jiff::Timestamp;
use availability_domain::ExpertId;
use availability_store::IntegrationRecord;
use serde_json::{json, Map, Value};

use super::extract::{Authed, JsonObject};
use super::params::{owned_expert, provider_from_path};
use crate::api_schema::{CredentialFields, ErrorAnswer, Integration};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts/{id}/integrations", web::get().to(list)).service(
        web::resource("/experts/{id}/integrations/{type}")
            .route(web::put().to(put_integration))
            .route(web::delete().to(disconnect)),
    );
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, put_integration, disconnect))]
pub(super) struct Doc;

fn instant(seconds: Option<i64>) -> Value {
    json!(seconds
        .and_then(|s| Timestamp::from_second(s).ok())
        .map(|t| t.to_string()))
}

/// One entry of GET integrations: {type, status, active, account, connected_at, last_synced_at,
/// last_error, last_error_at} and what the provider adds from its settings.
pub(super) fn entry(provider: &dyn Provider, record: Option<&IntegrationRecord>, active: bool) -> Value {
    let descriptor = provider.descriptor();
    let mut out = Map::new();
    out.insert("type".into(), json!(descriptor.integration_type));
    let status = match record {
        Some(r) if r.status == "needs_reauth" => "needs_reauth",
        Some(_) => "connected",
        None => "disconnected",
    };
    out.insert("status".into(), json!(status));
    out.insert("active".into(), json!(active && record.is_some()));
    out.insert("account".into(), json!(record.and_then(|r| r.account.clone())));
    out.insert("connected_at".into(), instant(record.map(|r| r.connected_at)));
    out.insert("last_synced_at".into(), instant(record.and_then(|r| r.last_synced_at)));
    out.insert("last_error".into(), json!(record.and_then(|r| r.last_error.clone())));
    out.insert("last_error_at".into(), instant(record.and_then(|r| r.last_error_at)));
    let settings: Value = record
        .and_then(|r| serde_json::from_str(&r.settings).ok())
        .unwrap_or(Value::Null);
    out.extend(provider.integration_details(&settings));
    Value::Object(out)
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/integrations", operation_id = "list_integrations", tag = "integrations",
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses((status = 200, description = "One entry per registered provider but manual, connected or not; never a token (the expert, admin)", body = Vec<Integration>)))]
/// Every registered provider but those with nothing to connect (manual hours), in registration
/// order, connected or not.
async fn list(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    let expert = state.store.expert(id).await?;
    let records = state.store.integrations(id).await?;
    let mut out = Vec::new();
    for p in state
        .providers
        .iter()
        .filter(|p| p.descriptor().connect != availability_core::ConnectMethod::None)
    {
        let t = p.descriptor().integration_type;
        let record = records.iter().find(|r| r.integration == t);
        let active = expert.integration_type == t;
        let mut one = entry(p.as_ref(), record, active);
        if p.strategy().is_some_and(|s| s.push().is_some()) {
            let push = push_state(&state, id, t, record, active).await?;
            if let Value::Object(map) = &mut one {
                map.insert("push".into(), push);
            }
        }
        out.push(one);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `push` of an integration whose calendar sends push notifications: {state: active | renewing |
/// unavailable | failed, expires_at, last_notification_at, reason?}. `renewing`: a channel is
/// being opened or replaced (the server does it within a minute); `unavailable`: push is off
/// (no https PUBLIC_BASE_URL) or this is not the expert's active calendar; `failed`: the
/// calendar's grant is gone.
async fn push_state(
    state: &AppState,
    expert: ExpertId,
    integration: availability_domain::IntegrationType,
    record: Option<&IntegrationRecord>,
    active: bool,
) -> Result<Value, ApiError> {
    let off = |reason: String| json!({"state": "unavailable", "reason": reason, "expires_at": null, "last_notification_at": null});
    if let Err(why) = state.config.push_base() {
        return Ok(off(format!("push notifications are off: {why}")));
    }
    let Some(record) = record.filter(|_| active) else {
        return Ok(off("not the expert's active calendar".into()));
    };
    let connection = state.store.calendar_connection(expert).await?;
    let channels = state.store.push_channels_of(expert, integration).await?;
    let now = Timestamp::now().as_second();
    let live = channels
        .iter()
        .filter(|c| c.connection == connection && c.expires_at > now)
        .max_by_key(|c| c.expires_at);
    let name = match live {
        _ if record.status == "needs_reauth" => "failed",
        Some(c) if crate::push_keeper::is_fresh(c, connection, now) => "active",
        _ => "renewing",
    };
    Ok(json!({
        "state": name,
        "expires_at": instant(live.map(|c| c.expires_at)),
        "last_notification_at": instant(live.and_then(|c| c.last_notification_at)),
    }))
}

#[utoipa::path(put, path = "/api/v1/experts/{id}/integrations/{type}", operation_id = "connect_integration", tag = "integrations",
    request_body(content = CredentialFields, description = "The provider's credential fields (Calendly: personal_access_token, event_type_uri; CalDAV: server_url, username, password); without a secret field, the connected integration's settings"),
    params(("id" = Uuid, Path, description = "The expert's id"), ("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 200, description = "The integration's entry (the expert, admin)", body = Integration),
        (status = 404, description = "`not_found`, `unknown_integration`", body = ErrorAnswer),
        (status = 422, description = "`invalid_credentials`, `invalid_token`, `discovery_failed`, `event_type_required`, `unknown_event_type`, `integration_not_connected`, `invalid_settings`, `unsupported`", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `encryption_key_missing`, `database_unavailable`", body = ErrorAnswer),
    ))]
/// PUT .../integrations/{type} with credential fields connects a "credentials" or "token"
/// provider (checked against the provider before anything is stored); without them, it changes
/// the settings of the connected integration (a scheduler's event type). 200 with the
/// integration's entry.
async fn put_integration(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Authed(caller, body): Authed<JsonObject<Map<String, Value>>>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let provider = provider_from_path(&state.providers, &kind)?;
    let id = owned_expert(&caller, &state, &id).await?;
    if !state.store.can_store_credentials() {
        return Err(CoreError::EncryptionKeyMissing.into());
    }
    let fields = body.into_inner();
    let descriptor = provider.descriptor();
    let integration = descriptor.integration_type;
    let connecting = descriptor
        .credential_fields
        .iter()
        .any(|f| f.secret && fields.get(f.name).is_some_and(|v| !v.is_null()));
    if connecting {
        let connection = provider.connect(id, &fields).await?;
        state
            .store
            .connect_integration(
                id,
                integration,
                connection.credential,
                connection.account,
                connection.settings.to_string(),
            )
            .await?;
    } else {
        require_connected(&state, provider.as_ref(), id).await?;
        let settings = provider.update_settings(id, &fields).await?;
        state
            .store
            .set_integration_settings(id, integration, settings.to_string())
            .await?;
    }
    state.service.invalidate_busy_time(id);
    let expert = state.store.expert(id).await?;
    let records = state.store.integrations(id).await?;
    let record = records.iter().find(|r| r.integration == integration);
    state.push_wake.notify_one();
    Ok(HttpResponse::Ok().json(entry(provider.as_ref(), record, expert.integration_type == integration)))
}

/// Whether the expert has connected this provider (connected or needs_reauth).
pub(super) async fn is_connected(state: &AppState, provider: &dyn Provider, id: ExpertId) -> Result<bool, ApiError> {
    let integration = provider.descriptor().integration_type;
    Ok(state
        .store
        .integrations(id)
        .await?
        .iter()
        .any(|r| r.integration == integration))
}

/// 422 `integration_not_connected` unless the expert has connected this provider (changing the
/// settings of a connection, as PUT .../integration answers for a calendar not connected).
pub(super) async fn require_connected(state: &AppState, provider: &dyn Provider, id: ExpertId) -> Result<(), ApiError> {
    if is_connected(state, provider, id).await? {
        return Ok(());
    }
    Err(CoreError::IntegrationNotConnected(format!(
        "{} is not connected: connect it first",
        provider.descriptor().display_name
    ))
    .into())
}

#[utoipa::path(delete, path = "/api/v1/experts/{id}/integrations/{type}", operation_id = "disconnect_integration", tag = "integrations",
    params(("id" = Uuid, Path, description = "The expert's id"), ("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 204, description = "Disconnected, also when it was not connected (the expert, admin)"),
        (status = 404, description = "`not_found`, `unknown_integration`", body = ErrorAnswer),
    ))]
/// 204 also when it was not connected: wipes the credential (one transaction, falling back to
/// manual if it was active), then lets the provider undo what connecting did (revoke, remove
/// webhook subscriptions), best effort.
async fn disconnect(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let provider = provider_from_path(&state.providers, &kind)?;
    let id = owned_expert(&caller, &state, &id).await?;
    let integration = provider.descriptor().integration_type;
    let wiped = state.store.disconnect_integration(id, integration).await?;
    if let Some(credential) = wiped {
        if let Err(e) = provider.disconnect(id, credential).await {
            tracing::warn!(%integration, expert = %id, "undoing the connection at the provider failed: {e}");
        }
    }
    state.service.invalidate_busy_time(id);
    state.push_wake.notify_one();
    Ok(HttpResponse::NoContent().finish())
}

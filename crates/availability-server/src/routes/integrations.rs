//! The integrations API: list, set up, disconnect. Connect and callback (OAuth) live in
//! `oauth.rs`.

use actix_web::{web, HttpResponse};
use availability_domain::jiff::Timestamp;
use availability_domain::IntegrationType;
use serde::Serialize;

use super::experts::expert_id;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts/{id}/integrations", web::get().to(list))
        // Before the generic {type} route: actix takes the first resource whose path matches, so
        // this one answers both of its methods.
        .service(
            web::resource("/experts/{id}/integrations/calendly")
                .route(web::put().to(crate::webhooks::connect_calendly))
                .route(web::delete().to(disconnect_calendly)),
        )
        .route("/experts/{id}/integrations/{type}", web::delete().to(disconnect));
}

/// The calendar integration types, in the order GET integrations lists them.
pub(crate) const CALENDARS: [IntegrationType; 3] = [
    IntegrationType::GoogleCalendar,
    IntegrationType::Office365Calendar,
    IntegrationType::Calendly,
];

/// A calendar integration type from the path; manual is not one.
pub(crate) fn integration_from_path(text: &str) -> Result<IntegrationType, ApiError> {
    CALENDARS.into_iter().find(|t| t.as_str() == text).ok_or_else(|| {
        ApiError::not_found(
            "integration",
            format!("{text:?} (expected google_calendar, office365_calendar or calendly)"),
        )
    })
}

#[derive(Serialize)]
struct IntegrationOut {
    #[serde(rename = "type")]
    integration: IntegrationType,
    status: &'static str,
    active: bool,
    account: Option<String>,
    connected_at: Option<String>,
    last_synced_at: Option<String>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    /// Calendly only: the event type whose times are the slots.
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<serde_json::Value>,
}

/// Calendly's chosen event type from the integration's settings: {uri, name, duration_minutes},
/// or null when none is chosen yet.
fn calendly_event_type(settings: &str) -> serde_json::Value {
    match provider_calendly::ChosenEventType::from_settings_json(settings) {
        Some(t) => serde_json::json!({"uri": t.uri, "name": t.name, "duration_minutes": t.duration_minutes}),
        None => serde_json::Value::Null,
    }
}

fn instant(seconds: Option<i64>) -> Option<String> {
    seconds
        .and_then(|s| Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
}

async fn list(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    let expert = state.store.expert(id).await?;
    caller.require_expert(id)?;
    let records = state.store.integrations(id).await?;
    let out: Vec<IntegrationOut> = CALENDARS
        .into_iter()
        .map(|t| match records.iter().find(|r| r.integration == t) {
            Some(r) => IntegrationOut {
                integration: t,
                status: if r.status == "needs_reauth" {
                    "needs_reauth"
                } else {
                    "connected"
                },
                active: expert.integration_type == t,
                account: r.account.clone(),
                connected_at: instant(Some(r.connected_at)),
                last_synced_at: instant(r.last_synced_at),
                last_error: r.last_error.clone(),
                last_error_at: instant(r.last_error_at),
                event_type: (t == IntegrationType::Calendly).then(|| calendly_event_type(&r.settings)),
            },
            None => IntegrationOut {
                integration: t,
                status: "disconnected",
                active: false,
                account: None,
                connected_at: None,
                last_synced_at: None,
                last_error: None,
                last_error_at: None,
                event_type: (t == IntegrationType::Calendly).then_some(serde_json::Value::Null),
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

async fn disconnect(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let integration = integration_from_path(&kind)?;
    remove(caller, state, &id, integration).await
}

async fn disconnect_calendly(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    remove(caller, state, &path, IntegrationType::Calendly).await
}

async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    id: &str,
    integration: IntegrationType,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(id)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    if integration == IntegrationType::Calendly {
        // Removes the webhook subscription and revokes an OAuth grant; best effort.
        if let Err(e) = state.calendly.disconnect(id).await {
            tracing::warn!("calendly: disconnect at Calendly failed: {e}");
        }
    }
    let wiped = state.store.disconnect_integration(id, integration).await?;
    if let Some(credential) = wiped {
        // Revoking is best effort: the credential is gone from here whatever the provider says.
        crate::oauth::revoke(&state, integration, credential).await;
    }
    state.service.invalidate_busy_time(id);
    Ok(HttpResponse::NoContent().finish())
}

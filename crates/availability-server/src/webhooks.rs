//! Calendly: connecting with a personal access token, and its signed webhooks (bookings and
//! cancellations made on Calendly's own pages).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use availability_core::{AppointmentRepository, CoreError};
use availability_domain::jiff::Timestamp;
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, CalendarType, IntegrationType, Secret, SyncStatus, Zone,
};
use provider_calendly::{parse_webhook, verify_webhook, ConnectError, WebhookError, WebhookEventKind};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::expert_id;
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/calendly", web::post().to(calendly_webhook));
}

/// A failed Calendly connection as the contract's error.
pub(crate) fn connect_error(e: ConnectError) -> ApiError {
    match (e.code(), e) {
        (Some(code), e) => ApiError::invalid(code, e.to_string()),
        (None, ConnectError::Core(core)) => core.into(),
        (None, other) => ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", other.to_string()),
    }
}

#[derive(Deserialize)]
pub(crate) struct CalendlyTokenBody {
    personal_access_token: Option<String>,
    event_type_uri: Option<String>,
}

/// PUT /api/v1/experts/{id}/integrations/calendly {personal_access_token, event_type_uri?}, or
/// {event_type_uri} alone to choose the event type of the account already connected (after OAuth,
/// or to change it).
pub(crate) async fn connect_calendly(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<CalendlyTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    if !state.store.can_store_credentials() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "encryption_key_missing",
            "ENCRYPTION_KEY is not set on this server, so credentials cannot be stored",
        ));
    }
    let body = body.into_inner();
    let Some(token) = body.personal_access_token else {
        let Some(uri) = body.event_type_uri else {
            return Err(ApiError::invalid(
                "invalid_token",
                "send personal_access_token (to connect) or event_type_uri (to choose the event type)",
            ));
        };
        let stored = state
            .calendly
            .select_event_type(id, &uri)
            .await
            .map_err(connect_error)?;
        let settings = stored.settings_json();
        state
            .store
            .set_integration_settings(id, IntegrationType::Calendly, settings.to_string())
            .await?;
        state.service.invalidate_busy_time(id);
        return Ok(HttpResponse::Ok().json(json!({
            "type": "calendly",
            "status": "connected",
            "account": stored.account,
            "event_type_uri": settings.get("event_type_uri"),
        })));
    };
    let token = Secret::new(token.trim().to_owned());
    if token.expose().is_empty() {
        return Err(ApiError::invalid("invalid_token", "personal_access_token is empty"));
    }
    let stored = state
        .calendly
        .connect_with_token(id, token, body.event_type_uri)
        .await
        .map_err(connect_error)?;
    let settings = stored.settings_json();
    state
        .store
        .connect_integration(
            id,
            IntegrationType::Calendly,
            stored.to_credential()?,
            stored.account.clone(),
            settings.to_string(),
        )
        .await?;
    state.service.invalidate_busy_time(id);
    Ok(HttpResponse::Ok().json(json!({
        "type": "calendly",
        "status": "connected",
        "account": stored.account,
        "event_type_uri": settings.get("event_type_uri"),
    })))
}

fn invalid_signature(why: &WebhookError) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
        format!("the webhook was refused: {why}"),
    )
}

/// POST /webhooks/calendly: the signature is checked on the raw bytes before anything is parsed;
/// the same delivery twice changes nothing the second time.
async fn calendly_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(key) = &state.config.providers.calendly_webhook_signing_key else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "no webhook signing key is configured",
        ));
    };
    let header = req
        .headers()
        .get("Calendly-Webhook-Signature")
        .and_then(|v| v.to_str().ok());
    verify_webhook(key.expose().as_bytes(), header, &body, Timestamp::now()).map_err(|e| invalid_signature(&e))?;
    let event = match parse_webhook(&body) {
        Ok(event) => event,
        // Signed by Calendly but not an event we act on: acknowledge, so Calendly stops retrying.
        Err(WebhookError::UnsupportedEvent(_)) => return Ok(HttpResponse::Ok().json(json!({"status": "ignored"}))),
        Err(e) => return Err(ApiError::bad_request("invalid_json", e.to_string())),
    };
    let Some(user) = event.user_uri.clone() else {
        return Ok(HttpResponse::Ok().json(json!({"status": "ignored", "reason": "no Calendly user in the delivery"})));
    };
    let Some(expert_id) = state
        .store
        .expert_by_integration_setting(IntegrationType::Calendly, "user_uri", user)
        .await?
    else {
        return Ok(
            HttpResponse::Ok().json(json!({"status": "ignored", "reason": "no expert is connected to that user"}))
        );
    };
    let existing = AppointmentRepository::by_external_id(&state.store, &event.invitee_uri).await?;
    match event.event {
        WebhookEventKind::Created => {
            if existing.is_some() {
                return Ok(HttpResponse::Ok().json(json!({"status": "unchanged"})));
            }
            let time = state.calendly.webhook_event_time(expert_id, &event).await?;
            let client = match state.store.client_by_email(event.email.clone()).await? {
                Some(c) => c,
                None => {
                    let zone = event
                        .timezone
                        .as_deref()
                        .and_then(|z| Zone::new(z).ok())
                        .unwrap_or_else(Zone::utc);
                    let name = if event.name.trim().is_empty() {
                        event.email.clone()
                    } else {
                        event.name.clone()
                    };
                    state.store.create_client(name, event.email.clone(), zone).await?
                }
            };
            let now = state.service.timestamp();
            let appointment = Appointment {
                id: AppointmentId::new(),
                expert_id,
                client_id: client.id,
                start_time: time.start(),
                end_time: time.end(),
                status: AppointmentStatus::Confirmed,
                calendar_type: Some(CalendarType::Calendly),
                external_calendar_event_id: Some(event.invitee_uri.clone()),
                sync_status: SyncStatus::Synced,
                cancellation_reason: None,
                sync_error: None,
                created_at: now,
                updated_at: now,
            };
            match AppointmentRepository::record_confirmed(&state.store, appointment).await {
                Ok(_) => {}
                // Calendly is the system of record: a clash with a local booking is logged, and
                // the delivery acknowledged (retrying it would clash again).
                Err(CoreError::SlotTaken) => {
                    tracing::warn!(
                        "calendly: a booking made on Calendly overlaps a local appointment of expert {expert_id}"
                    )
                }
                Err(e) => return Err(e.into()),
            }
        }
        WebhookEventKind::Canceled => {
            if let Some(a) = existing.filter(|a| a.is_confirmed()) {
                let reason = event
                    .cancellation_reason
                    .clone()
                    .or_else(|| Some("cancelled on Calendly".to_owned()));
                state.service.cancel(a.id, reason).await?;
                state.sync_wake.notify_one();
            }
        }
    }
    state.service.invalidate_busy_time(expert_id);
    Ok(HttpResponse::Ok().json(json!({"status": "ok"})))
}

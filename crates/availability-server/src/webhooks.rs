//! Calendly: connecting with a personal access token, and its signed webhooks (bookings and
//! cancellations made on Calendly's own pages, and bookings finished at a pending appointment's
//! scheduling link).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use availability_core::{AppointmentRepository, CoreError};
use availability_domain::jiff::Timestamp;
use availability_domain::{
    Appointment, AppointmentId, AppointmentStatus, CalendarType, ExpertId, IntegrationType, Interval, Secret,
    SyncStatus, Zone,
};
use provider_calendly::{parse_webhook, verify_webhook, ConnectError, WebhookError, WebhookEvent, WebhookEventKind};
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
        state
            .store
            .set_integration_settings(id, IntegrationType::Calendly, stored.settings_json().to_string())
            .await?;
        state.service.invalidate_busy_time(id);
        return Ok(connected(&stored));
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
    Ok(connected(&stored))
}

/// The answer to a Calendly connection or event-type choice.
fn connected(stored: &provider_calendly::StoredCalendly) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "type": "calendly",
        "status": "connected",
        "account": stored.account,
        "event_type_uri": stored.event_type.as_ref().map(|t| &t.uri),
    }))
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
            // A reschedule on Calendly moves a booking (its invitee.canceled carries the rest): it
            // finishes no pending booking.
            let finished = event.old_invitee_uri.is_none() && confirm_pending(&state, expert_id, &event, time).await?;
            if !finished {
                record_calendly_booking(&state, expert_id, &event, time).await?;
            }
        }
        WebhookEventKind::Canceled => {
            // Also a pending appointment that holds a Calendly booking it could not confirm.
            if let Some(a) = existing.filter(|a| a.status != AppointmentStatus::Cancelled) {
                let reason = event
                    .cancellation_reason
                    .clone()
                    .or_else(|| Some("cancelled on Calendly".to_owned()));
                let cancelled = state.service.cancel(a.id, reason).await?;
                state.sync_wake.notify_one();
                confirm_held(&state, cancelled.expert_id).await;
            }
        }
    }
    state.service.invalidate_busy_time(expert_id);
    Ok(HttpResponse::Ok().json(json!({"status": "ok"})))
}

/// Confirms the expert's held bookings (pending because their time overlapped a confirmed
/// appointment when Calendly reported them) whose time is free again: called after an appointment
/// of the expert was cancelled or moved. Best effort: the change that freed the time stands
/// whatever happens here, and a booking still overlapping stays held.
pub(crate) async fn confirm_held(state: &AppState, expert: ExpertId) {
    let held = match state.store.held_bookings(expert).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!("calendly: reading the held bookings of expert {expert}: {e}");
            return;
        }
    };
    for booking in held {
        let (Some(external), Some(time)) = (booking.external_calendar_event_id.clone(), booking.interval()) else {
            continue;
        };
        let now = state.service.timestamp();
        match AppointmentRepository::confirm_pending(&state.store, booking.id, external, time, now).await {
            Ok(_) => tracing::info!("calendly: held booking {} confirmed: its time is free now", booking.id),
            Err(CoreError::SlotTaken | CoreError::Conflict(_)) => {}
            Err(e) => tracing::warn!("calendly: confirming held booking {}: {e}", booking.id),
        }
    }
}

/// Why a booking Calendly made is kept pending here instead of confirmed.
fn overlap_reason(time: Interval) -> String {
    format!(
        "Calendly booked {} to {}, which overlaps another confirmed appointment of this expert, so it is not \
         confirmed here; the booking stands on Calendly: cancel one of the two",
        time.start(),
        time.end()
    )
}

/// invitee.created of a booking the client finished at a pending appointment's scheduling link:
/// the expert's pending appointment of a client with the invitee's email (case-insensitive) is
/// confirmed with the invitee URI and the time Calendly booked, which may differ from the one
/// first asked for (the link page offers every free time). Of several, the one asked for exactly
/// that time, else the oldest. Returns false when there is none (a booking made on Calendly's
/// own pages).
async fn confirm_pending(
    state: &AppState,
    expert_id: ExpertId,
    event: &WebhookEvent,
    time: Interval,
) -> Result<bool, ApiError> {
    let candidates = state.store.pending_for_email(expert_id, event.email.clone()).await?;
    let Some(pending) = candidates
        .iter()
        .find(|a| a.start_time == time.start())
        .or_else(|| candidates.first())
    else {
        return Ok(false);
    };
    let now = state.service.timestamp();
    match AppointmentRepository::confirm_pending(&state.store, pending.id, event.invitee_uri.clone(), time, now).await {
        Ok(_) => Ok(true),
        // Calendly is the system of record: the client holds this booking there, with Calendly's
        // confirmation, whatever we answer. Refusing the delivery would only make Calendly retry
        // it for a day and then disable the subscription; dropping it would lose the client's
        // booking here. Confirming it is not possible either: the database refuses two
        // overlapping confirmed appointments of one expert (that guard stays absolute), and
        // cancelling the other, confirmed appointment would break another client's booking on
        // our side. So the booking is recorded on the client's appointment (invitee URI and
        // Calendly's time, the link cleared) and the clash is shown where experts and clients
        // look: it stays pending with sync_status failed and the reason as sync_error, until the
        // expert cancels one of the two (a cancel here cancels the Calendly booking too, and an
        // invitee.canceled cancels it here).
        Err(CoreError::SlotTaken) => {
            let reason = overlap_reason(time);
            tracing::warn!(
                "calendly: the booking finished at the scheduling link of appointment {} overlaps a confirmed \
                 appointment of expert {expert_id}; kept pending",
                pending.id
            );
            state
                .store
                .hold_unconfirmed(pending.id, event.invitee_uri.clone(), time, reason)
                .await?;
            Ok(true)
        }
        // Cancelled (or taken by another invitee) since it was read: the booking is recorded as
        // one made on Calendly's own pages.
        Err(CoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// invitee.created of a booking made on Calendly's own pages: the appointment is created, for the
/// client with the invitee's email (or a new one).
async fn record_calendly_booking(
    state: &AppState,
    expert_id: ExpertId,
    event: &WebhookEvent,
    time: Interval,
) -> Result<(), ApiError> {
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
        scheduling_url: None,
        sync_status: SyncStatus::Synced,
        cancellation_reason: None,
        sync_error: None,
        created_at: now,
        updated_at: now,
    };
    match AppointmentRepository::record_confirmed(&state.store, appointment.clone()).await {
        Ok(_) => Ok(()),
        // As for a pending booking (see confirm_pending): Calendly is the system of record, so
        // the booking is recorded, pending with the clash as its sync error, rather than lost.
        Err(CoreError::SlotTaken) => {
            tracing::warn!(
                "calendly: a booking made on Calendly overlaps a confirmed appointment of expert {expert_id}; kept pending"
            );
            let held = Appointment {
                status: AppointmentStatus::Pending,
                sync_status: SyncStatus::Failed,
                sync_error: Some(overlap_reason(time)),
                ..appointment
            };
            match AppointmentRepository::record_pending(&state.store, held).await {
                // A concurrent delivery of this booking stored it first: nothing to add.
                Ok(_) | Err(CoreError::Conflict(_)) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

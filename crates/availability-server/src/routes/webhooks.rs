//! `POST /webhooks/{type}`: a provider's deliveries. The provider checks the signature, token or
//! client state on the raw request before anything is read, and says what changed; the service
//! applies the changes (the same rules for every provider, in availability-core); this module
//! only translates the request and the answer.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use availability_core::{CoreError, EventOutcome, PushDelivery, PushEvent, WebhookReply, WebhookRequest};
use availability_domain::jiff::Timestamp;
use availability_domain::{CalendarType, ExpertId};
use serde_json::json;

use super::params::provider_from_path;
use crate::api_schema::{ErrorAnswer, WebhookAnswer};
use crate::error::ApiError;
use crate::state::AppState;

/// The largest delivery read (providers send a few KB).
const MAX_BODY: usize = 256 * 1024;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/webhooks/{type}").route(web::post().to(deliver)));
}

/// This route in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(deliver))]
pub(super) struct Doc;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("a delivery may be at most {} KB", MAX_BODY / 1024),
    )
}

/// The raw body, at most MAX_BODY bytes (413 in the JSON shape, not actix's plain text).
async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    match payload.to_bytes_limited(MAX_BODY).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(ApiError::bad_request("invalid_json", "the body could not be read")),
        Err(_) => Err(too_large()),
    }
}

#[utoipa::path(post, path = "/webhooks/{type}", operation_id = "receive_provider_webhook", tag = "integrations", security(()),
    request_body(content = String, description = "The provider's delivery, checked on the raw bytes (signature, channel token or client state) before it is read", content_type = "application/json"),
    params(("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 200, description = "Applied, unchanged or ignored; Microsoft's validationToken is echoed as text/plain", body = WebhookAnswer),
        (status = 202, description = "Accepted, handled in the background"),
        (status = 400, description = "`invalid_json`: a delivery that passed the check but cannot be read", body = ErrorAnswer),
        (status = 401, description = "`invalid_signature`: missing, wrong or stale", body = ErrorAnswer),
        (status = 404, description = "`unknown_integration`, `not_found` (a provider without webhooks)", body = ErrorAnswer),
        (status = 413, description = "`payload_too_large` (over 256 KB)", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `database_unavailable`", body = ErrorAnswer),
    ))]
async fn deliver(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // By integration type, or by calendar type as api.md names them (`/webhooks/google`).
    let by_calendar = path
        .parse::<CalendarType>()
        .ok()
        .and_then(|c| state.providers.by_calendar_type(c));
    let provider = match by_calendar {
        Some(provider) => provider,
        None => provider_from_path(&state.providers, &path)?,
    };
    let body = read_body(&req, payload).await?;
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_ascii_lowercase(), value.to_str().ok()?.to_owned())))
        .collect();
    let query: Vec<(String, String)> = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let request = WebhookRequest {
        headers: &headers,
        query: &query,
        body: &body,
        received_at: Timestamp::now(),
    };
    let strategy = provider.strategy();
    if let Some(push) = strategy.as_deref().and_then(|s| s.push()) {
        if let Some(delivery) = push.read_delivery(&request) {
            let status = if push.answers_accepted() {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            return push_delivery(&state, provider.descriptor().integration_type, delivery, status).await;
        }
    }
    let Some(handler) = provider.webhook() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} takes no webhooks", provider.descriptor().display_name),
        ));
    };
    let outcome = handler.handle(request).await?;
    let mut applied = EventOutcome::Unchanged;
    for change in outcome.changes {
        if state.service.apply_provider_event(change.expert, change.event).await? == EventOutcome::Applied {
            applied = EventOutcome::Applied;
        }
        // A cancellation or a confirmation may have queued calendar work.
        state.sync_wake.notify_one();
    }
    Ok(match outcome.reply {
        WebhookReply::Echo(text) => HttpResponse::Ok().content_type("text/plain").body(text),
        WebhookReply::Accepted => HttpResponse::Accepted().finish(),
        WebhookReply::Done => match outcome.ignored {
            Some(reason) => HttpResponse::Ok().json(json!({"status": "ignored", "reason": reason})),
            None => HttpResponse::Ok().json(json!({"status": applied.as_str()})),
        },
    })
}

/// The longest validation token echoed (Graph's are a few hundred characters).
const MAX_VALIDATION_TOKEN: usize = 4096;

/// A calendar's push delivery. A validation (Graph checking a new subscription's address) is
/// echoed as text/plain and nothing else is done. Each notification must name a channel this
/// server opened for this provider and carry its token (compared on hashes in constant time)
/// before anything is done with it; a delivery with no such notification is 401 and nothing is
/// read; those that are the channel's are acted on, the others ignored. A change is answered at
/// at once (`answer`: 202 for Graph, 200 for Google, as each asks) and the expert's calendar read for what changed in the background.
async fn push_delivery(
    state: &web::Data<AppState>,
    integration: availability_domain::IntegrationType,
    delivery: PushDelivery,
    answer: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let notices = match delivery {
        PushDelivery::Validation(token) if token.len() <= MAX_VALIDATION_TOKEN => {
            return Ok(HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .insert_header(("x-content-type-options", "nosniff"))
                .body(token));
        }
        PushDelivery::Validation(_) => {
            return Err(ApiError::bad_request(
                "invalid_json",
                "the validation token is too long",
            ));
        }
        PushDelivery::Notices(notices) if notices.is_empty() => {
            return Err(ApiError::bad_request(
                "invalid_json",
                "not a notification delivery of this provider (Microsoft Graph: {\"value\": [...]})",
            ));
        }
        PushDelivery::Notices(notices) => notices,
    };
    let mut accepted = Vec::new();
    for notice in notices {
        let channel = state
            .store
            .push_channel(notice.channel_id.clone())
            .await?
            .filter(|c| c.integration_type == integration.as_str() && c.token_matches(&notice.token))
            .and_then(|c| Some((c.expert_id.parse::<ExpertId>().ok()?, c)));
        match channel {
            Some((expert, channel)) => accepted.push((expert, channel.id, notice.event)),
            None => tracing::warn!(
                "push notification on unknown channel {:?}, or with a token not the channel's: ignored",
                notice.channel_id
            ),
        }
    }
    if accepted.is_empty() {
        return Err(
            CoreError::InvalidSignature("unknown push channel, or a token that is not the channel's".into()).into(),
        );
    }
    let handshake_only = accepted.iter().all(|(_, _, event)| *event == PushEvent::Handshake);
    // The experts whose calendars are read for what changed, each once.
    let mut follow = Vec::new();
    for (expert, channel, event) in accepted {
        state.store.push_noticed(channel.clone()).await?;
        match event {
            PushEvent::Handshake => continue,
            PushEvent::Changed | PushEvent::Missed => {}
            PushEvent::RenewNow => {
                state.store.push_channel_due(channel).await?;
                state.push_wake.notify_one();
                continue;
            }
            PushEvent::Removed => {
                // The calendar dropped it: the keeper opens another; changes may have been missed.
                state.store.delete_push_channel(channel).await?;
                state.push_wake.notify_one();
            }
        }
        if !follow.contains(&expert) {
            follow.push(expert);
        }
    }
    if handshake_only {
        return Ok(HttpResponse::Ok().json(json!({"status": "ok"})));
    }
    let service = state.service.clone();
    let wake = state.sync_wake.clone();
    tokio::spawn(async move {
        for expert in follow {
            match service.follow_calendar(expert).await {
                // A cancellation may have queued calendar work.
                Ok(summary) if summary.changed_any() => wake.notify_one(),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("push notification for expert {expert}: cannot read the calendar's changes: {e}")
                }
            }
        }
    });
    Ok(HttpResponse::build(answer).json(json!({"status": "accepted"})))
}

//! `POST /webhooks/{type}`: a provider's deliveries. The provider checks the signature, token or
//! client state on the raw request before anything is read, and says what changed; the service
//! applies the changes (the same rules for every provider, in availability-core); this module
//! only translates the request and the answer.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use availability_core::{EventOutcome, WebhookReply, WebhookRequest};
use availability_domain::jiff::Timestamp;
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
    let provider = provider_from_path(&state.providers, &path)?;
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
    if let Some(notice) = strategy
        .as_deref()
        .and_then(|s| s.push())
        .and_then(|p| p.read_notice(&request))
    {
        return push_notice(&state, provider.descriptor().integration_type, notice).await;
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

/// A calendar's push notification: the channel must be one this server opened for this provider,
/// and the token its own (compared on hashes in constant time), before anything else happens;
/// else 401 and nothing is read. The handshake (`sync`) is acknowledged; a change is answered at
/// once and the expert's calendar is read for what changed in the background.
async fn push_notice(
    state: &web::Data<AppState>,
    integration: availability_domain::IntegrationType,
    notice: availability_core::PushNotice,
) -> Result<HttpResponse, ApiError> {
    let channel = state
        .store
        .push_channel(notice.channel_id.clone())
        .await?
        .filter(|c| c.integration_type == integration.as_str() && c.token_matches(&notice.token))
        .and_then(|c| Some((c.expert_id.parse::<availability_domain::ExpertId>().ok()?, c)));
    let Some((expert, channel)) = channel else {
        return Err(availability_core::CoreError::InvalidSignature(
            "unknown push channel, or a token that is not the channel's".into(),
        )
        .into());
    };
    state.store.push_noticed(channel.id.clone()).await?;
    if notice.handshake {
        return Ok(HttpResponse::Ok().json(json!({"status": "ok"})));
    }
    let service = state.service.clone();
    let wake = state.sync_wake.clone();
    tokio::spawn(async move {
        match service.follow_calendar(expert).await {
            // A cancellation may have queued calendar work.
            Ok(summary) if summary.changed_any() => wake.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::warn!("push notification for expert {expert}: cannot read the calendar's changes: {e}"),
        }
    });
    Ok(HttpResponse::Ok().json(json!({"status": "accepted"})))
}

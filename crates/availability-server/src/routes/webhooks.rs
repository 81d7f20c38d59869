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
use crate::error::ApiError;
use crate::state::AppState;

/// The largest delivery read (providers send a few KB).
const MAX_BODY: usize = 256 * 1024;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/{type}")
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route(web::post().to(deliver)),
    );
}

async fn deliver(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let provider = provider_from_path(&state.providers, &path)?;
    let Some(handler) = provider.webhook() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} takes no webhooks", provider.descriptor().display_name),
        ));
    };
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_ascii_lowercase(), value.to_str().ok()?.to_owned())))
        .collect();
    let query: Vec<(String, String)> = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let outcome = handler
        .handle(WebhookRequest {
            headers: &headers,
            query: &query,
            body: &body,
            received_at: Timestamp::now(),
        })
        .await?;
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

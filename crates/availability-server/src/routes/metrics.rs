//! `GET /metrics` (Prometheus text format): on the main listener behind METRICS_TOKEN, or on
//! METRICS_BIND's listener of its own without a token. Without either, there is no /metrics.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api_schema::ErrorAnswer;
use crate::auth::bearer;
use crate::error::ApiError;
use crate::state::AppState;

/// The Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The route on the main listener.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(behind_token));
}

/// This route in the OpenAPI document (the main listener's; METRICS_BIND's serves the same).
#[derive(utoipa::OpenApi)]
#[openapi(paths(behind_token))]
pub(super) struct Doc;

/// The route of METRICS_BIND's listener.
pub fn configure_listener(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(open));
}

#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "health", security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "`unauthorized`: not METRICS_TOKEN", body = ErrorAnswer),
        (status = 404, description = "`not_found`: METRICS_TOKEN is not set, so the main listener has no /metrics", body = ErrorAnswer),
    ))]
async fn behind_token(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if !state.has_metrics_token() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {} {}", req.method(), req.path()),
        ));
    }
    match bearer(&req) {
        Some(token) if state.is_metrics_token(&token) => open(state).await,
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "/metrics needs Authorization: Bearer METRICS_TOKEN",
        )),
    }
}

async fn open(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type(PROMETHEUS_TEXT)
        .body(state.metrics_text().await))
}

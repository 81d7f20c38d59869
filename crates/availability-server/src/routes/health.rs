//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::api_schema::{ErrorAnswer, Health};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "health", security(()),
    responses((status = 200, description = "The process answers", body = Health)))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "`database_unavailable`", body = ErrorAnswer),
    ))]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ok", "database": state.store.backend()})),
        Err(e) => {
            tracing::warn!("readiness: {e}");
            HttpResponse::ServiceUnavailable().json(json!({
                "error": {"code": "database_unavailable", "message": "the database cannot be reached"}
            }))
        }
    }
}

//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route, built from the handlers'
//! `#[utoipa::path]` annotations (see `routes::openapi`). Anyone may read it: it describes the API,
//! it holds nothing of anyone's, and the `/docs` page loads it before anyone has signed in.

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};

use crate::api_schema::ErrorAnswer;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(document));
}

/// This route in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(document))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "get_openapi_document", tag = "reference", security(()),
    responses(
        (status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object),
        (status = 404, description = "`not_found`", body = ErrorAnswer),
    ))]
async fn document() -> HttpResponse {
    // The document is the same for the life of the binary: written once, on first request.
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| super::openapi().to_json().unwrap_or_else(|_| "{}".to_owned()));
    HttpResponse::Ok().content_type("application/json").body(body.as_str())
}

//! The v1 routes of api.md, and the extractor settings that give actix's own errors (bad JSON,
//! bad query, unknown route) the contract's JSON shape.

mod admin;
mod appointments;
mod directory;
mod experts;
mod extract;
mod health;
mod holds;
mod ics;
mod integrations;
mod metrics;
mod oauth;
mod params;
mod provider_settings;
mod providers;
mod reference;
mod schedules;
mod series;
mod slots;
mod webhook_endpoints;
mod webhooks;

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::OpenApi;

use crate::error::ApiError;

/// Registers every route and the JSON error handlers.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(256 * 1024).error_handler(json_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::bad_request("invalid_parameter", format!("invalid path: {e}")).into()),
        )
        // actix tries resources in order, matching each path pattern in turn: the API (and in it
        // slots and appointments, the busiest routes) comes first.
        .service(
            web::scope("/api/v1")
                .configure(slots::configure)
                .configure(appointments::configure)
                .configure(holds::configure)
                .configure(series::configure)
                .configure(ics::configure_api)
                .configure(admin::configure)
                .configure(experts::configure)
                .configure(schedules::configure)
                .configure(directory::configure)
                .configure(providers::configure)
                .configure(provider_settings::configure)
                .configure(integrations::configure)
                .configure(oauth::configure_api)
                .configure(webhook_endpoints::configure)
                .configure(reference::configure),
        )
        .configure(health::configure)
        .configure(ics::configure)
        .configure(metrics::configure)
        .configure(oauth::configure)
        .configure(webhooks::configure)
        .configure(crate::session::configure)
        .configure(crate::pages::configure);
}

/// The OpenAPI 3.1 document (`GET /api/v1/openapi.json`, and `/docs` draws it).
///
/// Each route module describes its own routes: a `#[utoipa::path(...)]` on the handler (method,
/// full path, parameters, body, answers with their codes) and the handler's name in the module's
/// `Doc` (`#[openapi(paths(...))]`, next to its `configure`). A new module adds its `Doc` to the
/// list below. Answers are mirror types in `api_schema.rs`; request bodies and query structs
/// derive `ToSchema` / `IntoParams` where they are declared. The shared errors (400, 401, 403,
/// 404, 413, 415, 429, 503) are added to every operation by `openapi::add_shared_errors`. A route
/// in docs/api.md's tables that the document lacks (or the reverse) fails `tests/tests/openapi.rs`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = crate::openapi::frame();
    for part in [
        admin::Doc::openapi(),
        appointments::Doc::openapi(),
        directory::Doc::openapi(),
        holds::Doc::openapi(),
        series::Doc::openapi(),
        experts::Doc::openapi(),
        health::Doc::openapi(),
        ics::Doc::openapi(),
        integrations::Doc::openapi(),
        metrics::Doc::openapi(),
        oauth::Doc::openapi(),
        provider_settings::Doc::openapi(),
        providers::Doc::openapi(),
        reference::Doc::openapi(),
        schedules::Doc::openapi(),
        slots::Doc::openapi(),
        webhook_endpoints::Doc::openapi(),
        webhooks::Doc::openapi(),
        crate::session::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    crate::openapi::add_shared_errors(&mut doc);
    doc
}

/// A request's path as the log may show it: a calendar feed's secret is left out.
pub fn loggable_path(path: &str) -> String {
    ics::loggable_path(path)
}

/// The routes of METRICS_BIND's listener (only `/metrics`).
pub fn configure_metrics_listener(cfg: &mut web::ServiceConfig) {
    metrics::configure_listener(cfg);
}

/// The answer to an unknown route.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

fn json_error(e: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let err = match &e {
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON with Content-Type: application/json",
        ),
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is too large",
        ),
        JsonPayloadError::Deserialize(d) if d.is_data() => {
            ApiError::bad_request("invalid_json", format!("wrong JSON type: {d}"))
        }
        _ => ApiError::bad_request("invalid_json", format!("malformed JSON: {e}")),
    };
    err.into()
}

fn query_error(e: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_parameter", format!("invalid query: {e}")).into()
}

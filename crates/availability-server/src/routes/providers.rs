//! `GET /api/v1/providers`: every registered provider, as the pages draw the integration choice
//! and the connect panels from it.

use actix_web::{web, HttpResponse};
use availability_core::Provider;
use serde_json::{json, Value};

use crate::api_schema::ProviderList;
use crate::auth::Caller;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/providers", web::get().to(list));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub(super) struct Doc;

fn describe(provider: &dyn Provider) -> Value {
    let d = provider.descriptor();
    let unavailable = provider.unavailable_reason();
    let mut out = json!({
        "integration_type": d.integration_type,
        "display_name": d.display_name,
        "description": d.description,
        "calendar_type": d.calendar_type,
        "connect": d.connect,
        "oauth": provider.oauth().is_some(),
        "credential_fields": d.credential_fields,
        "capabilities": provider.capabilities(),
        "features": d.features,
        "available": unavailable.is_none(),
    });
    if let (Some(why), Some(map)) = (unavailable, out.as_object_mut()) {
        map.insert("unavailable_reason".into(), json!(why));
    }
    out
}

#[utoipa::path(get, path = "/api/v1/providers", operation_id = "list_providers", tag = "integrations",
    responses((status = 200, description = "Every registered provider in registration order (anyone authenticated)", body = ProviderList)))]
/// Anyone authenticated.
async fn list(_caller: Caller, state: web::Data<AppState>) -> HttpResponse {
    let providers: Vec<Value> = state.providers.iter().map(|p| describe(p.as_ref())).collect();
    HttpResponse::Ok().json(json!({ "providers": providers }))
}

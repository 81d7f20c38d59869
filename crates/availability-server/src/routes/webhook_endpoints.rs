//! Outgoing webhook endpoints (admin): register, list, change and remove receivers, read an
//! endpoint's delivery log and send a delivery again. The sending is `webhook_worker`'s.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use availability_core::CoreError;
use availability_domain::jiff::Timestamp;
use availability_store::{Delivery, EndpointPatch, WebhookEndpoint, WebhookEvent};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authed, JsonObject};
use super::params::parse_id;
use crate::api_schema::{
    CreatedWebhookEndpoint, Delivery as DeliveryAnswer, DeliveryList, ErrorAnswer, WebhookEndpoint as EndpointAnswer,
    WebhookEndpointList,
};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhook-endpoints", web::post().to(create))
        .route("/webhook-endpoints", web::get().to(list))
        .route("/webhook-endpoints/{id}", web::get().to(get))
        .route("/webhook-endpoints/{id}", web::patch().to(update))
        .route("/webhook-endpoints/{id}", web::delete().to(delete))
        .route("/webhook-endpoints/{id}/deliveries", web::get().to(deliveries))
        .route(
            "/webhook-endpoints/{id}/deliveries/{delivery_id}/retry",
            web::post().to(retry),
        );
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, get, update, delete, deliveries, retry))]
pub(super) struct Doc;

/// The longest URL accepted.
const MAX_URL_LEN: usize = 2048;
/// Deliveries listed by default, and at most.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

/// A new webhook endpoint.
#[derive(Deserialize, ToSchema)]
struct NewEndpoint {
    /// https (http only to a loopback host), at most 2048 characters.
    #[schema(example = "https://marketplace.example.com/hooks/availability", format = "uri")]
    url: String,
    /// At least one event type.
    #[schema(value_type = Vec<crate::api_schema::WebhookEventName>, example = json!(["appointment.created", "appointment.cancelled"]))]
    events: Vec<String>,
    /// Default true.
    enabled: Option<bool>,
}

/// The fields to change of a webhook endpoint.
#[derive(Deserialize, ToSchema)]
#[schema(as = WebhookEndpointPatch)]
struct Patch {
    #[schema(format = "uri")]
    url: Option<String>,
    #[schema(value_type = Option<Vec<crate::api_schema::WebhookEventName>>)]
    events: Option<Vec<String>>,
    /// true also clears `disabled_reason`.
    enabled: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// 1-200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

fn bad_url(message: &str) -> ApiError {
    ApiError::invalid("invalid_webhook_url", message)
}

/// An endpoint URL: https, or http to a loopback host only; no user name or password in it.
pub(crate) fn check_url(url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    if url.len() > MAX_URL_LEN {
        return Err(bad_url("url is longer than 2048 characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| bad_url("url must be an absolute https:// URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad_url("url may not carry a user name or password"));
    }
    let Some(host) = parsed.host_str() else {
        return Err(bad_url("url must name a host"));
    };
    match parsed.scheme() {
        "https" => {}
        "http" if crate::config::is_loopback(host) => {}
        "http" => {
            return Err(bad_url(
                "url must be https (http only to a loopback host: localhost, 127.0.0.0/8 or ::1)",
            ))
        }
        _ => return Err(bad_url("url must be an https:// URL")),
    }
    Ok(parsed.to_string())
}

/// Known event names, each once, in the order given; at least one.
pub(crate) fn check_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::invalid("events_required", "subscribe to at least one event"));
    }
    let mut checked: Vec<String> = Vec::new();
    for name in events {
        let event: WebhookEvent = name.parse().map_err(|_| {
            let known: Vec<&str> = WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
            ApiError::invalid(
                "unknown_event",
                format!("unknown event {name:?}; the events are {}", known.join(", ")),
            )
        })?;
        if !checked.iter().any(|c| c == event.as_str()) {
            checked.push(event.as_str().to_owned());
        }
    }
    Ok(checked)
}

fn instant(seconds: i64) -> Value {
    json!(Timestamp::from_second(seconds).ok().map(|t| t.to_string()))
}

fn endpoint_json(e: &WebhookEndpoint) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "created_at": instant(e.created_at),
        "updated_at": instant(e.updated_at),
    })
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "event_type": d.event_type,
        "webhook_id": d.webhook_id,
        "appointment_id": d.appointment_id,
        "status": d.status.as_str(),
        "attempts": d.attempts,
        "last_error": d.last_error,
        "last_status_code": d.last_status_code,
        "last_response_body": d.last_response,
        "next_attempt_at": d.next_attempt_at.map(instant),
        "delivered_at": d.delivered_at.map(instant),
        "queued_at": instant(d.queued_at),
    })
}

fn endpoint_id(path: &str) -> Result<String, ApiError> {
    Ok(parse_id::<uuid::Uuid>("webhook endpoint id", path)?.to_string())
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints", operation_id = "create_webhook_endpoint", tag = "webhooks", request_body = NewEndpoint,
    responses(
        (status = 201, description = "The endpoint, with its secret shown only here (admin)", body = CreatedWebhookEndpoint),
        (status = 422, description = "`invalid_webhook_url`, `unknown_event`, `events_required`", body = ErrorAnswer),
        (status = 503, description = "`encryption_key_missing`, `database_unavailable`", body = ErrorAnswer),
    ))]
async fn create(
    state: web::Data<AppState>,
    Authed(caller, body): Authed<JsonObject<NewEndpoint>>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = body.into_inner();
    let url = check_url(&body.url)?;
    let events = check_events(&body.events)?;
    if !state.store.can_store_credentials() {
        return Err(CoreError::EncryptionKeyMissing.into());
    }
    let (mut endpoint, secret) = state.store.create_webhook_endpoint(url, events).await?;
    if body.enabled == Some(false) {
        let patch = EndpointPatch {
            enabled: Some(false),
            ..EndpointPatch::default()
        };
        endpoint = state.store.update_webhook_endpoint(endpoint.id.clone(), patch).await?;
    }
    tracing::info!(endpoint = %endpoint.id, "webhook endpoint registered");
    let mut answer = endpoint_json(&endpoint);
    answer["secret"] = json!(secret.expose());
    Ok(HttpResponse::Created().json(answer))
}

#[utoipa::path(get, path = "/api/v1/webhook-endpoints", operation_id = "list_webhook_endpoints", tag = "webhooks",
    responses((status = 200, description = "Every endpoint, oldest first, without secrets (admin)", body = WebhookEndpointList)))]
async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let endpoints = state.store.webhook_endpoints().await?;
    let list: Vec<Value> = endpoints.iter().map(endpoint_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "webhook_endpoints": list })))
}

#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}", operation_id = "get_webhook_endpoint", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook endpoint's id")),
    responses((status = 200, description = "The endpoint, without its secret (admin)", body = EndpointAnswer)))]
async fn get(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let endpoint = state.store.webhook_endpoint(endpoint_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(endpoint_json(&endpoint)))
}

#[utoipa::path(patch, path = "/api/v1/webhook-endpoints/{id}", operation_id = "update_webhook_endpoint", tag = "webhooks", request_body = Patch,
    params(("id" = Uuid, Path, description = "The webhook endpoint's id")),
    responses(
        (status = 200, description = "The endpoint (admin)", body = EndpointAnswer),
        (status = 422, description = "`invalid_webhook_url`, `unknown_event`, `events_required`", body = ErrorAnswer),
    ))]
async fn update(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<Patch>>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = endpoint_id(&path)?;
    let body = body.into_inner();
    let patch = EndpointPatch {
        url: body.url.as_deref().map(check_url).transpose()?,
        events: body.events.as_deref().map(check_events).transpose()?,
        enabled: body.enabled,
    };
    let endpoint = state.store.update_webhook_endpoint(id, patch).await?;
    Ok(HttpResponse::Ok().json(endpoint_json(&endpoint)))
}

#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", operation_id = "delete_webhook_endpoint", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook endpoint's id")),
    responses((status = 204, description = "Deleted, with its deliveries (admin)")))]
async fn delete(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = endpoint_id(&path)?;
    if !state.store.delete_webhook_endpoint(id.clone()).await? {
        return Err(ApiError::not_found("webhook endpoint", &id));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook endpoint's id"), DeliveryQuery),
    responses(
        (status = 200, description = "The endpoint's deliveries, newest first (admin)", body = DeliveryList),
        (status = 422, description = "`out_of_range` (limit)", body = ErrorAnswer),
    ))]
async fn deliveries(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, query): Authed<web::Query<DeliveryQuery>>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = endpoint_id(&path)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "out_of_range",
            format!("limit must be 1-{MAX_LIMIT}, got {limit}"),
        ));
    }
    let list = state.store.webhook_deliveries(id, limit).await?;
    let list: Vec<Value> = list.iter().map(delivery_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "deliveries": list })))
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", operation_id = "retry_webhook_delivery", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook endpoint's id"), ("delivery_id" = i64, Path, description = "The delivery's id (a number)")),
    responses(
        (status = 202, description = "Queued again at once with a new 3-day retry window (admin)", body = DeliveryAnswer),
        (status = 409, description = "`endpoint_disabled`", body = ErrorAnswer),
    ))]
async fn retry(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (endpoint, delivery) = path.into_inner();
    let endpoint = state.store.webhook_endpoint(endpoint_id(&endpoint)?).await?;
    let delivery: i64 = delivery.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("delivery_id must be a number, got {delivery:?}"),
        )
    })?;
    if !endpoint.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "endpoint_disabled",
            "the endpoint is disabled: enable it (PATCH enabled: true) before retrying",
        ));
    }
    let queued = state.store.retry_webhook_delivery(endpoint.id, delivery).await?;
    Ok(HttpResponse::Accepted().json(delivery_json(&queued)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http() {
        for good in [
            "https://hooks.example.com/in",
            "http://127.0.0.1:9000/hook",
            "http://127.5.0.1/hook",
            "http://localhost:8080/",
            "http://[::1]:9000/x",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://hooks.example.com/in",
            "http://10.0.0.1/x",
            "http://[::2]/x",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
            "/relative",
        ] {
            let e = check_url(bad).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (422, "invalid_webhook_url"), "{bad}");
        }
    }

    #[test]
    fn events_are_known_names() {
        let events = check_events(&["appointment.created".into(), "appointment.created".into()]).unwrap();
        assert_eq!(events, ["appointment.created"]);
        assert_eq!(check_events(&["nope".into()]).unwrap_err().code, "unknown_event");
        assert_eq!(check_events(&[]).unwrap_err().code, "events_required");
        let all: Vec<String> = WebhookEvent::ALL.iter().map(|e| e.as_str().to_owned()).collect();
        assert_eq!(check_events(&all).unwrap().len(), 9);
    }
}

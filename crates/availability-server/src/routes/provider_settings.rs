//! What an expert chooses inside a connected provider, for every provider that offers it: its
//! calendars (which block time, which receives appointments), its event types, and the working
//! hours it keeps. The manage page's panels use these.

use actix_web::{web, HttpResponse};
use availability_core::Provider;
use availability_domain::ExpertId;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

use super::extract::{Authed, JsonObject};
use super::integrations::is_connected;
use super::params::{expert_id, provider_from_path};
use crate::api_schema::{Availability, CalendarList, CredentialFields, ErrorAnswer, EventTypeList};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/experts/{id}/integrations/{type}/calendars")
            .route(web::get().to(calendars))
            .route(web::put().to(choose_calendars)),
    )
    .route(
        "/experts/{id}/integrations/{type}/working_hours",
        web::get().to(working_hours),
    )
    .service(
        web::resource("/experts/{id}/integrations/{type}/event_types")
            .route(web::get().to(connected_event_types))
            .route(web::post().to(event_types_for_fields)),
    );
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    calendars,
    choose_calendars,
    working_hours,
    connected_event_types,
    event_types_for_fields
))]
pub(super) struct Doc;

/// 409 `integration_not_connected` unless the expert has connected this provider: what is inside
/// a calendar cannot be asked of one that is not there (never a 5xx).
async fn require_connected(state: &AppState, provider: &dyn Provider, id: ExpertId) -> Result<(), ApiError> {
    if is_connected(state, provider, id).await? {
        return Ok(());
    }
    Err(ApiError::new(
        actix_web::http::StatusCode::CONFLICT,
        "integration_not_connected",
        format!(
            "{} is not connected: connect it first",
            provider.descriptor().display_name
        ),
    ))
}

/// The expert (owned by the caller) and the provider the path names.
async fn owned<'a>(
    caller: &Caller,
    state: &'a AppState,
    path: &(String, String),
) -> Result<(ExpertId, &'a Arc<dyn Provider>), ApiError> {
    let provider = provider_from_path(&state.providers, &path.1)?;
    let id = expert_id(&path.0)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    Ok((id, provider))
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/integrations/{type}/calendars", operation_id = "list_calendars", tag = "integrations",
    params(("id" = Uuid, Path, description = "The expert's id"), ("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 200, description = "The connected account's calendars (the expert, admin)", body = CalendarList),
        (status = 404, description = "`not_found`, `unknown_integration`, `not_offered` (a feature the provider does not have)", body = ErrorAnswer),
        (status = 409, description = "`integration_not_connected`", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
/// GET .../{type}/calendars -> {calendars:[{id, summary, primary, blocks_time, receives_events,
/// read_only, access_role?, time_zone?}]}
async fn calendars(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, provider) = owned(&caller, &state, &path).await?;
    require_connected(&state, provider.as_ref(), id).await?;
    let calendars = provider.calendars(id).await?;
    Ok(HttpResponse::Ok().json(json!({ "calendars": calendars })))
}

/// Which calendars block time and which one receives appointments.
#[derive(Deserialize, ToSchema)]
struct CalendarChoice {
    busy_calendar_ids: Vec<String>,
    event_calendar_id: String,
}

#[utoipa::path(put, path = "/api/v1/experts/{id}/integrations/{type}/calendars", operation_id = "choose_calendars", tag = "integrations",
    request_body = CalendarChoice,
    params(("id" = Uuid, Path, description = "The expert's id"), ("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 200, description = "The calendars again (the expert, admin)", body = CalendarList),
        (status = 404, description = "`not_found`, `unknown_integration`, `not_offered` (a feature the provider does not have)", body = ErrorAnswer),
        (status = 409, description = "`integration_not_connected`", body = ErrorAnswer),
        (status = 422, description = "`invalid_calendar_choice`", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
/// PUT .../{type}/calendars {busy_calendar_ids, event_calendar_id} -> the list again.
async fn choose_calendars(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Authed(caller, body): Authed<JsonObject<CalendarChoice>>,
) -> Result<HttpResponse, ApiError> {
    let (id, provider) = owned(&caller, &state, &path).await?;
    require_connected(&state, provider.as_ref(), id).await?;
    let choice = body.into_inner();
    provider
        .choose_calendars(id, choice.busy_calendar_ids, choice.event_calendar_id)
        .await?;
    // Other calendars block time from now on: cached busy time is stale.
    state.service.invalidate_busy_time(id);
    let calendars = provider.calendars(id).await?;
    Ok(HttpResponse::Ok().json(json!({ "calendars": calendars })))
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/integrations/{type}/working_hours", operation_id = "get_working_hours", tag = "integrations",
    params(("id" = Uuid, Path, description = "The expert's id"), ("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 200, description = "The provider's working hours in the shape of GET availability; nothing is stored (the expert, admin)", body = Availability),
        (status = 404, description = "`not_found`, `unknown_integration`, `not_offered` (a feature the provider does not have)", body = ErrorAnswer),
        (status = 409, description = "`integration_not_connected`", body = ErrorAnswer),
        (status = 422, description = "`working_hours_unavailable`", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
/// GET .../{type}/working_hours: the provider's working hours of the expert in the shape of GET
/// availability (zone, rules; the stored overrides when in the same zone), for the expert to
/// review and save as their hours. Nothing is stored: bookings are validated against the stored
/// hours, so the provider's become the expert's only when saved. 422
/// `working_hours_unavailable` where the provider reports none (Outlook's personal accounts).
async fn working_hours(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, provider) = owned(&caller, &state, &path).await?;
    require_connected(&state, provider.as_ref(), id).await?;
    let expert = state.store.expert(id).await?;
    let typed = state.store.schedule(id).await?;
    match provider.working_hours(&expert, &typed).await? {
        Some(schedule) => Ok(HttpResponse::Ok().json(super::experts::availability_json(&schedule))),
        None => Err(ApiError::invalid(
            "working_hours_unavailable",
            format!(
                "{} reports no working hours for this account",
                provider.descriptor().display_name
            ),
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/integrations/{type}/event_types", operation_id = "list_event_types", tag = "integrations",
    params(("id" = Uuid, Path, description = "The expert's id"), ("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 200, description = "The connected account's active event types (the expert, admin)", body = EventTypeList),
        (status = 404, description = "`not_found`, `unknown_integration`, `not_offered` (a feature the provider does not have)", body = ErrorAnswer),
        (status = 409, description = "`integration_not_connected`", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
/// GET .../{type}/event_types: the connected account's active event types.
async fn connected_event_types(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, provider) = owned(&caller, &state, &path).await?;
    require_connected(&state, provider.as_ref(), id).await?;
    let types = provider.event_types(id).await?;
    Ok(HttpResponse::Ok().json(json!({ "event_types": types })))
}

#[utoipa::path(post, path = "/api/v1/experts/{id}/integrations/{type}/event_types", operation_id = "list_event_types_for_credentials", tag = "integrations",
    request_body(content = CredentialFields, description = "The provider's credential fields (Calendly: personal_access_token)"),
    params(("id" = Uuid, Path, description = "The expert's id"), ("type" = String, Path, description = "A registered provider's integration_type (GET /api/v1/providers)", example = "google_calendar")),
    responses(
        (status = 200, description = "The account's active event types; nothing is stored (the expert, admin)", body = EventTypeList),
        (status = 404, description = "`not_found`, `unknown_integration`, `not_offered` (a feature the provider does not have)", body = ErrorAnswer),
        (status = 422, description = "`invalid_token`, `invalid_credentials`", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
/// POST .../{type}/event_types {credential fields}: checks them and lists the account's active
/// event types, so the expert can pick one before connecting. Nothing is stored.
async fn event_types_for_fields(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Authed(caller, body): Authed<JsonObject<Map<String, Value>>>,
) -> Result<HttpResponse, ApiError> {
    let (_, provider) = owned(&caller, &state, &path).await?;
    let types = provider.event_types_for(&body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({ "event_types": types })))
}

//! Holds: a client's short reservation of a time while they confirm (api.md "Holds").

use actix_web::{web, HttpResponse};
use availability_domain::{ClientId, HoldId};
use availability_store::Principal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::appointments::requested_time;
use super::extract::{Authed, JsonObject};
use super::params::{expert_id, parse_id};
use crate::api_schema::ErrorAnswer;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/holds", web::post().to(create))
        .route("/holds/{id}", web::delete().to(release));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, release))]
pub(super) struct Doc;

/// A hold to make.
#[derive(Deserialize, ToSchema)]
struct HoldBody {
    #[schema(format = Uuid)]
    expert_id: String,
    #[schema(format = Uuid)]
    client_id: String,
    /// RFC 3339.
    #[schema(format = DateTime, example = "2026-03-02T09:00:00Z")]
    start_time: String,
    /// RFC 3339, after start_time.
    #[schema(format = DateTime, example = "2026-03-02T09:30:00Z")]
    end_time: String,
    /// 60-900, default 300.
    #[schema(minimum = 60, maximum = 900)]
    ttl_seconds: Option<i64>,
}

/// A hold as the API shows it.
#[derive(Serialize, ToSchema)]
struct HoldAnswer {
    #[schema(value_type = uuid::Uuid)]
    id: HoldId,
    #[schema(format = Uuid)]
    expert_id: String,
    #[schema(value_type = uuid::Uuid)]
    client_id: ClientId,
    #[schema(format = DateTime)]
    start_time: String,
    #[schema(format = DateTime)]
    end_time: String,
    /// From this instant on the hold blocks nothing.
    #[schema(format = DateTime)]
    expires_at: String,
}

fn may_act_for(caller: &Caller, client: ClientId) -> Result<(), ApiError> {
    match caller.0 {
        Principal::Admin => Ok(()),
        Principal::Client(id) if id == client => Ok(()),
        _ => Err(ApiError::forbidden()),
    }
}

#[utoipa::path(post, path = "/api/v1/holds", operation_id = "create_hold", tag = "holds", request_body = HoldBody,
    responses(
        (status = 201, description = "Held (the client themself, or admin)", body = HoldAnswer),
        (status = 400, description = "`invalid_json`, `invalid_parameter`", body = ErrorAnswer),
        (status = 409, description = "`slot_taken`: a booking or another client's hold", body = ErrorAnswer),
        (status = 422, description = "`slot_unavailable`, `limit_reached`, `end_before_start`, `out_of_range` (ttl_seconds), `unsupported` (a scheduler's expert)", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
async fn create(
    state: web::Data<AppState>,
    Authed(caller, body): Authed<JsonObject<HoldBody>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let expert = expert_id(&body.expert_id)?;
    let client: ClientId = parse_id("client_id", &body.client_id)?;
    let time = requested_time(&body.start_time, &body.end_time)?;
    may_act_for(&caller, client)?;
    let hold = state.service.hold(expert, client, time, body.ttl_seconds).await?;
    Ok(HttpResponse::Created().json(HoldAnswer {
        id: hold.id,
        expert_id: hold.expert_id.to_string(),
        client_id: hold.client_id,
        start_time: hold.time.start().to_string(),
        end_time: hold.time.end().to_string(),
        expires_at: hold.expires_at.to_string(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/holds/{id}", operation_id = "release_hold", tag = "holds",
    params(("id" = Uuid, Path, description = "The hold's id")),
    responses((status = 204, description = "Released, or gone already (its client, admin)")))]
async fn release(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: HoldId = parse_id("hold id", &path)?;
    match state.service.hold_of(id).await {
        Ok(hold) => {
            may_act_for(&caller, hold.client_id)?;
            state.service.release_hold(id).await?;
        }
        // Released, booked or expired and removed already: the outcome the caller wants. Only
        // a client or an admin may ask, as for a hold that exists.
        Err(availability_core::CoreError::NotFound { .. }) => {
            if !matches!(caller.0, Principal::Admin | Principal::Client(_)) {
                return Err(ApiError::forbidden());
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(HttpResponse::NoContent().finish())
}

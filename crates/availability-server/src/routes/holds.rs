//! Holds: a client's short reservation of a time while they confirm (api.md "Holds").

use actix_web::{web, HttpResponse};
use availability_domain::{ClientId, HoldId};
use availability_store::Principal;
use serde::{Deserialize, Serialize};

use super::appointments::requested_time;
use super::extract::{Authed, JsonObject};
use super::params::{expert_id, parse_id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/holds", web::post().to(create))
        .route("/holds/{id}", web::delete().to(release));
}

#[derive(Deserialize)]
struct HoldBody {
    expert_id: String,
    client_id: String,
    start_time: String,
    end_time: String,
    ttl_seconds: Option<i64>,
}

/// A hold as the API shows it.
#[derive(Serialize)]
struct HoldAnswer {
    id: HoldId,
    expert_id: String,
    client_id: ClientId,
    start_time: String,
    end_time: String,
    expires_at: String,
}

fn may_act_for(caller: &Caller, client: ClientId) -> Result<(), ApiError> {
    match caller.0 {
        Principal::Admin => Ok(()),
        Principal::Client(id) if id == client => Ok(()),
        _ => Err(ApiError::forbidden()),
    }
}

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

//! Admin-only: creating experts, clients and tokens.

use actix_web::{web, HttpResponse};
use availability_domain::Zone;
use availability_store::{tokens, Principal};
use serde::Deserialize;
use serde_json::json;

use super::extract::{Authed, JsonObject};
use super::params::{check_name_and_email, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts", web::post().to(create_expert))
        .route("/clients", web::post().to(create_client))
        .route("/tokens", web::post().to(create_token));
}

#[derive(Deserialize)]
struct NewExpert {
    name: String,
    email: String,
    timezone: String,
}

#[derive(Deserialize)]
struct NewClient {
    name: String,
    email: String,
    timezone: Option<String>,
}

#[derive(Deserialize)]
struct NewToken {
    role: String,
    subject_id: Option<String>,
}

async fn create_expert(
    state: web::Data<AppState>,
    Authed(caller, body): Authed<JsonObject<NewExpert>>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = body.into_inner();
    check_name_and_email(&body.name, &body.email)?;
    let zone = Zone::new(&body.timezone)?;
    let expert = state
        .store
        .create_expert(body.name.trim().to_owned(), body.email.trim().to_owned(), zone)
        .await?;
    Ok(HttpResponse::Created().json(expert))
}

async fn create_client(
    state: web::Data<AppState>,
    Authed(caller, body): Authed<JsonObject<NewClient>>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = body.into_inner();
    check_name_and_email(&body.name, &body.email)?;
    let zone = match body.timezone.as_deref() {
        Some(z) => Zone::new(z)?,
        None => Zone::utc(),
    };
    let client = state
        .store
        .create_client(body.name.trim().to_owned(), body.email.trim().to_owned(), zone)
        .await?;
    Ok(HttpResponse::Created().json(client))
}

async fn create_token(
    state: web::Data<AppState>,
    Authed(caller, body): Authed<JsonObject<NewToken>>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = body.into_inner();
    let principal = match (body.role.as_str(), body.subject_id.as_deref()) {
        ("admin", _) => Principal::Admin,
        ("expert", Some(id)) => {
            let id = parse_id("subject_id", id)?;
            state.store.expert(id).await?;
            Principal::Expert(id)
        }
        ("client", Some(id)) => {
            let id = parse_id("subject_id", id)?;
            state.store.client(id).await?;
            Principal::Client(id)
        }
        ("expert" | "client", None) => {
            return Err(ApiError::invalid(
                "subject_required",
                "an expert or client token needs subject_id",
            ))
        }
        (other, _) => {
            return Err(ApiError::invalid(
                "invalid_role",
                format!("role must be admin, expert or client, got {other:?}"),
            ))
        }
    };
    let token = tokens::new_token()?;
    state.store.add_token(token.clone(), principal).await?;
    Ok(HttpResponse::Created().json(json!({"token": token, "role": body.role, "subject_id": body.subject_id})))
}

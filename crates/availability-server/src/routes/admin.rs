//! Creating experts and clients (admin), and tokens: made and listed by admins, revoked by admins
//! or by their own holder.

use actix_web::{web, HttpResponse};
use availability_domain::jiff::Timestamp;
use availability_domain::{ExpertId, Zone};
use availability_store::{Principal, TokenRecord};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Authed, JsonObject};
use super::params::{check_name_and_email, parse_id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts", web::post().to(create_expert))
        .route("/clients", web::post().to(create_client))
        // One route per method (not a resource): another method falls through to the JSON 404.
        .route("/tokens", web::post().to(create_token))
        .route("/tokens", web::get().to(list_tokens))
        .route("/tokens/{id}", web::delete().to(revoke_token));
}

/// The longest expiry a token may be given (10 years).
const MAX_EXPIRY_DAYS: i64 = 3650;

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
    expires_in_days: Option<i64>,
}

fn instant(seconds: i64) -> Value {
    json!(Timestamp::from_second(seconds).ok().map(|t| t.to_string()))
}

/// A token as answers show it: never the secret.
fn token_json(record: &TokenRecord) -> Value {
    let (role, subject_id) = match record.principal {
        Principal::Admin => ("admin", None),
        Principal::Expert(id) => ("expert", Some(id.to_string())),
        Principal::Client(id) => ("client", Some(id.to_string())),
    };
    json!({
        "id": record.id,
        "role": role,
        "subject_id": subject_id,
        "created_at": instant(record.created_at),
        "expires_at": record.expires_at.map(instant),
    })
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
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => Some(Timestamp::now().as_second() + days * 86_400),
        Some(days) => {
            return Err(ApiError::invalid(
                "out_of_range",
                format!("expires_in_days must be 1-{MAX_EXPIRY_DAYS}, got {days}"),
            ))
        }
    };
    let (token, record) = state.store.issue_token(principal, expires_at).await?;
    let mut answer = token_json(&record);
    answer["token"] = json!(token);
    Ok(HttpResponse::Created().json(answer))
}

#[derive(Deserialize)]
struct TokenFilter {
    subject_id: Option<String>,
}

/// GET /tokens?subject_id= (admin): the stored tokens, of one expert or client if given, oldest
/// first, without their secrets (ADMIN_TOKEN is not stored and not listed).
async fn list_tokens(
    state: web::Data<AppState>,
    Authed(caller, filter): Authed<web::Query<TokenFilter>>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let subject = match filter.into_inner().subject_id.filter(|s| !s.is_empty()) {
        Some(s) => Some(parse_id::<ExpertId>("subject_id", &s)?.to_string()),
        None => None,
    };
    let records = state.store.tokens(subject).await?;
    let tokens: Vec<Value> = records.iter().map(token_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

/// DELETE /tokens/{id} (admin, or whoever the token speaks for): 204; the token and the sessions
/// opened with it are gone for every server process from the next request on.
async fn revoke_token(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id::<uuid::Uuid>("token id", &path)?.to_string();
    let record = state
        .store
        .token_by_id(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("token", &id))?;
    if caller.0 != Principal::Admin && caller.0 != record.principal {
        return Err(ApiError::forbidden());
    }
    state.store.revoke_token(id.clone()).await?;
    tracing::info!(token = %id, by = %caller.scope(), "token revoked");
    Ok(HttpResponse::NoContent().finish())
}

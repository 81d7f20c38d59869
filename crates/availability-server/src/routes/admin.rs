//! Creating experts and clients (admin), and tokens: made and listed by admins, revoked by admins
//! or by their own holder.

use actix_web::{web, HttpResponse};
use availability_domain::jiff::Timestamp;
use availability_domain::{ExpertId, Zone};
use availability_store::{Principal, TokenRecord};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authed, JsonObject};
use super::params::{check_name_and_email, parse_id};
use crate::api_schema::{Client, ErrorAnswer, Expert, IssuedToken, TokenList};
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

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create_expert, create_client, create_token, list_tokens, revoke_token))]
pub(super) struct Doc;

/// The longest expiry a token may be given (10 years).
const MAX_EXPIRY_DAYS: i64 = 3650;

/// A new expert.
#[derive(Deserialize, ToSchema)]
struct NewExpert {
    /// 1-200 characters.
    #[schema(example = "Dr. Ada Example")]
    name: String,
    #[schema(example = "ada@example.com")]
    email: String,
    /// IANA time zone.
    #[schema(example = "Europe/Berlin")]
    timezone: String,
}

/// A new client.
#[derive(Deserialize, ToSchema)]
struct NewClient {
    #[schema(example = "Ann Client")]
    name: String,
    /// Unique among clients (compared case-insensitively).
    #[schema(example = "ann@example.com")]
    email: String,
    /// IANA time zone; default `UTC`.
    #[schema(example = "America/New_York")]
    timezone: Option<String>,
}

/// A new token.
#[derive(Deserialize, ToSchema)]
struct NewToken {
    /// `admin`, `expert` or `client`.
    #[schema(value_type = crate::api_schema::Role, example = "expert")]
    role: String,
    /// The expert or client (not for admin).
    #[schema(format = Uuid)]
    subject_id: Option<String>,
    /// 1-3650; absent: never expires.
    #[schema(minimum = 1, maximum = 3650)]
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

#[utoipa::path(post, path = "/api/v1/experts", tag = "admin", request_body = NewExpert,
    responses(
        (status = 201, description = "The expert (admin only)", body = Expert),
        (status = 422, description = "`invalid_name`, `invalid_email`, `unknown_timezone`", body = ErrorAnswer),
    ))]
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

#[utoipa::path(post, path = "/api/v1/clients", tag = "admin", request_body = NewClient,
    responses(
        (status = 201, description = "The client (admin only)", body = Client),
        (status = 409, description = "`email_taken`: another client has the email", body = ErrorAnswer),
        (status = 422, description = "`invalid_name`, `invalid_email`, `unknown_timezone`", body = ErrorAnswer),
    ))]
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

#[utoipa::path(post, path = "/api/v1/tokens", tag = "admin", request_body = NewToken,
    responses(
        (status = 201, description = "The token, shown once (admin only)", body = IssuedToken),
        (status = 422, description = "`invalid_role`, `subject_required`, `out_of_range` (expires_in_days)", body = ErrorAnswer),
    ))]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenFilter {
    /// Only the tokens of this expert or client.
    #[param(format = Uuid)]
    subject_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin", params(TokenFilter),
    responses((status = 200, description = "The stored tokens, oldest first, without secrets (admin only)", body = TokenList)))]
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

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked, with the sessions opened with it (admin, or the token's own holder)")))]
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

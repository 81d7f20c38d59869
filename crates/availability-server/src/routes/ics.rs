//! iCalendar: an appointment's .ics, and each expert's secret feed (turned on, rotated and off
//! through the API; read by calendar apps at `PUBLIC_BASE_URL/ics/{expert_id}/{secret}.ics`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::ExpertId;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::params::{expert_id, parse_id};
use crate::api_schema::{ErrorAnswer, FeedUrl};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ics::{calendar, Detail};
use crate::state::AppState;

/// How far back the feed reaches (api.md: 30 days).
const FEED_DAYS_BACK: i64 = 30;

const CALENDAR_TYPE: &str = "text/calendar; charset=utf-8";

pub(super) fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.route("/appointments/{id}/ics", web::get().to(appointment_ics))
        .route("/experts/{id}/ics-feed", web::post().to(rotate_feed))
        .route("/experts/{id}/ics-feed", web::delete().to(disable_feed));
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ics/{expert_id}/{file}", web::get().to(feed));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(appointment_ics, rotate_feed, disable_feed, feed))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/api/v1/appointments/{id}/ics", operation_id = "get_appointment_ics", tag = "icalendar",
    params(("id" = Uuid, Path, description = "The appointment's id")),
    responses((status = 200, description = "A VCALENDAR (METHOD:PUBLISH) with one VEVENT (its client, its expert, admin)",
        content_type = "text/calendar", body = String,
        headers(("Content-Disposition" = String, description = "attachment; filename=\"appointment-{id}.ics\"")))))]
async fn appointment_ics(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("appointment id", &path)?;
    let entry = state.store.calendar_entry(id).await?;
    caller.require_party_to(&entry.appointment)?;
    let body = calendar(&[entry], Detail::Full, &state.config.public_base_url);
    Ok(HttpResponse::Ok()
        .content_type(CALENDAR_TYPE)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"appointment-{id}.ics\""),
        ))
        .body(body))
}

fn feed_url(state: &AppState, expert: ExpertId, secret: &str) -> String {
    format!(
        "{}/ics/{expert}/{secret}.ics",
        state.config.public_base_url.trim_end_matches('/')
    )
}

#[utoipa::path(post, path = "/api/v1/experts/{id}/ics-feed", operation_id = "rotate_ics_feed", tag = "icalendar",
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses((status = 200, description = "The feed's URL with a new secret; the old URL answers 404 from now on (the expert, admin)", body = FeedUrl)))]
async fn rotate_feed(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    let secret = state.store.rotate_ics_feed(id).await?;
    Ok(HttpResponse::Ok().json(json!({ "url": feed_url(&state, id, &secret) })))
}

#[utoipa::path(delete, path = "/api/v1/experts/{id}/ics-feed", operation_id = "disable_ics_feed", tag = "icalendar",
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses((status = 204, description = "The feed is off, also when it was (the expert, admin)")))]
async fn disable_feed(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    state.store.disable_ics_feed(id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedParams {
    /// `1`/`true`: times only, no names; `0`/`false` or absent: full.
    #[param(pattern = "^(0|1|true|false)$")]
    busy_only: Option<String>,
}

/// The one answer for every feed address that is not a live feed (unknown expert, feed off, old
/// or wrong secret, malformed path): nothing tells which.
fn no_feed() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such calendar feed")
}

#[utoipa::path(get, path = "/ics/{expert_id}/{secret}.ics", operation_id = "get_ics_feed", tag = "icalendar", security(()),
    params(
        ("expert_id" = Uuid, Path, description = "The expert's id"),
        ("secret" = String, Path, description = "The feed's secret (64 hex characters), from POST ics-feed"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the feed last read"),
        FeedParams,
    ),
    responses(
        (status = 200, description = "The expert's confirmed and pending appointments from 30 days back (whoever holds the URL)",
            content_type = "text/calendar", body = String,
            headers(("ETag" = String, description = "The SHA-256 of the body"))),
        (status = 304, description = "Unchanged since If-None-Match's ETag"),
        (status = 400, description = "`invalid_parameter` (busy_only)", body = ErrorAnswer),
        (status = 404, description = "`not_found`: no such calendar feed (off, an old or wrong secret, an unknown expert: the same answer for all)", body = ErrorAnswer),
    ))]
async fn feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    params: web::Query<FeedParams>,
) -> Result<HttpResponse, ApiError> {
    let (expert, file) = path.into_inner();
    let Some(secret) = file.strip_suffix(".ics") else {
        return Err(no_feed());
    };
    let Ok(expert) = expert.parse::<ExpertId>() else {
        return Err(no_feed());
    };
    if !state.store.ics_feed_secret_matches(expert, secret.to_owned()).await? {
        return Err(no_feed());
    }
    let detail = match params.busy_only.as_deref() {
        None | Some("0") | Some("false") => Detail::Full,
        Some("1") | Some("true") => Detail::BusyOnly,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("busy_only must be 1 or 0, got {other:?}"),
            ))
        }
    };
    let since = Timestamp::now() - SignedDuration::from_hours(24 * FEED_DAYS_BACK);
    let entries = state.store.feed_entries(expert, since).await?;
    let body = calendar(&entries, detail, &state.config.public_base_url);
    let etag = format!("\"{}\"", availability_store::tokens::token_hash(&body));
    // Calendar apps poll: revalidate every time, and keep it out of shared caches.
    let cache = ("Cache-Control", "private, no-cache");
    if if_none_match(&req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header(cache)
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type(CALENDAR_TYPE)
        .insert_header((header::ETAG, etag))
        .insert_header(cache)
        .body(body))
}

/// The path as the log may show it: a feed's address holds its secret, which is left out.
pub(super) fn loggable_path(path: &str) -> String {
    match path.strip_prefix("/ics/").and_then(|rest| rest.split_once('/')) {
        Some((expert, _secret)) => format!("/ics/{expert}/[secret]"),
        None => path.to_owned(),
    }
}

/// Whether If-None-Match names this ETag (or `*`); a weak form of it matches too (RFC 9110
/// 13.1.2 compares weakly for If-None-Match).
fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn a_feeds_secret_never_reaches_the_log() {
        let secret = "ab".repeat(32);
        let logged = loggable_path(&format!("/ics/e1/{secret}.ics"));
        assert_eq!(logged, "/ics/e1/[secret]");
        assert_eq!(
            loggable_path("/api/v1/appointments/a1/ics"),
            "/api/v1/appointments/a1/ics"
        );
        assert_eq!(loggable_path("/ics/x"), "/ics/x");
    }
}

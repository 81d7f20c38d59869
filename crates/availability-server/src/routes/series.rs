//! Recurring appointments (api.md "Recurring appointments"): a series and its occurrences, and
//! cancelling the whole series or this and the following occurrences. Series are booked by
//! `POST /api/v1/appointments` with `recurrence`.

use actix_web::{web, HttpResponse};
use availability_domain::{Appointment, Series, SeriesId};
use availability_store::Principal;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::extract::{Authed, OptionalJsonObject};
use super::params::{parse_id, parse_instant};
use crate::api_schema::{ErrorAnswer, SeriesAnswer};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/series/{id}", web::get().to(get_series))
        .route("/series/{id}/cancel", web::post().to(cancel_series));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_series, cancel_series))]
pub(super) struct Doc;

fn may_see(caller: &Caller, series: &Series) -> Result<(), ApiError> {
    match caller.0 {
        Principal::Admin => Ok(()),
        Principal::Expert(id) if id == series.expert_id => Ok(()),
        Principal::Client(id) if id == series.client_id => Ok(()),
        _ => Err(ApiError::forbidden()),
    }
}

fn answer(series: &Series, appointments: &[Appointment]) -> HttpResponse {
    let mut body = json!(series);
    body["appointments"] = json!(appointments);
    HttpResponse::Ok().json(body)
}

#[utoipa::path(get, path = "/api/v1/series/{id}", operation_id = "get_series", tag = "appointments",
    params(("id" = Uuid, Path, description = "The series' id")),
    responses((status = 200, description = "The series and all its appointments, in order (its expert, its client, admin)", body = SeriesAnswer)))]
async fn get_series(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: SeriesId = parse_id("series id", &path)?;
    let (series, appointments) = state.service.series(id).await?;
    may_see(&caller, &series)?;
    Ok(answer(&series, &appointments))
}

/// What to cancel.
#[derive(Deserialize, ToSchema, Default)]
struct CancelSeriesBody {
    /// Kept on each cancelled appointment.
    reason: Option<String>,
    /// RFC 3339: cancel the occurrences starting at or after it ("this and the following");
    /// absent: all of them.
    #[schema(format = DateTime)]
    from: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/series/{id}/cancel", operation_id = "cancel_series", tag = "appointments",
    request_body(content = Option<CancelSeriesBody>),
    params(("id" = Uuid, Path, description = "The series' id")),
    responses(
        (status = 200, description = "The series with its occurrences from `from` on cancelled (its expert, its client, admin)", body = SeriesAnswer),
        (status = 409, description = "`provider_refused`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
async fn cancel_series(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<OptionalJsonObject<CancelSeriesBody>>,
) -> Result<HttpResponse, ApiError> {
    let id: SeriesId = parse_id("series id", &path)?;
    let body = body.0.unwrap_or_default();
    let reason = body.reason.map(|r| r.chars().take(1000).collect());
    let from = body.from.as_deref().map(|f| parse_instant("from", f)).transpose()?;
    let (series, _) = state.service.series(id).await?;
    may_see(&caller, &series)?;
    let (series, appointments) = state
        .service
        .cancel_series(id, caller.canceller(), reason, from)
        .await?;
    state.sync_wake.notify_one();
    Ok(answer(&series, &appointments))
}

//! An expert's named schedules ("availability templates") and the periods on which one applies
//! instead of the default (api.md "Recurring appointments, schedules, ...": Schedules).

use actix_web::{web, HttpResponse};
use availability_domain::jiff::civil::Date;
use availability_domain::{NamedSchedule, ScheduleId, SchedulePeriod, ScheduleSet};
use availability_store::ScheduleChange;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::experts::{AvailabilityBody, AvailabilityParts};
use super::extract::{Authed, JsonObject};
use super::params::{owned_expert, parse_id};
use crate::api_schema::{ErrorAnswer, NamedSchedule as ScheduleAnswer, SchedulePeriods, Schedules};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts/{id}/schedules", web::get().to(list))
        .route("/experts/{id}/schedules", web::post().to(create))
        .route("/experts/{id}/schedules/{schedule_id}", web::get().to(get_one))
        .route("/experts/{id}/schedules/{schedule_id}", web::put().to(update))
        .route("/experts/{id}/schedules/{schedule_id}", web::delete().to(delete))
        .route("/experts/{id}/schedule-periods", web::get().to(get_periods))
        .route("/experts/{id}/schedule-periods", web::put().to(put_periods));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get_one, update, delete, get_periods, put_periods))]
pub(super) struct Doc;

/// A schedule as sent: its name, and hours in the shape of PUT availability.
#[derive(Deserialize, ToSchema)]
struct ScheduleBody {
    /// 1-100 characters.
    #[schema(example = "Summer")]
    name: String,
    #[serde(flatten)]
    hours: AvailabilityBody,
    /// true makes it the default (the old default stops being one); false on the default is 409.
    is_default: Option<bool>,
}

impl ScheduleBody {
    fn into_change(self) -> Result<ScheduleChange, ApiError> {
        let AvailabilityParts { rules, overrides, zone } = self.hours.into_parts()?;
        Ok(ScheduleChange {
            name: self.name,
            timezone: zone,
            rules,
            overrides,
            is_default: self.is_default,
        })
    }
}

/// Every period at once.
#[derive(Deserialize, ToSchema)]
struct PeriodsBody {
    periods: Vec<PeriodBody>,
}

/// One period, as sent.
#[derive(Deserialize, ToSchema)]
struct PeriodBody {
    #[schema(format = Uuid)]
    schedule_id: String,
    /// YYYY-MM-DD, the first date (in the expert's zone).
    #[schema(format = Date, example = "2027-08-01")]
    from_date: String,
    /// YYYY-MM-DD, the last date (inclusive).
    #[schema(format = Date, example = "2027-08-31")]
    to_date: String,
}

/// More periods than anyone keeps (a decade of school holidays is a few dozen).
const MAX_PERIODS: usize = 500;

impl PeriodBody {
    fn into_period(self) -> Result<SchedulePeriod, ApiError> {
        let date = |name: &str, value: &str| {
            value
                .parse::<Date>()
                .map_err(|_| ApiError::invalid("invalid_date", format!("{name} {value:?} is not a date (YYYY-MM-DD)")))
        };
        let schedule = self.schedule_id.parse::<ScheduleId>().map_err(|_| {
            ApiError::invalid(
                "unknown_schedule",
                format!("schedule_id {:?} is not a schedule's id", self.schedule_id),
            )
        })?;
        let from = date("from_date", &self.from_date)?;
        let to = date("to_date", &self.to_date)?;
        Ok(SchedulePeriod::new(schedule, from, to)?)
    }
}

fn schedule_json(s: &NamedSchedule) -> serde_json::Value {
    json!(s)
}

fn periods_json(set: &ScheduleSet) -> serde_json::Value {
    json!({"periods": set.periods()})
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/schedules", operation_id = "list_schedules", tag = "schedules",
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses((status = 200, description = "Every schedule, the default first (the expert, admin)", body = Schedules)))]
async fn list(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    let set = state.store.schedules(id).await?;
    Ok(HttpResponse::Ok().json(json!({"schedules": set.schedules()})))
}

#[utoipa::path(post, path = "/api/v1/experts/{id}/schedules", operation_id = "create_schedule", tag = "schedules",
    request_body = ScheduleBody,
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses(
        (status = 201, description = "Made; `timezone` defaults to the expert's (the expert, admin)", body = ScheduleAnswer),
        (status = 422, description = "`invalid_name`, the codes of PUT availability", body = ErrorAnswer),
    ))]
async fn create(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<ScheduleBody>>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    let made = state
        .store
        .create_schedule(id, body.into_inner().into_change()?)
        .await?;
    Ok(HttpResponse::Created().json(schedule_json(&made)))
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/schedules/{schedule_id}", operation_id = "get_schedule", tag = "schedules",
    params(("id" = Uuid, Path, description = "The expert's id"), ("schedule_id" = Uuid, Path, description = "The schedule's id")),
    responses((status = 200, description = "The schedule (the expert, admin)", body = ScheduleAnswer)))]
async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path.0).await?;
    let schedule: ScheduleId = parse_id("schedule_id", &path.1)?;
    let set = state.store.schedules(id).await?;
    let found = set
        .schedule(schedule)
        .ok_or_else(|| ApiError::not_found("schedule", schedule.to_string()))?;
    Ok(HttpResponse::Ok().json(schedule_json(found)))
}

#[utoipa::path(put, path = "/api/v1/experts/{id}/schedules/{schedule_id}", operation_id = "update_schedule", tag = "schedules",
    request_body = ScheduleBody,
    params(("id" = Uuid, Path, description = "The expert's id"), ("schedule_id" = Uuid, Path, description = "The schedule's id")),
    responses(
        (status = 200, description = "Replaced: name, timezone (kept if not sent), rules, overrides; `is_default: true` makes it the default and gives the expert its zone (the expert, admin)", body = ScheduleAnswer),
        (status = 409, description = "`default_schedule`: `is_default: false` on the default", body = ErrorAnswer),
        (status = 422, description = "`invalid_name`, the codes of PUT availability", body = ErrorAnswer),
    ))]
async fn update(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Authed(caller, body): Authed<JsonObject<ScheduleBody>>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path.0).await?;
    let schedule: ScheduleId = parse_id("schedule_id", &path.1)?;
    let saved = state
        .store
        .update_schedule(id, schedule, body.into_inner().into_change()?)
        .await?;
    Ok(HttpResponse::Ok().json(schedule_json(&saved)))
}

#[utoipa::path(delete, path = "/api/v1/experts/{id}/schedules/{schedule_id}", operation_id = "delete_schedule", tag = "schedules",
    params(("id" = Uuid, Path, description = "The expert's id"), ("schedule_id" = Uuid, Path, description = "The schedule's id")),
    responses(
        (status = 204, description = "Deleted, with its periods (the expert, admin)"),
        (status = 409, description = "`default_schedule`: the default cannot be deleted", body = ErrorAnswer),
    ))]
async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path.0).await?;
    let schedule: ScheduleId = parse_id("schedule_id", &path.1)?;
    state.store.delete_schedule(id, schedule).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/schedule-periods", operation_id = "get_schedule_periods", tag = "schedules",
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses((status = 200, description = "The periods, by date (the expert, admin)", body = SchedulePeriods)))]
async fn get_periods(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    Ok(HttpResponse::Ok().json(periods_json(&state.store.schedules(id).await?)))
}

#[utoipa::path(put, path = "/api/v1/experts/{id}/schedule-periods", operation_id = "put_schedule_periods", tag = "schedules",
    request_body = PeriodsBody,
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses(
        (status = 200, description = "Every period replaced atomically; on their dates their schedule applies instead of the default (the expert, admin)", body = SchedulePeriods),
        (status = 422, description = "`invalid_date`, `invalid_period` (to_date before from_date), `overlapping_periods`, `unknown_schedule`, `too_many_rules` (more than 500)", body = ErrorAnswer),
    ))]
async fn put_periods(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<PeriodsBody>>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    let body = body.into_inner();
    if body.periods.len() > MAX_PERIODS {
        return Err(ApiError::invalid(
            "too_many_rules",
            format!("at most {MAX_PERIODS} periods"),
        ));
    }
    let periods = body
        .periods
        .into_iter()
        .map(PeriodBody::into_period)
        .collect::<Result<Vec<_>, _>>()?;
    let set = state.store.replace_periods(id, periods).await?;
    Ok(HttpResponse::Ok().json(periods_json(&set)))
}

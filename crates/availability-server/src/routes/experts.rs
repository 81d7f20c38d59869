//! An expert's profile, availability (weekly rules and overrides), booking policy and integration.

use actix_web::{web, HttpResponse};
use availability_core::CoreError;
use availability_domain::jiff::civil::Date;
use availability_domain::{
    BookingPolicy, DateOverride, DayOfWeek, IntegrationType, LocalTime, Schedule, TimeWindow, VideoPolicy, WeeklyRule,
    Zone,
};
use availability_store::ExpertPatch;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::extract::{Authed, JsonObject};
use super::params::{check_name_and_email, expert_id, parse_instant};
use crate::api_schema::{Availability, BookingPolicy as PolicyAnswer, ErrorAnswer, Expert, Slots};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts/{id}", web::get().to(get_expert))
        .route("/experts/{id}", web::patch().to(patch_expert))
        .route("/experts/{id}/availability", web::get().to(get_availability))
        .route("/experts/{id}/availability", web::put().to(put_availability))
        .route(
            "/experts/{id}/availability/preview",
            web::post().to(preview_availability),
        )
        .route("/experts/{id}/booking-policy", web::get().to(get_policy))
        .route("/experts/{id}/booking-policy", web::put().to(put_policy))
        .route("/experts/{id}/integration", web::put().to(put_integration));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    get_expert,
    patch_expert,
    get_availability,
    put_availability,
    preview_availability,
    get_policy,
    put_policy,
    put_integration
))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/api/v1/experts/{id}", tag = "experts",
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses((status = 200, description = "The expert (anyone authenticated)", body = Expert)))]
async fn get_expert(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let expert = state.store.expert(expert_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(expert))
}

/// The fields to change.
#[derive(Deserialize, ToSchema)]
struct ProfilePatch {
    name: Option<String>,
    email: Option<String>,
    timezone: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/experts/{id}", tag = "experts", request_body = ProfilePatch,
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses(
        (status = 200, description = "The expert (the expert, admin)", body = Expert),
        (status = 422, description = "`invalid_name`, `invalid_email`, `unknown_timezone`", body = ErrorAnswer),
    ))]
async fn patch_expert(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<ProfilePatch>>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    let current = state.store.expert(id).await?;
    caller.require_expert(id)?;
    let body = body.into_inner();
    check_name_and_email(
        body.name.as_deref().unwrap_or(&current.name),
        body.email.as_deref().unwrap_or(&current.email),
    )?;
    let patch = ExpertPatch {
        name: body.name.map(|n| n.trim().to_owned()),
        email: body.email.map(|e| e.trim().to_owned()),
        timezone: body.timezone.as_deref().map(Zone::new).transpose()?,
    };
    Ok(HttpResponse::Ok().json(state.store.update_expert(id, patch).await?))
}

pub(super) fn availability_json(schedule: &Schedule) -> serde_json::Value {
    json!({"timezone": schedule.zone, "rules": schedule.rules, "overrides": schedule.overrides})
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/availability", tag = "experts",
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses((status = 200, description = "Weekly rules and date overrides (the expert, admin)", body = Availability)))]
async fn get_availability(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    Ok(HttpResponse::Ok().json(availability_json(&state.store.schedule(id).await?)))
}

/// The availability as sent: plain JSON types, validated into domain values here so that an
/// out-of-range value is a 422, not a JSON type error.
#[derive(Deserialize, ToSchema)]
pub(super) struct AvailabilityBody {
    rules: Vec<RuleBody>,
    #[serde(default)]
    overrides: Vec<OverrideBody>,
    /// IANA time zone; if given, it becomes the expert's.
    timezone: Option<String>,
}

/// Hours on one day of the week.
#[derive(Deserialize, ToSchema)]
struct RuleBody {
    /// 0 = Sunday ... 6 = Saturday.
    #[schema(example = 1, minimum = 0, maximum = 6)]
    day_of_week: i64,
    /// "HH:MM", 24-hour.
    #[schema(example = "09:00", pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    start_time: String,
    /// "HH:MM", 24-hour; "24:00" only here.
    #[schema(example = "17:00", pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    end_time: String,
    /// false cuts the time out (a break); default true.
    #[serde(default = "yes")]
    is_available: bool,
}

fn yes() -> bool {
    true
}

/// One date's hours instead of the weekly rules (no windows: a day off).
#[derive(Deserialize, ToSchema)]
struct OverrideBody {
    /// YYYY-MM-DD.
    #[schema(example = "2026-12-24", format = Date)]
    date: String,
    #[serde(default)]
    windows: Vec<WindowBody>,
}

/// Local times, "HH:MM".
#[derive(Deserialize, ToSchema)]
struct WindowBody {
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    start_time: String,
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    end_time: String,
}

/// A validated availability body.
pub(super) struct AvailabilityParts {
    pub(super) rules: Vec<WeeklyRule>,
    pub(super) overrides: Vec<DateOverride>,
    /// The zone, when one was sent.
    pub(super) zone: Option<Zone>,
}

impl AvailabilityBody {
    /// Validated domain values: rules, overrides and the zone (if one was sent). Nothing is
    /// stored; "one override per date" is checked here too.
    pub(super) fn into_parts(self) -> Result<AvailabilityParts, ApiError> {
        if self.rules.len() > MAX_RULES || self.overrides.len() > MAX_OVERRIDES {
            return Err(ApiError::invalid(
                "too_many_rules",
                format!("at most {MAX_RULES} rules and {MAX_OVERRIDES} overrides"),
            ));
        }
        let rules = self
            .rules
            .iter()
            .map(|r| {
                let start: LocalTime = r.start_time.parse()?;
                let end: LocalTime = r.end_time.parse()?;
                WeeklyRule::new(DayOfWeek::new(r.day_of_week)?, start, end, r.is_available)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let overrides = self
            .overrides
            .iter()
            .map(|o| {
                let date: Date = o.date.parse().map_err(|_| {
                    ApiError::invalid("invalid_date", format!("{:?} is not a date (YYYY-MM-DD)", o.date))
                })?;
                let windows = o
                    .windows
                    .iter()
                    .map(|w| Ok(TimeWindow::new(w.start_time.parse()?, w.end_time.parse()?)?))
                    .collect::<Result<Vec<_>, ApiError>>()?;
                Ok(DateOverride { date, windows })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let zone = self.timezone.as_deref().map(Zone::new).transpose()?;
        // Validates "one override per date" before anything is written.
        Schedule::new(zone.clone().unwrap_or_else(Zone::utc), rules.clone(), overrides.clone())?;
        Ok(AvailabilityParts { rules, overrides, zone })
    }
}

const MAX_RULES: usize = 500;
const MAX_OVERRIDES: usize = 2000;

#[utoipa::path(put, path = "/api/v1/experts/{id}/availability", tag = "experts", request_body = AvailabilityBody,
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses(
        (status = 200, description = "Replaced atomically (the expert, admin)", body = Availability),
        (status = 422, description = "`invalid_day_of_week`, `invalid_time`, `end_before_start`, `invalid_date`, `duplicate_override`, `unknown_timezone`, `too_many_rules`", body = ErrorAnswer),
    ))]
async fn put_availability(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<AvailabilityBody>>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    let AvailabilityParts { rules, overrides, zone } = body.into_inner().into_parts()?;
    let saved = state.store.replace_schedule(id, rules, overrides, zone).await?;
    Ok(HttpResponse::Ok().json(availability_json(&saved)))
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/booking-policy", operation_id = "get_booking_policy", tag = "experts",
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses((status = 200, description = "The booking policy (anyone authenticated)", body = PolicyAnswer)))]
async fn get_policy(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let expert = state.store.expert(expert_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(expert.booking_policy))
}

/// A booking policy; a missing field takes its default.
#[derive(Deserialize, ToSchema)]
pub(super) struct PolicyBody {
    /// 5-1440, default 30.
    #[schema(example = 30, minimum = 5, maximum = 1440)]
    slot_duration_minutes: Option<i64>,
    /// 5-1440, default the duration.
    #[schema(minimum = 5, maximum = 1440)]
    slot_interval_minutes: Option<i64>,
    /// 0-1440, default 0.
    #[schema(minimum = 0, maximum = 1440)]
    buffer_before_minutes: Option<i64>,
    /// 0-1440, default 0.
    #[schema(minimum = 0, maximum = 1440)]
    buffer_after_minutes: Option<i64>,
    /// 0-525600, default 0.
    #[schema(minimum = 0, maximum = 525600)]
    minimum_notice_minutes: Option<i64>,
    /// 1-730, default 60.
    #[schema(minimum = 1, maximum = 730)]
    booking_horizon_days: Option<i64>,
    /// `none` (default), `provider` or `static`.
    #[schema(value_type = Option<crate::api_schema::Video>)]
    video: Option<String>,
    /// https, required with `static`.
    #[schema(format = "uri")]
    video_url: Option<String>,
    /// 0-52 occurrences a recurring booking may have; 0 (default): recurring bookings are off.
    #[schema(minimum = 0, maximum = 52)]
    max_series_occurrences: Option<i64>,
    /// 1-1000 bookings in one local day of the expert; missing or null: no limit.
    #[schema(minimum = 1, maximum = 1000)]
    max_bookings_per_day: Option<i64>,
    /// 1-1000 bookings from Monday to Sunday; missing or null: no limit.
    #[schema(minimum = 1, maximum = 1000)]
    max_bookings_per_week: Option<i64>,
    /// 1-1000 bookings in one calendar month; missing or null: no limit.
    #[schema(minimum = 1, maximum = 1000)]
    max_bookings_per_month: Option<i64>,
    /// 1-1440 booked minutes in one local day; missing or null: no limit.
    #[schema(minimum = 1, maximum = 1440)]
    max_booked_minutes_per_day: Option<i64>,
}

impl PolicyBody {
    /// The policy; a missing field takes its default (api.md): a missing or null limit is no
    /// limit. `video_url` counts only with `video: "static"`.
    fn into_policy(self) -> Result<BookingPolicy, ApiError> {
        let b = self;
        let duration = b.slot_duration_minutes.unwrap_or(30);
        let video = VideoPolicy::parse(b.video.as_deref(), b.video_url.as_deref())?;
        Ok(BookingPolicy::new(
            duration,
            b.slot_interval_minutes.unwrap_or(duration),
            b.buffer_before_minutes.unwrap_or(0),
            b.buffer_after_minutes.unwrap_or(0),
            b.minimum_notice_minutes.unwrap_or(0),
            b.booking_horizon_days.unwrap_or(60),
        )?
        .with_video(video)
        .with_max_bookings_per_day(b.max_bookings_per_day)?
        .with_max_bookings_per_week(b.max_bookings_per_week)?
        .with_max_bookings_per_month(b.max_bookings_per_month)?
        .with_max_booked_minutes_per_day(b.max_booked_minutes_per_day)?
        .with_max_series_occurrences(b.max_series_occurrences.unwrap_or(0))?)
    }
}

/// The integration types whose calendars make video meetings (capability `video`).
fn video_integrations(state: &AppState) -> Vec<IntegrationType> {
    state
        .providers
        .iter()
        .filter(|p| p.capabilities().video)
        .map(|p| p.descriptor().integration_type)
        .collect()
}

/// The refusal of `video: "provider"` with an integration whose calendar makes no meetings.
fn video_unsupported(state: &AppState, integration: IntegrationType, what: &str) -> ApiError {
    let name = state.providers.display_name(integration);
    let makers: Vec<String> = video_integrations(state)
        .into_iter()
        .map(|t| state.providers.display_name(t))
        .collect();
    let makers = if makers.is_empty() {
        "no calendar on this server makes them".to_owned()
    } else {
        format!("calendars that make them: {}", makers.join(", "))
    };
    CoreError::VideoUnsupported(format!(
        "{name} cannot make video meetings, so {what} (booking policy video \"provider\"; {makers}); \
         use video \"static\" with your own room, or \"none\""
    ))
    .into()
}

#[utoipa::path(put, path = "/api/v1/experts/{id}/booking-policy", operation_id = "put_booking_policy", tag = "experts", request_body = PolicyBody,
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses(
        (status = 200, description = "The policy, replaced (the expert, admin)", body = PolicyAnswer),
        (status = 422, description = "`out_of_range`, `invalid_video`, `video_unsupported`", body = ErrorAnswer),
    ))]
async fn put_policy(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<PolicyBody>>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    let policy = body.into_inner().into_policy()?;
    // The integration is checked by the write itself, so a switch at the same moment cannot
    // slip between the check and the write.
    match state
        .store
        .set_booking_policy_with_video(id, policy, video_integrations(&state))
        .await?
    {
        Some(expert) => Ok(HttpResponse::Ok().json(expert.booking_policy)),
        None => {
            let current = state.store.expert(id).await?;
            Err(video_unsupported(
                &state,
                current.integration_type,
                "it cannot be asked for them",
            ))
        }
    }
}

/// The integration whose availability applies.
#[derive(Deserialize, ToSchema)]
struct IntegrationBody {
    /// A registered provider's `integration_type` (GET /api/v1/providers).
    #[schema(example = "manual")]
    integration_type: String,
}

#[utoipa::path(put, path = "/api/v1/experts/{id}/integration", operation_id = "choose_integration", tag = "experts", request_body = IntegrationBody,
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses(
        (status = 200, description = "The expert (the expert, admin)", body = Expert),
        (status = 422, description = "`unknown_integration`, `integration_not_connected`, `integration_unavailable`, `video_unsupported`", body = ErrorAnswer),
    ))]
async fn put_integration(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<IntegrationBody>>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    // A type no provider has is refused here (422: it is a body), like a provider that needs
    // connecting and is not connected, or cannot run on this server.
    let provider = state.providers.find(&body.integration_type).map_err(|_| {
        ApiError::invalid(
            "unknown_integration",
            format!(
                "no provider named {:?} is registered on this server (GET /api/v1/providers lists them)",
                body.integration_type.chars().take(64).collect::<String>()
            ),
        )
    })?;
    let integration = provider.descriptor().integration_type;
    if provider.descriptor().connect != availability_core::ConnectMethod::None {
        super::integrations::require_connected(&state, provider.as_ref(), id).await?;
    }
    if provider.strategy().is_none() {
        let why = provider
            .unavailable_reason()
            .unwrap_or_else(|| format!("{} cannot be used on this server", provider.descriptor().display_name));
        return Err(ApiError::invalid("integration_unavailable", why));
    }
    // Checked by the write itself: a policy asking the calendar for meetings refuses a switch
    // to one that makes none, and nothing changes.
    let makes_video = provider.capabilities().video;
    match state.store.switch_integration(id, integration, makes_video).await? {
        Some(expert) => {
            state.push_wake.notify_one();
            Ok(HttpResponse::Ok().json(expert))
        }
        None => Err(video_unsupported(
            &state,
            integration,
            "the booking policy's video meetings would stop; change the policy's video first",
        )),
    }
}

/// POST .../availability/preview: the PUT availability body, an optional `booking_policy` and a
/// window (`from`, `to`). The slots the expert would have with these unsaved settings, from the
/// same engine and calendar as GET slots; nothing is stored. The manage page's live preview.
#[derive(Deserialize, ToSchema)]
struct PreviewBody {
    #[serde(flatten)]
    availability: AvailabilityBody,
    booking_policy: Option<PolicyBody>,
    /// RFC 3339.
    #[schema(format = DateTime, example = "2026-03-02T00:00:00Z")]
    from: String,
    /// RFC 3339, at most 93 days after from.
    #[schema(format = DateTime, example = "2026-03-09T00:00:00Z")]
    to: String,
}

#[utoipa::path(post, path = "/api/v1/experts/{id}/availability/preview", tag = "experts", request_body = PreviewBody,
    params(("id" = Uuid, Path, description = "The expert's id")),
    responses(
        (status = 200, description = "The slots the expert would have with these unsaved settings; nothing is stored (the expert, admin)", body = Slots),
        (status = 422, description = "The codes of PUT availability, PUT booking-policy and GET slots", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
async fn preview_availability(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<PreviewBody>>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    let expert = state.store.expert(id).await?;
    caller.require_expert(id)?;
    let body = body.into_inner();
    let from = parse_instant("from", &body.from)?;
    let to = parse_instant("to", &body.to)?;
    let AvailabilityParts { rules, overrides, zone } = body.availability.into_parts()?;
    let policy = match body.booking_policy {
        Some(p) => p.into_policy()?,
        None => expert.booking_policy,
    };
    let schedule = Schedule::new(zone.unwrap_or(expert.timezone), rules, overrides)?;
    let policy_duration = i64::from(policy.slot_duration_minutes());
    let slots = state.service.preview_slots(id, schedule, policy, from, to).await?;
    // A scheduler's slots have its own length (its event type's), as in GET slots.
    let duration = slots.first().map_or(policy_duration, |s| (s.end - s.start).as_mins());
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(super::slots::slots_json(id, duration, None, &slots)))
}

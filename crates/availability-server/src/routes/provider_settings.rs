//! What an expert chooses inside a connected provider: Google calendars (which block time, which
//! receives appointments) and the Calendly event type. The manage page's panels use these.

use actix_web::{web, HttpResponse};
use availability_domain::{ExpertId, IntegrationType, Secret};
use serde::Deserialize;
use serde_json::json;

use super::experts::expert_id;
use super::extract::{Authed, JsonObject};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/experts/{id}/integrations/google_calendar/calendars")
            .route(web::get().to(google_calendars))
            .route(web::put().to(choose_google_calendars)),
    )
    .route(
        "/experts/{id}/integrations/office365_calendar/working_hours",
        web::get().to(outlook_working_hours),
    )
    .service(
        web::resource("/experts/{id}/integrations/calendly/event_types")
            .route(web::get().to(connected_event_types))
            .route(web::post().to(event_types_for_token)),
    );
}

async fn owned_expert(caller: &Caller, state: &AppState, path: &str) -> Result<ExpertId, ApiError> {
    let id = expert_id(path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    Ok(id)
}

/// 422 `integration_not_connected` unless the expert has connected `integration`.
async fn require_connected(state: &AppState, id: ExpertId, integration: IntegrationType) -> Result<(), ApiError> {
    let connected = state
        .store
        .integrations(id)
        .await?
        .iter()
        .any(|r| r.integration == integration);
    if connected {
        return Ok(());
    }
    Err(ApiError::invalid(
        "integration_not_connected",
        format!("{} is not connected: connect it first", integration.display_name()),
    ))
}

fn google(state: &AppState) -> Result<&provider_google::GoogleCalendarStrategy, ApiError> {
    state.google.as_deref().ok_or_else(|| {
        ApiError::invalid(
            "integration_unavailable",
            "Google Calendar is not set up on this server (its OAuth client id and secret are not configured)",
        )
    })
}

/// GET .../google_calendar/calendars -> {calendars:[{id, summary, primary, access_role,
/// time_zone, blocks_time, receives_events}]}
async fn google_calendars(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    let calendars = google(&state)?.calendars(id).await?;
    Ok(HttpResponse::Ok().json(json!({ "calendars": calendars })))
}

#[derive(Deserialize)]
struct CalendarChoice {
    busy_calendar_ids: Vec<String>,
    event_calendar_id: String,
}

/// PUT .../google_calendar/calendars {busy_calendar_ids, event_calendar_id} -> the list again.
async fn choose_google_calendars(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<CalendarChoice>>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    let choice = body.into_inner();
    let google = google(&state)?;
    google
        .set_calendars(id, choice.busy_calendar_ids, choice.event_calendar_id)
        .await?;
    // Other calendars block time from now on: cached busy time is stale.
    state.service.invalidate_busy_time(id);
    let calendars = google.calendars(id).await?;
    Ok(HttpResponse::Ok().json(json!({ "calendars": calendars })))
}

/// GET .../office365_calendar/working_hours: Outlook's working hours of the expert's mailbox, in
/// the shape of GET availability (zone, rules; the stored overrides when in the same zone), for
/// the expert to review and save as their hours. Nothing is stored: bookings are validated against
/// the stored hours, so Outlook's become the expert's only when saved. 422
/// `working_hours_unavailable` where Microsoft reports none (personal accounts).
async fn outlook_working_hours(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    let office365 = state.office365.as_deref().ok_or_else(|| {
        ApiError::invalid(
            "integration_unavailable",
            "Office 365 is not set up on this server (its OAuth client id and secret are not configured)",
        )
    })?;
    require_connected(&state, id, IntegrationType::Office365Calendar).await?;
    let expert = state.store.expert(id).await?;
    let typed = state.store.schedule(id).await?;
    match office365.outlook_working_hours(&expert, &typed).await? {
        Some(schedule) => Ok(HttpResponse::Ok().json(super::experts::availability_json(&schedule))),
        None => Err(ApiError::invalid(
            "working_hours_unavailable",
            "Microsoft reports no working hours for this mailbox (personal Outlook accounts have none)",
        )),
    }
}

fn event_types_json(types: Vec<provider_calendly::EventType>) -> serde_json::Value {
    let types: Vec<_> = types
        .into_iter()
        .filter(|t| t.active)
        .map(|t| {
            json!({
                "uri": t.uri,
                "name": t.name,
                "duration_minutes": t.duration_minutes,
                "scheduling_url": t.scheduling_url,
            })
        })
        .collect();
    json!({ "event_types": types })
}

/// GET .../calendly/event_types: the connected account's active event types.
async fn connected_event_types(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = owned_expert(&caller, &state, &path).await?;
    require_connected(&state, id, IntegrationType::Calendly).await?;
    let types = state.calendly.expert_event_types(id).await?;
    Ok(HttpResponse::Ok().json(event_types_json(types)))
}

#[derive(Deserialize)]
struct TokenBody {
    personal_access_token: String,
}

/// POST .../calendly/event_types {personal_access_token}: checks the token and lists its user's
/// active event types, so the expert can pick one before connecting. Nothing is stored.
async fn event_types_for_token(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, body): Authed<JsonObject<TokenBody>>,
) -> Result<HttpResponse, ApiError> {
    owned_expert(&caller, &state, &path).await?;
    let token = Secret::new(body.into_inner().personal_access_token.trim().to_owned());
    if token.expose().is_empty() {
        return Err(ApiError::invalid("invalid_token", "personal_access_token is empty"));
    }
    let account = state
        .calendly
        .check_personal_access_token(&token)
        .await
        .map_err(crate::webhooks::connect_error)?;
    let types = state
        .calendly
        .event_types(&token, &account.user_uri)
        .await
        .map_err(crate::webhooks::connect_error)?;
    Ok(HttpResponse::Ok().json(event_types_json(types)))
}

//! GET .../slots: the bookable slots of an expert, per slot-semantics.md.

use actix_web::{web, HttpResponse};
use availability_domain::ExpertId;
use availability_domain::Zone;
use serde::{Deserialize, Serialize};

use super::experts::expert_id;
use super::extract::Authed;
use super::{format_instant, parse_instant};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts/{id}/slots", web::get().to(get_slots));
}

#[derive(Deserialize)]
struct SlotParams {
    from: String,
    to: String,
    duration_minutes: Option<i64>,
    timezone: Option<String>,
}

#[derive(Serialize)]
struct SlotOut {
    start: String,
    end: String,
}

#[derive(Serialize)]
struct SlotsOut<'a> {
    expert_id: ExpertId,
    duration_minutes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<&'a str>,
    slots: Vec<SlotOut>,
}

async fn get_slots(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(_caller, params): Authed<web::Query<SlotParams>>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    let from = parse_instant("from", &params.from)?;
    let to = parse_instant("to", &params.to)?;
    let zone = params.timezone.as_deref().map(Zone::new).transpose()?;
    let slots = state.service.slots(id, from, to, params.duration_minutes).await?;
    let duration = match slots.first() {
        Some(s) => (s.end - s.start).as_mins(),
        None => match params.duration_minutes {
            Some(d) => d,
            None => i64::from(state.store.expert(id).await?.booking_policy.slot_duration_minutes()),
        },
    };
    let slots: Vec<SlotOut> = slots
        .iter()
        .map(|s| SlotOut {
            start: format_instant(s.start, zone.as_ref()),
            end: format_instant(s.end, zone.as_ref()),
        })
        .collect();
    let body = SlotsOut {
        expert_id: id,
        duration_minutes: duration,
        timezone: zone.as_ref().map(|z| z.name()),
        slots,
    };
    Ok(HttpResponse::Ok().json(body))
}

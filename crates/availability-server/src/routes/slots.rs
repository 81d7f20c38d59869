//! GET .../slots: the bookable slots of an expert, per slot-semantics.md; GET
//! .../availability/explain: every reason a time is not one of them.

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use availability_domain::Zone;
use availability_domain::{ExpertId, Slot};
use availability_store::Store;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::Authed;
use super::params::{expert_id, parse_instant, write_instant};
use crate::api_schema::{ErrorAnswer, Explanation, Slots};
use crate::auth::caller_and_version;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts/{id}/slots", web::get().to(get_slots));
    cfg.route("/experts/{id}/availability/explain", web::get().to(get_explain));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_slots, get_explain))]
pub(super) struct Doc;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SlotParams {
    /// RFC 3339.
    #[param(format = DateTime, example = "2026-03-02T00:00:00Z")]
    from: String,
    /// RFC 3339, after from and at most 93 days later.
    #[param(format = DateTime, example = "2026-03-09T00:00:00Z")]
    to: String,
    /// 5-1440; replaces the policy's duration.
    #[param(minimum = 5, maximum = 1440)]
    duration_minutes: Option<i64>,
    /// IANA time zone to write the times in (the same instants).
    #[param(example = "Europe/Berlin")]
    timezone: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/slots", operation_id = "get_slots", tag = "slots",
    params(("id" = Uuid, Path, description = "The expert's id"), SlotParams),
    responses(
        (status = 200, description = "The bookable slots (anyone authenticated)", body = Slots),
        (status = 422, description = "`invalid_window`, `window_too_long`, `out_of_range` (duration_minutes), `unknown_timezone`, `duration_not_offered`", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
async fn get_slots(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, actix_web::Error> {
    // The token and the calendar version in one statement; then, as `Authed` does, the query
    // only once the caller is known (401 before 400).
    let (_caller, version) = caller_and_version(&req, &state, expert_id(&path).ok()).await?;
    let params = web::Query::<SlotParams>::extract(&req).await?;
    Ok(slots_answer(&state, &path, &params, version).await?)
}

/// GET slots once the caller is known, with the calendar version read with the token (if any).
async fn slots_answer(
    state: &AppState,
    path: &str,
    params: &SlotParams,
    version: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(path)?;
    let from = parse_instant("from", &params.from)?;
    let to = parse_instant("to", &params.to)?;
    let zone = params.timezone.as_deref().map(Zone::new).transpose()?;
    let computing = state.service.slots(id, from, to, params.duration_minutes);
    let slots = match version {
        Some(version) => Store::with_calendar_version(id, version, computing).await,
        None => computing.await,
    }?;
    let duration = match slots.first() {
        Some(s) => (s.end - s.start).as_mins(),
        None => match params.duration_minutes {
            Some(d) => d,
            None => i64::from(state.store.expert(id).await?.booking_policy.slot_duration_minutes()),
        },
    };
    let body = slots_json(id, duration, zone.as_ref(), &slots);
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExplainParams {
    /// RFC 3339.
    #[param(format = DateTime, example = "2026-03-02T09:00:00Z")]
    start: String,
    /// RFC 3339; default start + the policy's slot duration.
    #[param(format = DateTime)]
    end: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/availability/explain", operation_id = "explain_availability", tag = "slots",
    params(("id" = Uuid, Path, description = "The expert's id"), ExplainParams),
    responses(
        (status = 200, description = "Every reason [start, end) is not a slot (the expert, admin)", body = Explanation),
        (status = 422, description = "`end_before_start`, `out_of_range` (longer than a day), `unsupported`", body = ErrorAnswer),
        (status = 502, description = "`provider_error`", body = ErrorAnswer),
        (status = 503, description = "`provider_unavailable`, `needs_reauth`, `database_unavailable`", body = ErrorAnswer),
    ))]
/// GET .../availability/explain?start=&end= (the expert and admins): {bookable, reasons}, from the
/// same engine and inputs as the slots, so it says exactly why a time is not shown.
async fn get_explain(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Authed(caller, params): Authed<web::Query<ExplainParams>>,
) -> Result<HttpResponse, ApiError> {
    let id = expert_id(&path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    let start = parse_instant("start", &params.start)?;
    let end = params.end.as_deref().map(|e| parse_instant("end", e)).transpose()?;
    let explanation = state.service.explain(id, start, end).await?;
    Ok(HttpResponse::Ok().json(explanation))
}

/// The answer's JSON, written straight into one buffer: this is the busiest route, and a slot list
/// is hundreds of timestamps that would otherwise each be a String, then escaped by serde. The
/// shape is exactly `{expert_id, duration_minutes, timezone?, slots:[{start,end}]}`.
pub(super) fn slots_json(expert: ExpertId, duration_minutes: i64, zone: Option<&Zone>, slots: &[Slot]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(96 + slots.len() * 56);
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"expert_id\":\"{expert}\",\"duration_minutes\":{duration_minutes},"
    );
    if let Some(z) = zone {
        // A zone name is JSON-escaped like any other string.
        let _ = write!(out, "\"timezone\":{},", serde_json::Value::from(z.name()));
    }
    out.extend_from_slice(b"\"slots\":[");
    let mut utc = crate::rfc3339::UtcWriter::default();
    let mut local = String::new();
    let mut instant = |out: &mut Vec<u8>, t| match zone {
        None => utc.write(out, t),
        Some(_) => {
            local.clear();
            write_instant(&mut local, t, zone);
            out.extend_from_slice(local.as_bytes());
        }
    };
    for (i, s) in slots.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"start\":\"");
        instant(&mut out, s.start);
        out.extend_from_slice(b"\",\"end\":\"");
        instant(&mut out, s.end);
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_domain::jiff::Timestamp;

    fn slot(start: &str, end: &str) -> Slot {
        Slot {
            start: start.parse::<Timestamp>().unwrap(),
            end: end.parse::<Timestamp>().unwrap(),
        }
    }

    #[test]
    fn the_hand_written_json_is_the_contract_shape() {
        let id = ExpertId::new();
        let slots = [
            slot("2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z"),
            slot("2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"),
        ];
        let utc: serde_json::Value = serde_json::from_slice(&slots_json(id, 30, None, &slots)).unwrap();
        assert_eq!(
            utc,
            serde_json::json!({"expert_id": id.to_string(), "duration_minutes": 30, "slots": [
                {"start": "2026-03-29T00:30:00Z", "end": "2026-03-29T01:00:00Z"},
                {"start": "2026-03-29T01:00:00Z", "end": "2026-03-29T01:30:00Z"},
            ]})
        );
        // Across Berlin's spring-forward: the offset changes between the two slots.
        let berlin = Zone::new("Europe/Berlin").unwrap();
        let local: serde_json::Value = serde_json::from_slice(&slots_json(id, 30, Some(&berlin), &slots)).unwrap();
        assert_eq!(local["timezone"], "Europe/Berlin");
        assert_eq!(local["slots"][0]["start"], "2026-03-29T01:30:00+01:00");
        assert_eq!(local["slots"][1]["start"], "2026-03-29T03:00:00+02:00");
        let empty: serde_json::Value = serde_json::from_slice(&slots_json(id, 15, None, &[])).unwrap();
        assert_eq!(empty["slots"], serde_json::json!([]));
    }
}

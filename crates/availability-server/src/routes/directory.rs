//! The marketplace's directory: GET /api/v1/experts (every expert by name, or those with a slot
//! in a window ordered by their next slot) and GET /api/v1/availability/search (who is free for
//! exactly this time). The experts are asked together through the service's slot path (the same
//! engine and busy-time cache as GET slots; one query checks every calendar version); an expert
//! whose calendar cannot be asked is listed under `unavailable`, never failing the whole answer.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use availability_core::{check_directory_question, DirectoryAnswer, FreeTime, Listed};
use availability_domain::jiff::Timestamp;
use availability_domain::{ExpertId, Interval};
use availability_store::{DirectoryEntry, DirectoryRow, ExpertCursor};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Authed;
use super::params::{parse_instant, write_instant};
use crate::api_schema::ErrorAnswer;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experts", web::get().to(list_experts))
        .route("/availability/search", web::get().to(search));
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_experts, search))]
pub(super) struct Doc;

/// A page's default and largest size.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;
/// The most experts one windowed question reads (a marketplace's whole directory).
const MAX_SCANNED: i64 = 20_000;
/// The longest name search.
const MAX_QUERY_CHARS: usize = 200;

/// GET /api/v1/experts's query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DirectoryParams {
    /// Part of the name, case-insensitively (at most 200 characters).
    q: Option<String>,
    /// RFC 3339; with available_to: only experts with a slot in the window, by next slot.
    #[param(format = DateTime, example = "2026-03-02T00:00:00Z")]
    available_from: Option<String>,
    /// RFC 3339, after available_from.
    #[param(format = DateTime, example = "2026-03-09T00:00:00Z")]
    available_to: Option<String>,
    /// 5-1440 (with a window); replaces each expert's policy duration.
    #[param(minimum = 5, maximum = 1440)]
    duration_minutes: Option<i64>,
    /// 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// GET /api/v1/availability/search's query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// RFC 3339.
    #[param(format = DateTime, example = "2026-03-02T09:00:00Z")]
    start: String,
    /// RFC 3339: whole minutes after start, 5-1440 of them.
    #[param(format = DateTime, example = "2026-03-02T10:00:00Z")]
    end: String,
    /// Part of the name, case-insensitively.
    q: Option<String>,
}

/// An expert as the directory shows them (no email address).
#[derive(Serialize, ToSchema)]
struct ListedExpert {
    #[schema(value_type = uuid::Uuid)]
    id: ExpertId,
    name: String,
    timezone: String,
    /// With a window: the first slot in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_slot: Option<SlotJson>,
    /// With a window: how many slots it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    slot_count: Option<usize>,
}

#[derive(Serialize, ToSchema)]
struct SlotJson {
    #[schema(format = DateTime)]
    start: String,
    #[schema(format = DateTime)]
    end: String,
}

/// An expert left out because their calendar could not be asked.
#[derive(Serialize, ToSchema)]
struct Unavailable {
    #[schema(value_type = uuid::Uuid)]
    expert_id: ExpertId,
    name: String,
    code: &'static str,
    reason: String,
}

/// GET /api/v1/experts's answer.
#[derive(Serialize, ToSchema)]
struct DirectoryPage {
    experts: Vec<ListedExpert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<Vec<Unavailable>>,
    next_cursor: Option<String>,
}

/// GET /api/v1/availability/search's answer.
#[derive(Serialize, ToSchema)]
struct SearchAnswer {
    #[schema(format = DateTime)]
    start: String,
    #[schema(format = DateTime)]
    end: String,
    experts: Vec<ListedExpert>,
    unavailable: Vec<Unavailable>,
}

fn utc(t: Timestamp) -> String {
    let mut out = String::with_capacity(20);
    write_instant(&mut out, t, None);
    out
}

fn listed(expert: &DirectoryEntry, free: Option<FreeTime>) -> ListedExpert {
    ListedExpert {
        id: expert.id,
        name: expert.name.clone(),
        timezone: expert.timezone.clone(),
        next_slot: free.map(|f| SlotJson {
            start: utc(f.next_slot.start),
            end: utc(f.next_slot.end),
        }),
        slot_count: free.map(|f| f.slot_count),
    }
}

fn unavailable(state: &AppState, expert: &DirectoryEntry, error: availability_core::CoreError) -> Unavailable {
    let answer = ApiError::from(error).naming(&state.providers.display_name(expert.integration_type));
    Unavailable {
        expert_id: expert.id,
        name: expert.name.clone(),
        code: answer.code,
        reason: answer.message,
    }
}

/// Where the next page begins. Opaque to callers: base64url of "n|id|name" (by name) or
/// "w|unix seconds|id" (by next slot).
#[derive(Debug, PartialEq, Eq)]
enum Cursor {
    ByName(ExpertCursor),
    BySlot(Timestamp, ExpertId),
}

impl Cursor {
    fn encode(&self) -> String {
        let raw = match self {
            Cursor::ByName(c) => format!("n|{}|{}", c.id, c.name),
            Cursor::BySlot(t, id) => format!("w|{}|{id}", t.as_second()),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn decode(text: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request("invalid_parameter", "cursor is not one this server gave");
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
        let raw = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = raw.splitn(3, '|');
        let (kind, first, rest) = (parts.next(), parts.next(), parts.next());
        match (kind, first, rest) {
            (Some("n"), Some(id), Some(name)) => Ok(Cursor::ByName(ExpertCursor {
                name: name.to_owned(),
                id: id.parse().map_err(|_| bad())?,
            })),
            (Some("w"), Some(seconds), Some(id)) => {
                let seconds: i64 = seconds.parse().map_err(|_| bad())?;
                let t = Timestamp::from_second(seconds).map_err(|_| bad())?;
                Ok(Cursor::BySlot(t, id.parse().map_err(|_| bad())?))
            }
            _ => Err(bad()),
        }
    }
}

fn name_query(q: Option<&str>) -> Result<Option<String>, ApiError> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("q must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    Ok(q.map(str::to_owned))
}

/// Every expert whose name matches, by name, up to [`MAX_SCANNED`] (in the order of the index on
/// name and id). The whole directory comes with each expert's calendar version (kept in the
/// process row by row while it is unchanged), so the service answers the experts whose slots it
/// keeps at that version without asking again.
async fn all_matching(state: &AppState, q: Option<String>) -> Result<Arc<Vec<DirectoryRow>>, ApiError> {
    if q.is_none() {
        return Ok(state.store.whole_directory(MAX_SCANNED).await?);
    }
    let entries = state.store.directory(q, None, MAX_SCANNED).await?;
    Ok(Arc::new(
        entries
            .into_iter()
            .map(|entry| DirectoryRow {
                entry,
                calendar_version: None,
            })
            .collect(),
    ))
}

fn listed_versions(experts: &[DirectoryRow]) -> Vec<Listed> {
    experts.iter().map(|e| (e.entry.id, e.calendar_version)).collect()
}

#[utoipa::path(get, path = "/api/v1/experts", operation_id = "list_experts", tag = "directory", params(DirectoryParams),
    responses(
        (status = 200, description = "Experts by name, or (with a window) those with a slot in it by next slot; `unavailable` lists those whose calendar could not be asked (anyone authenticated)", body = DirectoryPage),
        (status = 400, description = "`invalid_parameter` (a time, limit or cursor; one window bound without the other)", body = ErrorAnswer),
        (status = 422, description = "`invalid_window`, `window_too_long`, `out_of_range` (duration_minutes)", body = ErrorAnswer),
    ))]
async fn list_experts(
    state: web::Data<AppState>,
    Authed(_caller, params): Authed<web::Query<DirectoryParams>>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("limit must be 1-{MAX_LIMIT}, got {limit}"),
        ));
    }
    let q = name_query(params.q.as_deref())?;
    let cursor = params.cursor.as_deref().map(Cursor::decode).transpose()?;
    let window = match (&params.available_from, &params.available_to) {
        (Some(from), Some(to)) => Some((
            parse_instant("available_from", from)?,
            parse_instant("available_to", to)?,
        )),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                "available_from and available_to go together",
            ))
        }
    };
    let Some((from, to)) = window else {
        if params.duration_minutes.is_some() {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                "duration_minutes needs available_from and available_to",
            ));
        }
        let after = match cursor {
            None => None,
            Some(Cursor::ByName(c)) => Some(c),
            Some(Cursor::BySlot(..)) => {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    "this cursor is of a list with an availability window",
                ))
            }
        };
        let mut page = state.store.directory(q, after, limit + 1).await?;
        let more = page.len() as i64 > limit;
        page.truncate(limit as usize);
        let next_cursor = more.then(|| page.last()).flatten().map(|e| {
            Cursor::ByName(ExpertCursor {
                name: e.name.clone(),
                id: e.id,
            })
            .encode()
        });
        return Ok(HttpResponse::Ok().json(DirectoryPage {
            experts: page.iter().map(|e| listed(e, None)).collect(),
            unavailable: None,
            next_cursor,
        }));
    };
    check_directory_question(from, to, params.duration_minutes)?;
    let after = match cursor {
        None => None,
        Some(Cursor::BySlot(t, id)) => Some((t, id)),
        Some(Cursor::ByName(_)) => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                "this cursor is of a list without an availability window",
            ))
        }
    };
    let experts = all_matching(&state, q).await?;
    let answers = state
        .service
        .next_free_many(&listed_versions(&experts), from, to, params.duration_minutes)
        .await?;
    let mut free: Vec<(&DirectoryEntry, FreeTime)> = Vec::new();
    let mut left_out = Vec::new();
    for (expert, answer) in experts.iter().map(|e| &e.entry).zip(answers) {
        match answer {
            DirectoryAnswer::Answered(Some(f)) => free.push((expert, f)),
            DirectoryAnswer::Answered(None) => {}
            DirectoryAnswer::Unavailable(e) => left_out.push(unavailable(&state, expert, e)),
        }
    }
    // By next slot, then id: a total order, so the cursor never skips nor repeats an expert.
    free.sort_by_key(|(e, f)| (f.next_slot.start, e.id.to_string()));
    let after_cursor = |(e, f): &&(&DirectoryEntry, FreeTime)| match &after {
        None => true,
        Some((t, id)) => (f.next_slot.start, e.id.to_string()) > (*t, id.to_string()),
    };
    let rest: Vec<&(&DirectoryEntry, FreeTime)> = free.iter().filter(after_cursor).collect();
    let more = rest.len() as i64 > limit;
    let page: Vec<&(&DirectoryEntry, FreeTime)> = rest.into_iter().take(limit as usize).collect();
    let next_cursor = more
        .then(|| page.last())
        .flatten()
        .map(|(e, f)| Cursor::BySlot(f.next_slot.start, e.id).encode());
    Ok(HttpResponse::Ok().json(DirectoryPage {
        experts: page.iter().map(|(e, f)| listed(e, Some(*f))).collect(),
        unavailable: Some(left_out),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/availability/search", operation_id = "search_availability", tag = "directory", params(SearchParams),
    responses(
        (status = 200, description = "The experts free for exactly [start, end) (anyone authenticated)", body = SearchAnswer),
        (status = 400, description = "`invalid_parameter`", body = ErrorAnswer),
        (status = 422, description = "`end_before_start`, `invalid_length`, `out_of_range`", body = ErrorAnswer),
    ))]
async fn search(
    state: web::Data<AppState>,
    Authed(_caller, params): Authed<web::Query<SearchParams>>,
) -> Result<HttpResponse, ApiError> {
    let start = parse_instant("start", &params.start)?;
    let end = parse_instant("end", &params.end)?;
    let time =
        Interval::new(start, end).map_err(|_| ApiError::invalid("end_before_start", "end must be after start"))?;
    if time.seconds() % 60 != 0 {
        return Err(ApiError::invalid(
            "invalid_length",
            "the time must be whole minutes long (5 to 1440)",
        ));
    }
    check_directory_question(start, end, Some(time.seconds() / 60))?;
    let q = name_query(params.q.as_deref())?;
    let experts = all_matching(&state, q).await?;
    let answers = state.service.is_free_many(&listed_versions(&experts), time).await?;
    let mut free = Vec::new();
    let mut left_out = Vec::new();
    for (expert, answer) in experts.iter().map(|e| &e.entry).zip(answers) {
        match answer {
            DirectoryAnswer::Answered(true) => free.push(listed(expert, None)),
            DirectoryAnswer::Answered(false) => {}
            DirectoryAnswer::Unavailable(e) => left_out.push(unavailable(&state, expert, e)),
        }
    }
    Ok(HttpResponse::Ok().json(SearchAnswer {
        start: utc(start),
        end: utc(end),
        experts: free,
        unavailable: left_out,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_what_they_wrote_and_refuse_the_rest() {
        let id = ExpertId::new();
        let by_name = Cursor::ByName(ExpertCursor {
            name: "Dr. A|B".into(),
            id,
        });
        assert_eq!(Cursor::decode(&by_name.encode()).unwrap(), by_name);
        let by_slot = Cursor::BySlot(Timestamp::from_second(1_800_000_000).unwrap(), id);
        assert_eq!(Cursor::decode(&by_slot.encode()).unwrap(), by_slot);
        let wrong_time = URL_SAFE_NO_PAD.encode("w|x|y");
        let wrong_id = URL_SAFE_NO_PAD.encode("n|nope|A");
        for bad in ["", "!!!", "eA", wrong_time.as_str(), wrong_id.as_str()] {
            assert_eq!(Cursor::decode(bad).unwrap_err().code, "invalid_parameter", "{bad:?}");
        }
    }
}

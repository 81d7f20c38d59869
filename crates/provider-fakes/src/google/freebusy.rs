//! POST /freeBusy: the busy periods of each requested calendar, merged and clipped to the window.

use actix_web::HttpResponse;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

use super::events::{blocks_time, event_span, Calendars};
use super::GoogleError;
use crate::time;

/// Not documented exactly ("about 90 days"): the fake refuses windows longer than 90 days.
pub(crate) const MAX_RANGE: SignedDuration = SignedDuration::from_hours(90 * 24);

/// Google refuses more calendars than this in one query.
const MAX_ITEMS: usize = 50;

pub(crate) fn query(calendars: &Calendars, body: &[u8]) -> Result<HttpResponse, GoogleError> {
    let request =
        crate::harness::json_object(body).ok_or_else(|| GoogleError::new(400, "parseError", "Parse Error"))?;
    let bound = |name: &'static str| -> Result<Timestamp, GoogleError> {
        let value = request
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| GoogleError::new(400, "required", format!("Missing {name}.")))?;
        time::parse_instant(value).ok_or_else(|| GoogleError::new(400, "invalid", format!("Invalid value for: {name}")))
    };
    let (time_min, time_max) = (bound("timeMin")?, bound("timeMax")?);
    if time_max <= time_min {
        return Err(
            GoogleError::new(400, "timeRangeEmpty", "The specified time range is empty.").in_domain("calendar"),
        );
    }
    if time_max.duration_since(time_min) > MAX_RANGE {
        return Err(
            GoogleError::new(400, "timeRangeTooLong", "The requested time range is too long.").in_domain("calendar"),
        );
    }
    let response_tz = match request.get("timeZone").and_then(Value::as_str) {
        None => TimeZone::UTC,
        Some(name) => TimeZone::get(name).map_err(|_| GoogleError::new(400, "invalid", "Invalid Value"))?,
    };
    let items = request
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.len() > MAX_ITEMS {
        return Err(GoogleError::new(
            400,
            "tooManyCalendarsRequested",
            "The number of calendars requested is too large.",
        )
        .in_domain("calendar"));
    }
    let mut result = Map::new();
    for item in items {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            continue;
        };
        // One unknown calendar does not fail the request: it carries its own error.
        let entry = match calendars.find(id) {
            None => json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}),
            Some(calendar) => {
                let tz = TimeZone::get(&calendar.time_zone).unwrap_or(TimeZone::UTC);
                let busy: Vec<Value> = merged_busy(calendars.events_of(calendar), &tz, time_min, time_max)
                    .into_iter()
                    .map(|(s, e)| json!({"start": time::google(s, &response_tz), "end": time::google(e, &response_tz)}))
                    .collect();
                json!({"busy": busy})
            }
        };
        result.insert(id.to_owned(), entry);
    }
    Ok(HttpResponse::Ok().json(json!({
        "kind": "calendar#freeBusy",
        "timeMin": time::google_millis(time_min),
        "timeMax": time::google_millis(time_max),
        "calendars": result,
    })))
}

/// Busy periods of the blocking events, clipped to [min, max), sorted and merged.
fn merged_busy<'a>(
    events: impl Iterator<Item = &'a Map<String, Value>>,
    tz: &TimeZone,
    min: Timestamp,
    max: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let mut spans: Vec<(Timestamp, Timestamp)> = events
        .filter(|e| blocks_time(e))
        .filter_map(|e| event_span(e, tz))
        .filter(|(start, end)| *start < max && *end > min)
        .map(|(start, end)| (start.max(min), end.min(max)))
        .collect();
    spans.sort();
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

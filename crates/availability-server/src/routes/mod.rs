//! The v1 routes of api.md, and the extractor settings that give actix's own errors (bad JSON,
//! bad query, unknown route) the contract's JSON shape.

mod admin;
mod appointments;
mod experts;
mod extract;
mod health;
mod integrations;
mod provider_settings;

pub(crate) use experts::expert_id;
pub(crate) use integrations::integration_from_path;
mod slots;

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::{web, HttpRequest, HttpResponse};
use availability_domain::jiff::Timestamp;
use availability_domain::Zone;

use crate::error::ApiError;

/// Registers every route and the JSON error handlers.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(256 * 1024).error_handler(json_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::bad_request("invalid_parameter", format!("invalid path: {e}")).into()),
        )
        // actix tries resources in order, matching each path pattern in turn: the API (and in it
        // slots and appointments, the busiest routes) comes first.
        .service(
            web::scope("/api/v1")
                .configure(slots::configure)
                .configure(appointments::configure)
                .configure(admin::configure)
                .configure(experts::configure)
                .configure(integrations::configure)
                .configure(provider_settings::configure)
                .configure(crate::oauth::configure_api),
        )
        .configure(health::configure)
        .configure(crate::oauth::configure)
        .configure(crate::webhooks::configure)
        .configure(crate::session::configure)
        .configure(crate::pages::configure);
}

/// The answer to an unknown route.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

fn json_error(e: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let err = match &e {
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON with Content-Type: application/json",
        ),
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is too large",
        ),
        JsonPayloadError::Deserialize(d) if d.is_data() => {
            ApiError::bad_request("invalid_json", format!("wrong JSON type: {d}"))
        }
        _ => ApiError::bad_request("invalid_json", format!("malformed JSON: {e}")),
    };
    err.into()
}

fn query_error(e: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_parameter", format!("invalid query: {e}")).into()
}

/// Parses an RFC 3339 instant from a parameter. A '+' of an offset that arrived as a space (an
/// unencoded query string) is restored.
pub(crate) fn parse_instant(name: &str, value: &str) -> Result<Timestamp, ApiError> {
    let restored = value.trim().replace(' ', "+");
    restored
        .parse::<Timestamp>()
        .ok()
        .filter(|_| offset_within_a_day(&restored))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("{name} must be an RFC 3339 time, got {value:?}"),
            )
        })
}

/// RFC 3339 offsets are at most 23:59 either way; jiff reads up to 25:59:59, so "+25:00" (a typo)
/// would name an instant a day away instead of being refused.
fn offset_within_a_day(value: &str) -> bool {
    use availability_domain::jiff::fmt::temporal::{Pieces, PiecesOffset};
    match Pieces::parse(value).ok().and_then(|p| p.offset()) {
        Some(PiecesOffset::Numeric(n)) => n.offset().seconds().abs() < 24 * 3600,
        _ => true,
    }
}

/// Parses an id from a JSON body field or query parameter.
pub(crate) fn parse_id<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_parameter", format!("{name} must be a UUID, got {value:?}")))
}

/// RFC 3339 in UTC ("Z"), or with the zone's offset at that instant (the same instant). The
/// offset is always "+HH:MM" (an offset's Display would write "-05" or "+00", which RFC 3339
/// does not allow).
pub(crate) fn write_instant(out: &mut String, t: Timestamp, zone: Option<&Zone>) {
    use std::fmt::Write;
    match zone {
        None => crate::rfc3339::write_utc(out, t),
        Some(z) => {
            let local = t.to_zoned_datetime(z.tz().clone());
            // Writing to a String cannot fail.
            let _ = write!(out, "{}", local.strftime("%Y-%m-%dT%H:%M:%S%:z"));
        }
    }
}

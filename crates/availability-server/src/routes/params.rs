//! Reading what requests carry (ids, instants, names) and writing instants back: the small
//! helpers every route module shares. Imports nothing of the routes, so nothing imports in a
//! circle.

use availability_core::{CoreError, Provider, ProviderRegistry};
use availability_domain::jiff::Timestamp;
use availability_domain::{ExpertId, Zone};
use std::sync::Arc;

use crate::error::ApiError;

/// An expert id from a path.
pub(crate) fn expert_id(path: &str) -> Result<ExpertId, ApiError> {
    parse_id("expert id", path)
}

/// The registered provider a path names: an unregistered or malformed type is 404
/// `unknown_integration`.
pub(crate) fn provider_from_path<'a>(
    providers: &'a ProviderRegistry,
    name: &str,
) -> Result<&'a Arc<dyn Provider>, ApiError> {
    providers.find(name).map_err(|e| match e {
        CoreError::UnknownIntegration(name) => ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "unknown_integration",
            format!("no provider named {name:?} is registered on this server (GET /api/v1/providers lists them)"),
        ),
        other => other.into(),
    })
}

/// Validates a person's name and email address as the admin routes take them.
pub(crate) fn check_name_and_email(name: &str, email: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(ApiError::invalid("invalid_name", "name must be 1-200 characters"));
    }
    if email.len() > 320 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::invalid(
            "invalid_email",
            format!("{email:?} is not an email address"),
        ));
    }
    Ok(())
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

/// The expert the path names, once it exists (404 otherwise) and the caller may act for it (the
/// expert themself or admin; 403 otherwise): the preamble of the expert-only routes.
pub(crate) async fn owned_expert(
    caller: &crate::auth::Caller,
    state: &crate::state::AppState,
    path: &str,
) -> Result<ExpertId, ApiError> {
    let id = expert_id(path)?;
    state.store.expert(id).await?;
    caller.require_expert(id)?;
    Ok(id)
}

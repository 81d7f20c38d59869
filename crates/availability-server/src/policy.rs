//! What every answer gets, whatever route made it (one middleware around the whole app):
//!
//! - requests that carry a credential (a bearer token, the session cookie, a sign-in) from an
//!   address throttled for failed authentication are answered 429 before any route runs;
//! - answers that do not choose their own caching (everything but the pages and their files) are
//!   `Cache-Control: no-store`: API answers hold personal data and `GET /session` the CSRF token,
//!   which no browser or proxy cache should keep; every answer is `X-Content-Type-Options:
//!   nosniff`, so a JSON answer is never read as HTML or script;
//! - a provider's failure is named as people know the provider. The error is built where the
//!   registry is out of reach (`From<CoreError> for ApiError`), so it is named here, where the
//!   app's state is at hand;
//! - a body over a limit that some extractor answered in plain text (actix's own 413), and
//!   actix's empty 405 for a method a path does not have, are answered in the JSON error shape.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use crate::error::ApiError;
use crate::session::SESSION_COOKIE;
use crate::state::AppState;
use crate::throttle::client_address;

/// The middleware; see the module's documentation.
pub(crate) async fn answer_policy(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let Some(state) = &state {
        if carries_credential(&req) {
            let address = client_address(req.request(), &state.config.trusted_proxies);
            if let Some(wait) = address.and_then(|a| state.throttle.blocked(a)) {
                let answer = ApiError::too_many_attempts(wait).error_response();
                return Ok(with_headers(req.into_response(answer)));
            }
        }
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let error = res.response().error().and_then(|e| e.as_error::<ApiError>()).cloned();
    match error {
        Some(error) => {
            if let (Some((integration, _)), Some(state)) = (error.provider, &state) {
                let named = error.naming(&state.providers.display_name(integration));
                res = res.into_response(named.error_response());
            }
        }
        None if res.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let too_large = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is too large",
            );
            res = res.into_response(too_large.error_response());
        }
        // A path that has routes, asked with another method: actix answers 405 with no body.
        None if res.status() == StatusCode::METHOD_NOT_ALLOWED => {
            let allow = res.headers().get(header::ALLOW).cloned();
            let method = res.request().method().to_string();
            let refused = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not a method of this path (Allow lists those that are)"),
            );
            let mut answer = refused.error_response();
            if let Some(allow) = allow {
                answer.headers_mut().insert(header::ALLOW, allow);
            }
            res = res.into_response(answer);
        }
        None => {}
    }
    Ok(with_headers(res))
}

/// Whether the request presents a credential to a route that authenticates (the pages and their
/// files do not: a page with a session cookie is still served, and its script's API calls are
/// the ones answered 429).
fn carries_credential(req: &ServiceRequest) -> bool {
    let path = req.path();
    let authenticating = path.starts_with("/api/") || path == "/session";
    authenticating
        && (req.headers().contains_key(header::AUTHORIZATION)
            || req.cookie(SESSION_COOKIE).is_some()
            || (path == "/session" && req.method() == Method::POST))
}

fn with_headers(mut res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let headers = res.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

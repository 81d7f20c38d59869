//! Sessions for the pages (api.md, "Pages ... may instead use a session"): POST /session trades an
//! API token for an HttpOnly, SameSite=Strict cookie; GET /session tells the page who is signed in
//! and the CSRF token its writes must carry; DELETE /session ends it.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use availability_domain::jiff::Timestamp;
use availability_store::sessions::SESSION_SECONDS;
use availability_store::{Principal, Session};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::api_schema::{ErrorAnswer, Session as SessionAnswer};
use crate::error::ApiError;
use crate::state::AppState;

/// The cookie that carries the session id.
pub const SESSION_COOKIE: &str = "availability_session";
/// The header a cookie-authenticated write must carry.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/session")
            .route(web::post().to(sign_in))
            .route(web::get().to(current))
            .route(web::delete().to(sign_out)),
    );
}

/// These routes in the OpenAPI document (a new route: its `#[utoipa::path]` and its name here).
#[derive(utoipa::OpenApi)]
#[openapi(paths(sign_in, current, sign_out))]
pub(crate) struct Doc;

/// The session a request's cookie names, if it is known and unexpired. A write must also carry
/// the session's CSRF token: a cookie is sent by the browser on its own, the header only by our
/// pages' scripts.
pub(crate) async fn from_cookie(req: &HttpRequest, state: &AppState) -> Result<Option<Session>, ApiError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = state.store.session(cookie.value().to_owned()).await? else {
        // A cookie that names no session (ended, revoked with its token, or made up).
        state.authentication_failed(req);
        return Ok(None);
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let presented = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        let matches = presented.is_some_and(|p| {
            #[allow(deprecated)]
            ring::constant_time::verify_slices_are_equal(p.as_bytes(), session.csrf_token.as_bytes()).is_ok()
        });
        if !matches {
            return Err(ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "csrf_token_invalid",
                "a write made with the session cookie must carry the X-CSRF-Token header that GET /session returns",
            ));
        }
    }
    Ok(Some(session))
}

/// A sign-in.
#[derive(Deserialize, ToSchema)]
struct SignIn {
    /// An API token (or ADMIN_TOKEN).
    token: String,
}

fn cookie(state: &AppState, value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        // Over plain http (a laptop, the tests) a Secure cookie would never come back.
        .secure(state.config.public_base_url.starts_with("https://"))
        .max_age(max_age)
        .finish()
}

/// What a page learns about the signed-in user (never the token or the session id).
async fn describe(state: &AppState, session: &Session) -> Result<serde_json::Value, ApiError> {
    let (role, expert_id, client_id, name) = match session.principal {
        Principal::Admin => ("admin", None, None, "Administrator".to_owned()),
        Principal::Expert(id) => ("expert", Some(id.to_string()), None, state.store.expert(id).await?.name),
        Principal::Client(id) => ("client", None, Some(id.to_string()), state.store.client(id).await?.name),
    };
    let expires_at = Timestamp::from_second(session.expires_at)
        .map(|t| t.to_string())
        .unwrap_or_default();
    Ok(json!({
        "role": role,
        "expert_id": expert_id,
        "client_id": client_id,
        "name": name,
        "csrf_token": session.csrf_token,
        "expires_at": expires_at,
    }))
}

#[utoipa::path(post, path = "/session", operation_id = "sign_in", tag = "sessions", request_body = SignIn, security(()),
    responses(
        (status = 200, description = "Signed in; sets the cookie availability_session (HttpOnly, SameSite=Strict, 12 hours)", body = SessionAnswer),
        (status = 401, description = "`unauthorized`: an unknown token", body = ErrorAnswer),
        (status = 429, description = "`too_many_attempts`", body = ErrorAnswer),
    ))]
/// POST /session {token}: 200 with the session and its cookie; 401 for an unknown token.
async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SignIn>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token;
    let token = token.trim();
    let signed_in = if token.is_empty() {
        None
    } else if state.is_admin_token(token) {
        Some((Principal::Admin, None))
    } else {
        state.token(token).await?.map(|t| (t.principal, Some(t)))
    };
    let Some((principal, stored)) = signed_in else {
        state.authentication_failed(&req);
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "unauthorized",
            "that token is not known: check it and try again",
        ));
    };
    // A new sign-in replaces the session this browser had.
    if let Some(old) = req.cookie(SESSION_COOKIE) {
        state.store.end_session(old.value().to_owned()).await?;
    }
    let new = state.store.create_session(principal, stored).await?;
    let body = describe(&state, &new.session).await?;
    Ok(HttpResponse::Ok()
        .cookie(cookie(&state, new.id, CookieDuration::seconds(SESSION_SECONDS)))
        .json(body))
}

#[utoipa::path(get, path = "/session", operation_id = "get_session", tag = "sessions", security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Who is signed in, and the CSRF token of the session's writes", body = SessionAnswer),
        (status = 401, description = "`unauthorized`: not signed in, or the session ended", body = ErrorAnswer),
    ))]
/// GET /session: who is signed in, and the CSRF token; 401 when nobody is.
async fn current(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match from_cookie(&req, &state).await? {
        Some(session) => Ok(HttpResponse::Ok().json(describe(&state, &session).await?)),
        None => {
            let not_signed_in = ApiError::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "not signed in",
            );
            let mut answer = actix_web::ResponseError::error_response(&not_signed_in);
            if req.cookie(SESSION_COOKIE).is_some() {
                // A cookie of a session that ended: forgotten, so that the pages do not present it
                // again (each time would count as a failed attempt).
                answer
                    .add_cookie(&cookie(&state, String::new(), CookieDuration::ZERO))
                    .map_err(|_| not_signed_in.clone())?;
            }
            Ok(answer)
        }
    }
}

#[utoipa::path(delete, path = "/session", operation_id = "sign_out", tag = "sessions", security(("session_cookie" = [])),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's csrf_token")),
    responses(
        (status = 204, description = "Signed out (also when there was no session); the cookie is cleared"),
        (status = 403, description = "`csrf_token_invalid`", body = ErrorAnswer),
    ))]
/// DELETE /session: ends the session (a write: the CSRF header is required); 204 also when there
/// was none.
async fn sign_out(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if from_cookie(&req, &state).await?.is_some() {
        if let Some(c) = req.cookie(SESSION_COOKIE) {
            state.store.end_session(c.value().to_owned()).await?;
        }
    }
    Ok(HttpResponse::NoContent()
        .cookie(cookie(&state, String::new(), CookieDuration::ZERO))
        .finish())
}

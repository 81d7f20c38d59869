//! Bearer-token authentication and the ownership rules of api.md. A token is looked up on every
//! request (unknown, revoked or expired: 401, counted by the throttle of `throttle.rs`).

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use availability_domain::{Appointment, ClientId, ExpertId};
use availability_store::Principal;
use futures_util::future::LocalBoxFuture;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl Caller {
    /// Who cancels, when this caller cancels an appointment.
    pub fn canceller(&self) -> availability_domain::CancelledBy {
        use availability_domain::CancelledBy;
        match self.0 {
            Principal::Admin => CancelledBy::Admin,
            Principal::Expert(_) => CancelledBy::Expert,
            Principal::Client(_) => CancelledBy::Client,
        }
    }

    /// Only admins.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.0 {
            Principal::Admin => Ok(()),
            _ => Err(ApiError::forbidden()),
        }
    }

    /// Admins and the expert themself.
    pub fn require_expert(&self, expert: ExpertId) -> Result<(), ApiError> {
        match self.0 {
            Principal::Admin => Ok(()),
            Principal::Expert(id) if id == expert => Ok(()),
            _ => Err(ApiError::forbidden()),
        }
    }

    /// Admins and the client themself.
    pub fn require_client(&self, client: ClientId) -> Result<(), ApiError> {
        match self.0 {
            Principal::Admin => Ok(()),
            Principal::Client(id) if id == client => Ok(()),
            _ => Err(ApiError::forbidden()),
        }
    }

    /// Admins, the appointment's expert and its client.
    pub fn require_party_to(&self, appointment: &Appointment) -> Result<(), ApiError> {
        match self.0 {
            Principal::Admin => Ok(()),
            Principal::Expert(id) if id == appointment.expert_id => Ok(()),
            Principal::Client(id) if id == appointment.client_id => Ok(()),
            _ => Err(ApiError::forbidden()),
        }
    }

    /// A stable name for scoping per-caller data (Idempotency-Key answers).
    pub fn scope(&self) -> String {
        match self.0 {
            Principal::Admin => "admin".to_owned(),
            Principal::Expert(id) => format!("expert:{id}"),
            Principal::Client(id) => format!("client:{id}"),
        }
    }
}

/// The caller of a request about one expert's calendar, and that expert's calendar version when
/// the store read it in the same statement as the token (GET slots: one statement, not two).
/// Refuses exactly as [`Caller`] does; anything but a stored bearer token (the admin token, a
/// session cookie, no id) goes the usual way, without a version.
pub(crate) async fn caller_and_version(
    req: &HttpRequest,
    state: &AppState,
    expert: Option<ExpertId>,
) -> Result<(Caller, Option<i64>), ApiError> {
    if let (Some(token), Some(expert)) = (bearer(req), expert) {
        if !state.is_admin_token(&token) {
            let (record, version) = state.store.token_and_version(token, expert).await?;
            return match record {
                Some(t) => Ok((Caller(t.principal), version)),
                None => {
                    state.authentication_failed(req);
                    Err(ApiError::unauthorized())
                }
            };
        }
    }
    Ok((Caller::extract(req).await?, None))
}

/// The bearer token of a request's Authorization header, if any.
pub(crate) fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let req = req.clone();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let Some(state) = state else {
                return Err(ApiError::unauthorized());
            };
            // A bearer token wins; without one, the pages' session cookie (writes need its CSRF
            // header, checked in `from_cookie`).
            let Some(token) = token else {
                return match crate::session::from_cookie(&req, &state).await? {
                    Some(session) => Ok(Caller(session.principal)),
                    None => Err(ApiError::unauthorized()),
                };
            };
            if state.is_admin_token(&token) {
                return Ok(Caller(Principal::Admin));
            }
            match state.token(&token).await? {
                Some(t) => Ok(Caller(t.principal)),
                None => {
                    state.authentication_failed(&req);
                    Err(ApiError::unauthorized())
                }
            }
        })
    }
}

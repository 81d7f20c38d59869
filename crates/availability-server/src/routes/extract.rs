//! Extractors that keep the contract's order of refusals.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::auth::Caller;

/// The authenticated caller, and then `T` (a body or query). actix polls a handler's extractors
/// side by side, so while an unknown token is being looked up a bad body or query would answer
/// first (400); api.md wants 401 for a missing or unknown token whatever else is wrong.
pub(crate) struct Authed<T>(pub Caller, pub T);

impl<T: FromRequest + 'static> FromRequest for Authed<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let caller = Caller::extract(&req).await?;
            let inner = T::from_request(&req, &mut payload).await.map_err(Into::into)?;
            Ok(Self(caller, inner))
        })
    }
}

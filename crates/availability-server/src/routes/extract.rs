//! Extractors that keep the contract's order of refusals.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;

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

/// A JSON body that must be an object: serde would otherwise also read a struct from an array
/// of its fields in order (`["Dr. X", "x@example.com", "UTC"]`), and api.md wants 400 for a
/// wrong JSON type. Content type, size limit and malformed JSON are `web::Json`'s (400, 413, 415).
pub(crate) struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    /// The body.
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonObject<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move { Ok(Self(object(body.await?.into_inner())?)) })
    }
}

/// An optional JSON object body: no body at all is `None`; a body that is there must be a JSON
/// object (a malformed one is 400, not silently ignored).
pub(crate) struct OptionalJsonObject<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let empty = match headers.get(header::CONTENT_LENGTH) {
            Some(length) => length.as_bytes() == b"0",
            None => !headers.contains_key(header::TRANSFER_ENCODING),
        };
        if empty {
            return Box::pin(async { Ok(Self(None)) });
        }
        let body = JsonObject::<T>::from_request(req, payload);
        Box::pin(async move { Ok(Self(Some(body.await?.into_inner()))) })
    }
}

fn object<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request("invalid_json", "the body must be a JSON object"));
    }
    // JSON may carry U+0000 ("\u0000"), PostgreSQL's text may not: refused here for every body
    // and both databases alike, instead of a 5xx from PostgreSQL's refusal.
    if has_nul(&value) {
        return Err(ApiError::invalid(
            "invalid_text",
            "text may not contain the NUL character (U+0000)",
        ));
    }
    serde_json::from_value(value).map_err(|e| ApiError::bad_request("invalid_json", format!("wrong JSON type: {e}")))
}

/// Whether any string (or key) of a JSON value holds U+0000.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_a_nul_character_is_refused_wherever_it_is() {
        for body in [
            serde_json::json!({"name": "a\u{0}b"}),
            serde_json::json!({"rules": [{"start_time": "\u{0}"}]}),
            serde_json::json!({"a\u{0}": 1}),
        ] {
            let refused = object::<Value>(body).unwrap_err();
            assert_eq!((refused.status.as_u16(), refused.code), (422, "invalid_text"));
        }
        assert!(object::<Value>(serde_json::json!({"name": "Zoë 🦀", "n": [1, null]})).is_ok());
    }
}

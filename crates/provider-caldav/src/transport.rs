//! The HTTP underneath libdav: every DAV request goes through provider-http's `HttpPolicy`
//! (connect and request timeouts, the 10 s budget of a call, bounded retries with backoff that
//! honour Retry-After, no automatic redirects) with the account's HTTP Basic credentials.
//!
//! libdav is I/O agnostic: its request types prepare an `http::Request<String>` and parse the
//! answer, and its `WebDavClient` takes any tower `Service`. [`PolicyClient`] is that service, so
//! libdav's own discovery (well-known redirects, current-user-principal) runs over our policy too.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use availability_domain::Secret;
use bytes::Bytes;
use http::{Method, Uri};
use http_body_util::Full;
use libdav::requests::DavRequest;
use provider_http::{HttpPolicy, ProviderHttpError, SendOptions};

use crate::error::DavError;

/// Username and password of one CalDAV account (HTTP Basic). `Debug` hides the password.
#[derive(Clone)]
pub(crate) struct BasicAuth {
    pub(crate) username: String,
    pub(crate) password: Secret<String>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A tower service (libdav's `HttpClient`) that sends through the policy with Basic auth.
#[derive(Clone)]
pub(crate) struct PolicyClient {
    client: reqwest::Client,
    policy: Arc<HttpPolicy>,
    auth: Arc<BasicAuth>,
}

impl fmt::Debug for PolicyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyClient")
            .field("auth", &self.auth)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// DAV methods that only read: safe to repeat after a 5xx or a broken connection (the policy
/// treats unknown methods as non-idempotent unless told).
fn reads_only(method: &Method) -> bool {
    matches!(method.as_str(), "PROPFIND" | "REPORT" | "GET" | "HEAD" | "OPTIONS")
}

impl PolicyClient {
    pub(crate) fn new(client: reqwest::Client, policy: Arc<HttpPolicy>, auth: BasicAuth) -> Self {
        Self {
            client,
            policy,
            auth: Arc::new(auth),
        }
    }

    /// Sends one request (retried by the policy) and reads the whole answer.
    pub(crate) async fn send(
        &self,
        request: http::Request<String>,
    ) -> Result<http::Response<Bytes>, ProviderHttpError> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        // PUT and DELETE are idempotent by method (the policy's default); a PUT with
        // If-None-Match that is repeated after a lost answer gets 412, which the booking code
        // reads as "already created".
        let mut options = SendOptions::new();
        if reads_only(&parts.method) {
            options = options.idempotent(true);
        }
        let password = self.auth.password.expose().clone();
        let reply = self
            .policy
            .send_raw(&options, || {
                self.client
                    .request(parts.method.clone(), url.as_str())
                    .headers(parts.headers.clone())
                    .basic_auth(&self.auth.username, Some(&password))
                    .body(body.clone())
            })
            .await?;
        let mut response = http::Response::new(Bytes::from(reply.body));
        *response.status_mut() = reply.status;
        *response.headers_mut() = reply.headers;
        Ok(response)
    }

    /// Runs one libdav request against `base` (scheme and authority; the request carries the
    /// path). A status the request type does not accept comes back as [`DavError::Status`].
    pub(crate) async fn run<R>(&self, base: &Uri, request: &R) -> Result<R::Response, DavError>
    where
        R: DavRequest,
        R::ParseError: fmt::Display,
    {
        let http_request = request
            .prepare_request(base.clone())
            .map_err(|e| DavError::Request(e.to_string()))?;
        let (parts, body) = self.send(http_request).await?.into_parts();
        if !parts.status.is_success() {
            return Err(DavError::Status(parts.status));
        }
        request
            .parse_response(&parts, &body)
            .map_err(|e| DavError::Parse(e.to_string()))
    }
}

type BoxedResponse = Pin<Box<dyn Future<Output = Result<http::Response<Full<Bytes>>, ProviderHttpError>> + Send>>;

impl tower_service::Service<http::Request<String>> for PolicyClient {
    type Response = http::Response<Full<Bytes>>;
    type Error = ProviderHttpError;
    type Future = BoxedResponse;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<String>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.send(request).await?.map(Full::new)) })
    }
}

/// The scheme and authority of a URL, as a base for libdav requests (which carry the path).
pub(crate) fn origin(url: &Uri) -> Result<Uri, DavError> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = url.scheme().cloned();
    parts.authority = url.authority().cloned();
    parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    Uri::from_parts(parts).map_err(|e| DavError::Request(e.to_string()))
}

/// An href from the server (a path, or an absolute URL on another host as iCloud's partition
/// hosts are) resolved against the URL it was found at.
pub(crate) fn resolve(base: &Uri, href: &str) -> Result<Uri, DavError> {
    if href.starts_with("http://") || href.starts_with("https://") {
        return href
            .parse()
            .map_err(|e: http::uri::InvalidUri| DavError::Parse(e.to_string()));
    }
    let mut parts = http::uri::Parts::default();
    parts.scheme = base.scheme().cloned();
    parts.authority = base.authority().cloned();
    let path = if href.starts_with('/') {
        href.to_owned()
    } else {
        // A relative href is relative to the collection it was found in.
        let dir = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{dir}/{href}")
    };
    parts.path_and_query = Some(
        path.parse()
            .map_err(|e: http::uri::InvalidUri| DavError::Parse(e.to_string()))?,
    );
    Uri::from_parts(parts).map_err(|e| DavError::Parse(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn hrefs_resolve_against_where_they_were_found() {
        let base: Uri = "https://caldav.icloud.com/123/principal/".parse().unwrap();
        assert_eq!(
            resolve(&base, "/123/calendars/").unwrap().to_string(),
            "https://caldav.icloud.com/123/calendars/"
        );
        assert_eq!(
            resolve(&base, "https://p42-caldav.icloud.com:443/123/calendars/")
                .unwrap()
                .to_string(),
            "https://p42-caldav.icloud.com:443/123/calendars/"
        );
        assert_eq!(origin(&base).unwrap().to_string(), "https://caldav.icloud.com/");
    }
}

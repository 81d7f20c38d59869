//! What every fake shares: the loopback server, the request log, injected failures and latency,
//! and small helpers for parsing requests the way the real services do.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};

use crate::FakeError;

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path as sent (still percent-encoded), e.g. `/calendar/v3/freeBusy`.
    pub path: String,
    /// The raw query string, without `?` (empty when there was none).
    pub query: String,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

/// The controls every fake has: request log, failures and latency.
#[derive(Debug, Default)]
pub(crate) struct Harness {
    log: Mutex<Vec<RequestRecord>>,
    failures: Mutex<VecDeque<u16>>,
    latency: Mutex<Duration>,
}

impl Harness {
    /// Logs the request, waits the configured latency, and says whether an injected failure
    /// answers it instead of the fake's logic (never for the authorize page: `may_fail` false).
    pub(crate) async fn admit(&self, req: &HttpRequest, body: &[u8], may_fail: bool) -> Option<u16> {
        lock(&self.log).push(RequestRecord {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
            body: String::from_utf8_lossy(body).into_owned(),
        });
        let latency = *lock(&self.latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if may_fail {
            self.take_failure()
        } else {
            None
        }
    }

    /// The next injected failure, if any (for fakes that decide late whether one applies).
    pub(crate) fn take_failure(&self) -> Option<u16> {
        lock(&self.failures).pop_front()
    }

    pub(crate) fn fail_next(&self, n: usize, status: u16) {
        lock(&self.failures).extend(std::iter::repeat_n(status, n));
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.log).clone()
    }

    pub(crate) fn request_count(&self, path_prefix: &str) -> usize {
        lock(&self.log)
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .count()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.log).clear();
    }
}

/// A poisoned lock only means another test thread panicked; the data is still what the fake needs.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running loopback server; dropping it stops the server.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) base_url: String,
    handle: ServerHandle,
}

impl Listener {
    pub(crate) async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; its future only waits for completion.
        drop(self.handle.stop(false));
    }
}

/// Starts a server on 127.0.0.1:0 that hands every request, whatever its path, to `entry`: each
/// fake routes by hand so it can log, delay and fail every request the same way.
pub(crate) fn spawn<S, F, Fut>(state: Arc<S>, entry: F) -> Result<Listener, FakeError>
where
    S: Send + Sync + 'static,
    F: Fn(HttpRequest, Bytes, web::Data<S>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = HttpResponse> + 'static,
{
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            // Provider bodies are small; the limit only keeps a runaway test from eating memory.
            .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
            .default_service(web::to(entry.clone()))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(("127.0.0.1", 0))?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| FakeError::Listen(std::io::Error::other("no address bound")))?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(Listener {
        base_url: format!("http://{addr}"),
        handle,
    })
}

/// Query or form parameters in order, repeated names kept (Google's `privateExtendedProperty`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(encoded: &str) -> Self {
        Params(serde_urlencoded::from_str(encoded).unwrap_or_default())
    }

    pub(crate) fn parse_bytes(encoded: &[u8]) -> Self {
        Params(serde_urlencoded::from_bytes(encoded).unwrap_or_default())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `true`/`false` as Google and Calendly write booleans in queries.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }
}

/// `value` percent-decoded (path segments such as `expert%40gmail.com`).
pub(crate) fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path below `prefix`, split into decoded segments; `None` when it is not below `prefix`.
pub(crate) fn segments(path: &str, prefix: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix(prefix)?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    Some(rest.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect())
}

/// `url` with `params` appended to its query.
pub(crate) fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
    if encoded.is_empty() {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&{encoded}")
    } else {
        format!("{url}?{encoded}")
    }
}

/// A random identifier (hex, 32 characters) for codes, tokens and resource ids.
pub(crate) fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A JSON body, or `None` when the body is not a JSON object (the caller answers 400).
pub(crate) fn json_object(body: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(map)) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_segments() {
        assert_eq!(
            segments("/calendar/v3/calendars/a%40b.com/events", "/calendar/v3"),
            Some(vec!["calendars".to_owned(), "a@b.com".to_owned(), "events".to_owned()])
        );
        assert_eq!(segments("/calendar/v30/x", "/calendar/v3"), None);
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn appends_query() {
        assert_eq!(with_query("http://x/cb", &[("code", "a b")]), "http://x/cb?code=a+b");
        assert_eq!(
            with_query("http://x/cb?k=1", &[("state", "s")]),
            "http://x/cb?k=1&state=s"
        );
    }
}

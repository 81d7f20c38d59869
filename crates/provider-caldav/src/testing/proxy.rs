//! A loopback HTTP proxy in front of a CalDAV server: it forwards every request unchanged,
//! after an adjustable delay (a server "50 ms away" for benchmarks), or answers with an injected
//! failure (503 for an unavailable server, 401 for a revoked password). It runs on its own
//! thread and runtime, so it outlives any one test's runtime.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// A failure the proxy answers with instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyFailure {
    /// 503 with `Retry-After: 0`.
    Unavailable,
    /// 401, as for a password that was revoked.
    Unauthorized,
}

#[derive(Debug)]
struct State {
    upstream: String,
    delay_ms: AtomicU64,
    requests: AtomicU64,
    failure: Mutex<Option<ProxyFailure>>,
    client: reqwest::Client,
}

/// The proxy's address and controls.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    state: Arc<State>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT/`).
    pub fn start(upstream: &str) -> Result<Self, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            delay_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failure: Mutex::new(None),
            client,
        });
        let serving = state.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("caldav-proxy".into())
            .spawn(move || runtime.block_on(serve(listener, serving)))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url: format!("http://127.0.0.1:{port}/"),
            state,
        })
    }

    /// Every answer waits this long before it is forwarded.
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// How many requests the proxy has received so far (forwarded or failed): a test can tell
    /// when a client has stopped calling.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Answers every request with `failure` from now on (`None`: forward again).
    pub fn fail_with(&self, failure: Option<ProxyFailure>) {
        *self.state.failure.lock().unwrap_or_else(PoisonError::into_inner) = failure;
    }
}

async fn serve(listener: std::net::TcpListener, state: Arc<State>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| forward(state.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(status: u16, body: &str) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    response
}

async fn forward(
    state: Arc<State>,
    request: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failure = *state.failure.lock().unwrap_or_else(PoisonError::into_inner);
    match failure {
        Some(ProxyFailure::Unavailable) => {
            let mut response = answer(503, "injected: unavailable");
            response
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("0"));
            return Ok(response);
        }
        Some(ProxyFailure::Unauthorized) => {
            let mut response = answer(401, "injected: unauthorized");
            response.headers_mut().insert(
                "www-authenticate",
                http::HeaderValue::from_static("Basic realm=\"test\""),
            );
            return Ok(response);
        }
        None => {}
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(answer(400, "unreadable request body"));
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers.clone();
    headers.remove(http::header::HOST);
    headers.remove(http::header::CONTENT_LENGTH);
    let sent = state
        .client
        .request(parts.method.clone(), format!("{}{path}", state.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(reply) = sent else {
        return Ok(answer(502, "the upstream server did not answer"));
    };
    let status = reply.status();
    let mut headers = reply.headers().clone();
    let Ok(body) = reply.bytes().await else {
        return Ok(answer(502, "the upstream answer broke off"));
    };
    headers.remove(http::header::TRANSFER_ENCODING);
    headers.remove(http::header::CONTENT_LENGTH);
    headers.remove(http::header::CONNECTION);
    let mut response = http::Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

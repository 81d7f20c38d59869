//! A tiny HTTP/1.1 server on loopback for the tests: each connection carries one request, the
//! handler decides the answer. Small enough to read, and under the tests' full control (delays,
//! counting requests in flight), with no dependency on the provider fakes.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct StubRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl StubRequest {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The url-encoded form body.
    pub fn form(&self) -> HashMap<String, String> {
        oauth2::url::form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

/// The answer to send.
#[derive(Debug, Clone)]
pub struct StubResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl StubResponse {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Self::new(status)
            .header("Content-Type", "application/json")
            .body(value.to_string())
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A running stub server.
pub struct Stub {
    pub addr: SocketAddr,
}

impl Stub {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// Serves `handler` on a free loopback port until the test's runtime ends.
pub async fn serve<H, F>(handler: H) -> Stub
where
    H: Fn(StubRequest) -> F + Send + Sync + 'static,
    F: Future<Output = StubResponse> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                let response = handler(request).await;
                let mut head = format!("HTTP/1.1 {} Stub\r\n", response.status);
                for (name, value) in &response.headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str(&format!(
                    "Content-Length: {}\r\nConnection: close\r\n\r\n",
                    response.body.len()
                ));
                let stream = stream.get_mut();
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&response.body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Stub { addr }
}

async fn read_request(stream: &mut BufReader<tokio::net::TcpStream>) -> Option<StubRequest> {
    let mut line = String::new();
    stream.read_line(&mut line).await.ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(StubRequest {
        method,
        target,
        headers,
        body,
    })
}

/// A token endpoint that behaves like the providers': single-use codes bound to a PKCE
/// challenge and a redirect URI, refresh tokens that are kept (Google) or rotated and single use
/// (Microsoft, Calendly), invalid_grant for anything it does not know.
#[derive(Default)]
pub struct TokenState {
    /// code -> (PKCE challenge, redirect URI).
    pub codes: HashMap<String, (String, String)>,
    /// Refresh tokens the endpoint accepts.
    pub valid_refresh: std::collections::HashSet<String>,
    /// Every refresh issues a new refresh token and retires the one used.
    pub rotate: bool,
    /// Tokens issued so far (names are at-N and rt-N).
    pub issued: usize,
    /// The refresh tokens received, in order.
    pub refreshes: Vec<String>,
    /// Every request to the token endpoint.
    pub requests: Vec<StubRequest>,
    /// Every request to the revocation endpoint.
    pub revocations: Vec<StubRequest>,
    /// How long a refresh takes.
    pub refresh_delay: Duration,
    /// Answers to give instead of the normal ones, first in first out.
    pub scripted: std::collections::VecDeque<StubResponse>,
}

pub struct TokenServer {
    pub stub: Stub,
    pub state: Arc<std::sync::Mutex<TokenState>>,
}

impl TokenServer {
    pub async fn start(rotate: bool) -> Self {
        let state = Arc::new(std::sync::Mutex::new(TokenState {
            rotate,
            ..TokenState::default()
        }));
        let shared = state.clone();
        let stub = serve(move |request| {
            let state = shared.clone();
            async move { token_endpoint(&state, request).await }
        })
        .await;
        Self { stub, state }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, TokenState> {
        self.state.lock().unwrap()
    }

    /// A refresh token the endpoint accepts.
    pub fn grant_refresh_token(&self, token: &str) {
        self.state().valid_refresh.insert(token.to_owned());
    }
}

pub fn invalid_grant(description: &str) -> StubResponse {
    StubResponse::json(
        400,
        serde_json::json!({"error": "invalid_grant", "error_description": description}),
    )
}

/// base64url(SHA-256(verifier)), PKCE's S256.
pub fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

async fn token_endpoint(state: &std::sync::Mutex<TokenState>, request: StubRequest) -> StubResponse {
    if request.path() == "/revoke" {
        state.lock().unwrap().revocations.push(request);
        return StubResponse::new(200);
    }
    let form = request.form();
    let delay = {
        let mut s = state.lock().unwrap();
        s.requests.push(request.clone());
        if let Some(response) = s.scripted.pop_front() {
            return response;
        }
        s.refresh_delay
    };
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let mut s = state.lock().unwrap();
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((challenge, redirect)) = s.codes.remove(&code) else {
                return invalid_grant("Malformed auth code.");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if s256(&verifier) != challenge || form.get("redirect_uri") != Some(&redirect) {
                return invalid_grant("Invalid code verifier or redirect_uri.");
            }
            s.issued += 1;
            let n = s.issued;
            s.valid_refresh.insert(format!("rt-{n}"));
            StubResponse::json(
                200,
                serde_json::json!({"access_token": format!("at-{n}"), "refresh_token": format!("rt-{n}"),
                    "expires_in": 3599, "scope": "calendar.events calendar.freebusy", "token_type": "Bearer",
                    "owner": "https://api.calendly.com/users/AAA"}),
            )
        }
        Some("refresh_token") => {
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            state.lock().unwrap().refreshes.push(token.clone());
            tokio::time::sleep(delay).await;
            let mut s = state.lock().unwrap();
            if !s.valid_refresh.contains(&token) {
                return invalid_grant("Token has been expired or revoked.");
            }
            s.issued += 1;
            let n = s.issued;
            if s.rotate {
                s.valid_refresh.remove(&token);
                s.valid_refresh.insert(format!("rt-{n}"));
                StubResponse::json(
                    200,
                    serde_json::json!({"access_token": format!("at-{n}"), "refresh_token": format!("rt-{n}"),
                        "expires_in": 3599, "token_type": "Bearer"}),
                )
            } else {
                StubResponse::json(
                    200,
                    serde_json::json!({"access_token": format!("at-{n}"), "expires_in": 3599, "token_type": "Bearer"}),
                )
            }
        }
        _ => StubResponse::json(400, serde_json::json!({"error": "unsupported_grant_type"})),
    }
}

//! One HTTP policy for every provider call: timeouts, a total budget, bounded retries with
//! exponential backoff and full jitter, `Retry-After`, and the per-account limit.
//!
//! Why one policy: api.md promises that a provider which cannot answer within 10 s in total,
//! retries included, is `provider_unavailable`. That promise only holds if every provider crate
//! sends through the same loop, which also keeps the answer to "what is retried" in one place:
//!
//! - 429 and rate-limit answers (a 403 that the caller's [`RateLimitClassifier`] recognises, like
//!   Google's `rateLimitExceeded`) mean the request was refused unprocessed: always retried.
//! - A connection that could not be made: nothing was sent, always retried.
//! - 5xx (but 501 and 505), timeouts and broken connections may come after the provider acted:
//!   retried only for idempotent requests (see [`SendOptions::idempotent`]).

use std::fmt;
use std::time::Duration;

use availability_domain::jiff::{fmt::rfc2822, Timestamp};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::limiter::AccountLimiter;
use crate::ProviderHttpError;

/// How much of an error answer's body a [`ProviderHttpError::Status`] keeps: enough for every
/// provider's error JSON, bounded so a misbehaving server cannot fill memory through errors.
pub const ERROR_BODY_BYTES: usize = 8 * 1024;

/// Decides whether an error answer other than 429 is a rate limit (and so retried like a 429),
/// from its status and body. Called for 4xx answers only.
pub type RateLimitClassifier = fn(StatusCode, &[u8]) -> bool;

/// Google's rate limits: a 403 whose `error.errors[].reason` is `rateLimitExceeded` or
/// `userRateLimitExceeded` is the same as a 429. (`quotaExceeded`, a daily quota, is not: waiting
/// seconds does not help.)
pub fn google_rate_limit_403(status: StatusCode, body: &[u8]) -> bool {
    if status != StatusCode::FORBIDDEN {
        return false;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    value
        .pointer("/error/errors")
        .and_then(|errors| errors.as_array())
        .is_some_and(|errors| {
            errors.iter().any(|e| {
                matches!(
                    e.get("reason").and_then(|r| r.as_str()),
                    Some("rateLimitExceeded" | "userRateLimitExceeded")
                )
            })
        })
}

/// Timeouts, budget and retries of provider calls. `Default` is what api.md asks for; the
/// `with_*` methods change one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpPolicy {
    /// Time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for one attempt, from sending the request to the end of the response body.
    pub request_timeout: Duration,
    /// Time for the whole call: waiting for the account limiter, every attempt and every backoff.
    pub total_timeout: Duration,
    /// Attempts at most, the first included (1 = no retries).
    pub max_attempts: u32,
    /// The backoff before the first retry is drawn from `[0, base_backoff]`, then the range doubles.
    pub base_backoff: Duration,
    /// The largest backoff range (a `Retry-After` may ask for longer, within the budget).
    pub max_backoff: Duration,
    /// A larger response body is refused as [`ProviderHttpError::Decode`].
    pub max_body_bytes: usize,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(8),
            total_timeout: Duration::from_secs(10),
            max_attempts: 4,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            // A page of 2,500 Google events is a few MB; 16 MiB leaves room without letting a
            // broken server exhaust memory.
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Per-call options: the account limit to respect, which answers are rate limits, and whether
/// the request may be repeated after it may have been processed.
#[derive(Clone, Copy, Default)]
pub struct SendOptions<'a> {
    limiter: Option<(&'a AccountLimiter, &'a str)>,
    rate_limit: Option<RateLimitClassifier>,
    idempotent: Option<bool>,
}

impl fmt::Debug for SendOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendOptions")
            .field("account", &self.limiter.map(|(_, account)| account))
            .field("rate_limit_classifier", &self.rate_limit.is_some())
            .field("idempotent", &self.idempotent)
            .finish()
    }
}

impl<'a> SendOptions<'a> {
    /// No limiter, no classifier, idempotency from the method.
    pub fn new() -> Self {
        Self::default()
    }

    /// Each attempt holds a place in `limiter` for `account` while it is in flight (not while it
    /// backs off).
    pub fn with_limiter(mut self, limiter: &'a AccountLimiter, account: &'a str) -> Self {
        self.limiter = Some((limiter, account));
        self
    }

    /// Recognises rate-limit answers other than 429 (e.g. [`google_rate_limit_403`]).
    pub fn with_rate_limit_classifier(mut self, classifier: RateLimitClassifier) -> Self {
        self.rate_limit = Some(classifier);
        self
    }

    /// Whether repeating the request after the provider may have acted on it is harmless. By
    /// default GET, HEAD, PUT, DELETE and OPTIONS are, POST and PATCH are not. Say `true` for a
    /// POST that only reads (Google freeBusy, Graph getSchedule) or carries an idempotency key
    /// (a client-chosen Google event id, Graph's transactionId); say `false` for a request that
    /// must never run twice (Calendly's POST /invitees, a single-use refresh token).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    fn is_idempotent(&self, method: &Method) -> bool {
        let by_method = matches!(
            *method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        self.idempotent.unwrap_or(by_method)
    }
}

/// A provider's answer, read completely (so the body counts against the budget too).
#[derive(Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for Reply {
    // Bodies of token responses hold tokens: never print one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// The body as JSON. A decoding error says where and what kind of error, never the text it
    /// failed on (which could be anything the provider sent).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderHttpError> {
        serde_json::from_slice(&self.body).map_err(|e| ProviderHttpError::Decode(describe_json_error(&e)))
    }

    /// `Err(ProviderHttpError::Status)` for an error status (400 and above), the reply otherwise.
    /// Redirects are not followed by [`HttpPolicy::client`], so a 3xx arrives here as an answer.
    pub fn error_for_status(self) -> Result<Self, ProviderHttpError> {
        if self.status.is_client_error() || self.status.is_server_error() {
            Err(self.into_status_error(false))
        } else {
            Ok(self)
        }
    }

    fn into_status_error(self, transient: bool) -> ProviderHttpError {
        let end = self.body.len().min(ERROR_BODY_BYTES);
        ProviderHttpError::Status {
            status: self.status,
            body: String::from_utf8_lossy(&self.body[..end]).into_owned(),
            transient,
        }
    }

    /// How long the provider asked to wait: `Retry-After` (seconds or an HTTP date), or, on a 429
    /// without it, `X-RateLimit-Reset` (Calendly sends only the X-RateLimit-* headers).
    pub fn retry_after(&self) -> Option<Duration> {
        let now = Timestamp::now();
        if let Some(value) = self.headers.get(RETRY_AFTER) {
            return parse_retry_after(value.to_str().ok()?, now);
        }
        if self.status != StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
        parse_rate_limit_reset(self.headers.get("x-ratelimit-reset")?.to_str().ok()?, now)
    }
}

/// `X-RateLimit-Reset`: seconds until the limit resets (Calendly), or, for a value that can only
/// be a Unix time (GitHub's style), that instant. A reset in the past means "now".
pub(crate) fn parse_rate_limit_reset(value: &str, now: Timestamp) -> Option<Duration> {
    /// 2001-09-09: no window lasts that many seconds, so a larger value is an instant.
    const UNIX_TIME_FROM: u64 = 1_000_000_000;
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: u64 = value.parse().unwrap_or(u64::MAX);
    if seconds < UNIX_TIME_FROM {
        return Some(Duration::from_secs(seconds));
    }
    let now = u64::try_from(now.as_second()).unwrap_or(0);
    Some(Duration::from_secs(seconds.saturating_sub(now)))
}

/// serde_json's error kind and position, without its message (which quotes the input).
pub(crate) fn describe_json_error(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of an unexpected shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (RFC 9110 10.2.3). A date in
/// the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurd values saturate; they end the call anyway, since they exceed any budget.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    static PARSER: rfc2822::DateTimeParser = rfc2822::DateTimeParser::new();
    let at = PARSER.parse_timestamp(value).ok()?;
    let wait = at.duration_since(now);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// What one attempt came to, as the retry loop sees it.
enum Outcome {
    /// An answer to hand back (success, or an error status that is not transient).
    Final(Reply),
    /// A transient failure; `safe` says whether the request certainly was not processed.
    Transient {
        error: ProviderHttpError,
        retry_after: Option<Duration>,
        safe: bool,
    },
}

impl HttpPolicy {
    /// Sets [`Self::connect_timeout`].
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`Self::request_timeout`].
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`Self::total_timeout`].
    pub fn with_total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// Sets [`Self::max_attempts`] (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets [`Self::base_backoff`] and [`Self::max_backoff`].
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_backoff = base;
        self.max_backoff = max.max(base);
        self
    }

    /// Sets [`Self::max_body_bytes`].
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// A `reqwest::Client` for provider calls: this policy's connect timeout, and no redirects
    /// (a redirect would resend the request, body and all, somewhere the caller did not choose;
    /// for token requests oauth2's upgrade guide warns against exactly that).
    pub fn client(&self) -> Result<reqwest::Client, ProviderHttpError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("availability-provider-http/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderHttpError::InvalidRequest(crate::redact::describe_reqwest(e)))
    }

    /// Sends the request `build` makes (a fresh one per attempt) until it gets an answer that is
    /// not transient, the attempts run out, or the budget does. Any status that is not transient
    /// comes back as `Ok`, 4xx included; a transient one that could not be retried comes back
    /// as `Err(ProviderHttpError::Status { transient: true, .. })`.
    pub async fn send_raw<F>(&self, options: &SendOptions<'_>, build: F) -> Result<Reply, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder,
    {
        self.send_raw_until(Instant::now() + self.total_timeout, options, build)
            .await
    }

    /// [`Self::send_raw`] within a budget that ends at `deadline` (shared by several calls, as
    /// in [`crate::TokenManager::send_authorized`]).
    pub(crate) async fn send_raw_until<F>(
        &self,
        deadline: Instant,
        options: &SendOptions<'_>,
        mut build: F,
    ) -> Result<Reply, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder,
    {
        let budget = deadline.saturating_duration_since(Instant::now());
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome = match tokio::time::timeout_at(deadline, self.attempt(&mut build, options, deadline)).await {
                Ok(outcome) => outcome?,
                Err(_elapsed) => return Err(ProviderHttpError::Timeout(budget)),
            };
            let (error, retry_after) = match outcome {
                Outcome::Final(reply) => return Ok(reply),
                Outcome::Transient { error, safe: false, .. } => return Err(error),
                Outcome::Transient {
                    error,
                    retry_after,
                    safe: true,
                } => (error, retry_after),
            };
            if attempt >= self.max_attempts {
                return Err(error);
            }
            // Never sooner than the provider asked; when it asks for more time than is left,
            // waiting would only turn a clear "unavailable" into a timeout later.
            let delay = retry_after.map_or_else(|| self.backoff(attempt), |asked| asked.max(self.backoff(attempt)));
            if Instant::now() + delay >= deadline {
                return Err(error);
            }
            tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying a provider request");
            tokio::time::sleep(delay).await;
        }
    }

    /// [`Self::send_raw`], with every error status (400 and above) as `Err`.
    pub async fn send<F>(&self, options: &SendOptions<'_>, build: F) -> Result<Reply, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder,
    {
        self.send_raw(options, build).await?.error_for_status()
    }

    async fn attempt<F>(
        &self,
        build: &mut F,
        options: &SendOptions<'_>,
        deadline: Instant,
    ) -> Result<Outcome, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder,
    {
        let _permit = match options.limiter {
            Some((limiter, account)) => Some(limiter.acquire(account).await?),
            None => None,
        };
        let (client, request) = build().build_split();
        let mut request = request.map_err(|e| ProviderHttpError::InvalidRequest(crate::redact::describe_reqwest(e)))?;
        let idempotent = options.is_idempotent(request.method());
        // The attempt's own timeout, cut to what is left of the budget (which also covers the
        // time spent waiting for the limiter).
        let timeout = self
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        *request.timeout_mut() = Some(timeout);

        let response = match client.execute(request).await {
            Ok(response) => response,
            Err(error) => return Ok(transport_failure(error, timeout, idempotent)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match read_body(response, self.max_body_bytes).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return Err(ProviderHttpError::Decode(format!(
                    "the response body exceeds {} bytes",
                    self.max_body_bytes
                )))
            }
            Err(BodyError::Transport(error)) => return Ok(transport_failure(error, timeout, idempotent)),
        };
        let reply = Reply { status, headers, body };

        let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status.is_client_error() && options.rate_limit.is_some_and(|is_limit| is_limit(status, &reply.body)));
        let server_error = status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED;
        if !rate_limited && !server_error {
            return Ok(Outcome::Final(reply));
        }
        let retry_after = reply.retry_after();
        Ok(Outcome::Transient {
            error: reply.into_status_error(true),
            retry_after,
            safe: rate_limited || idempotent,
        })
    }

    /// Full jitter: uniformly in `[0, min(max_backoff, base_backoff * 2^(attempt-1))]`, which
    /// spreads the retries of many clients hit by the same outage.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        let ceiling = self.base_backoff.saturating_mul(factor).min(self.max_backoff);
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if ceiling_nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random_u64() % (ceiling_nanos + 1).max(1))
    }
}

fn random_u64() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    // The system RNG does not fail in practice; if it did, the middle of the range is still a
    // valid backoff.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        return u64::MAX / 2;
    }
    u64::from_le_bytes(bytes)
}

fn transport_failure(error: reqwest::Error, timeout: Duration, idempotent: bool) -> Outcome {
    // A connection that was never made carried nothing: always safe to retry.
    let connect = error.is_connect();
    let error = if error.is_timeout() && !connect {
        ProviderHttpError::Timeout(timeout)
    } else if connect {
        ProviderHttpError::Connect(crate::redact::describe_reqwest(error))
    } else {
        ProviderHttpError::Transport(crate::redact::describe_reqwest(error))
    };
    Outcome::Transient {
        error,
        retry_after: None,
        safe: connect || idempotent,
    }
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: Timestamp = "2015-10-21T07:28:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn rate_limit_resets_in_seconds_or_as_instants() {
        let now: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        assert_eq!(parse_rate_limit_reset("1", now), Some(Duration::from_secs(1)));
        assert_eq!(parse_rate_limit_reset(" 42 ", now), Some(Duration::from_secs(42)));
        let at = u64::try_from(now.as_second()).unwrap() + 30;
        assert_eq!(
            parse_rate_limit_reset(&at.to_string(), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_rate_limit_reset("1000000000", now), Some(Duration::ZERO));
        assert_eq!(parse_rate_limit_reset("-1", now), None);
        assert_eq!(parse_rate_limit_reset("", now), None);
    }

    #[test]
    fn a_429_without_retry_after_waits_for_the_rate_limit_reset() {
        let reply = |status: StatusCode, headers: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(*name, reqwest::header::HeaderValue::from_static(value));
            }
            Reply {
                status,
                headers: map,
                body: Vec::new(),
            }
        };
        let limited = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "3")];
        assert_eq!(
            reply(StatusCode::TOO_MANY_REQUESTS, &limited).retry_after(),
            Some(Duration::from_secs(3))
        );
        // Retry-After wins; other statuses carry the headers on every answer and mean nothing.
        let both = [("retry-after", "5"), ("x-ratelimit-reset", "3")];
        assert_eq!(
            reply(StatusCode::TOO_MANY_REQUESTS, &both).retry_after(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(reply(StatusCode::SERVICE_UNAVAILABLE, &limited).retry_after(), None);
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let policy = HttpPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_millis(400));
        for _ in 0..200 {
            assert!(policy.backoff(1) <= Duration::from_millis(100));
            assert!(policy.backoff(2) <= Duration::from_millis(200));
            assert!(policy.backoff(3) <= Duration::from_millis(400));
            assert!(policy.backoff(40) <= Duration::from_millis(400));
        }
        // Jitter: 200 draws from [0, 400 ms] are not all equal.
        let draws: std::collections::HashSet<_> = (0..200).map(|_| policy.backoff(5)).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn google_rate_limits_are_recognised() {
        let body = |reason: &str| {
            format!(
                r#"{{"error":{{"errors":[{{"domain":"usageLimits","reason":"{reason}","message":"x"}}],"code":403,"message":"x"}}}}"#
            )
        };
        assert!(google_rate_limit_403(
            StatusCode::FORBIDDEN,
            body("rateLimitExceeded").as_bytes()
        ));
        assert!(google_rate_limit_403(
            StatusCode::FORBIDDEN,
            body("userRateLimitExceeded").as_bytes()
        ));
        assert!(!google_rate_limit_403(
            StatusCode::FORBIDDEN,
            body("quotaExceeded").as_bytes()
        ));
        assert!(!google_rate_limit_403(
            StatusCode::FORBIDDEN,
            body("forbidden").as_bytes()
        ));
        assert!(!google_rate_limit_403(
            StatusCode::BAD_REQUEST,
            body("rateLimitExceeded").as_bytes()
        ));
        assert!(!google_rate_limit_403(StatusCode::FORBIDDEN, b"not json"));
    }

    #[test]
    fn json_errors_do_not_quote_the_input() {
        let reply = Reply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: br#"{"n":"ya29.secret-token"}"#.to_vec(),
        };
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct N {
            n: u32,
        }
        let error = reply.json::<N>().unwrap_err().to_string();
        assert!(!error.contains("ya29"), "{error}");
        assert!(!format!("{reply:?}").contains("ya29"));
    }
}

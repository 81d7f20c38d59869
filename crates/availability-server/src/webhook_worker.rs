//! The webhook sender: claims due deliveries from the outbox (leases, so any number of server
//! processes share them and a crash loses nothing), signs each on the Standard Webhooks scheme
//! and POSTs it to its endpoint, and records the outcome. Timeouts (10 s), connection errors, 5xx,
//! 429, 3xx (redirects are never followed) and other 4xx are retried with backoff from 5 s
//! doubling to 1 h for 3 days (longer where the receiver's Retry-After asks, up to an hour); a
//! 410 gives up at once and disables the endpoint.

use std::time::Duration;

use availability_domain::jiff::Timestamp;
use availability_store::{AttemptOutcome, ClaimedDelivery, Store};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// How often the worker looks for due deliveries.
const POLL: Duration = Duration::from_millis(500);
/// Deliveries claimed (and sent side by side) per round.
const BATCH: i64 = 16;
/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between two attempts.
pub const MAX_DELAY_SECONDS: i64 = 3600;
/// How long a delivery is retried, from when it was queued.
pub const GIVE_UP_AFTER_SECONDS: i64 = 3 * 24 * 3600;
/// The most of a receiver's answer body that is kept.
pub const RESPONSE_LIMIT: usize = 1024;

/// What the worker needs.
pub struct WebhookWorker {
    /// The database.
    pub store: Store,
    /// The HTTP client: 10 s timeout, no redirects.
    pub client: reqwest::Client,
    /// The first retry's delay in seconds (5; tests shorten it).
    pub retry_base_seconds: i64,
}

/// The HTTP client deliveries go through: no redirect is followed (a 3xx is a failed attempt,
/// so an endpoint cannot bounce the signed body to a host the admin did not register).
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(concat!("availability-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The wait before the attempt after the n-th: base, 2 base, 4 base, ... at most an hour.
pub fn retry_delay_seconds(base: i64, attempts: i32) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    base.max(1).saturating_mul(1i64 << exp).min(MAX_DELAY_SECONDS)
}

/// A `Retry-After` in seconds (the HTTP-date form is not used by receivers in practice and is
/// ignored: the backoff applies).
fn retry_after_seconds(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s >= 0)
}

/// A secret that is not `whsec_<base64>`.
#[derive(Debug, thiserror::Error)]
#[error("the endpoint secret is not whsec_<base64>")]
pub struct BadSecret;

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the bytes the secret's base64
/// (after `whsec_`) encodes: the Standard Webhooks signature.
pub fn sign(secret: &str, webhook_id: &str, timestamp: i64, body: &str) -> Result<String, BadSecret> {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
        .ok_or(BadSecret)?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let tag = ring::hmac::sign(&key, format!("{webhook_id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(tag.as_ref())))
}

/// At most [`RESPONSE_LIMIT`] bytes of text, cut on a character boundary.
pub fn truncate_response(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(RESPONSE_LIMIT)];
    let text = match std::str::from_utf8(cut) {
        Ok(text) => return text.to_owned(),
        // Only the last character was cut in two: keep what comes before it.
        Err(e) if e.error_len().is_none() => return String::from_utf8_lossy(&cut[..e.valid_up_to()]).into_owned(),
        // Not UTF-8 at all: replacement characters may make it longer again.
        Err(_) => String::from_utf8_lossy(cut),
    };
    let mut end = text.len().min(RESPONSE_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Reads at most [`RESPONSE_LIMIT`] bytes of the answer's body (the rest is never read).
async fn read_limited(mut answer: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_LIMIT {
        match answer.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    truncate_response(&kept)
}

impl WebhookWorker {
    /// Runs until the process ends.
    pub async fn run(self) {
        loop {
            match self.store.claim_webhook_deliveries(BATCH).await {
                Ok(claimed) if !claimed.is_empty() => {
                    // Side by side: one slow receiver does not hold up the others. Two deliveries
                    // of one appointment to one endpoint are never claimed together.
                    let attempts = claimed.into_iter().map(|d| self.deliver(d));
                    futures_util::future::join_all(attempts).await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("webhook worker: cannot claim deliveries: {e}"),
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn deliver(&self, claim: ClaimedDelivery) {
        let outcome = self.attempt(&claim).await;
        match &outcome {
            AttemptOutcome::Delivered { .. } => {}
            AttemptOutcome::Retry { error, retry_in, .. } => tracing::info!(
                delivery = claim.seq,
                endpoint = %claim.endpoint_id,
                "webhook delivery failed, retrying in {retry_in} s: {error}"
            ),
            AttemptOutcome::GiveUp { error, .. } => tracing::warn!(
                delivery = claim.seq,
                endpoint = %claim.endpoint_id,
                "webhook delivery given up: {error}"
            ),
        }
        if let Err(e) = self.store.finish_webhook_delivery(claim, outcome).await {
            tracing::warn!("webhook worker: cannot record an attempt: {e}");
        }
    }

    async fn attempt(&self, claim: &ClaimedDelivery) -> AttemptOutcome {
        let timestamp = Timestamp::now().as_second();
        let signature = match sign(claim.secret.expose(), &claim.webhook_id, timestamp, &claim.payload) {
            Ok(s) => s,
            Err(e) => return self.failed(claim, e.to_string(), None, None),
        };
        let sent = self
            .client
            .post(&claim.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &claim.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(claim.payload.clone())
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) => {
                // In the server's words: reqwest's message names the URL.
                let error = if e.is_timeout() {
                    format!("the receiver did not answer within {} s", TIMEOUT.as_secs())
                } else if e.is_connect() {
                    "the receiver could not be reached".to_owned()
                } else {
                    "the request to the receiver failed".to_owned()
                };
                tracing::debug!(delivery = claim.seq, "webhook request failed: {e}");
                return self.failed(claim, error, None, None);
            }
        };
        let status = answer.status();
        let retry_after = retry_after_seconds(answer.headers());
        let body = read_limited(answer).await;
        if status.is_success() {
            return AttemptOutcome::Delivered {
                status_code: status.as_u16(),
                response: body,
            };
        }
        if status == reqwest::StatusCode::GONE {
            return AttemptOutcome::GiveUp {
                error: "the receiver answered 410 Gone: the endpoint was disabled".into(),
                status_code: Some(status.as_u16()),
                response: Some(body),
                disable_endpoint: Some("the receiver answered 410 Gone".into()),
            };
        }
        let error = if status.is_redirection() {
            format!("the receiver answered {} (redirects are not followed)", status.as_u16())
        } else {
            format!("the receiver answered {}", status.as_u16())
        };
        let mut outcome = self.failed(claim, error, Some(status.as_u16()), Some(body));
        if let (AttemptOutcome::Retry { retry_in, .. }, Some(asked)) = (&mut outcome, retry_after) {
            // A receiver that says when to come back (429, 503) is not asked again sooner.
            *retry_in = (*retry_in).max(asked).min(MAX_DELAY_SECONDS);
        }
        outcome
    }

    /// A failed attempt: retried with backoff, or given up 3 days after it was queued.
    fn failed(
        &self,
        claim: &ClaimedDelivery,
        error: String,
        status_code: Option<u16>,
        response: Option<String>,
    ) -> AttemptOutcome {
        let now = Timestamp::now().as_second();
        if now - claim.first_queued_at >= GIVE_UP_AFTER_SECONDS {
            return AttemptOutcome::GiveUp {
                error: format!("{error}; retried for 3 days, given up"),
                status_code,
                response,
                disable_endpoint: None,
            };
        }
        AttemptOutcome::Retry {
            error,
            status_code,
            response,
            retry_in: retry_delay_seconds(self.retry_base_seconds, claim.attempts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_to_an_hour() {
        let delays: Vec<i64> = (1..=12).map(|n| retry_delay_seconds(5, n)).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]);
        assert_eq!(retry_delay_seconds(5, 1000), 3600);
        assert_eq!(retry_delay_seconds(1, 2), 2);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after_seconds(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after_seconds(&headers), Some(120));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Fri, 04 Dec 2026 07:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after_seconds(&headers), None);
    }

    #[test]
    fn the_signature_is_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg", 1, "{}").is_err());
    }

    #[test]
    fn a_kept_answer_is_at_most_1_kb_and_cut_between_characters() {
        let long = "é".repeat(2000);
        let kept = truncate_response(long.as_bytes());
        assert!(kept.len() <= RESPONSE_LIMIT);
        assert_eq!(kept.len(), RESPONSE_LIMIT);
        let emoji = format!("a{}", "🎉".repeat(400));
        let kept = truncate_response(emoji.as_bytes());
        assert!(
            kept.len() <= RESPONSE_LIMIT && kept.chars().all(|c| c == 'a' || c == '🎉'),
            "{kept}"
        );
        assert_eq!(truncate_response(b"ok"), "ok");
    }
}

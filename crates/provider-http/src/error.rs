//! What can go wrong on one provider call, and how it reaches the service as a `CoreError`.

use std::time::Duration;

use availability_core::CoreError;
use availability_domain::IntegrationType;
use reqwest::StatusCode;

use crate::redact::{snippet, SNIPPET_CHARS};

/// A failed provider call. Provider crates match on it where a status means something to them
/// (Google's 409 `duplicate`, 410 `deleted`) and hand everything else to [`Self::into_core`].
///
/// No variant ever holds a token: bodies of token responses are never kept, and
/// [`crate::TokenManager::send_authorized`] scrubs the bearer token from error bodies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderHttpError {
    /// No answer in time: one attempt's timeout, or the total budget of the call.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The connection could not be made (DNS, refused, TLS handshake).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection broke while the request or the response was under way.
    #[error("the connection failed: {0}")]
    Transport(String),
    /// The provider answered with an error status.
    #[error("HTTP {}: {}", .status.as_u16(), snippet(.body, SNIPPET_CHARS))]
    Status {
        /// The status of the last answer.
        status: StatusCode,
        /// The start of the answer's body (at most [`crate::policy::ERROR_BODY_BYTES`] bytes).
        body: String,
        /// The status is a transient one (429, 5xx, a rate-limit 403) that the policy retried
        /// for as long as it could, or could not retry safely.
        transient: bool,
    },
    /// The answer could not be read as what the provider documents (or was too large).
    #[error("unreadable response: {0}")]
    Decode(String),
    /// The request could not be built (a malformed URL or header): a configuration error.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A failure from outside HTTP on the way: the token could not be had (needs_reauth), or
    /// storage failed.
    #[error(transparent)]
    Core(CoreError),
}

impl ProviderHttpError {
    /// The status of the answer, if the provider answered with an error status.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What the service reports: a provider that cannot be reached, timed out, or kept answering
    /// 429/5xx is unavailable; a 401 (after the one refresh [`crate::TokenManager`] makes) means
    /// the expert must reconnect; any other error status or an unreadable answer is an unusable
    /// response.
    pub fn into_core(self, integration: IntegrationType) -> CoreError {
        let message = self.to_string();
        match self {
            Self::Core(error) => error,
            Self::Timeout(_) | Self::Connect(_) | Self::Transport(_) | Self::InvalidRequest(_) => {
                CoreError::ProviderUnavailable { integration, message }
            }
            Self::Status { transient: true, .. } => CoreError::ProviderUnavailable { integration, message },
            Self::Status { status, .. } if status == StatusCode::UNAUTHORIZED => {
                CoreError::NeedsReauth { integration, message }
            }
            Self::Status { .. } | Self::Decode(_) => CoreError::ProviderResponse { integration, message },
        }
    }
}

impl From<CoreError> for ProviderHttpError {
    fn from(error: CoreError) -> Self {
        Self::Core(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, transient: bool) -> ProviderHttpError {
        ProviderHttpError::Status {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
            body: "{\"error\":\"x\"}".into(),
            transient,
        }
    }

    #[test]
    fn mapping_onto_core_errors() {
        let g = IntegrationType::from_static("google_calendar");
        assert!(matches!(
            status(503, true).into_core(g),
            CoreError::ProviderUnavailable { .. }
        ));
        assert!(matches!(
            status(429, true).into_core(g),
            CoreError::ProviderUnavailable { .. }
        ));
        assert!(matches!(
            status(403, true).into_core(g),
            CoreError::ProviderUnavailable { .. }
        ));
        assert!(matches!(status(401, false).into_core(g), CoreError::NeedsReauth { .. }));
        assert!(matches!(
            status(404, false).into_core(g),
            CoreError::ProviderResponse { .. }
        ));
        assert!(matches!(
            ProviderHttpError::Timeout(Duration::from_secs(10)).into_core(g),
            CoreError::ProviderUnavailable { .. }
        ));
        assert!(matches!(
            ProviderHttpError::Decode("x".into()).into_core(g),
            CoreError::ProviderResponse { .. }
        ));
        let e = status(500, true).into_core(g);
        assert_eq!(
            e.to_string(),
            "google_calendar is unavailable: HTTP 500: {\"error\":\"x\"}"
        );
    }
}

//! What can go wrong talking to a CalDAV server: the typed answer of connecting (which the
//! server turns into 422 `invalid_credentials` / 422 `discovery_failed` / 502-503), and the
//! internal error of one DAV exchange with its mapping onto the core's variants.

use availability_core::CoreError;
use http::StatusCode;
use provider_http::ProviderHttpError;

use crate::INTEGRATION;

/// Why connecting a CalDAV account failed. Nothing is stored in any of these cases.
/// Messages never contain the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The server refused the username and password (401 or 403): api.md `invalid_credentials`.
    #[error("the server refused the username and password (HTTP {status})")]
    InvalidCredentials {
        /// 401 or 403.
        status: u16,
    },
    /// The address answers, but no CalDAV calendar service was found there (no principal, no
    /// calendar home, no calendar holding events): api.md `discovery_failed`.
    #[error("no CalDAV calendar service found at that address: {0}")]
    DiscoveryFailed(String),
    /// The server could not be reached, timed out or kept failing (5xx, 429).
    #[error("the CalDAV server is unavailable: {0}")]
    Unavailable(String),
    /// The server URL is not an http(s) URL.
    #[error("the server URL is not usable: {0}")]
    InvalidUrl(String),
}

impl From<ConnectError> for CoreError {
    /// The typed answer of a connect (api.md): 422 `invalid_credentials`, 422
    /// `discovery_failed`, 503 `provider_unavailable`, 422 `invalid_settings`.
    fn from(error: ConnectError) -> Self {
        let message = error.to_string();
        match error {
            ConnectError::InvalidCredentials { .. } => CoreError::InvalidCredentials(format!(
                "{message}; iCloud, Yahoo and Fastmail accept only an app-specific password"
            )),
            ConnectError::DiscoveryFailed(_) => CoreError::DiscoveryFailed(message),
            ConnectError::Unavailable(_) => CoreError::ProviderUnavailable {
                integration: INTEGRATION,
                message,
            },
            ConnectError::InvalidUrl(_) => CoreError::InvalidSettings(message),
        }
    }
}

/// One DAV exchange that did not give what was asked for.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DavError {
    /// Transport, timeout, or a transient status the policy gave up on.
    #[error(transparent)]
    Http(#[from] ProviderHttpError),
    /// A final status that the caller did not expect (401/403/404/412 included: callers match).
    #[error("HTTP {0}")]
    Status(StatusCode),
    /// An answer that could not be read as the request's response.
    #[error("unreadable answer: {0}")]
    Parse(String),
    /// The request could not be built (a malformed href or URL).
    #[error("invalid request: {0}")]
    Request(String),
}

impl DavError {
    /// The final status, if the server answered with one.
    pub(crate) fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status(s) => Some(*s),
            Self::Http(e) => e.status(),
            _ => None,
        }
    }

    /// The credentials were refused: an app-specific password revoked or changed.
    pub(crate) fn is_auth(&self) -> bool {
        matches!(
            self.status(),
            Some(StatusCode::UNAUTHORIZED) | Some(StatusCode::FORBIDDEN)
        )
    }

    /// The server could not answer (as opposed to answering something unusable).
    pub(crate) fn is_unavailable(&self) -> bool {
        match self {
            Self::Http(ProviderHttpError::Status { transient, .. }) => *transient,
            Self::Http(ProviderHttpError::Core(_)) => false,
            Self::Http(ProviderHttpError::Decode(_)) => false,
            Self::Http(_) => true,
            Self::Status(s) => s.is_server_error() || *s == StatusCode::TOO_MANY_REQUESTS,
            _ => false,
        }
    }

    /// The core's variant. A 401/403 becomes `NeedsReauth` (the strategy also marks the
    /// integration); anything the server could not answer is `ProviderUnavailable`.
    pub(crate) fn into_core(self) -> CoreError {
        let integration = INTEGRATION;
        let message = self.to_string();
        if self.is_auth() {
            return CoreError::NeedsReauth {
                integration,
                message: format!(
                    "the CalDAV server refused the stored password ({message}); an app-specific password may have been revoked"
                ),
            };
        }
        if self.is_unavailable() {
            return CoreError::ProviderUnavailable { integration, message };
        }
        match self {
            Self::Http(ProviderHttpError::Core(e)) => e,
            _ => CoreError::ProviderResponse { integration, message },
        }
    }

    /// What connecting reports for this failure.
    pub(crate) fn into_connect(self, doing: &str) -> ConnectError {
        if let Some(status) = self.status().filter(|_| self.is_auth()) {
            return ConnectError::InvalidCredentials {
                status: status.as_u16(),
            };
        }
        if self.is_unavailable() {
            return ConnectError::Unavailable(self.to_string());
        }
        ConnectError::DiscoveryFailed(format!("{doing}: {self}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn statuses_map_onto_core_and_connect_errors() {
        assert!(matches!(
            DavError::Status(StatusCode::UNAUTHORIZED).into_core(),
            CoreError::NeedsReauth { .. }
        ));
        assert!(matches!(
            DavError::Status(StatusCode::FORBIDDEN).into_connect("x"),
            ConnectError::InvalidCredentials { status: 403 }
        ));
        assert!(matches!(
            DavError::Status(StatusCode::SERVICE_UNAVAILABLE).into_core(),
            CoreError::ProviderUnavailable { .. }
        ));
        assert!(matches!(
            DavError::Http(ProviderHttpError::Connect("refused".into())).into_connect("x"),
            ConnectError::Unavailable(_)
        ));
        assert!(matches!(
            DavError::Status(StatusCode::NOT_FOUND).into_connect("finding the principal"),
            ConnectError::DiscoveryFailed(_)
        ));
        assert!(matches!(
            DavError::Parse("x".into()).into_core(),
            CoreError::ProviderResponse { .. }
        ));
    }

    #[test]
    fn connect_errors_are_the_core_variants_of_the_api_codes() {
        assert!(matches!(
            CoreError::from(ConnectError::InvalidCredentials { status: 401 }),
            CoreError::InvalidCredentials(m) if m.contains("app-specific")
        ));
        assert!(matches!(
            CoreError::from(ConnectError::DiscoveryFailed("no principal".into())),
            CoreError::DiscoveryFailed(_)
        ));
        assert!(matches!(
            CoreError::from(ConnectError::Unavailable("refused".into())),
            CoreError::ProviderUnavailable { integration, .. } if integration == INTEGRATION
        ));
        assert!(matches!(
            CoreError::from(ConnectError::InvalidUrl("ftp://x".into())),
            CoreError::InvalidSettings(_)
        ));
    }
}

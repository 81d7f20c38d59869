//! What can go wrong while building the strategy. At run time the strategy reports
//! `availability_core::CoreError`, as every strategy does.

use availability_domain::IntegrationType;
use provider_http::ProviderHttpError;

/// The strategy could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Office365Error {
    /// A required piece was not given.
    #[error("the Office 365 strategy needs {0}")]
    Missing(&'static str),
    /// A URL could not be used.
    #[error("{what} is not usable: {reason}")]
    InvalidUrl {
        /// Which URL.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The token manager given serves another integration.
    #[error("the token manager serves {0}, not office365_calendar")]
    WrongIntegration(IntegrationType),
    /// The HTTP client or the OAuth app could not be made.
    #[error(transparent)]
    Http(#[from] ProviderHttpError),
}

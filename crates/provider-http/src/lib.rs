#![doc = include_str!("../README.md")]

pub mod connect;
mod error;
pub mod limiter;
pub mod oauth;
pub mod policy;
mod redact;
pub mod stored;
pub mod tokens;

pub use connect::{email_from_id_token, revoke_grant, token_connection, OAuthSettings};
pub use error::ProviderHttpError;
pub use limiter::{AccountLimiter, AccountPermit};
pub use oauth::{AuthorizationRequest, ClientAuth, OAuthApp, OAuthConfig, TokenSet};
pub use policy::{google_rate_limit_403, HttpPolicy, RateLimitClassifier, Reply, SendOptions};
pub use stored::StoredTokens;
pub use tokens::TokenManager;

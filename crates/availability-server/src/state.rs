//! What every handler shares.

use std::sync::Arc;

use actix_web::HttpRequest;
use availability_core::{AvailabilityService, ProviderRegistry};
use availability_store::{tokens, Store, StoreError, TokenRecord};
use tokio::sync::Notify;

use crate::config::Config;
use crate::throttle::{client_address, AuthThrottle};

/// Shared by all workers.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Slots and bookings.
    pub service: AvailabilityService,
    /// The settings the server started with.
    pub config: Arc<Config>,
    /// The registered providers, in registration order.
    pub providers: ProviderRegistry,
    /// Wakes the outbox worker after a booking change.
    pub sync_wake: Arc<Notify>,
    /// Wakes the push keeper after an expert connected, switched or disconnected a calendar, so
    /// that a channel is opened (or stopped) at once rather than at its next round.
    pub push_wake: Arc<Notify>,
    /// Failed authentications per client address.
    pub throttle: AuthThrottle,
    /// SHA-256 of ADMIN_TOKEN: the token itself is not kept in memory longer than start-up.
    admin_token_hash: Option<Vec<u8>>,
    /// SHA-256 of METRICS_TOKEN, if set.
    metrics_token_hash: Option<Vec<u8>>,
    /// The database's gauges of /metrics.
    metrics: crate::prometheus::DatabaseGauges,
}

impl AppState {
    /// Builds the shared state.
    pub fn new(
        store: Store,
        service: AvailabilityService,
        config: Arc<Config>,
        providers: ProviderRegistry,
        sync_wake: Arc<Notify>,
    ) -> Self {
        let admin_token_hash = config
            .admin_token
            .as_ref()
            .and_then(|t| hex::decode(tokens::token_hash(t.expose())).ok());
        let metrics_token_hash = config
            .metrics_token
            .as_ref()
            .and_then(|t| hex::decode(tokens::token_hash(t.expose())).ok());
        Self {
            metrics_token_hash,
            metrics: crate::prometheus::DatabaseGauges::default(),
            throttle: AuthThrottle::new(config.auth_throttle),
            store,
            service,
            config,
            providers,
            sync_wake,
            push_wake: Arc::new(Notify::new()),
            admin_token_hash,
        }
    }

    /// The stored token a caller presented (not ADMIN_TOKEN), if it is known and unexpired. Asked
    /// of the database on every request (one primary-key read), never cached: a revoked token is
    /// refused by every server process from the next request on.
    pub async fn token(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.store.token(token.to_owned()).await
    }

    /// Counts a failed authentication of the request's client address.
    pub fn authentication_failed(&self, req: &HttpRequest) {
        if let Some(address) = client_address(req, &self.config.trusted_proxies) {
            self.throttle.failed(address);
        }
    }

    /// Whether a presented token is ADMIN_TOKEN (compared in constant time, on hashes).
    pub fn is_admin_token(&self, token: &str) -> bool {
        same_token(self.admin_token_hash.as_deref(), token)
    }

    /// Whether METRICS_TOKEN is set (without it, the main listener has no /metrics).
    pub fn has_metrics_token(&self) -> bool {
        self.metrics_token_hash.is_some()
    }

    /// Whether a presented token is METRICS_TOKEN (compared in constant time, on hashes).
    pub fn is_metrics_token(&self, token: &str) -> bool {
        same_token(self.metrics_token_hash.as_deref(), token)
    }

    /// The Prometheus text of /metrics.
    pub(crate) async fn metrics_text(&self) -> String {
        self.metrics.render(&self.store).await
    }
}

/// Whether `token` hashes to `expected` (compared in constant time; no expected hash: never).
fn same_token(expected: Option<&[u8]>, token: &str) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    let Ok(presented) = hex::decode(tokens::token_hash(token)) else {
        return false;
    };
    #[allow(deprecated)]
    ring::constant_time::verify_slices_are_equal(expected, &presented).is_ok()
}

//! What every handler shares.

use std::sync::Arc;

use availability_core::AvailabilityService;
use availability_store::{tokens, Store};

use crate::config::Config;

/// Shared by all workers.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Slots and bookings.
    pub service: AvailabilityService,
    /// The settings the server started with.
    pub config: Arc<Config>,
    /// SHA-256 of ADMIN_TOKEN: the token itself is not kept in memory longer than start-up.
    admin_token_hash: Option<Vec<u8>>,
}

impl AppState {
    /// Builds the shared state.
    pub fn new(store: Store, service: AvailabilityService, config: Arc<Config>) -> Self {
        let admin_token_hash = config
            .admin_token
            .as_ref()
            .and_then(|t| hex::decode(tokens::token_hash(t.expose())).ok());
        Self {
            store,
            service,
            config,
            admin_token_hash,
        }
    }

    /// Whether a presented token is ADMIN_TOKEN (compared in constant time, on hashes).
    pub fn is_admin_token(&self, token: &str) -> bool {
        let Some(expected) = &self.admin_token_hash else {
            return false;
        };
        let Ok(presented) = hex::decode(tokens::token_hash(token)) else {
            return false;
        };
        #[allow(deprecated)]
        ring::constant_time::verify_slices_are_equal(expected, &presented).is_ok()
    }
}

//! What every handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use availability_core::{AvailabilityService, ProviderRegistry};
use availability_store::{tokens, Principal, Store, StoreError};
use tokio::sync::Notify;

use crate::config::Config;

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
    /// SHA-256 of ADMIN_TOKEN: the token itself is not kept in memory longer than start-up.
    admin_token_hash: Option<Vec<u8>>,
    /// Token hash -> principal, for a short while: tokens never change their principal, and
    /// this saves a database round trip on every request.
    principals: Mutex<HashMap<String, (Principal, Instant)>>,
}

/// How long a looked-up token is trusted without asking the database again.
const PRINCIPAL_TTL: Duration = Duration::from_secs(60);
const PRINCIPAL_CACHE_MAX: usize = 10_000;

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
        Self {
            store,
            service,
            config,
            providers,
            sync_wake,
            admin_token_hash,
            principals: Mutex::new(HashMap::new()),
        }
    }

    /// Who a presented (non-admin) token speaks for, if anyone.
    pub async fn principal(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        let hash = tokens::token_hash(token);
        let cached = self
            .principals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hash)
            .copied();
        if let Some((principal, at)) = cached {
            if at.elapsed() < PRINCIPAL_TTL {
                return Ok(Some(principal));
            }
        }
        let found = self.store.principal(token.to_owned()).await?;
        if let Some(p) = found {
            let mut cache = self.principals.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= PRINCIPAL_CACHE_MAX {
                cache.clear();
            }
            cache.insert(hash, (p, Instant::now()));
        }
        Ok(found)
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

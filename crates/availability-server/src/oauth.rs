//! The OAuth 2.0 connect flow of the calendar providers (filled in with the provider-http crate).

use availability_domain::{IntegrationType, Secret};

use crate::state::AppState;

/// Revokes a wiped credential where the provider has a revocation endpoint (best effort).
pub async fn revoke(_state: &AppState, integration: IntegrationType, _credential: Secret<String>) {
    tracing::info!("{integration}: credential wiped");
}

//! What the server says about a provider's failures, in its own words. Provider crates describe a
//! failure with what they saw (an answer's body, an upstream URL, a transport error); that detail
//! goes to the log, and API answers, an integration's `last_error` and an appointment's
//! `sync_error` carry one of the sentences below. A provider's body or host name could tell a
//! caller about the provider's or our infrastructure, or carry text the provider never meant for
//! our users.

use std::sync::Arc;

use async_trait::async_trait;
use availability_core::{CoreError, IntegrationRepository};
use availability_domain::{ExpertId, IntegrationType};

/// The kinds of provider failure an answer can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderTrouble {
    /// Unreachable, timed out, or kept answering 429/5xx (`provider_unavailable`).
    Unavailable,
    /// Answered something unusable (`provider_error`).
    Unusable,
    /// No longer accepts the stored grant, or it cannot be read (`needs_reauth`).
    NeedsReauth,
}

impl ProviderTrouble {
    /// The sentence for a person, naming the provider as people know it.
    pub fn words(self, display_name: &str) -> String {
        match self {
            Self::Unavailable => format!("{display_name} cannot be reached right now; try again shortly"),
            Self::Unusable => {
                format!("{display_name} gave an answer this server cannot use; try again later")
            }
            Self::NeedsReauth => format!(
                "{display_name} no longer accepts this server's access to the calendar: the expert must connect it again"
            ),
        }
    }
}

/// Stored as an integration's `last_error` when a call to the provider failed.
const FAILURE_SHOWN: &str = "the last call to the provider failed (the server log has the details); it is tried again";
/// Stored as an integration's `last_error` when its grant is gone.
const NEEDS_REAUTH_SHOWN: &str =
    "the provider no longer accepts the stored access, or it cannot be read: connect the calendar again";

/// The integration status port as the providers see it: what they report is logged as it is and
/// stored in the server's words, since GET integrations shows it.
pub struct WordedIntegrations(pub Arc<dyn IntegrationRepository>);

#[async_trait]
impl IntegrationRepository for WordedIntegrations {
    async fn expert_by_setting(
        &self,
        integration: IntegrationType,
        key: &str,
        value: &str,
    ) -> Result<Option<ExpertId>, CoreError> {
        self.0.expert_by_setting(integration, key, value).await
    }

    async fn record_success(&self, expert: ExpertId, integration: IntegrationType) -> Result<(), CoreError> {
        self.0.record_success(expert, integration).await
    }

    async fn record_failure(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        reason: &str,
    ) -> Result<(), CoreError> {
        tracing::warn!(%integration, %expert, "provider call failed: {reason}");
        self.0.record_failure(expert, integration, FAILURE_SHOWN).await
    }

    async fn mark_needs_reauth(
        &self,
        expert: ExpertId,
        integration: IntegrationType,
        reason: &str,
    ) -> Result<(), CoreError> {
        tracing::warn!(%integration, %expert, "the integration needs to be connected again: {reason}");
        self.0.mark_needs_reauth(expert, integration, NEEDS_REAUTH_SHOWN).await
    }
}

//! The access token of an expert's OAuth integration, as strategies use it.
//!
//! The rules, and why:
//! - Refresh when the access token expires within 60 s, so that a request does not leave with a
//!   token that dies on the way.
//! - One refresh per expert at a time. Calendly's refresh tokens are single use and Microsoft
//!   rotates them: two concurrent refreshes would spend the same token twice, and the loser's
//!   invalid_grant would lock the expert out.
//! - The rotated refresh token is saved before the new access token is handed to anyone; if the
//!   save fails the call fails. Using a token whose successor is lost would work once and then
//!   need the expert to reconnect.
//! - A refresh, once started, finishes (and saves) even if the caller stops waiting: it runs in
//!   its own task, since a response already received carries the only copy of the new token.
//! - invalid_grant, or a credential that cannot be read, marks the integration `needs_reauth`.
//!   Except when another server process spent the refresh token first (the lock above is per
//!   process): then the grant it stored is used. So invalid_grant looks at the stored grant again,
//!   for up to a second, before it locks the expert out.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use availability_core::ports::{CredentialRepository, IntegrationRepository};
use availability_core::{Clock, CoreError, SystemClock};
use availability_domain::jiff::SignedDuration;
use availability_domain::{ExpertId, IntegrationType, Secret};
use reqwest::{RequestBuilder, StatusCode};
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use crate::oauth::{OAuthApp, TokenSet};
use crate::policy::{HttpPolicy, Reply, SendOptions};
use crate::stored::StoredTokens;
use crate::ProviderHttpError;

/// How long before expiry an access token is refreshed.
pub const REFRESH_MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// How often a refreshed grant's save is tried before the refresh fails.
const SAVE_TRIES: u32 = 3;

/// After invalid_grant: how often, and how far apart, the stored grant is read again in case
/// another process refreshed it (it saves right after its refresh answer: milliseconds).
const ELSEWHERE_CHECKS: u32 = 5;
const ELSEWHERE_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// Access tokens of one OAuth integration for every expert: loads, refreshes and stores them.
/// Cheap to clone; clones share the per-expert locks.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    app: Arc<OAuthApp>,
    credentials: Arc<dyn CredentialRepository>,
    integrations: Arc<dyn IntegrationRepository>,
    clock: Arc<dyn Clock>,
    /// One async mutex per expert whose tokens are being written; removed when nobody holds or
    /// waits for it.
    locks: Mutex<HashMap<ExpertId, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("integration", &self.inner.app.integration())
            .finish_non_exhaustive()
    }
}

/// Holds an expert's token lock; forgets the lock when nobody else wants it.
struct ExpertLock {
    guard: Option<OwnedMutexGuard<()>>,
    expert: ExpertId,
    inner: Arc<Inner>,
}

impl Drop for ExpertLock {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self.inner.locks.lock().unwrap_or_else(PoisonError::into_inner);
        // Everyone takes a reference under this lock, so a count of 1 (the map's) means nobody
        // holds or waits for it.
        if locks.get(&self.expert).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            locks.remove(&self.expert);
        }
    }
}

impl TokenManager {
    /// A manager for `app`'s integration, over the store's credentials and integration status.
    pub fn new(
        app: Arc<OAuthApp>,
        credentials: Arc<dyn CredentialRepository>,
        integrations: Arc<dyn IntegrationRepository>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                app,
                credentials,
                integrations,
                clock: Arc::new(SystemClock),
                locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Uses `clock` to decide whether a token is about to expire (for tests).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        let inner = Inner {
            app: self.inner.app.clone(),
            credentials: self.inner.credentials.clone(),
            integrations: self.inner.integrations.clone(),
            clock,
            locks: Mutex::new(HashMap::new()),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The OAuth app.
    pub fn app(&self) -> &OAuthApp {
        &self.inner.app
    }

    /// The integration the tokens are for.
    pub fn integration(&self) -> IntegrationType {
        self.inner.app.integration()
    }

    /// The expert's stored grant (account and provider settings included). `NeedsReauth` if the
    /// expert is not connected or the credential cannot be read (which also marks needs_reauth).
    pub async fn stored(&self, expert: ExpertId) -> Result<StoredTokens, CoreError> {
        self.inner.load(expert).await
    }

    /// An access token valid for at least another minute, refreshed first if needed.
    pub async fn access_token(&self, expert: ExpertId) -> Result<Secret<String>, CoreError> {
        let stored = self.inner.load(expert).await?;
        if !stored.expires_within(self.inner.clock.now(), REFRESH_MARGIN) {
            return Ok(stored.access_token);
        }
        let lock = self.lock(expert).await;
        // Whoever held the lock before may have refreshed already.
        let stored = self.inner.load(expert).await?;
        if !stored.expires_within(self.inner.clock.now(), REFRESH_MARGIN) {
            return Ok(stored.access_token);
        }
        self.refresh_in_task(lock, stored).await
    }

    /// The provider answered 401 to `rejected`: refresh once. If the stored token is already a
    /// different, fresh one (another task refreshed meanwhile), that one is returned instead of
    /// refreshing again.
    pub async fn refresh_after_401(
        &self,
        expert: ExpertId,
        rejected: &Secret<String>,
    ) -> Result<Secret<String>, CoreError> {
        let lock = self.lock(expert).await;
        let stored = self.inner.load(expert).await?;
        if stored.access_token != *rejected && !stored.expires_within(self.inner.clock.now(), REFRESH_MARGIN) {
            return Ok(stored.access_token);
        }
        self.refresh_in_task(lock, stored).await
    }

    /// Stores the grant of an OAuth callback (replacing an earlier one), with the provider
    /// account shown to the expert and provider-specific settings.
    pub async fn store_new_grant(
        &self,
        expert: ExpertId,
        tokens: TokenSet,
        account: Option<String>,
        extra: serde_json::Value,
    ) -> Result<(), CoreError> {
        // Under the lock, so that a refresh of the old grant that finishes later cannot
        // overwrite the new one.
        let _lock = self.lock(expert).await;
        let stored = StoredTokens::from_grant(tokens, account, extra);
        self.inner.save(expert, &stored).await
    }

    /// Changes the provider-specific settings stored with the grant (under the expert's lock, so
    /// that it cannot undo a concurrent refresh's rotated token).
    pub async fn update_extra<F>(&self, expert: ExpertId, change: F) -> Result<(), CoreError>
    where
        F: FnOnce(&mut serde_json::Value),
    {
        let _lock = self.lock(expert).await;
        let mut stored = self.inner.load(expert).await?;
        change(&mut stored.extra);
        self.inner.save(expert, &stored).await
    }

    /// Disconnects: revokes the grant where the provider can (best effort: a failure is logged)
    /// and wipes the credential. Idempotent.
    pub async fn disconnect(&self, expert: ExpertId) -> Result<(), CoreError> {
        let _lock = self.lock(expert).await;
        let integration = self.integration();
        let credential = self.inner.credentials.load(expert, integration).await?;
        if let Some(stored) = credential.and_then(|c| StoredTokens::from_credential(&c).ok()) {
            // Revoking the refresh token ends the whole grant at Google and Calendly.
            let token = stored.refresh_token.unwrap_or(stored.access_token);
            if let Err(error) = self.inner.app.revoke(&token).await {
                tracing::warn!(%expert, %integration, %error, "revoking the grant failed; wiping it anyway");
            }
        }
        self.inner.credentials.delete(expert, integration).await
    }

    /// Sends the request `build` makes with the expert's bearer token, through `policy`. On a
    /// 401 the token is refreshed once (see [`Self::refresh_after_401`]) and the request sent
    /// once more; a second 401 marks the integration needs_reauth and fails with
    /// `ProviderHttpError::Core(CoreError::NeedsReauth)`. The whole call, token refresh
    /// included, stays within `policy`'s total budget. Error bodies are scrubbed of the token.
    pub async fn send_authorized<F>(
        &self,
        expert: ExpertId,
        policy: &HttpPolicy,
        options: &SendOptions<'_>,
        mut build: F,
    ) -> Result<Reply, ProviderHttpError>
    where
        F: FnMut() -> RequestBuilder,
    {
        let deadline = Instant::now() + policy.total_timeout;
        let token = self.token_by(deadline, policy, self.access_token(expert)).await?;
        match send_with_token(policy, deadline, options, &mut build, &token).await {
            Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) => {}
            other => return other,
        }
        let token = self
            .token_by(deadline, policy, self.refresh_after_401(expert, &token))
            .await?;
        match send_with_token(policy, deadline, options, &mut build, &token).await {
            Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) => {
                let integration = self.integration();
                let reason = format!(
                    "{integration} rejected a freshly refreshed access token (HTTP 401) at {}",
                    self.inner.clock.now()
                );
                self.inner.mark_needs_reauth(expert, &reason).await;
                Err(ProviderHttpError::Core(CoreError::NeedsReauth {
                    integration,
                    message: reason,
                }))
            }
            other => other,
        }
    }

    /// Waits for a token until `deadline`. A refresh that is cut off keeps running in its task and
    /// still saves what it gets.
    async fn token_by<T>(
        &self,
        deadline: Instant,
        policy: &HttpPolicy,
        token: T,
    ) -> Result<Secret<String>, ProviderHttpError>
    where
        T: std::future::Future<Output = Result<Secret<String>, CoreError>>,
    {
        match tokio::time::timeout_at(deadline, token).await {
            Ok(token) => token.map_err(ProviderHttpError::Core),
            Err(_elapsed) => Err(ProviderHttpError::Timeout(policy.total_timeout)),
        }
    }

    async fn lock(&self, expert: ExpertId) -> ExpertLock {
        let mutex = {
            let mut locks = self.inner.locks.lock().unwrap_or_else(PoisonError::into_inner);
            locks.entry(expert).or_default().clone()
        };
        let guard = mutex.lock_owned().await;
        ExpertLock {
            guard: Some(guard),
            expert,
            inner: self.inner.clone(),
        }
    }

    /// Refreshes and saves in a task of its own, holding the expert's lock until the save is done.
    async fn refresh_in_task(&self, lock: ExpertLock, stored: StoredTokens) -> Result<Secret<String>, CoreError> {
        let inner = self.inner.clone();
        let expert = lock.expert;
        let task = tokio::spawn(async move {
            let _lock = lock;
            inner.refresh_and_save(expert, stored).await
        });
        task.await.map_err(|e| CoreError::ProviderUnavailable {
            integration: self.integration(),
            message: format!("the token refresh did not finish: {e}"),
        })?
    }
}

impl Inner {
    fn integration(&self) -> IntegrationType {
        self.app.integration()
    }

    async fn load(&self, expert: ExpertId) -> Result<StoredTokens, CoreError> {
        let integration = self.integration();
        let Some(credential) = self.credentials.load(expert, integration).await? else {
            return Err(CoreError::NeedsReauth {
                integration,
                message: "not connected".into(),
            });
        };
        match StoredTokens::from_credential(&credential) {
            Ok(stored) => Ok(stored),
            Err(why) => {
                let message = format!("the stored credential cannot be read ({why}) at {}", self.clock.now());
                self.mark_needs_reauth(expert, &message).await;
                Err(CoreError::NeedsReauth { integration, message })
            }
        }
    }

    async fn save(&self, expert: ExpertId, stored: &StoredTokens) -> Result<(), CoreError> {
        self.credentials
            .save(expert, self.integration(), stored.to_credential()?)
            .await
    }

    /// Saves a refreshed grant, trying a few times: after a rotation the only copy of the new
    /// refresh token is in memory here, and a brief storage hiccup should not cost the expert
    /// the connection.
    async fn save_refreshed(&self, expert: ExpertId, stored: &StoredTokens) -> Result<(), CoreError> {
        let mut delay = std::time::Duration::from_millis(100);
        let mut tries = 1;
        loop {
            match self.save(expert, stored).await {
                Ok(()) => return Ok(()),
                Err(error) if tries >= SAVE_TRIES => return Err(error),
                Err(error) => {
                    tracing::warn!(%expert, integration = %self.integration(), %error, "saving refreshed tokens failed; trying again");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    tries += 1;
                }
            }
        }
    }

    async fn refresh_and_save(&self, expert: ExpertId, mut stored: StoredTokens) -> Result<Secret<String>, CoreError> {
        let integration = self.integration();
        let Some(refresh_token) = stored.refresh_token.clone() else {
            let reason = format!(
                "the access token expired and {integration} granted no refresh token (at {})",
                self.clock.now()
            );
            self.mark_needs_reauth(expert, &reason).await;
            return Err(CoreError::NeedsReauth {
                integration,
                message: reason,
            });
        };
        match self.app.refresh(&refresh_token).await {
            Ok(tokens) => {
                stored.apply_refresh(tokens);
                if let Err(error) = self.save_refreshed(expert, &stored).await {
                    // The provider may have spent the old refresh token: this expert will likely
                    // have to reconnect. Say so loudly; never use the unsaved token.
                    tracing::error!(%expert, %integration, %error, "a refreshed token could not be saved");
                    return Err(error);
                }
                Ok(stored.access_token)
            }
            Err(CoreError::NeedsReauth { message, .. }) => {
                if let Some(token) = self.refreshed_elsewhere(expert, &refresh_token).await {
                    return Ok(token);
                }
                let reason = format!("{message} (refresh at {})", self.clock.now());
                self.mark_needs_reauth(expert, &reason).await;
                Err(CoreError::NeedsReauth {
                    integration,
                    message: reason,
                })
            }
            Err(error) => Err(error),
        }
    }

    /// The access token of a grant another server process stored after spending `spent` (the
    /// refresh token this one was refused for), if one appears within a second.
    async fn refreshed_elsewhere(&self, expert: ExpertId, spent: &Secret<String>) -> Option<Secret<String>> {
        for _ in 0..ELSEWHERE_CHECKS {
            let credential = self.credentials.load(expert, self.integration()).await;
            let current = credential
                .ok()
                .flatten()
                .and_then(|c| StoredTokens::from_credential(&c).ok());
            if let Some(current) = current {
                let replaced = current.refresh_token.as_ref().map(|t| t.expose()) != Some(spent.expose());
                if replaced && !current.expires_within(self.clock.now(), REFRESH_MARGIN) {
                    return Some(current.access_token);
                }
            }
            tokio::time::sleep(ELSEWHERE_PAUSE).await;
        }
        None
    }

    /// Marks needs_reauth; a failure to record it is logged, not returned: the caller's error
    /// (the expert must reconnect) is the one that matters.
    async fn mark_needs_reauth(&self, expert: ExpertId, reason: &str) {
        let integration = self.integration();
        if let Err(error) = self.integrations.mark_needs_reauth(expert, integration, reason).await {
            tracing::warn!(%expert, %integration, %error, "could not mark the integration needs_reauth");
        }
    }
}

async fn send_with_token<F>(
    policy: &HttpPolicy,
    deadline: Instant,
    options: &SendOptions<'_>,
    build: &mut F,
    token: &Secret<String>,
) -> Result<Reply, ProviderHttpError>
where
    F: FnMut() -> RequestBuilder,
{
    let reply = policy
        .send_raw_until(deadline, options, || build().bearer_auth(token.expose()))
        .await
        .and_then(Reply::error_for_status);
    reply.map_err(|error| match error {
        ProviderHttpError::Status {
            status,
            body,
            transient,
        } => ProviderHttpError::Status {
            status,
            body: crate::redact::scrub(&body, &[token.expose()]),
            transient,
        },
        other => other,
    })
}

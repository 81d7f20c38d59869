//! Push channels on experts' calendars (Google's events.watch, Graph's subscriptions): every
//! expert whose active calendar sends push notifications has one live channel to
//! `PUBLIC_BASE_URL/webhooks/{calendar type}`. Each round, in every server process: a missing
//! channel is opened; one past half its life is extended in place where the calendar allows it
//! (Graph), else replaced, the new channel first, then the old one stopped; one of an older
//! connection (a reconnect, another calendar) is replaced; the channels of experts who left the
//! integration are stopped. An
//! expert's channels are changed only under a lease in the database, so two processes never open
//! two channels or renew one twice. With push off (no https PUBLIC_BASE_URL) nothing is opened and
//! the catch-up reads keep appointments right.

use std::time::Duration;

use availability_core::{ChannelRequest, PushChannels, StrategyRegistry};
use availability_domain::jiff::Timestamp;
use availability_domain::{Expert, ExpertId, IntegrationType};
use availability_store::{NewPushChannel, PushChannel, Store};

/// How long one process may hold an expert's lease (far beyond a watch call's time).
const LEASE_SECONDS: i64 = 60;

/// What the keeper needs.
pub struct PushKeeper {
    /// The database.
    pub store: Store,
    /// The strategies (those with push open channels).
    pub strategies: StrategyRegistry,
    /// `PUBLIC_BASE_URL/webhooks`.
    pub base: String,
    /// How long a channel is asked to live.
    pub ttl_seconds: i64,
    /// Woken when an expert connects, switches or disconnects a calendar.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

/// Whether a channel is current: of this connection and with more than half of the life the
/// calendar granted it left (calendars may grant less than asked: Graph three days at most).
pub fn is_fresh(channel: &PushChannel, connection: i64, now: i64) -> bool {
    let life = channel.expires_at - channel.created_at;
    channel.connection == connection && channel.expires_at - now > life / 2
}

impl PushKeeper {
    /// Runs until the process ends.
    pub async fn run(self) {
        let types: Vec<IntegrationType> = self
            .strategies
            .iter()
            .filter(|s| s.push().is_some())
            .map(|s| s.integration_type())
            .collect();
        if types.is_empty() {
            return;
        }
        let tick = Duration::from_secs(u64::try_from(self.ttl_seconds / 8).unwrap_or(1).clamp(1, 60));
        loop {
            self.round(&types).await;
            let _ = tokio::time::timeout(tick, self.wake.notified()).await;
        }
    }

    async fn round(&self, types: &[IntegrationType]) {
        let experts = match self.store.experts_using(types.to_vec()).await {
            Ok(experts) => experts,
            Err(e) => {
                tracing::warn!("push channels: cannot list experts: {e}");
                return;
            }
        };
        for id in &experts {
            if let Err(e) = self.keep(*id).await {
                tracing::warn!("push channels of expert {id}: {e}");
            }
        }
        if let Err(e) = self.stop_orphans().await {
            tracing::warn!("push channels: {e}");
        }
    }

    /// One live, current channel for the expert, under the expert's lease.
    async fn keep(&self, id: ExpertId) -> anyhow::Result<()> {
        let expert = self.store.expert(id).await?;
        let integration = expert.integration_type;
        let connection = self.store.calendar_connection(id).await?;
        let now = Timestamp::now().as_second();
        let channels = self.store.push_channels_of(id, integration).await?;
        let settled = channels.len() == 1 && is_fresh(&channels[0], connection, now);
        if settled || !self.store.take_push_lease(id, integration, LEASE_SECONDS).await? {
            return Ok(());
        }
        let result = self.renew(&expert, connection).await;
        self.store.release_push_lease(id, integration).await?;
        result
    }

    /// Inside the lease: keeps a fresh channel, else extends one in place (Graph) or opens a new
    /// one, then stops every other one.
    async fn renew(&self, expert: &Expert, connection: i64) -> anyhow::Result<()> {
        let integration = expert.integration_type;
        let strategy = self.strategies.get(integration)?;
        let Some(push) = strategy.push() else {
            return Ok(());
        };
        let now = Timestamp::now().as_second();
        // Read again under the lease: another process may have just renewed.
        let channels = self.store.push_channels_of(expert.id, integration).await?;
        let fresh = channels
            .iter()
            .find(|c| is_fresh(c, connection, now))
            .map(|c| c.id.clone());
        let kept = match fresh {
            Some(id) => id,
            None => match self.extend(expert, push, &channels, connection, now).await {
                Some(id) => id,
                None => self.open(expert, push, connection).await?,
            },
        };
        for old in channels.into_iter().filter(|c| c.id != kept) {
            if let Err(e) = push.close_channel(expert, &old.id, &old.resource_id).await {
                // It expires on its own; its notifications are refused as unknown once forgotten.
                tracing::warn!("push channel {} of expert {}: cannot stop it: {e}", old.id, expert.id);
            }
            self.store.delete_push_channel(old.id).await?;
        }
        Ok(())
    }

    /// Extends the newest live channel of this connection in place, where the calendar allows it:
    /// its id, or None (a new channel is opened then).
    async fn extend(
        &self,
        expert: &Expert,
        push: &dyn PushChannels,
        channels: &[PushChannel],
        connection: i64,
        now: i64,
    ) -> Option<String> {
        let live = channels
            .iter()
            .find(|c| c.connection == connection && c.expires_at > now)?;
        match push.renew_channel(expert, &live.id, self.ttl_seconds).await {
            Ok(Some(expires_at)) => {
                if let Err(e) = self
                    .store
                    .renewed_push_channel(live.id.clone(), expires_at.as_second())
                    .await
                {
                    tracing::warn!(
                        "push channel {} of expert {}: renewed, not recorded: {e}",
                        live.id,
                        expert.id
                    );
                }
                tracing::info!("push channel {} of expert {} renewed", live.id, expert.id);
                Some(live.id.clone())
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(
                    "push channel {} of expert {}: cannot renew it, opening another: {e}",
                    live.id,
                    expert.id
                );
                None
            }
        }
    }

    /// Opens a new channel and stores it: its id.
    async fn open(&self, expert: &Expert, push: &dyn PushChannels, connection: i64) -> anyhow::Result<String> {
        let integration = expert.integration_type;
        let token = availability_store::tokens::new_token()?;
        let request = ChannelRequest {
            id: uuid::Uuid::new_v4().to_string(),
            token: token.clone(),
            address: format!("{}/{}", self.base, self.path_of(integration)),
            ttl_seconds: self.ttl_seconds,
        };
        let opened = push.open_channel(expert, &request).await?;
        self.store
            .insert_push_channel(NewPushChannel {
                id: opened.id.clone(),
                expert: expert.id,
                integration,
                connection,
                token,
                resource_id: opened.resource_id,
                expires_at: opened.expires_at.as_second(),
            })
            .await?;
        tracing::info!(
            "push channel {} opened on the calendar of expert {}",
            opened.id,
            expert.id
        );
        Ok(opened.id)
    }

    /// The webhook path of an integration: its calendar type where it has one (api.md's
    /// `/webhooks/google`, `/webhooks/office365`), else its integration type.
    fn path_of(&self, integration: IntegrationType) -> String {
        self.strategies
            .get(integration)
            .ok()
            .and_then(|s| s.calendar_type())
            .map_or_else(|| integration.as_str().to_owned(), |c| c.as_str().to_owned())
    }

    /// Stops the channels of experts whose active integration is not the channel's any more
    /// (disconnected, or switched to another calendar).
    async fn stop_orphans(&self) -> anyhow::Result<()> {
        for channel in self.store.all_push_channels().await? {
            let Ok(id) = channel.expert_id.parse::<ExpertId>() else {
                continue;
            };
            let expert = match self.store.expert(id).await {
                Ok(expert) => expert,
                Err(_) => {
                    self.store.delete_push_channel(channel.id).await?;
                    continue;
                }
            };
            if expert.integration_type.as_str() == channel.integration_type {
                continue;
            }
            let strategy = IntegrationType::parse(&channel.integration_type)
                .ok()
                .and_then(|t| self.strategies.get(t).ok().cloned());
            if let Some(push) = strategy.as_deref().and_then(|s| s.push()) {
                if let Err(e) = push.close_channel(&expert, &channel.id, &channel.resource_id).await {
                    tracing::warn!("push channel {} of expert {id}: cannot stop it: {e}", channel.id);
                }
            }
            self.store.delete_push_channel(channel.id).await?;
        }
        Ok(())
    }
}

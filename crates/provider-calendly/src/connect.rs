//! Connecting and disconnecting an expert's Calendly account: a personal access token (checked
//! with GET /users/me), or an OAuth grant; the event type whose available times are the slots
//! (api.md: `event_type_required`, `unknown_event_type`); and the webhook subscription.

use availability_domain::{ExpertId, Secret};
use provider_http::{ProviderHttpError, SendOptions, StoredTokens, TokenSet};
use reqwest::StatusCode;
use serde_json::json;

use availability_core::CoreError;

use crate::stored::{CalendlyAuth, ChosenEventType, StoredCalendly};
use crate::strategy::{Bearer, CalendlyStrategy, Inner, INTEGRATION};
use crate::wire::{self, ErrorBody, Resource};

/// The Calendly user behind a token (GET /users/me).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendlyAccount {
    /// `https://api.calendly.com/users/<uuid>`.
    pub user_uri: String,
    /// The user's name.
    pub name: String,
    /// The user's email (shown as the integration's account).
    pub email: String,
    /// The user's current organization (webhook subscriptions name it).
    pub organization_uri: String,
    /// The user's IANA zone, if Calendly says.
    pub timezone: Option<String>,
}

/// An event type of the Calendly user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventType {
    /// `https://api.calendly.com/event_types/<uuid>`: what `event_type_uri` names.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// Its length.
    pub duration_minutes: u32,
    /// Whether it is active (only active ones can be chosen).
    pub active: bool,
    /// Its booking page.
    pub scheduling_url: Option<String>,
}

/// Why connecting failed. The server answers the first three with 422 and their names as codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// `invalid_token`: Calendly refused the token (401), or it lacks a scope connecting needs
    /// (403: event_types:read, or webhooks when a webhook subscription is made).
    #[error("Calendly refused the token: {reason}")]
    InvalidToken {
        /// What Calendly said, without the token.
        reason: String,
    },
    /// `event_type_required`: no event type was given and the user has `count` active event
    /// types, not exactly one.
    #[error("choose an event type: the Calendly user has {count} active event types")]
    EventTypeRequired {
        /// How many active event types the user has.
        count: usize,
    },
    /// `unknown_event_type`: the given event type is not one of the user's active ones.
    #[error("the event type is not one of the Calendly user's active event types")]
    UnknownEventType,
    /// Anything else (Calendly unreachable, an unusable answer, storage).
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<ConnectError> for CoreError {
    /// Each refusal as the core's variant of it (the server answers 422 `invalid_token`,
    /// `event_type_required`, `unknown_event_type`).
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::InvalidToken { .. } => CoreError::InvalidToken(e.to_string()),
            ConnectError::EventTypeRequired { .. } => CoreError::EventTypeRequired(e.to_string()),
            ConnectError::UnknownEventType => CoreError::UnknownEventType(e.to_string()),
            ConnectError::Core(core) => core,
        }
    }
}

/// A refused token (401, 403) is the token's fault; anything else is Calendly's or ours.
fn token_error(error: ProviderHttpError) -> ConnectError {
    match &error {
        ProviderHttpError::Status { status, body, .. }
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
        {
            let said = ErrorBody::parse(body).reason();
            ConnectError::InvalidToken {
                reason: if said.is_empty() {
                    format!("HTTP {}", status.as_u16())
                } else {
                    format!("HTTP {}: {said}", status.as_u16())
                },
            }
        }
        _ => ConnectError::Core(error.into_core(INTEGRATION)),
    }
}

impl CalendlyStrategy {
    /// The Calendly user a personal access token belongs to (GET /users/me). A token Calendly
    /// refuses is [`ConnectError::InvalidToken`].
    pub async fn check_personal_access_token(&self, token: &Secret<String>) -> Result<CalendlyAccount, ConnectError> {
        self.inner.account(&Bearer::Token(token)).await.map_err(token_error)
    }

    /// The user's active event types (GET /event_types?user&active=true, every page), with a
    /// token being connected.
    pub async fn event_types(&self, token: &Secret<String>, user_uri: &str) -> Result<Vec<EventType>, ConnectError> {
        self.inner
            .active_event_types(&Bearer::Token(token), user_uri)
            .await
            .map_err(token_error)
    }

    /// The connected expert's active event types (for choosing one).
    pub async fn expert_event_types(&self, expert: ExpertId) -> Result<Vec<EventType>, CoreError> {
        let stored = self.inner.connection(expert).await?;
        self.inner
            .active_event_types(&Bearer::Expert(expert, &stored), &stored.user_uri)
            .await
            .map_err(|e| e.into_core(INTEGRATION))
    }

    /// Connects with a personal access token under api.md's rules: the token must be accepted;
    /// `event_type_uri` must be one of the user's active event types; without one, the user's
    /// only active event type is chosen, and none or several is
    /// [`ConnectError::EventTypeRequired`]. With a webhook configured
    /// ([`crate::CalendlyBuilder::with_webhook`]) the subscription is made (or an existing one for
    /// the same URL reused).
    ///
    /// Nothing is stored: save the result with [`CalendlyStrategy::save`], or, in the server,
    /// with the store's connect (credential [`StoredCalendly::to_credential`], account
    /// [`StoredCalendly::account`], settings [`StoredCalendly::settings_json`]).
    pub async fn connect_with_token(
        &self,
        expert: ExpertId,
        token: Secret<String>,
        event_type_uri: Option<String>,
    ) -> Result<StoredCalendly, ConnectError> {
        let bearer = Bearer::Token(&token);
        let account = self.inner.account(&bearer).await.map_err(token_error)?;
        let types = self
            .inner
            .active_event_types(&bearer, &account.user_uri)
            .await
            .map_err(token_error)?;
        let event_type =
            choose(&types, event_type_uri.as_deref())?.ok_or(ConnectError::EventTypeRequired { count: types.len() })?;
        let webhook_subscription_uri = self.inner.subscribe(&bearer, &account).await.map_err(token_error)?;
        tracing::info!(%expert, user = %account.user_uri, "Calendly connected with a personal access token");
        Ok(StoredCalendly {
            auth: CalendlyAuth::PersonalAccessToken(token),
            user_uri: account.user_uri,
            organization_uri: account.organization_uri,
            account: Some(account.email).filter(|e| !e.is_empty()),
            event_type: Some(event_type),
            webhook_subscription_uri,
        })
    }

    /// Connects an OAuth grant (the tokens of the callback's code exchange): the user from
    /// GET /users/me, their only active event type if they have exactly one (else none until
    /// [`CalendlyStrategy::select_event_type`]), and the webhook subscription as for a token.
    /// Nothing is stored (see [`CalendlyStrategy::connect_with_token`]); the document is a
    /// `provider_http::StoredTokens`, so the token manager refreshes it.
    pub async fn connect_oauth(&self, expert: ExpertId, tokens: TokenSet) -> Result<StoredCalendly, ConnectError> {
        let bearer = Bearer::Token(&tokens.access_token);
        let account = self.inner.account(&bearer).await.map_err(token_error)?;
        let types = self
            .inner
            .active_event_types(&bearer, &account.user_uri)
            .await
            .map_err(token_error)?;
        let event_type = choose(&types, None)?;
        let webhook_subscription_uri = self.inner.subscribe(&bearer, &account).await.map_err(token_error)?;
        tracing::info!(%expert, user = %account.user_uri, "Calendly connected with OAuth");
        let email = Some(account.email).filter(|e| !e.is_empty());
        Ok(StoredCalendly {
            auth: CalendlyAuth::OAuth(StoredTokens::from_grant(tokens, email.clone(), serde_json::Value::Null)),
            user_uri: account.user_uri,
            organization_uri: account.organization_uri,
            account: email,
            event_type,
            webhook_subscription_uri,
        })
    }

    /// Stores a connection through the `CredentialRepository` and records it as working.
    pub async fn save(&self, expert: ExpertId, stored: &StoredCalendly) -> Result<(), CoreError> {
        self.inner
            .credentials
            .save(expert, INTEGRATION, stored.to_credential()?)
            .await?;
        self.inner.integrations.record_success(expert, INTEGRATION).await
    }

    /// Chooses (or changes) the connected expert's event type, which must be one of their active
    /// ones, and stores the change (an OAuth grant's under the token manager's lock, so that a
    /// concurrent refresh's new token is kept).
    pub async fn select_event_type(
        &self,
        expert: ExpertId,
        event_type_uri: &str,
    ) -> Result<StoredCalendly, ConnectError> {
        let mut stored = self.inner.connection(expert).await?;
        let types = self
            .inner
            .active_event_types(&Bearer::Expert(expert, &stored), &stored.user_uri)
            .await
            .map_err(|e| e.into_core(INTEGRATION))?;
        stored.event_type = choose(&types, Some(event_type_uri))?;
        match (&stored.auth, &self.inner.tokens) {
            (CalendlyAuth::OAuth(_), Some(tokens)) => {
                let extra = stored.oauth_extra();
                tokens.update_extra(expert, |value| *value = extra).await?;
            }
            _ => {
                self.inner
                    .credentials
                    .save(expert, INTEGRATION, stored.to_credential()?)
                    .await?
            }
        }
        Ok(stored)
    }

    /// Removes the connection's webhook subscription (DELETE; already gone is success), with the
    /// document's own token. For a server that wipes the credential first; otherwise prefer
    /// [`CalendlyStrategy::disconnect`], which can still refresh an OAuth token.
    pub async fn delete_webhook_subscription(&self, stored: &StoredCalendly) -> Result<(), CoreError> {
        let token = match &stored.auth {
            CalendlyAuth::PersonalAccessToken(token) => token.clone(),
            CalendlyAuth::OAuth(tokens) => tokens.access_token.clone(),
        };
        self.inner.unsubscribe(&Bearer::Token(&token), stored).await
    }

    /// Disconnects: removes the webhook subscription and revokes an OAuth grant (both best effort,
    /// logged), then wipes the credential. Idempotent. Returns what was stored, if anything.
    pub async fn disconnect(&self, expert: ExpertId) -> Result<Option<StoredCalendly>, CoreError> {
        let Some(credential) = self.inner.credentials.load(expert, INTEGRATION).await? else {
            return Ok(None);
        };
        let stored = StoredCalendly::from_credential(&credential).ok();
        if let Some(stored) = &stored {
            if let Err(error) = self.inner.unsubscribe(&Bearer::Expert(expert, stored), stored).await {
                tracing::warn!(%expert, %error, "removing the Calendly webhook subscription failed; disconnecting anyway");
            }
            if let (CalendlyAuth::OAuth(_), Some(tokens)) = (&stored.auth, &self.inner.tokens) {
                // Revokes and wipes under the expert's token lock.
                tokens.disconnect(expert).await?;
                return Ok(Some(stored.clone()));
            }
        }
        self.inner.credentials.delete(expert, INTEGRATION).await?;
        Ok(stored)
    }
}

/// The event type to connect with: the given one if active, else the only active one, else none.
fn choose(types: &[EventType], wanted: Option<&str>) -> Result<Option<ChosenEventType>, ConnectError> {
    let chosen = match wanted {
        Some(uri) => Some(
            types
                .iter()
                .find(|t| t.active && t.uri == uri.trim())
                .ok_or(ConnectError::UnknownEventType)?,
        ),
        None => match types {
            [only] => Some(only),
            _ => None,
        },
    };
    Ok(chosen.map(|t| ChosenEventType {
        uri: t.uri.clone(),
        duration_minutes: t.duration_minutes,
        name: Some(t.name.clone()).filter(|n| !n.is_empty()),
    }))
}

impl Inner {
    async fn account(&self, bearer: &Bearer<'_>) -> Result<CalendlyAccount, ProviderHttpError> {
        let user: Resource<wire::User> = self.get_json(bearer, "/users/me", &[]).await?;
        let user = user.resource;
        Ok(CalendlyAccount {
            user_uri: user.uri,
            name: user.name,
            email: user.email,
            organization_uri: user.current_organization,
            timezone: user.timezone,
        })
    }

    async fn active_event_types(
        &self,
        bearer: &Bearer<'_>,
        user_uri: &str,
    ) -> Result<Vec<EventType>, ProviderHttpError> {
        let query = [("user", user_uri.to_owned()), ("active", "true".to_owned())];
        let types: Vec<wire::EventType> = self.get_all(bearer, "/event_types", &query).await?;
        Ok(types
            .into_iter()
            .filter(|t| t.active)
            .map(|t| EventType {
                uri: t.uri,
                name: t.name,
                duration_minutes: t.duration,
                active: t.active,
                scheduling_url: t.scheduling_url,
            })
            .collect())
    }

    /// Subscribes the configured webhook URL for the user; a 409 (the URL is subscribed already)
    /// reuses that subscription. None when no webhook is configured.
    async fn subscribe(
        &self,
        bearer: &Bearer<'_>,
        account: &CalendlyAccount,
    ) -> Result<Option<String>, ProviderHttpError> {
        let Some(webhook) = &self.webhook else {
            return Ok(None);
        };
        let url = self.url("/webhook_subscriptions");
        let body = json!({
            "url": webhook.url,
            "events": ["invitee.created", "invitee.canceled"],
            "organization": account.organization_uri,
            "user": account.user_uri,
            "scope": "user",
            "signing_key": webhook.signing_key.expose(),
        });
        // A repeat after a lost answer gets a 409, which finds the subscription: safe to retry.
        let options = SendOptions::new().idempotent(true);
        match self.send(bearer, &options, || self.http.post(&url).json(&body)).await {
            Ok(reply) => {
                let created: Resource<wire::WebhookSubscription> = reply.json()?;
                Ok(Some(created.resource.uri))
            }
            Err(error) if error.status() == Some(StatusCode::CONFLICT) => {
                let query = [
                    ("organization", account.organization_uri.clone()),
                    ("user", account.user_uri.clone()),
                    ("scope", "user".to_owned()),
                ];
                let existing: Vec<wire::WebhookSubscription> =
                    self.get_all(bearer, "/webhook_subscriptions", &query).await?;
                existing
                    .into_iter()
                    .find(|s| s.callback_url == webhook.url)
                    .map(|s| Some(s.uri))
                    .ok_or_else(|| {
                        ProviderHttpError::Decode(
                            "Calendly says the webhook URL is subscribed, but lists no such subscription".into(),
                        )
                    })
            }
            Err(error) => Err(error),
        }
    }

    async fn unsubscribe(&self, bearer: &Bearer<'_>, stored: &StoredCalendly) -> Result<(), CoreError> {
        let Some(uri) = stored.webhook_subscription_uri.as_deref() else {
            return Ok(());
        };
        // The path is built from the uuid, so the token only ever goes to the API base.
        let uuid = wire::uuid_of(uri)
            .ok_or_else(|| crate::strategy::unusable(format!("{uri:?} is not a webhook subscription URI")))?;
        let url = self.url(&format!("/webhook_subscriptions/{uuid}"));
        match self.send(bearer, &SendOptions::new(), || self.http.delete(&url)).await {
            Ok(_) => Ok(()),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
            Err(error) => Err(error.into_core(INTEGRATION)),
        }
    }
}

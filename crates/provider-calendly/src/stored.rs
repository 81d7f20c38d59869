//! The credential document of a Calendly connection, stored (encrypted by the store) through
//! `availability_core::CredentialRepository` under the `calendly` integration type.
//!
//! Two layouts, one per way of connecting:
//!
//! - a personal access token:
//!   `{"kind":"personal_access_token","token":"…","user_uri","organization_uri","account",
//!   "event_type_uri","event_type_duration","event_type_name","webhook_subscription_uri"}`;
//! - OAuth: `provider_http::StoredTokens` (`{"access_token","refresh_token","expires_at",…}`)
//!   with the same settings, `"kind":"oauth"` included, in its `extra`. The OAuth document must be
//!   a `StoredTokens`, because `provider_http::TokenManager` reads and rewrites it on every
//!   refresh (Calendly's refresh tokens are single use) and keeps `extra` as it is.

use std::fmt;

use availability_core::{CoreError, Credential};
use availability_domain::Secret;
use provider_http::StoredTokens;
use serde::{Deserialize, Serialize};

/// How the expert's Calendly requests are authorised.
#[derive(Clone)]
pub enum CalendlyAuth {
    /// A personal access token (no expiry, no refresh: a 401 means the expert must reconnect).
    PersonalAccessToken(Secret<String>),
    /// An OAuth grant, refreshed by `provider_http::TokenManager` (the snapshot read with the
    /// document; requests always use the manager's current token).
    OAuth(StoredTokens),
}

impl fmt::Debug for CalendlyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PersonalAccessToken(token) => f.debug_tuple("PersonalAccessToken").field(token).finish(),
            Self::OAuth(tokens) => f.debug_tuple("OAuth").field(tokens).finish(),
        }
    }
}

/// The Calendly event type whose available times are the expert's slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenEventType {
    /// Its URI (`https://api.calendly.com/event_types/<uuid>`).
    pub uri: String,
    /// Its length: every slot and booking is this long.
    pub duration_minutes: u32,
    /// Its name, for display.
    pub name: Option<String>,
}

/// What is stored for an expert's Calendly connection. `Debug` never shows a token.
#[derive(Debug, Clone)]
pub struct StoredCalendly {
    /// The token or the OAuth grant.
    pub auth: CalendlyAuth,
    /// The Calendly user (`https://api.calendly.com/users/<uuid>`).
    pub user_uri: String,
    /// The user's current organization.
    pub organization_uri: String,
    /// The account shown to the expert (the Calendly user's email).
    pub account: Option<String>,
    /// The chosen event type. Always set for a token connection; an OAuth connection whose user
    /// has several (or no) active event types has none until
    /// [`crate::CalendlyStrategy::select_event_type`].
    pub event_type: Option<ChosenEventType>,
    /// The webhook subscription made when connecting, removed when disconnecting.
    pub webhook_subscription_uri: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    PersonalAccessToken,
    #[serde(rename = "oauth")]
    OAuth,
}

impl ChosenEventType {
    /// The event type chosen in an integration's stored settings (what
    /// [`StoredCalendly::settings_json`] wrote), if one is.
    pub fn from_settings_json(settings: &str) -> Option<Self> {
        let settings: Settings = serde_json::from_str(settings).ok()?;
        Some(Self {
            uri: settings.event_type_uri?,
            duration_minutes: settings.event_type_duration?,
            name: settings.event_type_name,
        })
    }
}

/// The settings part of the document; also what [`StoredCalendly::settings_json`] shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    kind: Kind,
    user_uri: String,
    organization_uri: String,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    event_type_uri: Option<String>,
    #[serde(default)]
    event_type_duration: Option<u32>,
    #[serde(default)]
    event_type_name: Option<String>,
    #[serde(default)]
    webhook_subscription_uri: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TokenDocument {
    token: String,
    #[serde(flatten)]
    settings: Settings,
}

impl StoredCalendly {
    /// `"personal_access_token"` or `"oauth"`.
    pub fn kind(&self) -> &'static str {
        match self.auth {
            CalendlyAuth::PersonalAccessToken(_) => "personal_access_token",
            CalendlyAuth::OAuth(_) => "oauth",
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            kind: match self.auth {
                CalendlyAuth::PersonalAccessToken(_) => Kind::PersonalAccessToken,
                CalendlyAuth::OAuth(_) => Kind::OAuth,
            },
            user_uri: self.user_uri.clone(),
            organization_uri: self.organization_uri.clone(),
            account: self.account.clone(),
            event_type_uri: self.event_type.as_ref().map(|t| t.uri.clone()),
            event_type_duration: self.event_type.as_ref().map(|t| t.duration_minutes),
            event_type_name: self.event_type.as_ref().and_then(|t| t.name.clone()),
            webhook_subscription_uri: self.webhook_subscription_uri.clone(),
        }
    }

    fn from_settings(auth: CalendlyAuth, settings: Settings) -> Self {
        let event_type = match (settings.event_type_uri, settings.event_type_duration) {
            (Some(uri), Some(duration_minutes)) => Some(ChosenEventType {
                uri,
                duration_minutes,
                name: settings.event_type_name,
            }),
            _ => None,
        };
        Self {
            auth,
            user_uri: settings.user_uri,
            organization_uri: settings.organization_uri,
            account: settings.account,
            event_type,
            webhook_subscription_uri: settings.webhook_subscription_uri,
        }
    }

    /// The settings without any secret, as JSON: `{"kind","user_uri","organization_uri",
    /// "account","event_type_uri","event_type_duration","event_type_name",
    /// "webhook_subscription_uri"}`. For the store's plain `settings` column, so that a webhook
    /// (which names the Calendly user) can be matched to its expert without decrypting anything.
    pub fn settings_json(&self) -> serde_json::Value {
        serde_json::to_value(self.settings()).unwrap_or(serde_json::Value::Null)
    }

    /// The OAuth `extra` value: the settings.
    pub(crate) fn oauth_extra(&self) -> serde_json::Value {
        self.settings_json()
    }

    /// The document as a credential to save.
    pub fn to_credential(&self) -> Result<Credential, CoreError> {
        let text = match &self.auth {
            CalendlyAuth::PersonalAccessToken(token) => serde_json::to_string(&TokenDocument {
                token: token.expose().clone(),
                settings: self.settings(),
            }),
            CalendlyAuth::OAuth(tokens) => {
                let mut tokens = tokens.clone();
                tokens.extra = self.oauth_extra();
                if tokens.account.is_none() {
                    tokens.account.clone_from(&self.account);
                }
                return tokens.to_credential();
            }
        };
        text.map(Secret::new)
            .map_err(|e| CoreError::Storage(format!("could not serialise the Calendly credential: {}", describe(&e))))
    }

    /// Reads a stored credential. The error names the kind and position of the problem only,
    /// never the text (it is a secret).
    pub fn from_credential(credential: &Credential) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(credential.expose()).map_err(|e| describe(&e))?;
        if value.get("kind").and_then(serde_json::Value::as_str) == Some("personal_access_token") {
            let document: TokenDocument = serde_json::from_value(value).map_err(|e| describe(&e))?;
            return Ok(Self::from_settings(
                CalendlyAuth::PersonalAccessToken(Secret::new(document.token)),
                document.settings,
            ));
        }
        let tokens = StoredTokens::from_credential(credential)?;
        let settings: Settings = serde_json::from_value(tokens.extra.clone())
            .map_err(|e| format!("the OAuth grant has no Calendly settings: {}", describe(&e)))?;
        if settings.kind != Kind::OAuth {
            return Err("the OAuth grant's settings are not of kind oauth".to_owned());
        }
        Ok(Self::from_settings(CalendlyAuth::OAuth(tokens), settings))
    }
}

/// serde_json's error kind and position, without its message (which may quote the input).
pub(crate) fn describe(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of an unexpected shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_domain::jiff::Timestamp;

    fn settings(auth: CalendlyAuth) -> StoredCalendly {
        StoredCalendly {
            auth,
            user_uri: "https://api.calendly.com/users/U".into(),
            organization_uri: "https://api.calendly.com/organizations/O".into(),
            account: Some("ada@example.com".into()),
            event_type: Some(ChosenEventType {
                uri: "https://api.calendly.com/event_types/T".into(),
                duration_minutes: 30,
                name: Some("Intro".into()),
            }),
            webhook_subscription_uri: Some("https://api.calendly.com/webhook_subscriptions/W".into()),
        }
    }

    #[test]
    fn a_token_document_round_trips_and_never_prints_the_token() {
        let stored = settings(CalendlyAuth::PersonalAccessToken(Secret::new("pat-secret-123".into())));
        let credential = stored.to_credential().unwrap_or_else(|_| Secret::new(String::new()));
        let value: serde_json::Value = serde_json::from_str(credential.expose()).unwrap_or_default();
        assert_eq!(value["kind"], "personal_access_token");
        assert_eq!(value["token"], "pat-secret-123");
        assert_eq!(value["event_type_duration"], 30);
        let back = StoredCalendly::from_credential(&credential);
        let Ok(back) = back else {
            panic!("{back:?}");
        };
        assert_eq!(back.kind(), "personal_access_token");
        assert_eq!(back.event_type, stored.event_type);
        assert_eq!(back.webhook_subscription_uri, stored.webhook_subscription_uri);
        let CalendlyAuth::PersonalAccessToken(token) = &back.auth else {
            panic!("not a token document");
        };
        assert_eq!(token.expose(), "pat-secret-123");
        let debug = format!("{back:?}");
        assert!(!debug.contains("pat-secret"), "{debug}");
        assert!(!stored.settings_json().to_string().contains("pat-secret"));
    }

    #[test]
    fn an_oauth_document_is_stored_tokens_with_the_settings_in_extra() {
        let tokens = StoredTokens {
            access_token: Secret::new("access-secret".into()),
            refresh_token: Some(Secret::new("refresh-secret".into())),
            expires_at: Timestamp::UNIX_EPOCH,
            scope: None,
            account: None,
            extra: serde_json::Value::Null,
        };
        let stored = settings(CalendlyAuth::OAuth(tokens));
        let credential = stored.to_credential().unwrap_or_else(|_| Secret::new(String::new()));
        let as_tokens = StoredTokens::from_credential(&credential);
        let Ok(as_tokens) = as_tokens else {
            panic!("the TokenManager cannot read it: {as_tokens:?}");
        };
        assert_eq!(as_tokens.extra["kind"], "oauth");
        assert_eq!(as_tokens.account.as_deref(), Some("ada@example.com"));
        let back = StoredCalendly::from_credential(&credential);
        let Ok(back) = back else {
            panic!("{back:?}");
        };
        assert_eq!(back.kind(), "oauth");
        assert_eq!(back.event_type, stored.event_type);
        let debug = format!("{back:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn unreadable_documents_are_not_quoted() {
        for text in [
            r#"{"kind":"personal_access_token","token":5,"x":"pat-secret"}"#,
            "pat-secret",
            "{}",
        ] {
            let error = StoredCalendly::from_credential(&Secret::new(text.into()))
                .err()
                .unwrap_or_default();
            assert!(!error.is_empty() && !error.contains("pat-secret"), "{error}");
        }
    }
}

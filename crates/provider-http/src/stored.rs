//! The credential document of an OAuth integration: tokens, account and provider-specific
//! settings as one JSON object, which the store keeps encrypted through
//! `availability_core::CredentialRepository` as a `Secret<String>`.

use std::fmt;

use availability_core::{CoreError, Credential};
use availability_domain::jiff::{SignedDuration, Timestamp};
use availability_domain::Secret;
use serde::{Deserialize, Serialize};

use crate::oauth::TokenSet;

/// What is stored for an expert's OAuth integration.
///
/// ```json
/// {"access_token":"...","refresh_token":"...","expires_at":"2026-03-02T10:00:00Z",
///  "scope":"...","account":"ada@example.com","extra":{"calendars":["primary"]}}
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredTokens {
    /// The current access token.
    #[serde(with = "secret_string")]
    pub access_token: Secret<String>,
    /// The current refresh token, if the provider issued one.
    #[serde(default, with = "optional_secret_string")]
    pub refresh_token: Option<Secret<String>>,
    /// When the access token expires.
    pub expires_at: Timestamp,
    /// The granted scopes, space separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// The provider account (email or name) shown to the expert.
    #[serde(default)]
    pub account: Option<String>,
    /// Whatever else the provider crate keeps with the grant (chosen calendars, Calendly's user
    /// URI and event type). `null` when there is nothing.
    #[serde(default)]
    pub extra: serde_json::Value,
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl StoredTokens {
    /// A new grant, as the OAuth callback stores it.
    pub fn from_grant(tokens: TokenSet, account: Option<String>, extra: serde_json::Value) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_at: tokens.expires_at,
            scope: tokens.scope,
            account,
            extra,
        }
    }

    /// Takes in the result of a refresh. A new refresh token replaces the old one (rotation,
    /// single use); none keeps the old one (Google does not reissue it). The same goes for scope.
    pub fn apply_refresh(&mut self, tokens: TokenSet) {
        self.access_token = tokens.access_token;
        self.expires_at = tokens.expires_at;
        if let Some(refresh_token) = tokens.refresh_token {
            self.refresh_token = Some(refresh_token);
        }
        if let Some(scope) = tokens.scope {
            self.scope = Some(scope);
        }
    }

    /// Whether the access token expires at `now + margin` or earlier.
    pub fn expires_within(&self, now: Timestamp, margin: SignedDuration) -> bool {
        now.checked_add(margin).map_or(true, |limit| self.expires_at <= limit)
    }

    /// The document as a credential to save.
    pub fn to_credential(&self) -> Result<Credential, CoreError> {
        serde_json::to_string(self).map(Secret::new).map_err(|e| {
            CoreError::Storage(format!(
                "could not serialise the stored tokens: {}",
                crate::policy::describe_json_error(&e)
            ))
        })
    }

    /// Reads a stored credential. The error names the kind and position of the problem only,
    /// never the text (it is a secret).
    pub fn from_credential(credential: &Credential) -> Result<Self, String> {
        serde_json::from_str(credential.expose()).map_err(|e| crate::policy::describe_json_error(&e))
    }
}

mod secret_string {
    use availability_domain::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Secret<String>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.expose())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret<String>, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

mod optional_secret_string {
    use availability_domain::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Option<Secret<String>>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(secret) => serializer.serialize_some(secret.expose()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Secret<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(|value| value.map(Secret::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: &str, refresh: Option<&str>) -> TokenSet {
        TokenSet {
            access_token: Secret::new(access.into()),
            refresh_token: refresh.map(|r| Secret::new(r.into())),
            expires_at: "2030-01-01T01:00:00Z".parse().unwrap(),
            scope: None,
            response_fields: Default::default(),
        }
    }

    #[test]
    fn round_trip_and_redacted_debug() {
        let stored = StoredTokens::from_grant(
            tokens("ya29.access", Some("1//refresh")),
            Some("ada@example.com".into()),
            serde_json::json!({"calendars": ["primary"]}),
        );
        let credential = stored.to_credential().unwrap();
        let back = StoredTokens::from_credential(&credential).unwrap();
        assert_eq!(back.access_token.expose(), "ya29.access");
        assert_eq!(
            back.refresh_token.as_ref().map(|t| t.expose().as_str()),
            Some("1//refresh")
        );
        assert_eq!(back.account.as_deref(), Some("ada@example.com"));
        assert_eq!(back.extra["calendars"][0], "primary");
        let debug = format!("{back:?} {credential:?}");
        assert!(!debug.contains("ya29") && !debug.contains("1//refresh"), "{debug}");
    }

    #[test]
    fn refresh_keeps_or_replaces_the_refresh_token() {
        let mut stored = StoredTokens::from_grant(tokens("a1", Some("r1")), None, serde_json::Value::Null);
        stored.apply_refresh(tokens("a2", None));
        assert_eq!(stored.access_token.expose(), "a2");
        assert_eq!(stored.refresh_token.as_ref().map(|t| t.expose().as_str()), Some("r1"));
        stored.apply_refresh(tokens("a3", Some("r2")));
        assert_eq!(stored.refresh_token.as_ref().map(|t| t.expose().as_str()), Some("r2"));
    }

    #[test]
    fn unreadable_credentials_are_not_quoted() {
        let error = StoredTokens::from_credential(&Secret::new(r#"{"access_token": 5, "x": "ya29.secret"}"#.into()))
            .unwrap_err();
        assert!(!error.contains("ya29"), "{error}");
        let error = StoredTokens::from_credential(&Secret::new("ya29.secret".into())).unwrap_err();
        assert!(!error.contains("ya29"), "{error}");
    }
}

//! What every OAuth provider crate does the same way when it becomes a plug-in: reading its OAuth
//! app from its own settings, turning a grant into what the server stores, reading the account
//! from an id_token, and revoking a wiped grant.

use std::sync::Arc;

use availability_core::provider::ProviderContext;
use availability_core::{Connection, CoreError, Credential};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::oauth::{OAuthApp, OAuthConfig, TokenSet};
use crate::stored::StoredTokens;
use crate::ProviderHttpError;

/// An OAuth app's client credentials and endpoints as read from a provider's settings, e.g.
/// `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`, `GOOGLE_AUTH_URL`, `GOOGLE_TOKEN_URL`,
/// `GOOGLE_REVOKE_URL`: the real endpoints unless overridden (tests, staging).
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The app's client id and secret, when both are configured.
    pub client: Option<(String, availability_domain::Secret<String>)>,
    /// Authorization endpoint.
    pub auth_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// Revocation endpoint, where the provider has one.
    pub revoke_url: Option<String>,
}

impl OAuthSettings {
    /// Reads `{PREFIX}_CLIENT_ID`, `{PREFIX}_CLIENT_SECRET`, `{PREFIX}_AUTH_URL`,
    /// `{PREFIX}_TOKEN_URL` and (when the provider has a revocation endpoint)
    /// `{PREFIX}_REVOKE_URL`, defaulting the endpoints to the given real ones.
    pub fn from_context(
        context: &ProviderContext,
        prefix: &str,
        auth_url: &str,
        token_url: &str,
        revoke_url: Option<&str>,
    ) -> Self {
        let var = |name: &str| context.var(&format!("{prefix}_{name}"));
        let client = match (var("CLIENT_ID"), context.secret(&format!("{prefix}_CLIENT_SECRET"))) {
            (Some(id), Some(secret)) => Some((id, secret)),
            _ => None,
        };
        Self {
            client,
            auth_url: var("AUTH_URL").unwrap_or_else(|| auth_url.to_owned()),
            token_url: var("TOKEN_URL").unwrap_or_else(|| token_url.to_owned()),
            revoke_url: revoke_url.map(|real| var("REVOKE_URL").unwrap_or_else(|| real.to_owned())),
        }
    }

    /// Why the app cannot be used, naming the settings to set; None when it is configured.
    pub fn missing(&self, display_name: &str, prefix: &str) -> Option<String> {
        self.client.is_none().then(|| {
            format!(
                "{display_name} is not set up on this server (its OAuth client id and secret are not configured: \
                 {prefix}_CLIENT_ID, {prefix}_CLIENT_SECRET)"
            )
        })
    }

    /// The app, built with the provider's own OAuth parameters (scopes, client authentication)
    /// by `config`; None when the client id or secret is missing.
    pub fn app<F>(&self, config: F) -> Result<Option<Arc<OAuthApp>>, ProviderHttpError>
    where
        F: FnOnce(String, availability_domain::Secret<String>, &Self) -> OAuthConfig,
    {
        let Some((id, secret)) = self.client.clone() else {
            return Ok(None);
        };
        OAuthApp::new(config(id, secret, self)).map(|app| Some(Arc::new(app)))
    }
}

/// What to store for a plain token grant: the tokens (with `extra`, the provider's settings kept
/// with them) as the credential, the account, and `settings`.
pub fn token_connection(
    tokens: TokenSet,
    account: Option<String>,
    extra: serde_json::Value,
    settings: serde_json::Value,
) -> Result<Connection, CoreError> {
    let stored = StoredTokens::from_grant(tokens, account.clone(), extra);
    Ok(Connection {
        credential: stored.to_credential()?,
        account,
        settings,
    })
}

/// The email claim of an id_token received directly from the token endpoint over TLS (so its
/// signature need not be checked to trust it for display).
pub fn email_from_id_token(tokens: &TokenSet) -> Option<String> {
    let token = tokens.response_fields.get("id_token")?.as_str()?;
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("email")?.as_str().map(str::to_owned)
}

/// Revokes the grant of a wiped token credential where the provider has a revocation endpoint:
/// the refresh token ends the whole grant (Google, Calendly), else the access token.
pub async fn revoke_grant(app: &OAuthApp, credential: &Credential) -> Result<(), CoreError> {
    let Ok(tokens) = StoredTokens::from_credential(credential) else {
        // Unreadable: nothing to revoke with; it is wiped already.
        return Ok(());
    };
    let token = tokens.refresh_token.unwrap_or(tokens.access_token);
    app.revoke(&token).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_domain::jiff::Timestamp;
    use availability_domain::Secret;

    #[test]
    fn the_account_comes_from_the_id_token_email() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"email":"ada@gmail.com","sub":"1"}"#);
        let mut fields = serde_json::Map::new();
        fields.insert("id_token".into(), format!("h.{payload}.s").into());
        let tokens = TokenSet {
            access_token: Secret::new("a".into()),
            refresh_token: None,
            expires_at: Timestamp::UNIX_EPOCH,
            scope: None,
            response_fields: fields,
        };
        assert_eq!(email_from_id_token(&tokens).as_deref(), Some("ada@gmail.com"));
        let mut broken = tokens.clone();
        broken.response_fields.insert("id_token".into(), "not a jwt".into());
        assert_eq!(email_from_id_token(&broken), None);
    }
}

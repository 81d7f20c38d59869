//! Experts' integrations, one expert_integrations row per (expert, integration type) whatever the
//! provider: its encrypted credential, the account, the provider's settings and its status; and
//! single-use OAuth states. Connecting and disconnecting are one statement or transaction each
//! (the design's "database functions for connecting and disconnecting").

use availability_domain::{ExpertId, IntegrationType, Secret};
use diesel::prelude::*;

use crate::crypto::{CryptoError, Keyring};
use crate::db::{db_run, Conn};
use crate::schema::{expert_integrations as ei, expert_profiles as ep, oauth_states as os};

/// One integration's row.
macro_rules! integration_row {
    ($key:expr, $integration:expr) => {
        ei::table
            .filter(ei::expert_id.eq($key))
            .filter(ei::integration_type.eq($integration.as_str()))
    };
}
use crate::tokens::token_hash;
use crate::webhooks::{self, Emit, Event, WebhookEvent};
use crate::StoreError;

/// How long an OAuth state may be used.
pub const STATE_TTL_SECONDS: i64 = 10 * 60;

/// An integration as GET integrations shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationRecord {
    /// Which calendar.
    pub integration: IntegrationType,
    /// "connected" or "needs_reauth".
    pub status: String,
    /// The provider account (email or name), when known.
    pub account: Option<String>,
    /// Non-secret settings (selected calendars, event type), JSON.
    pub settings: String,
    /// When it was connected (Unix seconds).
    pub connected_at: i64,
    /// When the provider last answered.
    pub last_synced_at: Option<i64>,
    /// The latest failure's reason.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<i64>,
}

type IntegrationRow = (
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

fn record(row: IntegrationRow) -> Result<IntegrationRecord, StoreError> {
    let (integration, status, account, settings, connected_at, last_synced_at, last_error, last_error_at) = row;
    Ok(IntegrationRecord {
        integration: integration
            .parse()
            .map_err(|e| crate::rows::corrupt("integration", e))?,
        status,
        account,
        settings,
        connected_at,
        last_synced_at,
        last_error,
        last_error_at,
    })
}

/// What the ciphertext is bound to: a credential only opens in its own row.
fn context(expert: ExpertId, integration: IntegrationType) -> String {
    credential_context(&expert.to_string(), integration)
}

pub(crate) fn list(conn: &mut Conn, expert: ExpertId) -> Result<Vec<IntegrationRecord>, StoreError> {
    let rows: Vec<IntegrationRow> = db_run!(conn, |c| ei::table
        .filter(ei::expert_id.eq(expert.to_string()))
        .select((
            ei::integration_type,
            ei::status,
            ei::account,
            ei::settings,
            ei::connected_at,
            ei::last_synced_at,
            ei::last_error,
            ei::last_error_at
        ))
        .load(c))?;
    rows.into_iter().map(record).collect()
}

/// Loads and decrypts a credential. A credential that cannot be decrypted marks the integration
/// needs_reauth and is reported as such; it is left as it is.
pub(crate) fn load_credential(
    conn: &mut Conn,
    keyring: &Keyring,
    expert: ExpertId,
    integration: IntegrationType,
    now: i64,
) -> Result<Option<Secret<String>>, StoreError> {
    let key = expert.to_string();
    let stored: Option<String> = db_run!(conn, |c| integration_row!(&key, integration)
        .select(ei::credentials)
        .first::<Option<String>>(c)
        .optional())?
    .flatten();
    let Some(stored) = stored else {
        return Ok(None);
    };
    match keyring.decrypt(&stored, &context(expert, integration)) {
        Ok(plain) => String::from_utf8(plain.into_inner())
            .map(|s| Some(Secret::new(s)))
            .map_err(|_| StoreError::Credential(CryptoError::Corrupt)),
        Err(e) => {
            let reason = format!("the stored credential cannot be decrypted ({e}); reconnect");
            mark(conn, expert, integration, Mark::NeedsReauth(&reason), now)?;
            Err(StoreError::Credential(e))
        }
    }
}

/// Encrypts and stores a new credential of a connected integration (a refreshed token, a changed
/// setting kept with the grant). An integration that is not connected (any more) gets nothing:
/// a refresh that finishes after a disconnect must not bring the grant back.
pub(crate) fn save_credential(
    conn: &mut Conn,
    keyring: &Keyring,
    expert: ExpertId,
    integration: IntegrationType,
    credential: &Secret<String>,
) -> Result<(), StoreError> {
    let sealed = keyring.encrypt(credential.expose().as_bytes(), &context(expert, integration))?;
    let key = expert.to_string();
    let n = db_run!(conn, |c| diesel::update(integration_row!(&key, integration))
        .set((ei::credentials.eq(Some(sealed)), ei::status.eq("connected")))
        .execute(c))?;
    if n == 0 {
        return Err(StoreError::NotFound {
            what: "connected integration",
            id: format!("{integration} of expert {key}"),
        });
    }
    Ok(())
}

/// A grant to store: the secret credential and what may be shown about it.
pub(crate) struct Grant {
    pub credential: Secret<String>,
    pub account: Option<String>,
    pub settings: String,
}

/// Stores the credential and marks the integration connected, in one statement.
pub(crate) fn connect(
    conn: &mut Conn,
    keyring: &Keyring,
    expert: ExpertId,
    integration: IntegrationType,
    grant: &Grant,
    now: i64,
) -> Result<(), StoreError> {
    let (credential, account, settings) = (&grant.credential, grant.account.as_deref(), grant.settings.as_str());
    let sealed = keyring.encrypt(credential.expose().as_bytes(), &context(expert, integration))?;
    let key = expert.to_string();
    let known: i64 = db_run!(conn, |c| ep::table.find(&key).count().get_result(c))?;
    if known == 0 {
        return Err(StoreError::NotFound {
            what: "expert",
            id: key,
        });
    }
    db_run!(conn, |c| c.transaction(|c| {
        diesel::insert_into(ei::table)
            .values((
                ei::expert_id.eq(&key),
                ei::integration_type.eq(integration.as_str()),
                ei::status.eq("connected"),
                ei::account.eq(account),
                ei::settings.eq(settings),
                ei::connected_at.eq(now),
                ei::last_synced_at.eq(now),
                ei::credentials.eq(Some(&sealed)),
            ))
            .on_conflict((ei::expert_id, ei::integration_type))
            .do_update()
            .set((
                ei::status.eq("connected"),
                ei::account.eq(account),
                ei::settings.eq(settings),
                ei::connected_at.eq(now),
                ei::last_synced_at.eq(now),
                ei::last_error.eq(None::<String>),
                ei::last_error_at.eq(None::<i64>),
                ei::credentials.eq(Some(&sealed)),
            ))
            .execute(c)?;
        let data = webhooks::integration_json!(c, expert, integration);
        c.emit(Event::integration(WebhookEvent::IntegrationConnected, data, now))
    }))
}

/// Wipes the integration's row (credential, settings, status) and falls back to manual if it was
/// the active integration, in one transaction. Idempotent. Returns the wiped credential (to
/// revoke it).
pub(crate) fn disconnect(
    conn: &mut Conn,
    keyring: &Keyring,
    expert: ExpertId,
    integration: IntegrationType,
    now: i64,
) -> Result<Option<Secret<String>>, StoreError> {
    let key = expert.to_string();
    let old: Option<String> = db_run!(conn, |c| c.transaction(|c| {
        let old = integration_row!(&key, integration)
            .select(ei::credentials)
            .first::<Option<String>>(c)
            .optional()?
            .flatten();
        let removed = diesel::delete(integration_row!(&key, integration)).execute(c)?;
        if removed > 0 {
            let data = webhooks::integration_value(&key, integration, None);
            c.emit(Event::integration(WebhookEvent::IntegrationDisconnected, data, now))?;
        }
        diesel::update(
            ep::table
                .find(&key)
                .filter(ep::integration_type.eq(integration.as_str())),
        )
        .set((
            ep::integration_type.eq(IntegrationType::MANUAL.as_str()),
            ep::updated_at.eq(now),
        ))
        .execute(c)?;
        Ok::<_, StoreError>(old)
    }))?;
    // The revoke is best effort: an undecryptable credential is simply wiped.
    Ok(old
        .and_then(|s| keyring.decrypt(&s, &context(expert, integration)).ok())
        .and_then(|p| String::from_utf8(p.into_inner()).ok())
        .map(Secret::new))
}

/// What happened to an integration.
pub(crate) enum Mark<'a> {
    Success,
    Failure(&'a str),
    NeedsReauth(&'a str),
}

pub(crate) fn mark(
    conn: &mut Conn,
    expert: ExpertId,
    integration: IntegrationType,
    what: Mark<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let key = expert.to_string();
    db_run!(conn, |c| {
        let row = ei::table
            .filter(ei::expert_id.eq(&key))
            .filter(ei::integration_type.eq(integration.as_str()));
        match what {
            Mark::Success => diesel::update(row)
                .set((
                    ei::last_synced_at.eq(now),
                    ei::last_error.eq(None::<String>),
                    ei::last_error_at.eq(None::<i64>),
                ))
                .execute(c)
                .map_err(StoreError::from),
            Mark::Failure(reason) => diesel::update(row)
                .set((ei::last_error.eq(reason), ei::last_error_at.eq(now)))
                .execute(c)
                .map_err(StoreError::from),
            Mark::NeedsReauth(reason) => c.transaction(|c| {
                // Only a change of status is an event: every failing call says it again.
                let newly = diesel::update(row.filter(ei::status.ne("needs_reauth")))
                    .set(ei::status.eq("needs_reauth"))
                    .execute(c)?;
                let n = diesel::update(row)
                    .set((ei::last_error.eq(reason), ei::last_error_at.eq(now)))
                    .execute(c)?;
                if newly > 0 {
                    let data = webhooks::integration_json!(c, expert, integration);
                    c.emit(Event::integration(WebhookEvent::IntegrationNeedsReauth, data, now))?;
                }
                Ok::<_, StoreError>(n)
            }),
        }
    })?;
    Ok(())
}

/// A new OAuth connect as the server begins it. The state, the binding and the ticket are stored
/// only as hashes; the PKCE verifier and the authorization URL (it carries the state) encrypted.
#[derive(Debug)]
pub struct OAuthStart {
    /// The OAuth `state` parameter.
    pub state: Secret<String>,
    /// The expert the grant will be stored for.
    pub expert: ExpertId,
    /// The provider.
    pub integration: IntegrationType,
    /// The PKCE code verifier.
    pub verifier: Secret<String>,
    /// The random value the beginning browser holds in its binding cookie.
    pub binding: Secret<String>,
    /// The single-use ticket of the start link.
    pub ticket: Secret<String>,
    /// The provider's authorization URL the start link redirects to.
    pub authorization_url: Secret<String>,
}

/// Stores a new OAuth state: hashes of the state, binding and ticket; the verifier and the
/// authorization URL encrypted.
pub(crate) fn save_state(conn: &mut Conn, keyring: &Keyring, start: &OAuthStart, now: i64) -> Result<(), StoreError> {
    let hash = token_hash(start.state.expose());
    let sealed = keyring.encrypt(start.verifier.expose().as_bytes(), &format!("oauth_state:{hash}"))?;
    let url = keyring.encrypt(
        start.authorization_url.expose().as_bytes(),
        &format!("oauth_start:{hash}"),
    )?;
    let binding = token_hash(start.binding.expose());
    let ticket = token_hash(start.ticket.expose());
    db_run!(conn, |c| {
        // Old states are useless; forget them while we are here.
        diesel::delete(os::table.filter(os::expires_at.lt(now - STATE_TTL_SECONDS))).execute(c)?;
        diesel::insert_into(os::table)
            .values((
                os::state_hash.eq(&hash),
                os::expert_id.eq(start.expert.to_string()),
                os::integration_type.eq(start.integration.as_str()),
                os::pkce_verifier.eq(&sealed),
                os::created_at.eq(now),
                os::expires_at.eq(now + STATE_TTL_SECONDS),
                os::binding_hash.eq(&binding),
                os::ticket_hash.eq(&ticket),
                os::authorization_url.eq(&url),
            ))
            .execute(c)
    })?;
    Ok(())
}

/// Uses a start ticket once: the state it belongs to is bound to `binding` from now on (the
/// browser that opened the link) and its authorization URL is returned. None when the ticket is
/// unknown, used, expired, for another integration, or its state was used.
pub(crate) fn take_ticket(
    conn: &mut Conn,
    keyring: &Keyring,
    ticket: &str,
    integration: IntegrationType,
    binding: &Secret<String>,
    now: i64,
) -> Result<Option<Secret<String>>, StoreError> {
    let ticket = token_hash(ticket);
    let binding = token_hash(binding.expose());
    let row: Option<(String, Option<String>)> = db_run!(conn, |c| c.transaction(|c| {
        let won = diesel::update(
            os::table
                .filter(os::ticket_hash.eq(&ticket))
                .filter(os::ticket_used_at.is_null())
                .filter(os::used_at.is_null())
                .filter(os::expires_at.gt(now))
                .filter(os::integration_type.eq(integration.as_str())),
        )
        .set((os::ticket_used_at.eq(now), os::binding_hash.eq(&binding)))
        .execute(c)?;
        if won != 1 {
            return Ok(None);
        }
        os::table
            .filter(os::ticket_hash.eq(&ticket))
            .select((os::state_hash, os::authorization_url))
            .first(c)
            .optional()
    }))?;
    let Some((hash, Some(sealed))) = row else {
        return Ok(None);
    };
    let url = keyring.decrypt(&sealed, &format!("oauth_start:{hash}"))?;
    let url = String::from_utf8(url.into_inner()).map_err(|_| StoreError::Credential(CryptoError::Corrupt))?;
    Ok(Some(Secret::new(url)))
}

/// Uses a state once, only from the browser it is bound to: unknown, used or expired states, and
/// a binding that is missing or another browser's, give None, and a state can never be used
/// twice (the update that marks it used is the check). A wrong binding leaves the state as it
/// is, so whoever holds someone's authorization URL cannot spend that person's connect.
pub(crate) fn consume_state(
    conn: &mut Conn,
    keyring: &Keyring,
    state: &str,
    integration: IntegrationType,
    binding: &str,
    now: i64,
) -> Result<Option<(ExpertId, Secret<String>)>, StoreError> {
    let hash = token_hash(state);
    let binding = token_hash(binding);
    let row: Option<(String, String)> = db_run!(conn, |c| c.transaction(|c| {
        let won = diesel::update(
            os::table
                .find(&hash)
                .filter(os::used_at.is_null())
                .filter(os::expires_at.gt(now))
                .filter(os::integration_type.eq(integration.as_str()))
                .filter(os::binding_hash.eq(&binding)),
        )
        .set(os::used_at.eq(now))
        .execute(c)?;
        if won != 1 {
            return Ok(None);
        }
        os::table
            .find(&hash)
            .select((os::expert_id, os::pkce_verifier))
            .first(c)
            .optional()
    }))?;
    let Some((expert, sealed)) = row else {
        return Ok(None);
    };
    let verifier = keyring.decrypt(&sealed, &format!("oauth_state:{hash}"))?;
    let verifier =
        String::from_utf8(verifier.into_inner()).map_err(|_| StoreError::Credential(CryptoError::Corrupt))?;
    let expert = expert.parse().map_err(|e| crate::rows::corrupt("oauth state", e))?;
    Ok(Some((expert, Secret::new(verifier))))
}

/// Every stored credential, encrypted: (expert, integration, stored text).
pub(crate) fn all_credentials(conn: &mut Conn) -> Result<Vec<(String, IntegrationType, String)>, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = db_run!(conn, |c| ei::table
        .select((ei::expert_id, ei::integration_type, ei::credentials))
        .load(c))?;
    rows.into_iter()
        .filter_map(|(expert, integration, stored)| stored.map(|s| (expert, integration, s)))
        .map(|(expert, integration, stored)| {
            let integration = integration
                .parse()
                .map_err(|e| crate::rows::corrupt("integration", e))?;
            Ok((expert, integration, stored))
        })
        .collect()
}

/// Replaces one stored ciphertext if it is still the one that was read (a concurrent refresh may
/// have written a newer credential meanwhile).
pub(crate) fn replace_ciphertext(
    conn: &mut Conn,
    expert: &str,
    integration: IntegrationType,
    old: &str,
    new: &str,
) -> Result<bool, StoreError> {
    let n = db_run!(conn, |c| diesel::update(
        integration_row!(expert, integration).filter(ei::credentials.eq(old))
    )
    .set(ei::credentials.eq(new))
    .execute(c))?;
    Ok(n == 1)
}

/// The context string of a credential (for re-encryption).
pub(crate) fn credential_context(expert: &str, integration: IntegrationType) -> String {
    format!("credential:{expert}:{integration}")
}

/// Sets the account shown for a connected integration.
pub(crate) fn set_account(
    conn: &mut Conn,
    expert: ExpertId,
    integration: IntegrationType,
    account: &str,
) -> Result<(), StoreError> {
    let key = expert.to_string();
    db_run!(conn, |c| diesel::update(
        ei::table
            .filter(ei::expert_id.eq(&key))
            .filter(ei::integration_type.eq(integration.as_str()))
    )
    .set(ei::account.eq(account))
    .execute(c))?;
    Ok(())
}

pub(crate) fn set_settings(
    conn: &mut Conn,
    expert: ExpertId,
    integration: IntegrationType,
    settings: &str,
) -> Result<(), StoreError> {
    let key = expert.to_string();
    db_run!(conn, |c| diesel::update(
        ei::table
            .filter(ei::expert_id.eq(&key))
            .filter(ei::integration_type.eq(integration.as_str()))
    )
    .set(ei::settings.eq(settings))
    .execute(c))?;
    Ok(())
}

/// The expert whose integration's settings (plain JSON, no secrets) have `key` equal to `value`.
pub(crate) fn expert_by_setting(
    conn: &mut Conn,
    integration: IntegrationType,
    key: &str,
    value: &str,
) -> Result<Option<ExpertId>, StoreError> {
    // A cheap text filter first (LIKE's wildcards only widen it), then an exact check on the JSON.
    let pattern = format!("%{value}%");
    let rows: Vec<(String, String)> = db_run!(conn, |c| ei::table
        .filter(ei::integration_type.eq(integration.as_str()))
        .filter(ei::settings.like(&pattern))
        .select((ei::expert_id, ei::settings))
        .load(c))?;
    for (expert, settings) in rows {
        let parsed: serde_json::Value = serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null);
        if parsed.get(key).and_then(|v| v.as_str()) == Some(value) {
            return Ok(Some(expert.parse().map_err(|e| crate::rows::corrupt("expert id", e))?));
        }
    }
    Ok(None)
}

/// How many integrations each (integration type, status) has, for /metrics.
pub(crate) fn counts(conn: &mut Conn) -> Result<Vec<(String, String, i64)>, StoreError> {
    use diesel::dsl::count_star;
    Ok(db_run!(conn, |c| ei::table
        .group_by((ei::integration_type, ei::status))
        .select((ei::integration_type, ei::status, count_star()))
        .order((ei::integration_type, ei::status))
        .load::<(String, String, i64)>(c))?)
}

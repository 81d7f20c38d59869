//! API tokens, stored only as SHA-256 hashes. Tokens are 256 random bits, so a fast hash is
//! enough: nobody can guess a preimage, and lookups stay one indexed read.

use availability_domain::{ClientId, ExpertId};
use diesel::prelude::*;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::db::{db_run, Conn};
use crate::schema::{api_tokens, sessions};
use crate::StoreError;

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// May do everything.
    Admin,
    /// One expert.
    Expert(ExpertId),
    /// One client.
    Client(ClientId),
}

impl Principal {
    pub(crate) fn columns(self) -> (&'static str, Option<String>) {
        match self {
            Principal::Admin => ("admin", None),
            Principal::Expert(id) => ("expert", Some(id.to_string())),
            Principal::Client(id) => ("client", Some(id.to_string())),
        }
    }

    pub(crate) fn from_columns(role: &str, subject: Option<&str>) -> Option<Self> {
        match (role, subject) {
            ("admin", _) => Some(Principal::Admin),
            ("expert", Some(id)) => id.parse().ok().map(Principal::Expert),
            ("client", Some(id)) => id.parse().ok().map(Principal::Client),
            _ => None,
        }
    }
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// A new random token: 32 bytes from the system's CSPRNG, hex encoded.
pub fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Database("no randomness available".into()))?;
    Ok(hex::encode(bytes))
}

/// A stored token as it may be shown: never the secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its id (a UUID): what lists show and revocation names.
    pub id: String,
    /// Who it speaks for.
    pub principal: Principal,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it stops working (Unix seconds); None: never.
    pub expires_at: Option<i64>,
}

pub(crate) type TokenColumns = (String, String, Option<String>, i64, Option<i64>);

pub(crate) fn record((id, role, subject, created_at, expires_at): TokenColumns) -> Option<TokenRecord> {
    Principal::from_columns(&role, subject.as_deref()).map(|principal| TokenRecord {
        id,
        principal,
        created_at,
        expires_at,
    })
}

macro_rules! token_columns {
    () => {
        (
            api_tokens::id,
            api_tokens::role,
            api_tokens::subject_id,
            api_tokens::created_at,
            api_tokens::expires_at,
        )
    };
}

/// Stores a token's hash for a principal, with a new id. A hash stored already is left as it is
/// (and its record returned).
pub(crate) fn insert(
    conn: &mut Conn,
    token: &str,
    principal: Principal,
    expires_at: Option<i64>,
    now: i64,
) -> Result<TokenRecord, StoreError> {
    let (role, subject) = principal.columns();
    let hash = token_hash(token);
    let id = uuid::Uuid::new_v4().to_string();
    let row: Option<TokenColumns> = db_run!(conn, |c| {
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::token_hash.eq(&hash),
                api_tokens::id.eq(&id),
                api_tokens::role.eq(role),
                api_tokens::subject_id.eq(&subject),
                api_tokens::created_at.eq(now),
                api_tokens::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing()
            .execute(c)?;
        api_tokens::table
            .find(&hash)
            .select(token_columns!())
            .load(c)
            .map(|rows| rows.into_iter().next())
    })?;
    row.and_then(record)
        .ok_or_else(|| StoreError::Corrupt("a stored token cannot be read back".into()))
}

/// The stored, unexpired token a caller presented: one primary-key read, so a revoked (deleted)
/// or expired token is refused by every server process from its next request on.
pub(crate) fn lookup(conn: &mut Conn, token: &str, now: i64) -> Result<Option<TokenRecord>, StoreError> {
    let hash = token_hash(token);
    let row: Option<TokenColumns> = db_run!(conn, |c| api_tokens::table
        .find(&hash)
        .filter(api_tokens::expires_at.is_null().or(api_tokens::expires_at.gt(now)))
        .select(token_columns!())
        .load(c)
        .map(|rows| rows.into_iter().next()))?;
    Ok(row.and_then(record))
}

/// Who a presented, unexpired token speaks for.
pub(crate) fn principal(conn: &mut Conn, token: &str, now: i64) -> Result<Option<Principal>, StoreError> {
    Ok(lookup(conn, token, now)?.map(|t| t.principal))
}

/// The stored tokens (of one subject, if given), oldest first, expired ones included.
pub(crate) fn list(conn: &mut Conn, subject: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
    let rows: Vec<TokenColumns> = db_run!(conn, |c| {
        let mut query = api_tokens::table
            .select(token_columns!())
            .order((api_tokens::created_at, api_tokens::id))
            .into_boxed();
        if let Some(subject) = subject {
            query = query.filter(api_tokens::subject_id.eq(subject));
        }
        query.load(c)
    })?;
    Ok(rows.into_iter().filter_map(record).collect())
}

/// One stored token by its id.
pub(crate) fn by_id(conn: &mut Conn, id: &str) -> Result<Option<TokenRecord>, StoreError> {
    let row: Option<TokenColumns> = db_run!(conn, |c| api_tokens::table
        .filter(api_tokens::id.eq(id))
        .select(token_columns!())
        .load(c)
        .map(|rows| rows.into_iter().next()))?;
    Ok(row.and_then(record))
}

/// Deletes a token and the sessions opened with it, in one transaction. Returns whether it
/// existed.
pub(crate) fn revoke(conn: &mut Conn, id: &str) -> Result<bool, StoreError> {
    let deleted = db_run!(conn, |c| c.transaction(|c| {
        diesel::delete(sessions::table.filter(sessions::token_id.eq(id))).execute(c)?;
        diesel::delete(api_tokens::table.filter(api_tokens::id.eq(id))).execute(c)
    }))?;
    Ok(deleted > 0)
}

/// Forgets tokens that expired (they are refused already) and their sessions.
pub(crate) fn purge_expired(conn: &mut Conn, now: i64) -> Result<usize, StoreError> {
    Ok(db_run!(conn, |c| c.transaction(|c| {
        let expired = api_tokens::table
            .filter(api_tokens::expires_at.le(now))
            .select(api_tokens::id.nullable());
        diesel::delete(sessions::table.filter(sessions::token_id.eq_any(expired))).execute(c)?;
        diesel::delete(api_tokens::table.filter(api_tokens::expires_at.le(now))).execute(c)
    }))?)
}

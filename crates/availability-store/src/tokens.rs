//! API tokens, stored only as SHA-256 hashes. Tokens are 256 random bits, so a fast hash is
//! enough: nobody can guess a preimage, and lookups stay one indexed read.

use availability_domain::{ClientId, ExpertId};
use diesel::prelude::*;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::db::{db_run, Conn};
use crate::schema::api_tokens;
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

pub(crate) fn insert(conn: &mut Conn, token: &str, principal: Principal, now: i64) -> Result<(), StoreError> {
    let (role, subject) = principal.columns();
    let hash = token_hash(token);
    db_run!(conn, |c| diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::token_hash.eq(&hash),
            api_tokens::role.eq(role),
            api_tokens::subject_id.eq(&subject),
            api_tokens::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

pub(crate) fn principal(conn: &mut Conn, token: &str) -> Result<Option<Principal>, StoreError> {
    let hash = token_hash(token);
    let row: Option<(String, Option<String>)> = db_run!(conn, |c| api_tokens::table
        .find(&hash)
        .select((api_tokens::role, api_tokens::subject_id))
        .load(c)
        .map(|rows| rows.into_iter().next()))?;
    Ok(row.and_then(|(role, subject)| Principal::from_columns(&role, subject.as_deref())))
}

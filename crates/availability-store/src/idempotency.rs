//! Idempotency-Key answers: the first answer to a (caller, key) is kept 24 hours and replayed for
//! the same request; the same key with another request is refused.

use diesel::prelude::*;

use crate::db::{db_run, Conn};
use crate::schema::idempotency_keys;
use crate::StoreError;

/// How long an answer is kept, in seconds.
pub const KEEP_SECONDS: i64 = 24 * 60 * 60;

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// A hash of the request it answered.
    pub request_hash: String,
    /// The HTTP status it had.
    pub status_code: u16,
    /// The body it had.
    pub body: String,
}

pub(crate) fn find(conn: &mut Conn, scope: &str, key: &str, now: i64) -> Result<Option<StoredAnswer>, StoreError> {
    let row: Option<(String, i32, String)> = db_run!(conn, |c| idempotency_keys::table
        .find((scope, key))
        .filter(idempotency_keys::created_at.gt(now - KEEP_SECONDS))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status_code,
            idempotency_keys::response_body
        ))
        .first(c)
        .optional())?;
    Ok(row.map(|(request_hash, status, body)| StoredAnswer {
        request_hash,
        status_code: u16::try_from(status).unwrap_or(500),
        body,
    }))
}

/// Stores the answer unless another request stored one first; returns the answer that is kept.
pub(crate) fn save(
    conn: &mut Conn,
    scope: &str,
    key: &str,
    answer: &StoredAnswer,
    now: i64,
) -> Result<StoredAnswer, StoreError> {
    db_run!(conn, |c| {
        // Expired answers make room for a new one under the same key.
        diesel::delete(
            idempotency_keys::table
                .filter(idempotency_keys::scope.eq(scope))
                .filter(idempotency_keys::idempotency_key.eq(key))
                .filter(idempotency_keys::created_at.le(now - KEEP_SECONDS)),
        )
        .execute(c)?;
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::scope.eq(scope),
                idempotency_keys::idempotency_key.eq(key),
                idempotency_keys::request_hash.eq(&answer.request_hash),
                idempotency_keys::status_code.eq(i32::from(answer.status_code)),
                idempotency_keys::response_body.eq(&answer.body),
                idempotency_keys::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c)
    })?;
    find(conn, scope, key, now)?.ok_or_else(|| StoreError::Database("idempotency answer vanished".into()))
}

/// Deletes answers older than 24 hours.
pub(crate) fn purge(conn: &mut Conn, now: i64) -> Result<usize, StoreError> {
    Ok(db_run!(conn, |c| diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.le(now - KEEP_SECONDS))
    )
    .execute(c))?)
}

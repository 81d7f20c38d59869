//! Browser sessions of the pages. A session is a random id in an HttpOnly cookie, stored only as
//! its hash (a stolen database does not sign anyone in), with the principal of the token that
//! opened it and a CSRF token that cookie-authenticated writes must echo in a header. Sessions
//! live in the database, not in a server process, so any process behind a balancer knows them and
//! signing out ends a session everywhere at once.

use diesel::prelude::*;

use crate::db::{db_run, Conn};
use crate::schema::sessions;
use crate::tokens::{new_token, token_hash, Principal, TokenRecord};
use crate::StoreError;

/// How long a session lasts from sign-in, in seconds (12 hours): a working day, then sign in again.
pub const SESSION_SECONDS: i64 = 12 * 60 * 60;

/// A session as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who it speaks for.
    pub principal: Principal,
    /// The value the X-CSRF-Token header must carry on writes.
    pub csrf_token: String,
    /// When it ends (Unix seconds).
    pub expires_at: i64,
}

/// A new session: its id (for the cookie; shown only now) and what it grants.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value.
    pub id: String,
    /// The session.
    pub session: Session,
}

/// Opens a session for a principal. One opened with a stored token names it (revoking the token
/// ends the session) and ends when the token expires, if that is sooner than 12 hours.
pub(crate) fn create(
    conn: &mut Conn,
    principal: Principal,
    token: Option<&TokenRecord>,
    now: i64,
) -> Result<NewSession, StoreError> {
    let id = new_token()?;
    let csrf_token = new_token()?;
    let expires_at = token
        .and_then(|t| t.expires_at)
        .map_or(now + SESSION_SECONDS, |t| t.min(now + SESSION_SECONDS));
    let token_id = token.map(|t| t.id.clone());
    let (role, subject) = principal.columns();
    let hash = token_hash(&id);
    db_run!(conn, |c| diesel::insert_into(sessions::table)
        .values((
            sessions::session_hash.eq(&hash),
            sessions::role.eq(role),
            sessions::subject_id.eq(&subject),
            sessions::csrf_token.eq(&csrf_token),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(expires_at),
            sessions::token_id.eq(&token_id),
        ))
        .execute(c))?;
    Ok(NewSession {
        id,
        session: Session {
            principal,
            csrf_token,
            expires_at,
        },
    })
}

pub(crate) fn find(conn: &mut Conn, id: &str, now: i64) -> Result<Option<Session>, StoreError> {
    let hash = token_hash(id);
    let row: Option<(String, Option<String>, String, i64)> = db_run!(conn, |c| sessions::table
        .find(&hash)
        .filter(sessions::expires_at.gt(now))
        .select((
            sessions::role,
            sessions::subject_id,
            sessions::csrf_token,
            sessions::expires_at
        ))
        .load(c)
        .map(|rows| rows.into_iter().next()))?;
    Ok(row.and_then(|(role, subject, csrf_token, expires_at)| {
        Principal::from_columns(&role, subject.as_deref()).map(|principal| Session {
            principal,
            csrf_token,
            expires_at,
        })
    }))
}

pub(crate) fn end(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    let hash = token_hash(id);
    db_run!(conn, |c| diesel::delete(sessions::table.find(&hash)).execute(c))?;
    Ok(())
}

pub(crate) fn purge(conn: &mut Conn, now: i64) -> Result<usize, StoreError> {
    Ok(db_run!(conn, |c| diesel::delete(
        sessions::table.filter(sessions::expires_at.le(now))
    )
    .execute(c))?)
}

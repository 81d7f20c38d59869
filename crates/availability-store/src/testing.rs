//! Helpers for tests that need a database of their own: a fresh SQLite file, or a fresh schema in
//! the PostgreSQL database TEST_DATABASE_URL names, so tests run in parallel without sharing rows.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::StoreError;

/// The PostgreSQL database for tests, if TEST_DATABASE_URL is set.
pub fn test_database_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// Whether PostgreSQL tests must run (CI sets REQUIRE_POSTGRES=1, so they are never skipped there).
pub fn postgres_required() -> bool {
    std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// Says plainly that a PostgreSQL test is skipped, or fails when CI requires PostgreSQL.
pub fn skip_postgres(test: &str) {
    assert!(
        !postgres_required(),
        "{test}: REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set"
    );
    eprintln!("SKIPPED {test} on PostgreSQL: TEST_DATABASE_URL is not set (see README)");
}

/// Creates a new empty schema in the database `base_url` names and returns a URL whose
/// connections use it (search_path = the schema, then public for extensions like btree_gist).
pub fn fresh_postgres_schema(base_url: &str) -> Result<String, StoreError> {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::establish(base_url).map_err(|e| StoreError::Connect(e.to_string()))?;
    conn.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!("{base_url}{sep}options=-csearch_path%3D{schema}%2Cpublic"))
}

/// A path for a new SQLite file in a fresh temporary directory (kept until the process ends).
pub fn fresh_sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("availability-test-{}", uuid::Uuid::new_v4().simple()));
    let _ = std::fs::create_dir_all(&dir);
    format!("sqlite://{}", dir.join("test.db").display())
}

/// A fresh SQLite file always, and a fresh PostgreSQL schema when TEST_DATABASE_URL is set (else
/// the test says plainly that PostgreSQL is skipped): the databases a store test runs on.
pub fn database_urls(test: &str) -> Result<Vec<String>, StoreError> {
    let mut urls = vec![fresh_sqlite_url()];
    match test_database_url() {
        Some(base) => urls.push(fresh_postgres_schema(&base)?),
        None => skip_postgres(test),
    }
    Ok(urls)
}

/// Writes an appointment row as it is, without the slot engine or the expert's lock, to prove
/// that the database's own constraint refuses overlaps. Never call it outside tests.
pub async fn insert_unchecked(
    store: &crate::Store,
    appointment: availability_domain::Appointment,
) -> Result<(), StoreError> {
    use diesel::RunQueryDsl;
    let row = crate::rows::AppointmentRow::from_domain(&appointment);
    store
        .run(move |conn| {
            crate::db::db_run!(conn, |c| diesel::insert_into(crate::schema::appointments::table)
                .values(&row)
                .execute(c))?;
            Ok(())
        })
        .await
}

/// Every stored credential column, as the database holds it (for "no token in a dump" checks).
pub async fn dump_credentials(store: &crate::Store) -> Result<Vec<String>, StoreError> {
    store
        .run(|c| {
            Ok(crate::integrations::all_credentials(c)?
                .into_iter()
                .map(|(_, _, v)| v)
                .collect())
        })
        .await
}

/// The expert's stored feed column, as the database holds it (for "no secret in a dump" checks).
pub async fn stored_ics_feed(
    store: &crate::Store,
    expert: availability_domain::ExpertId,
) -> Result<Option<String>, StoreError> {
    store.run(move |c| crate::ics::feed_hash(c, expert)).await
}

/// Every stored OAuth state row as text.
pub async fn dump_oauth_states(store: &crate::Store) -> Result<Vec<String>, StoreError> {
    use crate::schema::oauth_states as os;
    use diesel::prelude::*;
    store
        .run(|conn| {
            type Row = (String, String, Option<String>, Option<String>, Option<String>);
            let rows: Vec<Row> = crate::db::db_run!(conn, |c| os::table
                .select((
                    os::state_hash,
                    os::pkce_verifier,
                    os::binding_hash,
                    os::ticket_hash,
                    os::authorization_url
                ))
                .load(c))?;
            Ok(rows
                .into_iter()
                .map(|(h, v, b, t, u)| format!("{h} {v} {b:?} {t:?} {u:?}"))
                .collect())
        })
        .await
}

/// Flips one byte of a stored credential's ciphertext, as an attacker or a disk fault would.
pub async fn flip_credential_byte(
    store: &crate::Store,
    expert: availability_domain::ExpertId,
    integration: availability_domain::IntegrationType,
) -> Result<(), StoreError> {
    use base64::Engine;
    store
        .run(move |c| {
            let all = crate::integrations::all_credentials(c)?;
            let key = expert.to_string();
            let Some((_, _, stored)) = all.into_iter().find(|(e, i, _)| *e == key && *i == integration) else {
                return Err(StoreError::NotFound {
                    what: "credential",
                    id: key,
                });
            };
            let (head, body) = stored
                .rsplit_once(':')
                .ok_or(StoreError::Corrupt("credential".into()))?;
            let mut raw = base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| StoreError::Corrupt("credential".into()))?;
            let middle = raw.len() / 2;
            raw[middle] ^= 0x01;
            let flipped = format!("{head}:{}", base64::engine::general_purpose::STANDARD.encode(raw));
            crate::integrations::replace_ciphertext(c, &key, integration, &stored, &flipped)?;
            Ok(())
        })
        .await
}

/// Makes every stored OAuth state expired, as if 10 minutes had passed.
pub async fn expire_oauth_states(store: &crate::Store) -> Result<(), StoreError> {
    use crate::schema::oauth_states as os;
    use diesel::prelude::*;
    store
        .run(|conn| {
            crate::db::db_run!(conn, |c| diesel::update(os::table)
                .set(os::expires_at.eq(0i64))
                .execute(c))?;
            Ok(())
        })
        .await
}

/// How many token and calendar-version reads this store sent over its async PostgreSQL
/// connections (None: it has none, as on SQLite).
pub fn async_reads(store: &crate::Store) -> Option<u64> {
    store
        .hot
        .as_ref()
        .map(|hot| hot.answered.load(std::sync::atomic::Ordering::Relaxed))
}

/// How this store's booking queue stored batches of two bookings or more: checked in memory,
/// each in its savepoint, and batches that failed as a whole and were booked one by one.
pub fn booking_batches(store: &crate::Store) -> (u64, u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    let counts = &store.bookings.counts;
    (
        counts.in_memory.load(Relaxed),
        counts.with_savepoints.load(Relaxed),
        counts.booked_alone.load(Relaxed),
    )
}

/// Makes a stored token expired, as if its time had passed.
pub async fn expire_token(store: &crate::Store, id: String) -> Result<(), StoreError> {
    use crate::schema::api_tokens;
    use diesel::prelude::*;
    store
        .run(move |conn| {
            crate::db::db_run!(conn, |c| diesel::update(
                api_tokens::table.filter(api_tokens::id.eq(&id))
            )
            .set(api_tokens::expires_at.eq(Some(1i64)))
            .execute(c))?;
            Ok(())
        })
        .await
}

/// Applies the migrations of the database `url` names up to and including `last` (a version
/// folder name such as `2026-11-24-000005`), and no further: a database as an earlier version of
/// the server left it, for migration tests.
pub fn migrate_until(url: &str, last: &str) -> Result<(), StoreError> {
    use diesel::migration::MigrationSource;
    use diesel::SqliteConnection;
    use diesel_migrations::MigrationHarness;

    // Diesel's version of `2026-11-24-000005_name` is `20261124000005`.
    let last = last.replace('-', "");
    let last = last.as_str();
    // The table diesel keeps applied versions in, as its harness creates it.
    const SETUP: &str = "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (\
        version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)";
    let migrate_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    match crate::db::DatabaseUrl::parse(url)? {
        crate::db::DatabaseUrl::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&path).map_err(|e| StoreError::Connect(e.to_string()))?;
            conn.batch_execute("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")?;
            conn.batch_execute(SETUP)?;
            let migrations = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&crate::db::SQLITE_MIGRATIONS)
                .map_err(migrate_err)?;
            for m in migrations
                .iter()
                .filter(|m| m.name().version().to_string().as_str() <= last)
            {
                conn.run_migration(m.as_ref()).map_err(migrate_err)?;
            }
        }
        crate::db::DatabaseUrl::Postgres(url) => {
            let mut conn = PgConnection::establish(&url).map_err(|e| StoreError::Connect(e.to_string()))?;
            conn.batch_execute(SETUP)?;
            let migrations =
                MigrationSource::<diesel::pg::Pg>::migrations(&crate::db::POSTGRES_MIGRATIONS).map_err(migrate_err)?;
            for m in migrations
                .iter()
                .filter(|m| m.name().version().to_string().as_str() <= last)
            {
                conn.run_migration(m.as_ref()).map_err(migrate_err)?;
            }
        }
    }
    Ok(())
}

/// Runs SQL statements on the database `url` names, outside the store (to fill a database the
/// way an earlier version wrote it).
pub fn execute_sql(url: &str, sql: &str) -> Result<(), StoreError> {
    match crate::db::DatabaseUrl::parse(url)? {
        crate::db::DatabaseUrl::Sqlite(path) => {
            let mut conn =
                diesel::SqliteConnection::establish(&path).map_err(|e| StoreError::Connect(e.to_string()))?;
            // A running server may be writing (its outbox claims a job as soon as a booking
            // queues it): wait for the write lock as the server's own connections do, instead of
            // failing at once with "database is locked".
            conn.batch_execute("PRAGMA busy_timeout = 10000;")?;
            conn.batch_execute(sql)?;
        }
        crate::db::DatabaseUrl::Postgres(url) => {
            let mut conn = PgConnection::establish(&url).map_err(|e| StoreError::Connect(e.to_string()))?;
            conn.batch_execute(sql)?;
        }
    }
    Ok(())
}

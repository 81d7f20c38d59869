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

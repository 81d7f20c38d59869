//! Connections: the backend is chosen by the DATABASE_URL scheme (an unknown scheme is an error,
//! never a silent new file), pooled with r2d2, migrated at start. Repository code is written once
//! and compiled for both backends by [`db_run!`].

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::StoreError;

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file (created if missing).
    Sqlite(String),
    /// A PostgreSQL connection string, passed to libpq as it is.
    Postgres(String),
}

impl DatabaseUrl {
    /// `sqlite://PATH` (relative: `sqlite://availability.db`, absolute: `sqlite:///var/lib/x.db`) or
    /// `postgres://...` / `postgresql://...`. Anything else is refused.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::BadUrl(
                    "sqlite:// needs a file path, e.g. sqlite://availability.db".into(),
                ));
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or(url);
            Err(StoreError::BadUrl(format!(
                "unknown database scheme {scheme:?}: use sqlite://PATH or postgres://USER@HOST/DB"
            )))
        }
    }
}

/// The pragmas every SQLite connection needs: a busy timeout so writers queue instead of failing,
/// and foreign keys (off by default in SQLite). WAL (readers never wait for the writer) is a
/// property of the file, set once by [`prepare_sqlite_file`] before any pooled connection opens.
const SQLITE_CONNECTION_PRAGMAS: &str =
    "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

#[derive(Debug, Clone, Copy)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(SQLITE_CONNECTION_PRAGMAS)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Creates the SQLite file if it is new, switches it to WAL and applies the migrations, all on
/// one connection, before the pool opens its others. Done by the pool's connections at once, a
/// new file saw several of them take its write lock together ("database is locked" on the very
/// first start).
fn prepare_sqlite_file(path: &str) -> Result<(), StoreError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| StoreError::Connect(e.to_string()))?;
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
    conn.run_pending_migrations(SQLITE_MIGRATIONS)
        .map(drop)
        .map_err(|e| StoreError::Migration(e.to_string()))
}

/// A pool of connections to one database.
#[derive(Clone)]
pub(crate) enum DbPool {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

/// One pooled connection.
pub(crate) enum Conn {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    Postgres(PooledConnection<ConnectionManager<PgConnection>>),
}

/// Runs the same diesel code on whichever backend the connection is: the body is compiled once
/// per backend, with `$c` bound to `&mut SqliteConnection` or `&mut PgConnection`.
macro_rules! db_run {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Sqlite(pooled) => {
                let $c: &mut diesel::SqliteConnection = &mut *pooled;
                $body
            }
            $crate::db::Conn::Postgres(pooled) => {
                let $c: &mut diesel::PgConnection = &mut *pooled;
                $body
            }
        }
    };
}
pub(crate) use db_run;

/// A write transaction that holds the expert's lock: SQLite takes the database write lock at
/// BEGIN IMMEDIATE; PostgreSQL locks the expert's row with SELECT ... FOR UPDATE. Concurrent
/// bookings of one expert therefore run one after the other, each seeing the last one's write.
pub(crate) trait LockedTransaction: Connection {
    fn locked_transaction<T, F>(&mut self, expert_id: &str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Self) -> Result<T, StoreError>;
}

impl LockedTransaction for SqliteConnection {
    fn locked_transaction<T, F>(&mut self, _expert_id: &str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Self) -> Result<T, StoreError>,
    {
        self.immediate_transaction(f)
    }
}

impl LockedTransaction for PgConnection {
    fn locked_transaction<T, F>(&mut self, expert_id: &str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Self) -> Result<T, StoreError>,
    {
        use crate::schema::expert_profiles::dsl as e;
        use diesel::prelude::*;
        self.transaction(|c| {
            e::expert_profiles
                .find(expert_id)
                .select(e::id)
                .for_update()
                .first::<String>(c)
                .optional()?;
            f(c)
        })
    }
}

impl DbPool {
    /// Opens the database, applies pending migrations and pools connections to it.
    pub(crate) fn open(url: &DatabaseUrl, max_size: u32) -> Result<Self, StoreError> {
        if let DatabaseUrl::Sqlite(path) = url {
            prepare_sqlite_file(path)?;
            return Self::connect(url, max_size);
        }
        let pool = Self::connect(url, max_size)?;
        pool.migrate_postgres()?;
        Ok(pool)
    }

    fn connect(url: &DatabaseUrl, max_size: u32) -> Result<Self, StoreError> {
        let pool = match url {
            DatabaseUrl::Sqlite(path) => DbPool::Sqlite(
                Pool::builder()
                    .max_size(max_size)
                    .connection_timeout(Duration::from_secs(10))
                    // No "SELECT 1" before every use: a broken connection is dropped by the pool
                    // when a query fails on it, and /readyz checks the database.
                    .test_on_check_out(false)
                    .connection_customizer(Box::new(SqlitePragmas))
                    .build(ConnectionManager::new(path))
                    .map_err(|e| StoreError::Connect(e.to_string()))?,
            ),
            DatabaseUrl::Postgres(url) => DbPool::Postgres(
                Pool::builder()
                    .max_size(max_size)
                    .connection_timeout(Duration::from_secs(10))
                    .test_on_check_out(false)
                    .build(ConnectionManager::new(url))
                    .map_err(|e| StoreError::Connect(e.to_string()))?,
            ),
        };
        Ok(pool)
    }

    pub(crate) fn get(&self) -> Result<Conn, StoreError> {
        match self {
            DbPool::Sqlite(p) => p.get().map(Conn::Sqlite),
            DbPool::Postgres(p) => p.get().map(Conn::Postgres),
        }
        .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// An idle SQLite connection, without waiting; None for PostgreSQL or when all are busy.
    pub(crate) fn try_get_sqlite(&self) -> Option<Conn> {
        match self {
            DbPool::Sqlite(p) => p.try_get().map(Conn::Sqlite),
            DbPool::Postgres(_) => None,
        }
    }

    /// Applies the embedded PostgreSQL migrations that have not run yet.
    fn migrate_postgres(&self) -> Result<(), StoreError> {
        let Conn::Postgres(c) = &mut self.get()? else {
            return Ok(());
        };
        // Two processes starting at once must not both migrate.
        c.batch_execute("SELECT pg_advisory_lock(726354)")?;
        let result = c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(drop)
            .map_err(|e| StoreError::Migration(e.to_string()));
        c.batch_execute("SELECT pg_advisory_unlock(726354)")?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_or_are_refused() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://availability.db").unwrap(),
            DatabaseUrl::Sqlite("availability.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/x.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/x.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        for bad in [
            "mysql://x",
            "availability.db",
            "sqlite://",
            "sqlite:availability.db",
            "",
        ] {
            assert!(matches!(DatabaseUrl::parse(bad), Err(StoreError::BadUrl(_))), "{bad}");
        }
    }
}

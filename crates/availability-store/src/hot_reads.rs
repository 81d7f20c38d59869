//! The two reads every slot request makes on PostgreSQL, asked over async connections
//! (tokio-postgres) instead of handing a blocking diesel call to the thread pool: the caller's
//! token and the expert's calendar version. Measured, the hand-offs and the pool's queue were most
//! of a slot request's cost besides the database itself. The queries are prepared once per
//! connection, and the server's threads share few connections: tokio-postgres pipelines the
//! queries of many requests (one write to the socket, one wake-up of the database process for
//! all of them), which is what makes a read cheap for PostgreSQL (see [`connections_for`]).
//!
//! Nothing is cached here: each request still reads the database, so a revoked token or a new
//! booking written by any process is seen from the next request on, exactly as before.
//!
//! Used only where plain TCP is what libpq would use too: a loopback host or a Unix socket, or
//! `sslmode=disable`. Anywhere else libpq may negotiate TLS, which these connections do not
//! speak, and the reads stay on diesel. A connection that cannot be made or breaks sends the
//! reads back to diesel for a few seconds, then it is tried again.

use std::cell::Cell;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use availability_domain::ExpertId;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls, Statement};

use crate::tokens::TokenRecord;
use crate::StoreError;

const TOKEN: &str = "SELECT id, role, subject_id, created_at, expires_at FROM api_tokens \
                     WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)";
const VERSION: &str = "SELECT version FROM expert_calendar_versions WHERE expert_id = $1";
/// Both in one statement, for a slot request (always one row: NULLs for an unknown token or
/// expert).
const TOKEN_AND_VERSION: &str = "SELECT t.id, t.role, t.subject_id, t.created_at, t.expires_at, \
                                 (SELECT version FROM expert_calendar_versions WHERE expert_id = $3) \
                                 FROM (SELECT 1) AS one LEFT JOIN api_tokens t \
                                 ON t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)";

/// How long the reads go back to diesel after a connection could not be made.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// One connection and its prepared statements.
struct Connected {
    client: Client,
    token: Statement,
    version: Statement,
    token_and_version: Statement,
}

#[derive(Default)]
struct Slot {
    connected: Mutex<Option<Arc<Connected>>>,
    /// One connect at a time per slot; the others use diesel meanwhile.
    connecting: tokio::sync::Mutex<()>,
    failed_at: Mutex<Option<Instant>>,
}

/// How many async connections serve `cores` cores: one per eight cores, at least one. Measured on
/// 2 cores with PostgreSQL beside the server (docs/benchmarks.md): both HTTP workers on one
/// connection did 29,000-34,000 slot requests/s at a p99 of 6-7 ms, each on its own 15,000-21,000
/// at 7-10 ms. With one connection per worker each database process woke for a few queries at a
/// time; sharing one, it reads dozens at once. More than one per eight cores is a guess for
/// bigger machines, where one database process could become the limit.
pub(crate) fn connections_for(cores: usize) -> usize {
    cores.div_ceil(8).max(1)
}

/// The async connections of one store, each used by the threads that drew it (threads draw in
/// turn).
pub(crate) struct HotReads {
    config: Config,
    slots: Vec<Slot>,
    /// Reads answered here rather than by diesel (for tests: that this path is really taken).
    pub(crate) answered: AtomicU64,
}

static THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's number, drawn on first use: each server worker thread keeps to one slot.
    static THREAD: Cell<Option<usize>> = const { Cell::new(None) };
}

fn thread_number() -> usize {
    THREAD.with(|n| match n.get() {
        Some(n) => n,
        None => {
            let drawn = THREADS.fetch_add(1, Ordering::Relaxed);
            n.set(Some(drawn));
            drawn
        }
    })
}

/// Why a URL keeps its reads on diesel, or None if these connections can serve it.
fn unsuitable(config: &Config) -> Option<&'static str> {
    if config.get_ssl_mode() == SslMode::Disable {
        return None;
    }
    let local = |host: &Host| match host {
        Host::Tcp(name) => matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1" | "[::1]"),
        #[cfg(unix)]
        Host::Unix(_) => true,
    };
    if config.get_ssl_mode() == SslMode::Require {
        return Some("the URL requires TLS");
    }
    if config.get_hosts().is_empty() || !config.get_hosts().iter().all(local) {
        return Some("the database is not on this machine and libpq may use TLS");
    }
    None
}

impl HotReads {
    /// The async reads for this PostgreSQL URL, or None (with the reason logged) where they
    /// cannot be used.
    pub(crate) fn for_url(url: &str, connections: usize) -> Option<Self> {
        let config = match Config::from_str(url) {
            Ok(config) => config,
            Err(e) => {
                tracing::info!("slot and token reads stay on diesel: tokio-postgres cannot read the URL ({e})");
                return None;
            }
        };
        if let Some(why) = unsuitable(&config) {
            tracing::info!("slot and token reads stay on diesel: {why}");
            return None;
        }
        Some(Self {
            config,
            slots: (0..connections.max(1)).map(|_| Slot::default()).collect(),
            answered: AtomicU64::new(0),
        })
    }

    /// This thread's connection, connected if needed; None: use diesel this time.
    async fn connection(&self) -> Option<Arc<Connected>> {
        let slot = &self.slots[thread_number() % self.slots.len()];
        let current = || {
            let held = slot.connected.lock().unwrap_or_else(|e| e.into_inner());
            held.as_ref().filter(|c| !c.client.is_closed()).cloned()
        };
        if let Some(connected) = current() {
            self.answered.fetch_add(1, Ordering::Relaxed);
            return Some(connected);
        }
        let recently_failed = slot
            .failed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < RETRY_AFTER);
        if recently_failed {
            return None;
        }
        let _connecting = slot.connecting.try_lock().ok()?;
        if let Some(connected) = current() {
            return Some(connected);
        }
        match self.connect().await {
            Ok(connected) => {
                self.answered.fetch_add(1, Ordering::Relaxed);
                let connected = Arc::new(connected);
                *slot.connected.lock().unwrap_or_else(|e| e.into_inner()) = Some(connected.clone());
                Some(connected)
            }
            Err(e) => {
                tracing::warn!("async PostgreSQL connection failed, reads go through diesel for now: {e}");
                *slot.failed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                None
            }
        }
    }

    async fn connect(&self) -> Result<Connected, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        // The connection's I/O runs on the runtime of the thread that connected; the other
        // threads' requests reach it through the client's channel. (A thread of its own for it
        // measured a third fewer slot requests per second: one more hand-off per read.)
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("async PostgreSQL connection closed: {e}");
            }
        });
        let token = client.prepare(TOKEN).await?;
        let version = client.prepare(VERSION).await?;
        let token_and_version = client.prepare(TOKEN_AND_VERSION).await?;
        tracing::debug!(thread = ?std::thread::current().name(), "async PostgreSQL connection made");
        Ok(Connected {
            client,
            token,
            version,
            token_and_version,
        })
    }

    /// The stored, unexpired token with this hash (as `tokens::lookup`); None: use diesel.
    pub(crate) async fn token(&self, hash: &str, now: i64) -> Option<Result<Option<TokenRecord>, StoreError>> {
        let connected = self.connection().await?;
        let row = match connected.client.query_opt(&connected.token, &[&hash, &now]).await {
            Ok(row) => row,
            Err(e) => return answer_or_retry(e),
        };
        let Some(row) = row else {
            return Some(Ok(None));
        };
        Some(record(&row).map_err(|e| StoreError::Database(e.to_string())))
    }

    /// The expert's calendar version (as `calendar_cache::version`); None: use diesel.
    pub(crate) async fn version(&self, id: ExpertId) -> Option<Result<i64, StoreError>> {
        let connected = self.connection().await?;
        match connected.client.query_opt(&connected.version, &[&id.to_string()]).await {
            Ok(Some(row)) => Some(row.try_get(0).map_err(|e| StoreError::Database(e.to_string()))),
            Ok(None) => Some(Err(StoreError::NotFound {
                what: "expert",
                id: id.to_string(),
            })),
            Err(e) => answer_or_retry(e),
        }
    }

    /// [`HotReads::token`] and [`HotReads::version`] in one statement (None for an unknown
    /// expert); None: use diesel.
    pub(crate) async fn token_and_version(
        &self,
        hash: &str,
        now: i64,
        expert: ExpertId,
    ) -> Option<Result<(Option<TokenRecord>, Option<i64>), StoreError>> {
        let connected = self.connection().await?;
        let id = expert.to_string();
        let row = match connected
            .client
            .query_one(&connected.token_and_version, &[&hash, &now, &id])
            .await
        {
            Ok(row) => row,
            Err(e) => return answer_or_retry(e),
        };
        let read = || -> Result<_, tokio_postgres::Error> {
            let token = match row.try_get::<_, Option<String>>(0)? {
                Some(_) => record(&row)?,
                None => None,
            };
            Ok((token, row.try_get(5)?))
        };
        Some(read().map_err(|e| StoreError::Database(e.to_string())))
    }
}

/// A query's error: a broken connection sends the read to diesel (and this slot connects again
/// next time); anything else is the answer.
fn answer_or_retry<T>(e: tokio_postgres::Error) -> Option<Result<T, StoreError>> {
    if e.is_closed() {
        return None;
    }
    Some(Err(StoreError::Database(e.to_string())))
}

/// A token row as `tokens::record` reads diesel's (the same five columns, in order).
fn record(row: &tokio_postgres::Row) -> Result<Option<TokenRecord>, tokio_postgres::Error> {
    let columns: crate::tokens::TokenColumns = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
    );
    Ok(crate::tokens::record(columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(url: &str) -> Option<&'static str> {
        unsuitable(&Config::from_str(url).unwrap())
    }

    #[test]
    fn only_urls_libpq_would_reach_in_plain_tcp_use_these_connections() {
        assert_eq!(why("postgres://u:p@127.0.0.1:5432/db"), None);
        assert_eq!(why("postgres://u@localhost/db?options=-csearch_path%3Ds"), None);
        assert_eq!(why("postgres://u@db.example.com/db?sslmode=disable"), None);
        assert!(why("postgres://u@db.example.com/db").is_some(), "libpq prefers TLS");
        assert!(why("postgres://u@127.0.0.1/db?sslmode=require").is_some());
    }
}

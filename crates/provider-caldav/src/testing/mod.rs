//! Test support, behind the `testing` feature: real CalDAV servers (Radicale and Xandikos from
//! PyPI) and a loopback proxy that delays answers or fails on demand, for this crate's tests and
//! any other crate's end-to-end tests.
//!
//! - [`python_env`] makes (once, under a file lock, so parallel test binaries do not race) a
//!   virtualenv under `$CARGO_TARGET_DIR/caldav-peers/venv` (or `<workspace>/target/...`) with
//!   Radicale, Xandikos, icalendar and recurring-ical-events at pinned versions.
//! - [`radicale`] and [`xandikos`] start one server each per test binary, lazily, on a free
//!   loopback port with a temporary storage folder; each stops when the test process ends.
//! - [`Proxy`] sits in front of a server: [`Proxy::set_delay`] for benchmarks,
//!   [`Proxy::fail_with`] for failure injection.
//! - [`peers_or_skip`] is how a test treats a machine without Python: it prints
//!   `SKIPPED <what>: <why>` and the test passes, unless `REQUIRE_CALDAV_PEERS=1` (CI) makes it
//!   fail.

mod peers;
mod proxy;

pub use peers::{python_env, radicale, xandikos, PeerError, PythonEnv, Radicale, Xandikos, PINNED_PACKAGES};
pub use proxy::{Proxy, ProxyFailure};

/// The environment variable that turns a missing Python or PyPI into a failure (CI sets it).
pub const REQUIRE_PEERS_VAR: &str = "REQUIRE_CALDAV_PEERS";

/// `Some(value)` if the peer is there. If this machine cannot have it (no Python or PyPI):
/// prints `SKIPPED <what>: <why>` and returns `None`, or panics when `REQUIRE_CALDAV_PEERS=1`.
/// A peer that was installed but did not start always panics.
pub fn peers_or_skip<T>(what: &str, available: Result<T, PeerError>) -> Option<T> {
    match available {
        Ok(value) => Some(value),
        #[allow(clippy::panic)]
        Err(PeerError::Broken(why)) => panic!("{what}: a CalDAV peer did not start: {why}"),
        Err(PeerError::Unavailable(why)) => {
            if std::env::var(REQUIRE_PEERS_VAR).is_ok_and(|v| v == "1") {
                #[allow(clippy::panic)]
                {
                    panic!("{what} needs the CalDAV peers, and {REQUIRE_PEERS_VAR}=1: {why}");
                }
            }
            println!("SKIPPED {what}: {why}");
            None
        }
    }
}

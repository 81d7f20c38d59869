//! Typed configuration from the environment variables of api.md, passed explicitly.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use availability_domain::Secret;

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// DATABASE_URL: `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// BIND: the listen address.
    pub bind: String,
    /// ADMIN_TOKEN: a bearer token with the admin role, if set.
    pub admin_token: Option<Secret<String>>,
    /// PUBLIC_BASE_URL: the address users reach.
    pub public_base_url: String,
    /// `--demo`: seed an example expert, client and tokens, and print them.
    pub demo: bool,
    /// HTTP worker threads (WORKERS; default: one per core).
    pub workers: Option<usize>,
    /// ENCRYPTION_KEY: 32 bytes (hex or base64) for credentials at rest.
    pub encryption_key: Option<Secret<String>>,
    /// ENCRYPTION_OLD_KEYS: earlier keys, comma-separated, used only to decrypt.
    pub encryption_old_keys: Secret<String>,
    /// The environment the provider plug-ins read their own settings from.
    pub providers: ProviderVars,
    /// LOG_FORMAT: how log lines are written.
    pub log_format: LogFormat,
    /// TRUSTED_PROXIES: the addresses of reverse proxies whose X-Forwarded-For names the client.
    /// Empty (the default): the client is the peer of the connection, whatever headers say.
    pub trusted_proxies: Vec<IpAddr>,
    /// How failed authentication is throttled per client address. Not read from the
    /// environment: the contract's 20 per 60 s; tests shorten the window.
    pub auth_throttle: AuthThrottleSettings,
    /// METRICS_BIND: a listener of its own for `GET /metrics`, without a token (default: none).
    pub metrics_bind: Option<String>,
    /// METRICS_TOKEN: the bearer token of `GET /metrics` on the main listener (at least 32
    /// characters); unset, the main listener has no /metrics.
    pub metrics_token: Option<Secret<String>>,
    /// WEBHOOK_RETRY_BASE_SECONDS: the wait before a failed webhook delivery's first retry,
    /// doubling from there to an hour. 5 s (api.md); for tests, which cannot wait minutes.
    pub webhook_retry_base_seconds: i64,
    /// CALENDAR_SYNC_SECONDS: how often every expert's calendar is read for changes made there
    /// (two-way sync's catch-up; 1-86400, default 900).
    pub calendar_sync_seconds: u64,
    /// PUSH_ALLOW_HTTP=1: push notifications to an http PUBLIC_BASE_URL on a loopback host (tests,
    /// local development); otherwise push needs https.
    pub push_allow_http: bool,
    /// PUSH_CHANNEL_TTL_SECONDS: how long a push channel is asked to live (60-604800, default
    /// 604800: Google's 7 days); renewed at half its life. Shorter for tests.
    pub push_channel_ttl_seconds: i64,
}

/// Failed authentications allowed per client address within a window, before that address's
/// requests with a credential are answered 429 until the window has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthThrottleSettings {
    /// Failed attempts allowed within `window` (api.md: 20).
    pub max_failures: usize,
    /// The window (api.md: 60 s).
    pub window: Duration,
}

impl Default for AuthThrottleSettings {
    fn default() -> Self {
        Self {
            max_failures: 20,
            window: Duration::from_secs(60),
        }
    }
}

/// The shortest ADMIN_TOKEN accepted (api.md: 32 characters).
pub const ADMIN_TOKEN_MIN_LEN: usize = 32;

/// The shortest METRICS_TOKEN accepted (as ADMIN_TOKEN).
pub const METRICS_TOKEN_MIN_LEN: usize = 32;

/// How the server writes its log (to stderr; stdout keeps what the server prints for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text per event, coloured only when stderr is a terminal (and NO_COLOR is unset).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The environment as the provider plug-ins see it: each reads its own variables (GOOGLE_*,
/// MS_*, CALENDLY_*, ...) from it. Printed with its names only (values hold secrets).
#[derive(Clone, Default)]
pub struct ProviderVars(pub HashMap<String, String>);

impl std::fmt::Debug for ProviderVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_tuple("ProviderVars").field(&names).finish()
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Whether an http:// URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1 (the URL
/// parser has already normalised the host: IPv4 in dotted form, IPv6 in brackets).
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Config {
    /// Where calendars send push notifications (`PUBLIC_BASE_URL/webhooks`), or why push is off:
    /// calendars deliver only to https, except a loopback http address with PUSH_ALLOW_HTTP=1.
    pub fn push_base(&self) -> Result<String, String> {
        let base = self.public_base_url.trim_end_matches('/');
        if base.starts_with("https://") {
            return Ok(format!("{base}/webhooks"));
        }
        let parsed = reqwest::Url::parse(base).ok().filter(|u| u.scheme() == "http");
        let Some(host) = parsed.as_ref().and_then(|u| u.host_str()) else {
            return Err(format!("PUBLIC_BASE_URL {base:?} is not an https address"));
        };
        let loopback = is_loopback(host);
        match (self.push_allow_http, loopback) {
            (true, true) => Ok(format!("{base}/webhooks")),
            (true, false) => Err(format!(
                "PUBLIC_BASE_URL {base:?} is http and not a loopback address (PUSH_ALLOW_HTTP covers loopback only)"
            )),
            (false, _) => Err(format!(
                "PUBLIC_BASE_URL {base:?} is not https (calendars deliver notifications only to https; PUSH_ALLOW_HTTP=1 allows http on loopback)"
            )),
        }
    }

    /// The keyring for credentials at rest. In the explicit demo mode without ENCRYPTION_KEY, a
    /// fixed development key (announced at start); otherwise only the configured keys.
    pub fn keyring(&self) -> availability_store::crypto::Keyring {
        use availability_store::crypto::Keyring;
        let current = self.encryption_key.as_ref().map(|k| k.expose().as_str());
        match (current, self.demo) {
            (None, true) => Keyring::for_testing(),
            _ => Keyring::new(current, self.encryption_old_keys.expose()).unwrap_or_else(|_| Keyring::empty()),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Reads the given variables (tests pass their own).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let bind = get("BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let admin_token = get("ADMIN_TOKEN").map(Secret::new);
        if let Some(t) = &admin_token {
            if t.expose().chars().count() < ADMIN_TOKEN_MIN_LEN {
                return Err(ConfigError {
                    name: "ADMIN_TOKEN",
                    message: format!("use at least {ADMIN_TOKEN_MIN_LEN} characters (e.g. `openssl rand -hex 32`)"),
                });
            }
        }
        let metrics_token = get("METRICS_TOKEN").map(Secret::new);
        if let Some(t) = &metrics_token {
            if t.expose().chars().count() < METRICS_TOKEN_MIN_LEN {
                return Err(ConfigError {
                    name: "METRICS_TOKEN",
                    message: format!("use at least {METRICS_TOKEN_MIN_LEN} characters (e.g. `openssl rand -hex 32`)"),
                });
            }
        }
        let workers = match get("WORKERS") {
            Some(w) => Some(w.parse::<usize>().ok().filter(|n| *n > 0).ok_or(ConfigError {
                name: "WORKERS",
                message: format!("expected a positive number, got {w:?}"),
            })?),
            None => None,
        };
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    name: "LOG_FORMAT",
                    message: format!("expected text or json, got {other:?}"),
                })
            }
        };
        let trusted_proxies = get("TRUSTED_PROXIES")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| {
                        a.parse::<IpAddr>().map_err(|_| ConfigError {
                            name: "TRUSTED_PROXIES",
                            message: format!("expected comma-separated IP addresses, got {a:?}"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let webhook_retry_base_seconds = match get("WEBHOOK_RETRY_BASE_SECONDS") {
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=3600).contains(n))
                .ok_or(ConfigError {
                    name: "WEBHOOK_RETRY_BASE_SECONDS",
                    message: format!("expected 1-3600 seconds, got {s:?}"),
                })?,
            None => 5,
        };
        let calendar_sync_seconds = match get("CALENDAR_SYNC_SECONDS") {
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=86_400).contains(n))
                .ok_or(ConfigError {
                    name: "CALENDAR_SYNC_SECONDS",
                    message: format!("expected 1-86400 seconds, got {s:?}"),
                })?,
            None => 900,
        };
        let push_allow_http = match get("PUSH_ALLOW_HTTP").as_deref() {
            None | Some("0") | Some("") => false,
            Some("1") => true,
            Some(other) => {
                return Err(ConfigError {
                    name: "PUSH_ALLOW_HTTP",
                    message: format!("expected 1 or 0, got {other:?}"),
                })
            }
        };
        let push_channel_ttl_seconds = match get("PUSH_CHANNEL_TTL_SECONDS") {
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| (4..=604_800).contains(n))
                .ok_or(ConfigError {
                    name: "PUSH_CHANNEL_TTL_SECONDS",
                    message: format!("expected 4-604800 seconds, got {s:?}"),
                })?,
            None => 604_800,
        };
        let encryption_key = get("ENCRYPTION_KEY").map(Secret::new);
        let encryption_old_keys = Secret::new(get("ENCRYPTION_OLD_KEYS").unwrap_or_default());
        // Checked here so that a bad key stops the server at start, not at the first connect.
        availability_store::crypto::Keyring::new(
            encryption_key.as_ref().map(|k| k.expose().as_str()),
            encryption_old_keys.expose(),
        )
        .map_err(|e| ConfigError {
            name: "ENCRYPTION_KEY",
            message: e.to_string(),
        })?;
        Ok(Self {
            encryption_key,
            encryption_old_keys,
            providers: ProviderVars(vars.clone()),
            database_url: get("DATABASE_URL").unwrap_or_else(|| "sqlite://availability.db".to_owned()),
            public_base_url: get("PUBLIC_BASE_URL").unwrap_or_else(|| format!("http://{bind}")),
            bind,
            admin_token,
            demo: false,
            workers,
            log_format,
            trusted_proxies,
            auth_throttle: AuthThrottleSettings::default(),
            metrics_bind: get("METRICS_BIND"),
            metrics_token,
            webhook_retry_base_seconds,
            calendar_sync_seconds,
            push_allow_http,
            push_channel_ttl_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(c.database_url, "sqlite://availability.db");
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.public_base_url, "http://127.0.0.1:8080");
        assert!(c.admin_token.is_none());
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(
            c.trusted_proxies.is_empty(),
            "X-Forwarded-For is not trusted by default"
        );
        assert_eq!(
            (c.auth_throttle.max_failures, c.auth_throttle.window),
            (20, Duration::from_secs(60))
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Config::from_vars(vars(&[("ADMIN_TOKEN", "short")])).is_err());
        // 31 characters: refused; 32: taken.
        assert!(Config::from_vars(vars(&[("ADMIN_TOKEN", &"a".repeat(31))])).is_err());
        assert!(Config::from_vars(vars(&[("ADMIN_TOKEN", &"a".repeat(32))])).is_ok());
        assert!(Config::from_vars(vars(&[("TRUSTED_PROXIES", "10.0.0.1, nope")])).is_err());
        assert_eq!(
            Config::from_vars(vars(&[("TRUSTED_PROXIES", "10.0.0.1, ::1")]))
                .unwrap()
                .trusted_proxies
                .len(),
            2
        );
        assert!(Config::from_vars(vars(&[("WORKERS", "zero")])).is_err());
        assert!(Config::from_vars(vars(&[("METRICS_TOKEN", &"m".repeat(31))])).is_err());
        let c = Config::from_vars(vars(&[("METRICS_TOKEN", &"m".repeat(32))])).unwrap();
        assert!(c.metrics_token.is_some() && c.metrics_bind.is_none());
        assert!(
            !format!("{c:?}").contains(&"m".repeat(32)),
            "the metrics token never prints"
        );
        assert!(Config::from_vars(vars(&[("ENCRYPTION_KEY", "not-a-key")])).is_err());
        assert!(Config::from_vars(vars(&[("LOG_FORMAT", "xml")])).is_err());
        assert!(Config::from_vars(vars(&[("WEBHOOK_RETRY_BASE_SECONDS", "0")])).is_err());
        assert_eq!(Config::from_vars(vars(&[])).unwrap().webhook_retry_base_seconds, 5);
        assert!(Config::from_vars(vars(&[("CALENDAR_SYNC_SECONDS", "0")])).is_err());
        assert_eq!(Config::from_vars(vars(&[])).unwrap().calendar_sync_seconds, 900);
        let push = |v: &[(&str, &str)]| Config::from_vars(vars(v)).unwrap().push_base();
        assert_eq!(
            push(&[("PUBLIC_BASE_URL", "https://book.example.com/")]),
            Ok("https://book.example.com/webhooks".into())
        );
        assert!(push(&[("PUBLIC_BASE_URL", "http://127.0.0.1:8080")]).is_err());
        assert_eq!(
            push(&[("PUBLIC_BASE_URL", "http://127.0.0.1:8080"), ("PUSH_ALLOW_HTTP", "1")]),
            Ok("http://127.0.0.1:8080/webhooks".into())
        );
        assert!(push(&[("PUBLIC_BASE_URL", "http://book.example.com"), ("PUSH_ALLOW_HTTP", "1")]).is_err());
        assert!(Config::from_vars(vars(&[("PUSH_CHANNEL_TTL_SECONDS", "1")])).is_err());
        assert_eq!(
            Config::from_vars(vars(&[("LOG_FORMAT", "json")])).unwrap().log_format,
            LogFormat::Json
        );
        let key = "ab".repeat(32);
        let c = Config::from_vars(vars(&[
            ("ENCRYPTION_KEY", &key),
            ("GOOGLE_CLIENT_SECRET", "gsecret-value"),
        ]))
        .unwrap();
        assert!(c.keyring().can_encrypt());
        let printed = format!("{c:?}");
        assert!(
            !printed.contains(&key) && !printed.contains("gsecret-value"),
            "secrets never print"
        );
        let c = Config::from_vars(vars(&[("ADMIN_TOKEN", "0123456789abcdef0123456789abcdef")])).unwrap();
        assert!(!format!("{c:?}").contains("0123456789abcdef"), "the token never prints");
    }
}

//! Typed configuration from the environment variables of api.md, passed explicitly.

use std::collections::HashMap;

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

impl Config {
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
            if t.expose().len() < 16 {
                return Err(ConfigError {
                    name: "ADMIN_TOKEN",
                    message: "use at least 16 characters (e.g. `openssl rand -hex 32`)".into(),
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
        Ok(Self {
            database_url: get("DATABASE_URL").unwrap_or_else(|| "sqlite://availability.db".to_owned()),
            public_base_url: get("PUBLIC_BASE_URL").unwrap_or_else(|| format!("http://{bind}")),
            bind,
            admin_token,
            demo: false,
            workers,
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
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Config::from_vars(vars(&[("ADMIN_TOKEN", "short")])).is_err());
        assert!(Config::from_vars(vars(&[("WORKERS", "zero")])).is_err());
        let c = Config::from_vars(vars(&[("ADMIN_TOKEN", "0123456789abcdef0123")])).unwrap();
        assert!(!format!("{c:?}").contains("0123456789abcdef"), "the token never prints");
    }
}

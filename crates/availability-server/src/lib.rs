#![doc = include_str!("../README.md")]

mod api_schema;
pub mod auth;
pub mod calendar_follower;
pub mod config;
pub mod demo;
pub mod error;
mod ics;
mod openapi;
mod pages;
mod policy;
mod prometheus;
pub mod provider_words;
pub mod push_keeper;
mod rfc3339;
mod routes;

pub use routes::openapi;
mod session;
pub mod state;
pub mod sync_worker;
pub mod throttle;
pub mod webhook_worker;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, Compress, Logger};
use actix_web::{web, App, HttpServer};
use availability_core::{
    AvailabilityService, CredentialRepository, IntegrationRepository, Provider, ProviderContext, ProviderFactory,
    ProviderRegistry, StrategyRegistry,
};
use availability_store::Store;

pub use config::Config;
use state::AppState;

/// The providers this server offers, in the order the pages list them. A provider crate is
/// registered here with one line (and in Cargo.toml); nothing else in the server names it.
pub const PROVIDERS: &[ProviderFactory] = &[
    provider_manual::register,
    provider_google::register,
    provider_office365::register,
    provider_calendly::register,
    provider_caldav::register,
];

/// A server bound to its address, not yet running.
pub struct BoundServer {
    /// The address it listens on (the real port when BIND asked for port 0).
    pub addr: SocketAddr,
    /// The address of METRICS_BIND's listener, if there is one.
    pub metrics_addr: Option<SocketAddr>,
    /// The store it serves.
    pub store: Store,
    server: Server,
    metrics_server: Option<Server>,
}

impl BoundServer {
    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until the server is stopped (SIGINT/SIGTERM or the handle): in-flight requests
    /// finish, then it returns.
    pub async fn run(self) -> std::io::Result<()> {
        let Some(metrics) = self.metrics_server else {
            return self.server.await;
        };
        let metrics_handle = metrics.handle();
        let metrics_task = tokio::spawn(metrics);
        let answer = self.server.await;
        // The metrics listener ends with the server it reports on.
        metrics_handle.stop(true).await;
        let _ = metrics_task.await;
        answer
    }
}

/// Builds the registered providers (and `extra` ones) from the configuration.
pub fn providers(
    config: &Config,
    store: &Store,
    factories: &[ProviderFactory],
    built: Vec<Arc<dyn Provider>>,
) -> anyhow::Result<ProviderRegistry> {
    let credentials: Arc<dyn CredentialRepository> = Arc::new(store.clone());
    // What providers report about an integration is shown by GET integrations: in our words.
    let integrations: Arc<dyn IntegrationRepository> =
        Arc::new(provider_words::WordedIntegrations(Arc::new(store.clone())));
    let context = ProviderContext::new(
        config.providers.0.clone(),
        config.public_base_url.clone(),
        credentials,
        integrations,
    );
    let mut registry = ProviderRegistry::build(factories, &context)?;
    for provider in built {
        registry = registry.with(provider);
    }
    Ok(registry)
}

/// Opens the database (migrating it), builds the app and binds BIND.
pub async fn bind(config: Config) -> anyhow::Result<BoundServer> {
    bind_with(config, &[], Vec::new()).await
}

/// Like [`bind`], with more providers registered after [`PROVIDERS`]: `factories` are built like
/// them, `built` are ready-made (tests use both; a later registration of an integration type
/// replaces an earlier one).
pub async fn bind_with(
    config: Config,
    factories: &[ProviderFactory],
    built: Vec<Arc<dyn Provider>>,
) -> anyhow::Result<BoundServer> {
    let store = Store::open(&config.database_url).await?.with_keyring(config.keyring());
    let all: Vec<ProviderFactory> = PROVIDERS.iter().chain(factories).copied().collect();
    let providers = providers(&config, &store, &all, built)?;
    // Every provider call is counted and timed for /metrics.
    let strategies = providers
        .iter()
        .filter_map(|p| p.strategy())
        .fold(StrategyRegistry::new(), |r, s| {
            r.with(prometheus::Instrumented::wrap(s))
        });
    // Calendar writes go through the durable outbox (worker below), not inline.
    let service = AvailabilityService::new(Arc::new(store.clone()), Arc::new(store.clone()), strategies.clone())
        .with_inline_calendar_writes(false);
    let wake = Arc::new(tokio::sync::Notify::new());
    let config = Arc::new(config);
    let state = web::Data::new(AppState::new(
        store.clone(),
        service,
        config.clone(),
        providers,
        wake.clone(),
    ));
    prometheus::handle();
    let metrics_state = state.clone();
    let follower_service = state.service.clone();
    let push_wake = state.push_wake.clone();
    let mut http = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(policy::answer_policy))
            // The path only: query strings (OAuth codes, states) never reach the log, nor the
            // secret in a calendar feed's path.
            .wrap(
                Logger::new("%s %{path}xi %Dms")
                    .custom_request_replace("path", |req| routes::loggable_path(req.path()))
                    .log_target("availability_server::http"),
            )
            .wrap(Compress::default())
            // Outermost, so that every answer is counted (the throttle's 429s too).
            .wrap(from_fn(prometheus::record_http))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .shutdown_timeout(10);
    if let Some(workers) = config.workers {
        http = http.workers(workers);
    }
    let http = http
        .bind(&config.bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
    let addr = *http
        .addrs()
        .first()
        .ok_or_else(|| anyhow::anyhow!("no listen address"))?;
    let server = http.run();
    let (metrics_addr, metrics_server) = match &config.metrics_bind {
        Some(bind) => {
            let listener = HttpServer::new(move || {
                App::new()
                    .app_data(metrics_state.clone())
                    .configure(routes::configure_metrics_listener)
                    .default_service(web::to(routes::not_found))
            })
            .workers(1)
            .shutdown_timeout(1)
            .bind(bind)
            .map_err(|e| anyhow::anyhow!("METRICS_BIND: cannot listen on {bind}: {e}"))?;
            let addr = *listener
                .addrs()
                .first()
                .ok_or_else(|| anyhow::anyhow!("METRICS_BIND: no listen address"))?;
            (Some(addr), Some(listener.run()))
        }
        None => (None, None),
    };
    spawn_housekeeping(store.clone());
    tokio::spawn(
        webhook_worker::WebhookWorker {
            store: store.clone(),
            client: webhook_worker::client()?,
            retry_base_seconds: config.webhook_retry_base_seconds,
        }
        .run(),
    );
    tokio::spawn(
        calendar_follower::CalendarFollower {
            store: store.clone(),
            service: follower_service,
            strategies: strategies.clone(),
            every: std::time::Duration::from_secs(config.calendar_sync_seconds),
        }
        .run(),
    );
    match config.push_base() {
        Ok(base) => {
            tokio::spawn(
                push_keeper::PushKeeper {
                    store: store.clone(),
                    strategies: strategies.clone(),
                    base,
                    ttl_seconds: config.push_channel_ttl_seconds,
                    wake: push_wake,
                }
                .run(),
            );
        }
        Err(why) => tracing::info!(
            "push notifications are off: {why}; calendars are read for changes every {} s instead",
            config.calendar_sync_seconds
        ),
    }
    tokio::spawn(
        sync_worker::SyncWorker {
            store: store.clone(),
            strategies,
            wake,
        }
        .run(),
    );
    Ok(BoundServer {
        addr,
        metrics_addr,
        store,
        server,
        metrics_server,
    })
}

/// Once an hour: forgets expired Idempotency-Key answers, sessions and tokens, and delivered or
/// failed webhook deliveries older than 30 days, and cancels pending appointments whose
/// scheduling link went unused for 24 hours.
fn spawn_housekeeping(store: Store) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = store.purge_idempotency_keys().await {
                tracing::warn!("purging idempotency keys: {e}");
            }
            if let Err(e) = store.purge_sessions().await {
                tracing::warn!("purging sessions: {e}");
            }
            if let Err(e) = store.purge_expired_tokens().await {
                tracing::warn!("purging expired tokens: {e}");
            }
            if let Err(e) = store.purge_webhook_deliveries().await {
                tracing::warn!("purging old webhook deliveries: {e}");
            }
            match store.expire_pending_appointments().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("cancelled {n} pending appointment(s) whose scheduling link went unused"),
                Err(e) => tracing::warn!("expiring pending appointments: {e}"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
}

#![doc = include_str!("../README.md")]

pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod oauth;
mod pages;
mod rfc3339;
mod routes;
mod session;
pub mod state;
pub mod sync_worker;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Compress, Logger};
use actix_web::{web, App, HttpServer};
use availability_core::{
    AvailabilityService, AvailabilityStrategy, CredentialRepository, IntegrationRepository, StrategyRegistry,
};
use availability_domain::IntegrationType;
use availability_store::Store;
use provider_calendly::{CalendlyBuilder, CalendlyStrategy};
use provider_google::{GoogleCalendarBuilder, GoogleCalendarStrategy};
use provider_http::{OAuthApp, TokenManager};
use provider_manual::ManualStrategy;
use provider_office365::{Office365Builder, Office365CalendarStrategy};

pub use config::Config;
use state::AppState;

/// A server bound to its address, not yet running.
pub struct BoundServer {
    /// The address it listens on (the real port when BIND asked for port 0).
    pub addr: SocketAddr,
    /// The store it serves.
    pub store: Store,
    server: Server,
}

impl BoundServer {
    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until the server is stopped (SIGINT/SIGTERM or the handle): in-flight requests
    /// finish, then it returns.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The strategies this server offers: manual hours always, and each calendar provider whose
/// OAuth app is configured. Adding a provider is one line here.
pub struct Providers {
    /// One strategy per integration type.
    pub registry: StrategyRegistry,
    /// The Google strategy, for what only it can do (the account, the calendar list).
    pub google: Option<Arc<GoogleCalendarStrategy>>,
    /// The Microsoft strategy, for what only it can do (the account, Outlook working hours).
    pub office365: Option<Arc<Office365CalendarStrategy>>,
    /// The Calendly strategy (always: personal access tokens need no OAuth app).
    pub calendly: Arc<CalendlyStrategy>,
}

/// Builds the strategies from the configuration.
pub fn providers(config: &Config, store: &Store, oauth: &oauth::OAuthApps) -> anyhow::Result<Providers> {
    let credentials: Arc<dyn CredentialRepository> = Arc::new(store.clone());
    let integrations: Arc<dyn IntegrationRepository> = Arc::new(store.clone());
    let tokens = |app: &Arc<OAuthApp>| TokenManager::new(app.clone(), credentials.clone(), integrations.clone());
    let mut registry = StrategyRegistry::new().with(Arc::new(ManualStrategy::new()));
    let mut google = None;
    if let Some(app) = oauth.get(IntegrationType::GoogleCalendar) {
        let strategy = GoogleCalendarBuilder::new(tokens(app), integrations.clone())
            .with_api_base(config.providers.google.api_base.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("Google Calendar: {e}"))?;
        let strategy = Arc::new(strategy);
        registry = registry.with(strategy.clone());
        google = Some(strategy);
    }
    let mut office365 = None;
    if let Some(app) = oauth.get(IntegrationType::Office365Calendar) {
        let strategy = Office365Builder::from_parts(
            config.providers.microsoft.api_base.clone(),
            None,
            tokens(app),
            integrations.clone(),
            None,
        )
        .build()
        .map_err(|e| anyhow::anyhow!("Office 365: {e}"))?;
        let strategy = Arc::new(strategy);
        registry = registry.with(strategy.clone());
        office365 = Some(strategy);
    }
    let c = &config.providers;
    let mut calendly = CalendlyBuilder::new(credentials.clone(), integrations.clone())
        .with_api_base(c.calendly.api_base.clone())
        .with_max_span_days(c.calendly_max_span_days);
    if let Some(app) = oauth.get(IntegrationType::Calendly) {
        calendly = calendly.with_token_manager(tokens(app));
    }
    if let Some(key) = &c.calendly_webhook_signing_key {
        let url = format!("{}/webhooks/calendly", config.public_base_url.trim_end_matches('/'));
        calendly = calendly.with_webhook(url, key.clone());
    }
    let calendly = Arc::new(calendly.build().map_err(|e| anyhow::anyhow!("Calendly: {e}"))?);
    registry = registry.with(calendly.clone());
    Ok(Providers {
        registry,
        google,
        office365,
        calendly,
    })
}

/// Opens the database (migrating it), builds the app and binds BIND.
pub async fn bind(config: Config) -> anyhow::Result<BoundServer> {
    bind_with(config, Vec::new()).await
}

/// Like [`bind`], with extra strategies registered (tests use it to plug in a strategy of their
/// own; a later registration of an integration type replaces an earlier one).
pub async fn bind_with(config: Config, extra: Vec<Arc<dyn AvailabilityStrategy>>) -> anyhow::Result<BoundServer> {
    let store = Store::open(&config.database_url).await?.with_keyring(config.keyring());
    let oauth = oauth::OAuthApps::from_config(&config)?;
    let providers = providers(&config, &store, &oauth)?;
    let mut registry = providers.registry.clone();
    for s in extra {
        registry = registry.with(s);
    }
    // Calendar writes go through the durable outbox (worker below), not inline.
    let service = AvailabilityService::new(Arc::new(store.clone()), Arc::new(store.clone()), registry.clone())
        .with_inline_calendar_writes(false);
    let wake = Arc::new(tokio::sync::Notify::new());
    let config = Arc::new(config);
    let state = web::Data::new(AppState::new(
        store.clone(),
        service,
        config.clone(),
        registry.clone(),
        wake.clone(),
        oauth,
        &providers,
    ));
    let mut http = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // The path only: query strings (OAuth codes, states) never reach the log.
            .wrap(Logger::new("%s %U %Dms").log_target("availability_server::http"))
            .wrap(Compress::default())
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
    spawn_housekeeping(store.clone());
    tokio::spawn(
        sync_worker::SyncWorker {
            store: store.clone(),
            strategies: registry,
            wake,
        }
        .run(),
    );
    Ok(BoundServer { addr, store, server })
}

/// Once an hour: forgets expired Idempotency-Key answers and sessions, and cancels pending
/// appointments whose scheduling link went unused for 24 hours.
fn spawn_housekeeping(store: Store) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = store.purge_idempotency_keys().await {
                tracing::warn!("purging idempotency keys: {e}");
            }
            if let Err(e) = store.purge_sessions().await {
                tracing::warn!("purging sessions: {e}");
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

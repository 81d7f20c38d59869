//! availability-server: the HTTP API over SQLite (default) or PostgreSQL.

use availability_domain::jiff::{SignedDuration, Timestamp};
use std::io::IsTerminal;

use availability_server::config::LogFormat;
use availability_server::{bind, demo, Config};

// A request allocates many small, short-lived buffers (JSON, headers, rows) across worker threads;
// mimalloc's per-thread free lists serve them faster than glibc's arenas (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    init_logging(config.log_format);
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--demo" => config.demo = true,
            "reencrypt" => return reencrypt(config).await,
            "-h" | "--help" => {
                println!("{}", include_str!("usage.txt"));
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}; see --help"),
        }
    }
    let admin_token = config.admin_token.as_ref().map(|t| t.expose().clone());
    let dev_key = config.demo && config.encryption_key.is_none();
    let demo = config.demo;
    let server = bind(config).await?;
    let base = format!("http://{}", server.addr);
    println!(
        "availability-server listening on {base} ({} database)",
        server.store.backend()
    );
    if demo {
        let d = demo::seed(&server.store, admin_token.as_deref()).await?;
        let from = Timestamp::now();
        let to = from + SignedDuration::from_hours(7 * 24);
        if dev_key {
            println!("\nNo ENCRYPTION_KEY: --demo encrypts credentials with a fixed development key. Never connect real calendars this way.");
        }
        println!("\nDemo data:");
        println!("  expert  {} ({}, {})", d.expert.id, d.expert.name, d.expert.timezone);
        println!("  client  {}", d.client_id);
        println!("  ADMIN_TOKEN  {}", d.admin_token);
        println!("  EXPERT_TOKEN {}", d.expert_token);
        println!("  CLIENT_TOKEN {}", d.client_token);
        println!("\nIn a browser: {base}/ and sign in with a token above:");
        println!(
            "  EXPERT_TOKEN -> {base}/experts/{}/manage (hours, breaks, policy; calendars from there)",
            d.expert.id
        );
        println!("  CLIENT_TOKEN -> {base}/book/{} (book, then cancel)", d.expert.id);
        println!("\nList the next week's slots:");
        println!(
            "  curl -s -H 'Authorization: Bearer {}' '{base}/api/v1/experts/{}/slots?from={}&to={}'",
            d.client_token,
            d.expert.id,
            from.round(availability_domain::jiff::Unit::Second)?,
            to.round(availability_domain::jiff::Unit::Second)?,
        );
    } else if admin_token.is_none() {
        println!(
            "\nNo ADMIN_TOKEN is set, so nobody can administer this server yet. Restart with\n  \
             ADMIN_TOKEN=$(openssl rand -hex 32) cargo run -p availability-server\n\
             or try it with example data: cargo run -p availability-server -- --demo"
        );
    }
    server.run().await?;
    Ok(())
}

/// Logs go to stderr, filtered by RUST_LOG (default info). Text is coloured only for a terminal,
/// so a log written to a file or a pipe holds no escape codes; LOG_FORMAT=json writes one JSON
/// object per line.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(colour).init();
        }
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// `availability-server reencrypt`: rewrites every credential with ENCRYPTION_KEY. Credentials
/// that cannot be decrypted are reported and left as they are, and the exit status is non-zero.
async fn reencrypt(config: Config) -> anyhow::Result<()> {
    if config.encryption_key.is_none() {
        anyhow::bail!("ENCRYPTION_KEY is not set: it names the key to re-encrypt with");
    }
    let store = availability_store::Store::open(&config.database_url)
        .await?
        .with_keyring(config.keyring());
    let (rewritten, failed) = store.reencrypt_credentials().await?;
    println!("re-encrypted {rewritten} credential(s) with the current key");
    for f in &failed {
        eprintln!("cannot decrypt {f}: left as it is; the expert must reconnect");
    }
    if !failed.is_empty() {
        std::process::exit(2);
    }
    Ok(())
}

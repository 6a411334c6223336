//! `chat-server`: the giosg Chats API v5 over HTTP on top of `chat-core`.
//!
//! `serve` runs the API, `seed` loads a seed file, `demo` serves with a fresh demo
//! organization. See the README's server section.

mod connections;
mod demo;
mod engine_threads;
mod http;
mod master_key;
mod openapi;
mod rate_limits;
mod realtime;
#[cfg(test)]
mod realtime_tests;
mod routes;
#[cfg(test)]
mod surfaces_tests;
mod web;

use chat_core::{CheckpointPolicy, Engine, webhooks};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "chat-server",
    version,
    about = "The Chats API v5 over HTTP, on chat-core"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Load a seed file (contract section 4) into a database.
    Seed(SeedArgs),
    /// Serve with a fresh demo organization, and print tokens and curl lines to try.
    Demo(ServeArgs),
}

/// Where the server keeps its data.
#[derive(Clone, Debug)]
enum Database {
    /// A SQLite file of this server's own (created when missing).
    File(PathBuf),
    /// A PostgreSQL database, which several servers may share (`postgres://` or
    /// `postgresql://` URL).
    Postgres(String),
}

impl std::str::FromStr for Database {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self::Postgres(s.to_string()))
        } else if s.is_empty() {
            Err("the database is empty: a file path or a postgres:// URL".into())
        } else {
            Ok(Self::File(PathBuf::from(s)))
        }
    }
}

impl std::fmt::Display for Database {
    /// The file's path, or the URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    write!(f, "{u}")
                }
                Err(_) => f.write_str("postgres://(unparsable URL)"),
            },
        }
    }
}

impl Database {
    /// Opens the engine `builder` describes on this database.
    fn open(&self, builder: chat_core::EngineBuilder) -> chat_core::Result<Engine> {
        match self {
            Self::File(path) => builder.open(path),
            Self::Postgres(url) => builder.open_postgres(url),
        }
    }
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// The database: a SQLite file (created when missing), or a `postgres://` URL of a
    /// PostgreSQL database that several servers share.
    #[arg(long, env = "CHAT_DB", default_value = "./chat.db")]
    db: Database,
    /// Address to listen on (port 0: any free port).
    #[arg(long, env = "CHAT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Server-admin token (at least 16 characters): may create organizations.
    #[arg(long, env = "CHAT_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Commit concurrent writes together (group commit); `false` gives one transaction per
    /// request (for comparison).
    #[arg(long, env = "CHAT_GROUP_COMMIT", default_value_t = true, action = clap::ArgAction::Set)]
    group_commit: bool,
    /// Base URL of `next`/`previous` links (default: from the request's Host header).
    #[arg(long, env = "CHAT_PUBLIC_URL")]
    public_url: Option<String>,
    /// The file holding the master key that seals the organization keys the server holds
    /// (64 hex characters; default: `<db>.master-key` beside a SQLite database, created with
    /// mode 0600 from the system's random source when missing). Required with PostgreSQL:
    /// every server on the database must use the same key.
    #[arg(long, env = "CHAT_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Restrict webhook destinations to URLs under one of these (same scheme, host and port,
    /// leading path segments; repeat the option; default: any http(s) URL, loopback
    /// included). Creating or changing a webhook to another destination answers 400; each
    /// delivery is checked again.
    #[arg(long = "webhook-allow")]
    webhook_allow: Vec<String>,
    /// A failing webhook delivery is marked failed (and the webhook's next delivery goes on)
    /// once it has had this many attempts and has been failing for
    /// `--webhook-give-up-after-secs`, whichever comes later.
    #[arg(long, env = "CHAT_WEBHOOK_GIVE_UP_AFTER_ATTEMPTS", default_value_t = webhooks::GIVE_UP_AFTER_ATTEMPTS,
          value_parser = clap::value_parser!(i64).range(1..))]
    webhook_give_up_after_attempts: i64,
    /// See `--webhook-give-up-after-attempts` (seconds since the delivery's first failure).
    #[arg(long, env = "CHAT_WEBHOOK_GIVE_UP_AFTER_SECS", default_value_t = webhooks::GIVE_UP_AFTER_MS as u64 / 1000)]
    webhook_give_up_after_secs: u64,
    /// How long the token of a bot webhook's `app_user_auth` acts as the bot (seconds, at
    /// most 3600); each delivery attempt mints its own.
    #[arg(long, env = "CHAT_WEBHOOK_TOKEN_LIFETIME_SECS", default_value_t = webhooks::APP_TOKEN_LIFETIME_MS as u64 / 1000,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    webhook_token_lifetime_secs: u64,
    /// How long events are kept for resuming streams (seconds; older `since` values get a
    /// `resync`).
    #[arg(long, env = "CHAT_EVENT_RETENTION_SECS", default_value_t = 7 * 24 * 3600)]
    event_retention_secs: u64,
    /// The event log's size bound (MiB, estimated): past it maintenance deletes the oldest
    /// events even inside the retention time (0: no bound).
    #[arg(long, env = "CHAT_EVENT_RETENTION_MB", default_value_t = 256)]
    event_retention_mb: u64,
    /// How often the background checkpoint copies the WAL into the database (milliseconds).
    #[arg(long, env = "CHAT_CHECKPOINT_EVERY_MS", default_value_t = CheckpointPolicy::default().every.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every_ms: u64,
    /// WAL size (pages of 4 KiB) past which a commit checkpoints inline, so that the WAL starts
    /// over under steady writes (a pause of 10–25 ms each time on the measured disk); the WAL
    /// file is kept at that size; 0: never (the WAL then grows without end under steady writes).
    #[arg(long, env = "CHAT_WAL_INLINE_CHECKPOINT_PAGES", default_value_t = CheckpointPolicy::default().inline_above_pages,
          value_parser = clap::value_parser!(i64).range(0..))]
    wal_inline_checkpoint_pages: i64,
    /// Threads running engine calls; 0: tokio's blocking pool instead (for comparison).
    #[arg(long, env = "CHAT_ENGINE_THREADS", default_value_t = 32)]
    engine_threads: usize,
    /// How often the time-driven rules and retention run (milliseconds): idle chats end,
    /// presences expire, events older than the retention are deleted.
    #[arg(long, env = "CHAT_MAINTENANCE_EVERY_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    maintenance_every_ms: u64,
    /// Connections served at once; beyond it, new connections wait in the listen backlog
    /// until one closes. Keep it below the open-file limit (`ulimit -n`).
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 512,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Time allowed for a request's head, counted from when the connection starts waiting for
    /// it (opened, or previous response sent); past it the connection is closed (seconds).
    #[arg(long, env = "CHAT_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout_secs: u64,
    /// Longest wait for the next piece of a request body; past it the request is answered
    /// 408 (seconds).
    #[arg(long, env = "CHAT_BODY_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    body_read_timeout_secs: u64,
    /// A keep-alive connection without a request in progress for this long is closed
    /// (seconds).
    #[arg(long, env = "CHAT_KEEP_ALIVE_TIMEOUT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    keep_alive_timeout_secs: u64,
    /// A request not answered within this long is answered 503 `request_timeout`
    /// (seconds).
    #[arg(long, env = "CHAT_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout_secs: u64,
    /// Origins of the pages that may embed the visitor widget (`/widget.js`): the public
    /// visitor API and the WebSocket answer browsers of these origins (CORS) besides the
    /// server's own; `*` allows any page. Default: none but the server's own origin. The other
    /// API paths (the operator desk's) answer browsers of the server's own origin only.
    #[arg(
        long = "widget-origins",
        env = "CHAT_WIDGET_ORIGINS",
        value_delimiter = ','
    )]
    widget_origins: Vec<String>,
    /// Requests per second one client address may make to the public visitor API
    /// (`/api/v5/public/...`); over it, 429 `rate_limited` with `Retry-After`. 0: no limit
    /// (set it behind a reverse proxy, where every client has the proxy's address).
    #[arg(long, env = "CHAT_PUBLIC_RATE_LIMIT", default_value_t = 20)]
    public_rate_limit: u32,
    /// Requests one client address may make to the public API at once before the rate
    /// applies.
    #[arg(long, env = "CHAT_PUBLIC_RATE_BURST", default_value_t = 200)]
    public_rate_burst: u32,
    /// Requests per second one token may make (any authenticated request, the WebSocket
    /// upgrade included); over it, 429 `rate_limited` with `Retry-After`. 0: no limit.
    #[arg(long, env = "CHAT_TOKEN_RATE_LIMIT", default_value_t = 0)]
    token_rate_limit: u32,
    /// Requests one token may make at once before its rate applies.
    #[arg(long, env = "CHAT_TOKEN_RATE_BURST", default_value_t = 200)]
    token_rate_burst: u32,
    /// WebSocket sessions one token may hold open; a further upgrade is answered 429
    /// `too_many_sockets`. 0: no cap.
    #[arg(long, env = "CHAT_MAX_SOCKETS_PER_TOKEN", default_value_t = 16)]
    max_sockets_per_token: usize,
}

#[derive(Args)]
struct SeedArgs {
    /// The database: a SQLite file (created when missing) or a `postgres://` URL.
    #[arg(long, env = "CHAT_DB", default_value = "./chat.db")]
    db: Database,
    /// The seed file (JSON).
    file: PathBuf,
}

fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CHAT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if std::env::var("CHAT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    let result = match cli.command {
        Command::Seed(args) => seed(&args),
        Command::Serve(args) => run(args, false),
        Command::Demo(args) => run(args, true),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn seed(args: &SeedArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let engine = args
        .db
        .open(Engine::builder())
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let report = engine
        .load_seed_json(&text)
        .map_err(|e| format!("the seed was not loaded: {}", e.to_json()))?;
    checkpoint(&engine);
    println!(
        "seeded {}: {} organizations, {} users, {} teams, {} rooms, {} visitors",
        args.db, report.organizations, report.users, report.teams, report.rooms, report.visitors
    );
    Ok(())
}

/// Moves the WAL into the database file (the close of the last connection does it too).
fn checkpoint(engine: &Engine) {
    if let Err(e) = engine.checkpoint() {
        tracing::warn!(error = %e, "WAL checkpoint failed");
    }
}

fn run(args: ServeArgs, demo: bool) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(serve(args, demo))
}

fn random_token() -> String {
    format!(
        "adm_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

async fn serve(args: ServeArgs, demo: bool) -> Result<(), String> {
    if args.admin_token.as_ref().is_some_and(|t| t.len() < 16) {
        return Err("the admin token must be at least 16 characters".into());
    }
    let web = web::WebConfig {
        widget_origins: web::WidgetOrigins::parse(&args.widget_origins)?,
        public_url: args.public_url.clone(),
    };
    let db = args.db.clone();
    let retention = Duration::from_secs(args.event_retention_secs);
    let allow = args.webhook_allow.clone();
    let limits = webhooks::DeliveryLimits {
        attempts: args.webhook_give_up_after_attempts,
        failing_for_ms: i64::try_from(args.webhook_give_up_after_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX),
        token_lifetime_ms: args.webhook_token_lifetime_secs as i64 * 1000,
    };
    let group_commit = args.group_commit;
    let checkpoints = CheckpointPolicy {
        every: Duration::from_millis(args.checkpoint_every_ms),
        inline_above_pages: args.wal_inline_checkpoint_pages,
        ..CheckpointPolicy::default()
    };
    let key_file = match (&args.master_key_file, &args.db) {
        (Some(file), _) => file.clone(),
        (None, Database::File(path)) => master_key::default_path(path),
        (None, Database::Postgres(_)) => {
            return Err("with a PostgreSQL database, --master-key-file (CHAT_MASTER_KEY_FILE) is required: every server on the database must use the same key".into());
        }
    };
    let master = master_key::load_or_create(&key_file)?;
    let signals = realtime::CommitSignals::new();
    let hook_signals = signals.clone();
    let engine = tokio::task::spawn_blocking(move || {
        let builder = Engine::builder()
            .master_key(master)
            .event_retention(retention)
            .event_retention_bytes(match args.event_retention_mb {
                0 => u64::MAX,
                mb => mb.saturating_mul(1 << 20),
            })
            .webhook_destinations(allow)
            .webhook_delivery_limits(limits)
            .on_commit(move |notice| hook_signals.committed(notice))
            // WAL checkpoints off the request path (a passive checkpoint on a connection of
            // its own; inline only past the threshold).
            .background_checkpoints(checkpoints)
            .group_commit(group_commit);
        db.open(builder)
    })
    .await
    .map_err(|e| format!("cannot open the database: {e}"))?
    .map_err(|e| format!("cannot open the database {}: {e}", args.db))?;
    let engine = Arc::new(engine);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the local address: {e}"))?;
    let base = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let mut admin_token = args.admin_token.clone();
    if demo {
        let token = admin_token.get_or_insert_with(random_token).clone();
        let e = engine.clone();
        let db = args.db.to_string();
        let text = tokio::task::spawn_blocking(move || demo::setup(&e, &base, &token, &db))
            .await
            .map_err(|e| format!("demo setup failed: {e}"))?
            .map_err(|e| format!("demo setup failed: {}", e.to_json()))?;
        print!("{text}");
    }
    println!("chat-server listening on http://{addr}");
    let _ = std::io::stdout().flush();

    signals.advance(engine.last_event_seq());
    let calls = engine_threads::Calls::start(args.engine_threads)
        .map_err(|e| format!("cannot start the engine threads: {e}"))?;
    let fanout = realtime::Fanout::new();
    // Ends by itself when `signals` closes, closing the sessions.
    tokio::spawn(
        fanout
            .clone()
            .run(engine.clone(), calls.clone(), signals.subscribe()),
    );
    let request_limits = rate_limits::RateLimits::new(
        rate_limits::Rate::new(args.public_rate_limit, args.public_rate_burst),
        rate_limits::Rate::new(args.token_rate_limit, args.token_rate_burst),
        args.max_sockets_per_token,
    );
    let forget = tokio::spawn({
        let request_limits = request_limits.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                request_limits.forget_idle_keys();
            }
        }
    });
    let app = Arc::new(http::App {
        engine: engine.clone(),
        admin_token,
        public_url: args.public_url.clone(),
        openapi: openapi::document(),
        fanout: fanout.clone(),
        calls: calls.clone(),
        limits: request_limits.clone(),
    });
    let maintenance = tokio::spawn(maintenance_loop(
        engine.clone(),
        calls.clone(),
        Duration::from_millis(args.maintenance_every_ms),
    ));
    let webhooks = tokio::spawn(realtime::webhook_loop(
        engine.clone(),
        signals.clone(),
        calls,
    ));
    let limits = connections::Limits {
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        header_read: Duration::from_secs(args.header_read_timeout_secs),
        body_read: Duration::from_secs(args.body_read_timeout_secs),
        keep_alive_idle: Duration::from_secs(args.keep_alive_timeout_secs),
        request: Duration::from_secs(args.request_timeout_secs),
    };
    connections::serve(
        listener,
        web::with_clients(
            rate_limits::guard(http::router(app, limits.request), request_limits),
            web,
        ),
        limits,
        shutdown_signal(),
    )
    .await;
    forget.abort();
    maintenance.abort();
    let _ = maintenance.await;
    webhooks.abort();
    let _ = webhooks.await;
    // Ends the WebSocket sessions (upgraded connections outlive the graceful shutdown).
    signals.close();
    // Every handler has finished (graceful shutdown waits for them); a maintenance run may
    // still hold the engine for a moment.
    let mut engine = engine;
    for _ in 0..200 {
        match Arc::try_unwrap(engine) {
            Ok(e) => {
                // Closing is synchronous work like any engine call (a checkpoint, closing
                // PostgreSQL connections, which must not happen on an async thread).
                let closed = tokio::task::spawn_blocking(move || {
                    checkpoint(&e);
                    drop(e);
                })
                .await;
                if closed.is_err() {
                    tracing::error!("closing the database panicked");
                }
                tracing::info!("database closed");
                return Ok(());
            }
            Err(still_shared) => {
                engine = still_shared;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    checkpoint(&engine);
    tracing::warn!("the engine was still in use at exit");
    Ok(())
}

/// Applies the time-driven rules (idle chats, task ttl, presence expiry) and retention every
/// `every` (`--maintenance-every-ms`).
async fn maintenance_loop(engine: Arc<Engine>, calls: engine_threads::Calls, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let e = engine.clone();
        match calls.run(move || e.maintenance()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "maintenance failed"),
            Err(_) => tracing::error!("maintenance panicked"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

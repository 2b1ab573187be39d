//! `weir serve`: resolve the configuration, open the broker and its plugin host, serve
//! HTTP until SIGTERM or SIGINT, then flush and exit.
//!
//! # Startup order
//!
//! The plugin host is opened before the HTTP application: both register transaction
//! checkers with the broker, which asks them in that order, so a WebAssembly checker
//! bound to a producer group or topic answers before the producer group's callback URL
//! is tried.
//!
//! # Durability at shutdown
//!
//! On SIGTERM/SIGINT the server stops accepting connections, lets in-flight requests
//! finish, stops the plugin bindings (each settles the batch in hand), then closes the
//! store: a final fsync of the commitlog, queues and index and a checkpoint, so the next
//! start has nothing to recover. `kill -9` skips all of that; recovery handles it (see
//! `weir-store`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use weir_api::App;
use weir_core::Broker;
use weir_plugin::PluginHost;

use crate::config::{self, FileConfig};

/// Flags of `weir serve`. Each can also come from its environment variable or, for most,
/// from the configuration file; flags win over the environment, which wins over the file.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "WEIR_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (created if missing) [default: ./weir-data].
    #[arg(long, env = "WEIR_DATA")]
    data: Option<PathBuf>,
    /// Address to listen on, HOST:PORT [default: 127.0.0.1:7700].
    #[arg(long, env = "WEIR_LISTEN")]
    listen: Option<String>,
    /// Flush policy: `async` (fsync every interval) or `sync` (answer after fsync) [default: async].
    #[arg(long, env = "WEIR_FLUSH")]
    flush: Option<String>,
    /// Interval of the async flusher in milliseconds [default: 200].
    #[arg(long, env = "WEIR_FLUSH_INTERVAL_MS")]
    flush_interval_ms: Option<u64>,
    /// How long a sync send waits for its fsync before answering FLUSH_DISK_TIMEOUT, ms [default: 5000].
    #[arg(long, env = "WEIR_SYNC_FLUSH_TIMEOUT_MS")]
    sync_flush_timeout_ms: Option<u64>,
    /// Commitlog segment size in bytes [default: 1 GiB].
    #[arg(long, env = "WEIR_SEGMENT_BYTES")]
    segment_bytes: Option<u64>,
    /// Hours a commitlog segment is kept; 0 keeps everything [default: 72].
    #[arg(long, env = "WEIR_RETENTION_HOURS")]
    retention_hours: Option<u64>,
    /// Fraction of the disk in use above which sends are refused [default: 0.9].
    #[arg(long, env = "WEIR_DISK_MAX_USED_RATIO")]
    disk_max_used_ratio: Option<f64>,
    /// Most HTTP connections open at once (kept below the file descriptor limit) [default: 10000].
    #[arg(long, env = "WEIR_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Idle HTTP connections are closed after this many milliseconds [default: 30000].
    #[arg(long, env = "WEIR_IDLE_TIMEOUT_MS")]
    idle_timeout_ms: Option<u64>,
}

impl ServeArgs {
    fn resolve(self) -> anyhow::Result<config::ServerConfig> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let store = &file.store;
        let interval = self
            .flush_interval_ms
            .or(store.flush_interval_ms)
            .unwrap_or(config::DEFAULT_FLUSH_INTERVAL_MS);
        let flush = config::flush_policy(
            self.flush
                .as_deref()
                .or(store.flush.as_deref())
                .unwrap_or("async"),
            interval,
        )?;
        let connections =
            config::resolve_http(&file.http, self.max_connections, self.idle_timeout_ms)?;
        let mut resolved = config::resolve(
            self.data
                .or(file.data.clone())
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR)),
            self.listen
                .as_deref()
                .or(file.listen.as_deref())
                .unwrap_or(config::DEFAULT_LISTEN),
            flush,
            self.sync_flush_timeout_ms
                .or(store.sync_flush_timeout_ms)
                .unwrap_or(config::DEFAULT_SYNC_FLUSH_TIMEOUT_MS),
            self.segment_bytes.or(store.segment_bytes),
            self.retention_hours
                .or(store.retention_hours)
                .unwrap_or(config::DEFAULT_RETENTION_HOURS),
            self.disk_max_used_ratio.or(store.disk_max_used_ratio),
            &file.limits,
            &file.plugins,
            &file.auth,
        )?;
        resolved.connections = connections;
        Ok(resolved)
    }
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let config = args.resolve()?;
    match weir_api::connection::raise_fd_limit() {
        Some((before, after)) if after > before => {
            tracing::info!(before, after, "raised the open file limit");
        }
        Some((limit, _)) => tracing::info!(limit, "open file limit"),
        None => tracing::warn!("cannot read the open file limit"),
    }
    let data = config.broker.store.dir.clone();
    let flush = match config.broker.store.flush {
        weir_core::FlushPolicy::Sync => "sync",
        weir_core::FlushPolicy::Async { .. } => "async",
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let broker_config = config.broker;
    let broker = tokio::task::spawn_blocking(move || Broker::open(broker_config))
        .await
        .context("opening the store panicked")?
        .with_context(|| format!("cannot open the data directory {}", data.display()))?;
    let plugins = PluginHost::open(Arc::clone(&broker), config.plugins.clone())
        .await
        .with_context(|| {
            format!(
                "cannot open the plugin host (modules in {})",
                config.plugins.modules_dir.display()
            )
        })?;
    let mut app =
        App::new(Arc::clone(&broker), config.api).with_plugins(plugins.clone(), &config.plugins);
    let authenticated = config.auth.is_some();
    if let Some(auth) = config.auth {
        app = app.with_auth(auth);
    }
    let app = Arc::new(app);
    let retention = tokio::spawn(run_retention(Arc::clone(&broker), plugins.clone()));
    let snapshots = tokio::spawn(run_snapshots(Arc::clone(&broker)));
    tracing::info!(
        listen = %config.listen,
        data = %data.display(),
        flush,
        authenticated,
        "weir is serving on http://{}",
        config.listen
    );
    weir_api::serve_with_limits(listener, app, config.connections, shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    retention.abort();
    snapshots.abort();
    tracing::info!("stopping plugin bindings");
    plugins.shutdown().await;
    if let Err(err) = broker.snapshot_state().await {
        tracing::warn!(error = %err, "final delivery-state snapshot failed");
    }
    tracing::info!("shutting down: flushing the store");
    tokio::task::spawn_blocking(move || broker.close())
        .await
        .context("closing the store panicked")?
        .context("final flush failed")?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Deletes expired segments now and then. The plugin catalog lives in the commitlog, so
/// the host first rewrites it when retention would delete its newest copy; when that
/// fails, the pass is skipped rather than lose modules and bindings.
async fn run_retention(broker: Arc<Broker>, plugins: PluginHost) {
    let mut tick = tokio::time::interval(config::RETENTION_CHECK_INTERVAL);
    loop {
        tick.tick().await;
        if let Err(err) = plugins.prepare_retention().await {
            tracing::warn!(error = %err, "rewriting the plugin catalog failed; retention skipped");
            continue;
        }
        if let Err(err) = broker.run_retention().await {
            tracing::warn!(error = %err, "retention pass failed");
        }
    }
}

/// Snapshots delivery state now and then, so that a restart replays a short journal.
async fn run_snapshots(broker: Arc<Broker>) {
    let mut tick = tokio::time::interval(config::GROUP_SNAPSHOT_INTERVAL);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(err) = broker.snapshot_state().await {
            tracing::warn!(error = %err, "delivery-state snapshot failed");
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        _ => {
            tracing::warn!("cannot install signal handlers; stop the broker with kill -9");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

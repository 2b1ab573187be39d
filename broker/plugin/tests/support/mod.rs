//! Shared test setup: the guest components (built from the guest workspace in
//! `plugins/`), a broker over a temporary directory, and a plugin host on it.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use weir_core::{Broker, BrokerConfig, Limits, StoreConfig};
use weir_plugin::{PluginHost, PluginHostConfig};

/// The guest workspace.
fn guest_workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins")
}

/// Builds the guest workspace once per test binary (a no-op when it is up to date) and
/// answers the directory of its components.
fn components_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let workspace = guest_workspace();
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--locked",
                "--quiet",
            ])
            .current_dir(&workspace)
            // The guest workspace has its own target directory.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .status()
            .expect("running cargo to build the guest components");
        assert!(
            status.success(),
            "building the guest components failed (is the target installed? \
             `rustup target add wasm32-wasip2`)"
        );
        workspace.join("target/wasm32-wasip2/release")
    })
}

/// The bytes of a guest component, e.g. `ack_all`.
pub fn component(name: &str) -> Vec<u8> {
    let path = components_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Broker limits with quick transaction check-backs.
pub fn quick_limits() -> Limits {
    Limits {
        tx_check_after_ms: 100,
        tx_check_interval_ms: 100,
        ..Limits::default()
    }
}

/// Opens a broker over `dir`.
pub fn broker(dir: &Path, limits: Limits) -> Arc<Broker> {
    broker_with(dir, limits, |_| {})
}

/// Opens a broker over `dir`, with store settings changed by `adjust`.
pub fn broker_with(
    dir: &Path,
    limits: Limits,
    adjust: impl FnOnce(&mut StoreConfig),
) -> Arc<Broker> {
    let mut store = StoreConfig::new(dir.join("store"));
    store.segment_size = 1 << 20;
    store.index_slots = 1024;
    store.index_entries = 4096;
    store.queue_entries_per_file = 1024;
    adjust(&mut store);
    Broker::open(BrokerConfig { store, limits }).unwrap()
}

/// Host settings for tests: module files under `dir`, quarantine after `quarantine`.
pub fn host_config(dir: &Path, quarantine: u32) -> PluginHostConfig {
    let mut config = PluginHostConfig::new(dir);
    config.quarantine_after = quarantine;
    config
}

/// A broker and a plugin host over one directory.
pub struct Env {
    pub broker: Arc<Broker>,
    pub host: PluginHost,
}

impl Env {
    pub async fn open(dir: &Path) -> Self {
        Self::open_with(dir, quick_limits(), host_config(dir, 5)).await
    }

    pub async fn open_with(dir: &Path, limits: Limits, config: PluginHostConfig) -> Self {
        let broker = broker(dir, limits);
        let host = PluginHost::open(Arc::clone(&broker), config).await.unwrap();
        Self { broker, host }
    }

    /// Stops the bindings and closes the broker.
    pub async fn close(self) {
        self.host.shutdown().await;
        self.broker.close().unwrap();
    }
}

/// Waits up to 20 s for `done` to hold.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

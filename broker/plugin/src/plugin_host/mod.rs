//! [`PluginHost`]: the plugin host's façade, what the HTTP layer and the server call.
//!
//! It owns the engine, the module registry, the bindings and their tasks, and the
//! durable catalog. Every change (upload, delete, bind, pause, ...) is serialised by one
//! lock, written to the catalog (fsynced), and only then applied in memory and answered.
//! Module operations are in [`module_ops`](self::module_ops), binding operations in
//! [`binding_ops`](self::binding_ops), when binding state is snapshotted and restored in
//! [`snapshots`](self::snapshots).
//!
//! # Hooks into the core
//!
//! [`PluginHost::open`] installs the core's dedup-filter hook (see [`crate::dedup`]) and
//! registers a transaction checker.
//!
//! # Transaction checkers
//!
//! [`PluginHost::open`] registers one [`TransactionChecker`](weir_core::TransactionChecker)
//! with the broker, which routes each check-back to the checker binding of the half
//! message's producer group (or else of its topic) and answers `unknown` when there is
//! none. The broker asks checkers in the order they were added, so open the plugin host
//! before anything else registers one (the HTTP callback checker of `weir-api`): a
//! WebAssembly checker is then asked first, and the callback only when it does not know.

mod binding_ops;
mod module_ops;
mod snapshots;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use weir_core::Broker;

use crate::PluginError;
use crate::artifacts::ArtifactDir;
use crate::binding::BindingStatus;
use crate::catalog::Catalog;
use crate::checker::PluginCheckers;
use crate::dedup::PluginFilters;
use crate::engine::PluginEngine;
use crate::http::HttpClient;
use crate::limits::{
    DEFAULT_CONCURRENT_COMPILES, DEFAULT_LOG_BYTES_PER_SEC, DEFAULT_LOG_LINES_PER_SEC,
    DEFAULT_MAX_MODULE_BYTES, DEFAULT_QUARANTINE_AFTER, default_call_threads,
};
use crate::live::LiveBinding;
use crate::log_budget::LogRates;
use crate::pool::{CallPool, CallPriority};
use crate::registry::{self, ModuleStatus, Registry};

/// How the plugin host is set up.
#[derive(Clone, Debug)]
pub struct PluginHostConfig {
    /// Where module files go (`modules/` under the broker's data directory).
    pub modules_dir: PathBuf,
    /// Largest module accepted, bytes.
    pub max_module_bytes: usize,
    /// Uploads compiled at once; the others wait (see
    /// [`DEFAULT_CONCURRENT_COMPILES`](crate::limits::DEFAULT_CONCURRENT_COMPILES)).
    pub concurrent_compiles: usize,
    /// Consecutive failed calls after which a binding is quarantined.
    pub quarantine_after: u32,
    /// Threads plugin calls run on (see [`crate::pool`]): at most this many calls run at
    /// once, all bindings together.
    pub call_threads: usize,
    /// The scheduling priority of those threads.
    pub call_priority: CallPriority,
    /// The log budget of each binding (see [`crate::log_budget`]).
    pub log_rates: LogRates,
}

impl PluginHostConfig {
    /// The defaults, with module files under `<data_dir>/modules`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            modules_dir: data_dir.into().join("modules"),
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            concurrent_compiles: DEFAULT_CONCURRENT_COMPILES,
            quarantine_after: DEFAULT_QUARANTINE_AFTER,
            call_threads: default_call_threads(),
            call_priority: CallPriority::default(),
            log_rates: LogRates {
                lines_per_sec: DEFAULT_LOG_LINES_PER_SEC,
                bytes_per_sec: DEFAULT_LOG_BYTES_PER_SEC,
            },
        }
    }
}

/// Everything the host knows, for the status page and metrics.
#[derive(Clone, Debug, Serialize)]
pub struct HostStatus {
    /// Every module version.
    pub modules: Vec<ModuleStatus>,
    /// Every binding with its health and counters.
    pub bindings: Vec<BindingStatus>,
}

/// The plugin host.
#[derive(Clone, Debug)]
pub struct PluginHost {
    pub(crate) inner: Arc<Inner>,
}

/// The host's state, shared with binding tasks and the checker.
pub(crate) struct Inner {
    pub(crate) broker: Arc<Broker>,
    pub(crate) engine: Arc<PluginEngine>,
    pub(crate) artifacts: ArtifactDir,
    pub(crate) registry: Registry,
    pub(crate) catalog: Catalog,
    /// Serialises changes so that snapshots are written in the order they are applied.
    pub(crate) changes: tokio::sync::Mutex<()>,
    /// Turns to compile an upload: `config.concurrent_compiles` of them.
    pub(crate) compile_turns: tokio::sync::Semaphore,
    pub(crate) bindings: RwLock<BTreeMap<String, Arc<LiveBinding>>>,
    pub(crate) http: HttpClient,
    /// The threads plugin calls run on.
    pub(crate) pool: CallPool,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) config: PluginHostConfig,
    /// Serialises state snapshot writes, so that a binding's newest record is its
    /// newest state.
    pub(crate) state_writes: tokio::sync::Mutex<()>,
    /// Set to stop the periodic state snapshots.
    pub(crate) state_stop: watch::Sender<bool>,
    /// The task writing them.
    pub(crate) state_task: Mutex<Option<JoinHandle<()>>>,
    /// The newest `created_ms` given to a binding: a binding created again under the
    /// same name gets a later one, whose state does not match the old snapshots.
    pub(crate) created_clock: AtomicI64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("modules", &self.registry.count())
            .field("bindings", &self.bindings.read().len())
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    /// Opens the plugin host over a broker: reads the catalog from the commitlog, loads
    /// every module from its precompiled artifact (compiling again only when it cannot
    /// be used), removes module files the catalog does not name, restores each
    /// binding's state from its newest snapshot, registers the transaction checker,
    /// starts the bindings that are not paused and the periodic state snapshots.
    ///
    /// Call it from within a Tokio runtime, before other transaction checkers are
    /// registered.
    pub async fn open(broker: Arc<Broker>, config: PluginHostConfig) -> Result<Self, PluginError> {
        let engine = PluginEngine::new()?;
        let artifacts = ArtifactDir::open(config.modules_dir.clone(), Arc::clone(broker.store()))?;
        let (catalog, snapshot) = Catalog::load(Arc::clone(broker.store()))?;
        let loading = (Arc::clone(&engine), artifacts.clone(), snapshot.modules);
        let (slots, recompiled) = tokio::task::spawn_blocking(move || {
            let (engine, artifacts, infos) = loading;
            let mut recompiled = false;
            let slots: Vec<_> = infos
                .into_iter()
                .map(|info| {
                    let (slot, again) = registry::load_from_disk(&engine, &artifacts, info);
                    recompiled |= again;
                    slot
                })
                .collect();
            (slots, recompiled)
        })
        .await
        .map_err(|e| PluginError::Engine(format!("loading modules panicked: {e}")))?;
        let registry = Registry::default();
        let mut keep = HashSet::new();
        for slot in slots {
            keep.insert(slot.info.sha256.clone());
            registry.insert(slot);
        }
        let removed = artifacts.remove_unreferenced(&keep)?;
        if removed > 0 {
            tracing::info!(removed, "removed module files no registry entry names");
        }
        let reading = (Arc::clone(broker.store()), snapshot.bindings.clone());
        let mut states = tokio::task::spawn_blocking(move || {
            let (store, configs) = reading;
            snapshots::restore(&store, &configs)
        })
        .await
        .map_err(|e| PluginError::Engine(format!("restoring binding state panicked: {e}")))??;
        let created_clock = snapshot
            .bindings
            .iter()
            .map(|b| b.created_ms)
            .max()
            .unwrap_or(i64::MIN);
        let inner = Arc::new(Inner {
            broker: Arc::clone(&broker),
            engine,
            artifacts,
            registry,
            catalog,
            changes: tokio::sync::Mutex::new(()),
            compile_turns: tokio::sync::Semaphore::new(config.concurrent_compiles.max(1)),
            bindings: RwLock::new(BTreeMap::new()),
            http: HttpClient::new(),
            pool: CallPool::new(config.call_threads, config.call_priority)?,
            runtime: tokio::runtime::Handle::current(),
            config,
            state_writes: tokio::sync::Mutex::new(()),
            state_stop: watch::Sender::new(false),
            state_task: Mutex::new(None),
            created_clock: AtomicI64::new(created_clock),
        });
        if recompiled {
            // New artifact hashes must be durable before the artifacts are trusted again.
            let _change = inner.changes.lock().await;
            inner
                .catalog
                .persist(inner.registry.infos(), snapshot.bindings.clone())
                .await?;
        }
        broker.add_transaction_checker(Arc::new(PluginCheckers::new(Arc::downgrade(&inner))));
        broker.set_dedup_filter(Arc::new(PluginFilters::new(Arc::downgrade(&inner))));
        for config in snapshot.bindings {
            let live = match states.remove(&config.name) {
                Some(state) => inner.live_with_state(config, Arc::new(state)),
                None => inner.live(config, None),
            };
            inner.install(&live);
        }
        let snapshots =
            snapshots::run_snapshots(Arc::downgrade(&inner), inner.state_stop.subscribe());
        *inner.state_task.lock() = Some(inner.runtime.spawn(snapshots));
        tracing::info!(
            modules = inner.registry.count(),
            bindings = inner.bindings.read().len(),
            "plugin host opened"
        );
        Ok(Self { inner })
    }

    /// Modules and bindings with their health and counters.
    pub fn status(&self) -> HostStatus {
        HostStatus {
            modules: self.inner.registry.statuses(),
            bindings: self
                .inner
                .bindings
                .read()
                .values()
                .map(|live| live.status(self.inner.resolved_version(live)))
                .collect(),
        }
    }

    /// Writes the catalog, and the state snapshot of each binding, again if its newest
    /// record lies below the commitlog position retention is about to delete up to.
    /// Call it before [`Broker::run_retention`](weir_core::Broker::run_retention), and
    /// skip retention when it fails.
    pub async fn prepare_retention(&self) -> Result<(), PluginError> {
        let store = self.inner.broker.store();
        let boundary = store.retention_boundary(crate::host::now_ms());
        if boundary <= store.stats().min_position {
            return Ok(());
        }
        if self.inner.catalog.position() < boundary {
            let _change = self.inner.changes.lock().await;
            self.inner.persist_current().await?;
        }
        self.inner
            .write_state_snapshots(snapshots::Due::Below(boundary))
            .await
    }

    /// Stops every binding: each finishes and settles the batch in hand. Then writes a
    /// snapshot of every binding state that changed since its last one, so that a clean
    /// restart loses none (calls of checkers and filters after this are not kept).
    pub async fn shutdown(&self) {
        let bindings: Vec<_> = self.inner.bindings.read().values().cloned().collect();
        for live in bindings {
            live.stop().await;
        }
        self.inner.stop_state_snapshots().await;
        // Failures are logged per binding.
        let _ = self
            .inner
            .write_state_snapshots(snapshots::Due::Changed)
            .await;
    }
}

impl Inner {
    /// Persists the current modules and bindings (the caller holds `changes`).
    pub(crate) async fn persist_current(&self) -> Result<(), PluginError> {
        let bindings = self.binding_configs();
        self.catalog.persist(self.registry.infos(), bindings).await
    }

    pub(crate) fn binding_configs(&self) -> Vec<crate::BindingConfig> {
        self.bindings
            .read()
            .values()
            .map(|live| {
                let mut config = live.config.clone();
                config.run = live.run_state();
                config
            })
            .collect()
    }

    fn resolved_version(&self, live: &LiveBinding) -> Option<u32> {
        self.registry
            .slot(&live.config.module, live.config.version)
            .ok()
            .map(|slot| slot.info.version)
    }
}

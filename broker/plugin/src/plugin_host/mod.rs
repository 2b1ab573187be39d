//! [`PluginHost`]: the plugin host's façade, what the HTTP layer and the server call.
//!
//! It owns the engine, the module registry, the bindings and their tasks, and the
//! durable catalog. Every change (upload, delete, bind, pause, ...) is serialised by one
//! lock, written to the catalog (fsynced), and only then applied in memory and answered.
//! Module operations are in [`modules`](self::modules), binding operations in
//! [`bindings`](self::bindings).
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

mod bindings;
mod modules;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;
use weir_core::Broker;

use crate::PluginError;
use crate::artifacts::ArtifactDir;
use crate::binding::BindingStatus;
use crate::catalog::Catalog;
use crate::checker::PluginCheckers;
use crate::dedup::PluginFilters;
use crate::engine::PluginEngine;
use crate::http::HttpClient;
use crate::limits::{DEFAULT_MAX_MODULE_BYTES, DEFAULT_QUARANTINE_AFTER};
use crate::live::LiveBinding;
use crate::registry::{self, ModuleStatus, Registry};

/// How the plugin host is set up.
#[derive(Clone, Debug)]
pub struct PluginHostConfig {
    /// Where module files go (`modules/` under the broker's data directory).
    pub modules_dir: PathBuf,
    /// Largest module accepted, bytes.
    pub max_module_bytes: usize,
    /// Consecutive failed calls after which a binding is quarantined.
    pub quarantine_after: u32,
}

impl PluginHostConfig {
    /// The defaults, with module files under `<data_dir>/modules`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            modules_dir: data_dir.into().join("modules"),
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            quarantine_after: DEFAULT_QUARANTINE_AFTER,
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
    pub(crate) bindings: RwLock<BTreeMap<String, Arc<LiveBinding>>>,
    pub(crate) http: HttpClient,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) config: PluginHostConfig,
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
    /// be used), removes module files the catalog does not name, registers the
    /// transaction checker and starts the bindings that are not paused.
    ///
    /// Call it from within a Tokio runtime, before other transaction checkers are
    /// registered.
    pub async fn open(broker: Arc<Broker>, config: PluginHostConfig) -> Result<Self, PluginError> {
        let engine = PluginEngine::new()?;
        let artifacts = ArtifactDir::open(config.modules_dir.clone())?;
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
        let inner = Arc::new(Inner {
            broker: Arc::clone(&broker),
            engine,
            artifacts,
            registry,
            catalog,
            changes: tokio::sync::Mutex::new(()),
            bindings: RwLock::new(BTreeMap::new()),
            http: HttpClient::new(),
            runtime: tokio::runtime::Handle::current(),
            config,
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
            let live = inner.live(config, None);
            inner
                .bindings
                .write()
                .insert(live.name().to_string(), Arc::clone(&live));
            inner.start(&live);
        }
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

    /// Writes the catalog again if its newest snapshot lies below the commitlog position
    /// retention is about to delete up to. Call it before
    /// [`Broker::run_retention`](weir_core::Broker::run_retention).
    pub async fn prepare_retention(&self) -> Result<(), PluginError> {
        let store = self.inner.broker.store();
        let boundary = store.retention_boundary(crate::host::now_ms());
        if boundary <= store.stats().min_position || self.inner.catalog.position() >= boundary {
            return Ok(());
        }
        let _change = self.inner.changes.lock().await;
        self.inner.persist_current().await
    }

    /// Stops every binding: each finishes and settles the batch in hand.
    pub async fn shutdown(&self) {
        let bindings: Vec<_> = self.inner.bindings.read().values().cloned().collect();
        for live in bindings {
            live.stop().await;
        }
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

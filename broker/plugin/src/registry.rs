//! The module registry: every uploaded module version, compiled once and kept ready.
//!
//! A module has a name and versions 1, 2, ...; each version is one component claiming
//! one [`World`], stored content-addressed (see [`crate::artifacts`]) and described by a
//! [`ModuleInfo`] in the durable catalog. An upload is checked (see [`crate::module`]),
//! compiled once with the host's engine, and its precompiled artifact written to disk;
//! after a restart modules come back from the artifact without compiling. If an artifact
//! cannot be used (missing, corrupt, or made by another wasmtime), the module is compiled
//! again from its uploaded bytes; if those are gone too, the version stays listed with
//! its error and bindings using it fail their calls until it is uploaded again.
//!
//! The registry only holds state; [`crate::PluginHost`] serialises changes and makes
//! them durable before applying them here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;

use crate::artifacts::{ArtifactDir, sha256_hex};
use crate::engine::PluginEngine;
use crate::module::{self, LoadedModule};
use crate::precompiled::VerifiedArtifact;
use crate::{PluginError, World};

pub use weir_wire::plugin::{ModuleInfo, ModuleStatus};

/// One registered version: loaded, or why not.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) info: ModuleInfo,
    pub(crate) loaded: Result<Arc<LoadedModule>, String>,
}

/// The registered modules, by name then version.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    modules: RwLock<BTreeMap<String, BTreeMap<u32, Slot>>>,
}

/// A checked and compiled upload, not yet registered.
pub(crate) struct Compiled {
    pub(crate) info: ModuleInfo,
    pub(crate) module: Arc<LoadedModule>,
    /// The precompiled artifact to write, unless the same bytes are registered already.
    pub(crate) artifact: Option<Vec<u8>>,
}

impl Registry {
    /// Every version, by name then version.
    pub(crate) fn infos(&self) -> Vec<ModuleInfo> {
        self.modules
            .read()
            .values()
            .flat_map(|versions| versions.values().map(|s| s.info.clone()))
            .collect()
    }

    /// Every version with its status.
    pub(crate) fn statuses(&self) -> Vec<ModuleStatus> {
        self.modules
            .read()
            .values()
            .flat_map(|versions| versions.values().map(status))
            .collect()
    }

    /// The versions of one module, oldest first.
    pub(crate) fn versions(&self, name: &str) -> Option<Vec<ModuleStatus>> {
        self.modules
            .read()
            .get(name)
            .map(|versions| versions.values().map(status).collect())
    }

    pub(crate) fn count(&self) -> usize {
        self.modules.read().values().map(BTreeMap::len).sum()
    }

    /// The version `version` of `name`, or its latest.
    pub(crate) fn slot(&self, name: &str, version: Option<u32>) -> Result<Slot, PluginError> {
        let modules = self.modules.read();
        let versions = modules.get(name);
        let slot = match version {
            Some(v) => versions.and_then(|vs| vs.get(&v)),
            None => versions.and_then(|vs| vs.values().next_back()),
        };
        slot.cloned().ok_or_else(|| PluginError::ModuleNotFound {
            name: name.to_string(),
            version,
        })
    }

    /// The version the next upload of `name` gets.
    pub(crate) fn next_version(&self, name: &str) -> u32 {
        self.modules
            .read()
            .get(name)
            .and_then(|vs| vs.keys().next_back().copied())
            .map_or(1, |v| v + 1)
    }

    /// A loaded module with these bytes, if any (to reuse its artifact).
    pub(crate) fn with_sha(&self, sha256: &str) -> Option<Arc<LoadedModule>> {
        self.modules
            .read()
            .values()
            .flat_map(|vs| vs.values())
            .filter(|s| s.info.sha256 == sha256)
            .find_map(|s| s.loaded.clone().ok())
    }

    pub(crate) fn insert(&self, slot: Slot) {
        self.modules
            .write()
            .entry(slot.info.name.clone())
            .or_default()
            .insert(slot.info.version, slot);
    }

    /// Removes versions; answers the hashes no remaining version uses.
    pub(crate) fn remove(&self, name: &str, versions: &[u32]) -> Vec<String> {
        let mut modules = self.modules.write();
        let mut removed = Vec::new();
        if let Some(vs) = modules.get_mut(name) {
            for v in versions {
                if let Some(slot) = vs.remove(v) {
                    removed.push(slot.info.sha256);
                }
            }
            if vs.is_empty() {
                modules.remove(name);
            }
        }
        removed.retain(|sha| {
            !modules
                .values()
                .flat_map(|vs| vs.values())
                .any(|s| &s.info.sha256 == sha)
        });
        removed.sort();
        removed.dedup();
        removed
    }
}

fn status(slot: &Slot) -> ModuleStatus {
    ModuleStatus {
        info: slot.info.clone(),
        exports: slot
            .loaded
            .as_ref()
            .map(|module| module.exports())
            .unwrap_or_default(),
        error: slot.loaded.as_ref().err().cloned(),
    }
}

/// Checks and compiles an upload. Blocking (compiling a large component takes
/// seconds): run it on a blocking thread. The caller writes the files (under the change
/// lock, so that a concurrent delete of the same bytes cannot remove them).
pub(crate) fn compile_upload(
    engine: &PluginEngine,
    dir: &ArtifactDir,
    reuse: Option<Arc<LoadedModule>>,
    name: &str,
    world: World,
    bytes: &[u8],
    sha256: String,
) -> Result<Compiled, PluginError> {
    let started = Instant::now();
    let (pre, artifact_sha256, compile_ms, artifact) = match reuse {
        // The same bytes are registered already: their artifact is on disk and verified.
        Some(existing) => {
            let component = load_artifact(engine, dir, &existing.info).ok_or_else(|| {
                PluginError::Engine("reusing a precompiled artifact failed".into())
            })?;
            let pre = module::prepare(engine, &component, world)?;
            (
                pre,
                existing.info.artifact_sha256.clone(),
                existing.info.compile_ms,
                None,
            )
        }
        None => {
            let component = module::compile(engine.engine(), bytes)?;
            let compile_ms = started.elapsed().as_millis() as u64;
            let pre = module::prepare(engine, &component, world)?;
            let artifact = component.serialize().map_err(|e| {
                PluginError::Engine(format!("serializing a compiled component: {e}"))
            })?;
            (pre, sha256_hex(&artifact), compile_ms, Some(artifact))
        }
    };
    let info = ModuleInfo {
        name: name.to_string(),
        // Assigned when it is registered.
        version: 0,
        world,
        sha256,
        size: bytes.len() as u64,
        artifact_sha256,
        compile_ms,
        uploaded_ms: crate::host::now_ms(),
    };
    Ok(Compiled {
        module: module::loaded(info.clone(), pre),
        info,
        artifact,
    })
}

/// Loads a registered version from disk: its artifact when it verifies, else by
/// compiling its uploaded bytes again (answering the new artifact's hash). Blocking.
pub(crate) fn load_from_disk(
    engine: &PluginEngine,
    dir: &ArtifactDir,
    mut info: ModuleInfo,
) -> (Slot, bool) {
    if let Some(component) = load_artifact(engine, dir, &info) {
        let loaded = module::prepare(engine, &component, info.world)
            .map(|pre| module::loaded(info.clone(), pre))
            .map_err(|e| e.to_string());
        return (Slot { info, loaded }, false);
    }
    tracing::warn!(
        module = info.name,
        version = info.version,
        "precompiled artifact missing, corrupt or from another engine; compiling again"
    );
    let Some(bytes) = ArtifactDir::read_verified(&dir.wasm_path(&info.sha256), &info.sha256) else {
        let error = format!(
            "the files of module '{}' version {} are missing or corrupt; upload it again",
            info.name, info.version
        );
        tracing::error!(module = info.name, version = info.version, "{error}");
        return (
            Slot {
                info,
                loaded: Err(error),
            },
            false,
        );
    };
    let started = Instant::now();
    let rebuilt = module::compile(engine.engine(), &bytes)
        .map_err(PluginError::from)
        .and_then(|component| {
            let artifact = component
                .serialize()
                .map_err(|e| PluginError::Engine(format!("serializing: {e}")))?;
            dir.write_cwasm(&info.sha256, &artifact)?;
            let pre = module::prepare(engine, &component, info.world)?;
            Ok((sha256_hex(&artifact), pre))
        });
    match rebuilt {
        Ok((artifact_sha256, pre)) => {
            info.artifact_sha256 = artifact_sha256;
            info.compile_ms = started.elapsed().as_millis() as u64;
            let loaded = Ok(module::loaded(info.clone(), pre));
            (Slot { info, loaded }, true)
        }
        Err(err) => {
            let loaded = Err(format!("compiling again failed: {err}"));
            (Slot { info, loaded }, false)
        }
    }
}

fn load_artifact(
    engine: &PluginEngine,
    dir: &ArtifactDir,
    info: &ModuleInfo,
) -> Option<wasmtime::component::Component> {
    let bytes = std::fs::read(dir.cwasm_path(&info.sha256)).ok()?;
    let artifact = VerifiedArtifact::check(bytes, &info.artifact_sha256)?;
    artifact.load(engine.engine()).ok()
}

//! Module operations of the [`PluginHost`]: upload, list, describe, delete.

use std::sync::Arc;

use crate::artifacts::sha256_hex;
use crate::binding::check_name;
use crate::inspect::Declared;
use crate::limits::MAX_MODULE_VERSIONS;
use crate::module;
use crate::registry::{self, ModuleInfo, ModuleStatus, Slot};
use crate::{PluginError, PluginHost, World};

impl PluginHost {
    /// Uploads a module version claiming `world` (or, given none, the world whose
    /// interface the component exports). What the component declares is checked before
    /// anything is compiled (its imports, its exports, the async ABI: see
    /// [`inspect`](crate::inspect)), so a refusal is quick whatever its size; then it is
    /// compiled once and its files written; it is durable and usable when this returns.
    /// Uploading the bytes of the newest version again answers that version instead of
    /// adding one. Bindings that follow the newest version switch to it at their next
    /// batch.
    ///
    /// # Errors
    ///
    /// [`PluginError::Rejected`] with the reason when the module is refused;
    /// [`PluginError::WorldChanged`] when earlier versions of the name claim another
    /// world.
    pub async fn upload(
        &self,
        name: &str,
        world: impl Into<Option<World>>,
        bytes: Vec<u8>,
    ) -> Result<ModuleInfo, PluginError> {
        check_name(name)?;
        module::check_bytes(&bytes, self.inner.config.max_module_bytes)?;
        let declared = Declared::read(&bytes)?;
        declared.check_runnable()?;
        let world = match world.into() {
            Some(world) => world,
            None => declared.world()?,
        };
        let sha256 = sha256_hex(&bytes);
        let latest = self.inner.registry.slot(name, None).ok();
        if let Some(latest) = &latest {
            if latest.info.world != world {
                return Err(PluginError::WorldChanged {
                    module: name.to_string(),
                    existing: latest.info.world,
                    uploaded: world,
                });
            }
            if latest.info.sha256 == sha256 && latest.loaded.is_ok() {
                return Ok(latest.info.clone());
            }
        }
        declared.check_exports(world)?;
        if self.inner.registry.count() >= MAX_MODULE_VERSIONS {
            return Err(PluginError::TooMany(format!(
                "the broker holds the maximum of {MAX_MODULE_VERSIONS} module versions"
            )));
        }
        // Compile outside the change lock (it can take seconds), in turn with other
        // uploads, so that compiles do not add up in memory.
        let turn = self
            .inner
            .compile_turns
            .acquire()
            .await
            .map_err(|_| PluginError::Engine("the plugin host is closing".into()))?;
        let inner = Arc::clone(&self.inner);
        let reuse = self.inner.registry.with_sha(&sha256);
        let name_owned = name.to_string();
        let bytes = Arc::new(bytes);
        let compiling = Arc::clone(&bytes);
        let compiled = tokio::task::spawn_blocking(move || {
            registry::compile_upload(
                &inner.engine,
                &inner.artifacts,
                reuse,
                &name_owned,
                world,
                &compiling,
                sha256,
            )
        })
        .await
        .map_err(|e| PluginError::Engine(format!("compiling panicked: {e}")))??;
        drop(turn);
        let _change = self.inner.changes.lock().await;
        // Files are written and checked under the change lock: a delete removes the files
        // of bytes no version uses any more, under the same lock.
        let sha = compiled.info.sha256.clone();
        let artifacts = self.inner.artifacts.clone();
        let artifact = compiled.artifact;
        let written = tokio::task::spawn_blocking(move || match artifact {
            Some(artifact) => artifacts.write(&sha, &bytes, &artifact).map(|()| true),
            None => Ok(artifacts.cwasm_path(&sha).exists()),
        })
        .await
        .map_err(|e| PluginError::Engine(format!("writing module files panicked: {e}")))??;
        if !written {
            return Err(PluginError::Engine(
                "the module's files were deleted while it was uploaded; upload it again".into(),
            ));
        }
        let mut info = compiled.info;
        info.version = self.inner.registry.next_version(name);
        let mut infos = self.inner.registry.infos();
        infos.push(info.clone());
        self.inner
            .catalog
            .persist(infos, self.inner.binding_configs())
            .await?;
        let module = compiled.module.with_version(info.version);
        self.inner.registry.insert(Slot {
            info: info.clone(),
            loaded: Ok(module),
        });
        tracing::info!(
            module = name,
            version = info.version,
            world = %world,
            size = info.size,
            compile_ms = info.compile_ms,
            "module uploaded"
        );
        Ok(info)
    }

    /// Every module version.
    pub fn modules(&self) -> Vec<ModuleStatus> {
        self.inner.registry.statuses()
    }

    /// The versions of one module, oldest first.
    pub fn module(&self, name: &str) -> Result<Vec<ModuleStatus>, PluginError> {
        self.inner
            .registry
            .versions(name)
            .ok_or_else(|| PluginError::ModuleNotFound {
                name: name.to_string(),
                version: None,
            })
    }

    /// Deletes one version of a module, or all of them. Refused while a binding uses
    /// it (a binding following the newest version uses the newest).
    pub async fn delete_module(&self, name: &str, version: Option<u32>) -> Result<(), PluginError> {
        let _change = self.inner.changes.lock().await;
        let versions: Vec<u32> = match version {
            Some(v) => vec![self.inner.registry.slot(name, Some(v))?.info.version],
            None => self
                .module(name)?
                .into_iter()
                .map(|s| s.info.version)
                .collect(),
        };
        let latest = self.inner.registry.slot(name, None)?.info.version;
        let users: Vec<String> = self
            .inner
            .bindings
            .read()
            .values()
            .filter(|live| live.config.module == name)
            .filter(|live| versions.contains(&live.config.version.unwrap_or(latest)))
            .map(|live| live.name().to_string())
            .collect();
        if !users.is_empty() {
            return Err(PluginError::ModuleInUse {
                name: name.to_string(),
                bindings: users,
            });
        }
        let infos = self
            .inner
            .registry
            .infos()
            .into_iter()
            .filter(|i| !(i.name == name && versions.contains(&i.version)))
            .collect();
        self.inner
            .catalog
            .persist(infos, self.inner.binding_configs())
            .await?;
        for sha in self.inner.registry.remove(name, &versions) {
            self.inner.artifacts.remove(&sha);
        }
        tracing::info!(module = name, ?versions, "module deleted");
        Ok(())
    }
}

//! Turning bytes into a runnable module: the checks an upload goes through, compiling,
//! and pre-instantiation against the host's linker for the module's world.
//!
//! The checks run cheapest first: size, the binary header (a component, not a core
//! module or something else), compiling, the exports the claimed world needs (by name,
//! through the component's type, so extra exports such as an `init` some toolchains
//! leave are fine), and last pre-instantiation, which type-checks those exports against
//! the contract and resolves every import against what the host provides.

use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::engine::PluginEngine;
use crate::host::HostState;
use crate::registry::ModuleInfo;
use crate::wit::{checker, consumer, dedup};
use crate::{ModuleRejection, World};

/// A module ready to instantiate: its registry entry and its pre-instantiated world.
pub(crate) struct LoadedModule {
    pub(crate) info: ModuleInfo,
    pub(crate) pre: WorldPre,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl LoadedModule {
    /// The same module registered as `version`.
    pub(crate) fn with_version(self: Arc<Self>, version: u32) -> Arc<Self> {
        let mut info = self.info.clone();
        info.version = version;
        Arc::new(LoadedModule {
            info,
            pre: self.pre.clone(),
        })
    }

    /// The names the component exports (interfaces and functions at its top level).
    pub(crate) fn exports(&self) -> Vec<String> {
        let component = match &self.pre {
            WorldPre::Consumer(pre) => pre.instance_pre().component(),
            WorldPre::DedupFilter(pre) => pre.instance_pre().component(),
            WorldPre::TxChecker(pre) => pre.instance_pre().component(),
        };
        component
            .component_type()
            .exports(component.engine())
            .map(|(name, _)| name.to_string())
            .collect()
    }
}

/// A component pre-instantiated for its world.
#[derive(Clone)]
pub(crate) enum WorldPre {
    Consumer(consumer::ConsumerPluginPre<HostState>),
    DedupFilter(dedup::DedupFilterPluginPre<HostState>),
    TxChecker(checker::TxCheckerPluginPre<HostState>),
}

/// Refuses bytes over `limit` or that are not a component, before compiling anything.
pub(crate) fn check_bytes(bytes: &[u8], limit: usize) -> Result<(), ModuleRejection> {
    if bytes.len() > limit {
        return Err(ModuleRejection::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    let not = |reason: &str| {
        Err(ModuleRejection::NotAComponent {
            reason: reason.to_string(),
        })
    };
    match bytes {
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => not(
            "this is a core WebAssembly module; make a component of it with \
             `wasm-tools component new` (with the WASI preview 1 adapter if it was built for \
             wasip1), or build for a component target such as wasm32-wasip2",
        ),
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Ok(()),
        [0, b'a', b's', b'm', ..] => not("unknown WebAssembly binary layer or version"),
        _ => not("the bytes do not start with the WebAssembly magic number"),
    }
}

/// Compiles a component.
pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, ModuleRejection> {
    Component::new(engine, bytes).map_err(|err| ModuleRejection::CompileFailed {
        reason: format!("{err:#}"),
    })
}

/// Checks that the component exports the interface of `world` with its functions.
pub(crate) fn check_exports(
    engine: &Engine,
    component: &Component,
    world: World,
) -> Result<(), ModuleRejection> {
    let ty = component.component_type();
    let interface = world.interface();
    let Some(export) = ty.get_export(engine, interface) else {
        return Err(ModuleRejection::MissingInterface { world, interface });
    };
    let ComponentItem::ComponentInstance(instance) = export.ty else {
        return Err(ModuleRejection::MissingInterface { world, interface });
    };
    for &function in world.functions() {
        match instance.get_export(engine, function).map(|e| e.ty) {
            Some(ComponentItem::ComponentFunc(_)) => {}
            _ => {
                return Err(ModuleRejection::MissingFunction {
                    world,
                    interface,
                    function,
                });
            }
        }
    }
    Ok(())
}

/// Pre-instantiates the component for `world`: resolves its imports against the host's
/// linker and type-checks its exports against the contract.
pub(crate) fn prepare(
    engine: &PluginEngine,
    component: &Component,
    world: World,
) -> Result<WorldPre, ModuleRejection> {
    check_exports(engine.engine(), component, world)?;
    let pre = engine.linker().instantiate_pre(component).map_err(|err| {
        ModuleRejection::UnsupportedImport {
            reason: format!("{err:#}"),
        }
    })?;
    let wrong = |err: wasmtime::Error| ModuleRejection::WrongSignature {
        world,
        reason: format!("{err:#}"),
    };
    Ok(match world {
        World::Consumer => {
            WorldPre::Consumer(consumer::ConsumerPluginPre::new(pre).map_err(wrong)?)
        }
        World::DedupFilter => {
            WorldPre::DedupFilter(dedup::DedupFilterPluginPre::new(pre).map_err(wrong)?)
        }
        World::TxChecker => {
            WorldPre::TxChecker(checker::TxCheckerPluginPre::new(pre).map_err(wrong)?)
        }
    })
}

/// A module entry with its prepared world.
pub(crate) fn loaded(info: ModuleInfo, pre: WorldPre) -> Arc<LoadedModule> {
    Arc::new(LoadedModule { info, pre })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_components_from_core_modules_and_garbage() {
        let core = b"\0asm\x01\0\0\0";
        let component = b"\0asm\x0d\0\x01\0";
        assert!(matches!(
            check_bytes(core, 1024),
            Err(ModuleRejection::NotAComponent { reason }) if reason.contains("core")
        ));
        assert!(check_bytes(component, 1024).is_ok());
        assert!(matches!(
            check_bytes(b"hello world", 1024),
            Err(ModuleRejection::NotAComponent { .. })
        ));
        assert!(matches!(
            check_bytes(b"", 1024),
            Err(ModuleRejection::NotAComponent { .. })
        ));
        assert_eq!(
            check_bytes(component, 4),
            Err(ModuleRejection::TooLarge { size: 8, limit: 4 })
        );
    }
}

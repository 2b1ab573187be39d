//! What a component declares, read from its bytes without compiling it: the interfaces it
//! imports and exports at its top level, and whether it uses the component-model async
//! (or threads) ABI. An upload is checked against this first, so a component the broker
//! cannot run is refused in milliseconds, whatever its size, and its world can be told
//! from its exports when the upload names none.
//!
//! The interfaces the host provides are listed in [`PROVIDED`]; compiling and
//! pre-instantiating stay the final word (they resolve every import against the real
//! linker), this only answers early and in terms a plugin author of any language reads.

use wasmparser::{CanonicalFunction, CanonicalOption, Parser, Payload};

use crate::{ModuleRejection, World};

/// Interfaces the broker provides to every plugin, as `namespace:package/interface` and
/// the major.minor version they are provided at (any patch version is accepted).
///
/// WASI preview 2 comes with an empty, capability-less context unless a binding grants
/// more; `weir:plugin` is the broker's own contract (`wit/plugin.wit`).
pub const PROVIDED: &[(&str, &str)] = &[
    ("weir:plugin/types", "0.1"),
    ("weir:plugin/host", "0.1"),
    ("wasi:io/error", "0.2"),
    ("wasi:io/poll", "0.2"),
    ("wasi:io/streams", "0.2"),
    ("wasi:clocks/wall-clock", "0.2"),
    ("wasi:clocks/monotonic-clock", "0.2"),
    ("wasi:random/random", "0.2"),
    ("wasi:random/insecure", "0.2"),
    ("wasi:random/insecure-seed", "0.2"),
    ("wasi:cli/environment", "0.2"),
    ("wasi:cli/exit", "0.2"),
    ("wasi:cli/stdin", "0.2"),
    ("wasi:cli/stdout", "0.2"),
    ("wasi:cli/stderr", "0.2"),
    ("wasi:cli/terminal-input", "0.2"),
    ("wasi:cli/terminal-output", "0.2"),
    ("wasi:cli/terminal-stdin", "0.2"),
    ("wasi:cli/terminal-stdout", "0.2"),
    ("wasi:cli/terminal-stderr", "0.2"),
    ("wasi:filesystem/types", "0.2"),
    ("wasi:filesystem/preopens", "0.2"),
    ("wasi:sockets/network", "0.2"),
    ("wasi:sockets/instance-network", "0.2"),
    ("wasi:sockets/tcp", "0.2"),
    ("wasi:sockets/tcp-create-socket", "0.2"),
    ("wasi:sockets/udp", "0.2"),
    ("wasi:sockets/udp-create-socket", "0.2"),
    ("wasi:sockets/ip-name-lookup", "0.2"),
    ("wasi:http/types", "0.2"),
    ("wasi:http/outgoing-handler", "0.2"),
];

/// Where the list of provided interfaces and the per-language build notes are.
const DOCS: &str = "docs/plugins.md";

/// The top-level imports and exports of a component, and its use of the async ABI.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// Imported names, in order (`wasi:cli/stdout@0.2.3`, ...).
    pub imports: Vec<String>,
    /// Exported names, in order (`weir:plugin/consumer@0.1.0`, ...).
    pub exports: Vec<String>,
    /// Whether a function is lifted or lowered with the async ABI, or a task, stream,
    /// future, waitable or thread built-in is used.
    pub uses_async_abi: bool,
}

impl Declared {
    /// Reads the declarations of a component. Bytes that do not parse are refused as
    /// [`ModuleRejection::CompileFailed`], with the parser's message.
    pub fn read(bytes: &[u8]) -> Result<Self, ModuleRejection> {
        let mut declared = Declared::default();
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(malformed)?;
            match payload {
                Payload::Version { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentImportSection(reader) if depth == 1 => {
                    for import in reader {
                        declared
                            .imports
                            .push(import.map_err(malformed)?.name.name.to_string());
                    }
                }
                Payload::ComponentExportSection(reader) if depth == 1 => {
                    for export in reader {
                        declared
                            .exports
                            .push(export.map_err(malformed)?.name.name.to_string());
                    }
                }
                Payload::ComponentCanonicalSection(reader) => {
                    for function in reader {
                        if is_async(&function.map_err(malformed)?) {
                            declared.uses_async_abi = true;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(declared)
    }

    /// Refuses a component that does not export the interface of `world`.
    pub fn check_exports(&self, world: World) -> Result<(), ModuleRejection> {
        let interface = world.interface();
        if self
            .exports
            .iter()
            .any(|name| same_interface(name, interface))
        {
            Ok(())
        } else {
            Err(ModuleRejection::MissingInterface { world, interface })
        }
    }

    /// The world of a component whose upload names none: the one world whose
    /// interface it exports.
    pub fn world(&self) -> Result<World, ModuleRejection> {
        let exported: Vec<World> = World::ALL
            .into_iter()
            .filter(|world| {
                self.exports
                    .iter()
                    .any(|name| same_interface(name, world.interface()))
            })
            .collect();
        match exported.as_slice() {
            [world] => Ok(*world),
            [] => Err(ModuleRejection::NoWorld {
                exports: self.exports.clone(),
            }),
            several => Err(ModuleRejection::AmbiguousWorld {
                worlds: several.to_vec(),
            }),
        }
    }

    /// Refuses a component that uses the async ABI or imports an interface the broker
    /// does not provide.
    pub fn check_runnable(&self) -> Result<(), ModuleRejection> {
        if self.uses_async_abi {
            return Err(ModuleRejection::AsyncAbi);
        }
        if let Some(missing) = self.imports.iter().find(|name| !is_provided(name)) {
            return Err(ModuleRejection::UnsupportedImport {
                reason: format!(
                    "'{missing}' is not provided; a plugin gets weir:plugin/host and WASI \
                     0.2 (cli, io, clocks, random, filesystem, sockets, http's \
                     outgoing-handler), without capabilities unless its binding grants \
                     them (see {DOCS}). Build \
                     without the feature that needs it"
                ),
            });
        }
        Ok(())
    }
}

/// The refusal of bytes that do not parse as a component.
fn malformed(err: wasmparser::BinaryReaderError) -> ModuleRejection {
    ModuleRejection::CompileFailed {
        reason: format!("the component is malformed: {err}"),
    }
}

/// Whether a canonical function belongs to the async or threads ABI.
fn is_async(function: &CanonicalFunction) -> bool {
    match function {
        CanonicalFunction::Lift { options, .. } | CanonicalFunction::Lower { options, .. } => {
            options
                .iter()
                .any(|o| matches!(o, CanonicalOption::Async | CanonicalOption::Callback(_)))
        }
        CanonicalFunction::ResourceNew { .. }
        | CanonicalFunction::ResourceDrop { .. }
        | CanonicalFunction::ResourceRep { .. } => false,
        _ => true,
    }
}

/// Splits `ns:pkg/iface@1.2.3` into the interface and its version.
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((interface, version)) => (interface, Some(version)),
        None => (name, None),
    }
}

/// Whether `version` (`0.2.3`) is within the `major.minor` series `series` (`0.2`).
fn in_series(version: &str, series: &str) -> bool {
    version == series
        || version
            .strip_prefix(series)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether the host provides an imported interface.
fn is_provided(name: &str) -> bool {
    let (interface, version) = split_version(name);
    PROVIDED.iter().any(|&(provided, series)| {
        provided == interface && version.is_some_and(|v| in_series(v, series))
    })
}

/// Whether an exported name is `interface` (`weir:plugin/consumer@0.1.0`) at a
/// compatible version.
fn same_interface(name: &str, interface: &str) -> bool {
    let (exported, version) = split_version(name);
    let (wanted, wanted_version) = split_version(interface);
    let series = wanted_version
        .and_then(|v| v.rsplit_once('.'))
        .map(|(s, _)| s);
    exported == wanted
        && match (version, series) {
            (Some(version), Some(series)) => in_series(version, series),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(imports: &[&str], exports: &[&str]) -> Declared {
        Declared {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
            uses_async_abi: false,
        }
    }

    #[test]
    fn wasi_patch_versions_are_provided_and_other_series_are_not() {
        assert!(is_provided("wasi:cli/stdout@0.2.0"));
        assert!(is_provided("wasi:cli/stdout@0.2.6"));
        assert!(is_provided("weir:plugin/host@0.1.0"));
        assert!(!is_provided("wasi:cli/stdout@0.3.0"));
        assert!(!is_provided("wasi:cli/stdout@0.20.0"));
        assert!(!is_provided("wasi:cli/stdout"));
        assert!(is_provided("wasi:http/outgoing-handler@0.2.3"));
        assert!(!is_provided("wasi:keyvalue/store@0.2.0"));
        assert!(!is_provided("weir:plugin/host@0.2.0"));
        assert!(!is_provided("log"));
    }

    #[test]
    fn the_world_is_told_from_the_exports_and_checked_against_them() {
        let consumer = declared(&[], &["weir:plugin/consumer@0.1.0", "init"]);
        assert_eq!(consumer.world(), Ok(World::Consumer));
        assert_eq!(consumer.check_exports(World::Consumer), Ok(()));
        assert_eq!(
            consumer.check_exports(World::DedupFilter),
            Err(ModuleRejection::MissingInterface {
                world: World::DedupFilter,
                interface: "weir:plugin/dedup-filter@0.1.0"
            })
        );
        let checker = declared(&[], &["weir:plugin/tx-checker@0.1.3"]);
        assert_eq!(checker.world(), Ok(World::TxChecker));
        assert!(matches!(
            declared(&[], &["weir:plugin/consumer@0.2.0"]).world(),
            Err(ModuleRejection::NoWorld { .. })
        ));
        assert!(matches!(
            declared(&[], &["init"]).world(),
            Err(ModuleRejection::NoWorld { exports }) if exports == ["init"]
        ));
        assert_eq!(
            declared(
                &[],
                &[
                    "weir:plugin/consumer@0.1.0",
                    "weir:plugin/dedup-filter@0.1.0"
                ]
            )
            .world(),
            Err(ModuleRejection::AmbiguousWorld {
                worlds: vec![World::Consumer, World::DedupFilter]
            })
        );
    }

    #[test]
    fn unprovided_imports_and_the_async_abi_are_refused() {
        let fine = declared(&["wasi:cli/stderr@0.2.3", "weir:plugin/host@0.1.0"], &[]);
        assert_eq!(fine.check_runnable(), Ok(()));
        let http = declared(&["wasi:http/types@0.2.3"], &[]);
        assert_eq!(http.check_runnable(), Ok(()));
        let keyvalue = declared(&["wasi:keyvalue/store@0.2.0"], &[]);
        assert!(matches!(
            keyvalue.check_runnable(),
            Err(ModuleRejection::UnsupportedImport { reason }) if reason.contains("wasi:keyvalue/store@0.2.0")
        ));
        let mut async_abi = declared(&[], &[]);
        async_abi.uses_async_abi = true;
        assert_eq!(async_abi.check_runnable(), Err(ModuleRejection::AsyncAbi));
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert!(Declared::read(b"\0asm\x0d\0\x01\0\xff\xff").is_err());
        assert!(Declared::read(b"\0asm\x0d\0\x01\0\x0b\x05\x01").is_err());
    }
}

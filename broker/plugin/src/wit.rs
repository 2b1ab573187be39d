//! The WIT bindings: Rust types and linker glue of the `weir:plugin` worlds, generated
//! from `wit/plugin.wit` at the workspace root (the fixed contract with plugins).
//!
//! The consumer world is generated first and owns the shared `types` and `host`
//! interfaces; the other two worlds reuse them through `with`, so that one host
//! implementation serves all three. Imports are synchronous: calls run on blocking
//! threads (see [`crate::instance`]), and host functions that wait on the broker or the
//! network block that thread, never a runtime worker.

#![allow(missing_docs, unreachable_pub)]

/// The `consumer-plugin` world, with the shared `types` and `host` interfaces.
pub mod consumer {
    wasmtime::component::bindgen!({
        world: "consumer-plugin",
        path: "../../wit",
    });
}

/// The `dedup-filter-plugin` world.
pub mod dedup {
    wasmtime::component::bindgen!({
        world: "dedup-filter-plugin",
        path: "../../wit",
        with: {
            "weir:plugin/types": crate::wit::consumer::weir::plugin::types,
            "weir:plugin/host": crate::wit::consumer::weir::plugin::host,
        },
    });
}

/// The `tx-checker-plugin` world.
pub mod checker {
    wasmtime::component::bindgen!({
        world: "tx-checker-plugin",
        path: "../../wit",
        with: {
            "weir:plugin/types": crate::wit::consumer::weir::plugin::types,
            "weir:plugin/host": crate::wit::consumer::weir::plugin::host,
        },
    });
}

pub use consumer::weir::plugin::host;
pub use consumer::weir::plugin::types;

//! The code `wit-bindgen` generates from `wit/plugin.wit`, one module per world.
//!
//! Nothing here is public API: the SDK converts these types to its own at the boundary
//! and the `export_*!` macros reach the generated export machinery through
//! [`crate::__private`].
//!
//! # Why all three worlds live in the SDK
//!
//! A component exports exactly one world, yet the SDK serves all three. With
//! `pub_export_macro`, `wit-bindgen` puts only the *imports* of each world into the
//! custom section that travels with this library, and the full world (imports and
//! exports) into the section that its `export!` macro expands in the plugin crate. So a
//! plugin links the three import-only descriptions, which are identical and merge, plus
//! the one world it exports, and never claims exports it does not define.
//!
//! The host interface and the shared types are generated once, with the consumer world,
//! and reused by the other two (`with`).

/// The `consumer-plugin` world.
pub mod consumer {
    wit_bindgen::generate!({
        path: "../wit",
        world: "weir:plugin/consumer-plugin@0.1.0",
        pub_export_macro: true,
        export_macro_name: "export_consumer_world",
        default_bindings_module: "weir_sdk::__private::consumer",
    });
}

/// The `dedup-filter-plugin` world.
pub mod dedup_filter {
    wit_bindgen::generate!({
        path: "../wit",
        world: "weir:plugin/dedup-filter-plugin@0.1.0",
        pub_export_macro: true,
        export_macro_name: "export_dedup_filter_world",
        default_bindings_module: "weir_sdk::__private::dedup_filter",
        with: {
            "weir:plugin/types@0.1.0": crate::bindings::consumer::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::bindings::consumer::weir::plugin::host,
        },
    });
}

/// The `tx-checker-plugin` world.
pub mod tx_checker {
    wit_bindgen::generate!({
        path: "../wit",
        world: "weir:plugin/tx-checker-plugin@0.1.0",
        pub_export_macro: true,
        export_macro_name: "export_tx_checker_world",
        default_bindings_module: "weir_sdk::__private::tx_checker",
        with: {
            "weir:plugin/types@0.1.0": crate::bindings::consumer::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::bindings::consumer::weir::plugin::host,
        },
    });
}

#[cfg(target_arch = "wasm32")]
pub(crate) use consumer::weir::plugin::host;
pub(crate) use consumer::weir::plugin::types;

//! Write plugins for the Weir broker in Rust.
//!
//! A Weir plugin is a WebAssembly component that the broker runs next to the data, in
//! one of three roles, each a world of the `weir:plugin` WIT package (`wit/plugin.wit`):
//!
//! | role | implement | export with | the broker calls it |
//! | --- | --- | --- | --- |
//! | consumer | [`Consumer`] | [`export_consumer!`](crate::export_consumer) | with each batch of its consumer group |
//! | dedup filter | [`DedupFilter`] | [`export_dedup_filter!`](crate::export_dedup_filter) | with each message, for its dedup key |
//! | transaction checker | [`TxChecker`] | [`export_tx_checker!`](crate::export_tx_checker) | with each undecided half message |
//!
//! A plugin is a type implementing one of the traits, plus one export macro. Every call
//! also receives the binding's configuration string, so one module serves many bindings.
//! The broker's services are plain functions: [`log`], [`now_ms`], [`state`],
//! [`publish`] and [`http`]. The SDK's types are its own ([`Message`], [`Outgoing`],
//! [`Outcome`], [`TxState`], ...): the generated WIT bindings stay inside.
//! [`config::ConfigCache`] keeps a parsed config across calls.
//!
//! # Example
//!
//! ```standalone_crate
//! use weir_sdk::{Consumer, Message, Outcome, Outgoing};
//!
//! /// Copies each message to the topic named by the binding's config.
//! struct Copy;
//!
//! impl Consumer for Copy {
//!     fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
//!         batch
//!             .into_iter()
//!             .map(|message| {
//!                 let copy = Outgoing::new(config, message.body).key(message.id);
//!                 match weir_sdk::publish(copy) {
//!                     Ok(_) => Outcome::Ack,
//!                     Err(error) => {
//!                         weir_sdk::log::warn(format!("publish to {config} failed: {error}"));
//!                         Outcome::RETRY_WITH_BACKOFF
//!                     }
//!                 }
//!             })
//!             .collect()
//!     }
//! }
//!
//! weir_sdk::export_consumer!(Copy);
//! # fn main() {
//! #     weir_sdk::testing::reset();
//! #     let batch = vec![Message { id: "m1".into(), body: b"hi".to_vec(), ..Message::default() }];
//! #     assert_eq!(Copy::handle("audit", batch), [Outcome::Ack]);
//! #     assert_eq!(weir_sdk::testing::published()[0].keys, ["m1"]);
//! # }
//! ```
//!
//! # Building a plugin
//!
//! A plugin is a `cdylib` crate that depends on this one:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! weir-sdk = { path = "../../sdk-guest" }
//! ```
//!
//! Built for the `wasm32-wasip2` target, Rust links a component directly; nothing else is
//! needed:
//!
//! ```sh
//! rustup target add wasm32-wasip2
//! cargo build --release --target wasm32-wasip2
//! # target/wasm32-wasip2/release/<crate_name>.wasm
//! ```
//!
//! Build in release with `panic = "abort"`: a panic then traps, which the broker contains
//! (the call fails and its messages are retried), and the component is smaller.
//!
//! # Testing a plugin
//!
//! The same crate builds for the machine's own target, where the host services are backed
//! by an in-memory double, `weir_sdk::testing`: `cargo test` calls the trait functions directly
//! and inspects what they logged, stored, published and requested.
//!
//! # How the export macros work
//!
//! `wit-bindgen` generates one export per world. The SDK generates the bindings of all
//! three worlds inside itself, with public export macros, and each `export_*!` macro
//! expands to the generated export macro of its world, wrapped around an adapter that
//! converts between the generated types and the SDK's. The WIT package is read when the
//! SDK is compiled, so a plugin crate needs no WIT files and no `wit-bindgen` dependency.
//! Only the world a crate exports is described in its component: the SDK's own copy of
//! each world lists imports only. Using two export macros in one crate fails to compile.
//!
//! # Limits
//!
//! The broker bounds every call: a wall-clock deadline, a memory cap per instance, a
//! quota on state, an allowlist for HTTP. Exceeding a limit traps or fails the call;
//! the batch is retried, and a module that keeps failing is quarantined.

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod bindings;
pub mod config;
mod consumer;
mod dedup_filter;
mod error;
pub mod http;
mod imports;
pub mod log;
mod message;
mod services;
pub mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod tx_checker;

pub use consumer::{Consumer, Outcome};
pub use dedup_filter::DedupFilter;
pub use error::HostError;
pub use message::{Message, Outgoing};
pub use services::{now_ms, publish};
pub use tx_checker::{TxChecker, TxState};

/// What the export macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::consumer::ConsumerExport;
    pub use crate::dedup_filter::DedupFilterExport;
    pub use crate::tx_checker::TxCheckerExport;

    pub use crate::bindings::{consumer, dedup_filter, tx_checker};
}

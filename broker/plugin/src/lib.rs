//! Weir plugin host: runs WebAssembly components next to the data, sandboxed.
//!
//! Users upload components targeting one of the worlds of the `weir:plugin` WIT package
//! (`wit/plugin.wit` at the workspace root): consumers, dedup filters and transaction
//! checkers. This crate checks and compiles them once ([`registry`]), keeps them
//! content-addressed on disk with a durable catalog in the commitlog ([`catalog`]),
//! attaches them to topics, groups and producer groups ([`binding`]), keeps each
//! binding's key-value state with snapshots in the commitlog, and runs them with
//! wasmtime under limits: one store per instance, a wall-clock deadline per call (epoch
//! interruption), a memory cap, and no filesystem, environment or network beyond what a
//! binding grants.
//!
//! [`PluginHost`] is the entry point. It depends on `weir-core` (never the reverse): the
//! core defines the small traits plugins plug into (e.g.
//! [`TransactionChecker`](weir_core::TransactionChecker)) and this crate implements them.

mod artifacts;
pub mod binding;
pub mod catalog;
mod checker;
mod consumer;
mod convert;
mod dedup;
mod engine;
mod error;
mod escape;
mod host;
mod http;
pub mod inspect;
mod instance;
pub mod limits;
mod live;
pub mod log_budget;
pub mod metrics;
mod module;
mod plugin_host;
pub mod pool;
mod precompiled;
pub mod registry;
mod snapshot_record;
mod state_table;
mod stderr;
mod wasi_http;
mod wit;

pub use binding::{
    BindingConfig, BindingSpec, BindingStatus, BindingTarget, Grants, RunState, TargetSpec,
};
pub use catalog::PLUGINS_TOPIC;
pub use error::{CallError, ModuleRejection, PluginError};
pub use log_budget::LogRates;
pub use metrics::BindingMetrics;
pub use plugin_host::{HostStatus, PluginHost, PluginHostConfig};
pub use pool::CallPriority;
pub use registry::{ModuleInfo, ModuleStatus};
pub use snapshot_record::PLUGIN_STATE_TOPIC;
pub use weir_wire::plugin::World;

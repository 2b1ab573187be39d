//! The client commands of the `weir` binary: `weir topic`, `weir send`, `weir get`,
//! `weir cancel`, `weir tx`, `weir producer-group`, `weir group`, `weir consume`,
//! `weir lag`, `weir dlq`, `weir module`, `weir bind`, `weir status`, `weir plugin` and
//! `weir bench`.
//!
//! Each command parses its arguments, calls the broker through `weir-client`, and prints
//! human-readable text, or one JSON document with `--json`. Errors are returned as
//! `anyhow` errors whose context says what failed and, where it can, what to do about it;
//! `main` prints them. No broker behaviour lives here.
//!
//! * `connection`: the global `--server`, `--token` and `--json` options, parsed once by
//!   `main` and passed to every command;
//! * `failure`: error messages with hints on what to do next;
//! * `output`: tables, timestamps, body previews and writing to stdout;
//! * `times`: time arguments (`--at`) and the local clock;
//! * `topic`, `send`, `get`, `cancel`, `tx`, `producer_group`, `group`, `consume`, `lag`,
//!   `dlq`, `module`, `bind`, `status`: one file per command;
//! * `plugin`: `weir plugin new`, which writes a plugin project to start from;
//! * `bench`: load generators that print throughput and latency.

pub(crate) mod bench;
pub(crate) mod bind;
pub(crate) mod cancel;
mod connection;
pub(crate) mod consume;
pub(crate) mod dlq;
mod failure;
pub(crate) mod get;
pub(crate) mod group;
pub(crate) mod lag;
pub(crate) mod module;
mod output;
pub(crate) mod plugin;
pub(crate) mod producer_group;
pub(crate) mod send;
pub(crate) mod status;
mod times;
pub(crate) mod topic;
pub(crate) mod tx;

pub(crate) use connection::Connection;

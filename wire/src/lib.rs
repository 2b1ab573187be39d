//! The wire contract of Weir's HTTP API, shared by the broker (`weir-api`) and its
//! client (`weir-client`) so that the two cannot drift apart.
//!
//! This crate owns shapes and names only; it must not depend on any broker crate.

pub mod batch;
pub mod codes;
pub mod fields;
#[doc(hidden)]
pub mod fuzzing;
pub mod group;
pub mod message;
pub mod message_list;
pub mod plugin;
pub mod send;
pub mod topic;
pub mod transaction;

//! The broker core over a real store in a temporary directory, without HTTP.
//!
//! One test binary with a module per area, so that the crate and its dependencies are
//! linked once; what the areas share is [`support`].

mod support;

mod dedup;
mod groups;
mod schedule;
mod topics;
mod transactions;

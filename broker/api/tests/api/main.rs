//! The HTTP API without a socket: requests in, responses out, over a real broker in a
//! temporary directory.
//!
//! One test binary with a module per area, so that the crate and its dependencies are
//! linked once; what the areas share is [`support`].

mod support;

mod auth;
mod dead_letters;
mod delayed;
mod groups;
mod plugins;
mod routes;
mod topics;
mod transactions;

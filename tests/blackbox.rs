//! Black-box tests: each starts the real `weir` binary on a temporary data directory and a
//! free local port, and talks to it over the wire (HTTP, the client crate, the CLI).
//!
//! One test binary with a module per area, so that the broker's crates are linked once;
//! the harness every area shares is [`support`]. Tests run in parallel threads: anything
//! that is process-wide (open-file limits, environment, working directory) is set on the
//! child process a test starts, never on this one.

mod support;

mod cli;
mod cli_groups;
mod cli_plugins;
mod consumer_crash;
mod consumer_groups;
mod crash_recovery;
mod examples;
mod fuzz_corpus;
mod http_api;
mod http_connections;
mod http_contract;
mod http_errors;
mod plugins;
mod plugins_auth;
mod plugins_hostile;
mod plugins_logs;
mod plugins_swap_restart;
mod producer_retries;
mod scheduling;
mod scheduling_crash;

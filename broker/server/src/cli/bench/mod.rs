//! `weir bench`: load generators that drive a running broker and print throughput and
//! latency figures. Benchmarks are programs, not tests: nothing here asserts on timing.
//!
//! * `produce`: the `weir bench produce` arguments and the run's orchestration (topic
//!   set-up, warm-up, stop conditions, progress bar);
//! * `consume`: `weir bench consume`, draining a backlog through a group (receive and
//!   ack, or read by offset and commit), with its report;
//! * `consume_worker`: the load tasks of `weir bench consume`;
//! * `e2e`: `weir bench e2e`, producers at a target rate and consumers together, with
//!   end-to-end latency percentiles;
//! * `soak`: `weir bench soak`, a long mixed load (sends, batches, a group, a plugin
//!   consumer, delayed and transactional messages) with the broker's RSS, fds, threads
//!   and latency printed every interval;
//! * `progress`: the progress bar on stderr;
//! * `setup`: topic and group set-up, Ctrl-C, durations;
//! * `worker`: one produce task's loop and the counters the tasks share;
//! * `report`: the figures (rates, latency percentiles, errors) and their printing.

mod consume;
mod consume_worker;
mod e2e;
mod produce;
mod progress;
mod report;
mod setup;
mod soak;
mod worker;

use crate::cli::Connection;

/// Load generators that print throughput and latency.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum BenchCommand {
    /// Send messages as fast as the broker takes them; print msgs/s, MB/s and latency.
    Produce(produce::ProduceArgs),
    /// Consume a backlog through a group as fast as the broker serves it; print msgs/s
    /// and receive and ack latency.
    Consume(consume::ConsumeArgs),
    /// Produce at a target rate while consuming; print end-to-end latency percentiles.
    E2e(e2e::E2eArgs),
    /// Run a mixed load for a long time; print the broker's RSS, fds, threads and
    /// latency percentiles every interval, and their drift at the end.
    Soak(soak::SoakArgs),
}

/// Runs a `weir bench` command.
pub(crate) async fn run(command: BenchCommand, connection: &Connection) -> anyhow::Result<()> {
    match command {
        BenchCommand::Produce(args) => produce::run(args, connection).await,
        BenchCommand::Consume(args) => consume::run(args, connection).await,
        BenchCommand::E2e(args) => e2e::run(args, connection).await,
        BenchCommand::Soak(args) => soak::run(args, connection).await,
    }
}

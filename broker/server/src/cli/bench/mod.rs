//! `weir bench`: load generators that drive a running broker and print throughput and
//! latency figures. Benchmarks are programs, not tests: nothing here asserts on timing.
//!
//! * `produce`: the `weir bench produce` arguments and the run's orchestration (topic
//!   set-up, warm-up, stop conditions, progress bar);
//! * `progress`: the progress bar on stderr;
//! * `worker`: one load task's loop and the counters the tasks share;
//! * `report`: the figures (rates, latency percentiles, errors) and their printing.

mod produce;
mod progress;
mod report;
mod worker;

/// Load generators that print throughput and latency.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum BenchCommand {
    /// Send messages as fast as the broker takes them; print msgs/s, MB/s and latency.
    Produce(produce::ProduceArgs),
}

/// Runs a `weir bench` command.
pub(crate) async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Produce(args) => produce::run(args).await,
    }
}

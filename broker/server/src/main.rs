//! The `weir` binary: the broker server (`weir serve`) and the command-line client
//! (`weir topic`, `weir send`, `weir get`, `weir cancel`, `weir tx`,
//! `weir producer-group`, `weir group`, `weir consume`, `weir lag`, `weir dlq`,
//! `weir module`, `weir bind`, `weir status`, `weir plugin`, `weir bench`).
//!
//! This crate is glue: configuration and wiring for the server, argument parsing for the
//! client commands. Broker behaviour lives in `weir-core`, `weir-store` and `weir-api`;
//! the wire protocol on the client side lives in `weir-client`.

mod cli;
mod config;
mod serve;

use clap::{Parser, Subcommand};

/// Weir: a message broker with RocketMQ's reliability model and WebAssembly plugins.
#[derive(Parser)]
#[command(name = "weir", version, about, long_about = None)]
struct Cli {
    /// Access token sent as `Authorization: Bearer` by the client commands, for a broker
    /// configured with `[[auth.tokens]]`.
    #[arg(
        long,
        global = true,
        env = "WEIR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker.
    Serve(serve::ServeArgs),
    /// Create, list, describe, grow and delete topics.
    #[command(subcommand)]
    Topic(cli::topic::TopicCommand),
    /// Send one message: at once, delayed, or as the half message of a transaction.
    Send(cli::send::SendArgs),
    /// Read messages by id, by key or by queue offset.
    Get(cli::get::GetArgs),
    /// Cancel a delayed message that is not yet due.
    Cancel(cli::cancel::CancelArgs),
    /// Commit, roll back or resume transactions; list the undecided ones; answer
    /// check-backs.
    #[command(subcommand)]
    Tx(cli::tx::TxCommand),
    /// Create, describe, list and delete producer groups (check-back callbacks).
    #[command(subcommand)]
    ProducerGroup(cli::producer_group::ProducerGroupCommand),
    /// Create, describe, list, delete and reset consumer groups.
    #[command(subcommand)]
    Group(cli::group::GroupCommand),
    /// Receive a group's messages, print each, and ack them.
    Consume(cli::consume::ConsumeArgs),
    /// Show a group's backlog per queue.
    Lag(cli::lag::LagArgs),
    /// List, export and resend a group's dead letters.
    #[command(subcommand)]
    Dlq(cli::dlq::DlqCommand),
    /// Upload, list, describe and remove plugin modules (WebAssembly components).
    #[command(subcommand)]
    Module(cli::module::ModuleCommand),
    /// Attach modules as consumers, dedup filters or transaction checkers; list, describe,
    /// pause, resume and remove bindings.
    #[command(subcommand)]
    Bind(cli::bind::BindCommand),
    /// Show every binding with its throughput and failures, then the modules.
    Status(cli::status::StatusArgs),
    /// Start writing a plugin: `weir plugin new NAME --lang rust`.
    #[command(subcommand)]
    Plugin(cli::plugin::PluginCommand),
    /// Load generators that print throughput and latency.
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    cli::use_token(cli.token);
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Topic(cmd) => cli::topic::run(cmd).await,
            Command::Send(args) => cli::send::run(args).await,
            Command::Get(args) => cli::get::run(args).await,
            Command::Cancel(args) => cli::cancel::run(args).await,
            Command::Tx(cmd) => cli::tx::run(cmd).await,
            Command::ProducerGroup(cmd) => cli::producer_group::run(cmd).await,
            Command::Group(cmd) => cli::group::run(cmd).await,
            Command::Consume(args) => cli::consume::run(args).await,
            Command::Lag(args) => cli::lag::run(args).await,
            Command::Dlq(cmd) => cli::dlq::run(cmd).await,
            Command::Module(cmd) => cli::module::run(cmd).await,
            Command::Bind(cmd) => cli::bind::run(cmd).await,
            Command::Status(args) => cli::status::run(args).await,
            Command::Plugin(cmd) => cli::plugin::run(cmd).await,
            Command::Bench(cmd) => cli::bench::run(cmd).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

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

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Weir: a message broker with RocketMQ's reliability model and WebAssembly plugins.
#[derive(Parser)]
#[command(name = "weir", version, about, long_about = None)]
struct Cli {
    /// `--server`, `--token` and `--json`: global, so accepted before or after any command.
    #[command(flatten)]
    connection: cli::Connection,
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

/// The commands that do not talk to a broker: the client options stay out of their help
/// (clap still accepts them there, being global).
const OFFLINE_COMMANDS: [&str; 2] = ["serve", "plugin"];

/// Parses the command line as [`Parser::parse`] does, with the global client options
/// hidden from the help of [`OFFLINE_COMMANDS`].
fn parse_command_line() -> Cli {
    let mut command = Cli::command();
    // Building copies the global options into every subcommand; hide them afterwards.
    command.build();
    for subcommand in command.get_subcommands_mut() {
        if OFFLINE_COMMANDS.contains(&subcommand.get_name()) {
            hide_global_options(subcommand);
        }
    }
    let mut matches = command.get_matches_mut();
    Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|err| err.format(&mut command).exit())
}

/// Hides the global options from the help of `command` and of its subcommands.
fn hide_global_options(command: &mut clap::Command) {
    *command = std::mem::take(command).mut_args(|arg| {
        if arg.is_global_set() {
            arg.hide(true)
        } else {
            arg
        }
    });
    for subcommand in command.get_subcommands_mut() {
        hide_global_options(subcommand);
    }
}

fn main() -> std::process::ExitCode {
    let cli = parse_command_line();
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
    let connection = cli.connection;
    let connection = &connection;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Topic(cmd) => cli::topic::run(cmd, connection).await,
            Command::Send(args) => cli::send::run(args, connection).await,
            Command::Get(args) => cli::get::run(args, connection).await,
            Command::Cancel(args) => cli::cancel::run(args, connection).await,
            Command::Tx(cmd) => cli::tx::run(cmd, connection).await,
            Command::ProducerGroup(cmd) => cli::producer_group::run(cmd, connection).await,
            Command::Group(cmd) => cli::group::run(cmd, connection).await,
            Command::Consume(args) => cli::consume::run(args, connection).await,
            Command::Lag(args) => cli::lag::run(args, connection).await,
            Command::Dlq(cmd) => cli::dlq::run(cmd, connection).await,
            Command::Module(cmd) => cli::module::run(cmd, connection).await,
            Command::Bind(cmd) => cli::bind::run(cmd, connection).await,
            Command::Status(args) => cli::status::run(args, connection).await,
            Command::Plugin(cmd) => cli::plugin::run(cmd, connection).await,
            Command::Bench(cmd) => cli::bench::run(cmd, connection).await,
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

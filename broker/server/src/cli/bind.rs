//! `weir bind consumer|dedup|tx-checker|list|describe|pause|resume|rm`: bindings, which
//! attach a module to its place and run it there.
//!
//! The three create commands take `--update` to replace an existing binding instead (the
//! broker's rebind: new module, version or settings from the next batch on, counters
//! kept); with `--update`, options left out take their defaults again, as on creation.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;
use weir_client::{
    BindingConfig, BindingRequest, BindingStatus, BindingTarget, Grants, RunState, TargetSpec,
};
use weir_wire::plugin::BindingList;

use super::Connection;
use super::failure::explain_plugin;
use super::output;
use super::status::binding_table;

/// Create, list, describe, pause, resume and remove bindings.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum BindCommand {
    /// Run a consumer module on a consumer group of a topic (the group is created when
    /// missing).
    Consumer(ConsumerArgs),
    /// Attach a dedup filter to the sends of a topic, or the deliveries of a group.
    Dedup(DedupArgs),
    /// Attach a transaction checker to a producer group's or a topic's transactions.
    TxChecker(TxCheckerArgs),
    /// List the bindings with their state and counters.
    List,
    /// Show a binding's settings, health and counters.
    Describe {
        /// The binding name.
        name: String,
    },
    /// Stop calling a binding's module until it is resumed (kept across restarts).
    Pause {
        /// The binding name.
        name: String,
    },
    /// Resume a paused or quarantined binding.
    Resume {
        /// The binding name.
        name: String,
    },
    /// Remove a binding; its module stays registered.
    Rm {
        /// The binding name.
        name: String,
    },
}

/// `weir bind consumer`.
#[derive(clap::Args, Debug)]
pub(crate) struct ConsumerArgs {
    /// The binding name: 1–127 characters of A-Z a-z 0-9 _ -.
    binding: String,
    /// The module to run (a consumer module).
    #[arg(long, value_name = "MODULE")]
    module: String,
    /// The topic consumed.
    #[arg(long, value_name = "TOPIC")]
    topic: String,
    /// The consumer group (created on the topic when missing).
    #[arg(long, value_name = "GROUP")]
    group: String,
    /// Most messages per call [default: 32].
    #[arg(long, value_name = "N")]
    batch_size: Option<u32>,
    /// Calls in flight at once, each with its own instance [default: 1].
    #[arg(long, value_name = "N")]
    concurrency: Option<u32>,
    /// Let the plugin publish messages.
    #[arg(long)]
    publish: bool,
    /// Let the plugin make HTTP requests to URLs starting with PREFIX (repeatable).
    #[arg(long = "allow-http", value_name = "PREFIX")]
    allow_http: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// `weir bind dedup`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("place").required(true).args(["topic", "group"])))]
pub(crate) struct DedupArgs {
    /// The binding name: 1–127 characters of A-Z a-z 0-9 _ -.
    binding: String,
    /// The module to run (a dedup-filter module).
    #[arg(long, value_name = "MODULE")]
    module: String,
    /// Filter the sends to this topic: a duplicate is answered with the original and not
    /// stored.
    #[arg(long, value_name = "TOPIC")]
    topic: Option<String>,
    /// Filter the deliveries to this group: a duplicate of a message the group acked is
    /// acked without being delivered.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// How long a key counts as seen, ms [default: the broker's dedup window].
    #[arg(long, value_name = "MS")]
    window_ms: Option<u64>,
    #[command(flatten)]
    common: CommonArgs,
}

/// `weir bind tx-checker`.
#[derive(clap::Args, Debug)]
#[command(group(
    clap::ArgGroup::new("place").required(true).multiple(true).args(["producer_group", "topic"])
))]
pub(crate) struct TxCheckerArgs {
    /// The binding name: 1–127 characters of A-Z a-z 0-9 _ -.
    binding: String,
    /// The module to run (a tx-checker module).
    #[arg(long, value_name = "MODULE")]
    module: String,
    /// Check the transactions of this producer group.
    #[arg(long, value_name = "GROUP")]
    producer_group: Option<String>,
    /// Check the transactions of this topic.
    #[arg(long, value_name = "TOPIC")]
    topic: Option<String>,
    /// Let the plugin make HTTP requests to URLs starting with PREFIX (repeatable).
    #[arg(long = "allow-http", value_name = "PREFIX")]
    allow_http: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Options of every kind of binding.
#[derive(clap::Args, Debug)]
pub(crate) struct CommonArgs {
    /// Pin this module version [default: follow the newest version].
    #[arg(long, value_name = "N")]
    version: Option<u32>,
    /// Deadline of one call, ms [default: 5000].
    #[arg(long, value_name = "MS")]
    deadline_ms: Option<u64>,
    /// Memory cap of one instance, bytes [default: 64 MiB].
    #[arg(long, value_name = "BYTES")]
    memory_bytes: Option<u64>,
    /// Quota of the binding's key-value state, bytes [default: 16 MiB].
    #[arg(long, value_name = "BYTES")]
    state_bytes: Option<u64>,
    /// The configuration string handed to the plugin with every call.
    #[arg(long, value_name = "STR", conflicts_with = "config_file")]
    config: Option<String>,
    /// Read the configuration string from a file.
    #[arg(long, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Replace the existing binding of this name instead of creating one.
    #[arg(long)]
    update: bool,
}

impl CommonArgs {
    /// The request for `target`, with these options.
    fn request(
        &self,
        name: &str,
        module: &str,
        target: TargetSpec,
        grants: Option<Grants>,
    ) -> anyhow::Result<BindingRequest> {
        let config = match (&self.config, &self.config_file) {
            (Some(config), _) => Some(config.clone()),
            (None, Some(path)) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the configuration file {}", path.display())
            })?),
            (None, None) => None,
        };
        Ok(BindingRequest {
            name: name.to_owned(),
            module: module.to_owned(),
            version: self.version,
            target,
            deadline_ms: self.deadline_ms,
            memory_bytes: self.memory_bytes.map(|n| n as usize),
            state_bytes: self.state_bytes.map(|n| n as usize),
            config,
            grants,
        })
    }
}

/// The grants asked for, if any.
fn grants(publish: bool, allow_http: &[String]) -> Option<Grants> {
    (publish || !allow_http.is_empty()).then(|| Grants {
        publish,
        http_allowlist: allow_http.to_vec(),
    })
}

/// `--json` output of `weir bind rm`.
#[derive(Serialize)]
struct Removed<'a> {
    removed: &'a str,
}

/// Runs a `weir bind` command.
pub(crate) async fn run(command: BindCommand, connection: &Connection) -> anyhow::Result<()> {
    match command {
        BindCommand::Consumer(args) => {
            let target = TargetSpec::Consumer {
                topic: args.topic,
                group: args.group,
                batch_size: args.batch_size.map(|n| n as usize),
                concurrency: args.concurrency.map(|n| n as usize),
            };
            let grants = grants(args.publish, &args.allow_http);
            let request = args
                .common
                .request(&args.binding, &args.module, target, grants)?;
            save(&request, &args.common, connection).await
        }
        BindCommand::Dedup(args) => {
            let target = TargetSpec::DedupFilter {
                topic: args.topic,
                group: args.group,
                window_ms: args.window_ms,
            };
            let request = args
                .common
                .request(&args.binding, &args.module, target, None)?;
            save(&request, &args.common, connection).await
        }
        BindCommand::TxChecker(args) => {
            let target = TargetSpec::TxChecker {
                producer_group: args.producer_group,
                topic: args.topic,
            };
            let grants = grants(false, &args.allow_http);
            let request = args
                .common
                .request(&args.binding, &args.module, target, grants)?;
            save(&request, &args.common, connection).await
        }
        BindCommand::List => {
            let bindings = connection
                .client()?
                .bindings()
                .await
                .map_err(|err| explain_plugin(err, "cannot list the bindings".to_owned()))?;
            output::print_list(
                connection.json,
                &BindingList { bindings },
                |list| &list.bindings,
                "no binding; attach a module with `weir bind consumer|dedup|tx-checker`",
                |bindings| binding_table(bindings, None),
            )
        }
        BindCommand::Describe { name } => {
            let status =
                connection.client()?.binding(&name).await.map_err(|err| {
                    explain_plugin(err, format!("cannot describe binding '{name}'"))
                })?;
            if connection.json {
                return output::print_json(&status);
            }
            output::print(&render_status(&status))
        }
        BindCommand::Pause { name } => {
            let status = connection
                .client()?
                .pause_binding(&name)
                .await
                .map_err(|err| explain_plugin(err, format!("cannot pause binding '{name}'")))?;
            if connection.json {
                return output::print_json(&status);
            }
            output::print(&format!(
                "paused binding '{name}'; resume it with `weir bind resume {name}`\n"
            ))
        }
        BindCommand::Resume { name } => {
            let status = connection
                .client()?
                .resume_binding(&name)
                .await
                .map_err(|err| explain_plugin(err, format!("cannot resume binding '{name}'")))?;
            if connection.json {
                return output::print_json(&status);
            }
            output::print(&format!(
                "resumed binding '{name}' ({})\n",
                status.run.as_str()
            ))
        }
        BindCommand::Rm { name } => {
            connection
                .client()?
                .unbind(&name)
                .await
                .map_err(|err| explain_plugin(err, format!("cannot remove binding '{name}'")))?;
            if connection.json {
                return output::print_json(&Removed { removed: &name });
            }
            output::print(&format!(
                "removed binding '{name}'; its module stays registered\n"
            ))
        }
    }
}

/// Creates the binding, or replaces it with `--update`, and prints what the broker stored.
async fn save(
    request: &BindingRequest,
    common: &CommonArgs,
    connection: &Connection,
) -> anyhow::Result<()> {
    let client = connection.client()?;
    let name = &request.name;
    let saved = if common.update {
        client
            .rebind(name, request)
            .await
            .map_err(|err| explain_plugin(err, format!("cannot update binding '{name}'")))?
    } else {
        client
            .bind(request)
            .await
            .map_err(|err| explain_plugin(err, format!("cannot bind '{name}'")))?
    };
    if connection.json {
        return output::print_json(&saved);
    }
    let verb = if common.update { "updated" } else { "bound" };
    let mut text = format!(
        "{verb} '{}': {} module '{}' on {}\n",
        saved.name,
        saved.target.world().short_name(),
        saved.module,
        saved.target.describe()
    );
    text.push_str(&output::fields(&config_rows(&saved)));
    output::print(&text)
}

/// The settings of a binding, as `label  value` rows.
fn config_rows(config: &BindingConfig) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("binding", config.name.clone()),
        ("kind", config.target.world().short_name().to_owned()),
        ("target", config.target.describe()),
        ("module", config.module.clone()),
        (
            "version",
            match config.version {
                Some(version) => format!("{version} (pinned)"),
                None => "newest".to_owned(),
            },
        ),
    ];
    match &config.target {
        BindingTarget::Consumer {
            batch_size,
            concurrency,
            ..
        } => {
            rows.push(("batch size", batch_size.to_string()));
            rows.push(("concurrency", concurrency.to_string()));
        }
        BindingTarget::DedupFilter { window_ms, .. } => {
            rows.push(("window", output::duration_ms(*window_ms)));
        }
        BindingTarget::TxChecker { .. } => {}
    }
    rows.push(("deadline", output::duration_ms(config.deadline_ms)));
    rows.push(("memory", output::size_bytes(config.memory_bytes as u64)));
    rows.push(("state quota", output::size_bytes(config.state_bytes as u64)));
    rows.push((
        "config",
        if config.config.is_empty() {
            "-".to_owned()
        } else {
            output::one_line(&config.config, 120)
        },
    ));
    let mut granted = Vec::new();
    if config.grants.publish {
        granted.push("publish".to_owned());
    }
    for prefix in &config.grants.http_allowlist {
        granted.push(format!("http {prefix}"));
    }
    rows.push((
        "grants",
        if granted.is_empty() {
            "none".to_owned()
        } else {
            granted.join(", ")
        },
    ));
    rows.push(("state", run_state(&config.run)));
    rows.push(("created", output::utc_time(config.created_ms)));
    rows
}

/// `running`, `paused`, or `quarantined: <error>`.
fn run_state(run: &RunState) -> String {
    match run {
        RunState::Quarantined { error } => {
            format!("quarantined: {}", output::one_line(error, 120))
        }
        other => other.as_str().to_owned(),
    }
}

/// `weir bind describe` as text: settings, health, then the counters of its kind.
fn render_status(status: &BindingStatus) -> String {
    let mut rows = config_rows(&status.config);
    rows.push((
        "runs version",
        status.module_version.map_or_else(
            || "none (the module does not resolve)".to_owned(),
            |v| v.to_string(),
        ),
    ));
    rows.push(("failures in a row", status.consecutive_failures.to_string()));
    rows.push((
        "last error",
        match (&status.last_error, status.last_error_ms) {
            (Some(error), Some(ms)) => {
                format!(
                    "{} (at {})",
                    output::one_line(error, 120),
                    output::utc_time(ms)
                )
            }
            (Some(error), None) => output::one_line(error, 120),
            (None, _) => "-".to_owned(),
        },
    ));
    rows.push((
        "key-value state",
        format!(
            "{} entries, {}",
            status.state_entries,
            output::size_bytes(status.state_bytes_used as u64)
        ),
    ));
    let m = &status.metrics;
    let mean = m
        .latency_sum_us
        .checked_div(m.calls)
        .map_or_else(|| "-".to_owned(), |us| format!("{us} µs"));
    rows.push((
        "calls",
        format!(
            "{} ({} failed), mean latency {mean}",
            m.calls, m.failed_calls
        ),
    ));
    let outcomes = match &status.target {
        BindingTarget::Consumer { .. } => format!(
            "{} messages: acked {}, retried {}, dead-lettered {}, failed with their batch {}; \
             published {}",
            m.messages, m.acked, m.retried, m.dead_lettered, m.failed_messages, m.published
        ),
        BindingTarget::DedupFilter { .. } => format!(
            "{} messages: with a key {}, duplicates {}",
            m.messages, m.keys, m.duplicates
        ),
        BindingTarget::TxChecker { .. } => format!(
            "commit {}, rollback {}, unknown {}",
            m.commits, m.rollbacks, m.unknowns
        ),
    };
    rows.push(("outcomes", outcomes));
    rows.push((
        "failures",
        format!(
            "traps {}, timeouts {}, memory limits {}, wrong lengths {}; instances created {}",
            m.traps, m.timeouts, m.memory_limits, m.wrong_lengths, m.instantiations
        ),
    ));
    if m.http_requests > 0 || m.http_failures > 0 {
        rows.push((
            "http",
            format!("{} requests, {} failed", m.http_requests, m.http_failures),
        ));
    }
    output::fields(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BindingConfig {
        BindingConfig {
            name: "billing".into(),
            module: "ack".into(),
            version: None,
            target: BindingTarget::Consumer {
                topic: "orders".into(),
                group: "g".into(),
                batch_size: 32,
                concurrency: 1,
            },
            deadline_ms: 5000,
            memory_bytes: 64 << 20,
            state_bytes: 16 << 20,
            config: String::new(),
            grants: Grants {
                publish: true,
                http_allowlist: vec!["http://127.0.0.1:9000/".into()],
            },
            run: RunState::Quarantined {
                error: "trap: unreachable".into(),
            },
            created_ms: 1_764_000_000_000,
        }
    }

    #[test]
    fn settings_are_listed() {
        let text = output::fields(&config_rows(&config()));
        for line in [
            "target       group g on orders",
            "version      newest",
            "batch size   32",
            "deadline     5 s",
            "memory       64.0 MiB",
            "grants       publish, http http://127.0.0.1:9000/",
            "state        quarantined: trap: unreachable",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn status_shows_the_counters_of_its_kind() {
        let mut status = BindingStatus {
            config: config(),
            module_version: Some(3),
            consecutive_failures: 5,
            last_error: Some("trap".into()),
            last_error_ms: None,
            state_entries: 0,
            state_bytes_used: 0,
            metrics: Default::default(),
        };
        status.metrics.calls = 4;
        status.metrics.latency_sum_us = 400;
        status.metrics.messages = 10;
        status.metrics.acked = 10;
        let text = render_status(&status);
        assert!(text.contains("runs version       3"), "{text}");
        assert!(text.contains("mean latency 100 µs"), "{text}");
        assert!(text.contains("10 messages: acked 10"), "{text}");
        assert!(!text.contains("\nhttp "), "{text}");
    }

    #[test]
    fn grants_only_when_asked() {
        assert_eq!(grants(false, &[]), None);
        assert_eq!(
            grants(true, &[]),
            Some(Grants {
                publish: true,
                http_allowlist: vec![]
            })
        );
    }
}

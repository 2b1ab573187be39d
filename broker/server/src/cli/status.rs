//! `weir status`: the broker at a glance: every binding with its throughput and failures,
//! then every module version.
//!
//! Throughput is measured, not stored: the command reads `GET /v1/status` twice,
//! `--interval-ms` apart, and divides the growth of each binding's message counter by the
//! time between the two answers. `--json` prints one answer as the broker sent it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use weir_client::{BindingStatus, BrokerStatus};

use super::Connection;
use super::failure::explain_plugin;
use super::module::module_table;
use super::output::{self, Align, Table};

/// Longest wait between the two samples: the command is for a terminal, not a monitor.
const MAX_INTERVAL_MS: u64 = 60_000;
/// Longest last error shown in the table; `weir bind describe` shows more.
const LAST_ERROR_WIDTH: usize = 60;

/// Flags of `weir status`.
#[derive(clap::Args, Debug)]
pub(crate) struct StatusArgs {
    /// Time between the two samples the message rates are measured over, ms (0: one
    /// sample, no rates).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    interval_ms: u64,
}

/// Runs `weir status`.
pub(crate) async fn run(args: StatusArgs, connection: &Connection) -> anyhow::Result<()> {
    if args.interval_ms > MAX_INTERVAL_MS {
        anyhow::bail!(
            "--interval-ms {} is over the limit of {MAX_INTERVAL_MS}",
            args.interval_ms
        );
    }
    let client = connection.client()?;
    let sample = || async {
        client
            .status()
            .await
            .map_err(|err| explain_plugin(err, "cannot read the broker's status".to_owned()))
    };
    let first = sample().await?;
    if connection.json {
        return output::print_json(&first);
    }
    if args.interval_ms == 0 {
        return output::print(&render(&first, None));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    let second = sample().await?;
    let rates = message_rates(&first, &second, started.elapsed());
    output::print(&render(&second, Some(&rates)))
}

/// Messages per second of each binding present in both samples.
fn message_rates(
    first: &BrokerStatus,
    second: &BrokerStatus,
    elapsed: Duration,
) -> BTreeMap<String, f64> {
    let seconds = elapsed.as_secs_f64();
    let before: BTreeMap<&str, u64> = first
        .bindings
        .iter()
        .map(|binding| (binding.name.as_str(), binding.metrics.messages))
        .collect();
    second
        .bindings
        .iter()
        .filter_map(|binding| {
            let earlier = *before.get(binding.name.as_str())?;
            // A counter that went down belongs to a binding removed and created again.
            let grown = binding.metrics.messages.checked_sub(earlier)?;
            (seconds > 0.0).then(|| (binding.name.clone(), grown as f64 / seconds))
        })
        .collect()
}

/// The whole report: a summary line, the bindings, then the modules.
fn render(status: &BrokerStatus, rates: Option<&BTreeMap<String, f64>>) -> String {
    let mut text = format!(
        "up {}, {} topics, {} groups, {} bindings, {} module versions\n\n",
        output::duration_ms(status.uptime_ms),
        status.topics,
        status.groups,
        status.bindings.len(),
        status.modules.len()
    );
    if status.bindings.is_empty() {
        text.push_str("no binding; attach a module with `weir bind consumer|dedup|tx-checker`\n");
    } else {
        text.push_str(&binding_table(&status.bindings, rates));
    }
    text.push('\n');
    if status.modules.is_empty() {
        text.push_str(
            "no module; upload one with `weir module push NAME FILE.wasm --world WORLD`\n",
        );
    } else {
        text.push_str(&module_table(&status.modules));
    }
    text
}

/// The bindings as a table; with `rates`, a MSG/S column (`-` for a binding seen once).
pub(crate) fn binding_table(
    bindings: &[BindingStatus],
    rates: Option<&BTreeMap<String, f64>>,
) -> String {
    let mut columns = vec![
        ("NAME", Align::Left),
        ("KIND", Align::Left),
        ("TARGET", Align::Left),
        ("MODULE", Align::Left),
        ("STATE", Align::Left),
        ("MESSAGES", Align::Right),
    ];
    if rates.is_some() {
        columns.push(("MSG/S", Align::Right));
    }
    columns.extend([
        ("FAILED CALLS", Align::Right),
        ("TRAPS", Align::Right),
        ("TIMEOUTS", Align::Right),
        ("LAST ERROR", Align::Left),
    ]);
    let mut table = Table::new(&columns);
    for binding in bindings {
        let version = binding
            .module_version
            .or(binding.config.version)
            .map_or_else(|| "?".to_owned(), |version| version.to_string());
        let mut row = vec![
            binding.name.clone(),
            binding.target.world().short_name().to_owned(),
            binding.target.describe(),
            format!("{}@{version}", binding.module),
            binding.run.as_str().to_owned(),
            binding.metrics.messages.to_string(),
        ];
        if let Some(rates) = rates {
            row.push(
                rates
                    .get(&binding.name)
                    .map_or_else(|| "-".to_owned(), |rate| format!("{rate:.1}")),
            );
        }
        row.extend([
            binding.metrics.failed_calls.to_string(),
            binding.metrics.traps.to_string(),
            binding.metrics.timeouts.to_string(),
            binding
                .last_error
                .as_deref()
                .map_or_else(|| "-".to_owned(), |e| output::one_line(e, LAST_ERROR_WIDTH)),
        ]);
        table.row(row);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(messages: u64) -> BrokerStatus {
        serde_json::from_value(json!({
            "uptime_ms": 90_000, "topics": 2, "groups": 1, "modules": [],
            "bindings": [{
                "config": {"name": "billing", "module": "ack", "version": null,
                    "target": {"kind": "consumer", "topic": "orders", "group": "g",
                               "batch_size": 32, "concurrency": 1},
                    "deadline_ms": 5000, "memory_bytes": 1, "state_bytes": 1, "config": "",
                    "grants": {"publish": false, "http_allowlist": []},
                    "run": {"state": "running"}, "created_ms": 0},
                "module_version": 1, "consecutive_failures": 0,
                "last_error": "trap: wasm `unreachable`\ninstruction executed",
                "last_error_ms": 1, "state_entries": 0, "state_bytes_used": 0,
                "metrics": {"messages": messages, "failed_calls": 1, "traps": 1}
            }]
        }))
        .unwrap()
    }

    #[test]
    fn rates_are_the_growth_over_the_interval() {
        let rates = message_rates(&status(100), &status(350), Duration::from_millis(500));
        assert_eq!(rates["billing"], 500.0);
        // A binding created again (its counter went down) has no rate.
        let rates = message_rates(&status(350), &status(10), Duration::from_secs(1));
        assert!(rates.is_empty());
    }

    #[test]
    fn report_lists_bindings_then_modules() {
        let rates = BTreeMap::from([("billing".to_owned(), 12.345)]);
        let text = render(&status(7), Some(&rates));
        assert_eq!(
            text,
            "up 1 min 30 s, 2 topics, 1 groups, 1 bindings, 0 module versions\n\n\
             NAME     KIND      TARGET             MODULE  STATE    MESSAGES  MSG/S  FAILED CALLS  TRAPS  TIMEOUTS  LAST ERROR\n\
             billing  consumer  group g on orders  ack@1   running         7   12.3             1      1         0  trap: wasm `unreachable`\\ninstruction executed\n\
             \n\
             no module; upload one with `weir module push NAME FILE.wasm --world WORLD`\n"
        );
        let without = binding_table(&status(7).bindings, None);
        assert!(!without.contains("MSG/S"), "{without}");
    }
}

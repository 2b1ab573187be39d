//! What plugins write into the broker's log, through the real broker binary: a plugin
//! cannot forge a broker line (its messages arrive escaped, inside one line of their
//! own), and a plugin logging in a loop is held to its binding's log budget, the rest
//! dropped, counted in `/metrics` and summarised.
//!
//! The forged text is `2026-12-02T10:00:00.000000Z ERROR weir::serve: forged ...`, what
//! a line of the broker's own log looks like, behind every kind of line break, terminal
//! escapes and bidi overrides (see `tests/plugins/log-forge`).
//!
//! Nothing asserts how fast the broker is: waits are bounded polling loops, and the
//! budget is checked against the time the test itself measured.

use crate::support;
use crate::support::plugins as plugins_support;

use std::time::Instant;

use plugins_support::{
    Api, ConfiguredBroker, WAIT, binding_samples, component, counter, eventually, sample_value,
};
use serde_json::{Value, json};
use support::Broker;

/// What every forged line starts with.
const FORGED: &str = "2026-12-02T10:00:00.000000Z ERROR weir::serve: forged";

/// Messages the log-forge plugin logs per call.
const FORGERIES: usize = 10;

/// Longest plugin message the broker writes (escaped), plus its cut marker.
const MAX_MESSAGE: usize = 4096 + 3;

/// Room on a log line for the timestamp, level, target and fields around the message.
const LINE_OVERHEAD: usize = 512;

/// Sets up `topic` with a group and binds `module` as its consumer.
fn bind_consumer(api: &Api, name: &str, module: &str, config: &str, deadline_ms: Option<u64>) {
    api.create_topic(name, 1);
    api.create_group(&json!({
        "name": name,
        "topic": name,
        "max_attempts": 1,
    }));
    let mut spec = json!({
        "name": name,
        "module": module,
        "target": {"kind": "consumer", "topic": name, "group": name,
                   "batch_size": 1, "concurrency": 1},
        "config": config,
    });
    if let Some(deadline) = deadline_ms {
        spec["deadline_ms"] = json!(deadline);
    }
    api.bind(&spec);
}

/// The lines of the broker's log that name `binding`.
fn lines_of(log: &str, binding: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains(binding))
        .map(str::to_owned)
        .collect()
}

/// The first dead letter of `group`, once there is one.
fn dead_letter(api: &Api, group: &str) -> Value {
    eventually("a dead letter", WAIT, || {
        api.dead_letters(group).into_iter().next()
    })
}

#[test]
fn a_plugin_cannot_forge_broker_log_lines() {
    let broker = Broker::start(&[]);
    let api = Api::new(broker.addr());
    api.upload_new("log-forge", "consumer-plugin", &component("log_forge"));
    bind_consumer(&api, "forge-acks", "log-forge", "", None);
    bind_consumer(&api, "forge-traps", "log-forge", "trap", None);
    api.send_message("forge-acks", &json!({"body": "one"}));
    api.send_message("forge-traps", &json!({"body": "one"}));

    eventually("the forging consumer acks", WAIT, || {
        (counter(&api.binding("forge-acks"), "acked") == 1).then_some(())
    });
    // Its trap's message (a forged line too) is the dead letter's reason, escaped.
    let letter = dead_letter(&api, "forge-traps");
    let reason = letter["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("plugin trapped: ")
            && reason.contains(&format!("log-forge trapping\\n{FORGED} panic")),
        "{letter}"
    );
    assert!(!reason.contains('\n'), "{letter}");
    let written = eventually("both bindings' lines are logged", WAIT, || {
        let acks = counter(&api.binding("forge-acks"), "log_lines");
        let traps = counter(&api.binding("forge-traps"), "log_lines");
        (acks == FORGERIES as u64 && traps == FORGERIES as u64).then_some(acks + traps)
    });
    let log = broker.log();

    // No line of the log starts like a forged one; no raw control gets through.
    for line in log.lines() {
        assert!(
            !line.trim_start().starts_with("2026-12-02T10:00:00"),
            "a forged line: {line:?}"
        );
        assert!(
            line.len() <= MAX_MESSAGE + LINE_OVERHEAD,
            "a line of {} bytes",
            line.len()
        );
    }
    for raw in [
        '\r', '\u{0}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}', '\u{2028}', '\u{2029}', '\u{202e}',
    ] {
        assert!(!log.contains(raw), "{raw:?} reached the log");
    }
    // Every forged text is inside one of the plugins' own lines, escaped.
    let forged: Vec<&str> = log.lines().filter(|line| line.contains(FORGED)).collect();
    for line in &forged {
        assert!(
            line.contains("forge-acks") || line.contains("forge-traps"),
            "forged text outside a plugin's line: {line}"
        );
    }
    let plugin_lines: Vec<&&str> = forged
        .iter()
        .filter(|line| line.contains("plugin_message="))
        .collect();
    assert_eq!(plugin_lines.len() as u64, written, "{forged:#?}");
    eprintln!("a forged line as written: {}", plugin_lines[0]);
    for escaped in [
        format!("before\\n{FORGED} newline"),
        format!("before\\r\\n{FORGED} crlf"),
        format!("before\\r{FORGED} carriage return"),
        format!("\\u{{1b}}[2K\\u{{1b}}[1G{FORGED} ansi \\u{{1b}}[31mred\\u{{1b}}[0m"),
        format!("before\\u{{2028}}{FORGED} line separator"),
        format!("before\\u{{2029}}{FORGED} paragraph separator"),
        format!("before\\u{{85}}{FORGED} next line"),
        format!("before\\u{{202e}}{FORGED} bidi override\\u{{202c}}"),
        format!("before\\u{{0}}\\u{{7f}}\\u{{9b}}{FORGED} nul del csi"),
    ] {
        let found = plugin_lines
            .iter()
            .filter(|line| line.contains(&escaped))
            .count();
        assert_eq!(found, 2, "{escaped} once per binding:\n{forged:#?}");
    }
    // The 1 MiB message: one line, cut.
    let large: Vec<&&&str> = plugin_lines
        .iter()
        .filter(|line| line.contains(&format!("\\n{FORGED} large\\n{FORGED} large")))
        .collect();
    assert_eq!(large.len(), 2, "{forged:#?}");
    assert!(large.iter().all(|line| line.ends_with("...")), "{large:#?}");
    // The trap's failure line carries the forged panic escaped, too.
    assert!(
        lines_of(&log, "forge-traps")
            .iter()
            .any(|line| line.contains("plugin call failed")
                && line.contains(&format!("\\n{FORGED} panic"))),
        "{log}"
    );
}

/// Lines per second the flood tests allow a binding.
const LINES_PER_SEC: u64 = 20;

/// The broker with a small log budget, and a flooding binding on its own topic.
fn flood_broker(config: &str, deadline_ms: Option<u64>) -> (ConfiguredBroker, Api) {
    let broker = ConfiguredBroker::start(
        &format!("[plugins]\nlog_lines_per_sec = {LINES_PER_SEC}\n"),
        &[],
    );
    let api = broker.api();
    api.upload_new("log-flood", "consumer-plugin", &component("log_flood"));
    bind_consumer(&api, "flood", "log-flood", config, deadline_ms);
    (broker, api)
}

/// What the broker wrote for the `flood` binding: plugin lines and summaries, with the
/// lines the summaries count.
struct Written {
    lines: u64,
    summaries: u64,
    summarised: u64,
}

fn written(log: &str) -> Written {
    let mut out = Written {
        lines: 0,
        summaries: 0,
        summarised: 0,
    };
    for line in lines_of(log, "flood") {
        if line.contains("plugin_message=flood line") {
            out.lines += 1;
        } else if let Some(rest) = line.split("binding flood: suppressed ").nth(1) {
            out.summaries += 1;
            let n = rest.split(' ').next().and_then(|n| n.parse::<u64>().ok());
            out.summarised += n.unwrap_or_else(|| panic!("a summary without a count: {line}"));
        }
    }
    out
}

/// The binding's counters of written and suppressed lines, in its status and in
/// `/metrics` (which must agree).
fn log_counters(api: &Api) -> (u64, u64) {
    let status = api.binding("flood");
    let (lines, suppressed) = (
        counter(&status, "log_lines"),
        counter(&status, "log_lines_suppressed"),
    );
    let metrics = api.metrics();
    let sample = |name: &str| {
        binding_samples(&metrics, "flood")
            .into_iter()
            .find(|line| line.starts_with(&format!("{name}{{")))
            .map(sample_value)
            .unwrap_or_else(|| panic!("/metrics has {name} for the binding:\n{metrics}"))
    };
    let scraped = sample("weir_plugin_log_lines_suppressed_total");
    assert!(scraped >= suppressed as f64, "{scraped} < {suppressed}");
    assert!(sample("weir_plugin_log_lines_total") >= lines as f64);
    (lines, suppressed)
}

/// Checks what the log holds against the counters and the budget over `elapsed`.
fn check_budget(broker: &ConfiguredBroker, api: &Api, started: Instant, logged_at_least: u64) {
    // Every suppressed line is summarised within a second or so of idling.
    let (lines, suppressed, log) = eventually("the suppressed lines are summarised", WAIT, || {
        let (lines, suppressed) = log_counters(api);
        let log = broker.broker.log();
        let seen = written(&log);
        (suppressed > 0 && seen.summarised == suppressed).then_some((lines, suppressed, log))
    });
    let elapsed = started.elapsed().as_secs_f64();
    let seen = written(&log);
    assert_eq!(
        seen.lines, lines,
        "the log holds the lines counted as written"
    );
    assert!(
        lines + suppressed >= logged_at_least,
        "{lines} + {suppressed}"
    );
    // A burst of one second's worth, then the rate: never more over the test's time.
    let budget = LINES_PER_SEC as f64 * (1.0 + elapsed);
    assert!(
        (lines as f64) <= budget,
        "{lines} lines written in {elapsed:.1} s, over the budget of {budget:.0}"
    );
    // At most one summary per second.
    assert!(
        (seen.summaries as f64) <= 1.0 + elapsed,
        "{} summaries in {elapsed:.1} s",
        seen.summaries
    );
    eprintln!(
        "{lines} lines written, {suppressed} suppressed in {} summaries, over {elapsed:.1} s",
        seen.summaries
    );
}

#[test]
fn a_plugin_logging_a_flood_is_held_to_the_budget_and_the_rest_counted() {
    const PER_CALL: u64 = 5_000;
    const MESSAGES: u64 = 3;
    let started = Instant::now();
    let (broker, api) = flood_broker(&PER_CALL.to_string(), None);
    for i in 0..MESSAGES {
        api.send_message("flood", &json!({ "body": format!("m{i}") }));
    }
    eventually("every flood call acks", WAIT, || {
        (counter(&api.binding("flood"), "acked") == MESSAGES).then_some(())
    });
    let (lines, suppressed) = log_counters(&api);
    // Every line the plugin logged is written or counted as suppressed.
    assert_eq!(lines + suppressed, PER_CALL * MESSAGES);
    check_budget(&broker, &api, started, PER_CALL * MESSAGES);
}

#[test]
fn a_plugin_logging_until_its_deadline_is_held_to_the_budget() {
    let started = Instant::now();
    let (broker, api) = flood_broker("", Some(500));
    api.send_message("flood", &json!({"body": "m"}));
    let letter = dead_letter(&api, "flood");
    assert_eq!(
        letter["reason"], "plugin timed out after 500 ms",
        "{letter}"
    );
    check_budget(&broker, &api, started, 1);
    // The broker keeps serving.
    let health = support::get(broker.broker.addr(), "/healthz").expect("/healthz");
    assert_eq!(health.status, 200);
}

//! The consumer-group commands of the `weir` command-line client against a running
//! broker, through the real binary: `weir group create|list|describe|reset|delete`,
//! `weir consume` (print and ack, `--max`, `--json`), `weir lag`, and
//! `weir dlq list|export|resend`, in human and `--json` output, and the exit code and
//! message of a command on a group that does not exist.

use crate::support;

use std::collections::HashSet;
use std::process::Output;

use serde_json::Value;
use support::{Broker, assert_cli_exit_1, assert_cli_succeeded, run_cli};
use weir_client::{NewGroup, OutgoingMessage, ReceiveOptions};

/// Runs `weir ARGS... --server URL` and returns its output.
fn weir(broker: &Broker, args: &[&str]) -> Output {
    let url = broker.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--server", &url]);
    run_cli(&all, b"")
}

/// Runs a command that must succeed; returns its stdout and stderr as text.
#[track_caller]
fn ok(broker: &Broker, args: &[&str]) -> (String, String) {
    let output = weir(broker, args);
    assert_cli_succeeded(args, &output);
    (
        String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a command with `--json` that must succeed and parses its stdout.
#[track_caller]
fn ok_json(broker: &Broker, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (text, _) = ok(broker, &all);
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("weir {args:?} --json: {err}\n{text}"))
}

/// Runs a command that must fail with exit code 1; returns its stderr.
#[track_caller]
fn fails(broker: &Broker, args: &[&str]) -> String {
    assert_cli_exit_1(args, &weir(broker, args))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The ids of the messages `weir consume` printed, one line each.
fn printed_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn group_consume_lag_and_dlq_commands() {
    let broker = Broker::start(&[]);
    let rt = runtime();
    let client = broker.client();
    ok(&broker, &["topic", "create", "orders", "--queues", "2"]);
    let ids: Vec<String> = (0..5).map(|n| format!("order-{n}")).collect();
    rt.block_on(async {
        for (n, id) in ids.iter().enumerate() {
            let message = OutgoingMessage::new(format!("order body {n}")).with_id(id);
            client.send("orders", &message).await.expect("send");
        }
    });

    // Create, list, describe.
    let (created, _) = ok(
        &broker,
        &[
            "group", "create", "billing", "--topic", "orders", "--from", "earliest",
        ],
    );
    assert!(
        created.contains("billing") && created.contains("orders"),
        "create says what it made: {created}"
    );
    let strict = ok_json(
        &broker,
        &[
            "group",
            "create",
            "strict",
            "--topic",
            "orders",
            "--from",
            "earliest",
            "--max-attempts",
            "1",
            "--backoff-ms",
            "10,20",
        ],
    );
    assert_eq!(strict["name"], "strict");
    assert_eq!(strict["max_attempts"], 1);
    assert_eq!(strict["backoff_ms"], serde_json::json!([10, 20]));
    assert_eq!(strict["from"], "earliest");
    let listed = ok_json(&broker, &["group", "list"]);
    let names: Vec<&str> = listed["groups"]
        .as_array()
        .expect("groups array")
        .iter()
        .map(|g| g["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["billing", "strict"]);
    let (listed, _) = ok(&broker, &["group", "list", "--topic", "orders"]);
    assert!(
        listed.lines().any(|l| l.starts_with("billing")),
        "a line per group: {listed}"
    );
    let (described, _) = ok(&broker, &["group", "describe", "billing"]);
    assert!(
        described.contains("billing") && described.contains("orders"),
        "{described}"
    );

    // Lag before consuming.
    let lag = ok_json(&broker, &["lag", "billing"]);
    assert_eq!(lag["total"], 5, "{lag}");
    let (lag, _) = ok(&broker, &["lag", "billing"]);
    assert!(lag.contains("5 messages behind"), "{lag}");

    // Consume 3, printed one per line and acked; then the rest as JSON.
    let (printed, summary) = ok(
        &broker,
        &["consume", "billing", "--max", "3", "--wait-ms", "5000"],
    );
    let first = printed_ids(&printed);
    assert_eq!(first.len(), 3, "three lines: {printed}");
    assert!(printed.contains("body: order body"), "{printed}");
    assert!(
        summary.contains("consumed 3 messages") && summary.contains("acked 3"),
        "{summary}"
    );
    let rest = ok_json(&broker, &["consume", "billing", "--wait-ms", "500"]);
    assert_eq!(
        (rest["handled"].as_u64(), rest["acked"].as_u64()),
        (Some(2), Some(2)),
        "{rest}"
    );
    let mut all: Vec<String> = first;
    all.extend(
        rest["messages"]
            .as_array()
            .expect("messages array")
            .iter()
            .map(|m| m["id"].as_str().expect("id").to_owned()),
    );
    all.sort();
    assert_eq!(all, ids, "every message consumed once");

    // Nothing behind now; consuming again prints nothing.
    let (lag, _) = ok(&broker, &["lag", "billing"]);
    assert!(lag.contains("0 messages behind"), "{lag}");
    let lag = ok_json(&broker, &["lag", "billing"]);
    assert_eq!(lag["total"], 0, "{lag}");
    for queue in lag["queues"].as_array().expect("queues") {
        assert_eq!(queue["lag"], 0, "{lag}");
    }
    let (printed, _) = ok(&broker, &["consume", "billing", "--wait-ms", "200"]);
    assert_eq!(printed, "", "nothing left to consume");
    let described = ok_json(&broker, &["group", "describe", "billing"]);
    assert_eq!(described["counters"]["acked"], 5, "{described}");
    assert_eq!(described["lag"]["total"], 0, "{described}");

    // A dead letter: one failed attempt is all that group `strict` allows.
    let (empty, note) = ok(&broker, &["dlq", "list", "strict"]);
    assert_eq!(empty, "", "no dead letters yet");
    assert!(note.contains("no dead letters"), "{note}");
    let dead_id = rt.block_on(async {
        let batch = client
            .receive("strict", &ReceiveOptions::new(1, 5000))
            .await
            .expect("receive");
        assert_eq!(batch.len(), 1);
        let nacked = client
            .nack("strict", &[batch[0].receipt.clone()], None)
            .await
            .expect("nack");
        assert_eq!(nacked.count, 1);
        batch[0].id.clone()
    });
    let (letters, _) = ok(&broker, &["dlq", "list", "strict"]);
    assert!(
        letters.contains(&dead_id),
        "the dead letter is listed: {letters}"
    );
    let page = ok_json(&broker, &["dlq", "list", "strict"]);
    let letter = &page["dead_letters"][0];
    assert_eq!(letter["original_id"], dead_id.as_str(), "{page}");
    assert_eq!(letter["attempts"], 1, "{page}");
    let (exported, _) = ok(&broker, &["dlq", "export", "strict"]);
    let lines: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{exported}");
    assert_eq!(lines[0]["original_id"], dead_id.as_str());
    ok(&broker, &["dlq", "resend", "strict", "--all"]);
    let again = ok_json(&broker, &["consume", "strict", "--wait-ms", "500"]);
    let resent: HashSet<&str> = again["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["resent"] == true)
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        resent,
        HashSet::from([dead_id.as_str()]),
        "the resent dead letter comes back under its original id: {again}"
    );

    // Reset, then delete.
    let reset = ok_json(&broker, &["group", "reset", "billing", "--to", "earliest"]);
    let committed: Vec<u64> = reset["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| q["committed"].as_u64().expect("committed"))
        .collect();
    assert_eq!(committed, [0, 0], "{reset}");
    assert_eq!(ok_json(&broker, &["lag", "billing"])["total"], 5);
    let (deleted, _) = ok(&broker, &["group", "delete", "billing"]);
    assert!(deleted.contains("billing"), "{deleted}");
    let error = fails(&broker, &["lag", "billing"]);
    assert!(
        error.contains("billing") && error.contains("GROUP_NOT_FOUND"),
        "the error names the group and the code: {error}"
    );
    let error = fails(&broker, &["consume", "nope", "--wait-ms", "0"]);
    assert!(error.contains("GROUP_NOT_FOUND"), "{error}");

    // The client agrees with what the CLI did.
    rt.block_on(async {
        let groups = client.list_groups(Some("orders")).await.expect("list");
        assert_eq!(
            groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["strict"]
        );
        // And a group made by the client is visible to the CLI.
        client
            .create_group(&NewGroup::new("late", "orders"))
            .await
            .expect("create");
    });
    let (listed, _) = ok(&broker, &["group", "list"]);
    assert!(listed.lines().any(|l| l.starts_with("late")), "{listed}");
}

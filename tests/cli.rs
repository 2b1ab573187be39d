//! The `weir` command-line client against a running broker, through the real binary:
//! `weir topic create|list|describe|delete`, `weir send` (body argument, `--file`, stdin)
//! and `weir get` (`--id`, `--key`, `--queue --offset`), in human and `--json` output, and
//! the exit code and message of a failing command; the global connection options in any
//! position.

use crate::support;

use std::process::Output;

use serde_json::Value;
use support::{Broker, assert_cli_exit_1, assert_cli_succeeded, run_cli};
use weir_client::Client;

/// Runs `weir ARGS... --server URL` and returns its output.
fn weir(broker: &Broker, args: &[&str], stdin: &[u8]) -> Output {
    let url = broker.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--server", &url]);
    run_cli(&all, stdin)
}

/// Runs a command that must succeed and returns its stdout as text.
#[track_caller]
fn ok(broker: &Broker, args: &[&str]) -> String {
    ok_with_stdin(broker, args, b"")
}

#[track_caller]
fn ok_with_stdin(broker: &Broker, args: &[&str], stdin: &[u8]) -> String {
    let output = weir(broker, args, stdin);
    assert_cli_succeeded(args, &output);
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Runs a command with `--json` that must succeed and parses its stdout.
#[track_caller]
fn ok_json(broker: &Broker, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let text = ok(broker, &all);
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("weir {args:?} --json: {err}\n{text}"))
}

/// Runs a command that must fail with exit code 1; returns its stderr.
#[track_caller]
fn fails(broker: &Broker, args: &[&str]) -> String {
    assert_cli_exit_1(args, &weir(broker, args, b""))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn client(broker: &Broker) -> Client {
    broker.client()
}

#[test]
fn topic_commands() {
    let broker = Broker::start(&[]);
    let created = ok(&broker, &["topic", "create", "orders", "--queues", "3"]);
    assert!(
        created.contains("orders") && created.contains('3'),
        "create says what it made: {created}"
    );
    let created = ok_json(&broker, &["topic", "create", "audit"]);
    assert_eq!(created["name"], "audit");
    assert_eq!(created["queues"], 8);
    assert!(created["created_ms"].as_u64().is_some(), "{created}");

    let listed = ok(&broker, &["topic", "list"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert!(
        lines.len() >= 3,
        "a header and one line per topic: {listed}"
    );
    let audit_line = lines
        .iter()
        .position(|l| l.starts_with("audit"))
        .expect(&listed);
    let orders_line = lines
        .iter()
        .position(|l| l.starts_with("orders"))
        .expect(&listed);
    assert!(audit_line < orders_line, "sorted by name: {listed}");
    assert!(
        lines[orders_line].split_whitespace().any(|w| w == "3"),
        "{listed}"
    );
    let listed = ok_json(&broker, &["topic", "list"]);
    let names: Vec<&str> = listed["topics"]
        .as_array()
        .expect("topics array")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["audit", "orders"]);

    runtime().block_on(async {
        let client = client(&broker);
        for n in 0..5 {
            let message = weir_client::OutgoingMessage::new(format!("{n}")).with_queue(1);
            client.send("orders", &message).await.unwrap();
        }
    });
    let described = ok(&broker, &["topic", "describe", "orders"]);
    assert!(described.contains("orders"), "{described}");
    let queue_1 = described
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|words| words.first() == Some(&"1"))
        .unwrap_or_else(|| panic!("a line for queue 1: {described}"));
    assert!(
        queue_1.contains(&"5"),
        "queue 1 shows max offset 5: {described}"
    );
    let described = ok_json(&broker, &["topic", "describe", "orders"]);
    assert_eq!(described["queues"], 3);
    assert_eq!(described["messages"], 5);
    assert_eq!(described["queue_offsets"][1]["max_offset"], 5);
    assert_eq!(described["queue_offsets"][0]["max_offset"], 0);

    let deleted = ok(&broker, &["topic", "delete", "audit"]);
    assert!(deleted.contains("audit"), "{deleted}");
    let deleted = ok_json(&broker, &["topic", "delete", "orders"]);
    assert_eq!(deleted, serde_json::json!({"deleted": "orders"}));
    let listed = ok_json(&broker, &["topic", "list"]);
    assert_eq!(listed["topics"], serde_json::json!([]));
}

#[test]
fn send_from_argument_file_and_stdin_then_get() {
    let broker = Broker::start(&[]);
    ok(&broker, &["topic", "create", "cli", "--queues", "2"]);

    // Body as an argument, with attributes; human output.
    let sent = ok(
        &broker,
        &[
            "send",
            "cli",
            "hello from the cli",
            "--key",
            "order-1",
            "--key",
            "order-2",
            "--tag",
            "created",
            "--prop",
            "source=cli",
            "--prop",
            "eq=a=b",
            "--id",
            "cli-1",
            "--queue",
            "1",
        ],
    );
    assert!(sent.contains("cli-1"), "{sent}");
    assert!(
        sent.contains("queue=1") && sent.contains("offset=0"),
        "{sent}"
    );

    // From a file, binary; JSON output.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body.bin");
    let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    std::fs::write(&path, &binary).unwrap();
    let from_file = ok_json(
        &broker,
        &[
            "send",
            "cli",
            "--file",
            path.to_str().unwrap(),
            "--key",
            "order-1",
        ],
    );
    assert_eq!(from_file["status"], "SEND_OK");
    assert_eq!(from_file["topic"], "cli");
    let file_id = from_file["id"].as_str().expect("id").to_owned();

    // From stdin, without a body argument and with '-'.
    let stdin_body = b"line one\nline two\n\0binary tail".to_vec();
    let output = weir(&broker, &["send", "cli", "--json"], &stdin_body);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_stdin: Value = serde_json::from_slice(&output.stdout).unwrap();
    let stdin_id = from_stdin["id"].as_str().unwrap().to_owned();
    let output = weir(
        &broker,
        &["send", "cli", "-", "--json", "--key", "order-1"],
        b"dash",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dash_id = serde_json::from_slice::<Value>(&output.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // What the broker stored is exactly what was given.
    runtime().block_on(async {
        let client = client(&broker);
        let first = client.get_message("cli-1").await.unwrap();
        assert_eq!(first.body, "hello from the cli");
        assert_eq!(first.keys, ["order-1", "order-2"]);
        assert_eq!(first.tag.as_deref(), Some("created"));
        assert_eq!(first.properties["source"], "cli");
        assert_eq!(first.properties["eq"], "a=b");
        assert_eq!(first.queue, 1);
        assert_eq!(client.get_message(&file_id).await.unwrap().body, binary);
        assert_eq!(
            client.get_message(&stdin_id).await.unwrap().body,
            stdin_body
        );
        assert_eq!(client.get_message(&dash_id).await.unwrap().body, "dash");
    });

    // get --id, human and JSON.
    let line = ok(&broker, &["get", "--id", "cli-1"]);
    for part in [
        "cli-1",
        "topic=cli",
        "queue=1",
        "offset=0",
        "keys=order-1,order-2",
        "tag=created",
        "prop.source=cli",
        "hello from the cli",
    ] {
        assert!(line.contains(part), "'{part}' in {line}");
    }
    let message = ok_json(&broker, &["get", "--id", "cli-1"]);
    assert_eq!(message["id"], "cli-1");
    assert_eq!(message["body"], "hello from the cli");
    assert_eq!(message["keys"], serde_json::json!(["order-1", "order-2"]));
    let message = ok_json(&broker, &["get", "--id", &file_id]);
    assert!(
        message.get("body_base64").is_some(),
        "binary body as base64: {message}"
    );

    // get --key: oldest first.
    let by_key = ok(&broker, &["get", "--topic", "cli", "--key", "order-1"]);
    let ids: Vec<&str> = by_key
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(
        ids,
        ["cli-1", file_id.as_str(), dash_id.as_str()],
        "{by_key}"
    );
    let by_key = ok_json(
        &broker,
        &["get", "--topic", "cli", "--key", "order-1", "--max", "2"],
    );
    let ids: Vec<&str> = by_key["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{by_key}");
    // Which two of the three `max` keeps is not specified; their order is.
    let all = ["cli-1", file_id.as_str(), dash_id.as_str()];
    let positions: Vec<usize> = ids
        .iter()
        .map(|id| {
            all.iter()
                .position(|a| a == id)
                .expect("one of the keyed messages")
        })
        .collect();
    assert!(positions[0] < positions[1], "oldest first: {by_key}");

    // get --queue --offset.
    let queue = from_stdin["queue"].as_u64().unwrap().to_string();
    let offset = from_stdin["offset"].as_u64().unwrap().to_string();
    let read = ok_json(
        &broker,
        &[
            "get", "--topic", "cli", "--queue", &queue, "--offset", &offset, "--max", "1",
        ],
    );
    assert_eq!(read["messages"][0]["id"], stdin_id.as_str());
    assert_eq!(
        read["next_offset"],
        from_stdin["offset"].as_u64().unwrap() + 1
    );
    assert!(read["max_offset"].as_u64().is_some(), "{read}");
    let read = ok(
        &broker,
        &["get", "--topic", "cli", "--queue", "1", "--offset", "0"],
    );
    assert!(
        read.lines().next().unwrap_or_default().starts_with("cli-1"),
        "{read}"
    );
}

#[test]
fn failing_commands_exit_1_and_say_why() {
    let broker = Broker::start(&[]);
    let stderr = fails(&broker, &["send", "nope", "body"]);
    assert!(stderr.contains("nope"), "names the topic: {stderr}");
    assert!(stderr.contains("TOPIC_NOT_FOUND"), "{stderr}");
    let stderr = fails(&broker, &["topic", "describe", "missing-topic"]);
    assert!(stderr.contains("missing-topic"), "{stderr}");
    let stderr = fails(&broker, &["topic", "delete", "missing-topic"]);
    assert!(stderr.contains("missing-topic"), "{stderr}");
    let stderr = fails(&broker, &["get", "--topic", "nope", "--key", "k"]);
    assert!(stderr.contains("nope"), "{stderr}");
    let stderr = fails(&broker, &["get", "--id", "no-such-message"]);
    assert!(stderr.contains("no-such-message"), "{stderr}");
    ok(&broker, &["topic", "create", "dup"]);
    let stderr = fails(&broker, &["topic", "create", "dup"]);
    assert!(stderr.contains("TOPIC_EXISTS"), "{stderr}");
    let stderr = fails(&broker, &["topic", "create", "bad name"]);
    assert!(stderr.contains("INVALID_TOPIC_NAME"), "{stderr}");
    let stderr = fails(&broker, &["send", "dup", "x", "--prop", "novalue"]);
    assert!(stderr.contains("novalue"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.bin");
    let stderr = fails(
        &broker,
        &["send", "dup", "--file", missing.to_str().unwrap()],
    );
    assert!(stderr.contains("absent.bin"), "{stderr}");

    // Nothing listens there: a connection error, still exit 1 with a message.
    let closed = support::free_local_addr();
    let output = run_cli(
        &["topic", "list", "--server", &format!("http://{closed}")],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(!output.stderr.is_empty());
}

#[test]
fn connection_options_go_before_or_after_the_command() {
    let broker = Broker::start(&[]);
    let url = broker.url();
    let args = ["--server", &url, "--json", "topic", "create", "early"];
    let output = run_cli(&args, b"");
    assert_cli_succeeded(&args, &output);
    let created: Value = serde_json::from_slice(&output.stdout).expect("--json output");
    assert_eq!(created["name"], "early");
    let args = ["topic", "--server", &url, "create", "middle"];
    assert_cli_succeeded(&args, &run_cli(&args, b""));
    ok(&broker, &["topic", "create", "late"]);
    let listed = ok(&broker, &["topic", "list"]);
    for name in ["early", "middle", "late"] {
        assert!(listed.contains(name), "{listed}");
    }

    // The broker's own command does not list the client options.
    let args = ["serve", "--help"];
    let output = run_cli(&args, b"");
    assert_cli_succeeded(&args, &output);
    let help = String::from_utf8(output.stdout).expect("help is UTF-8");
    assert!(help.contains("--listen"), "{help}");
    for client_option in ["--server", "--token", "--json"] {
        assert!(!help.contains(client_option), "{help}");
    }
}

//! The walkthroughs of `examples/` (package `weir-examples`) against a running broker:
//! each example binary runs with the broker's URL, must exit 0, and the broker's state
//! afterwards must show what the example says it did (orders acked, payments committed
//! or rolled back, greetings forwarded by the plugin).
//!
//! The binaries are those cargo builds next to `weir`, in `target/<profile>/examples/`.
//! `cargo test --workspace` builds them before running any test; running this module
//! alone with `--test blackbox` needs them built first (`cargo build --workspace
//! --all-targets`, or `--examples`).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::Broker;

/// Bound on one example's run.
const EXAMPLE_LIMIT: Duration = Duration::from_secs(120);

/// Where cargo put the example `name`: next to the `weir` binary, under `examples/`.
fn example_path(name: &str) -> PathBuf {
    Path::new(support::WEIR)
        .parent()
        .expect("the weir binary is in a directory")
        .join("examples")
        .join(name)
}

/// Runs the example `name` against `broker` and returns its stdout; fails the test with
/// both streams and the broker's log when it does not exit 0.
#[track_caller]
fn run_example(name: &str, broker: &Broker) -> String {
    let path = example_path(name);
    assert!(
        path.is_file(),
        "the example {} is not built; `cargo test --workspace` builds it, or run \
         `cargo build --workspace --all-targets` first",
        path.display()
    );
    let child = Command::new(&path)
        .arg(broker.url())
        .env_remove("WEIR_SERVER")
        .env_remove("WEIR_TOKEN")
        .env_remove("WEIR_FORWARDER_WASM")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn {}: {err}", path.display()));
    let output = support::wait_bounded(child, EXAMPLE_LIMIT);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example {name} exited with {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        broker.log()
    );
    stdout
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn producer_consumer_sends_five_orders_and_the_group_acks_them() {
    let broker = Broker::start(&[]);
    let stdout = run_example("producer_consumer", &broker);
    assert!(stdout.contains("handled 5 orders, acked 5"), "{stdout}");

    let client = broker.client();
    runtime().block_on(async {
        let topic = client
            .describe_topic("orders")
            .await
            .expect("describe orders");
        assert_eq!(topic.messages, 5);
        let group = client
            .describe_group("billing")
            .await
            .expect("describe billing");
        assert_eq!(group.group.topic, "orders");
        assert_eq!(group.counters.acked, 5);
        assert_eq!(group.lag.total, 0);
        let lag = client.lag("billing", None).await.expect("lag");
        assert!(
            lag.queues.iter().all(|queue| queue.in_flight == 0),
            "{lag:?}"
        );
    });
}

#[test]
fn transactions_commit_roll_back_and_answer_the_check_back() {
    let broker = Broker::start(&[]);
    let stdout = run_example("transactions", &broker);
    assert!(stdout.contains("answering commit"), "{stdout}");

    let client = broker.client();
    runtime().block_on(async {
        let undecided = client.transactions(None).await.expect("transactions");
        assert!(undecided.is_empty(), "{undecided:?}");
        for (key, stored) in [("payment-1", 1), ("payment-2", 0), ("payment-3", 1)] {
            let found = client
                .messages_by_key("payments", key, None)
                .await
                .expect("read by key");
            assert_eq!(found.len(), stored, "{key}: {found:?}");
        }
        let group = client
            .producer_group("payments-producer")
            .await
            .expect("producer group");
        let callback = group.callback_url.expect("a callback URL");
        assert!(callback.starts_with("http://127.0.0.1:"), "{callback}");
    });
}

#[test]
fn plugin_forwarder_publishes_every_greeting_upper_cased() {
    // The example reads the component the plugin workspace builds; fail early and
    // clearly when it is missing.
    let _ = support::plugins::component("forwarder");
    let broker = Broker::start(&[]);
    let stdout = run_example("plugin_forwarder", &broker);
    assert!(stdout.contains("'greetings-loud' got 'HELLO'"), "{stdout}");

    let client = broker.client();
    let runtime = runtime();
    // The binding's counters are updated once the plugin's acks are applied.
    let binding = support::plugins::eventually("three acks", support::plugins::WAIT, || {
        let binding = runtime
            .block_on(client.binding("greetings-loud"))
            .expect("binding");
        (binding.metrics.acked == 3).then_some(binding)
    });
    assert_eq!(binding.run.as_str(), "running");
    assert_eq!(binding.metrics.published, 3);
    runtime.block_on(async {
        let read = client
            .read_queue("greetings-loud", 0, 0, None)
            .await
            .expect("read the output topic");
        let mut bodies: Vec<String> = read
            .messages
            .iter()
            .map(|message| String::from_utf8_lossy(&message.body).into_owned())
            .collect();
        bodies.sort();
        assert_eq!(bodies, ["BONJOUR", "HALLO", "HELLO"]);
        let lag = client.lag("loud-forwarder", None).await.expect("lag");
        assert_eq!(lag.total, 0);
    });
}

//! Plugins through the real broker binary, over raw HTTP: components uploaded with
//! `PUT /v1/modules/{name}`, attached with `POST /v1/bindings`, and observed through the
//! messages they produce, drop or decide.
//!
//! * `forwarder` consumes a group and publishes every message, transformed per its
//!   config, to another topic; the group ends with no lag.
//! * `json-dedup` on a topic answers a repeated `order.id` with the original send and
//!   stores nothing, also after a restart; on a group it acks, without handing it out, a
//!   message whose key the group already processed.
//! * `http-tx-checker` decides half messages by asking a service the test runs, with no
//!   producer online: the committed message becomes readable and consumable, the rolled
//!   back one never does.
//! * A forwarder whose target topic is missing logs and retries every publish, and acks
//!   each message once the topic exists; a hot swap to a second version and a restart
//!   (no compiling: the artifact is reloaded) keep it forwarding.
//! * Modules and bindings are listed and described; a module in use cannot be deleted.
//!
//! The forwarder and json-dedup scenarios run for every guest language the suite builds
//! (Rust, Python, JavaScript, Go, C, C++, Zig): the same plugins, the same assertions,
//! and so does a forwarder that gives up and dead-letters with its own reason. A
//! transaction checker runs both ways of asking over HTTP: the host's `http-request`
//! and `wasi:http/outgoing-handler` (from Rust, from Python's `urllib`, from Go's
//! `net/http` and from JavaScript's `fetch`), whose allowlist refusal is also checked.
//!
//! Nothing asserts how fast the broker is: waits are long polls or bounded polling loops.

use crate::support;
use crate::support::plugins as plugins_support;

use std::collections::HashMap;

use plugins_support::{
    Api, ConfiguredBroker, Decision, Language, TxService, WAIT, binding_samples, component,
    counter, eventually, expect, run_state, sample_value, with_custom_section,
};
use serde_json::{Value, json};
use support::assert_error;

/// Check-backs fast enough for a test: 200 ms after the send, then every 200 ms.
const FAST_CHECKS: &str = "[limits]\ntx_check_after_ms = 200\ntx_check_interval_ms = 200\n";

/// Long-poll wait of one receive.
const RECEIVE_WAIT_MS: u64 = 500;

fn start() -> ConfiguredBroker {
    ConfiguredBroker::start(FAST_CHECKS, &[])
}

/// One test per guest language the suite builds, each running `$scenario` with it: a
/// module named after the scenario with a test per language (`$scenario::python`, ...).
macro_rules! in_every_language {
    ($scenario:ident) => {
        mod $scenario {
            use super::Language;

            #[test]
            fn rust() {
                super::$scenario(Language::Rust);
            }

            #[test]
            fn python() {
                super::$scenario(Language::Python);
            }

            #[test]
            fn javascript() {
                super::$scenario(Language::JavaScript);
            }

            #[test]
            fn go() {
                super::$scenario(Language::Go);
            }

            #[test]
            fn c() {
                super::$scenario(Language::C);
            }

            #[test]
            fn cpp() {
                super::$scenario(Language::Cpp);
            }

            #[test]
            fn zig() {
                super::$scenario(Language::Zig);
            }
        }
    };
}

/// The ids of the messages in a list, each with the number of times it is there.
fn copies_by_id(messages: &[Value]) -> HashMap<String, usize> {
    let mut copies = HashMap::new();
    for message in messages {
        let id = message["id"].as_str().expect("a message id").to_owned();
        *copies.entry(id).or_default() += 1;
    }
    copies
}

in_every_language!(forwarder_publishes_every_message_transformed);

/// The forwarder of `language`, uploaded without a world (its exports tell it), bound
/// to a group: every message is published once, transformed per the config.
fn forwarder_publishes_every_message_transformed(language: Language) {
    const N: usize = 40;
    let broker = start();
    let api = broker.api();
    api.create_topic("orders", 2);
    api.create_topic("orders-eu", 3);
    let info = expect(
        api.send(
            support::RawRequest::new("PUT", "/v1/modules/forwarder")
                .body(language.component("forwarder")),
        ),
        201,
        "upload the forwarder",
    );
    assert_eq!(info["world"], "consumer-plugin", "{language:?}: {info}");
    assert_eq!(
        (info["name"].as_str(), info["version"].as_u64()),
        (Some("forwarder"), Some(1)),
        "{info}"
    );
    let config = json!({
        "to": "orders-eu",
        "add_properties": {"region": "eu"},
        "remove_properties": ["internal"],
        "tag": "eu",
        "uppercase": true,
        "origin_property": "forwarded-from",
    });
    let bound = api.bind(&json!({
        "name": "orders-to-eu",
        "module": "forwarder",
        "target": {"kind": "consumer", "topic": "orders", "group": "eu-forwarder",
                   "batch_size": 8},
        "config": config.to_string(),
        "grants": {"publish": true},
    }));
    assert_eq!(bound["name"], "orders-to-eu", "{bound}");
    assert_eq!(bound["target"]["kind"], "consumer", "{bound}");
    assert_eq!(bound["grants"]["publish"], true, "{bound}");
    // The binding created the group on the topic.
    assert_eq!(api.group("eu-forwarder")["topic"], "orders");

    let mut sent = HashMap::new();
    for i in 0..N {
        let answer = api.send_message(
            "orders",
            &json!({
                "body": format!("order number {i}"),
                "keys": [format!("order-{i}")],
                "tag": "created",
                "properties": {"internal": "secret", "source": "web"},
            }),
        );
        sent.insert(answer["id"].as_str().expect("an id").to_owned(), i);
    }

    let forwarded = eventually("every message forwarded", WAIT, || {
        let messages = api.read_topic("orders-eu");
        (messages.len() >= N).then_some(messages)
    });
    assert_eq!(forwarded.len(), N, "each message is forwarded once");
    let mut origins = HashMap::new();
    for message in &forwarded {
        let origin = message["properties"]["forwarded-from"]
            .as_str()
            .unwrap_or_else(|| panic!("the origin property is set: {message}"))
            .to_owned();
        let i = *sent
            .get(&origin)
            .unwrap_or_else(|| panic!("forwarded from a message that was sent: {message}"));
        *origins.entry(origin).or_insert(0) += 1;
        assert_eq!(message["body"], format!("ORDER NUMBER {i}"), "{message}");
        assert_eq!(message["tag"], "eu", "{message}");
        assert_eq!(message["keys"], json!([format!("order-{i}")]), "{message}");
        let properties = &message["properties"];
        assert_eq!(properties["region"], "eu", "{message}");
        assert_eq!(properties["source"], "web", "{message}");
        assert!(properties.get("internal").is_none(), "{message}");
        assert_eq!(message["topic"], "orders-eu", "{message}");
    }
    assert_eq!(origins.len(), N, "every message sent was forwarded");

    eventually("the group has no lag", WAIT, || {
        (api.lag("eu-forwarder") == 0).then_some(())
    });
    let status = eventually("the counters settle", WAIT, || {
        let status = api.binding("orders-to-eu");
        (counter(&status, "acked") == N as u64).then_some(status)
    });
    assert_eq!(counter(&status, "published"), N as u64, "{status}");
    assert_eq!(counter(&status, "failed_calls"), 0, "{status}");
    assert_eq!(run_state(&status), "running");
    assert_eq!(status["module_version"], 1, "{status}");
    assert_eq!(
        api.group("eu-forwarder")["dead_letters"],
        0,
        "nothing was dead-lettered"
    );
}

/// Topic `orders`, its group `eu-forwarder` with `(backoff_ms, max_attempts)`, and the
/// forwarder of `language` bound to the group as `orders-to-eu` with `config`, granted
/// publishing, while its target `orders-eu` does not exist; then `n` messages sent to
/// `orders`, whose ids are answered.
fn forward_to_a_missing_topic(
    api: &Api,
    language: Language,
    (backoff_ms, max_attempts): (u64, u64),
    config: &str,
    n: usize,
) -> Vec<String> {
    api.create_topic("orders", 1);
    api.create_group(&json!({"name": "eu-forwarder", "topic": "orders",
                             "backoff_ms": [backoff_ms], "max_attempts": max_attempts}));
    api.upload_new(
        "forwarder",
        "consumer-plugin",
        &language.component("forwarder"),
    );
    api.bind(&json!({
        "name": "orders-to-eu",
        "module": "forwarder",
        "target": {"kind": "consumer", "topic": "orders", "group": "eu-forwarder",
                   "batch_size": 8},
        "config": config,
        "grants": {"publish": true},
    }));
    (0..n)
        .map(|i| {
            let answer = api.send_message("orders", &json!({"body": format!("order {i}")}));
            answer["id"].as_str().expect("a message id").to_owned()
        })
        .collect()
}

in_every_language!(failing_forwarder_retries_then_acks_swaps_and_restarts);

/// The forwarder of `language` bound while its target topic does not exist: every
/// publish fails, is logged by the plugin and retried with the group's backoff; once the
/// topic exists, a later attempt publishes each message once and acks it. Then a hot
/// swap to a second version and a restart that reloads it without compiling; `weir
/// status` shows the binding running.
fn failing_forwarder_retries_then_acks_swaps_and_restarts(language: Language) {
    const N: usize = 5;
    let mut broker = start();
    let api = broker.api();
    forward_to_a_missing_topic(&api, language, (200, 1000), "orders-eu", N);
    let failing = eventually("publishes fail and are retried", WAIT, || {
        let status = api.binding("orders-to-eu");
        (counter(&status, "retried") >= 2 * N as u64).then_some(status)
    });
    assert_eq!(counter(&failing, "acked"), 0, "{failing}");
    assert!(counter(&failing, "log_lines") >= 2, "{failing}");
    assert_eq!(run_state(&failing), "running", "{failing}");
    assert!(
        broker.broker.log().contains("failed") && broker.broker.log().contains("retrying"),
        "the plugin's warning is in the broker's log"
    );

    api.create_topic("orders-eu", 1);
    let forwarded = eventually("every message forwarded", WAIT, || {
        let messages = api.read_topic("orders-eu");
        (messages.len() >= N).then_some(messages)
    });
    eventually("the group has no lag", WAIT, || {
        (api.lag("eu-forwarder") == 0).then_some(())
    });
    assert_eq!(
        forwarded.len(),
        N,
        "each message is published once: {forwarded:?}"
    );
    let group = api.group("eu-forwarder");
    assert!(
        group["counters"]["redelivered"].as_u64() >= Some(N as u64),
        "each message was delivered again after its retry: {group}"
    );
    assert_eq!(group["dead_letters"], 0, "{group}");
    let status = api.binding("orders-to-eu");
    assert_eq!(counter(&status, "acked"), N as u64, "{status}");
    assert_eq!(counter(&status, "published"), N as u64, "{status}");

    // A hot swap to a second version of the same component, then a restart, which loads
    // the precompiled artifact instead of compiling again.
    let v2 = api.upload_new(
        "forwarder",
        "consumer-plugin",
        &with_custom_section(&language.component("forwarder"), "weir-test-variant", b"2"),
    );
    assert_eq!(v2["version"], 2, "{v2}");
    let spec = json!({
        "module": "forwarder",
        "target": {"kind": "consumer", "topic": "orders", "group": "eu-forwarder",
                   "batch_size": 8},
        "config": "orders-eu",
        "grants": {"publish": true},
    });
    api.rebind("orders-to-eu", &spec);
    assert_eq!(api.binding("orders-to-eu")["module_version"], 2);
    assert!(broker.broker.stop().success(), "a clean stop");
    broker.broker.restart();
    for i in N..2 * N {
        api.send_message("orders", &json!({"body": format!("order {i}")}));
    }
    eventually("the messages after the restart forwarded", WAIT, || {
        (api.read_topic("orders-eu").len() >= 2 * N).then_some(())
    });
    let status = api.binding("orders-to-eu");
    assert_eq!(status["module_version"], 2, "{status}");
    assert_eq!(run_state(&status), "running", "{status}");
    let restarted = broker.broker.log();
    let second_start = &restarted[restarted.rfind("--- broker start #2").unwrap_or(0)..];
    assert!(
        !second_start.contains("compiling again"),
        "the restart loads the precompiled artifact: {second_start}"
    );

    let url = format!("http://{}", broker.broker.addr());
    let output = support::run_cli(&["status", "--server", &url, "--json"], b"");
    support::assert_cli_succeeded(&["status"], &output);
    let cli: Value = serde_json::from_slice(&output.stdout).expect("weir status --json");
    let listed = cli["bindings"]
        .as_array()
        .and_then(|bindings| {
            bindings
                .iter()
                .find(|binding| binding["config"]["name"] == "orders-to-eu")
        })
        .unwrap_or_else(|| panic!("the binding in weir status: {cli}"));
    assert_eq!(run_state(listed), "running", "{listed}");
}

in_every_language!(forwarder_giving_up_dead_letters_with_its_own_reason);

/// The forwarder of `language` told to give up after two attempts (`dead_letter_after`)
/// while its target topic is missing: each message is retried once, then dead-lettered
/// by the plugin with its own reason (not the broker's "maximum attempts"), logged, and
/// the group ends with no lag.
fn forwarder_giving_up_dead_letters_with_its_own_reason(language: Language) {
    const N: usize = 3;
    let broker = start();
    let api = broker.api();
    let config = json!({"to": "orders-eu", "dead_letter_after": 2}).to_string();
    let sent = forward_to_a_missing_topic(&api, language, (100, 10), &config, N);
    let dead = eventually("every message dead-lettered by the plugin", WAIT, || {
        let dead = api.dead_letters("eu-forwarder");
        (dead.len() >= N).then_some(dead)
    });
    assert_eq!(dead.len(), N, "each dead-lettered once: {dead:#?}");
    for letter in &dead {
        let id = letter["original_id"].as_str().expect("an original id");
        assert!(sent.iter().any(|s| s == id), "{letter}");
        let reason = letter["reason"].as_str().expect("a reason");
        let attempts = letter["attempts"].as_u64().expect("attempts");
        assert!((2..10).contains(&attempts), "{letter}");
        assert_eq!(
            reason.split(": ").next(),
            Some("forwarder"),
            "the plugin's reason: {letter}"
        );
        assert!(
            reason.starts_with(&format!(
                "forwarder: publishing {id} to orders-eu failed on attempt {attempts}: "
            )),
            "the plugin's reason names the message, the target and the attempt: {letter}"
        );
    }
    eventually("the group has no lag", WAIT, || {
        (api.lag("eu-forwarder") == 0).then_some(())
    });
    let status = api.binding("orders-to-eu");
    assert_eq!(counter(&status, "dead_lettered"), N as u64, "{status}");
    assert_eq!(counter(&status, "acked"), 0, "{status}");
    assert!(counter(&status, "retried") >= N as u64, "{status}");
    assert_eq!(run_state(&status), "running", "{status}");
    assert!(
        broker.broker.log().contains("failed on attempt"),
        "the plugin's warning is in the broker's log"
    );
    assert_eq!(
        api.read_topic("orders").len(),
        N,
        "the messages stay in their topic"
    );
}

/// Sends `{"order":{"id":order}}` to `topic`; answers `(id, queue, offset)`.
fn send_order(api: &Api, topic: &str, order: u64, note: &str) -> (String, u64, u64) {
    let body = json!({"order": {"id": order}, "note": note}).to_string();
    let answer = api.send_message(topic, &json!({ "body": body }));
    assert_eq!(answer["status"], "SEND_OK", "{answer}");
    (
        answer["id"].as_str().expect("an id").to_owned(),
        answer["queue"].as_u64().expect("a queue"),
        answer["offset"].as_u64().expect("an offset"),
    )
}

in_every_language!(duplicate_sends_are_answered_with_the_original);

/// The json-dedup filter of `language` on a topic: a repeated key answers the original
/// send and stores nothing, also after a restart (which loads the module's precompiled
/// artifact).
fn duplicate_sends_are_answered_with_the_original(language: Language) {
    let mut broker = start();
    let api = broker.api();
    api.create_topic("orders", 2);
    api.upload_new(
        "json-dedup",
        "dedup-filter-plugin",
        &language.component("json-dedup"),
    );
    api.bind(&json!({
        "name": "orders-dedup",
        "module": "json-dedup",
        "target": {"kind": "dedup-filter", "topic": "orders", "window_ms": 600_000},
        "config": "order.id",
    }));

    let first = send_order(&api, "orders", 1, "first");
    let repeat = send_order(&api, "orders", 1, "a retry with another body");
    assert_eq!(repeat, first, "a duplicate answers the original send");
    let second = send_order(&api, "orders", 2, "another order");
    assert_ne!(second.0, first.0);
    // A body without the field has no key: never a duplicate.
    for _ in 0..2 {
        api.send_message("orders", &json!({"body": "{\"other\":true}"}));
    }

    let stored = api.read_topic("orders");
    assert_eq!(stored.len(), 4, "the duplicate is not stored: {stored:?}");
    assert_eq!(api.topic_messages("orders"), 4);
    let copies = copies_by_id(&stored);
    assert_eq!(copies.get(&first.0), Some(&1));
    assert_eq!(copies.get(&second.0), Some(&1));
    let original = stored
        .iter()
        .find(|m| m["id"] == first.0)
        .expect("the original is stored");
    assert!(
        original["body"]
            .as_str()
            .unwrap_or_default()
            .contains("first"),
        "the stored message is the first one: {original}"
    );
    let status = api.binding("orders-dedup");
    assert!(counter(&status, "duplicates") >= 1, "{status}");
    assert!(counter(&status, "keys") >= 3, "{status}");

    // The keys are durable: a restart answers the same.
    assert!(broker.broker.stop().success(), "a clean stop");
    broker.broker.restart();
    let api = broker.api();
    assert_eq!(run_state(&api.binding("orders-dedup")), "running");
    assert_eq!(send_order(&api, "orders", 1, "after the restart"), first);
    assert_eq!(send_order(&api, "orders", 2, "after the restart"), second);
    let third = send_order(&api, "orders", 3, "new after the restart");
    assert_eq!(send_order(&api, "orders", 3, "again"), third);
    let stored = api.read_topic("orders");
    assert_eq!(stored.len(), 5, "only order 3 was added: {stored:?}");
    assert_eq!(api.topic_messages("orders"), 5);
}

#[test]
fn a_group_dedup_filter_acks_keys_the_group_already_processed() {
    let broker = start();
    let api = broker.api();
    // One queue, so that the control message is behind the duplicate.
    api.create_topic("payments", 1);
    api.create_group(&json!({"name": "billing", "topic": "payments"}));
    api.create_group(&json!({"name": "audit", "topic": "payments"}));
    api.upload_new(
        "json-dedup",
        "dedup-filter-plugin",
        &component("json_dedup"),
    );
    api.bind(&json!({
        "name": "billing-dedup",
        "module": "json-dedup",
        "target": {"kind": "dedup-filter", "group": "billing"},
        "config": "order.id",
    }));

    let first = send_order(&api, "payments", 7, "first");
    let delivered = eventually("the first delivery", WAIT, || {
        let batch = api.receive("billing", 32, RECEIVE_WAIT_MS);
        (!batch.is_empty()).then_some(batch)
    });
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["id"], first.0);
    api.ack(
        "billing",
        &[delivered[0]["receipt"]
            .as_str()
            .expect("a receipt")
            .to_owned()],
    );

    let duplicate = send_order(&api, "payments", 7, "the same order again");
    assert_ne!(duplicate.0, first.0, "a group filter does not drop sends");
    let control = send_order(&api, "payments", 8, "another order");

    // Receive until the control message arrives: the duplicate is before it in the
    // queue, so it was passed over by then.
    let mut seen = Vec::new();
    eventually("the control message", WAIT, || {
        let batch = api.receive("billing", 32, RECEIVE_WAIT_MS);
        let receipts: Vec<String> = batch
            .iter()
            .map(|m| m["receipt"].as_str().expect("a receipt").to_owned())
            .collect();
        if !receipts.is_empty() {
            api.ack("billing", &receipts);
        }
        seen.extend(batch.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        seen.contains(&control.0).then_some(())
    });
    assert!(
        !seen.contains(&duplicate.0),
        "the group never gets the duplicate: {seen:?}"
    );
    assert_eq!(seen, vec![control.0.clone()]);
    // Nothing more arrives, and the duplicate counts as done.
    assert!(api.receive("billing", 32, RECEIVE_WAIT_MS).is_empty());
    eventually("no lag", WAIT, || (api.lag("billing") == 0).then_some(()));
    let status = api.binding("billing-dedup");
    assert!(counter(&status, "duplicates") >= 1, "{status}");
    let metrics = api.metrics();
    let duplicates: Vec<&str> = binding_samples(&metrics, "billing-dedup")
        .into_iter()
        .filter(|line| {
            line.starts_with("weir_binding_outcomes_total{")
                && line.contains("outcome=\"duplicate\"")
        })
        .collect();
    assert!(
        duplicates.len() == 1 && sample_value(duplicates[0]) >= 1.0,
        "/metrics counts the duplicate: {duplicates:?}"
    );

    // Another group sees every copy.
    let mut audit = Vec::new();
    eventually("the audit group gets all three", WAIT, || {
        let batch = api.receive("audit", 32, RECEIVE_WAIT_MS);
        audit.extend(batch.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        (audit.len() >= 3).then_some(())
    });
    audit.sort();
    let mut expected = vec![first.0, duplicate.0, control.0];
    expected.sort();
    assert_eq!(audit, expected);
}

/// Sends a half message with a chosen transaction id, checked back 200 ms later.
fn send_half(api: &Api, topic: &str, transaction: &str) {
    let answer = api.send(
        support::RawRequest::new("POST", &format!("/v1/topics/{topic}/messages"))
            .header("weir-transaction", "half")
            .header("weir-message-id", transaction)
            .header("weir-tx-check-after-ms", "200")
            .body(format!("body of {transaction}").into_bytes()),
    );
    let answer = expect(answer, 200, "half send");
    assert_eq!(answer["transaction"], transaction, "{answer}");
}

#[test]
fn a_checker_decides_transactions_without_a_producer_online() {
    checker_decides_transactions_without_a_producer_online(&component("http_tx_checker"));
}

#[test]
fn a_checker_asking_over_wasi_http_does_the_same() {
    checker_decides_transactions_without_a_producer_online(&component("wasi_http_checker"));
}

#[test]
fn a_python_checker_asking_with_urllib_does_the_same() {
    checker_decides_transactions_without_a_producer_online(
        &Language::Python.component("http-tx-checker"),
    );
}

#[test]
fn a_go_checker_asking_with_net_http_does_the_same() {
    checker_decides_transactions_without_a_producer_online(&Language::Go.component("http-checker"));
}

#[test]
fn a_javascript_checker_asking_with_fetch_does_the_same() {
    checker_decides_transactions_without_a_producer_online(
        &Language::JavaScript.component("http-tx-checker"),
    );
}

/// A transaction checker, `checker` (asking with the http-request host call or over
/// wasi:http), decides two transactions by asking the service the test runs.
fn checker_decides_transactions_without_a_producer_online(checker: &[u8]) {
    let broker = start();
    let api = broker.api();
    let service = TxService::start();
    api.create_topic("shop", 2);
    api.create_group(&json!({"name": "shipping", "topic": "shop"}));
    api.upload_new("checker", "tx-checker-plugin", checker);
    api.bind(&json!({
        "name": "shop-checker",
        "module": "checker",
        "target": {"kind": "tx-checker", "topic": "shop"},
        "config": format!("{}{{transaction}}", service.prefix()),
        "grants": {"http_allowlist": [service.prefix()]},
    }));
    service.decide("tx-commit-1", Decision::Commit);
    service.decide("tx-rollback-1", Decision::Rollback);
    send_half(&api, "shop", "tx-commit-1");
    send_half(&api, "shop", "tx-rollback-1");

    eventually("both transactions decided", WAIT, || {
        let listed = expect(api.get("/v1/transactions"), 200, "list transactions");
        listed["transactions"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(())
    });
    let requests = service.requests();
    assert!(
        requests.contains(&"GET /tx/tx-commit-1".to_owned())
            && requests.contains(&"GET /tx/tx-rollback-1".to_owned()),
        "the service was asked about both: {requests:?}"
    );

    let committed = expect(api.get("/v1/messages/tx-commit-1"), 200, "get committed");
    assert_eq!(committed["body"], "body of tx-commit-1", "{committed}");
    assert_eq!(committed["topic"], "shop", "{committed}");
    assert_error(
        &api.get("/v1/messages/tx-rollback-1"),
        404,
        "MESSAGE_NOT_FOUND",
    );
    // The transactions are decided: deciding them the other way conflicts.
    assert_error(
        &api.call("POST", "/v1/transactions/tx-commit-1/rollback"),
        409,
        "TRANSACTION_CONFLICT",
    );
    assert_error(
        &api.call("POST", "/v1/transactions/tx-rollback-1/commit"),
        409,
        "TRANSACTION_CONFLICT",
    );

    let delivered = eventually("the committed message is delivered", WAIT, || {
        let batch = api.receive("shipping", 32, RECEIVE_WAIT_MS);
        (!batch.is_empty()).then_some(batch)
    });
    let ids: Vec<_> = delivered.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(ids, vec![json!("tx-commit-1")]);
    let receipts = vec![delivered[0]["receipt"].as_str().unwrap().to_owned()];
    api.ack("shipping", &receipts);
    assert!(
        api.receive("shipping", 32, RECEIVE_WAIT_MS).is_empty(),
        "the rolled back message is never delivered"
    );
    assert_eq!(api.read_topic("shop").len(), 1);

    let status = api.binding("shop-checker");
    assert!(counter(&status, "commits") >= 1, "{status}");
    assert!(counter(&status, "rollbacks") >= 1, "{status}");
    assert!(counter(&status, "http_requests") >= 2, "{status}");
}

#[test]
fn a_wasi_http_request_off_the_allowlist_is_denied_and_the_transaction_stays_undecided() {
    let broker = start();
    let api = broker.api();
    let service = TxService::start();
    api.create_topic("shop", 1);
    api.upload_new(
        "checker",
        "tx-checker-plugin",
        &component("wasi_http_checker"),
    );
    // The service is reachable, but not on the allowlist: only another path is.
    api.bind(&json!({
        "name": "shop-checker",
        "module": "checker",
        "target": {"kind": "tx-checker", "topic": "shop"},
        "config": format!("{}{{transaction}}", service.prefix()),
        "grants": {"http_allowlist": [service.prefix().replace("/tx/", "/other/")]},
    }));
    service.decide("tx-denied-1", Decision::Commit);
    send_half(&api, "shop", "tx-denied-1");

    let status = eventually("the request is refused", WAIT, || {
        let status = api.binding("shop-checker");
        (counter(&status, "http_failures") >= 1).then_some(status)
    });
    assert_eq!(counter(&status, "http_requests"), 0, "{status}");
    assert_eq!(counter(&status, "commits"), 0, "{status}");
    assert!(
        service.requests().is_empty(),
        "the broker never reached the service: {:?}",
        service.requests()
    );
    let listed = expect(api.get("/v1/transactions"), 200, "list transactions");
    assert_eq!(
        listed["transactions"][0]["transaction"], "tx-denied-1",
        "{listed}"
    );
    assert_eq!(
        run_state(&status),
        "running",
        "a refusal is not a failure of the plugin"
    );
}

/// The names of the modules `GET /v1/modules` lists, with their version.
fn listed_modules(api: &Api) -> Vec<(String, u64)> {
    let listed = expect(api.get("/v1/modules"), 200, "list modules");
    let mut modules: Vec<_> = listed["modules"]
        .as_array()
        .unwrap_or_else(|| panic!("a module list: {listed}"))
        .iter()
        .map(|m| {
            (
                m["name"].as_str().expect("a name").to_owned(),
                m["version"].as_u64().expect("a version"),
            )
        })
        .collect();
    modules.sort();
    modules
}

#[test]
fn modules_and_bindings_are_listed_described_and_deleted_only_when_unused() {
    let broker = start();
    let api = broker.api();
    api.create_topic("events", 1);
    let bytes = component("ack_all");
    let first = api.upload_new("acker", "consumer", &bytes);
    assert_eq!(first["world"], "consumer-plugin", "{first}");
    assert_eq!(first["size"], bytes.len() as u64, "{first}");
    let sha = first["sha256"].as_str().expect("a sha256");
    assert_eq!(sha.len(), 64, "{first}");
    // The same bytes again: the existing version, 200.
    let again = expect(
        api.upload("acker", "consumer-plugin", &bytes),
        200,
        "same upload",
    );
    assert_eq!(again["version"], 1, "{again}");
    assert_eq!(again["sha256"], sha, "{again}");
    api.upload_new("dedup", "dedup-filter", &component("json_dedup"));
    assert_eq!(
        listed_modules(&api),
        vec![("acker".to_owned(), 1), ("dedup".to_owned(), 1)]
    );

    let described = expect(api.get("/v1/modules/acker"), 200, "describe module");
    assert_eq!(described["name"], "acker", "{described}");
    assert_eq!(described["world"], "consumer-plugin", "{described}");
    let versions = described["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1, "{described}");
    let version = &versions[0];
    assert_eq!(version["sha256"], sha, "{described}");
    assert!(version["error"].is_null(), "{described}");
    assert!(
        version["exports"].as_array().is_some_and(|e| e
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.contains("consumer")))),
        "the consumer interface is exported: {described}"
    );
    assert_error(&api.get("/v1/modules/missing"), 404, "MODULE_NOT_FOUND");

    let bound = api.bind(&json!({
        "name": "events-acker",
        "module": "acker",
        "target": {"kind": "consumer", "topic": "events", "group": "ackers"},
        "config": "acked",
    }));
    assert_eq!(bound["version"], Value::Null, "follows the newest: {bound}");
    assert_eq!(bound["run"]["state"], "running", "{bound}");
    assert_error(
        &api.post(
            "/v1/bindings",
            &json!({
                "name": "events-acker",
                "module": "acker",
                "target": {"kind": "consumer", "topic": "events", "group": "ackers"},
            }),
        ),
        409,
        "BINDING_EXISTS",
    );
    for i in 0..5 {
        api.send_message("events", &json!({ "body": format!("event {i}") }));
    }
    eventually("the binding acks the events", WAIT, || {
        (counter(&api.binding("events-acker"), "acked") == 5).then_some(())
    });

    let listed = expect(api.get("/v1/bindings"), 200, "list bindings");
    let bindings = listed["bindings"].as_array().expect("bindings");
    assert_eq!(bindings.len(), 1, "{listed}");
    assert_eq!(bindings[0]["config"]["name"], "events-acker", "{listed}");
    let status = api.binding("events-acker");
    assert_eq!(status["module_version"], 1, "{status}");
    assert_eq!(status["state_entries"], 1, "the counter key: {status}");
    assert_eq!(counter(&status, "messages"), 5, "{status}");
    assert_error(&api.get("/v1/bindings/missing"), 404, "BINDING_NOT_FOUND");

    let overview = expect(api.get("/v1/status"), 200, "status");
    assert!(overview["uptime_ms"].is_u64(), "{overview}");
    assert_eq!(overview["modules"].as_array().map(Vec::len), Some(2));
    assert_eq!(overview["bindings"].as_array().map(Vec::len), Some(1));
    assert_eq!(overview["bindings"][0]["config"]["name"], "events-acker");

    // Pause and resume answer the status.
    let paused = expect(
        api.call("POST", "/v1/bindings/events-acker/pause"),
        200,
        "pause",
    );
    assert_eq!(run_state(&paused), "paused");
    let resumed = expect(
        api.call("POST", "/v1/bindings/events-acker/resume"),
        200,
        "resume",
    );
    assert_eq!(run_state(&resumed), "running");

    // In use: refused, whole module or its version.
    assert_error(&api.delete("/v1/modules/acker"), 409, "MODULE_IN_USE");
    assert_error(
        &api.delete("/v1/modules/acker?version=1"),
        409,
        "MODULE_IN_USE",
    );
    assert_eq!(listed_modules(&api).len(), 2);

    let unbound = api.delete("/v1/bindings/events-acker");
    assert_eq!(unbound.status, 204, "{}", unbound.text());
    assert_error(
        &api.delete("/v1/bindings/events-acker"),
        404,
        "BINDING_NOT_FOUND",
    );
    let deleted = api.delete("/v1/modules/acker");
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert_error(&api.get("/v1/modules/acker"), 404, "MODULE_NOT_FOUND");
    assert_eq!(listed_modules(&api), vec![("dedup".to_owned(), 1)]);
    let deleted = api.delete("/v1/modules/dedup?version=1");
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert!(listed_modules(&api).is_empty());
}

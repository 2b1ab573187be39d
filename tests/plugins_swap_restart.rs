//! Hot swaps and restarts of a consumer plugin through the real broker binary.
//!
//! A `forwarder` binding consumes topic `in` and publishes every message to topic `out`
//! with the original id as a property, acking it once published. So `out` records what
//! the binding processed: each original id exactly once means nothing was lost and
//! nothing was handed to two module versions.
//!
//! * Under a continuous producer, new versions of the module (the same component with a
//!   custom section appended: other bytes, the same behaviour) are uploaded and the
//!   binding is changed (a new config); every message sent is forwarded exactly once, the
//!   binding follows the newest version, and messages sent after the change carry its
//!   new property.
//! * After a clean restart (SIGTERM) and after `kill -9`, the modules and the binding
//!   come back and keep forwarding; the modules are loaded from their precompiled
//!   artifacts (no recompilation logged, artifact hashes and compile times unchanged).
//!
//! The broker runs with `--flush sync`, so an ack answered is on disk: a `kill -9` while
//! the binding is idle cannot make it forward a message again.

use crate::support;
use crate::support::plugins as plugins_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use plugins_support::{
    Api, WAIT, component, counter, eventually, expect, run_state, with_custom_section,
};
use serde_json::{Value, json};
use support::{Broker, RawRequest};

/// Messages the producer sends during the swaps.
const UNDER_LOAD: usize = 600;

/// Messages sent after each restart.
const AFTER_RESTART: usize = 50;

/// The property the forwarder records the original id in.
const ORIGIN: &str = "forwarded-from";

/// Bound on the producer.
const PRODUCER_LIMIT: Duration = Duration::from_secs(180);

/// Invisible time of the binding's group: longer than [`WAIT`]. A rebind stops the
/// binding's tasks at a batch boundary; a batch it took but dropped (instead of handling
/// it) would stay invisible this long, so the test would see it missing.
const INVISIBLE_MS: u64 = 120_000;

/// The log line of a module that had to be compiled again at start.
const RECOMPILED: &str = "compiling again";

/// The forwarder config, with `stage` as an added property when given.
fn forwarder_config(stage: Option<&str>) -> String {
    let mut config = json!({"to": "out", "origin_property": ORIGIN});
    if let Some(stage) = stage {
        config["add_properties"] = json!({ "stage": stage });
    }
    config.to_string()
}

fn binding_spec(stage: Option<&str>) -> Value {
    json!({
        "name": "in-to-out",
        "module": "fw",
        "target": {"kind": "consumer", "topic": "in", "group": "forwarders",
                   "batch_size": 16, "concurrency": 2},
        "config": forwarder_config(stage),
        "grants": {"publish": true},
    })
}

/// The binding's group, created before the binding so that its invisible time is
/// [`INVISIBLE_MS`].
fn create_group(api: &Api) {
    api.create_group(&json!({"name": "forwarders", "topic": "in", "invisible_ms": INVISIBLE_MS}));
}

/// Per original id, the forwarded copies in `out`.
fn forwarded(api: &Api) -> HashMap<String, Vec<Value>> {
    let mut copies: HashMap<String, Vec<Value>> = HashMap::new();
    for message in api.read_topic("out") {
        let origin = message["properties"][ORIGIN]
            .as_str()
            .unwrap_or_else(|| panic!("a forwarded message names its origin: {message}"))
            .to_owned();
        copies.entry(origin).or_default().push(message);
    }
    copies
}

/// Waits until every id of `sent` is in `out`, then checks each is there exactly once
/// and nothing else is.
#[track_caller]
fn assert_forwarded_once(api: &Api, sent: &[String]) -> HashMap<String, Vec<Value>> {
    let copies = eventually("every message is forwarded", WAIT, || {
        let copies = forwarded(api);
        sent.iter()
            .all(|id| copies.contains_key(id))
            .then_some(copies)
    });
    eventually("the group has no lag", WAIT, || {
        (api.lag("forwarders") == 0).then_some(())
    });
    // Read again once idle: a duplicate published late would show now.
    let copies_now = forwarded(api);
    assert_eq!(copies_now.len(), copies.len().max(copies_now.len()));
    let duplicates: Vec<_> = copies_now
        .iter()
        .filter(|(_, copies)| copies.len() > 1)
        .map(|(id, copies)| (id.clone(), copies.len()))
        .collect();
    assert!(
        duplicates.is_empty(),
        "forwarded more than once: {duplicates:?}"
    );
    assert_eq!(
        copies_now.len(),
        sent.len(),
        "only messages that were sent are forwarded"
    );
    for id in sent {
        assert!(copies_now.contains_key(id), "{id} was not forwarded");
    }
    copies_now
}

/// Sends `n` messages to `in`; answers their ids.
fn send_batch(api: &Api, label: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let answer = api.send_message("in", &json!({ "body": format!("{label} {i}") }));
            answer["id"].as_str().expect("an id").to_owned()
        })
        .collect()
}

/// Per module version, `(sha256, artifact_sha256, compile_ms)`.
fn module_versions(api: &Api) -> Vec<(u64, String, String, u64)> {
    let described = expect(api.get("/v1/modules/fw"), 200, "describe module");
    let mut versions: Vec<_> = described["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("versions: {described}"))
        .iter()
        .map(|v| {
            assert!(v["error"].is_null(), "version loads: {v}");
            (
                v["version"].as_u64().expect("version"),
                v["sha256"].as_str().expect("sha256").to_owned(),
                v["artifact_sha256"]
                    .as_str()
                    .expect("artifact_sha256")
                    .to_owned(),
                v["compile_ms"].as_u64().expect("compile_ms"),
            )
        })
        .collect();
    versions.sort();
    versions
}

/// Sends continuously to `in` from another thread until `count` messages are sent.
struct Producer {
    sent: Arc<Mutex<Vec<(String, Instant)>>>,
    progress: Arc<AtomicUsize>,
    failed: Arc<AtomicBool>,
    thread: thread::JoinHandle<Result<(), String>>,
}

impl Producer {
    fn start(addr: SocketAddr, count: usize) -> Producer {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let progress = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicBool::new(false));
        let thread = {
            let (sent, progress, failed) = (
                Arc::clone(&sent),
                Arc::clone(&progress),
                Arc::clone(&failed),
            );
            thread::spawn(move || {
                let deadline = Instant::now() + PRODUCER_LIMIT;
                let result = (|| {
                    for i in 0..count {
                        if Instant::now() > deadline {
                            return Err(format!("only {i} of {count} sent in time"));
                        }
                        let started = Instant::now();
                        let body = json!({ "body": format!("under load {i}") }).to_string();
                        let answer = RawRequest::new("POST", "/v1/topics/in/messages")
                            .json(&body)
                            .send(addr)
                            .map_err(|err| format!("send {i}: {err}"))?;
                        if answer.status != 200 {
                            return Err(format!("send {i}: {} {}", answer.status, answer.text()));
                        }
                        let id = answer.json()["id"]
                            .as_str()
                            .ok_or_else(|| format!("send {i} answered no id"))?
                            .to_owned();
                        sent.lock().unwrap().push((id, started));
                        progress.store(i + 1, Ordering::Release);
                    }
                    Ok(())
                })();
                if result.is_err() {
                    failed.store(true, Ordering::Release);
                }
                result
            })
        };
        Producer {
            sent,
            progress,
            failed,
            thread,
        }
    }

    /// Waits until at least `n` messages are sent.
    fn wait_for(&self, n: usize) {
        eventually(&format!("{n} messages sent"), WAIT, || {
            assert!(!self.failed.load(Ordering::Acquire), "the producer failed");
            (self.progress.load(Ordering::Acquire) >= n).then_some(())
        });
    }

    fn finish(self) -> Vec<(String, Instant)> {
        self.thread
            .join()
            .expect("the producer thread")
            .unwrap_or_else(|err| panic!("the producer failed: {err}"));
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

#[test]
fn hot_swaps_under_load_and_restarts_lose_and_duplicate_nothing() {
    let mut broker = Broker::start(&["--flush", "sync"]);
    let api = Api::new(broker.addr());
    api.create_topic("in", 4);
    api.create_topic("out", 2);
    create_group(&api);
    let original = component("forwarder");
    let v1 = api.upload_new("fw", "consumer-plugin", &original);
    assert_eq!(v1["version"], 1, "{v1}");
    api.bind(&binding_spec(None));

    let producer = Producer::start(broker.addr(), UNDER_LOAD);
    producer.wait_for(UNDER_LOAD / 4);
    let v2 = api.upload_new(
        "fw",
        "consumer-plugin",
        &with_custom_section(&original, "weir-test-variant", b"2"),
    );
    assert_eq!(v2["version"], 2, "{v2}");
    producer.wait_for(UNDER_LOAD / 2);
    let rebound = api.rebind("in-to-out", &binding_spec(Some("two")));
    assert_eq!(
        rebound["config"],
        forwarder_config(Some("two")),
        "{rebound}"
    );
    let rebound_at = Instant::now();
    producer.wait_for(3 * UNDER_LOAD / 4);
    let v3 = api.upload_new(
        "fw",
        "consumer-plugin",
        &with_custom_section(&original, "weir-test-variant", b"3"),
    );
    assert_eq!(v3["version"], 3, "{v3}");
    let sent = producer.finish();
    assert_eq!(sent.len(), UNDER_LOAD);

    let ids: Vec<String> = sent.iter().map(|(id, _)| id.clone()).collect();
    let copies = assert_forwarded_once(&api, &ids);
    // Sent after the rebind answered: handled with the new config.
    for (id, started) in &sent {
        if *started > rebound_at {
            let message = &copies[id][0];
            assert_eq!(
                message["properties"]["stage"], "two",
                "a message sent after the rebind is handled with the new config: {message}"
            );
        }
    }
    let status = api.binding("in-to-out");
    assert_eq!(status["module_version"], 3, "follows the newest: {status}");
    assert_eq!(run_state(&status), "running");
    assert_eq!(counter(&status, "failed_calls"), 0, "{status}");
    assert_eq!(counter(&status, "retried"), 0, "{status}");
    assert_eq!(counter(&status, "published"), UNDER_LOAD as u64, "{status}");
    let versions = module_versions(&api);
    assert_eq!(
        versions.iter().map(|v| v.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );

    // A clean restart.
    let mut all = ids;
    assert!(broker.stop().success(), "a clean stop");
    broker.restart();
    let api = Api::new(broker.addr());
    assert_eq!(module_versions(&api), versions, "loaded as they were");
    let status = api.binding("in-to-out");
    assert_eq!(run_state(&status), "running", "{status}");
    assert_eq!(status["module_version"], 3, "{status}");
    all.extend(send_batch(&api, "after a restart", AFTER_RESTART));
    assert_forwarded_once(&api, &all);

    // kill -9 while idle (everything acked, on disk with sync flush), then start.
    broker.kill_9();
    broker.restart();
    let api = Api::new(broker.addr());
    assert_eq!(module_versions(&api), versions, "loaded as they were");
    assert_eq!(run_state(&api.binding("in-to-out")), "running");
    all.extend(send_batch(&api, "after kill -9", AFTER_RESTART));
    let copies = assert_forwarded_once(&api, &all);
    for id in &all[UNDER_LOAD..] {
        assert_eq!(copies[id][0]["properties"]["stage"], "two");
    }

    // The modules came back from their precompiled artifacts each time.
    let log = broker.log();
    assert!(
        !log.contains(RECOMPILED),
        "a module was compiled again at start:\n{log}"
    );
    let starts: Vec<&str> = log.split("--- broker start #").skip(1).collect();
    assert_eq!(starts.len(), 3);
    for start in &starts {
        assert!(
            start.contains("plugin host opened"),
            "every start opens the plugin host:\n{start}"
        );
    }
}

#[test]
fn a_removed_artifact_is_compiled_again_at_start() {
    let mut broker = Broker::start(&[]);
    let api = Api::new(broker.addr());
    api.create_topic("in", 1);
    api.create_topic("out", 1);
    create_group(&api);
    api.upload_new("fw", "consumer-plugin", &component("forwarder"));
    api.bind(&binding_spec(None));
    let before = module_versions(&api);
    assert!(broker.stop().success(), "a clean stop");

    // The precompiled artifact is gone; the uploaded component is still there.
    let data = broker.data_dir();
    let mut removed = 0;
    for entry in walk(&data) {
        if entry.extension().is_some_and(|e| e == "cwasm") {
            std::fs::remove_file(&entry).expect("remove the artifact");
            removed += 1;
        }
    }
    assert_eq!(removed, 1, "one artifact under {}", data.display());
    broker.restart();
    let api = Api::new(broker.addr());
    let after = module_versions(&api);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].1, before[0].1, "the same component");
    let log = broker.log();
    assert!(
        log.contains(RECOMPILED),
        "the recompilation is logged:\n{log}"
    );
    let sent = send_batch(&api, "after recompiling", 5);
    assert_forwarded_once(&api, &sent);
}

/// Every file under `dir`, recursively.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

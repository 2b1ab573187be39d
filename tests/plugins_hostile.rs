//! Hostile consumer plugins through the real broker binary: a module that spins past its
//! deadline, one that allocates past its memory cap, one that traps, and one that answers
//! far too many outcomes. Each is bound as the consumer of its own group while an
//! external producer and consumer keep using another topic.
//!
//! For each: the other topic is served throughout (every request answers, every message
//! sent there is received); the hostile binding ends quarantined, and says so in
//! `GET /v1/bindings/{name}`, `GET /v1/status` and `/metrics`; once resumed, its group's
//! attempts run out and every one of its messages ends in the group's dead-letter queue,
//! with a reason saying what the plugin did (trapped, with its panic message; timed out;
//! hit its memory cap; answered the wrong number of outcomes).
//! The broker stays up.
//!
//! Nothing asserts how fast the broker is: waits are bounded polling loops.

use crate::support;
use crate::support::plugins as plugins_support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use plugins_support::{
    Api, WAIT, binding_samples, component, counter, eventually, expect, run_state, sample_value,
};
use serde_json::{Value, json};
use support::{Broker, RawRequest, get};

/// Messages sent to the hostile binding's topic.
const HOSTILE_MESSAGES: usize = 3;

/// Deliveries before the hostile group dead-letters a message.
const MAX_ATTEMPTS: u32 = 2;

/// Bound on the background traffic: it stops by then whatever happens.
const TRAFFIC_LIMIT: Duration = Duration::from_secs(180);

/// Long-poll wait of one receive of the external consumer.
const RECEIVE_WAIT_MS: u64 = 200;

/// Pause between two sends of the external producer.
const SEND_PAUSE: Duration = Duration::from_millis(5);

/// A hostile module and how it is bound.
struct Hostile {
    /// The component file (without `.wasm`).
    component: &'static str,
    /// The binding's config string.
    config: &'static str,
    /// The binding's call deadline, if not the default.
    deadline_ms: Option<u64>,
    /// The binding's memory cap, if not the default.
    memory_bytes: Option<u64>,
    /// Failure counters of which at least one must move.
    failures: &'static [&'static str],
    /// What a dead letter's reason may start with (one of them).
    reasons: &'static [&'static str],
    /// What it must contain besides, if anything.
    reason_contains: Option<&'static str>,
}

/// What the external producer and consumer did.
#[derive(Default)]
struct Record {
    sent: Vec<String>,
    received: HashMap<String, u32>,
    errors: Vec<String>,
    sends: u64,
    receives: u64,
}

/// A producer and a consumer using the healthy topic in the background.
struct Traffic {
    record: Arc<Mutex<Record>>,
    stop_sending: Arc<AtomicBool>,
    stop_receiving: Arc<AtomicBool>,
    producer: JoinHandle<()>,
    consumer: JoinHandle<()>,
}

fn post(addr: SocketAddr, path: &str, body: &Value) -> Result<Value, String> {
    let answer = RawRequest::new("POST", path)
        .json(&body.to_string())
        .send(addr)
        .map_err(|err| format!("POST {path}: {err}"))?;
    if answer.status != 200 {
        return Err(format!("POST {path}: {} {}", answer.status, answer.text()));
    }
    serde_json::from_slice(&answer.body).map_err(|err| format!("POST {path}: {err}"))
}

impl Traffic {
    fn start(addr: SocketAddr, topic: &str, group: &str) -> Traffic {
        let record = Arc::new(Mutex::new(Record::default()));
        let stop_sending = Arc::new(AtomicBool::new(false));
        let stop_receiving = Arc::new(AtomicBool::new(false));
        let producer = {
            let (record, stop) = (Arc::clone(&record), Arc::clone(&stop_sending));
            let path = format!("/v1/topics/{topic}/messages");
            thread::spawn(move || {
                let deadline = Instant::now() + TRAFFIC_LIMIT;
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let sent = post(addr, &path, &json!({"body": format!("healthy {i}")}));
                    let mut record = record.lock().unwrap();
                    record.sends += 1;
                    match sent {
                        Ok(answer) => match answer["id"].as_str() {
                            Some(id) => record.sent.push(id.to_owned()),
                            None => record.errors.push(format!("a send without id: {answer}")),
                        },
                        Err(err) => record.errors.push(err),
                    }
                    drop(record);
                    i += 1;
                    thread::sleep(SEND_PAUSE);
                }
            })
        };
        let consumer = {
            let (record, stop) = (Arc::clone(&record), Arc::clone(&stop_receiving));
            let (receive, ack) = (
                format!("/v1/groups/{group}/receive"),
                format!("/v1/groups/{group}/ack"),
            );
            thread::spawn(move || {
                let deadline = Instant::now() + TRAFFIC_LIMIT;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let batch = post(
                        addr,
                        &receive,
                        &json!({"max": 64, "wait_ms": RECEIVE_WAIT_MS}),
                    );
                    let mut receipts = Vec::new();
                    {
                        let mut record = record.lock().unwrap();
                        record.receives += 1;
                        match batch {
                            Ok(batch) => {
                                for message in batch["messages"].as_array().into_iter().flatten() {
                                    let id = message["id"].as_str().unwrap_or_default();
                                    *record.received.entry(id.to_owned()).or_default() += 1;
                                    receipts.push(message["receipt"].clone());
                                }
                            }
                            Err(err) => record.errors.push(err),
                        }
                    }
                    if receipts.is_empty() {
                        continue;
                    }
                    let acked = post(addr, &ack, &json!({ "receipts": receipts }));
                    let mut record = record.lock().unwrap();
                    match acked {
                        Ok(answer) if answer["acked"] == receipts.len() => {}
                        Ok(answer) => record.errors.push(format!("ack: {answer}")),
                        Err(err) => record.errors.push(err),
                    }
                }
            })
        };
        Traffic {
            record,
            stop_sending,
            stop_receiving,
            producer,
            consumer,
        }
    }

    /// Stops the producer, lets the consumer receive everything sent, stops it, and
    /// answers what happened.
    fn finish(self) -> Record {
        self.stop_sending.store(true, Ordering::Relaxed);
        self.producer.join().expect("the producer thread");
        let record = Arc::clone(&self.record);
        let drained = {
            let deadline = Instant::now() + WAIT;
            loop {
                let done = {
                    let record = record.lock().unwrap();
                    !record.errors.is_empty()
                        || record
                            .sent
                            .iter()
                            .all(|id| record.received.contains_key(id))
                };
                if done || Instant::now() >= deadline {
                    break done;
                }
                thread::sleep(Duration::from_millis(25));
            }
        };
        self.stop_receiving.store(true, Ordering::Relaxed);
        self.consumer.join().expect("the consumer thread");
        let record = std::mem::take(&mut *self.record.lock().unwrap());
        assert!(
            drained,
            "the consumer did not receive every message of the healthy topic within {WAIT:?}"
        );
        record
    }
}

/// Binds `hostile` as the consumer of its own group and checks that it is contained.
fn a_hostile_consumer_is_contained(hostile: &Hostile) {
    let broker = Broker::start(&[]);
    let api = Api::new(broker.addr());
    api.create_topic("healthy", 2);
    api.create_group(&json!({"name": "healthy-readers", "topic": "healthy"}));
    api.create_topic("hostile", 1);
    api.create_group(&json!({
        "name": "hostile-group",
        "topic": "hostile",
        "max_attempts": MAX_ATTEMPTS,
        "backoff_ms": [10],
    }));
    let module = hostile.component.replace('_', "-");
    api.upload_new(&module, "consumer-plugin", &component(hostile.component));

    let traffic = Traffic::start(broker.addr(), "healthy", "healthy-readers");

    let mut spec = json!({
        "name": "hostile-binding",
        "module": module,
        "target": {"kind": "consumer", "topic": "hostile", "group": "hostile-group",
                   "batch_size": 1, "concurrency": 1},
        "config": hostile.config,
    });
    if let Some(deadline) = hostile.deadline_ms {
        spec["deadline_ms"] = json!(deadline);
    }
    if let Some(memory) = hostile.memory_bytes {
        spec["memory_bytes"] = json!(memory);
    }
    api.bind(&spec);
    let mut hostile_ids = HashSet::new();
    for i in 0..HOSTILE_MESSAGES {
        let answer = api.send_message("hostile", &json!({ "body": format!("victim {i}") }));
        hostile_ids.insert(answer["id"].as_str().expect("an id").to_owned());
    }

    // Quarantined after failing call after call.
    let status = eventually("the hostile binding is quarantined", WAIT, || {
        let status = api.binding("hostile-binding");
        (run_state(&status) == "quarantined").then_some(status)
    });
    let error = status["config"]["run"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(!error.is_empty(), "quarantine says why: {status}");
    assert!(status["last_error"].is_string(), "{status}");
    assert!(counter(&status, "failed_calls") >= 1, "{status}");
    assert_eq!(
        counter(&status, "acked"),
        0,
        "no failed call acks: {status}"
    );
    let failures: u64 = hostile
        .failures
        .iter()
        .map(|name| counter(&status, name))
        .sum();
    assert!(
        failures >= 1,
        "one of {:?} counts the failures: {status}",
        hostile.failures
    );
    let overview = expect(api.get("/v1/status"), 200, "status");
    let listed = overview["bindings"]
        .as_array()
        .and_then(|bindings| {
            bindings
                .iter()
                .find(|b| b["config"]["name"] == "hostile-binding")
        })
        .unwrap_or_else(|| panic!("the status lists the binding: {overview}"));
    assert_eq!(run_state(listed), "quarantined", "{overview}");
    let metrics = api.metrics();
    let states: Vec<(&str, f64)> = binding_samples(&metrics, "hostile-binding")
        .into_iter()
        .filter(|line| line.starts_with("weir_binding_state{"))
        .map(|line| {
            let state = ["running", "paused", "quarantined"]
                .into_iter()
                .find(|state| line.contains(&format!("state=\"{state}\"")))
                .unwrap_or_else(|| panic!("an unknown state: {line}"));
            (state, sample_value(line))
        })
        .collect();
    assert!(
        states.contains(&("quarantined", 1.0))
            && states
                .iter()
                .all(|(state, value)| *state == "quarantined" || *value == 0.0),
        "/metrics shows the quarantine: {states:?}\n{metrics}"
    );

    // Resumed, it fails the rest of its messages' attempts: all end dead-lettered.
    let resumed = expect(
        api.call("POST", "/v1/bindings/hostile-binding/resume"),
        200,
        "resume",
    );
    // Resuming clears the quarantine (the binding may have failed again since).
    assert_eq!(run_state(&resumed), "running", "{resumed}");
    let dead = eventually("every hostile message is dead-lettered", WAIT, || {
        let dead = api.dead_letters("hostile-group");
        (dead.len() >= HOSTILE_MESSAGES).then_some(dead)
    });
    let dead_ids: HashSet<String> = dead
        .iter()
        .map(|d| {
            d["original_id"]
                .as_str()
                .expect("an original id")
                .to_owned()
        })
        .collect();
    assert_eq!(dead_ids, hostile_ids, "{dead:#?}");
    assert_eq!(dead.len(), HOSTILE_MESSAGES, "each dead-lettered once");
    for letter in &dead {
        assert_eq!(letter["attempts"], MAX_ATTEMPTS, "{letter}");
        // The reason says what the plugin did on the last attempt.
        let reason = letter["reason"].as_str().expect("a reason");
        assert!(
            hostile
                .reasons
                .iter()
                .any(|start| reason.starts_with(start)),
            "the reason starts with one of {:?}: {letter}",
            hostile.reasons
        );
        if let Some(part) = hostile.reason_contains {
            assert!(reason.contains(part), "the reason has {part:?}: {letter}");
        }
        assert!(
            !reason.contains('\n') && reason.len() <= 1024,
            "one bounded line: {letter}"
        );
    }
    eventually("the hostile group has no lag", WAIT, || {
        (api.lag("hostile-group") == 0).then_some(())
    });

    // The healthy topic was served throughout.
    let record = traffic.finish();
    assert!(
        record.errors.is_empty(),
        "requests on the healthy topic failed: {:#?}",
        record.errors
    );
    assert!(
        !record.sent.is_empty(),
        "the producer sent while the hostile binding ran"
    );
    let sent: HashSet<&String> = record.sent.iter().collect();
    for id in &record.sent {
        assert!(record.received.contains_key(id), "{id} was never received");
    }
    for id in record.received.keys() {
        assert!(sent.contains(id), "received {id}, which was never sent");
    }
    assert_eq!(api.lag("healthy-readers"), 0);
    let health = get(broker.addr(), "/healthz").expect("/healthz");
    assert_eq!(health.status, 200, "{}", health.text());
    eprintln!(
        "{}: {} sends and {} receives on the healthy topic",
        hostile.component, record.sends, record.receives
    );
}

#[test]
fn a_consumer_spinning_past_its_deadline_is_contained() {
    a_hostile_consumer_is_contained(&Hostile {
        component: "spin",
        config: "",
        deadline_ms: Some(200),
        memory_bytes: None,
        failures: &["timeouts"],
        reasons: &["plugin timed out after 200 ms"],
        reason_contains: None,
    });
}

#[test]
fn a_consumer_allocating_past_its_memory_cap_is_contained() {
    a_hostile_consumer_is_contained(&Hostile {
        component: "memory_bomb",
        config: "",
        deadline_ms: None,
        memory_bytes: Some(8 << 20),
        failures: &["memory_limits", "traps"],
        reasons: &["plugin memory cap of 8 MiB exceeded"],
        reason_contains: None,
    });
}

#[test]
fn a_trapping_consumer_is_contained() {
    a_hostile_consumer_is_contained(&Hostile {
        component: "trap",
        config: "panic",
        deadline_ms: None,
        memory_bytes: None,
        failures: &["traps"],
        reasons: &["plugin trapped: "],
        // The panic message, read from the guest's standard error.
        reason_contains: Some("trap plugin, config \"panic\": trapping on purpose"),
    });
}

#[test]
fn a_consumer_answering_a_million_outcomes_is_contained() {
    a_hostile_consumer_is_contained(&Hostile {
        component: "oversized",
        config: "huge",
        deadline_ms: None,
        memory_bytes: None,
        failures: &["wrong_lengths", "memory_limits"],
        reasons: &[
            "plugin answered 1048576 outcomes for 1 messages",
            "plugin memory cap",
        ],
        reason_contains: None,
    });
}

#[test]
fn a_consumer_answering_one_outcome_too_many_is_contained() {
    a_hostile_consumer_is_contained(&Hostile {
        component: "oversized",
        config: "long",
        deadline_ms: None,
        memory_bytes: None,
        failures: &["wrong_lengths"],
        reasons: &["plugin answered 2 outcomes for 1 messages"],
        reason_contains: None,
    });
}

#[test]
fn a_consumer_answering_one_outcome_too_few_is_contained() {
    a_hostile_consumer_is_contained(&Hostile {
        component: "oversized",
        config: "short",
        deadline_ms: None,
        memory_bytes: None,
        failures: &["wrong_lengths"],
        reasons: &["plugin answered 0 outcomes for 1 messages"],
        reason_contains: None,
    });
}

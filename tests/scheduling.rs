//! Delayed messages, transactions and idempotent sends through the real broker binary, as
//! `docs/scheduling.md` and `docs/http-api.md` describe them.
//!
//! * Delays of 300–1500 ms in every form (`weir-delay-ms`, `weir-deliver-at`,
//!   `weir-delay-level`, and the JSON fields) are never delivered early: the broker's
//!   `store_ms` of the delivered copy, and the time a consumer group's receive answers it,
//!   are at or after the `deliver_at` the send was answered. Lateness is only bounded loosely: everything
//!   arrives before a generous deadline.
//! * The 18 delay levels answer a `deliver_at` of the level's delay after the send (within
//!   the send's own before/after timestamps); level 1 is delivered.
//! * `GET /v1/messages/{id}` shows a delayed message as scheduled with its due time, then
//!   as stored once delivered; a cancelled message never arrives (a later one does), and
//!   a cancel of anything not waiting is `404 NOT_SCHEDULED`; delays over the maximum,
//!   the default and a configured one, are `400`.
//! * Transactions against a check-back callback served by the test: explicit commit and
//!   rollback, check-backs answered commit, unknown-then-commit and rollback, the
//!   producers' long poll for groups without a callback, parking after `tx_max_checks`
//!   and resuming; a consumer group running throughout never sees a rolled-back or
//!   undecided message.
//! * Idempotent sends: a repeated `weir-message-id` is stored once and answered with the
//!   original result, also when the repeats race each other.
//!
//! Nothing asserts how fast the broker is: waits are long polls or bounded polling loops
//! with deadlines; "not early" compares broker timestamps, allowing
//! [`CLOCK_GRANULARITY_MS`].

use crate::support;
use crate::support::scheduling as sched;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sched::{
    CLOCK_GRANULARITY_MS, CallbackServer, ConfiguredBroker, Reply, api_code, copies_by_id,
    eventually, now_ms, read_topic,
};
use serde_json::Value;
use support::{Broker, RawRequest, RawResponse, assert_error};
use weir_client::{
    Client, Delay, MessageState, NewGroup, OutgoingMessage, ReceiveOptions, SendOutcome,
    SendStatus, TransactionState,
};

/// RocketMQ's delay levels 1–18, in ms (`docs/scheduling.md`).
const LEVEL_MS: [i64; 18] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000,
    480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];

/// The default longest delay: 40 days.
const DEFAULT_MAX_DELAY_MS: i64 = 40 * 24 * 3_600_000;

/// A check-back delay no test waits for: transactions sent with it are decided by the
/// test (or stay undecided) without a check-back.
const NO_CHECK_MS: u64 = 600_000;

/// Check-backs fast enough for a test: 200 ms after the send, then every 200 ms.
const FAST_CHECKS: &str = "tx_check_after_ms = 200\ntx_check_interval_ms = 200";

/// Bound on every wait for a delivery, a decision or a state change.
const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// Long-poll wait of one receive of a consumer.
const RECEIVE_WAIT_MS: u64 = 200;

fn messages_path(topic: &str) -> String {
    format!("/v1/topics/{topic}/messages")
}

/// A raw-form send with `headers`; panics when the exchange itself fails.
fn raw_send(broker: &Broker, topic: &str, headers: &[(&str, String)], body: &str) -> RawResponse {
    let mut request = RawRequest::new("POST", &messages_path(topic));
    for (name, value) in headers {
        request = request.header(name, value.as_bytes());
    }
    request
        .body(body.as_bytes().to_vec())
        .send(broker.addr())
        .expect("raw send")
}

/// A JSON-form send of `body` (a JSON object); panics when the exchange itself fails.
fn json_send(broker: &Broker, topic: &str, body: &str) -> RawResponse {
    RawRequest::new("POST", &messages_path(topic))
        .json(body)
        .send(broker.addr())
        .expect("JSON send")
}

fn raw_post(broker: &Broker, path: &str) -> RawResponse {
    RawRequest::new("POST", path)
        .send(broker.addr())
        .expect("raw POST")
}

/// The `deliver_at` of a scheduled send's answer, checking its shape: no queue and offset.
#[track_caller]
fn scheduled_at(answer: &RawResponse, id: &str) -> i64 {
    assert_eq!(answer.status, 200, "send of {id}: {}", answer.text());
    let body = answer.json();
    assert_eq!(body["id"], id, "{body}");
    assert_eq!(body["status"], "SEND_OK", "{body}");
    assert!(
        body.get("queue").is_none() && body.get("offset").is_none(),
        "a scheduled send answers no queue or offset: {body}"
    );
    body["deliver_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("a scheduled send answers deliver_at: {body}"))
}

/// Checks a relative delay's answered time: `delay` after the moment the broker took the
/// send, which lies between the client's `before` and `after`.
#[track_caller]
fn assert_relative(deliver_at: i64, before: i64, after: i64, delay: i64, what: &str) {
    assert!(
        before + delay <= deliver_at && deliver_at <= after + delay,
        "{what}: deliver_at {deliver_at} is not {delay} ms after the send \
         (sent between {before} and {after})"
    );
}

/// Cancels `id`, due at `deliver_at`. The cancel must succeed when the client's clock
/// after the answer is still before the due time (so the broker's was too); otherwise the
/// message may have been delivered first and `404 NOT_SCHEDULED` is allowed. Returns
/// whether it was cancelled.
async fn cancel_if_pending(client: &Client, id: &str, deliver_at: i64) -> bool {
    let result = client.cancel(id).await;
    let answered = now_ms();
    match result {
        Ok(cancelled) => {
            assert_eq!(
                (cancelled.id.as_str(), cancelled.deliver_at, cancelled.state),
                (id, deliver_at, MessageState::Cancelled)
            );
            true
        }
        Err(err) if answered >= deliver_at => {
            assert_eq!(
                err.code(),
                Some("NOT_SCHEDULED"),
                "cancel of {id} after its time: {err}"
            );
            false
        }
        Err(err) => panic!("cancel of {id} before its time {deliver_at} failed: {err}"),
    }
}

/// What a consumer running in the background saw.
#[derive(Default)]
struct Seen {
    /// Deliveries per id.
    deliveries: HashMap<String, u32>,
    /// `(id, store_ms, received)` per delivery: the broker's store time and the time the
    /// receive answered (this machine's clock, which is the broker's).
    times: Vec<(String, u64, i64)>,
    /// Failures of receive or ack.
    errors: Vec<String>,
}

/// Receives and acks through `group` until `stop` (bounded by `limit`), noting every
/// delivery in `seen`.
async fn consume(
    client: Client,
    group: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    limit: Duration,
) {
    let options = ReceiveOptions::new(64, RECEIVE_WAIT_MS);
    let deadline = Instant::now() + limit;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let batch = match client.receive(&group, &options).await {
            Ok(batch) => batch,
            Err(err) => {
                seen.lock().unwrap().errors.push(format!("receive: {err}"));
                return;
            }
        };
        let received = now_ms();
        if batch.is_empty() {
            continue;
        }
        {
            let mut seen = seen.lock().unwrap();
            for message in &batch {
                *seen.deliveries.entry(message.id.clone()).or_default() += 1;
                seen.times
                    .push((message.id.clone(), message.store_ms, received));
            }
        }
        let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
        match client.ack(&group, &receipts).await {
            Ok(result) if result.failed.is_empty() => {}
            Ok(result) => seen
                .lock()
                .unwrap()
                .errors
                .push(format!("ack refused receipts: {:?}", result.failed)),
            Err(err) => {
                seen.lock().unwrap().errors.push(format!("ack: {err}"));
                return;
            }
        }
    }
}

/// A consumer group on `topic` from the earliest message, consumed in the background.
struct BackgroundConsumer {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl BackgroundConsumer {
    async fn start(client: &Client, group: &str, topic: &str) -> BackgroundConsumer {
        client
            .create_group(&NewGroup::new(group, topic).from("earliest"))
            .await
            .expect("create the consumer group");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(consume(
            client.clone(),
            group.to_owned(),
            Arc::clone(&seen),
            Arc::clone(&stop),
            Duration::from_secs(120),
        ));
        BackgroundConsumer { seen, stop, task }
    }

    /// Waits until every id of `ids` was delivered.
    async fn wait_for(&self, ids: &[&str]) {
        let seen = &self.seen;
        eventually(
            &format!("the consumer receives {ids:?}"),
            WAIT_LIMIT,
            || async move {
                let seen = seen.lock().unwrap();
                assert!(seen.errors.is_empty(), "consumer failed: {:?}", seen.errors);
                ids.iter()
                    .all(|id| seen.deliveries.contains_key(*id))
                    .then_some(())
            },
        )
        .await;
    }

    /// Stops the consumer and returns what it saw.
    async fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the consumer task");
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        assert!(seen.errors.is_empty(), "consumer failed: {:?}", seen.errors);
        seen
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delayed_messages_are_never_delivered_early() {
    const TOPIC: &str = "reminders";
    const COUNT: i64 = 40;
    let broker = Broker::start(&[]);
    let client = broker.client();
    client.create_topic(TOPIC, Some(4)).await.unwrap();
    let consumer = BackgroundConsumer::start(&client, "watch", TOPIC).await;

    // id -> the earliest time it may be stored (its deliver_at as answered, or a lower
    // bound of it when the broker stored it at once because the time had come).
    let mut not_before: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..COUNT {
        let delay = 300 + (i * 277) % 1201;
        let id = format!("delayed-{i:03}");
        let key = format!("key-{i}");
        let before = now_ms();
        let (answered, lower, exact) = match i % 6 {
            0 => {
                let answer = raw_send(
                    &broker,
                    TOPIC,
                    &[
                        ("weir-message-id", id.clone()),
                        ("weir-keys", key.clone()),
                        ("weir-delay-ms", delay.to_string()),
                    ],
                    "raw relative",
                );
                (Some(scheduled_at(&answer, &id)), before + delay, false)
            }
            1 => {
                let at = before + delay;
                let answer = raw_send(
                    &broker,
                    TOPIC,
                    &[
                        ("weir-message-id", id.clone()),
                        ("weir-keys", key.clone()),
                        ("weir-deliver-at", at.to_string()),
                    ],
                    "raw absolute",
                );
                if answer.json().get("deliver_at").is_some() {
                    (Some(scheduled_at(&answer, &id)), at, true)
                } else {
                    (None, at, true)
                }
            }
            2 => {
                let answer = json_send(
                    &broker,
                    TOPIC,
                    &format!(
                        r#"{{"id":"{id}","keys":["{key}"],"body":"json relative","delay_ms":{delay}}}"#
                    ),
                );
                (Some(scheduled_at(&answer, &id)), before + delay, false)
            }
            3 | 4 => {
                let (message_delay, exact) = if i % 6 == 3 {
                    (Delay::After(delay as u64), false)
                } else {
                    (Delay::At(before + delay), true)
                };
                let message = OutgoingMessage::new("client")
                    .with_id(&id)
                    .with_key(&key)
                    .with_delay(message_delay);
                match client.send_outcome(TOPIC, &message).await.unwrap() {
                    SendOutcome::Scheduled(scheduled) => {
                        assert_eq!(
                            (scheduled.id.as_str(), scheduled.topic.as_str()),
                            (id.as_str(), TOPIC)
                        );
                        assert_eq!(scheduled.status, SendStatus::SendOk);
                        (Some(scheduled.deliver_at), before + delay, exact)
                    }
                    SendOutcome::Stored(_) => (None, before + delay, exact),
                }
            }
            _ => {
                let answer = raw_send(
                    &broker,
                    TOPIC,
                    &[
                        ("weir-message-id", id.clone()),
                        ("weir-keys", key.clone()),
                        ("weir-delay-level", "1".to_owned()),
                    ],
                    "level 1",
                );
                (
                    Some(scheduled_at(&answer, &id)),
                    before + LEVEL_MS[0],
                    false,
                )
            }
        };
        let after = now_ms();
        let delay = lower - before;
        let due = match answered {
            Some(at) if exact => {
                assert_eq!(at, lower, "{id}: an absolute time is answered as given");
                at
            }
            Some(at) => {
                assert_relative(at, before, after, delay, &id);
                at
            }
            None => {
                // Stored at once: only allowed once its time had come.
                assert!(
                    after >= lower,
                    "{id} was stored at once although due at {lower} (answered by {after})"
                );
                lower
            }
        };
        not_before.insert(id, due);
    }

    let ids: Vec<&str> = not_before.keys().map(String::as_str).collect();
    consumer.wait_for(&ids).await;
    let seen = consumer.finish().await;
    for (id, store_ms, received) in &seen.times {
        let due = not_before[id];
        assert!(
            *store_ms as i64 + CLOCK_GRANULARITY_MS >= due,
            "{id} was stored at {store_ms}, before its time {due}"
        );
        assert!(
            received + CLOCK_GRANULARITY_MS >= due,
            "{id} was received at {received}, before its time {due}"
        );
    }
    for (id, count) in &seen.deliveries {
        assert!(not_before.contains_key(id), "delivered an unknown id {id}");
        assert_eq!(*count, 1, "{id} delivered {count} times (acked each time)");
    }

    // The topic holds each message once, stored no earlier than its time, with its
    // attributes and without the schedule's bookkeeping properties.
    let stored = read_topic(&client, TOPIC).await;
    assert_eq!(stored.len(), not_before.len(), "one copy per message");
    for message in &stored {
        let due = not_before
            .get(&message.id)
            .unwrap_or_else(|| panic!("unknown message {} in the topic", message.id));
        assert!(
            message.store_ms as i64 + CLOCK_GRANULARITY_MS >= *due,
            "{} stored at {}, before its time {due}",
            message.id,
            message.store_ms
        );
        let i: i64 = message.id["delayed-".len()..].parse().unwrap();
        assert_eq!(message.keys, vec![format!("key-{i}")], "{}", message.id);
        assert!(
            message
                .properties
                .keys()
                .all(|name| !name.starts_with("weir.")),
            "bookkeeping properties leak into {}: {:?}",
            message.id,
            message.properties
        );
    }
    assert_eq!(
        sched::gauge(&client, "weir_delayed_pending").await,
        0.0,
        "nothing is left waiting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delay_levels_map_to_the_documented_delays() {
    const TOPIC: &str = "levels";
    let broker = Broker::start(&[]);
    let client = broker.client();
    client.create_topic(TOPIC, Some(2)).await.unwrap();

    let mut level_one = Vec::new();
    let mut to_cancel = Vec::new();
    for (index, level_ms) in LEVEL_MS.iter().enumerate() {
        let level = index as u32 + 1;
        // The header form.
        let id = format!("level-{level}-header");
        let before = now_ms();
        let answer = raw_send(
            &broker,
            TOPIC,
            &[
                ("weir-message-id", id.clone()),
                ("weir-delay-level", level.to_string()),
            ],
            "by header",
        );
        let after = now_ms();
        let at = scheduled_at(&answer, &id);
        assert_relative(at, before, after, *level_ms, &id);
        // The JSON form, through the client.
        let json_id = format!("level-{level}-json");
        let before = now_ms();
        let outcome = client
            .send_outcome(
                TOPIC,
                &OutgoingMessage::new("by JSON")
                    .with_id(&json_id)
                    .with_delay_level(level),
            )
            .await
            .unwrap();
        let after = now_ms();
        let json_at = outcome
            .deliver_at()
            .unwrap_or_else(|| panic!("level {level} is scheduled: {outcome:?}"));
        assert_relative(json_at, before, after, *level_ms, &json_id);
        if level == 1 {
            level_one.push((id, at));
            level_one.push((json_id, json_at));
        } else {
            to_cancel.push((id, at));
            to_cancel.push((json_id, json_at));
        }
    }
    for level in ["0", "19"] {
        let answer = raw_send(
            &broker,
            TOPIC,
            &[("weir-delay-level", level.to_owned())],
            "x",
        );
        assert_error(&answer, 400, "INVALID_ARGUMENT");
        let answer = json_send(
            &broker,
            TOPIC,
            &format!(r#"{{"body":"x","delay_level":{level}}}"#),
        );
        assert_error(&answer, 400, "INVALID_ARGUMENT");
    }

    // The longer levels wait in the schedule; they are cancelled so that none lingers.
    for (id, at) in &to_cancel {
        let info = client.message_info(id).await.unwrap();
        assert_eq!(
            (info.state, info.deliver_at),
            (MessageState::Scheduled, Some(*at)),
            "{id}"
        );
        assert!(
            cancel_if_pending(&client, id, *at).await,
            "{id} is minutes away"
        );
    }

    // Level 1 is delivered, not early.
    let client_ref = &client;
    for (id, at) in &level_one {
        let message = eventually(&format!("{id} is delivered"), WAIT_LIMIT, || async move {
            let info = client_ref.message_info(id).await.ok()?;
            (info.state == MessageState::Stored).then_some(info.message)
        })
        .await;
        assert!(
            message.store_ms as i64 + CLOCK_GRANULARITY_MS >= *at,
            "{id} stored at {}, before its time {at}",
            message.store_ms
        );
    }
    let copies = copies_by_id(&client, TOPIC).await;
    let expected: HashMap<String, usize> =
        level_one.iter().map(|(id, _)| (id.clone(), 1)).collect();
    assert_eq!(
        copies, expected,
        "only the level-1 messages reach the topic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delayed_message_is_scheduled_then_stored_or_cancelled() {
    const TOPIC: &str = "jobs";
    let broker = Broker::start(&[]);
    let client = broker.client();
    client.create_topic(TOPIC, Some(3)).await.unwrap();
    let consumer = BackgroundConsumer::start(&client, "runner", TOPIC).await;

    // Far in the future: scheduled, in both the JSON and the raw form of a query by id.
    let answer = raw_send(
        &broker,
        TOPIC,
        &[
            ("weir-message-id", "far".to_owned()),
            ("weir-keys", "k1".to_owned()),
            ("weir-prop-origin", "test".to_owned()),
            ("weir-delay-ms", "600000".to_owned()),
        ],
        "far away",
    );
    let far_at = scheduled_at(&answer, "far");
    let shown = support::get(broker.addr(), "/v1/messages/far").unwrap();
    assert_eq!(shown.status, 200, "{}", shown.text());
    let shown = shown.json();
    assert_eq!(shown["state"], "scheduled", "{shown}");
    assert_eq!(shown["deliver_at"], far_at, "{shown}");
    assert_eq!(shown["topic"], TOPIC, "{shown}");
    assert_eq!(shown["body"], "far away", "{shown}");
    assert_eq!(shown["keys"], serde_json::json!(["k1"]), "{shown}");
    assert_eq!(shown["properties"]["origin"], "test", "{shown}");
    assert!(
        shown.get("queue").is_none() && shown.get("offset").is_none(),
        "a scheduled message is in no queue: {shown}"
    );
    let raw = RawRequest::new("GET", "/v1/messages/far")
        .header("accept", "application/octet-stream")
        .send(broker.addr())
        .unwrap();
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(raw.header("weir-state").as_deref(), Some("scheduled"));
    assert_eq!(
        raw.header("weir-deliver-at"),
        Some(far_at.to_string()),
        "raw form carries the due time"
    );
    assert_eq!(raw.text(), "far away");
    let info = client.message_info("far").await.unwrap();
    assert!(info.is_scheduled());
    assert_eq!(info.deliver_at, Some(far_at));
    let described = client.describe_topic(TOPIC).await.unwrap();
    assert_eq!(described.messages, 0, "a scheduled message is not counted");

    // Cancel: answered with the due time, once; then it is no longer found.
    let cancelled = raw_post(&broker, "/v1/messages/far/cancel");
    assert_eq!(cancelled.status, 200, "{}", cancelled.text());
    assert_eq!(
        cancelled.json(),
        serde_json::json!({"id":"far","topic":TOPIC,"deliver_at":far_at,"state":"cancelled"})
    );
    assert_error(
        &raw_post(&broker, "/v1/messages/far/cancel"),
        404,
        "NOT_SCHEDULED",
    );
    assert_eq!(
        api_code(client.cancel("far").await),
        (404, "NOT_SCHEDULED".to_owned())
    );
    assert_error(
        &support::get(broker.addr(), "/v1/messages/far").unwrap(),
        404,
        "MESSAGE_NOT_FOUND",
    );

    // Three due close together: `doomed` is cancelled; `soon` before it and `sentinel`
    // after it are delivered. Timers fire in deadline order, so once the sentinel is in,
    // the doomed message would have been too.
    let base = now_ms();
    let soon = client
        .send_outcome(
            TOPIC,
            &OutgoingMessage::new("soon")
                .with_id("soon")
                .with_delay(Delay::At(base + 700)),
        )
        .await
        .unwrap();
    let doomed = client
        .send_outcome(
            TOPIC,
            &OutgoingMessage::new("doomed")
                .with_id("doomed")
                .with_delay(Delay::At(base + 1_500)),
        )
        .await
        .unwrap();
    let sentinel = client
        .send_outcome(
            TOPIC,
            &OutgoingMessage::new("sentinel")
                .with_id("sentinel")
                .with_delay(Delay::At(base + 1_800)),
        )
        .await
        .unwrap();
    let soon_at = soon.deliver_at().expect("soon is scheduled");
    let doomed_at = doomed.deliver_at().expect("doomed is scheduled");
    let cancelled_in_time = cancel_if_pending(&client, "doomed", doomed_at).await;

    // While `soon` waits, a query by id says so; a query answered before its time must.
    let info = client.message_info("soon").await.unwrap();
    let answered = now_ms();
    match info.state {
        MessageState::Scheduled => assert_eq!(info.deliver_at, Some(soon_at)),
        MessageState::Stored => assert!(
            answered >= soon_at,
            "soon shown stored at {answered}, before its time {soon_at}"
        ),
        other => panic!("soon is {other:?}"),
    }

    consumer.wait_for(&["soon", "sentinel"]).await;
    let seen = consumer.finish().await;
    if cancelled_in_time {
        assert!(
            !seen.deliveries.contains_key("doomed"),
            "a cancelled message was delivered"
        );
        assert_error(
            &support::get(broker.addr(), "/v1/messages/doomed").unwrap(),
            404,
            "MESSAGE_NOT_FOUND",
        );
    }
    assert!(
        sentinel.deliver_at().is_some(),
        "the sentinel was scheduled"
    );

    // Delivered: stored with a queue and an offset, no longer cancellable.
    let info = client.message_info("soon").await.unwrap();
    assert_eq!(info.state, MessageState::Stored);
    assert_eq!(info.deliver_at, None);
    assert!(info.message.store_ms as i64 + CLOCK_GRANULARITY_MS >= soon_at);
    let read = client
        .read_queue(TOPIC, info.message.queue, info.message.offset, Some(1))
        .await
        .unwrap();
    assert_eq!(
        read.messages[0].id, "soon",
        "the answered queue and offset hold it"
    );
    let shown = support::get(broker.addr(), "/v1/messages/soon")
        .unwrap()
        .json();
    assert_eq!(shown["state"], "stored", "{shown}");
    assert!(
        shown["queue"].is_u64() && shown["offset"].is_u64(),
        "{shown}"
    );
    assert_error(
        &raw_post(&broker, "/v1/messages/soon/cancel"),
        404,
        "NOT_SCHEDULED",
    );

    // Never delayed, or no such id: nothing to cancel.
    let now = client
        .send(TOPIC, &OutgoingMessage::new("now").with_id("now"))
        .await
        .unwrap();
    assert_eq!(now.id, "now");
    for id in ["now", "no-such-message"] {
        assert_error(
            &raw_post(&broker, &format!("/v1/messages/{id}/cancel")),
            404,
            "NOT_SCHEDULED",
        );
    }

    let copies = copies_by_id(&client, TOPIC).await;
    let mut expected: HashMap<String, usize> = ["soon", "sentinel", "now"]
        .iter()
        .map(|id| ((*id).to_owned(), 1))
        .collect();
    if !cancelled_in_time {
        expected.insert("doomed".to_owned(), 1);
    }
    assert_eq!(copies, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delays_over_the_maximum_and_malformed_delays_are_refused() {
    const TOPIC: &str = "limits";
    let broker = Broker::start(&[]);
    let client = broker.client();
    client.create_topic(TOPIC, Some(1)).await.unwrap();

    let over = (DEFAULT_MAX_DELAY_MS + 1).to_string();
    let answer = raw_send(&broker, TOPIC, &[("weir-delay-ms", over.clone())], "x");
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    let answer = json_send(
        &broker,
        TOPIC,
        &format!(r#"{{"body":"x","delay_ms":{over}}}"#),
    );
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    let far = (now_ms() + DEFAULT_MAX_DELAY_MS + 60_000).to_string();
    let answer = raw_send(&broker, TOPIC, &[("weir-deliver-at", far.clone())], "x");
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    let answer = json_send(
        &broker,
        TOPIC,
        &format!(r#"{{"body":"x","deliver_at":{far}}}"#),
    );
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    assert_eq!(
        api_code(
            client
                .send_outcome(
                    TOPIC,
                    &OutgoingMessage::new("x").with_delay_ms(DEFAULT_MAX_DELAY_MS as u64 + 1)
                )
                .await
        ),
        (400, "INVALID_ARGUMENT".to_owned())
    );

    // Exactly the maximum is taken.
    let before = now_ms();
    let answer = raw_send(
        &broker,
        TOPIC,
        &[
            ("weir-message-id", "longest".to_owned()),
            ("weir-delay-ms", DEFAULT_MAX_DELAY_MS.to_string()),
        ],
        "x",
    );
    let after = now_ms();
    let at = scheduled_at(&answer, "longest");
    assert_relative(at, before, after, DEFAULT_MAX_DELAY_MS, "longest");
    assert!(cancel_if_pending(&client, "longest", at).await);

    // Malformed: not a number, two forms, a delayed half message.
    for headers in [
        vec![("weir-delay-ms", "soon".to_owned())],
        vec![("weir-delay-ms", "-5".to_owned())],
        vec![("weir-deliver-at", "1.5".to_owned())],
        vec![
            ("weir-delay-ms", "100".to_owned()),
            ("weir-delay-level", "1".to_owned()),
        ],
    ] {
        let answer = raw_send(&broker, TOPIC, &headers, "x");
        assert_error(&answer, 400, "INVALID_HEADER");
    }
    let answer = json_send(&broker, TOPIC, r#"{"body":"x","delay_ms":-5}"#);
    assert_error(&answer, 400, "INVALID_JSON");
    let answer = json_send(
        &broker,
        TOPIC,
        r#"{"body":"x","delay_ms":100,"delay_level":1}"#,
    );
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    let answer = raw_send(
        &broker,
        TOPIC,
        &[
            ("weir-transaction", "half".to_owned()),
            ("weir-delay-ms", "100".to_owned()),
        ],
        "x",
    );
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    let answer = json_send(
        &broker,
        TOPIC,
        r#"{"body":"x","transaction":"half","delay_ms":100}"#,
    );
    assert_error(&answer, 400, "INVALID_ARGUMENT");

    // A delay of 0, or a time already passed, is a send at once.
    for headers in [
        vec![("weir-delay-ms", "0".to_owned())],
        vec![("weir-deliver-at", (now_ms() - 1_000).to_string())],
    ] {
        let answer = raw_send(&broker, TOPIC, &headers, "at once");
        assert_eq!(answer.status, 200, "{}", answer.text());
        let body = answer.json();
        assert!(
            body["queue"].is_u64() && body["offset"].is_u64() && body.get("deliver_at").is_none(),
            "{body}"
        );
    }
    assert_eq!(client.describe_topic(TOPIC).await.unwrap().messages, 2);
    assert_eq!(sched::gauge(&client, "weir_delayed_pending").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_configured_maximum_delay_is_enforced() {
    const TOPIC: &str = "short";
    const MAX_DELAY_MS: i64 = 10_000;
    let configured = ConfiguredBroker::start(&format!("max_delay_ms = {MAX_DELAY_MS}"));
    let broker = &configured.broker;
    let client = broker.client();
    client.create_topic(TOPIC, Some(1)).await.unwrap();

    let answer = raw_send(
        broker,
        TOPIC,
        &[("weir-delay-ms", (MAX_DELAY_MS + 1).to_string())],
        "x",
    );
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    let answer = raw_send(
        broker,
        TOPIC,
        &[("weir-deliver-at", (now_ms() + 2 * MAX_DELAY_MS).to_string())],
        "x",
    );
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    // Level 3 (10 s) is within the limit, level 4 (30 s) is not.
    let answer = raw_send(broker, TOPIC, &[("weir-delay-level", "4".to_owned())], "x");
    assert_error(&answer, 400, "INVALID_ARGUMENT");
    for (id, name, value) in [
        ("at-max", "weir-delay-ms", MAX_DELAY_MS.to_string()),
        ("level-3", "weir-delay-level", "3".to_owned()),
    ] {
        let answer = raw_send(
            broker,
            TOPIC,
            &[("weir-message-id", id.to_owned()), (name, value)],
            "x",
        );
        let at = scheduled_at(&answer, id);
        assert!(cancel_if_pending(&client, id, at).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeated_message_id_is_stored_once() {
    const TOPIC: &str = "payments";
    let broker = Broker::start(&[]);
    let client = broker.client();
    client.create_topic(TOPIC, Some(4)).await.unwrap();

    // Raw form, then a repeat with another body and attributes: the original answer.
    let first = raw_send(
        &broker,
        TOPIC,
        &[
            ("weir-message-id", "pay-1".to_owned()),
            ("weir-tag", "first".to_owned()),
        ],
        "first",
    );
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    let again = raw_send(
        &broker,
        TOPIC,
        &[
            ("weir-message-id", "pay-1".to_owned()),
            ("weir-tag", "second".to_owned()),
        ],
        "second",
    );
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json(), first, "a repeat answers the original result");
    let json_again = json_send(&broker, TOPIC, r#"{"id":"pay-1","body":"third"}"#);
    assert_eq!(json_again.json(), first);
    let client_again = client
        .send(TOPIC, &OutgoingMessage::new("fourth").with_id("pay-1"))
        .await
        .unwrap();
    assert_eq!(
        (client_again.queue as u64, client_again.offset),
        (
            first["queue"].as_u64().unwrap(),
            first["offset"].as_u64().unwrap()
        )
    );

    // Concurrent repeats of one id race each other: one copy, one answer.
    let sends: Vec<_> = (0..16)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .send(
                        TOPIC,
                        &OutgoingMessage::new(format!("race {n}")).with_id("pay-race"),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = HashSet::new();
    for send in sends {
        let sent = send.await.unwrap();
        answers.insert((sent.id, sent.queue, sent.offset));
    }
    assert_eq!(answers.len(), 1, "racing repeats answer alike: {answers:?}");

    // Repeats within one batch.
    let batch = client
        .send_batch(
            TOPIC,
            &[
                OutgoingMessage::new("b1").with_id("pay-batch"),
                OutgoingMessage::new("b2").with_id("pay-batch"),
                OutgoingMessage::new("b3").with_id("pay-1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(batch.results[0], batch.results[1]);
    assert_eq!(
        (batch.results[2].queue as u64, batch.results[2].offset),
        (
            first["queue"].as_u64().unwrap(),
            first["offset"].as_u64().unwrap()
        )
    );

    // A delayed message repeated while it waits answers its due time; once cancelled,
    // the id can be sent again.
    let answer = raw_send(
        &broker,
        TOPIC,
        &[
            ("weir-message-id", "pay-later".to_owned()),
            ("weir-delay-ms", "600000".to_owned()),
        ],
        "later",
    );
    let at = scheduled_at(&answer, "pay-later");
    let answer = raw_send(
        &broker,
        TOPIC,
        &[
            ("weir-message-id", "pay-later".to_owned()),
            ("weir-delay-ms", "300000".to_owned()),
        ],
        "later again",
    );
    assert_eq!(
        scheduled_at(&answer, "pay-later"),
        at,
        "the original due time"
    );
    assert!(cancel_if_pending(&client, "pay-later", at).await);
    let resent = client
        .send(TOPIC, &OutgoingMessage::new("now").with_id("pay-later"))
        .await
        .unwrap();
    assert_eq!(resent.id, "pay-later");

    // A half message repeated answers its transaction.
    let half = client
        .send_half(
            TOPIC,
            &OutgoingMessage::new("tx").with_id("pay-tx"),
            None,
            Some(NO_CHECK_MS),
        )
        .await
        .unwrap();
    let half_again = client
        .send_half(
            TOPIC,
            &OutgoingMessage::new("tx again").with_id("pay-tx"),
            None,
            Some(NO_CHECK_MS),
        )
        .await
        .unwrap();
    assert_eq!(half, half_again);
    let listed = client.transactions(None).await.unwrap();
    assert_eq!(listed.len(), 1, "one half message: {listed:?}");
    assert_eq!(listed[0].message.body, "tx");

    let copies = copies_by_id(&client, TOPIC).await;
    let expected: HashMap<String, usize> = ["pay-1", "pay-race", "pay-batch", "pay-later"]
        .iter()
        .map(|id| ((*id).to_owned(), 1))
        .collect();
    assert_eq!(copies, expected);
    let stored = client.get_message("pay-1").await.unwrap();
    assert_eq!(
        (stored.body_str(), stored.tag.as_deref()),
        (Some("first"), Some("first"))
    );
}

/// Checks the documented shape of a check-back the callback received.
#[track_caller]
fn assert_check_back(call: &Value, transaction: &str, topic: &str, group: &str, checks: u64) {
    assert_eq!(call["transaction"], transaction, "{call}");
    assert_eq!(call["topic"], topic, "{call}");
    assert_eq!(call["producer_group"], group, "{call}");
    assert_eq!(call["checks"], checks, "{call}");
    assert_eq!(call["message"]["id"], transaction, "{call}");
    assert_eq!(call["message"]["topic"], topic, "{call}");
    assert!(call["message"]["body"].is_string(), "{call}");
    assert!(call["message"]["store_ms"].is_i64(), "{call}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_end_as_decided_and_consumers_see_only_commits() {
    const TOPIC: &str = "orders";
    let configured = ConfiguredBroker::start(&format!("{FAST_CHECKS}\ntx_max_checks = 5"));
    let broker = &configured.broker;
    let client = broker.client();
    let callback = CallbackServer::start().await;
    client.create_topic(TOPIC, Some(4)).await.unwrap();
    let consumer = BackgroundConsumer::start(&client, "audit", TOPIC).await;
    let group = client
        .put_producer_group("shop", Some(&callback.url()))
        .await
        .unwrap();
    assert_eq!(group.callback_url.as_deref(), Some(callback.url().as_str()));

    // Committed by the producer.
    let message = OutgoingMessage::new("commit me")
        .with_id("tx-commit")
        .with_key("order-1")
        .with_property("source", "web");
    let half = client
        .send_half(TOPIC, &message, Some("shop"), Some(NO_CHECK_MS))
        .await
        .unwrap();
    assert_eq!(
        (
            half.id.as_str(),
            half.transaction.as_str(),
            half.topic.as_str()
        ),
        ("tx-commit", "tx-commit", TOPIC)
    );
    assert_eq!(half.status, SendStatus::SendOk);
    assert_eq!(
        api_code(client.get_message("tx-commit").await),
        (404, "MESSAGE_NOT_FOUND".to_owned()),
        "a half message is invisible"
    );
    let listed = client.transactions(None).await.unwrap();
    let pending = listed
        .iter()
        .find(|t| t.transaction == "tx-commit")
        .expect("listed as undecided");
    assert_eq!(
        (
            pending.topic(),
            pending.producer_group.as_deref(),
            pending.checks,
            pending.parked
        ),
        (TOPIC, Some("shop"), 0, false)
    );
    assert_eq!(pending.message.body, "commit me");
    assert_eq!(client.describe_topic(TOPIC).await.unwrap().messages, 0);
    let outcome = client.commit("tx-commit").await.unwrap();
    assert_eq!(outcome.state, TransactionState::Committed);
    assert_eq!(
        client.commit("tx-commit").await.unwrap().state,
        TransactionState::Committed,
        "a second commit is not an error"
    );
    assert_eq!(
        api_code(client.rollback("tx-commit").await),
        (409, "TRANSACTION_CONFLICT".to_owned())
    );
    let visible = client.get_message("tx-commit").await.unwrap();
    assert_eq!(visible.keys, vec!["order-1".to_owned()]);
    assert_eq!(
        visible.properties,
        BTreeMap::from([("source".to_owned(), "web".to_owned())]),
        "no transaction bookkeeping in the committed message"
    );

    // Rolled back by the producer.
    client
        .send_half(
            TOPIC,
            &OutgoingMessage::new("roll me back").with_id("tx-rollback"),
            Some("shop"),
            Some(NO_CHECK_MS),
        )
        .await
        .unwrap();
    assert_eq!(
        client.rollback("tx-rollback").await.unwrap().state,
        TransactionState::RolledBack
    );
    assert_eq!(
        client.rollback("tx-rollback").await.unwrap().state,
        TransactionState::RolledBack
    );
    assert_eq!(
        api_code(client.commit("tx-rollback").await),
        (409, "TRANSACTION_CONFLICT".to_owned())
    );

    // The raw form of a half send and of a decision.
    let answer = raw_send(
        broker,
        TOPIC,
        &[
            ("weir-message-id", "tx-raw".to_owned()),
            ("weir-transaction", "half".to_owned()),
            ("weir-producer-group", "shop".to_owned()),
            ("weir-tx-check-after-ms", NO_CHECK_MS.to_string()),
        ],
        "raw half",
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.json(),
        serde_json::json!({"id":"tx-raw","topic":TOPIC,"transaction":"tx-raw","status":"SEND_OK"})
    );
    let decided = raw_post(broker, "/v1/transactions/tx-raw/commit");
    assert_eq!(decided.status, 200, "{}", decided.text());
    assert_eq!(
        decided.json(),
        serde_json::json!({"transaction":"tx-raw","state":"committed"})
    );
    for (headers, code) in [
        (
            vec![("weir-transaction", "full".to_owned())],
            "INVALID_HEADER",
        ),
        (
            vec![("weir-producer-group", "shop".to_owned())],
            "INVALID_HEADER",
        ),
        (
            vec![("weir-tx-check-after-ms", "5".to_owned())],
            "INVALID_HEADER",
        ),
    ] {
        assert_error(&raw_send(broker, TOPIC, &headers, "x"), 400, code);
    }
    for path in [
        "/v1/transactions/no-such-tx/commit",
        "/v1/transactions/no-such-tx/rollback",
        "/v1/transactions/no-such-tx/resume",
        "/v1/transactions/tx-commit/resume",
        "/v1/transactions/tx-rollback/resume",
    ] {
        assert_error(&raw_post(broker, path), 404, "TRANSACTION_NOT_FOUND");
    }

    // Decided by check-backs to the callback: commit; unknown, then commit; rollback.
    callback.script("tx-check-commit", &[Reply::Commit]);
    callback.script("tx-unknown-commit", &[Reply::Unknown, Reply::Commit]);
    callback.script("tx-error-commit", &[Reply::Status(500), Reply::Commit]);
    callback.script("tx-check-rollback", &[Reply::Rollback]);
    for id in [
        "tx-check-commit",
        "tx-unknown-commit",
        "tx-error-commit",
        "tx-check-rollback",
    ] {
        client
            .send_half(
                TOPIC,
                &OutgoingMessage::new(format!("body of {id}")).with_id(id),
                Some("shop"),
                None,
            )
            .await
            .unwrap();
    }
    for id in ["tx-check-commit", "tx-unknown-commit", "tx-error-commit"] {
        let client = &client;
        eventually(
            &format!("the check-back commits {id}"),
            WAIT_LIMIT,
            || async move { client.get_message(id).await.ok() },
        )
        .await;
    }
    let client_ref = &client;
    eventually(
        "the check-back rolls back tx-check-rollback",
        WAIT_LIMIT,
        || async move {
            let listed = client_ref.transactions(None).await.unwrap();
            (!listed.iter().any(|t| t.transaction == "tx-check-rollback")).then_some(())
        },
    )
    .await;
    assert_eq!(
        client.rollback("tx-check-rollback").await.unwrap().state,
        TransactionState::RolledBack,
        "the check-back's decision was a rollback"
    );
    assert_eq!(
        api_code(client.commit("tx-check-rollback").await),
        (409, "TRANSACTION_CONFLICT".to_owned())
    );
    let calls = callback.calls("tx-check-commit");
    assert!(!calls.is_empty(), "the callback was asked");
    assert_check_back(&calls[0], "tx-check-commit", TOPIC, "shop", 1);
    assert_eq!(calls[0]["message"]["body"], "body of tx-check-commit");
    for id in ["tx-unknown-commit", "tx-error-commit"] {
        let calls = callback.calls(id);
        assert!(
            calls.len() >= 2,
            "{id}: asked again after a first non-answer"
        );
        assert_check_back(&calls[0], id, TOPIC, "shop", 1);
        assert_check_back(&calls[1], id, TOPIC, "shop", 2);
    }
    for id in ["tx-commit", "tx-rollback", "tx-raw"] {
        assert_eq!(
            callback.call_count(id),
            0,
            "{id} was decided before its check"
        );
    }

    // Producer groups without a callback: the producers' long poll. One registered
    // without a URL, one never registered.
    let poller = client.put_producer_group("poller", None).await.unwrap();
    assert_eq!(poller.callback_url, None);
    for (id, group) in [
        ("tx-poll-commit", "poller"),
        ("tx-poll-rollback", "poller"),
        ("tx-nobody", "nobody"),
    ] {
        client
            .send_half(
                TOPIC,
                &OutgoingMessage::new(format!("body of {id}")).with_id(id),
                Some(group),
                None,
            )
            .await
            .unwrap();
    }
    for (group, wanted) in [
        ("poller", vec!["tx-poll-commit", "tx-poll-rollback"]),
        ("nobody", vec!["tx-nobody"]),
    ] {
        let mut asked: HashSet<String> = HashSet::new();
        let deadline = Instant::now() + WAIT_LIMIT;
        while !wanted.iter().all(|id| asked.contains(*id)) {
            assert!(
                Instant::now() < deadline,
                "the long poll of {group} offers {wanted:?}; got {asked:?}"
            );
            for check in client
                .poll_checks(group, Some(10), Some(1_000))
                .await
                .unwrap()
            {
                assert_eq!(check.producer_group.as_deref(), Some(group), "{check:?}");
                assert_eq!(check.topic(), TOPIC);
                assert!(check.checks >= 1, "{check:?}");
                assert_eq!(
                    check.message.body,
                    format!("body of {}", check.transaction).into_bytes()
                );
                asked.insert(check.transaction);
            }
        }
    }
    assert_eq!(
        client.commit("tx-poll-commit").await.unwrap().state,
        TransactionState::Committed
    );
    assert_eq!(
        client.rollback("tx-poll-rollback").await.unwrap().state,
        TransactionState::RolledBack
    );
    assert_eq!(
        client.commit("tx-nobody").await.unwrap().state,
        TransactionState::Committed
    );
    for id in ["tx-poll-commit", "tx-poll-rollback", "tx-nobody"] {
        assert_eq!(callback.call_count(id), 0, "{id}'s group has no callback");
    }

    // Never decided.
    client
        .send_half(
            TOPIC,
            &OutgoingMessage::new("undecided").with_id("tx-undecided"),
            None,
            Some(NO_CHECK_MS),
        )
        .await
        .unwrap();

    let committed = [
        "tx-commit",
        "tx-raw",
        "tx-check-commit",
        "tx-unknown-commit",
        "tx-error-commit",
        "tx-poll-commit",
        "tx-nobody",
    ];
    let never = [
        "tx-rollback",
        "tx-check-rollback",
        "tx-poll-rollback",
        "tx-undecided",
    ];
    // A plain message sent last: once it is in, everything decided before is too.
    client
        .send(TOPIC, &OutgoingMessage::new("last").with_id("plain-last"))
        .await
        .unwrap();
    let mut waited: Vec<&str> = committed.to_vec();
    waited.push("plain-last");
    consumer.wait_for(&waited).await;
    let seen = consumer.finish().await;
    for id in never {
        assert!(
            !seen.deliveries.contains_key(id),
            "the consumer saw {id}, which was never committed"
        );
        assert_eq!(
            api_code(client.get_message(id).await),
            (404, "MESSAGE_NOT_FOUND".to_owned()),
            "{id}"
        );
    }
    let copies = copies_by_id(&client, TOPIC).await;
    let mut expected: HashMap<String, usize> =
        committed.iter().map(|id| ((*id).to_owned(), 1)).collect();
    expected.insert("plain-last".to_owned(), 1);
    assert_eq!(copies, expected, "each commit stored once, nothing else");
    let undecided: Vec<String> = client
        .transactions(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.transaction)
        .collect();
    assert_eq!(undecided, vec!["tx-undecided".to_owned()]);
    assert_eq!(
        sched::gauge(&client, "weir_transactions_undecided").await,
        1.0
    );
    assert!(callback.errors().is_empty(), "{:?}", callback.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn undecided_transactions_are_parked_after_the_maximum_of_checks_and_resumed() {
    const TOPIC: &str = "payments";
    const MAX_CHECKS: u32 = 2;
    let configured =
        ConfiguredBroker::start(&format!("{FAST_CHECKS}\ntx_max_checks = {MAX_CHECKS}"));
    let broker = &configured.broker;
    let client = broker.client();
    let callback = CallbackServer::start().await;
    client.create_topic(TOPIC, Some(2)).await.unwrap();
    client
        .put_producer_group("maybe", Some(&callback.url()))
        .await
        .unwrap();
    // Nothing listens there: every check-back fails to connect.
    let down_url = format!("http://{}/tx-check", support::free_local_addr());
    client
        .put_producer_group("down", Some(&down_url))
        .await
        .unwrap();
    callback.script("tx-park-unknown", &[Reply::Unknown]);
    for (id, group) in [
        ("tx-park-unknown", Some("maybe")),
        ("tx-park-down", Some("down")),
        ("tx-park-none", None),
    ] {
        client
            .send_half(
                TOPIC,
                &OutgoingMessage::new(format!("body of {id}")).with_id(id),
                group,
                None,
            )
            .await
            .unwrap();
    }

    let client_ref = &client;
    eventually("all three are parked", WAIT_LIMIT, || async move {
        let listed = client_ref.transactions(None).await.unwrap();
        (listed.len() == 3 && listed.iter().all(|t| t.parked)).then_some(())
    })
    .await;
    let listed = support::get(broker.addr(), "/v1/transactions").unwrap();
    assert_eq!(listed.status, 200, "{}", listed.text());
    let listed = listed.json();
    let listed = listed["transactions"].as_array().expect("a list");
    let ids: Vec<&str> = listed
        .iter()
        .map(|t| t["transaction"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["tx-park-unknown", "tx-park-down", "tx-park-none"],
        "oldest first"
    );
    for transaction in listed {
        let id = transaction["transaction"].as_str().unwrap();
        assert_eq!(transaction["parked"], true, "{transaction}");
        assert_eq!(transaction["checks"], MAX_CHECKS, "{transaction}");
        assert_eq!(transaction["topic"], TOPIC, "{transaction}");
        assert_eq!(transaction["id"], id, "{transaction}");
        assert_eq!(
            transaction["body"],
            format!("body of {id}"),
            "{transaction}"
        );
        assert!(
            transaction.get("queue").is_none() && transaction.get("offset").is_none(),
            "{transaction}"
        );
    }
    assert!(listed[2].get("producer_group").is_none(), "{}", listed[2]);
    assert!(
        callback.call_count("tx-park-unknown") <= MAX_CHECKS as usize,
        "at most one callback per check"
    );

    // A parked transaction can still be decided.
    assert_eq!(
        client.rollback("tx-park-none").await.unwrap().state,
        TransactionState::RolledBack
    );

    // Parked: the callback was asked no more often than the checks counted.
    let before_resume = callback.call_count("tx-park-unknown");
    assert!(before_resume <= MAX_CHECKS as usize);

    // Resume with a callback that now commits.
    callback.script("tx-park-unknown", &[Reply::Commit]);
    let resumed = raw_post(broker, "/v1/transactions/tx-park-unknown/resume");
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    assert_eq!(
        resumed.json(),
        serde_json::json!({"transaction":"tx-park-unknown","state":"resumed"})
    );
    eventually(
        "the resumed transaction is committed by its check-back",
        WAIT_LIMIT,
        || async move { client_ref.get_message("tx-park-unknown").await.ok() },
    )
    .await;
    let calls = callback.calls("tx-park-unknown");
    assert!(calls.len() > before_resume, "asked again after the resume");
    assert_check_back(&calls[before_resume], "tx-park-unknown", TOPIC, "maybe", 1);

    // The group whose callback was down gets a working one (a replace), then a resume.
    callback.script("tx-park-down", &[Reply::Commit]);
    client
        .put_producer_group("down", Some(&callback.url()))
        .await
        .unwrap();
    assert_eq!(
        client
            .resume_transaction("tx-park-down")
            .await
            .unwrap()
            .state,
        TransactionState::Resumed
    );
    eventually(
        "the resumed transaction is committed through the replaced callback",
        WAIT_LIMIT,
        || async move { client_ref.get_message("tx-park-down").await.ok() },
    )
    .await;

    for id in ["tx-park-unknown", "tx-park-down", "tx-park-none", "none"] {
        assert_eq!(
            api_code(client.resume_transaction(id).await),
            (404, "TRANSACTION_NOT_FOUND".to_owned()),
            "{id} has nothing to resume"
        );
    }
    assert!(client.transactions(None).await.unwrap().is_empty());
    let copies = copies_by_id(&client, TOPIC).await;
    let expected: HashMap<String, usize> = [
        ("tx-park-unknown".to_owned(), 1),
        ("tx-park-down".to_owned(), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(copies, expected);
    assert!(callback.errors().is_empty(), "{:?}", callback.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn producer_groups_are_created_replaced_listed_and_deleted() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    let client = broker.client();

    let created = RawRequest::new("POST", "/v1/producer-groups")
        .json(r#"{"name":"pg-a","callback_url":"http://127.0.0.1:9/tx-check"}"#)
        .send(addr)
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    assert_eq!(body["name"], "pg-a");
    assert_eq!(body["callback_url"], "http://127.0.0.1:9/tx-check");
    assert!(
        body["created_ms"].as_i64().unwrap() > 1_600_000_000_000,
        "{body}"
    );
    let created = RawRequest::new("POST", "/v1/producer-groups")
        .json(r#"{"name":"pg-b"}"#)
        .send(addr)
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(created.json().get("callback_url").is_none());

    let names: Vec<String> = client
        .producer_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, vec!["pg-a".to_owned(), "pg-b".to_owned()]);
    let one = support::get(addr, "/v1/producer-groups/pg-a").unwrap();
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["callback_url"], "http://127.0.0.1:9/tx-check");

    // A replace without a URL removes the callback.
    let replaced = client.put_producer_group("pg-a", None).await.unwrap();
    assert_eq!(replaced.callback_url, None);
    assert_eq!(
        client.producer_group("pg-a").await.unwrap().callback_url,
        None
    );

    let deleted = RawRequest::new("DELETE", "/v1/producer-groups/pg-a")
        .send(addr)
        .unwrap();
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert_error(
        &support::get(addr, "/v1/producer-groups/pg-a").unwrap(),
        404,
        "PRODUCER_GROUP_NOT_FOUND",
    );
    assert_error(
        &RawRequest::new("DELETE", "/v1/producer-groups/pg-a")
            .send(addr)
            .unwrap(),
        404,
        "PRODUCER_GROUP_NOT_FOUND",
    );

    let long_url = format!(
        r#"{{"name":"pg-c","callback_url":"http://h/{}"}}"#,
        "x".repeat(2048)
    );
    for (body, code) in [
        (
            r#"{"name":"pg-c","callback_url":"https://127.0.0.1/x"}"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{"name":"pg-c","callback_url":"ftp://127.0.0.1/x"}"#,
            "INVALID_ARGUMENT",
        ),
        (long_url.as_str(), "INVALID_ARGUMENT"),
        (r#"{"name":"bad name"}"#, "INVALID_ARGUMENT"),
        (r#"{"name":"%SYS%x"}"#, "INVALID_ARGUMENT"),
        (
            r#"{"name":"pg-c","url":"http://127.0.0.1/x"}"#,
            "INVALID_JSON",
        ),
        (r#"{"callback_url":"http://127.0.0.1/x"}"#, "INVALID_JSON"),
    ] {
        let answer = RawRequest::new("POST", "/v1/producer-groups")
            .json(body)
            .send(addr)
            .unwrap();
        assert_error(&answer, 400, code);
    }

    // The long poll's parameters.
    for (query, code) in [
        ("max=abc", "INVALID_OFFSET"),
        ("max=0", "INVALID_ARGUMENT"),
        ("wait_ms=abc", "INVALID_ARGUMENT"),
        ("wait_ms=30001", "INVALID_ARGUMENT"),
    ] {
        let answer =
            support::get(addr, &format!("/v1/producer-groups/pg-b/checks?{query}")).unwrap();
        assert_error(&answer, 400, code);
    }
    let empty = support::get(addr, "/v1/producer-groups/unregistered/checks?wait_ms=0").unwrap();
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert_eq!(empty.json(), serde_json::json!({"checks":[]}));
}

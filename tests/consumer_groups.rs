//! Consumer groups through the real broker binary and the client crate: FIFO order per
//! message group with random handler failures and a poison message that ends in the
//! dead-letter queue; redelivery after a nack's backoff and after the invisible time, and
//! change of invisible time; broadcasting; exact lag, offsets and resets on a known data
//! set; queues added while producers run; bad input over raw HTTP; and a client hanging up
//! during a long poll.
//!
//! Nothing here asserts how fast the broker is: waits are long polls or bounded polling
//! loops with deadlines, and redelivery times are only checked to be "not early" (the
//! time of a redelivery against the time of the nack plus the backoff).

use crate::support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use support::{Broker, RawRequest, assert_api_error, assert_error, get};
use weir_client::{
    Client, ClientError, Lag, NewGroup, OutgoingMessage, ReceiveOptions, Received, ResetRequest,
    SendStatus,
};

fn receipts(batch: &[Received]) -> Vec<String> {
    batch.iter().map(|m| m.receipt.clone()).collect()
}

/// Sends one message and checks it was stored.
async fn send(client: &Client, topic: &str, message: &OutgoingMessage) -> weir_client::SendResult {
    let sent = client
        .send(topic, message)
        .await
        .unwrap_or_else(|err| panic!("send to {topic}: {err}"));
    assert_eq!(sent.status, SendStatus::SendOk);
    sent
}

/// Acks a batch and checks every receipt was taken.
async fn ack_all(client: &Client, group: &str, batch: &[Received]) {
    if batch.is_empty() {
        return;
    }
    let result = client.ack(group, &receipts(batch)).await.expect("ack");
    assert_eq!(
        (result.count, result.failed.len()),
        (batch.len(), 0),
        "every receipt is taken: {result:?}"
    );
}

/// The lag of the topic's queues (without the retry queue), in queue order.
fn topic_queues(lag: &Lag) -> Vec<(u32, u64, u64, u64, u64)> {
    let mut queues: Vec<_> = lag
        .queues
        .iter()
        .filter(|q| !q.retry)
        .map(|q| (q.queue, q.committed, q.max_offset, q.lag, q.in_flight))
        .collect();
    queues.sort();
    queues
}

// ---------------------------------------------------------------------------------------
// FIFO

const FIFO_TOPIC: &str = "payments";
const FIFO_GROUP: &str = "ledger";
const MESSAGE_GROUPS: usize = 6;
const PER_MESSAGE_GROUP: usize = 8;
const FIFO_CONSUMERS: usize = 3;
const FIFO_MAX_ATTEMPTS: u32 = 3;
const POISON: &str = "mg2-3";

/// One delivery as a FIFO consumer handled it. `seq` is taken when the receive returned:
/// a message of a message group is only delivered after the previous one was settled, so
/// `seq` orders the deliveries of one message group as the broker made them.
#[derive(Debug, Clone)]
struct Handled {
    seq: u64,
    id: String,
    attempt: u32,
    acked: bool,
}

#[derive(Default)]
struct FifoLog {
    handled: Vec<Handled>,
    errors: Vec<String>,
}

async fn fifo_consumer(
    client: Client,
    log: Arc<Mutex<FifoLog>>,
    seq: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let options = ReceiveOptions::new(4, 300);
    while !stop.load(Ordering::Relaxed) {
        let batch = match client.receive(FIFO_GROUP, &options).await {
            Ok(batch) => batch,
            Err(err) => {
                log.lock().unwrap().errors.push(format!("receive: {err}"));
                return;
            }
        };
        let numbered: Vec<(u64, Received)> = batch
            .into_iter()
            .map(|m| (seq.fetch_add(1, Ordering::SeqCst), m))
            .collect();
        let mut in_batch = HashSet::new();
        for (_, message) in &numbered {
            let group = message.properties.get("mg").cloned().unwrap_or_default();
            if !in_batch.insert(group.clone()) {
                log.lock().unwrap().errors.push(format!(
                    "two messages of message group {group} delivered at once"
                ));
            }
        }
        for (seq, message) in numbered {
            // The handler: the poison message always fails; others fail at random, but
            // never on their last attempt (they must not end in the dead-letter queue).
            let fails = message.id == POISON
                || (message.attempt < FIFO_MAX_ATTEMPTS && rng.random_bool(0.2));
            let receipt = vec![message.receipt.clone()];
            let result = if fails {
                client.nack(FIFO_GROUP, &receipt, None).await
            } else {
                client.ack(FIFO_GROUP, &receipt).await
            };
            let mut log = log.lock().unwrap();
            match result {
                Ok(result) if result.count == 1 && result.failed.is_empty() => {
                    log.handled.push(Handled {
                        seq,
                        id: message.id.clone(),
                        attempt: message.attempt,
                        acked: !fails,
                    });
                }
                other => log
                    .errors
                    .push(format!("settling {} failed: {other:?}", message.id)),
            }
        }
    }
}

#[test]
fn fifo_group_keeps_order_per_message_group_and_dead_letters_the_poison() {
    let seed = support::seed();
    eprintln!("fifo: WEIR_TEST_SEED={seed}");
    let broker = Broker::start(&[]);
    let rt = support::multi_thread_runtime();
    let client = broker.client();
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    rt.block_on(async {
        client
            .create_topic(FIFO_TOPIC, Some(2))
            .await
            .expect("create the topic");
        let group = client
            .create_group(
                &NewGroup::new(FIFO_GROUP, FIFO_TOPIC)
                    .fifo(true)
                    .max_attempts(FIFO_MAX_ATTEMPTS)
                    .backoff_ms(vec![50])
                    .invisible_ms(10_000)
                    .from("earliest"),
            )
            .await
            .expect("create the group");
        assert!(group.fifo);
        assert_eq!(group.max_attempts, FIFO_MAX_ATTEMPTS);
        assert_eq!(group.backoff_ms, vec![50]);
        // Interleaved across message groups, in order within each.
        for i in 0..PER_MESSAGE_GROUP {
            for g in 0..MESSAGE_GROUPS {
                let id = format!("mg{g}-{i}");
                let message = OutgoingMessage::new(id.clone())
                    .with_id(&id)
                    .with_message_group(format!("mg{g}"))
                    .with_property("mg", format!("mg{g}"));
                send(&client, FIFO_TOPIC, &message).await;
                if id != POISON {
                    expected.entry(format!("mg{g}")).or_default().push(id);
                }
            }
        }
    });
    let to_ack: usize = expected.values().map(Vec::len).sum();

    let log = Arc::new(Mutex::new(FifoLog::default()));
    let seq = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let consumers: Vec<_> = (0..FIFO_CONSUMERS)
        .map(|c| {
            rt.spawn(fifo_consumer(
                broker.client(),
                Arc::clone(&log),
                Arc::clone(&seq),
                Arc::clone(&stop),
                seed.wrapping_add(c as u64),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (acked, poison_nacks, failed) = {
            let log = log.lock().unwrap();
            let acked = log.handled.iter().filter(|h| h.acked).count();
            let poison = log.handled.iter().filter(|h| h.id == POISON).count();
            (acked, poison, !log.errors.is_empty())
        };
        if (acked >= to_ack && poison_nacks >= FIFO_MAX_ATTEMPTS as usize)
            || failed
            || Instant::now() > deadline
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for consumer in consumers {
            tokio::time::timeout(Duration::from_secs(20), consumer)
                .await
                .expect("consumers stop")
                .expect("consumer task");
        }
    });

    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "consumer errors: {:#?}", log.errors);
    let mut handled = log.handled.clone();
    handled.sort_by_key(|h| h.seq);
    let group_of = |id: &str| id.split('-').next().unwrap_or_default().to_owned();

    // Per message group, the ack order is the send order.
    for (group, ids) in &expected {
        let acked: Vec<&str> = handled
            .iter()
            .filter(|h| h.acked && group_of(&h.id) == *group)
            .map(|h| h.id.as_str())
            .collect();
        assert_eq!(acked, *ids, "ack order of message group {group}");
    }

    // Per message group, deliveries follow the head of the group: a message is delivered
    // again (with the next attempt number) until it is acked or dead-lettered, and only
    // then does the next one come.
    for group in expected.keys() {
        let mut order: Vec<String> = (0..PER_MESSAGE_GROUP)
            .map(|i| format!("{group}-{i}"))
            .collect();
        order.reverse();
        let mut head = order.pop();
        let mut attempt = 1;
        for h in handled.iter().filter(|h| group_of(&h.id) == *group) {
            assert_eq!(
                Some(&h.id),
                head.as_ref(),
                "message group {group}: delivery {h:?} is not the head of the group"
            );
            assert_eq!(h.attempt, attempt, "attempt number of {h:?}");
            let dead = h.id == POISON && h.attempt == FIFO_MAX_ATTEMPTS;
            if h.acked || dead {
                head = order.pop();
                attempt = 1;
            } else {
                attempt += 1;
            }
        }
        assert_eq!(head, None, "message group {group} is done");
    }
    let poison: Vec<&Handled> = handled.iter().filter(|h| h.id == POISON).collect();
    assert_eq!(
        poison
            .iter()
            .map(|h| (h.attempt, h.acked))
            .collect::<Vec<_>>(),
        vec![(1, false), (2, false), (3, false)],
        "the poison message is delivered max_attempts times"
    );

    // The poison message is in the dead-letter queue, with its attempts.
    let page = get(broker.addr(), &format!("/v1/groups/{FIFO_GROUP}/dlq")).expect("GET dlq");
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    let letters = page["dead_letters"].as_array().expect("dead_letters array");
    assert_eq!(letters.len(), 1, "one dead letter: {page}");
    let letter = &letters[0];
    assert_eq!(letter["original_id"], POISON);
    assert_eq!(letter["attempts"], FIFO_MAX_ATTEMPTS);
    assert_eq!(letter["topic"], FIFO_TOPIC);
    assert_eq!(letter["body"], POISON);
    assert_eq!(letter["properties"]["mg"], "mg2");
    assert_eq!(page["max_offset"], 1);
    assert_eq!(page["next_offset"], 1);
    rt.block_on(async {
        let by_id = client
            .dead_letter(FIFO_GROUP, POISON)
            .await
            .expect("dead letter by original id");
        assert_eq!((by_id.original_id.as_str(), by_id.attempts), (POISON, 3));
        let description = client.describe_group(FIFO_GROUP).await.expect("describe");
        assert_eq!(description.dead_letters, 1);
        assert_eq!(description.counters.dead_lettered, 1);
        assert_eq!(description.counters.acked, to_ack as u64);
        let lag = client.lag(FIFO_GROUP, None).await.expect("lag");
        assert_eq!(lag.total, 0, "everything is done: {lag:?}");
    });
}

// ---------------------------------------------------------------------------------------
// Redelivery timing

/// Receives exactly one message with a long poll and returns it with the time the answer
/// came.
async fn receive_one(
    client: &Client,
    group: &str,
    options: &ReceiveOptions,
) -> (Received, Instant) {
    let mut batch = client.receive(group, options).await.expect("receive");
    let at = Instant::now();
    assert_eq!(batch.len(), 1, "one message: {batch:?}");
    (batch.remove(0), at)
}

/// The broker keeps due times in whole milliseconds of wall-clock time, so a redelivery
/// measured on the monotonic clock may come up to this much before nack time + delay.
const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// Acks a stale receipt and checks it is refused as expired, taking nothing.
async fn assert_receipt_expired(client: &Client, group: &str, receipt: &str) {
    let stale = client
        .ack(group, &[receipt.to_owned()])
        .await
        .expect("an ack with a stale receipt is answered");
    assert_eq!(stale.count, 0, "a stale receipt acks nothing: {stale:?}");
    assert_eq!(stale.failed.len(), 1, "{stale:?}");
    assert_eq!(stale.failed[0].code, "RECEIPT_EXPIRED");
    assert_eq!(stale.failed[0].receipt, receipt);
}

#[test]
fn redelivery_waits_for_the_backoff_and_the_invisible_time() {
    const TOPIC: &str = "timing";
    const GROUP: &str = "slow";
    let broker = Broker::start(&[]);
    let rt = support::multi_thread_runtime();
    let client = broker.client();
    rt.block_on(async {
        client.create_topic(TOPIC, Some(1)).await.expect("topic");
        client
            .create_group(
                &NewGroup::new(GROUP, TOPIC)
                    .backoff_ms(vec![300, 600])
                    .max_attempts(10)
                    .invisible_ms(20_000)
                    .from("earliest"),
            )
            .await
            .expect("group");
        let long_poll = ReceiveOptions::new(1, 10_000);

        // Nack: the message comes back after the backoff of its attempt (the last step
        // repeats), not before.
        send(&client, TOPIC, &OutgoingMessage::new("a").with_id("a")).await;
        let (mut current, _) = receive_one(&client, GROUP, &long_poll).await;
        assert_eq!((current.id.as_str(), current.attempt), ("a", 1));
        let first_delivery_ms = current.first_delivery_ms;
        for (attempt, backoff_ms) in [(2, 300u64), (3, 600), (4, 600)] {
            let nacked_at = Instant::now();
            let nacked = client
                .nack(GROUP, &[current.receipt.clone()], None)
                .await
                .expect("nack");
            assert_eq!((nacked.count, nacked.failed.len()), (1, 0));
            let (again, at) = receive_one(&client, GROUP, &long_poll).await;
            assert_eq!((again.id.as_str(), again.attempt), ("a", attempt));
            assert_eq!(again.first_delivery_ms, first_delivery_ms);
            assert_ne!(again.receipt, current.receipt);
            let waited = at - nacked_at;
            assert!(
                waited + CLOCK_GRANULARITY >= Duration::from_millis(backoff_ms),
                "attempt {attempt} came {waited:?} after the nack, before its backoff of \
                 {backoff_ms} ms"
            );
            // The receipt of the nacked delivery is spent.
            assert_receipt_expired(&client, GROUP, &current.receipt).await;
            current = again;
        }
        // A nack with an explicit delay takes that delay instead of the backoff.
        let nacked_at = Instant::now();
        client
            .nack(GROUP, &[current.receipt.clone()], Some(400))
            .await
            .expect("nack with a delay");
        let (again, at) = receive_one(&client, GROUP, &long_poll).await;
        assert_eq!((again.id.as_str(), again.attempt), ("a", 5));
        assert!(
            at - nacked_at + CLOCK_GRANULARITY >= Duration::from_millis(400),
            "redelivered {:?} after a nack with delay 400 ms",
            at - nacked_at
        );
        ack_all(&client, GROUP, &[again]).await;

        // Invisible time: a delivery neither acked nor nacked comes back, as attempt 2,
        // once its invisible time has passed, not before.
        send(&client, TOPIC, &OutgoingMessage::new("b").with_id("b")).await;
        let asked_at = Instant::now();
        let (first, _) = receive_one(
            &client,
            GROUP,
            &ReceiveOptions::new(1, 10_000).invisible_ms(500),
        )
        .await;
        assert_eq!((first.id.as_str(), first.attempt), ("b", 1));
        let (again, at) = receive_one(&client, GROUP, &long_poll).await;
        assert_eq!((again.id.as_str(), again.attempt), ("b", 2));
        assert_eq!(again.first_delivery_ms, first.first_delivery_ms);
        assert!(
            at - asked_at + CLOCK_GRANULARITY >= Duration::from_millis(500),
            "redelivered {:?} after the receive, before the invisible time of 500 ms",
            at - asked_at
        );
        assert_receipt_expired(&client, GROUP, &first.receipt).await;
        ack_all(&client, GROUP, &[again]).await;

        // Change of invisible time: extends the delivery past its original invisible
        // time; the new receipt acks, the old one is expired.
        send(&client, TOPIC, &OutgoingMessage::new("c").with_id("c")).await;
        let (first, _) = receive_one(
            &client,
            GROUP,
            &ReceiveOptions::new(1, 10_000).invisible_ms(500),
        )
        .await;
        assert_eq!((first.id.as_str(), first.attempt), ("c", 1));
        let changed_at = Instant::now();
        let renewed = client
            .change_invisible(GROUP, &first.receipt, 15_000)
            .await
            .expect("change the invisible time");
        assert_ne!(renewed, first.receipt);
        // Well past the original 500 ms, well within the new 15 s.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let early = client
            .receive(GROUP, &ReceiveOptions::new(1, 0))
            .await
            .expect("receive");
        assert!(
            early.is_empty() || changed_at.elapsed() >= Duration::from_secs(15),
            "redelivered {:?} after its invisible time was extended to 15 s: {early:?}",
            changed_at.elapsed()
        );
        assert_receipt_expired(&client, GROUP, &first.receipt).await;
        assert_api_error(
            client.change_invisible(GROUP, &first.receipt, 1000).await,
            409,
            "RECEIPT_EXPIRED",
        );
        let done = client.ack(GROUP, &[renewed]).await.expect("ack renewed");
        assert_eq!((done.count, done.failed.len()), (1, 0));

        let lag = client.lag(GROUP, None).await.expect("lag");
        assert_eq!(lag.total, 0, "{lag:?}");
        let counters = client
            .describe_group(GROUP)
            .await
            .expect("describe")
            .counters;
        assert_eq!(counters.acked, 3);
        assert_eq!(counters.nacked, 4);
        assert_eq!(counters.delivered, 8);
        assert_eq!(counters.redelivered, 5);
    });
}

// ---------------------------------------------------------------------------------------
// Broadcasting

/// Receives as `consumer` until `n` messages came (bounded), acking each batch; returns
/// the ids in delivery order.
async fn receive_all_as(client: &Client, group: &str, consumer: &str, n: usize) -> Vec<String> {
    let options = ReceiveOptions::new(7, 200).consumer(consumer);
    let mut ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ids.len() < n && Instant::now() < deadline {
        let batch = client.receive(group, &options).await.expect("receive");
        ack_all(client, group, &batch).await;
        ids.extend(batch.into_iter().map(|m| m.id));
    }
    ids
}

#[test]
fn broadcasting_members_each_get_every_message_once() {
    const TOPIC: &str = "news";
    const GROUP: &str = "readers";
    const N: usize = 30;
    let broker = Broker::start(&[]);
    let rt = support::multi_thread_runtime();
    let client = broker.client();
    rt.block_on(async {
        client.create_topic(TOPIC, Some(3)).await.expect("topic");
        let group = client
            .create_group(
                &NewGroup::new(GROUP, TOPIC)
                    .mode("broadcasting")
                    .from("earliest"),
            )
            .await
            .expect("group");
        assert_eq!(group.mode, "broadcasting");
        let all: Vec<String> = (0..N).map(|i| format!("n{i:02}")).collect();
        for id in &all {
            send(
                &client,
                TOPIC,
                &OutgoingMessage::new(id.clone()).with_id(id),
            )
            .await;
        }
        assert_api_error(
            client.receive(GROUP, &ReceiveOptions::new(5, 0)).await,
            400,
            "CONSUMER_REQUIRED",
        );

        // Two members, receiving concurrently.
        let (one, two) = tokio::join!(
            receive_all_as(&client, GROUP, "one", N),
            receive_all_as(&client, GROUP, "two", N)
        );
        for (member, ids) in [("one", one), ("two", two)] {
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(
                sorted, all,
                "{member} gets every message exactly once: {ids:?}"
            );
            let more = client
                .receive(GROUP, &ReceiveOptions::new(10, 300).consumer(member))
                .await
                .expect("receive");
            assert!(more.is_empty(), "{member} gets nothing more: {more:?}");
            let lag = client.lag(GROUP, Some(member)).await.expect("lag");
            assert_eq!(lag.total, 0, "{member}: {lag:?}");
        }

        // A member joining later starts where the group started: from the earliest.
        let lag = client.lag(GROUP, Some("three")).await.expect("lag");
        assert_eq!(
            lag.total, N as u64,
            "a new member has everything ahead: {lag:?}"
        );
        let mut three = receive_all_as(&client, GROUP, "three", N).await;
        three.sort();
        assert_eq!(three, all, "the late member gets every message");
        let description = client.describe_group(GROUP).await.expect("describe");
        let mut members = description.members.clone();
        // Members are listed as they joined; "one" and "two" joined concurrently.
        assert_eq!(members.last().map(String::as_str), Some("three"));
        members.sort();
        assert_eq!(members, vec!["one", "three", "two"]);
        assert_eq!(description.counters.delivered, 3 * N as u64);
        assert_eq!(description.counters.redelivered, 0);
    });
}

// ---------------------------------------------------------------------------------------
// Lag, offsets, resets

/// Expected (committed, lag, in_flight) of a queue of 10 messages from the offsets acked
/// and the offsets delivered but not acked.
fn expected_queue(acked: &HashSet<u64>, in_flight: &HashSet<u64>) -> (u64, u64, u64) {
    let committed = (0..10).find(|o| !acked.contains(o)).unwrap_or(10);
    (committed, 10 - committed, in_flight.len() as u64)
}

#[test]
fn lag_and_offsets_are_exact_and_resets_move_them() {
    const TOPIC: &str = "ledger";
    const GROUP: &str = "audit";
    let broker = Broker::start(&[]);
    let rt = support::multi_thread_runtime();
    let client = broker.client();
    rt.block_on(async {
        client.create_topic(TOPIC, Some(2)).await.expect("topic");
        for queue in 0..2u32 {
            for i in 0..10u64 {
                let id = format!("q{queue}-{i}");
                let sent = send(
                    &client,
                    TOPIC,
                    &OutgoingMessage::new(id.clone())
                        .with_id(&id)
                        .with_queue(queue),
                )
                .await;
                assert_eq!((sent.queue, sent.offset), (queue, i));
            }
            // Queue 1's messages are all stored strictly later than queue 0's.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let late = client
            .create_group(&NewGroup::new("late", TOPIC))
            .await
            .expect("group from latest");
        assert_eq!(late.from, "latest");
        assert_eq!(client.lag("late", None).await.expect("lag").total, 0);
        client
            .create_group(&NewGroup::new(GROUP, TOPIC).from("earliest"))
            .await
            .expect("group");
        let lag = client.lag(GROUP, None).await.expect("lag");
        assert_eq!(lag.group, GROUP);
        assert_eq!(lag.total, 20);
        assert_eq!(
            topic_queues(&lag),
            vec![(0, 0, 10, 10, 0), (1, 0, 10, 10, 0)]
        );
        assert!(lag.oldest_age_ms >= 0);

        // Receive 5 and ack them, then receive 3 more and hold them.
        let mut acked: [HashSet<u64>; 2] = Default::default();
        let mut held: [HashSet<u64>; 2] = Default::default();
        let first = client
            .receive(GROUP, &ReceiveOptions::new(5, 0))
            .await
            .expect("receive");
        assert_eq!(first.len(), 5);
        ack_all(&client, GROUP, &first).await;
        for m in &first {
            assert!(acked[m.queue as usize].insert(m.offset));
        }
        let second = client
            .receive(GROUP, &ReceiveOptions::new(3, 0))
            .await
            .expect("receive");
        assert_eq!(second.len(), 3);
        for m in &second {
            assert!(
                !acked[m.queue as usize].contains(&m.offset),
                "acked messages are not delivered again"
            );
            assert!(held[m.queue as usize].insert(m.offset));
        }
        let check = |lag: &Lag, acked: &[HashSet<u64>; 2], held: &[HashSet<u64>; 2]| {
            let want: Vec<_> = (0..2u32)
                .map(|q| {
                    let (committed, lag, in_flight) =
                        expected_queue(&acked[q as usize], &held[q as usize]);
                    (q, committed, 10, lag, in_flight)
                })
                .collect();
            assert_eq!(topic_queues(lag), want, "{lag:?}");
            assert_eq!(lag.total, want.iter().map(|w| w.3).sum::<u64>());
        };
        let lag = client.lag(GROUP, None).await.expect("lag");
        check(&lag, &acked, &held);
        let offsets = client.offsets(GROUP, None).await.expect("offsets");
        let committed: Vec<(u32, u64)> = offsets.iter().map(|o| (o.queue, o.committed)).collect();
        let want: Vec<(u32, u64)> = topic_queues(&lag).iter().map(|q| (q.0, q.1)).collect();
        assert_eq!(committed, want, "offsets agree with lag");
        ack_all(&client, GROUP, &second).await;
        for q in 0..2 {
            acked[q].extend(held[q].drain());
        }
        check(&client.lag(GROUP, None).await.expect("lag"), &acked, &held);

        // Reset one queue to an offset.
        let reset = client
            .reset_group(GROUP, &ResetRequest::offset(7).queue(1))
            .await
            .expect("reset to offset");
        assert_eq!(
            reset
                .iter()
                .map(|o| (o.queue, o.committed))
                .collect::<Vec<_>>(),
            vec![(1, 7)]
        );
        let lag = client.lag(GROUP, None).await.expect("lag");
        let q0_committed = expected_queue(&acked[0], &HashSet::new()).0;
        assert_eq!(
            topic_queues(&lag),
            vec![
                (0, q0_committed, 10, 10 - q0_committed, 0),
                (1, 7, 10, 3, 0)
            ]
        );

        // Earliest, latest.
        let reset = client
            .reset_group(GROUP, &ResetRequest::earliest())
            .await
            .expect("reset to earliest");
        assert_eq!(
            reset
                .iter()
                .map(|o| (o.queue, o.committed))
                .collect::<Vec<_>>(),
            vec![(0, 0), (1, 0)]
        );
        let lag = client.lag(GROUP, None).await.expect("lag");
        assert_eq!(lag.total, 20, "{lag:?}");
        client
            .reset_group(GROUP, &ResetRequest::latest())
            .await
            .expect("reset to latest");
        let lag = client.lag(GROUP, None).await.expect("lag");
        assert_eq!(
            topic_queues(&lag),
            vec![(0, 10, 10, 0, 0), (1, 10, 10, 0, 0)]
        );
        assert!(
            client
                .receive(GROUP, &ReceiveOptions::new(10, 0))
                .await
                .expect("receive")
                .is_empty()
        );

        // Timestamp: just after queue 0's newest message, before queue 1's oldest.
        let q0 = client
            .read_queue(TOPIC, 0, 0, Some(10))
            .await
            .expect("read");
        let q1 = client
            .read_queue(TOPIC, 1, 0, Some(10))
            .await
            .expect("read");
        let cut = q0.messages.iter().map(|m| m.store_ms).max().expect("q0") + 1;
        assert!(
            q1.messages.iter().all(|m| m.store_ms >= cut),
            "precondition: queue 1 was stored after queue 0"
        );
        let reset = client
            .reset_group(GROUP, &ResetRequest::timestamp(cut as i64))
            .await
            .expect("reset to a time");
        assert_eq!(
            reset
                .iter()
                .map(|o| (o.queue, o.committed))
                .collect::<Vec<_>>(),
            vec![(0, 10), (1, 0)]
        );
        let lag = client.lag(GROUP, None).await.expect("lag");
        assert_eq!(
            topic_queues(&lag),
            vec![(0, 10, 10, 0, 0), (1, 0, 10, 10, 0)]
        );
        let again = client
            .receive(GROUP, &ReceiveOptions::new(20, 0))
            .await
            .expect("receive");
        let mut ids: Vec<String> = again.iter().map(|m| m.id.clone()).collect();
        ids.sort();
        let want: Vec<String> = (0..10).map(|i| format!("q1-{i}")).collect();
        assert_eq!(
            ids, want,
            "after the reset, queue 1 is delivered again, and only it"
        );
        ack_all(&client, GROUP, &again).await;
        assert_eq!(client.lag(GROUP, None).await.expect("lag").total, 0);

        // An explicit commit.
        client
            .commit_offset(GROUP, None, 0, 4)
            .await
            .expect("commit an offset");
        let offsets = client.offsets(GROUP, None).await.expect("offsets");
        assert_eq!(
            offsets
                .iter()
                .map(|o| (o.queue, o.committed))
                .collect::<Vec<_>>(),
            vec![(0, 4), (1, 10)]
        );
        assert_eq!(client.lag(GROUP, None).await.expect("lag").total, 6);

        // Out of range.
        assert_api_error(
            client
                .reset_group(GROUP, &ResetRequest::offset(11).queue(0))
                .await,
            400,
            "OFFSET_OUT_OF_RANGE",
        );
        assert_api_error(
            client
                .reset_group(GROUP, &ResetRequest::latest().queue(2))
                .await,
            404,
            "QUEUE_NOT_FOUND",
        );
        // A failed reset changes nothing.
        assert_eq!(client.lag(GROUP, None).await.expect("lag").total, 6);
    });
}

// ---------------------------------------------------------------------------------------
// Adding queues online

#[test]
fn queues_added_while_producers_run_lose_nothing() {
    const TOPIC: &str = "growing";
    const GROUP: &str = "all";
    const MESSAGES: usize = 400;
    let broker = Broker::start(&[]);
    let rt = support::multi_thread_runtime();
    let client = broker.client();
    rt.block_on(async {
        client.create_topic(TOPIC, Some(2)).await.expect("topic");
        client
            .create_group(&NewGroup::new(GROUP, TOPIC).from("earliest"))
            .await
            .expect("group");
    });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let received = Arc::new(Mutex::new(HashMap::<String, u32>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (client, sent) = (broker.client(), Arc::clone(&sent));
        rt.spawn(async move {
            for i in 0..MESSAGES {
                let id = format!("m{i:03}");
                let result = send(
                    &client,
                    TOPIC,
                    &OutgoingMessage::new(id.clone()).with_id(&id),
                )
                .await;
                sent.lock().unwrap().push((id, result.queue));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let consumer = {
        let (client, received, stop) = (broker.client(), Arc::clone(&received), Arc::clone(&stop));
        rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let batch = client
                    .receive(GROUP, &ReceiveOptions::new(16, 200))
                    .await
                    .expect("receive");
                ack_all(&client, GROUP, &batch).await;
                let mut received = received.lock().unwrap();
                for m in batch {
                    *received.entry(m.id).or_default() += 1;
                }
            }
        })
    };
    // Grow the topic once the producer is well under way.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sent.lock().unwrap().len() < MESSAGES / 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let grown = rt
        .block_on(client.add_queues(TOPIC, 6))
        .expect("add queues");
    assert_eq!((grown.name.as_str(), grown.queues), (TOPIC, 6));
    let shrink = RawRequest::new("PATCH", &format!("/v1/topics/{TOPIC}"))
        .json(r#"{"queues":3}"#)
        .send(broker.addr())
        .expect("PATCH");
    assert_error(&shrink, 400, "INVALID_ARGUMENT");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), producer)
            .await
            .expect("the producer finishes")
            .expect("producer task");
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = received.lock().unwrap().len() >= MESSAGES;
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), consumer)
            .await
            .expect("the consumer stops")
            .expect("consumer task");
    });

    let sent = sent.lock().unwrap();
    let received = received.lock().unwrap();
    let missing: Vec<&String> = sent
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !received.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    let redelivered: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        redelivered.is_empty(),
        "delivered twice without a failure: {redelivered:?}"
    );
    assert_eq!(received.len(), MESSAGES);
    let new_queues: HashSet<u32> = sent.iter().map(|(_, q)| *q).filter(|q| *q >= 2).collect();
    assert!(
        !new_queues.is_empty(),
        "sends after the growth reach the new queues"
    );
    rt.block_on(async {
        let lag = client.lag(GROUP, None).await.expect("lag");
        assert_eq!(lag.total, 0, "{lag:?}");
        assert_eq!(
            topic_queues(&lag).iter().map(|q| q.0).collect::<Vec<_>>(),
            (0..6).collect::<Vec<u32>>(),
            "lag reports the new queues"
        );
        let topic = client.describe_topic(TOPIC).await.expect("describe topic");
        assert_eq!(topic.queues, 6);
        assert_eq!(topic.messages, MESSAGES as u64);
    });
}

// ---------------------------------------------------------------------------------------
// Bad input over raw HTTP

fn post(broker: &Broker, path: &str, body: &str) -> support::RawResponse {
    RawRequest::new("POST", path)
        .json(body)
        .send(broker.addr())
        .unwrap_or_else(|err| panic!("POST {path}: {err}"))
}

/// One receipt of `group` for a message it received over raw HTTP.
fn raw_receipt(broker: &Broker, group: &str) -> String {
    let answer = post(
        broker,
        &format!("/v1/groups/{group}/receive"),
        r#"{"max":1,"wait_ms":5000}"#,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body: Value = answer.json();
    body["messages"][0]["receipt"]
        .as_str()
        .unwrap_or_else(|| panic!("a message with a receipt: {body}"))
        .to_owned()
}

#[test]
fn bad_input_is_refused_and_the_server_keeps_serving() {
    let broker = Broker::start(&[]);
    let rt = support::multi_thread_runtime();
    let client = broker.client();
    rt.block_on(async {
        client.create_topic("t", Some(1)).await.expect("topic");
        for group in ["g", "h"] {
            client
                .create_group(&NewGroup::new(group, "t").from("earliest"))
                .await
                .expect("group");
        }
        client
            .create_group(
                &NewGroup::new("b", "t")
                    .mode("broadcasting")
                    .from("earliest"),
            )
            .await
            .expect("broadcasting group");
        send(&client, "t", &OutgoingMessage::new("x").with_id("x")).await;
    });

    // Unknown group, on every route.
    for (method, path, body) in [
        ("POST", "/v1/groups/nope/receive", "{}"),
        ("POST", "/v1/groups/nope/ack", r#"{"receipts":["r"]}"#),
        ("POST", "/v1/groups/nope/nack", r#"{"receipts":["r"]}"#),
        (
            "POST",
            "/v1/groups/nope/invisible",
            r#"{"receipt":"r","invisible_ms":1000}"#,
        ),
        ("POST", "/v1/groups/nope/reset", r#"{"to":"latest"}"#),
        ("GET", "/v1/groups/nope", ""),
        ("GET", "/v1/groups/nope/lag", ""),
        ("GET", "/v1/groups/nope/offsets", ""),
        ("GET", "/v1/groups/nope/dlq", ""),
        ("DELETE", "/v1/groups/nope", ""),
    ] {
        let mut request = RawRequest::new(method, path);
        if !body.is_empty() {
            request = request.json(body);
        }
        let answer = request.send(broker.addr()).expect(path);
        assert_error(&answer, 404, "GROUP_NOT_FOUND");
    }

    // Group administration.
    assert_error(
        &post(&broker, "/v1/groups", r#"{"name":"g","topic":"t"}"#),
        409,
        "GROUP_EXISTS",
    );
    assert_error(
        &post(&broker, "/v1/groups", r#"{"name":"bad name","topic":"t"}"#),
        400,
        "INVALID_GROUP_NAME",
    );
    assert_error(
        &post(&broker, "/v1/groups", r#"{"name":"x","topic":"missing"}"#),
        404,
        "TOPIC_NOT_FOUND",
    );
    assert_error(
        &post(
            &broker,
            "/v1/groups",
            r#"{"name":"x","topic":"t","mode":"anycast"}"#,
        ),
        400,
        "INVALID_JSON",
    );

    // Receipts: of another group, garbage, empty list.
    let receipt = raw_receipt(&broker, "g");
    for route in ["ack", "nack"] {
        let body = format!(r#"{{"receipts":["{receipt}"]}}"#);
        assert_error(
            &post(&broker, &format!("/v1/groups/h/{route}"), &body),
            400,
            "RECEIPT_INVALID",
        );
        for garbage in ["garbage", "", "0000", "%00"] {
            let body = format!(r#"{{"receipts":["{garbage}"]}}"#);
            assert_error(
                &post(&broker, &format!("/v1/groups/g/{route}"), &body),
                400,
                "RECEIPT_INVALID",
            );
        }
        // A malformed receipt fails the whole request: the good one is not taken.
        let body = format!(r#"{{"receipts":["{receipt}","garbage"]}}"#);
        assert_error(
            &post(&broker, &format!("/v1/groups/g/{route}"), &body),
            400,
            "RECEIPT_INVALID",
        );
        assert_error(
            &post(
                &broker,
                &format!("/v1/groups/g/{route}"),
                r#"{"receipts":[]}"#,
            ),
            400,
            "INVALID_ARGUMENT",
        );
    }
    let body = format!(r#"{{"receipt":"{receipt}","invisible_ms":1000}}"#);
    assert_error(
        &post(&broker, "/v1/groups/h/invisible", &body),
        400,
        "RECEIPT_INVALID",
    );
    assert_error(
        &post(
            &broker,
            "/v1/groups/g/invisible",
            r#"{"receipt":"garbage","invisible_ms":1000}"#,
        ),
        400,
        "RECEIPT_INVALID",
    );

    // Numbers of the wrong type (negative, fractional, too large for their type, not a
    // number) are INVALID_JSON; numbers out of range are INVALID_ARGUMENT.
    for body in [
        r#"{"wait_ms":-1}"#,
        r#"{"invisible_ms":-5}"#,
        r#"{"max":-1}"#,
        r#"{"max":1.5}"#,
        r#"{"wait_ms":"100"}"#,
        r#"{"wait_ms":1e3}"#,
        r#"{"invisible_ms":18446744073709551616}"#,
    ] {
        assert_error(
            &post(&broker, "/v1/groups/g/receive", body),
            400,
            "INVALID_JSON",
        );
    }
    let body = format!(r#"{{"receipt":"{receipt}","invisible_ms":-1}}"#);
    assert_error(
        &post(&broker, "/v1/groups/g/invisible", &body),
        400,
        "INVALID_JSON",
    );
    let body = format!(r#"{{"receipts":["{receipt}"],"delay_ms":-1}}"#);
    assert_error(
        &post(&broker, "/v1/groups/g/nack", &body),
        400,
        "INVALID_JSON",
    );
    for body in [
        r#"{"invisible_ms":100000000000}"#,
        r#"{"invisible_ms":18446744073709551615}"#,
        r#"{"invisible_ms":1}"#,
        r#"{"max":0}"#,
        r#"{"max":1001}"#,
        r#"{"wait_ms":30001}"#,
    ] {
        assert_error(
            &post(&broker, "/v1/groups/g/receive", body),
            400,
            "INVALID_ARGUMENT",
        );
    }
    for invisible in ["100000000000", "1"] {
        let body = format!(r#"{{"receipt":"{receipt}","invisible_ms":{invisible}}}"#);
        assert_error(
            &post(&broker, "/v1/groups/g/invisible", &body),
            400,
            "INVALID_ARGUMENT",
        );
    }
    let body = format!(r#"{{"receipts":["{receipt}"],"delay_ms":100000000000}}"#);
    assert_error(
        &post(&broker, "/v1/groups/g/nack", &body),
        400,
        "INVALID_ARGUMENT",
    );
    assert_error(
        &post(
            &broker,
            "/v1/groups",
            r#"{"name":"y","topic":"t","invisible_ms":100000000000}"#,
        ),
        400,
        "INVALID_ARGUMENT",
    );
    assert_error(
        &post(&broker, "/v1/groups/g/reset", r#"{"to":"offset"}"#),
        400,
        "INVALID_ARGUMENT",
    );
    assert_error(
        &post(&broker, "/v1/groups/g/receive", r#"{"max":1"#),
        400,
        "INVALID_JSON",
    );
    assert_error(
        &post(&broker, "/v1/groups/g/receive", r#"{"unknown":1}"#),
        400,
        "INVALID_JSON",
    );

    // Broadcasting groups need a consumer name.
    assert_error(
        &post(&broker, "/v1/groups/b/receive", r#"{"max":1}"#),
        400,
        "CONSUMER_REQUIRED",
    );
    assert_error(
        &get(broker.addr(), "/v1/groups/b/lag").expect("GET lag"),
        400,
        "CONSUMER_REQUIRED",
    );

    // After all of that the server serves, and the refused requests changed nothing: the
    // message received above is still in flight with its receipt, and acks with it.
    let health = get(broker.addr(), "/healthz").expect("healthz");
    assert_eq!(health.status, 200);
    let acked = post(
        &broker,
        "/v1/groups/g/ack",
        &format!(r#"{{"receipts":["{receipt}"]}}"#),
    );
    assert_eq!(acked.status, 200, "{}", acked.text());
    assert_eq!(acked.json()["acked"], 1);
    rt.block_on(async {
        assert_eq!(client.lag("g", None).await.expect("lag").total, 0);
        // Group h never received: the foreign receipt took nothing from it.
        let batch = client
            .receive("h", &ReceiveOptions::new(5, 0))
            .await
            .expect("receive");
        assert_eq!(batch.len(), 1);
        ack_all(&client, "h", &batch).await;
        let batch = client
            .receive("b", &ReceiveOptions::new(5, 0).consumer("c1"))
            .await
            .expect("receive");
        assert_eq!(
            batch.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            vec!["x"]
        );
        match client.receive("nope", &ReceiveOptions::default()).await {
            Err(ClientError::Api {
                status: 404, code, ..
            }) => assert_eq!(code, "GROUP_NOT_FOUND"),
            other => panic!("expected GROUP_NOT_FOUND, got {other:?}"),
        }
        // A later group of the same name refuses the receipts of the deleted one.
        send(&client, "t", &OutgoingMessage::new("y").with_id("y")).await;
        let batch = client
            .receive("g", &ReceiveOptions::new(1, 5000))
            .await
            .expect("receive");
        assert_eq!(batch.len(), 1);
        client.delete_group("g").await.expect("delete");
        assert_api_error(
            client.ack("g", &receipts(&batch)).await,
            404,
            "GROUP_NOT_FOUND",
        );
        client
            .create_group(&NewGroup::new("g", "t").from("earliest"))
            .await
            .expect("create again");
        assert_api_error(
            client.ack("g", &receipts(&batch)).await,
            400,
            "RECEIPT_INVALID",
        );
        let fresh = client
            .receive("g", &ReceiveOptions::new(10, 0))
            .await
            .expect("receive");
        assert_eq!(
            fresh
                .iter()
                .map(|m| (m.id.as_str(), m.attempt))
                .collect::<Vec<_>>(),
            vec![("x", 1), ("y", 1)],
            "the new group starts afresh"
        );
    });
    assert_eq!(get(broker.addr(), "/healthz").expect("healthz").status, 200);
}

#[test]
fn a_client_hanging_up_during_a_long_poll_loses_nothing() {
    use std::io::Write as _;

    let broker = Broker::start(&[]);
    let rt = support::multi_thread_runtime();
    let client = broker.client();
    rt.block_on(async {
        client.create_topic("t", Some(1)).await.expect("topic");
        client
            .create_group(&NewGroup::new("g", "t").from("earliest"))
            .await
            .expect("group");
    });
    // Long polls that hang up before a message comes; the message is sent while the
    // broker may still be waiting on their behalf.
    for _ in 0..3 {
        let request = RawRequest::new("POST", "/v1/groups/g/receive")
            .json(r#"{"max":10,"wait_ms":3000,"invisible_ms":500}"#)
            .encode();
        let mut stream =
            std::net::TcpStream::connect(broker.addr()).expect("connect to the broker");
        stream.write_all(&request).expect("write the request");
        drop(stream);
    }
    std::thread::sleep(Duration::from_millis(100));
    rt.block_on(async {
        send(&client, "t", &OutgoingMessage::new("m").with_id("m")).await;
        // Handed to a request that hung up, it comes back after its invisible time; else
        // it is delivered at once.
        let batch = client
            .receive("g", &ReceiveOptions::new(10, 10_000))
            .await
            .expect("receive");
        assert_eq!(
            batch.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            vec!["m"],
            "the message is delivered"
        );
        ack_all(&client, "g", &batch).await;
        assert_eq!(client.lag("g", None).await.expect("lag").total, 0);
    });
}

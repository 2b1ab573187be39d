//! At-least-once consumption through a clustering consumer group while the real broker is
//! killed with `kill -9` and restarted, with `--flush sync` and with the default async
//! flush.
//!
//! Two producers send messages with unique, client-chosen ids; three consumers receive
//! with long polls, note each delivery in a shared ledger and ack it. Every client retries
//! on connection errors (with a bounded patience) while the broker is down. After the
//! kills the producers stop and the consumers drain until every message whose send was
//! acknowledged has been delivered (a bounded wait with a deadline). The checks:
//!
//! * every message whose send was acknowledged was delivered and acked at least once;
//! * nothing is delivered that was never sent;
//! * duplicates (deliveries of an id already acked) and redeliveries (any delivery of an id
//!   already delivered) stay within the documented bound: at most the messages in flight
//!   at each kill, that is (consumers × receive max) × kills;
//! * at the end the group's lag is 0 on every queue and nothing is in flight.
//!
//! A FIFO group goes through the same kills: per message group, deliveries never go back
//! to an earlier message (a message in flight at a kill may come again, but nothing after
//! it comes before it is acked).
//!
//! Set `WEIR_TEST_SEED` to replay the kill schedule of a failing run; the seed is printed.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::Broker;
use weir_client::{
    AckResult, Client, ClientError, NewGroup, OutgoingMessage, ReceiveOptions, Received, SendStatus,
};

const TOPIC: &str = "orders";
const GROUP: &str = "workers";
const QUEUES: u32 = 4;
const PRODUCERS: usize = 2;
const CONSUMERS: usize = 3;
/// Most messages one receive returns: with the consumer count, the most that can be in
/// flight at a kill.
const RECEIVE_MAX: u32 = 8;
const KILLS: u32 = 5;
/// Short, so that deliveries whose answer or ack was lost in a kill come back quickly.
const INVISIBLE_MS: u64 = 2000;
/// Long-poll wait of one receive.
const WAIT_MS: u64 = 500;
/// Longest time a consumer spends on a batch between receive and ack.
const HANDLING_MAX_MS: u64 = 20;
/// Pause between two sends of one producer, so that the consumers keep up.
const SEND_PAUSE: Duration = Duration::from_millis(3);
/// Pause before retrying a request that met a connection error.
const RETRY_PAUSE: Duration = Duration::from_millis(25);
/// How long a client keeps retrying a request through connection errors: longer than a
/// restart of the broker can take.
const RETRY_PATIENCE: Duration = Duration::from_secs(20);
/// Deadline of the drain after the producers stopped.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// What the producers and consumers saw.
#[derive(Default)]
struct Ledger {
    /// Ids whose send was acknowledged with SEND_OK.
    sent: HashSet<String>,
    /// Ids whose send got no answer (the broker died meanwhile): stored or not.
    unsure_sent: HashSet<String>,
    /// Ids whose send could not even connect: never stored.
    unsent: HashSet<String>,
    /// Deliveries per id, as the consumers saw them.
    deliveries: HashMap<String, u32>,
    /// Ids whose ack the broker confirmed.
    acked: HashSet<String>,
    /// Ids whose ack got no answer even after retries.
    unsure_acked: HashSet<String>,
    /// Deliveries of an id already acked.
    duplicates: u64,
    /// Deliveries of an id already delivered.
    redeliveries: u64,
    /// Deliveries with an attempt number above 1 (the broker redelivered, whether or not
    /// a consumer saw the earlier delivery).
    later_attempts: u64,
    /// Receipts refused as expired in an ack (the message came back meanwhile).
    expired_acks: u64,
    /// Anything that must not happen while the broker is up; must stay empty.
    errors: Vec<String>,
}

impl Ledger {
    fn note_delivery(&mut self, message: &Received) {
        if self.acked.contains(&message.id) {
            self.duplicates += 1;
        }
        if message.attempt > 1 {
            self.later_attempts += 1;
        }
        let seen = self.deliveries.entry(message.id.clone()).or_default();
        if *seen > 0 {
            self.redeliveries += 1;
        }
        *seen += 1;
    }

    /// Whether every acknowledged send was delivered and its ack sent.
    fn drained(&self) -> bool {
        self.sent
            .iter()
            .all(|id| self.acked.contains(id) || self.unsure_acked.contains(id))
    }
}

fn is_connection_error(err: &ClientError) -> bool {
    matches!(err, ClientError::Transport(_))
}

/// A ledger that collects what must not happen while the broker is up.
trait ErrorLog {
    fn errors(&mut self) -> &mut Vec<String>;
}

impl ErrorLog for Ledger {
    fn errors(&mut self) -> &mut Vec<String> {
        &mut self.errors
    }
}

impl ErrorLog for FifoLedger {
    fn errors(&mut self) -> &mut Vec<String> {
        &mut self.errors
    }
}

/// Runs `call` until it gets an answer, retrying connection errors for at most
/// [`RETRY_PATIENCE`]; `None` when the broker stayed unreachable that long.
async fn with_retries<L, T, F, Fut>(
    ledger: &Mutex<L>,
    what: &str,
    mut call: F,
) -> Option<Result<T, ClientError>>
where
    L: ErrorLog,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let started = Instant::now();
    loop {
        match call().await {
            Err(err) if is_connection_error(&err) => {
                if started.elapsed() > RETRY_PATIENCE {
                    ledger.lock().unwrap().errors().push(format!(
                        "{what}: the broker stayed unreachable for {RETRY_PATIENCE:?}: {err}"
                    ));
                    return None;
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            answer => return Some(answer),
        }
    }
}

/// Sends until `stop`; a send without an answer is not retried (it may have been stored),
/// the next one waits for the broker to come back.
async fn produce(client: Client, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>, p: usize) {
    let mut n = 0u64;
    let mut unreachable_since: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let id = format!("p{p}-{n:06}");
        n += 1;
        let message = OutgoingMessage::new(format!("message {id}")).with_id(&id);
        match client.send(TOPIC, &message).await {
            Ok(sent) if sent.status == SendStatus::SendOk => {
                unreachable_since = None;
                let mut ledger = ledger.lock().unwrap();
                if sent.id != id {
                    ledger
                        .errors
                        .push(format!("send of {id} answered with id {}", sent.id));
                }
                ledger.sent.insert(id);
            }
            Ok(sent) => {
                // Stored but not known durable: not counted as acknowledged.
                unreachable_since = None;
                let mut ledger = ledger.lock().unwrap();
                if sent.status != SendStatus::FlushDiskTimeout {
                    ledger
                        .errors
                        .push(format!("send of {id}: unexpected status {:?}", sent.status));
                }
                ledger.unsure_sent.insert(id);
            }
            Err(ClientError::Transport(err)) => {
                {
                    let mut ledger = ledger.lock().unwrap();
                    if err.is_connect() {
                        ledger.unsent.insert(id);
                    } else {
                        ledger.unsure_sent.insert(id);
                    }
                }
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() > RETRY_PATIENCE {
                    ledger.lock().unwrap().errors.push(format!(
                        "producer {p}: the broker stayed unreachable for {RETRY_PATIENCE:?}: {err}"
                    ));
                    return;
                }
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            Err(err) => {
                ledger
                    .lock()
                    .unwrap()
                    .errors
                    .push(format!("send of {id} refused: {err}"));
                return;
            }
        }
        tokio::time::sleep(SEND_PAUSE).await;
    }
}

/// Receives (long poll), notes, handles (a short random pause, so that kills find
/// messages in flight) and acks until `stop`.
async fn consume(
    client: Client,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    c: usize,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let options = ReceiveOptions::new(RECEIVE_MAX, WAIT_MS);
    while !stop.load(Ordering::Relaxed) {
        let what = format!("consumer {c}: receive");
        let Some(answer) = with_retries(&ledger, &what, || client.receive(GROUP, &options)).await
        else {
            return;
        };
        let batch = match answer {
            Ok(batch) => batch,
            Err(err) => {
                ledger.lock().unwrap().errors.push(format!("{what}: {err}"));
                return;
            }
        };
        if !batch.is_empty() {
            let pause = rng.random_range(0..=HANDLING_MAX_MS);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        if !take_batch(&client, &ledger, &batch, &format!("consumer {c}")).await {
            return;
        }
    }
}

/// Notes a received batch in the ledger and acks it (retrying through connection
/// errors); false when something went wrong that the ledger now records.
async fn take_batch(
    client: &Client,
    ledger: &Mutex<Ledger>,
    batch: &[Received],
    who: &str,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    {
        let mut ledger = ledger.lock().unwrap();
        for message in batch {
            if message.topic != TOPIC || message.attempt == 0 {
                ledger
                    .errors
                    .push(format!("{who}: malformed delivery {message:?}"));
            }
            ledger.note_delivery(message);
        }
    }
    let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
    let what = format!("{who}: ack");
    let mut connection_lost = false;
    let started = Instant::now();
    let answer: Option<AckResult> = loop {
        match client.ack(GROUP, &receipts).await {
            Ok(result) => break Some(result),
            Err(err) if is_connection_error(&err) => {
                connection_lost = true;
                if started.elapsed() > RETRY_PATIENCE {
                    ledger.lock().unwrap().errors.push(format!(
                        "{what}: the broker stayed unreachable for {RETRY_PATIENCE:?}: {err}"
                    ));
                    break None;
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(err) => {
                ledger.lock().unwrap().errors.push(format!("{what}: {err}"));
                return false;
            }
        }
    };
    let mut ledger = ledger.lock().unwrap();
    let Some(result) = answer else {
        for message in batch {
            ledger.unsure_acked.insert(message.id.clone());
        }
        return false;
    };
    let refused: HashSet<&str> = result.failed.iter().map(|f| f.receipt.as_str()).collect();
    for failure in &result.failed {
        if failure.code == "RECEIPT_EXPIRED" {
            ledger.expired_acks += 1;
        } else {
            ledger
                .errors
                .push(format!("{what}: receipt refused with {failure:?}"));
        }
    }
    if result.count + result.failed.len() != receipts.len() {
        ledger.errors.push(format!(
            "{what}: {} receipts, answer counts {} acked and {} failed",
            receipts.len(),
            result.count,
            result.failed.len()
        ));
    }
    for message in batch {
        if !refused.contains(message.receipt.as_str()) {
            ledger.acked.insert(message.id.clone());
        } else if connection_lost {
            // The first attempt may have been taken before the connection broke.
            ledger.unsure_acked.insert(message.id.clone());
        }
    }
    true
}

fn at_least_once_across_kills(flush: &[&str]) {
    let seed = support::seed();
    eprintln!("at_least_once_across_kills({flush:?}): WEIR_TEST_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut broker = Broker::start(flush);
    let rt = support::multi_thread_runtime();
    let client = broker.client();
    rt.block_on(async {
        client
            .create_topic(TOPIC, Some(QUEUES))
            .await
            .expect("create the topic");
        client
            .create_group(
                &NewGroup::new(GROUP, TOPIC)
                    .invisible_ms(INVISIBLE_MS)
                    .from("earliest"),
            )
            .await
            .expect("create the group");
    });

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop_producers = Arc::new(AtomicBool::new(false));
    let stop_consumers = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            rt.spawn(produce(
                broker.client(),
                Arc::clone(&ledger),
                Arc::clone(&stop_producers),
                p,
            ))
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            rt.spawn(consume(
                broker.client(),
                Arc::clone(&ledger),
                Arc::clone(&stop_consumers),
                c,
                seed.wrapping_add(c as u64),
            ))
        })
        .collect();

    for kill in 0..KILLS {
        std::thread::sleep(Duration::from_millis(rng.random_range(300..=1200)));
        let before = ledger.lock().unwrap().sent.len();
        broker.kill_9();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..=300)));
        broker.restart();
        eprintln!("kill {kill}: {before} sends acknowledged so far");
    }
    std::thread::sleep(Duration::from_millis(500));
    stop_producers.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for producer in producers {
            tokio::time::timeout(RETRY_PATIENCE * 2, producer)
                .await
                .expect("producers stop")
                .expect("producer task");
        }
    });

    // Drain: bounded by a deadline, checked every 100 ms.
    let deadline = Instant::now() + DRAIN_DEADLINE;
    while !ledger.lock().unwrap().drained() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop_consumers.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for consumer in consumers {
            tokio::time::timeout(RETRY_PATIENCE * 2, consumer)
                .await
                .expect("consumers stop")
                .expect("consumer task");
        }
    });

    // What is left (messages whose send got no answer, deliveries whose answer was lost
    // in a kill and that come back after their invisible time): take it here, until the
    // group has nothing left.
    let client = broker.client();
    let lag = rt.block_on(async {
        let deadline = Instant::now() + DRAIN_DEADLINE;
        loop {
            let lag = client.lag(GROUP, None).await.expect("lag");
            let in_flight: u64 = lag.queues.iter().map(|q| q.in_flight).sum();
            if (lag.total == 0 && in_flight == 0) || Instant::now() > deadline {
                break lag;
            }
            let batch = client
                .receive(GROUP, &ReceiveOptions::new(100, WAIT_MS))
                .await
                .expect("receive the rest");
            assert!(
                take_batch(&client, &ledger, &batch, "final drain").await,
                "final drain: {:?}",
                ledger.lock().unwrap().errors
            );
        }
    });

    let ledger = ledger.lock().unwrap();
    let bound = u64::from(KILLS) * CONSUMERS as u64 * u64::from(RECEIVE_MAX);
    eprintln!(
        "{flush:?}: {} sends acknowledged, {} unsure, {} not sent; {} ids delivered, {} acked, \
         {} acks unsure; {} redeliveries, {} duplicates (bound {bound}), {} expired acks, \
         {} deliveries with attempt > 1",
        ledger.sent.len(),
        ledger.unsure_sent.len(),
        ledger.unsent.len(),
        ledger.deliveries.len(),
        ledger.acked.len(),
        ledger.unsure_acked.len(),
        ledger.redeliveries,
        ledger.duplicates,
        ledger.expired_acks,
        ledger.later_attempts
    );
    assert!(
        ledger.errors.is_empty(),
        "errors while the broker was up: {:#?}",
        ledger.errors
    );
    assert!(
        ledger.sent.len() > (KILLS as usize) * PRODUCERS,
        "the producers got messages through between the kills"
    );
    let mut lost: Vec<&String> = ledger
        .sent
        .iter()
        .filter(|id| !ledger.deliveries.contains_key(*id))
        .collect();
    lost.sort();
    assert!(
        lost.is_empty(),
        "{} messages whose send was acknowledged were never delivered, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let mut unacked: Vec<&String> = ledger
        .sent
        .iter()
        .filter(|id| !ledger.acked.contains(*id) && !ledger.unsure_acked.contains(*id))
        .collect();
    unacked.sort();
    assert!(
        unacked.is_empty(),
        "{} acknowledged messages were never acked by a consumer, e.g. {:?}",
        unacked.len(),
        &unacked[..unacked.len().min(10)]
    );
    let phantoms: Vec<&String> = ledger
        .deliveries
        .keys()
        .filter(|id| !ledger.sent.contains(*id) && !ledger.unsure_sent.contains(*id))
        .collect();
    assert!(
        phantoms.is_empty(),
        "delivered ids that were never sent: {phantoms:?}"
    );
    assert!(
        ledger.duplicates <= bound,
        "{} deliveries of already acked messages, more than the in-flight bound {bound}",
        ledger.duplicates
    );
    assert!(
        ledger.redeliveries <= bound,
        "{} redeliveries, more than the in-flight bound {bound}",
        ledger.redeliveries
    );
    assert_eq!(
        lag.total, 0,
        "the group has a backlog after the drain: {lag:?}"
    );
    for queue in &lag.queues {
        assert_eq!(
            (queue.committed, queue.in_flight),
            (queue.max_offset, 0),
            "queue {} is consumed to its end after the drain: {lag:?}",
            queue.queue
        );
    }
    let topic_queues = lag.queues.iter().filter(|q| !q.retry).count();
    assert_eq!(topic_queues, QUEUES as usize, "lag reports every queue");
    let stored: u64 = lag
        .queues
        .iter()
        .filter(|q| !q.retry)
        .map(|q| q.max_offset)
        .sum();
    assert!(
        stored >= ledger.sent.len() as u64,
        "{stored} messages stored, fewer than the {} acknowledged",
        ledger.sent.len()
    );
}

#[test]
fn clustering_group_is_at_least_once_across_kill_9_with_sync_flush() {
    at_least_once_across_kills(&["--flush", "sync"]);
}

#[test]
fn clustering_group_is_at_least_once_across_kill_9_with_async_flush() {
    at_least_once_across_kills(&[]);
}

// ---------------------------------------------------------------------------------------
// FIFO order across kills

const FIFO_TOPIC: &str = "sequenced";
const FIFO_GROUP: &str = "in-order";
const MESSAGE_GROUPS: u64 = 4;
const FIFO_KILLS: u32 = 4;

/// Deliveries in the order the broker made them (`seq` is taken when a receive returned)
/// and the acknowledged sends.
#[derive(Default)]
struct FifoLedger {
    sent: HashSet<String>,
    /// (seq, id, attempt).
    deliveries: Vec<(u64, String, u32)>,
    errors: Vec<String>,
}

/// The message group and sequence number of an id `mg{group}-{n}`.
fn fifo_position(id: &str) -> (String, u64) {
    let (group, n) = id.split_once('-').expect("ids are mg{group}-{n}");
    (group.to_owned(), n.parse().expect("a sequence number"))
}

/// Sends `mg0-n`, `mg1-n`, ... in turn, each after the previous was answered, until
/// `stop`: within a message group, store order is id order.
async fn fifo_produce(client: Client, ledger: Arc<Mutex<FifoLedger>>, stop: Arc<AtomicBool>) {
    let started = Instant::now();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for group in 0..MESSAGE_GROUPS {
            let id = format!("mg{group}-{n:06}");
            let message = OutgoingMessage::new(id.clone())
                .with_id(&id)
                .with_message_group(format!("mg{group}"));
            match client.send(FIFO_TOPIC, &message).await {
                Ok(sent) if sent.status == SendStatus::SendOk => {
                    ledger.lock().unwrap().sent.insert(id);
                }
                Ok(_) => {}
                Err(err) if is_connection_error(&err) => {
                    if started.elapsed() > RETRY_PATIENCE * 3 {
                        ledger
                            .lock()
                            .unwrap()
                            .errors
                            .push(format!("producer: {err}"));
                        return;
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(err) => {
                    ledger
                        .lock()
                        .unwrap()
                        .errors
                        .push(format!("send {id}: {err}"));
                    return;
                }
            }
        }
        n += 1;
        tokio::time::sleep(SEND_PAUSE).await;
    }
}

/// Receives, notes and acks (retrying through connection errors) until `stop`.
async fn fifo_consume(
    client: Client,
    ledger: Arc<Mutex<FifoLedger>>,
    seq: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let options = ReceiveOptions::new(RECEIVE_MAX, WAIT_MS);
    while !stop.load(Ordering::Relaxed) {
        let batch =
            match with_retries(&ledger, "receive", || client.receive(FIFO_GROUP, &options)).await {
                Some(Ok(batch)) => batch,
                Some(Err(err)) => {
                    ledger
                        .lock()
                        .unwrap()
                        .errors
                        .push(format!("receive: {err}"));
                    return;
                }
                None => return,
            };
        if batch.is_empty() {
            continue;
        }
        {
            let mut ledger = ledger.lock().unwrap();
            for message in &batch {
                let n = seq.fetch_add(1, Ordering::SeqCst);
                ledger
                    .deliveries
                    .push((n, message.id.clone(), message.attempt));
            }
        }
        let pause = rng.random_range(0..=HANDLING_MAX_MS);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
        match with_retries(&ledger, "ack", || client.ack(FIFO_GROUP, &receipts)).await {
            Some(Ok(result)) => {
                // Expired receipts (the kill outlasted the invisible time) come again.
                let unexpected: Vec<_> = result
                    .failed
                    .iter()
                    .filter(|f| f.code != "RECEIPT_EXPIRED")
                    .collect();
                if !unexpected.is_empty() {
                    ledger
                        .lock()
                        .unwrap()
                        .errors
                        .push(format!("ack refused: {unexpected:?}"));
                }
            }
            Some(Err(err)) => {
                ledger.lock().unwrap().errors.push(format!("ack: {err}"));
                return;
            }
            None => return,
        }
    }
}

#[test]
fn fifo_group_keeps_message_group_order_across_kill_9() {
    let seed = support::seed();
    eprintln!("fifo_group_keeps_message_group_order_across_kill_9: WEIR_TEST_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut broker = Broker::start(&["--flush", "sync"]);
    let rt = support::multi_thread_runtime();
    rt.block_on(async {
        let client = broker.client();
        client
            .create_topic(FIFO_TOPIC, Some(2))
            .await
            .expect("create the topic");
        client
            .create_group(
                &NewGroup::new(FIFO_GROUP, FIFO_TOPIC)
                    .fifo(true)
                    .invisible_ms(INVISIBLE_MS)
                    .from("earliest"),
            )
            .await
            .expect("create the group");
    });
    let ledger = Arc::new(Mutex::new(FifoLedger::default()));
    let seq = Arc::new(AtomicU64::new(0));
    let stop_producer = Arc::new(AtomicBool::new(false));
    let stop_consumers = Arc::new(AtomicBool::new(false));
    let producer = rt.spawn(fifo_produce(
        broker.client(),
        Arc::clone(&ledger),
        Arc::clone(&stop_producer),
    ));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            rt.spawn(fifo_consume(
                broker.client(),
                Arc::clone(&ledger),
                Arc::clone(&seq),
                Arc::clone(&stop_consumers),
                seed.wrapping_add(c as u64),
            ))
        })
        .collect();
    for _ in 0..FIFO_KILLS {
        std::thread::sleep(Duration::from_millis(rng.random_range(300..=900)));
        broker.kill_9();
        broker.restart();
    }
    std::thread::sleep(Duration::from_millis(300));
    stop_producer.store(true, Ordering::Relaxed);
    rt.block_on(async {
        tokio::time::timeout(RETRY_PATIENCE * 4, producer)
            .await
            .expect("the producer stops")
            .expect("producer task");
    });
    // Drain until every acknowledged send was delivered (bounded).
    let deadline = Instant::now() + DRAIN_DEADLINE;
    loop {
        let done = {
            let ledger = ledger.lock().unwrap();
            let seen: HashSet<&str> = ledger.deliveries.iter().map(|d| d.1.as_str()).collect();
            ledger.sent.iter().all(|id| seen.contains(id.as_str()))
        };
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop_consumers.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for consumer in consumers {
            tokio::time::timeout(RETRY_PATIENCE * 2, consumer)
                .await
                .expect("consumers stop")
                .expect("consumer task");
        }
    });

    let mut ledger = ledger.lock().unwrap();
    assert!(ledger.errors.is_empty(), "errors: {:#?}", ledger.errors);
    assert!(
        ledger.sent.len() > FIFO_KILLS as usize,
        "messages got through between the kills"
    );
    let seen: HashSet<String> = ledger.deliveries.iter().map(|d| d.1.clone()).collect();
    let mut lost: Vec<&String> = ledger
        .sent
        .iter()
        .filter(|id| !seen.contains(*id))
        .collect();
    lost.sort();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages never delivered, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    ledger.deliveries.sort();
    let mut head: HashMap<String, u64> = HashMap::new();
    for (seq, id, attempt) in &ledger.deliveries {
        let (group, n) = fifo_position(id);
        if let Some(&latest) = head.get(&group) {
            assert!(
                n >= latest,
                "message group {group}: delivery #{seq} of {id} (attempt {attempt}) comes after \
                 mg{}-{latest:06} was delivered (seed {seed})",
                &group[2..]
            );
        }
        head.insert(group, n);
    }
    let redelivered = ledger.deliveries.iter().filter(|d| d.2 > 1).count();
    eprintln!(
        "fifo: {} sends acknowledged, {} deliveries, {redelivered} with attempt > 1",
        ledger.sent.len(),
        ledger.deliveries.len()
    );
}

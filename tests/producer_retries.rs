//! Black-box tests of producer retries: the real `weir` binary behind a loopback proxy
//! that drops requests, stalls past the client's timeout, cuts answers after the broker
//! acted, or answers `503` itself.
//!
//! Thousands of sends (single, JSON batches, binary batches), many in flight through the
//! async API, must each be stored exactly once, and the outcome the client reported for
//! each (sent, failed but stored, failed and not stored) must match what the broker
//! holds, read back directly by queue offset.

use crate::support;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use support::proxy::{Fault, FaultMix, Proxy};
use support::{Broker, assert_cli_succeeded, run_cli};
use weir_client::{
    BrokerCopy, Client, OutgoingMessage, RetryPolicy, SendError, SendHandle, SendReceipt,
};

const TOPIC: &str = "retries";
const QUEUES: u32 = 4;
/// Single sends, then JSON batches and binary batches of [`BATCH_SIZE`].
const SINGLES: u64 = 1_500;
const JSON_BATCHES: u64 = 50;
const BINARY_BATCHES: u64 = 50;
const BATCH_SIZE: u64 = 10;
/// Sends in flight at once.
const IN_FLIGHT: usize = 64;
/// The client's request timeout, which a stalled connection outlasts.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(800);

/// What the client said about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reported {
    Sent { id: String },
    FailedStored { id: String },
    FailedNotStored,
    Unknown,
}

/// How a send carries its messages.
#[derive(Debug, Clone, Copy)]
enum Form {
    Single,
    Json,
    Binary,
}

/// A send's outcome, within a bound far above its attempts, timeouts and lookup.
async fn bounded(handle: SendHandle) -> Result<SendReceipt, SendError> {
    tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .expect("every send ends within its bounded attempts")
}

fn body(seq: u64) -> String {
    format!("seq={seq:06}")
}

fn seq_of(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body)
        .ok()?
        .strip_prefix("seq=")?
        .parse()
        .ok()
}

/// Every message of the topic, read by queue offset from the broker itself.
async fn read_all(client: &Client) -> Vec<weir_client::Message> {
    let mut all = Vec::new();
    for queue in 0..QUEUES {
        let mut offset = 0;
        // Bounded: at most 100 pages of 1000 per queue.
        for _ in 0..100 {
            let page = client
                .read_queue(TOPIC, queue, offset, Some(1000))
                .await
                .expect("read a queue");
            all.extend(page.messages);
            if page.next_offset >= page.max_offset {
                break;
            }
            offset = page.next_offset;
        }
    }
    all
}

#[test]
fn every_send_through_a_hostile_proxy_is_stored_once_and_reported_truly() {
    let broker = Broker::start(&[]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mix = FaultMix {
        pass: 70,
        drop_request: 8,
        stall: 4,
        cut_answer: 12,
        busy: 6,
    };
    let proxy = Proxy::start(
        broker.addr(),
        Vec::new(),
        mix,
        0x5EED,
        Duration::from_secs(5),
    );
    let direct = broker.client();
    let (reported, retried) = runtime.block_on(async {
        direct.create_topic(TOPIC, Some(QUEUES)).await.unwrap();
        let client = Client::builder(proxy.url())
            .timeout(Some(REQUEST_TIMEOUT))
            // One request per connection, so that every request meets the proxy's dice.
            .pool_max_idle_per_host(0)
            .retry(RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(100),
                ..RetryPolicy::default()
            })
            .build()
            .unwrap();
        // Each send: the sequence numbers it carries and whether it is a JSON batch.
        let mut plan: Vec<(Vec<u64>, Form)> =
            (0..SINGLES).map(|seq| (vec![seq], Form::Single)).collect();
        let mut seq = SINGLES;
        for batch in 0..JSON_BATCHES + BINARY_BATCHES {
            let form = if batch < JSON_BATCHES {
                Form::Json
            } else {
                Form::Binary
            };
            plan.push(((seq..seq + BATCH_SIZE).collect(), form));
            seq += BATCH_SIZE;
        }
        let start = |seqs: &[u64], form: Form| -> SendHandle {
            let mut messages: Vec<OutgoingMessage> = seqs
                .iter()
                .map(|s| OutgoingMessage::new(body(*s)))
                .collect();
            match form {
                Form::Single => client.send_async(TOPIC, messages.remove(0)),
                Form::Json => client.send_batch_async(TOPIC, messages),
                Form::Binary => client.send_batch_binary_async(TOPIC, messages),
            }
        };
        // Up to IN_FLIGHT sends under way at once, oldest awaited first.
        let mut in_flight: VecDeque<(Vec<u64>, SendHandle)> = VecDeque::new();
        let mut outcomes = Vec::new();
        for (seqs, form) in plan {
            if in_flight.len() == IN_FLIGHT {
                let (done, handle) = in_flight.pop_front().expect("a send in flight");
                outcomes.push((done, bounded(handle).await));
            }
            let handle = start(&seqs, form);
            in_flight.push_back((seqs, handle));
        }
        for (seqs, handle) in in_flight {
            outcomes.push((seqs, bounded(handle).await));
        }
        let mut reported: HashMap<u64, Reported> = HashMap::new();
        let mut retried = 0u32;
        for (seqs, outcome) in outcomes {
            match outcome {
                Ok(receipt) => {
                    assert_eq!(receipt.messages.len(), seqs.len(), "{receipt:?}");
                    if receipt.retried() {
                        retried += 1;
                    }
                    for (seq, entry) in seqs.iter().zip(&receipt.messages) {
                        reported.insert(
                            *seq,
                            Reported::Sent {
                                id: entry.id.clone(),
                            },
                        );
                    }
                }
                Err(err) => {
                    assert!(err.attempts() >= 1, "{err}");
                    let text = err.to_string();
                    assert!(text.starts_with("send failed after "), "{text}");
                    for (index, seq) in seqs.iter().enumerate() {
                        let outcome = match err.broker_copy() {
                            BrokerCopy::Stored(stored) if index == 0 => {
                                assert_eq!(stored.id, err.id());
                                Reported::FailedStored {
                                    id: stored.id.clone(),
                                }
                            }
                            BrokerCopy::Stored(_) => Reported::FailedStored { id: String::new() },
                            BrokerCopy::NotStored => Reported::FailedNotStored,
                            BrokerCopy::Unknown(_) => Reported::Unknown,
                        };
                        reported.insert(*seq, outcome);
                    }
                }
            }
        }
        (reported, retried)
    });
    let total = SINGLES + (JSON_BATCHES + BINARY_BATCHES) * BATCH_SIZE;
    assert_eq!(reported.len() as u64, total);

    let stored = runtime.block_on(read_all(&direct));
    let mut by_seq: HashMap<u64, Vec<&weir_client::Message>> = HashMap::new();
    let mut by_id: HashMap<&str, u32> = HashMap::new();
    for message in &stored {
        let seq = seq_of(&message.body).unwrap_or_else(|| panic!("a foreign body: {message:?}"));
        assert!(seq < total, "a sequence number never sent: {seq}");
        by_seq.entry(seq).or_default().push(message);
        *by_id.entry(&message.id).or_default() += 1;
    }
    let duplicated: Vec<_> = by_seq
        .iter()
        .filter(|(_, copies)| copies.len() > 1)
        .collect();
    assert!(
        duplicated.is_empty(),
        "stored more than once: {duplicated:?}"
    );
    assert!(
        by_id.values().all(|count| *count == 1),
        "an id stored twice"
    );

    let mut tally: HashMap<&'static str, u64> = HashMap::new();
    for (seq, outcome) in &reported {
        let copies = by_seq.get(seq).map_or(0, Vec::len);
        let stored_id = by_seq
            .get(seq)
            .and_then(|c| c.first())
            .map(|m| m.id.as_str());
        let kind = match outcome {
            Reported::Sent { id } => {
                assert_eq!(copies, 1, "message {seq} was reported sent");
                assert_eq!(stored_id, Some(id.as_str()), "message {seq}");
                "sent"
            }
            Reported::FailedStored { id } => {
                assert_eq!(
                    copies, 1,
                    "message {seq} was reported stored after a failure"
                );
                if !id.is_empty() {
                    assert_eq!(stored_id, Some(id.as_str()), "message {seq}");
                }
                "failed but stored"
            }
            Reported::FailedNotStored => {
                assert_eq!(copies, 0, "message {seq} was reported not stored");
                "failed, not stored"
            }
            Reported::Unknown => "unknown",
        };
        *tally.entry(kind).or_default() += 1;
    }
    // The proxy misbehaved in every way, and the client got through it by retrying.
    for fault in [
        Fault::Pass,
        Fault::DropRequest,
        Fault::Stall,
        Fault::CutAnswer,
        Fault::Busy,
    ] {
        assert!(proxy.count(fault) > 0, "no connection got {fault:?}");
    }
    assert!(retried > 0, "no send needed a retry");
    assert!(
        tally.get("sent").copied().unwrap_or(0) > total / 2,
        "{tally:?}"
    );
    eprintln!(
        "outcomes {tally:?}; {retried} sends retried; {} messages stored",
        stored.len()
    );
}

#[test]
fn weir_send_gets_through_a_cut_answer_and_a_dropped_request_by_retrying() {
    let broker = Broker::start(&[]);
    let topic_args = [
        "topic",
        "create",
        "cli-retries",
        "--queues",
        "1",
        "--server",
    ];
    let url = broker.url();
    let args: Vec<&str> = topic_args.iter().copied().chain([url.as_str()]).collect();
    assert_cli_succeeded(&args, &run_cli(&args, b""));
    // The first attempt is stored but its answer cut, the second never reaches the
    // broker; the third is answered from the stored copy.
    let proxy = Proxy::start(
        broker.addr(),
        vec![Fault::CutAnswer, Fault::DropRequest],
        FaultMix::none(),
        1,
        Duration::from_secs(5),
    );
    let proxy_url = proxy.url();
    let args = [
        "send",
        "cli-retries",
        "hello",
        "--server",
        proxy_url.as_str(),
    ];
    let output = run_cli(&args, b"");
    assert_cli_succeeded(&args, &output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.starts_with("sent id="), "{stdout}");
    assert!(stderr.contains("after 3 attempts"), "{stderr}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stored = runtime.block_on(async {
        broker
            .client()
            .read_queue("cli-retries", 0, 0, Some(10))
            .await
            .unwrap()
    });
    assert_eq!(
        stored.messages.len(),
        1,
        "stored once: {:?}",
        stored.messages
    );
    assert!(
        stdout.contains(&format!("id={} ", stored.messages[0].id)),
        "{stdout}"
    );

    // Without retries the same faults fail the send, and the error says the broker has it.
    let proxy = Proxy::start(
        broker.addr(),
        vec![Fault::CutAnswer],
        FaultMix::none(),
        1,
        Duration::from_secs(5),
    );
    let proxy_url = proxy.url();
    let args = [
        "send",
        "cli-retries",
        "again",
        "--no-retry",
        "--server",
        proxy_url.as_str(),
    ];
    let stderr = support::assert_cli_exit_1(&args, &run_cli(&args, b""));
    assert!(stderr.contains("send failed after 1 attempt"), "{stderr}");
    assert!(stderr.contains("the broker has stored message"), "{stderr}");
}

//! Delayed messages, transaction decisions and idempotent sends across `kill -9` of the
//! real broker binary.
//!
//! * 200 delayed messages due 1–3 s ahead (single sends and JSON batches), with some
//!   earlier ones already delivered: the broker is killed right after the sends and again
//!   while the re-armed timers fire; after the restarts every message is in its topic
//!   exactly once (counted by id over reads by offset), none stored before its time.
//! * Transactions: a commit and a rollback made before the kill stand after it (the
//!   committed message visible once, the rolled-back one never; committing again is 200,
//!   deciding the other way 409); an undecided transaction is still listed and can be
//!   committed; a check-back due after the restart reaches the callback and its answer is
//!   applied; a parked transaction stays parked; producer groups are kept.
//! * Idempotent sends: a message id sent before the kill and again after it is answered
//!   with the original result and stored once; the same for a waiting delayed message
//!   and a half message.
//!
//! Waits are bounded polling loops with deadlines; "not early" compares broker
//! timestamps, allowing [`CLOCK_GRANULARITY_MS`].

use crate::support;
use crate::support::scheduling as sched;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use sched::{
    CLOCK_GRANULARITY_MS, CallbackServer, ConfiguredBroker, Reply, api_code, copies_by_id,
    eventually, gauge, now_ms, read_topic,
};
use support::{Broker, RawRequest};
use weir_client::{
    Client, MessageState, NewGroup, OutgoingMessage, ReceiveOptions, SendOutcome, TransactionState,
};

/// Bound on every wait for a delivery, a decision or a state change.
const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// A check-back delay no test waits for.
const NO_CHECK_MS: u64 = 600_000;

/// Sends one message with a relative delay and returns its answered due time, checked
/// against the client's clock around the send.
async fn send_delayed(client: &Client, topic: &str, id: &str, delay_ms: i64) -> i64 {
    let before = now_ms();
    let outcome = client
        .send_outcome(
            topic,
            &OutgoingMessage::new(format!("body of {id}"))
                .with_id(id)
                .with_delay_ms(delay_ms as u64),
        )
        .await
        .unwrap_or_else(|err| panic!("send {id}: {err}"));
    let after = now_ms();
    let SendOutcome::Scheduled(scheduled) = outcome else {
        panic!("{id} is scheduled: {outcome:?}");
    };
    assert!(
        before + delay_ms <= scheduled.deliver_at && scheduled.deliver_at <= after + delay_ms,
        "{id}: deliver_at {} is not {delay_ms} ms after the send ({before}..{after})",
        scheduled.deliver_at
    );
    scheduled.deliver_at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pending_delays_survive_kill_9_and_are_delivered_once() {
    const TOPIC: &str = "timers";
    const EARLY: usize = 20;
    const SINGLES: usize = 100;
    const BATCHES: usize = 5;
    const BATCH: usize = 20;
    let mut broker = Broker::start(&[]);
    let client = broker.client();
    client.create_topic(TOPIC, Some(4)).await.unwrap();

    // id -> answered due time.
    let mut due: BTreeMap<String, i64> = BTreeMap::new();

    // Some delivered before the kill.
    for i in 0..EARLY {
        let id = format!("early-{i:03}");
        let at = send_delayed(&client, TOPIC, &id, 100 + (i as i64 * 10)).await;
        due.insert(id, at);
    }
    let client_ref = &client;
    eventually("the early ones are delivered", WAIT_LIMIT, || async move {
        let copies = copies_by_id(client_ref, TOPIC).await;
        (copies.len() == EARLY).then_some(())
    })
    .await;

    // 200 pending, due 1–3 s ahead: single sends and JSON batches (each scheduled as a
    // whole).
    for i in 0..SINGLES {
        let id = format!("single-{i:03}");
        let at = send_delayed(&client, TOPIC, &id, 1_000 + (i as i64 * 20)).await;
        due.insert(id, at);
    }
    for b in 0..BATCHES {
        let messages: Vec<OutgoingMessage> = (0..BATCH)
            .map(|j| {
                let delay = 1_000 + ((b * BATCH + j) as u64 * 97) % 2_001;
                OutgoingMessage::new(format!("batch {b} message {j}"))
                    .with_id(format!("batch-{b}-{j:02}"))
                    .with_delay_ms(delay)
            })
            .collect();
        let before = now_ms();
        let result = client.send_batch(TOPIC, &messages).await.unwrap();
        let after = now_ms();
        assert_eq!(result.results.len(), BATCH);
        for (entry, message) in result.results.iter().zip(&messages) {
            let Some(weir_client::Delay::After(delay)) = message.delay else {
                unreachable!("every batch message is delayed")
            };
            let at = entry
                .deliver_at
                .unwrap_or_else(|| panic!("{} is scheduled: {entry:?}", entry.id));
            assert!(
                before + delay as i64 <= at && at <= after + delay as i64,
                "{}: deliver_at {at} is not {delay} ms after the send",
                entry.id
            );
            due.insert(entry.id.clone(), at);
        }
    }
    assert_eq!(due.len(), EARLY + SINGLES + BATCHES * BATCH);

    broker.kill_9();
    broker.restart();
    let client = broker.client();

    // Kill again while the re-armed timers fire: once some pending message is in.
    let client_ref = &client;
    eventually(
        "a pending message is delivered after the restart",
        WAIT_LIMIT,
        || async move {
            let copies = copies_by_id(client_ref, TOPIC).await;
            (copies.len() > EARLY).then_some(())
        },
    )
    .await;
    broker.kill_9();
    // Stay down until every pending message is overdue: the restart must deliver them at
    // once (the first restart re-armed them all for later).
    let mut pending_dues: Vec<i64> = due
        .iter()
        .filter(|(id, _)| !id.starts_with("early-"))
        .map(|(_, at)| *at)
        .collect();
    pending_dues.sort_unstable();
    let overdue_from = pending_dues[pending_dues.len() - 1];
    let deadline = Instant::now() + WAIT_LIMIT;
    while now_ms() <= overdue_from && Instant::now() < deadline {
        tokio::time::sleep(sched::POLL_PAUSE).await;
    }
    broker.restart();
    let client = broker.client();

    // Every message delivered, and the latest due time passed with no timer left: no
    // copy can come after the count below.
    let latest_due = pending_dues.last().copied().unwrap_or_default();
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let copies = copies_by_id(&client, TOPIC).await;
        let timers = gauge(&client, "weir_timers_pending").await;
        if copies.len() >= due.len() && timers == 0.0 && now_ms() > latest_due {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every message is delivered within {WAIT_LIMIT:?} of the last restart: \
             {} of {} ids in the topic, weir_timers_pending {timers}",
            copies.len(),
            due.len(),
        );
        tokio::time::sleep(sched::POLL_PAUSE).await;
    }

    let stored = read_topic(&client, TOPIC).await;
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for message in &stored {
        let at = due
            .get(&message.id)
            .unwrap_or_else(|| panic!("unknown message {} in the topic", message.id));
        assert!(
            message.store_ms as i64 + CLOCK_GRANULARITY_MS >= *at,
            "{} stored at {}, before its time {at}",
            message.id,
            message.store_ms
        );
        assert_eq!(
            message.body_str().map(str::to_owned),
            Some(if message.id.starts_with("batch-") {
                let (b, j) = message.id["batch-".len()..].split_once('-').unwrap();
                format!("batch {b} message {}", j.parse::<usize>().unwrap())
            } else {
                format!("body of {}", message.id)
            }),
            "{} keeps its body",
            message.id
        );
        *copies.entry(message.id.as_str()).or_default() += 1;
    }
    let duplicated: Vec<(&str, usize)> = copies
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| (*id, *n))
        .collect();
    assert!(
        duplicated.is_empty(),
        "delivered more than once: {duplicated:?}"
    );
    let missing: Vec<&String> = due
        .keys()
        .filter(|id| !copies.contains_key(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    for id in ["early-000", "single-050", "batch-4-19"] {
        let info = client.message_info(id).await.unwrap();
        assert_eq!(info.state, MessageState::Stored, "{id}");
    }

    // Nothing is waiting any more, and the gauge of waiting delayed messages says so.
    let client_ref = &client;
    let settled = async move {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let pending = gauge(client_ref, "weir_delayed_pending").await;
            if pending == 0.0 || Instant::now() >= deadline {
                return pending;
            }
            tokio::time::sleep(sched::POLL_PAUSE).await;
        }
    };
    let pending = settled.await;
    assert_eq!(
        pending, 0.0,
        "weir_delayed_pending stays at {pending} although every delayed message was \
         delivered exactly once and no timer is pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transaction_decisions_survive_kill_9() {
    const TOPIC: &str = "ledger";
    const MAX_CHECKS: u32 = 2;
    let mut configured = ConfiguredBroker::start(&format!(
        "tx_check_after_ms = 200\ntx_check_interval_ms = 200\ntx_max_checks = {MAX_CHECKS}"
    ));
    let callback = CallbackServer::start().await;
    let client = configured.broker.client();
    client.create_topic(TOPIC, Some(3)).await.unwrap();
    client
        .create_group(&NewGroup::new("audit", TOPIC).from("earliest"))
        .await
        .unwrap();
    client
        .put_producer_group("shop", Some(&callback.url()))
        .await
        .unwrap();
    client.put_producer_group("quiet", None).await.unwrap();

    let half = |id: &'static str, group: Option<&'static str>, after: Option<u64>| {
        let client = client.clone();
        async move {
            let sent = client
                .send_half(
                    TOPIC,
                    &OutgoingMessage::new(format!("body of {id}")).with_id(id),
                    group,
                    after,
                )
                .await
                .unwrap_or_else(|err| panic!("half send {id}: {err}"));
            assert_eq!(sent.transaction, id);
        }
    };
    half("tx-a", Some("shop"), Some(NO_CHECK_MS)).await;
    half("tx-b", Some("shop"), Some(NO_CHECK_MS)).await;
    half("tx-c", None, Some(NO_CHECK_MS)).await;
    half("tx-e", Some("quiet"), None).await;
    assert_eq!(
        client.commit("tx-a").await.unwrap().state,
        TransactionState::Committed
    );
    assert_eq!(
        client.rollback("tx-b").await.unwrap().state,
        TransactionState::RolledBack
    );
    let client_ref = &client;
    eventually("tx-e is parked", WAIT_LIMIT, || async move {
        let listed = client_ref.transactions(None).await.unwrap();
        listed
            .iter()
            .any(|t| t.transaction == "tx-e" && t.parked)
            .then_some(())
    })
    .await;
    // Its check-back is due after the kill.
    callback.script("tx-d", &[Reply::Commit]);
    half("tx-d", Some("shop"), Some(1_500)).await;

    configured.broker.kill_9();
    configured.broker.restart();
    let client = configured.broker.client();

    // The producer groups are kept.
    let groups = client.producer_groups().await.unwrap();
    let names: Vec<(&str, Option<&str>)> = groups
        .iter()
        .map(|g| (g.name.as_str(), g.callback_url.as_deref()))
        .collect();
    let url = callback.url();
    assert_eq!(names, vec![("quiet", None), ("shop", Some(url.as_str()))]);

    // Committed: visible once; committing again is fine, rolling back is a conflict.
    let a = client.get_message("tx-a").await.unwrap();
    assert_eq!(a.body_str(), Some("body of tx-a"));
    assert_eq!(
        client.commit("tx-a").await.unwrap().state,
        TransactionState::Committed
    );
    let conflict = RawRequest::new("POST", "/v1/transactions/tx-a/rollback")
        .send(configured.broker.addr())
        .unwrap();
    support::assert_error(&conflict, 409, "TRANSACTION_CONFLICT");
    // Rolled back: never visible; the same both ways round.
    assert_eq!(
        api_code(client.get_message("tx-b").await),
        (404, "MESSAGE_NOT_FOUND".to_owned())
    );
    assert_eq!(
        api_code(client.commit("tx-b").await),
        (409, "TRANSACTION_CONFLICT".to_owned())
    );
    assert_eq!(
        client.rollback("tx-b").await.unwrap().state,
        TransactionState::RolledBack
    );

    // Undecided: still listed, with its parked state; can be decided now.
    let listed: HashMap<String, (u32, bool)> = client
        .transactions(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.transaction, (t.checks, t.parked)))
        .collect();
    assert_eq!(listed.get("tx-c"), Some(&(0, false)), "{listed:?}");
    assert_eq!(listed.get("tx-e"), Some(&(MAX_CHECKS, true)), "{listed:?}");
    assert!(!listed.contains_key("tx-a") && !listed.contains_key("tx-b"));
    assert_eq!(
        client.commit("tx-c").await.unwrap().state,
        TransactionState::Committed
    );

    // The check-back re-armed at the restart reaches the callback, which commits.
    let client_ref = &client;
    eventually(
        "tx-d is committed by its check-back",
        WAIT_LIMIT,
        || async move { client_ref.get_message("tx-d").await.ok() },
    )
    .await;
    assert!(callback.call_count("tx-d") >= 1);

    // The parked one resumes; its producers answer through the long poll.
    assert_eq!(
        client.resume_transaction("tx-e").await.unwrap().state,
        TransactionState::Resumed
    );
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "tx-e is offered to the long poll"
        );
        let checks = client
            .poll_checks("quiet", Some(10), Some(1_000))
            .await
            .unwrap();
        if checks.iter().any(|c| c.transaction == "tx-e") {
            break;
        }
    }
    assert_eq!(
        client.rollback("tx-e").await.unwrap().state,
        TransactionState::RolledBack
    );

    // The decisions made after the first restart survive a second kill.
    configured.broker.kill_9();
    configured.broker.restart();
    let client = configured.broker.client();
    assert!(client.transactions(None).await.unwrap().is_empty());
    assert_eq!(
        api_code(client.commit("tx-e").await),
        (409, "TRANSACTION_CONFLICT".to_owned())
    );
    assert_eq!(
        api_code(client.rollback("tx-c").await),
        (409, "TRANSACTION_CONFLICT".to_owned())
    );
    let copies = copies_by_id(&client, TOPIC).await;
    let expected: HashMap<String, usize> = ["tx-a", "tx-c", "tx-d"]
        .iter()
        .map(|id| ((*id).to_owned(), 1))
        .collect();
    assert_eq!(copies, expected, "each commit stored once, nothing else");

    // A consumer group from the earliest message gets the commits only.
    let mut seen: HashMap<String, u32> = HashMap::new();
    let deadline = Instant::now() + WAIT_LIMIT;
    while !["tx-a", "tx-c", "tx-d"]
        .iter()
        .all(|id| seen.contains_key(*id))
    {
        assert!(
            Instant::now() < deadline,
            "the consumer gets the commits: {seen:?}"
        );
        let batch = client
            .receive("audit", &ReceiveOptions::new(32, 200))
            .await
            .unwrap();
        for message in &batch {
            *seen.entry(message.id.clone()).or_default() += 1;
        }
        if !batch.is_empty() {
            let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
            client.ack("audit", &receipts).await.unwrap();
        }
    }
    for id in ["tx-b", "tx-e"] {
        assert!(!seen.contains_key(id), "{id} was delivered: {seen:?}");
    }
    assert!(callback.errors().is_empty(), "{:?}", callback.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotent_sends_hold_across_kill_9() {
    const TOPIC: &str = "payments";
    let mut broker = Broker::start(&[]);
    let client = broker.client();
    client.create_topic(TOPIC, Some(4)).await.unwrap();

    let raw = |body: &str| {
        RawRequest::new("POST", &format!("/v1/topics/{TOPIC}/messages"))
            .header("weir-message-id", "pay-1")
            .body(body.as_bytes().to_vec())
    };
    let first = raw("first").send(broker.addr()).unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    let second = client
        .send(TOPIC, &OutgoingMessage::new("second").with_id("pay-2"))
        .await
        .unwrap();
    let later = client
        .send_outcome(
            TOPIC,
            &OutgoingMessage::new("later")
                .with_id("pay-later")
                .with_delay_ms(600_000),
        )
        .await
        .unwrap();
    let later_at = later.deliver_at().expect("scheduled");
    let half = client
        .send_half(
            TOPIC,
            &OutgoingMessage::new("tx").with_id("pay-tx"),
            None,
            Some(NO_CHECK_MS),
        )
        .await
        .unwrap();

    broker.kill_9();
    broker.restart();
    let client = broker.client();

    let again = raw("first, again").send(broker.addr()).unwrap();
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json(), first, "the original result after kill -9");
    let second_again = client
        .send(
            TOPIC,
            &OutgoingMessage::new("second, again").with_id("pay-2"),
        )
        .await
        .unwrap();
    assert_eq!(second_again, second);
    let later_again = client
        .send_outcome(
            TOPIC,
            &OutgoingMessage::new("later, again")
                .with_id("pay-later")
                .with_delay_ms(300_000),
        )
        .await
        .unwrap();
    assert_eq!(later_again.deliver_at(), Some(later_at));
    let info = client.message_info("pay-later").await.unwrap();
    assert_eq!(
        (info.state, info.deliver_at),
        (MessageState::Scheduled, Some(later_at))
    );
    let half_again = client
        .send_half(
            TOPIC,
            &OutgoingMessage::new("tx, again").with_id("pay-tx"),
            None,
            Some(NO_CHECK_MS),
        )
        .await
        .unwrap();
    assert_eq!(half_again, half);
    let listed = client.transactions(None).await.unwrap();
    assert_eq!(listed.len(), 1, "one half message: {listed:?}");

    let stored = read_topic(&client, TOPIC).await;
    let ids: Vec<(&str, Option<&str>)> = {
        let mut ids: Vec<_> = stored
            .iter()
            .map(|m| (m.id.as_str(), m.body_str()))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids,
        vec![("pay-1", Some("first")), ("pay-2", Some("second"))]
    );
    let copy = stored
        .iter()
        .find(|m| m.id == "pay-1")
        .expect("pay-1 is stored");
    assert_eq!(
        (first["queue"].as_u64(), first["offset"].as_u64()),
        (Some(u64::from(copy.queue)), Some(copy.offset)),
        "the answered queue and offset hold the one copy"
    );
    assert_eq!(gauge(&client, "weir_delayed_pending").await, 1.0);
}

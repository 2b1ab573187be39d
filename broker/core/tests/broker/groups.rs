//! Consumer groups over a real store in a temporary directory: receive and ack,
//! redelivery, dead letters, FIFO, broadcasting, offsets, lag, adding queues, and what
//! survives a reopen.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use weir_core::{
    Broker, CoreError, Delivery, GroupMode, GroupSpec, MessageDraft, ReceiveRequest, ResetTarget,
    StartFrom,
};

use crate::support::open;

fn spec(name: &str, topic: &str) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        topic: topic.into(),
        from: Some(StartFrom::Earliest),
        ..GroupSpec::default()
    }
}

async fn send(broker: &Broker, topic: &str, bodies: impl IntoIterator<Item = String>) {
    let drafts: Vec<MessageDraft> = bodies.into_iter().map(MessageDraft::new).collect();
    broker.send(topic, drafts).await.unwrap();
}

async fn send_grouped(broker: &Broker, topic: &str, group: &str, body: String) {
    let mut draft = MessageDraft::new(body);
    draft.message_group = Some(group.to_string());
    broker.send(topic, vec![draft]).await.unwrap();
}

fn request(max: usize) -> ReceiveRequest {
    ReceiveRequest {
        max,
        ..ReceiveRequest::default()
    }
}

async fn receive(broker: &Broker, group: &str, max: usize) -> Vec<Delivery> {
    broker.receive(group, request(max)).await.unwrap()
}

fn body(d: &Delivery) -> String {
    String::from_utf8(d.stored.message.body.to_vec()).unwrap()
}

fn receipts(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.receipt.clone()).collect()
}

#[tokio::test]
async fn each_message_goes_to_one_receiver_and_acks_commit() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 4).await.unwrap();
    broker.create_group(spec("g", "t")).await.unwrap();
    send(&broker, "t", (0..100).map(|i| format!("m{i}"))).await;

    let first = receive(&broker, "g", 60).await;
    let second = receive(&broker, "g", 60).await;
    assert_eq!(first.len() + second.len(), 100);
    let bodies: HashSet<String> = first.iter().chain(&second).map(body).collect();
    assert_eq!(bodies.len(), 100, "no message is delivered twice");
    assert!(
        first
            .iter()
            .all(|d| d.attempt == 1 && d.first_delivery_ms > 0)
    );
    assert!(
        receive(&broker, "g", 10).await.is_empty(),
        "all are invisible"
    );

    let outcome = broker.ack("g", &receipts(&first)).await.unwrap();
    assert_eq!((outcome.done, outcome.failed.len()), (first.len(), 0));
    let lag = broker.lag("g", None).unwrap();
    assert_eq!(lag.total, second.len() as u64);
    broker.ack("g", &receipts(&second)).await.unwrap();
    let lag = broker.lag("g", None).unwrap();
    assert_eq!(lag.total, 0);
    assert_eq!(
        broker
            .committed_offsets("g", None)
            .unwrap()
            .iter()
            .map(|c| c.committed)
            .sum::<u64>(),
        100
    );
    // Acking twice is harmless.
    let again = broker.ack("g", &receipts(&first)).await.unwrap();
    assert_eq!(again.done, first.len());
    let counters = broker.describe_group("g", None).unwrap().counters;
    assert_eq!(counters.delivered, 100);
    assert!(counters.acked >= 100);
}

#[tokio::test]
async fn invisible_time_expiry_redelivers_and_old_receipts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    broker.create_group(spec("g", "t")).await.unwrap();
    send(&broker, "t", ["a".to_string()]).await;

    let req = ReceiveRequest {
        max: 1,
        invisible_ms: Some(200),
        ..ReceiveRequest::default()
    };
    let first = broker.receive("g", req.clone()).await.unwrap();
    assert_eq!(first.len(), 1);
    // Long poll: nothing is visible until the invisible time passes, then it comes back.
    let waited = ReceiveRequest {
        wait: Duration::from_secs(10),
        ..req.clone()
    };
    let second = broker.receive("g", waited).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].attempt, 2);
    assert_eq!(second[0].first_delivery_ms, first[0].first_delivery_ms);
    assert_ne!(second[0].receipt, first[0].receipt);

    let stale = broker.ack("g", &receipts(&first)).await.unwrap();
    assert_eq!(stale.done, 0);
    assert!(matches!(
        stale.failed[0].error,
        CoreError::ReceiptExpired(_)
    ));

    // Change invisible time: the new handle works, the old one does not.
    let renewed = broker
        .change_invisible("g", &second[0].receipt, 60_000)
        .await
        .unwrap();
    assert!(matches!(
        broker
            .change_invisible("g", &second[0].receipt, 60_000)
            .await,
        Err(CoreError::ReceiptExpired(_))
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receive(&broker, "g", 1).await.is_empty(),
        "the extended invisible time holds past the original one"
    );
    let done = broker.ack("g", &[renewed]).await.unwrap();
    assert_eq!(done.done, 1);
    assert_eq!(broker.lag("g", None).unwrap().total, 0);
}

#[tokio::test]
async fn nacks_follow_the_backoff_schedule_then_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    let mut group = spec("g", "t");
    group.max_attempts = Some(3);
    group.backoff_ms = Some(vec![100, 300]);
    broker.create_group(group).await.unwrap();
    send(&broker, "t", ["poison".to_string()]).await;

    let long_poll = ReceiveRequest {
        max: 1,
        wait: Duration::from_secs(10),
        ..ReceiveRequest::default()
    };
    let mut nacked_at = Vec::new();
    for attempt in 1..=3u32 {
        let got = broker.receive("g", long_poll.clone()).await.unwrap();
        assert_eq!(got.len(), 1, "attempt {attempt}");
        assert_eq!(got[0].attempt, attempt);
        if let Some(&at) = nacked_at.last() {
            let waited = got[0].stored.store_ms.max(at);
            let expected = if attempt == 2 { 100 } else { 300 };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            assert!(now - waited >= expected, "redelivered before its backoff");
        }
        nacked_at.push(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64,
        );
        let outcome = broker.nack("g", &receipts(&got), None).await.unwrap();
        assert_eq!(outcome.done, 1);
    }
    let page = broker.dead_letters("g", 0, 10).unwrap();
    assert_eq!(page.dead_letters.len(), 1);
    let letter = &page.dead_letters[0];
    assert_eq!(letter.attempts, 3);
    assert_eq!(letter.topic, "t");
    assert_eq!(letter.stored.message.body.as_ref(), b"poison");
    assert_eq!(broker.lag("g", None).unwrap().total, 0);
    assert_eq!(broker.describe_group("g", None).unwrap().dead_letters, 1);

    // Resending puts it back in front of this group only, under its original id.
    let by_original = broker.dead_letter("g", &letter.original_id).unwrap();
    assert_eq!(by_original.id, letter.id);
    broker.resend_dead_letter("g", &letter.id).await.unwrap();
    let back = receive(&broker, "g", 5).await;
    assert_eq!(back.len(), 1);
    assert!(back[0].resent);
    assert_eq!(back[0].id, letter.original_id);
    assert_eq!(body(&back[0]), "poison");
    broker.ack("g", &receipts(&back)).await.unwrap();
    assert_eq!(broker.resend_dead_letters("g", 0).await.unwrap(), 1);
}

#[tokio::test]
async fn fifo_groups_deliver_in_order_and_poison_does_not_block_forever() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    let mut group = spec("g", "t");
    group.fifo = Some(true);
    group.max_attempts = Some(2);
    group.backoff_ms = Some(vec![10]);
    broker.create_group(group).await.unwrap();
    for i in 0..5 {
        for key in ["a", "b"] {
            send_grouped(&broker, "t", key, format!("{key}{i}")).await;
        }
    }
    let mut acked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rounds = 0;
    while acked.values().map(Vec::len).sum::<usize>() < 9 && rounds < 200 {
        rounds += 1;
        let got = broker
            .receive(
                "g",
                ReceiveRequest {
                    max: 10,
                    wait: Duration::from_secs(5),
                    ..ReceiveRequest::default()
                },
            )
            .await
            .unwrap();
        let mut keys = HashSet::new();
        for d in &got {
            let b = body(d);
            assert!(
                keys.insert(b[..1].to_string()),
                "one in flight per message group"
            );
            if b == "a2" {
                broker
                    .nack("g", std::slice::from_ref(&d.receipt), None)
                    .await
                    .unwrap();
            } else {
                broker
                    .ack("g", std::slice::from_ref(&d.receipt))
                    .await
                    .unwrap();
                acked.entry(b[..1].to_string()).or_default().push(b);
            }
        }
    }
    assert_eq!(acked["a"], vec!["a0", "a1", "a3", "a4"]);
    assert_eq!(acked["b"], vec!["b0", "b1", "b2", "b3", "b4"]);
    let dead = broker.dead_letters("g", 0, 10).unwrap();
    assert_eq!(dead.dead_letters.len(), 1);
    assert_eq!(dead.dead_letters[0].stored.message.body.as_ref(), b"a2");
}

#[tokio::test]
async fn broadcasting_members_each_get_everything() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 2).await.unwrap();
    let mut group = spec("g", "t");
    group.mode = Some(GroupMode::Broadcasting);
    broker.create_group(group).await.unwrap();
    send(&broker, "t", (0..20).map(|i| format!("m{i}"))).await;
    assert!(matches!(
        broker.receive("g", request(5)).await,
        Err(CoreError::ConsumerRequired(_))
    ));
    for member in ["one", "two"] {
        let req = ReceiveRequest {
            max: 100,
            consumer: Some(member.to_string()),
            ..ReceiveRequest::default()
        };
        let got = broker.receive("g", req.clone()).await.unwrap();
        assert_eq!(got.len(), 20, "{member}");
        broker.ack("g", &receipts(&got)).await.unwrap();
        assert!(broker.receive("g", req).await.unwrap().is_empty());
        assert_eq!(broker.lag("g", Some(member)).unwrap().total, 0);
    }
    assert_eq!(
        broker.describe_group("g", None).unwrap().members,
        vec!["one", "two"]
    );
}

#[tokio::test]
async fn tag_filters_skip_other_tags() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    let mut group = spec("g", "t");
    group.filter = Some("red || blue".into());
    broker.create_group(group).await.unwrap();
    let drafts = ["red", "green", "blue", "green"].map(|tag| {
        let mut d = MessageDraft::new(tag.to_string());
        d.tag = Some(tag.to_string());
        d
    });
    broker.send("t", drafts.to_vec()).await.unwrap();
    let got = receive(&broker, "g", 10).await;
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, vec!["red", "blue"]);
    broker.ack("g", &receipts(&got)).await.unwrap();
    assert_eq!(broker.lag("g", None).unwrap().total, 0);
}

#[tokio::test]
async fn resets_and_lag_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 2).await.unwrap();
    for queue in 0..2u32 {
        let drafts = (0..10)
            .map(|i| {
                let mut d = MessageDraft::new(format!("q{queue}-{i}"));
                d.queue = Some(queue);
                d
            })
            .collect();
        broker.send("t", drafts).await.unwrap();
    }
    // Latest: a new group sees nothing already sent.
    broker
        .create_group(GroupSpec {
            from: None,
            ..spec("late", "t")
        })
        .await
        .unwrap();
    assert_eq!(broker.lag("late", None).unwrap().total, 0);
    broker.create_group(spec("g", "t")).await.unwrap();
    let lag = broker.lag("g", None).unwrap();
    assert_eq!(lag.total, 20);
    assert_eq!(
        lag.queues.iter().map(|q| q.lag).collect::<Vec<_>>(),
        vec![10, 10]
    );

    broker
        .reset_group("g", ResetTarget::Offset(7), Some(1), None)
        .await
        .unwrap();
    assert_eq!(broker.lag("g", None).unwrap().total, 13);
    broker.commit_offset("g", None, 0, 4).await.unwrap();
    let offsets = broker.committed_offsets("g", None).unwrap();
    assert_eq!(
        offsets.iter().map(|o| o.committed).collect::<Vec<_>>(),
        vec![4, 7]
    );
    let got = receive(&broker, "g", 100).await;
    let mut bodies: Vec<String> = got.iter().map(body).collect();
    bodies.sort();
    assert_eq!(bodies.len(), 9);
    assert_eq!(bodies[0], "q0-4");
    assert!(bodies.contains(&"q1-7".to_string()) && !bodies.contains(&"q1-6".to_string()));

    broker
        .reset_group("g", ResetTarget::Latest, None, None)
        .await
        .unwrap();
    assert_eq!(broker.lag("g", None).unwrap().total, 0);
    broker
        .reset_group("g", ResetTarget::Earliest, None, None)
        .await
        .unwrap();
    assert_eq!(broker.lag("g", None).unwrap().total, 20);
    let future = i64::MAX / 2;
    let at = broker
        .reset_group("g", ResetTarget::Timestamp(future), None, None)
        .await
        .unwrap();
    assert!(at.iter().all(|o| o.committed == 10));
    let at = broker
        .reset_group("g", ResetTarget::Timestamp(0), None, None)
        .await
        .unwrap();
    assert!(at.iter().all(|o| o.committed == 0));
    assert!(matches!(
        broker
            .reset_group("g", ResetTarget::Offset(11), Some(0), None)
            .await,
        Err(CoreError::OffsetOutOfRange { .. })
    ));
}

#[tokio::test]
async fn queues_added_online_are_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    broker.create_group(spec("g", "t")).await.unwrap();
    send(&broker, "t", (0..10).map(|i| format!("before{i}"))).await;
    broker.add_queues("t", 4).await.unwrap();
    assert!(
        broker.add_queues("t", 2).await.is_err(),
        "queues never shrink"
    );
    for i in 0..40 {
        send(&broker, "t", [format!("after{i}")]).await;
    }
    let mut seen = HashSet::new();
    for _ in 0..10 {
        let got = receive(&broker, "g", 100).await;
        broker.ack("g", &receipts(&got)).await.ok();
        seen.extend(got.iter().map(body));
    }
    assert_eq!(seen.len(), 50);
    let queues: HashSet<u32> = broker
        .lag("g", None)
        .unwrap()
        .queues
        .iter()
        .filter(|q| !q.retry)
        .map(|q| q.queue)
        .collect();
    assert_eq!(queues.len(), 4);
}

#[tokio::test]
async fn acks_and_in_flight_state_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, acked_ids) = {
        let broker = open(dir.path());
        broker.create_topic("t", 2).await.unwrap();
        let mut group = spec("g", "t");
        group.max_attempts = Some(5);
        broker.create_group(group).await.unwrap();
        send(&broker, "t", (0..30).map(|i| format!("m{i}"))).await;
        let got = receive(&broker, "g", 30).await;
        let (ack, keep) = got.split_at(20);
        broker.ack("g", &receipts(ack)).await.unwrap();
        // Snapshot half way, then more changes that only the journal has.
        broker.snapshot_state().await.unwrap();
        let kept: Vec<Delivery> = keep.to_vec();
        broker.ack("g", &receipts(&kept[..5])).await.unwrap();
        let acked: HashSet<String> = ack.iter().chain(&kept[..5]).map(|d| d.id.clone()).collect();
        broker.close().unwrap();
        (kept[5..].to_vec(), acked)
    };
    let broker = open(dir.path());
    assert_eq!(broker.lag("g", None).unwrap().total, 5);
    // Still in flight: not redelivered, and their receipts still work.
    assert!(receive(&broker, "g", 30).await.is_empty());
    let outcome = broker.ack("g", &receipts(&kept[..2])).await.unwrap();
    assert_eq!(outcome.done, 2);
    // Nacked ones come back with their attempt count.
    broker
        .nack("g", &receipts(&kept[2..]), Some(0))
        .await
        .unwrap();
    let back = receive(&broker, "g", 30).await;
    assert_eq!(back.len(), 3);
    assert!(
        back.iter()
            .all(|d| d.attempt == 2 && !acked_ids.contains(&d.id))
    );
}

#[tokio::test]
async fn bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    broker.create_group(spec("g", "t")).await.unwrap();
    broker.create_group(spec("h", "t")).await.unwrap();
    assert!(matches!(
        broker.create_group(spec("g", "t")).await,
        Err(CoreError::GroupExists(_))
    ));
    assert!(matches!(
        broker.create_group(spec("x", "missing")).await,
        Err(CoreError::TopicNotFound(_))
    ));
    assert!(matches!(
        broker.create_group(spec("bad name", "t")).await,
        Err(CoreError::InvalidGroupName { .. })
    ));
    assert!(matches!(
        broker.receive("nope", request(1)).await,
        Err(CoreError::GroupNotFound(_))
    ));
    for bad in [
        request(0),
        request(100_000),
        ReceiveRequest {
            wait: Duration::from_secs(3600),
            ..request(1)
        },
        ReceiveRequest {
            invisible_ms: Some(1),
            ..request(1)
        },
        ReceiveRequest {
            invisible_ms: Some(u64::MAX),
            ..request(1)
        },
    ] {
        assert!(matches!(
            broker.receive("g", bad).await,
            Err(CoreError::InvalidArgument(_))
        ));
    }
    send(&broker, "t", ["x".to_string()]).await;
    let got = receive(&broker, "g", 1).await;
    assert!(matches!(
        broker.ack("h", &receipts(&got)).await,
        Err(CoreError::ReceiptInvalid(_))
    ));
    assert!(matches!(
        broker.ack("g", &["garbage".to_string()]).await,
        Err(CoreError::ReceiptInvalid(_))
    ));
    assert!(matches!(
        broker.nack("g", &receipts(&got), Some(u64::MAX)).await,
        Err(CoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        broker.ack("g", &[]).await,
        Err(CoreError::InvalidArgument(_))
    ));
    broker.delete_group("g").await.unwrap();
    assert!(matches!(
        broker.ack("g", &receipts(&got)).await,
        Err(CoreError::GroupNotFound(_))
    ));
}

#[tokio::test]
async fn a_large_backlog_drains_exactly_once_in_big_batches() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 8).await.unwrap();
    for batch in 0..20 {
        send(&broker, "t", (0..1000).map(|i| format!("{batch}-{i}"))).await;
    }
    broker.create_group(spec("g", "t")).await.unwrap();
    let mut seen = HashSet::new();
    for _ in 0..100 {
        let got = receive(&broker, "g", 1000).await;
        if got.is_empty() {
            break;
        }
        for d in &got {
            assert!(seen.insert(d.id.clone()), "{} delivered twice", d.id);
        }
        let outcome = broker.ack("g", &receipts(&got)).await.unwrap();
        assert!(outcome.failed.is_empty());
    }
    assert_eq!(seen.len(), 20_000);
    assert_eq!(broker.lag("g", None).unwrap().total, 0);
}

#[tokio::test]
async fn the_timer_dead_letters_an_expired_last_attempt_without_a_receive() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    let mut group = spec("g", "t");
    group.max_attempts = Some(1);
    broker.create_group(group).await.unwrap();
    send(&broker, "t", ["lost".to_string()]).await;
    let got = broker
        .receive(
            "g",
            ReceiveRequest {
                max: 1,
                invisible_ms: Some(100),
                ..ReceiveRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    // Nobody receives again: the group's timer moves it once its invisible time passed.
    let mut dead = 0;
    for _ in 0..500 {
        dead = broker.dead_letters("g", 0, 10).unwrap().dead_letters.len();
        if dead > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(dead, 1);
    assert_eq!(broker.lag("g", None).unwrap().total, 0);
    assert_eq!(
        broker
            .describe_group("g", None)
            .unwrap()
            .counters
            .dead_lettered,
        1
    );
}

#[tokio::test]
async fn a_rejected_delivery_is_dead_lettered_at_once_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    broker.create_group(spec("g", "t")).await.unwrap();
    send(&broker, "t", ["bad".to_string()]).await;
    let got = receive(&broker, "g", 1).await;
    let outcome = broker
        .reject("g", &receipts(&got), "unparseable order")
        .await
        .unwrap();
    assert_eq!(outcome.done, 1);
    let dead = broker.dead_letters("g", 0, 10).unwrap().dead_letters;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].attempts, dead[0].reason.as_str()),
        (1, "unparseable order")
    );
    assert_eq!(broker.lag("g", None).unwrap().total, 0);
}

#[tokio::test]
async fn a_nack_with_a_reason_dead_letters_the_last_attempt_with_it_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let long = "é".repeat(weir_core::limits::MAX_DEAD_LETTER_REASON_BYTES);
    {
        let broker = open(dir.path());
        broker.create_topic("t", 1).await.unwrap();
        let mut group = spec("g", "t");
        group.max_attempts = Some(2);
        broker.create_group(group).await.unwrap();
        send(
            &broker,
            "t",
            ["explained", "plain", "long"].map(String::from),
        )
        .await;
        for attempt in 1..=2u32 {
            let got = receive(&broker, "g", 3).await;
            assert_eq!(got.len(), 3, "attempt {attempt}");
            let by_body = |b: &str| {
                got.iter()
                    .filter(|d| body(d) == b)
                    .map(|d| d.receipt.clone())
                    .collect::<Vec<_>>()
            };
            let why = format!("plugin timed out after {attempt}00 ms");
            let done = broker
                .nack_because("g", &by_body("explained"), Some(0), &why)
                .await
                .unwrap();
            assert_eq!(done.done, 1);
            broker.nack("g", &by_body("plain"), Some(0)).await.unwrap();
            broker
                .nack_because("g", &by_body("long"), Some(0), &long)
                .await
                .unwrap();
        }
        broker.close().unwrap();
    }
    let broker = open(dir.path());
    let dead = broker.dead_letters("g", 0, 10).unwrap().dead_letters;
    let reasons: BTreeMap<String, String> = dead
        .iter()
        .map(|d| {
            let body = String::from_utf8(d.stored.message.body.to_vec()).unwrap();
            (body, d.reason.clone())
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{dead:?}");
    // The reason of the attempt that dead-lettered, not of an earlier one.
    assert_eq!(reasons["explained"], "plugin timed out after 200 ms");
    assert_eq!(
        reasons["plain"],
        "negatively acknowledged on the last attempt"
    );
    let cut = &reasons["long"];
    assert!(cut.len() <= weir_core::limits::MAX_DEAD_LETTER_REASON_BYTES);
    assert!(cut.len() > weir_core::limits::MAX_DEAD_LETTER_REASON_BYTES - 2);
    assert!(long.starts_with(cut.as_str()));
    assert!(dead.iter().all(|d| d.attempts == 2));
    // A nack's delay is checked as by `nack`.
    assert!(matches!(
        broker
            .nack_because("g", &["r.0.0.0.0".to_string()], Some(u64::MAX), "x")
            .await,
        Err(CoreError::InvalidArgument(_))
    ));
}

//! Delayed messages and idempotent sends over a real store: never delivered early,
//! pending delays survive a reopen, cancel, limits, and one copy per client id.

use std::time::Duration;

use weir_core::message::delay_level_ms;
use weir_core::{Broker, CoreError, MessageDraft};

use crate::support::open;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn delayed(body: &str, at: i64) -> MessageDraft {
    let mut draft = MessageDraft::new(body.to_string());
    draft.deliver_at = Some(at);
    draft
}

/// Polls (bounded) until the topic's queue 0 holds `n` messages.
async fn wait_for_messages(broker: &Broker, topic: &str, n: u64) -> bool {
    for _ in 0..1000 {
        if broker.describe_topic(topic).unwrap().messages() >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

#[tokio::test]
async fn delayed_messages_arrive_when_due_and_never_before() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    let at = now_ms() + 300;
    let sent = broker.send("t", vec![delayed("later", at)]).await.unwrap();
    let id = sent.messages[0].id.clone();
    assert_eq!(sent.messages[0].deliver_at, Some(at));
    assert_eq!(broker.describe_topic("t").unwrap().messages(), 0);
    assert_eq!(broker.pending_delayed(), 1);
    let scheduled = broker.scheduled_message(&id).unwrap();
    assert_eq!((scheduled.topic.as_str(), scheduled.deliver_at), ("t", at));

    assert!(wait_for_messages(&broker, "t", 1).await);
    let read = broker.read("t", 0, 0, 10).unwrap();
    assert_eq!(read.messages.len(), 1);
    let message = &read.messages[0];
    assert_eq!(message.message.id, id, "delivered under its original id");
    assert!(
        message.store_ms >= at,
        "delivered {} ms early",
        at - message.store_ms
    );
    assert_eq!(broker.get_by_id(&id).unwrap().topic, "t");
    assert_eq!(broker.pending_delayed(), 0);
    assert!(matches!(
        broker.scheduled_message(&id),
        Err(CoreError::NotScheduled(_))
    ));
}

#[tokio::test]
async fn pending_delays_survive_a_reopen_and_fire_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let at = now_ms() + 800;
    {
        let broker = open(dir.path());
        broker.create_topic("t", 2).await.unwrap();
        let drafts = (0..10).map(|i| delayed(&format!("m{i}"), at)).collect();
        broker.send("t", drafts).await.unwrap();
        broker.close().unwrap();
    }
    let broker = open(dir.path());
    assert_eq!(broker.pending_delayed(), 10);
    assert!(wait_for_messages(&broker, "t", 10).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        broker.describe_topic("t").unwrap().messages(),
        10,
        "delivered once each"
    );
    for queue in 0..2 {
        for m in broker.read("t", queue, 0, 10).unwrap().messages {
            assert!(m.store_ms >= at);
        }
    }
}

#[tokio::test]
async fn cancelled_delays_are_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    let at = now_ms() + 200;
    let sent = broker
        .send("t", vec![delayed("a", at), delayed("b", at)])
        .await
        .unwrap();
    let cancelled = broker.cancel_delayed(&sent.messages[0].id).await.unwrap();
    assert_eq!(cancelled.deliver_at, at);
    assert!(matches!(
        broker.cancel_delayed(&sent.messages[0].id).await,
        Err(CoreError::NotScheduled(_))
    ));
    assert!(wait_for_messages(&broker, "t", 1).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let read = broker.read("t", 0, 0, 10).unwrap();
    assert_eq!(read.messages.len(), 1);
    assert_eq!(read.messages[0].message.body.as_ref(), b"b");
    assert!(matches!(
        broker.cancel_delayed(&sent.messages[1].id).await,
        Err(CoreError::NotScheduled(_))
    ));
}

#[tokio::test]
async fn delays_beyond_the_maximum_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    let too_far = now_ms() + weir_core::limits::MAX_DELAY_MS as i64 + 60_000;
    assert!(matches!(
        broker.send("t", vec![delayed("x", too_far)]).await,
        Err(CoreError::InvalidArgument(_))
    ));
    assert_eq!(broker.pending_delayed(), 0);
}

#[test]
fn the_eighteen_delay_levels_map_like_rocketmq() {
    let expected_s = [
        1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200,
    ];
    for (level, seconds) in (1..=18).zip(expected_s) {
        assert_eq!(
            delay_level_ms(level).unwrap(),
            seconds * 1000,
            "level {level}"
        );
    }
    assert!(delay_level_ms(0).is_err());
    assert!(delay_level_ms(19).is_err());
}

#[tokio::test]
async fn a_resent_id_is_stored_once_also_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let with_id = |body: &str| {
        let mut draft = MessageDraft::new(body.to_string());
        draft.id = Some("order-42".to_string());
        draft
    };
    let first = {
        let broker = open(dir.path());
        broker.create_topic("t", 4).await.unwrap();
        let first = broker.send("t", vec![with_id("one")]).await.unwrap();
        let again = broker.send("t", vec![with_id("two")]).await.unwrap();
        assert_eq!(first.messages, again.messages);
        // Twice in one batch: one copy too.
        let both = broker
            .send("t", vec![with_id("three"), with_id("four")])
            .await
            .unwrap();
        assert_eq!(both.messages[0], first.messages[0]);
        assert_eq!(both.messages[1], first.messages[0]);
        broker.close().unwrap();
        first
    };
    let broker = open(dir.path());
    let after = broker.send("t", vec![with_id("five")]).await.unwrap();
    assert_eq!(after.messages, first.messages);
    assert_eq!(broker.describe_topic("t").unwrap().messages(), 1);
    let stored = broker.get_by_id("order-42").unwrap();
    assert_eq!(stored.message.body.as_ref(), b"one");
}

//! The broker over a real store in a temporary directory: topics, sends, queue choice,
//! queries, and what survives a reopen.

use weir_core::{CoreError, Limits, MessageDraft, SendStatus};

use crate::support::{open, open_broker, small_store};

fn draft(body: &str) -> MessageDraft {
    MessageDraft::new(body.to_string())
}

#[tokio::test]
async fn topics_survive_reopen_and_deletes_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = open(dir.path());
        broker.create_topic("orders", 4).await.unwrap();
        broker.create_topic("payments", 2).await.unwrap();
        broker.create_topic("gone", 1).await.unwrap();
        assert!(matches!(
            broker.create_topic("orders", 4).await,
            Err(CoreError::TopicExists(_))
        ));
        broker.delete_topic("gone").await.unwrap();
        broker.close().unwrap();
    }
    let broker = open(dir.path());
    let names: Vec<String> = broker.list_topics().into_iter().map(|t| t.name).collect();
    assert_eq!(names, vec!["orders".to_string(), "payments".to_string()]);
    assert_eq!(broker.describe_topic("orders").unwrap().queues.len(), 4);
    assert!(matches!(
        broker.describe_topic("gone"),
        Err(CoreError::TopicNotFound(_))
    ));
}

#[tokio::test]
async fn a_batch_without_groups_lands_contiguously_in_one_queue() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 4).await.unwrap();
    let receipt = broker
        .send("t", (0..10).map(|i| draft(&i.to_string())).collect())
        .await
        .unwrap();
    assert_eq!(receipt.status, SendStatus::Ok);
    let queue = receipt.messages[0].queue;
    for (i, sent) in receipt.messages.iter().enumerate() {
        assert_eq!(sent.queue, queue);
        assert_eq!(sent.offset, i as u64);
    }
    let read = broker.read("t", queue, 0, 100).unwrap();
    let bodies: Vec<&[u8]> = read.messages.iter().map(|m| &m.message.body[..]).collect();
    assert_eq!(bodies.len(), 10);
    assert_eq!(bodies[3], b"3");
    assert_eq!(read.next_offset, 10);
}

#[tokio::test]
async fn a_message_group_always_maps_to_the_same_queue() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 8).await.unwrap();
    let mut queues = std::collections::HashSet::new();
    for i in 0..20 {
        let mut message = draft(&format!("m{i}"));
        message.message_group = Some("customer-7".into());
        let receipt = broker.send("t", vec![message]).await.unwrap();
        queues.insert(receipt.messages[0].queue);
    }
    assert_eq!(queues.len(), 1);
}

#[tokio::test]
async fn pinned_queues_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 2).await.unwrap();
    let mut message = draft("x");
    message.queue = Some(1);
    assert_eq!(
        broker
            .send("t", vec![message.clone()])
            .await
            .unwrap()
            .messages[0]
            .queue,
        1
    );
    message.queue = Some(2);
    assert!(matches!(
        broker.send("t", vec![message]).await,
        Err(CoreError::InvalidQueue {
            queue: 2,
            queues: 2,
            ..
        })
    ));
}

#[tokio::test]
async fn queries_by_id_key_and_offset_agree_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let broker = open(dir.path());
        broker.create_topic("t", 1).await.unwrap();
        let mut message = draft("hello");
        message.keys = vec!["k1".into()];
        message.tag = Some("tag".into());
        message.properties = vec![("a".into(), "b".into())];
        let id = broker.send("t", vec![message]).await.unwrap().messages[0]
            .id
            .clone();
        let mut other = draft("again");
        other.keys = vec!["k1".into()];
        broker.send("t", vec![other]).await.unwrap();
        id
    };
    let broker = open(dir.path());
    let by_id = broker.get_by_id(&id).unwrap();
    assert_eq!(&by_id.message.body[..], b"hello");
    assert_eq!(by_id.message.tag.as_deref(), Some("tag"));
    let by_key = broker.get_by_key("t", "k1", 10).unwrap();
    let bodies: Vec<&[u8]> = by_key.iter().map(|m| &m.message.body[..]).collect();
    assert_eq!(bodies, vec![&b"hello"[..], &b"again"[..]]);
    assert!(matches!(
        broker.get_by_id("NOPE"),
        Err(CoreError::MessageNotFound(_))
    ));
    assert!(matches!(
        broker.read("t", 0, 3, 10),
        Err(CoreError::OffsetOutOfRange { min: 0, max: 2, .. })
    ));
    assert!(matches!(
        broker.read("t", 1, 0, 10),
        Err(CoreError::QueueNotFound { queue: 1, .. })
    ));
    assert!(matches!(
        broker.read("t", 0, 0, 0),
        Err(CoreError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn batches_are_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 1).await.unwrap();
    let mut bad = draft("bad");
    bad.tag = Some(String::new());
    let result = broker.send("t", vec![draft("good"), bad]).await;
    assert!(matches!(result, Err(CoreError::InvalidArgument(_))));
    assert_eq!(broker.describe_topic("t").unwrap().messages(), 0);
    assert!(matches!(
        broker.send("t", Vec::new()).await,
        Err(CoreError::EmptyBatch)
    ));
    assert!(matches!(
        broker.send("missing", vec![draft("x")]).await,
        Err(CoreError::TopicNotFound(_))
    ));
}

#[tokio::test]
async fn retention_keeps_the_topic_table_readable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = small_store(dir.path());
        store.segment_size = 64 * 1024;
        // Everything is immediately expired: only the active segment stays.
        store.retention = Some(std::time::Duration::ZERO);
        let broker = open_broker(store, Limits::default());
        broker.create_topic("t", 1).await.unwrap();
        let body = "x".repeat(1000);
        for _ in 0..300 {
            broker.send("t", vec![draft(&body)]).await.unwrap();
        }
        // Expiry needs the newest record of a segment to be older than now - retention.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let deleted = broker.run_retention().await.unwrap();
        assert!(deleted > 0, "segments should have expired");
        let range = broker.describe_topic("t").unwrap().queues[0];
        assert!(
            range.min_offset > 0,
            "old messages should be gone: {range:?}"
        );
        broker.close().unwrap();
    }
    let broker = open(dir.path());
    assert_eq!(
        broker.list_topics().len(),
        1,
        "the topic table must survive retention"
    );
}

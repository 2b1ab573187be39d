//! Business-key deduplication through the dedup-filter hook, over a real store: duplicate
//! sends answered with the original and not stored, deliveries of processed keys acked
//! without being handed out, and both across a reopen. The filter here keys a message by
//! its body, for one topic and one group.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use weir_core::dedup::{DedupFuture, DedupScope};
use weir_core::{
    Broker, DedupFilter, DedupKeys, Delivery, GroupSpec, MessageDraft, ReceiveRequest, StartFrom,
};

use crate::support;

/// Keys messages of topic `t` and deliveries to group `g` by their body; bodies
/// starting with `-` have no key.
#[derive(Default)]
struct BodyKeys {
    window_ms: u64,
    send_duplicates: AtomicU64,
    delivery_duplicates: AtomicU64,
}

fn key_of(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    (!text.starts_with('-')).then(|| text.into_owned())
}

impl DedupFilter for BodyKeys {
    fn send_keys<'a>(&'a self, topic: &'a str, drafts: &'a [MessageDraft]) -> DedupFuture<'a> {
        Box::pin(async move {
            (topic == "t").then(|| DedupKeys {
                window_ms: self.window_ms,
                keys: drafts.iter().map(|d| key_of(&d.body)).collect(),
            })
        })
    }

    fn delivery_keys<'a>(&'a self, group: &'a str, deliveries: &'a [Delivery]) -> DedupFuture<'a> {
        Box::pin(async move {
            (group == "g").then(|| DedupKeys {
                window_ms: self.window_ms,
                keys: deliveries
                    .iter()
                    .map(|d| key_of(&d.stored.message.body))
                    .collect(),
            })
        })
    }

    fn duplicates_found(&self, scope: DedupScope<'_>, count: u64) {
        match scope {
            DedupScope::Topic(_) => self.send_duplicates.fetch_add(count, Ordering::Relaxed),
            DedupScope::Group(_) => self.delivery_duplicates.fetch_add(count, Ordering::Relaxed),
        };
    }
}

fn open(dir: &std::path::Path, filter: &Arc<BodyKeys>) -> Arc<Broker> {
    let broker = support::open(dir);
    broker.set_dedup_filter(Arc::clone(filter) as Arc<dyn DedupFilter>);
    broker
}

fn filter(window_ms: u64) -> Arc<BodyKeys> {
    Arc::new(BodyKeys {
        window_ms,
        ..BodyKeys::default()
    })
}

async fn send(broker: &Broker, topic: &str, bodies: &[&str]) -> Vec<(String, u32, u64)> {
    let drafts = bodies
        .iter()
        .map(|b| MessageDraft::new(b.to_string()))
        .collect();
    let receipt = broker.send(topic, drafts).await.unwrap();
    receipt
        .messages
        .into_iter()
        .map(|m| (m.id, m.queue, m.offset))
        .collect()
}

fn stored(broker: &Broker, topic: &str) -> u64 {
    broker.describe_topic(topic).unwrap().messages()
}

async fn receive(broker: &Broker, group: &str, wait_ms: u64) -> Vec<Delivery> {
    broker
        .receive(
            group,
            ReceiveRequest {
                max: 32,
                wait: Duration::from_millis(wait_ms),
                ..ReceiveRequest::default()
            },
        )
        .await
        .unwrap()
}

fn bodies(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| String::from_utf8(d.stored.message.body.to_vec()).unwrap())
        .collect()
}

async fn ack(broker: &Broker, group: &str, deliveries: &[Delivery]) {
    let receipts: Vec<String> = deliveries.iter().map(|d| d.receipt.clone()).collect();
    let outcome = broker.ack(group, &receipts).await.unwrap();
    assert!(outcome.failed.is_empty());
}

#[tokio::test]
async fn a_duplicate_send_answers_the_original_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = filter(60_000);
    {
        let broker = open(dir.path(), &keys);
        broker.create_topic("t", 2).await.unwrap();
        broker.create_topic("other", 1).await.unwrap();

        let first = send(&broker, "t", &["a"]).await;
        let again = send(&broker, "t", &["a"]).await;
        assert_eq!(again, first, "the duplicate is answered with the original");
        // In one batch: the repeat gets the first's answer, a new key is stored.
        let batch = send(&broker, "t", &["b", "a", "b", "-x", "-x"]).await;
        assert_eq!(batch[1], first[0]);
        assert_eq!(batch[2], batch[0]);
        assert_ne!(batch[0], first[0]);
        assert_ne!(
            batch[3], batch[4],
            "messages without a key are never duplicates"
        );
        assert_eq!(stored(&broker, "t"), 4, "a, b and two keyless messages");
        assert_eq!(keys.send_duplicates.load(Ordering::Relaxed), 3);

        // A topic without a filter stores every send.
        send(&broker, "other", &["a", "a"]).await;
        assert_eq!(stored(&broker, "other"), 2);
        let message = broker.get_by_id(&first[0].0).unwrap();
        assert!(
            message
                .message
                .properties
                .contains(&("weir.dedup-key".to_string(), "a".to_string()))
        );
        broker.close().unwrap();
    }
    let broker = open(dir.path(), &keys);
    assert_eq!(
        send(&broker, "t", &["a"]).await,
        first_after_reopen(&broker).await
    );
    assert_eq!(stored(&broker, "t"), 4, "still a duplicate after a reopen");
}

async fn first_after_reopen(broker: &Broker) -> Vec<(String, u32, u64)> {
    let message = broker.store().lookup_dedup_key("t", "a").unwrap().unwrap();
    vec![(message.message.id, message.queue, message.queue_offset)]
}

#[tokio::test]
async fn keys_older_than_the_window_are_not_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path(), &filter(1));
    broker.create_topic("t", 1).await.unwrap();
    let first = send(&broker, "t", &["a"]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = send(&broker, "t", &["a"]).await;
    assert_ne!(first, second);
    assert_eq!(stored(&broker, "t"), 2);
}

#[tokio::test]
async fn deliveries_of_processed_keys_are_acked_without_being_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let keys = filter(60_000);
    {
        let broker = open(dir.path(), &keys);
        broker.create_topic("u", 1).await.unwrap();
        for group in ["g", "h"] {
            broker
                .create_group(GroupSpec {
                    name: group.into(),
                    topic: "u".into(),
                    from: Some(StartFrom::Earliest),
                    ..GroupSpec::default()
                })
                .await
                .unwrap();
        }
        send(&broker, "u", &["x"]).await;
        let first = receive(&broker, "g", 0).await;
        assert_eq!(bodies(&first), ["x"]);
        ack(&broker, "g", &first).await;

        // A nacked key is not processed: its redelivery and a later duplicate come.
        send(&broker, "u", &["y", "x", "-z"]).await;
        let next = receive(&broker, "g", 0).await;
        assert_eq!(bodies(&next), ["y", "-z"], "x was processed already");
        let receipts: Vec<String> = next.iter().map(|d| d.receipt.clone()).collect();
        broker.nack("g", &receipts[..1], Some(0)).await.unwrap();
        ack(&broker, "g", &next[1..]).await;
        let again = receive(&broker, "g", 2_000).await;
        assert_eq!(bodies(&again), ["y"]);
        ack(&broker, "g", &again).await;
        assert_eq!(broker.lag("g", None).unwrap().total, 0);
        assert_eq!(keys.delivery_duplicates.load(Ordering::Relaxed), 1);

        // A group without a filter gets everything.
        let all = receive(&broker, "h", 0).await;
        assert_eq!(bodies(&all), ["x", "y", "x", "-z"]);
        broker.close().unwrap();
    }
    let broker = open(dir.path(), &keys);
    send(&broker, "u", &["x", "y", "w"]).await;
    let after = receive(&broker, "g", 0).await;
    assert_eq!(bodies(&after), ["w"], "processed keys survive a reopen");
    assert_eq!(broker.lag("g", None).unwrap().total, 1);
}

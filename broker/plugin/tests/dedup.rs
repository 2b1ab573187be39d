//! Dedup filter bindings with the real `json-dedup` component, through the core's hooks:
//! duplicate sends to a topic are answered with the original, deliveries of keys a group
//! processed are acked without being handed out, and a failing filter lets messages
//! through.

mod support;

use std::time::Duration;

use support::{Env, component};
use weir_core::{GroupSpec, MessageDraft, ReceiveRequest, StartFrom};
use weir_plugin::{BindingSpec, Grants, TargetSpec, World};

fn filter(name: &str, topic: Option<&str>, group: Option<&str>, config: &str) -> BindingSpec {
    BindingSpec {
        name: name.into(),
        module: "dedup".into(),
        version: None,
        target: TargetSpec::DedupFilter {
            topic: topic.map(Into::into),
            group: group.map(Into::into),
            window_ms: Some(60_000),
        },
        deadline_ms: None,
        memory_bytes: None,
        state_bytes: None,
        config: config.into(),
        grants: Grants::default(),
    }
}

async fn send(env: &Env, topic: &str, bodies: &[&str]) -> Vec<(String, u32, u64)> {
    let drafts = bodies
        .iter()
        .map(|b| MessageDraft::new(b.to_string()))
        .collect();
    let receipt = env.broker.send(topic, drafts).await.unwrap();
    receipt
        .messages
        .into_iter()
        .map(|m| (m.id, m.queue, m.offset))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_side_filter_drops_duplicate_business_keys() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    env.broker.create_topic("orders", 2).await.unwrap();
    env.broker.create_topic("other", 1).await.unwrap();
    env.host
        .upload("dedup", World::DedupFilter, component("json_dedup"))
        .await
        .unwrap();
    env.host
        .bind(filter("orders-dedup", Some("orders"), None, "order.id"))
        .await
        .unwrap();

    let first = send(&env, "orders", &[r#"{"order":{"id":"A-17"},"total":3}"#]).await;
    let again = send(&env, "orders", &[r#"{"order":{"id":"A-17"},"total":4}"#]).await;
    assert_eq!(again, first);
    let batch = send(
        &env,
        "orders",
        &[
            r#"{"order":{"id":18}}"#,
            "not json",
            "not json",
            r#"{"order":{"id":"18"}}"#,
        ],
    )
    .await;
    assert_eq!(batch[3], batch[0], "17 and \"17\" share a key");
    assert_ne!(
        batch[1], batch[2],
        "bodies without a key are never duplicates"
    );
    assert_eq!(env.broker.describe_topic("orders").unwrap().messages(), 4);
    send(&env, "other", &[r#"{"order":{"id":"A-17"}}"#]).await;
    assert_eq!(env.broker.describe_topic("other").unwrap().messages(), 1);

    let metrics = env.host.binding("orders-dedup").unwrap().metrics;
    assert_eq!(metrics.duplicates, 2);
    assert_eq!(metrics.keys, 4, "A-17 twice, 18 twice");

    // Paused, the filter is not asked: the repeat is stored.
    env.host.pause("orders-dedup").await.unwrap();
    send(&env, "orders", &[r#"{"order":{"id":"A-17"}}"#]).await;
    assert_eq!(env.broker.describe_topic("orders").unwrap().messages(), 5);
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consume_side_filter_skips_keys_the_group_processed() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    env.broker.create_topic("events", 1).await.unwrap();
    env.broker
        .create_group(GroupSpec {
            name: "billing".into(),
            topic: "events".into(),
            from: Some(StartFrom::Earliest),
            ..GroupSpec::default()
        })
        .await
        .unwrap();
    env.host
        .upload("dedup", World::DedupFilter, component("json_dedup"))
        .await
        .unwrap();
    env.host
        .bind(filter("billing-dedup", None, Some("billing"), "event"))
        .await
        .unwrap();
    let receive = || {
        env.broker.receive(
            "billing",
            ReceiveRequest {
                max: 16,
                wait: Duration::from_millis(200),
                ..ReceiveRequest::default()
            },
        )
    };

    send(&env, "events", &[r#"{"event":"e1"}"#]).await;
    let first = receive().await.unwrap();
    assert_eq!(first.len(), 1);
    let receipts: Vec<String> = first.iter().map(|d| d.receipt.clone()).collect();
    env.broker.ack("billing", &receipts).await.unwrap();

    send(&env, "events", &[r#"{"event":"e1"}"#, r#"{"event":"e2"}"#]).await;
    let next = receive().await.unwrap();
    let bodies: Vec<_> = next
        .iter()
        .map(|d| String::from_utf8(d.stored.message.body.to_vec()).unwrap())
        .collect();
    assert_eq!(bodies, [r#"{"event":"e2"}"#]);
    let receipts: Vec<String> = next.iter().map(|d| d.receipt.clone()).collect();
    env.broker.ack("billing", &receipts).await.unwrap();
    assert_eq!(env.broker.lag("billing", None).unwrap().total, 0);
    assert_eq!(
        env.host
            .binding("billing-dedup")
            .unwrap()
            .metrics
            .duplicates,
        1
    );
    env.close().await;
}

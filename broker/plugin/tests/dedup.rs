//! Dedup filter bindings with the real `json-dedup` component, through the calls the
//! core's send-side and consume-side hooks will make.

mod support;

use support::{Env, component};
use weir_core::MessageDraft;
use weir_plugin::{BindingSpec, Grants, TargetSpec, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_side_filter_answers_the_business_key() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    env.broker.create_topic("orders", 1).await.unwrap();
    env.host
        .upload("dedup", World::DedupFilter, component("json_dedup"))
        .await
        .unwrap();
    env.host
        .bind(BindingSpec {
            name: "orders-dedup".into(),
            module: "dedup".into(),
            version: None,
            target: TargetSpec::DedupFilter {
                topic: Some("orders".into()),
                group: None,
                window_ms: Some(60_000),
            },
            deadline_ms: None,
            memory_bytes: None,
            state_bytes: None,
            config: "order.id".into(),
            grants: Grants::default(),
        })
        .await
        .unwrap();

    let draft = MessageDraft::new(r#"{"order":{"id":"A-17"},"total":3}"#);
    let (window, key) = env.host.send_dedup_key("orders", &draft).await.unwrap();
    assert_eq!((window, key), (60_000, Ok(Some("A-17".to_string()))));
    let (_, key) = env
        .host
        .send_dedup_key("orders", &MessageDraft::new("not json"))
        .await
        .unwrap();
    assert_eq!(key, Ok(None));
    assert!(env.host.send_dedup_key("other", &draft).await.is_none());
    assert_eq!(env.host.binding("orders-dedup").unwrap().metrics.keys, 1);
    env.close().await;
}

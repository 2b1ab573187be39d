//! Binding state across restarts, with the real `ack_all` component counting the
//! messages it acked in its state: the count survives a clean restart, a crash after a
//! periodic snapshot and retention of the snapshot's segment, and a binding deleted and
//! created again under the same name starts from nothing.

mod support;

use std::path::Path;
use std::sync::Arc;

use support::{Env, broker_with, component, eventually, host_config, quick_limits};
use weir_core::{GroupSpec, MessageDraft};
use weir_plugin::{BindingSpec, Grants, PLUGIN_STATE_TOPIC, PluginHost, TargetSpec, World};

/// `ack_all` counting in the state key `acked`.
fn counter(name: &str) -> BindingSpec {
    BindingSpec {
        name: name.to_string(),
        module: "ack".to_string(),
        version: None,
        target: TargetSpec::Consumer {
            topic: "t".to_string(),
            group: "g".to_string(),
            batch_size: Some(4),
            // One instance: the count is a read-modify-write of one key, which two
            // instances running at once would race on.
            concurrency: Some(1),
        },
        deadline_ms: Some(2_000),
        memory_bytes: None,
        state_bytes: None,
        config: "acked".to_string(),
        grants: Grants::default(),
    }
}

/// Topic `t`, group `g`, the `ack` module and a counting binding `b`.
async fn setup(env: &Env) {
    env.broker.create_topic("t", 2).await.unwrap();
    env.broker
        .create_group(GroupSpec {
            name: "g".into(),
            topic: "t".into(),
            ..GroupSpec::default()
        })
        .await
        .unwrap();
    env.host
        .upload("ack", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    env.host.bind(counter("b")).await.unwrap();
}

async fn send(env: &Env, n: usize) {
    let drafts = (0..n).map(|i| MessageDraft::new(format!("m{i}"))).collect();
    env.broker.send("t", drafts).await.unwrap();
}

/// The count `ack_all` keeps, if any.
fn count(host: &PluginHost, binding: &str) -> Option<u64> {
    host.state_value(binding, "acked")
        .unwrap()
        .map(|bytes| String::from_utf8(bytes).unwrap().parse().unwrap())
}

/// Waits until binding `b` counted `n` acked messages.
async fn counted(env: &Env, n: u64) {
    eventually(&format!("a count of {n}"), || {
        count(&env.host, "b") == Some(n)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    setup(&env).await;
    send(&env, 30).await;
    counted(&env, 30).await;
    eventually("30 acks", || {
        env.host.binding("b").unwrap().metrics.acked == 30
    })
    .await;
    env.close().await;

    let env = Env::open(dir.path()).await;
    assert_eq!(count(&env.host, "b"), Some(30), "restored at open");
    send(&env, 12).await;
    counted(&env, 42).await;
    eventually("no lag", || env.broker.lag("g", None).unwrap().total == 0).await;
    assert_eq!(count(&env.host, "b"), Some(42));
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_keeps_the_state_of_the_last_periodic_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    setup(&env).await;
    send(&env, 9).await;
    counted(&env, 9).await;
    // Wait for the periodic snapshot holding the count: its body ends with the only
    // entry, `acked` = "9" without expiry (see the format in src/snapshot_record.rs).
    let entry = [
        &5u16.to_le_bytes()[..],
        b"acked",
        &1u32.to_le_bytes(),
        b"9",
        &[0],
    ]
    .concat();
    let store = Arc::clone(env.broker.store());
    eventually("a snapshot of the count", || {
        store
            .lookup_key(PLUGIN_STATE_TOPIC, "b", 1)
            .unwrap()
            .first()
            .is_some_and(|m| m.message.body.ends_with(&entry))
    })
    .await;
    // No shutdown: the host writes nothing more. Closing the broker only flushes what
    // is already appended, as the page cache would keep it after a kill -9.
    env.broker.close().unwrap();
    drop(env);

    let env = Env::open(dir.path()).await;
    assert_eq!(count(&env.host, "b"), Some(9));
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binding_created_again_under_the_same_name_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    setup(&env).await;
    send(&env, 5).await;
    counted(&env, 5).await;
    env.close().await;

    let env = Env::open(dir.path()).await;
    assert_eq!(count(&env.host, "b"), Some(5));
    env.host.unbind("b").await.unwrap();
    env.host.bind(counter("b")).await.unwrap();
    assert_eq!(count(&env.host, "b"), None, "a new binding has no state");
    env.close().await;

    let env = Env::open(dir.path()).await;
    assert_eq!(
        count(&env.host, "b"),
        None,
        "the old binding's snapshot is not restored into the new one"
    );
    send(&env, 3).await;
    counted(&env, 3).await;
    env.close().await;

    let env = Env::open(dir.path()).await;
    assert_eq!(
        count(&env.host, "b"),
        Some(3),
        "the new binding's own state"
    );
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_outlives_retention_of_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let open = |dir: &Path| {
        let dir = dir.to_path_buf();
        async move {
            let broker = broker_with(&dir, quick_limits(), |store| {
                store.retention = Some(std::time::Duration::from_millis(1));
            });
            let host = PluginHost::open(Arc::clone(&broker), host_config(&dir, 5))
                .await
                .unwrap();
            Env { broker, host }
        }
    };
    let env = open(dir.path()).await;
    setup(&env).await;
    send(&env, 6).await;
    counted(&env, 6).await;
    env.close().await;

    // The snapshot written at shutdown is in the first segment; fill a few more (on
    // another topic, leaving the count alone) so that it expires.
    let env = open(dir.path()).await;
    env.broker.create_topic("fill", 1).await.unwrap();
    for _ in 0..30 {
        env.broker
            .send("fill", vec![MessageDraft::new(vec![b'x'; 100 * 1024])])
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    env.host.prepare_retention().await.unwrap();
    assert!(
        env.broker.run_retention().await.unwrap() > 0,
        "segments expired"
    );
    env.close().await;

    let env = open(dir.path()).await;
    assert_eq!(count(&env.host, "b"), Some(6));
    env.close().await;
}

//! Consumer bindings with real components: outcomes settle messages, failures of every
//! kind fail the batch and end in quarantine, new versions take over, and bindings
//! survive a restart.

mod support;

use std::time::Duration;

use support::{Env, component, eventually, host_config, quick_limits};
use weir_core::{GroupSpec, MessageDraft};
use weir_plugin::{BindingSpec, Grants, PluginError, RunState, TargetSpec, World};

fn consumer(name: &str, module: &str, config: &str) -> BindingSpec {
    BindingSpec {
        name: name.to_string(),
        module: module.to_string(),
        version: None,
        target: TargetSpec::Consumer {
            topic: "t".to_string(),
            group: "g".to_string(),
            batch_size: Some(8),
            concurrency: Some(2),
        },
        deadline_ms: Some(2_000),
        memory_bytes: None,
        state_bytes: None,
        config: config.to_string(),
        grants: Grants::default(),
    }
}

/// A topic `t` and a group `g` that dead-letters after `attempts` with quick retries.
async fn topic_and_group(env: &Env, attempts: u32) {
    env.broker.create_topic("t", 2).await.unwrap();
    env.broker
        .create_group(GroupSpec {
            name: "g".into(),
            topic: "t".into(),
            max_attempts: Some(attempts),
            backoff_ms: Some(vec![10]),
            ..GroupSpec::default()
        })
        .await
        .unwrap();
}

async fn send(env: &Env, topic: &str, n: usize) {
    let drafts = (0..n).map(|i| MessageDraft::new(format!("m{i}"))).collect();
    env.broker.send(topic, drafts).await.unwrap();
}

fn dead_letters(env: &Env) -> u64 {
    env.broker.describe_group("g", None).unwrap().dead_letters
}

fn lag(env: &Env) -> u64 {
    env.broker.lag("g", None).unwrap().total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_are_done_and_state_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    topic_and_group(&env, 3).await;
    env.host
        .upload("ack", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    env.host.bind(consumer("b", "ack", "acked")).await.unwrap();
    send(&env, "t", 50).await;
    eventually("50 acks", || {
        env.host.binding("b").unwrap().metrics.acked == 50
    })
    .await;
    eventually("no lag", || lag(&env) == 0).await;
    let status = env.host.binding("b").unwrap();
    assert_eq!(status.module_version, Some(1));
    assert_eq!(status.metrics.messages, 50);
    assert_eq!(status.metrics.failed_calls, 0);
    assert!(status.metrics.calls >= 7, "batches of at most 8");
    assert_eq!(status.state_entries, 1);
    assert_eq!(dead_letters(&env), 0);
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_plugin_fails_its_batches_until_dead_letter_and_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open_with(dir.path(), quick_limits(), host_config(dir.path(), 4)).await;
    topic_and_group(&env, 2).await;
    env.host
        .upload("trap", World::Consumer, component("trap"))
        .await
        .unwrap();
    let mut spec = consumer("b", "trap", "panic");
    spec.target = TargetSpec::Consumer {
        topic: "t".into(),
        group: "g".into(),
        batch_size: Some(1),
        concurrency: Some(1),
    };
    env.host.bind(spec).await.unwrap();
    send(&env, "t", 2).await;
    eventually("both dead-lettered", || dead_letters(&env) == 2).await;
    eventually("quarantine", || {
        matches!(
            env.host.binding("b").unwrap().config.run,
            RunState::Quarantined { .. }
        )
    })
    .await;
    let status = env.host.binding("b").unwrap();
    assert_eq!(status.metrics.traps, 4);
    assert_eq!(status.consecutive_failures, 4);
    assert!(status.last_error.unwrap().contains("trapped"));

    // Quarantine holds across a restart, and resuming clears it.
    env.close().await;
    let env = Env::open_with(dir.path(), quick_limits(), host_config(dir.path(), 4)).await;
    assert!(matches!(
        env.host.binding("b").unwrap().config.run,
        RunState::Quarantined { .. }
    ));
    env.host.resume("b").await.unwrap();
    let status = env.host.binding("b").unwrap();
    assert_eq!(
        (status.config.run, status.consecutive_failures),
        (RunState::Running, 0)
    );
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_memory_caps_and_wrong_answers_fail_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open_with(dir.path(), quick_limits(), host_config(dir.path(), 1_000)).await;
    topic_and_group(&env, 1_000).await;
    env.host
        .upload("spin", World::Consumer, component("spin"))
        .await
        .unwrap();
    env.host
        .upload("bomb", World::Consumer, component("memory_bomb"))
        .await
        .unwrap();
    env.host
        .upload("odd", World::Consumer, component("oversized"))
        .await
        .unwrap();

    let mut spin = consumer("b", "spin", "");
    spin.deadline_ms = Some(100);
    env.host.bind(spin).await.unwrap();
    send(&env, "t", 1).await;
    // The counters move when the call ends, the health when its batch is nacked.
    eventually("a timeout", || {
        let status = env.host.binding("b").unwrap();
        status.metrics.timeouts >= 1
            && status
                .last_error
                .is_some_and(|e| e.contains("deadline of 100 ms"))
    })
    .await;

    let mut bomb = consumer("b", "bomb", "");
    bomb.memory_bytes = Some(8 << 20);
    env.host.rebind(bomb).await.unwrap();
    eventually("a memory cap", || {
        env.host.binding("b").unwrap().metrics.memory_limits >= 1
    })
    .await;

    env.host.rebind(consumer("b", "odd", "long")).await.unwrap();
    eventually("a wrong length", || {
        env.host.binding("b").unwrap().metrics.wrong_lengths >= 1
    })
    .await;
    let status = env.host.binding("b").unwrap();
    assert_eq!(status.metrics.acked, 0, "no failed call settles a message");
    assert!(status.metrics.failed_messages >= 3);
    assert_eq!(lag(&env), 1);

    // A module that behaves drains what the others failed.
    env.host
        .upload("ack", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    env.host.rebind(consumer("b", "ack", "")).await.unwrap();
    eventually("no lag", || lag(&env) == 0).await;
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_takes_over_and_pinned_versions_stay() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open_with(dir.path(), quick_limits(), host_config(dir.path(), 1_000)).await;
    topic_and_group(&env, 1_000).await;
    env.host
        .upload("m", World::Consumer, component("trap"))
        .await
        .unwrap();
    env.host.bind(consumer("b", "m", "panic")).await.unwrap();
    send(&env, "t", 5).await;
    eventually("a trap", || {
        env.host.binding("b").unwrap().metrics.traps >= 1
    })
    .await;
    assert!(matches!(
        env.host.delete_module("m", None).await,
        Err(PluginError::ModuleInUse { .. })
    ));

    env.host
        .upload("m", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    eventually("no lag", || lag(&env) == 0).await;
    assert_eq!(env.host.binding("b").unwrap().module_version, Some(2));
    // Version 1 is no longer used by the binding that follows the newest.
    env.host.delete_module("m", Some(1)).await.unwrap();

    let mut pinned = consumer("b", "m", "");
    pinned.version = Some(2);
    env.host.rebind(pinned).await.unwrap();
    env.host
        .upload("m", World::Consumer, component("trap"))
        .await
        .unwrap();
    send(&env, "t", 3).await;
    eventually("no lag", || lag(&env) == 0).await;
    assert_eq!(env.host.binding("b").unwrap().module_version, Some(2));
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_bindings_wait_and_bindings_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    topic_and_group(&env, 3).await;
    env.host
        .upload("ack", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    env.host.bind(consumer("b", "ack", "")).await.unwrap();
    assert!(matches!(
        env.host.bind(consumer("b", "ack", "")).await,
        Err(PluginError::BindingExists(_))
    ));
    env.host.pause("b").await.unwrap();
    send(&env, "t", 4).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(env.host.binding("b").unwrap().metrics.messages, 0);
    env.close().await;

    let env = Env::open(dir.path()).await;
    assert_eq!(env.host.binding("b").unwrap().config.run, RunState::Paused);
    env.host.resume("b").await.unwrap();
    eventually("no lag", || lag(&env) == 0).await;
    env.host.unbind("b").await.unwrap();
    assert!(matches!(
        env.host.binding("b"),
        Err(PluginError::BindingNotFound(_))
    ));
    env.host.delete_module("ack", None).await.unwrap();
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarder_publishes_only_when_granted() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    topic_and_group(&env, 1_000).await;
    env.broker.create_topic("out", 1).await.unwrap();
    env.host
        .upload("fwd", World::Consumer, component("forwarder"))
        .await
        .unwrap();
    env.host.bind(consumer("b", "fwd", "out")).await.unwrap();
    send(&env, "t", 3).await;
    eventually("retries", || {
        env.host.binding("b").unwrap().metrics.retried >= 3
    })
    .await;
    assert_eq!(env.broker.describe_topic("out").unwrap().messages(), 0);

    let mut granted = consumer("b", "fwd", "out");
    granted.grants.publish = true;
    env.host.rebind(granted).await.unwrap();
    eventually("forwarded", || {
        env.broker.describe_topic("out").unwrap().messages() == 3
    })
    .await;
    eventually("no lag", || lag(&env) == 0).await;
    assert_eq!(env.host.binding("b").unwrap().metrics.published, 3);
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_are_checked_against_the_registry_and_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    env.broker.create_topic("t", 1).await.unwrap();
    env.host
        .upload("ack", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    assert!(matches!(
        env.host.bind(consumer("b", "nope", "")).await,
        Err(PluginError::ModuleNotFound { .. })
    ));
    let mut checker = consumer("b", "ack", "");
    checker.target = TargetSpec::TxChecker {
        producer_group: Some("p".into()),
        topic: None,
    };
    assert!(matches!(
        env.host.bind(checker).await,
        Err(PluginError::WorldMismatch { .. })
    ));
    // A missing group is created on the topic.
    env.host.bind(consumer("b", "ack", "")).await.unwrap();
    assert_eq!(
        env.broker.describe_group("g", None).unwrap().config.topic,
        "t"
    );
    env.broker.create_topic("u", 1).await.unwrap();
    let mut other = consumer("c", "ack", "");
    other.target = TargetSpec::Consumer {
        topic: "u".into(),
        group: "g".into(),
        batch_size: None,
        concurrency: None,
    };
    assert!(matches!(
        env.host.bind(other).await,
        Err(PluginError::InvalidBinding(_))
    ));
    assert_eq!(env.host.status().bindings.len(), 1);
    env.close().await;
}

//! Transactional messages over a real store: commit, rollback, check-back through a
//! checker and through the producers' long poll, parking after the maximum of checks,
//! and decisions that survive a reopen.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use weir_core::{
    Broker, CoreError, HalfMessage, Limits, MessageDraft, TransactionChecker, TxOutcome, TxState,
};

use crate::support::{open, open_with};

fn quick_checks(max_checks: u32) -> Limits {
    Limits {
        tx_check_after_ms: 50,
        tx_check_interval_ms: 50,
        tx_max_checks: max_checks,
        ..Limits::default()
    }
}

async fn half(broker: &Broker, body: &str, group: Option<&str>) -> String {
    broker
        .send_half("t", MessageDraft::new(body.to_string()), group, None)
        .await
        .unwrap()
        .0
}

fn messages(broker: &Broker) -> u64 {
    broker.describe_topic("t").unwrap().messages()
}

#[tokio::test]
async fn commit_makes_the_message_visible_under_its_id_and_rollback_discards() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open(dir.path());
    broker.create_topic("t", 2).await.unwrap();
    let kept = half(&broker, "kept", None).await;
    let dropped = half(&broker, "dropped", None).await;
    assert_eq!(messages(&broker), 0, "half messages are invisible");
    assert_eq!(broker.transactions(10).unwrap().len(), 2);

    assert_eq!(broker.commit(&kept).await.unwrap(), TxOutcome::Committed);
    assert_eq!(broker.commit(&kept).await.unwrap(), TxOutcome::Committed);
    assert!(matches!(
        broker.rollback(&kept).await,
        Err(CoreError::TransactionConflict { .. })
    ));
    assert_eq!(
        broker.rollback(&dropped).await.unwrap(),
        TxOutcome::RolledBack
    );
    assert_eq!(
        broker.rollback(&dropped).await.unwrap(),
        TxOutcome::RolledBack
    );
    assert!(matches!(
        broker.commit(&dropped).await,
        Err(CoreError::TransactionConflict { .. })
    ));
    assert_eq!(messages(&broker), 1);
    let stored = broker.get_by_id(&kept).unwrap();
    assert_eq!(
        (stored.topic.as_str(), stored.message.body.as_ref()),
        ("t", &b"kept"[..])
    );
    assert!(broker.transactions(10).unwrap().is_empty());
    assert!(matches!(
        broker.commit("no-such-tx").await,
        Err(CoreError::TransactionNotFound(_))
    ));
}

#[tokio::test]
async fn decisions_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, dropped, open_tx) = {
        let broker = open(dir.path());
        broker.create_topic("t", 1).await.unwrap();
        let kept = half(&broker, "kept", None).await;
        let dropped = half(&broker, "dropped", None).await;
        let open_tx = half(&broker, "open", None).await;
        broker.commit(&kept).await.unwrap();
        broker.rollback(&dropped).await.unwrap();
        broker.close().unwrap();
        (kept, dropped, open_tx)
    };
    let broker = open(dir.path());
    assert_eq!(messages(&broker), 1);
    assert_eq!(broker.commit(&kept).await.unwrap(), TxOutcome::Committed);
    assert!(matches!(
        broker.commit(&dropped).await,
        Err(CoreError::TransactionConflict { .. })
    ));
    let pending = broker.transactions(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].transaction, open_tx);
    broker.commit(&open_tx).await.unwrap();
    assert_eq!(messages(&broker), 2);
}

/// Answers unknown a given number of times, then commit.
struct LateCommitter {
    unknowns: u32,
    calls: AtomicU32,
}

impl TransactionChecker for LateCommitter {
    fn check<'a>(
        &'a self,
        _half: &'a HalfMessage,
    ) -> Pin<Box<dyn Future<Output = TxState> + Send + 'a>> {
        Box::pin(async move {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call < self.unknowns {
                TxState::Unknown
            } else {
                TxState::Commit
            }
        })
    }
}

async fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..400 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn an_undecided_transaction_is_checked_back_until_a_checker_commits() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open_with(dir.path(), quick_checks(15));
    broker.create_topic("t", 1).await.unwrap();
    let checker = Arc::new(LateCommitter {
        unknowns: 2,
        calls: AtomicU32::new(0),
    });
    broker.add_transaction_checker(checker.clone());
    let tx = half(&broker, "checked", Some("producers")).await;
    assert!(wait_until(|| messages(&broker) == 1).await);
    assert_eq!(
        checker.calls.load(Ordering::SeqCst),
        3,
        "unknown, unknown, commit"
    );
    assert_eq!(broker.get_by_id(&tx).unwrap().topic, "t");
}

#[tokio::test]
async fn without_a_checker_producers_answer_through_the_long_poll() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open_with(dir.path(), quick_checks(15));
    broker.create_topic("t", 1).await.unwrap();
    let tx = half(&broker, "asked", Some("producers")).await;
    let asked = broker
        .poll_checks("producers", 10, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].transaction, tx);
    assert_eq!(asked[0].producer_group.as_deref(), Some("producers"));
    assert!(asked[0].checks >= 1);
    broker.rollback(&tx).await.unwrap();
    assert!(
        broker
            .poll_checks("producers", 10, Duration::ZERO)
            .await
            .unwrap()
            .iter()
            .all(|h| h.transaction != tx)
    );
    assert_eq!(messages(&broker), 0);
}

#[tokio::test]
async fn after_the_maximum_of_checks_a_transaction_is_parked_until_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open_with(dir.path(), quick_checks(2));
    broker.create_topic("t", 1).await.unwrap();
    let tx = half(&broker, "stuck", None).await;
    assert!(
        wait_until(|| broker
            .transactions(10)
            .unwrap()
            .first()
            .is_some_and(|h| h.parked))
        .await
    );
    let parked = &broker.transactions(10).unwrap()[0];
    assert_eq!(
        (parked.checks, parked.transaction.as_str()),
        (2, tx.as_str())
    );
    broker.resume_transaction(&tx).await.unwrap();
    let resumed = &broker.transactions(10).unwrap()[0];
    assert!(!resumed.parked);
    broker.commit(&tx).await.unwrap();
    assert_eq!(messages(&broker), 1);
}

#[tokio::test]
async fn producer_groups_are_durable_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = open(dir.path());
        broker
            .put_producer_group("orders", Some("http://127.0.0.1:9/check".into()))
            .await
            .unwrap();
        broker.put_producer_group("quiet", None).await.unwrap();
        assert!(matches!(
            broker
                .put_producer_group("bad", Some("ftp://x".into()))
                .await,
            Err(CoreError::InvalidArgument(_))
        ));
        assert!(broker.put_producer_group("bad name", None).await.is_err());
        broker.delete_producer_group("quiet").await.unwrap();
        broker.close().unwrap();
    }
    let broker = open(dir.path());
    let groups = broker.producer_groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0].callback_url.as_deref(),
        Some("http://127.0.0.1:9/check")
    );
    assert!(matches!(
        broker.delete_producer_group("quiet").await,
        Err(CoreError::ProducerGroupNotFound(_))
    ));
}

//! Tests that need the store's insides: the disk monitor driven by hand.

use super::*;
use crate::FlushPolicy;
use bytes::Bytes;

fn config(dir: &std::path::Path, flush: FlushPolicy) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_size = 1 << 20;
    config.index_slots = 1024;
    config.index_entries = 4096;
    config.queue_entries_per_file = 1024;
    config.flush = flush;
    config
}

fn message(i: usize) -> Message {
    Message {
        id: format!("id-{i}"),
        keys: vec![format!("k{}", i % 3)],
        tag: Some("t".to_owned()),
        properties: vec![],
        body: Bytes::from(vec![i as u8; 64]),
        born_ms: 1,
        flags: 0,
    }
}

#[tokio::test]
async fn failed_fsync_poisons_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path(), FlushPolicy::Sync)).unwrap();
    let first = store.append("t", &[(0, message(0))]).unwrap();
    store.wait_durable(first.end).await.unwrap();

    store.faults().fail(
        crate::FaultPoint::Fsync(crate::FileKind::CommitLog),
        crate::Errno::IO,
        1,
    );
    let second = store.append("t", &[(0, message(1))]).unwrap();
    let err = store.wait_durable(second.end).await.unwrap_err();
    assert!(matches!(err, StoreError::Poisoned), "{err}");
    assert!(err.to_string().contains("restart"), "{err}");
    assert!(store.stats().poisoned);
    assert!(matches!(
        store.append("t", &[(0, message(2))]),
        Err(StoreError::Poisoned)
    ));
    assert!(matches!(
        store.wait_durable(second.end).await,
        Err(StoreError::Poisoned)
    ));
    // Already durable data still reads.
    assert_eq!(
        store.read_at(first.appended[0].position).unwrap().message,
        message(0)
    );
}

#[test]
fn appends_are_refused_above_the_disk_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(
        dir.path(),
        FlushPolicy::Async {
            interval: Duration::from_millis(50),
        },
    ))
    .unwrap();
    let disk = &store.inner().disk;
    store.faults().set_disk_usage(Some(0.95));
    disk.check();
    let err = store.append("t", &[(0, message(0))]).unwrap_err();
    match &err {
        StoreError::DiskFull { used_ratio, limit } => {
            assert_eq!(*used_ratio, 0.95);
            assert_eq!(*limit, 0.90);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("95.0%"), "{err}");
    assert!(store.stats().disk_full);

    store.faults().set_disk_usage(Some(0.5));
    disk.check();
    store.append("t", &[(0, message(0))]).unwrap();
    assert!(!store.stats().disk_full);
}

#[test]
fn invalid_topics_and_oversized_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path(), FlushPolicy::Sync)).unwrap();
    for topic in ["", ".", "..", "a/b", "a\0b", "ä"] {
        assert!(
            matches!(
                store.append(topic, &[(0, message(0))]),
                Err(StoreError::InvalidMessage(_))
            ),
            "{topic:?}"
        );
    }
    let mut big = message(0);
    big.body = Bytes::from(vec![0u8; 2 << 20]);
    let err = store.append("t", &[(0, big)]).unwrap_err();
    assert!(err.to_string().contains("segment"), "{err}");
    assert_eq!(store.stats().write_position, 0);
}

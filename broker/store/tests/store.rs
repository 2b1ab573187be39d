//! Black-box tests of the store through its public API and its files.

mod common;

use common::{config, message, open, read_all};
use std::time::Duration;
use weir_store::{FlushPolicy, Store, StoreError};

#[test]
fn appended_messages_are_read_back_by_queue_position_id_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let batch: Vec<_> = (0..10).map(|i| ((i % 2) as u32, message(i, 100))).collect();
    let outcome = store.append("orders", &batch).unwrap();
    assert_eq!(outcome.appended.len(), 10);
    let offsets: Vec<_> = outcome
        .appended
        .iter()
        .map(|a| (a.queue, a.queue_offset))
        .collect();
    assert_eq!(offsets[..4], [(0, 0), (1, 0), (0, 1), (1, 1)]);

    let q0 = store.read_queue("orders", 0, 0, 100).unwrap();
    assert_eq!(q0.len(), 5);
    for (n, m) in q0.iter().enumerate() {
        assert_eq!(m.message, message(n * 2, 100));
        assert_eq!(m.queue_offset, n as u64);
        assert_eq!(store.read_at(m.position).unwrap(), *m);
    }
    assert_eq!(
        store.queue_range("orders", 0),
        weir_store::QueueRange { min: 0, max: 5 }
    );
    assert_eq!(
        store.queue_range("orders", 9),
        weir_store::QueueRange::default()
    );
    assert_eq!(
        store.queue_range("nope", 0),
        weir_store::QueueRange::default()
    );
    assert!(store.read_queue("orders", 0, 5, 10).unwrap().is_empty());

    let found = store.lookup_id("msg-3").unwrap().unwrap();
    assert_eq!(found.message, message(3, 100));
    assert!(store.lookup_id("msg-99").unwrap().is_none());
    let by_key = store.lookup_key("orders", "order-1", 10).unwrap();
    assert_eq!(
        by_key
            .iter()
            .map(|m| m.message.id.as_str())
            .collect::<Vec<_>>(),
        ["msg-1", "msg-8"]
    );
    assert!(store.lookup_key("other", "order-1", 10).unwrap().is_empty());
    assert!(matches!(
        store.read_at(outcome.end),
        Err(StoreError::OutOfRange { .. })
    ));
    assert!(matches!(store.read_at(1), Err(StoreError::Corrupt(_))));
}

#[test]
fn dedup_keys_are_indexed_per_topic_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let with_key = |i: usize, key: &str| {
        let mut m = message(i, 10);
        m.properties
            .push((weir_store::DEDUP_KEY_PROPERTY.to_string(), key.to_string()));
        m
    };
    {
        let store = open(dir.path());
        store
            .append("a", &[(0, with_key(1, "k1")), (0, with_key(2, "k2"))])
            .unwrap();
        store.append("b", &[(0, with_key(3, "k1"))]).unwrap();
        store.append("a", &[(0, with_key(4, "k1"))]).unwrap();
        // A business key or property value equal to a dedup key is not one.
        let mut plain = message(5, 10);
        plain.keys = vec!["k3".into()];
        plain.properties.push(("other".into(), "k3".into()));
        store.append("a", &[(0, plain)]).unwrap();
        let newest = store.lookup_dedup_key("a", "k1").unwrap().unwrap();
        assert_eq!(newest.message.id, "msg-4");
        assert_eq!(
            store
                .lookup_dedup_key("b", "k1")
                .unwrap()
                .unwrap()
                .message
                .id,
            "msg-3"
        );
        assert!(store.lookup_dedup_key("a", "k3").unwrap().is_none());
        assert!(store.lookup_dedup_key("c", "k1").unwrap().is_none());
        store.close().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        store
            .lookup_dedup_key("a", "k2")
            .unwrap()
            .unwrap()
            .message
            .id,
        "msg-2"
    );
}

#[test]
fn many_messages_with_one_key_are_found_across_index_files_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        // 2 index entries per message beyond the id; 4096 entries per file: several files.
        for chunk in 0..30 {
            let batch: Vec<_> = (0..100)
                .map(|i| (0, message(chunk * 100 + i, 10)))
                .collect();
            store.append("t", &batch).unwrap();
        }
        let all = store.lookup_key("t", "shared", usize::MAX).unwrap();
        assert_eq!(all.len(), 3000);
        assert!(all.windows(2).all(|w| w[0].position < w[1].position));
        let newest = store.lookup_key("t", "shared", 5).unwrap();
        assert_eq!(
            newest.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
            [2995, 2996, 2997, 2998, 2999]
        );
        store.close().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        store.lookup_key("t", "shared", usize::MAX).unwrap().len(),
        3000
    );
    assert_eq!(
        store.lookup_key("t", "order-3", usize::MAX).unwrap().len(),
        3000 / 7 + 1
    );
    assert_eq!(
        store.lookup_id("msg-1234").unwrap().unwrap().queue_offset,
        1234
    );
}

#[test]
fn records_span_many_segments_and_read_across_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.segment_size = 64 * 1024;
    let expected: Vec<_> = (0..300)
        .map(|i| message(i, 1000 + (i * 37) % 3000))
        .collect();
    {
        let store = Store::open(cfg.clone()).unwrap();
        for chunk in expected.chunks(7) {
            let batch: Vec<_> = chunk.iter().map(|m| (3, m.clone())).collect();
            store.append("roll", &batch).unwrap();
        }
        assert!(store.stats().segments > 10, "{:?}", store.stats());
        let read = read_all(&store, "roll", 3);
        assert_eq!(
            read.iter().map(|m| &m.message).collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>()
        );
        // Consecutive records in different segments.
        assert!(
            read.windows(2)
                .any(|w| w[0].position / cfg.segment_size != w[1].position / cfg.segment_size)
        );
    }
    let store = Store::open(cfg).unwrap();
    let read = read_all(&store, "roll", 3);
    assert_eq!(read.len(), 300);
    assert_eq!(
        read.iter().map(|m| &m.message).collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    store.append("roll", &[(3, message(300, 10))]).unwrap();
    assert_eq!(store.queue_range("roll", 3).max, 301);
}

#[test]
fn reopening_many_times_keeps_offsets_dense_and_content_identical() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = [Vec::new(), Vec::new()];
    let mut n = 0;
    for cycle in 0..50 {
        let store = open(dir.path());
        for queue in 0..2u32 {
            assert_eq!(
                store.queue_range("cycle", queue).max,
                expected[queue as usize].len() as u64
            );
        }
        let batch: Vec<_> = (0..(cycle % 5 + 1))
            .map(|i| {
                n += 1;
                (((cycle + i) % 2) as u32, message(n, 50 + cycle))
            })
            .collect();
        let outcome = store.append("cycle", &batch).unwrap();
        for ((queue, m), appended) in batch.iter().zip(&outcome.appended) {
            assert_eq!(
                appended.queue_offset,
                expected[*queue as usize].len() as u64
            );
            expected[*queue as usize].push(m.clone());
        }
        if cycle % 2 == 0 {
            store.close().unwrap();
        }
    }
    let store = open(dir.path());
    for queue in 0..2u32 {
        let read = read_all(&store, "cycle", queue);
        assert_eq!(
            read.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
            (0..read.len() as u64).collect::<Vec<_>>()
        );
        assert_eq!(
            read.into_iter().map(|m| m.message).collect::<Vec<_>>(),
            expected[queue as usize]
        );
    }
}

#[test]
fn retention_deletes_old_segments_and_moves_queue_minimums() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.segment_size = 64 * 1024;
    cfg.queue_entries_per_file = 16;
    cfg.retention = Some(Duration::from_secs(60));
    let store = Store::open(cfg.clone()).unwrap();
    for i in 0..200 {
        store.append("old", &[(0, message(i, 2000))]).unwrap();
    }
    let stats = store.stats();
    let now = chrono_now();
    assert_eq!(
        store.retention_boundary(now),
        0,
        "nothing is older than a minute"
    );
    let boundary = store.retention_boundary(now + 3_600_000);
    assert!(boundary > 0 && boundary.is_multiple_of(cfg.segment_size));
    assert!(
        boundary < stats.write_position,
        "the active segment is never expired"
    );
    let deleted = store.delete_before(boundary).unwrap();
    assert_eq!(deleted as u64, boundary / cfg.segment_size);
    assert_eq!(store.stats().min_position, boundary);
    let range = store.queue_range("old", 0);
    assert!(range.min > 0 && range.max == 200, "{range:?}");
    assert!(store.read_queue("old", 0, 0, 10).unwrap().is_empty());
    assert!(matches!(
        store.read_at(0),
        Err(StoreError::OutOfRange { .. })
    ));
    let first = store.read_queue("old", 0, range.min, 1).unwrap();
    assert_eq!(first[0].message, message(range.min as usize, 2000));
    assert!(first[0].position >= boundary);
    let queue_files = std::fs::read_dir(dir.path().join("queues/old/0"))
        .unwrap()
        .count();
    assert!(queue_files < 200 / 16, "{queue_files} queue files left");
    drop(store);

    let store = Store::open(cfg).unwrap();
    assert_eq!(store.queue_range("old", 0), range);
    assert_eq!(
        read_all(&store, "old", 0).len() as u64,
        range.max - range.min
    );
    assert_eq!(
        store
            .append("old", &[(0, message(200, 10))])
            .unwrap()
            .appended[0]
            .queue_offset,
        200
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn deleted_topic_queues_start_again_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .append("gone", &[(0, message(0, 10)), (0, message(1, 10))])
        .unwrap();
    store.delete_topic_queues("gone").unwrap();
    assert_eq!(
        store.queue_range("gone", 0),
        weir_store::QueueRange::default()
    );
    let outcome = store.append("gone", &[(0, message(2, 10))]).unwrap();
    assert_eq!(outcome.appended[0].queue_offset, 0);
    drop(store);
    let store = open(dir.path());
    let read = read_all(&store, "gone", 0);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].message, message(2, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sync_appenders_all_become_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.flush = FlushPolicy::Sync;
    let store = std::sync::Arc::new(Store::open(cfg).unwrap());
    let observed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = observed.clone();
    store.set_flush_observer(std::sync::Arc::new(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }));
    let mut tasks = Vec::new();
    for task in 0..16u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..30 {
                let outcome = store.append("sync", &[(task, message(i, 100))]).unwrap();
                store.wait_durable(outcome.end).await.unwrap();
                assert!(store.stats().flushed_position >= outcome.end);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(observed.load(std::sync::atomic::Ordering::Relaxed) > 0);
    for task in 0..16 {
        assert_eq!(store.queue_range("sync", task).max, 30);
    }
}

#[tokio::test]
async fn async_mode_wait_durable_resolves_at_the_next_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let outcome = store.append("a", &[(0, message(0, 10))]).unwrap();
    store.wait_durable(outcome.end).await.unwrap();
    assert!(store.stats().flushed_position >= outcome.end);
    store.close().unwrap();
    assert!(matches!(
        store.append("a", &[(0, message(1, 10))]),
        Err(StoreError::Closed)
    ));
}

#[test]
fn the_newest_snapshot_of_a_queue_or_a_key_is_read_back_and_an_unreadable_one_is_named() {
    use weir_store::{SnapshotError, SnapshotSlot};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let snapshot = |i: usize, text: &str, key: &str| {
        let mut m = message(i, 0);
        m.body = bytes::Bytes::from(text.to_owned());
        m.keys = vec![key.to_owned()];
        m
    };
    let decode = |body: &[u8]| -> Result<String, String> {
        std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|err| err.to_string())
    };
    let queue = SnapshotSlot::Queue {
        topic: "sys",
        queue: 1,
    };
    assert!(
        store
            .read_snapshot(queue, "table", decode)
            .unwrap()
            .is_none()
    );

    store
        .append(
            "sys",
            &[(1, snapshot(1, "v1", "a")), (0, snapshot(2, "other", "b"))],
        )
        .unwrap();
    let outcome = store.append("sys", &[(1, snapshot(3, "v2", "a"))]).unwrap();
    let newest = store
        .read_snapshot(queue, "table", decode)
        .unwrap()
        .unwrap();
    assert_eq!(newest.value, "v2");
    assert_eq!(newest.position, outcome.appended[0].position);

    let by_key = |key| SnapshotSlot::Key { topic: "sys", key };
    let a = store
        .read_snapshot(by_key("a"), "state", decode)
        .unwrap()
        .unwrap();
    assert_eq!(a.value, "v2");
    let b = store
        .read_snapshot(by_key("b"), "state", decode)
        .unwrap()
        .unwrap();
    assert_eq!(b.value, "other");
    assert!(
        store
            .read_snapshot(by_key("c"), "state", decode)
            .unwrap()
            .is_none()
    );

    // A newer record its owner cannot decode is an error naming it, not an older value.
    let mut broken = snapshot(4, "", "a");
    broken.body = bytes::Bytes::from_static(&[0xff, 0xfe]);
    let outcome = store.append("sys", &[(1, broken)]).unwrap();
    match store.read_snapshot(queue, "the topic table", decode) {
        Err(SnapshotError::Unreadable {
            what,
            position,
            reason,
        }) => {
            assert_eq!(what, "the topic table");
            assert_eq!(position, outcome.appended[0].position);
            assert!(reason.contains("utf-8"), "{reason}");
        }
        other => panic!("expected an unreadable snapshot, got {other:?}"),
    }
}

//! Fault injection through the store's fault table: shortages of descriptors and space
//! while creating files are transient (retried, reported, never poisoning, nothing lost);
//! a failed flush of written data poisons; torn files are repaired by recovery; a full
//! disk refuses sends until space returns.

mod common;

use common::{config, message, read_all};
use proptest::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};
use weir_store::{Errno, FaultPoint, FileKind, FlushPolicy, Store, StoreError, StoreStats};

/// Polls the store's stats until `done`, at most 10 s.
fn wait_until(store: &Store, what: &str, done: impl Fn(&StoreStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&store.stats()) {
        assert!(Instant::now() < deadline, "{what}: {:?}", store.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Appends messages `from..to` to queue 0 of `topic`, one batch.
fn append(store: &Store, topic: &str, from: usize, to: usize) -> Result<u64, StoreError> {
    let batch: Vec<_> = (from..to).map(|i| (0, message(i, 100))).collect();
    store.append(topic, &batch).map(|o| o.end)
}

/// Checks that queue 0 of `topic` holds exactly messages `0..n`, and that each is found
/// by id.
fn assert_holds(store: &Store, topic: &str, n: usize) {
    let read = read_all(store, topic, 0);
    let bodies: Vec<_> = read.iter().map(|m| m.message.clone()).collect();
    let expected: Vec<_> = (0..n).map(|i| message(i, 100)).collect();
    assert_eq!(bodies, expected, "{topic}");
    for i in [0, n / 2, n.saturating_sub(1)] {
        if n > 0 {
            let found = store.lookup_id(&format!("msg-{i}")).unwrap();
            assert_eq!(found.map(|m| m.message), Some(message(i, 100)));
        }
    }
}

/// A failure at a view-file creation (queue or index) or at the checkpoint: the
/// dispatcher or the flusher retries, sends keep working, nothing is lost.
fn retried_in_the_background(point: FaultPoint, errno: Errno) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    store.faults().fail(point, errno, u32::MAX);
    append(&store, "t", 0, 10).unwrap();
    wait_until(&store, "degraded", |s| !s.degraded.is_empty());
    // Still accepting sends while degraded, and never poisoned.
    append(&store, "t", 10, 20).unwrap();
    let stats = store.stats();
    assert!(!stats.poisoned, "{point:?} {errno:?}: {stats:?}");
    assert!(stats.resource_errors > 0, "{stats:?}");
    let last = stats.last_resource_error.clone().unwrap();
    assert!(last.at_ms > 0, "{last:?}");
    assert!(
        last.message
            .contains(&std::io::Error::from_raw_os_error(errno.raw_os_error()).to_string()),
        "{last:?}"
    );
    assert!(store.faults().injected(point) > 0);

    store.faults().clear();
    wait_until(&store, "recovered", |s| s.degraded.is_empty());
    append(&store, "t", 20, 30).unwrap();
    store.flush().unwrap();
    assert_holds(&store, "t", 30);
    drop(store);
    let store = Store::open(config(dir.path())).unwrap();
    assert_holds(&store, "t", 30);
}

#[test]
fn a_queue_file_that_cannot_be_created_is_retried_without_skipping_records() {
    retried_in_the_background(FaultPoint::QueueCreate, Errno::MFILE);
    retried_in_the_background(FaultPoint::QueueCreate, Errno::NOSPC);
}

#[test]
fn an_index_file_that_cannot_be_created_is_retried_without_skipping_records() {
    retried_in_the_background(FaultPoint::IndexCreate, Errno::MFILE);
    retried_in_the_background(FaultPoint::IndexCreate, Errno::NOSPC);
}

#[test]
fn a_checkpoint_that_cannot_be_created_is_written_at_a_later_tick() {
    retried_in_the_background(FaultPoint::CheckpointCreate, Errno::MFILE);
    retried_in_the_background(FaultPoint::CheckpointCreate, Errno::NFILE);
    retried_in_the_background(FaultPoint::CheckpointCreate, Errno::NOSPC);
}

/// A segment that cannot be created fails the append that needs it, with a clear error,
/// and leaves the log as it was.
fn segment_creation_fails_one_append(errno: Errno) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    store
        .faults()
        .fail(FaultPoint::SegmentCreate, errno, u32::MAX);
    // The segment after the first was preallocated before the fault was armed: fill
    // both (1 MiB each, batches of about 20 KiB).
    let mut n = 0;
    let err = loop {
        assert!(n < 30_000, "appends never needed a new segment");
        match append(&store, "t", n, n + 100) {
            Ok(_) => n += 100,
            Err(e) => break e,
        }
    };
    let stats = store.stats();
    match errno {
        Errno::NOSPC => {
            assert!(matches!(err, StoreError::NoSpace { .. }), "{err}");
            assert!(err.is_disk_full(), "{err}");
            assert!(stats.disk_full, "{stats:?}");
        }
        _ => assert!(matches!(err, StoreError::ResourceExhausted { .. }), "{err}"),
    }
    assert!(err.is_transient(), "{err}");
    assert!(!stats.poisoned, "{stats:?}");
    assert!(!stats.degraded.is_empty(), "{stats:?}");
    // The log is unchanged by the failed append, and the next one fails the same way.
    let before = stats.write_position;
    assert!(append(&store, "t", n, n + 100).is_err());
    assert_eq!(store.stats().write_position, before);
    assert_holds(&store, "t", n);

    store.faults().clear();
    append(&store, "t", n, n + 100).unwrap();
    wait_until(&store, "recovered", |s| {
        s.degraded.is_empty() && !s.disk_full
    });
    assert_holds(&store, "t", n + 100);
    drop(store);
    let store = Store::open(config(dir.path())).unwrap();
    assert_holds(&store, "t", n + 100);
}

#[test]
fn a_segment_that_cannot_be_created_fails_only_that_append() {
    segment_creation_fails_one_append(Errno::MFILE);
    segment_creation_fails_one_append(Errno::NOSPC);
}

#[test]
fn a_full_disk_refuses_sends_until_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    append(&store, "t", 0, 10).unwrap();
    store.faults().set_disk_usage(Some(0.99));
    wait_until(&store, "disk full", |s| s.disk_full);
    let err = append(&store, "t", 10, 20).unwrap_err();
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
    assert!(!store.stats().poisoned);
    assert!(!store.stats().degraded.is_empty());
    store.faults().set_disk_usage(None);
    wait_until(&store, "space back", |s| !s.disk_full);
    append(&store, "t", 10, 20).unwrap();
    assert_holds(&store, "t", 20);
    drop(store);
    let store = Store::open(config(dir.path())).unwrap();
    assert_holds(&store, "t", 20);
}

/// A failed flush of written data poisons: writes are refused, `wait_durable` fails past
/// the flushed position, and after reopening everything that was durable is there.
async fn a_failed_flush_poisons(kind: FileKind) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.flush = FlushPolicy::Sync;
    let store = Store::open(cfg.clone()).unwrap();
    let end = append(&store, "t", 0, 10).unwrap();
    store.wait_durable(end).await.unwrap();
    store.flush().unwrap();

    store.faults().fail(FaultPoint::Fsync(kind), Errno::IO, 1);
    let end = append(&store, "t", 10, 20).unwrap();
    let durable = store.wait_durable(end).await;
    if kind == FileKind::CommitLog {
        assert!(matches!(durable, Err(StoreError::Poisoned)), "{durable:?}");
    } else {
        durable.unwrap();
    }
    // Queue and index files are flushed on the background tick.
    wait_until(&store, "poisoned", |s| s.poisoned);
    assert!(matches!(
        append(&store, "t", 20, 21),
        Err(StoreError::Poisoned)
    ));
    let flushed = store.stats().flushed_position;
    assert!(matches!(
        store.wait_durable(flushed + 1).await,
        Err(StoreError::Poisoned)
    ));
    drop(store);
    let store = Store::open(cfg).unwrap();
    let durable_count = if kind == FileKind::CommitLog { 10 } else { 20 };
    let read = read_all(&store, "t", 0);
    assert!(read.len() >= durable_count, "{kind:?}: {}", read.len());
    assert_holds(&store, "t", read.len());
    assert!(!store.stats().poisoned);
    append(&store, "t", read.len(), read.len() + 1).unwrap();
}

#[tokio::test]
async fn a_failed_commitlog_fsync_poisons() {
    a_failed_flush_poisons(FileKind::CommitLog).await;
}

#[tokio::test]
async fn a_failed_consume_queue_flush_poisons() {
    a_failed_flush_poisons(FileKind::ConsumeQueue).await;
}

#[tokio::test]
async fn a_failed_index_flush_poisons() {
    a_failed_flush_poisons(FileKind::Index).await;
}

/// A failed fsync of the checkpoint's temporary file leaves the previous checkpoint and
/// does not poison.
#[test]
fn a_failed_checkpoint_fsync_does_not_poison() {
    retried_in_the_background(FaultPoint::Fsync(FileKind::Checkpoint), Errno::IO);
}

/// The kind of file a torn-write case damages.
#[derive(Clone, Copy, Debug)]
enum Torn {
    /// The commitlog past the last checkpoint: zeros or garbage from an offset on.
    SegmentTail { garbage: bool },
    /// A consume queue file cut short.
    QueueFile,
    /// An index file cut short.
    IndexFile,
    /// The checkpoint cut short.
    Checkpoint,
}

fn only_file(dir: &Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.pop().unwrap()
}

fn truncate(path: &Path, fraction: f64) {
    let len = std::fs::metadata(path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len((len as f64 * fraction) as u64).unwrap();
}

/// Writes `first` then `second` messages, keeping the checkpoint taken after `first`,
/// damages one file and reopens: the first batch and every record of the second before
/// the tear come back intact, nothing else.
fn torn(first: usize, second: usize, kind: Torn, fraction: f64) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (checkpoint, first_end, ends) = {
        let store = Store::open(cfg.clone()).unwrap();
        let first_end = append(&store, "t", 0, first).unwrap();
        store.close().unwrap();
        drop(store);
        let checkpoint = std::fs::read(dir.path().join("checkpoint")).unwrap();
        let store = Store::open(cfg.clone()).unwrap();
        let batch: Vec<_> = (first..first + second)
            .map(|i| (0, message(i, 100)))
            .collect();
        let outcome = store.append("t", &batch).unwrap();
        store.close().unwrap();
        // Where each record of the second batch ends.
        let mut ends: Vec<u64> = outcome
            .appended
            .iter()
            .skip(1)
            .map(|a| a.position)
            .collect();
        ends.push(outcome.end);
        (checkpoint, first_end, ends)
    };
    let mut survivors = first + second;
    match kind {
        Torn::SegmentTail { garbage } => {
            // The tear must be past the checkpoint's flushed position: put it back.
            std::fs::write(dir.path().join("checkpoint"), &checkpoint).unwrap();
            let second_end = *ends.last().unwrap();
            let tear = first_end + ((second_end - first_end) as f64 * fraction) as u64;
            let bytes: Vec<u8> = (0..(second_end + 300 - tear))
                .map(|i| {
                    if garbage {
                        (i as u8).wrapping_mul(31) | 1
                    } else {
                        0
                    }
                })
                .collect();
            let path = dir.path().join("commitlog").join(format!("{:020}", 0));
            use std::io::{Seek, SeekFrom, Write};
            let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            file.seek(SeekFrom::Start(tear)).unwrap();
            file.write_all(&bytes).unwrap();
            // A record is intact if it ends at or before the tear.
            survivors = first + ends.iter().filter(|&&e| e <= tear).count();
        }
        Torn::QueueFile => truncate(&only_file(&dir.path().join("queues/t/0")), fraction),
        Torn::IndexFile => truncate(&only_file(&dir.path().join("index")), fraction),
        Torn::Checkpoint => truncate(&dir.path().join("checkpoint"), fraction),
    }
    let store = Store::open(cfg.clone()).unwrap();
    assert_holds(&store, "t", survivors);
    // Appends go on at the next offset, and survive another restart.
    let outcome = store.append("t", &[(0, message(survivors, 100))]).unwrap();
    assert_eq!(outcome.appended[0].queue_offset, survivors as u64);
    drop(store);
    let store = Store::open(cfg).unwrap();
    assert_holds(&store, "t", survivors + 1);
}

fn torn_kind() -> impl Strategy<Value = Torn> {
    prop_oneof![
        any::<bool>().prop_map(|garbage| Torn::SegmentTail { garbage }),
        Just(Torn::QueueFile),
        Just(Torn::IndexFile),
        Just(Torn::Checkpoint),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn torn_files_are_repaired_and_keep_every_record_before_the_tear(
        first in 1usize..30,
        second in 1usize..30,
        kind in torn_kind(),
        fraction in 0.0f64..1.0,
    ) {
        torn(first, second, kind, fraction);
    }
}

//! Recovery tests: torn and garbage tails, lost or stale consume queues, index and
//! checkpoint. They damage the files of a closed store and reopen it.

mod common;

use common::{config, message, open, read_all};
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use weir_store::Store;

fn segment_path(dir: &Path, base: u64) -> std::path::PathBuf {
    dir.join("commitlog").join(format!("{base:020}"))
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let mut file = OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn garbage_after_the_tail_is_truncated_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let end = {
        let store = open(dir.path());
        let batch: Vec<_> = (0..20).map(|i| (0, message(i, 200))).collect();
        store.append("g", &batch).unwrap().end
    };
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 1)
        .collect();
    write_at(&segment_path(dir.path(), 0), end, &garbage);
    std::fs::remove_file(dir.path().join("checkpoint")).unwrap();

    let store = open(dir.path());
    assert_eq!(store.stats().write_position, end);
    let read = read_all(&store, "g", 0);
    assert_eq!(
        read.iter().map(|m| m.message.clone()).collect::<Vec<_>>(),
        (0..20).map(|i| message(i, 200)).collect::<Vec<_>>()
    );
    let outcome = store.append("g", &[(0, message(20, 200))]).unwrap();
    assert_eq!(outcome.appended[0].queue_offset, 20);
    assert_eq!(outcome.appended[0].position, end);
    drop(store);
    let store = open(dir.path());
    assert_eq!(read_all(&store, "g", 0).len(), 21);
}

/// Damage the last record from byte `i` to its end, for every `i`, in two ways (zeros,
/// and flipped bits); reopening must yield exactly the records before it.
#[test]
fn a_torn_last_record_is_dropped_at_every_byte_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let (last_position, last_size) = {
        let store = open(dir.path());
        let batch: Vec<_> = (0..5).map(|i| (0, message(i, 30))).collect();
        let outcome = store.append("torn", &batch).unwrap();
        let last = outcome.appended[4].position;
        (last, (outcome.end - last) as usize)
    };
    let segment = segment_path(dir.path(), 0);
    let pristine = std::fs::read(&segment).unwrap();
    let expected: Vec<_> = (0..4).map(|i| message(i, 30)).collect();
    let record = &pristine[last_position as usize..last_position as usize + last_size];
    for i in 0..last_size {
        for zero in [true, false] {
            let mut damaged = record.to_vec();
            for b in &mut damaged[i..] {
                *b = if zero { 0 } else { !*b };
            }
            std::fs::write(&segment, &pristine).unwrap();
            write_at(&segment, last_position, &damaged);
            // The torn bytes were never flushed: the checkpoint predates them.
            std::fs::remove_file(dir.path().join("checkpoint")).ok();

            let store = open(dir.path());
            assert_eq!(
                store.stats().write_position,
                last_position,
                "byte {i} zero={zero}"
            );
            let read: Vec<_> = read_all(&store, "torn", 0)
                .into_iter()
                .map(|m| m.message)
                .collect();
            assert_eq!(read, expected, "byte {i} zero={zero}");
            assert!(store.lookup_id("msg-4").unwrap().is_none());
            drop(store);
        }
    }
    let store = open(dir.path());
    let outcome = store.append("torn", &[(0, message(9, 30))]).unwrap();
    assert_eq!(outcome.appended[0].queue_offset, 4);
}

#[test]
fn consume_queues_and_index_are_rebuilt_when_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        for q in 0..3u32 {
            let batch: Vec<_> = (0..50)
                .map(|i| (q, message(q as usize * 100 + i, 20)))
                .collect();
            store.append("rebuild", &batch).unwrap();
        }
    }
    std::fs::remove_dir_all(dir.path().join("queues")).unwrap();
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = open(dir.path());
    for q in 0..3u32 {
        let read = read_all(&store, "rebuild", q);
        assert_eq!(read.len(), 50);
        assert_eq!(read[49].message, message(q as usize * 100 + 49, 20));
    }
    assert_eq!(store.lookup_id("msg-142").unwrap().unwrap().queue, 1);
    assert_eq!(
        store.lookup_key("rebuild", "shared", 1000).unwrap().len(),
        150
    );
    assert_eq!(
        store
            .append("rebuild", &[(2, message(0, 1))])
            .unwrap()
            .appended[0]
            .queue_offset,
        50
    );
}

#[test]
fn a_stale_checkpoint_and_a_lost_queue_are_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let stale = {
        let store = open(dir.path());
        let batch: Vec<_> = (0..40).map(|i| ((i % 2) as u32, message(i, 20))).collect();
        store.append("stale", &batch).unwrap();
        store.flush().unwrap();
        let stale = std::fs::read(dir.path().join("checkpoint")).unwrap();
        let batch: Vec<_> = (40..600)
            .map(|i| ((i % 2) as u32, message(i, 20)))
            .collect();
        store.append("stale", &batch).unwrap();
        stale
    };
    std::fs::write(dir.path().join("checkpoint"), stale).unwrap();
    std::fs::remove_dir_all(dir.path().join("queues/stale/1")).unwrap();
    let store = open(dir.path());
    for q in 0..2u32 {
        let read = read_all(&store, "stale", q);
        assert_eq!(read.len(), 300, "queue {q}");
        assert!(
            read.iter()
                .enumerate()
                .all(|(n, m)| m.message == message(n * 2 + q as usize, 20))
        );
    }
    // Index entries re-dispatched twice are returned once.
    assert_eq!(
        store
            .lookup_key("stale", "order-0", usize::MAX)
            .unwrap()
            .len(),
        600 / 7 + 1
    );
}

#[test]
fn a_corrupt_checkpoint_means_recovering_from_the_first_segment() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .append("c", &[(0, message(0, 10)), (0, message(1, 10))])
            .unwrap();
    }
    let mut bytes = std::fs::read(dir.path().join("checkpoint")).unwrap();
    bytes[10] ^= 0xFF;
    std::fs::write(dir.path().join("checkpoint"), bytes).unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(read_all(&store, "c", 0).len(), 2);
}

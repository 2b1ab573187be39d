//! Shared helpers for the store's black-box tests.
#![allow(dead_code)]

use bytes::Bytes;
use std::path::Path;
use std::time::Duration;
use weir_store::{FlushPolicy, Message, Store, StoreConfig, StoredMessage};

/// A small configuration for tests.
pub(crate) fn config(dir: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_size = 1 << 20;
    config.index_slots = 1024;
    config.index_entries = 4096;
    config.queue_entries_per_file = 256;
    config.flush = FlushPolicy::Async {
        interval: Duration::from_millis(50),
    };
    config
}

/// Opens a store with [`config`].
pub(crate) fn open(dir: &Path) -> Store {
    Store::open(config(dir)).unwrap()
}

/// A test message, distinct per `i`.
pub(crate) fn message(i: usize, body_len: usize) -> Message {
    Message {
        id: format!("msg-{i}"),
        keys: vec![format!("order-{}", i % 7), "shared".to_owned()],
        tag: i.is_multiple_of(2).then(|| format!("tag{}", i % 5)),
        properties: vec![("n".to_owned(), i.to_string())],
        body: Bytes::from((0..body_len).map(|b| (b + i) as u8).collect::<Vec<u8>>()),
        born_ms: 1_700_000_000_000 + i as i64,
        flags: i as u32,
    }
}

/// Every message of the queue, from its min offset.
pub(crate) fn read_all(store: &Store, topic: &str, queue: u32) -> Vec<StoredMessage> {
    let range = store.queue_range(topic, queue);
    let mut out = Vec::new();
    let mut offset = range.min;
    while offset < range.max {
        let batch = store.read_queue(topic, queue, offset, 100).unwrap();
        assert!(!batch.is_empty(), "hole at offset {offset} of {range:?}");
        offset = batch.last().unwrap().queue_offset + 1;
        out.extend(batch);
    }
    out
}

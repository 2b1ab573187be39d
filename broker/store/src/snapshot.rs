//! Reading back snapshot records: the newest record of a queue, or of a topic with a
//! key, decoded by its owner.
//!
//! The layers above keep their durable state (the topic table, delivery state, the
//! schedule and transaction ledgers, the plugin catalog and plugin state) as snapshot
//! records in system topics, where the newest record wins. Finding that record and
//! naming it when it does not decode is the same everywhere and lives here; what a
//! snapshot holds, and its format, stays with its owner, which passes the decoder. The
//! store does not interpret the bytes.

use std::fmt::Display;

use crate::{Store, StoreError};

/// Where the newest snapshot of something is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotSlot<'a> {
    /// The newest record of one queue of a topic.
    Queue {
        /// The topic.
        topic: &'a str,
        /// The queue.
        queue: u32,
    },
    /// The newest record of a topic carrying a key (one slot per key in one queue).
    Key {
        /// The topic.
        topic: &'a str,
        /// The key.
        key: &'a str,
    },
}

/// A snapshot read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot<T> {
    /// What the owner's decoder made of the record.
    pub value: T,
    /// The commitlog position of the record (retention must not delete it before a
    /// newer snapshot is written).
    pub position: u64,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The store failed to read it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The newest record is there but its owner's decoder refused it.
    #[error("{what} at position {position} is unreadable: {reason}")]
    Unreadable {
        /// Which snapshot, as the caller named it.
        what: String,
        /// Its commitlog position.
        position: u64,
        /// The decoder's error.
        reason: String,
    },
}

impl Store {
    /// Reads the newest snapshot kept in `slot` and decodes it with `decode`; `None` when
    /// the slot holds no record. `what` names the snapshot in the error of a record that
    /// does not decode.
    pub fn read_snapshot<T, E: Display>(
        &self,
        slot: SnapshotSlot<'_>,
        what: &str,
        decode: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Option<Snapshot<T>>, SnapshotError> {
        let newest = match slot {
            SnapshotSlot::Queue { topic, queue } => {
                let range = self.queue_range(topic, queue);
                if range.max <= range.min {
                    return Ok(None);
                }
                self.read_queue(topic, queue, range.max - 1, 1)?
            }
            SnapshotSlot::Key { topic, key } => self.lookup_key(topic, key, 1)?,
        };
        let Some(record) = newest.into_iter().next() else {
            return Ok(None);
        };
        match decode(&record.message.body) {
            Ok(value) => Ok(Some(Snapshot {
                value,
                position: record.position,
            })),
            Err(err) => Err(SnapshotError::Unreadable {
                what: what.to_string(),
                position: record.position,
                reason: err.to_string(),
            }),
        }
    }
}

//! Weir's storage engine: bytes on disk, modelled on Apache RocketMQ's store.
//!
//! Every message goes into one append-only **commitlog** (segmented, memory-mapped files).
//! A dispatcher thread follows the commitlog and derives two rebuildable views from it:
//! per (topic, queue) **consume queues** of fixed-size entries, and a hash **index** by
//! message id and by business key. A flusher thread makes the commitlog durable (every
//! interval, or on demand with group commit) and writes a **checkpoint**; on open,
//! **recovery** validates the tail of the commitlog from the checkpoint, truncates a torn
//! or corrupt tail and re-dispatches what the views may have missed.
//!
//! The store knows nothing of what topics mean: the broker core drives retention
//! ([`Store::retention_boundary`], [`Store::delete_before`]) and gives records their meaning.
//! The layers above keep their state as snapshot records and read the newest one back
//! with [`Store::read_snapshot`], passing their own decoder.
//!
//! # Layout on disk
//!
//! ```text
//! dir/commitlog/{base:020}          segments, named by the position of their first byte
//! dir/queues/{topic}/{queue}/{first:020}   consume queue files, named by their first offset
//! dir/index/{first:020}             index files, named by the first position they index
//! dir/checkpoint                    flushed and dispatched positions, per-segment newest time
//! ```
//!
//! The record format is documented on `RecordHeader` in `src/record.rs`; the consume
//! queue, index and checkpoint formats at the top of their modules.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod checkpoint;
mod commitlog;
mod config;
mod consume_queue;
mod disk;
mod dispatch;
mod error;
mod faults;
mod flush;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod index;
mod message;
mod mmap;
mod preallocate;
mod record;
mod recovery;
mod retention;
mod segment;
mod snapshot;
mod store;

pub use config::{DEFAULT_SEGMENT_SIZE, FlushPolicy, StoreConfig};
pub use error::StoreError;
#[doc(hidden)]
pub use faults::{Errno, FaultPoint, Faults, FileKind};
pub use health::ResourceError;
pub use message::{AppendOutcome, Appended, Message, QueueRange, StoreStats, StoredMessage};
pub use record::{
    MAX_BODY_LEN, MAX_ID_LEN, MAX_KEY_LEN, MAX_KEYS, MAX_PROPERTIES, MAX_PROPERTY_NAME_LEN,
    MAX_PROPERTY_VALUE_LEN, MAX_TAG_LEN, MAX_TOPIC_LEN,
};
pub use snapshot::{Snapshot, SnapshotError, SnapshotSlot};
pub use store::Store;

/// The property holding a message's dedup key (its business identity, as a dedup filter
/// computed it). The index keeps it, per topic, so that
/// [`Store::lookup_dedup_key`] finds the newest message of a topic with a given key.
pub const DEDUP_KEY_PROPERTY: &str = "weir.dedup-key";

//! The values that cross the store's API: messages in, stored messages and positions out.

use crate::health::ResourceError;
use bytes::Bytes;

/// A message as the producer sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Unique id, indexed for [`Store::lookup_id`](crate::Store::lookup_id).
    pub id: String,
    /// Business keys, indexed for [`Store::lookup_key`](crate::Store::lookup_key).
    pub keys: Vec<String>,
    /// Optional tag; consume queue entries carry its hash for filtering.
    pub tag: Option<String>,
    /// User and system properties, in order.
    pub properties: Vec<(String, String)>,
    /// Payload.
    pub body: Bytes,
    /// When the producer created the message, in milliseconds since the Unix epoch.
    pub born_ms: i64,
    /// Flags for the broker's own use.
    pub flags: u32,
}

/// A message read back from the store, with where it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMessage {
    /// Topic it was appended to.
    pub topic: String,
    /// Queue of the topic.
    pub queue: u32,
    /// Offset in that queue.
    pub queue_offset: u64,
    /// Commitlog byte offset of the record.
    pub position: u64,
    /// Record size in bytes.
    pub size: u32,
    /// When the store appended it, in milliseconds since the Unix epoch.
    pub store_ms: i64,
    /// The message itself.
    pub message: Message,
}

/// Where one appended message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Queue of the topic.
    pub queue: u32,
    /// Offset assigned in that queue.
    pub queue_offset: u64,
    /// Commitlog byte offset of the record.
    pub position: u64,
    /// Store timestamp, in milliseconds since the Unix epoch.
    pub store_ms: i64,
}

/// Result of [`Store::append`](crate::Store::append).
#[derive(Clone, Debug)]
pub struct AppendOutcome {
    /// One entry per message of the batch, in batch order.
    pub appended: Vec<Appended>,
    /// Commitlog position just past the batch; pass it to
    /// [`Store::wait_durable`](crate::Store::wait_durable).
    pub end: u64,
}

/// Offsets held by a consume queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QueueRange {
    /// Oldest offset still readable.
    pub min: u64,
    /// Offset the next message will get.
    pub max: u64,
}

/// A snapshot of the store's state, for metrics and admin.
#[derive(Clone, Debug)]
pub struct StoreStats {
    /// Oldest commitlog position still stored.
    pub min_position: u64,
    /// Position the next record will be written at.
    pub write_position: u64,
    /// Position up to which the commitlog is fsynced.
    pub flushed_position: u64,
    /// Bytes allocated on disk by commitlog, consume queue and index files.
    pub disk_bytes: u64,
    /// Number of commitlog segments.
    pub segments: usize,
    /// Whether an fsync failed and the store refuses writes.
    pub poisoned: bool,
    /// Whether appends are refused for lack of space: the disk watermark is exceeded, or
    /// the last attempt to create a commitlog segment failed with `ENOSPC`.
    pub disk_full: bool,
    /// Transient failures (file creations that ran out of descriptors, memory or space;
    /// failed checkpoint writes) since the store opened. Each was retried.
    pub resource_errors: u64,
    /// The last of those failures, with the path it concerned.
    pub last_resource_error: Option<ResourceError>,
    /// Why the store is degraded right now (a failing retried operation, the disk
    /// watermark), one line each, naming no paths; empty when healthy. It clears by itself
    /// once the operations work again.
    pub degraded: Vec<String>,
}

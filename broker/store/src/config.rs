//! Store configuration: sizes, flush policy, retention and the disk watermark.
//!
//! Owns only plain values and their defaults; validation of combinations happens in
//! [`Store::open`](crate::Store::open).

use std::path::PathBuf;
use std::time::Duration;

/// Default commitlog segment size: 1 GiB, as in RocketMQ.
pub const DEFAULT_SEGMENT_SIZE: u64 = 1 << 30;

/// Smallest accepted segment size. Below this, ordinary messages would not fit and the
/// store would roll segments constantly.
pub(crate) const MIN_SEGMENT_SIZE: u64 = 64 * 1024;

/// How and where a [`Store`](crate::Store) keeps its data.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Directory holding the commitlog, consume queues, index and checkpoint.
    pub dir: PathBuf,
    /// Size of one commitlog segment in bytes; every record must fit in one segment.
    pub segment_size: u64,
    /// When appended bytes are made durable.
    pub flush: FlushPolicy,
    /// How long callers should wait for a sync flush before giving up. The store itself
    /// does not use it; it travels with the configuration for the callers' convenience.
    pub sync_flush_timeout: Duration,
    /// Number of 24-byte entries in one consume queue file.
    pub queue_entries_per_file: u32,
    /// Number of hash slots in one index file.
    pub index_slots: u32,
    /// Number of entries one index file holds before a new one is started.
    pub index_entries: u32,
    /// Segments whose newest record is older than this are deletable
    /// (see [`Store::retention_boundary`](crate::Store::retention_boundary)); `None` keeps
    /// everything.
    pub retention: Option<Duration>,
    /// Fraction of the filesystem that may be used; above it appends fail with
    /// [`StoreError::DiskFull`](crate::StoreError::DiskFull).
    pub disk_max_used_ratio: f64,
}

impl StoreConfig {
    /// A configuration with the defaults for a store in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            dir: dir.into(),
            segment_size: DEFAULT_SEGMENT_SIZE,
            flush: FlushPolicy::Async {
                interval: Duration::from_millis(200),
            },
            sync_flush_timeout: Duration::from_secs(5),
            queue_entries_per_file: 300_000,
            index_slots: 1_000_000,
            index_entries: 4_000_000,
            retention: Some(Duration::from_secs(72 * 3600)),
            disk_max_used_ratio: 0.90,
        }
    }
}

/// When the commitlog is forced to disk.
///
/// Either way, the consume queues and the index are flushed on the background interval:
/// they can be rebuilt from the commitlog, so they never delay an acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Flushed every `interval` by a background thread.
    ///
    /// Durability: an appended message survives a crash of the process (kill -9), because
    /// its bytes are in the kernel's page cache, but not a power loss or kernel crash within
    /// `interval` of the append.
    /// [`Store::wait_durable`](crate::Store::wait_durable) resolves at the next flush.
    Async {
        /// Time between two flushes.
        interval: Duration,
    },
    /// Flushed on demand: [`Store::wait_durable`](crate::Store::wait_durable) resolves once
    /// the bytes are fsynced.
    ///
    /// Durability: a message whose `wait_durable` resolved survives power loss. Concurrent
    /// waiters share one fsync (group commit).
    Sync,
}

/// Interval at which consume queues, index and checkpoint are flushed in
/// [`FlushPolicy::Sync`] mode, where there is no configured interval.
pub(crate) const SYNC_MODE_BACKGROUND_INTERVAL: Duration = Duration::from_millis(200);

impl FlushPolicy {
    /// The interval of the background flush.
    pub(crate) fn background_interval(&self) -> Duration {
        match self {
            FlushPolicy::Async { interval } => *interval,
            FlushPolicy::Sync => SYNC_MODE_BACKGROUND_INTERVAL,
        }
    }
}

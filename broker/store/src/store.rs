//! The [`Store`]: opens (recovers) the parts, runs the dispatcher and flusher threads, and
//! answers the public API.
//!
//! Owns the wiring and the read-your-writes rule: a reader first waits (bounded) until
//! the dispatcher has caught up with the write position it observed. It must not contain
//! storage logic of its own; each part lives in its module.

use crate::commitlog::CommitLog;
use crate::config::{MIN_SEGMENT_SIZE, StoreConfig};
use crate::consume_queue::{ConsumeQueues, validate_topic};
use crate::disk::DiskMonitor;
use crate::dispatch::{self, Dispatcher};
use crate::error::{IoContext, StoreError};
use crate::faults::Faults;
use crate::flush::{self, Flusher};
use crate::health::{Health, Operation};
use crate::index::{self, Index};
use crate::message::{AppendOutcome, Message, QueueRange, StoreStats, StoredMessage};
use crate::preallocate::Preallocator;
use crate::{record, recovery, retention};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a reader waits for the dispatcher to catch up before answering with what is
/// dispatched.
const READ_YOUR_WRITES_TIMEOUT: Duration = Duration::from_secs(5);

/// The parts of the store, shared with its threads.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: StoreConfig,
    pub(crate) log: CommitLog,
    pub(crate) queues: ConsumeQueues,
    pub(crate) index: Index,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) flusher: Flusher,
    pub(crate) disk: DiskMonitor,
    pub(crate) faults: Arc<Faults>,
    pub(crate) health: Arc<Health>,
    closed: AtomicBool,
}

/// A message store: commitlog, consume queues and index in one directory.
///
/// `Send + Sync`; share it as `Arc<Store>`. Dropping it closes it (best effort); call
/// [`Store::close`] to see errors of the final flush.
#[derive(Debug)]
pub struct Store {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn check_config(config: &StoreConfig) -> Result<(), StoreError> {
    let invalid = |what: String| {
        Err(StoreError::Io {
            context: format!("invalid store configuration for {}", config.dir.display()),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, what),
        })
    };
    if config.segment_size < MIN_SEGMENT_SIZE {
        return invalid(format!(
            "segment_size must be at least {MIN_SEGMENT_SIZE} bytes"
        ));
    }
    if config.queue_entries_per_file == 0 || config.index_slots == 0 || config.index_entries == 0 {
        return invalid(
            "queue_entries_per_file, index_slots and index_entries must be positive".to_owned(),
        );
    }
    if !(config.disk_max_used_ratio > 0.0 && config.disk_max_used_ratio <= 1.0) {
        return invalid("disk_max_used_ratio must be in (0, 1]".to_owned());
    }
    Ok(())
}

impl Store {
    /// Opens the store in `config.dir`, creating it if needed, and recovers it: validates
    /// the commitlog tail from the checkpoint, truncates a torn tail, repairs consume queues
    /// and index. Starts the dispatcher, flusher and segment preallocation threads.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        check_config(&config)?;
        std::fs::create_dir_all(&config.dir).context("creating store directory", &config.dir)?;
        let faults = Arc::new(Faults::new());
        let health = Arc::new(Health::default());
        let prealloc = Preallocator::new(
            config.dir.join("commitlog"),
            config.segment_size,
            Arc::clone(&faults),
            Arc::clone(&health),
        );
        let recovered = recovery::recover(&config, Arc::clone(&prealloc), &faults)?;
        let disk = DiskMonitor::new(
            config.dir.clone(),
            config.disk_max_used_ratio,
            Arc::clone(&faults),
        );
        disk.check();
        let inner = Arc::new(Inner {
            flusher: Flusher::new(config.flush, recovered.end, recovered.checkpoint),
            dispatcher: Dispatcher::new(recovered.end),
            log: recovered.log,
            queues: recovered.queues,
            index: recovered.index,
            disk,
            faults,
            health,
            closed: AtomicBool::new(false),
            config,
        });
        let spawn_error = |e| StoreError::io("starting a thread for", &inner.config.dir, e);
        prealloc.start().map_err(spawn_error)?;
        let mut threads = Vec::new();
        let shared = Arc::clone(&inner);
        let dispatcher = std::thread::Builder::new()
            .name("weir-store-dispatch".to_owned())
            .spawn(move || dispatch::run(shared))
            .map_err(spawn_error)?;
        inner.dispatcher.set_thread(dispatcher.thread().clone());
        threads.push(dispatcher);
        let shared = Arc::clone(&inner);
        let flusher = std::thread::Builder::new()
            .name("weir-store-flush".to_owned())
            .spawn(move || flush::run(shared))
            .map_err(spawn_error)?;
        inner.flusher.set_thread(flusher.thread().clone());
        threads.push(flusher);
        Ok(Store {
            inner,
            threads: Mutex::new(threads),
        })
    }

    /// Appends a batch of messages of one topic; each entry names its queue. Queue offsets
    /// are assigned densely per (topic, queue) in commitlog order, under one lock for the
    /// whole batch. The batch is all or nothing.
    ///
    /// Fails without writing anything with [`StoreError::DiskFull`] above the disk
    /// watermark, and with [`StoreError::NoSpace`] or [`StoreError::ResourceExhausted`]
    /// when the batch needs a new commitlog segment that cannot be created; both are
    /// transient, the next append tries again. [`StoreError::Poisoned`] is final until a
    /// restart.
    ///
    /// Once this returns, the messages are visible to every read. They are durable as
    /// the [`FlushPolicy`](crate::FlushPolicy) says; use [`Store::wait_durable`] with
    /// [`AppendOutcome::end`] to wait for an fsync.
    pub fn append(
        &self,
        topic: &str,
        batch: &[(u32, Message)],
    ) -> Result<AppendOutcome, StoreError> {
        let inner = &*self.inner;
        inner.flusher.admit()?;
        inner.disk.admit()?;
        validate_topic(topic)?;
        let mut sizes = Vec::with_capacity(batch.len());
        for (_, message) in batch {
            let size = record::encoded_len(topic, message)?;
            if size as u64 > inner.log.segment_size() {
                return Err(StoreError::InvalidMessage(format!(
                    "record of {size} bytes does not fit in a segment of {} bytes",
                    inner.log.segment_size()
                )));
            }
            sizes.push(u32::try_from(size).map_err(|_| {
                StoreError::InvalidMessage(format!("record of {size} bytes is too large"))
            })?);
        }
        let mut appended = Vec::with_capacity(batch.len());
        let end = match inner
            .log
            .append(topic, batch, &sizes, now_ms(), &mut appended)
        {
            Ok(end) => end,
            Err(e @ StoreError::Corrupt(_)) => {
                inner.flusher.poison(&e);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        inner.dispatcher.wake_if_sleeping();
        Ok(AppendOutcome { appended, end })
    }

    /// Resolves once the commitlog is fsynced through `position` (pass
    /// [`AppendOutcome::end`]). In sync mode this wakes the flusher, and concurrent
    /// waiters share one fsync; in async mode it resolves at the next periodic flush.
    ///
    /// Fails with [`StoreError::Poisoned`] if a flush failed, and with
    /// [`StoreError::Closed`] if the store closes first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future only stops waiting.
    pub async fn wait_durable(&self, position: u64) -> Result<(), StoreError> {
        let flusher = &self.inner.flusher;
        if flusher.flushed() >= position {
            return Ok(());
        }
        flusher.admit()?;
        let mut durable = flusher.subscribe();
        flusher.request(position);
        let state = *durable
            .wait_for(|d| d.flushed >= position || d.poisoned || d.closed)
            .await
            .map_err(|_| StoreError::Closed)?;
        if state.flushed >= position {
            Ok(())
        } else if state.poisoned {
            Err(StoreError::Poisoned)
        } else {
            Err(StoreError::Closed)
        }
    }

    /// Fsyncs commitlog, consume queues and index, and writes the checkpoint.
    pub fn flush(&self) -> Result<(), StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        self.catch_up();
        flush::flush_all(&self.inner)
    }

    /// Waits (bounded) until every record appended so far is dispatched. While the
    /// dispatcher is failing (the store is degraded) it does not wait: readers get what
    /// is dispatched at once instead of a timeout per read.
    fn catch_up(&self) {
        if self.inner.health.is_failing(Operation::Dispatch) {
            return;
        }
        let position = self.inner.log.write_position();
        if !self
            .inner
            .dispatcher
            .wait_for(position, READ_YOUR_WRITES_TIMEOUT)
        {
            tracing::warn!(
                position,
                "dispatcher is behind; answering with what it has dispatched"
            );
        }
    }

    /// Up to `max` messages of the queue from `offset` on. Empty if `offset` is outside the
    /// queue's range (below `min` after retention, or at or past `max`).
    pub fn read_queue(
        &self,
        topic: &str,
        queue: u32,
        offset: u64,
        max: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.catch_up();
        let Some(cq) = self.inner.queues.get(topic, queue) else {
            return Ok(Vec::new());
        };
        let range = cq.range();
        if offset < range.min || offset >= range.max {
            return Ok(Vec::new());
        }
        let end = range.max.min(offset.saturating_add(max as u64));
        let mut out = Vec::with_capacity(usize::try_from(end - offset).unwrap_or(0));
        for queue_offset in offset..end {
            let Some(entry) = cq.get(queue_offset) else {
                break;
            };
            let read = self.inner.log.with_record(entry.position, |r| {
                (r.topic == topic && r.queue == queue && r.queue_offset == queue_offset)
                    .then(|| r.to_stored(entry.position))
            });
            match read {
                Ok(Some(message)) => out.push(message),
                Ok(None) => {
                    return Err(StoreError::Corrupt(format!(
                        "consume queue {topic}/{queue} offset {queue_offset} points at position {} holding another message",
                        entry.position
                    )));
                }
                // Deleted by retention while reading.
                Err(StoreError::OutOfRange { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Offsets held by the queue; `{0, 0}` for an unknown queue.
    pub fn queue_range(&self, topic: &str, queue: u32) -> QueueRange {
        self.catch_up();
        self.inner
            .queues
            .get(topic, queue)
            .map(|q| q.range())
            .unwrap_or_default()
    }

    /// The message whose record starts at `position`.
    pub fn read_at(&self, position: u64) -> Result<StoredMessage, StoreError> {
        self.inner
            .log
            .with_record(position, |r| r.to_stored(position))
    }

    /// Calls `matches` on candidate records for `hash`, newest first, until it returns
    /// `false`. Candidates outside the stored range and duplicates are skipped.
    fn candidates(
        &self,
        hash: u32,
        mut visit: impl FnMut(u64) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        self.catch_up();
        let min = self.inner.log.min_position();
        let write = self.inner.log.write_position();
        let mut seen = HashSet::new();
        let mut result = Ok(());
        self.inner.index.walk(hash, |position| {
            if position < min || position >= write || !seen.insert(position) {
                return true;
            }
            match visit(position) {
                Ok(more) => more,
                Err(e) => {
                    result = Err(e);
                    false
                }
            }
        });
        result
    }

    /// The message with this id (the newest, if the id was reused).
    pub fn lookup_id(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        self.lookup_id_where(id, |_| true)
    }

    /// The newest message with this id in `topic`.
    pub fn lookup_id_in(&self, topic: &str, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        self.lookup_id_where(id, |t| t == topic)
    }

    fn lookup_id_where(
        &self,
        id: &str,
        topic_matches: impl Fn(&str) -> bool,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let mut found = None;
        self.candidates(index::id_hash(id), |position| {
            // Stale entries (truncated tail, hash collisions) do not decode or do not match.
            found = self
                .inner
                .log
                .with_record(position, |r| {
                    (r.id == id && topic_matches(r.topic)).then(|| r.to_stored(position))
                })
                .ok()
                .flatten();
            Ok(found.is_none())
        })?;
        Ok(found)
    }

    /// The newest message of `topic` whose [`DEDUP_KEY_PROPERTY`](crate::DEDUP_KEY_PROPERTY)
    /// is `key`.
    pub fn lookup_dedup_key(
        &self,
        topic: &str,
        key: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let mut found = None;
        self.candidates(index::dedup_hash(topic, key), |position| {
            found = self
                .inner
                .log
                .with_record(position, |r| {
                    (r.topic == topic
                        && r.properties()
                            .any(|(n, v)| n == crate::DEDUP_KEY_PROPERTY && v == key))
                    .then(|| r.to_stored(position))
                })
                .ok()
                .flatten();
            Ok(found.is_none())
        })?;
        Ok(found)
    }

    /// The newest `max` messages of `topic` carrying `key`, oldest first.
    pub fn lookup_key(
        &self,
        topic: &str,
        key: &str,
        max: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut found = Vec::new();
        if max == 0 {
            return Ok(found);
        }
        self.candidates(index::key_hash(topic, key), |position| {
            let hit = self.inner.log.with_record(position, |r| {
                (r.topic == topic && r.keys().any(|k| k == key)).then(|| r.to_stored(position))
            });
            if let Ok(Some(message)) = hit {
                found.push(message);
            }
            Ok(found.len() < max)
        })?;
        found.sort_by_key(|m| m.position);
        Ok(found)
    }

    /// Drops the consume queues of `topic` and its offset counters: its next message gets
    /// offset 0 again. The records stay in the commitlog until retention removes them.
    pub fn delete_topic_queues(&self, topic: &str) -> Result<(), StoreError> {
        if validate_topic(topic).is_err() {
            return Ok(());
        }
        let inner = &*self.inner;
        inner.log.with_writer(|offsets, position| {
            // Appends are held off; let the dispatcher finish this topic's records first so
            // that it does not re-create the queues.
            if !inner
                .dispatcher
                .wait_for(position, READ_YOUR_WRITES_TIMEOUT)
            {
                tracing::warn!(
                    topic,
                    "dispatcher is behind while deleting a topic's queues"
                );
            }
            offsets.remove(topic);
            inner.queues.remove_topic(topic)
        })?;
        // A fresh checkpoint keeps recovery from re-dispatching the old records into
        // the deleted queues.
        flush::flush_all(inner)
    }

    /// Segment-aligned position below which every segment has expired by age (never the
    /// active segment); the minimum position when none has.
    pub fn retention_boundary(&self, now_ms: i64) -> u64 {
        retention::retention_boundary(&self.inner, now_ms)
    }

    /// Deletes the segments ending at or before `position`, and the consume queue and
    /// index files wholly below the new minimum position. Returns the segments deleted.
    pub fn delete_before(&self, position: u64) -> Result<usize, StoreError> {
        self.catch_up();
        retention::delete_before(&self.inner, position)
    }

    /// The commitlog position the next record will be written at: everything appended so
    /// far lies before it.
    pub fn write_position(&self) -> u64 {
        self.inner.log.write_position()
    }

    /// A snapshot of positions and health. Sums the size of every file: for `/metrics`
    /// and health checks, not for a request's path.
    pub fn stats(&self) -> StoreStats {
        let inner = &*self.inner;
        let segments = inner.log.segments();
        let disk_bytes = segments.iter().map(|s| s.len()).sum::<u64>()
            + inner
                .queues
                .all()
                .iter()
                .map(|q| q.disk_bytes())
                .sum::<u64>()
            + inner.index.disk_bytes();
        StoreStats {
            min_position: inner.log.min_position(),
            write_position: inner.log.write_position(),
            flushed_position: inner.flusher.flushed(),
            disk_bytes,
            segments: segments.len(),
            poisoned: inner.flusher.is_poisoned(),
            disk_full: inner.disk.is_full() || inner.health.no_space(),
            resource_errors: inner.health.total(),
            last_resource_error: inner.health.last(),
            degraded: self.degraded_reasons(),
        }
    }

    /// Why the store is degraded right now: one line per failing retried operation, and
    /// the disk watermark. Empty when healthy. The lines name no paths.
    fn degraded_reasons(&self) -> Vec<String> {
        let inner = &*self.inner;
        let mut reasons = inner.health.reasons();
        if inner.disk.is_full() {
            let (used, limit) = inner.disk.usage();
            reasons.push(format!(
                "disk usage {:.1}% is above the limit of {:.1}%; sends are refused",
                used * 100.0,
                limit * 100.0
            ));
        }
        reasons
    }

    /// The fault-injection table of this store (tests only: every point is unarmed
    /// unless a test arms it).
    #[doc(hidden)]
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Sets a callback receiving the duration of each commitlog fsync (for metrics).
    pub fn set_flush_observer(&self, observer: Arc<dyn Fn(Duration) + Send + Sync>) {
        self.inner.flusher.set_observer(observer);
    }

    /// Stops the threads, then flushes everything and writes the checkpoint. Later appends
    /// fail with [`StoreError::Closed`]. Calling it again does nothing.
    pub fn close(&self) -> Result<(), StoreError> {
        let inner = &*self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        inner.log.close();
        inner.dispatcher.stop();
        inner.flusher.stop();
        for thread in self.threads.lock().drain(..) {
            let _ = thread.join();
        }
        let result = flush::flush_all(inner);
        inner.flusher.mark_closed();
        result
    }

    /// The shared parts, for tests.
    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "closing the store on drop failed");
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

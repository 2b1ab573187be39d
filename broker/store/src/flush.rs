//! The flusher: makes written bytes durable, publishes the durable position, writes the
//! checkpoint and polls the disk watermark.
//!
//! Owns the flushed position and the poisoned state. It must not write records.
//!
//! # What poisons the store, and what does not
//!
//! The store is **poisoned** (every later append and every `wait_durable` beyond the
//! flushed position fails with [`StoreError::Poisoned`] until a restart) by exactly one
//! kind of failure: an `fsync`/`msync` of **written data** that failed — commitlog
//! segments, consume queue files or index files. After such a failure the kernel may have
//! dropped the dirty pages and marked them clean, so a retry could report success for
//! bytes that are not on disk; the only honest way on is a restart, whose recovery
//! re-reads the commitlog from its last durable state. A record that the writer could not
//! place (a bug, [`StoreError::Corrupt`]) poisons too.
//!
//! Everything else is **transient**: it is retried, reported (a rate-limited warning, the
//! counters and the degraded reasons of [`StoreStats`](crate::StoreStats)) and clears by
//! itself once the operation works again:
//!
//! - creating or opening a file for lack of descriptors, memory or space (`EMFILE`,
//!   `ENFILE`, `ENOMEM`, `EAGAIN`, `ENOSPC`, `EDQUOT`): nothing was written to the file,
//!   so nothing can have been lost. A commitlog segment that cannot be created fails only
//!   the append that needed it ([`StoreError::ResourceExhausted`] or
//!   [`StoreError::NoSpace`]) and the preallocator retries in the background; a consume
//!   queue or index file makes the dispatcher retry the same record with a bounded
//!   backoff, never skipping one;
//! - any failure to write the checkpoint, fsync of its temporary file included: it is
//!   written whole to a fresh temporary file and renamed over the old one only after that
//!   file is fsynced, so a failure leaves the previous checkpoint, which is still correct
//!   (it understates progress; recovery would re-read a little more). The flusher writes
//!   it again on its next tick;
//! - the disk watermark ([`StoreError::DiskFull`]), checked about once a second.

use crate::checkpoint::Checkpoint;
use crate::config::FlushPolicy;
use crate::error::StoreError;
use crate::faults::{FaultPoint, FileKind};
use crate::health::Operation;
use crate::store::Inner;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the disk watermark is checked.
const DISK_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Callback receiving the duration of each commitlog fsync.
pub(crate) type FlushObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// What waiters on durability watch.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Durable {
    /// The commitlog is fsynced below this position.
    pub(crate) flushed: u64,
    /// An fsync failed.
    pub(crate) poisoned: bool,
    /// The store closed.
    pub(crate) closed: bool,
}

/// Flush progress shared by the flusher thread, `flush` and `wait_durable`.
pub(crate) struct Flusher {
    policy: FlushPolicy,
    flushed: AtomicU64,
    /// Highest position a `wait_durable` caller asked for (sync mode).
    requested: AtomicU64,
    poisoned: AtomicBool,
    durable: watch::Sender<Durable>,
    observer: RwLock<Option<FlushObserver>>,
    /// Serializes flushes; holds the last checkpoint written.
    last_checkpoint: Mutex<Checkpoint>,
    thread: OnceLock<Thread>,
    stop: AtomicBool,
}

impl std::fmt::Debug for Flusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flusher")
            .field("policy", &self.policy)
            .field("flushed", &self.flushed)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Flusher {
    /// A flusher whose commitlog is durable below `flushed`.
    pub(crate) fn new(policy: FlushPolicy, flushed: u64, checkpoint: Checkpoint) -> Flusher {
        let (durable, _) = watch::channel(Durable {
            flushed,
            poisoned: false,
            closed: false,
        });
        Flusher {
            policy,
            flushed: AtomicU64::new(flushed),
            requested: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
            durable,
            observer: RwLock::new(None),
            last_checkpoint: Mutex::new(checkpoint),
            thread: OnceLock::new(),
            stop: AtomicBool::new(false),
        }
    }

    /// The commitlog is fsynced below this position.
    pub(crate) fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Whether an fsync failed.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// `Err(Poisoned)` once an fsync failed.
    pub(crate) fn admit(&self) -> Result<(), StoreError> {
        if self.is_poisoned() {
            return Err(StoreError::Poisoned);
        }
        Ok(())
    }

    /// Sets the fsync duration callback.
    pub(crate) fn set_observer(&self, observer: FlushObserver) {
        *self.observer.write() = Some(observer);
    }

    /// Registers the thread to wake.
    pub(crate) fn set_thread(&self, thread: Thread) {
        let _ = self.thread.set(thread);
    }

    /// A receiver of durability updates.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Durable> {
        self.durable.subscribe()
    }

    /// Asks for the commitlog to be fsynced through `position`: in sync mode the flusher
    /// starts at once; in async mode the next tick covers it.
    pub(crate) fn request(&self, position: u64) {
        if self.policy == FlushPolicy::Sync {
            self.requested.fetch_max(position, Ordering::AcqRel);
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
    }

    /// Asks the thread to stop.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// Tells waiters the store is closed.
    pub(crate) fn mark_closed(&self) {
        self.durable.send_modify(|d| d.closed = true);
    }

    /// Marks the store poisoned and tells waiters.
    pub(crate) fn poison(&self, error: &StoreError) {
        if !self.poisoned.swap(true, Ordering::AcqRel) {
            tracing::error!(%error, "fsync failed; the store is poisoned and refuses writes until restarted");
        }
        self.durable.send_modify(|d| d.poisoned = true);
    }
}

/// Fsyncs the commitlog through the write position. The caller holds the flush lock.
fn flush_commitlog_locked(inner: &Inner) -> Result<(), StoreError> {
    let flusher = &inner.flusher;
    flusher.admit()?;
    let from = flusher.flushed();
    let to = inner.log.write_position();
    if to <= from {
        return Ok(());
    }
    let started = Instant::now();
    let result = match inner.faults.check(FaultPoint::Fsync(FileKind::CommitLog)) {
        Ok(()) => inner.log.flush(from, to),
        Err(e) => Err(StoreError::io(
            "flushing commitlog",
            &inner.config.dir.join("commitlog"),
            e,
        )),
    };
    if let Err(e) = result {
        flusher.poison(&e);
        return Err(e);
    }
    if let Some(observer) = flusher.observer.read().clone() {
        observer(started.elapsed());
    }
    flusher.flushed.store(to, Ordering::Release);
    flusher.durable.send_modify(|d| d.flushed = to);
    Ok(())
}

/// Fsyncs the commitlog through the write position (group commit: one fsync for every
/// waiter so far).
pub(crate) fn flush_commitlog(inner: &Inner) -> Result<(), StoreError> {
    let _guard = inner.flusher.last_checkpoint.lock();
    flush_commitlog_locked(inner)
}

/// Fsyncs commitlog, consume queues and index, and writes the checkpoint if it changed.
///
/// A failed flush of the commitlog, a queue or the index poisons the store; a failed
/// checkpoint does not (see the module docs): it is reported to [`Health`](crate::health)
/// and written again by the next call.
pub(crate) fn flush_all(inner: &Inner) -> Result<(), StoreError> {
    let mut last = inner.flusher.last_checkpoint.lock();
    // Read before flushing the views: everything below it is in them.
    let dispatched = inner.dispatcher.position();
    flush_commitlog_locked(inner)?;
    let views = inner
        .queues
        .all()
        .iter()
        .try_for_each(|q| q.flush())
        .and_then(|()| inner.index.flush());
    if let Err(e) = views {
        inner.flusher.poison(&e);
        return Err(e);
    }
    let checkpoint = Checkpoint {
        flushed: inner.flusher.flushed(),
        dispatched,
        segments: inner
            .log
            .segments()
            .iter()
            .map(|s| (s.base(), s.newest_ms()))
            .collect(),
    };
    if *last != checkpoint {
        if let Err(e) = checkpoint.write(&inner.config.dir, &inner.faults) {
            inner
                .health
                .failed(Operation::Checkpoint, &e, crate::store::now_ms());
            return Err(e);
        }
        inner.health.succeeded(Operation::Checkpoint);
        *last = checkpoint;
    }
    Ok(())
}

/// Body of the flusher thread.
pub(crate) fn run(inner: Arc<Inner>) {
    let flusher = &inner.flusher;
    let interval = flusher.policy.background_interval();
    let mut next_tick = Instant::now() + interval;
    let mut next_disk_check = Instant::now() + DISK_CHECK_INTERVAL;
    loop {
        if flusher.stop.load(Ordering::SeqCst) {
            return;
        }
        if wanted(&inner) && !flusher.is_poisoned() {
            // Errors poison the store and reach waiters through the watch channel.
            let _ = flush_commitlog(&inner);
        }
        let now = Instant::now();
        if now >= next_tick {
            if !flusher.is_poisoned() {
                let _ = flush_all(&inner);
            }
            next_tick = now + interval;
        }
        if now >= next_disk_check {
            inner.disk.check();
            next_disk_check = now + DISK_CHECK_INTERVAL;
        }
        if !wanted(&inner) || flusher.is_poisoned() {
            std::thread::park_timeout(
                next_tick
                    .min(next_disk_check)
                    .saturating_duration_since(now),
            );
        }
    }
}

/// Whether a waiter asked for a position that is written but not yet flushed.
fn wanted(inner: &Inner) -> bool {
    let requested = inner.flusher.requested.load(Ordering::Acquire);
    requested.min(inner.log.write_position()) > inner.flusher.flushed()
}

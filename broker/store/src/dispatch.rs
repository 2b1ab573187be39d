//! The dispatcher: follows the commitlog and writes consume queue and index entries, so
//! that the append path stays short.
//!
//! Owns the dispatched position and the waiting of readers that need to see their own
//! writes. One thread runs [`run`]; recovery calls [`dispatch_record`] directly. It must
//! not write the commitlog.
//!
//! A record whose entries cannot be written (a consume queue or index file cannot be
//! created: `EMFILE`, `ENOSPC`, ...) stops the dispatch *at* that record: everything
//! before it stays published, the failure goes to [`Health`](crate::health) (the store
//! is degraded, not poisoned), and the same record is retried after a backoff that
//! doubles up to [`RETRY_MAX`]. Records are never skipped; rewriting a record's entries
//! is harmless (queue entries are idempotent, index duplicates are filtered at lookup).

use crate::consume_queue::{ConsumeQueues, QueueEntry};
use crate::error::StoreError;
use crate::health::Operation;
use crate::index::{self, Index};
use crate::record::{self, RecordView};
use crate::store::Inner;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Commitlog bytes dispatched before progress is published to waiting readers.
const CHUNK: u64 = 1 << 20;
/// Poll interval while appends keep coming: appends do not wake the thread then, so the
/// append path makes no system call; readers that need their writes wake it themselves.
const POLL: Duration = Duration::from_millis(1);
/// Empty polls before the thread goes to sleep until an append wakes it.
const POLLS_BEFORE_SLEEP: u32 = 100;
/// Longest sleep when idle.
const IDLE: Duration = Duration::from_millis(100);
/// First pause after a failure (e.g. a queue file could not be created) before retrying.
const RETRY_MIN: Duration = Duration::from_millis(10);
/// Longest pause between two retries of a failing record.
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(1);

/// Which views a dispatch writes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Targets {
    /// Write consume queue entries.
    pub(crate) queues: bool,
    /// Write index entries.
    pub(crate) index: bool,
}

/// Dispatcher progress and the readers waiting on it.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    dispatched: AtomicU64,
    lock: Mutex<()>,
    caught_up: Condvar,
    waiters: AtomicUsize,
    thread: OnceLock<Thread>,
    /// The thread is in its long idle sleep and appends must wake it.
    sleeping: AtomicBool,
    stop: AtomicBool,
}

impl Dispatcher {
    /// A dispatcher that has dispatched everything below `position`.
    pub(crate) fn new(position: u64) -> Dispatcher {
        Dispatcher {
            dispatched: AtomicU64::new(position),
            lock: Mutex::new(()),
            caught_up: Condvar::new(),
            waiters: AtomicUsize::new(0),
            thread: OnceLock::new(),
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }

    /// Everything below this position is in the consume queues and the index.
    pub(crate) fn position(&self) -> u64 {
        self.dispatched.load(Ordering::SeqCst)
    }

    /// Registers the thread to wake.
    pub(crate) fn set_thread(&self, thread: Thread) {
        let _ = self.thread.set(thread);
    }

    /// Called after each append: wakes the thread only if it is in its idle sleep. While
    /// appends keep coming it polls, so this is one atomic load.
    pub(crate) fn wake_if_sleeping(&self) {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            self.wake();
        }
    }

    /// Wakes the thread now.
    pub(crate) fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// Asks the thread to stop once it has caught up.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
    }

    fn publish(&self, position: u64) {
        self.dispatched.store(position, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            self.caught_up.notify_all();
        }
    }

    /// Waits until everything below `position` is dispatched, at most `timeout`. Returns
    /// whether it was.
    pub(crate) fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        if self.position() >= position {
            return true;
        }
        self.wake();
        let deadline = Instant::now() + timeout;
        let mut guard = self.lock.lock();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        while self.position() < position {
            if self.caught_up.wait_until(&mut guard, deadline).timed_out() {
                break;
            }
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        self.position() >= position
    }
}

/// Writes the consume queue entry and index entries of one record. Returns `true` if the
/// record's queue offset is beyond its queue's end: entries before it are missing and the
/// queue must be rebuilt.
pub(crate) fn dispatch_record(
    queues: &ConsumeQueues,
    index: &Index,
    position: u64,
    record: &RecordView<'_>,
    targets: Targets,
) -> Result<bool, StoreError> {
    let mut gap = false;
    if targets.queues {
        let queue = queues.get_or_create(record.topic, record.queue);
        let range = queue.range();
        gap = record.queue_offset > range.max;
        queue.put(
            record.queue_offset,
            QueueEntry {
                position,
                size: record.total_len,
                tag_hash: record::tag_hash(record.tag),
                store_ms: record.store_ms,
            },
        )?;
    }
    if targets.index {
        if !record.id.is_empty() {
            index.put(index::id_hash(record.id), position)?;
        }
        for key in record.keys() {
            index.put(index::key_hash(record.topic, key), position)?;
        }
        for (name, value) in record.properties() {
            if name == crate::DEDUP_KEY_PROPERTY {
                index.put(index::dedup_hash(record.topic, value), position)?;
            }
        }
    }
    Ok(gap)
}

/// Body of the dispatcher thread.
pub(crate) fn run(inner: Arc<Inner>) {
    let dispatcher = &inner.dispatcher;
    let all = Targets {
        queues: true,
        index: true,
    };
    let mut empty_polls = 0;
    let mut backoff = RETRY_MIN;
    loop {
        let write = inner.log.write_position();
        // Retention never deletes undispatched segments; skipping to the minimum is only a
        // guard against looping forever on a missing segment.
        let from = dispatcher.position().max(inner.log.min_position());
        if from < write {
            let limit = write.min(from.saturating_add(CHUNK));
            let (end, stop) = inner.log.scan(from, limit, |position, record| {
                dispatch_record(&inner.queues, &inner.index, position, record, all).map(|_| ())
            });
            dispatcher.publish(end);
            empty_polls = 0;
            let failure = match stop {
                crate::commitlog::ScanStop::Limit => {
                    inner.health.succeeded(Operation::Dispatch);
                    backoff = RETRY_MIN;
                    continue;
                }
                crate::commitlog::ScanStop::Visitor(e) => {
                    inner
                        .health
                        .failed(Operation::Dispatch, &e, crate::store::now_ms());
                    None
                }
                other => Some(other),
            };
            if let Some(stop) = failure {
                tracing::error!(position = end, ?stop, "dispatch stalled; retrying");
            }
            // Closing must not wait for a failure that may never clear: recovery
            // re-dispatches from the checkpoint's dispatched position.
            if dispatcher.stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::park_timeout(backoff);
            backoff = (backoff * 2).min(RETRY_MAX);
            continue;
        }
        if dispatcher.stop.load(Ordering::SeqCst) {
            return;
        }
        empty_polls += 1;
        if empty_polls < POLLS_BEFORE_SLEEP {
            std::thread::park_timeout(POLL);
            continue;
        }
        // Announce the sleep, then look again: an append that published before seeing
        // the flag is caught here (both sides use SeqCst).
        dispatcher.sleeping.store(true, Ordering::SeqCst);
        if inner.log.write_position() > dispatcher.position() {
            dispatcher.sleeping.store(false, Ordering::SeqCst);
            continue;
        }
        std::thread::park_timeout(IDLE);
        dispatcher.sleeping.store(false, Ordering::SeqCst);
    }
}

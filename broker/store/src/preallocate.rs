//! Creates the next commitlog segment ahead of time on a background thread, so that a
//! roll does not stall appends on `fallocate` and page faults.
//!
//! Owns only the one segment being prepared, and the creation of every segment after
//! recovery (the writer's own, when nothing is prepared, goes through [`Preallocator::take`]).
//! A creation that fails for lack of descriptors, memory or space is reported to
//! [`Health`] and retried in the background with a bounded backoff, so the store recovers
//! by itself once the resource is back. It must not publish segments: the commitlog's
//! writer takes the prepared segment when it rolls.

use crate::error::{CreateContext, StoreError};
use crate::faults::{FaultPoint, Faults};
use crate::health::{Health, Operation};
use crate::segment::Segment;
use parking_lot::{Condvar, Mutex};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// First pause before the background thread retries a failed creation.
const RETRY_MIN: Duration = Duration::from_millis(50);
/// Longest pause between two background retries.
const RETRY_MAX: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct State {
    /// Base of the segment wanted next, not yet being created.
    wanted: Option<u64>,
    /// Base of the segment being created right now.
    busy: Option<u64>,
    /// A created segment, not yet taken.
    ready: Option<Arc<Segment>>,
    stop: bool,
}

/// Shared between the writer and the preallocating thread.
#[derive(Debug)]
pub(crate) struct Preallocator {
    dir: PathBuf,
    size: u64,
    faults: Arc<Faults>,
    health: Arc<Health>,
    state: Mutex<State>,
    changed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Preallocator {
    /// A preallocator for segments of `size` bytes in `dir`; no thread yet.
    pub(crate) fn new(
        dir: PathBuf,
        size: u64,
        faults: Arc<Faults>,
        health: Arc<Health>,
    ) -> Arc<Preallocator> {
        Arc::new(Preallocator {
            dir,
            size,
            faults,
            health,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            thread: Mutex::new(None),
        })
    }

    /// Starts the background thread.
    pub(crate) fn start(self: &Arc<Self>) -> io::Result<()> {
        let this = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("weir-store-prealloc".to_owned())
            .spawn(move || this.run())?;
        *self.thread.lock() = Some(handle);
        Ok(())
    }

    /// Asks for the segment at `base` to be prepared.
    pub(crate) fn request(&self, base: u64) {
        let mut state = self.state.lock();
        if state.ready.as_ref().map(|s| s.base()) == Some(base) || state.busy == Some(base) {
            return;
        }
        state.wanted = Some(base);
        self.changed.notify_all();
    }

    /// The segment at `base`: the prepared one if it matches, otherwise created now.
    ///
    /// A failure is classified ([`StoreError::ResourceExhausted`], [`StoreError::NoSpace`])
    /// and nothing is left on disk; the next call tries again.
    pub(crate) fn take(&self, base: u64) -> Result<Arc<Segment>, StoreError> {
        let mut state = self.state.lock();
        while state.busy == Some(base) {
            self.changed.wait(&mut state);
        }
        // A ready segment for another base is stale (the writer went elsewhere): dropped
        // here, its file is recreated or removed by recovery.
        if let Some(ready) = state.ready.take()
            && ready.base() == base
        {
            return Ok(ready);
        }
        if state.wanted == Some(base) {
            state.wanted = None;
        }
        drop(state);
        self.create(base).map(Arc::new)
    }

    /// Creates the segment at `base`, reporting the outcome to [`Health`].
    fn create(&self, base: u64) -> Result<Segment, StoreError> {
        let created = self
            .faults
            .check(FaultPoint::SegmentCreate)
            .and_then(|()| Segment::create(&self.dir, base, self.size, true))
            .creating(
                "creating commitlog segment",
                &crate::segment::path(&self.dir, base),
            );
        match &created {
            Ok(_) => self.health.succeeded(Operation::SegmentCreate),
            Err(e) => self
                .health
                .failed(Operation::SegmentCreate, e, crate::store::now_ms()),
        }
        created
    }

    /// Stops and joins the background thread.
    pub(crate) fn stop(&self) {
        self.state.lock().stop = true;
        self.changed.notify_all();
        if let Some(handle) = self.thread.lock().take() {
            let _ = handle.join();
        }
    }

    fn run(&self) {
        let mut backoff = RETRY_MIN;
        let mut state = self.state.lock();
        loop {
            if state.stop {
                return;
            }
            let Some(base) = state.wanted.take() else {
                self.changed.wait(&mut state);
                continue;
            };
            state.busy = Some(base);
            drop(state);
            let created = self.create(base);
            state = self.state.lock();
            state.busy = None;
            self.changed.notify_all();
            match created {
                Ok(segment) => {
                    state.ready = Some(Arc::new(segment));
                    backoff = RETRY_MIN;
                }
                // Health reported it. Try again later, unless the writer asked for another
                // segment meanwhile; if it takes this one first it clears `wanted` (under
                // this lock, after `busy` was cleared) and creates it itself.
                Err(_) => {
                    if state.wanted.is_none() {
                        state.wanted = Some(base);
                    }
                    if !state.stop {
                        let _ = self.changed.wait_for(&mut state, backoff);
                    }
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        }
    }
}

//! Creates the next commitlog segment ahead of time on a background thread, so that a
//! roll does not stall appends on `fallocate` and page faults.
//!
//! Owns only the one segment being prepared. It must not publish segments: the
//! commitlog's writer takes the prepared segment when it rolls.

use crate::segment::Segment;
use parking_lot::{Condvar, Mutex};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

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
    state: Mutex<State>,
    changed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Preallocator {
    /// A preallocator for segments of `size` bytes in `dir`; no thread yet.
    pub(crate) fn new(dir: PathBuf, size: u64) -> Arc<Preallocator> {
        Arc::new(Preallocator {
            dir,
            size,
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
    pub(crate) fn take(&self, base: u64) -> io::Result<Arc<Segment>> {
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
        Ok(Arc::new(Segment::create(&self.dir, base, self.size, true)?))
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
            let created = Segment::create(&self.dir, base, self.size, true);
            state = self.state.lock();
            state.busy = None;
            match created {
                Ok(segment) => state.ready = Some(Arc::new(segment)),
                // The writer will create it itself and report the error to its caller.
                Err(e) => {
                    tracing::warn!(base, error = %e, "preallocating a commitlog segment failed")
                }
            }
            self.changed.notify_all();
        }
    }
}

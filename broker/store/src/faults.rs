//! Fault injection: named points in the store's file layer that tests can make fail with
//! a chosen errno, so that every error path (transient or fatal) is exercised without
//! `LD_PRELOAD` or a special filesystem.
//!
//! Owns the table of armed points and the disk-usage override of the watermark. Always
//! compiled: an unarmed store pays one relaxed atomic load per checked operation (file
//! creations and flushes, never per message). It must not decide what a failure means;
//! the callers classify the error exactly as they would a real one.
//!
//! Reached through [`Store::faults`](crate::Store::faults), which is hidden from the docs:
//! it is for tests, not for operators.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The `errno` values a point can be armed with (`Errno::MFILE`, `Errno::NOSPC`,
/// `Errno::IO`, ...).
#[doc(hidden)]
pub use rustix::io::Errno;

/// A kind of file the store fsyncs.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// Commitlog segments (the acknowledged data).
    CommitLog,
    /// Consume queue files.
    ConsumeQueue,
    /// Index files.
    Index,
    /// The checkpoint's temporary file.
    Checkpoint,
}

/// A place where the store creates, opens or flushes a file.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultPoint {
    /// Creating a commitlog segment, by the preallocator or by the writer itself.
    SegmentCreate,
    /// Creating the checkpoint's temporary file.
    CheckpointCreate,
    /// Creating an index file.
    IndexCreate,
    /// Creating a consume queue file or its directory.
    QueueCreate,
    /// Creating a module file (an uploaded component or its precompiled artifact) in
    /// the plugin host's module directory: not a store file, but checked through the
    /// same table so that one seam drives every file the broker creates.
    ArtifactCreate,
    /// Flushing written bytes of a kind of file to disk (`msync` / `fsync`).
    Fsync(FileKind),
}

#[derive(Clone, Copy, Debug)]
struct Armed {
    errno: Errno,
    remaining: u32,
}

/// The fault table of one store.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Faults {
    /// Number of points with failures left: zero means nothing is armed.
    armed: AtomicUsize,
    table: Mutex<HashMap<FaultPoint, Armed>>,
    injected: Mutex<HashMap<FaultPoint, u64>>,
    /// Disk usage ratio reported instead of the measured one, as `f64` bits; `u64::MAX`
    /// for none.
    disk_usage: AtomicU64,
}

const NO_OVERRIDE: u64 = u64::MAX;

impl Faults {
    /// A table with nothing armed.
    pub(crate) fn new() -> Faults {
        Faults {
            disk_usage: AtomicU64::new(NO_OVERRIDE),
            ..Faults::default()
        }
    }

    /// Makes the next `times` operations at `point` fail with `errno` (replacing what
    /// was armed there; `times == 0` disarms it).
    pub fn fail(&self, point: FaultPoint, errno: Errno, times: u32) {
        let mut table = self.table.lock();
        let was = table.remove(&point).is_some();
        if times > 0 {
            table.insert(
                point,
                Armed {
                    errno,
                    remaining: times,
                },
            );
        }
        let now = times > 0;
        match (was, now) {
            (false, true) => {
                self.armed.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.armed.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Disarms every point.
    pub fn clear(&self) {
        self.table.lock().clear();
        self.armed.store(0, Ordering::Relaxed);
    }

    /// How many failures were injected at `point` so far.
    pub fn injected(&self, point: FaultPoint) -> u64 {
        self.injected.lock().get(&point).copied().unwrap_or(0)
    }

    /// Makes the disk watermark see `ratio` of the filesystem in use instead of measuring
    /// it; `None` measures again. Takes effect at the next check (about once a second).
    pub fn set_disk_usage(&self, ratio: Option<f64>) {
        let bits = ratio.map_or(NO_OVERRIDE, f64::to_bits);
        self.disk_usage.store(bits, Ordering::Relaxed);
    }

    /// The disk usage override, if one is set.
    pub(crate) fn disk_usage(&self) -> Option<f64> {
        let bits = self.disk_usage.load(Ordering::Relaxed);
        (bits != NO_OVERRIDE).then(|| f64::from_bits(bits))
    }

    /// `Err` with the armed errno if `point` is armed (and counts one failure down).
    pub fn check(&self, point: FaultPoint) -> io::Result<()> {
        if self.armed.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let mut table = self.table.lock();
        let Some(armed) = table.get_mut(&point) else {
            return Ok(());
        };
        let errno = armed.errno;
        armed.remaining = armed.remaining.saturating_sub(1);
        if armed.remaining == 0 {
            table.remove(&point);
            self.armed.fetch_sub(1, Ordering::Relaxed);
        }
        drop(table);
        *self.injected.lock().entry(point).or_insert(0) += 1;
        Err(io::Error::from_raw_os_error(errno.raw_os_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_point_fails_the_given_number_of_times() {
        let faults = Faults::new();
        assert!(faults.check(FaultPoint::IndexCreate).is_ok());
        faults.fail(FaultPoint::IndexCreate, Errno::MFILE, 2);
        for _ in 0..2 {
            let err = faults.check(FaultPoint::IndexCreate).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(Errno::MFILE.raw_os_error()));
            assert!(faults.check(FaultPoint::QueueCreate).is_ok());
        }
        assert!(faults.check(FaultPoint::IndexCreate).is_ok());
        assert_eq!(faults.injected(FaultPoint::IndexCreate), 2);
        assert_eq!(faults.armed.load(Ordering::Relaxed), 0);

        faults.fail(FaultPoint::Fsync(FileKind::Index), Errno::IO, 5);
        faults.fail(FaultPoint::Fsync(FileKind::Index), Errno::IO, 0);
        assert!(faults.check(FaultPoint::Fsync(FileKind::Index)).is_ok());
        assert_eq!(faults.armed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_disk_usage_override_is_set_and_cleared() {
        let faults = Faults::new();
        assert_eq!(faults.disk_usage(), None);
        faults.set_disk_usage(Some(0.97));
        assert_eq!(faults.disk_usage(), Some(0.97));
        faults.set_disk_usage(None);
        assert_eq!(faults.disk_usage(), None);
    }
}

//! The disk watermark: how full the store's filesystem is, and whether appends must be
//! refused.
//!
//! Owns the `disk_full` flag. The flusher thread calls [`DiskMonitor::check`] about once a
//! second; appends only read the flag. It must not delete anything: freeing space is the
//! broker core's decision (retention).

use crate::error::StoreError;
use crate::faults::Faults;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Tracks filesystem usage against `disk_max_used_ratio`.
#[derive(Debug)]
pub(crate) struct DiskMonitor {
    dir: PathBuf,
    limit: f64,
    full: AtomicBool,
    /// Last measured used ratio, as `f64` bits.
    used: AtomicU64,
    /// May replace the measurement (tests).
    faults: Arc<Faults>,
}

impl DiskMonitor {
    /// A monitor for the filesystem holding `dir`.
    pub(crate) fn new(dir: PathBuf, limit: f64, faults: Arc<Faults>) -> DiskMonitor {
        DiskMonitor {
            dir,
            limit,
            full: AtomicBool::new(false),
            used: AtomicU64::new(0),
            faults,
        }
    }

    /// Measures usage and updates the flag. A failed measurement keeps the previous state.
    pub(crate) fn check(&self) {
        let used = match self.faults.disk_usage() {
            Some(used) => used,
            None => match rustix::fs::statvfs(&self.dir) {
                Ok(s) => {
                    let used = s.f_blocks.saturating_sub(s.f_bfree) as f64;
                    let total = used + s.f_bavail as f64;
                    if total > 0.0 { used / total } else { 0.0 }
                }
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot measure disk usage");
                    return;
                }
            },
        };
        self.used.store(used.to_bits(), Ordering::Relaxed);
        let full = used > self.limit;
        if self.full.swap(full, Ordering::Relaxed) != full {
            if full {
                tracing::error!(
                    used,
                    limit = self.limit,
                    "disk usage above the watermark; refusing appends"
                );
            } else {
                tracing::info!(
                    used,
                    limit = self.limit,
                    "disk usage below the watermark again; accepting appends"
                );
            }
        }
    }

    /// The last measured used ratio and the limit.
    pub(crate) fn usage(&self) -> (f64, f64) {
        (
            f64::from_bits(self.used.load(Ordering::Relaxed)),
            self.limit,
        )
    }

    /// Whether appends are refused.
    pub(crate) fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// `Err(DiskFull)` if appends are refused.
    pub(crate) fn admit(&self) -> Result<(), StoreError> {
        if self.is_full() {
            return Err(StoreError::DiskFull {
                used_ratio: f64::from_bits(self.used.load(Ordering::Relaxed)),
                limit: self.limit,
            });
        }
        Ok(())
    }
}

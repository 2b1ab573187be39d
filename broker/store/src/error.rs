//! The store's error type. Messages say what was being done to which path, and what the
//! operator can do about it.
//!
//! Owns the classification of a failed file creation: running out of file descriptors or
//! memory ([`StoreError::ResourceExhausted`]) and running out of space
//! ([`StoreError::NoSpace`]) are transient and retried; see [`flush`](crate::flush) for
//! which failures poison the store instead.

use std::path::Path;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, to which path.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An fsync failed earlier; the store refuses every write since.
    #[error(
        "store refuses writes: an earlier fsync failed (data written since the last \
         successful flush may not be on disk); restart the broker so that recovery \
         re-reads the commitlog from its last durable state, after fixing the disk"
    )]
    Poisoned,
    /// The filesystem is fuller than the configured watermark.
    #[error(
        "disk full: {:.1}% of the filesystem is used, above the limit of {:.1}%; appends \
         are refused until old segments are deleted or the limit is raised",
        used_ratio * 100.0,
        limit * 100.0
    )]
    DiskFull {
        /// Fraction of the filesystem in use.
        used_ratio: f64,
        /// The configured `disk_max_used_ratio`.
        limit: f64,
    },
    /// A file could not be created or opened for lack of file descriptors or memory
    /// (`EMFILE`, `ENFILE`, `ENOMEM`, `EAGAIN`). Nothing was written; the operation is
    /// retried (by the store, or by the caller for an append) and works again once the
    /// resource is back.
    #[error(
        "{context}: {source}; the operation is retried and works again once the process \
         has file descriptors and memory to spare"
    )]
    ResourceExhausted {
        /// What was being done, to which path.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be created for lack of disk space (`ENOSPC`, `EDQUOT`). Nothing
    /// was written; appends that need the file are refused until space returns.
    #[error(
        "disk full: {context}: {source}; appends that need a new file are refused until \
         space is freed"
    )]
    NoSpace {
        /// What was being done, to which path.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A message exceeds one of the limits; the text names the limit.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// Stored bytes failed validation where they must be valid.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A commitlog position outside the stored range was asked for.
    #[error("position {position} is outside the stored commitlog range [{min}, {write})")]
    OutOfRange {
        /// The position asked for.
        position: u64,
        /// The oldest position still stored.
        min: u64,
        /// The position the next record will be written at.
        write: u64,
    },
    /// The store was closed.
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// An [`StoreError::Io`] for `what` done to `path`.
    pub(crate) fn io(what: &str, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            context: format!("{what} {}", path.display()),
            source,
        }
    }
}

impl StoreError {
    /// The error of creating or opening a file (`what` done to `path`): transient
    /// resource shortages become [`StoreError::ResourceExhausted`] or
    /// [`StoreError::NoSpace`], anything else [`StoreError::Io`].
    pub fn creating(what: &str, path: &Path, source: std::io::Error) -> StoreError {
        let context = format!("{what} {}", path.display());
        match Shortage::of(&source) {
            Some(Shortage::Resources) => StoreError::ResourceExhausted { context, source },
            Some(Shortage::Space) => StoreError::NoSpace { context, source },
            None => StoreError::Io { context, source },
        }
    }

    /// Whether this is a transient shortage of file descriptors, memory or space, which
    /// the store retries instead of poisoning itself.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::ResourceExhausted { .. } | StoreError::NoSpace { .. }
        )
    }

    /// Whether this is a lack of disk space (the watermark, or a failed file creation).
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            StoreError::DiskFull { .. } | StoreError::NoSpace { .. }
        )
    }
}

/// A transient shortage behind an I/O error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shortage {
    /// File descriptors or memory.
    Resources,
    /// Disk space or quota.
    Space,
}

impl Shortage {
    fn of(error: &std::io::Error) -> Option<Shortage> {
        use rustix::io::Errno;
        let errno = Errno::from_raw_os_error(error.raw_os_error()?);
        if [Errno::MFILE, Errno::NFILE, Errno::NOMEM, Errno::AGAIN].contains(&errno) {
            Some(Shortage::Resources)
        } else if [Errno::NOSPC, Errno::DQUOT].contains(&errno) {
            Some(Shortage::Space)
        } else {
            None
        }
    }
}

/// Shorthand for `map_err(|e| StoreError::io(what, path, e))`.
pub(crate) trait IoContext<T> {
    /// Attaches what was being done to which path.
    fn context(self, what: &str, path: &Path) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn context(self, what: &str, path: &Path) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::io(what, path, e))
    }
}

/// Shorthand for `map_err(|e| StoreError::creating(what, path, e))`.
pub(crate) trait CreateContext<T> {
    /// Attaches what was being created, and classifies transient shortages.
    fn creating(self, what: &str, path: &Path) -> Result<T, StoreError>;
}

impl<T> CreateContext<T> for std::io::Result<T> {
    fn creating(self, what: &str, path: &Path) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::creating(what, path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::Errno;

    fn created(errno: Errno) -> StoreError {
        let source = std::io::Error::from_raw_os_error(errno.raw_os_error());
        StoreError::creating("creating", Path::new("/x"), source)
    }

    #[test]
    fn shortages_are_transient_and_other_errors_are_not() {
        for errno in [Errno::MFILE, Errno::NFILE, Errno::NOMEM, Errno::AGAIN] {
            let e = created(errno);
            assert!(matches!(e, StoreError::ResourceExhausted { .. }), "{e}");
            assert!(e.is_transient() && !e.is_disk_full(), "{e}");
        }
        for errno in [Errno::NOSPC, Errno::DQUOT] {
            let e = created(errno);
            assert!(matches!(e, StoreError::NoSpace { .. }), "{e}");
            assert!(e.is_transient() && e.is_disk_full(), "{e}");
        }
        for errno in [Errno::IO, Errno::ACCESS, Errno::NOENT] {
            let e = created(errno);
            assert!(matches!(e, StoreError::Io { .. }), "{e}");
            assert!(!e.is_transient(), "{e}");
        }
    }
}

//! The store's error type. Messages say what was being done to which path, and what the
//! operator can do about it.

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

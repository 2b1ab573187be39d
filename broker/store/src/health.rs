//! Transient failures of the store's retried operations, and the "degraded" state they
//! put the store in while they last.
//!
//! Owns the failure counter, the last failure, the set of operations failing right now and
//! the rate limit of their warnings. An operation that fails here is retried by its owner
//! (the writer on the next append, the flusher on its next tick, the dispatcher after a
//! backoff); when it succeeds again the store is healthy again by itself. It must not
//! poison the store: only a failed flush of written data does that (see
//! [`flush`](crate::flush)).

use crate::error::StoreError;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Least time between two warnings about the same failing operation: a failure retried
/// every few milliseconds must not flood the log.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// An operation that is retried when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Creating a commitlog segment (preallocator or writer).
    SegmentCreate,
    /// Writing the checkpoint.
    Checkpoint,
    /// Writing consume queue and index entries (creating their files).
    Dispatch,
}

const OPERATIONS: usize = 3;

impl Operation {
    fn slot(self) -> usize {
        match self {
            Operation::SegmentCreate => 0,
            Operation::Checkpoint => 1,
            Operation::Dispatch => 2,
        }
    }

    fn bit(self) -> u32 {
        1 << self.slot()
    }

    fn describe(self) -> &'static str {
        match self {
            Operation::SegmentCreate => {
                "creating commitlog segments fails; sends that need a new segment are refused"
            }
            Operation::Checkpoint => {
                "writing the checkpoint fails; recovery after a crash would re-read more of the commitlog"
            }
            Operation::Dispatch => {
                "creating consume queue or index files fails; new messages are not yet readable by queue or key"
            }
        }
    }
}

/// The last failure of a retried operation, for [`StoreStats`](crate::StoreStats).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceError {
    /// The error, with the path it concerned.
    pub message: String,
    /// When it happened, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

#[derive(Debug)]
struct Failing {
    /// The error, without paths (it is shown on unauthenticated routes).
    cause: String,
    failures: u64,
    last_warn: Instant,
    suppressed: u64,
}

#[derive(Debug, Default)]
struct State {
    last: Option<ResourceError>,
    failing: [Option<Failing>; OPERATIONS],
}

/// Failures of retried operations.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// Bit per [`Operation`] failing right now; a success checks it with one load.
    failing: AtomicU32,
    total: AtomicU64,
    /// The last segment creation failed for lack of space.
    no_space: AtomicBool,
    state: Mutex<State>,
}

/// The underlying error without the context (which names paths).
fn cause(error: &StoreError) -> String {
    match error {
        StoreError::Io { source, .. }
        | StoreError::ResourceExhausted { source, .. }
        | StoreError::NoSpace { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

impl Health {
    /// Records a failure of `operation`; warns unless it warned about it recently.
    pub(crate) fn failed(&self, operation: Operation, error: &StoreError, now_ms: i64) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if operation == Operation::SegmentCreate {
            self.no_space.store(
                matches!(error, StoreError::NoSpace { .. }),
                Ordering::Relaxed,
            );
        }
        let mut state = self.state.lock();
        state.last = Some(ResourceError {
            message: error.to_string(),
            at_ms: now_ms,
        });
        let Some(slot) = state.failing.get_mut(operation.slot()) else {
            return;
        };
        let now = Instant::now();
        match slot {
            Some(failing) => {
                failing.failures += 1;
                failing.cause = cause(error);
                if now.duration_since(failing.last_warn) >= WARN_INTERVAL {
                    tracing::warn!(
                        %error,
                        failures = failing.failures,
                        not_logged = failing.suppressed,
                        "{}; still retrying",
                        operation.describe()
                    );
                    failing.last_warn = now;
                    failing.suppressed = 0;
                } else {
                    failing.suppressed += 1;
                }
            }
            None => {
                tracing::warn!(%error, "{}; retrying", operation.describe());
                *slot = Some(Failing {
                    cause: cause(error),
                    failures: 1,
                    last_warn: now,
                    suppressed: 0,
                });
            }
        }
        self.failing.fetch_or(operation.bit(), Ordering::Release);
    }

    /// Records a success of `operation`, ending its degraded state if it was failing.
    pub(crate) fn succeeded(&self, operation: Operation) {
        if self.failing.load(Ordering::Acquire) & operation.bit() == 0 {
            return;
        }
        if operation == Operation::SegmentCreate {
            self.no_space.store(false, Ordering::Relaxed);
        }
        let mut state = self.state.lock();
        self.failing.fetch_and(!operation.bit(), Ordering::Release);
        if let Some(failing) = state
            .failing
            .get_mut(operation.slot())
            .and_then(Option::take)
        {
            tracing::info!(
                failures = failing.failures,
                "{:?} works again after failing",
                operation
            );
        }
    }

    /// Whether `operation` is failing right now (one atomic load).
    pub(crate) fn is_failing(&self, operation: Operation) -> bool {
        self.failing.load(Ordering::Acquire) & operation.bit() != 0
    }

    /// Failures recorded since the store opened.
    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The last failure recorded.
    pub(crate) fn last(&self) -> Option<ResourceError> {
        self.state.lock().last.clone()
    }

    /// Whether segment creation is failing for lack of space.
    pub(crate) fn no_space(&self) -> bool {
        self.no_space.load(Ordering::Relaxed)
    }

    /// One line per operation failing right now; empty when healthy.
    pub(crate) fn reasons(&self) -> Vec<String> {
        if self.failing.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let state = self.state.lock();
        [
            Operation::SegmentCreate,
            Operation::Checkpoint,
            Operation::Dispatch,
        ]
        .into_iter()
        .filter_map(|op| {
            let failing = state.failing.get(op.slot())?.as_ref()?;
            Some(format!("{}: {}", op.describe(), failing.cause))
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile() -> StoreError {
        StoreError::ResourceExhausted {
            context: "creating /secret/path".to_owned(),
            source: std::io::Error::from_raw_os_error(24),
        }
    }

    #[test]
    fn a_failure_degrades_until_the_operation_succeeds() {
        let health = Health::default();
        assert!(health.reasons().is_empty());
        health.failed(Operation::Checkpoint, &emfile(), 5);
        health.failed(Operation::Checkpoint, &emfile(), 6);
        health.succeeded(Operation::Dispatch);
        let reasons = health.reasons();
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].contains("checkpoint"), "{reasons:?}");
        assert!(reasons[0].contains("Too many open files"), "{reasons:?}");
        assert!(!reasons[0].contains("/secret"), "{reasons:?}");
        assert_eq!(health.total(), 2);
        let last = health.last().unwrap();
        assert_eq!(last.at_ms, 6);
        assert!(last.message.contains("/secret/path"), "{last:?}");

        health.succeeded(Operation::Checkpoint);
        assert!(health.reasons().is_empty());
        assert_eq!(health.total(), 2);
    }

    #[test]
    fn no_space_follows_segment_creation() {
        let health = Health::default();
        let enospc = StoreError::NoSpace {
            context: "creating segment".to_owned(),
            source: std::io::Error::from_raw_os_error(28),
        };
        health.failed(Operation::SegmentCreate, &enospc, 1);
        assert!(health.no_space());
        health.failed(Operation::SegmentCreate, &emfile(), 2);
        assert!(!health.no_space());
        health.failed(Operation::SegmentCreate, &enospc, 3);
        health.succeeded(Operation::SegmentCreate);
        assert!(!health.no_space());
    }
}

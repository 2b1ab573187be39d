//! Retention: which segments have expired by age, and deleting everything below a
//! position.
//!
//! Owns the rules of deletion across commitlog, consume queues and index. It never runs on
//! its own: the broker core decides when (it must first re-write its own records that
//! still live in old segments).

use crate::error::StoreError;
use crate::store::Inner;

/// Segment-aligned position below which every segment's newest record is older than the
/// retention (the active segment never counts). The minimum position when none is.
pub(crate) fn retention_boundary(inner: &Inner, now_ms: i64) -> u64 {
    let mut boundary = inner.log.min_position();
    let Some(retention) = inner.config.retention else {
        return boundary;
    };
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms.saturating_sub(retention_ms);
    let segments = inner.log.segments();
    let sealed = segments.len().saturating_sub(1);
    for segment in segments.iter().take(sealed) {
        if segment.newest_ms() >= cutoff {
            break;
        }
        boundary = segment.end();
    }
    boundary
}

/// Deletes the segments that end at or before `position` (never the active one), then
/// consume queue files and index files that only point below the new minimum position.
/// Returns the number of segments deleted.
///
/// Segments the dispatcher has not finished are kept: their records would otherwise never
/// reach the consume queues.
pub(crate) fn delete_before(inner: &Inner, position: u64) -> Result<usize, StoreError> {
    let position = position.min(inner.dispatcher.position());
    let deleted = inner.log.remove_before(position)?;
    if deleted == 0 {
        return Ok(0);
    }
    let min = inner.log.min_position();
    let mut queue_files = 0;
    for queue in inner.queues.all() {
        queue.advance_min(min);
        queue_files += queue.remove_files_below(queue.range().min)?;
    }
    let index_files = inner.index.remove_before(min)?;
    tracing::info!(
        segments = deleted,
        queue_files,
        index_files,
        min_position = min,
        "deleted expired data"
    );
    Ok(deleted)
}

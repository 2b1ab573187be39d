//! Recovery, run by [`Store::open`](crate::Store::open): find the end of the valid
//! commitlog, truncate what follows it, and bring consume queues and index up to it.
//!
//! Owns the order of the steps:
//!
//! 1. Open the segments (a gap in their bases ends the log there).
//! 2. From the checkpoint's flushed position (or the first segment if there is no valid
//!    checkpoint), validate records forward: magic, length, version, CRC. The first
//!    invalid record is the end.
//! 3. Zero everything after the end (a torn write may have left garbage) and delete later
//!    segments, then fsync the recovered tail.
//! 4. Drop consume queue entries at or past the end; re-dispatch from the checkpoint's
//!    dispatched position (queue writes are idempotent, index duplicates are filtered at
//!    lookup). Missing or damaged queues or index are rebuilt from the first segment.
//! 5. Write a fresh checkpoint.
//!
//! Records before the checkpoint's flushed position are trusted, not re-validated: they
//! were fsynced. It must not start threads; the store does that afterwards.

use crate::checkpoint::Checkpoint;
use crate::commitlog::{self, CommitLog, ScanStop, remove_file};
use crate::config::StoreConfig;
use crate::consume_queue::{ConsumeQueues, name_number};
use crate::dispatch::{Targets, dispatch_record};
use crate::error::{CreateContext, IoContext, StoreError};
use crate::faults::Faults;
use crate::index::Index;
use crate::preallocate::Preallocator;
use crate::segment::Segment;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What [`recover`] hands to the store.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) log: CommitLog,
    pub(crate) queues: ConsumeQueues,
    pub(crate) index: Index,
    /// Commitlog end: durable, dispatched, and where the next record goes.
    pub(crate) end: u64,
    /// The checkpoint written at the end of recovery.
    pub(crate) checkpoint: Checkpoint,
}

fn open_segments(dir: &Path, segment_size: u64) -> Result<Vec<Arc<Segment>>, StoreError> {
    let mut paths: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .context("listing", dir)?
        .flatten()
        .filter_map(|e| Some((name_number(&e.path())?, e.path())))
        .collect();
    paths.sort();
    let mut segments: Vec<Arc<Segment>> = Vec::new();
    let mut rest = paths.into_iter();
    for (base, path) in rest.by_ref() {
        if segments.last().is_some_and(|last| last.end() != base) {
            tracing::warn!(path = %path.display(), "commitlog segments are not contiguous; the log ends before this one");
            remove_file(&path)?;
            break;
        }
        match Segment::open(&path, base) {
            Ok(segment) => segments.push(Arc::new(segment)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable commitlog segment; the log ends before it");
                remove_file(&path)?;
                break;
            }
        }
    }
    for (_, path) in rest {
        remove_file(&path)?;
    }
    if segments.is_empty() {
        let segment = Segment::create(dir, 0, segment_size, true)
            .creating("creating commitlog segment", &crate::segment::path(dir, 0))?;
        segments.push(Arc::new(segment));
    }
    Ok(segments)
}

/// Recovers the store in `config.dir`.
pub(crate) fn recover(
    config: &StoreConfig,
    prealloc: Arc<Preallocator>,
    faults: &Arc<Faults>,
) -> Result<Recovered, StoreError> {
    let log_dir = config.dir.join("commitlog");
    std::fs::create_dir_all(&log_dir).context("creating commitlog directory", &log_dir)?;
    let mut segments = open_segments(&log_dir, config.segment_size)?;
    let min = segments.first().map_or(0, |s| s.base());
    let last_end = segments.last().map_or(0, |s| s.end());
    let checkpoint = Checkpoint::load(&config.dir);
    let start = match &checkpoint {
        Some(c) if (min..=last_end).contains(&c.flushed) => c.flushed,
        _ => min,
    };

    // Find the end.
    let mut scanned = 0u64;
    let (end, stop) = commitlog::scan(&segments, start, u64::MAX, |position, record| {
        scanned += 1;
        if let Some(segment) = commitlog::segment_at(&segments, position) {
            segment.observe_ms(record.store_ms);
        }
        Ok(())
    });
    let last = segments
        .partition_point(|s| s.base() <= end)
        .saturating_sub(1);
    let mut garbage = 0u64;
    if let (ScanStop::Invalid(problem), Some(segment)) = (&stop, segments.get(last)) {
        let tail = segment.read_from(end - segment.base()).unwrap_or(&[]);
        garbage = tail
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i as u64 + 1);
        if garbage > 0 {
            tracing::warn!(position = end, %problem, bytes = garbage, "commitlog ends in an invalid record; truncating");
        }
    }
    let dropped: Vec<Arc<Segment>> = segments.drain(last + 1..).collect();
    for segment in &dropped {
        tracing::warn!(path = %segment.path().display(), "deleting commitlog segment past the end of the valid log");
        garbage += segment.len();
    }
    for segment in dropped {
        let path = segment.path().to_owned();
        drop(segment);
        remove_file(&path)?;
    }
    let Some(tail) = segments.last_mut() else {
        return Err(StoreError::Corrupt("commitlog has no segment".to_owned()));
    };
    let base = tail.base();
    let tail = Arc::get_mut(tail).ok_or_else(|| {
        StoreError::Corrupt("commitlog segment shared during recovery".to_owned())
    })?;
    tail.truncate(end - base)
        .map_err(|e| StoreError::io("truncating commitlog segment", tail.path(), e))?;

    // Newest store time per segment, for retention: scanned above, else from the
    // checkpoint, else by scanning the segment.
    for (i, segment) in segments.iter().enumerate() {
        if segment.newest_ms() != i64::MIN {
            continue;
        }
        let known = checkpoint
            .as_ref()
            .and_then(|c| c.segments.iter().find(|(b, _)| *b == segment.base()))
            .map(|(_, ms)| *ms);
        match known {
            Some(ms) => segment.observe_ms(ms),
            None => {
                let one = segments.get(i..=i).unwrap_or(&[]);
                commitlog::scan(one, segment.base(), end, |_, r| {
                    segment.observe_ms(r.store_ms);
                    Ok(())
                });
            }
        }
    }
    // Records read back from the page cache after a crash may not be on disk yet.
    for segment in &segments {
        let from = start.max(segment.base());
        let to = end.min(segment.end());
        if from < to {
            segment
                .flush_range(from - segment.base(), to - from)
                .map_err(|e| StoreError::io("flushing commitlog segment", segment.path(), e))?;
        }
    }

    // Consume queues and index.
    let (queues, damaged) = ConsumeQueues::load(
        &config.dir.join("queues"),
        config.queue_entries_per_file,
        Arc::clone(faults),
    )?;
    let (index, index_damaged) = Index::load(
        &config.dir.join("index"),
        config.index_slots,
        config.index_entries,
        Arc::clone(faults),
    )?;
    for queue in queues.all() {
        queue.truncate_at_position(end);
    }
    let dispatched = checkpoint
        .as_ref()
        .map_or(min, |c| c.dispatched)
        .clamp(min, end);
    let has_records = end > min;
    let queue_from = if !damaged.is_empty() || (queues.is_empty() && has_records) {
        min
    } else {
        dispatched
    };
    let index_from = if index_damaged || (index.is_empty() && has_records) {
        min
    } else {
        dispatched
    };
    let mut gap = false;
    let mut redispatched = 0u64;
    let (_, stop) = commitlog::scan(
        &segments,
        queue_from.min(index_from),
        end,
        |position, record| {
            let targets = Targets {
                queues: position >= queue_from,
                index: position >= index_from,
            };
            gap |= dispatch_record(&queues, &index, position, record, targets)?;
            redispatched += 1;
            Ok(())
        },
    );
    if let ScanStop::Visitor(e) = stop {
        return Err(e);
    }
    if gap && queue_from > min {
        tracing::warn!(
            "consume queue entries are missing; rebuilding the consume queues from the first segment"
        );
        let queues_only = Targets {
            queues: true,
            index: false,
        };
        let (_, stop) = commitlog::scan(&segments, min, end, |position, record| {
            dispatch_record(&queues, &index, position, record, queues_only).map(|_| ())
        });
        if let ScanStop::Visitor(e) = stop {
            return Err(e);
        }
    }
    for queue in queues.all() {
        queue.recompute_min(min);
        queue.flush()?;
    }
    index.flush()?;

    let checkpoint = Checkpoint {
        flushed: end,
        dispatched: end,
        segments: segments.iter().map(|s| (s.base(), s.newest_ms())).collect(),
    };
    checkpoint.write(&config.dir, faults)?;
    tracing::info!(
        dir = %config.dir.display(),
        from = start,
        end,
        records_scanned = scanned,
        bytes_truncated = garbage,
        records_redispatched = redispatched,
        queues_rebuilt = queue_from == min && has_records,
        index_rebuilt = index_from == min && has_records,
        "store recovered"
    );
    let offsets = queues.next_offsets();
    let log = CommitLog::new(config.segment_size, segments, end, offsets, prealloc)?;
    Ok(Recovered {
        log,
        queues,
        index,
        end,
        checkpoint,
    })
}

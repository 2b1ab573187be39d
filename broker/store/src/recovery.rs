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

/// Recovers the store in `config.dir`, in the order of the steps above.
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

    let valid = find_end(&segments, start);
    let end = valid.end;
    let garbage = valid.garbage + truncate_at(&mut segments, end)?;
    learn_segment_times(&segments, checkpoint.as_ref(), end);
    flush_recovered(&segments, start, end)?;
    let views = rebuild_views(config, faults, &segments, checkpoint.as_ref(), end)?;

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
        records_scanned = valid.scanned,
        bytes_truncated = garbage,
        records_redispatched = views.redispatched,
        queues_rebuilt = views.queues_rebuilt,
        index_rebuilt = views.index_rebuilt,
        "store recovered"
    );
    let offsets = views.queues.next_offsets();
    let log = CommitLog::new(config.segment_size, segments, end, offsets, prealloc)?;
    Ok(Recovered {
        log,
        queues: views.queues,
        index: views.index,
        end,
        checkpoint,
    })
}

/// Where the valid commitlog ends, as step 2 found it.
struct ValidEnd {
    /// The position after the last valid record.
    end: u64,
    /// Records validated.
    scanned: u64,
    /// Bytes after the end in its segment that are not zero (a torn or corrupt record).
    garbage: u64,
}

/// Step 2: validates records forward from `start`; the first invalid one is the end.
/// Notes each segment's newest store time on the way.
fn find_end(segments: &[Arc<Segment>], start: u64) -> ValidEnd {
    let mut scanned = 0u64;
    let (end, stop) = commitlog::scan(segments, start, u64::MAX, |position, record| {
        scanned += 1;
        if let Some(segment) = commitlog::segment_at(segments, position) {
            segment.observe_ms(record.store_ms);
        }
        Ok(())
    });
    let mut garbage = 0u64;
    if let (ScanStop::Invalid(problem), Some(segment)) =
        (&stop, segments.get(last_at(segments, end)))
    {
        let tail = segment.read_from(end - segment.base()).unwrap_or(&[]);
        garbage = tail
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i as u64 + 1);
        if garbage > 0 {
            tracing::warn!(position = end, %problem, bytes = garbage, "commitlog ends in an invalid record; truncating");
        }
    }
    ValidEnd {
        end,
        scanned,
        garbage,
    }
}

/// The index of the segment holding position `end`.
fn last_at(segments: &[Arc<Segment>], end: u64) -> usize {
    segments
        .partition_point(|s| s.base() <= end)
        .saturating_sub(1)
}

/// Step 3: deletes the segments past the one holding `end` and zeroes that one after
/// `end`. Returns the bytes of the deleted segments.
fn truncate_at(segments: &mut Vec<Arc<Segment>>, end: u64) -> Result<u64, StoreError> {
    let last = last_at(segments, end);
    let dropped: Vec<Arc<Segment>> = segments.drain(last + 1..).collect();
    let mut deleted = 0u64;
    for segment in &dropped {
        tracing::warn!(path = %segment.path().display(), "deleting commitlog segment past the end of the valid log");
        deleted += segment.len();
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
    Ok(deleted)
}

/// The newest store time of each segment, for retention: noted by [`find_end`], else
/// from the checkpoint, else by scanning the segment.
fn learn_segment_times(segments: &[Arc<Segment>], checkpoint: Option<&Checkpoint>, end: u64) {
    for (i, segment) in segments.iter().enumerate() {
        if segment.newest_ms() != i64::MIN {
            continue;
        }
        let known = checkpoint
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
}

/// Step 3, continued: fsyncs the records validated from `start` to `end`. Read back from
/// the page cache after a crash, they may not be on disk yet.
fn flush_recovered(segments: &[Arc<Segment>], start: u64, end: u64) -> Result<(), StoreError> {
    for segment in segments {
        let from = start.max(segment.base());
        let to = end.min(segment.end());
        if from < to {
            segment
                .flush_range(from - segment.base(), to - from)
                .map_err(|e| StoreError::io("flushing commitlog segment", segment.path(), e))?;
        }
    }
    Ok(())
}

/// The consume queues and index, brought up to the end of the commitlog.
struct Views {
    queues: ConsumeQueues,
    index: Index,
    /// Records dispatched again.
    redispatched: u64,
    /// Whether the consume queues were rebuilt from the first segment.
    queues_rebuilt: bool,
    /// Whether the index was rebuilt from the first segment.
    index_rebuilt: bool,
}

/// Step 4: loads the consume queues and index, drops queue entries at or past `end`, and
/// re-dispatches from the checkpoint's dispatched position, or from the first segment
/// for what is missing or damaged.
fn rebuild_views(
    config: &StoreConfig,
    faults: &Arc<Faults>,
    segments: &[Arc<Segment>],
    checkpoint: Option<&Checkpoint>,
    end: u64,
) -> Result<Views, StoreError> {
    let min = segments.first().map_or(0, |s| s.base());
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
    let dispatched = checkpoint.map_or(min, |c| c.dispatched).clamp(min, end);
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
        segments,
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
        let (_, stop) = commitlog::scan(segments, min, end, |position, record| {
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
    Ok(Views {
        queues,
        index,
        redispatched,
        queues_rebuilt: queue_from == min && has_records,
        index_rebuilt: index_from == min && has_records,
    })
}

//! The commitlog: the ordered list of segments, the single writer and the published
//! write position.
//!
//! Owns positions, rolling, per-(topic, queue) offset assignment and record framing in
//! segment memory. The append critical section is encode + copy + CRC + counters only:
//! it must not do I/O per message, touch consume queues or the index (the dispatcher does),
//! or allocate per message.

use crate::error::StoreError;
use crate::message::{Appended, Message};
use crate::preallocate::Preallocator;
use crate::record::{self, DecodeError, Decoded, HEADER_LEN, RecordView};
use crate::segment::{Segment, SegmentWriter};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Next queue offset per topic, then per queue.
pub(crate) type QueueOffsets = HashMap<String, HashMap<u32, u64>>;

/// State only the writer touches, behind one lock.
#[derive(Debug)]
struct Writer {
    active: SegmentWriter,
    /// Position the next record goes to.
    position: u64,
    offsets: QueueOffsets,
    closed: bool,
}

/// The segmented commitlog.
#[derive(Debug)]
pub(crate) struct CommitLog {
    segment_size: u64,
    segments: RwLock<Vec<Arc<Segment>>>,
    writer: Mutex<Writer>,
    /// Published write position: every byte below it is readable (Release/Acquire).
    write_pos: AtomicU64,
    /// Oldest stored position (base of the first segment).
    min_pos: AtomicU64,
    prealloc: Arc<Preallocator>,
}

/// Why [`scan`] stopped.
#[derive(Debug)]
pub(crate) enum ScanStop {
    /// Reached the requested limit.
    Limit,
    /// Reached zeros or the end of the last segment.
    EndOfData,
    /// Found bytes that are not a valid record.
    Invalid(DecodeError),
    /// The visitor failed on the record at the stop position.
    Visitor(StoreError),
}

/// The segment holding `position`, if any.
pub(crate) fn segment_at(segments: &[Arc<Segment>], position: u64) -> Option<&Arc<Segment>> {
    let after = segments.partition_point(|s| s.base() <= position);
    let segment = segments.get(after.checked_sub(1)?)?;
    (position < segment.end()).then_some(segment)
}

/// Visits the message records from `from` up to `limit`, skipping padding and segment
/// tails. Returns where it stopped and why; the stop position is a record boundary.
pub(crate) fn scan(
    segments: &[Arc<Segment>],
    from: u64,
    limit: u64,
    mut visit: impl FnMut(u64, &RecordView<'_>) -> Result<(), StoreError>,
) -> (u64, ScanStop) {
    let mut pos = from;
    loop {
        if pos >= limit {
            return (pos, ScanStop::Limit);
        }
        let Some(segment) = segment_at(segments, pos) else {
            return (pos, ScanStop::EndOfData);
        };
        let offset = pos - segment.base();
        if segment.len() - offset < HEADER_LEN as u64 {
            pos = segment.end();
            continue;
        }
        let Some(bytes) = segment.read_from(offset) else {
            return (pos, ScanStop::EndOfData);
        };
        match record::decode(bytes) {
            Ok(Decoded::Padding { len }) => {
                if u64::from(len) != segment.len() - offset {
                    return (pos, ScanStop::Invalid(DecodeError::Length(len)));
                }
                pos = segment.end();
            }
            Ok(Decoded::Message(view)) => {
                if let Err(e) = visit(pos, &view) {
                    return (pos, ScanStop::Visitor(e));
                }
                pos += u64::from(view.total_len);
            }
            Err(DecodeError::Zero) => return (pos, ScanStop::EndOfData),
            Err(e) => return (pos, ScanStop::Invalid(e)),
        }
    }
}

impl CommitLog {
    /// A commitlog over recovered `segments` (non-empty, contiguous), writing at `end`.
    pub(crate) fn new(
        segment_size: u64,
        segments: Vec<Arc<Segment>>,
        end: u64,
        offsets: QueueOffsets,
        prealloc: Arc<Preallocator>,
    ) -> Result<CommitLog, StoreError> {
        let last = segments
            .last()
            .cloned()
            .ok_or_else(|| StoreError::Corrupt("commitlog has no segment".to_owned()))?;
        let min = segments.first().map_or(0, |s| s.base());
        let active = SegmentWriter::new(Arc::clone(&last)).ok_or_else(|| {
            StoreError::Corrupt("last commitlog segment already has a writer".to_owned())
        })?;
        prealloc.request(last.end());
        Ok(CommitLog {
            segment_size,
            segments: RwLock::new(segments),
            writer: Mutex::new(Writer {
                active,
                position: end,
                offsets,
                closed: false,
            }),
            write_pos: AtomicU64::new(end),
            min_pos: AtomicU64::new(min),
            prealloc,
        })
    }

    /// Published write position (Acquire).
    pub(crate) fn write_position(&self) -> u64 {
        self.write_pos.load(Ordering::SeqCst)
    }

    /// Oldest stored position.
    pub(crate) fn min_position(&self) -> u64 {
        self.min_pos.load(Ordering::Acquire)
    }

    /// A snapshot of the segment list.
    pub(crate) fn segments(&self) -> Vec<Arc<Segment>> {
        self.segments.read().clone()
    }

    /// Appends `batch` (whose record sizes were computed by [`record::encoded_len`] into
    /// `sizes`), pushing where each message went onto `out`. Returns the end position.
    ///
    /// The batch is all or nothing: every segment it rolls into is obtained before the
    /// first byte is written, and nothing is published before the last byte is in place.
    /// An error after that point is a bug and is reported as [`StoreError::Corrupt`];
    /// the caller must then poison the store.
    pub(crate) fn append(
        &self,
        topic: &str,
        batch: &[(u32, Message)],
        sizes: &[u32],
        store_ms: i64,
        out: &mut Vec<Appended>,
    ) -> Result<u64, StoreError> {
        let mut guard = self.writer.lock();
        let Writer {
            active,
            position,
            offsets,
            closed,
        } = &mut *guard;
        if *closed {
            return Err(StoreError::Closed);
        }
        // Plan the rolls and obtain their segments; nothing is written yet.
        let mut fresh = Vec::new();
        {
            let mut end = active.segment().end();
            let mut pos = *position;
            for &size in sizes {
                let size = u64::from(size);
                if pos + size > end {
                    // A failure here (EMFILE, ENOSPC, ...) fails this append only:
                    // nothing is written yet, and the next append that rolls tries again.
                    let next = self.prealloc.take(end)?;
                    if size > next.len() {
                        return Err(StoreError::InvalidMessage(format!(
                            "record of {size} bytes does not fit in a segment of {} bytes",
                            next.len()
                        )));
                    }
                    pos = next.base();
                    end = next.end();
                    fresh.push(next);
                }
                pos += size;
            }
        }
        let internal =
            |what: &str| StoreError::Corrupt(format!("internal error while appending: {what}"));
        let topic_offsets = match offsets.get_mut(topic) {
            Some(map) => map,
            None => offsets.entry(topic.to_owned()).or_default(),
        };
        let mut fresh = fresh.into_iter();
        let mut pos = *position;
        let mut wrote = false;
        for ((queue, msg), &size) in batch.iter().zip(sizes) {
            let size = u64::from(size);
            let mut offset = pos - active.segment().base();
            if offset + size > active.segment().len() {
                let rest = active.segment().len() - offset;
                if rest >= HEADER_LEN as u64 {
                    let tail = active
                        .space_mut(offset, rest)
                        .ok_or_else(|| internal("padding"))?;
                    record::write_padding(tail);
                }
                if wrote {
                    active.segment().observe_ms(store_ms);
                }
                let len = active.segment().len();
                active.publish(len);
                let next = fresh
                    .next()
                    .ok_or_else(|| internal("planned segment missing"))?;
                self.segments.write().push(Arc::clone(&next));
                self.prealloc.request(next.end());
                *active =
                    SegmentWriter::new(next).ok_or_else(|| internal("segment writer taken"))?;
                pos = active.segment().base();
                offset = 0;
            }
            let next_offset = topic_offsets.entry(*queue).or_insert(0);
            let buf = active
                .space_mut(offset, size)
                .ok_or_else(|| internal("no space"))?;
            record::encode_into(buf, topic, *queue, *next_offset, store_ms, msg)
                .map_err(|_| internal("record length mismatch"))?;
            out.push(Appended {
                queue: *queue,
                queue_offset: *next_offset,
                position: pos,
                store_ms,
            });
            *next_offset += 1;
            pos += size;
            wrote = true;
        }
        if wrote {
            active.segment().observe_ms(store_ms);
        }
        let offset = pos - active.segment().base();
        active.publish(offset);
        *position = pos;
        // SeqCst: pairs with the dispatcher's check before it sleeps.
        self.write_pos.store(pos, Ordering::SeqCst);
        Ok(pos)
    }

    /// Runs `f` on the message record at `position`.
    pub(crate) fn with_record<R>(
        &self,
        position: u64,
        f: impl FnOnce(&RecordView<'_>) -> R,
    ) -> Result<R, StoreError> {
        let write = self.write_position();
        let min = self.min_position();
        let out_of_range = StoreError::OutOfRange {
            position,
            min,
            write,
        };
        if position < min || position >= write {
            return Err(out_of_range);
        }
        let segment = segment_at(&self.segments.read(), position).cloned();
        let Some(segment) = segment else {
            return Err(out_of_range);
        };
        let bytes = segment
            .read_from(position - segment.base())
            .ok_or(out_of_range)?;
        match record::decode(bytes) {
            Ok(Decoded::Message(view)) => Ok(f(&view)),
            Ok(Decoded::Padding { .. }) => Err(StoreError::Corrupt(format!(
                "no message at position {position}: it is segment padding"
            ))),
            Err(e) => Err(StoreError::Corrupt(format!(
                "no valid record at position {position} (below the write position {write}): {e}"
            ))),
        }
    }

    /// Visits message records from `from` up to `limit` (see [`scan`]).
    pub(crate) fn scan(
        &self,
        from: u64,
        limit: u64,
        visit: impl FnMut(u64, &RecordView<'_>) -> Result<(), StoreError>,
    ) -> (u64, ScanStop) {
        scan(&self.segments(), from, limit, visit)
    }

    /// Forces `[from, to)` to disk.
    pub(crate) fn flush(&self, from: u64, to: u64) -> Result<(), StoreError> {
        for segment in self.segments() {
            let start = from.max(segment.base());
            let end = to.min(segment.end());
            if start < end {
                segment
                    .flush_range(start - segment.base(), end - start)
                    .map_err(|e| StoreError::io("flushing commitlog segment", segment.path(), e))?;
            }
        }
        Ok(())
    }

    /// Removes (from the list, and the files) the segments that end at or before
    /// `position`, never the active one. Readers holding a segment keep it mapped.
    pub(crate) fn remove_before(&self, position: u64) -> Result<usize, StoreError> {
        let removed: Vec<Arc<Segment>> = {
            let mut segments = self.segments.write();
            let keep_from = segments
                .iter()
                .take(segments.len().saturating_sub(1))
                .take_while(|s| s.end() <= position)
                .count();
            let removed = segments.drain(..keep_from).collect();
            if let Some(first) = segments.first() {
                self.min_pos.store(first.base(), Ordering::Release);
            }
            removed
        };
        for segment in &removed {
            remove_file(segment.path())?;
        }
        Ok(removed.len())
    }

    /// Queue offsets per topic and queue, and the write position, under the writer lock.
    pub(crate) fn with_writer<R>(&self, f: impl FnOnce(&mut QueueOffsets, u64) -> R) -> R {
        let mut writer = self.writer.lock();
        let position = writer.position;
        f(&mut writer.offsets, position)
    }

    /// Refuses further appends.
    pub(crate) fn close(&self) {
        self.writer.lock().closed = true;
        self.prealloc.stop();
    }

    /// Default segment size for new segments.
    pub(crate) fn segment_size(&self) -> u64 {
        self.segment_size
    }
}

/// Removes a file, treating "already gone" as success.
pub(crate) fn remove_file(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("deleting", path, e)),
    }
}

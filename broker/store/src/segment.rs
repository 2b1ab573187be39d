//! One commitlog segment: a preallocated, mapped file and the position up to which its
//! bytes are published to readers.
//!
//! Owns the rule that makes lock-free reads sound: bytes below `published` are never
//! written again, and bytes at or above it are only touched through the single
//! [`SegmentWriter`]. Readers get slices only below `published` (Acquire); the writer
//! publishes with Release after the bytes are in place. It must not interpret records.
#![allow(unsafe_code)]

use crate::mmap::MappedFile;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Bytes zeroed per step when the filesystem cannot deallocate a range.
const ZERO_CHUNK: usize = 64 * 1024;

/// A commitlog segment.
#[derive(Debug)]
pub(crate) struct Segment {
    file: MappedFile,
    base: u64,
    /// Bytes from the start of the segment that readers may read.
    published: AtomicU64,
    /// `store_ms` of the newest record, `i64::MIN` if none is known.
    newest_ms: AtomicI64,
    /// Whether a [`SegmentWriter`] was ever handed out.
    writer_taken: AtomicBool,
}

/// File name of the segment starting at `base`.
pub(crate) fn file_name(base: u64) -> String {
    format!("{base:020}")
}

/// Path of the segment starting at `base` in `dir`.
pub(crate) fn path(dir: &Path, base: u64) -> PathBuf {
    dir.join(file_name(base))
}

impl Segment {
    /// Creates an empty segment of `size` bytes at `base`.
    pub(crate) fn create(dir: &Path, base: u64, size: u64, populate: bool) -> io::Result<Segment> {
        Ok(Segment {
            file: MappedFile::create(&path(dir, base), size, populate)?,
            base,
            published: AtomicU64::new(0),
            newest_ms: AtomicI64::new(i64::MIN),
            writer_taken: AtomicBool::new(false),
        })
    }

    /// Opens an existing segment; all of it is readable until recovery truncates it.
    pub(crate) fn open(path: &Path, base: u64) -> io::Result<Segment> {
        let file = MappedFile::open(path)?;
        let len = file.len() as u64;
        Ok(Segment {
            file,
            base,
            published: AtomicU64::new(len),
            newest_ms: AtomicI64::new(i64::MIN),
            writer_taken: AtomicBool::new(false),
        })
    }

    /// Position of the segment's first byte.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Size of the segment in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.file.len() as u64
    }

    /// Position just past the segment.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.len()
    }

    /// Path of the segment file.
    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    /// Published bytes from the start of the segment.
    pub(crate) fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    /// `store_ms` of the newest record, `i64::MIN` if none is known.
    pub(crate) fn newest_ms(&self) -> i64 {
        self.newest_ms.load(Ordering::Relaxed)
    }

    /// Records that a record with `store_ms` is in this segment.
    pub(crate) fn observe_ms(&self, store_ms: i64) {
        self.newest_ms.fetch_max(store_ms, Ordering::Relaxed);
    }

    /// The published bytes from `offset` (relative to the segment) on, or `None` if
    /// `offset` is past the published end.
    pub(crate) fn read_from(&self, offset: u64) -> Option<&[u8]> {
        let published = self.published();
        let len = published.checked_sub(offset)?;
        // SAFETY: bytes below `published` (Acquire, pairing with the writer's Release) are
        // in place and never written again while the segment is shared: the only writer
        // writes at or above `published`, and `truncate` needs `&mut self`.
        unsafe {
            self.file
                .bytes(usize::try_from(offset).ok()?, usize::try_from(len).ok()?)
        }
    }

    /// Forces `[offset, offset + len)` to disk.
    pub(crate) fn flush_range(&self, offset: u64, len: u64) -> io::Result<()> {
        let offset = usize::try_from(offset).map_err(io::Error::other)?;
        let len = usize::try_from(len).map_err(io::Error::other)?;
        self.file.flush_range(offset, len)
    }

    /// Recovery only: zeroes everything from `offset` on, on disk, and makes it the
    /// published end. `&mut self` proves no reader or writer holds the segment.
    pub(crate) fn truncate(&mut self, offset: u64) -> io::Result<()> {
        let len = self.len();
        let offset = offset.min(len);
        let to_page = offset.next_multiple_of(4096).min(len);
        self.zero_by_hand(offset, to_page)?;
        if !self.file.zero_range_on_disk(to_page, len - to_page)? {
            self.zero_by_hand(to_page, len)?;
        }
        self.file.flush_range(
            usize::try_from(offset).map_err(io::Error::other)?,
            usize::try_from(len - offset).map_err(io::Error::other)?,
        )?;
        self.published.store(offset, Ordering::Release);
        Ok(())
    }

    fn zero_by_hand(&mut self, from: u64, to: u64) -> io::Result<()> {
        let mut at = usize::try_from(from).map_err(io::Error::other)?;
        let to = usize::try_from(to).map_err(io::Error::other)?;
        while at < to {
            let n = (to - at).min(ZERO_CHUNK);
            // SAFETY: `&mut self` guarantees no other access to the segment's bytes.
            if let Some(chunk) = unsafe { self.file.bytes_mut(at, n) } {
                // Only dirty pages that are not already zero.
                if chunk.iter().any(|&b| b != 0) {
                    chunk.fill(0);
                }
            }
            at += n;
        }
        Ok(())
    }
}

/// The one handle allowed to write a segment's unpublished bytes.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    segment: Arc<Segment>,
}

impl SegmentWriter {
    /// The writer of `segment`, or `None` if one was already handed out.
    pub(crate) fn new(segment: Arc<Segment>) -> Option<SegmentWriter> {
        if segment.writer_taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(SegmentWriter { segment })
    }

    /// The segment being written.
    pub(crate) fn segment(&self) -> &Arc<Segment> {
        &self.segment
    }

    /// Unpublished bytes `[offset, offset + len)` to write into, or `None` if the range is
    /// not wholly unpublished and in bounds.
    pub(crate) fn space_mut(&mut self, offset: u64, len: u64) -> Option<&mut [u8]> {
        if offset < self.segment.published.load(Ordering::Relaxed) {
            return None;
        }
        let offset = usize::try_from(offset).ok()?;
        let len = usize::try_from(len).ok()?;
        // SAFETY: the range is at or above `published`, which readers never cross, and
        // this writer is unique (`writer_taken`) and borrowed mutably, so nothing else
        // touches these bytes while the slice lives.
        unsafe { self.segment.file.bytes_mut(offset, len) }
    }

    /// Makes the bytes below `offset` readable. Never moves backwards.
    pub(crate) fn publish(&mut self, offset: u64) {
        self.segment.published.fetch_max(offset, Ordering::Release);
    }
}

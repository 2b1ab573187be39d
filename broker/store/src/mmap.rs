//! Memory-mapped, preallocated files: the one place that turns a file into raw memory.
//!
//! Owns creating (with real block allocation), mapping, flushing and word-sized atomic
//! access. Two disciplines are offered and a file must stick to one of them:
//!
//! - **words** ([`MappedFile::load_u64`] and friends): every access is atomic, so any
//!   number of threads may read and write concurrently. Used by consume queues and the
//!   index.
//! - **bytes** ([`MappedFile::bytes`], [`MappedFile::bytes_mut`]): plain slices whose
//!   callers guarantee that a range being written is never read at the same time. Used
//!   only by [`segment`](crate::segment), which enforces it with a published position.
//!
//! It must not interpret the contents.
#![allow(unsafe_code)]

use memmap2::{MmapOptions, MmapRaw};
use rustix::fs::FallocateFlags;
use rustix::io::Errno;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A file mapped read-write into memory (`MAP_SHARED`) for its whole length.
#[derive(Debug)]
pub(crate) struct MappedFile {
    path: PathBuf,
    file: File,
    map: MmapRaw,
}

impl MappedFile {
    /// Creates (or empties) `path`, allocates `len` bytes of disk blocks for it and maps it.
    ///
    /// Blocks are allocated with `fallocate` rather than by extending the file, so that a
    /// write through the mapping can never fault (SIGBUS) on a full disk. `populate`
    /// pre-faults the pages so that first writes do not stall.
    ///
    /// If allocating or mapping fails (`ENOSPC`, `ENOMEM`), the half-made file is removed,
    /// so that a retry starts clean and recovery never finds a short file.
    pub(crate) fn create(path: &Path, len: u64, populate: bool) -> io::Result<MappedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        let allocated = match rustix::fs::fallocate(&file, FallocateFlags::empty(), 0, len) {
            Ok(()) => Ok(()),
            // Filesystems without fallocate (some network or overlay filesystems) still
            // work, without the SIGBUS protection.
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS => file.set_len(len),
            Err(e) => Err(e.into()),
        };
        let mapped = allocated.and_then(|()| Self::map(path, file, populate));
        if mapped.is_err() {
            let _ = std::fs::remove_file(path);
        }
        mapped
    }

    /// Maps an existing file for its current length.
    pub(crate) fn open(path: &Path) -> io::Result<MappedFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Self::map(path, file, false)
    }

    fn map(path: &Path, file: File, populate: bool) -> io::Result<MappedFile> {
        if file.metadata()?.len() == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty file"));
        }
        let mut options = MmapOptions::new();
        if populate {
            options.populate();
        }
        let map = options.map_raw(&file)?;
        Ok(MappedFile {
            path: path.to_owned(),
            file,
            map,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Mapped length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Writes dirty pages of `[offset, offset + len)` to disk and waits (`msync(MS_SYNC)`).
    pub(crate) fn flush_range(&self, offset: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        self.map.flush_range(offset, len)
    }

    /// Writes every dirty page to disk and waits.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }

    /// Zeroes `[offset, len)` on disk and in memory by deallocating it with
    /// `FALLOC_FL_ZERO_RANGE` where the filesystem supports it (cheap for large, mostly
    /// untouched tails). Returns `false` if it does not; the caller must zero by hand.
    pub(crate) fn zero_range_on_disk(&self, offset: u64, len: u64) -> io::Result<bool> {
        if len == 0 {
            return Ok(true);
        }
        let flags = FallocateFlags::ZERO_RANGE | FallocateFlags::KEEP_SIZE;
        match rustix::fs::fallocate(&self.file, flags, offset, len) {
            Ok(()) => Ok(true),
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Pointer to an in-bounds, `align`-aligned word of `size` bytes at `offset`.
    fn word(&self, offset: usize, size: usize) -> Option<*mut u8> {
        let end = offset.checked_add(size)?;
        if !offset.is_multiple_of(size) || end > self.map.len() {
            return None;
        }
        // The mapping starts on a page boundary, so an offset aligned to `size` gives a
        // pointer aligned to `size`.
        Some(self.map.as_mut_ptr().wrapping_add(offset))
    }

    /// Atomically loads the little-endian `u64` at `offset` (Acquire). `None` if the
    /// offset is out of bounds or not 8-aligned.
    pub(crate) fn load_u64(&self, offset: usize) -> Option<u64> {
        let ptr = self.word(offset, 8)?;
        // SAFETY: `ptr` is in bounds and 8-aligned (checked by `word`), the mapping lives as
        // long as `self`, and files using the word discipline are only ever accessed
        // through atomics by this process, so there is no racing non-atomic access.
        let atomic = unsafe { AtomicU64::from_ptr(ptr.cast()) };
        Some(u64::from_le(atomic.load(Ordering::Acquire)))
    }

    /// Atomically stores `value` as little-endian at `offset` (Release). Returns `false`
    /// if the offset is out of bounds or not 8-aligned.
    pub(crate) fn store_u64(&self, offset: usize, value: u64) -> bool {
        let Some(ptr) = self.word(offset, 8) else {
            return false;
        };
        // SAFETY: as in `load_u64`.
        let atomic = unsafe { AtomicU64::from_ptr(ptr.cast()) };
        atomic.store(value.to_le(), Ordering::Release);
        true
    }

    /// Atomically loads the little-endian `u32` at `offset` (Acquire).
    pub(crate) fn load_u32(&self, offset: usize) -> Option<u32> {
        let ptr = self.word(offset, 4)?;
        // SAFETY: as in `load_u64`, with 4-byte alignment.
        let atomic = unsafe { AtomicU32::from_ptr(ptr.cast()) };
        Some(u32::from_le(atomic.load(Ordering::Acquire)))
    }

    /// Atomically stores `value` as little-endian at `offset` (Release).
    pub(crate) fn store_u32(&self, offset: usize, value: u32) -> bool {
        let Some(ptr) = self.word(offset, 4) else {
            return false;
        };
        // SAFETY: as in `load_u64`, with 4-byte alignment.
        let atomic = unsafe { AtomicU32::from_ptr(ptr.cast()) };
        atomic.store(value.to_le(), Ordering::Release);
        true
    }

    /// The bytes `[offset, offset + len)`, or `None` if out of bounds.
    ///
    /// # Safety
    ///
    /// No one may write to the range while the returned slice lives (bytes discipline).
    pub(crate) unsafe fn bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.map.len() {
            return None;
        }
        // SAFETY: the range is in bounds of a mapping that lives as long as `self`; the
        // caller guarantees that nothing writes it meanwhile.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(offset), len) })
    }

    /// The bytes `[offset, offset + len)` for writing, or `None` if out of bounds.
    ///
    /// # Safety
    ///
    /// No one else may read or write the range while the returned slice lives.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn bytes_mut(&self, offset: usize, len: usize) -> Option<&mut [u8]> {
        let end = offset.checked_add(len)?;
        if end > self.map.len() {
            return None;
        }
        // SAFETY: the range is in bounds of a writable mapping that lives as long as
        // `self`; the caller guarantees exclusive access to it.
        Some(unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(offset), len) })
    }
}

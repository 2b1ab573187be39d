//! The message index: find records by message id or by (topic, key), RocketMQ IndexFile
//! style.
//!
//! Owns the files in `dir/index/`. Each file is a hash table of chains:
//!
//! ```text
//! header  64 bytes: magic u32 "WIDX", version u32, slots u32, capacity u32,
//!                   count u32, reserved u32, first_position u64, last_position u64,
//!                   crc32c u32 of bytes 0..16, reserved to 64
//! slots   slots × u32: number (1-based) of the newest entry whose hash lands here, 0 = none
//! entries capacity × 16 bytes, from the next 8-byte boundary:
//!         position u64, hash u32, prev u32 (number of the previous entry in the chain, 0 = none)
//! ```
//!
//! Entries are hints, not facts: a lookup must read the record and compare, which filters
//! hash collisions, duplicates from re-dispatch and entries left behind by truncation.
//! The index must not read the commitlog itself; the dispatcher feeds it and the store
//! checks candidates.

use crate::commitlog::remove_file;
use crate::consume_queue::name_number;
use crate::error::{CreateContext, IoContext, StoreError};
use crate::faults::{FaultPoint, Faults, FileKind};
use crate::mmap::MappedFile;
use parking_lot::RwLock;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const MAGIC: u32 = u32::from_le_bytes(*b"WIDX");
const VERSION: u32 = 1;
const HEADER_LEN: usize = 64;
const ENTRY_LEN: usize = 16;
const COUNT_AT: usize = 16;
const FIRST_AT: usize = 24;
const LAST_AT: usize = 32;
const CRC_AT: usize = 40;

/// Hash of an index entry for `key` of `topic`.
pub(crate) fn key_hash(topic: &str, key: &str) -> u32 {
    let h = crc32c::crc32c(topic.as_bytes());
    let h = crc32c::crc32c_append(h, b"\x01");
    crc32c::crc32c_append(h, key.as_bytes())
}

/// Hash of an index entry for the dedup key `key` of `topic` (see
/// [`DEDUP_KEY_PROPERTY`](crate::DEDUP_KEY_PROPERTY)).
pub(crate) fn dedup_hash(topic: &str, key: &str) -> u32 {
    let h = crc32c::crc32c(topic.as_bytes());
    let h = crc32c::crc32c_append(h, b"\x03");
    crc32c::crc32c_append(h, key.as_bytes())
}

/// Hash of an index entry for message `id`.
pub(crate) fn id_hash(id: &str) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(b"\x02"), id.as_bytes())
}

#[derive(Debug)]
struct IndexFile {
    map: MappedFile,
    slots: u32,
    capacity: u32,
    entries_at: usize,
    dirty: AtomicBool,
}

fn header_crc(magic: u32, version: u32, slots: u32, capacity: u32) -> u32 {
    let mut bytes = [0u8; 16];
    for (chunk, v) in bytes
        .chunks_exact_mut(4)
        .zip([magic, version, slots, capacity])
    {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    crc32c::crc32c(&bytes)
}

fn layout(slots: u32, capacity: u32) -> (usize, u64) {
    let entries_at = (HEADER_LEN + slots as usize * 4).next_multiple_of(8);
    (
        entries_at,
        (entries_at + capacity as usize * ENTRY_LEN) as u64,
    )
}

impl IndexFile {
    fn create(
        dir: &Path,
        first: u64,
        slots: u32,
        capacity: u32,
        faults: &Faults,
    ) -> Result<IndexFile, StoreError> {
        let path = dir.join(format!("{first:020}"));
        let (entries_at, len) = layout(slots, capacity);
        let map = faults
            .check(FaultPoint::IndexCreate)
            .and_then(|()| MappedFile::create(&path, len, false))
            .creating("creating index file", &path)?;
        map.store_u32(0, MAGIC);
        map.store_u32(4, VERSION);
        map.store_u32(8, slots);
        map.store_u32(12, capacity);
        map.store_u64(FIRST_AT, first);
        map.store_u64(LAST_AT, first);
        map.store_u32(CRC_AT, header_crc(MAGIC, VERSION, slots, capacity));
        Ok(IndexFile {
            map,
            slots,
            capacity,
            entries_at,
            dirty: AtomicBool::new(true),
        })
    }

    fn open(path: &Path) -> Result<IndexFile, String> {
        let map = MappedFile::open(path).map_err(|e| e.to_string())?;
        let word = |at| map.load_u32(at).unwrap_or(0);
        let (magic, version, slots, capacity) = (word(0), word(4), word(8), word(12));
        if magic != MAGIC
            || version != VERSION
            || word(CRC_AT) != header_crc(magic, version, slots, capacity)
        {
            return Err("bad header".to_owned());
        }
        let (entries_at, len) = layout(slots, capacity);
        if map.len() as u64 != len || slots == 0 || word(COUNT_AT) > capacity {
            return Err("size does not match header".to_owned());
        }
        Ok(IndexFile {
            map,
            slots,
            capacity,
            entries_at,
            dirty: AtomicBool::new(false),
        })
    }

    fn count(&self) -> u32 {
        self.map.load_u32(COUNT_AT).unwrap_or(0)
    }

    fn last_position(&self) -> u64 {
        self.map.load_u64(LAST_AT).unwrap_or(0)
    }

    fn slot_at(&self, hash: u32) -> usize {
        HEADER_LEN + (hash % self.slots) as usize * 4
    }

    fn entry_at(&self, number: u32) -> usize {
        self.entries_at + (number as usize).saturating_sub(1) * ENTRY_LEN
    }

    /// Adds an entry; `false` if the file is full.
    fn put(&self, hash: u32, position: u64) -> bool {
        let count = self.count();
        if count >= self.capacity {
            return false;
        }
        let number = count + 1;
        let slot = self.slot_at(hash);
        let prev = self.map.load_u32(slot).unwrap_or(0);
        let at = self.entry_at(number);
        self.map.store_u64(at, position);
        self.map.store_u32(at + 8, hash);
        self.map.store_u32(at + 12, prev);
        // Release: a reader that sees the slot or the count sees the entry.
        self.map.store_u32(slot, number);
        self.map.store_u32(COUNT_AT, number);
        if position > self.last_position() {
            self.map.store_u64(LAST_AT, position);
        }
        self.dirty.store(true, Ordering::Release);
        true
    }

    /// Calls `f` with the position of each entry of `hash`, newest first, until it
    /// returns `false`. Returns `false` if `f` did.
    fn walk(&self, hash: u32, f: &mut impl FnMut(u64) -> bool) -> bool {
        let count = self.count();
        let mut number = self.map.load_u32(self.slot_at(hash)).unwrap_or(0);
        let mut bound = count.saturating_add(1);
        // Chains only point backwards; anything else is damage and ends the walk.
        while number != 0 && number < bound {
            let at = self.entry_at(number);
            let (Some(position), Some(h), Some(prev)) = (
                self.map.load_u64(at),
                self.map.load_u32(at + 8),
                self.map.load_u32(at + 12),
            ) else {
                return true;
            };
            if h == hash && !f(position) {
                return false;
            }
            bound = number;
            number = prev;
        }
        true
    }

    /// Recovery: repoints slots that name entries past `count` (written, but not counted,
    /// before a crash) to the newest counted entry of their chain.
    fn repair(&self) {
        let count = self.count();
        for slot in 0..self.slots {
            let at = HEADER_LEN + slot as usize * 4;
            let mut number = self.map.load_u32(at).unwrap_or(0);
            let start = number;
            while number > count {
                let prev = self.map.load_u32(self.entry_at(number) + 12).unwrap_or(0);
                number = if prev < number { prev } else { 0 };
            }
            if number != start {
                self.map.store_u32(at, number);
                self.dirty.store(true, Ordering::Release);
            }
        }
    }
}

/// All index files, oldest first; the last one takes new entries.
#[derive(Debug)]
pub(crate) struct Index {
    dir: PathBuf,
    faults: Arc<Faults>,
    slots: u32,
    capacity: u32,
    files: RwLock<Vec<Arc<IndexFile>>>,
}

impl Index {
    /// Loads the index files in `dir`. If any is damaged, all are deleted and `true` is
    /// returned: the caller must rebuild the index from the commitlog.
    pub(crate) fn load(
        dir: &Path,
        slots: u32,
        capacity: u32,
        faults: Arc<Faults>,
    ) -> Result<(Index, bool), StoreError> {
        std::fs::create_dir_all(dir).context("creating index directory", dir)?;
        let mut paths: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
            .context("listing", dir)?
            .flatten()
            .filter_map(|e| Some((name_number(&e.path())?, e.path())))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        let mut damaged = false;
        for (_, path) in &paths {
            match IndexFile::open(path) {
                Ok(file) => files.push(Arc::new(file)),
                Err(problem) => {
                    tracing::warn!(path = %path.display(), %problem, "index file damaged; rebuilding the index from the commitlog");
                    damaged = true;
                }
            }
        }
        if damaged {
            files.clear();
            for (_, path) in &paths {
                remove_file(path)?;
            }
        }
        if let Some(last) = files.last() {
            last.repair();
        }
        let index = Index {
            dir: dir.to_owned(),
            faults,
            slots: slots.max(1),
            capacity: capacity.max(1),
            files: RwLock::new(files),
        };
        Ok((index, damaged))
    }

    /// Whether there are no index files.
    pub(crate) fn is_empty(&self) -> bool {
        self.files.read().is_empty()
    }

    /// Adds an entry for the record at `position` (the dispatcher and recovery are the only
    /// writers).
    pub(crate) fn put(&self, hash: u32, position: u64) -> Result<(), StoreError> {
        let last = self.files.read().last().cloned();
        if let Some(file) = last
            && file.put(hash, position)
        {
            return Ok(());
        }
        // A failure here (EMFILE, ENOSPC, ...) is transient: the dispatcher retries the
        // record; entries already added for it are duplicates, filtered at lookup.
        let file = Arc::new(IndexFile::create(
            &self.dir,
            position,
            self.slots,
            self.capacity,
            &self.faults,
        )?);
        file.put(hash, position);
        self.files.write().push(file);
        Ok(())
    }

    /// Calls `f` with candidate positions for `hash`, newest first, until it returns false.
    pub(crate) fn walk(&self, hash: u32, mut f: impl FnMut(u64) -> bool) {
        let files = self.files.read().clone();
        for file in files.iter().rev() {
            if !file.walk(hash, &mut f) {
                return;
            }
        }
    }

    /// Deletes files whose newest position is below `min_position`, never the last one.
    pub(crate) fn remove_before(&self, min_position: u64) -> Result<usize, StoreError> {
        let removed: Vec<Arc<IndexFile>> = {
            let mut files = self.files.write();
            let n = files
                .iter()
                .take(files.len().saturating_sub(1))
                .take_while(|f| f.last_position() < min_position)
                .count();
            files.drain(..n).collect()
        };
        for file in &removed {
            remove_file(file.map.path())?;
        }
        Ok(removed.len())
    }

    /// Forces written entries to disk.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        let files = self.files.read().clone();
        for file in files {
            if file.dirty.swap(false, Ordering::AcqRel) {
                self.faults
                    .check(FaultPoint::Fsync(FileKind::Index))
                    .and_then(|()| file.map.flush())
                    .context("flushing index file", file.map.path())?;
            }
        }
        Ok(())
    }

    /// Bytes of disk the index files take.
    pub(crate) fn disk_bytes(&self) -> u64 {
        self.files.read().iter().map(|f| f.map.len() as u64).sum()
    }
}

//! Consume queues: per (topic, queue), a dense array of fixed-size entries pointing into
//! the commitlog, so that a consumer reads a queue by offset without scanning.
//!
//! Owns the queue files under `dir/queues/{topic}/{queue}/` and each queue's offset range.
//! Entry `n` lives at index `n`, so writing an entry twice is harmless and the files can
//! always be rebuilt from the commitlog. It must not read the commitlog itself; the
//! dispatcher feeds it.

use crate::commitlog::{QueueOffsets, remove_file};
use crate::error::{CreateContext, IoContext, StoreError};
use crate::faults::{FaultPoint, Faults, FileKind};
use crate::message::QueueRange;
use crate::mmap::MappedFile;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bytes per entry: `position u64, size u32, tag_hash u32, store_ms i64`, little-endian.
/// An entry with size 0 is absent.
pub(crate) const ENTRY_LEN: usize = 24;

/// One consume queue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueEntry {
    /// Commitlog position of the record.
    pub(crate) position: u64,
    /// Record size (never 0 for a present entry).
    pub(crate) size: u32,
    /// Hash of the tag, 0 for none.
    pub(crate) tag_hash: u32,
    /// Store time of the record.
    pub(crate) store_ms: i64,
}

/// Checks that a topic name is safe as a directory name.
pub(crate) fn validate_topic(topic: &str) -> Result<(), StoreError> {
    let ok = !topic.is_empty()
        && topic != "."
        && topic != ".."
        && topic.len() <= crate::record::MAX_TOPIC_LEN
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'%' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidMessage(format!(
            "topic name {topic:?} must be 1 to 255 characters of [A-Za-z0-9_%.-], not . or .."
        )))
    }
}

#[derive(Debug)]
struct QueueFile {
    first: u64,
    map: MappedFile,
    dirty: AtomicBool,
}

impl QueueFile {
    fn entry(&self, offset: u64) -> Option<QueueEntry> {
        let at = usize::try_from(offset.checked_sub(self.first)?).ok()? * ENTRY_LEN;
        let size = self.map.load_u32(at + 8)?;
        if size == 0 {
            return None;
        }
        Some(QueueEntry {
            position: self.map.load_u64(at)?,
            size,
            tag_hash: self.map.load_u32(at + 12)?,
            store_ms: self.map.load_u64(at + 16)? as i64,
        })
    }
}

/// One (topic, queue).
#[derive(Debug)]
pub(crate) struct ConsumeQueue {
    dir: PathBuf,
    per_file: u64,
    faults: Arc<Faults>,
    files: RwLock<Vec<Arc<QueueFile>>>,
    min: AtomicU64,
    max: AtomicU64,
}

impl ConsumeQueue {
    fn empty(dir: PathBuf, per_file: u64, faults: Arc<Faults>) -> ConsumeQueue {
        ConsumeQueue {
            dir,
            per_file,
            faults,
            files: RwLock::new(Vec::new()),
            min: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Loads the queue in `dir`. `Err` means the files are damaged and the queue must be
    /// rebuilt.
    fn load(dir: PathBuf, per_file: u64, faults: Arc<Faults>) -> Result<ConsumeQueue, String> {
        let file_len = per_file * ENTRY_LEN as u64;
        let mut files = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(first) = name_number(&path) else {
                continue;
            };
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if first % per_file != 0 || len != file_len {
                return Err(format!(
                    "{}: unexpected name or length {len}",
                    path.display()
                ));
            }
            let map = MappedFile::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            files.push(Arc::new(QueueFile {
                first,
                map,
                dirty: AtomicBool::new(false),
            }));
        }
        files.sort_by_key(|f| f.first);
        if files
            .windows(2)
            .any(|w| matches!(w, [a, b] if b.first != a.first + per_file))
        {
            return Err(format!("{}: files are not contiguous", dir.display()));
        }
        let queue = ConsumeQueue::empty(dir, per_file, faults);
        let (Some(first), Some(last)) = (files.first(), files.last()) else {
            return Ok(queue);
        };
        let max = (0..per_file)
            .rev()
            .find(|i| last.entry(last.first + i).is_some())
            .map_or(last.first, |i| last.first + i + 1);
        let min = (0..per_file)
            .find(|i| first.entry(first.first + i).is_some())
            .map_or(max, |i| first.first + i)
            .min(max);
        queue.min.store(min, Ordering::Release);
        queue.max.store(max, Ordering::Release);
        *queue.files.write() = files;
        Ok(queue)
    }

    /// Offsets held.
    pub(crate) fn range(&self) -> QueueRange {
        QueueRange {
            min: self.min.load(Ordering::Acquire),
            max: self.max.load(Ordering::Acquire),
        }
    }

    fn file_for(&self, offset: u64) -> Option<Arc<QueueFile>> {
        let files = self.files.read();
        let first = files.first()?.first;
        let index = usize::try_from((offset.checked_sub(first)?) / self.per_file).ok()?;
        files.get(index).cloned()
    }

    /// The entry at `offset`, if it is in range and present.
    pub(crate) fn get(&self, offset: u64) -> Option<QueueEntry> {
        let range = self.range();
        if offset < range.min || offset >= range.max {
            return None;
        }
        self.file_for(offset)?.entry(offset)
    }

    /// Writes the entry at `offset` (the dispatcher and recovery are the only writers).
    pub(crate) fn put(&self, offset: u64, entry: QueueEntry) -> Result<(), StoreError> {
        let file = match self.file_for(offset) {
            Some(file) => file,
            None => self.create_file(offset - offset % self.per_file)?,
        };
        let at = usize::try_from(offset - file.first).unwrap_or(usize::MAX) * ENTRY_LEN;
        let written = file.map.store_u64(at, entry.position)
            && file.map.store_u32(at + 12, entry.tag_hash)
            && file.map.store_u64(at + 16, entry.store_ms as u64)
            && file.map.store_u32(at + 8, entry.size);
        if !written {
            return Err(StoreError::Corrupt(format!(
                "queue offset {offset} outside file {}",
                file.map.path().display()
            )));
        }
        file.dirty.store(true, Ordering::Release);
        let range = self.range();
        if range.min == range.max && offset > range.max {
            // First entry of a queue that starts above its files' beginning (rebuilt
            // after retention), or of a fresh queue.
            self.min.store(offset, Ordering::Release);
        }
        self.max.fetch_max(offset + 1, Ordering::AcqRel);
        Ok(())
    }

    fn create_file(&self, first: u64) -> Result<Arc<QueueFile>, StoreError> {
        let mut files = self.files.write();
        let contiguous = files
            .last()
            .is_none_or(|last| first == last.first + self.per_file);
        if !contiguous {
            // Entries before `first` are gone (a rebuild starting late, or a reset);
            // start over at `first`.
            for file in files.drain(..) {
                remove_file(file.map.path())?;
            }
        }
        // A failure here (EMFILE, ENOSPC, ...) is transient: the dispatcher retries the
        // record, and nothing before it is lost.
        let path = self.dir.join(format!("{first:020}"));
        self.faults
            .check(FaultPoint::QueueCreate)
            .and_then(|()| std::fs::create_dir_all(&self.dir))
            .creating("creating queue directory", &self.dir)?;
        let map = MappedFile::create(&path, self.per_file * ENTRY_LEN as u64, false)
            .creating("creating consume queue file", &path)?;
        let file = Arc::new(QueueFile {
            first,
            map,
            dirty: AtomicBool::new(true),
        });
        files.push(Arc::clone(&file));
        Ok(file)
    }

    /// Recovery: drops entries pointing at or past `end` (the recovered commitlog end).
    pub(crate) fn truncate_at_position(&self, end: u64) {
        let mut max = self.max.load(Ordering::Acquire);
        let min = self.min.load(Ordering::Acquire);
        while max > min {
            let Some(file) = self.file_for(max - 1) else {
                break;
            };
            match file.entry(max - 1) {
                Some(entry) if entry.position < end => break,
                _ => {
                    let at =
                        usize::try_from(max - 1 - file.first).unwrap_or(usize::MAX) * ENTRY_LEN;
                    file.map.store_u32(at + 8, 0);
                    file.map.store_u64(at, 0);
                    file.dirty.store(true, Ordering::Release);
                    max -= 1;
                }
            }
        }
        self.max.store(max, Ordering::Release);
    }

    /// First offset at or after `from` whose entry is present and points at a stored
    /// record (position ≥ `min_position`), or `max`.
    fn first_stored(&self, from: u64, min_position: u64) -> u64 {
        // Entries are dense and ordered by position, and absent ones only precede the
        // first: a binary search finds the boundary.
        let (mut lo, mut hi) = (from, self.max.load(Ordering::Acquire));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let below = self
                .file_for(mid)
                .and_then(|f| f.entry(mid))
                .is_none_or(|e| e.position < min_position);
            if below {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Moves `min` up to the first entry whose record is still stored.
    pub(crate) fn advance_min(&self, min_position: u64) {
        let lo = self.first_stored(self.min.load(Ordering::Acquire), min_position);
        self.min.fetch_max(lo, Ordering::AcqRel);
    }

    /// Recovery: sets `min` from the files, after entries may have been written below it.
    pub(crate) fn recompute_min(&self, min_position: u64) {
        let first = self.files.read().first().map_or(0, |f| f.first);
        let lo = self.first_stored(first, min_position);
        self.min.store(lo, Ordering::Release);
    }

    /// Deletes files whose entries are all below `min_offset`, keeping the last file so
    /// that the queue's next offset survives a restart. Returns files deleted.
    pub(crate) fn remove_files_below(&self, min_offset: u64) -> Result<usize, StoreError> {
        let removed: Vec<Arc<QueueFile>> = {
            let mut files = self.files.write();
            let n = files
                .iter()
                .take(files.len().saturating_sub(1))
                .take_while(|f| f.first + self.per_file <= min_offset)
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
                    .check(FaultPoint::Fsync(FileKind::ConsumeQueue))
                    .and_then(|()| file.map.flush())
                    .context("flushing consume queue", file.map.path())?;
            }
        }
        Ok(())
    }

    /// Bytes of disk the queue's files take.
    pub(crate) fn disk_bytes(&self) -> u64 {
        self.files.read().len() as u64 * self.per_file * ENTRY_LEN as u64
    }
}

/// Parses a file name of 20 decimal digits.
pub(crate) fn name_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    if name.len() != 20 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// All consume queues, by topic and queue.
#[derive(Debug)]
pub(crate) struct ConsumeQueues {
    root: PathBuf,
    per_file: u64,
    faults: Arc<Faults>,
    map: RwLock<HashMap<String, HashMap<u32, Arc<ConsumeQueue>>>>,
}

impl ConsumeQueues {
    /// Loads every queue under `root`. Damaged queues are deleted and reported in the
    /// returned list, so that the caller rebuilds them.
    pub(crate) fn load(
        root: &Path,
        per_file: u32,
        faults: Arc<Faults>,
    ) -> Result<(ConsumeQueues, Vec<String>), StoreError> {
        std::fs::create_dir_all(root).context("creating queue directory", root)?;
        let per_file = u64::from(per_file.max(1));
        let mut map: HashMap<String, HashMap<u32, Arc<ConsumeQueue>>> = HashMap::new();
        let mut damaged = Vec::new();
        for topic_dir in std::fs::read_dir(root).context("listing", root)?.flatten() {
            let Some(topic) = topic_dir.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if validate_topic(&topic).is_err() {
                tracing::warn!(path = %topic_dir.path().display(), "ignoring unexpected entry in the queue directory");
                continue;
            }
            let topic_path = topic_dir.path();
            for queue_dir in std::fs::read_dir(&topic_path)
                .context("listing", &topic_path)?
                .flatten()
            {
                let Some(queue) = queue_dir
                    .file_name()
                    .to_str()
                    .and_then(|q| q.parse::<u32>().ok())
                else {
                    continue;
                };
                match ConsumeQueue::load(queue_dir.path(), per_file, Arc::clone(&faults)) {
                    Ok(q) => {
                        map.entry(topic.clone())
                            .or_default()
                            .insert(queue, Arc::new(q));
                    }
                    Err(problem) => {
                        tracing::warn!(%problem, "consume queue damaged; it will be rebuilt from the commitlog");
                        let path = queue_dir.path();
                        std::fs::remove_dir_all(&path).context("deleting damaged queue", &path)?;
                        damaged.push(problem);
                    }
                }
            }
        }
        let queues = ConsumeQueues {
            root: root.to_owned(),
            per_file,
            faults,
            map: RwLock::new(map),
        };
        Ok((queues, damaged))
    }

    /// The queue, if it exists.
    pub(crate) fn get(&self, topic: &str, queue: u32) -> Option<Arc<ConsumeQueue>> {
        self.map.read().get(topic)?.get(&queue).cloned()
    }

    /// The queue, created (empty, in memory) if needed.
    pub(crate) fn get_or_create(&self, topic: &str, queue: u32) -> Arc<ConsumeQueue> {
        if let Some(q) = self.get(topic, queue) {
            return q;
        }
        let mut map = self.map.write();
        let dir = self.root.join(topic).join(queue.to_string());
        let per_file = self.per_file;
        let faults = &self.faults;
        Arc::clone(
            map.entry(topic.to_owned())
                .or_default()
                .entry(queue)
                .or_insert_with(|| {
                    Arc::new(ConsumeQueue::empty(dir, per_file, Arc::clone(faults)))
                }),
        )
    }

    /// Every queue.
    pub(crate) fn all(&self) -> Vec<Arc<ConsumeQueue>> {
        self.map
            .read()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    /// Whether no queue exists.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.read().values().all(HashMap::is_empty)
    }

    /// Next offset of every queue, for the writer.
    pub(crate) fn next_offsets(&self) -> QueueOffsets {
        self.map
            .read()
            .iter()
            .map(|(topic, queues)| {
                let next = queues.iter().map(|(q, cq)| (*q, cq.range().max)).collect();
                (topic.clone(), next)
            })
            .collect()
    }

    /// Drops the topic's queues, in memory and on disk.
    pub(crate) fn remove_topic(&self, topic: &str) -> Result<(), StoreError> {
        self.map.write().remove(topic);
        let path = self.root.join(topic);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("deleting topic queues", &path, e)),
        }
    }
}

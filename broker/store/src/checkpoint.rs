//! The checkpoint: how far the commitlog is known durable and how far the consume
//! queues and index are, so that recovery only re-reads the tail.
//!
//! Owns `dir/checkpoint`, written atomically (temp file, fsync, rename, fsync of the
//! directory). Format, little-endian, with a CRC32C over everything before it:
//!
//! ```text
//! magic u32 "WCKP", version u32, flushed u64, dispatched u64,
//! segment count u32, then per segment: base u64, newest store_ms i64,
//! crc32c u32
//! ```
//!
//! It must not decide what recovery does with these values.

use crate::error::{CreateContext, IoContext, StoreError};
use crate::faults::{FaultPoint, Faults, FileKind};
use std::io::Write;
use std::path::Path;

const MAGIC: u32 = u32::from_le_bytes(*b"WCKP");
const VERSION: u32 = 1;
const FILE: &str = "checkpoint";
const TEMP: &str = "checkpoint.tmp";

/// Durable progress of the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// The commitlog is fsynced below this position.
    pub(crate) flushed: u64,
    /// Consume queues and index are fsynced for every record below this position.
    pub(crate) dispatched: u64,
    /// Newest `store_ms` per segment base, so that retention needs no scan after a restart.
    pub(crate) segments: Vec<(u64, i64)>,
}

impl Checkpoint {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.segments.len() * 16);
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.flushed.to_le_bytes());
        out.extend_from_slice(&self.dispatched.to_le_bytes());
        out.extend_from_slice(&(self.segments.len() as u32).to_le_bytes());
        for (base, newest) in &self.segments {
            out.extend_from_slice(&base.to_le_bytes());
            out.extend_from_slice(&newest.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Checkpoint> {
        let (body, crc) = bytes.split_last_chunk::<4>()?;
        if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
            return None;
        }
        let mut words = body.chunks(8);
        let u64_at = |chunk: Option<&[u8]>| -> Option<u64> {
            Some(u64::from_le_bytes(chunk?.try_into().ok()?))
        };
        let head = u64_at(words.next())?;
        if head != u64::from(MAGIC) | (u64::from(VERSION) << 32) {
            return None;
        }
        let flushed = u64_at(words.next())?;
        let dispatched = u64_at(words.next())?;
        let rest = body.get(24..)?;
        let (count, entries) = rest.split_first_chunk::<4>()?;
        let count = u32::from_le_bytes(*count) as usize;
        if entries.len() != count.checked_mul(16)? {
            return None;
        }
        let segments = entries
            .chunks_exact(16)
            .map(|e| {
                let (base, newest) = e.split_first_chunk::<8>()?;
                Some((
                    u64::from_le_bytes(*base),
                    i64::from_le_bytes(newest.try_into().ok()?),
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Checkpoint {
            flushed,
            dispatched,
            segments,
        })
    }

    /// Reads the checkpoint in `dir`; `None` if it is missing or corrupt.
    pub(crate) fn load(dir: &Path) -> Option<Checkpoint> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let checkpoint = Checkpoint::decode(&bytes);
                if checkpoint.is_none() {
                    tracing::warn!(path = %path.display(), "checkpoint is corrupt; recovering from the first segment");
                }
                checkpoint
            }
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot read checkpoint; recovering from the first segment");
                }
                None
            }
        }
    }

    /// Replaces the checkpoint in `dir` atomically and durably.
    ///
    /// A failure at any step leaves the previous checkpoint in place, which stays correct
    /// (it only understates progress, so recovery would re-read more): the caller retries
    /// with a fresh temporary file and never needs to poison the store. Creating, opening
    /// and filling files classify shortages (`EMFILE`, `ENOSPC`, ...) as transient.
    pub(crate) fn write(&self, dir: &Path, faults: &Faults) -> Result<(), StoreError> {
        let temp = dir.join(TEMP);
        let path = dir.join(FILE);
        let written = self.write_temp(&temp, faults);
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written?;
        std::fs::rename(&temp, &path).context("renaming checkpoint into", &path)?;
        let dir_file = std::fs::File::open(dir).creating("opening directory", dir)?;
        dir_file.sync_all().context("fsyncing directory", dir)
    }

    fn write_temp(&self, temp: &Path, faults: &Faults) -> Result<(), StoreError> {
        let mut file = faults
            .check(FaultPoint::CheckpointCreate)
            .and_then(|()| std::fs::File::create(temp))
            .creating("creating", temp)?;
        file.write_all(&self.encode()).creating("writing", temp)?;
        faults
            .check(FaultPoint::Fsync(FileKind::Checkpoint))
            .and_then(|()| file.sync_all())
            .context("fsyncing", temp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Errno;

    #[test]
    fn round_trip_and_corruption() {
        let checkpoint = Checkpoint {
            flushed: 123,
            dispatched: 100,
            segments: vec![(0, 5), (4096, -1)],
        };
        let bytes = checkpoint.encode();
        assert_eq!(Checkpoint::decode(&bytes), Some(checkpoint));
        for i in 0..bytes.len() {
            let mut broken = bytes.clone();
            broken[i] ^= 0x40;
            assert_eq!(Checkpoint::decode(&broken), None, "flip at {i}");
            assert_eq!(Checkpoint::decode(&bytes[..i]), None, "cut at {i}");
        }
    }

    #[test]
    fn written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Checkpoint::load(dir.path()), None);
        let checkpoint = Checkpoint {
            flushed: 7,
            dispatched: 7,
            segments: vec![],
        };
        checkpoint.write(dir.path(), &Faults::new()).unwrap();
        assert_eq!(Checkpoint::load(dir.path()), Some(checkpoint));
    }

    #[test]
    fn a_failed_write_keeps_the_previous_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let faults = Faults::new();
        let old = Checkpoint {
            flushed: 7,
            dispatched: 7,
            segments: vec![(0, 1)],
        };
        old.write(dir.path(), &faults).unwrap();
        let new = Checkpoint {
            flushed: 9,
            ..old.clone()
        };
        faults.fail(FaultPoint::CheckpointCreate, Errno::MFILE, 1);
        let err = new.write(dir.path(), &faults).unwrap_err();
        assert!(matches!(err, StoreError::ResourceExhausted { .. }), "{err}");
        faults.fail(FaultPoint::Fsync(FileKind::Checkpoint), Errno::IO, 1);
        let err = new.write(dir.path(), &faults).unwrap_err();
        assert!(matches!(err, StoreError::Io { .. }), "{err}");
        assert_eq!(Checkpoint::load(dir.path()), Some(old));
        assert!(!dir.path().join(TEMP).exists());
        new.write(dir.path(), &faults).unwrap();
        assert_eq!(Checkpoint::load(dir.path()), Some(new));
    }
}

//! The epoch history on disk: `<data>/epochs`, one file per broker.
//!
//! ```text
//! weir-epochs 1
//! <number> <start>          one line per epoch, oldest first
//! crc32c <hex>              of every byte before this line
//! ```
//!
//! # Durability
//!
//! [`EpochFile::save`] writes a temporary file, fsyncs it, renames it over the old one
//! and fsyncs the directory before returning: after a crash the file is the old history
//! or the new one, whole. A promotion saves the new epoch this way before its first
//! record is written, so a master never writes in an epoch it could forget. A file that
//! does not check out is an error to open, never read as an empty history (which would
//! let a stale replica claim it holds nothing and follow from 0 over a good log).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::epochs::{Epoch, EpochHistory, HistoryError};

/// The file's name in the data directory.
pub const FILE_NAME: &str = "epochs";
/// The first line: the format and its version.
const HEADER: &str = "weir-epochs 1";

/// Why the epoch file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EpochFileError {
    /// Reading or writing it failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
    /// Its contents do not check out.
    #[error("the epoch file {path} is corrupt ({reason}); restore it from a replica or a backup")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// It holds a history that does not hold together.
    #[error("the epoch file {path} holds an invalid history: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        source: HistoryError,
    },
}

/// The epoch file of one data directory.
#[derive(Debug, Clone)]
pub struct EpochFile {
    path: PathBuf,
}

impl EpochFile {
    /// The epoch file in `data_dir`.
    pub fn in_dir(data_dir: impl AsRef<Path>) -> Self {
        Self {
            path: data_dir.as_ref().join(FILE_NAME),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The history it holds; an empty one when there is no file yet (a broker that
    /// never was a master nor followed one).
    ///
    /// # Errors
    ///
    /// [`EpochFileError`] when it cannot be read or does not check out.
    pub fn load(&self) -> Result<EpochHistory, EpochFileError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(EpochHistory::default()),
            Err(source) => {
                return Err(EpochFileError::Io {
                    what: "reading",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let corrupt = |reason: &str| EpochFileError::Corrupt {
            path: self.path.clone(),
            reason: reason.to_string(),
        };
        let text = text
            .strip_suffix('\n')
            .ok_or_else(|| corrupt("no final newline"))?;
        let body_end = text
            .rfind('\n')
            .map(|at| at + 1)
            .ok_or_else(|| corrupt("no checksum line"))?;
        let (body, checksum) = text.split_at(body_end);
        let stored = checksum
            .strip_prefix("crc32c ")
            .filter(|hex| hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| corrupt("no checksum line"))?;
        if crc32c::crc32c(body.as_bytes()) != stored {
            return Err(corrupt("checksum mismatch"));
        }
        let mut lines = body.lines();
        if lines.next() != Some(HEADER) {
            return Err(corrupt("not a weir-epochs 1 file"));
        }
        let epochs = lines
            .map(|line| {
                let (number, start) = line.split_once(' ').ok_or_else(|| corrupt("a bad line"))?;
                Ok(Epoch {
                    number: number.parse().map_err(|_| corrupt("a bad epoch number"))?,
                    start: start.parse().map_err(|_| corrupt("a bad epoch start"))?,
                })
            })
            .collect::<Result<Vec<_>, EpochFileError>>()?;
        EpochHistory::new(epochs).map_err(|source| EpochFileError::Invalid {
            path: self.path.clone(),
            source,
        })
    }

    /// Replaces the file with `history`, durably (see the module's docs).
    ///
    /// # Errors
    ///
    /// [`EpochFileError::Io`] when writing, syncing or renaming fails; the old file is
    /// then still in place.
    pub fn save(&self, history: &EpochHistory) -> Result<(), EpochFileError> {
        let mut body = format!("{HEADER}\n");
        for epoch in history.epochs() {
            body.push_str(&format!("{} {}\n", epoch.number, epoch.start));
        }
        let text = format!("{body}crc32c {:08x}\n", crc32c::crc32c(body.as_bytes()));
        let temporary = self.path.with_extension("tmp");
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| EpochFileError::Io { what, path, source }
        };
        let mut file = File::create(&temporary).map_err(io("creating", &temporary))?;
        file.write_all(text.as_bytes())
            .map_err(io("writing", &temporary))?;
        file.sync_all().map_err(io("syncing", &temporary))?;
        drop(file);
        fs::rename(&temporary, &self.path).map_err(io("renaming into", &self.path))?;
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing the directory of", &self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(pairs: &[(u64, u64)]) -> EpochHistory {
        EpochHistory::new(
            pairs
                .iter()
                .map(|&(number, start)| Epoch { number, start })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn no_file_is_an_empty_history_and_saves_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = EpochFile::in_dir(dir.path());
        assert_eq!(file.load().unwrap(), EpochHistory::default());
        for h in [
            history(&[(1, 0)]),
            history(&[(1, 0), (2, 4096), (5, 1 << 40)]),
        ] {
            file.save(&h).unwrap();
            assert_eq!(file.load().unwrap(), h);
        }
        assert!(!file.path().with_extension("tmp").exists());
    }

    #[test]
    fn a_left_over_temporary_file_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let file = EpochFile::in_dir(dir.path());
        file.save(&history(&[(1, 0)])).unwrap();
        fs::write(file.path().with_extension("tmp"), "weir-epochs 1\n7 9\n").unwrap();
        assert_eq!(file.load().unwrap(), history(&[(1, 0)]));
    }

    #[test]
    fn any_changed_byte_is_corruption_not_an_empty_history() {
        let dir = tempfile::tempdir().unwrap();
        let file = EpochFile::in_dir(dir.path());
        file.save(&history(&[(1, 0), (2, 4096)])).unwrap();
        let good = fs::read(file.path()).unwrap();
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            fs::write(file.path(), &bad).unwrap();
            assert!(
                file.load().is_err(),
                "byte {at} changed still loads: {:?}",
                String::from_utf8_lossy(&bad)
            );
        }
        for cut in 0..good.len() {
            fs::write(file.path(), &good[..cut]).unwrap();
            assert!(file.load().is_err(), "cut at {cut} still loads");
        }
    }
}

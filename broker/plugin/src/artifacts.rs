//! Module bytes on disk: content-addressed files under `<data>/modules/`.
//!
//! Each distinct component is kept twice, named by the SHA-256 of the uploaded bytes:
//! `<sha256>.wasm` (what was uploaded, so it can be compiled again after an engine
//! upgrade) and `<sha256>.cwasm` (the precompiled artifact loaded on start without
//! compiling). Files are written to a temporary name, fsynced, renamed into place and
//! the directory fsynced, so a crash leaves either no file or a whole one. The registry
//! (in the commitlog) is the truth about which files matter: files it does not name —
//! left by a crash between writing them and recording the upload, or by a delete — are
//! removed when the host opens.
//!
//! Creating a file can fail for lack of file descriptors or space: such an upload is
//! refused with [`PluginError::Shortage`], its files are removed, and nothing else
//! changes. Every creation passes the store's fault table
//! ([`FaultPoint::ArtifactCreate`]) so that tests can make it fail.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use weir_store::{FaultPoint, Store, StoreError};

use crate::PluginError;

/// The directory of module files.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactDir {
    dir: PathBuf,
    /// The broker's store, for its fault table.
    store: Arc<Store>,
}

/// Extension of uploaded components.
const WASM: &str = "wasm";
/// Extension of precompiled artifacts.
const CWASM: &str = "cwasm";

impl ArtifactDir {
    /// Opens (creating) the directory.
    pub(crate) fn open(dir: PathBuf, store: Arc<Store>) -> Result<Self, PluginError> {
        fs::create_dir_all(&dir)
            .map_err(|e| PluginError::io(format!("creating {}", dir.display()), e))?;
        Ok(Self { dir, store })
    }

    pub(crate) fn wasm_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.{WASM}"))
    }

    pub(crate) fn cwasm_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.{CWASM}"))
    }

    /// Writes the uploaded bytes and the precompiled artifact of component `sha256`,
    /// whose bytes no registered version uses. On failure neither file is left.
    pub(crate) fn write(&self, sha256: &str, wasm: &[u8], cwasm: &[u8]) -> Result<(), PluginError> {
        let written = self
            .write_atomically(&self.wasm_path(sha256), wasm)
            .and_then(|()| self.write_atomically(&self.cwasm_path(sha256), cwasm))
            .and_then(|()| sync_dir(&self.dir));
        if written.is_err() {
            self.remove(sha256);
        }
        written
    }

    /// Replaces the precompiled artifact (after compiling again).
    pub(crate) fn write_cwasm(&self, sha256: &str, cwasm: &[u8]) -> Result<(), PluginError> {
        self.write_atomically(&self.cwasm_path(sha256), cwasm)?;
        sync_dir(&self.dir)
    }

    /// Writes `bytes` to a temporary name, fsyncs it and renames it to `path`; on failure
    /// the temporary file is removed.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
        let tmp = path.with_extension("tmp");
        let mut file = self
            .store
            .faults()
            .check(FaultPoint::ArtifactCreate)
            .and_then(|()| File::create(&tmp))
            .map_err(|e| file_error("creating", &tmp, e))?;
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&tmp, path));
        written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            file_error("writing", &tmp, e)
        })
    }

    /// Reads a file, answering `None` unless it exists and its SHA-256 is `expected`.
    pub(crate) fn read_verified(path: &Path, expected: &str) -> Option<Vec<u8>> {
        let bytes = fs::read(path).ok()?;
        (sha256_hex(&bytes) == expected).then_some(bytes)
    }

    /// Removes the files of every component not in `keep`, and leftover temporary files.
    pub(crate) fn remove_unreferenced(&self, keep: &HashSet<String>) -> Result<usize, PluginError> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| PluginError::io(format!("listing {}", self.dir.display()), e))?;
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stem = name.split('.').next().unwrap_or_default();
            let ours = name.ends_with(".tmp")
                || ((name.ends_with(".wasm") || name.ends_with(".cwasm")) && !keep.contains(stem));
            if ours && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes the files of component `sha256`.
    pub(crate) fn remove(&self, sha256: &str) {
        let _ = fs::remove_file(self.wasm_path(sha256));
        let _ = fs::remove_file(self.cwasm_path(sha256));
    }
}

/// SHA-256 as lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut text = String::with_capacity(64);
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// The error of `what` done to a module file: a shortage of descriptors, memory or space
/// (running out of space while writing included) is [`PluginError::Shortage`].
fn file_error(what: &str, path: &Path, source: std::io::Error) -> PluginError {
    match StoreError::creating(what, path, source) {
        StoreError::Io { context, source } => PluginError::Io { context, source },
        shortage => PluginError::Shortage(shortage),
    }
}

fn sync_dir(dir: &Path) -> Result<(), PluginError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| file_error("syncing", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_store::{Errno, StoreConfig};

    fn small_store(dir: &Path) -> Arc<Store> {
        let mut config = StoreConfig::new(dir.join("store"));
        config.segment_size = 1 << 20;
        config.index_slots = 64;
        config.index_entries = 256;
        config.queue_entries_per_file = 256;
        Arc::new(Store::open(config).unwrap())
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn files_are_verified_and_unreferenced_ones_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ArtifactDir::open(tmp.path().join("modules"), small_store(tmp.path())).unwrap();
        let (a, b) = (sha256_hex(b"a"), sha256_hex(b"b"));
        dir.write(&a, b"a", b"A").unwrap();
        dir.write(&b, b"b", b"B").unwrap();
        assert_eq!(
            ArtifactDir::read_verified(&dir.wasm_path(&a), &a),
            Some(b"a".to_vec())
        );
        assert_eq!(ArtifactDir::read_verified(&dir.cwasm_path(&a), &a), None);
        fs::write(dir.wasm_path(&a).with_extension("tmp"), b"torn").unwrap();
        let keep = HashSet::from([a.clone()]);
        assert_eq!(dir.remove_unreferenced(&keep).unwrap(), 3);
        assert!(dir.cwasm_path(&a).exists());
        assert!(!dir.wasm_path(&b).exists());
    }

    #[test]
    fn a_failed_write_is_a_shortage_or_an_error_and_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = small_store(tmp.path());
        let modules = tmp.path().join("modules");
        let dir = ArtifactDir::open(modules.clone(), Arc::clone(&store)).unwrap();
        let a = sha256_hex(b"a");
        for (errno, disk_full) in [
            (Errno::MFILE, false),
            (Errno::NFILE, false),
            (Errno::NOSPC, true),
        ] {
            store.faults().fail(FaultPoint::ArtifactCreate, errno, 1);
            match dir.write(&a, b"a", b"A") {
                Err(PluginError::Shortage(error)) => {
                    assert!(error.is_transient(), "{error}");
                    assert_eq!(error.is_disk_full(), disk_full, "{error}");
                    assert!(error.to_string().contains(&a), "{error}");
                }
                other => panic!("{errno:?}: {other:?}"),
            }
            assert!(names(&modules).is_empty(), "{:?}", names(&modules));
        }
        assert_eq!(store.faults().injected(FaultPoint::ArtifactCreate), 3);

        // The second file failing (here: its name is taken by a directory) takes the
        // first one with it.
        fs::create_dir(dir.cwasm_path(&a)).unwrap();
        fs::write(dir.cwasm_path(&a).join("x"), b"x").unwrap();
        assert!(matches!(
            dir.write(&a, b"a", b"A"),
            Err(PluginError::Io { .. })
        ));
        assert!(!dir.wasm_path(&a).exists());
        assert!(!modules.join(format!("{a}.tmp")).exists());
        fs::remove_dir_all(dir.cwasm_path(&a)).unwrap();

        // Once the shortage is over, the same write succeeds.
        dir.write(&a, b"a", b"A").unwrap();
        assert_eq!(names(&modules), [format!("{a}.cwasm"), format!("{a}.wasm")]);
        store.close().unwrap();
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

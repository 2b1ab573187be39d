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

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::PluginError;

/// The directory of module files.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactDir {
    dir: PathBuf,
}

/// Extension of uploaded components.
const WASM: &str = "wasm";
/// Extension of precompiled artifacts.
const CWASM: &str = "cwasm";

impl ArtifactDir {
    /// Opens (creating) the directory.
    pub(crate) fn open(dir: PathBuf) -> Result<Self, PluginError> {
        fs::create_dir_all(&dir)
            .map_err(|e| PluginError::io(format!("creating {}", dir.display()), e))?;
        Ok(Self { dir })
    }

    pub(crate) fn wasm_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.{WASM}"))
    }

    pub(crate) fn cwasm_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.{CWASM}"))
    }

    /// Writes the uploaded bytes and the precompiled artifact of component `sha256`.
    pub(crate) fn write(&self, sha256: &str, wasm: &[u8], cwasm: &[u8]) -> Result<(), PluginError> {
        write_atomically(&self.wasm_path(sha256), wasm)?;
        write_atomically(&self.cwasm_path(sha256), cwasm)?;
        sync_dir(&self.dir)
    }

    /// Replaces the precompiled artifact (after compiling again).
    pub(crate) fn write_cwasm(&self, sha256: &str, cwasm: &[u8]) -> Result<(), PluginError> {
        write_atomically(&self.cwasm_path(sha256), cwasm)?;
        sync_dir(&self.dir)
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

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
    let tmp = path.with_extension("tmp");
    let context = || format!("writing {}", path.display());
    let mut file = File::create(&tmp).map_err(|e| PluginError::io(context(), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| PluginError::io(context(), e))?;
    fs::rename(&tmp, path).map_err(|e| PluginError::io(context(), e))
}

fn sync_dir(dir: &Path) -> Result<(), PluginError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| PluginError::io(format!("syncing {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_verified_and_unreferenced_ones_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ArtifactDir::open(tmp.path().join("modules")).unwrap();
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
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

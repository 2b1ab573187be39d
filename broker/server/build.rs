//! Embeds the guest SDKs of the languages `weir plugin new` vendors into a project (every
//! file of `sdk-guest/{c,python,js,go,zig}`, build outputs and caches left out), so that
//! a project always carries the SDK of the broker version that wrote it.

use std::path::{Path, PathBuf};
use std::{env, fs};

/// The constants generated, and the directory each embeds.
const SDKS: &[(&str, &str)] = &[
    ("C_SDK", "sdk-guest/c"),
    ("PYTHON_SDK", "sdk-guest/python"),
    ("JS_SDK", "sdk-guest/js"),
    ("GO_SDK", "sdk-guest/go"),
    ("ZIG_SDK", "sdk-guest/zig"),
];

/// Directories that hold what builds and tests leave behind, never sources.
const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "__pycache__",
    ".weir-build",
    "target",
    "build",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.join("../..");
    // The skip rule, for the test that compares the embedded files with the directories.
    let mut generated =
        format!("#[cfg(test)]\npub(crate) const SKIPPED_DIRS: &[&str] = &{SKIPPED_DIRS:?};\n");
    for (constant, dir) in SDKS {
        let dir = root.join(dir);
        let mut files = Vec::new();
        collect(&dir, &dir, &mut files);
        files.sort();
        generated.push_str(&format!(
            "pub(crate) const {constant}: &[(&str, &[u8])] = &[\n"
        ));
        for (relative, path) in &files {
            // Each file, not the directory: a directory would be rescanned whole, caches
            // included. A test compares the embedded list with the directory.
            println!("cargo:rerun-if-changed={}", path.display());
            generated.push_str(&format!("    ({relative:?}, include_bytes!({path:?})),\n"));
        }
        generated.push_str("];\n");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("guest_sdks.rs");
    fs::write(out, generated).expect("OUT_DIR is writable");
}

/// Appends the files under `dir` as (path relative to `root` with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for entry in entries {
        let entry = entry.expect("a readable directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let kind = entry.file_type().expect("a file type");
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) && !name.starts_with('.') {
                collect(root, &path, files);
            }
        } else if kind.is_file() && (name == ".gitignore" || !name.starts_with('.')) {
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let absolute = path.canonicalize().expect("an existing file");
            files.push((relative, absolute));
        }
    }
}

//! Module uploads, in process: for each component, the time from upload to ready (read
//! what it declares, compile, write its files, persist the catalog), the CPU time that
//! took, and how far the process's resident memory rose above where it was while it
//! compiled; then a fresh plugin host reloads every module from its precompiled artifact
//! (a restart), and the time per module is printed.
//!
//! ```text
//! cargo bench -p weir-plugin --bench upload                    # every built component
//! cargo bench -p weir-plugin --bench upload -- python js/forwarder.wasm
//! ```
//!
//! Arguments pick components: a language directory under `plugins/target/components/`
//! (all its components), a path relative to that directory (`rust/NAME.wasm` for the
//! Rust plugins), or any path to a `.wasm` file. Without arguments: every component
//! under `plugins/target/components/` (which `sdk-guest/<lang>/test.sh` builds) and the
//! Rust plugins of `plugins/target/wasm32-wasip2/release/`. Uploads run one after
//! another, each on a host otherwise idle, so each figure is one compile's.
//!
//! The resident-memory figure resets the kernel's peak (`/proc/self/clear_refs`, Linux)
//! before each upload and reads `VmHWM` after it, less the mapped file pages the upload
//! touched (the commitlog's segment, module files: page cache the kernel can reclaim):
//! the rise is the compile's peak working set above the process's, which is what a
//! broker with `[plugins] concurrent_compiles = 1` adds at most during an upload.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use common::cpu_ns;
use weir_core::{Broker, BrokerConfig, Limits, StoreConfig};
use weir_plugin::{PluginHost, PluginHostConfig};

/// Where the language builds land.
const COMPONENTS: &str = "../../plugins/target/components";
/// Where the Rust plugins land.
const RUST_COMPONENTS: &str = "../../plugins/target/wasm32-wasip2/release";

fn main() {
    let components = chosen_components();
    assert!(
        !components.is_empty(),
        "no components found: build them first (./scripts/test, or sdk-guest/<lang>/test.sh)"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(&components));
}

/// `(label, path)` of each component the arguments name, or of every built one.
fn chosen_components() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = root.join(COMPONENTS);
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut chosen = Vec::new();
    if args.is_empty() {
        chosen.extend(wasm_files(&root.join(RUST_COMPONENTS), "rust"));
        let mut languages: Vec<_> = std::fs::read_dir(&built)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        languages.sort();
        for language in languages.into_iter().filter(|p| p.is_dir()) {
            let label = file_name(&language);
            chosen.extend(wasm_files(&language, &label));
        }
        return chosen;
    }
    for arg in args {
        // `rust` and `rust/NAME.wasm` name the Rust plugins, the others the language builds.
        let under_built = match arg.strip_prefix("rust") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => root
                .join(RUST_COMPONENTS)
                .join(rest.trim_start_matches('/')),
            _ => built.join(&arg),
        };
        if under_built.is_dir() {
            chosen.extend(wasm_files(&under_built, &arg));
        } else if under_built.is_file() {
            chosen.push((arg.trim_end_matches(".wasm").to_owned(), under_built));
        } else {
            let path = PathBuf::from(&arg);
            assert!(
                path.is_file(),
                "no component {arg} (nor {})",
                under_built.display()
            );
            chosen.push((file_name(&path), path));
        }
    }
    chosen
}

/// The `.wasm` files of `dir`, labelled `<label>/<name>`.
fn wasm_files(dir: &Path, label: &str) -> Vec<(String, PathBuf)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|path| (format!("{label}/{}", file_name(&path)), path))
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

async fn run(components: &[(String, PathBuf)]) {
    let temp = tempfile::tempdir().expect("temporary directory");
    let broker = Broker::open(BrokerConfig {
        store: StoreConfig::new(temp.path().join("store")),
        limits: Limits::default(),
    })
    .expect("open the broker");
    let config = PluginHostConfig::new(temp.path());
    let host = PluginHost::open(Arc::clone(&broker), config.clone())
        .await
        .expect("open the plugin host");
    // The first write creates the commitlog's segment, whose mapped pages would count in
    // the first upload's memory rise: write before measuring.
    broker
        .create_topic("warm-up", 1)
        .await
        .expect("create a topic");
    println!(
        "{:<28} {:>9} {:>13} {:>7} {:>15}",
        "component", "size MB", "upload-ready", "CPU-s", "RSS rise MiB"
    );
    let mut uploaded = 0;
    for (number, (label, path)) in components.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let size = bytes.len();
        let before = reset_peak_rss();
        let file_before = status_kib("RssFile:");
        let (started, cpu) = (Instant::now(), cpu_ns());
        // Each under its own name: the same bytes under two names compile once.
        let name = format!("m{number}");
        match host.upload(&name, None, bytes).await {
            Ok(_) => {
                uploaded += 1;
                let seconds = started.elapsed().as_secs_f64();
                // Mapped files the upload touched (the commitlog's segment on the first
                // write, module files) are page cache, not the compile's memory.
                let file_growth = status_kib("RssFile:")
                    .zip(file_before)
                    .map_or(0, |(after, at)| after.saturating_sub(at));
                let rise = peak_rss_kib()
                    .zip(before)
                    .map(|(peak, at)| peak.saturating_sub(at).saturating_sub(file_growth));
                println!(
                    "{label:<28} {:>9.1} {:>11.2} s {:>7.2} {:>15}",
                    size as f64 / 1e6,
                    seconds,
                    (cpu_ns() - cpu) / 1e9,
                    rise.map_or_else(|| "-".into(), |kib| format!("{:.0}", kib as f64 / 1024.0)),
                );
            }
            Err(err) => println!("{label:<28} {:>9.1} refused: {err}", size as f64 / 1e6),
        }
    }
    host.shutdown().await;

    // A restart's reload: a fresh host loads every module from its precompiled artifact.
    let started = Instant::now();
    let reopened = PluginHost::open(Arc::clone(&broker), config)
        .await
        .expect("reopen the plugin host");
    let ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "reload: {uploaded} modules in {ms:.0} ms ({:.1} ms per module)",
        ms / uploaded.max(1) as f64
    );
    reopened.shutdown().await;
    broker.close().expect("close");
}

/// Resets the kernel's record of the peak resident set to the current one; answers the
/// current one, KiB (None where the kernel offers neither).
fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kib("VmRSS:")
}

/// The peak resident set since the last reset, KiB.
fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

//! Append throughput of the store, in process.
//!
//! ```text
//! cargo bench -p weir-store --bench append
//! ```
//!
//! Environment: `WEIR_BENCH_DIR` (default: a temporary directory), `WEIR_BENCH_MESSAGES`
//! (messages per async run, default 2,000,000; 4 KiB runs are capped at 1 GiB of data),
//! `WEIR_BENCH_SYNC_MESSAGES` (messages per sync run, default 64,000).

use bytes::Bytes;
use hdrhistogram::Histogram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_store::{FlushPolicy, Message, Store, StoreConfig};

const SEGMENT_SIZE: u64 = 1 << 30;
const CONCURRENT_APPENDERS: usize = 64;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn messages(body: usize, n: usize) -> Vec<(u32, Message)> {
    (0..n)
        .map(|i| {
            let message = Message {
                id: format!("{i:016x}"),
                keys: vec![format!("key-{i}")],
                tag: Some("bench".to_owned()),
                properties: vec![],
                body: Bytes::from(vec![b'x'; body]),
                born_ms: 0,
                flags: 0,
            };
            ((i % 8) as u32, message)
        })
        .collect()
}

fn open(dir: &Path, flush: FlushPolicy) -> Store {
    let _ = std::fs::remove_dir_all(dir);
    let mut config = StoreConfig::new(dir);
    config.segment_size = SEGMENT_SIZE;
    config.flush = flush;
    config.disk_max_used_ratio = 0.99;
    Store::open(config).expect("open store")
}

struct Row {
    name: String,
    messages: usize,
    bytes: u64,
    elapsed: Duration,
    latency: Option<Histogram<u64>>,
}

fn print(row: &Row) {
    let secs = row.elapsed.as_secs_f64();
    let (p50, p99) = match &row.latency {
        Some(h) => (
            format!("{:.2}", h.value_at_quantile(0.50) as f64 / 1000.0),
            format!("{:.2}", h.value_at_quantile(0.99) as f64 / 1000.0),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    };
    println!(
        "{:<38} {:>10} {:>8.2} {:>12.0} {:>9.1} {:>9} {:>9}",
        row.name,
        row.messages,
        secs,
        row.messages as f64 / secs,
        row.bytes as f64 / secs / 1e6,
        p50,
        p99
    );
}

fn run_async(root: &Path, body: usize, batch: usize, count: usize) -> Row {
    let dir = root.join(format!("async-{body}-{batch}"));
    let store = open(
        &dir,
        FlushPolicy::Async {
            interval: Duration::from_millis(200),
        },
    );
    let pool = messages(body, batch.max(128));
    let count = count / batch * batch;
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut sent = 0;
    while sent < count {
        let from = sent % (pool.len() / batch * batch);
        let outcome = store
            .append("bench", &pool[from..from + batch])
            .expect("append");
        bytes = outcome.end;
        sent += batch;
    }
    let elapsed = started.elapsed();
    store.close().expect("close");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Row {
        name: format!("async  {:>4} B  batch {batch:>3}  1 thread", body),
        messages: count,
        bytes,
        elapsed,
        latency: None,
    }
}

fn run_sync(root: &Path, body: usize, batch: usize, count: usize) -> Row {
    let dir = root.join(format!("sync-{body}-{batch}"));
    let store = Arc::new(open(&dir, FlushPolicy::Sync));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let per_task = count / CONCURRENT_APPENDERS / batch;
    let started = Instant::now();
    let histograms = runtime.block_on(async {
        let tasks: Vec<_> = (0..CONCURRENT_APPENDERS)
            .map(|task| {
                let store = Arc::clone(&store);
                let pool = messages(body, batch);
                tokio::spawn(async move {
                    let mut latency = Histogram::<u64>::new(3).expect("histogram");
                    for _ in 0..per_task {
                        let t = Instant::now();
                        let mut items = pool.clone();
                        for item in &mut items {
                            item.0 = task as u32;
                        }
                        let outcome = store.append("bench", &items).expect("append");
                        store.wait_durable(outcome.end).await.expect("durable");
                        let _ = latency.record(t.elapsed().as_micros() as u64);
                    }
                    latency
                })
            })
            .collect();
        let mut all = Histogram::<u64>::new(3).expect("histogram");
        for task in tasks {
            all.add(task.await.expect("task")).expect("merge");
        }
        all
    });
    let elapsed = started.elapsed();
    let bytes = store.stats().write_position;
    store.close().expect("close");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Row {
        name: format!(
            "sync   {:>4} B  batch {batch:>3}  {CONCURRENT_APPENDERS} tasks",
            body
        ),
        messages: per_task * CONCURRENT_APPENDERS * batch,
        bytes,
        elapsed,
        latency: Some(histograms),
    }
}

fn main() {
    let temp;
    let root: PathBuf = match std::env::var_os("WEIR_BENCH_DIR") {
        Some(dir) => dir.into(),
        None => {
            temp = tempfile::tempdir().expect("temp dir");
            temp.path().to_owned()
        }
    };
    let count = env_count("WEIR_BENCH_MESSAGES", 2_000_000);
    let sync_count = env_count("WEIR_BENCH_SYNC_MESSAGES", 64_000);
    let big = count.min((1 << 30) / 4096);
    println!(
        "store in {}, segment size {} MiB",
        root.display(),
        SEGMENT_SIZE >> 20
    );
    println!(
        "{:<38} {:>10} {:>8} {:>12} {:>9} {:>9} {:>9}",
        "run", "messages", "secs", "msgs/s", "MB/s", "p50 ms", "p99 ms"
    );
    print(&run_async(&root, 256, 1, count));
    print(&run_async(&root, 256, 128, count));
    print(&run_async(&root, 4096, 1, big));
    print(&run_async(&root, 4096, 128, big));
    print(&run_sync(&root, 256, 1, sync_count));
    print(&run_sync(&root, 256, 16, sync_count * 4));
    print(&run_sync(&root, 4096, 1, sync_count / 2));
}

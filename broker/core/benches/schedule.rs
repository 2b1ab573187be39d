//! The scheduling core, in process: memory per pending delayed message, timer lateness
//! while delayed messages fire at a steady rate, and transaction throughput.
//!
//! ```text
//! cargo bench -p weir-core --bench schedule
//! ```
//!
//! Environment: `WEIR_BENCH_DIR` (default: a temporary directory), `WEIR_BENCH_PENDING`
//! (pending delayed messages for the memory figure, default 10,000,000),
//! `WEIR_BENCH_FIRE_RATE` (delayed messages fired per second, default 50,000),
//! `WEIR_BENCH_FIRE_SECONDS` (default 10), `WEIR_BENCH_TX` (transactions, default 200,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use weir_core::{Broker, BrokerConfig, Limits, MessageDraft, StoreConfig};

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Anonymous resident memory of this process (heap, not mapped files), in bytes.
fn rss_anon() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn open(dir: &std::path::Path) -> Arc<Broker> {
    let store = StoreConfig::new(dir);
    Broker::open(BrokerConfig {
        store,
        limits: Limits::default(),
    })
    .expect("open the broker")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        pending_memory().await;
        lateness().await;
        transactions().await;
    });
}

fn bench_dir(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = std::env::var_os("WEIR_BENCH_DIR").map_or_else(
        || temp.path().to_path_buf(),
        |d| std::path::Path::new(&d).join(name),
    );
    (temp, dir)
}

async fn pending_memory() {
    let pending = env_count("WEIR_BENCH_PENDING", 10_000_000);
    let (_temp, dir) = bench_dir("pending");
    let broker = open(&dir);
    broker.create_topic("later", 8).await.expect("topic");
    let due = now_ms() + 3_600_000;
    let before = rss_anon();
    let started = Instant::now();
    let mut sent = 0;
    while sent < pending {
        let n = (pending - sent).min(1000);
        let batch = (0..n)
            .map(|i| {
                let mut draft = MessageDraft::new(&b"sixteen byte msg"[..]);
                // Spread over an hour, so that the wheel holds them in many slots.
                draft.deliver_at = Some(due + ((sent + i) % 3_600_000) as i64);
                draft
            })
            .collect();
        broker.send("later", batch).await.expect("send");
        sent += n;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = rss_anon();
    println!(
        "pending delayed: {} scheduled in {elapsed:.1} s ({:.0} msgs/s); pending timers {}; \
         anonymous memory +{:.1} MiB = {:.1} B per pending message",
        pending,
        pending as f64 / elapsed,
        broker.pending_timers(),
        (after.saturating_sub(before)) as f64 / (1 << 20) as f64,
        after.saturating_sub(before) as f64 / pending as f64,
    );
    broker.close().expect("close");
}

async fn lateness() {
    let rate = env_count("WEIR_BENCH_FIRE_RATE", 50_000);
    let seconds = env_count("WEIR_BENCH_FIRE_SECONDS", 10);
    let total = rate * seconds;
    let (_temp, dir) = bench_dir("lateness");
    let broker = open(&dir);
    broker.create_topic("soon", 8).await.expect("topic");
    let late = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000, 3).expect("histogram"),
    ));
    let start = now_ms() + 3_000;
    let mut sent = 0;
    while sent < total {
        let n = (total - sent).min(1000);
        let batch = (0..n)
            .map(|i| {
                let mut draft = MessageDraft::new(&b"fire me"[..]);
                draft.deliver_at = Some(start + ((sent + i) * 1000 / rate) as i64);
                draft
            })
            .collect();
        broker.send("soon", batch).await.expect("send");
        sent += n;
    }
    assert!(
        now_ms() < start,
        "scheduling took longer than the lead time"
    );
    let recorder = Arc::clone(&late);
    broker.set_timer_lateness_observer(move |d| {
        recorder.lock().saturating_record(d.as_millis() as u64 + 1);
    });
    let deadline = Instant::now() + Duration::from_secs(seconds as u64 + 30);
    while broker.pending_delayed() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let h = late.lock();
    // Recorded as lateness + 1 ms so that on-time fires fit the histogram.
    println!(
        "fire lateness at {rate} msgs/s for {seconds} s: {} fired, p50 {} ms p99 {} ms p99.9 {} ms max {} ms; still pending {}",
        h.len(),
        h.value_at_quantile(0.5) - 1,
        h.value_at_quantile(0.99) - 1,
        h.value_at_quantile(0.999) - 1,
        h.max() - 1,
        broker.pending_delayed(),
    );
    drop(h);
    broker.close().expect("close");
}

async fn transactions() {
    let count = env_count("WEIR_BENCH_TX", 200_000);
    let (_temp, dir) = bench_dir("tx");
    let broker = open(&dir);
    broker.create_topic("tx", 8).await.expect("topic");
    let tasks = 16;
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let broker = Arc::clone(&broker);
        handles.push(tokio::spawn(async move {
            for _ in 0..count / tasks {
                let (tx, _) = broker
                    .send_half("tx", MessageDraft::new(vec![b'x'; 256]), None, None)
                    .await
                    .expect("half");
                broker.commit(&tx).await.expect("commit");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = count / tasks * tasks;
    println!(
        "transactions: {done} half + commit pairs in {elapsed:.2} s = {:.0} pairs/s (256 B, {tasks} tasks)",
        done as f64 / elapsed
    );
    broker.close().expect("close");
}

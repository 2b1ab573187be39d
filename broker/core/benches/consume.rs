//! Consumer-group throughput of the core, in process: receive batches and ack every
//! message, with several concurrent consumers; the ceiling the HTTP path is measured
//! against.
//!
//! ```text
//! cargo bench -p weir-core --bench consume
//! ```
//!
//! Environment: `WEIR_BENCH_DIR` (default: a temporary directory), `WEIR_BENCH_MESSAGES`
//! (messages sent before consuming, default 2,000,000).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use weir_core::{
    Broker, BrokerConfig, GroupSpec, Limits, MessageDraft, ReceiveRequest, StartFrom, StoreConfig,
};

const QUEUES: u32 = 8;
const BODY: usize = 256;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let messages = env_count("WEIR_BENCH_MESSAGES", 2_000_000);
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir =
        std::env::var_os("WEIR_BENCH_DIR").map_or_else(|| temp.path().to_path_buf(), Into::into);
    let broker = Broker::open(BrokerConfig {
        store: StoreConfig::new(&dir),
        limits: Limits::default(),
    })
    .expect("open the broker");
    broker.create_topic("bench", QUEUES).await.expect("topic");
    let body = "x".repeat(BODY);
    let started = Instant::now();
    for _ in 0..messages / 1000 {
        let batch = (0..1000).map(|_| MessageDraft::new(body.clone())).collect();
        broker.send("bench", batch).await.expect("send");
    }
    let sent = (messages / 1000 * 1000) as u64;
    println!(
        "filled {sent} messages of {BODY} B in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    for (batch, consumers) in [(32usize, 4usize), (100, 4), (1000, 2)] {
        let group = format!("g{batch}");
        broker
            .create_group(GroupSpec {
                name: group.clone(),
                topic: "bench".into(),
                from: Some(StartFrom::Earliest),
                ..GroupSpec::default()
            })
            .await
            .expect("group");
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..consumers {
            let (broker, group, done) = (Arc::clone(&broker), group.clone(), Arc::clone(&done));
            tasks.push(tokio::spawn(async move {
                let mut latency = Histogram::<u64>::new(3).expect("histogram");
                while done.load(Ordering::Relaxed) < sent {
                    let t = Instant::now();
                    let got = broker
                        .receive(
                            &group,
                            ReceiveRequest {
                                max: batch,
                                ..ReceiveRequest::default()
                            },
                        )
                        .await
                        .expect("receive");
                    if got.is_empty() {
                        break;
                    }
                    let receipts: Vec<String> = got.iter().map(|d| d.receipt.clone()).collect();
                    broker.ack(&group, &receipts).await.expect("ack");
                    latency.saturating_record(t.elapsed().as_micros() as u64);
                    done.fetch_add(got.len() as u64, Ordering::Relaxed);
                }
                latency
            }));
        }
        let mut latency = Histogram::<u64>::new(3).expect("histogram");
        for task in tasks {
            latency.add(task.await.expect("consumer")).expect("merge");
        }
        let elapsed = started.elapsed().as_secs_f64();
        let consumed = done.load(Ordering::Relaxed);
        println!(
            "receive+ack batch {batch:>4} x{consumers}: {consumed} msgs in {elapsed:.2} s = {:.0} msgs/s; receive+ack p50 {} µs p99 {} µs",
            consumed as f64 / elapsed,
            latency.value_at_quantile(0.5),
            latency.value_at_quantile(0.99),
        );
    }
    broker.close().expect("close");
}

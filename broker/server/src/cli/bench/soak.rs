//! `weir bench soak`: a long mixed load against a running broker, to show that its
//! memory, file descriptors, threads and latency stay flat over time.
//!
//! The load, each kind paced at its own rate and on its own task: single sends, binary
//! batches, a group's receive and ack, a WebAssembly consumer binding (`ack_all`) on its
//! own topic, delayed messages (delivered to the same group a few seconds later) and
//! transactions (a half message, then commit or, one in three, rollback). Every
//! `--interval` the bench prints the broker's RSS — split into anonymous memory (heap,
//! stacks: what a leak grows) and file-backed pages (the memory-mapped commitlog, which
//! the kernel reclaims under pressure and which grows with the data written) — open fds
//! and threads (from
//! `/proc/<pid>/status` and `/proc/<pid>/fd`, given `--broker-pid`), latency percentiles
//! per operation for that interval, and error counts; at the end a summary with the drift
//! from the first interval to the last. Any error makes the run exit non-zero.
//!
//! It is a program, not a test: it asserts nothing on timing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use weir_client::{
    BindingRequest, Client, ClientError, NewGroup, OutgoingMessage, PluginWorld, ReceiveOptions,
    codes,
};

use super::setup::{ctrl_c, ensure_group, ensure_topic};
use crate::cli::Connection;

/// Run a mixed load for a long time and print the broker's resources and latency.
#[derive(clap::Args, Debug)]
pub(crate) struct SoakArgs {
    /// How long to run: a number with `s`, `m` or `h` (`30m`), or plain seconds.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    duration: Duration,
    /// How often to print a report line: same form as `--duration`.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    interval: Duration,
    /// The broker's process id, to read its RSS, fds and threads from /proc.
    #[arg(long, value_name = "PID")]
    broker_pid: Option<u32>,
    /// The consumer component bound during the run.
    #[arg(
        long,
        default_value = "plugins/target/wasm32-wasip2/release/ack_all.wasm",
        value_name = "PATH"
    )]
    module: PathBuf,
    /// Single sends per second.
    #[arg(long, default_value_t = 200, value_name = "N")]
    send_rate: u32,
    /// Batches per second, to the group's topic and the plugin's topic in turn.
    #[arg(long, default_value_t = 10, value_name = "N")]
    batch_rate: u32,
    /// Messages per batch.
    #[arg(long, default_value_t = 50, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch_size: u32,
    /// Delayed sends per second (each delayed 1 to 5 s).
    #[arg(long, default_value_t = 20, value_name = "N")]
    delayed_rate: u32,
    /// Transactions per second.
    #[arg(long, default_value_t = 20, value_name = "N")]
    tx_rate: u32,
    /// Body size of each message, in bytes.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    size: usize,
}

/// Reads `30m`, `90s`, `1h` or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 30m, 90s or 1h"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit '{other}': use s, m or h")),
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("'{text}' must be more than 0"))
}

/// What the load does, one latency histogram and error count each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Send,
    Batch,
    Receive,
    Ack,
    Delayed,
    Half,
    Commit,
    Rollback,
}

impl Op {
    const ALL: [Op; 8] = [
        Op::Send,
        Op::Batch,
        Op::Receive,
        Op::Ack,
        Op::Delayed,
        Op::Half,
        Op::Commit,
        Op::Rollback,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Send => "send",
            Op::Batch => "batch",
            Op::Receive => "receive",
            Op::Ack => "ack",
            Op::Delayed => "delayed",
            Op::Half => "tx half",
            Op::Commit => "tx commit",
            Op::Rollback => "tx rollback",
        }
    }
}

/// Most error messages kept for the summary; the count goes on past it.
const KEPT_ERRORS: usize = 20;

/// Latency and errors of the current interval, swapped out at every report.
struct Window {
    latency: BTreeMap<Op, Histogram<u64>>,
    errors: BTreeMap<Op, u64>,
}

impl Window {
    fn new() -> Window {
        Window {
            latency: Op::ALL
                .iter()
                .map(|op| {
                    let h = Histogram::new_with_bounds(1, 600_000_000, 3)
                        .expect("static histogram bounds");
                    (*op, h)
                })
                .collect(),
            errors: BTreeMap::new(),
        }
    }
}

/// What the load tasks share.
struct Shared {
    client: Client,
    window: Mutex<Window>,
    first_errors: Mutex<Vec<String>>,
    total_errors: AtomicU64,
    consumed: AtomicU64,
    stop: AtomicBool,
    body: bytes::Bytes,
}

impl Shared {
    /// Records one operation that started at `started`.
    fn record<T>(&self, op: Op, started: Instant, result: &Result<T, ClientError>) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut window = lock(&self.window);
        match result {
            Ok(_) => {
                if let Some(h) = window.latency.get_mut(&op) {
                    h.saturating_record(micros.max(1));
                }
            }
            Err(err) => {
                *window.errors.entry(op).or_default() += 1;
                drop(window);
                self.error(op, err);
            }
        }
    }

    fn error(&self, op: Op, err: &dyn std::fmt::Display) {
        self.total_errors.fetch_add(1, Ordering::Relaxed);
        let mut kept = lock(&self.first_errors);
        if kept.len() < KEPT_ERRORS {
            // Escaped and cut: the text comes from the network.
            let text: String = err.to_string().chars().take(300).collect();
            kept.push(format!("{}: {text:?}", op.name()));
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Locks `mutex`, also after a task panicked while holding it (the figures stay usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const TOPIC: &str = "soak";
const PLUGIN_TOPIC: &str = "soak-plugin";
const GROUP: &str = "soak";
const PLUGIN_GROUP: &str = "soak-plugin";
const BINDING: &str = "soak-ack-all";

/// Runs `weir bench soak`.
pub(super) async fn run(args: SoakArgs, connection: &Connection) -> anyhow::Result<()> {
    if args.interval > args.duration {
        bail!("--interval must not be longer than --duration");
    }
    let client = connection.client()?;
    let component = std::fs::read(&args.module).with_context(|| {
        format!(
            "cannot read the consumer component {} (build it with `cargo build --manifest-path \
             plugins/Cargo.toml --workspace --release --target wasm32-wasip2`)",
            args.module.display()
        )
    })?;
    ensure_topic(&client, TOPIC, 4).await?;
    ensure_topic(&client, PLUGIN_TOPIC, 4).await?;
    ensure_group(&client, GROUP, TOPIC, "latest").await?;
    match client
        .create_group(&NewGroup::new(PLUGIN_GROUP, PLUGIN_TOPIC).from("latest"))
        .await
    {
        Err(err) if err.code() != Some(codes::GROUP_EXISTS) => {
            return Err(anyhow::Error::new(err).context("cannot create the plugin's group"));
        }
        _ => {}
    }
    client
        .upload_module(BINDING, PluginWorld::Consumer, component)
        .await
        .context("cannot upload the consumer component")?;
    match client
        .bind(&BindingRequest::consumer(
            BINDING,
            BINDING,
            PLUGIN_TOPIC,
            PLUGIN_GROUP,
        ))
        .await
    {
        Err(err) if err.code() != Some(codes::BINDING_EXISTS) => {
            return Err(anyhow::Error::new(err).context("cannot bind the consumer component"));
        }
        _ => {}
    }

    let shared = Arc::new(Shared {
        client: client.clone(),
        window: Mutex::new(Window::new()),
        first_errors: Mutex::new(Vec::new()),
        total_errors: AtomicU64::new(0),
        consumed: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        body: bytes::Bytes::from(vec![b'x'; args.size]),
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(paced(shared.clone(), args.send_rate, send_one));
    let batch_size = args.batch_size;
    let mut turn = 0u64;
    tasks.spawn(paced(shared.clone(), args.batch_rate, move |s| {
        turn += 1;
        send_batch(s, batch_size, turn)
    }));
    let mut delayed = 0u64;
    tasks.spawn(paced(shared.clone(), args.delayed_rate, move |s| {
        delayed += 1;
        send_delayed(s, delayed)
    }));
    let mut tx = 0u64;
    tasks.spawn(paced(shared.clone(), args.tx_rate, move |s| {
        tx += 1;
        transaction(s, tx)
    }));
    for _ in 0..2 {
        tasks.spawn(consume(shared.clone()));
    }

    println!(
        "soak: {} against {}, a report every {}s",
        describe(args.duration),
        connection.server,
        args.interval.as_secs_f64()
    );
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut last_plugin = plugin_acked(&client).await;
    let mut interval =
        tokio::time::interval_at(tokio::time::Instant::now() + args.interval, args.interval);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut interrupted = false;
    while started.elapsed() + Duration::from_millis(500) < args.duration {
        tokio::select! {
            _ = interval.tick() => {}
            () = ctrl_c() => { interrupted = true; break; }
        }
        let window = std::mem::replace(&mut *lock(&shared.window), Window::new());
        let plugin = plugin_acked(&client).await;
        let sample = Sample::take(args.broker_pid, samples.len() + 1, started.elapsed());
        print_interval(&sample, &window, plugin.saturating_sub(last_plugin));
        last_plugin = plugin;
        samples.push(sample);
    }
    shared.stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}

    let status = client.binding(BINDING).await;
    match &status {
        Ok(status) if status.metrics.failed_calls > 0 => shared.error(
            Op::Receive,
            &format!(
                "the consumer binding failed {} calls (last error: {:?})",
                status.metrics.failed_calls, status.last_error
            ),
        ),
        Ok(_) => {}
        Err(err) => shared.error(Op::Receive, err),
    }
    print_summary(&shared, &samples, started.elapsed(), interrupted);
    let errors = shared.total_errors.load(Ordering::Relaxed);
    if errors > 0 {
        bail!("{errors} operations failed during the soak");
    }
    Ok(())
}

fn describe(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// Runs `step` `rate` times a second until the run stops; a rate of 0 runs nothing.
async fn paced<F, Fut>(shared: Arc<Shared>, rate: u32, mut step: F)
where
    F: FnMut(Arc<Shared>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if rate == 0 {
        return;
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while !shared.stopped() {
        ticks.tick().await;
        step(shared.clone()).await;
    }
}

async fn send_one(s: Arc<Shared>) {
    let started = Instant::now();
    let result = s
        .client
        .send(
            TOPIC,
            &OutgoingMessage::new(s.body.clone()).with_tag("single"),
        )
        .await;
    s.record(Op::Send, started, &result);
}

async fn send_batch(s: Arc<Shared>, size: u32, turn: u64) {
    let topic = if turn.is_multiple_of(2) {
        TOPIC
    } else {
        PLUGIN_TOPIC
    };
    let messages: Vec<OutgoingMessage> = (0..size)
        .map(|_| OutgoingMessage::new(s.body.clone()).with_tag("batch"))
        .collect();
    let started = Instant::now();
    let result = s.client.send_batch_binary(topic, &messages).await;
    s.record(Op::Batch, started, &result);
}

async fn send_delayed(s: Arc<Shared>, n: u64) {
    // 1 to 5 s, spread so that deliveries do not come due together.
    let delay_ms = 1000 + (n * 617) % 4000;
    let message = OutgoingMessage::new(s.body.clone())
        .with_tag("delayed")
        .with_delay_ms(delay_ms);
    let started = Instant::now();
    let result = s.client.send_outcome(TOPIC, &message).await;
    s.record(Op::Delayed, started, &result);
}

async fn transaction(s: Arc<Shared>, n: u64) {
    let message = OutgoingMessage::new(s.body.clone()).with_tag("tx");
    let started = Instant::now();
    let half = s.client.send_half(TOPIC, &message, None, None).await;
    s.record(Op::Half, started, &half);
    let Ok(half) = half else { return };
    let started = Instant::now();
    if n.is_multiple_of(3) {
        let result = s.client.rollback(&half.transaction).await;
        s.record(Op::Rollback, started, &result);
    } else {
        let result = s.client.commit(&half.transaction).await;
        s.record(Op::Commit, started, &result);
    }
}

/// Receives from the group and acks what it got, until the run stops.
async fn consume(s: Arc<Shared>) {
    let options = ReceiveOptions::new(64, 1000);
    while !s.stopped() {
        let started = Instant::now();
        let received = s.client.receive(GROUP, &options).await;
        s.record(Op::Receive, started, &received);
        let Ok(received) = received else {
            // Do not spin on a broker that refuses.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if received.is_empty() {
            continue;
        }
        let receipts: Vec<String> = received.iter().map(|m| m.receipt.clone()).collect();
        let started = Instant::now();
        let acked = s.client.ack(GROUP, &receipts).await;
        s.record(Op::Ack, started, &acked);
        if let Ok(result) = &acked {
            s.consumed.fetch_add(result.count as u64, Ordering::Relaxed);
            for failed in &result.failed {
                s.error(Op::Ack, &format!("{} {}", failed.code, failed.message));
            }
        }
    }
}

/// Messages the consumer binding acked so far; 0 when its status cannot be read.
async fn plugin_acked(client: &Client) -> u64 {
    client
        .binding(BINDING)
        .await
        .map_or(0, |status| status.metrics.acked)
}

/// The broker's resources at one report.
struct Sample {
    index: usize,
    at: Duration,
    rss_kib: Option<u64>,
    anon_kib: Option<u64>,
    file_kib: Option<u64>,
    threads: Option<u64>,
    fds: Option<u64>,
}

impl Sample {
    fn take(pid: Option<u32>, index: usize, at: Duration) -> Sample {
        let status =
            pid.and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok());
        let field = |name: &str| {
            status.as_deref().and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix(name))
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
            })
        };
        let fds = pid
            .and_then(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).ok())
            .map(|dir| dir.count() as u64);
        Sample {
            index,
            at,
            rss_kib: field("VmRSS:"),
            anon_kib: field("RssAnon:"),
            file_kib: field("RssFile:"),
            threads: field("Threads:"),
            fds,
        }
    }
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "?".to_owned(), |v| v.to_string())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

fn print_interval(sample: &Sample, window: &Window, plugin_acked: u64) {
    let errors: u64 = window.errors.values().sum();
    println!(
        "[{:>3}] t={:>5.0}s  rss {} MiB (anon {}, mapped {})  fds {}  threads {}  plugin acked {}  errors {}",
        sample.index,
        sample.at.as_secs_f64(),
        mib(sample.rss_kib),
        mib(sample.anon_kib),
        mib(sample.file_kib),
        show(sample.fds),
        show(sample.threads),
        plugin_acked,
        errors
    );
    println!(
        "      {:<12} {:>8} {:>9} {:>9} {:>9} {:>7}",
        "op", "count", "p50 ms", "p99 ms", "p999 ms", "errors"
    );
    for (op, h) in &window.latency {
        let failed = window.errors.get(op).copied().unwrap_or(0);
        if h.is_empty() && failed == 0 {
            continue;
        }
        println!(
            "      {:<12} {:>8} {:>9} {:>9} {:>9} {:>7}",
            op.name(),
            h.len(),
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            ms(h.value_at_quantile(0.999)),
            failed
        );
    }
}

fn drift(first: Option<u64>, last: Option<u64>) -> String {
    match (first, last) {
        (Some(a), Some(b)) => format!("{a} -> {b} ({:+})", b as i64 - a as i64),
        _ => "?".to_owned(),
    }
}

fn print_summary(shared: &Shared, samples: &[Sample], elapsed: Duration, interrupted: bool) {
    println!();
    println!(
        "summary: {:.0}s{}, {} reports, {} messages acked through the group",
        elapsed.as_secs_f64(),
        if interrupted { " (interrupted)" } else { "" },
        samples.len(),
        shared.consumed.load(Ordering::Relaxed)
    );
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        println!(
            "  rss KiB  {}\n    anon   {}\n    mapped {}\n  fds      {}\n  threads  {}",
            drift(first.rss_kib, last.rss_kib),
            drift(first.anon_kib, last.anon_kib),
            drift(first.file_kib, last.file_kib),
            drift(first.fds, last.fds),
            drift(first.threads, last.threads)
        );
    }
    let errors = shared.total_errors.load(Ordering::Relaxed);
    println!("  errors   {errors}");
    for error in lock(&shared.first_errors).iter() {
        println!("    {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_units_or_as_seconds() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("soon").is_err());
    }
}

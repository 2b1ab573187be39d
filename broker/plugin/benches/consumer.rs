//! Consumer bindings end to end, in process: a prefilled topic consumed by the `ack-all`
//! test component bound as a consumer (receive from the group, call `handle`, ack), and
//! the same loop with a native consumer (a Tokio task calling a Rust handler that acks
//! everything), per batch size and concurrency, until the group's lag is 0: messages per
//! second, and the CPU time of the whole process per message (steadier than wall time
//! on a shared machine; it includes the broker's background threads). Also the
//! bare cost of the component call: `handle` on a batch of 100 messages of 100 bytes,
//! without the broker.
//!
//! ```text
//! cargo bench -p weir-plugin --bench consumer            # everything
//! cargo bench -p weir-plugin --bench consumer -- bare    # only the bare call
//! cargo bench -p weir-plugin --bench consumer -- broker  # only the end-to-end runs
//! cargo bench -p weir-plugin --bench consumer -- plugin  # only the plugin's runs
//! ```
//!
//! Environment:
//! - `WEIR_BENCH_DIR`: the data directory (default: a temporary one, removed at the end);
//! - `WEIR_BENCH_MESSAGES`: messages consumed per run at batches of 100 and 1000 (default
//!   2,000,000; a tenth of it at batch 10, a fiftieth at batch 1);
//! - `WEIR_BENCH_BATCHES`: the batch sizes to run, e.g. `100,1000` (default all);
//! - `WEIR_BENCH_PRIORITY`: the plugin call priority, `idle` (default), `low` or `normal`;
//! - `WEIR_BENCH_CONCURRENCY`: the concurrencies to run, e.g. `2,4` (default 1 and 2);
//! - `WEIR_BENCH_ROUNDS`: rounds of every run, each with new groups (default 3); the
//!   table keeps the best of them, the machine being shared;
//! - `WEIR_BENCH_PERFMAP`: when set, the bare call's engine writes `/tmp/perf-<pid>.map`,
//!   so that `perf report` names the component's functions;
//! - `WEIR_BENCH_LANGUAGES`: the builds of `ack-all` to compare, e.g. `rust,c,python`
//!   (default `rust`), or `label=path/to/component.wasm` for another build. Each is
//!   uploaded (the time from upload to ready is printed), run in every configuration next
//!   to the native consumer and the first language, and reloaded at the end by a fresh
//!   plugin host (the time per module is printed).
//!
//! Rust's component is `plugins/target/wasm32-wasip2/release/ack_all.wasm`, built when
//! missing (`cargo build --release --target wasm32-wasip2 -p ack-all` in `plugins/`);
//! another language's is `plugins/target/components/<lang>/ack-all.wasm`, which
//! `sdk-guest/<lang>/test.sh` builds (`sdk-guest/c/test.sh` for c, cpp and zig).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cpu_ns;
use tokio::sync::watch;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weir_core::{
    Broker, BrokerConfig, Delivery, GroupSpec, Limits, MessageDraft, ReceiveRequest, StartFrom,
    StoreConfig,
};
use weir_plugin::{BindingSpec, Grants, PluginHost, PluginHostConfig, TargetSpec, World};

/// Queues per topic.
const QUEUES: u32 = 8;
/// Message body size, bytes.
const BODY: usize = 100;
/// Messages per send while filling.
const SEND_BATCH: usize = 1000;
/// Batch sizes measured.
const BATCHES: [usize; 4] = [1, 10, 100, 1000];
/// Concurrencies measured (calls in flight per binding, tasks of the native consumer).
const CONCURRENCY: [usize; 2] = [1, 2];
/// How long a receive waits for messages (the binding's own wait).
const RECEIVE_WAIT: Duration = Duration::from_millis(1_000);
/// How often the group's lag is read while a run is under way.
const LAG_POLL: Duration = Duration::from_millis(2);
/// Longest a run may take before the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// Messages per call of the bare call measurement.
const BARE_BATCH: usize = 100;
/// Calls timed in the bare call measurement.
const BARE_CALLS: usize = 20_000;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The parts to run: `bare`, `native`, `plugin` (`broker`: both of the latter); all
/// when none is named. `cargo bench` passes `--bench`, which is ignored.
struct Parts(Vec<String>);

impl Parts {
    fn from_args() -> Self {
        Self(
            std::env::args()
                .skip(1)
                .filter(|a| !a.starts_with("--"))
                .collect(),
        )
    }

    fn wanted(&self, part: &str) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|o| o == part || (o == "broker" && part != "bare"))
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let parts = Parts::from_args();
    if parts.wanted("native") || parts.wanted("plugin") {
        runtime.block_on(run(&languages(), &parts));
    }
    if parts.wanted("bare") {
        bare_call(&ack_all());
    }
}

/// The topic a batch size consumes, and how many messages it holds.
fn topic_for(batch: usize, messages: usize) -> (String, usize) {
    match batch {
        1 => ("bench-1".into(), messages / 50),
        10 => ("bench-10".into(), messages / 10),
        _ => ("bench".into(), messages),
    }
}

/// One measured run.
struct Figure {
    batch: usize,
    concurrency: usize,
    messages: u64,
    seconds: f64,
    /// CPU time of the whole process per message, ns.
    cpu_ns: f64,
    /// Time inside `handle` per message, ns (plugin runs only).
    call_ns: Option<f64>,
}

impl Figure {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
}

/// The `ack-all` builds to compare: `(language, component)`, from `WEIR_BENCH_LANGUAGES`.
fn languages() -> Vec<(String, Vec<u8>)> {
    let names = std::env::var("WEIR_BENCH_LANGUAGES").unwrap_or_else(|_| "rust".into());
    names
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|entry| {
            // `label=path` runs the component at `path` under `label`.
            let (name, path) = match entry.split_once('=') {
                Some((label, path)) => (label, Some(PathBuf::from(path))),
                None => (entry, None),
            };
            let path = match path {
                Some(path) => path,
                None if name == "rust" => return (name.to_owned(), ack_all()),
                None => Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../plugins/target/components")
                    .join(name)
                    .join("ack-all.wasm"),
            };
            let component = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "reading {}: {e} (build it with sdk-guest/<lang>/test.sh)",
                    path.display()
                )
            });
            (name.to_owned(), component)
        })
        .collect()
}

async fn run(languages: &[(String, Vec<u8>)], parts: &Parts) {
    let messages = env_count("WEIR_BENCH_MESSAGES", 2_000_000);
    let batches: Vec<usize> = std::env::var("WEIR_BENCH_BATCHES").map_or_else(
        |_| BATCHES.to_vec(),
        |v| v.split(',').filter_map(|b| b.trim().parse().ok()).collect(),
    );
    let concurrencies: Vec<usize> = std::env::var("WEIR_BENCH_CONCURRENCY").map_or_else(
        |_| CONCURRENCY.to_vec(),
        |v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect(),
    );
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir =
        std::env::var_os("WEIR_BENCH_DIR").map_or_else(|| temp.path().to_path_buf(), Into::into);
    let broker = Broker::open(BrokerConfig {
        store: StoreConfig::new(dir.join("store")),
        limits: Limits::default(),
    })
    .expect("open the broker");
    let mut config = PluginHostConfig::new(&dir);
    if let Ok(priority) = std::env::var("WEIR_BENCH_PRIORITY") {
        config.call_priority = priority.parse().expect("WEIR_BENCH_PRIORITY");
    }
    println!("plugin call priority: {:?}", config.call_priority);
    let host = PluginHost::open(Arc::clone(&broker), config.clone())
        .await
        .expect("open the plugin host");
    for (language, component) in languages {
        let (started, cpu) = (Instant::now(), cpu_ns());
        host.upload(language, World::Consumer, component.clone())
            .await
            .expect("upload ack-all");
        println!(
            "{language}: {:.1} MB uploaded and ready in {:.2} s ({:.2} CPU-s)",
            component.len() as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            (cpu_ns() - cpu) / 1e9,
        );
    }

    let body = "x".repeat(BODY);
    let started = Instant::now();
    let mut filled = 0;
    for batch in [1, 10, 100] {
        let (topic, count) = topic_for(batch, messages);
        broker.create_topic(&topic, QUEUES).await.expect("topic");
        for _ in 0..count.div_ceil(SEND_BATCH) {
            let drafts = (0..SEND_BATCH)
                .map(|_| MessageDraft::new(body.clone()))
                .collect();
            broker.send(&topic, drafts).await.expect("send");
            filled += SEND_BATCH;
        }
    }
    println!(
        "filled {filled} messages of {BODY} B in {:.2} s (async flush)",
        started.elapsed().as_secs_f64()
    );

    // Best of the rounds per batch size and concurrency, in that order; per language.
    let mut plugin: Vec<Vec<Figure>> = languages.iter().map(|_| Vec::new()).collect();
    let mut native = Vec::new();
    let rounds = env_count("WEIR_BENCH_ROUNDS", 3).max(1);
    for round in 1..=rounds {
        let mut at = 0;
        for &batch in &batches {
            for &concurrency in &concurrencies {
                let (topic, _) = topic_for(batch, messages);
                if parts.wanted("native") {
                    let group = format!("native-{batch}-{concurrency}-{round}");
                    let figure = native_run(&broker, &topic, &group, batch, concurrency).await;
                    print_figure("native", round, &figure);
                    keep_best(&mut native, at, figure);
                }
                if parts.wanted("plugin") {
                    for ((language, _), best) in languages.iter().zip(&mut plugin) {
                        let group = format!("{language}-{batch}-{concurrency}-{round}");
                        let run = Run {
                            module: language,
                            topic: &topic,
                            group: &group,
                            batch,
                            concurrency,
                        };
                        let figure = plugin_run(&broker, &host, run).await;
                        print_figure(language, round, &figure);
                        keep_best(best, at, figure);
                    }
                }
                at += 1;
            }
        }
    }

    println!();
    println!("best of {rounds} rounds (rate and CPU time each at their best):");
    println!(
        "language  batch  conc  native msgs/s  plugin msgs/s  ratio  native CPU ns/msg  plugin CPU ns/msg  ratio  in-call ns/msg  CPU vs {}",
        languages
            .first()
            .map_or("-", |(language, _)| language.as_str())
    );
    for ((language, _), figures) in languages.iter().zip(&plugin) {
        for ((n, p), first) in native.iter().zip(figures).zip(&plugin[0]) {
            println!(
                "{language:<8}  {:>5}  {:>4}  {:>13.0}  {:>13.0}  {:>4.2}x  {:>17.0}  {:>17.0}  {:>4.2}x  {:>14.0}  {:>4.2}x",
                n.batch,
                n.concurrency,
                n.rate(),
                p.rate(),
                n.rate() / p.rate(),
                n.cpu_ns,
                p.cpu_ns,
                p.cpu_ns / n.cpu_ns,
                p.call_ns.unwrap_or(f64::NAN),
                p.cpu_ns / first.cpu_ns,
            );
        }
    }
    if native.is_empty() {
        for ((language, _), figures) in languages.iter().zip(&plugin) {
            for p in figures {
                println!(
                    "{language:<8}  batch {:>4} x{}: {:.0} msgs/s, {:.0} CPU ns/msg, {:.0} ns/msg in the call",
                    p.batch,
                    p.concurrency,
                    p.rate(),
                    p.cpu_ns,
                    p.call_ns.unwrap_or(f64::NAN),
                );
            }
        }
    }
    host.shutdown().await;

    // A restart's reload: a fresh host loads every module from its precompiled artifact.
    let started = Instant::now();
    let reopened = PluginHost::open(Arc::clone(&broker), config)
        .await
        .expect("reopen the plugin host");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "reload: {} modules in {:.0} ms ({:.1} ms per module)",
        languages.len(),
        seconds * 1e3,
        seconds * 1e3 / languages.len().max(1) as f64
    );
    reopened.shutdown().await;
    broker.close().expect("close");
    drop(temp);
}

/// Keeps the best of `figure` and `best[at]`: the shortest time, the least CPU.
fn keep_best(best: &mut Vec<Figure>, at: usize, figure: Figure) {
    let Some(kept) = best.get_mut(at) else {
        best.push(figure);
        return;
    };
    kept.seconds = kept.seconds.min(figure.seconds);
    kept.cpu_ns = kept.cpu_ns.min(figure.cpu_ns);
    kept.call_ns = match (kept.call_ns, figure.call_ns) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
}

fn print_figure(kind: &str, round: usize, figure: &Figure) {
    println!(
        "{kind:<6} #{round} batch {:>4} x{}: {} msgs in {:.2} s = {:.0} msgs/s, {:.0} ns CPU/msg",
        figure.batch,
        figure.concurrency,
        figure.messages,
        figure.seconds,
        figure.rate(),
        figure.cpu_ns,
    );
}

async fn create_group(broker: &Broker, topic: &str, group: &str) -> u64 {
    broker
        .create_group(GroupSpec {
            name: group.into(),
            topic: topic.into(),
            from: Some(StartFrom::Earliest),
            ..GroupSpec::default()
        })
        .await
        .expect("group");
    broker.lag(group, None).expect("lag").total
}

/// Waits until the group's lag is 0; answers the time since `started`.
async fn drained(broker: &Broker, group: &str, started: Instant) -> f64 {
    loop {
        if broker.lag(group, None).expect("lag").total == 0 {
            return started.elapsed().as_secs_f64();
        }
        assert!(started.elapsed() < RUN_LIMIT, "{group} did not drain");
        tokio::time::sleep(LAG_POLL).await;
    }
}

/// One plugin run: `module` consumes `topic` as `group`.
struct Run<'a> {
    module: &'a str,
    topic: &'a str,
    group: &'a str,
    batch: usize,
    concurrency: usize,
}

async fn plugin_run(broker: &Arc<Broker>, host: &PluginHost, run: Run<'_>) -> Figure {
    let Run {
        module,
        topic,
        group,
        batch,
        concurrency,
    } = run;
    let lag = create_group(broker, topic, group).await;
    let (started, cpu) = (Instant::now(), cpu_ns());
    host.bind(BindingSpec {
        name: group.into(),
        module: module.into(),
        version: None,
        target: TargetSpec::Consumer {
            topic: topic.into(),
            group: group.into(),
            batch_size: Some(batch),
            concurrency: Some(concurrency),
        },
        deadline_ms: None,
        memory_bytes: None,
        state_bytes: None,
        config: String::new(),
        grants: Grants::default(),
    })
    .await
    .expect("bind");
    let seconds = drained(broker, group, started).await;
    let cpu_ns = (cpu_ns() - cpu) / lag as f64;
    let metrics = host.binding(group).expect("binding").metrics;
    host.unbind(group).await.expect("unbind");
    assert_eq!(metrics.acked, lag, "every message acked once");
    Figure {
        batch,
        concurrency,
        messages: lag,
        seconds,
        cpu_ns,
        call_ns: Some(metrics.latency_sum_us as f64 * 1000.0 / metrics.messages as f64),
    }
}

/// What the native handler answers per message.
enum Outcome {
    Ack,
}

/// The native counterpart of `ack-all`.
fn handle(batch: &[Delivery]) -> Vec<Outcome> {
    batch.iter().map(|_| Outcome::Ack).collect()
}

async fn native_run(
    broker: &Arc<Broker>,
    topic: &str,
    group: &str,
    batch: usize,
    concurrency: usize,
) -> Figure {
    let lag = create_group(broker, topic, group).await;
    let (started, cpu) = (Instant::now(), cpu_ns());
    let (stop, stopped) = watch::channel(false);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let broker = Arc::clone(broker);
            let group = group.to_string();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let mut acked = 0u64;
                loop {
                    let request = ReceiveRequest {
                        max: batch,
                        wait: RECEIVE_WAIT,
                        invisible_ms: None,
                        consumer: None,
                    };
                    let deliveries = tokio::select! {
                        biased;
                        _ = stopped.changed() => return acked,
                        received = broker.receive(&group, request) => received.expect("receive"),
                    };
                    if deliveries.is_empty() {
                        continue;
                    }
                    let outcomes = handle(&deliveries);
                    let mut acks = Vec::with_capacity(deliveries.len());
                    for (delivery, outcome) in deliveries.into_iter().zip(outcomes) {
                        match outcome {
                            Outcome::Ack => acks.push(delivery.receipt),
                        }
                    }
                    acked += acks.len() as u64;
                    broker.ack(&group, &acks).await.expect("ack");
                }
            })
        })
        .collect();
    let seconds = drained(broker, group, started).await;
    let cpu_ns = (cpu_ns() - cpu) / lag as f64;
    stop.send_replace(true);
    let mut acked = 0;
    for task in tasks {
        acked += task.await.expect("native consumer");
    }
    assert_eq!(acked, lag, "every message acked once");
    Figure {
        batch,
        concurrency,
        messages: lag,
        seconds,
        cpu_ns,
        call_ns: None,
    }
}

/// The `ack-all` component, built when missing.
fn ack_all() -> Vec<u8> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins");
    let path: PathBuf = workspace.join("target/wasm32-wasip2/release/ack_all.wasm");
    if !path.exists() {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .args(["--locked", "--quiet", "-p", "ack-all"])
            .current_dir(&workspace)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .status()
            .expect("running cargo to build ack-all");
        assert!(
            status.success(),
            "building ack-all failed (`rustup target add wasm32-wasip2`?)"
        );
    }
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The consumer world, bound here as the host binds it, so that `handle` can be called
/// without a broker (the host's instances are internal to the crate).
mod world {
    wasmtime::component::bindgen!({
        world: "consumer-plugin",
        path: "../../wit",
    });
}

use world::weir::plugin::{host, types};

/// A store's data: no capabilities, host functions that do nothing.
struct Bare {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for Bare {}

impl host::Host for Bare {
    fn log(&mut self, _level: host::Level, _message: String) {}
    fn now_ms(&mut self) -> i64 {
        0
    }
    fn state_get(&mut self, _key: String) -> Option<Vec<u8>> {
        None
    }
    fn state_set(&mut self, _key: String, _value: Vec<u8>, _ttl_ms: u64) -> Result<(), String> {
        Ok(())
    }
    fn state_delete(&mut self, _key: String) {}
    fn publish(&mut self, _message: types::Outgoing) -> Result<String, String> {
        Err("not granted".into())
    }
    fn http_request(
        &mut self,
        _method: String,
        _url: String,
        _headers: Vec<(String, String)>,
        _body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        Err("not granted".into())
    }
}

/// `handle` on batches of 100 messages of 100 bytes, with the engine set up as the
/// host's (epoch interruption on, a deadline set before every call).
fn bare_call(component: &[u8]) {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    if std::env::var_os("WEIR_BENCH_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config).expect("engine");
    let component = Component::new(&engine, component).expect("compile ack-all");
    let mut linker = Linker::<Bare>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("link WASI");
    host::add_to_linker::<Bare, HasSelf<Bare>>(&mut linker, |state| state).expect("link host");
    let pre = world::ConsumerPluginPre::new(linker.instantiate_pre(&component).expect("pre"))
        .expect("consumer world");
    let mut store = Store::new(
        &engine,
        Bare {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    store.set_epoch_deadline(1_000_000);
    let plugin = pre.instantiate(&mut store).expect("instantiate");
    let guest = plugin.weir_plugin_consumer();
    let batch: Vec<types::Message> = (0..BARE_BATCH as u64)
        .map(|i| types::Message {
            id: format!("{i:032X}"),
            topic: "bench".into(),
            queue: 0,
            offset: i,
            keys: Vec::new(),
            tag: None,
            message_group: None,
            properties: Vec::new(),
            body: vec![b'x'; BODY],
            born_ms: 0,
            attempt: 1,
        })
        .collect();
    for _ in 0..1_000 {
        guest.call_handle(&mut store, "", &batch).expect("warm-up");
    }
    let started = Instant::now();
    for _ in 0..BARE_CALLS {
        store.set_epoch_deadline(1_000_000);
        let outcomes = guest.call_handle(&mut store, "", &batch).expect("handle");
        assert_eq!(outcomes.len(), BARE_BATCH);
    }
    let elapsed = started.elapsed();
    let per_call = elapsed.as_nanos() as f64 / BARE_CALLS as f64;
    println!();
    println!(
        "bare handle, {BARE_BATCH} msgs of {BODY} B, no broker: {:.1} µs/call = {:.0} ns/msg ({:.0} msgs/s on one thread)",
        per_call / 1000.0,
        per_call / BARE_BATCH as f64,
        BARE_BATCH as f64 * 1e9 / per_call,
    );
}

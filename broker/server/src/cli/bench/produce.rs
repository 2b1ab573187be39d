//! `weir bench produce`: arguments and orchestration of a produce load run.
//!
//! The run: make sure the topic exists, build the request once (a fixed payload; each
//! send gets fresh message ids, kept across its retries), start `--concurrency` workers, let them warm up for `--warmup`
//! seconds (nothing recorded), then measure until `--duration` has passed, `--count`
//! messages are stored, or Ctrl-C. Figures are printed at the end, the progress bar on
//! stderr while running.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use tokio::task::JoinSet;
use weir_client::{Client, EncodedBatch, OutgoingMessage, PreparedSend};

use super::progress;
use super::report::{self, Errors, Latency, Report, Retries};
use super::setup::{ctrl_c, ensure_topic, seconds};
use super::worker::{self, Shared, WorkerOutcome};
use crate::cli::{Connection, output};

/// Send messages as fast as the broker takes them and print throughput and latency.
#[derive(clap::Args, Debug)]
pub(crate) struct ProduceArgs {
    /// The topic to send to; created if missing.
    #[arg(long, default_value = "bench")]
    topic: String,
    /// Queues of the topic when it has to be created.
    #[arg(long, default_value_t = 8, value_name = "N")]
    queues: u32,
    /// Body size of each message, in bytes.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    size: usize,
    /// Messages per request; above 1 the binary batch format is used.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch: u32,
    /// Requests in flight, each from its own task.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Stop after this many measured messages (rounded up to whole batches).
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    count: Option<u64>,
    /// Measure for this many seconds [default: 10].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    warmup: f64,
    /// Speak HTTP/2 (h2c, prior knowledge): all requests over one connection.
    #[arg(long)]
    http2: bool,
}

/// Runs `weir bench produce`.
pub(super) async fn run(args: ProduceArgs, connection: &Connection) -> anyhow::Result<()> {
    let duration = seconds("--duration", args.duration.unwrap_or(10.0))?;
    let warmup = seconds("--warmup", args.warmup)?;
    if args.count == Some(0) {
        bail!("--count must be at least 1");
    }
    if duration.is_zero() && args.count.is_none() {
        bail!("--duration must be more than 0 seconds");
    }
    let concurrency = usize::try_from(args.concurrency).context("--concurrency is too large")?;
    let client = connection.client_with(|builder| builder.http2(args.http2))?;
    ensure_topic(&client, &args.topic, args.queues).await?;
    let prepared = Arc::new(prepare(&client, &args)?);

    let remaining = args
        .count
        .map_or(u64::MAX, |count| count.div_ceil(u64::from(args.batch)));
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        remaining_requests: AtomicU64::new(remaining),
        measured_messages: AtomicU64::new(0),
        measured_errors: AtomicU64::new(0),
        measure_from: Instant::now() + warmup,
    });
    let histogram = worker::latency_histogram().context("cannot create the latency histogram")?;
    let mut workers = JoinSet::new();
    let topic: Arc<str> = Arc::from(args.topic.as_str());
    for _ in 0..concurrency {
        workers.spawn(worker::run(
            client.clone(),
            topic.clone(),
            prepared.clone(),
            shared.clone(),
            histogram.clone(),
        ));
    }
    let hidden = connection.json || !std::io::stderr().is_terminal();
    let progress = progress::bar(hidden, args.count, warmup + duration);
    let counters = {
        let shared = shared.clone();
        move || {
            (
                shared.measured_messages.load(Ordering::Relaxed),
                shared.measured_errors.load(Ordering::Relaxed),
            )
        }
    };
    let ticker = tokio::spawn(progress::tick(
        progress.clone(),
        counters,
        shared.measure_from,
        args.count.is_some(),
    ));

    // Stop on the deadline (in --duration mode) or on Ctrl-C; in --count mode the workers
    // end by themselves when the budget is spent.
    let deadline = args.count.is_none().then(|| shared.measure_from + duration);
    let stop_signal = async {
        match deadline {
            Some(deadline) => tokio::select! {
                () = tokio::time::sleep_until(deadline.into()) => false,
                () = ctrl_c() => true,
            },
            None => {
                ctrl_c().await;
                true
            }
        }
    };
    tokio::pin!(stop_signal);
    let mut interrupted = false;
    let mut stopped = false;
    let mut outcomes = Vec::with_capacity(concurrency);
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                Some(outcome) => outcomes.push(outcome.context("a load task failed")?),
                None => break,
            },
            by_user = &mut stop_signal, if !stopped => {
                interrupted = by_user;
                stopped = true;
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
    }
    let finished = Instant::now();
    ticker.abort();
    progress.finish_and_clear();

    if finished <= shared.measure_from {
        bail!("stopped during the warm-up: nothing was measured");
    }
    let report = build_report(
        &args,
        &connection.server,
        &prepared,
        outcomes,
        finished - shared.measure_from,
        interrupted,
    )?;
    if report.requests == 0 && report.errors.total > 0 {
        let first = report.errors.first.as_deref().unwrap_or("unknown error");
        bail!(
            "every request failed ({} errors); the first: {first}",
            report.errors.total
        );
    }
    if connection.json {
        output::print_json(&report)
    } else {
        output::print(&report.render())
    }
}

/// The request every worker sends: one raw message, or one binary batch.
fn prepare(client: &Client, args: &ProduceArgs) -> anyhow::Result<PreparedSend> {
    // Printable, so that `weir get` shows bench messages as text.
    let payload: Bytes = (0..args.size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
        .collect();
    let message = OutgoingMessage::new(payload);
    let prepared = if args.batch == 1 {
        client.prepare_send(&args.topic, &message)
    } else {
        let messages = vec![message; usize::try_from(args.batch).unwrap_or(1)];
        client.prepare_batch(&args.topic, &EncodedBatch::encode(&messages)?)
    };
    prepared.context("cannot build the bench request")
}

fn build_report(
    args: &ProduceArgs,
    server: &str,
    prepared: &PreparedSend,
    outcomes: Vec<WorkerOutcome>,
    elapsed: Duration,
    interrupted: bool,
) -> anyhow::Result<Report> {
    let mut latency = worker::latency_histogram().context("cannot create the latency histogram")?;
    let (mut requests, mut flush_timeouts) = (0, 0);
    let mut retries = Retries::default();
    let mut errors = Errors {
        total: 0,
        by_code: Default::default(),
        first: None,
    };
    for outcome in outcomes {
        latency
            .add(&outcome.latency_us)
            .context("cannot merge latency histograms")?;
        requests += outcome.requests;
        flush_timeouts += outcome.flush_timeouts;
        retries.retries += outcome.retries;
        retries.retried_requests += outcome.retried_requests;
        retries.failed_stored += outcome.failed_stored;
        retries.failed_not_stored += outcome.failed_not_stored;
        retries.failed_unknown += outcome.failed_unknown;
        for (code, count) in outcome.errors {
            errors.total += count;
            *errors.by_code.entry(code).or_default() += count;
        }
        errors.first = errors.first.or(outcome.first_error);
    }
    let messages = requests * u64::from(prepared.messages());
    let body_bytes = requests * prepared.body_bytes();
    Ok(Report {
        server: server.to_owned(),
        topic: args.topic.clone(),
        http2: args.http2,
        size: args.size,
        batch: args.batch,
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        elapsed_s: elapsed.as_secs_f64(),
        interrupted,
        messages,
        requests,
        msgs_per_s: report::rate(messages as f64, elapsed),
        requests_per_s: report::rate(requests as f64, elapsed),
        mb_per_s: report::rate(body_bytes as f64 / 1e6, elapsed),
        latency_us: Latency::from_histogram(&latency),
        flush_timeouts,
        retries,
        errors,
    })
}

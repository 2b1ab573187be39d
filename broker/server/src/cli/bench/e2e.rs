//! `weir bench e2e`: producers at a target rate and consumers together; measures the
//! end-to-end latency of each message, from its send to its receipt by a consumer.
//!
//! Each message carries two properties: `bench-run`, an id of this run (messages of
//! other runs are acked and not counted), and `bench-sent-us`, when the producer sent it
//! in µs since the run started (a monotonic clock in this process, which the consumers
//! share, so no wall-clock skew enters). A consumer computes the latency when its receive
//! returns. Messages sent during the warm-up are consumed but not recorded.
//!
//! The run: make sure the topic and group exist and move the group to `latest` (so that an
//! old backlog does not count), start the consumers, then the producers, each sending its
//! share of `--rate` on a fixed schedule (open loop: a late producer sends at once to catch
//! up, and the report says how late it got). After `--duration` the producers stop and
//! the consumers get up to `--drain` seconds to receive what was sent.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::task::JoinSet;
use weir_client::{Client, EncodedBatch, OutgoingMessage, ReceiveOptions, ResetRequest, StopToken};

use super::progress;
use super::report::{self, Errors, Latency, latency_line, micros};
use super::setup::{ctrl_c, ensure_group, ensure_topic, seconds};
use super::worker::{TRANSPORT_FAILURE_PAUSE, is_transport, latency_histogram};
use crate::cli::failure::explain_group;
use crate::cli::{Connection, output};

/// The property naming the run a message belongs to.
const RUN_PROPERTY: &str = "bench-run";
/// The property holding when the message was sent, in µs since the run started.
const SENT_PROPERTY: &str = "bench-sent-us";
/// How often the controller checks whether the consumers have caught up.
const DRAIN_CHECK: Duration = Duration::from_millis(50);

/// Produce at a target rate and consume at once; print end-to-end latency percentiles.
#[derive(clap::Args, Debug)]
pub(crate) struct E2eArgs {
    /// The topic; created if missing.
    #[arg(long, default_value = "bench-e2e")]
    topic: String,
    /// The group; created if missing, and moved to the end of the topic before the run.
    #[arg(long, default_value = "bench-e2e")]
    group: String,
    /// Queues of the topic when it has to be created.
    #[arg(long, default_value_t = 8, value_name = "N")]
    queues: u32,
    /// Body size of each message, in bytes.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    size: usize,
    /// Messages per second, all producers together.
    #[arg(long, default_value_t = 1000.0, value_name = "MSGS_PER_S")]
    rate: f64,
    /// Producer tasks, each with one request in flight and an equal share of the rate.
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    producers: u64,
    /// Messages per send; above 1 the binary batch format is used.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    producer_batch: u32,
    /// Consumer tasks, each with one receive in flight.
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    consumers: u64,
    /// Messages per receive, 1–1000 (acks are batched per receive).
    #[arg(long, default_value_t = 32, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
    /// How long each receive waits for messages (long poll), in ms.
    #[arg(long, default_value_t = 1000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(0..=30_000))]
    wait_ms: u64,
    /// Produce for this many seconds after the warm-up.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    warmup: f64,
    /// Seconds the consumers get, after the producers stop, to receive the rest.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    drain: f64,
    /// Speak HTTP/2 (h2c, prior knowledge): all requests over one connection.
    #[arg(long)]
    http2: bool,
}

/// State shared by the tasks and the controller.
struct Shared {
    /// Stops the producers.
    stop_producers: StopToken,
    /// Stops the consumers (a receive in progress is abandoned).
    stop_consumers: StopToken,
    /// The run's clock: `bench-sent-us` counts from here.
    epoch: Instant,
    /// Messages sent from here on (µs since `epoch`) are measured.
    measure_from_us: u64,
    /// This run's id, in `bench-run`.
    run: String,
    /// Measured messages sent.
    sent: AtomicU64,
    /// Measured messages received.
    received: AtomicU64,
    /// Failed requests.
    errors: AtomicU64,
}

impl Shared {
    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// What one producer saw.
struct ProducerOutcome {
    send_us: Histogram<u64>,
    sent: u64,
    max_behind_us: u64,
    errors: Errors,
}

/// What one consumer saw.
struct ConsumerOutcome {
    e2e_us: Histogram<u64>,
    received: u64,
    /// Messages of this run sent during the warm-up.
    warmup: u64,
    /// Messages of other runs (or without the bench properties).
    foreign: u64,
    /// Deliveries after the first (the message was not acked in time).
    redelivered: u64,
    expired: u64,
    errors: Errors,
}

/// Everything an end-to-end run measured, as printed with `--json`.
#[derive(Debug, Serialize)]
struct E2eReport {
    server: String,
    topic: String,
    group: String,
    http2: bool,
    size: usize,
    target_rate: f64,
    producers: u64,
    producer_batch: u32,
    consumers: u64,
    batch: u32,
    /// The measured window: from the end of the warm-up until the producers stopped.
    elapsed_s: f64,
    interrupted: bool,
    /// Measured messages sent and received.
    sent: u64,
    received: u64,
    /// Measured messages sent but not received by the end of the drain.
    missing: u64,
    /// Deliveries after the first (redeliveries, counted in `received` too).
    redelivered: u64,
    /// Messages of other runs, acked and not counted.
    foreign: u64,
    send_rate: f64,
    receive_rate: f64,
    /// From the send to the receipt by a consumer, in µs.
    latency_us: Latency,
    /// Of each send request (a whole producer batch), in µs.
    send_latency_us: Latency,
    /// How far behind its schedule a producer fell, at worst, in µs.
    max_behind_us: u64,
    /// Acks refused because the receipt had expired.
    expired: u64,
    errors: Errors,
}

/// Runs `weir bench e2e`.
pub(super) async fn run(args: E2eArgs, connection: &Connection) -> anyhow::Result<()> {
    let duration = seconds("--duration", args.duration)?;
    let warmup = seconds("--warmup", args.warmup)?;
    let drain = seconds("--drain", args.drain)?;
    if duration.is_zero() {
        bail!("--duration must be more than 0 seconds");
    }
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a number of messages per second above 0");
    }
    let wait = Duration::from_millis(args.wait_ms);
    let client = connection.client_with(|builder| {
        builder
            .http2(args.http2)
            .timeout(Some(wait + Duration::from_secs(30)))
    })?;
    ensure_topic(&client, &args.topic, args.queues).await?;
    ensure_group(&client, &args.group, &args.topic, "latest").await?;
    let group = &args.group;
    client
        .reset_group(group, &ResetRequest::latest())
        .await
        .map_err(|err| explain_group(err, format!("cannot reset group '{group}'"), group))?;

    let epoch = Instant::now();
    let shared = Arc::new(Shared {
        stop_producers: StopToken::new(),
        stop_consumers: StopToken::new(),
        epoch,
        measure_from_us: u64::try_from(warmup.as_micros()).unwrap_or(u64::MAX),
        run: run_id(),
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let mut consumers = JoinSet::new();
    for _ in 0..args.consumers {
        consumers.spawn(consumer(
            client.clone(),
            args.group.clone(),
            ReceiveOptions::new(args.batch, args.wait_ms),
            shared.clone(),
        ));
    }
    let payload: Bytes = (0..args.size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
        .collect();
    let interval =
        Duration::from_secs_f64(f64::from(args.producer_batch) * args.producers as f64 / args.rate);
    let mut producers = JoinSet::new();
    for index in 0..args.producers {
        // Spread the producers' schedules over one interval.
        let offset = interval.mul_f64(index as f64 / args.producers as f64);
        producers.spawn(producer(
            client.clone(),
            args.topic.clone(),
            payload.clone(),
            args.producer_batch,
            interval,
            epoch + offset,
            shared.clone(),
        ));
    }

    let measure_from = epoch + warmup;
    let hidden = connection.json || !std::io::stderr().is_terminal();
    let bar = progress::bar(hidden, None, warmup + duration + drain);
    let counters = {
        let shared = shared.clone();
        move || {
            (
                shared.received.load(Ordering::Relaxed),
                shared.errors.load(Ordering::Relaxed),
            )
        }
    };
    let ticker = tokio::spawn(progress::tick(bar.clone(), counters, measure_from, false));

    let interrupt = ctrl_c();
    tokio::pin!(interrupt);
    let interrupted = tokio::select! {
        () = tokio::time::sleep_until((measure_from + duration).into()) => false,
        () = &mut interrupt => true,
    };
    shared.stop_producers.stop();
    let mut producer_outcomes = Vec::new();
    while let Some(joined) = producers.join_next().await {
        producer_outcomes.push(joined.context("a producer task failed")??);
    }
    let produced_until = Instant::now();
    if !interrupted {
        let drain_deadline = produced_until + drain;
        while Instant::now() < drain_deadline
            && shared.received.load(Ordering::Relaxed) < shared.sent.load(Ordering::Relaxed)
        {
            tokio::select! {
                () = tokio::time::sleep(DRAIN_CHECK) => {}
                () = &mut interrupt => break,
            }
        }
    }
    shared.stop_consumers.stop();
    let mut consumer_outcomes = Vec::new();
    while let Some(joined) = consumers.join_next().await {
        consumer_outcomes.push(joined.context("a consumer task failed")??);
    }
    ticker.abort();
    bar.finish_and_clear();

    if produced_until <= measure_from {
        bail!("stopped during the warm-up: nothing was measured");
    }
    let report = build_report(
        &args,
        &connection.server,
        produced_until - measure_from,
        interrupted,
        producer_outcomes,
        consumer_outcomes,
    )?;
    if report.sent == 0 && report.errors.total > 0 {
        let first = report.errors.first.as_deref().unwrap_or("unknown error");
        bail!(
            "every send failed ({} errors); the first: {first}",
            report.errors.total
        );
    }
    if connection.json {
        output::print_json(&report)
    } else {
        output::print(&report.render())
    }
}

/// An id unique enough to tell this run's messages from those of earlier runs.
fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{}", std::process::id())
}

/// Sends `batch` messages every `interval` from `first`, until stopped.
async fn producer(
    client: Client,
    topic: String,
    payload: Bytes,
    batch: u32,
    interval: Duration,
    first: Instant,
    shared: Arc<Shared>,
) -> anyhow::Result<ProducerOutcome> {
    let mut outcome = ProducerOutcome {
        send_us: latency_histogram()?,
        sent: 0,
        max_behind_us: 0,
        errors: Errors::default(),
    };
    let mut due = first;
    loop {
        tokio::select! {
            biased;
            () = shared.stop_producers.stopped() => break,
            () = tokio::time::sleep_until(due.into()) => {}
        }
        let started = Instant::now();
        let sent_us = shared.now_us();
        let measured = sent_us >= shared.measure_from_us;
        if measured {
            let behind = u64::try_from((started - due).as_micros()).unwrap_or(u64::MAX);
            outcome.max_behind_us = outcome.max_behind_us.max(behind);
        }
        let message = OutgoingMessage::new(payload.clone())
            .with_property(RUN_PROPERTY, shared.run.clone())
            .with_property(SENT_PROPERTY, sent_us.to_string());
        let prepared = if batch == 1 {
            client.prepare_send(&topic, &message)
        } else {
            let messages = vec![message; usize::try_from(batch).unwrap_or(1)];
            client.prepare_batch(&topic, &EncodedBatch::encode(&messages)?)
        }
        .context("cannot build the send request")?;
        let result = client.send_prepared(&prepared).await;
        due += interval;
        match result {
            Ok(_) if measured => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                outcome.send_us.saturating_record(micros.max(1));
                outcome.sent += u64::from(batch);
                shared.sent.fetch_add(u64::from(batch), Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(err) => {
                if measured {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    outcome.errors.record(&err);
                }
                if is_transport(&err) {
                    tokio::time::sleep(TRANSPORT_FAILURE_PAUSE).await;
                }
            }
        }
    }
    Ok(outcome)
}

/// Receives, records the latency of this run's measured messages, and acks every batch
/// in one request, until stopped.
async fn consumer(
    client: Client,
    group: String,
    options: ReceiveOptions,
    shared: Arc<Shared>,
) -> anyhow::Result<ConsumerOutcome> {
    let mut outcome = ConsumerOutcome {
        e2e_us: latency_histogram()?,
        received: 0,
        warmup: 0,
        foreign: 0,
        redelivered: 0,
        expired: 0,
        errors: Errors::default(),
    };
    loop {
        let result = tokio::select! {
            biased;
            () = shared.stop_consumers.stopped() => break,
            result = client.receive(&group, &options) => result,
        };
        let messages = match result {
            Ok(messages) => messages,
            Err(err) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                outcome.errors.record(&err);
                if is_transport(&err) {
                    tokio::time::sleep(TRANSPORT_FAILURE_PAUSE).await;
                }
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let now_us = shared.now_us();
        let mut receipts = Vec::with_capacity(messages.len());
        for message in messages {
            let sent_us = (message.properties.get(RUN_PROPERTY) == Some(&shared.run))
                .then(|| message.properties.get(SENT_PROPERTY)?.parse::<u64>().ok())
                .flatten();
            match sent_us {
                None => outcome.foreign += 1,
                Some(sent_us) if sent_us < shared.measure_from_us => outcome.warmup += 1,
                Some(sent_us) => {
                    outcome
                        .e2e_us
                        .saturating_record(now_us.saturating_sub(sent_us).max(1));
                    outcome.received += 1;
                    if message.attempt > 1 {
                        outcome.redelivered += 1;
                    }
                    shared.received.fetch_add(1, Ordering::Relaxed);
                }
            }
            receipts.push(message.receipt);
        }
        match client.ack(&group, &receipts).await {
            Ok(result) => outcome.expired += result.failed.len() as u64,
            Err(err) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                outcome.errors.record(&err);
            }
        }
    }
    Ok(outcome)
}

fn build_report(
    args: &E2eArgs,
    server: &str,
    elapsed: Duration,
    interrupted: bool,
    producers: Vec<ProducerOutcome>,
    consumers: Vec<ConsumerOutcome>,
) -> anyhow::Result<E2eReport> {
    let mut send = latency_histogram().context("cannot create the latency histogram")?;
    let mut e2e = latency_histogram().context("cannot create the latency histogram")?;
    let mut errors = Errors::default();
    let (mut sent, mut max_behind_us) = (0, 0);
    for outcome in producers {
        send.add(&outcome.send_us)
            .context("cannot merge latency histograms")?;
        sent += outcome.sent;
        max_behind_us = max_behind_us.max(outcome.max_behind_us);
        errors.merge(outcome.errors);
    }
    let (mut received, mut redelivered, mut foreign, mut expired) = (0, 0, 0, 0);
    for outcome in consumers {
        e2e.add(&outcome.e2e_us)
            .context("cannot merge latency histograms")?;
        received += outcome.received;
        redelivered += outcome.redelivered;
        foreign += outcome.foreign;
        expired += outcome.expired;
        errors.merge(outcome.errors);
    }
    Ok(E2eReport {
        server: server.to_owned(),
        topic: args.topic.clone(),
        group: args.group.clone(),
        http2: args.http2,
        size: args.size,
        target_rate: args.rate,
        producers: args.producers,
        producer_batch: args.producer_batch,
        consumers: args.consumers,
        batch: args.batch,
        elapsed_s: elapsed.as_secs_f64(),
        interrupted,
        sent,
        received,
        missing: sent.saturating_sub(received.saturating_sub(redelivered)),
        redelivered,
        foreign,
        send_rate: report::rate(sent as f64, elapsed),
        receive_rate: report::rate(received as f64, elapsed),
        latency_us: Latency::from_histogram(&e2e),
        send_latency_us: Latency::from_histogram(&send),
        max_behind_us,
        expired,
        errors,
    })
}

impl E2eReport {
    /// The report as aligned human-readable lines.
    fn render(&self) -> String {
        let protocol = if self.http2 { "HTTP/2" } else { "HTTP/1.1" };
        let mut lines = vec![
            format!(
                "end-to-end on topic '{}' (group '{}') at {} over {protocol}: {:.0} msgs/s \
                 target, {}-byte bodies",
                self.topic, self.group, self.server, self.target_rate, self.size
            ),
            format!(
                "  load       {} producers (batch {}), {} consumers (batch {})",
                self.producers, self.producer_batch, self.consumers, self.batch
            ),
            format!(
                "  measured   {:.2} s{}",
                self.elapsed_s,
                if self.interrupted {
                    " (interrupted)"
                } else {
                    ""
                }
            ),
            format!("  sent       {} ({:.0} msgs/s)", self.sent, self.send_rate),
            format!(
                "  received   {} ({:.0} msgs/s), {} missing, {} redelivered",
                self.received, self.receive_rate, self.missing, self.redelivered
            ),
            format!("  end-to-end {}", latency_line(&self.latency_us)),
            format!("  send       {}", latency_line(&self.send_latency_us)),
            format!(
                "  schedule   producers fell behind by up to {}",
                micros(self.max_behind_us)
            ),
        ];
        if self.send_rate < self.target_rate * 0.95 && !self.interrupted {
            lines.push(
                "  note: the target rate was not reached; add --producers or --producer-batch \
                 (each producer has one request in flight)"
                    .to_owned(),
            );
        }
        if self.foreign > 0 {
            lines.push(format!(
                "  foreign    {} messages of other runs acked and not counted",
                self.foreign
            ));
        }
        if self.expired > 0 {
            lines.push(format!("  expired    {} acks came too late", self.expired));
        }
        lines.extend(self.errors.render_lines("errors"));
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: E2eArgs,
    }

    fn parse(args: &[&str]) -> Result<E2eArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("e2e").chain(args.iter().copied())).map(|cli| cli.args)
    }

    #[test]
    fn flags_parse() {
        let args = parse(&["--rate", "5000", "--producers", "4", "--consumers", "8"]).unwrap();
        assert_eq!(args.rate, 5000.0);
        assert_eq!((args.producers, args.consumers), (4, 8));
        assert_eq!((args.producer_batch, args.batch), (1, 32));
        assert!(parse(&["--producers", "0"]).is_err());
        assert!(parse(&["--producer-batch", "1001"]).is_err());
    }

    #[test]
    fn run_ids_differ_between_runs() {
        let first = run_id();
        std::thread::sleep(Duration::from_millis(1));
        assert_ne!(first, run_id());
    }

    #[test]
    fn report_shows_the_end_to_end_percentiles() {
        let latency = |p50| Latency {
            p50,
            p99: 2 * p50,
            p999: 3 * p50,
            max: 4 * p50,
            mean: p50 as f64,
        };
        let report = E2eReport {
            server: "http://h".into(),
            topic: "t".into(),
            group: "g".into(),
            http2: false,
            size: 16,
            target_rate: 1000.0,
            producers: 2,
            producer_batch: 1,
            consumers: 4,
            batch: 32,
            elapsed_s: 10.0,
            interrupted: false,
            sent: 10_000,
            received: 10_000,
            missing: 0,
            redelivered: 0,
            foreign: 0,
            send_rate: 1000.0,
            receive_rate: 1000.0,
            latency_us: latency(1500),
            send_latency_us: latency(400),
            max_behind_us: 700,
            expired: 0,
            errors: Errors::default(),
        };
        let text = report.render();
        assert!(
            text.contains("  end-to-end p50 1500 µs  p99 3000 µs  p99.9 4500 µs  max 6000 µs\n"),
            "{text}"
        );
        assert!(
            text.contains("  received   10000 (1000 msgs/s), 0 missing"),
            "{text}"
        );
        assert!(!text.contains("note:"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["latency_us"]["p999"], 4500);
    }
}

//! `weir bench consume`: arguments, orchestration and report of a consume load run.
//!
//! The run: make sure the topic and the group exist (the group created from `earliest`),
//! pre-fill the topic with `--prefill` messages (0 uses the backlog already there), then
//! start `--concurrency` tasks that consume until `--count` messages (default: the
//! backlog) are consumed, `--duration` has passed, nothing arrived for a while, or Ctrl-C.
//!
//! Two modes:
//!
//! * `receive` (default): receive through the group (long poll) and ack every message,
//!   one ack request per received batch;
//! * `offsets`: read the queues by offset (`GET /v1/topics/{t}/queues/{q}/messages`) and
//!   commit the group's offset after each batch (`POST /v1/groups/{g}/offsets`); each
//!   task reads its own share of the queues.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use serde::Serialize;
use tokio::task::JoinSet;
use weir_client::{Client, EncodedBatch, OutgoingMessage};

use super::consume_worker::{self, Outcome, QueueCursor, Shared};
use super::progress;
use super::report::{self, Errors, Latency, latency_line};
use super::setup::{ctrl_c, ensure_group, ensure_topic, seconds};
use super::worker::latency_histogram;
use crate::cli::failure::{explain, explain_group};
use crate::cli::{Connection, output};

/// Messages per request when pre-filling.
const PREFILL_BATCH: u64 = 500;
/// Requests in flight when pre-filling.
const PREFILL_TASKS: usize = 4;
/// The run ends when no message arrived for this long (and at least twice the wait).
const MIN_IDLE_STOP: Duration = Duration::from_secs(3);
/// How often the controller checks for idleness.
const IDLE_CHECK: Duration = Duration::from_millis(200);

/// How the bench consumes.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Receive through the group and ack every message (acks batched per receive).
    Receive,
    /// Read queues by offset and commit the group's offset per batch.
    Offsets,
}

/// Consume a backlog as fast as the broker serves it and print throughput and latency.
#[derive(clap::Args, Debug)]
pub(crate) struct ConsumeArgs {
    /// The topic to consume; created if missing.
    #[arg(long, default_value = "bench")]
    topic: String,
    /// The group to consume with; created (from earliest) if missing.
    #[arg(long, default_value = "bench")]
    group: String,
    /// Queues of the topic when it has to be created.
    #[arg(long, default_value_t = 8, value_name = "N")]
    queues: u32,
    /// Receive through the group, or read by offset and commit.
    #[arg(long, value_enum, default_value_t = Mode::Receive)]
    mode: Mode,
    /// Messages to send before measuring; 0 consumes the backlog already there.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    prefill: u64,
    /// Body size of pre-filled messages, in bytes.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    size: usize,
    /// Messages per receive (or read), 1–1000.
    #[arg(long, default_value_t = 32, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
    /// Requests in flight, each from its own task.
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Stop after this many messages [default: the backlog when measuring starts].
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop after this many seconds [default: when the count is reached].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// How long each receive waits for messages (long poll), in ms.
    #[arg(long, default_value_t = 1000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(0..=30_000))]
    wait_ms: u64,
    /// Speak HTTP/2 (h2c, prior knowledge): all requests over one connection.
    #[arg(long)]
    http2: bool,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Stopped {
    /// `--count` messages were consumed.
    Count,
    /// `--duration` passed.
    Duration,
    /// Nothing arrived for a while: the backlog is drained (or in flight elsewhere).
    Idle,
    /// Ctrl-C.
    Interrupted,
}

/// Everything a consume run measured, as printed with `--json`.
#[derive(Debug, Serialize)]
struct ConsumeReport {
    server: String,
    topic: String,
    group: String,
    /// `receive` or `offsets`.
    mode: &'static str,
    http2: bool,
    /// Messages per receive (or read).
    batch: u32,
    concurrency: usize,
    wait_ms: u64,
    /// Messages sent before measuring.
    prefilled: u64,
    /// Messages the run set out to consume.
    target: u64,
    elapsed_s: f64,
    stopped: Stopped,
    messages: u64,
    msgs_per_s: f64,
    mb_per_s: f64,
    /// Receives (or reads) that succeeded, and of those the empty ones.
    fetches: u64,
    empty_fetches: u64,
    /// Acks (or offset commits) that succeeded.
    settles: u64,
    /// Latency of receives (or reads) that returned messages, in µs.
    receive_latency_us: Latency,
    /// Latency of acks (or offset commits), in µs.
    ack_latency_us: Latency,
    /// Messages the broker took acks for (receive mode).
    acked: u64,
    /// Acks refused because the receipt had expired (receive mode).
    expired: u64,
    errors: Errors,
}

/// Runs `weir bench consume`.
pub(super) async fn run(args: ConsumeArgs, connection: &Connection) -> anyhow::Result<()> {
    let duration = args
        .duration
        .map(|secs| seconds("--duration", secs))
        .transpose()?;
    if duration.is_some_and(|d| d.is_zero()) {
        bail!("--duration must be more than 0 seconds");
    }
    if args.count == Some(0) {
        bail!("--count must be at least 1");
    }
    let concurrency = usize::try_from(args.concurrency).context("--concurrency is too large")?;
    let wait = Duration::from_millis(args.wait_ms);
    let client = connection.client_with(|builder| {
        builder
            .http2(args.http2)
            .timeout(Some(wait + Duration::from_secs(30)))
    })?;
    ensure_topic(&client, &args.topic, args.queues).await?;
    ensure_group(&client, &args.group, &args.topic, "earliest").await?;
    let hidden = connection.json || !std::io::stderr().is_terminal();
    if args.prefill > 0 {
        prefill(&client, &args, hidden).await?;
    }

    let (backlog, cursors) = match args.mode {
        Mode::Receive => (receivable_backlog(&client, &args.group).await?, Vec::new()),
        Mode::Offsets => {
            let cursors = offset_cursors(&client, &args.topic, &args.group).await?;
            (
                offsets_backlog(&client, &args.topic, &cursors).await?,
                cursors,
            )
        }
    };
    let target = args.count.unwrap_or(backlog);
    if target == 0 {
        bail!(
            "group '{}' has nothing to consume on topic '{}': give --prefill N (or send \
             messages first)",
            args.group,
            args.topic
        );
    }

    let shared = Arc::new(Shared::new(target));
    let mut tasks = JoinSet::new();
    match args.mode {
        Mode::Receive => {
            for _ in 0..concurrency {
                tasks.spawn(consume_worker::receive(
                    client.clone(),
                    args.group.clone(),
                    args.batch,
                    args.wait_ms,
                    shared.clone(),
                ));
            }
        }
        Mode::Offsets => {
            for queues in consume_worker::assign_queues(&cursors, concurrency) {
                tasks.spawn(consume_worker::read_offsets(
                    client.clone(),
                    args.topic.clone(),
                    args.group.clone(),
                    queues,
                    args.batch,
                    shared.clone(),
                ));
            }
        }
    }
    let bar = progress::bar(hidden, Some(target), Duration::ZERO);
    let counters = {
        let shared = shared.clone();
        move || {
            (
                shared.messages.load(Ordering::Relaxed),
                shared.errors.load(Ordering::Relaxed),
            )
        }
    };
    let ticker = tokio::spawn(progress::tick(bar.clone(), counters, shared.started, true));

    let idle_limit = MIN_IDLE_STOP.max(wait * 2);
    let deadline = duration.map(|d| shared.started + d);
    let mut stopped = None;
    let mut outcomes = Vec::new();
    let mut idle_check = tokio::time::interval(IDLE_CHECK);
    let interrupt = ctrl_c();
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(outcome) => outcomes.push(outcome.context("a load task failed")??),
                None => break,
            },
            () = &mut interrupt, if stopped.is_none() => {
                stopped = Some(Stopped::Interrupted);
                shared.stop.stop();
            }
            () = sleep_until(deadline), if stopped.is_none() => {
                stopped = Some(Stopped::Duration);
                shared.stop.stop();
            }
            _ = idle_check.tick(), if stopped.is_none() => {
                let last = Duration::from_millis(shared.last_message_ms.load(Ordering::Relaxed));
                if shared.started.elapsed().saturating_sub(last) > idle_limit {
                    stopped = Some(Stopped::Idle);
                    shared.stop.stop();
                }
            }
        }
    }
    let elapsed = shared.started.elapsed();
    ticker.abort();
    bar.finish_and_clear();

    let report = build_report(
        &args,
        &connection.server,
        target,
        elapsed,
        stopped.unwrap_or(Stopped::Count),
        outcomes,
    )?;
    if report.messages == 0 && report.errors.total > 0 {
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

/// Sleeps until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Sends `--prefill` messages in binary batches, a few requests in flight.
async fn prefill(client: &Client, args: &ConsumeArgs, hidden: bool) -> anyhow::Result<()> {
    let topic = &args.topic;
    let payload: Bytes = (0..args.size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
        .collect();
    let message = OutgoingMessage::new(payload);
    let encode = |count: u64| -> anyhow::Result<_> {
        let messages = vec![message.clone(); usize::try_from(count).unwrap_or(1)];
        client
            .prepare_batch(topic, &EncodedBatch::encode(&messages)?)
            .context("cannot build the pre-fill request")
    };
    let full = Arc::new(encode(PREFILL_BATCH.min(args.prefill))?);
    let requests = args.prefill.div_ceil(PREFILL_BATCH);
    let last = args.prefill - (requests - 1) * PREFILL_BATCH;
    let last = Arc::new(encode(last)?);
    let next = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let bar = progress::bar(hidden, Some(args.prefill), Duration::ZERO);
    bar.set_message("pre-filling");
    let mut tasks = JoinSet::new();
    for _ in 0..PREFILL_TASKS {
        let (client, full, last, next, sent, bar) = (
            client.clone(),
            full.clone(),
            last.clone(),
            next.clone(),
            sent.clone(),
            bar.clone(),
        );
        tasks.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= requests {
                    return Ok::<(), weir_client::ClientError>(());
                }
                let request = if index + 1 == requests { &last } else { &full };
                client.send_prepared(request).await?;
                let total = sent.fetch_add(u64::from(request.messages()), Ordering::Relaxed)
                    + u64::from(request.messages());
                bar.set_position(total);
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined
            .context("a pre-fill task failed")?
            .map_err(|err| explain(err, format!("cannot pre-fill topic '{topic}'"), Some(topic)))?;
    }
    bar.finish_and_clear();
    Ok(())
}

/// What the group can receive now: its lag, less what is in flight (invisible until it
/// is acked or its invisible time passes).
async fn receivable_backlog(client: &Client, group: &str) -> anyhow::Result<u64> {
    let lag = client.lag(group, None).await.map_err(|err| {
        explain_group(err, format!("cannot get the lag of group '{group}'"), group)
    })?;
    let in_flight: u64 = lag.queues.iter().map(|q| q.in_flight).sum();
    Ok(lag.total.saturating_sub(in_flight))
}

/// Where the group's progress is, per queue of the topic.
async fn offset_cursors(
    client: &Client,
    topic: &str,
    group: &str,
) -> anyhow::Result<Vec<QueueCursor>> {
    let committed = client.offsets(group, None).await.map_err(|err| {
        explain_group(
            err,
            format!("cannot get the offsets of group '{group}'"),
            group,
        )
    })?;
    let description = client
        .describe_topic(topic)
        .await
        .map_err(|err| explain(err, format!("cannot describe topic '{topic}'"), Some(topic)))?;
    Ok(description
        .queue_offsets
        .iter()
        .map(|queue| {
            let offset = committed
                .iter()
                .find(|c| c.queue == queue.queue)
                .map_or(queue.min_offset, |c| c.committed.max(queue.min_offset));
            QueueCursor {
                queue: queue.queue,
                offset,
            }
        })
        .collect())
}

/// Messages between the cursors and the ends of the queues.
async fn offsets_backlog(
    client: &Client,
    topic: &str,
    cursors: &[QueueCursor],
) -> anyhow::Result<u64> {
    let description = client
        .describe_topic(topic)
        .await
        .map_err(|err| explain(err, format!("cannot describe topic '{topic}'"), Some(topic)))?;
    Ok(cursors
        .iter()
        .filter_map(|cursor| {
            let queue = description
                .queue_offsets
                .iter()
                .find(|q| q.queue == cursor.queue)?;
            Some(queue.max_offset.saturating_sub(cursor.offset))
        })
        .sum())
}

fn build_report(
    args: &ConsumeArgs,
    server: &str,
    target: u64,
    elapsed: Duration,
    stopped: Stopped,
    outcomes: Vec<Outcome>,
) -> anyhow::Result<ConsumeReport> {
    let mut fetch = latency_histogram().context("cannot create the latency histogram")?;
    let mut settle = latency_histogram().context("cannot create the latency histogram")?;
    let mut errors = Errors::default();
    let (mut messages, mut body_bytes, mut fetches, mut empty_fetches) = (0, 0, 0, 0);
    let (mut settles, mut acked, mut expired) = (0, 0, 0);
    for outcome in outcomes {
        fetch
            .add(&outcome.fetch_us)
            .context("cannot merge latency histograms")?;
        settle
            .add(&outcome.settle_us)
            .context("cannot merge latency histograms")?;
        messages += outcome.messages;
        body_bytes += outcome.body_bytes;
        fetches += outcome.fetches;
        empty_fetches += outcome.empty_fetches;
        settles += outcome.settles;
        acked += outcome.acked;
        expired += outcome.expired;
        errors.merge(outcome.errors);
    }
    Ok(ConsumeReport {
        server: server.to_owned(),
        topic: args.topic.clone(),
        group: args.group.clone(),
        mode: match args.mode {
            Mode::Receive => "receive",
            Mode::Offsets => "offsets",
        },
        http2: args.http2,
        batch: args.batch,
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        wait_ms: args.wait_ms,
        prefilled: args.prefill,
        target,
        elapsed_s: elapsed.as_secs_f64(),
        stopped: if stopped == Stopped::Count && messages < target {
            Stopped::Idle
        } else {
            stopped
        },
        messages,
        msgs_per_s: report::rate(messages as f64, elapsed),
        mb_per_s: report::rate(body_bytes as f64 / 1e6, elapsed),
        fetches,
        empty_fetches,
        settles,
        receive_latency_us: Latency::from_histogram(&fetch),
        ack_latency_us: Latency::from_histogram(&settle),
        acked,
        expired,
        errors,
    })
}

impl ConsumeReport {
    /// The report as aligned human-readable lines.
    fn render(&self) -> String {
        let protocol = if self.http2 { "HTTP/2" } else { "HTTP/1.1" };
        let offsets = self.mode == "offsets";
        let (how, fetch, settle) = if offsets {
            ("read by offset, commit per batch", "read", "commit")
        } else {
            ("receive, ack per batch", "receive", "ack")
        };
        let stopped = match self.stopped {
            Stopped::Count => "count reached",
            Stopped::Duration => "duration passed",
            Stopped::Idle => "nothing more arrived",
            Stopped::Interrupted => "interrupted",
        };
        let mut lines = vec![
            format!(
                "consume group '{}' (topic '{}') at {} over {protocol}: {how}, batch {}, \
                 concurrency {}",
                self.group, self.topic, self.server, self.batch, self.concurrency
            ),
            format!(
                "  target     {} messages ({} pre-filled)",
                self.target, self.prefilled
            ),
            format!("  measured   {:.2} s ({stopped})", self.elapsed_s),
            format!(
                "  messages   {} ({:.0} msgs/s, {:.2} MB/s of bodies)",
                self.messages, self.msgs_per_s, self.mb_per_s
            ),
            format!(
                "  requests   {} {fetch}s ({} empty), {} {settle}s",
                self.fetches, self.empty_fetches, self.settles
            ),
            format!("  {fetch:<10} {}", latency_line(&self.receive_latency_us)),
            format!("  {settle:<10} {}", latency_line(&self.ack_latency_us)),
        ];
        if !offsets {
            lines.push(format!(
                "  acked      {} ({} receipts expired)",
                self.acked, self.expired
            ));
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
        args: ConsumeArgs,
    }

    fn parse(args: &[&str]) -> Result<ConsumeArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("consume").chain(args.iter().copied()))
            .map(|cli| cli.args)
    }

    #[test]
    fn defaults_and_modes_parse() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.mode, Mode::Receive);
        assert_eq!(
            (args.batch, args.concurrency, args.prefill),
            (32, 4, 100_000)
        );
        let args = parse(&["--mode", "offsets", "--prefill", "0", "--batch", "100"]).unwrap();
        assert_eq!(args.mode, Mode::Offsets);
        assert_eq!(args.prefill, 0);
        assert!(parse(&["--mode", "pull"]).is_err());
        assert!(parse(&["--batch", "1001"]).is_err());
        assert!(parse(&["--wait-ms", "30001"]).is_err());
    }

    fn report(mode: &'static str) -> ConsumeReport {
        let latency = || Latency {
            p50: 800,
            p99: 2_000,
            p999: 15_000,
            max: 20_000,
            mean: 900.0,
        };
        ConsumeReport {
            server: "http://127.0.0.1:7700".into(),
            topic: "bench".into(),
            group: "bench".into(),
            mode,
            http2: false,
            batch: 32,
            concurrency: 4,
            wait_ms: 1000,
            prefilled: 1000,
            target: 1000,
            elapsed_s: 0.5,
            stopped: Stopped::Count,
            messages: 1000,
            msgs_per_s: 2000.0,
            mb_per_s: 0.51,
            fetches: 32,
            empty_fetches: 1,
            settles: 31,
            receive_latency_us: latency(),
            ack_latency_us: latency(),
            acked: 1000,
            expired: 0,
            errors: Errors::default(),
        }
    }

    #[test]
    fn report_names_the_mode_s_requests() {
        let text = report("receive").render();
        assert!(text.contains("receive, ack per batch"), "{text}");
        assert!(
            text.contains("  requests   32 receives (1 empty), 31 acks\n"),
            "{text}"
        );
        assert!(
            text.contains("  receive    p50 800 µs  p99 2000 µs  p99.9 15.0 ms  max 20.0 ms\n"),
            "{text}"
        );
        assert!(
            text.contains("  acked      1000 (0 receipts expired)\n"),
            "{text}"
        );
        let text = report("offsets").render();
        assert!(
            text.contains("  requests   32 reads (1 empty), 31 commits\n"),
            "{text}"
        );
        assert!(text.contains("  commit     p50"), "{text}");
        assert!(!text.contains("acked"), "{text}");
        let json = serde_json::to_value(report("offsets")).unwrap();
        assert_eq!(json["stopped"], "count");
        assert_eq!(json["receive_latency_us"]["p999"], 15_000);
    }
}

//! `weir send`: send one message, its body from the command line, a file or stdin; at
//! once, delayed (`--delay-ms`, `--at`, `--delay-level`), or as the half message of a
//! transaction (`--transaction`).
//!
//! A send is retried (`--retries`, default 2 retries; `--no-retry`) with the id the
//! client gives the message before the first attempt, so a retry is answered from the
//! stored copy. A send that needed retries says so on stderr; one that failed says
//! whether the broker has the message. Half messages are sent once.

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::ArgGroup;
use weir_client::{
    Delay, HalfSent, OutgoingMessage, RetryPolicy, ScheduledSend, SendOutcome, SendReceipt,
    SendResult, SendStatus,
};

use super::Connection;
use super::failure::explain;
use super::output;
use super::times::{self, At};

/// Send one message.
#[derive(clap::Args, Debug)]
#[command(group(ArgGroup::new("delay").args(["delay_ms", "at", "delay_level"])))]
pub(crate) struct SendArgs {
    /// The topic to send to.
    topic: String,
    /// The message body; read from stdin when absent or '-'.
    body: Option<String>,
    /// Read the body from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "body")]
    file: Option<PathBuf>,
    /// A business key to look the message up by; repeat for several.
    #[arg(long = "key", value_name = "KEY")]
    keys: Vec<String>,
    /// The message tag.
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// A user property; repeat for several.
    #[arg(long = "prop", value_name = "NAME=VALUE")]
    props: Vec<String>,
    /// A client-chosen message id (1–128 printable ASCII characters) [default: the broker
    /// assigns one].
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// The message group: messages of one group go to one queue, in order.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Pin the message to this queue.
    #[arg(long, value_name = "Q")]
    queue: Option<u32>,
    /// Deliver the message this many ms after the broker receives it.
    #[arg(long, value_name = "MS")]
    delay_ms: Option<u64>,
    /// Deliver the message at TIME: ms since the Unix epoch, an RFC 3339 time
    /// (2025-11-24T16:00:00Z, 2025-11-24T17:00:00+01:00), or a delay from now (500ms, 30s,
    /// 5m, 1h30m, 2d).
    #[arg(long, value_name = "TIME", value_parser = times::parse_at)]
    at: Option<At>,
    /// Deliver the message after RocketMQ delay level L: 1s 5s 10s 30s 1m 2m 3m 4m 5m 6m
    /// 7m 8m 9m 10m 20m 30m 1h 2h for L = 1..18.
    #[arg(long, value_name = "L", value_parser = clap::value_parser!(u32).range(1..=18))]
    delay_level: Option<u32>,
    /// Send the half message of a transaction: invisible to consumers until `weir tx
    /// commit`; prints the transaction id.
    #[arg(long, conflicts_with = "delay")]
    transaction: bool,
    /// With --transaction: the producer group the broker asks when no decision comes.
    #[arg(long, value_name = "NAME", requires = "transaction")]
    producer_group: Option<String>,
    /// With --transaction: ask the producer group after this many ms without a decision
    /// [broker default: 6000].
    #[arg(long, value_name = "MS", requires = "transaction")]
    check_after_ms: Option<u64>,
    /// Retry a failed send up to N times (with the same message id) [default: 2].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=99))]
    retries: Option<u32>,
    /// Try the send once (still saying, when it fails, whether the broker has it).
    #[arg(long, conflicts_with = "retries")]
    no_retry: bool,
}

impl SendArgs {
    /// The delay asked for by --delay-ms, --at or --delay-level (clap lets one through).
    fn delay(&self) -> Option<Delay> {
        match (self.delay_ms, self.at, self.delay_level) {
            (Some(ms), _, _) => Some(Delay::After(ms)),
            (_, Some(At::Time(at)), _) => Some(Delay::At(at)),
            (_, Some(At::After(ms)), _) => Some(Delay::After(ms)),
            (_, _, Some(level)) => Some(Delay::Level(level)),
            (None, None, None) => None,
        }
    }

    /// The retry policy asked for by --retries or --no-retry.
    fn retry_policy(&self) -> RetryPolicy {
        let retries = if self.no_retry {
            0
        } else {
            self.retries
                .unwrap_or(weir_client::DEFAULT_MAX_ATTEMPTS - 1)
        };
        RetryPolicy::with_attempts(retries + 1)
    }
}

/// Runs `weir send`.
pub(crate) async fn run(args: SendArgs, connection: &Connection) -> anyhow::Result<()> {
    let policy = args.retry_policy();
    let mut message = OutgoingMessage::new(read_body(&args).await?);
    message.delay = args.delay();
    message.id = args.id;
    message.keys = args.keys;
    message.tag = args.tag;
    message.message_group = args.group;
    message.queue = args.queue;
    for prop in &args.props {
        let (name, value) = parse_prop(prop)?;
        message.properties.insert(name.to_owned(), value.to_owned());
    }
    let topic = &args.topic;
    let client = connection.client_with(|builder| builder.retry(policy))?;
    let failed = |err| explain(err, format!("cannot send to topic '{topic}'"), Some(topic));
    // The JSON form keeps property names' case and any body exactly.
    if args.transaction {
        let half = client
            .send_half(
                topic,
                &message,
                args.producer_group.as_deref(),
                args.check_after_ms,
            )
            .await
            .map_err(failed)?;
        if connection.json {
            return output::print_json(&half);
        }
        output::print(&half_line(&half))?;
        eprintln!(
            "the message stays invisible until `weir tx commit {tx}`; `weir tx rollback {tx}` \
             discards it",
            tx = half.transaction
        );
        return Ok(());
    }
    let receipt = match client.send_tracked(topic, &message).await {
        Ok(receipt) => receipt,
        Err(err) if err.is_refusal() => return Err(failed(err.into_cause())),
        Err(err) => bail!("cannot send to topic '{topic}': {err}"),
    };
    if receipt.retried() {
        eprintln!("{}", retry_note(&receipt));
    }
    let outcome = outcome_of(receipt)?;
    if connection.json {
        return output::print_json(&outcome);
    }
    output::print(&sent_line(&outcome, times::now_ms()))
}

/// The stderr note of a send that needed retries.
fn retry_note(receipt: &SendReceipt) -> String {
    format!(
        "note: the send succeeded after {} attempts; retries carry the same message id, so \
         the broker stored it once",
        receipt.attempts
    )
}

/// A single send's receipt as the outcome `weir send` prints.
fn outcome_of(receipt: SendReceipt) -> anyhow::Result<SendOutcome> {
    let Some(entry) = receipt.messages.into_iter().next() else {
        bail!("the broker's answer named no message");
    };
    Ok(match entry.deliver_at {
        Some(deliver_at) => SendOutcome::Scheduled(ScheduledSend {
            id: entry.id,
            topic: receipt.topic,
            deliver_at,
            status: receipt.status,
        }),
        None => SendOutcome::Stored(SendResult {
            id: entry.id,
            topic: receipt.topic,
            queue: entry.queue,
            offset: entry.offset,
            status: receipt.status,
        }),
    })
}

/// What a send did, on one line: where the message is, or when it will be delivered
/// (`now` measures the wait).
fn sent_line(outcome: &SendOutcome, now: i64) -> String {
    let note = status_note(outcome.status());
    match outcome {
        SendOutcome::Stored(sent) => format!(
            "sent id={} topic={} queue={} offset={}{note}\n",
            sent.id, sent.topic, sent.queue, sent.offset
        ),
        SendOutcome::Scheduled(scheduled) => format!(
            "scheduled id={} topic={} deliver_at={} (in {}){note}\n",
            scheduled.id,
            scheduled.topic,
            output::utc_time(scheduled.deliver_at),
            wait(scheduled.deliver_at.saturating_sub(now)),
        ),
    }
}

/// How long until a delivery: whole seconds from one second on (the request itself took
/// some milliseconds, so "in 60.0 s" would read "in 59.9 s" otherwise).
fn wait(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    if ms < 1000 {
        output::duration_ms(ms)
    } else {
        output::duration_ms((ms + 500) / 1000 * 1000)
    }
}

/// A half send, on one line: the transaction id first, for scripts.
fn half_line(half: &HalfSent) -> String {
    format!(
        "transaction={} topic={} id={} (half: invisible until committed){}\n",
        half.transaction,
        half.topic,
        half.id,
        status_note(half.status)
    )
}

fn status_note(status: SendStatus) -> &'static str {
    match status {
        SendStatus::SendOk => "",
        SendStatus::FlushDiskTimeout => " (stored, but the fsync timed out: not yet known durable)",
        SendStatus::FlushSlaveTimeout => {
            " (stored, but no slave confirmed it in time: not yet known replicated)"
        }
        SendStatus::SlaveNotAvailable => {
            " (stored, but no slave was in sync: not yet known replicated)"
        }
        SendStatus::Unknown => " (the broker reported an unknown status)",
    }
}

/// The body: the argument, the file, or stdin (when the argument is absent or `-`).
async fn read_body(args: &SendArgs) -> anyhow::Result<Bytes> {
    if let Some(path) = &args.file {
        let body = tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read the body from {}", path.display()))?;
        return Ok(Bytes::from(body));
    }
    match args.body.as_deref() {
        Some("-") => {}
        Some(text) => return Ok(Bytes::from(text.to_owned())),
        None if std::io::stdin().is_terminal() => {
            bail!("no message body: give it as an argument, with --file PATH, or on stdin (`-`)")
        }
        None => {}
    }
    // Blocking read on a blocking thread: the runtime's workers stay free.
    let body = tokio::task::spawn_blocking(|| {
        let mut body = Vec::new();
        std::io::stdin().lock().read_to_end(&mut body).map(|_| body)
    })
    .await
    .context("the stdin reader failed")?
    .context("cannot read the body from stdin")?;
    Ok(Bytes::from(body))
}

/// Splits `--prop NAME=VALUE` at its first `=`.
fn parse_prop(prop: &str) -> anyhow::Result<(&str, &str)> {
    match prop.split_once('=') {
        Some(("", _)) => bail!("invalid --prop '{prop}': the property name before '=' is empty"),
        Some(pair) => Ok(pair),
        None => bail!("invalid --prop '{prop}': expected NAME=VALUE (no '=' found)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prop_splits_at_the_first_equals_sign() {
        assert_eq!(parse_prop("source=web").unwrap(), ("source", "web"));
        assert_eq!(parse_prop("q=a=b").unwrap(), ("q", "a=b"));
        assert_eq!(parse_prop("empty=").unwrap(), ("empty", ""));
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        send: SendArgs,
    }

    fn parse(args: &[&str]) -> Result<SendArgs, clap::Error> {
        use clap::Parser as _;
        let argv = ["weir", "orders", "body"].iter().chain(args);
        Cli::try_parse_from(argv).map(|cli| cli.send)
    }

    #[test]
    fn each_delay_flag_gives_one_delay() {
        let cases: [(&[&str], Option<Delay>); 6] = [
            (&[], None),
            (&["--delay-ms", "1500"], Some(Delay::After(1500))),
            (
                &["--at", "1764000000000"],
                Some(Delay::At(1_764_000_000_000)),
            ),
            (
                &["--at", "2025-11-24T16:00:00.001Z"],
                Some(Delay::At(1_764_000_000_001)),
            ),
            (&["--at", "5m"], Some(Delay::After(300_000))),
            (&["--delay-level", "18"], Some(Delay::Level(18))),
        ];
        for (args, delay) in cases {
            assert_eq!(parse(args).unwrap().delay(), delay, "{args:?}");
        }
    }

    #[test]
    fn conflicting_or_out_of_range_flags_are_refused() {
        for args in [
            &["--delay-ms", "1", "--at", "5s"][..],
            &["--delay-level", "1", "--delay-ms", "1"],
            &["--delay-level", "0"],
            &["--delay-level", "19"],
            &["--at", "tomorrow"],
            &["--transaction", "--delay-ms", "1"],
            &["--producer-group", "shop"],
            &["--check-after-ms", "1000"],
        ] {
            assert!(parse(args).is_err(), "{args:?} should be refused");
        }
        let half = parse(&[
            "--transaction",
            "--producer-group",
            "shop",
            "--check-after-ms",
            "9",
        ])
        .unwrap();
        assert!(half.transaction);
        assert_eq!(half.producer_group.as_deref(), Some("shop"));
    }

    #[test]
    fn sent_lines_say_where_or_when() {
        let stored: SendOutcome = serde_json::from_str(
            r#"{"id":"a","topic":"t","queue":1,"offset":2,"status":"SEND_OK"}"#,
        )
        .unwrap();
        assert_eq!(
            sent_line(&stored, 0),
            "sent id=a topic=t queue=1 offset=2\n"
        );
        let scheduled: SendOutcome = serde_json::from_str(
            r#"{"id":"b","topic":"t","deliver_at":1764000090000,"status":"FLUSH_DISK_TIMEOUT"}"#,
        )
        .unwrap();
        assert_eq!(
            sent_line(&scheduled, 1_764_000_000_000),
            "scheduled id=b topic=t deliver_at=2025-11-24T16:01:30.000Z (in 1 min 30 s) \
             (stored, but the fsync timed out: not yet known durable)\n"
        );
        let half = HalfSent {
            id: "tx".into(),
            topic: "t".into(),
            transaction: "tx".into(),
            status: SendStatus::SendOk,
        };
        assert_eq!(
            half_line(&half),
            "transaction=tx topic=t id=tx (half: invisible until committed)\n"
        );
    }

    #[test]
    fn retry_flags_set_the_attempts() {
        assert_eq!(parse(&[]).unwrap().retry_policy().max_attempts, 3);
        assert_eq!(
            parse(&["--retries", "5"])
                .unwrap()
                .retry_policy()
                .max_attempts,
            6
        );
        assert_eq!(
            parse(&["--retries", "0"])
                .unwrap()
                .retry_policy()
                .max_attempts,
            1
        );
        assert_eq!(
            parse(&["--no-retry"]).unwrap().retry_policy().max_attempts,
            1
        );
        assert!(parse(&["--no-retry", "--retries", "2"]).is_err());
        assert!(parse(&["--retries", "100"]).is_err());
    }

    #[test]
    fn waits_are_rounded_to_seconds() {
        assert_eq!(wait(-5), "0 ms");
        assert_eq!(wait(250), "250 ms");
        assert_eq!(wait(59_984), "1 min");
        assert_eq!(wait(29_400), "29 s");
    }

    #[test]
    fn prop_without_equals_sign_says_so() {
        let err = parse_prop("source").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid --prop 'source': expected NAME=VALUE (no '=' found)"
        );
        assert!(parse_prop("=web").is_err());
    }
}

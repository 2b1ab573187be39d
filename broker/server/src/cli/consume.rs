//! `weir consume GROUP`: receive a group's messages, print each, and ack them.
//!
//! Runs the client's consumer loop. Without `--wait-ms` it waits for messages until Ctrl-C
//! (or `--max`), like `tail -f`; with `--wait-ms MS` each receive waits up to MS and the
//! command ends when one comes back empty, which suits scripts. With `--json` the messages
//! are printed at the end as one document.

use std::fmt::Write as _;
use std::io::{ErrorKind, Write as _};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;
use weir_client::{ConsumerStats, Received, StopToken};

use super::Connection;
use super::failure::explain_group;
use super::output;

/// How long each receive waits when no `--wait-ms` is given (the command then runs until
/// Ctrl-C or `--max`).
const FOLLOW_WAIT_MS: u64 = 20_000;
/// The broker's limit on a receive's wait.
const MAX_WAIT_MS: u64 = 30_000;
/// Margin of the request timeout over the wait, for the answer to travel.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(10);

/// Receive a group's messages, print each, and ack them.
#[derive(clap::Args, Debug)]
pub(crate) struct ConsumeArgs {
    /// The group to consume.
    group: String,
    /// Print the messages without acking them: they are delivered again once their
    /// invisible time has passed.
    #[arg(long)]
    no_ack: bool,
    /// Stop after this many messages.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max: Option<u64>,
    /// Wait up to this long for messages on each receive (at most 30000), and stop when
    /// one comes back empty [default: wait for messages until Ctrl-C or --max].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=30_000))]
    wait_ms: Option<u64>,
    /// Receive as this consumer instance (required by broadcasting groups).
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
    /// Messages per receive (1–1000).
    #[arg(long, default_value_t = 32, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
    /// How long received messages stay invisible to the group [default: the group's].
    #[arg(long, value_name = "MS")]
    invisible_ms: Option<u64>,
}

/// `--json` output of `weir consume`.
#[derive(Serialize)]
struct Consumed<'a> {
    messages: &'a [Received],
    handled: u64,
    acked: u64,
    expired: u64,
}

/// Runs `weir consume`.
pub(crate) async fn run(args: ConsumeArgs, connection: &Connection) -> anyhow::Result<()> {
    let wait_ms = args.wait_ms.unwrap_or(FOLLOW_WAIT_MS).min(MAX_WAIT_MS);
    let client = connection.client_with(|builder| {
        builder.timeout(Some(Duration::from_millis(wait_ms) + TIMEOUT_MARGIN))
    })?;
    let stop = StopToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.stop();
            }
        }
    });
    let mut consumer = client
        .consumer(args.group.clone())
        .max(args.batch)
        .wait_ms(wait_ms)
        .auto_ack(!args.no_ack)
        .stop_when_idle(args.wait_ms.is_some())
        .stop_token(stop.clone());
    if let Some(max) = args.max {
        consumer = consumer.limit(max);
    }
    if let Some(name) = &args.consumer {
        consumer = consumer.consumer_name(name.clone());
    }
    if let Some(ms) = args.invisible_ms {
        consumer = consumer.invisible_ms(ms);
    }

    let json = connection.json;
    let mut collected = Vec::new();
    let mut closed = false;
    let group = &args.group;
    let stats = consumer
        .run(async |message: Received| {
            if json {
                collected.push(message);
                return Ok(());
            }
            if closed {
                // Not shown, so not acked: it will come again.
                return Err(());
            }
            match print_line(&message_line(&message)) {
                Ok(()) => Ok(()),
                Err(_) => {
                    closed = true;
                    stop.stop();
                    Err(())
                }
            }
        })
        .await
        .map_err(|err| explain_group(err, format!("cannot consume group '{group}'"), group))?;
    if json {
        return output::print_json(&Consumed {
            messages: &collected,
            handled: stats.handled,
            acked: stats.acked,
            expired: stats.expired,
        });
    }
    if !closed {
        eprintln!("{}", summary(&stats, args.no_ack));
    }
    Ok(())
}

/// Writes one line to stdout; an error when stdout is closed, to stop consuming.
fn print_line(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Err(err) if err.kind() == ErrorKind::BrokenPipe => bail!("stdout is closed"),
        other => other.context("cannot write to stdout"),
    }
}

/// One message on one line: where it is, which delivery, its attributes, then its body.
fn message_line(message: &Received) -> String {
    let mut line = format!(
        "{} topic={} queue={} offset={} attempt={} born={}",
        message.id,
        message.topic,
        message.queue,
        message.offset,
        message.attempt,
        output::utc_timestamp(message.born_ms),
    );
    if message.resent {
        line.push_str(" resent");
    }
    if !message.keys.is_empty() {
        let _ = write!(line, " keys={}", message.keys.join(","));
    }
    if let Some(tag) = &message.tag {
        let _ = write!(line, " tag={tag}");
    }
    if let Some(group) = &message.message_group {
        let _ = write!(line, " group={group}");
    }
    for (name, value) in &message.properties {
        let _ = write!(line, " prop.{name}={value}");
    }
    let _ = write!(line, " body: {}", output::body_preview(&message.body));
    line
}

/// What the run did, for stderr.
fn summary(stats: &ConsumerStats, no_ack: bool) -> String {
    let plural = if stats.handled == 1 { "" } else { "s" };
    let mut text = format!("consumed {} message{plural}", stats.handled);
    if no_ack {
        text.push_str(
            ", not acked: they will be delivered again once their invisible time has passed",
        );
    } else {
        let _ = write!(text, ", acked {}", stats.acked);
        if stats.expired > 0 {
            let _ = write!(
                text,
                ", {} not acked in time (they will be delivered again)",
                stats.expired
            );
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
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
    fn flags_parse() {
        let args = parse(&[
            "g",
            "--no-ack",
            "--max",
            "5",
            "--wait-ms",
            "1000",
            "--consumer",
            "c1",
        ])
        .unwrap();
        assert_eq!(args.group, "g");
        assert!(args.no_ack);
        assert_eq!(args.max, Some(5));
        assert_eq!(args.wait_ms, Some(1000));
        assert_eq!(args.consumer.as_deref(), Some("c1"));
        assert_eq!(args.batch, 32);
        assert!(parse(&["g", "--max", "0"]).is_err());
        assert!(parse(&["g", "--wait-ms", "30001"]).is_err());
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn message_line_shows_the_delivery() {
        let message = Received {
            id: "01A".into(),
            topic: "orders".into(),
            queue: 2,
            offset: 9,
            keys: vec!["k".into()],
            tag: Some("paid".into()),
            message_group: Some("cust-7".into()),
            properties: [("source".to_owned(), "web".to_owned())].into(),
            body: Bytes::from_static(b"hi\n"),
            born_ms: 0,
            store_ms: 1,
            receipt: "r".into(),
            attempt: 3,
            first_delivery_ms: 0,
            resent: false,
        };
        assert_eq!(
            message_line(&message),
            "01A topic=orders queue=2 offset=9 attempt=3 born=1970-01-01T00:00:00.000Z keys=k \
             tag=paid group=cust-7 prop.source=web body: hi\\n"
        );
    }

    #[test]
    fn summary_says_what_was_acked() {
        let stats = ConsumerStats {
            handled: 3,
            acked: 2,
            expired: 1,
            ..ConsumerStats::default()
        };
        assert_eq!(
            summary(&stats, false),
            "consumed 3 messages, acked 2, 1 not acked in time (they will be delivered again)"
        );
        let one = ConsumerStats {
            handled: 1,
            ..ConsumerStats::default()
        };
        assert!(summary(&one, true).starts_with("consumed 1 message, not acked"));
    }
}

//! `weir send`: send one message, its body from the command line, a file or stdin.

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use weir_client::{OutgoingMessage, SendStatus};

use super::Connection;
use super::failure::explain;
use super::output;

/// Send one message.
#[derive(clap::Args, Debug)]
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
    #[command(flatten)]
    connection: Connection,
}

/// Runs `weir send`.
pub(crate) async fn run(args: SendArgs) -> anyhow::Result<()> {
    let mut message = OutgoingMessage::new(read_body(&args).await?);
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
    // The JSON form keeps property names' case and any body exactly.
    let sent = args
        .connection
        .client()?
        .send(topic, &message)
        .await
        .map_err(|err| explain(err, format!("cannot send to topic '{topic}'"), Some(topic)))?;
    if args.connection.json {
        return output::print_json(&sent);
    }
    let note = match sent.status {
        SendStatus::SendOk => "",
        SendStatus::FlushDiskTimeout => " (stored, but the fsync timed out: not yet known durable)",
        SendStatus::Unknown => " (the broker reported an unknown status)",
    };
    output::print(&format!(
        "sent id={} topic={} queue={} offset={}{note}\n",
        sent.id, sent.topic, sent.queue, sent.offset
    ))
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

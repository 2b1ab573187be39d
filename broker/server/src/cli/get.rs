//! `weir get`: read messages by id, by key, or from a queue offset, and print them one
//! per line. By id it also finds a delayed message that is not yet due, and shows when it
//! will be delivered.

use std::fmt::Write as _;

use clap::ArgGroup;
use weir_client::{Message, MessageInfo, MessageState};
use weir_wire::message::Messages;

use super::Connection;
use super::failure::explain;
use super::output;

/// Read messages by id (`--id`), by key (`--key --topic`), or from a queue offset
/// (`--topic --queue --offset`).
#[derive(clap::Args, Debug)]
#[command(group(ArgGroup::new("by").required(true).args(["id", "key", "queue"])))]
pub(crate) struct GetArgs {
    /// Get the message with this id.
    #[arg(long, value_name = "ID", conflicts_with_all = ["topic", "max"])]
    id: Option<String>,
    /// Get the messages of --topic carrying this key, oldest first.
    #[arg(long, value_name = "KEY", requires = "topic")]
    key: Option<String>,
    /// The topic to read, with --key or with --queue and --offset.
    #[arg(long, value_name = "TOPIC")]
    topic: Option<String>,
    /// Read this queue of --topic, from --offset.
    #[arg(long, value_name = "Q", requires_all = ["topic", "offset"])]
    queue: Option<u32>,
    /// The first offset to read.
    #[arg(long, value_name = "N", requires = "queue")]
    offset: Option<u64>,
    /// At most this many messages (1–1000) [broker default: 32].
    #[arg(long, value_name = "M")]
    max: Option<u32>,
}

/// Runs `weir get`.
pub(crate) async fn run(args: GetArgs, connection: &Connection) -> anyhow::Result<()> {
    let client = connection.client()?;
    let json = connection.json;
    let topic = args.topic.as_deref().unwrap_or_default();
    if let Some(id) = &args.id {
        let info = client
            .message_info(id)
            .await
            .map_err(|err| explain(err, format!("cannot get message '{id}'"), None))?;
        return if json {
            output::print_json(&info)
        } else {
            output::print(&format!("{}\n", info_line(&info)))
        };
    }
    if let Some(key) = &args.key {
        let messages = client
            .messages_by_key(topic, key, args.max)
            .await
            .map_err(|err| {
                explain(
                    err,
                    format!("cannot look up key '{key}' in topic '{topic}'"),
                    Some(topic),
                )
            })?;
        if json {
            return output::print_json(&Messages::of(messages));
        }
        if messages.is_empty() {
            eprintln!("no message of topic '{topic}' carries key '{key}'");
        }
        return print_messages(&messages);
    }
    // clap guarantees --queue and --offset here: the "by" group is required.
    let (Some(queue), Some(offset)) = (args.queue, args.offset) else {
        anyhow::bail!("give --id, --key with --topic, or --topic with --queue and --offset");
    };
    let read = client
        .read_queue(topic, queue, offset, args.max)
        .await
        .map_err(|err| {
            explain(
                err,
                format!("cannot read queue {queue} of topic '{topic}' at offset {offset}"),
                Some(topic),
            )
        })?;
    if json {
        return output::print_json(&read);
    }
    if read.messages.is_empty() {
        eprintln!(
            "no message at offset {offset} (the queue's next offset is {})",
            read.max_offset
        );
    } else {
        eprintln!(
            "next offset {}, max offset {}",
            read.next_offset, read.max_offset
        );
    }
    print_messages(&read.messages)
}

/// Prints each message on one line: where it is, its attributes, then its body.
fn print_messages(messages: &[Message]) -> anyhow::Result<()> {
    let mut text = String::new();
    for message in messages {
        text.push_str(&message_line(message));
        text.push('\n');
    }
    output::print(&text)
}

fn message_line(message: &Message) -> String {
    let place = format!("queue={} offset={}", message.queue, message.offset);
    attributes_line(message, &place)
}

/// A message looked up by id: a stored one as [`message_line`] shows it; a scheduled one
/// with its state and delivery time in place of its queue and offset.
fn info_line(info: &MessageInfo) -> String {
    match (info.state, info.deliver_at) {
        (MessageState::Stored, _) => message_line(&info.message),
        (MessageState::Scheduled, Some(at)) => attributes_line(
            &info.message,
            &format!("state=scheduled deliver_at={}", output::utc_time(at)),
        ),
        (MessageState::Scheduled, None) => attributes_line(&info.message, "state=scheduled"),
        (MessageState::Cancelled, _) => attributes_line(&info.message, "state=cancelled"),
        (MessageState::Unknown, _) => attributes_line(&info.message, "state=unknown"),
    }
}

/// The id, topic, `place`, then the attributes and the body.
fn attributes_line(message: &Message, place: &str) -> String {
    let mut line = format!(
        "{} topic={} {place} born={}",
        message.id,
        message.topic,
        output::utc_timestamp(message.born_ms),
    );
    if !message.keys.is_empty() {
        let _ = write!(line, " keys={}", message.keys.join(","));
    }
    if let Some(tag) = &message.tag {
        let _ = write!(line, " tag={tag}");
    }
    for (name, value) in &message.properties {
        let _ = write!(line, " prop.{name}={value}");
    }
    let _ = write!(line, " body: {}", output::body_preview(&message.body));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn message_line_ends_with_the_body() {
        let mut message = Message {
            id: "0193".into(),
            topic: "orders".into(),
            queue: 3,
            offset: 41,
            keys: vec!["a".into(), "b".into()],
            tag: Some("created".into()),
            properties: [("source".to_owned(), "web".to_owned())].into(),
            born_ms: 0,
            store_ms: 1,
            body: Bytes::from_static(b"hello\nworld"),
        };
        assert_eq!(
            message_line(&message),
            "0193 topic=orders queue=3 offset=41 born=1970-01-01T00:00:00.000Z keys=a,b \
             tag=created prop.source=web body: hello\\nworld"
        );
        message.body = Bytes::from_static(&[0xff; 4]);
        assert!(message_line(&message).ends_with("body: <4 bytes, not UTF-8>"));
    }

    #[test]
    fn scheduled_message_shows_when_it_is_due() {
        let info: MessageInfo = serde_json::from_value(serde_json::json!({
            "id":"m","topic":"orders","state":"scheduled","deliver_at":1_764_000_000_001_i64,
            "keys":[],"properties":{},"born_ms":0,"store_ms":0,"body":"later"}))
        .unwrap();
        assert_eq!(
            info_line(&info),
            "m topic=orders state=scheduled deliver_at=2025-11-24T16:00:00.001Z \
             born=1970-01-01T00:00:00.000Z body: later"
        );
        let stored = MessageInfo {
            state: MessageState::Stored,
            deliver_at: None,
            ..info
        };
        assert!(info_line(&stored).starts_with("m topic=orders queue=0 offset=0 born="));
    }
}

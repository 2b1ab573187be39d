//! Messages as the client sends them ([`OutgoingMessage`]) and receives them ([`Message`]).
//!
//! The received shapes are `weir_wire`'s (one conversion each way); the outgoing one is
//! still written here. A body that is valid UTF-8 travels as `"body"`, any other body as
//! `"body_base64"`. Both types hold the body as [`Bytes`] so that callers never see the
//! encoding.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize, Serializer};
use weir_wire::message as wire;
use weir_wire::send::SendRequest;

/// A message to send: a body plus optional attributes.
///
/// ```
/// use weir_client::{Delay, OutgoingMessage};
///
/// let message = OutgoingMessage::new("hello")
///     .with_key("order-1")
///     .with_tag("created")
///     .with_property("source", "web")
///     .with_delay_ms(30_000);
/// assert_eq!(message.keys, ["order-1"]);
/// assert_eq!(message.delay, Some(Delay::After(30_000)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The message body; any bytes.
    pub body: Bytes,
    /// A client-chosen id (1–128 printable ASCII characters); `None` lets the broker assign
    /// a unique, time-sortable one.
    pub id: Option<String>,
    /// Business keys the message can be looked up by.
    pub keys: Vec<String>,
    /// One tag, for filtering.
    pub tag: Option<String>,
    /// User properties.
    pub properties: BTreeMap<String, String>,
    /// The message group (sharding key): messages of one group go to one queue.
    pub message_group: Option<String>,
    /// Pins the message to this queue; takes precedence over the message group.
    pub queue: Option<u32>,
    /// Delivers the message later instead of at once (see [`Delay`]).
    pub delay: Option<Delay>,
}

/// When a delayed message is delivered: it is stored at once, invisible to consumers,
/// and appended to its topic when due (never early). Until then it can be cancelled
/// ([`Client::cancel`](crate::Client::cancel)).
///
/// The broker refuses a delivery time more than its maximum delay away (40 days by
/// default), and a level outside 1–18, with `INVALID_ARGUMENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    /// This many milliseconds after the broker receives the send (`delay_ms`).
    After(u64),
    /// At this time, in ms since the Unix epoch (`deliver_at`); a time in the past is
    /// delivered at once.
    At(i64),
    /// After one of RocketMQ's 18 delay levels, 1 to 18 (`delay_level`): 1s 5s 10s 30s
    /// 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h.
    Level(u32),
}

impl Delay {
    /// The `(delay_ms, deliver_at, delay_level)` fields of the JSON form, one of them set.
    fn fields(self) -> (Option<u64>, Option<i64>, Option<u32>) {
        match self {
            Delay::After(ms) => (Some(ms), None, None),
            Delay::At(at) => (None, Some(at), None),
            Delay::Level(level) => (None, None, Some(level)),
        }
    }
}

impl OutgoingMessage {
    /// A message with this body and no attributes.
    pub fn new(body: impl Into<Bytes>) -> OutgoingMessage {
        OutgoingMessage {
            body: body.into(),
            ..OutgoingMessage::default()
        }
    }

    /// Sets the client-chosen id.
    pub fn with_id(mut self, id: impl Into<String>) -> OutgoingMessage {
        self.id = Some(id.into());
        self
    }

    /// Adds a business key.
    pub fn with_key(mut self, key: impl Into<String>) -> OutgoingMessage {
        self.keys.push(key.into());
        self
    }

    /// Sets the tag.
    pub fn with_tag(mut self, tag: impl Into<String>) -> OutgoingMessage {
        self.tag = Some(tag.into());
        self
    }

    /// Adds (or replaces) a user property.
    pub fn with_property(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> OutgoingMessage {
        self.properties.insert(name.into(), value.into());
        self
    }

    /// Sets the message group.
    pub fn with_message_group(mut self, group: impl Into<String>) -> OutgoingMessage {
        self.message_group = Some(group.into());
        self
    }

    /// Pins the message to a queue.
    pub fn with_queue(mut self, queue: u32) -> OutgoingMessage {
        self.queue = Some(queue);
        self
    }

    /// Sets when the message is delivered (replacing any delay set before).
    pub fn with_delay(mut self, delay: Delay) -> OutgoingMessage {
        self.delay = Some(delay);
        self
    }

    /// Delivers the message `ms` milliseconds after the broker receives it.
    pub fn with_delay_ms(self, ms: u64) -> OutgoingMessage {
        self.with_delay(Delay::After(ms))
    }

    /// Delivers the message at `at`, in ms since the Unix epoch.
    pub fn with_deliver_at(self, at: i64) -> OutgoingMessage {
        self.with_delay(Delay::At(at))
    }

    /// Delivers the message after RocketMQ delay level `level` (1 to 18).
    pub fn with_delay_level(self, level: u32) -> OutgoingMessage {
        self.with_delay(Delay::Level(level))
    }
}

/// The JSON form of a send: `{"body" | "body_base64", "id", "keys", "tag", ...,
/// "delay_ms" | "deliver_at" | "delay_level"}`.
impl Serialize for OutgoingMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.request().serialize(serializer)
    }
}

impl OutgoingMessage {
    /// The message in the JSON form of a send, borrowing its attributes.
    pub(crate) fn request(&self) -> SendRequest<'_> {
        let (delay_ms, deliver_at, delay_level) = self.delay.map(Delay::fields).unwrap_or_default();
        SendRequest {
            id: self.id.as_deref().map(Cow::Borrowed),
            keys: Cow::Borrowed(&self.keys),
            tag: self.tag.as_deref().map(Cow::Borrowed),
            properties: self
                .properties
                .iter()
                .map(|(name, value)| (Cow::Borrowed(name.as_str()), Cow::Borrowed(value.as_str())))
                .collect(),
            message_group: self.message_group.as_deref().map(Cow::Borrowed),
            queue: self.queue,
            delay_ms,
            deliver_at,
            delay_level,
            ..SendRequest::with_body(&self.body)
        }
    }
}

/// A stored message, as the broker returns it from a read.
///
/// Serializes back to the broker's JSON shape (`body` when UTF-8, else `body_base64`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "wire::Message<'static>")]
pub struct Message {
    /// The message id.
    pub id: String,
    /// The topic it was sent to.
    pub topic: String,
    /// The queue it was stored in.
    pub queue: u32,
    /// Its offset in that queue.
    pub offset: u64,
    /// Its business keys.
    pub keys: Vec<String>,
    /// Its tag.
    pub tag: Option<String>,
    /// Its user properties.
    pub properties: BTreeMap<String, String>,
    /// When the producer's request reached the broker, in ms since the Unix epoch.
    pub born_ms: u64,
    /// When the broker stored it, in ms since the Unix epoch.
    pub store_ms: u64,
    /// The body.
    pub body: Bytes,
}

impl Message {
    /// The body as text when it is valid UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// A message in no queue yet (scheduled, or the half message of a transaction), from
    /// its wire parts: its `queue` and `offset` read 0.
    pub(crate) fn unplaced(
        id: String,
        topic: String,
        content: wire::Content<'static>,
    ) -> Result<Message, String> {
        Message::from_wire(id, topic, (0, 0), content)
    }

    /// A message from its wire parts; `(queue, offset)` say where it is stored.
    fn from_wire(
        id: String,
        topic: String,
        (queue, offset): (u32, u64),
        content: wire::Content<'static>,
    ) -> Result<Message, String> {
        let parts = Parts::new(content, &id)?;
        Ok(Message {
            id,
            topic,
            queue,
            offset,
            keys: parts.keys,
            tag: parts.tag,
            properties: parts.properties,
            born_ms: parts.born_ms,
            store_ms: parts.store_ms,
            body: parts.body,
        })
    }

    /// This message in the broker's shape of one in no queue yet: without `queue` and
    /// `offset`, borrowed.
    pub(crate) fn pending(&self) -> wire::Pending<'_> {
        wire::Pending {
            id: Cow::Borrowed(&self.id),
            topic: Cow::Borrowed(&self.topic),
            content: self.content(),
        }
    }

    /// The wire content of this message, borrowed.
    fn content(&self) -> wire::Content<'_> {
        Parts::content(
            &self.keys,
            self.tag.as_deref(),
            None,
            &self.properties,
            self.born_ms,
            self.store_ms,
            &self.body,
        )
    }
}

impl TryFrom<wire::Message<'static>> for Message {
    type Error = String;

    fn try_from(wire: wire::Message<'static>) -> Result<Message, String> {
        Message::from_wire(
            wire.id.into_owned(),
            wire.topic.into_owned(),
            (wire.queue, wire.offset),
            wire.content,
        )
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        wire::Message {
            id: Cow::Borrowed(&self.id),
            topic: Cow::Borrowed(&self.topic),
            queue: self.queue,
            offset: self.offset,
            content: self.content(),
        }
        .serialize(serializer)
    }
}

/// The content of a received message ([`wire::Content`]) as the client's types hold it:
/// owned, the body as [`Bytes`], times unsigned.
pub(crate) struct Parts {
    pub(crate) keys: Vec<String>,
    pub(crate) tag: Option<String>,
    pub(crate) message_group: Option<String>,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) born_ms: u64,
    pub(crate) store_ms: u64,
    pub(crate) body: Bytes,
}

impl Parts {
    /// Takes `content` apart; `id` names the message in the error (a negative time).
    pub(crate) fn new(content: wire::Content<'static>, id: &str) -> Result<Parts, String> {
        let unsigned = |ms: i64, name: &str| {
            u64::try_from(ms).map_err(|_| format!("message {id}: {name} {ms} is negative"))
        };
        Ok(Parts {
            keys: content.keys.into_owned(),
            tag: content.tag.map(Cow::into_owned),
            message_group: content.message_group.map(Cow::into_owned),
            properties: content
                .properties
                .into_iter()
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
            born_ms: unsigned(content.born_ms, "born_ms")?,
            store_ms: unsigned(content.store_ms, "store_ms")?,
            body: Bytes::from(content.body.into_owned()),
        })
    }

    /// The wire content of a message's parts, borrowed.
    pub(crate) fn content<'a>(
        keys: &'a [String],
        tag: Option<&'a str>,
        message_group: Option<&'a str>,
        properties: &'a BTreeMap<String, String>,
        born_ms: u64,
        store_ms: u64,
        body: &'a [u8],
    ) -> wire::Content<'a> {
        wire::Content {
            keys: Cow::Borrowed(keys),
            tag: tag.map(Cow::Borrowed),
            message_group: message_group.map(Cow::Borrowed),
            properties: properties
                .iter()
                .map(|(name, value)| (Cow::Borrowed(name.as_str()), Cow::Borrowed(value.as_str())))
                .collect(),
            born_ms: signed(born_ms),
            store_ms: signed(store_ms),
            body: wire::Body::borrowed(body),
        }
    }
}

/// A time the broker sent as a signed number, back in its wire form.
fn signed(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_json_uses_body_for_text_and_base64_otherwise() {
        let text =
            serde_json::to_value(OutgoingMessage::new("hi").with_key("k").with_queue(2)).unwrap();
        assert_eq!(
            text,
            serde_json::json!({"body": "hi", "keys": ["k"], "queue": 2})
        );
        let binary = serde_json::to_value(OutgoingMessage::new(vec![0xff, 0x00])).unwrap();
        assert_eq!(binary, serde_json::json!({"body_base64": "/wA="}));
    }

    #[test]
    fn outgoing_json_carries_one_delay_field() {
        let cases = [
            (
                Delay::After(1500),
                serde_json::json!({"body": "x", "delay_ms": 1500}),
            ),
            (
                Delay::At(1_764_000_000_000),
                serde_json::json!({"body": "x", "deliver_at": 1_764_000_000_000_i64}),
            ),
            (
                Delay::Level(3),
                serde_json::json!({"body": "x", "delay_level": 3}),
            ),
        ];
        for (delay, expected) in cases {
            let message = OutgoingMessage::new("x").with_delay_ms(1).with_delay(delay);
            assert_eq!(serde_json::to_value(&message).unwrap(), expected);
        }
    }

    #[test]
    fn received_message_decodes_either_body_form() {
        let text: Message = serde_json::from_str(
            r#"{"id":"a","topic":"t","queue":3,"offset":41,"keys":["order-1"],"tag":"created",
                "properties":{"source":"web"},"born_ms":1,"store_ms":2,"body":"hello"}"#,
        )
        .unwrap();
        assert_eq!(text.body, Bytes::from_static(b"hello"));
        assert_eq!(text.tag.as_deref(), Some("created"));
        let binary: Message = serde_json::from_str(
            r#"{"id":"b","topic":"t","queue":0,"offset":0,"born_ms":1,"store_ms":2,"body_base64":"/wA="}"#,
        )
        .unwrap();
        assert_eq!(binary.body, Bytes::from_static(&[0xff, 0x00]));
        assert_eq!(
            serde_json::to_value(&binary).unwrap()["body_base64"],
            "/wA="
        );
    }

    #[test]
    fn bad_base64_body_is_a_decode_error() {
        let result = serde_json::from_str::<Message>(
            r#"{"id":"b","topic":"t","queue":0,"offset":0,"body_base64":"!!"}"#,
        );
        assert!(result.unwrap_err().to_string().contains("not base64"));
    }
}

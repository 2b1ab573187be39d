//! The JSON shapes of messages as the API returns them: stored messages, deliveries to a
//! group, dead letters, delayed and half messages.
//!
//! Owns the body rule: a body that is valid UTF-8 travels as `"body"` (text), any other
//! as `"body_base64"`; neither means an empty body. Every field borrows or owns
//! ([`Cow`]), so the broker serializes its stored messages without copying them, and a
//! client deserializes owned values (`'static`). Parsing tolerates unknown fields: a
//! newer broker may add some.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::Error as _;
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A message body in its JSON form: `{"body": text}` when it is valid UTF-8, else
/// `{"body_base64": ...}`. Flattened into the shapes that carry one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body<'a>(pub Cow<'a, [u8]>);

impl<'a> Body<'a> {
    /// A body that borrows `bytes`.
    pub fn borrowed(bytes: &'a [u8]) -> Self {
        Body(Cow::Borrowed(bytes))
    }

    /// The bytes, owned.
    pub fn into_owned(self) -> Vec<u8> {
        self.0.into_owned()
    }
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match std::str::from_utf8(&self.0) {
            Ok(text) => map.serialize_entry("body", text)?,
            Err(_) => map.serialize_entry("body_base64", &BASE64.encode(&self.0))?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Body<'_> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(default)]
            body: Option<String>,
            #[serde(default)]
            body_base64: Option<String>,
        }
        let fields = Fields::deserialize(deserializer)?;
        let bytes = match (fields.body, fields.body_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(encoded)) => BASE64
                .decode(encoded.as_bytes())
                .map_err(|err| D::Error::custom(format!("body_base64 is not base64: {err}")))?,
            (None, None) => Vec::new(),
            (Some(_), Some(_)) => {
                return Err(D::Error::custom(
                    "a message carries both body and body_base64",
                ));
            }
        };
        Ok(Body(Cow::Owned(bytes)))
    }
}

/// What a message carries: the part shared by stored messages, deliveries, dead letters,
/// delayed and half messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content<'a> {
    /// Business keys.
    #[serde(default)]
    pub keys: Cow<'a, [String]>,
    /// The tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Cow<'a, str>>,
    /// The message group (sharding key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_group: Option<Cow<'a, str>>,
    /// User properties.
    #[serde(default)]
    pub properties: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    /// When the producer's request reached the broker, in ms since the Unix epoch.
    #[serde(default)]
    pub born_ms: i64,
    /// When the broker stored it, in ms since the Unix epoch.
    #[serde(default)]
    pub store_ms: i64,
    /// The body.
    #[serde(flatten)]
    pub body: Body<'a>,
}

/// A stored message, as reads and lookups by id answer it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message<'a> {
    /// The message id.
    pub id: Cow<'a, str>,
    /// Its topic.
    pub topic: Cow<'a, str>,
    /// Its queue; absent (0) from a message in no queue yet.
    #[serde(default)]
    pub queue: u32,
    /// Its offset in the queue; absent (0) from a message in no queue yet.
    #[serde(default)]
    pub offset: u64,
    /// What it carries.
    #[serde(flatten)]
    pub content: Content<'a>,
}

/// A message in no queue yet (delayed, or the half message of a transaction): a stored
/// message's fields without `queue` and `offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending<'a> {
    /// The message id.
    pub id: Cow<'a, str>,
    /// The topic it goes to.
    pub topic: Cow<'a, str>,
    /// What it carries.
    #[serde(flatten)]
    pub content: Content<'a>,
}

/// A message delivered to a consumer group, with its receipt handle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery<'a> {
    /// The message id.
    pub id: Cow<'a, str>,
    /// Its topic.
    pub topic: Cow<'a, str>,
    /// Its queue.
    pub queue: u32,
    /// Its offset in the queue.
    pub offset: u64,
    /// What it carries.
    #[serde(flatten)]
    pub content: Content<'a>,
    /// The handle to ack, nack or change the invisible time with.
    pub receipt: Cow<'a, str>,
    /// Which delivery this is, from 1.
    pub attempt: u32,
    /// When the message was first delivered to the group, in ms since the Unix epoch.
    #[serde(default)]
    pub first_delivery_ms: i64,
    /// Whether this is a dead letter resent to the group.
    #[serde(default)]
    pub resent: bool,
}

/// A message in a group's dead-letter queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter<'a> {
    /// Its offset in the dead-letter queue.
    pub dlq_offset: u64,
    /// The id of the dead-letter record.
    pub id: Cow<'a, str>,
    /// The id of the original message.
    pub original_id: Cow<'a, str>,
    /// The topic of the original message.
    pub topic: Cow<'a, str>,
    /// The queue of the original message.
    pub queue: u32,
    /// The offset of the original message in its queue.
    pub offset: u64,
    /// Deliveries before it was dead-lettered.
    pub attempts: u32,
    /// Why it was dead-lettered.
    #[serde(default)]
    pub reason: Cow<'a, str>,
    /// When it was dead-lettered, in ms since the Unix epoch.
    #[serde(default)]
    pub dead_ms: i64,
    /// What the original message carries.
    #[serde(flatten)]
    pub content: Content<'a>,
}

/// A page of a group's dead-letter queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterPage<'a> {
    /// The dead letters, in dead-letter order.
    pub dead_letters: Vec<DeadLetter<'a>>,
    /// The offset to ask for the next page with.
    pub next_offset: u64,
    /// The offset the next dead letter will get.
    pub max_offset: u64,
}

/// A list of messages in JSON: what a lookup by key (`messages` only), a read by offset
/// (with `next_offset` and `max_offset`) and a receive (each element a [`Delivery`])
/// answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Messages<T> {
    /// The messages, in order.
    pub messages: Vec<T>,
    /// For a read by offset: the offset to read from next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
    /// For a read by offset: the offset the next message stored in the queue will get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_offset: Option<u64>,
}

impl<T> Messages<T> {
    /// A list without offsets (a lookup by key, a receive).
    pub fn of(messages: Vec<T>) -> Messages<T> {
        Messages {
            messages,
            next_offset: None,
            max_offset: None,
        }
    }
}

/// A delayed message that is not yet due, as a lookup by id answers it: no queue and
/// offset yet, `state` is `"scheduled"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled<'a> {
    /// The message id.
    pub id: Cow<'a, str>,
    /// The topic it will be delivered to.
    pub topic: Cow<'a, str>,
    /// Its state: `"scheduled"`.
    pub state: Cow<'a, str>,
    /// When it will be delivered, in ms since the Unix epoch.
    pub deliver_at: i64,
    /// What it carries.
    #[serde(flatten)]
    pub content: Content<'a>,
}

/// A half message with the state of its transaction, as the transaction list and the
/// producers' check-back poll answer it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Half<'a> {
    /// The transaction id.
    pub transaction: Cow<'a, str>,
    /// The topic the message goes to when committed.
    pub topic: Cow<'a, str>,
    /// The producer group named by the half send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_group: Option<Cow<'a, str>>,
    /// Check-backs made so far.
    pub checks: u32,
    /// Whether the broker stopped checking.
    #[serde(default)]
    pub parked: bool,
    /// The message id.
    pub id: Cow<'a, str>,
    /// What it carries.
    #[serde(flatten)]
    pub content: Content<'a>,
}

/// The body of a check-back callback: the transaction and its message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBack<'a> {
    /// The transaction id.
    pub transaction: Cow<'a, str>,
    /// The topic the message goes to when committed.
    pub topic: Cow<'a, str>,
    /// The producer group named by the half send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_group: Option<Cow<'a, str>>,
    /// Check-backs made so far, this one included.
    pub checks: u32,
    /// The half message.
    pub message: Pending<'a>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn content(body: &[u8]) -> Content<'_> {
        Content {
            keys: Cow::Owned(vec!["order-1".to_owned()]),
            tag: Some("created".into()),
            properties: [("source".into(), "web".into())].into(),
            born_ms: 1,
            store_ms: 2,
            body: Body::borrowed(body),
            ..Content::default()
        }
    }

    #[test]
    fn a_text_body_is_text_and_any_other_is_base64() {
        let text = Message {
            id: "a".into(),
            topic: "t".into(),
            queue: 3,
            offset: 41,
            content: content(b"hello"),
        };
        assert_eq!(
            serde_json::to_value(&text).unwrap(),
            json!({"id": "a", "topic": "t", "queue": 3, "offset": 41, "keys": ["order-1"],
                "tag": "created", "properties": {"source": "web"}, "born_ms": 1,
                "store_ms": 2, "body": "hello"})
        );
        let binary = Pending {
            id: "b".into(),
            topic: "t".into(),
            content: content(&[0xff, 0x00]),
        };
        let value = serde_json::to_value(&binary).unwrap();
        assert_eq!(value["body_base64"], "/wA=");
        assert!(value.get("body").is_none());
        let back: Pending<'static> = serde_json::from_value(value).unwrap();
        assert_eq!(back, binary);
    }

    #[test]
    fn a_message_round_trips_and_an_empty_body_is_text() {
        let message = Message {
            id: "a".into(),
            topic: "t".into(),
            content: content(b""),
            ..Message::default()
        };
        let json = serde_json::to_string(&message).unwrap();
        assert!(json.contains(r#""body":"""#), "{json}");
        assert_eq!(serde_json::from_str::<Message<'_>>(&json).unwrap(), message);
    }

    #[test]
    fn responses_with_unknown_fields_parse() {
        let delivery: Delivery<'static> = serde_json::from_str(
            r#"{"id":"a","topic":"t","queue":0,"offset":5,"body":"x","receipt":"r",
                "attempt":1,"priority":7,"trace":{"span":"s"}}"#,
        )
        .unwrap();
        assert_eq!(delivery.receipt, "r");
        assert_eq!(&*delivery.content.body.0, b"x");
        let dead: DeadLetter<'static> = serde_json::from_str(
            r#"{"dlq_offset":0,"id":"d","original_id":"a","topic":"t","queue":0,"offset":5,
                "attempts":3,"body_base64":"/wA=","new_field":true}"#,
        )
        .unwrap();
        assert_eq!(&*dead.content.body.0, &[0xff, 0x00]);
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        let message: Message<'static> = serde_json::from_str(r#"{"id":"a","topic":"t"}"#).unwrap();
        assert_eq!(message.queue, 0);
        assert!(message.content.keys.is_empty());
        assert!(message.content.body.0.is_empty());
    }

    #[test]
    fn a_bad_body_does_not_parse() {
        let bad = serde_json::from_str::<Message<'static>>(
            r#"{"id":"b","topic":"t","body_base64":"!!"}"#,
        );
        assert!(bad.unwrap_err().to_string().contains("not base64"));
        let both = serde_json::from_str::<Message<'static>>(
            r#"{"id":"b","topic":"t","body":"x","body_base64":"eA=="}"#,
        );
        assert!(both.unwrap_err().to_string().contains("both"));
    }
}

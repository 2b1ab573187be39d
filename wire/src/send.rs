//! The JSON shapes of sending: the message a producer sends (one, or each entry of a JSON
//! batch) and the broker's answers to single, half and batch sends.
//!
//! The request is parsed strictly by the broker (`deny_unknown_fields`: a misspelt
//! attribute is an error, not a silently dropped one); the answers are parsed leniently
//! by clients. A message placed in its queue answers `queue` and `offset`; a delayed one
//! that is not due yet has neither and answers `deliver_at` instead.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// The value of `transaction` that makes a send a half (transactional) message.
pub const HALF: &str = "half";

/// The outcome the broker reports for a stored send (RocketMQ's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SendStatus {
    /// Stored (and flushed, when the broker runs with `flush = "sync"`).
    SendOk,
    /// Stored, but the synchronous fsync did not complete within the flush timeout: not
    /// yet known to be durable.
    FlushDiskTimeout,
    /// Stored on the master, but the in-sync slaves did not confirm it within the
    /// replication timeout (synchronous replication).
    FlushSlaveTimeout,
    /// Stored on the master, but no slave was in sync to confirm it (synchronous
    /// replication).
    SlaveNotAvailable,
    /// A status this version does not know (parsing only).
    #[serde(other)]
    Unknown,
}

/// One message to send, in JSON form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest<'a> {
    /// The body as text; exactly one of `body` and `body_base64` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Cow<'a, str>>,
    /// The body, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<Cow<'a, str>>,
    /// The message id; the broker assigns one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    /// Business keys.
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    pub keys: Cow<'a, [String]>,
    /// The tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Cow<'a, str>>,
    /// User properties.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    /// The message group (sharding key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_group: Option<Cow<'a, str>>,
    /// The queue to store it in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// When the producer made it, in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born_ms: Option<i64>,
    /// Deliver this many ms after the send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Deliver at this time, in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_at: Option<i64>,
    /// Deliver after RocketMQ's delay level (1–18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_level: Option<u32>,
    /// [`HALF`] for a half (transactional) message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<Cow<'a, str>>,
    /// The producer group asked at check-back (half messages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_group: Option<Cow<'a, str>>,
    /// When the first check-back is due, ms after the send (half messages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_after_ms: Option<u64>,
}

/// Why the body of a [`SendRequest`] cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Neither `body` nor `body_base64`.
    #[error("a message needs \"body\" or \"body_base64\"")]
    Missing,
    /// Both.
    #[error("give either \"body\" or \"body_base64\", not both")]
    Both,
    /// `body_base64` that is not base64.
    #[error("body_base64 is not base64: {0}")]
    NotBase64(String),
}

impl<'a> SendRequest<'a> {
    /// A request carrying `body`: as text when it is valid UTF-8, else base64.
    pub fn with_body(body: &'a [u8]) -> Self {
        let (body, body_base64) = match std::str::from_utf8(body) {
            Ok(text) => (Some(Cow::Borrowed(text)), None),
            Err(_) => (None, Some(Cow::Owned(BASE64.encode(body)))),
        };
        SendRequest {
            body,
            body_base64,
            ..SendRequest::default()
        }
    }

    /// The body's bytes.
    ///
    /// # Errors
    ///
    /// Neither or both of `body` and `body_base64`, or `body_base64` not base64.
    pub fn take_body(&mut self) -> Result<Vec<u8>, BodyError> {
        match (self.body.take(), self.body_base64.take()) {
            (Some(text), None) => Ok(text.into_owned().into_bytes()),
            (None, Some(encoded)) => BASE64
                .decode(encoded.as_bytes())
                .map_err(|err| BodyError::NotBase64(err.to_string())),
            (None, None) => Err(BodyError::Missing),
            (Some(_), Some(_)) => Err(BodyError::Both),
        }
    }
}

/// The answer to a single send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAnswer<'a> {
    /// The message id (client-chosen or broker-assigned).
    pub id: Cow<'a, str>,
    /// The topic.
    pub topic: Cow<'a, str>,
    /// The queue it was stored in; absent while scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// Its offset in that queue; absent while scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// When a scheduled message will be delivered, in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_at: Option<i64>,
    /// Whether it is known durable.
    pub status: SendStatus,
}

/// The answer to a half (transactional) send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalfSendAnswer<'a> {
    /// The message id: the transaction id.
    pub id: Cow<'a, str>,
    /// The topic the message goes to when committed.
    pub topic: Cow<'a, str>,
    /// The transaction id, to commit or roll back with.
    pub transaction: Cow<'a, str>,
    /// Whether it is known durable.
    pub status: SendStatus,
}

/// Where one message of a batch went; as in [`SendAnswer`], a scheduled one answers
/// `deliver_at` instead of its queue and offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem<'a> {
    /// The message id.
    pub id: Cow<'a, str>,
    /// The queue; absent while scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// The offset in that queue; absent while scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// When a scheduled message will be delivered, in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_at: Option<i64>,
}

/// The answer to a batch send (all messages stored, or none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer<'a> {
    /// The topic.
    pub topic: Cow<'a, str>,
    /// Whether the batch is known durable.
    pub status: SendStatus,
    /// Where each message went, in the order sent.
    pub results: Vec<BatchItem<'a>>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_request_round_trips_and_leaves_out_what_it_does_not_carry() {
        let mut request = SendRequest::with_body(b"hello");
        request.keys = Cow::Owned(vec!["k".to_owned()]);
        request.queue = Some(2);
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(value, json!({"body": "hello", "keys": ["k"], "queue": 2}));
        let mut back: SendRequest<'static> = serde_json::from_value(value).unwrap();
        assert_eq!(back, request);
        assert_eq!(back.take_body().unwrap(), b"hello");
    }

    #[test]
    fn a_binary_body_travels_as_base64() {
        let mut request = SendRequest::with_body(&[0xff, 0]);
        assert_eq!(request.body_base64.as_deref(), Some("/wA="));
        assert_eq!(request.take_body().unwrap(), [0xff, 0]);
    }

    #[test]
    fn a_request_is_parsed_strictly() {
        let err = serde_json::from_str::<SendRequest<'_>>(r#"{"body":"x","tgs":"a"}"#);
        assert!(err.unwrap_err().to_string().contains("unknown field `tgs`"));
        for (text, expected) in [
            (r#"{}"#, BodyError::Missing),
            (r#"{"body":"x","body_base64":"eA=="}"#, BodyError::Both),
        ] {
            let mut request: SendRequest<'_> = serde_json::from_str(text).unwrap();
            assert_eq!(request.take_body().unwrap_err(), expected);
        }
        let mut bad: SendRequest<'_> = serde_json::from_str(r#"{"body_base64":"!!"}"#).unwrap();
        assert!(matches!(bad.take_body(), Err(BodyError::NotBase64(_))));
    }

    #[test]
    fn answers_leave_out_queue_and_offset_while_scheduled_and_parse_leniently() {
        let scheduled = SendAnswer {
            id: "a".into(),
            topic: "t".into(),
            queue: None,
            offset: None,
            deliver_at: Some(5),
            status: SendStatus::SendOk,
        };
        assert_eq!(
            serde_json::to_value(&scheduled).unwrap(),
            json!({"id": "a", "topic": "t", "deliver_at": 5, "status": "SEND_OK"})
        );
        let batch: BatchAnswer<'static> = serde_json::from_str(
            r#"{"topic":"t","status":"SOMETHING_NEW","results":[{"id":"a","queue":1,
                "offset":2,"region":"x"}],"took_us":3}"#,
        )
        .unwrap();
        assert_eq!(batch.status, SendStatus::Unknown);
        assert_eq!(batch.results[0].offset, Some(2));
    }
}

//! Delayed messages after their send: the state of a message by id (stored in its queue,
//! or still scheduled with its delivery time) and cancelling one that is not yet due.
//!
//! Sending a delayed message is an ordinary send with a [`Delay`](crate::Delay) (see
//! `send.rs`); this module only deals with what follows.

use http::Method;
use serde::{Deserialize, Serialize, Serializer};

use crate::endpoint::encode_component;
use crate::{Client, ClientError, Message};
use weir_wire::message as wire;

/// Where a message is in its life, as the broker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    /// In its topic: consumers can receive it.
    Stored,
    /// Delayed and not yet due: it will be appended to its topic at its delivery time.
    Scheduled,
    /// Delayed, then cancelled before it was due: it will never be delivered.
    Cancelled,
    /// A state this client version does not know.
    #[serde(other)]
    Unknown,
}

/// A message looked up by id, with its state ([`Client::message_info`]).
///
/// Serializes to the broker's shape: the message's fields plus `state`, and for a
/// scheduled message `deliver_at` instead of `queue` and `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageInfo {
    /// The message. While it is scheduled it is in no queue yet: its `queue` and `offset`
    /// read 0.
    #[serde(flatten)]
    pub message: Message,
    /// Stored or scheduled.
    pub state: MessageState,
    /// For a scheduled message, when it will be delivered, in ms since the Unix epoch.
    #[serde(default)]
    pub deliver_at: Option<i64>,
}

impl MessageInfo {
    /// Whether the message is delayed and not yet due.
    pub fn is_scheduled(&self) -> bool {
        self.state == MessageState::Scheduled
    }
}

impl Serialize for MessageInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Placed<'a> {
            #[serde(flatten)]
            message: &'a Message,
            state: MessageState,
        }
        #[derive(Serialize)]
        struct Pending<'a> {
            #[serde(flatten)]
            message: wire::Pending<'a>,
            state: MessageState,
            #[serde(skip_serializing_if = "Option::is_none")]
            deliver_at: Option<i64>,
        }
        if self.is_scheduled() {
            Pending {
                message: self.message.pending(),
                state: self.state,
                deliver_at: self.deliver_at,
            }
            .serialize(serializer)
        } else {
            Placed {
                message: &self.message,
                state: self.state,
            }
            .serialize(serializer)
        }
    }
}

/// The answer to a cancel: the delayed message that will now never be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    /// The message id.
    pub id: String,
    /// The topic it would have been delivered to.
    pub topic: String,
    /// When it would have been delivered, in ms since the Unix epoch.
    pub deliver_at: i64,
    /// [`MessageState::Cancelled`].
    pub state: MessageState,
}

impl Client {
    /// The message with this id and its state: stored, or scheduled with its delivery
    /// time. Unlike [`Client::get_message`], this tells a delayed message that is not yet
    /// due from a stored one.
    ///
    /// # Errors
    ///
    /// `MESSAGE_NOT_FOUND` (404) as [`ClientError::Api`]: no stored or scheduled message
    /// has this id (a cancelled message is no longer found).
    pub async fn message_info(&self, id: &str) -> Result<MessageInfo, ClientError> {
        let path = format!("/v1/messages/{}", encode_component(id));
        self.execute_json(self.empty_request(Method::GET, &path)?)
            .await
    }

    /// Cancels a delayed message that is not yet due: it will never be delivered.
    ///
    /// # Errors
    ///
    /// `NOT_SCHEDULED` (404) as [`ClientError::Api`] when no message with this id is
    /// waiting: it was delivered already, cancelled before, or never delayed.
    pub async fn cancel(&self, id: &str) -> Result<Cancelled, ClientError> {
        let path = format!("/v1/messages/{}/cancel", encode_component(id));
        self.execute_json(self.empty_request(Method::POST, &path)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_message_has_a_delivery_time_and_no_queue() {
        let answer = json!({"id":"a","topic":"orders","state":"scheduled",
            "deliver_at":1764000060000_i64,"keys":["k"],"properties":{},
            "born_ms":1764000000000_i64,"store_ms":1764000000001_i64,"body":"later"});
        let info: MessageInfo = serde_json::from_value(answer.clone()).unwrap();
        assert!(info.is_scheduled());
        assert_eq!(info.deliver_at, Some(1_764_000_060_000));
        assert_eq!(info.message.body, "later");
        assert_eq!(serde_json::to_value(&info).unwrap(), answer);
    }

    #[test]
    fn stored_message_keeps_its_queue_and_offset() {
        let answer = json!({"id":"a","topic":"orders","queue":2,"offset":7,"keys":[],
            "properties":{},"born_ms":1,"store_ms":2,"body":"now","state":"stored"});
        let info: MessageInfo = serde_json::from_value(answer.clone()).unwrap();
        assert_eq!(
            (info.state, info.message.queue, info.deliver_at),
            (MessageState::Stored, 2, None)
        );
        assert_eq!(serde_json::to_value(&info).unwrap(), answer);
    }

    #[test]
    fn unknown_states_do_not_fail_the_decode() {
        let cancelled: Cancelled = serde_json::from_value(
            json!({"id":"a","topic":"t","deliver_at":5,"state":"cancelled"}),
        )
        .unwrap();
        assert_eq!(cancelled.state, MessageState::Cancelled);
        let later: MessageState = serde_json::from_value(json!("archived")).unwrap();
        assert_eq!(later, MessageState::Unknown);
    }
}

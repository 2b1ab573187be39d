//! Sending: one message (JSON or raw form) and batches (JSON or binary), with the answer
//! types of sends.
//!
//! A message sent at once is answered with its queue and offset ([`SendResult`]). A
//! delayed message (see [`Delay`](crate::Delay)) has neither until it is due: it is
//! answered with its delivery time instead, which [`Client::send_outcome`] reports as
//! [`SendOutcome::Scheduled`]. [`Client::send`] keeps to messages sent at once, so that
//! its answer always names a queue and offset.
//!
//! Every message is given an id before the first attempt when it has none (see
//! `message_id.rs`), and every send is retried under the client's
//! [`RetryPolicy`](crate::RetryPolicy): a repeat carries the same ids and is answered from
//! the stored copy. When all attempts fail these methods return the error that says most
//! (a refused connection, "not sent", only when no attempt may have been stored); the
//! tracked forms in `async_send.rs` also say whether the broker has the message.

use std::borrow::Cow;

use http::Method;
use serde::{Deserialize, Serialize};
use weir_wire::send as wire;

use crate::client::{Replayable, Retried, decode_json};
use crate::endpoint::encode_component;
use crate::message_id::new_message_id;
use crate::{Client, ClientError, EncodedBatch, OutgoingMessage};

pub use weir_wire::send::SendStatus;

/// The answer to a single send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "wire::SendAnswer<'static>",
    into = "wire::SendAnswer<'static>"
)]
pub struct SendResult {
    /// The message id (client-chosen or broker-assigned).
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The queue the message was stored in.
    pub queue: u32,
    /// Its offset in that queue.
    pub offset: u64,
    /// Whether it is known durable.
    pub status: SendStatus,
}

/// The answer to a delayed send that is not due yet: stored (in the broker's schedule),
/// appended to its topic at `deliver_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "wire::SendAnswer<'static>",
    into = "wire::SendAnswer<'static>"
)]
pub struct ScheduledSend {
    /// The message id (client-chosen or broker-assigned); it keeps it when delivered.
    pub id: String,
    /// The topic it will be delivered to.
    pub topic: String,
    /// When it will be delivered, in ms since the Unix epoch.
    pub deliver_at: i64,
    /// Whether it is known durable.
    pub status: SendStatus,
}

/// The answer to a send that may be delayed ([`Client::send_outcome`]).
///
/// Serializes to the broker's JSON shape: queue and offset when stored, `deliver_at`
/// when scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "wire::SendAnswer<'static>",
    into = "wire::SendAnswer<'static>"
)]
pub enum SendOutcome {
    /// Stored in its queue: consumers can receive it. A delayed message whose time had
    /// already come is stored at once too.
    Stored(SendResult),
    /// Scheduled for later delivery; it can still be cancelled
    /// ([`Client::cancel`](crate::Client::cancel)).
    Scheduled(ScheduledSend),
}

impl SendOutcome {
    /// The message id.
    pub fn id(&self) -> &str {
        match self {
            SendOutcome::Stored(sent) => &sent.id,
            SendOutcome::Scheduled(scheduled) => &scheduled.id,
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        match self {
            SendOutcome::Stored(sent) => &sent.topic,
            SendOutcome::Scheduled(scheduled) => &scheduled.topic,
        }
    }

    /// Whether the send is known durable.
    pub fn status(&self) -> SendStatus {
        match self {
            SendOutcome::Stored(sent) => sent.status,
            SendOutcome::Scheduled(scheduled) => scheduled.status,
        }
    }

    /// The queue, once the message is in one (`None` while scheduled).
    pub fn queue(&self) -> Option<u32> {
        match self {
            SendOutcome::Stored(sent) => Some(sent.queue),
            SendOutcome::Scheduled(_) => None,
        }
    }

    /// The offset in the queue, once the message is in one (`None` while scheduled).
    pub fn offset(&self) -> Option<u64> {
        match self {
            SendOutcome::Stored(sent) => Some(sent.offset),
            SendOutcome::Scheduled(_) => None,
        }
    }

    /// When a scheduled message will be delivered, in ms since the Unix epoch.
    pub fn deliver_at(&self) -> Option<i64> {
        match self {
            SendOutcome::Stored(_) => None,
            SendOutcome::Scheduled(scheduled) => Some(scheduled.deliver_at),
        }
    }
}

impl TryFrom<wire::SendAnswer<'static>> for SendOutcome {
    type Error = String;

    fn try_from(answer: wire::SendAnswer<'static>) -> Result<Self, String> {
        let (id, topic, status) = (
            answer.id.into_owned(),
            answer.topic.into_owned(),
            answer.status,
        );
        match (answer.queue, answer.offset, answer.deliver_at) {
            (Some(queue), Some(offset), None) => Ok(SendOutcome::Stored(SendResult {
                id,
                topic,
                queue,
                offset,
                status,
            })),
            (None, None, Some(deliver_at)) => Ok(SendOutcome::Scheduled(ScheduledSend {
                id,
                topic,
                deliver_at,
                status,
            })),
            _ => Err("a send answer carries either queue and offset, or deliver_at".to_owned()),
        }
    }
}

impl From<SendOutcome> for wire::SendAnswer<'static> {
    fn from(outcome: SendOutcome) -> Self {
        let (queue, offset, deliver_at) = (outcome.queue(), outcome.offset(), outcome.deliver_at());
        let (id, topic, status) = match outcome {
            SendOutcome::Stored(sent) => (sent.id, sent.topic, sent.status),
            SendOutcome::Scheduled(scheduled) => (scheduled.id, scheduled.topic, scheduled.status),
        };
        wire::SendAnswer {
            id: id.into(),
            topic: topic.into(),
            queue,
            offset,
            deliver_at,
            status,
        }
    }
}

impl TryFrom<wire::SendAnswer<'static>> for SendResult {
    type Error = String;

    fn try_from(answer: wire::SendAnswer<'static>) -> Result<Self, String> {
        match SendOutcome::try_from(answer)? {
            SendOutcome::Stored(sent) => Ok(sent),
            SendOutcome::Scheduled(_) => Err("the send answer has no queue and offset".to_owned()),
        }
    }
}

impl From<SendResult> for wire::SendAnswer<'static> {
    fn from(sent: SendResult) -> Self {
        SendOutcome::Stored(sent).into()
    }
}

impl TryFrom<wire::SendAnswer<'static>> for ScheduledSend {
    type Error = String;

    fn try_from(answer: wire::SendAnswer<'static>) -> Result<Self, String> {
        match SendOutcome::try_from(answer)? {
            SendOutcome::Scheduled(scheduled) => Ok(scheduled),
            SendOutcome::Stored(_) => Err("the send answer has no deliver_at".to_owned()),
        }
    }
}

impl From<ScheduledSend> for wire::SendAnswer<'static> {
    fn from(scheduled: ScheduledSend) -> Self {
        SendOutcome::Scheduled(scheduled).into()
    }
}

/// The answer to a batch send (all messages stored, or none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    from = "wire::BatchAnswer<'static>",
    into = "wire::BatchAnswer<'static>"
)]
pub struct BatchResult {
    /// The topic.
    pub topic: String,
    /// Whether the batch is known durable.
    pub status: SendStatus,
    /// Where each message went, in the order sent.
    pub results: Vec<BatchEntry>,
}

/// Where one message of a batch was stored, or when it will be delivered.
///
/// A batch holding a delayed message is scheduled as a whole: its entries then carry
/// `deliver_at` instead of a queue and offset (which read 0 here; see
/// [`BatchEntry::is_scheduled`]). Serializes to the broker's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "wire::BatchItem<'static>", into = "wire::BatchItem<'static>")]
pub struct BatchEntry {
    /// The message id.
    pub id: String,
    /// The queue (0 while scheduled).
    pub queue: u32,
    /// The offset in that queue (0 while scheduled).
    pub offset: u64,
    /// When a scheduled message will be delivered, in ms since the Unix epoch.
    pub deliver_at: Option<i64>,
}

impl BatchEntry {
    /// Whether the message is scheduled for later delivery (and so has no queue and
    /// offset yet).
    pub fn is_scheduled(&self) -> bool {
        self.deliver_at.is_some()
    }
}

impl From<wire::BatchItem<'static>> for BatchEntry {
    fn from(item: wire::BatchItem<'static>) -> Self {
        BatchEntry {
            id: item.id.into_owned(),
            queue: item.queue.unwrap_or_default(),
            offset: item.offset.unwrap_or_default(),
            deliver_at: item.deliver_at,
        }
    }
}

impl From<BatchEntry> for wire::BatchItem<'static> {
    fn from(entry: BatchEntry) -> Self {
        let placed = !entry.is_scheduled();
        wire::BatchItem {
            id: entry.id.into(),
            queue: placed.then_some(entry.queue),
            offset: placed.then_some(entry.offset),
            deliver_at: entry.deliver_at,
        }
    }
}

impl From<wire::BatchAnswer<'static>> for BatchResult {
    fn from(answer: wire::BatchAnswer<'static>) -> Self {
        BatchResult {
            topic: answer.topic.into_owned(),
            status: answer.status,
            results: answer.results.into_iter().map(BatchEntry::from).collect(),
        }
    }
}

impl From<BatchResult> for wire::BatchAnswer<'static> {
    fn from(result: BatchResult) -> Self {
        wire::BatchAnswer {
            topic: result.topic.into(),
            status: result.status,
            results: result.results.into_iter().map(Into::into).collect(),
        }
    }
}

impl Client {
    /// Sends one message, to be delivered at once, in the JSON form (any body; attributes
    /// kept exactly).
    ///
    /// A message without an id is given one before the first attempt; failed attempts
    /// are retried with it under the client's [`RetryPolicy`](crate::RetryPolicy). A
    /// re-send of an id within the broker's dedup window (24 h) is answered with the
    /// original result and not stored again.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidMessage`] for a delayed message: send it with
    /// [`Client::send_outcome`], whose answer can say when it will be delivered. The
    /// broker's refusals (`TOPIC_NOT_FOUND`, `INVALID_QUEUE`, `BODY_TOO_LARGE`, ...) as
    /// [`ClientError::Api`].
    pub async fn send(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> Result<SendResult, ClientError> {
        refuse_delay(message)?;
        stored(self.send_outcome(topic, message).await?)
    }

    /// Sends one message in the JSON form, delayed or not: the answer says where it was
    /// stored, or when it will be delivered.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), weir_client::ClientError> {
    /// use weir_client::{Client, OutgoingMessage};
    ///
    /// let client = Client::new("http://127.0.0.1:7700")?;
    /// let message = OutgoingMessage::new("remind").with_id("reminder-42").with_delay_ms(60_000);
    /// let outcome = client.send_outcome("reminders", &message).await?;
    /// assert!(outcome.deliver_at().is_some());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Client::send`]; a delivery time beyond the broker's maximum delay or a delay
    /// level outside 1–18 is `INVALID_ARGUMENT`.
    pub async fn send_outcome(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> Result<SendOutcome, ClientError> {
        let (request, _) = self.single_request(topic, message)?;
        let tried = self.execute_retrying(&request, Retried::Send).await;
        decode_json(&tried.result?)
    }

    /// The JSON request of a single send, the message given an id if it had none, with
    /// that id.
    pub(crate) fn single_request(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> Result<(Replayable, String), ClientError> {
        let message = with_id(message);
        let id = message.id.clone().unwrap_or_default();
        let request = self.replayable_json(Method::POST, &messages_path(topic), &*message)?;
        Ok((request, id))
    }

    /// The JSON request of a batch send, each message given an id if it had none, with
    /// the first message's id.
    pub(crate) fn batch_request(
        &self,
        topic: &str,
        messages: &[OutgoingMessage],
    ) -> Result<(Replayable, String), ClientError> {
        let messages: Vec<Cow<'_, OutgoingMessage>> = messages.iter().map(with_id).collect();
        let first = messages
            .first()
            .and_then(|m| m.id.clone())
            .unwrap_or_default();
        let request = self.replayable_json(Method::POST, &batch_path(topic), &messages)?;
        Ok((request, first))
    }

    /// Sends one message, to be delivered at once, in the raw form: the body as is,
    /// attributes as `weir-*` headers.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidMessage`] for a delayed message (see [`Client::send`]) or
    /// when an attribute cannot travel as a header (see [`Client::prepare_send`]); the
    /// broker's refusals as [`ClientError::Api`].
    pub async fn send_raw(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> Result<SendResult, ClientError> {
        refuse_delay(message)?;
        let (request, _) = self.prepare_send(topic, message)?.for_send();
        let tried = self.execute_retrying(&request, Retried::Send).await;
        stored(decode_json(&tried.result?)?)
    }

    /// Sends many messages in one JSON request; all are stored or none. Messages without
    /// an id are given one, and the send is retried, as for [`Client::send`].
    pub async fn send_batch(
        &self,
        topic: &str,
        messages: &[OutgoingMessage],
    ) -> Result<BatchResult, ClientError> {
        let (request, _) = self.batch_request(topic, messages)?;
        let tried = self.execute_retrying(&request, Retried::Send).await;
        decode_json(&tried.result?)
    }

    /// Sends many messages in one request in the binary batch format; all are stored or
    /// none. Messages without an id are given one, and the send is retried, as for
    /// [`Client::send`].
    pub async fn send_batch_binary(
        &self,
        topic: &str,
        messages: &[OutgoingMessage],
    ) -> Result<BatchResult, ClientError> {
        self.send_encoded_batch(topic, &EncodedBatch::encode(messages)?)
            .await
    }

    /// Sends an already encoded binary batch; its messages without an id get fresh ones
    /// for this send (see [`EncodedBatch`]).
    pub async fn send_encoded_batch(
        &self,
        topic: &str,
        batch: &EncodedBatch,
    ) -> Result<BatchResult, ClientError> {
        let (request, _) = self.prepare_batch(topic, batch)?.for_send();
        let tried = self.execute_retrying(&request, Retried::Send).await;
        decode_json(&tried.result?)
    }
}

/// `message`, given a fresh id when it has none.
fn with_id(message: &OutgoingMessage) -> Cow<'_, OutgoingMessage> {
    if message.id.is_some() {
        Cow::Borrowed(message)
    } else {
        let mut owned = message.clone();
        owned.id = Some(new_message_id());
        Cow::Owned(owned)
    }
}

/// [`Client::send`] answers with a queue and offset, which a delayed message does not have.
fn refuse_delay(message: &OutgoingMessage) -> Result<(), ClientError> {
    if message.delay.is_some() {
        return Err(ClientError::InvalidMessage(
            "a delayed message has no queue and offset until it is due: send it with \
             Client::send_outcome"
                .to_owned(),
        ));
    }
    Ok(())
}

/// The answer of a send made without a delay. It is scheduled only when the id repeats
/// that of a delayed message sent before, within the dedup window.
fn stored(outcome: SendOutcome) -> Result<SendResult, ClientError> {
    match outcome {
        SendOutcome::Stored(sent) => Ok(sent),
        SendOutcome::Scheduled(scheduled) => Err(ClientError::Decode(format!(
            "message {} repeats the id of a delayed message, due at {} ms since the epoch; \
             Client::send_outcome reports such answers",
            scheduled.id, scheduled.deliver_at
        ))),
    }
}

pub(crate) fn messages_path(topic: &str) -> String {
    format!("/v1/topics/{}/messages", encode_component(topic))
}

pub(crate) fn batch_path(topic: &str) -> String {
    format!("/v1/topics/{}/messages:batch", encode_component(topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answer_decodes() {
        let result: BatchResult = serde_json::from_str(
            r#"{"topic":"orders","status":"FLUSH_DISK_TIMEOUT","results":[{"id":"a","queue":3,"offset":41}]}"#,
        )
        .unwrap();
        assert_eq!(result.status, SendStatus::FlushDiskTimeout);
        assert_eq!(result.results[0].offset, 41);
        assert!(!result.results[0].is_scheduled());
    }

    #[test]
    fn scheduled_batch_entries_round_trip_without_placement() {
        let json =
            r#"{"topic":"t","status":"SEND_OK","results":[{"id":"a","deliver_at":1764000060000}]}"#;
        let result: BatchResult = serde_json::from_str(json).unwrap();
        assert_eq!(result.results[0].deliver_at, Some(1_764_000_060_000));
        assert!(result.results[0].is_scheduled());
        assert_eq!(serde_json::to_string(&result).unwrap(), json);
    }

    #[test]
    fn send_outcome_is_stored_or_scheduled() {
        let stored: SendOutcome = serde_json::from_str(
            r#"{"id":"a","topic":"t","queue":3,"offset":41,"status":"SEND_OK"}"#,
        )
        .unwrap();
        assert_eq!((stored.queue(), stored.offset()), (Some(3), Some(41)));
        assert_eq!(stored.deliver_at(), None);
        let json = r#"{"id":"b","topic":"t","deliver_at":1764000060000,"status":"SEND_OK"}"#;
        let scheduled: SendOutcome = serde_json::from_str(json).unwrap();
        assert_eq!(scheduled.deliver_at(), Some(1_764_000_060_000));
        assert_eq!((scheduled.queue(), scheduled.id()), (None, "b"));
        assert_eq!(serde_json::to_string(&scheduled).unwrap(), json);
        let neither =
            serde_json::from_str::<SendOutcome>(r#"{"id":"c","topic":"t","status":"SEND_OK"}"#);
        assert!(neither.is_err());
    }

    #[tokio::test]
    async fn send_refuses_a_delayed_message_before_the_network() {
        // Port 1 is never listened on: an answer other than InvalidMessage would show the
        // request went out.
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let message = OutgoingMessage::new("x").with_delay_ms(10);
        let err = client.send("t", &message).await.unwrap_err();
        assert!(matches!(err, ClientError::InvalidMessage(_)), "{err}");
        let err = client.send_raw("t", &message).await.unwrap_err();
        assert!(matches!(err, ClientError::InvalidMessage(_)), "{err}");
    }
}

//! Consumer groups: administration (create, list, describe, delete, reset), consumption
//! (receive, ack, nack, change the invisible time), offsets and lag, the dead-letter queue,
//! and growing a topic's queues; with their request and answer types.
//!
//! The JSON shapes are those of `docs/http-api.md`. Bodies are decoded into [`Bytes`]
//! whichever form they travel in (`"body"` text or `"body_base64"`); the types serialize
//! back to the broker's shape, so a tool can print what it received as the broker sent it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use http::Method;
use serde::{Deserialize, Serialize, Serializer};
use weir_wire::message as wire;

use crate::client::BodyStream;
use crate::endpoint::encode_component;
use crate::message::Parts;
use crate::{Client, ClientError, Message, Topic};

/// A group to create; unset fields take the broker's defaults.
///
/// ```
/// use weir_client::NewGroup;
///
/// let group = NewGroup::new("billing", "orders")
///     .fifo(true)
///     .max_attempts(5)
///     .backoff_ms(vec![1000, 5000])
///     .filter("created || paid")
///     .from("earliest");
/// assert_eq!(group.max_attempts, Some(5));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGroup {
    /// The group name: 1–127 characters of `A-Z a-z 0-9 _ -`.
    pub name: String,
    /// The topic the group consumes.
    pub topic: String,
    /// `"clustering"` (each message to one member; the default) or `"broadcasting"`
    /// (every member instance gets every message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Deliver messages of one message group one at a time, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fifo: Option<bool>,
    /// Deliveries before a message goes to the dead-letter queue (default 16).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// How long a received message stays invisible to the group (default 60 000 ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invisible_ms: Option<u64>,
    /// The wait before each redelivery, by attempt; the last step repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<Vec<u64>>,
    /// A tag filter: `*` (everything, the default) or tags joined by `||`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Where consumption starts: `"latest"` (the default) or `"earliest"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl NewGroup {
    /// A group named `name` on `topic`, everything else at the broker's defaults.
    pub fn new(name: impl Into<String>, topic: impl Into<String>) -> NewGroup {
        NewGroup {
            name: name.into(),
            topic: topic.into(),
            ..NewGroup::default()
        }
    }

    /// Sets the mode: `"clustering"` or `"broadcasting"`.
    pub fn mode(mut self, mode: impl Into<String>) -> NewGroup {
        self.mode = Some(mode.into());
        self
    }

    /// Makes the group FIFO (or not).
    pub fn fifo(mut self, fifo: bool) -> NewGroup {
        self.fifo = Some(fifo);
        self
    }

    /// Sets the deliveries before a message is dead-lettered.
    pub fn max_attempts(mut self, attempts: u32) -> NewGroup {
        self.max_attempts = Some(attempts);
        self
    }

    /// Sets the default invisible time of received messages.
    pub fn invisible_ms(mut self, ms: u64) -> NewGroup {
        self.invisible_ms = Some(ms);
        self
    }

    /// Sets the redelivery backoff schedule.
    pub fn backoff_ms(mut self, steps: Vec<u64>) -> NewGroup {
        self.backoff_ms = Some(steps);
        self
    }

    /// Sets the tag filter.
    pub fn filter(mut self, filter: impl Into<String>) -> NewGroup {
        self.filter = Some(filter.into());
        self
    }

    /// Sets where consumption starts: `"latest"` or `"earliest"`.
    pub fn from(mut self, from: impl Into<String>) -> NewGroup {
        self.from = Some(from.into());
        self
    }
}

use weir_wire::group::{AckAnswer, GroupList, OffsetList};
pub use weir_wire::group::{
    CommittedOffset, Group, GroupCounters, GroupDescription, Lag, QueueLag, ReceiptError,
};

/// How to receive: batch size, long-poll wait, invisible time, consumer instance.
///
/// ```
/// use weir_client::ReceiveOptions;
///
/// let options = ReceiveOptions::new(100, 5000).consumer("worker-1");
/// assert_eq!(options.max, 100);
/// let defaults = ReceiveOptions::default();
/// assert_eq!((defaults.max, defaults.wait_ms), (32, 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveOptions {
    /// Most messages to return, 1–1000 (default 32).
    pub max: u32,
    /// How long to wait for a first message when none is ready (long poll), at most
    /// 30 000 ms (default 0: answer at once).
    pub wait_ms: u64,
    /// Invisible time of the returned messages; the group's default when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invisible_ms: Option<u64>,
    /// The consumer instance; required by broadcasting groups, where each instance has its
    /// own progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
}

impl Default for ReceiveOptions {
    fn default() -> ReceiveOptions {
        ReceiveOptions {
            max: 32,
            wait_ms: 0,
            invisible_ms: None,
            consumer: None,
        }
    }
}

impl ReceiveOptions {
    /// At most `max` messages, waiting up to `wait_ms` for the first.
    pub fn new(max: u32, wait_ms: u64) -> ReceiveOptions {
        ReceiveOptions {
            max,
            wait_ms,
            ..ReceiveOptions::default()
        }
    }

    /// Sets the invisible time of the returned messages.
    pub fn invisible_ms(mut self, ms: u64) -> ReceiveOptions {
        self.invisible_ms = Some(ms);
        self
    }

    /// Sets the consumer instance.
    pub fn consumer(mut self, consumer: impl Into<String>) -> ReceiveOptions {
        self.consumer = Some(consumer.into());
        self
    }
}

/// A message delivered to a group, with the receipt handle to ack or nack it with.
///
/// Serializes back to the broker's JSON shape (`body` when UTF-8, else `body_base64`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "wire::Delivery<'static>")]
pub struct Received {
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
    /// Its message group (sharding key), by which FIFO groups order delivery.
    pub message_group: Option<String>,
    /// Its user properties.
    pub properties: BTreeMap<String, String>,
    /// The body.
    pub body: Bytes,
    /// When the producer's request reached the broker, in ms since the Unix epoch.
    pub born_ms: u64,
    /// When the broker stored it, in ms since the Unix epoch.
    pub store_ms: u64,
    /// The handle to ack, nack or change the invisible time with; valid for this
    /// delivery only.
    pub receipt: String,
    /// Which delivery this is, from 1.
    pub attempt: u32,
    /// When the message was first delivered to the group, in ms since the Unix epoch.
    pub first_delivery_ms: i64,
    /// Whether this is a dead letter resent to the group.
    pub resent: bool,
}

impl Received {
    /// The body as text when it is valid UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The message without its delivery attributes.
    pub fn message(&self) -> Message {
        Message {
            id: self.id.clone(),
            topic: self.topic.clone(),
            queue: self.queue,
            offset: self.offset,
            keys: self.keys.clone(),
            tag: self.tag.clone(),
            properties: self.properties.clone(),
            born_ms: self.born_ms,
            store_ms: self.store_ms,
            body: self.body.clone(),
        }
    }
}

impl TryFrom<wire::Delivery<'static>> for Received {
    type Error = String;

    fn try_from(wire: wire::Delivery<'static>) -> Result<Received, String> {
        let id = wire.id.into_owned();
        let parts = Parts::new(wire.content, &id)?;
        Ok(Received {
            id,
            topic: wire.topic.into_owned(),
            queue: wire.queue,
            offset: wire.offset,
            keys: parts.keys,
            tag: parts.tag,
            message_group: parts.message_group,
            properties: parts.properties,
            body: parts.body,
            born_ms: parts.born_ms,
            store_ms: parts.store_ms,
            receipt: wire.receipt.into_owned(),
            attempt: wire.attempt,
            first_delivery_ms: wire.first_delivery_ms,
            resent: wire.resent,
        })
    }
}

impl Serialize for Received {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        wire::Delivery {
            id: Cow::Borrowed(&self.id),
            topic: Cow::Borrowed(&self.topic),
            queue: self.queue,
            offset: self.offset,
            content: Parts::content(
                &self.keys,
                self.tag.as_deref(),
                self.message_group.as_deref(),
                &self.properties,
                self.born_ms,
                self.store_ms,
                &self.body,
            ),
            receipt: Cow::Borrowed(&self.receipt),
            attempt: self.attempt,
            first_delivery_ms: self.first_delivery_ms,
            resent: self.resent,
        }
        .serialize(serializer)
    }
}

/// The answer to an ack or a nack: how many receipts were taken, and which were not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AckAnswer", into = "AckAnswer")]
pub struct AckResult {
    /// Receipts taken (`"acked"` or `"nacked"` in the broker's answer).
    pub count: usize,
    /// Receipts not taken, typically `RECEIPT_EXPIRED`: the message became visible again
    /// (or was redelivered) before the ack arrived.
    pub failed: Vec<ReceiptError>,
}

impl TryFrom<AckAnswer> for AckResult {
    type Error = &'static str;

    fn try_from(wire: AckAnswer) -> Result<AckResult, &'static str> {
        let count = wire
            .acked
            .or(wire.nacked)
            .ok_or("the answer has no \"acked\" or \"nacked\" count")?;
        Ok(AckResult {
            count,
            failed: wire.failed,
        })
    }
}

impl From<AckResult> for AckAnswer {
    fn from(result: AckResult) -> AckAnswer {
        AckAnswer {
            acked: Some(result.count),
            nacked: None,
            failed: result.failed,
        }
    }
}

/// Where to reset a group's offsets: the wire form of `POST /v1/groups/{group}/reset`.
///
/// Build it with [`ResetRequest::earliest`], [`ResetRequest::latest`],
/// [`ResetRequest::timestamp`] or [`ResetRequest::offset`], then narrow it with
/// [`ResetRequest::queue`] and [`ResetRequest::consumer`].
///
/// ```
/// use weir_client::ResetRequest;
///
/// let reset = ResetRequest::offset(42).queue(3);
/// assert_eq!(reset.to, "offset");
/// assert_eq!((reset.offset, reset.queue), (Some(42), Some(3)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRequest {
    /// `"earliest"`, `"latest"`, `"timestamp"` or `"offset"`.
    pub to: String,
    /// With `"timestamp"`: the first message stored at or after this time (ms since the
    /// Unix epoch) becomes the next to deliver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
    /// With `"offset"`: the offset that becomes the next to deliver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Reset this queue only; all queues when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// In a broadcasting group, the consumer instance whose progress is reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
}

impl ResetRequest {
    /// To the oldest stored message.
    pub fn earliest() -> ResetRequest {
        ResetRequest::target("earliest")
    }

    /// Past the newest message: the backlog is skipped.
    pub fn latest() -> ResetRequest {
        ResetRequest::target("latest")
    }

    /// To the first message stored at or after `ms` (ms since the Unix epoch).
    pub fn timestamp(ms: i64) -> ResetRequest {
        ResetRequest {
            timestamp_ms: Some(ms),
            ..ResetRequest::target("timestamp")
        }
    }

    /// To `offset` (usually with [`ResetRequest::queue`]).
    pub fn offset(offset: u64) -> ResetRequest {
        ResetRequest {
            offset: Some(offset),
            ..ResetRequest::target("offset")
        }
    }

    /// Resets only this queue.
    pub fn queue(mut self, queue: u32) -> ResetRequest {
        self.queue = Some(queue);
        self
    }

    /// Resets the progress of this consumer instance (broadcasting groups).
    pub fn consumer(mut self, consumer: impl Into<String>) -> ResetRequest {
        self.consumer = Some(consumer.into());
        self
    }

    fn target(target: &str) -> ResetRequest {
        ResetRequest {
            to: target.to_owned(),
            ..ResetRequest::default()
        }
    }
}

/// A message in a group's dead-letter queue.
///
/// Serializes back to the broker's JSON shape, one line of which is what
/// [`Client::export_dead_letters`] streams.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "wire::DeadLetter<'static>")]
pub struct DeadLetter {
    /// Its offset in the dead-letter queue.
    pub dlq_offset: u64,
    /// The id of the dead-letter record: use it to inspect or resend.
    pub id: String,
    /// The id of the original message.
    pub original_id: String,
    /// The topic of the original message.
    pub topic: String,
    /// The queue of the original message.
    pub queue: u32,
    /// The offset of the original message in its queue.
    pub offset: u64,
    /// Deliveries before it was dead-lettered.
    pub attempts: u32,
    /// Why it was dead-lettered.
    pub reason: String,
    /// When it was dead-lettered, in ms since the Unix epoch.
    pub dead_ms: i64,
    /// The original business keys.
    pub keys: Vec<String>,
    /// The original tag.
    pub tag: Option<String>,
    /// The original message group.
    pub message_group: Option<String>,
    /// The original user properties.
    pub properties: BTreeMap<String, String>,
    /// When the original send reached the broker, in ms since the Unix epoch.
    pub born_ms: u64,
    /// When the dead-letter record was stored, in ms since the Unix epoch.
    pub store_ms: u64,
    /// The original body.
    pub body: Bytes,
}

impl DeadLetter {
    /// The body as text when it is valid UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

impl TryFrom<wire::DeadLetter<'static>> for DeadLetter {
    type Error = String;

    fn try_from(wire: wire::DeadLetter<'static>) -> Result<DeadLetter, String> {
        let id = wire.id.into_owned();
        let parts = Parts::new(wire.content, &id)?;
        Ok(DeadLetter {
            dlq_offset: wire.dlq_offset,
            id,
            original_id: wire.original_id.into_owned(),
            topic: wire.topic.into_owned(),
            queue: wire.queue,
            offset: wire.offset,
            attempts: wire.attempts,
            reason: wire.reason.into_owned(),
            dead_ms: wire.dead_ms,
            keys: parts.keys,
            tag: parts.tag,
            message_group: parts.message_group,
            properties: parts.properties,
            born_ms: parts.born_ms,
            store_ms: parts.store_ms,
            body: parts.body,
        })
    }
}

impl Serialize for DeadLetter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        wire::DeadLetter {
            dlq_offset: self.dlq_offset,
            id: Cow::Borrowed(&self.id),
            original_id: Cow::Borrowed(&self.original_id),
            topic: Cow::Borrowed(&self.topic),
            queue: self.queue,
            offset: self.offset,
            attempts: self.attempts,
            reason: Cow::Borrowed(&self.reason),
            dead_ms: self.dead_ms,
            content: Parts::content(
                &self.keys,
                self.tag.as_deref(),
                self.message_group.as_deref(),
                &self.properties,
                self.born_ms,
                self.store_ms,
                &self.body,
            ),
        }
        .serialize(serializer)
    }
}

/// A page of a group's dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterPage {
    /// The dead letters, in dead-letter order.
    pub dead_letters: Vec<DeadLetter>,
    /// The `offset` to ask for the next page with.
    pub next_offset: u64,
    /// The offset the next dead letter will get: the page is the last when
    /// `next_offset == max_offset`.
    pub max_offset: u64,
}

/// A group's whole dead-letter queue as it streams from the broker, one NDJSON line per
/// dead letter; see [`Client::export_dead_letters`].
///
/// Read it with [`DeadLetterExport::next_line`] (the raw line, to copy it elsewhere as
/// is) or [`DeadLetterExport::next_dead_letter`] (decoded), until they give `None`.
#[derive(Debug)]
pub struct DeadLetterExport {
    body: BodyStream,
    buffer: BytesMut,
    done: bool,
    bytes_read: u64,
}

impl DeadLetterExport {
    /// The next line, without its line break; `None` after the last. Blank lines are
    /// skipped.
    ///
    /// # Errors
    ///
    /// [`ClientError::Transport`] when the connection breaks or stalls longer than the
    /// client's timeout.
    pub async fn next_line(&mut self) -> Result<Option<Bytes>, ClientError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let mut line = self.buffer.split_to(end + 1).freeze();
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.done {
                // A last line without a line break.
                if self.buffer.iter().all(u8::is_ascii_whitespace) {
                    self.buffer.clear();
                    return Ok(None);
                }
                return Ok(Some(self.buffer.split().freeze()));
            }
            match self.body.next_chunk().await? {
                Some(chunk) => {
                    self.bytes_read += chunk.len() as u64;
                    self.buffer.extend_from_slice(&chunk);
                }
                None => self.done = true,
            }
        }
    }

    /// The next dead letter, decoded; `None` after the last.
    ///
    /// # Errors
    ///
    /// As [`DeadLetterExport::next_line`], and [`ClientError::Decode`] for a line that is
    /// not a dead letter.
    pub async fn next_dead_letter(&mut self) -> Result<Option<DeadLetter>, ClientError> {
        match self.next_line().await? {
            Some(line) => serde_json::from_slice(&line)
                .map(Some)
                .map_err(|err| ClientError::Decode(format!("export line: {err}"))),
            None => Ok(None),
        }
    }

    /// Reads the rest of the export as text lines.
    pub async fn into_lines(mut self) -> Result<Vec<String>, ClientError> {
        let mut lines = Vec::new();
        while let Some(line) = self.next_line().await? {
            let text = String::from_utf8(line.to_vec())
                .map_err(|_| ClientError::Decode("an export line is not UTF-8".into()))?;
            lines.push(text);
        }
        Ok(lines)
    }

    /// Reads and decodes the rest of the export.
    pub async fn into_dead_letters(mut self) -> Result<Vec<DeadLetter>, ClientError> {
        let mut letters = Vec::new();
        while let Some(letter) = self.next_dead_letter().await? {
            letters.push(letter);
        }
        Ok(letters)
    }

    /// How many bytes of the answer have arrived so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}

#[derive(Serialize)]
struct Receipts<'a> {
    receipts: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
}

#[derive(Serialize)]
struct ChangeInvisible<'a> {
    receipt: &'a str,
    invisible_ms: u64,
}

#[derive(Deserialize)]
struct ReceiptAnswer {
    receipt: String,
}

#[derive(Serialize)]
struct CommitOffset<'a> {
    queue: u32,
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer: Option<&'a str>,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: String,
}

#[derive(Serialize)]
struct ResendAll {
    from_offset: u64,
}

#[derive(Deserialize)]
struct ResentAnswer {
    resent: u64,
}

#[derive(Serialize)]
struct AddQueues {
    queues: u32,
}

impl Client {
    /// Creates a consumer group.
    ///
    /// # Errors
    ///
    /// `GROUP_EXISTS` (409), `TOPIC_NOT_FOUND` (404), `INVALID_GROUP_NAME` or
    /// `INVALID_ARGUMENT` (400) as [`ClientError::Api`].
    pub async fn create_group(&self, group: &NewGroup) -> Result<Group, ClientError> {
        let request = self.json_request(Method::POST, "/v1/groups", group)?;
        self.execute_json(request).await
    }

    /// Lists the groups, of `topic` only when given.
    pub async fn list_groups(&self, topic: Option<&str>) -> Result<Vec<Group>, ClientError> {
        let path = with_query("/v1/groups", "topic", topic);
        let list: GroupList = self
            .execute_json(self.empty_request(Method::GET, &path)?)
            .await?;
        Ok(list.groups)
    }

    /// Describes a group: configuration, members, backlog, counters and dead letters.
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription, ClientError> {
        self.describe_group_for(group, None).await
    }

    /// Describes a group, with the backlog of consumer instance `consumer` (broadcasting
    /// groups keep one per instance).
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn describe_group_for(
        &self,
        group: &str,
        consumer: Option<&str>,
    ) -> Result<GroupDescription, ClientError> {
        let path = with_query(&group_path(group, ""), "consumer", consumer);
        self.execute_json(self.empty_request(Method::GET, &path)?)
            .await
    }

    /// Deletes a group with its delivery state.
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn delete_group(&self, group: &str) -> Result<(), ClientError> {
        self.execute(self.empty_request(Method::DELETE, &group_path(group, ""))?)
            .await?;
        Ok(())
    }

    /// Receives up to `options.max` messages for the group, each invisible to the group
    /// until acked, nacked, or its invisible time passes. With `options.wait_ms` above 0
    /// the broker holds the request until a first message is ready or the wait is over
    /// (long poll); an empty list means nothing arrived.
    ///
    /// The client's request timeout must exceed the wait.
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404), `CONSUMER_REQUIRED` or `INVALID_ARGUMENT` (400) as
    /// [`ClientError::Api`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may lose a batch the broker already delivered: those messages
    /// stay invisible until their invisible time passes, then are delivered again.
    pub async fn receive(
        &self,
        group: &str,
        options: &ReceiveOptions,
    ) -> Result<Vec<Received>, ClientError> {
        let mut request =
            self.json_request(Method::POST, &group_path(group, "/receive"), options)?;
        crate::message_list::accept(&mut request);
        let (_, body) = self.execute(request).await?;
        let list = crate::message_list::decode(body)?;
        Ok(list
            .messages
            .into_iter()
            .map(crate::message_list::into_received)
            .collect())
    }

    /// Acks deliveries: their messages are done for the group.
    ///
    /// Receipts that expired (the message became visible again) are listed in
    /// [`AckResult::failed`]; the others are taken.
    ///
    /// # Errors
    ///
    /// `RECEIPT_INVALID` (400) when a receipt is malformed or of another group (then none
    /// is taken), `GROUP_NOT_FOUND` (404), as [`ClientError::Api`].
    pub async fn ack(&self, group: &str, receipts: &[String]) -> Result<AckResult, ClientError> {
        let body = Receipts {
            receipts,
            delay_ms: None,
        };
        let request = self.json_request(Method::POST, &group_path(group, "/ack"), &body)?;
        self.execute_json(request).await
    }

    /// Nacks deliveries: their messages are redelivered after `delay_ms`, or after the
    /// group's backoff for the attempt when `None`; or dead-lettered once they have had
    /// `max_attempts` deliveries.
    ///
    /// # Errors
    ///
    /// As [`Client::ack`].
    pub async fn nack(
        &self,
        group: &str,
        receipts: &[String],
        delay_ms: Option<u64>,
    ) -> Result<AckResult, ClientError> {
        let body = Receipts { receipts, delay_ms };
        let request = self.json_request(Method::POST, &group_path(group, "/nack"), &body)?;
        self.execute_json(request).await
    }

    /// Keeps a delivery invisible for `invisible_ms` from now (to extend processing
    /// time, or 0-ish to give it back early) and returns the new receipt, which replaces
    /// the old one.
    ///
    /// # Errors
    ///
    /// `RECEIPT_EXPIRED` (409) when the message already became visible again,
    /// `RECEIPT_INVALID` or `INVALID_ARGUMENT` (400), as [`ClientError::Api`].
    pub async fn change_invisible(
        &self,
        group: &str,
        receipt: &str,
        invisible_ms: u64,
    ) -> Result<String, ClientError> {
        let body = ChangeInvisible {
            receipt,
            invisible_ms,
        };
        let request = self.json_request(Method::POST, &group_path(group, "/invisible"), &body)?;
        Ok(self.execute_json::<ReceiptAnswer>(request).await?.receipt)
    }

    /// The group's backlog per queue (of consumer instance `consumer` in a broadcasting
    /// group).
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn lag(&self, group: &str, consumer: Option<&str>) -> Result<Lag, ClientError> {
        let path = with_query(&group_path(group, "/lag"), "consumer", consumer);
        self.execute_json(self.empty_request(Method::GET, &path)?)
            .await
    }

    /// Resets the group's offsets (all queues, or `reset.queue`) and returns the new
    /// committed offsets. Messages in flight on the reset queues are forgotten.
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` or `QUEUE_NOT_FOUND` (404), `INVALID_ARGUMENT` or
    /// `OFFSET_OUT_OF_RANGE` (400), as [`ClientError::Api`].
    pub async fn reset_group(
        &self,
        group: &str,
        reset: &ResetRequest,
    ) -> Result<Vec<CommittedOffset>, ClientError> {
        let request = self.json_request(Method::POST, &group_path(group, "/reset"), reset)?;
        Ok(self.execute_json::<OffsetList>(request).await?.queues)
    }

    /// The group's committed offset per queue (of consumer instance `consumer` in a
    /// broadcasting group).
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn offsets(
        &self,
        group: &str,
        consumer: Option<&str>,
    ) -> Result<Vec<CommittedOffset>, ClientError> {
        let path = with_query(&group_path(group, "/offsets"), "consumer", consumer);
        let list: OffsetList = self
            .execute_json(self.empty_request(Method::GET, &path)?)
            .await?;
        Ok(list.queues)
    }

    /// Commits `offset` for `queue`: everything below it is done for the group. For
    /// readers that read by offset ([`Client::read_queue`]) and keep their progress in the
    /// group.
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` or `QUEUE_NOT_FOUND` (404), `OFFSET_OUT_OF_RANGE` (400), as
    /// [`ClientError::Api`].
    pub async fn commit_offset(
        &self,
        group: &str,
        consumer: Option<&str>,
        queue: u32,
        offset: u64,
    ) -> Result<(), ClientError> {
        let body = CommitOffset {
            queue,
            offset,
            consumer,
        };
        let request = self.json_request(Method::POST, &group_path(group, "/offsets"), &body)?;
        self.execute(request).await?;
        Ok(())
    }

    /// Up to `max` (1–1000) dead letters of the group from dead-letter offset `offset`.
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn dead_letters(
        &self,
        group: &str,
        offset: u64,
        max: u32,
    ) -> Result<DeadLetterPage, ClientError> {
        let path = format!("{}?offset={offset}&max={max}", group_path(group, "/dlq"));
        self.execute_json(self.empty_request(Method::GET, &path)?)
            .await
    }

    /// The dead letter with this id.
    ///
    /// # Errors
    ///
    /// `DEAD_LETTER_NOT_FOUND` or `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn dead_letter(&self, group: &str, id: &str) -> Result<DeadLetter, ClientError> {
        let path = format!("{}/{}", group_path(group, "/dlq"), encode_component(id));
        self.execute_json(self.empty_request(Method::GET, &path)?)
            .await
    }

    /// Sends a dead letter back to the group (through its retry queue) and returns the id
    /// of the new message.
    ///
    /// # Errors
    ///
    /// `DEAD_LETTER_NOT_FOUND` or `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn resend_dead_letter(&self, group: &str, id: &str) -> Result<String, ClientError> {
        let path = format!(
            "{}/{}/resend",
            group_path(group, "/dlq"),
            encode_component(id)
        );
        let request = self.empty_request(Method::POST, &path)?;
        Ok(self.execute_json::<IdAnswer>(request).await?.id)
    }

    /// Sends every dead letter from dead-letter offset `from_offset` on back to the group
    /// and returns how many were resent.
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn resend_dead_letters(
        &self,
        group: &str,
        from_offset: u64,
    ) -> Result<u64, ClientError> {
        let request = self.json_request(
            Method::POST,
            &group_path(group, "/dlq:resend"),
            &ResendAll { from_offset },
        )?;
        Ok(self.execute_json::<ResentAnswer>(request).await?.resent)
    }

    /// Streams the group's whole dead-letter queue as NDJSON, one dead letter per line,
    /// without holding it in memory.
    ///
    /// The client's timeout bounds the wait for the answer and then for each chunk, not
    /// the whole transfer.
    ///
    /// # Errors
    ///
    /// `GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn export_dead_letters(&self, group: &str) -> Result<DeadLetterExport, ClientError> {
        let request = self.empty_request(Method::GET, &group_path(group, "/dlq:export"))?;
        let body = self.execute_streaming(request).await?;
        Ok(DeadLetterExport {
            body,
            buffer: BytesMut::new(),
            done: false,
            bytes_read: 0,
        })
    }

    /// Grows `topic` to `queues` queues in all and returns the topic. Queues are never
    /// removed: asking for fewer than the topic has is refused.
    ///
    /// # Errors
    ///
    /// `TOPIC_NOT_FOUND` (404), `INVALID_ARGUMENT` (400) as [`ClientError::Api`].
    pub async fn add_queues(&self, topic: &str, queues: u32) -> Result<Topic, ClientError> {
        let path = format!("/v1/topics/{}", encode_component(topic));
        let request = self.json_request(Method::PATCH, &path, &AddQueues { queues })?;
        self.execute_json(request).await
    }
}

/// `/v1/groups/{group}{rest}`, the group name encoded.
fn group_path(group: &str, rest: &str) -> String {
    format!("/v1/groups/{}{rest}", encode_component(group))
}

/// `path?name=value` when `value` is given, else `path`.
fn with_query(path: &str, name: &str, value: Option<&str>) -> String {
    match value {
        Some(value) => format!("{path}?{name}={}", encode_component(value)),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_group_sends_only_what_is_set() {
        let minimal = serde_json::to_value(NewGroup::new("g", "orders")).unwrap();
        assert_eq!(minimal, json!({"name": "g", "topic": "orders"}));
        let full = NewGroup::new("g", "orders")
            .mode("broadcasting")
            .fifo(true)
            .max_attempts(3)
            .invisible_ms(1000)
            .backoff_ms(vec![10, 20])
            .filter("a || b")
            .from("earliest");
        assert_eq!(
            serde_json::to_value(full).unwrap(),
            json!({"name": "g", "topic": "orders", "mode": "broadcasting", "fifo": true,
                   "max_attempts": 3, "invisible_ms": 1000, "backoff_ms": [10, 20],
                   "filter": "a || b", "from": "earliest"})
        );
    }

    fn group_json() -> serde_json::Value {
        json!({"name": "g", "topic": "orders", "mode": "clustering", "fifo": false,
               "max_attempts": 16, "invisible_ms": 60000, "backoff_ms": [10000, 30000],
               "filter": "*", "from": "latest", "created_ms": 1764000000000u64})
    }

    #[test]
    fn description_flattens_the_group() {
        let mut value = group_json();
        let extra = json!({
            "members": ["a"],
            "lag": {"group": "g", "total": 5, "oldest_age_ms": 12, "queues": [
                {"queue": 0, "retry": false, "committed": 1, "max_offset": 6, "lag": 5,
                 "in_flight": 2, "oldest_age_ms": 12}]},
            "counters": {"delivered": 3, "redelivered": 1, "acked": 1, "nacked": 1,
                         "dead_lettered": 0},
            "dead_letters": 4
        });
        for (key, field) in extra.as_object().unwrap() {
            value[key] = field.clone();
        }
        let description: GroupDescription = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(description.name, "g");
        assert_eq!(description.group.max_attempts, 16);
        assert_eq!(description.lag.queues[0].in_flight, 2);
        assert_eq!(description.counters.redelivered, 1);
        assert_eq!(description.dead_letters, 4);
        assert_eq!(serde_json::to_value(&description).unwrap(), value);
    }

    #[test]
    fn received_decodes_both_body_forms_and_round_trips() {
        let text = json!({"id": "a", "topic": "t", "queue": 1, "offset": 7, "keys": ["k"],
            "tag": "x", "message_group": "m", "properties": {"p": "v"}, "body": "hi",
            "born_ms": 1, "store_ms": 2,
            "receipt": "r1", "attempt": 2, "first_delivery_ms": 3, "resent": false});
        let received: Received = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(received.body, Bytes::from_static(b"hi"));
        assert_eq!(received.attempt, 2);
        assert_eq!(received.message().offset, 7);
        assert_eq!(serde_json::to_value(&received).unwrap(), text);

        let binary: Received = serde_json::from_value(json!({"id": "b", "topic": "t",
            "queue": 0, "offset": 0, "body_base64": "/wA=", "receipt": "r2", "attempt": 1}))
        .unwrap();
        assert_eq!(binary.body, Bytes::from_static(&[0xff, 0]));
        assert!(binary.body_str().is_none());
    }

    #[test]
    fn ack_and_nack_answers_give_a_count() {
        let acked: AckResult = serde_json::from_str(
            r#"{"acked":2,"failed":[{"receipt":"r","code":"RECEIPT_EXPIRED","message":"late"}]}"#,
        )
        .unwrap();
        assert_eq!(acked.count, 2);
        assert_eq!(acked.failed[0].code, "RECEIPT_EXPIRED");
        let nacked: AckResult = serde_json::from_str(r#"{"nacked":1,"failed":[]}"#).unwrap();
        assert_eq!(nacked.count, 1);
        assert!(serde_json::from_str::<AckResult>(r#"{"failed":[]}"#).is_err());
    }

    #[test]
    fn reset_requests_carry_their_target() {
        assert_eq!(
            serde_json::to_value(ResetRequest::earliest()).unwrap(),
            json!({"to": "earliest"})
        );
        assert_eq!(
            serde_json::to_value(ResetRequest::timestamp(5).consumer("c")).unwrap(),
            json!({"to": "timestamp", "timestamp_ms": 5, "consumer": "c"})
        );
        assert_eq!(
            serde_json::to_value(ResetRequest::offset(9).queue(2)).unwrap(),
            json!({"to": "offset", "offset": 9, "queue": 2})
        );
        assert_eq!(ResetRequest::latest().to, "latest");
    }

    #[test]
    fn receive_options_omit_unset_fields() {
        assert_eq!(
            serde_json::to_value(ReceiveOptions::default()).unwrap(),
            json!({"max": 32, "wait_ms": 0})
        );
        assert_eq!(
            serde_json::to_value(ReceiveOptions::new(5, 100).invisible_ms(2000).consumer("c"))
                .unwrap(),
            json!({"max": 5, "wait_ms": 100, "invisible_ms": 2000, "consumer": "c"})
        );
    }

    #[test]
    fn dead_letter_round_trips() {
        let value = json!({"dlq_offset": 3, "id": "d", "original_id": "o", "topic": "t",
            "queue": 1, "offset": 9, "attempts": 16, "reason": "max attempts",
            "dead_ms": 100, "keys": [], "message_group": "m", "properties": {},
            "born_ms": 1, "store_ms": 2, "body_base64": "/w=="});
        let letter: DeadLetter = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(letter.body, Bytes::from_static(&[0xff]));
        assert_eq!(serde_json::to_value(&letter).unwrap(), value);
    }

    #[test]
    fn paths_encode_names() {
        assert_eq!(group_path("a b", "/lag"), "/v1/groups/a%20b/lag");
        assert_eq!(
            with_query("/v1/groups", "topic", Some("t/1")),
            "/v1/groups?topic=t%2F1"
        );
        assert_eq!(with_query("/p", "consumer", None), "/p");
    }
}

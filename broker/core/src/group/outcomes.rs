//! What the consumer-group operations of [`crate::Broker`] take and answer: the receive
//! request, deliveries, the outcome of an ack or nack, offsets, lag, a group's
//! description and its dead letters.
//!
//! Plain data: the state these are computed from lives in [`super::state`]; limits on
//! the request are checked where it is taken (see [`super::receive`]).

use std::time::Duration;

use weir_store::StoredMessage;

use super::spec::GroupConfig;
use crate::CoreError;

/// A receive request.
#[derive(Clone, Debug, Default)]
pub struct ReceiveRequest {
    /// Most messages to return (1 to [`MAX_RECEIVE_MESSAGES`]).
    ///
    /// [`MAX_RECEIVE_MESSAGES`]: crate::limits::MAX_RECEIVE_MESSAGES
    pub max: usize,
    /// How long to wait for a first message (long poll), at most [`MAX_RECEIVE_WAIT_MS`].
    ///
    /// [`MAX_RECEIVE_WAIT_MS`]: crate::limits::MAX_RECEIVE_WAIT_MS
    pub wait: Duration,
    /// Invisible time of the returned messages; the group's default when unset.
    pub invisible_ms: Option<u64>,
    /// The consumer instance; required by broadcasting groups.
    pub consumer: Option<String>,
}

/// One delivered message.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The message id as the producer sent it.
    pub id: String,
    /// The topic it was sent to.
    pub topic: String,
    /// Its queue in that topic.
    pub queue: u32,
    /// Its offset in that queue.
    pub offset: u64,
    /// The message as stored (for a resent dead letter: the resent copy).
    pub stored: StoredMessage,
    /// The handle to ack, nack or change the invisible time with.
    pub receipt: String,
    /// Which delivery this is, from 1.
    pub attempt: u32,
    /// When it was first delivered, ms since the epoch.
    pub first_delivery_ms: i64,
    /// Whether it is a dead letter resent to the group.
    pub resent: bool,
}

/// Why one receipt of an ack or nack was not taken.
#[derive(Debug)]
pub struct ReceiptFailure {
    /// The receipt as given.
    pub receipt: String,
    /// The reason.
    pub error: CoreError,
}

/// The answer to an ack or nack.
#[derive(Debug, Default)]
pub struct AckOutcome {
    /// Receipts taken (acking a message that is already done counts).
    pub done: usize,
    /// Receipts refused, with the reason.
    pub failed: Vec<ReceiptFailure>,
}

/// Where a group's offsets are reset to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetTarget {
    /// The oldest stored message.
    Earliest,
    /// After the newest message.
    Latest,
    /// The first message stored at or after this time (ms since the epoch).
    Timestamp(i64),
    /// This offset.
    Offset(u64),
}

/// The committed offset of one queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The queue.
    pub queue: u32,
    /// Everything below is done.
    pub committed: u64,
}

/// The backlog of one queue for a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLag {
    /// The queue (0 for the retry queue).
    pub queue: u32,
    /// Whether this is the group's retry queue (resent dead letters).
    pub retry: bool,
    /// Everything below is done.
    pub committed: u64,
    /// The offset the next message will get.
    pub max_offset: u64,
    /// Messages not done: `max_offset - committed`.
    pub lag: u64,
    /// Delivered and neither acked nor failed.
    pub in_flight: u64,
    /// Age of the oldest message not done, 0 without lag.
    pub oldest_age_ms: i64,
}

/// A group's backlog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LagReport {
    /// The group.
    pub group: String,
    /// Messages not done, over all queues.
    pub total: u64,
    /// Age of the oldest message not done, over all queues.
    pub oldest_age_ms: i64,
    /// Per queue, topic queues first, then the retry queue.
    pub queues: Vec<QueueLag>,
}

/// Delivery counters of one group since the broker started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCounters {
    /// Deliveries (first and later).
    pub delivered: u64,
    /// Deliveries after the first.
    pub redelivered: u64,
    /// Acks taken.
    pub acked: u64,
    /// Nacks taken.
    pub nacked: u64,
    /// Messages moved to the dead-letter queue.
    pub dead_lettered: u64,
}

/// A group with its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    /// The configuration.
    pub config: GroupConfig,
    /// Broadcasting member instances seen.
    pub members: Vec<String>,
    /// Backlog (of the first member in broadcasting mode, if any).
    pub lag: LagReport,
    /// Counters since the broker started.
    pub counters: GroupCounters,
    /// Messages in the dead-letter queue.
    pub dead_letters: u64,
}

/// A message in a group's dead-letter queue.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    /// Offset in the dead-letter queue.
    pub dlq_offset: u64,
    /// Id of the dead-letter record (use it to inspect or resend).
    pub id: String,
    /// Id of the original message.
    pub original_id: String,
    /// Its topic, queue and offset.
    pub topic: String,
    /// Queue.
    pub queue: u32,
    /// Offset.
    pub offset: u64,
    /// Deliveries before it was dead-lettered.
    pub attempts: u32,
    /// Why.
    pub reason: String,
    /// When, ms since the epoch.
    pub dead_ms: i64,
    /// The record, with the original keys, tag, properties and body.
    pub stored: StoredMessage,
}

/// A page of dead letters.
#[derive(Clone, Debug)]
pub struct DeadLetterPage {
    /// In dead-letter order.
    pub dead_letters: Vec<DeadLetter>,
    /// Where the next page starts.
    pub next_offset: u64,
    /// The offset the next dead letter will get.
    pub max_offset: u64,
}

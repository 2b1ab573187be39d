//! Limits on everything a client controls, as named constants and one [`Limits`] value
//! that the server fills from its configuration.
//!
//! Each limit exists so that one client cannot make the broker spend unbounded memory or
//! disk on a single request, and so that every record still fits the store's format.

use crate::CoreError;

/// Largest message body: 4 MiB, RocketMQ's default. Larger payloads belong in object
/// storage with a reference in the message.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most messages in one batch send. Bounds the memory one request can pin.
pub const MAX_BATCH_MESSAGES: usize = 10_000;
/// Largest batch request body: a full batch of small messages, or 16 bodies of 4 MiB.
pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;
/// Most business keys on one message; each key is one index entry.
pub const MAX_KEYS: usize = 32;
/// Longest business key, in bytes.
pub const MAX_KEY_BYTES: usize = 128;
/// Longest tag, in bytes.
pub const MAX_TAG_BYTES: usize = 128;
/// Longest message group (sharding key), in bytes.
pub const MAX_MESSAGE_GROUP_BYTES: usize = 128;
/// Longest client-supplied message id, in bytes.
pub const MAX_MESSAGE_ID_BYTES: usize = 128;
/// Most user properties on one message.
pub const MAX_PROPERTIES: usize = 64;
/// Longest property name, in bytes.
pub const MAX_PROPERTY_NAME_BYTES: usize = 128;
/// Longest property value, in bytes.
pub const MAX_PROPERTY_VALUE_BYTES: usize = 16 * 1024;
/// Most queues one topic can have.
pub const MAX_QUEUES: u32 = 1024;
/// Most messages one read returns.
pub const MAX_READ_MESSAGES: usize = 1000;
/// Longest topic name, in characters.
pub const MAX_TOPIC_NAME_LEN: usize = 127;

/// The limits in force, configurable per broker. Defaults are the constants above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// See [`MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// See [`MAX_BATCH_MESSAGES`].
    pub max_batch_messages: usize,
    /// See [`MAX_BATCH_BYTES`].
    pub max_batch_bytes: usize,
    /// See [`MAX_READ_MESSAGES`].
    pub max_read_messages: usize,
    /// See [`MAX_QUEUES`].
    pub max_queues: u32,
    /// See [`MAX_DELAY_MS`].
    pub max_delay_ms: u64,
    /// See [`DEDUP_WINDOW_MS`].
    pub dedup_window_ms: u64,
    /// See [`TX_CHECK_AFTER_MS`].
    pub tx_check_after_ms: u64,
    /// See [`TX_CHECK_INTERVAL_MS`].
    pub tx_check_interval_ms: u64,
    /// See [`TX_MAX_CHECKS`].
    pub tx_max_checks: u32,
}

impl Limits {
    /// The transaction check-back settings.
    pub fn tx_settings(&self) -> crate::transaction::TxSettings {
        crate::transaction::TxSettings {
            check_after: std::time::Duration::from_millis(self.tx_check_after_ms),
            check_interval: std::time::Duration::from_millis(self.tx_check_interval_ms),
            max_checks: self.tx_max_checks,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: MAX_BODY_BYTES,
            max_batch_messages: MAX_BATCH_MESSAGES,
            max_batch_bytes: MAX_BATCH_BYTES,
            max_read_messages: MAX_READ_MESSAGES,
            max_queues: MAX_QUEUES,
            max_delay_ms: MAX_DELAY_MS,
            dedup_window_ms: DEDUP_WINDOW_MS,
            tx_check_after_ms: TX_CHECK_AFTER_MS,
            tx_check_interval_ms: TX_CHECK_INTERVAL_MS,
            tx_max_checks: TX_MAX_CHECKS,
        }
    }
}

/// Deliveries of one message before it goes to the dead-letter queue (RocketMQ's 16).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 16;
/// Most deliveries a group may allow per message.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 1000;
/// Longest dead-letter reason kept (a consumer's reject, or what made its last attempt
/// fail); longer ones are cut at a character. A reason is one property of the dead letter,
/// well within [`MAX_PROPERTY_VALUE_BYTES`], and is meant to be read in a listing.
pub const MAX_DEAD_LETTER_REASON_BYTES: usize = 1024;
/// How long a received message stays invisible to the group by default: 60 s.
pub const DEFAULT_INVISIBLE_MS: u64 = 60_000;
/// Shortest invisible time a group or a receive may ask for.
pub const MIN_INVISIBLE_MS: u64 = 100;
/// Longest invisible time, nack delay or backoff step: 12 hours.
pub const MAX_INVISIBLE_MS: u64 = 12 * 3_600_000;
/// RocketMQ's retry schedule: 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h.
pub const DEFAULT_BACKOFF_MS: [u64; 16] = [
    10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000, 480_000, 540_000,
    600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];
/// Most steps in a backoff schedule.
pub const MAX_BACKOFF_STEPS: usize = 64;
/// Most tags in one group's filter.
pub const MAX_FILTER_TAGS: usize = 64;
/// Most messages one receive returns.
pub const MAX_RECEIVE_MESSAGES: usize = 1000;
/// Longest a receive waits for messages (long poll): 30 s.
pub const MAX_RECEIVE_WAIT_MS: u64 = 30_000;
/// Most receipts in one ack or nack request.
pub const MAX_RECEIPTS: usize = 10_000;
/// Most un-acked messages a group keeps above the committed offset of one queue. When
/// a queue reaches it, that queue delivers nothing new until acks (or dead letters) free
/// room; the others go on.
pub const MAX_UNACKED_PER_QUEUE: usize = 65_536;
/// Most member instances of one broadcasting group.
pub const MAX_BROADCAST_MEMBERS: usize = 1024;
/// Longest consumer (member instance) name, in bytes.
pub const MAX_CONSUMER_NAME_BYTES: usize = 128;
/// Most consumer groups per broker.
pub const MAX_GROUPS: usize = 10_000;

/// Checks a number a request gives against its limits (`min..=max`); an
/// [`InvalidArgument`](CoreError::InvalidArgument) naming the field otherwise. Every
/// limit a request can pass is checked here, in the core, once: the ingresses only parse.
pub(crate) fn check_range<T>(field: &str, value: T, min: T, max: T) -> Result<T, CoreError>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    if value < min || value > max {
        return Err(CoreError::InvalidArgument(format!(
            "{field} must be {min} to {max}, got {value}"
        )));
    }
    Ok(value)
}

/// Checks how long a long poll may wait: at most [`MAX_RECEIVE_WAIT_MS`].
pub(crate) fn check_wait(wait: std::time::Duration) -> Result<(), CoreError> {
    check_range(
        "wait_ms",
        wait.as_millis(),
        0,
        u128::from(MAX_RECEIVE_WAIT_MS),
    )
    .map(drop)
}

/// Longest delay of a delayed message: 40 days.
pub const MAX_DELAY_MS: u64 = 40 * 24 * 3_600_000;
/// RocketMQ's 18 delay levels (level 1 is the first), in milliseconds:
/// 1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h.
pub const DELAY_LEVELS_MS: [u64; 18] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000,
    480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];
/// How long a client-supplied message id is remembered for idempotent sends: 24 hours.
pub const DEDUP_WINDOW_MS: u64 = 24 * 3_600_000;
/// A transaction without a decision is first checked back this long after its half
/// message was sent: 6 s.
pub const TX_CHECK_AFTER_MS: u64 = 6_000;
/// Then checked back again every 30 s.
pub const TX_CHECK_INTERVAL_MS: u64 = 30_000;
/// After 15 check-backs without an answer the transaction is parked until resumed.
pub const TX_MAX_CHECKS: u32 = 15;

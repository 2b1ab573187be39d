//! Limits on everything a client controls, as named constants and one [`Limits`] value
//! that the server fills from its configuration.
//!
//! Each limit exists so that one client cannot make the broker spend unbounded memory or
//! disk on a single request, and so that every record still fits the store's format.

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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: MAX_BODY_BYTES,
            max_batch_messages: MAX_BATCH_MESSAGES,
            max_batch_bytes: MAX_BATCH_BYTES,
            max_read_messages: MAX_READ_MESSAGES,
            max_queues: MAX_QUEUES,
        }
    }
}

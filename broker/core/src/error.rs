//! The errors of the broker core. Each variant is one thing a client can be told;
//! ingresses map every variant explicitly to their own status and stable code.

use weir_store::{SnapshotError, StoreError};

/// Why a core operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A topic name that is empty, too long, reserved or has characters outside the set.
    #[error("invalid topic name '{name}': {reason}")]
    InvalidTopicName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The topic does not exist.
    #[error("topic '{0}' does not exist")]
    TopicNotFound(String),
    /// A topic with this name already exists.
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    /// A send named a queue the topic does not have.
    #[error("topic '{topic}' has {queues} queues (0..{queues}); queue {queue} does not exist")]
    InvalidQueue {
        /// The topic.
        topic: String,
        /// The queue asked for.
        queue: u32,
        /// How many queues the topic has.
        queues: u32,
    },
    /// A read named a queue the topic does not have.
    #[error("topic '{topic}' has no queue {queue}")]
    QueueNotFound {
        /// The topic.
        topic: String,
        /// The queue asked for.
        queue: u32,
    },
    /// A read started outside the stored range of a queue.
    #[error("offset {offset} is outside the stored range [{min}, {max}] of queue {queue}")]
    OffsetOutOfRange {
        /// The queue read.
        queue: u32,
        /// The offset asked for.
        offset: u64,
        /// The oldest stored offset.
        min: u64,
        /// The offset the next message will get.
        max: u64,
    },
    /// No stored message has this id.
    #[error("no message with id '{0}'")]
    MessageNotFound(String),
    /// A message field is out of its limits or malformed; the text names the field.
    #[error("{0}")]
    InvalidArgument(String),
    /// A message body is larger than the limit.
    #[error("message body of {size} bytes is over the limit of {limit} bytes")]
    BodyTooLarge {
        /// The body size.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A batch holds more messages than the limit.
    #[error("batch of {count} messages is over the limit of {limit}")]
    BatchTooLarge {
        /// Messages in the batch.
        count: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A batch holds no message.
    #[error("the batch holds no message")]
    EmptyBatch,
    /// A group name that is empty, too long or has characters outside the set.
    #[error("invalid group name '{name}': {reason}")]
    InvalidGroupName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The consumer group does not exist.
    #[error("consumer group '{0}' does not exist")]
    GroupNotFound(String),
    /// A consumer group with this name already exists.
    #[error("consumer group '{0}' already exists")]
    GroupExists(String),
    /// A receipt handle that is malformed or was issued by another group.
    #[error("{0}")]
    ReceiptInvalid(String),
    /// A receipt handle whose invisible time passed, or that was replaced by a later
    /// delivery or a change of invisible time.
    #[error("{0}")]
    ReceiptExpired(String),
    /// A broadcasting group was asked for something without naming the consumer
    /// instance.
    #[error("consumer group '{0}' is broadcasting: name the consumer instance (\"consumer\")")]
    ConsumerRequired(String),
    /// No dead letter of the group has this id.
    #[error("consumer group '{group}' has no dead letter with id '{id}'")]
    DeadLetterNotFound {
        /// The group.
        group: String,
        /// The id asked for.
        id: String,
    },
    /// No delayed message with this id is waiting: it was delivered, cancelled, or never
    /// delayed.
    #[error("no delayed message with id '{0}' is waiting to be delivered")]
    NotScheduled(String),
    /// No transaction has this id.
    #[error("no transaction with id '{0}'")]
    TransactionNotFound(String),
    /// A transaction was already decided the other way.
    #[error("transaction '{transaction}' is already {state}")]
    TransactionConflict {
        /// The transaction id.
        transaction: String,
        /// How it was decided.
        state: &'static str,
    },
    /// The producer group does not exist.
    #[error("producer group '{0}' does not exist")]
    ProducerGroupNotFound(String),
    /// A blocking step handed to the runtime's blocking pool (a flush, deleting queues)
    /// did not finish: the runtime is shutting down, or the step panicked. What the step
    /// had written may or may not be durable.
    #[error("{step} did not finish: the broker is shutting down")]
    Interrupted {
        /// What was being done.
        step: &'static str,
    },
    /// The timer thread (delays, retries, invisible times, check-backs) could not be
    /// started.
    #[error("starting the timer thread: {0}")]
    TimerThread(#[source] std::io::Error),
    /// A snapshot the core wrote to a system topic cannot be read back. The broker does
    /// not start rather than forget the state the snapshot holds.
    #[error("{what} at position {position} is unreadable: {reason}")]
    UnreadableSnapshot {
        /// Which snapshot.
        what: String,
        /// Its commitlog position.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SnapshotError> for CoreError {
    fn from(err: SnapshotError) -> Self {
        match err {
            SnapshotError::Store(err) => CoreError::Store(err),
            SnapshotError::Unreadable {
                what,
                position,
                reason,
            } => CoreError::UnreadableSnapshot {
                what,
                position,
                reason,
            },
        }
    }
}

impl CoreError {
    /// The error of a blocking step whose task could not be joined.
    pub(crate) fn interrupted(step: &'static str) -> impl FnOnce(tokio::task::JoinError) -> Self {
        move |_| CoreError::Interrupted { step }
    }
}

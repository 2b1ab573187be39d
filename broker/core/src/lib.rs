//! Weir broker core: what a message means once it has passed the ingress.
//!
//! The core owns topics (their queues, their durable configuration), message identity,
//! the choice of a queue for each message and the send / query path down to the store.
//! It knows nothing of HTTP or WebAssembly: ingresses turn raw input into the validated
//! types of [`message`] and [`topic`] and call [`Broker`].
//!
//! # Durability
//!
//! Everything the broker must remember goes through the commitlog. Topic configuration is
//! written as a snapshot record to the system topic [`topic::CONFIG_TOPIC`] and read back
//! from there on start; see [`topic::TopicRegistry`].

mod broker;
pub mod dedup;
mod error;
pub mod group;
pub mod limits;
pub mod message;
mod message_id;
mod retention;
mod schedule;
mod send;
pub mod topic;
pub mod transaction;

pub use broker::{Broker, BrokerConfig, SendReceipt, SendStatus, SentMessage};
pub use dedup::{DedupFilter, DedupKeys, DedupScope};
pub use error::CoreError;
pub use group::{
    AckOutcome, CommittedOffset, DeadLetter, DeadLetterPage, Delivery, GroupConfig, GroupCounters,
    GroupDescription, GroupMode, GroupSpec, LagReport, QueueLag, ReceiptFailure, ReceiveRequest,
    ResetTarget, StartFrom,
};
pub use limits::Limits;
pub use message::{MessageDraft, QueueChoice};
pub use message_id::MessageIdGenerator;
pub use schedule::delayed::{DELIVER_AT_PROPERTY, SCHEDULE_TOPIC, ScheduledMessage};
pub use topic::{ProducerGroupConfig, QueueOffsets, TopicConfig, TopicDescription, TopicName};
pub use transaction::{HalfMessage, TransactionChecker, TxOutcome, TxState};
pub use weir_store::{FlushPolicy, StoreConfig, StoredMessage};

//! Consumer groups: who consumes a topic, how (clustering or broadcasting, FIFO or not),
//! and the delivery state that makes consumption at-least-once.
//!
//! A group reads its topic's queues plus its own retry topic (`%RETRY%<group>`, where
//! dead letters are resent). For each member (one in clustering mode, one per consumer
//! instance in broadcasting mode) and each of those queues a [`cursor`] keeps the
//! committed offset (everything below it is done) and a window of the messages above it
//! that are fetched, in flight, waiting for a retry, or acked out of order.
//!
//! Messages that fail `max_attempts` times are copied to the group's dead-letter topic
//! (`%DLQ%<group>`) and count as done.
//!
//! # Durability
//!
//! Group configuration lives in the topic table snapshot (see [`crate::topic`]). Delivery
//! state changes (deliveries, acks, retries, dead letters, resets, commits) are appended
//! as compact records to the system topic [`journal::JOURNAL_TOPIC`] and replayed on
//! start from the newest state snapshot; see [`journal`].
//!
//! # Files
//!
//! - [`outcomes`]: what the operations take and answer;
//! - [`state`]: the live groups, their cursors and counters; [`recovery`]: rebuilding
//!   them on start and writing state snapshots; [`journal`]: the record formats;
//! - [`admin`]: create, describe, delete; [`receive`] and [`take`]: receiving;
//!   [`settle`]: ack, nack, reject; [`invisible`]: change of invisible time;
//!   [`offsets`]: lag, resets, commits; [`dead_letters`]; [`sweep`]: the group timer;
//! - [`consumption`]: the context of the locked steps; [`cursor`], [`receipt`],
//!   [`spec`]: the building blocks.

mod admin;
mod consumption;
pub(crate) mod cursor;
mod dead_letters;
mod invisible;
pub(crate) mod journal;
mod offsets;
mod outcomes;
mod receipt;
mod receive;
mod recovery;
mod settle;
mod spec;
pub(crate) mod state;
mod sweep;
mod take;

pub use dead_letters::property;
pub use journal::JOURNAL_TOPIC;
pub use outcomes::{
    AckOutcome, CommittedOffset, DeadLetter, DeadLetterPage, Delivery, GroupCounters,
    GroupDescription, LagReport, QueueLag, ReceiptFailure, ReceiveRequest, ResetTarget,
};
pub use receipt::Receipt;
pub use spec::{GroupConfig, GroupMode, GroupName, GroupSpec, StartFrom, TagFilter};

/// The retry topic of a group: dead letters resent for this group only.
pub fn retry_topic(group: &str) -> String {
    format!("%RETRY%{group}")
}

/// The dead-letter topic of a group.
pub fn dlq_topic(group: &str) -> String {
    format!("%DLQ%{group}")
}

//! [`Consumption`]: what the locked steps of the group operations work with (the store,
//! the live groups, the number of queues of the group's topic) and how they journal
//! what they changed.
//!
//! Each operation of [`Broker`] checks its request, takes the group's lock for one
//! step over the cursors ([`super::take`], [`super::settle`], [`super::sweep`], ...),
//! appends the journal records of that step before the lock is released, and only then
//! waits for durability and answers.

use std::sync::Arc;

use weir_store::{Message, Store, StoredMessage};

use super::dead_letters::property;
use super::journal::{EVENT_QUEUE, Entry, Event, JOURNAL_TOPIC};
use super::state::{Group, Groups};
use crate::message::{MESSAGE_GROUP_PROPERTY, property};
use crate::schedule::ledger::system_message;
use crate::{Broker, CoreError};

/// The context of one locked step over a group's cursors.
pub(crate) struct Consumption<'a> {
    pub(super) store: &'a Arc<Store>,
    pub(super) groups: &'a Groups,
    /// Queues of the group's topic now.
    pub(super) queues: u32,
}

impl Consumption<'_> {
    /// Appends journal events (one record each); returns the commitlog end, 0 when there
    /// is nothing to append.
    pub(super) fn append_events(&self, events: &[Event]) -> Result<u64, CoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let batch: Vec<(u32, Message)> = events
            .iter()
            .map(|e| (EVENT_QUEUE, system_message(e.encode())))
            .collect();
        Ok(self.store.append(JOURNAL_TOPIC, &batch)?.end)
    }
}

impl Broker {
    /// The context of a locked step over `group`.
    pub(super) fn consumption<'a>(&'a self, group: &Group) -> Result<Consumption<'a>, CoreError> {
        Ok(Consumption {
            store: self.store(),
            groups: self.groups(),
            queues: self.queue_count(group)?,
        })
    }

    /// Queues of the group's topic now.
    pub(super) fn queue_count(&self, group: &Group) -> Result<u32, CoreError> {
        self.topics()
            .get(&group.config().topic)
            .map(|t| t.config.queues)
            .ok_or_else(|| CoreError::TopicNotFound(group.config().topic.clone()))
    }
}

/// Adds `entry` to the event of the same kind and member in `events`, or to `event`
/// pushed as a new one: one record per kind and member and request.
pub(super) fn push(events: &mut Vec<Event>, event: Event, entry: Entry) {
    match events
        .iter_mut()
        .find(|e| e.kind == event.kind && e.member == event.member)
    {
        Some(existing) => existing.entries.push(entry),
        None => {
            let mut event = event;
            event.entries.push(entry);
            events.push(event);
        }
    }
}

/// The original topic, queue, offset and id of a delivered message (differs from the
/// stored one for resent dead letters).
pub(super) fn origin(group: &Group, stored: &StoredMessage) -> (String, u32, u64, String) {
    let message = &stored.message;
    if stored.topic == group.retry_topic() || stored.topic == group.dlq_topic() {
        let id = property(message, property::ORIGINAL_ID).unwrap_or(&message.id);
        let topic = property(message, property::ORIGINAL_TOPIC).unwrap_or(&group.config().topic);
        let queue = property(message, property::ORIGINAL_QUEUE)
            .and_then(|q| q.parse().ok())
            .unwrap_or(0);
        let offset = property(message, property::ORIGINAL_OFFSET)
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        return (topic.to_string(), queue, offset, id.to_string());
    }
    (
        stored.topic.clone(),
        stored.queue,
        stored.queue_offset,
        message.id.clone(),
    )
}

/// The FIFO key of a message: a hash of its message group (never 0), 0 without one.
pub(super) fn group_key(message: &Message) -> u32 {
    property(message, MESSAGE_GROUP_PROPERTY).map_or(0, |g| crc32c::crc32c(g.as_bytes()) | 1)
}

//! Dead letters: messages a group gave up on, copied to its dead-letter topic
//! (`%DLQ%<group>`) with their origin and the reason, then listed, found by id and resent
//! to the group (only this group) through its retry topic (`%RETRY%<group>`).
//!
//! A message is dead-lettered when it fails its last attempt (a nack, or its invisible
//! time passing: see [`super::take`] and [`super::sweep`]) or is rejected. The copy is
//! appended before the slot is marked done, so a failed append leaves the message to be
//! dead-lettered again.

use weir_store::{Message, StoreError, StoredMessage};

use super::consumption::{Consumption, origin};
use super::cursor::Cursor;
use super::outcomes::{DeadLetter, DeadLetterPage};
use super::state::Group;
use super::{dlq_topic, retry_topic};
use crate::broker::now_ms;
use crate::limits::{MAX_DEAD_LETTER_REASON_BYTES, check_range};
use crate::{Broker, CoreError, MessageIdGenerator};

/// Properties the broker sets on dead letters and on resent messages.
pub mod property {
    /// Id of the message as first sent.
    pub const ORIGINAL_ID: &str = "weir.original-id";
    /// Topic it was sent to.
    pub const ORIGINAL_TOPIC: &str = "weir.original-topic";
    /// Queue it was stored in.
    pub const ORIGINAL_QUEUE: &str = "weir.original-queue";
    /// Offset it was stored at.
    pub const ORIGINAL_OFFSET: &str = "weir.original-offset";
    /// Deliveries before it was dead-lettered.
    pub const ATTEMPTS: &str = "weir.dlq.attempts";
    /// Why it was dead-lettered.
    pub const REASON: &str = "weir.dlq.reason";
}

/// Dead-letter reason when the invisible time of the last attempt passed.
pub(super) const EXPIRED_LAST: &str = "invisible time of the last attempt expired";

/// `reason` cut at a character to [`MAX_DEAD_LETTER_REASON_BYTES`].
fn bounded_reason(reason: &str) -> &str {
    let mut cut = MAX_DEAD_LETTER_REASON_BYTES.min(reason.len());
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    &reason[..cut]
}

impl Consumption<'_> {
    /// Copies a message to the group's dead-letter topic.
    fn dead_letter(
        &self,
        group: &Group,
        stored: &StoredMessage,
        attempts: u32,
        reason: &str,
        id: String,
    ) -> Result<(), CoreError> {
        let original = &stored.message;
        let (topic, queue, offset, original_id) = origin(group, stored);
        let mut properties: Vec<(String, String)> = original
            .properties
            .iter()
            .filter(|(n, _)| !n.starts_with("weir.original-") && !n.starts_with("weir.dlq."))
            .cloned()
            .collect();
        properties.extend([
            (property::ORIGINAL_ID.to_string(), original_id),
            (property::ORIGINAL_TOPIC.to_string(), topic),
            (property::ORIGINAL_QUEUE.to_string(), queue.to_string()),
            (property::ORIGINAL_OFFSET.to_string(), offset.to_string()),
            (property::ATTEMPTS.to_string(), attempts.to_string()),
            (
                property::REASON.to_string(),
                bounded_reason(reason).to_string(),
            ),
        ]);
        let message = Message {
            id,
            keys: original.keys.clone(),
            tag: original.tag.clone(),
            properties,
            body: original.body.clone(),
            born_ms: original.born_ms,
            flags: 0,
        };
        self.store.append(group.dlq_topic(), &[(0, message)])?;
        group.count_dead_letter();
        Ok(())
    }

    /// Dead-letters the message of a slot and marks it done. On failure the slot is left
    /// as it was, so that the next sweep or receive tries again.
    pub(super) fn dead_letter_slot(
        &self,
        group: &Group,
        cursor: &mut Cursor,
        offset: u64,
        reason: &str,
        ids: &MessageIdGenerator,
        now: i64,
    ) -> Result<(), CoreError> {
        if let Some(slot) = cursor.slot(offset).copied() {
            match self.store.read_at(slot.position) {
                Ok(stored) => {
                    self.dead_letter(group, &stored, slot.attempts, reason, ids.next_id(now))?
                }
                // Removed by retention meanwhile: nothing left to keep.
                Err(StoreError::OutOfRange { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        cursor.set_done(offset);
        Ok(())
    }
}

impl Broker {
    /// A page of the group's dead letters from `offset`.
    pub fn dead_letters(
        &self,
        group: &str,
        offset: u64,
        max: usize,
    ) -> Result<DeadLetterPage, CoreError> {
        let group = self.groups().get(group)?;
        check_range("max", max, 1, self.limits().max_read_messages)?;
        let topic = dlq_topic(&group.config().name);
        let range = self.store().queue_range(&topic, 0);
        let from = offset.max(range.min);
        let records = if from < range.max {
            self.store().read_queue(&topic, 0, from, max)?
        } else {
            Vec::new()
        };
        let next_offset = records.last().map_or(from, |m| m.queue_offset + 1);
        Ok(DeadLetterPage {
            dead_letters: records.into_iter().map(dead_letter_of).collect(),
            next_offset,
            max_offset: range.max,
        })
    }

    /// One dead letter by the id of its dead-letter record (or of the original message).
    pub fn dead_letter(&self, group: &str, id: &str) -> Result<DeadLetter, CoreError> {
        let group = self.groups().get(group)?;
        let topic = dlq_topic(&group.config().name);
        let not_found = || CoreError::DeadLetterNotFound {
            group: group.config().name.clone(),
            id: id.to_string(),
        };
        if crate::message::validate_message_id(id).is_err() {
            return Err(not_found());
        }
        match self.store().lookup_id(id)? {
            Some(found) if found.topic == topic => return Ok(dead_letter_of(found)),
            _ => {}
        }
        // By original id: scan the dead-letter queue's newest entries.
        let range = self.store().queue_range(&topic, 0);
        let mut offset = range.min;
        while offset < range.max {
            let page = self.store().read_queue(&topic, 0, offset, 1000)?;
            let Some(last) = page.last() else { break };
            offset = last.queue_offset + 1;
            if let Some(found) = page.into_iter().find(|m| {
                m.message
                    .properties
                    .iter()
                    .any(|(n, v)| n == property::ORIGINAL_ID && v == id)
            }) {
                return Ok(dead_letter_of(found));
            }
        }
        Err(not_found())
    }

    /// Sends a dead letter back to the group (only this group) through its retry queue;
    /// returns the id of the resent record.
    pub async fn resend_dead_letter(&self, group: &str, id: &str) -> Result<String, CoreError> {
        let letter = self.dead_letter(group, id)?;
        let group = self.groups().get(group)?;
        let id = self.ids().next_id(now_ms());
        let message = resent(&letter, id.clone());
        self.store()
            .append(&retry_topic(&group.config().name), &[(0, message)])?;
        group.notify().notify_waiters();
        Ok(id)
    }

    /// Resends every dead letter from `from_offset` on; returns how many.
    pub async fn resend_dead_letters(
        &self,
        group: &str,
        from_offset: u64,
    ) -> Result<u64, CoreError> {
        let name = group;
        let group = self.groups().get(name)?;
        let retry = retry_topic(name);
        let mut offset = from_offset;
        let mut count = 0u64;
        loop {
            let page = self.dead_letters(name, offset, self.limits().max_read_messages)?;
            if page.dead_letters.is_empty() {
                break;
            }
            offset = page.next_offset;
            let now = now_ms();
            let batch: Vec<(u32, Message)> = page
                .dead_letters
                .iter()
                .map(|letter| (0, resent(letter, self.ids().next_id(now))))
                .collect();
            self.store().append(&retry, &batch)?;
            count += batch.len() as u64;
        }
        group.notify().notify_waiters();
        Ok(count)
    }
}

/// A record of the dead-letter queue, with the origin its properties name.
fn dead_letter_of(stored: StoredMessage) -> DeadLetter {
    let get = |name: &str| {
        stored
            .message
            .properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    DeadLetter {
        dlq_offset: stored.queue_offset,
        id: stored.message.id.clone(),
        original_id: get(property::ORIGINAL_ID).unwrap_or_default(),
        topic: get(property::ORIGINAL_TOPIC).unwrap_or_default(),
        queue: get(property::ORIGINAL_QUEUE)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        offset: get(property::ORIGINAL_OFFSET)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        attempts: get(property::ATTEMPTS)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        reason: get(property::REASON).unwrap_or_default(),
        dead_ms: stored.store_ms,
        stored,
    }
}

/// The retry-queue copy of a dead letter: its original content and origin.
fn resent(letter: &DeadLetter, id: String) -> Message {
    let original = &letter.stored.message;
    Message {
        id,
        keys: original.keys.clone(),
        tag: original.tag.clone(),
        properties: original
            .properties
            .iter()
            .filter(|(n, _)| !n.starts_with("weir.dlq."))
            .cloned()
            .collect(),
        body: original.body.clone(),
        born_ms: original.born_ms,
        flags: 0,
    }
}

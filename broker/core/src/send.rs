//! The send path of [`Broker`]: check a batch, ask the dedup filter for business keys,
//! plan each message (a repeat of an earlier one in the batch, answered with an earlier
//! send's result, or a new record), append the new records in one go, and answer once
//! they are durable per the flush policy.
//!
//! # Idempotence
//!
//! A producer's retry (same message id, or same dedup key within the window) is answered
//! with its original's result instead of being stored again. Sends carrying the same id
//! or key serialise on [`DedupLocks`], so that a retry racing its original sees it.

use std::collections::HashMap;

use weir_store::Message;

use crate::broker::{SendReceipt, SentMessage, now_ms};
use crate::dedup::{self, DedupKeys, DedupScope};
use crate::schedule::delayed::{self, SCHEDULE_TOPIC};
use crate::topic::Topic;
use crate::{Broker, CoreError, MessageDraft, QueueChoice};

/// What a send decided for each message of its batch, before the append.
struct SendPlan {
    /// Per message of the request, its answer once known.
    answers: Vec<Option<SentMessage>>,
    /// The records to append, in request order.
    batch: Vec<(u32, Message)>,
    /// Per record of `batch`: the request index of its message and when it is due.
    slots: Vec<(usize, i64)>,
    /// Messages that repeat an earlier one of the same batch: (index, index of the
    /// first).
    repeats: Vec<(usize, usize)>,
    /// Messages found to duplicate another by their dedup key.
    duplicates: u64,
    /// Whether a message is answered with an earlier send's result (a retry).
    answered_earlier: bool,
}

impl SendPlan {
    fn new(messages: usize) -> Self {
        Self {
            answers: vec![None; messages],
            batch: Vec::with_capacity(messages),
            slots: Vec::with_capacity(messages),
            repeats: Vec::new(),
            duplicates: 0,
            answered_earlier: false,
        }
    }

    /// The answer of every message, in request order.
    fn into_answers(mut self) -> Vec<SentMessage> {
        for (index, first) in std::mem::take(&mut self.repeats) {
            self.answers[index] = self.answers[first].clone();
        }
        self.answers.into_iter().flatten().collect()
    }
}

impl Broker {
    /// Sends a batch of messages to one topic, all or none, and answers once they are
    /// stored per the flush policy.
    ///
    /// Messages that pin a queue or carry a message group go where that says; the others
    /// all go to one round-robin queue, so a batch stays contiguous.
    ///
    /// # Cancel safety
    ///
    /// Once the store has accepted the batch, dropping this future does not undo it; it
    /// only stops waiting for the fsync.
    pub async fn send(
        &self,
        topic: &str,
        drafts: Vec<MessageDraft>,
    ) -> Result<SendReceipt, CoreError> {
        let live = self.live_topic(topic)?;
        let now = now_ms();
        self.check_batch(&drafts, now)?;
        // A batch with a delayed message goes to the schedule topic as a whole (still one
        // append, all or none); its other messages are due at once.
        let delayed = drafts
            .iter()
            .any(|d| d.deliver_at.is_some_and(|at| at > now));
        let keys = match self.dedup_filter() {
            Some(filter) if !delayed => {
                dedup::usable(filter.send_keys(topic, &drafts).await, drafts.len())
            }
            _ => None,
        };
        let (plan, end) = {
            let _guards = self
                .dedup
                .lock(&drafts, keys.as_ref().map(|k| k.keys.as_slice()));
            let mut plan = self.plan(topic, &live, drafts, keys.as_ref(), delayed, now)?;
            let end = self.append_planned(topic, &mut plan, delayed)?;
            (plan, end)
        };
        if plan.duplicates > 0
            && let Some(filter) = self.dedup_filter()
        {
            filter.duplicates_found(DedupScope::Topic(topic), plan.duplicates);
        }
        // A retry is answered like its original, durability included: the original may
        // still be unflushed (its own answer timed out waiting for the fsync), so wait for
        // everything written so far, which holds it.
        let end = if plan.answered_earlier {
            end.max(self.store().write_position())
        } else {
            end
        };
        let status = self.durable_status(end).await?;
        Ok(SendReceipt {
            topic: topic.to_string(),
            status,
            messages: plan.into_answers(),
        })
    }

    /// Checks the size of a batch and each of its messages.
    fn check_batch(&self, drafts: &[MessageDraft], now: i64) -> Result<(), CoreError> {
        let limits = self.limits();
        if drafts.is_empty() {
            return Err(CoreError::EmptyBatch);
        }
        if drafts.len() > limits.max_batch_messages {
            return Err(CoreError::BatchTooLarge {
                count: drafts.len(),
                limit: limits.max_batch_messages,
            });
        }
        for draft in drafts {
            draft.validate(limits)?;
            if let Some(at) = draft.deliver_at
                && at > now.saturating_add(limits.max_delay_ms as i64)
            {
                return Err(CoreError::InvalidArgument(format!(
                    "delivery time {at} is more than the maximum delay of {} ms away",
                    limits.max_delay_ms
                )));
            }
        }
        Ok(())
    }

    /// Decides, message by message, whether it repeats an earlier one of the batch, is
    /// answered with an earlier send's result, or becomes a new record.
    fn plan(
        &self,
        topic: &str,
        live: &Topic,
        drafts: Vec<MessageDraft>,
        keys: Option<&DedupKeys>,
        delayed: bool,
        now: i64,
    ) -> Result<SendPlan, CoreError> {
        let shared_queue = live.next_queue();
        let mut plan = SendPlan::new(drafts.len());
        let mut first_of_id: HashMap<String, usize> = HashMap::new();
        let mut first_of_key: HashMap<&str, usize> = HashMap::new();
        for (index, draft) in drafts.into_iter().enumerate() {
            let key = keys.and_then(|k| k.keys[index].as_deref());
            if let Some(key) = key {
                if let Some(&first) = first_of_key.get(key) {
                    plan.repeats.push((index, first));
                    plan.duplicates += 1;
                    continue;
                }
                first_of_key.insert(key, index);
                let window = keys.map_or(0, |k| k.window_ms);
                if let Some(previous) = self.previous_by_key(topic, key, window, now)? {
                    plan.answers[index] = Some(previous);
                    plan.duplicates += 1;
                    plan.answered_earlier = true;
                    continue;
                }
            }
            if let Some(id) = &draft.id {
                if let Some(&first) = first_of_id.get(id) {
                    plan.repeats.push((index, first));
                    continue;
                }
                first_of_id.insert(id.clone(), index);
                if let Some(previous) = self.previous_send(topic, id, now)? {
                    plan.answers[index] = Some(previous);
                    plan.answered_earlier = true;
                    continue;
                }
            }
            let queue = choose_queue(live, &draft, shared_queue)?;
            let (pinned, due) = (draft.queue, draft.deliver_at.unwrap_or(now));
            let mut message = self.message_of(draft, now);
            if let Some(key) = key {
                message
                    .properties
                    .push((dedup::DEDUP_KEY_PROPERTY.to_string(), key.to_string()));
            }
            plan.slots.push((index, due));
            plan.batch.push(if delayed {
                (0, delayed::schedule_record(message, topic, pinned, due))
            } else {
                (queue, message)
            });
        }
        Ok(plan)
    }

    /// Appends the planned records in one go and fills in their answers; wakes the
    /// topic's receivers, or schedules the delayed records. Returns the commitlog end, 0
    /// when nothing was appended.
    fn append_planned(
        &self,
        topic: &str,
        plan: &mut SendPlan,
        delayed: bool,
    ) -> Result<u64, CoreError> {
        if plan.batch.is_empty() {
            return Ok(0);
        }
        let target = if delayed { SCHEDULE_TOPIC } else { topic };
        let outcome = self.store().append(target, &plan.batch)?;
        let batch = std::mem::take(&mut plan.batch);
        for (((index, due), (_, message)), at) in
            plan.slots.iter().zip(batch).zip(&outcome.appended)
        {
            plan.answers[*index] = Some(SentMessage {
                id: message.id,
                queue: if delayed { 0 } else { at.queue },
                offset: if delayed { 0 } else { at.queue_offset },
                deliver_at: delayed.then_some(*due),
            });
        }
        if delayed {
            self.schedule_appended(
                outcome
                    .appended
                    .iter()
                    .map(|a| a.position)
                    .zip(plan.slots.iter().map(|(_, due)| *due)),
            );
        } else {
            self.groups().notify_topic(topic);
        }
        Ok(outcome.end)
    }

    /// The result of an earlier send of message `id` to `topic` within the dedup window.
    fn previous_send(
        &self,
        topic: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<SentMessage>, CoreError> {
        let Some(found) = self.store().lookup_id(id)? else {
            return Ok(None);
        };
        if found.store_ms < now.saturating_sub(self.limits().dedup_window_ms as i64) {
            return Ok(None);
        }
        if found.topic == topic {
            return Ok(Some(SentMessage {
                id: id.to_string(),
                queue: found.queue,
                offset: found.queue_offset,
                deliver_at: None,
            }));
        }
        if found.topic == SCHEDULE_TOPIC
            && let Ok(scheduled) = self.scheduled_message(id)
            && scheduled.topic == topic
        {
            return Ok(Some(SentMessage {
                id: id.to_string(),
                queue: 0,
                offset: 0,
                deliver_at: Some(scheduled.deliver_at),
            }));
        }
        Ok(None)
    }

    /// The message of `topic` stored within `window_ms` whose dedup key is `key`.
    fn previous_by_key(
        &self,
        topic: &str,
        key: &str,
        window_ms: u64,
        now: i64,
    ) -> Result<Option<SentMessage>, CoreError> {
        Ok(self
            .store()
            .lookup_dedup_key(topic, key)?
            .filter(|found| dedup::within_window(found, window_ms, now))
            .map(|found| SentMessage {
                id: found.message.id,
                queue: found.queue,
                offset: found.queue_offset,
                deliver_at: None,
            }))
    }
}

/// The queue of a new message: the pinned one, else by message group, else the batch's
/// shared round-robin queue.
fn choose_queue(topic: &Topic, draft: &MessageDraft, shared: u32) -> Result<u32, CoreError> {
    let queues = topic.config.queues;
    match draft.queue_choice() {
        QueueChoice::Pinned(queue) if queue < queues => Ok(queue),
        QueueChoice::Pinned(queue) => Err(CoreError::InvalidQueue {
            topic: topic.config.name.clone(),
            queue,
            queues,
        }),
        QueueChoice::Broker => Ok(match &draft.message_group {
            Some(group) => crate::message::group_queue(group, queues),
            None => shared,
        }),
    }
}

/// Striped locks that serialise sends carrying the same client-supplied id or dedup key.
#[derive(Debug)]
pub(crate) struct DedupLocks {
    stripes: Vec<parking_lot::Mutex<()>>,
}

/// Stripes of [`DedupLocks`].
const DEDUP_STRIPES: usize = 64;

impl DedupLocks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..DEDUP_STRIPES)
                .map(|_| parking_lot::Mutex::new(()))
                .collect(),
        }
    }

    /// Locks the stripes of every id and dedup key in the batch, in stripe order.
    fn lock(
        &self,
        drafts: &[MessageDraft],
        keys: Option<&[Option<String>]>,
    ) -> Vec<parking_lot::MutexGuard<'_, ()>> {
        let ids = drafts
            .iter()
            .filter_map(|d| d.id.as_deref())
            .map(|id| crc32c::crc32c(id.as_bytes()));
        let keys = keys
            .unwrap_or_default()
            .iter()
            .flatten()
            .map(|key| crc32c::crc32c_append(crc32c::crc32c(b"\x01"), key.as_bytes()));
        let mut stripes: Vec<usize> = ids
            .chain(keys)
            .map(|hash| hash as usize % DEDUP_STRIPES)
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes
            .into_iter()
            .map(|i| self.stripes[i].lock())
            .collect()
    }
}

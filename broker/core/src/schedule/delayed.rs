//! Delayed messages: stored at once in the schedule topic, delivered to their topic (with
//! their original id) when due, cancellable until then.
//!
//! A delayed send appends the messages to queue 0 of [`SCHEDULE_TOPIC`] with their target
//! topic and due time as system properties, and arms one timer each. When a timer fires,
//! the message is appended to its topic, a queue chosen as for any send, and a `FIRED`
//! outcome is recorded in the topic's [`Ledger`]. On start the ledger gives the entries
//! still pending, and each gets its timer again. An entry whose target copy was written
//! just before a crash (but not its outcome) is recognised by its id and not delivered
//! twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use weir_store::{Message, Store, StoredMessage};

use super::Timer;
use super::ledger::{ENTRY_QUEUE, Ledger, LedgerEvent};
use crate::message::property;
use crate::{Broker, CoreError};

/// The system topic holding delayed messages until they are due.
pub const SCHEDULE_TOPIC: &str = "%SYS%schedule";
/// The topic a delayed message goes to.
const TARGET_TOPIC: &str = "weir.schedule.topic";
/// When it is due, ms since the epoch.
pub const DELIVER_AT_PROPERTY: &str = "weir.deliver-at";
/// A queue pinned by the producer.
const TARGET_QUEUE: &str = "weir.schedule.queue";

/// Outcome: delivered to its topic.
const FIRED: u8 = 1;
/// Outcome: cancelled before it was due.
const CANCELLED: u8 = 2;
/// Outcome: copied further up the schedule queue (ahead of retention).
const MOVED: u8 = 3;

/// Tags the position of a timer re-armed at recovery: the message may already be in its
/// topic. (Commitlog positions stay far below 2^63.)
const RECOVERED: u64 = 1 << 63;

/// A delayed message as queries see it before it is due.
#[derive(Clone, Debug)]
pub struct ScheduledMessage {
    /// The topic it will be delivered to.
    pub topic: String,
    /// When, ms since the epoch.
    pub deliver_at: i64,
    /// The stored message (in the schedule topic).
    pub stored: StoredMessage,
}

/// Pending delayed messages.
#[derive(Debug)]
pub(crate) struct Delays {
    ledger: Ledger,
    pending: AtomicU64,
}

fn deliver_at(message: &Message) -> i64 {
    property(message, DELIVER_AT_PROPERTY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Delays {
    /// Loads the ledger; [`Broker::arm_delays`] re-arms the pending entries.
    pub(crate) fn recover(store: &Store) -> Result<Self, CoreError> {
        Ok(Self {
            ledger: Ledger::recover(store, SCHEDULE_TOPIC, |_, _| {})?,
            pending: AtomicU64::new(0),
        })
    }

    /// Delayed messages not yet delivered or cancelled.
    pub(crate) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    pub(crate) fn snapshot_position(&self) -> u64 {
        self.ledger.snapshot_position()
    }

    pub(crate) fn snapshot(&self, store: &Store) -> Result<u64, CoreError> {
        self.ledger.snapshot(store, serde_json::Value::Null)
    }
}

/// Turns a delayed message into its schedule-topic record.
pub(crate) fn schedule_record(
    mut message: Message,
    topic: &str,
    queue: Option<u32>,
    deliver_at: i64,
) -> Message {
    message
        .properties
        .push((TARGET_TOPIC.to_string(), topic.to_string()));
    message
        .properties
        .push((DELIVER_AT_PROPERTY.to_string(), deliver_at.to_string()));
    if let Some(queue) = queue {
        message
            .properties
            .push((TARGET_QUEUE.to_string(), queue.to_string()));
    }
    message
}

impl Broker {
    /// Re-arms every pending delayed message (at start).
    pub(crate) fn arm_delays(&self) -> Result<(), CoreError> {
        let delays = self.delays();
        let mut count = 0u64;
        delays.ledger.for_each_pending(self.store(), |record| {
            count += 1;
            // Counted before its timer exists: an overdue one fires (and is counted
            // down) at once on the timer thread.
            delays.pending.fetch_add(1, Ordering::Relaxed);
            self.scheduler().add(
                deliver_at(&record.message),
                Timer::Delayed(record.position | RECOVERED),
            );
        })?;
        if count > 0 {
            tracing::info!(pending = count, "delayed messages re-armed");
        }
        Ok(())
    }

    /// Arms the timers of newly scheduled records, given their commitlog positions.
    pub(crate) fn schedule_appended(&self, positions: impl IntoIterator<Item = (u64, i64)>) {
        for (position, due) in positions {
            self.delays().pending.fetch_add(1, Ordering::Relaxed);
            self.scheduler().add(due, Timer::Delayed(position));
        }
    }

    /// Delivers due delayed messages (given by the commitlog positions of their
    /// schedule records) to their topics: one append per topic, one ledger record.
    pub(crate) fn fire_delayed(&self, positions: &[u64]) -> Result<(), CoreError> {
        let delays = self.delays();
        let mut events = Vec::with_capacity(positions.len());
        let mut by_topic: HashMap<String, Vec<(u32, Message)>> = HashMap::new();
        for &tagged in positions {
            let record = match self.store().read_at(tagged & !RECOVERED) {
                Ok(record) if record.topic == SCHEDULE_TOPIC => record,
                // Removed by retention after it moved the entry: the moved copy fires.
                Ok(_) | Err(weir_store::StoreError::OutOfRange { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let offset = record.queue_offset;
            if delays.ledger.outcome(offset).is_some() {
                continue;
            }
            events.push(LedgerEvent {
                kind: FIRED,
                offset,
                value: 0,
            });
            let topic = property(&record.message, TARGET_TOPIC)
                .unwrap_or_default()
                .to_string();
            let already = tagged & RECOVERED != 0
                && self
                    .store()
                    .lookup_id_in(&topic, &record.message.id)?
                    .is_some_and(|found| found.position > record.position);
            if already {
                continue;
            }
            match self.scheduled_copy(&topic, record.message) {
                Ok(copy) => by_topic.entry(topic).or_default().push(copy),
                Err(CoreError::TopicNotFound(_)) => {
                    tracing::warn!(topic, "dropping a delayed message: its topic was deleted");
                }
                Err(e) => return Err(e),
            }
        }
        for (topic, batch) in &by_topic {
            self.store().append(topic, batch)?;
        }
        delays.ledger.record(self.store(), &events)?;
        delays
            .pending
            .fetch_sub(events.len() as u64, Ordering::Relaxed);
        for topic in by_topic.keys() {
            self.groups().notify_topic(topic);
        }
        Ok(())
    }

    /// The copy of a due schedule record for its topic, with the queue it goes to.
    fn scheduled_copy(&self, topic: &str, scheduled: Message) -> Result<(u32, Message), CoreError> {
        let queue = self
            .live_topic(topic)?
            .queue_for_stored(&scheduled, TARGET_QUEUE);
        let mut message = scheduled;
        message
            .properties
            .retain(|(n, _)| n != TARGET_TOPIC && n != TARGET_QUEUE && n != DELIVER_AT_PROPERTY);
        Ok((queue, message))
    }

    /// Cancels a delayed message that is not yet due.
    pub async fn cancel_delayed(&self, id: &str) -> Result<ScheduledMessage, CoreError> {
        let scheduled = self.scheduled_message(id)?;
        let end = self.delays().ledger.record(
            self.store(),
            &[LedgerEvent {
                kind: CANCELLED,
                offset: scheduled.stored.queue_offset,
                value: 0,
            }],
        )?;
        self.delays().pending.fetch_sub(1, Ordering::Relaxed);
        self.wait_durable(end).await?;
        Ok(scheduled)
    }

    /// A delayed message that is not yet due, by id.
    pub fn scheduled_message(&self, id: &str) -> Result<ScheduledMessage, CoreError> {
        let not_scheduled = || CoreError::NotScheduled(id.to_string());
        crate::message::validate_message_id(id).map_err(|_| not_scheduled())?;
        let found = self
            .store()
            .lookup_id(id)?
            .filter(|f| f.topic == SCHEDULE_TOPIC && f.queue == ENTRY_QUEUE)
            .ok_or_else(not_scheduled)?;
        if self.delays().ledger.outcome(found.queue_offset).is_some() {
            return Err(not_scheduled());
        }
        Ok(ScheduledMessage {
            topic: property(&found.message, TARGET_TOPIC)
                .unwrap_or_default()
                .to_string(),
            deliver_at: deliver_at(&found.message),
            stored: found,
        })
    }

    /// Delayed messages waiting to be delivered.
    pub fn pending_delayed(&self) -> u64 {
        self.delays().pending()
    }

    /// Copies pending delayed messages stored below `boundary` further up the schedule
    /// queue, so that retention can delete their segments.
    pub(crate) fn relocate_delayed(&self, boundary: u64) -> Result<(), CoreError> {
        let mut moved = Vec::new();
        let mut events = Vec::new();
        self.delays()
            .ledger
            .for_each_pending(self.store(), |record| {
                if record.position < boundary {
                    events.push(LedgerEvent {
                        kind: MOVED,
                        offset: record.queue_offset,
                        value: 0,
                    });
                    moved.push(record.message);
                }
            })?;
        if moved.is_empty() {
            return Ok(());
        }
        let dues: Vec<i64> = moved.iter().map(deliver_at).collect();
        let batch: Vec<(u32, Message)> = moved.into_iter().map(|m| (ENTRY_QUEUE, m)).collect();
        let outcome = self.store().append(SCHEDULE_TOPIC, &batch)?;
        self.delays().ledger.record(self.store(), &events)?;
        self.delays()
            .pending
            .fetch_sub(events.len() as u64, Ordering::Relaxed);
        self.schedule_appended(outcome.appended.iter().map(|a| a.position).zip(dues));
        tracing::info!(
            moved = events.len(),
            "delayed messages moved ahead of retention"
        );
        Ok(())
    }
}

//! The consumption path: receive, ack, nack, change of invisible time, offsets, lag and
//! dead letters, over the cursors of each group, with every state change journaled.
//!
//! One mutex per group serialises its state changes and their journal records, so the
//! journal holds each group's changes in the order they were applied.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use weir_store::{Message, SnapshotSlot, Store, StoredMessage};

use super::cursor::{Cursor, Pick};
use super::journal::{
    CursorSnapshot, EVENT_QUEUE, Entry, Event, GroupSnapshot, JOURNAL_TOPIC, Kind, SNAPSHOT_QUEUE,
    SNAPSHOT_VERSION, Snapshot,
};
use super::receipt::{RETRY_SOURCE, Receipt};
use super::spec::{GroupConfig, GroupMode, TagFilter};
use super::{dlq_topic, retry_topic};
use crate::CoreError;
use crate::broker::now_ms;
use crate::limits::{MAX_BROADCAST_MEMBERS, MAX_CONSUMER_NAME_BYTES, MAX_UNACKED_PER_QUEUE};
use crate::message::MESSAGE_GROUP_PROPERTY;

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

/// `reason` cut at a character to [`MAX_DEAD_LETTER_REASON_BYTES`].
///
/// [`MAX_DEAD_LETTER_REASON_BYTES`]: crate::limits::MAX_DEAD_LETTER_REASON_BYTES
fn bounded_reason(reason: &str) -> &str {
    let mut cut = crate::limits::MAX_DEAD_LETTER_REASON_BYTES.min(reason.len());
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    &reason[..cut]
}

/// Dead-letter reason when the invisible time of the last attempt passed.
const EXPIRED_LAST: &str = "invisible time of the last attempt expired";

/// Messages read from the store per fetch of one queue, at most.
const FETCH_CHUNK: usize = 1024;

/// A receive request.
#[derive(Clone, Debug, Default)]
pub struct ReceiveRequest {
    /// Most messages to return (1 to [`MAX_RECEIVE_MESSAGES`]).
    pub max: usize,
    /// How long to wait for a first message (long poll), at most [`MAX_RECEIVE_WAIT_MS`].
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

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    redelivered: AtomicU64,
    acked: AtomicU64,
    nacked: AtomicU64,
    dead_lettered: AtomicU64,
}

impl Counters {
    fn get(&self) -> GroupCounters {
        GroupCounters {
            delivered: self.delivered.load(Ordering::Relaxed),
            redelivered: self.redelivered.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            nacked: self.nacked.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
        }
    }
}

/// Mutable delivery state of one group.
#[derive(Default)]
pub(crate) struct GroupInner {
    /// Broadcasting member names by index.
    pub(crate) members: Vec<String>,
    pub(crate) cursors: HashMap<(u32, u32), Cursor>,
    /// Where the next receive starts looking, for fairness across queues.
    rotate: usize,
}

/// A live group.
pub(crate) struct Group {
    config: GroupConfig,
    filter: TagFilter,
    retry_topic: String,
    dlq_topic: String,
    inner: Mutex<GroupInner>,
    counters: Counters,
    /// Woken when the group's topic or retry topic gets messages, or when the group's
    /// timer found something due.
    notify: Arc<Notify>,
    /// The earliest deadline the group's timer is armed for (`i64::MAX`: none).
    armed: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// All live groups, the per-topic wake-ups and the delivery sequence.
#[derive(Debug)]
pub(crate) struct Groups {
    groups: RwLock<HashMap<String, Arc<Group>>>,
    notifies: Mutex<HashMap<String, Arc<Notify>>>,
    seq: AtomicU64,
    /// Serialises snapshots.
    snapshots: tokio::sync::Mutex<u64>,
}

/// What one locked step of a receive decided.
pub(crate) struct Taken {
    pub(crate) deliveries: Vec<Delivery>,
    pub(crate) next_due: i64,
    pub(crate) end: u64,
}

impl Groups {
    /// Builds the live groups from their configuration and replays the journal.
    pub(crate) fn recover(store: &Store, configs: Vec<GroupConfig>) -> Result<Self, CoreError> {
        let groups = Self {
            groups: RwLock::new(HashMap::new()),
            notifies: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            snapshots: tokio::sync::Mutex::new(0),
        };
        for config in configs {
            groups.insert(config)?;
        }
        let mut max_seq = 0u64;
        let snapshot = load_snapshot(store)?;
        let range = store.queue_range(JOURNAL_TOPIC, EVENT_QUEUE);
        let mut from = range.min;
        if let Some(snapshot) = snapshot {
            from = from.max(snapshot.journal_offset);
            let live = groups.groups.read();
            for saved in snapshot.groups {
                let Some(group) = live.get(&saved.name) else {
                    continue;
                };
                if group.config.incarnation != saved.incarnation {
                    continue;
                }
                let mut inner = group.inner.lock();
                inner.members = saved.members;
                for c in saved.cursors {
                    let mut cursor = Cursor::new(c.committed);
                    for (offset, state, time, attempts, first_ms, seq) in c.slots {
                        max_seq = max_seq.max(seq);
                        match state {
                            1 => cursor.set_delivered(offset, seq, attempts, first_ms, time),
                            2 => {
                                cursor.set_delivered(offset, seq, attempts, first_ms, i64::MIN);
                                cursor.set_waiting(offset, time);
                            }
                            3 => cursor.set_done(offset),
                            _ => {}
                        }
                    }
                    inner.cursors.insert((c.member, c.source), cursor);
                }
            }
        }
        let mut replayed = 0u64;
        let mut offset = from;
        while offset < range.max {
            let records = store.read_queue(JOURNAL_TOPIC, EVENT_QUEUE, offset, FETCH_CHUNK)?;
            let Some(last) = records.last() else { break };
            offset = last.queue_offset + 1;
            for record in records {
                let Some(event) = Event::decode(&record.message.body) else {
                    tracing::warn!(
                        offset = record.queue_offset,
                        "skipping an unreadable delivery journal record"
                    );
                    continue;
                };
                replayed += 1;
                for e in &event.entries {
                    max_seq = max_seq.max(e.seq);
                }
                groups.replay(event);
            }
        }
        for group in groups.groups.read().values() {
            let mut inner = group.inner.lock();
            for cursor in inner.cursors.values_mut() {
                cursor.refetch();
            }
        }
        // Sequence numbers start above any issued before, also ones whose journal
        // record was lost with an unflushed tail: the clock in microseconds is past them.
        let clock_us = u64::try_from(now_ms()).unwrap_or(0).saturating_mul(1000);
        groups
            .seq
            .store(max_seq.max(clock_us) + 1, Ordering::Relaxed);
        tracing::info!(replayed, "delivery state recovered");
        Ok(groups)
    }

    fn replay(&self, event: Event) {
        let Some(group) = self.groups.read().get(&event.group).cloned() else {
            return;
        };
        if group.config.incarnation != event.incarnation {
            return;
        }
        let mut inner = group.inner.lock();
        if event.kind == Kind::Member {
            let index = event.member as usize;
            if inner.members.len() <= index {
                inner.members.resize(index + 1, String::new());
            }
            inner.members[index] = event.name;
            return;
        }
        for e in event.entries {
            let start = group.start_offset(e.source);
            let cursor = inner
                .cursors
                .entry((event.member, e.source))
                .or_insert_with(|| Cursor::new(start));
            match event.kind {
                Kind::Deliver => {
                    cursor.set_delivered(e.offset, e.seq, e.attempts, e.first_ms, e.time)
                }
                Kind::Invisible => cursor.set_in_flight(e.offset, e.seq, e.time),
                Kind::Retry => cursor.set_waiting(e.offset, e.time),
                Kind::Ack | Kind::Dead => cursor.set_done(e.offset),
                Kind::Reset => cursor.reset(e.offset),
                Kind::Member => {}
            }
        }
    }

    fn insert(&self, config: GroupConfig) -> Result<Arc<Group>, CoreError> {
        let filter = TagFilter::parse(&config.filter)?;
        let notify = self.notify_for(&config.topic);
        let group = Arc::new(Group {
            retry_topic: retry_topic(&config.name),
            dlq_topic: dlq_topic(&config.name),
            filter,
            config,
            inner: Mutex::new(GroupInner::default()),
            counters: Counters::default(),
            notify,
            armed: std::sync::atomic::AtomicI64::new(i64::MAX),
        });
        self.groups
            .write()
            .insert(group.config.name.clone(), Arc::clone(&group));
        Ok(group)
    }

    fn notify_for(&self, topic: &str) -> Arc<Notify> {
        Arc::clone(self.notifies.lock().entry(topic.to_string()).or_default())
    }

    /// Wakes receivers waiting on `topic`.
    pub(crate) fn notify_topic(&self, topic: &str) {
        if let Some(notify) = self.notifies.lock().get(topic) {
            notify.notify_waiters();
        }
    }

    pub(crate) fn add(&self, config: GroupConfig) -> Result<(), CoreError> {
        self.insert(config).map(drop)
    }

    pub(crate) fn remove(&self, name: &str) {
        if let Some(group) = self.groups.write().remove(name) {
            group.notify.notify_waiters();
        }
    }

    pub(crate) fn get(&self, name: &str) -> Result<Arc<Group>, CoreError> {
        self.groups
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| CoreError::GroupNotFound(name.to_string()))
    }

    pub(crate) fn all(&self) -> Vec<Arc<Group>> {
        self.groups.read().values().cloned().collect()
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes a snapshot of every group's state to the journal's snapshot queue; returns
    /// its commitlog position.
    pub(crate) async fn snapshot(&self, store: &Arc<Store>) -> Result<u64, CoreError> {
        let mut last = self.snapshots.lock().await;
        let journal_offset = store.queue_range(JOURNAL_TOPIC, EVENT_QUEUE).max;
        let mut snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            journal_offset,
            groups: Vec::new(),
        };
        for group in self.all() {
            let inner = group.inner.lock();
            let cursors = inner
                .cursors
                .iter()
                .map(|(&(member, source), cursor)| CursorSnapshot {
                    member,
                    source,
                    committed: cursor.committed(),
                    slots: cursor
                        .snapshot()
                        .map(|(offset, slot)| {
                            let (state, time) = match slot.state {
                                super::cursor::SlotState::Ready => (0, 0),
                                super::cursor::SlotState::InFlight { until } => (1, until),
                                super::cursor::SlotState::Waiting { at } => (2, at),
                                super::cursor::SlotState::Done => (3, 0),
                            };
                            (offset, state, time, slot.attempts, slot.first_ms, slot.seq)
                        })
                        .collect(),
                })
                .collect();
            snapshot.groups.push(GroupSnapshot {
                name: group.config.name.clone(),
                incarnation: group.config.incarnation,
                members: inner.members.clone(),
                cursors,
            });
        }
        let body = serde_json::to_vec(&snapshot)
            .map_err(|err| CoreError::InvalidArgument(format!("delivery snapshot: {err}")))?;
        let outcome = store.append(
            JOURNAL_TOPIC,
            &[(SNAPSHOT_QUEUE, system_message(Bytes::from(body)))],
        )?;
        let position = outcome.appended.first().map_or(0, |a| a.position);
        *last = position;
        Ok(position)
    }

    /// Position of the newest snapshot written since start (0 before the first).
    pub(crate) async fn snapshot_position(&self) -> u64 {
        *self.snapshots.lock().await
    }
}

fn load_snapshot(store: &Store) -> Result<Option<Snapshot>, CoreError> {
    let newest = store.read_snapshot(
        SnapshotSlot::Queue {
            topic: JOURNAL_TOPIC,
            queue: SNAPSHOT_QUEUE,
        },
        "delivery state snapshot",
        |body| serde_json::from_slice::<Snapshot>(body),
    )?;
    Ok(newest.map(|newest| newest.value))
}

use crate::message::property;
use crate::schedule::ledger::system_message;

fn group_key(message: &Message) -> u32 {
    property(message, MESSAGE_GROUP_PROPERTY).map_or(0, |g| crc32c::crc32c(g.as_bytes()) | 1)
}

/// The member index used for a broadcasting consumer that never received.
pub(crate) const NEW_MEMBER: u32 = u32::MAX;

impl Group {
    pub(crate) fn config(&self) -> &GroupConfig {
        &self.config
    }

    pub(crate) fn notify(&self) -> &Notify {
        &self.notify
    }

    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, GroupInner> {
        self.inner.lock()
    }

    pub(crate) fn members(&self) -> Vec<String> {
        self.inner.lock().members.clone()
    }

    pub(crate) fn counters(&self) -> GroupCounters {
        self.counters.get()
    }

    /// Whether the group's timer must be armed for `deadline`: true when nothing
    /// earlier is armed. The caller adds the timer.
    pub(crate) fn needs_timer(&self, deadline: i64) -> bool {
        deadline != i64::MAX && self.armed.fetch_min(deadline, Ordering::AcqRel) > deadline
    }

    /// Called when the group's timer fires: the next deadline must be armed again.
    pub(crate) fn disarm(&self) {
        self.armed.store(i64::MAX, Ordering::Release);
    }

    pub(crate) fn count_ack(&self) {
        self.counters.acked.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_nack(&self) {
        self.counters.nacked.fetch_add(1, Ordering::Relaxed);
    }

    /// The member a read-only request is about: 0 in clustering mode; in broadcasting
    /// mode the named consumer, or [`NEW_MEMBER`] for one that never received.
    pub(crate) fn member_index(&self, consumer: Option<&str>) -> Result<u32, CoreError> {
        if self.config.mode == GroupMode::Clustering {
            return Ok(0);
        }
        let name = consumer.ok_or_else(|| CoreError::ConsumerRequired(self.config.name.clone()))?;
        Ok(self
            .inner
            .lock()
            .members
            .iter()
            .position(|m| m == name)
            .map_or(NEW_MEMBER, |i| i as u32))
    }

    /// Committed offset and in-flight count of one member's queue.
    pub(crate) fn progress(&self, member: u32, source: u32) -> (u64, u64) {
        match self.inner.lock().cursors.get(&(member, source)) {
            Some(cursor) => (cursor.committed(), cursor.in_flight() as u64),
            None => (self.start_offset(source), 0),
        }
    }

    fn start_offset(&self, source: u32) -> u64 {
        if source == RETRY_SOURCE {
            return self.config.retry_start;
        }
        self.config
            .start_offsets
            .get(source as usize)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn source_topic(&self, source: u32) -> (&str, u32) {
        if source == RETRY_SOURCE {
            (&self.retry_topic, 0)
        } else {
            (&self.config.topic, source)
        }
    }

    /// The member index of a consumer, registering a new broadcasting member.
    fn member(
        &self,
        inner: &mut GroupInner,
        consumer: Option<&str>,
        register: bool,
        journal: &mut Vec<Event>,
    ) -> Result<Option<u32>, CoreError> {
        if self.config.mode == GroupMode::Clustering {
            return Ok(Some(0));
        }
        let Some(name) = consumer else {
            return Err(CoreError::ConsumerRequired(self.config.name.clone()));
        };
        if let Some(index) = inner.members.iter().position(|m| m == name) {
            return Ok(Some(index as u32));
        }
        if !register {
            return Ok(None);
        }
        if inner.members.len() >= MAX_BROADCAST_MEMBERS {
            return Err(CoreError::InvalidArgument(format!(
                "group '{}' has the maximum of {MAX_BROADCAST_MEMBERS} members",
                self.config.name
            )));
        }
        inner.members.push(name.to_string());
        let index = inner.members.len() as u32 - 1;
        let mut event = Event::new(
            Kind::Member,
            &self.config.name,
            self.config.incarnation,
            index,
        );
        event.name = name.to_string();
        journal.push(event);
        Ok(Some(index))
    }

    pub(crate) fn parse_receipt(&self, text: &str) -> Result<Receipt, CoreError> {
        let receipt = Receipt::parse(text).ok_or_else(|| {
            CoreError::ReceiptInvalid(format!("'{text}' is not a receipt handle"))
        })?;
        if receipt.incarnation != self.config.incarnation {
            return Err(CoreError::ReceiptInvalid(format!(
                "receipt '{text}' was not issued by consumer group '{}'",
                self.config.name
            )));
        }
        Ok(receipt)
    }

    pub(crate) fn expired(text: &str) -> CoreError {
        CoreError::ReceiptExpired(format!(
            "receipt '{text}' has expired: its invisible time passed or the message was delivered again"
        ))
    }
}

/// Checks a consumer name.
pub(crate) fn check_consumer(consumer: Option<&str>) -> Result<(), CoreError> {
    if let Some(name) = consumer
        && (name.is_empty() || name.len() > MAX_CONSUMER_NAME_BYTES)
    {
        return Err(CoreError::InvalidArgument(format!(
            "consumer must be 1 to {MAX_CONSUMER_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The consumption operations of [`crate::Broker`] live in `crate::broker::consume`;
/// these are the locked steps they are made of.
pub(crate) struct Consumption<'a> {
    pub(crate) store: &'a Arc<Store>,
    pub(crate) groups: &'a Groups,
    /// Queues of the group's topic now.
    pub(crate) queues: u32,
}

impl Consumption<'_> {
    pub(crate) fn append_events(&self, events: &[Event]) -> Result<u64, CoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let batch: Vec<(u32, Message)> = events
            .iter()
            .map(|e| (EVENT_QUEUE, system_message(e.encode())))
            .collect();
        Ok(self.store.append(JOURNAL_TOPIC, &batch)?.end)
    }

    /// Copies a message to the group's dead-letter topic.
    pub(crate) fn dead_letter(
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
        self.store.append(&group.dlq_topic, &[(0, message)])?;
        group.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The timer's pass over a group: dead-letters expired last attempts and returns the
    /// next future deadline of any cursor.
    pub(crate) fn sweep(
        &self,
        group: &Group,
        ids: &crate::MessageIdGenerator,
    ) -> Result<i64, CoreError> {
        let now = now_ms();
        let config = &group.config;
        let mut inner = group.inner.lock();
        let mut events = Vec::new();
        let mut next = i64::MAX;
        let mut picks = Vec::new();
        let keys: Vec<(u32, u32)> = inner.cursors.keys().copied().collect();
        for (member, source) in keys {
            let Some(cursor) = inner.cursors.get_mut(&(member, source)) else {
                continue;
            };
            picks.clear();
            cursor.pick(now, 0, config.fifo, config.max_attempts, &mut picks);
            let mut dead = Event::new(Kind::Dead, &config.name, config.incarnation, member);
            for pick in picks.drain(..) {
                if let Pick::Dead(offset) = pick {
                    self.dead_letter_slot(group, cursor, offset, EXPIRED_LAST, ids, now)?;
                    dead.entries.push(Entry {
                        source,
                        offset,
                        ..Entry::default()
                    });
                }
            }
            if !dead.entries.is_empty() {
                events.push(dead);
            }
            next = next.min(cursor.next_deadline());
        }
        self.append_events(&events)?;
        Ok(next)
    }

    /// Dead-letters the message of a slot and marks it done. On failure the slot is left
    /// as it was, so that the next sweep or receive tries again.
    pub(crate) fn dead_letter_slot(
        &self,
        group: &Group,
        cursor: &mut Cursor,
        offset: u64,
        reason: &str,
        ids: &crate::MessageIdGenerator,
        now: i64,
    ) -> Result<(), CoreError> {
        if let Some(slot) = cursor.slot(offset).copied() {
            match self.store.read_at(slot.position) {
                Ok(stored) => {
                    self.dead_letter(group, &stored, slot.attempts, reason, ids.next_id(now))?
                }
                // Removed by retention meanwhile: nothing left to keep.
                Err(weir_store::StoreError::OutOfRange { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        cursor.set_done(offset);
        Ok(())
    }

    /// One locked pass of a receive.
    pub(crate) fn take(
        &self,
        group: &Group,
        request: &ReceiveRequest,
        invisible_ms: u64,
        ids: &crate::MessageIdGenerator,
    ) -> Result<Taken, CoreError> {
        let now = now_ms();
        let config = &group.config;
        let mut journal = Vec::new();
        let mut inner = group.inner.lock();
        let member = group
            .member(&mut inner, request.consumer.as_deref(), true, &mut journal)?
            .unwrap_or(0);
        let mut sources: Vec<u32> = (0..self.queues).collect();
        sources.push(RETRY_SOURCE);
        let rotate = inner.rotate % sources.len();
        inner.rotate = inner.rotate.wrapping_add(1);
        sources.rotate_left(rotate);

        let mut deliver = Event::new(Kind::Deliver, &config.name, config.incarnation, member);
        let mut dead = Event::new(Kind::Dead, &config.name, config.incarnation, member);
        let mut deliveries = Vec::new();
        let mut next_due = i64::MAX;
        let mut picks = Vec::new();
        for source in sources {
            let want = request.max - deliveries.len();
            if want == 0 {
                break;
            }
            let (topic, queue) = group.source_topic(source);
            let start = group.start_offset(source);
            let cursor = inner
                .cursors
                .entry((member, source))
                .or_insert_with(|| Cursor::new(start));
            // Messages read in this pass, taken (not cloned) as they are delivered.
            let mut fresh: Vec<Option<StoredMessage>> = Vec::new();
            let mut fresh_from = 0;
            // Pick from what the window holds; when that is not enough, read more from
            // the store and pick again (twice at most per queue and receive).
            for round in 0..3 {
                picks.clear();
                cursor.pick(now, want, config.fifo, config.max_attempts, &mut picks);
                let delivering = picks
                    .iter()
                    .filter(|p| matches!(p, Pick::Deliver(_)))
                    .count();
                if round == 2 || delivering >= want || cursor.window() >= MAX_UNACKED_PER_QUEUE {
                    break;
                }
                let range = self.store.queue_range(topic, queue);
                if cursor.fetched() < range.min {
                    cursor.skip_to(range.min);
                }
                if cursor.fetched() >= range.max {
                    break;
                }
                let room = MAX_UNACKED_PER_QUEUE - cursor.window();
                let n = (want - delivering).clamp(16, FETCH_CHUNK).min(room);
                fresh_from = cursor.fetched();
                fresh = self
                    .store
                    .read_queue(topic, queue, fresh_from, n)?
                    .into_iter()
                    .map(Some)
                    .collect();
                for stored in fresh.iter().flatten() {
                    if stored.queue_offset != cursor.fetched() {
                        break;
                    }
                    let wanted = group.filter.matches(stored.message.tag.as_deref());
                    cursor.fill(
                        stored.queue_offset,
                        stored.position,
                        group_key(&stored.message),
                        wanted,
                    );
                }
            }
            for pick in picks.drain(..) {
                let offset = match pick {
                    Pick::Dead(offset) => {
                        self.dead_letter_slot(group, cursor, offset, EXPIRED_LAST, ids, now)?;
                        dead.entries.push(Entry {
                            source,
                            offset,
                            ..Entry::default()
                        });
                        continue;
                    }
                    Pick::Deliver(offset) => offset,
                };
                let Some(slot) = cursor.slot(offset).copied() else {
                    continue;
                };
                let stored = match offset
                    .checked_sub(fresh_from)
                    .and_then(|i| fresh.get_mut(i as usize))
                    .filter(|s| s.as_ref().is_some_and(|s| s.queue_offset == offset))
                    .and_then(Option::take)
                {
                    Some(s) => s,
                    None => match self.store.read_at(slot.position) {
                        Ok(s) => s,
                        Err(weir_store::StoreError::OutOfRange { .. }) => {
                            // Removed by retention meanwhile: nothing left to deliver.
                            cursor.set_done(offset);
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    },
                };
                {
                    {
                        let seq = self.groups.next_seq();
                        let until = now.saturating_add(invisible_ms as i64);
                        let Some(slot) = cursor.deliver(offset, seq, now, until) else {
                            continue;
                        };
                        group.counters.delivered.fetch_add(1, Ordering::Relaxed);
                        if slot.attempts > 1 {
                            group.counters.redelivered.fetch_add(1, Ordering::Relaxed);
                        }
                        deliver.entries.push(Entry {
                            source,
                            offset,
                            seq,
                            attempts: slot.attempts,
                            first_ms: slot.first_ms,
                            time: until,
                        });
                        let receipt = Receipt {
                            incarnation: config.incarnation,
                            member,
                            source,
                            offset,
                            seq,
                        };
                        let (topic, queue, offset, id) = origin(group, &stored);
                        deliveries.push(Delivery {
                            id,
                            topic,
                            queue,
                            offset,
                            stored,
                            receipt: receipt.encode(),
                            attempt: slot.attempts,
                            first_delivery_ms: slot.first_ms,
                            resent: source == RETRY_SOURCE,
                        });
                    }
                }
            }
            next_due = next_due.min(cursor.next_deadline());
        }
        if !deliver.entries.is_empty() {
            journal.push(deliver);
        }
        if !dead.entries.is_empty() {
            journal.push(dead);
        }
        let end = self.append_events(&journal)?;
        Ok(Taken {
            deliveries,
            next_due,
            end,
        })
    }
}

/// The original topic, queue, offset and id of a delivered message (differs from the
/// stored one for resent dead letters).
fn origin(group: &Group, stored: &StoredMessage) -> (String, u32, u64, String) {
    let message = &stored.message;
    if stored.topic == group.retry_topic || stored.topic == group.dlq_topic {
        let id = property(message, property::ORIGINAL_ID).unwrap_or(&message.id);
        let topic = property(message, property::ORIGINAL_TOPIC).unwrap_or(&group.config.topic);
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

//! The live state of every consumer group: its configuration, the cursors of each
//! member and queue behind one mutex, its counters and the wake-up of its waiting
//! receivers; and [`Groups`], the registry of them all with the delivery sequence.
//!
//! This file owns how that state is held and looked up, not how it changes: receives,
//! acks and the timer change it in their own files, and [`super::recovery`] rebuilds it
//! on start. One mutex per group serialises its state changes and their journal
//! records, so the journal holds each group's changes in the order they were applied.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use super::cursor::Cursor;
use super::journal::{Event, Kind};
use super::outcomes::GroupCounters;
use super::receipt::{RETRY_SOURCE, Receipt};
use super::spec::{GroupConfig, GroupMode, TagFilter};
use super::{dlq_topic, retry_topic};
use crate::CoreError;
use crate::limits::MAX_BROADCAST_MEMBERS;

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
    pub(super) rotate: usize,
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
    armed: AtomicI64,
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
    pub(super) groups: RwLock<HashMap<String, Arc<Group>>>,
    pub(super) notifies: Mutex<HashMap<String, Arc<Notify>>>,
    pub(super) seq: AtomicU64,
    /// Serialises snapshots.
    pub(super) snapshots: tokio::sync::Mutex<u64>,
}

impl Groups {
    /// No group yet; [`Groups::recover`](super::recovery) fills it on start.
    pub(super) fn new() -> Self {
        Self {
            groups: RwLock::new(HashMap::new()),
            notifies: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            snapshots: tokio::sync::Mutex::new(0),
        }
    }

    pub(super) fn insert(&self, config: GroupConfig) -> Result<Arc<Group>, CoreError> {
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
            armed: AtomicI64::new(i64::MAX),
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

    /// Counts a delivery; `attempt` is its number, from 1.
    pub(super) fn count_delivery(&self, attempt: u32) {
        self.counters.delivered.fetch_add(1, Ordering::Relaxed);
        if attempt > 1 {
            self.counters.redelivered.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn count_dead_letter(&self) {
        self.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    /// The group's tag filter.
    pub(super) fn filter(&self) -> &TagFilter {
        &self.filter
    }

    /// The group's retry topic (`%RETRY%<group>`).
    pub(super) fn retry_topic(&self) -> &str {
        &self.retry_topic
    }

    /// The group's dead-letter topic (`%DLQ%<group>`).
    pub(super) fn dlq_topic(&self) -> &str {
        &self.dlq_topic
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

    pub(super) fn start_offset(&self, source: u32) -> u64 {
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

    /// The member index of a consumer, registering a new broadcasting member (its
    /// journal event is pushed to `journal`).
    pub(super) fn member(
        &self,
        inner: &mut GroupInner,
        consumer: Option<&str>,
        journal: &mut Vec<Event>,
    ) -> Result<u32, CoreError> {
        if self.config.mode == GroupMode::Clustering {
            return Ok(0);
        }
        let Some(name) = consumer else {
            return Err(CoreError::ConsumerRequired(self.config.name.clone()));
        };
        if let Some(index) = inner.members.iter().position(|m| m == name) {
            return Ok(index as u32);
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
        Ok(index)
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

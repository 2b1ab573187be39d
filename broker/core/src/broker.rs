//! The broker façade: the one place that decides what happens to a send, a query or a
//! topic change, between a validated request and the store. The send path itself is in
//! [`crate::send`]; consumer groups in [`crate::group`].

use std::sync::Arc;
use std::time::Duration;

use weir_store::{FlushPolicy, Message, Store, StoreConfig, StoredMessage};

use crate::dedup::{DedupFilter, DedupHook, PendingKeys};
use crate::group::state::{Group, Groups};
use crate::limits::check_range;
use crate::message::MESSAGE_GROUP_PROPERTY;
use crate::schedule::Scheduler;
use crate::schedule::delayed::Delays;
use crate::send::DedupLocks;
use crate::topic::{QueueOffsets, Topic, TopicConfig, TopicDescription, TopicName, TopicRegistry};
use crate::transaction::Transactions;
use crate::{CoreError, Limits, MessageDraft, MessageIdGenerator};

/// How a broker is set up.
#[derive(Debug)]
pub struct BrokerConfig {
    /// The store underneath.
    pub store: StoreConfig,
    /// Limits on what clients may send.
    pub limits: Limits,
}

/// How durable a send was when it was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored per the flush policy: in `sync` mode fsynced; in `async` mode written to the
    /// commitlog's mapped pages (survives a process crash, flushed within the interval).
    Ok,
    /// `sync` mode only: stored, but the fsync did not complete within the flush timeout.
    FlushDiskTimeout,
}

impl SendStatus {
    /// The wire name (RocketMQ's).
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Ok => "SEND_OK",
            SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        }
    }
}

/// Where one sent message ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// Its id.
    pub id: String,
    /// Its queue (0 for a delayed message: it gets its queue when it is due).
    pub queue: u32,
    /// Its offset in the queue (0 for a delayed message).
    pub offset: u64,
    /// For a delayed message, when it will be delivered (ms since the epoch).
    pub deliver_at: Option<i64>,
}

/// The answer to a send: every message of the request, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendReceipt {
    /// The topic sent to.
    pub topic: String,
    /// Durability status, shared by the whole batch.
    pub status: SendStatus,
    /// Per message, in request order.
    pub messages: Vec<SentMessage>,
}

/// Messages read from one queue.
#[derive(Clone, Debug)]
pub struct ReadBatch {
    /// The messages, in offset order.
    pub messages: Vec<StoredMessage>,
    /// Where the next read should start.
    pub next_offset: u64,
    /// The offset the next message sent to this queue will get.
    pub max_offset: u64,
}

/// The broker: topics, the send path and queries over one store.
#[derive(Debug)]
pub struct Broker {
    store: Arc<Store>,
    topics: TopicRegistry,
    ids: MessageIdGenerator,
    limits: Limits,
    sync_flush: Option<Duration>,
    groups: Groups,
    scheduler: Arc<Scheduler>,
    delays: Delays,
    transactions: Transactions,
    pub(crate) dedup: DedupLocks,
    /// The dedup filters' hook, once the plugin host installed it.
    dedup_filter: DedupHook,
    /// Keys of deliveries handed out by groups with a dedup filter, until settled.
    pub(crate) pending_keys: PendingKeys,
    /// This broker, for work spawned by timers.
    me: std::sync::Weak<Broker>,
}

impl Broker {
    /// Opens (and recovers) the store, loads topics and groups, replays delivery state
    /// and starts the timer thread.
    pub fn open(config: BrokerConfig) -> Result<Arc<Self>, CoreError> {
        let sync_flush = match config.store.flush {
            FlushPolicy::Sync => Some(config.store.sync_flush_timeout),
            FlushPolicy::Async { .. } => None,
        };
        let store = Arc::new(Store::open(config.store)?);
        let topics = TopicRegistry::load(&store)?;
        let groups = Groups::recover(&store, topics.list_groups())?;
        let scheduler = Arc::new(Scheduler::new());
        let delays = Delays::recover(&store)?;
        let transactions = Transactions::recover(&store, config.limits.tx_settings())?;
        let broker = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            transactions,
            delays,
            dedup: DedupLocks::new(),
            dedup_filter: DedupHook::default(),
            pending_keys: PendingKeys::default(),
            store,
            topics,
            groups,
            ids: MessageIdGenerator::new(),
            limits: config.limits,
            sync_flush,
            scheduler: Arc::clone(&scheduler),
        });
        scheduler
            .start(Arc::downgrade(&broker))
            .map_err(CoreError::TimerThread)?;
        broker.arm_delays()?;
        broker.arm_transactions()?;
        // Recovered deliveries have deadlines: let every group look at them now.
        for group in broker.groups.all() {
            broker.arm_group(&group, now_ms());
        }
        Ok(broker)
    }

    /// The store underneath (for metrics and shutdown).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Installs the hook dedup filters plug into (see [`crate::dedup`]); replaces an
    /// earlier one.
    pub fn set_dedup_filter(&self, filter: Arc<dyn DedupFilter>) {
        self.dedup_filter.set(filter);
    }

    /// The dedup filters' hook, if installed.
    pub(crate) fn dedup_filter(&self) -> Option<Arc<dyn DedupFilter>> {
        self.dedup_filter.get()
    }

    /// Creates a topic with `queues` queues. Durable when it returns.
    pub async fn create_topic(&self, name: &str, queues: u32) -> Result<TopicConfig, CoreError> {
        let name = TopicName::parse(name)?;
        if queues == 0 || queues > self.limits.max_queues {
            return Err(CoreError::InvalidArgument(format!(
                "queues must be 1 to {}, got {queues}",
                self.limits.max_queues
            )));
        }
        let config = TopicConfig {
            name: name.as_str().to_string(),
            queues,
            created_ms: now_ms(),
        };
        self.topics.create(&self.store, config).await
    }

    /// All topics, sorted by name.
    pub fn list_topics(&self) -> Vec<TopicConfig> {
        self.topics.list()
    }

    /// A topic with the offset range of each queue.
    pub fn describe_topic(&self, name: &str) -> Result<TopicDescription, CoreError> {
        let topic = self.topic(name)?;
        let queues = (0..topic.config.queues)
            .map(|queue| {
                let range = self.store.queue_range(name, queue);
                QueueOffsets {
                    queue,
                    min_offset: range.min,
                    max_offset: range.max,
                }
            })
            .collect();
        Ok(TopicDescription {
            config: topic.config.clone(),
            queues,
        })
    }

    /// Deletes a topic and its consume queues. Its records leave the commitlog with
    /// retention. Durable when it returns.
    pub async fn delete_topic(&self, name: &str) -> Result<(), CoreError> {
        let removed = self.topics.delete(&self.store, name).await?;
        for group in &removed {
            self.groups.remove(&group.name);
        }
        // Checkpoint after the topic left the registry (so no send can still reach it) and
        // before its queues go, so that recovery never re-dispatches its records.
        let store = Arc::clone(&self.store);
        let topic = name.to_string();
        let mut doomed = vec![topic];
        for group in removed {
            doomed.push(crate::group::retry_topic(&group.name));
            doomed.push(crate::group::dlq_topic(&group.name));
        }
        tokio::task::spawn_blocking(move || {
            store.flush()?;
            doomed
                .iter()
                .try_for_each(|topic| store.delete_topic_queues(topic))
        })
        .await
        .map_err(CoreError::interrupted("deleting the topic's queues"))??;
        Ok(())
    }

    /// The message with this id.
    pub fn get_by_id(&self, id: &str) -> Result<StoredMessage, CoreError> {
        crate::message::validate_message_id(id)
            .map_err(|_| CoreError::MessageNotFound(id.to_string()))?;
        match self.store.lookup_id(id)? {
            Some(found) if self.topics.get(&found.topic).is_some() => Ok(found),
            _ => Err(CoreError::MessageNotFound(id.to_string())),
        }
    }

    /// Messages of `topic` carrying `key`, oldest first, at most `max`.
    pub fn get_by_key(
        &self,
        topic: &str,
        key: &str,
        max: usize,
    ) -> Result<Vec<StoredMessage>, CoreError> {
        self.topic(topic)?;
        let max = self.check_max(max)?;
        Ok(self.store.lookup_key(topic, key, max)?)
    }

    /// Up to `max` messages of one queue from `offset`.
    pub fn read(
        &self,
        topic: &str,
        queue: u32,
        offset: u64,
        max: usize,
    ) -> Result<ReadBatch, CoreError> {
        let live = self.topic(topic)?;
        if queue >= live.config.queues {
            return Err(CoreError::QueueNotFound {
                topic: topic.to_string(),
                queue,
            });
        }
        let max = self.check_max(max)?;
        let range = self.store.queue_range(topic, queue);
        if offset < range.min || offset > range.max {
            return Err(CoreError::OffsetOutOfRange {
                queue,
                offset,
                min: range.min,
                max: range.max,
            });
        }
        let messages = self.store.read_queue(topic, queue, offset, max)?;
        let next_offset = messages.last().map_or(offset, |m| m.queue_offset + 1);
        Ok(ReadBatch {
            messages,
            next_offset,
            max_offset: range.max.max(next_offset),
        })
    }

    /// Stops the timer thread, flushes everything and stops the store's threads.
    pub fn close(&self) -> Result<(), CoreError> {
        self.scheduler.stop();
        Ok(self.store.close()?)
    }

    pub(crate) fn topics(&self) -> &TopicRegistry {
        &self.topics
    }

    pub(crate) fn groups(&self) -> &Groups {
        &self.groups
    }

    pub(crate) fn ids(&self) -> &MessageIdGenerator {
        &self.ids
    }

    pub(crate) fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    pub(crate) fn delays(&self) -> &Delays {
        &self.delays
    }

    pub(crate) fn tx_state(&self) -> &Transactions {
        &self.transactions
    }

    pub(crate) fn me(&self) -> Option<Arc<Broker>> {
        self.me.upgrade()
    }

    /// The status of a send once the commitlog is durable through `end` per the flush
    /// policy.
    pub(crate) async fn durable_status(&self, end: u64) -> Result<SendStatus, CoreError> {
        match self.sync_flush {
            Some(timeout) if end > 0 => {
                match tokio::time::timeout(timeout, self.store.wait_durable(end)).await {
                    Ok(result) => result.map(|()| SendStatus::Ok).map_err(Into::into),
                    Err(_elapsed) => Ok(SendStatus::FlushDiskTimeout),
                }
            }
            _ => Ok(SendStatus::Ok),
        }
    }

    pub(crate) fn live_topic(&self, name: &str) -> Result<Arc<Topic>, CoreError> {
        self.topic(name)
    }

    /// Arms a group's timer for `deadline` unless something earlier is armed.
    pub(crate) fn arm_group(&self, group: &Arc<Group>, deadline: i64) {
        if group.needs_timer(deadline) {
            self.scheduler
                .add(deadline, crate::schedule::Timer::Group(Arc::clone(group)));
        }
    }

    /// In `sync` mode, waits (up to the flush timeout) until the commitlog is durable
    /// through `end`. State changes are applied either way; a timeout only means the
    /// answer went out before the fsync.
    pub(crate) async fn wait_durable(&self, end: u64) -> Result<(), CoreError> {
        if let Some(timeout) = self.sync_flush
            && end > 0
            && let Ok(result) = tokio::time::timeout(timeout, self.store.wait_durable(end)).await
        {
            result?;
        }
        Ok(())
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>, CoreError> {
        self.topics
            .get(name)
            .ok_or_else(|| CoreError::TopicNotFound(name.to_string()))
    }

    fn check_max(&self, max: usize) -> Result<usize, CoreError> {
        check_range("max", max, 1, self.limits.max_read_messages)
    }

    pub(crate) fn message_of(&self, draft: MessageDraft, now: i64) -> Message {
        let mut properties = draft.properties;
        if let Some(group) = draft.message_group {
            properties.push((MESSAGE_GROUP_PROPERTY.to_string(), group));
        }
        Message {
            id: draft.id.unwrap_or_else(|| self.ids.next_id(now)),
            keys: draft.keys,
            tag: draft.tag,
            properties,
            body: draft.body,
            born_ms: draft.born_ms.unwrap_or(now),
            flags: 0,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

//! Topics: validated names, their configuration, and the registry that keeps it (and the
//! consumer group configuration) durable.
//!
//! # Durability
//!
//! The registry writes the whole topic table as one JSON snapshot record to the system
//! topic [`CONFIG_TOPIC`] on every change, and fsyncs the store before the change is
//! applied and answered, whatever the broker's flush policy. On start it
//! reads back the newest snapshot. Topic tables are small (thousands of entries at most),
//! so a full snapshot per change keeps recovery trivial: the last record wins.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use weir_store::{SnapshotSlot, Store};

use crate::CoreError;
use crate::group::GroupConfig;
use crate::limits::{MAX_GROUPS, MAX_TOPIC_NAME_LEN};

/// The system topic holding topic-table snapshots. Names starting with `%` are reserved.
pub const CONFIG_TOPIC: &str = "%SYS%config";

/// A topic name that passed validation: 1 to 127 characters of `A-Z a-z 0-9 _ -`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicName(String);

impl TopicName {
    /// Validates a user-supplied topic name.
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        let reason = name_problem(name).or_else(|| {
            name.starts_with('%')
                .then_some("names starting with '%' are reserved for the broker")
        });
        match reason {
            Some(reason) => Err(CoreError::InvalidTopicName {
                name: name.to_string(),
                reason,
            }),
            None => Ok(Self(name.to_string())),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is wrong with a topic or group name, if anything: names are 1 to 127 characters
/// of `A-Z a-z 0-9 _ -`.
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.chars().count() > MAX_TOPIC_NAME_LEN {
        Some("it is longer than 127 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Some("only A-Z a-z 0-9 _ - are allowed")
    } else {
        None
    }
}

/// A topic's durable configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// The topic name.
    pub name: String,
    /// How many queues it has; messages spread over them.
    pub queues: u32,
    /// When it was created, ms since the epoch.
    pub created_ms: i64,
}

/// The stored offset range of one queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct QueueOffsets {
    /// The queue number.
    pub queue: u32,
    /// The oldest offset still stored.
    pub min_offset: u64,
    /// The offset the next message will get.
    pub max_offset: u64,
}

/// A topic with the state of each of its queues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicDescription {
    /// The configuration.
    pub config: TopicConfig,
    /// Per queue, the stored range.
    pub queues: Vec<QueueOffsets>,
}

impl TopicDescription {
    /// Messages stored across all queues.
    pub fn messages(&self) -> u64 {
        self.queues
            .iter()
            .map(|q| q.max_offset - q.min_offset)
            .sum()
    }
}

/// A live topic: its configuration and its round-robin cursor.
#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) config: TopicConfig,
    round_robin: AtomicU32,
}

impl Topic {
    /// The next queue in round-robin order.
    pub(crate) fn next_queue(&self) -> u32 {
        self.round_robin.fetch_add(1, Ordering::Relaxed) % self.config.queues.max(1)
    }

    /// The queue of a message stored ahead of its delivery (delayed or half): the pinned
    /// queue while the topic still has it, else by message group, else round robin.
    pub(crate) fn queue_for_stored(&self, message: &weir_store::Message, pinned: &str) -> u32 {
        use crate::message::{MESSAGE_GROUP_PROPERTY, group_queue, property};
        let queues = self.config.queues.max(1);
        match (
            property(message, pinned).and_then(|q| q.parse::<u32>().ok()),
            property(message, MESSAGE_GROUP_PROPERTY),
        ) {
            (Some(queue), _) if queue < queues => queue,
            (_, Some(group)) => group_queue(group, queues),
            _ => self.next_queue(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    topics: Vec<TopicConfig>,
    #[serde(default)]
    groups: Vec<GroupConfig>,
    #[serde(default)]
    producer_groups: Vec<ProducerGroupConfig>,
}

/// A producer group: where the broker asks about its transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerGroupConfig {
    /// The name producers give in `weir-producer-group`.
    pub name: String,
    /// Check-backs are POSTed here when set (`http://` only).
    pub callback_url: Option<String>,
    /// When it was created, ms since the epoch.
    pub created_ms: i64,
}

const SNAPSHOT_VERSION: u32 = 1;

/// The set of topics and consumer groups, durable through snapshot records in
/// [`CONFIG_TOPIC`].
#[derive(Debug)]
pub(crate) struct TopicRegistry {
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    groups: RwLock<BTreeMap<String, GroupConfig>>,
    producer_groups: RwLock<BTreeMap<String, ProducerGroupConfig>>,
    /// Serialises changes so that snapshots are written in the order they are applied.
    changes: tokio::sync::Mutex<()>,
    /// Commitlog position of the newest snapshot record (for retention).
    snapshot_position: AtomicU64,
}

impl TopicRegistry {
    /// Loads the newest snapshot from the store.
    pub(crate) fn load(store: &Store) -> Result<Self, CoreError> {
        let mut topics = BTreeMap::new();
        let mut groups = BTreeMap::new();
        let mut producer_groups = BTreeMap::new();
        let mut snapshot_position = 0;
        let newest = store.read_snapshot(
            SnapshotSlot::Queue {
                topic: CONFIG_TOPIC,
                queue: 0,
            },
            "topic configuration snapshot",
            |body| serde_json::from_slice::<Snapshot>(body),
        )?;
        if let Some(newest) = newest {
            snapshot_position = newest.position;
            let snapshot = newest.value;
            for config in snapshot.topics {
                topics.insert(config.name.clone(), Arc::new(live(config)));
            }
            for config in snapshot.groups {
                groups.insert(config.name.clone(), config);
            }
            for config in snapshot.producer_groups {
                producer_groups.insert(config.name.clone(), config);
            }
        }
        tracing::info!(
            topics = topics.len(),
            groups = groups.len(),
            "topic and group configuration loaded"
        );
        Ok(Self {
            topics: RwLock::new(topics),
            groups: RwLock::new(groups),
            producer_groups: RwLock::new(producer_groups),
            changes: tokio::sync::Mutex::new(()),
            snapshot_position: AtomicU64::new(snapshot_position),
        })
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    pub(crate) fn list(&self) -> Vec<TopicConfig> {
        self.topics
            .read()
            .values()
            .map(|t| t.config.clone())
            .collect()
    }

    pub(crate) fn snapshot_position(&self) -> u64 {
        self.snapshot_position.load(Ordering::Acquire)
    }

    /// Adds a topic; durable (fsynced) when this returns.
    pub(crate) async fn create(
        &self,
        store: &Arc<Store>,
        config: TopicConfig,
    ) -> Result<TopicConfig, CoreError> {
        let _change = self.changes.lock().await;
        if self.topics.read().contains_key(&config.name) {
            return Err(CoreError::TopicExists(config.name));
        }
        let mut next = self.list();
        next.push(config.clone());
        self.persist(store, next, self.list_groups()).await?;
        self.topics
            .write()
            .insert(config.name.clone(), Arc::new(live(config.clone())));
        Ok(config)
    }

    /// Removes a topic and its consumer groups; durable when this returns. Returns the
    /// groups removed.
    pub(crate) async fn delete(
        &self,
        store: &Arc<Store>,
        name: &str,
    ) -> Result<Vec<GroupConfig>, CoreError> {
        let _change = self.changes.lock().await;
        if !self.topics.read().contains_key(name) {
            return Err(CoreError::TopicNotFound(name.to_string()));
        }
        let next = self.list().into_iter().filter(|t| t.name != name).collect();
        let (removed, kept): (Vec<_>, Vec<_>) = self
            .list_groups()
            .into_iter()
            .partition(|g| g.topic == name);
        self.persist(store, next, kept).await?;
        self.topics.write().remove(name);
        let mut groups = self.groups.write();
        for group in &removed {
            groups.remove(&group.name);
        }
        Ok(removed)
    }

    /// Raises the queue count of a topic; durable when this returns.
    pub(crate) async fn set_queues(
        &self,
        store: &Arc<Store>,
        name: &str,
        queues: u32,
    ) -> Result<TopicConfig, CoreError> {
        let _change = self.changes.lock().await;
        let current = self
            .get(name)
            .ok_or_else(|| CoreError::TopicNotFound(name.to_string()))?;
        if queues < current.config.queues {
            return Err(CoreError::InvalidArgument(format!(
                "topic '{name}' has {} queues; queues can be added but not removed",
                current.config.queues
            )));
        }
        let mut config = current.config.clone();
        config.queues = queues;
        let next = self
            .list()
            .into_iter()
            .map(|t| if t.name == name { config.clone() } else { t })
            .collect();
        self.persist(store, next, self.list_groups()).await?;
        self.topics
            .write()
            .insert(name.to_string(), Arc::new(live(config.clone())));
        Ok(config)
    }

    /// All producer groups, sorted by name.
    pub(crate) fn list_producer_groups(&self) -> Vec<ProducerGroupConfig> {
        self.producer_groups.read().values().cloned().collect()
    }

    pub(crate) fn producer_group(&self, name: &str) -> Option<ProducerGroupConfig> {
        self.producer_groups.read().get(name).cloned()
    }

    /// Creates or replaces a producer group; durable when this returns.
    pub(crate) async fn put_producer_group(
        &self,
        store: &Arc<Store>,
        config: ProducerGroupConfig,
    ) -> Result<ProducerGroupConfig, CoreError> {
        let _change = self.changes.lock().await;
        let previous = self
            .producer_groups
            .write()
            .insert(config.name.clone(), config.clone());
        if let Err(err) = self.persist(store, self.list(), self.list_groups()).await {
            let mut groups = self.producer_groups.write();
            match previous {
                Some(previous) => groups.insert(config.name.clone(), previous),
                None => groups.remove(&config.name),
            };
            return Err(err);
        }
        Ok(config)
    }

    /// Removes a producer group; durable when this returns.
    pub(crate) async fn delete_producer_group(
        &self,
        store: &Arc<Store>,
        name: &str,
    ) -> Result<(), CoreError> {
        let _change = self.changes.lock().await;
        let Some(previous) = self.producer_groups.write().remove(name) else {
            return Err(CoreError::ProducerGroupNotFound(name.to_string()));
        };
        if let Err(err) = self.persist(store, self.list(), self.list_groups()).await {
            self.producer_groups
                .write()
                .insert(name.to_string(), previous);
            return Err(err);
        }
        Ok(())
    }

    /// All groups, sorted by name.
    pub(crate) fn list_groups(&self) -> Vec<GroupConfig> {
        self.groups.read().values().cloned().collect()
    }

    /// Adds a group; durable when this returns. `prepare` fills in what depends on the
    /// topic (start offsets) once the topic is known to exist.
    pub(crate) async fn create_group(
        &self,
        store: &Arc<Store>,
        mut config: GroupConfig,
        prepare: impl FnOnce(&mut GroupConfig, &TopicConfig),
    ) -> Result<GroupConfig, CoreError> {
        let _change = self.changes.lock().await;
        let topic = self
            .get(&config.topic)
            .ok_or_else(|| CoreError::TopicNotFound(config.topic.clone()))?;
        if self.groups.read().contains_key(&config.name) {
            return Err(CoreError::GroupExists(config.name));
        }
        if self.groups.read().len() >= MAX_GROUPS {
            return Err(CoreError::InvalidArgument(format!(
                "the broker has the maximum of {MAX_GROUPS} groups"
            )));
        }
        prepare(&mut config, &topic.config);
        let mut groups = self.list_groups();
        groups.push(config.clone());
        self.persist(store, self.list(), groups).await?;
        self.groups
            .write()
            .insert(config.name.clone(), config.clone());
        Ok(config)
    }

    /// Removes a group; durable when this returns.
    pub(crate) async fn delete_group(
        &self,
        store: &Arc<Store>,
        name: &str,
    ) -> Result<GroupConfig, CoreError> {
        let _change = self.changes.lock().await;
        let Some(removed) = self.groups.read().get(name).cloned() else {
            return Err(CoreError::GroupNotFound(name.to_string()));
        };
        let groups = self
            .list_groups()
            .into_iter()
            .filter(|g| g.name != name)
            .collect();
        self.persist(store, self.list(), groups).await?;
        self.groups.write().remove(name);
        Ok(removed)
    }

    /// Writes the current table again, so that its newest snapshot lives past `position`
    /// (used before retention deletes the segment holding it).
    pub(crate) async fn rewrite(&self, store: &Arc<Store>) -> Result<(), CoreError> {
        let _change = self.changes.lock().await;
        self.persist(store, self.list(), self.list_groups()).await
    }

    async fn persist(
        &self,
        store: &Arc<Store>,
        topics: Vec<TopicConfig>,
        groups: Vec<GroupConfig>,
    ) -> Result<(), CoreError> {
        let body = serde_json::to_vec(&Snapshot {
            version: SNAPSHOT_VERSION,
            topics,
            groups,
            producer_groups: self.producer_groups.read().values().cloned().collect(),
        })
        .map_err(|err| CoreError::InvalidArgument(format!("topic table: {err}")))?;
        let message = crate::schedule::ledger::system_message(Bytes::from(body));
        let outcome = store.append(CONFIG_TOPIC, &[(0, message)])?;
        // Configuration is fsynced now whatever the flush policy: an admin change must not
        // wait for (or be lost with) the async flush interval.
        let flushing = Arc::clone(store);
        tokio::task::spawn_blocking(move || flushing.flush())
            .await
            .map_err(CoreError::interrupted("flushing the topic table"))??;
        if let Some(appended) = outcome.appended.first() {
            self.snapshot_position
                .store(appended.position, Ordering::Release);
        }
        Ok(())
    }
}

fn live(config: TopicConfig) -> Topic {
    Topic {
        config,
        round_robin: AtomicU32::new(rand::random()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_validated() {
        assert!(TopicName::parse("orders").is_ok());
        assert!(TopicName::parse("orders-eu_1").is_ok());
        for bad in ["", "%SYS%config", "a/b", "a b", "é", &"x".repeat(128)] {
            assert!(TopicName::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(TopicName::parse(&"x".repeat(127)).is_ok());
    }
}

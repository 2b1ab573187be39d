//! Administration of consumer groups: create, list, describe, delete, and the topic
//! changes and snapshots that concern them.
//!
//! A group's configuration is durable in the topic table (see [`crate::topic`]) before
//! it is live here; a deleted group's retry and dead-letter queues go after it left the
//! table.

use std::sync::Arc;

use super::outcomes::{GroupCounters, GroupDescription};
use super::spec::{GroupConfig, GroupMode, GroupSpec, StartFrom};
use super::state::NEW_MEMBER;
use super::{dlq_topic, retry_topic};
use crate::broker::now_ms;
use crate::topic::TopicConfig;
use crate::{Broker, CoreError};

impl Broker {
    /// Creates a consumer group on an existing topic. Durable when it returns.
    pub async fn create_group(&self, spec: GroupSpec) -> Result<GroupConfig, CoreError> {
        let mut config = GroupConfig::from_spec(spec)?;
        config.created_ms = now_ms();
        config.incarnation = rand::random::<u64>() >> 1 | 1;
        let store = Arc::clone(self.store());
        let retry = retry_topic(&config.name);
        let config = self
            .topics()
            .create_group(self.store(), config, |config, topic| {
                config.start_offsets = (0..topic.queues)
                    .map(|queue| {
                        let range = store.queue_range(&topic.name, queue);
                        match config.from {
                            StartFrom::Latest => range.max,
                            StartFrom::Earliest => range.min,
                        }
                    })
                    .collect();
                config.retry_start = store.queue_range(&retry, 0).max;
            })
            .await?;
        self.groups().add(config.clone())?;
        Ok(config)
    }

    /// All groups (of one topic, if given), sorted by name.
    pub fn list_groups(&self, topic: Option<&str>) -> Vec<GroupConfig> {
        self.topics()
            .list_groups()
            .into_iter()
            .filter(|g| topic.is_none_or(|t| g.topic == t))
            .collect()
    }

    /// The topic a group consumes (cheap: no description is built).
    pub fn group_topic(&self, name: &str) -> Result<String, CoreError> {
        Ok(self.groups().get(name)?.config().topic.clone())
    }

    /// A group with its members, backlog and counters.
    pub fn describe_group(
        &self,
        name: &str,
        consumer: Option<&str>,
    ) -> Result<GroupDescription, CoreError> {
        let group = self.groups().get(name)?;
        let members = group.members();
        let member = match consumer.or(members.first().map(String::as_str)) {
            Some(name) => group.member_index(Some(name))?,
            None => group.member_index(None).unwrap_or(NEW_MEMBER),
        };
        let lag = self.lag_of(&group, member)?;
        let dlq = self.store().queue_range(&dlq_topic(name), 0);
        Ok(GroupDescription {
            config: group.config().clone(),
            members,
            lag,
            counters: group.counters(),
            dead_letters: dlq.max - dlq.min,
        })
    }

    /// Deletes a group with its retry and dead-letter queues. Durable when it returns.
    pub async fn delete_group(&self, name: &str) -> Result<(), CoreError> {
        self.topics().delete_group(self.store(), name).await?;
        self.groups().remove(name);
        let store = Arc::clone(self.store());
        let (retry, dlq) = (retry_topic(name), dlq_topic(name));
        tokio::task::spawn_blocking(move || {
            store.flush()?;
            store.delete_topic_queues(&retry)?;
            store.delete_topic_queues(&dlq)
        })
        .await
        .map_err(CoreError::interrupted("deleting the group's queues"))??;
        Ok(())
    }

    /// Adds queues to a topic (`queues` is the new total). Consumers pick them up at their
    /// next receive.
    pub async fn add_queues(&self, topic: &str, queues: u32) -> Result<TopicConfig, CoreError> {
        if queues == 0 || queues > self.limits().max_queues {
            return Err(CoreError::InvalidArgument(format!(
                "queues must be 1 to {}, got {queues}",
                self.limits().max_queues
            )));
        }
        self.topics().set_queues(self.store(), topic, queues).await
    }

    /// Per group: configuration, counters and total lag (summed over members in
    /// broadcasting mode).
    pub fn group_stats(&self) -> Vec<(GroupConfig, GroupCounters, u64)> {
        let mut stats: Vec<_> = self
            .groups()
            .all()
            .into_iter()
            .map(|group| {
                let members = match group.config().mode {
                    GroupMode::Clustering => vec![0],
                    GroupMode::Broadcasting => (0..group.members().len() as u32).collect(),
                };
                let lag = members
                    .into_iter()
                    .map(|m| self.lag_of(&group, m).map_or(0, |l| l.total))
                    .sum();
                (group.config().clone(), group.counters(), lag)
            })
            .collect();
        stats.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        stats
    }

    /// Writes snapshots of delivery state and of the schedule ledger, so that a restart
    /// replays less.
    pub async fn snapshot_state(&self) -> Result<(), CoreError> {
        self.groups().snapshot(self.store()).await?;
        self.delays().snapshot(self.store())?;
        self.tx_state().snapshot(self.store())?;
        Ok(())
    }
}

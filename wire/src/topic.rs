//! The JSON shapes of topics as the API answers them: a topic, its description with the
//! offset range of each queue, and the topic list.
//!
//! Owned types (descriptions are not on the data path); parsing tolerates unknown fields.

use serde::{Deserialize, Serialize};

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// The topic name.
    pub name: String,
    /// How many queues it has.
    pub queues: u32,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: i64,
}

/// A topic with the offset range of each of its queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDescription {
    /// The topic.
    #[serde(flatten)]
    pub topic: Topic,
    /// The offset range of each queue, by queue number.
    pub queue_offsets: Vec<QueueOffsets>,
    /// How many messages the queues hold in all.
    pub messages: u64,
}

impl std::ops::Deref for TopicDescription {
    type Target = Topic;

    fn deref(&self) -> &Topic {
        &self.topic
    }
}

/// The offsets of one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueOffsets {
    /// The queue number.
    pub queue: u32,
    /// The oldest offset still stored.
    pub min_offset: u64,
    /// The offset the next message will get.
    pub max_offset: u64,
}

impl QueueOffsets {
    /// How many messages the queue holds.
    pub fn messages(&self) -> u64 {
        self.max_offset.saturating_sub(self.min_offset)
    }
}

/// The topics, as `GET /v1/topics` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicList {
    /// Every topic, sorted by name.
    pub topics: Vec<Topic>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_decodes_the_documented_example_and_ignores_new_fields() {
        let description: TopicDescription = serde_json::from_str(
            r#"{"name":"orders","queues":2,"created_ms":1764000000000,
                "queue_offsets":[{"queue":0,"min_offset":0,"max_offset":10},
                                 {"queue":1,"min_offset":0,"max_offset":9,"paused":true}],
                "messages":19,"retention_ms":5}"#,
        )
        .unwrap();
        assert_eq!(description.name, "orders");
        assert_eq!(description.queue_offsets[1].messages(), 9);
        assert_eq!(description.messages, 19);
        let back = serde_json::to_value(&description).unwrap();
        assert_eq!(back["queues"], 2);
        assert!(back.get("retention_ms").is_none());
    }
}

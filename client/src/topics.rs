//! Topic administration: create, list, describe and delete, with their answer types.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::endpoint::encode_component;
use crate::{Client, ClientError};

/// A topic as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// The topic name.
    pub name: String,
    /// How many queues it has.
    pub queues: u32,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: u64,
}

/// A topic with the offset range of each of its queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDescription {
    /// The topic name.
    pub name: String,
    /// How many queues it has.
    pub queues: u32,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: u64,
    /// The offset range of each queue, by queue number.
    pub queue_offsets: Vec<QueueOffsets>,
    /// How many messages the queues hold in all.
    pub messages: u64,
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

#[derive(Serialize)]
struct CreateTopic<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    queues: Option<u32>,
}

#[derive(Deserialize)]
struct TopicList {
    topics: Vec<Topic>,
}

impl Client {
    /// Creates a topic with `queues` queues (1–1024; `None` takes the broker's default, 8).
    ///
    /// # Errors
    ///
    /// `TOPIC_EXISTS` (409) when it exists, `INVALID_TOPIC_NAME` or `INVALID_ARGUMENT` (400)
    /// for a bad name or queue count, as [`ClientError::Api`].
    pub async fn create_topic(
        &self,
        name: &str,
        queues: Option<u32>,
    ) -> Result<Topic, ClientError> {
        let request =
            self.json_request(Method::POST, "/v1/topics", &CreateTopic { name, queues })?;
        self.execute_json(request).await
    }

    /// Lists all topics, sorted by name.
    pub async fn list_topics(&self) -> Result<Vec<Topic>, ClientError> {
        let request = self.empty_request(Method::GET, "/v1/topics")?;
        Ok(self.execute_json::<TopicList>(request).await?.topics)
    }

    /// Describes a topic: its queues and their offset ranges.
    ///
    /// # Errors
    ///
    /// `TOPIC_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn describe_topic(&self, name: &str) -> Result<TopicDescription, ClientError> {
        let path = format!("/v1/topics/{}", encode_component(name));
        self.execute_json(self.empty_request(Method::GET, &path)?)
            .await
    }

    /// Deletes a topic. Its queues go at once; its records leave the log with retention.
    ///
    /// # Errors
    ///
    /// `TOPIC_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn delete_topic(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/v1/topics/{}", encode_component(name));
        self.execute(self.empty_request(Method::DELETE, &path)?)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_decodes_the_documented_example() {
        let description: TopicDescription = serde_json::from_str(
            r#"{"name":"orders","queues":2,"created_ms":1764000000000,
                "queue_offsets":[{"queue":0,"min_offset":0,"max_offset":10},
                                 {"queue":1,"min_offset":0,"max_offset":9}],
                "messages":19}"#,
        )
        .unwrap();
        assert_eq!(description.queue_offsets[1].messages(), 9);
        assert_eq!(description.messages, 19);
    }

    #[test]
    fn create_omits_the_queue_count_when_not_given() {
        let body = serde_json::to_string(&CreateTopic {
            name: "t",
            queues: None,
        })
        .unwrap();
        assert_eq!(body, r#"{"name":"t"}"#);
    }
}

//! Topic administration: create, list, describe and delete, with their answer types.

use http::Method;
use serde::Serialize;

use crate::endpoint::encode_component;
use crate::{Client, ClientError};

use weir_wire::topic::TopicList;
pub use weir_wire::topic::{QueueOffsets, Topic, TopicDescription};

#[derive(Serialize)]
struct CreateTopic<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    queues: Option<u32>,
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
    fn create_omits_the_queue_count_when_not_given() {
        let body = serde_json::to_string(&CreateTopic {
            name: "t",
            queues: None,
        })
        .unwrap();
        assert_eq!(body, r#"{"name":"t"}"#);
    }
}

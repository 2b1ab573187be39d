//! Reading messages (by id, by key, by queue offset) and the operational routes
//! (`/healthz`, `/metrics`, `/v1/openapi.json`).
//!
//! Reads of messages change nothing on the broker, so they are retried under the
//! client's [`RetryPolicy`](crate::RetryPolicy) like sends; the operational routes are
//! asked once (a health probe wants the first answer, not a patient one).

use http::Method;
use serde::{Deserialize, Serialize};

use weir_wire::message::Messages;

use crate::client::{Retried, decode_json};
use crate::endpoint::encode_component;
use crate::{Client, ClientError, Message};

/// The answer to a read by offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Messages<Message>", into = "Messages<Message>")]
pub struct ReadResult {
    /// The messages read, in offset order.
    pub messages: Vec<Message>,
    /// The offset to read from next.
    pub next_offset: u64,
    /// The offset the next message stored in the queue will get.
    pub max_offset: u64,
}

impl TryFrom<Messages<Message>> for ReadResult {
    type Error = &'static str;

    fn try_from(list: Messages<Message>) -> Result<ReadResult, &'static str> {
        Ok(ReadResult {
            messages: list.messages,
            next_offset: list
                .next_offset
                .ok_or("a read answer without \"next_offset\"")?,
            max_offset: list
                .max_offset
                .ok_or("a read answer without \"max_offset\"")?,
        })
    }
}

impl From<ReadResult> for Messages<Message> {
    fn from(result: ReadResult) -> Messages<Message> {
        Messages {
            messages: result.messages,
            next_offset: Some(result.next_offset),
            max_offset: Some(result.max_offset),
        }
    }
}

/// The broker's health, as `GET /healthz` reports it while healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` while the store accepts writes.
    pub status: String,
}

impl Client {
    /// The message with this id.
    ///
    /// # Errors
    ///
    /// `MESSAGE_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn get_message(&self, id: &str) -> Result<Message, ClientError> {
        let path = format!("/v1/messages/{}", encode_component(id));
        let tried = self
            .execute_retrying(&self.replayable_get(&path)?, Retried::Read)
            .await;
        decode_json(&tried.result?)
    }

    /// The messages of `topic` carrying `key`, oldest first; at most `max` (`None`: the
    /// broker's default, 32).
    pub async fn messages_by_key(
        &self,
        topic: &str,
        key: &str,
        max: Option<u32>,
    ) -> Result<Vec<Message>, ClientError> {
        let mut path = format!(
            "/v1/topics/{}/messages?key={}",
            encode_component(topic),
            encode_component(key)
        );
        if let Some(max) = max {
            path.push_str(&format!("&max={max}"));
        }
        let tried = self
            .execute_retrying(&self.replayable_get(&path)?, Retried::Read)
            .await;
        let list: Messages<Message> = decode_json(&tried.result?)?;
        Ok(list.messages)
    }

    /// Up to `max` (1–1000; `None`: 32) messages of queue `queue` of `topic` from `offset`.
    /// Reading at the queue's `max_offset` gives an empty list.
    ///
    /// # Errors
    ///
    /// `OFFSET_OUT_OF_RANGE` (400), `TOPIC_NOT_FOUND` or `QUEUE_NOT_FOUND` (404) as
    /// [`ClientError::Api`].
    pub async fn read_queue(
        &self,
        topic: &str,
        queue: u32,
        offset: u64,
        max: Option<u32>,
    ) -> Result<ReadResult, ClientError> {
        let mut path = format!(
            "/v1/topics/{}/queues/{queue}/messages?offset={offset}",
            encode_component(topic)
        );
        if let Some(max) = max {
            path.push_str(&format!("&max={max}"));
        }
        let mut request = self.replayable_get(&path)?;
        let mut probe = self.empty_request(Method::GET, &path)?;
        crate::message_list::accept(&mut probe);
        request.headers = probe.headers().clone();
        let tried = self.execute_retrying(&request, Retried::Read).await;
        let list = crate::message_list::decode(tried.result?)?;
        Ok(ReadResult {
            messages: list
                .messages
                .into_iter()
                .map(crate::message_list::into_message)
                .collect(),
            next_offset: list.next_offset,
            max_offset: list.max_offset,
        })
    }

    /// The broker's health.
    ///
    /// # Errors
    ///
    /// An unhealthy broker answers 503, given as [`ClientError::Api`] with its reason.
    pub async fn healthz(&self) -> Result<Health, ClientError> {
        self.execute_json(self.empty_request(Method::GET, "/healthz")?)
            .await
    }

    /// The broker's metrics in the Prometheus text format.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let (_, body) = self
            .execute(self.empty_request(Method::GET, "/metrics")?)
            .await?;
        String::from_utf8(body.to_vec())
            .map_err(|_| ClientError::Decode("the metrics are not UTF-8 text".into()))
    }

    /// The broker's OpenAPI 3 document.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.execute_json(self.empty_request(Method::GET, "/v1/openapi.json")?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_answer_decodes() {
        let result: ReadResult = serde_json::from_str(
            r#"{"messages":[{"id":"a","topic":"t","queue":1,"offset":5,"keys":[],"properties":{},
                "born_ms":1,"store_ms":2,"body":"x"}],"next_offset":6,"max_offset":9}"#,
        )
        .unwrap();
        assert_eq!(result.messages[0].offset, 5);
        assert_eq!(result.next_offset, 6);
    }
}

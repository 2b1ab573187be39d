//! Sending: one message (JSON or raw form) and batches (JSON or binary), with the answer
//! types of sends.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::decode_json;
use crate::endpoint::encode_component;
use crate::{Client, ClientError, EncodedBatch, OutgoingMessage};

/// The outcome the broker reports for a stored send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SendStatus {
    /// Stored (and flushed, when the broker runs with `flush = "sync"`).
    SendOk,
    /// Stored, but the synchronous fsync did not complete within the flush timeout: not
    /// yet known to be durable.
    FlushDiskTimeout,
    /// A status this client version does not know.
    #[serde(other)]
    Unknown,
}

/// The answer to a single send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResult {
    /// The message id (client-chosen or broker-assigned).
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The queue the message was stored in.
    pub queue: u32,
    /// Its offset in that queue.
    pub offset: u64,
    /// Whether it is known durable.
    pub status: SendStatus,
}

/// The answer to a batch send (all messages stored, or none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The topic.
    pub topic: String,
    /// Whether the batch is known durable.
    pub status: SendStatus,
    /// Where each message went, in the order sent.
    pub results: Vec<BatchEntry>,
}

/// Where one message of a batch was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchEntry {
    /// The message id.
    pub id: String,
    /// The queue.
    pub queue: u32,
    /// The offset in that queue.
    pub offset: u64,
}

impl Client {
    /// Sends one message in the JSON form (any body; attributes kept exactly).
    ///
    /// # Errors
    ///
    /// The broker's refusals (`TOPIC_NOT_FOUND`, `INVALID_QUEUE`, `BODY_TOO_LARGE`, ...) as
    /// [`ClientError::Api`].
    pub async fn send(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> Result<SendResult, ClientError> {
        let request = self.json_request(Method::POST, &messages_path(topic), message)?;
        self.execute_json(request).await
    }

    /// Sends one message in the raw form: the body as is, attributes as `weir-*` headers.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidMessage`] when an attribute cannot travel as a header (see
    /// [`Client::prepare_send`]); the broker's refusals as [`ClientError::Api`].
    pub async fn send_raw(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> Result<SendResult, ClientError> {
        let prepared = self.prepare_send(topic, message)?;
        let (_, body) = self.execute(prepared.request()).await?;
        decode_json(&body)
    }

    /// Sends many messages in one JSON request; all are stored or none.
    pub async fn send_batch(
        &self,
        topic: &str,
        messages: &[OutgoingMessage],
    ) -> Result<BatchResult, ClientError> {
        let request = self.json_request(Method::POST, &batch_path(topic), messages)?;
        self.execute_json(request).await
    }

    /// Sends many messages in one request in the binary batch format; all are stored or none.
    pub async fn send_batch_binary(
        &self,
        topic: &str,
        messages: &[OutgoingMessage],
    ) -> Result<BatchResult, ClientError> {
        self.send_encoded_batch(topic, &EncodedBatch::encode(messages)?)
            .await
    }

    /// Sends an already encoded binary batch.
    pub async fn send_encoded_batch(
        &self,
        topic: &str,
        batch: &EncodedBatch,
    ) -> Result<BatchResult, ClientError> {
        let prepared = self.prepare_batch(topic, batch)?;
        let (_, body) = self.execute(prepared.request()).await?;
        decode_json(&body)
    }
}

pub(crate) fn messages_path(topic: &str) -> String {
    format!("/v1/topics/{}/messages", encode_component(topic))
}

pub(crate) fn batch_path(topic: &str) -> String {
    format!("/v1/topics/{}/messages:batch", encode_component(topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answer_decodes() {
        let result: BatchResult = serde_json::from_str(
            r#"{"topic":"orders","status":"FLUSH_DISK_TIMEOUT","results":[{"id":"a","queue":3,"offset":41}]}"#,
        )
        .unwrap();
        assert_eq!(result.status, SendStatus::FlushDiskTimeout);
        assert_eq!(result.results[0].offset, 41);
    }
}

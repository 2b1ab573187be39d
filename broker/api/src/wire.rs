//! JSON shapes of the API, in one place, and their conversions from and to core types.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weir_core::message::MESSAGE_GROUP_PROPERTY;
use weir_core::topic::{QueueOffsets, TopicConfig, TopicDescription};
use weir_core::{MessageDraft, StoredMessage};

use crate::ApiError;

/// A topic as the API shows it.
#[derive(Serialize)]
pub(crate) struct TopicJson<'a> {
    name: &'a str,
    queues: u32,
    created_ms: i64,
}

impl<'a> From<&'a TopicConfig> for TopicJson<'a> {
    fn from(topic: &'a TopicConfig) -> Self {
        Self {
            name: &topic.name,
            queues: topic.queues,
            created_ms: topic.created_ms,
        }
    }
}

/// A topic with its queue ranges.
#[derive(Serialize)]
pub(crate) struct TopicDescriptionJson<'a> {
    #[serde(flatten)]
    topic: TopicJson<'a>,
    queue_offsets: &'a [QueueOffsets],
    messages: u64,
}

impl<'a> From<&'a TopicDescription> for TopicDescriptionJson<'a> {
    fn from(description: &'a TopicDescription) -> Self {
        Self {
            topic: TopicJson::from(&description.config),
            queue_offsets: &description.queues,
            messages: description.messages(),
        }
    }
}

/// A message to send, in JSON form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendJson {
    body: Option<String>,
    body_base64: Option<String>,
    id: Option<String>,
    #[serde(default)]
    keys: Vec<String>,
    tag: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    message_group: Option<String>,
    queue: Option<u32>,
    born_ms: Option<i64>,
}

impl SendJson {
    /// The draft this JSON describes.
    pub(crate) fn into_draft(self) -> Result<MessageDraft, ApiError> {
        let body = match (self.body, self.body_base64) {
            (Some(text), None) => Bytes::from(text),
            (None, Some(encoded)) => {
                Bytes::from(BASE64.decode(encoded.as_bytes()).map_err(|err| {
                    ApiError::invalid_argument(format!("body_base64 is not base64: {err}"))
                })?)
            }
            (None, None) => {
                return Err(ApiError::invalid_argument(
                    "a message needs \"body\" or \"body_base64\"",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_argument(
                    "give either \"body\" or \"body_base64\", not both",
                ));
            }
        };
        Ok(MessageDraft {
            id: self.id,
            keys: self.keys,
            tag: self.tag,
            properties: self.properties.into_iter().collect(),
            message_group: self.message_group,
            queue: self.queue,
            born_ms: self.born_ms,
            body,
        })
    }
}

/// A stored message as the API shows it.
#[derive(Serialize)]
pub(crate) struct MessageJson<'a> {
    id: &'a str,
    topic: &'a str,
    queue: u32,
    offset: u64,
    keys: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_group: Option<&'a str>,
    properties: BTreeMap<&'a str, &'a str>,
    born_ms: i64,
    store_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

impl<'a> From<&'a StoredMessage> for MessageJson<'a> {
    fn from(stored: &'a StoredMessage) -> Self {
        let message = &stored.message;
        let mut properties = BTreeMap::new();
        let mut message_group = None;
        for (name, value) in &message.properties {
            if name == MESSAGE_GROUP_PROPERTY {
                message_group = Some(value.as_str());
            } else {
                properties.insert(name.as_str(), value.as_str());
            }
        }
        let (body, body_base64) = match std::str::from_utf8(&message.body) {
            Ok(text) => (Some(text), None),
            Err(_) => (None, Some(BASE64.encode(&message.body))),
        };
        Self {
            id: &message.id,
            topic: &stored.topic,
            queue: stored.queue,
            offset: stored.queue_offset,
            keys: &message.keys,
            tag: message.tag.as_deref(),
            message_group,
            properties,
            born_ms: message.born_ms,
            store_ms: stored.store_ms,
            body,
            body_base64,
        }
    }
}

/// The answer to a single send.
#[derive(Serialize)]
pub(crate) struct SendResultJson<'a> {
    pub(crate) id: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) queue: u32,
    pub(crate) offset: u64,
    pub(crate) status: &'static str,
}

/// One message of a batch answer.
#[derive(Serialize)]
pub(crate) struct BatchItemJson<'a> {
    pub(crate) id: &'a str,
    pub(crate) queue: u32,
    pub(crate) offset: u64,
}

/// The answer to a batch send.
#[derive(Serialize)]
pub(crate) struct BatchResultJson<'a> {
    pub(crate) topic: &'a str,
    pub(crate) status: &'static str,
    pub(crate) results: Vec<BatchItemJson<'a>>,
}

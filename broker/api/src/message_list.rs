//! Answers in the binary message-list format (`application/vnd.weir.messages`, laid out
//! and encoded by `weir_wire::message_list`): reads by offset and receives, when the
//! request asks for it with `Accept: application/vnd.weir.messages`; without it the
//! answer is JSON. This module owns the mapping of stored messages and deliveries onto
//! the format: a message's group is its `MESSAGE_GROUP_PROPERTY`, not a property.

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use weir_core::message::MESSAGE_GROUP_PROPERTY;
use weir_core::{Delivery, StoredMessage};
use weir_wire::message_list::{self, CONTENT_TYPE, Entry};

use crate::ApiError;
use crate::app::HttpResponse;
use crate::response::ResponseBody;

/// Whether the request asks for the binary format.
pub(crate) fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(CONTENT_TYPE))
}

/// One stored message as the format lists it: read by offset, or delivered.
#[derive(Clone, Copy)]
struct Listed<'a> {
    id: &'a str,
    topic: &'a str,
    queue: u32,
    offset: u64,
    stored: &'a StoredMessage,
    delivery: Option<message_list::Delivery<'a>>,
}

impl<'a> Listed<'a> {
    fn read(stored: &'a StoredMessage) -> Self {
        Listed {
            id: &stored.message.id,
            topic: &stored.topic,
            queue: stored.queue,
            offset: stored.queue_offset,
            stored,
            delivery: None,
        }
    }

    fn delivered(d: &'a Delivery) -> Self {
        Listed {
            id: &d.id,
            topic: &d.topic,
            queue: d.queue,
            offset: d.offset,
            stored: &d.stored,
            delivery: Some(message_list::Delivery {
                receipt: &d.receipt,
                attempt: d.attempt,
                first_delivery_ms: d.first_delivery_ms,
                resent: d.resent,
            }),
        }
    }
}

impl Entry for Listed<'_> {
    fn id(&self) -> &str {
        self.id
    }

    fn topic(&self) -> &str {
        self.topic
    }

    fn queue(&self) -> u32 {
        self.queue
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn born_ms(&self) -> i64 {
        self.stored.message.born_ms
    }

    fn store_ms(&self) -> i64 {
        self.stored.store_ms
    }

    fn tag(&self) -> Option<&str> {
        self.stored.message.tag.as_deref()
    }

    fn message_group(&self) -> Option<&str> {
        self.stored
            .message
            .properties
            .iter()
            .find(|(n, _)| n == MESSAGE_GROUP_PROPERTY)
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.stored.message.keys.iter().map(String::as_str)
    }

    fn properties(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.stored
            .message
            .properties
            .iter()
            .filter(|(n, _)| n != MESSAGE_GROUP_PROPERTY)
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    fn body(&self) -> &[u8] {
        &self.stored.message.body
    }

    fn delivery(&self) -> Option<message_list::Delivery<'_>> {
        self.delivery
    }
}

/// The broker's limits keep every field within the format; a message that is not is a
/// bug, answered as an internal error rather than a corrupt list.
fn unencodable(err: message_list::EncodeError) -> ApiError {
    tracing::error!(%err, "a stored message does not fit the binary message list");
    ApiError::internal()
}

/// Encodes messages read by offset.
pub(crate) fn encode_read(
    messages: &[StoredMessage],
    next_offset: u64,
    max_offset: u64,
) -> Result<Bytes, ApiError> {
    message_list::encode(messages.iter().map(Listed::read), next_offset, max_offset)
        .map_err(unencodable)
}

/// Encodes received deliveries.
pub(crate) fn encode_deliveries(deliveries: &[Delivery]) -> Result<Bytes, ApiError> {
    message_list::encode(deliveries.iter().map(Listed::delivered), 0, 0).map_err(unencodable)
}

/// A `200` answer with an encoded list.
pub(crate) fn response(body: Bytes) -> HttpResponse {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_store::Message;

    #[test]
    fn a_read_is_laid_out_as_documented() {
        let stored = StoredMessage {
            topic: "t".into(),
            queue: 1,
            queue_offset: 7,
            position: 0,
            size: 0,
            store_ms: 5,
            message: Message {
                id: "abc".into(),
                keys: vec![],
                tag: None,
                properties: vec![(MESSAGE_GROUP_PROPERTY.into(), "g".into())],
                body: Bytes::from_static(b"hi"),
                born_ms: 4,
                flags: 0,
            },
        };
        let bytes = encode_read(&[stored], 8, 9).unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(b"WRM1");
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&8u64.to_le_bytes());
        expected.extend_from_slice(&9u64.to_le_bytes());
        expected.extend_from_slice(&3u16.to_le_bytes());
        expected.extend_from_slice(b"abc");
        expected.extend_from_slice(&1u16.to_le_bytes());
        expected.extend_from_slice(b"t");
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&4i64.to_le_bytes());
        expected.extend_from_slice(&5i64.to_le_bytes());
        expected.extend_from_slice(&0u16.to_le_bytes()); // no tag
        expected.extend_from_slice(&1u16.to_le_bytes());
        expected.extend_from_slice(b"g"); // the message group, not a property
        expected.extend_from_slice(&0u16.to_le_bytes()); // keys
        expected.extend_from_slice(&0u16.to_le_bytes()); // properties
        expected.extend_from_slice(&2u32.to_le_bytes());
        expected.extend_from_slice(b"hi");
        expected.extend_from_slice(&0u16.to_le_bytes()); // no receipt
        expected.extend_from_slice(&[0; 13]);
        assert_eq!(bytes.as_ref(), expected.as_slice());
    }
}

//! The binary message-list format (`application/vnd.weir.messages`): reads by offset and
//! receives answered without JSON's escaping and base64 costs. A client asks for it with
//! `Accept: application/vnd.weir.messages`; without it the answer is JSON.
//!
//! ```text
//! list     := magic "WRM1", count u32, next_offset u64, max_offset u64,
//!             message * count                                  (integers little-endian)
//! message  := id_len u16, id, topic_len u16, topic, queue u32, offset u64,
//!             born_ms i64, store_ms i64,
//!             tag_len u16, tag, group_len u16, group,
//!             key_count u16, (key_len u16, key) * key_count,
//!             prop_count u16, (name_len u16, name, value_len u32, value) * prop_count,
//!             body_len u32, body,
//!             receipt_len u16, receipt, attempt u32, first_delivery_ms i64, resent u8
//! ```
//!
//! A length of 0 means "absent" for tag, group and receipt. Reads carry no receipt
//! (length 0, attempt 0); receives carry next_offset and max_offset 0. Every length fits
//! its field by the broker's limits (ids, keys, tags, names ≤ 128 bytes, values ≤ 16 KiB,
//! bodies ≤ 4 MiB).

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Response, StatusCode};
use weir_core::message::MESSAGE_GROUP_PROPERTY;
use weir_core::{Delivery, StoredMessage};

use crate::app::HttpResponse;
use crate::response::ResponseBody;

/// The media type of the binary message-list format.
pub const CONTENT_TYPE: &str = "application/vnd.weir.messages";
/// The four bytes a list starts with.
pub const MAGIC: &[u8; 4] = b"WRM1";

/// Whether the request asks for the binary format.
pub(crate) fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(CONTENT_TYPE))
}

struct Receipt<'a> {
    receipt: &'a str,
    attempt: u32,
    first_delivery_ms: i64,
    resent: bool,
}

fn put_short(out: &mut BytesMut, text: &str) {
    out.put_u16_le(text.len() as u16);
    out.put_slice(text.as_bytes());
}

fn encoded_len(stored: &StoredMessage) -> usize {
    let m = &stored.message;
    96 + m.id.len()
        + stored.topic.len()
        + m.tag.as_ref().map_or(0, String::len)
        + m.keys.iter().map(|k| k.len() + 2).sum::<usize>()
        + m.properties
            .iter()
            .map(|(n, v)| n.len() + v.len() + 6)
            .sum::<usize>()
        + m.body.len()
}

fn put_message(
    out: &mut BytesMut,
    id: &str,
    topic: &str,
    queue: u32,
    offset: u64,
    stored: &StoredMessage,
    receipt: Option<Receipt<'_>>,
) {
    let m = &stored.message;
    put_short(out, id);
    put_short(out, topic);
    out.put_u32_le(queue);
    out.put_u64_le(offset);
    out.put_i64_le(m.born_ms);
    out.put_i64_le(stored.store_ms);
    put_short(out, m.tag.as_deref().unwrap_or(""));
    let group = m
        .properties
        .iter()
        .find(|(n, _)| n == MESSAGE_GROUP_PROPERTY)
        .map_or("", |(_, v)| v.as_str());
    put_short(out, group);
    out.put_u16_le(m.keys.len() as u16);
    for key in &m.keys {
        put_short(out, key);
    }
    let properties = m
        .properties
        .iter()
        .filter(|(n, _)| n != MESSAGE_GROUP_PROPERTY);
    out.put_u16_le(properties.clone().count() as u16);
    for (name, value) in properties {
        put_short(out, name);
        out.put_u32_le(value.len() as u32);
        out.put_slice(value.as_bytes());
    }
    out.put_u32_le(m.body.len() as u32);
    out.put_slice(&m.body);
    match receipt {
        Some(r) => {
            put_short(out, r.receipt);
            out.put_u32_le(r.attempt);
            out.put_i64_le(r.first_delivery_ms);
            out.put_u8(u8::from(r.resent));
        }
        None => {
            out.put_u16_le(0);
            out.put_u32_le(0);
            out.put_i64_le(0);
            out.put_u8(0);
        }
    }
}

fn header(count: usize, next_offset: u64, max_offset: u64, capacity: usize) -> BytesMut {
    let mut out = BytesMut::with_capacity(24 + capacity);
    out.put_slice(MAGIC);
    out.put_u32_le(count as u32);
    out.put_u64_le(next_offset);
    out.put_u64_le(max_offset);
    out
}

/// Encodes messages read by offset.
pub(crate) fn encode_read(messages: &[StoredMessage], next_offset: u64, max_offset: u64) -> Bytes {
    let capacity = messages.iter().map(encoded_len).sum();
    let mut out = header(messages.len(), next_offset, max_offset, capacity);
    for stored in messages {
        put_message(
            &mut out,
            &stored.message.id,
            &stored.topic,
            stored.queue,
            stored.queue_offset,
            stored,
            None,
        );
    }
    out.freeze()
}

/// Encodes received deliveries.
pub(crate) fn encode_deliveries(deliveries: &[Delivery]) -> Bytes {
    let capacity = deliveries
        .iter()
        .map(|d| encoded_len(&d.stored) + d.receipt.len())
        .sum();
    let mut out = header(deliveries.len(), 0, 0, capacity);
    for d in deliveries {
        put_message(
            &mut out,
            &d.id,
            &d.topic,
            d.queue,
            d.offset,
            &d.stored,
            Some(Receipt {
                receipt: &d.receipt,
                attempt: d.attempt,
                first_delivery_ms: d.first_delivery_ms,
                resent: d.resent,
            }),
        );
    }
    out.freeze()
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
        let bytes = encode_read(&[stored], 8, 9);
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

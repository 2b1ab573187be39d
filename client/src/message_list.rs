//! Decoding of the broker's binary message-list format (`application/vnd.weir.messages`),
//! which the client asks for on reads by offset and receives: bodies are sliced out of
//! the answer without copying, and nothing is JSON-escaped or base64-encoded on the way.
//! The layout is documented with the broker's encoder (`weir_api::frames`).

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use http::{HeaderValue, Request};
use http_body_util::Full;

use crate::{ClientError, Message, Received};

/// The media type of the binary message-list format.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.weir.messages";
const MAGIC: &[u8; 4] = b"WRM1";

/// Asks for the binary format.
pub(crate) fn accept(request: &mut Request<Full<Bytes>>) {
    request
        .headers_mut()
        .insert(http::header::ACCEPT, HeaderValue::from_static(CONTENT_TYPE));
}

/// One decoded entry: a message and, for receives, its delivery.
pub(crate) struct Entry {
    pub(crate) message: Message,
    pub(crate) message_group: Option<String>,
    pub(crate) receipt: String,
    pub(crate) attempt: u32,
    pub(crate) first_delivery_ms: i64,
    pub(crate) resent: bool,
}

impl Entry {
    pub(crate) fn into_received(self) -> Received {
        let m = self.message;
        Received {
            id: m.id,
            topic: m.topic,
            queue: m.queue,
            offset: m.offset,
            keys: m.keys,
            tag: m.tag,
            message_group: self.message_group,
            properties: m.properties,
            body: m.body,
            born_ms: m.born_ms,
            store_ms: m.store_ms,
            receipt: self.receipt,
            attempt: self.attempt,
            first_delivery_ms: self.first_delivery_ms,
            resent: self.resent,
        }
    }
}

/// A decoded list.
pub(crate) struct List {
    pub(crate) entries: Vec<Entry>,
    pub(crate) next_offset: u64,
    pub(crate) max_offset: u64,
}

fn malformed(what: &str) -> ClientError {
    ClientError::Decode(format!("binary message list: {what}"))
}

fn need(input: &Bytes, n: usize, what: &str) -> Result<(), ClientError> {
    if input.remaining() < n {
        return Err(malformed(&format!("truncated in {what}")));
    }
    Ok(())
}

fn text(input: &mut Bytes, len: usize, what: &str) -> Result<String, ClientError> {
    need(input, len, what)?;
    let bytes = input.split_to(len);
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed(&format!("{what} is not UTF-8")))
}

fn short(input: &mut Bytes, what: &str) -> Result<String, ClientError> {
    need(input, 2, what)?;
    let len = input.get_u16_le() as usize;
    text(input, len, what)
}

fn optional(input: &mut Bytes, what: &str) -> Result<Option<String>, ClientError> {
    let value = short(input, what)?;
    Ok((!value.is_empty()).then_some(value))
}

/// Decodes a list; any malformed input is an error, never a panic.
pub(crate) fn decode(mut input: Bytes) -> Result<List, ClientError> {
    need(&input, 24, "header")?;
    if &input[..4] != MAGIC {
        return Err(malformed("missing the WRM1 header"));
    }
    input.advance(4);
    let count = input.get_u32_le() as usize;
    let next_offset = input.get_u64_le();
    let max_offset = input.get_u64_le();
    let mut entries = Vec::with_capacity(count.min(input.remaining() / 64 + 1));
    for _ in 0..count {
        let id = short(&mut input, "id")?;
        let topic = short(&mut input, "topic")?;
        need(&input, 28, "position")?;
        let queue = input.get_u32_le();
        let offset = input.get_u64_le();
        let born_ms = input.get_i64_le().max(0) as u64;
        let store_ms = input.get_i64_le().max(0) as u64;
        let tag = optional(&mut input, "tag")?;
        let message_group = optional(&mut input, "message group")?;
        need(&input, 2, "keys")?;
        let key_count = input.get_u16_le();
        let keys = (0..key_count)
            .map(|_| short(&mut input, "key"))
            .collect::<Result<Vec<_>, _>>()?;
        need(&input, 2, "properties")?;
        let prop_count = input.get_u16_le();
        let mut properties = BTreeMap::new();
        for _ in 0..prop_count {
            let name = short(&mut input, "property name")?;
            need(&input, 4, "property value")?;
            let len = input.get_u32_le() as usize;
            properties.insert(name, text(&mut input, len, "property value")?);
        }
        need(&input, 4, "body")?;
        let len = input.get_u32_le() as usize;
        need(&input, len, "body")?;
        let body = input.split_to(len);
        let receipt = short(&mut input, "receipt")?;
        need(&input, 13, "delivery")?;
        let attempt = input.get_u32_le();
        let first_delivery_ms = input.get_i64_le();
        let resent = input.get_u8() != 0;
        entries.push(Entry {
            message: Message {
                id,
                topic,
                queue,
                offset,
                keys,
                tag,
                properties,
                born_ms,
                store_ms,
                body,
            },
            message_group,
            receipt,
            attempt,
            first_delivery_ms,
            resent,
        });
    }
    if input.has_remaining() {
        return Err(malformed("bytes after the last message"));
    }
    Ok(List {
        entries,
        next_offset,
        max_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};

    fn short(out: &mut BytesMut, text: &str) {
        out.put_u16_le(text.len() as u16);
        out.put_slice(text.as_bytes());
    }

    /// One received message, laid out as the broker encodes it.
    fn one_delivery() -> Bytes {
        let mut out = BytesMut::new();
        out.put_slice(MAGIC);
        out.put_u32_le(1);
        out.put_u64_le(0);
        out.put_u64_le(0);
        short(&mut out, "id-1");
        short(&mut out, "orders");
        out.put_u32_le(3);
        out.put_u64_le(42);
        out.put_i64_le(1000);
        out.put_i64_le(1001);
        short(&mut out, "created");
        short(&mut out, "");
        out.put_u16_le(1);
        short(&mut out, "k1");
        out.put_u16_le(1);
        short(&mut out, "p");
        out.put_u32_le(1);
        out.put_slice(b"v");
        out.put_u32_le(3);
        out.put_slice(b"\x00\xffx");
        short(&mut out, "receipt-1");
        out.put_u32_le(2);
        out.put_i64_le(999);
        out.put_u8(1);
        out.freeze()
    }

    #[test]
    fn a_delivery_decodes_with_every_field() {
        let list = decode(one_delivery()).unwrap();
        let received = list.entries.into_iter().next().unwrap().into_received();
        assert_eq!(
            (received.id.as_str(), received.topic.as_str()),
            ("id-1", "orders")
        );
        assert_eq!((received.queue, received.offset), (3, 42));
        assert_eq!((received.born_ms, received.store_ms), (1000, 1001));
        assert_eq!(received.tag.as_deref(), Some("created"));
        assert_eq!(received.message_group, None);
        assert_eq!(received.keys, vec!["k1"]);
        assert_eq!(received.properties.get("p").map(String::as_str), Some("v"));
        assert_eq!(received.body.as_ref(), b"\x00\xffx");
        assert_eq!(received.receipt, "receipt-1");
        assert_eq!((received.attempt, received.first_delivery_ms), (2, 999));
        assert!(received.resent);
    }

    #[test]
    fn truncated_or_padded_input_is_an_error_not_a_panic() {
        let bytes = one_delivery();
        for cut in 0..bytes.len() {
            assert!(decode(bytes.slice(..cut)).is_err(), "cut at {cut}");
        }
        let mut padded = BytesMut::from(&bytes[..]);
        padded.put_u8(0);
        assert!(decode(padded.freeze()).is_err());
    }
}

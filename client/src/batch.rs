//! The encoder of the binary batch format (`Content-Type: application/vnd.weir.batch`).
//!
//! This module owns the byte layout, documented in `docs/http-api.md`; it only encodes
//! (the broker decodes). All integers are little-endian, strings UTF-8, and a length of 0
//! means "absent":
//!
//! ```text
//! batch    := magic "WRB1" (4 bytes), count u32, message * count
//! message  := id_len u16, id bytes,
//!             tag_len u16, tag bytes,
//!             group_len u16, group bytes,
//!             queue u32           (0xFFFF_FFFF = let the broker choose),
//!             key_count u16, (key_len u16, key bytes) * key_count,
//!             prop_count u16, (name_len u16, name, value_len u32, value) * prop_count,
//!             body_len u32, body bytes
//! ```
//!
//! A message without an id is encoded without one (`id_len` 0), as given; when the batch
//! is sent, the client splices a fresh id into each such message
//! ([`EncodedBatch::with_ids`]), so that every send of the batch carries ids from its first
//! attempt on and a retry is answered from the stored copy. Sending the same encoded
//! batch twice is two sends, as before: each gets its own fresh ids.
//!
//! Encoding refuses what the layout cannot express (a field longer than its length
//! prefix) instead of truncating it; limits the broker sets on top (id length, key count,
//! body size) are the broker's to enforce.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::message_id::new_message_id;
use crate::{ClientError, OutgoingMessage};

/// The `Content-Type` of a binary batch body.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.weir.batch";

/// The four bytes every binary batch starts with.
pub const BATCH_MAGIC: &[u8; 4] = b"WRB1";

/// The `queue` value that lets the broker choose the queue.
pub const ANY_QUEUE: u32 = 0xFFFF_FFFF;

/// A batch already encoded in the binary format, ready to be sent any number of times.
///
/// Cloning is cheap (the bytes are shared), which is what a load generator wants: encode
/// once, send the same bytes on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBatch {
    bytes: Bytes,
    count: u32,
    body_bytes: u64,
    /// Where the `id_len` field of each message without an id is, in `bytes`.
    absent_ids: Arc<[usize]>,
    /// The id of the first message when it has one.
    first_id: Option<String>,
}

impl EncodedBatch {
    /// Encodes `messages` in the binary batch format.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidMessage`] when a string is longer than its u16 length prefix,
    /// a body or property value is over 4 GiB, a message has more than 65 535 keys or
    /// properties, a message pins queue `0xFFFF_FFFF`, a message is delayed (the format
    /// has no field for it), or there are more than `u32::MAX` messages.
    pub fn encode(messages: &[OutgoingMessage]) -> Result<EncodedBatch, ClientError> {
        let count = u32::try_from(messages.len())
            .map_err(|_| ClientError::InvalidMessage("too many messages for one batch".into()))?;
        let capacity = 8 + messages.iter().map(encoded_len).sum::<usize>();
        let mut buf = BytesMut::with_capacity(capacity);
        buf.put_slice(BATCH_MAGIC);
        buf.put_u32_le(count);
        let mut body_bytes = 0u64;
        let mut absent_ids = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            if message.id.is_none() {
                absent_ids.push(buf.len());
            }
            encode_message(&mut buf, message).map_err(|reason| {
                ClientError::InvalidMessage(format!("batch message {index}: {reason}"))
            })?;
            body_bytes += message.body.len() as u64;
        }
        Ok(EncodedBatch {
            bytes: buf.freeze(),
            count,
            body_bytes,
            absent_ids: absent_ids.into(),
            first_id: messages.first().and_then(|m| m.id.clone()),
        })
    }

    /// The bytes to send for one send of this batch, every message given an id: a fresh
    /// one spliced into each message encoded without one. Returns them with the first
    /// message's id.
    pub(crate) fn with_ids(&self) -> (Bytes, Option<String>) {
        if self.absent_ids.is_empty() {
            return (self.bytes.clone(), self.first_id.clone());
        }
        let id_len = new_message_id().len();
        let mut out = BytesMut::with_capacity(self.bytes.len() + self.absent_ids.len() * id_len);
        let mut first_id = self.first_id.clone();
        let mut copied = 0;
        for &at in self.absent_ids.iter() {
            out.put_slice(&self.bytes[copied..at]);
            let id = new_message_id();
            // Ids are 32 ASCII bytes, within the u16 length prefix.
            out.put_u16_le(id.len() as u16);
            out.put_slice(id.as_bytes());
            if first_id.is_none() && at == 8 {
                first_id = Some(id);
            }
            // Skip the absent id's `id_len` (0).
            copied = at + 2;
        }
        out.put_slice(&self.bytes[copied..]);
        (out.freeze(), first_id)
    }

    /// The encoded bytes, to be used as the request body.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// How many messages the batch holds.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The sum of the message body sizes (not counting attributes or framing).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }
}

/// The encoded size of one message, to size the buffer once.
fn encoded_len(message: &OutgoingMessage) -> usize {
    let strings = [&message.id, &message.tag, &message.message_group];
    2 * 3
        + strings
            .iter()
            .map(|s| s.as_deref().map_or(0, str::len))
            .sum::<usize>()
        + 4
        + 2
        + message.keys.iter().map(|k| 2 + k.len()).sum::<usize>()
        + 2
        + message
            .properties
            .iter()
            .map(|(n, v)| 2 + n.len() + 4 + v.len())
            .sum::<usize>()
        + 4
        + message.body.len()
}

fn encode_message(buf: &mut BytesMut, message: &OutgoingMessage) -> Result<(), String> {
    if message.delay.is_some() {
        return Err(
            "the binary batch format cannot carry a delay; send delayed messages \
                    as JSON (Client::send_batch)"
                .to_owned(),
        );
    }
    put_short_str(buf, "id", message.id.as_deref().unwrap_or(""))?;
    put_short_str(buf, "tag", message.tag.as_deref().unwrap_or(""))?;
    put_short_str(
        buf,
        "message group",
        message.message_group.as_deref().unwrap_or(""),
    )?;
    let queue = match message.queue {
        Some(ANY_QUEUE) => return Err(format!("queue {ANY_QUEUE} is reserved for 'any queue'")),
        Some(queue) => queue,
        None => ANY_QUEUE,
    };
    buf.put_u32_le(queue);
    buf.put_u16_le(count_u16("keys", message.keys.len())?);
    for key in &message.keys {
        put_short_str(buf, "key", key)?;
    }
    buf.put_u16_le(count_u16("properties", message.properties.len())?);
    for (name, value) in &message.properties {
        put_short_str(buf, "property name", name)?;
        put_long_bytes(buf, "property value", value.as_bytes())?;
    }
    put_long_bytes(buf, "body", &message.body)
}

fn count_u16(what: &str, count: usize) -> Result<u16, String> {
    u16::try_from(count).map_err(|_| format!("{count} {what} is more than the format's 65535"))
}

fn put_short_str(buf: &mut BytesMut, what: &str, value: &str) -> Result<(), String> {
    let len = u16::try_from(value.len()).map_err(|_| {
        format!(
            "{what} is {} bytes, more than the format's 65535",
            value.len()
        )
    })?;
    buf.put_u16_le(len);
    buf.put_slice(value.as_bytes());
    Ok(())
}

fn put_long_bytes(buf: &mut BytesMut, what: &str, value: &[u8]) -> Result<(), String> {
    let len = u32::try_from(value.len()).map_err(|_| {
        format!(
            "{what} is {} bytes, more than the format's 4 GiB",
            value.len()
        )
    })?;
    buf.put_u32_le(len);
    buf.put_slice(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_a_bare_message_is_exact() {
        let batch = EncodedBatch::encode(&[OutgoingMessage::new("hi")]).unwrap();
        let expected: &[u8] = &[
            b'W', b'R', b'B', b'1', // magic
            1, 0, 0, 0, // count
            0, 0, // id_len: absent
            0, 0, // tag_len: absent
            0, 0, // group_len: absent
            0xFF, 0xFF, 0xFF, 0xFF, // queue: broker chooses
            0, 0, // key_count
            0, 0, // prop_count
            2, 0, 0, 0, b'h', b'i', // body
        ];
        assert_eq!(batch.bytes().as_ref(), expected);
        assert_eq!(batch.count(), 1);
        assert_eq!(batch.body_bytes(), 2);
    }

    #[test]
    fn layout_of_a_full_message_is_exact() {
        let message = OutgoingMessage::new(vec![0u8, 1])
            .with_id("ID")
            .with_tag("t")
            .with_message_group("grp")
            .with_queue(258)
            .with_key("k1")
            .with_key("k")
            .with_property("b", "2")
            .with_property("a", "xy");
        let messages = [message, OutgoingMessage::new("")];
        let batch = EncodedBatch::encode(&messages).unwrap();
        let expected: &[u8] = &[
            b'W', b'R', b'B', b'1', 2, 0, 0, 0, // magic, count = 2
            2, 0, b'I', b'D', // id
            1, 0, b't', // tag
            3, 0, b'g', b'r', b'p', // group
            2, 1, 0, 0, // queue 258
            2, 0, 2, 0, b'k', b'1', 1, 0, b'k', // keys
            2, 0, // prop_count; properties in name order
            1, 0, b'a', 2, 0, 0, 0, b'x', b'y', //
            1, 0, b'b', 1, 0, 0, 0, b'2', //
            2, 0, 0, 0, 0, 1, // body
            0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, // empty message
        ];
        assert_eq!(batch.bytes().as_ref(), expected);
        let sized = 8 + messages.iter().map(encoded_len).sum::<usize>();
        assert_eq!(batch.bytes().len(), sized, "the buffer is sized exactly");
    }

    #[test]
    fn fields_too_long_for_the_format_are_refused() {
        let long_tag = OutgoingMessage::new("x").with_tag("t".repeat(70_000));
        let err = EncodedBatch::encode(&[OutgoingMessage::new("ok"), long_tag]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid message: batch message 1: tag is 70000 bytes, more than the format's 65535"
        );
        let reserved_queue = OutgoingMessage::new("x").with_queue(ANY_QUEUE);
        assert!(EncodedBatch::encode(&[reserved_queue]).is_err());
        let delayed = OutgoingMessage::new("x").with_delay_ms(10);
        let err = EncodedBatch::encode(&[delayed]).unwrap_err();
        assert!(err.to_string().contains("cannot carry a delay"), "{err}");
    }

    #[test]
    fn sends_splice_fresh_ids_into_messages_without_one() {
        let messages = [
            OutgoingMessage::new("a"),
            OutgoingMessage::new("b").with_id("mine"),
            OutgoingMessage::new("c"),
        ];
        let batch = EncodedBatch::encode(&messages).unwrap();
        let (first, first_id) = batch.with_ids();
        let (second, second_id) = batch.with_ids();
        let first_id = first_id.unwrap();
        assert_ne!(
            Some(first_id.clone()),
            second_id,
            "each send gets its own ids"
        );
        assert_eq!(first.len(), batch.bytes().len() + 2 * 32);
        // The same messages encoded with the ids the send chose give the same bytes.
        let id_at = |bytes: &Bytes, at: usize| String::from_utf8(bytes[at..at + 32].to_vec());
        let a_id = id_at(&first, 10).unwrap();
        assert_eq!(a_id, first_id);
        let c_at = 8 + (2 + 32 + 2 + 2 + 4 + 2 + 2 + 4 + 1) + (2 + 4 + 2 + 2 + 4 + 2 + 2 + 4 + 1);
        let c_id = id_at(&first, c_at + 2).unwrap();
        let expected = EncodedBatch::encode(&[
            OutgoingMessage::new("a").with_id(a_id),
            OutgoingMessage::new("b").with_id("mine"),
            OutgoingMessage::new("c").with_id(c_id),
        ])
        .unwrap();
        assert_eq!(&first, expected.bytes());
        assert_eq!(
            expected.with_ids().0,
            first,
            "a batch with every id is sent as is"
        );
        assert_eq!(second.len(), first.len());
    }

    #[test]
    fn empty_batch_encodes_to_its_header() {
        let batch = EncodedBatch::encode(&[]).unwrap();
        assert_eq!(batch.bytes().as_ref(), b"WRB1\0\0\0\0");
    }
}

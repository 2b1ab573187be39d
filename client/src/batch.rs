//! Binary batches (`Content-Type: application/vnd.weir.batch`) of outgoing messages,
//! encoded once and sent any number of times.
//!
//! The byte layout and its encoder are `weir_wire::batch`, shared with the broker's
//! decoder and documented in `docs/http-api.md`; this module owns what the client adds:
//! an [`OutgoingMessage`] as a batch entry, the refusal of delayed messages (the format
//! has no field for a delay), and fresh ids for each send.
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

use bytes::Bytes;
use weir_wire::batch::{self, BatchEncoder, EncodeError};

use crate::message_id::new_message_id;
use crate::{ClientError, OutgoingMessage};

/// The `Content-Type` of a binary batch body.
pub const BATCH_CONTENT_TYPE: &str = batch::CONTENT_TYPE;

/// The four bytes every binary batch starts with.
pub const BATCH_MAGIC: &[u8; 4] = batch::MAGIC;

/// The `queue` value that lets the broker choose the queue.
pub const ANY_QUEUE: u32 = batch::ANY_QUEUE;

/// A batch already encoded in the binary format, ready to be sent any number of times.
///
/// Cloning is cheap (the bytes are shared), which is what a load generator wants: encode
/// once, send the same bytes on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBatch {
    bytes: Bytes,
    count: u32,
    body_bytes: u64,
    /// Where each message without an id starts, in `bytes`.
    absent_ids: Arc<[usize]>,
    /// The id of the first message when it has one.
    first_id: Option<String>,
}

impl batch::Entry for OutgoingMessage {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    fn message_group(&self) -> Option<&str> {
        self.message_group.as_deref()
    }

    fn queue(&self) -> Option<u32> {
        self.queue
    }

    fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.keys.iter().map(String::as_str)
    }

    /// In name order: the client keeps properties in a map.
    fn properties(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.properties
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    fn body(&self) -> &[u8] {
        &self.body
    }
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
        if messages.len() > batch::MAX_MESSAGES {
            return Err(ClientError::InvalidMessage(
                EncodeError::TooManyMessages.to_string(),
            ));
        }
        let capacity = messages.iter().map(batch::encoded_len).sum();
        let mut encoder = BatchEncoder::with_capacity(capacity);
        let mut body_bytes = 0u64;
        for (index, message) in messages.iter().enumerate() {
            let refused = |reason: &dyn std::fmt::Display| {
                ClientError::InvalidMessage(format!("batch message {index}: {reason}"))
            };
            if message.delay.is_some() {
                return Err(refused(
                    &"the binary batch format cannot carry a delay; send delayed messages                       as JSON (Client::send_batch)",
                ));
            }
            encoder.push(message).map_err(|err| refused(&err))?;
            body_bytes += message.body.len() as u64;
        }
        let encoded = encoder.finish();
        Ok(EncodedBatch {
            bytes: encoded.bytes,
            count: encoded.count,
            body_bytes,
            absent_ids: encoded.missing_ids.into(),
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
        let ids: Vec<String> = self.absent_ids.iter().map(|_| new_message_id()).collect();
        let first_id = match self.absent_ids.first() {
            Some(&batch::HEADER_LEN) if self.first_id.is_none() => Some(ids[0].clone()),
            _ => self.first_id.clone(),
        };
        let bytes = batch::fill_ids(&self.bytes, &self.absent_ids, &ids)
            .expect("message ids are 32 ASCII bytes, within the u16 length prefix");
        (bytes, first_id)
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
        let sized = 8 + messages.iter().map(batch::encoded_len).sum::<usize>();
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

//! The binary message-list format (`application/vnd.weir.messages`): reads by offset and
//! receives answered without JSON's escaping and base64 costs. A client asks for it with
//! `Accept: application/vnd.weir.messages`; without it the answer is JSON. This module
//! owns the byte layout, documented in `docs/http-api.md`, and both its encoder (the
//! broker's) and its decoder (the client's), so that the two cannot disagree.
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
//! Strings are UTF-8; a length of 0 means "absent" for tag, group and receipt. Reads carry
//! no receipt (length 0, attempt 0); receives carry next_offset and max_offset 0. The
//! broker's limits keep every length within its field (ids, keys, tags, names ≤ 128
//! bytes, values ≤ 16 KiB, bodies ≤ 4 MiB); the encoder refuses what does not fit rather
//! than truncate it. Decoding is total: any input either decodes or yields a
//! [`DecodeError`], never a panic, and memory is reserved only for what the input holds.
//! Bodies are sliced out of the input without copying.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::fields::{self, FieldError};

/// The media type of the binary message-list format.
pub const CONTENT_TYPE: &str = "application/vnd.weir.messages";
/// The four bytes a list starts with.
pub const MAGIC: &[u8; 4] = b"WRM1";
/// The length of the list header (magic, count, next_offset, max_offset).
pub const HEADER_LEN: usize = 4 + 4 + 8 + 8;
/// The most messages a list can hold (its count is a u32).
pub const MAX_MESSAGES: usize = u32::MAX as usize;
/// The longest id, topic, tag, message group, key, property name or receipt (a u16
/// length prefix).
pub const MAX_SHORT_LEN: usize = u16::MAX as usize;
/// The longest property value or body (a u32 length prefix).
pub const MAX_LONG_LEN: usize = u32::MAX as usize;
/// The most keys, or properties, one message can carry (a u16 count).
pub const MAX_FIELD_COUNT: usize = u16::MAX as usize;
/// The fewest bytes a message takes (every string empty, no keys, properties or body).
pub const MIN_MESSAGE_LEN: usize = 2 + 2 + 4 + 8 + 8 + 8 + 2 + 2 + 2 + 2 + 4 + 2 + 4 + 8 + 1;

/// The fixed-size fields after the topic: queue, offset, born_ms, store_ms.
const POSITION_LEN: usize = 4 + 8 + 8 + 8;
/// The fixed-size fields after the receipt: attempt, first_delivery_ms, resent.
const DELIVERY_LEN: usize = 4 + 8 + 1;
/// Keys or properties reserved for up front, whatever a message's count claims.
const RESERVED_FIELDS: usize = 64;

/// A received message's delivery, as the encoder writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'a> {
    /// The receipt handle.
    pub receipt: &'a str,
    /// Which delivery this is, from 1.
    pub attempt: u32,
    /// When the message was first delivered to the group, in ms since the Unix epoch.
    pub first_delivery_ms: i64,
    /// Whether this is a dead letter resent to the group.
    pub resent: bool,
}

/// A message as the encoder reads it: the broker's stored message or delivery, or a
/// decoded one.
pub trait Entry {
    /// The message id.
    fn id(&self) -> &str;
    /// The topic.
    fn topic(&self) -> &str;
    /// The queue.
    fn queue(&self) -> u32;
    /// The offset in the queue.
    fn offset(&self) -> u64;
    /// When the producer's request reached the broker, in ms since the Unix epoch.
    fn born_ms(&self) -> i64;
    /// When the broker stored it, in ms since the Unix epoch.
    fn store_ms(&self) -> i64;
    /// The tag.
    fn tag(&self) -> Option<&str>;
    /// The message group.
    fn message_group(&self) -> Option<&str>;
    /// The business keys, in order.
    fn keys(&self) -> impl ExactSizeIterator<Item = &str>;
    /// The user properties, in the order they are written (iterated twice: counted, then
    /// written).
    fn properties(&self) -> impl Iterator<Item = (&str, &str)> + Clone;
    /// The body.
    fn body(&self) -> &[u8];
    /// The delivery of a received message; `None` for a read.
    fn delivery(&self) -> Option<Delivery<'_>>;
}

impl<T: Entry + ?Sized> Entry for &T {
    fn id(&self) -> &str {
        (**self).id()
    }

    fn topic(&self) -> &str {
        (**self).topic()
    }

    fn queue(&self) -> u32 {
        (**self).queue()
    }

    fn offset(&self) -> u64 {
        (**self).offset()
    }

    fn born_ms(&self) -> i64 {
        (**self).born_ms()
    }

    fn store_ms(&self) -> i64 {
        (**self).store_ms()
    }

    fn tag(&self) -> Option<&str> {
        (**self).tag()
    }

    fn message_group(&self) -> Option<&str> {
        (**self).message_group()
    }

    fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        (**self).keys()
    }

    fn properties(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        (**self).properties()
    }

    fn body(&self) -> &[u8] {
        (**self).body()
    }

    fn delivery(&self) -> Option<Delivery<'_>> {
        (**self).delivery()
    }
}

/// A decoded message with its delivery fields (empty receipt and zeros for a read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The message id.
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The queue.
    pub queue: u32,
    /// The offset in the queue.
    pub offset: u64,
    /// When the producer's request reached the broker, in ms since the Unix epoch.
    pub born_ms: i64,
    /// When the broker stored it, in ms since the Unix epoch.
    pub store_ms: i64,
    /// The tag; `None` when absent (length 0).
    pub tag: Option<String>,
    /// The message group; `None` when absent.
    pub message_group: Option<String>,
    /// The business keys, in order.
    pub keys: Vec<String>,
    /// The user properties, in the order they were written.
    pub properties: Vec<(String, String)>,
    /// The body, a slice of the decoded input.
    pub body: Bytes,
    /// The receipt handle; empty for a read.
    pub receipt: String,
    /// Which delivery this is, from 1; 0 for a read.
    pub attempt: u32,
    /// When the message was first delivered to the group; 0 for a read.
    pub first_delivery_ms: i64,
    /// Whether this is a dead letter resent to the group.
    pub resent: bool,
}

impl Entry for Message {
    fn id(&self) -> &str {
        &self.id
    }

    fn topic(&self) -> &str {
        &self.topic
    }

    fn queue(&self) -> u32 {
        self.queue
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn born_ms(&self) -> i64 {
        self.born_ms
    }

    fn store_ms(&self) -> i64 {
        self.store_ms
    }

    fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    fn message_group(&self) -> Option<&str> {
        self.message_group.as_deref()
    }

    fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.keys.iter().map(String::as_str)
    }

    fn properties(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.properties
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    fn body(&self) -> &[u8] {
        &self.body
    }

    fn delivery(&self) -> Option<Delivery<'_>> {
        Some(Delivery {
            receipt: &self.receipt,
            attempt: self.attempt,
            first_delivery_ms: self.first_delivery_ms,
            resent: self.resent,
        })
    }
}

/// A decoded list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    /// The messages, in order.
    pub messages: Vec<Message>,
    /// Where a read continues; 0 for receives.
    pub next_offset: u64,
    /// The queue's end at the time of a read; 0 for receives.
    pub max_offset: u64,
}

/// Why a list could not be encoded: the layout cannot express a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// More than [`MAX_MESSAGES`] messages.
    #[error("too many messages for one list")]
    TooManyMessages,
    /// A field too large for its length or count prefix.
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// Why a list could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not starting with [`MAGIC`].
    #[error("binary message list: missing the WRM1 header")]
    MissingHeader,
    /// The input ends inside the header or a message.
    #[error("binary message list: truncated in {0}")]
    Truncated(&'static str),
    /// A string field is not UTF-8.
    #[error("binary message list: {0} is not UTF-8")]
    NotUtf8(&'static str),
    /// Bytes follow the last message the count announced.
    #[error("binary message list: bytes after the last message")]
    TrailingBytes,
}

/// The encoded size of one message, to size the buffer once.
pub fn encoded_len(entry: &impl Entry) -> usize {
    let short = |s: Option<&str>| 2 + s.map_or(0, str::len);
    short(Some(entry.id()))
        + short(Some(entry.topic()))
        + POSITION_LEN
        + short(entry.tag())
        + short(entry.message_group())
        + 2
        + entry.keys().map(|k| 2 + k.len()).sum::<usize>()
        + 2
        + entry
            .properties()
            .map(|(n, v)| 2 + n.len() + 4 + v.len())
            .sum::<usize>()
        + 4
        + entry.body().len()
        + short(entry.delivery().map(|d| d.receipt))
        + DELIVERY_LEN
}

/// Encodes a list of `entries`; `next_offset` and `max_offset` are a read's (0 for
/// receives).
///
/// # Errors
///
/// [`EncodeError`] when the layout cannot express an entry (which the broker's limits
/// rule out), or there are more than [`MAX_MESSAGES`].
pub fn encode<E: Entry>(
    entries: impl ExactSizeIterator<Item = E> + Clone,
    next_offset: u64,
    max_offset: u64,
) -> Result<Bytes, EncodeError> {
    let count = u32::try_from(entries.len()).map_err(|_| EncodeError::TooManyMessages)?;
    let capacity = entries.clone().map(|e| encoded_len(&e)).sum::<usize>();
    let mut out = BytesMut::with_capacity(HEADER_LEN + capacity);
    out.put_slice(MAGIC);
    out.put_u32_le(count);
    out.put_u64_le(next_offset);
    out.put_u64_le(max_offset);
    for entry in entries {
        put_message(&mut out, &entry)?;
    }
    Ok(out.freeze())
}

fn put_message(out: &mut BytesMut, entry: &impl Entry) -> Result<(), EncodeError> {
    fields::put_short(out, "id", entry.id())?;
    fields::put_short(out, "topic", entry.topic())?;
    out.put_u32_le(entry.queue());
    out.put_u64_le(entry.offset());
    out.put_i64_le(entry.born_ms());
    out.put_i64_le(entry.store_ms());
    fields::put_short(out, "tag", entry.tag().unwrap_or(""))?;
    fields::put_short(out, "message group", entry.message_group().unwrap_or(""))?;
    let keys = entry.keys();
    out.put_u16_le(fields::count("keys", keys.len())?);
    for key in keys {
        fields::put_short(out, "key", key)?;
    }
    let properties = entry.properties();
    out.put_u16_le(fields::count("properties", properties.clone().count())?);
    for (name, value) in properties {
        fields::put_short(out, "property name", name)?;
        fields::put_long(out, "property value", value.as_bytes())?;
    }
    fields::put_long(out, "body", entry.body())?;
    match entry.delivery() {
        Some(d) => {
            fields::put_short(out, "receipt", d.receipt)?;
            out.put_u32_le(d.attempt);
            out.put_i64_le(d.first_delivery_ms);
            out.put_u8(u8::from(d.resent));
        }
        None => {
            out.put_u16_le(0);
            out.put_u32_le(0);
            out.put_i64_le(0);
            out.put_u8(0);
        }
    }
    Ok(())
}

/// Decodes a list.
///
/// # Errors
///
/// [`DecodeError`] for any input that is not exactly one list.
pub fn decode(mut input: Bytes) -> Result<List, DecodeError> {
    need(&input, HEADER_LEN, "header")?;
    if input[..4] != MAGIC[..] {
        return Err(DecodeError::MissingHeader);
    }
    input.advance(4);
    let count = input.get_u32_le() as usize;
    let next_offset = input.get_u64_le();
    let max_offset = input.get_u64_le();
    // Reserve only what the body can hold: a count is a claim until the messages are read.
    let mut messages = Vec::with_capacity(count.min(input.remaining() / MIN_MESSAGE_LEN));
    for _ in 0..count {
        messages.push(decode_message(&mut input)?);
    }
    if input.has_remaining() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(List {
        messages,
        next_offset,
        max_offset,
    })
}

fn decode_message(input: &mut Bytes) -> Result<Message, DecodeError> {
    let id = short(input, "id")?;
    let topic = short(input, "topic")?;
    need(input, POSITION_LEN, "position")?;
    let queue = input.get_u32_le();
    let offset = input.get_u64_le();
    let born_ms = input.get_i64_le();
    let store_ms = input.get_i64_le();
    let tag = optional(input, "tag")?;
    let message_group = optional(input, "message group")?;
    need(input, 2, "keys")?;
    let key_count = input.get_u16_le();
    let mut keys = Vec::with_capacity(usize::from(key_count).min(RESERVED_FIELDS));
    for _ in 0..key_count {
        keys.push(short(input, "key")?);
    }
    need(input, 2, "properties")?;
    let prop_count = input.get_u16_le();
    let mut properties = Vec::with_capacity(usize::from(prop_count).min(RESERVED_FIELDS));
    for _ in 0..prop_count {
        let name = short(input, "property name")?;
        need(input, 4, "property value")?;
        let len = input.get_u32_le() as usize;
        properties.push((name, text(input, len, "property value")?));
    }
    need(input, 4, "body")?;
    let len = input.get_u32_le() as usize;
    need(input, len, "body")?;
    let body = input.split_to(len);
    let receipt = short(input, "receipt")?;
    need(input, DELIVERY_LEN, "delivery")?;
    let attempt = input.get_u32_le();
    let first_delivery_ms = input.get_i64_le();
    let resent = input.get_u8() != 0;
    Ok(Message {
        id,
        topic,
        queue,
        offset,
        born_ms,
        store_ms,
        tag,
        message_group,
        keys,
        properties,
        body,
        receipt,
        attempt,
        first_delivery_ms,
        resent,
    })
}

fn need(input: &Bytes, n: usize, field: &'static str) -> Result<(), DecodeError> {
    if input.remaining() < n {
        return Err(DecodeError::Truncated(field));
    }
    Ok(())
}

fn text(input: &mut Bytes, len: usize, field: &'static str) -> Result<String, DecodeError> {
    need(input, len, field)?;
    // Validated in place, then copied once: a `String` owns its bytes.
    let text = std::str::from_utf8(&input[..len])
        .map_err(|_| DecodeError::NotUtf8(field))?
        .to_owned();
    input.advance(len);
    Ok(text)
}

fn short(input: &mut Bytes, field: &'static str) -> Result<String, DecodeError> {
    need(input, 2, field)?;
    let len = usize::from(input.get_u16_le());
    text(input, len, field)
}

fn optional(input: &mut Bytes, field: &'static str) -> Result<Option<String>, DecodeError> {
    let value = short(input, field)?;
    Ok((!value.is_empty()).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use proptest::prelude::*;

    fn put_short(out: &mut BytesMut, text: &str) {
        out.put_u16_le(text.len() as u16);
        out.put_slice(text.as_bytes());
    }

    /// One received message, laid out field by field as the format documents it.
    fn one_delivery() -> Bytes {
        let mut out = BytesMut::new();
        out.put_slice(MAGIC);
        out.put_u32_le(1);
        out.put_u64_le(0);
        out.put_u64_le(0);
        put_short(&mut out, "id-1");
        put_short(&mut out, "orders");
        out.put_u32_le(3);
        out.put_u64_le(42);
        out.put_i64_le(1000);
        out.put_i64_le(1001);
        put_short(&mut out, "created");
        put_short(&mut out, "");
        out.put_u16_le(1);
        put_short(&mut out, "k1");
        out.put_u16_le(1);
        put_short(&mut out, "p");
        out.put_u32_le(1);
        out.put_slice(b"v");
        out.put_u32_le(3);
        out.put_slice(b"\x00\xffx");
        put_short(&mut out, "receipt-1");
        out.put_u32_le(2);
        out.put_i64_le(999);
        out.put_u8(1);
        out.freeze()
    }

    fn the_delivery() -> Message {
        Message {
            id: "id-1".into(),
            topic: "orders".into(),
            queue: 3,
            offset: 42,
            born_ms: 1000,
            store_ms: 1001,
            tag: Some("created".into()),
            message_group: None,
            keys: vec!["k1".into()],
            properties: vec![("p".into(), "v".into())],
            body: Bytes::from_static(b"\x00\xffx"),
            receipt: "receipt-1".into(),
            attempt: 2,
            first_delivery_ms: 999,
            resent: true,
        }
    }

    #[test]
    fn a_delivery_decodes_with_every_field() {
        let list = decode(one_delivery()).unwrap();
        assert_eq!((list.next_offset, list.max_offset), (0, 0));
        assert_eq!(list.messages, vec![the_delivery()]);
    }

    #[test]
    fn a_delivery_encodes_as_documented() {
        let bytes = encode([the_delivery()].iter(), 0, 0).unwrap();
        assert_eq!(bytes, one_delivery());
    }

    /// A read of `message`: no delivery.
    #[derive(Clone)]
    struct Read<'a>(&'a Message);

    impl Entry for Read<'_> {
        fn id(&self) -> &str {
            self.0.id()
        }
        fn topic(&self) -> &str {
            self.0.topic()
        }
        fn queue(&self) -> u32 {
            self.0.queue
        }
        fn offset(&self) -> u64 {
            self.0.offset
        }
        fn born_ms(&self) -> i64 {
            self.0.born_ms
        }
        fn store_ms(&self) -> i64 {
            self.0.store_ms
        }
        fn tag(&self) -> Option<&str> {
            self.0.tag()
        }
        fn message_group(&self) -> Option<&str> {
            self.0.message_group()
        }
        fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
            self.0.keys()
        }
        fn properties(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
            self.0.properties()
        }
        fn body(&self) -> &[u8] {
            self.0.body()
        }
        fn delivery(&self) -> Option<Delivery<'_>> {
            None
        }
    }

    #[test]
    fn a_read_carries_an_empty_delivery() {
        let message = the_delivery();
        let bytes = encode(std::iter::once(Read(&message)), 8, 9).unwrap();
        let list = decode(bytes.clone()).unwrap();
        assert_eq!((list.next_offset, list.max_offset), (8, 9));
        let expected = Message {
            receipt: String::new(),
            attempt: 0,
            first_delivery_ms: 0,
            resent: false,
            ..message.clone()
        };
        assert_eq!(list.messages, vec![expected]);
        assert_eq!(bytes.len(), HEADER_LEN + encoded_len(&Read(&message)));
        assert_eq!(bytes[bytes.len() - 15..], [0; 15]);
    }

    #[test]
    fn truncated_or_padded_input_is_an_error_not_a_panic() {
        let bytes = one_delivery();
        for cut in 0..bytes.len() {
            assert!(decode(bytes.slice(..cut)).is_err(), "cut at {cut}");
        }
        let mut padded = BytesMut::from(&bytes[..]);
        padded.put_u8(0);
        assert_eq!(decode(padded.freeze()), Err(DecodeError::TrailingBytes));
    }

    #[test]
    fn decode_errors_name_the_field() {
        let bytes = one_delivery();
        let err = decode(bytes.slice(..bytes.len() - 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "binary message list: truncated in delivery"
        );
        let err = decode(bytes.slice(..10)).unwrap_err();
        assert_eq!(err.to_string(), "binary message list: truncated in header");
        let mut wrong = bytes.to_vec();
        wrong[3] = b'2';
        let err = decode(Bytes::from(wrong)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "binary message list: missing the WRM1 header"
        );
        let mut bad_topic = bytes.to_vec();
        bad_topic[HEADER_LEN + 2 + 4 + 2] = 0xC0;
        let err = decode(Bytes::from(bad_topic)).unwrap_err();
        assert_eq!(err.to_string(), "binary message list: topic is not UTF-8");
    }

    #[test]
    fn min_message_len_is_the_smallest_encoding() {
        let smallest = encode(std::iter::once(Message::default()), 0, 0).unwrap();
        assert_eq!(MIN_MESSAGE_LEN, smallest.len() - HEADER_LEN);
    }

    #[test]
    fn bodies_are_slices_of_the_input() {
        let input = one_delivery();
        let list = decode(input.clone()).unwrap();
        let at = input.len() - (2 + 9 + DELIVERY_LEN) - 3;
        assert_eq!(list.messages[0].body.as_ptr(), input[at..].as_ptr());
    }

    #[test]
    fn fields_too_long_for_the_format_are_refused() {
        let long_receipt = Message {
            receipt: "r".repeat(MAX_SHORT_LEN + 1),
            ..Message::default()
        };
        let err = encode(std::iter::once(long_receipt), 0, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "receipt is 65536 bytes, more than the format's 65535"
        );
        let many_keys = Message {
            keys: vec![String::new(); MAX_FIELD_COUNT + 1],
            ..Message::default()
        };
        assert_eq!(
            encode(std::iter::once(many_keys), 0, 0).unwrap_err(),
            EncodeError::Field(FieldError::TooMany {
                field: "keys",
                count: 65_536
            })
        );
        let most = Message {
            keys: vec![String::new(); MAX_FIELD_COUNT],
            properties: vec![(String::new(), String::new()); MAX_FIELD_COUNT],
            ..Message::default()
        };
        let bytes = encode(std::iter::once(&most), 0, 0).unwrap();
        assert_eq!(decode(bytes).unwrap().messages, vec![most]);
    }

    fn short_text() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "\\PC{0,12}",
            1 => Just("x".repeat(MAX_SHORT_LEN)),
            1 => Just("é".repeat(MAX_SHORT_LEN / 2)),
        ]
    }

    fn optional_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(short_text()).prop_map(|s| s.filter(|s| !s.is_empty()))
    }

    fn message() -> impl Strategy<Value = Message> {
        let position = (
            short_text(),
            short_text(),
            any::<u32>(),
            any::<u64>(),
            any::<i64>(),
            any::<i64>(),
        );
        let content = (
            optional_text(),
            optional_text(),
            proptest::collection::vec(short_text(), 0..4),
            prop_oneof![
                4 => proptest::collection::vec((short_text(), "\\PC{0,16}"), 0..4),
                1 => proptest::collection::vec(("[a-z]{0,3}", "[a-z]{0,3}"), 60..200),
            ],
            prop_oneof![
                4 => proptest::collection::vec(any::<u8>(), 0..64),
                1 => Just(Vec::new()),
                1 => proptest::collection::vec(any::<u8>(), 70_000..70_001),
            ],
        );
        let delivery = (short_text(), any::<u32>(), any::<i64>(), any::<bool>());
        (position, content, delivery).prop_map(
            |(
                (id, topic, queue, offset, born_ms, store_ms),
                (tag, message_group, keys, properties, body),
                (receipt, attempt, first_delivery_ms, resent),
            )| Message {
                id,
                topic,
                queue,
                offset,
                born_ms,
                store_ms,
                tag,
                message_group,
                keys,
                properties,
                body: Bytes::from(body),
                receipt,
                attempt,
                first_delivery_ms,
                resent,
            },
        )
    }

    fn list() -> impl Strategy<Value = List> {
        (
            proptest::collection::vec(message(), 0..5),
            any::<u64>(),
            any::<u64>(),
        )
            .prop_map(|(messages, next_offset, max_offset)| List {
                messages,
                next_offset,
                max_offset,
            })
    }

    fn encoded(list: &List) -> Bytes {
        encode(list.messages.iter(), list.next_offset, list.max_offset).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn lists_round_trip(list in list()) {
            let bytes = encoded(&list);
            prop_assert_eq!(
                bytes.len(),
                HEADER_LEN + list.messages.iter().map(encoded_len).sum::<usize>()
            );
            prop_assert_eq!(decode(bytes).unwrap(), list);
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(Bytes::from(bytes.clone()));
            let mut with_magic = MAGIC.to_vec();
            with_magic.append(&mut bytes);
            let _ = decode(Bytes::from(with_magic));
        }

        #[test]
        fn every_truncation_is_an_error(
            list in list().prop_filter("short enough to cut everywhere", |l| {
                l.messages.iter().map(encoded_len).sum::<usize>() < 4096
            }),
        ) {
            let full = encoded(&list);
            for cut in 0..full.len() {
                prop_assert!(decode(full.slice(..cut)).is_err());
            }
        }

        #[test]
        fn mutated_lists_decode_to_what_encodes_back_or_fail(
            list in list(),
            edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = encoded(&list).to_vec();
            for (kind, at, value) in edits {
                let at = at % (bytes.len() + 1);
                match kind % 4 {
                    0 if at < bytes.len() => bytes[at] ^= 1 << (value % 8),
                    1 if at < bytes.len() => bytes[at] = value,
                    2 => bytes.insert(at, value),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            if let Ok(decoded) = decode(Bytes::from(bytes.clone())) {
                let again = encoded(&decoded);
                prop_assert_eq!(again.len(), bytes.len());
                prop_assert_eq!(decode(again).unwrap(), decoded);
            }
        }
    }
}

//! The binary batch format (`application/vnd.weir.batch`): many messages in one send
//! request, without JSON's parsing and base64 costs. This module owns the byte layout,
//! documented in `docs/http-api.md`, and both its encoder (the client's) and its decoder
//! (the broker's), so that the two cannot disagree.
//!
//! ```text
//! batch    := magic "WRB1", count u32, message * count        (integers little-endian)
//! message  := id_len u16, id, tag_len u16, tag, group_len u16, group,
//!             queue u32 (0xFFFF_FFFF = broker's choice),
//!             key_count u16, (key_len u16, key) * key_count,
//!             prop_count u16, (name_len u16, name, value_len u32, value) * prop_count,
//!             body_len u32, body
//! ```
//!
//! Strings are UTF-8; a length of 0 means "absent" for id, tag and group. The format has
//! one encoding per batch: what decodes encodes again to the same bytes.
//!
//! Encoding refuses what the layout cannot express (a field longer than its length
//! prefix) instead of truncating it; limits the broker sets on top (id length, key count,
//! body size) are the broker's to enforce. Decoding is total: any input either decodes or
//! yields a [`DecodeError`], never a panic, and memory is reserved only for what the input
//! holds, not for what its counts claim. Bodies are sliced out of the input without
//! copying.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::fields::{self, FieldError};

/// The media type of the binary batch format.
pub const CONTENT_TYPE: &str = "application/vnd.weir.batch";
/// The four bytes a batch starts with.
pub const MAGIC: &[u8; 4] = b"WRB1";
/// The queue value meaning "let the broker choose".
pub const ANY_QUEUE: u32 = u32::MAX;
/// The length of the batch header (magic and count): where the first message starts.
pub const HEADER_LEN: usize = 8;
/// The most messages a batch can hold (its count is a u32).
pub const MAX_MESSAGES: usize = u32::MAX as usize;
/// The longest id, tag, message group, key or property name (a u16 length prefix).
pub const MAX_SHORT_LEN: usize = u16::MAX as usize;
/// The longest property value or body (a u32 length prefix).
pub const MAX_LONG_LEN: usize = u32::MAX as usize;
/// The most keys, or properties, one message can carry (a u16 count).
pub const MAX_FIELD_COUNT: usize = u16::MAX as usize;
/// The fewest bytes a message takes (every length 0, the queue and the body length).
pub const MIN_MESSAGE_LEN: usize = 2 + 2 + 2 + 4 + 2 + 2 + 4;

/// Keys or properties reserved for up front, whatever a message's count claims.
const RESERVED_FIELDS: usize = 64;

/// A message as the encoder reads it: the client's outgoing message, or a decoded one.
pub trait Entry {
    /// The message id, if the sender chose one.
    fn id(&self) -> Option<&str>;
    /// The tag.
    fn tag(&self) -> Option<&str>;
    /// The message group.
    fn message_group(&self) -> Option<&str>;
    /// The pinned queue; `None` lets the broker choose.
    fn queue(&self) -> Option<u32>;
    /// The business keys, in order.
    fn keys(&self) -> impl ExactSizeIterator<Item = &str>;
    /// The user properties, in the order they are written.
    fn properties(&self) -> impl ExactSizeIterator<Item = (&str, &str)>;
    /// The body.
    fn body(&self) -> &[u8];
}

/// A decoded message: everything the format carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The message id; `None` when absent (length 0).
    pub id: Option<String>,
    /// The tag; `None` when absent.
    pub tag: Option<String>,
    /// The message group; `None` when absent.
    pub message_group: Option<String>,
    /// The pinned queue; `None` for [`ANY_QUEUE`].
    pub queue: Option<u32>,
    /// The business keys, in order.
    pub keys: Vec<String>,
    /// The user properties, in the order they were written.
    pub properties: Vec<(String, String)>,
    /// The body, a slice of the decoded input.
    pub body: Bytes,
}

impl Entry for Message {
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

    fn properties(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.properties
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    fn body(&self) -> &[u8] {
        &self.body
    }
}

/// Why a batch could not be encoded: the layout cannot express a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// More than [`MAX_MESSAGES`] messages.
    #[error("too many messages for one batch")]
    TooManyMessages,
    /// A field too large for its length or count prefix.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A message pinned to the queue number that means "any queue".
    #[error("queue {ANY_QUEUE} is reserved for 'any queue'")]
    ReservedQueue,
}

/// Why a batch body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the header, or not starting with [`MAGIC`].
    #[error("invalid binary batch: missing the WRB1 header")]
    MissingHeader,
    /// The count is over the decoder's limit.
    #[error("invalid binary batch: {count} messages is over the limit of {limit}")]
    TooManyMessages {
        /// The count the header claims.
        count: usize,
        /// The decoder's limit.
        limit: usize,
    },
    /// The input ends inside a message.
    #[error("invalid binary batch: message {index}: truncated {field}")]
    Truncated {
        /// Which message, from 0.
        index: usize,
        /// The field the input ends in.
        field: &'static str,
    },
    /// A string field is not UTF-8.
    #[error("invalid binary batch: message {index}: {field} is not UTF-8")]
    NotUtf8 {
        /// Which message, from 0.
        index: usize,
        /// Which field.
        field: &'static str,
    },
    /// Bytes follow the last message the count announced.
    #[error("invalid binary batch: {0} bytes after the last message")]
    TrailingBytes(usize),
}

/// The encoded size of one message, to size a buffer once.
pub fn encoded_len(message: &impl Entry) -> usize {
    let short = |s: Option<&str>| 2 + s.map_or(0, str::len);
    short(message.id())
        + short(message.tag())
        + short(message.message_group())
        + 4
        + 2
        + message.keys().map(|k| 2 + k.len()).sum::<usize>()
        + 2
        + message
            .properties()
            .map(|(n, v)| 2 + n.len() + 4 + v.len())
            .sum::<usize>()
        + 4
        + message.body().len()
}

/// Writes a batch one message at a time; [`BatchEncoder::finish`] gives the bytes.
#[derive(Debug)]
pub struct BatchEncoder {
    buf: BytesMut,
    count: u32,
    missing_ids: Vec<usize>,
}

/// An encoded batch and where its messages without an id are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The batch.
    pub bytes: Bytes,
    /// How many messages it holds.
    pub count: u32,
    /// Where each message encoded without an id starts, in order: see [`fill_ids`].
    pub missing_ids: Vec<usize>,
}

impl BatchEncoder {
    /// An encoder whose buffer holds `capacity` bytes of messages (the sum of their
    /// [`encoded_len`]) before it grows.
    pub fn with_capacity(capacity: usize) -> BatchEncoder {
        let mut buf = BytesMut::with_capacity(HEADER_LEN + capacity);
        buf.put_slice(MAGIC);
        // The count, written by `finish`.
        buf.put_u32_le(0);
        BatchEncoder {
            buf,
            count: 0,
            missing_ids: Vec::new(),
        }
    }

    /// Appends `message`. On an error the batch is as it was before the call.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] when the layout cannot express the message: a string longer than
    /// its u16 length prefix, a property value or body of 4 GiB or more, more than 65 535
    /// keys or properties, queue [`ANY_QUEUE`] pinned, or a batch already holding
    /// [`MAX_MESSAGES`] messages.
    pub fn push(&mut self, message: &impl Entry) -> Result<(), EncodeError> {
        if self.count == u32::MAX {
            return Err(EncodeError::TooManyMessages);
        }
        let start = self.buf.len();
        let written = put_message(&mut self.buf, message);
        if let Err(err) = written {
            self.buf.truncate(start);
            return Err(err);
        }
        if message.id().is_none() {
            self.missing_ids.push(start);
        }
        self.count += 1;
        Ok(())
    }

    /// The batch of every message pushed.
    pub fn finish(mut self) -> Encoded {
        self.buf[4..HEADER_LEN].copy_from_slice(&self.count.to_le_bytes());
        Encoded {
            bytes: self.buf.freeze(),
            count: self.count,
            missing_ids: self.missing_ids,
        }
    }
}

/// Encodes `messages` as one batch.
///
/// # Errors
///
/// As [`BatchEncoder::push`], for the first message the layout cannot express, with its
/// index.
pub fn encode<'a, E: Entry + 'a>(
    messages: impl IntoIterator<Item = &'a E> + Clone,
) -> Result<Encoded, (usize, EncodeError)> {
    let capacity = messages.clone().into_iter().map(encoded_len).sum();
    let mut encoder = BatchEncoder::with_capacity(capacity);
    for (index, message) in messages.into_iter().enumerate() {
        encoder.push(message).map_err(|err| (index, err))?;
    }
    Ok(encoder.finish())
}

/// Copies `batch` with `ids[i]` written into the message starting at `missing_ids[i]`,
/// which was encoded without an id (as [`Encoded::missing_ids`] lists them). The other
/// bytes are copied as they are.
///
/// # Errors
///
/// [`FieldError::TooLong`] when an id is longer than its u16 length prefix.
///
/// # Panics
///
/// When `ids` and `missing_ids` differ in length, or a position is not the start of a
/// message without an id in `batch`.
pub fn fill_ids(batch: &[u8], missing_ids: &[usize], ids: &[String]) -> Result<Bytes, EncodeError> {
    assert_eq!(
        missing_ids.len(),
        ids.len(),
        "one id per message without one"
    );
    let added: usize = ids.iter().map(String::len).sum();
    let mut out = BytesMut::with_capacity(batch.len() + added);
    let mut copied = 0;
    for (&at, id) in missing_ids.iter().zip(ids) {
        assert_eq!(
            batch.get(at..at + 2),
            Some(&[0u8, 0][..]),
            "no message without an id at {at}"
        );
        out.put_slice(&batch[copied..at]);
        fields::put_short(&mut out, "id", id)?;
        // Skip the absent id's `id_len` (0).
        copied = at + 2;
    }
    out.put_slice(&batch[copied..]);
    Ok(out.freeze())
}

fn put_message(buf: &mut BytesMut, message: &impl Entry) -> Result<(), EncodeError> {
    fields::put_short(buf, "id", message.id().unwrap_or(""))?;
    fields::put_short(buf, "tag", message.tag().unwrap_or(""))?;
    fields::put_short(buf, "message group", message.message_group().unwrap_or(""))?;
    let queue = match message.queue() {
        Some(ANY_QUEUE) => return Err(EncodeError::ReservedQueue),
        Some(queue) => queue,
        None => ANY_QUEUE,
    };
    buf.put_u32_le(queue);
    let keys = message.keys();
    buf.put_u16_le(fields::count("keys", keys.len())?);
    for key in keys {
        fields::put_short(buf, "key", key)?;
    }
    let properties = message.properties();
    buf.put_u16_le(fields::count("properties", properties.len())?);
    for (name, value) in properties {
        fields::put_short(buf, "property name", name)?;
        fields::put_long(buf, "property value", value.as_bytes())?;
    }
    Ok(fields::put_long(buf, "body", message.body())?)
}

/// Decodes a batch, refusing more than `max_messages` messages before allocating for them.
///
/// # Errors
///
/// [`DecodeError`] for any input that is not exactly one batch of at most
/// `max_messages` messages.
pub fn decode(input: Bytes, max_messages: usize) -> Result<Vec<Message>, DecodeError> {
    decode_with(input, max_messages, |message| message)
}

/// Decodes a batch as [`decode`] does, turning each message into what the caller keeps
/// with `map` as it is read, so that the batch is collected once.
///
/// # Errors
///
/// As [`decode`].
pub fn decode_with<T>(
    mut input: Bytes,
    max_messages: usize,
    mut map: impl FnMut(Message) -> T,
) -> Result<Vec<T>, DecodeError> {
    if input.len() < HEADER_LEN || input.get(..4) != Some(MAGIC.as_slice()) {
        return Err(DecodeError::MissingHeader);
    }
    input.advance(4);
    let count = input.get_u32_le() as usize;
    if count > max_messages {
        return Err(DecodeError::TooManyMessages {
            count,
            limit: max_messages,
        });
    }
    // Reserve only what the body can hold: a count is a claim until the messages are read.
    let mut messages = Vec::with_capacity(count.min(input.remaining() / MIN_MESSAGE_LEN));
    for index in 0..count {
        let message = decode_message(&mut input).map_err(|err| match err {
            Unreadable::Truncated(field) => DecodeError::Truncated { index, field },
            Unreadable::NotUtf8(field) => DecodeError::NotUtf8 { index, field },
        })?;
        messages.push(map(message));
    }
    if input.has_remaining() {
        return Err(DecodeError::TrailingBytes(input.remaining()));
    }
    Ok(messages)
}

/// Why a field of one message cannot be read.
enum Unreadable {
    Truncated(&'static str),
    NotUtf8(&'static str),
}

fn decode_message(input: &mut Bytes) -> Result<Message, Unreadable> {
    let id = optional_text(input, "id")?;
    let tag = optional_text(input, "tag")?;
    let message_group = optional_text(input, "group")?;
    let queue = match take_u32(input, "queue")? {
        ANY_QUEUE => None,
        queue => Some(queue),
    };
    let key_count = take_u16(input, "key count")?;
    let mut keys = Vec::with_capacity(usize::from(key_count).min(RESERVED_FIELDS));
    for _ in 0..key_count {
        let len = take_u16(input, "key length")?;
        keys.push(text(input, usize::from(len), "key")?);
    }
    let prop_count = take_u16(input, "property count")?;
    let mut properties = Vec::with_capacity(usize::from(prop_count).min(RESERVED_FIELDS));
    for _ in 0..prop_count {
        let name_len = take_u16(input, "property name length")?;
        let name = text(input, usize::from(name_len), "property name")?;
        let value_len = take_u32(input, "property value length")?;
        let value = text(input, value_len as usize, "property value")?;
        properties.push((name, value));
    }
    let body_len = take_u32(input, "body length")? as usize;
    let body = take(input, body_len, "body")?;
    Ok(Message {
        id,
        tag,
        message_group,
        queue,
        keys,
        properties,
        body,
    })
}

fn take(input: &mut Bytes, len: usize, field: &'static str) -> Result<Bytes, Unreadable> {
    if input.remaining() < len {
        return Err(Unreadable::Truncated(field));
    }
    Ok(input.split_to(len))
}

fn take_u16(input: &mut Bytes, field: &'static str) -> Result<u16, Unreadable> {
    if input.remaining() < 2 {
        return Err(Unreadable::Truncated(field));
    }
    Ok(input.get_u16_le())
}

fn take_u32(input: &mut Bytes, field: &'static str) -> Result<u32, Unreadable> {
    if input.remaining() < 4 {
        return Err(Unreadable::Truncated(field));
    }
    Ok(input.get_u32_le())
}

fn text(input: &mut Bytes, len: usize, field: &'static str) -> Result<String, Unreadable> {
    if input.remaining() < len {
        return Err(Unreadable::Truncated(field));
    }
    // Validated in place, then copied once: a `String` owns its bytes.
    let text = std::str::from_utf8(&input[..len])
        .map_err(|_| Unreadable::NotUtf8(field))?
        .to_owned();
    input.advance(len);
    Ok(text)
}

fn optional_text(input: &mut Bytes, field: &'static str) -> Result<Option<String>, Unreadable> {
    let len = take_u16(input, field)?;
    if len == 0 {
        return Ok(None);
    }
    text(input, usize::from(len), field).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bare(body: &'static [u8]) -> Message {
        Message {
            body: Bytes::from_static(body),
            ..Message::default()
        }
    }

    fn encoded(messages: &[Message]) -> Bytes {
        encode(messages).unwrap().bytes
    }

    /// A string field: usually short, sometimes as long as the format allows.
    fn short_text() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "\\PC{0,12}",
            1 => Just("x".repeat(MAX_SHORT_LEN)),
            1 => Just("é".repeat(MAX_SHORT_LEN / 2)),
        ]
    }

    /// An optional string field; `Some("")` is not a value the format has.
    fn optional_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(short_text()).prop_map(|s| s.filter(|s| !s.is_empty()))
    }

    fn message() -> impl Strategy<Value = Message> {
        (
            optional_text(),
            optional_text(),
            optional_text(),
            proptest::option::of(prop_oneof![Just(0), Just(ANY_QUEUE - 1), 0u32..100]),
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
        )
            .prop_map(
                |(id, tag, message_group, queue, keys, properties, body)| Message {
                    id,
                    tag,
                    message_group,
                    queue,
                    keys,
                    properties,
                    body: Bytes::from(body),
                },
            )
    }

    /// A byte-level edit of an encoding: flip, overwrite, insert or delete at `at`.
    fn mutate(bytes: &[u8], kind: u8, at: usize, value: u8) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = at % (out.len() + 1);
        match kind % 4 {
            0 if at < out.len() => out[at] ^= 1 << (value % 8),
            1 if at < out.len() => out[at] = value,
            2 => out.insert(at, value),
            _ if at < out.len() => {
                out.remove(at);
            }
            _ => {}
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn batches_round_trip(messages in proptest::collection::vec(message(), 0..6)) {
            let batch = encode(&messages).unwrap();
            prop_assert_eq!(batch.count as usize, messages.len());
            prop_assert_eq!(
                batch.bytes.len(),
                HEADER_LEN + messages.iter().map(encoded_len).sum::<usize>()
            );
            prop_assert_eq!(decode(batch.bytes, messages.len()).unwrap(), messages);
        }

        #[test]
        fn filled_ids_decode_where_the_ids_were_missing(
            messages in proptest::collection::vec(message(), 1..6),
        ) {
            let batch = encode(&messages).unwrap();
            let ids: Vec<String> = (0..batch.missing_ids.len()).map(|i| format!("id-{i}")).collect();
            let filled = fill_ids(&batch.bytes, &batch.missing_ids, &ids).unwrap();
            let mut ids = ids.into_iter();
            let expected: Vec<Message> = messages
                .into_iter()
                .map(|m| Message { id: m.id.or_else(|| ids.next()), ..m })
                .collect();
            prop_assert_eq!(decode(filled, 100).unwrap(), expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(Bytes::from(bytes.clone()), 100);
            let mut with_magic = MAGIC.to_vec();
            with_magic.append(&mut bytes);
            let _ = decode(Bytes::from(with_magic), 100);
        }

        #[test]
        fn every_truncation_is_an_error(
            messages in proptest::collection::vec(message(), 1..4)
                .prop_filter("short enough to cut everywhere", |m| {
                    m.iter().map(encoded_len).sum::<usize>() < 4096
                }),
        ) {
            let full = encoded(&messages);
            for cut in 0..full.len() {
                prop_assert!(decode(full.slice(..cut), 100).is_err());
            }
        }

        #[test]
        fn mutated_batches_decode_to_what_encodes_back_or_fail(
            messages in proptest::collection::vec(message(), 1..4),
            edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = encoded(&messages).to_vec();
            for (kind, at, value) in edits {
                bytes = mutate(&bytes, kind, at, value);
            }
            if let Ok(decoded) = decode(Bytes::from(bytes.clone()), 100) {
                let again = encoded(&decoded);
                prop_assert_eq!(again.as_ref(), bytes.as_slice());
            }
        }
    }

    #[test]
    fn layout_of_a_full_message_is_exact() {
        let message = Message {
            id: Some("ID".into()),
            tag: Some("t".into()),
            message_group: Some("grp".into()),
            queue: Some(258),
            keys: vec!["k1".into(), "k".into()],
            properties: vec![("b".into(), "2".into()), ("a".into(), "xy".into())],
            body: Bytes::from_static(&[0, 1]),
        };
        let first_len = encoded_len(&message);
        let batch = encode(&[message, bare(b"")]).unwrap();
        let expected: &[u8] = &[
            b'W', b'R', b'B', b'1', 2, 0, 0, 0, // magic, count = 2
            2, 0, b'I', b'D', // id
            1, 0, b't', // tag
            3, 0, b'g', b'r', b'p', // group
            2, 1, 0, 0, // queue 258
            2, 0, 2, 0, b'k', b'1', 1, 0, b'k', // keys
            2, 0, // prop_count; properties in the order given
            1, 0, b'b', 1, 0, 0, 0, b'2', //
            1, 0, b'a', 2, 0, 0, 0, b'x', b'y', //
            2, 0, 0, 0, 0, 1, // body
            0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, // empty message
        ];
        assert_eq!(batch.bytes.as_ref(), expected);
        assert_eq!(batch.count, 2);
        assert_eq!(first_len, 50);
        assert_eq!(batch.missing_ids, vec![HEADER_LEN + first_len]);
    }

    #[test]
    fn an_empty_batch_is_its_header() {
        let batch = encode::<Message>(&[]).unwrap();
        assert_eq!(batch.bytes.as_ref(), b"WRB1\0\0\0\0");
        assert_eq!(decode(batch.bytes, 0).unwrap(), vec![]);
    }

    #[test]
    fn min_message_len_is_the_smallest_encoding() {
        // The reservation for a claimed count divides by it; the regression test of that
        // bound is `a_batch_claiming_more_messages_than_it_holds_...` in
        // tests/fuzz_corpus.rs, which measures the allocation.
        let smallest = encoded(&[bare(b"")]);
        assert_eq!(MIN_MESSAGE_LEN, smallest.len() - HEADER_LEN);
    }

    #[test]
    fn counts_over_the_limit_are_refused_before_allocation() {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&u32::MAX.to_le_bytes());
        let err = decode(Bytes::from(out), 10).unwrap_err();
        assert_eq!(
            err,
            DecodeError::TooManyMessages {
                count: u32::MAX as usize,
                limit: 10
            }
        );
        assert!(err.to_string().contains("over the limit"), "{err}");
    }

    #[test]
    fn decode_errors_name_the_message_and_the_field() {
        let full = encoded(&[bare(b"ab"), bare(b"cd")]);
        let err = decode(full.slice(..full.len() - 1), 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid binary batch: message 1: truncated body"
        );
        let mut trailing = full.to_vec();
        trailing.push(0);
        let err = decode(Bytes::from(trailing), 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid binary batch: 1 bytes after the last message"
        );
        let mut bad_tag = encoded(&[Message {
            tag: Some("t".into()),
            ..bare(b"")
        }])
        .to_vec();
        bad_tag[HEADER_LEN + 4] = 0xFF;
        let err = decode(Bytes::from(bad_tag), 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid binary batch: message 0: tag is not UTF-8"
        );
        let err = decode(Bytes::from_static(b"WRB2\0\0\0\0"), 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid binary batch: missing the WRB1 header"
        );
    }

    #[test]
    fn bodies_are_slices_of_the_input() {
        let input = encoded(&[bare(b"hello")]);
        let decoded = decode(input.clone(), 1).unwrap();
        let body = decoded[0].body.as_ptr();
        assert_eq!(body, input[input.len() - 5..].as_ptr());
    }

    #[test]
    fn decode_with_maps_each_message_as_it_is_read() {
        let input = encoded(&[bare(b"a"), bare(b"bcd")]);
        assert_eq!(
            decode_with(input.clone(), 2, |m| m.body.len()),
            Ok(vec![1, 3])
        );
        assert!(decode_with(input.slice(..input.len() - 1), 2, |m| m).is_err());
    }

    #[test]
    fn the_most_keys_and_properties_round_trip_and_one_more_is_refused() {
        let most = Message {
            keys: vec![String::new(); MAX_FIELD_COUNT],
            properties: vec![(String::new(), String::new()); MAX_FIELD_COUNT],
            ..bare(b"")
        };
        let batch = encoded(std::slice::from_ref(&most));
        assert_eq!(decode(batch, 1).unwrap(), vec![most.clone()]);
        let too_many_keys = Message {
            keys: vec![String::new(); MAX_FIELD_COUNT + 1],
            ..bare(b"")
        };
        assert_eq!(
            encode(&[bare(b""), too_many_keys]).unwrap_err(),
            (
                1,
                EncodeError::Field(FieldError::TooMany {
                    field: "keys",
                    count: 65_536
                })
            )
        );
        let too_many_properties = Message {
            properties: vec![(String::new(), String::new()); MAX_FIELD_COUNT + 1],
            ..bare(b"")
        };
        assert_eq!(
            encode(&[too_many_properties]).unwrap_err().1.to_string(),
            "65536 properties is more than the format's 65535"
        );
    }

    #[test]
    fn fields_too_long_for_the_format_are_refused() {
        let long_tag = Message {
            tag: Some("t".repeat(MAX_SHORT_LEN + 1)),
            ..bare(b"x")
        };
        let err = encode(&[bare(b"ok"), long_tag]).unwrap_err();
        assert_eq!(err.0, 1);
        assert_eq!(
            err.1.to_string(),
            "tag is 65536 bytes, more than the format's 65535"
        );
        let reserved_queue = Message {
            queue: Some(ANY_QUEUE),
            ..bare(b"x")
        };
        assert_eq!(
            encode(&[reserved_queue]).unwrap_err().1,
            EncodeError::ReservedQueue
        );
    }

    #[test]
    fn a_refused_message_leaves_the_batch_as_it_was() {
        let mut encoder = BatchEncoder::with_capacity(0);
        encoder.push(&bare(b"a")).unwrap();
        let long_key = Message {
            keys: vec!["k".repeat(MAX_SHORT_LEN + 1)],
            ..bare(b"b")
        };
        assert!(encoder.push(&long_key).is_err());
        encoder.push(&bare(b"c")).unwrap();
        let batch = encoder.finish();
        assert_eq!(batch.bytes, encoded(&[bare(b"a"), bare(b"c")]));
        assert_eq!(batch.missing_ids.len(), 2);
    }

    #[test]
    fn filled_ids_are_spliced_into_the_right_messages() {
        let messages = [
            bare(b"a"),
            Message {
                id: Some("mine".into()),
                ..bare(b"b")
            },
            bare(b"c"),
        ];
        let batch = encode(&messages).unwrap();
        assert_eq!(batch.missing_ids.first(), Some(&HEADER_LEN));
        let ids = ["first".to_owned(), "third".to_owned()];
        let filled = fill_ids(&batch.bytes, &batch.missing_ids, &ids).unwrap();
        let expected = encoded(&[
            Message {
                id: Some("first".into()),
                ..bare(b"a")
            },
            messages[1].clone(),
            Message {
                id: Some("third".into()),
                ..bare(b"c")
            },
        ]);
        assert_eq!(filled, expected);
        let long = ["x".repeat(MAX_SHORT_LEN + 1), String::new()];
        assert!(fill_ids(&batch.bytes, &batch.missing_ids, &long).is_err());
    }
}

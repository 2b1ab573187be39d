//! The commitlog record format: encoding into segment memory and total decoding.
//!
//! Owns the byte layout and the limits on what a message may contain. It must not know
//! about segments, positions or files: it turns messages into bytes and bytes back into
//! messages, nothing else.

use crate::error::StoreError;
use crate::message::{Message, StoredMessage};
use bytes::Bytes;

/// Longest topic name in bytes: its length is stored in one byte, and it is a file name
/// component, which most filesystems cap at 255 bytes.
pub const MAX_TOPIC_LEN: usize = 255;
/// Longest message id in bytes (one-byte length prefix).
pub const MAX_ID_LEN: usize = 255;
/// Longest tag in bytes (one-byte length prefix).
pub const MAX_TAG_LEN: usize = 255;
/// Longest key in bytes (two-byte length prefix).
pub const MAX_KEY_LEN: usize = u16::MAX as usize;
/// Most keys per message: each key costs one index entry, so this bounds how much of an
/// index file a single message can consume.
pub const MAX_KEYS: usize = 64;
/// Most properties per message (two-byte count, kept well below it so that a message's
/// metadata stays small next to its body).
pub const MAX_PROPERTIES: usize = 1024;
/// Longest property name in bytes (two-byte length prefix).
pub const MAX_PROPERTY_NAME_LEN: usize = u16::MAX as usize;
/// Longest property value in bytes: values are small metadata; large data belongs in the body.
pub const MAX_PROPERTY_VALUE_LEN: usize = 1024 * 1024;
/// Largest body in bytes. Besides this, a whole record must fit in one segment.
pub const MAX_BODY_LEN: usize = 64 * 1024 * 1024;

/// Magic number of every record header ("We" in little-endian ASCII, 0x6557).
pub(crate) const MAGIC: u16 = 0x6557;
/// Current record format version.
pub(crate) const VERSION: u8 = 1;
/// Record kind of a message.
pub(crate) const KIND_MESSAGE: u8 = 1;
/// Record kind of the padding that fills the rest of a segment before a roll.
pub(crate) const KIND_PADDING: u8 = 0xFF;
/// Bytes in a record header.
pub(crate) const HEADER_LEN: usize = 12;
/// Bytes of the fixed-size fields after the header (queue .. flags).
const FIXED_LEN: usize = 4 + 8 + 8 + 8 + 4;
/// Offset of the first byte covered by the CRC.
const CRC_START: usize = 12;

/// The 12-byte header that starts every record. All integers are little-endian.
///
/// ```text
/// offset size field
///      0    4 total_len   whole record, header included
///      4    2 magic       0x6557
///      6    1 version     1
///      7    1 kind        1 = message, 0xFF = padding, others reserved for system records
///      8    4 crc32c      over every byte after this field, up to total_len
///                         (padding: over bytes 0..8 only, the rest of it is not read)
/// ```
///
/// A message (kind 1) continues with:
///
/// ```text
/// queue u32, queue_offset u64, store_ms i64, born_ms i64, flags u32,
/// topic: u8 len + bytes, id: u8 len + bytes, tag: u8 len + bytes (0 = no tag),
/// keys: u16 count, each u16 len + bytes,
/// properties: u16 count, each u16 name len + name, u32 value len + value,
/// body: u32 len + bytes
/// ```
///
/// Strings are UTF-8. A segment's tail that is shorter than a header is left as zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    /// Length of the whole record.
    pub(crate) total_len: u32,
    /// Record kind.
    pub(crate) kind: u8,
}

/// Why bytes are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("all-zero header (end of written data)")]
    Zero,
    #[error("truncated record")]
    Truncated,
    #[error("bad magic {0:#06x}")]
    Magic(u16),
    #[error("unsupported format version {0}")]
    Version(u8),
    #[error("unknown record kind {0}")]
    Kind(u8),
    #[error("record length {0} out of bounds")]
    Length(u32),
    #[error("checksum mismatch")]
    Crc,
    #[error("field is not UTF-8")]
    Utf8,
    #[error("record fields do not add up to its length")]
    Trailing,
}

/// A decoded record, borrowing from the bytes it was decoded from.
#[derive(Debug)]
pub(crate) enum Decoded<'a> {
    /// A message record.
    Message(RecordView<'a>),
    /// Padding that runs `len` bytes, to the end of its segment.
    Padding {
        /// Bytes covered by the padding.
        len: u32,
    },
}

/// A message record viewed in place, without copying.
#[derive(Clone, Debug)]
pub(crate) struct RecordView<'a> {
    pub(crate) total_len: u32,
    pub(crate) queue: u32,
    pub(crate) queue_offset: u64,
    pub(crate) store_ms: i64,
    pub(crate) born_ms: i64,
    pub(crate) flags: u32,
    pub(crate) topic: &'a str,
    pub(crate) id: &'a str,
    pub(crate) tag: Option<&'a str>,
    key_count: u16,
    keys: &'a [u8],
    property_count: u16,
    properties: &'a [u8],
    pub(crate) body: &'a [u8],
}

/// Checks `msg` against the limits and returns the size of its record.
pub(crate) fn encoded_len(topic: &str, msg: &Message) -> Result<usize, StoreError> {
    let limit = |what: &str, len: usize, max: usize| {
        if len > max {
            Err(StoreError::InvalidMessage(format!(
                "{what} is {len} bytes, the limit is {max}"
            )))
        } else {
            Ok(())
        }
    };
    limit("topic", topic.len(), MAX_TOPIC_LEN)?;
    limit("message id", msg.id.len(), MAX_ID_LEN)?;
    if let Some(tag) = &msg.tag {
        if tag.is_empty() {
            return Err(StoreError::InvalidMessage(
                "empty tag; use no tag instead".to_owned(),
            ));
        }
        limit("tag", tag.len(), MAX_TAG_LEN)?;
    }
    if msg.keys.len() > MAX_KEYS {
        return Err(StoreError::InvalidMessage(format!(
            "{} keys, the limit is {MAX_KEYS}",
            msg.keys.len()
        )));
    }
    if msg.properties.len() > MAX_PROPERTIES {
        return Err(StoreError::InvalidMessage(format!(
            "{} properties, the limit is {MAX_PROPERTIES}",
            msg.properties.len()
        )));
    }
    limit("body", msg.body.len(), MAX_BODY_LEN)?;
    let mut len = HEADER_LEN + FIXED_LEN + 1 + topic.len() + 1 + msg.id.len() + 1;
    len += msg.tag.as_ref().map_or(0, String::len);
    len += 2;
    for key in &msg.keys {
        limit("key", key.len(), MAX_KEY_LEN)?;
        len += 2 + key.len();
    }
    len += 2;
    for (name, value) in &msg.properties {
        limit("property name", name.len(), MAX_PROPERTY_NAME_LEN)?;
        limit("property value", value.len(), MAX_PROPERTY_VALUE_LEN)?;
        len += 2 + name.len() + 4 + value.len();
    }
    len += 4 + msg.body.len();
    Ok(len)
}

/// Sequential writer into a record's bytes; remembers instead of panicking if the
/// computed length was wrong.
struct Put<'a> {
    buf: &'a mut [u8],
    at: usize,
    overflow: bool,
}

impl Put<'_> {
    fn bytes(&mut self, src: &[u8]) {
        let end = self.at.saturating_add(src.len());
        match self.buf.get_mut(self.at..end) {
            Some(dst) => dst.copy_from_slice(src),
            None => self.overflow = true,
        }
        self.at = end;
    }
}

/// The record's bytes did not match its computed length (a bug in [`encoded_len`]).
#[derive(Debug)]
pub(crate) struct EncodeMismatch;

/// Encodes a message record into `buf`, which must be exactly [`encoded_len`] bytes.
///
/// Lengths must already have been checked by [`encoded_len`]; they are narrowed here
/// without further checks.
pub(crate) fn encode_into(
    buf: &mut [u8],
    topic: &str,
    queue: u32,
    queue_offset: u64,
    store_ms: i64,
    msg: &Message,
) -> Result<(), EncodeMismatch> {
    let total = u32::try_from(buf.len()).map_err(|_| EncodeMismatch)?;
    let mut p = Put {
        buf,
        at: 0,
        overflow: false,
    };
    p.bytes(&total.to_le_bytes());
    p.bytes(&MAGIC.to_le_bytes());
    p.bytes(&[VERSION, KIND_MESSAGE]);
    p.bytes(&[0; 4]); // crc, filled in below
    p.bytes(&queue.to_le_bytes());
    p.bytes(&queue_offset.to_le_bytes());
    p.bytes(&store_ms.to_le_bytes());
    p.bytes(&msg.born_ms.to_le_bytes());
    p.bytes(&msg.flags.to_le_bytes());
    p.bytes(&[topic.len() as u8]);
    p.bytes(topic.as_bytes());
    p.bytes(&[msg.id.len() as u8]);
    p.bytes(msg.id.as_bytes());
    let tag = msg.tag.as_deref().unwrap_or("");
    p.bytes(&[tag.len() as u8]);
    p.bytes(tag.as_bytes());
    p.bytes(&(msg.keys.len() as u16).to_le_bytes());
    for key in &msg.keys {
        p.bytes(&(key.len() as u16).to_le_bytes());
        p.bytes(key.as_bytes());
    }
    p.bytes(&(msg.properties.len() as u16).to_le_bytes());
    for (name, value) in &msg.properties {
        p.bytes(&(name.len() as u16).to_le_bytes());
        p.bytes(name.as_bytes());
        p.bytes(&(value.len() as u32).to_le_bytes());
        p.bytes(value.as_bytes());
    }
    p.bytes(&(msg.body.len() as u32).to_le_bytes());
    p.bytes(&msg.body);
    if p.overflow || p.at != p.buf.len() {
        return Err(EncodeMismatch);
    }
    let crc = crc32c::crc32c(p.buf.get(CRC_START..).ok_or(EncodeMismatch)?);
    p.buf
        .get_mut(8..12)
        .ok_or(EncodeMismatch)?
        .copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Writes a padding record over the whole of `buf` (the rest of a segment). Does nothing
/// if `buf` is shorter than a header: such a tail stays zero.
pub(crate) fn write_padding(buf: &mut [u8]) {
    let Ok(total) = u32::try_from(buf.len()) else {
        return;
    };
    let Some(header) = buf.get_mut(..HEADER_LEN) else {
        return;
    };
    let mut bytes = [0u8; HEADER_LEN];
    bytes[..4].copy_from_slice(&total.to_le_bytes());
    bytes[4..6].copy_from_slice(&MAGIC.to_le_bytes());
    bytes[6] = VERSION;
    bytes[7] = KIND_PADDING;
    let crc = crc32c::crc32c(&bytes[..8]);
    bytes[8..].copy_from_slice(&crc.to_le_bytes());
    header.copy_from_slice(&bytes);
}

/// Sequential reader over a record's bytes.
struct Take<'a> {
    buf: &'a [u8],
}

impl<'a> Take<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, rest) = self.buf.split_at_checked(n).ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.bytes(N)?
            .try_into()
            .map_err(|_| DecodeError::Truncated)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(u8::from_le_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn str(&mut self, n: usize) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes(n)?).map_err(|_| DecodeError::Utf8)
    }
}

/// Reads and checks a header (magic, version, kind, length bounds), without the CRC.
pub(crate) fn decode_header(buf: &[u8]) -> Result<RecordHeader, DecodeError> {
    let mut t = Take { buf };
    let total_len = t.u32()?;
    let magic = t.u16()?;
    let version = t.u8()?;
    let kind = t.u8()?;
    if total_len == 0 && magic == 0 && version == 0 && kind == 0 {
        return Err(DecodeError::Zero);
    }
    if magic != MAGIC {
        return Err(DecodeError::Magic(magic));
    }
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let min_len = match kind {
        KIND_MESSAGE => HEADER_LEN + FIXED_LEN + 1 + 1 + 1 + 2 + 2 + 4,
        KIND_PADDING => HEADER_LEN,
        other => return Err(DecodeError::Kind(other)),
    };
    if (total_len as usize) < min_len {
        return Err(DecodeError::Length(total_len));
    }
    Ok(RecordHeader { total_len, kind })
}

/// Decodes the record at the start of `buf` (which may extend past it), checking every
/// field and the CRC. Never panics, whatever the bytes.
pub(crate) fn decode(buf: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let header = decode_header(buf)?;
    if header.kind == KIND_PADDING {
        let head = buf.get(..8).ok_or(DecodeError::Truncated)?;
        let stored = buf.get(8..12).ok_or(DecodeError::Truncated)?;
        if crc32c::crc32c(head).to_le_bytes() != stored {
            return Err(DecodeError::Crc);
        }
        return Ok(Decoded::Padding {
            len: header.total_len,
        });
    }
    let record = buf
        .get(..header.total_len as usize)
        .ok_or(DecodeError::Truncated)?;
    let stored = record.get(8..12).ok_or(DecodeError::Truncated)?;
    let covered = record.get(CRC_START..).ok_or(DecodeError::Truncated)?;
    if crc32c::crc32c(covered).to_le_bytes() != stored {
        return Err(DecodeError::Crc);
    }
    let mut t = Take { buf: covered };
    let queue = t.u32()?;
    let queue_offset = t.u64()?;
    let store_ms = t.u64()? as i64;
    let born_ms = t.u64()? as i64;
    let flags = t.u32()?;
    let n = t.u8()? as usize;
    let topic = t.str(n)?;
    let n = t.u8()? as usize;
    let id = t.str(n)?;
    let n = t.u8()? as usize;
    let tag = Some(t.str(n)?).filter(|tag| !tag.is_empty());
    let key_count = t.u16()?;
    let keys_start = t.buf;
    for _ in 0..key_count {
        let n = t.u16()? as usize;
        t.str(n)?;
    }
    let keys = keys_start
        .get(..keys_start.len() - t.buf.len())
        .ok_or(DecodeError::Truncated)?;
    let property_count = t.u16()?;
    let properties_start = t.buf;
    for _ in 0..property_count {
        let n = t.u16()? as usize;
        t.str(n)?;
        let n = t.u32()? as usize;
        t.str(n)?;
    }
    let properties = properties_start
        .get(..properties_start.len() - t.buf.len())
        .ok_or(DecodeError::Truncated)?;
    let n = t.u32()? as usize;
    let body = t.bytes(n)?;
    if !t.buf.is_empty() {
        return Err(DecodeError::Trailing);
    }
    Ok(Decoded::Message(RecordView {
        total_len: header.total_len,
        queue,
        queue_offset,
        store_ms,
        born_ms,
        flags,
        topic,
        id,
        tag,
        key_count,
        keys,
        property_count,
        properties,
        body,
    }))
}

impl<'a> RecordView<'a> {
    /// The keys, in order. The bytes were validated by [`decode`].
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut t = Take { buf: self.keys };
        (0..self.key_count).map_while(move |_| {
            let n = t.u16().ok()? as usize;
            t.str(n).ok()
        })
    }

    /// The properties, in order. The bytes were validated by [`decode`].
    pub(crate) fn properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let mut t = Take {
            buf: self.properties,
        };
        (0..self.property_count).map_while(move |_| {
            let n = t.u16().ok()? as usize;
            let name = t.str(n).ok()?;
            let n = t.u32().ok()? as usize;
            Some((name, t.str(n).ok()?))
        })
    }

    /// Copies the record out as an owned [`StoredMessage`] stored at `position`.
    pub(crate) fn to_stored(&self, position: u64) -> StoredMessage {
        StoredMessage {
            topic: self.topic.to_owned(),
            queue: self.queue,
            queue_offset: self.queue_offset,
            position,
            size: self.total_len,
            store_ms: self.store_ms,
            message: Message {
                id: self.id.to_owned(),
                keys: self.keys().map(str::to_owned).collect(),
                tag: self.tag.map(str::to_owned),
                properties: self
                    .properties()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                body: Bytes::copy_from_slice(self.body),
                born_ms: self.born_ms,
                flags: self.flags,
            },
        }
    }
}

/// Hash of a tag as stored in consume queue entries: CRC32C of its bytes, never 0
/// (0 means "no tag").
pub(crate) fn tag_hash(tag: Option<&str>) -> u32 {
    match tag {
        None => 0,
        Some(tag) => crc32c::crc32c(tag.as_bytes()).max(1),
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;

//! The binary batch format (`application/vnd.weir.batch`): many messages in one request
//! body without JSON's parsing and base64 costs. Bodies are sliced out of the request
//! without copying.
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
//! A length of 0 means "absent" for id, tag and group. Decoding is total: any input
//! either decodes or yields [`BatchError`], never a panic (property-tested).

use bytes::{Buf, Bytes};
use weir_core::MessageDraft;

/// The media type of the binary batch format.
pub const CONTENT_TYPE: &str = "application/vnd.weir.batch";
/// The four bytes a batch starts with.
pub const MAGIC: &[u8; 4] = b"WRB1";
/// The queue value meaning "let the broker choose".
pub const ANY_QUEUE: u32 = u32::MAX;

/// The fewest bytes a message takes (every length 0, the queue and the body length).
const MIN_MESSAGE_BYTES: usize = 2 + 2 + 2 + 4 + 2 + 2 + 4;

/// Why a batch body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid binary batch: {0}")]
pub struct BatchError(String);

/// Decodes a batch, refusing more than `max_messages` messages before allocating for them.
pub fn decode(mut input: Bytes, max_messages: usize) -> Result<Vec<MessageDraft>, BatchError> {
    if input.len() < 8 || input.get(..4) != Some(MAGIC.as_slice()) {
        return Err(BatchError("missing the WRB1 header".into()));
    }
    input.advance(4);
    let count = input.get_u32_le() as usize;
    if count > max_messages {
        return Err(BatchError(format!(
            "{count} messages is over the limit of {max_messages}"
        )));
    }
    // Reserve only what the body can hold: a count is a claim until the messages are read.
    let mut drafts = Vec::with_capacity(count.min(input.remaining() / MIN_MESSAGE_BYTES));
    for index in 0..count {
        drafts.push(
            decode_message(&mut input)
                .map_err(|what| BatchError(format!("message {index}: {what}")))?,
        );
    }
    if input.has_remaining() {
        return Err(BatchError(format!(
            "{} bytes after the last message",
            input.remaining()
        )));
    }
    Ok(drafts)
}

fn decode_message(input: &mut Bytes) -> Result<MessageDraft, String> {
    let id = optional_text(input, "id")?;
    let tag = optional_text(input, "tag")?;
    let message_group = optional_text(input, "group")?;
    let queue = match take_u32(input, "queue")? {
        ANY_QUEUE => None,
        queue => Some(queue),
    };
    let key_count = take_u16(input, "key count")?;
    let mut keys = Vec::with_capacity(usize::from(key_count).min(64));
    for _ in 0..key_count {
        let len = take_u16(input, "key length")?;
        keys.push(text(input, usize::from(len), "key")?);
    }
    let prop_count = take_u16(input, "property count")?;
    let mut properties = Vec::with_capacity(usize::from(prop_count).min(64));
    for _ in 0..prop_count {
        let name_len = take_u16(input, "property name length")?;
        let name = text(input, usize::from(name_len), "property name")?;
        let value_len = take_u32(input, "property value length")?;
        let value = text(input, value_len as usize, "property value")?;
        properties.push((name, value));
    }
    let body_len = take_u32(input, "body length")? as usize;
    let body = take(input, body_len, "body")?;
    Ok(MessageDraft {
        id,
        keys,
        tag,
        properties,
        message_group,
        queue,
        born_ms: None,
        deliver_at: None,
        body,
    })
}

fn take(input: &mut Bytes, len: usize, what: &str) -> Result<Bytes, String> {
    if input.remaining() < len {
        return Err(format!("truncated {what}"));
    }
    Ok(input.split_to(len))
}

fn take_u16(input: &mut Bytes, what: &str) -> Result<u16, String> {
    if input.remaining() < 2 {
        return Err(format!("truncated {what}"));
    }
    Ok(input.get_u16_le())
}

fn take_u32(input: &mut Bytes, what: &str) -> Result<u32, String> {
    if input.remaining() < 4 {
        return Err(format!("truncated {what}"));
    }
    Ok(input.get_u32_le())
}

fn text(input: &mut Bytes, len: usize, what: &str) -> Result<String, String> {
    let bytes = take(input, len, what)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

fn optional_text(input: &mut Bytes, what: &str) -> Result<Option<String>, String> {
    let len = take_u16(input, what)?;
    if len == 0 {
        return Ok(None);
    }
    text(input, usize::from(len), what).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use proptest::prelude::*;

    fn encode(drafts: &[MessageDraft]) -> Bytes {
        let mut out = Vec::new();
        out.put_slice(MAGIC);
        out.put_u32_le(drafts.len() as u32);
        for d in drafts {
            for field in [&d.id, &d.tag, &d.message_group] {
                let s = field.as_deref().unwrap_or("");
                out.put_u16_le(s.len() as u16);
                out.put_slice(s.as_bytes());
            }
            out.put_u32_le(d.queue.unwrap_or(ANY_QUEUE));
            out.put_u16_le(d.keys.len() as u16);
            for k in &d.keys {
                out.put_u16_le(k.len() as u16);
                out.put_slice(k.as_bytes());
            }
            out.put_u16_le(d.properties.len() as u16);
            for (n, v) in &d.properties {
                out.put_u16_le(n.len() as u16);
                out.put_slice(n.as_bytes());
                out.put_u32_le(v.len() as u32);
                out.put_slice(v.as_bytes());
            }
            out.put_u32_le(d.body.len() as u32);
            out.put_slice(&d.body);
        }
        Bytes::from(out)
    }

    fn draft() -> impl Strategy<Value = MessageDraft> {
        (
            proptest::option::of("[a-z]{1,8}"),
            proptest::option::of("[a-z]{1,8}"),
            proptest::option::of("[a-z]{1,8}"),
            proptest::option::of(0u32..100),
            proptest::collection::vec("[a-z]{1,8}", 0..3),
            proptest::collection::vec(("[a-z]{1,8}", "[a-z]{0,8}"), 0..3),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(id, tag, message_group, queue, keys, properties, body)| {
                MessageDraft {
                    id,
                    keys,
                    tag,
                    properties,
                    message_group,
                    queue,
                    born_ms: None,
                    deliver_at: None,
                    body: Bytes::from(body),
                }
            })
    }

    proptest! {
        #[test]
        fn batches_round_trip(drafts in proptest::collection::vec(draft(), 0..8)) {
            prop_assert_eq!(decode(encode(&drafts), 100).unwrap(), drafts);
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(Bytes::from(bytes.clone()), 100);
            let mut with_magic = MAGIC.to_vec();
            with_magic.append(&mut bytes);
            let _ = decode(Bytes::from(with_magic), 100);
        }

        #[test]
        fn every_truncation_is_an_error(drafts in proptest::collection::vec(draft(), 1..4)) {
            let full = encode(&drafts);
            for cut in 0..full.len() {
                prop_assert!(decode(full.slice(..cut), 100).is_err());
            }
        }
    }

    #[test]
    fn min_message_bytes_is_the_smallest_encoding() {
        // The reservation for a claimed count divides by it; the regression test of that
        // bound is `a_batch_claiming_more_messages_than_it_holds_...` in
        // tests/fuzz_corpus.rs, which measures the allocation.
        let smallest = encode(&[MessageDraft::new(Bytes::new())]);
        assert_eq!(MIN_MESSAGE_BYTES, smallest.len() - 8);
    }

    #[test]
    fn counts_over_the_limit_are_refused_before_allocation() {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&u32::MAX.to_le_bytes());
        let err = decode(Bytes::from(out), 10).unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
    }
}

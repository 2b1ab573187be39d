//! The body of the `record` fuzz target (`fuzz/`), here so that the fuzzer and the corpus
//! replay of the test suite run the same checks against the commitlog record decoder.
//!
//! Not part of the store's API: hidden from its docs and free to change.

use crate::record::{self, Decoded};

/// Decodes `data` as a commitlog record and checks what must hold for any bytes.
///
/// The first byte chooses a mode and is not part of the record: when it is odd, the CRC
/// of the record is recomputed before decoding, so that the fuzzer reaches the field
/// decoding behind the checksum instead of stopping at it.
///
/// Checked: decoding never panics; a decoded padding record reports the length in its
/// header; a decoded message re-encodes to exactly the bytes it was decoded from (the
/// format has one encoding per message), and those decode to the same message.
pub fn record(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut buf = rest.to_vec();
    if mode & 1 == 1 {
        fix_crc(&mut buf);
    }
    match record::decode(&buf) {
        Err(_) => {}
        Ok(Decoded::Padding { len }) => {
            let header = record::decode_header(&buf).expect("a decoded padding has a header");
            assert_eq!(header.total_len, len, "padding length");
        }
        Ok(Decoded::Message(view)) => {
            let total = view.total_len as usize;
            assert!(total <= buf.len(), "a record longer than its input");
            let stored = view.to_stored(0);
            assert_eq!(stored.size, view.total_len);
            assert_eq!(stored.message.keys.len(), view.keys().count());
            // A record within the writer's limits re-encodes byte for byte.
            let Ok(len) = record::encoded_len(&stored.topic, &stored.message) else {
                return;
            };
            assert_eq!(len, total, "re-encoded length");
            let mut again = vec![0u8; len];
            record::encode_into(
                &mut again,
                &stored.topic,
                stored.queue,
                stored.queue_offset,
                stored.store_ms,
                &stored.message,
            )
            .expect("encoded_len sized the buffer");
            assert_eq!(Some(again.as_slice()), buf.get(..total), "re-encoded bytes");
            match record::decode(&again) {
                Ok(Decoded::Message(view)) => assert_eq!(view.to_stored(0), stored),
                other => panic!("a re-encoded record decodes as {other:?}"),
            }
        }
    }
}

/// Writes the CRC that the header and length of `buf` call for, where they are readable.
fn fix_crc(buf: &mut [u8]) {
    let Ok(header) = record::decode_header(buf) else {
        return;
    };
    // A padding's CRC covers the bytes before it, a message's every byte after it.
    let covered = if header.kind == record::KIND_PADDING {
        0..8
    } else {
        12..header.total_len as usize
    };
    let Some(covered) = buf.get(covered) else {
        return;
    };
    let crc = crc32c::crc32c(covered).to_le_bytes();
    if let Some(field) = buf.get_mut(8..12) {
        field.copy_from_slice(&crc);
    }
}

/// A real encoding of `message`, for seeding the corpus; `None` when it is over a limit.
pub fn encode_record(
    topic: &str,
    queue: u32,
    queue_offset: u64,
    store_ms: i64,
    message: &crate::Message,
) -> Option<Vec<u8>> {
    let len = record::encoded_len(topic, message).ok()?;
    let mut buf = vec![0u8; len];
    record::encode_into(&mut buf, topic, queue, queue_offset, store_ms, message).ok()?;
    Some(buf)
}

/// A real padding record of `len` bytes, for seeding the corpus.
pub fn encode_padding(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    record::write_padding(&mut buf);
    buf
}

//! The bodies of the `batch` and `message_list` fuzz targets (`fuzz/`): each decodes
//! arbitrary input with its format's decoder and checks it against the same format's
//! encoder. Here so that the fuzzer and the corpus replay of the test suite run the same
//! checks.
//!
//! Not part of the crate's API: hidden from its docs and free to change.

use bytes::Bytes;

use crate::{batch, message_list};

/// The body of the `batch` target: decodes `data` as the broker does, with a limit of
/// `max_messages`, and checks that a decoded batch holds at most that many messages and
/// encodes again to exactly `data` (the format has one encoding per batch).
pub fn batch(data: &[u8], max_messages: usize) {
    let Ok(messages) = batch::decode(Bytes::copy_from_slice(data), max_messages) else {
        return;
    };
    assert!(messages.len() <= max_messages);
    let again = batch::encode(&messages).expect("a decoded batch encodes");
    assert_eq!(again.bytes.as_ref(), data, "the batch encodes to its input");
    assert_eq!(again.count as usize, messages.len());
    let expected: Vec<usize> = positions(&messages)
        .zip(&messages)
        .filter(|(_, m)| m.id.is_none())
        .map(|(at, _)| at)
        .collect();
    assert_eq!(again.missing_ids, expected);
}

/// Where each message of a batch starts.
fn positions(messages: &[batch::Message]) -> impl Iterator<Item = usize> + '_ {
    messages.iter().scan(batch::HEADER_LEN, |at, m| {
        let start = *at;
        *at += batch::encoded_len(m);
        Some(start)
    })
}

/// The body of the `message_list` target: decodes `data` as the client does, and checks
/// that the decoded list encodes again to as many bytes, which decode to the same list.
/// (Not to the same bytes: the decoder reads any non-zero `resent` byte as true.)
pub fn message_list(data: &[u8]) {
    let Ok(list) = message_list::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let again = message_list::encode(list.messages.iter(), list.next_offset, list.max_offset)
        .expect("a decoded list encodes");
    assert_eq!(again.len(), data.len(), "the list encodes to as many bytes");
    let decoded = message_list::decode(again).expect("the encoded list decodes");
    assert_eq!(decoded, list);
}

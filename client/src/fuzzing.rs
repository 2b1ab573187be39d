//! Hooks for the fuzz targets (`fuzz/`) that compare the client's codecs with the
//! broker's: the batch encoder, and the body of the `message_list` target around the
//! message-list decoder. Both sides meet in plain std types, since neither crate depends
//! on the other.
//!
//! Not part of the client's API: hidden from its docs and free to change.

use bytes::Bytes;

use crate::{EncodedBatch, OutgoingMessage};

/// One message of a binary batch: id, tag, message group, queue, keys, properties, body.
pub type BatchFields = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u32>,
    Vec<String>,
    Vec<(String, String)>,
    Vec<u8>,
);

/// Where a listed message is: id, topic, queue, offset, born_ms, store_ms.
pub type ListedPosition = (String, String, u32, u64, i64, i64);
/// What a listed message carries: tag, message group, keys, properties, body.
pub type ListedContent = (
    Option<String>,
    Option<String>,
    Vec<String>,
    Vec<(String, String)>,
    Vec<u8>,
);
/// A listed message's delivery: receipt, attempt, first_delivery_ms, resent.
pub type ListedDelivery = (String, u32, i64, bool);
/// A decoded message list: next_offset, max_offset, entries.
pub type ListFields = (
    u64,
    u64,
    Vec<(ListedPosition, ListedContent, ListedDelivery)>,
);

/// Encodes `messages` with [`EncodedBatch::encode`] (properties go through the client's
/// name-ordered map, as they do for any send).
pub fn encode_batch(messages: &[BatchFields]) -> Result<Vec<u8>, String> {
    let outgoing: Vec<OutgoingMessage> = messages
        .iter()
        .map(|(id, tag, group, queue, keys, properties, body)| {
            let mut m = OutgoingMessage::new(body.clone());
            m.id = id.clone();
            m.tag = tag.clone();
            m.message_group = group.clone();
            m.queue = *queue;
            m.keys = keys.clone();
            m.properties = properties.iter().cloned().collect();
            m
        })
        .collect();
    EncodedBatch::encode(&outgoing)
        .map(|batch| batch.bytes().to_vec())
        .map_err(|err| err.to_string())
}

/// Decodes `data` as a binary message list, as the client does.
pub fn decode_message_list(data: &[u8]) -> Result<ListFields, String> {
    let list = crate::frames::decode(Bytes::copy_from_slice(data)).map_err(|e| e.to_string())?;
    let entries = list
        .entries
        .into_iter()
        .map(|e| {
            let m = e.message;
            (
                (
                    m.id,
                    m.topic,
                    m.queue,
                    m.offset,
                    // The decoder clamps negative times to 0, so these fit.
                    i64::try_from(m.born_ms).unwrap_or(i64::MAX),
                    i64::try_from(m.store_ms).unwrap_or(i64::MAX),
                ),
                (
                    m.tag,
                    e.message_group,
                    m.keys,
                    m.properties.into_iter().collect(),
                    m.body.to_vec(),
                ),
                (e.receipt, e.attempt, e.first_delivery_ms, e.resent),
            )
        })
        .collect();
    Ok((list.next_offset, list.max_offset, entries))
}

/// The body of the `message_list` fuzz target: decodes `data` as the client does, has
/// the broker's encoder (`encode`, from `weir_api::fuzzing`) write the decoded list again,
/// and checks that the client decodes that to the same list.
///
/// Lists whose messages carry no delivery are written as reads, the others as receives
/// (which carry no offsets); a property named like the broker's message-group property
/// is left out of the comparison, since the broker writes that one as the group.
pub fn message_list(data: &[u8], encode: fn(&ListFields) -> Vec<u8>, group_property: &str) {
    let Ok(list) = decode_message_list(data) else {
        return;
    };
    if list
        .2
        .iter()
        .any(|(_, content, _)| content.3.iter().any(|(name, _)| name == group_property))
    {
        return;
    }
    let again = encode(&list);
    let decoded = decode_message_list(&again).expect("the broker's encoding decodes");
    let receives = list
        .2
        .iter()
        .any(|(_, _, d)| d != &(String::new(), 0, 0, false));
    let mut expected = list;
    if receives {
        expected.0 = 0;
        expected.1 = 0;
    }
    assert_eq!(decoded, expected);
}

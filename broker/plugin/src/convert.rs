//! Broker messages as the WIT `message` record plugins receive.
//!
//! Consumer tasks convert every delivery they hand to a plugin, so they keep their
//! converted batch and write the next one over it ([`deliveries_into`]): strings and
//! bodies reuse the buffers of the messages before them instead of allocating new ones.

use weir_core::message::MESSAGE_GROUP_PROPERTY;
use weir_core::{Delivery, HalfMessage, StoredMessage};

use crate::wit::types;

/// Bytes of message buffers a batch keeps for reuse after a call; the messages past this
/// are dropped, so that a batch of large bodies does not stay allocated while the task
/// waits for the next one.
pub(crate) const MAX_KEPT_BATCH_BYTES: usize = 1 << 20;

/// A delivery of a consumer group.
pub(crate) fn delivery(delivery: &Delivery) -> types::Message {
    let mut message = empty();
    delivery_into(delivery, &mut message);
    message
}

/// A half message, with the topic it is meant for.
pub(crate) fn half(half: &HalfMessage) -> types::Message {
    let mut message = empty();
    stored_into(&half.stored, 0, &mut message);
    message.id.clone_from(&half.transaction);
    message.topic.clone_from(&half.topic);
    message.queue = half.stored.queue;
    message.offset = half.stored.queue_offset;
    message
}

/// Writes `deliveries` over `batch`, reusing its messages' buffers; `batch` ends up with
/// exactly one message per delivery.
pub(crate) fn deliveries_into(deliveries: &[Delivery], batch: &mut Vec<types::Message>) {
    batch.truncate(deliveries.len());
    let reused = batch.len();
    for (delivery, message) in deliveries.iter().zip(batch.iter_mut()) {
        delivery_into(delivery, message);
    }
    batch.extend(deliveries[reused..].iter().map(self::delivery));
}

/// Drops the messages of `batch` past [`MAX_KEPT_BATCH_BYTES`] of buffers.
pub(crate) fn trim_kept(batch: &mut Vec<types::Message>) {
    let mut kept = 0usize;
    let keep = batch
        .iter()
        .position(|message| {
            kept = kept.saturating_add(buffer_bytes(message));
            kept > MAX_KEPT_BATCH_BYTES
        })
        .unwrap_or(batch.len());
    batch.truncate(keep);
}

/// Heap bytes a message holds (string and list capacities, roughly).
fn buffer_bytes(message: &types::Message) -> usize {
    let strings = |s: &[String]| s.iter().map(String::capacity).sum::<usize>();
    message.id.capacity()
        + message.topic.capacity()
        + strings(&message.keys)
        + message.tag.as_ref().map_or(0, String::capacity)
        + message.message_group.as_ref().map_or(0, String::capacity)
        + message
            .properties
            .iter()
            .map(|(name, value)| name.capacity() + value.capacity())
            .sum::<usize>()
        + message.body.capacity()
}

fn delivery_into(delivery: &Delivery, message: &mut types::Message) {
    stored_into(&delivery.stored, delivery.attempt, message);
    message.id.clone_from(&delivery.id);
    message.topic.clone_from(&delivery.topic);
    message.queue = delivery.queue;
    message.offset = delivery.offset;
}

fn empty() -> types::Message {
    types::Message {
        id: String::new(),
        topic: String::new(),
        queue: 0,
        offset: 0,
        keys: Vec::new(),
        tag: None,
        message_group: None,
        properties: Vec::new(),
        body: Vec::new(),
        born_ms: 0,
        attempt: 0,
    }
}

/// The content of a stored message over `message` (the caller sets its id, topic, queue
/// and offset); the message group moves from its property to its own field.
fn stored_into(stored: &StoredMessage, attempt: u32, message: &mut types::Message) {
    let m = &stored.message;
    message.keys.clone_from(&m.keys);
    message.tag.clone_from(&m.tag);
    let mut group = None;
    let mut kept = 0;
    for (name, value) in &m.properties {
        if name == MESSAGE_GROUP_PROPERTY {
            group = Some(value);
            continue;
        }
        match message.properties.get_mut(kept) {
            Some((n, v)) => {
                n.clone_from(name);
                v.clone_from(value);
            }
            None => message.properties.push((name.clone(), value.clone())),
        }
        kept += 1;
    }
    message.properties.truncate(kept);
    match (group, &mut message.message_group) {
        (Some(value), Some(to)) => to.clone_from(value),
        (group, to) => *to = group.cloned(),
    }
    message.body.clear();
    message.body.extend_from_slice(&m.body);
    message.born_ms = m.born_ms;
    message.attempt = attempt;
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use weir_store::Message;

    use super::*;

    fn stored(id: &str, properties: &[(&str, &str)], body: &[u8]) -> StoredMessage {
        StoredMessage {
            topic: "t".into(),
            queue: 1,
            queue_offset: 7,
            position: 0,
            size: 0,
            store_ms: 0,
            message: Message {
                id: id.into(),
                keys: vec!["k".into()],
                tag: Some("tag".into()),
                properties: properties
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                body: Bytes::copy_from_slice(body),
                born_ms: 5,
                flags: 0,
            },
        }
    }

    fn delivery(id: &str, properties: &[(&str, &str)], body: &[u8], attempt: u32) -> Delivery {
        Delivery {
            id: id.into(),
            topic: "t".into(),
            queue: 1,
            offset: 7,
            stored: stored(id, properties, body),
            receipt: format!("r-{id}"),
            attempt,
            first_delivery_ms: 0,
            resent: false,
        }
    }

    #[test]
    fn a_reused_batch_holds_exactly_the_new_deliveries() {
        let first = [
            delivery(
                "a",
                &[("p", "1"), (MESSAGE_GROUP_PROPERTY, "g")],
                b"long body",
                1,
            ),
            delivery("b", &[("p", "1"), ("q", "2")], b"x", 2),
            delivery("c", &[], b"", 1),
        ];
        let second = [
            delivery("d", &[("q", "3")], b"yz", 3),
            delivery("e", &[(MESSAGE_GROUP_PROPERTY, "h")], b"", 1),
        ];
        let mut batch = Vec::new();
        deliveries_into(&first, &mut batch);
        assert_eq!(batch.len(), 3);
        assert_eq!(batch[0].message_group.as_deref(), Some("g"));
        assert_eq!(batch[0].properties, [("p".to_string(), "1".to_string())]);
        deliveries_into(&second, &mut batch);
        let fresh: Vec<_> = second.iter().map(super::delivery).collect();
        assert_eq!(format!("{batch:?}"), format!("{fresh:?}"));
        assert_eq!(batch[0].id, "d");
        assert_eq!(batch[0].body, b"yz");
        assert_eq!(batch[0].message_group, None);
        assert_eq!(batch[0].properties, [("q".to_string(), "3".to_string())]);
        assert_eq!(batch[0].attempt, 3);
        assert_eq!(batch[1].message_group.as_deref(), Some("h"));
        assert!(batch[1].properties.is_empty());
        deliveries_into(&first, &mut batch);
        let fresh: Vec<_> = first.iter().map(super::delivery).collect();
        assert_eq!(format!("{batch:?}"), format!("{fresh:?}"));
    }

    #[test]
    fn kept_batches_are_trimmed_to_their_byte_budget() {
        let big = vec![0u8; MAX_KEPT_BATCH_BYTES / 2];
        let deliveries: Vec<_> = (0..4)
            .map(|i| delivery(&i.to_string(), &[], &big, 1))
            .collect();
        let mut batch = Vec::new();
        deliveries_into(&deliveries, &mut batch);
        trim_kept(&mut batch);
        assert_eq!(batch.len(), 1, "the second half-budget body goes over it");
        let small: Vec<_> = (0..4)
            .map(|i| delivery(&i.to_string(), &[], b"x", 1))
            .collect();
        deliveries_into(&small, &mut batch);
        assert_eq!(batch[0].body.capacity(), big.len(), "the buffer is reused");
        trim_kept(&mut batch);
        assert_eq!(batch.len(), 4, "one large buffer fits the budget");
    }
}

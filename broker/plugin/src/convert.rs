//! Broker messages as the WIT `message` record plugins receive.

use weir_core::message::MESSAGE_GROUP_PROPERTY;
use weir_core::{Delivery, HalfMessage, StoredMessage};

use crate::bindings::types;

/// A delivery of a consumer group.
pub(crate) fn delivery(delivery: &Delivery) -> types::Message {
    let mut message = stored(&delivery.stored, delivery.attempt);
    message.id.clone_from(&delivery.id);
    message.topic.clone_from(&delivery.topic);
    message.queue = delivery.queue;
    message.offset = delivery.offset;
    message
}

/// A half message, with the topic it is meant for.
pub(crate) fn half(half: &HalfMessage) -> types::Message {
    let mut message = stored(&half.stored, 0);
    message.id.clone_from(&half.transaction);
    message.topic.clone_from(&half.topic);
    message
}

/// A stored message; the message group moves from its property to its own field.
pub(crate) fn stored(stored: &StoredMessage, attempt: u32) -> types::Message {
    let m = &stored.message;
    let mut message_group = None;
    let mut properties = Vec::with_capacity(m.properties.len());
    for (name, value) in &m.properties {
        if name == MESSAGE_GROUP_PROPERTY {
            message_group = Some(value.clone());
        } else {
            properties.push((name.clone(), value.clone()));
        }
    }
    types::Message {
        id: m.id.clone(),
        topic: stored.topic.clone(),
        queue: stored.queue,
        offset: stored.queue_offset,
        keys: m.keys.clone(),
        tag: m.tag.clone(),
        message_group,
        properties,
        body: m.body.to_vec(),
        born_ms: m.born_ms,
        attempt,
    }
}

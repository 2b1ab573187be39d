//! A message as a client hands it to the broker, validated against [`Limits`] at one
//! boundary: past [`MessageDraft::validate`], the send path trusts its fields.

use bytes::Bytes;

use crate::CoreError;
use crate::limits::{
    Limits, MAX_KEY_BYTES, MAX_KEYS, MAX_MESSAGE_GROUP_BYTES, MAX_MESSAGE_ID_BYTES, MAX_PROPERTIES,
    MAX_PROPERTY_NAME_BYTES, MAX_PROPERTY_VALUE_BYTES, MAX_TAG_BYTES,
};

/// Property names starting with this prefix are the broker's own (e.g. the message group);
/// clients cannot set them directly.
pub const SYSTEM_PROPERTY_PREFIX: &str = "weir.";
/// The property that carries a message's group (sharding key) in the store.
pub const MESSAGE_GROUP_PROPERTY: &str = "weir.message-group";

/// The value of a property of a stored message.
pub(crate) fn property<'a>(message: &'a weir_store::Message, name: &str) -> Option<&'a str> {
    message
        .properties
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The queue of a message group: a stable hash, so a group keeps its queue across
/// restarts (as long as the queue count does not change).
pub(crate) fn group_queue(group: &str, queues: u32) -> u32 {
    crc32c::crc32c(group.as_bytes()) % queues.max(1)
}

/// Where a message should go within its topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueChoice {
    /// A queue named by the client.
    Pinned(u32),
    /// The broker picks: by message group hash when there is one, else round robin.
    Broker,
}

/// One message to send, before the broker has given it an id, a queue and an offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageDraft {
    /// A client-chosen id, for idempotent retries and lookups; the broker assigns one if absent.
    pub id: Option<String>,
    /// Business keys, each indexed for lookup.
    pub keys: Vec<String>,
    /// One tag, for consumer-side filtering.
    pub tag: Option<String>,
    /// User properties, in the order given.
    pub properties: Vec<(String, String)>,
    /// The message group (sharding key): messages of one group go to one queue.
    pub message_group: Option<String>,
    /// A queue pinned by the client.
    pub queue: Option<u32>,
    /// When the producer created the message (ms since the epoch); the broker uses the
    /// arrival time if absent.
    pub born_ms: Option<i64>,
    /// Deliver at this time (ms since the epoch) instead of now: a delayed message.
    pub deliver_at: Option<i64>,
    /// The payload.
    pub body: Bytes,
}

impl MessageDraft {
    /// A draft with only a body.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Self {
            id: None,
            keys: Vec::new(),
            tag: None,
            properties: Vec::new(),
            message_group: None,
            queue: None,
            born_ms: None,
            deliver_at: None,
            body: body.into(),
        }
    }

    /// Checks every field against the limits; the error names the field at fault.
    pub fn validate(&self, limits: &Limits) -> Result<(), CoreError> {
        if self.body.len() > limits.max_body_bytes {
            return Err(CoreError::BodyTooLarge {
                size: self.body.len(),
                limit: limits.max_body_bytes,
            });
        }
        if let Some(id) = &self.id {
            validate_message_id(id)?;
        }
        if self.keys.len() > MAX_KEYS {
            return Err(invalid(format!(
                "a message has at most {MAX_KEYS} keys, got {}",
                self.keys.len()
            )));
        }
        for key in &self.keys {
            check_text("key", key, MAX_KEY_BYTES)?;
            if key.contains(',') {
                return Err(invalid(format!("key '{key}' contains ','")));
            }
        }
        if let Some(tag) = &self.tag {
            check_text("tag", tag, MAX_TAG_BYTES)?;
            if tag.contains("||") {
                return Err(invalid(format!("tag '{tag}' contains '||'")));
            }
        }
        if let Some(group) = &self.message_group {
            check_text("message group", group, MAX_MESSAGE_GROUP_BYTES)?;
        }
        if self.properties.len() > MAX_PROPERTIES {
            return Err(invalid(format!(
                "a message has at most {MAX_PROPERTIES} properties, got {}",
                self.properties.len()
            )));
        }
        for (name, value) in &self.properties {
            validate_property_name(name)?;
            if value.len() > MAX_PROPERTY_VALUE_BYTES {
                return Err(invalid(format!(
                    "property '{name}' has a value of {} bytes, over the limit of \
                     {MAX_PROPERTY_VALUE_BYTES}",
                    value.len()
                )));
            }
        }
        Ok(())
    }

    /// Where the client wants this message to go.
    pub fn queue_choice(&self) -> QueueChoice {
        self.queue.map_or(QueueChoice::Broker, QueueChoice::Pinned)
    }
}

/// The delay of one of RocketMQ's 18 delay levels (1 to 18), in milliseconds.
pub fn delay_level_ms(level: u32) -> Result<u64, CoreError> {
    level
        .checked_sub(1)
        .and_then(|i| crate::limits::DELAY_LEVELS_MS.get(i as usize))
        .copied()
        .ok_or_else(|| invalid(format!("delay level must be 1 to 18, got {level}")))
}

/// Checks a client-supplied message id: 1 to [`MAX_MESSAGE_ID_BYTES`] printable ASCII
/// characters without spaces, so that it is safe in URLs, headers and logs.
pub fn validate_message_id(id: &str) -> Result<(), CoreError> {
    if id.is_empty() || id.len() > MAX_MESSAGE_ID_BYTES {
        return Err(invalid(format!(
            "message id must be 1 to {MAX_MESSAGE_ID_BYTES} characters, got {}",
            id.len()
        )));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "message id must be printable ASCII without spaces".to_string(),
        ));
    }
    Ok(())
}

/// Checks a user property name: 1 to [`MAX_PROPERTY_NAME_BYTES`] of `A-Z a-z 0-9 . _ -`,
/// not in the broker's reserved `weir.` namespace.
pub fn validate_property_name(name: &str) -> Result<(), CoreError> {
    if name.is_empty() || name.len() > MAX_PROPERTY_NAME_BYTES {
        return Err(invalid(format!(
            "property name must be 1 to {MAX_PROPERTY_NAME_BYTES} characters, got {}",
            name.len()
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(invalid(format!(
            "property name '{name}' may only use A-Z a-z 0-9 . _ -"
        )));
    }
    if name.starts_with(SYSTEM_PROPERTY_PREFIX) {
        return Err(invalid(format!(
            "property name '{name}' is reserved (prefix '{SYSTEM_PROPERTY_PREFIX}')"
        )));
    }
    Ok(())
}

fn check_text(what: &str, value: &str, max: usize) -> Result<(), CoreError> {
    if value.is_empty() || value.len() > max {
        return Err(invalid(format!(
            "{what} must be 1 to {max} bytes, got {}",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} '{value}' contains control characters"
        )));
    }
    Ok(())
}

fn invalid(message: String) -> CoreError {
    CoreError::InvalidArgument(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(draft: &MessageDraft) -> Result<(), CoreError> {
        draft.validate(&Limits::default())
    }

    #[test]
    fn a_plain_body_is_valid() {
        assert!(check(&MessageDraft::new("hello")).is_ok());
    }

    #[test]
    fn oversize_body_is_refused_with_its_size() {
        let limits = Limits {
            max_body_bytes: 4,
            ..Limits::default()
        };
        let err = MessageDraft::new("hello").validate(&limits).unwrap_err();
        assert!(matches!(err, CoreError::BodyTooLarge { size: 5, limit: 4 }));
    }

    #[test]
    fn ids_keys_tags_and_properties_are_checked() {
        let mut draft = MessageDraft::new("x");
        draft.id = Some("has space".into());
        assert!(check(&draft).is_err());
        draft.id = Some("ORDER-1".into());
        assert!(check(&draft).is_ok());
        draft.keys = vec!["a,b".into()];
        assert!(check(&draft).is_err());
        draft.keys = vec!["k".repeat(MAX_KEY_BYTES + 1)];
        assert!(check(&draft).is_err());
        draft.keys = vec!["k1".into(), "k2".into()];
        draft.tag = Some("a||b".into());
        assert!(check(&draft).is_err());
        draft.tag = Some("created".into());
        draft.properties = vec![("weir.message-group".into(), "g".into())];
        assert!(check(&draft).is_err());
        draft.properties = vec![("source".into(), "web".into())];
        assert!(check(&draft).is_ok());
    }
}

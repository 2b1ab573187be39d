//! [`Message`], what the broker hands a plugin, and [`Outgoing`], what a consumer
//! publishes; both plain Rust structs, converted from and to the WIT records at the
//! boundary.

use crate::bindings::types;

/// A message as the broker hands it to a plugin.
///
/// For a transaction checker, the message is the half message of the transaction and its
/// [`id`](Self::id) is the transaction id; it has no queue and offset yet (both 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The message id (the producer's, when it chose one).
    pub id: String,
    /// The topic it was sent to.
    pub topic: String,
    /// Its queue in that topic.
    pub queue: u32,
    /// Its offset in that queue.
    pub offset: u64,
    /// Business keys.
    pub keys: Vec<String>,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The message group (sharding key of FIFO delivery), if any.
    pub message_group: Option<String>,
    /// User properties, in order.
    pub properties: Vec<(String, String)>,
    /// The payload.
    pub body: Vec<u8>,
    /// When the producer created it, ms since the Unix epoch.
    pub born_ms: i64,
    /// Which delivery this is to the consumer, from 1 (0 outside consumers).
    pub attempt: u32,
}

impl Message {
    /// The value of the first property called `name`.
    ///
    /// ```
    /// let message = weir_sdk::Message {
    ///     properties: vec![("region".into(), "eu".into())],
    ///     ..Default::default()
    /// };
    /// assert_eq!(message.property("region"), Some("eu"));
    /// assert_eq!(message.property("missing"), None);
    /// ```
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, when it is valid UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// An [`Outgoing`] message to `topic` with this message's keys, tag, message group,
    /// properties and body.
    ///
    /// ```
    /// let message = weir_sdk::Message {
    ///     keys: vec!["order-1".into()],
    ///     body: b"hello".to_vec(),
    ///     ..Default::default()
    /// };
    /// let copy = message.into_outgoing("orders-eu");
    /// assert_eq!(copy.topic, "orders-eu");
    /// assert_eq!(copy.keys, ["order-1"]);
    /// assert_eq!(copy.body, b"hello");
    /// ```
    pub fn into_outgoing(self, topic: impl Into<String>) -> Outgoing {
        Outgoing {
            topic: topic.into(),
            keys: self.keys,
            tag: self.tag,
            message_group: self.message_group,
            properties: self.properties,
            body: self.body,
        }
    }
}

/// A message a consumer publishes with [`publish`](crate::publish).
///
/// ```
/// use weir_sdk::Outgoing;
///
/// let message = Outgoing::new("audit", "order 1001 shipped")
///     .key("order-1001")
///     .tag("shipped")
///     .property("source", "forwarder");
/// assert_eq!(message.properties, [("source".to_string(), "forwarder".to_string())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outgoing {
    /// The topic to send to.
    pub topic: String,
    /// Business keys.
    pub keys: Vec<String>,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The message group, if any.
    pub message_group: Option<String>,
    /// User properties.
    pub properties: Vec<(String, String)>,
    /// The payload.
    pub body: Vec<u8>,
}

impl Outgoing {
    /// A message to `topic` carrying `body`, without keys, tag, group or properties.
    pub fn new(topic: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            topic: topic.into(),
            body: body.into(),
            ..Self::default()
        }
    }

    /// Adds a business key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// Sets the tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Sets the message group.
    pub fn message_group(mut self, group: impl Into<String>) -> Self {
        self.message_group = Some(group.into());
        self
    }

    /// Sets a user property, replacing an earlier value of the same name.
    pub fn property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let value = value.into();
        match self.properties.iter_mut().find(|(key, _)| *key == name) {
            Some(slot) => slot.1 = value,
            None => self.properties.push((name, value)),
        }
        self
    }
}

impl From<types::Message> for Message {
    fn from(message: types::Message) -> Self {
        Self {
            id: message.id,
            topic: message.topic,
            queue: message.queue,
            offset: message.offset,
            keys: message.keys,
            tag: message.tag,
            message_group: message.message_group,
            properties: message.properties,
            body: message.body,
            born_ms: message.born_ms,
            attempt: message.attempt,
        }
    }
}

impl From<Outgoing> for types::Outgoing {
    fn from(message: Outgoing) -> Self {
        Self {
            topic: message.topic,
            keys: message.keys,
            tag: message.tag,
            message_group: message.message_group,
            properties: message.properties,
            body: message.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_replaces_an_earlier_value() {
        let message = Outgoing::new("t", "b")
            .property("a", "1")
            .property("a", "2");
        assert_eq!(message.properties, [("a".to_string(), "2".to_string())]);
    }

    #[test]
    fn body_str_is_none_for_binary_bodies() {
        let message = Message {
            body: vec![0xff, 0xfe],
            ..Message::default()
        };
        assert_eq!(message.body_str(), None);
    }
}

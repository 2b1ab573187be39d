//! What happens to a message on its way to the target topic.
//!
//! Keys, message group, properties and body travel unchanged, then the config's changes
//! apply in this order: properties removed, properties added (replacing), the origin
//! property, the tag, the body upper-cased.

use weir_sdk::{Message, Outgoing};

use crate::config::Config;

/// The message to publish for `message` under `config`.
pub(crate) fn forward(config: &Config, message: Message) -> Outgoing {
    let origin = message.id.clone();
    let mut outgoing = message.into_outgoing(config.to.as_str());
    outgoing
        .properties
        .retain(|(name, _)| !config.remove_properties.contains(name));
    for (name, value) in &config.add_properties {
        outgoing = outgoing.property(name, value);
    }
    if let Some(name) = &config.origin_property {
        outgoing = outgoing.property(name, origin);
    }
    if let Some(tag) = &config.tag {
        outgoing.tag = Some(tag.clone());
    }
    if config.uppercase
        && let Ok(text) = std::str::from_utf8(&outgoing.body)
    {
        outgoing.body = text.to_uppercase().into_bytes();
    }
    outgoing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn applies_every_change() {
        let config = parse(
            r#"{"to":"eu","add_properties":{"region":"eu","kind":"new"},
                "remove_properties":["internal"],"tag":"fwd","uppercase":true,
                "origin_property":"from"}"#,
        )
        .unwrap();
        let message = Message {
            id: "m-1".into(),
            keys: vec!["k".into()],
            tag: Some("old".into()),
            message_group: Some("g".into()),
            properties: vec![
                ("kind".into(), "old".into()),
                ("internal".into(), "x".into()),
            ],
            body: "grüße".as_bytes().to_vec(),
            ..Message::default()
        };
        let out = forward(&config, message);
        assert_eq!(out.topic, "eu");
        assert_eq!(out.keys, ["k"]);
        assert_eq!(out.tag.as_deref(), Some("fwd"));
        assert_eq!(out.message_group.as_deref(), Some("g"));
        let properties: Vec<(&str, &str)> = out
            .properties
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            properties,
            [("kind", "new"), ("region", "eu"), ("from", "m-1")]
        );
        assert_eq!(out.body, "GRÜSSE".as_bytes());
    }

    #[test]
    fn binary_bodies_pass_unchanged() {
        let config = parse(r#"{"to":"t","uppercase":true}"#).unwrap();
        let message = Message {
            body: vec![0xff, b'a'],
            ..Message::default()
        };
        assert_eq!(forward(&config, message).body, [0xff, b'a']);
    }
}

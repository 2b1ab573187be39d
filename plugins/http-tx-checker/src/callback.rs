//! The JSON body of a POST check: the same shape as the broker's own check-back callback
//! (`docs/scheduling.md`), so a service written for producer-group callbacks answers this
//! checker unchanged:
//!
//! ```json
//! {"transaction":"...","topic":"orders","checks":1,
//!  "message":{"id":"...","topic":"orders","keys":[],"properties":{},"born_ms":0,"body":"..."}}
//! ```
//!
//! A body that is not UTF-8 travels as `body_base64` instead of `body`. The broker's
//! callback also carries `producer_group` and `store_ms`, which a plugin does not see.

use std::collections::BTreeMap;

use serde::Serialize;
use weir_sdk::Message;

/// The request body.
#[derive(Serialize)]
struct CheckBack<'a> {
    transaction: &'a str,
    topic: &'a str,
    checks: u32,
    message: MessageJson<'a>,
}

/// The half message, as the broker's API shows messages.
#[derive(Serialize)]
struct MessageJson<'a> {
    id: &'a str,
    topic: &'a str,
    keys: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_group: Option<&'a str>,
    properties: BTreeMap<&'a str, &'a str>,
    born_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

/// The body of a POST about `half` at its `checks`-th check.
pub(crate) fn body(half: &Message, checks: u32) -> Vec<u8> {
    let text = half.body_str();
    let message = MessageJson {
        id: &half.id,
        topic: &half.topic,
        keys: &half.keys,
        tag: half.tag.as_deref(),
        message_group: half.message_group.as_deref(),
        properties: half
            .properties
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect(),
        born_ms: half.born_ms,
        body: text,
        body_base64: text.is_none().then(|| base64(&half.body)),
    };
    let check_back = CheckBack {
        transaction: &half.id,
        topic: &half.topic,
        checks,
        message,
    };
    // Serialising borrowed strings and maps of strings cannot fail.
    serde_json::to_vec(&check_back).unwrap_or_default()
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn text_bodies_travel_as_text() {
        let half = Message {
            id: "tx-1".into(),
            topic: "orders".into(),
            keys: vec!["k".into()],
            properties: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            body: b"hello".to_vec(),
            born_ms: 5,
            ..Message::default()
        };
        let body: Value = serde_json::from_slice(&body(&half, 4)).unwrap();
        assert_eq!(
            body,
            json!({"transaction":"tx-1","topic":"orders","checks":4,
                   "message":{"id":"tx-1","topic":"orders","keys":["k"],
                              "properties":{"a":"1","b":"2"},"born_ms":5,"body":"hello"}})
        );
    }

    #[test]
    fn binary_bodies_travel_as_base64() {
        let half = Message {
            body: vec![0xff, 0x00, 0x10, 0x20],
            ..Message::default()
        };
        let body: Value = serde_json::from_slice(&body(&half, 0)).unwrap();
        assert_eq!(body["message"]["body_base64"], "/wAQIA==");
        assert!(body["message"].get("body").is_none());
    }

    #[test]
    fn base64_pads_every_length() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }
}

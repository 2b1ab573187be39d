//! Binary message lists (`application/vnd.weir.messages`), which the client asks for on
//! reads by offset and receives: bodies are sliced out of the answer without copying, and
//! nothing is JSON-escaped or base64-encoded on the way. The layout and its decoder are
//! `weir_wire::message_list`, shared with the broker's encoder; this module owns asking
//! for the format and turning what it decodes into [`Message`]s and [`Received`]s.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body_util::Full;
use weir_wire::message_list::{self, CONTENT_TYPE, List};

use crate::{ClientError, Message, Received};

/// Asks for the binary format.
pub(crate) fn accept(request: &mut Request<Full<Bytes>>) {
    request
        .headers_mut()
        .insert(http::header::ACCEPT, HeaderValue::from_static(CONTENT_TYPE));
}

/// Decodes a list; any malformed input is an error, never a panic.
pub(crate) fn decode(body: Bytes) -> Result<List, ClientError> {
    message_list::decode(body).map_err(|err| ClientError::Decode(err.to_string()))
}

/// A listed message without its delivery; times before the epoch read as 0.
pub(crate) fn into_message(listed: message_list::Message) -> Message {
    let mut properties = BTreeMap::new();
    // The last of a name wins.
    properties.extend(listed.properties);
    Message {
        id: listed.id,
        topic: listed.topic,
        queue: listed.queue,
        offset: listed.offset,
        keys: listed.keys,
        tag: listed.tag,
        properties,
        born_ms: listed.born_ms.max(0) as u64,
        store_ms: listed.store_ms.max(0) as u64,
        body: listed.body,
    }
}

/// A listed message with its delivery.
pub(crate) fn into_received(mut listed: message_list::Message) -> Received {
    let message_group = listed.message_group.take();
    let (receipt, attempt, first_delivery_ms, resent) = (
        std::mem::take(&mut listed.receipt),
        listed.attempt,
        listed.first_delivery_ms,
        listed.resent,
    );
    let m = into_message(listed);
    Received {
        id: m.id,
        topic: m.topic,
        queue: m.queue,
        offset: m.offset,
        keys: m.keys,
        tag: m.tag,
        message_group,
        properties: m.properties,
        body: m.body,
        born_ms: m.born_ms,
        store_ms: m.store_ms,
        receipt,
        attempt,
        first_delivery_ms,
        resent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed() -> message_list::Message {
        message_list::Message {
            id: "id-1".into(),
            topic: "orders".into(),
            queue: 3,
            offset: 42,
            born_ms: 1000,
            store_ms: 1001,
            tag: Some("created".into()),
            message_group: Some("g".into()),
            keys: vec!["k1".into()],
            properties: vec![("p".into(), "v".into()), ("p".into(), "w".into())],
            body: Bytes::from_static(b"\x00\xffx"),
            receipt: "receipt-1".into(),
            attempt: 2,
            first_delivery_ms: 999,
            resent: true,
        }
    }

    #[test]
    fn a_delivery_is_received_with_every_field() {
        let received = into_received(listed());
        assert_eq!(
            (received.id.as_str(), received.topic.as_str()),
            ("id-1", "orders")
        );
        assert_eq!((received.queue, received.offset), (3, 42));
        assert_eq!((received.born_ms, received.store_ms), (1000, 1001));
        assert_eq!(received.tag.as_deref(), Some("created"));
        assert_eq!(received.message_group.as_deref(), Some("g"));
        assert_eq!(received.keys, vec!["k1"]);
        assert_eq!(
            received.properties.get("p").map(String::as_str),
            Some("w"),
            "the last of a name wins"
        );
        assert_eq!(received.body.as_ref(), b"\x00\xffx");
        assert_eq!(received.receipt, "receipt-1");
        assert_eq!((received.attempt, received.first_delivery_ms), (2, 999));
        assert!(received.resent);
    }

    #[test]
    fn times_before_the_epoch_read_as_zero() {
        let message = into_message(message_list::Message {
            born_ms: -5,
            store_ms: i64::MIN,
            ..listed()
        });
        assert_eq!((message.born_ms, message.store_ms), (0, 0));
    }

    #[test]
    fn malformed_lists_are_decode_errors() {
        let err = decode(Bytes::from_static(b"WRM1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected answer from the broker: binary message list: truncated in header"
        );
    }
}

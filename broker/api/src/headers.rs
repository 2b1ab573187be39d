//! The raw send form: a message's attributes carried in `weir-*` request headers,
//! including a delay and the transaction headers of a half message.

use bytes::Bytes;
use http::HeaderMap;
use weir_core::MessageDraft;

use crate::ApiError;
use crate::delayed::{DelayRequest, Source};
use crate::send::{HalfOptions, Outgoing};

/// Header carrying a client-chosen message id.
pub const MESSAGE_ID: &str = "weir-message-id";
/// Header carrying comma-separated business keys.
pub const KEYS: &str = "weir-keys";
/// Header carrying the tag.
pub const TAG: &str = "weir-tag";
/// Header carrying the message group (sharding key).
pub const MESSAGE_GROUP: &str = "weir-message-group";
/// Header pinning a queue.
pub const QUEUE: &str = "weir-queue";
/// Prefix of headers carrying user properties.
pub const PROPERTY_PREFIX: &str = "weir-prop-";
/// Header asking for delivery this many milliseconds from now.
pub const DELAY_MS: &str = "weir-delay-ms";
/// Header asking for delivery at an absolute time, ms since the epoch.
pub const DELIVER_AT: &str = "weir-deliver-at";
/// Header asking for delivery after one of RocketMQ's delay levels (1 to 18).
pub const DELAY_LEVEL: &str = "weir-delay-level";
/// Header making a send transactional; its only value is [`HALF`].
pub const TRANSACTION: &str = "weir-transaction";
/// The value of [`TRANSACTION`]: send a half message.
pub use weir_wire::send::HALF;
/// Header naming the producer group asked at check-back.
pub const PRODUCER_GROUP: &str = "weir-producer-group";
/// Header setting when the first check-back of a transaction is due, ms after the send.
pub const TX_CHECK_AFTER_MS: &str = "weir-tx-check-after-ms";

/// Headers that only a single send understands; a batch request carrying one is refused
/// rather than sent without it (its messages carry these attributes in their entries).
/// Every `weir-prop-*` header is refused too.
pub(crate) const SINGLE_SEND_ONLY: &[&str] = &[
    MESSAGE_ID,
    KEYS,
    TAG,
    MESSAGE_GROUP,
    QUEUE,
    DELAY_MS,
    DELIVER_AT,
    DELAY_LEVEL,
    TRANSACTION,
    PRODUCER_GROUP,
    TX_CHECK_AFTER_MS,
];

/// The first header of `headers` that only a single send understands.
pub(crate) fn single_send_header(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .keys()
        .map(http::HeaderName::as_str)
        .find(|name| SINGLE_SEND_ONLY.contains(name) || name.starts_with(PROPERTY_PREFIX))
}

/// Builds a send from headers and a raw body. `now` is the clock relative delays count
/// from; `max_delay_ms` the longest delay allowed.
pub(crate) fn draft_from_headers(
    headers: &HeaderMap,
    body: Bytes,
    now: i64,
    max_delay_ms: u64,
) -> Result<Outgoing, ApiError> {
    let mut draft = MessageDraft::new(body);
    draft.id = text(headers, MESSAGE_ID)?;
    draft.tag = text(headers, TAG)?;
    draft.message_group = text(headers, MESSAGE_GROUP)?;
    if let Some(keys) = text(headers, KEYS)? {
        draft.keys = keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
    }
    draft.queue = number(headers, QUEUE, "a queue number")?;
    for (name, value) in headers {
        if let Some(property) = name.as_str().strip_prefix(PROPERTY_PREFIX) {
            let value = std::str::from_utf8(value.as_bytes())
                .map_err(|_| ApiError::invalid_header(format!("header '{name}' is not UTF-8")))?;
            draft
                .properties
                .push((property.to_string(), value.to_string()));
        }
    }
    let delay = DelayRequest {
        delay_ms: number(headers, DELAY_MS, "a number of milliseconds")?,
        deliver_at: number(headers, DELIVER_AT, "a time in ms since the epoch")?,
        delay_level: number(headers, DELAY_LEVEL, "a delay level from 1 to 18")?,
    };
    let half = match text(headers, TRANSACTION)?.as_deref() {
        Some(HALF) => Some(HalfOptions {
            producer_group: text(headers, PRODUCER_GROUP)?,
            check_after_ms: number(headers, TX_CHECK_AFTER_MS, "a number of milliseconds")?,
        }),
        Some(other) => {
            return Err(ApiError::invalid_header(format!(
                "{TRANSACTION} must be '{HALF}', got '{other}'"
            )));
        }
        None => {
            for name in [PRODUCER_GROUP, TX_CHECK_AFTER_MS] {
                if headers.contains_key(name) {
                    return Err(ApiError::invalid_header(format!(
                        "header '{name}' goes only with '{TRANSACTION}: {HALF}'"
                    )));
                }
            }
            None
        }
    };
    if half.is_some() && !delay.is_empty() {
        return Err(ApiError::invalid_argument(
            "a transactional message cannot also be delayed",
        ));
    }
    draft.deliver_at = delay.resolve(Source::Headers, now, max_delay_ms)?;
    Ok(Outgoing { draft, half })
}

/// A number header; `400 INVALID_HEADER` naming what it must be when it does not parse.
fn number<T: std::str::FromStr>(
    headers: &HeaderMap,
    name: &str,
    what: &str,
) -> Result<Option<T>, ApiError> {
    text(headers, name)?
        .map(|value| {
            value.trim().parse().map_err(|_| {
                ApiError::invalid_header(format!("{name} must be {what}, got '{value}'"))
            })
        })
        .transpose()
}

fn text(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_header(format!(
            "header '{name}' is given more than once"
        )));
    }
    let value = std::str::from_utf8(value.as_bytes())
        .map_err(|_| ApiError::invalid_header(format!("header '{name}' is not UTF-8")))?;
    Ok(Some(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const MAX: u64 = 40 * 24 * 3_600_000;

    fn parse(headers: &HeaderMap) -> Result<Outgoing, ApiError> {
        draft_from_headers(headers, Bytes::from_static(b"x"), 1_000, MAX)
    }

    fn code(pairs: &[(&'static str, &'static str)]) -> &'static str {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        parse(&headers).err().map_or("OK", |e| e.code)
    }

    #[test]
    fn headers_become_a_draft() {
        let mut headers = HeaderMap::new();
        headers.insert(KEYS, HeaderValue::from_static("a, b"));
        headers.insert(TAG, HeaderValue::from_bytes("tëst".as_bytes()).unwrap());
        headers.insert(QUEUE, HeaderValue::from_static("2"));
        headers.insert("weir-prop-source", HeaderValue::from_static("web"));
        let Outgoing { draft, half } = parse(&headers).unwrap();
        assert_eq!(draft.keys, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(draft.tag.as_deref(), Some("tëst"));
        assert_eq!(draft.queue, Some(2));
        assert_eq!(
            draft.properties,
            vec![("source".to_string(), "web".to_string())]
        );
        assert_eq!(draft.deliver_at, None);
        assert!(half.is_none());
    }

    #[test]
    fn delay_headers_set_the_delivery_time() {
        for (name, value, at) in [
            (DELAY_MS, "250", 1_250),
            (DELIVER_AT, "9000", 9_000),
            (DELAY_LEVEL, "2", 6_000),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(value));
            assert_eq!(
                parse(&headers).unwrap().draft.deliver_at,
                Some(at),
                "{name}"
            );
        }
    }

    #[test]
    fn transaction_headers_make_a_half_send() {
        let mut headers = HeaderMap::new();
        headers.insert(TRANSACTION, HeaderValue::from_static("half"));
        headers.insert(PRODUCER_GROUP, HeaderValue::from_static("pg"));
        headers.insert(TX_CHECK_AFTER_MS, HeaderValue::from_static("100"));
        let half = parse(&headers).unwrap().half.unwrap();
        assert_eq!(half.producer_group.as_deref(), Some("pg"));
        assert_eq!(half.check_after_ms, Some(100));
    }

    #[test]
    fn bad_headers_are_refused() {
        for (pairs, expected) in [
            (&[(QUEUE, "-1")][..], "INVALID_HEADER"),
            (&[(TAG, "a"), (TAG, "b")], "INVALID_HEADER"),
            (&[(DELAY_MS, "soon")], "INVALID_HEADER"),
            (&[(DELAY_MS, "-5")], "INVALID_HEADER"),
            (&[(DELIVER_AT, "1.5")], "INVALID_HEADER"),
            (&[(DELAY_LEVEL, "x")], "INVALID_HEADER"),
            (&[(DELAY_MS, "1"), (DELIVER_AT, "1")], "INVALID_HEADER"),
            (&[(DELAY_LEVEL, "0")], "INVALID_ARGUMENT"),
            (&[(DELAY_LEVEL, "19")], "INVALID_ARGUMENT"),
            (&[(DELAY_MS, "3456000001")], "INVALID_ARGUMENT"),
            (&[(TRANSACTION, "begin")], "INVALID_HEADER"),
            (&[(PRODUCER_GROUP, "pg")], "INVALID_HEADER"),
            (&[(TX_CHECK_AFTER_MS, "10")], "INVALID_HEADER"),
            (
                &[(TRANSACTION, "half"), (TX_CHECK_AFTER_MS, "x")],
                "INVALID_HEADER",
            ),
            (
                &[(TRANSACTION, "half"), (DELAY_MS, "10")],
                "INVALID_ARGUMENT",
            ),
        ] {
            assert_eq!(code(pairs), expected, "{pairs:?}");
        }
    }
}

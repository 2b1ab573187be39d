//! The raw send form: a message's attributes carried in `weir-*` request headers.

use bytes::Bytes;
use http::HeaderMap;
use http::StatusCode;
use weir_core::MessageDraft;

use crate::ApiError;

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
/// Headers of features this version does not offer; refused rather than ignored.
const NOT_SUPPORTED: &[&str] = &[
    "weir-delay-ms",
    "weir-deliver-at",
    "weir-delay-level",
    "weir-transaction",
];

/// Builds a draft from headers and a raw body.
pub(crate) fn draft_from_headers(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<MessageDraft, ApiError> {
    for name in NOT_SUPPORTED {
        if headers.contains_key(*name) {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "NOT_SUPPORTED",
                format!("header '{name}' is not supported by this broker version"),
            ));
        }
    }
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
    if let Some(queue) = text(headers, QUEUE)? {
        draft.queue = Some(queue.parse().map_err(|_| {
            ApiError::invalid_header(format!("{QUEUE} must be a queue number, got '{queue}'"))
        })?);
    }
    for (name, value) in headers {
        if let Some(property) = name.as_str().strip_prefix(PROPERTY_PREFIX) {
            let value = std::str::from_utf8(value.as_bytes())
                .map_err(|_| ApiError::invalid_header(format!("header '{name}' is not UTF-8")))?;
            draft
                .properties
                .push((property.to_string(), value.to_string()));
        }
    }
    Ok(draft)
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

    #[test]
    fn headers_become_a_draft() {
        let mut headers = HeaderMap::new();
        headers.insert(KEYS, HeaderValue::from_static("a, b"));
        headers.insert(TAG, HeaderValue::from_bytes("tëst".as_bytes()).unwrap());
        headers.insert(QUEUE, HeaderValue::from_static("2"));
        headers.insert("weir-prop-source", HeaderValue::from_static("web"));
        let draft = draft_from_headers(&headers, Bytes::from_static(b"x")).unwrap();
        assert_eq!(draft.keys, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(draft.tag.as_deref(), Some("tëst"));
        assert_eq!(draft.queue, Some(2));
        assert_eq!(
            draft.properties,
            vec![("source".to_string(), "web".to_string())]
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(QUEUE, HeaderValue::from_static("-1"));
        assert_eq!(
            draft_from_headers(&headers, Bytes::new()).unwrap_err().code,
            "INVALID_HEADER"
        );
        let mut headers = HeaderMap::new();
        headers.insert("weir-delay-ms", HeaderValue::from_static("10"));
        assert_eq!(
            draft_from_headers(&headers, Bytes::new()).unwrap_err().code,
            "NOT_SUPPORTED"
        );
        let mut headers = HeaderMap::new();
        headers.append(TAG, HeaderValue::from_static("a"));
        headers.append(TAG, HeaderValue::from_static("b"));
        assert_eq!(
            draft_from_headers(&headers, Bytes::new()).unwrap_err().code,
            "INVALID_HEADER"
        );
    }
}

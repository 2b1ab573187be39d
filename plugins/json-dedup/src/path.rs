//! Field paths into a JSON document, and how the value found becomes a key.
//!
//! A path is either dot-separated names, `order.id`, where a segment made of digits
//! indexes an array (`items.0.sku`), or a JSON pointer (RFC 6901), `/order/id`, for names
//! that contain dots. A string value is the key as it is; a number or boolean is its JSON
//! text; an object or array is its compact JSON text (object keys sorted), so equal
//! values give equal keys; `null` gives no key.

use serde_json::Value;

/// A parsed field path: the segments from the document's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath(Vec<String>);

impl FieldPath {
    /// Parses a dotted path or a JSON pointer.
    pub(crate) fn parse(path: &str) -> Result<Self, String> {
        let segments: Vec<String> = if let Some(pointer) = path.strip_prefix('/') {
            pointer
                .split('/')
                .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
                .collect()
        } else {
            path.split('.').map(str::to_owned).collect()
        };
        if path.is_empty() || (!path.starts_with('/') && segments.iter().any(String::is_empty)) {
            return Err(format!("{path:?} is not a field path such as `order.id`"));
        }
        Ok(Self(segments))
    }

    /// The value at this path in `document`, if there is one.
    pub(crate) fn lookup<'a>(&self, document: &'a Value) -> Option<&'a Value> {
        self.0
            .iter()
            .try_fold(document, |value, segment| match value {
                Value::Object(map) => map.get(segment),
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
                _ => None,
            })
    }
}

/// The key text of a value (`None` for `null`).
pub(crate) fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_unescape_slashes_and_tildes() {
        let document = json!({"a/b": {"c~d": 1}, "x.y": 2});
        let pointer = FieldPath::parse("/a~1b/c~0d").unwrap();
        assert_eq!(pointer.lookup(&document), Some(&json!(1)));
        assert_eq!(
            FieldPath::parse("/x.y").unwrap().lookup(&document),
            Some(&json!(2))
        );
        assert_eq!(FieldPath::parse("x.y").unwrap().lookup(&document), None);
    }

    #[test]
    fn values_become_keys() {
        assert_eq!(key_text(&json!("a")).as_deref(), Some("a"));
        assert_eq!(key_text(&json!(1.5)).as_deref(), Some("1.5"));
        assert_eq!(key_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(
            key_text(&json!({"b":1,"a":2})).as_deref(),
            Some(r#"{"a":2,"b":1}"#)
        );
        assert_eq!(key_text(&json!(null)), None);
    }
}

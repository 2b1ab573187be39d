//! `json-dedup`, a Weir dedup filter: the dedup key of a message is the value of one or
//! more fields of its JSON body, named by the binding's config.
//!
//! * `config`: the binding's config string, parsed and cached;
//! * `path`: field paths, and how a value becomes a key.
//!
//! A body that is not JSON, or lacks a field, has no key: the broker never treats it as a
//! duplicate. A config that does not parse is logged once per instance and gives no keys
//! either, so a mistake in a binding lets messages through rather than dropping them.

mod config;
mod path;

use weir_sdk::{DedupFilter, Message};

use crate::config::Fields;

/// The dedup filter.
pub struct JsonDedup;

impl DedupFilter for JsonDedup {
    fn dedup_key(config: &str, message: &Message) -> Option<String> {
        config::with_fields(config, |fields| key_of(fields, &message.body))
    }
}

weir_sdk::export_dedup_filter!(JsonDedup);

/// The key of a body under `fields`: the field's value, or the values of several fields
/// joined by U+001F (the unit separator, which JSON strings escape, so that `["a","b|c"]`
/// and `["a|b","c"]` never collide).
fn key_of(fields: &Fields, body: &[u8]) -> Option<String> {
    let document: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut key = String::new();
    for (index, field) in fields.paths().iter().enumerate() {
        if index > 0 {
            key.push('\u{1f}');
        }
        key.push_str(&path::key_text(field.lookup(&document)?)?);
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> Message {
        Message {
            body: body.as_bytes().to_vec(),
            ..Message::default()
        }
    }

    #[test]
    fn a_bare_path_names_the_field() {
        let body = r#"{"order":{"id":"A-17","total":3}}"#;
        assert_eq!(
            JsonDedup::dedup_key("order.id", &message(body)).as_deref(),
            Some("A-17")
        );
    }

    #[test]
    fn a_json_config_names_the_field() {
        let body = r#"{"order":{"id":17}}"#;
        let config = r#"{"field":"order.id"}"#;
        assert_eq!(
            JsonDedup::dedup_key(config, &message(body)).as_deref(),
            Some("17")
        );
    }

    #[test]
    fn several_fields_make_one_key() {
        let body = r#"{"tenant":"t1","order":{"id":9}}"#;
        let config = r#"{"fields":["tenant","order.id"]}"#;
        assert_eq!(
            JsonDedup::dedup_key(config, &message(body)).as_deref(),
            Some("t1\u{1f}9")
        );
        assert_eq!(
            JsonDedup::dedup_key(config, &message(r#"{"tenant":"t1"}"#)),
            None
        );
    }

    #[test]
    fn non_json_bodies_and_missing_fields_have_no_key() {
        assert_eq!(JsonDedup::dedup_key("id", &message("not json")), None);
        assert_eq!(JsonDedup::dedup_key("id", &message(r#"{"other":1}"#)), None);
        assert_eq!(JsonDedup::dedup_key("id", &message(r#"{"id":null}"#)), None);
        assert_eq!(JsonDedup::dedup_key("id", &message("[1,2]")), None);
    }

    #[test]
    fn array_indices_and_json_pointers_reach_into_arrays() {
        let body = r#"{"items":[{"sku":"x"},{"sku":"y"}]}"#;
        assert_eq!(
            JsonDedup::dedup_key("items.1.sku", &message(body)).as_deref(),
            Some("y")
        );
        assert_eq!(
            JsonDedup::dedup_key("/items/0/sku", &message(body)).as_deref(),
            Some("x")
        );
    }

    #[test]
    fn a_bad_config_gives_no_keys_and_logs_once() {
        weir_sdk::testing::reset();
        let body = r#"{"id":1}"#;
        assert_eq!(JsonDedup::dedup_key("{not json", &message(body)), None);
        assert_eq!(JsonDedup::dedup_key("{not json", &message(body)), None);
        assert_eq!(weir_sdk::testing::logs().len(), 1);
    }
}

//! The binding's config: which fields make the dedup key.
//!
//! Accepted forms:
//!
//! * a bare field path: `order.id` (or a JSON pointer, `/order/id`);
//! * a JSON object with one path, `{"field": "order.id"}`, or several, `{"fields":
//!   ["tenant", "order.id"]}`.
//!
//! The broker calls the filter once per message with the same config, so the parsed form
//! is kept per instance and parsed again only when the config string changes.

use serde::Deserialize;
use weir_sdk::config::ConfigCache;

use crate::path::FieldPath;

/// The fields of a parsed config, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fields(Vec<FieldPath>);

impl Fields {
    /// The field paths, in key order.
    pub(crate) fn paths(&self) -> &[FieldPath] {
        &self.0
    }
}

/// The JSON form of the config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonConfig {
    field: Option<String>,
    fields: Option<Vec<String>>,
}

/// Parses a config string.
pub(crate) fn parse(config: &str) -> Result<Fields, String> {
    let config = config.trim();
    let paths = if config.starts_with('{') {
        let json: JsonConfig = serde_json::from_str(config).map_err(|e| e.to_string())?;
        match (json.field, json.fields) {
            (Some(field), None) => vec![field],
            (None, Some(fields)) if !fields.is_empty() => fields,
            _ => return Err("give exactly one of `field` and a non-empty `fields`".into()),
        }
    } else {
        vec![config.to_owned()]
    };
    paths
        .iter()
        .map(|path| FieldPath::parse(path))
        .collect::<Result<_, _>>()
        .map(Fields)
}

thread_local! {
    static CACHE: ConfigCache<Result<Fields, String>> = const { ConfigCache::new() };
}

/// Runs `f` with the fields of `config`, or answers `None` when the config is invalid
/// (logged the first time this instance sees it).
pub(crate) fn with_fields<R>(config: &str, f: impl FnOnce(&Fields) -> Option<R>) -> Option<R> {
    let parsed = CACHE.with(|cache| {
        cache.get(config, |config| {
            let parsed = parse(config);
            if let Err(error) = &parsed {
                weir_sdk::log::error(format!(
                    "json-dedup: invalid config {config:?}: {error}; no message gets a key"
                ));
            }
            parsed
        })
    });
    f(parsed.as_ref().as_ref().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_agree() {
        let bare = parse("order.id").unwrap();
        assert_eq!(parse(r#"{"field":"order.id"}"#).unwrap(), bare);
        assert_eq!(parse(r#" {"fields":["order.id"]} "#).unwrap(), bare);
        assert_eq!(parse("/order/id").unwrap(), bare);
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(parse("").is_err());
        assert!(parse(r#"{"fields":[]}"#).is_err());
        assert!(parse(r#"{"field":"a","fields":["b"]}"#).is_err());
        assert!(parse(r#"{"feld":"a"}"#).is_err());
        assert!(parse("a..b").is_err());
    }
}

//! The binding's config: whom to ask, and how.
//!
//! Either a bare URL template (`http://127.0.0.1:9000/tx/{transaction}`, asked with GET),
//! or a JSON object:
//!
//! ```json
//! {
//!   "url": "http://orders.internal:9000/tx/{transaction}",
//!   "method": "GET",
//!   "headers": {"authorization": "Bearer s3cret"},
//!   "not_found": "unknown"
//! }
//! ```
//!
//! Only `url` is required; see [`Config`] for each field and [`UrlTemplate`] for the
//! placeholders.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Deserialize;
use weir_sdk::config::ConfigCache;

use crate::template::UrlTemplate;

/// The parsed config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// Where to ask.
    pub(crate) url: UrlTemplate,
    /// How to ask.
    pub(crate) method: Method,
    /// Headers sent with every request.
    pub(crate) headers: BTreeMap<String, String>,
    /// What a 404 means.
    pub(crate) not_found: NotFound,
}

/// How to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Method {
    /// A GET of the URL.
    #[default]
    Get,
    /// A POST of the broker's check-back body (see `callback`) to the URL.
    Post,
}

/// What a 404 from the service means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum NotFound {
    /// Nothing: ask again later (the safe choice while the service may lag behind).
    #[default]
    Unknown,
    /// The service never recorded the transaction: roll it back.
    Rollback,
}

/// The JSON form of the config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonConfig {
    url: String,
    #[serde(default)]
    method: Method,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    not_found: NotFound,
}

/// Parses a config string.
pub(crate) fn parse(config: &str) -> Result<Config, String> {
    let config = config.trim();
    let json = if config.starts_with('{') {
        serde_json::from_str::<JsonConfig>(config).map_err(|e| e.to_string())?
    } else {
        JsonConfig {
            url: config.to_owned(),
            method: Method::default(),
            headers: BTreeMap::new(),
            not_found: NotFound::default(),
        }
    };
    Ok(Config {
        url: UrlTemplate::parse(&json.url)?,
        method: json.method,
        headers: json.headers,
        not_found: json.not_found,
    })
}

thread_local! {
    static CACHE: ConfigCache<Result<Config, String>> = const { ConfigCache::new() };
}

/// The parsed form of `config`, from this instance's cache; an invalid config is logged
/// the first time the instance sees it.
pub(crate) fn parsed(config: &str) -> Rc<Result<Config, String>> {
    CACHE.with(|cache| {
        cache.get(config, |config| {
            let parsed = parse(config);
            if let Err(error) = &parsed {
                weir_sdk::log::error(format!(
                    "http-tx-checker: invalid config {config:?}: {error}; \
                     every transaction stays unknown"
                ));
            }
            parsed
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_template_is_a_get() {
        let bare = parse("http://svc/tx/{transaction}").unwrap();
        assert_eq!(
            parse(r#"{"url":"http://svc/tx/{transaction}"}"#).unwrap(),
            bare
        );
        assert_eq!(bare.method, Method::Get);
        assert_eq!(bare.not_found, NotFound::Unknown);
    }

    #[test]
    fn the_json_form_reads_every_field() {
        let config = parse(
            r#"{"url":"http://svc/","method":"POST","headers":{"a":"b"},"not_found":"rollback"}"#,
        )
        .unwrap();
        assert_eq!(config.method, Method::Post);
        assert_eq!(config.not_found, NotFound::Rollback);
        assert_eq!(config.headers["a"], "b");
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(parse("").is_err());
        assert!(parse(r#"{"url":"http://svc/","method":"PUT"}"#).is_err());
        assert!(parse(r#"{"url":"http://svc/","verb":"GET"}"#).is_err());
        assert!(parse("http://svc/{nope}").is_err());
    }
}

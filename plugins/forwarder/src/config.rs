//! The binding's config: where to forward, and what to change on the way.
//!
//! Either a bare topic name (`orders-eu`), or a JSON object:
//!
//! ```json
//! {
//!   "to": "orders-eu",
//!   "add_properties": {"region": "eu"},
//!   "remove_properties": ["internal"],
//!   "tag": "eu",
//!   "uppercase": false,
//!   "origin_property": "forwarded-from",
//!   "retry_ms": 0,
//!   "dead_letter_after": 5
//! }
//! ```
//!
//! Only `to` is required; see [`Config`] for each field.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::rc::Rc;

use serde::Deserialize;
use weir_sdk::config::ConfigCache;

/// The parsed config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The topic to publish to.
    pub(crate) to: String,
    /// Properties to set, replacing values of the same name.
    #[serde(default)]
    pub(crate) add_properties: BTreeMap<String, String>,
    /// Properties to drop.
    #[serde(default)]
    pub(crate) remove_properties: Vec<String>,
    /// A tag replacing the message's (none: keep the message's tag).
    #[serde(default)]
    pub(crate) tag: Option<String>,
    /// Upper-case the body, when it is UTF-8 text (other bodies pass unchanged).
    #[serde(default)]
    pub(crate) uppercase: bool,
    /// A property that records the id of the original message (none: not recorded).
    #[serde(default)]
    pub(crate) origin_property: Option<String>,
    /// How long to wait before retrying after a failed publish, in ms (0: the group's
    /// backoff).
    #[serde(default)]
    pub(crate) retry_ms: u64,
    /// From which delivery attempt a failed publish dead-letters the message instead of
    /// retrying it (none: never, the group's maximum attempts decide).
    #[serde(default)]
    pub(crate) dead_letter_after: Option<NonZeroU32>,
}

impl Config {
    /// Whether a failed publish on delivery `attempt` gives the message up.
    pub(crate) fn gives_up_on(&self, attempt: u32) -> bool {
        self.dead_letter_after
            .is_some_and(|after| attempt >= after.get())
    }
}

/// Parses a config string.
pub(crate) fn parse(config: &str) -> Result<Config, String> {
    let config = config.trim();
    let parsed = if config.starts_with('{') {
        serde_json::from_str::<Config>(config).map_err(|e| e.to_string())?
    } else {
        Config {
            to: config.to_owned(),
            add_properties: BTreeMap::new(),
            remove_properties: Vec::new(),
            tag: None,
            uppercase: false,
            origin_property: None,
            retry_ms: 0,
            dead_letter_after: None,
        }
    };
    if parsed.to.trim().is_empty() {
        return Err("`to` must name a topic".into());
    }
    Ok(parsed)
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
                    "forwarder: invalid config {config:?}: {error}; messages are retried"
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
    fn only_to_is_required() {
        let full = parse(r#"{"to":"t"}"#).unwrap();
        assert_eq!(parse("t").unwrap(), full);
        assert!(!full.uppercase);
        assert_eq!(full.retry_ms, 0);
        assert_eq!(full.dead_letter_after, None);
    }

    #[test]
    fn dead_letter_after_is_an_attempt_from_1() {
        let parsed = parse(r#"{"to":"t","dead_letter_after":3}"#).unwrap();
        assert_eq!(parsed.dead_letter_after, NonZeroU32::new(3));
        assert!(!parsed.gives_up_on(2));
        assert!(parsed.gives_up_on(3));
        assert!(parsed.gives_up_on(4));
        let null = parse(r#"{"to":"t","dead_letter_after":null}"#).unwrap();
        assert_eq!(null, parse("t").unwrap());
        assert!(!null.gives_up_on(u32::MAX));
        for bad in ["0", "-1", "1.5", "\"3\"", "true", "4294967296"] {
            let config = format!(r#"{{"to":"t","dead_letter_after":{bad}}}"#);
            assert!(parse(&config).is_err(), "accepted {config}");
        }
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(parse("").is_err());
        assert!(parse(r#"{"to":" "}"#).is_err());
        assert!(parse(r#"{"to":"t","upercase":true}"#).is_err());
        assert!(parse(r#"{"to":"t","retry_ms":-1}"#).is_err());
    }
}

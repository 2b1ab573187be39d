//! [`ConfigCache`]: parse a binding's config string once per instance, not once per call.
//!
//! The broker passes the binding's config string to every call. Plugins that parse it
//! (JSON, a URL template, ...) keep the parsed form in a `ConfigCache` and parse again
//! only when the string changes (a binding updated in place). An instance belongs to one
//! binding, and runs one call at a time, so the cache is per thread.

use std::cell::RefCell;
use std::rc::Rc;

/// The parsed form of the last config string an instance saw.
///
/// Usually `T` is a `Result`, so that a config that does not parse is reported once (in
/// `parse`) and remembered as bad until it changes:
///
/// ```
/// use weir_sdk::config::ConfigCache;
///
/// thread_local! {
///     static TOPIC: ConfigCache<Result<String, String>> = const { ConfigCache::new() };
/// }
///
/// fn topic(config: &str) -> Option<String> {
///     let parsed = TOPIC.with(|cache| {
///         cache.get(config, |config| match config.trim() {
///             "" => {
///                 weir_sdk::log::error("the config must name a topic");
///                 Err("no topic".to_string())
///             }
///             topic => Ok(topic.to_string()),
///         })
///     });
///     parsed.as_ref().as_ref().ok().cloned()
/// }
///
/// assert_eq!(topic(" audit ").as_deref(), Some("audit"));
/// assert_eq!(topic(""), None);
/// ```
pub struct ConfigCache<T> {
    last: RefCell<Option<(String, Rc<T>)>>,
}

impl<T> ConfigCache<T> {
    /// An empty cache.
    pub const fn new() -> Self {
        Self {
            last: RefCell::new(None),
        }
    }

    /// The parsed form of `config`: the cached one when `config` is the string seen last,
    /// else `parse(config)`, which replaces it.
    pub fn get(&self, config: &str, parse: impl FnOnce(&str) -> T) -> Rc<T> {
        if let Some((seen, parsed)) = &*self.last.borrow()
            && seen == config
        {
            return Rc::clone(parsed);
        }
        let parsed = Rc::new(parse(config));
        *self.last.borrow_mut() = Some((config.to_owned(), Rc::clone(&parsed)));
        parsed
    }
}

impl<T> Default for ConfigCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn parses_again_only_when_the_config_changes() {
        let cache = ConfigCache::new();
        let parses = Cell::new(0);
        let parse = |config: &str| {
            parses.set(parses.get() + 1);
            config.len()
        };
        assert_eq!(*cache.get("abc", parse), 3);
        assert_eq!(*cache.get("abc", parse), 3);
        assert_eq!(parses.get(), 1);
        assert_eq!(*cache.get("de", parse), 2);
        assert_eq!(parses.get(), 2);
    }
}

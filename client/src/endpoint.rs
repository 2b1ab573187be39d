//! The broker's base URL and the building of request URIs from it.
//!
//! Owns validation of the base URL (plain `http://` only: the broker speaks cleartext
//! HTTP/1.1 and h2c) and the percent-encoding of path segments and query values, so that a
//! client-chosen message id or key holding `/`, `?` or spaces reaches the broker intact.

use std::fmt::Write as _;

use http::Uri;

use crate::ClientError;

/// A validated base URL such as `http://127.0.0.1:7700`, without a trailing slash.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    base: String,
}

impl Endpoint {
    /// Validates `url`: an `http` scheme, a host, no query or fragment. A path prefix is
    /// kept (for a broker behind a reverse proxy); a missing scheme means `http://`.
    pub(crate) fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let uri: Uri = with_scheme
            .parse()
            .map_err(|err: http::uri::InvalidUri| invalid(&err.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(invalid(
                    "https is not supported; the broker speaks plain http",
                ));
            }
            _ => return Err(invalid("the scheme must be http://")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("the URL names no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("a base URL cannot carry a query string"));
        }
        let base = with_scheme
            .split('#')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        Ok(Endpoint { base })
    }

    /// The base URL as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.base
    }

    /// The URI of `path` (which starts with `/`, already encoded) under the base URL.
    pub(crate) fn uri(&self, path: &str) -> Result<Uri, ClientError> {
        let full = format!("{}{path}", self.base);
        full.parse()
            .map_err(|err: http::uri::InvalidUri| ClientError::InvalidUrl {
                url: full.clone(),
                reason: err.to_string(),
            })
    }
}

/// Percent-encodes `raw` for use as one path segment or one query value: everything but
/// RFC 3986 unreserved characters is encoded, so the result never splits a path or query.
pub(crate) fn encode_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_normalised() {
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:7700/").unwrap().as_str(),
            "http://127.0.0.1:7700"
        );
        assert_eq!(
            Endpoint::parse("localhost:7700").unwrap().as_str(),
            "http://localhost:7700"
        );
        assert_eq!(
            Endpoint::parse("http://proxy/weir/").unwrap().as_str(),
            "http://proxy/weir"
        );
    }

    #[test]
    fn unusable_base_urls_are_refused() {
        for url in [
            "https://broker",
            "ftp://broker",
            "http://",
            "http://broker/?a=b",
            "http://a b",
        ] {
            let err = Endpoint::parse(url).unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidUrl { .. }),
                "{url}: {err}"
            );
        }
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("order-1_a.b~c"), "order-1_a.b~c");
        assert_eq!(encode_component("a/b?c d#é"), "a%2Fb%3Fc%20d%23%C3%A9");
    }

    #[test]
    fn uri_joins_base_and_path() {
        let endpoint = Endpoint::parse("http://h:1/p").unwrap();
        assert_eq!(
            endpoint.uri("/v1/topics").unwrap().to_string(),
            "http://h:1/p/v1/topics"
        );
    }
}

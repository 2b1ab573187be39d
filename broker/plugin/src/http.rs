//! Outbound HTTP for plugins: `http-request`, to URLs on the binding's allowlist only.
//!
//! An allowlist entry is a URL prefix such as `http://orders.internal:8080/tx/`. A
//! request is allowed when its scheme and authority (host and port) equal the entry's
//! and its path starts with the entry's path, so `http://a.example` never lets a plugin
//! reach `http://a.example.evil.net`. Only plain `http://` is supported, GET and POST
//! only; paths with dot segments are refused; bodies and answers are bounded, and the request must end within the call's
//! deadline (and [`HTTP_TIMEOUT`]).

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::limits::{
    HTTP_TIMEOUT, MAX_HTTP_HEADERS, MAX_HTTP_REQUEST_BYTES, MAX_HTTP_RESPONSE_BYTES,
};

/// A validated allowlist entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowedPrefix {
    authority: String,
    path: String,
}

impl AllowedPrefix {
    /// Parses an entry: an absolute `http://` URL without query.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("allowlist entry '{text}' is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "allowlist entry '{text}' must start with http:// (only plain HTTP is supported)"
            ));
        }
        let Some(authority) = uri.authority() else {
            return Err(format!("allowlist entry '{text}' has no host"));
        };
        if uri.query().is_some() {
            return Err(format!("allowlist entry '{text}' must not have a query"));
        }
        Ok(Self {
            authority: authority.as_str().to_ascii_lowercase(),
            path: uri.path().to_string(),
        })
    }

    fn allows(&self, uri: &Uri) -> bool {
        // Dot segments (plain or percent-encoded) could climb out of the prefix once the
        // service normalises the path: refuse them outright.
        let path = uri.path().to_ascii_lowercase();
        let climbs = path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
            || path.contains("%2e")
            || path.contains("%2f");
        !climbs
            && uri.scheme_str() == Some("http")
            && uri
                .authority()
                .is_some_and(|a| a.as_str().eq_ignore_ascii_case(&self.authority))
            && uri.path().starts_with(&self.path)
    }
}

/// The shared HTTP client of the plugin host.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpClient {
    pub(crate) fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(HTTP_TIMEOUT));
        Self {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
        }
    }

    /// Performs a request for a plugin, or says why not. `time_left` is what remains of
    /// the call's deadline.
    pub(crate) async fn request(
        &self,
        allowlist: &[AllowedPrefix],
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        time_left: Duration,
    ) -> Result<(u16, Vec<u8>), String> {
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            other => return Err(format!("method '{other}' is not allowed (GET or POST)")),
        };
        let uri: Uri = url.parse().map_err(|e| format!("bad URL '{url}': {e}"))?;
        if !allowlist.iter().any(|prefix| prefix.allows(&uri)) {
            return Err(format!(
                "URL '{url}' is not on this binding's HTTP allowlist"
            ));
        }
        if body.len() > MAX_HTTP_REQUEST_BYTES {
            return Err(format!(
                "request body of {} bytes is over the limit of {MAX_HTTP_REQUEST_BYTES}",
                body.len()
            ));
        }
        if headers.len() > MAX_HTTP_HEADERS {
            return Err(format!(
                "{} headers is over the limit of {MAX_HTTP_HEADERS}",
                headers.len()
            ));
        }
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("host") {
                return Err("the host header is set by the broker".to_string());
            }
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("bad request: {e}"))?;
        let timeout = time_left.min(HTTP_TIMEOUT);
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_HTTP_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the answer failed: {e}"))?
                .to_bytes();
            Ok((status, body.to_vec()))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(prefix: &str, url: &str) -> bool {
        AllowedPrefix::parse(prefix)
            .unwrap()
            .allows(&url.parse().unwrap())
    }

    #[test]
    fn prefixes_match_host_port_and_path() {
        assert!(allows("http://svc:8080/tx/", "http://svc:8080/tx/42"));
        assert!(allows("http://SVC:8080", "http://svc:8080/anything"));
        assert!(!allows("http://svc:8080/tx/", "http://svc:8080/admin"));
        assert!(!allows("http://svc", "http://svc.evil.net/"));
        assert!(!allows("http://svc:8080", "http://svc:8081/"));
        assert!(!allows("http://svc", "https://svc/"));
        assert!(!allows("http://svc/tx/", "http://svc/tx/../admin"));
        assert!(!allows("http://svc/tx/", "http://svc/tx/%2E%2E/admin"));
    }

    #[test]
    fn only_plain_http_prefixes_are_accepted() {
        assert!(AllowedPrefix::parse("https://svc/").is_err());
        assert!(AllowedPrefix::parse("svc/path").is_err());
        assert!(AllowedPrefix::parse("http://svc/?a=b").is_err());
    }
}

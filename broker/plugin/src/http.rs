//! Outbound HTTP for plugins, to URLs on the binding's allowlist only: the `http-request`
//! host call and `wasi:http/outgoing-handler` (see [`crate::wasi_http`]) share this
//! client, its checks and its limits.
//!
//! An allowlist entry is a URL prefix such as `http://orders.internal:8080/tx/`. A
//! request is allowed when its scheme and authority (host and port) equal the entry's
//! and its path starts with the entry's path, so `http://a.example` never lets a plugin
//! reach `http://a.example.evil.net`. Only plain `http://` is supported, GET and POST
//! only; paths with dot segments are refused; bodies and answers are bounded, and the request must end within the call's
//! deadline (and [`HTTP_TIMEOUT`]).

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, Uri};
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

    /// Performs a request of the `http-request` host call, or says why not: the answer's
    /// status and body. `time_left` is what remains of the call's deadline.
    pub(crate) async fn request(
        &self,
        allowlist: &[AllowedPrefix],
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        time_left: Duration,
    ) -> Result<(u16, Vec<u8>), HttpFailure> {
        let uri: Uri = url
            .parse()
            .map_err(|e| HttpFailure::Invalid(format!("bad URL '{url}': {e}")))?;
        let mut request = Request::builder()
            .method(method.to_ascii_uppercase().as_str())
            .uri(uri);
        for (name, value) in headers.iter().take(MAX_HTTP_HEADERS + 1) {
            request = request.header(name, value);
        }
        if headers.len() > MAX_HTTP_HEADERS {
            return Err(HttpFailure::TooLarge(format!(
                "{} headers is over the limit of {MAX_HTTP_HEADERS}",
                headers.len()
            )));
        }
        if headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            return Err(HttpFailure::Invalid(
                "the host header is set by the broker".to_string(),
            ));
        }
        let request = request
            .body(Bytes::from(body))
            .map_err(|e| HttpFailure::Invalid(format!("bad request: {e}")))?;
        let response = self.exchange(allowlist, request, time_left).await?;
        Ok((response.status().as_u16(), response.into_body().to_vec()))
    }

    /// Performs a plugin's request, or says why not; both the `http-request` host call
    /// and `wasi:http/outgoing-handler` come here. The method must be GET or POST, the
    /// URL on `allowlist`, the headers and body within their limits; the answer's body
    /// is read up to [`MAX_HTTP_RESPONSE_BYTES`], all of it within `time_left` (and
    /// [`HTTP_TIMEOUT`]).
    pub(crate) async fn exchange(
        &self,
        allowlist: &[AllowedPrefix],
        request: Request<Bytes>,
        time_left: Duration,
    ) -> Result<Response<Bytes>, HttpFailure> {
        if request.method() != Method::GET && request.method() != Method::POST {
            return Err(HttpFailure::Denied(format!(
                "method '{}' is not allowed (GET or POST)",
                request.method()
            )));
        }
        if !allowlist.iter().any(|prefix| prefix.allows(request.uri())) {
            return Err(HttpFailure::Denied(format!(
                "URL '{}' is not on this binding's HTTP allowlist",
                request.uri()
            )));
        }
        if request.body().len() > MAX_HTTP_REQUEST_BYTES {
            return Err(HttpFailure::TooLarge(format!(
                "request body of {} bytes is over the limit of {MAX_HTTP_REQUEST_BYTES}",
                request.body().len()
            )));
        }
        if request.headers().len() > MAX_HTTP_HEADERS {
            return Err(HttpFailure::TooLarge(format!(
                "{} headers is over the limit of {MAX_HTTP_HEADERS}",
                request.headers().len()
            )));
        }
        let request = request.map(Full::new);
        let timeout = time_left.min(HTTP_TIMEOUT);
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| HttpFailure::Failed(format!("request failed: {e}")))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_HTTP_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| HttpFailure::Failed(format!("reading the answer failed: {e}")))?
                .to_bytes();
            Ok(Response::from_parts(parts, body))
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| {
            HttpFailure::Timeout(format!("no answer within {} ms", timeout.as_millis()))
        })?
    }
}

/// Why a plugin's HTTP request was refused or failed; the text is what the plugin reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HttpFailure {
    /// Not allowed: the method, or a URL off the allowlist.
    Denied(String),
    /// A header count or body over its limit.
    TooLarge(String),
    /// Not a request: a bad URL, header or method name.
    Invalid(String),
    /// No answer within the time left.
    Timeout(String),
    /// The connection or the exchange failed.
    Failed(String),
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpFailure::Denied(reason)
            | HttpFailure::TooLarge(reason)
            | HttpFailure::Invalid(reason)
            | HttpFailure::Timeout(reason)
            | HttpFailure::Failed(reason) => f.write_str(reason),
        }
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

//! Outbound HTTP through the broker.
//!
//! The broker makes the request on the plugin's behalf, only to URLs on the binding's
//! allowlist, under its own timeout and answer size limit; everything else fails with a
//! [`HostError`]. A non-2xx status is not an error: it is in the [`Response`].
//!
//! ```
//! use weir_sdk::http;
//!
//! # fn demo() -> Result<(), weir_sdk::HostError> {
//! let answer = http::get("http://127.0.0.1:9000/tx/42", &[("accept", "text/plain")])?;
//! if answer.is_success() && answer.text() == Some("commit") {
//!     // ...
//! }
//! # Ok(())
//! # }
//! # weir_sdk::testing::reset();
//! # weir_sdk::testing::on_http(|_| Ok(http::Response::new(200, "commit")));
//! # demo().unwrap();
//! ```

use crate::error::HostError;
use crate::imports;

/// The answer to a request: its status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body, as much of it as the broker let through.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status` and `body`.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, when it is valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

/// A GET of `url` with `headers`.
///
/// # Errors
///
/// When the URL is not allowed for the binding, or the request fails (connection,
/// timeout, oversized answer).
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, HostError> {
    request("GET", url, headers, &[])
}

/// A POST of `body` to `url` with `headers`.
///
/// # Errors
///
/// As for [`get`].
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HostError> {
    request("POST", url, headers, body)
}

/// A request with any method the broker accepts (it offers `GET` and `POST`).
///
/// # Errors
///
/// As for [`get`], and when the broker does not offer `method`.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, HostError> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let (status, body) = imports::http_request(method, url, &headers, body)?;
    Ok(Response { status, body })
}

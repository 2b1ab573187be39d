//! The client's error type, and the parsing of the broker's JSON error bodies.
//!
//! Every failure a caller can see is a [`ClientError`]. Its `Display` is written for the
//! person at the terminal: it names the broker's error code and message, or what could not
//! be reached, so a command-line tool can print it as is.

use std::error::Error as StdError;
use std::fmt;

use serde::Deserialize;

/// Everything that can go wrong when talking to a Weir broker.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The broker answered with an error status and a JSON error body.
    ///
    /// `code` is the stable machine-readable code from `docs/http-api.md` (for example
    /// `TOPIC_NOT_FOUND`); match on it rather than on `message`.
    #[error("{code}: {message} (HTTP {status})")]
    Api {
        /// The HTTP status of the answer.
        status: u16,
        /// The broker's stable error code, or `HTTP_<status>` when the body carried none.
        code: String,
        /// The broker's human-readable explanation.
        message: String,
    },
    /// The request did not complete: the broker could not be reached, the connection broke,
    /// or the request timed out.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The broker answered successfully but the body did not have the documented shape.
    #[error("unexpected answer from the broker: {0}")]
    Decode(String),
    /// The base URL given to [`Client::new`](crate::Client::new) cannot be used.
    #[error("invalid broker URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A message cannot be put on the wire as asked (for example a key holding a comma in
    /// the raw form, or a field too long for the binary batch format).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The access token given to [`ClientBuilder::token`](crate::ClientBuilder::token) or
    /// [`Client::with_token`](crate::Client::with_token) cannot be sent.
    #[error("invalid access token: {0}")]
    InvalidToken(String),
}

impl ClientError {
    /// The broker's error code when this is an [`ClientError::Api`] error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status when this is an [`ClientError::Api`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds the error for a non-success answer from its status and body.
    ///
    /// A body in the documented `{"code","message"}` shape gives the code and message; any
    /// other body (a proxy's HTML page, an empty body) gives the code `HTTP_<status>` and,
    /// as message, the start of the body as text.
    pub(crate) fn from_error_body(status: u16, body: &[u8]) -> ClientError {
        #[derive(Deserialize)]
        struct ErrorBody {
            code: String,
            #[serde(default)]
            message: String,
        }
        // Bodies that are not ours are shown, but not in full: a proxy error page can be long.
        const MAX_SHOWN_BODY: usize = 200;

        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => ClientError::Api {
                status,
                code: parsed.code,
                message: parsed.message,
            },
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                let message = if text.is_empty() {
                    "the broker gave no explanation".to_owned()
                } else {
                    let end = text
                        .char_indices()
                        .nth(MAX_SHOWN_BODY)
                        .map_or(text.len(), |(i, _)| i);
                    text[..end].to_owned()
                };
                ClientError::Api {
                    status,
                    code: format!("HTTP_{status}"),
                    message,
                }
            }
        }
    }
}

/// A request that did not get an answer.
///
/// The `Display` already holds the whole chain of causes (for example "connection
/// refused"), so this type deliberately reports no `source()`: printing both would repeat
/// them.
#[derive(Debug)]
pub struct TransportError {
    url: String,
    kind: TransportErrorKind,
    detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransportErrorKind {
    Connect,
    Timeout,
    Other,
}

impl TransportError {
    /// Wraps an error of the HTTP stack, keeping its causes as text.
    pub(crate) fn new(url: &str, err: &(dyn StdError + 'static)) -> TransportError {
        let legacy = err.downcast_ref::<hyper_util::client::legacy::Error>();
        let kind = match legacy {
            Some(legacy) if legacy.is_connect() => TransportErrorKind::Connect,
            _ => TransportErrorKind::Other,
        };
        // The legacy client's own text ("client error (Connect)") says less than its cause.
        let detail = match (legacy, err.source()) {
            (Some(_), Some(cause)) => error_chain(cause),
            _ => error_chain(err),
        };
        TransportError {
            url: url.to_owned(),
            kind,
            detail,
        }
    }

    /// The error for a request that did not complete within the configured timeout.
    pub(crate) fn timeout(url: &str, after: std::time::Duration) -> TransportError {
        TransportError {
            url: url.to_owned(),
            kind: TransportErrorKind::Timeout,
            detail: format!("no answer within {} ms", after.as_millis()),
        }
    }

    /// The error for a send whose task ended before it did (its runtime shut down).
    pub(crate) fn abandoned(url: &str) -> TransportError {
        TransportError {
            url: url.to_owned(),
            kind: TransportErrorKind::Other,
            detail: "the send was abandoned: its runtime shut down before it ended".to_owned(),
        }
    }

    /// A refused connection, for tests of the retry classification.
    #[cfg(test)]
    pub(crate) fn connect_for_tests() -> TransportError {
        TransportError {
            url: "http://127.0.0.1:1/".to_owned(),
            kind: TransportErrorKind::Connect,
            detail: "connection refused".to_owned(),
        }
    }

    /// The URL of the request that failed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the connection to the broker could not be established.
    pub fn is_connect(&self) -> bool {
        self.kind == TransportErrorKind::Connect
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == TransportErrorKind::Timeout
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TransportErrorKind::Connect => {
                write!(
                    f,
                    "cannot connect to the broker at {}: {}",
                    self.url, self.detail
                )?;
                f.write_str("; is it running, and is the server address right?")
            }
            TransportErrorKind::Timeout => {
                write!(f, "request to {} timed out: {}", self.url, self.detail)
            }
            TransportErrorKind::Other => {
                write!(f, "request to {} failed: {}", self.url, self.detail)
            }
        }
    }
}

impl StdError for TransportError {}

/// Joins an error and its causes with ": ", skipping causes whose text repeats the last.
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut last = out.clone();
    let mut cause = err.source();
    while let Some(next) = cause {
        let text = next.to_string();
        if text != last {
            out.push_str(": ");
            out.push_str(&text);
            last = text;
        }
        cause = next.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_error_body_gives_code_and_message() {
        let body = br#"{"code":"TOPIC_NOT_FOUND","message":"topic 'x' does not exist"}"#;
        let err = ClientError::from_error_body(404, body);
        assert_eq!(err.code(), Some("TOPIC_NOT_FOUND"));
        assert_eq!(err.status(), Some(404));
        assert_eq!(
            err.to_string(),
            "TOPIC_NOT_FOUND: topic 'x' does not exist (HTTP 404)"
        );
    }

    #[test]
    fn unknown_fields_in_error_body_are_ignored() {
        let body = br#"{"code":"INVALID_QUEUE","message":"no queue 9","queue":9}"#;
        let err = ClientError::from_error_body(400, body);
        assert_eq!(err.code(), Some("INVALID_QUEUE"));
    }

    #[test]
    fn foreign_error_body_is_shown_as_text() {
        let err = ClientError::from_error_body(502, b"<html>Bad Gateway</html>\n");
        assert_eq!(err.code(), Some("HTTP_502"));
        assert_eq!(
            err.to_string(),
            "HTTP_502: <html>Bad Gateway</html> (HTTP 502)"
        );
    }

    #[test]
    fn empty_error_body_still_explains() {
        let err = ClientError::from_error_body(500, b"");
        assert_eq!(
            err.to_string(),
            "HTTP_500: the broker gave no explanation (HTTP 500)"
        );
    }

    #[test]
    fn long_foreign_body_is_cut() {
        let body = "é".repeat(1000);
        let ClientError::Api { message, .. } = ClientError::from_error_body(500, body.as_bytes())
        else {
            panic!("expected an API error");
        };
        assert_eq!(message.chars().count(), 200);
    }
}

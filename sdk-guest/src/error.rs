//! [`HostError`]: a host service refused a request.

use std::fmt;

/// A host service refused a request: the binding's state quota is full, publishing is not
/// granted, a URL is not on the binding's allowlist, a connection failed, ...
///
/// The broker chooses the message; it is meant for logs and dead-letter reasons, not for
/// matching on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    message: String,
}

impl HostError {
    /// An error with the host's message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The host's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

impl From<String> for HostError {
    fn from(message: String) -> Self {
        Self { message }
    }
}

//! Every error the API answers with: a status, a stable code and a message for humans.
//!
//! Core, store and plugin host errors are mapped one by one; 5xx bodies never carry
//! internals.

use http::{Response, StatusCode};
use serde::Serialize;
use weir_core::CoreError;
use weir_plugin::{ModuleRejection, PluginError};
use weir_store::StoreError;
use weir_wire::codes;

use crate::ResponseBody;

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What happened, for a human.
    pub message: String,
}

/// Longest error message answered, in bytes; longer ones are cut (on a character
/// boundary) and say how much was cut.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 512;

fn cut(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_ERROR_MESSAGE_BYTES {
        return message.into();
    }
    let mut end = MAX_ERROR_MESSAGE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &message[..end], message.len() - end).into()
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn invalid_json(err: impl std::fmt::Display) -> Self {
        Self::bad_request(
            codes::INVALID_JSON,
            format!("request body is not valid: {err}"),
        )
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::bad_request(codes::INVALID_ARGUMENT, message)
    }

    pub(crate) fn invalid_header(message: impl Into<String>) -> Self {
        Self::bad_request(codes::INVALID_HEADER, message)
    }

    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "internal error; see the broker log",
        )
    }

    /// The JSON body `{"code","message"}`, the message cut to [`MAX_ERROR_MESSAGE_BYTES`].
    pub(crate) fn json_body(&self) -> Vec<u8> {
        serde_json::to_vec(&ErrorBody {
            code: self.code,
            message: &cut(&self.message),
        })
        .unwrap_or_default()
    }

    /// A whole HTTP/1.1 answer that closes the connection, for the connection layer,
    /// which answers outside hyper: status line, `extra_headers` (each ending in CRLF),
    /// and the JSON body.
    pub(crate) fn http1_close_answer(&self, extra_headers: &str) -> Vec<u8> {
        let body = self.json_body();
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n{extra_headers}\r\n",
            self.status.as_u16(),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }

    /// The JSON response. The message is cut to [`MAX_ERROR_MESSAGE_BYTES`]: it may echo
    /// client input (names, ids, header values) of any length.
    pub fn into_response(self) -> Response<ResponseBody> {
        let body = self.json_body();
        let mut response = Response::new(ResponseBody::full(body));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        let message = err.to_string();
        match err {
            CoreError::InvalidTopicName { .. } => {
                Self::bad_request(codes::INVALID_TOPIC_NAME, message)
            }
            CoreError::TopicNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::TOPIC_NOT_FOUND, message)
            }
            CoreError::TopicExists(_) => {
                Self::new(StatusCode::CONFLICT, codes::TOPIC_EXISTS, message)
            }
            CoreError::InvalidQueue { .. } => Self::bad_request(codes::INVALID_QUEUE, message),
            CoreError::QueueNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, codes::QUEUE_NOT_FOUND, message)
            }
            CoreError::OffsetOutOfRange { .. } => {
                Self::bad_request(codes::OFFSET_OUT_OF_RANGE, message)
            }
            CoreError::MessageNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::MESSAGE_NOT_FOUND, message)
            }
            CoreError::InvalidArgument(_) => Self::bad_request(codes::INVALID_ARGUMENT, message),
            CoreError::BodyTooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::BODY_TOO_LARGE,
                message,
            ),
            CoreError::BatchTooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::BATCH_TOO_LARGE,
                message,
            ),
            CoreError::EmptyBatch => Self::bad_request(codes::EMPTY_BATCH, message),
            CoreError::InvalidGroupName { .. } => {
                Self::bad_request(codes::INVALID_GROUP_NAME, message)
            }
            CoreError::GroupNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::GROUP_NOT_FOUND, message)
            }
            CoreError::GroupExists(_) => {
                Self::new(StatusCode::CONFLICT, codes::GROUP_EXISTS, message)
            }
            CoreError::ReceiptInvalid(_) => Self::bad_request(codes::RECEIPT_INVALID, message),
            CoreError::ReceiptExpired(_) => {
                Self::new(StatusCode::CONFLICT, codes::RECEIPT_EXPIRED, message)
            }
            CoreError::ConsumerRequired(_) => Self::bad_request(codes::CONSUMER_REQUIRED, message),
            CoreError::DeadLetterNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, codes::DEAD_LETTER_NOT_FOUND, message)
            }
            // Delayed delivery and transactions.
            CoreError::NotScheduled(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::NOT_SCHEDULED, message)
            }
            CoreError::TransactionNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::TRANSACTION_NOT_FOUND, message)
            }
            CoreError::TransactionConflict { .. } => {
                Self::new(StatusCode::CONFLICT, codes::TRANSACTION_CONFLICT, message)
            }
            CoreError::ProducerGroupNotFound(_) => Self::new(
                StatusCode::NOT_FOUND,
                codes::PRODUCER_GROUP_NOT_FOUND,
                message,
            ),
            CoreError::Interrupted { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::STORE_UNAVAILABLE,
                "the broker is shutting down",
            ),
            CoreError::TimerThread(_) | CoreError::UnreadableSnapshot { .. } => {
                tracing::error!(error = %message, "core error");
                Self::internal()
            }
            CoreError::Store(store) => Self::from(store),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Poisoned => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::STORE_UNAVAILABLE,
                "the store refuses writes after a failed fsync; the broker needs an operator",
            ),
            StoreError::DiskFull { .. } => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                codes::DISK_FULL,
                err.to_string(),
            ),
            // The store's message names a path; this one does not.
            StoreError::NoSpace { source, .. } => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                codes::DISK_FULL,
                format!(
                    "disk full: a new commitlog segment cannot be created ({source}); sends \
                     are refused until space is freed"
                ),
            ),
            StoreError::ResourceExhausted { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::RESOURCE_EXHAUSTED,
                "the broker is short of file descriptors or memory; nothing was stored, \
                 retry later",
            ),
            StoreError::InvalidMessage(message) => {
                Self::bad_request(codes::INVALID_ARGUMENT, message)
            }
            StoreError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::STORE_UNAVAILABLE,
                "the broker is shutting down",
            ),
            other => {
                tracing::error!(error = %other, "store error");
                Self::internal()
            }
        }
    }
}

impl From<ModuleRejection> for ApiError {
    fn from(err: ModuleRejection) -> Self {
        let message = err.to_string();
        let unprocessable =
            |code: &'static str| Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message.clone());
        match err {
            ModuleRejection::TooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::MODULE_TOO_LARGE,
                message,
            ),
            ModuleRejection::NotAComponent { .. } => {
                Self::bad_request(codes::NOT_A_COMPONENT, message)
            }
            ModuleRejection::CompileFailed { .. } => unprocessable(codes::COMPILE_FAILED),
            ModuleRejection::MissingInterface { .. } | ModuleRejection::MissingFunction { .. } => {
                unprocessable(codes::MISSING_EXPORT)
            }
            ModuleRejection::WrongSignature { .. } => unprocessable(codes::WRONG_SIGNATURE),
            ModuleRejection::UnsupportedImport { .. } => unprocessable(codes::UNSUPPORTED_IMPORT),
            ModuleRejection::NoWorld { .. } => unprocessable(codes::MISSING_EXPORT),
            ModuleRejection::AmbiguousWorld { .. } => {
                Self::bad_request(codes::INVALID_WORLD, message)
            }
            ModuleRejection::AsyncAbi => unprocessable(codes::ASYNC_ABI_UNSUPPORTED),
        }
    }
}

impl From<PluginError> for ApiError {
    fn from(err: PluginError) -> Self {
        let message = err.to_string();
        match err {
            PluginError::Rejected(rejection) => Self::from(rejection),
            PluginError::InvalidName { .. } => Self::bad_request(codes::INVALID_NAME, message),
            PluginError::ModuleNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, codes::MODULE_NOT_FOUND, message)
            }
            PluginError::ModuleInUse { .. } => {
                Self::new(StatusCode::CONFLICT, codes::MODULE_IN_USE, message)
            }
            PluginError::WorldMismatch { .. } | PluginError::WorldChanged { .. } => {
                Self::new(StatusCode::CONFLICT, codes::WORLD_MISMATCH, message)
            }
            PluginError::BindingNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::BINDING_NOT_FOUND, message)
            }
            PluginError::BindingExists(_) => {
                Self::new(StatusCode::CONFLICT, codes::BINDING_EXISTS, message)
            }
            PluginError::InvalidBinding(_) => Self::bad_request(codes::INVALID_BINDING, message),
            PluginError::TooMany(_) => {
                Self::new(StatusCode::CONFLICT, codes::LIMIT_REACHED, message)
            }
            PluginError::Core(core) => Self::from(core),
            // The messages name no path; the log has the whole error.
            PluginError::Shortage(shortage) => {
                tracing::warn!(error = %message, "module files cannot be written");
                if shortage.is_disk_full() {
                    Self::new(
                        StatusCode::INSUFFICIENT_STORAGE,
                        codes::DISK_FULL,
                        "disk full: the module's files cannot be written; nothing was \
                         registered, upload it again once space is freed",
                    )
                } else {
                    Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        codes::RESOURCE_EXHAUSTED,
                        "the broker is short of file descriptors or memory; the module was \
                         not registered, upload it again later",
                    )
                }
            }
            PluginError::Io { .. } | PluginError::Corrupt(_) | PluginError::Engine(_) => {
                tracing::error!(error = %message, "plugin host error");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short"), "short");
        let long = format!("topic '{}' does not exist", "é".repeat(1000));
        let answer = cut(&long);
        assert!(
            answer.len() < MAX_ERROR_MESSAGE_BYTES + 32,
            "{}",
            answer.len()
        );
        assert!(answer.ends_with(" more bytes)"), "{answer}");
        assert!(answer.starts_with("topic 'éé"));
    }
}

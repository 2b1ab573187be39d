//! The stable error codes of the HTTP API: the `code` field of every JSON error body.
//!
//! The server answers with these and clients match on them; a code, once published,
//! keeps its meaning. This module owns the names only, not the HTTP statuses.

/// The request body is not valid JSON for its route, or has unknown fields.
pub const INVALID_JSON: &str = "INVALID_JSON";
/// A request value is out of range or inconsistent.
pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
/// A `weir-*` request header cannot be parsed.
pub const INVALID_HEADER: &str = "INVALID_HEADER";
/// The broker failed in a way the client cannot fix; the body hides the details.
pub const INTERNAL: &str = "INTERNAL";
/// The request line or a header is not valid HTTP; the connection is closed.
pub const MALFORMED_REQUEST: &str = "MALFORMED_REQUEST";
/// No route has that path.
pub const ROUTE_NOT_FOUND: &str = "ROUTE_NOT_FOUND";
/// The path exists but not with that method.
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
/// The request body arrived too slowly or paused too long.
pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
/// The request target is longer than the server parses.
pub const URI_TOO_LONG: &str = "URI_TOO_LONG";
/// The request head is over the header size limit.
pub const HEADERS_TOO_LARGE: &str = "HEADERS_TOO_LARGE";
/// The body's media type is not one the route takes.
pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
/// The broker is at its connection cap; retry shortly.
pub const TOO_MANY_CONNECTIONS: &str = "TOO_MANY_CONNECTIONS";
/// The request carries no access token, or an unknown one.
pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
/// The token lacks the role the route needs.
pub const FORBIDDEN: &str = "FORBIDDEN";
/// The topic name breaks the naming rules.
pub const INVALID_TOPIC_NAME: &str = "INVALID_TOPIC_NAME";
/// No topic has that name.
pub const TOPIC_NOT_FOUND: &str = "TOPIC_NOT_FOUND";
/// A topic with that name already exists.
pub const TOPIC_EXISTS: &str = "TOPIC_EXISTS";
/// The queue number is not a queue of the topic.
pub const INVALID_QUEUE: &str = "INVALID_QUEUE";
/// The topic has no queue with that number.
pub const QUEUE_NOT_FOUND: &str = "QUEUE_NOT_FOUND";
/// The offset lies outside the queue's stored range.
pub const OFFSET_OUT_OF_RANGE: &str = "OFFSET_OUT_OF_RANGE";
/// An offset or `max` query parameter is missing, negative or not a number.
pub const INVALID_OFFSET: &str = "INVALID_OFFSET";
/// No stored message has that id.
pub const MESSAGE_NOT_FOUND: &str = "MESSAGE_NOT_FOUND";
/// The request or message body exceeds its size limit.
pub const BODY_TOO_LARGE: &str = "BODY_TOO_LARGE";
/// The batch holds more messages or bytes than allowed.
pub const BATCH_TOO_LARGE: &str = "BATCH_TOO_LARGE";
/// The batch holds no messages.
pub const EMPTY_BATCH: &str = "EMPTY_BATCH";
/// A binary batch body is truncated or malformed.
pub const INVALID_BATCH: &str = "INVALID_BATCH";
/// The consumer group name breaks the naming rules.
pub const INVALID_GROUP_NAME: &str = "INVALID_GROUP_NAME";
/// No consumer group has that name.
pub const GROUP_NOT_FOUND: &str = "GROUP_NOT_FOUND";
/// A consumer group with that name already exists.
pub const GROUP_EXISTS: &str = "GROUP_EXISTS";
/// The receipt handle is malformed or not the group's.
pub const RECEIPT_INVALID: &str = "RECEIPT_INVALID";
/// The receipt handle's invisible time has passed.
pub const RECEIPT_EXPIRED: &str = "RECEIPT_EXPIRED";
/// The operation needs a consumer identity the request did not give.
pub const CONSUMER_REQUIRED: &str = "CONSUMER_REQUIRED";
/// The group's dead-letter queue has no message with that id.
pub const DEAD_LETTER_NOT_FOUND: &str = "DEAD_LETTER_NOT_FOUND";
/// The message is not waiting for a delayed delivery.
pub const NOT_SCHEDULED: &str = "NOT_SCHEDULED";
/// No open transaction has that id.
pub const TRANSACTION_NOT_FOUND: &str = "TRANSACTION_NOT_FOUND";
/// The transaction was already ended the other way.
pub const TRANSACTION_CONFLICT: &str = "TRANSACTION_CONFLICT";
/// No producer group has that name.
pub const PRODUCER_GROUP_NOT_FOUND: &str = "PRODUCER_GROUP_NOT_FOUND";
/// The store refuses writes (poisoned or not ready); retry elsewhere or later.
pub const STORE_UNAVAILABLE: &str = "STORE_UNAVAILABLE";
/// The store is above its disk watermark and refuses writes.
pub const DISK_FULL: &str = "DISK_FULL";
/// A broker-wide resource limit is reached; retry later.
pub const RESOURCE_EXHAUSTED: &str = "RESOURCE_EXHAUSTED";
/// The uploaded module exceeds the size limit.
pub const MODULE_TOO_LARGE: &str = "MODULE_TOO_LARGE";
/// The uploaded bytes are not a WebAssembly component.
pub const NOT_A_COMPONENT: &str = "NOT_A_COMPONENT";
/// The component does not compile.
pub const COMPILE_FAILED: &str = "COMPILE_FAILED";
/// The component lacks an export its world requires.
pub const MISSING_EXPORT: &str = "MISSING_EXPORT";
/// An export of the component has the wrong type.
pub const WRONG_SIGNATURE: &str = "WRONG_SIGNATURE";
/// The component imports something the host does not provide.
pub const UNSUPPORTED_IMPORT: &str = "UNSUPPORTED_IMPORT";
/// The component uses the component-model async ABI, which the broker does not run.
pub const ASYNC_ABI_UNSUPPORTED: &str = "ASYNC_ABI_UNSUPPORTED";
/// The module name breaks the naming rules.
pub const INVALID_NAME: &str = "INVALID_NAME";
/// No module has that name (and version).
pub const MODULE_NOT_FOUND: &str = "MODULE_NOT_FOUND";
/// The module is still bound and cannot be removed.
pub const MODULE_IN_USE: &str = "MODULE_IN_USE";
/// The module's world does not fit the binding's role.
pub const WORLD_MISMATCH: &str = "WORLD_MISMATCH";
/// No binding has that id.
pub const BINDING_NOT_FOUND: &str = "BINDING_NOT_FOUND";
/// An equal binding already exists.
pub const BINDING_EXISTS: &str = "BINDING_EXISTS";
/// The binding request is inconsistent.
pub const INVALID_BINDING: &str = "INVALID_BINDING";
/// A configured count limit (modules, bindings, ...) is reached.
pub const LIMIT_REACHED: &str = "LIMIT_REACHED";
/// The broker runs without a plugin host.
pub const PLUGINS_DISABLED: &str = "PLUGINS_DISABLED";
/// A module upload names a world that does not exist, or none while the component
/// exports the interfaces of several.
pub const INVALID_WORLD: &str = "INVALID_WORLD";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_its_own_name() {
        let all = [
            INVALID_JSON,
            INVALID_ARGUMENT,
            INVALID_HEADER,
            INTERNAL,
            MALFORMED_REQUEST,
            ROUTE_NOT_FOUND,
            METHOD_NOT_ALLOWED,
            REQUEST_TIMEOUT,
            URI_TOO_LONG,
            HEADERS_TOO_LARGE,
            UNSUPPORTED_MEDIA_TYPE,
            TOO_MANY_CONNECTIONS,
            UNAUTHORIZED,
            FORBIDDEN,
            INVALID_TOPIC_NAME,
            TOPIC_NOT_FOUND,
            TOPIC_EXISTS,
            INVALID_QUEUE,
            QUEUE_NOT_FOUND,
            OFFSET_OUT_OF_RANGE,
            INVALID_OFFSET,
            MESSAGE_NOT_FOUND,
            BODY_TOO_LARGE,
            BATCH_TOO_LARGE,
            EMPTY_BATCH,
            INVALID_BATCH,
            INVALID_GROUP_NAME,
            GROUP_NOT_FOUND,
            GROUP_EXISTS,
            RECEIPT_INVALID,
            RECEIPT_EXPIRED,
            CONSUMER_REQUIRED,
            DEAD_LETTER_NOT_FOUND,
            NOT_SCHEDULED,
            TRANSACTION_NOT_FOUND,
            TRANSACTION_CONFLICT,
            PRODUCER_GROUP_NOT_FOUND,
            STORE_UNAVAILABLE,
            DISK_FULL,
            RESOURCE_EXHAUSTED,
            MODULE_TOO_LARGE,
            NOT_A_COMPONENT,
            COMPILE_FAILED,
            MISSING_EXPORT,
            WRONG_SIGNATURE,
            UNSUPPORTED_IMPORT,
            ASYNC_ABI_UNSUPPORTED,
            INVALID_NAME,
            MODULE_NOT_FOUND,
            MODULE_IN_USE,
            WORLD_MISMATCH,
            BINDING_NOT_FOUND,
            BINDING_EXISTS,
            INVALID_BINDING,
            LIMIT_REACHED,
            PLUGINS_DISABLED,
            INVALID_WORLD,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for code in all {
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
        }
    }
}

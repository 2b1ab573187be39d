//! Query routes: a message by id, messages by key, a queue read by offset.
//!
//! A query by id also finds a delayed message that is not yet due (`"state":
//! "scheduled"`); a half message stays invisible until its transaction is committed.

use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use weir_core::{CoreError, ScheduledMessage, StoredMessage};
use weir_wire::codes;
use weir_wire::message::Messages;

use crate::app::{HttpResponse, json};
use crate::routes::query_param;
use crate::wire;
use crate::{ApiError, App, ResponseBody};

/// Messages a read returns when the request does not say.
pub(crate) const DEFAULT_READ_MAX: usize = 32;

/// A stored message with its state, as a query by id shows it.
#[derive(Serialize)]
struct StoredJson<'a> {
    #[serde(flatten)]
    message: weir_wire::message::Message<'a>,
    state: &'static str,
}

pub(crate) fn by_id(app: &App, id: &str, headers: &HeaderMap) -> Result<HttpResponse, ApiError> {
    let message = match app.broker.get_by_id(id) {
        Ok(message) => message,
        Err(CoreError::MessageNotFound(_)) => {
            return match app.broker.scheduled_message(id) {
                Ok(scheduled) => Ok(scheduled_answer(&scheduled, headers)),
                Err(CoreError::NotScheduled(_)) => {
                    Err(CoreError::MessageNotFound(id.to_string()).into())
                }
                Err(err) => Err(err.into()),
            };
        }
        Err(err) => return Err(err.into()),
    };
    if wants_raw(headers) {
        let mut response = raw(&message, &message.topic, true);
        response
            .headers_mut()
            .insert("weir-state", HeaderValue::from_static("stored"));
        return Ok(response);
    }
    Ok(json(
        StatusCode::OK,
        &StoredJson {
            message: wire::message(&message),
            state: "stored",
        },
    ))
}

/// A delayed message that is not yet due: no queue and offset, its target topic, its
/// delivery time; the broker's bookkeeping properties left out.
fn scheduled_answer(scheduled: &ScheduledMessage, headers: &HeaderMap) -> HttpResponse {
    if !wants_raw(headers) {
        return json(StatusCode::OK, &wire::scheduled(scheduled));
    }
    let mut response = raw(&scheduled.stored, &scheduled.topic, false);
    let headers = response.headers_mut();
    headers.insert("weir-state", HeaderValue::from_static("scheduled"));
    put(
        headers,
        "weir-deliver-at",
        &scheduled.deliver_at.to_string(),
    );
    response
}

pub(crate) fn by_key(
    app: &App,
    topic: &str,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let key = match query_param(query, "key") {
        Some(Ok(key)) if !key.is_empty() => key,
        Some(Err(())) => {
            return Err(ApiError::invalid_argument(
                "key is not valid percent-encoding",
            ));
        }
        _ => {
            return Err(ApiError::invalid_argument(
                "the query parameter key=K is required",
            ));
        }
    };
    let max = number(query, "max", DEFAULT_READ_MAX as u64)? as usize;
    let messages = app.broker.get_by_key(topic, &key, max)?;
    Ok(json(
        StatusCode::OK,
        &Messages::of(messages.iter().map(wire::message).collect()),
    ))
}

pub(crate) fn read_queue(
    app: &App,
    topic: &str,
    queue: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<HttpResponse, ApiError> {
    let queue: u32 = queue.parse().map_err(|_| {
        ApiError::bad_request(
            codes::INVALID_QUEUE,
            format!("queue must be a number, got '{queue}'"),
        )
    })?;
    if query_param(query, "offset").is_none() {
        return Err(ApiError::bad_request(
            codes::INVALID_OFFSET,
            "the query parameter offset=N is required",
        ));
    }
    let offset = number(query, "offset", 0)?;
    let max = number(query, "max", DEFAULT_READ_MAX as u64)? as usize;
    let batch = app.broker.read(topic, queue, offset, max)?;
    if crate::message_list::wanted(headers) {
        return Ok(crate::message_list::response(
            crate::message_list::encode_read(&batch.messages, batch.next_offset, batch.max_offset)?,
        ));
    }
    Ok(json(
        StatusCode::OK,
        &Messages {
            messages: batch.messages.iter().map(wire::message).collect(),
            next_offset: Some(batch.next_offset),
            max_offset: Some(batch.max_offset),
        },
    ))
}

/// A non-negative integer query parameter, `default` when absent; `400 INVALID_OFFSET`
/// otherwise.
/// A count query parameter (`max`), parsed as by [`number`]. Its range is the core's to
/// check; a value past `usize` saturates, so that the core's refusal names it.
pub(crate) fn count(query: Option<&str>, name: &str, default: u64) -> Result<usize, ApiError> {
    number(query, name, default).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

pub(crate) fn number(query: Option<&str>, name: &str, default: u64) -> Result<u64, ApiError> {
    match query_param(query, name) {
        None => Ok(default),
        Some(Ok(text)) => text.parse().map_err(|_| {
            ApiError::bad_request(
                codes::INVALID_OFFSET,
                format!("{name} must be a non-negative integer, got '{text}'"),
            )
        }),
        Some(Err(())) => Err(ApiError::bad_request(
            codes::INVALID_OFFSET,
            format!("{name} is not valid percent-encoding"),
        )),
    }
}

fn wants_raw(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"))
}

/// The body as the response body, the attributes as `weir-*` headers. A message that is
/// not in its topic yet (`placed` false) has no queue and offset, and its `weir.*`
/// bookkeeping properties are left out.
fn raw(stored: &StoredMessage, topic: &str, placed: bool) -> HttpResponse {
    let message = &stored.message;
    let mut response = HttpResponse::new(ResponseBody::full(message.body.clone()));
    let headers = response.headers_mut();
    put(headers, "weir-message-id", &message.id);
    put(headers, "weir-topic", topic);
    if placed {
        put(headers, "weir-queue", &stored.queue.to_string());
        put(headers, "weir-offset", &stored.queue_offset.to_string());
    }
    put(headers, "weir-store-ms", &stored.store_ms.to_string());
    put(headers, "weir-born-ms", &message.born_ms.to_string());
    if !message.keys.is_empty() {
        put(headers, "weir-keys", &message.keys.join(","));
    }
    if let Some(tag) = &message.tag {
        put(headers, "weir-tag", tag);
    }
    for (name, value) in &message.properties {
        if name == weir_core::message::MESSAGE_GROUP_PROPERTY {
            put(headers, "weir-message-group", value);
        } else if !placed && name.starts_with("weir.") {
            // The broker's bookkeeping on a message not yet in its topic.
        } else {
            put(headers, &format!("weir-prop-{name}"), value);
        }
    }
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response
}

/// Sets a header, skipping values HTTP cannot carry (they remain visible in the JSON form).
fn put(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.insert(name, value);
    }
}

//! Send routes: one message (raw body + headers, or a JSON object) and batches (a JSON
//! array, or the binary batch format).
//!
//! A single send may be delayed or transactional (a half message, answered with its
//! transaction id); a batch may carry delayed messages in its JSON form, never a
//! transaction (RocketMQ transactions are single messages). The binary batch format
//! has no delay fields: its messages are sent at once.

use std::borrow::Cow;
use std::time::Instant;

use http::{HeaderMap, Request, StatusCode};
use weir_core::{CoreError, MessageDraft, SendReceipt};
use weir_wire::send::{BatchAnswer, HalfSendAnswer, SendAnswer, SendRequest};
use weir_wire::{batch, codes};

use crate::app::{HttpResponse, json};
use crate::body::{RequestBody, read_body};
use crate::delayed::now_ms;
use crate::headers::{draft_from_headers, single_send_header};
use crate::wire::{batch_item, outgoing, send_status};
use crate::{ApiError, App};

/// One message to send, with what makes it a half message if it is one.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The message (its `deliver_at` set when it is delayed).
    pub(crate) draft: MessageDraft,
    /// Set for a transactional send.
    pub(crate) half: Option<HalfOptions>,
}

/// The options of a half (transactional) send.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct HalfOptions {
    /// The producer group asked at check-back.
    pub(crate) producer_group: Option<String>,
    /// When the first check-back is due, ms after the send (the broker's default when
    /// absent).
    pub(crate) check_after_ms: Option<u64>,
}

pub(crate) async fn send_one(
    app: &App,
    topic: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let (parts, body) = request.into_parts();
    let body = read_body(body).await?;
    let now = now_ms();
    let max_delay_ms = app.broker.limits().max_delay_ms;
    let Outgoing { draft, half } = if is_json(&parts.headers) {
        let request =
            serde_json::from_slice::<SendRequest<'_>>(&body).map_err(ApiError::invalid_json)?;
        outgoing(request, now, max_delay_ms)?
    } else {
        draft_from_headers(&parts.headers, body, now, max_delay_ms)?
    };
    if let Some(half) = half {
        return send_half(app, topic, draft, half).await;
    }
    let receipt = send(app, topic, vec![draft]).await?;
    let Some(sent) = receipt.messages.first() else {
        return Err(ApiError::internal());
    };
    let placed = batch_item(sent);
    Ok(json(
        StatusCode::OK,
        &SendAnswer {
            id: placed.id,
            topic: Cow::Borrowed(&receipt.topic),
            queue: placed.queue,
            offset: placed.offset,
            deliver_at: placed.deliver_at,
            status: send_status(receipt.status),
        },
    ))
}

/// Sends a half message: stored, invisible until its transaction is committed.
async fn send_half(
    app: &App,
    topic: &str,
    draft: MessageDraft,
    half: HalfOptions,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let bytes = draft.body.len() as u64;
    let (transaction, status) = app
        .broker
        .send_half(
            topic,
            draft,
            half.producer_group.as_deref(),
            half.check_after_ms,
        )
        .await?;
    app.metrics.observe_send(topic, 1, bytes, started.elapsed());
    Ok(json(
        StatusCode::OK,
        &HalfSendAnswer {
            id: Cow::Borrowed(&transaction),
            topic: Cow::Borrowed(topic),
            transaction: Cow::Borrowed(&transaction),
            status: send_status(status),
        },
    ))
}

pub(crate) async fn send_batch(
    app: &App,
    topic: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let (parts, body) = request.into_parts();
    if let Some(name) = single_send_header(&parts.headers) {
        return Err(ApiError::invalid_header(format!(
            "header '{name}' is not taken by a batch: give ids, keys, tags, message groups, \
             queues, properties and delays per message in the batch entries; transactions \
             are single sends"
        )));
    }
    let binary = media_type(&parts.headers) == Some(batch::CONTENT_TYPE);
    if !binary && !is_json(&parts.headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "a batch is sent as application/json (an array of messages) or as {}",
                batch::CONTENT_TYPE
            ),
        ));
    }
    let body = read_body(body).await?;
    let limit = app.broker.limits().max_batch_messages;
    let drafts = if binary {
        if let Some(count) = body.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
            let count = u32::from_le_bytes(count) as usize;
            if count > limit {
                return Err(CoreError::BatchTooLarge { count, limit }.into());
            }
        }
        batch::decode_with(body, limit, draft_from_batch)
            .map_err(|err| ApiError::bad_request(codes::INVALID_BATCH, err.to_string()))?
    } else {
        let messages: Vec<SendRequest<'_>> =
            serde_json::from_slice(&body).map_err(ApiError::invalid_json)?;
        if messages.len() > limit {
            return Err(CoreError::BatchTooLarge {
                count: messages.len(),
                limit,
            }
            .into());
        }
        let now = now_ms();
        let max_delay_ms = app.broker.limits().max_delay_ms;
        let mut drafts = Vec::with_capacity(messages.len());
        for (index, message) in messages.into_iter().enumerate() {
            let Outgoing { draft, half } =
                outgoing(message, now, max_delay_ms).map_err(|err| ApiError {
                    message: format!("message {index}: {}", err.message),
                    ..err
                })?;
            if half.is_some() {
                return Err(ApiError::invalid_argument(format!(
                    "message {index}: a batch cannot carry a transaction; send half messages \
                     one by one"
                )));
            }
            drafts.push(draft);
        }
        drafts
    };
    let receipt = send(app, topic, drafts).await?;
    Ok(json(
        StatusCode::OK,
        &BatchAnswer {
            topic: Cow::Borrowed(&receipt.topic),
            status: send_status(receipt.status),
            results: receipt.messages.iter().map(batch_item).collect(),
        },
    ))
}

async fn send(app: &App, topic: &str, drafts: Vec<MessageDraft>) -> Result<SendReceipt, ApiError> {
    let started = Instant::now();
    let count = drafts.len() as u64;
    let bytes: u64 = drafts.iter().map(|d| d.body.len() as u64).sum();
    let receipt = app.broker.send(topic, drafts).await?;
    app.metrics
        .observe_send(topic, count, bytes, started.elapsed());
    Ok(receipt)
}

/// A message of a binary batch as the core takes it: the format has no times.
fn draft_from_batch(message: batch::Message) -> MessageDraft {
    let batch::Message {
        id,
        tag,
        message_group,
        queue,
        keys,
        properties,
        body,
    } = message;
    MessageDraft {
        id,
        keys,
        tag,
        properties,
        message_group,
        queue,
        born_ms: None,
        deliver_at: None,
        body,
    }
}

fn media_type(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or(value).trim())
}

fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m.eq_ignore_ascii_case("application/json"))
}

//! Send routes: one message (raw body + headers, or a JSON object) and batches (a JSON
//! array, or the binary batch format).

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use hyper::body::Body;
use weir_core::{CoreError, MessageDraft, SendReceipt};

use crate::app::{HttpResponse, json};
use crate::body::read_body;
use crate::headers::draft_from_headers;
use crate::wire::{BatchItemJson, BatchResultJson, SendJson, SendResultJson};
use crate::{ApiError, App, batch};

pub(crate) async fn send_one<B>(
    app: &App,
    topic: &str,
    request: Request<B>,
) -> Result<HttpResponse, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let body = read_body(body, app.limits.max_request_bytes).await?;
    let draft = if is_json(&parts.headers) {
        serde_json::from_slice::<SendJson>(&body)
            .map_err(ApiError::invalid_json)?
            .into_draft()?
    } else {
        draft_from_headers(&parts.headers, body)?
    };
    let receipt = send(app, topic, vec![draft]).await?;
    let Some(sent) = receipt.messages.first() else {
        return Err(ApiError::internal());
    };
    Ok(json(
        StatusCode::OK,
        &SendResultJson {
            id: &sent.id,
            topic: &receipt.topic,
            queue: sent.queue,
            offset: sent.offset,
            status: receipt.status.as_str(),
        },
    ))
}

pub(crate) async fn send_batch<B>(
    app: &App,
    topic: &str,
    request: Request<B>,
) -> Result<HttpResponse, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let binary = media_type(&parts.headers) == Some(batch::CONTENT_TYPE);
    if !binary && !is_json(&parts.headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!(
                "a batch is sent as application/json (an array of messages) or as {}",
                batch::CONTENT_TYPE
            ),
        ));
    }
    let body = read_body(body, app.limits.max_batch_request_bytes).await?;
    let limit = app.broker.limits().max_batch_messages;
    let drafts = if binary {
        if let Some(count) = body.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
            let count = u32::from_le_bytes(count) as usize;
            if count > limit {
                return Err(CoreError::BatchTooLarge { count, limit }.into());
            }
        }
        batch::decode(body, limit)
            .map_err(|err| ApiError::bad_request("INVALID_BATCH", err.to_string()))?
    } else {
        let messages: Vec<SendJson> =
            serde_json::from_slice(&body).map_err(ApiError::invalid_json)?;
        if messages.len() > limit {
            return Err(CoreError::BatchTooLarge {
                count: messages.len(),
                limit,
            }
            .into());
        }
        messages
            .into_iter()
            .map(SendJson::into_draft)
            .collect::<Result<Vec<_>, _>>()?
    };
    let receipt = send(app, topic, drafts).await?;
    Ok(json(
        StatusCode::OK,
        &BatchResultJson {
            topic: &receipt.topic,
            status: receipt.status.as_str(),
            results: receipt
                .messages
                .iter()
                .map(|m| BatchItemJson {
                    id: &m.id,
                    queue: m.queue,
                    offset: m.offset,
                })
                .collect(),
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

fn media_type(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or(value).trim())
}

fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m.eq_ignore_ascii_case("application/json"))
}

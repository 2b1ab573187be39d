//! Dead-letter routes of a consumer group: list a page, inspect one, resend one or all
//! from an offset, and export the whole queue as NDJSON.
//!
//! # Export
//!
//! The export is streamed: the first page is read before the answer's head goes out
//! (so an unknown group still gets `404`), then a task reads [`EXPORT_PAGE`] dead
//! letters at a time and sends each as one line through the response body's bounded
//! channel (see [`crate::response`]). Memory stays bounded by one page plus the
//! channel, whatever the size of the queue. The export covers the queue as it was when
//! the request arrived: it stops at that moment's `max_offset`, so a queue that keeps
//! growing cannot keep a request open forever.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use serde::Deserialize;
use weir_core::{Broker, DeadLetterPage};

use crate::app::{HttpResponse, json};
use crate::body::{RequestBody, read_json};
use crate::query::{count, number};
use crate::response::{ChunkSender, ResponseBody, StreamAborted};
use crate::wire;
use crate::{ApiError, App};

/// Dead letters a listing returns when the request does not say.
pub(crate) const DEFAULT_DEAD_LETTER_PAGE: u64 = 100;

/// Dead letters an export reads per step. Small, because a page is held in memory
/// while it is written out and one dead letter can carry a 4 MiB body.
pub(crate) const EXPORT_PAGE: usize = 16;

/// The media type of the export: one JSON object per line.
pub(crate) const NDJSON: &str = "application/x-ndjson";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResendAll {
    #[serde(default, deserialize_with = "crate::body::int64_offset")]
    from_offset: u64,
}

pub(crate) fn list(app: &App, group: &str, query: Option<&str>) -> Result<HttpResponse, ApiError> {
    let offset = number(query, "offset", 0)?;
    let max = count(query, "max", DEFAULT_DEAD_LETTER_PAGE)?;
    let page = app.broker.dead_letters(group, offset, max)?;
    Ok(json(StatusCode::OK, &wire::dead_letter_page(&page)))
}

pub(crate) fn get(app: &App, group: &str, id: &str) -> Result<HttpResponse, ApiError> {
    let dead = app.broker.dead_letter(group, id)?;
    Ok(json(StatusCode::OK, &wire::dead_letter(&dead)))
}

pub(crate) async fn resend(app: &App, group: &str, id: &str) -> Result<HttpResponse, ApiError> {
    let new_id = app.broker.resend_dead_letter(group, id).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "id": new_id })))
}

pub(crate) async fn resend_all(
    app: &App,
    group: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let resend: ResendAll = read_json(request.into_body()).await?;
    let resent = app
        .broker
        .resend_dead_letters(group, resend.from_offset)
        .await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "resent": resent }),
    ))
}

/// Streams the dead-letter queue from `?offset=N` (default 0) to its end as NDJSON.
pub(crate) fn export(
    app: &App,
    group: &str,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let from = number(query, "offset", 0)?;
    let first = app.broker.dead_letters(group, from, EXPORT_PAGE)?;
    let end = first.max_offset;
    let (sender, body) = ResponseBody::channel();
    tokio::spawn(stream_export(
        Arc::clone(&app.broker),
        group.to_string(),
        from,
        first,
        end,
        sender,
    ));
    let mut response = HttpResponse::new(body);
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    Ok(response)
}

/// Writes `page` and the pages after it, up to `end`, one dead letter per chunk. Stops
/// early when the client goes away (the send fails) or a read fails (the body ends with
/// an error, so the client sees a truncated export rather than a short one that looks
/// complete).
async fn stream_export(
    broker: Arc<Broker>,
    group: String,
    mut from: u64,
    mut page: DeadLetterPage,
    end: u64,
    sender: ChunkSender,
) {
    loop {
        for dead in &page.dead_letters {
            if dead.dlq_offset >= end {
                return;
            }
            let chunk = match serde_json::to_vec(&wire::dead_letter(dead)) {
                Ok(mut line) => {
                    line.push(b'\n');
                    Ok(Bytes::from(line))
                }
                Err(err) => Err(StreamAborted(format!("serialising a dead letter: {err}"))),
            };
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                return;
            }
        }
        if page.next_offset >= end || page.next_offset <= from {
            return;
        }
        from = page.next_offset;
        page = match broker.dead_letters(&group, from, EXPORT_PAGE) {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(group, error = %err, "dead-letter export stopped");
                let _ = sender.send(Err(StreamAborted(err.to_string()))).await;
                return;
            }
        };
    }
}

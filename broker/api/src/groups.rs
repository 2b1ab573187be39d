//! Consumer group routes: create, list, describe, delete; receive, ack, nack and change
//! of invisible time; lag, committed offsets and resets. Dead letters are in
//! [`crate::dlq`].
//!
//! Request bodies are parsed here into the core's request types. The core checks them
//! against the limits of [`weir_core::limits`] and judges what depends on a group's
//! state (whether a receipt is current, whether a consumer must be named); its errors
//! are mapped in [`crate::error`].

use std::time::Duration;

use http::{Request, StatusCode};
use serde::Deserialize;
use weir_core::{AckOutcome, GroupMode, GroupSpec, ReceiveRequest, ResetTarget, StartFrom};
use weir_wire::group::{AckAnswer, ReceiptError};
use weir_wire::message::Messages;

use crate::app::{HttpResponse, json, no_content};
use crate::body::{RequestBody, read_json};
use crate::routes::query_param;
use crate::wire::{self, delivery};
use crate::{ApiError, App};

/// Messages a receive returns at most when the request does not say.
pub(crate) const DEFAULT_RECEIVE_MAX: u64 = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGroup {
    name: String,
    topic: String,
    mode: Option<GroupMode>,
    fifo: Option<bool>,
    max_attempts: Option<u32>,
    invisible_ms: Option<u64>,
    backoff_ms: Option<Vec<u64>>,
    filter: Option<String>,
    from: Option<StartFrom>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Receive {
    #[serde(default = "default_receive_max")]
    max: u64,
    #[serde(default)]
    wait_ms: u64,
    invisible_ms: Option<u64>,
    consumer: Option<String>,
}

fn default_receive_max() -> u64 {
    DEFAULT_RECEIVE_MAX
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ack {
    receipts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nack {
    receipts: Vec<String>,
    delay_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeInvisible {
    receipt: String,
    invisible_ms: u64,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ResetTo {
    Earliest,
    Latest,
    Timestamp,
    Offset,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reset {
    to: ResetTo,
    timestamp_ms: Option<i64>,
    #[serde(default, deserialize_with = "crate::body::optional_int64_offset")]
    offset: Option<u64>,
    queue: Option<u32>,
    consumer: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitOffset {
    queue: u32,
    #[serde(deserialize_with = "crate::body::int64_offset")]
    offset: u64,
    consumer: Option<String>,
}

#[derive(Clone, Copy)]
enum Settle {
    Ack,
    Nack,
}

pub(crate) async fn create(
    app: &App,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let create: CreateGroup = read_json(request.into_body()).await?;
    let config = app
        .broker
        .create_group(GroupSpec {
            name: create.name,
            topic: create.topic,
            mode: create.mode,
            fifo: create.fifo,
            max_attempts: create.max_attempts,
            invisible_ms: create.invisible_ms,
            backoff_ms: create.backoff_ms,
            filter: create.filter,
            from: create.from,
        })
        .await?;
    Ok(json(StatusCode::CREATED, &wire::group(&config)))
}

pub(crate) fn list(app: &App, query: Option<&str>) -> Result<HttpResponse, ApiError> {
    let topic = text_param(query, "topic")?;
    let configs = app.broker.list_groups(topic.as_deref());
    let groups = weir_wire::group::GroupList {
        groups: configs.iter().map(wire::group).collect(),
    };
    Ok(json(StatusCode::OK, &groups))
}

pub(crate) fn describe(
    app: &App,
    group: &str,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let consumer = text_param(query, "consumer")?;
    let description = app.broker.describe_group(group, consumer.as_deref())?;
    Ok(json(StatusCode::OK, &wire::group_description(&description)))
}

pub(crate) async fn delete(app: &App, group: &str) -> Result<HttpResponse, ApiError> {
    app.broker.delete_group(group).await?;
    Ok(no_content())
}

/// Receives a batch, waiting up to `wait_ms` for a first message (long poll).
///
/// # Cancel safety
///
/// A client that hangs up during the wait drops this future. Messages the core already
/// handed out to that request stay invisible for their invisible time and are then
/// delivered again, as for any delivery that is never acked.
pub(crate) async fn receive(
    app: &App,
    group: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let binary = crate::message_list::wanted(request.headers());
    let receive: Receive = read_json(request.into_body()).await?;
    let deliveries = app
        .broker
        .receive(
            group,
            ReceiveRequest {
                // A count that does not fit is out of range: the core refuses it.
                max: usize::try_from(receive.max).unwrap_or(usize::MAX),
                wait: Duration::from_millis(receive.wait_ms),
                invisible_ms: receive.invisible_ms,
                consumer: receive.consumer,
            },
        )
        .await?;
    if binary {
        return Ok(crate::message_list::response(
            crate::message_list::encode_deliveries(&deliveries)?,
        ));
    }
    // Serialised straight from the deliveries: no intermediate JSON tree.
    let messages = Messages::of(deliveries.iter().map(delivery).collect());
    Ok(json(StatusCode::OK, &messages))
}

pub(crate) async fn ack(
    app: &App,
    group: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let ack: Ack = read_json(request.into_body()).await?;
    let outcome = app.broker.ack(group, &ack.receipts).await?;
    Ok(ack_answer(Settle::Ack, outcome))
}

pub(crate) async fn nack(
    app: &App,
    group: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let nack: Nack = read_json(request.into_body()).await?;
    let outcome = app
        .broker
        .nack(group, &nack.receipts, nack.delay_ms)
        .await?;
    Ok(ack_answer(Settle::Nack, outcome))
}

pub(crate) async fn change_invisible(
    app: &App,
    group: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let change: ChangeInvisible = read_json(request.into_body()).await?;
    let receipt = app
        .broker
        .change_invisible(group, &change.receipt, change.invisible_ms)
        .await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "receipt": receipt }),
    ))
}

pub(crate) fn lag(app: &App, group: &str, query: Option<&str>) -> Result<HttpResponse, ApiError> {
    let consumer = text_param(query, "consumer")?;
    let report = app.broker.lag(group, consumer.as_deref())?;
    Ok(json(StatusCode::OK, &wire::lag(&report)))
}

pub(crate) async fn reset(
    app: &App,
    group: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let reset: Reset = read_json(request.into_body()).await?;
    let target = reset.target()?;
    let offsets = app
        .broker
        .reset_group(group, target, reset.queue, reset.consumer.as_deref())
        .await?;
    Ok(json(StatusCode::OK, &wire::offsets(&offsets)))
}

pub(crate) fn offsets(
    app: &App,
    group: &str,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let consumer = text_param(query, "consumer")?;
    let offsets = app.broker.committed_offsets(group, consumer.as_deref())?;
    Ok(json(StatusCode::OK, &wire::offsets(&offsets)))
}

pub(crate) async fn commit_offset(
    app: &App,
    group: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let commit: CommitOffset = read_json(request.into_body()).await?;
    app.broker
        .commit_offset(
            group,
            commit.consumer.as_deref(),
            commit.queue,
            commit.offset,
        )
        .await?;
    Ok(no_content())
}

impl Reset {
    /// The target, refusing fields that do not belong to `to`.
    fn target(&self) -> Result<ResetTarget, ApiError> {
        match (self.to, self.timestamp_ms, self.offset) {
            (ResetTo::Earliest, None, None) => Ok(ResetTarget::Earliest),
            (ResetTo::Latest, None, None) => Ok(ResetTarget::Latest),
            (ResetTo::Timestamp, Some(ms), None) if ms >= 0 => Ok(ResetTarget::Timestamp(ms)),
            (ResetTo::Timestamp, Some(ms), None) => Err(ApiError::invalid_argument(format!(
                "timestamp_ms must not be negative, got {ms}"
            ))),
            (ResetTo::Timestamp, None, _) => Err(ApiError::invalid_argument(
                "a reset to \"timestamp\" needs \"timestamp_ms\"",
            )),
            (ResetTo::Offset, None, Some(offset)) => Ok(ResetTarget::Offset(offset)),
            (ResetTo::Offset, _, None) => Err(ApiError::invalid_argument(
                "a reset to \"offset\" needs \"offset\"",
            )),
            _ => Err(ApiError::invalid_argument(
                "\"timestamp_ms\" goes only with \"to\":\"timestamp\", \"offset\" only with \"to\":\"offset\"",
            )),
        }
    }
}

/// An optional text query parameter; `400 INVALID_ARGUMENT` when it is not valid
/// percent-encoding.
pub(crate) fn text_param(query: Option<&str>, name: &str) -> Result<Option<String>, ApiError> {
    match query_param(query, name) {
        None => Ok(None),
        Some(Ok(value)) => Ok(Some(value)),
        Some(Err(())) => Err(ApiError::invalid_argument(format!(
            "{name} is not valid percent-encoding"
        ))),
    }
}

/// The answer to an ack or nack: receipts refused one by one carry the code and message
/// their error maps to.
fn ack_answer(settle: Settle, outcome: AckOutcome) -> HttpResponse {
    let failed = outcome
        .failed
        .into_iter()
        .map(|failure| {
            let error = ApiError::from(failure.error);
            ReceiptError {
                receipt: failure.receipt,
                code: error.code.to_owned(),
                message: error.message,
            }
        })
        .collect();
    json(
        StatusCode::OK,
        &AckAnswer {
            acked: matches!(settle, Settle::Ack).then_some(outcome.done),
            nacked: matches!(settle, Settle::Nack).then_some(outcome.done),
            failed,
        },
    )
}

//! Topic administration routes: create, list, describe, add queues, delete.

use http::{Request, StatusCode};
use serde::Deserialize;

use crate::app::{HttpResponse, json, no_content};
use crate::body::{RequestBody, read_body, read_json};
use crate::wire;
use crate::{ApiError, App};

/// Queues a topic gets when the request does not say (RocketMQ's default).
pub(crate) const DEFAULT_QUEUES: u32 = 8;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTopic {
    name: String,
    #[serde(default = "default_queues")]
    queues: u32,
}

fn default_queues() -> u32 {
    DEFAULT_QUEUES
}

pub(crate) async fn create(
    app: &App,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(request.into_body()).await?;
    let create: CreateTopic = serde_json::from_slice(&body).map_err(ApiError::invalid_json)?;
    let created = app.broker.create_topic(&create.name, create.queues).await?;
    Ok(json(StatusCode::CREATED, &wire::topic(&created)))
}

pub(crate) fn list(app: &App) -> HttpResponse {
    let configs = app.broker.list_topics();
    let topics = weir_wire::topic::TopicList {
        topics: configs.iter().map(wire::topic).collect(),
    };
    json(StatusCode::OK, &topics)
}

pub(crate) fn describe(app: &App, topic: &str) -> Result<HttpResponse, ApiError> {
    let description = app.broker.describe_topic(topic)?;
    Ok(json(StatusCode::OK, &wire::topic_description(&description)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTopic {
    queues: u32,
}

/// Raises the queue count of a topic. Queues are never removed: messages and committed
/// offsets live in them.
pub(crate) async fn update(
    app: &App,
    topic: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let update: UpdateTopic = read_json(request.into_body()).await?;
    let max = app.broker.limits().max_queues;
    if update.queues == 0 || update.queues > max {
        return Err(ApiError::invalid_argument(format!(
            "queues must be 1 to {max}, got {}",
            update.queues
        )));
    }
    app.broker.add_queues(topic, update.queues).await?;
    describe(app, topic)
}

pub(crate) async fn delete(app: &App, topic: &str) -> Result<HttpResponse, ApiError> {
    app.broker.delete_topic(topic).await?;
    Ok(no_content())
}

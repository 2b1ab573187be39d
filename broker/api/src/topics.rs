//! Topic administration routes: create, list, describe, delete.

use bytes::Bytes;
use http::{Request, StatusCode};
use hyper::body::Body;
use serde::Deserialize;

use crate::app::{HttpResponse, json};
use crate::body::read_body;
use crate::wire::{TopicDescriptionJson, TopicJson};
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

pub(crate) async fn create<B>(app: &App, request: Request<B>) -> Result<HttpResponse, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let body = read_body(request.into_body(), app.limits.max_request_bytes).await?;
    let create: CreateTopic = serde_json::from_slice(&body).map_err(ApiError::invalid_json)?;
    let topic = app.broker.create_topic(&create.name, create.queues).await?;
    Ok(json(StatusCode::CREATED, &TopicJson::from(&topic)))
}

pub(crate) fn list(app: &App) -> HttpResponse {
    let configs = app.broker.list_topics();
    let topics: Vec<TopicJson<'_>> = configs.iter().map(TopicJson::from).collect();
    json(StatusCode::OK, &serde_json::json!({ "topics": topics }))
}

pub(crate) fn describe(app: &App, topic: &str) -> Result<HttpResponse, ApiError> {
    let description = app.broker.describe_topic(topic)?;
    Ok(json(
        StatusCode::OK,
        &TopicDescriptionJson::from(&description),
    ))
}

pub(crate) async fn delete(app: &App, topic: &str) -> Result<HttpResponse, ApiError> {
    app.broker.delete_topic(topic).await?;
    let mut response = HttpResponse::new(http_body_util::Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

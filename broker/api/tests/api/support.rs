//! What every area's tests share: the small store they run on, the [`App`] over it, and
//! requests in and answers out without a socket.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use weir_api::{ApiLimits, App};
use weir_core::{Broker, BrokerConfig, Limits, StoreConfig};

/// A store in `dir` sized for tests: 1 MiB segments and small indexes.
pub(crate) fn small_store(dir: &Path) -> StoreConfig {
    let mut store = StoreConfig::new(dir);
    store.segment_size = 1 << 20;
    store.index_slots = 1024;
    store.index_entries = 4096;
    store.queue_entries_per_file = 1024;
    store
}

/// A broker over `store` with `limits`.
pub(crate) fn open_broker(store: StoreConfig, limits: &Limits) -> Arc<Broker> {
    Broker::open(BrokerConfig {
        store,
        limits: limits.clone(),
    })
    .unwrap()
}

/// An app over a small store in `dir` with the default limits and no tokens.
pub(crate) fn app(dir: &Path) -> App {
    app_with_limits(dir, Limits::default())
}

/// An app over a broker with custom limits (short check-back times).
pub(crate) fn app_with_limits(dir: &Path, limits: Limits) -> App {
    let broker = open_broker(small_store(dir), &limits);
    App::new(broker, ApiLimits::for_core(&limits))
}

pub(crate) async fn call(
    app: &App,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = app.handle(request).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Method, path, headers, body, expected status, expected code.
pub(crate) type ErrorCase<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a str,
    u16,
    &'a str,
);

pub(crate) const JSON: (&str, &str) = ("content-type", "application/json");

pub(crate) async fn post(
    app: &App,
    uri: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    call(app, "POST", uri, &[JSON], &body.to_string()).await
}

pub(crate) async fn get(app: &App, uri: &str) -> (StatusCode, serde_json::Value) {
    call(app, "GET", uri, &[], "").await
}

/// A request whose answer is not JSON: status, content type and body.
pub(crate) async fn call_raw(app: &App, method: &str, uri: &str) -> (StatusCode, String, Bytes) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = app.handle(request).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, bytes)
}

pub(crate) async fn create_topic(app: &App, name: &str, queues: u32) {
    let (status, json) = post(
        app,
        "/v1/topics",
        serde_json::json!({"name": name, "queues": queues}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
}

pub(crate) async fn create_group(app: &App, spec: serde_json::Value) -> serde_json::Value {
    let (status, json) = post(app, "/v1/groups", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

/// Sends a text message to a queue; returns its id.
pub(crate) async fn send(app: &App, topic: &str, queue: u32, body: &str) -> String {
    let (status, json) = post(
        app,
        &format!("/v1/topics/{topic}/messages"),
        serde_json::json!({"body": body, "queue": queue}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["id"].as_str().unwrap().to_string()
}

pub(crate) async fn receive(
    app: &App,
    group: &str,
    request: serde_json::Value,
) -> Vec<serde_json::Value> {
    let (status, json) = post(app, &format!("/v1/groups/{group}/receive"), request).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["messages"].as_array().unwrap().clone()
}

pub(crate) fn receipts(messages: &[serde_json::Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["receipt"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn sum(values: &serde_json::Value, field: &str) -> u64 {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_u64().unwrap())
        .sum()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Ten minutes: far enough that nothing fires during a test.
pub(crate) const LATER_MS: i64 = 600_000;

/// A raw send with headers; answers status and JSON.
pub(crate) async fn send_raw(
    app: &App,
    topic: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, serde_json::Value) {
    call(
        app,
        "POST",
        &format!("/v1/topics/{topic}/messages"),
        headers,
        body,
    )
    .await
}

/// The value of an unlabelled metric line `name value`.
pub(crate) fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (metric, value) = line.split_once(' ')?;
        (metric == name).then(|| value.parse().ok()).flatten()
    })
}

pub(crate) async fn metrics_text(app: &App) -> String {
    let (status, _, metrics) = call_raw(app, "GET", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(metrics.to_vec()).unwrap()
}

/// Calls until `done` accepts the answer, at most `tries` times, `pause_ms` apart; the
/// last answer.
pub(crate) async fn poll_until(
    app: &App,
    uri: &str,
    tries: usize,
    pause_ms: u64,
    done: impl Fn(StatusCode, &serde_json::Value) -> bool,
) -> (StatusCode, serde_json::Value) {
    let mut answer = get(app, uri).await;
    for _ in 1..tries {
        if done(answer.0, &answer.1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
        answer = get(app, uri).await;
    }
    answer
}

/// A route template of the table with a sample value for each parameter: topic `t`,
/// queue `0`, group `g`, message `message`, and names of a transaction, producer group,
/// module and binding that nothing has.
pub(crate) fn sample_path(template: &str, message: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{topic}" => "t",
            "{queue}" => "0",
            "{group}" => "g",
            "{id}" => message,
            "{transaction}" => "x",
            "{name}" => "n",
            other if other.starts_with('{') => panic!("no sample value for {other} in {template}"),
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

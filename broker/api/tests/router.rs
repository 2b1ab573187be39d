//! The router without a socket: requests in, responses out, over a real broker in a
//! temporary directory.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::json;
use weir_api::{Access, ApiLimits, App, BodyLimit, ROUTES};
use weir_core::{Broker, BrokerConfig, Limits, StoreConfig};

fn app(dir: &std::path::Path) -> App {
    let mut store = StoreConfig::new(dir);
    store.segment_size = 1 << 20;
    store.index_slots = 1024;
    store.index_entries = 4096;
    store.queue_entries_per_file = 1024;
    let limits = Limits::default();
    let broker = Broker::open(BrokerConfig {
        store,
        limits: limits.clone(),
    })
    .unwrap();
    App::new(broker, ApiLimits::for_core(&limits))
}

async fn call(
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

const JSON: (&str, &str) = ("content-type", "application/json");

#[test]
fn the_openapi_document_and_the_route_table_agree() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
    let public = |access: Access| access == Access::Public;
    for route in ROUTES {
        let operation = &doc["paths"][route.path][route.method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{route:?} is missing from openapi.json"
        );
        assert_eq!(operation["operationId"], route.operation, "{route:?}");
        assert!(
            operation["responses"].is_object(),
            "{route:?} has no responses"
        );
        // Public routes say so; every other one takes the document's bearer default.
        assert_eq!(
            operation["security"] == serde_json::json!([]),
            public(route.access),
            "{route:?}: security"
        );
        if !public(route.access) {
            assert!(operation.get("security").is_none(), "{route:?}");
            assert!(operation["responses"]["401"].is_object(), "{route:?}: 401");
        }
        let limits = ApiLimits::for_core(&Limits::default());
        let documented_limit = operation["x-weir-max-body-bytes"].as_u64();
        let limit = match route.body {
            BodyLimit::None => None,
            BodyLimit::Control => Some(limits.max_control_bytes),
            BodyLimit::Message => Some(limits.max_request_bytes),
            BodyLimit::Batch => Some(limits.max_batch_request_bytes),
            BodyLimit::Module => Some(weir_plugin::limits::DEFAULT_MAX_MODULE_BYTES),
        };
        assert_eq!(
            documented_limit,
            limit.map(|l| l as u64),
            "{route:?}: body limit"
        );
        if limit.is_some() {
            assert!(
                operation["responses"]["413"].is_object(),
                "{route:?} reads a body and documents its 413"
            );
        }
    }
    // Nothing documented that the table lacks.
    let documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    for (method, path) in documented {
        assert!(
            ROUTES.iter().any(|r| r.method == method && r.path == path),
            "{method} {path} is documented but not served"
        );
    }
}

/// A route template of the table with a sample value for each parameter: topic `t`,
/// queue `0`, group `g`, message `message`, and names of a transaction, producer group,
/// module and binding that nothing has.
fn sample_path(template: &str, message: &str) -> String {
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

/// Topic `t` with one queue, group `g` on it, and a message in it: its id (the
/// resources [`sample_path`] names).
async fn sample_resources(app: &App) -> String {
    let (status, _) = call(app, "POST", "/v1/topics", &[JSON], r#"{"name":"t"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = post(app, "/v1/groups", json!({"name": "g", "topic": "t"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, sent) = call(app, "POST", "/v1/topics/t/messages", &[], "m").await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    sent["id"].as_str().unwrap().to_string()
}

/// Every distinct path template of the table, in table order, with its methods.
fn paths_and_methods() -> Vec<(&'static str, BTreeSet<&'static str>)> {
    let mut paths: Vec<(&'static str, BTreeSet<&'static str>)> = Vec::new();
    for route in ROUTES {
        match paths.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, methods)) => {
                methods.insert(route.method);
            }
            None => paths.push((route.path, BTreeSet::from([route.method]))),
        }
    }
    paths
}

#[tokio::test]
async fn every_path_refuses_the_methods_it_lacks_with_405_and_its_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    for (template, methods) in paths_and_methods() {
        let path = sample_path(template, "m");
        // The table's methods, and HEAD wherever GET is.
        let mut allowed = methods.clone();
        if methods.contains("GET") {
            allowed.insert("HEAD");
        }
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            if allowed.contains(method) {
                continue;
            }
            let request = Request::builder().method(method).uri(&path);
            let response = app
                .handle(request.body(Full::new(Bytes::new())).unwrap())
                .await;
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let allow: BTreeSet<&str> = response.headers()["allow"]
                .to_str()
                .unwrap()
                .split(", ")
                .collect();
            assert_eq!(allow, allowed, "Allow of {method} {path}");
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            if method == "HEAD" {
                assert!(bytes.is_empty(), "HEAD {path}");
            } else {
                let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(json["code"], "METHOD_NOT_ALLOWED", "{method} {path}");
                assert!(
                    json["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{method} {path}: {json}"
                );
            }
        }
    }
    // The header lists the table's methods in table order, HEAD last.
    let cases = [
        ("PUT", "/v1/topics", "GET, POST, HEAD"),
        ("GET", "/v1/groups/g/ack", "POST"),
        ("HEAD", "/v1/groups/g/ack", "POST"),
        ("POST", "/v1/messages/m", "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let request = Request::builder().method(method).uri(path);
        let response = app
            .handle(request.body(Full::new(Bytes::new())).unwrap())
            .await;
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body_on_every_get_route() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let message = sample_resources(&app).await;
    // Operations whose body changes with every request (request counts, uptime): their
    // length is not compared.
    let changing = ["metrics", "status"];
    let mut paths: Vec<(String, &str)> = ROUTES
        .iter()
        .filter(|route| route.method == "GET")
        .map(|route| (sample_path(route.path, &message), route.operation))
        .collect();
    paths.push(("/v1/topics/nope".to_string(), "describeTopic"));
    for (path, operation) in paths {
        let get = app
            .handle(Request::get(&path).body(Full::new(Bytes::new())).unwrap())
            .await;
        let head = app
            .handle(Request::head(&path).body(Full::new(Bytes::new())).unwrap())
            .await;
        assert_eq!(head.status(), get.status(), "{path}");
        let mut head_headers = head.headers().clone();
        let length = head_headers.remove("content-length");
        let mut get_headers = get.headers().clone();
        get_headers.remove("content-length");
        assert_eq!(head_headers, get_headers, "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type")
        );
        // The length the body would have had, where it is known: a streamed answer (an
        // export) has none.
        let known = hyper::body::Body::size_hint(get.body()).exact();
        let length = length.map(|l| l.to_str().unwrap().parse::<u64>().unwrap());
        assert_eq!(length.is_some(), known.is_some(), "{path}: content-length");
        let get_body = get.into_body().collect().await.unwrap().to_bytes();
        if let Some(length) = length
            && !changing.contains(&operation)
        {
            assert_eq!(length, get_body.len() as u64, "{path}");
        }
        assert!(
            head.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty(),
            "{path}"
        );
    }
}

/// A request body that never sends a byte.
struct Endless;

impl hyper::body::Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

#[tokio::test]
async fn declared_bodies_over_the_route_limit_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let limits = ApiLimits::for_core(&Limits::default());
    let (status, _) = call(&app, "POST", "/v1/topics", &[JSON], r#"{"name":"t"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    let cases = [
        (
            "POST",
            "/v1/topics/t/messages",
            limits.max_request_bytes,
            "BODY_TOO_LARGE",
        ),
        (
            "POST",
            "/v1/topics/t/messages:batch",
            limits.max_batch_request_bytes,
            "BODY_TOO_LARGE",
        ),
        (
            "POST",
            "/v1/groups",
            limits.max_control_bytes,
            "BODY_TOO_LARGE",
        ),
        (
            "POST",
            "/v1/transactions/x/commit",
            limits.max_ignored_body_bytes,
            "BODY_TOO_LARGE",
        ),
    ];
    for (method, path, limit, code) in cases {
        // The body is a stream that never ends: only the declared length can refuse it.
        let body = Endless;
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("content-length", (limit + 1).to_string())
            .body(body)
            .unwrap();
        let response = app.handle(request).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["code"], code, "{path}");
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains(&limit.to_string()),
            "{json}"
        );
    }
    // A streamed body is cut as soon as it passes the limit.
    let big = vec![b'['; limits.max_control_bytes + 1];
    let (status, json) = call(
        &app,
        "POST",
        "/v1/groups",
        &[JSON],
        std::str::from_utf8(&big).unwrap(),
    )
    .await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("BODY_TOO_LARGE"))
    );
}

/// Method, path, headers, body, expected status, expected code.
type ErrorCase<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a str,
    u16,
    &'a str,
);

#[tokio::test]
async fn every_error_is_json_with_a_stable_code() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let cases: &[ErrorCase<'_>] = &[
        (
            "POST",
            "/v1/topics",
            &[JSON],
            "{not json",
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/topics",
            &[JSON],
            r#"{"name":"t","queues":1,"x":1}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/topics",
            &[JSON],
            r#"{"name":"a b"}"#,
            400,
            "INVALID_TOPIC_NAME",
        ),
        (
            "POST",
            "/v1/topics",
            &[JSON],
            r#"{"name":"t","queues":0}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        ("GET", "/v1/topics/missing", &[], "", 404, "TOPIC_NOT_FOUND"),
        (
            "POST",
            "/v1/topics/missing/messages",
            &[],
            "x",
            404,
            "TOPIC_NOT_FOUND",
        ),
        (
            "GET",
            "/v1/messages/NOPE",
            &[],
            "",
            404,
            "MESSAGE_NOT_FOUND",
        ),
        ("GET", "/nowhere", &[], "", 404, "ROUTE_NOT_FOUND"),
        ("PUT", "/v1/topics", &[], "", 405, "METHOD_NOT_ALLOWED"),
        (
            "POST",
            "/v1/topics/missing/messages:batch",
            &[("content-type", "text/plain")],
            "x",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ];
    for (method, uri, headers, body, status, code) in cases {
        let (got_status, json) = call(&app, method, uri, headers, body).await;
        assert_eq!(got_status.as_u16(), *status, "{method} {uri}: {json}");
        assert_eq!(json["code"], *code, "{method} {uri}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn send_then_read_back_through_every_query() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (status, _) = call(
        &app,
        "POST",
        "/v1/topics",
        &[JSON],
        r#"{"name":"t","queues":2}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, sent) = call(
        &app,
        "POST",
        "/v1/topics/t/messages",
        &[
            ("weir-keys", "k1"),
            ("weir-queue", "1"),
            ("weir-prop-source", "web"),
        ],
        "hello",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "SEND_OK");
    assert_eq!(sent["queue"], 1);
    let id = sent["id"].as_str().unwrap();
    let (_, by_id) = call(&app, "GET", &format!("/v1/messages/{id}"), &[], "").await;
    assert_eq!(by_id["body"], "hello");
    assert_eq!(by_id["properties"]["source"], "web");
    let (_, by_key) = call(&app, "GET", "/v1/topics/t/messages?key=k1", &[], "").await;
    assert_eq!(by_key["messages"][0]["id"], id);
    let (_, read) = call(
        &app,
        "GET",
        "/v1/topics/t/queues/1/messages?offset=0",
        &[],
        "",
    )
    .await;
    assert_eq!(read["messages"][0]["id"], id);
    assert_eq!(read["next_offset"], 1);
    let (status, json) = call(
        &app,
        "GET",
        "/v1/topics/t/queues/1/messages?offset=5",
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (400, Some("OFFSET_OUT_OF_RANGE"))
    );
    let (status, json) = call(
        &app,
        "GET",
        "/v1/topics/t/queues/1/messages?offset=-1",
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (400, Some("INVALID_OFFSET"))
    );
}

// Consumer groups.

async fn post(app: &App, uri: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    call(app, "POST", uri, &[JSON], &body.to_string()).await
}

async fn get(app: &App, uri: &str) -> (StatusCode, serde_json::Value) {
    call(app, "GET", uri, &[], "").await
}

/// A request whose answer is not JSON: status, content type and body.
async fn call_raw(app: &App, method: &str, uri: &str) -> (StatusCode, String, Bytes) {
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

async fn create_topic(app: &App, name: &str, queues: u32) {
    let (status, json) = post(
        app,
        "/v1/topics",
        serde_json::json!({"name": name, "queues": queues}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
}

async fn create_group(app: &App, spec: serde_json::Value) -> serde_json::Value {
    let (status, json) = post(app, "/v1/groups", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

/// Sends a text message to a queue; returns its id.
async fn send(app: &App, topic: &str, queue: u32, body: &str) -> String {
    let (status, json) = post(
        app,
        &format!("/v1/topics/{topic}/messages"),
        serde_json::json!({"body": body, "queue": queue}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["id"].as_str().unwrap().to_string()
}

async fn receive(app: &App, group: &str, request: serde_json::Value) -> Vec<serde_json::Value> {
    let (status, json) = post(app, &format!("/v1/groups/{group}/receive"), request).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["messages"].as_array().unwrap().clone()
}

fn receipts(messages: &[serde_json::Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["receipt"].as_str().unwrap().to_string())
        .collect()
}

fn sum(values: &serde_json::Value, field: &str) -> u64 {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_group_receives_acks_nacks_and_reports_lag_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "orders", 2).await;
    let group = create_group(
        &app,
        serde_json::json!({"name": "billing", "topic": "orders"}),
    )
    .await;
    assert_eq!(group["name"], "billing");
    assert_eq!(group["topic"], "orders");
    assert_eq!(group["mode"], "clustering");
    assert_eq!(group["fifo"], false);
    assert_eq!(group["max_attempts"], 16);
    assert_eq!(group["invisible_ms"], 60_000);
    assert_eq!(group["backoff_ms"].as_array().unwrap().len(), 16);
    assert_eq!(group["filter"], "*");
    assert_eq!(group["from"], "latest");
    assert!(group["created_ms"].as_i64().unwrap() > 0);

    let (_, list) = get(&app, "/v1/groups").await;
    assert_eq!(list["groups"][0]["name"], "billing");
    let (_, list) = get(&app, "/v1/groups?topic=other").await;
    assert_eq!(list["groups"], serde_json::json!([]));

    let ids = [
        send(&app, "orders", 0, "one").await,
        send(&app, "orders", 1, "two").await,
        send(&app, "orders", 0, "three").await,
    ];
    let (status, lag) = get(&app, "/v1/groups/billing/lag").await;
    assert_eq!(status, StatusCode::OK, "{lag}");
    assert_eq!(lag["group"], "billing");
    assert_eq!(lag["total"], 3);
    assert_eq!(sum(&lag["queues"], "lag"), 3);

    let first = receive(&app, "billing", serde_json::json!({"max": 2})).await;
    let second = receive(&app, "billing", serde_json::json!({})).await;
    assert_eq!((first.len(), second.len()), (2, 1));
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    let mut got: Vec<&str> = all.iter().map(|m| m["id"].as_str().unwrap()).collect();
    got.sort_unstable();
    let mut sent: Vec<&str> = ids.iter().map(String::as_str).collect();
    sent.sort_unstable();
    assert_eq!(got, sent);
    for message in &all {
        assert_eq!(message["topic"], "orders");
        assert_eq!(message["attempt"], 1);
        assert_eq!(message["resent"], false);
        assert!(message["body"].is_string());
        assert!(message["receipt"].as_str().is_some_and(|r| !r.is_empty()));
        assert!(message["first_delivery_ms"].as_i64().unwrap() > 0);
        assert!(message["store_ms"].as_i64().unwrap() > 0);
    }
    // Everything is in flight: nothing more to receive, and an empty body is a request
    // with every default.
    let (status, none) = call(&app, "POST", "/v1/groups/billing/receive", &[], "").await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert_eq!(none["messages"], serde_json::json!([]));
    let (_, lag) = get(&app, "/v1/groups/billing/lag").await;
    assert_eq!(sum(&lag["queues"], "in_flight"), 3);

    let (status, acked) = post(
        &app,
        "/v1/groups/billing/ack",
        serde_json::json!({"receipts": receipts(&first)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert_eq!(acked, serde_json::json!({"acked": 2, "failed": []}));
    // Acking again is not an error (and counts as an ack taken).
    let (_, acked) = post(
        &app,
        "/v1/groups/billing/ack",
        serde_json::json!({"receipts": receipts(&first)}),
    )
    .await;
    assert_eq!(acked, serde_json::json!({"acked": 2, "failed": []}));

    let (status, nacked) = post(
        &app,
        "/v1/groups/billing/nack",
        serde_json::json!({"receipts": receipts(&second), "delay_ms": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{nacked}");
    assert_eq!(nacked, serde_json::json!({"nacked": 1, "failed": []}));
    let again = receive(&app, "billing", serde_json::json!({"max": 10})).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["id"], second[0]["id"]);
    assert_eq!(again[0]["attempt"], 2);
    let (_, acked) = post(
        &app,
        "/v1/groups/billing/ack",
        serde_json::json!({"receipts": receipts(&again)}),
    )
    .await;
    assert_eq!(acked["acked"], 1, "{acked}");

    let (_, lag) = get(&app, "/v1/groups/billing/lag").await;
    assert_eq!(lag["total"], 0, "{lag}");
    let (_, offsets) = get(&app, "/v1/groups/billing/offsets").await;
    assert_eq!(sum(&offsets["queues"], "committed"), 3, "{offsets}");

    let (status, described) = get(&app, "/v1/groups/billing").await;
    assert_eq!(status, StatusCode::OK, "{described}");
    assert_eq!(described["name"], "billing");
    assert_eq!(described["lag"]["total"], 0);
    assert_eq!(described["dead_letters"], 0);
    assert_eq!(
        described["counters"],
        serde_json::json!({"delivered": 4, "redelivered": 1, "acked": 5, "nacked": 1,
            "dead_lettered": 0})
    );

    let (status, content_type, metrics) = call_raw(&app, "GET", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"));
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    for line in [
        "weir_group_delivered_total{group=\"billing\"} 4",
        "weir_group_redelivered_total{group=\"billing\"} 1",
        "weir_group_acked_total{group=\"billing\"} 5",
        "weir_group_nacked_total{group=\"billing\"} 1",
        "weir_group_dead_lettered_total{group=\"billing\"} 0",
        "weir_group_lag{group=\"billing\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }

    let (status, _, _) = call_raw(&app, "DELETE", "/v1/groups/billing").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, json) = get(&app, "/v1/groups/billing").await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"GROUP_NOT_FOUND".into())
    );
    let (_, _, metrics) = call_raw(&app, "GET", "/metrics").await;
    assert!(!String::from_utf8_lossy(&metrics).contains("group=\"billing\""));
}

#[tokio::test]
async fn a_long_poll_returns_when_a_message_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    create_group(&app, serde_json::json!({"name": "g", "topic": "t"})).await;
    let (messages, id) = tokio::join!(
        receive(&app, "g", serde_json::json!({"wait_ms": 30_000})),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            send(&app, "t", 0, "late").await
        }
    );
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], id.as_str());
    assert_eq!(messages[0]["body"], "late");
}

#[tokio::test]
async fn invisible_time_changes_and_stale_receipts_expire() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    create_group(&app, serde_json::json!({"name": "g", "topic": "t"})).await;
    send(&app, "t", 0, "slow").await;

    let first = receive(&app, "g", serde_json::json!({"invisible_ms": 100})).await;
    assert_eq!(first.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, acked) = post(
        &app,
        "/v1/groups/g/ack",
        serde_json::json!({"receipts": receipts(&first)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert_eq!(acked["acked"], 0);
    assert_eq!(acked["failed"][0]["receipt"], first[0]["receipt"]);
    assert_eq!(acked["failed"][0]["code"], "RECEIPT_EXPIRED");
    assert!(acked["failed"][0]["message"].is_string());

    let second = receive(&app, "g", serde_json::json!({})).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["attempt"], 2);
    let old = second[0]["receipt"].as_str().unwrap();
    let (status, changed) = post(
        &app,
        "/v1/groups/g/invisible",
        serde_json::json!({"receipt": old, "invisible_ms": 60_000}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let new = changed["receipt"].as_str().unwrap();
    assert_ne!(new, old);
    // The old handle stopped working.
    let (status, json) = post(
        &app,
        "/v1/groups/g/invisible",
        serde_json::json!({"receipt": old, "invisible_ms": 60_000}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (409, &"RECEIPT_EXPIRED".into())
    );
    let (_, nacked) = post(
        &app,
        "/v1/groups/g/nack",
        serde_json::json!({"receipts": [old]}),
    )
    .await;
    assert_eq!(nacked["nacked"], 0, "{nacked}");
    assert_eq!(nacked["failed"][0]["code"], "RECEIPT_EXPIRED");
    let (_, acked) = post(
        &app,
        "/v1/groups/g/ack",
        serde_json::json!({"receipts": [new]}),
    )
    .await;
    assert_eq!(acked, serde_json::json!({"acked": 1, "failed": []}));
}

#[tokio::test]
async fn dead_letters_are_listed_inspected_exported_and_resent() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    create_group(
        &app,
        serde_json::json!({"name": "g", "topic": "t", "max_attempts": 1, "invisible_ms": 100}),
    )
    .await;
    let (_, sent) = post(
        &app,
        "/v1/topics/t/messages",
        serde_json::json!({"body_base64": "AP8=", "keys": ["k1"], "tag": "created"}),
    )
    .await;
    let binary_id = sent["id"].as_str().unwrap().to_string();
    let text_id = send(&app, "t", 0, "poison").await;

    // The binary message times out on its only attempt; the text one is nacked on it.
    let delivered = receive(&app, "g", serde_json::json!({"max": 2})).await;
    assert_eq!(delivered.len(), 2);
    let text = delivered
        .iter()
        .find(|m| m["id"] == text_id.as_str())
        .unwrap();
    let (_, nacked) = post(
        &app,
        "/v1/groups/g/nack",
        serde_json::json!({"receipts": [text["receipt"]]}),
    )
    .await;
    assert_eq!(nacked["nacked"], 1, "{nacked}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(receive(&app, "g", serde_json::json!({})).await.is_empty());

    let (_, described) = get(&app, "/v1/groups/g").await;
    assert_eq!(described["dead_letters"], 2, "{described}");
    assert_eq!(described["counters"]["dead_lettered"], 2);

    let (status, page) = get(&app, "/v1/groups/g/dlq").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["next_offset"], 2);
    assert_eq!(page["max_offset"], 2);
    let letters = page["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 2);
    let by_original = |id: &str| {
        letters
            .iter()
            .find(|l| l["original_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {page}"))
            .clone()
    };
    let binary = by_original(&binary_id);
    assert_eq!(binary["body_base64"], "AP8=");
    assert_eq!(binary["keys"], serde_json::json!(["k1"]));
    assert_eq!(binary["tag"], "created");
    assert_eq!(binary["topic"], "t");
    assert_eq!(binary["queue"], 0);
    assert_eq!(binary["attempts"], 1);
    assert!(binary["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(binary["dead_ms"].as_i64().unwrap() > 0);
    let text = by_original(&text_id);
    assert_eq!(text["body"], "poison");
    assert_ne!(text["id"], text["original_id"]);

    let (_, second_page) = get(&app, "/v1/groups/g/dlq?offset=1&max=1").await;
    assert_eq!(second_page["dead_letters"].as_array().unwrap().len(), 1);
    assert_eq!(second_page["dead_letters"][0]["dlq_offset"], 1);
    let (status, one) = get(
        &app,
        &format!("/v1/groups/g/dlq/{}", text["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one, text);
    let (_, one) = get(&app, &format!("/v1/groups/g/dlq/{text_id}")).await;
    assert_eq!(one, text, "found by the original id too");
    let (status, json) = get(&app, "/v1/groups/g/dlq/NOPE").await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"DEAD_LETTER_NOT_FOUND".into())
    );

    let (status, content_type, export) = call_raw(&app, "GET", "/v1/groups/g/dlq:export").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-ndjson");
    let export = String::from_utf8(export.to_vec()).unwrap();
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(&lines, letters);
    assert!(export.ends_with('\n'));
    let (_, _, tail) = call_raw(&app, "GET", "/v1/groups/g/dlq:export?offset=1").await;
    assert_eq!(String::from_utf8_lossy(&tail).lines().count(), 1);

    // Resent dead letters come back to the group (only), marked as resent.
    let (status, resent) = post(
        &app,
        &format!("/v1/groups/g/dlq/{}/resend", text["id"].as_str().unwrap()),
        serde_json::json!(null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resent}");
    assert!(resent["id"].as_str().is_some_and(|id| !id.is_empty()));
    let back = receive(&app, "g", serde_json::json!({"invisible_ms": 60_000})).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["id"], text_id.as_str());
    assert_eq!(back[0]["body"], "poison");
    assert_eq!(back[0]["resent"], true);
    let (_, acked) = post(
        &app,
        "/v1/groups/g/ack",
        serde_json::json!({"receipts": receipts(&back)}),
    )
    .await;
    assert_eq!(acked["acked"], 1, "{acked}");

    let (status, resent) = post(
        &app,
        "/v1/groups/g/dlq:resend",
        serde_json::json!({"from_offset": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resent}");
    assert_eq!(resent["resent"], 2);
    let back = receive(
        &app,
        "g",
        serde_json::json!({"max": 10, "invisible_ms": 60_000}),
    )
    .await;
    assert_eq!(back.len(), 2);
    assert!(back.iter().all(|m| m["resent"] == true));
}

#[tokio::test]
async fn offsets_are_reset_and_committed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    for body in ["a", "b", "c"] {
        send(&app, "t", 0, body).await;
    }
    create_group(
        &app,
        serde_json::json!({"name": "g", "topic": "t", "from": "earliest"}),
    )
    .await;
    let (_, lag) = get(&app, "/v1/groups/g/lag").await;
    assert_eq!(lag["total"], 3, "{lag}");
    assert_eq!(lag["queues"][0]["queue"], 0);
    assert_eq!(lag["queues"][0]["retry"], false);
    assert_eq!(lag["queues"][0]["max_offset"], 3);
    assert!(lag["queues"][0]["oldest_age_ms"].as_i64().unwrap() >= 0);

    let (status, reset) = post(
        &app,
        "/v1/groups/g/reset",
        serde_json::json!({"to": "latest"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_eq!(
        reset,
        serde_json::json!({"queues": [{"queue": 0, "committed": 3}]})
    );
    let (_, lag) = get(&app, "/v1/groups/g/lag").await;
    assert_eq!(lag["total"], 0);

    let (_, reset) = post(
        &app,
        "/v1/groups/g/reset",
        serde_json::json!({"to": "offset", "offset": 1, "queue": 0}),
    )
    .await;
    assert_eq!(reset["queues"][0]["committed"], 1, "{reset}");
    let bodies: Vec<_> = receive(&app, "g", serde_json::json!({"max": 10}))
        .await
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(bodies, ["b", "c"]);

    let (status, json) = post(
        &app,
        "/v1/groups/g/offsets",
        serde_json::json!({"queue": 0, "offset": 3}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{json}");
    let (_, offsets) = get(&app, "/v1/groups/g/offsets").await;
    assert_eq!(
        offsets,
        serde_json::json!({"queues": [{"queue": 0, "committed": 3}]})
    );

    let (_, reset) = post(
        &app,
        "/v1/groups/g/reset",
        serde_json::json!({"to": "timestamp", "timestamp_ms": 0}),
    )
    .await;
    assert_eq!(reset["queues"][0]["committed"], 0, "{reset}");
    let (_, reset) = post(
        &app,
        "/v1/groups/g/reset",
        serde_json::json!({"to": "earliest"}),
    )
    .await;
    assert_eq!(reset["queues"][0]["committed"], 0, "{reset}");

    let cases = [
        (
            serde_json::json!({"to": "offset", "offset": 99}),
            400,
            "OFFSET_OUT_OF_RANGE",
        ),
        (
            serde_json::json!({"to": "latest", "queue": 5}),
            404,
            "QUEUE_NOT_FOUND",
        ),
        (
            serde_json::json!({"to": "timestamp"}),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"to": "timestamp", "timestamp_ms": -1}),
            400,
            "INVALID_ARGUMENT",
        ),
        (serde_json::json!({"to": "offset"}), 400, "INVALID_ARGUMENT"),
        (
            serde_json::json!({"to": "latest", "offset": 1}),
            400,
            "INVALID_ARGUMENT",
        ),
        (serde_json::json!({"to": "yesterday"}), 400, "INVALID_JSON"),
        (serde_json::json!({}), 400, "INVALID_JSON"),
    ];
    for (body, status, code) in cases {
        let (got, json) = post(&app, "/v1/groups/g/reset", body.clone()).await;
        assert_eq!(
            (got.as_u16(), &json["code"]),
            (status, &code.into()),
            "{body}: {json}"
        );
    }
    let (status, json) = post(
        &app,
        "/v1/groups/g/offsets",
        serde_json::json!({"queue": 0, "offset": 4}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (400, &"OFFSET_OUT_OF_RANGE".into())
    );
}

#[tokio::test]
async fn broadcasting_members_each_receive_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let group = create_group(
        &app,
        serde_json::json!({"name": "fanout", "topic": "t", "mode": "broadcasting"}),
    )
    .await;
    assert_eq!(group["mode"], "broadcasting");
    let id = send(&app, "t", 0, "news").await;

    let (status, json) = post(&app, "/v1/groups/fanout/receive", serde_json::json!({})).await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (400, &"CONSUMER_REQUIRED".into())
    );
    let (status, json) = get(&app, "/v1/groups/fanout/lag").await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (400, &"CONSUMER_REQUIRED".into())
    );

    for consumer in ["a", "b"] {
        let got = receive(&app, "fanout", serde_json::json!({"consumer": consumer})).await;
        assert_eq!(got.len(), 1, "{consumer}");
        assert_eq!(got[0]["id"], id.as_str());
        assert_eq!(got[0]["attempt"], 1);
    }
    let (_, described) = get(&app, "/v1/groups/fanout?consumer=b").await;
    assert_eq!(
        described["members"],
        serde_json::json!(["a", "b"]),
        "{described}"
    );
    let (status, lag) = get(&app, "/v1/groups/fanout/lag?consumer=a").await;
    assert_eq!(status, StatusCode::OK, "{lag}");
}

#[tokio::test]
async fn patch_topic_adds_queues_and_never_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 2).await;
    let (status, topic) = call(&app, "PATCH", "/v1/topics/t", &[JSON], r#"{"queues":4}"#).await;
    assert_eq!(status, StatusCode::OK, "{topic}");
    assert_eq!(topic["name"], "t");
    assert_eq!(topic["queues"], 4);
    assert_eq!(topic["queue_offsets"].as_array().unwrap().len(), 4);
    let cases = [
        ("/v1/topics/t", r#"{"queues":3}"#, 400, "INVALID_ARGUMENT"),
        ("/v1/topics/t", r#"{"queues":0}"#, 400, "INVALID_ARGUMENT"),
        ("/v1/topics/t", r#"{"queues":-1}"#, 400, "INVALID_JSON"),
        (
            "/v1/topics/t",
            r#"{"queues":4,"name":"x"}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "/v1/topics/missing",
            r#"{"queues":4}"#,
            404,
            "TOPIC_NOT_FOUND",
        ),
    ];
    for (uri, body, status, code) in cases {
        let (got, json) = call(&app, "PATCH", uri, &[JSON], body).await;
        assert_eq!(
            (got.as_u16(), &json["code"]),
            (status, &code.into()),
            "{body}: {json}"
        );
    }
    let (_, topic) = get(&app, "/v1/topics/t").await;
    assert_eq!(topic["queues"], 4);
}

#[tokio::test]
async fn bad_group_requests_get_stable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    create_group(&app, serde_json::json!({"name": "g", "topic": "t"})).await;
    create_group(&app, serde_json::json!({"name": "other", "topic": "t"})).await;
    send(&app, "t", 0, "m").await;
    let held = receive(&app, "other", serde_json::json!({})).await;
    let foreign = held[0]["receipt"].as_str().unwrap();

    let cases: &[ErrorCase<'_>] = &[
        (
            "POST",
            "/v1/groups",
            &[JSON],
            r#"{"name":"a b","topic":"t"}"#,
            400,
            "INVALID_GROUP_NAME",
        ),
        (
            "POST",
            "/v1/groups",
            &[JSON],
            r#"{"name":"x","topic":"nope"}"#,
            404,
            "TOPIC_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups",
            &[JSON],
            r#"{"name":"g","topic":"t"}"#,
            409,
            "GROUP_EXISTS",
        ),
        (
            "POST",
            "/v1/groups",
            &[JSON],
            r#"{"name":"x","topic":"t","mode":"x"}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/groups",
            &[JSON],
            r#"{"name":"x","topic":"t","max_attempts":0}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups",
            &[JSON],
            r#"{"name":"x","topic":"t","invisible_ms":1}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups",
            &[JSON],
            r#"{"name":"x","topic":"t","size":1}"#,
            400,
            "INVALID_JSON",
        ),
        ("POST", "/v1/groups", &[JSON], "", 400, "INVALID_JSON"),
        ("GET", "/v1/groups/nope", &[], "", 404, "GROUP_NOT_FOUND"),
        ("DELETE", "/v1/groups/nope", &[], "", 404, "GROUP_NOT_FOUND"),
        (
            "POST",
            "/v1/groups/nope/receive",
            &[JSON],
            "{}",
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/nope/ack",
            &[JSON],
            r#"{"receipts":["x"]}"#,
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/nope/nack",
            &[JSON],
            r#"{"receipts":["x"]}"#,
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/nope/invisible",
            &[JSON],
            r#"{"receipt":"x","invisible_ms":1000}"#,
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "GET",
            "/v1/groups/nope/lag",
            &[],
            "",
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/nope/reset",
            &[JSON],
            r#"{"to":"latest"}"#,
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "GET",
            "/v1/groups/nope/offsets",
            &[],
            "",
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/nope/offsets",
            &[JSON],
            r#"{"queue":0,"offset":0}"#,
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "GET",
            "/v1/groups/nope/dlq",
            &[],
            "",
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "GET",
            "/v1/groups/nope/dlq/X",
            &[],
            "",
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/nope/dlq/X/resend",
            &[],
            "",
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/nope/dlq:resend",
            &[],
            "",
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "GET",
            "/v1/groups/nope/dlq:export",
            &[],
            "",
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"wait_ms":-1}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"wait_ms":1.5}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"wait_ms":30001}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"wait_ms":99999999999999999999999}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"max":0}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"max":1001}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"invisible_ms":99}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"invisible_ms":43200001}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"invisible_ms":-5}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"consumer":""}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/receive",
            &[JSON],
            r#"{"wait":1}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/groups/g/ack",
            &[JSON],
            r#"{"receipts":["garbage"]}"#,
            400,
            "RECEIPT_INVALID",
        ),
        (
            "POST",
            "/v1/groups/g/ack",
            &[JSON],
            r#"{"receipts":[]}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/ack",
            &[JSON],
            r#"{"receipts":"x"}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/groups/g/nack",
            &[JSON],
            r#"{"receipts":["1.0.0.0"]}"#,
            400,
            "RECEIPT_INVALID",
        ),
        (
            "POST",
            "/v1/groups/g/nack",
            &[JSON],
            r#"{"receipts":["x"],"delay_ms":-1}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "POST",
            "/v1/groups/g/nack",
            &[JSON],
            r#"{"receipts":["x"],"delay_ms":43200001}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/invisible",
            &[JSON],
            r#"{"receipt":"garbage","invisible_ms":1000}"#,
            400,
            "RECEIPT_INVALID",
        ),
        (
            "POST",
            "/v1/groups/g/invisible",
            &[JSON],
            r#"{"receipt":"x","invisible_ms":50}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/invisible",
            &[JSON],
            r#"{"receipt":"x","invisible_ms":43200001}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/v1/groups/g/invisible",
            &[JSON],
            r#"{"receipt":"x"}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "GET",
            "/v1/groups/g/dlq?max=0",
            &[],
            "",
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "GET",
            "/v1/groups/g/dlq?max=1001",
            &[],
            "",
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "GET",
            "/v1/groups/g/dlq?offset=-1",
            &[],
            "",
            400,
            "INVALID_OFFSET",
        ),
        (
            "GET",
            "/v1/groups/g/dlq:export?offset=x",
            &[],
            "",
            400,
            "INVALID_OFFSET",
        ),
        (
            "GET",
            "/v1/groups/g/dlq/NOPE",
            &[],
            "",
            404,
            "DEAD_LETTER_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/groups/g/dlq/NOPE/resend",
            &[],
            "",
            404,
            "DEAD_LETTER_NOT_FOUND",
        ),
        (
            "GET",
            "/v1/groups/g?consumer=%zz",
            &[],
            "",
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "GET",
            "/v1/groups?topic=%zz",
            &[],
            "",
            400,
            "INVALID_ARGUMENT",
        ),
        ("PUT", "/v1/groups", &[], "", 405, "METHOD_NOT_ALLOWED"),
        (
            "GET",
            "/v1/groups/g/ack",
            &[],
            "",
            405,
            "METHOD_NOT_ALLOWED",
        ),
    ];
    for (method, uri, headers, body, status, code) in cases {
        let (got_status, json) = call(&app, method, uri, headers, body).await;
        assert_eq!(
            got_status.as_u16(),
            *status,
            "{method} {uri} {body}: {json}"
        );
        assert_eq!(json["code"], *code, "{method} {uri} {body}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // A receipt of another group refuses the whole request, for ack, nack and invisible.
    for (path, body) in [
        ("ack", serde_json::json!({"receipts": [foreign]})),
        ("nack", serde_json::json!({"receipts": [foreign]})),
        (
            "invisible",
            serde_json::json!({"receipt": foreign, "invisible_ms": 1000}),
        ),
    ] {
        let (status, json) = post(&app, &format!("/v1/groups/g/{path}"), body).await;
        assert_eq!(
            (status.as_u16(), &json["code"]),
            (400, &"RECEIPT_INVALID".into()),
            "{path}"
        );
    }
    // ... and left the other group's delivery alone.
    let (_, acked) = post(
        &app,
        "/v1/groups/other/ack",
        serde_json::json!({"receipts": [foreign]}),
    )
    .await;
    assert_eq!(acked, serde_json::json!({"acked": 1, "failed": []}));
}

#[tokio::test]
async fn the_export_streams_every_page_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    create_group(
        &app,
        serde_json::json!({"name": "g", "topic": "t", "max_attempts": 1}),
    )
    .await;
    // More dead letters than one export page holds.
    let count = 40;
    for n in 0..count {
        send(&app, "t", 0, &format!("m{n}")).await;
    }
    let delivered = receive(&app, "g", serde_json::json!({"max": 100})).await;
    assert_eq!(delivered.len(), count);
    let (_, nacked) = post(
        &app,
        "/v1/groups/g/nack",
        serde_json::json!({"receipts": receipts(&delivered)}),
    )
    .await;
    assert_eq!(nacked["nacked"], count, "{nacked}");

    let (status, content_type, export) = call_raw(&app, "GET", "/v1/groups/g/dlq:export").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<serde_json::Value> = String::from_utf8(export.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let offsets: Vec<u64> = lines
        .iter()
        .map(|l| l["dlq_offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, (0..count as u64).collect::<Vec<_>>());
    let (_, _, tail) = call_raw(&app, "GET", "/v1/groups/g/dlq:export?offset=35").await;
    assert_eq!(String::from_utf8_lossy(&tail).lines().count(), 5);
    let (_, _, past) = call_raw(&app, "GET", "/v1/groups/g/dlq:export?offset=99").await;
    assert!(past.is_empty());
}

// Delayed messages, transactions, producer groups.

/// An app over a broker with custom limits (short check-back times).
fn app_with_limits(dir: &std::path::Path, limits: Limits) -> App {
    let mut store = StoreConfig::new(dir);
    store.segment_size = 1 << 20;
    store.index_slots = 1024;
    store.index_entries = 4096;
    store.queue_entries_per_file = 1024;
    let broker = Broker::open(BrokerConfig {
        store,
        limits: limits.clone(),
    })
    .unwrap();
    App::new(broker, ApiLimits::for_core(&limits))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Ten minutes: far enough that nothing fires during a test.
const LATER_MS: i64 = 600_000;

/// A raw send with headers; answers status and JSON.
async fn send_raw(
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
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (metric, value) = line.split_once(' ')?;
        (metric == name).then(|| value.parse().ok()).flatten()
    })
}

async fn metrics_text(app: &App) -> String {
    let (status, _, metrics) = call_raw(app, "GET", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(metrics.to_vec()).unwrap()
}

/// Calls until `done` accepts the answer, at most `tries` times, `pause_ms` apart; the
/// last answer.
async fn poll_until(
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

#[tokio::test]
async fn delayed_sends_are_scheduled_queried_and_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 2).await;
    let at = (now_ms() + LATER_MS).to_string();
    let mut sent = Vec::new();
    // Each header form.
    for (header, value) in [
        ("weir-delay-ms", LATER_MS.to_string()),
        ("weir-deliver-at", at.clone()),
        ("weir-delay-level", "18".to_string()),
    ] {
        let (status, json) = send_raw(
            &app,
            "t",
            &[
                (header, &value),
                ("weir-keys", "k"),
                ("weir-prop-source", "web"),
            ],
            header,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{header}: {json}");
        assert_eq!(json["status"], "SEND_OK", "{json}");
        assert_eq!(json["topic"], "t");
        assert!(
            json.get("queue").is_none() && json.get("offset").is_none(),
            "{json}"
        );
        assert!(json["deliver_at"].as_i64().unwrap() > now_ms(), "{json}");
        sent.push((json["id"].as_str().unwrap().to_string(), header.to_string()));
    }
    // Each JSON form.
    for (field, value) in [
        ("delay_ms", serde_json::json!(LATER_MS)),
        ("deliver_at", serde_json::json!(now_ms() + LATER_MS)),
        ("delay_level", serde_json::json!(17)),
    ] {
        let mut body = serde_json::json!({"body": field, "tag": "later"});
        body[field] = value;
        let (status, json) = post(&app, "/v1/topics/t/messages", body).await;
        assert_eq!(status, StatusCode::OK, "{field}: {json}");
        assert!(json.get("queue").is_none(), "{json}");
        assert!(json["deliver_at"].as_i64().unwrap() > now_ms(), "{json}");
        sent.push((json["id"].as_str().unwrap().to_string(), field.to_string()));
    }
    let (_, level) = get(&app, &format!("/v1/messages/{}", sent[2].0)).await;
    let level_at = level["deliver_at"].as_i64().unwrap();
    assert!(level_at - now_ms() <= 7_200_000 && level_at - now_ms() > 7_100_000);
    // Queries see them as scheduled, without the broker's bookkeeping properties.
    for (id, body) in &sent {
        let (status, json) = get(&app, &format!("/v1/messages/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["state"], "scheduled", "{json}");
        assert_eq!(json["topic"], "t");
        assert_eq!(json["body"], body.as_str());
        assert!(json["deliver_at"].is_i64());
        assert!(json.get("queue").is_none(), "{json}");
        let properties = json["properties"].as_object().unwrap();
        assert!(properties.keys().all(|k| !k.starts_with("weir.")), "{json}");
    }
    let (_, first) = get(&app, &format!("/v1/messages/{}", sent[0].0)).await;
    assert_eq!(first["keys"], serde_json::json!(["k"]));
    assert_eq!(first["properties"], serde_json::json!({"source": "web"}));
    let raw = app
        .handle(
            Request::get(format!("/v1/messages/{}", sent[1].0))
                .header("accept", "application/octet-stream")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw.headers()["weir-state"], "scheduled");
    assert_eq!(raw.headers()["weir-deliver-at"], at.as_str());
    assert_eq!(raw.headers()["weir-topic"], "t");
    assert!(raw.headers().get("weir-queue").is_none());
    // Nothing is in the topic yet.
    let (_, described) = get(&app, "/v1/topics/t").await;
    assert_eq!(described["messages"], 0, "{described}");
    assert_eq!(
        metric(&metrics_text(&app).await, "weir_delayed_pending"),
        Some(6.0)
    );
    assert!(metric(&metrics_text(&app).await, "weir_timers_pending").unwrap() >= 6.0);

    // Cancel.
    let (cancelled_id, _) = &sent[0];
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/messages/{cancelled_id}/cancel"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["id"], cancelled_id.as_str());
    assert_eq!(json["topic"], "t");
    assert_eq!(json["state"], "cancelled");
    assert!(json["deliver_at"].is_i64());
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/messages/{cancelled_id}/cancel"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"NOT_SCHEDULED".into())
    );
    let (status, json) = get(&app, &format!("/v1/messages/{cancelled_id}")).await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"MESSAGE_NOT_FOUND".into())
    );
    assert_eq!(
        metric(&metrics_text(&app).await, "weir_delayed_pending"),
        Some(5.0)
    );

    // A stored message is not scheduled: it cannot be cancelled, and shows as stored.
    let stored = send(&app, "t", 0, "now").await;
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/messages/{stored}/cancel"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"NOT_SCHEDULED".into())
    );
    let (_, json) = get(&app, &format!("/v1/messages/{stored}")).await;
    assert_eq!(json["state"], "stored");
    assert_eq!(json["queue"], 0);
    let (status, json) = call(&app, "POST", "/v1/messages/NOPE/cancel", &[], "").await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"NOT_SCHEDULED".into())
    );
    let (status, _) = call(
        &app,
        "GET",
        &format!("/v1/messages/{stored}/cancel"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    // A short delay is delivered to its topic, under its id, and becomes "stored".
    let (_, json) = send_raw(&app, "t", &[("weir-delay-ms", "30")], "soon").await;
    let soon = json["id"].as_str().unwrap().to_string();
    let (status, json) = poll_until(&app, &format!("/v1/messages/{soon}"), 400, 25, |_, j| {
        j["state"] == "stored"
    })
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["state"], "stored", "{json}");
    assert_eq!(json["body"], "soon");
    assert!(json["queue"].is_u64() && json["offset"].is_u64(), "{json}");
    let metrics = metrics_text(&app).await;
    assert!(
        metric(&metrics, "weir_timer_lateness_seconds_count").unwrap() >= 1.0,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "weir_delayed_pending"), Some(5.0));
    // A time in the past is sent at once.
    let (_, json) = send_raw(&app, "t", &[("weir-deliver-at", "1000")], "past").await;
    assert!(
        json["queue"].is_u64() && json.get("deliver_at").is_none(),
        "{json}"
    );
}

#[tokio::test]
async fn delayed_batches_answer_the_delivery_time() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let (status, json) = post(
        &app,
        "/v1/topics/t/messages:batch",
        serde_json::json!([
            {"body": "a", "delay_ms": LATER_MS},
            {"body": "b", "delay_level": 1},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    for result in json["results"].as_array().unwrap() {
        assert!(result["deliver_at"].is_i64(), "{json}");
        assert!(result.get("queue").is_none(), "{json}");
    }
    let (status, json) = post(
        &app,
        "/v1/topics/t/messages:batch",
        serde_json::json!([{"body": "c"}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["results"][0]["queue"], 0, "{json}");
    assert!(json["results"][0].get("deliver_at").is_none(), "{json}");
}

/// Send headers, expected status, expected code.
type HeaderCase<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

#[tokio::test]
async fn bad_delays_and_transaction_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let over = (40 * 24 * 3_600_000_i64 + 60_000).to_string();
    let over_at = (now_ms() + 40 * 24 * 3_600_000 + 60_000).to_string();
    let cases: &[HeaderCase<'_>] = &[
        (&[("weir-delay-ms", &over)], 400, "INVALID_ARGUMENT"),
        (&[("weir-deliver-at", &over_at)], 400, "INVALID_ARGUMENT"),
        (&[("weir-delay-level", "0")], 400, "INVALID_ARGUMENT"),
        (&[("weir-delay-level", "19")], 400, "INVALID_ARGUMENT"),
        (&[("weir-delay-level", "two")], 400, "INVALID_HEADER"),
        (&[("weir-delay-ms", "-1")], 400, "INVALID_HEADER"),
        (&[("weir-deliver-at", "tomorrow")], 400, "INVALID_HEADER"),
        (
            &[("weir-delay-ms", "10"), ("weir-delay-level", "1")],
            400,
            "INVALID_HEADER",
        ),
        (&[("weir-transaction", "begin")], 400, "INVALID_HEADER"),
        (&[("weir-producer-group", "pg")], 400, "INVALID_HEADER"),
        (
            &[("weir-transaction", "half"), ("weir-delay-ms", "10")],
            400,
            "INVALID_ARGUMENT",
        ),
        (
            &[
                ("weir-transaction", "half"),
                ("weir-tx-check-after-ms", "soon"),
            ],
            400,
            "INVALID_HEADER",
        ),
        (
            &[("weir-transaction", "half"), ("weir-producer-group", "a b")],
            400,
            "INVALID_ARGUMENT",
        ),
    ];
    for (headers, status, code) in cases {
        let (got, json) = send_raw(&app, "t", headers, "x").await;
        assert_eq!(
            (got.as_u16(), json["code"].as_str()),
            (*status, Some(*code)),
            "{headers:?}: {json}"
        );
    }
    let json_cases = [
        (
            serde_json::json!({"body": "x", "delay_level": 19}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "delay_ms": -1}),
            "INVALID_JSON",
        ),
        (
            serde_json::json!({"body": "x", "delay_ms": 40 * 24 * 3_600_000_u64 + 1}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "delay_ms": 1, "deliver_at": 1}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "transaction": "begin"}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "producer_group": "pg"}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "transaction": "half", "delay_level": 1}),
            "INVALID_ARGUMENT",
        ),
    ];
    for (body, code) in json_cases {
        let (status, json) = post(&app, "/v1/topics/t/messages", body.clone()).await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (400, Some(code)),
            "{body}: {json}"
        );
    }
    // Batches carry no transaction, and take delays only per message.
    let (status, json) = post(
        &app,
        "/v1/topics/t/messages:batch",
        serde_json::json!([{"body": "x"}, {"body": "y", "transaction": "half"}]),
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{json}"
    );
    for header in [("weir-transaction", "half"), ("weir-delay-ms", "10")] {
        let (status, json) = call(
            &app,
            "POST",
            "/v1/topics/t/messages:batch",
            &[JSON, header],
            r#"[{"body":"x"}]"#,
        )
        .await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (400, Some("INVALID_HEADER")),
            "{header:?}: {json}"
        );
    }
    // Nothing was stored or scheduled by the refused sends.
    let (_, described) = get(&app, "/v1/topics/t").await;
    assert_eq!(described["messages"], 0, "{described}");
    let (_, transactions) = get(&app, "/v1/transactions").await;
    assert_eq!(transactions["transactions"], serde_json::json!([]));
    assert_eq!(
        metric(&metrics_text(&app).await, "weir_delayed_pending"),
        Some(0.0)
    );
}

#[tokio::test]
async fn a_half_message_is_invisible_until_committed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let (status, half) = send_raw(
        &app,
        "t",
        &[
            ("weir-transaction", "half"),
            ("weir-producer-group", "pg"),
            ("weir-tag", "order"),
        ],
        "pending",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{half}");
    let tx = half["transaction"].as_str().unwrap().to_string();
    assert_eq!(half["id"], tx.as_str());
    assert_eq!(half["topic"], "t");
    assert_eq!(half["status"], "SEND_OK");
    // Invisible: not found by id, not in the queue.
    let (status, _) = get(&app, &format!("/v1/messages/{tx}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, read) = get(&app, "/v1/topics/t/queues/0/messages?offset=0").await;
    assert_eq!(read["messages"], serde_json::json!([]));
    // Listed as undecided.
    let (status, list) = get(&app, "/v1/transactions?max=10").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = &list["transactions"][0];
    assert_eq!(listed["transaction"], tx.as_str());
    assert_eq!(listed["topic"], "t");
    assert_eq!(listed["producer_group"], "pg");
    assert_eq!(listed["checks"], 0);
    assert_eq!(listed["parked"], false);
    assert_eq!(listed["body"], "pending");
    assert_eq!(listed["tag"], "order");
    assert!(listed["store_ms"].is_i64());
    let properties = listed["properties"].as_object().unwrap();
    assert!(
        properties.keys().all(|k| !k.starts_with("weir.")),
        "{listed}"
    );
    // Commit: visible, under the transaction id.
    let (status, json) = post(
        &app,
        &format!("/v1/transactions/{tx}/commit"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json,
        serde_json::json!({"transaction": tx, "state": "committed"})
    );
    let (status, message) = get(&app, &format!("/v1/messages/{tx}")).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(message["body"], "pending");
    assert_eq!(message["tag"], "order");
    assert_eq!(message["state"], "stored");
    assert!(
        message["properties"].as_object().unwrap().is_empty(),
        "{message}"
    );
    // Committing again is fine; rolling back now is a conflict.
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v1/transactions/{tx}/commit"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/transactions/{tx}/rollback"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (409, Some("TRANSACTION_CONFLICT")),
        "{json}"
    );
    let (_, list) = get(&app, "/v1/transactions").await;
    assert_eq!(list["transactions"], serde_json::json!([]));
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/transactions/{tx}/resume"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (404, Some("TRANSACTION_NOT_FOUND")),
        "{json}"
    );
}

#[tokio::test]
async fn a_rolled_back_half_message_is_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let (status, half) = post(
        &app,
        "/v1/topics/t/messages",
        serde_json::json!({"body": "no", "transaction": "half", "id": "tx-1",
            "check_after_ms": 600_000}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{half}");
    assert_eq!(half["transaction"], "tx-1");
    // A retried half send answers the first one.
    let (_, again) = post(
        &app,
        "/v1/topics/t/messages",
        serde_json::json!({"body": "no", "transaction": "half", "id": "tx-1"}),
    )
    .await;
    assert_eq!(again["transaction"], "tx-1");
    let (_, list) = get(&app, "/v1/transactions").await;
    assert_eq!(list["transactions"].as_array().unwrap().len(), 1, "{list}");
    assert!(list["transactions"][0].get("producer_group").is_none());
    let (status, json) = call(&app, "POST", "/v1/transactions/tx-1/resume", &[], "").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["state"], "resumed");
    let (status, json) = call(&app, "POST", "/v1/transactions/tx-1/rollback", &[], "").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json,
        serde_json::json!({"transaction": "tx-1", "state": "rolled_back"})
    );
    let (status, _) = get(&app, "/v1/messages/tx-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, json) = call(&app, "POST", "/v1/transactions/tx-1/commit", &[], "").await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (409, Some("TRANSACTION_CONFLICT")),
        "{json}"
    );
    for action in ["commit", "rollback", "resume"] {
        let (status, json) = call(
            &app,
            "POST",
            &format!("/v1/transactions/NOPE/{action}"),
            &[],
            "",
        )
        .await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (404, Some("TRANSACTION_NOT_FOUND")),
            "{action}: {json}"
        );
    }
    let (_, read) = get(&app, "/v1/topics/t/queues/0/messages?offset=0").await;
    assert_eq!(read["messages"], serde_json::json!([]));
    for max in ["0", "1001", "x"] {
        let (status, _) = get(&app, &format!("/v1/transactions?max={max}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "max={max}");
    }
}

#[tokio::test]
async fn producer_groups_are_created_listed_replaced_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (status, json) = post(
        &app,
        "/v1/producer-groups",
        serde_json::json!({"name": "pg", "callback_url": "http://127.0.0.1:9/check"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["name"], "pg");
    assert_eq!(json["callback_url"], "http://127.0.0.1:9/check");
    assert!(json["created_ms"].is_i64());
    let (status, json) = post(
        &app,
        "/v1/producer-groups",
        serde_json::json!({"name": "other"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert!(json.get("callback_url").is_none(), "{json}");
    let (_, list) = get(&app, "/v1/producer-groups").await;
    let names: Vec<&str> = list["producer_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["other", "pg"]);
    // Replace: the callback goes away.
    let (status, _) = post(
        &app,
        "/v1/producer-groups",
        serde_json::json!({"name": "pg"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, json) = get(&app, "/v1/producer-groups/pg").await;
    assert_eq!(status, StatusCode::OK);
    assert!(json.get("callback_url").is_none(), "{json}");
    let (status, _) = call(&app, "DELETE", "/v1/producer-groups/pg", &[], "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for method in ["GET", "DELETE"] {
        let (status, json) = call(&app, method, "/v1/producer-groups/pg", &[], "").await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (404, Some("PRODUCER_GROUP_NOT_FOUND")),
            "{method}: {json}"
        );
    }
    for (body, code) in [
        (
            serde_json::json!({"name": "pg", "callback_url": "https://example.com/x"}),
            "INVALID_ARGUMENT",
        ),
        (serde_json::json!({"name": "a b"}), "INVALID_ARGUMENT"),
        (
            serde_json::json!({"name": "pg", "url": "http://x/"}),
            "INVALID_JSON",
        ),
        (serde_json::json!({}), "INVALID_JSON"),
    ] {
        let (status, json) = post(&app, "/v1/producer-groups", body.clone()).await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (400, Some(code)),
            "{body}: {json}"
        );
    }
    let (status, _) = call(&app, "PUT", "/v1/producer-groups/other", &[], "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn producers_long_poll_their_check_backs() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        tx_check_after_ms: 50,
        ..Limits::default()
    };
    let app = app_with_limits(dir.path(), limits);
    create_topic(&app, "t", 1).await;
    let (status, half) = send_raw(
        &app,
        "t",
        &[("weir-transaction", "half"), ("weir-producer-group", "pg")],
        "ask me",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{half}");
    let tx = half["transaction"].as_str().unwrap().to_string();
    // No callback URL: the check-back waits for a producer of the group.
    let (status, json) = poll_until(
        &app,
        "/v1/producer-groups/pg/checks?max=10&wait_ms=1000",
        20,
        0,
        |_, j| j["checks"].as_array().is_some_and(|c| !c.is_empty()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let check = &json["checks"][0];
    assert_eq!(check["transaction"], tx.as_str(), "{json}");
    assert_eq!(check["topic"], "t");
    assert_eq!(check["producer_group"], "pg");
    assert!(check["checks"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(check["body"], "ask me");
    // Other groups are not asked.
    let (_, json) = get(&app, "/v1/producer-groups/other/checks").await;
    assert_eq!(json["checks"], serde_json::json!([]));
    // The producer answers with a commit.
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v1/transactions/{tx}/commit"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, message) = get(&app, &format!("/v1/messages/{tx}")).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(message["body"], "ask me");
    for query in ["wait_ms=30001", "wait_ms=soon", "max=0", "max=1001"] {
        let (status, json) = get(&app, &format!("/v1/producer-groups/pg/checks?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {json}");
    }
    let (status, json) = get(&app, "/v1/producer-groups/a%20b/checks").await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{json}"
    );
}

/// A check-back callback server on 127.0.0.1: `/commit` answers commit, `/broken` a 500;
/// every request body is sent to the returned channel.
async fn callback_server() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<(String, serde_json::Value)>,
) {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let sender = sender.clone();
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let sender = sender.clone();
                async move {
                    let path = request.uri().path().to_string();
                    let body = request.into_body().collect().await?.to_bytes();
                    let json = serde_json::from_slice(&body).unwrap_or_default();
                    let _ = sender.send((path.clone(), json));
                    let (status, answer) = match path.as_str() {
                        "/commit" => (StatusCode::OK, r#"{"state":"commit"}"#),
                        _ => (StatusCode::INTERNAL_SERVER_ERROR, "oops"),
                    };
                    let mut response = http::Response::new(Full::new(Bytes::from(answer)));
                    *response.status_mut() = status;
                    Ok::<_, hyper::Error>(response)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (addr, receiver)
}

#[tokio::test]
async fn a_callback_url_decides_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        tx_check_after_ms: 30,
        ..Limits::default()
    };
    let app = app_with_limits(dir.path(), limits);
    create_topic(&app, "t", 1).await;
    let (addr, mut requests) = callback_server().await;
    for (group, path) in [("committer", "commit"), ("broken", "broken")] {
        let (status, json) = post(
            &app,
            "/v1/producer-groups",
            serde_json::json!({"name": group, "callback_url": format!("http://{addr}/{path}")}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
    }
    let (_, half) = post(
        &app,
        "/v1/topics/t/messages",
        serde_json::json!({"body": "decided by callback", "keys": ["k1"],
            "transaction": "half", "producer_group": "committer"}),
    )
    .await;
    let tx = half["transaction"].as_str().unwrap().to_string();
    let (status, message) = poll_until(&app, &format!("/v1/messages/{tx}"), 400, 25, |s, _| {
        s == StatusCode::OK
    })
    .await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(message["body"], "decided by callback");
    let (path, body) = requests.recv().await.unwrap();
    assert_eq!(path, "/commit");
    assert_eq!(body["transaction"], tx.as_str(), "{body}");
    assert_eq!(body["topic"], "t");
    assert_eq!(body["producer_group"], "committer");
    assert_eq!(body["checks"], 1);
    assert_eq!(body["message"]["id"], tx.as_str());
    assert_eq!(body["message"]["topic"], "t");
    assert_eq!(body["message"]["body"], "decided by callback");
    assert_eq!(body["message"]["keys"], serde_json::json!(["k1"]));

    // A callback that fails leaves the transaction undecided, for the group's producers.
    let (_, half) = send_raw(
        &app,
        "t",
        &[
            ("weir-transaction", "half"),
            ("weir-producer-group", "broken"),
        ],
        "undecided",
    )
    .await;
    let tx = half["transaction"].as_str().unwrap().to_string();
    let (path, _) = requests.recv().await.unwrap();
    assert_eq!(path, "/broken");
    let (_, json) = poll_until(
        &app,
        "/v1/producer-groups/broken/checks?wait_ms=1000",
        20,
        0,
        |_, j| j["checks"].as_array().is_some_and(|c| !c.is_empty()),
    )
    .await;
    assert_eq!(json["checks"][0]["transaction"], tx.as_str(), "{json}");
    let (status, _) = get(&app, &format!("/v1/messages/{tx}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = get(&app, "/v1/transactions").await;
    assert_eq!(
        list["transactions"][0]["transaction"],
        tx.as_str(),
        "{list}"
    );
}

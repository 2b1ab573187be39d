//! The router without a socket: requests in, responses out, over a real broker in a
//! temporary directory.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use weir_api::{ApiLimits, App, ROUTES};
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
    App::new(Arc::new(broker), ApiLimits::for_core(&limits))
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
fn the_openapi_document_describes_every_route() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
    for (method, path) in ROUTES {
        let operation = &doc["paths"][path][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} is missing from openapi.json"
        );
        assert!(
            operation["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
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

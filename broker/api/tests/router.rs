//! The router without a socket: requests in, responses out, over a real broker in a
//! temporary directory.

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

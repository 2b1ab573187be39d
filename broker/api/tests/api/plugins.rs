//! Module, binding and status routes without a socket, over a real broker and plugin
//! host in a temporary directory, with the guest components `./scripts/test` builds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use weir_api::{ApiLimits, App};
use weir_core::{Broker, Limits};
use weir_plugin::{PluginHost, PluginHostConfig};

use crate::support;

/// The bytes of a guest component, e.g. `ack_all`.
fn component(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e} (./scripts/test builds the guest components)",
            path.display()
        )
    })
}

fn broker(dir: &Path) -> Arc<Broker> {
    support::open_broker(support::small_store(&dir.join("store")), &Limits::default())
}

/// An app with a plugin host whose module limit is `max_module_bytes`.
async fn app_with_plugins(dir: &Path, max_module_bytes: usize) -> (App, PluginHost) {
    let broker = broker(dir);
    let mut config = PluginHostConfig::new(dir);
    config.max_module_bytes = max_module_bytes;
    let host = PluginHost::open(Arc::clone(&broker), config.clone())
        .await
        .unwrap();
    let app = App::new(broker, ApiLimits::for_core(&Limits::default()))
        .with_plugins(host.clone(), &config);
    (app, host)
}

async fn call_bytes(app: &App, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = app.handle(request).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn call(app: &App, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    call_bytes(app, method, uri, body).await
}

async fn metrics_text(app: &App) -> String {
    let request = Request::builder()
        .uri("/metrics")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let body = app.handle(request).await.into_body().collect().await;
    String::from_utf8(body.unwrap().to_bytes().to_vec()).unwrap()
}

/// The value of the sample `series` (name and labels as rendered).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} is not in\n{text}"))
}

fn expect_error(answer: (StatusCode, Value), status: u16, code: &str) {
    assert_eq!(answer.0.as_u16(), status, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
}

#[tokio::test]
async fn without_a_plugin_host_module_and_binding_routes_are_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(broker(dir.path()), ApiLimits::for_core(&Limits::default()));
    for (method, uri) in [
        ("GET", "/v1/modules"),
        ("PUT", "/v1/modules/m?world=consumer"),
        ("GET", "/v1/modules/m"),
        ("DELETE", "/v1/modules/m"),
        ("GET", "/v1/bindings"),
        ("POST", "/v1/bindings"),
        ("GET", "/v1/bindings/b"),
        ("PUT", "/v1/bindings/b"),
        ("DELETE", "/v1/bindings/b"),
        ("POST", "/v1/bindings/b/pause"),
        ("POST", "/v1/bindings/b/resume"),
    ] {
        let answer = call(&app, method, uri, Value::Null).await;
        expect_error(answer, 503, "PLUGINS_DISABLED");
    }
    let (status, body) = call(&app, "GET", "/v1/status", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["topics"], 0);
    assert_eq!(body["modules"], json!([]));
    assert_eq!(body["bindings"], json!([]));
    assert!(body["uptime_ms"].is_u64(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_are_uploaded_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (app, host) = app_with_plugins(dir.path(), 1 << 20).await;
    let ack_all = component("ack_all");

    let (status, first) = call_bytes(
        &app,
        "PUT",
        "/v1/modules/ack?world=consumer",
        ack_all.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["name"], "ack");
    assert_eq!(first["version"], 1);
    assert_eq!(first["world"], "consumer-plugin");
    assert_eq!(first["size"], ack_all.len());
    assert_eq!(first["sha256"].as_str().map(str::len), Some(64));

    // The same bytes again: the existing version, 200.
    let (status, again) = call_bytes(
        &app,
        "PUT",
        "/v1/modules/ack?world=consumer-plugin",
        ack_all.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first);

    let (status, dedup) = call_bytes(
        &app,
        "PUT",
        "/v1/modules/dedup?world=dedup-filter",
        component("json_dedup"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{dedup}");
    assert_eq!(dedup["world"], "dedup-filter-plugin");

    let (status, list) = call(&app, "GET", "/v1/modules", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ack", "dedup"]);
    assert_eq!(list["modules"][0]["error"], Value::Null);

    let (status, module) = call(&app, "GET", "/v1/modules/ack", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(module["name"], "ack");
    assert_eq!(module["world"], "consumer-plugin");
    assert_eq!(module["versions"][0]["sha256"], first["sha256"]);

    // A name whose versions are consumers refuses another world.
    let answer = call_bytes(
        &app,
        "PUT",
        "/v1/modules/ack?world=tx-checker",
        component("json_dedup"),
    )
    .await;
    expect_error(answer, 409, "WORLD_MISMATCH");

    let answer = call(&app, "DELETE", "/v1/modules/ack?version=x", Value::Null).await;
    expect_error(answer, 400, "INVALID_ARGUMENT");
    let answer = call(&app, "DELETE", "/v1/modules/ack?version=7", Value::Null).await;
    expect_error(answer, 404, "MODULE_NOT_FOUND");
    let (status, _) = call(&app, "DELETE", "/v1/modules/ack?version=1", Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answer = call(&app, "GET", "/v1/modules/ack", Value::Null).await;
    expect_error(answer, 404, "MODULE_NOT_FOUND");
    let (status, _) = call(&app, "DELETE", "/v1/modules/dedup", Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = call(&app, "GET", "/v1/modules", Value::Null).await;
    assert_eq!(list["modules"], json!([]));
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_get_stable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let ack_all = component("ack_all");
    // A limit just under the component's size.
    let (app, host) = app_with_plugins(dir.path(), ack_all.len() - 1).await;
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "/v1/modules/m?world=consumer",
            random,
            400,
            "NOT_A_COMPONENT",
        ),
        (
            "/v1/modules/m?world=consumer",
            b"\0asm\x01\0\0\0".to_vec(),
            400,
            "NOT_A_COMPONENT",
        ),
        ("/v1/modules/m", b"\0asm".to_vec(), 400, "NOT_A_COMPONENT"),
        (
            "/v1/modules/m?world=producer",
            b"\0asm".to_vec(),
            400,
            "INVALID_WORLD",
        ),
        (
            "/v1/modules/a%20b?world=consumer",
            b"\0asm".to_vec(),
            400,
            "INVALID_NAME",
        ),
        (
            "/v1/modules/m?world=consumer",
            ack_all.clone(),
            413,
            "MODULE_TOO_LARGE",
        ),
    ];
    for (uri, body, status, code) in cases {
        let answer = call_bytes(&app, "PUT", uri, body).await;
        expect_error(answer, status, code);
    }
    // A declared length over the limit is refused before the body is read.
    let request = Request::builder()
        .method("PUT")
        .uri("/v1/modules/m?world=consumer")
        .header("content-length", (ack_all.len() * 2).to_string())
        .body(Full::new(Bytes::from(ack_all.clone())))
        .unwrap();
    let response = app.handle(request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    host.shutdown().await;

    // A component of another world than the one claimed.
    let dir = tempfile::tempdir().unwrap();
    let (app, host) = app_with_plugins(dir.path(), 1 << 20).await;
    let answer = call_bytes(&app, "PUT", "/v1/modules/m?world=tx-checker", ack_all).await;
    expect_error(answer, 422, "MISSING_EXPORT");
    let (_, list) = call(&app, "GET", "/v1/modules", Value::Null).await;
    assert_eq!(list["modules"], json!([]));
    host.shutdown().await;
}

fn consumer_binding(name: &str, module: &str) -> Value {
    json!({
        "name": name,
        "module": module,
        "target": {"kind": "consumer", "topic": "t", "group": "g", "batch_size": 4},
        "deadline_ms": 2000,
        "config": "hello",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_are_created_changed_paused_resumed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (app, host) = app_with_plugins(dir.path(), 1 << 20).await;
    let (status, _) = call(
        &app,
        "POST",
        "/v1/topics",
        json!({"name": "t", "queues": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call_bytes(
        &app,
        "PUT",
        "/v1/modules/ack?world=consumer",
        component("ack_all"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call_bytes(
        &app,
        "PUT",
        "/v1/modules/dedup?world=dedup-filter",
        component("json_dedup"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, config) = call(&app, "POST", "/v1/bindings", consumer_binding("b", "ack")).await;
    assert_eq!(status, StatusCode::CREATED, "{config}");
    assert_eq!(config["name"], "b");
    assert_eq!(config["version"], Value::Null);
    assert_eq!(
        config["target"],
        json!({"kind": "consumer", "topic": "t", "group": "g", "batch_size": 4, "concurrency": 1})
    );
    assert_eq!(config["deadline_ms"], 2000);
    assert_eq!(config["config"], "hello");
    assert_eq!(
        config["grants"],
        json!({"publish": false, "http_allowlist": []})
    );
    assert_eq!(config["run"], json!({"state": "running"}));

    // The binding consumes: a message sent to the topic is acked by the plugin.
    let (status, _) = call_bytes(&app, "POST", "/v1/topics/t/messages", b"m".to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, binding) = call(&app, "GET", "/v1/bindings/b", Value::Null).await;
        if binding["metrics"]["acked"] == 1 {
            assert_eq!(binding["module_version"], 1);
            assert_eq!(binding["consecutive_failures"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "never acked: {binding}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let text = metrics_text(&app).await;
    let calls = metric(&text, r#"weir_binding_calls_total{binding="b"}"#);
    assert!(calls >= 1.0, "{text}");
    assert!(metric(&text, r#"weir_binding_messages_total{binding="b"}"#) >= 1.0);
    assert!(metric(&text, r#"weir_binding_instantiations_total{binding="b"}"#) >= 1.0);
    let acked = r#"weir_binding_outcomes_total{binding="b",outcome="acked"}"#;
    assert_eq!(metric(&text, acked), 1.0);
    let duplicates = r#"weir_binding_outcomes_total{binding="b",outcome="duplicate"}"#;
    assert_eq!(metric(&text, duplicates), 0.0);
    let traps = r#"weir_binding_failures_total{binding="b",kind="trap"}"#;
    assert_eq!(metric(&text, traps), 0.0);
    let latency = r#"weir_binding_call_latency_seconds_count{binding="b"}"#;
    assert_eq!(metric(&text, latency), calls);
    let slowest = r#"weir_binding_call_latency_seconds_bucket{le="+Inf",binding="b"}"#;
    assert_eq!(metric(&text, slowest), calls);
    let running = r#"weir_binding_state{binding="b",state="running"}"#;
    let paused_state = r#"weir_binding_state{binding="b",state="paused"}"#;
    assert_eq!(
        (metric(&text, running), metric(&text, paused_state)),
        (1.0, 0.0)
    );

    let (status, paused) = call(&app, "POST", "/v1/bindings/b/pause", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["config"]["run"], json!({"state": "paused"}));
    let text = metrics_text(&app).await;
    assert_eq!(
        (metric(&text, running), metric(&text, paused_state)),
        (0.0, 1.0)
    );
    let (status, resumed) = call(&app, "POST", "/v1/bindings/b/resume", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resumed["config"]["run"], json!({"state": "running"}));

    let mut change = consumer_binding("b", "ack");
    change["deadline_ms"] = json!(3000);
    change["version"] = json!(1);
    let (status, changed) = call(&app, "PUT", "/v1/bindings/b", change).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["deadline_ms"], 3000);
    assert_eq!(changed["version"], 1);
    assert_eq!(changed["created_ms"], config["created_ms"]);
    let mut nameless = consumer_binding("b", "ack");
    nameless.as_object_mut().unwrap().remove("name");
    let (status, _) = call(&app, "PUT", "/v1/bindings/b", nameless).await;
    assert_eq!(status, StatusCode::OK);

    let (status, list) = call(&app, "GET", "/v1/bindings", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["bindings"][0]["config"]["name"], "b");
    assert_eq!(list["bindings"][0]["metrics"]["acked"], 1);

    let (status, filter) = call(
        &app,
        "POST",
        "/v1/bindings",
        json!({"name": "d", "module": "dedup", "config": "order.id",
               "target": {"kind": "dedup-filter", "topic": "t"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{filter}");
    assert_eq!(filter["target"]["kind"], "dedup-filter");

    let (status, page) = call(&app, "GET", "/v1/status", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["topics"], 1);
    assert_eq!(page["groups"], 1);
    assert_eq!(page["modules"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["bindings"].as_array().map(Vec::len), Some(2));

    let answer = call(&app, "DELETE", "/v1/modules/ack", Value::Null).await;
    expect_error(answer, 409, "MODULE_IN_USE");
    for name in ["b", "d"] {
        let (status, _) = call(&app, "DELETE", &format!("/v1/bindings/{name}"), Value::Null).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let answer = call(&app, "GET", "/v1/bindings/b", Value::Null).await;
    expect_error(answer, 404, "BINDING_NOT_FOUND");
    assert!(!metrics_text(&app).await.contains("binding=\"b\""));
    let (status, _) = call(&app, "DELETE", "/v1/modules/ack", Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_binding_requests_get_stable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (app, host) = app_with_plugins(dir.path(), 1 << 20).await;
    call(
        &app,
        "POST",
        "/v1/topics",
        json!({"name": "t", "queues": 1}),
    )
    .await;
    call_bytes(
        &app,
        "PUT",
        "/v1/modules/ack?world=consumer",
        component("ack_all"),
    )
    .await;
    let (status, _) = call(&app, "POST", "/v1/bindings", consumer_binding("b", "ack")).await;
    assert_eq!(status, StatusCode::CREATED);

    let mut wrong_topic = consumer_binding("c", "ack");
    wrong_topic["target"]["topic"] = json!("missing");
    wrong_topic["target"]["group"] = json!("g2");
    let mut bad_deadline = consumer_binding("c", "ack");
    bad_deadline["deadline_ms"] = json!(0);
    let mut unknown_field = consumer_binding("c", "ack");
    unknown_field["colour"] = json!("red");
    let mut unknown_target_field = consumer_binding("c", "ack");
    unknown_target_field["target"]["window_ms"] = json!(1);
    let mut nameless = consumer_binding("c", "ack");
    nameless.as_object_mut().unwrap().remove("name");
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        ("POST", "/v1/bindings", json!("{"), 400, "INVALID_JSON"),
        ("POST", "/v1/bindings", unknown_field, 400, "INVALID_JSON"),
        (
            "POST",
            "/v1/bindings",
            unknown_target_field,
            400,
            "INVALID_JSON",
        ),
        ("POST", "/v1/bindings", nameless, 400, "INVALID_JSON"),
        (
            "POST",
            "/v1/bindings",
            consumer_binding("b", "ack"),
            409,
            "BINDING_EXISTS",
        ),
        (
            "POST",
            "/v1/bindings",
            consumer_binding("c", "nope"),
            404,
            "MODULE_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/bindings",
            consumer_binding("c d", "ack"),
            400,
            "INVALID_NAME",
        ),
        ("POST", "/v1/bindings", bad_deadline, 400, "INVALID_BINDING"),
        ("POST", "/v1/bindings", wrong_topic, 404, "TOPIC_NOT_FOUND"),
        (
            "POST",
            "/v1/bindings",
            json!({"name": "c", "module": "ack", "target": {"kind": "tx-checker", "topic": "t"}}),
            409,
            "WORLD_MISMATCH",
        ),
        (
            "PUT",
            "/v1/bindings/b",
            consumer_binding("other", "ack"),
            400,
            "INVALID_BINDING",
        ),
        (
            "PUT",
            "/v1/bindings/zz",
            consumer_binding("zz", "ack"),
            404,
            "BINDING_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/bindings/zz/pause",
            Value::Null,
            404,
            "BINDING_NOT_FOUND",
        ),
        (
            "DELETE",
            "/v1/bindings/zz",
            Value::Null,
            404,
            "BINDING_NOT_FOUND",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let answer = call(&app, method, uri, body).await;
        expect_error(answer, status, code);
    }
    host.shutdown().await;
}

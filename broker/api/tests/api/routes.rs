//! The route table against the router: the OpenAPI document, `405` with the `Allow`
//! header on every path, `HEAD` on every `GET` route, body limits, and the JSON error
//! every refusal is.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::json;
use weir_api::{Access, ApiLimits, App, BodyLimit, ROUTES};
use weir_core::Limits;

use crate::support::{ErrorCase, JSON, app, call, post, sample_path};

#[test]
fn the_openapi_document_and_the_route_table_agree() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("../../openapi.json")).unwrap();
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

//! Operations routes: liveness, metrics, the OpenAPI document.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::app::{HttpResponse, json};
use crate::{App, ResponseBody};

/// The OpenAPI 3 document of every route, kept next to the code that serves it.
pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

pub(crate) fn health(app: &App) -> HttpResponse {
    let stats = app.broker.store().stats();
    if stats.poisoned {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "unavailable", "code": "STORE_UNAVAILABLE",
                "message": "the store refuses writes after a failed fsync"}),
        )
    } else if stats.disk_full {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "degraded", "code": "DISK_FULL",
                "message": "disk usage is above the watermark; sends are refused"}),
        )
    } else {
        json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
    }
}

pub(crate) fn metrics(app: &App) -> HttpResponse {
    let text = app.metrics.render(app.broker.store());
    let mut response = HttpResponse::new(ResponseBody::full(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `GET /v1/openapi.json`: the document as checked in when the broker requires tokens;
/// without tokens, the same document with no security requirement, so that it tells the
/// truth about the running broker.
pub(crate) fn openapi(app: &App) -> HttpResponse {
    static WITHOUT_TOKENS: std::sync::LazyLock<Bytes> =
        std::sync::LazyLock::new(|| Bytes::from(openapi_without_tokens(OPENAPI)));
    let document = if app.auth.is_some() {
        Bytes::from_static(OPENAPI.as_bytes())
    } else {
        WITHOUT_TOKENS.clone()
    };
    let mut response = HttpResponse::new(ResponseBody::full(document));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The OpenAPI document with every security requirement removed.
pub(crate) fn openapi_without_tokens(document: &str) -> Vec<u8> {
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(document) else {
        return document.as_bytes().to_vec();
    };
    if let Some(root) = doc.as_object_mut() {
        root.remove("security");
    }
    if let Some(paths) = doc["paths"].as_object_mut() {
        for operations in paths.values_mut().filter_map(|p| p.as_object_mut()) {
            for operation in operations.values_mut().filter_map(|o| o.as_object_mut()) {
                operation.remove("security");
                if let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(|r| r.as_object_mut())
                {
                    responses.remove("401");
                    responses.remove("403");
                }
            }
        }
    }
    if let Some(info) = doc["info"].as_object_mut() {
        let note = " This broker runs without tokens: no request needs one.";
        if let Some(serde_json::Value::String(text)) = info.get_mut("description") {
            text.push_str(note);
        }
    }
    serde_json::to_vec(&doc).unwrap_or_else(|_| document.as_bytes().to_vec())
}

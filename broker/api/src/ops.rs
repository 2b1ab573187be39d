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

pub(crate) fn openapi() -> HttpResponse {
    let mut response =
        HttpResponse::new(ResponseBody::full(Bytes::from_static(OPENAPI.as_bytes())));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

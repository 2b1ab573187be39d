//! Operations routes: liveness, metrics, the OpenAPI document.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use weir_wire::codes;

use crate::app::{HttpResponse, json};
use crate::{App, ResponseBody};

/// The OpenAPI 3 document of every route, kept next to the code that serves it.
pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /healthz`: `503` while the store is poisoned (only a restart helps); `200` with
/// `"status":"degraded"` and the reasons while a transient failure lasts (a file that
/// cannot be created, a checkpoint that cannot be written, a full disk: each clears by
/// itself); `200 {"status":"ok"}` otherwise. The reasons name no paths (the route is
/// public).
pub(crate) fn health(app: &App) -> HttpResponse {
    let stats = app.broker.store().stats();
    if stats.poisoned {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "unavailable", "code": codes::STORE_UNAVAILABLE,
                "message": "the store refuses writes after a failed fsync; restart the broker"}),
        )
    } else if !stats.degraded.is_empty() || stats.disk_full {
        let mut reasons = stats.degraded;
        if reasons.is_empty() {
            reasons.push("disk full: sends that need a new segment are refused".to_owned());
        }
        json(
            StatusCode::OK,
            &serde_json::json!({"status": "degraded", "disk_full": stats.disk_full,
                "reasons": reasons}),
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use weir_core::{Broker, BrokerConfig, Limits, StoreConfig};
    use weir_store::{Errno, FaultPoint, FileKind, Message, Store};

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
        App::new(broker, crate::ApiLimits::for_core(&limits))
    }

    async fn healthz(app: &App) -> (StatusCode, serde_json::Value) {
        let response = health(app);
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn append(store: &Store, i: usize) {
        let message = Message {
            id: format!("h-{i}"),
            keys: vec![],
            tag: None,
            properties: vec![],
            body: bytes::Bytes::from_static(b"x"),
            born_ms: 1,
            flags: 0,
        };
        store.append("health", &[(0, message)]).unwrap();
    }

    /// Polls `done` on the store's stats for at most 10 s.
    fn wait_until(store: &Store, done: impl Fn(&weir_store::StoreStats) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(&store.stats()) {
            assert!(Instant::now() < deadline, "{:?}", store.stats());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[tokio::test]
    async fn a_checkpoint_that_cannot_be_created_degrades_and_recovers_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let store = Arc::clone(app.broker.store());
        assert_eq!(healthz(&app).await.1["status"], "ok");

        store
            .faults()
            .fail(FaultPoint::CheckpointCreate, Errno::MFILE, u32::MAX);
        append(&store, 0);
        wait_until(&store, |s| !s.degraded.is_empty());
        let (status, body) = healthz(&app).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "degraded", "{body}");
        let reason = body["reasons"][0].as_str().unwrap();
        assert!(reason.contains("checkpoint"), "{body}");
        assert!(reason.contains("Too many open files"), "{body}");
        assert!(!reason.contains(&*dir.path().to_string_lossy()), "{body}");
        let text = app.metrics.render(&store);
        assert!(text.contains("\nweir_store_degraded 1\n"), "{text}");
        assert!(!text.contains("\nweir_store_resource_errors 0\n"), "{text}");

        store.faults().clear();
        wait_until(&store, |s| s.degraded.is_empty());
        assert_eq!(
            healthz(&app).await,
            (StatusCode::OK, serde_json::json!({"status": "ok"}))
        );
        let text = app.metrics.render(&store);
        assert!(text.contains("\nweir_store_degraded 0\n"), "{text}");
        assert!(text.contains("\nweir_store_poisoned 0\n"), "{text}");
    }

    #[tokio::test]
    async fn a_failed_commitlog_fsync_answers_503() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let store = Arc::clone(app.broker.store());
        store
            .faults()
            .fail(FaultPoint::Fsync(FileKind::CommitLog), Errno::IO, 1);
        append(&store, 0);
        wait_until(&store, |s| s.poisoned);
        let (status, body) = healthz(&app).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "STORE_UNAVAILABLE", "{body}");
        let text = app.metrics.render(&store);
        assert!(text.contains("\nweir_store_poisoned 1\n"), "{text}");
    }

    #[tokio::test]
    async fn a_full_disk_degrades() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let store = Arc::clone(app.broker.store());
        store.faults().set_disk_usage(Some(0.99));
        wait_until(&store, |s| s.disk_full);
        let (status, body) = healthz(&app).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "degraded", "{body}");
        assert_eq!(body["disk_full"], true, "{body}");
        assert!(
            body["reasons"][0].as_str().unwrap().contains("99.0%"),
            "{body}"
        );
        store.faults().set_disk_usage(None);
        wait_until(&store, |s| !s.disk_full);
        assert_eq!(healthz(&app).await.1["status"], "ok");
    }
}

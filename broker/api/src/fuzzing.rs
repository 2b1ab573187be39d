//! The bodies of the API's fuzz targets (`fuzz/`): the `weir-*` header parser and the
//! JSON request bodies. Here so that the fuzzer and the corpus replay of the test suite
//! run the same checks. (The binary formats' targets are `weir_wire::fuzzing`.)
//!
//! Not part of the API: hidden from its docs and free to change.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use weir_core::{Broker, BrokerConfig, Limits, MessageDraft, StoreConfig};

use crate::{ApiLimits, App};

/// The clock the `headers` target resolves delays against.
const NOW_MS: i64 = 1_750_000_000_000;
/// The longest delay the `headers` target allows (the broker's default, 40 days).
const MAX_DELAY_MS: u64 = 40 * 24 * 3_600_000;

/// The body of the `headers` target. `data` is a header block, one `name: value` per
/// line, then an empty line and the raw body; lines that are not valid headers are
/// skipped, as the HTTP layer would have refused them.
///
/// Checked: parsing never panics; a parsed send carries exactly the header values and the
/// body it was given (keys split, trimmed and non-empty); writing its attributes back as
/// headers and parsing again gives the same message.
pub fn headers(data: &[u8]) {
    let (block, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut map = HeaderMap::new();
    for line in block.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    let body = Bytes::copy_from_slice(body);
    let Ok(outgoing) = crate::headers::draft_from_headers(&map, body.clone(), NOW_MS, MAX_DELAY_MS)
    else {
        return;
    };
    let draft = &outgoing.draft;
    assert_eq!(draft.body, body);
    let single = |name: &str| {
        map.get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    assert_eq!(draft.id, single(crate::headers::MESSAGE_ID));
    assert_eq!(draft.tag, single(crate::headers::TAG));
    assert_eq!(draft.message_group, single(crate::headers::MESSAGE_GROUP));
    for key in &draft.keys {
        assert!(
            !key.is_empty() && !key.contains(',') && key.trim() == key,
            "key {key:?}"
        );
    }
    let properties = map
        .keys()
        .filter(|n| n.as_str().starts_with(crate::headers::PROPERTY_PREFIX))
        .map(|n| map.get_all(n).iter().count())
        .sum::<usize>();
    assert_eq!(draft.properties.len(), properties);
    // A relative delay lands within the limit; an absolute time is kept as given (the
    // core refuses one beyond the limit, and delivers one in the past at once).
    match (single(crate::headers::DELIVER_AT), draft.deliver_at) {
        (Some(given), at) => assert_eq!(at, given.trim().parse::<i64>().ok()),
        (None, Some(at)) => assert!(
            (NOW_MS..=NOW_MS + MAX_DELAY_MS as i64).contains(&at),
            "deliver_at {at}"
        ),
        (None, None) => {}
    }
    // The attributes written back as headers parse to the same message.
    let mut again = HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        let value = HeaderValue::from_str(value).expect("a parsed value is a header value");
        again.append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value,
        );
    };
    for (name, value) in [
        (crate::headers::MESSAGE_ID, &draft.id),
        (crate::headers::TAG, &draft.tag),
        (crate::headers::MESSAGE_GROUP, &draft.message_group),
    ] {
        if let Some(value) = value {
            put(name, value);
        }
    }
    if !draft.keys.is_empty() {
        put(crate::headers::KEYS, &draft.keys.join(","));
    }
    if let Some(queue) = draft.queue {
        put(crate::headers::QUEUE, &queue.to_string());
    }
    for (name, value) in &draft.properties {
        put(&format!("{}{name}", crate::headers::PROPERTY_PREFIX), value);
    }
    let reparsed = crate::headers::draft_from_headers(&again, body, NOW_MS, MAX_DELAY_MS)
        .expect("written-back headers parse");
    let strip = |d: &MessageDraft| MessageDraft {
        deliver_at: None,
        ..d.clone()
    };
    assert_eq!(strip(&reparsed.draft), strip(draft));
    assert!(reparsed.half.is_none());
}

/// The requests the `json_bodies` target sends, one per JSON body type the API parses;
/// the first byte of an input picks one. None of the named topics, groups or
/// transactions exist, and the broker refuses every append (its disk watermark is next to
/// 0), so
/// a body that parses is validated and then refused, and the broker's state never grows.
const JSON_ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/topics"),
    ("PATCH", "/v1/topics/fuzz"),
    ("POST", "/v1/topics/fuzz/messages"),
    ("POST", "/v1/topics/fuzz/messages:batch"),
    ("POST", "/v1/groups"),
    ("POST", "/v1/groups/fuzz/receive"),
    ("POST", "/v1/groups/fuzz/ack"),
    ("POST", "/v1/groups/fuzz/nack"),
    ("POST", "/v1/groups/fuzz/invisible"),
    ("POST", "/v1/groups/fuzz/reset"),
    ("POST", "/v1/groups/fuzz/offsets"),
    ("POST", "/v1/groups/fuzz/dlq:resend"),
    ("POST", "/v1/producer-groups"),
    ("POST", "/v1/bindings"),
    ("PUT", "/v1/bindings/fuzz"),
];

/// A broker for the `json_bodies` target: one per thread, in its own directory, which
/// goes with it when the thread ends.
struct JsonBroker {
    runtime: tokio::runtime::Runtime,
    app: Option<App>,
    dir: PathBuf,
}

impl Drop for JsonBroker {
    fn drop(&mut self) {
        drop(self.app.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

thread_local! {
    static JSON_BROKER: RefCell<Option<Arc<JsonBroker>>> = const { RefCell::new(None) };
}

fn json_broker() -> Arc<JsonBroker> {
    JSON_BROKER.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                let dir: PathBuf = std::env::temp_dir().join(format!(
                    "weir-fuzz-json-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                let _ = std::fs::remove_dir_all(&dir);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                let mut store = StoreConfig::new(dir.clone());
                store.segment_size = 1 << 20;
                store.index_slots = 1024;
                store.index_entries = 4096;
                store.queue_entries_per_file = 1024;
                // Any use of the disk is over this watermark: every append is refused.
                store.disk_max_used_ratio = 1e-12;
                let limits = Limits::default();
                let app = runtime.block_on(async {
                    let broker = Broker::open(BrokerConfig {
                        store,
                        limits: limits.clone(),
                    })
                    .unwrap_or_else(|err| panic!("a broker in {}: {err}", dir.display()));
                    App::new(broker, ApiLimits::for_core(&limits))
                });
                Arc::new(JsonBroker {
                    runtime,
                    app: Some(app),
                    dir,
                })
            })
            .clone()
    })
}

/// The body of the `json_bodies` target: the first byte of `data` picks a route of
/// [`JSON_ROUTES`], the rest is its JSON body, handled by the real router.
///
/// Checked: nothing panics; every answer is an error (nothing exists to succeed on),
/// never a `500`, with a JSON body carrying a code and a message. Inputs that parse as
/// JSON are also sent through the send path's own body type directly, and every input
/// through the permission check's reading of group bodies.
pub fn json_bodies(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (method, uri) = JSON_ROUTES[usize::from(selector) % JSON_ROUTES.len()];
    if let Ok(send) = serde_json::from_slice::<weir_wire::send::SendRequest<'_>>(body) {
        let _ = crate::wire::outgoing(send, NOW_MS, MAX_DELAY_MS);
    }
    // With tokens, a group's body is read before the handler to find the topic its
    // caller must be allowed to consume: that read must hold on any input too.
    let _ = crate::auth::consume_topic_in_body(body);
    let broker = json_broker();
    let Some(app) = &broker.app else {
        return;
    };
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("a request");
    let (status, answer) = broker.runtime.block_on(async {
        let response = app.handle(request).await;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        (status, bytes)
    });
    assert!(
        !status.is_success() && status != http::StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {uri} {:?} answered {status}: {}",
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(&answer)
    );
    let error: serde_json::Value =
        serde_json::from_slice(&answer).expect("an error answer is JSON");
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "{error}"
    );
}

//! Bad input gets the documented status and error `code` (`docs/http-api.md`), as a JSON
//! body with `code` and `message`, and the broker keeps serving: after every bad request a
//! good send and read still work.
//!
//! Requests go over raw HTTP/1.1 so that they can be exactly as malformed as intended.

use crate::support;

use std::net::SocketAddr;

use support::{Broker, RawRequest, RawResponse, assert_error, assert_error_in};

const TOPIC: &str = "errs";

/// One broker with a 4-queue topic holding a few messages.
fn broker() -> Broker {
    let broker = Broker::start(&[]);
    let created = RawRequest::new("POST", "/v1/topics")
        .json(&format!(r#"{{"name":"{TOPIC}","queues":4}}"#))
        .send(broker.addr())
        .expect("create topic");
    assert_eq!(created.status, 201, "{}", created.text());
    for n in 0..3 {
        good_send(broker.addr(), &format!("seed {n}"));
    }
    broker
}

fn send(addr: SocketAddr, request: RawRequest) -> RawResponse {
    request.send(addr).expect("the broker answers")
}

/// A valid raw send; returns the new message id.
fn good_send(addr: SocketAddr, body: &str) -> String {
    let response = send(
        addr,
        RawRequest::new("POST", &format!("/v1/topics/{TOPIC}/messages"))
            .header("content-type", "text/plain")
            .header("weir-tag", "ok")
            .body(body.as_bytes().to_vec()),
    );
    assert_eq!(
        response.status,
        200,
        "a good send works: {}",
        response.text()
    );
    response.json()["id"]
        .as_str()
        .expect("send answer has an id")
        .to_owned()
}

/// After a bad request the broker still accepts a send and serves it back.
#[track_caller]
fn assert_serving(addr: SocketAddr) {
    let id = good_send(addr, "still serving");
    let read = send(addr, RawRequest::new("GET", &format!("/v1/messages/{id}")));
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json()["body"], "still serving");
}

/// Sends `request`, checks the error, then checks the broker still serves.
#[track_caller]
fn expect(addr: SocketAddr, request: RawRequest, status: u16, code: &str) {
    let response = send(addr, request);
    assert_error(&response, status, code);
    assert_serving(addr);
}

#[track_caller]
fn expect_in(addr: SocketAddr, request: RawRequest, status: u16, codes: &[&str]) {
    let response = send(addr, request);
    assert_error_in(&response, status, codes);
    assert_serving(addr);
}

fn post_json(path: &str, body: &str) -> RawRequest {
    RawRequest::new("POST", path).json(body)
}

fn raw_send() -> RawRequest {
    RawRequest::new("POST", &format!("/v1/topics/{TOPIC}/messages"))
        .header("content-type", "application/octet-stream")
        .body(b"payload".to_vec())
}

fn messages_path() -> String {
    format!("/v1/topics/{TOPIC}/messages")
}

fn batch_path() -> String {
    format!("/v1/topics/{TOPIC}/messages:batch")
}

fn binary_batch(body: Vec<u8>) -> RawRequest {
    RawRequest::new("POST", &batch_path())
        .header("content-type", "application/vnd.weir.batch")
        .body(body)
}

/// A binary batch of `count` messages with the given bodies, built by hand from the
/// documented layout (independently of the client's encoder).
fn encode_batch(bodies: &[&[u8]]) -> Vec<u8> {
    let mut out = b"WRB1".to_vec();
    out.extend_from_slice(&u32::try_from(bodies.len()).unwrap().to_le_bytes());
    for body in bodies {
        out.extend_from_slice(&0u16.to_le_bytes()); // id
        out.extend_from_slice(&0u16.to_le_bytes()); // tag
        out.extend_from_slice(&0u16.to_le_bytes()); // group
        out.extend_from_slice(&u32::MAX.to_le_bytes()); // any queue
        out.extend_from_slice(&0u16.to_le_bytes()); // keys
        out.extend_from_slice(&0u16.to_le_bytes()); // properties
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        out.extend_from_slice(body);
    }
    out
}

#[test]
fn malformed_json_is_invalid_json() {
    let broker = broker();
    let addr = broker.addr();
    for body in [r#"{"name":"#, "not json", r#"{"name": 5}"#, "[]", ""] {
        expect(addr, post_json("/v1/topics", body), 400, "INVALID_JSON");
    }
    for body in [
        r#"{"body":"#,
        r#"{"body": 3}"#,
        "[1,2",
        r#"{"keys":"k","body":"x"}"#,
    ] {
        expect(addr, post_json(&messages_path(), body), 400, "INVALID_JSON");
    }
    for body in [
        r#"[{"body":"x"}"#,
        r#"{"body":"x"}"#,
        "nope",
        r#"[{"body":1}]"#,
    ] {
        expect(addr, post_json(&batch_path(), body), 400, "INVALID_JSON");
    }
}

#[test]
fn unknown_fields_are_refused() {
    let broker = broker();
    let addr = broker.addr();
    expect(
        addr,
        post_json("/v1/topics", r#"{"name":"t2","queues":2,"colour":"red"}"#),
        400,
        "INVALID_JSON",
    );
    expect(
        addr,
        post_json(&messages_path(), r#"{"body":"x","priority":9}"#),
        400,
        "INVALID_JSON",
    );
    expect(
        addr,
        post_json(&batch_path(), r#"[{"body":"x"},{"body":"y","bogus":true}]"#),
        400,
        "INVALID_JSON",
    );
    // Nothing of the refused batch was stored: the topic still holds only the good sends.
    let described = send(addr, RawRequest::new("GET", &format!("/v1/topics/{TOPIC}"))).json();
    let good_sends = 3 + 3; // seed messages + one per `expect`
    assert_eq!(described["messages"], good_sends, "{described}");
}

#[test]
fn bad_message_fields_are_refused() {
    let broker = broker();
    let addr = broker.addr();
    let bad = [
        r#"{"body":"x","body_base64":"eA=="}"#,
        r#"{"body_base64":"!!not base64!!"}"#,
        r#"{"id":"x"}"#,
    ];
    for body in bad {
        expect_in(
            addr,
            post_json(&messages_path(), body),
            400,
            &["INVALID_ARGUMENT", "INVALID_JSON"],
        );
    }
    let long = "x".repeat(129);
    let too_many_keys: Vec<String> = (0..33).map(|k| format!("\"k{k}\"")).collect();
    let bad = [
        format!(r#"{{"body":"x","id":"{long}"}}"#),
        format!(r#"{{"body":"x","tag":"{long}"}}"#),
        format!(r#"{{"body":"x","keys":["{long}"]}}"#),
        format!(r#"{{"body":"x","keys":[{}]}}"#, too_many_keys.join(",")),
        r#"{"body":"x","properties":{"bad name!":"v"}}"#.to_owned(),
        r#"{"body":"x","properties":{"weir.reserved":"v"}}"#.to_owned(),
    ];
    for body in &bad {
        expect(
            addr,
            post_json(&messages_path(), body),
            400,
            "INVALID_ARGUMENT",
        );
    }
}

#[test]
fn topic_names_and_queue_counts_are_checked() {
    let broker = broker();
    let addr = broker.addr();
    let long = "a".repeat(128);
    for name in [
        "bad name",
        "",
        "dots.are.out",
        "slash/no",
        "%reserved",
        "é",
        &long,
    ] {
        let body = serde_json::json!({"name": name, "queues": 2}).to_string();
        expect(
            addr,
            post_json("/v1/topics", &body),
            400,
            "INVALID_TOPIC_NAME",
        );
    }
    let longest = "a".repeat(127);
    let created = send(
        addr,
        post_json(
            "/v1/topics",
            &format!(r#"{{"name":"{longest}","queues":1}}"#),
        ),
    );
    assert_eq!(
        created.status,
        201,
        "127 characters is allowed: {}",
        created.text()
    );
    for queues in ["0", "1025", "-1"] {
        let body = format!(r#"{{"name":"q{queues}","queues":{queues}}}"#);
        expect_in(
            addr,
            post_json("/v1/topics", &body),
            400,
            &["INVALID_ARGUMENT", "INVALID_JSON"],
        );
    }
    expect(
        addr,
        post_json("/v1/topics", &format!(r#"{{"name":"{TOPIC}","queues":4}}"#)),
        409,
        "TOPIC_EXISTS",
    );
    // Even with another queue count, the existing topic is left as it was.
    expect(
        addr,
        post_json("/v1/topics", &format!(r#"{{"name":"{TOPIC}","queues":9}}"#)),
        409,
        "TOPIC_EXISTS",
    );
    let described = send(addr, RawRequest::new("GET", &format!("/v1/topics/{TOPIC}"))).json();
    assert_eq!(described["queues"], 4);
}

#[test]
fn unknown_topic_is_topic_not_found() {
    let broker = broker();
    let addr = broker.addr();
    let requests = [
        RawRequest::new("POST", "/v1/topics/nope/messages")
            .header("content-type", "text/plain")
            .body(b"x".to_vec()),
        post_json("/v1/topics/nope/messages", r#"{"body":"x"}"#),
        post_json("/v1/topics/nope/messages:batch", r#"[{"body":"x"}]"#),
        RawRequest::new("POST", "/v1/topics/nope/messages:batch")
            .header("content-type", "application/vnd.weir.batch")
            .body(encode_batch(&[b"x"])),
        RawRequest::new("GET", "/v1/topics/nope"),
        RawRequest::new("DELETE", "/v1/topics/nope"),
        RawRequest::new("GET", "/v1/topics/nope/queues/0/messages?offset=0"),
        RawRequest::new("GET", "/v1/topics/nope/messages?key=k"),
    ];
    for request in requests {
        expect(addr, request, 404, "TOPIC_NOT_FOUND");
    }
}

#[test]
fn oversize_bodies_are_body_too_large() {
    let broker = broker();
    let addr = broker.addr();
    let just_over = vec![b'a'; 4 * 1024 * 1024 + 1];
    expect(
        addr,
        raw_send().body(just_over.clone()),
        413,
        "BODY_TOO_LARGE",
    );
    expect(
        addr,
        raw_send().body(vec![b'a'; 6 * 1024 * 1024]),
        413,
        "BODY_TOO_LARGE",
    );
    // The same body in the JSON form (its envelope is larger than the body).
    let json = format!(r#"{{"body":"{}"}}"#, String::from_utf8(just_over).unwrap());
    expect(
        addr,
        post_json(&messages_path(), &json),
        413,
        "BODY_TOO_LARGE",
    );
    // A single message over the limit inside a batch.
    let big = vec![b'b'; 4 * 1024 * 1024 + 1];
    expect(
        addr,
        binary_batch(encode_batch(&[b"small", &big])),
        413,
        "BODY_TOO_LARGE",
    );
    // Exactly 4 MiB is accepted.
    let at_limit = send(addr, raw_send().body(vec![b'c'; 4 * 1024 * 1024]));
    assert_eq!(at_limit.status, 200, "{}", at_limit.text());
}

#[test]
fn batches_are_checked() {
    let broker = broker();
    let addr = broker.addr();
    let tiny: Vec<&[u8]> = vec![b"m"; 10_001];
    expect(
        addr,
        binary_batch(encode_batch(&tiny)),
        413,
        "BATCH_TOO_LARGE",
    );
    let json = format!("[{}]", vec![r#"{"body":"m"}"#; 10_001].join(","));
    expect(
        addr,
        post_json(&batch_path(), &json),
        413,
        "BATCH_TOO_LARGE",
    );
    // 10 000 is the limit, and allowed.
    let full = send(addr, binary_batch(encode_batch(&tiny[..10_000])));
    assert_eq!(
        full.status,
        200,
        "{}",
        &full.text()[..200.min(full.body.len())]
    );
    assert_eq!(
        full.json()["results"].as_array().map(Vec::len),
        Some(10_000)
    );

    expect(addr, post_json(&batch_path(), "[]"), 400, "EMPTY_BATCH");
    expect(
        addr,
        binary_batch(b"WRB1\0\0\0\0".to_vec()),
        400,
        "EMPTY_BATCH",
    );

    let good = encode_batch(&[b"first", b"second"]);
    for cut in [1, 3, 7, good.len() - 9, good.len() - 12] {
        expect(
            addr,
            binary_batch(good[..good.len() - cut].to_vec()),
            400,
            "INVALID_BATCH",
        );
    }
    let mut bad_magic = good.clone();
    bad_magic[..4].copy_from_slice(b"WRB9");
    expect(addr, binary_batch(bad_magic), 400, "INVALID_BATCH");
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"garbage");
    expect(addr, binary_batch(trailing), 400, "INVALID_BATCH");
    let mut lying_count = good.clone();
    lying_count[4..8].copy_from_slice(&3u32.to_le_bytes());
    expect(addr, binary_batch(lying_count), 400, "INVALID_BATCH");
    // A body length pointing past the end of the request.
    let mut long_len = encode_batch(&[b"x"]);
    let at = long_len.len() - 5;
    long_len[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
    expect(addr, binary_batch(long_len), 400, "INVALID_BATCH");
    expect(addr, binary_batch(Vec::new()), 400, "INVALID_BATCH");

    for content_type in ["text/plain", "application/octet-stream", "application/xml"] {
        expect(
            addr,
            RawRequest::new("POST", &batch_path())
                .header("content-type", content_type)
                .body(good.clone()),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        );
    }
    expect(
        addr,
        RawRequest::new("POST", &batch_path()).body(good),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    // None of the refused batches left anything behind.
    let described = send(addr, RawRequest::new("GET", &format!("/v1/topics/{TOPIC}"))).json();
    let expected = 3 + 10_000 + 18; // seed + full batch + one good send per `expect`
    assert_eq!(described["messages"], expected, "{described}");
}

#[test]
fn bad_queues_and_offsets_are_refused() {
    let broker = broker();
    let addr = broker.addr();
    expect(
        addr,
        raw_send().header("weir-queue", "99"),
        400,
        "INVALID_QUEUE",
    );
    expect(
        addr,
        raw_send().header("weir-queue", "4"),
        400,
        "INVALID_QUEUE",
    );
    expect(
        addr,
        post_json(&messages_path(), r#"{"body":"x","queue":4}"#),
        400,
        "INVALID_QUEUE",
    );
    expect(
        addr,
        post_json(&batch_path(), r#"[{"body":"x"},{"body":"y","queue":99}]"#),
        400,
        "INVALID_QUEUE",
    );
    for value in ["x", "-1", "1.5", "", "99999999999999999999"] {
        expect(
            addr,
            raw_send().header("weir-queue", value),
            400,
            "INVALID_HEADER",
        );
    }

    let read = |query: &str| {
        RawRequest::new(
            "GET",
            &format!("/v1/topics/{TOPIC}/queues/0/messages{query}"),
        )
    };
    expect(
        addr,
        RawRequest::new(
            "GET",
            &format!("/v1/topics/{TOPIC}/queues/4/messages?offset=0"),
        ),
        404,
        "QUEUE_NOT_FOUND",
    );
    expect(
        addr,
        RawRequest::new(
            "GET",
            &format!("/v1/topics/{TOPIC}/queues/99/messages?offset=0"),
        ),
        404,
        "QUEUE_NOT_FOUND",
    );
    for query in [
        "?offset=-1",
        "?offset=abc",
        "",
        "?max=3",
        "?offset=",
        "?offset=1e3",
    ] {
        expect(addr, read(query), 400, "INVALID_OFFSET");
    }
    for query in ["?offset=0&max=-1", "?offset=0&max=abc"] {
        expect(addr, read(query), 400, "INVALID_OFFSET");
    }
    for query in [
        "?offset=0&max=0",
        "?offset=0&max=100000",
        "?offset=0&max=1001",
    ] {
        expect_in(
            addr,
            read(query),
            400,
            &["INVALID_OFFSET", "INVALID_ARGUMENT"],
        );
    }
    // max=1000 is the limit, and allowed.
    let at_limit = send(addr, read("?offset=0&max=1000"));
    assert_eq!(at_limit.status, 200, "{}", at_limit.text());

    let described = send(addr, RawRequest::new("GET", &format!("/v1/topics/{TOPIC}"))).json();
    let max = described["queue_offsets"][0]["max_offset"]
        .as_u64()
        .expect("max_offset");
    let at_max = send(addr, read(&format!("?offset={max}")));
    assert_eq!(at_max.status, 200, "reading at max_offset is allowed");
    expect(
        addr,
        read(&format!("?offset={}", max + 1)),
        400,
        "OFFSET_OUT_OF_RANGE",
    );
    expect(
        addr,
        read(&format!("?offset={}", max + 1000)),
        400,
        "OFFSET_OUT_OF_RANGE",
    );
    expect(
        addr,
        read(&format!("?offset={}", u64::MAX)),
        400,
        "OFFSET_OUT_OF_RANGE",
    );
}

#[test]
fn bad_weir_headers_are_invalid_header() {
    let broker = broker();
    let addr = broker.addr();
    expect(
        addr,
        raw_send().header("weir-tag", "a").header("weir-tag", "b"),
        400,
        "INVALID_HEADER",
    );
    expect(
        addr,
        raw_send()
            .header("weir-message-id", "a")
            .header("weir-message-id", "b"),
        400,
        "INVALID_HEADER",
    );
    // Bytes that are neither ASCII nor UTF-8.
    for name in [
        "weir-tag",
        "weir-keys",
        "weir-message-id",
        "weir-prop-source",
    ] {
        expect(
            addr,
            raw_send().header(name, [b'a', 0xff, 0xfe]),
            400,
            "INVALID_HEADER",
        );
    }
    // Property names the contract does not allow (header tokens may carry these).
    for name in [
        "weir-prop-a*b",
        "weir-prop-a!b",
        "weir-prop-a~b",
        "weir-prop-",
    ] {
        expect_in(
            addr,
            raw_send().header(name, "v"),
            400,
            &["INVALID_HEADER", "INVALID_ARGUMENT"],
        );
    }
    let long = "x".repeat(129);
    for name in [
        "weir-tag",
        "weir-message-id",
        "weir-keys",
        "weir-message-group",
    ] {
        expect_in(
            addr,
            raw_send().header(name, &long),
            400,
            &["INVALID_HEADER", "INVALID_ARGUMENT"],
        );
    }
    let keys: Vec<String> = (0..33).map(|k| format!("k{k}")).collect();
    expect_in(
        addr,
        raw_send().header("weir-keys", keys.join(",")),
        400,
        &["INVALID_HEADER", "INVALID_ARGUMENT"],
    );
    expect_in(
        addr,
        raw_send().header("weir-message-id", "tab\tinside"),
        400,
        &["INVALID_HEADER", "INVALID_ARGUMENT"],
    );
}

#[test]
fn bad_delay_and_transaction_headers_are_refused() {
    let broker = broker();
    let addr = broker.addr();
    for (name, value, code) in [
        ("weir-delay-ms", "soon", "INVALID_HEADER"),
        ("weir-delay-ms", "-5", "INVALID_HEADER"),
        ("weir-deliver-at", "tomorrow", "INVALID_HEADER"),
        ("weir-delay-level", "19", "INVALID_ARGUMENT"),
        ("weir-delay-level", "0", "INVALID_ARGUMENT"),
        ("weir-delay-ms", "999999999999999", "INVALID_ARGUMENT"),
        ("weir-transaction", "begin", "INVALID_HEADER"),
        ("weir-producer-group", "p", "INVALID_HEADER"),
    ] {
        expect(addr, raw_send().header(name, value), 400, code);
    }
    expect(
        addr,
        raw_send()
            .header("weir-delay-ms", "1000")
            .header("weir-delay-level", "2"),
        400,
        "INVALID_HEADER",
    );
    // Nothing was stored by the refused sends: the 3 seeds plus one liveness send after
    // each of the 9 refusals.
    let described = send(addr, RawRequest::new("GET", &format!("/v1/topics/{TOPIC}"))).json();
    assert_eq!(described["messages"], 3 + 9, "{described}");
    let scheduled = send(addr, RawRequest::new("GET", "/metrics")).text();
    assert!(scheduled.contains("weir_delayed_pending 0"), "{scheduled}");
}

#[test]
fn unknown_ids_routes_and_methods() {
    let broker = broker();
    let addr = broker.addr();
    for id in ["0193A1B2C3D4E5F60718293A4B5C6D7E", "no-such-id", "%41%42"] {
        expect(
            addr,
            RawRequest::new("GET", &format!("/v1/messages/{id}")),
            404,
            "MESSAGE_NOT_FOUND",
        );
    }
    for path in [
        "/",
        "/v2/topics",
        "/v1/topic",
        "/v1/topics/a/b",
        "/v1/messages",
        "/healthz/x",
    ] {
        expect(addr, RawRequest::new("GET", path), 404, "ROUTE_NOT_FOUND");
    }
    for (method, path) in [
        ("PUT", "/v1/topics"),
        ("DELETE", "/v1/topics"),
        ("POST", "/v1/messages/abc"),
        ("DELETE", "/v1/messages/abc"),
        ("PUT", &*format!("/v1/topics/{TOPIC}")),
        ("GET", &*format!("/v1/topics/{TOPIC}/messages:batch")),
        ("POST", "/healthz"),
        ("POST", "/metrics"),
        ("POST", &*format!("/v1/topics/{TOPIC}/queues/0/messages")),
    ] {
        expect(
            addr,
            RawRequest::new(method, path),
            405,
            "METHOD_NOT_ALLOWED",
        );
    }
}

#[test]
fn huge_headers_are_refused_with_431_and_the_server_survives() {
    let broker = broker();
    let addr = broker.addr();
    let mut request = raw_send();
    let filler = "y".repeat(1000);
    for n in 0..70 {
        request = request.header(&format!("x-filler-{n}"), &filler);
    }
    let response = send(addr, request);
    assert_eq!(response.status, 431, "{}", response.text());
    assert_serving(addr);
    // One single header over the limit.
    let response = send(addr, raw_send().header("weir-tag", "z".repeat(70 * 1024)));
    assert_eq!(response.status, 431, "{}", response.text());
    assert_serving(addr);
    // Several at once, then still serving.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut request = raw_send();
                for n in 0..100 {
                    request = request.header(&format!("x-more-{n}"), "q".repeat(1000));
                }
                request.send(addr).map(|r| r.status)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().expect("an answer"), 431);
    }
    assert_serving(addr);
}

#[test]
fn every_error_body_is_json_with_code_and_message() {
    // The helpers above check this for every case; this test also covers errors of the
    // HTTP/2 path, which goes through the same handler.
    let broker = broker();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = broker.client_h2();
        support::assert_api_error(client.describe_topic("nope").await, 404, "TOPIC_NOT_FOUND");
        support::assert_api_error(client.get_message("nope").await, 404, "MESSAGE_NOT_FOUND");
        support::assert_api_error(
            client.create_topic(TOPIC, Some(4)).await,
            409,
            "TOPIC_EXISTS",
        );
        support::assert_api_error(
            client.read_queue(TOPIC, 0, 1_000_000, None).await,
            400,
            "OFFSET_OUT_OF_RANGE",
        );
    });
    assert_serving(broker.addr());
}

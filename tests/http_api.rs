//! The HTTP API's happy paths end to end against the real binary, as `docs/http-api.md`
//! describes them: topics, the raw and JSON send forms, batches, the three ways to read,
//! the operational routes, HTTP/2, and topic configuration across restarts.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use support::{Broker, RawRequest};
use weir_client::{Client, OutgoingMessage, SendStatus, Topic};

/// The documented API, read at compile time so that the test follows the document.
const API_DOC: &str = include_str!("../docs/http-api.md");

async fn topic(client: &Client, name: &str, queues: Option<u32>) -> Topic {
    client
        .create_topic(name, queues)
        .await
        .unwrap_or_else(|err| panic!("create topic {name}: {err}"))
}

fn is_broker_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_are_created_listed_described_and_deleted() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    let client = broker.client();
    assert!(client.list_topics().await.unwrap().is_empty());

    let created = RawRequest::new("POST", "/v1/topics")
        .json(r#"{"name":"orders","queues":3}"#)
        .send(addr)
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    assert_eq!(body["name"], "orders");
    assert_eq!(body["queues"], 3);
    assert!(
        body["created_ms"].as_u64().unwrap() > 1_600_000_000_000,
        "{body}"
    );

    let default = topic(&client, "defaults", None).await;
    assert_eq!(default.queues, 8, "queues default to 8");
    topic(&client, "a_first", Some(1)).await;
    topic(&client, "max-queues", Some(1024)).await;
    let names: Vec<String> = client
        .list_topics()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        ["a_first", "defaults", "max-queues", "orders"],
        "sorted by name"
    );
    let listed = RawRequest::new("GET", "/v1/topics")
        .send(addr)
        .unwrap()
        .json();
    assert_eq!(listed["topics"][3]["queues"], 3, "{listed}");

    let described = client.describe_topic("orders").await.unwrap();
    assert_eq!(described.name, "orders");
    assert_eq!(described.queues, 3);
    assert_eq!(described.created_ms, body["created_ms"].as_i64().unwrap());
    assert_eq!(described.messages, 0);
    let ranges: Vec<(u32, u64, u64)> = described
        .queue_offsets
        .iter()
        .map(|q| (q.queue, q.min_offset, q.max_offset))
        .collect();
    assert_eq!(ranges, [(0, 0, 0), (1, 0, 0), (2, 0, 0)]);

    // Describe follows what was sent, per queue.
    for (queue, count) in [(0u32, 4u64), (2, 7)] {
        for n in 0..count {
            let message = OutgoingMessage::new(format!("m{n}")).with_queue(queue);
            client.send("orders", &message).await.unwrap();
        }
    }
    let described = client.describe_topic("orders").await.unwrap();
    let ranges: Vec<(u32, u64, u64)> = described
        .queue_offsets
        .iter()
        .map(|q| (q.queue, q.min_offset, q.max_offset))
        .collect();
    assert_eq!(ranges, [(0, 0, 4), (1, 0, 0), (2, 0, 7)]);
    assert_eq!(described.messages, 11);

    let deleted = RawRequest::new("DELETE", "/v1/topics/orders")
        .send(addr)
        .unwrap();
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    support::assert_api_error(
        client.describe_topic("orders").await,
        404,
        "TOPIC_NOT_FOUND",
    );
    support::assert_api_error(
        client.send("orders", &OutgoingMessage::new("x")).await,
        404,
        "TOPIC_NOT_FOUND",
    );
    let names: Vec<String> = client
        .list_topics()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["a_first", "defaults", "max-queues"]);
    // The name can be used again.
    let again = topic(&client, "orders", Some(2)).await;
    assert_eq!(again.queues, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_send_carries_attributes_in_headers() {
    let broker = Broker::start(&[]);
    let client = broker.client();
    topic(&client, "raw", Some(4)).await;
    let body: Vec<u8> = (0..=255u8).rev().collect();
    let response = RawRequest::new("POST", "/v1/topics/raw/messages")
        .header("content-type", "application/octet-stream")
        .header("weir-message-id", "order-77.v1")
        .header("weir-keys", "order-77,customer-9")
        .header("weir-tag", "created")
        .header("weir-prop-source", "web")
        .header("weir-prop-trace_id", "abc-123")
        .header("weir-queue", "2")
        .body(body.clone())
        .send(broker.addr())
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let sent = response.json();
    assert_eq!(sent["id"], "order-77.v1");
    assert_eq!(sent["topic"], "raw");
    assert_eq!(sent["queue"], 2);
    assert_eq!(sent["offset"], 0);
    assert_eq!(sent["status"], "SEND_OK");

    let message = client.get_message("order-77.v1").await.unwrap();
    assert_eq!(message.body, body);
    assert_eq!(message.keys, ["order-77", "customer-9"]);
    assert_eq!(message.tag.as_deref(), Some("created"));
    let expected: BTreeMap<String, String> = [("source", "web"), ("trace_id", "abc-123")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(message.properties, expected);
    assert_eq!(
        (message.topic.as_str(), message.queue, message.offset),
        ("raw", 2, 0)
    );
    assert!(
        message.born_ms > 0 && message.store_ms >= message.born_ms,
        "{message:?}"
    );

    // The JSON form of the read shows a non-UTF-8 body as body_base64 only.
    let read = RawRequest::new("GET", "/v1/messages/order-77.v1")
        .send(broker.addr())
        .unwrap()
        .json();
    assert_eq!(read["body_base64"], BASE64.encode(&body));
    assert!(read.get("body").is_none(), "{read}");

    // The same through the client's raw form; text content types are raw too.
    let via_client = client
        .send_raw(
            "raw",
            &OutgoingMessage::new("plain")
                .with_key("k")
                .with_tag("t")
                .with_property("p", "v"),
        )
        .await
        .unwrap();
    assert!(
        is_broker_id(&via_client.id),
        "broker-assigned id: {}",
        via_client.id
    );
    let text = RawRequest::new("POST", "/v1/topics/raw/messages")
        .header("content-type", "text/plain; charset=utf-8")
        .body(b"{\"not\":\"json form\"}".to_vec())
        .send(broker.addr())
        .unwrap();
    assert_eq!(text.status, 200, "{}", text.text());
    let read = client
        .get_message(text.json()["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(read.body, Bytes::from_static(b"{\"not\":\"json form\"}"));
    // An empty body is a message too.
    let empty = client
        .send_raw("raw", &OutgoingMessage::new(""))
        .await
        .unwrap();
    assert!(client.get_message(&empty.id).await.unwrap().body.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_ids_are_unique_hex_and_time_sortable() {
    let broker = Broker::start(&[]);
    let client = broker.client();
    topic(&client, "ids", Some(2)).await;
    let mut ids = Vec::new();
    for n in 0..50 {
        let sent = client
            .send("ids", &OutgoingMessage::new(format!("m{n}")))
            .await
            .unwrap();
        assert!(is_broker_id(&sent.id), "32 hex characters: {}", sent.id);
        ids.push(sent.id);
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "ids of successive sends sort in send order");
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "ids are unique");
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_follow_pin_then_group_then_round_robin() {
    let broker = Broker::start(&[]);
    let client = broker.client();
    topic(&client, "routing", Some(4)).await;

    let mut per_queue = [0u32; 4];
    for n in 0..8 {
        let sent = client
            .send("routing", &OutgoingMessage::new(format!("rr{n}")))
            .await
            .unwrap();
        per_queue[sent.queue as usize] += 1;
    }
    assert_eq!(per_queue, [2, 2, 2, 2], "round robin over the queues");

    for group in ["user-1", "user-2", "user-3", "user-4", "user-5"] {
        let mut queues = BTreeSet::new();
        for n in 0..6 {
            let message = OutgoingMessage::new(format!("{group} {n}")).with_message_group(group);
            let sent = if n % 2 == 0 {
                client.send("routing", &message).await
            } else {
                client.send_raw("routing", &message).await
            };
            queues.insert(sent.unwrap().queue);
        }
        assert_eq!(
            queues.len(),
            1,
            "group {group} stays on one queue: {queues:?}"
        );
    }
    // A group in a batch goes to the same queue as the group's single sends.
    let single = client
        .send(
            "routing",
            &OutgoingMessage::new("g").with_message_group("user-1"),
        )
        .await
        .unwrap();
    let batch = client
        .send_batch_binary(
            "routing",
            &[OutgoingMessage::new("b").with_message_group("user-1")],
        )
        .await
        .unwrap();
    assert_eq!(batch.results[0].queue, single.queue);

    // The pin wins over the group.
    let pinned = OutgoingMessage::new("p")
        .with_message_group("user-1")
        .with_queue((single.queue + 1) % 4);
    let sent = client.send("routing", &pinned).await.unwrap();
    assert_eq!(sent.queue, (single.queue + 1) % 4);
    let read = client.get_message(&sent.id).await.unwrap();
    assert_eq!(read.queue, sent.queue);
    // The group is not shown as a user property.
    assert!(read.properties.is_empty(), "{:?}", read.properties);
    let raw = RawRequest::new("GET", &format!("/v1/messages/{}", sent.id))
        .send(broker.addr())
        .unwrap()
        .json();
    assert_eq!(raw["message_group"], "user-1", "{raw}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_send_with_text_and_base64_bodies() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    let client = broker.client();
    topic(&client, "json", Some(2)).await;

    let response = RawRequest::new("POST", "/v1/topics/json/messages")
        .json(
            r#"{"body":"héllo ☃","id":"j-1","keys":["k1","k2"],"tag":"t",
                "properties":{"a":"1","b-c":"2"},"queue":1}"#,
        )
        .send(addr)
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let sent = response.json();
    assert_eq!(
        (
            sent["id"].as_str(),
            sent["queue"].as_u64(),
            sent["offset"].as_u64()
        ),
        (Some("j-1"), Some(1), Some(0))
    );
    assert_eq!(sent["status"], "SEND_OK");
    let read = RawRequest::new("GET", "/v1/messages/j-1")
        .send(addr)
        .unwrap()
        .json();
    assert_eq!(read["body"], "héllo ☃");
    assert!(read.get("body_base64").is_none(), "{read}");
    assert_eq!(read["keys"], serde_json::json!(["k1", "k2"]));
    assert_eq!(read["tag"], "t");
    assert_eq!(read["properties"], serde_json::json!({"a":"1","b-c":"2"}));
    for field in ["id", "topic", "queue", "offset", "born_ms", "store_ms"] {
        assert!(
            read.get(field).is_some(),
            "message object has {field}: {read}"
        );
    }

    let binary: Vec<u8> = vec![0, 159, 146, 150, 255, 0, 10, 13];
    let response = RawRequest::new("POST", "/v1/topics/json/messages")
        .json(&format!(
            r#"{{"body_base64":"{}"}}"#,
            BASE64.encode(&binary)
        ))
        .send(addr)
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let id = response.json()["id"].as_str().unwrap().to_owned();
    let read = RawRequest::new("GET", &format!("/v1/messages/{id}"))
        .send(addr)
        .unwrap()
        .json();
    assert_eq!(read["body_base64"], BASE64.encode(&binary), "{read}");
    assert!(read.get("body").is_none(), "{read}");
    assert_eq!(client.get_message(&id).await.unwrap().body, binary);

    // body_base64 of UTF-8 bytes reads back as text.
    let response = RawRequest::new("POST", "/v1/topics/json/messages")
        .json(&format!(
            r#"{{"body_base64":"{}"}}"#,
            BASE64.encode("plain")
        ))
        .send(addr)
        .unwrap();
    let id = response.json()["id"].as_str().unwrap().to_owned();
    let read = RawRequest::new("GET", &format!("/v1/messages/{id}"))
        .send(addr)
        .unwrap()
        .json();
    assert_eq!(read["body"], "plain");

    // An empty text body is allowed.
    let sent = client
        .send("json", &OutgoingMessage::new(""))
        .await
        .unwrap();
    assert!(client.get_message(&sent.id).await.unwrap().body.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_stored_contiguously_per_queue() {
    let broker = Broker::start(&[]);
    let client = broker.client();
    topic(&client, "batch", Some(4)).await;

    for binary in [false, true] {
        // Without queue or group, a whole batch goes to one queue, at contiguous offsets.
        let messages: Vec<OutgoingMessage> = (0..20)
            .map(|n| OutgoingMessage::new(format!("b{binary}-{n}")).with_key(format!("bk{n}")))
            .collect();
        let result = if binary {
            client.send_batch_binary("batch", &messages).await
        } else {
            client.send_batch("batch", &messages).await
        }
        .unwrap();
        assert_eq!(result.topic, "batch");
        assert_eq!(result.status, SendStatus::SendOk);
        assert_eq!(result.results.len(), 20);
        let queue = result.results[0].queue;
        let first = result.results[0].offset;
        for (n, entry) in result.results.iter().enumerate() {
            assert_eq!(entry.queue, queue, "one queue for the whole batch");
            assert_eq!(entry.offset, first + n as u64, "contiguous offsets");
            assert!(is_broker_id(&entry.id));
        }
        let read = client
            .read_queue("batch", queue, first, Some(20))
            .await
            .unwrap();
        let bodies: Vec<Bytes> = read.messages.iter().map(|m| m.body.clone()).collect();
        let sent: Vec<Bytes> = messages.iter().map(|m| m.body.clone()).collect();
        assert_eq!(bodies, sent, "the batch reads back in order");

        // Mixed pins: contiguous per queue, in the order sent.
        let messages: Vec<OutgoingMessage> = (0..12)
            .map(|n| {
                OutgoingMessage::new(vec![n as u8, 0xff])
                    .with_queue(n % 3)
                    .with_id(format!("mixed-{binary}-{n}"))
                    .with_tag("mixed")
                    .with_property("n", n.to_string())
            })
            .collect();
        let before = client.describe_topic("batch").await.unwrap();
        let result = if binary {
            client.send_batch_binary("batch", &messages).await
        } else {
            client.send_batch("batch", &messages).await
        }
        .unwrap();
        for queue in 0..3u32 {
            let offsets: Vec<u64> = result
                .results
                .iter()
                .filter(|e| e.queue == queue)
                .map(|e| e.offset)
                .collect();
            let start = before.queue_offsets[queue as usize].max_offset;
            assert_eq!(
                offsets,
                (start..start + 4).collect::<Vec<_>>(),
                "queue {queue}"
            );
        }
        for (n, entry) in result.results.iter().enumerate() {
            assert_eq!(entry.id, format!("mixed-{binary}-{n}"));
            let message = client.get_message(&entry.id).await.unwrap();
            assert_eq!(message.body, messages[n].body);
            assert_eq!(message.properties, messages[n].properties);
            assert_eq!(message.tag.as_deref(), Some("mixed"));
        }
    }
    let described = client.describe_topic("batch").await.unwrap();
    assert_eq!(described.messages, 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_by_id_in_the_raw_form() {
    let broker = Broker::start(&[]);
    let client = broker.client();
    topic(&client, "rawget", Some(2)).await;
    let body: Vec<u8> = vec![1, 2, 3, 0, 255, b'\n'];
    let message = OutgoingMessage::new(body.clone())
        .with_id("raw-get-1")
        .with_key("ka")
        .with_key("kb")
        .with_tag("shipped")
        .with_property("source", "api")
        .with_message_group("grp");
    let sent = client.send("rawget", &message).await.unwrap();
    let response = RawRequest::new("GET", "/v1/messages/raw-get-1")
        .header("accept", "application/octet-stream")
        .send(broker.addr())
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, body, "the body, raw");
    assert_eq!(
        response.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    let header = |name: &str| {
        response
            .header(name)
            .unwrap_or_else(|| panic!("header {name} in {:?}", response.headers))
    };
    assert_eq!(header("weir-message-id"), "raw-get-1");
    assert_eq!(header("weir-keys"), "ka,kb");
    assert_eq!(header("weir-tag"), "shipped");
    assert_eq!(header("weir-prop-source"), "api");
    assert_eq!(header("weir-message-group"), "grp");
    assert_eq!(header("weir-queue"), sent.queue.to_string());
    // Without that Accept, JSON.
    let json = RawRequest::new("GET", "/v1/messages/raw-get-1")
        .send(broker.addr())
        .unwrap();
    assert!(
        json.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(json.json()["id"], "raw-get-1");
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_by_key_oldest_first() {
    let broker = Broker::start(&[]);
    let client = broker.client();
    topic(&client, "keys", Some(4)).await;
    topic(&client, "other", Some(1)).await;
    let mut ids = Vec::new();
    for n in 0..5u32 {
        let message = OutgoingMessage::new(format!("order event {n}"))
            .with_key("order 7/x")
            .with_key(format!("event-{n}"))
            .with_queue(n % 4);
        let sent = if n % 2 == 0 {
            client.send("keys", &message).await
        } else {
            client.send_batch_binary("keys", &[message]).await.map(|b| {
                let e = &b.results[0];
                weir_client::SendResult {
                    id: e.id.clone(),
                    topic: b.topic.clone(),
                    queue: e.queue,
                    offset: e.offset,
                    status: b.status,
                }
            })
        }
        .unwrap();
        ids.push(sent.id);
        client
            .send("keys", &OutgoingMessage::new("noise").with_key("unrelated"))
            .await
            .unwrap();
    }
    // The same key on another topic is not returned.
    client
        .send(
            "other",
            &OutgoingMessage::new("elsewhere").with_key("order 7/x"),
        )
        .await
        .unwrap();

    let found = client
        .messages_by_key("keys", "order 7/x", None)
        .await
        .unwrap();
    let found_ids: Vec<&str> = found.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(found_ids, ids, "all messages with the key, oldest first");
    for (n, message) in found.iter().enumerate() {
        assert_eq!(message.body, format!("order event {n}"));
        assert_eq!(message.topic, "keys");
    }
    let limited = client
        .messages_by_key("keys", "order 7/x", Some(2))
        .await
        .unwrap();
    assert_eq!(limited.len(), 2, "max bounds the answer");
    assert!(limited[0].store_ms <= limited[1].store_ms && limited[0].id < limited[1].id);
    let one = client
        .messages_by_key("keys", "event-3", None)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, ids[3]);
    assert!(
        client
            .messages_by_key("keys", "absent", None)
            .await
            .unwrap()
            .is_empty()
    );
    let raw = RawRequest::new("GET", "/v1/topics/keys/messages?key=event-1&max=32")
        .send(broker.addr())
        .unwrap()
        .json();
    assert_eq!(raw["messages"].as_array().map(Vec::len), Some(1), "{raw}");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_by_offset_pages_through_a_queue() {
    let broker = Broker::start(&[]);
    let client = broker.client();
    topic(&client, "pages", Some(2)).await;
    for n in 0..5 {
        client
            .send(
                "pages",
                &OutgoingMessage::new(format!("p{n}")).with_queue(1),
            )
            .await
            .unwrap();
    }
    let first = client.read_queue("pages", 1, 0, Some(2)).await.unwrap();
    let offsets: Vec<u64> = first.messages.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, [0, 1]);
    assert_eq!((first.next_offset, first.max_offset), (2, 5));
    let rest = client
        .read_queue("pages", 1, first.next_offset, None)
        .await
        .unwrap();
    let bodies: Vec<Bytes> = rest.messages.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, [&b"p2"[..], b"p3", b"p4"].map(Bytes::from_static));
    assert_eq!((rest.next_offset, rest.max_offset), (5, 5));
    let at_end = client.read_queue("pages", 1, 5, None).await.unwrap();
    assert!(at_end.messages.is_empty());
    assert_eq!((at_end.next_offset, at_end.max_offset), (5, 5));
    let empty_queue = client.read_queue("pages", 0, 0, None).await.unwrap();
    assert!(empty_queue.messages.is_empty());
    assert_eq!(empty_queue.max_offset, 0);
    // The raw JSON shape.
    let raw = RawRequest::new("GET", "/v1/topics/pages/queues/1/messages?offset=3&max=1")
        .send(broker.addr())
        .unwrap()
        .json();
    assert_eq!(raw["messages"][0]["body"], "p3");
    assert_eq!(raw["messages"][0]["offset"], 3);
    assert_eq!(raw["next_offset"], 4);
    assert_eq!(raw["max_offset"], 5);
}

/// `(METHOD, /path/template)` of every route `docs/http-api.md` names in backticks, with
/// path parameters normalised to `{}` and query strings dropped.
fn documented_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for span in API_DOC.split('`').skip(1).step_by(2) {
        let Some((method, path)) = span.split_once(' ') else {
            continue;
        };
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) || !path.starts_with('/') {
            continue;
        }
        let path = path.split('?').next().unwrap_or(path);
        routes.insert((method.to_owned(), normalise_template(path)));
    }
    routes
}

fn normalise_template(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_describes_every_documented_route() {
    let broker = Broker::start(&[]);
    let document = broker.client().openapi().await.unwrap();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with('3')),
        "an OpenAPI 3 document"
    );
    let paths = document["paths"].as_object().expect("paths object");
    let described: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let path = normalise_template(path);
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .map(move |method| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect();
    let documented = documented_routes();
    assert!(
        documented.len() >= 12,
        "the document names the routes: {documented:?}"
    );
    let missing: Vec<_> = documented.difference(&described).collect();
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json: {missing:?}"
    );
    let raw = support::get(broker.addr(), "/v1/openapi.json").unwrap();
    assert!(
        raw.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics() {
    let broker = Broker::start(&[]);
    let client = broker.client();
    assert_eq!(client.healthz().await.unwrap().status, "ok");
    let health = support::get(broker.addr(), "/healthz").unwrap();
    assert_eq!(health.json(), serde_json::json!({"status":"ok"}));
    topic(&client, "m", Some(1)).await;
    for n in 0..3 {
        client
            .send("m", &OutgoingMessage::new(format!("{n}")))
            .await
            .unwrap();
    }
    let metrics = client.metrics().await.unwrap();
    for name in [
        "weir_messages_in_total",
        "weir_bytes_in_total",
        "weir_send_latency_seconds",
        "weir_flush_latency_seconds",
        "weir_store_size_bytes",
    ] {
        assert!(metrics.contains(name), "metrics name {name}:\n{metrics}");
    }
    let messages_in: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("weir_messages_in_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(messages_in, 3.0, "messages counted:\n{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_prior_knowledge() {
    let broker = Broker::start(&[]);
    let client = broker.client_h2();
    assert_eq!(client.healthz().await.unwrap().status, "ok");
    topic(&client, "h2", Some(4)).await;
    // Many concurrent streams over the one connection.
    let sends: Vec<_> = (0..64)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .send(
                        "h2",
                        &OutgoingMessage::new(format!("h2 {n}")).with_key(format!("h2-{n}")),
                    )
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for send in sends {
        ids.push(send.await.unwrap().unwrap().id);
    }
    let batch = client
        .send_batch_binary(
            "h2",
            &[OutgoingMessage::new("b1"), OutgoingMessage::new("b2")],
        )
        .await
        .unwrap();
    assert_eq!(batch.results.len(), 2);
    let message = client.get_message(&ids[10]).await.unwrap();
    assert_eq!(message.body, "h2 10");
    let by_key = client.messages_by_key("h2", "h2-20", None).await.unwrap();
    assert_eq!(by_key[0].body, "h2 20");
    let described = client.describe_topic("h2").await.unwrap();
    assert_eq!(described.messages, 66);
    let read = client.read_queue("h2", 0, 0, Some(1000)).await.unwrap();
    assert_eq!(read.max_offset, described.queue_offsets[0].max_offset);
    assert!(
        client
            .metrics()
            .await
            .unwrap()
            .contains("weir_messages_in_total")
    );
    assert!(client.openapi().await.unwrap()["paths"].is_object());
}

async fn snapshot(client: &Client) -> Vec<(Topic, Vec<(u32, u64, u64)>)> {
    let mut out = Vec::new();
    for topic in client.list_topics().await.unwrap() {
        let described = client.describe_topic(&topic.name).await.unwrap();
        let ranges = described
            .queue_offsets
            .iter()
            .map(|q| (q.queue, q.min_offset, q.max_offset))
            .collect();
        out.push((topic, ranges));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_configuration_survives_restarts() {
    let mut broker = Broker::start(&[]);
    let client = broker.client();
    topic(&client, "one", Some(1)).await;
    topic(&client, "many", Some(16)).await;
    topic(&client, "default", None).await;
    topic(&client, "doomed", Some(2)).await;
    for n in 0..10 {
        client
            .send(
                "many",
                &OutgoingMessage::new(format!("{n}")).with_queue(n % 3),
            )
            .await
            .unwrap();
        client
            .send(
                "doomed",
                &OutgoingMessage::new(format!("{n}")).with_key("dk"),
            )
            .await
            .unwrap();
    }
    client.delete_topic("doomed").await.unwrap();
    let before = snapshot(&client).await;
    let names: Vec<&str> = before.iter().map(|(t, _)| t.name.as_str()).collect();
    assert_eq!(names, ["default", "many", "one"]);
    drop(client);

    broker.kill_9();
    broker.restart();
    let client = broker.client();
    assert_eq!(snapshot(&client).await, before, "after kill -9");
    support::assert_api_error(
        client.describe_topic("doomed").await,
        404,
        "TOPIC_NOT_FOUND",
    );
    drop(client);

    let status = broker.stop();
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    broker.restart();
    let client = broker.client();
    assert_eq!(snapshot(&client).await, before, "after SIGTERM");
    support::assert_api_error(
        client.describe_topic("doomed").await,
        404,
        "TOPIC_NOT_FOUND",
    );

    // Created and deleted right before a kill: both stick.
    topic(&client, "late", Some(5)).await;
    client.delete_topic("one").await.unwrap();
    drop(client);
    broker.kill_9();
    broker.restart();
    let client = broker.client();
    let names: Vec<String> = client
        .list_topics()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["default", "late", "many"]);
    assert_eq!(client.describe_topic("late").await.unwrap().queues, 5);
    support::assert_api_error(
        client.send("one", &OutgoingMessage::new("x")).await,
        404,
        "TOPIC_NOT_FOUND",
    );
    // A deleted name can be created again and survives a restart as the new topic.
    let recreated = topic(&client, "doomed", Some(3)).await;
    drop(client);
    let status = broker.stop();
    assert!(status.success());
    broker.restart();
    let client = broker.client();
    let described = client.describe_topic("doomed").await.unwrap();
    assert_eq!(
        (described.queues, described.created_ms),
        (3, recreated.created_ms)
    );
    // Sending keeps working on the recovered topics.
    let sent = client
        .send("many", &OutgoingMessage::new("after").with_queue(0))
        .await
        .unwrap();
    assert_eq!(sent.offset, 4, "queue 0 of 'many' held offsets 0..4");
}

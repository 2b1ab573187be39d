//! Consumer groups through the router: receive, ack, nack, invisible time, long polls,
//! lag, offsets, broadcasting, and the stable codes of bad group requests.

use http::StatusCode;

use crate::support::{
    ErrorCase, JSON, app, call, call_raw, create_group, create_topic, get, post, receipts, receive,
    send, sum,
};

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

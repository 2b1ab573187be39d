//! Delayed messages through the router: scheduled, queried and cancelled, delayed
//! batches, and the refusal of bad delays and bad transaction requests.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::support::{
    JSON, LATER_MS, app, call, create_topic, get, metric, metrics_text, now_ms, poll_until, post,
    send, send_raw,
};

#[tokio::test]
async fn delayed_sends_are_scheduled_queried_and_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 2).await;
    let at = (now_ms() + LATER_MS).to_string();
    let mut sent = Vec::new();
    // Each header form.
    for (header, value) in [
        ("weir-delay-ms", LATER_MS.to_string()),
        ("weir-deliver-at", at.clone()),
        ("weir-delay-level", "18".to_string()),
    ] {
        let (status, json) = send_raw(
            &app,
            "t",
            &[
                (header, &value),
                ("weir-keys", "k"),
                ("weir-prop-source", "web"),
            ],
            header,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{header}: {json}");
        assert_eq!(json["status"], "SEND_OK", "{json}");
        assert_eq!(json["topic"], "t");
        assert!(
            json.get("queue").is_none() && json.get("offset").is_none(),
            "{json}"
        );
        assert!(json["deliver_at"].as_i64().unwrap() > now_ms(), "{json}");
        sent.push((json["id"].as_str().unwrap().to_string(), header.to_string()));
    }
    // Each JSON form.
    for (field, value) in [
        ("delay_ms", serde_json::json!(LATER_MS)),
        ("deliver_at", serde_json::json!(now_ms() + LATER_MS)),
        ("delay_level", serde_json::json!(17)),
    ] {
        let mut body = serde_json::json!({"body": field, "tag": "later"});
        body[field] = value;
        let (status, json) = post(&app, "/v1/topics/t/messages", body).await;
        assert_eq!(status, StatusCode::OK, "{field}: {json}");
        assert!(json.get("queue").is_none(), "{json}");
        assert!(json["deliver_at"].as_i64().unwrap() > now_ms(), "{json}");
        sent.push((json["id"].as_str().unwrap().to_string(), field.to_string()));
    }
    let (_, level) = get(&app, &format!("/v1/messages/{}", sent[2].0)).await;
    let level_at = level["deliver_at"].as_i64().unwrap();
    assert!(level_at - now_ms() <= 7_200_000 && level_at - now_ms() > 7_100_000);
    // Queries see them as scheduled, without the broker's bookkeeping properties.
    for (id, body) in &sent {
        let (status, json) = get(&app, &format!("/v1/messages/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["state"], "scheduled", "{json}");
        assert_eq!(json["topic"], "t");
        assert_eq!(json["body"], body.as_str());
        assert!(json["deliver_at"].is_i64());
        assert!(json.get("queue").is_none(), "{json}");
        let properties = json["properties"].as_object().unwrap();
        assert!(properties.keys().all(|k| !k.starts_with("weir.")), "{json}");
    }
    let (_, first) = get(&app, &format!("/v1/messages/{}", sent[0].0)).await;
    assert_eq!(first["keys"], serde_json::json!(["k"]));
    assert_eq!(first["properties"], serde_json::json!({"source": "web"}));
    let raw = app
        .handle(
            Request::get(format!("/v1/messages/{}", sent[1].0))
                .header("accept", "application/octet-stream")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw.headers()["weir-state"], "scheduled");
    assert_eq!(raw.headers()["weir-deliver-at"], at.as_str());
    assert_eq!(raw.headers()["weir-topic"], "t");
    assert!(raw.headers().get("weir-queue").is_none());
    // Nothing is in the topic yet.
    let (_, described) = get(&app, "/v1/topics/t").await;
    assert_eq!(described["messages"], 0, "{described}");
    assert_eq!(
        metric(&metrics_text(&app).await, "weir_delayed_pending"),
        Some(6.0)
    );
    assert!(metric(&metrics_text(&app).await, "weir_timers_pending").unwrap() >= 6.0);

    // Cancel.
    let (cancelled_id, _) = &sent[0];
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/messages/{cancelled_id}/cancel"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["id"], cancelled_id.as_str());
    assert_eq!(json["topic"], "t");
    assert_eq!(json["state"], "cancelled");
    assert!(json["deliver_at"].is_i64());
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/messages/{cancelled_id}/cancel"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"NOT_SCHEDULED".into())
    );
    let (status, json) = get(&app, &format!("/v1/messages/{cancelled_id}")).await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"MESSAGE_NOT_FOUND".into())
    );
    assert_eq!(
        metric(&metrics_text(&app).await, "weir_delayed_pending"),
        Some(5.0)
    );

    // A stored message is not scheduled: it cannot be cancelled, and shows as stored.
    let stored = send(&app, "t", 0, "now").await;
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/messages/{stored}/cancel"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"NOT_SCHEDULED".into())
    );
    let (_, json) = get(&app, &format!("/v1/messages/{stored}")).await;
    assert_eq!(json["state"], "stored");
    assert_eq!(json["queue"], 0);
    let (status, json) = call(&app, "POST", "/v1/messages/NOPE/cancel", &[], "").await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"NOT_SCHEDULED".into())
    );
    let (status, _) = call(
        &app,
        "GET",
        &format!("/v1/messages/{stored}/cancel"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    // A short delay is delivered to its topic, under its id, and becomes "stored".
    let (_, json) = send_raw(&app, "t", &[("weir-delay-ms", "30")], "soon").await;
    let soon = json["id"].as_str().unwrap().to_string();
    let (status, json) = poll_until(&app, &format!("/v1/messages/{soon}"), 400, 25, |_, j| {
        j["state"] == "stored"
    })
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["state"], "stored", "{json}");
    assert_eq!(json["body"], "soon");
    assert!(json["queue"].is_u64() && json["offset"].is_u64(), "{json}");
    let metrics = metrics_text(&app).await;
    assert!(
        metric(&metrics, "weir_timer_lateness_seconds_count").unwrap() >= 1.0,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "weir_delayed_pending"), Some(5.0));
    // A time in the past is sent at once.
    let (_, json) = send_raw(&app, "t", &[("weir-deliver-at", "1000")], "past").await;
    assert!(
        json["queue"].is_u64() && json.get("deliver_at").is_none(),
        "{json}"
    );
}

#[tokio::test]
async fn delayed_batches_answer_the_delivery_time() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let (status, json) = post(
        &app,
        "/v1/topics/t/messages:batch",
        serde_json::json!([
            {"body": "a", "delay_ms": LATER_MS},
            {"body": "b", "delay_level": 1},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    for result in json["results"].as_array().unwrap() {
        assert!(result["deliver_at"].is_i64(), "{json}");
        assert!(result.get("queue").is_none(), "{json}");
    }
    let (status, json) = post(
        &app,
        "/v1/topics/t/messages:batch",
        serde_json::json!([{"body": "c"}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["results"][0]["queue"], 0, "{json}");
    assert!(json["results"][0].get("deliver_at").is_none(), "{json}");
}

/// Send headers, expected status, expected code.
type HeaderCase<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

#[tokio::test]
async fn bad_delays_and_transaction_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let over = (40 * 24 * 3_600_000_i64 + 60_000).to_string();
    let over_at = (now_ms() + 40 * 24 * 3_600_000 + 60_000).to_string();
    let cases: &[HeaderCase<'_>] = &[
        (&[("weir-delay-ms", &over)], 400, "INVALID_ARGUMENT"),
        (&[("weir-deliver-at", &over_at)], 400, "INVALID_ARGUMENT"),
        (&[("weir-delay-level", "0")], 400, "INVALID_ARGUMENT"),
        (&[("weir-delay-level", "19")], 400, "INVALID_ARGUMENT"),
        (&[("weir-delay-level", "two")], 400, "INVALID_HEADER"),
        (&[("weir-delay-ms", "-1")], 400, "INVALID_HEADER"),
        (&[("weir-deliver-at", "tomorrow")], 400, "INVALID_HEADER"),
        (
            &[("weir-delay-ms", "10"), ("weir-delay-level", "1")],
            400,
            "INVALID_HEADER",
        ),
        (&[("weir-transaction", "begin")], 400, "INVALID_HEADER"),
        (&[("weir-producer-group", "pg")], 400, "INVALID_HEADER"),
        (
            &[("weir-transaction", "half"), ("weir-delay-ms", "10")],
            400,
            "INVALID_ARGUMENT",
        ),
        (
            &[
                ("weir-transaction", "half"),
                ("weir-tx-check-after-ms", "soon"),
            ],
            400,
            "INVALID_HEADER",
        ),
        (
            &[("weir-transaction", "half"), ("weir-producer-group", "a b")],
            400,
            "INVALID_ARGUMENT",
        ),
    ];
    for (headers, status, code) in cases {
        let (got, json) = send_raw(&app, "t", headers, "x").await;
        assert_eq!(
            (got.as_u16(), json["code"].as_str()),
            (*status, Some(*code)),
            "{headers:?}: {json}"
        );
    }
    let json_cases = [
        (
            serde_json::json!({"body": "x", "delay_level": 19}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "delay_ms": -1}),
            "INVALID_JSON",
        ),
        (
            serde_json::json!({"body": "x", "delay_ms": 40 * 24 * 3_600_000_u64 + 1}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "delay_ms": 1, "deliver_at": 1}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "transaction": "begin"}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "producer_group": "pg"}),
            "INVALID_ARGUMENT",
        ),
        (
            serde_json::json!({"body": "x", "transaction": "half", "delay_level": 1}),
            "INVALID_ARGUMENT",
        ),
    ];
    for (body, code) in json_cases {
        let (status, json) = post(&app, "/v1/topics/t/messages", body.clone()).await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (400, Some(code)),
            "{body}: {json}"
        );
    }
    // Batches carry no transaction, and take delays only per message.
    let (status, json) = post(
        &app,
        "/v1/topics/t/messages:batch",
        serde_json::json!([{"body": "x"}, {"body": "y", "transaction": "half"}]),
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{json}"
    );
    for header in [("weir-transaction", "half"), ("weir-delay-ms", "10")] {
        let (status, json) = call(
            &app,
            "POST",
            "/v1/topics/t/messages:batch",
            &[JSON, header],
            r#"[{"body":"x"}]"#,
        )
        .await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (400, Some("INVALID_HEADER")),
            "{header:?}: {json}"
        );
    }
    // Nothing was stored or scheduled by the refused sends.
    let (_, described) = get(&app, "/v1/topics/t").await;
    assert_eq!(described["messages"], 0, "{described}");
    let (_, transactions) = get(&app, "/v1/transactions").await;
    assert_eq!(transactions["transactions"], serde_json::json!([]));
    assert_eq!(
        metric(&metrics_text(&app).await, "weir_delayed_pending"),
        Some(0.0)
    );
}

//! Transactions and producer groups through the router: half messages committed and
//! rolled back, check-backs by long poll and by callback URL.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use weir_core::Limits;

use crate::support::{app, app_with_limits, call, create_topic, get, poll_until, post, send_raw};

#[tokio::test]
async fn a_half_message_is_invisible_until_committed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let (status, half) = send_raw(
        &app,
        "t",
        &[
            ("weir-transaction", "half"),
            ("weir-producer-group", "pg"),
            ("weir-tag", "order"),
        ],
        "pending",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{half}");
    let tx = half["transaction"].as_str().unwrap().to_string();
    assert_eq!(half["id"], tx.as_str());
    assert_eq!(half["topic"], "t");
    assert_eq!(half["status"], "SEND_OK");
    // Invisible: not found by id, not in the queue.
    let (status, _) = get(&app, &format!("/v1/messages/{tx}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, read) = get(&app, "/v1/topics/t/queues/0/messages?offset=0").await;
    assert_eq!(read["messages"], serde_json::json!([]));
    // Listed as undecided.
    let (status, list) = get(&app, "/v1/transactions?max=10").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = &list["transactions"][0];
    assert_eq!(listed["transaction"], tx.as_str());
    assert_eq!(listed["topic"], "t");
    assert_eq!(listed["producer_group"], "pg");
    assert_eq!(listed["checks"], 0);
    assert_eq!(listed["parked"], false);
    assert_eq!(listed["body"], "pending");
    assert_eq!(listed["tag"], "order");
    assert!(listed["store_ms"].is_i64());
    let properties = listed["properties"].as_object().unwrap();
    assert!(
        properties.keys().all(|k| !k.starts_with("weir.")),
        "{listed}"
    );
    // Commit: visible, under the transaction id.
    let (status, json) = post(
        &app,
        &format!("/v1/transactions/{tx}/commit"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json,
        serde_json::json!({"transaction": tx, "state": "committed"})
    );
    let (status, message) = get(&app, &format!("/v1/messages/{tx}")).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(message["body"], "pending");
    assert_eq!(message["tag"], "order");
    assert_eq!(message["state"], "stored");
    assert!(
        message["properties"].as_object().unwrap().is_empty(),
        "{message}"
    );
    // Committing again is fine; rolling back now is a conflict.
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v1/transactions/{tx}/commit"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/transactions/{tx}/rollback"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (409, Some("TRANSACTION_CONFLICT")),
        "{json}"
    );
    let (_, list) = get(&app, "/v1/transactions").await;
    assert_eq!(list["transactions"], serde_json::json!([]));
    let (status, json) = call(
        &app,
        "POST",
        &format!("/v1/transactions/{tx}/resume"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (404, Some("TRANSACTION_NOT_FOUND")),
        "{json}"
    );
}

#[tokio::test]
async fn a_rolled_back_half_message_is_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    let (status, half) = post(
        &app,
        "/v1/topics/t/messages",
        serde_json::json!({"body": "no", "transaction": "half", "id": "tx-1",
            "check_after_ms": 600_000}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{half}");
    assert_eq!(half["transaction"], "tx-1");
    // A retried half send answers the first one.
    let (_, again) = post(
        &app,
        "/v1/topics/t/messages",
        serde_json::json!({"body": "no", "transaction": "half", "id": "tx-1"}),
    )
    .await;
    assert_eq!(again["transaction"], "tx-1");
    let (_, list) = get(&app, "/v1/transactions").await;
    assert_eq!(list["transactions"].as_array().unwrap().len(), 1, "{list}");
    assert!(list["transactions"][0].get("producer_group").is_none());
    let (status, json) = call(&app, "POST", "/v1/transactions/tx-1/resume", &[], "").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["state"], "resumed");
    let (status, json) = call(&app, "POST", "/v1/transactions/tx-1/rollback", &[], "").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json,
        serde_json::json!({"transaction": "tx-1", "state": "rolled_back"})
    );
    let (status, _) = get(&app, "/v1/messages/tx-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, json) = call(&app, "POST", "/v1/transactions/tx-1/commit", &[], "").await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (409, Some("TRANSACTION_CONFLICT")),
        "{json}"
    );
    for action in ["commit", "rollback", "resume"] {
        let (status, json) = call(
            &app,
            "POST",
            &format!("/v1/transactions/NOPE/{action}"),
            &[],
            "",
        )
        .await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (404, Some("TRANSACTION_NOT_FOUND")),
            "{action}: {json}"
        );
    }
    let (_, read) = get(&app, "/v1/topics/t/queues/0/messages?offset=0").await;
    assert_eq!(read["messages"], serde_json::json!([]));
    for max in ["0", "1001", "x"] {
        let (status, _) = get(&app, &format!("/v1/transactions?max={max}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "max={max}");
    }
}

#[tokio::test]
async fn producer_groups_are_created_listed_replaced_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (status, json) = post(
        &app,
        "/v1/producer-groups",
        serde_json::json!({"name": "pg", "callback_url": "http://127.0.0.1:9/check"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["name"], "pg");
    assert_eq!(json["callback_url"], "http://127.0.0.1:9/check");
    assert!(json["created_ms"].is_i64());
    let (status, json) = post(
        &app,
        "/v1/producer-groups",
        serde_json::json!({"name": "other"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert!(json.get("callback_url").is_none(), "{json}");
    let (_, list) = get(&app, "/v1/producer-groups").await;
    let names: Vec<&str> = list["producer_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["other", "pg"]);
    // Replace: the callback goes away.
    let (status, _) = post(
        &app,
        "/v1/producer-groups",
        serde_json::json!({"name": "pg"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, json) = get(&app, "/v1/producer-groups/pg").await;
    assert_eq!(status, StatusCode::OK);
    assert!(json.get("callback_url").is_none(), "{json}");
    let (status, _) = call(&app, "DELETE", "/v1/producer-groups/pg", &[], "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for method in ["GET", "DELETE"] {
        let (status, json) = call(&app, method, "/v1/producer-groups/pg", &[], "").await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (404, Some("PRODUCER_GROUP_NOT_FOUND")),
            "{method}: {json}"
        );
    }
    for (body, code) in [
        (
            serde_json::json!({"name": "pg", "callback_url": "https://example.com/x"}),
            "INVALID_ARGUMENT",
        ),
        (serde_json::json!({"name": "a b"}), "INVALID_ARGUMENT"),
        (
            serde_json::json!({"name": "pg", "url": "http://x/"}),
            "INVALID_JSON",
        ),
        (serde_json::json!({}), "INVALID_JSON"),
    ] {
        let (status, json) = post(&app, "/v1/producer-groups", body.clone()).await;
        assert_eq!(
            (status.as_u16(), json["code"].as_str()),
            (400, Some(code)),
            "{body}: {json}"
        );
    }
    let (status, _) = call(&app, "PUT", "/v1/producer-groups/other", &[], "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn producers_long_poll_their_check_backs() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        tx_check_after_ms: 50,
        ..Limits::default()
    };
    let app = app_with_limits(dir.path(), limits);
    create_topic(&app, "t", 1).await;
    let (status, half) = send_raw(
        &app,
        "t",
        &[("weir-transaction", "half"), ("weir-producer-group", "pg")],
        "ask me",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{half}");
    let tx = half["transaction"].as_str().unwrap().to_string();
    // No callback URL: the check-back waits for a producer of the group.
    let (status, json) = poll_until(
        &app,
        "/v1/producer-groups/pg/checks?max=10&wait_ms=1000",
        20,
        0,
        |_, j| j["checks"].as_array().is_some_and(|c| !c.is_empty()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let check = &json["checks"][0];
    assert_eq!(check["transaction"], tx.as_str(), "{json}");
    assert_eq!(check["topic"], "t");
    assert_eq!(check["producer_group"], "pg");
    assert!(check["checks"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(check["body"], "ask me");
    // Other groups are not asked.
    let (_, json) = get(&app, "/v1/producer-groups/other/checks").await;
    assert_eq!(json["checks"], serde_json::json!([]));
    // The producer answers with a commit.
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v1/transactions/{tx}/commit"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, message) = get(&app, &format!("/v1/messages/{tx}")).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(message["body"], "ask me");
    for query in ["wait_ms=30001", "wait_ms=soon", "max=0", "max=1001"] {
        let (status, json) = get(&app, &format!("/v1/producer-groups/pg/checks?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {json}");
    }
    let (status, json) = get(&app, "/v1/producer-groups/a%20b/checks").await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{json}"
    );
}

/// A check-back callback server on 127.0.0.1: `/commit` answers commit, `/broken` a 500;
/// every request body is sent to the returned channel.
async fn callback_server() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<(String, serde_json::Value)>,
) {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let sender = sender.clone();
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let sender = sender.clone();
                async move {
                    let path = request.uri().path().to_string();
                    let body = request.into_body().collect().await?.to_bytes();
                    let json = serde_json::from_slice(&body).unwrap_or_default();
                    let _ = sender.send((path.clone(), json));
                    let (status, answer) = match path.as_str() {
                        "/commit" => (StatusCode::OK, r#"{"state":"commit"}"#),
                        _ => (StatusCode::INTERNAL_SERVER_ERROR, "oops"),
                    };
                    let mut response = http::Response::new(Full::new(Bytes::from(answer)));
                    *response.status_mut() = status;
                    Ok::<_, hyper::Error>(response)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (addr, receiver)
}

#[tokio::test]
async fn a_callback_url_decides_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        tx_check_after_ms: 30,
        ..Limits::default()
    };
    let app = app_with_limits(dir.path(), limits);
    create_topic(&app, "t", 1).await;
    let (addr, mut requests) = callback_server().await;
    for (group, path) in [("committer", "commit"), ("broken", "broken")] {
        let (status, json) = post(
            &app,
            "/v1/producer-groups",
            serde_json::json!({"name": group, "callback_url": format!("http://{addr}/{path}")}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
    }
    let (_, half) = post(
        &app,
        "/v1/topics/t/messages",
        serde_json::json!({"body": "decided by callback", "keys": ["k1"],
            "transaction": "half", "producer_group": "committer"}),
    )
    .await;
    let tx = half["transaction"].as_str().unwrap().to_string();
    let (status, message) = poll_until(&app, &format!("/v1/messages/{tx}"), 400, 25, |s, _| {
        s == StatusCode::OK
    })
    .await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(message["body"], "decided by callback");
    let (path, body) = requests.recv().await.unwrap();
    assert_eq!(path, "/commit");
    assert_eq!(body["transaction"], tx.as_str(), "{body}");
    assert_eq!(body["topic"], "t");
    assert_eq!(body["producer_group"], "committer");
    assert_eq!(body["checks"], 1);
    assert_eq!(body["message"]["id"], tx.as_str());
    assert_eq!(body["message"]["topic"], "t");
    assert_eq!(body["message"]["body"], "decided by callback");
    assert_eq!(body["message"]["keys"], serde_json::json!(["k1"]));

    // A callback that fails leaves the transaction undecided, for the group's producers.
    let (_, half) = send_raw(
        &app,
        "t",
        &[
            ("weir-transaction", "half"),
            ("weir-producer-group", "broken"),
        ],
        "undecided",
    )
    .await;
    let tx = half["transaction"].as_str().unwrap().to_string();
    let (path, _) = requests.recv().await.unwrap();
    assert_eq!(path, "/broken");
    let (_, json) = poll_until(
        &app,
        "/v1/producer-groups/broken/checks?wait_ms=1000",
        20,
        0,
        |_, j| j["checks"].as_array().is_some_and(|c| !c.is_empty()),
    )
    .await;
    assert_eq!(json["checks"][0]["transaction"], tx.as_str(), "{json}");
    let (status, _) = get(&app, &format!("/v1/messages/{tx}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = get(&app, "/v1/transactions").await;
    assert_eq!(
        list["transactions"][0]["transaction"],
        tx.as_str(),
        "{list}"
    );
}

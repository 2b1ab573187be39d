//! Topics through the router: sending, reading a message back by id, by key and by
//! queue offset, and adding queues to a topic.

use http::StatusCode;

use crate::support::{JSON, app, call, create_topic, get};

#[tokio::test]
async fn send_then_read_back_through_every_query() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (status, _) = call(
        &app,
        "POST",
        "/v1/topics",
        &[JSON],
        r#"{"name":"t","queues":2}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, sent) = call(
        &app,
        "POST",
        "/v1/topics/t/messages",
        &[
            ("weir-keys", "k1"),
            ("weir-queue", "1"),
            ("weir-prop-source", "web"),
        ],
        "hello",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "SEND_OK");
    assert_eq!(sent["queue"], 1);
    let id = sent["id"].as_str().unwrap();
    let (_, by_id) = call(&app, "GET", &format!("/v1/messages/{id}"), &[], "").await;
    assert_eq!(by_id["body"], "hello");
    assert_eq!(by_id["properties"]["source"], "web");
    let (_, by_key) = call(&app, "GET", "/v1/topics/t/messages?key=k1", &[], "").await;
    assert_eq!(by_key["messages"][0]["id"], id);
    let (_, read) = call(
        &app,
        "GET",
        "/v1/topics/t/queues/1/messages?offset=0",
        &[],
        "",
    )
    .await;
    assert_eq!(read["messages"][0]["id"], id);
    assert_eq!(read["next_offset"], 1);
    let (status, json) = call(
        &app,
        "GET",
        "/v1/topics/t/queues/1/messages?offset=5",
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (400, Some("OFFSET_OUT_OF_RANGE"))
    );
    let (status, json) = call(
        &app,
        "GET",
        "/v1/topics/t/queues/1/messages?offset=-1",
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status.as_u16(), json["code"].as_str()),
        (400, Some("INVALID_OFFSET"))
    );
}

#[tokio::test]
async fn patch_topic_adds_queues_and_never_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 2).await;
    let (status, topic) = call(&app, "PATCH", "/v1/topics/t", &[JSON], r#"{"queues":4}"#).await;
    assert_eq!(status, StatusCode::OK, "{topic}");
    assert_eq!(topic["name"], "t");
    assert_eq!(topic["queues"], 4);
    assert_eq!(topic["queue_offsets"].as_array().unwrap().len(), 4);
    let cases = [
        ("/v1/topics/t", r#"{"queues":3}"#, 400, "INVALID_ARGUMENT"),
        ("/v1/topics/t", r#"{"queues":0}"#, 400, "INVALID_ARGUMENT"),
        ("/v1/topics/t", r#"{"queues":-1}"#, 400, "INVALID_JSON"),
        (
            "/v1/topics/t",
            r#"{"queues":4,"name":"x"}"#,
            400,
            "INVALID_JSON",
        ),
        (
            "/v1/topics/missing",
            r#"{"queues":4}"#,
            404,
            "TOPIC_NOT_FOUND",
        ),
    ];
    for (uri, body, status, code) in cases {
        let (got, json) = call(&app, "PATCH", uri, &[JSON], body).await;
        assert_eq!(
            (got.as_u16(), &json["code"]),
            (status, &code.into()),
            "{body}: {json}"
        );
    }
    let (_, topic) = get(&app, "/v1/topics/t").await;
    assert_eq!(topic["queues"], 4);
}

//! Dead letters through the router: listed, inspected, exported (streamed page by page)
//! and resent.

use http::StatusCode;

use crate::support::{
    app, call_raw, create_group, create_topic, get, post, receipts, receive, send,
};

#[tokio::test]
async fn dead_letters_are_listed_inspected_exported_and_resent() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    create_group(
        &app,
        serde_json::json!({"name": "g", "topic": "t", "max_attempts": 1, "invisible_ms": 100}),
    )
    .await;
    let (_, sent) = post(
        &app,
        "/v1/topics/t/messages",
        serde_json::json!({"body_base64": "AP8=", "keys": ["k1"], "tag": "created"}),
    )
    .await;
    let binary_id = sent["id"].as_str().unwrap().to_string();
    let text_id = send(&app, "t", 0, "poison").await;

    // The binary message times out on its only attempt; the text one is nacked on it.
    let delivered = receive(&app, "g", serde_json::json!({"max": 2})).await;
    assert_eq!(delivered.len(), 2);
    let text = delivered
        .iter()
        .find(|m| m["id"] == text_id.as_str())
        .unwrap();
    let (_, nacked) = post(
        &app,
        "/v1/groups/g/nack",
        serde_json::json!({"receipts": [text["receipt"]]}),
    )
    .await;
    assert_eq!(nacked["nacked"], 1, "{nacked}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(receive(&app, "g", serde_json::json!({})).await.is_empty());

    let (_, described) = get(&app, "/v1/groups/g").await;
    assert_eq!(described["dead_letters"], 2, "{described}");
    assert_eq!(described["counters"]["dead_lettered"], 2);

    let (status, page) = get(&app, "/v1/groups/g/dlq").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["next_offset"], 2);
    assert_eq!(page["max_offset"], 2);
    let letters = page["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 2);
    let by_original = |id: &str| {
        letters
            .iter()
            .find(|l| l["original_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {page}"))
            .clone()
    };
    let binary = by_original(&binary_id);
    assert_eq!(binary["body_base64"], "AP8=");
    assert_eq!(binary["keys"], serde_json::json!(["k1"]));
    assert_eq!(binary["tag"], "created");
    assert_eq!(binary["topic"], "t");
    assert_eq!(binary["queue"], 0);
    assert_eq!(binary["attempts"], 1);
    assert!(binary["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(binary["dead_ms"].as_i64().unwrap() > 0);
    let text = by_original(&text_id);
    assert_eq!(text["body"], "poison");
    assert_ne!(text["id"], text["original_id"]);

    let (_, second_page) = get(&app, "/v1/groups/g/dlq?offset=1&max=1").await;
    assert_eq!(second_page["dead_letters"].as_array().unwrap().len(), 1);
    assert_eq!(second_page["dead_letters"][0]["dlq_offset"], 1);
    let (status, one) = get(
        &app,
        &format!("/v1/groups/g/dlq/{}", text["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one, text);
    let (_, one) = get(&app, &format!("/v1/groups/g/dlq/{text_id}")).await;
    assert_eq!(one, text, "found by the original id too");
    let (status, json) = get(&app, "/v1/groups/g/dlq/NOPE").await;
    assert_eq!(
        (status.as_u16(), &json["code"]),
        (404, &"DEAD_LETTER_NOT_FOUND".into())
    );

    let (status, content_type, export) = call_raw(&app, "GET", "/v1/groups/g/dlq:export").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-ndjson");
    let export = String::from_utf8(export.to_vec()).unwrap();
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(&lines, letters);
    assert!(export.ends_with('\n'));
    let (_, _, tail) = call_raw(&app, "GET", "/v1/groups/g/dlq:export?offset=1").await;
    assert_eq!(String::from_utf8_lossy(&tail).lines().count(), 1);

    // Resent dead letters come back to the group (only), marked as resent.
    let (status, resent) = post(
        &app,
        &format!("/v1/groups/g/dlq/{}/resend", text["id"].as_str().unwrap()),
        serde_json::json!(null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resent}");
    assert!(resent["id"].as_str().is_some_and(|id| !id.is_empty()));
    let back = receive(&app, "g", serde_json::json!({"invisible_ms": 60_000})).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["id"], text_id.as_str());
    assert_eq!(back[0]["body"], "poison");
    assert_eq!(back[0]["resent"], true);
    let (_, acked) = post(
        &app,
        "/v1/groups/g/ack",
        serde_json::json!({"receipts": receipts(&back)}),
    )
    .await;
    assert_eq!(acked["acked"], 1, "{acked}");

    let (status, resent) = post(
        &app,
        "/v1/groups/g/dlq:resend",
        serde_json::json!({"from_offset": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resent}");
    assert_eq!(resent["resent"], 2);
    let back = receive(
        &app,
        "g",
        serde_json::json!({"max": 10, "invisible_ms": 60_000}),
    )
    .await;
    assert_eq!(back.len(), 2);
    assert!(back.iter().all(|m| m["resent"] == true));
}

#[tokio::test]
async fn the_export_streams_every_page_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    create_topic(&app, "t", 1).await;
    create_group(
        &app,
        serde_json::json!({"name": "g", "topic": "t", "max_attempts": 1}),
    )
    .await;
    // More dead letters than one export page holds.
    let count = 40;
    for n in 0..count {
        send(&app, "t", 0, &format!("m{n}")).await;
    }
    let delivered = receive(&app, "g", serde_json::json!({"max": 100})).await;
    assert_eq!(delivered.len(), count);
    let (_, nacked) = post(
        &app,
        "/v1/groups/g/nack",
        serde_json::json!({"receipts": receipts(&delivered)}),
    )
    .await;
    assert_eq!(nacked["nacked"], count, "{nacked}");

    let (status, content_type, export) = call_raw(&app, "GET", "/v1/groups/g/dlq:export").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<serde_json::Value> = String::from_utf8(export.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let offsets: Vec<u64> = lines
        .iter()
        .map(|l| l["dlq_offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, (0..count as u64).collect::<Vec<_>>());
    let (_, _, tail) = call_raw(&app, "GET", "/v1/groups/g/dlq:export?offset=35").await;
    assert_eq!(String::from_utf8_lossy(&tail).lines().count(), 5);
    let (_, _, past) = call_raw(&app, "GET", "/v1/groups/g/dlq:export?offset=99").await;
    assert!(past.is_empty());
}

//! Access control through the router: which tokens reach which routes, and on every row
//! of the route table, that the access check refuses and admits what the row declares.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use weir_api::{Access, ApiLimits, App, Auth, ROUTES, TokenConfig};
use weir_core::{Limits, StoreConfig};

use crate::support;

const ADMIN: &str = "admin-secret-0001";
const ORDERS: &str = "orders-secret-0001";
const READER: &str = "reader-secret-0001";

fn token(name: &str, secret: &str) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        secret: secret.into(),
        admin: false,
        produce: vec![],
        consume: vec![],
    }
}

fn app(dir: &std::path::Path) -> App {
    let auth = Auth::new(vec![
        TokenConfig {
            admin: true,
            ..token("ops", ADMIN)
        },
        TokenConfig {
            produce: vec!["orders".into(), "orders-*".into()],
            consume: vec!["orders*".into()],
            ..token("orders-app", ORDERS)
        },
        token("reader", READER),
    ])
    .unwrap();
    support::app(dir).with_auth(auth)
}

struct Answer {
    status: StatusCode,
    body: Value,
    www_authenticate: Option<String>,
}

async fn call(app: &App, secret: Option<&str>, method: &str, uri: &str, body: Value) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(secret) = secret {
        request = request.header("authorization", format!("Bearer {secret}"));
    }
    let body = match body {
        Value::Null => Bytes::new(),
        Value::String(text) => Bytes::from(text),
        other => {
            request = request.header("content-type", "application/json");
            Bytes::from(other.to_string())
        }
    };
    let response = app.handle(request.body(Full::new(body)).unwrap()).await;
    let status = response.status();
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        www_authenticate,
    }
}

/// Topics `orders`, `orders-eu` and `payments`, a group on `orders` and one on `payments`,
/// and a message in each topic (their ids).
async fn setup(app: &App) -> (String, String) {
    for topic in ["orders", "orders-eu", "payments"] {
        let answer = call(
            app,
            Some(ADMIN),
            "POST",
            "/v1/topics",
            json!({"name": topic, "queues": 1}),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    for (group, topic) in [("og", "orders"), ("pg", "payments")] {
        let answer = call(
            app,
            Some(ADMIN),
            "POST",
            "/v1/groups",
            json!({"name": group, "topic": topic}),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let mut ids = Vec::new();
    for topic in ["orders", "payments"] {
        let uri = format!("/v1/topics/{topic}/messages");
        let answer = call(app, Some(ADMIN), "POST", &uri, json!("m")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        ids.push(answer.body["id"].as_str().unwrap().to_string());
    }
    (ids[0].clone(), ids[1].clone())
}

#[tokio::test]
async fn requests_without_a_known_token_are_unauthorized() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    for secret in [
        None,
        Some("wrong-secret-000001"),
        Some(&ADMIN[..ADMIN.len() - 1]),
    ] {
        for (method, uri) in [
            ("GET", "/v1/topics"),
            ("GET", "/metrics"),
            ("POST", "/v1/topics/orders/messages"),
            ("GET", "/v1/status"),
        ] {
            let answer = call(&app, secret, method, uri, Value::Null).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
            assert_eq!(answer.body["code"], "UNAUTHORIZED");
            assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
        }
    }
    // Another scheme is not a bearer token.
    let request = Request::builder()
        .uri("/v1/topics")
        .header("authorization", format!("Basic {ADMIN}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(app.handle(request).await.status(), StatusCode::UNAUTHORIZED);
    // The scheme is case-insensitive.
    let request = Request::builder()
        .uri("/v1/topics")
        .header("authorization", format!("bearer {READER}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(app.handle(request).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_and_the_openapi_document_need_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    for uri in ["/healthz", "/v1/openapi.json"] {
        assert_eq!(
            call(&app, None, "GET", uri, Value::Null).await.status,
            StatusCode::OK
        );
        // Not even a wrong one gets in the way.
        let answer = call(&app, Some("wrong-secret-000001"), "GET", uri, Value::Null).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn any_valid_token_lists_and_describes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    setup(&app).await;
    for uri in [
        "/v1/topics",
        "/v1/topics/payments",
        "/v1/groups",
        "/v1/groups/pg",
        "/metrics",
    ] {
        let answer = call(&app, Some(READER), "GET", uri, Value::Null).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
    }
}

#[tokio::test]
async fn administration_needs_the_admin_role() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    setup(&app).await;
    let cases: &[(&str, &str, Value)] = &[
        ("POST", "/v1/topics", json!({"name": "x"})),
        ("PATCH", "/v1/topics/orders", json!({"queues": 2})),
        ("DELETE", "/v1/topics/orders", Value::Null),
        ("DELETE", "/v1/groups/og", Value::Null),
        ("POST", "/v1/groups/og/reset", json!({"to": "earliest"})),
        ("POST", "/v1/groups/og/dlq:resend", Value::Null),
        ("GET", "/v1/transactions", Value::Null),
        ("POST", "/v1/transactions/x/resume", Value::Null),
        ("GET", "/v1/producer-groups", Value::Null),
        ("POST", "/v1/producer-groups", json!({"name": "p"})),
        ("GET", "/v1/modules", Value::Null),
        ("POST", "/v1/bindings", Value::Null),
        ("GET", "/v1/status", Value::Null),
    ];
    for (method, uri, body) in cases {
        for secret in [ORDERS, READER] {
            let answer = call(&app, Some(secret), method, uri, body.clone()).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {uri}");
            assert_eq!(answer.body["code"], "FORBIDDEN");
            let message = answer.body["message"].as_str().unwrap();
            assert!(message.contains("admin role"), "{message}");
        }
    }
    let answer = call(&app, Some(ADMIN), "GET", "/v1/status", Value::Null).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["topics"], 3);
    let answer = call(&app, Some(ADMIN), "GET", "/v1/modules", Value::Null).await;
    assert_eq!(answer.body["code"], "PLUGINS_DISABLED");
}

#[tokio::test]
async fn producers_send_to_the_topics_their_patterns_match() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    setup(&app).await;
    for topic in ["orders", "orders-eu"] {
        let uri = format!("/v1/topics/{topic}/messages");
        let answer = call(&app, Some(ORDERS), "POST", &uri, json!("m")).await;
        assert_eq!(answer.status, StatusCode::OK, "{topic}: {}", answer.body);
    }
    let batch = json!([{"body": "m"}]);
    let answer = call(
        &app,
        Some(ORDERS),
        "POST",
        "/v1/topics/orders/messages:batch",
        batch.clone(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    for (secret, uri) in [
        (ORDERS, "/v1/topics/payments/messages"),
        (ORDERS, "/v1/topics/payments/messages:batch"),
        (READER, "/v1/topics/orders/messages"),
    ] {
        let answer = call(&app, Some(secret), "POST", uri, batch.clone()).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri}");
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.contains("produce role"), "{message}");
    }
    // Transactions and check-backs: any produce role; the broker then answers.
    let answer = call(
        &app,
        Some(ORDERS),
        "POST",
        "/v1/transactions/nope/commit",
        Value::Null,
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    let answer = call(
        &app,
        Some(READER),
        "POST",
        "/v1/transactions/nope/rollback",
        Value::Null,
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn consumers_reach_the_groups_and_messages_of_their_topics() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (orders_id, payments_id) = setup(&app).await;

    let allowed: &[(&str, &str, Value)] = &[
        ("POST", "/v1/groups/og/receive", json!({"max": 1})),
        ("GET", "/v1/groups/og/lag", Value::Null),
        ("GET", "/v1/groups/og/offsets", Value::Null),
        ("GET", "/v1/groups/og/dlq", Value::Null),
        ("GET", "/v1/topics/orders/messages?key=k", Value::Null),
        (
            "GET",
            "/v1/topics/orders/queues/0/messages?offset=0",
            Value::Null,
        ),
        (
            "POST",
            "/v1/groups",
            json!({"name": "og2", "topic": "orders-eu"}),
        ),
    ];
    for (method, uri, body) in allowed {
        let answer = call(&app, Some(ORDERS), method, uri, body.clone()).await;
        assert!(
            answer.status.is_success(),
            "{method} {uri}: {} {}",
            answer.status,
            answer.body
        );
    }
    let uri = format!("/v1/messages/{orders_id}");
    let answer = call(&app, Some(ORDERS), "GET", &uri, Value::Null).await;
    assert_eq!(answer.status, StatusCode::OK);

    let refused: &[(&str, &str, Value)] = &[
        ("POST", "/v1/groups/pg/receive", json!({"max": 1})),
        ("POST", "/v1/groups/pg/ack", json!({"receipts": ["x"]})),
        ("GET", "/v1/groups/pg/lag", Value::Null),
        ("GET", "/v1/groups/pg/dlq:export", Value::Null),
        ("GET", "/v1/topics/payments/messages?key=k", Value::Null),
        (
            "GET",
            "/v1/topics/payments/queues/0/messages?offset=0",
            Value::Null,
        ),
        (
            "POST",
            "/v1/groups",
            json!({"name": "pg2", "topic": "payments"}),
        ),
    ];
    for (method, uri, body) in refused {
        let answer = call(&app, Some(ORDERS), method, uri, body.clone()).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {uri}");
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.contains("'orders-app'"), "{message}");
        assert!(
            message.contains("consume role on topic 'payments'"),
            "{message}"
        );
    }
    let uri = format!("/v1/messages/{payments_id}");
    let answer = call(&app, Some(ORDERS), "GET", &uri, Value::Null).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // What does not exist: any consume role, then the broker's own answer.
    let answer = call(
        &app,
        Some(ORDERS),
        "POST",
        "/v1/groups/missing/receive",
        Value::Null,
    )
    .await;
    assert_eq!(answer.body["code"], "GROUP_NOT_FOUND");
    let answer = call(&app, Some(ORDERS), "POST", "/v1/groups", json!("{bad")).await;
    assert_eq!(answer.body["code"], "INVALID_JSON");
    let answer = call(
        &app,
        Some(READER),
        "POST",
        "/v1/groups/missing/receive",
        Value::Null,
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let answer = call(
        &app,
        Some(READER),
        "POST",
        "/v1/groups",
        json!({"name": "rg", "topic": "orders"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn without_auth_every_route_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path());
    store.segment_size = 1 << 20;
    let broker = support::open_broker(store, &Limits::default());
    let app = App::new(broker, ApiLimits::for_core(&Limits::default()));
    let answer = call(
        &app,
        None,
        "POST",
        "/v1/topics",
        json!({"name": "t", "queues": 1}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let answer = call(&app, Some("anything"), "GET", "/v1/status", Value::Null).await;
    assert_eq!(answer.status, StatusCode::OK);
}

const PRODUCER: &str = "producer-secret-001";
const CONSUMER: &str = "consumer-secret-001";
const NO_ROLES: &str = "no-roles-secret-001";
const ELSEWHERE: &str = "elsewhere-secret-01";

/// Tokens with one role each on topic `t`, one without roles, one with both roles on
/// another topic only.
fn app_with_one_role_each(dir: &std::path::Path) -> App {
    let auth = Auth::new(vec![
        TokenConfig {
            admin: true,
            ..token("ops", ADMIN)
        },
        TokenConfig {
            produce: vec!["t".into()],
            ..token("producer", PRODUCER)
        },
        TokenConfig {
            consume: vec!["t".into()],
            ..token("consumer", CONSUMER)
        },
        token("nobody", NO_ROLES),
        TokenConfig {
            produce: vec!["other".into()],
            consume: vec!["other".into()],
            ..token("elsewhere", ELSEWHERE)
        },
    ])
    .unwrap();
    support::app(dir).with_auth(auth)
}

/// The tokens a row's access refuses (`403`) and the one it names (admitted). Where the
/// row names a topic, group or message, a role on another topic or of the other kind is
/// refused.
fn refused_and_admitted(access: Access) -> (&'static [&'static str], Option<&'static str>) {
    match access {
        Access::Public => (&[], None),
        Access::Authenticated => (&[], Some(NO_ROLES)),
        Access::Admin => (&[PRODUCER, CONSUMER, NO_ROLES, ELSEWHERE], Some(ADMIN)),
        Access::Produce | Access::ProduceDelayed => {
            (&[CONSUMER, NO_ROLES, ELSEWHERE], Some(PRODUCER))
        }
        Access::AnyProduce => (&[CONSUMER, NO_ROLES], Some(PRODUCER)),
        Access::Consume
        | Access::ConsumeGroup
        | Access::ConsumeMessage
        | Access::ConsumeTopicInBody => (&[PRODUCER, NO_ROLES, ELSEWHERE], Some(CONSUMER)),
    }
}

/// The body a row is called with: group creation names the topic it is checked against.
fn row_body(access: Access) -> Value {
    match access {
        Access::ConsumeTopicInBody => json!({"name": "g2", "topic": "t"}),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn every_row_admits_what_it_declares() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_one_role_each(dir.path());
    for (uri, body) in [
        ("/v1/topics", json!({"name": "t", "queues": 1})),
        ("/v1/groups", json!({"name": "g", "topic": "t"})),
    ] {
        let answer = call(&app, Some(ADMIN), "POST", uri, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    // A delayed message: messages and delayed messages are both checked by its topic.
    let request = Request::post("/v1/topics/t/messages")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("weir-delay-ms", "600000")
        .body(Full::new(Bytes::from("m")))
        .unwrap();
    let response = app.handle(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let sent: Value = serde_json::from_slice(&bytes).unwrap();
    let message = sent["id"].as_str().unwrap().to_string();

    // Refusals first: they change nothing, so every row sees the same resources.
    for route in ROUTES {
        let path = support::sample_path(route.path, &message);
        let body = row_body(route.access);
        let answer = call(&app, None, route.method, &path, body.clone()).await;
        if route.access == Access::Public {
            assert!(
                answer.status != StatusCode::UNAUTHORIZED && answer.status != StatusCode::FORBIDDEN,
                "{route:?} is public: {} {}",
                answer.status,
                answer.body
            );
        } else {
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{route:?} without a token"
            );
            assert_eq!(answer.body["code"], "UNAUTHORIZED", "{route:?}");
            assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
        }
        let (refused, _) = refused_and_admitted(route.access);
        for secret in refused {
            let answer = call(&app, Some(secret), route.method, &path, body.clone()).await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{route:?} with {secret}: {}",
                answer.body
            );
            assert_eq!(answer.body["code"], "FORBIDDEN", "{route:?}");
        }
    }
    // Then the token with the role each row names gets past the check: what the route
    // then answers (200, 400, 404, ...) is its own business.
    for route in ROUTES {
        let (_, Some(secret)) = refused_and_admitted(route.access) else {
            continue;
        };
        let path = support::sample_path(route.path, &message);
        let answer = call(
            &app,
            Some(secret),
            route.method,
            &path,
            row_body(route.access),
        )
        .await;
        assert!(
            answer.status != StatusCode::UNAUTHORIZED && answer.status != StatusCode::FORBIDDEN,
            "{route:?} with {secret}: {} {}",
            answer.status,
            answer.body
        );
    }
}

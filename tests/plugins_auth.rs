//! Access tokens and module validation through the real broker binary.
//!
//! * With `[[auth.tokens]]` in the configuration file, module, binding, status and topic
//!   administration need the admin token: `401 UNAUTHORIZED` without a token (or with
//!   an unknown one), `403 FORBIDDEN` with a produce/consume token. Sends need a produce
//!   role on a matching topic pattern; `/healthz` stays open.
//! * Without tokens, `weir serve` refuses to listen beyond loopback and says how to fix
//!   it; a token shorter than the minimum is refused at start too.
//! * Bad uploads are refused with a 4xx and nothing is registered: random bytes, a core
//!   module, a component of another world, a module over `[plugins] max_module_bytes`,
//!   a missing or unknown world; bindings naming a missing module or one of the wrong
//!   world are refused too.

use crate::support;
use crate::support::plugins as plugins_support;

use std::net::TcpStream;
use std::time::Duration;

use plugins_support::{Api, ConfiguredBroker, Language, component, expect, with_custom_section};
use rand::RngCore;
use serde_json::json;
use support::{RawResponse, assert_error, free_local_addr, get, run_cli};

const ADMIN: &str = "admin-secret-0123456789";
const ORDERS: &str = "orders-secret-0123456789";

/// Largest module the brokers of these tests accept.
const MAX_MODULE_BYTES: usize = 256 * 1024;

/// A request only the admin may make: what it is, and how to make it with a client.
type AdminRequest<'a> = (&'static str, Box<dyn Fn(&Api) -> RawResponse + 'a>);

fn auth_config() -> String {
    format!(
        r#"
[plugins]
max_module_bytes = {MAX_MODULE_BYTES}

[[auth.tokens]]
name = "ops"
token = "{ADMIN}"
admin = true

[[auth.tokens]]
name = "orders-app"
token = "{ORDERS}"
produce = ["orders", "orders-*"]
consume = ["orders*"]
"#
    )
}

/// Checks a `401`: the code, and the challenge header.
#[track_caller]
fn assert_unauthorized(response: &RawResponse, what: &str) {
    assert_error(response, 401, "UNAUTHORIZED");
    let challenge = response.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "{what}: a 401 carries WWW-Authenticate: Bearer, got {challenge:?}"
    );
}

/// Checks a `403` whose message names the role needed.
#[track_caller]
fn assert_forbidden(response: &RawResponse, role: &str, what: &str) {
    assert_error(response, 403, "FORBIDDEN");
    let message = response.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(role),
        "{what}: the message names the role {role}: {message}"
    );
    assert!(
        !message.contains(ORDERS) && !message.contains(ADMIN),
        "{what}: the message never shows a secret: {message}"
    );
}

#[test]
fn administration_needs_the_admin_token_and_sends_a_matching_produce_role() {
    let broker = ConfiguredBroker::start(&auth_config(), &[]);
    let addr = broker.broker.addr();
    let anonymous = Api::new(addr);
    let unknown = Api::with_token(addr, "not-a-known-token-at-all");
    let orders = Api::with_token(addr, ORDERS);
    let admin = Api::with_token(addr, ADMIN);

    // Open without a token.
    let health = get(addr, "/healthz").expect("/healthz");
    assert_eq!(health.status, 200, "{}", health.text());

    let forwarder = component("forwarder");
    let binding = json!({
        "name": "orders-to-eu", "module": "fw",
        "target": {"kind": "consumer", "topic": "orders", "group": "eu"},
        "config": "orders-eu", "grants": {"publish": true},
    });
    let admin_requests: Vec<AdminRequest<'_>> = vec![
        ("list modules", Box::new(|api: &Api| api.get("/v1/modules"))),
        (
            "upload",
            Box::new(|api: &Api| api.upload("fw", "consumer-plugin", &forwarder)),
        ),
        (
            "describe module",
            Box::new(|api: &Api| api.get("/v1/modules/fw")),
        ),
        (
            "delete module",
            Box::new(|api: &Api| api.delete("/v1/modules/fw")),
        ),
        (
            "list bindings",
            Box::new(|api: &Api| api.get("/v1/bindings")),
        ),
        (
            "bind",
            Box::new(|api: &Api| api.post("/v1/bindings", &binding)),
        ),
        (
            "describe binding",
            Box::new(|api: &Api| api.get("/v1/bindings/orders-to-eu")),
        ),
        (
            "pause binding",
            Box::new(|api: &Api| api.call("POST", "/v1/bindings/orders-to-eu/pause")),
        ),
        (
            "delete binding",
            Box::new(|api: &Api| api.delete("/v1/bindings/orders-to-eu")),
        ),
        ("status", Box::new(|api: &Api| api.get("/v1/status"))),
        (
            "create topic",
            Box::new(|api: &Api| api.post("/v1/topics", &json!({"name": "orders", "queues": 2}))),
        ),
        (
            "add queues",
            Box::new(|api: &Api| api.json("PATCH", "/v1/topics/orders", &json!({"queues": 4}))),
        ),
        (
            "delete topic",
            Box::new(|api: &Api| api.delete("/v1/topics/orders")),
        ),
    ];
    for (what, request) in &admin_requests {
        assert_unauthorized(&request(&anonymous), what);
        assert_unauthorized(&request(&unknown), what);
        assert_forbidden(&request(&orders), "admin", what);
    }
    // Nothing was done by the refused requests.
    assert_eq!(
        expect(admin.get("/v1/modules"), 200, "list modules")["modules"],
        json!([])
    );
    assert_eq!(
        expect(admin.get("/v1/topics"), 200, "list topics")["topics"],
        json!([])
    );

    // The admin may do everything.
    admin.create_topic("orders", 2);
    admin.create_topic("orders-eu", 1);
    admin.create_topic("payments", 1);
    admin.upload_new("fw", "consumer-plugin", &forwarder);
    expect(admin.get("/v1/modules/fw"), 200, "describe module");
    admin.bind(&binding);
    expect(admin.get("/v1/bindings"), 200, "list bindings");
    expect(
        admin.get("/v1/bindings/orders-to-eu"),
        200,
        "describe binding",
    );
    expect(admin.get("/v1/status"), 200, "status");
    expect(
        admin.call("POST", "/v1/bindings/orders-to-eu/pause"),
        200,
        "pause",
    );
    expect(
        admin.call("POST", "/v1/bindings/orders-to-eu/resume"),
        200,
        "resume",
    );
    admin.send_message("payments", &json!({"body": "an admin may send anywhere"}));

    // Sends: a produce role on a matching pattern.
    let body = json!({"body": "an order"});
    for topic in ["orders", "orders-eu"] {
        let answer = orders.post(&format!("/v1/topics/{topic}/messages"), &body);
        assert_eq!(answer.status, 200, "send to {topic}: {}", answer.text());
        let batch = orders.post(
            &format!("/v1/topics/{topic}/messages:batch"),
            &json!([body]),
        );
        assert_eq!(batch.status, 200, "batch to {topic}: {}", batch.text());
    }
    assert_forbidden(
        &orders.post("/v1/topics/payments/messages", &body),
        "produce",
        "send to payments",
    );
    assert_forbidden(
        &orders.post("/v1/topics/payments/messages:batch", &json!([body])),
        "produce",
        "batch to payments",
    );
    assert_unauthorized(
        &anonymous.post("/v1/topics/orders/messages", &body),
        "anonymous send",
    );
    assert_unauthorized(
        &unknown.post("/v1/topics/orders/messages", &body),
        "send with an unknown token",
    );

    // Consuming: a consume role on the group's topic.
    let group = orders.post(
        "/v1/groups",
        &json!({"name": "shipping", "topic": "orders"}),
    );
    assert_eq!(
        group.status,
        201,
        "create a group on orders: {}",
        group.text()
    );
    let received = orders.post(
        "/v1/groups/shipping/receive",
        &json!({"max": 1, "wait_ms": 0}),
    );
    assert_eq!(received.status, 200, "{}", received.text());
    assert_forbidden(
        &orders.post(
            "/v1/groups",
            &json!({"name": "billing", "topic": "payments"}),
        ),
        "consume",
        "a group on payments",
    );
    admin.create_group(&json!({"name": "billing", "topic": "payments"}));
    assert_forbidden(
        &orders.post("/v1/groups/billing/receive", &json!({"max": 1})),
        "consume",
        "receive from a group of payments",
    );
    assert_unauthorized(
        &anonymous.post("/v1/groups/shipping/receive", &json!({"max": 1})),
        "anonymous receive",
    );

    // Listing topics and metrics: any valid token.
    let topics = expect(orders.get("/v1/topics"), 200, "list topics");
    assert_eq!(topics["topics"].as_array().map(Vec::len), Some(3));
    assert_eq!(orders.get("/metrics").status, 200);
    assert_unauthorized(&anonymous.get("/metrics"), "anonymous metrics");
    assert_unauthorized(&anonymous.get("/v1/topics"), "anonymous topic list");

    // Still only the admin may remove things.
    assert_forbidden(
        &orders.delete("/v1/bindings/orders-to-eu"),
        "admin",
        "delete binding",
    );
    assert_eq!(admin.delete("/v1/bindings/orders-to-eu").status, 204);
    assert_eq!(admin.delete("/v1/modules/fw").status, 204);
    assert_eq!(admin.delete("/v1/topics/payments").status, 204);
}

#[test]
fn without_tokens_serve_refuses_to_listen_beyond_loopback() {
    let data = tempfile::Builder::new()
        .prefix("weir-test-")
        .tempdir()
        .expect("a data directory");
    let data_path = data.path().join("data");
    let data_arg = data_path.to_str().expect("a UTF-8 path");
    let port = free_local_addr().port();
    let listen = format!("0.0.0.0:{port}");
    let output = run_cli(&["serve", "--data", data_arg, "--listen", &listen], b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "serve on {listen} without tokens must not start; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("token"),
        "the message says tokens are needed: {stderr}"
    );
    assert!(
        stderr.contains("auth"),
        "the message names the configuration to add: {stderr}"
    );
    assert!(
        TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().expect("an address"),
            Duration::from_secs(2)
        )
        .is_err(),
        "nothing listens on {listen}"
    );

    // A token shorter than the minimum is refused at start, without showing it.
    let config = data.path().join("short-token.toml");
    std::fs::write(
        &config,
        "[[auth.tokens]]\nname = \"ops\"\ntoken = \"short\"\nadmin = true\n",
    )
    .expect("write the configuration");
    let listen = free_local_addr().to_string();
    let output = run_cli(
        &[
            "serve",
            "--data",
            data_arg,
            "--listen",
            &listen,
            "--config",
            config.to_str().expect("a UTF-8 path"),
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a short token is refused; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("16"),
        "the message gives the minimum: {stderr}"
    );
}

#[test]
fn bad_uploads_and_bindings_are_refused_and_register_nothing() {
    let broker = ConfiguredBroker::start(
        &format!("[plugins]\nmax_module_bytes = {MAX_MODULE_BYTES}\n"),
        &[],
    );
    let api = broker.api();
    api.create_topic("orders", 1);

    let mut random = vec![0u8; 64 * 1024];
    rand::rng().fill_bytes(&mut random);
    random[0] = 0xff;
    assert_error(
        &api.upload("junk", "consumer-plugin", &random),
        400,
        "NOT_A_COMPONENT",
    );
    assert_error(
        &api.upload("junk", "consumer-plugin", b""),
        400,
        "NOT_A_COMPONENT",
    );
    // The smallest valid core module: the header alone.
    let core_module = b"\0asm\x01\0\0\0";
    assert_error(
        &api.upload("core", "consumer-plugin", core_module),
        400,
        "NOT_A_COMPONENT",
    );
    // Components of other worlds.
    assert_error(
        &api.upload("dedup", "consumer-plugin", &component("json_dedup")),
        422,
        "MISSING_EXPORT",
    );
    assert_error(
        &api.upload("acker", "dedup-filter-plugin", &component("ack_all")),
        422,
        "MISSING_EXPORT",
    );
    assert_error(
        &api.upload("acker", "tx-checker", &component("ack_all")),
        422,
        "MISSING_EXPORT",
    );
    // Over the configured limit: a valid component made bigger.
    let forwarder = component("forwarder");
    assert!(forwarder.len() < MAX_MODULE_BYTES, "the forwarder fits");
    let padded = with_custom_section(&forwarder, "padding", &vec![0u8; MAX_MODULE_BYTES]);
    assert_error(
        &api.upload("big", "consumer-plugin", &padded),
        413,
        "MODULE_TOO_LARGE",
    );
    // An import the broker does not provide is refused before compiling, with or
    // without a world, in words that fit any language.
    for path in ["/v1/modules/foreign", "/v1/modules/foreign?world=consumer"] {
        let refused =
            api.send(support::RawRequest::new("PUT", path).body(component("foreign_import")));
        assert_error(&refused, 422, "UNSUPPORTED_IMPORT");
        let message = refused.json()["message"].as_str().unwrap().to_string();
        assert!(
            message.contains("example:missing/clock@0.1.0") && message.contains("docs/plugins.md"),
            "the refusal names the import and where the provided ones are listed: {message}"
        );
        for rust_only in ["cargo", "export_consumer", "wasm32-wasip2"] {
            assert!(!message.contains(rust_only), "language-neutral: {message}");
        }
    }
    // An unknown world.
    assert_error(
        &api.upload("fw", "producer-plugin", &forwarder),
        400,
        "INVALID_WORLD",
    );
    assert_error(
        &api.upload("bad.name", "consumer-plugin", &forwarder),
        400,
        "INVALID_NAME",
    );
    assert_eq!(
        expect(api.get("/v1/modules"), 200, "list modules")["modules"],
        json!([]),
        "a refused upload registers nothing"
    );

    // A good upload; the same component without a world is told one from its exports;
    // then another world under its name.
    api.upload_new("fw", "consumer-plugin", &forwarder);
    let inferred = expect(
        api.send(support::RawRequest::new("PUT", "/v1/modules/fw2").body(forwarder.clone())),
        201,
        "upload without a world",
    );
    assert_eq!(inferred["world"], "consumer-plugin", "{inferred}");
    assert_error(
        &api.upload("fw", "tx-checker-plugin", &component("http_tx_checker")),
        409,
        "WORLD_MISMATCH",
    );
    api.upload_new("dedup", "dedup-filter-plugin", &component("json_dedup"));

    // Bindings: a missing module, the wrong world, bad settings, bad JSON.
    let consumer = |module: &str| {
        json!({
            "name": "b", "module": module,
            "target": {"kind": "consumer", "topic": "orders", "group": "g"},
        })
    };
    assert_error(
        &api.post("/v1/bindings", &consumer("missing")),
        404,
        "MODULE_NOT_FOUND",
    );
    assert_error(
        &api.post("/v1/bindings", &consumer("dedup")),
        409,
        "WORLD_MISMATCH",
    );
    let mut zero_deadline = consumer("fw");
    zero_deadline["deadline_ms"] = json!(0);
    assert_error(
        &api.post("/v1/bindings", &zero_deadline),
        400,
        "INVALID_BINDING",
    );
    let mut no_topic = consumer("fw");
    no_topic["target"]["topic"] = json!("nowhere");
    assert_error(&api.post("/v1/bindings", &no_topic), 404, "TOPIC_NOT_FOUND");
    assert_error(
        &api.send(support::RawRequest::new("POST", "/v1/bindings").json("{\"name\":")),
        400,
        "INVALID_JSON",
    );
    let mut unknown_field = consumer("fw");
    unknown_field["colour"] = json!("blue");
    assert_error(
        &api.post("/v1/bindings", &unknown_field),
        400,
        "INVALID_JSON",
    );
    assert_eq!(
        expect(api.get("/v1/bindings"), 200, "list bindings")["bindings"],
        json!([]),
        "a refused binding registers nothing"
    );
    // The refusals left the broker working.
    api.bind(&consumer("fw"));
}

/// A component built with the component-model async ABI (jco's QuickJS backend by
/// default) is refused before compiling, with the flag that turns it off.
#[test]
fn a_component_using_the_async_abi_is_refused_with_the_flag_that_turns_it_off() {
    let broker = ConfiguredBroker::start("", &[]);
    let api = broker.api();
    let refused = api.send(
        support::RawRequest::new("PUT", "/v1/modules/async")
            .body(Language::JavaScript.component("ack-all-async")),
    );
    assert_error(&refused, 422, "ASYNC_ABI_UNSUPPORTED");
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("async ABI") && message.contains("--backend-qjs-disable-async"),
        "the refusal says what is wrong and how to build instead: {message}"
    );
    assert_eq!(
        expect(api.get("/v1/modules"), 200, "list modules")["modules"],
        json!([]),
        "a refused upload registers nothing"
    );
}

//! The OpenAPI document served by the real `weir` binary against the binary itself: every
//! operation is called with requests generated from its own schemas — valid ones and ones
//! just past each documented bound (length, range, pattern, type, required field) — and
//! must answer a status it documents, never a 5xx, and errors as the JSON error with a
//! code. With tokens, every operation that is not public answers 401 without one; without
//! tokens, the served document asks for none.
//!
//! Property-based with a fixed, small number of cases per operation, so that the whole walk
//! stays bounded.

use crate::support;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use support::{Broker, RawRequest, RawResponse};

/// Generated requests per operation.
const CASES: u32 = 12;
/// Deepest schema nesting generated.
const MAX_DEPTH: u32 = 4;
const TOKEN: &str = "contract-admin-token-0001";

fn fetch_document(broker: &Broker, token: Option<&str>) -> Value {
    let mut request = RawRequest::new("GET", "/v1/openapi.json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send(broker.addr()).expect("the document");
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

/// Follows a `$ref` within the document.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(doc, doc.pointer(pointer).expect("a $ref that resolves"))
        }
        None => value,
    }
}

/// One operation of the document.
struct Operation {
    method: String,
    template: String,
    id: String,
    operation: Value,
    parameters: Vec<Value>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let shared = item["parameters"].as_array().cloned().unwrap_or_default();
        for (method, operation) in item.as_object().expect("a path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let mut parameters = shared.clone();
            parameters.extend(
                operation["parameters"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
            out.push(Operation {
                method: method.to_uppercase(),
                template: template.clone(),
                id: operation["operationId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                operation: operation.clone(),
                parameters: parameters.iter().map(|p| resolve(doc, p).clone()).collect(),
            });
        }
    }
    out
}

/// A value that satisfies `schema` (as far as this generator reads schemas).
fn valid(doc: &Value, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let schema = resolve(doc, schema).clone();
    if let Some(choices) = schema["enum"].as_array().filter(|c| !c.is_empty()) {
        return proptest::sample::select(choices.clone()).boxed();
    }
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let options: Vec<_> = options.iter().map(|o| valid(doc, o, depth + 1)).collect();
        return proptest::strategy::Union::new(options).boxed();
    }
    match schema["type"].as_str() {
        Some("string") => string_in(&schema).boxed(),
        Some("integer") => {
            let min = schema["minimum"].as_i64().unwrap_or(0);
            let max = schema["maximum"]
                .as_i64()
                .unwrap_or(min.saturating_add(1000));
            (min..=max).prop_map(Value::from).boxed()
        }
        Some("number") => (0.0..1.0f64).prop_map(Value::from).boxed(),
        Some("boolean") => any::<bool>().prop_map(Value::from).boxed(),
        Some("array") => {
            let min = schema["minItems"].as_u64().unwrap_or(0) as usize;
            let max = schema["maxItems"].as_u64().unwrap_or(4).min(4) as usize;
            if depth >= MAX_DEPTH {
                return Just(Value::Array(Vec::new())).boxed();
            }
            proptest::collection::vec(valid(doc, &schema["items"], depth + 1), min..=max.max(min))
                .prop_map(Value::Array)
                .boxed()
        }
        _ => object(doc, &schema, depth),
    }
}

fn string_in(schema: &Value) -> BoxedStrategy<Value> {
    let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
    let max = schema["maxLength"].as_u64().unwrap_or(24).min(24) as usize;
    match schema["pattern"].as_str() {
        Some(pattern) => {
            let pattern = pattern.trim_start_matches('^').trim_end_matches('$');
            let pattern = pattern.replace("{1,127}", "{1,24}");
            proptest::string::string_regex(&pattern)
                .expect("a pattern proptest understands")
                .prop_map(Value::from)
                .boxed()
        }
        None => proptest::string::string_regex(&format!("[a-z0-9]{{{min},{}}}", max.max(min)))
            .expect("a length pattern")
            .prop_map(Value::from)
            .boxed(),
    }
}

fn object(doc: &Value, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let required: Vec<String> = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if depth >= MAX_DEPTH || properties.is_empty() {
        return Just(Value::Object(Map::new())).boxed();
    }
    let fields: Vec<_> = properties
        .into_iter()
        .map(|(name, property)| {
            let keep = required.contains(&name);
            // Long polls are kept short: the walk is bounded.
            let value = if name == "wait_ms" {
                (0..=50i64).prop_map(Value::from).boxed()
            } else {
                valid(doc, &property, depth + 1)
            };
            (
                Just(name),
                value,
                if keep {
                    Just(true).boxed()
                } else {
                    any::<bool>().boxed()
                },
            )
        })
        .collect();
    fields
        .prop_map(|fields| {
            Value::Object(
                fields
                    .into_iter()
                    .filter(|(_, _, keep)| *keep)
                    .map(|(name, value, _)| (name, value))
                    .collect(),
            )
        })
        .boxed()
}

/// The ways a body can be just past what the schema allows, for the top-level object.
fn past_bounds(doc: &Value, schema: &Value) -> Vec<Value> {
    let schema = resolve(doc, schema);
    let mut out = vec![json!("not an object"), json!([1, 2, 3])];
    let Some(properties) = schema["properties"].as_object() else {
        return out;
    };
    for (name, property) in properties {
        let property = resolve(doc, property);
        let with = |value: Value| json!({ name.clone(): value });
        if let Some(max) = property["maxLength"].as_u64() {
            out.push(with(Value::from("x".repeat(max as usize + 1))));
        }
        if property["minLength"].as_u64().is_some_and(|min| min > 0) {
            out.push(with(Value::from("")));
        }
        if property["pattern"].is_string() {
            out.push(with(Value::from("no spaces or dots. allowed")));
        }
        if let Some(max) = property["maximum"].as_i64() {
            out.push(with(Value::from(max.saturating_add(1))));
        } else if property["format"] == "int64" {
            out.push(with(Value::from(i64::MAX as u64 + 1)));
        }
        if let Some(min) = property["minimum"].as_i64() {
            out.push(with(Value::from(min.saturating_sub(1))));
        }
        if let Some(max) = property["maxItems"].as_u64().filter(|m| *m < 20_000) {
            out.push(with(Value::Array(vec![Value::from("x"); max as usize + 1])));
        }
        if property["minItems"].as_u64().is_some_and(|min| min > 0) {
            out.push(with(Value::Array(Vec::new())));
        }
        match property["type"].as_str() {
            Some("string") => out.push(with(json!(12))),
            Some("integer" | "number" | "boolean" | "array") => out.push(with(json!({"x": 1}))),
            _ => {}
        }
    }
    if let Some(required) = schema["required"].as_array().filter(|r| !r.is_empty()) {
        // Without its required fields.
        let _ = required;
        out.push(Value::Object(Map::new()));
    }
    out
}

/// The path with its parameters filled in (names that exist, see [`setup`]).
fn path_of(op: &Operation) -> String {
    let mut path = op.template.clone();
    for parameter in op.parameters.iter().filter(|p| p["in"] == "path") {
        let name = parameter["name"].as_str().unwrap_or_default();
        let value = match name {
            "topic" => "contract",
            "group" => "contract-readers",
            "queue" => "0",
            "name" => "contract-pg",
            _ => "0123456789ABCDEF0123456789ABCDEF",
        };
        path = path.replace(&format!("{{{name}}}"), value);
    }
    let query: Vec<String> = op
        .parameters
        .iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| format!("{}=0", p["name"].as_str().unwrap_or_default()))
        .collect();
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn json_schema(op: &Operation) -> Option<&Value> {
    let schema = &op.operation["requestBody"]["content"]["application/json"]["schema"];
    (!schema.is_null()).then_some(schema)
}

/// Checks one answer against the operation's documented statuses and the error shape.
fn check(op: &Operation, body: &str, response: &RawResponse) -> Result<(), String> {
    let what = || {
        format!(
            "{} {} with {body:.200}: {}",
            op.method, op.template, response.status
        )
    };
    if response.status >= 500 {
        return Err(format!("{} answered a 5xx: {}", what(), response.text()));
    }
    let documented = &op.operation["responses"];
    if documented[response.status.to_string()].is_null() && documented["default"].is_null() {
        return Err(format!(
            "{} is not documented: {:.300}",
            what(),
            response.text()
        ));
    }
    if response.status >= 400 {
        let error: Value = serde_json::from_slice(&response.body)
            .map_err(|err| format!("{}: the error is not JSON ({err})", what()))?;
        if !error["code"].is_string() || !error["message"].is_string() {
            return Err(format!("{}: not the JSON error: {error}", what()));
        }
    }
    Ok(())
}

fn call(broker: &Broker, op: &Operation, body: Option<&Value>) -> RawResponse {
    let mut request = RawRequest::new(&op.method, &path_of(op));
    if let Some(body) = body {
        request = request.json(&body.to_string());
    }
    request.send(broker.addr()).expect("an answer")
}

/// The topic, group and producer group the generated paths name.
fn setup(broker: &Broker) {
    for (path, body) in [
        ("/v1/topics", r#"{"name":"contract","queues":2}"#),
        (
            "/v1/groups",
            r#"{"name":"contract-readers","topic":"contract"}"#,
        ),
        ("/v1/producer-groups", r#"{"name":"contract-pg"}"#),
    ] {
        let response = RawRequest::new("POST", path)
            .json(body)
            .send(broker.addr())
            .unwrap();
        assert!(response.status < 300, "{path}: {}", response.text());
    }
}

/// Operations the walk leaves out, and why.
fn skipped(op: &Operation) -> bool {
    // Deleting the fixtures would make the rest of the walk meaningless; they are still
    // called once at the end.
    op.method == "DELETE"
}

#[test]
fn every_operation_answers_what_it_documents_for_valid_and_out_of_bound_requests() {
    let broker = Broker::start(&[]);
    setup(&broker);
    let doc = fetch_document(&broker, None);
    assert!(
        doc.get("security").is_none(),
        "no tokens: the document asks for none"
    );
    let ops = operations(&doc);
    assert!(ops.len() >= 50, "{} operations", ops.len());
    let mut failures = Vec::new();
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: CASES,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let mut calls = 0usize;
    for op in ops.iter().filter(|op| !skipped(op)) {
        let Some(schema) = json_schema(op) else {
            let response = call(&broker, op, None);
            calls += 1;
            if let Err(err) = check(op, "", &response) {
                failures.push(err);
            }
            continue;
        };
        let strategy = valid(&doc, schema, 0);
        for _ in 0..CASES {
            let body = strategy
                .new_tree(&mut runner)
                .expect("a generated body")
                .current();
            let response = call(&broker, op, Some(&body));
            calls += 1;
            if let Err(err) = check(op, &body.to_string(), &response) {
                failures.push(err);
            } else if response.status == 400 && response.json()["code"] == "INVALID_JSON" {
                // The body has the schema's shape: the server must agree on it.
                failures.push(format!(
                    "{} {}: a body of the documented shape is INVALID_JSON: {body:.300}: {:.300}",
                    op.method,
                    op.template,
                    response.text()
                ));
            }
        }
        for body in past_bounds(&doc, schema) {
            let response = call(&broker, op, Some(&body));
            calls += 1;
            if let Err(err) = check(op, &body.to_string(), &response) {
                failures.push(err);
            } else if response.status < 400 {
                failures.push(format!(
                    "{} {}: a body past the schema's bounds was accepted: {body:.300}",
                    op.method, op.template
                ));
            }
        }
    }
    for op in ops.iter().filter(|op| skipped(op)) {
        let response = call(&broker, op, None);
        calls += 1;
        if let Err(err) = check(op, "", &response) {
            failures.push(err);
        }
    }
    eprintln!("{calls} requests over {} operations", ops.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn with_tokens_every_operation_but_the_public_ones_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        format!("[[auth.tokens]]\nname = \"ops\"\ntoken = \"{TOKEN}\"\nadmin = true\n"),
    )
    .unwrap();
    let broker = Broker::start(&["--config", config.to_str().unwrap()]);
    let doc = fetch_document(&broker, None);
    assert!(
        doc["security"].is_array(),
        "with tokens the document asks for a bearer token"
    );
    let ops = operations(&doc);
    for op in &ops {
        let public = op.operation["security"] == json!([]);
        let response = call(&broker, op, None);
        if public {
            assert_ne!(
                response.status, 401,
                "{} {} is public",
                op.method, op.template
            );
        } else {
            assert_eq!(
                response.status,
                401,
                "{} {} ({}) without a token: {}",
                op.method,
                op.template,
                op.id,
                response.text()
            );
            assert_eq!(response.json()["code"], "UNAUTHORIZED");
            assert!(
                !op.operation["responses"]["401"].is_null(),
                "{} documents 401",
                op.id
            );
        }
    }
}

#[test]
fn long_input_is_cut_in_error_messages() {
    let broker = Broker::start(&[]);
    // Under the control body limit, a name eight thousand times too long.
    let name = "n".repeat(1_000_000);
    let response = RawRequest::new("POST", "/v1/topics")
        .json(&format!(r#"{{"name":"{name}"}}"#))
        .send(broker.addr())
        .unwrap();
    assert_eq!(response.status, 400, "{:.300}", response.text());
    assert_eq!(response.json()["code"], "INVALID_TOPIC_NAME");
    assert!(
        response.body.len() < 1024,
        "{} bytes of error",
        response.body.len()
    );
    // A long header value.
    setup(&broker);
    let response = RawRequest::new("POST", "/v1/topics/contract/messages")
        .header("weir-queue", "9".repeat(30_000))
        .body(b"x".to_vec())
        .send(broker.addr())
        .unwrap();
    assert_eq!(response.status, 400, "{:.300}", response.text());
    assert!(
        response.body.len() < 1024,
        "{} bytes of error",
        response.body.len()
    );
}

#[test]
fn batches_refuse_per_message_headers_naming_them() {
    let broker = Broker::start(&[]);
    setup(&broker);
    for (name, value) in [
        ("weir-tag", "t"),
        ("weir-keys", "k"),
        ("weir-prop-color", "red"),
        ("weir-queue", "1"),
        ("weir-message-id", "0123456789ABCDEF0123456789ABCDEF"),
        ("weir-message-group", "g"),
        ("weir-delay-ms", "10"),
    ] {
        let response = RawRequest::new("POST", "/v1/topics/contract/messages:batch")
            .header(name, value)
            .json(r#"[{"body":"a"}]"#)
            .send(broker.addr())
            .unwrap();
        assert_eq!(response.status, 400, "{name}: {}", response.text());
        let error = response.json();
        assert_eq!(error["code"], "INVALID_HEADER", "{name}");
        assert!(error["message"].as_str().unwrap().contains(name), "{error}");
    }
    let accepted = RawRequest::new("POST", "/v1/topics/contract/messages:batch")
        .json(r#"[{"body":"a","tag":"t"}]"#)
        .send(broker.addr())
        .unwrap();
    assert_eq!(accepted.status, 200, "{}", accepted.text());
}

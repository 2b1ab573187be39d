//! Helpers shared by the plugin tests: the guest components the plugin workspace builds, a
//! broker started with a configuration file, a small JSON client over raw HTTP (with an
//! optional bearer token) for the module, binding, topic and group routes, bounded
//! polling, and a transaction service the `http-tx-checker` plugin asks.
//!
//! Everything goes over raw HTTP/1.1 so that the tests see exactly what the broker
//! answers: status, error code and JSON body. Every wait is bounded.
//!
//! The transaction service is a small HTTP/1.1 server on `127.0.0.1:0` on plain threads.
//! It answers `GET /tx/{transaction}` with the text the test set for that transaction
//! (`commit`, `rollback`), `404` for any other, records every request, and closes each
//! connection after its answer. It stops when dropped.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{Broker, RawRequest, RawResponse};

/// Bound on every wait for the broker or a plugin to get somewhere.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// Pause between two probes of a bounded polling loop.
pub(crate) const POLL_PAUSE: Duration = Duration::from_millis(25);

/// Most pages one queue read walks through (1000 messages each).
const MAX_PAGES: usize = 1000;

/// Most dead letters one listing reads.
const MAX_DEAD_LETTERS: usize = 1000;

/// Longest a connection to the transaction service may stay silent.
const SERVICE_IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request the transaction service reads.
const SERVICE_MAX_REQUEST: usize = 64 * 1024;

/// The components built by `./scripts/test` (`cargo build --release --target
/// wasm32-wasip2` in `plugins/`).
pub(crate) const COMPONENTS: &str = "../../plugins/target/wasm32-wasip2/release";

/// The bytes of a guest component, e.g. `component("forwarder")`.
pub(crate) fn component(name: &str) -> Vec<u8> {
    read_component(
        COMPONENTS,
        name,
        "cd plugins && cargo build --release --target wasm32-wasip2",
    )
}

/// The bytes of `<dir>/<name>.wasm` (`dir` relative to this crate); a panic says how to
/// build it when it is missing.
fn read_component(dir: &str, name: &str, build: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read the component {} ({err}); build it first: {build}",
            path.display()
        )
    })
}

/// A guest language whose plugins the suite builds: Rust's with cargo in `plugins/`, the
/// others with their SDK's `sdk-guest/<lang>/test.sh` (run by `./scripts/test`) into
/// `plugins/target/components/<lang>/`. Each builds the same plugins (`forwarder`,
/// `json-dedup`, `ack-all`) with the same configs and behaviour.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Language {
    Rust,
    Python,
    JavaScript,
    Go,
    C,
    Cpp,
    Zig,
}

impl Language {
    /// The directory of the language under `sdk-guest/` and `plugins/target/components/`.
    fn dir(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
            Language::Go => "go",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Zig => "zig",
        }
    }

    /// The script that builds the language's components: C++'s and Zig's are built by the
    /// C SDK's.
    fn builder(self) -> &'static str {
        match self {
            Language::Cpp | Language::Zig => "c",
            other => other.dir(),
        }
    }

    /// The bytes of the language's build of `plugin` (`forwarder`, `json-dedup`, ...).
    pub(crate) fn component(self, plugin: &str) -> Vec<u8> {
        if let Language::Rust = self {
            return component(&plugin.replace('-', "_"));
        }
        read_component(
            &format!("../../plugins/target/components/{}", self.dir()),
            plugin,
            &format!("sdk-guest/{}/test.sh", self.builder()),
        )
    }
}

/// `bytes` with a custom section appended: the same component behaving the same way, but
/// other bytes (another sha256, so another module version when uploaded again).
pub(crate) fn with_custom_section(bytes: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut contents = Vec::new();
    leb128(&mut contents, name.len() as u64);
    contents.extend_from_slice(name.as_bytes());
    contents.extend_from_slice(payload);
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    leb128(&mut out, contents.len() as u64);
    out.extend_from_slice(&contents);
    out
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A broker started with `--config FILE` holding `toml`, plus `extra_args`. The
/// configuration directory is kept for restarts and removed with this value.
pub(crate) struct ConfiguredBroker {
    /// The broker (dropped, and so killed, before the configuration directory).
    pub(crate) broker: Broker,
    /// Held only to be removed on drop.
    _config_dir: TempDir,
}

impl ConfiguredBroker {
    /// Writes the configuration file and starts the broker with it.
    pub(crate) fn start(toml: &str, extra_args: &[&str]) -> ConfiguredBroker {
        let config_dir = tempfile::Builder::new()
            .prefix("weir-config-")
            .tempdir()
            .expect("create a configuration directory");
        let path = config_dir.path().join("weir.toml");
        std::fs::write(&path, toml).expect("write the configuration");
        let path = path.to_str().expect("a UTF-8 temporary path").to_owned();
        let mut args = vec!["--config", path.as_str()];
        args.extend_from_slice(extra_args);
        let broker = Broker::start(&args);
        ConfiguredBroker {
            broker,
            _config_dir: config_dir,
        }
    }

    /// A client of this broker without a token.
    pub(crate) fn api(&self) -> Api {
        Api::new(self.broker.addr())
    }
}

/// Runs `probe` until it answers `Some`, pausing [`POLL_PAUSE`] between tries; panics
/// with `what` when `limit` passes first.
#[track_caller]
pub(crate) fn eventually<T>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        thread::sleep(POLL_PAUSE);
    }
}

/// A JSON client over raw HTTP/1.1, one connection per request.
#[derive(Clone, Debug)]
pub(crate) struct Api {
    addr: SocketAddr,
    token: Option<String>,
}

impl Api {
    /// A client sending no token.
    pub(crate) fn new(addr: SocketAddr) -> Api {
        Api { addr, token: None }
    }

    /// A client sending `Authorization: Bearer <token>`.
    pub(crate) fn with_token(addr: SocketAddr, token: &str) -> Api {
        Api {
            addr,
            token: Some(token.to_owned()),
        }
    }

    /// Sends `request` (with the token, if any); panics when the exchange itself fails.
    pub(crate) fn send(&self, request: RawRequest) -> RawResponse {
        let request = match &self.token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        };
        request
            .send(self.addr)
            .unwrap_or_else(|err| panic!("HTTP exchange with the broker failed: {err}"))
    }

    /// `method path` without a body.
    pub(crate) fn call(&self, method: &str, path: &str) -> RawResponse {
        self.send(RawRequest::new(method, path))
    }

    /// `GET path`.
    pub(crate) fn get(&self, path: &str) -> RawResponse {
        self.call("GET", path)
    }

    /// `DELETE path`.
    pub(crate) fn delete(&self, path: &str) -> RawResponse {
        self.call("DELETE", path)
    }

    /// `method path` with a JSON body.
    pub(crate) fn json(&self, method: &str, path: &str, body: &Value) -> RawResponse {
        self.send(RawRequest::new(method, path).json(&body.to_string()))
    }

    /// `POST path` with a JSON body.
    pub(crate) fn post(&self, path: &str, body: &Value) -> RawResponse {
        self.json("POST", path, body)
    }

    /// `PUT /v1/modules/{name}?world={world}` with the component as the body.
    pub(crate) fn upload(&self, name: &str, world: &str, bytes: &[u8]) -> RawResponse {
        self.send(
            RawRequest::new("PUT", &format!("/v1/modules/{name}?world={world}"))
                .header("content-type", "application/wasm")
                .body(bytes.to_vec()),
        )
    }

    /// Uploads a component that must be taken as a new version (`201`); answers its
    /// ModuleInfo.
    #[track_caller]
    pub(crate) fn upload_new(&self, name: &str, world: &str, bytes: &[u8]) -> Value {
        expect(self.upload(name, world, bytes), 201, "upload")
    }

    /// Creates a topic.
    #[track_caller]
    pub(crate) fn create_topic(&self, name: &str, queues: u32) {
        expect(
            self.post("/v1/topics", &json!({"name": name, "queues": queues})),
            201,
            "create topic",
        );
    }

    /// Creates a consumer group from a full spec (`{"name","topic",...}`).
    #[track_caller]
    pub(crate) fn create_group(&self, spec: &Value) {
        expect(self.post("/v1/groups", spec), 201, "create group");
    }

    /// Sends one message in the JSON form (`{"body": ...}` plus attributes); answers the
    /// send result.
    #[track_caller]
    pub(crate) fn send_message(&self, topic: &str, message: &Value) -> Value {
        expect(
            self.post(&format!("/v1/topics/{topic}/messages"), message),
            200,
            "send",
        )
    }

    /// Creates a binding (`POST /v1/bindings`); answers the BindingConfig.
    #[track_caller]
    pub(crate) fn bind(&self, spec: &Value) -> Value {
        expect(self.post("/v1/bindings", spec), 201, "bind")
    }

    /// Changes a binding (`PUT /v1/bindings/{name}`); answers the BindingConfig.
    #[track_caller]
    pub(crate) fn rebind(&self, name: &str, spec: &Value) -> Value {
        expect(
            self.json("PUT", &format!("/v1/bindings/{name}"), spec),
            200,
            "rebind",
        )
    }

    /// The BindingStatus of `name`.
    #[track_caller]
    pub(crate) fn binding(&self, name: &str) -> Value {
        expect(
            self.get(&format!("/v1/bindings/{name}")),
            200,
            "get binding",
        )
    }

    /// The total lag of a (clustering) group.
    #[track_caller]
    pub(crate) fn lag(&self, group: &str) -> u64 {
        let lag = expect(self.get(&format!("/v1/groups/{group}/lag")), 200, "lag");
        lag["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("lag without a total: {lag}"))
    }

    /// The group as `GET /v1/groups/{group}` describes it.
    #[track_caller]
    pub(crate) fn group(&self, group: &str) -> Value {
        expect(
            self.get(&format!("/v1/groups/{group}")),
            200,
            "describe group",
        )
    }

    /// Every message stored in the queues of `topic`, read by offset.
    #[track_caller]
    pub(crate) fn read_topic(&self, topic: &str) -> Vec<Value> {
        let description = expect(
            self.get(&format!("/v1/topics/{topic}")),
            200,
            "describe topic",
        );
        let queues = description["queue_offsets"]
            .as_array()
            .unwrap_or_else(|| panic!("a topic without queue_offsets: {description}"))
            .clone();
        let mut messages = Vec::new();
        for queue in queues {
            let number = queue["queue"].as_u64().expect("queue number");
            let end = queue["max_offset"].as_u64().expect("max_offset");
            let mut offset = queue["min_offset"].as_u64().expect("min_offset");
            for _ in 0..MAX_PAGES {
                if offset >= end {
                    break;
                }
                let page = expect(
                    self.get(&format!(
                        "/v1/topics/{topic}/queues/{number}/messages?offset={offset}&max=1000"
                    )),
                    200,
                    "read queue",
                );
                let got = page["messages"].as_array().cloned().unwrap_or_default();
                if got.is_empty() {
                    break;
                }
                offset = page["next_offset"].as_u64().expect("next_offset");
                messages.extend(got);
            }
        }
        messages
    }

    /// The number of messages stored in `topic`, from its description.
    #[track_caller]
    pub(crate) fn topic_messages(&self, topic: &str) -> u64 {
        let description = expect(
            self.get(&format!("/v1/topics/{topic}")),
            200,
            "describe topic",
        );
        description["messages"]
            .as_u64()
            .unwrap_or_else(|| panic!("a topic without a message count: {description}"))
    }

    /// Receives up to `max` messages from `group`, waiting up to `wait_ms`.
    #[track_caller]
    pub(crate) fn receive(&self, group: &str, max: u32, wait_ms: u64) -> Vec<Value> {
        let answer = expect(
            self.post(
                &format!("/v1/groups/{group}/receive"),
                &json!({"max": max, "wait_ms": wait_ms}),
            ),
            200,
            "receive",
        );
        answer["messages"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("a receive without messages: {answer}"))
    }

    /// Acks `receipts` and checks every one was taken.
    #[track_caller]
    pub(crate) fn ack(&self, group: &str, receipts: &[String]) {
        let answer = expect(
            self.post(
                &format!("/v1/groups/{group}/ack"),
                &json!({ "receipts": receipts }),
            ),
            200,
            "ack",
        );
        assert_eq!(
            answer["acked"].as_u64(),
            Some(receipts.len() as u64),
            "every receipt is taken: {answer}"
        );
    }

    /// Every dead letter of `group`.
    #[track_caller]
    pub(crate) fn dead_letters(&self, group: &str) -> Vec<Value> {
        let page = expect(
            self.get(&format!(
                "/v1/groups/{group}/dlq?offset=0&max={MAX_DEAD_LETTERS}"
            )),
            200,
            "list dead letters",
        );
        page["dead_letters"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("a dead-letter page without dead_letters: {page}"))
    }

    /// The `/metrics` text.
    #[track_caller]
    pub(crate) fn metrics(&self) -> String {
        let answer = self.get("/metrics");
        assert_eq!(answer.status, 200, "/metrics: {}", answer.text());
        answer.text()
    }
}

/// Checks the status of `response` and answers its JSON body (`null` for an empty one).
#[track_caller]
pub(crate) fn expect(response: RawResponse, status: u16, what: &str) -> Value {
    assert_eq!(
        response.status,
        status,
        "{what}: expected {status}, got {}: {}",
        response.status,
        response.text()
    );
    if response.body.is_empty() {
        Value::Null
    } else {
        response.json()
    }
}

/// The run state of a BindingStatus (`running`, `paused`, `quarantined`).
pub(crate) fn run_state(status: &Value) -> String {
    status["config"]["run"]["state"]
        .as_str()
        .unwrap_or_else(|| panic!("a binding status without config.run.state: {status}"))
        .to_owned()
}

/// A counter of a BindingStatus's metrics.
pub(crate) fn counter(status: &Value, name: &str) -> u64 {
    status["metrics"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("a binding status without metrics.{name}: {status}"))
}

/// Lines of a Prometheus text that are samples (not comments) and name `binding` as a
/// label value.
pub(crate) fn binding_samples<'a>(metrics: &'a str, binding: &str) -> Vec<&'a str> {
    let label = format!("\"{binding}\"");
    metrics
        .lines()
        .filter(|line| !line.starts_with('#') && line.contains(&label))
        .collect()
}

/// The value of a sample line (`name{labels} value`).
pub(crate) fn sample_value(line: &str) -> f64 {
    line.rsplit(' ')
        .next()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("a sample line without a value: {line:?}"))
}

/// What the transaction service answers for one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// `200 commit`.
    Commit,
    /// `200 rollback`.
    Rollback,
}

#[derive(Default)]
struct ServiceState {
    decisions: HashMap<String, Decision>,
    /// Request paths received, in order.
    requests: Vec<String>,
}

/// A producer's transaction service on `127.0.0.1`, asked by `http-tx-checker`.
pub(crate) struct TxService {
    addr: SocketAddr,
    state: Arc<Mutex<ServiceState>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TxService {
    /// Binds a free port on 127.0.0.1 and serves until dropped.
    pub(crate) fn start() -> TxService {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the transaction service");
        let addr = listener.local_addr().expect("service address");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let state = Arc::new(Mutex::new(ServiceState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let state = Arc::clone(&state);
                            thread::spawn(move || serve(stream, &state));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        TxService {
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// The URL prefix of the service, `http://127.0.0.1:PORT/tx/`.
    pub(crate) fn prefix(&self) -> String {
        format!("http://{}/tx/", self.addr)
    }

    /// Sets the answer for `transaction`.
    pub(crate) fn decide(&self, transaction: &str, decision: Decision) {
        self.state
            .lock()
            .unwrap()
            .decisions
            .insert(transaction.to_owned(), decision);
    }

    /// The request paths received so far.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for TxService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Answers one request and closes the connection.
fn serve(mut stream: TcpStream, state: &Mutex<ServiceState>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(SERVICE_IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(SERVICE_IO_TIMEOUT));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        match stream.read(&mut chunk) {
            Ok(n) if n > 0 && buf.len() < SERVICE_MAX_REQUEST => {
                buf.extend_from_slice(&chunk[..n]);
            }
            _ => return,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let request_line = head.split("\r\n").next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let decision = {
        let mut state = state.lock().unwrap();
        state.requests.push(format!("{method} {path}"));
        match (method, path.strip_prefix("/tx/")) {
            ("GET", Some(transaction)) => state.decisions.get(transaction).copied(),
            _ => None,
        }
    };
    let (status, body) = match decision {
        Some(Decision::Commit) => ("200 OK", "commit"),
        Some(Decision::Rollback) => ("200 OK", "rollback"),
        None => ("404 Not Found", ""),
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
}

//! Helpers shared by the scheduling tests (delayed messages, transactions, idempotent
//! sends): a broker started with a `[limits]` configuration file, reading a whole topic
//! by offset, bounded polling, and a check-back callback server.
//!
//! The callback server is a small HTTP/1.1 server on `127.0.0.1:0` written on tokio's
//! `TcpListener` (the tests have no HTTP server framework among their dependencies). It
//! answers the broker's check-back POSTs per transaction id from a script the test sets,
//! records every call, and keeps connections alive as the broker's pooled client expects.
//! Its tasks are aborted when it is dropped.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use weir_client::{Client, ClientError, Message};

use crate::support::Broker;

/// Clock granularity allowed when comparing two broker timestamps in a "not early"
/// check: both are whole milliseconds read from the system clock.
pub(crate) const CLOCK_GRANULARITY_MS: i64 = 1;

/// Pause between two probes of a bounded polling loop.
pub(crate) const POLL_PAUSE: Duration = Duration::from_millis(25);

/// Most pages one queue read walks through (1000 messages each).
const MAX_PAGES: usize = 1000;

/// Longest a callback connection stays idle before the server drops it.
const CALLBACK_IDLE: Duration = Duration::from_secs(60);

/// Largest request head or body the callback server accepts.
const CALLBACK_MAX_REQUEST: usize = 1 << 20;

/// Milliseconds since the Unix epoch on this machine's clock (the broker's clock too:
/// it runs on the same machine).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// A broker started with `--config FILE`, the file holding `[limits]` with `limits`
/// (TOML lines such as `tx_check_after_ms = 200`). The configuration directory is kept
/// for restarts and removed with this value.
pub(crate) struct ConfiguredBroker {
    /// The broker (dropped, and so killed, before the configuration directory).
    pub(crate) broker: Broker,
    /// Held only to be removed on drop.
    _config_dir: TempDir,
}

impl ConfiguredBroker {
    /// Writes the configuration file and starts the broker with it.
    pub(crate) fn start(limits: &str) -> ConfiguredBroker {
        let config_dir = tempfile::Builder::new()
            .prefix("weir-config-")
            .tempdir()
            .expect("create a configuration directory");
        let path: PathBuf = config_dir.path().join("weir.toml");
        std::fs::write(&path, format!("[limits]\n{limits}\n")).expect("write the configuration");
        let path = path.to_str().expect("a UTF-8 temporary path").to_owned();
        let broker = Broker::start(&["--config", &path]);
        ConfiguredBroker {
            broker,
            _config_dir: config_dir,
        }
    }
}

/// Runs `probe` until it answers `Some`, pausing [`POLL_PAUSE`] between tries; panics
/// with `what` when `limit` passes first.
pub(crate) async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(POLL_PAUSE).await;
    }
}

/// Every message stored in the queues of `topic`, read by offset from each queue's
/// oldest offset to its end.
pub(crate) async fn read_topic(client: &Client, topic: &str) -> Vec<Message> {
    let description = client
        .describe_topic(topic)
        .await
        .unwrap_or_else(|err| panic!("describe topic {topic}: {err}"));
    let mut messages = Vec::new();
    for queue in &description.queue_offsets {
        let mut offset = queue.min_offset;
        for _ in 0..MAX_PAGES {
            if offset >= queue.max_offset {
                break;
            }
            let page = client
                .read_queue(topic, queue.queue, offset, Some(1000))
                .await
                .unwrap_or_else(|err| panic!("read {topic}/{} at {offset}: {err}", queue.queue));
            if page.messages.is_empty() {
                break;
            }
            offset = page.next_offset;
            messages.extend(page.messages);
        }
    }
    messages
}

/// How many times each id is stored in `topic`.
pub(crate) async fn copies_by_id(client: &Client, topic: &str) -> HashMap<String, usize> {
    let mut copies = HashMap::new();
    for message in read_topic(client, topic).await {
        *copies.entry(message.id).or_default() += 1;
    }
    copies
}

/// The value of an unlabelled gauge in the broker's `/metrics` text.
pub(crate) async fn gauge(client: &Client, name: &str) -> f64 {
    let text = client.metrics().await.expect("scrape /metrics");
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = rest.strip_prefix(' ')?;
            value.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("/metrics has no gauge {name}:\n{text}"))
}

/// The code of an API error, panicking on success or another kind of error.
#[track_caller]
pub(crate) fn api_code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, code, .. }) => (status, code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// What the callback answers to one check-back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `{"state":"commit"}`.
    Commit,
    /// `{"state":"rollback"}`.
    Rollback,
    /// `{"state":"unknown"}`.
    Unknown,
    /// An error status without a body.
    Status(u16),
}

#[derive(Default)]
struct CallbackState {
    /// Per transaction, the replies still to give; the last one repeats.
    scripts: HashMap<String, VecDeque<Reply>>,
    /// Per transaction, the JSON bodies of the check-backs received, in order.
    calls: HashMap<String, Vec<Value>>,
    /// Requests that were not well-formed check-backs.
    errors: Vec<String>,
}

/// A check-back callback on `127.0.0.1`, answering per transaction id.
pub(crate) struct CallbackServer {
    addr: SocketAddr,
    state: Arc<Mutex<CallbackState>>,
    accept: JoinHandle<()>,
}

impl CallbackServer {
    /// Binds a free port on 127.0.0.1 and serves until dropped. A transaction without a
    /// script is answered `unknown`.
    pub(crate) async fn start() -> CallbackServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the callback server");
        let addr = listener.local_addr().expect("callback address");
        let state = Arc::new(Mutex::new(CallbackState::default()));
        let shared = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            // Dropped with this task when the server is dropped: aborts the connections.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                while connections.try_join_next().is_some() {}
                connections.spawn(serve(stream, Arc::clone(&shared)));
            }
        });
        CallbackServer {
            addr,
            state,
            accept,
        }
    }

    /// The URL to register as a producer group's `callback_url`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/tx-check", self.addr)
    }

    /// Sets the replies for `transaction`: one per check-back, the last one repeating.
    pub(crate) fn script(&self, transaction: &str, replies: &[Reply]) {
        assert!(!replies.is_empty(), "a script has at least one reply");
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(transaction.to_owned(), replies.iter().copied().collect());
    }

    /// The check-backs received for `transaction`, in order.
    pub(crate) fn calls(&self, transaction: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .calls
            .get(transaction)
            .cloned()
            .unwrap_or_default()
    }

    /// How many check-backs `transaction` got.
    pub(crate) fn call_count(&self, transaction: &str) -> usize {
        self.calls(transaction).len()
    }

    /// Requests that were not well-formed check-backs.
    pub(crate) fn errors(&self) -> Vec<String> {
        self.state.lock().unwrap().errors.clone()
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Serves the requests of one connection until the peer closes it or stays idle.
async fn serve(mut stream: TcpStream, state: Arc<Mutex<CallbackState>>) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(pos) = find(&buf, b"\r\n\r\n") {
                break pos;
            }
            if buf.len() > CALLBACK_MAX_REQUEST || !read_more(&mut stream, &mut buf).await {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_owned();
        let mut length = None;
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                let name = name.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    state
                        .lock()
                        .unwrap()
                        .errors
                        .push(format!("unexpected transfer-encoding in {request_line:?}"));
                    return;
                }
            }
        }
        let length = length.unwrap_or(0);
        if length > CALLBACK_MAX_REQUEST {
            return;
        }
        let end = head_end + 4 + length;
        while buf.len() < end {
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        }
        let body = buf[head_end + 4..end].to_vec();
        buf.drain(..end);
        let (status, answer) = answer(&state, &request_line, &body);
        let response = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            if status == 200 { "OK" } else { "Error" },
            answer.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads more bytes into `buf`; false at the end of the connection, on an error or
/// after [`CALLBACK_IDLE`] without data.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match tokio::time::timeout(CALLBACK_IDLE, stream.read(&mut chunk)).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        _ => false,
    }
}

/// Records one check-back and picks its answer: a status and a body.
fn answer(state: &Mutex<CallbackState>, request_line: &str, body: &[u8]) -> (u16, String) {
    let mut state = state.lock().unwrap();
    if !request_line.starts_with("POST /tx-check ") {
        state
            .errors
            .push(format!("unexpected request {request_line:?}"));
        return (404, String::new());
    }
    let call: Value = match serde_json::from_slice(body) {
        Ok(call) => call,
        Err(err) => {
            state.errors.push(format!(
                "check-back body is not JSON ({err}): {}",
                String::from_utf8_lossy(body)
            ));
            return (400, String::new());
        }
    };
    let Some(transaction) = call["transaction"].as_str().map(str::to_owned) else {
        state
            .errors
            .push(format!("check-back without a transaction: {call}"));
        return (400, String::new());
    };
    state
        .calls
        .entry(transaction.clone())
        .or_default()
        .push(call);
    let reply = match state.scripts.get_mut(&transaction) {
        Some(script) if script.len() > 1 => script.pop_front().unwrap_or(Reply::Unknown),
        Some(script) => script.front().copied().unwrap_or(Reply::Unknown),
        None => Reply::Unknown,
    };
    match reply {
        Reply::Commit => (200, r#"{"state":"commit"}"#.to_owned()),
        Reply::Rollback => (200, r#"{"state":"rollback"}"#.to_owned()),
        Reply::Unknown => (200, r#"{"state":"unknown"}"#.to_owned()),
        Reply::Status(status) => (status, String::new()),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

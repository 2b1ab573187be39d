//! Harness shared by the black-box tests: runs the real `weir` binary on a temporary data
//! directory and a free local port, and speaks raw HTTP/1.1 for the requests a well-behaved
//! client cannot produce (bad JSON, bad headers, oversize bodies).
//!
//! Every wait is bounded in count and time; a broker that does not come up fails the test
//! with its log. Brokers are killed when their [`Broker`] is dropped, so a failing test
//! never leaves a process behind.

pub(crate) mod plugins;
pub(crate) mod proxy;
pub(crate) mod scheduling;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::Duration;

use tempfile::TempDir;
use weir_client::Client;

/// The `weir` binary cargo built for this test run.
pub(crate) const WEIR: &str = env!("CARGO_BIN_EXE_weir");

/// Polls of `/healthz` before a start counts as failed, and the pause between them.
const READY_POLLS: u32 = 400;
const READY_POLL_PAUSE: Duration = Duration::from_millis(25);
/// Polls of the process after SIGTERM before it counts as hung, and the pause between them.
const EXIT_POLLS: u32 = 600;
const EXIT_POLL_PAUSE: Duration = Duration::from_millis(25);
/// Bound on one raw HTTP exchange: long enough for a module upload, which the broker
/// answers once it has compiled the component (tens of seconds for the components that
/// carry an interpreter, Python's and JavaScript's, on a busy two-core machine).
const RAW_TIMEOUT: Duration = Duration::from_secs(300);
/// The disk-usage watermark the test brokers run with (`WEIR_DISK_MAX_USED_RATIO`): the
/// suite shares its filesystem with the build's own artefacts, and a build machine at 91 %
/// must not turn every send into `DISK_FULL`. A test that passes the flag still wins.
const DISK_MAX_USED_RATIO: &str = "0.99";

/// One broker process over a data directory it keeps across restarts.
pub(crate) struct Broker {
    child: Option<Child>,
    dir: TempDir,
    addr: SocketAddr,
    extra_args: Vec<String>,
    /// The soft and hard open-file limit the broker runs under (`prlimit`), if any.
    fd_limit: Option<u64>,
    starts: u32,
}

impl Broker {
    /// Starts `weir serve` on a fresh data directory and a free port, with `extra_args`
    /// (for example `["--flush", "sync"]`), and waits until it answers `/healthz`.
    pub(crate) fn start(extra_args: &[&str]) -> Broker {
        Broker::start_with_fd_limit(extra_args, None)
    }

    /// As [`Broker::start`], with the broker's open-file limit (soft and hard) set to
    /// `fd_limit` by `prlimit`, which execs the broker (same process id).
    pub(crate) fn start_with_fd_limit(extra_args: &[&str], fd_limit: Option<u64>) -> Broker {
        let dir = tempfile::Builder::new()
            .prefix("weir-test-")
            .tempdir()
            .expect("create a temporary directory");
        let mut broker = Broker {
            child: None,
            dir,
            addr: free_local_addr(),
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            fd_limit,
            starts: 0,
        };
        broker.spawn_and_wait();
        broker
    }

    /// The data directory.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The listening address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A fresh HTTP/1.1 client (fresh so that no pooled connection outlives a restart).
    pub(crate) fn client(&self) -> Client {
        Client::builder(self.url())
            .timeout(Some(Duration::from_secs(20)))
            .build()
            .expect("build a client")
    }

    /// A fresh HTTP/2 (prior knowledge) client.
    pub(crate) fn client_h2(&self) -> Client {
        Client::builder(self.url())
            .http2(true)
            .timeout(Some(Duration::from_secs(20)))
            .build()
            .expect("build an HTTP/2 client")
    }

    /// Everything the broker processes wrote to stderr so far, all starts included.
    pub(crate) fn log(&self) -> String {
        let mut out = String::new();
        for start in 1..=self.starts {
            let path = self.log_path(start);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            out.push_str(&format!("--- broker start #{start} ---\n{text}"));
        }
        out
    }

    /// The process id of the running broker.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("the broker is running").id()
    }

    /// `kill -9`: the process gets no chance to flush or clean up.
    pub(crate) fn kill_9(&mut self) {
        let mut child = self.child.take().expect("the broker is running");
        // `Child::kill` sends SIGKILL on Unix.
        child.kill().expect("SIGKILL the broker");
        let status = child.wait().expect("reap the broker");
        assert!(!status.success(), "a killed broker cannot exit 0");
    }

    /// SIGTERM, then waits (bounded) for the process to exit; returns its exit status.
    pub(crate) fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the broker is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM failed");
        for _ in 0..EXIT_POLLS {
            if let Some(status) = child.try_wait().expect("poll the broker") {
                return status;
            }
            thread::sleep(EXIT_POLL_PAUSE);
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the broker did not exit within {:?} of SIGTERM\n{}",
            EXIT_POLL_PAUSE * EXIT_POLLS,
            self.log()
        );
    }

    /// Starts the broker again on the same data directory, port and flags.
    pub(crate) fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "stop or kill the broker before restarting it"
        );
        self.spawn_and_wait();
    }

    fn log_path(&self, start: u32) -> PathBuf {
        self.dir.path().join(format!("broker-{start}.log"))
    }

    fn spawn_and_wait(&mut self) {
        self.starts += 1;
        let log = File::create(self.log_path(self.starts)).expect("create the broker log");
        let mut command = match self.fd_limit {
            Some(limit) => {
                let mut prlimit = Command::new("prlimit");
                prlimit.arg(format!("--nofile={limit}:{limit}")).arg(WEIR);
                prlimit
            }
            None => Command::new(WEIR),
        };
        command
            .arg("serve")
            .arg("--data")
            .arg(self.data_dir())
            .arg("--listen")
            .arg(self.addr.to_string())
            .args(&self.extra_args)
            .env_remove("WEIR_CONFIG")
            .env("WEIR_DISK_MAX_USED_RATIO", DISK_MAX_USED_RATIO)
            .env("WEIR_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        self.child = Some(command.spawn().expect("spawn weir serve"));
        for _ in 0..READY_POLLS {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().expect("poll the broker"))
            {
                self.child = None;
                panic!("the broker exited at start with {status}\n{}", self.log());
            }
            if get(self.addr, "/healthz").is_ok_and(|response| response.status == 200) {
                return;
            }
            thread::sleep(READY_POLL_PAUSE);
        }
        panic!(
            "the broker did not answer /healthz with 200 within {:?}\n{}",
            READY_POLL_PAUSE * READY_POLLS,
            self.log()
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            eprintln!("{}", self.log());
        }
    }
}

/// A free port on 127.0.0.1 (bound, then released for the broker to take).
pub(crate) fn free_local_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}

/// Runs the CLI (`weir ARGS...`) to completion with `stdin` as its input.
pub(crate) fn run_cli(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(WEIR)
        .args(args)
        .env_remove("WEIR_SERVER")
        .env_remove("WEIR_CONFIG")
        .env_remove("WEIR_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the weir CLI");
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = wait_bounded(child, Duration::from_secs(30));
    let _ = writer.join();
    output
}

/// Asserts that `weir ARGS` succeeded; the message shows both streams when it did not.
#[track_caller]
pub(crate) fn assert_cli_succeeded(args: &[&str], output: &Output) {
    assert!(
        output.status.success(),
        "weir {args:?} failed with {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts that `weir ARGS` failed with exit code 1, as a refused command does; returns
/// its stderr.
#[track_caller]
pub(crate) fn assert_cli_exit_1(args: &[&str], output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "weir {args:?} exits 1\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits for `child`, whose stdout and stderr are piped, and returns its output; kills it
/// and fails the test after `limit`.
pub(crate) fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let pause = Duration::from_millis(10);
    let polls = limit.as_millis() / pause.as_millis();
    for _ in 0..polls {
        if let Some(status) = child.try_wait().expect("poll the child process") {
            return Output {
                status,
                stdout: out_reader.join().expect("stdout reader"),
                stderr: err_reader.join().expect("stderr reader"),
            };
        }
        thread::sleep(pause);
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the child process did not finish within {limit:?}");
}

/// An answer read off the wire by the raw client.
#[derive(Debug, Clone)]
pub(crate) struct RawResponse {
    /// The status code.
    pub(crate) status: u16,
    /// Header names (lower-cased) and values, in order.
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    /// The body (`Content-Length` bytes, or up to the end of the connection).
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    /// The value of a header, as text.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "answer {} is not JSON ({err}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text (lossy).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw HTTP/1.1 request: method, path, extra headers and a body. `Host`,
/// `Content-Length` (unless given) and `Connection: close` are added.
pub(crate) struct RawRequest {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl RawRequest {
    /// A request without headers or body.
    pub(crate) fn new(method: &str, path: &str) -> RawRequest {
        RawRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header; the value is sent byte for byte (it may be invalid UTF-8).
    pub(crate) fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> RawRequest {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    /// Sets the body.
    pub(crate) fn body(mut self, body: impl Into<Vec<u8>>) -> RawRequest {
        self.body = body.into();
        self
    }

    /// Sets a JSON body with its content type.
    pub(crate) fn json(self, body: &str) -> RawRequest {
        self.header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
    }

    /// The bytes on the wire.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nhost: localhost\r\n",
            self.method, self.path
        )
        .into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Sends the request to `addr` and reads the answer.
    pub(crate) fn send(&self, addr: SocketAddr) -> io::Result<RawResponse> {
        exchange(addr, self.encode())
    }
}

/// `GET path` over a fresh connection.
pub(crate) fn get(addr: SocketAddr, path: &str) -> io::Result<RawResponse> {
    RawRequest::new("GET", path).send(addr)
}

/// Writes `request` and reads one answer. The request is written from another thread so
/// that a server answering early (413, 431) and closing is read rather than deadlocked on.
pub(crate) fn exchange(addr: SocketAddr, request: Vec<u8>) -> io::Result<RawResponse> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(RAW_TIMEOUT))?;
    stream.set_write_timeout(Some(RAW_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let write = thread::spawn(move || {
        // A server that answers before reading the whole body may close or reset the
        // connection under the writer; that is not an error of the exchange.
        let _ = writer.write_all(&request);
        let _ = writer.flush();
    });
    let answer = read_response(&stream);
    let _ = stream.shutdown(Shutdown::Both);
    let _ = write.join();
    answer
}

/// Reads one answer off `stream` (head, then `Content-Length` bytes or up to the close).
pub(crate) fn read_response(mut stream: &TcpStream) -> io::Result<RawResponse> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed before a complete answer head: {:?}",
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.push((
                name.trim().to_ascii_lowercase(),
                value.trim().as_bytes().to_vec(),
            ));
        }
    }
    let mut body = buf[head_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<usize>().ok());
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case(b"chunked"));
    match length {
        Some(length) => {
            while body.len() < length {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("body cut at {} of {length} bytes", body.len()),
                    ));
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(length);
        }
        None => {
            // Read to the end of the connection (we asked for `Connection: close`).
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                    Err(err) if !body.is_empty() || status >= 400 => {
                        let _ = err;
                        break;
                    }
                    Err(err) => return Err(err),
                }
            }
            if chunked {
                body = dechunk(&body)?;
            }
        }
    }
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut input: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(input, b"\r\n").ok_or_else(|| io::Error::other("bad chunk"))?;
        let size_text = std::str::from_utf8(&input[..line_end]).map_err(io::Error::other)?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(io::Error::other)?;
        input = &input[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(
            input
                .get(..size)
                .ok_or_else(|| io::Error::other("short chunk"))?,
        );
        input = input.get(size + 2..).unwrap_or_default();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Asserts that `response` is the documented error: this status, a JSON body with this
/// `code` and a non-empty `message`.
#[track_caller]
pub(crate) fn assert_error(response: &RawResponse, status: u16, code: &str) {
    assert_error_in(response, status, &[code]);
}

/// Like [`assert_error`], for the cases where the contract allows more than one code.
#[track_caller]
pub(crate) fn assert_error_in(response: &RawResponse, status: u16, codes: &[&str]) {
    assert_eq!(
        response.status,
        status,
        "expected status {status} ({codes:?}), got {}: {}",
        response.status,
        response.text()
    );
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "error answers are JSON, got content-type {content_type:?}: {}",
        response.text()
    );
    let body = response.json();
    let code = body["code"].as_str().unwrap_or_else(|| {
        panic!("error body has no string `code`: {body}");
    });
    assert!(
        codes.contains(&code),
        "expected code {codes:?}, got {code}: {body}"
    );
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("error body has no string `message`: {body}"));
    assert!(!message.is_empty(), "error message is empty: {body}");
}

/// Asserts that a client call failed with the documented API error.
#[track_caller]
pub(crate) fn assert_api_error<T: std::fmt::Debug>(
    result: Result<T, weir_client::ClientError>,
    status: u16,
    code: &str,
) {
    match result {
        Err(weir_client::ClientError::Api {
            status: got_status,
            code: got_code,
            message,
        }) => {
            assert_eq!(
                (got_status, got_code.as_str()),
                (status, code),
                "unexpected error: {message}"
            );
            assert!(!message.is_empty(), "error message is empty");
        }
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}

/// The seed of a randomized test: `WEIR_TEST_SEED` when set (to replay a failure), a
/// fresh random one otherwise. Tests print it before they start.
pub(crate) fn seed() -> u64 {
    match std::env::var("WEIR_TEST_SEED") {
        Ok(text) => text.parse().expect("WEIR_TEST_SEED is a u64"),
        Err(_) => rand::RngCore::next_u64(&mut rand::rng()),
    }
}

/// A multi-threaded runtime for tests that drive many clients at once.
pub(crate) fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("build a runtime")
}

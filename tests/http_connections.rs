//! Connection hygiene of the real `weir` binary: idle, half-open and slow connections are
//! shed by the timeouts and the connection cap while a well-behaved client keeps sending
//! and consuming; the broker runs under a low open-file limit and never reaches it, so the
//! store is never starved of descriptors. Long polls outlive the idle timeout, and errors
//! of the connection layer (a stalled body, a broken or oversize head) are JSON errors.
//!
//! Every wait is bounded; the attacks are plain sockets of this process.

use crate::support;

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::{Broker, RawRequest, RawResponse, assert_error};

/// The open-file limit (soft and hard) the broker runs under in the flood test.
const FD_LIMIT: u64 = 1024;
/// Short timeouts, so that shedding happens within the test's bounds.
const HTTP_CONFIG: &str = "[http]\n\
    header_read_timeout_ms = 1000\n\
    idle_timeout_ms = 2000\n\
    body_read_timeout_ms = 1000\n\
    min_body_bytes_per_sec = 1024\n";
/// Connections of each attack kind; together well above [`FD_LIMIT`].
const BARE: usize = 1500;
const PARTIAL_HEADS: usize = 400;
const HALF_BODIES: usize = 200;
/// How long the test waits for the broker to close every attacking connection.
const SHED_BOUND: Duration = Duration::from_secs(60);
/// How much resident memory may stay above its level before the flood.
const RSS_SLACK_KIB: u64 = 64 * 1024;
/// Bound on the good client's rounds, whatever happens.
const MAX_ROUNDS: usize = 100_000;

const TOPIC: &str = "hygiene";
const GROUP: &str = "hygiene-readers";

/// A configuration file with [`HTTP_CONFIG`], kept for the broker's life.
struct ConfigFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn config_file() -> ConfigFile {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("weir.toml");
    std::fs::write(&path, HTTP_CONFIG).expect("write the configuration");
    ConfigFile { _dir: dir, path }
}

fn start(config: &ConfigFile, fd_limit: Option<u64>) -> Broker {
    let path = config.path.to_str().expect("a UTF-8 path");
    Broker::start_with_fd_limit(&["--config", path], fd_limit)
}

fn send(addr: SocketAddr, request: RawRequest) -> io::Result<RawResponse> {
    request.send(addr)
}

fn must(addr: SocketAddr, request: RawRequest, status: u16) -> serde_json::Value {
    let response = send(addr, request).expect("an answer");
    assert_eq!(response.status, status, "{}", response.text());
    if response.body.is_empty() {
        serde_json::Value::Null
    } else {
        response.json()
    }
}

fn create_topic_and_group(addr: SocketAddr) {
    must(
        addr,
        RawRequest::new("POST", "/v1/topics").json(&format!(r#"{{"name":"{TOPIC}","queues":2}}"#)),
        201,
    );
    must(
        addr,
        RawRequest::new("POST", "/v1/groups").json(&format!(
            r#"{{"name":"{GROUP}","topic":"{TOPIC}","from":"earliest"}}"#
        )),
        201,
    );
}

fn send_message(addr: SocketAddr, body: &str) -> io::Result<RawResponse> {
    send(
        addr,
        RawRequest::new("POST", &format!("/v1/topics/{TOPIC}/messages"))
            .header("content-type", "text/plain")
            .body(body.as_bytes().to_vec()),
    )
}

/// Receives what is ready (no wait) and acks it; returns the bodies.
fn receive_and_ack(addr: SocketAddr) -> io::Result<Vec<String>> {
    let received = send(
        addr,
        RawRequest::new("POST", &format!("/v1/groups/{GROUP}/receive"))
            .json(r#"{"max":64,"wait_ms":0}"#),
    )?;
    if received.status != 200 {
        return Err(io::Error::other(format!(
            "receive answered {}: {}",
            received.status,
            received.text()
        )));
    }
    let json = received.json();
    let messages = json["messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let receipts: Vec<_> = messages.iter().map(|m| m["receipt"].clone()).collect();
    let acked = send(
        addr,
        RawRequest::new("POST", &format!("/v1/groups/{GROUP}/ack"))
            .json(&serde_json::json!({ "receipts": receipts }).to_string()),
    )?;
    if acked.status != 200 {
        return Err(io::Error::other(format!(
            "ack answered {}: {}",
            acked.status,
            acked.text()
        )));
    }
    Ok(messages
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// What the well-behaved client did while the broker was flooded.
#[derive(Default)]
struct GoodClient {
    sent: Vec<String>,
    received: Vec<String>,
    errors: Vec<String>,
}

/// Sends a message per round on a fresh connection, and every fourth round receives and
/// acks, until `stop`.
fn run_good_client(addr: SocketAddr, stop: &AtomicBool) -> GoodClient {
    let mut client = GoodClient::default();
    for round in 0..MAX_ROUNDS {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let body = format!("good-{round}");
        match send_message(addr, &body) {
            Ok(answer) if answer.status == 200 => client.sent.push(body),
            Ok(answer) => {
                client
                    .errors
                    .push(format!("send {round}: {} {}", answer.status, answer.text()))
            }
            Err(err) => client.errors.push(format!("send {round}: {err}")),
        }
        if round % 4 == 3 {
            match receive_and_ack(addr) {
                Ok(bodies) => client.received.extend(bodies),
                Err(err) => client.errors.push(format!("receive {round}: {err}")),
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    client
}

/// Anonymous resident memory of a process (heap and stacks, not the mapped commitlog),
/// KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon in /proc/PID/status")
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// The value of one sample in the Prometheus text of `/metrics`.
fn metric(addr: SocketAddr, sample: &str) -> u64 {
    let text = must_text(addr, "/metrics");
    text.lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == sample).then(|| value.parse::<f64>().ok())?
        })
        .map(|value| value as u64)
        .unwrap_or_else(|| panic!("{sample} is missing from /metrics:\n{text}"))
}

fn must_text(addr: SocketAddr, path: &str) -> String {
    let response = support::get(addr, path).expect("an answer");
    assert_eq!(response.status, 200, "{path}: {}", response.text());
    response.text()
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&addr, Duration::from_secs(10))
}

/// How an attacking connection ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The server closed it (EOF or reset) after answering with this status, if any.
    Closed(Option<u16>),
    /// Still open when the bound ran out.
    Open,
}

/// Reads until the server closes the connection or `deadline` passes.
fn wait_for_close(mut stream: &TcpStream, deadline: Instant) -> End {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return End::Open;
        }
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .expect("set a read timeout");
        match stream.read(&mut chunk) {
            Ok(0) => return End::Closed(status_of(&seen)),
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return End::Open;
            }
            Err(_) => return End::Closed(status_of(&seen)),
        }
    }
}

fn status_of(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[test]
fn a_flood_of_idle_and_slow_connections_is_shed_while_a_client_keeps_working() {
    // This process holds every attacking socket: lift its own soft limit first.
    let _ = weir_api::connection::raise_fd_limit();
    let config = config_file();
    let broker = start(&config, Some(FD_LIMIT));
    let addr = broker.addr();
    let pid = broker.pid();
    create_topic_and_group(addr);
    for n in 0..20 {
        let warm = send_message(addr, &format!("warm-{n}")).expect("a warm-up send");
        assert_eq!(warm.status, 200, "{}", warm.text());
    }
    let rss_before = rss_kib(pid);
    let cap = metric(addr, "weir_http_connection_limit");
    assert!(
        cap < FD_LIMIT,
        "the connection cap ({cap}) stays below the open-file limit ({FD_LIMIT})"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let good = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || run_good_client(addr, &stop))
    };

    let mut bare = Vec::new();
    let mut connect_errors = 0usize;
    for _ in 0..BARE {
        match connect(addr) {
            Ok(stream) => bare.push(stream),
            Err(_) => connect_errors += 1,
        }
    }
    let mut partial = Vec::new();
    for _ in 0..PARTIAL_HEADS {
        let Ok(mut stream) = connect(addr) else {
            connect_errors += 1;
            continue;
        };
        // A request head that never ends.
        let _ = stream.write_all(
            format!("POST /v1/topics/{TOPIC}/messages HTTP/1.1\r\nhost: x\r\n").as_bytes(),
        );
        partial.push(stream);
    }
    let mut half = Vec::new();
    for _ in 0..HALF_BODIES {
        let Ok(mut stream) = connect(addr) else {
            connect_errors += 1;
            continue;
        };
        // A body within the send limit of which two bytes ever arrive (a declared length
        // over the limit is refused at once with 413).
        let _ = stream.write_all(
            format!(
                "POST /v1/topics/{TOPIC}/messages HTTP/1.1\r\nhost: x\r\n\
                 content-type: text/plain\r\ncontent-length: 4000000\r\n\r\nab"
            )
            .as_bytes(),
        );
        half.push(stream);
    }
    let peak_fds = open_fds(pid);
    let rss_peak = rss_kib(pid);

    let deadline = Instant::now() + SHED_BOUND;
    let bare_ends: Vec<End> = bare.iter().map(|s| wait_for_close(s, deadline)).collect();
    let partial_ends: Vec<End> = partial
        .iter()
        .map(|s| wait_for_close(s, deadline))
        .collect();
    let half_ends: Vec<End> = half.iter().map(|s| wait_for_close(s, deadline)).collect();
    stop.store(true, Ordering::Release);
    let client = good.join().expect("the good client thread");
    drop((bare, partial, half));

    let still_open = |ends: &[End]| ends.iter().filter(|e| **e == End::Open).count();
    assert_eq!(
        still_open(&bare_ends),
        0,
        "bare connections are closed by the broker"
    );
    assert_eq!(
        still_open(&partial_ends),
        0,
        "slow heads are closed by the broker"
    );
    assert_eq!(
        still_open(&half_ends),
        0,
        "half-sent bodies are closed by the broker"
    );
    assert!(
        half_ends.iter().all(|e| *e == End::Closed(Some(408))),
        "a stalled body is answered 408: {half_ends:?}"
    );
    assert!(
        client.errors.is_empty(),
        "the good client saw no error ({} of them): {:?}",
        client.errors.len(),
        &client.errors[..client.errors.len().min(10)]
    );
    assert!(
        !client.sent.is_empty(),
        "the good client sent during the flood"
    );

    // The broker shed every attacker itself and never ran out of descriptors.
    let shed: u64 = ["idle", "header", "evicted"]
        .iter()
        .map(|reason| {
            metric(
                addr,
                &format!("weir_http_connections_shed_total{{reason=\"{reason}\"}}"),
            )
        })
        .sum();
    let attackers = (BARE + PARTIAL_HEADS - connect_errors.min(BARE + PARTIAL_HEADS)) as u64;
    assert!(
        shed >= attackers,
        "{shed} connections shed, {attackers} attacked"
    );
    assert_eq!(
        metric(addr, "weir_http_body_timeouts_total"),
        HALF_BODIES as u64
    );
    assert_eq!(
        metric(addr, "weir_http_accept_errors_total"),
        0,
        "accept never failed (no EMFILE)"
    );
    assert_eq!(metric(addr, "weir_http_connections_refused_total"), 0);

    // Healthy, not poisoned: sends work and everything sent is consumed exactly once.
    let health = support::get(addr, "/healthz").expect("healthz answers");
    assert_eq!(health.status, 200, "{}", health.text());
    let after = send_message(addr, "after-the-flood").expect("a send after the flood");
    assert_eq!(after.status, 200, "{}", after.text());
    let mut received = client.received.clone();
    for _ in 0..1000 {
        let bodies = receive_and_ack(addr).expect("receive after the flood");
        if bodies.is_empty() {
            break;
        }
        received.extend(bodies);
    }
    let received: HashSet<String> = received.into_iter().collect();
    for body in client.sent.iter().chain([&"after-the-flood".to_owned()]) {
        assert!(received.contains(body), "{body} was sent and is consumed");
    }
    let log = broker.log();
    assert!(
        !log.contains("poisoned"),
        "the store was never poisoned:\n{log}"
    );

    let rss_after = rss_kib(pid);
    eprintln!(
        "cap {cap}, peak fds {peak_fds}, rss before {rss_before} KiB, peak {rss_peak} KiB, \
         after {rss_after} KiB; good client sent {} and received {} messages; \
         {connect_errors} connects failed",
        client.sent.len(),
        received.len()
    );
    assert!(
        rss_after <= rss_before + RSS_SLACK_KIB,
        "memory returns near its start: {rss_before} KiB before, {rss_after} KiB after"
    );
    assert!(
        (peak_fds as u64) < FD_LIMIT,
        "{peak_fds} descriptors open at the peak"
    );
}

#[test]
fn long_polls_outlive_the_idle_timeout_and_idle_keep_alives_are_closed() {
    let config = config_file();
    let broker = start(&config, None);
    let addr = broker.addr();
    create_topic_and_group(addr);

    // A receive waiting 4 s on an empty group, twice the idle timeout, is answered.
    let polled = must(
        addr,
        RawRequest::new("POST", &format!("/v1/groups/{GROUP}/receive"))
            .json(r#"{"max":1,"wait_ms":4000}"#),
        200,
    );
    assert_eq!(polled["messages"], serde_json::json!([]));

    // A keep-alive connection answered once, then left idle, is closed by the broker.
    let mut stream = connect(addr).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("write a request");
    let end = wait_for_close(&stream, Instant::now() + Duration::from_secs(30));
    assert_eq!(end, End::Closed(Some(200)));
    assert!(metric(addr, "weir_http_connections_shed_total{reason=\"idle\"}") >= 1);
}

#[test]
fn the_last_request_a_connection_may_carry_is_answered_with_connection_close() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("weir.toml");
    std::fs::write(&path, "[http]\nmax_requests_per_connection = 3\n").expect("the config");
    let broker = Broker::start(&["--config", path.to_str().expect("a UTF-8 path")]);
    let addr = broker.addr();

    let mut stream = connect(addr).expect("connect");
    for n in 1..=3 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .expect("write a request");
        let answer = read_answer(&stream);
        assert_eq!(answer.status, 200, "answer {n}: {}", answer.text());
        // The client learns from the answer itself that it must not send another.
        let close = answer.header("connection").as_deref() == Some("close");
        assert_eq!(close, n == 3, "answer {n}: {:?}", answer.headers);
    }
    let end = wait_for_close(&stream, Instant::now() + Duration::from_secs(20));
    assert_eq!(end, End::Closed(None), "closed after the last answer");
    assert_eq!(
        metric(addr, "weir_http_connection_request_limit_total"),
        1,
        "{}",
        must_text(addr, "/metrics")
    );
}

#[test]
fn slow_bodies_are_cut_off_with_a_json_408_and_nothing_is_stored() {
    let config = config_file();
    let broker = start(&config, None);
    let addr = broker.addr();
    create_topic_and_group(addr);
    let head = |length: usize| {
        format!(
            "POST /v1/topics/{TOPIC}/messages HTTP/1.1\r\nhost: x\r\nweir-queue: 0\r\n\
             content-type: text/plain\r\ncontent-length: {length}\r\n\r\n"
        )
    };

    // Ten bytes of a hundred, then silence.
    let mut stalled = connect(addr).expect("connect");
    stalled
        .write_all(format!("{}0123456789", head(100)).as_bytes())
        .expect("write");
    let answer = read_answer(&stalled);
    assert_error(&answer, 408, "REQUEST_TIMEOUT");

    // A byte every 200 ms never pauses for the timeout, but averages far below the
    // minimum rate.
    let mut trickle = connect(addr).expect("connect");
    trickle.write_all(head(10_000).as_bytes()).expect("write");
    let writer = {
        let mut trickle = trickle.try_clone().expect("clone the stream");
        thread::spawn(move || {
            for _ in 0..100 {
                if trickle.write_all(b"x").is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let answer = read_answer(&trickle);
    assert_error(&answer, 408, "REQUEST_TIMEOUT");
    drop(trickle);
    writer.join().expect("the trickling writer");

    // Neither partial body was stored: the next message on queue 0 takes offset 0.
    let sent = must(
        addr,
        RawRequest::new("POST", &format!("/v1/topics/{TOPIC}/messages"))
            .header("content-type", "text/plain")
            .header("weir-queue", "0")
            .body(b"whole".to_vec()),
        200,
    );
    assert_eq!(
        (sent["queue"].as_u64(), sent["offset"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(metric(addr, "weir_http_body_timeouts_total"), 2);
}

#[test]
fn broken_and_oversize_request_heads_get_the_json_error() {
    let config = config_file();
    let broker = start(&config, None);
    let addr = broker.addr();

    let cases: [(&[u8], u16, &str); 3] = [
        (
            b"GET /healthz HTTP/1.1\r\nhost: x\r\nbad\x01name: y\r\n\r\n",
            400,
            "MALFORMED_REQUEST",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nhost: x\r\nx: a\rb\r\n\r\n",
            400,
            "MALFORMED_REQUEST",
        ),
        (b"", 431, "HEADERS_TOO_LARGE"),
    ];
    for (raw, status, code) in cases {
        let request = if raw.is_empty() {
            let filler = "y".repeat(1000);
            let mut request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n".to_vec();
            for n in 0..80 {
                request.extend_from_slice(format!("x-filler-{n}: {filler}\r\n").as_bytes());
            }
            request.extend_from_slice(b"\r\n");
            request
        } else {
            raw.to_vec()
        };
        let answer = support::exchange(addr, request).expect("an answer");
        assert_error(&answer, status, code);
        assert_eq!(answer.header("connection").as_deref(), Some("close"));
    }
    assert_eq!(metric(addr, "weir_http_parse_errors_total"), 3);
    let health = support::get(addr, "/healthz").expect("healthz");
    assert_eq!(health.status, 200);
}

/// Reads one answer off a connection whose request was written by hand.
fn read_answer(stream: &TcpStream) -> RawResponse {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("set a read timeout");
    support::read_response(stream).expect("a complete answer")
}

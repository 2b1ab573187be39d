//! A loopback TCP proxy the test controls, between a client and the broker: per
//! connection it passes bytes through or misbehaves on purpose, so that producers can be
//! tested against lost requests, stalls and answers cut on their way back.
//!
//! The proxy runs on its own thread and runtime (so synchronous tests and CLI runs can
//! use it), accepts on 127.0.0.1 only, and chooses each connection's [`Fault`] from a
//! scripted list first, then from a seeded random mix, so a run is reproducible up to
//! the order in which connections arrive. Every wait is bounded.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The longest any proxied connection lives, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// How long the proxy waits for the first bytes of a request or an answer.
const FIRST_BYTES_WAIT: Duration = Duration::from_secs(10);

/// What the proxy does with one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Passes bytes both ways.
    Pass,
    /// Reads the start of the request, then closes: the broker never sees it.
    DropRequest,
    /// Reads the request and holds it, never forwarding it, until the client gives up
    /// (or the stall bound passes): the client's timeout fires.
    Stall,
    /// Forwards the request, waits for the broker's answer to start (so the broker has
    /// acted on it), then closes the client's side after passing only a few bytes.
    CutAnswer,
    /// Answers `503` with `Retry-After: 0` itself, never forwarding the request.
    Busy,
}

const FAULTS: [Fault; 5] = [
    Fault::Pass,
    Fault::DropRequest,
    Fault::Stall,
    Fault::CutAnswer,
    Fault::Busy,
];

/// Weights of each fault in the random mix, in [`FAULTS`] order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultMix {
    pub(crate) pass: u32,
    pub(crate) drop_request: u32,
    pub(crate) stall: u32,
    pub(crate) cut_answer: u32,
    pub(crate) busy: u32,
}

impl FaultMix {
    /// Every connection passes.
    pub(crate) fn none() -> FaultMix {
        FaultMix {
            pass: 1,
            drop_request: 0,
            stall: 0,
            cut_answer: 0,
            busy: 0,
        }
    }

    fn weights(&self) -> [u32; 5] {
        [
            self.pass,
            self.drop_request,
            self.stall,
            self.cut_answer,
            self.busy,
        ]
    }
}

struct Chooser {
    script: Vec<Fault>,
    rng: StdRng,
    mix: FaultMix,
}

impl Chooser {
    fn next(&mut self) -> Fault {
        if !self.script.is_empty() {
            return self.script.remove(0);
        }
        let weights = self.mix.weights();
        let total: u32 = weights.iter().sum();
        let mut pick = self.rng.random_range(0..total.max(1));
        for (fault, weight) in FAULTS.iter().zip(weights) {
            if pick < weight {
                return *fault;
            }
            pick -= weight;
        }
        Fault::Pass
    }
}

/// A running proxy; stopped when dropped.
pub(crate) struct Proxy {
    addr: SocketAddr,
    counts: Arc<[AtomicU64; 5]>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to `upstream` whose first connections get the `script`ed faults, and the
    /// others faults drawn from `mix` with an RNG seeded with `seed`. A stalled
    /// connection is held at most `stall`.
    pub(crate) fn start(
        upstream: SocketAddr,
        script: Vec<Fault>,
        mix: FaultMix,
        seed: u64,
        stall: Duration,
    ) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the proxy's address");
        let counts: Arc<[AtomicU64; 5]> = Arc::new(Default::default());
        let chooser = Arc::new(Mutex::new(Chooser {
            script,
            rng: StdRng::seed_from_u64(seed),
            mix,
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let thread_counts = counts.clone();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the proxy's runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("a tokio listener");
                tokio::pin!(stopped);
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((client, _)) = accepted else { continue };
                            let fault = chooser.lock().expect("the chooser").next();
                            let index = FAULTS.iter().position(|f| *f == fault).unwrap_or(0);
                            thread_counts[index].fetch_add(1, Ordering::Relaxed);
                            tokio::spawn(async move {
                                let _ = tokio::time::timeout(
                                    CONNECTION_LIFETIME,
                                    serve(client, upstream, fault, stall),
                                )
                                .await;
                            });
                        }
                    }
                }
            });
            // Dropping the runtime ends the connections still open.
        });
        Proxy {
            addr,
            counts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many connections got `fault` so far.
    pub(crate) fn count(&self, fault: Fault) -> u64 {
        let index = FAULTS.iter().position(|f| *f == fault).unwrap_or(0);
        self.counts[index].load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, fault: Fault, stall: Duration) {
    let mut buf = vec![0u8; 64 * 1024];
    match fault {
        Fault::Pass => {
            let Ok(mut broker) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
        }
        Fault::DropRequest => {
            let _ = tokio::time::timeout(FIRST_BYTES_WAIT, client.read(&mut buf)).await;
        }
        Fault::Stall => {
            let hold = async {
                // Read and discard until the client closes.
                while let Ok(n) = client.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(stall, hold).await;
        }
        Fault::CutAnswer => {
            let Ok(broker) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_broker, mut to_broker) = broker.into_split();
            let forward = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_client, &mut to_broker).await;
                // Keep the broker's side open until the answer started.
                to_broker
            });
            let mut answer = [0u8; 4096];
            if let Ok(Ok(n)) =
                tokio::time::timeout(FIRST_BYTES_WAIT, from_broker.read(&mut answer)).await
            {
                // A few bytes of the status line, never a whole answer.
                let _ = to_client.write_all(&answer[..n.min(7)]).await;
            }
            forward.abort();
            // Dropping both halves closes the client's connection mid-answer.
        }
        Fault::Busy => {
            let _ = tokio::time::timeout(FIRST_BYTES_WAIT, client.read(&mut buf)).await;
            let body = r#"{"code":"BUSY","message":"the proxy is busy"}"#;
            let answer = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                 retry-after: 0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(answer.as_bytes()).await;
            let _ = client.shutdown().await;
        }
    }
}

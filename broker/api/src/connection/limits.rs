//! The limits every HTTP connection lives under: how long a client may take to send a
//! request head or body, how long a connection may sit idle, how many connections and
//! requests one listener serves. Every limit here bounds something a client controls.

use std::time::Duration;

/// Default [`ConnectionLimits::header_read_timeout`]: a client has this long from the
/// first byte of a request to its last header. Slow-header ("slowloris") clients are cut
/// off after it; a real client sends its head in one packet.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ConnectionLimits::idle_timeout`]: a connection with no request in flight and
/// no traffic for this long is closed (keep-alive idle, or a bare connection that never
/// sent a byte).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ConnectionLimits::body_read_timeout`]: the longest pause between two chunks
/// of a request body.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Default [`ConnectionLimits::min_body_bytes_per_sec`]: after the first
/// `body_read_timeout`, a body must keep arriving at least this fast on average, so that a
/// client trickling one byte per pause cannot hold a connection for hours.
pub const DEFAULT_MIN_BODY_BYTES_PER_SEC: u64 = 1024;
/// Default [`ConnectionLimits::write_timeout`]: the longest a response write may stay
/// blocked on a client that does not read.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ConnectionLimits::max_connections`]. The effective cap is lower when the
/// process's file descriptor limit is (see [`ConnectionLimits::fd_reserve`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default [`ConnectionLimits::fd_reserve`]: file descriptors kept free for the store
/// (segments, consume queues, index, checkpoint), plugin artifacts and logs, whatever the
/// clients do.
pub const DEFAULT_FD_RESERVE: usize = 256;
/// Default [`ConnectionLimits::max_requests_per_connection`]: after this many requests an
/// HTTP/1.1 connection is closed after its answer (HTTP/2: `GOAWAY`), so that no client
/// pins one connection's resources forever; clients reconnect transparently.
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: u64 = 100_000;
/// Default [`ConnectionLimits::max_concurrent_streams`] of an HTTP/2 connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 256;
/// The fewest connections the cap ever allows, whatever the descriptor budget says.
pub const MIN_CONNECTIONS: usize = 16;

/// Connection hygiene settings of one listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the first byte of a request to the end of its head.
    pub header_read_timeout: Duration,
    /// A connection without a request in flight and without traffic is closed after it.
    pub idle_timeout: Duration,
    /// The longest pause between two chunks of a request body.
    pub body_read_timeout: Duration,
    /// The slowest average a request body may arrive at, after its first
    /// `body_read_timeout`; `0` turns the check off.
    pub min_body_bytes_per_sec: u64,
    /// The longest a response write may stay blocked.
    pub write_timeout: Duration,
    /// Most connections open at once. When the cap is reached, the connection idle the
    /// longest is closed to make room; when none is idle the new one is answered `503
    /// TOO_MANY_CONNECTIONS`.
    pub max_connections: usize,
    /// File descriptors kept free below the process's limit: the effective connection cap
    /// is `min(max_connections, fd_limit - fd_reserve - descriptors used by others)`.
    pub fd_reserve: usize,
    /// Requests served on one connection before it is closed after its answer.
    pub max_requests_per_connection: u64,
    /// Concurrent streams of one HTTP/2 connection.
    pub max_concurrent_streams: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            min_body_bytes_per_sec: DEFAULT_MIN_BODY_BYTES_PER_SEC,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            fd_reserve: DEFAULT_FD_RESERVE,
            max_requests_per_connection: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
        }
    }
}

//! The open connections of a listener: each one's activity, the cap on how many may be
//! open, and who makes room when it is reached.
//!
//! Every connection has a [`ConnectionState`] that its IO wrapper, its service and its
//! task update with atomics: when bytes last moved, whether a request is in flight, since
//! when a request head has been arriving, since when a write has been blocked. The
//! connection's task turns that into its next deadline ([`ConnectionState::deadline`]).
//!
//! The cap ([`Connections::admit`]) is the smaller of the configured maximum and what the
//! file descriptor budget leaves: the process's descriptor limit less a reserve that the
//! store always keeps less the descriptors the rest of the broker holds (sampled from
//! `/proc/self/fd` at most once per [`FD_SAMPLE_INTERVAL`]). At the cap, the connection
//! idle the longest is closed to make room, so that a flood of idle or slow-header
//! connections can never lock a working client out; only when every connection has a
//! request in flight is a new one refused. The accept loop waits for evicted connections
//! to close before it accepts more ([`Connections::make_room`]), so descriptors of closing
//! connections never pile up beyond the cap.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::limits::{ConnectionLimits, MIN_CONNECTIONS};

/// The longest the accept loop waits for closing connections to make room before it
/// accepts anyway.
pub(crate) const ROOM_WAIT: Duration = Duration::from_secs(1);

/// How often the descriptors held outside connections are counted again.
pub(crate) const FD_SAMPLE_INTERVAL: Duration = Duration::from_secs(2);

/// Why a connection was closed by the server before the client was done with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shed {
    /// No request and no traffic for the idle timeout.
    Idle,
    /// A request head took longer than the header timeout.
    Header,
    /// A response write stayed blocked for the write timeout.
    Write,
    /// Closed to make room for a new connection at the cap.
    Evicted,
}

impl Shed {
    pub(crate) const ALL: [Shed; 4] = [Shed::Idle, Shed::Header, Shed::Write, Shed::Evicted];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Shed::Idle => "idle",
            Shed::Header => "header",
            Shed::Write => "write",
            Shed::Evicted => "evicted",
        }
    }

    fn index(self) -> usize {
        match self {
            Shed::Idle => 0,
            Shed::Header => 1,
            Shed::Write => 2,
            Shed::Evicted => 3,
        }
    }
}

/// Counters of a listener's connections, read by the metrics endpoint.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicUsize,
    cap: AtomicUsize,
    accepted: AtomicU64,
    refused: AtomicU64,
    accept_errors: AtomicU64,
    shed: [AtomicU64; 4],
    body_timeouts: AtomicU64,
    request_limit_reached: AtomicU64,
    parse_errors: AtomicU64,
}

/// A snapshot of [`ConnectionStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionCounts {
    /// Connections open now.
    pub open: u64,
    /// The effective cap on open connections.
    pub cap: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections answered `503 TOO_MANY_CONNECTIONS` and closed.
    pub refused: u64,
    /// Failed `accept` calls (for example `EMFILE`).
    pub accept_errors: u64,
    /// Connections closed by the server, by reason (`idle`, `header`, `write`, `evicted`).
    pub shed: Vec<(&'static str, u64)>,
    /// Request bodies cut off for arriving too slowly.
    pub body_timeouts: u64,
    /// Connections closed for reaching the per-connection request limit.
    pub request_limit_reached: u64,
    /// Requests that were not valid HTTP and got a JSON error from the connection layer.
    pub parse_errors: u64,
}

impl ConnectionStats {
    /// A snapshot of the counters.
    pub fn counts(&self) -> ConnectionCounts {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ConnectionCounts {
            open: self.open.load(Ordering::Relaxed) as u64,
            cap: self.cap.load(Ordering::Relaxed) as u64,
            accepted: load(&self.accepted),
            refused: load(&self.refused),
            accept_errors: load(&self.accept_errors),
            shed: Shed::ALL
                .iter()
                .map(|s| (s.label(), load(&self.shed[s.index()])))
                .collect(),
            body_timeouts: load(&self.body_timeouts),
            request_limit_reached: load(&self.request_limit_reached),
            parse_errors: load(&self.parse_errors),
        }
    }

    pub(crate) fn count_shed(&self, why: Shed) {
        self.shed[why.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_accept_error(&self) -> u64 {
        self.accept_errors.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn count_body_timeout(&self) {
        self.body_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_request_limit(&self) {
        self.request_limit_reached.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_parse_error(&self) {
        self.parse_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// What one connection's parts share.
#[derive(Debug)]
pub(crate) struct ConnectionState {
    clock: Instant,
    /// Requests whose answer is not yet fully handed to the connection.
    in_flight: AtomicU32,
    /// Milliseconds (since `clock`) of the last byte read or written, or of the last
    /// request's end.
    last_activity: AtomicU64,
    /// When bytes of a request not yet begun were first read; 0 when none are pending.
    head_since: AtomicU64,
    /// Since when a write has been blocked; 0 when none is.
    write_blocked_since: AtomicU64,
    requests: AtomicU64,
    /// The connection speaks HTTP/2 (its first bytes were the preface).
    http2: AtomicBool,
    /// The connection is to close now ([`Shed::Evicted`]).
    evicted: AtomicBool,
    /// The connection is to finish its requests and close (request limit).
    finish: AtomicBool,
    /// Wakes the connection's task for `evicted` or `finish`.
    pub(crate) wake: Notify,
}

/// The HTTP/2 connection preface's first bytes.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

impl ConnectionState {
    fn new(clock: Instant) -> ConnectionState {
        let state = ConnectionState {
            clock,
            in_flight: AtomicU32::new(0),
            last_activity: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            write_blocked_since: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            finish: AtomicBool::new(false),
            wake: Notify::new(),
        };
        state.last_activity.store(state.now_ms(), Ordering::Relaxed);
        state
    }

    /// Milliseconds since the registry's clock started, never 0.
    fn now_ms(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64 + 1
    }

    fn at(&self, ms: u64) -> Instant {
        self.clock + Duration::from_millis(ms.saturating_sub(1))
    }

    /// Bytes were read from the client.
    pub(crate) fn on_read(&self, bytes: &[u8]) {
        let now = self.now_ms();
        self.last_activity.store(now, Ordering::Relaxed);
        let requests = self.requests.load(Ordering::Relaxed);
        if requests == 0 && bytes.starts_with(H2_PREFACE) {
            self.http2.store(true, Ordering::Relaxed);
        }
        // An HTTP/2 connection exchanges frames (pings, window updates) between requests;
        // only its first request head is timed.
        let timed = requests == 0 || !self.http2.load(Ordering::Relaxed);
        if timed && self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self
                .head_since
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// A write made progress (`true`) or is blocked on the client (`false`).
    pub(crate) fn on_write(&self, progressed: bool) {
        if progressed {
            self.last_activity.store(self.now_ms(), Ordering::Relaxed);
            self.write_blocked_since.store(0, Ordering::Relaxed);
        } else {
            let _ = self.write_blocked_since.compare_exchange(
                0,
                self.now_ms(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// A request reached the service. Returns its number on this connection (from 1).
    pub(crate) fn begin_request(&self) -> u64 {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(0, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A request's answer was handed over in full (or the request was abandoned).
    pub(crate) fn end_request(&self) {
        self.last_activity.store(self.now_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether a request is being served.
    pub(crate) fn is_busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Asks the connection to finish what it serves and close.
    pub(crate) fn ask_to_finish(&self) {
        self.finish.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    pub(crate) fn wants_finish(&self) -> bool {
        self.finish.load(Ordering::Acquire)
    }

    /// When the connection must be closed unless something happens first, and why.
    /// While a request is in flight only a blocked write has a deadline; the result is
    /// then the earliest moment the answer could change, to look again.
    pub(crate) fn deadline(&self, limits: &ConnectionLimits) -> (Instant, Option<Shed>) {
        let blocked = self.write_blocked_since.load(Ordering::Relaxed);
        let write =
            (blocked != 0).then(|| (self.at(blocked) + limits.write_timeout, Some(Shed::Write)));
        let quiet = if self.is_busy() {
            let recheck = limits
                .idle_timeout
                .min(limits.header_read_timeout)
                .min(limits.write_timeout);
            (Instant::now() + recheck, None)
        } else {
            match self.head_since.load(Ordering::Relaxed) {
                0 => (
                    self.at(self.last_activity.load(Ordering::Relaxed)) + limits.idle_timeout,
                    Some(Shed::Idle),
                ),
                since => (
                    self.at(since) + limits.header_read_timeout,
                    Some(Shed::Header),
                ),
            }
        };
        match write {
            Some(write) if write.0 <= quiet.0 => write,
            _ => quiet,
        }
    }

    /// How long the connection has been without a request, for eviction: `None` while
    /// one is in flight.
    fn idle_since(&self) -> Option<u64> {
        if self.is_busy() {
            return None;
        }
        Some(self.last_activity.load(Ordering::Relaxed))
    }
}

/// The connections of one listener.
#[derive(Debug)]
pub(crate) struct Connections {
    limits: ConnectionLimits,
    clock: Instant,
    stats: Arc<ConnectionStats>,
    open: Mutex<HashMap<u64, Arc<ConnectionState>>>,
    next_id: AtomicU64,
    budget: Mutex<FdBudget>,
    /// Wakes a shutdown waiting for the last connection.
    pub(crate) closed: Notify,
    /// Wakes an accept loop waiting for room: a connection closed.
    released: Notify,
}

/// The answer to a new connection.
pub(crate) enum Admission {
    /// Serve it.
    Admitted(ConnectionHandle),
    /// Answer `503 TOO_MANY_CONNECTIONS` and close it.
    Refused,
}

/// A registered connection; unregisters it when dropped.
pub(crate) struct ConnectionHandle {
    id: u64,
    pub(crate) state: Arc<ConnectionState>,
    connections: Arc<Connections>,
}

impl Drop for ConnectionHandle {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock();
        open.remove(&self.id);
        self.connections
            .stats
            .open
            .store(open.len(), Ordering::Relaxed);
        self.connections.released.notify_waiters();
        if open.is_empty() {
            self.connections.closed.notify_waiters();
        }
    }
}

impl Connections {
    pub(crate) fn new(limits: ConnectionLimits, stats: Arc<ConnectionStats>) -> Arc<Connections> {
        let budget = FdBudget::new(limits.fd_reserve);
        let connections = Arc::new(Connections {
            limits,
            clock: Instant::now(),
            stats,
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            budget: Mutex::new(budget),
            closed: Notify::new(),
            released: Notify::new(),
        });
        let cap = connections.cap(0);
        connections.stats.cap.store(cap, Ordering::Relaxed);
        connections
    }

    pub(crate) fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    pub(crate) fn stats(&self) -> &Arc<ConnectionStats> {
        &self.stats
    }

    /// How many connections are open.
    pub(crate) fn open_count(&self) -> usize {
        self.open.lock().len()
    }

    /// The effective cap with `open` connections open now.
    fn cap(&self, open: usize) -> usize {
        let from_fds = self.budget.lock().connections_allowed(open);
        self.limits
            .max_connections
            .min(from_fds)
            .max(MIN_CONNECTIONS.min(self.limits.max_connections))
    }

    /// Waits until one more connection fits under the cap, counting connections that are
    /// still closing, so that a flood of new connections waits in the kernel's backlog
    /// (which costs no descriptor) rather than in the broker. At the cap the connection
    /// idle the longest is evicted to make room. Returns at once when no connection can be
    /// evicted (every one has a request in flight: the next one is refused), and after
    /// [`ROOM_WAIT`] whatever happens, so that one stuck connection cannot stop the
    /// accept loop.
    pub(crate) async fn make_room(&self) {
        let until = tokio::time::Instant::now() + ROOM_WAIT;
        loop {
            let released = self.released.notified();
            {
                let open = self.open.lock();
                let cap = self.cap(open.len());
                if open.len() < cap {
                    return;
                }
                if !make_room_for_one(&open, cap) {
                    return;
                }
            }
            if tokio::time::timeout_at(until, released).await.is_err() {
                return;
            }
        }
    }

    /// Registers a new connection, or refuses it when the cap is reached and no
    /// connection can be evicted to make room (see [`Connections::make_room`], which the
    /// accept loop awaits first).
    pub(crate) fn admit(self: &Arc<Self>) -> Admission {
        let mut open = self.open.lock();
        let cap = self.cap(open.len());
        self.stats.cap.store(cap, Ordering::Relaxed);
        if !make_room_for_one(&open, cap) {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            return Admission::Refused;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnectionState::new(self.clock));
        open.insert(id, Arc::clone(&state));
        self.stats.open.store(open.len(), Ordering::Relaxed);
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        Admission::Admitted(ConnectionHandle {
            id,
            state,
            connections: Arc::clone(self),
        })
    }

    /// Asks every connection to finish its requests and close (shutdown).
    pub(crate) fn finish_all(&self) {
        for state in self.open.lock().values() {
            state.ask_to_finish();
        }
    }
}

/// Makes room under `cap` for one more connection, asking the connection idle the longest
/// to close when the connections still serving fill the cap (evicted ones leave the table
/// only when their task ends); `false` when there is no room and none can be made.
fn make_room_for_one(open: &HashMap<u64, Arc<ConnectionState>>, cap: usize) -> bool {
    let live = open.values().filter(|s| !s.is_evicted()).count();
    live < cap || evict_longest_idle(open)
}

/// Asks the connection idle the longest to close; `false` when every connection has a
/// request in flight (or is already closing).
fn evict_longest_idle(open: &HashMap<u64, Arc<ConnectionState>>) -> bool {
    let victim = open
        .values()
        .filter(|s| !s.is_evicted())
        .filter_map(|s| s.idle_since().map(|since| (since, s)))
        .min_by_key(|(since, _)| *since)
        .map(|(_, s)| s);
    match victim {
        Some(victim) => {
            victim.evicted.store(true, Ordering::Release);
            victim.wake.notify_one();
            true
        }
        None => false,
    }
}

/// The file descriptors connections may use: the process's limit less a reserve less
/// what the rest of the broker holds.
#[derive(Debug)]
struct FdBudget {
    reserve: usize,
    /// The soft `RLIMIT_NOFILE`; `None` where it cannot be read.
    limit: Option<usize>,
    /// Descriptors held by anything but connections, as last sampled.
    others: usize,
    sampled: Option<Instant>,
}

impl FdBudget {
    fn new(reserve: usize) -> FdBudget {
        FdBudget {
            reserve,
            limit: fd_limit(),
            others: 0,
            sampled: None,
        }
    }

    /// Connections allowed in all, given `connections` open now.
    fn connections_allowed(&mut self, connections: usize) -> usize {
        let Some(limit) = self.limit else {
            return usize::MAX;
        };
        if self
            .sampled
            .is_none_or(|at| at.elapsed() >= FD_SAMPLE_INTERVAL)
        {
            if let Some(open) = open_fds() {
                // Counting opened one more descriptor of its own.
                self.others = open.saturating_sub(connections + 1);
            }
            self.sampled = Some(Instant::now());
        }
        limit.saturating_sub(self.reserve + self.others)
    }
}

/// Raises the process's soft descriptor limit to its hard limit, so that the connection
/// cap is bounded by what the system allows rather than a shell's default (often 1024).
/// Returns the soft limit before and after; `None` when it cannot be read or set.
pub fn raise_fd_limit() -> Option<(u64, u64)> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let (current, maximum) = (limit.current?, limit.maximum);
    // An unlimited hard limit is still bounded by the kernel's `nr_open` (2^20 by default).
    let target = maximum.unwrap_or(1 << 20);
    if target <= current {
        return Some((current, current));
    }
    let raised = Rlimit {
        current: Some(target),
        maximum,
    };
    setrlimit(Resource::Nofile, raised).ok()?;
    Some((current, target))
}

/// The process's soft descriptor limit.
fn fd_limit() -> Option<usize> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit
        .current
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Descriptors the process holds now (Linux: `/proc/self/fd`).
fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: max,
            fd_reserve: 0,
            ..ConnectionLimits::default()
        }
    }

    fn admitted(admission: Admission) -> ConnectionHandle {
        match admission {
            Admission::Admitted(handle) => handle,
            Admission::Refused => panic!("refused"),
        }
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let connections = Connections::new(limits(2), Arc::default());
        let first = admitted(connections.admit());
        let second = admitted(connections.admit());
        // The first is busy: the second, idle, is the one to go.
        first.state.begin_request();
        let third = admitted(connections.admit());
        assert!(second.state.is_evicted());
        assert!(!first.state.is_evicted());
        assert!(!third.state.is_evicted());
        drop(second);
        assert_eq!(connections.open_count(), 2);
    }

    #[test]
    fn when_every_connection_is_busy_a_new_one_is_refused() {
        let connections = Connections::new(limits(1), Arc::default());
        let busy = admitted(connections.admit());
        busy.state.begin_request();
        assert!(matches!(connections.admit(), Admission::Refused));
        assert_eq!(connections.stats().counts().refused, 1);
        busy.state.end_request();
        let next = admitted(connections.admit());
        assert!(busy.state.is_evicted());
        assert!(!next.state.is_evicted());
    }

    #[test]
    fn a_head_is_timed_from_its_first_byte_and_idle_from_the_last_activity() {
        let limits = ConnectionLimits::default();
        let state = ConnectionState::new(Instant::now());
        let (_, why) = state.deadline(&limits);
        assert_eq!(why, Some(Shed::Idle));
        state.on_read(b"GET / HTTP/1.1\r\n");
        let (head_deadline, why) = state.deadline(&limits);
        assert_eq!(why, Some(Shed::Header));
        // More bytes do not move the head's deadline.
        state.on_read(b"host: x\r\n");
        assert_eq!(state.deadline(&limits), (head_deadline, Some(Shed::Header)));
        state.begin_request();
        assert_eq!(state.deadline(&limits).1, None);
        state.end_request();
        assert_eq!(state.deadline(&limits).1, Some(Shed::Idle));
    }

    #[test]
    fn a_blocked_write_has_a_deadline_even_during_a_request() {
        let limits = ConnectionLimits {
            write_timeout: Duration::from_millis(1),
            ..ConnectionLimits::default()
        };
        let state = ConnectionState::new(Instant::now());
        state.begin_request();
        state.on_write(false);
        assert_eq!(state.deadline(&limits).1, Some(Shed::Write));
        state.on_write(true);
        assert_eq!(state.deadline(&limits).1, None);
    }

    #[test]
    fn http2_frames_between_requests_are_not_a_slow_head() {
        let limits = ConnectionLimits::default();
        let state = ConnectionState::new(Instant::now());
        state.on_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert_eq!(state.deadline(&limits).1, Some(Shed::Header));
        state.begin_request();
        state.end_request();
        state.on_read(b"\x00\x00\x08\x06");
        assert_eq!(state.deadline(&limits).1, Some(Shed::Idle));
    }
}

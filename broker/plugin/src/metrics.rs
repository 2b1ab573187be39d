//! Per-binding counters: calls, messages, outcomes by kind, failures by kind, log lines
//! written and suppressed, and call latency, kept as relaxed atomics and read as a [`BindingMetrics`] snapshot.
//!
//! Latency is kept Prometheus-style: a count and a sum, plus counts per bucket of
//! [`LATENCY_BUCKETS_US`] (not cumulative; the exporter adds them up).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::CallError;

/// Upper bounds of the call latency buckets, in microseconds; a last bucket holds the
/// slower calls.
pub const LATENCY_BUCKETS_US: [u64; 11] = [
    50, 100, 250, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 1_000_000, 10_000_000,
];

pub use weir_wire::plugin::BindingMetrics;

/// The live counters of one binding.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    calls: AtomicU64,
    failed_calls: AtomicU64,
    messages: AtomicU64,
    acked: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    failed_messages: AtomicU64,
    commits: AtomicU64,
    rollbacks: AtomicU64,
    unknowns: AtomicU64,
    keys: AtomicU64,
    duplicates: AtomicU64,
    traps: AtomicU64,
    timeouts: AtomicU64,
    memory_limits: AtomicU64,
    wrong_lengths: AtomicU64,
    instantiations: AtomicU64,
    published: AtomicU64,
    http_requests: AtomicU64,
    http_failures: AtomicU64,
    log_lines: AtomicU64,
    log_lines_suppressed: AtomicU64,
    log_bytes_suppressed: AtomicU64,
    latency_sum_us: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
}

/// What a counter is bumped for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Count {
    Acked,
    Retried,
    DeadLettered,
    FailedMessages,
    Commit,
    Rollback,
    Unknown,
    Key,
    Duplicate,
    Instantiation,
    Published,
    HttpRequest,
    HttpFailure,
    LogLine,
    LogLineSuppressed,
    LogBytesSuppressed,
}

impl Counters {
    pub(crate) fn add(&self, what: Count, n: u64) {
        let counter = match what {
            Count::Acked => &self.acked,
            Count::Retried => &self.retried,
            Count::DeadLettered => &self.dead_lettered,
            Count::FailedMessages => &self.failed_messages,
            Count::Commit => &self.commits,
            Count::Rollback => &self.rollbacks,
            Count::Unknown => &self.unknowns,
            Count::Key => &self.keys,
            Count::Duplicate => &self.duplicates,
            Count::Instantiation => &self.instantiations,
            Count::Published => &self.published,
            Count::HttpRequest => &self.http_requests,
            Count::HttpFailure => &self.http_failures,
            Count::LogLine => &self.log_lines,
            Count::LogLineSuppressed => &self.log_lines_suppressed,
            Count::LogBytesSuppressed => &self.log_bytes_suppressed,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records one call of `messages` messages that took `elapsed`.
    pub(crate) fn call(&self, messages: usize, elapsed: Duration, failure: Option<&CallError>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.messages.fetch_add(messages as u64, Ordering::Relaxed);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|&bound| us <= bound)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        if let Some(failure) = failure {
            self.failure(failure);
        }
    }

    /// Records a failure that happened outside a timed call (e.g. instantiation).
    pub(crate) fn failure(&self, failure: &CallError) {
        self.failed_calls.fetch_add(1, Ordering::Relaxed);
        let counter = match failure {
            CallError::Trap(_) | CallError::Instantiate(_) | CallError::Unavailable(_) => {
                &self.traps
            }
            CallError::Timeout { .. } => &self.timeouts,
            CallError::MemoryLimit { .. } => &self.memory_limits,
            CallError::WrongLength { .. } => &self.wrong_lengths,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BindingMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BindingMetrics {
            calls: get(&self.calls),
            failed_calls: get(&self.failed_calls),
            messages: get(&self.messages),
            acked: get(&self.acked),
            retried: get(&self.retried),
            dead_lettered: get(&self.dead_lettered),
            failed_messages: get(&self.failed_messages),
            commits: get(&self.commits),
            rollbacks: get(&self.rollbacks),
            unknowns: get(&self.unknowns),
            keys: get(&self.keys),
            duplicates: get(&self.duplicates),
            traps: get(&self.traps),
            timeouts: get(&self.timeouts),
            memory_limits: get(&self.memory_limits),
            wrong_lengths: get(&self.wrong_lengths),
            instantiations: get(&self.instantiations),
            published: get(&self.published),
            http_requests: get(&self.http_requests),
            http_failures: get(&self.http_failures),
            log_lines: get(&self.log_lines),
            log_lines_suppressed: get(&self.log_lines_suppressed),
            log_bytes_suppressed: get(&self.log_bytes_suppressed),
            latency_sum_us: get(&self.latency_sum_us),
            latency_buckets: self.latency_buckets.iter().map(get).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_land_in_their_latency_bucket() {
        let counters = Counters::default();
        counters.call(10, Duration::from_micros(40), None);
        counters.call(5, Duration::from_millis(2), None);
        counters.call(
            1,
            Duration::from_secs(20),
            Some(&CallError::Timeout { deadline_ms: 1 }),
        );
        let m = counters.snapshot();
        assert_eq!(
            (m.calls, m.messages, m.failed_calls, m.timeouts),
            (3, 16, 1, 1)
        );
        assert_eq!(m.latency_buckets[0], 1);
        assert_eq!(m.latency_buckets[5], 1);
        assert_eq!(m.latency_buckets[LATENCY_BUCKETS_US.len()], 1);
        assert_eq!(m.latency_sum_us, 40 + 2_000 + 20_000_000);
    }
}

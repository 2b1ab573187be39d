//! One load task of `weir bench produce`, and the counters all tasks share.
//!
//! A worker sends the same prepared request in a loop, one in flight at a time, so the
//! number of workers is the number of requests in flight. Per-request work is kept to a
//! clock read, the send (whose answer is checked for its status only) and a histogram
//! record; the request body is shared bytes (a batch is copied once per send to splice in
//! its fresh message ids). Sends are retried under the client's policy with the same
//! ids; the worker counts the retries and, for requests that failed anyway, whether the
//! broker stored them after all.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use weir_client::{BrokerCopy, Client, ClientError, PreparedSend, SendStatus};

use super::report::error_kind;

/// The highest latency the histograms track; slower requests are recorded as this.
const MAX_TRACKED_LATENCY_US: u64 = 120_000_000;
/// How long a worker pauses after a transport failure, so that a broker that is down is
/// not hammered in a tight loop.
pub(super) const TRANSPORT_FAILURE_PAUSE: Duration = Duration::from_millis(50);

/// State shared by the workers and the controller.
pub(super) struct Shared {
    /// Set by the controller when the run must end; workers finish their request and stop.
    pub(super) stop: AtomicBool,
    /// Requests still to send in `--count` mode (after the warm-up); `u64::MAX` otherwise.
    pub(super) remaining_requests: AtomicU64,
    /// Messages stored since the warm-up ended, for the progress bar.
    pub(super) measured_messages: AtomicU64,
    /// Failed requests since the warm-up ended, for the progress bar.
    pub(super) measured_errors: AtomicU64,
    /// When the warm-up ends and figures start being recorded.
    pub(super) measure_from: Instant,
}

/// What one worker saw after the warm-up.
pub(super) struct WorkerOutcome {
    /// Latency of successful requests, in microseconds.
    pub(super) latency_us: Histogram<u64>,
    /// Successful requests.
    pub(super) requests: u64,
    /// Successful requests whose status was `FLUSH_DISK_TIMEOUT`.
    pub(super) flush_timeouts: u64,
    /// Failed requests by error code (`TRANSPORT`, `DECODE` for client-side failures).
    pub(super) errors: BTreeMap<String, u64>,
    /// The first failure, to show the user what went wrong.
    pub(super) first_error: Option<String>,
    /// Attempts beyond the first, over all requests.
    pub(super) retries: u64,
    /// Requests that needed more than one attempt.
    pub(super) retried_requests: u64,
    /// Failed requests the broker stored after all, had not stored, or could not say.
    pub(super) failed_stored: u64,
    pub(super) failed_not_stored: u64,
    pub(super) failed_unknown: u64,
}

/// Sends `prepared` until the controller says stop or the `--count` budget is spent.
///
/// `latency_us` is an empty histogram (see [`latency_histogram`]) the worker fills.
pub(super) async fn run(
    client: Client,
    topic: Arc<str>,
    prepared: Arc<PreparedSend>,
    shared: Arc<Shared>,
    latency_us: Histogram<u64>,
) -> WorkerOutcome {
    let mut outcome = WorkerOutcome {
        latency_us,
        requests: 0,
        flush_timeouts: 0,
        errors: BTreeMap::new(),
        first_error: None,
        retries: 0,
        retried_requests: 0,
        failed_stored: 0,
        failed_not_stored: 0,
        failed_unknown: 0,
    };
    let messages_per_request = u64::from(prepared.messages());
    while !shared.stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let measuring = started >= shared.measure_from;
        if measuring && !claim_request(&shared.remaining_requests) {
            break;
        }
        let result = client.send_prepared_tracked(&topic, &prepared).await;
        if !measuring {
            if result.as_ref().is_err_and(|err| is_transport(err.cause())) {
                tokio::time::sleep(TRANSPORT_FAILURE_PAUSE).await;
            }
            continue;
        }
        let attempts = match &result {
            Ok(receipt) => receipt.attempts,
            Err(err) => err.attempts(),
        };
        outcome.retries += u64::from(attempts.saturating_sub(1));
        outcome.retried_requests += u64::from(attempts > 1);
        match result {
            Ok(receipt) => {
                let status = receipt.status;
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                outcome.latency_us.saturating_record(micros.max(1));
                outcome.requests += 1;
                if status == SendStatus::FlushDiskTimeout {
                    outcome.flush_timeouts += 1;
                }
                shared
                    .measured_messages
                    .fetch_add(messages_per_request, Ordering::Relaxed);
            }
            Err(err) => {
                shared.measured_errors.fetch_add(1, Ordering::Relaxed);
                *outcome.errors.entry(error_kind(err.cause())).or_default() += 1;
                match err.broker_copy() {
                    BrokerCopy::Stored(_) => outcome.failed_stored += 1,
                    BrokerCopy::NotStored => outcome.failed_not_stored += 1,
                    BrokerCopy::Unknown(_) => outcome.failed_unknown += 1,
                }
                if outcome.first_error.is_none() {
                    outcome.first_error = Some(err.to_string());
                }
                if is_transport(err.cause()) {
                    tokio::time::sleep(TRANSPORT_FAILURE_PAUSE).await;
                }
            }
        }
    }
    outcome
}

/// An empty latency histogram: 1 µs to [`MAX_TRACKED_LATENCY_US`], 3 significant digits.
pub(super) fn latency_histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, MAX_TRACKED_LATENCY_US, 3)
}

/// Takes one request from the `--count` budget; false when it is spent.
pub(super) fn claim_request(remaining: &AtomicU64) -> bool {
    remaining
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| match left {
            u64::MAX => Some(u64::MAX),
            left => left.checked_sub(1),
        })
        .is_ok()
}

pub(super) fn is_transport(err: &ClientError) -> bool {
    matches!(err, ClientError::Transport(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_budget_is_spent_exactly() {
        let remaining = AtomicU64::new(2);
        assert!(claim_request(&remaining));
        assert!(claim_request(&remaining));
        assert!(!claim_request(&remaining));
        let unlimited = AtomicU64::new(u64::MAX);
        assert!(claim_request(&unlimited));
        assert_eq!(unlimited.load(Ordering::Relaxed), u64::MAX);
    }
}

//! When and how a failed request is tried again: the [`RetryPolicy`] a client is built
//! with, its backoff schedule, and the classification of each attempt's failure.
//!
//! This module decides; it never sends. The loop that sends lives in `client.rs` (one
//! place requests are executed) and the producer's view of the result in `async_send.rs`.
//!
//! # What is retried
//!
//! Only calls that are safe to repeat: sends, whose every message carries an id chosen
//! before the first attempt (the broker answers a repeat from the stored copy), and reads.
//! Everything else (topic and group administration, acks, commits, uploads) is tried once.
//!
//! | failure | retried | may the send be stored? |
//! | --- | --- | --- |
//! | connection refused or not established in time | yes | no: no byte was sent |
//! | connection reset or closed before the answer, request timeout | yes | yes |
//! | `408` | yes | no: the broker did not read the whole request |
//! | `429`, `503` | yes, after `Retry-After` (at most [`RetryPolicy::max_retry_after`]) | no: refused |
//! | `507` (`DISK_FULL`) | no: the disk does not empty itself on a retry's time scale | no |
//! | other `5xx` | yes | yes |
//! | other `4xx` | no: the request itself is wrong | no |
//! | `2xx` with status `FLUSH_DISK_TIMEOUT`, `FLUSH_SLAVE_TIMEOUT` or `SLAVE_NOT_AVAILABLE` | yes, when [`RetryPolicy::retry_not_durable`] | yes: it is stored |
//! | an answer that does not decode | no | yes |

use std::time::Duration;

use crate::{ClientError, SendStatus};

/// Default attempts of a retried call, the first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default wait before the first retry (before jitter).
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Default cap of the wait between two attempts (before jitter).
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Default factor by which each wait grows.
pub const DEFAULT_BACKOFF_MULTIPLIER: f64 = 2.0;
/// Default cap on a broker's `Retry-After`: a hostile or confused server must not park a
/// producer for hours.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Default bound on the lookup, after a send's last failed attempt, of whether the
/// broker stored the message.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// The most attempts a policy may ask for; more only hides an outage.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;

/// How sends and reads are retried; set with
/// [`ClientBuilder::retry`](crate::ClientBuilder::retry).
///
/// The wait before retry `n` (1 for the first retry) is
/// `min(max_backoff, initial_backoff × multiplier^(n-1))`, of which a random half is
/// taken off ("equal jitter": the wait is between half and all of it), so that many
/// producers failing together do not retry together. A `Retry-After` from the broker
/// replaces the wait, capped at `max_retry_after`.
///
/// ```
/// use std::time::Duration;
/// use weir_client::RetryPolicy;
///
/// let policy = RetryPolicy { max_attempts: 5, ..RetryPolicy::default() };
/// // The first retry waits 50 to 100 ms, the third 200 to 400 ms, any later one at most 2 s.
/// assert_eq!(policy.backoff(1, 0.0), Duration::from_millis(50));
/// assert_eq!(policy.backoff(3, 0.0), Duration::from_millis(200));
/// assert_eq!(policy.backoff(10, 0.5), Duration::from_millis(1500));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included: 1 means no retry (1 to
    /// [`MAX_ATTEMPTS_LIMIT`]; 0 counts as 1).
    pub max_attempts: u32,
    /// The wait before the first retry, before jitter.
    pub initial_backoff: Duration,
    /// The cap of any wait, before jitter.
    pub max_backoff: Duration,
    /// The factor by which each wait grows (at least 1).
    pub multiplier: f64,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
    /// Whether a send answered `FLUSH_DISK_TIMEOUT`, `FLUSH_SLAVE_TIMEOUT` or
    /// `SLAVE_NOT_AVAILABLE` (stored, not known durable) is tried again with the same
    /// ids. When the last attempt still answers so, the send succeeds with that status.
    pub retry_not_durable: bool,
    /// After a send's last failed attempt, how long the client may spend asking the
    /// broker (`GET /v1/messages/{id}`) whether it stored the message; `None` skips the
    /// lookup (the outcome is then unknown unless no attempt can have stored it).
    pub lookup_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms doubling to at most 2 s, `Retry-After` up to 10 s, not-durable
    /// statuses retried, a 5 s lookup after the last failure.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            multiplier: DEFAULT_BACKOFF_MULTIPLIER,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            retry_not_durable: true,
            lookup_timeout: Some(DEFAULT_LOOKUP_TIMEOUT),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no lookup: every call behaves as a client without retries does.
    pub fn disabled() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            lookup_timeout: None,
            ..RetryPolicy::default()
        }
    }

    /// The default policy with `max_attempts` attempts in all.
    pub fn with_attempts(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        }
    }

    /// The attempts this policy allows, within 1 to [`MAX_ATTEMPTS_LIMIT`].
    pub fn attempts(&self) -> u32 {
        self.max_attempts.clamp(1, MAX_ATTEMPTS_LIMIT)
    }

    /// The wait before retry `retry` (1 for the first retry), with `jitter` in [0, 1)
    /// choosing where in the upper half of the capped exponential step it falls.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let step = self.capped_step(retry);
        let half = step / 2;
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        half + (step - half).mul_f64(jitter)
    }

    /// `min(max_backoff, initial_backoff × multiplier^(retry-1))`.
    fn capped_step(&self, retry: u32) -> Duration {
        let multiplier = if self.multiplier.is_finite() {
            self.multiplier.max(1.0)
        } else {
            1.0
        };
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = multiplier.powi(exponent);
        let max = self.max_backoff.as_secs_f64();
        let step = self.initial_backoff.as_secs_f64() * factor;
        if !step.is_finite() || step >= max {
            self.max_backoff
        } else {
            Duration::from_secs_f64(step)
        }
    }

    /// The wait before retry `retry` given the failure's verdict: the broker's
    /// `Retry-After` when it sent one (capped), else the backoff.
    pub(crate) fn wait(&self, retry: u32, verdict: &Verdict, jitter: f64) -> Duration {
        match verdict.retry_after {
            Some(after) => after.min(self.max_retry_after),
            None => self.backoff(retry, jitter),
        }
    }
}

/// What one failed attempt means for the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Whether trying again can help.
    pub(crate) retry: bool,
    /// Whether the broker may have stored the send (so that a final failure needs a
    /// lookup to say).
    pub(crate) maybe_stored: bool,
    /// The broker's `Retry-After`, for `429` and `503`.
    pub(crate) retry_after: Option<Duration>,
}

/// Classifies a failed attempt; `retry_after` is the answer's `Retry-After`, if any.
pub(crate) fn classify(err: &ClientError, retry_after: Option<Duration>) -> Verdict {
    let verdict = |retry, maybe_stored| Verdict {
        retry,
        maybe_stored,
        retry_after: None,
    };
    match err {
        ClientError::Transport(transport) if transport.is_connect() => verdict(true, false),
        ClientError::Transport(_) => verdict(true, true),
        ClientError::Api { status, .. } => match *status {
            408 => verdict(true, false),
            429 | 503 => Verdict {
                retry: true,
                maybe_stored: false,
                retry_after,
            },
            507 => verdict(false, false),
            500..=599 => verdict(true, true),
            _ => verdict(false, false),
        },
        // A 2xx whose body is not what the API documents: the broker acted on it.
        ClientError::Decode(_) => verdict(false, true),
        ClientError::InvalidUrl { .. }
        | ClientError::InvalidMessage(_)
        | ClientError::InvalidToken(_) => verdict(false, false),
    }
}

/// Whether a send answered with `status` is stored but not known durable, so that a
/// policy with [`RetryPolicy::retry_not_durable`] tries it again.
pub(crate) fn not_durable(status: SendStatus) -> bool {
    match status {
        SendStatus::FlushDiskTimeout
        | SendStatus::FlushSlaveTimeout
        | SendStatus::SlaveNotAvailable => true,
        SendStatus::SendOk | SendStatus::Unknown => false,
    }
}

/// The longest `Retry-After` text read; a longer value is not a number of seconds.
const MAX_RETRY_AFTER_TEXT: usize = 16;

/// A `Retry-After` header's wait: delay-seconds only (an HTTP date, or anything else,
/// gives `None` and the ordinary backoff applies).
pub(crate) fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    if value.is_empty() || value.len() > MAX_RETRY_AFTER_TEXT {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?.trim();
    text.parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransportError;

    fn api(status: u16) -> ClientError {
        ClientError::Api {
            status,
            code: format!("HTTP_{status}"),
            message: "x".into(),
        }
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_equal_jitter() {
        let policy = RetryPolicy::default();
        let low: Vec<u128> = (1..=7)
            .map(|n| policy.backoff(n, 0.0).as_millis())
            .collect();
        assert_eq!(low, [50, 100, 200, 400, 800, 1000, 1000]);
        let high: Vec<u128> = (1..=7)
            .map(|n| policy.backoff(n, 0.999_999).as_millis())
            .collect();
        assert_eq!(high, [99, 199, 399, 799, 1599, 1999, 1999]);
        for n in 1..=20 {
            for jitter in [0.0, 0.25, 0.5, 0.75, 0.999] {
                let wait = policy.backoff(n, jitter);
                assert!(wait <= DEFAULT_MAX_BACKOFF, "retry {n}: {wait:?}");
                assert!(wait >= policy.backoff(n, 0.0));
            }
        }
    }

    #[test]
    fn backoff_survives_odd_policies() {
        let policy = RetryPolicy {
            multiplier: f64::NAN,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(5, 0.0), Duration::from_millis(50));
        let policy = RetryPolicy {
            multiplier: 1e300,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(u32::MAX, 2.0), DEFAULT_MAX_BACKOFF);
        assert_eq!(policy.backoff(0, f64::INFINITY), Duration::from_millis(50));
        assert_eq!(RetryPolicy::with_attempts(0).attempts(), 1);
        assert_eq!(
            RetryPolicy::with_attempts(1_000).attempts(),
            MAX_ATTEMPTS_LIMIT
        );
        assert_eq!(RetryPolicy::disabled().attempts(), 1);
    }

    #[test]
    fn retry_after_replaces_the_backoff_within_its_cap() {
        let policy = RetryPolicy::default();
        let verdict = classify(&api(503), Some(Duration::from_secs(1)));
        assert_eq!(policy.wait(1, &verdict, 0.0), Duration::from_secs(1));
        let verdict = classify(&api(429), Some(Duration::from_secs(86_400)));
        assert_eq!(policy.wait(1, &verdict, 0.0), DEFAULT_MAX_RETRY_AFTER);
        let verdict = classify(&api(500), Some(Duration::from_secs(7)));
        assert_eq!(
            verdict.retry_after, None,
            "only 429 and 503 are told to wait"
        );
        assert_eq!(policy.wait(2, &verdict, 0.0), Duration::from_millis(100));
    }

    #[test]
    fn failures_are_classified() {
        let refused = ClientError::Transport(TransportError::connect_for_tests());
        let timeout =
            ClientError::Transport(TransportError::timeout("http://x/", Duration::from_secs(1)));
        let cases = [
            (refused, true, false),
            (timeout, true, true),
            (api(408), true, false),
            (api(429), true, false),
            (api(503), true, false),
            (api(500), true, true),
            (api(502), true, true),
            (api(504), true, true),
            (api(507), false, false),
            (api(400), false, false),
            (api(404), false, false),
            (api(409), false, false),
            (api(413), false, false),
            (ClientError::Decode("x".into()), false, true),
            (ClientError::InvalidMessage("x".into()), false, false),
        ];
        for (err, retry, maybe_stored) in cases {
            let verdict = classify(&err, None);
            assert_eq!(
                (verdict.retry, verdict.maybe_stored),
                (retry, maybe_stored),
                "{err}"
            );
        }
    }

    #[test]
    fn not_durable_statuses_are_retried_and_ok_is_not() {
        assert!(not_durable(SendStatus::FlushDiskTimeout));
        assert!(not_durable(SendStatus::FlushSlaveTimeout));
        assert!(not_durable(SendStatus::SlaveNotAvailable));
        assert!(!not_durable(SendStatus::SendOk));
        assert!(!not_durable(SendStatus::Unknown));
    }

    #[test]
    fn retry_after_is_read_as_seconds_only() {
        assert_eq!(parse_retry_after(b"1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(b" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after(b"-1"), None);
        assert_eq!(parse_retry_after(b""), None);
        assert_eq!(parse_retry_after(b"99999999999999999999"), None);
    }
}

//! The log budget of one binding: a token bucket of lines and of bytes per second,
//! shared by all of the binding's instances and kept across calls, so that a plugin
//! logging in a loop cannot flood the broker's log.
//!
//! A line is written when the bucket holds one line and its bytes (the message's length,
//! cut to [`MAX_LOG_BYTES`]); otherwise it is dropped and counted. The bucket holds at
//! most one second of each rate, so a quiet binding may burst that much at once. What was
//! dropped is reported by one summary line at most every [`LOG_SUMMARY_INTERVAL`]: when
//! the binding logs (or a call of it ends) once that long has passed since the last
//! summary, and, for consumer bindings, while they wait for messages.
//!
//! Checking the budget is one uncontended lock and a clock read; it does not format or
//! copy the message.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::limits::MAX_LOG_BYTES;

/// Shortest time between two summaries of suppressed lines of one binding.
pub const LOG_SUMMARY_INTERVAL: Duration = Duration::from_secs(1);

/// Lines and bytes per second a binding may log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRates {
    /// Lines per second.
    pub lines_per_sec: u32,
    /// Bytes of messages per second.
    pub bytes_per_sec: u64,
}

/// Lines dropped since the last summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Suppressed {
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
}

/// What to do with one line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Whether to write it.
    pub(crate) write: bool,
    /// A summary to write first, when one is due.
    pub(crate) summary: Option<Suppressed>,
}

/// Tokens are counted in millionths, so that refills by the microsecond stay exact.
const MICRO: u64 = 1_000_000;

#[derive(Debug)]
struct Bucket {
    /// Lines left, in millionths of a line.
    lines: u64,
    /// Bytes left, in millionths of a byte.
    bytes: u64,
    refilled: Instant,
    pending: Suppressed,
    last_summary: Instant,
}

/// The budget of one binding.
#[derive(Debug)]
pub(crate) struct LogBudget {
    rates: LogRates,
    bucket: Mutex<Bucket>,
}

impl LogBudget {
    /// A full budget.
    pub(crate) fn new(rates: LogRates, now: Instant) -> Self {
        Self {
            rates,
            bucket: Mutex::new(Bucket {
                lines: u64::from(rates.lines_per_sec) * MICRO,
                bytes: rates.bytes_per_sec.saturating_mul(MICRO),
                refilled: now,
                pending: Suppressed::default(),
                last_summary: now,
            }),
        }
    }

    /// Takes one line of `message_bytes` bytes from the budget, or counts it as dropped.
    pub(crate) fn admit(&self, message_bytes: usize, now: Instant) -> Verdict {
        let cost = (message_bytes.min(MAX_LOG_BYTES) as u64) * MICRO;
        let rates = self.rates;
        let mut bucket = self.bucket.lock();
        // Beyond a second the bucket is full anyway; the cap keeps the products small.
        let elapsed_us = now
            .saturating_duration_since(bucket.refilled)
            .as_micros()
            .min(u128::from(MICRO)) as u64;
        bucket.refilled = bucket.refilled.max(now);
        let lines_cap = u64::from(rates.lines_per_sec) * MICRO;
        let bytes_cap = rates.bytes_per_sec.saturating_mul(MICRO);
        bucket.lines = (bucket.lines + elapsed_us * u64::from(rates.lines_per_sec)).min(lines_cap);
        bucket.bytes = bucket
            .bytes
            .saturating_add(elapsed_us.saturating_mul(rates.bytes_per_sec))
            .min(bytes_cap);
        let write = bucket.lines >= MICRO && bucket.bytes >= cost;
        if write {
            bucket.lines -= MICRO;
            bucket.bytes -= cost;
        } else {
            bucket.pending.lines += 1;
            bucket.pending.bytes += message_bytes as u64;
        }
        let summary = take_due(&mut bucket, now);
        Verdict { write, summary }
    }

    /// The summary of dropped lines, if one is due.
    pub(crate) fn due_summary(&self, now: Instant) -> Option<Suppressed> {
        take_due(&mut self.bucket.lock(), now)
    }
}

fn take_due(bucket: &mut Bucket, now: Instant) -> Option<Suppressed> {
    if bucket.pending.lines == 0
        || now.saturating_duration_since(bucket.last_summary) < LOG_SUMMARY_INTERVAL
    {
        return None;
    }
    bucket.last_summary = now;
    Some(std::mem::take(&mut bucket.pending))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATES: LogRates = LogRates {
        lines_per_sec: 10,
        bytes_per_sec: 10_000,
    };

    fn written(budget: &LogBudget, lines: usize, bytes: usize, now: Instant) -> usize {
        (0..lines)
            .filter(|_| budget.admit(bytes, now).write)
            .count()
    }

    #[test]
    fn a_burst_is_cut_at_one_second_of_lines() {
        let start = Instant::now();
        let budget = LogBudget::new(RATES, start);
        assert_eq!(written(&budget, 1_000, 10, start), 10);
    }

    #[test]
    fn the_budget_refills_at_its_rate_and_no_further() {
        let start = Instant::now();
        let budget = LogBudget::new(RATES, start);
        assert_eq!(written(&budget, 100, 10, start), 10);
        let later = start + Duration::from_millis(500);
        assert_eq!(written(&budget, 100, 10, later), 5);
        // A long silence refills one second's worth, not more.
        let much_later = later + Duration::from_secs(3_600);
        assert_eq!(written(&budget, 100, 10, much_later), 10);
    }

    #[test]
    fn bytes_are_budgeted_too_counting_at_most_a_cut_line() {
        let start = Instant::now();
        let budget = LogBudget::new(
            LogRates {
                lines_per_sec: 1_000,
                bytes_per_sec: 3 * MAX_LOG_BYTES as u64,
            },
            start,
        );
        // A 1 MiB message costs what is kept of it.
        assert_eq!(written(&budget, 10, 1 << 20, start), 3);
        let verdict = budget.admit(1, start);
        assert!(!verdict.write, "no bytes left");
    }

    #[test]
    fn dropped_lines_are_summarised_once_per_interval() {
        let start = Instant::now();
        let budget = LogBudget::new(RATES, start);
        let mut summaries = Vec::new();
        let mut now = start;
        // 100 lines every 100 ms for 3 s: 30 s of budget asked in 3 s.
        for _ in 0..30 {
            for _ in 0..100 {
                summaries.extend(budget.admit(7, now).summary);
            }
            now += Duration::from_millis(100);
        }
        summaries.extend(budget.due_summary(now));
        assert_eq!(summaries.len(), 3, "{summaries:?}");
        let dropped: u64 = summaries.iter().map(|s| s.lines).sum();
        let bytes: u64 = summaries.iter().map(|s| s.bytes).sum();
        // Written: the burst of 10, then 1 per 100 ms for 29 steps.
        assert_eq!(dropped, 3_000 - 10 - 29);
        assert_eq!(bytes, dropped * 7);
        assert_eq!(budget.due_summary(now + LOG_SUMMARY_INTERVAL), None);
    }

    #[test]
    fn no_summary_before_the_interval_or_without_drops() {
        let start = Instant::now();
        let budget = LogBudget::new(RATES, start);
        assert_eq!(written(&budget, 5, 1, start), 5);
        assert_eq!(budget.due_summary(start + Duration::from_secs(5)), None);
        assert_eq!(written(&budget, 20, 1, start), 5);
        let soon = start + Duration::from_millis(10);
        assert_eq!(budget.due_summary(soon), None);
        let due = budget.due_summary(start + LOG_SUMMARY_INTERVAL);
        assert_eq!(
            due,
            Some(Suppressed {
                lines: 15,
                bytes: 15
            })
        );
    }
}

//! The figures of a `weir bench produce` run and their printing.
//!
//! Rates are over the measured window only (after the warm-up). MB/s counts message body
//! bytes, in decimal megabytes (10^6 bytes). Latency is per request (a whole batch),
//! from sending to the last byte of the answer, in microseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Everything a run measured, as printed with `--json`.
#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub(super) server: String,
    pub(super) topic: String,
    pub(super) http2: bool,
    /// Body size of each message, in bytes.
    pub(super) size: usize,
    /// Messages per request.
    pub(super) batch: u32,
    /// Requests in flight.
    pub(super) concurrency: usize,
    /// The measured window, after the warm-up.
    pub(super) elapsed_s: f64,
    /// Whether the run was cut short by Ctrl-C.
    pub(super) interrupted: bool,
    pub(super) messages: u64,
    pub(super) requests: u64,
    pub(super) msgs_per_s: f64,
    pub(super) requests_per_s: f64,
    pub(super) mb_per_s: f64,
    pub(super) latency_us: Latency,
    /// Stored messages whose fsync did not complete in time (not failures).
    pub(super) flush_timeouts: u64,
    pub(super) errors: Errors,
}

/// Request latency percentiles, in microseconds.
#[derive(Debug, Serialize)]
pub(super) struct Latency {
    pub(super) p50: u64,
    pub(super) p99: u64,
    pub(super) p999: u64,
    pub(super) max: u64,
    pub(super) mean: f64,
}

/// Failed requests, by error code.
#[derive(Debug, Serialize)]
pub(super) struct Errors {
    pub(super) total: u64,
    pub(super) by_code: BTreeMap<String, u64>,
    pub(super) first: Option<String>,
}

impl Latency {
    pub(super) fn from_histogram(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency {
                p50: 0,
                p99: 0,
                p999: 0,
                max: 0,
                mean: 0.0,
            };
        }
        Latency {
            p50: histogram.value_at_quantile(0.5),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
            mean: histogram.mean(),
        }
    }
}

/// `count` per second over `elapsed`.
pub(super) fn rate(count: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count / secs } else { 0.0 }
}

impl Report {
    /// The report as aligned human-readable lines.
    pub(super) fn render(&self) -> String {
        let protocol = if self.http2 { "HTTP/2" } else { "HTTP/1.1" };
        let mut lines = vec![
            format!(
                "produce to '{}' at {} over {protocol}: {}-byte bodies, batch {}, concurrency {}",
                self.topic, self.server, self.size, self.batch, self.concurrency
            ),
            format!(
                "  measured   {:.2} s{}",
                self.elapsed_s,
                if self.interrupted {
                    " (interrupted)"
                } else {
                    ""
                }
            ),
            format!(
                "  messages   {} ({:.0} msgs/s, {:.2} MB/s of bodies)",
                self.messages, self.msgs_per_s, self.mb_per_s
            ),
            format!(
                "  requests   {} ({:.0} req/s)",
                self.requests, self.requests_per_s
            ),
            format!(
                "  latency    p50 {}  p99 {}  p99.9 {}  max {}",
                micros(self.latency_us.p50),
                micros(self.latency_us.p99),
                micros(self.latency_us.p999),
                micros(self.latency_us.max)
            ),
        ];
        if self.flush_timeouts > 0 {
            lines.push(format!(
                "  flush      {} requests answered FLUSH_DISK_TIMEOUT",
                self.flush_timeouts
            ));
        }
        let mut errors = format!("  errors     {}", self.errors.total);
        if !self.errors.by_code.is_empty() {
            let by_code: Vec<String> = self
                .errors
                .by_code
                .iter()
                .map(|(code, count)| format!("{code} {count}"))
                .collect();
            errors.push_str(&format!(" ({})", by_code.join(", ")));
        }
        lines.push(errors);
        if let Some(first) = &self.errors.first {
            lines.push(format!("  first error: {first}"));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// A latency in µs, shown in ms from 10 ms up.
fn micros(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_percentiles_come_from_the_histogram() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 1_000_000, 3).unwrap();
        for us in 1..=1000 {
            histogram.record(us).unwrap();
        }
        let latency = Latency::from_histogram(&histogram);
        assert_eq!(latency.p50, 500);
        assert_eq!(latency.p99, 990);
        assert_eq!(latency.max, 1000);
    }

    #[test]
    fn latencies_are_readable() {
        assert_eq!(micros(950), "950 µs");
        assert_eq!(micros(12_345), "12.3 ms");
        assert_eq!(rate(10.0, Duration::from_millis(500)), 20.0);
        assert_eq!(rate(10.0, Duration::ZERO), 0.0);
    }
}

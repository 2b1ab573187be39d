//! The figures of a `weir bench produce` run and their printing, and the pieces every
//! bench's report shares: latency percentiles, errors by code, rates and µs formatting.
//!
//! Rates are over the measured window only (after the warm-up). MB/s counts message body
//! bytes, in decimal megabytes (10^6 bytes). Latency is per request (a whole batch),
//! from sending to the last byte of the answer, in microseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use weir_client::ClientError;

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
    /// Retried attempts, and what became of the requests that failed anyway.
    pub(super) retries: Retries,
    pub(super) errors: Errors,
}

/// The retries of a produce run and the final failures by whether the broker stored them.
#[derive(Debug, Default, Serialize)]
pub(super) struct Retries {
    /// Attempts beyond the first, over all requests.
    pub(super) retries: u64,
    /// Requests that needed more than one attempt.
    pub(super) retried_requests: u64,
    /// Failed requests the broker had stored after all (their answer was lost).
    pub(super) failed_stored: u64,
    /// Failed requests the broker had not stored.
    pub(super) failed_not_stored: u64,
    /// Failed requests the broker could not be asked about.
    pub(super) failed_unknown: u64,
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
#[derive(Debug, Default, Serialize)]
pub(super) struct Errors {
    pub(super) total: u64,
    pub(super) by_code: BTreeMap<String, u64>,
    pub(super) first: Option<String>,
}

impl Errors {
    /// Counts one failure under its code (`TRANSPORT`, `DECODE`, `CLIENT` for failures
    /// on this side); keeps the first one's text.
    pub(super) fn record(&mut self, err: &ClientError) {
        self.total += 1;
        *self.by_code.entry(error_kind(err)).or_default() += 1;
        if self.first.is_none() {
            self.first = Some(err.to_string());
        }
    }

    /// Adds another task's failures.
    pub(super) fn merge(&mut self, other: Errors) {
        self.total += other.total;
        for (code, count) in other.by_code {
            *self.by_code.entry(code).or_default() += count;
        }
        self.first = self.first.take().or(other.first);
    }

    /// The `errors` line of a report, and the `first error` line when there was one.
    pub(super) fn render_lines(&self, label: &str) -> Vec<String> {
        let mut line = format!("  {label:<10} {}", self.total);
        if !self.by_code.is_empty() {
            let by_code: Vec<String> = self
                .by_code
                .iter()
                .map(|(code, count)| format!("{code} {count}"))
                .collect();
            line.push_str(&format!(" ({})", by_code.join(", ")));
        }
        let mut lines = vec![line];
        if let Some(first) = &self.first {
            lines.push(format!("  first error: {first}"));
        }
        lines
    }
}

/// The code a failure is counted under.
pub(super) fn error_kind(err: &ClientError) -> String {
    match err {
        ClientError::Api { code, .. } => code.clone(),
        ClientError::Transport(_) => "TRANSPORT".to_owned(),
        ClientError::Decode(_) => "DECODE".to_owned(),
        ClientError::InvalidUrl { .. }
        | ClientError::InvalidMessage(_)
        | ClientError::InvalidToken(_) => "CLIENT".to_owned(),
    }
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
            format!("  latency    {}", latency_line(&self.latency_us)),
        ];
        if self.flush_timeouts > 0 {
            lines.push(format!(
                "  flush      {} requests answered FLUSH_DISK_TIMEOUT",
                self.flush_timeouts
            ));
        }
        if self.retries.retries > 0 {
            lines.push(format!(
                "  retries    {} ({} requests needed more than one attempt)",
                self.retries.retries, self.retries.retried_requests
            ));
        }
        if self.errors.total > 0 {
            lines.push(format!(
                "  failed     {} stored after all, {} not stored, {} unknown",
                self.retries.failed_stored,
                self.retries.failed_not_stored,
                self.retries.failed_unknown
            ));
        }
        lines.extend(self.errors.render_lines("errors"));
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// The percentiles line of a report: `p50 ..  p99 ..  p99.9 ..  max ..`.
pub(super) fn latency_line(latency: &Latency) -> String {
    format!(
        "p50 {}  p99 {}  p99.9 {}  max {}",
        micros(latency.p50),
        micros(latency.p99),
        micros(latency.p999),
        micros(latency.max)
    )
}

/// A latency in µs, shown in ms from 10 ms up.
pub(super) fn micros(us: u64) -> String {
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
    fn errors_are_counted_by_code() {
        let mut errors = Errors::default();
        errors.record(&ClientError::Api {
            status: 404,
            code: "GROUP_NOT_FOUND".into(),
            message: "no group".into(),
        });
        let mut other = Errors::default();
        other.record(&ClientError::Decode("bad".into()));
        other.record(&ClientError::Decode("worse".into()));
        errors.merge(other);
        assert_eq!(errors.total, 3);
        assert_eq!(errors.by_code["DECODE"], 2);
        assert_eq!(
            errors.render_lines("errors"),
            [
                "  errors     3 (DECODE 2, GROUP_NOT_FOUND 1)",
                "  first error: GROUP_NOT_FOUND: no group (HTTP 404)",
            ]
        );
    }

    #[test]
    fn retries_and_final_failures_are_in_the_summary_and_the_json() {
        let mut errors = Errors::default();
        errors.record(&ClientError::Decode("bad".into()));
        let report = Report {
            server: "http://127.0.0.1:7700".into(),
            topic: "bench".into(),
            http2: false,
            size: 8,
            batch: 1,
            concurrency: 1,
            elapsed_s: 1.0,
            interrupted: false,
            messages: 10,
            requests: 10,
            msgs_per_s: 10.0,
            requests_per_s: 10.0,
            mb_per_s: 0.0,
            latency_us: Latency::from_histogram(&Histogram::new(3).unwrap()),
            flush_timeouts: 0,
            retries: Retries {
                retries: 4,
                retried_requests: 3,
                failed_stored: 1,
                failed_not_stored: 0,
                failed_unknown: 0,
            },
            errors,
        };
        let text = report.render();
        assert!(
            text.contains("  retries    4 (3 requests needed more than one attempt)\n"),
            "{text}"
        );
        assert!(
            text.contains("  failed     1 stored after all, 0 not stored, 0 unknown\n"),
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["retries"]["retries"], 4);
        assert_eq!(json["retries"]["failed_stored"], 1);
    }

    #[test]
    fn latencies_are_readable() {
        assert_eq!(micros(950), "950 µs");
        assert_eq!(micros(12_345), "12.3 ms");
        assert_eq!(rate(10.0, Duration::from_millis(500)), 20.0);
        assert_eq!(rate(10.0, Duration::ZERO), 0.0);
    }
}

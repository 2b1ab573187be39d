//! The connection layer's figures for `GET /metrics`, read from [`ConnectionStats`] at
//! each scrape.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::registry::ConnectionStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Renders `weir_http_connections` (open), `weir_http_connection_limit` (the effective
/// cap), and the counters `weir_http_connections_accepted_total`,
/// `weir_http_connections_refused_total`, `weir_http_accept_errors_total`,
/// `weir_http_connections_shed_total{reason}` (`idle`, `header`, `write`, `evicted`),
/// `weir_http_body_timeouts_total`, `weir_http_connection_request_limit_total` and
/// `weir_http_parse_errors_total`.
#[derive(Debug)]
pub(crate) struct ConnectionCollector {
    pub(crate) stats: Arc<ConnectionStats>,
}

fn gauge(value: u64) -> ConstGauge {
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Collector for ConnectionCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let counts = self.stats.counts();
        for (name, help, value) in [
            (
                "weir_http_connections",
                "HTTP connections open",
                counts.open,
            ),
            (
                "weir_http_connection_limit",
                "The effective cap on open HTTP connections (configured maximum or file \
                 descriptor budget, whichever is lower)",
                counts.cap,
            ),
        ] {
            let gauge = gauge(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        for (name, help, value) in [
            (
                "weir_http_connections_accepted",
                "HTTP connections accepted",
                counts.accepted,
            ),
            (
                "weir_http_connections_refused",
                "HTTP connections answered 503 TOO_MANY_CONNECTIONS at the cap",
                counts.refused,
            ),
            (
                "weir_http_accept_errors",
                "Failed accepts of HTTP connections (e.g. out of file descriptors)",
                counts.accept_errors,
            ),
            (
                "weir_http_body_timeouts",
                "Request bodies cut off for stalling or arriving below the minimum rate",
                counts.body_timeouts,
            ),
            (
                "weir_http_connection_request_limit",
                "HTTP connections closed after their per-connection request limit",
                counts.request_limit_reached,
            ),
            (
                "weir_http_parse_errors",
                "Requests that were not valid HTTP, answered with a JSON error",
                counts.parse_errors,
            ),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let mut metric = encoder.encode_descriptor(
            "weir_http_connections_shed",
            "HTTP connections the server closed, by reason (idle, header, write, evicted)",
            None,
            ConstCounter::new(0u64).metric_type(),
        )?;
        for (reason, value) in counts.shed {
            ConstCounter::new(value).encode(metric.encode_family(&ReasonLabels { reason })?)?;
        }
        Ok(())
    }
}

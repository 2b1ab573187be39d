//! Prometheus metrics: what the broker counts and how it is rendered for `GET /metrics`.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use weir_store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

/// The broker's metrics registry and its handles.
pub struct Metrics {
    registry: Registry,
    messages_in: Family<TopicLabels, Counter>,
    bytes_in: Family<TopicLabels, Counter>,
    send_latency: Histogram,
    flush_latency: Histogram,
    store_size: Gauge,
    requests: Family<RequestLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Latency buckets from 10 µs to about 10 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_01, 2.0, 21)
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let messages_in = Family::<TopicLabels, Counter>::default();
        let bytes_in = Family::<TopicLabels, Counter>::default();
        let send_latency = Histogram::new(latency_buckets());
        let flush_latency = Histogram::new(latency_buckets());
        let store_size = Gauge::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "weir_messages_in",
            "Messages stored, by topic",
            messages_in.clone(),
        );
        registry.register(
            "weir_bytes_in",
            "Message body bytes stored, by topic",
            bytes_in.clone(),
        );
        registry.register(
            "weir_send_latency_seconds",
            "Time from a send request's arrival to its answer",
            send_latency.clone(),
        );
        registry.register(
            "weir_flush_latency_seconds",
            "Duration of commitlog fsyncs",
            flush_latency.clone(),
        );
        registry.register(
            "weir_store_size_bytes",
            "Bytes the commitlog occupies on disk",
            store_size.clone(),
        );
        registry.register(
            "weir_http_requests",
            "HTTP requests, by route and status",
            requests.clone(),
        );
        Self {
            registry,
            messages_in,
            bytes_in,
            send_latency,
            flush_latency,
            store_size,
            requests,
        }
    }

    /// Feeds the store's fsync durations into the flush latency histogram.
    pub fn observe_store(&self, store: &Store) {
        let flush_latency = self.flush_latency.clone();
        store.set_flush_observer(Arc::new(move |took: Duration| {
            flush_latency.observe(took.as_secs_f64());
        }));
    }

    pub(crate) fn observe_send(&self, topic: &str, messages: u64, bytes: u64, took: Duration) {
        let labels = TopicLabels {
            topic: topic.to_string(),
        };
        self.messages_in.get_or_create(&labels).inc_by(messages);
        self.bytes_in.get_or_create(&labels).inc_by(bytes);
        self.send_latency.observe(took.as_secs_f64());
    }

    pub(crate) fn observe_request(&self, route: &'static str, status: StatusCode, _took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                status: status.as_u16(),
            })
            .inc();
    }

    /// Renders the Prometheus text format.
    pub fn render(&self, store: &Store) -> String {
        self.store_size
            .set(i64::try_from(store.stats().disk_bytes).unwrap_or(i64::MAX));
        let mut out = String::new();
        if let Err(err) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %err, "metrics encoding failed");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

//! Prometheus metrics: what the broker counts and how it is rendered for `GET /metrics`.
//!
//! Request and send figures are counted here as requests pass. Consumer group figures
//! are not: the core counts them, and `GroupCollector` reads them from
//! [`Broker::group_stats`] at each scrape, so a deleted group disappears from the output
//! and a recreated one starts again from zero. The timer service's figures are read the
//! same way (`ScheduleCollector`), except for timer lateness, which the core reports as
//! each timer fires (see [`Metrics::observe_timers`]).

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use weir_core::{Broker, GroupCounters};
use weir_store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
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
    timer_lateness: Histogram,
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

/// Timer lateness buckets from 1 ms (the timers' resolution) to about 65 s.
fn lateness_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
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
        let timer_lateness = Histogram::new(lateness_buckets());
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
        registry.register(
            "weir_timer_lateness_seconds",
            "How late timers (delays, redeliveries, check-backs) fired after their due time",
            timer_lateness.clone(),
        );
        Self {
            registry,
            messages_in,
            bytes_in,
            send_latency,
            flush_latency,
            store_size,
            requests,
            timer_lateness,
        }
    }

    /// Feeds the timer service's lateness into its histogram, and reports the pending
    /// delayed messages and timers at each scrape.
    pub fn observe_timers(&mut self, broker: Arc<Broker>) {
        let lateness = self.timer_lateness.clone();
        broker.set_timer_lateness_observer(move |late: Duration| {
            lateness.observe(late.as_secs_f64());
        });
        self.registry
            .register_collector(Box::new(ScheduleCollector { broker }));
    }

    /// Reports the broker's consumer groups at each scrape: delivery counters and lag
    /// per group, read from the core when `/metrics` is rendered.
    pub fn observe_groups(&mut self, broker: Arc<Broker>) {
        self.registry
            .register_collector(Box::new(GroupCollector { broker }));
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

/// Per-group delivery counters and backlog, computed when `/metrics` is scraped.
///
/// Renders `weir_group_{delivered,redelivered,acked,nacked,dead_lettered}_total`
/// (counters since the broker started) and `weir_group_lag` (a gauge: messages of the
/// group not yet done), each labelled with `group`.
#[derive(Debug)]
pub(crate) struct GroupCollector {
    broker: Arc<Broker>,
}

/// The group counters, as (metric name without `_total`, help), in the order of
/// [`counter_values`].
const GROUP_COUNTERS: [(&str, &str); 5] = [
    (
        "weir_group_delivered",
        "Deliveries (first and later) by consumer group",
    ),
    (
        "weir_group_redelivered",
        "Deliveries after the first by consumer group",
    ),
    ("weir_group_acked", "Acks taken by consumer group"),
    ("weir_group_nacked", "Nacks taken by consumer group"),
    (
        "weir_group_dead_lettered",
        "Messages moved to the dead-letter queue by consumer group",
    ),
];

fn counter_values(c: &GroupCounters) -> [u64; 5] {
    [
        c.delivered,
        c.redelivered,
        c.acked,
        c.nacked,
        c.dead_lettered,
    ]
}

impl Collector for GroupCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.broker.group_stats();
        for (index, (name, help)) in GROUP_COUNTERS.into_iter().enumerate() {
            let counter = ConstCounter::new(0u64);
            let mut metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            for (config, counters, _) in &stats {
                let labels = GroupLabels {
                    group: config.name.clone(),
                };
                let value = counter_values(counters).get(index).copied().unwrap_or(0);
                ConstCounter::new(value).encode(metric.encode_family(&labels)?)?;
            }
        }
        let gauge = ConstGauge::new(0i64);
        let mut metric = encoder.encode_descriptor(
            "weir_group_lag",
            "Messages not yet done by consumer group, over all its queues",
            None,
            gauge.metric_type(),
        )?;
        for (config, _, lag) in &stats {
            let labels = GroupLabels {
                group: config.name.clone(),
            };
            ConstGauge::new(i64::try_from(*lag).unwrap_or(i64::MAX))
                .encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Pending delayed messages, timers and undecided transactions, read when `/metrics` is
/// scraped: the gauges `weir_delayed_pending`, `weir_timers_pending` and
/// `weir_transactions_undecided`.
#[derive(Debug)]
pub(crate) struct ScheduleCollector {
    broker: Arc<Broker>,
}

impl Collector for ScheduleCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let gauges = [
            (
                "weir_delayed_pending",
                "Delayed messages waiting to be delivered",
                self.broker.pending_delayed(),
            ),
            (
                "weir_timers_pending",
                "Pending timers of every kind (delays, redeliveries, check-backs)",
                self.broker.pending_timers() as u64,
            ),
            (
                "weir_transactions_undecided",
                "Transactions without a decision, parked ones included",
                self.broker.undecided_transactions() as u64,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

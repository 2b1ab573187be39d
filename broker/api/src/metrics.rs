//! Prometheus metrics: what the broker counts and how it is rendered for `GET /metrics`.
//!
//! Request and send figures are counted here as requests pass. Consumer group figures
//! are not: the core counts them, and `GroupCollector` reads them from
//! [`Broker::group_stats`] at each scrape, so a deleted group disappears from the output
//! and a recreated one starts again from zero. The timer service's figures are read the
//! same way (`ScheduleCollector`), except for timer lateness, which the core reports as
//! each timer fires (see [`Metrics::observe_timers`]). Plugin bindings' figures are read
//! from the plugin host at each scrape (`BindingCollector`), so a deleted binding
//! disappears and a changed one keeps its counters.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use weir_core::{Broker, GroupCounters};
use weir_plugin::metrics::LATENCY_BUCKETS_US;
use weir_plugin::{BindingMetrics, PluginHost, RunState};
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
    store_resource_errors: Gauge,
    store_degraded: Gauge,
    store_poisoned: Gauge,
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
        let store_resource_errors = Gauge::default();
        let store_degraded = Gauge::default();
        let store_poisoned = Gauge::default();
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
            "weir_store_resource_errors",
            "Transient resource errors (EMFILE, ENOSPC, ...) of the store's retried \
             operations since the broker started",
            store_resource_errors.clone(),
        );
        registry.register(
            "weir_store_degraded",
            "1 while a retried store operation is failing or the disk is over its watermark",
            store_degraded.clone(),
        );
        registry.register(
            "weir_store_poisoned",
            "1 once a failed fsync made the store refuse writes until a restart",
            store_poisoned.clone(),
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
            store_resource_errors,
            store_degraded,
            store_poisoned,
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

    /// Reports the plugin host's bindings at each scrape: calls, messages, outcomes,
    /// failures, instantiations, call latency and run state per binding.
    pub fn observe_plugins(&mut self, host: PluginHost) {
        self.registry
            .register_collector(Box::new(BindingCollector { host }));
    }

    /// Reports the HTTP connection layer's figures at each scrape (see
    /// `ConnectionCollector`).
    pub(crate) fn observe_connections(&mut self, stats: Arc<crate::ConnectionStats>) {
        self.registry.register_collector(Box::new(
            crate::connection::metrics::ConnectionCollector { stats },
        ));
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
        let stats = store.stats();
        self.store_size
            .set(i64::try_from(stats.disk_bytes).unwrap_or(i64::MAX));
        self.store_resource_errors
            .set(i64::try_from(stats.resource_errors).unwrap_or(i64::MAX));
        self.store_degraded
            .set(i64::from(!stats.degraded.is_empty() || stats.disk_full));
        self.store_poisoned.set(i64::from(stats.poisoned));
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BindingLabels {
    binding: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    binding: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    binding: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    binding: String,
    state: &'static str,
}

/// Per-binding figures of the plugin host, read when `/metrics` is scraped.
///
/// Renders, each labelled with `binding`: the counters `weir_binding_calls_total`,
/// `weir_binding_messages_total`, `weir_binding_instantiations_total`,
/// `weir_plugin_log_lines_total`, `weir_plugin_log_lines_suppressed_total`,
/// `weir_plugin_log_bytes_suppressed_total`,
/// `weir_binding_outcomes_total{outcome}` (consumer outcomes `acked`, `retried`,
/// `dead_lettered` and `failed` (nacked because their call failed), checker answers
/// `commit`, `rollback`, `unknown`, dedup filter answers `key` and `duplicate`) and
/// `weir_binding_failures_total{kind}` (`trap`, `timeout`, `memory_limit`,
/// `wrong_length`); the histogram `weir_binding_call_latency_seconds`; and the gauge
/// `weir_binding_state{state}`, 1 for the binding's current state (`running`, `paused`,
/// `quarantined`) and 0 for the others.
#[derive(Debug)]
pub(crate) struct BindingCollector {
    host: PluginHost,
}

/// Reads one counter from a binding's snapshot.
type Read = fn(&BindingMetrics) -> u64;

/// Outcome label values with how to read them from a snapshot.
const BINDING_OUTCOMES: [(&str, Read); 9] = [
    ("acked", |m| m.acked),
    ("retried", |m| m.retried),
    ("dead_lettered", |m| m.dead_lettered),
    ("failed", |m| m.failed_messages),
    ("commit", |m| m.commits),
    ("rollback", |m| m.rollbacks),
    ("unknown", |m| m.unknowns),
    ("key", |m| m.keys),
    ("duplicate", |m| m.duplicates),
];

/// Failure kind label values with how to read them from a snapshot.
const BINDING_FAILURES: [(&str, Read); 4] = [
    ("trap", |m| m.traps),
    ("timeout", |m| m.timeouts),
    ("memory_limit", |m| m.memory_limits),
    ("wrong_length", |m| m.wrong_lengths),
];

/// Per-binding counters without extra labels: (metric name without `_total`, help,
/// value).
const BINDING_COUNTERS: [(&str, &str, Read); 6] = [
    (
        "weir_binding_calls",
        "Calls into a binding's plugin, failed ones included",
        |m| m.calls,
    ),
    (
        "weir_binding_messages",
        "Messages handed to a binding's plugin",
        |m| m.messages,
    ),
    (
        "weir_binding_instantiations",
        "Plugin instances a binding created (a new one after each failure and module change)",
        |m| m.instantiations,
    ),
    (
        "weir_plugin_log_lines",
        "Log lines a binding's plugin wrote to the broker's log",
        |m| m.log_lines,
    ),
    (
        "weir_plugin_log_lines_suppressed",
        "Log lines of a binding's plugin dropped past the binding's log budget",
        |m| m.log_lines_suppressed,
    ),
    (
        "weir_plugin_log_bytes_suppressed",
        "Bytes of the log lines of a binding's plugin dropped past its log budget",
        |m| m.log_bytes_suppressed,
    ),
];

fn run_state_name(run: &RunState) -> &'static str {
    match run {
        RunState::Running => "running",
        RunState::Paused => "paused",
        RunState::Quarantined { .. } => "quarantined",
    }
}

impl Collector for BindingCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let bindings = self.host.status().bindings;
        for (name, help, value) in BINDING_COUNTERS {
            let mut metric = encoder.encode_descriptor(
                name,
                help,
                None,
                ConstCounter::new(0u64).metric_type(),
            )?;
            for binding in &bindings {
                let labels = BindingLabels {
                    binding: binding.config.name.clone(),
                };
                ConstCounter::new(value(&binding.metrics))
                    .encode(metric.encode_family(&labels)?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "weir_binding_outcomes",
            "Outcomes of a binding's calls, by outcome",
            None,
            ConstCounter::new(0u64).metric_type(),
        )?;
        for binding in &bindings {
            for (outcome, value) in BINDING_OUTCOMES {
                let labels = OutcomeLabels {
                    binding: binding.config.name.clone(),
                    outcome,
                };
                ConstCounter::new(value(&binding.metrics))
                    .encode(metric.encode_family(&labels)?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "weir_binding_failures",
            "Failed calls of a binding, by kind",
            None,
            ConstCounter::new(0u64).metric_type(),
        )?;
        for binding in &bindings {
            for (kind, value) in BINDING_FAILURES {
                let labels = FailureLabels {
                    binding: binding.config.name.clone(),
                    kind,
                };
                ConstCounter::new(value(&binding.metrics))
                    .encode(metric.encode_family(&labels)?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "weir_binding_call_latency_seconds",
            "Duration of calls into a binding's plugin",
            None,
            MetricType::Histogram,
        )?;
        for binding in &bindings {
            let labels = BindingLabels {
                binding: binding.config.name.clone(),
            };
            let m = &binding.metrics;
            // The host counts per bucket (not cumulatively); the last bucket holds the
            // calls slower than every bound.
            let buckets: Vec<(f64, u64)> = m
                .latency_buckets
                .iter()
                .enumerate()
                .map(|(i, &count)| {
                    let bound = LATENCY_BUCKETS_US
                        .get(i)
                        .map_or(f64::MAX, |&us| us as f64 / 1e6);
                    (bound, count)
                })
                .collect();
            let count = m.latency_buckets.iter().sum();
            metric
                .encode_family(&labels)?
                .encode_histogram::<BindingLabels>(
                    m.latency_sum_us as f64 / 1e6,
                    count,
                    &buckets,
                    None,
                )?;
        }
        let mut metric = encoder.encode_descriptor(
            "weir_binding_state",
            "1 for a binding's current run state (running, paused, quarantined), else 0",
            None,
            ConstGauge::new(0i64).metric_type(),
        )?;
        for binding in &bindings {
            let current = run_state_name(&binding.config.run);
            for state in ["running", "paused", "quarantined"] {
                let labels = StateLabels {
                    binding: binding.config.name.clone(),
                    state,
                };
                ConstGauge::new(i64::from(state == current))
                    .encode(metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

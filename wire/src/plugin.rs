//! The JSON shapes of plugins: worlds, module versions, binding targets and grants,
//! binding configurations, counters and health, and the broker's status page.
//!
//! The plugin host keeps its modules and bindings in these types (its catalog persists
//! [`ModuleInfo`] and [`BindingConfig`] as they serialize here), so what the broker
//! answers is what it stores. Clients parse them leniently: counters and fields a newer
//! broker adds are ignored. Two shapes are strict on both sides: [`TargetSpec`] (a
//! request: a misspelt option is an error) and [`Grants`] (a permission this side does not
//! know is refused, never silently dropped).

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The role a module plays: one world of the `weir:plugin` WIT package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum World {
    /// `consumer-plugin`: handles batches of a consumer group.
    #[serde(rename = "consumer-plugin")]
    Consumer,
    /// `dedup-filter-plugin`: names the business identity (dedup key) of a message.
    #[serde(rename = "dedup-filter-plugin")]
    DedupFilter,
    /// `tx-checker-plugin`: answers transaction check-backs.
    #[serde(rename = "tx-checker-plugin")]
    TxChecker,
}

impl World {
    /// Every world.
    pub const ALL: [World; 3] = [World::Consumer, World::DedupFilter, World::TxChecker];

    /// The world's WIT name (`consumer-plugin`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            World::Consumer => "consumer-plugin",
            World::DedupFilter => "dedup-filter-plugin",
            World::TxChecker => "tx-checker-plugin",
        }
    }

    /// The short name (`consumer`, `dedup-filter`, `tx-checker`), as the binding kinds.
    pub fn short_name(self) -> &'static str {
        match self {
            World::Consumer => "consumer",
            World::DedupFilter => "dedup-filter",
            World::TxChecker => "tx-checker",
        }
    }

    /// The fully qualified interface a module of this world exports.
    pub fn interface(self) -> &'static str {
        match self {
            World::Consumer => "weir:plugin/consumer@0.1.0",
            World::DedupFilter => "weir:plugin/dedup-filter@0.1.0",
            World::TxChecker => "weir:plugin/tx-checker@0.1.0",
        }
    }

    /// The functions that interface holds.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            World::Consumer => &["handle"],
            World::DedupFilter => &["dedup-key"],
            World::TxChecker => &["check"],
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for World {
    type Err = String;

    /// Parses a WIT world name or its short form (`consumer`, `dedup-filter`,
    /// `tx-checker`).
    fn from_str(text: &str) -> Result<World, String> {
        World::ALL
            .into_iter()
            .find(|world| text == world.as_str() || text == world.short_name())
            .ok_or_else(|| {
                format!(
                    "unknown world '{text}': expected consumer, dedup-filter or tx-checker \
                     (or their WIT names consumer-plugin, dedup-filter-plugin, \
                     tx-checker-plugin)"
                )
            })
    }
}

/// One uploaded version of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// The module name.
    pub name: String,
    /// Its version, from 1; each upload of new bytes adds one.
    pub version: u32,
    /// The world it was validated against.
    pub world: World,
    /// SHA-256 of the uploaded component, lowercase hex; names its files.
    pub sha256: String,
    /// Size of the uploaded component in bytes.
    pub size: u64,
    /// SHA-256 of the broker's precompiled artifact, checked before loading it.
    pub artifact_sha256: String,
    /// How long compiling took, ms.
    pub compile_ms: u64,
    /// When it was uploaded, ms since the Unix epoch.
    pub uploaded_ms: i64,
}

/// A module version with what it exports and whether it can run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleStatus {
    /// The version's registry entry.
    #[serde(flatten)]
    pub info: ModuleInfo,
    /// The interfaces the component exports (`weir:plugin/consumer@0.1.0`, ...); empty
    /// when it cannot run.
    #[serde(default)]
    pub exports: Vec<String>,
    /// Why it cannot run, when it cannot (its files were lost: it must be uploaded
    /// again).
    #[serde(default)]
    pub error: Option<String>,
}

impl Deref for ModuleStatus {
    type Target = ModuleInfo;

    fn deref(&self) -> &ModuleInfo {
        &self.info
    }
}

/// A module with every version, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    /// The module name.
    pub name: String,
    /// The world of its newest version.
    pub world: Option<World>,
    /// The versions.
    pub versions: Vec<ModuleStatus>,
}

/// The module versions, as `GET /v1/modules` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleList {
    /// Every version of every module.
    pub modules: Vec<ModuleStatus>,
}

/// Where a binding attaches its module, every option filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BindingTarget {
    /// A consumer module consuming a group of a topic.
    Consumer {
        /// The topic consumed.
        topic: String,
        /// The consumer group (created when missing).
        group: String,
        /// Most messages per call.
        batch_size: usize,
        /// Calls in flight at once, each with its own instance.
        concurrency: usize,
    },
    /// A transaction checker for a producer group's or a topic's half messages. When
    /// both checkers match, the producer group's is asked.
    TxChecker {
        /// Half messages sent by this producer group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        producer_group: Option<String>,
        /// Half messages for this topic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    /// A dedup filter: on the send side of a topic, or the consume side of a group.
    DedupFilter {
        /// Sends to this topic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// Deliveries to this group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        /// How long a key counts as seen, ms.
        window_ms: u64,
    },
}

impl BindingTarget {
    /// The world a module must have to be bound here.
    pub fn world(&self) -> World {
        match self {
            BindingTarget::Consumer { .. } => World::Consumer,
            BindingTarget::TxChecker { .. } => World::TxChecker,
            BindingTarget::DedupFilter { .. } => World::DedupFilter,
        }
    }

    /// Where it is attached, in a few words: `group billing on orders`, `topic orders`,
    /// `producer group shop`, ...
    pub fn describe(&self) -> String {
        match self {
            BindingTarget::Consumer { topic, group, .. } => format!("group {group} on {topic}"),
            BindingTarget::TxChecker {
                producer_group,
                topic,
            } => match (producer_group, topic) {
                (Some(producer), Some(topic)) => {
                    format!("producer group {producer}, topic {topic}")
                }
                (Some(producer), None) => format!("producer group {producer}"),
                (None, Some(topic)) => format!("topic {topic}"),
                (None, None) => "-".to_owned(),
            },
            BindingTarget::DedupFilter { topic, group, .. } => match (topic, group) {
                (Some(topic), _) => format!("topic {topic}"),
                (None, Some(group)) => format!("group {group}"),
                (None, None) => "-".to_owned(),
            },
        }
    }
}

/// A target as a binding request asks for it: [`BindingTarget`] with the options left
/// to the broker's defaults when unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TargetSpec {
    /// See [`BindingTarget::Consumer`].
    Consumer {
        /// The topic consumed.
        topic: String,
        /// The group (created when missing).
        group: String,
        /// Most messages per call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch_size: Option<usize>,
        /// Calls in flight at once (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        concurrency: Option<usize>,
    },
    /// See [`BindingTarget::TxChecker`]; at least one of the two.
    TxChecker {
        /// A producer group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        producer_group: Option<String>,
        /// A topic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    /// See [`BindingTarget::DedupFilter`]; exactly one of topic and group.
    DedupFilter {
        /// A topic (send side).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// A group (consume side).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        /// Default: the broker's dedup window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window_ms: Option<u64>,
    },
}

impl TargetSpec {
    /// The world a module must have to be bound here.
    pub fn world(&self) -> World {
        match self {
            TargetSpec::Consumer { .. } => World::Consumer,
            TargetSpec::TxChecker { .. } => World::TxChecker,
            TargetSpec::DedupFilter { .. } => World::DedupFilter,
        }
    }
}

/// What a binding may do beyond computing, logging and its own state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// The plugin may publish messages (consumer bindings only).
    #[serde(default)]
    pub publish: bool,
    /// URL prefixes (plain `http://`) its outbound HTTP requests may reach.
    #[serde(default)]
    pub http_allowlist: Vec<String>,
}

/// Whether a binding runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum RunState {
    /// Running.
    Running,
    /// Paused by an administrator.
    Paused,
    /// Paused by the broker after too many failed calls in a row; resuming clears it.
    Quarantined {
        /// The last failure.
        error: String,
    },
}

impl RunState {
    /// `running`, `paused` or `quarantined`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Quarantined { .. } => "quarantined",
        }
    }
}

/// A binding's configuration, as the broker stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingConfig {
    /// The binding name.
    pub name: String,
    /// The module name.
    pub module: String,
    /// The pinned version, or `None` to follow the newest.
    pub version: Option<u32>,
    /// Where it is attached, every option filled in.
    pub target: BindingTarget,
    /// Deadline of one call, ms.
    pub deadline_ms: u64,
    /// Memory cap of one instance, bytes.
    pub memory_bytes: usize,
    /// Quota of its key-value state, bytes.
    pub state_bytes: usize,
    /// The string handed to the plugin with every call.
    pub config: String,
    /// What it may do.
    pub grants: Grants,
    /// Running, paused or quarantined (durable: a paused binding stays paused across a
    /// restart).
    pub run: RunState,
    /// When it was created, ms since the Unix epoch.
    pub created_ms: i64,
}

/// A snapshot of one binding's counters since the broker started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BindingMetrics {
    /// Calls into the plugin, successful or not.
    pub calls: u64,
    /// Calls that failed (trap, timeout, memory cap, wrong answer, instantiation).
    pub failed_calls: u64,
    /// Messages handed to the plugin.
    pub messages: u64,
    /// Consumer outcomes: acked.
    pub acked: u64,
    /// Consumer outcomes: retried.
    pub retried: u64,
    /// Consumer outcomes: dead-lettered.
    pub dead_lettered: u64,
    /// Messages nacked because their batch failed.
    pub failed_messages: u64,
    /// Checker answers: commit.
    pub commits: u64,
    /// Checker answers: rollback.
    pub rollbacks: u64,
    /// Checker answers: unknown (failed calls included).
    pub unknowns: u64,
    /// Dedup filter answers with a key.
    pub keys: u64,
    /// Duplicates found with this filter's keys (sends answered with the original,
    /// deliveries acked without being handed out).
    pub duplicates: u64,
    /// Calls that trapped.
    pub traps: u64,
    /// Calls interrupted at their deadline.
    pub timeouts: u64,
    /// Calls that hit the memory cap.
    pub memory_limits: u64,
    /// Consumer answers of the wrong length.
    pub wrong_lengths: u64,
    /// Instances created (a new one after each failure and each module change).
    pub instantiations: u64,
    /// Messages published by the plugin.
    pub published: u64,
    /// Outbound HTTP requests made.
    pub http_requests: u64,
    /// Outbound HTTP requests refused (allowlist, limits) or failed.
    pub http_failures: u64,
    /// Log lines the plugin wrote to the broker's log.
    pub log_lines: u64,
    /// Log lines dropped because the binding's log budget was spent.
    pub log_lines_suppressed: u64,
    /// Bytes of the messages of those lines.
    pub log_bytes_suppressed: u64,
    /// Sum of call latencies, µs.
    pub latency_sum_us: u64,
    /// Calls per latency bucket (not cumulative; one more bucket than the broker's
    /// bounds, for the slower calls).
    pub latency_buckets: Vec<u64>,
}

/// A binding's configuration, health and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingStatus {
    /// The stored configuration, with its run state.
    pub config: BindingConfig,
    /// The module version calls go to now, if it resolves.
    #[serde(default)]
    pub module_version: Option<u32>,
    /// Failed calls in a row (reset by a successful call or a resume).
    #[serde(default)]
    pub consecutive_failures: u32,
    /// The last failure, if any.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When it happened, ms since the Unix epoch.
    #[serde(default)]
    pub last_error_ms: Option<i64>,
    /// Entries in its key-value state.
    #[serde(default)]
    pub state_entries: usize,
    /// Bytes in its key-value state.
    #[serde(default)]
    pub state_bytes_used: usize,
    /// Counters.
    #[serde(default)]
    pub metrics: BindingMetrics,
}

impl Deref for BindingStatus {
    type Target = BindingConfig;

    fn deref(&self) -> &BindingConfig {
        &self.config
    }
}

/// The bindings, as `GET /v1/bindings` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingList {
    /// Every binding.
    pub bindings: Vec<BindingStatus>,
}

/// The broker's status: uptime, counts, and every module and binding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerStatus {
    /// Time since the broker started, ms.
    pub uptime_ms: u64,
    /// Topics.
    pub topics: u64,
    /// Consumer groups.
    pub groups: u64,
    /// Every module version.
    #[serde(default)]
    pub modules: Vec<ModuleStatus>,
    /// Every binding.
    #[serde(default)]
    pub bindings: Vec<BindingStatus>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn world_names_round_trip() {
        for world in World::ALL {
            assert_eq!(world.as_str().parse::<World>(), Ok(world));
            assert_eq!(world.short_name().parse::<World>(), Ok(world));
            let json = serde_json::to_string(&world).unwrap();
            assert_eq!(json, format!("\"{}\"", world.as_str()));
        }
        assert!("consumer-plugins".parse::<World>().is_err());
    }

    #[test]
    fn a_binding_status_parses_with_fields_and_counters_it_does_not_know() {
        let status: BindingStatus = serde_json::from_value(json!({
            "config": {"name": "b", "module": "m", "version": null,
                "target": {"kind": "consumer", "topic": "t", "group": "g", "batch_size": 32,
                    "concurrency": 1, "priority": 3},
                "deadline_ms": 100, "memory_bytes": 65536, "state_bytes": 0, "config": "",
                "grants": {"publish": true}, "run": {"state": "quarantined", "error": "trap"},
                "created_ms": 1, "labels": {}},
            "metrics": {"calls": 4, "gpu_seconds": 1},
            "shard": 7
        }))
        .unwrap();
        assert_eq!(status.metrics.calls, 4);
        assert_eq!(status.run.as_str(), "quarantined");
        assert_eq!(status.target.describe(), "group g on t");
        assert_eq!(status.target.world(), World::Consumer);
    }

    #[test]
    fn requests_and_grants_are_strict() {
        let spec = serde_json::from_value::<TargetSpec>(
            json!({"kind": "consumer", "topic": "t", "group": "g", "batch": 3}),
        );
        assert!(
            spec.unwrap_err()
                .to_string()
                .contains("unknown field `batch`")
        );
        let grants = serde_json::from_value::<Grants>(json!({"publish": true, "admin": true}));
        assert!(
            grants
                .unwrap_err()
                .to_string()
                .contains("unknown field `admin`")
        );
        let spec = TargetSpec::DedupFilter {
            topic: Some("t".into()),
            group: None,
            window_ms: None,
        };
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({"kind": "dedup-filter", "topic": "t"})
        );
        assert_eq!(spec.world(), World::DedupFilter);
    }
}

//! Bindings: what a client asks for ([`BindingSpec`]), validated into what the host
//! stores ([`BindingConfig`]), and what it reports ([`BindingStatus`]).
//!
//! A binding attaches a module to its place: a consumer module to a consumer group (the
//! group is created on the topic with the group defaults when missing; an existing group
//! must consume that topic), a transaction checker to a producer group or a topic, a
//! dedup filter to a topic (send side) or a group (consume side).

use crate::PluginError;
use crate::http::AllowedPrefix;
use crate::limits::{
    DEFAULT_BATCH_SIZE, DEFAULT_DEADLINE_MS, DEFAULT_MEMORY_BYTES, DEFAULT_STATE_BYTES,
    MAX_ALLOWLIST, MAX_BATCH_SIZE, MAX_CONCURRENCY, MAX_CONFIG_BYTES, MAX_DEADLINE_MS,
    MAX_MEMORY_BYTES, MAX_NAME_LEN, MAX_STATE_BYTES,
};

pub use weir_wire::plugin::{
    BindingConfig, BindingStatus, BindingTarget, Grants, RunState, TargetSpec,
};

/// What a client asks for; unset fields take the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingSpec {
    /// The binding name.
    pub name: String,
    /// The module name.
    pub module: String,
    /// A pinned version; unset follows the latest (a new upload takes over at the next
    /// batch).
    pub version: Option<u32>,
    /// Where it is attached; see [`TargetSpec`].
    pub target: TargetSpec,
    /// Deadline of one call, ms (default [`DEFAULT_DEADLINE_MS`]).
    pub deadline_ms: Option<u64>,
    /// Memory cap of one instance, bytes (default [`DEFAULT_MEMORY_BYTES`]).
    pub memory_bytes: Option<usize>,
    /// Quota of the binding's key-value state, bytes (default [`DEFAULT_STATE_BYTES`], at
    /// most [`MAX_STATE_BYTES`]).
    pub state_bytes: Option<usize>,
    /// Handed to the plugin with every call.
    pub config: String,
    /// What it may do.
    pub grants: Grants,
}

/// Checks a module or binding name: 1 to 127 characters of `A-Z a-z 0-9 _ -`.
pub(crate) fn check_name(name: &str) -> Result<(), PluginError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 127 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Some("only A-Z a-z 0-9 _ - are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(PluginError::InvalidName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

impl BindingSpec {
    /// Validates the spec and fills in defaults. `dedup_window_ms` is the broker's.
    pub(crate) fn validate(
        self,
        dedup_window_ms: u64,
        now_ms: i64,
    ) -> Result<BindingConfig, PluginError> {
        check_name(&self.name)?;
        check_name(&self.module)?;
        let invalid = |text: String| Err(PluginError::InvalidBinding(text));
        let deadline_ms = self.deadline_ms.unwrap_or(DEFAULT_DEADLINE_MS);
        if deadline_ms == 0 || deadline_ms > MAX_DEADLINE_MS {
            return invalid(format!(
                "deadline_ms must be 1 to {MAX_DEADLINE_MS}, got {deadline_ms}"
            ));
        }
        let memory_bytes = self.memory_bytes.unwrap_or(DEFAULT_MEMORY_BYTES);
        if !(64 * 1024..=MAX_MEMORY_BYTES).contains(&memory_bytes) {
            return invalid(format!(
                "memory_bytes must be 65536 to {MAX_MEMORY_BYTES}, got {memory_bytes}"
            ));
        }
        let state_bytes = self.state_bytes.unwrap_or(DEFAULT_STATE_BYTES);
        if state_bytes > MAX_STATE_BYTES {
            return invalid(format!(
                "state_bytes must be at most {MAX_STATE_BYTES} (MAX_STATE_BYTES: a binding's \
                 state is persisted as one record), got {state_bytes}"
            ));
        }
        if self.config.len() > MAX_CONFIG_BYTES {
            return invalid(format!(
                "config of {} bytes is over the limit of {MAX_CONFIG_BYTES}",
                self.config.len()
            ));
        }
        if self.grants.http_allowlist.len() > MAX_ALLOWLIST {
            return invalid(format!(
                "http_allowlist has {} entries; at most {MAX_ALLOWLIST} are allowed",
                self.grants.http_allowlist.len()
            ));
        }
        for entry in &self.grants.http_allowlist {
            AllowedPrefix::parse(entry).map_err(PluginError::InvalidBinding)?;
        }
        let target = match self.target {
            TargetSpec::Consumer {
                topic,
                group,
                batch_size,
                concurrency,
            } => {
                let batch_size = batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
                if batch_size == 0 || batch_size > MAX_BATCH_SIZE {
                    return invalid(format!(
                        "batch_size must be 1 to {MAX_BATCH_SIZE}, got {batch_size}"
                    ));
                }
                let concurrency = concurrency.unwrap_or(1);
                if concurrency == 0 || concurrency > MAX_CONCURRENCY {
                    return invalid(format!(
                        "concurrency must be 1 to {MAX_CONCURRENCY}, got {concurrency}"
                    ));
                }
                BindingTarget::Consumer {
                    topic,
                    group,
                    batch_size,
                    concurrency,
                }
            }
            TargetSpec::TxChecker {
                producer_group,
                topic,
            } => {
                if producer_group.is_none() && topic.is_none() {
                    return invalid(
                        "a transaction checker binding needs a producer_group or a topic"
                            .to_string(),
                    );
                }
                BindingTarget::TxChecker {
                    producer_group,
                    topic,
                }
            }
            TargetSpec::DedupFilter {
                topic,
                group,
                window_ms,
            } => {
                if topic.is_some() == group.is_some() {
                    return invalid(
                        "a dedup filter binding needs exactly one of topic (send side) and \
                         group (consume side)"
                            .to_string(),
                    );
                }
                BindingTarget::DedupFilter {
                    topic,
                    group,
                    window_ms: window_ms.unwrap_or(dedup_window_ms),
                }
            }
        };
        if self.grants.publish && !matches!(target, BindingTarget::Consumer { .. }) {
            return invalid("publishing can only be granted to consumer bindings".to_string());
        }
        Ok(BindingConfig {
            name: self.name,
            module: self.module,
            version: self.version,
            target,
            deadline_ms,
            memory_bytes,
            state_bytes,
            config: self.config,
            grants: self.grants,
            run: RunState::Running,
            created_ms: now_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer() -> BindingSpec {
        BindingSpec {
            name: "b".into(),
            module: "m".into(),
            version: None,
            target: TargetSpec::Consumer {
                topic: "t".into(),
                group: "g".into(),
                batch_size: None,
                concurrency: None,
            },
            deadline_ms: None,
            memory_bytes: None,
            state_bytes: None,
            config: String::new(),
            grants: Grants::default(),
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let config = consumer().validate(1, 7).unwrap();
        assert_eq!(config.deadline_ms, DEFAULT_DEADLINE_MS);
        assert_eq!(config.memory_bytes, DEFAULT_MEMORY_BYTES);
        assert_eq!(config.run, RunState::Running);
        assert!(matches!(
            config.target,
            BindingTarget::Consumer {
                batch_size: DEFAULT_BATCH_SIZE,
                concurrency: 1,
                ..
            }
        ));
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let mut spec = consumer();
        spec.deadline_ms = Some(MAX_DEADLINE_MS + 1);
        assert!(spec.validate(1, 0).is_err());
        let mut spec = consumer();
        spec.state_bytes = Some(MAX_STATE_BYTES + 1);
        let err = spec.validate(1, 0).unwrap_err().to_string();
        assert!(err.contains("MAX_STATE_BYTES"), "{err}");
        let mut spec = consumer();
        spec.state_bytes = Some(MAX_STATE_BYTES);
        assert!(spec.validate(1, 0).is_ok());
        let mut spec = consumer();
        spec.grants.http_allowlist = vec!["https://x/".into()];
        assert!(spec.validate(1, 0).is_err());
        let mut spec = consumer();
        spec.name = "a b".into();
        assert!(matches!(
            spec.validate(1, 0),
            Err(PluginError::InvalidName { .. })
        ));
        let mut spec = consumer();
        spec.grants.publish = true;
        spec.target = TargetSpec::TxChecker {
            producer_group: Some("p".into()),
            topic: None,
        };
        assert!(spec.validate(1, 0).is_err());
        let mut spec = consumer();
        spec.target = TargetSpec::TxChecker {
            producer_group: None,
            topic: None,
        };
        assert!(spec.validate(1, 0).is_err());
    }

    #[test]
    fn configs_round_trip_through_json() {
        let config = consumer().validate(1, 7).unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"kind\":\"consumer\""), "{json}");
        assert_eq!(
            serde_json::from_str::<BindingConfig>(&json).unwrap(),
            config
        );
    }
}

//! A group's configuration: what a client asks for ([`GroupSpec`]), validated into what
//! the broker stores ([`GroupConfig`]), with RocketMQ 5's defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::limits::{
    DEFAULT_BACKOFF_MS, DEFAULT_INVISIBLE_MS, DEFAULT_MAX_ATTEMPTS, MAX_BACKOFF_STEPS,
    MAX_DELIVERY_ATTEMPTS, MAX_FILTER_TAGS, MAX_INVISIBLE_MS, MAX_TAG_BYTES, MIN_INVISIBLE_MS,
    check_range,
};

/// A group name that passed validation: the same rules as topic names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName(String);

impl GroupName {
    /// Validates a user-supplied group name: 1 to 127 characters of `A-Z a-z 0-9 _ -`.
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        let reason = crate::topic::name_problem(name);
        match reason {
            Some(reason) => Err(CoreError::InvalidGroupName {
                name: name.to_string(),
                reason,
            }),
            None => Ok(Self(name.to_string())),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who gets a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupMode {
    /// Each message goes to one member of the group.
    #[default]
    Clustering,
    /// Every member instance gets every message, with its own progress.
    Broadcasting,
}

/// Where a new group (or a new broadcasting member) starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    /// Only messages sent after the group was created.
    #[default]
    Latest,
    /// Everything still stored.
    Earliest,
}

/// A tag filter: `*` (everything) or tags joined with `||`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagFilter {
    /// `None` for `*`.
    tags: Option<Vec<String>>,
}

impl TagFilter {
    /// Parses `*` or `a || b || c`.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let text = text.trim();
        if text.is_empty() || text == "*" {
            return Ok(Self { tags: None });
        }
        let tags: Vec<String> = text.split("||").map(|t| t.trim().to_string()).collect();
        if tags.len() > MAX_FILTER_TAGS {
            return Err(CoreError::InvalidArgument(format!(
                "filter has {} tags; at most {MAX_FILTER_TAGS} are allowed",
                tags.len()
            )));
        }
        for tag in &tags {
            if tag.is_empty() || tag.len() > MAX_TAG_BYTES || tag == "*" {
                return Err(CoreError::InvalidArgument(format!(
                    "filter '{text}' is not '*' or tags of 1 to {MAX_TAG_BYTES} bytes joined by '||'"
                )));
            }
        }
        Ok(Self { tags: Some(tags) })
    }

    /// Whether a message with this tag passes.
    pub fn matches(&self, tag: Option<&str>) -> bool {
        match (&self.tags, tag) {
            (None, _) => true,
            (Some(tags), Some(tag)) => tags.iter().any(|t| t == tag),
            (Some(_), None) => false,
        }
    }

    /// The filter as text.
    pub fn as_text(&self) -> String {
        match &self.tags {
            None => "*".to_string(),
            Some(tags) => tags.join(" || "),
        }
    }
}

/// What a client asks for when it creates a group; unset fields take the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group name.
    pub name: String,
    /// The topic consumed.
    pub topic: String,
    /// Clustering (default) or broadcasting.
    pub mode: Option<GroupMode>,
    /// FIFO per message group.
    pub fifo: Option<bool>,
    /// Deliveries before a message is dead-lettered (default 16).
    pub max_attempts: Option<u32>,
    /// How long a received message stays invisible (default 60 s).
    pub invisible_ms: Option<u64>,
    /// Wait before redelivery after the n-th failed attempt (default RocketMQ's schedule).
    pub backoff_ms: Option<Vec<u64>>,
    /// Tag filter (default `*`).
    pub filter: Option<String>,
    /// Where consumption starts (default latest).
    pub from: Option<StartFrom>,
}

/// A group's durable configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupConfig {
    /// The group name.
    pub name: String,
    /// The topic consumed.
    pub topic: String,
    /// Clustering or broadcasting.
    pub mode: GroupMode,
    /// FIFO per message group.
    pub fifo: bool,
    /// Deliveries before a message is dead-lettered.
    pub max_attempts: u32,
    /// Default invisible time of a received message.
    pub invisible_ms: u64,
    /// Wait before redelivery after the n-th failed attempt; the last step repeats.
    pub backoff_ms: Vec<u64>,
    /// Tag filter as text.
    pub filter: String,
    /// Where consumption started.
    pub from: StartFrom,
    /// Per queue of the topic at creation, the offset consumption starts at.
    pub start_offsets: Vec<u64>,
    /// Offset of the retry queue at creation.
    #[serde(default)]
    pub retry_start: u64,
    /// When it was created, ms since the epoch.
    pub created_ms: i64,
    /// Distinguishes this group from an earlier group of the same name, so that receipt
    /// handles of a deleted group are never taken by its successor.
    pub incarnation: u64,
}

impl GroupConfig {
    /// Validates a spec and fills in the defaults. `start_offsets` and times are set by
    /// the caller.
    pub(crate) fn from_spec(spec: GroupSpec) -> Result<Self, CoreError> {
        let name = GroupName::parse(&spec.name)?;
        let max_attempts = spec.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts == 0 || max_attempts > MAX_DELIVERY_ATTEMPTS {
            return Err(CoreError::InvalidArgument(format!(
                "max_attempts must be 1 to {MAX_DELIVERY_ATTEMPTS}, got {max_attempts}"
            )));
        }
        let invisible_ms = spec.invisible_ms.unwrap_or(DEFAULT_INVISIBLE_MS);
        check_invisible(invisible_ms)?;
        let backoff_ms = spec
            .backoff_ms
            .unwrap_or_else(|| DEFAULT_BACKOFF_MS.to_vec());
        if backoff_ms.is_empty() || backoff_ms.len() > MAX_BACKOFF_STEPS {
            return Err(CoreError::InvalidArgument(format!(
                "backoff_ms must have 1 to {MAX_BACKOFF_STEPS} steps, got {}",
                backoff_ms.len()
            )));
        }
        if let Some(step) = backoff_ms.iter().find(|&&ms| ms > MAX_INVISIBLE_MS) {
            return Err(CoreError::InvalidArgument(format!(
                "backoff step of {step} ms is over the limit of {MAX_INVISIBLE_MS} ms"
            )));
        }
        let filter = TagFilter::parse(spec.filter.as_deref().unwrap_or("*"))?;
        Ok(Self {
            name: name.as_str().to_string(),
            topic: spec.topic,
            mode: spec.mode.unwrap_or_default(),
            fifo: spec.fifo.unwrap_or(false),
            max_attempts,
            invisible_ms,
            backoff_ms,
            filter: filter.as_text(),
            from: spec.from.unwrap_or_default(),
            start_offsets: Vec::new(),
            retry_start: 0,
            created_ms: 0,
            incarnation: 0,
        })
    }

    /// The wait before the redelivery that follows failed attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let step = (attempt.max(1) as usize - 1).min(self.backoff_ms.len().saturating_sub(1));
        Duration::from_millis(self.backoff_ms.get(step).copied().unwrap_or(0))
    }
}

/// Checks an invisible time against [`MIN_INVISIBLE_MS`] and [`MAX_INVISIBLE_MS`].
pub(crate) fn check_invisible(ms: u64) -> Result<(), CoreError> {
    check_range("invisible_ms", ms, MIN_INVISIBLE_MS, MAX_INVISIBLE_MS).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_match() {
        let all = TagFilter::parse("*").unwrap();
        assert!(all.matches(None) && all.matches(Some("x")));
        let some = TagFilter::parse("a || b").unwrap();
        assert!(some.matches(Some("a")) && some.matches(Some("b")));
        assert!(!some.matches(Some("c")) && !some.matches(None));
        assert_eq!(some.as_text(), "a || b");
        assert!(TagFilter::parse("a || ").is_err());
        assert!(TagFilter::parse("a || *").is_err());
    }

    #[test]
    fn defaults_follow_rocketmq() {
        let config = GroupConfig::from_spec(GroupSpec {
            name: "g".into(),
            topic: "t".into(),
            ..GroupSpec::default()
        })
        .unwrap();
        assert_eq!(config.max_attempts, 16);
        assert_eq!(config.invisible_ms, 60_000);
        assert_eq!(config.backoff(1), Duration::from_secs(10));
        assert_eq!(config.backoff(16), Duration::from_secs(7200));
        assert_eq!(config.backoff(100), Duration::from_secs(7200));
        assert_eq!(config.mode, GroupMode::Clustering);
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        for spec in [
            GroupSpec {
                max_attempts: Some(0),
                ..GroupSpec::default()
            },
            GroupSpec {
                invisible_ms: Some(1),
                ..GroupSpec::default()
            },
            GroupSpec {
                backoff_ms: Some(vec![]),
                ..GroupSpec::default()
            },
            GroupSpec {
                filter: Some("||".into()),
                ..GroupSpec::default()
            },
        ] {
            let spec = GroupSpec {
                name: "g".into(),
                topic: "t".into(),
                ..spec
            };
            assert!(GroupConfig::from_spec(spec).is_err());
        }
    }
}

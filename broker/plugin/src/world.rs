//! The three worlds a module can claim, and what each must export.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A world of the `weir:plugin` package: the role a module plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum World {
    /// `consumer-plugin`: handles batches of a consumer group.
    #[serde(rename = "consumer-plugin")]
    Consumer,
    /// `dedup-filter-plugin`: says what the business identity of a message is.
    #[serde(rename = "dedup-filter-plugin")]
    DedupFilter,
    /// `tx-checker-plugin`: answers transaction check-backs.
    #[serde(rename = "tx-checker-plugin")]
    TxChecker,
}

/// Every world, for listings and error messages.
pub const WORLDS: [World; 3] = [World::Consumer, World::DedupFilter, World::TxChecker];

impl World {
    /// The world's WIT name.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Consumer => "consumer-plugin",
            World::DedupFilter => "dedup-filter-plugin",
            World::TxChecker => "tx-checker-plugin",
        }
    }

    /// The fully qualified interface a module of this world must export.
    pub fn interface(self) -> &'static str {
        match self {
            World::Consumer => "weir:plugin/consumer@0.1.0",
            World::DedupFilter => "weir:plugin/dedup-filter@0.1.0",
            World::TxChecker => "weir:plugin/tx-checker@0.1.0",
        }
    }

    /// The functions that interface must hold.
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

    /// Parses a world name; `consumer`, `dedup-filter` and `tx-checker` are accepted too.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "consumer-plugin" | "consumer" => Ok(World::Consumer),
            "dedup-filter-plugin" | "dedup-filter" => Ok(World::DedupFilter),
            "tx-checker-plugin" | "tx-checker" => Ok(World::TxChecker),
            other => Err(format!(
                "unknown world '{other}': expected one of consumer-plugin, \
                 dedup-filter-plugin, tx-checker-plugin"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_names_round_trip() {
        for world in WORLDS {
            assert_eq!(world.as_str().parse::<World>(), Ok(world));
            let json = serde_json::to_string(&world).unwrap();
            assert_eq!(json, format!("\"{}\"", world.as_str()));
        }
        assert!("consumer-plugins".parse::<World>().is_err());
    }
}

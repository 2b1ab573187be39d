//! The JSON shapes of transactions and producer groups: where a transaction stands after
//! a commit, rollback or resume; the listings of undecided transactions and of a group's
//! check-backs (each element a [`Half`](crate::message::Half)); and producer groups, with
//! the request that creates or replaces one.
//!
//! Owned types (none of these is on the data path). Answers parse leniently; the request
//! is strict.

use serde::{Deserialize, Serialize};

/// Where a transaction stands after a commit, rollback or resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionState {
    /// The message is in its topic.
    Committed,
    /// The message was discarded.
    RolledBack,
    /// Check-backs start again from zero.
    Resumed,
    /// A state this version does not know.
    #[serde(other)]
    Unknown,
}

/// The answer to a commit, rollback or resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionOutcome {
    /// The transaction id.
    pub transaction: String,
    /// Where it stands now.
    pub state: TransactionState,
}

/// The undecided transactions, oldest first, as `GET /v1/transactions` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionList<T> {
    /// One per transaction.
    pub transactions: Vec<T>,
}

/// The check-backs a producer group's poll answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckList<T> {
    /// One per transaction to decide.
    pub checks: Vec<T>,
}

/// A producer group: who the broker asks about undecided transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerGroup {
    /// The name half sends give as their producer group.
    pub name: String,
    /// Where check-backs are POSTed, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// When it was created (or last replaced), in ms since the Unix epoch.
    pub created_ms: i64,
}

/// The producer groups, as `GET /v1/producer-groups` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerGroupList {
    /// Every producer group.
    pub producer_groups: Vec<ProducerGroup>,
}

/// The body of `POST /v1/producer-groups`: create or replace a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutProducerGroup {
    /// The group name.
    pub name: String,
    /// Where its check-backs are POSTed (`None`: producers poll for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn states_read_by_name_and_unknown_ones_are_kept_apart() {
        for (text, state) in [
            ("committed", TransactionState::Committed),
            ("rolled_back", TransactionState::RolledBack),
            ("resumed", TransactionState::Resumed),
            ("pondering", TransactionState::Unknown),
        ] {
            let outcome: TransactionOutcome =
                serde_json::from_value(json!({"transaction":"t","state":text})).unwrap();
            assert_eq!(outcome.state, state);
        }
    }

    #[test]
    fn a_producer_group_omits_a_missing_callback_and_the_request_is_strict() {
        let group = ProducerGroup {
            name: "shop".to_owned(),
            callback_url: None,
            created_ms: 3,
        };
        assert_eq!(
            serde_json::to_value(&group).unwrap(),
            json!({"name":"shop","created_ms":3})
        );
        let lenient: ProducerGroup =
            serde_json::from_value(json!({"name":"shop","created_ms":3,"owner":"x"})).unwrap();
        assert_eq!(lenient, group);
        let put = PutProducerGroup {
            name: "shop".to_owned(),
            callback_url: None,
        };
        assert_eq!(serde_json::to_value(&put).unwrap(), json!({"name":"shop"}));
        let list: ProducerGroupList = serde_json::from_value(json!({"producer_groups":[
            {"name":"a","callback_url":"http://127.0.0.1:9000/check","created_ms":1},
            {"name":"shop","created_ms":3}]}))
        .unwrap();
        assert_eq!(list.producer_groups[1], group);
        let strict = serde_json::from_value::<PutProducerGroup>(
            json!({"name":"shop","callback":"http://x"}),
        );
        assert!(strict.unwrap_err().to_string().contains("unknown field"));
    }
}

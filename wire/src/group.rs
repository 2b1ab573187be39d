//! The JSON shapes of consumer groups as the API answers them: a group's configuration,
//! its description (members, backlog, counters), its backlog per queue and its committed
//! offsets.
//!
//! Owned types: descriptions are not on the data path, and a client keeps what it parsed.
//! Parsing tolerates unknown fields.

use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// A group's configuration, as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// The topic it consumes.
    pub topic: String,
    /// `"clustering"` or `"broadcasting"`.
    pub mode: String,
    /// Whether messages of one message group are delivered one at a time, in order.
    pub fifo: bool,
    /// Deliveries before a message is dead-lettered.
    pub max_attempts: u32,
    /// Default invisible time of received messages.
    pub invisible_ms: u64,
    /// The wait before each redelivery, by attempt; the last step repeats.
    pub backoff_ms: Vec<u64>,
    /// The tag filter: `*` or tags joined by `||`.
    pub filter: String,
    /// Where consumption started: `"latest"` or `"earliest"`.
    pub from: String,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: i64,
}

/// A group with its members, backlog and counters.
///
/// Dereferences to its [`Group`], so `description.name` works as
/// `description.group.name` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDescription {
    /// The configuration.
    #[serde(flatten)]
    pub group: Group,
    /// The broadcasting member instances the broker has seen.
    #[serde(default)]
    pub members: Vec<String>,
    /// The backlog (in broadcasting mode, of the consumer asked for, or the first member).
    pub lag: Lag,
    /// Delivery counters since the broker started.
    pub counters: GroupCounters,
    /// Messages in the dead-letter queue.
    pub dead_letters: u64,
}

impl Deref for GroupDescription {
    type Target = Group;

    fn deref(&self) -> &Group {
        &self.group
    }
}

/// A group's delivery counters since the broker started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCounters {
    /// Deliveries, first and later.
    pub delivered: u64,
    /// Deliveries after the first.
    pub redelivered: u64,
    /// Acks taken.
    pub acked: u64,
    /// Nacks taken.
    pub nacked: u64,
    /// Messages moved to the dead-letter queue.
    pub dead_lettered: u64,
}

/// A group's backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lag {
    /// The group.
    pub group: String,
    /// Messages not done, over all queues.
    pub total: u64,
    /// Age of the oldest message not done, over all queues; 0 without backlog.
    pub oldest_age_ms: i64,
    /// Per queue: the topic's queues first, then the group's retry queue.
    pub queues: Vec<QueueLag>,
}

/// The backlog of one queue for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueLag {
    /// The queue number.
    pub queue: u32,
    /// Whether this is the group's retry queue (dead letters resent to the group).
    pub retry: bool,
    /// Everything below this offset is done.
    pub committed: u64,
    /// The offset the next message will get.
    pub max_offset: u64,
    /// Messages not done: `max_offset - committed`.
    pub lag: u64,
    /// Messages delivered and neither acked nor failed.
    pub in_flight: u64,
    /// Age of the oldest message not done; 0 without backlog.
    pub oldest_age_ms: i64,
}

/// The committed offset of one queue: everything below it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// The queue number.
    pub queue: u32,
    /// The committed offset.
    pub committed: u64,
}

/// A group's committed offsets, as the offset routes answer them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetList {
    /// Per queue.
    pub queues: Vec<CommittedOffset>,
}

/// The groups, as `GET /v1/groups` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {
    /// Every group (of the topic asked for).
    pub groups: Vec<Group>,
}

/// The answer to an ack (`acked`) or a nack (`nacked`): how many receipts were taken, and
/// which were not, one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckAnswer {
    /// Receipts taken by an ack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked: Option<usize>,
    /// Receipts taken by a nack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nacked: Option<usize>,
    /// Receipts not taken.
    #[serde(default)]
    pub failed: Vec<ReceiptError>,
}

/// Why one receipt of an ack or nack was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptError {
    /// The receipt as given.
    pub receipt: String,
    /// The error code, for example `RECEIPT_EXPIRED`.
    pub code: String,
    /// The explanation.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_answer_names_its_count_by_what_settled() {
        let acked = AckAnswer {
            acked: Some(2),
            ..AckAnswer::default()
        };
        assert_eq!(
            serde_json::to_value(&acked).unwrap(),
            serde_json::json!({"acked": 2, "failed": []})
        );
        let nacked: AckAnswer = serde_json::from_str(
            r#"{"nacked":1,"failed":[{"receipt":"r","code":"RECEIPT_EXPIRED","message":"m","at":1}]}"#,
        )
        .unwrap();
        assert_eq!((nacked.acked, nacked.nacked), (None, Some(1)));
        assert_eq!(nacked.failed[0].code, "RECEIPT_EXPIRED");
    }

    #[test]
    fn a_description_parses_with_fields_it_does_not_know_and_reads_as_its_group() {
        let description: GroupDescription = serde_json::from_str(
            r#"{"name":"g","topic":"t","mode":"clustering","fifo":false,"max_attempts":16,
                "invisible_ms":30000,"backoff_ms":[1000],"filter":"*","from":"latest",
                "created_ms":5,"members":[],"sharding":"x",
                "lag":{"group":"g","total":3,"oldest_age_ms":7,"queues":[{"queue":0,
                    "retry":false,"committed":1,"max_offset":4,"lag":3,"in_flight":1,
                    "oldest_age_ms":7,"paused":false}]},
                "counters":{"delivered":2,"redelivered":0,"acked":1,"nacked":0,
                    "dead_lettered":0,"expired":0},
                "dead_letters":0}"#,
        )
        .unwrap();
        assert_eq!(description.name, "g");
        assert_eq!(description.lag.queues[0].lag, 3);
        assert_eq!(description.counters.acked, 1);
        let back = serde_json::to_value(&description).unwrap();
        assert!(back.get("sharding").is_none());
        assert_eq!(back["lag"]["total"], 3);
    }
}

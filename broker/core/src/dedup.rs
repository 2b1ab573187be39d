//! Business-key deduplication: the hook dedup filters plug into, and the broker's table
//! of keys seen.
//!
//! A [`DedupFilter`] (the plugin host's dedup-filter bindings) only says what a
//! message's key is; the broker decides what a duplicate is and remembers keys:
//!
//! - **Send side** (a filter on a topic): a message whose key equals the key of a message
//!   stored in the topic within the filter's window is answered with that message's id,
//!   queue and offset, and is not stored. The key travels with the stored message as the
//!   property [`DEDUP_KEY_PROPERTY`], which the store indexes, so the table is the
//!   commitlog itself: durable with the message, in the same append, and gone with it
//!   at retention. Delayed and half messages are not looked at (their records live in
//!   system topics until they are delivered or committed).
//! - **Consume side** (a filter on a group): a delivery whose key was already processed
//!   (acked) by the group within the window is acked by the broker and not handed out.
//!   Keys are recorded when a delivery carrying one is acked: one small record per key in
//!   [`DEDUP_TOPIC`], appended with the ack and durable with it.
//!
//! Messages without a key, with a key longer than [`MAX_DEDUP_KEY_BYTES`], or whose
//! filter call failed are never duplicates: a broken filter lets messages through
//! rather than dropping them. Two messages with one key handed out in the same receive
//! (neither processed yet) are both delivered. A delivery's key is remembered in memory
//! between receive and ack; a restart in between forgets it, so that one key is not
//! recorded and a later duplicate is delivered once more.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use parking_lot::Mutex;
use weir_store::{Message, StoredMessage};

use crate::group::Delivery;
use crate::group::Receipt;
use crate::message::MessageDraft;
use crate::schedule::ledger::system_message;

pub use weir_store::DEDUP_KEY_PROPERTY;

/// The system topic holding the keys consumer groups processed.
pub const DEDUP_TOPIC: &str = "%SYS%dedup";

/// Longest dedup key; a longer one is treated as no key (and logged).
pub const MAX_DEDUP_KEY_BYTES: usize = 1024;

/// Keys remembered between receive and ack, at most; beyond it, expired ones are
/// dropped first, then the oldest half.
const MAX_PENDING_KEYS: usize = 1_000_000;

/// How long past its invisible time a delivery's key is remembered for its ack.
const PENDING_SLACK_MS: i64 = 60_000;

/// What a filter answers for a batch: its window and one key (or none) per message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DedupKeys {
    /// How long a key counts as seen, ms.
    pub window_ms: u64,
    /// One entry per message, in order.
    pub keys: Vec<Option<String>>,
}

/// Where duplicates were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupScope<'a> {
    /// Sends to this topic.
    Topic(&'a str),
    /// Deliveries to this group.
    Group(&'a str),
}

/// A boxed future, as the hook's methods answer.
pub type DedupFuture<'a> = Pin<Box<dyn Future<Output = Option<DedupKeys>> + Send + 'a>>;

/// Computes the dedup keys of messages. Implemented by the plugin host.
pub trait DedupFilter: Send + Sync {
    /// Keys of messages about to be sent to `topic`; `None` when the topic has no filter.
    fn send_keys<'a>(&'a self, topic: &'a str, drafts: &'a [MessageDraft]) -> DedupFuture<'a>;

    /// Keys of deliveries to `group`; `None` when the group has no filter.
    fn delivery_keys<'a>(&'a self, group: &'a str, deliveries: &'a [Delivery]) -> DedupFuture<'a>;

    /// Tells the filter how many duplicates its keys found (for its counters).
    fn duplicates_found(&self, scope: DedupScope<'_>, count: u64);
}

/// Where the broker keeps the installed filter.
#[derive(Default)]
pub(crate) struct DedupHook(parking_lot::RwLock<Option<std::sync::Arc<dyn DedupFilter>>>);

impl DedupHook {
    pub(crate) fn set(&self, filter: std::sync::Arc<dyn DedupFilter>) {
        *self.0.write() = Some(filter);
    }

    pub(crate) fn get(&self) -> Option<std::sync::Arc<dyn DedupFilter>> {
        self.0.read().clone()
    }
}

impl std::fmt::Debug for DedupHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DedupHook")
            .field("installed", &self.0.read().is_some())
            .finish()
    }
}

/// Checks a filter's answer: one usable key per message, or nothing.
pub(crate) fn usable(answer: Option<DedupKeys>, messages: usize) -> Option<DedupKeys> {
    let mut answer = answer?;
    if answer.keys.len() != messages {
        tracing::warn!(
            keys = answer.keys.len(),
            messages,
            "a dedup filter answered the wrong number of keys; ignored"
        );
        return None;
    }
    for key in &mut answer.keys {
        if key
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.len() > MAX_DEDUP_KEY_BYTES)
        {
            tracing::warn!(
                limit = MAX_DEDUP_KEY_BYTES,
                "a dedup key is empty or too long; the message is treated as having none"
            );
            *key = None;
        }
    }
    Some(answer)
}

/// Whether `found` (a message or key record) lies within `window_ms` of `now_ms`.
pub(crate) fn within_window(found: &StoredMessage, window_ms: u64, now_ms: i64) -> bool {
    found.store_ms >= now_ms.saturating_sub(i64::try_from(window_ms).unwrap_or(i64::MAX))
}

/// The key a group's processed keys are recorded under: a recreated group starts over.
pub(crate) fn group_key(group: &str, incarnation: u64, key: &str) -> String {
    format!("{group}\u{1f}{incarnation:x}\u{1f}{key}")
}

/// The record saying a group processed a key.
pub(crate) fn processed_record(scoped_key: String, message_id: &str) -> Message {
    let mut record = system_message(Bytes::new());
    record.properties = vec![
        (DEDUP_KEY_PROPERTY.to_string(), scoped_key),
        ("weir.dedup-of".to_string(), message_id.to_string()),
    ];
    record
}

/// Which delivery a pending key belongs to: group, member, source queue, offset.
type DeliverySlot = (String, u32, u32, u64);

/// A delivered message's key, until the delivery is settled.
struct PendingKey {
    scoped_key: String,
    message_id: String,
    expires_ms: i64,
}

/// Keys of deliveries handed out and not yet settled.
#[derive(Default)]
pub(crate) struct PendingKeys {
    keys: Mutex<HashMap<DeliverySlot, PendingKey>>,
    /// Whether `keys` may hold anything: settles of groups without a consume-side filter
    /// (nearly all) skip the lock.
    used: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for PendingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingKeys")
            .field("len", &self.keys.lock().len())
            .finish()
    }
}

fn slot(group: &str, receipt: &Receipt) -> DeliverySlot {
    (
        group.to_string(),
        receipt.member,
        receipt.source,
        receipt.offset,
    )
}

impl PendingKeys {
    /// Remembers the key of a delivery until it is settled or `expires_ms` passes.
    pub(crate) fn insert(
        &self,
        group: &str,
        delivery: &Delivery,
        scoped_key: String,
        expires_ms: i64,
        now_ms: i64,
    ) {
        let Some(receipt) = Receipt::parse(&delivery.receipt) else {
            return;
        };
        let mut keys = self.keys.lock();
        self.used.store(true, std::sync::atomic::Ordering::Relaxed);
        if keys.len() >= MAX_PENDING_KEYS {
            keys.retain(|_, k| k.expires_ms > now_ms);
            if keys.len() >= MAX_PENDING_KEYS {
                let mut ages: Vec<i64> = keys.values().map(|k| k.expires_ms).collect();
                let (_, median, _) = ages.select_nth_unstable(keys.len() / 2);
                let median = *median;
                keys.retain(|_, k| k.expires_ms > median);
            }
        }
        keys.insert(
            slot(group, &receipt),
            PendingKey {
                scoped_key,
                message_id: delivery.id.clone(),
                expires_ms: expires_ms.saturating_add(PENDING_SLACK_MS),
            },
        );
    }

    /// Forgets the keys of settled deliveries; answers the records of the acked ones
    /// (`acked` false: nacked or rejected, nothing to record).
    pub(crate) fn settle<'a>(
        &self,
        group: &str,
        settled: impl Iterator<Item = &'a Receipt>,
        acked: bool,
    ) -> Vec<Message> {
        if !self.used.load(std::sync::atomic::Ordering::Relaxed) {
            return Vec::new();
        }
        let mut keys = self.keys.lock();
        if keys.is_empty() {
            return Vec::new();
        }
        settled
            .filter_map(|r| keys.remove(&slot(group, r)))
            .filter(|_| acked)
            .map(|k| processed_record(k.scoped_key, &k.message_id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_answers_and_keys_are_dropped() {
        let answer = |keys: Vec<Option<String>>| Some(DedupKeys { window_ms: 1, keys });
        assert_eq!(usable(answer(vec![None]), 2), None);
        assert_eq!(usable(None, 1), None);
        let long = "k".repeat(MAX_DEDUP_KEY_BYTES + 1);
        let checked = usable(
            answer(vec![
                Some("a".into()),
                Some(String::new()),
                Some(long),
                None,
            ]),
            4,
        )
        .unwrap();
        assert_eq!(checked.keys, vec![Some("a".into()), None, None, None]);
    }

    #[test]
    fn group_keys_differ_per_group_and_incarnation() {
        assert_ne!(group_key("g", 1, "k"), group_key("g", 2, "k"));
        assert_ne!(group_key("g", 1, "k"), group_key("h", 1, "k"));
        assert_eq!(group_key("g", 1, "k"), group_key("g", 1, "k"));
    }
}

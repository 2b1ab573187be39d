//! A binding's key-value state table ([`StateTable`]), in memory: what the
//! `state-get`/`state-set`/`state-delete` host functions read and write, and what its
//! snapshots hold.
//!
//! # Durability
//!
//! State lives in memory, shared by every instance of one binding, and a `state-set` is
//! a hash-map insert, never an fsync. The host writes a snapshot of each binding whose
//! state changed to the system topic
//! [`PLUGIN_STATE_TOPIC`](crate::snapshot_record::PLUGIN_STATE_TOPIC) every
//! [`STATE_SNAPSHOT_INTERVAL`](crate::limits::STATE_SNAPSHOT_INTERVAL) (5 s) and once
//! more when it shuts down, and reads the newest one back when it opens. So state
//! survives restarts, rebinds and `kill -9`, except the changes of the last
//! `STATE_SNAPSHOT_INTERVAL` before a crash (on a power loss, also what the store had
//! not yet fsynced). Plugins must still tolerate losing recent writes: a counter may
//! fall back a few seconds, a seen-id cache may forget the newest ids. Anything that
//! must never be lost belongs in a message (`publish`). Deleting a binding deletes its
//! state: a binding created again under the same name starts empty.
//!
//! # Quota
//!
//! Keys plus values of one binding, plus
//! [`STATE_ENTRY_OVERHEAD_BYTES`](crate::limits::STATE_ENTRY_OVERHEAD_BYTES) per entry,
//! may hold at most the binding's quota (default
//! [`DEFAULT_STATE_BYTES`](crate::limits::DEFAULT_STATE_BYTES), at most
//! [`MAX_STATE_BYTES`](crate::limits::MAX_STATE_BYTES), so that a snapshot fits one
//! record); a `state-set` that would exceed it first drops expired entries, then fails
//! with an error the plugin sees. Expired entries are invisible at once, removed lazily,
//! and never written to a snapshot.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::limits::{MAX_STATE_BYTES, MAX_STATE_KEY_BYTES, STATE_ENTRY_OVERHEAD_BYTES};
use crate::snapshot_record::{self, StateEntry};

/// One binding's state.
#[derive(Debug)]
pub(crate) struct StateTable {
    quota: usize,
    inner: Mutex<Entries>,
    persisted: Mutex<Persisted>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, Entry>,
    /// Keys plus values plus the per-entry overhead.
    bytes: usize,
    /// Counts changes (sets, deletes): a snapshot is due when it moved past
    /// [`Persisted::changes`].
    changes: u64,
}

/// What the newest snapshot of this table holds.
#[derive(Debug, Default)]
struct Persisted {
    /// The change count it was taken at.
    changes: u64,
    /// Its commitlog position; `None` before the first.
    position: Option<u64>,
}

/// A snapshot of a table, encoded, not yet written.
#[derive(Debug)]
pub(crate) struct EncodedState {
    /// The record body.
    pub(crate) body: Vec<u8>,
    /// The change count it was taken at, for [`StateTable::persisted`].
    pub(crate) changes: u64,
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    /// Expiry, ms since the epoch; `None` keeps it until deleted.
    expires_ms: Option<i64>,
}

impl Entry {
    fn live(&self, now_ms: i64) -> bool {
        self.expires_ms.is_none_or(|at| at > now_ms)
    }
}

/// What an entry counts in the quota.
fn cost(key: &str, value: &[u8]) -> usize {
    key.len() + value.len() + STATE_ENTRY_OVERHEAD_BYTES
}

impl StateTable {
    /// An empty table. A quota above [`MAX_STATE_BYTES`] (a binding stored by an older
    /// broker) is held to it, so that its snapshots fit one record.
    pub(crate) fn new(quota: usize) -> Self {
        Self {
            quota: quota.min(MAX_STATE_BYTES),
            inner: Mutex::new(Entries::default()),
            persisted: Mutex::new(Persisted::default()),
        }
    }

    /// A table holding the entries of a snapshot read back at `position` (the expired
    /// ones left out), with nothing to write until it changes. Entries are kept even
    /// past the quota (it may have been lowered since): sets then fail until enough
    /// are deleted or expire.
    pub(crate) fn restored(
        quota: usize,
        entries: Vec<StateEntry>,
        position: u64,
        now_ms: i64,
    ) -> Self {
        let table = Self::new(quota);
        {
            let mut inner = table.inner.lock();
            for entry in entries {
                if entry.expires_ms.is_some_and(|at| at <= now_ms) {
                    continue;
                }
                inner.remove(&entry.key);
                inner.bytes += cost(&entry.key, &entry.value);
                inner.map.insert(
                    entry.key,
                    Entry {
                        value: entry.value,
                        expires_ms: entry.expires_ms,
                    },
                );
            }
        }
        table.persisted.lock().position = Some(position);
        table
    }

    /// The value of `key`, unless absent or expired.
    pub(crate) fn get(&self, key: &str, now_ms: i64) -> Option<Vec<u8>> {
        let mut inner = self.inner.lock();
        match inner.map.get(key) {
            Some(entry) if entry.live(now_ms) => Some(entry.value.clone()),
            Some(_) => {
                inner.remove(key);
                None
            }
            None => None,
        }
    }

    /// Sets `key`, kept for `ttl_ms` (0: until deleted).
    pub(crate) fn set(
        &self,
        key: String,
        value: Vec<u8>,
        ttl_ms: u64,
        now_ms: i64,
    ) -> Result<(), String> {
        if key.len() > MAX_STATE_KEY_BYTES {
            return Err(format!(
                "state key of {} bytes is over the limit of {MAX_STATE_KEY_BYTES}",
                key.len()
            ));
        }
        let expires_ms =
            (ttl_ms > 0).then(|| now_ms.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX)));
        let mut inner = self.inner.lock();
        let old = inner.map.get(&key).map_or(0, |e| cost(&key, &e.value));
        let new = cost(&key, &value);
        if inner.bytes - old + new > self.quota {
            inner.purge(now_ms);
            let old = inner.map.get(&key).map_or(0, |e| cost(&key, &e.value));
            if inner.bytes - old + new > self.quota {
                return Err(format!(
                    "state quota of {} bytes exceeded ({} in use, {new} more asked; each \
                     entry counts its key, its value and {STATE_ENTRY_OVERHEAD_BYTES} bytes)",
                    self.quota,
                    inner.bytes - old
                ));
            }
        }
        inner.remove(&key);
        inner.bytes += new;
        inner.map.insert(key, Entry { value, expires_ms });
        inner.changes += 1;
        Ok(())
    }

    pub(crate) fn delete(&self, key: &str) {
        let mut inner = self.inner.lock();
        if inner.remove(key) {
            inner.changes += 1;
        }
    }

    /// Bytes in use (expired entries not yet dropped included).
    pub(crate) fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// Entries held (expired ones not yet dropped included).
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    /// Whether it changed since its newest snapshot.
    pub(crate) fn dirty(&self) -> bool {
        let changes = self.inner.lock().changes;
        changes != self.persisted.lock().changes
    }

    /// Commitlog position of its newest snapshot, if it has one.
    pub(crate) fn snapshot_position(&self) -> Option<u64> {
        self.persisted.lock().position
    }

    /// Encodes a snapshot of the live entries (holding the table for the copy: call it
    /// off the async workers).
    pub(crate) fn encode(
        &self,
        binding: &str,
        created_ms: i64,
        now_ms: i64,
    ) -> Result<EncodedState, String> {
        let inner = self.inner.lock();
        let body = snapshot_record::encode(
            binding,
            created_ms,
            inner
                .map
                .iter()
                .map(|(key, e)| (key.as_str(), e.value.as_slice(), e.expires_ms)),
            now_ms,
            inner.bytes,
        )?;
        Ok(EncodedState {
            body,
            changes: inner.changes,
        })
    }

    /// Records that the snapshot taken at `changes` is at `position`. Snapshots of one
    /// table are written one at a time, in the order they were taken.
    pub(crate) fn persisted(&self, changes: u64, position: u64) {
        let mut persisted = self.persisted.lock();
        persisted.changes = changes;
        persisted.position = Some(position);
    }
}

impl Entries {
    /// Removes `key`; answers whether it was there.
    fn remove(&mut self, key: &str) -> bool {
        match self.map.remove(key) {
            Some(entry) => {
                self.bytes -= cost(key, &entry.value);
                true
            }
            None => false,
        }
    }

    fn purge(&mut self, now_ms: i64) {
        let mut freed = 0;
        self.map.retain(|key, entry| {
            let keep = entry.live(now_ms);
            if !keep {
                freed += cost(key, &entry.value);
            }
            keep
        });
        self.bytes -= freed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_after_their_ttl() {
        let state = StateTable::new(1024);
        state.set("a".into(), b"1".to_vec(), 100, 1_000).unwrap();
        state.set("b".into(), b"2".to_vec(), 0, 1_000).unwrap();
        assert_eq!(state.get("a", 1_099), Some(b"1".to_vec()));
        assert_eq!(state.get("a", 1_100), None);
        assert_eq!(state.get("b", i64::MAX - 1), Some(b"2".to_vec()));
        state.delete("b");
        assert_eq!(state.get("b", 1_000), None);
        assert_eq!(state.bytes(), 0);
    }

    #[test]
    fn the_quota_counts_keys_values_and_an_overhead_and_frees_expired_entries() {
        const O: usize = STATE_ENTRY_OVERHEAD_BYTES;
        let state = StateTable::new(10 + O);
        state.set("k1".into(), vec![0; 4], 10, 0).unwrap();
        let err = state.set("k2".into(), vec![0; 5], 0, 5).unwrap_err();
        assert!(err.contains("quota"), "{err}");
        // Replacing a value counts only the difference.
        state.set("k1".into(), vec![0; 8], 10, 5).unwrap();
        assert_eq!(state.bytes(), 10 + O);
        // Once k1 expired, its room is reused.
        state.set("k2".into(), vec![0; 5], 0, 20).unwrap();
        assert_eq!(state.len(), 1);
        assert_eq!(state.bytes(), 7 + O);
        // Entries without a key or a value still count.
        let state = StateTable::new(2 * O);
        state.set("a".into(), Vec::new(), 0, 0).unwrap();
        assert!(state.set("b".into(), Vec::new(), 0, 0).is_err());
        assert_eq!(state.len(), 1);
    }

    #[test]
    fn quotas_above_the_maximum_are_held_to_it() {
        let state = StateTable::new(usize::MAX);
        let err = state
            .set("k".into(), vec![0; MAX_STATE_BYTES], 0, 0)
            .unwrap_err();
        assert!(err.contains(&MAX_STATE_BYTES.to_string()), "{err}");
    }

    #[test]
    fn changes_make_a_snapshot_due_and_snapshots_restore_the_live_entries() {
        let state = StateTable::new(1 << 20);
        assert!(!state.dirty(), "a new table has nothing to write");
        state.set("a".into(), b"1".to_vec(), 0, 1_000).unwrap();
        state.set("b".into(), b"2".to_vec(), 100, 1_000).unwrap();
        assert!(state.dirty());
        let encoded = state.encode("bind", 7, 1_050).unwrap();
        state.persisted(encoded.changes, 123);
        assert!(!state.dirty());
        assert_eq!(state.snapshot_position(), Some(123));
        // Reads and deletes of absent keys change nothing.
        assert_eq!(state.get("a", 1_050), Some(b"1".to_vec()));
        state.delete("nope");
        assert!(!state.dirty());
        state.delete("a");
        assert!(state.dirty());

        let record = snapshot_record::decode(&encoded.body, 1_050).unwrap();
        assert_eq!((record.binding.as_str(), record.created_ms), ("bind", 7));
        let restored = StateTable::restored(1 << 20, record.entries.clone(), 9, 1_050);
        assert!(!restored.dirty());
        assert_eq!(restored.snapshot_position(), Some(9));
        assert_eq!(restored.get("a", 1_050), Some(b"1".to_vec()));
        assert_eq!(restored.get("b", 1_099), Some(b"2".to_vec()));
        assert_eq!(restored.get("b", 1_100), None, "the TTL still runs");
        // Entries expired by the time of the restore are left out.
        let later = StateTable::restored(1 << 20, record.entries, 9, 1_100);
        assert_eq!(
            (later.len(), later.bytes()),
            (1, 2 + STATE_ENTRY_OVERHEAD_BYTES)
        );
    }

    #[test]
    fn overlong_keys_are_refused() {
        let state = StateTable::new(1 << 20);
        assert!(
            state
                .set("k".repeat(MAX_STATE_KEY_BYTES + 1), vec![], 0, 0)
                .is_err()
        );
    }
}

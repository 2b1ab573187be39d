//! A binding's key-value state: what the `state-get`/`state-set`/`state-delete` host
//! functions read and write.
//!
//! # Durability
//!
//! State lives in memory only, shared by every instance of one binding, and is lost when
//! the broker restarts or the binding is deleted. Plugins use it as a cache (seen ids,
//! tokens, counters for a window) and must tolerate losing it; anything that must
//! survive belongs in a message (`publish`). Keeping it out of the commitlog keeps a
//! `state-set` to a hash-map insert instead of an fsync.
//!
//! # Quota
//!
//! Keys plus values of one binding may hold at most the binding's quota (default
//! [`DEFAULT_STATE_BYTES`](crate::limits::DEFAULT_STATE_BYTES)); a `state-set` that
//! would exceed it first drops expired entries, then fails with an error the plugin
//! sees. Expired entries are invisible at once and removed lazily.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::limits::MAX_STATE_KEY_BYTES;

/// One binding's state.
#[derive(Debug)]
pub(crate) struct StateTable {
    quota: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, Entry>,
    bytes: usize,
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

impl StateTable {
    pub(crate) fn new(quota: usize) -> Self {
        Self {
            quota,
            inner: Mutex::new(Entries::default()),
        }
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
        let old = inner.map.get(&key).map_or(0, |e| key.len() + e.value.len());
        let new = key.len() + value.len();
        if inner.bytes - old + new > self.quota {
            inner.purge(now_ms);
            let old = inner.map.get(&key).map_or(0, |e| key.len() + e.value.len());
            if inner.bytes - old + new > self.quota {
                return Err(format!(
                    "state quota of {} bytes exceeded ({} in use, {new} more asked)",
                    self.quota,
                    inner.bytes - old
                ));
            }
        }
        inner.remove(&key);
        inner.bytes += new;
        inner.map.insert(key, Entry { value, expires_ms });
        Ok(())
    }

    pub(crate) fn delete(&self, key: &str) {
        self.inner.lock().remove(key);
    }

    /// Bytes in use (expired entries not yet dropped included).
    pub(crate) fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// Entries held (expired ones not yet dropped included).
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map.len()
    }
}

impl Entries {
    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.map.remove(key) {
            self.bytes -= key.len() + entry.value.len();
        }
    }

    fn purge(&mut self, now_ms: i64) {
        let mut freed = 0;
        self.map.retain(|key, entry| {
            let keep = entry.live(now_ms);
            if !keep {
                freed += key.len() + entry.value.len();
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
    fn the_quota_counts_keys_and_values_and_frees_expired_entries() {
        let state = StateTable::new(10);
        state.set("k1".into(), vec![0; 4], 10, 0).unwrap();
        let err = state.set("k2".into(), vec![0; 5], 0, 5).unwrap_err();
        assert!(err.contains("quota"), "{err}");
        // Replacing a value counts only the difference.
        state.set("k1".into(), vec![0; 8], 10, 5).unwrap();
        assert_eq!(state.bytes(), 10);
        // Once k1 expired, its room is reused.
        state.set("k2".into(), vec![0; 5], 0, 20).unwrap();
        assert_eq!(state.len(), 1);
        assert_eq!(state.bytes(), 7);
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

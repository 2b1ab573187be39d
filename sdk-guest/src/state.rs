//! The binding's key-value state, kept by the broker.
//!
//! Each binding has its own namespace: two bindings of the same module do not see each
//! other's keys. Values are bytes; an entry may expire after a time to live. The broker
//! enforces a quota per binding: [`set`] fails with a [`HostError`] when it would be
//! exceeded.
//!
//! State is the way to remember things across batches and instances (the broker may run
//! several instances of a binding, and replaces them on a hot swap); memory inside the
//! plugin lasts only as long as its instance.
//!
//! ```
//! use weir_sdk::state;
//!
//! # fn demo() -> Result<(), weir_sdk::HostError> {
//! let seen = state::get("seen").map(|bytes| bytes.len()).unwrap_or(0);
//! state::set("seen", &vec![1; seen + 1], 60_000)?; // forgotten after a minute
//! state::delete("seen");
//! # Ok(())
//! # }
//! # demo().unwrap();
//! ```

use crate::error::HostError;
use crate::imports;

/// The value stored under `key`, or `None` when it is absent or expired.
pub fn get(key: &str) -> Option<Vec<u8>> {
    imports::state_get(key)
}

/// Stores `value` under `key` for `ttl_ms` milliseconds (0: until deleted).
///
/// # Errors
///
/// When the binding's state quota would be exceeded.
pub fn set(key: &str, value: &[u8], ttl_ms: u64) -> Result<(), HostError> {
    imports::state_set(key, value, ttl_ms).map_err(HostError::from)
}

/// Deletes the value under `key`, if any.
pub fn delete(key: &str) {
    imports::state_delete(key);
}

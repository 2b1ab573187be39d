//! `ack-all`, a test consumer that acks every message: the baseline for benchmarks
//! (nothing but the call boundary) and a well-behaved module for hot-swap tests.
//!
//! Config: empty, or the name of a state key. With a key, each batch adds its size to a
//! counter kept there (decimal ASCII), so a test can read how many messages this binding
//! acked; a failed state write is logged and the batch still acked. The count is a
//! read-modify-write: exact with one instance (concurrency 1) only.

use weir_sdk::{Consumer, Message, Outcome, state};

/// The consumer.
pub struct AckAll;

impl Consumer for AckAll {
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
        let counter = config.trim();
        if !counter.is_empty() {
            count(counter, batch.len());
        }
        vec![Outcome::Ack; batch.len()]
    }
}

weir_sdk::export_consumer!(AckAll);

/// Adds `n` to the counter under `key`.
fn count(key: &str, n: usize) {
    let so_far: u64 = state::get(key)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let total = so_far.saturating_add(n as u64);
    if let Err(error) = state::set(key, total.to_string().as_bytes(), 0) {
        weir_sdk::log::warn(format!("ack-all: counting in {key:?} failed: {error}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_everything_and_counts_when_asked() {
        weir_sdk::testing::reset();
        let batch = vec![Message::default(); 3];
        assert_eq!(AckAll::handle("", batch.clone()), vec![Outcome::Ack; 3]);
        assert_eq!(state::get("acked"), None);
        AckAll::handle("acked", batch.clone());
        AckAll::handle("acked", batch);
        assert_eq!(state::get("acked").as_deref(), Some(&b"6"[..]));
    }
}

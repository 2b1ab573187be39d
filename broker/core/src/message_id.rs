//! Broker-assigned message ids: unique and sortable by creation time.
//!
//! An id is 128 bits printed as 32 upper-case hex digits: 48 bits of milliseconds since
//! the epoch, 32 random bits chosen when the broker starts (so that two broker runs, or two
//! brokers, do not collide), and a 48-bit sequence. Fixed width makes the text order the
//! time order.

use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out message ids; one per broker, shared by all senders.
#[derive(Debug)]
pub struct MessageIdGenerator {
    instance: u32,
    sequence: AtomicU64,
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";
const SEQUENCE_MASK: u64 = (1 << 48) - 1;

impl MessageIdGenerator {
    /// A generator with a fresh random instance number.
    pub fn new() -> Self {
        Self {
            instance: rand::random(),
            sequence: AtomicU64::new(0),
        }
    }

    /// The next id, for a message created at `now_ms`.
    pub fn next_id(&self, now_ms: i64) -> String {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed) & SEQUENCE_MASK;
        let millis = (now_ms.max(0) as u64) & ((1 << 48) - 1);
        let value =
            (u128::from(millis) << 80) | (u128::from(self.instance) << 48) | u128::from(sequence);
        let mut id = String::with_capacity(32);
        for shift in (0..32).rev() {
            let nibble = ((value >> (shift * 4)) & 0xF) as usize;
            id.push(char::from(HEX.get(nibble).copied().unwrap_or(b'0')));
        }
        id
    }
}

impl Default for MessageIdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_fixed_width_and_time_ordered() {
        let ids = MessageIdGenerator::new();
        let a = ids.next_id(1_000);
        let b = ids.next_id(1_000);
        let c = ids.next_id(2_000);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(b < c, "{b} should sort before {c}");
        assert!(a.bytes().all(|x| x.is_ascii_hexdigit()));
        let value = (1_000u128 << 80) | (u128::from(ids.instance) << 48);
        assert_eq!(a, format!("{value:032X}"));
    }
}

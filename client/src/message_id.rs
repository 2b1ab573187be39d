//! Message ids chosen by the client, before a send's first attempt, so that a retry
//! carries the same id and the broker answers it from the stored copy instead of storing
//! a second one (`docs/http-api.md`, "Idempotent sends").
//!
//! An id has the broker's own format (`broker/core/src/message_id.rs`): 128 bits printed
//! as 32 upper-case hex digits, 48 bits of milliseconds since the epoch, 32 bits chosen
//! at random once per process, and a 48-bit sequence. Fixed width makes text order time
//! order, so client-chosen and broker-assigned ids sort together. The broker accepts any
//! id of 1–128 printable ASCII characters; these are 32.
//!
//! This module also owns the process's cheap random numbers (the id's random part and
//! the retry jitter): std's `RandomState` is seeded from the operating system's random
//! source, which is all either use needs; nothing here is for secrets.

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const HEX: &[u8; 16] = b"0123456789ABCDEF";
const SEQUENCE_MASK: u64 = (1 << 48) - 1;
const MILLIS_MASK: u64 = (1 << 48) - 1;

/// The process's id generator: one random part, one sequence shared by all clients.
struct IdGenerator {
    instance: u32,
    sequence: AtomicU64,
}

fn generator() -> &'static IdGenerator {
    static GENERATOR: OnceLock<IdGenerator> = OnceLock::new();
    GENERATOR.get_or_init(|| IdGenerator {
        // Truncation keeps 32 of the 64 random bits.
        instance: random_u64() as u32,
        // Starting at a random point makes two processes started in the same
        // millisecond with the same random part (a 1 in 2^32 chance) still unlikely to
        // collide.
        sequence: AtomicU64::new(random_u64() & SEQUENCE_MASK),
    })
}

/// A new unique, time-sortable message id in the broker's format (32 upper-case hex
/// digits), as the client gives to every message sent without one.
///
/// ```
/// let a = weir_client::new_message_id();
/// let b = weir_client::new_message_id();
/// assert_eq!(a.len(), 32);
/// assert_ne!(a, b);
/// ```
pub fn new_message_id() -> String {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let generator = generator();
    let sequence = generator.sequence.fetch_add(1, Ordering::Relaxed) & SEQUENCE_MASK;
    format_id(
        u64::try_from(now_ms).unwrap_or(u64::MAX),
        generator.instance,
        sequence,
    )
}

/// The text of the id made of these parts.
fn format_id(now_ms: u64, instance: u32, sequence: u64) -> String {
    let value = (u128::from(now_ms & MILLIS_MASK) << 80)
        | (u128::from(instance) << 48)
        | u128::from(sequence & SEQUENCE_MASK);
    let mut id = String::with_capacity(32);
    for shift in (0..32).rev() {
        let nibble = ((value >> (shift * 4)) & 0xF) as usize;
        id.push(char::from(HEX[nibble]));
    }
    id
}

/// 64 random bits: a hasher with a fresh OS-seeded key, fed the clock and a counter.
pub(crate) fn random_u64() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

/// A random fraction in [0, 1).
pub(crate) fn random_fraction() -> f64 {
    // The top 53 bits fill an f64's mantissa exactly.
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_broker_format() {
        let value = (1_000u128 << 80) | (7u128 << 48) | 3;
        assert_eq!(format_id(1_000, 7, 3), format!("{value:032X}"));
        let id = new_message_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
    }

    #[test]
    fn ids_are_unique_and_sort_by_time() {
        let ids: Vec<String> = (0..10_000).map(|_| new_message_id()).collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        assert!(format_id(1_000, u32::MAX, SEQUENCE_MASK) < format_id(1_001, 0, 0));
    }

    #[test]
    fn fractions_stay_in_range_and_vary() {
        let fractions: Vec<f64> = (0..1000).map(|_| random_fraction()).collect();
        assert!(fractions.iter().all(|f| (0.0..1.0).contains(f)));
        let distinct: std::collections::HashSet<u64> =
            fractions.iter().map(|f| f.to_bits()).collect();
        assert!(distinct.len() > 990, "{} distinct of 1000", distinct.len());
    }
}

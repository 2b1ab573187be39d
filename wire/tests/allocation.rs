//! The decoders reserve memory for what their input holds, never for what its counts
//! claim: every decode of arbitrary bytes, and of inputs whose counts claim the most the
//! format can say, runs under the fuzz targets' allocation budget (`fuzz/src/budget.rs`,
//! shared by path), which a decoder that trusts a claimed count fails.

#[path = "../../fuzz/src/budget.rs"]
#[allow(unreachable_pub, dead_code)]
mod budget;

use bytes::Bytes;
use proptest::prelude::*;
use weir_wire::{batch, message_list};

#[global_allocator]
static ALLOCATOR: budget::Counting = budget::Counting;

fn decode_batch(data: &[u8]) {
    let _ = batch::decode(Bytes::copy_from_slice(data), batch::MAX_MESSAGES);
}

fn decode_list(data: &[u8]) {
    let _ = message_list::decode(Bytes::copy_from_slice(data));
}

fn assert_bounded(data: &[u8], decode: fn(&[u8])) {
    let peak = budget::peak_of(data, decode);
    assert!(
        peak <= budget::limit(data.len()),
        "a {}-byte input held {peak} bytes at once",
        data.len()
    );
}

/// Inputs that start like their format, with the header's count and every u16 count
/// after it as large as they go.
fn claiming(magic: &[u8], header_rest: usize, tail: &[u8]) -> Vec<u8> {
    let mut input = magic.to_vec();
    input.extend(u32::MAX.to_le_bytes());
    input.extend(std::iter::repeat_n(0, header_rest));
    input.extend(tail);
    input
}

#[test]
fn claimed_counts_reserve_nothing_they_do_not_hold() {
    // A batch of u32::MAX messages whose first one claims 65 535 keys.
    let mut message = vec![0u8; 6];
    message.extend(0u32.to_le_bytes());
    message.extend(u16::MAX.to_le_bytes());
    let input = claiming(batch::MAGIC, 0, &message);
    assert_bounded(&input, decode_batch);
    // A list of u32::MAX messages whose first one claims 65 535 keys.
    let mut message = vec![0u8; 4];
    message.extend([0u8; 28]);
    message.extend([0u8; 4]);
    message.extend(u16::MAX.to_le_bytes());
    let input = claiming(message_list::MAGIC, 16, &message);
    assert_bounded(&input, decode_list);
    // And the budget does catch a reservation for a claimed count.
    fn trusting(data: &[u8]) {
        let count = u32::from_le_bytes(data[4..8].try_into().unwrap()) as usize;
        std::hint::black_box(Vec::<batch::Message>::with_capacity(count.min(1 << 14)));
    }
    assert!(budget::peak_of(&claiming(batch::MAGIC, 0, &[]), trusting) > budget::limit(8));
}

proptest! {
    #[test]
    fn arbitrary_batches_stay_within_the_budget(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        assert_bounded(&bytes, decode_batch);
        let mut with_magic = batch::MAGIC.to_vec();
        with_magic.extend(&bytes);
        assert_bounded(&with_magic, decode_batch);
    }

    #[test]
    fn arbitrary_lists_stay_within_the_budget(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        assert_bounded(&bytes, decode_list);
        let mut with_magic = message_list::MAGIC.to_vec();
        with_magic.extend(&bytes);
        assert_bounded(&with_magic, decode_list);
    }
}

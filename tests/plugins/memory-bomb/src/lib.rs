//! `memory-bomb`, a hostile test consumer that allocates memory until allocation fails,
//! for the broker's memory cap per instance.
//!
//! It allocates 1 MiB blocks, writes every page of each so the memory is really used,
//! and keeps them. When the instance's memory cannot grow any more the allocation fails
//! and the module aborts, which traps.
//!
//! Config: empty, to allocate without end; or a number of MiB, to allocate that much,
//! free it and ack the batch (a module that stays under the cap, for comparison).

use std::hint::black_box;

use weir_sdk::{Consumer, Message, Outcome};

/// The size of each block.
const BLOCK: usize = 1 << 20;

/// The distance between the bytes written in a block: a wasm page.
const PAGE: usize = 64 << 10;

/// The consumer.
pub struct MemoryBomb;

impl Consumer for MemoryBomb {
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
        let limit = config.trim().parse::<usize>().ok();
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        while limit.is_none_or(|mib| blocks.len() < mib) {
            let mut block = vec![0u8; BLOCK];
            for byte in block.iter_mut().step_by(PAGE) {
                *byte = 1;
            }
            blocks.push(black_box(block));
        }
        black_box(&blocks);
        vec![Outcome::Ack; batch.len()]
    }
}

weir_sdk::export_consumer!(MemoryBomb);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_bomb_acks() {
        let outcomes = MemoryBomb::handle("2", vec![Message::default()]);
        assert_eq!(outcomes, [Outcome::Ack]);
    }
}

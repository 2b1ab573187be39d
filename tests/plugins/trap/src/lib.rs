//! `trap`, a hostile test consumer that traps, for the broker's containment of failed
//! calls: the batch fails, its messages are retried, then dead-lettered, and a module
//! that keeps failing is quarantined.
//!
//! Config, the way to trap:
//!
//! * empty or `panic`: a Rust panic (which aborts, a wasm `unreachable`);
//! * `unreachable`: the `unreachable` instruction directly;
//! * `stack-overflow`: unbounded recursion, until the wasm stack is exhausted;
//! * `first-attempt`: a panic when any message of the batch is on its first delivery,
//!   else ack them all (for tests of redelivery after a trap).
//!
//! An unknown config panics too.

use std::hint::black_box;

use weir_sdk::{Consumer, Message, Outcome};

/// The consumer.
pub struct Trap;

impl Consumer for Trap {
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
        match config.trim() {
            "first-attempt" if batch.iter().all(|message| message.attempt > 1) => {
                vec![Outcome::Ack; batch.len()]
            }
            "unreachable" => unreachable_instruction(),
            "stack-overflow" => {
                black_box(recurse(black_box(1)));
                unreachable!("the recursion does not end")
            }
            other => panic!("trap plugin, config {other:?}: trapping on purpose"),
        }
    }
}

weir_sdk::export_consumer!(Trap);

/// Executes `unreachable`.
#[cfg(target_arch = "wasm32")]
fn unreachable_instruction() -> ! {
    core::arch::wasm32::unreachable()
}

/// Elsewhere (unit tests) a panic is the nearest thing.
#[cfg(not(target_arch = "wasm32"))]
fn unreachable_instruction() -> ! {
    panic!("unreachable")
}

/// Recursion the optimiser cannot turn into a loop: each frame keeps a buffer alive
/// across the call.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    recurse(depth + 1).wrapping_add(frame[black_box(0)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_attempt_acks_redeliveries() {
        let batch = vec![
            Message {
                attempt: 2,
                ..Message::default()
            };
            2
        ];
        assert_eq!(Trap::handle("first-attempt", batch), vec![Outcome::Ack; 2]);
    }

    #[test]
    #[should_panic(expected = "on purpose")]
    fn first_attempt_traps_first_deliveries() {
        let batch = vec![Message {
            attempt: 1,
            ..Message::default()
        }];
        Trap::handle("first-attempt", batch);
    }
}

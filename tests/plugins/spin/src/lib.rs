//! `spin`, a hostile test consumer that burns CPU instead of returning, for the broker's
//! per-call deadline (epoch interruption) and its isolation of slow modules.
//!
//! Config: empty, to loop forever; or a number of milliseconds, to busy-wait that long by
//! the host's clock and then ack the batch (a slow module that does finish, for tests of
//! the deadline's edge).

use std::hint::black_box;

use weir_sdk::{Consumer, Message, Outcome};

/// The consumer.
pub struct Spin;

impl Consumer for Spin {
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
        match config.trim().parse::<i64>() {
            Ok(ms) => {
                let until = weir_sdk::now_ms().saturating_add(ms);
                while weir_sdk::now_ms() < until {
                    black_box(busy_work());
                }
                vec![Outcome::Ack; batch.len()]
            }
            Err(_) => loop {
                black_box(busy_work());
            },
        }
    }
}

weir_sdk::export_consumer!(Spin);

/// Some arithmetic the optimiser cannot remove.
fn busy_work() -> u64 {
    (0..1_000u64).fold(black_box(1), |acc, i| acc.wrapping_mul(31).wrapping_add(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_is_waited_then_acked() {
        weir_sdk::testing::reset();
        let outcomes = Spin::handle("5", vec![Message::default(); 2]);
        assert_eq!(outcomes, [Outcome::Ack, Outcome::Ack]);
    }
}

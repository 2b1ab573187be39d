//! `oversized`, a hostile test consumer whose answer breaks the contract "one outcome per
//! message" or is too big, for the broker's validation of what a plugin returns.
//!
//! Config, the answer:
//!
//! * empty or `huge`: 1 Mi acks, whatever the batch size (16 MiB of outcomes);
//! * `long`: one outcome more than the batch has messages;
//! * `short`: one fewer (none for a batch of one);
//! * `empty`: no outcomes at all;
//! * `long-reason`: the right number, but the first is a dead-letter whose reason is
//!   16 MiB long.

use weir_sdk::{Consumer, Message, Outcome};

/// Outcomes in a `huge` answer.
const HUGE: usize = 1 << 20;

/// Bytes in a `long-reason` reason.
const LONG_REASON: usize = 16 << 20;

/// The consumer.
pub struct Oversized;

impl Consumer for Oversized {
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
        let n = batch.len();
        match config.trim() {
            "long" => vec![Outcome::Ack; n + 1],
            "short" => vec![Outcome::Ack; n.saturating_sub(1)],
            "empty" => Vec::new(),
            "long-reason" => {
                let mut outcomes = vec![Outcome::Ack; n];
                if let Some(first) = outcomes.first_mut() {
                    *first = Outcome::DeadLetter("x".repeat(LONG_REASON));
                }
                outcomes
            }
            _ => vec![Outcome::Ack; HUGE],
        }
    }
}

weir_sdk::export_consumer!(Oversized);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_breaks_the_contract() {
        let batch = || vec![Message::default(); 3];
        assert_eq!(Oversized::handle("long", batch()).len(), 4);
        assert_eq!(Oversized::handle("short", batch()).len(), 2);
        assert_eq!(Oversized::handle("empty", batch()).len(), 0);
        assert_eq!(Oversized::handle("", batch()).len(), HUGE);
        let reason = &Oversized::handle("long-reason", batch())[0];
        assert!(matches!(reason, Outcome::DeadLetter(r) if r.len() == LONG_REASON));
    }
}

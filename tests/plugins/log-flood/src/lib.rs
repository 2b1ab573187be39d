//! `log-flood`, a hostile test consumer that logs as fast as it can, for the broker's
//! per-binding log budget: lines past it are dropped and counted, and summarised.
//!
//! Config:
//!
//! * empty: logs numbered lines in a tight loop until the call's deadline interrupts it
//!   (the call times out);
//! * `N`: logs N numbered lines (`flood line 1` ... `flood line N`) per call, then acks
//!   the batch.

use weir_sdk::log;
use weir_sdk::{Consumer, Message, Outcome};

/// The consumer.
pub struct LogFlood;

impl Consumer for LogFlood {
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
        match config.trim().parse::<u64>() {
            Ok(lines) => {
                for i in 1..=lines {
                    log::info(format!("flood line {i}"));
                }
                vec![Outcome::Ack; batch.len()]
            }
            Err(_) => {
                let mut i = 0u64;
                loop {
                    i += 1;
                    log::info(format!("flood line {i}"));
                }
            }
        }
    }
}

weir_sdk::export_consumer!(LogFlood);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_logged_then_acked() {
        weir_sdk::testing::reset();
        let outcomes = LogFlood::handle("3", vec![Message::default(); 2]);
        assert_eq!(outcomes, [Outcome::Ack, Outcome::Ack]);
        let lines: Vec<String> = weir_sdk::testing::logs()
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        assert_eq!(lines, ["flood line 1", "flood line 2", "flood line 3"]);
    }
}

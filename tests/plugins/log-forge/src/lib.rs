//! `log-forge`, a hostile test consumer whose log messages try to pass for the broker's
//! own log lines, for the broker's escaping of plugin text: each message carries a
//! forged line (`2026-12-02T10:00:00.000000Z ERROR weir::serve: forged ...`) behind a
//! line break of some kind, a terminal escape, or a bidi override, and one message is
//! 1 MiB of forged lines.
//!
//! Config:
//!
//! * empty: logs every message of [`forgeries`] once per call, then acks the batch;
//! * `trap`: logs them, then panics with a forged line in the panic message (which the
//!   broker reads from the guest's stderr into the trap's text and the dead-letter
//!   reason).

use weir_sdk::log::{self, Level};
use weir_sdk::{Consumer, Message, Outcome};

/// The start of every forged line: a timestamp and level as the broker writes them.
pub const FORGED: &str = "2026-12-02T10:00:00.000000Z ERROR weir::serve: forged";

/// Size of the large message.
const LARGE_BYTES: usize = 1 << 20;

/// The messages logged, each with the level it is logged at.
pub fn forgeries() -> Vec<(Level, String)> {
    let mut large = String::with_capacity(LARGE_BYTES + FORGED.len() + 16);
    while large.len() < LARGE_BYTES {
        large.push_str(&format!("\n{FORGED} large"));
    }
    vec![
        (Level::Error, format!("before\n{FORGED} newline")),
        (Level::Warn, format!("before\r\n{FORGED} crlf")),
        (Level::Info, format!("before\r{FORGED} carriage return")),
        (
            Level::Error,
            format!("\u{1b}[2K\u{1b}[1G{FORGED} ansi \u{1b}[31mred\u{1b}[0m"),
        ),
        (
            Level::Info,
            format!("before\u{2028}{FORGED} line separator"),
        ),
        (
            Level::Info,
            format!("before\u{2029}{FORGED} paragraph separator"),
        ),
        (Level::Info, format!("before\u{85}{FORGED} next line")),
        (
            Level::Warn,
            format!("before\u{202e}{FORGED} bidi override\u{202c}"),
        ),
        (
            Level::Info,
            format!("before\u{0}\u{7f}\u{9b}{FORGED} nul del csi"),
        ),
        (Level::Error, large),
    ]
}

/// The consumer.
pub struct LogForge;

impl Consumer for LogForge {
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
        for (level, message) in forgeries() {
            log::write(level, message);
        }
        if config.trim() == "trap" {
            panic!("log-forge trapping\n{FORGED} panic");
        }
        vec![Outcome::Ack; batch.len()]
    }
}

weir_sdk::export_consumer!(LogForge);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_forgery_carries_a_forged_line_and_one_is_large() {
        let all = forgeries();
        assert!(all.iter().all(|(_, message)| message.contains(FORGED)));
        assert!(all.iter().any(|(_, message)| message.len() >= LARGE_BYTES));
    }

    #[test]
    fn the_batch_is_acked() {
        weir_sdk::testing::reset();
        let outcomes = LogForge::handle("", vec![Message::default(); 2]);
        assert_eq!(outcomes, [Outcome::Ack, Outcome::Ack]);
    }
}

//! Master/slave replication of the commitlog.
//!
//! A slave follows its master's commitlog byte for byte; everything the broker remembers
//! (messages, acks, offsets, timers, transaction decisions, the plugin catalog) is in
//! that log, so a slave that replays it through the recovery path has all of it.
//!
//! * [`epochs`]: the history of masters (epoch numbers and where each began in the log)
//!   and the consistent point two histories agree on, where a diverged replica cuts its
//!   log before following.
//! * [`protocol`]: the messages of the replication link and their byte layout, encoder
//!   and decoder side by side.

pub mod epoch_file;
pub mod epochs;
pub mod protocol;

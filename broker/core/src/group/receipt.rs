//! Receipt handles: which delivery of which message a consumer holds.
//!
//! A handle names the group incarnation, the member, the source queue, the queue offset
//! and the delivery sequence number. A later delivery of the same message (after the
//! invisible time passed, or a change of invisible time) gets a new sequence number, so
//! an old handle no longer matches and is refused.

use std::fmt;

/// The source index of a group's retry topic; topic queues use their queue number.
pub(crate) const RETRY_SOURCE: u32 = u32::MAX;

/// A parsed receipt handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The group incarnation it was issued by.
    pub incarnation: u64,
    /// The member index (0 in clustering mode).
    pub member: u32,
    /// The queue of the topic, or the retry topic.
    pub(crate) source: u32,
    /// The offset in that queue.
    pub offset: u64,
    /// The delivery sequence number.
    pub seq: u64,
}

impl Receipt {
    /// Parses the text form; `None` when it is not a receipt handle.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let mut next = || parts.next();
        let incarnation = u64::from_str_radix(next()?, 16).ok()?;
        let member = u32::from_str_radix(next()?, 16).ok()?;
        let source = match next()? {
            "r" => RETRY_SOURCE,
            queue => {
                let queue = u32::from_str_radix(queue, 16).ok()?;
                (queue != RETRY_SOURCE).then_some(queue)?
            }
        };
        let offset = u64::from_str_radix(next()?, 16).ok()?;
        let seq = u64::from_str_radix(next()?, 16).ok()?;
        if next().is_some() {
            return None;
        }
        Some(Self {
            incarnation,
            member,
            source,
            offset,
            seq,
        })
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}.{:x}.", self.incarnation, self.member)?;
        if self.source == RETRY_SOURCE {
            f.write_str("r")?;
        } else {
            write!(f, "{:x}", self.source)?;
        }
        write!(f, ".{:x}.{:x}", self.offset, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_and_garbage_is_refused() {
        for source in [0, 7, RETRY_SOURCE] {
            let receipt = Receipt {
                incarnation: 0xdead_beef,
                member: 3,
                source,
                offset: 123_456,
                seq: u64::MAX,
            };
            assert_eq!(Receipt::parse(&receipt.to_string()), Some(receipt));
        }
        for bad in [
            "",
            "x",
            "1.2.3.4",
            "1.2.3.4.5.6",
            "1.2.q.4.5",
            "1.2.ffffffff.4.5",
        ] {
            assert_eq!(Receipt::parse(bad), None, "{bad}");
        }
    }
}

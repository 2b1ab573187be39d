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
        let incarnation = parse_hex(next()?)?;
        let member = u32::try_from(parse_hex(next()?)?).ok()?;
        let source = match next()? {
            "r" => RETRY_SOURCE,
            queue => {
                let queue = u32::try_from(parse_hex(queue)?).ok()?;
                (queue != RETRY_SOURCE).then_some(queue)?
            }
        };
        let offset = parse_hex(next()?)?;
        let seq = parse_hex(next()?)?;
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

impl Receipt {
    /// The text form: `incarnation.member.queue.offset.seq` in lowercase hex, the queue
    /// `r` for the retry topic. Written by hand: one is made per delivery, and the
    /// formatting machinery costs several times more.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(64);
        push_hex(&mut text, self.incarnation);
        text.push('.');
        push_hex(&mut text, u64::from(self.member));
        text.push('.');
        if self.source == RETRY_SOURCE {
            text.push('r');
        } else {
            push_hex(&mut text, u64::from(self.source));
        }
        text.push('.');
        push_hex(&mut text, self.offset);
        text.push('.');
        push_hex(&mut text, self.seq);
        text
    }
}

/// Reads 1 to 16 lowercase or uppercase hex digits.
fn parse_hex(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    text.bytes().try_fold(0u64, |value, byte| {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' => byte - b'A' + 10,
            _ => return None,
        };
        Some(value << 4 | u64::from(digit))
    })
}

/// Appends `value` in lowercase hex without leading zeros.
fn push_hex(text: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut at = buf.len();
    let mut rest = value;
    loop {
        at -= 1;
        buf[at] = DIGITS[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    for &digit in &buf[at..] {
        text.push(char::from(digit));
    }
}

impl Receipt {
    /// The body of the `receipt` fuzz target (`fuzz/`), here so that the fuzzer and the
    /// corpus replay of the test suite run the same checks. Not part of the API.
    ///
    /// Checked: parsing never panics; a parsed handle encodes to text that parses back to
    /// it; that text is `data` itself exactly when `data` was already in the canonical
    /// form (lowercase hex without leading zeros), and never longer than the longest
    /// handle.
    #[doc(hidden)]
    pub fn fuzz(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let Some(receipt) = Receipt::parse(text) else {
            return;
        };
        let encoded = receipt.encode();
        assert_eq!(Receipt::parse(&encoded), Some(receipt), "{encoded}");
        assert!(encoded.len() <= 16 * 5 + 4, "{encoded}");
        let canonical = text.split('.').all(|part| {
            part == "r"
                || (!part.bytes().any(|b| b.is_ascii_uppercase())
                    && (part == "0" || !part.starts_with('0')))
        });
        assert_eq!(canonical, encoded == text, "{text} encodes as {encoded}");
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
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
            let zero = Receipt {
                incarnation: 0,
                member: 0,
                source: 0,
                offset: 0,
                seq: 0,
            };
            assert_eq!(zero.encode(), "0.0.0.0.0");
            assert_eq!(Receipt::parse(&receipt.to_string()), Some(receipt));
            assert_eq!(
                receipt.encode(),
                format!(
                    "deadbeef.3.{}.1e240.ffffffffffffffff",
                    if source == RETRY_SOURCE {
                        "r".to_string()
                    } else {
                        format!("{source:x}")
                    }
                )
            );
        }
        for bad in [
            "",
            "x",
            "1.2.3.4",
            "1.2.3.4.5.6",
            "1.2.q.4.5",
            "1.2.ffffffff.4.5",
            "1.2.3.4.+5",
            "1.2.3.4.",
            "1.2.3.4.10000000000000000",
            "1.100000000.3.4.5",
        ] {
            assert_eq!(Receipt::parse(bad), None, "{bad}");
        }
    }
}

//! The replication link's messages and their byte layout: the encoder the sending side
//! uses and the decoder the receiving side uses, side by side so that they cannot
//! disagree.
//!
//! ```text
//! message   := kind u8, len u32, body                 (len = body's bytes; little-endian)
//! hello     := kind 1  slave -> master
//!              magic "WRP1", id str, token str, end u64, segment_bytes u64, epochs
//! welcome   := kind 2  master -> slave
//!              epochs, follow_from u64, master_end u64
//! refused   := kind 3  master -> slave, then the master closes the link
//!              code str, reason str
//! records   := kind 4  master -> slave
//!              epoch u64, epoch_start u64, confirmed u64, offset u64, bytes (the rest)
//! heartbeat := kind 5  master -> slave
//!              epoch u64, confirmed u64, master_end u64, sent_ms i64
//! ack       := kind 6  slave -> master
//!              durable_end u64
//! epochs    := count u16, (number u64, start u64) * count
//! str       := len u16, UTF-8 bytes
//! ```
//!
//! A slave opens with `hello`: who it is, the token when the master's link asks for one,
//! where its log ends, its segment size (both logs must cut segments alike) and its
//! epoch history. The master answers `welcome` with its own history and where the
//! slave must follow from (the [consistent point](crate::epochs::consistent_point); a
//! slave whose log is longer cuts it there first, durably), or `refused`. Then
//! `records`: commitlog bytes as stored, starting at `offset`, all written in `epoch`
//! (a message never spans two epochs), with the master's confirmed position (what the
//! in-sync slaves hold durably: the most a slave may serve to readers); `heartbeat`s
//! when there is nothing to send; the slave answers `ack` with its durable end after
//! each fsync.
//!
//! Decoding is total: any input either decodes, asks for more bytes, or yields a
//! [`DecodeError`], never a panic; a body's length is checked against
//! [`MAX_MESSAGE_LEN`] before anything is reserved, and records' bytes are sliced out
//! of the input without copying.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::epochs::{Epoch, EpochHistory, HistoryError};

/// The four bytes a `hello` starts with: the protocol and its version.
pub const MAGIC: &[u8; 4] = b"WRP1";
/// The length of a message's header (kind, len).
pub const HEADER_LEN: usize = 1 + 4;
/// The largest body a message may have. Records are sent in batches up to
/// [`MAX_RECORDS_LEN`]; the rest is room for their header. A peer announcing more is
/// refused before anything is read, so a hostile or broken peer cannot make the
/// receiver reserve memory.
pub const MAX_MESSAGE_LEN: usize = MAX_RECORDS_LEN + 64;
/// The most commitlog bytes one `records` message carries: 8 MiB, above the largest
/// record (a 4 MiB body with its headers), so any record fits in one message.
pub const MAX_RECORDS_LEN: usize = 8 * 1024 * 1024;
/// The longest id, token, code or reason (a u16 length).
pub const MAX_STR_LEN: usize = u16::MAX as usize;
/// The most epochs a history on the link may hold (a u16 count).
pub const MAX_EPOCHS: usize = u16::MAX as usize;

const HELLO: u8 = 1;
const WELCOME: u8 = 2;
const REFUSED: u8 = 3;
const RECORDS: u8 = 4;
const HEARTBEAT: u8 = 5;
const ACK: u8 = 6;

/// One message of the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A slave introduces itself.
    Hello(Hello),
    /// The master accepts a slave and says where it follows from.
    Welcome {
        /// The master's epoch history.
        epochs: EpochHistory,
        /// Where the slave's log must end before it appends (it cuts what lies past).
        follow_from: u64,
        /// Where the master's log ends now.
        master_end: u64,
    },
    /// The master refuses the slave and closes the link.
    Refused {
        /// A stable code (`UNAUTHORIZED`, `SEGMENT_SIZE_MISMATCH`, `STALE_EPOCH`, ...).
        code: String,
        /// What to fix, for the slave's log.
        reason: String,
    },
    /// Commitlog bytes.
    Records(Records),
    /// Nothing to send; the master is alive.
    Heartbeat {
        /// The master's epoch.
        epoch: u64,
        /// The master's confirmed position.
        confirmed: u64,
        /// Where the master's log ends.
        master_end: u64,
        /// When the master sent it, ms since the Unix epoch (for the lag in time).
        sent_ms: i64,
    },
    /// The slave's log is durable up to here.
    Ack {
        /// Where the slave's fsynced log ends.
        durable_end: u64,
    },
}

/// A slave's `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The slave's id (unique among the master's slaves).
    pub id: String,
    /// The replication token, empty when the master asks for none.
    pub token: String,
    /// Where the slave's log ends.
    pub end: u64,
    /// The slave's commitlog segment size.
    pub segment_bytes: u64,
    /// The slave's epoch history.
    pub epochs: EpochHistory,
}

/// A `records` message: commitlog bytes written in one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records {
    /// The epoch the bytes were written in.
    pub epoch: u64,
    /// Where that epoch begins.
    pub epoch_start: u64,
    /// The master's confirmed position.
    pub confirmed: u64,
    /// Where the bytes go in the log.
    pub offset: u64,
    /// The bytes, as stored (whole records).
    pub bytes: Bytes,
}

/// Why a message cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A string longer than its u16 length.
    #[error("{field} is {len} bytes, more than the protocol's {MAX_STR_LEN}")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// More epochs than the u16 count can say.
    #[error("{count} epochs is more than the protocol's {MAX_EPOCHS}")]
    TooManyEpochs {
        /// How many.
        count: usize,
    },
    /// More record bytes than one message carries.
    #[error("{len} record bytes is more than one message's {MAX_RECORDS_LEN}")]
    TooManyBytes {
        /// How many.
        len: usize,
    },
}

/// Why bytes received are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A kind byte no message has.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// A body longer than [`MAX_MESSAGE_LEN`].
    #[error("a message of {0} bytes is more than the protocol's {MAX_MESSAGE_LEN}")]
    TooLarge(usize),
    /// A `hello` without the magic (not a Weir replica, or another version).
    #[error("not a Weir replication hello (magic {0:?})")]
    BadMagic([u8; 4]),
    /// A body that ends inside a field, or has bytes after its last field.
    #[error("a {kind} message is malformed: {reason}")]
    Malformed {
        /// Which message.
        kind: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A string that is not UTF-8.
    #[error("the {0} of a message is not UTF-8")]
    NotUtf8(&'static str),
    /// An epoch history that does not hold together.
    #[error("an epoch history is invalid: {0}")]
    Epochs(#[from] HistoryError),
}

impl Message {
    /// Appends the message to `out`.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] when a field is larger than the protocol allows; nothing is
    /// written then.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut body = BytesMut::new();
        let kind = match self {
            Message::Hello(hello) => {
                body.put_slice(MAGIC);
                put_str(&mut body, "id", &hello.id)?;
                put_str(&mut body, "token", &hello.token)?;
                body.put_u64_le(hello.end);
                body.put_u64_le(hello.segment_bytes);
                put_epochs(&mut body, &hello.epochs)?;
                HELLO
            }
            Message::Welcome {
                epochs,
                follow_from,
                master_end,
            } => {
                put_epochs(&mut body, epochs)?;
                body.put_u64_le(*follow_from);
                body.put_u64_le(*master_end);
                WELCOME
            }
            Message::Refused { code, reason } => {
                put_str(&mut body, "code", code)?;
                put_str(&mut body, "reason", reason)?;
                REFUSED
            }
            Message::Records(records) => {
                if records.bytes.len() > MAX_RECORDS_LEN {
                    return Err(EncodeError::TooManyBytes {
                        len: records.bytes.len(),
                    });
                }
                body.put_u64_le(records.epoch);
                body.put_u64_le(records.epoch_start);
                body.put_u64_le(records.confirmed);
                body.put_u64_le(records.offset);
                body.put_slice(&records.bytes);
                RECORDS
            }
            Message::Heartbeat {
                epoch,
                confirmed,
                master_end,
                sent_ms,
            } => {
                body.put_u64_le(*epoch);
                body.put_u64_le(*confirmed);
                body.put_u64_le(*master_end);
                body.put_i64_le(*sent_ms);
                HEARTBEAT
            }
            Message::Ack { durable_end } => {
                body.put_u64_le(*durable_end);
                ACK
            }
        };
        out.reserve(HEADER_LEN + body.len());
        out.put_u8(kind);
        // Every body is below MAX_MESSAGE_LEN (checked field by field above), so fits.
        out.put_u32_le(body.len() as u32);
        out.put_slice(&body);
        Ok(())
    }

    /// Takes one message off the front of `input`: `Ok(None)` when `input` does not hold
    /// a whole one yet (nothing is consumed then).
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a message; the link is broken then.
    pub fn decode(input: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        if input.len() < HEADER_LEN {
            return Ok(None);
        }
        let kind = input[0];
        let len = u32::from_le_bytes([input[1], input[2], input[3], input[4]]) as usize;
        if !(HELLO..=ACK).contains(&kind) {
            return Err(DecodeError::UnknownKind(kind));
        }
        if len > MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLarge(len));
        }
        if input.len() < HEADER_LEN + len {
            input.reserve(HEADER_LEN + len - input.len());
            return Ok(None);
        }
        input.advance(HEADER_LEN);
        let mut body = input.split_to(len).freeze();
        let message = match kind {
            HELLO => decode_hello(&mut body)?,
            WELCOME => {
                let epochs = take_epochs(&mut body, "welcome")?;
                let follow_from = take_u64(&mut body, "welcome")?;
                let master_end = take_u64(&mut body, "welcome")?;
                Message::Welcome {
                    epochs,
                    follow_from,
                    master_end,
                }
            }
            REFUSED => Message::Refused {
                code: take_str(&mut body, "refused", "code")?,
                reason: take_str(&mut body, "refused", "reason")?,
            },
            RECORDS => {
                let epoch = take_u64(&mut body, "records")?;
                let epoch_start = take_u64(&mut body, "records")?;
                let confirmed = take_u64(&mut body, "records")?;
                let offset = take_u64(&mut body, "records")?;
                if body.len() > MAX_RECORDS_LEN {
                    return Err(DecodeError::TooLarge(body.len()));
                }
                let bytes = body.split_to(body.len());
                Message::Records(Records {
                    epoch,
                    epoch_start,
                    confirmed,
                    offset,
                    bytes,
                })
            }
            HEARTBEAT => Message::Heartbeat {
                epoch: take_u64(&mut body, "heartbeat")?,
                confirmed: take_u64(&mut body, "heartbeat")?,
                master_end: take_u64(&mut body, "heartbeat")?,
                sent_ms: take_u64(&mut body, "heartbeat")? as i64,
            },
            _ => Message::Ack {
                durable_end: take_u64(&mut body, "ack")?,
            },
        };
        if !body.is_empty() {
            return Err(DecodeError::Malformed {
                kind: kind_name(kind),
                reason: "bytes after the last field",
            });
        }
        Ok(Some(message))
    }
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        HELLO => "hello",
        WELCOME => "welcome",
        REFUSED => "refused",
        RECORDS => "records",
        HEARTBEAT => "heartbeat",
        _ => "ack",
    }
}

fn decode_hello(body: &mut Bytes) -> Result<Message, DecodeError> {
    if body.len() < MAGIC.len() {
        return Err(DecodeError::Malformed {
            kind: "hello",
            reason: "shorter than its magic",
        });
    }
    let magic = [body[0], body[1], body[2], body[3]];
    if &magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    body.advance(MAGIC.len());
    Ok(Message::Hello(Hello {
        id: take_str(body, "hello", "id")?,
        token: take_str(body, "hello", "token")?,
        end: take_u64(body, "hello")?,
        segment_bytes: take_u64(body, "hello")?,
        epochs: take_epochs(body, "hello")?,
    }))
}

fn put_str(out: &mut BytesMut, field: &'static str, value: &str) -> Result<(), EncodeError> {
    let len = u16::try_from(value.len()).map_err(|_| EncodeError::TooLong {
        field,
        len: value.len(),
    })?;
    out.put_u16_le(len);
    out.put_slice(value.as_bytes());
    Ok(())
}

fn put_epochs(out: &mut BytesMut, epochs: &EpochHistory) -> Result<(), EncodeError> {
    let list = epochs.epochs();
    let count =
        u16::try_from(list.len()).map_err(|_| EncodeError::TooManyEpochs { count: list.len() })?;
    out.put_u16_le(count);
    for epoch in list {
        out.put_u64_le(epoch.number);
        out.put_u64_le(epoch.start);
    }
    Ok(())
}

fn short(kind: &'static str) -> DecodeError {
    DecodeError::Malformed {
        kind,
        reason: "ends inside a field",
    }
}

fn take_u64(body: &mut Bytes, kind: &'static str) -> Result<u64, DecodeError> {
    if body.len() < 8 {
        return Err(short(kind));
    }
    Ok(body.get_u64_le())
}

fn take_str(
    body: &mut Bytes,
    kind: &'static str,
    field: &'static str,
) -> Result<String, DecodeError> {
    if body.len() < 2 {
        return Err(short(kind));
    }
    let len = body.get_u16_le() as usize;
    if body.len() < len {
        return Err(short(kind));
    }
    let bytes = body.split_to(len);
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::NotUtf8(field))
}

fn take_epochs(body: &mut Bytes, kind: &'static str) -> Result<EpochHistory, DecodeError> {
    if body.len() < 2 {
        return Err(short(kind));
    }
    let count = body.get_u16_le() as usize;
    if body.len() < count * 16 {
        return Err(short(kind));
    }
    let epochs = (0..count)
        .map(|_| Epoch {
            number: body.get_u64_le(),
            start: body.get_u64_le(),
        })
        .collect();
    Ok(EpochHistory::new(epochs)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn history() -> impl Strategy<Value = EpochHistory> {
        prop::collection::vec((1u64..1000, 0u64..1_000_000), 0..6).prop_map(|steps| {
            let (mut number, mut start) = (0, 0);
            let epochs = steps
                .into_iter()
                .map(|(n, s)| {
                    number += n;
                    start += s;
                    Epoch { number, start }
                })
                .collect();
            EpochHistory::new(epochs).expect("growing by construction")
        })
    }

    fn message() -> impl Strategy<Value = Message> {
        let text = || "[a-zA-Z0-9 _.:-]{0,40}";
        prop_oneof![
            (text(), text(), any::<u64>(), any::<u64>(), history()).prop_map(
                |(id, token, end, segment_bytes, epochs)| Message::Hello(Hello {
                    id,
                    token,
                    end,
                    segment_bytes,
                    epochs
                })
            ),
            (history(), any::<u64>(), any::<u64>()).prop_map(
                |(epochs, follow_from, master_end)| {
                    Message::Welcome {
                        epochs,
                        follow_from,
                        master_end,
                    }
                }
            ),
            (text(), text()).prop_map(|(code, reason)| Message::Refused { code, reason }),
            (
                any::<[u64; 4]>(),
                prop::collection::vec(any::<u8>(), 0..2048)
            )
                .prop_map(|([epoch, epoch_start, confirmed, offset], bytes)| {
                    Message::Records(Records {
                        epoch,
                        epoch_start,
                        confirmed,
                        offset,
                        bytes: Bytes::from(bytes),
                    })
                }),
            (any::<u64>(), any::<u64>(), any::<u64>(), any::<i64>()).prop_map(
                |(epoch, confirmed, master_end, sent_ms)| Message::Heartbeat {
                    epoch,
                    confirmed,
                    master_end,
                    sent_ms
                }
            ),
            any::<u64>().prop_map(|durable_end| Message::Ack { durable_end }),
        ]
    }

    fn encoded(messages: &[Message]) -> BytesMut {
        let mut out = BytesMut::new();
        for message in messages {
            message.encode(&mut out).expect("encodes");
        }
        out
    }

    #[test]
    fn a_partial_message_asks_for_more_and_consumes_nothing() {
        let whole = encoded(&[Message::Ack { durable_end: 42 }]);
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(Message::decode(&mut part), Ok(None));
            assert_eq!(part.len(), cut);
        }
    }

    #[test]
    fn a_hostile_length_is_refused_before_anything_is_reserved() {
        let mut input = BytesMut::from(&[RECORDS, 0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            Message::decode(&mut input),
            Err(DecodeError::TooLarge(u32::MAX as usize))
        );
        assert!(input.capacity() < 1024);
        let mut unknown = BytesMut::from(&[9, 0, 0, 0, 0][..]);
        assert_eq!(
            Message::decode(&mut unknown),
            Err(DecodeError::UnknownKind(9))
        );
    }

    #[test]
    fn another_protocol_is_told_by_its_magic() {
        let mut out = BytesMut::new();
        Message::Hello(Hello {
            id: "s1".into(),
            token: String::new(),
            end: 0,
            segment_bytes: 1 << 30,
            epochs: EpochHistory::default(),
        })
        .encode(&mut out)
        .unwrap();
        out[HEADER_LEN] = b'X';
        assert_eq!(
            Message::decode(&mut out),
            Err(DecodeError::BadMagic(*b"XRP1"))
        );
    }

    #[test]
    fn a_history_that_goes_back_is_refused() {
        let mut body = BytesMut::new();
        body.put_u16_le(2);
        for (number, start) in [(2u64, 0u64), (1, 10)] {
            body.put_u64_le(number);
            body.put_u64_le(start);
        }
        body.put_u64_le(0);
        body.put_u64_le(0);
        let mut input = BytesMut::new();
        input.put_u8(WELCOME);
        input.put_u32_le(body.len() as u32);
        input.put_slice(&body);
        assert!(matches!(
            Message::decode(&mut input),
            Err(DecodeError::Epochs(HistoryError::NumberNotGrowing { .. }))
        ));
    }

    #[test]
    fn oversized_fields_are_refused_by_the_encoder() {
        let records = Message::Records(Records {
            epoch: 1,
            epoch_start: 0,
            confirmed: 0,
            offset: 0,
            bytes: Bytes::from(vec![0; MAX_RECORDS_LEN + 1]),
        });
        let mut out = BytesMut::new();
        assert_eq!(
            records.encode(&mut out),
            Err(EncodeError::TooManyBytes {
                len: MAX_RECORDS_LEN + 1
            })
        );
        let refused = Message::Refused {
            code: "X".repeat(MAX_STR_LEN + 1),
            reason: String::new(),
        };
        assert!(matches!(
            refused.encode(&mut out),
            Err(EncodeError::TooLong { field: "code", .. })
        ));
        assert!(out.is_empty(), "nothing written on a refusal");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Messages written back to back decode to themselves, in order, whatever the
        /// chunks the bytes arrive in.
        #[test]
        fn messages_round_trip_through_any_chunking(
            messages in prop::collection::vec(message(), 1..8),
            chunk in 1usize..64,
        ) {
            let wire = encoded(&messages);
            let mut input = BytesMut::new();
            let mut decoded = Vec::new();
            for piece in wire.chunks(chunk) {
                input.extend_from_slice(piece);
                while let Some(message) = Message::decode(&mut input).expect("decodes") {
                    decoded.push(message);
                }
            }
            prop_assert!(input.is_empty());
            prop_assert_eq!(decoded, messages);
        }

        /// Any bytes decode, ask for more, or are refused; never a panic.
        #[test]
        fn any_input_is_decoded_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let mut input = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = Message::decode(&mut input) {}
        }

        /// A message cut short or lengthened inside its declared body is refused.
        #[test]
        fn a_body_that_does_not_match_its_fields_is_refused(message in message(), extra in 1u8..8) {
            let mut wire = encoded(std::slice::from_ref(&message));
            // Grow the declared length and the body by `extra` bytes.
            let len = u32::from_le_bytes([wire[1], wire[2], wire[3], wire[4]]) + u32::from(extra);
            wire[1..5].copy_from_slice(&len.to_le_bytes());
            wire.extend(std::iter::repeat_n(0u8, usize::from(extra)));
            let decoded = Message::decode(&mut wire);
            match message {
                // Records take the rest of the body as their bytes.
                Message::Records(_) => prop_assert!(decoded.is_ok()),
                _ => prop_assert!(decoded.is_err()),
            }
        }
    }
}

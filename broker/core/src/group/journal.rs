//! The delivery journal: every change of delivery state as a compact record in the
//! system topic [`JOURNAL_TOPIC`], and periodic snapshots of all state.
//!
//! Queue 0 of the journal topic holds [`Event`] records, one per request (a receive of
//! 32 messages is one record). Queue 1 holds snapshots: the state of every group plus the
//! journal offset the snapshot covers up to. On start the newest snapshot is loaded and
//! the events from its offset on are replayed. Each event *sets* state rather than
//! adjusting it, so an event that is both in a snapshot and replayed after it does no harm.
//!
//! Record body (little endian): `kind u8`, group name (`u16` length + UTF-8),
//! `incarnation u64`, `member u32`, `count u32`, then `count` entries whose layout
//! depends on the kind (see [`Entry`]).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The system topic holding delivery events (queue 0) and state snapshots (queue 1).
pub const JOURNAL_TOPIC: &str = "%SYS%delivery";
/// Queue of [`JOURNAL_TOPIC`] holding events.
pub(crate) const EVENT_QUEUE: u32 = 0;
/// Queue of [`JOURNAL_TOPIC`] holding snapshots.
pub(crate) const SNAPSHOT_QUEUE: u32 = 1;

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// Messages delivered: in flight until a deadline.
    Deliver = 1,
    /// Messages acked.
    Ack = 2,
    /// Invisible time changed (new sequence number and deadline).
    Invisible = 3,
    /// Messages failed: wait for a retry time.
    Retry = 4,
    /// Messages dead-lettered.
    Dead = 5,
    /// Committed offset set (reset or explicit commit); the window is dropped.
    Reset = 6,
    /// A broadcasting member joined; `member` is its index, the one entry its name.
    Member = 7,
}

impl Kind {
    fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Deliver,
            2 => Self::Ack,
            3 => Self::Invisible,
            4 => Self::Retry,
            5 => Self::Dead,
            6 => Self::Reset,
            7 => Self::Member,
            _ => return None,
        })
    }
}

/// One entry of an event. Fields a kind does not use are zero and not encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Source queue (see [`super::receipt::RETRY_SOURCE`]).
    pub(crate) source: u32,
    /// Offset in it.
    pub(crate) offset: u64,
    /// Delivery sequence number (Deliver, Invisible).
    pub(crate) seq: u64,
    /// Deliveries so far (Deliver).
    pub(crate) attempts: u32,
    /// First delivery time (Deliver).
    pub(crate) first_ms: i64,
    /// Deadline: invisible until (Deliver, Invisible) or retry at (Retry).
    pub(crate) time: i64,
}

/// One journal record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) kind: Kind,
    pub(crate) group: String,
    pub(crate) incarnation: u64,
    pub(crate) member: u32,
    pub(crate) entries: Vec<Entry>,
    /// Member name (Member events only).
    pub(crate) name: String,
}

impl Event {
    /// An event with no entries yet.
    pub(crate) fn new(kind: Kind, group: &str, incarnation: u64, member: u32) -> Self {
        Self {
            kind,
            group: group.to_string(),
            incarnation,
            member,
            entries: Vec::new(),
            name: String::new(),
        }
    }

    /// The record body.
    pub(crate) fn encode(&self) -> Bytes {
        let per_entry = match self.kind {
            Kind::Deliver => 40,
            Kind::Invisible => 28,
            Kind::Retry => 20,
            _ => 12,
        };
        let mut out =
            BytesMut::with_capacity(32 + self.group.len() + self.entries.len() * per_entry);
        out.put_u8(self.kind as u8);
        out.put_u16_le(self.group.len() as u16);
        out.put_slice(self.group.as_bytes());
        out.put_u64_le(self.incarnation);
        out.put_u32_le(self.member);
        if self.kind == Kind::Member {
            out.put_u32_le(self.name.len() as u32);
            out.put_slice(self.name.as_bytes());
            return out.freeze();
        }
        out.put_u32_le(self.entries.len() as u32);
        for e in &self.entries {
            out.put_u32_le(e.source);
            out.put_u64_le(e.offset);
            match self.kind {
                Kind::Deliver => {
                    out.put_u64_le(e.seq);
                    out.put_u32_le(e.attempts);
                    out.put_i64_le(e.first_ms);
                    out.put_i64_le(e.time);
                }
                Kind::Invisible => {
                    out.put_u64_le(e.seq);
                    out.put_i64_le(e.time);
                }
                Kind::Retry => out.put_i64_le(e.time),
                _ => {}
            }
        }
        out.freeze()
    }

    /// Parses a record body; `None` when it is not a valid event.
    pub(crate) fn decode(mut input: &[u8]) -> Option<Self> {
        let input = &mut input;
        let kind = Kind::from_u8(take_u8(input)?)?;
        let len = take_u16(input)? as usize;
        let group = String::from_utf8(take(input, len)?.to_vec()).ok()?;
        let incarnation = take_u64(input)?;
        let member = take_u32(input)?;
        let mut event = Self::new(kind, &group, incarnation, member);
        if kind == Kind::Member {
            let len = take_u32(input)? as usize;
            event.name = String::from_utf8(take(input, len)?.to_vec()).ok()?;
            return Some(event);
        }
        let count = take_u32(input)? as usize;
        event.entries.reserve(count.min(input.len() / 12));
        for _ in 0..count {
            let mut e = Entry {
                source: take_u32(input)?,
                offset: take_u64(input)?,
                ..Entry::default()
            };
            match kind {
                Kind::Deliver => {
                    e.seq = take_u64(input)?;
                    e.attempts = take_u32(input)?;
                    e.first_ms = take_u64(input)? as i64;
                    e.time = take_u64(input)? as i64;
                }
                Kind::Invisible => {
                    e.seq = take_u64(input)?;
                    e.time = take_u64(input)? as i64;
                }
                Kind::Retry => e.time = take_u64(input)? as i64,
                _ => {}
            }
            event.entries.push(e);
        }
        input.is_empty().then_some(event)
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Some(head)
}

fn take_u8(input: &mut &[u8]) -> Option<u8> {
    (!input.is_empty()).then(|| input.get_u8())
}

fn take_u16(input: &mut &[u8]) -> Option<u16> {
    (input.len() >= 2).then(|| input.get_u16_le())
}

fn take_u32(input: &mut &[u8]) -> Option<u32> {
    (input.len() >= 4).then(|| input.get_u32_le())
}

fn take_u64(input: &mut &[u8]) -> Option<u64> {
    (input.len() >= 8).then(|| input.get_u64_le())
}

/// The state of every group at one point of the journal.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// Format version.
    pub(crate) version: u32,
    /// Replay events from this offset of the event queue.
    pub(crate) journal_offset: u64,
    /// Per group.
    pub(crate) groups: Vec<GroupSnapshot>,
}

/// One group's state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct GroupSnapshot {
    pub(crate) name: String,
    pub(crate) incarnation: u64,
    /// Broadcasting member names, by index.
    pub(crate) members: Vec<String>,
    pub(crate) cursors: Vec<CursorSnapshot>,
}

/// One cursor's state: the committed offset and the slots that are not plain ready.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct CursorSnapshot {
    pub(crate) member: u32,
    pub(crate) source: u32,
    pub(crate) committed: u64,
    /// `[offset, state, time, attempts, first_ms, seq]` with state 0 ready, 1 in flight,
    /// 2 waiting, 3 done.
    pub(crate) slots: Vec<(u64, u8, i64, u32, i64, u64)>,
}

/// Snapshot format version.
pub(crate) const SNAPSHOT_VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        for kind in [
            Kind::Deliver,
            Kind::Ack,
            Kind::Invisible,
            Kind::Retry,
            Kind::Dead,
            Kind::Reset,
        ] {
            let mut event = Event::new(kind, "orders-g", 42, 3);
            for i in 0..5u64 {
                let mut e = Entry {
                    source: i as u32,
                    offset: i * 1000,
                    ..Entry::default()
                };
                if matches!(kind, Kind::Deliver | Kind::Invisible) {
                    e.seq = i + 7;
                    e.time = 99 + i as i64;
                }
                if kind == Kind::Deliver {
                    e.attempts = 2;
                    e.first_ms = 1234;
                }
                if kind == Kind::Retry {
                    e.time = 555;
                }
                event.entries.push(e);
            }
            let bytes = event.encode();
            assert_eq!(Event::decode(&bytes), Some(event.clone()));
            for cut in 0..bytes.len() {
                assert_eq!(Event::decode(&bytes[..cut]), None, "{kind:?} cut at {cut}");
            }
        }
        let mut member = Event::new(Kind::Member, "g", 1, 4);
        member.name = "host-a".into();
        assert_eq!(Event::decode(&member.encode()), Some(member));
    }
}

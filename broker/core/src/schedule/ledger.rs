//! The outcome ledger of a system topic whose queue 0 holds pending work (delayed
//! messages, half messages): which entries are done, and how, durable through the
//! commitlog.
//!
//! Queue 1 of the topic holds event records: `count u32` then `count` events of
//! `kind u8, offset u64, value u64` (little endian). Kinds below [`FIRST_STEP_KIND`] are
//! outcomes: the entry at `offset` is done. Higher kinds are steps (a check-back counted,
//! a transaction parked) that the owner tracks itself. Queue 2 holds snapshots: the low
//! watermark (every entry below is done), the outcomes above it and the owner's state,
//! with the event offset they cover. Recovery loads the newest snapshot and replays the
//! events after it.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use weir_store::{Message, SnapshotSlot, Store, StoredMessage};

use crate::CoreError;
use crate::broker::now_ms;

/// Queue of pending entries.
pub(crate) const ENTRY_QUEUE: u32 = 0;
/// Queue of event records.
const EVENT_QUEUE: u32 = 1;
/// Queue of snapshots.
const SNAPSHOT_QUEUE: u32 = 2;
/// Kinds from here on are steps, not outcomes.
pub(crate) const FIRST_STEP_KIND: u8 = 128;
/// Entries read per page when scanning.
const PAGE: usize = 1024;

/// One event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LedgerEvent {
    pub(crate) kind: u8,
    pub(crate) offset: u64,
    pub(crate) value: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct Snapshot {
    events_offset: u64,
    low: u64,
    outcomes: Vec<(u64, u8)>,
    owner: serde_json::Value,
}

#[derive(Debug, Default)]
struct State {
    low: u64,
    outcomes: BTreeMap<u64, u8>,
    snapshot_position: u64,
}

/// Which entries of a system topic are done.
#[derive(Debug)]
pub(crate) struct Ledger {
    topic: &'static str,
    state: Mutex<State>,
}

fn encode(events: &[LedgerEvent]) -> Bytes {
    let mut out = BytesMut::with_capacity(4 + events.len() * 17);
    out.put_u32_le(events.len() as u32);
    for e in events {
        out.put_u8(e.kind);
        out.put_u64_le(e.offset);
        out.put_u64_le(e.value);
    }
    out.freeze()
}

fn decode(mut input: &[u8]) -> Option<Vec<LedgerEvent>> {
    if input.len() < 4 {
        return None;
    }
    let count = input.get_u32_le() as usize;
    if input.len() != count * 17 {
        return None;
    }
    Some(
        (0..count)
            .map(|_| LedgerEvent {
                kind: input.get_u8(),
                offset: input.get_u64_le(),
                value: input.get_u64_le(),
            })
            .collect(),
    )
}

pub(crate) fn system_message(body: Bytes) -> Message {
    Message {
        id: String::new(),
        keys: Vec::new(),
        tag: None,
        properties: Vec::new(),
        body,
        born_ms: now_ms(),
        flags: 0,
    }
}

impl Ledger {
    /// Loads the newest snapshot and replays the events after it. Step events and the
    /// owner's snapshot state are handed to `owner`.
    pub(crate) fn recover(
        store: &Store,
        topic: &'static str,
        mut owner: impl FnMut(Option<serde_json::Value>, Option<LedgerEvent>),
    ) -> Result<Self, CoreError> {
        let mut state = State::default();
        let events = store.queue_range(topic, EVENT_QUEUE);
        let mut from = events.min;
        let newest = store.read_snapshot(
            SnapshotSlot::Queue {
                topic,
                queue: SNAPSHOT_QUEUE,
            },
            &format!("{topic} snapshot"),
            |body| serde_json::from_slice::<Snapshot>(body),
        )?;
        if let Some(newest) = newest {
            let snapshot = newest.value;
            from = from.max(snapshot.events_offset);
            state.low = snapshot.low;
            state.outcomes = snapshot.outcomes.into_iter().collect();
            owner(Some(snapshot.owner), None);
        }
        let mut offset = from;
        while offset < events.max {
            let page = store.read_queue(topic, EVENT_QUEUE, offset, PAGE)?;
            let Some(last) = page.last() else { break };
            offset = last.queue_offset + 1;
            for record in page {
                let Some(decoded) = decode(&record.message.body) else {
                    tracing::warn!(
                        topic,
                        offset = record.queue_offset,
                        "skipping an unreadable ledger record"
                    );
                    continue;
                };
                for event in decoded {
                    if event.kind < FIRST_STEP_KIND {
                        apply(&mut state, event);
                    } else {
                        owner(None, Some(event));
                    }
                }
            }
        }
        // Entries lost to retention are done.
        let entries = store.queue_range(topic, ENTRY_QUEUE);
        if state.low < entries.min {
            state.low = entries.min;
            state.outcomes = state.outcomes.split_off(&entries.min);
            advance(&mut state);
        }
        Ok(Self {
            topic,
            state: Mutex::new(state),
        })
    }

    /// The outcome of an entry, if it is done (`Some(0)`: done below the watermark, how
    /// is no longer known).
    pub(crate) fn outcome(&self, offset: u64) -> Option<u8> {
        let state = self.state.lock();
        if offset < state.low {
            return Some(0);
        }
        state.outcomes.get(&offset).copied()
    }

    /// Appends events and applies the outcomes among them; returns the commitlog end.
    pub(crate) fn record(&self, store: &Store, events: &[LedgerEvent]) -> Result<u64, CoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut state = self.state.lock();
        let outcome = store.append(self.topic, &[(EVENT_QUEUE, system_message(encode(events)))])?;
        for event in events {
            if event.kind < FIRST_STEP_KIND {
                apply(&mut state, *event);
            }
        }
        Ok(outcome.end)
    }

    /// Reads the pending entries from the watermark on, page by page.
    pub(crate) fn for_each_pending(
        &self,
        store: &Store,
        mut visit: impl FnMut(StoredMessage),
    ) -> Result<(), CoreError> {
        let range = store.queue_range(self.topic, ENTRY_QUEUE);
        let mut offset = self.state.lock().low.max(range.min);
        while offset < range.max {
            let page = store.read_queue(self.topic, ENTRY_QUEUE, offset, PAGE)?;
            let Some(last) = page.last() else { break };
            offset = last.queue_offset + 1;
            for record in page {
                if self.outcome(record.queue_offset).is_none() {
                    visit(record);
                }
            }
        }
        Ok(())
    }

    /// Writes a snapshot with the owner's state; returns its position.
    pub(crate) fn snapshot(
        &self,
        store: &Store,
        owner: serde_json::Value,
    ) -> Result<u64, CoreError> {
        let mut state = self.state.lock();
        let snapshot = Snapshot {
            events_offset: store.queue_range(self.topic, EVENT_QUEUE).max,
            low: state.low,
            outcomes: state.outcomes.iter().map(|(&o, &k)| (o, k)).collect(),
            owner,
        };
        let body = serde_json::to_vec(&snapshot)
            .map_err(|e| CoreError::InvalidArgument(format!("{} snapshot: {e}", self.topic)))?;
        let outcome = store.append(
            self.topic,
            &[(SNAPSHOT_QUEUE, system_message(Bytes::from(body)))],
        )?;
        state.snapshot_position = outcome.appended.first().map_or(0, |a| a.position);
        Ok(state.snapshot_position)
    }

    /// Position of the newest snapshot written since start (0 before the first).
    pub(crate) fn snapshot_position(&self) -> u64 {
        self.state.lock().snapshot_position
    }
}

fn apply(state: &mut State, event: LedgerEvent) {
    if event.offset >= state.low {
        state.outcomes.insert(event.offset, event.kind);
        advance(state);
    }
}

fn advance(state: &mut State) {
    while state.outcomes.remove(&state.low).is_some() {
        state.low += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let events = vec![
            LedgerEvent {
                kind: 1,
                offset: 7,
                value: 0,
            },
            LedgerEvent {
                kind: 200,
                offset: u64::MAX,
                value: 3,
            },
        ];
        assert_eq!(decode(&encode(&events)), Some(events.clone()));
        let bytes = encode(&events);
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn the_watermark_follows_contiguous_outcomes() {
        let mut state = State::default();
        for offset in [2, 0, 3] {
            apply(
                &mut state,
                LedgerEvent {
                    kind: 1,
                    offset,
                    value: 0,
                },
            );
        }
        assert_eq!(state.low, 1);
        apply(
            &mut state,
            LedgerEvent {
                kind: 1,
                offset: 1,
                value: 0,
            },
        );
        assert_eq!(state.low, 4);
        assert!(state.outcomes.is_empty());
    }
}

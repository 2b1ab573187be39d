//! Delivery state across restarts: [`Groups::recover`] rebuilds every group's cursors on
//! start from the newest state snapshot and the journal events after it, and
//! [`Groups::snapshot`] writes such a snapshot so that the next start replays less.
//!
//! The record formats are in [`super::journal`]. Events *set* state, so an event that is
//! both in a snapshot and replayed after it does no harm. State of a group that was
//! deleted, or deleted and created again (another incarnation), is skipped.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use weir_store::{SnapshotSlot, Store};

use super::cursor::{Cursor, SlotState};
use super::journal::{
    CursorSnapshot, EVENT_QUEUE, Event, GroupSnapshot, JOURNAL_TOPIC, Kind, SNAPSHOT_QUEUE,
    SNAPSHOT_VERSION, Snapshot,
};
use super::spec::GroupConfig;
use super::state::{Group, Groups};
use crate::CoreError;
use crate::broker::now_ms;
use crate::schedule::ledger::system_message;

/// Journal records read from the store per page while replaying.
const REPLAY_PAGE: usize = 1024;

/// Slot states as a snapshot writes them.
const SLOT_READY: u8 = 0;
const SLOT_IN_FLIGHT: u8 = 1;
const SLOT_WAITING: u8 = 2;
const SLOT_DONE: u8 = 3;

impl Groups {
    /// Builds the live groups from their configuration and replays the journal.
    pub(crate) fn recover(store: &Store, configs: Vec<GroupConfig>) -> Result<Self, CoreError> {
        let groups = Self::new();
        for config in configs {
            groups.insert(config)?;
        }
        let range = store.queue_range(JOURNAL_TOPIC, EVENT_QUEUE);
        let mut max_seq = 0u64;
        let mut from = range.min;
        if let Some(snapshot) = load_snapshot(store)? {
            from = from.max(snapshot.journal_offset);
            max_seq = max_seq.max(groups.restore(snapshot));
        }
        let (replayed, replayed_seq) = groups.replay_journal(store, from, range.max)?;
        max_seq = max_seq.max(replayed_seq);
        for group in groups.all() {
            for cursor in group.lock().cursors.values_mut() {
                cursor.refetch();
            }
        }
        // Sequence numbers start above any issued before, also ones whose journal
        // record was lost with an unflushed tail: the clock in microseconds is past them.
        let clock_us = u64::try_from(now_ms()).unwrap_or(0).saturating_mul(1000);
        groups
            .seq
            .store(max_seq.max(clock_us) + 1, Ordering::Relaxed);
        tracing::info!(replayed, "delivery state recovered");
        Ok(groups)
    }

    /// Puts the cursors of a snapshot in place; returns the highest sequence number in it.
    fn restore(&self, snapshot: Snapshot) -> u64 {
        let mut max_seq = 0;
        let live = self.groups.read();
        for saved in snapshot.groups {
            let Some(group) = live.get(&saved.name) else {
                continue;
            };
            if group.config().incarnation != saved.incarnation {
                continue;
            }
            let mut inner = group.lock();
            inner.members = saved.members;
            for c in saved.cursors {
                let mut cursor = Cursor::new(c.committed);
                for (offset, state, time, attempts, first_ms, seq) in c.slots {
                    max_seq = max_seq.max(seq);
                    match state {
                        SLOT_IN_FLIGHT => {
                            cursor.set_delivered(offset, seq, attempts, first_ms, time)
                        }
                        SLOT_WAITING => {
                            cursor.set_delivered(offset, seq, attempts, first_ms, i64::MIN);
                            cursor.set_waiting(offset, time);
                        }
                        SLOT_DONE => cursor.set_done(offset),
                        _ => {}
                    }
                }
                inner.cursors.insert((c.member, c.source), cursor);
            }
        }
        max_seq
    }

    /// Replays the journal events in `from..to`; returns how many records were replayed
    /// and the highest sequence number among them. Unreadable records are skipped.
    fn replay_journal(&self, store: &Store, from: u64, to: u64) -> Result<(u64, u64), CoreError> {
        let (mut replayed, mut max_seq) = (0u64, 0u64);
        let mut offset = from;
        while offset < to {
            let records = store.read_queue(JOURNAL_TOPIC, EVENT_QUEUE, offset, REPLAY_PAGE)?;
            let Some(last) = records.last() else { break };
            offset = last.queue_offset + 1;
            for record in records {
                let Some(event) = Event::decode(&record.message.body) else {
                    tracing::warn!(
                        offset = record.queue_offset,
                        "skipping an unreadable delivery journal record"
                    );
                    continue;
                };
                replayed += 1;
                for e in &event.entries {
                    max_seq = max_seq.max(e.seq);
                }
                self.replay(event);
            }
        }
        Ok((replayed, max_seq))
    }

    /// Applies one journal event to the group it is about.
    fn replay(&self, event: Event) {
        let Some(group) = self.groups.read().get(&event.group).cloned() else {
            return;
        };
        if group.config().incarnation != event.incarnation {
            return;
        }
        let mut inner = group.lock();
        if event.kind == Kind::Member {
            let index = event.member as usize;
            if inner.members.len() <= index {
                inner.members.resize(index + 1, String::new());
            }
            inner.members[index] = event.name;
            return;
        }
        for e in event.entries {
            let start = group.start_offset(e.source);
            let cursor = inner
                .cursors
                .entry((event.member, e.source))
                .or_insert_with(|| Cursor::new(start));
            match event.kind {
                Kind::Deliver => {
                    cursor.set_delivered(e.offset, e.seq, e.attempts, e.first_ms, e.time)
                }
                Kind::Invisible => cursor.set_in_flight(e.offset, e.seq, e.time),
                Kind::Retry => cursor.set_waiting(e.offset, e.time),
                Kind::Ack | Kind::Dead => cursor.set_done(e.offset),
                Kind::Reset => cursor.reset(e.offset),
                Kind::Member => {}
            }
        }
    }

    /// Writes a snapshot of every group's state to the journal's snapshot queue; returns
    /// its commitlog position.
    pub(crate) async fn snapshot(&self, store: &Arc<Store>) -> Result<u64, CoreError> {
        let mut last = self.snapshots.lock().await;
        let snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            journal_offset: store.queue_range(JOURNAL_TOPIC, EVENT_QUEUE).max,
            groups: self.all().iter().map(|group| snapshot_of(group)).collect(),
        };
        let body = serde_json::to_vec(&snapshot)
            .map_err(|err| CoreError::InvalidArgument(format!("delivery snapshot: {err}")))?;
        let outcome = store.append(
            JOURNAL_TOPIC,
            &[(SNAPSHOT_QUEUE, system_message(Bytes::from(body)))],
        )?;
        let position = outcome.appended.first().map_or(0, |a| a.position);
        *last = position;
        Ok(position)
    }

    /// Position of the newest snapshot written since start (0 before the first).
    pub(crate) async fn snapshot_position(&self) -> u64 {
        *self.snapshots.lock().await
    }
}

/// The state of one group as a snapshot holds it.
fn snapshot_of(group: &Group) -> GroupSnapshot {
    let inner = group.lock();
    let cursors = inner
        .cursors
        .iter()
        .map(|(&(member, source), cursor)| CursorSnapshot {
            member,
            source,
            committed: cursor.committed(),
            slots: cursor
                .snapshot()
                .map(|(offset, slot)| {
                    let (state, time) = match slot.state {
                        SlotState::Ready => (SLOT_READY, 0),
                        SlotState::InFlight { until } => (SLOT_IN_FLIGHT, until),
                        SlotState::Waiting { at } => (SLOT_WAITING, at),
                        SlotState::Done => (SLOT_DONE, 0),
                    };
                    (offset, state, time, slot.attempts, slot.first_ms, slot.seq)
                })
                .collect(),
        })
        .collect();
    GroupSnapshot {
        name: group.config().name.clone(),
        incarnation: group.config().incarnation,
        members: inner.members.clone(),
        cursors,
    }
}

/// The newest state snapshot, if one was written.
fn load_snapshot(store: &Store) -> Result<Option<Snapshot>, CoreError> {
    let newest = store.read_snapshot(
        SnapshotSlot::Queue {
            topic: JOURNAL_TOPIC,
            queue: SNAPSHOT_QUEUE,
        },
        "delivery state snapshot",
        |body| serde_json::from_slice::<Snapshot>(body),
    )?;
    Ok(newest.map(|newest| newest.value))
}

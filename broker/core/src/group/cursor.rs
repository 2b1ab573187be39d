//! One member's progress through one queue: the committed offset and the window above it.
//!
//! The window holds a slot for every offset from the committed offset up to the fetch
//! position. A slot is *ready* (fetched, never delivered), *in flight* (delivered and
//! invisible until a deadline), *waiting* (failed, redelivered after a backoff) or
//! *done* (acked, filtered out or dead-lettered). Done slots at the front are popped and
//! advance the committed offset, so the committed offset is always "everything before
//! this is done". Slots past the fetch position exist only after recovery: their state
//! came from the journal, their message is read again before they are delivered.
//!
//! This module is pure bookkeeping: no store, no clock, no locks; the caller passes the
//! time in, which keeps every rule here unit-testable.

use std::collections::{HashSet, VecDeque};

/// Where one slot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Fetched (or recovered without a journaled state) and not delivered.
    Ready,
    /// Delivered; invisible to the group until `until` (ms since the epoch).
    InFlight {
        /// End of the invisible time.
        until: i64,
    },
    /// Failed; deliverable again at `at`.
    Waiting {
        /// When it may be redelivered.
        at: i64,
    },
    /// Acked, filtered out or dead-lettered.
    Done,
}

/// One offset of the window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    /// Commitlog position of the message, once fetched.
    pub(crate) position: u64,
    /// Hash of the message group (FIFO); 0 for none.
    pub(crate) key: u32,
    pub(crate) state: SlotState,
    /// Deliveries so far.
    pub(crate) attempts: u32,
    /// Time of the first delivery, 0 before it.
    pub(crate) first_ms: i64,
    /// Sequence number of the latest delivery.
    pub(crate) seq: u64,
}

impl Slot {
    fn placeholder() -> Self {
        Self {
            position: u64::MAX,
            key: 0,
            state: SlotState::Ready,
            attempts: 0,
            first_ms: 0,
            seq: 0,
        }
    }
}

/// What a scan decided for one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    /// Deliver the message at this offset.
    Deliver(u64),
    /// Its last attempt expired: dead-letter it.
    Dead(u64),
}

/// Why a receipt was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The message was delivered again since (the handle is stale), or its invisible time
    /// passed.
    Expired,
}

/// The outcome of a negative acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Nacked {
    /// Waits for redelivery.
    Retry,
    /// That was the last attempt: dead-letter it.
    Dead,
}

/// A member's progress through one queue.
#[derive(Clone, Debug)]
pub(crate) struct Cursor {
    committed: u64,
    fetched: u64,
    slots: VecDeque<Slot>,
    /// No ready slot below this offset.
    ready_hint: u64,
    /// No in-flight or waiting slot is due before this time (slots already due count:
    /// while one is not picked, every pick scans the whole window).
    next_due: i64,
    /// The earliest deadline still in the future at the last full scan, or set since:
    /// when the group's timer must fire next for this cursor.
    next_future: i64,
}

impl Cursor {
    /// A cursor that starts at `offset`.
    pub(crate) fn new(offset: u64) -> Self {
        Self {
            committed: offset,
            fetched: offset,
            slots: VecDeque::new(),
            ready_hint: offset,
            next_due: i64::MAX,
            next_future: i64::MAX,
        }
    }

    /// Everything below is done.
    pub(crate) fn committed(&self) -> u64 {
        self.committed
    }

    /// The next offset to read from the store.
    pub(crate) fn fetched(&self) -> u64 {
        self.fetched
    }

    /// The next future deadline of an in-flight or waiting slot (a lower bound), when
    /// the group's timer has to look at this cursor again.
    pub(crate) fn next_deadline(&self) -> i64 {
        self.next_future
    }

    /// Slots held above the committed offset.
    pub(crate) fn window(&self) -> usize {
        self.slots.len()
    }

    /// Messages delivered and not yet acked or failed.
    pub(crate) fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s.state, SlotState::InFlight { .. }))
            .count()
    }

    /// The slot at `offset`, if the window holds it.
    pub(crate) fn slot(&self, offset: u64) -> Option<&Slot> {
        let index = usize::try_from(offset.checked_sub(self.committed)?).ok()?;
        self.slots.get(index)
    }

    fn slot_mut(&mut self, offset: u64) -> Option<&mut Slot> {
        let index = usize::try_from(offset.checked_sub(self.committed)?).ok()?;
        self.slots.get_mut(index)
    }

    /// Records the message read at the fetch position. `wanted` is false when the group's
    /// filter drops it.
    pub(crate) fn fill(&mut self, offset: u64, position: u64, key: u32, wanted: bool) {
        debug_assert_eq!(offset, self.fetched);
        let index = (offset - self.committed) as usize;
        if index == self.slots.len() {
            self.slots.push_back(Slot::placeholder());
        }
        let slot = &mut self.slots[index];
        slot.position = position;
        slot.key = key;
        if !wanted {
            slot.state = SlotState::Done;
        }
        self.fetched = offset + 1;
        self.advance();
    }

    /// Skips the fetch position forward to `offset` (messages removed by retention).
    pub(crate) fn skip_to(&mut self, offset: u64) {
        if offset <= self.fetched {
            return;
        }
        while self.fetched < offset {
            let index = (self.fetched - self.committed) as usize;
            if index == self.slots.len() {
                self.slots.push_back(Slot::placeholder());
            }
            self.slots[index].state = SlotState::Done;
            self.fetched += 1;
        }
        self.advance();
    }

    /// Pops done slots off the front.
    fn advance(&mut self) {
        while self
            .slots
            .front()
            .is_some_and(|s| s.state == SlotState::Done)
        {
            self.slots.pop_front();
            self.committed += 1;
        }
        self.fetched = self.fetched.max(self.committed);
        self.ready_hint = self.ready_hint.max(self.committed);
    }

    /// Chooses up to `want` messages to deliver at time `now`, and the expired last
    /// attempts to dead-letter. In FIFO mode a message is only chosen when no earlier
    /// message of its message group is still undone, and at most one per message group.
    pub(crate) fn pick(
        &mut self,
        now: i64,
        want: usize,
        fifo: bool,
        max_attempts: u32,
        picks: &mut Vec<Pick>,
    ) {
        let mut taken = 0;
        let full_scan = fifo || now >= self.next_due;
        let start = if full_scan {
            self.committed
        } else {
            self.ready_hint
        };
        let mut blocked: HashSet<u32> = HashSet::new();
        let mut next_due = i64::MAX;
        let mut next_future = i64::MAX;
        let mut first_ready = None;
        let end = self.fetched;
        let mut offset = start;
        while offset < end {
            let index = (offset - self.committed) as usize;
            let slot = self.slots[index];
            let due = match slot.state {
                SlotState::Done => {
                    offset += 1;
                    continue;
                }
                SlotState::Ready => true,
                SlotState::InFlight { until } => until <= now,
                SlotState::Waiting { at } => at <= now,
            };
            // The hint may only pass ready slots once they are delivered: a pick can be
            // dropped by the caller (it picks again after fetching more).
            if slot.state == SlotState::Ready && first_ready.is_none() {
                first_ready = Some(offset);
            }
            if fifo && blocked.contains(&slot.key) {
                offset += 1;
                continue;
            }
            let expired_last = matches!(slot.state, SlotState::InFlight { .. })
                && due
                && slot.attempts >= max_attempts;
            if expired_last {
                picks.push(Pick::Dead(offset));
            } else if due && taken < want {
                picks.push(Pick::Deliver(offset));
                taken += 1;
                if fifo {
                    blocked.insert(slot.key);
                }
            } else {
                if let SlotState::InFlight { until: t } | SlotState::Waiting { at: t } = slot.state
                {
                    next_due = next_due.min(t);
                    if t > now {
                        next_future = next_future.min(t);
                    }
                }
                if fifo {
                    blocked.insert(slot.key);
                }
                // Without FIFO, once enough are taken only the bookkeeping of a full
                // scan is left; a partial scan can stop.
                if !full_scan && taken >= want {
                    break;
                }
            }
            offset += 1;
        }
        if full_scan {
            self.next_due = next_due;
            self.next_future = next_future;
        }
        if !fifo {
            self.ready_hint = first_ready.unwrap_or(offset.min(end)).max(self.committed);
        }
    }

    /// Marks a delivery: in flight until `until`, with a new sequence number.
    pub(crate) fn deliver(&mut self, offset: u64, seq: u64, now: i64, until: i64) -> Option<Slot> {
        let slot = self.slot_mut(offset)?;
        slot.state = SlotState::InFlight { until };
        slot.attempts += 1;
        slot.seq = seq;
        if slot.first_ms == 0 {
            slot.first_ms = now;
        }
        let slot = *slot;
        self.next_due = self.next_due.min(until);
        self.next_future = self.next_future.min(until);
        if offset == self.ready_hint {
            while self.ready_hint < self.fetched
                && self
                    .slot(self.ready_hint)
                    .is_some_and(|s| s.state != SlotState::Ready)
            {
                self.ready_hint += 1;
            }
        }
        Some(slot)
    }

    /// Checks that `seq` is the live delivery of `offset` at `now`.
    fn live(&self, offset: u64, seq: u64, now: i64) -> Result<Option<Slot>, Refusal> {
        if offset < self.committed {
            return Ok(None);
        }
        match self.slot(offset) {
            Some(slot) if slot.seq == seq => match slot.state {
                SlotState::InFlight { until } if until > now => Ok(Some(*slot)),
                SlotState::Done => Ok(None),
                _ => Err(Refusal::Expired),
            },
            _ => Err(Refusal::Expired),
        }
    }

    /// Acks a delivery. Acking a message that is already done is not an error.
    pub(crate) fn ack(&mut self, offset: u64, seq: u64, now: i64) -> Result<bool, Refusal> {
        if self.live(offset, seq, now)?.is_none() {
            return Ok(false);
        }
        self.set_done(offset);
        Ok(true)
    }

    /// Fails a delivery: redelivered at `retry_at`, or dead-lettered when that was the
    /// last attempt.
    pub(crate) fn nack(
        &mut self,
        offset: u64,
        seq: u64,
        now: i64,
        retry_at: i64,
        max_attempts: u32,
    ) -> Result<Option<Nacked>, Refusal> {
        let Some(slot) = self.live(offset, seq, now)? else {
            return Ok(None);
        };
        if slot.attempts >= max_attempts {
            return Ok(Some(Nacked::Dead));
        }
        self.set_waiting(offset, retry_at);
        Ok(Some(Nacked::Retry))
    }

    /// Extends or shortens the invisible time of a live delivery under a new sequence
    /// number.
    pub(crate) fn change_invisible(
        &mut self,
        offset: u64,
        seq: u64,
        now: i64,
        new_seq: u64,
        until: i64,
    ) -> Result<(), Refusal> {
        if self.live(offset, seq, now)?.is_none() {
            return Err(Refusal::Expired);
        }
        self.set_in_flight(offset, new_seq, until);
        Ok(())
    }

    // Journal replay: each call sets a slot's state, so that replaying a record twice
    // (once in the snapshot, once from the journal) ends in the same state.

    fn ensure(&mut self, offset: u64) -> Option<&mut Slot> {
        let index = usize::try_from(offset.checked_sub(self.committed)?).ok()?;
        while self.slots.len() <= index {
            self.slots.push_back(Slot::placeholder());
        }
        self.fetched = self.fetched.max(self.committed);
        Some(&mut self.slots[index])
    }

    /// Replays (or applies) a delivery with its attempt count and first delivery time.
    pub(crate) fn set_delivered(
        &mut self,
        offset: u64,
        seq: u64,
        attempts: u32,
        first_ms: i64,
        until: i64,
    ) {
        if let Some(slot) = self.ensure(offset)
            && slot.state != SlotState::Done
        {
            slot.state = SlotState::InFlight { until };
            slot.seq = seq;
            slot.attempts = attempts;
            slot.first_ms = first_ms;
            self.next_due = self.next_due.min(until);
            self.next_future = self.next_future.min(until);
        }
    }

    /// Replays (or applies) a new invisible time.
    pub(crate) fn set_in_flight(&mut self, offset: u64, seq: u64, until: i64) {
        if let Some(slot) = self.ensure(offset)
            && slot.state != SlotState::Done
        {
            slot.state = SlotState::InFlight { until };
            slot.seq = seq;
            self.next_due = self.next_due.min(until);
            self.next_future = self.next_future.min(until);
        }
    }

    /// Replays (or applies) a retry wait.
    pub(crate) fn set_waiting(&mut self, offset: u64, at: i64) {
        if let Some(slot) = self.ensure(offset)
            && slot.state != SlotState::Done
        {
            slot.state = SlotState::Waiting { at };
            self.next_due = self.next_due.min(at);
            self.next_future = self.next_future.min(at);
        }
    }

    /// Replays (or applies) an ack or a dead letter.
    pub(crate) fn set_done(&mut self, offset: u64) {
        if let Some(slot) = self.ensure(offset) {
            slot.state = SlotState::Done;
        }
        self.advance();
    }

    /// Moves the committed offset to `offset`, dropping the window.
    pub(crate) fn reset(&mut self, offset: u64) {
        *self = Self::new(offset);
    }

    /// After recovery: read every message of the window again before delivering it.
    pub(crate) fn refetch(&mut self) {
        self.fetched = self.committed;
        self.ready_hint = self.committed;
        self.next_due = i64::MIN;
    }

    /// The slots that carry state worth a snapshot.
    pub(crate) fn snapshot(&self) -> impl Iterator<Item = (u64, &Slot)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state != SlotState::Ready || s.attempts > 0)
            .map(|(i, s)| (self.committed + i as u64, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: u64, keys: &[u32]) -> Cursor {
        let mut cursor = Cursor::new(0);
        for offset in 0..n {
            let key = keys.get(offset as usize).copied().unwrap_or(0);
            cursor.fill(offset, offset * 100, key, true);
        }
        cursor
    }

    fn picks(cursor: &mut Cursor, now: i64, want: usize, fifo: bool) -> Vec<Pick> {
        let mut out = Vec::new();
        cursor.pick(now, want, fifo, 3, &mut out);
        out
    }

    #[test]
    fn acks_out_of_order_commit_only_the_contiguous_prefix() {
        let mut cursor = filled(4, &[]);
        let got = picks(&mut cursor, 0, 10, false);
        assert_eq!(got.len(), 4);
        for offset in 0..4 {
            cursor.deliver(offset, offset + 10, 0, 1000);
        }
        assert_eq!(cursor.ack(2, 12, 1), Ok(true));
        assert_eq!(cursor.committed(), 0);
        assert_eq!(cursor.ack(0, 10, 1), Ok(true));
        assert_eq!(cursor.committed(), 1);
        assert_eq!(cursor.ack(1, 11, 1), Ok(true));
        assert_eq!(cursor.committed(), 3);
        // Acking again is fine; a wrong sequence number is not.
        assert_eq!(cursor.ack(1, 11, 1), Ok(false));
        assert_eq!(cursor.ack(3, 99, 1), Err(Refusal::Expired));
    }

    #[test]
    fn expired_deliveries_come_back_then_die_after_max_attempts() {
        let mut cursor = filled(1, &[]);
        for attempt in 1..=3u64 {
            let now = attempt as i64 * 1000;
            assert_eq!(picks(&mut cursor, now, 1, false), vec![Pick::Deliver(0)]);
            cursor.deliver(0, attempt, now, now + 500);
            assert!(picks(&mut cursor, now + 499, 1, false).is_empty());
            assert_eq!(cursor.ack(0, attempt, now + 500), Err(Refusal::Expired));
        }
        assert_eq!(picks(&mut cursor, 10_000, 1, false), vec![Pick::Dead(0)]);
        cursor.set_done(0);
        assert_eq!(cursor.committed(), 1);
    }

    #[test]
    fn nack_waits_for_the_retry_time() {
        let mut cursor = filled(2, &[]);
        picks(&mut cursor, 0, 2, false);
        cursor.deliver(0, 1, 0, 60_000);
        cursor.deliver(1, 2, 0, 60_000);
        assert_eq!(cursor.nack(0, 1, 10, 5_000, 3), Ok(Some(Nacked::Retry)));
        assert!(picks(&mut cursor, 4_999, 5, false).is_empty());
        assert_eq!(picks(&mut cursor, 5_000, 5, false), vec![Pick::Deliver(0)]);
    }

    #[test]
    fn fifo_delivers_one_message_per_group_in_order() {
        // Offsets 0..6 alternate between message groups 1 and 2.
        let mut cursor = filled(6, &[1, 2, 1, 2, 1, 2]);
        assert_eq!(
            picks(&mut cursor, 0, 10, true),
            vec![Pick::Deliver(0), Pick::Deliver(1)]
        );
        cursor.deliver(0, 1, 0, 1000);
        cursor.deliver(1, 2, 0, 1000);
        assert!(picks(&mut cursor, 1, 10, true).is_empty());
        cursor.ack(1, 2, 1).unwrap();
        assert_eq!(picks(&mut cursor, 1, 10, true), vec![Pick::Deliver(3)]);
        // A failed message holds its group back until it is redelivered.
        cursor.nack(0, 1, 1, 500, 3).unwrap();
        cursor.deliver(3, 3, 1, 1000);
        assert!(picks(&mut cursor, 2, 10, true).is_empty());
        assert_eq!(picks(&mut cursor, 500, 10, true), vec![Pick::Deliver(0)]);
    }

    #[test]
    fn change_invisible_replaces_the_handle() {
        let mut cursor = filled(1, &[]);
        picks(&mut cursor, 0, 1, false);
        cursor.deliver(0, 1, 0, 100);
        cursor.change_invisible(0, 1, 50, 2, 10_000).unwrap();
        assert_eq!(cursor.ack(0, 1, 60), Err(Refusal::Expired));
        assert!(picks(&mut cursor, 5_000, 1, false).is_empty());
        assert_eq!(cursor.ack(0, 2, 5_000), Ok(true));
    }

    #[test]
    fn dropped_picks_are_picked_again() {
        let mut cursor = filled(4, &[]);
        // A pick the caller does not deliver (it fetched more and picked again) must not
        // be skipped by the next scan.
        assert_eq!(picks(&mut cursor, 0, 10, false).len(), 4);
        cursor.fill(4, 400, 0, true);
        let again = picks(&mut cursor, 0, 10, false);
        assert_eq!(again.len(), 5);
        for (i, offset) in (0..5).enumerate() {
            cursor.deliver(offset, i as u64, 0, 1000);
        }
        assert!(picks(&mut cursor, 0, 10, false).is_empty());
        cursor.fill(5, 500, 0, true);
        assert_eq!(picks(&mut cursor, 0, 10, false), vec![Pick::Deliver(5)]);
    }

    #[test]
    fn filtered_messages_are_done_at_once() {
        let mut cursor = Cursor::new(5);
        cursor.fill(5, 0, 0, false);
        cursor.fill(6, 0, 0, true);
        assert_eq!(cursor.committed(), 6);
        assert_eq!(picks(&mut cursor, 0, 5, false), vec![Pick::Deliver(6)]);
    }

    #[test]
    fn replayed_state_survives_a_refetch() {
        let mut cursor = Cursor::new(0);
        cursor.set_delivered(1, 7, 2, 100, 5_000);
        cursor.set_done(0);
        cursor.refetch();
        assert_eq!(cursor.committed(), 1);
        cursor.fill(1, 10, 0, true);
        cursor.fill(2, 20, 0, true);
        // Offset 1 is still in flight with its attempts; offset 2 is new.
        assert_eq!(picks(&mut cursor, 1_000, 5, false), vec![Pick::Deliver(2)]);
        assert_eq!(cursor.slot(1).unwrap().attempts, 2);
        assert_eq!(cursor.ack(1, 7, 1_000), Ok(true));
    }
}

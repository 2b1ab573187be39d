//! The locked step of a receive, [`Consumption::take`]: choose up to `max` messages over
//! the group's queues (fairly, starting at another queue each time), read what the
//! cursors do not hold yet from the store, mark the chosen ones in flight, dead-letter
//! last attempts whose invisible time passed, and journal all of it.
//!
//! The long poll around it, and the checks of the request, are in [`super::receive`].

use weir_store::{StoreError, StoredMessage};

use super::consumption::{Consumption, group_key, origin};
use super::cursor::{Cursor, Pick};
use super::dead_letters::EXPIRED_LAST;
use super::journal::{Entry, Event, Kind};
use super::outcomes::{Delivery, ReceiveRequest};
use super::receipt::{RETRY_SOURCE, Receipt};
use super::state::{Group, GroupInner};
use crate::broker::now_ms;
use crate::limits::MAX_UNACKED_PER_QUEUE;
use crate::{CoreError, MessageIdGenerator};

/// Messages read from the store per fetch of one queue, at most.
const FETCH_CHUNK: usize = 1024;
/// Messages read from the store per fetch of one queue, at least (a receive of one
/// message still reads ahead a little).
const FETCH_MIN: usize = 16;
/// Times a receive reads more from one queue when the cursor's window did not hold
/// enough.
const FETCH_ROUNDS: usize = 2;

/// What one locked step of a receive decided.
pub(crate) struct Taken {
    /// The messages handed out.
    pub(crate) deliveries: Vec<Delivery>,
    /// The earliest future deadline of the cursors visited (`i64::MAX`: none).
    pub(crate) next_due: i64,
    /// The commitlog end after the journal records of the step.
    pub(crate) end: u64,
}

/// What a take collects over the queues it visits.
struct Pass<'a> {
    ids: &'a MessageIdGenerator,
    member: u32,
    now: i64,
    invisible_ms: u64,
    deliver: Event,
    dead: Event,
    deliveries: Vec<Delivery>,
    next_due: i64,
}

/// Messages read from the store in this pass, taken (not cloned) as they are delivered.
#[derive(Default)]
struct Fresh {
    /// Queue offset of the first.
    from: u64,
    messages: Vec<Option<StoredMessage>>,
}

impl Fresh {
    /// The message at `offset`, if this read holds it and it was not taken yet.
    fn take(&mut self, offset: u64) -> Option<StoredMessage> {
        offset
            .checked_sub(self.from)
            .and_then(|i| self.messages.get_mut(i as usize))
            .filter(|s| s.as_ref().is_some_and(|s| s.queue_offset == offset))
            .and_then(Option::take)
    }
}

impl Consumption<'_> {
    /// One locked pass of a receive.
    pub(crate) fn take(
        &self,
        group: &Group,
        request: &ReceiveRequest,
        invisible_ms: u64,
        ids: &MessageIdGenerator,
    ) -> Result<Taken, CoreError> {
        let config = group.config();
        let mut journal = Vec::new();
        let mut inner = group.lock();
        let member = group.member(&mut inner, request.consumer.as_deref(), &mut journal)?;
        let mut pass = Pass {
            ids,
            member,
            now: now_ms(),
            invisible_ms,
            deliver: Event::new(Kind::Deliver, &config.name, config.incarnation, member),
            dead: Event::new(Kind::Dead, &config.name, config.incarnation, member),
            deliveries: Vec::new(),
            next_due: i64::MAX,
        };
        for source in self.sources_in_turn(&mut inner) {
            let want = request.max - pass.deliveries.len();
            if want == 0 {
                break;
            }
            let start = group.start_offset(source);
            let cursor = inner
                .cursors
                .entry((member, source))
                .or_insert_with(|| Cursor::new(start));
            let (picks, mut fresh) = self.plan(group, source, cursor, want, pass.now)?;
            self.answer(group, source, cursor, picks, &mut fresh, &mut pass)?;
            pass.next_due = pass.next_due.min(cursor.next_deadline());
        }
        journal.extend(
            [pass.deliver, pass.dead]
                .into_iter()
                .filter(|e| !e.entries.is_empty()),
        );
        let end = self.append_events(&journal)?;
        Ok(Taken {
            deliveries: pass.deliveries,
            next_due: pass.next_due,
            end,
        })
    }

    /// The topic's queues and the retry queue, starting one further each receive so that
    /// no queue is starved.
    fn sources_in_turn(&self, inner: &mut GroupInner) -> Vec<u32> {
        let mut sources: Vec<u32> = (0..self.queues).collect();
        sources.push(RETRY_SOURCE);
        let rotate = inner.rotate % sources.len();
        inner.rotate = inner.rotate.wrapping_add(1);
        sources.rotate_left(rotate);
        sources
    }

    /// Picks from what the cursor's window holds; when that is not enough, reads more
    /// from the store and picks again (at most [`FETCH_ROUNDS`] times).
    fn plan(
        &self,
        group: &Group,
        source: u32,
        cursor: &mut Cursor,
        want: usize,
        now: i64,
    ) -> Result<(Vec<Pick>, Fresh), CoreError> {
        let config = group.config();
        let mut picks = Vec::new();
        let mut fresh = Fresh::default();
        for round in 0..=FETCH_ROUNDS {
            picks.clear();
            cursor.pick(now, want, config.fifo, config.max_attempts, &mut picks);
            let delivering = picks
                .iter()
                .filter(|p| matches!(p, Pick::Deliver(_)))
                .count();
            if round == FETCH_ROUNDS
                || delivering >= want
                || cursor.window() >= MAX_UNACKED_PER_QUEUE
            {
                break;
            }
            match self.fetch(group, source, cursor, want - delivering)? {
                Some(read) => fresh = read,
                None => break,
            }
        }
        Ok((picks, fresh))
    }

    /// Reads the messages after the cursor's window into it, about `missing` of them;
    /// `None` when the queue holds nothing more.
    fn fetch(
        &self,
        group: &Group,
        source: u32,
        cursor: &mut Cursor,
        missing: usize,
    ) -> Result<Option<Fresh>, CoreError> {
        let (topic, queue) = group.source_topic(source);
        let range = self.store.queue_range(topic, queue);
        if cursor.fetched() < range.min {
            cursor.skip_to(range.min);
        }
        if cursor.fetched() >= range.max {
            return Ok(None);
        }
        let room = MAX_UNACKED_PER_QUEUE - cursor.window();
        let n = missing.clamp(FETCH_MIN, FETCH_CHUNK).min(room);
        let from = cursor.fetched();
        let messages: Vec<Option<StoredMessage>> = self
            .store
            .read_queue(topic, queue, from, n)?
            .into_iter()
            .map(Some)
            .collect();
        for stored in messages.iter().flatten() {
            if stored.queue_offset != cursor.fetched() {
                break;
            }
            let wanted = group.filter().matches(stored.message.tag.as_deref());
            cursor.fill(
                stored.queue_offset,
                stored.position,
                group_key(&stored.message),
                wanted,
            );
        }
        Ok(Some(Fresh { from, messages }))
    }

    /// Carries out the picks of one queue: dead-letters expired last attempts and
    /// delivers the others.
    fn answer(
        &self,
        group: &Group,
        source: u32,
        cursor: &mut Cursor,
        picks: Vec<Pick>,
        fresh: &mut Fresh,
        pass: &mut Pass<'_>,
    ) -> Result<(), CoreError> {
        for pick in picks {
            let offset = match pick {
                Pick::Dead(offset) => {
                    self.dead_letter_slot(group, cursor, offset, EXPIRED_LAST, pass.ids, pass.now)?;
                    pass.dead.entries.push(Entry {
                        source,
                        offset,
                        ..Entry::default()
                    });
                    continue;
                }
                Pick::Deliver(offset) => offset,
            };
            let Some(slot) = cursor.slot(offset).copied() else {
                continue;
            };
            let stored = match fresh.take(offset) {
                Some(stored) => stored,
                None => match self.store.read_at(slot.position) {
                    Ok(stored) => stored,
                    Err(StoreError::OutOfRange { .. }) => {
                        // Removed by retention meanwhile: nothing left to deliver.
                        cursor.set_done(offset);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            self.deliver(group, source, cursor, offset, stored, pass);
        }
        Ok(())
    }

    /// Marks one message in flight and adds its delivery and journal entry to the pass.
    fn deliver(
        &self,
        group: &Group,
        source: u32,
        cursor: &mut Cursor,
        offset: u64,
        stored: StoredMessage,
        pass: &mut Pass<'_>,
    ) {
        let seq = self.groups.next_seq();
        let until = pass.now.saturating_add(pass.invisible_ms as i64);
        let Some(slot) = cursor.deliver(offset, seq, pass.now, until) else {
            return;
        };
        group.count_delivery(slot.attempts);
        pass.deliver.entries.push(Entry {
            source,
            offset,
            seq,
            attempts: slot.attempts,
            first_ms: slot.first_ms,
            time: until,
        });
        let receipt = Receipt {
            incarnation: group.config().incarnation,
            member: pass.member,
            source,
            offset,
            seq,
        };
        let (topic, queue, offset, id) = origin(group, &stored);
        pass.deliveries.push(Delivery {
            id,
            topic,
            queue,
            offset,
            stored,
            receipt: receipt.encode(),
            attempt: slot.attempts,
            first_delivery_ms: slot.first_ms,
            resent: source == RETRY_SOURCE,
        });
    }
}

//! The group timer's pass: when a deadline of a group's cursors passes (an invisible time,
//! a retry time), [`Broker::sweep_group`] dead-letters last attempts whose invisible time
//! passed, wakes the group's waiting receivers (something may be deliverable again) and
//! arms the timer for the next deadline.
//!
//! Redeliveries themselves happen in the next receive ([`super::take`]); the sweep only
//! does what must happen even when no consumer asks.

use std::sync::Arc;

use super::consumption::Consumption;
use super::cursor::Pick;
use super::dead_letters::EXPIRED_LAST;
use super::journal::{Entry, Event, Kind};
use super::state::Group;
use crate::broker::now_ms;
use crate::{Broker, CoreError, MessageIdGenerator};

impl Broker {
    /// The group timer's work: dead-letter expired last attempts, wake receivers, and
    /// arm the timer for the next deadline.
    pub(crate) fn sweep_group(&self, group: &Arc<Group>) -> Result<(), CoreError> {
        group.disarm();
        let next = self.consumption(group)?.sweep(group, self.ids())?;
        group.notify().notify_waiters();
        self.arm_group(group, next);
        Ok(())
    }
}

impl Consumption<'_> {
    /// The locked step of a sweep: dead-letters expired last attempts and returns the
    /// next future deadline of any cursor.
    fn sweep(&self, group: &Group, ids: &MessageIdGenerator) -> Result<i64, CoreError> {
        let now = now_ms();
        let config = group.config();
        let mut inner = group.lock();
        let mut events = Vec::new();
        let mut next = i64::MAX;
        let mut picks = Vec::new();
        for (&(member, source), cursor) in inner.cursors.iter_mut() {
            picks.clear();
            // Nothing is delivered here (0 wanted): only expired last attempts come out.
            cursor.pick(now, 0, config.fifo, config.max_attempts, &mut picks);
            let mut dead = Event::new(Kind::Dead, &config.name, config.incarnation, member);
            for pick in picks.drain(..) {
                if let Pick::Dead(offset) = pick {
                    self.dead_letter_slot(group, cursor, offset, EXPIRED_LAST, ids, now)?;
                    dead.entries.push(Entry {
                        source,
                        offset,
                        ..Entry::default()
                    });
                }
            }
            if !dead.entries.is_empty() {
                events.push(dead);
            }
            next = next.min(cursor.next_deadline());
        }
        self.append_events(&events)?;
        Ok(next)
    }
}

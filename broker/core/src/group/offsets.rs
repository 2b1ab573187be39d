//! Offsets and backlog: the committed offset of every queue, resets (to the earliest or
//! latest message, a time or an offset) and explicit commits, and the lag per queue.
//!
//! A reset drops the member's in-flight state on the queues it moves: deliveries out
//! before it can no longer be acked.

use super::consumption::Consumption;
use super::cursor::Cursor;
use super::journal::{Entry, Event, Kind};
use super::outcomes::{CommittedOffset, LagReport, QueueLag, ResetTarget};
use super::receipt::RETRY_SOURCE;
use super::spec::GroupMode;
use super::state::Group;
use crate::broker::now_ms;
use crate::{Broker, CoreError};

impl Broker {
    /// The backlog of a group (of one member in broadcasting mode).
    pub fn lag(&self, group: &str, consumer: Option<&str>) -> Result<LagReport, CoreError> {
        let group = self.groups().get(group)?;
        let member = group.member_index(consumer)?;
        self.lag_of(&group, member)
    }

    /// The backlog of one member.
    pub(super) fn lag_of(&self, group: &Group, member: u32) -> Result<LagReport, CoreError> {
        let queues = self.queue_count(group)?;
        let now = now_ms();
        let mut report = LagReport {
            group: group.config().name.clone(),
            total: 0,
            oldest_age_ms: 0,
            queues: Vec::new(),
        };
        let mut sources: Vec<u32> = (0..queues).collect();
        sources.push(RETRY_SOURCE);
        for source in sources {
            let (topic, queue) = group.source_topic(source);
            let range = self.store().queue_range(topic, queue);
            let (committed, in_flight) = group.progress(member, source);
            let committed = committed.max(range.min);
            let lag = range.max.saturating_sub(committed);
            let oldest_age_ms = if lag > 0 {
                self.store()
                    .read_queue(topic, queue, committed, 1)?
                    .first()
                    .map_or(0, |m| (now - m.store_ms).max(0))
            } else {
                0
            };
            if source == RETRY_SOURCE && range.max == 0 {
                continue;
            }
            report.total += lag;
            report.oldest_age_ms = report.oldest_age_ms.max(oldest_age_ms);
            report.queues.push(QueueLag {
                queue,
                retry: source == RETRY_SOURCE,
                committed,
                max_offset: range.max,
                lag,
                in_flight,
                oldest_age_ms,
            });
        }
        Ok(report)
    }

    /// Moves the committed offsets of a group (every queue, or one) and drops its
    /// in-flight state there. In broadcasting mode without a consumer, every member.
    pub async fn reset_group(
        &self,
        group: &str,
        target: ResetTarget,
        queue: Option<u32>,
        consumer: Option<&str>,
    ) -> Result<Vec<CommittedOffset>, CoreError> {
        let group = self.groups().get(group)?;
        let offsets = self.reset_offsets(&group, target, queue)?;
        let consumption = self.consumption(&group)?;
        let end = consumption.reset(&group, consumer, &offsets)?;
        group.notify().notify_waiters();
        self.wait_durable(end).await?;
        Ok(offsets)
    }

    /// Where a reset to `target` moves each queue (every queue, or one).
    fn reset_offsets(
        &self,
        group: &Group,
        target: ResetTarget,
        queue: Option<u32>,
    ) -> Result<Vec<CommittedOffset>, CoreError> {
        let queues = self.queue_count(group)?;
        let targets: Vec<u32> = match queue {
            Some(q) if q < queues => vec![q],
            Some(q) => {
                return Err(CoreError::QueueNotFound {
                    topic: group.config().topic.clone(),
                    queue: q,
                });
            }
            None => (0..queues).collect(),
        };
        let mut offsets = Vec::with_capacity(targets.len());
        for q in targets {
            let range = self.store().queue_range(&group.config().topic, q);
            let offset = match target {
                ResetTarget::Earliest => range.min,
                ResetTarget::Latest => range.max,
                ResetTarget::Offset(offset) if (range.min..=range.max).contains(&offset) => offset,
                ResetTarget::Offset(offset) => {
                    return Err(CoreError::OffsetOutOfRange {
                        queue: q,
                        offset,
                        min: range.min,
                        max: range.max,
                    });
                }
                ResetTarget::Timestamp(ms) => self.offset_at_time(&group.config().topic, q, ms)?,
            };
            offsets.push(CommittedOffset {
                queue: q,
                committed: offset,
            });
        }
        Ok(offsets)
    }

    /// Commits an offset of one queue (a stream reader's explicit commit): everything
    /// below it is done.
    pub async fn commit_offset(
        &self,
        group: &str,
        consumer: Option<&str>,
        queue: u32,
        offset: u64,
    ) -> Result<(), CoreError> {
        self.reset_group(group, ResetTarget::Offset(offset), Some(queue), consumer)
            .await
            .map(drop)
    }

    /// The committed offset of every queue of the group's topic.
    pub fn committed_offsets(
        &self,
        group: &str,
        consumer: Option<&str>,
    ) -> Result<Vec<CommittedOffset>, CoreError> {
        let group = self.groups().get(group)?;
        let member = group.member_index(consumer)?;
        let queues = self.queue_count(&group)?;
        Ok((0..queues)
            .map(|queue| {
                let min = self.store().queue_range(&group.config().topic, queue).min;
                CommittedOffset {
                    queue,
                    committed: group.progress(member, queue).0.max(min),
                }
            })
            .collect())
    }

    /// The first offset of a queue whose message was stored at or after `ms`.
    fn offset_at_time(&self, topic: &str, queue: u32, ms: i64) -> Result<u64, CoreError> {
        let range = self.store().queue_range(topic, queue);
        let (mut low, mut high) = (range.min, range.max);
        while low < high {
            let mid = low + (high - low) / 2;
            let stored_ms = self
                .store()
                .read_queue(topic, queue, mid, 1)?
                .first()
                .map_or(i64::MAX, |m| m.store_ms);
            if stored_ms < ms {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        Ok(low)
    }
}

impl Consumption<'_> {
    /// The locked step of a reset: new cursors at `offsets` for the member (or every
    /// member); returns the commitlog end of the journal record.
    fn reset(
        &self,
        group: &Group,
        consumer: Option<&str>,
        offsets: &[CommittedOffset],
    ) -> Result<u64, CoreError> {
        let config = group.config();
        let mut inner = group.lock();
        let members: Vec<u32> = match (config.mode, consumer) {
            (GroupMode::Clustering, _) => vec![0],
            (GroupMode::Broadcasting, Some(name)) => {
                match inner.members.iter().position(|m| m == name) {
                    Some(i) => vec![i as u32],
                    None => {
                        return Err(CoreError::InvalidArgument(format!(
                            "consumer '{name}' has never received from group '{}'",
                            config.name
                        )));
                    }
                }
            }
            (GroupMode::Broadcasting, None) => (0..inner.members.len() as u32).collect(),
        };
        let mut events = Vec::new();
        for member in members {
            let mut event = Event::new(Kind::Reset, &config.name, config.incarnation, member);
            for o in offsets {
                inner
                    .cursors
                    .insert((member, o.queue), Cursor::new(o.committed));
                event.entries.push(Entry {
                    source: o.queue,
                    offset: o.committed,
                    ..Entry::default()
                });
            }
            events.push(event);
        }
        self.append_events(&events)
    }
}

//! The consumer-group operations of [`Broker`]: administration, receive (long poll),
//! ack, nack, invisible time, offsets, lag and dead letters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_store::Message;

use super::cursor::{Cursor, Nacked, Refusal};
use super::journal::{Entry, Event, Kind};
use super::receipt::{RETRY_SOURCE, Receipt};
use super::service::{
    AckOutcome, CommittedOffset, Consumption, DeadLetter, DeadLetterPage, Delivery, Group,
    GroupCounters, GroupDescription, LagReport, QueueLag, ReceiptFailure, ReceiveRequest,
    ResetTarget, property,
};
use super::spec::{GroupConfig, GroupSpec, StartFrom, check_invisible};
use super::{dlq_topic, retry_topic};
use crate::broker::now_ms;
use crate::dedup::{self, DedupScope};
use crate::limits::{MAX_INVISIBLE_MS, MAX_RECEIPTS, MAX_RECEIVE_MESSAGES, MAX_RECEIVE_WAIT_MS};
use crate::topic::TopicConfig;
use crate::{Broker, CoreError};

impl Broker {
    /// Creates a consumer group on an existing topic. Durable when it returns.
    pub async fn create_group(&self, spec: GroupSpec) -> Result<GroupConfig, CoreError> {
        let mut config = GroupConfig::from_spec(spec)?;
        config.created_ms = now_ms();
        config.incarnation = rand::random::<u64>() >> 1 | 1;
        let store = Arc::clone(self.store());
        let retry = retry_topic(&config.name);
        let config = self
            .topics()
            .create_group(self.store(), config, |config, topic| {
                config.start_offsets = (0..topic.queues)
                    .map(|queue| {
                        let range = store.queue_range(&topic.name, queue);
                        match config.from {
                            StartFrom::Latest => range.max,
                            StartFrom::Earliest => range.min,
                        }
                    })
                    .collect();
                config.retry_start = store.queue_range(&retry, 0).max;
            })
            .await?;
        self.groups().add(config.clone())?;
        Ok(config)
    }

    /// All groups (of one topic, if given), sorted by name.
    pub fn list_groups(&self, topic: Option<&str>) -> Vec<GroupConfig> {
        self.topics()
            .list_groups()
            .into_iter()
            .filter(|g| topic.is_none_or(|t| g.topic == t))
            .collect()
    }

    /// The topic a group consumes (cheap: no description is built).
    pub fn group_topic(&self, name: &str) -> Result<String, CoreError> {
        Ok(self.groups().get(name)?.config().topic.clone())
    }

    /// A group with its members, backlog and counters.
    pub fn describe_group(
        &self,
        name: &str,
        consumer: Option<&str>,
    ) -> Result<GroupDescription, CoreError> {
        let group = self.groups().get(name)?;
        let members = group.members();
        let member = match consumer.or(members.first().map(String::as_str)) {
            Some(name) => group.member_index(Some(name))?,
            None => group
                .member_index(None)
                .unwrap_or(super::service::NEW_MEMBER),
        };
        let lag = self.lag_of(&group, member)?;
        let dlq = self.store().queue_range(&dlq_topic(name), 0);
        Ok(GroupDescription {
            config: group.config().clone(),
            members,
            lag,
            counters: group.counters(),
            dead_letters: dlq.max - dlq.min,
        })
    }

    /// Deletes a group with its retry and dead-letter queues. Durable when it returns.
    pub async fn delete_group(&self, name: &str) -> Result<(), CoreError> {
        self.topics().delete_group(self.store(), name).await?;
        self.groups().remove(name);
        let store = Arc::clone(self.store());
        let (retry, dlq) = (retry_topic(name), dlq_topic(name));
        tokio::task::spawn_blocking(move || {
            store.flush()?;
            store.delete_topic_queues(&retry)?;
            store.delete_topic_queues(&dlq)
        })
        .await
        .map_err(CoreError::interrupted("deleting the group's queues"))??;
        Ok(())
    }

    /// Adds queues to a topic (`queues` is the new total). Consumers pick them up at their
    /// next receive.
    pub async fn add_queues(&self, topic: &str, queues: u32) -> Result<TopicConfig, CoreError> {
        if queues == 0 || queues > self.limits().max_queues {
            return Err(CoreError::InvalidArgument(format!(
                "queues must be 1 to {}, got {queues}",
                self.limits().max_queues
            )));
        }
        self.topics().set_queues(self.store(), topic, queues).await
    }

    /// Receives up to `request.max` messages, waiting up to `request.wait` for the first.
    /// Each stays invisible to the group until acked or until its invisible time passes.
    pub async fn receive(
        &self,
        group: &str,
        request: ReceiveRequest,
    ) -> Result<Vec<Delivery>, CoreError> {
        self.receive_until(group, request, std::future::pending())
            .await
    }

    /// [`receive`](Self::receive) that gives up waiting when `cancel` completes,
    /// answering nothing. Unlike dropping a receive, which can drop a batch already taken
    /// (while its journal record is being made durable) and leave it invisible until its
    /// invisible time passes, cancelling only ever ends the wait for messages.
    pub async fn receive_until(
        &self,
        group: &str,
        request: ReceiveRequest,
        cancel: impl Future<Output = ()>,
    ) -> Result<Vec<Delivery>, CoreError> {
        tokio::pin!(cancel);
        let group = self.groups().get(group)?;
        if request.max == 0 || request.max > MAX_RECEIVE_MESSAGES {
            return Err(CoreError::InvalidArgument(format!(
                "max must be 1 to {MAX_RECEIVE_MESSAGES}, got {}",
                request.max
            )));
        }
        if request.wait > Duration::from_millis(MAX_RECEIVE_WAIT_MS) {
            return Err(CoreError::InvalidArgument(format!(
                "wait_ms must be at most {MAX_RECEIVE_WAIT_MS}, got {}",
                request.wait.as_millis()
            )));
        }
        let invisible_ms = request.invisible_ms.unwrap_or(group.config().invisible_ms);
        check_invisible(invisible_ms)?;
        super::service::check_consumer(request.consumer.as_deref())?;
        let deadline = Instant::now() + request.wait;
        loop {
            let notified = group.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let taken =
                self.consumption(&group)?
                    .take(&group, &request, invisible_ms, self.ids())?;
            // The group's timer wakes waiting receivers when something becomes due.
            self.arm_group(&group, taken.next_due);
            if !taken.deliveries.is_empty() {
                self.wait_durable(taken.end).await?;
                let deliveries = self
                    .skip_processed(&group, taken.deliveries, invisible_ms)
                    .await?;
                if !deliveries.is_empty() {
                    return Ok(deliveries);
                }
                // Every one was a duplicate, acked: look again at once.
                continue;
            }
            if Instant::now() >= deadline || self.groups().get(&group.config().name).is_err() {
                return Ok(Vec::new());
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline.into()) => {}
                () = &mut cancel => return Ok(Vec::new()),
            }
        }
    }

    /// Acks deliveries. Receipts whose invisible time passed, or that a later delivery
    /// replaced, are refused one by one; a malformed receipt or one of another group
    /// refuses the whole request.
    pub async fn ack(&self, group: &str, receipts: &[String]) -> Result<AckOutcome, CoreError> {
        self.settle(group, receipts, Settle::Ack).await
    }

    /// Gives up on deliveries: each goes to the group's dead-letter queue at once, with
    /// `reason`, whatever its attempt count.
    pub async fn reject(
        &self,
        group: &str,
        receipts: &[String],
        reason: &str,
    ) -> Result<AckOutcome, CoreError> {
        self.settle(group, receipts, Settle::Reject(reason)).await
    }

    /// Fails deliveries: each is redelivered after `delay_ms`, or after the group's
    /// backoff for its attempt when unset; a last attempt goes to the dead-letter queue.
    pub async fn nack(
        &self,
        group: &str,
        receipts: &[String],
        delay_ms: Option<u64>,
    ) -> Result<AckOutcome, CoreError> {
        check_nack_delay(delay_ms)?;
        self.settle(group, receipts, Settle::Nack(delay_ms, None))
            .await
    }

    /// [`nack`](Self::nack) saying why the deliveries failed: a delivery on its last
    /// attempt is dead-lettered with `reason` (cut to [`MAX_DEAD_LETTER_REASON_BYTES`])
    /// instead of the generic one. The others are retried as by `nack`; the reason of a
    /// later attempt's failure is the one that counts.
    ///
    /// [`MAX_DEAD_LETTER_REASON_BYTES`]: crate::limits::MAX_DEAD_LETTER_REASON_BYTES
    pub async fn nack_because(
        &self,
        group: &str,
        receipts: &[String],
        delay_ms: Option<u64>,
        reason: &str,
    ) -> Result<AckOutcome, CoreError> {
        check_nack_delay(delay_ms)?;
        self.settle(group, receipts, Settle::Nack(delay_ms, Some(reason)))
            .await
    }

    /// Acks the deliveries whose dedup key the group already processed (when the group
    /// has a dedup filter) and answers the others, remembering their keys until they are
    /// settled. See [`crate::dedup`].
    async fn skip_processed(
        &self,
        group: &Group,
        deliveries: Vec<Delivery>,
        invisible_ms: u64,
    ) -> Result<Vec<Delivery>, CoreError> {
        let Some(filter) = self.dedup_filter() else {
            return Ok(deliveries);
        };
        let name = group.config().name.as_str();
        let Some(keys) = dedup::usable(
            filter.delivery_keys(name, &deliveries).await,
            deliveries.len(),
        ) else {
            return Ok(deliveries);
        };
        let now = now_ms();
        let incarnation = group.config().incarnation;
        let mut keep = Vec::with_capacity(deliveries.len());
        let mut processed = Vec::new();
        for (delivery, key) in deliveries.into_iter().zip(keys.keys) {
            let Some(key) = key else {
                keep.push(delivery);
                continue;
            };
            let scoped = dedup::group_key(name, incarnation, &key);
            let seen = self
                .store()
                .lookup_dedup_key(dedup::DEDUP_TOPIC, &scoped)?
                .is_some_and(|found| dedup::within_window(&found, keys.window_ms, now));
            if seen {
                processed.push(delivery.receipt);
            } else {
                let expires = now.saturating_add(i64::try_from(invisible_ms).unwrap_or(i64::MAX));
                self.pending_keys
                    .insert(name, &delivery, scoped, expires, now);
                keep.push(delivery);
            }
        }
        if !processed.is_empty() {
            let outcome = self.settle(name, &processed, Settle::Ack).await?;
            filter.duplicates_found(DedupScope::Group(name), outcome.done as u64);
        }
        Ok(keep)
    }

    async fn settle(
        &self,
        name: &str,
        receipts: &[String],
        how: Settle<'_>,
    ) -> Result<AckOutcome, CoreError> {
        let group = self.groups().get(name)?;
        if receipts.is_empty() || receipts.len() > MAX_RECEIPTS {
            return Err(CoreError::InvalidArgument(format!(
                "receipts must hold 1 to {MAX_RECEIPTS} handles, got {}",
                receipts.len()
            )));
        }
        let parsed = receipts
            .iter()
            .map(|r| group.parse_receipt(r))
            .collect::<Result<Vec<_>, _>>()?;
        let consumption = self.consumption(&group)?;
        let (outcome, mut end, next) =
            consumption.settle(&group, receipts, &parsed, how, self.ids())?;
        self.arm_group(&group, next);
        // Keys of deduplicated deliveries: recorded as processed when acked.
        let records = self.pending_keys.settle(
            name,
            receipts
                .iter()
                .zip(&parsed)
                .filter(|(r, _)| !outcome.failed.iter().any(|f| &f.receipt == *r))
                .map(|(_, p)| p),
            matches!(how, Settle::Ack),
        );
        if !records.is_empty() {
            let batch: Vec<_> = records.into_iter().map(|r| (0, r)).collect();
            end = end.max(self.store().append(dedup::DEDUP_TOPIC, &batch)?.end);
        }
        if group.config().fifo {
            // The next message of a message group may be deliverable now.
            group.notify().notify_waiters();
        }
        self.wait_durable(end).await?;
        Ok(outcome)
    }

    /// Gives a live delivery a new invisible time from now; returns its new receipt (the
    /// old one stops working).
    pub async fn change_invisible(
        &self,
        group: &str,
        receipt: &str,
        invisible_ms: u64,
    ) -> Result<String, CoreError> {
        let group = self.groups().get(group)?;
        check_invisible(invisible_ms)?;
        let parsed = group.parse_receipt(receipt)?;
        let consumption = self.consumption(&group)?;
        let (new, end) = consumption.change_invisible(&group, receipt, parsed, invisible_ms)?;
        self.wait_durable(end).await?;
        Ok(new)
    }

    /// The backlog of a group (of one member in broadcasting mode).
    pub fn lag(&self, group: &str, consumer: Option<&str>) -> Result<LagReport, CoreError> {
        let group = self.groups().get(group)?;
        let member = group.member_index(consumer)?;
        self.lag_of(&group, member)
    }

    fn lag_of(&self, group: &Group, member: u32) -> Result<LagReport, CoreError> {
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
        let queues = self.queue_count(&group)?;
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
        let consumption = self.consumption(&group)?;
        let end = consumption.reset(&group, consumer, &offsets)?;
        group.notify().notify_waiters();
        self.wait_durable(end).await?;
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

    /// A page of the group's dead letters from `offset`.
    pub fn dead_letters(
        &self,
        group: &str,
        offset: u64,
        max: usize,
    ) -> Result<DeadLetterPage, CoreError> {
        let group = self.groups().get(group)?;
        if max == 0 || max > self.limits().max_read_messages {
            return Err(CoreError::InvalidArgument(format!(
                "max must be 1 to {}, got {max}",
                self.limits().max_read_messages
            )));
        }
        let topic = dlq_topic(&group.config().name);
        let range = self.store().queue_range(&topic, 0);
        let from = offset.max(range.min);
        let records = if from < range.max {
            self.store().read_queue(&topic, 0, from, max)?
        } else {
            Vec::new()
        };
        let next_offset = records.last().map_or(from, |m| m.queue_offset + 1);
        Ok(DeadLetterPage {
            dead_letters: records.into_iter().map(dead_letter_of).collect(),
            next_offset,
            max_offset: range.max,
        })
    }

    /// One dead letter by the id of its dead-letter record (or of the original message).
    pub fn dead_letter(&self, group: &str, id: &str) -> Result<DeadLetter, CoreError> {
        let group = self.groups().get(group)?;
        let topic = dlq_topic(&group.config().name);
        let not_found = || CoreError::DeadLetterNotFound {
            group: group.config().name.clone(),
            id: id.to_string(),
        };
        if crate::message::validate_message_id(id).is_err() {
            return Err(not_found());
        }
        match self.store().lookup_id(id)? {
            Some(found) if found.topic == topic => return Ok(dead_letter_of(found)),
            _ => {}
        }
        // By original id: scan the dead-letter queue's newest entries.
        let range = self.store().queue_range(&topic, 0);
        let mut offset = range.min;
        while offset < range.max {
            let page = self.store().read_queue(&topic, 0, offset, 1000)?;
            let Some(last) = page.last() else { break };
            offset = last.queue_offset + 1;
            if let Some(found) = page.into_iter().find(|m| {
                m.message
                    .properties
                    .iter()
                    .any(|(n, v)| n == property::ORIGINAL_ID && v == id)
            }) {
                return Ok(dead_letter_of(found));
            }
        }
        Err(not_found())
    }

    /// Sends a dead letter back to the group (only this group) through its retry queue;
    /// returns the id of the resent record.
    pub async fn resend_dead_letter(&self, group: &str, id: &str) -> Result<String, CoreError> {
        let letter = self.dead_letter(group, id)?;
        let group = self.groups().get(group)?;
        let id = self.ids().next_id(now_ms());
        let message = resent(&letter, id.clone());
        self.store()
            .append(&retry_topic(&group.config().name), &[(0, message)])?;
        group.notify().notify_waiters();
        Ok(id)
    }

    /// Resends every dead letter from `from_offset` on; returns how many.
    pub async fn resend_dead_letters(
        &self,
        group: &str,
        from_offset: u64,
    ) -> Result<u64, CoreError> {
        let name = group;
        let group = self.groups().get(name)?;
        let retry = retry_topic(name);
        let mut offset = from_offset;
        let mut count = 0u64;
        loop {
            let page = self.dead_letters(name, offset, self.limits().max_read_messages)?;
            if page.dead_letters.is_empty() {
                break;
            }
            offset = page.next_offset;
            let now = now_ms();
            let batch: Vec<(u32, Message)> = page
                .dead_letters
                .iter()
                .map(|letter| (0, resent(letter, self.ids().next_id(now))))
                .collect();
            self.store().append(&retry, &batch)?;
            count += batch.len() as u64;
        }
        group.notify().notify_waiters();
        Ok(count)
    }

    /// The group timer's work: dead-letter expired last attempts, wake receivers, and
    /// arm the timer for the next deadline.
    pub(crate) fn sweep_group(&self, group: &Arc<Group>) -> Result<(), CoreError> {
        group.disarm();
        let next = self.consumption(group)?.sweep(group, self.ids())?;
        group.notify().notify_waiters();
        self.arm_group(group, next);
        Ok(())
    }

    /// Per group: configuration, counters and total lag (summed over members in
    /// broadcasting mode).
    pub fn group_stats(&self) -> Vec<(GroupConfig, GroupCounters, u64)> {
        let mut stats: Vec<_> = self
            .groups()
            .all()
            .into_iter()
            .map(|group| {
                let members = match group.config().mode {
                    super::GroupMode::Clustering => vec![0],
                    super::GroupMode::Broadcasting => (0..group.members().len() as u32).collect(),
                };
                let lag = members
                    .into_iter()
                    .map(|m| self.lag_of(&group, m).map_or(0, |l| l.total))
                    .sum();
                (group.config().clone(), group.counters(), lag)
            })
            .collect();
        stats.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        stats
    }

    /// Writes snapshots of delivery state and of the schedule ledger, so that a restart
    /// replays less.
    pub async fn snapshot_state(&self) -> Result<(), CoreError> {
        self.groups().snapshot(self.store()).await?;
        self.delays().snapshot(self.store())?;
        self.tx_state().snapshot(self.store())?;
        Ok(())
    }

    fn consumption<'a>(&'a self, group: &Group) -> Result<Consumption<'a>, CoreError> {
        Ok(Consumption {
            store: self.store(),
            groups: self.groups(),
            queues: self.queue_count(group)?,
        })
    }

    fn queue_count(&self, group: &Group) -> Result<u32, CoreError> {
        self.topics()
            .get(&group.config().topic)
            .map(|t| t.config.queues)
            .ok_or_else(|| CoreError::TopicNotFound(group.config().topic.clone()))
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

fn dead_letter_of(stored: weir_store::StoredMessage) -> DeadLetter {
    let get = |name: &str| {
        stored
            .message
            .properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    DeadLetter {
        dlq_offset: stored.queue_offset,
        id: stored.message.id.clone(),
        original_id: get(property::ORIGINAL_ID).unwrap_or_default(),
        topic: get(property::ORIGINAL_TOPIC).unwrap_or_default(),
        queue: get(property::ORIGINAL_QUEUE)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        offset: get(property::ORIGINAL_OFFSET)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        attempts: get(property::ATTEMPTS)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        reason: get(property::REASON).unwrap_or_default(),
        dead_ms: stored.store_ms,
        stored,
    }
}

/// The retry-queue copy of a dead letter: its original content and origin.
fn resent(letter: &DeadLetter, id: String) -> Message {
    let original = &letter.stored.message;
    Message {
        id,
        keys: original.keys.clone(),
        tag: original.tag.clone(),
        properties: original
            .properties
            .iter()
            .filter(|(n, _)| !n.starts_with("weir.dlq."))
            .cloned()
            .collect(),
        body: original.body.clone(),
        born_ms: original.born_ms,
        flags: 0,
    }
}

impl Consumption<'_> {
    /// Acks or nacks parsed receipts under the group lock.
    pub(crate) fn settle(
        &self,
        group: &Group,
        texts: &[String],
        receipts: &[Receipt],
        how: Settle<'_>,
        ids: &crate::MessageIdGenerator,
    ) -> Result<(AckOutcome, u64, i64), CoreError> {
        let now = now_ms();
        let mut next = i64::MAX;
        let config = group.config();
        let mut outcome = AckOutcome::default();
        let mut events: Vec<Event> = Vec::new();
        let mut inner = group.lock();
        for (text, receipt) in texts.iter().zip(receipts) {
            let kind_of = |kind| Event::new(kind, &config.name, config.incarnation, receipt.member);
            let Some(cursor) = inner.cursors.get_mut(&(receipt.member, receipt.source)) else {
                outcome.failed.push(ReceiptFailure {
                    receipt: text.clone(),
                    error: Group::expired(text),
                });
                continue;
            };
            let entry = Entry {
                source: receipt.source,
                offset: receipt.offset,
                ..Entry::default()
            };
            let (delay, max_attempts, reason) = match how {
                Settle::Nack(delay, reason) => {
                    (delay, config.max_attempts, reason.unwrap_or(NACKED_LAST))
                }
                // No attempt is allowed: the nack dead-letters at once.
                Settle::Reject(reason) => (None, 0, reason),
                Settle::Ack => (None, 0, ""),
            };
            let result: Result<(), CoreError> = match how {
                Settle::Ack => match cursor.ack(receipt.offset, receipt.seq, now) {
                    Ok(changed) => {
                        if changed {
                            push(&mut events, kind_of(Kind::Ack), entry);
                        }
                        group.count_ack();
                        Ok(())
                    }
                    Err(Refusal::Expired) => Err(Group::expired(text)),
                },
                Settle::Nack(..) | Settle::Reject(_) => {
                    let attempts = cursor.slot(receipt.offset).map_or(1, |s| s.attempts);
                    let wait = delay.map_or_else(
                        || config.backoff(attempts).as_millis() as i64,
                        |ms| ms as i64,
                    );
                    let at = now.saturating_add(wait);
                    match cursor.nack(receipt.offset, receipt.seq, now, at, max_attempts) {
                        Err(Refusal::Expired) => Err(Group::expired(text)),
                        Ok(None) => {
                            group.count_nack();
                            Ok(())
                        }
                        Ok(Some(Nacked::Retry)) => {
                            group.count_nack();
                            next = next.min(at);
                            push(
                                &mut events,
                                kind_of(Kind::Retry),
                                Entry { time: at, ..entry },
                            );
                            Ok(())
                        }
                        Ok(Some(Nacked::Dead)) => {
                            group.count_nack();
                            // On failure the message stays in flight: when its invisible
                            // time passes the next receive dead-letters it again.
                            self.dead_letter_slot(group, cursor, receipt.offset, reason, ids, now)
                                .map(|()| push(&mut events, kind_of(Kind::Dead), entry))
                        }
                    }
                }
            };
            if let Err(error) = result {
                outcome.failed.push(ReceiptFailure {
                    receipt: text.clone(),
                    error,
                });
            } else {
                outcome.done += 1;
            }
        }
        let end = self.append_events(&events)?;
        Ok((outcome, end, next))
    }

    pub(crate) fn change_invisible(
        &self,
        group: &Group,
        text: &str,
        receipt: Receipt,
        invisible_ms: u64,
    ) -> Result<(String, u64), CoreError> {
        let now = now_ms();
        let config = group.config();
        let seq = self.groups.next_seq();
        let until = now.saturating_add(invisible_ms as i64);
        let mut inner = group.lock();
        let cursor = inner
            .cursors
            .get_mut(&(receipt.member, receipt.source))
            .ok_or_else(|| Group::expired(text))?;
        cursor
            .change_invisible(receipt.offset, receipt.seq, now, seq, until)
            .map_err(|Refusal::Expired| Group::expired(text))?;
        let mut event = Event::new(
            Kind::Invisible,
            &config.name,
            config.incarnation,
            receipt.member,
        );
        event.entries.push(Entry {
            source: receipt.source,
            offset: receipt.offset,
            seq,
            time: until,
            ..Entry::default()
        });
        let end = self.append_events(&[event])?;
        let new = Receipt { seq, ..receipt };
        Ok((new.to_string(), end))
    }

    pub(crate) fn reset(
        &self,
        group: &Group,
        consumer: Option<&str>,
        offsets: &[CommittedOffset],
    ) -> Result<u64, CoreError> {
        let config = group.config();
        let mut inner = group.lock();
        let members: Vec<u32> = match (config.mode, consumer) {
            (super::GroupMode::Clustering, _) => vec![0],
            (super::GroupMode::Broadcasting, Some(name)) => {
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
            (super::GroupMode::Broadcasting, None) => (0..inner.members.len() as u32).collect(),
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

/// How deliveries are settled.
#[derive(Clone, Copy)]
pub(crate) enum Settle<'a> {
    /// Done.
    Ack,
    /// Failed: retry after the delay, or the group's backoff; on the last attempt
    /// dead-letter with the reason given, or [`NACKED_LAST`].
    Nack(Option<u64>, Option<&'a str>),
    /// Given up: dead-letter with this reason.
    Reject(&'a str),
}

/// Dead-letter reason of a nack on the last attempt that gave none.
const NACKED_LAST: &str = "negatively acknowledged on the last attempt";

fn check_nack_delay(delay_ms: Option<u64>) -> Result<(), CoreError> {
    match delay_ms {
        Some(delay) if delay > MAX_INVISIBLE_MS => Err(CoreError::InvalidArgument(format!(
            "delay_ms must be at most {MAX_INVISIBLE_MS}, got {delay}"
        ))),
        _ => Ok(()),
    }
}

fn push(events: &mut Vec<Event>, event: Event, entry: Entry) {
    match events
        .iter_mut()
        .find(|e| e.kind == event.kind && e.member == event.member)
    {
        Some(existing) => existing.entries.push(entry),
        None => {
            let mut event = event;
            event.entries.push(entry);
            events.push(event);
        }
    }
}

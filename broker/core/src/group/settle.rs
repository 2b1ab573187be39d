//! Settling deliveries: ack (done), nack (retry after a delay or the group's backoff,
//! dead-letter on the last attempt) and reject (dead-letter now), each for a batch of
//! receipts under one lock and one journal record per kind.
//!
//! A malformed receipt, or one another group issued, refuses the whole request; a
//! receipt that expired (its invisible time passed, or a later delivery replaced it) is
//! refused alone, in [`AckOutcome::failed`].

use super::consumption::{Consumption, push};
use super::cursor::{Cursor, Nacked, Refusal};
use super::journal::{Entry, Event, Kind};
use super::outcomes::{AckOutcome, ReceiptFailure};
use super::receipt::Receipt;
use super::state::Group;
use crate::broker::now_ms;
use crate::dedup;
use crate::limits::{MAX_INVISIBLE_MS, MAX_RECEIPTS};
use crate::{Broker, CoreError, MessageIdGenerator};

/// Dead-letter reason of a nack on the last attempt that gave none.
const NACKED_LAST: &str = "negatively acknowledged on the last attempt";

/// How deliveries are settled.
#[derive(Clone, Copy)]
pub(super) enum Settle<'a> {
    /// Done.
    Ack,
    /// Failed: retry after the delay, or the group's backoff; on the last attempt
    /// dead-letter with the reason given, or [`NACKED_LAST`].
    Nack(Option<u64>, Option<&'a str>),
    /// Given up: dead-letter with this reason.
    Reject(&'a str),
}

impl Broker {
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

    /// Settles receipts: parses them, runs the locked step, records the dedup keys of
    /// acked deliveries, and answers once all of it is durable per the flush policy.
    pub(super) async fn settle(
        &self,
        name: &str,
        receipts: &[String],
        how: Settle<'_>,
    ) -> Result<AckOutcome, CoreError> {
        let group = self.groups().get(name)?;
        check_receipt_count(receipts)?;
        let parsed = receipts
            .iter()
            .map(|r| group.parse_receipt(r))
            .collect::<Result<Vec<_>, _>>()?;
        let consumption = self.consumption(&group)?;
        let (outcome, end, next) =
            consumption.settle(&group, receipts, &parsed, how, self.ids())?;
        self.arm_group(&group, next);
        let settled = receipts
            .iter()
            .zip(&parsed)
            .filter(|(r, _)| !outcome.failed.iter().any(|f| &f.receipt == *r))
            .map(|(_, p)| p);
        let keys_end = self.settle_pending_keys(name, settled, matches!(how, Settle::Ack))?;
        if group.config().fifo {
            // The next message of a message group may be deliverable now.
            group.notify().notify_waiters();
        }
        self.wait_durable(end.max(keys_end)).await?;
        Ok(outcome)
    }

    /// Forgets the pending dedup keys of settled deliveries (see [`crate::dedup`]); those
    /// of acked ones are recorded as processed. Returns the commitlog end of the record,
    /// 0 when there was nothing to record.
    fn settle_pending_keys<'r>(
        &self,
        group: &str,
        settled: impl Iterator<Item = &'r Receipt>,
        acked: bool,
    ) -> Result<u64, CoreError> {
        let records = self.pending_keys.settle(group, settled, acked);
        if records.is_empty() {
            return Ok(0);
        }
        let batch: Vec<_> = records.into_iter().map(|r| (0, r)).collect();
        Ok(self.store().append(dedup::DEDUP_TOPIC, &batch)?.end)
    }
}

/// What a settle step collects over its receipts.
struct Step<'a> {
    ids: &'a MessageIdGenerator,
    now: i64,
    /// Journal events, one per kind and member.
    events: Vec<Event>,
    /// The earliest retry time set.
    next: i64,
}

impl Consumption<'_> {
    /// The locked step of a settle: acks or nacks parsed receipts; returns the outcome,
    /// the commitlog end of the journal record and the earliest retry time set.
    fn settle(
        &self,
        group: &Group,
        texts: &[String],
        receipts: &[Receipt],
        how: Settle<'_>,
        ids: &MessageIdGenerator,
    ) -> Result<(AckOutcome, u64, i64), CoreError> {
        let config = group.config();
        let mut step = Step {
            ids,
            now: now_ms(),
            events: Vec::new(),
            next: i64::MAX,
        };
        let mut outcome = AckOutcome::default();
        let mut inner = group.lock();
        for (text, receipt) in texts.iter().zip(receipts) {
            let result = match inner.cursors.get_mut(&(receipt.member, receipt.source)) {
                None => Err(Group::expired(text)),
                Some(cursor) => match how {
                    Settle::Ack => ack_one(group, cursor, text, receipt, &mut step),
                    Settle::Nack(delay, reason) => {
                        let failure = Failure {
                            delay,
                            max_attempts: config.max_attempts,
                            reason: reason.unwrap_or(NACKED_LAST),
                        };
                        self.nack_one(group, cursor, text, receipt, failure, &mut step)
                    }
                    // No attempt is allowed: the nack dead-letters at once.
                    Settle::Reject(reason) => {
                        let failure = Failure {
                            delay: None,
                            max_attempts: 0,
                            reason,
                        };
                        self.nack_one(group, cursor, text, receipt, failure, &mut step)
                    }
                },
            };
            match result {
                Ok(()) => outcome.done += 1,
                Err(error) => outcome.failed.push(ReceiptFailure {
                    receipt: text.clone(),
                    error,
                }),
            }
        }
        let end = self.append_events(&step.events)?;
        Ok((outcome, end, step.next))
    }

    /// Fails one delivery: a retry, or on its last attempt a dead letter.
    fn nack_one(
        &self,
        group: &Group,
        cursor: &mut Cursor,
        text: &str,
        receipt: &Receipt,
        failure: Failure<'_>,
        step: &mut Step<'_>,
    ) -> Result<(), CoreError> {
        let config = group.config();
        let event = |kind| Event::new(kind, &config.name, config.incarnation, receipt.member);
        let entry = entry_of(receipt);
        let attempts = cursor.slot(receipt.offset).map_or(1, |s| s.attempts);
        let wait = failure.delay.map_or_else(
            || config.backoff(attempts).as_millis() as i64,
            |ms| ms as i64,
        );
        let at = step.now.saturating_add(wait);
        let nacked = cursor
            .nack(
                receipt.offset,
                receipt.seq,
                step.now,
                at,
                failure.max_attempts,
            )
            .map_err(|Refusal::Expired| Group::expired(text))?;
        group.count_nack();
        match nacked {
            None => {}
            Some(Nacked::Retry) => {
                step.next = step.next.min(at);
                push(
                    &mut step.events,
                    event(Kind::Retry),
                    Entry { time: at, ..entry },
                );
            }
            Some(Nacked::Dead) => {
                // On failure the message stays in flight: when its invisible time passes
                // the next receive dead-letters it again.
                self.dead_letter_slot(
                    group,
                    cursor,
                    receipt.offset,
                    failure.reason,
                    step.ids,
                    step.now,
                )?;
                push(&mut step.events, event(Kind::Dead), entry);
            }
        }
        Ok(())
    }
}

/// How a nack or reject fails a delivery.
#[derive(Clone, Copy)]
struct Failure<'a> {
    /// Retry after this long; the group's backoff for the attempt when unset.
    delay: Option<u64>,
    /// The attempt that is the last (0: this one).
    max_attempts: u32,
    /// Dead-letter reason on the last attempt.
    reason: &'a str,
}

/// Acks one delivery (acking one that is already done counts, without a journal entry).
fn ack_one(
    group: &Group,
    cursor: &mut Cursor,
    text: &str,
    receipt: &Receipt,
    step: &mut Step<'_>,
) -> Result<(), CoreError> {
    let config = group.config();
    let changed = cursor
        .ack(receipt.offset, receipt.seq, step.now)
        .map_err(|Refusal::Expired| Group::expired(text))?;
    if changed {
        let event = Event::new(Kind::Ack, &config.name, config.incarnation, receipt.member);
        push(&mut step.events, event, entry_of(receipt));
    }
    group.count_ack();
    Ok(())
}

fn entry_of(receipt: &Receipt) -> Entry {
    Entry {
        source: receipt.source,
        offset: receipt.offset,
        ..Entry::default()
    }
}

/// Checks the number of receipts of an ack or nack.
fn check_receipt_count(receipts: &[String]) -> Result<(), CoreError> {
    if receipts.is_empty() || receipts.len() > MAX_RECEIPTS {
        return Err(CoreError::InvalidArgument(format!(
            "receipts must hold 1 to {MAX_RECEIPTS} handles, got {}",
            receipts.len()
        )));
    }
    Ok(())
}

/// Checks the delay of a nack.
fn check_nack_delay(delay_ms: Option<u64>) -> Result<(), CoreError> {
    match delay_ms {
        Some(delay) if delay > MAX_INVISIBLE_MS => Err(CoreError::InvalidArgument(format!(
            "delay_ms must be 0 to {MAX_INVISIBLE_MS}, got {delay}"
        ))),
        _ => Ok(()),
    }
}

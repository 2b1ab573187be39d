//! Receiving: the long poll around [`Consumption::take`](super::take), and the checks
//! of a receive request against the limits of [`crate::limits`] (the one place they are
//! checked; ingresses map the error).
//!
//! A receive takes what is deliverable under the group's lock, makes the journal record
//! durable per the flush policy, drops deliveries a dedup filter finds already processed,
//! and answers; when nothing is deliverable it waits for a send, a due timer or the end
//! of its wait.

use std::time::Instant;

use super::outcomes::{Delivery, ReceiveRequest};
use super::settle::Settle;
use super::spec::check_invisible;
use super::state::Group;
use crate::broker::now_ms;
use crate::dedup::{self, DedupScope};
use crate::limits::{MAX_CONSUMER_NAME_BYTES, MAX_RECEIVE_MESSAGES, check_range, check_wait};
use crate::{Broker, CoreError};

impl Broker {
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
        check_request(&request)?;
        let group = self.groups().get(group)?;
        let invisible_ms = request.invisible_ms.unwrap_or(group.config().invisible_ms);
        check_invisible(invisible_ms)?;
        check_consumer(request.consumer.as_deref())?;
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
}

/// Checks the numbers of a receive request: how many messages, how long to wait, and
/// the invisible time when it sets one.
fn check_request(request: &ReceiveRequest) -> Result<(), CoreError> {
    check_range("max", request.max, 1, MAX_RECEIVE_MESSAGES)?;
    check_wait(request.wait)?;
    if let Some(ms) = request.invisible_ms {
        check_invisible(ms)?;
    }
    Ok(())
}

/// Checks a consumer name.
fn check_consumer(consumer: Option<&str>) -> Result<(), CoreError> {
    if let Some(name) = consumer
        && (name.is_empty() || name.len() > MAX_CONSUMER_NAME_BYTES)
    {
        return Err(CoreError::InvalidArgument(format!(
            "consumer must be 1 to {MAX_CONSUMER_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

//! The load tasks of `weir bench consume`, and the state they share.
//!
//! * [`receive`]: receive a batch through the group (long poll), then ack all of it in one
//!   request: the path of an ordinary consumer;
//! * [`read_offsets`]: read queues by offset and commit the group's offset after each
//!   batch: the path of a stream reader that keeps its progress in the group.
//!
//! Both take messages from a shared budget before asking for them, so that a run stops at
//! exactly `--count` messages, and give back what they did not get.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use weir_client::{Client, ClientError, ReceiveOptions, StopToken, codes};

use super::report::Errors;
use super::worker::{TRANSPORT_FAILURE_PAUSE, is_transport, latency_histogram};

/// State shared by the consume tasks and the controller.
pub(super) struct Shared {
    /// Fired by the controller when the run must end; a receive in progress is abandoned.
    pub(super) stop: StopToken,
    /// Messages still to take before the run is done.
    pub(super) remaining: AtomicU64,
    /// Messages consumed so far, for the progress bar.
    pub(super) messages: AtomicU64,
    /// Failed requests so far, for the progress bar.
    pub(super) errors: AtomicU64,
    /// When the last message arrived, in ms since `started`.
    pub(super) last_message_ms: AtomicU64,
    /// When the tasks started.
    pub(super) started: Instant,
}

impl Shared {
    /// State for a run that takes `count` messages.
    pub(super) fn new(count: u64) -> Shared {
        Shared {
            stop: StopToken::new(),
            remaining: AtomicU64::new(count),
            messages: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_message_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Takes up to `want` messages from the budget; 0 when it is spent.
    fn claim(&self, want: u64) -> u64 {
        let mut taken = 0;
        let _ = self
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                taken = left.min(want);
                Some(left - taken)
            });
        taken
    }

    /// Gives back messages claimed but not received.
    fn give_back(&self, count: u64) {
        if count > 0 {
            self.remaining.fetch_add(count, Ordering::Relaxed);
        }
    }

    /// Notes `count` messages received now.
    fn received(&self, count: u64) {
        self.messages.fetch_add(count, Ordering::Relaxed);
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_message_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn failed(&self, errors: &mut Errors, err: &ClientError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        errors.record(err);
    }
}

/// What one consume task saw.
pub(super) struct Outcome {
    /// Latency of receives (or reads) that returned messages, in µs.
    pub(super) fetch_us: Histogram<u64>,
    /// Latency of acks (or offset commits), in µs.
    pub(super) settle_us: Histogram<u64>,
    /// Messages received.
    pub(super) messages: u64,
    /// Their body bytes.
    pub(super) body_bytes: u64,
    /// Receives (or reads) that succeeded.
    pub(super) fetches: u64,
    /// Of those, how many returned nothing.
    pub(super) empty_fetches: u64,
    /// Acks (or commits) that succeeded.
    pub(super) settles: u64,
    /// Messages the broker took acks for.
    pub(super) acked: u64,
    /// Acks the broker refused one by one (expired receipts).
    pub(super) expired: u64,
    /// Failed requests.
    pub(super) errors: Errors,
}

impl Outcome {
    fn new() -> Result<Outcome, hdrhistogram::CreationError> {
        Ok(Outcome {
            fetch_us: latency_histogram()?,
            settle_us: latency_histogram()?,
            messages: 0,
            body_bytes: 0,
            fetches: 0,
            empty_fetches: 0,
            settles: 0,
            acked: 0,
            expired: 0,
            errors: Errors::default(),
        })
    }
}

/// Receives batches of up to `batch` messages through `group` and acks each batch in one
/// request, until the budget is spent or the run is stopped.
pub(super) async fn receive(
    client: Client,
    group: String,
    batch: u32,
    wait_ms: u64,
    shared: Arc<Shared>,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new()?;
    loop {
        if shared.stop.is_stopped() {
            break;
        }
        let want = shared.claim(u64::from(batch));
        if want == 0 {
            break;
        }
        let options = ReceiveOptions::new(u32::try_from(want).unwrap_or(batch), wait_ms);
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            () = shared.stop.stopped() => {
                shared.give_back(want);
                break;
            }
            result = client.receive(&group, &options) => result,
        };
        let messages = match result {
            Ok(messages) => messages,
            Err(err) => {
                shared.give_back(want);
                shared.failed(&mut outcome.errors, &err);
                if is_transport(&err) {
                    tokio::time::sleep(TRANSPORT_FAILURE_PAUSE).await;
                }
                continue;
            }
        };
        let count = messages.len() as u64;
        shared.give_back(want.saturating_sub(count));
        outcome.fetches += 1;
        if count == 0 {
            outcome.empty_fetches += 1;
            continue;
        }
        outcome.fetch_us.saturating_record(micros_since(started));
        shared.received(count);
        outcome.messages += count;
        outcome.body_bytes += messages.iter().map(|m| m.body.len() as u64).sum::<u64>();
        let receipts: Vec<String> = messages.into_iter().map(|m| m.receipt).collect();
        let started = Instant::now();
        match client.ack(&group, &receipts).await {
            Ok(result) => {
                outcome.settle_us.saturating_record(micros_since(started));
                outcome.settles += 1;
                outcome.acked += result.count as u64;
                outcome.expired += result.failed.len() as u64;
            }
            Err(err) => shared.failed(&mut outcome.errors, &err),
        }
    }
    Ok(outcome)
}

/// One queue a [`read_offsets`] task reads, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct QueueCursor {
    /// The queue number.
    pub(super) queue: u32,
    /// The next offset to read.
    pub(super) offset: u64,
}

/// Reads `queues` of `topic` by offset, `batch` messages at a time, round-robin, and
/// commits the group's offset after each batch, until the budget is spent, every queue is
/// drained, or the run is stopped.
pub(super) async fn read_offsets(
    client: Client,
    topic: String,
    group: String,
    mut queues: Vec<QueueCursor>,
    batch: u32,
    shared: Arc<Shared>,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new()?;
    let mut drained = vec![false; queues.len()];
    let mut next = 0;
    while !queues.is_empty() && !drained.iter().all(|&d| d) {
        if shared.stop.is_stopped() {
            break;
        }
        let index = next % queues.len();
        next += 1;
        if drained[index] {
            continue;
        }
        let want = shared.claim(u64::from(batch));
        if want == 0 {
            break;
        }
        let cursor = queues[index];
        let started = Instant::now();
        let max = u32::try_from(want).unwrap_or(batch);
        let read = match client
            .read_queue(&topic, cursor.queue, cursor.offset, Some(max))
            .await
        {
            Ok(read) => read,
            Err(err) => {
                shared.give_back(want);
                if err.code() == Some(codes::OFFSET_OUT_OF_RANGE) {
                    // Retention removed what the group had not read: skip to what is left.
                    if let Some(oldest) = oldest_offset(&client, &topic, cursor.queue).await {
                        queues[index].offset = oldest.max(cursor.offset);
                        if oldest > cursor.offset {
                            continue;
                        }
                    }
                }
                shared.failed(&mut outcome.errors, &err);
                if is_transport(&err) {
                    tokio::time::sleep(TRANSPORT_FAILURE_PAUSE).await;
                }
                continue;
            }
        };
        let count = read.messages.len() as u64;
        shared.give_back(want.saturating_sub(count));
        outcome.fetches += 1;
        if count == 0 {
            outcome.empty_fetches += 1;
            drained[index] = true;
            continue;
        }
        outcome.fetch_us.saturating_record(micros_since(started));
        shared.received(count);
        outcome.messages += count;
        outcome.body_bytes += read
            .messages
            .iter()
            .map(|m| m.body.len() as u64)
            .sum::<u64>();
        queues[index].offset = read.next_offset;
        let started = Instant::now();
        match client
            .commit_offset(&group, None, cursor.queue, read.next_offset)
            .await
        {
            Ok(()) => {
                outcome.settle_us.saturating_record(micros_since(started));
                outcome.settles += 1;
            }
            Err(err) => shared.failed(&mut outcome.errors, &err),
        }
    }
    Ok(outcome)
}

/// The oldest offset still stored in `queue`, if the topic can be described.
async fn oldest_offset(client: &Client, topic: &str, queue: u32) -> Option<u64> {
    let description = client.describe_topic(topic).await.ok()?;
    description
        .queue_offsets
        .iter()
        .find(|q| q.queue == queue)
        .map(|q| q.min_offset)
}

/// Splits `cursors` over at most `tasks` tasks, round-robin; no task gets an empty list.
pub(super) fn assign_queues(cursors: &[QueueCursor], tasks: usize) -> Vec<Vec<QueueCursor>> {
    let tasks = tasks.clamp(1, cursors.len().max(1));
    let mut assigned = vec![Vec::new(); tasks];
    for (i, cursor) in cursors.iter().enumerate() {
        assigned[i % tasks].push(*cursor);
    }
    assigned.retain(|queues| !queues.is_empty());
    assigned
}

fn micros_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_claimed_and_given_back() {
        let shared = Shared::new(10);
        assert_eq!(shared.claim(4), 4);
        assert_eq!(shared.claim(8), 6);
        assert_eq!(shared.claim(1), 0);
        shared.give_back(3);
        assert_eq!(shared.claim(32), 3);
    }

    #[test]
    fn queues_are_spread_over_tasks() {
        let cursors: Vec<QueueCursor> = (0..5)
            .map(|queue| QueueCursor { queue, offset: 0 })
            .collect();
        let assigned = assign_queues(&cursors, 2);
        let queues: Vec<Vec<u32>> = assigned
            .iter()
            .map(|task| task.iter().map(|c| c.queue).collect())
            .collect();
        assert_eq!(queues, [vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(assign_queues(&cursors, 16).len(), 5, "no idle tasks");
        assert!(assign_queues(&[], 4).is_empty());
    }
}

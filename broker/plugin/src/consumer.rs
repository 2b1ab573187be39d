//! Consumer bindings at work: each of a binding's tasks receives a batch from the group
//! (long poll), hands it to its instance's `handle`, and settles every message by its
//! outcome.
//!
//! | outcome | broker |
//! | --- | --- |
//! | `ack` | ack |
//! | `retry(ms)` | nack, redelivered after `ms` (0: the group's backoff for the attempt) |
//! | `dead-letter(reason)` | reject: to the group's dead-letter queue at once |
//! | trap, timeout, memory cap, wrong number of outcomes | nack of the whole batch (group backoff; dead-lettered after the group's max attempts, with the failure as the reason) |
//!
//! A failed batch's nack carries [`CallError::dead_letter_reason`], so that a message
//! whose last attempt failed is dead-lettered saying what the plugin did (`plugin
//! trapped: ...`, `plugin timed out after N ms`, `plugin memory cap of N MiB exceeded`,
//! `plugin answered N outcomes for M messages`). A plugin's own `dead-letter(reason)`
//! keeps its reason, cut to [`MAX_DEAD_LETTER_REASON_BYTES`].
//!
//! Each task has its own instance (one store each) and replaces it after a failure or
//! when the module version the binding resolves to changes — checked before each batch,
//! so a new upload takes over at a batch boundary. It also keeps the batch it converted
//! for the guest, so that the next one reuses its buffers (see [`convert`]). A task that is told to stop or hold
//! finishes and settles the batch in hand first: nothing is lost, and nothing is handed
//! to two versions. After [`quarantine_after`](crate::PluginHostConfig::quarantine_after)
//! failed calls in a row the binding is quarantined.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use tokio::runtime::RuntimeFlavor;
use weir_core::limits::{MAX_DEAD_LETTER_REASON_BYTES, MAX_INVISIBLE_MS};
use weir_core::{Delivery, ReceiveRequest};

use crate::convert;
use crate::instance::{Outcome, PluginInstance};
use crate::limits::{BROKER_ERROR_BACKOFF, RECEIVE_WAIT};
use crate::live::{Control, LiveBinding};
use crate::metrics::Count;
use crate::module::LoadedModule;
use crate::plugin_host::Inner;
use crate::wit::types;
use crate::{BindingTarget, CallError, CallPriority};

/// One task of a consumer binding; returns when the binding stops.
pub(crate) async fn run(inner: Arc<Inner>, live: Arc<LiveBinding>, broadcasting: bool) {
    let BindingTarget::Consumer {
        group, batch_size, ..
    } = &live.config.target
    else {
        return;
    };
    let mut control = live.control();
    let mut instance: Option<PluginInstance> = None;
    // The converted batch, kept so that the next one reuses its buffers.
    let mut messages: Vec<types::Message> = Vec::new();
    loop {
        let now = *control.borrow_and_update();
        match now {
            Control::Stop => return,
            Control::Hold => {
                instance = None;
                if control.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Control::Run => {}
        }
        let request = ReceiveRequest {
            max: *batch_size,
            wait: RECEIVE_WAIT,
            invisible_ms: None,
            consumer: broadcasting.then(|| live.config.name.clone()),
        };
        // A pause or stop ends the wait for messages at once; a batch already taken is
        // answered and handled (the change takes effect at the batch boundary).
        let changed = async {
            let _ = control.changed().await;
        };
        let received = inner.broker.receive_until(group, request, changed).await;
        if control.has_changed().is_err() {
            return;
        }
        let deliveries = match received {
            Ok(deliveries) => deliveries,
            Err(err) => {
                live.broker_error(&err);
                tracing::warn!(binding = live.name(), error = %err, "receive failed");
                tokio::select! {
                    () = tokio::time::sleep(BROKER_ERROR_BACKOFF) => {}
                    _ = control.changed() => {}
                }
                continue;
            }
        };
        if deliveries.is_empty() {
            // Waiting: a summary of suppressed log lines is not held back for long.
            live.services.summarize_logs();
            continue;
        }
        convert::deliveries_into(&deliveries, &mut messages);
        let (result, kept, returned) = call(&inner, &live, instance.take(), messages).await;
        instance = kept;
        messages = returned;
        match result {
            Ok(outcomes) => {
                live.succeeded();
                settle(&inner, &live, group, deliveries, outcomes).await;
            }
            Err(error) => {
                live.counters
                    .add(Count::FailedMessages, deliveries.len() as u64);
                let receipts: Vec<String> = deliveries.into_iter().map(|d| d.receipt).collect();
                let reason = error.dead_letter_reason();
                let nacked = inner
                    .broker
                    .nack_because(group, &receipts, None, &reason)
                    .await;
                if let Err(err) = nacked {
                    live.broker_error(&err);
                }
                if let Some(error) = live.failed(&error) {
                    inner.quarantine(&live, error);
                }
            }
        }
    }
}

/// What a call answers: the outcomes, the instance to keep, and the batch's messages
/// (trimmed for reuse; empty if the call panicked).
type Called = (
    Result<Vec<Outcome>, CallError>,
    Option<PluginInstance>,
    Vec<types::Message>,
);

/// Hands a batch to the instance (a new one if it is missing or runs an outdated
/// version), on a plugin call thread (see [`crate::pool`]); at
/// [`CallPriority::Normal`] on a multi-thread runtime, in place instead
/// ([`block_in_place`]): this worker thread makes the call while the runtime moves its
/// other tasks to another thread, and nobody waits for a thread to wake up.
///
/// [`block_in_place`]: tokio::task::block_in_place
async fn call(
    inner: &Arc<Inner>,
    live: &Arc<LiveBinding>,
    instance: Option<PluginInstance>,
    messages: Vec<types::Message>,
) -> Called {
    let module = match live.module(&inner.registry) {
        Ok(module) => module,
        Err(error) => return (Err(error), None, messages),
    };
    let instance = instance.filter(|i| Arc::ptr_eq(i.module(), &module));
    let in_place = inner.config.call_priority == CallPriority::Normal
        && inner.runtime.runtime_flavor() == RuntimeFlavor::MultiThread;
    let called = if in_place {
        let work = || handle(inner, live, module, instance, messages);
        tokio::task::block_in_place(|| std::panic::catch_unwind(AssertUnwindSafe(work)))
            .map_err(|panic| crate::pool::panic_text(panic.as_ref()))
    } else {
        let (calling, live_calling) = (Arc::clone(inner), Arc::clone(live));
        inner
            .pool
            .run(move || handle(&calling, &live_calling, module, instance, messages))
            .await
    };
    called.unwrap_or_else(|panic| {
        (
            Err(CallError::Trap(format!("the call panicked: {panic}"))),
            None,
            Vec::new(),
        )
    })
}

/// Calls `handle` on the instance, or on a new one. Blocking.
fn handle(
    inner: &Inner,
    live: &LiveBinding,
    module: Arc<LoadedModule>,
    instance: Option<PluginInstance>,
    mut messages: Vec<types::Message>,
) -> Called {
    let config = &live.config;
    let mut instance = match live.instance(&inner.engine, module, instance) {
        Ok(instance) => instance,
        Err(error) => return (Err(error), None, messages),
    };
    let started = Instant::now();
    let result = instance.handle(&config.config, &messages);
    live.counters
        .call(messages.len(), started.elapsed(), result.as_ref().err());
    convert::trim_kept(&mut messages);
    let keep = result.is_ok().then_some(instance);
    (result, keep, messages)
}

/// Settles a batch by its outcomes: acks together, retries grouped by delay, dead
/// letters grouped by reason.
async fn settle(
    inner: &Inner,
    live: &LiveBinding,
    group: &str,
    deliveries: Vec<Delivery>,
    outcomes: Vec<Outcome>,
) {
    let mut acks = Vec::with_capacity(deliveries.len());
    let mut retries: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut dead: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (delivery, outcome) in deliveries.into_iter().zip(outcomes) {
        let receipt = delivery.receipt;
        match outcome {
            Outcome::Ack => acks.push(receipt),
            Outcome::Retry(ms) => retries
                .entry(ms.min(MAX_INVISIBLE_MS))
                .or_default()
                .push(receipt),
            Outcome::DeadLetter(mut reason) => {
                if reason.len() > MAX_DEAD_LETTER_REASON_BYTES {
                    let mut cut = MAX_DEAD_LETTER_REASON_BYTES;
                    while !reason.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    reason.truncate(cut);
                }
                dead.entry(reason).or_default().push(receipt);
            }
        }
    }
    let broker = &inner.broker;
    if !acks.is_empty() {
        live.counters.add(Count::Acked, acks.len() as u64);
        report(live, broker.ack(group, &acks).await);
    }
    for (delay, receipts) in retries {
        live.counters.add(Count::Retried, receipts.len() as u64);
        let delay = (delay > 0).then_some(delay);
        report(live, broker.nack(group, &receipts, delay).await);
    }
    for (reason, receipts) in dead {
        live.counters
            .add(Count::DeadLettered, receipts.len() as u64);
        report(live, broker.reject(group, &receipts, &reason).await);
    }
}

fn report(live: &LiveBinding, outcome: Result<weir_core::AckOutcome, weir_core::CoreError>) {
    match outcome {
        Ok(outcome) => {
            for failure in outcome.failed {
                tracing::debug!(binding = live.name(), error = %failure.error, "settling a delivery failed");
            }
        }
        Err(err) => {
            tracing::warn!(binding = live.name(), error = %err, "settling a batch failed");
            live.broker_error(&err);
        }
    }
}

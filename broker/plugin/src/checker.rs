//! Transaction checker bindings: the broker's [`TransactionChecker`] that asks a
//! `tx-checker-plugin` about undecided transactions.
//!
//! A check-back goes to the running checker binding of the half message's producer
//! group, or else to one of its topic; with neither it is `unknown` at once (the next
//! checker, e.g. the producer group's callback URL, is asked). A failed call (trap,
//! timeout, memory cap) answers `unknown` and counts towards quarantine. Instances are
//! pooled per binding: a call takes an idle one or makes one, and gives it back when it
//! succeeded and still runs the version the binding resolves to.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Instant;

use weir_core::{HalfMessage, TransactionChecker, TxState};

use crate::instance::{PluginInstance, WitTxState};
use crate::live::LiveBinding;
use crate::metrics::Count;
use crate::plugin_host::Inner;
use crate::{BindingTarget, CallError, convert};

/// Idle instances kept per checker or filter binding.
pub(crate) const MAX_IDLE_INSTANCES: usize = 8;

/// Routes check-backs to checker bindings.
pub(crate) struct PluginCheckers {
    /// Weak: the broker holds its checkers, and the host holds the broker.
    inner: Weak<Inner>,
}

impl PluginCheckers {
    pub(crate) fn new(inner: Weak<Inner>) -> Self {
        Self { inner }
    }
}

impl TransactionChecker for PluginCheckers {
    fn check<'a>(
        &'a self,
        half: &'a HalfMessage,
    ) -> Pin<Box<dyn Future<Output = TxState> + Send + 'a>> {
        Box::pin(async move {
            let Some(inner) = self.inner.upgrade() else {
                return TxState::Unknown;
            };
            let Some(live) = checker_for(&inner, half) else {
                return TxState::Unknown;
            };
            let message = convert::half(half);
            let checks = half.checks;
            let answer = with_instance(&inner, &live, 1, move |instance, config| {
                instance.check(config, &message, checks)
            })
            .await;
            let state = match answer {
                Ok(WitTxState::Commit) => TxState::Commit,
                Ok(WitTxState::Rollback) => TxState::Rollback,
                Ok(WitTxState::Unknown) | Err(_) => TxState::Unknown,
            };
            live.counters.add(
                match state {
                    TxState::Commit => Count::Commit,
                    TxState::Rollback => Count::Rollback,
                    TxState::Unknown => Count::Unknown,
                },
                1,
            );
            tracing::debug!(
                binding = live.name(),
                transaction = half.transaction,
                ?state,
                "check-back answered"
            );
            state
        })
    }
}

/// The running checker binding for a half message: its producer group's, else its
/// topic's.
fn checker_for(inner: &Inner, half: &HalfMessage) -> Option<Arc<LiveBinding>> {
    let bindings = inner.bindings.read();
    let running = || {
        bindings
            .values()
            .filter(|live| live.is_running())
            .filter_map(|live| match &live.config.target {
                BindingTarget::TxChecker {
                    producer_group,
                    topic,
                } => Some((live, producer_group, topic)),
                _ => None,
            })
    };
    let by_group = half
        .producer_group
        .as_ref()
        .and_then(|wanted| running().find(|(_, group, _)| group.as_ref() == Some(wanted)));
    by_group
        .or_else(|| running().find(|(_, _, topic)| topic.as_deref() == Some(half.topic.as_str())))
        .map(|(live, _, _)| Arc::clone(live))
}

/// Runs `f` on an idle instance of the binding (or a new one) on a plugin call thread,
/// recording the call (of `messages` messages) and its failure.
pub(crate) async fn with_instance<R: Send + 'static>(
    inner: &Arc<Inner>,
    live: &Arc<LiveBinding>,
    messages: usize,
    f: impl FnOnce(&mut PluginInstance, &str) -> Result<R, CallError> + Send + 'static,
) -> Result<R, CallError> {
    let result = match live.module(&inner.registry) {
        Err(error) => Err(error),
        Ok(module) => {
            let idle = {
                let mut idle = live.idle.lock();
                idle.retain(|i| Arc::ptr_eq(i.module(), &module));
                idle.pop()
            };
            let engine = Arc::clone(&inner.engine);
            let binding = Arc::clone(live);
            inner
                .pool
                .run(move || {
                    let config = &binding.config;
                    let mut instance = binding.instance(&engine, module, idle)?;
                    let started = Instant::now();
                    let result = f(&mut instance, &config.config);
                    binding
                        .counters
                        .call(messages, started.elapsed(), result.as_ref().err());
                    if result.is_ok() && binding.is_running() {
                        let mut idle = binding.idle.lock();
                        if idle.len() < MAX_IDLE_INSTANCES {
                            idle.push(instance);
                        }
                    }
                    result
                })
                .await
                .unwrap_or_else(|panic| Err(CallError::Trap(format!("the call panicked: {panic}"))))
        }
    };
    match &result {
        Ok(_) => live.succeeded(),
        Err(error) => {
            if let Some(error) = live.failed(error) {
                inner.quarantine(live, error);
            }
        }
    }
    result
}

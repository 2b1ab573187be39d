//! One plugin instance: a store of its own, its world's exports, and calls bounded by a
//! deadline and a memory cap.
//!
//! Every call sets the store's epoch deadline first; running past it traps with
//! [`Trap::Interrupt`], reported as [`CallError::Timeout`]. A memory growth past the cap
//! is refused (the guest usually traps on it) and reported as
//! [`CallError::MemoryLimit`]. After any failure the instance must be dropped: a
//! component that trapped cannot be entered again. Calls block their thread for up to
//! the deadline; callers run them on blocking threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use crate::CallError;
use crate::engine::{PluginEngine, deadline_ticks};
use crate::escape::escape;
use crate::host::{HostState, Services};
use crate::limits::MIN_INSTANTIATE_DEADLINE_MS;
use crate::metrics::Count;
use crate::module::{LoadedModule, WorldPre};
use crate::wit::{checker, consumer, dedup, types};

/// A checker's answer.
pub(crate) use checker::exports::weir::plugin::tx_checker::TxState as WitTxState;
/// A consumer's outcome for one message.
pub(crate) use consumer::exports::weir::plugin::consumer::Outcome;

/// Longest failure text kept from a trap (escaped).
const MAX_ERROR_TEXT: usize = 2_048;

enum Exports {
    Consumer(consumer::ConsumerPlugin),
    DedupFilter(dedup::DedupFilterPlugin),
    TxChecker(checker::TxCheckerPlugin),
}

/// A live instance of one module version.
pub(crate) struct PluginInstance {
    store: Store<HostState>,
    exports: Exports,
    module: Arc<LoadedModule>,
    deadline_ms: u64,
}

impl PluginInstance {
    /// Instantiates `module` in a new store. Blocking.
    pub(crate) fn new(
        engine: &PluginEngine,
        module: Arc<LoadedModule>,
        services: Arc<Services>,
        memory_bytes: usize,
        deadline_ms: u64,
    ) -> Result<Self, CallError> {
        services.counters.add(Count::Instantiation, 1);
        let mut store = Store::new(engine.engine(), HostState::new(services, memory_bytes));
        store.limiter(|state| &mut state.limiter);
        let start_ms = deadline_ms.max(MIN_INSTANTIATE_DEADLINE_MS);
        store.set_epoch_deadline(deadline_ticks(start_ms));
        store.data_mut().deadline = Some(Instant::now() + Duration::from_millis(start_ms));
        let exports = match &module.pre {
            WorldPre::Consumer(pre) => pre.instantiate(&mut store).map(Exports::Consumer),
            WorldPre::DedupFilter(pre) => pre.instantiate(&mut store).map(Exports::DedupFilter),
            WorldPre::TxChecker(pre) => pre.instantiate(&mut store).map(Exports::TxChecker),
        };
        let exports = match exports {
            Ok(exports) => exports,
            Err(err) => {
                return Err(match classify(&store, err, start_ms) {
                    CallError::Trap(text) => CallError::Instantiate(text),
                    other => other,
                });
            }
        };
        store.data_mut().deadline = None;
        Ok(Self {
            store,
            exports,
            module,
            deadline_ms,
        })
    }

    /// The module version this instance runs.
    pub(crate) fn module(&self) -> &Arc<LoadedModule> {
        &self.module
    }

    /// Calls a consumer's `handle`; checks that it answered one outcome per message.
    pub(crate) fn handle(
        &mut self,
        config: &str,
        batch: &[types::Message],
    ) -> Result<Vec<Outcome>, CallError> {
        let Exports::Consumer(plugin) = &self.exports else {
            return Err(self.wrong_world("consumer-plugin"));
        };
        let guest = plugin.weir_plugin_consumer();
        let outcomes = call(&mut self.store, self.deadline_ms, |store| {
            guest.call_handle(store, config, batch)
        })?;
        if outcomes.len() != batch.len() {
            return Err(CallError::WrongLength {
                expected: batch.len(),
                got: outcomes.len(),
            });
        }
        Ok(outcomes)
    }

    /// Calls a checker's `check`.
    pub(crate) fn check(
        &mut self,
        config: &str,
        half: &types::Message,
        checks: u32,
    ) -> Result<WitTxState, CallError> {
        let Exports::TxChecker(plugin) = &self.exports else {
            return Err(self.wrong_world("tx-checker-plugin"));
        };
        let guest = plugin.weir_plugin_tx_checker();
        call(&mut self.store, self.deadline_ms, |store| {
            guest.call_check(store, config, half, checks)
        })
    }

    /// Calls a dedup filter's `dedup-key`.
    pub(crate) fn dedup_key(
        &mut self,
        config: &str,
        message: &types::Message,
    ) -> Result<Option<String>, CallError> {
        let Exports::DedupFilter(plugin) = &self.exports else {
            return Err(self.wrong_world("dedup-filter-plugin"));
        };
        let guest = plugin.weir_plugin_dedup_filter();
        call(&mut self.store, self.deadline_ms, |store| {
            guest.call_dedup_key(store, config, message)
        })
    }

    fn wrong_world(&self, wanted: &str) -> CallError {
        CallError::Unavailable(format!(
            "module '{}' version {} is a {}, not a {wanted}",
            self.module.info.name, self.module.info.version, self.module.info.world
        ))
    }
}

/// Runs one export call under the deadline.
fn call<R>(
    store: &mut Store<HostState>,
    deadline_ms: u64,
    f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
) -> Result<R, CallError> {
    store.set_epoch_deadline(deadline_ticks(deadline_ms));
    store.data_mut().deadline = Some(Instant::now() + Duration::from_millis(deadline_ms));
    store.data_mut().limiter.hit = false;
    store.data().stderr.clear();
    let result = f(store);
    store.data_mut().deadline = None;
    store.data().services.summarize_logs();
    result.map_err(|err| classify(store, err, deadline_ms))
}

fn classify(store: &Store<HostState>, err: wasmtime::Error, deadline_ms: u64) -> CallError {
    let limiter = &store.data().limiter;
    if limiter.hit {
        return CallError::MemoryLimit {
            limit: limiter.limit,
        };
    }
    if matches!(err.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return CallError::Timeout { deadline_ms };
    }
    // What the guest printed first (a Rust panic's message), then the trap, all of it
    // hostile text: escaped before anything logs it.
    let stderr = store.data().stderr.text();
    let text = if stderr.is_empty() {
        format!("{err:#}")
    } else {
        format!("{stderr}; {err:#}")
    };
    CallError::Trap(escape(&text, MAX_ERROR_TEXT).into_owned())
}

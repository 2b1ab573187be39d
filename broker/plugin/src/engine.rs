//! The wasmtime engine every plugin runs in, the linker that provides the host's imports,
//! and the ticker thread that makes call deadlines work.
//!
//! # Deadlines
//!
//! The engine is configured with epoch interruption: compiled code checks the engine's
//! epoch at function entries and loop back-edges, and traps once it passes the store's
//! deadline. A ticker thread advances the epoch every [`EPOCH_TICK`], so a deadline of
//! `d` ms is `ceil(d / tick) + 1` ticks and holds to within a tick. Host functions do not
//! check epochs: the ones that can wait (publish, HTTP) bound their own waits by the
//! time the call has left.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

use crate::PluginError;
use crate::host::HostState;
use crate::limits::EPOCH_TICK;
use crate::wit;

/// The engine, the linker of host imports, and the epoch ticker.
pub(crate) struct PluginEngine {
    engine: Engine,
    linker: Linker<HostState>,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine").finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// Sets up the engine (epoch interruption on) and the linker: WASI preview 2 with
    /// whatever context each store gets, plus the `weir:plugin/host` interface.
    pub(crate) fn new() -> Result<Arc<Self>, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        config.parallel_compilation(true);
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Engine(format!("linking WASI: {e}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Engine(format!("linking wasi:http: {e}")))?;
        wit::host::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| PluginError::Engine(format!("linking the host interface: {e}")))?;
        let ticker = EpochTicker::start(engine.clone())?;
        Ok(Arc::new(Self {
            engine,
            linker,
            _ticker: ticker,
        }))
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }
}

/// Epoch ticks for a deadline of `ms` milliseconds.
pub(crate) fn deadline_ticks(ms: u64) -> u64 {
    let tick = EPOCH_TICK.as_millis().max(1) as u64;
    ms.div_ceil(tick) + 1
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Result<Self, PluginError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("weir-plugin-epoch".to_string())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| PluginError::io("starting the epoch ticker thread", e))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_whole_ticks_plus_one() {
        let tick = EPOCH_TICK.as_millis() as u64;
        assert_eq!(deadline_ticks(0), 1);
        assert_eq!(deadline_ticks(1), 2);
        assert_eq!(deadline_ticks(tick), 2);
        assert_eq!(deadline_ticks(tick + 1), 3);
    }
}

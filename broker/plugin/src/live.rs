//! A running binding: its configuration, the services its instances get, its health
//! (consecutive failures, quarantine), its counters, and its tasks or idle instances.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::CallError;
use crate::binding::{BindingConfig, BindingStatus, RunState};
use crate::engine::PluginEngine;
use crate::host::{Services, now_ms};
use crate::instance::PluginInstance;
use crate::metrics::Counters;
use crate::module::LoadedModule;
use crate::registry::Registry;
use crate::state_table::StateTable;

/// What a binding's tasks should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// Work.
    Run,
    /// Wait (paused or quarantined).
    Hold,
    /// Finish the batch in hand and exit.
    Stop,
}

/// Failures in a row and the last one.
#[derive(Debug, Default)]
struct Health {
    consecutive: u32,
    last_error: Option<String>,
    last_error_ms: Option<i64>,
}

/// A binding while the host runs it.
pub(crate) struct LiveBinding {
    pub(crate) config: BindingConfig,
    pub(crate) services: Arc<Services>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) state: Arc<StateTable>,
    health: Mutex<Health>,
    control: watch::Sender<Control>,
    run: Mutex<RunState>,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Instances not in use (checkers and dedup filters take one per call).
    pub(crate) idle: Mutex<Vec<PluginInstance>>,
    quarantine_after: u32,
}

impl std::fmt::Debug for LiveBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveBinding")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl LiveBinding {
    pub(crate) fn new(
        config: BindingConfig,
        services: Arc<Services>,
        quarantine_after: u32,
    ) -> Arc<Self> {
        let control = match config.run {
            RunState::Running => Control::Run,
            RunState::Paused | RunState::Quarantined { .. } => Control::Hold,
        };
        let mut health = Health::default();
        if let RunState::Quarantined { error } = &config.run {
            health.last_error = Some(error.clone());
        }
        Arc::new(Self {
            run: Mutex::new(config.run.clone()),
            counters: Arc::clone(&services.counters),
            state: Arc::clone(&services.state),
            services,
            config,
            health: Mutex::new(health),
            control: watch::Sender::new(control),
            tasks: Mutex::new(Vec::new()),
            idle: Mutex::new(Vec::new()),
            quarantine_after,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    pub(crate) fn control(&self) -> watch::Receiver<Control> {
        self.control.subscribe()
    }

    pub(crate) fn is_running(&self) -> bool {
        *self.control.borrow() == Control::Run
    }

    pub(crate) fn run_state(&self) -> RunState {
        self.run.lock().clone()
    }

    /// Sets the run state (the caller made it durable first).
    pub(crate) fn set_run_state(&self, run: RunState) {
        let control = match run {
            RunState::Running => {
                *self.health.lock() = Health::default();
                Control::Run
            }
            RunState::Paused | RunState::Quarantined { .. } => Control::Hold,
        };
        *self.run.lock() = run;
        if *self.control.borrow() != Control::Stop {
            self.control.send_replace(control);
        }
        if control == Control::Hold {
            self.idle.lock().clear();
        }
    }

    /// Tells the tasks to stop and waits for them to settle their batches and exit.
    pub(crate) async fn stop(&self) {
        self.control.send_replace(Control::Stop);
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
        self.idle.lock().clear();
    }

    /// The module version calls go to now; a failure to resolve it is counted.
    pub(crate) fn module(&self, registry: &Registry) -> Result<Arc<LoadedModule>, CallError> {
        let config = &self.config;
        let module = match registry.slot(&config.module, config.version) {
            Ok(slot) => slot.loaded.map_err(CallError::Unavailable),
            Err(err) => Err(CallError::Unavailable(err.to_string())),
        };
        if let Err(error) = &module {
            self.counters.failure(error);
        }
        module
    }

    /// `instance` when given, else a new instance of `module` under this binding's
    /// limits; a failure to create one is counted. Blocking.
    pub(crate) fn instance(
        &self,
        engine: &PluginEngine,
        module: Arc<LoadedModule>,
        instance: Option<PluginInstance>,
    ) -> Result<PluginInstance, CallError> {
        if let Some(instance) = instance {
            return Ok(instance);
        }
        PluginInstance::new(
            engine,
            module,
            Arc::clone(&self.services),
            self.config.memory_bytes,
            self.config.deadline_ms,
        )
        .inspect_err(|error| self.counters.failure(error))
    }

    pub(crate) fn succeeded(&self) {
        self.health.lock().consecutive = 0;
    }

    /// Records a failed call; answers the error to quarantine with when this failure
    /// reaches the limit (once: later failures while already held answer `None`).
    pub(crate) fn failed(&self, error: &CallError) -> Option<String> {
        let text = error.to_string();
        tracing::warn!(binding = self.name(), kind = error.kind(), error = %text, "plugin call failed");
        let mut health = self.health.lock();
        health.consecutive += 1;
        health.last_error = Some(text.clone());
        health.last_error_ms = Some(now_ms());
        (health.consecutive >= self.quarantine_after && self.is_running()).then_some(text)
    }

    /// Records a broker-side problem (not the plugin's fault: no quarantine).
    pub(crate) fn broker_error(&self, error: &dyn std::fmt::Display) {
        let mut health = self.health.lock();
        health.last_error = Some(format!("broker: {error}"));
        health.last_error_ms = Some(now_ms());
    }

    pub(crate) fn status(&self, module_version: Option<u32>) -> BindingStatus {
        let health = self.health.lock();
        let mut config = self.config.clone();
        config.run = self.run_state();
        BindingStatus {
            config,
            module_version,
            consecutive_failures: health.consecutive,
            last_error: health.last_error.clone(),
            last_error_ms: health.last_error_ms,
            state_entries: self.state.len(),
            state_bytes_used: self.state.bytes(),
            metrics: self.counters.snapshot(),
        }
    }
}

//! Binding operations of the [`PluginHost`]: bind, rebind, pause, resume, unbind,
//! describe.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use weir_core::{CoreError, GroupMode, GroupSpec};

use super::Inner;
use crate::binding::{BindingConfig, BindingSpec, BindingStatus, BindingTarget, RunState};
use crate::host::{Services, now_ms};
use crate::http::AllowedPrefix;
use crate::limits::MAX_BINDINGS;
use crate::live::LiveBinding;
use crate::log_budget::LogBudget;
use crate::metrics::Counters;
use crate::state_table::StateTable;
use crate::{PluginError, PluginHost, consumer};

impl PluginHost {
    /// Creates a binding and starts it. Durable when this returns.
    ///
    /// A consumer binding's group is created on its topic (with the group defaults)
    /// when missing; an existing group must consume that topic and keep messages
    /// invisible for longer than the binding's deadline.
    pub async fn bind(&self, spec: BindingSpec) -> Result<BindingConfig, PluginError> {
        let mut config = self.validate(spec).await?;
        let _change = self.inner.changes.lock().await;
        if self.inner.bindings.read().contains_key(&config.name) {
            return Err(PluginError::BindingExists(config.name));
        }
        if self.inner.bindings.read().len() >= MAX_BINDINGS {
            return Err(PluginError::TooMany(format!(
                "the broker holds the maximum of {MAX_BINDINGS} bindings"
            )));
        }
        config.created_ms = self.inner.creation_ms(config.created_ms);
        let mut configs = self.inner.binding_configs();
        configs.push(config.clone());
        self.inner
            .catalog
            .persist(self.inner.registry.infos(), configs)
            .await?;
        let live = self.inner.live(config.clone(), None);
        self.inner.install(&live);
        tracing::info!(
            binding = config.name,
            module = config.module,
            "binding created"
        );
        Ok(config)
    }

    /// Replaces a binding's configuration (module, version, target, limits, grants),
    /// keeping its counters and state. The old tasks finish and settle their batches
    /// first, so the change takes effect at a batch boundary. Its run state is kept.
    pub async fn rebind(&self, spec: BindingSpec) -> Result<BindingConfig, PluginError> {
        let mut config = self.validate(spec).await?;
        let _change = self.inner.changes.lock().await;
        let old = self.inner.binding(&config.name)?;
        config.created_ms = old.config.created_ms;
        config.run = old.run_state();
        let configs = self
            .inner
            .binding_configs()
            .into_iter()
            .map(|c| {
                if c.name == config.name {
                    config.clone()
                } else {
                    c
                }
            })
            .collect();
        self.inner
            .catalog
            .persist(self.inner.registry.infos(), configs)
            .await?;
        old.stop().await;
        let live = self.inner.live(config.clone(), Some(&old));
        self.inner.install(&live);
        tracing::info!(
            binding = config.name,
            module = config.module,
            "binding changed"
        );
        Ok(config)
    }

    /// Deletes a binding: its tasks finish and settle their batches, then it is gone.
    pub async fn unbind(&self, name: &str) -> Result<(), PluginError> {
        let _change = self.inner.changes.lock().await;
        let live = self.inner.binding(name)?;
        let configs = self
            .inner
            .binding_configs()
            .into_iter()
            .filter(|c| c.name != name)
            .collect();
        self.inner
            .catalog
            .persist(self.inner.registry.infos(), configs)
            .await?;
        self.inner.bindings.write().remove(name);
        live.stop().await;
        tracing::info!(binding = name, "binding deleted");
        Ok(())
    }

    /// Pauses a binding (durably): its tasks finish the batch in hand and wait.
    pub async fn pause(&self, name: &str) -> Result<(), PluginError> {
        self.inner.set_run_state(name, RunState::Paused).await
    }

    /// Resumes a paused or quarantined binding, clearing its failure count.
    pub async fn resume(&self, name: &str) -> Result<(), PluginError> {
        self.inner.set_run_state(name, RunState::Running).await
    }

    /// Every binding's configuration.
    pub fn bindings(&self) -> Vec<BindingConfig> {
        self.inner.binding_configs()
    }

    /// One binding with its health and counters.
    pub fn binding(&self, name: &str) -> Result<BindingStatus, PluginError> {
        let live = self.inner.binding(name)?;
        Ok(live.status(self.inner.resolved_version(&live)))
    }

    /// Validates a spec against the limits, the registry and the broker (creating a
    /// consumer binding's group when missing).
    async fn validate(&self, spec: BindingSpec) -> Result<BindingConfig, PluginError> {
        let broker = &self.inner.broker;
        let config = spec.validate(broker.limits().dedup_window_ms, now_ms())?;
        let slot = self.inner.registry.slot(&config.module, config.version)?;
        let expected = config.target.world();
        if slot.info.world != expected {
            return Err(PluginError::WorldMismatch {
                module: config.module,
                expected,
                actual: slot.info.world,
            });
        }
        match &config.target {
            BindingTarget::Consumer { topic, group, .. } => {
                let existing = match broker.describe_group(group, None) {
                    Ok(description) => description.config,
                    Err(CoreError::GroupNotFound(_)) => {
                        broker
                            .create_group(GroupSpec {
                                name: group.clone(),
                                topic: topic.clone(),
                                ..GroupSpec::default()
                            })
                            .await?
                    }
                    Err(err) => return Err(err.into()),
                };
                if &existing.topic != topic {
                    return Err(PluginError::InvalidBinding(format!(
                        "group '{group}' consumes topic '{}', not '{topic}'",
                        existing.topic
                    )));
                }
                if existing.invisible_ms <= config.deadline_ms {
                    return Err(PluginError::InvalidBinding(format!(
                        "group '{group}' keeps messages invisible for {} ms; the deadline \
                         ({} ms) must be shorter",
                        existing.invisible_ms, config.deadline_ms
                    )));
                }
            }
            BindingTarget::TxChecker { topic, .. } => {
                if let Some(topic) = topic {
                    broker.describe_topic(topic)?;
                }
            }
            BindingTarget::DedupFilter { topic, group, .. } => {
                if let Some(topic) = topic {
                    broker.describe_topic(topic)?;
                }
                if let Some(group) = group {
                    broker.describe_group(group, None)?;
                }
            }
        }
        Ok(config)
    }
}

impl Inner {
    pub(crate) fn binding(&self, name: &str) -> Result<Arc<LiveBinding>, PluginError> {
        self.bindings
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| PluginError::BindingNotFound(name.to_string()))
    }

    /// A `created_ms` for a new binding: `now_ms`, or later than every one given so far
    /// (a binding deleted and created again within a millisecond must not match the
    /// snapshots of the old one's state).
    fn creation_ms(&self, now_ms: i64) -> i64 {
        let mut given = now_ms;
        let _ = self
            .created_clock
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                given = now_ms.max(last.saturating_add(1));
                Some(given)
            });
        given
    }

    /// A live binding for `config`, keeping the counters and state of `previous`.
    pub(crate) fn live(
        &self,
        config: BindingConfig,
        previous: Option<&LiveBinding>,
    ) -> Arc<LiveBinding> {
        let counters = previous.map_or_else(
            || Arc::new(Counters::default()),
            |p| Arc::clone(&p.counters),
        );
        let state = match previous {
            Some(p) => Arc::clone(&p.state),
            None => Arc::new(StateTable::new(config.state_bytes)),
        };
        self.assemble(config, counters, state)
    }

    /// A live binding for `config` holding `state` (restored from its snapshot).
    pub(crate) fn live_with_state(
        &self,
        config: BindingConfig,
        state: Arc<StateTable>,
    ) -> Arc<LiveBinding> {
        self.assemble(config, Arc::new(Counters::default()), state)
    }

    fn assemble(
        &self,
        config: BindingConfig,
        counters: Arc<Counters>,
        state: Arc<StateTable>,
    ) -> Arc<LiveBinding> {
        let allowlist = config
            .grants
            .http_allowlist
            .iter()
            .filter_map(|entry| AllowedPrefix::parse(entry).ok())
            .collect();
        let services = Arc::new(Services {
            binding: config.name.clone(),
            module: config.module.clone(),
            state,
            publish: config.grants.publish,
            allowlist,
            broker: Arc::clone(&self.broker),
            http: self.http.clone(),
            runtime: self.runtime.clone(),
            counters,
            log_budget: LogBudget::new(self.config.log_rates, Instant::now()),
        });
        LiveBinding::new(config, services, self.config.quarantine_after)
    }

    /// Puts `live` in the binding table, in place of any binding of its name, and
    /// starts it.
    pub(crate) fn install(self: &Arc<Self>, live: &Arc<LiveBinding>) {
        self.bindings
            .write()
            .insert(live.name().to_string(), Arc::clone(live));
        self.start(live);
    }

    /// Starts a binding's tasks (consumers only; checkers and filters are called).
    pub(crate) fn start(self: &Arc<Self>, live: &Arc<LiveBinding>) {
        if let BindingTarget::Consumer {
            concurrency, group, ..
        } = &live.config.target
        {
            let broadcasting = self
                .broker
                .describe_group(group, None)
                .is_ok_and(|d| d.config.mode == GroupMode::Broadcasting);
            let mut tasks = live.tasks.lock();
            for _ in 0..*concurrency {
                tasks.push(self.runtime.spawn(consumer::run(
                    Arc::clone(self),
                    Arc::clone(live),
                    broadcasting,
                )));
            }
        }
    }

    /// Changes a binding's run state, durably.
    pub(crate) async fn set_run_state(&self, name: &str, run: RunState) -> Result<(), PluginError> {
        let _change = self.changes.lock().await;
        let live = self.binding(name)?;
        let previous = live.run_state();
        live.set_run_state(run);
        if let Err(err) = self.persist_current().await {
            live.set_run_state(previous);
            return Err(err);
        }
        tracing::info!(binding = name, state = ?live.run_state(), "binding run state changed");
        Ok(())
    }

    /// Quarantines a binding after too many failures: held at once, made durable in the
    /// background (binding tasks never wait for the change lock).
    pub(crate) fn quarantine(self: &Arc<Self>, live: &Arc<LiveBinding>, error: String) {
        tracing::error!(
            binding = live.name(),
            error,
            "binding quarantined after repeated failures"
        );
        live.set_run_state(RunState::Quarantined { error });
        let inner = Arc::clone(self);
        let live = Arc::clone(live);
        self.runtime.spawn(async move {
            let _change = inner.changes.lock().await;
            let current = inner.bindings.read().get(live.name()).cloned();
            if current.is_some_and(|c| Arc::ptr_eq(&c, &live))
                && let Err(err) = inner.persist_current().await
            {
                tracing::warn!(binding = live.name(), error = %err, "persisting a quarantine failed");
            }
        });
    }
}

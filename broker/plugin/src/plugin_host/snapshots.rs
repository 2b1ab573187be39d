//! Snapshots of binding state, the host's side: when they are written and read back.
//! Each binding's table is restored from its newest snapshot when the host opens, and
//! snapshots of changed tables are written every [`STATE_SNAPSHOT_INTERVAL`], when the
//! host shuts down, and before retention would delete the newest one. The table and its
//! guarantees are in [`crate::state_table`], the record format in
//! [`crate::snapshot_record`].
//!
//! Snapshots are appended without an fsync (the store's flush policy applies) and one
//! at a time, so that the newest record of a binding is always its newest state.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use tokio::sync::watch;
use weir_core::CoreError;
use weir_store::{Message, SnapshotError, SnapshotSlot, Store};

use super::Inner;
use crate::binding::BindingConfig;
use crate::host::now_ms;
use crate::limits::STATE_SNAPSHOT_INTERVAL;
use crate::live::LiveBinding;
use crate::snapshot_record::{self, PLUGIN_STATE_TOPIC};
use crate::state_table::StateTable;
use crate::{PluginError, PluginHost};

/// Which bindings a pass writes a snapshot of.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Due {
    /// Those whose state changed since their newest snapshot.
    Changed,
    /// Those whose newest snapshot lies below this commitlog position (retention is
    /// about to delete it).
    Below(u64),
}

impl PluginHost {
    /// The value of `key` in a binding's state, as its plugin would read it now (`None`
    /// when absent or expired). For operators and debugging; plugins use `state-get`.
    pub fn state_value(&self, binding: &str, key: &str) -> Result<Option<Vec<u8>>, PluginError> {
        Ok(self.inner.binding(binding)?.state.get(key, now_ms()))
    }
}

/// Reads the newest snapshot of each binding's state (blocking: reads the commitlog).
/// A binding without a snapshot, or whose newest one belongs to an earlier binding of
/// the same name (another `created_ms`), is missing from the answer and starts empty;
/// so does one whose snapshot is unreadable, with a warning.
pub(crate) fn restore(
    store: &Store,
    configs: &[BindingConfig],
) -> Result<HashMap<String, StateTable>, PluginError> {
    let now = now_ms();
    let mut tables = HashMap::new();
    for config in configs {
        let slot = SnapshotSlot::Key {
            topic: PLUGIN_STATE_TOPIC,
            key: &config.name,
        };
        let newest = store.read_snapshot(slot, "binding state snapshot", |body| {
            snapshot_record::decode(body, now)
        });
        let (record, position) = match newest {
            Ok(Some(newest)) => (newest.value, newest.position),
            Ok(None) => continue,
            Err(SnapshotError::Unreadable {
                position, reason, ..
            }) => {
                tracing::warn!(
                    binding = config.name,
                    position,
                    error = reason,
                    "the binding's state snapshot is unreadable; its state starts empty"
                );
                continue;
            }
            Err(SnapshotError::Store(err)) => return Err(PluginError::Core(err.into())),
        };
        if record.binding != config.name || record.created_ms != config.created_ms {
            continue;
        }
        let table = StateTable::restored(config.state_bytes, record.entries, position, now);
        tracing::debug!(
            binding = config.name,
            entries = table.len(),
            bytes = table.bytes(),
            "binding state restored"
        );
        tables.insert(config.name.clone(), table);
    }
    Ok(tables)
}

impl Inner {
    /// Writes a snapshot of every binding that is `due`. A binding whose write fails is
    /// logged and skipped (it stays due); the first failure is answered once the others
    /// are written. Rewrites before retention are fsynced: retention deletes the older
    /// copy right after.
    pub(crate) async fn write_state_snapshots(&self, due: Due) -> Result<(), PluginError> {
        let _writing = self.state_writes.lock().await;
        let bindings: Vec<Arc<LiveBinding>> = self.bindings.read().values().cloned().collect();
        let mut first_error = None;
        let mut written = 0;
        for live in bindings {
            let is_due = match due {
                Due::Changed => live.state.dirty(),
                Due::Below(boundary) => live
                    .state
                    .snapshot_position()
                    .is_some_and(|position| position < boundary),
            };
            if !is_due {
                continue;
            }
            let store = Arc::clone(self.broker.store());
            let writing = Arc::clone(&live);
            // Encoding copies up to the quota (32 MiB): off the async workers.
            let outcome = tokio::task::spawn_blocking(move || write_snapshot(&store, &writing))
                .await
                .unwrap_or_else(|_| {
                    Err(PluginError::Engine(
                        "writing a state snapshot panicked".into(),
                    ))
                });
            match outcome {
                Ok(()) => written += 1,
                Err(err) => {
                    tracing::warn!(
                        binding = live.name(),
                        error = %err,
                        "writing the binding's state snapshot failed"
                    );
                    first_error.get_or_insert(err);
                }
            }
        }
        if written > 0 && matches!(due, Due::Below(_)) {
            let store = Arc::clone(self.broker.store());
            tokio::task::spawn_blocking(move || store.flush())
                .await
                .map_err(|_| {
                    PluginError::Core(CoreError::Interrupted {
                        step: "flushing the bindings' state snapshots",
                    })
                })?
                .map_err(|e| PluginError::Core(e.into()))?;
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Stops the periodic snapshots and waits for a pass in progress to end.
    pub(crate) async fn stop_state_snapshots(&self) {
        self.state_stop.send_replace(true);
        let task = self.state_task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Encodes and appends one binding's snapshot, and records it in the table.
fn write_snapshot(store: &Store, live: &LiveBinding) -> Result<(), PluginError> {
    let now = now_ms();
    let encoded = live
        .state
        .encode(live.name(), live.config.created_ms, now)
        .map_err(|e| PluginError::Corrupt(format!("encoding a state snapshot: {e}")))?;
    let message = Message {
        id: String::new(),
        keys: vec![live.name().to_string()],
        tag: None,
        properties: Vec::new(),
        body: Bytes::from(encoded.body),
        born_ms: now,
        flags: 0,
    };
    let outcome = store
        .append(PLUGIN_STATE_TOPIC, &[(0, message)])
        .map_err(|e| PluginError::Core(e.into()))?;
    if let Some(appended) = outcome.appended.first() {
        live.state.persisted(encoded.changes, appended.position);
    }
    Ok(())
}

/// Writes the snapshots of changed states every [`STATE_SNAPSHOT_INTERVAL`] until told
/// to stop or the host is dropped. A pass in progress when `stop` is set ends first.
pub(crate) async fn run_snapshots(inner: Weak<Inner>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(STATE_SNAPSHOT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        // Failures are logged per binding; those stay due for the next pass.
        let _ = inner.write_state_snapshots(Due::Changed).await;
    }
}

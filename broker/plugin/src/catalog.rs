//! The durable record of the plugin host: every module version and every binding, as one
//! JSON snapshot record per change in the system topic [`PLUGINS_TOPIC`].
//!
//! # Durability
//!
//! A change (upload, delete, bind, pause, quarantine, ...) is appended as a full snapshot
//! and the store is fsynced before the change is applied and answered, whatever the
//! broker's flush policy. On open the newest record wins. Module bytes are not in the
//! record: it names them by SHA-256 (see [`crate::artifacts`]). The tables are small
//! (thousands of entries at most), so a full snapshot per change keeps recovery trivial.
//!
//! Retention deletes old commitlog segments; [`crate::PluginHost::prepare_retention`]
//! writes the snapshot again when the newest one sits below the retention boundary.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weir_core::CoreError;
use weir_store::{Message, SnapshotError, SnapshotSlot, Store};

use crate::PluginError;
use crate::binding::BindingConfig;
use crate::registry::ModuleInfo;

/// The system topic holding plugin-host snapshots.
pub const PLUGINS_TOPIC: &str = "%SYS%plugins";

const SNAPSHOT_VERSION: u32 = 1;

/// One snapshot record. On-disk format: JSON, `{"version":1,"modules":[...],
/// "bindings":[...]}`; fields may be added with serde defaults.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    version: u32,
    #[serde(default)]
    pub(crate) modules: Vec<ModuleInfo>,
    #[serde(default)]
    pub(crate) bindings: Vec<BindingConfig>,
}

/// Reads and writes snapshots.
#[derive(Debug)]
pub(crate) struct Catalog {
    store: Arc<Store>,
    position: AtomicU64,
}

impl Catalog {
    /// Reads the newest snapshot (an empty one on a new broker).
    pub(crate) fn load(store: Arc<Store>) -> Result<(Self, Snapshot), PluginError> {
        let newest = store
            .read_snapshot(
                SnapshotSlot::Queue {
                    topic: PLUGINS_TOPIC,
                    queue: 0,
                },
                "plugin snapshot",
                |body| serde_json::from_slice::<Snapshot>(body),
            )
            .map_err(|err| match err {
                SnapshotError::Store(err) => PluginError::Core(err.into()),
                unreadable @ SnapshotError::Unreadable { .. } => {
                    PluginError::Corrupt(unreadable.to_string())
                }
            })?;
        let (snapshot, position) = newest.map_or_else(Default::default, |n| (n.value, n.position));
        if snapshot.version > SNAPSHOT_VERSION {
            return Err(PluginError::Corrupt(format!(
                "plugin snapshot version {} is newer than this broker's {SNAPSHOT_VERSION}",
                snapshot.version
            )));
        }
        Ok((
            Self {
                store,
                position: AtomicU64::new(position),
            },
            snapshot,
        ))
    }

    /// Appends a snapshot and fsyncs. Callers serialise changes and apply theirs in
    /// memory only after this returns `Ok`.
    pub(crate) async fn persist(
        &self,
        modules: Vec<ModuleInfo>,
        bindings: Vec<BindingConfig>,
    ) -> Result<(), PluginError> {
        let body = serde_json::to_vec(&Snapshot {
            version: SNAPSHOT_VERSION,
            modules,
            bindings,
        })
        .map_err(|e| PluginError::Corrupt(format!("encoding the plugin snapshot: {e}")))?;
        let message = Message {
            id: String::new(),
            keys: Vec::new(),
            tag: None,
            properties: Vec::new(),
            body: Bytes::from(body),
            born_ms: crate::host::now_ms(),
            flags: 0,
        };
        let store = Arc::clone(&self.store);
        let outcome = tokio::task::spawn_blocking(move || {
            let outcome = store.append(PLUGINS_TOPIC, &[(0, message)])?;
            store.flush()?;
            Ok::<_, weir_store::StoreError>(outcome)
        })
        .await
        .map_err(|_| {
            PluginError::Core(CoreError::Interrupted {
                step: "appending to the plugin catalog",
            })
        })?
        .map_err(|e| PluginError::Core(e.into()))?;
        if let Some(appended) = outcome.appended.first() {
            self.position.store(appended.position, Ordering::Release);
        }
        Ok(())
    }

    /// Commitlog position of the newest snapshot.
    pub(crate) fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }
}

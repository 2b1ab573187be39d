//! What every area's tests share: the small store they run on and the broker over it.

use std::path::Path;
use std::sync::Arc;

use weir_core::{Broker, BrokerConfig, Limits, StoreConfig};

/// A store in `dir` sized for tests: 1 MiB segments and small indexes.
pub(crate) fn small_store(dir: &Path) -> StoreConfig {
    let mut store = StoreConfig::new(dir);
    store.segment_size = 1 << 20;
    store.index_slots = 1024;
    store.index_entries = 4096;
    store.queue_entries_per_file = 1024;
    store
}

/// A broker over `store` with `limits`.
pub(crate) fn open_broker(store: StoreConfig, limits: Limits) -> Arc<Broker> {
    Broker::open(BrokerConfig { store, limits }).unwrap()
}

/// A broker over a small store in `dir` with `limits`.
pub(crate) fn open_with(dir: &Path, limits: Limits) -> Arc<Broker> {
    open_broker(small_store(dir), limits)
}

/// A broker over a small store in `dir` with the default limits.
pub(crate) fn open(dir: &Path) -> Arc<Broker> {
    open_with(dir, Limits::default())
}

//! Limits on everything a plugin or an administrator controls, with the reason for each
//! default. The ones an operator may want to change are fields of
//! [`PluginHostConfig`](crate::PluginHostConfig); the others are fixed.

use std::time::Duration;

/// Largest module accepted by default: 32 MiB fits interpreters compiled to components
/// (Python components are ~18 MiB) while keeping one upload's compile bounded.
pub const DEFAULT_MAX_MODULE_BYTES: usize = 32 * 1024 * 1024;

/// Module uploads compiled at once by default; further uploads wait their turn. A
/// compile's memory grows with the component (wasmtime holds the whole module's
/// intermediate code): one at a time bounds the broker's memory during uploads by that
/// of the largest component's compile (see docs/plugins.md), and each compile already
/// uses every core through parallel compilation.
pub const DEFAULT_CONCURRENT_COMPILES: usize = 1;
/// Most compiles a configuration may allow at once.
pub const MAX_CONCURRENT_COMPILES: usize = 64;

/// How often the engine's epoch advances. Call deadlines are counted in these ticks, so
/// a deadline is enforced to within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Default wall-clock deadline of one call into a plugin.
pub const DEFAULT_DEADLINE_MS: u64 = 5_000;
/// Longest deadline a binding may ask for: a consumer call must end well within the
/// group's invisible time, or its messages would be redelivered while it still runs.
pub const MAX_DEADLINE_MS: u64 = 60_000;
/// Deadline of instantiating a module (its start functions run then), at least.
pub const MIN_INSTANTIATE_DEADLINE_MS: u64 = 5_000;

/// Default linear-memory cap of one instance.
pub const DEFAULT_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// Largest memory cap a binding may ask for.
pub const MAX_MEMORY_BYTES: usize = 1024 * 1024 * 1024;
/// Most table elements an instance may have (function tables of large guests stay far
/// below this; it only stops a guest from growing tables without bound).
pub const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// Default number of plugin call threads: two per CPU (calls mostly compute; a few may
/// wait on outbound HTTP), at least 4.
pub fn default_call_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get() * 2)
        .max(4)
}

/// Consecutive failed calls (trap, timeout, wrong answer) after which a binding is
/// quarantined: paused with its last error until resumed.
pub const DEFAULT_QUARANTINE_AFTER: u32 = 5;

/// Default messages per consumer call: batches amortise the boundary crossing.
pub const DEFAULT_BATCH_SIZE: usize = 32;
/// Most messages per consumer call (the broker's receive limit is higher, but a batch
/// is copied into the guest's memory at once).
pub const MAX_BATCH_SIZE: usize = 1_000;
/// Most concurrent calls (each with its own instance) per consumer binding.
pub const MAX_CONCURRENCY: usize = 64;
/// How long one receive of a consumer binding waits for messages; also how quickly a
/// paused or deleted binding notices.
pub const RECEIVE_WAIT: Duration = Duration::from_millis(1_000);
/// Pause before receiving again after the broker refused a receive or a settle.
pub const BROKER_ERROR_BACKOFF: Duration = Duration::from_millis(1_000);

/// Largest configuration string handed to a plugin with every call.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// Most bindings per broker.
pub const MAX_BINDINGS: usize = 1_000;
/// Most module versions kept per broker (all names together).
pub const MAX_MODULE_VERSIONS: usize = 10_000;
/// Longest module or binding name.
pub const MAX_NAME_LEN: usize = 127;

/// Default size of a binding's key-value state (keys plus values, plus
/// [`STATE_ENTRY_OVERHEAD_BYTES`] per entry).
pub const DEFAULT_STATE_BYTES: usize = 16 * 1024 * 1024;
/// Largest state quota a binding may ask for. A binding's state is written to the
/// commitlog as one snapshot record, whose body may hold at most
/// [`weir_store::MAX_BODY_LEN`] (64 MiB); half of that leaves room to spare.
pub const MAX_STATE_BYTES: usize = 32 * 1024 * 1024;
/// What each state entry counts in the quota besides its key and value: the lengths and
/// expiry its snapshot record carries, so that a state within its quota always fits one
/// record however small its entries.
pub const STATE_ENTRY_OVERHEAD_BYTES: usize = 16;
/// How often the host writes a snapshot of each binding's state that changed since its
/// last one. A crash (`kill -9`, power loss) loses at most the changes of this interval;
/// a clean shutdown loses none.
pub const STATE_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(5);
/// Longest state key.
pub const MAX_STATE_KEY_BYTES: usize = 1024;

/// Longest log message kept from a plugin (after escaping); longer ones are cut.
pub const MAX_LOG_BYTES: usize = 4 * 1024;
/// Default log budget of one binding, lines per second (all its instances together; a
/// burst of one second's worth is allowed). A hundred lines a second is more than anyone
/// reads, leaves room for a line per batch of a busy consumer or a burst of diagnostics
/// after a failure, and keeps a binding logging in a loop from filling the disk: past
/// it, lines are dropped, counted and summarised.
pub const DEFAULT_LOG_LINES_PER_SEC: u32 = 100;
/// Default log budget of one binding, bytes of messages per second: 64 KiB, sixteen
/// lines of the longest kind ([`MAX_LOG_BYTES`]) or hundreds of ordinary ones.
pub const DEFAULT_LOG_BYTES_PER_SEC: u64 = 64 * 1024;
/// Most log lines per second an operator may allow a binding.
pub const MAX_LOG_LINES_PER_SEC: u32 = 1_000_000;
/// Fewest log bytes per second an operator may allow a binding: one longest line, so
/// that every line the plugin writes can pass.
pub const MIN_LOG_BYTES_PER_SEC: u64 = MAX_LOG_BYTES as u64;
/// Most log bytes per second an operator may allow a binding: 1 GiB.
pub const MAX_LOG_BYTES_PER_SEC: u64 = 1 << 30;
/// Most bytes of a plugin's standard error kept per call (the end of it): the panic
/// message a Rust guest writes before it traps, read into the trap's text.
pub const MAX_STDERR_BYTES: usize = 4 * 1024;
/// Longest text of a plugin's failure (a trap's message, its standard error) kept in a
/// dead-letter reason, after escaping; the reason is cut again by the core's
/// [`MAX_DEAD_LETTER_REASON_BYTES`](weir_core::limits::MAX_DEAD_LETTER_REASON_BYTES).
pub const MAX_FAILURE_REASON_BYTES: usize = 512;

/// Most URL prefixes on a binding's HTTP allowlist.
pub const MAX_ALLOWLIST: usize = 64;
/// Largest request body a plugin may send.
pub const MAX_HTTP_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest response body handed back to a plugin; larger answers fail the request.
pub const MAX_HTTP_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Longest one outbound request may take (the call's own deadline also applies).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Most request headers a plugin may set.
pub const MAX_HTTP_HEADERS: usize = 64;

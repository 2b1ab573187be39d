//! The errors of the plugin host. [`ModuleRejection`] says why an upload was refused,
//! [`PluginError`] why an administrative operation did not happen, and [`CallError`] why
//! one call into a plugin failed (which fails that call's batch, never the broker).

use weir_core::CoreError;
use weir_store::StoreError;

use crate::World;

/// Why an uploaded module was refused. Every variant is the uploader's to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleRejection {
    /// The module is larger than the limit in force.
    #[error("module of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The size uploaded.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The bytes are not a WebAssembly component (not WebAssembly at all, or a core
    /// module that was not turned into a component).
    #[error("not a WebAssembly component: {reason}")]
    NotAComponent {
        /// What the bytes are instead.
        reason: String,
    },
    /// The component does not compile (malformed, or uses unsupported features).
    #[error("the component does not compile: {reason}")]
    CompileFailed {
        /// The compiler's message.
        reason: String,
    },
    /// The component does not export the interface of the world it claims.
    #[error("a {world} must export the interface '{interface}', which this component lacks")]
    MissingInterface {
        /// The world claimed.
        world: World,
        /// The interface required.
        interface: &'static str,
    },
    /// The component exports the interface but not one of its functions.
    #[error(
        "a {world} must export function '{function}' of '{interface}', which this component lacks"
    )]
    MissingFunction {
        /// The world claimed.
        world: World,
        /// The interface required.
        interface: &'static str,
        /// The function missing.
        function: &'static str,
    },
    /// The exports are there but their types differ from the contract (e.g. a module
    /// built against another version of the WIT package).
    #[error("the exports do not match the {world} contract: {reason}")]
    WrongSignature {
        /// The world claimed.
        world: World,
        /// What does not match.
        reason: String,
    },
    /// The component imports something the host does not provide.
    #[error("the component imports something the broker does not provide: {reason}")]
    UnsupportedImport {
        /// The linker's message, naming the import.
        reason: String,
    },
    /// The upload names no world and the component exports none of the worlds'
    /// interfaces.
    #[error(
        "the component exports none of the interfaces of weir:plugin \
         (weir:plugin/consumer, dedup-filter or tx-checker @0.1); it exports {exports:?}. \
         Build it for one of the worlds of wit/plugin.wit"
    )]
    NoWorld {
        /// What it exports.
        exports: Vec<String>,
    },
    /// The upload names no world and the component exports the interfaces of several.
    #[error(
        "the component exports the interfaces of several worlds ({worlds:?}): name the one to use with ?world= (--world)"
    )]
    AmbiguousWorld {
        /// The worlds whose interfaces it exports.
        worlds: Vec<World>,
    },
    /// The component uses the component-model async ABI, which the broker does not run.
    #[error(
        "the component uses the component-model async ABI, which the broker does not run: \
         build it with synchronous exports and imports (for jco's QuickJS backend: \
         --backend-qjs-disable-async)"
    )]
    AsyncAbi,
}

/// Why an operation of the plugin host did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// An uploaded module was refused.
    #[error(transparent)]
    Rejected(#[from] ModuleRejection),
    /// A module or binding name that is empty, too long or has characters outside
    /// `A-Z a-z 0-9 _ -`.
    #[error("invalid name '{name}': {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No module (or no such version of it) is registered.
    #[error("module '{name}'{} does not exist", version.map(|v| format!(" version {v}")).unwrap_or_default())]
    ModuleNotFound {
        /// The module name.
        name: String,
        /// The version asked for, if one was.
        version: Option<u32>,
    },
    /// A module version is used by bindings and cannot be deleted.
    #[error("module '{name}' is used by bindings {bindings:?}; delete or rebind them first")]
    ModuleInUse {
        /// The module name.
        name: String,
        /// The bindings using it.
        bindings: Vec<String>,
    },
    /// A binding names a module of another world than its kind needs.
    #[error("module '{module}' is a {actual}, but this binding needs a {expected}")]
    WorldMismatch {
        /// The module name.
        module: String,
        /// The world the binding needs.
        expected: World,
        /// The module's world.
        actual: World,
    },
    /// An upload is of another world than the versions already under its name.
    #[error(
        "module '{module}' holds versions of a {existing}, and this component is a \
         {uploaded}: upload it under another name, or delete the old versions first"
    )]
    WorldChanged {
        /// The module name.
        module: String,
        /// The world of the versions already uploaded.
        existing: World,
        /// The world of this upload.
        uploaded: World,
    },
    /// No binding has this name.
    #[error("binding '{0}' does not exist")]
    BindingNotFound(String),
    /// A binding with this name already exists.
    #[error("binding '{0}' already exists")]
    BindingExists(String),
    /// A binding setting is out of its limits or inconsistent; the text names it.
    #[error("{0}")]
    InvalidBinding(String),
    /// A limit on the number of modules or bindings was reached.
    #[error("{0}")]
    TooMany(String),
    /// The broker core refused (a missing topic, a group on another topic, ...).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A module file could not be created for lack of file descriptors, memory or disk
    /// space ([`StoreError::is_transient`]). Nothing of the upload is kept; it can be
    /// uploaded again once the shortage is over.
    #[error("{0}")]
    Shortage(StoreError),
    /// A file of the module store could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Durable plugin state is unreadable.
    #[error("{0}")]
    Corrupt(String),
    /// The engine could not be set up or failed outside a plugin call.
    #[error("plugin engine: {0}")]
    Engine(String),
}

impl PluginError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        PluginError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Why one call into a plugin failed. The call's batch is failed as a whole (its
/// messages are retried); the instance that failed is discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin trapped (a panic, an `unreachable`, an out-of-bounds access, ...). The
    /// text is what the guest wrote to its standard error during the call (a panic's
    /// message) followed by the trap, escaped (see [`crate::escape`]).
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// The call ran past its deadline and was interrupted.
    #[error("the call ran past its deadline of {deadline_ms} ms")]
    Timeout {
        /// The deadline in force.
        deadline_ms: u64,
    },
    /// The plugin tried to grow its memory past the binding's cap.
    #[error("the plugin tried to grow its memory past the cap of {limit} bytes")]
    MemoryLimit {
        /// The cap in force.
        limit: usize,
    },
    /// A consumer answered a number of outcomes different from the batch size.
    #[error("the plugin answered {got} outcomes for a batch of {expected} messages")]
    WrongLength {
        /// The batch size.
        expected: usize,
        /// Outcomes answered.
        got: usize,
    },
    /// The module could not be instantiated (e.g. its start function trapped); the text
    /// is escaped as a trap's.
    #[error("the plugin could not be instantiated: {0}")]
    Instantiate(String),
    /// The module the binding names is not available.
    #[error("{0}")]
    Unavailable(String),
}

impl CallError {
    /// The dead-letter reason of a message whose last attempt failed so, e.g.
    /// `plugin trapped: <its message>`, `plugin timed out after 200 ms`, `plugin memory
    /// cap of 8 MiB exceeded`, `plugin answered 2 outcomes for 1 messages`. Texts from
    /// the plugin are escaped (a trap's already is) and cut to
    /// [`MAX_FAILURE_REASON_BYTES`](crate::limits::MAX_FAILURE_REASON_BYTES).
    pub fn dead_letter_reason(&self) -> String {
        use crate::escape::{cut_escaped, escape};
        use crate::limits::MAX_FAILURE_REASON_BYTES as MAX;
        match self {
            CallError::Trap(text) => format!("plugin trapped: {}", cut_escaped(text, MAX)),
            CallError::Timeout { deadline_ms } => {
                format!("plugin timed out after {deadline_ms} ms")
            }
            CallError::MemoryLimit { limit } => {
                const MIB: usize = 1 << 20;
                if limit % MIB == 0 {
                    format!("plugin memory cap of {} MiB exceeded", limit / MIB)
                } else {
                    format!("plugin memory cap of {limit} bytes exceeded")
                }
            }
            CallError::WrongLength { expected, got } => {
                format!("plugin answered {got} outcomes for {expected} messages")
            }
            CallError::Instantiate(text) => {
                format!(
                    "plugin could not be instantiated: {}",
                    cut_escaped(text, MAX)
                )
            }
            CallError::Unavailable(text) => {
                format!("plugin unavailable: {}", escape(text, MAX))
            }
        }
    }

    /// A short stable name of the kind of failure, for metrics and status.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Trap(_) => "trap",
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryLimit { .. } => "memory_limit",
            CallError::WrongLength { .. } => "wrong_length",
            CallError::Instantiate(_) => "instantiate",
            CallError::Unavailable(_) => "unavailable",
        }
    }
}

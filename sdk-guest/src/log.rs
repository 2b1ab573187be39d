//! Logging into the broker's log.
//!
//! Each line is written by the broker, structured and tagged with the binding that ran the
//! plugin, at the given [`Level`]. Logging is a host call: keep it off the per-message
//! path of hot consumers, or behind a level the binding is configured to show.
//!
//! ```
//! let order = 1001;
//! weir_sdk::log::info(format!("order {order} forwarded"));
//! weir_sdk::log::warn("config has no `to`; using the default topic");
//! ```

use crate::imports;

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the plugin handled.
    Warn,
    /// Something failed.
    Error,
}

/// Writes `message` to the broker's log at `level`.
pub fn write(level: Level, message: impl AsRef<str>) {
    imports::log(level, message.as_ref());
}

/// Writes `message` at [`Level::Trace`].
pub fn trace(message: impl AsRef<str>) {
    write(Level::Trace, message);
}

/// Writes `message` at [`Level::Debug`].
pub fn debug(message: impl AsRef<str>) {
    write(Level::Debug, message);
}

/// Writes `message` at [`Level::Info`].
pub fn info(message: impl AsRef<str>) {
    write(Level::Info, message);
}

/// Writes `message` at [`Level::Warn`].
pub fn warn(message: impl AsRef<str>) {
    write(Level::Warn, message);
}

/// Writes `message` at [`Level::Error`].
pub fn error(message: impl AsRef<str>) {
    write(Level::Error, message);
}

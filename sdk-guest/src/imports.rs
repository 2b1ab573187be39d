//! The one place that calls the host's imports (`weir:plugin/host`).
//!
//! On `wasm32` these are the broker's functions. On any other target (a plugin's unit
//! tests, `cargo test` on the build machine) there is no broker: the same calls go to the
//! in-memory test double of [`crate::testing`], so plugin logic can be tested natively.

#[cfg(target_arch = "wasm32")]
mod wasm {
    use crate::bindings::host;
    use crate::log::Level;
    use crate::message::Outgoing;

    pub(crate) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => host::Level::Trace,
            Level::Debug => host::Level::Debug,
            Level::Info => host::Level::Info,
            Level::Warn => host::Level::Warn,
            Level::Error => host::Level::Error,
        };
        host::log(level, message);
    }

    pub(crate) fn now_ms() -> i64 {
        host::now_ms()
    }

    pub(crate) fn state_get(key: &str) -> Option<Vec<u8>> {
        host::state_get(key)
    }

    pub(crate) fn state_set(key: &str, value: &[u8], ttl_ms: u64) -> Result<(), String> {
        host::state_set(key, value, ttl_ms)
    }

    pub(crate) fn state_delete(key: &str) {
        host::state_delete(key)
    }

    pub(crate) fn publish(message: Outgoing) -> Result<String, String> {
        host::publish(&message.into())
    }

    pub(crate) fn http_request(
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        host::http_request(method, url, headers, body)
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::host::*;

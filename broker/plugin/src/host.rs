//! The `weir:plugin/host` interface: what the broker offers every plugin instance, and
//! the per-store data ([`HostState`]) it works on.
//!
//! Each store holds a capability-less WASI context (no preopened directories, no
//! environment, no arguments, no sockets, closed stdin, discarded stdout and stderr), a
//! memory limiter, and the [`Services`] of its binding: its name for logs, its state
//! table, its grants (publishing, an HTTP allowlist), and handles on the broker and the
//! runtime. Host functions run on the calling (blocking) thread; the ones that wait —
//! `publish` and `http-request` — block it on the runtime, bounded by what is left of the
//! call's deadline. Expected failures are answered as WIT `result` errors, never traps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weir_core::{Broker, MessageDraft};

use crate::bindings::{host, types};
use crate::http::{AllowedPrefix, HttpClient};
use crate::limits::{MAX_LOG_BYTES, MAX_TABLE_ELEMENTS};
use crate::metrics::{Count, Counters};
use crate::state::StateTable;

/// What the host offers one binding's instances.
#[derive(Debug)]
pub(crate) struct Services {
    /// The binding name, on every log line.
    pub(crate) binding: String,
    /// The module name, on every log line.
    pub(crate) module: String,
    /// The key-value state shared by the binding's instances.
    pub(crate) state: Arc<StateTable>,
    /// Whether `publish` is granted.
    pub(crate) publish: bool,
    /// URL prefixes `http-request` may reach.
    pub(crate) allowlist: Vec<AllowedPrefix>,
    pub(crate) broker: Arc<Broker>,
    pub(crate) http: HttpClient,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) counters: Arc<Counters>,
}

/// The data of one store: one plugin instance.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) services: Arc<Services>,
    /// When the current call must end.
    pub(crate) deadline: Option<Instant>,
}

impl HostState {
    pub(crate) fn new(services: Arc<Services>, memory_bytes: usize) -> Self {
        Self {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_bytes),
            services,
            deadline: None,
        }
    }

    fn time_left(&self) -> Duration {
        self.deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        })
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps an instance's linear memory, remembering whether the cap was hit so that the
/// failure is reported as such rather than as the trap the guest makes of it.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub(crate) limit: usize,
    pub(crate) hit: bool,
}

impl MemoryLimiter {
    fn new(limit: usize) -> Self {
        Self { limit, hit: false }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, mut message: String) {
        if message.len() > MAX_LOG_BYTES {
            let mut cut = MAX_LOG_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("...");
        }
        let s = &self.services;
        let (binding, module) = (s.binding.as_str(), s.module.as_str());
        match level {
            host::Level::Trace => tracing::trace!(binding, module, "{message}"),
            host::Level::Debug => tracing::debug!(binding, module, "{message}"),
            host::Level::Info => tracing::info!(binding, module, "{message}"),
            host::Level::Warn => tracing::warn!(binding, module, "{message}"),
            host::Level::Error => tracing::error!(binding, module, "{message}"),
        }
    }

    fn now_ms(&mut self) -> i64 {
        now_ms()
    }

    fn state_get(&mut self, key: String) -> Option<Vec<u8>> {
        self.services.state.get(&key, now_ms())
    }

    fn state_set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> Result<(), String> {
        self.services.state.set(key, value, ttl_ms, now_ms())
    }

    fn state_delete(&mut self, key: String) {
        self.services.state.delete(&key);
    }

    fn publish(&mut self, message: types::Outgoing) -> Result<String, String> {
        let services = Arc::clone(&self.services);
        if !services.publish {
            return Err(format!(
                "binding '{}' is not granted publishing",
                services.binding
            ));
        }
        let topic = message.topic.clone();
        let draft = MessageDraft {
            id: None,
            keys: message.keys,
            tag: message.tag,
            properties: message.properties,
            message_group: message.message_group,
            queue: None,
            born_ms: None,
            deliver_at: None,
            body: message.body.into(),
        };
        let time_left = self.time_left();
        let sent = services.runtime.block_on(async {
            tokio::time::timeout(time_left, services.broker.send(&topic, vec![draft])).await
        });
        match sent {
            Ok(Ok(receipt)) => {
                services.counters.add(Count::Published, 1);
                receipt
                    .messages
                    .into_iter()
                    .next()
                    .map(|m| m.id)
                    .ok_or_else(|| "the broker answered no message".to_string())
            }
            Ok(Err(err)) => Err(err.to_string()),
            Err(_elapsed) => Err("the call's deadline passed while publishing".to_string()),
        }
    }

    fn http_request(
        &mut self,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let services = Arc::clone(&self.services);
        let time_left = self.time_left();
        let answer = services.runtime.block_on(services.http.request(
            &services.allowlist,
            &method,
            &url,
            headers,
            body,
            time_left,
        ));
        match &answer {
            Ok(_) => services.counters.add(Count::HttpRequest, 1),
            Err(reason) => {
                services.counters.add(Count::HttpFailure, 1);
                tracing::debug!(
                    binding = services.binding,
                    url,
                    reason,
                    "plugin HTTP request refused or failed"
                );
            }
        }
        answer
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

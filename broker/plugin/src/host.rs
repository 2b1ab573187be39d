//! The `weir:plugin/host` interface: what the broker offers every plugin instance, and
//! the per-store data ([`HostState`]) it works on.
//!
//! Each store holds a capability-less WASI context (no preopened directories, no
//! environment, no arguments, no sockets, closed stdin, discarded stdout, stderr kept in
//! memory for trap messages: see [`crate::stderr`]), a memory limiter, and the
//! [`Services`] of its binding: its name for logs, its log budget, its state table, its
//! grants (publishing, an HTTP allowlist), and handles on the broker and the runtime. Host functions run on the calling (blocking) thread; the ones that wait —
//! `publish` and `http-request` — block it on the runtime, bounded by what is left of the
//! call's deadline. Expected failures are answered as WIT `result` errors, never traps.
//!
//! # Logs
//!
//! A plugin's log message is hostile text. `log` writes it escaped (see
//! [`crate::escape`]: no line break, terminal escape or bidi control survives) and cut
//! to [`MAX_LOG_BYTES`], as the structured field `plugin_message` of an event whose own
//! message is fixed, so no formatter takes it for a line of its own. Levels the broker's
//! log filter leaves out cost nothing; the others are charged to the binding's
//! [`LogBudget`], and lines past it are dropped, counted, and summarised by one line
//! `binding X: suppressed N log lines (M bytes)` per [`LOG_SUMMARY_INTERVAL`].
//!
//! [`LOG_SUMMARY_INTERVAL`]: crate::log_budget::LOG_SUMMARY_INTERVAL

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use weir_core::{Broker, MessageDraft};

use crate::escape::escape;
use crate::http::{AllowedPrefix, HttpClient, HttpFailure};
use crate::limits::{MAX_LOG_BYTES, MAX_TABLE_ELEMENTS};
use crate::log_budget::{LogBudget, Suppressed};
use crate::metrics::{Count, Counters};
use crate::state_table::StateTable;
use crate::stderr::GuestStderr;
use crate::wasi_http::OutgoingHttp;
use crate::wit::{host, types};

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
    /// The log budget shared by the binding's instances.
    pub(crate) log_budget: LogBudget,
}

impl Services {
    /// Writes the summary of suppressed log lines if one is due (at the end of each call
    /// and while a consumer waits for messages).
    pub(crate) fn summarize_logs(&self) {
        if let Some(suppressed) = self.log_budget.due_summary(Instant::now()) {
            self.log_summary(suppressed);
        }
    }

    /// Counts a plugin's HTTP request (through either interface) as done or as failed,
    /// and says at debug level why it failed.
    pub(crate) fn count_http(&self, url: &str, failure: Option<&HttpFailure>) {
        match failure {
            None => self.counters.add(Count::HttpRequest, 1),
            Some(failure) => {
                self.counters.add(Count::HttpFailure, 1);
                tracing::debug!(
                    binding = self.binding,
                    url = %escape(url, MAX_LOG_BYTES),
                    reason = %escape(&failure.to_string(), MAX_LOG_BYTES),
                    "plugin HTTP request refused or failed"
                );
            }
        }
    }

    fn log_summary(&self, suppressed: Suppressed) {
        let (binding, module) = (self.binding.as_str(), self.module.as_str());
        let Suppressed { lines, bytes } = suppressed;
        tracing::warn!(
            binding,
            module,
            lines,
            bytes,
            "binding {binding}: suppressed {lines} log lines ({bytes} bytes)"
        );
    }
}

/// The data of one store: one plugin instance.
pub(crate) struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outgoing_http: OutgoingHttp,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) services: Arc<Services>,
    /// When the current call must end.
    pub(crate) deadline: Option<Instant>,
    /// What the guest wrote to its standard error during the current call.
    pub(crate) stderr: GuestStderr,
}

impl HostState {
    pub(crate) fn new(services: Arc<Services>, memory_bytes: usize) -> Self {
        let stderr = GuestStderr::default();
        Self {
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            http: WasiHttpCtx::new(),
            outgoing_http: OutgoingHttp {
                services: Arc::clone(&services),
                deadline: None,
            },
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_bytes),
            services,
            deadline: None,
            stderr,
        }
    }

    /// What is left of the current call's deadline.
    pub(crate) fn time_left(&self) -> Duration {
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

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.outgoing_http.deadline = self.deadline;
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outgoing_http,
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
    fn log(&mut self, level: host::Level, message: String) {
        use tracing::Level;
        let enabled = match level {
            host::Level::Trace => tracing::enabled!(Level::TRACE),
            host::Level::Debug => tracing::enabled!(Level::DEBUG),
            host::Level::Info => tracing::enabled!(Level::INFO),
            host::Level::Warn => tracing::enabled!(Level::WARN),
            host::Level::Error => tracing::enabled!(Level::ERROR),
        };
        if !enabled {
            return;
        }
        let s = &self.services;
        let verdict = s.log_budget.admit(message.len(), Instant::now());
        if let Some(suppressed) = verdict.summary {
            s.log_summary(suppressed);
        }
        if !verdict.write {
            s.counters.add(Count::LogLineSuppressed, 1);
            s.counters
                .add(Count::LogBytesSuppressed, message.len() as u64);
            return;
        }
        let text = escape(&message, MAX_LOG_BYTES);
        let (binding, module) = (s.binding.as_str(), s.module.as_str());
        match level {
            host::Level::Trace => {
                tracing::trace!(binding, module, plugin_message = %text, "plugin log")
            }
            host::Level::Debug => {
                tracing::debug!(binding, module, plugin_message = %text, "plugin log")
            }
            host::Level::Info => {
                tracing::info!(binding, module, plugin_message = %text, "plugin log")
            }
            host::Level::Warn => {
                tracing::warn!(binding, module, plugin_message = %text, "plugin log")
            }
            host::Level::Error => {
                tracing::error!(binding, module, plugin_message = %text, "plugin log")
            }
        }
        s.counters.add(Count::LogLine, 1);
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
        services.count_http(&url, answer.as_ref().err());
        answer.map_err(|failure| failure.to_string())
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

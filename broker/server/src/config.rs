//! The server's configuration: defaults, a TOML file, environment variables and flags,
//! in increasing order of precedence.
//!
//! Every setting has a flag and a `WEIR_*` environment variable (clap reads both); the
//! file fills in what neither gives. See `docs/configuration.md` for the full list.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use weir_api::{ApiLimits, Auth, ConnectionLimits, TokenConfig};
use weir_core::{BrokerConfig, FlushPolicy, Limits, StoreConfig};
use weir_plugin::PluginHostConfig;

/// Default data directory, relative to where the broker starts.
pub(crate) const DEFAULT_DATA_DIR: &str = "./weir-data";
/// Default listen address: loopback only.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:7700";
/// Default interval of the async flusher.
pub(crate) const DEFAULT_FLUSH_INTERVAL_MS: u64 = 200;
/// Default time a `sync` send waits for its fsync before answering FLUSH_DISK_TIMEOUT.
pub(crate) const DEFAULT_SYNC_FLUSH_TIMEOUT_MS: u64 = 5_000;
/// Default retention of commitlog segments (RocketMQ's fileReservedTime).
pub(crate) const DEFAULT_RETENTION_HOURS: u64 = 72;
/// How often the broker looks for expired segments.
pub(crate) const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// How often the delivery state of consumer groups is snapshotted.
pub(crate) const GROUP_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(30);

/// The configuration file, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) data: Option<PathBuf>,
    pub(crate) listen: Option<String>,
    #[serde(default)]
    pub(crate) store: StoreSection,
    #[serde(default)]
    pub(crate) limits: LimitsSection,
    #[serde(default)]
    pub(crate) plugins: PluginsSection,
    #[serde(default)]
    pub(crate) auth: AuthSection,
    #[serde(default)]
    pub(crate) http: HttpSection,
}

/// `[store]` in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreSection {
    pub(crate) flush: Option<String>,
    pub(crate) flush_interval_ms: Option<u64>,
    pub(crate) sync_flush_timeout_ms: Option<u64>,
    pub(crate) segment_bytes: Option<u64>,
    pub(crate) retention_hours: Option<u64>,
    pub(crate) disk_max_used_ratio: Option<f64>,
}

/// `[limits]` in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    pub(crate) max_body_bytes: Option<usize>,
    pub(crate) max_batch_messages: Option<usize>,
    pub(crate) max_batch_bytes: Option<usize>,
    pub(crate) max_header_bytes: Option<usize>,
    pub(crate) max_delay_ms: Option<u64>,
    pub(crate) dedup_window_ms: Option<u64>,
    pub(crate) tx_check_after_ms: Option<u64>,
    pub(crate) tx_check_interval_ms: Option<u64>,
    pub(crate) tx_max_checks: Option<u32>,
}

/// `[http]` in the configuration file: connection hygiene of the listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpSection {
    pub(crate) header_read_timeout_ms: Option<u64>,
    pub(crate) idle_timeout_ms: Option<u64>,
    pub(crate) body_read_timeout_ms: Option<u64>,
    pub(crate) min_body_bytes_per_sec: Option<u64>,
    pub(crate) write_timeout_ms: Option<u64>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) fd_reserve: Option<usize>,
    pub(crate) max_requests_per_connection: Option<u64>,
    pub(crate) max_concurrent_streams: Option<u32>,
}

/// `[plugins]` in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginsSection {
    pub(crate) max_module_bytes: Option<usize>,
    pub(crate) concurrent_compiles: Option<usize>,
    pub(crate) quarantine_after: Option<u32>,
    pub(crate) call_threads: Option<usize>,
    pub(crate) call_priority: Option<String>,
    pub(crate) log_lines_per_sec: Option<u32>,
    pub(crate) log_bytes_per_sec: Option<u64>,
}

/// `[auth]` in the configuration file: `[[auth.tokens]]` entries.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthSection {
    #[serde(default)]
    pub(crate) tokens: Vec<TokenSection>,
}

/// One `[[auth.tokens]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenSection {
    pub(crate) name: String,
    pub(crate) token: String,
    #[serde(default)]
    pub(crate) admin: bool,
    #[serde(default)]
    pub(crate) produce: Vec<String>,
    #[serde(default)]
    pub(crate) consume: Vec<String>,
}

impl std::fmt::Debug for TokenSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("TokenSection")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .field("produce", &self.produce)
            .field("consume", &self.consume)
            .finish_non_exhaustive()
    }
}

impl FileConfig {
    /// Reads and parses a configuration file.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("configuration file {} is not valid", path.display()))
    }
}

/// Everything the server needs, resolved and validated.
#[derive(Debug)]
pub(crate) struct ServerConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) broker: BrokerConfig,
    pub(crate) api: ApiLimits,
    pub(crate) plugins: PluginHostConfig,
    /// `None` without `[[auth.tokens]]`: every request is let through, and the server
    /// only listens on loopback.
    pub(crate) auth: Option<Auth>,
    /// Timeouts and caps of the HTTP connections.
    pub(crate) connections: ConnectionLimits,
}

/// Parses `sync` / `async` into a flush policy.
pub(crate) fn flush_policy(name: &str, interval_ms: u64) -> anyhow::Result<FlushPolicy> {
    match name {
        "sync" => Ok(FlushPolicy::Sync),
        "async" => {
            if interval_ms == 0 {
                bail!("flush interval must be at least 1 ms");
            }
            Ok(FlushPolicy::Async {
                interval: Duration::from_millis(interval_ms),
            })
        }
        other => bail!("flush must be 'sync' or 'async', got '{other}'"),
    }
}

/// Builds the store, limits, plugin host settings and tokens from resolved values, and
/// refuses to serve beyond loopback without tokens.
#[allow(clippy::too_many_arguments)]
pub(crate) fn resolve(
    data: PathBuf,
    listen: &str,
    flush: FlushPolicy,
    sync_flush_timeout_ms: u64,
    segment_bytes: Option<u64>,
    retention_hours: u64,
    disk_max_used_ratio: Option<f64>,
    limits: &LimitsSection,
    plugins: &PluginsSection,
    auth: &AuthSection,
) -> anyhow::Result<ServerConfig> {
    let listen: SocketAddr = listen.parse().with_context(|| {
        format!("listen address '{listen}' is not HOST:PORT (e.g. 127.0.0.1:7700)")
    })?;
    let auth = resolve_auth(auth)?;
    if auth.is_none() && !listen.ip().is_loopback() {
        bail!(
            "refusing to listen on {listen} without authentication: anyone who can reach it \
             could administer the broker. Configure [[auth.tokens]] in the configuration \
             file, or listen on 127.0.0.1"
        );
    }
    let plugins = resolve_plugins(&data, plugins)?;
    let mut store = StoreConfig::new(data);
    store.flush = flush;
    store.sync_flush_timeout = Duration::from_millis(sync_flush_timeout_ms);
    if let Some(bytes) = segment_bytes {
        if bytes < 64 * 1024 {
            bail!("segment size must be at least 64 KiB, got {bytes} bytes");
        }
        store.segment_size = bytes;
    }
    store.retention = (retention_hours > 0).then(|| Duration::from_secs(retention_hours * 3600));
    if let Some(ratio) = disk_max_used_ratio {
        if !(0.0..=1.0).contains(&ratio) || ratio == 0.0 {
            bail!("disk_max_used_ratio must be in (0, 1], got {ratio}");
        }
        store.disk_max_used_ratio = ratio;
    }
    let defaults = Limits::default();
    let core_limits = Limits {
        max_body_bytes: limits.max_body_bytes.unwrap_or(defaults.max_body_bytes),
        max_batch_messages: limits
            .max_batch_messages
            .unwrap_or(defaults.max_batch_messages),
        max_batch_bytes: limits.max_batch_bytes.unwrap_or(defaults.max_batch_bytes),
        max_delay_ms: limits.max_delay_ms.unwrap_or(defaults.max_delay_ms),
        dedup_window_ms: limits.dedup_window_ms.unwrap_or(defaults.dedup_window_ms),
        tx_check_after_ms: limits
            .tx_check_after_ms
            .unwrap_or(defaults.tx_check_after_ms),
        tx_check_interval_ms: limits
            .tx_check_interval_ms
            .unwrap_or(defaults.tx_check_interval_ms),
        tx_max_checks: limits.tx_max_checks.unwrap_or(defaults.tx_max_checks),
        ..defaults
    };
    if core_limits.tx_check_interval_ms == 0 || core_limits.tx_max_checks == 0 {
        bail!("tx_check_interval_ms and tx_max_checks must be at least 1");
    }
    let mut api = ApiLimits::for_core(&core_limits);
    if let Some(bytes) = limits.max_header_bytes {
        api.max_header_bytes = bytes;
    }
    Ok(ServerConfig {
        listen,
        broker: BrokerConfig {
            store,
            limits: core_limits,
        },
        api,
        plugins,
        auth,
        connections: ConnectionLimits::default(),
    })
}

/// Longest timeout `[http]` accepts: a day.
const MAX_HTTP_TIMEOUT_MS: u64 = 86_400_000;

/// The `[http]` section over the defaults; `max_connections` and `idle_timeout_ms` may
/// come from flags instead. Every timeout is 1 ms to a day, the caps at least 1.
pub(crate) fn resolve_http(
    section: &HttpSection,
    max_connections: Option<usize>,
    idle_timeout_ms: Option<u64>,
) -> anyhow::Result<ConnectionLimits> {
    let mut limits = ConnectionLimits::default();
    let timeouts = [
        (
            "header_read_timeout_ms",
            section.header_read_timeout_ms,
            &mut limits.header_read_timeout,
        ),
        (
            "idle_timeout_ms",
            idle_timeout_ms.or(section.idle_timeout_ms),
            &mut limits.idle_timeout,
        ),
        (
            "body_read_timeout_ms",
            section.body_read_timeout_ms,
            &mut limits.body_read_timeout,
        ),
        (
            "write_timeout_ms",
            section.write_timeout_ms,
            &mut limits.write_timeout,
        ),
    ];
    for (name, value, slot) in timeouts {
        if let Some(ms) = value {
            if !(1..=MAX_HTTP_TIMEOUT_MS).contains(&ms) {
                bail!("http.{name} must be 1 to {MAX_HTTP_TIMEOUT_MS} ms, got {ms}");
            }
            *slot = Duration::from_millis(ms);
        }
    }
    if let Some(rate) = section.min_body_bytes_per_sec {
        limits.min_body_bytes_per_sec = rate;
    }
    if let Some(count) = max_connections.or(section.max_connections) {
        if count < weir_api::connection::MIN_CONNECTIONS {
            bail!(
                "http.max_connections must be at least {}, got {count}",
                weir_api::connection::MIN_CONNECTIONS
            );
        }
        limits.max_connections = count;
    }
    if let Some(reserve) = section.fd_reserve {
        limits.fd_reserve = reserve;
    }
    if let Some(count) = section.max_requests_per_connection {
        if count == 0 {
            bail!("http.max_requests_per_connection must be at least 1, got 0");
        }
        limits.max_requests_per_connection = count;
    }
    if let Some(streams) = section.max_concurrent_streams {
        if streams == 0 {
            bail!("http.max_concurrent_streams must be at least 1, got 0");
        }
        limits.max_concurrent_streams = streams;
    }
    Ok(limits)
}

/// The plugin host's settings: module files under `<data>/modules`, and the `[plugins]`
/// section's overrides.
/// Most plugin call threads a configuration may ask for.
const MAX_CALL_THREADS: usize = 1024;

fn resolve_plugins(data: &Path, section: &PluginsSection) -> anyhow::Result<PluginHostConfig> {
    let mut config = PluginHostConfig::new(data);
    if let Some(bytes) = section.max_module_bytes {
        if bytes == 0 {
            bail!("plugins.max_module_bytes must be at least 1, got 0");
        }
        config.max_module_bytes = bytes;
    }
    if let Some(compiles) = section.concurrent_compiles {
        let max = weir_plugin::limits::MAX_CONCURRENT_COMPILES;
        if !(1..=max).contains(&compiles) {
            bail!("plugins.concurrent_compiles must be 1 to {max}, got {compiles}");
        }
        config.concurrent_compiles = compiles;
    }
    if let Some(after) = section.quarantine_after {
        if after == 0 {
            bail!("plugins.quarantine_after must be at least 1 (failed calls in a row), got 0");
        }
        config.quarantine_after = after;
    }
    if let Some(threads) = section.call_threads {
        if !(1..=MAX_CALL_THREADS).contains(&threads) {
            bail!("plugins.call_threads must be 1 to {MAX_CALL_THREADS}, got {threads}");
        }
        config.call_threads = threads;
    }
    if let Some(priority) = &section.call_priority {
        config.call_priority = priority
            .parse()
            .map_err(|err| anyhow::anyhow!("plugins.call_priority: {err}"))?;
    }
    if let Some(lines) = section.log_lines_per_sec {
        let max = weir_plugin::limits::MAX_LOG_LINES_PER_SEC;
        if !(1..=max).contains(&lines) {
            bail!("plugins.log_lines_per_sec must be 1 to {max}, got {lines}");
        }
        config.log_rates.lines_per_sec = lines;
    }
    if let Some(bytes) = section.log_bytes_per_sec {
        let (min, max) = (
            weir_plugin::limits::MIN_LOG_BYTES_PER_SEC,
            weir_plugin::limits::MAX_LOG_BYTES_PER_SEC,
        );
        if !(min..=max).contains(&bytes) {
            bail!("plugins.log_bytes_per_sec must be {min} to {max}, got {bytes}");
        }
        config.log_rates.bytes_per_sec = bytes;
    }
    Ok(config)
}

/// The tokens of `[[auth.tokens]]`, validated; `None` when there are none.
fn resolve_auth(section: &AuthSection) -> anyhow::Result<Option<Auth>> {
    if section.tokens.is_empty() {
        return Ok(None);
    }
    let tokens = section
        .tokens
        .iter()
        .map(|t| TokenConfig {
            name: t.name.clone(),
            secret: t.token.clone(),
            admin: t.admin,
            produce: t.produce.clone(),
            consume: t.consume.clone(),
        })
        .collect();
    Ok(Some(Auth::new(tokens)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_format_parses_and_rejects_unknown_keys() {
        let config: FileConfig = toml::from_str(
            "data = \"/tmp/w\"\nlisten = \"127.0.0.1:1\"\n[store]\nflush = \"sync\"\n[limits]\nmax_body_bytes = 10\n",
        )
        .unwrap();
        assert_eq!(config.store.flush.as_deref(), Some("sync"));
        assert_eq!(config.limits.max_body_bytes, Some(10));
        assert!(toml::from_str::<FileConfig>("lsiten = \"x\"").is_err());
    }

    #[test]
    fn bad_values_say_what_to_fix() {
        let err = flush_policy("fast", 1).unwrap_err().to_string();
        assert!(err.contains("'sync' or 'async'"), "{err}");
        let err = resolve(
            "d".into(),
            "nowhere",
            FlushPolicy::Sync,
            1,
            None,
            1,
            None,
            &LimitsSection::default(),
            &PluginsSection::default(),
            &AuthSection::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("HOST:PORT"), "{err}");
    }

    fn resolve_file(listen: &str, text: &str) -> anyhow::Result<ServerConfig> {
        let file: FileConfig = toml::from_str(text)?;
        resolve(
            "d".into(),
            listen,
            FlushPolicy::Sync,
            1,
            None,
            1,
            None,
            &file.limits,
            &file.plugins,
            &file.auth,
        )
    }

    const TOKENS: &str = r#"
[[auth.tokens]]
name = "ops"
token = "s3cret-admin-0001"
admin = true

[[auth.tokens]]
name = "orders-app"
token = "s3cret-orders-0001"
produce = ["orders", "orders-*"]
consume = ["orders*"]
"#;

    #[test]
    fn plugins_and_tokens_are_read_from_the_file() {
        let text = format!(
            "[plugins]\nmax_module_bytes = 1000\nconcurrent_compiles = 2\nquarantine_after = 2\ncall_threads = 3\ncall_priority = \"low\"\nlog_lines_per_sec = 7\nlog_bytes_per_sec = 8192\n{TOKENS}"
        );
        let config = resolve_file("0.0.0.0:7700", &text).unwrap();
        assert_eq!(config.plugins.max_module_bytes, 1000);
        assert_eq!(config.plugins.concurrent_compiles, 2);
        assert_eq!(config.plugins.quarantine_after, 2);
        assert_eq!(
            (config.plugins.call_threads, config.plugins.call_priority),
            (3, weir_plugin::CallPriority::Low)
        );
        assert_eq!(config.plugins.modules_dir, Path::new("d").join("modules"));
        assert_eq!(
            config.plugins.log_rates,
            weir_plugin::LogRates {
                lines_per_sec: 7,
                bytes_per_sec: 8192
            }
        );
        assert_eq!(config.auth.map(|a| a.len()), Some(2));
        assert!(!format!("{:?}", toml::from_str::<FileConfig>(TOKENS).unwrap()).contains("s3cret"));
    }

    #[test]
    fn http_limits_come_from_the_file_and_flags() {
        let file: FileConfig = toml::from_str(
            "[http]\nheader_read_timeout_ms = 1500\nidle_timeout_ms = 2000\nmax_connections = 64\n\
             fd_reserve = 10\nmax_requests_per_connection = 5\nmin_body_bytes_per_sec = 0\n",
        )
        .unwrap();
        let limits = resolve_http(&file.http, None, None).unwrap();
        assert_eq!(limits.header_read_timeout, Duration::from_millis(1500));
        assert_eq!(limits.idle_timeout, Duration::from_secs(2));
        assert_eq!((limits.max_connections, limits.fd_reserve), (64, 10));
        assert_eq!(limits.max_requests_per_connection, 5);
        assert_eq!(limits.min_body_bytes_per_sec, 0);
        assert_eq!(
            limits.write_timeout,
            weir_api::connection::DEFAULT_WRITE_TIMEOUT
        );
        let flags = resolve_http(&file.http, Some(100), Some(7)).unwrap();
        assert_eq!(
            (flags.max_connections, flags.idle_timeout),
            (100, Duration::from_millis(7))
        );
        for (text, field) in [
            ("[http]\nidle_timeout_ms = 0\n", "http.idle_timeout_ms"),
            (
                "[http]\nbody_read_timeout_ms = 100000000000\n",
                "http.body_read_timeout_ms",
            ),
            ("[http]\nmax_connections = 3\n", "http.max_connections"),
            (
                "[http]\nmax_requests_per_connection = 0\n",
                "http.max_requests_per_connection",
            ),
            (
                "[http]\nmax_concurrent_streams = 0\n",
                "http.max_concurrent_streams",
            ),
        ] {
            let file: FileConfig = toml::from_str(text).unwrap();
            let err = resolve_http(&file.http, None, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
        assert!(toml::from_str::<FileConfig>("[http]\nidle = 1\n").is_err());
    }

    #[test]
    fn the_documented_examples_are_valid() {
        let doc = include_str!("../../../docs/configuration.md");
        let blocks: Vec<&str> = doc
            .split("```toml\n")
            .skip(1)
            .filter_map(|rest| rest.split("```").next())
            .collect();
        assert_eq!(blocks.len(), 4, "the examples of docs/configuration.md");
        for block in blocks {
            let http = toml::from_str::<FileConfig>(block)
                .map_err(anyhow::Error::from)
                .and_then(|file| resolve_http(&file.http, None, None));
            if let Err(err) = resolve_file("127.0.0.1:7700", block).and(http) {
                panic!("{block}\n{err:#}");
            }
        }
    }

    #[test]
    fn without_tokens_only_loopback_is_served() {
        for listen in ["127.0.0.1:7700", "127.8.9.1:1", "[::1]:7700"] {
            let config = resolve_file(listen, "").unwrap();
            assert!(config.auth.is_none());
        }
        for listen in ["0.0.0.0:7700", "192.168.1.5:7700", "[::]:7700"] {
            let err = resolve_file(listen, "").unwrap_err().to_string();
            assert!(err.contains("[[auth.tokens]]"), "{err}");
            assert!(err.contains("127.0.0.1"), "{err}");
        }
    }

    #[test]
    fn bad_tokens_and_plugin_settings_name_the_field() {
        let cases = [
            (
                "[[auth.tokens]]\nname = \"a\"\ntoken = \"short\"\n",
                "auth.tokens[0].token",
            ),
            (
                "[[auth.tokens]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\n\
                 [[auth.tokens]]\nname = \"a\"\ntoken = \"fedcba9876543210\"\n",
                "auth.tokens[1].name",
            ),
            (
                "[[auth.tokens]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nproduce = [\"\"]\n",
                "auth.tokens[0].produce[0]",
            ),
            (
                "[plugins]\nquarantine_after = 0\n",
                "plugins.quarantine_after",
            ),
            (
                "[plugins]\nmax_module_bytes = 0\n",
                "plugins.max_module_bytes",
            ),
            ("[plugins]\ncall_threads = 0\n", "plugins.call_threads"),
            (
                "[plugins]\nconcurrent_compiles = 0\n",
                "plugins.concurrent_compiles",
            ),
            (
                "[plugins]\nlog_lines_per_sec = 0\n",
                "plugins.log_lines_per_sec",
            ),
            (
                "[plugins]\nlog_bytes_per_sec = 100\n",
                "plugins.log_bytes_per_sec",
            ),
            (
                "[plugins]\ncall_priority = \"high\"\n",
                "plugins.call_priority",
            ),
        ];
        for (text, field) in cases {
            let err = resolve_file("127.0.0.1:1", text).unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
        // Unknown keys in a token are refused like everywhere else.
        assert!(
            toml::from_str::<FileConfig>(
                "[[auth.tokens]]\nname = \"a\"\ntoken = \"x\"\nrole = \"admin\"\n"
            )
            .is_err()
        );
    }
}

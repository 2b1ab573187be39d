//! Plugins: uploading WebAssembly modules, binding them to their place (consumer group,
//! topic, producer group), pausing, resuming and removing bindings, and the broker's
//! status with every module and binding (`docs/plugins.md`).
//!
//! The answer types are those of [`weir_wire::plugin`], the shapes the broker itself
//! stores and answers; they serialize back to the broker's shape, so a tool can print
//! what it received as the broker sent it. Fields and counters a newer broker adds are
//! ignored.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::Full;
use serde::{Deserialize, Serialize};

use crate::client::decode_json;
use crate::endpoint::encode_component;
use crate::{Client, ClientError};

pub use weir_wire::plugin::{
    BindingConfig, BindingMetrics, BindingStatus, BindingTarget, BrokerStatus, Grants, Module,
    ModuleInfo, ModuleStatus, RunState, TargetSpec, World as PluginWorld,
};
use weir_wire::plugin::{BindingList, ModuleList};

/// The answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleUpload {
    /// The version now holding the bytes.
    #[serde(flatten)]
    pub module: ModuleInfo,
    /// Whether the upload made a new version; `false` when the bytes were those of the
    /// newest version already (the broker answers that version).
    pub created: bool,
}

/// A binding to create ([`Client::bind`]) or replace ([`Client::rebind`]); unset fields
/// take the broker's defaults.
///
/// ```
/// use weir_client::BindingRequest;
///
/// let request = BindingRequest::consumer("billing-plugin", "billing", "orders", "billing")
///     .version(3)
///     .config(r#"{"currency":"EUR"}"#)
///     .publish(true);
/// assert_eq!(request.version, Some(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRequest {
    /// The binding name: 1–127 characters of `A-Z a-z 0-9 _ -`.
    pub name: String,
    /// The module to run.
    pub module: String,
    /// A pinned version; unset follows the newest (a new upload takes over at the next
    /// batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Where it is attached.
    pub target: TargetSpec,
    /// Deadline of one call, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Memory cap of one instance, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<usize>,
    /// Quota of the binding's key-value state, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_bytes: Option<usize>,
    /// The string handed to the plugin with every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// What it may do (default: nothing beyond computing, logging and its state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
}

impl BindingRequest {
    /// A binding named `name` of `module` at `target`, everything else at the defaults.
    pub fn new(
        name: impl Into<String>,
        module: impl Into<String>,
        target: TargetSpec,
    ) -> BindingRequest {
        BindingRequest {
            name: name.into(),
            module: module.into(),
            version: None,
            target,
            deadline_ms: None,
            memory_bytes: None,
            state_bytes: None,
            config: None,
            grants: None,
        }
    }

    /// A consumer binding of `module` to `group` on `topic`.
    pub fn consumer(
        name: impl Into<String>,
        module: impl Into<String>,
        topic: impl Into<String>,
        group: impl Into<String>,
    ) -> BindingRequest {
        let target = TargetSpec::Consumer {
            topic: topic.into(),
            group: group.into(),
            batch_size: None,
            concurrency: None,
        };
        BindingRequest::new(name, module, target)
    }

    /// Pins the module version.
    pub fn version(mut self, version: u32) -> BindingRequest {
        self.version = Some(version);
        self
    }

    /// Sets the configuration string handed to the plugin.
    pub fn config(mut self, config: impl Into<String>) -> BindingRequest {
        self.config = Some(config.into());
        self
    }

    /// Sets the deadline of one call.
    pub fn deadline_ms(mut self, ms: u64) -> BindingRequest {
        self.deadline_ms = Some(ms);
        self
    }

    /// Sets the memory cap of one instance.
    pub fn memory_bytes(mut self, bytes: usize) -> BindingRequest {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Grants (or not) publishing.
    pub fn publish(mut self, allowed: bool) -> BindingRequest {
        self.grants.get_or_insert_with(Grants::default).publish = allowed;
        self
    }

    /// Allows outbound HTTP requests to URLs starting with `prefix`.
    pub fn allow_http(mut self, prefix: impl Into<String>) -> BindingRequest {
        self.grants
            .get_or_insert_with(Grants::default)
            .http_allowlist
            .push(prefix.into());
        self
    }
}

/// The content type uploads are sent with (the broker accepts any).
const WASM_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/wasm");

/// How long a module upload waits for its answer at least, whatever the client's
/// timeout: the broker answers once it has compiled the component, which takes tens of
/// seconds for the largest ones (components that carry an interpreter, such as Python's
/// or JavaScript's, on a small, busy machine).
pub const MODULE_UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

impl Client {
    /// Uploads a component as a new version of module `name`, validated against `world`
    /// (given `None`, the broker takes the world whose interface the component exports)
    /// and compiled by the broker. Uploading the bytes of the newest version again makes
    /// no new version ([`ModuleUpload::created`] is `false`).
    ///
    /// # Errors
    ///
    /// As [`ClientError::Api`]: `MODULE_TOO_LARGE` (413), `NOT_A_COMPONENT`,
    /// `INVALID_WORLD`, `INVALID_NAME` (400), `COMPILE_FAILED`, `MISSING_EXPORT`,
    /// `WRONG_SIGNATURE`, `UNSUPPORTED_IMPORT`, `ASYNC_ABI_UNSUPPORTED` (422),
    /// `WORLD_MISMATCH`, `LIMIT_REACHED` (409).
    pub async fn upload_module(
        &self,
        name: &str,
        world: impl Into<Option<PluginWorld>>,
        component: impl Into<Bytes>,
    ) -> Result<ModuleUpload, ClientError> {
        let path = match world.into() {
            Some(world) => format!(
                "{}?world={}",
                module_path(name),
                encode_component(world.as_str())
            ),
            None => module_path(name),
        };
        let mut request = self.empty_request(Method::PUT, &path)?;
        *request.body_mut() = Full::new(component.into());
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, WASM_CONTENT_TYPE);
        let (status, body) = self
            .execute_patiently(request, MODULE_UPLOAD_TIMEOUT)
            .await?;
        Ok(ModuleUpload {
            module: decode_json(&body)?,
            created: status == StatusCode::CREATED,
        })
    }

    /// Every version of every module.
    pub async fn modules(&self) -> Result<Vec<ModuleStatus>, ClientError> {
        let request = self.empty_request(Method::GET, "/v1/modules")?;
        Ok(self.execute_json::<ModuleList>(request).await?.modules)
    }

    /// One module with its versions.
    ///
    /// # Errors
    ///
    /// `MODULE_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn module(&self, name: &str) -> Result<Module, ClientError> {
        self.execute_json(self.empty_request(Method::GET, &module_path(name))?)
            .await
    }

    /// Deletes one version of a module, or all of them (`None`).
    ///
    /// # Errors
    ///
    /// `MODULE_NOT_FOUND` (404), `MODULE_IN_USE` (409, while a binding uses it) as
    /// [`ClientError::Api`].
    pub async fn delete_module(&self, name: &str, version: Option<u32>) -> Result<(), ClientError> {
        let mut path = module_path(name);
        if let Some(version) = version {
            path.push_str(&format!("?version={version}"));
        }
        self.execute(self.empty_request(Method::DELETE, &path)?)
            .await?;
        Ok(())
    }

    /// Creates a binding: the module starts running at its target.
    ///
    /// # Errors
    ///
    /// As [`ClientError::Api`]: `INVALID_BINDING`, `INVALID_NAME` (400),
    /// `MODULE_NOT_FOUND`, `TOPIC_NOT_FOUND`, `GROUP_NOT_FOUND` (404), `BINDING_EXISTS`,
    /// `WORLD_MISMATCH`, `LIMIT_REACHED` (409).
    pub async fn bind(&self, binding: &BindingRequest) -> Result<BindingConfig, ClientError> {
        let request = self.json_request(Method::POST, "/v1/bindings", binding)?;
        self.execute_json(request).await
    }

    /// Replaces binding `name`'s module, version and settings, at a batch boundary; its
    /// counters are kept. The request's name must be `name` (or empty).
    ///
    /// # Errors
    ///
    /// As [`Client::bind`], and `BINDING_NOT_FOUND` (404).
    pub async fn rebind(
        &self,
        name: &str,
        binding: &BindingRequest,
    ) -> Result<BindingConfig, ClientError> {
        let request = self.json_request(Method::PUT, &binding_path(name, ""), binding)?;
        self.execute_json(request).await
    }

    /// Every binding with its health and counters.
    pub async fn bindings(&self) -> Result<Vec<BindingStatus>, ClientError> {
        let request = self.empty_request(Method::GET, "/v1/bindings")?;
        Ok(self.execute_json::<BindingList>(request).await?.bindings)
    }

    /// One binding with its health and counters.
    ///
    /// # Errors
    ///
    /// `BINDING_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn binding(&self, name: &str) -> Result<BindingStatus, ClientError> {
        self.execute_json(self.empty_request(Method::GET, &binding_path(name, ""))?)
            .await
    }

    /// Pauses a binding: no more calls until it is resumed (durable across restarts).
    ///
    /// # Errors
    ///
    /// `BINDING_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn pause_binding(&self, name: &str) -> Result<BindingStatus, ClientError> {
        let path = binding_path(name, "/pause");
        self.execute_json(self.empty_request(Method::POST, &path)?)
            .await
    }

    /// Resumes a paused or quarantined binding, clearing its failure count.
    ///
    /// # Errors
    ///
    /// `BINDING_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn resume_binding(&self, name: &str) -> Result<BindingStatus, ClientError> {
        let path = binding_path(name, "/resume");
        self.execute_json(self.empty_request(Method::POST, &path)?)
            .await
    }

    /// Deletes a binding; its module stays registered.
    ///
    /// # Errors
    ///
    /// `BINDING_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn unbind(&self, name: &str) -> Result<(), ClientError> {
        self.execute(self.empty_request(Method::DELETE, &binding_path(name, ""))?)
            .await?;
        Ok(())
    }

    /// The broker's status: uptime, topic and group counts, every module and binding.
    pub async fn status(&self) -> Result<BrokerStatus, ClientError> {
        self.execute_json(self.empty_request(Method::GET, "/v1/status")?)
            .await
    }
}

fn module_path(name: &str) -> String {
    format!("/v1/modules/{}", encode_component(name))
}

fn binding_path(name: &str, suffix: &str) -> String {
    format!("/v1/bindings/{}{suffix}", encode_component(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module_json() -> serde_json::Value {
        json!({"name": "ack", "version": 2, "world": "consumer-plugin", "sha256": "ab",
               "size": 1234, "artifact_sha256": "cd", "compile_ms": 40,
               "uploaded_ms": 1764000000000i64,
               "exports": ["weir:plugin/consumer@0.1.0"], "error": null})
    }

    fn binding_json() -> serde_json::Value {
        json!({
            "config": {"name": "b", "module": "ack", "version": null,
                "target": {"kind": "consumer", "topic": "orders", "group": "g",
                           "batch_size": 32, "concurrency": 1},
                "deadline_ms": 5000, "memory_bytes": 67108864, "state_bytes": 16777216,
                "config": "", "grants": {"publish": false, "http_allowlist": []},
                "run": {"state": "quarantined", "error": "trap"}, "created_ms": 1},
            "module_version": 2, "consecutive_failures": 5, "last_error": "trap",
            "last_error_ms": 2, "state_entries": 0, "state_bytes_used": 0,
            "metrics": {"calls": 7, "failed_calls": 5, "messages": 70, "acked": 20,
                        "retried": 0, "dead_lettered": 0, "failed_messages": 50,
                        "commits": 0, "rollbacks": 0, "unknowns": 0, "keys": 0,
                        "duplicates": 0, "traps": 5, "timeouts": 0, "memory_limits": 0,
                        "wrong_lengths": 0, "instantiations": 6, "published": 0,
                        "http_requests": 0, "http_failures": 0, "latency_sum_us": 99,
                        "log_lines": 3, "log_lines_suppressed": 0, "log_bytes_suppressed": 0,
                        "latency_buckets": [1, 2]}
        })
    }

    #[test]
    fn worlds_parse_long_and_short_names() {
        for world in PluginWorld::ALL {
            assert_eq!(world.as_str().parse::<PluginWorld>(), Ok(world));
            assert_eq!(world.short_name().parse::<PluginWorld>(), Ok(world));
        }
        let err = "filter".parse::<PluginWorld>().unwrap_err();
        assert!(
            err.contains("consumer, dedup-filter or tx-checker"),
            "{err}"
        );
    }

    #[test]
    fn module_status_round_trips() {
        let status: ModuleStatus = serde_json::from_value(module_json()).unwrap();
        assert_eq!(status.version, 2);
        assert_eq!(status.world, PluginWorld::Consumer);
        assert_eq!(status.exports, ["weir:plugin/consumer@0.1.0"]);
        assert_eq!(serde_json::to_value(&status).unwrap(), module_json());
        // ModuleInfo, as an upload answers, has neither exports nor error.
        let info: ModuleInfo = serde_json::from_value(module_json()).unwrap();
        let upload = ModuleUpload {
            module: info,
            created: true,
        };
        assert_eq!(serde_json::to_value(&upload).unwrap()["created"], true);
    }

    #[test]
    fn binding_status_round_trips() {
        let status: BindingStatus = serde_json::from_value(binding_json()).unwrap();
        assert_eq!(
            status.run,
            RunState::Quarantined {
                error: "trap".into()
            }
        );
        assert_eq!(status.target.describe(), "group g on orders");
        assert_eq!(status.metrics.messages, 70);
        assert_eq!(status.metrics.log_lines, 3);
        assert_eq!(serde_json::to_value(&status).unwrap(), binding_json());
    }

    #[test]
    fn binding_requests_send_only_what_is_set() {
        let minimal = BindingRequest::consumer("b", "ack", "orders", "g");
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            json!({"name": "b", "module": "ack",
                   "target": {"kind": "consumer", "topic": "orders", "group": "g"}})
        );
        let dedup = BindingRequest::new(
            "d",
            "json-dedup",
            TargetSpec::DedupFilter {
                topic: Some("orders".into()),
                group: None,
                window_ms: Some(60_000),
            },
        )
        .config("order.id")
        .version(1)
        .deadline_ms(100)
        .memory_bytes(1 << 20)
        .allow_http("http://127.0.0.1:9000/");
        assert_eq!(
            serde_json::to_value(&dedup).unwrap(),
            json!({"name": "d", "module": "json-dedup", "version": 1,
                   "target": {"kind": "dedup-filter", "topic": "orders", "window_ms": 60000},
                   "deadline_ms": 100, "memory_bytes": 1048576, "config": "order.id",
                   "grants": {"publish": false,
                              "http_allowlist": ["http://127.0.0.1:9000/"]}})
        );
        assert_eq!(dedup.target.world(), PluginWorld::DedupFilter);
    }

    #[test]
    fn targets_describe_where_they_attach() {
        let checker = BindingTarget::TxChecker {
            producer_group: Some("shop".into()),
            topic: None,
        };
        assert_eq!(checker.describe(), "producer group shop");
        let dedup = BindingTarget::DedupFilter {
            topic: None,
            group: Some("g".into()),
            window_ms: 1,
        };
        assert_eq!(dedup.describe(), "group g");
    }

    #[test]
    fn status_decodes() {
        let status: BrokerStatus = serde_json::from_value(json!({
            "uptime_ms": 10, "topics": 2, "groups": 1,
            "modules": [module_json()], "bindings": [binding_json()]}))
        .unwrap();
        assert_eq!(status.modules[0].name, "ack");
        assert_eq!(status.bindings[0].name, "b");
    }

    #[test]
    fn paths_encode_names() {
        assert_eq!(module_path("a b"), "/v1/modules/a%20b");
        assert_eq!(binding_path("x/y", "/pause"), "/v1/bindings/x%2Fy/pause");
    }
}

//! Plugin administration routes: module uploads, listings and deletes, bindings
//! (create, change, pause, resume, delete), and the broker's status page.
//!
//! Request bodies are parsed here into the plugin host's types ([`BindingSpec`]); the
//! host validates them against its limits and the broker, and its errors are mapped in
//! [`crate::error`]. Without a plugin host (an [`App`] built without one) every module
//! and binding route answers `503 PLUGINS_DISABLED`; the status page still answers, with
//! no modules and no bindings.

use http::{Request, StatusCode};
use serde::Deserialize;
use weir_plugin::{BindingSpec, Grants, PluginHost, TargetSpec, World};
use weir_wire::codes;
use weir_wire::plugin::{BindingList, BrokerStatus, Module, ModuleList};

use crate::app::{HttpResponse, json, no_content};
use crate::body::{RequestBody, read_body, read_json};
use crate::routes::query_param;
use crate::{ApiError, App};

/// The plugin host as the API holds it: the host and the module size limit it was opened
/// with, which bounds upload bodies.
#[derive(Clone, Debug)]
pub(crate) struct Plugins {
    pub(crate) host: PluginHost,
    pub(crate) max_module_bytes: usize,
}

/// The plugin host, or `503 PLUGINS_DISABLED`.
fn plugins(app: &App) -> Result<&Plugins, ApiError> {
    app.plugins.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::PLUGINS_DISABLED,
            "this broker runs without a plugin host",
        )
    })
}

/// `PUT /v1/modules/{name}[?world=...]`: the body is the component. `201` with the new
/// version, or `200` with the newest version when it has the same bytes.
pub(crate) async fn upload(
    app: &App,
    name: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    // Without `?world=`, the world is the one whose interface the component exports.
    let world = match query_param(request.uri().query(), "world") {
        Some(Ok(world)) => Some(world.parse::<World>().map_err(invalid_world)?),
        Some(Err(())) => return Err(invalid_world("the world parameter is not valid UTF-8")),
        None => None,
    };
    let bytes = read_body(request.into_body()).await?;
    let newest = newest_version(&plugins.host, name);
    let info = plugins.host.upload(name, world, Vec::from(bytes)).await?;
    let status = if newest == Some(info.version) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json(status, &info))
}

fn invalid_world(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(codes::INVALID_WORLD, message)
}

fn newest_version(host: &PluginHost, name: &str) -> Option<u32> {
    host.module(name)
        .ok()
        .and_then(|versions| versions.iter().map(|v| v.info.version).max())
}

pub(crate) fn list_modules(app: &App) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    Ok(json(
        StatusCode::OK,
        &ModuleList {
            modules: plugins.host.modules(),
        },
    ))
}

pub(crate) fn get_module(app: &App, name: &str) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    let versions = plugins.host.module(name)?;
    Ok(json(
        StatusCode::OK,
        &Module {
            name: name.to_owned(),
            world: versions.last().map(|v| v.info.world),
            versions,
        },
    ))
}

/// `DELETE /v1/modules/{name}`, all versions or `?version=N`.
pub(crate) async fn delete_module(
    app: &App,
    name: &str,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    let version = match query_param(query, "version") {
        None => None,
        Some(text) => Some(
            text.ok()
                .and_then(|text| text.parse::<u32>().ok())
                .ok_or_else(|| {
                    ApiError::invalid_argument("version must be a module version number")
                })?,
        ),
    };
    plugins.host.delete_module(name, version).await?;
    Ok(no_content())
}

/// A binding as a client asks for it; unset fields take the host's defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingRequest {
    name: Option<String>,
    module: String,
    version: Option<u32>,
    target: TargetSpec,
    deadline_ms: Option<u64>,
    memory_bytes: Option<usize>,
    state_bytes: Option<usize>,
    #[serde(default)]
    config: String,
    #[serde(default)]
    grants: Grants,
}

impl BindingRequest {
    fn into_spec(self, name: String) -> BindingSpec {
        BindingSpec {
            name,
            module: self.module,
            version: self.version,
            target: self.target,
            deadline_ms: self.deadline_ms,
            memory_bytes: self.memory_bytes,
            state_bytes: self.state_bytes,
            config: self.config,
            grants: self.grants,
        }
    }
}

/// `POST /v1/bindings`: `201` with the stored configuration.
pub(crate) async fn bind(
    app: &App,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    let body: BindingRequest = read_json(request.into_body()).await?;
    let Some(name) = body.name.clone() else {
        return Err(ApiError::invalid_json("missing field `name`"));
    };
    let config = plugins.host.bind(body.into_spec(name)).await?;
    Ok(json(StatusCode::CREATED, &config))
}

/// `PUT /v1/bindings/{name}`: the name in the body, if any, must be the one in the path.
pub(crate) async fn rebind(
    app: &App,
    name: &str,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    let body: BindingRequest = read_json(request.into_body()).await?;
    if let Some(other) = body.name.as_deref().filter(|other| *other != name) {
        return Err(ApiError::bad_request(
            codes::INVALID_BINDING,
            format!("the body names binding '{other}' but the path names '{name}'"),
        ));
    }
    let config = plugins
        .host
        .rebind(body.into_spec(name.to_string()))
        .await?;
    Ok(json(StatusCode::OK, &config))
}

pub(crate) fn list_bindings(app: &App) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    Ok(json(
        StatusCode::OK,
        &BindingList {
            bindings: plugins.host.status().bindings,
        },
    ))
}

pub(crate) fn get_binding(app: &App, name: &str) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    Ok(json(StatusCode::OK, &plugins.host.binding(name)?))
}

pub(crate) async fn pause(app: &App, name: &str) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    plugins.host.pause(name).await?;
    get_binding(app, name)
}

pub(crate) async fn resume(app: &App, name: &str) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    plugins.host.resume(name).await?;
    get_binding(app, name)
}

pub(crate) async fn unbind(app: &App, name: &str) -> Result<HttpResponse, ApiError> {
    let plugins = plugins(app)?;
    plugins.host.unbind(name).await?;
    Ok(no_content())
}

/// `GET /v1/status`: uptime, counts of topics and groups, every module and binding.
pub(crate) fn status(app: &App) -> HttpResponse {
    let (modules, bindings) = match &app.plugins {
        Some(plugins) => {
            let status = plugins.host.status();
            (status.modules, status.bindings)
        }
        None => (Vec::new(), Vec::new()),
    };
    json(
        StatusCode::OK,
        &BrokerStatus {
            uptime_ms: u64::try_from(app.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            topics: app.broker.list_topics().len() as u64,
            groups: app.broker.list_groups(None).len() as u64,
            modules,
            bindings,
        },
    )
}

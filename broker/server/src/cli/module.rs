//! `weir module push|list|describe|rm`: plugin modules, the WebAssembly components the
//! broker validates, compiles and keeps by name and version.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;
use weir_client::{Client, ClientError, Module, ModuleStatus, ModuleUpload, PluginWorld, codes};
use weir_wire::plugin::ModuleList;

use super::Connection;
use super::failure::explain_plugin;
use super::output::{self, Align, Table};

/// Upload, list, describe and remove modules.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ModuleCommand {
    /// Upload a component as the next version of a module (the same bytes again make no
    /// new version).
    Push {
        /// The module name: 1–127 characters of A-Z a-z 0-9 _ -.
        name: String,
        /// The component (`.wasm`), as the plugin's build writes it.
        file: PathBuf,
        /// The world the component implements: consumer, dedup-filter or tx-checker
        /// [default: the one whose interface the component exports].
        #[arg(long, value_name = "WORLD")]
        world: Option<PluginWorld>,
    },
    /// List every version of every module.
    List,
    /// Show a module's versions and exports.
    Describe {
        /// The module name.
        name: String,
    },
    /// Remove a module, or one of its versions; refused while a binding uses it.
    Rm {
        /// The module name.
        name: String,
        /// Only this version [default: every version].
        #[arg(long, value_name = "N")]
        version: Option<u32>,
    },
}

/// `--json` output of `weir module rm`.
#[derive(Serialize)]
struct Removed<'a> {
    removed: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
}

/// Runs a `weir module` command.
pub(crate) async fn run(command: ModuleCommand, connection: &Connection) -> anyhow::Result<()> {
    match command {
        ModuleCommand::Push { name, file, world } => push(&name, &file, world, connection).await,
        ModuleCommand::List => {
            let modules = connection
                .client()?
                .modules()
                .await
                .map_err(|err| explain_plugin(err, "cannot list the modules".to_owned()))?;
            output::print_list(
                connection.json,
                &ModuleList { modules },
                |list| &list.modules,
                "no module; upload one with `weir module push NAME FILE.wasm`",
                module_table,
            )
        }
        ModuleCommand::Describe { name } => {
            let module =
                connection.client()?.module(&name).await.map_err(|err| {
                    explain_plugin(err, format!("cannot describe module '{name}'"))
                })?;
            if connection.json {
                return output::print_json(&module);
            }
            output::print(&render_module(&module))
        }
        ModuleCommand::Rm { name, version } => {
            let client = connection.client()?;
            if let Err(err) = client.delete_module(&name, version).await {
                return Err(removal_error(&client, err, &name, version).await);
            }
            if connection.json {
                return output::print_json(&Removed {
                    removed: &name,
                    version,
                });
            }
            match version {
                Some(version) => {
                    output::print(&format!("removed version {version} of module '{name}'\n"))
                }
                None => output::print(&format!("removed module '{name}'\n")),
            }
        }
    }
}

pub(crate) async fn push(
    name: &str,
    file: &std::path::Path,
    world: Option<PluginWorld>,
    connection: &Connection,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read the component file {}", file.display()))?;
    let client = connection.client()?;
    let upload = client
        .upload_module(name, world, bytes)
        .await
        .map_err(|err| explain_plugin(err, format!("cannot push module '{name}'")))?;
    if connection.json {
        return output::print_json(&upload);
    }
    output::print(&render_upload(&upload))
}

/// The error of a refused removal; for a module in use, names the bindings using it.
async fn removal_error(
    client: &Client,
    err: ClientError,
    name: &str,
    version: Option<u32>,
) -> anyhow::Error {
    let action = match version {
        Some(version) => format!("cannot remove version {version} of module '{name}'"),
        None => format!("cannot remove module '{name}'"),
    };
    if err.code() != Some(codes::MODULE_IN_USE) {
        return explain_plugin(err, action);
    }
    let users: Vec<String> = match client.bindings().await {
        Ok(bindings) => bindings
            .into_iter()
            .filter(|binding| binding.module == name)
            .map(|binding| binding.config.name)
            .collect(),
        Err(_) => Vec::new(),
    };
    let hint = match users.as_slice() {
        [] => "remove the bindings using it first (see them with `weir bind list`)".to_owned(),
        [one] => format!("binding '{one}' uses it: remove it first with `weir bind rm {one}`"),
        many => format!(
            "bindings {} use it: remove them first with `weir bind rm NAME`",
            many.join(", ")
        ),
    };
    anyhow::anyhow!("{action}: {err}\n  hint: {hint}")
}

/// What `push` did.
fn render_upload(upload: &ModuleUpload) -> String {
    let module = &upload.module;
    let head = if upload.created {
        format!(
            "pushed module '{}' version {} ({})\n",
            module.name, module.version, module.world
        )
    } else {
        format!(
            "module '{}' unchanged: these bytes are its version {} already ({})\n",
            module.name, module.version, module.world
        )
    };
    let rows = [
        ("  version", module.version.to_string()),
        ("  sha256", module.sha256.clone()),
        (
            "  size",
            format!(
                "{} ({} bytes)",
                output::size_bytes(module.size),
                module.size
            ),
        ),
        ("  compiled in", output::duration_ms(module.compile_ms)),
    ];
    head + &output::fields(&rows)
}

pub(crate) fn module_table(modules: &[ModuleStatus]) -> String {
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("VERSION", Align::Right),
        ("WORLD", Align::Left),
        ("SIZE", Align::Right),
        ("COMPILE", Align::Right),
        ("SHA256", Align::Left),
        ("UPLOADED", Align::Left),
        ("STATUS", Align::Left),
    ]);
    for module in modules {
        table.row(vec![
            module.name.clone(),
            module.version.to_string(),
            module.world.short_name().to_owned(),
            output::size_bytes(module.size),
            output::duration_ms(module.compile_ms),
            short_sha(&module.sha256),
            output::utc_time(module.uploaded_ms),
            match &module.error {
                Some(error) => format!("error: {}", output::one_line(error, 60)),
                None => "ready".to_owned(),
            },
        ]);
    }
    table.render()
}

/// `weir module describe` as text: name and world, exports, then the versions.
fn render_module(module: &Module) -> String {
    let exports = module
        .versions
        .last()
        .map(|newest| newest.exports.join(", "))
        .unwrap_or_default();
    let mut text = output::fields(&[
        ("module", module.name.clone()),
        (
            "world",
            module
                .world
                .map_or_else(|| "-".to_owned(), |world| world.to_string()),
        ),
        ("versions", module.versions.len().to_string()),
        (
            "exports",
            if exports.is_empty() {
                "-".to_owned()
            } else {
                exports
            },
        ),
    ]);
    text.push('\n');
    text.push_str(&module_table(&module.versions));
    text
}

/// The first 12 hex digits of a SHA-256, enough to tell versions apart.
fn short_sha(sha256: &str) -> String {
    sha256.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use weir_client::ModuleInfo;

    use super::*;

    fn info(version: u32) -> ModuleInfo {
        ModuleInfo {
            name: "ack".into(),
            version,
            world: PluginWorld::Consumer,
            sha256: "0123456789abcdef0123".into(),
            size: 12_595,
            artifact_sha256: "ff".into(),
            compile_ms: 40,
            uploaded_ms: 1_764_000_000_000,
        }
    }

    #[test]
    fn upload_says_what_happened() {
        let created = render_upload(&ModuleUpload {
            module: info(2),
            created: true,
        });
        assert!(created.starts_with("pushed module 'ack' version 2 (consumer-plugin)\n"));
        assert!(
            created.contains("  sha256       0123456789abcdef0123\n"),
            "{created}"
        );
        assert!(created.contains("12.3 KiB (12595 bytes)"), "{created}");
        assert!(created.contains("  compiled in  40 ms"), "{created}");
        let same = render_upload(&ModuleUpload {
            module: info(2),
            created: false,
        });
        assert!(same.starts_with("module 'ack' unchanged"), "{same}");
    }

    #[test]
    fn table_lists_versions() {
        let broken = ModuleStatus {
            info: info(2),
            exports: vec![],
            error: Some("artifact missing".into()),
        };
        let ok = ModuleStatus {
            info: info(1),
            exports: vec!["weir:plugin/consumer@0.1.0".into()],
            error: None,
        };
        assert_eq!(
            module_table(&[ok, broken]),
            "NAME  VERSION  WORLD         SIZE  COMPILE  SHA256        UPLOADED                  STATUS\n\
             ack         1  consumer  12.3 KiB    40 ms  0123456789ab  2025-11-24T16:00:00.000Z  ready\n\
             ack         2  consumer  12.3 KiB    40 ms  0123456789ab  2025-11-24T16:00:00.000Z  error: artifact missing\n"
        );
    }
}

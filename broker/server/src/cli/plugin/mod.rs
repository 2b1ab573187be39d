//! `weir plugin new`: writes a plugin project to start from.
//!
//! * `scaffold`: the project's files (generated, not written).
//!
//! The project is a Cargo package that builds into a component with
//! `cargo build --release --target wasm32-wasip2`, with the guest SDK vendored; it never
//! talks to a broker. Only Rust projects are written: plugins in other languages are
//! components of the worlds of `wit/plugin.wit`, built with that language's tools.

mod scaffold;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use weir_client::PluginWorld;

use super::output;

/// Languages `weir plugin new` writes projects in.
const LANGUAGES: &[&str] = &["rust"];

/// Start writing plugins.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum PluginCommand {
    /// Write a new plugin project: code for one world, the SDK, a README with the commands
    /// that build, upload and bind it.
    New(NewArgs),
}

/// Flags of `weir plugin new`.
#[derive(clap::Args, Debug)]
pub(crate) struct NewArgs {
    /// The project's name; also the package, the module and the .wasm file's name.
    name: String,
    /// The language to write the plugin in (supported: rust).
    #[arg(long, value_name = "LANG")]
    lang: String,
    /// The world the plugin implements: consumer, dedup-filter or tx-checker.
    #[arg(long, default_value = "consumer", value_name = "WORLD")]
    world: PluginWorld,
    /// The directory to write the project to; it must not exist or be empty [default:
    /// ./NAME].
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
}

/// Runs a `weir plugin` command.
pub(crate) async fn run(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New(args) => new_project(&args),
    }
}

fn new_project(args: &NewArgs) -> anyhow::Result<()> {
    if !LANGUAGES.contains(&args.lang.to_ascii_lowercase().as_str()) {
        anyhow::bail!(
            "cannot write a plugin in '{}': supported languages are {} (plugins in other \
             languages are WebAssembly components of the worlds in wit/plugin.wit, built \
             with that language's tools)",
            args.lang,
            LANGUAGES.join(", ")
        );
    }
    scaffold::check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    check_target(&dir)?;
    for file in scaffold::project_files(&args.name, args.world) {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the directory {}", parent.display()))?;
        }
        std::fs::write(&path, file.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    output::print(&next_steps(&args.name, args.world, &dir))
}

/// Refuses a target that is a file, or a directory with something in it.
fn check_target(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(anyhow::Error::new(err).context(format!("cannot use {}", dir.display()))),
        Ok(meta) if !meta.is_dir() => anyhow::bail!(
            "{} exists and is not a directory; choose another place with --dir PATH",
            dir.display()
        ),
        Ok(_) => {
            let mut entries = std::fs::read_dir(dir)
                .with_context(|| format!("cannot read the directory {}", dir.display()))?;
            if entries.next().is_some() {
                anyhow::bail!(
                    "{} is not empty; choose a new or empty directory with --dir PATH",
                    dir.display()
                );
            }
            Ok(())
        }
    }
}

/// What was written and the commands that follow.
fn next_steps(name: &str, world: PluginWorld, dir: &Path) -> String {
    format!(
        "wrote {world} plugin '{name}' to {dir}\n\
         \n\
         next:\n  \
         cd {dir}\n  \
         cargo test\n  \
         cargo build --release --target wasm32-wasip2\n  \
         weir module push {name} target/wasm32-wasip2/release/{file}.wasm --world {short}\n  \
         {bind}\n",
        world = world.short_name(),
        dir = dir.display(),
        file = scaffold::crate_name(name),
        short = world.short_name(),
        bind = scaffold::bind_command(name, world),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_or_empty_directories_are_used() {
        let root = tempfile::tempdir().unwrap();
        assert!(check_target(&root.path().join("new")).is_ok());
        assert!(check_target(root.path()).is_ok());
        std::fs::write(root.path().join("file"), "x").unwrap();
        let err = check_target(root.path()).unwrap_err().to_string();
        assert!(err.contains("is not empty"), "{err}");
        let err = check_target(&root.path().join("file"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }

    #[test]
    fn next_steps_name_the_wasm_file() {
        let text = next_steps("my-plugin", PluginWorld::Consumer, Path::new("p"));
        assert!(text.contains(
            "weir module push my-plugin target/wasm32-wasip2/release/my_plugin.wasm --world consumer"
        ));
    }
}

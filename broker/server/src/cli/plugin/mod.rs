//! `weir plugin new | build | deploy`: writes a plugin project to start from, builds it
//! into a component with one command, and uploads it to a broker.
//!
//! * `scaffold`: the files of a Rust project (a Cargo package with the SDK vendored);
//! * `languages`: the other languages (C, C++, Python, JavaScript, Go, Zig): their SDKs,
//!   starting code and build recipes;
//! * `project`: a project on disk, its manifest (`weir-plugin.toml`) and its build.
//!
//! Generation is pure (paths and contents); this module writes the files and runs the
//! commands.

mod languages;
mod project;
mod scaffold;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use weir_client::PluginWorld;

use self::languages::Language;
use self::project::Manifest;
use self::scaffold::ProjectFile;
use super::{Connection, output};

/// Write, build and deploy plugins.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum PluginCommand {
    /// Write a new plugin project: code for one world and its test, the SDK, the WIT
    /// contract, a README with the commands that build, test, deploy and bind it.
    New(NewArgs),
    /// Build the project into its component, `target/NAME.wasm` (installing the
    /// language's pinned toolchain on first use).
    Build(ProjectArgs),
    /// Build the project, then upload it as a new version of its module.
    Deploy(DeployArgs),
}

/// Flags of `weir plugin new`.
#[derive(clap::Args, Debug)]
pub(crate) struct NewArgs {
    /// The project's name; also the module's and the .wasm file's name.
    name: String,
    /// The language: rust, c, cpp, python, js, go or zig.
    #[arg(long, value_name = "LANG")]
    lang: Language,
    /// The world the plugin implements: consumer, dedup-filter or tx-checker.
    #[arg(long, default_value = "consumer", value_name = "WORLD")]
    world: PluginWorld,
    /// The directory to write the project to; it must not exist or be empty [default:
    /// ./NAME].
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
}

/// The project a command works on.
#[derive(clap::Args, Debug)]
pub(crate) struct ProjectArgs {
    /// The project's directory (where its weir-plugin.toml is).
    #[arg(default_value = ".", value_name = "DIR")]
    dir: PathBuf,
}

/// Flags of `weir plugin deploy`.
#[derive(clap::Args, Debug)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// Upload the component built last instead of building first.
    #[arg(long)]
    no_build: bool,
}

/// Runs a `weir plugin` command.
pub(crate) async fn run(command: PluginCommand, connection: &Connection) -> anyhow::Result<()> {
    match command {
        PluginCommand::New(args) => new_project(&args),
        PluginCommand::Build(args) => {
            let manifest = Manifest::read(&args.dir)?;
            let built = build(&args.dir, &manifest).await?;
            if connection.json {
                return output::print_json(&serde_json::json!({
                    "name": manifest.name, "component": built, "bytes": size(&built),
                }));
            }
            output::print(&format!(
                "built {} ({} bytes)\n",
                built.display(),
                size(&built)
            ))
        }
        PluginCommand::Deploy(args) => {
            let dir = &args.project.dir;
            let manifest = Manifest::read(dir)?;
            let component = if args.no_build {
                dir.join(manifest.component())
            } else {
                build(dir, &manifest).await?
            };
            super::module::push(&manifest.name, &component, Some(manifest.world), connection).await
        }
    }
}

/// Builds off the async runtime: a build takes seconds to minutes.
async fn build(dir: &Path, manifest: &Manifest) -> anyhow::Result<PathBuf> {
    let (dir, manifest) = (dir.to_owned(), manifest.clone());
    tokio::task::spawn_blocking(move || project::build(&dir, &manifest))
        .await
        .context("the build was interrupted")?
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len())
}

fn new_project(args: &NewArgs) -> anyhow::Result<()> {
    scaffold::check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    check_target(&dir)?;
    let manifest = Manifest {
        name: args.name.clone(),
        language: args.lang,
        world: args.world,
    };
    let mut files = match args.lang {
        Language::Rust => scaffold::project_files(&args.name, args.world),
        language => languages::guest_project_files(&args.name, language, args.world),
    };
    files.push(manifest.file()?);
    for file in &files {
        write(&dir, file)?;
    }
    output::print(&next_steps(&manifest, &dir))
}

fn write(dir: &Path, file: &ProjectFile) -> anyhow::Result<()> {
    let path = dir.join(&file.path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    }
    std::fs::write(&path, &file.contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    if file.executable {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", path.display()))?;
    }
    Ok(())
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
fn next_steps(manifest: &Manifest, dir: &Path) -> String {
    format!(
        "wrote {world} plugin '{name}' in {language} to {dir}\n\
         \n\
         next:\n  \
         cd {dir}\n  \
         weir plugin build       # target/{name}.wasm\n  \
         weir plugin deploy      # builds, then uploads module '{name}'\n  \
         {bind}\n\
         (README.md says how to run its tests)\n",
        world = manifest.world.short_name(),
        name = manifest.name,
        language = manifest.language,
        dir = dir.display(),
        bind = scaffold::bind_command(&manifest.name, manifest.world),
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
    fn next_steps_name_the_commands_and_the_component() {
        let manifest = Manifest {
            name: "my-plugin".into(),
            language: Language::Go,
            world: PluginWorld::Consumer,
        };
        let text = next_steps(&manifest, Path::new("p"));
        assert!(text.contains("in go to p"), "{text}");
        assert!(
            text.contains("weir plugin build       # target/my-plugin.wasm"),
            "{text}"
        );
        assert!(
            text.contains("weir bind consumer my-plugin --module my-plugin"),
            "{text}"
        );
    }
}

//! A plugin project on disk: its manifest (`weir-plugin.toml`: name, language, world),
//! building it into a component with its language's recipe, and deploying it (build,
//! then upload as a new version of its module).
//!
//! Every project builds to `target/NAME.wasm`. The recipes print their progress; it goes
//! to stderr, so that `--json` output stays one JSON document.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use weir_client::PluginWorld;

use super::languages::Language;
use super::scaffold::{ProjectFile, crate_name, file};

/// The manifest's file name, at the project's root.
pub(crate) const MANIFEST: &str = "weir-plugin.toml";

/// What `weir plugin build` and `deploy` need to know of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// The project's name: the module's name and the component's file name.
    pub(crate) name: String,
    /// What it is written in.
    pub(crate) language: Language,
    /// The world it implements (`consumer-plugin`, `dedup-filter-plugin`,
    /// `tx-checker-plugin`).
    pub(crate) world: PluginWorld,
}

impl Manifest {
    /// The manifest as a project file.
    pub(crate) fn file(&self) -> anyhow::Result<ProjectFile> {
        let text = toml::to_string(self).context("cannot write the project manifest")?;
        Ok(file(
            MANIFEST,
            format!(
                "# A Weir plugin project: `weir plugin build` and `weir plugin deploy` read this.\n{text}"
            ),
        ))
    }

    /// Reads the manifest of the project at `dir`.
    pub(crate) fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "{} not found: run this in a project written by `weir plugin new`, or \
                     name its directory",
                    path.display()
                )
            } else {
                anyhow::Error::new(err).context(format!("cannot read {}", path.display()))
            }
        })?;
        let manifest: Manifest = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid project manifest", path.display()))?;
        super::scaffold::check_name(&manifest.name)
            .with_context(|| format!("in {}", path.display()))?;
        Ok(manifest)
    }

    /// Where the built component goes, relative to the project.
    pub(crate) fn component(&self) -> PathBuf {
        Path::new("target").join(format!("{}.wasm", self.name))
    }
}

/// Builds the project at `dir` into its component; answers the component's path.
pub(crate) fn build(dir: &Path, manifest: &Manifest) -> anyhow::Result<PathBuf> {
    let out = dir.join(manifest.component());
    std::fs::create_dir_all(dir.join("target"))
        .with_context(|| format!("cannot create {}", dir.join("target").display()))?;
    let mut command = match manifest.language.build_script() {
        None => {
            let mut cargo = Command::new("cargo");
            cargo.args(["build", "--release", "--target", "wasm32-wasip2"]);
            cargo
        }
        Some(script) => {
            let mut bash = Command::new("bash");
            bash.arg(script)
                .arg(".")
                .arg(manifest.world.as_str())
                .arg(manifest.component());
            if manifest.language == Language::Cpp {
                bash.env("LANG_WEIR", "cpp");
            }
            bash
        }
    };
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()));
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command.status().with_context(|| {
        format!(
            "cannot run {program} to build the {} project",
            manifest.language
        )
    })?;
    if !status.success() {
        anyhow::bail!(
            "building '{}' failed ({status}); the build's output above says why",
            manifest.name
        );
    }
    if manifest.language == Language::Rust {
        // Cargo's output, in the target directory it was told to use, if any.
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map_or_else(|| dir.join("target"), |target| dir.join(target));
        let built = target
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", crate_name(&manifest.name)));
        std::fs::copy(&built, &out)
            .with_context(|| format!("cannot copy {} to {}", built.display(), out.display()))?;
    }
    if !out.is_file() {
        anyhow::bail!("the build of '{}' made no {}", manifest.name, out.display());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_and_bad_ones_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = Manifest {
            name: "audit".into(),
            language: Language::Python,
            world: PluginWorld::DedupFilter,
        };
        let file = manifest.file().unwrap();
        std::fs::write(dir.path().join(MANIFEST), &file.contents).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), manifest);
        assert_eq!(manifest.component(), Path::new("target/audit.wasm"));

        let err = Manifest::read(&dir.path().join("elsewhere")).unwrap_err();
        assert!(format!("{err:#}").contains("weir plugin new"), "{err:#}");
        std::fs::write(
            dir.path().join(MANIFEST),
            "name = \"audit\"\nlanguage = \"cobol\"\nworld = \"consumer-plugin\"\n",
        )
        .unwrap();
        let err = format!("{:#}", Manifest::read(dir.path()).unwrap_err());
        assert!(err.contains("not a valid project manifest"), "{err}");
        std::fs::write(
            dir.path().join(MANIFEST),
            "name = \"../up\"\nlanguage = \"c\"\nworld = \"consumer-plugin\"\n",
        )
        .unwrap();
        let err = format!("{:#}", Manifest::read(dir.path()).unwrap_err());
        assert!(err.contains("cannot name a plugin project"), "{err}");
    }
}

//! The files of a new plugin project: a Cargo package of one world's starting code, with
//! the guest SDK and its WIT package vendored, so that the project builds with one
//! command and nothing but crates.io.
//!
//! The SDK's sources, the WIT package and the guest workspace's lock file are compiled
//! into the binary from this repository (`sdk-guest/`, `wit/`, `plugins/`), so a project
//! always carries the SDK of the broker version that wrote it. Generation is pure: it
//! returns paths and contents; writing them is the command's business.

use std::fmt;

use weir_client::PluginWorld;

/// Longest project name: it names the package, the module and the `.wasm` file.
pub(crate) const MAX_PROJECT_NAME: usize = 64;

/// Names a package cannot take: Rust keywords (the library is named after the package),
/// the standard crates and the SDK, which the project depends on.
const RESERVED_NAMES: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "weir_sdk",
];

/// The SDK's source files, by path under `weir-sdk/src/`. A test checks that this is every
/// file of `sdk-guest/src/`.
const SDK_SOURCES: &[(&str, &str)] = &[
    (
        "bindings.rs",
        include_str!("../../../../../sdk-guest/src/bindings.rs"),
    ),
    (
        "config.rs",
        include_str!("../../../../../sdk-guest/src/config.rs"),
    ),
    (
        "consumer.rs",
        include_str!("../../../../../sdk-guest/src/consumer.rs"),
    ),
    (
        "dedup_filter.rs",
        include_str!("../../../../../sdk-guest/src/dedup_filter.rs"),
    ),
    (
        "error.rs",
        include_str!("../../../../../sdk-guest/src/error.rs"),
    ),
    (
        "http.rs",
        include_str!("../../../../../sdk-guest/src/http.rs"),
    ),
    (
        "imports.rs",
        include_str!("../../../../../sdk-guest/src/imports.rs"),
    ),
    (
        "lib.rs",
        include_str!("../../../../../sdk-guest/src/lib.rs"),
    ),
    (
        "log.rs",
        include_str!("../../../../../sdk-guest/src/log.rs"),
    ),
    (
        "message.rs",
        include_str!("../../../../../sdk-guest/src/message.rs"),
    ),
    (
        "services.rs",
        include_str!("../../../../../sdk-guest/src/services.rs"),
    ),
    (
        "state.rs",
        include_str!("../../../../../sdk-guest/src/state.rs"),
    ),
    (
        "testing.rs",
        include_str!("../../../../../sdk-guest/src/testing.rs"),
    ),
    (
        "tx_checker.rs",
        include_str!("../../../../../sdk-guest/src/tx_checker.rs"),
    ),
];

/// The WIT package the SDK generates its bindings from.
const WIT: &str = include_str!("../../../../../wit/plugin.wit");
/// Where the SDK's bindings look for it: `../wit` in this repository, `wit` (inside
/// `weir-sdk/`) in a project.
const WIT_PATH_IN_REPOSITORY: &str = "path: \"../wit\"";
const WIT_PATH_IN_PROJECT: &str = "path: \"wit\"";

/// The guest workspace's manifest, for the `wit-bindgen` requirement the SDK builds with.
const GUEST_WORKSPACE_MANIFEST: &str = include_str!("../../../../../plugins/Cargo.toml");
/// The guest workspace's lock file: a project starts from the dependency versions the
/// broker's own plugins are built and tested with (Cargo drops the entries it does not
/// need at the first build).
const GUEST_LOCK_FILE: &str = include_str!("../../../../../plugins/Cargo.lock");

const CARGO_TOML: &str = include_str!("templates/Cargo.toml.in");
const SDK_CARGO_TOML: &str = include_str!("templates/sdk-Cargo.toml.in");
const README: &str = include_str!("templates/README.md.in");
const GITIGNORE: &str = include_str!("templates/gitignore.in");
const CONSUMER: &str = include_str!("templates/consumer.rs.in");
const DEDUP_FILTER: &str = include_str!("templates/dedup_filter.rs.in");
const TX_CHECKER: &str = include_str!("templates/tx_checker.rs.in");

/// Why a project name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidName {
    name: String,
    reason: String,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' cannot name a plugin project: {}; use 1 to {MAX_PROJECT_NAME} characters of \
             A-Z a-z 0-9 _ -, starting with a letter",
            self.name, self.reason
        )
    }
}

impl std::error::Error for InvalidName {}

/// Checks that `name` can name the package, its library, the module and the `.wasm` file.
pub(crate) fn check_name(name: &str) -> Result<(), InvalidName> {
    let invalid = |reason: &str| {
        Err(InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > MAX_PROJECT_NAME {
        return invalid("it is too long");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return invalid("it does not start with a letter");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return invalid("it holds characters other than A-Z a-z 0-9 _ -");
    }
    if RESERVED_NAMES.contains(&crate_name(name).as_str()) {
        return invalid("it is reserved in Rust, or taken by the SDK");
    }
    Ok(())
}

/// The library's name: the package name with `-` as `_`; also the `.wasm` file's stem.
pub(crate) fn crate_name(name: &str) -> String {
    name.replace('-', "_")
}

/// A file of the project: its path relative to the project directory, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectFile {
    pub(crate) path: String,
    pub(crate) contents: Vec<u8>,
    /// Whether it is a script to run (mode 0755 on Unix).
    pub(crate) executable: bool,
}

/// The `weir bind` command that attaches a module of `world` named `name`.
pub(crate) fn bind_command(name: &str, world: PluginWorld) -> String {
    match world {
        PluginWorld::Consumer => {
            format!("weir bind consumer {name} --module {name} --topic TOPIC --group GROUP")
        }
        PluginWorld::DedupFilter => {
            format!("weir bind dedup {name} --module {name} --topic TOPIC --config PROPERTY")
        }
        PluginWorld::TxChecker => {
            format!("weir bind tx-checker {name} --module {name} --producer-group GROUP")
        }
    }
}

/// Every file of a project named `name` (already checked) implementing `world`.
pub(crate) fn project_files(name: &str, world: PluginWorld) -> Vec<ProjectFile> {
    let (code, about) = match world {
        PluginWorld::Consumer => (
            CONSUMER,
            "It logs each message of its consumer group and acks it: replace `handle_one` in \
             `src/lib.rs` with your processing.",
        ),
        PluginWorld::DedupFilter => (
            DEDUP_FILTER,
            "Two messages with the same value of a property (named by the binding's config; \
             `dedup-id` by default) are duplicates.",
        ),
        PluginWorld::TxChecker => (
            TX_CHECKER,
            "It answers every check-back with `unknown`: replace `check` in `src/lib.rs` with \
             what decides a transaction in your system.",
        ),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name(name))
            .replace("{{world}}", world.short_name())
            .replace("{{wit_world}}", world.as_str())
            .replace("{{bind}}", &bind_command(name, world))
            .replace("{{about}}", about)
    };
    let mut files = vec![
        file("Cargo.toml", fill(CARGO_TOML)),
        file("Cargo.lock", GUEST_LOCK_FILE.to_owned()),
        file(".gitignore", GITIGNORE.to_owned()),
        file("README.md", fill(README)),
        file("src/lib.rs", fill(code)),
        file(
            "weir-sdk/Cargo.toml",
            SDK_CARGO_TOML.replace("{{wit_bindgen}}", wit_bindgen_requirement()),
        ),
        file("weir-sdk/wit/plugin.wit", WIT.to_owned()),
    ];
    for (path, contents) in SDK_SOURCES {
        let contents = if *path == "bindings.rs" {
            contents.replace(WIT_PATH_IN_REPOSITORY, WIT_PATH_IN_PROJECT)
        } else {
            (*contents).to_owned()
        };
        files.push(file(&format!("weir-sdk/src/{path}"), contents));
    }
    files
}

pub(crate) fn file(path: &str, contents: String) -> ProjectFile {
    ProjectFile {
        path: path.to_owned(),
        contents: contents.into_bytes(),
        executable: false,
    }
}

/// The `wit-bindgen = ...` line of the guest workspace, which the SDK is built with.
fn wit_bindgen_requirement() -> &'static str {
    GUEST_WORKSPACE_MANIFEST
        .lines()
        .find(|line| line.starts_with("wit-bindgen ") || line.starts_with("wit-bindgen="))
        // The manifest is compiled in and a test checks the line is there.
        .unwrap_or(r#"wit-bindgen = { version = "0.46", default-features = false, features = ["macros", "realloc"] }"#)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn contents<'a>(files: &'a [ProjectFile], path: &str) -> &'a str {
        let file = files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{path} is generated"));
        std::str::from_utf8(&file.contents).expect("text")
    }

    #[test]
    fn every_sdk_source_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk-guest/src");
        let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let embedded: BTreeSet<String> = SDK_SOURCES
            .iter()
            .map(|(path, _)| (*path).to_owned())
            .collect();
        assert_eq!(
            embedded, on_disk,
            "SDK_SOURCES lists every file of sdk-guest/src"
        );
    }

    #[test]
    fn the_sdk_finds_its_wit_inside_the_project() {
        let files = project_files("demo", PluginWorld::Consumer);
        let bindings = contents(&files, "weir-sdk/src/bindings.rs");
        assert!(!bindings.contains(WIT_PATH_IN_REPOSITORY), "{bindings}");
        assert_eq!(bindings.matches(WIT_PATH_IN_PROJECT).count(), 3);
        assert!(contents(&files, "weir-sdk/wit/plugin.wit").contains("package weir:plugin"));
    }

    #[test]
    fn manifests_need_nothing_outside_the_project() {
        assert!(
            GUEST_WORKSPACE_MANIFEST
                .lines()
                .any(|line| line.starts_with("wit-bindgen "))
        );
        let files = project_files("my-plugin", PluginWorld::Consumer);
        let sdk = contents(&files, "weir-sdk/Cargo.toml");
        assert!(sdk.contains("wit-bindgen = { version = "), "{sdk}");
        assert!(!sdk.contains("workspace"), "{sdk}");
        let manifest = contents(&files, "Cargo.toml");
        assert!(manifest.contains("name = \"my-plugin\""));
        assert!(manifest.contains("weir-sdk = { path = \"weir-sdk\" }"));
        assert!(manifest.contains("[workspace]"));
        assert!(manifest.contains("panic = \"abort\""));
        assert!(
            !files
                .iter()
                .any(|f| std::str::from_utf8(&f.contents).unwrap().contains("{{")),
            "placeholders are filled"
        );
    }

    #[test]
    fn each_world_gets_its_code_and_commands() {
        for (world, export, bind) in [
            (
                PluginWorld::Consumer,
                "export_consumer!",
                "weir bind consumer demo",
            ),
            (
                PluginWorld::DedupFilter,
                "export_dedup_filter!",
                "weir bind dedup demo",
            ),
            (
                PluginWorld::TxChecker,
                "export_tx_checker!",
                "weir bind tx-checker demo",
            ),
        ] {
            let files = project_files("demo", world);
            let code = contents(&files, "src/lib.rs");
            assert!(code.contains(export), "{world}: {code}");
            assert!(code.contains("#[test]"), "{world} has a unit test");
            let readme = contents(&files, "README.md");
            assert!(readme.contains("cargo build --release --target wasm32-wasip2"));
            assert!(readme.contains("weir plugin deploy"), "{world}: {readme}");
            assert!(readme.contains(bind), "{world}: {readme}");
        }
    }

    #[test]
    fn names_are_checked() {
        for good in ["demo", "my-plugin", "a_b2", &"x".repeat(MAX_PROJECT_NAME)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "", "9lives", "-x", "a b", "a/b", "é", "fn", "test", "weir-sdk", "std",
        ] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains("A-Z a-z 0-9 _ -"), "{bad}: {err}");
        }
        assert!(check_name(&"x".repeat(MAX_PROJECT_NAME + 1)).is_err());
        assert_eq!(crate_name("my-plugin"), "my_plugin");
    }
}

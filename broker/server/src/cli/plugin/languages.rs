//! The languages `weir plugin new` writes projects in, and what differs between them: the
//! SDK a project vendors, its starting code and native tests for each world, and the
//! recipe that builds its component.
//!
//! Rust projects are written by `scaffold.rs` (a Cargo package); every other language's
//! project vendors that language's SDK from `sdk-guest/` (embedded by `build.rs`) into
//! `weir-sdk/` and the WIT package into `wit/`, and is built by the SDK's own
//! `build.sh PROJECT WORLD OUT.wasm`, which installs its pinned toolchain on first use.

use std::fmt;
use std::str::FromStr;

use weir_client::PluginWorld;

use super::scaffold::{ProjectFile, bind_command, file};

mod sdks {
    include!(concat!(env!("OUT_DIR"), "/guest_sdks.rs"));
}

/// A language a plugin project is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Language {
    /// Rust, with the `weir-sdk` crate.
    Rust,
    /// C, with the C SDK (`weir.h`).
    C,
    /// C++, with the C SDK's header-only wrapper (`weir.hpp`).
    Cpp,
    /// Python, on componentize-py.
    Python,
    /// JavaScript, on jco / componentize-js.
    Js,
    /// Go, `wasip1` with the WASI adapter.
    Go,
    /// Zig, over the C SDK.
    Zig,
}

impl Language {
    /// Every language, in the order help texts list them.
    pub(crate) const ALL: [Language; 7] = [
        Language::Rust,
        Language::C,
        Language::Cpp,
        Language::Python,
        Language::Js,
        Language::Go,
        Language::Zig,
    ];

    /// The name `--lang` takes and the manifest stores.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Python => "python",
            Language::Js => "js",
            Language::Go => "go",
            Language::Zig => "zig",
        }
    }

    /// The recipe that builds a project of this language, relative to the project.
    pub(crate) fn build_script(self) -> Option<&'static str> {
        match self {
            Language::Rust => None,
            Language::Zig => Some("weir-sdk/zig/build.sh"),
            _ => Some("weir-sdk/build.sh"),
        }
    }

    /// The command that runs the project's native tests, as its README gives it.
    fn test_command(self) -> &'static str {
        match self {
            Language::Rust => "cargo test",
            Language::C | Language::Cpp => "weir-sdk/testing/run.sh",
            Language::Zig => "weir-sdk/zig/testing/run.sh",
            Language::Python => "PYTHONPATH=weir-sdk python3 -m unittest",
            Language::Js => "npm install && npm test",
            Language::Go => "eval \"$(weir-sdk/build.sh --toolchain)\" && go test ./...",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Language {
    type Err = String;

    fn from_str(text: &str) -> Result<Language, String> {
        let lower = text.to_ascii_lowercase();
        let alias = match lower.as_str() {
            "c++" | "cxx" => "cpp",
            "javascript" | "node" => "js",
            "py" => "python",
            "golang" => "go",
            other => other,
        };
        Language::ALL
            .into_iter()
            .find(|language| language.name() == alias)
            .ok_or_else(|| {
                let names: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
                format!(
                    "cannot write a plugin in '{text}': the languages are {}",
                    names.join(", ")
                )
            })
    }
}

const WIT: &str = include_str!("../../../../../wit/plugin.wit");
const GUEST_README: &str = include_str!("templates/guest-README.md.in");
const GUEST_GITIGNORE: &str = include_str!("templates/guest-gitignore.in");

/// Templates by world, in the order consumer, dedup filter, transaction checker.
type ByWorld = [&'static str; 3];

/// What a language's project starts from: where the plugin's code goes and its template
/// per world, where its native test goes and the tests per world (when the language's
/// project has its own), and files every project of the language has.
struct Starter {
    code: (&'static str, ByWorld),
    test: Option<(&'static str, ByWorld)>,
    shared: &'static [(&'static str, &'static str)],
}

macro_rules! templates {
    ($($path:literal),*) => {
        [$(include_str!(concat!("templates/", $path, ".in"))),*]
    };
}

fn starter(language: Language) -> Option<Starter> {
    let starter = match language {
        Language::Rust => return None,
        Language::Python => Starter {
            code: (
                "app.py",
                templates!("python/consumer.py", "python/dedup.py", "python/tx.py"),
            ),
            test: Some((
                "test_app.py",
                templates!(
                    "python/consumer_test.py",
                    "python/dedup_test.py",
                    "python/tx_test.py"
                ),
            )),
            shared: &[],
        },
        Language::Js => Starter {
            code: (
                "index.js",
                templates!("js/consumer.js", "js/dedup.js", "js/tx.js"),
            ),
            test: Some((
                "test/plugin.test.js",
                templates!("js/consumer.test.js", "js/dedup.test.js", "js/tx.test.js"),
            )),
            shared: &[("package.json", include_str!("templates/js/package.json.in"))],
        },
        Language::Go => Starter {
            code: (
                "main.go",
                templates!("go/consumer.go", "go/dedup.go", "go/tx.go"),
            ),
            test: Some((
                "main_test.go",
                templates!("go/consumer_test.go", "go/dedup_test.go", "go/tx_test.go"),
            )),
            shared: &[("go.mod", include_str!("templates/go/go.mod.in"))],
        },
        Language::C => Starter {
            code: (
                "src/plugin.c",
                templates!("c/consumer.c", "c/dedup.c", "c/tx.c"),
            ),
            test: Some((
                "tests/test_plugin.c",
                templates!("c/consumer_test.c", "c/dedup_test.c", "c/tx_test.c"),
            )),
            shared: &[],
        },
        Language::Cpp => Starter {
            code: (
                "src/plugin.cpp",
                templates!("cpp/consumer.cpp", "cpp/dedup.cpp", "cpp/tx.cpp"),
            ),
            test: Some((
                "tests/test_plugin.cpp",
                templates!(
                    "cpp/consumer_test.cpp",
                    "cpp/dedup_test.cpp",
                    "cpp/tx_test.cpp"
                ),
            )),
            shared: &[],
        },
        Language::Zig => Starter {
            code: (
                "src/main.zig",
                templates!("zig/consumer.zig", "zig/dedup.zig", "zig/tx.zig"),
            ),
            test: Some((
                "tests/main_test.zig",
                templates!(
                    "zig/consumer_test.zig",
                    "zig/dedup_test.zig",
                    "zig/tx_test.zig"
                ),
            )),
            shared: &[],
        },
    };
    Some(starter)
}

/// The starting code of a world in a language: (path in the project, template), the
/// plugin first, then its native test when the language has one in the project.
fn starting_code(language: Language, world: PluginWorld) -> Vec<(&'static str, &'static str)> {
    let Some(starter) = starter(language) else {
        return Vec::new();
    };
    let index = match world {
        PluginWorld::Consumer => 0,
        PluginWorld::DedupFilter => 1,
        PluginWorld::TxChecker => 2,
    };
    let mut files = vec![(starter.code.0, starter.code.1[index])];
    files.extend(starter.test.map(|(path, tests)| (path, tests[index])));
    files.extend(starter.shared.iter().copied());
    files
}

/// The SDK files a project of `language` vendors, by path under `weir-sdk/`.
fn sdk_files(language: Language) -> Vec<(String, &'static [u8])> {
    let files = |sdk: &'static [(&'static str, &'static [u8])], under: &str| {
        sdk.iter()
            .map(move |(path, bytes)| (format!("{under}{path}"), *bytes))
            .collect::<Vec<_>>()
    };
    match language {
        Language::Rust => Vec::new(),
        Language::C | Language::Cpp => files(sdks::C_SDK, ""),
        Language::Zig => {
            let mut all = files(sdks::C_SDK, "");
            all.extend(files(sdks::ZIG_SDK, "zig/"));
            all
        }
        Language::Python => files(sdks::PYTHON_SDK, ""),
        Language::Js => files(sdks::JS_SDK, ""),
        Language::Go => {
            // net/http in a Go plugin builds against the WIT of wasi:http, kept once in
            // the Python SDK's wasi-wit/.
            let mut all = files(sdks::GO_SDK, "");
            all.extend(
                files(sdks::PYTHON_SDK, "")
                    .into_iter()
                    .filter(|(path, _)| path.starts_with("wasi-wit/")),
            );
            all
        }
    }
}

/// The files of a new project of a language other than Rust.
pub(crate) fn guest_project_files(
    name: &str,
    language: Language,
    world: PluginWorld,
) -> Vec<ProjectFile> {
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{world}}", world.short_name())
            .replace("{{wit_world}}", world.as_str())
            .replace("{{language}}", language.name())
            .replace("{{bind}}", &bind_command(name, world))
            .replace("{{test}}", language.test_command())
    };
    let mut files = vec![
        file("README.md", fill(GUEST_README)),
        file(".gitignore", GUEST_GITIGNORE.to_owned()),
        file("wit/plugin.wit", WIT.to_owned()),
    ];
    for (path, template) in starting_code(language, world) {
        files.push(file(path, fill(template)));
    }
    for (path, bytes) in sdk_files(language) {
        let executable = path.ends_with(".sh");
        files.push(ProjectFile {
            path: format!("weir-sdk/{path}"),
            contents: bytes.to_vec(),
            executable,
        });
    }
    files
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Every file of a directory, by build.rs's rules (its `SKIPPED_DIRS`, hidden files
    /// but `.gitignore` left out), relative with `/`.
    fn on_disk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                if !sdks::SKIPPED_DIRS.contains(&name.as_str()) && !name.starts_with('.') {
                    on_disk(&path, root, out);
                }
            } else if name == ".gitignore" || !name.starts_with('.') {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(relative.replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_of_each_sdk_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk-guest");
        for (sdk, dir) in [
            (sdks::C_SDK, "c"),
            (sdks::PYTHON_SDK, "python"),
            (sdks::JS_SDK, "js"),
            (sdks::GO_SDK, "go"),
            (sdks::ZIG_SDK, "zig"),
        ] {
            let mut files = BTreeSet::new();
            on_disk(&root.join(dir), &root.join(dir), &mut files);
            let embedded: BTreeSet<String> = sdk.iter().map(|(p, _)| (*p).to_owned()).collect();
            assert_eq!(
                embedded, files,
                "sdk-guest/{dir} changed since the build: touch broker/server/build.rs"
            );
        }
    }

    #[test]
    fn languages_parse_by_name_and_alias() {
        for language in Language::ALL {
            assert_eq!(language.name().parse::<Language>(), Ok(language));
        }
        assert_eq!("C++".parse::<Language>(), Ok(Language::Cpp));
        assert_eq!("javascript".parse::<Language>(), Ok(Language::Js));
        let err = "cobol".parse::<Language>().unwrap_err();
        assert!(err.contains("rust, c, cpp, python, js, go, zig"), "{err}");
    }

    #[test]
    fn a_project_has_code_for_its_world_the_sdk_and_the_contract() {
        for language in Language::ALL.into_iter().filter(|l| *l != Language::Rust) {
            for world in PluginWorld::ALL {
                let files = guest_project_files("my-plugin", language, world);
                let paths: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
                assert!(paths.contains("wit/plugin.wit"), "{language} {world}");
                let script = language.build_script().unwrap();
                let recipe = files.iter().find(|f| f.path == script);
                assert!(recipe.is_some_and(|f| f.executable), "{language}: {script}");
                let code = &files[3];
                let text = std::str::from_utf8(&code.contents).unwrap();
                assert!(!text.contains("{{"), "{language} {world}: {text}");
                assert!(
                    text.contains("my-plugin") || language == Language::Zig,
                    "{text}"
                );
                let (test, command) = (&files[4], language.test_command());
                let text = std::str::from_utf8(&test.contents).unwrap();
                assert!(test.path.contains("test"), "{language}: {}", test.path);
                assert!(!text.contains("{{name}}"), "{language} {world}: {text}");
                let readme = std::str::from_utf8(&files[0].contents).unwrap();
                assert!(readme.contains(world.as_str()) && !readme.contains("{{"));
                assert!(readme.contains(command), "{language}: {readme}");
                // A test runner the command names is vendored, executable.
                let runner = command
                    .split_whitespace()
                    .find(|word| word.starts_with("weir-sdk/") && word.ends_with(".sh"));
                if let Some(runner) = runner {
                    let vendored = files.iter().find(|f| f.path == runner);
                    assert!(
                        vendored.is_some_and(|f| f.executable),
                        "{language}: {runner}"
                    );
                }
            }
        }
    }

    #[test]
    fn go_and_python_projects_carry_the_wit_of_wasi_http() {
        for language in [Language::Go, Language::Python] {
            let files = guest_project_files("my-plugin", language, PluginWorld::TxChecker);
            for wit in ["http.wit", "io.wit", "clocks.wit"] {
                let path = format!("weir-sdk/wasi-wit/{wit}");
                assert!(
                    files.iter().any(|f| f.path == path),
                    "{language}: no {path}"
                );
            }
        }
    }
}

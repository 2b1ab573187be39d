//! The plugin commands of the `weir` command-line client against a running broker,
//! through the real binary: `weir module push|list|describe|rm`, `weir bind
//! consumer|list|describe|pause|resume|rm`, `weir status`, the errors of bad uploads and
//! removals, and `weir plugin new | build | deploy`, whose projects (Rust, and every
//! other language for every world) are built, tested natively, uploaded, bound, and
//! consume.
//!
//! The components come from `plugins/target/wasm32-wasip2/release/`, built by
//! `scripts/test`; scaffolded projects are built into `plugins/target/scaffold-tests/`, so
//! their dependencies are compiled once across runs.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::{Broker, assert_cli_exit_1, assert_cli_succeeded, run_cli};
use weir_client::OutgoingMessage;

/// Polls of a condition before the test gives up, and the pause between them.
const POLLS: u32 = 600;
const POLL_PAUSE: Duration = Duration::from_millis(50);
/// Bound on building a scaffolded project (a cold build compiles wit-bindgen).
const CARGO_BUILD_LIMIT: Duration = Duration::from_secs(900);

/// Runs `weir ARGS... --server URL` and returns its output.
fn weir(broker: &Broker, args: &[&str]) -> Output {
    let url = broker.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--server", &url]);
    run_cli(&all, b"")
}

/// Runs a command that must succeed; returns its stdout.
#[track_caller]
fn ok(broker: &Broker, args: &[&str]) -> String {
    let output = weir(broker, args);
    assert_cli_succeeded(args, &output);
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Runs a command with `--json` that must succeed and parses its stdout.
#[track_caller]
fn ok_json(broker: &Broker, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let text = ok(broker, &all);
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("weir {args:?} --json: {err}\n{text}"))
}

/// Runs a command that must fail with exit code 1 and print nothing on stdout; returns
/// its stderr.
#[track_caller]
fn fails(broker: &Broker, args: &[&str]) -> String {
    let output = weir(broker, args);
    let stderr = assert_cli_exit_1(args, &output);
    assert!(output.stdout.is_empty(), "a failure prints on stderr only");
    stderr
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A component built by `scripts/test`.
fn component(file: &str) -> String {
    let path = repository()
        .join("plugins/target/wasm32-wasip2/release")
        .join(file);
    assert!(
        path.is_file(),
        "{} is missing: build the plugins first (./scripts/test does)",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// Creates `topic` and sends `count` messages to it.
fn send(broker: &Broker, topic: &str, count: usize, create: bool) {
    let client = broker.client();
    runtime().block_on(async {
        if create {
            client
                .create_topic(topic, Some(2))
                .await
                .expect("create the topic");
        }
        for i in 0..count {
            client
                .send(topic, &OutgoingMessage::new(format!("message {i}")))
                .await
                .expect("send");
        }
    });
}

/// The group's lag as `weir lag` reports it.
fn lag(broker: &Broker, group: &str) -> u64 {
    ok_json(broker, &["lag", group])["total"]
        .as_u64()
        .expect("lag has a total")
}

/// Waits (bounded) until `weir lag GROUP` reports nothing left.
#[track_caller]
fn wait_until_consumed(broker: &Broker, group: &str) {
    for _ in 0..POLLS {
        if lag(broker, group) == 0 {
            return;
        }
        thread::sleep(POLL_PAUSE);
    }
    panic!(
        "group '{group}' still lags by {} after {:?}\n{}",
        lag(broker, group),
        POLL_PAUSE * POLLS,
        ok(broker, &["status", "--interval-ms", "0"])
    );
}

/// The binding's status in `weir status --json`.
fn binding_status(broker: &Broker, name: &str) -> Value {
    let status = ok_json(broker, &["status"]);
    status["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .find(|binding| binding["config"]["name"] == name)
        .unwrap_or_else(|| panic!("binding '{name}' in {status}"))
        .clone()
}

#[test]
fn modules_and_bindings_through_the_cli() {
    let broker = Broker::start(&[]);
    let ack_all = component("ack_all.wasm");

    let pushed = ok(
        &broker,
        &["module", "push", "ack", &ack_all, "--world", "consumer"],
    );
    assert!(
        pushed.starts_with("pushed module 'ack' version 1 (consumer-plugin)\n"),
        "{pushed}"
    );
    for field in ["sha256", "size", "compiled in"] {
        assert!(pushed.contains(field), "{field} in {pushed}");
    }
    // The same bytes again make no new version; the world is that of the module.
    let again = ok_json(&broker, &["module", "push", "ack", &ack_all]);
    assert_eq!(again["version"], 1);
    assert_eq!(again["created"], false);

    let list = ok_json(&broker, &["module", "list"]);
    let modules = list["modules"].as_array().expect("modules");
    assert_eq!(modules.len(), 1, "{list}");
    assert_eq!(modules[0]["name"], "ack");
    assert_eq!(modules[0]["world"], "consumer-plugin");
    let described = ok(&broker, &["module", "describe", "ack"]);
    assert!(
        described.contains("weir:plugin/consumer@0.1.0"),
        "{described}"
    );

    send(&broker, "orders", 0, true);
    let bound = ok(
        &broker,
        &[
            "bind",
            "consumer",
            "acker",
            "--module",
            "ack",
            "--topic",
            "orders",
            "--group",
            "billing",
            "--batch-size",
            "8",
        ],
    );
    assert!(
        bound.starts_with("bound 'acker': consumer module 'ack' on group billing on orders\n"),
        "{bound}"
    );
    send(&broker, "orders", 20, false);
    wait_until_consumed(&broker, "billing");
    let binding = binding_status(&broker, "acker");
    assert_eq!(binding["metrics"]["messages"], 20, "{binding}");
    assert_eq!(binding["metrics"]["acked"], 20, "{binding}");
    let status = ok(&broker, &["status", "--interval-ms", "100"]);
    let row = status
        .lines()
        .find(|line| line.starts_with("acker "))
        .unwrap_or_else(|| panic!("a row for the binding in\n{status}"));
    for cell in [
        "consumer",
        "group billing on orders",
        "ack@1",
        "running",
        " 20 ",
    ] {
        assert!(row.contains(cell), "{cell:?} in {row:?}");
    }
    assert!(status.contains("MSG/S"), "{status}");
    let listed = ok_json(&broker, &["bind", "list"]);
    assert_eq!(listed["bindings"][0]["config"]["name"], "acker");

    // Paused, the binding leaves new messages alone; resumed, it consumes them.
    let paused = ok(&broker, &["bind", "pause", "acker"]);
    assert!(paused.starts_with("paused binding 'acker'"), "{paused}");
    let described = ok_json(&broker, &["bind", "describe", "acker"]);
    assert_eq!(described["config"]["run"]["state"], "paused");
    send(&broker, "orders", 5, false);
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lag(&broker, "billing"),
        5,
        "a paused binding consumes nothing"
    );
    let resumed = ok(&broker, &["bind", "resume", "acker"]);
    assert!(resumed.contains("(running)"), "{resumed}");
    wait_until_consumed(&broker, "billing");

    // A module in use cannot be removed; the error names the binding using it.
    let refused = fails(&broker, &["module", "rm", "ack"]);
    assert!(refused.contains("MODULE_IN_USE"), "{refused}");
    assert!(refused.contains("`weir bind rm acker`"), "{refused}");
    let removed = ok(&broker, &["bind", "rm", "acker"]);
    assert!(removed.starts_with("removed binding 'acker'"), "{removed}");
    let missing = fails(&broker, &["bind", "describe", "acker"]);
    assert!(missing.contains("BINDING_NOT_FOUND"), "{missing}");

    // Other bytes make version 2; one version can go, then the rest.
    let dir = tempfile::tempdir().expect("temporary directory");
    let changed = dir.path().join("ack-2.wasm");
    std::fs::write(
        &changed,
        with_custom_section(&std::fs::read(&ack_all).expect("read")),
    )
    .expect("write the component");
    let changed = changed.to_string_lossy().into_owned();
    let pushed = ok(&broker, &["module", "push", "ack", &changed]);
    assert!(
        pushed.starts_with("pushed module 'ack' version 2"),
        "{pushed}"
    );
    let removed = ok(&broker, &["module", "rm", "ack", "--version", "1"]);
    assert_eq!(removed, "removed version 1 of module 'ack'\n");
    let described = ok_json(&broker, &["module", "describe", "ack"]);
    assert_eq!(described["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(described["versions"][0]["version"], 2);
    ok(&broker, &["module", "rm", "ack"]);
    let list = ok_json(&broker, &["module", "list"]);
    assert_eq!(list["modules"], Value::Array(vec![]), "{list}");
}

/// `component` with a custom section appended: the same behaviour, other bytes.
fn with_custom_section(component: &[u8]) -> Vec<u8> {
    const NAME: &[u8] = b"weir-test";
    let payload_len = 1 + NAME.len() + 1;
    let mut out = component.to_vec();
    // Section id 0 (custom), its size, the name's length and the name, one payload byte;
    // every length is below 128, so each LEB128 is one byte.
    out.extend_from_slice(&[0, payload_len as u8, NAME.len() as u8]);
    out.extend_from_slice(NAME);
    out.push(1);
    out
}

#[test]
fn bad_uploads_and_bindings_fail_with_a_clear_message() {
    let broker = Broker::start(&[]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not WebAssembly").expect("write the file");
    let garbage = garbage.to_string_lossy().into_owned();

    let err = fails(
        &broker,
        &["module", "push", "bad", &garbage, "--world", "consumer"],
    );
    assert!(
        err.starts_with("error: cannot push module 'bad': NOT_A_COMPONENT"),
        "{err}"
    );
    assert!(
        err.contains("hint: upload a WebAssembly component"),
        "{err}"
    );

    // A consumer component claimed as a transaction checker lacks the export.
    let ack_all = component("ack_all.wasm");
    let err = fails(
        &broker,
        &["module", "push", "c", &ack_all, "--world", "tx-checker"],
    );
    assert!(err.contains("MISSING_EXPORT"), "{err}");

    // An unknown world is a usage error, refused before anything is sent.
    let usage = weir(
        &broker,
        &["module", "push", "c", &ack_all, "--world", "filter"],
    );
    assert_eq!(usage.status.code(), Some(2));
    let err = String::from_utf8_lossy(&usage.stderr);
    assert!(err.contains("unknown world 'filter'"), "{err}");
    // Without --world, the broker tells the world from the component's exports.
    let pushed = ok_json(&broker, &["module", "push", "new-one", &ack_all]);
    assert_eq!(pushed["world"], "consumer-plugin", "{pushed}");
    ok(&broker, &["module", "rm", "new-one"]);
    // An import the broker does not provide is named.
    let err = fails(
        &broker,
        &[
            "module",
            "push",
            "foreign",
            &component("foreign_import.wasm"),
        ],
    );
    assert!(
        err.contains("UNSUPPORTED_IMPORT") && err.contains("example:missing/clock"),
        "{err}"
    );
    let err = fails(
        &broker,
        &[
            "module",
            "push",
            "c",
            "/nonexistent/x.wasm",
            "--world",
            "consumer",
        ],
    );
    assert!(
        err.contains("cannot read the component file /nonexistent/x.wasm"),
        "{err}"
    );

    send(&broker, "orders", 0, true);
    let err = fails(
        &broker,
        &[
            "bind", "consumer", "b", "--module", "nope", "--topic", "orders", "--group", "g",
        ],
    );
    assert!(err.contains("MODULE_NOT_FOUND"), "{err}");
    assert!(err.contains("`weir module list`"), "{err}");
    let modules = ok_json(&broker, &["module", "list"]);
    assert_eq!(
        modules["modules"],
        Value::Array(vec![]),
        "nothing was registered"
    );
}

#[test]
fn every_kind_of_binding_as_the_guide_shows() {
    let broker = Broker::start(&[]);
    for (name, file, world) in [
        ("order-audit", "ack_all.wasm", "consumer"),
        ("forwarder", "forwarder.wasm", "consumer"),
        ("json-dedup", "json_dedup.wasm", "dedup-filter"),
        ("http-tx-checker", "http_tx_checker.wasm", "tx-checker"),
    ] {
        ok(
            &broker,
            &["module", "push", name, &component(file), "--world", world],
        );
    }
    send(&broker, "orders", 0, true);
    send(&broker, "orders-eu", 0, true);
    ok(&broker, &["producer-group", "put", "shop"]);

    // The commands of docs/plugins.md, "Binding".
    let commands: [&[&str]; 5] = [
        &[
            "bind",
            "consumer",
            "order-audit",
            "--module",
            "order-audit",
            "--topic",
            "orders",
            "--group",
            "audit",
            "--batch-size",
            "64",
            "--concurrency",
            "2",
            "--config",
            "audit",
        ],
        &[
            "bind",
            "consumer",
            "to-eu",
            "--module",
            "forwarder",
            "--topic",
            "orders",
            "--group",
            "eu",
            "--publish",
            "--config",
            r#"{"to":"orders-eu","add_properties":{"region":"eu"}}"#,
        ],
        &[
            "bind",
            "dedup",
            "orders-dedup",
            "--module",
            "json-dedup",
            "--topic",
            "orders",
            "--config",
            "order.id",
            "--window-ms",
            "600000",
        ],
        &[
            "bind",
            "dedup",
            "audit-dedup",
            "--module",
            "json-dedup",
            "--group",
            "audit",
            "--config",
            "order.id",
        ],
        &[
            "bind",
            "tx-checker",
            "shop-checker",
            "--module",
            "http-tx-checker",
            "--producer-group",
            "shop",
            "--allow-http",
            "http://127.0.0.1:9000/",
            "--config",
            "http://127.0.0.1:9000/tx/{transaction}",
        ],
    ];
    for command in commands {
        let bound = ok(&broker, command);
        assert!(
            bound.starts_with(&format!("bound '{}'", command[2])),
            "{bound}"
        );
    }
    let listed = ok_json(&broker, &["bind", "list"]);
    let mut kinds: Vec<(String, String)> = listed["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .map(|b| {
            let config = &b["config"];
            (
                config["name"].as_str().unwrap_or_default().to_owned(),
                config["target"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("audit-dedup".into(), "dedup-filter".into()),
            ("order-audit".into(), "consumer".into()),
            ("orders-dedup".into(), "dedup-filter".into()),
            ("shop-checker".into(), "tx-checker".into()),
            ("to-eu".into(), "consumer".into()),
        ]
    );
    let checker = ok_json(&broker, &["bind", "describe", "shop-checker"]);
    assert_eq!(
        checker["config"]["grants"]["http_allowlist"][0],
        "http://127.0.0.1:9000/"
    );

    // Missing a place, or naming both places of a dedup filter, is a usage error.
    for command in [
        &["bind", "dedup", "d", "--module", "json-dedup"][..],
        &[
            "bind",
            "dedup",
            "d",
            "--module",
            "json-dedup",
            "--topic",
            "t",
            "--group",
            "g",
        ],
        &["bind", "tx-checker", "c", "--module", "http-tx-checker"],
    ] {
        assert_eq!(weir(&broker, command).status.code(), Some(2), "{command:?}");
    }

    // --update replaces the settings; without it, the name is taken.
    let bind_to_eu = [
        "bind",
        "consumer",
        "to-eu",
        "--module",
        "forwarder",
        "--topic",
        "orders",
        "--group",
        "eu",
    ];
    let taken = fails(&broker, &bind_to_eu);
    assert!(
        taken.contains("BINDING_EXISTS") && taken.contains("--update"),
        "{taken}"
    );
    let config_file = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(config_file.path(), "orders-eu").expect("write the config");
    let updated = ok(
        &broker,
        &[
            &bind_to_eu[..],
            &[
                "--publish",
                "--config-file",
                config_file.path().to_str().expect("UTF-8"),
                "--update",
            ],
        ]
        .concat(),
    );
    assert!(updated.starts_with("updated 'to-eu'"), "{updated}");
    let described = ok_json(&broker, &["bind", "describe", "to-eu"]);
    assert_eq!(described["config"]["config"], "orders-eu");
    assert_eq!(described["config"]["run"]["state"], "running");
}

/// Runs `command` to completion, bounded by `limit`.
fn run_bounded(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command");
    // Drained on threads, so that a chatty command never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
        buf
    });
    let err = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
        buf
    });
    let pause = Duration::from_millis(100);
    for _ in 0..(limit.as_millis() / pause.as_millis()) {
        if let Some(status) = child.try_wait().expect("poll the command") {
            return Output {
                status,
                stdout: out.join().expect("stdout reader"),
                stderr: err.join().expect("stderr reader"),
            };
        }
        thread::sleep(pause);
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{command:?} did not finish within {limit:?}");
}

#[test]
fn the_token_goes_with_every_command() {
    const TOKEN: &str = "s3cret-admin-0001";
    let config = tempfile::tempdir().expect("temporary directory");
    let path = config.path().join("weir.toml");
    std::fs::write(
        &path,
        format!("[[auth.tokens]]\nname = \"ops\"\ntoken = \"{TOKEN}\"\nadmin = true\n"),
    )
    .expect("write the configuration");
    let broker = Broker::start(&["--config", path.to_str().expect("a UTF-8 path")]);
    let url = broker.url();

    let err = fails(&broker, &["module", "list"]);
    assert!(err.contains("UNAUTHORIZED"), "{err}");
    assert!(err.contains("--token TOKEN or set WEIR_TOKEN"), "{err}");
    // Before or after the command, or from the environment.
    ok(&broker, &["--token", TOKEN, "module", "list"]);
    ok(&broker, &["status", "--interval-ms", "0", "--token", TOKEN]);
    let from_env = run_bounded(
        Command::new(support::WEIR)
            .args(["bind", "list", "--json", "--server", &url])
            .env_remove("WEIR_SERVER")
            .env_remove("WEIR_CONFIG")
            .env("WEIR_TOKEN", TOKEN),
        Duration::from_secs(30),
    );
    assert!(from_env.status.success(), "{from_env:?}");
    let wrong = fails(
        &broker,
        &["--token", "not-the-token-0000", "module", "list"],
    );
    assert!(wrong.contains("UNAUTHORIZED"), "{wrong}");
}

/// Runs `weir plugin ARGS...` in `dir` (no broker needed), bounded like a build.
fn plugin_command(dir: &Path, args: &[&str], broker: Option<&Broker>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command.arg("plugin").args(args).current_dir(dir);
    if let Some(broker) = broker {
        command.args(["--server", &broker.url()]);
    }
    run_bounded(&mut command, CARGO_BUILD_LIMIT)
}

#[track_caller]
fn assert_succeeded(what: &str, output: &Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_scaffolded_plugin_builds_and_consumes() {
    let broker = Broker::start(&[]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let project = dir.path().join("demo");
    let project_arg = project.to_string_lossy().into_owned();

    let refused = run_cli(&["plugin", "new", "demo", "--lang", "cobol"], b"");
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("rust, c, cpp, python, js, go, zig"), "{err}");
    let wrote = run_cli(
        &[
            "plugin",
            "new",
            "demo",
            "--lang",
            "rust",
            "--dir",
            &project_arg,
        ],
        b"",
    );
    assert!(wrote.status.success(), "{wrote:?}");
    let wrote = String::from_utf8_lossy(&wrote.stdout);
    assert!(wrote.contains("weir plugin build"), "{wrote}");
    assert!(project.join("weir-sdk/wit/plugin.wit").is_file());
    assert!(project.join("weir-plugin.toml").is_file());
    let again = run_cli(
        &[
            "plugin",
            "new",
            "demo",
            "--lang",
            "rust",
            "--dir",
            &project_arg,
        ],
        b"",
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));

    // One command builds the component and uploads it, as the project's README says.
    let target_dir = repository().join("plugins/target/scaffold-tests");
    let mut deploy = Command::new(env!("CARGO_BIN_EXE_weir"));
    deploy
        .args(["plugin", "deploy", "--server", &broker.url()])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target_dir);
    let pushed = assert_succeeded(
        "weir plugin deploy",
        &run_bounded(&mut deploy, CARGO_BUILD_LIMIT),
    );
    assert!(
        pushed.starts_with("pushed module 'demo' version 1"),
        "{pushed}"
    );
    assert!(project.join("target/demo.wasm").is_file());
    send(&broker, "orders", 0, true);
    ok(
        &broker,
        &[
            "bind", "consumer", "demo", "--module", "demo", "--topic", "orders", "--group", "g",
        ],
    );
    send(&broker, "orders", 3, false);
    wait_until_consumed(&broker, "g");
    let binding = binding_status(&broker, "demo");
    assert_eq!(binding["metrics"]["acked"], 3, "{binding}");
    assert_eq!(binding["metrics"]["failed_calls"], 0, "{binding}");
}

/// The project's native tests, as its README gives them.
fn native_tests(language: &str, project: &Path) -> Option<Command> {
    let script = match language {
        "c" | "cpp" => "weir-sdk/testing/run.sh",
        "zig" => "weir-sdk/zig/testing/run.sh",
        "python" => "PYTHONPATH=weir-sdk python3 -m unittest",
        "js" => "npm install --no-audit --no-fund --silent && node --test test/",
        "go" => "eval \"$(weir-sdk/build.sh --toolchain)\" && go test ./...",
        _ => return None,
    };
    let mut command = Command::new("bash");
    command.args(["-c", script]).current_dir(project);
    Some(command)
}

#[test]
fn scaffolded_plugins_in_every_language_build_test_and_consume() {
    let broker = Broker::start(&[]);
    let dir = tempfile::tempdir().expect("temporary directory");
    send(&broker, "orders", 0, true);
    for language in ["c", "cpp", "zig", "js", "go", "python"] {
        for world in ["consumer", "dedup-filter", "tx-checker"] {
            let name = format!("demo-{language}-{world}");
            let new = plugin_command(
                dir.path(),
                &["new", &name, "--lang", language, "--world", world],
                None,
            );
            assert_succeeded(&format!("weir plugin new {name}"), &new);
            let project = dir.path().join(&name);
            if let Some(mut tests) = native_tests(language, &project) {
                let tested = run_bounded(&mut tests, CARGO_BUILD_LIMIT);
                assert_succeeded(&format!("the native tests of {name}"), &tested);
            }
            if world != "consumer" {
                let built = plugin_command(&project, &["build", "--json"], None);
                let built: Value =
                    serde_json::from_str(&assert_succeeded(&format!("build {name}"), &built))
                        .expect("build --json prints JSON");
                assert!(built["bytes"].as_u64().unwrap_or(0) > 0, "{built}");
                continue;
            }
            let deployed = plugin_command(&project, &["deploy"], Some(&broker));
            let deployed = assert_succeeded(&format!("weir plugin deploy {name}"), &deployed);
            assert!(
                deployed.starts_with(&format!("pushed module '{name}' version 1")),
                "{deployed}"
            );
            let group = format!("g-{language}");
            ok(
                &broker,
                &[
                    "bind", "consumer", &name, "--module", &name, "--topic", "orders", "--group",
                    &group,
                ],
            );
        }
    }
    send(&broker, "orders", 3, false);
    for language in ["c", "cpp", "zig", "js", "go", "python"] {
        wait_until_consumed(&broker, &format!("g-{language}"));
        let binding = binding_status(&broker, &format!("demo-{language}-consumer"));
        assert_eq!(binding["metrics"]["messages"], 3, "{binding}");
        assert_eq!(binding["metrics"]["failed_calls"], 0, "{binding}");
    }
}

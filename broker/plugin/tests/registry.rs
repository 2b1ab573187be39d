//! The module registry with real components: bad uploads are refused with the right
//! typed error, good ones get versions and hashes, and modules come back after a
//! restart from their precompiled artifacts.

mod support;

use support::{Env, component, host_config, quick_limits};
use weir_plugin::{ModuleRejection, PluginError, World};

fn rejection(result: Result<weir_plugin::ModuleInfo, PluginError>) -> ModuleRejection {
    match result {
        Err(PluginError::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_and_core_modules_are_not_components() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(matches!(
        rejection(env.host.upload("r", World::Consumer, random).await),
        ModuleRejection::NotAComponent { .. }
    ));
    // The smallest core module: `(module)`.
    let core = b"\0asm\x01\0\0\0".to_vec();
    match rejection(env.host.upload("c", World::Consumer, core).await) {
        ModuleRejection::NotAComponent { reason } => assert!(reason.contains("core"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(env.host.modules().is_empty());
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_of_another_world_lacks_the_interface() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    let err = rejection(
        env.host
            .upload("a", World::TxChecker, component("ack_all"))
            .await,
    );
    assert_eq!(
        err,
        ModuleRejection::MissingInterface {
            world: World::TxChecker,
            interface: "weir:plugin/tx-checker@0.1.0",
        }
    );
    let err = rejection(
        env.host
            .upload("d", World::Consumer, component("json_dedup"))
            .await,
    );
    assert!(matches!(
        err,
        ModuleRejection::MissingInterface {
            world: World::Consumer,
            ..
        }
    ));
    // Nothing of a refused upload is kept.
    assert_eq!(
        std::fs::read_dir(dir.path().join("modules"))
            .unwrap()
            .count(),
        0
    );
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_broken_components_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path(), 5);
    config.max_module_bytes = 1024;
    let env = Env::open_with(dir.path(), quick_limits(), config).await;
    let bytes = component("ack_all");
    let size = bytes.len();
    assert_eq!(
        rejection(env.host.upload("a", World::Consumer, bytes.clone()).await),
        ModuleRejection::TooLarge { size, limit: 1024 }
    );
    env.close().await;

    let env = Env::open(dir.path()).await;
    let mut broken = bytes[..size / 2].to_vec();
    broken.extend_from_slice(&[0xff; 64]);
    assert!(matches!(
        rejection(env.host.upload("a", World::Consumer, broken).await),
        ModuleRejection::CompileFailed { .. }
    ));
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_get_versions_and_the_same_bytes_again_are_the_same_version() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    let ack = component("ack_all");
    let v1 = env
        .host
        .upload("m", World::Consumer, ack.clone())
        .await
        .unwrap();
    assert_eq!((v1.version, v1.size), (1, ack.len() as u64));
    assert_eq!(v1.sha256.len(), 64);
    let again = env
        .host
        .upload("m", World::Consumer, ack.clone())
        .await
        .unwrap();
    assert_eq!(again, v1);
    let v2 = env
        .host
        .upload("m", World::Consumer, component("trap"))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_ne!(v2.sha256, v1.sha256);
    // Another name with the same bytes shares the files.
    let other = env.host.upload("n", World::Consumer, ack).await.unwrap();
    assert_eq!(other.sha256, v1.sha256);
    assert_eq!(env.host.modules().len(), 3);
    assert_eq!(env.host.module("m").unwrap().len(), 2);
    assert!(matches!(
        env.host
            .upload("m", World::TxChecker, component("http_tx_checker"))
            .await,
        Err(PluginError::WorldChanged {
            existing: World::Consumer,
            uploaded: World::TxChecker,
            ..
        })
    ));
    assert!(matches!(
        env.host.upload("bad name", World::Consumer, vec![]).await,
        Err(PluginError::InvalidName { .. })
    ));

    let modules = dir.path().join("modules");
    env.host.delete_module("m", Some(1)).await.unwrap();
    // Still used by module 'n'.
    assert!(modules.join(format!("{}.cwasm", v1.sha256)).exists());
    env.host.delete_module("n", None).await.unwrap();
    assert!(!modules.join(format!("{}.cwasm", v1.sha256)).exists());
    assert!(matches!(
        env.host.module("n"),
        Err(PluginError::ModuleNotFound { .. })
    ));
    assert_eq!(env.host.modules().len(), 1);
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_come_back_after_a_restart_from_their_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    let info = env
        .host
        .upload("m", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    env.close().await;

    // Without the uploaded bytes, only the precompiled artifact can bring it back.
    let modules = dir.path().join("modules");
    let wasm = modules.join(format!("{}.wasm", info.sha256));
    let saved = std::fs::read(&wasm).unwrap();
    std::fs::remove_file(&wasm).unwrap();
    std::fs::write(modules.join("0123.wasm"), b"orphan").unwrap();
    let env = Env::open(dir.path()).await;
    let status = env.host.module("m").unwrap();
    assert_eq!(status[0].info, info);
    assert_eq!(status[0].error, None);
    assert!(!modules.join("0123.wasm").exists(), "orphans are removed");
    env.close().await;

    // A corrupt artifact is not loaded: the module is compiled again from its bytes.
    std::fs::write(&wasm, saved).unwrap();
    let cwasm = modules.join(format!("{}.cwasm", info.sha256));
    let mut artifact = std::fs::read(&cwasm).unwrap();
    let middle = artifact.len() / 2;
    artifact[middle] ^= 0xff;
    std::fs::write(&cwasm, &artifact).unwrap();
    let env = Env::open(dir.path()).await;
    assert_eq!(env.host.module("m").unwrap()[0].error, None);
    assert_ne!(std::fs::read(&cwasm).unwrap(), artifact);
    env.close().await;

    // With neither, the version stays listed with its error.
    std::fs::remove_file(&wasm).unwrap();
    std::fs::remove_file(&cwasm).unwrap();
    let env = Env::open(dir.path()).await;
    let error = env.host.module("m").unwrap()[0].error.clone().unwrap();
    assert!(error.contains("upload it again"), "{error}");
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_outlives_retention_of_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    let open = || async {
        let broker = support::broker_with(dir.path(), quick_limits(), |store| {
            store.retention = Some(std::time::Duration::from_millis(1));
        });
        let host = weir_plugin::PluginHost::open(
            std::sync::Arc::clone(&broker),
            host_config(dir.path(), 5),
        )
        .await
        .unwrap();
        (broker, host)
    };
    let (broker, host) = open().await;
    host.upload("m", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    // Fill a few segments so that the one holding the catalog expires.
    broker.create_topic("t", 1).await.unwrap();
    for _ in 0..30 {
        let body = vec![b'x'; 100 * 1024];
        broker
            .send("t", vec![weir_core::MessageDraft::new(body)])
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    host.prepare_retention().await.unwrap();
    assert!(
        broker.run_retention().await.unwrap() > 0,
        "segments expired"
    );
    host.shutdown().await;
    broker.close().unwrap();

    let (broker, host) = open().await;
    assert_eq!(host.module("m").unwrap()[0].error, None);
    host.shutdown().await;
    broker.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_files_that_cannot_be_created_refuse_the_upload_and_nothing_else() {
    use weir_store::{Errno, FaultPoint};
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    let modules = dir.path().join("modules");
    let kept = env
        .host
        .upload("kept", World::Consumer, component("ack_all"))
        .await
        .unwrap();
    let faults = env.broker.store().faults();
    for (errno, disk_full) in [(Errno::MFILE, false), (Errno::NOSPC, true)] {
        faults.fail(FaultPoint::ArtifactCreate, errno, 1);
        match env
            .host
            .upload("m", World::Consumer, component("trap"))
            .await
        {
            Err(PluginError::Shortage(error)) => {
                assert!(error.is_transient(), "{error}");
                assert_eq!(error.is_disk_full(), disk_full, "{error}");
            }
            other => panic!("{errno:?}: {other:?}"),
        }
        // Nothing of the refused upload is registered or left on disk; the registry
        // keeps answering.
        assert!(matches!(
            env.host.module("m"),
            Err(PluginError::ModuleNotFound { .. })
        ));
        assert_eq!(env.host.modules().len(), 1);
        let mut files: Vec<_> = std::fs::read_dir(&modules)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(
            files,
            [
                format!("{}.cwasm", kept.sha256),
                format!("{}.wasm", kept.sha256)
            ]
        );
    }
    assert_eq!(faults.injected(FaultPoint::ArtifactCreate), 2);

    // Once the shortage is over the same upload works, and survives a restart.
    let info = env
        .host
        .upload("m", World::Consumer, component("trap"))
        .await
        .unwrap();
    assert_eq!(info.version, 1);
    env.close().await;
    let env = Env::open(dir.path()).await;
    assert_eq!(env.host.module("m").unwrap()[0].info, info);
    assert_eq!(env.host.module("kept").unwrap()[0].info, kept);
    env.close().await;
}

#[tokio::test]
async fn what_a_component_declares_is_read_before_compiling() {
    use weir_plugin::inspect::Declared;

    let ack = Declared::read(&component("ack_all")).unwrap();
    assert!(
        ack.imports
            .iter()
            .any(|i| i.starts_with("weir:plugin/host@0.1.")),
        "{ack:?}"
    );
    assert!(
        ack.imports.iter().any(|i| i.starts_with("wasi:")),
        "{ack:?}"
    );
    assert!(!ack.uses_async_abi);
    assert_eq!(ack.world(), Ok(World::Consumer));
    assert_eq!(ack.check_runnable(), Ok(()));
    for (name, world) in [
        ("json_dedup", World::DedupFilter),
        ("forwarder", World::Consumer),
        ("http_tx_checker", World::TxChecker),
    ] {
        let declared = Declared::read(&component(name)).unwrap();
        assert_eq!(declared.world(), Ok(world), "{name}: {declared:?}");
        assert_eq!(declared.check_runnable(), Ok(()), "{name}");
    }

    // Refused before anything is compiled, world named or not.
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    for world in [None, Some(World::Consumer)] {
        match rejection(
            env.host
                .upload("f", world, component("foreign_import"))
                .await,
        ) {
            ModuleRejection::UnsupportedImport { reason } => {
                assert!(reason.contains("example:missing/clock@0.1.0"), "{reason}")
            }
            other => panic!("expected an unsupported import, got {other:?}"),
        }
    }
    // Without a world, the exports tell it.
    let info = env
        .host
        .upload("d", None, component("json_dedup"))
        .await
        .unwrap();
    assert_eq!(info.world, World::DedupFilter);
    assert!(
        env.host.module("f").is_err(),
        "a refused upload registers nothing"
    );
    env.close().await;
}

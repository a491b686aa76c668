//! Each module is compiled once; compiled artifacts are cached on disk sealed with an
//! HMAC, and a tampered or foreign artifact is refused and rebuilt. Job workers hold no
//! key: they load only artifacts whose digest the server pinned, and write nothing.

use std::fs;

use sandbox::{ArtifactCache, CompileStats, Sandbox, SandboxConfig};

use crate::{LINEAR_WAT, assert_healthy, wasm};

const SECRET: &[u8] = b"test secret of at least thirty-two bytes";

fn cached(dir: &std::path::Path, secret: &[u8]) -> Sandbox {
    Sandbox::new(SandboxConfig {
        max_concurrent_instances: 4,
        ..SandboxConfig::default()
    })
    .expect("sandbox")
    .with_cache(ArtifactCache::new(dir, secret).expect("cache"))
}

#[test]
fn a_module_is_compiled_once_then_reused_from_memory_and_disk() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = wasm(LINEAR_WAT);
    let first = cached(dir.path(), SECRET);
    let model = first.load(&bytes).expect("load");
    first.load(&bytes).expect("load again");
    assert_eq!(
        first.compile_stats(),
        CompileStats {
            compiled: 1,
            memory_hits: 1,
            disk_hits: 0
        }
    );
    let artifact = ArtifactCache::new(dir.path(), SECRET)
        .expect("cache")
        .path(first.engine(), model.id());
    assert!(artifact.exists(), "{}", artifact.display());

    // A new process (a new sandbox) finds the sealed artifact on disk.
    let second = cached(dir.path(), SECRET);
    second.load(&bytes).expect("load from disk");
    assert_eq!(
        second.compile_stats(),
        CompileStats {
            compiled: 0,
            memory_hits: 0,
            disk_hits: 1
        }
    );
    assert_healthy(&second);
}

#[test]
fn a_tampered_artifact_is_refused_and_rebuilt() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = wasm(LINEAR_WAT);
    let first = cached(dir.path(), SECRET);
    let model = first.load(&bytes).expect("load");
    let path = ArtifactCache::new(dir.path(), SECRET)
        .expect("cache")
        .path(first.engine(), model.id());
    let mut artifact = fs::read(&path).expect("read");
    let middle = artifact.len() / 2;
    artifact[middle] ^= 0x01;
    fs::write(&path, &artifact).expect("write");

    let second = cached(dir.path(), SECRET);
    second.load(&bytes).expect("recompiles");
    assert_eq!(
        second.compile_stats(),
        CompileStats {
            compiled: 1,
            memory_hits: 0,
            disk_hits: 0
        }
    );
    assert_ne!(
        fs::read(&path).expect("rewritten"),
        artifact,
        "the bad artifact was replaced"
    );
    assert_healthy(&second);
}

#[test]
fn an_artifact_sealed_with_another_key_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = wasm(LINEAR_WAT);
    cached(dir.path(), SECRET).load(&bytes).expect("load");
    let other = cached(dir.path(), b"another secret, also thirty-two bytes long");
    other.load(&bytes).expect("recompiles");
    assert_eq!(other.compile_stats().compiled, 1);
    assert_eq!(other.compile_stats().disk_hits, 0);
}

#[test]
fn a_short_secret_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let e = ArtifactCache::new(dir.path(), b"short")
        .err()
        .expect("refused");
    assert!(e.to_string().contains("at least 32 bytes"), "{e}");
}

#[test]
fn the_in_memory_modules_are_bounded_least_recently_used_first() {
    let sandbox = Sandbox::new(SandboxConfig {
        max_concurrent_instances: 4,
        max_compiled_in_memory: 2,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let version = |v: &str| {
        crate::variant(&[(
            r#"\"version\":\"1.0.0\""#,
            &format!(r#"\"version\":\"{v}\""#),
        )])
    };
    let (a, b, c) = (version("1.0.1"), version("1.0.2"), version("1.0.3"));
    for bytes in [&a, &b, &a, &c] {
        sandbox.load(bytes).expect("load");
    }
    // a was used after b, so c's arrival dropped b: a is still in memory, b is not.
    assert_eq!(sandbox.compile_stats().compiled, 3);
    assert_eq!(sandbox.compile_stats().memory_hits, 1);
    sandbox.load(&a).expect("load");
    assert_eq!(sandbox.compile_stats().memory_hits, 2);
    sandbox.load(&b).expect("load");
    assert_eq!(
        sandbox.compile_stats().compiled,
        4,
        "b was dropped and compiled again"
    );
}

/// A job worker's cache: the artifacts the server pinned, read-only.
fn pinned(dir: &std::path::Path, pins: Vec<(String, sandbox::ArtifactPin)>) -> Sandbox {
    Sandbox::new(SandboxConfig {
        max_concurrent_instances: 4,
        ..SandboxConfig::default()
    })
    .expect("sandbox")
    .with_cache(ArtifactCache::pinned(dir, pins))
}

/// The files of a folder with their contents.
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let path = e.expect("entry").path();
            let bytes = fs::read(&path).expect("read");
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_worker_loads_the_artifact_the_server_pinned_without_its_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = wasm(LINEAR_WAT);
    let server = cached(dir.path(), SECRET);
    server.load(&bytes).expect("compiled at upload");
    let pin = server.pin(&bytes).expect("the sealed artifact is pinned");
    let before = snapshot(dir.path());

    let worker = pinned(dir.path(), vec![pin]);
    worker.load(&bytes).expect("load");
    assert_eq!(
        worker.compile_stats(),
        CompileStats {
            compiled: 0,
            memory_hits: 0,
            disk_hits: 1
        }
    );
    assert_healthy(&worker);
    assert_eq!(snapshot(dir.path()), before, "a worker writes nothing");
}

#[test]
fn a_worker_refuses_an_artifact_changed_after_the_server_pinned_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = wasm(LINEAR_WAT);
    let server = cached(dir.path(), SECRET);
    let model = server.load(&bytes).expect("load");
    let pin = server.pin(&bytes).expect("pinned");
    let path = ArtifactCache::new(dir.path(), SECRET)
        .expect("cache")
        .path(server.engine(), model.id());
    // Another worker, subverted by its job, rewrites the artifact.
    let mut artifact = fs::read(&path).expect("read");
    let middle = artifact.len() / 2;
    artifact[middle] ^= 0x01;
    fs::write(&path, &artifact).expect("write");
    // ... so the server no longer pins it ...
    assert!(server.pin(&bytes).is_none(), "a broken seal is not pinned");

    // ... and a worker given the earlier pin does not run it either.
    let worker = pinned(dir.path(), vec![pin]);
    worker.load(&bytes).expect("compiled in memory instead");
    assert_eq!(worker.compile_stats().compiled, 1);
    assert_eq!(worker.compile_stats().disk_hits, 0);
    assert_healthy(&worker);
    assert_eq!(
        fs::read(&path).expect("still there"),
        artifact,
        "a worker neither removes nor rewrites the cache"
    );
}

#[test]
fn a_worker_compiles_an_unpinned_module_in_memory_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = wasm(LINEAR_WAT);
    let worker = pinned(dir.path(), Vec::new());
    worker.load(&bytes).expect("load");
    assert_eq!(worker.compile_stats().compiled, 1);
    assert!(snapshot(dir.path()).is_empty(), "nothing written");
    assert!(
        worker.pin(&bytes).is_none(),
        "a pinned cache has no seal to pin by"
    );
}

//! Each module is compiled once; compiled artifacts are cached on disk sealed with an
//! HMAC, and a tampered or foreign artifact is refused and rebuilt.

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

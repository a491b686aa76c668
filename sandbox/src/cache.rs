//! Compiled models, cached on disk by (module SHA-256, engine compatibility hash) and
//! sealed with an HMAC so that a tampered artifact is never deserialised.
//!
//! Deserialising a compiled artifact runs its machine code later, so it is exactly as
//! trusted as the bytes on disk. The HMAC key lives only in the memory of the server and
//! of the job workers it starts: an attacker who can write the cache folder but not read
//! the key cannot plant code.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use ring::hmac;
use wasmtime::{Engine, Module};

/// Length of the HMAC-SHA256 tag appended to each artifact.
const TAG_BYTES: usize = 32;

/// The on-disk artifact cache.
pub struct ArtifactCache {
    dir: PathBuf,
    key: hmac::Key,
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// A sealed, intact artifact.
    Hit(Module),
    /// Nothing usable (absent, or refused and removed).
    Miss,
}

impl ArtifactCache {
    /// A cache in `dir` (created if needed) sealed with `secret` (at least 32 bytes).
    pub fn new(dir: impl AsRef<Path>, secret: &[u8]) -> std::io::Result<ArtifactCache> {
        if secret.len() < 32 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the artifact cache secret must be at least 32 bytes",
            ));
        }
        fs::create_dir_all(dir.as_ref())?;
        Ok(ArtifactCache {
            dir: dir.as_ref().to_path_buf(),
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        })
    }

    fn compatibility(engine: &Engine) -> String {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// Where the artifact of module `sha256` for this engine lives.
    pub fn path(&self, engine: &Engine, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.cwasm", Self::compatibility(engine)))
    }

    /// What the seal covers: the module hash, the engine's compatibility and the bytes.
    fn sealed(engine: &Engine, sha256: &str, artifact: &[u8]) -> Vec<u8> {
        [
            sha256.as_bytes(),
            Self::compatibility(engine).as_bytes(),
            artifact,
        ]
        .concat()
    }

    pub(crate) fn get(&self, engine: &Engine, sha256: &str) -> Lookup {
        let path = self.path(engine, sha256);
        let Ok(bytes) = fs::read(&path) else {
            return Lookup::Miss;
        };
        if bytes.len() <= TAG_BYTES {
            let _ = fs::remove_file(&path);
            return Lookup::Miss;
        }
        let (artifact, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        if hmac::verify(&self.key, &Self::sealed(engine, sha256, artifact), tag).is_err() {
            tracing::warn!(path = %path.display(), "discarding a compiled-model artifact whose seal does not verify");
            let _ = fs::remove_file(&path);
            return Lookup::Miss;
        }
        // SAFETY: `Module::deserialize` requires bytes produced by `Module::serialize` of
        // a compatible engine and not modified since. The HMAC, keyed by a secret only
        // the server and the job workers it starts hold (given on a pipe), proves that one
        // of them wrote exactly these bytes for this module hash and this engine's
        // compatibility hash.
        #[allow(unsafe_code)]
        let module = unsafe { Module::deserialize(engine, artifact) };
        match module {
            Ok(m) => Lookup::Hit(m),
            Err(_) => {
                let _ = fs::remove_file(&path);
                Lookup::Miss
            }
        }
    }

    pub(crate) fn put(&self, engine: &Engine, sha256: &str, module: &Module) {
        let Ok(mut artifact) = module.serialize() else {
            return;
        };
        let tag = hmac::sign(&self.key, &Self::sealed(engine, sha256, &artifact));
        artifact.extend_from_slice(tag.as_ref());
        let path = self.path(engine, sha256);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if fs::write(&tmp, &artifact).is_ok() {
            let _ = fs::rename(&tmp, &path);
        }
    }
}

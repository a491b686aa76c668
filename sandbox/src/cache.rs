//! Compiled models, cached on disk by (module SHA-256, engine compatibility hash) and
//! sealed with an HMAC so that a tampered artifact is never deserialised.
//!
//! Deserialising a compiled artifact runs its machine code later, so it is exactly as
//! trusted as the bytes on disk. Two kinds of cache read the same folder:
//! - the **sealing** cache ([`ArtifactCache::new`]), the server's: it writes artifacts
//!   sealed with an HMAC whose key lives only in the server's memory, and checks the seal
//!   before loading one. An attacker who can write the folder but not read the key cannot
//!   plant code.
//! - the **pinned** cache ([`ArtifactCache::pinned`]), a job worker's: it holds no key. It
//!   loads an artifact only if the file's SHA-256 equals the digest the server gave it
//!   (the server checked that file's seal first: [`ArtifactCache::pin`]), and never writes
//!   or removes anything. A worker subverted by its job cannot forge an artifact that
//!   another job's worker would run.

use std::collections::HashMap;
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
    trust: Trust,
}

/// How a cache decides that an artifact on disk may be loaded.
enum Trust {
    /// Its seal verifies under this key; the cache may write and remove artifacts.
    Seal(hmac::Key),
    /// Its file's SHA-256 is the one pinned for its module; the cache is read-only.
    Pinned(HashMap<String, ArtifactPin>),
}

/// The SHA-256 of an artifact file whose seal the server checked ([`ArtifactCache::pin`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArtifactPin(pub [u8; 32]);

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
            trust: Trust::Seal(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        })
    }

    /// A read-only cache in `dir` that loads only the artifacts pinned in `pins` (module
    /// SHA-256 → the artifact file's digest); any other module is compiled in memory.
    pub fn pinned(
        dir: impl AsRef<Path>,
        pins: impl IntoIterator<Item = (String, ArtifactPin)>,
    ) -> ArtifactCache {
        ArtifactCache {
            dir: dir.as_ref().to_path_buf(),
            trust: Trust::Pinned(pins.into_iter().collect()),
        }
    }

    /// The pin of module `sha256`'s artifact for this engine: the digest of its file,
    /// if it is there and its seal verifies. Only a sealing cache pins.
    pub fn pin(&self, engine: &Engine, sha256: &str) -> Option<ArtifactPin> {
        if !matches!(self.trust, Trust::Seal(_)) {
            return None;
        }
        let bytes = fs::read(self.path(engine, sha256)).ok()?;
        self.unsealed(engine, sha256, &bytes)?;
        Some(digest_of(&bytes))
    }

    /// The artifact inside `bytes`, if this cache trusts them.
    fn unsealed<'a>(&self, engine: &Engine, sha256: &str, bytes: &'a [u8]) -> Option<&'a [u8]> {
        if bytes.len() <= TAG_BYTES {
            return None;
        }
        let (artifact, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        let trusted = match &self.trust {
            Trust::Seal(key) => {
                hmac::verify(key, &Self::sealed(engine, sha256, artifact), tag).is_ok()
            }
            Trust::Pinned(pins) => pins.get(sha256) == Some(&digest_of(bytes)),
        };
        trusted.then_some(artifact)
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
        let Some(artifact) = self.unsealed(engine, sha256, &bytes) else {
            tracing::warn!(path = %path.display(), "discarding a compiled-model artifact whose seal or pin does not verify");
            self.discard(&path);
            return Lookup::Miss;
        };
        // SAFETY: `Module::deserialize` requires bytes produced by `Module::serialize` of
        // a compatible engine and not modified since. The HMAC, keyed by a secret only the
        // server holds, proves that the server wrote exactly these bytes for this module
        // hash and this engine's compatibility hash; a pin is the digest of a file whose
        // HMAC the server checked.
        #[allow(unsafe_code)]
        let module = unsafe { Module::deserialize(engine, artifact) };
        match module {
            Ok(m) => Lookup::Hit(m),
            Err(_) => {
                self.discard(&path);
                Lookup::Miss
            }
        }
    }

    /// Removes a bad artifact, if this cache is the one that writes.
    fn discard(&self, path: &Path) {
        if matches!(self.trust, Trust::Seal(_)) {
            let _ = fs::remove_file(path);
        }
    }

    pub(crate) fn put(&self, engine: &Engine, sha256: &str, module: &Module) {
        let Trust::Seal(key) = &self.trust else {
            return;
        };
        let Ok(mut artifact) = module.serialize() else {
            return;
        };
        let tag = hmac::sign(key, &Self::sealed(engine, sha256, &artifact));
        artifact.extend_from_slice(tag.as_ref());
        let path = self.path(engine, sha256);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if fs::write(&tmp, &artifact).is_ok() {
            let _ = fs::rename(&tmp, &path);
        }
    }
}

fn digest_of(bytes: &[u8]) -> ArtifactPin {
    let mut pin = [0u8; 32];
    pin.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    ArtifactPin(pin)
}

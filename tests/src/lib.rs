//! Shared helpers for the end-to-end tests: a sample data set generated once per test
//! binary and a DataFusion session over it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Seed of the shared sample data set.
pub const SEED: u64 = 99;
/// Scale of the shared sample data set (2,000 enterprises, 1,000 persons).
pub const SCALE: f64 = 0.02;

/// Generates a data set into `out` with the given seed, scale and worker count.
pub fn generate(out: &Path, seed: u64, scale: f64, threads: usize) -> samples::GenerationManifest {
    samples::generate(
        &samples::GenerateOptions {
            scale,
            seed,
            as_of: samples::default_as_of(),
            out: out.to_path_buf(),
            threads,
        },
        &|_| {},
    )
    .expect("sample data generates")
}

/// The shared data set, generated on first use.
pub fn sample_data() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        generate(&path, SEED, SCALE, 0);
        (dir, path)
    });
    path
}

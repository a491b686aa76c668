//! Integration tests of the catalog: the declaration, checking files, registering
//! tables and querying them with DataFusion.

mod declaration;
mod files;
mod query;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A small sample data set generated once per test binary.
pub fn sample_data() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        samples::generate(
            &samples::GenerateOptions {
                scale: 0.02,
                seed: 7,
                as_of: samples::default_as_of(),
                out: path.clone(),
                threads: 2,
            },
            &|_| {},
        )
        .expect("sample data generates");
        (dir, path)
    });
    path
}

/// A copy of the sample data set that a test may damage.
pub fn scratch_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = sample_data().join(catalog::PUBLIC_CREDIT_DIR);
    let to = dir.path().join(catalog::PUBLIC_CREDIT_DIR);
    std::fs::create_dir_all(&to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
    dir
}

//! The public query module over the sample data.

mod fuzz_search;
mod pdf;
mod records;
mod search;

use std::sync::OnceLock;

/// The sample register every test reads, generated once per test binary (scale 0.02).
pub fn sample_catalog() -> &'static catalog::Catalog {
    static DATA: OnceLock<(tempfile::TempDir, catalog::Catalog)> = OnceLock::new();
    &DATA
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tmp");
            samples::generate(
                &samples::GenerateOptions {
                    scale: 0.02,
                    seed: 8,
                    as_of: samples::default_as_of(),
                    out: dir.path().to_path_buf(),
                    threads: 0,
                },
                &|_| {},
            )
            .expect("sample data");
            let catalog = catalog::Catalog::open(dir.path()).expect("catalog");
            (dir, catalog)
        })
        .1
}

/// The sample register's records, in memory.
pub fn sample_records() -> &'static public::records::Records {
    static RECORDS: OnceLock<public::records::Records> = OnceLock::new();
    RECORDS.get_or_init(|| {
        // Loaded on a thread of its own: the tests call this from inside their runtime.
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(public::records::Records::load(sample_catalog()))
                .expect("records")
        })
        .join()
        .expect("loading the records")
    })
}

//! The same seed gives byte-identical files, whatever the number of worker threads;
//! another seed gives other data.

use std::fs;
use std::path::Path;

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in [catalog::PUBLIC_CREDIT_DIR, samples::OWN_DATA_DIR] {
        let mut entries: Vec<_> = fs::read_dir(dir.join(sub))
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            out.push((
                format!("{sub}/{}", p.file_name().expect("name").to_string_lossy()),
                fs::read(&p).expect("read"),
            ));
        }
    }
    out.push((
        "manifest.json".into(),
        fs::read(dir.join("manifest.json")).expect("manifest"),
    ));
    out
}

#[test]
fn same_seed_gives_identical_bytes_with_one_or_two_threads() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let ma = tests::generate(a.path(), 5, 0.01, 1);
    let mb = tests::generate(b.path(), 5, 0.01, 2);
    assert_eq!(ma, mb);
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert_eq!(fa.len(), 17, "15 public tables, 1 own-data table, manifest");
    for ((name_a, bytes_a), (name_b, bytes_b)) in fa.iter().zip(&fb) {
        assert_eq!(name_a, name_b);
        assert!(bytes_a == bytes_b, "{name_a} differs between runs");
    }
    // The manifest's hashes are the files' hashes.
    for f in &ma.files {
        assert_eq!(
            samples::sha256_file(&a.path().join(&f.path)).expect("hash"),
            f.sha256
        );
    }
}

#[test]
fn another_seed_gives_other_data() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let ma = tests::generate(a.path(), 5, 0.01, 0);
    let mb = tests::generate(b.path(), 6, 0.01, 0);
    let differing = ma
        .files
        .iter()
        .zip(&mb.files)
        .filter(|(x, y)| x.sha256 != y.sha256)
        .count();
    assert_eq!(differing, ma.files.len());
}

#[test]
fn regenerating_replaces_the_data_atomically() {
    let dir = tempfile::tempdir().expect("tmp");
    tests::generate(dir.path(), 5, 0.01, 0);
    // A stray file in the old folder is gone after regeneration: the folder is replaced whole.
    fs::write(
        dir.path()
            .join(catalog::PUBLIC_CREDIT_DIR)
            .join("stray.parquet"),
        b"x",
    )
    .expect("write");
    tests::generate(dir.path(), 6, 0.01, 0);
    assert!(
        !dir.path()
            .join(catalog::PUBLIC_CREDIT_DIR)
            .join("stray.parquet")
            .exists()
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(leftovers.is_empty(), "staging folder left behind");
}

#[test]
fn invalid_options_write_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    for scale in [0.0, -1.0, f64::NAN, 1000.0] {
        let e = samples::generate(
            &samples::GenerateOptions {
                scale,
                seed: 1,
                as_of: samples::default_as_of(),
                out: dir.path().join("out"),
                threads: 0,
            },
            &|_| {},
        )
        .expect_err("invalid scale");
        assert!(e.to_string().contains("scale must be"), "{e}");
    }
    assert!(!dir.path().join("out").exists());
}

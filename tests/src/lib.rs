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

/// Builds a model crate of this workspace for `wasm32-unknown-unknown` (release) and
/// returns the module's bytes. Builds once per test binary and package; the target is
/// installed by `scripts/setup`.
pub fn wasm_model(package: &str) -> Vec<u8> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static BUILT: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().expect("lock");
    if let Some(bytes) = built.get(package) {
        return bytes.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let target_dir = root.join("target").join("wasm-models");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            package,
            "--target-dir",
        ])
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building {package} for wasm32 failed; is the target installed (scripts/setup)?"
    );
    let file = target_dir
        .join("wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    built.insert(package.to_owned(), bytes.clone());
    bytes
}

/// Compiles a C model of this repository (a path relative to the workspace root) for
/// wasm32 with clang and wasm-ld, against the ABI header `sandbox/sdk/include`, and
/// returns the module's bytes. Both tools are installed by `scripts/setup`.
pub fn c_model(source: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let out_dir = root.join("target").join("c-models");
    std::fs::create_dir_all(&out_dir).expect("output folder");
    let stem = Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("a file name");
    let out = out_dir.join(format!("{stem}-{}.wasm", std::process::id()));
    let result = std::process::Command::new("clang")
        .current_dir(&root)
        .args([
            "--target=wasm32",
            "-O2",
            "-ffreestanding",
            "-nostdlib",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wl,--no-entry",
            "-I",
            "sandbox/sdk/include",
            "-o",
        ])
        .arg(&out)
        .arg(source)
        .output();
    let output = match result {
        Ok(output) => output,
        Err(e) => panic!("clang cannot run ({e}); scripts/setup installs clang and lld"),
    };
    assert!(
        output.status.success(),
        "clang failed on {source}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let _ = std::fs::remove_file(&out);
    bytes
}

/// Reads a job result of two columns, a text key and a float64 value, into a map.
pub fn keyed_scores(path: &Path) -> std::collections::HashMap<String, f64> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
    let mut out = std::collections::HashMap::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let keys =
            datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8).expect("cast");
        let keys = keys.as_string::<i32>();
        let values = batch.column(1).as_primitive::<Float64Type>();
        for i in 0..batch.num_rows() {
            out.insert(keys.value(i).to_owned(), values.value(i));
        }
    }
    out
}

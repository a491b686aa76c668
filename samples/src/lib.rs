//! Synthetic public-credit data.
//!
//! `creditpool samples generate` writes one Parquet file per table of the catalog (the
//! kinds of information of 附录A of the provincial standard), plus an example
//! institution own-data table (loan outcomes) for BRIEF P5. The content is Chinese and
//! realistic: valid USCCs (GB 32100-2015, inner GB 11714 check included) and ID numbers
//! (GB 11643-1999), Zhejiang regions, GB/T 4754 industries, and a latent risk per
//! subject that drives correlated events, so models trained on it find real signal.
//!
//! The output is a pure function of (seed, scale, snapshot date): the same inputs give
//! byte-identical files on any machine. Each subject's records come from their own
//! random stream, so tables are generated in parallel without affecting the result.

pub mod features;
pub mod native;
mod own_data;
mod rng;
pub mod subjects;
mod tables;
pub mod vocab;
mod writer;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use own_data::{OWN_DATA_DIR, own_data_table};
pub use rng::Rng;
pub use subjects::edge;

/// Enterprises and organisations at scale 1.
pub const ENTERPRISES_PER_SCALE: f64 = 100_000.0;
/// Natural persons at scale 1.
pub const PERSONS_PER_SCALE: f64 = 50_000.0;
/// The largest scale accepted (about 10M enterprises).
pub const MAX_SCALE: f64 = 100.0;

/// The population being generated: seed, size and snapshot date.
#[derive(Clone, Debug)]
pub struct World {
    /// Seed of every random stream.
    pub seed: u64,
    /// The date the data describes; records are dated on or before it.
    pub as_of: NaiveDate,
    /// Number of enterprises and organisations.
    pub enterprises: u64,
    /// Number of natural persons.
    pub persons: u64,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Scale factor: 1 is about 100k enterprises, 50k persons and 1.5M records.
    pub scale: f64,
    /// Random seed.
    pub seed: u64,
    /// Snapshot date.
    pub as_of: NaiveDate,
    /// Output folder; `public-credit/` and `own-data/` are created inside it.
    pub out: PathBuf,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// The default snapshot date. Fixed rather than "today" so that the same seed gives
/// the same files on any day; pass `--as-of` to move it.
pub fn default_as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default()
}

/// What was written: the content of `manifest.json` in the output folder.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GenerationManifest {
    /// Generator name and version.
    pub generator: String,
    /// Seed.
    pub seed: u64,
    /// Scale.
    pub scale: f64,
    /// Snapshot date.
    pub as_of: NaiveDate,
    /// Enterprises and organisations.
    pub enterprises: u64,
    /// Natural persons.
    pub persons: u64,
    /// Every file written.
    pub files: Vec<GeneratedFile>,
}

/// One written file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GeneratedFile {
    /// Table id.
    pub table: String,
    /// Path relative to the output folder.
    pub path: String,
    /// Rows.
    pub rows: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Progress events, for a progress bar.
#[derive(Clone, Debug)]
pub enum Progress {
    /// Generation starts: this many tables will be written.
    Started {
        /// Number of tables.
        tables: usize,
    },
    /// One table is complete.
    TableDone {
        /// Table id.
        table: String,
        /// Rows written.
        rows: u64,
    },
}

/// Everything that can go wrong generating data.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The options are invalid: the caller's input.
    #[error("{0}")]
    Options(String),
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// Arrow or Parquet refused the data: a bug in the generator.
    #[error("writing Parquet failed: {0}")]
    Format(String),
    /// A generator wrote a row that does not match its declared table: a bug.
    #[error("generator for table '{table}' is out of step with the catalog: {message}")]
    Generator {
        /// The table.
        table: String,
        /// What did not match.
        message: String,
    },
}

impl SampleError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> SampleError {
        SampleError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    pub(crate) fn parquet(e: parquet::errors::ParquetError) -> SampleError {
        SampleError::Format(e.to_string())
    }

    pub(crate) fn arrow(e: arrow::error::ArrowError) -> SampleError {
        SampleError::Format(e.to_string())
    }
}

impl World {
    /// The population for a scale, seed and snapshot date.
    pub fn new(scale: f64, seed: u64, as_of: NaiveDate) -> Result<World, SampleError> {
        if !scale.is_finite() || scale <= 0.0 || scale > MAX_SCALE {
            return Err(SampleError::Options(format!(
                "scale must be a number above 0 and at most {MAX_SCALE}, got {scale}"
            )));
        }
        let enterprises =
            ((ENTERPRISES_PER_SCALE * scale).round() as u64).max(edge::ENTERPRISES + 20);
        let persons = ((PERSONS_PER_SCALE * scale).round() as u64).max(edge::PERSONS + 20);
        Ok(World {
            seed,
            as_of,
            enterprises,
            persons,
        })
    }
}

/// Generates the data set described by `options`, calling `progress` as tables finish.
///
/// Files are written into a temporary folder beside the output and moved into place
/// only when every table succeeded, so a failed run leaves any previous data intact.
pub fn generate(
    options: &GenerateOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<GenerationManifest, SampleError> {
    let world = World::new(options.scale, options.seed, options.as_of)?;
    fs::create_dir_all(&options.out).map_err(|e| SampleError::io(&options.out, e))?;
    let staging = options.out.join(format!(".staging-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| SampleError::io(&staging, e))?;
    }
    let result = write_all(&world, options, &staging, progress);
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    for dir in [catalog::PUBLIC_CREDIT_DIR, OWN_DATA_DIR] {
        let target = options.out.join(dir);
        if target.exists() {
            fs::remove_dir_all(&target).map_err(|e| SampleError::io(&target, e))?;
        }
        fs::rename(staging.join(dir), &target).map_err(|e| SampleError::io(&target, e))?;
    }
    let manifest_path = options.out.join("manifest.json");
    let json =
        serde_json::to_string_pretty(&manifest).map_err(|e| SampleError::Format(e.to_string()))?;
    fs::write(&manifest_path, json + "\n").map_err(|e| SampleError::io(&manifest_path, e))?;
    fs::remove_dir_all(&staging).map_err(|e| SampleError::io(&staging, e))?;
    Ok(manifest)
}

fn write_all(
    world: &World,
    options: &GenerateOptions,
    staging: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<GenerationManifest, SampleError> {
    let public = staging.join(catalog::PUBLIC_CREDIT_DIR);
    let own = staging.join(OWN_DATA_DIR);
    for dir in [&public, &own] {
        fs::create_dir_all(dir).map_err(|e| SampleError::io(dir, e))?;
    }
    let mut jobs: Vec<tables::Job> = tables::jobs();
    jobs.push(own_data::job());
    progress(Progress::Started { tables: jobs.len() });

    let threads = if options.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        options.threads
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<GeneratedFile, SampleError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let dir = if job.own_data { &own } else { &public };
                    let rel_dir = if job.own_data {
                        OWN_DATA_DIR
                    } else {
                        catalog::PUBLIC_CREDIT_DIR
                    };
                    let outcome = (job.run)(world, &job.def, &dir.join(job.def.file_name()))
                        .and_then(|rows| {
                            let path = dir.join(job.def.file_name());
                            Ok(GeneratedFile {
                                table: job.def.id.clone(),
                                path: format!("{rel_dir}/{}", job.def.file_name()),
                                rows,
                                sha256: sha256_file(&path)?,
                            })
                        });
                    if let Ok(file) = &outcome {
                        progress(Progress::TableDone {
                            table: file.table.clone(),
                            rows: file.rows,
                        });
                    }
                    if let Ok(mut slots) = results.lock() {
                        slots[i] = Some(outcome);
                    }
                }
            });
        }
    });
    let slots = results
        .into_inner()
        .map_err(|_| SampleError::Format("a generator thread panicked".into()))?;
    let mut files = Vec::with_capacity(slots.len());
    for slot in slots {
        files.push(slot.ok_or_else(|| SampleError::Format("a generator thread panicked".into()))??);
    }
    Ok(GenerationManifest {
        generator: format!("creditpool-samples {}", env!("CARGO_PKG_VERSION")),
        seed: options.seed,
        scale: options.scale,
        as_of: options.as_of,
        enterprises: world.enterprises,
        persons: world.persons,
        files,
    })
}

/// SHA-256 of a file, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, SampleError> {
    let mut file = fs::File::open(path).map_err(|e| SampleError::io(path, e))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| SampleError::io(path, e))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

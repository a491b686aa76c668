//! What a server does at start after a crash, or after a restore (issue 17, item 7): the
//! files of the workspaces are made to agree with the database, so that nothing is
//! half-visible and the storage each institution is charged for is exactly what its
//! records keep.
//!
//! A state change that writes a file writes it first and records it after, in one
//! transaction: a crash between the two leaves a file nobody records, never a record
//! without its file. So a file is kept only if the database names it:
//!
//! - `own/<id>.parquet`, a live own table's file;
//! - `models/<sha256>.wasm`, a live model's file;
//! - `results/<job>.parquet`, a succeeded job's result.
//!
//! Everything else in those folders is removed, and `uploads/` is emptied (no upload is
//! in flight when the server starts). Staging folders are swept before
//! ([`crate::worker::sweep_staging`]), and jobs a stopped process left queued or running
//! are failed when the job queue starts ([`crate::workspace::Workspaces::start`]). A
//! recorded file that is missing (a disk lost, a hand-made copy) is logged, never
//! invented.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use storage::store::{Store, StoreError, Tx};

use crate::db::jobs::Jobs;
use crate::db::models::Models;
use crate::db::own_data::OwnData;

/// What [`reconcile`] did.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Files removed: nobody recorded them.
    pub removed: Vec<PathBuf>,
    /// Files recorded but missing, as the database names them.
    pub missing: Vec<String>,
}

/// The folders of a workspace whose files the database records.
const RECORDED: [&str; 3] = ["own", "models", "results"];
/// The folder of uploads being received.
const UPLOADS: &str = "uploads";

/// Makes the workspaces under `root` agree with the database: removes every file no
/// record keeps (see the module's description). `skip` is a folder of `root` that is
/// not a workspace (the compiled-model cache).
pub async fn reconcile(store: &Store, root: &Path, skip: &Path) -> Result<Recovered, StoreError> {
    // A file is known by its institution's folder, its folder and its name, so that a
    // workspace moved as a whole (a restore elsewhere) is still recognised.
    let key = |path: &Path| -> Option<(String, String, String)> {
        let name = path.file_name()?.to_string_lossy().into_owned();
        let folder = path.parent()?;
        let institution = folder.parent()?.file_name()?.to_string_lossy().into_owned();
        Some((
            institution,
            folder.file_name()?.to_string_lossy().into_owned(),
            name,
        ))
    };
    let recorded = recorded_files(store, root).await?;
    let kept: HashSet<(String, String, String)> = recorded.iter().filter_map(|p| key(p)).collect();
    let mut recovered = Recovered::default();
    let Ok(institutions) = std::fs::read_dir(root) else {
        return Ok(recovered);
    };
    for institution in institutions.flatten() {
        let dir = institution.path();
        if !dir.is_dir() || dir == skip {
            continue;
        }
        for folder in RECORDED.iter().chain([&UPLOADS]) {
            let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                // Staging folders are swept on their own; nothing else is a folder.
                if !entry.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let keep = *folder != UPLOADS && key(&path).is_some_and(|k| kept.contains(&k));
                if !keep && std::fs::remove_file(&path).is_ok() {
                    recovered.removed.push(path);
                }
            }
        }
    }
    for path in recorded {
        if !path.exists() {
            recovered.missing.push(path.display().to_string());
        }
    }
    if !recovered.removed.is_empty() {
        tracing::warn!(
            files = recovered.removed.len(),
            "files no record keeps (left by a stopped process) removed from the workspaces"
        );
    }
    if !recovered.missing.is_empty() {
        tracing::error!(
            files = recovered.missing.len(),
            first = %recovered.missing[0],
            "files the database records are missing from the workspaces"
        );
    }
    Ok(recovered)
}

/// The workspace files the database records, under `root`: live own tables' and models'
/// files, and succeeded jobs' results in the workspaces that still exist. What a backup
/// copies.
pub async fn recorded_files(store: &Store, root: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut files: Vec<PathBuf> = store
        .live_own_paths()
        .await?
        .into_iter()
        .chain(store.live_model_paths().await?)
        .map(PathBuf::from)
        .collect();
    for (job, institution) in store.succeeded_jobs().await? {
        let workspace = root.join(institution.as_str());
        if workspace.is_dir() {
            files.push(workspace.join("results").join(format!("{job}.parquet")));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Records every own table's and model's file under `root/<institution id>/`, in `tx`:
/// after a restore into another folder. How many were moved.
pub async fn relocate(store: &Store, tx: &mut Tx, root: &Path) -> Result<u64, StoreError> {
    let root = root.display().to_string();
    Ok(store.relocate_own_tables(tx, &root).await? + store.relocate_models(tx, &root).await?)
}

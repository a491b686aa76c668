//! Backup and restore (issue 17, item 8; GB/T 36092, which the provincial standard
//! names for the platform's data backup).
//!
//! `backup` copies, while the server runs: the database as one consistent snapshot
//! ([`storage::backup::snapshot`]); the workspace files that snapshot records (own
//! tables, models, succeeded jobs' results: [`workbench::recovery::recorded_files`]),
//! so that the copy holds exactly what its database names; the compiled-model cache;
//! and the keys kept beside the database (the output gate's, from which pseudonyms,
//! sample choices and report verification codes derive, and the second factors'). A
//! `manifest.json`, written last, lists every file with its size and SHA-256 and the
//! audit chain's head in the snapshot.
//!
//! `restore` checks every file against the manifest, refuses to overwrite a platform,
//! copies the database, keys and files into place, records the workspaces' new folder,
//! and audits the restore; the server then starts on it as after any stop
//! ([`workbench::recovery::reconcile`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use storage::audit::{self, Event, Verdict};
use storage::ids::{RequestId, UserId};
use storage::store::Store;

use crate::COMPILED_MODELS_DIR;

/// The manifest's name in a backup folder.
pub const MANIFEST: &str = "manifest.json";
/// The database's name in a backup folder.
const DATABASE: &str = "creditpool.db";
/// The workspaces' folder in a backup folder.
const WORKSPACES: &str = "workspaces";
/// The keys kept beside the database, by their extension.
const KEYS: [&str; 2] = ["gate-key", "second-factor-key"];
/// The format of this manifest.
const FORMAT: u32 = 1;

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest's format.
    pub format: u32,
    /// When the backup was made (UTC, RFC 3339).
    pub created_at: String,
    /// The version of creditpool that made it.
    pub version: String,
    /// Entries of the audit log in the database copied.
    pub audit_entries: i64,
    /// The audit chain's head hash in the database copied.
    pub audit_head: String,
    /// Every file, its path relative to the backup folder.
    pub files: Vec<FileEntry>,
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Its path in the backup folder (`/`-separated).
    pub path: String,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// Why a backup or a restore was refused or failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(String);

fn fail(what: impl std::fmt::Display) -> BackupError {
    BackupError(what.to_string())
}

/// An empty folder to write into: `dir` made, or refused if it holds anything.
fn empty_folder(dir: &Path, what: &str) -> Result<(), BackupError> {
    if dir
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
        return Err(fail(format!(
            "{what} {} is not empty: give a new folder",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("creating {}: {e}", dir.display())))
}

/// Copies `from` to `to` (its folder made), answering the copy's entry.
fn copy(from: &Path, to: &Path, name: String) -> Result<FileEntry, BackupError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| fail(format!("creating {}: {e}", parent.display())))?;
    }
    std::fs::copy(from, to).map_err(|e| {
        fail(format!(
            "copying {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })?;
    entry(to, name)
}

fn entry(file: &Path, name: String) -> Result<FileEntry, BackupError> {
    let (bytes, sha256) = storage::store::sha256_file(file)
        .map_err(|e| fail(format!("reading {}: {e}", file.display())))?;
    Ok(FileEntry {
        path: name,
        bytes,
        sha256,
    })
}

/// The last three parts of a workspace file's path: `<institution>/<folder>/<name>`.
fn in_workspace(file: &Path) -> Option<String> {
    let parts: Vec<String> = file
        .components()
        .rev()
        .take(3)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (parts.len() == 3).then(|| format!("{}/{}/{}", parts[2], parts[1], parts[0]))
}

/// Every file under `dir`, with its path relative to `dir`.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut folders = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            match entry.file_type() {
                Ok(t) if t.is_dir() => folders.push((entry.path(), format!("{name}/"))),
                Ok(t) if t.is_file() => out.push((entry.path(), name)),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Backs up the platform whose database is `database` and whose workspaces are under
/// `workspaces` into the new folder `to`, while it runs.
pub async fn backup(
    database: &Path,
    workspaces: &Path,
    to: &Path,
) -> Result<Manifest, BackupError> {
    if !database.is_file() {
        return Err(fail(format!("no database at {}", database.display())));
    }
    empty_folder(to, "the backup folder")?;
    let store = Store::open(database).await.map_err(fail)?;
    let copied_database = to.join(DATABASE);
    storage::backup::snapshot(&store, &copied_database)
        .await
        .map_err(|e| fail(format!("copying the database: {e}")))?;
    store.pool().close().await;
    let snapshot = Store::open(&copied_database).await.map_err(fail)?;
    let (audit_entries, audit_head) = match audit::verify(&snapshot).await.map_err(fail)? {
        Verdict::Intact { entries, head } => (entries, head),
        Verdict::Broken { seq, reason } => {
            return Err(fail(format!(
                "the audit log is broken at entry {seq} ({reason}): a backup would keep it so; check it with `creditpool audit verify`"
            )));
        }
    };
    let recorded = workbench::recovery::recorded_files(&snapshot, workspaces)
        .await
        .map_err(fail)?;
    snapshot.pool().close().await;
    // Its write-ahead log, checkpointed at close, goes with it.
    for side in ["db-wal", "db-shm"] {
        let _ = std::fs::remove_file(copied_database.with_extension(side));
    }
    let mut files = vec![entry(&copied_database, DATABASE.into())?];
    for key in KEYS {
        let file = database.with_extension(key);
        if file.is_file() {
            let name = format!("{}.{key}", DATABASE.trim_end_matches(".db"));
            files.push(copy(&file, &to.join(&name), name)?);
        }
    }
    for file in recorded {
        let Some(inside) = in_workspace(&file) else {
            return Err(fail(format!("{} is not a workspace file", file.display())));
        };
        if !file.is_file() {
            return Err(fail(format!(
                "{} is recorded by the database but is gone (deleted while the backup ran, or lost): run the backup again; if it says so again, the file is lost (`creditpool serve` logs such files at start)",
                file.display()
            )));
        }
        let name = format!("{WORKSPACES}/{inside}");
        files.push(copy(&file, &to.join(&name), name)?);
    }
    // The compiled models: a cache (a model missing from it is compiled again), kept so
    // that a restored server need not compile every model first.
    for (file, inside) in files_under(&workspaces.join(COMPILED_MODELS_DIR)) {
        let name = format!("{WORKSPACES}/{COMPILED_MODELS_DIR}/{inside}");
        // A file the cache is replacing may go while it is copied: the cache is
        // rebuilt from the models.
        if let Ok(copied) = copy(&file, &to.join(&name), name) {
            files.push(copied);
        }
    }
    let manifest = Manifest {
        format: FORMAT,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        version: env!("CARGO_PKG_VERSION").into(),
        audit_entries,
        audit_head,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(fail)?;
    std::fs::write(to.join(MANIFEST), text)
        .map_err(|e| fail(format!("writing the manifest: {e}")))?;
    Ok(manifest)
}

/// Restores the backup in `from` as the platform whose database is `database` (which
/// must not exist) and whose workspaces are under `workspaces` (empty or absent).
pub async fn restore(
    from: &Path,
    database: &Path,
    workspaces: &Path,
) -> Result<Manifest, BackupError> {
    let text = std::fs::read(from.join(MANIFEST)).map_err(|e| {
        fail(format!(
            "{} is not a complete backup: its {MANIFEST} cannot be read ({e})",
            from.display()
        ))
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| fail(format!("the backup's {MANIFEST} is not valid: {e}")))?;
    if manifest.format != FORMAT {
        return Err(fail(format!(
            "the backup's format {} is not one this version restores ({FORMAT})",
            manifest.format
        )));
    }
    // Every file is checked before anything is written.
    for file in &manifest.files {
        if file
            .path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(fail(format!("the backup names a bad path: {}", file.path)));
        }
        let found = entry(&from.join(&file.path), file.path.clone())?;
        if found != *file {
            return Err(fail(format!(
                "{} in the backup does not match its manifest (size or SHA-256): the backup is damaged",
                file.path
            )));
        }
    }
    if !manifest.files.iter().any(|f| f.path == DATABASE) {
        return Err(fail("the backup holds no database"));
    }
    if database.exists() {
        return Err(fail(format!(
            "{} exists: a restore never overwrites a platform's database; give a new path",
            database.display()
        )));
    }
    empty_folder(workspaces, "the workspaces folder")?;
    if let Some(parent) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| fail(format!("creating {}: {e}", parent.display())))?;
    }
    let stem = DATABASE.trim_end_matches(".db");
    for file in &manifest.files {
        let source = from.join(&file.path);
        let target = if file.path == DATABASE {
            database.to_path_buf()
        } else if let Some(key) = file.path.strip_prefix(&format!("{stem}.")) {
            database.with_extension(key)
        } else if let Some(inside) = file.path.strip_prefix(&format!("{WORKSPACES}/")) {
            workspaces.join(inside)
        } else {
            return Err(fail(format!(
                "the backup names an unknown file: {}",
                file.path
            )));
        };
        copy(&source, &target, file.path.clone())?;
    }
    // The files were recorded under the backed-up platform's folder.
    let root = std::path::absolute(workspaces).map_err(fail)?;
    let store = Store::open(database).await.map_err(fail)?;
    let mut tx = store.write().await.map_err(fail)?;
    let moved = governance::accounts::relocate_workspaces(&store, &mut tx, &root)
        .await
        .map_err(fail)?;
    let files = workbench::recovery::relocate(&store, &mut tx, &root)
        .await
        .map_err(fail)?;
    audit::append(
        &mut tx,
        Event {
            actor: &UserId::from("restore"),
            action: "platform.restored",
            subject: "platform",
            detail: serde_json::json!({
                "backup_created_at": manifest.created_at,
                "backup_audit_head": manifest.audit_head,
                "files": manifest.files.len(),
                "workspaces": root.display().to_string(),
                "workspaces_moved": moved,
                "files_moved": files,
            }),
            request_id: &RequestId::from("-"),
        },
    )
    .await
    .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    match audit::verify(&store).await.map_err(fail)? {
        Verdict::Intact { .. } => {}
        Verdict::Broken { seq, reason } => {
            return Err(fail(format!(
                "the restored audit log is broken at entry {seq}: {reason}"
            )));
        }
    }
    store.pool().close().await;
    Ok(manifest)
}

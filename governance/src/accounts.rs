//! Institution accounts (BRIEF P3, P7): batch opening of approved applications, each
//! with a workspace, data grants equal to its approved data supply list and default
//! quotas; then suspension, reinstatement and termination. Every change is audited in
//! the transaction that makes it.

use std::path::{Path, PathBuf};
use storage::ids::{ApplicationId, InstitutionId, RequestId, UserId};
use storage::states::{ApplicationStatus, InstitutionStatus};

use serde::{Deserialize, Serialize};

use crate::db::accounts::{Accounts as _, NewEvent};
use storage::audit::{self, Event};
use storage::store::{Store, StoreError, Tx, new_id, now, sha256_hex};

/// The limits of an institution (enforced by the workspace; issue 5 adds the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quotas {
    /// Jobs queued or running at once.
    pub concurrent_jobs: i64,
    /// Seconds of running jobs per day in China (wall clock: the time a job holds a
    /// slot and its cores).
    pub job_seconds_per_day: i64,
    /// Bytes of workspace storage.
    pub storage_bytes: i64,
    /// Rows released as samples in any 24 hours.
    pub sampled_rows_per_day: i64,
    /// Aggregates and evaluations released in any 24 hours.
    #[serde(default = "default_statistical_releases")]
    pub statistical_releases_per_day: i64,
    /// API requests per minute.
    pub requests_per_minute: i64,
    /// Cells (rows × columns) released as samples in any 24 hours.
    #[serde(default = "default_sampled_cells")]
    pub sampled_cells_per_day: i64,
    /// Jobs that may fail while running per day in China (a failure can depend on the
    /// data, so it is an output of its own).
    #[serde(default = "default_failed_jobs")]
    pub failed_jobs_per_day: i64,
}

fn default_sampled_cells() -> i64 {
    Quotas::default().sampled_cells_per_day
}

fn default_failed_jobs() -> i64 {
    Quotas::default().failed_jobs_per_day
}

fn default_statistical_releases() -> i64 {
    Quotas::default().statistical_releases_per_day
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            concurrent_jobs: 2,
            job_seconds_per_day: 3_600,
            storage_bytes: 10 << 30,
            sampled_rows_per_day: 1_000,
            statistical_releases_per_day: 50,
            requests_per_minute: 600,
            sampled_cells_per_day: 10_000,
            failed_jobs_per_day: 50,
        }
    }
}

/// An institution as administrators (and the institution itself) see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Institution {
    /// Id.
    pub id: InstitutionId,
    /// Registered name.
    pub name: String,
    /// Unified social credit code.
    pub uscc: String,
    /// `active`, `suspended` or `terminated`.
    pub status: InstitutionStatus,
    /// Opened.
    pub created_at: String,
    /// The application it was admitted with.
    pub application_id: Option<String>,
    /// `open` or `closed`.
    pub workspace_status: Option<String>,
    /// Granted public-credit tables.
    pub grants: Vec<String>,
    /// Its limits.
    pub quotas: Option<Quotas>,
    /// Suspensions, reinstatements and the termination, oldest first.
    pub lifecycle: Vec<LifecycleEvent>,
    /// What termination deleted.
    pub deletion_record: Option<DeletionRecord>,
}

/// One step of an institution's life.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LifecycleEvent {
    /// `opened`, `suspended`, `reinstated` or `terminated`.
    pub action: String,
    /// Why.
    pub reason: String,
    /// For a suspension: the day by which the institution must rectify.
    pub rectification_deadline: Option<String>,
    /// Who.
    pub actor: String,
    /// When.
    pub at: String,
}

/// One deleted file.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeletedFile {
    /// Path inside the workspace.
    pub path: String,
    /// Size.
    pub bytes: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// What termination deleted.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeletionRecord {
    /// Id.
    pub id: String,
    /// The files.
    pub files: Vec<DeletedFile>,
    /// How many.
    pub file_count: i64,
    /// Their total size.
    pub total_bytes: i64,
    /// Who.
    pub actor: String,
    /// When.
    pub deleted_at: String,
}

/// What a batch opening did for one application.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Opened {
    /// The application.
    pub application_id: ApplicationId,
    /// The new institution.
    pub institution_id: InstitutionId,
    /// Its name.
    pub name: String,
    /// Its granted tables.
    pub grants: Vec<String>,
}

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No such institution.
    #[error("no such institution")]
    NotFound,
    /// A field is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
        /// Every item at fault, for batch operations.
        details: Vec<(String, String)>,
    },
    /// The institution is not in a state that allows this.
    #[error("{0}")]
    Stage(String),
    /// The workspace's files could not be read or deleted.
    #[error("workspace files: {0}")]
    Files(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> AccountError {
    AccountError::Invalid {
        field: field.into(),
        message: message.into(),
        details: Vec::new(),
    }
}

/// Most applications one batch may open.
pub const MAX_BATCH: usize = 200;

/// Opens accounts for approved applications, all or none: every application must be
/// approved and not yet opened. Each gets an active institution (the applicant user
/// becomes its user), a workspace folder under `workspaces`, grants equal to its data
/// supply list and `quotas`.
pub async fn open_batch(
    store: &Store,
    application_ids: &[ApplicationId],
    quotas: Quotas,
    workspaces: &Path,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Vec<Opened>, AccountError> {
    if application_ids.is_empty() || application_ids.len() > MAX_BATCH {
        return Err(invalid(
            "application_ids",
            format!("list between 1 and {MAX_BATCH} approved applications"),
        ));
    }
    let mut tx = store.write().await?;
    let mut problems = Vec::new();
    let mut forms = Vec::new();
    for (i, id) in application_ids.iter().enumerate() {
        let field = format!("application_ids[{i}]");
        if application_ids[..i].contains(id) {
            problems.push((field, format!("application {id} is listed twice")));
            continue;
        }
        let row = store.application_to_open(&mut tx, id).await?;
        let Some(row) = row else {
            problems.push((field, format!("no application {id}")));
            continue;
        };
        let status = row.status;
        if row.institution_id.is_some() {
            problems.push((field, format!("application {id} already has an account")));
        } else if status != ApplicationStatus::Approved {
            problems.push((
                field,
                format!("application {id} is {status}; only approved applications are opened"),
            ));
        } else {
            let form = row.form?;
            let uscc = policies::Uscc::canonical(form.uscc.as_deref().unwrap_or_default());
            let taken = store.institution_with_uscc(&mut tx, &uscc).await?;
            if taken.is_some() {
                problems.push((
                    field,
                    format!("an institution with unified social credit code {uscc} already exists"),
                ));
            } else {
                forms.push((
                    ApplicationId::from(id.as_str()),
                    UserId::from(row.applicant_id),
                    form,
                ));
            }
        }
    }
    if let Some((field, _)) = problems.first().cloned() {
        return Err(AccountError::Invalid {
            field,
            message: format!(
                "nothing was opened: {}",
                problems
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details: problems,
        });
    }
    let at = now();
    let mut opened = Vec::new();
    for (application_id, applicant_id, form) in forms {
        let institution_id = InstitutionId::random();
        let name = form.institution_name.clone().unwrap_or_default();
        let uscc = policies::Uscc::canonical(form.uscc.as_deref().unwrap_or_default());
        let path = workspaces.join(institution_id.as_str());
        store
            .insert_institution(&mut tx, &institution_id, &name, &uscc, &at)
            .await?;
        store
            .make_institution_user(&mut tx, &applicant_id, &institution_id)
            .await?;
        store
            .insert_workspace(&mut tx, &institution_id, &application_id, &path, &at, actor)
            .await?;
        let mut grants = form.data_supply.clone();
        grants.sort();
        grants.dedup();
        for table in &grants {
            store
                .insert_grant(&mut tx, &institution_id, table, &at, actor)
                .await?;
        }
        store
            .insert_quotas(&mut tx, &institution_id, &quotas)
            .await?;
        lifecycle(
            store,
            &mut tx,
            &institution_id,
            "opened",
            &format!("application {application_id} approved"),
            None,
            actor,
        )
        .await?;
        audit::append(
            &mut tx,
            Event {
                actor,
                action: "institution.opened",
                subject: &institution_id,
                detail: serde_json::json!({
                    "application_id": application_id,
                    "name": name,
                    "uscc": uscc,
                    "user_id": applicant_id,
                    "grants": grants,
                    "quotas": quotas,
                }),
                request_id,
            },
        )
        .await?;
        std::fs::create_dir_all(&path).map_err(|e| {
            AccountError::Files(format!("creating the workspace {}: {e}", path.display()))
        })?;
        opened.push(Opened {
            application_id,
            institution_id,
            name,
            grants,
        });
    }
    tx.commit().await?;
    Ok(opened)
}

async fn lifecycle(
    store: &Store,
    tx: &mut Tx,
    institution_id: &InstitutionId,
    action: &str,
    reason: &str,
    deadline: Option<&str>,
    actor: &UserId,
) -> Result<(), StoreError> {
    store
        .insert_lifecycle_event(
            tx,
            &NewEvent {
                institution_id,
                action,
                reason,
                rectification_deadline: deadline,
                actor,
                at: &now(),
            },
        )
        .await
}

/// One institution, whole.
pub async fn get(store: &Store, id: &InstitutionId) -> Result<Institution, AccountError> {
    let row = store.institution(id).await?.ok_or(AccountError::NotFound)?;
    let grants = granted_tables(store, id).await?;
    let quotas = quotas(store, id).await?;
    let lifecycle = store.lifecycle_events(id).await?;
    let deletion_record = store.deletion_record(id).await?;
    Ok(Institution {
        id: row.id,
        name: row.name,
        uscc: row.uscc,
        status: row.status,
        created_at: row.created_at,
        application_id: row.application_id,
        workspace_status: row.workspace_status,
        grants,
        quotas,
        lifecycle,
        deletion_record,
    })
}

/// A page of institutions, by id.
pub async fn list(
    store: &Store,
    after: &str,
    limit: i64,
) -> Result<Vec<(String, String, String, String)>, AccountError> {
    Ok(store.institutions(after, limit).await?)
}

/// The tables granted to an institution, sorted.
pub async fn granted_tables(store: &Store, id: &InstitutionId) -> Result<Vec<String>, StoreError> {
    store.granted_tables(id).await
}

/// An institution's quotas.
pub async fn quotas(store: &Store, id: &InstitutionId) -> Result<Option<Quotas>, StoreError> {
    store.quotas(id).await
}

/// The workspace folder of an institution, while open.
pub async fn workspace_path(
    store: &Store,
    id: &InstitutionId,
) -> Result<Option<PathBuf>, StoreError> {
    let path = store.open_workspace_path(id).await?;
    Ok(path.map(PathBuf::from))
}

/// Records every workspace's folder as `root/<institution id>`, in `tx`: after a restore
/// into another folder (issue 17, item 8). How many were moved.
pub async fn relocate_workspaces(
    store: &Store,
    tx: &mut Tx,
    root: &Path,
) -> Result<u64, StoreError> {
    store
        .relocate_workspaces(tx, &root.display().to_string())
        .await
}

fn check_reason(reason: &str) -> Result<String, AccountError> {
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        return Err(invalid("reason", "give the reason (at least 5 characters)"));
    }
    if reason.chars().count() > crate::form::MAX_TEXT_CHARS {
        return Err(invalid(
            "reason",
            format!(
                "the reason is longer than {} characters",
                crate::form::MAX_TEXT_CHARS
            ),
        ));
    }
    Ok(reason.to_owned())
}

/// The status of institution `id` (`active`, `suspended`, `terminated`), if it exists.
pub async fn status(
    store: &Store,
    id: &InstitutionId,
) -> Result<Option<InstitutionStatus>, StoreError> {
    store.institution_status(id).await
}

/// Whether institution `id` exists (in any status), read in the caller's transaction.
pub async fn exists_in(store: &Store, tx: &mut Tx, id: &InstitutionId) -> Result<bool, StoreError> {
    Ok(store.institution_status_in(tx, id).await?.is_some())
}

async fn status_in(
    store: &Store,
    tx: &mut Tx,
    id: &InstitutionId,
) -> Result<InstitutionStatus, AccountError> {
    store
        .institution_status_in(tx, id)
        .await?
        .ok_or(AccountError::NotFound)
}

/// Suspends an active institution with a reason and a rectification deadline. Its
/// tokens stop working at once (the access rules read the status on every request);
/// the caller cancels its jobs.
pub async fn suspend(
    store: &Store,
    id: &InstitutionId,
    reason: &str,
    deadline: chrono::NaiveDate,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<(), AccountError> {
    let reason = check_reason(reason)?;
    if deadline <= storage::store::china_today() {
        return Err(invalid(
            "rectification_deadline",
            "the rectification deadline must be a day after today",
        ));
    }
    let mut tx = store.write().await?;
    let status = status_in(store, &mut tx, id).await?;
    if status != InstitutionStatus::Active {
        return Err(AccountError::Stage(format!(
            "only an active institution can be suspended; this one is {status}"
        )));
    }
    store
        .set_institution_status(&mut tx, id, InstitutionStatus::Suspended)
        .await?;
    let deadline = deadline.to_string();
    lifecycle(
        store,
        &mut tx,
        id,
        "suspended",
        &reason,
        Some(&deadline),
        actor,
    )
    .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "institution.suspended",
            subject: id,
            detail: serde_json::json!({ "reason": reason, "rectification_deadline": deadline }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Reinstates a suspended institution.
pub async fn reinstate(
    store: &Store,
    id: &InstitutionId,
    reason: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<(), AccountError> {
    let reason = check_reason(reason)?;
    let mut tx = store.write().await?;
    let status = status_in(store, &mut tx, id).await?;
    if status != InstitutionStatus::Suspended {
        return Err(AccountError::Stage(format!(
            "only a suspended institution can be reinstated; this one is {status}"
        )));
    }
    store
        .set_institution_status(&mut tx, id, InstitutionStatus::Active)
        .await?;
    lifecycle(store, &mut tx, id, "reinstated", &reason, None, actor).await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "institution.reinstated",
            subject: id,
            detail: serde_json::json!({ "reason": reason }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Terminates an institution: every credential of its users revoked, its grants
/// withdrawn, its workspace closed and its files deleted, with a deletion record naming
/// each file, its size and SHA-256. The audit trail is kept. The caller cancels its jobs
/// first.
pub async fn terminate(
    store: &Store,
    id: &InstitutionId,
    reason: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<DeletionRecord, AccountError> {
    let reason = check_reason(reason)?;
    let mut tx = store.write().await?;
    let status = status_in(store, &mut tx, id).await?;
    if status == InstitutionStatus::Terminated {
        return Err(AccountError::Stage(
            "the institution is already terminated".into(),
        ));
    }
    let path = store.open_workspace_path_in(&mut tx, id).await?;
    let files = match &path {
        Some(p) => inventory(Path::new(p))?,
        None => Vec::new(),
    };
    let at = now();
    store
        .set_institution_status(&mut tx, id, InstitutionStatus::Terminated)
        .await?;
    let revoked = store
        .revoke_institution_credentials(&mut tx, id, &at)
        .await?;
    let grants = store.withdraw_grants(&mut tx, id).await?;
    store.close_workspace(&mut tx, id, &at).await?;
    let record = DeletionRecord {
        id: new_id(),
        file_count: files.len() as i64,
        total_bytes: files.iter().map(|f| f.bytes as i64).sum(),
        files,
        actor: actor.into(),
        deleted_at: at.clone(),
    };
    store.insert_deletion_record(&mut tx, id, &record).await?;
    lifecycle(store, &mut tx, id, "terminated", &reason, None, actor).await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "institution.terminated",
            subject: id,
            detail: serde_json::json!({
                "reason": reason,
                "credentials_revoked": revoked,
                "grants_withdrawn": grants,
                "deletion_record": record.id,
                "files_deleted": record.file_count,
                "bytes_deleted": record.total_bytes,
                // One hash over the sorted list, so the log pins exactly what was deleted.
                "files_sha256": sha256_hex(
                    serde_json::to_string(&record.files).unwrap_or_default().as_bytes()
                ),
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    if let Some(p) = path {
        match std::fs::remove_dir_all(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AccountError::Files(format!("deleting {p}: {e}"))),
        }
    }
    Ok(record)
}

/// Every file under `root`, sorted by path, with size and SHA-256.
fn inventory(root: &Path) -> Result<Vec<DeletedFile>, AccountError> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(AccountError::Files(format!("{}: {e}", dir.display()))),
        };
        for entry in entries {
            let entry = entry.map_err(|e| AccountError::Files(e.to_string()))?;
            let kind = entry
                .file_type()
                .map_err(|e| AccountError::Files(e.to_string()))?;
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path)
                    .map_err(|e| AccountError::Files(format!("{}: {e}", path.display())))?;
                files.push(DeletedFile {
                    path: path
                        .strip_prefix(root)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                    bytes: bytes.len() as u64,
                    sha256: sha256_hex(&bytes),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

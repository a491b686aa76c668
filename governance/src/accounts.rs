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
use storage::said::Said;
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

/// One quota as administrators set it: its name (a field of [`Quotas`]), what it is
/// in Chinese, its unit and the range it may be set in.
#[derive(Clone, Copy, Debug)]
pub struct QuotaRule {
    /// The field.
    pub name: &'static str,
    /// What it limits, in Chinese (the pages' label).
    pub label_zh: &'static str,
    /// The unit pages show it in, in Chinese.
    pub unit_zh: &'static str,
    /// How many of the quota's own unit one of `unit_zh` is (storage is set in bytes,
    /// shown in MiB).
    pub scale: i64,
    /// Lowest value allowed.
    pub min: i64,
    /// Highest value allowed. The release budgets (samples' rows and cells, statistical
    /// releases, failed jobs) stop at ten times their defaults: what the output gate's
    /// documented promise allows an administrator to grant (docs/security-boundary.md).
    pub max: i64,
}

/// Every quota an administrator may set, in the order pages show them.
pub const QUOTA_RULES: [QuotaRule; 8] = [
    QuotaRule {
        name: "concurrent_jobs",
        label_zh: "同时排队或运行的作业",
        unit_zh: "个",
        scale: 1,
        min: 1,
        max: 16,
    },
    QuotaRule {
        name: "job_seconds_per_day",
        label_zh: "每日作业运行时间",
        unit_zh: "秒",
        scale: 1,
        min: 60,
        max: 16 * 86_400,
    },
    QuotaRule {
        name: "storage_bytes",
        label_zh: "工作区存储",
        unit_zh: "MiB",
        scale: 1 << 20,
        min: 1 << 20,
        max: 1 << 40,
    },
    QuotaRule {
        name: "sampled_rows_per_day",
        label_zh: "24 小时内抽样行数",
        unit_zh: "行",
        scale: 1,
        min: 0,
        max: 10_000,
    },
    QuotaRule {
        name: "sampled_cells_per_day",
        label_zh: "24 小时内抽样单元格数",
        unit_zh: "格",
        scale: 1,
        min: 0,
        max: 100_000,
    },
    QuotaRule {
        name: "statistical_releases_per_day",
        label_zh: "24 小时内汇总与评估发布",
        unit_zh: "次",
        scale: 1,
        min: 0,
        max: 500,
    },
    QuotaRule {
        name: "failed_jobs_per_day",
        label_zh: "每日运行失败的作业",
        unit_zh: "个",
        scale: 1,
        min: 0,
        max: 500,
    },
    QuotaRule {
        name: "requests_per_minute",
        label_zh: "每分钟 API 请求",
        unit_zh: "次",
        scale: 1,
        min: 10,
        max: 60_000,
    },
];

impl Quotas {
    /// The quota called `name` (a field name), if there is one.
    pub fn get(&self, name: &str) -> Option<i64> {
        Some(match name {
            "concurrent_jobs" => self.concurrent_jobs,
            "job_seconds_per_day" => self.job_seconds_per_day,
            "storage_bytes" => self.storage_bytes,
            "sampled_rows_per_day" => self.sampled_rows_per_day,
            "sampled_cells_per_day" => self.sampled_cells_per_day,
            "statistical_releases_per_day" => self.statistical_releases_per_day,
            "failed_jobs_per_day" => self.failed_jobs_per_day,
            "requests_per_minute" => self.requests_per_minute,
            _ => return None,
        })
    }

    /// Sets the quota called `name` (a field name) to `value`; false if there is none.
    pub fn set(&mut self, name: &str, value: i64) -> bool {
        let field = match name {
            "concurrent_jobs" => &mut self.concurrent_jobs,
            "job_seconds_per_day" => &mut self.job_seconds_per_day,
            "storage_bytes" => &mut self.storage_bytes,
            "sampled_rows_per_day" => &mut self.sampled_rows_per_day,
            "sampled_cells_per_day" => &mut self.sampled_cells_per_day,
            "statistical_releases_per_day" => &mut self.statistical_releases_per_day,
            "failed_jobs_per_day" => &mut self.failed_jobs_per_day,
            "requests_per_minute" => &mut self.requests_per_minute,
            _ => return false,
        };
        *field = value;
        true
    }

    /// Every quota out of its range ([`QUOTA_RULES`]), as (field, what is wrong).
    pub fn faults(&self) -> Vec<(String, Said)> {
        QUOTA_RULES
            .iter()
            .filter_map(|rule| {
                let value = self.get(rule.name)?;
                (value < rule.min || value > rule.max).then(|| {
                    (
                        rule.name.to_owned(),
                        Said::new(
                            format!(
                                "{} must be between {} and {} (it is {value})",
                                rule.name, rule.min, rule.max
                            ),
                            format!(
                                "{}应在 {} 至 {} {}之间（填写的是 {}）。",
                                rule.label_zh,
                                rule.min / rule.scale,
                                rule.max / rule.scale,
                                rule.unit_zh,
                                value as f64 / rule.scale as f64
                            ),
                        ),
                    )
                })
            })
            .collect()
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
        message: Said,
        /// Every item at fault, for batch operations and forms.
        details: Vec<(String, Said)>,
    },
    /// The institution is not in a state that allows this.
    #[error("{0}")]
    Stage(Said),
    /// The workspace's files could not be read or deleted.
    #[error("workspace files: {0}")]
    Files(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            AccountError::NotFound => "没有这个机构。".into(),
            AccountError::Invalid { message, .. } => message.zh.clone(),
            AccountError::Stage(message) => message.zh.clone(),
            AccountError::Files(_) | AccountError::Store(_) => {
                "服务暂时不可用，请稍后再试。".into()
            }
        }
    }
}

fn invalid(field: impl Into<String>, message: Said) -> AccountError {
    AccountError::Invalid {
        field: field.into(),
        message,
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
            Said::new(
                format!("list between 1 and {MAX_BATCH} approved applications"),
                format!("一次开户须选择 1 至 {MAX_BATCH} 个已批准的申请。"),
            ),
        ));
    }
    let mut tx = store.write().await?;
    let mut problems = Vec::new();
    let mut forms = Vec::new();
    for (i, id) in application_ids.iter().enumerate() {
        let field = format!("application_ids[{i}]");
        if application_ids[..i].contains(id) {
            problems.push((
                field,
                Said::new(
                    format!("application {id} is listed twice"),
                    format!("申请 {id} 重复列出。"),
                ),
            ));
            continue;
        }
        let row = store.application_to_open(&mut tx, id).await?;
        let Some(row) = row else {
            problems.push((
                field,
                Said::new(format!("no application {id}"), format!("没有申请 {id}。")),
            ));
            continue;
        };
        let status = row.status;
        if row.institution_id.is_some() {
            problems.push((
                field,
                Said::new(
                    format!("application {id} already has an account"),
                    format!("申请 {id} 已开户。"),
                ),
            ));
        } else if status != ApplicationStatus::Approved {
            problems.push((
                field,
                Said::new(
                    format!("application {id} is {status}; only approved applications are opened"),
                    format!("申请 {id} 尚未批准（{status}），只有已批准的申请可以开户。"),
                ),
            ));
        } else {
            let form = row.form?;
            let uscc = policies::Uscc::canonical(form.uscc.as_deref().unwrap_or_default());
            let taken = store.institution_with_uscc(&mut tx, &uscc).await?;
            if taken.is_some() {
                problems.push((
                    field,
                    Said::new(
                        format!(
                            "an institution with unified social credit code {uscc} already exists"
                        ),
                        format!("统一社会信用代码为 {uscc} 的机构已存在。"),
                    ),
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
            message: Said::new(
                format!(
                    "nothing was opened: {}",
                    problems
                        .iter()
                        .map(|(f, m)| format!("{f}: {}", m.en))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                format!(
                    "未开立任何账户：{}",
                    problems
                        .iter()
                        .map(|(_, m)| m.zh.as_str())
                        .collect::<Vec<_>>()
                        .join("")
                ),
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

/// What an institution's status is, said in a Chinese sentence.
fn status_zh(status: InstitutionStatus) -> &'static str {
    match status {
        InstitutionStatus::Active => "状态正常",
        InstitutionStatus::Suspended => "已暂停",
        InstitutionStatus::Terminated => "已终止",
    }
}

fn check_reason(reason: &str) -> Result<String, AccountError> {
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        return Err(invalid(
            "reason",
            Said::new(
                "give the reason (at least 5 characters)",
                "请写明原因（至少 5 个字）。",
            ),
        ));
    }
    if reason.chars().count() > crate::form::MAX_TEXT_CHARS {
        return Err(invalid(
            "reason",
            Said::new(
                format!(
                    "the reason is longer than {} characters",
                    crate::form::MAX_TEXT_CHARS
                ),
                format!("原因不能超过 {} 个字。", crate::form::MAX_TEXT_CHARS),
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
            Said::new(
                "the rectification deadline must be a day after today",
                "整改期限须晚于今天。",
            ),
        ));
    }
    let mut tx = store.write().await?;
    let status = status_in(store, &mut tx, id).await?;
    if status != InstitutionStatus::Active {
        return Err(AccountError::Stage(Said::new(
            format!("only an active institution can be suspended; this one is {status}"),
            format!("只有正常状态的机构可以暂停；该机构{}。", status_zh(status)),
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
        return Err(AccountError::Stage(Said::new(
            format!("only a suspended institution can be reinstated; this one is {status}"),
            format!("只有已暂停的机构可以恢复；该机构{}。", status_zh(status)),
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

/// `current` with `changes` (name, new value) made, and every fault of the change with
/// `reason`, as (field, what is wrong): nothing to change, a quota that does not exist,
/// one out of its range ([`QUOTA_RULES`]), a reason missing or too long.
pub fn quota_change(
    current: Quotas,
    changes: &[(&str, i64)],
    reason: &str,
) -> (Quotas, Vec<(String, Said)>) {
    let mut faults = Vec::new();
    if changes.is_empty() {
        faults.push((
            "quotas".to_owned(),
            Said::new("change at least one quota", "请至少修改一项配额。"),
        ));
    }
    let mut quotas = current;
    for (name, value) in changes {
        if !quotas.set(name, *value) {
            faults.push((
                (*name).to_owned(),
                Said::new(
                    format!("there is no quota {name}"),
                    format!("没有名为 {name} 的配额。"),
                ),
            ));
        }
    }
    faults.extend(quotas.faults());
    if let Err(AccountError::Invalid { field, message, .. }) = check_reason(reason) {
        faults.push((field, message));
    }
    (quotas, faults)
}

/// Changes quotas of an institution that is not terminated, as (name, new value), with
/// the reason; the others stay. Every quota must stay within its range
/// ([`QUOTA_RULES`]): every one out of it is named at once. Lowered below what is in
/// use, a quota refuses the next job or release, not the running ones. The audit entry
/// holds the quotas before and after; the quotas now are returned.
pub async fn set_quotas(
    store: &Store,
    id: &InstitutionId,
    changes: &[(&str, i64)],
    reason: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Quotas, AccountError> {
    let mut tx = store.write().await?;
    if status_in(store, &mut tx, id).await? == InstitutionStatus::Terminated {
        return Err(AccountError::Stage(Said::new(
            "the institution is terminated; its quotas no longer apply",
            "该机构已终止，配额不再适用。",
        )));
    }
    let before = store.quotas_in(&mut tx, id).await?;
    let (quotas, faults) = quota_change(before.unwrap_or_default(), changes, reason);
    if let Some((field, _)) = faults.first().cloned() {
        return Err(AccountError::Invalid {
            field,
            message: Said::new(
                faults
                    .iter()
                    .map(|(_, m)| m.en.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                faults
                    .iter()
                    .map(|(_, m)| m.zh.as_str())
                    .collect::<Vec<_>>()
                    .join(""),
            ),
            details: faults,
        });
    }
    let reason = reason.trim();
    store.update_quotas(&mut tx, id, &quotas).await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "institution.quotas_set",
            subject: id,
            detail: serde_json::json!({ "reason": reason, "before": before, "after": quotas }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(quotas)
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
        return Err(AccountError::Stage(Said::new(
            "the institution is already terminated",
            "该机构已终止。",
        )));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_within_every_range_and_the_release_budgets_stop_at_ten_times_them() {
        // P8: the gate's documented promise bounds what an administrator may grant.
        let defaults = Quotas::default();
        assert!(defaults.faults().is_empty(), "{:?}", defaults.faults());
        for (name, default) in [
            ("sampled_rows_per_day", defaults.sampled_rows_per_day),
            ("sampled_cells_per_day", defaults.sampled_cells_per_day),
            (
                "statistical_releases_per_day",
                defaults.statistical_releases_per_day,
            ),
            ("failed_jobs_per_day", defaults.failed_jobs_per_day),
        ] {
            let rule = QUOTA_RULES.iter().find(|r| r.name == name).expect("a rule");
            assert_eq!(rule.max, 10 * default, "{name}");
        }
        for rule in &QUOTA_RULES {
            assert!(defaults.get(rule.name).is_some(), "{}", rule.name);
            assert_eq!(rule.min % rule.scale, 0, "{}", rule.name);
        }
    }

    #[test]
    fn a_quota_change_names_every_fault_at_once_and_keeps_the_rest() {
        let reason = "a larger sample, approved";
        let (changed, faults) = quota_change(
            Quotas::default(),
            &[("sampled_rows_per_day", 2_000), ("concurrent_jobs", 1)],
            reason,
        );
        assert!(faults.is_empty(), "{faults:?}");
        assert_eq!(changed.sampled_rows_per_day, 2_000);
        assert_eq!(changed.concurrent_jobs, 1);
        assert_eq!(changed.storage_bytes, Quotas::default().storage_bytes);

        let (_, faults) = quota_change(
            Quotas::default(),
            &[
                ("sampled_rows_per_day", 10_001),
                ("storage_bytes", 1),
                ("no_such_quota", 5),
            ],
            "",
        );
        let fields: Vec<&str> = faults.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "no_such_quota",
                "storage_bytes",
                "sampled_rows_per_day",
                "reason"
            ]
        );
        // Storage is said in the unit pages show it in.
        let storage = &faults[1].1;
        assert!(storage.zh.contains("1 至 1048576 MiB"), "{}", storage.zh);
        assert!(storage.en.contains("storage_bytes must be between 1048576"));
        let (_, faults) = quota_change(Quotas::default(), &[], reason);
        assert_eq!(faults.len(), 1);
        assert_eq!(faults[0].0, "quotas");
    }
}

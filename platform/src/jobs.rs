//! An institution's workspace (BRIEF P4, P5) as every front door shows it and asks for
//! it: what it has used of each quota, the tables its jobs may read, its jobs as the
//! caller may see them, and submission. The caller is authorized on the institution,
//! the own and shared tables its jobs may read are decided by the access rules, and the
//! workbench checks the quotas and queues the job.

use governance::accounts;
use governance::identity::{Caller, Role};
use policies::access::Action;
use serde::Serialize;
use storage::ids::{InstitutionId, JobId, RequestId};
use workbench::own_data::{self, OwnColumn, OwnDataError, Visible};
use workbench::workspace::{Job, WorkspaceError};

use crate::store::StoreError;
use crate::{Platform, Refusal, principal};

/// Why a request about an institution's workspace was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// The caller may not use (or read) this institution's workspace.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The tables the institution's jobs see could not be decided.
    #[error(transparent)]
    OwnData(#[from] OwnDataError),
    /// The workspace refused it (its SQL, a quota, an unknown job) or failed.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// A progress report was refused (a field, a period reported already).
    #[error(transparent)]
    Report(#[from] governance::progress::ReportError),
}

impl From<StoreError> for JobsError {
    fn from(e: StoreError) -> Self {
        JobsError::Workspace(WorkspaceError::Store(e))
    }
}

/// What reading an institution's things needs: its own users use the workspace,
/// administrators read the institution.
pub fn read_action(caller: &Caller) -> Action {
    if caller.role == Role::Institution {
        Action::UseWorkspace
    } else {
        Action::ReadInstitution
    }
}

/// A job as `caller` sees it: an institution's users see its figures rounded (issue 14);
/// administrators, who oversee, see them exact.
pub fn seen_by(caller: &Caller, job: Job) -> Job {
    if caller.role == Role::Institution {
        job.for_institution()
    } else {
        job
    }
}

/// What an institution has used of each quota, and what is left.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// The institution.
    pub institution_id: InstitutionId,
    /// Jobs queued or running.
    pub concurrent_jobs: Used,
    /// Seconds of jobs run today (China time).
    pub job_seconds_per_day: Used,
    /// The workspace's storage.
    pub storage_bytes: StorageUsed,
    /// Jobs failed today.
    pub failed_jobs_per_day: Used,
    /// Rows released as samples in the last 24 hours.
    pub sampled_rows_per_day: Used,
    /// Cells released as samples in the last 24 hours.
    pub sampled_cells_per_day: Used,
    /// Aggregates and evaluations released in the last 24 hours.
    pub statistical_releases_per_day: Used,
    /// Requests a minute.
    pub requests_per_minute: RateLimit,
}

/// One quota: what is used of its limit, what is left, and when the use counted today
/// stops counting (null for a quota that does not reset).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Used {
    /// Used.
    pub used: i64,
    /// The limit.
    pub limit: i64,
    /// What is left.
    pub left: i64,
    /// When the count starts again (RFC 3339), if it does.
    pub resets_at: Option<String>,
}

impl Used {
    fn of(used: i64, limit: i64, resets_at: Option<&str>) -> Used {
        Used {
            used,
            limit,
            left: (limit - used).max(0),
            resets_at: resets_at.map(str::to_owned),
        }
    }
}

/// The storage quota: bytes held, bytes reserved for the results of queued and running
/// jobs, and what is left of the limit after both.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StorageUsed {
    /// Bytes held.
    pub used: u64,
    /// Bytes reserved for running jobs' results.
    pub reserved: u64,
    /// The limit.
    pub limit: i64,
    /// What is left after both.
    pub left: i64,
    /// Always null: storage does not reset.
    pub resets_at: Option<String>,
}

/// A limit on the rate of requests.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RateLimit {
    /// Requests a minute.
    pub limit: i64,
}

/// The tables an institution's jobs may read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tables {
    /// The tables of the data supply list granted to it.
    pub items: Vec<GrantedTable>,
    /// Its own tables and those shared with it (for an institution's users only).
    pub own_and_shared: Vec<OwnVisible>,
    /// Always null: the list is one page.
    pub next_cursor: Option<String>,
}

/// A granted table of the data supply list, with the columns its SQL sees.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantedTable {
    /// Its name in SQL.
    pub id: String,
    /// Its Chinese name.
    pub name_zh: String,
    /// Its English name.
    pub name_en: String,
    /// The unit that supplies it.
    pub source_unit: String,
    /// The columns SQL sees.
    pub columns: Vec<GrantedColumn>,
}

/// A column of a granted table (secret columns are not shown: SQL cannot read them).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantedColumn {
    /// Its name in SQL.
    pub name: String,
    /// Its SQL type.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether it may be empty.
    pub nullable: bool,
    /// Its Chinese label.
    pub name_zh: Option<String>,
    /// `public` or `masked` (masked values are hashed before a job reads them).
    pub sensitivity: Option<&'static str>,
}

/// An own or shared table as the institution's SQL sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OwnVisible {
    /// Its name in the institution's SQL.
    pub id: String,
    /// The table's id.
    pub table_id: String,
    /// The institution that uploaded it.
    pub owner: String,
    /// Whether the institution owns it.
    pub own: bool,
    /// `private`, `institutions` or `pool`.
    pub sharing: String,
    /// Its rows.
    pub rows: i64,
    /// Its columns.
    pub columns: Vec<OwnColumn>,
}

impl Platform {
    /// The own and shared tables the caller's institution's jobs see, by the access
    /// rules: what a job reads and what a release is judged against.
    pub async fn visible_tables(&self, caller: &Caller) -> Result<Vec<Visible>, OwnDataError> {
        own_data::visible(&self.store, &self.access, &principal(caller)).await
    }

    /// Queues `sql` in institution `institution_id`'s workspace for `caller`.
    pub async fn submit_job(
        &self,
        caller: &Caller,
        institution_id: &InstitutionId,
        sql: &str,
        request_id: &RequestId,
    ) -> Result<Job, JobsError> {
        self.institution(caller, institution_id, Action::UseWorkspace)
            .await?;
        let own = self.visible_tables(caller).await?;
        Ok(self
            .workspaces
            .submit(institution_id, &caller.user_id, sql, own, request_id)
            .await?)
    }

    /// What institution `id` has used of each quota, and what is left, for its own
    /// users and for administrators.
    pub async fn quota_usage(
        &self,
        caller: &Caller,
        id: &InstitutionId,
    ) -> Result<Usage, JobsError> {
        self.institution(caller, id, read_action(caller)).await?;
        let used = workbench::quotas::usage(&self.store, id).await?;
        let quotas = used.quotas;
        let tomorrow = crate::store::china_midnight_tonight();
        let frees = Some(used.sampled_frees_at.as_str());
        Ok(Usage {
            institution_id: id.clone(),
            concurrent_jobs: Used::of(used.jobs.active, quotas.concurrent_jobs, None),
            job_seconds_per_day: Used::of(
                used.jobs.ran_ms / 1000,
                quotas.job_seconds_per_day,
                Some(&tomorrow),
            ),
            storage_bytes: StorageUsed {
                used: used.storage_bytes,
                reserved: used.reserved_bytes,
                limit: quotas.storage_bytes,
                left: (quotas.storage_bytes
                    - used.storage_bytes as i64
                    - used.reserved_bytes as i64)
                    .max(0),
                resets_at: None,
            },
            failed_jobs_per_day: Used::of(
                used.jobs.failed,
                quotas.failed_jobs_per_day,
                Some(&tomorrow),
            ),
            sampled_rows_per_day: Used::of(used.sampled_rows, quotas.sampled_rows_per_day, frees),
            sampled_cells_per_day: Used::of(
                used.sampled_cells,
                quotas.sampled_cells_per_day,
                frees,
            ),
            statistical_releases_per_day: Used::of(
                used.statistical_releases,
                quotas.statistical_releases_per_day,
                None,
            ),
            requests_per_minute: RateLimit {
                limit: quotas.requests_per_minute,
            },
        })
    }

    /// The tables institution `id`'s jobs may read: exactly its grants, with the
    /// columns their SQL sees, and (for its own users) its own tables and those shared
    /// with it.
    pub async fn tables(&self, caller: &Caller, id: &InstitutionId) -> Result<Tables, JobsError> {
        self.institution(caller, id, read_action(caller)).await?;
        let manifest = catalog::Manifest::builtin();
        let items = accounts::granted_tables(&self.store, id)
            .await?
            .iter()
            .filter_map(|t| manifest.table(t))
            .map(|t| GrantedTable {
                id: t.id.clone(),
                name_zh: t.name_zh.clone(),
                name_en: t.name_en.clone(),
                source_unit: t.source_unit.clone(),
                // Secret columns are not visible to the institution's SQL at all.
                columns: t
                    .arrow_schema()
                    .fields()
                    .iter()
                    .filter(|f| {
                        t.column(f.name())
                            .is_none_or(|c| c.sensitivity != catalog::Sensitivity::Secret)
                    })
                    .map(|f| {
                        let def = t.column(f.name());
                        GrantedColumn {
                            name: f.name().clone(),
                            data_type: catalog::sql_type(f.data_type()).to_string(),
                            nullable: f.is_nullable(),
                            name_zh: def.map(|d| d.name_zh.clone()),
                            sensitivity: def.map(|d| d.sensitivity.as_str()),
                        }
                    })
                    .collect(),
            })
            .collect();
        let mut own_and_shared = Vec::new();
        if caller.role == Role::Institution {
            for v in self.visible_tables(caller).await? {
                own_and_shared.push(OwnVisible {
                    id: v.sql_name,
                    table_id: v.table.id,
                    owner: v.table.institution_id,
                    own: v.own,
                    sharing: v.table.sharing,
                    rows: v.table.rows,
                    columns: v.table.columns,
                });
            }
        }
        Ok(Tables {
            items,
            own_and_shared,
            next_cursor: None,
        })
    }

    /// Institution `id`'s jobs, newest first, after `before` (a submission time and a
    /// job id), at most `limit`, as `caller` sees them ([`seen_by`]).
    pub async fn jobs(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        before: Option<(&str, &JobId)>,
        limit: i64,
    ) -> Result<Vec<Job>, JobsError> {
        self.institution(caller, id, read_action(caller)).await?;
        Ok(self
            .workspaces
            .list(id, before, limit)
            .await?
            .into_iter()
            .map(|j| seen_by(caller, j))
            .collect())
    }

    /// Job `job` of institution `id` as `caller` sees it; another institution's job is
    /// not found.
    pub async fn job(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        job: &JobId,
    ) -> Result<Job, JobsError> {
        self.institution(caller, id, read_action(caller)).await?;
        Ok(seen_by(caller, self.workspaces.get(id, job).await?))
    }

    /// Cancels job `job` of institution `id` for `caller`.
    pub async fn cancel_job(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        job: &JobId,
        request_id: &RequestId,
    ) -> Result<Job, JobsError> {
        self.institution(caller, id, Action::UseWorkspace).await?;
        let job = self
            .workspaces
            .cancel(id, job, &caller.user_id, request_id)
            .await?;
        Ok(seen_by(caller, job))
    }

    /// Institution `id`'s reporting schedule, period by period with where its report
    /// stands, and the reports submitted.
    pub async fn progress_reports(
        &self,
        caller: &Caller,
        id: &InstitutionId,
    ) -> Result<
        (
            Vec<governance::progress::Period>,
            Vec<governance::progress::ProgressReport>,
        ),
        JobsError,
    > {
        let action = if caller.role == Role::Institution {
            Action::SubmitReport
        } else {
            Action::ReadInstitution
        };
        self.institution(caller, id, action).await?;
        let today = crate::store::china_today();
        Ok((
            governance::progress::schedule(&self.store, id, today, self.settings.reports).await?,
            governance::progress::list(&self.store, id).await?,
        ))
    }

    /// Submits institution `id`'s progress report for a period of its schedule.
    pub async fn submit_progress_report(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        content: &governance::progress::ReportContent,
        request_id: &RequestId,
    ) -> Result<governance::progress::ProgressReport, JobsError> {
        self.institution(caller, id, Action::SubmitReport).await?;
        Ok(governance::progress::submit(
            &self.store,
            id,
            content,
            self.settings.reports,
            &caller.user_id,
            request_id,
        )
        .await?)
    }
}

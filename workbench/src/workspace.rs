//! Institution workspaces: the tables an institution may query (exactly its grants)
//! and its jobs, run by the sandbox's job queue over those tables only. A job's result
//! stays in the workspace; the API shows its schema and row count, never its rows.
//! Job states are persisted and audited as they change.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use storage::ids::{InstitutionId, JobId, RequestId, UserId};

use catalog::Catalog;
use sandbox::{JobError, JobLimits, JobQueue, JobResult, JobState, Sandbox};
use serde::Serialize;

use crate::pseudonyms::Pseudonyms;
use crate::session::JobTables;
use crate::worker::{Artifacts, JobSpec, WorkerCommand};
use governance::accounts;
use storage::audit::{self, Event};
use storage::said::Said;
use storage::store::{Store, StoreError, now};

use crate::db::jobs::{Ended, Jobs as _, NewJob, Succeeded};
use crate::db::own_data::OwnData as _;

/// Longest SQL text accepted, in bytes.
pub const MAX_SQL_BYTES: usize = 64 * 1024;

/// A job as stored.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// The institution.
    pub institution_id: InstitutionId,
    /// Who submitted it.
    pub submitted_by: UserId,
    /// The SQL.
    pub sql: String,
    /// Where it is in its life.
    pub state: JobState,
    /// Submitted.
    pub submitted_at: String,
    /// Ended, once it has.
    pub ended_at: Option<String>,
    /// Why it failed, in words for the user.
    pub error: Option<String>,
    /// Its resource report, once it has succeeded.
    pub report: Option<JobUsage>,
    /// The result's columns (name and type), once it has succeeded.
    pub result_schema: Option<serde_json::Value>,
}

/// What a job used and produced.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobUsage {
    /// Rows read by the query's scans.
    pub rows_in: i64,
    /// Rows in the result (which stays in the workspace).
    pub rows_out: i64,
    /// Fuel used by models.
    pub fuel: i64,
    /// CPU time of model batches, ms.
    pub cpu_ms: i64,
    /// Wall time, ms.
    pub wall_ms: i64,
    /// Size of the result file.
    pub result_bytes: i64,
    /// Whether the figures are rounded, as institutions see them (issue 14: exact row
    /// counts, sizes, fuel and times would each carry data a query or a model chose).
    pub rounded: bool,
}

/// `n` rounded to `digits` significant figures (half away from zero).
pub fn significant(n: i64, digits: u32) -> i64 {
    let magnitude = n.unsigned_abs();
    let length = magnitude.checked_ilog10().map_or(1, |l| l + 1);
    if length <= digits {
        return n;
    }
    let unit = 10u64.pow(length - digits);
    let rounded = (magnitude + unit / 2) / unit * unit;
    i64::try_from(rounded).unwrap_or(i64::MAX) * n.signum()
}

/// A count as institutions see it: 0 as 0, 1 to 9 as 10, otherwise to two significant
/// figures. A job's figures answer at most a few bits each about what it read.
pub fn coarse_count(n: i64) -> i64 {
    match n {
        0 => 0,
        1..=9 => 10,
        _ => significant(n, 2),
    }
}

impl JobUsage {
    /// The figures as the institution sees them: counts and sizes to two significant
    /// figures (a count under ten as 10), fuel and times to one.
    pub fn coarse(&self) -> JobUsage {
        JobUsage {
            rows_in: coarse_count(self.rows_in),
            rows_out: coarse_count(self.rows_out),
            fuel: significant(self.fuel, 1),
            cpu_ms: significant(self.cpu_ms, 1),
            wall_ms: significant(self.wall_ms, 1),
            result_bytes: coarse_count(self.result_bytes),
            rounded: true,
        }
    }
}

impl Job {
    /// The job as its institution sees it: figures rounded ([`JobUsage::coarse`]).
    pub fn for_institution(mut self) -> Job {
        self.report = self.report.as_ref().map(JobUsage::coarse);
        self
    }
}

/// Why a workspace operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// No such job (or not this institution's).
    #[error("no such job")]
    NotFound,
    /// The institution has no open workspace.
    #[error("the institution has no open workspace")]
    NoWorkspace,
    /// A field is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: Said,
    },
    /// The job's SQL cannot run: it does not parse or plan, or is past the limits.
    #[error("{0}")]
    Sql(sandbox::SqlRefusal),
    /// A quota is used up.
    #[error("{message}")]
    Quota {
        /// The quota's name.
        quota: &'static str,
        /// What to do.
        message: Said,
    },
    /// The job has ended.
    #[error("the job has already ended ({0})")]
    Ended(JobState),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How jobs run: how many at once, their limits, and the worker process each runs in.
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// Jobs running at once, platform-wide.
    pub slots: usize,
    /// Limits of each job.
    pub limits: JobLimits,
    /// The program each running job is a process of.
    pub worker: WorkerCommand,
    /// Where compiled models are kept, sealed, for the workers to load.
    pub compiled_models: PathBuf,
    /// Jobs may run where the kernel cannot confine their workers (no Landlock): only
    /// for trying the platform out on such a machine.
    pub allow_unconfined: bool,
}

/// Runs the institutions' jobs, each in a worker process of its own
/// ([`crate::worker`]).
pub struct Workspaces {
    store: Store,
    catalog: Arc<Catalog>,
    /// The server's key from which each institution's pseudonym key is derived.
    secret: Arc<[u8; 32]>,
    queue: JobQueue,
    sandbox: OnceLock<Arc<Sandbox>>,
    limits: JobLimits,
    worker: WorkerCommand,
    allow_unconfined: bool,
    /// Uploads being read at once, at most as many as job slots.
    conversions: tokio::sync::Semaphore,
    /// Submitted jobs' SQL being planned at once, at most as many as job slots.
    planners: tokio::sync::Semaphore,
    /// The compiled-model cache and the key of its seals (never given to a worker).
    compiled_models: std::path::PathBuf,
    seal_key: [u8; 32],
    /// Queue ids of jobs not yet ended.
    live: Mutex<HashMap<JobId, sandbox::JobId>>,
    /// When running jobs started.
    started: Mutex<HashMap<JobId, std::time::Instant>>,
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspaces")
            .field("queue", &self.queue)
            .finish()
    }
}

impl Workspaces {
    /// Starts the job queue with `slots` running slots; identifying values reach jobs as
    /// pseudonyms keyed under `secret`. Jobs a previous process left queued or running
    /// are marked failed: their process is gone.
    pub async fn start(
        store: Store,
        catalog: Arc<Catalog>,
        secret: Arc<[u8; 32]>,
        jobs: JobSettings,
    ) -> Result<Arc<Workspaces>, StoreError> {
        let orphans = store
            .fail_unfinished_jobs(
                &now(),
                "the server restarted while the job was queued or running; submit it again",
            )
            .await?;
        // What they had written is nobody's result: it must not hold storage.
        for (id, institution_id) in &orphans {
            if let Some(root) = accounts::workspace_path(&store, institution_id).await? {
                let _ = std::fs::remove_dir_all(crate::worker::staging(&result_file(&root, id)));
            }
        }
        if !orphans.is_empty() {
            tracing::warn!(
                jobs = orphans.len(),
                "jobs of a previous process marked failed"
            );
        }
        // Without Landlock and without leave, the server does not start
        // (`AppState::start`); a worker refuses its job all the same.
        match crate::worker::landlock_abi() {
            Some(abi) if abi >= crate::worker::LANDLOCK_ABI => {}
            found => tracing::warn!(
                landlock_abi = ?found,
                wanted = crate::worker::LANDLOCK_ABI,
                "this kernel does not fully support Landlock: job workers are confined to their jobs' files only in part, or not at all if allowed (Linux 6.12 or later has every right)"
            ),
        }
        let queue = JobQueue::new(jobs.slots)
            .map_err(|e| StoreError::Failed(format!("starting the job queue: {e}")))?;
        // The seals of compiled models: a key of their own, derived from the secret.
        let seal = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_ref()),
            b"creditpool compiled-model seal",
        );
        let mut key = [0u8; 32];
        key.copy_from_slice(seal.as_ref());
        Ok(Arc::new(Workspaces {
            store,
            catalog,
            secret,
            queue,
            sandbox: OnceLock::new(),
            limits: jobs.limits,
            worker: jobs.worker,
            allow_unconfined: jobs.allow_unconfined,
            conversions: tokio::sync::Semaphore::new(jobs.slots.max(1)),
            planners: tokio::sync::Semaphore::new(jobs.slots.max(1)),
            compiled_models: jobs.compiled_models,
            seal_key: key,
            live: Mutex::new(HashMap::new()),
            started: Mutex::new(HashMap::new()),
        }))
    }

    /// The catalog of public-credit tables.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The pseudonym key of an institution.
    pub fn pseudonyms(&self, institution_id: &InstitutionId) -> Pseudonyms {
        Pseudonyms::new(&self.secret, institution_id)
    }

    /// The sandbox, started on first use: it checks models when they are uploaded and
    /// compiles them into the cache the job workers load them from.
    pub fn sandbox(&self) -> Result<Arc<Sandbox>, JobError> {
        if let Some(s) = self.sandbox.get() {
            return Ok(s.clone());
        }
        let cache = sandbox::ArtifactCache::new(&self.compiled_models, &self.seal_key)
            .map_err(|e| JobError::Internal(format!("opening the compiled models: {e}")))?;
        let s = Arc::new(
            Sandbox::new(crate::worker::sandbox_config())
                .map_err(|e| JobError::Internal(format!("starting the sandbox: {e}")))?
                .with_cache(cache),
        );
        Ok(self.sandbox.get_or_init(|| s).clone())
    }

    fn started(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, std::time::Instant>> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, sandbox::JobId>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `sql` for an institution, over exactly its granted tables.
    pub async fn submit(
        self: &Arc<Self>,
        institution_id: &InstitutionId,
        user_id: &UserId,
        sql: &str,
        own: Vec<crate::own_data::Visible>,
        request_id: &RequestId,
    ) -> Result<Job, WorkspaceError> {
        let sql = sql.trim();
        if sql.is_empty() {
            return Err(WorkspaceError::Invalid {
                field: "sql",
                message: Said::new(
                    "give the SQL to run (one SELECT statement)",
                    "请填写要运行的 SQL（一条 SELECT 语句）。",
                ),
            });
        }
        if sql.len() > MAX_SQL_BYTES {
            return Err(WorkspaceError::Invalid {
                field: "sql",
                message: Said::new(
                    format!("the SQL is longer than {MAX_SQL_BYTES} bytes"),
                    format!("SQL 超过 {MAX_SQL_BYTES} 字节。"),
                ),
            });
        }
        let root = accounts::workspace_path(&self.store, institution_id)
            .await?
            .ok_or(WorkspaceError::NoWorkspace)?;
        let quotas = accounts::quotas(&self.store, institution_id)
            .await?
            .unwrap_or_default();
        let grants = accounts::granted_tables(&self.store, institution_id).await?;
        let tables = JobTables::of(&self.catalog, &grants, &own).map_err(|e| {
            tracing::error!(institution = %institution_id, "resolving the granted tables: {e}");
            WorkspaceError::Invalid {
                field: "tables",
                message: Said::new(
                    "a table granted to the institution is missing from the platform's data folder; ask the platform's administrators",
                    "授予本机构的一张数据表在平台数据目录中缺失：请联系平台管理员。",
                ),
            }
        })?;
        let models = crate::models::active_paths(&self.store, institution_id).await?;
        let id = JobId::random();
        let out = result_file(&root, &id);
        let mut spec = JobSpec {
            job_id: id.clone(),
            tables,
            models: models.clone(),
            pseudonym_key: self.pseudonyms(institution_id).parts(),
            artifacts: None,
            sql: sql.to_owned(),
            out: out.clone(),
            memory_bytes: self.limits.memory_bytes,
            timeout_ms: self.limits.timeout.as_millis() as u64,
            max_result_bytes: self.limits.max_result_bytes,
            unconfined_allowed: self.allow_unconfined,
        };
        self.plan(&spec).await?;
        let mut tx = self.store.write().await?;
        let crate::quotas::JobUse {
            active,
            ran_ms,
            failed,
        } = crate::quotas::job_use_in(&self.store, &mut tx, institution_id).await?;
        let resets = storage::store::china_midnight_tonight();
        // A job's failure is an output too (issue 14, class 5): whether it failed, and
        // how, can depend on the data. Failures that can have a daily budget, counted
        // with the jobs that may still fail, so it holds exactly.
        if failed + active >= quotas.failed_jobs_per_day {
            return Err(WorkspaceError::Quota {
                quota: "failed_jobs_per_day",
                message: Said::new(
                    format!(
                        "quota failed_jobs_per_day: {failed} of your institution's jobs failed while running today{}, and it may have {} such failures a day (a failure can tell something about the data, so failures are limited); it resets at {resets} (midnight in China) — try SQL and models on your own sample data first",
                        if active > 0 {
                            format!(" and {active} more are queued or running")
                        } else {
                            String::new()
                        },
                        quotas.failed_jobs_per_day
                    ),
                    format!(
                        "本机构今天已有 {failed} 个作业运行失败{}，每天最多 {} 个（失败本身也可能透露数据，因此有限额）；北京时间午夜恢复。请先用自己的样例数据调试 SQL 和模型。",
                        if active > 0 {
                            format!("，另有 {active} 个排队或运行中")
                        } else {
                            String::new()
                        },
                        quotas.failed_jobs_per_day
                    ),
                ),
            });
        }
        if ran_ms / 1000 >= quotas.job_seconds_per_day {
            return Err(WorkspaceError::Quota {
                quota: "job_seconds_per_day",
                message: Said::new(
                    format!(
                        "quota job_seconds_per_day: your institution's jobs have run {} s today, its limit of {} s; it resets at {resets} (midnight in China)",
                        ran_ms / 1000,
                        quotas.job_seconds_per_day
                    ),
                    format!(
                        "本机构的作业今天已运行 {} 秒，达到每日上限 {} 秒；北京时间午夜恢复。",
                        ran_ms / 1000,
                        quotas.job_seconds_per_day
                    ),
                ),
            });
        }
        let stored = folder_bytes(&root);
        if stored >= quotas.storage_bytes as u64 {
            return Err(WorkspaceError::Quota {
                quota: "storage_bytes",
                message: Said::new(
                    format!(
                        "quota storage_bytes: your workspace holds {stored} bytes, its limit of {}; delete tables, models or old results first",
                        quotas.storage_bytes
                    ),
                    format!(
                        "建模空间已占用 {stored} 字节，达到上限 {} 字节：请先删除不用的数据表、模型或旧结果。",
                        quotas.storage_bytes
                    ),
                ),
            });
        }
        if active >= quotas.concurrent_jobs {
            return Err(WorkspaceError::Quota {
                quota: "concurrent_jobs",
                message: Said::new(
                    format!(
                        "quota concurrent_jobs: your institution already has {active} job(s) queued or running, its limit; wait for one to end or cancel one"
                    ),
                    format!(
                        "本机构已有 {active} 个作业在排队或运行，达到同时作业上限：请等其中一个结束，或取消一个。"
                    ),
                ),
            });
        }
        let free = (quotas.storage_bytes as u64)
            .saturating_sub(stored)
            .saturating_sub(unwritten(
                &root,
                &self.store.result_caps_in(&mut tx, institution_id).await?,
            ));
        if free == 0 {
            return Err(WorkspaceError::Quota {
                quota: "storage_bytes",
                message: Said::new(
                    "quota storage_bytes: the storage your workspace has left is reserved for the results of your queued and running jobs; wait for one to end or cancel one",
                    "建模空间剩余的存储已预留给排队和运行中作业的结果：请等其中一个结束，或取消一个。",
                ),
            });
        }
        // The free space is shared among the job slots still free, so one job cannot
        // hold all of it.
        let slots_free = (quotas.concurrent_jobs - active).max(1) as u64;
        let result_cap = self.limits.max_result_bytes.min(free / slots_free).max(1);
        self.store
            .insert_job(
                &mut tx,
                &NewJob {
                    id: &id,
                    institution_id,
                    submitted_by: user_id,
                    sql,
                    submitted_at: &now(),
                    inputs: &inputs_json(&own).to_string(),
                    result_cap: result_cap as i64,
                },
            )
            .await?;
        audit::append(
            &mut tx,
            Event {
                actor: user_id,
                action: "job.submitted",
                subject: &id,
                detail: serde_json::json!({
                    "institution_id": institution_id,
                    "sql": sql,
                    "tables": grants,
                    "models": models.len(),
                    "own_tables": own.iter().map(|v| v.sql_name.clone()).collect::<Vec<_>>(),
                }),
                request_id,
            },
        )
        .await?;
        tx.commit().await?;

        spec.max_result_bytes = result_cap;
        let work = {
            let this = self.clone();
            Box::new(move |cancel: sandbox::CancelToken| {
                Box::pin(async move { this.run(&spec, &cancel).await })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = JobResult> + Send>>
            })
        };
        // Held across submit so the job cannot end before its queue id is recorded.
        let queue_id = {
            let mut live = self.live();
            let queue_id = self.queue.submit_as(institution_id, work);
            live.insert(id.clone(), queue_id);
            queue_id
        };
        let this = self.clone();
        let job_id = id.clone();
        tokio::spawn(async move {
            let status = this.queue.wait(queue_id).await;
            let outcome = status
                .and_then(|s| s.outcome)
                .unwrap_or_else(|| Err(JobError::Internal("the job queue lost the job".into())));
            if let Err(e) = this.finish(&job_id, &outcome, &out).await {
                tracing::error!(job = %job_id, "recording the end of a job: {e}");
            }
            this.live().remove(&job_id);
        });
        self.get(institution_id, &id).await
    }

    /// Plans a submitted job's SQL in a worker process (issue 17): SQL that cannot run
    /// (a syntax error, an unknown table or column, a query past the limits) is refused
    /// with its position instead of being queued to fail. Planning reads no rows, so
    /// its verdict depends on the SQL and the tables' columns only, and a refusal is not
    /// one of the failures a day's budget counts. When no verdict can be had (the
    /// worker could not start), the job is queued and its run decides.
    async fn plan(&self, spec: &JobSpec) -> Result<(), WorkspaceError> {
        let _turn = self
            .planners
            .acquire()
            .await
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        let mut spec = spec.clone();
        spec.artifacts = Some(self.artifacts(&spec.models));
        match crate::worker::plan(&self.worker, &spec).await {
            Ok(()) => Ok(()),
            Err(JobError::Sql(refusal)) => Err(WorkspaceError::Sql(refusal)),
            // The planner's own limit (at most MAX_PLAN_TIME), as its worker was told it.
            Err(JobError::Timeout { limit_ms }) => {
                Err(WorkspaceError::Sql(sandbox::SqlRefusal::new(format!(
                    "the query took longer than {} s to plan; simplify it (fewer joins, shorter lists of values)",
                    limit_ms / 1000
                ))))
            }
            Err(JobError::Memory { limit_mib }) => {
                Err(WorkspaceError::Sql(sandbox::SqlRefusal::new(format!(
                    "planning the query needs more than the job's memory limit of {limit_mib} MiB; simplify it (shorter constants and lists of values)"
                ))))
            }
            Err(JobError::Execution(message)) => {
                Err(WorkspaceError::Sql(sandbox::SqlRefusal::new(format!(
                    "the query's constant expressions could not be computed while planning it: {message}"
                ))))
            }
            Err(JobError::Model(e)) => {
                Err(WorkspaceError::Sql(sandbox::SqlRefusal::new(e.to_string())))
            }
            Err(e) => {
                tracing::warn!(job = %spec.job_id, "planning a submitted job gave no verdict; it is queued and its run decides: {e}");
                Ok(())
            }
        }
    }

    /// Runs a job in its worker process, once the queue gives it a slot.
    async fn run(&self, spec: &JobSpec, cancel: &sandbox::CancelToken) -> JobResult {
        let id = &spec.job_id;
        self.started()
            .insert(id.to_owned(), std::time::Instant::now());
        if let Err(e) = self.store.mark_job_running(id).await {
            tracing::error!(job = %id, "recording a job as running: {e}");
        }
        // The compiled models the worker may load: pinned now, each after its seal is
        // checked, so that the worker needs no key.
        let mut spec = spec.clone();
        spec.artifacts = Some(self.artifacts(&spec.models));
        crate::worker::run(&self.worker, &spec, cancel).await
    }

    /// How a worker is told to read an upload `file` into `out`: under the job limits'
    /// memory and time.
    pub fn convert_spec(
        &self,
        upload: &crate::own_data::Upload<'_>,
        file: PathBuf,
        out: PathBuf,
    ) -> crate::own_data::ConvertSpec {
        crate::own_data::ConvertSpec {
            name: upload.name.to_owned(),
            format: upload.format.to_owned(),
            types: upload.types.clone(),
            sensitivity: upload.sensitivity.clone(),
            file,
            out,
            memory_bytes: self.limits.memory_bytes as u64,
            timeout_ms: self.limits.timeout.as_millis() as u64,
            unconfined_allowed: self.allow_unconfined,
        }
    }

    /// Reads an uploaded file into Parquet in a worker process of its own, confined to
    /// the upload's staging folder under the memory and time of a job: a file that
    /// crashes a parser, or needs more memory or time, ends that worker only and is
    /// refused as unreadable.
    pub async fn convert(
        &self,
        spec: &crate::own_data::ConvertSpec,
    ) -> Result<crate::own_data::Converted, crate::own_data::OwnDataError> {
        use crate::own_data::{ConvertOutcome, OwnDataError};
        let unreadable = || {
            OwnDataError::Unreadable(format!(
                "the file could not be read as {}: it is malformed, or reading it needs more than {} MiB of memory or {} s",
                spec.format,
                spec.memory_bytes >> 20,
                spec.timeout_ms / 1000
            ))
        };
        // Uploads take turns like jobs: no more workers reading files than job slots.
        let _turn = self
            .conversions
            .acquire()
            .await
            .map_err(|e| OwnDataError::Files(e.to_string()))?;
        let said = crate::worker::converse(
            &self.worker,
            &format!("upload-{}", spec.name),
            &crate::worker::Task::Convert(spec.clone()),
            std::time::Duration::from_millis(spec.timeout_ms),
            &sandbox::CancelToken::new(),
        )
        .await;
        let said = match said {
            Ok(said) => said,
            Err(sandbox::JobError::Timeout { .. }) => return Err(unreadable()),
            Err(e) => return Err(OwnDataError::Files(e.to_string())),
        };
        if matches!(said.status.code(), Some(2 | 3)) {
            // The worker could not start its work (confining itself, reading its task):
            // not the file's fault.
            return Err(OwnDataError::Files(format!(
                "the upload's worker could not start: {}",
                said.err.trim()
            )));
        }
        if !said.status.success() {
            tracing::warn!(status = %said.status, "an upload's worker ended abnormally");
            return Err(unreadable());
        }
        match serde_json::from_slice::<ConvertOutcome>(&said.out) {
            Ok(ConvertOutcome::Done {
                columns,
                rows,
                warnings,
            }) => Ok((columns, rows, warnings)),
            Ok(ConvertOutcome::Invalid { field, message }) => {
                Err(OwnDataError::Invalid { field, message })
            }
            Ok(ConvertOutcome::Unreadable(m)) => Err(OwnDataError::Unreadable(m)),
            Ok(ConvertOutcome::Files(m)) => Err(OwnDataError::Files(m)),
            Err(e) => Err(OwnDataError::Files(format!(
                "the upload's worker answered nothing readable: {e}"
            ))),
        }
    }

    /// The compiled-model cache as a worker is given it: its folder and the pins of the
    /// models `paths`. A model without a sealed artifact is compiled by the worker.
    fn artifacts(&self, paths: &[String]) -> Artifacts {
        let mut pins = Vec::new();
        let mut files = Vec::new();
        match self.sandbox() {
            Ok(sandbox) => {
                for bytes in paths.iter().filter_map(|p| std::fs::read(p).ok()) {
                    if let (Some(pin), Some(file)) =
                        (sandbox.pin(&bytes), sandbox.artifact_file(&bytes))
                    {
                        pins.push(pin);
                        files.push(file);
                    }
                }
            }
            Err(e) => tracing::error!("pinning the compiled models: {e}"),
        }
        Artifacts {
            dir: self.compiled_models.clone(),
            pins,
            files,
        }
    }

    async fn finish(
        &self,
        id: &JobId,
        outcome: &JobResult,
        out: &std::path::Path,
    ) -> Result<(), StoreError> {
        // Hashed before the write transaction, off the async workers: a result can be
        // large. A result that cannot be read back fails the job.
        let unreadable;
        let (outcome, digest) = match outcome {
            Ok(report) => {
                storage::crash::point("job.result_placed");
                let path = out.to_path_buf();
                let read = tokio::task::spawn_blocking(move || storage::store::sha256_file(&path))
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|r| r);
                match read {
                    Ok(digest) => (Ok(report), digest),
                    Err(e) => {
                        unreadable = JobError::Io(format!("reading the result back: {e}"));
                        (Err(&unreadable), (0, String::new()))
                    }
                }
            }
            Err(e) => (Err(e), (0, String::new())),
        };
        let mut tx = self.store.write().await?;
        let at = now();
        let (state, detail) = match outcome {
            Ok(report) => {
                let (size, sha256) = &digest;
                let schema = result_schema(out);
                self.store
                    .record_job_success(
                        &mut tx,
                        id,
                        &Succeeded {
                            ended_at: &at,
                            rows_in: report.rows_in as i64,
                            rows_out: report.rows_out as i64,
                            fuel: report.models.fuel as i64,
                            cpu_ms: report.cpu.max(report.models.cpu).as_millis() as i64,
                            wall_ms: report.wall.as_millis() as i64,
                            result_schema: &schema.to_string(),
                            result_bytes: *size as i64,
                            result_sha256: sha256,
                        },
                    )
                    .await?;
                (
                    "job.succeeded",
                    serde_json::json!({
                        "rows_in": report.rows_in,
                        "rows_out": report.rows_out,
                        "result_sha256": sha256,
                    }),
                )
            }
            Err(e) => {
                let state = if matches!(e, JobError::Cancelled) {
                    JobState::Cancelled
                } else {
                    JobState::Failed
                };
                let message = user_message(e);
                match e {
                    JobError::Internal(_) | JobError::Io(_) => {
                        tracing::error!(job = %id, "job failed inside the platform: {e}");
                    }
                    JobError::Model(_) => tracing::info!(job = %id, "a model failed: {e}"),
                    _ => {}
                }
                // A failed or cancelled job's time counts against the quota too.
                let wall_ms = self
                    .started()
                    .get(id)
                    .map_or(0, |t| t.elapsed().as_millis() as i64);
                self.store
                    .record_job_end(
                        &mut tx,
                        id,
                        &Ended {
                            state,
                            ended_at: &at,
                            error: &message,
                            wall_ms,
                            data_failure: e.depends_on_data(),
                        },
                    )
                    .await?;
                (
                    if state == JobState::Cancelled {
                        "job.cancelled"
                    } else {
                        "job.failed"
                    },
                    serde_json::json!({ "error": message }),
                )
            }
        };
        self.started().remove(id);
        audit::append(
            &mut tx,
            Event {
                actor: "system",
                action: state,
                subject: id,
                detail,
                request_id: "-",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One job of an institution.
    pub async fn get(
        &self,
        institution_id: &InstitutionId,
        id: &JobId,
    ) -> Result<Job, WorkspaceError> {
        self.store
            .job(institution_id, id)
            .await?
            .ok_or(WorkspaceError::NotFound)
    }

    /// A page of an institution's jobs, newest first (by submission time, then id),
    /// starting after `before` (a job's `(submitted_at, id)`).
    pub async fn list(
        &self,
        institution_id: &InstitutionId,
        before: Option<(&str, &JobId)>,
        limit: i64,
    ) -> Result<Vec<Job>, WorkspaceError> {
        Ok(self.store.jobs(institution_id, before, limit).await?)
    }

    /// Cancels one job; audited.
    pub async fn cancel(
        &self,
        institution_id: &InstitutionId,
        id: &JobId,
        actor: &UserId,
        request_id: &RequestId,
    ) -> Result<Job, WorkspaceError> {
        let job = self.get(institution_id, id).await?;
        if job.ended_at.is_some() {
            return Err(WorkspaceError::Ended(job.state));
        }
        self.request_cancel(
            id,
            serde_json::json!({ "institution_id": institution_id }),
            (actor, request_id),
        )
        .await?;
        self.get(institution_id, id).await
    }

    /// Cancels every queued or running job of an institution (on suspension or
    /// termination); returns their ids.
    pub async fn cancel_all(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<JobId>, WorkspaceError> {
        let ids = self.store.unfinished_jobs(institution_id).await?;
        let live = self.live();
        for id in &ids {
            if let Some(queue_id) = live.get(id) {
                self.queue.cancel(*queue_id);
            }
        }
        Ok(ids)
    }

    /// Cancels a job in the queue and audits the request with `detail`.
    async fn request_cancel(
        &self,
        id: &JobId,
        detail: serde_json::Value,
        (actor, request_id): (&str, &str),
    ) -> Result<(), WorkspaceError> {
        if let Some(queue_id) = self.live().get(id).copied() {
            self.queue.cancel(queue_id);
        }
        let mut tx = self.store.write().await?;
        audit::append(
            &mut tx,
            Event {
                actor,
                action: "job.cancel_requested",
                subject: id,
                detail,
                request_id,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Cancels the queued and running jobs of institutions other than `owner` that read
    /// one of `owner`'s tables they may no longer read — a share revoked or narrowed, a
    /// table deleted, the owner suspended or terminated — decided by the same access rule
    /// as a job's inputs (issue 14, class 6). Whatever such a job had computed is never
    /// released: the gate refuses a result whose inputs changed. Returns the jobs.
    pub async fn cancel_revoked_readers(
        &self,
        access: &policies::access::AccessPolicy,
        owner: &InstitutionId,
        actor: &UserId,
        request_id: &RequestId,
    ) -> Result<Vec<JobId>, WorkspaceError> {
        let owned: std::collections::HashSet<String> =
            self.store.own_table_ids(owner).await?.into_iter().collect();
        let readers = self.store.other_unfinished_jobs(owner).await?;
        let mut cancelled = Vec::new();
        for (id, institution_id, inputs, status) in readers {
            let inputs: HashMap<String, String> = serde_json::from_str(&inputs).unwrap_or_default();
            let read: Vec<&String> = inputs.values().filter(|t| owned.contains(*t)).collect();
            if read.is_empty() {
                continue;
            }
            let reader = policies::access::Principal {
                user_id: "system".into(),
                role: "institution".into(),
                institution: Some(policies::access::InstitutionRef {
                    id: institution_id.to_string(),
                    status,
                }),
                ..Default::default()
            };
            let visible: std::collections::HashSet<String> =
                crate::own_data::visible(&self.store, access, &reader)
                    .await
                    .map_err(|e| WorkspaceError::Store(StoreError::Failed(e.to_string())))?
                    .into_iter()
                    .map(|v| v.table.id)
                    .collect();
            let lost: Vec<&String> = read.into_iter().filter(|t| !visible.contains(*t)).collect();
            if lost.is_empty() {
                continue;
            }
            self.request_cancel(
                &id,
                serde_json::json!({
                    "institution_id": institution_id,
                    "reason": "input_revoked",
                    "tables": lost,
                }),
                (actor, request_id),
            )
            .await?;
            cancelled.push(id);
        }
        Ok(cancelled)
    }

    /// Waits until a job has ended and its end is recorded (tools and tests).
    pub async fn wait(&self, id: &JobId) {
        let queue_id = self.live().get(id).copied();
        if let Some(queue_id) = queue_id {
            self.queue.wait(queue_id).await;
        }
        // The end is recorded by the job's own task right after; poll briefly for it.
        for _ in 0..500 {
            if !self.live().contains_key(id) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// Where a job's result is kept once it succeeded.
pub fn result_file(root: &std::path::Path, job_id: &JobId) -> std::path::PathBuf {
    root.join("results").join(format!("{job_id}.parquet"))
}

/// Where a running job's result grows until the job succeeds: in its worker's staging
/// folder.
fn partial_result(root: &std::path::Path, job_id: &JobId) -> std::path::PathBuf {
    sandbox::partial_path(&crate::worker::staged(&result_file(root, job_id)))
}

/// The storage an institution's queued and running jobs have reserved and not yet
/// written (their partial results already count in the folder's size).
pub async fn reserved_bytes(
    store: &Store,
    root: &std::path::Path,
    institution_id: &InstitutionId,
) -> Result<u64, StoreError> {
    Ok(unwritten(root, &store.result_caps(institution_id).await?))
}

/// What the jobs with these `(id, result_cap)` may still write in the workspace at
/// `root`.
fn unwritten(root: &std::path::Path, caps: &[(JobId, Option<i64>)]) -> u64 {
    caps.iter()
        .map(|(id, cap)| {
            let written = std::fs::metadata(partial_result(root, id)).map_or(0, |m| m.len());
            (cap.unwrap_or(0).max(0) as u64).saturating_sub(written)
        })
        .sum()
}

/// What the user is told about a failed job: their SQL's or model's fault in full, the
/// platform's own troubles without internals.
fn user_message(e: &JobError) -> String {
    match e {
        JobError::Internal(_) | JobError::Io(_) => {
            "the job failed inside the platform; the operators have been told — try again later"
                .into()
        }
        // What a guest says when it fails (a trap's kind and place, the lengths and
        // offsets of a malformed output) is the guest's choice, so it could carry data
        // out (issue 14, class 5): the institution is told which model and what kind of
        // failure; the details go to the platform's log.
        JobError::Model(sandbox::SandboxError::Trap { model, .. }) => format!(
            "model '{model}' failed: it trapped (a WebAssembly runtime error such as unreachable code, a division by zero or an out-of-bounds access); the details are not shown, since a model could choose them — run the model on your own sample data with `creditpool model run` to see them"
        ),
        JobError::Model(sandbox::SandboxError::BadOutput { model, .. }) => format!(
            "model '{model}' returned an output that breaks the ABI (docs/model-abi.md §4: bounds, lengths, offsets, UTF-8, row count, type); the details are not shown, since a model could choose them — check it with `creditpool model run` on your own sample data"
        ),
        other => other.to_string(),
    }
}

/// The columns of a result file, as `[{name, type}]`.
fn result_schema(path: &std::path::Path) -> serde_json::Value {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let schema = std::fs::File::open(path)
        .ok()
        .and_then(|f| ParquetRecordBatchReaderBuilder::try_new(f).ok())
        .map(|b| b.schema().clone());
    match schema {
        Some(s) => serde_json::Value::Array(
            s.fields()
                .iter()
                .map(|f| serde_json::json!({ "name": f.name(), "type": catalog::sql_type(f.data_type()) }))
                .collect(),
        ),
        None => serde_json::Value::Array(Vec::new()),
    }
}

/// The folder holding every workspace, under the platform's state folder.
pub fn default_root(database: &std::path::Path) -> PathBuf {
    database
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .join("workspaces")
}

/// Bytes under a folder (a missing folder holds none).
pub fn folder_bytes(path: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// The own and shared tables a job is given, by the name its SQL uses.
pub fn inputs_json(own: &[crate::own_data::Visible]) -> serde_json::Value {
    serde_json::Value::Object(
        own.iter()
            .map(|v| (v.sql_name.clone(), serde_json::json!(v.table.id)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn institutions_see_figures_rounded() {
        // Issue 14, class 5: a count equal to a hidden value, or fuel used as a counter,
        // comes out as one of few values.
        assert_eq!(
            [0, 1, 9, 10, 99, 104, 105, 12_345, 987_654].map(coarse_count),
            [0, 10, 10, 10, 99, 100, 110, 12_000, 990_000]
        );
        assert_eq!(
            [0, 7, 14, 15, 3_456_789, -250].map(|n| significant(n, 1)),
            [0, 7, 10, 20, 3_000_000, -300]
        );
        let exact = JobUsage {
            rows_in: 50_123,
            rows_out: 3,
            fuel: 123_456_789,
            cpu_ms: 1_234,
            wall_ms: 56,
            result_bytes: 4_629,
            rounded: false,
        };
        let seen = exact.coarse();
        assert_eq!(
            (
                seen.rows_in,
                seen.rows_out,
                seen.fuel,
                seen.cpu_ms,
                seen.wall_ms,
                seen.result_bytes,
                seen.rounded
            ),
            (50_000, 10, 100_000_000, 1_000, 60, 4_600, true)
        );
    }

    #[test]
    fn a_failing_model_is_named_but_its_own_words_are_not_passed_on() {
        // A model chooses its trap and its malformed output: numbers in them would be a
        // channel out of the sandbox.
        let trap = JobError::Model(sandbox::SandboxError::Trap {
            model: "leaky".into(),
            message: "wasm trap: unreachable at function 330106 offset 19900307".into(),
        });
        let bad = JobError::Model(sandbox::SandboxError::BadOutput {
            model: "leaky".into(),
            reason: "row count 13812345678 is not the batch's 1024".into(),
        });
        for e in [trap, bad] {
            let message = user_message(&e);
            assert!(message.contains("model 'leaky'"), "{message}");
            assert!(
                !message.contains("330106")
                    && !message.contains("19900307")
                    && !message.contains("13812345678"),
                "{message}"
            );
        }
        // A limit's own value is the platform's, and stays.
        let limit = JobError::Timeout { limit_ms: 60_000 };
        assert!(user_message(&limit).contains("60000"));
    }
}

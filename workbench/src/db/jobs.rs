//! The SQL of jobs (`crate::workspace`) and of what the job quotas count
//! (`crate::quotas`).

use sqlx::Row;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use storage::ids::{InstitutionId, JobId};

use storage::store::{Store, StoreError, Tx};

use crate::quotas::JobUse;
use crate::workspace::{Job, JobUsage};
use sandbox::JobState;

/// A job as it is first stored, queued.
pub(crate) struct NewJob<'a> {
    pub id: &'a str,
    pub institution_id: &'a InstitutionId,
    pub submitted_by: &'a str,
    pub sql: &'a str,
    pub submitted_at: &'a str,
    /// The own and shared tables it reads, by SQL name (JSON).
    pub inputs: &'a str,
    /// The bytes its result may take.
    pub result_cap: i64,
}

/// What a succeeded job used and produced, as stored.
pub(crate) struct Succeeded<'a> {
    pub ended_at: &'a str,
    pub rows_in: i64,
    pub rows_out: i64,
    pub fuel: i64,
    pub cpu_ms: i64,
    pub wall_ms: i64,
    /// The result's columns (JSON).
    pub result_schema: &'a str,
    pub result_bytes: i64,
    pub result_sha256: &'a str,
}

/// How a job that did not succeed ended, as stored.
pub(crate) struct Ended<'a> {
    /// Failed or cancelled.
    pub state: JobState,
    pub ended_at: &'a str,
    /// Why, in words for the user.
    pub error: &'a str,
    pub wall_ms: i64,
    /// Whether the failure can depend on the data (`failed_jobs_per_day`).
    pub data_failure: bool,
}

/// A queued or running job of another institution and what it reads: `(id,
/// institution_id, inputs (JSON), the institution's status)`.
pub(crate) type Reader = (JobId, InstitutionId, String, String);

/// Where jobs are kept: what a backend implements.
pub(crate) trait Jobs {
    /// Every succeeded job and its institution: the jobs whose result files are kept.
    async fn succeeded_jobs(&self) -> Result<Vec<(JobId, InstitutionId)>, StoreError>;
    /// Marks every queued or running job failed with `error` (their process is gone);
    /// returns `(id, institution_id)` of each.
    async fn fail_unfinished_jobs(
        &self,
        at: &str,
        error: &str,
    ) -> Result<Vec<(JobId, InstitutionId)>, StoreError>;
    /// An institution's jobs as the job quotas count them since `day_starts`, read in
    /// `tx` (the submission that may insert a job).
    async fn job_use_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        day_starts: &str,
    ) -> Result<JobUse, StoreError>;
    /// The same, read now.
    async fn job_use(
        &self,
        institution_id: &InstitutionId,
        day_starts: &str,
    ) -> Result<JobUse, StoreError>;
    /// `(id, result_cap)` of an institution's queued and running jobs, read in `tx`.
    async fn result_caps_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
    ) -> Result<Vec<(JobId, Option<i64>)>, StoreError>;
    /// The same, read now.
    async fn result_caps(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<(JobId, Option<i64>)>, StoreError>;
    /// Stores a new job, queued.
    async fn insert_job(&self, tx: &mut Tx, job: &NewJob<'_>) -> Result<(), StoreError>;
    /// Marks a queued job running.
    async fn mark_job_running(&self, id: &JobId) -> Result<(), StoreError>;
    /// Records a job's success.
    async fn record_job_success(
        &self,
        tx: &mut Tx,
        id: &JobId,
        done: &Succeeded<'_>,
    ) -> Result<(), StoreError>;
    /// Records a job's failure or cancellation.
    async fn record_job_end(
        &self,
        tx: &mut Tx,
        id: &JobId,
        end: &Ended<'_>,
    ) -> Result<(), StoreError>;
    /// One job of an institution.
    async fn job(
        &self,
        institution_id: &InstitutionId,
        id: &JobId,
    ) -> Result<Option<Job>, StoreError>;
    /// A page of an institution's jobs, newest first (submission time, then id),
    /// after `before` (`(submitted_at, id)` of the last job of the previous page).
    async fn jobs(
        &self,
        institution_id: &InstitutionId,
        before: Option<(&str, &JobId)>,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError>;
    /// The ids of an institution's queued and running jobs.
    async fn unfinished_jobs(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<JobId>, StoreError>;
    /// The queued and running jobs of institutions other than `owner`.
    async fn other_unfinished_jobs(&self, owner: &InstitutionId)
    -> Result<Vec<Reader>, StoreError>;
}

fn job(row: &SqliteRow) -> Job {
    let stored: String = row.get("state");
    // The schema admits only the five states (a CHECK constraint).
    let state = JobState::parse(&stored).unwrap_or(JobState::Failed);
    let report = (state == JobState::Succeeded).then(|| JobUsage {
        rows_in: row.get::<Option<i64>, _>("rows_in").unwrap_or(0),
        rows_out: row.get::<Option<i64>, _>("rows_out").unwrap_or(0),
        fuel: row.get::<Option<i64>, _>("fuel").unwrap_or(0),
        cpu_ms: row.get::<Option<i64>, _>("cpu_ms").unwrap_or(0),
        wall_ms: row.get::<Option<i64>, _>("wall_ms").unwrap_or(0),
        result_bytes: row.get::<Option<i64>, _>("result_bytes").unwrap_or(0),
        rounded: false,
    });
    Job {
        id: row.get("id"),
        institution_id: row.get("institution_id"),
        submitted_by: row.get("submitted_by"),
        sql: row.get("sql"),
        state,
        submitted_at: row.get("submitted_at"),
        ended_at: row.get("ended_at"),
        error: row.get("error"),
        report,
        result_schema: row
            .get::<Option<String>, _>("result_schema")
            .and_then(|s| serde_json::from_str(&s).ok()),
    }
}

async fn job_use_on(
    conn: &mut SqliteConnection,
    institution_id: &InstitutionId,
    day_starts: &str,
) -> Result<JobUse, StoreError> {
    let active: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE institution_id = ? AND state IN ('queued', 'running')",
    )
    .bind(institution_id)
    .fetch_one(&mut *conn)
    .await?;
    let ran_ms: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(wall_ms), 0) FROM jobs WHERE institution_id = ? AND ended_at >= ?",
    )
    .bind(institution_id)
    .bind(day_starts)
    .fetch_one(&mut *conn)
    .await?;
    let failed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE institution_id = ? AND data_failure = 1 \
         AND ended_at >= ?",
    )
    .bind(institution_id)
    .bind(day_starts)
    .fetch_one(&mut *conn)
    .await?;
    Ok(JobUse {
        active,
        ran_ms,
        failed,
    })
}

async fn result_caps_on(
    conn: &mut SqliteConnection,
    institution_id: &InstitutionId,
) -> Result<Vec<(JobId, Option<i64>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, result_cap FROM jobs WHERE institution_id = ? \
         AND state IN ('queued', 'running')",
    )
    .bind(institution_id)
    .fetch_all(conn)
    .await?)
}

impl Jobs for Store {
    async fn succeeded_jobs(&self) -> Result<Vec<(JobId, InstitutionId)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, institution_id FROM jobs WHERE state = 'succeeded'")
                .fetch_all(self.pool())
                .await?,
        )
    }

    async fn fail_unfinished_jobs(
        &self,
        at: &str,
        error: &str,
    ) -> Result<Vec<(JobId, InstitutionId)>, StoreError> {
        Ok(sqlx::query_as(
            "UPDATE jobs SET state = 'failed', ended_at = ?, error = ? \
             WHERE state IN ('queued', 'running') RETURNING id, institution_id",
        )
        .bind(at)
        .bind(error)
        .fetch_all(self.pool())
        .await?)
    }

    async fn job_use_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        day_starts: &str,
    ) -> Result<JobUse, StoreError> {
        job_use_on(tx, institution_id, day_starts).await
    }

    async fn job_use(
        &self,
        institution_id: &InstitutionId,
        day_starts: &str,
    ) -> Result<JobUse, StoreError> {
        let mut conn = self.pool().acquire().await?;
        job_use_on(&mut conn, institution_id, day_starts).await
    }

    async fn result_caps_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
    ) -> Result<Vec<(JobId, Option<i64>)>, StoreError> {
        result_caps_on(tx, institution_id).await
    }

    async fn result_caps(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<(JobId, Option<i64>)>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        result_caps_on(&mut conn, institution_id).await
    }

    async fn insert_job(&self, tx: &mut Tx, job: &NewJob<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO jobs (id, institution_id, submitted_by, sql, state, submitted_at, \
             inputs, result_cap) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
        )
        .bind(job.id)
        .bind(job.institution_id)
        .bind(job.submitted_by)
        .bind(job.sql)
        .bind(job.submitted_at)
        .bind(job.inputs)
        .bind(job.result_cap)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn mark_job_running(&self, id: &JobId) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET state = 'running' WHERE id = ? AND state = 'queued'")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn record_job_success(
        &self,
        tx: &mut Tx,
        id: &JobId,
        done: &Succeeded<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'succeeded', ended_at = ?, rows_in = ?, rows_out = ?, \
             fuel = ?, cpu_ms = ?, wall_ms = ?, result_schema = ?, result_bytes = ?, \
             result_sha256 = ? WHERE id = ?",
        )
        .bind(done.ended_at)
        .bind(done.rows_in)
        .bind(done.rows_out)
        .bind(done.fuel)
        .bind(done.cpu_ms)
        .bind(done.wall_ms)
        .bind(done.result_schema)
        .bind(done.result_bytes)
        .bind(done.result_sha256)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn record_job_end(
        &self,
        tx: &mut Tx,
        id: &JobId,
        end: &Ended<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = ?, ended_at = ?, error = ?, wall_ms = ?, \
             data_failure = ? WHERE id = ?",
        )
        .bind(end.state.as_str())
        .bind(end.ended_at)
        .bind(end.error)
        .bind(end.wall_ms)
        .bind(end.data_failure)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn job(
        &self,
        institution_id: &InstitutionId,
        id: &JobId,
    ) -> Result<Option<Job>, StoreError> {
        Ok(
            sqlx::query("SELECT * FROM jobs WHERE id = ? AND institution_id = ?")
                .bind(id)
                .bind(institution_id)
                .fetch_optional(self.pool())
                .await?
                .map(|r| job(&r)),
        )
    }

    async fn jobs(
        &self,
        institution_id: &InstitutionId,
        before: Option<(&str, &JobId)>,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError> {
        Ok(sqlx::query(
            "SELECT * FROM jobs WHERE institution_id = ?1 \
             AND (?2 IS NULL OR (submitted_at, id) < (?2, ?3)) \
             ORDER BY submitted_at DESC, id DESC LIMIT ?4",
        )
        .bind(institution_id)
        .bind(before.map(|(at, _)| at))
        .bind(before.map(|(_, id)| id))
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(job)
        .collect())
    }

    async fn unfinished_jobs(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<JobId>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM jobs WHERE institution_id = ? AND state IN ('queued', 'running')",
        )
        .bind(institution_id)
        .fetch_all(self.pool())
        .await?)
    }

    async fn other_unfinished_jobs(
        &self,
        owner: &InstitutionId,
    ) -> Result<Vec<Reader>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT j.id, j.institution_id, j.inputs, i.status FROM jobs j \
             JOIN institutions i ON i.id = j.institution_id \
             WHERE j.state IN ('queued', 'running') AND j.institution_id != ?",
        )
        .bind(owner)
        .fetch_all(self.pool())
        .await?)
    }
}

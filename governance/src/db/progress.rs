//! The SQL of progress reports, usage and re-evaluations (`crate::progress`).

use chrono::{DateTime, FixedOffset, NaiveDate};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use storage::ids::InstitutionId;

use storage::store::{Store, StoreError, Tx};

use crate::progress::{Evaluation, Measures, ProgressReport};

/// A progress report as it is first stored.
pub(crate) struct NewReport<'a> {
    pub id: &'a str,
    pub institution_id: &'a InstitutionId,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub progress: &'a str,
    pub security_risks: &'a str,
    pub quality_problems: &'a str,
    pub submitted_by: &'a str,
    pub submitted_at: &'a str,
}

/// A re-evaluation as it is first stored.
pub(crate) struct NewEvaluation<'a> {
    pub id: &'a str,
    pub institution_id: &'a InstitutionId,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub measures: &'a Measures,
    pub conclusion: &'a str,
    pub note: &'a str,
    pub evaluated_by: &'a str,
    pub evaluated_at: &'a str,
}

/// Where progress reports, usage and re-evaluations are kept: what a backend implements.
pub(crate) trait ProgressReports {
    /// When an institution's workspace was opened, if it has one.
    async fn workspace_opened_at(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Option<DateTime<FixedOffset>>, StoreError>;
    /// The report of an institution for the period beginning `period_start`, read in
    /// `tx`, if there is one.
    async fn report_for_period(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        period_start: NaiveDate,
    ) -> Result<Option<String>, StoreError>;
    /// Stores a new progress report.
    async fn insert_report(&self, tx: &mut Tx, row: &NewReport<'_>) -> Result<(), StoreError>;
    /// An institution's reports, oldest period first.
    async fn reports(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<ProgressReport>, StoreError>;
    /// The id and name of every institution with a workspace that is not terminated.
    async fn reporting_institutions(&self) -> Result<Vec<(InstitutionId, String)>, StoreError>;
    /// Adds requests and refusals to an institution's count of one day, if the
    /// institution exists.
    async fn add_usage(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        day: NaiveDate,
        requests: i64,
        refusals: i64,
    ) -> Result<(), StoreError>;
    /// An institution's requests and refusals over the days `[from, to]`.
    async fn usage_between(
        &self,
        institution_id: &InstitutionId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(i64, i64), StoreError>;
    /// An institution's jobs submitted in `[starts, ends)`: how many, how many failed,
    /// and their CPU milliseconds.
    async fn jobs_between(
        &self,
        institution_id: &InstitutionId,
        starts: &str,
        ends: &str,
    ) -> Result<(i64, i64, i64), StoreError>;
    /// The rows released to an institution in `[starts, ends)`.
    async fn rows_released_between(
        &self,
        institution_id: &InstitutionId,
        starts: &str,
        ends: &str,
    ) -> Result<i64, StoreError>;
    /// Stores a new re-evaluation.
    async fn insert_evaluation(
        &self,
        tx: &mut Tx,
        row: &NewEvaluation<'_>,
    ) -> Result<(), StoreError>;
    /// An institution's re-evaluations, oldest first.
    async fn evaluations(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<Evaluation>, StoreError>;
}

/// The error of a write whose task did not finish (it panicked or was cancelled).
pub(crate) fn unfinished(e: tokio::task::JoinError) -> StoreError {
    StoreError::Query(sqlx::Error::Protocol(e.to_string()))
}

fn decode(e: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    StoreError::Query(sqlx::Error::Decode(e))
}

fn report(r: &SqliteRow) -> Result<ProgressReport, StoreError> {
    let date = |c: &str| {
        r.get::<String, _>(c)
            .parse::<NaiveDate>()
            .map_err(|e| decode(Box::new(e)))
    };
    Ok(ProgressReport {
        id: r.get("id"),
        institution_id: r.get("institution_id"),
        period_start: date("period_start")?,
        period_end: date("period_end")?,
        progress: r.get("progress"),
        security_risks: r.get("security_risks"),
        quality_problems: r.get("quality_problems"),
        submitted_by: r.get("submitted_by"),
        submitted_at: r.get("submitted_at"),
    })
}

fn evaluation(r: &SqliteRow) -> Result<Evaluation, StoreError> {
    Ok(Evaluation {
        id: r.get("id"),
        institution_id: r.get("institution_id"),
        period_start: r
            .get::<String, _>("period_start")
            .parse()
            .map_err(|e| decode(Box::new(e)))?,
        period_end: r
            .get::<String, _>("period_end")
            .parse()
            .map_err(|e| decode(Box::new(e)))?,
        measures: serde_json::from_str(&r.get::<String, _>("measures"))
            .map_err(|e| decode(Box::new(e)))?,
        conclusion: r.get("conclusion"),
        note: r.get("note"),
        evaluated_by: r.get("evaluated_by"),
        evaluator: r.get("evaluator"),
        evaluated_at: r.get("evaluated_at"),
    })
}

impl ProgressReports for Store {
    async fn workspace_opened_at(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Option<DateTime<FixedOffset>>, StoreError> {
        let at: Option<String> =
            sqlx::query_scalar("SELECT opened_at FROM workspaces WHERE institution_id = ?")
                .bind(institution_id)
                .fetch_optional(self.pool())
                .await?;
        at.map(|at| DateTime::parse_from_rfc3339(&at).map_err(|e| decode(Box::new(e))))
            .transpose()
    }

    async fn report_for_period(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        period_start: NaiveDate,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM progress_reports WHERE institution_id = ? AND period_start = ?",
        )
        .bind(institution_id)
        .bind(period_start.to_string())
        .fetch_optional(&mut **tx)
        .await?)
    }

    async fn insert_report(&self, tx: &mut Tx, row: &NewReport<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO progress_reports (id, institution_id, period_start, period_end, progress, \
             security_risks, quality_problems, submitted_by, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.institution_id)
        .bind(row.period_start.to_string())
        .bind(row.period_end.to_string())
        .bind(row.progress)
        .bind(row.security_risks)
        .bind(row.quality_problems)
        .bind(row.submitted_by)
        .bind(row.submitted_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn reports(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<ProgressReport>, StoreError> {
        sqlx::query("SELECT * FROM progress_reports WHERE institution_id = ? ORDER BY period_start")
            .bind(institution_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(report)
            .collect()
    }

    async fn reporting_institutions(&self) -> Result<Vec<(InstitutionId, String)>, StoreError> {
        Ok(sqlx::query(
            "SELECT i.id, i.name FROM institutions i JOIN workspaces w ON w.institution_id = i.id \
             WHERE i.status != 'terminated'",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
    }

    async fn add_usage(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        day: NaiveDate,
        requests: i64,
        refusals: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO usage_daily (institution_id, day, requests, refusals) \
             SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM institutions WHERE id = ?1) \
             ON CONFLICT (institution_id, day) DO UPDATE SET requests = requests + ?3, refusals = refusals + ?4",
        )
        .bind(institution_id)
        .bind(day.to_string())
        .bind(requests)
        .bind(refusals)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn usage_between(
        &self,
        institution_id: &InstitutionId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(i64, i64), StoreError> {
        let usage = sqlx::query(
            "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(refusals), 0) FROM usage_daily \
             WHERE institution_id = ? AND day BETWEEN ? AND ?",
        )
        .bind(institution_id)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok((usage.get(0), usage.get(1)))
    }

    async fn jobs_between(
        &self,
        institution_id: &InstitutionId,
        starts: &str,
        ends: &str,
    ) -> Result<(i64, i64, i64), StoreError> {
        let jobs = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(state = 'failed'), 0), COALESCE(SUM(cpu_ms), 0) FROM jobs \
             WHERE institution_id = ? AND submitted_at >= ? AND submitted_at < ?",
        )
        .bind(institution_id)
        .bind(starts)
        .bind(ends)
        .fetch_one(self.pool())
        .await?;
        Ok((jobs.get(0), jobs.get(1), jobs.get(2)))
    }

    async fn rows_released_between(
        &self,
        institution_id: &InstitutionId,
        starts: &str,
        ends: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(rows), 0) FROM releases \
             WHERE institution_id = ? AND released_at >= ? AND released_at < ?",
        )
        .bind(institution_id)
        .bind(starts)
        .bind(ends)
        .fetch_one(self.pool())
        .await?)
    }

    async fn insert_evaluation(
        &self,
        tx: &mut Tx,
        row: &NewEvaluation<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO evaluations (id, institution_id, period_start, period_end, measures, conclusion, \
             note, evaluated_by, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.institution_id)
        .bind(row.period_start.to_string())
        .bind(row.period_end.to_string())
        .bind(serde_json::to_string(row.measures).unwrap_or_default())
        .bind(row.conclusion)
        .bind(row.note)
        .bind(row.evaluated_by)
        .bind(row.evaluated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn evaluations(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<Evaluation>, StoreError> {
        sqlx::query(
            "SELECT e.*, COALESCE(u.display_name, e.evaluated_by) AS evaluator \
             FROM evaluations e LEFT JOIN users u ON u.id = e.evaluated_by \
             WHERE e.institution_id = ? ORDER BY e.evaluated_at, e.id",
        )
        .bind(institution_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(evaluation)
        .collect()
    }
}

/// Statements of the module's tests of their own, to set the scene, look behind the
/// trait or break a table.
#[cfg(test)]
pub(crate) mod fixtures {
    use storage::store::{Store, StoreError};

    /// Runs one statement of a test as it is, outside a transaction.
    pub(crate) async fn execute(store: &Store, sql: &'static str) -> Result<(), StoreError> {
        sqlx::query(sql).execute(store.pool()).await?;
        Ok(())
    }

    /// The rows a query of a test reads: a day and two counts.
    pub(crate) async fn day_counts(
        store: &Store,
        sql: &'static str,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64, i64)>(sql)
            .fetch_all(store.pool())
            .await?)
    }
}

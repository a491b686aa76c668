//! The SQL of the output gate's releases, refusals and budgets (`crate::gate`).

use sqlx::SqliteConnection;
use storage::ids::{InstitutionId, JobId, ReleaseId};

use storage::store::{Store, StoreError, Tx};

/// A sample release as it is stored.
pub(crate) struct NewSample<'a> {
    pub id: &'a str,
    pub institution_id: &'a InstitutionId,
    pub job_id: &'a JobId,
    pub rows: i64,
    pub cells: i64,
    pub fingerprint: &'a str,
    pub released_by: &'a str,
    pub released_at: &'a str,
    /// The hashes of its rows (JSON).
    pub row_hashes: &'a str,
    /// Its data items (JSON).
    pub request: &'a str,
    /// The public-credit tables the job read, each counted `rows` more.
    pub sources: &'a [&'a str],
    /// Its cells as shown, keyed: (row, the row's distinct cells, cell).
    pub shown: &'a [(i64, i64, String)],
}

/// An aggregate or evaluation release as it is stored.
pub(crate) struct NewStatistical<'a> {
    pub id: &'a str,
    pub institution_id: &'a InstitutionId,
    pub job_id: &'a JobId,
    /// `aggregate` or `evaluation`.
    pub kind: &'a str,
    pub rows: i64,
    pub fingerprint: &'a str,
    pub released_by: &'a str,
    pub released_at: &'a str,
    /// What was asked (JSON).
    pub request: &'a str,
    /// Each group's subjects and their sketch.
    pub groups: &'a [(i64, Vec<u8>)],
}

/// A refused release as it is stored.
pub(crate) struct Refusal<'a> {
    pub id: &'a str,
    pub institution_id: &'a InstitutionId,
    pub job_id: &'a JobId,
    pub kind: &'a str,
    pub reason: &'a str,
    pub refused_at: &'a str,
}

/// A sample release as tracing reads it: `(id, institution_id, job_id, released_at,
/// row_hashes (JSON))`.
pub(crate) type Traced = (String, String, String, String, String);

/// Where releases are kept: what a backend implements.
pub(crate) trait Releases {
    /// When the oldest sample released to an institution since `since` was released.
    async fn oldest_sample_since(
        &self,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Rows and cells released as samples to an institution since `since`.
    async fn sampled_since(
        &self,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<(i64, i64), StoreError>;
    /// The same, read in `tx`.
    async fn sampled_since_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<(i64, i64), StoreError>;
    /// Aggregates and evaluations released to an institution since `since`, with
    /// releases of any kind refused.
    async fn statistical_since(
        &self,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<i64, StoreError>;
    /// The same, read in `tx`.
    async fn statistical_since_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<i64, StoreError>;
    /// When the oldest of those was released or refused.
    async fn oldest_statistical_since(
        &self,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<Option<String>, StoreError>;
    /// The same, read in `tx`.
    async fn oldest_statistical_since_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<Option<String>, StoreError>;
    /// The hash recorded for a job's result.
    async fn result_sha256(&self, job_id: &JobId) -> Result<Option<String>, StoreError>;
    /// The own and shared tables a job read, by SQL name (JSON).
    async fn job_inputs(&self, job_id: &JobId) -> Result<Option<String>, StoreError>;
    /// The sample release of a job with this fingerprint, if there was one.
    async fn sample_with(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        job_id: &JobId,
        fingerprint: &str,
    ) -> Result<Option<ReleaseId>, StoreError>;
    /// Rows ever released as samples to an institution of queries that read `table`.
    async fn sampled_from(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        table: &str,
    ) -> Result<i64, StoreError>;
    /// Stores a sample release.
    async fn insert_sample(&self, tx: &mut Tx, sample: &NewSample<'_>) -> Result<(), StoreError>;
    /// Stores a refused release.
    async fn insert_refusal(&self, tx: &mut Tx, refusal: &Refusal<'_>) -> Result<(), StoreError>;
    /// `(release_id, sketch)` of an institution's earlier groups with more than `above`
    /// and fewer than `below` subjects.
    async fn groups_between(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        above: i64,
        below: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Stores an aggregate or evaluation release with its groups.
    async fn insert_statistical(
        &self,
        tx: &mut Tx,
        release: &NewStatistical<'_>,
    ) -> Result<(), StoreError>;
    /// Every sample release.
    async fn sample_releases(&self) -> Result<Vec<Traced>, StoreError>;
    /// The released cells among `cells` (keyed): (release, row, the row's width, cell).
    async fn released_cells(
        &self,
        cells: &[&str],
    ) -> Result<Vec<(String, i64, i64, String)>, StoreError>;
    /// Releases by id: (id, institution, job, released at, fingerprint).
    async fn releases_by_id(
        &self,
        ids: &[&str],
    ) -> Result<Vec<(String, String, String, String, String)>, StoreError>;
    /// The releases of one institution (or of all), newest first, at most `limit`:
    /// (id, institution, job, kind, rows, fingerprint, released by, released at).
    async fn release_ledger(
        &self,
        institution_id: Option<&str>,
        before: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<LedgerRow>, StoreError>;
}

/// A release in the ledger: (id, institution, job, kind, rows, fingerprint, released
/// by, released at).
pub(crate) type LedgerRow = (String, String, String, String, i64, String, String, String);

async fn sampled_on(
    conn: &mut SqliteConnection,
    institution_id: &InstitutionId,
    since: &str,
) -> Result<(i64, i64), StoreError> {
    Ok(sqlx::query_as(
        "SELECT COALESCE(SUM(rows), 0), COALESCE(SUM(cells), 0) FROM releases \
         WHERE institution_id = ? AND kind = 'sample' AND released_at >= ?",
    )
    .bind(institution_id)
    .bind(since)
    .fetch_one(conn)
    .await?)
}

async fn statistical_on(
    conn: &mut SqliteConnection,
    institution_id: &InstitutionId,
    since: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM releases WHERE institution_id = ?1 \
           AND kind IN ('aggregate', 'evaluation') AND released_at >= ?2) \
         + (SELECT COUNT(*) FROM release_refusals WHERE institution_id = ?1 \
           AND refused_at >= ?2)",
    )
    .bind(institution_id)
    .bind(since)
    .fetch_one(conn)
    .await?)
}

async fn oldest_statistical_on(
    conn: &mut SqliteConnection,
    institution_id: &InstitutionId,
    since: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(at) FROM (\
           SELECT released_at AS at FROM releases WHERE institution_id = ?1 \
             AND kind IN ('aggregate', 'evaluation') AND released_at >= ?2 \
           UNION ALL SELECT refused_at FROM release_refusals WHERE institution_id = ?1 \
             AND refused_at >= ?2)",
    )
    .bind(institution_id)
    .bind(since)
    .fetch_one(conn)
    .await?)
}

impl Releases for Store {
    async fn oldest_sample_since(
        &self,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(released_at) FROM releases WHERE institution_id = ? \
             AND kind = 'sample' AND released_at >= ?",
        )
        .bind(institution_id)
        .bind(since)
        .fetch_one(self.pool())
        .await?)
    }

    async fn sampled_since(
        &self,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<(i64, i64), StoreError> {
        let mut conn = self.pool().acquire().await?;
        sampled_on(&mut conn, institution_id, since).await
    }

    async fn sampled_since_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<(i64, i64), StoreError> {
        sampled_on(tx, institution_id, since).await
    }

    async fn statistical_since(
        &self,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<i64, StoreError> {
        let mut conn = self.pool().acquire().await?;
        statistical_on(&mut conn, institution_id, since).await
    }

    async fn statistical_since_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<i64, StoreError> {
        statistical_on(tx, institution_id, since).await
    }

    async fn oldest_statistical_since(
        &self,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        oldest_statistical_on(&mut conn, institution_id, since).await
    }

    async fn oldest_statistical_since_in(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        since: &str,
    ) -> Result<Option<String>, StoreError> {
        oldest_statistical_on(tx, institution_id, since).await
    }

    async fn result_sha256(&self, job_id: &JobId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT result_sha256 FROM jobs WHERE id = ?")
                .bind(job_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    async fn job_inputs(&self, job_id: &JobId) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT inputs FROM jobs WHERE id = ?")
            .bind(job_id)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn sample_with(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        job_id: &JobId,
        fingerprint: &str,
    ) -> Result<Option<ReleaseId>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM releases WHERE institution_id = ? AND job_id = ? \
             AND kind = 'sample' AND fingerprint = ?",
        )
        .bind(institution_id)
        .bind(job_id)
        .bind(fingerprint)
        .fetch_optional(&mut **tx)
        .await?)
    }

    async fn sampled_from(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        table: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(rows), 0) FROM release_tables \
             WHERE institution_id = ? AND source_table = ?",
        )
        .bind(institution_id)
        .bind(table)
        .fetch_one(&mut **tx)
        .await?)
    }

    async fn insert_sample(&self, tx: &mut Tx, sample: &NewSample<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO releases (id, institution_id, job_id, kind, rows, cells, fingerprint, \
             released_by, released_at, row_hashes, request) \
             VALUES (?, ?, ?, 'sample', ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(sample.id)
        .bind(sample.institution_id)
        .bind(sample.job_id)
        .bind(sample.rows)
        .bind(sample.cells)
        .bind(sample.fingerprint)
        .bind(sample.released_by)
        .bind(sample.released_at)
        .bind(sample.row_hashes)
        .bind(sample.request)
        .execute(&mut **tx)
        .await?;
        for table in sample.sources {
            sqlx::query(
                "INSERT INTO release_tables (release_id, institution_id, source_table, rows) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(sample.id)
            .bind(sample.institution_id)
            .bind(table)
            .bind(sample.rows)
            .execute(&mut **tx)
            .await?;
        }
        // Many rows a statement: a sample of 100 rows of 40 columns is 4,000 cells.
        for chunk in sample.shown.chunks(500) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO released_cells (release_id, row_index, width, cell) ",
            );
            insert.push_values(chunk, |mut row, (index, width, cell)| {
                row.push_bind(sample.id)
                    .push_bind(index)
                    .push_bind(width)
                    .push_bind(cell);
            });
            insert.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn insert_refusal(&self, tx: &mut Tx, refusal: &Refusal<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO release_refusals (id, institution_id, job_id, kind, reason, refused_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(refusal.id)
        .bind(refusal.institution_id)
        .bind(refusal.job_id)
        .bind(refusal.kind)
        .bind(refusal.reason)
        .bind(refusal.refused_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn groups_between(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        above: i64,
        below: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT release_id, sketch FROM release_groups WHERE institution_id = ? \
             AND subjects > ? AND subjects < ?",
        )
        .bind(institution_id)
        .bind(above)
        .bind(below)
        .fetch_all(&mut **tx)
        .await?)
    }

    async fn insert_statistical(
        &self,
        tx: &mut Tx,
        release: &NewStatistical<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO releases (id, institution_id, job_id, kind, rows, fingerprint, \
             released_by, released_at, row_hashes, request) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]', ?)",
        )
        .bind(release.id)
        .bind(release.institution_id)
        .bind(release.job_id)
        .bind(release.kind)
        .bind(release.rows)
        .bind(release.fingerprint)
        .bind(release.released_by)
        .bind(release.released_at)
        .bind(release.request)
        .execute(&mut **tx)
        .await?;
        for (subjects, sketch) in release.groups {
            sqlx::query(
                "INSERT INTO release_groups (release_id, institution_id, subjects, sketch) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(release.id)
            .bind(release.institution_id)
            .bind(subjects)
            .bind(sketch)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    async fn release_ledger(
        &self,
        institution_id: Option<&str>,
        before: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, institution_id, job_id, kind, rows, fingerprint, released_by, released_at \
             FROM releases WHERE (?1 IS NULL OR institution_id = ?1) \
             AND (?2 IS NULL OR (released_at, id) < (?2, ?3)) \
             ORDER BY released_at DESC, id DESC LIMIT ?4",
        )
        .bind(institution_id)
        .bind(before.map(|b| b.0))
        .bind(before.map(|b| b.1))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    async fn released_cells(
        &self,
        cells: &[&str],
    ) -> Result<Vec<(String, i64, i64, String)>, StoreError> {
        let mut found = Vec::new();
        for chunk in cells.chunks(500) {
            let mut select = sqlx::QueryBuilder::new(
                "SELECT release_id, row_index, width, cell FROM released_cells WHERE cell IN (",
            );
            let mut list = select.separated(", ");
            for cell in chunk {
                list.push_bind(*cell);
            }
            select.push(")");
            found.extend(
                select
                    .build_query_as::<(String, i64, i64, String)>()
                    .fetch_all(self.pool())
                    .await?,
            );
        }
        Ok(found)
    }

    async fn releases_by_id(
        &self,
        ids: &[&str],
    ) -> Result<Vec<(String, String, String, String, String)>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(500) {
            let mut select = sqlx::QueryBuilder::new(
                "SELECT id, institution_id, job_id, released_at, fingerprint FROM releases \
                 WHERE id IN (",
            );
            let mut list = select.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            select.push(")");
            found.extend(
                select
                    .build_query_as::<(String, String, String, String, String)>()
                    .fetch_all(self.pool())
                    .await?,
            );
        }
        Ok(found)
    }

    async fn sample_releases(&self) -> Result<Vec<Traced>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT r.id, r.institution_id, r.job_id, r.released_at, r.row_hashes \
             FROM releases r WHERE r.kind = 'sample'",
        )
        .fetch_all(self.pool())
        .await?)
    }
}

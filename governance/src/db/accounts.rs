//! The SQL of institution accounts and their lifecycle (`crate::accounts`).

use std::path::Path;
use storage::ids::{ApplicationId, InstitutionId, UserId};
use storage::states::{ApplicationStatus, InstitutionStatus};

use sqlx::Row;
use sqlx::SqliteConnection;

use storage::store::{Store, StoreError, Tx};

use crate::accounts::{DeletionRecord, LifecycleEvent, Quotas};
use crate::form::ApplicationForm;

/// An application as a batch opening sees it.
pub(crate) struct ToOpen {
    /// Its status.
    pub status: ApplicationStatus,
    /// Its form, or why the stored form does not decode.
    pub form: Result<ApplicationForm, StoreError>,
    /// The applicant user.
    pub applicant_id: String,
    /// The institution already opened for it, if one was.
    pub institution_id: Option<String>,
}

/// An institution with its workspace, as stored.
pub(crate) struct InstitutionRow {
    pub id: InstitutionId,
    pub name: String,
    pub uscc: String,
    pub status: InstitutionStatus,
    pub created_at: String,
    pub application_id: Option<String>,
    pub workspace_status: Option<String>,
}

/// A step of an institution's life as it is stored.
pub(crate) struct NewEvent<'a> {
    pub institution_id: &'a InstitutionId,
    pub action: &'a str,
    pub reason: &'a str,
    pub rectification_deadline: Option<&'a str>,
    pub actor: &'a UserId,
    pub at: &'a str,
}

/// Where institutions, their workspaces, grants, quotas and lifecycle are kept: what a
/// backend implements.
pub(crate) trait Accounts {
    /// Moves every workspace's recorded folder to `root/<institution id>` (a restore
    /// elsewhere); how many.
    async fn relocate_workspaces(&self, tx: &mut Tx, root: &str) -> Result<u64, StoreError>;
    /// An application with what opening it depends on, read in `tx`, if it exists.
    async fn application_to_open(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<ToOpen>, StoreError>;
    /// The institution with this unified social credit code, read in `tx`, if any.
    async fn institution_with_uscc(
        &self,
        tx: &mut Tx,
        uscc: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Stores a new institution, active.
    async fn insert_institution(
        &self,
        tx: &mut Tx,
        id: &str,
        name: &str,
        uscc: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    /// Makes a user the user of an institution.
    async fn make_institution_user(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        institution_id: &InstitutionId,
    ) -> Result<(), StoreError>;
    /// Stores an institution's new workspace, open.
    async fn insert_workspace(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        application_id: &ApplicationId,
        path: &Path,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError>;
    /// Grants a table to an institution.
    async fn insert_grant(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        table_id: &str,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError>;
    /// Stores an institution's quotas, replacing any it had.
    async fn insert_quotas(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        quotas: &Quotas,
    ) -> Result<(), StoreError>;
    /// An institution's quotas, if it has them, read in `tx`.
    async fn quotas_in(&self, tx: &mut Tx, id: &str) -> Result<Option<Quotas>, StoreError>;
    /// Replaces an institution's quotas (or gives it its first).
    async fn update_quotas(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        quotas: &Quotas,
    ) -> Result<(), StoreError>;
    /// Stores a step of an institution's life.
    async fn insert_lifecycle_event(
        &self,
        tx: &mut Tx,
        row: &NewEvent<'_>,
    ) -> Result<(), StoreError>;
    /// One institution with its workspace's application and status.
    async fn institution(&self, id: &str) -> Result<Option<InstitutionRow>, StoreError>;
    /// The steps of an institution's life, oldest first.
    async fn lifecycle_events(&self, id: &str) -> Result<Vec<LifecycleEvent>, StoreError>;
    /// What the termination of an institution deleted, if it was terminated.
    async fn deletion_record(&self, id: &str) -> Result<Option<DeletionRecord>, StoreError>;
    /// At most `limit` institutions with ids after `after`, by id: id, name, code, status.
    async fn institutions(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, String, String)>, StoreError>;
    /// The tables granted to an institution, sorted.
    async fn granted_tables(&self, id: &str) -> Result<Vec<String>, StoreError>;
    /// An institution's quotas, if it has them.
    async fn quotas(&self, id: &str) -> Result<Option<Quotas>, StoreError>;
    /// The folder of an institution's workspace, while it is open.
    async fn open_workspace_path(&self, id: &str) -> Result<Option<String>, StoreError>;
    /// The folder of an institution's workspace, while it is open, read in `tx`.
    async fn open_workspace_path_in(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<String>, StoreError>;
    /// An institution's status, if it exists.
    async fn institution_status(&self, id: &str) -> Result<Option<InstitutionStatus>, StoreError>;
    /// An institution's status, read in `tx`, if it exists.
    async fn institution_status_in(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<InstitutionStatus>, StoreError>;
    /// Sets an institution's status.
    async fn set_institution_status(
        &self,
        tx: &mut Tx,
        id: &str,
        status: InstitutionStatus,
    ) -> Result<(), StoreError>;
    /// Revokes every live credential of an institution's users; how many.
    async fn revoke_institution_credentials(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        at: &str,
    ) -> Result<u64, StoreError>;
    /// Withdraws every grant of an institution; the tables it had.
    async fn withdraw_grants(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
    ) -> Result<Vec<String>, StoreError>;
    /// Closes an institution's workspace.
    async fn close_workspace(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        at: &str,
    ) -> Result<(), StoreError>;
    /// Stores what the termination of an institution deleted.
    async fn insert_deletion_record(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        record: &DeletionRecord,
    ) -> Result<(), StoreError>;
}

async fn open_workspace_path_on(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT path FROM workspaces WHERE institution_id = ? AND status = 'open'",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

async fn institution_status_on(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<InstitutionStatus>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT status FROM institutions WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// An institution's quotas, by its id: read by [`quotas_of`].
const QUOTAS: &str = "SELECT concurrent_jobs, job_seconds_per_day, storage_bytes, \
     sampled_rows_per_day, requests_per_minute, statistical_releases_per_day, \
     sampled_cells_per_day, failed_jobs_per_day FROM quotas WHERE institution_id = ?";

fn quotas_of(r: &sqlx::sqlite::SqliteRow) -> Quotas {
    Quotas {
        concurrent_jobs: r.get(0),
        job_seconds_per_day: r.get(1),
        storage_bytes: r.get(2),
        sampled_rows_per_day: r.get(3),
        requests_per_minute: r.get(4),
        statistical_releases_per_day: r.get(5),
        sampled_cells_per_day: r.get(6),
        failed_jobs_per_day: r.get(7),
    }
}

impl Accounts for Store {
    async fn relocate_workspaces(&self, tx: &mut Tx, root: &str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("UPDATE workspaces SET path = ?1 || '/' || institution_id")
                .bind(root)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        )
    }

    async fn application_to_open(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<ToOpen>, StoreError> {
        Ok(sqlx::query(
            "SELECT a.status, a.form, a.applicant_id, w.institution_id FROM applications a \
             LEFT JOIN workspaces w ON w.application_id = a.id WHERE a.id = ?",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| ToOpen {
            status: row.get(0),
            form: crate::db::applications::form(&row.get::<String, _>(1)),
            applicant_id: row.get(2),
            institution_id: row.get(3),
        }))
    }

    async fn institution_with_uscc(
        &self,
        tx: &mut Tx,
        uscc: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM institutions WHERE uscc = ?")
                .bind(uscc)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    async fn insert_institution(
        &self,
        tx: &mut Tx,
        id: &str,
        name: &str,
        uscc: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO institutions (id, name, uscc, status, created_at) VALUES (?, ?, ?, 'active', ?)",
        )
        .bind(id)
        .bind(name)
        .bind(uscc)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn make_institution_user(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        institution_id: &InstitutionId,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET role = 'institution', institution_id = ? WHERE id = ?")
            .bind(institution_id)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn insert_workspace(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        application_id: &ApplicationId,
        path: &Path,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO workspaces (institution_id, application_id, path, status, opened_at, opened_by) \
             VALUES (?, ?, ?, 'open', ?, ?)",
        )
        .bind(institution_id)
        .bind(application_id)
        .bind(path.display().to_string())
        .bind(at)
        .bind(by)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn insert_grant(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        table_id: &str,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO grants (institution_id, table_id, granted_at, granted_by) VALUES (?, ?, ?, ?)",
        )
        .bind(institution_id)
        .bind(table_id)
        .bind(at)
        .bind(by)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn quotas_in(&self, tx: &mut Tx, id: &str) -> Result<Option<Quotas>, StoreError> {
        Ok(sqlx::query(QUOTAS)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| quotas_of(&r)))
    }

    async fn update_quotas(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        quotas: &Quotas,
    ) -> Result<(), StoreError> {
        // The same statement: it replaces the quotas an institution has.
        self.insert_quotas(tx, institution_id, quotas).await
    }

    async fn insert_quotas(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        quotas: &Quotas,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO quotas (institution_id, concurrent_jobs, job_seconds_per_day, storage_bytes, \
             sampled_rows_per_day, requests_per_minute, statistical_releases_per_day, \
             sampled_cells_per_day, failed_jobs_per_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (institution_id) DO UPDATE SET concurrent_jobs = excluded.concurrent_jobs, \
             job_seconds_per_day = excluded.job_seconds_per_day, \
             storage_bytes = excluded.storage_bytes, \
             sampled_rows_per_day = excluded.sampled_rows_per_day, \
             requests_per_minute = excluded.requests_per_minute, \
             statistical_releases_per_day = excluded.statistical_releases_per_day, \
             sampled_cells_per_day = excluded.sampled_cells_per_day, \
             failed_jobs_per_day = excluded.failed_jobs_per_day",
        )
        .bind(institution_id)
        .bind(quotas.concurrent_jobs)
        .bind(quotas.job_seconds_per_day)
        .bind(quotas.storage_bytes)
        .bind(quotas.sampled_rows_per_day)
        .bind(quotas.requests_per_minute)
        .bind(quotas.statistical_releases_per_day)
        .bind(quotas.sampled_cells_per_day)
        .bind(quotas.failed_jobs_per_day)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn insert_lifecycle_event(
        &self,
        tx: &mut Tx,
        row: &NewEvent<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO lifecycle_events (institution_id, action, reason, rectification_deadline, actor, at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(row.institution_id)
        .bind(row.action)
        .bind(row.reason)
        .bind(row.rectification_deadline)
        .bind(row.actor)
        .bind(row.at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn institution(&self, id: &str) -> Result<Option<InstitutionRow>, StoreError> {
        Ok(sqlx::query(
            "SELECT i.id, i.name, i.uscc, i.status, i.created_at, w.application_id, w.status \
             FROM institutions i LEFT JOIN workspaces w ON w.institution_id = i.id WHERE i.id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(|row| InstitutionRow {
            id: row.get(0),
            name: row.get(1),
            uscc: row.get(2),
            status: row.get(3),
            created_at: row.get(4),
            application_id: row.get(5),
            workspace_status: row.get(6),
        }))
    }

    async fn lifecycle_events(&self, id: &str) -> Result<Vec<LifecycleEvent>, StoreError> {
        Ok(sqlx::query(
            "SELECT action, reason, rectification_deadline, actor, at FROM lifecycle_events \
             WHERE institution_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| LifecycleEvent {
            action: r.get(0),
            reason: r.get(1),
            rectification_deadline: r.get(2),
            actor: r.get(3),
            at: r.get(4),
        })
        .collect())
    }

    async fn deletion_record(&self, id: &str) -> Result<Option<DeletionRecord>, StoreError> {
        match sqlx::query(
            "SELECT id, files, file_count, total_bytes, actor, deleted_at FROM deletion_records \
             WHERE institution_id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        {
            Some(r) => Ok(Some(DeletionRecord {
                id: r.get(0),
                files: serde_json::from_str(&r.get::<String, _>(1))
                    .map_err(|e| StoreError::Query(sqlx::Error::Decode(Box::new(e))))?,
                file_count: r.get(2),
                total_bytes: r.get(3),
                actor: r.get(4),
                deleted_at: r.get(5),
            })),
            None => Ok(None),
        }
    }

    async fn institutions(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        Ok(sqlx::query(
            "SELECT id, name, uscc, status FROM institutions WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
    }

    async fn granted_tables(&self, id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT table_id FROM grants WHERE institution_id = ? ORDER BY table_id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?)
    }

    async fn quotas(&self, id: &str) -> Result<Option<Quotas>, StoreError> {
        Ok(sqlx::query(QUOTAS)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| quotas_of(&r)))
    }

    async fn open_workspace_path(&self, id: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        open_workspace_path_on(&mut conn, id).await
    }

    async fn open_workspace_path_in(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        open_workspace_path_on(tx, id).await
    }

    async fn institution_status(&self, id: &str) -> Result<Option<InstitutionStatus>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        institution_status_on(&mut conn, id).await
    }

    async fn institution_status_in(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<InstitutionStatus>, StoreError> {
        institution_status_on(tx, id).await
    }

    async fn set_institution_status(
        &self,
        tx: &mut Tx,
        id: &str,
        status: InstitutionStatus,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE institutions SET status = ? WHERE id = ?")
            .bind(status)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn revoke_institution_credentials(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        at: &str,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE credentials SET revoked_at = ? WHERE revoked_at IS NULL \
             AND user_id IN (SELECT id FROM users WHERE institution_id = ?)",
        )
        .bind(at)
        .bind(institution_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
    }

    async fn withdraw_grants(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
    ) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("DELETE FROM grants WHERE institution_id = ? RETURNING table_id")
                .bind(institution_id)
                .fetch_all(&mut **tx)
                .await?,
        )
    }

    async fn close_workspace(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workspaces SET status = 'closed', closed_at = ? WHERE institution_id = ?",
        )
        .bind(at)
        .bind(institution_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn insert_deletion_record(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        record: &DeletionRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO deletion_records (id, institution_id, files, file_count, total_bytes, actor, deleted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&record.id)
        .bind(institution_id)
        .bind(serde_json::to_string(&record.files).unwrap_or_default())
        .bind(record.file_count)
        .bind(record.total_bytes)
        .bind(&record.actor)
        .bind(&record.deleted_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

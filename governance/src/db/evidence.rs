//! The SQL of applications' evidence files (`crate::evidence`).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use storage::ids::ApplicationId;

use storage::store::{Store, StoreError, Tx};

use crate::evidence::EvidenceFile;

/// An evidence file as it is first stored.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub application_id: &'a ApplicationId,
    pub uploaded_by: &'a str,
    pub filename: &'a str,
    pub media_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub content: &'a [u8],
    pub uploaded_at: &'a str,
}

/// Where evidence files are kept: what a backend implements.
pub(crate) trait Evidence {
    /// How many files application `application_id` has, read in `tx`.
    async fn evidence_count(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<i64, StoreError>;
    /// Stores a new evidence file with its content.
    async fn insert_evidence(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError>;
    /// The files of an application, without their content, oldest first.
    async fn evidence_files(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Vec<EvidenceFile>, StoreError>;
    /// One file of an application, with its content.
    async fn evidence_file(
        &self,
        application_id: &ApplicationId,
        id: &str,
    ) -> Result<Option<(EvidenceFile, Vec<u8>)>, StoreError>;
}

fn evidence_file(r: &SqliteRow) -> EvidenceFile {
    EvidenceFile {
        id: r.get(0),
        filename: r.get(1),
        media_type: r.get(2),
        size_bytes: r.get(3),
        sha256: r.get(4),
        uploaded_at: r.get(5),
    }
}

impl Evidence for Store {
    async fn evidence_count(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM evidence_files WHERE application_id = ?")
                .bind(application_id)
                .fetch_one(&mut **tx)
                .await?,
        )
    }

    async fn insert_evidence(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO evidence_files (id, application_id, uploaded_by, filename, media_type, \
             size_bytes, sha256, content, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.application_id)
        .bind(row.uploaded_by)
        .bind(row.filename)
        .bind(row.media_type)
        .bind(row.size_bytes)
        .bind(row.sha256)
        .bind(row.content)
        .bind(row.uploaded_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn evidence_files(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Vec<EvidenceFile>, StoreError> {
        Ok(sqlx::query(
            "SELECT id, filename, media_type, size_bytes, sha256, uploaded_at FROM evidence_files \
             WHERE application_id = ? ORDER BY uploaded_at, id",
        )
        .bind(application_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(evidence_file)
        .collect())
    }

    async fn evidence_file(
        &self,
        application_id: &ApplicationId,
        id: &str,
    ) -> Result<Option<(EvidenceFile, Vec<u8>)>, StoreError> {
        Ok(sqlx::query(
            "SELECT id, filename, media_type, size_bytes, sha256, uploaded_at, content \
             FROM evidence_files WHERE application_id = ? AND id = ?",
        )
        .bind(application_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(|r| (evidence_file(&r), r.get(6))))
    }
}

//! The SQL of the archive of issued credit reports (`crate::issuance`).

use storage::store::{Store, StoreError, Tx};

use crate::issuance::Issued;

/// An issued report as the archive keeps it.
pub(crate) struct Archived {
    pub uscc: String,
    pub subject_name: String,
    pub content_sha256: String,
    pub issued_at: String,
    pub document_sha256: Option<String>,
    pub format: String,
}

/// Where issued reports are kept: what a backend implements.
pub(crate) trait IssuedReports {
    /// Archives a report unless its number is archived already; whether it was not.
    async fn insert_issued_report(
        &self,
        tx: &mut Tx,
        report: &Issued<'_>,
        issued_at: &str,
    ) -> Result<bool, StoreError>;
    /// The report archived under `number`.
    async fn issued_report(&self, number: &str) -> Result<Option<Archived>, StoreError>;
}

impl IssuedReports for Store {
    async fn insert_issued_report(
        &self,
        tx: &mut Tx,
        report: &Issued<'_>,
        issued_at: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO issued_reports (number, uscc, subject_name, content_sha256, \
             content, issued_at, format, requester, document_sha256, subject_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(report.number)
        .bind(report.code)
        .bind(report.name)
        .bind(report.content_sha256)
        .bind(report.content)
        .bind(issued_at)
        .bind(report.format)
        .bind(report.requester)
        .bind(report.document_sha256)
        .bind(report.subject_id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn issued_report(&self, number: &str) -> Result<Option<Archived>, StoreError> {
        let row: Option<(String, String, String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT uscc, subject_name, content_sha256, issued_at, document_sha256, format \
                 FROM issued_reports WHERE number = ?",
        )
        .bind(number)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(
            |(uscc, subject_name, content_sha256, issued_at, document_sha256, format)| Archived {
                uscc,
                subject_name,
                content_sha256,
                issued_at,
                document_sha256,
                format,
            },
        ))
    }
}

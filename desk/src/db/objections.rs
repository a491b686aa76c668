//! The SQL of objections (`crate::objections`).

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use storage::states::ObjectionStatus;

use storage::store::{Store, StoreError, Tx};

/// An objection as it is stored, before masking and judging it.
pub(crate) struct Stored {
    pub id: String,
    pub number: String,
    pub applicant_name: String,
    pub applicant_code: String,
    pub phone: String,
    pub content: String,
    pub record_table: String,
    pub record_id: String,
    pub subject_id: String,
    pub source_unit: String,
    pub status: ObjectionStatus,
    pub filed_at: String,
    pub due_on: Option<String>,
    pub resolved_at: Option<String>,
    pub resolution: Option<String>,
    pub due_provisional: bool,
    pub token_sha256: String,
    pub accepted_at: Option<String>,
}

/// An objection as it is first stored: received, or accepted as it is filed.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub number: &'a str,
    pub token_sha256: &'a str,
    pub filed_by: Option<&'a str>,
    pub applicant_name: &'a str,
    pub applicant_code: &'a str,
    pub phone: &'a str,
    pub content: &'a str,
    pub record_table: &'a str,
    pub record_id: &'a str,
    pub subject_id: &'a str,
    pub source_unit: &'a str,
    pub status: ObjectionStatus,
    pub filed_at: &'a str,
    /// Set when it is accepted as it is filed, with who accepted it and its deadline.
    pub accepted_at: Option<&'a str>,
    pub accepted_by: Option<&'a str>,
    pub due_on: Option<&'a str>,
    pub due_provisional: bool,
}

/// What an objection did or does to its record: `(record_id, status, resolution,
/// resolved_at)`.
pub(crate) type Mark = (String, String, Option<String>, Option<String>);

/// Where objections are kept: what a backend implements.
pub(crate) trait Objections {
    /// The number of the open objection to a record, if there is one.
    async fn open_objection_to(
        &self,
        tx: &mut Tx,
        record_id: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Stores a new objection.
    async fn insert_objection(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError>;
    /// Accepts a received objection at `at` by `by`, due on `due_on`; whether it was
    /// received.
    async fn accept_objection(
        &self,
        tx: &mut Tx,
        id: &str,
        at: &str,
        by: &str,
        due_on: &str,
        due_provisional: bool,
    ) -> Result<bool, StoreError>;
    /// Returns a received objection with `reason`; whether it was received.
    async fn return_objection(
        &self,
        tx: &mut Tx,
        id: &str,
        reason: &str,
        at: &str,
        by: &str,
    ) -> Result<bool, StoreError>;
    /// What open, corrected and withdrawn objections do to their records, oldest first.
    async fn marks(&self) -> Result<Vec<Mark>, StoreError>;
    /// Subjects with a record under an open objection.
    async fn subjects_under_objection(&self) -> Result<Vec<String>, StoreError>;
    /// One objection by id.
    async fn objection(&self, id: &str) -> Result<Option<Stored>, StoreError>;
    /// The same, read in `tx`.
    async fn objection_in(&self, tx: &mut Tx, id: &str) -> Result<Option<Stored>, StoreError>;
    /// One objection by number.
    async fn objection_by_number(&self, number: &str) -> Result<Option<Stored>, StoreError>;
    /// Every objection, newest first, of one source unit and one status or of all;
    /// only those ever accepted if `accepted_only`.
    async fn objections(
        &self,
        source_unit: Option<&str>,
        status: Option<&str>,
        accepted_only: bool,
    ) -> Result<Vec<Stored>, StoreError>;
    /// An objection's status, read in `tx`.
    async fn objection_status(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<ObjectionStatus>, StoreError>;
    /// Resolves an open objection.
    async fn resolve_objection(
        &self,
        tx: &mut Tx,
        id: &str,
        status: ObjectionStatus,
        resolution: &str,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError>;
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, number, applicant_name, applicant_code, phone, content, record_table, \
             record_id, subject_id, source_unit, status, filed_at, due_on, resolved_at, \
             resolution, due_provisional, token_sha256, accepted_at FROM objections",
            $rest
        )
    };
}

fn stored(row: &SqliteRow) -> Stored {
    Stored {
        id: row.get(0),
        number: row.get(1),
        applicant_name: row.get(2),
        applicant_code: row.get(3),
        phone: row.get(4),
        content: row.get(5),
        record_table: row.get(6),
        record_id: row.get(7),
        subject_id: row.get(8),
        source_unit: row.get(9),
        status: row.get(10),
        filed_at: row.get(11),
        due_on: row.get(12),
        resolved_at: row.get(13),
        resolution: row.get(14),
        due_provisional: row.get(15),
        token_sha256: row.get(16),
        accepted_at: row.get(17),
    }
}

async fn objection_on(conn: &mut SqliteConnection, id: &str) -> Result<Option<Stored>, StoreError> {
    Ok(sqlx::query(select!(" WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| stored(&r)))
}

impl Objections for Store {
    async fn open_objection_to(
        &self,
        tx: &mut Tx,
        record_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT number FROM objections WHERE record_id = ? AND status = 'open'",
        )
        .bind(record_id)
        .fetch_optional(&mut **tx)
        .await?)
    }

    async fn insert_objection(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO objections (id, number, token_sha256, filed_by, applicant_name, \
             applicant_code, phone, content, record_table, record_id, subject_id, source_unit, \
             status, filed_at, accepted_at, accepted_by, due_on, due_provisional) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.number)
        .bind(row.token_sha256)
        .bind(row.filed_by)
        .bind(row.applicant_name)
        .bind(row.applicant_code)
        .bind(row.phone)
        .bind(row.content)
        .bind(row.record_table)
        .bind(row.record_id)
        .bind(row.subject_id)
        .bind(row.source_unit)
        .bind(row.status)
        .bind(row.filed_at)
        .bind(row.accepted_at)
        .bind(row.accepted_by)
        .bind(row.due_on)
        .bind(row.due_provisional)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn accept_objection(
        &self,
        tx: &mut Tx,
        id: &str,
        at: &str,
        by: &str,
        due_on: &str,
        due_provisional: bool,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE objections SET status = 'open', accepted_at = ?, accepted_by = ?, \
             due_on = ?, due_provisional = ? WHERE id = ? AND status = 'received'",
        )
        .bind(at)
        .bind(by)
        .bind(due_on)
        .bind(due_provisional)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1)
    }

    async fn return_objection(
        &self,
        tx: &mut Tx,
        id: &str,
        reason: &str,
        at: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE objections SET status = 'returned', resolution = ?, resolved_at = ?, \
             resolved_by = ? WHERE id = ? AND status = 'received'",
        )
        .bind(reason)
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1)
    }

    async fn marks(&self) -> Result<Vec<Mark>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT record_id, status, resolution, resolved_at FROM objections \
             WHERE status IN ('open', 'corrected', 'withdrawn') ORDER BY filed_at",
        )
        .fetch_all(self.pool())
        .await?)
    }

    async fn subjects_under_objection(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT subject_id FROM objections WHERE status = 'open'")
                .fetch_all(self.pool())
                .await?,
        )
    }

    async fn objection(&self, id: &str) -> Result<Option<Stored>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        objection_on(&mut conn, id).await
    }

    async fn objection_in(&self, tx: &mut Tx, id: &str) -> Result<Option<Stored>, StoreError> {
        objection_on(tx, id).await
    }

    async fn objection_by_number(&self, number: &str) -> Result<Option<Stored>, StoreError> {
        Ok(sqlx::query(select!(" WHERE number = ?"))
            .bind(number)
            .fetch_optional(self.pool())
            .await?
            .map(|r| stored(&r)))
    }

    async fn objections(
        &self,
        source_unit: Option<&str>,
        status: Option<&str>,
        accepted_only: bool,
    ) -> Result<Vec<Stored>, StoreError> {
        Ok(sqlx::query(select!(
            " WHERE (?1 IS NULL OR source_unit = ?1) AND (?2 IS NULL OR status = ?2) \
             AND (?3 = 0 OR accepted_at IS NOT NULL) ORDER BY filed_at DESC"
        ))
        .bind(source_unit)
        .bind(status)
        .bind(accepted_only)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(stored)
        .collect())
    }

    async fn objection_status(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<ObjectionStatus>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT status FROM objections WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    async fn resolve_objection(
        &self,
        tx: &mut Tx,
        id: &str,
        status: ObjectionStatus,
        resolution: &str,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE objections SET status = ?, resolution = ?, resolved_at = ?, resolved_by = ? \
             WHERE id = ? AND status = 'open'",
        )
        .bind(status)
        .bind(resolution)
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
